/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * A PKCS#11 token reached through p11-kit (p11.c): the RSA keys that wrap
 * BYOK tenants' data keys. Wrapping uses the public key only (OpenSSL,
 * RSA-OAEP with SHA-256 and MGF1-SHA-256); unwrapping happens inside the
 * token (C_Decrypt, or C_UnwrapKey when the key permits only that): the
 * private key never leaves it.
 */
#ifndef VEIL_P11_H
#define VEIL_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct ctl_p11;

/* Load the module (a path, or the name of a module p11-kit knows), find
 * the token by label, log in with the PIN in pin_file (owned by this
 * uid, not readable by group or others: refused otherwise). NULL with why
 * in err; the PIN never appears in it. */
struct ctl_p11 *ctl_p11_open(const char *module, const char *token_label,
			     const char *pin_file, char *err, size_t errlen);
void ctl_p11_close(struct ctl_p11 *p);

/* One RSA key on the token, as found by ctl_p11_find. */
struct ctl_p11_key {
	unsigned long priv;     /* CK_OBJECT_HANDLE of the private key */
	bool use_decrypt;       /* CKA_DECRYPT (else CKA_UNWRAP) */
	unsigned bits;
	EVP_PKEY *pub;          /* its public key */
};

/* Find the private RSA key by label (and id, hex, when not NULL or ""):
 * exactly one, RSA of 2048, 3072 or 4096 bits, permitting decrypt or
 * unwrap. 0, or -1 with why in err. */
int ctl_p11_find(struct ctl_p11 *p, const char *label, const char *id_hex,
		 struct ctl_p11_key *k, char *err, size_t errlen);
void ctl_p11_key_free(struct ctl_p11_key *k);
/* Unwrap an RSA-OAEP-SHA256 ciphertext of a 32-byte key inside the token. */
int ctl_p11_unwrap(struct ctl_p11 *p, const struct ctl_p11_key *k, const uint8_t *in,
		   size_t len, uint8_t key[32], char *err, size_t errlen);
/* ctl_p11_find, then a test wrap and unwrap of a random key. */
int ctl_p11_validate(struct ctl_p11 *p, const char *label, const char *id_hex,
		     struct ctl_p11_key *k, char *err, size_t errlen);

/* RSA-OAEP (SHA-256, MGF1-SHA-256) of len bytes to pub; returns the
 * ciphertext's length, or -1 (cap too small, not an RSA key). */
int ctl_rsa_oaep_wrap(EVP_PKEY *pub, const uint8_t *in, size_t len, uint8_t *out,
		      size_t cap);

#endif
