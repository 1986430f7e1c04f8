/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Altered, truncated, foreign and malformed tokens are each rejected with
 * their own status, never resolved to garbage. The test builds tokens with
 * its own base32 code, from docs/token-format.md, not the library's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_backends.h"

static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";

static size_t b32enc(char *dst, const uint8_t *src, size_t n)
{
	size_t o = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | src[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			dst[o++] = alpha[(acc >> bits) & 31];
		}
	}
	if (bits)
		dst[o++] = alpha[(acc << (5 - bits)) & 31];
	return o;
}

static size_t b32dec(uint8_t *dst, const char *src, size_t n)
{
	size_t o = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(alpha, src[i]);
		assert_non_null(p);
		acc = (acc << 5 | (unsigned)(p - alpha)) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

struct ctx {
	struct veil_engine *eng[2];
	struct veil_key *key;
	struct veil_keyring *ring;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	uint8_t raw[VEIL_KEY_LEN];
	struct veil_engine_opts ossl = { .backend = VEIL_BACKEND_OPENSSL };
	struct veil_engine_opts imb = { .backend = VEIL_BACKEND_IPSECMB };
	veil_key_generate(raw);
	c->eng[0] = veil_engine_new(&ossl);
	c->eng[1] = veil_engine_new(&imb);
	c->key = veil_key_new(raw, "acme", 5);
	c->ring = veil_keyring_new("acme");
	veil_keyring_add(c->ring, veil_key_new(raw, "acme", 5));
	explicit_bzero(raw, sizeof(raw));
	*state = c;
	return c->eng[0] && c->eng[1] && c->key && c->ring ? 0 : -1;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	veil_engine_free(c->eng[0]);
	veil_engine_free(c->eng[1]);
	veil_key_free(c->key);
	veil_keyring_free(c->ring);
	free(c);
	return 0;
}

static size_t make_token(struct ctx *c, const char *name, size_t len,
			 enum veil_kind kind, char *tok)
{
	struct veil_item it = { .in = (const uint8_t *)name, .in_len = len,
				.out = (uint8_t *)tok, .out_cap = VEIL_TOKEN_MAX };
	assert_int_equal(veil_token_encrypt_batch(c->eng[1], c->key, kind, &it, 1), 1);
	tok[it.out_len] = '\0';
	return it.out_len;
}

static int decrypt_status(struct veil_engine *e, const struct veil_keyring *r,
			  enum veil_kind expect, const char *tok, size_t len)
{
	uint8_t out[VEIL_NAME_MAX];
	struct veil_item it = { .in = (const uint8_t *)tok, .in_len = len,
				.out = out, .out_cap = sizeof(out) };
	veil_token_decrypt_batch(e, r, expect, &it, 1);
	if (it.status != VEIL_OK)
		assert_int_equal(it.out_len, 0);
	return it.status;
}

static void expect_both(struct ctx *c, const struct veil_keyring *r,
			enum veil_kind expect, const char *tok, size_t len, int want)
{
	for (int k = 0; k < 2; k++) {
		int got = decrypt_status(c->eng[k], r, expect, tok, len);
		if (got != want)
			fail_msg("%s: \"%.*s\": got %s, want %s",
				 veil_engine_name(c->eng[k]), (int)len, tok,
				 veil_status_name(got), veil_status_name(want));
	}
}

static const size_t sample_lens[] = { 0, 1, 15, 16, 24, 31, 32, 63, 100, 1024 };

static void test_bit_flips(void **state)
{
	struct ctx *c = *state;
	static char name[VEIL_NAME_MAX], tok[VEIL_TOKEN_MAX + 1], bad[VEIL_TOKEN_MAX + 1];
	uint8_t blob[1200];
	uint64_t seed = 1;
	unsigned flips = 0;

	for (size_t s = 0; s < sizeof(sample_lens) / sizeof(sample_lens[0]); s++) {
		size_t len = sample_lens[s];
		for (size_t i = 0; i < len; i++)
			name[i] = (char)('a' + test_rand(&seed) % 26);
		size_t tl = make_token(c, name, len, VEIL_KIND_USER, tok);
		const char *body = strchr(tok + 5, '_') + 1;
		size_t pfx = (size_t)(body - tok);
		size_t bl = b32dec(blob, body, tl - pfx);
		size_t ct = (size_t)blob[2] << 8 | blob[3];
		assert_int_equal(bl, 4 + 16 + ct);
		/* long names: every bit of the header and V, a sample of C */
		size_t step = len > 100 ? 7 : 1;
		for (size_t bit = 0; bit < bl * 8; bit += (bit < 160 ? 1 : step)) {
			blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memcpy(bad, tok, pfx);
			size_t nl = pfx + b32enc(bad + pfx, blob, bl);
			int want;
			if (bit < 16)
				want = VEIL_E_TENANT;
			else if (bit < 32) {
				size_t nct = (size_t)blob[2] << 8 | blob[3];
				want = (nct == 0 || nct > 1040) ? VEIL_E_LENGTH
				       : nct > ct ? VEIL_E_TRUNCATED : VEIL_E_LENGTH;
			} else
				want = VEIL_E_AUTH;
			expect_both(c, c->ring, VEIL_KIND_ANY, bad, nl, want);
			blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			flips++;
		}
	}
	printf("# %u single-bit flips rejected\n", flips);
}

static void test_truncations_and_case(void **state)
{
	struct ctx *c = *state;
	char tok[VEIL_TOKEN_MAX + 1], up[VEIL_TOKEN_MAX + 1];
	size_t tl = make_token(c, "CORP\\alice", 10, VEIL_KIND_USER, tok);
	size_t pfx = (size_t)(strchr(tok + 5, '_') + 1 - tok);

	for (size_t cut = 0; cut < tl; cut++)
		expect_both(c, c->ring, VEIL_KIND_ANY, tok, cut,
			    cut < pfx ? VEIL_E_PREFIX : VEIL_E_TRUNCATED);
	/* any letter case decrypts */
	for (size_t i = 0; i <= tl; i++)
		up[i] = (char)((tok[i] >= 'a' && tok[i] <= 'z') ? tok[i] - 32 : tok[i]);
	expect_both(c, c->ring, VEIL_KIND_USER, up, tl, VEIL_OK);
	/* one more character: longer than the header says */
	memcpy(up, tok, tl);
	up[tl] = 'a';
	expect_both(c, c->ring, VEIL_KIND_ANY, up, tl + 1, VEIL_E_LENGTH);
	memcpy(up + tl, "aaaaaaaa", 8);
	expect_both(c, c->ring, VEIL_KIND_ANY, up, tl + 8, VEIL_E_LENGTH);
}

static void test_foreign_kind_version(void **state)
{
	struct ctx *c = *state;
	char tok[VEIL_TOKEN_MAX + 1], dtok[VEIL_TOKEN_MAX + 1];
	size_t tl = make_token(c, "alice", 5, VEIL_KIND_USER, tok);
	size_t dl = make_token(c, "laptop-7", 8, VEIL_KIND_DEVICE, dtok);
	uint8_t raw[VEIL_KEY_LEN];

	/* another tenant's ring, even with the same key bytes */
	veil_key_generate(raw);
	struct veil_keyring *other = veil_keyring_new("globex");
	assert_int_equal(veil_keyring_add(other, veil_key_new(raw, "globex", 5)), 0);
	expect_both(c, other, VEIL_KIND_ANY, tok, tl, VEIL_E_TENANT);
	veil_keyring_free(other);

	/* kinds */
	expect_both(c, c->ring, VEIL_KIND_DEVICE, tok, tl, VEIL_E_KIND);
	expect_both(c, c->ring, VEIL_KIND_USER, dtok, dl, VEIL_E_KIND);
	expect_both(c, c->ring, VEIL_KIND_DEVICE, dtok, dl, VEIL_OK);
	/* the kind letter changed: the associated data no longer matches */
	tok[5] = 'd';
	expect_both(c, c->ring, VEIL_KIND_ANY, tok, tl, VEIL_E_AUTH);
	tok[5] = 'u';

	/* a version the ring does not have */
	struct veil_keyring *r6 = veil_keyring_new("acme");
	assert_int_equal(veil_keyring_add(r6, veil_key_new(raw, "acme", 6)), 0);
	expect_both(c, r6, VEIL_KIND_ANY, tok, tl, VEIL_E_VERSION);
	/* the version field changed to one the ring has: not authentic */
	char v6[VEIL_TOKEN_MAX + 1];
	memcpy(v6, tok, tl + 1);
	v6[6] = '6';
	expect_both(c, r6, VEIL_KIND_ANY, v6, tl, VEIL_E_AUTH);
	veil_keyring_free(r6);

	/* crypto-shredding: a destroyed version never resolves again */
	struct veil_keyring *r = veil_keyring_new("acme");
	assert_int_equal(veil_keyring_add(r, veil_key_new(raw, "acme", 5)), 0);
	expect_both(c, r, VEIL_KIND_ANY, tok, tl, VEIL_E_AUTH); /* other key bytes */
	assert_int_equal(veil_keyring_destroy(r, 5), 0);
	expect_both(c, r, VEIL_KIND_ANY, tok, tl, VEIL_E_VERSION);
	assert_int_equal(veil_keyring_destroy(r, 5), -1);
	assert_int_equal(errno, ENOENT);
	veil_keyring_free(r);
	explicit_bzero(raw, sizeof(raw));
}

static void test_bad_prefix_and_encoding(void **state)
{
	struct ctx *c = *state;
	char tok[VEIL_TOKEN_MAX + 1], bad[VEIL_TOKEN_MAX + 16];
	size_t tl = make_token(c, "bob", 3, VEIL_KIND_USER, tok);
	const char *body = tok + 8; /* "veil_u5_" */
	static const char *const prefixes[] = {
		"veel_u5_", "veil_x5_", "veil_u0_", "veil_u05_", "veil_u_",
		"veil_u99999999999_", "veil_u4294967296_", "veil-u5_", "veil_u5-",
		"veilu5_", "_veil_u5_", " veil_u5_",
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = (size_t)snprintf(bad, sizeof(bad), "%s%s", prefixes[i], body);
		expect_both(c, c->ring, VEIL_KIND_ANY, bad, n, VEIL_E_PREFIX);
	}
	/* characters outside the alphabet */
	static const char outside[] = { '1', '8', '0', '9', '=', '!', '_', (char)0xc3, '\0' };
	for (size_t i = 0; i < sizeof(outside); i++) {
		memcpy(bad, tok, tl);
		bad[tl - 3] = outside[i];
		expect_both(c, c->ring, VEIL_KIND_ANY, bad, tl, VEIL_E_ENCODING);
	}
	/* a non-canonical last character: unused low bits set */
	size_t bodylen = tl - 8;
	unsigned unused = (unsigned)(bodylen * 5 % 8);
	assert_true(unused > 0); /* 4 + 16 + 16 bytes: 36*8 = 288 bits, 58 chars */
	memcpy(bad, tok, tl);
	unsigned v = (unsigned)(strchr(alpha, bad[tl - 1]) - alpha);
	bad[tl - 1] = alpha[v | 1];
	assert_int_not_equal(bad[tl - 1], tok[tl - 1]);
	expect_both(c, c->ring, VEIL_KIND_ANY, bad, tl, VEIL_E_ENCODING);
	/* empty and absurd inputs */
	expect_both(c, c->ring, VEIL_KIND_ANY, "", 0, VEIL_E_PREFIX);
	expect_both(c, c->ring, VEIL_KIND_ANY, "veil_u5_", 8, VEIL_E_TRUNCATED);
}

static void test_binary_flips(void **state)
{
	struct ctx *c = *state;
	uint8_t siv[VEIL_SIV_MAX], name[VEIL_NAME_MAX];
	for (int k = 0; k < 2; k++) {
		struct veil_item it = { .in = (const uint8_t *)"eve@example.org", .in_len = 15,
					.out = siv, .out_cap = sizeof(siv) };
		assert_int_equal(veil_siv_encrypt_batch(c->eng[k], c->key, VEIL_KIND_USER, &it, 1), 1);
		size_t n = it.out_len;
		for (size_t bit = 0; bit < n * 8; bit++) {
			siv[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			struct veil_item d = { .in = siv, .in_len = n, .out = name, .out_cap = sizeof(name) };
			veil_siv_decrypt_batch(c->eng[k], c->key, VEIL_KIND_USER, &d, 1);
			assert_int_equal(d.status, VEIL_E_AUTH);
			assert_int_equal(d.out_len, 0);
			siv[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		struct veil_item d = { .in = siv, .in_len = n, .out = name, .out_cap = sizeof(name) };
		veil_siv_decrypt_batch(c->eng[k], c->key, VEIL_KIND_USER, &d, 1);
		assert_int_equal(d.status, VEIL_OK);
		assert_memory_equal(name, "eve@example.org", 15);
		/* the wrong kind is another message */
		veil_siv_decrypt_batch(c->eng[k], c->key, VEIL_KIND_DEVICE, &d, 1);
		assert_int_equal(d.status, VEIL_E_AUTH);
		d.in_len = 16;
		veil_siv_decrypt_batch(c->eng[k], c->key, VEIL_KIND_USER, &d, 1);
		assert_int_equal(d.status, VEIL_E_LENGTH);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncations_and_case),
		cmocka_unit_test(test_foreign_kind_version),
		cmocka_unit_test(test_bad_prefix_and_encoding),
		cmocka_unit_test(test_binary_flips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
