/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The base32 encoder's vector paths against the scalar reference: every
 * length a token blob can have (and more), random and extreme bytes, no
 * read or write outside the buffers, the decoder's round trip, and whole
 * tokens made with each path. Every path this CPU can run is forced in
 * turn; the others are reported as skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto_pvt.h"
#include "test_backends.h"

/* Past the longest blob: header, V and the padded 1024-byte name. */
#define MAX_LEN (VEIL_HDR_LEN + VEIL_SIV_MAX + 40)
#define GUARD 64

static bool runnable(enum veil_b32_path p)
{
	if (veil_b32_path_supported(p))
		return true;
	printf("# skipped base32 path %s: not supported here\n",
	       veil_b32_path_name(p));
	return false;
}

static void check_known_answers(enum veil_b32_path p)
{
	/* RFC 4648 section 10, in veil's lowercase alphabet, no padding */
	static const char *const kat[][2] = {
		{ "", "" },           { "f", "my" },           { "fo", "mzxq" },
		{ "foo", "mzxw6" },   { "foob", "mzxw6yq" },   { "fooba", "mzxw6ytb" },
		{ "foobar", "mzxw6ytboi" },
	};
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		char out[32] = { 0 };
		size_t n = strlen(kat[i][0]);
		assert_int_equal(veil_b32_encoded_len(n), strlen(kat[i][1]));
		veil_b32_encode_path(p, out, (const uint8_t *)kat[i][0], n);
		if (strcmp(out, kat[i][1]) != 0)
			fail_msg("path %s: \"%s\" gave \"%s\", want \"%s\"",
				 veil_b32_path_name(p), kat[i][0], out, kat[i][1]);
	}
}

static void test_known_answers(void **state)
{
	(void)state;
	for (int p = 0; p < VEIL_B32_PATHS; p++)
		if (runnable((enum veil_b32_path)p))
			check_known_answers((enum veil_b32_path)p);
}

/* Input bytes for length n, variant v: random, all zero, all 0xff. */
static void fill(uint8_t *dst, size_t n, int v, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = v == 0 ? (uint8_t)test_rand(seed) : v == 1 ? 0 : 0xff;
}

/* Encode n bytes with path p into a buffer with guards on both sides and
 * check the guards: a path writes exactly veil_b32_encoded_len(n) bytes. */
static void encode_guarded(enum veil_b32_path p, char *buf, const uint8_t *src,
			   size_t n)
{
	size_t out = veil_b32_encoded_len(n);
	memset(buf, '#', GUARD + out + GUARD);
	veil_b32_encode_path(p, buf + GUARD, src, n);
	for (size_t i = 0; i < GUARD; i++)
		if (buf[i] != '#' || buf[GUARD + out + i] != '#')
			fail_msg("path %s, %zu bytes: wrote outside its %zu characters",
				 veil_b32_path_name(p), n, out);
}

static void test_paths_match_scalar(void **state)
{
	(void)state;
	static uint8_t src[MAX_LEN], back[MAX_LEN];
	static char ref[GUARD * 2 + MAX_LEN * 2], got[GUARD * 2 + MAX_LEN * 2];
	uint64_t seed = 0x5eed;

	for (int p = VEIL_B32_SCALAR + 1; p < VEIL_B32_PATHS; p++) {
		if (!runnable((enum veil_b32_path)p))
			continue;
		for (size_t n = 0; n <= MAX_LEN; n++)
			for (int v = 0; v < 5; v++) {
				fill(src, n, v < 3 ? 0 : v - 2, &seed);
				size_t out = veil_b32_encoded_len(n);
				encode_guarded(VEIL_B32_SCALAR, ref, src, n);
				encode_guarded((enum veil_b32_path)p, got, src, n);
				if (memcmp(ref + GUARD, got + GUARD, out) != 0)
					fail_msg("path %s, %zu bytes (variant %d): differs from scalar",
						 veil_b32_path_name((enum veil_b32_path)p), n, v);
				/* and the decoder gives the bytes back */
				long d = veil_b32_decode(back, sizeof(back), got + GUARD, out);
				assert_int_equal(d, (long)n);
				assert_memory_equal(back, src, n);
			}
		printf("# path %s matches scalar on every length 0..%d "
		       "(random, all-zero, all-0xff bytes)\n",
		       veil_b32_path_name((enum veil_b32_path)p), (int)MAX_LEN);
	}
}

/* Input that ends at the end of a readable page, output that ends at the
 * end of a writable one: a path that reads or writes one byte too far
 * faults. */
