/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The public AES-SIV vector sets through every backend and architecture:
 * RFC 5297 appendix A (A.2's nonce is its last associated-data string, as
 * RFC 5297 section 3 defines it, so veil's API expresses it), and Project
 * Wycheproof's AES-SIV-CMAC-256 group (tests/data/wycheproof/), whose path
 * is the first argument.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_backends.h"

static const char *wycheproof_path;

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

/* ---- Wycheproof aes_siv_cmac_test, keySize 256 ---- */

/* A hex field of a Wycheproof test into @p dst; returns its length. */
static size_t wp_hex(json_t *t, const char *name, uint8_t *dst, size_t cap)
{
	const char *hex = json_string_value(json_object_get(t, name));
	if (hex == NULL)
		fail_msg("tcId %lld: no string \"%s\"",
			 (long long)json_integer_value(json_object_get(t, "tcId")),
			 name);
	assert_true(strlen(hex) % 2 == 0 && strlen(hex) / 2 <= cap);
	return unhex(dst, hex);
}

/*
 * One test: "aad" is one associated-data string (possibly empty, which is
 * still one S2V input), "msg" the plaintext and "ct" V || C. A valid test
 * encrypts to ct and decrypts back; an invalid one is refused with
 * EBADMSG and leaves no plaintext behind.
 */
static void wp_run(struct veil_engine *e, json_t *t, unsigned *valid,
		   unsigned *invalid)
{
	uint8_t key[VEIL_KEY_LEN], ad[256], msg[VEIL_SIV_MAX], ct[VEIL_SIV_MAX];
	uint8_t out[VEIL_SIV_MAX], back[VEIL_SIV_MAX];
	long long id = json_integer_value(json_object_get(t, "tcId"));
	const char *result = json_string_value(json_object_get(t, "result"));

	assert_int_equal(wp_hex(t, "key", key, sizeof(key)), VEIL_KEY_LEN);
	size_t adl = wp_hex(t, "aad", ad, sizeof(ad));
	size_t ml = wp_hex(t, "msg", msg, sizeof(msg) - 16);
	size_t cl = wp_hex(t, "ct", ct, sizeof(ct));
	const uint8_t *adp[1] = { ad };
	assert_non_null(result);

	if (strcmp(result, "valid") == 0) {
		assert_int_equal(cl, ml + 16);
		memset(out, 0, sizeof(out));
		if (veil_aes_siv_encrypt(e, key, adp, &adl, 1, msg, ml, out) != 0)
			fail_msg("%s: tcId %lld: encrypt failed: %s",
				 veil_engine_name(e), id, strerror(errno));
		if (memcmp(out, ct, cl) != 0)
			fail_msg("%s: tcId %lld: wrong ciphertext",
				 veil_engine_name(e), id);
		memset(back, 0xee, sizeof(back));
		if (veil_aes_siv_decrypt(e, key, adp, &adl, 1, ct, cl, back) != 0)
			fail_msg("%s: tcId %lld: decrypt failed: %s",
				 veil_engine_name(e), id, strerror(errno));
		assert_memory_equal(back, msg, ml);
		(*valid)++;
	} else {
		/* no "acceptable" results in this group: every other is invalid */
		assert_string_equal(result, "invalid");
		memset(back, 0xee, sizeof(back));
		errno = 0;
		int rc = veil_aes_siv_decrypt(e, key, adp, &adl, 1, ct, cl, back);
		if (rc != -1 || errno != EBADMSG)
			fail_msg("%s: tcId %lld: accepted (rc %d, errno %d)",
				 veil_engine_name(e), id, rc, errno);
		for (size_t i = 0; i + 16 < cl; i++)
			assert_int_equal(back[i], 0);
		(*invalid)++;
	}
}

static void test_wycheproof_every_backend(void **state)
{
	(void)state;
	json_error_t jerr;
	json_t *doc = json_load_file(wycheproof_path, 0, &jerr);
	if (doc == NULL)
		fail_msg("%s:%d: %s", wycheproof_path, jerr.line, jerr.text);
	json_t *groups = json_object_get(doc, "testGroups");
	struct veil_engine_opts o[MAX_ENGINES];
	unsigned n = all_backends(o, false), want = 0, groups_run = 0;

	for (unsigned b = 0; b < n; b++) {
		struct veil_engine *e = veil_engine_new(&o[b]);
		unsigned valid = 0, invalid = 0;
		size_t gi;
		json_t *g;
		assert_non_null(e);
		json_array_foreach(groups, gi, g) {
			/* keySize counts both SIV halves: 256 = two AES-128
			 * keys, the only size veil has (VEIL_KEY_LEN) */
			if (json_integer_value(json_object_get(g, "keySize")) !=
			    8 * VEIL_KEY_LEN)
				continue;
			groups_run += b == 0;
			size_t ti;
			json_t *t;
			json_array_foreach(json_object_get(g, "tests"), ti, t)
				wp_run(e, t, &valid, &invalid);
		}
		printf("# %s: Wycheproof AES-SIV-CMAC-256: %u valid, %u invalid\n",
		       veil_engine_name(e), valid, invalid);
		if (b == 0)
			want = valid + invalid;
		assert_int_equal(valid + invalid, want);
		veil_engine_free(e);
	}
	/* the stored file holds the whole group: a lost or cut file fails */
	assert_int_equal(groups_run, 1);
	assert_int_equal(want, json_integer_value(json_object_get(doc, "numberOfTests")));
	json_decref(doc);
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

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s WYCHEPROOF_AES_SIV_JSON\n", argv[0]);
		return 2;
	}
	wycheproof_path = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5297_every_backend),
		cmocka_unit_test(test_wycheproof_every_backend),
		cmocka_unit_test(test_auto_and_forced_arch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
