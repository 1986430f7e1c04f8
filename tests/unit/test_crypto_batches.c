/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Batches of one size class (the engine's fast path for them) against the
 * general path and OpenSSL: every backend and architecture makes the same
 * tokens and binary outputs for batches of 1 to 300 names of one padded
 * length (every bucket, and unbucketed lengths of whole blocks), for batches
 * that differ from it in one item only, and for names whose counter blocks
 * wrap their last byte; every token decrypts back on every engine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "crypto_pvt.h"
#include "test_backends.h"

#define BATCH_MAX 300

struct bufs {
	uint8_t names[BATCH_MAX][VEIL_NAME_MAX];
	size_t len[BATCH_MAX];
	uint8_t txt[MAX_ENGINES][BATCH_MAX][VEIL_TOKEN_MAX];
	uint8_t bin[MAX_ENGINES][BATCH_MAX][VEIL_SIV_MAX];
	uint8_t back[BATCH_MAX][VEIL_NAME_MAX];
	uint8_t alt[BATCH_MAX][VEIL_TOKEN_MAX]; /* by the other padding */
	size_t tlen[BATCH_MAX], blen[BATCH_MAX]; /* the reference's out_len */
	struct veil_item it[BATCH_MAX], bi[BATCH_MAX], dec[BATCH_MAX];
};

struct fixture {
	unsigned ne;
	struct veil_engine *e[MAX_ENGINES];
	struct veil_key *key;
	struct veil_keyring *ring;
	struct bufs *b;
	uint64_t seed;
	unsigned checked;
};

static void setup_fixture(struct fixture *f, bool no_bucketing)
{
	struct veil_engine_opts o[MAX_ENGINES];
	uint8_t raw[VEIL_KEY_LEN];

	memset(f, 0, sizeof(*f));
	f->ne = all_backends(o, no_bucketing);
	for (unsigned k = 0; k < f->ne; k++) {
		f->e[k] = veil_engine_new(&o[k]);
		assert_non_null(f->e[k]);
	}
	assert_int_equal(veil_key_generate(raw), 0);
	f->key = veil_key_new(raw, "tenant-batches", 7);
	f->ring = veil_keyring_new("tenant-batches");
	assert_non_null(f->key);
	assert_non_null(f->ring);
	assert_int_equal(veil_keyring_add(f->ring, veil_key_new(raw, "tenant-batches", 7)), 0);
	explicit_bzero(raw, sizeof(raw));
	f->b = calloc(1, sizeof(*f->b));
	assert_non_null(f->b);
	f->seed = 0xba7c4e5;
}

static void teardown_fixture(struct fixture *f)
{
	for (unsigned k = 0; k < f->ne; k++)
		veil_engine_free(f->e[k]);
	veil_key_free(f->key);
	veil_keyring_free(f->ring);
	free(f->b);
}

/* Encrypt names 0..n-1 (already in f->b) on every engine, as text and as
 * binary: byte-identical to the reference (OpenSSL, engine 0); every token
 * decrypts back on every engine. */
static void check_batch(struct fixture *f, unsigned n, enum veil_kind kind)
{
	struct bufs *b = f->b;

	for (unsigned k = 0; k < f->ne; k++) {
		for (unsigned i = 0; i < n; i++) {
			b->it[i] = (struct veil_item){ .in = b->names[i], .in_len = b->len[i],
						       .out = b->txt[k][i], .out_cap = VEIL_TOKEN_MAX };
			b->bi[i] = b->it[i];
			b->bi[i].out = b->bin[k][i];
			b->bi[i].out_cap = VEIL_SIV_MAX;
		}
		assert_int_equal(veil_token_encrypt_batch(f->e[k], f->key, kind, b->it, n), n);
		assert_int_equal(veil_siv_encrypt_batch(f->e[k], f->key, kind, b->bi, n), n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(b->it[i].status, VEIL_OK);
			assert_int_equal(b->bi[i].status, VEIL_OK);
			if (k == 0) {
				b->tlen[i] = b->it[i].out_len;
				b->blen[i] = b->bi[i].out_len;
				continue;
			}
			assert_int_equal(b->it[i].out_len, b->tlen[i]);
			assert_int_equal(b->bi[i].out_len, b->blen[i]);
			assert_memory_equal(b->txt[k][i], b->txt[0][i], b->tlen[i]);
			assert_memory_equal(b->bin[k][i], b->bin[0][i], b->blen[i]);
		}
	}
	/* the engine's other padding path (if the CPU runs both) makes the
	 * same tokens */
	bool wide = veil_batch_wide();
	if (veil_batch_set_wide(!wide) == 0) {
		unsigned k = f->ne - 1;
		for (unsigned i = 0; i < n; i++)
			b->it[i] = (struct veil_item){ .in = b->names[i], .in_len = b->len[i],
						       .out = b->alt[i], .out_cap = VEIL_TOKEN_MAX };
		assert_int_equal(veil_token_encrypt_batch(f->e[k], f->key, kind, b->it, n), n);
		assert_int_equal(veil_batch_set_wide(wide), 0);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(b->it[i].out_len, b->tlen[i]);
			assert_memory_equal(b->alt[i], b->txt[0][i], b->tlen[i]);
		}
	}
	for (unsigned k = 0; k < f->ne; k++) {
		for (unsigned i = 0; i < n; i++) {
			b->dec[i] = (struct veil_item){ .in = b->txt[0][i], .in_len = b->tlen[i],
							.out = b->back[i], .out_cap = VEIL_NAME_MAX };
		}
		assert_int_equal(veil_token_decrypt_batch(f->e[k], f->ring, kind, b->dec, n), n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(b->dec[i].out_len, b->len[i]);
			assert_memory_equal(b->back[i], b->names[i], b->len[i]);
		}
		for (unsigned i = 0; i < n; i++)
			b->dec[i] = (struct veil_item){ .in = b->bin[0][i], .in_len = b->blen[i],
							.out = b->back[i], .out_cap = VEIL_NAME_MAX };
		assert_int_equal(veil_siv_decrypt_batch(f->e[k], f->key, kind, b->dec, n), n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(b->dec[i].out_len, b->len[i]);
			assert_memory_equal(b->back[i], b->names[i], b->len[i]);
		}
	}
	f->checked += n;
}