static void test_no_access_past_buffers(void **state)
{
	(void)state;
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (size_t)pg * 2;
	uint8_t *in = mmap(NULL, 2 * span, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *out = mmap(NULL, 2 * span, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t seed = 7;

	assert_true(in != MAP_FAILED && out != MAP_FAILED);
	assert_int_equal(mprotect(in + span, span, PROT_NONE), 0);
	assert_int_equal(mprotect(out + span, span, PROT_NONE), 0);
	for (int p = 0; p < VEIL_B32_PATHS; p++) {
		if (!runnable((enum veil_b32_path)p))
			continue;
		for (size_t n = 0; n <= MAX_LEN; n++) {
			uint8_t *s = in + span - n;
			size_t o = veil_b32_encoded_len(n);
			char ref[MAX_LEN * 2];
			fill(s, n, 0, &seed);
			veil_b32_encode_path(VEIL_B32_SCALAR, ref, s, n);
			veil_b32_encode_path((enum veil_b32_path)p, out + span - o, s, n);
			assert_memory_equal(out + span - o, ref, o);
		}
	}
	munmap(in, 2 * span);
	munmap(out, 2 * span);
}

/* Whole tokens: the same text whatever the path, names of every length
 * (so every blob length of both padding modes), and they resolve. */
static void test_tokens_on_every_path(void **state)
{
	(void)state;
	static const uint8_t raw[VEIL_KEY_LEN] = { 0x42, 1, 2, 3 };
	enum { N = VEIL_NAME_MAX + 1 };
	static uint8_t names[N][VEIL_NAME_MAX];
	static uint8_t ref[N][VEIL_TOKEN_MAX], got[N][VEIL_TOKEN_MAX];
	static struct veil_item it[N], back[N];
	static uint8_t plain[N][VEIL_NAME_MAX];
	size_t ref_len[N];
	uint64_t seed = 99;
	enum veil_b32_path best = veil_b32_path();

	struct veil_key *k = veil_key_new(raw, "acme", 12345);
	struct veil_keyring *ring = veil_keyring_new("acme");
	assert_non_null(k);
	assert_non_null(ring);
	assert_int_equal(veil_keyring_add(ring, k), 0);
	for (size_t i = 0; i < N; i++)
		fill(names[i], i, 0, &seed);
	for (int nb = 0; nb < 2; nb++) {
		struct veil_engine_opts o = { .no_bucketing = nb == 1 };
		struct veil_engine *e = veil_engine_new(&o);
		assert_non_null(e);
		for (int p = 0; p < VEIL_B32_PATHS; p++) {
			if (!runnable((enum veil_b32_path)p))
				continue;
			assert_int_equal(veil_b32_set_path((enum veil_b32_path)p), 0);
			assert_int_equal(veil_b32_path(), p);
			uint8_t (*dst)[VEIL_TOKEN_MAX] = p == VEIL_B32_SCALAR ? ref : got;
			for (size_t i = 0; i < N; i++)
				it[i] = (struct veil_item){ .in = names[i], .in_len = i,
							    .out = dst[i],
							    .out_cap = VEIL_TOKEN_MAX };
			assert_int_equal(veil_token_encrypt_batch(e, k, VEIL_KIND_USER, it, N), N);
			for (size_t i = 0; i < N; i++) {
				if (p == VEIL_B32_SCALAR) {
					ref_len[i] = it[i].out_len;
					continue;
				}
				assert_int_equal(it[i].out_len, ref_len[i]);
				if (memcmp(got[i], ref[i], ref_len[i]) != 0)
					fail_msg("path %s, %zu-byte name%s: token differs from scalar",
						 veil_b32_path_name((enum veil_b32_path)p), i,
						 nb ? " (no bucketing)" : "");
			}
			for (size_t i = 0; i < N; i++)
				back[i] = (struct veil_item){ .in = dst[i], .in_len = it[i].out_len,
							      .out = plain[i],
							      .out_cap = VEIL_NAME_MAX };
			assert_int_equal(veil_token_decrypt_batch(e, ring, VEIL_KIND_USER, back, N), N);
			for (size_t i = 0; i < N; i++) {
				assert_int_equal(back[i].out_len, i);
				assert_memory_equal(plain[i], names[i], i);
			}
		}
		veil_engine_free(e);
	}
	assert_int_equal(veil_b32_set_path(best), 0);
	veil_keyring_free(ring);
}

/* The default is the best path this CPU has; a path it lacks is refused. */
static void test_dispatch(void **state)
{
	(void)state;
	enum veil_b32_path best = VEIL_B32_SCALAR;
	for (int p = 0; p < VEIL_B32_PATHS; p++)
		if (veil_b32_path_supported((enum veil_b32_path)p))
			best = (enum veil_b32_path)p;
	assert_int_equal(veil_b32_path(), best);
	printf("# base32 path: %s\n", veil_b32_path_name(best));
	for (int p = 0; p < VEIL_B32_PATHS; p++)
		assert_int_equal(veil_b32_set_path((enum veil_b32_path)p),
				 veil_b32_path_supported((enum veil_b32_path)p) ? 0 : -1);
	assert_int_equal(veil_b32_set_path(VEIL_B32_PATHS), -1);
	assert_string_equal(veil_b32_path_name(VEIL_B32_PATHS), "unknown");
	assert_true(veil_b32_path_supported(VEIL_B32_SCALAR));
	assert_int_equal(veil_b32_set_path(best), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_paths_match_scalar),
		cmocka_unit_test(test_no_access_past_buffers),
		cmocka_unit_test(test_tokens_on_every_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
