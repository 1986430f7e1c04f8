/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Padding sizes, finding tokens in free text, status strings, options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_backends.h"

static void test_padded_len(void **state)
{
	(void)state;
	static const size_t table[][2] = {
		{ 0, 16 }, { 1, 16 }, { 15, 16 }, { 16, 32 }, { 24, 32 }, { 31, 32 },
		{ 32, 64 }, { 63, 64 }, { 64, 128 }, { 511, 512 }, { 512, 1024 },
		{ 1023, 1024 }, { 1024, 1040 },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		assert_int_equal(veil_padded_len(table[i][0], true), table[i][1]);
	for (size_t n = 0; n <= 1024; n++)
		assert_int_equal(veil_padded_len(n, false), n + 1);
}

static const char tok_a[] = "veil_u1_5iwqaia7lzdi6y3hi34pipxp7h72m74i6aywgc4ufjqyjflkfm5wdhkvb5xly74obxy6rxv4zd6ckctflbuq";

/* All matches of text, as "off:len" pairs. */
static void matches(const char *text, char *out, size_t cap)
{
	size_t pos = 0, off, len, len_text = strlen(text);
	out[0] = '\0';
	while (pos < len_text && veil_token_find(text + pos, len_text - pos, &off, &len)) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s%zu:%zu", n ? "," : "", pos + off, len);
		pos += off + len;
	}
}

static void test_token_find(void **state)
{
	(void)state;
	char text[1024], got[256], want[256];
	size_t tl = strlen(tok_a);

	snprintf(text, sizeof(text), "%s", tok_a);
	matches(text, got, sizeof(got));
	snprintf(want, sizeof(want), "0:%zu", tl);
	assert_string_equal(got, want);

	snprintf(text, sizeof(text), "user=\"%s\", dev=(%s).", tok_a, "VEIL_D12_ABCDEF");
	matches(text, got, sizeof(got));
	snprintf(want, sizeof(want), "6:%zu,%zu:15", tl, 6 + tl + 8);
	assert_string_equal(got, want);

	/* glued to word characters: not a token */
	static const char *const none[] = {
		"xveil_u1_abc", "veil_u1_abc9", "veil_u1_abc_", "_veil_u1_abc",
		"veil_u1_", "veil_u0_abc", "veil_u01_abc", "veil_x1_abc", "veil_u_abc",
		"veil_u1abc", "veil__u1_abc", "", "veil",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		matches(none[i], got, sizeof(got));
		if (got[0] != '\0')
			fail_msg("\"%s\" matched %s", none[i], got);
	}
	/* a rejected candidate does not hide a real token after it */
	snprintf(text, sizeof(text), "veil_u1_abc9 veil_d2_xyz");
	matches(text, got, sizeof(got));
	assert_string_equal(got, "13:11");
	/* punctuation and line ends bound tokens */
	snprintf(text, sizeof(text), "a,veil_u3_aa\nveil_u4_bb\t'veil_d5_cc'");
	matches(text, got, sizeof(got));
	assert_string_equal(got, "2:10,13:10,25:10");
}

static void test_status_strings(void **state)
{
	(void)state;
	for (int s = 0; s < VEIL_STATUS_COUNT; s++) {
		assert_non_null(veil_status_str(s));
		assert_true(strlen(veil_status_str(s)) > 1);
		assert_true(s == 0 ? !strcmp(veil_status_name(s), "OK")
				   : !strncmp(veil_status_name(s), "E_", 2));
		for (int t = 0; t < s; t++)
			assert_string_not_equal(veil_status_name(s), veil_status_name(t));
	}
	assert_string_equal(veil_status_name(VEIL_E_AUTH), "E_AUTH");
	assert_string_equal(veil_status_name(-1), "E_UNKNOWN");
	assert_string_equal(veil_status_name(VEIL_STATUS_COUNT), "E_UNKNOWN");
	assert_string_equal(veil_status_str(1000), "unknown status");
}

