/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The portable fallback and the reference: OpenSSL's EVP AES-128-SIV, one
 * call per name. The associated data is fed once per batch into a template
 * context; each name starts from a copy of it, so S2V's AD part is not
 * recomputed per name. The template lives only for the batch call: OpenSSL
 * keeps its key schedule in its own heap, and EVP_CIPHER_CTX_free cleanses
 * it, so no key copy outlives the call outside veil's locked memory.
 *
 * An empty plaintext (RFC 5297 allows it; veil's padded names never are)
 * takes another path: EVP's SIV ignores a zero-length update, so it never
 * reaches S2V's last step and its Final fails. That step is one CMAC, done
 * here with OpenSSL's CMAC on the S2V state the key context holds.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto_pvt.h"

struct ossl_state {
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *tmpl;
	EVP_CIPHER_CTX *work;
};

static int tmpl_init(struct ossl_state *s, const struct veil_siv_ctx *c,
		     int enc)
{
	int outl;

	if (EVP_CipherInit_ex2(s->tmpl, s->cipher, c->raw, NULL, enc, NULL) != 1)
		return -1;
	for (unsigned i = 0; i < c->n_ad; i++)
		if (EVP_CipherUpdate(s->tmpl, NULL, &outl, c->ad[i],
				     c->ad_len[i]) != 1)
			return -1;
	return 0;
}

/*
 * V of an empty plaintext: S2V's last input is shorter than a block, so
 * V = CMAC(K1, dbl(D) xor 10^127), D being the state after the associated
 * data (c->d). The scratch block is wiped; the MAC context cleanses its key.
 */
static int empty_v(const struct veil_siv_ctx *c, uint8_t v[VEIL_BLK])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
	static char cbc[] = "AES-128-CBC"; /* OSSL_PARAM takes char * */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cbc, 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t t[VEIL_BLK];
	size_t outl = 0;

	veil_dbl(t, c->d);
	t[0] ^= 0x80;
	int ok = mc != NULL && EVP_MAC_init(mc, c->raw, 16, params) == 1 &&
		 EVP_MAC_update(mc, t, sizeof(t)) == 1 &&
		 EVP_MAC_final(mc, v, &outl, VEIL_BLK) == 1 && outl == VEIL_BLK;
	explicit_bzero(t, sizeof(t));
	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

static int ossl_encrypt(struct veil_engine *e, const struct veil_siv_ctx *c,
			const struct veil_siv_job *job)
{
	struct ossl_state *s = e->backend_state;
	int outl, rc = -1;

	if (tmpl_init(s, c, 1) != 0)
		goto out;
	for (unsigned i = 0; i < job->n; i++) {
		uint8_t *o = job->out[i];
		if (job->len[i] == 0) {
			if (empty_v(c, o) != 0)
				goto out;
			continue;
		}
		if (EVP_CIPHER_CTX_copy(s->work, s->tmpl) != 1 ||
		    EVP_EncryptUpdate(s->work, o + VEIL_BLK, &outl, job->in[i],
				      job->len[i]) != 1 ||
		    EVP_EncryptFinal_ex(s->work, o + VEIL_BLK + outl, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(s->work, EVP_CTRL_AEAD_GET_TAG,
					VEIL_BLK, o) != 1)
			goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_reset(s->work);
	EVP_CIPHER_CTX_reset(s->tmpl);
	return rc;
}

static int ossl_decrypt(struct veil_engine *e, const struct veil_siv_ctx *c,
			const struct veil_siv_job *job)
{
	struct ossl_state *s = e->backend_state;
	int outl, rc = -1;

	if (tmpl_init(s, c, 0) != 0)
		goto out;
	for (unsigned i = 0; i < job->n; i++) {
		uint8_t *o = job->out[i];
		const uint8_t *in = job->in[i];
		job->ok[i] = 0;
		if (job->len[i] == 0) {
			uint8_t v[VEIL_BLK];
			if (empty_v(c, v) != 0)
				goto out;
			job->ok[i] = CRYPTO_memcmp(v, in, VEIL_BLK) == 0;
			continue;
		}
		if (EVP_CIPHER_CTX_copy(s->work, s->tmpl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(s->work, EVP_CTRL_AEAD_SET_TAG, VEIL_BLK,
					(void *)(uintptr_t)in) != 1) /* read only */
			goto out;
		/* An authentication failure shows in Update or Final. */
		if (EVP_DecryptUpdate(s->work, o, &outl, in + VEIL_BLK,
				      job->len[i]) == 1 &&
		    EVP_DecryptFinal_ex(s->work, o + outl, &outl) == 1)
			job->ok[i] = 1;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_reset(s->work);
	EVP_CIPHER_CTX_reset(s->tmpl);
	return rc;
}

static void ossl_fini(struct veil_engine *e)
{
	struct ossl_state *s = e->backend_state;

	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->work);
	EVP_CIPHER_CTX_free(s->tmpl);
	EVP_CIPHER_free(s->cipher);
	free(s);
	e->backend_state = NULL;
}

static const struct veil_backend_ops ossl_ops = {
	.name = "openssl",
	.encrypt = ossl_encrypt,
	.decrypt = ossl_decrypt,
	.fini = ossl_fini,
};

int veil_openssl_init(struct veil_engine *e)
{
	struct ossl_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	e->backend_state = s;
	e->ops = &ossl_ops;
	s->cipher = EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL);
	s->tmpl = EVP_CIPHER_CTX_new();
	s->work = EVP_CIPHER_CTX_new();
	if (s->cipher == NULL || s->tmpl == NULL || s->work == NULL) {
		ossl_fini(e);
		errno = ENOTSUP;
		return -1;
	}
	return 0;
}