static void random_name(struct fixture *f, unsigned i, size_t len)
{
	f->b->len[i] = len;
	for (size_t j = 0; j < len; j++)
		f->b->names[i][j] = (uint8_t)test_rand(&f->seed);
}

/* A name length between lo and hi (inclusive). */
static size_t len_in(struct fixture *f, size_t lo, size_t hi)
{
	return lo + (size_t)(test_rand(&f->seed) % (hi - lo + 1));
}

/* The engine's padding path for what follows: the scalar one, or the
 * AVX-512 one ("wide") where this CPU runs it. Says which. */
static bool set_padding(int wide)
{
	if (veil_batch_set_wide(wide != 0) != 0) {
		printf("# not here: the wide (AVX-512) padding path\n");
		return false;
	}
	printf("# padding path: %s\n", wide ? "wide (AVX-512)" : "scalar");
	return true;
}

/* lanes take batches of four or more, four blocks a vector step: every
 * remainder of a row (15, 17, 18 names), and chunks of 256 */
static const unsigned counts[] = { 1, 2, 3, 4, 6, 15, 16, 17, 18, 63, 64, 65, 255, 256, 257, 300 };
#define N_COUNTS (sizeof(counts) / sizeof(counts[0]))

/* With bucketing: every bucket (its names of mixed lengths pad alike),
 * every batch count, the whole batch in one class and with one item of
 * another class (first, middle or last). */
static void test_one_class_bucketed(void **state)
{
	(void)state;
	static const size_t lo[] = { 0, 16, 32, 64, 128, 256, 512, 1024 };
	static const size_t hi[] = { 15, 31, 63, 127, 255, 511, 1023, 1024 };
	struct fixture f;

	setup_fixture(&f, false);
	for (int wide = 0; wide < 2; wide++) {
	if (!set_padding(wide))
		continue;
	for (size_t c = 0; c < sizeof(lo) / sizeof(lo[0]); c++)
		for (size_t ci = 0; ci < N_COUNTS; ci++) {
			unsigned n = counts[ci];
			/* long names: fewer of them (the chunk limits are
			 * crossed anyway) */
			if (lo[c] >= 256 && n > 65)
				continue;
			for (unsigned i = 0; i < n; i++)
				random_name(&f, i, len_in(&f, lo[c], hi[c]));
			check_batch(&f, n, (c & 1) ? VEIL_KIND_DEVICE : VEIL_KIND_USER);
			if (n < 3)
				continue;
			/* one odd item breaks the class */
			unsigned at = (unsigned)(test_rand(&f.seed) % 3) * (n - 1) / 2;
			size_t other = c == 0 ? 20 : len_in(&f, 0, lo[c] - 1);
			random_name(&f, at, other);
			check_batch(&f, n, VEIL_KIND_USER);
		}
	}
	printf("# bucketed: %u names in one-class batches, %u engines agree\n",
	       f.checked, f.ne);
	teardown_fixture(&f);
}

/* Without bucketing the padded length is the name's + 1: names of 15, 31,
 * 47 ... bytes pad to whole blocks, their neighbours do not. */
