/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Key memory: locked, out of core dumps, zeroized when freed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "crypto_pvt.h"
#include "test_backends.h"
#include "test_skip.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* The smaps entry holding addr: its Locked: kB and whether VmFlags has dd.
 * Returns false if no mapping holds addr. */
static bool smaps_of(const void *addr, long *locked_kb, bool *dontdump)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;
	uintptr_t a = (uintptr_t)addr;
	*locked_kb = -1;
	*dontdump = false;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's header */
			in = a >= lo && a < hi;
			found |= in;
			continue;
		}
		if (in && strncmp(line, "Locked:", 7) == 0)
			*locked_kb = strtol(line + 7, NULL, 10);
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			*dontdump = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_alloc_locked_zeroed(void **state)
{
	(void)state;
	uint8_t *p = veil_secmem_alloc(100);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 64, 0); /* a cache line of its own */
	assert_true(all_zero(p, 100));
	memset(p, 0x5a, 100);
	long locked;
	bool dd;
	assert_true(smaps_of(p, &locked, &dd));
	assert_true(dd);
#ifndef UNDER_ASAN /* ASan makes mlock() a no-op */
	assert_true(locked > 0);
#endif
	veil_secmem_free(p);
	/* the pool keeps the page mapped: it must read back as zeros */
	assert_true(all_zero(p, 100));
	assert_null(veil_secmem_alloc(0));
	assert_int_equal(errno, EINVAL);
	veil_secmem_free(NULL);
}

static void test_pool_reuse_and_big(void **state)
{
	(void)state;
	void *a[40];
	for (int i = 0; i < 40; i++) {
		a[i] = veil_secmem_alloc(3000 + (size_t)i * 1000);
		assert_non_null(a[i]);
		memset(a[i], 0xa5, 3000 + (size_t)i * 1000);
	}
	for (int i = 0; i < 40; i += 2)
		veil_secmem_free(a[i]);
	for (int i = 0; i < 40; i += 2) {
		a[i] = veil_secmem_alloc(3000);
		assert_true(all_zero(a[i], 3000));
	}
	for (int i = 0; i < 40; i++)
		veil_secmem_free(a[i]);
	size_t pages = veil_secmem_pool_pages();
	/* a large request gets its own mapping, also locked and not dumped */
	uint8_t *big = veil_secmem_alloc(1 << 20);
	assert_non_null(big);
	memset(big, 1, 1 << 20);
	long locked;
	bool dd;
	smaps_of(big, &locked, &dd);
	assert_true(dd);
	assert_int_equal(veil_secmem_pool_pages(), pages);
	veil_secmem_free(big);
}

static void test_key_zeroized(void **state)
{
	(void)state;
	uint8_t raw[VEIL_KEY_LEN];
	memset(raw, 0x42, sizeof(raw));
	struct veil_key *k = veil_key_new(raw, "acme", 1);
	assert_non_null(k);
	assert_memory_equal(k->ctx[VEIL_KIND_USER].raw, raw, sizeof(raw));
	assert_false(all_zero(k->ctx[VEIL_KIND_DEVICE].k1_sched, sizeof(k->ctx[0].k1_sched)));
	assert_false(all_zero(k->ctx[VEIL_KIND_USER].d, VEIL_BLK));
	long locked;
	bool dd;
	smaps_of(k, &locked, &dd);
	assert_true(dd);
	veil_key_free(k);
	assert_true(all_zero(k, sizeof(*k)));

	/* destroying a version in a ring, and freeing a ring */
	struct veil_keyring *r = veil_keyring_new("acme");
	struct veil_key *k1 = veil_key_new(raw, "acme", 1);
	struct veil_key *k2 = veil_key_new(raw, "acme", 2);
	assert_int_equal(veil_keyring_add(r, k1), 0);
	assert_int_equal(veil_keyring_add(r, k2), 0);
	assert_int_equal(veil_keyring_destroy(r, 1), 0);
	assert_true(all_zero(k1, sizeof(*k1)));
	assert_false(all_zero(k2, sizeof(*k2)));
	veil_keyring_free(r);
	assert_true(all_zero(k2, sizeof(*k2)));
	explicit_bzero(raw, sizeof(raw));
}

static void test_engine_scratch_released(void **state)
{
	(void)state;
	struct veil_engine_opts o = { .backend = VEIL_BACKEND_IPSECMB };
	struct veil_engine *e = veil_engine_new(&o);
	assert_non_null(e);
	uint8_t *pt = e->pt;
	uint8_t raw[VEIL_KEY_LEN] = { 1 };
	struct veil_key *k = veil_key_new(raw, "acme", 1);
	uint8_t out[VEIL_TOKEN_MAX];
	struct veil_item it = { .in = (const uint8_t *)"secret-name", .in_len = 11,
				.out = out, .out_cap = sizeof(out) };
	assert_int_equal(veil_token_encrypt_batch(e, k, VEIL_KIND_USER, &it, 1), 1);
	/* the padded name, in the scratch: the padded names and the lanes
	 * (7 rows) are one locked allocation */
	assert_true(e->lanes > pt && e->lanes < pt + 1024 * 1024);
	size_t scratch = (size_t)(e->lanes - pt) + 7 * VEIL_LANE_ROW * VEIL_BLK;
	assert_non_null(memmem(pt, scratch, "secret-name", 11));
	long locked;
	bool dd;
	assert_true(smaps_of(pt, &locked, &dd));
	assert_true(dd);
	/* the scratch is bigger than a pool run: its own mapping, wiped and
	 * unmapped when the engine goes */
	veil_engine_free(e);
	assert_false(smaps_of(pt, &locked, &dd));
	veil_key_free(k);
}

