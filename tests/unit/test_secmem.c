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
	assert_int_equal((uintptr_t)p % 4096, 0);
	assert_true(all_zero(p, 4096));
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
	assert_memory_equal(pt, "secret-name", 11); /* the padded name, in scratch */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_locked_zeroed),
		cmocka_unit_test(test_pool_reuse_and_big),
		cmocka_unit_test(test_key_zeroized),
		cmocka_unit_test(test_engine_scratch_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
