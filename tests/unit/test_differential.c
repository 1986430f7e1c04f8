/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Every backend and architecture makes byte-identical tokens from the same
 * names, and every token decrypts back: 100,000 random names of 0 to 1024
 * bytes in random batches of 1 to 512. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_backends.h"

#define BATCH_MAX 512

struct bufs {
	uint8_t names[BATCH_MAX][VEIL_NAME_MAX + 1];
	size_t len[BATCH_MAX];
	uint8_t out[MAX_ENGINES][BATCH_MAX][VEIL_TOKEN_MAX];
	uint8_t bin[MAX_ENGINES][BATCH_MAX][VEIL_SIV_MAX];
	uint8_t back[BATCH_MAX][VEIL_NAME_MAX];
	struct veil_item it[MAX_ENGINES][BATCH_MAX];
	struct veil_item bi[MAX_ENGINES][BATCH_MAX];
	struct veil_item dec[BATCH_MAX];
};

static void run(unsigned total, bool no_bucketing, uint64_t seed)
{
	struct veil_engine_opts o[MAX_ENGINES];
	struct veil_engine *e[MAX_ENGINES];
	unsigned ne = all_backends(o, no_bucketing);
	struct bufs *b = malloc(sizeof(*b));
	uint8_t raw[VEIL_KEY_LEN];

	assert_non_null(b);
	assert_int_equal(veil_key_generate(raw), 0);
	struct veil_key *key = veil_key_new(raw, "tenant-diff", 42);
	struct veil_keyring *ring = veil_keyring_new("tenant-diff");
	assert_non_null(key);
	assert_non_null(ring);
	assert_int_equal(veil_keyring_add(ring, veil_key_new(raw, "tenant-diff", 42)), 0);
	explicit_bzero(raw, sizeof(raw));
	for (unsigned k = 0; k < ne; k++) {
		e[k] = veil_engine_new(&o[k]);
		assert_non_null(e[k]);
	}

	unsigned done = 0, batches = 0;
	while (done < total) {
		unsigned n = 1 + (unsigned)(test_rand(&seed) % BATCH_MAX);
		if (n > total - done)
			n = total - done;
		enum veil_kind kind = (batches++ & 1) ? VEIL_KIND_DEVICE : VEIL_KIND_USER;
		for (unsigned i = 0; i < n; i++) {
			/* a third short names (the common case), the rest 0..1024 */
			uint64_t r = test_rand(&seed);
			b->len[i] = (r % 3 == 0) ? (r >> 8) % 40 : (r >> 8) % (VEIL_NAME_MAX + 1);
			for (size_t j = 0; j < b->len[i]; j++)
				b->names[i][j] = (uint8_t)test_rand(&seed);
			if (i > 0 && r % 17 == 0) { /* repeats must give the same token */
				b->len[i] = b->len[i - 1];
				memcpy(b->names[i], b->names[i - 1], b->len[i]);
			}
		}
		for (unsigned k = 0; k < ne; k++) {
			for (unsigned i = 0; i < n; i++) {
				b->it[k][i] = (struct veil_item){ .in = b->names[i], .in_len = b->len[i],
								  .out = b->out[k][i], .out_cap = VEIL_TOKEN_MAX };
				b->bi[k][i] = b->it[k][i];
				b->bi[k][i].out = b->bin[k][i];
				b->bi[k][i].out_cap = VEIL_SIV_MAX;
			}
			assert_int_equal(veil_token_encrypt_batch(e[k], key, kind, b->it[k], n), n);
			assert_int_equal(veil_siv_encrypt_batch(e[k], key, kind, b->bi[k], n), n);
		}
		for (unsigned i = 0; i < n; i++) {
			struct veil_item *ref = &b->it[0][i], *bref = &b->bi[0][i];
			assert_int_equal(ref->status, VEIL_OK);
			assert_int_equal(bref->out_len,
					 16 + veil_padded_len(b->len[i], !no_bucketing));
			for (unsigned k = 1; k < ne; k++) {
				assert_int_equal(b->it[k][i].out_len, ref->out_len);
				assert_memory_equal(b->it[k][i].out, ref->out, ref->out_len);
				assert_int_equal(b->bi[k][i].out_len, bref->out_len);
				assert_memory_equal(b->bi[k][i].out, bref->out, bref->out_len);
			}
			if (i > 0 && b->len[i] == b->len[i - 1] &&
			    memcmp(b->names[i], b->names[i - 1], b->len[i]) == 0)
				assert_memory_equal(ref->out, b->it[0][i - 1].out, ref->out_len);
		}
		/* every engine decrypts the reference tokens back */
		for (unsigned k = 0; k < ne; k++) {
			enum veil_kind expect = (k & 1) ? VEIL_KIND_ANY : kind;
			for (unsigned i = 0; i < n; i++)
				b->dec[i] = (struct veil_item){ .in = b->it[0][i].out,
								.in_len = b->it[0][i].out_len,
								.out = b->back[i], .out_cap = VEIL_NAME_MAX };
			assert_int_equal(veil_token_decrypt_batch(e[k], ring, expect, b->dec, n), n);
			for (unsigned i = 0; i < n; i++) {
				assert_int_equal(b->dec[i].status, VEIL_OK);
				assert_int_equal(b->dec[i].version, 42);
				assert_int_equal(b->dec[i].kind, kind);
				assert_int_equal(b->dec[i].out_len, b->len[i]);
				assert_memory_equal(b->back[i], b->names[i], b->len[i]);
			}
		}
		done += n;
	}
	printf("# %u names in %u batches, %u engines agree (bucketing %s)\n",
	       done, batches, ne, no_bucketing ? "off" : "on");
	for (unsigned k = 0; k < ne; k++)
		veil_engine_free(e[k]);
	veil_key_free(key);
	veil_keyring_free(ring);
	free(b);
}