static void test_one_class_unbucketed(void **state)
{
	(void)state;
	static const size_t lens[] = { 0, 14, 15, 16, 30, 31, 32, 47, 63, 127, 1023, 1024 };
	struct fixture f;

	setup_fixture(&f, true);
	for (int wide = 0; wide < 2; wide++) {
	if (!set_padding(wide))
		continue;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t ci = 0; ci < N_COUNTS; ci++) {
			unsigned n = counts[ci];
			if (lens[l] >= 256 && n > 65)
				continue;
			for (unsigned i = 0; i < n; i++)
				random_name(&f, i, lens[l]);
			check_batch(&f, n, VEIL_KIND_USER);
		}
	}
	printf("# unbucketed: %u names in one-length batches, %u engines agree\n",
	       f.checked, f.ne);
	teardown_fixture(&f);
}

/* Long names have many counter blocks: over many names, the last byte of
 * the counter wraps inside a name in some of them (Q's byte 15 + 64 > 255
 * for a quarter of the 65-block names), and the binary outputs must agree
 * there too. Counted from the outputs: the test says how many it saw. */
static void test_counter_wrap(void **state)
{
	(void)state;
	struct fixture f;
	unsigned wraps = 0;

	setup_fixture(&f, false);
	for (int round = 0; round < 8; round++) {
		for (unsigned i = 0; i < 64; i++)
			random_name(&f, i, round & 1 ? 1024 : len_in(&f, 512, 1023));
		check_batch(&f, 64, VEIL_KIND_USER);
		for (unsigned i = 0; i < 64; i++) {
			const uint8_t *v = f.b->bin[0][i];
			size_t nb = (f.b->blen[i] - 16 + 15) / 16;
			wraps += v[15] + nb - 1 > 0xff;
		}
	}
	printf("# %u of 512 long names wrap the counter's last byte\n", wraps);
	assert_true(wraps > 0);
	teardown_fixture(&f);
}

/* Names of 1, 2 and 4 padded blocks go into the engine's lanes: their
 * counter blocks wrap the last byte when V's is 0xff (2 blocks) or 0xfd
 * and up (4 blocks), which the lanes make by a 32-bit add. Batches of
 * 256 such names until each count has seen it. */
static void test_counter_wrap_lanes(void **state)
{
	(void)state;
	struct fixture f;
	unsigned wraps[2] = { 0, 0 }, rounds = 0;

	setup_fixture(&f, false);
	for (int wide = 0; wide < 2; wide++) {
	if (!set_padding(wide))
		continue;
	for (int round = 0; round < 32; round++, rounds++) {
		const bool four = round & 1;
		for (unsigned i = 0; i < 256; i++)
			random_name(&f, i, four ? len_in(&f, 32, 63) : len_in(&f, 16, 31));
		check_batch(&f, 256, VEIL_KIND_USER);
		for (unsigned i = 0; i < 256; i++) {
			const uint8_t *v = f.b->bin[0][i];
			wraps[four] += v[15] + (four ? 3 : 1) > 0xff;
		}
	}
	}
	printf("# %u rounds: %u names of 2 blocks and %u of 4 wrap the counter's last byte\n",
	       rounds, wraps[0], wraps[1]);
	assert_true(wraps[0] > 0);
	assert_true(wraps[1] > 0);
	teardown_fixture(&f);
}

/* Every name length from 0 to 299 in one batch (lanes of 1, 2 and 4 blocks
 * and the general path in the same chunks, a chunk boundary at 256), in
 * order and shuffled, bucketed and not. */
static void test_every_length(void **state)
{
	(void)state;
	const unsigned n = BATCH_MAX;

	for (int nobucket = 0; nobucket < 2; nobucket++) {
		struct fixture f;
		setup_fixture(&f, nobucket);
		for (int wide = 0; wide < 2; wide++) {
			if (!set_padding(wide))
				continue;
			for (unsigned i = 0; i < n; i++)
				random_name(&f, i, i);
			check_batch(&f, n, VEIL_KIND_USER);
			size_t lens[BATCH_MAX];
			for (unsigned i = 0; i < n; i++)
				lens[i] = i;
			for (unsigned i = n - 1; i > 0; i--) { /* shuffle */
				unsigned j = (unsigned)(test_rand(&f.seed) % (i + 1));
				size_t t = lens[i];
				lens[i] = lens[j];
				lens[j] = t;
			}
			for (unsigned i = 0; i < n; i++)
				random_name(&f, i, lens[i]);
			check_batch(&f, n, VEIL_KIND_DEVICE);
		}
		printf("# every length, %s: %u names, %u engines agree\n",
		       nobucket ? "unbucketed" : "bucketed", f.checked, f.ne);
		teardown_fixture(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_class_bucketed),
		cmocka_unit_test(test_one_class_unbucketed),
		cmocka_unit_test(test_counter_wrap),
		cmocka_unit_test(test_counter_wrap_lanes),
		cmocka_unit_test(test_every_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