/* VmLck of this process, in kB (-1 if not found). */
static long vm_locked_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmLck:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return x < y ? -1 : x > y;
}

#define MANY 3000

/* Many small allocations of mixed sizes: each 64-byte aligned, none
 * overlaps another, each keeps what was written to it while the others
 * are written; freed ones read back as zeros. */
static void test_many_small_no_overlap(void **state)
{
	(void)state;
	static uint8_t *p[MANY];
	static size_t sz[MANY];
	static const size_t sizes[] = { 32, 64, 100, sizeof(struct veil_key), 2000, 1 };
	for (int i = 0; i < MANY; i++) {
		sz[i] = sizes[i % 6];
		p[i] = veil_secmem_alloc(sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 64, 0);
		assert_true(all_zero(p[i], sz[i]));
		memset(p[i], (i % 255) + 1, sz[i]);
	}
	for (int i = 0; i < MANY; i++)
		for (size_t j = 0; j < sz[i]; j++)
			assert_int_equal(p[i][j], (i % 255) + 1);
	/* sorted by address, each ends before the next begins */
	static struct { uint8_t *p; size_t n; } r[MANY];
	for (int i = 0; i < MANY; i++)
		r[i].p = p[i], r[i].n = sz[i];
	qsort(r, MANY, sizeof(r[0]), cmp_ptr);
	for (int i = 1; i < MANY; i++)
		assert_true(r[i - 1].p + r[i - 1].n <= r[i].p);
	/* free every other one of each size: zeroized at once (their slabs
	 * stay: the neighbours are still in use) */
#define FREED(i) ((i) / 6 % 2 == 0)
	for (int i = 0; i < MANY; i++) {
		if (!FREED(i))
			continue;
		veil_secmem_free(p[i]);
		assert_true(all_zero(p[i], sz[i]));
	}
	for (int i = 0; i < MANY; i++)
		for (size_t j = 0; !FREED(i) && j < sz[i]; j++)
			assert_int_equal(p[i][j], (i % 255) + 1);
	/* a freed object is handed out again, zeroed */
	for (int i = 0; i < MANY; i++) {
		if (!FREED(i))
			continue;
		p[i] = veil_secmem_alloc(sz[i]);
		assert_non_null(p[i]);
		assert_true(all_zero(p[i], sz[i]));
	}
	for (int i = 0; i < MANY; i++)
		veil_secmem_free(p[i]);
}

/* Keys are packed: locking 2,000 keys costs the pages they fill, not a
 * page each; and the pages go back when the keys do. */
static void test_keys_packed_in_locked_pages(void **state)
{
	(void)state;
	enum { N = 2000 };
	static struct veil_key *k[N];
	uint8_t raw[VEIL_KEY_LEN] = { 7 };
	long before = vm_locked_kb();
	assert_true(before >= 0);
	for (int i = 0; i < N; i++) {
		k[i] = veil_key_new(raw, "acme", (uint32_t)i + 1);
		assert_non_null(k[i]);
		long locked;
		bool dd;
		if (i % 97 == 0) { /* locked and out of core dumps */
			assert_true(smaps_of(k[i], &locked, &dd));
			assert_true(dd);
		}
	}
	long grown = vm_locked_kb() - before;
	size_t need = veil_key_locked_bytes(N);
	/* 2,000 pages if each key took one; packed, what they fill */
	assert_true(need < (size_t)N * 4096 / 2);
#ifndef UNDER_ASAN /* ASan makes mlock() a no-op */
	assert_true(grown > 0);
	assert_true((size_t)grown * 1024 <= need + 8 * 4096);
	assert_true((size_t)grown * 1024 + 8 * 4096 >= need);
#endif
	for (int i = 0; i < N; i++)
		veil_key_free(k[i]);
	long after = vm_locked_kb() - before;
	/* back to where it was, but for one kept slab (at most 8 pages) */
	assert_true(after <= 8 * 4);
	(void)grown;
}

/* A slab whose objects are all freed is unmapped (one per size class is
 * kept); its pages no longer count. */
static void test_empty_slabs_returned(void **state)
{
	(void)state;
	enum { N = 600 };
	static void *p[N];
	struct veil_secmem_stats s0, s1, s2;
	veil_secmem_stats(&s0);
	for (int i = 0; i < N; i++)
		assert_non_null(p[i] = veil_secmem_alloc(640));
	veil_secmem_stats(&s1);
	assert_int_equal(s1.slab_objects, s0.slab_objects + N);
	/* 640 bytes: 32 in 5 pages */
	assert_true(s1.slab_pages >= s0.slab_pages + N / 32 * 5);
	assert_true(s1.slab_pages <= s0.slab_pages + (N / 32 + 2) * 5);
	for (int i = 0; i < N; i++)
		veil_secmem_free(p[i]);
	veil_secmem_stats(&s2);
	assert_int_equal(s2.slab_objects, s0.slab_objects);
	assert_true(s2.slab_pages <= s0.slab_pages + 5);
	/* a pointer that is not an object's start is refused, not freed */
	uint8_t *q = veil_secmem_alloc(64);
	q[0] = 1;
	veil_secmem_free(q + 8);
	assert_int_equal(q[0], 1);
	veil_secmem_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_locked_zeroed),
		cmocka_unit_test(test_pool_reuse_and_big),
		cmocka_unit_test(test_key_zeroized),
		cmocka_unit_test(test_engine_scratch_released),
		cmocka_unit_test(test_many_small_no_overlap),
		cmocka_unit_test(test_keys_packed_in_locked_pages),
		cmocka_unit_test(test_empty_slabs_returned),
	};
#ifdef UNDER_ASAN
	skip_part("locked memory", "AddressSanitizer makes mlock() a no-op");
#endif
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