static void test_differential_bucketed(void **state)
{
	(void)state;
	run(100000, false, 0x5eed);
}

static void test_differential_unbucketed(void **state)
{
	(void)state;
	run(20000, true, 0xfeed);
}

/* Items that fail do so alone: the rest of the batch is unharmed. */
static void test_per_item_errors(void **state)
{
	(void)state;
	struct veil_engine_opts o[MAX_ENGINES];
	unsigned ne = all_backends(o, false);
	uint8_t raw[VEIL_KEY_LEN] = { 7 };
	struct veil_key *key = veil_key_new(raw, "acme", 1);
	static uint8_t big[VEIL_NAME_MAX + 1];
	uint8_t out[4][VEIL_TOKEN_MAX];
	memset(big, 'x', sizeof(big));

	for (unsigned k = 0; k < ne; k++) {
		struct veil_engine *e = veil_engine_new(&o[k]);
		struct veil_item it[4] = {
			{ .in = (const uint8_t *)"alice", .in_len = 5, .out = out[0], .out_cap = VEIL_TOKEN_MAX },
			{ .in = big, .in_len = VEIL_NAME_MAX + 1, .out = out[1], .out_cap = VEIL_TOKEN_MAX },
			{ .in = (const uint8_t *)"bob", .in_len = 3, .out = out[2], .out_cap = 10 },
			{ .in = big, .in_len = VEIL_NAME_MAX, .out = out[3], .out_cap = VEIL_TOKEN_MAX },
		};
		assert_int_equal(veil_token_encrypt_batch(e, key, VEIL_KIND_USER, it, 4), 2);
		assert_int_equal(it[0].status, VEIL_OK);
		assert_int_equal(it[1].status, VEIL_E_TOOLONG);
		assert_int_equal(it[1].out_len, 0);
		assert_int_equal(it[2].status, VEIL_E_NOSPACE);
		assert_int_equal(it[2].out_len, 0);
		assert_int_equal(it[3].status, VEIL_OK);
		assert_true(it[3].out_len <= VEIL_TOKEN_MAX);
		/* a wrong kind value fails every item, never encrypts */
		assert_int_equal(veil_token_encrypt_batch(e, key, VEIL_KIND_ANY, it, 1), 0);
		assert_int_equal(it[0].status, VEIL_E_INTERNAL);
		veil_engine_free(e);
	}
	veil_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_item_errors),
		cmocka_unit_test(test_differential_bucketed),
		cmocka_unit_test(test_differential_unbucketed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
