/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* RFC 5297 appendix A vectors through every backend and architecture. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_backends.h"

struct vector {
	const char *name, *key, *ad[3], *pt, *out;
	unsigned n_ad;
};

static const struct vector vectors[] = {
	{ "A.1 deterministic",
	  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  { "101112131415161718191a1b1c1d1e1f2021222324252627" },
	  "112233445566778899aabbccddee",
	  "85632d07c6e8f37f950acd320a2ecc93"
	  "40c02b9690c4dc04daef7f6afe5c", 1 },
	{ "A.2 nonce-based",
	  "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
	  { "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa9988"
	    "7766554433221100",
	    "102030405060708090a0", "09f911029d74e35bd84156c5635688c0" },
	  "7468697320697320736f6d6520706c61696e7465787420746f20656e63727970"
	  "74207573696e67205349562d414553",
	  "7bdb6e3b432667eb06f4d14bff2fbd0f"
	  "cb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829"
	  "ea64ad544a272e9c485b62a3fd5c0d", 3 },
};

static void run_vector(struct veil_engine *e, const struct vector *v)
{
	uint8_t key[32], ad[3][64], pt[128], want[160], out[160], back[128];
	const uint8_t *adp[3];
	size_t adl[3];

	unhex(key, v->key);
	for (unsigned i = 0; i < v->n_ad; i++) {
		adl[i] = unhex(ad[i], v->ad[i]);
		adp[i] = ad[i];
	}
	size_t ptl = unhex(pt, v->pt), outl = unhex(want, v->out);
	assert_int_equal(outl, ptl + 16);

	memset(out, 0, sizeof(out));
	assert_int_equal(veil_aes_siv_encrypt(e, key, adp, adl, v->n_ad, pt, ptl, out), 0);
	assert_memory_equal(out, want, outl);
	assert_int_equal(veil_aes_siv_decrypt(e, key, adp, adl, v->n_ad, out, outl, back), 0);
	assert_memory_equal(back, pt, ptl);

	/* one flipped bit anywhere: rejected, and no plaintext comes out */
	for (size_t bit = 0; bit < outl * 8; bit += 13) {
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(back, 0xee, sizeof(back));
		errno = 0;
		assert_int_equal(veil_aes_siv_decrypt(e, key, adp, adl, v->n_ad, out, outl, back), -1);
		assert_int_equal(errno, EBADMSG);
		for (size_t i = 0; i < ptl; i++)
			assert_int_equal(back[i], 0);
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* and a different AD string is another message */
	ad[0][0] ^= 1;
	assert_int_equal(veil_aes_siv_decrypt(e, key, adp, adl, v->n_ad, out, outl, back), -1);
	ad[0][0] ^= 1;
}

static void test_rfc5297_every_backend(void **state)
{
	(void)state;
	struct veil_engine_opts o[MAX_ENGINES];
	unsigned n = all_backends(o, false), ipsec = 0;

	for (unsigned b = 0; b < n; b++) {
		struct veil_engine *e = veil_engine_new(&o[b]);
		assert_non_null(e);
		for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
			printf("# %s: RFC 5297 %s\n", veil_engine_name(e), vectors[i].name);
			run_vector(e, &vectors[i]);
		}
		ipsec += o[b].backend == VEIL_BACKEND_IPSECMB;
		veil_engine_free(e);
	}
	/* this machine must run at least one ipsec-mb architecture */
	assert_true(ipsec >= 1);
}

static void test_auto_and_forced_arch(void **state)
{
	(void)state;
	struct veil_engine_opts o = { .backend = VEIL_BACKEND_AUTO };
	struct veil_engine *e = veil_engine_new(&o);
	assert_non_null(e);
	assert_true(strncmp(veil_engine_name(e), "ipsec-mb/", 9) == 0);
	veil_engine_free(e);

	/* an architecture the machine cannot run is refused, not replaced */
	for (int a = VEIL_ARCH_NOAESNI; a < VEIL_ARCH_COUNT; a++) {
		if (veil_arch_supported((enum veil_arch)a))
			continue;
		o = (struct veil_engine_opts){ .backend = VEIL_BACKEND_IPSECMB,
					       .arch = (enum veil_arch)a };
		errno = 0;
		assert_null(veil_engine_new(&o));
		assert_int_equal(errno, ENOTSUP);
	}
	o = (struct veil_engine_opts){ .backend = (enum veil_backend)7 };
	assert_null(veil_engine_new(&o));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5297_every_backend),
		cmocka_unit_test(test_auto_and_forced_arch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