static void test_tenant_ids(void **state)
{
	(void)state;
	char id[80];
	memset(id, 'a', 64);
	id[64] = '\0';
	assert_true(veil_tenant_valid("acme"));
	assert_true(veil_tenant_valid("a"));
	assert_true(veil_tenant_valid("a.b-c_d9"));
	assert_true(veil_tenant_valid(id));
	id[64] = 'a';
	id[65] = '\0';
	assert_false(veil_tenant_valid(id));
	assert_false(veil_tenant_valid(""));
	assert_false(veil_tenant_valid(NULL));
	assert_false(veil_tenant_valid("Acme"));
	assert_false(veil_tenant_valid("ac me"));
	assert_false(veil_tenant_valid("a/b"));
	assert_false(veil_tenant_valid("caf\xc3\xa9"));
	uint8_t raw[32] = { 0 };
	errno = 0;
	assert_null(veil_key_new(raw, "Bad", 1));
	assert_int_equal(errno, EINVAL);
	assert_null(veil_key_new(raw, "good", 0));
	assert_int_equal(errno, EINVAL);
	assert_null(veil_keyring_new(""));
	/* a ring takes only its tenant's keys, one per version */
	struct veil_keyring *r = veil_keyring_new("good");
	struct veil_key *k1 = veil_key_new(raw, "good", 1);
	struct veil_key *k1b = veil_key_new(raw, "good", 1);
	struct veil_key *other = veil_key_new(raw, "other", 2);
	assert_int_equal(veil_keyring_add(r, k1), 0);
	assert_int_equal(veil_keyring_add(r, k1b), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(veil_keyring_add(r, other), -1);
	assert_int_equal(errno, EINVAL);
	assert_ptr_equal(veil_keyring_get(r, 1), k1);
	assert_null(veil_keyring_get(r, 2));
	assert_int_equal(veil_key_version(k1), 1);
	assert_string_equal(veil_key_tenant(k1), "good");
	veil_key_free(k1b);
	veil_key_free(other);
	veil_keyring_free(r);
}

/* A ring holds a year of daily versions and more, added in any order;
 * each is found by its version, a destroyed one is gone, the rest stay. */
static void test_keyring_many_versions(void **state)
{
	(void)state;
	enum { N = 1000 };
	uint8_t raw[32] = { 3 };
	struct veil_keyring *r = veil_keyring_new("acme");
	static struct veil_key *k[N + 1];
	assert_non_null(r);
	/* 1, 1+7, 1+14, ... mod N: every version once, out of order */
	for (unsigned i = 0, v = 1; i < N; i++, v = (v + 6) % N + 1) {
		k[v] = veil_key_new(raw, "acme", v);
		assert_non_null(k[v]);
		assert_int_equal(veil_keyring_add(r, k[v]), 0);
	}
	assert_int_equal(veil_keyring_count(r), N);
	for (unsigned v = 1; v <= N; v++)
		assert_ptr_equal(veil_keyring_get(r, v), k[v]);
	assert_null(veil_keyring_get(r, 0));
	assert_null(veil_keyring_get(r, N + 1));
	for (unsigned v = 1; v <= N; v += 3)
		assert_int_equal(veil_keyring_destroy(r, v), 0);
	assert_int_equal(veil_keyring_destroy(r, 1), -1);
	assert_int_equal(errno, ENOENT);
	for (unsigned v = 1; v <= N; v++)
		if (v % 3 == 1)
			assert_null(veil_keyring_get(r, v));
		else
			assert_ptr_equal(veil_keyring_get(r, v), k[v]);
	assert_int_equal(veil_keyring_count(r), N - (N + 2) / 3);
	veil_keyring_free(r);
}

static void test_options(void **state)
{
	(void)state;
	enum veil_backend b;
	enum veil_arch a;
	char err[160];
	struct veil_engine_opts o;

	assert_int_equal(veil_backend_parse("openssl", &b), 0);
	assert_int_equal(b, VEIL_BACKEND_OPENSSL);
	assert_int_equal(veil_backend_parse("ipsec-mb", &b), 0);
	assert_int_equal(b, VEIL_BACKEND_IPSECMB);
	assert_int_equal(veil_backend_parse("auto", &b), 0);
	assert_int_equal(veil_backend_parse("OpenSSL", &b), -1);
	assert_int_equal(veil_backend_parse(NULL, &b), -1);
	for (int i = 0; i < VEIL_ARCH_COUNT; i++) {
		assert_int_equal(veil_arch_parse(veil_arch_name((enum veil_arch)i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(veil_arch_parse("avx1024", &a), -1);
	assert_string_equal(veil_arch_name((enum veil_arch)99), "unknown");

	unsetenv("VEIL_CRYPTO");
	unsetenv("VEIL_CRYPTO_ARCH");
	assert_int_equal(veil_engine_opts_from_env(&o, err, sizeof(err)), 0);
	assert_int_equal(o.backend, VEIL_BACKEND_AUTO);
	setenv("VEIL_CRYPTO", "openssl", 1);
	setenv("VEIL_CRYPTO_ARCH", "avx2", 1);
	assert_int_equal(veil_engine_opts_from_env(&o, err, sizeof(err)), 0);
	assert_int_equal(o.backend, VEIL_BACKEND_OPENSSL);
	assert_int_equal(o.arch, VEIL_ARCH_AVX2);
	setenv("VEIL_CRYPTO", "gnutls", 1);
	assert_int_equal(veil_engine_opts_from_env(&o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "gnutls"));
	setenv("VEIL_CRYPTO", "ipsec-mb", 1);
	setenv("VEIL_CRYPTO_ARCH", "sse5", 1);
	assert_int_equal(veil_engine_opts_from_env(&o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "sse5"));
	unsetenv("VEIL_CRYPTO");
	unsetenv("VEIL_CRYPTO_ARCH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padded_len),
		cmocka_unit_test(test_token_find),
		cmocka_unit_test(test_status_strings),
		cmocka_unit_test(test_tenant_ids),
		cmocka_unit_test(test_keyring_many_versions),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
