/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * PKCS#11 through p11-kit: the customer's RSA key-encryption keys (BYOK).
 * The module is loaded by path or by the name p11-kit knows it by; one
 * session is kept, logged in, and opened again (PIN read again from its
 * file) when the token went away and came back. Objects are looked up by
 * label at each use, never by a kept handle: a key deleted from the token
 * is noticed at the next use.
 */
/* RSA_padding_check_PKCS1_OAEP_mgf1: the OAEP decoding for tokens that
 * cannot do OAEP with SHA-256 themselves (see raw_oaep) has no other API */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "ctld_pvt.h"
#include "p11.h"

struct ctl_p11 {
	CK_FUNCTION_LIST *m;
	CK_FUNCTION_LIST **all; /* when loaded by name: every module p11-kit knows */
	bool initialized;
	bool have_session;
	bool raw_oaep;    /* the token has no OAEP with SHA-256: see raw_oaep() */
	CK_SESSION_HANDLE s;
	char module[256];
	char token[64];
	char pin_file[256];
};

/* What the token did, in words for the log. */
static const char *rv_text(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "ok";
	case CKR_PIN_INCORRECT: return "PIN incorrect";
	case CKR_PIN_LOCKED: return "PIN locked";
	case CKR_TOKEN_NOT_PRESENT: return "token not present";
	case CKR_DEVICE_REMOVED: return "device removed";
	case CKR_DEVICE_ERROR: return "device error";
	case CKR_SESSION_HANDLE_INVALID: return "session handle invalid";
	case CKR_SESSION_CLOSED: return "session closed";
	case CKR_KEY_HANDLE_INVALID: return "key handle invalid";
	case CKR_OBJECT_HANDLE_INVALID: return "object handle invalid";
	case CKR_MECHANISM_INVALID: return "mechanism not supported";
	case CKR_MECHANISM_PARAM_INVALID: return "mechanism parameters not supported";
	case CKR_KEY_FUNCTION_NOT_PERMITTED: return "key function not permitted";
	case CKR_ENCRYPTED_DATA_INVALID: return "encrypted data invalid";
	case CKR_WRAPPED_KEY_INVALID: return "wrapped key invalid";
	case CKR_USER_NOT_LOGGED_IN: return "user not logged in";
	case CKR_CRYPTOKI_NOT_INITIALIZED: return "not initialized";
	default: return "error";
	}
}

/* The token is gone or the session is: open a new one at the next use. */
static void lost(struct ctl_p11 *p, CK_RV rv)
{
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	    rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED ||
	    rv == CKR_DEVICE_ERROR || rv == CKR_USER_NOT_LOGGED_IN) {
		if (p->have_session)
			p->m->C_CloseSession(p->s);
		p->have_session = false;
	}
}

/* The PIN, from a file only this uid can read. */
static int read_pin(const char *path, char *pin, size_t cap, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		snprintf(err, errlen, "pin_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "pin_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		snprintf(err, errlen, "pin_file %s: must be owned by uid %u and mode "
			 "0600 or 0400 (is uid %u, mode %04o): chown and chmod it",
			 path, (unsigned)geteuid(), (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, pin, cap - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "pin_file %s: empty or unreadable", path);
		return -1;
	}
	while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
		n--;
	pin[n] = '\0';
	return (int)n;
}

static int find_slot(struct ctl_p11 *p, CK_SLOT_ID *slot, char *err, size_t errlen)
{
	CK_ULONG n = 0;
	CK_RV rv = p->m->C_GetSlotList(CK_TRUE, NULL, &n);
	CK_SLOT_ID *slots = rv == CKR_OK && n > 0 ? calloc(n, sizeof(*slots)) : NULL;
	if (slots == NULL || p->m->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
		snprintf(err, errlen, "PKCS#11 module %s: no token present", p->module);
		free(slots);
		return -1;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p->m->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		/* the label is blank-padded to 32 bytes */
		size_t l = sizeof(ti.label);
		while (l > 0 && ti.label[l - 1] == ' ')
			l--;
		if (l == strlen(p->token) && memcmp(ti.label, p->token, l) == 0) {
			*slot = slots[i];
			free(slots);
			return 0;
		}
	}
	free(slots);
	snprintf(err, errlen, "PKCS#11 module %s: no token labelled \"%s\"",
		 p->module, p->token);
	return -1;
}

static int session(struct ctl_p11 *p, char *err, size_t errlen)
{
	if (p->have_session)
		return 0;
	CK_SLOT_ID slot;
	if (find_slot(p, &slot, err, errlen) != 0)
		return -1;
	CK_RV rv = p->m->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
				       NULL, &p->s);
	if (rv != CKR_OK) {
		snprintf(err, errlen, "token \"%s\": cannot open a session: %s (0x%lx)",
			 p->token, rv_text(rv), (unsigned long)rv);
		return -1;
	}
	char pin[256];
	int pl = read_pin(p->pin_file, pin, sizeof(pin), err, errlen);
	if (pl < 0) {
		p->m->C_CloseSession(p->s);
		return -1;
	}
	rv = p->m->C_Login(p->s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pl);
	explicit_bzero(pin, sizeof(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		snprintf(err, errlen, "token \"%s\": login with the PIN of %s failed: "
			 "%s (0x%lx)", p->token, p->pin_file, rv_text(rv),
			 (unsigned long)rv);
		p->m->C_CloseSession(p->s);
		return -1;
	}
	p->have_session = true;
	return 0;
}

struct ctl_p11 *ctl_p11_open(const char *module, const char *token_label,
			     const char *pin_file, char *err, size_t errlen)
{
	struct ctl_p11 *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(p->module, sizeof(p->module), "%s", module);
	snprintf(p->token, sizeof(p->token), "%s", token_label);
	snprintf(p->pin_file, sizeof(p->pin_file), "%s", pin_file);
	if (strchr(module, '/') != NULL) {
		p->m = p11_kit_module_load(module, 0);
		if (p->m == NULL) {
			snprintf(err, errlen, "PKCS#11 module %s: cannot load: %s", module,
				 p11_kit_message() ? p11_kit_message() : "?");
			free(p);
			return NULL;
		}
		CK_RV rv = p11_kit_module_initialize(p->m);
		if (rv != CKR_OK) {
			snprintf(err, errlen, "PKCS#11 module %s: C_Initialize: %s (0x%lx)",
				 module, rv_text(rv), (unsigned long)rv);
			p11_kit_module_release(p->m);
			free(p);
			return NULL;
		}
		p->initialized = true;
	} else {
		/* p11_kit_modules_load_and_initialize: every configured module,
		 * initialized; the one of that name is used */
		p->all = p11_kit_modules_load_and_initialize(0);
		p->m = p->all != NULL ? p11_kit_module_for_name(p->all, module) : NULL;
		if (p->m == NULL) {
			snprintf(err, errlen, "PKCS#11 module \"%s\": p11-kit knows no "
				 "module of that name (p11-kit list-modules; or give "
				 "the module's path)", module);
			ctl_p11_close(p);
			return NULL;
		}
	}
	if (session(p, err, errlen) != 0) {
		ctl_p11_close(p);
		return NULL;
	}
	return p;
}

void ctl_p11_close(struct ctl_p11 *p)
{
	if (p == NULL)
		return;
	if (p->have_session) {
		p->m->C_Logout(p->s);
		p->m->C_CloseSession(p->s);
	}
	if (p->all != NULL) {
		p11_kit_modules_finalize_and_release(p->all);
	} else if (p->m != NULL) {
		if (p->initialized)
			p11_kit_module_finalize(p->m);
		p11_kit_module_release(p->m);
	}
	free(p);
}

void ctl_p11_key_free(struct ctl_p11_key *k)
{
	EVP_PKEY_free(k->pub);
	memset(k, 0, sizeof(*k));
}

static int hex_id(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

/* The public key of the private key h: its modulus and exponent. */
static EVP_PKEY *public_key(struct ctl_p11 *p, CK_OBJECT_HANDLE h, CK_RV *rvp)
{
	CK_ATTRIBUTE a[] = {
		{ CKA_MODULUS, NULL, 0 }, { CKA_PUBLIC_EXPONENT, NULL, 0 },
	};
	EVP_PKEY *pk = NULL;
	CK_RV rv = p->m->C_GetAttributeValue(p->s, h, a, 2);
	*rvp = rv;
	if (rv != CKR_OK || a[0].ulValueLen == 0 || a[0].ulValueLen > 1024 ||
	    a[1].ulValueLen == 0 || a[1].ulValueLen > 16)
		return NULL;
	uint8_t n[1024], e[16];
	a[0].pValue = n;
	a[1].pValue = e;
	if ((*rvp = p->m->C_GetAttributeValue(p->s, h, a, 2)) != CKR_OK)
		return NULL;
	BIGNUM *bn = BN_bin2bn(n, (int)a[0].ulValueLen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)a[1].ulValueLen, NULL);
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (bn != NULL && be != NULL && b != NULL && c != NULL &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(b)) != NULL &&
	    EVP_PKEY_fromdata_init(c) == 1)
		EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	BN_free(bn);
	BN_free(be);
	return pk;
}

int ctl_p11_find(struct ctl_p11 *p, const char *label, const char *id_hex,
		 struct ctl_p11_key *k, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (session(p, err, errlen) != 0)
		return -1;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	uint8_t id[64];
	int idl = 0;
	CK_ATTRIBUTE tmpl[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) }, /* read only */
	};
	CK_ULONG nt = 2;
	if (id_hex != NULL && id_hex[0] != '\0') {
		if ((idl = hex_id(id_hex, id, sizeof(id))) < 0) {
			snprintf(err, errlen, "key id \"%s\" is not hex (up to 64 bytes)",
				 id_hex);
			return -1;
		}
		tmpl[nt++] = (CK_ATTRIBUTE){ CKA_ID, id, (CK_ULONG)idl };
	}
	CK_OBJECT_HANDLE h[2];
	CK_ULONG found = 0;
	CK_RV rv = p->m->C_FindObjectsInit(p->s, tmpl, nt);
	if (rv == CKR_OK) {
		rv = p->m->C_FindObjects(p->s, h, 2, &found);
		p->m->C_FindObjectsFinal(p->s);
	}
	if (rv != CKR_OK) {
		lost(p, rv);
		snprintf(err, errlen, "token \"%s\": cannot search for key \"%s\": %s "
			 "(0x%lx)", p->token, label, rv_text(rv), (unsigned long)rv);
		return -1;
	}
	if (found != 1) {
		snprintf(err, errlen, found == 0 ? "token \"%s\": no private key labelled "
			 "\"%s\"%s%s" : "token \"%s\": more than one private key labelled "
			 "\"%s\"%s%s: give its id", p->token, label,
			 idl > 0 ? " with id " : "", idl > 0 ? id_hex : "");
		return -1;
	}
	CK_KEY_TYPE type = 0;
	CK_BBOOL dec = CK_FALSE, unw = CK_FALSE;
	CK_ATTRIBUTE a[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_DECRYPT, &dec, sizeof(dec) },
		{ CKA_UNWRAP, &unw, sizeof(unw) },
	};
	rv = p->m->C_GetAttributeValue(p->s, h[0], a, 3);
	/* a module may not know one of them: what it gave still counts */
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_ATTRIBUTE_SENSITIVE) {
		lost(p, rv);
		snprintf(err, errlen, "token \"%s\": key \"%s\": cannot read its "
			 "attributes: %s", p->token, label, rv_text(rv));
		return -1;
	}
	if (type != CKK_RSA) {
		snprintf(err, errlen, "token \"%s\": key \"%s\" is not an RSA key", p->token,
			 label);
		return -1;
	}
	if (dec != CK_TRUE && unw != CK_TRUE) {
		snprintf(err, errlen, "token \"%s\": key \"%s\" permits neither decrypt "
			 "nor unwrap (CKA_DECRYPT, CKA_UNWRAP)", p->token, label);
		return -1;
	}
	k->priv = h[0];
	k->use_decrypt = dec == CK_TRUE;
	k->pub = public_key(p, h[0], &rv);
	if (k->pub == NULL) {
		lost(p, rv);
		snprintf(err, errlen, "token \"%s\": key \"%s\": its modulus and public "
			 "exponent cannot be read (%s)", p->token, label, rv_text(rv));
		return -1;
	}
	k->bits = (unsigned)EVP_PKEY_get_bits(k->pub);
	if (k->bits != 2048 && k->bits != 3072 && k->bits != 4096) {
		snprintf(err, errlen, "token \"%s\": key \"%s\" is RSA-%u: it must be "
			 "2048, 3072 or 4096 bits", p->token, label, k->bits);
		ctl_p11_key_free(k);
		return -1;
	}
	return 0;
}

/* Some tokens (SoftHSM 2.6) do RSA-OAEP with SHA-1 only. For them the
 * RSA private-key operation is done in the token without padding
 * (CKM_RSA_X_509, which needs CKA_DECRYPT) and the OAEP-SHA256 padding is
 * checked here by OpenSSL: the private key still never leaves the token,
 * the padded block lives only on this stack and is zeroized. */
static CK_RV raw_oaep(struct ctl_p11 *p, const struct ctl_p11_key *k, const uint8_t *in,
		      size_t len, uint8_t key[32])
{
	CK_MECHANISM mech = { CKM_RSA_X_509, NULL, 0 };
	uint8_t em[512], out[512];
	CK_ULONG eml = sizeof(em);
	size_t nb = k->bits / 8;
	CK_RV rv = p->m->C_DecryptInit(p->s, &mech, k->priv);
	if (rv == CKR_OK)
		rv = p->m->C_Decrypt(p->s, (CK_BYTE_PTR)(uintptr_t)in, /* read only */ (CK_ULONG)len, em, &eml);
	if (rv == CKR_OK && (eml > nb || nb > sizeof(em)))
		rv = CKR_ENCRYPTED_DATA_INVALID;
	if (rv == CKR_OK) {
		/* the block as the modulus is long, leading zeros included */
		memmove(em + (nb - eml), em, eml);
		memset(em, 0, nb - eml);
		int n = RSA_padding_check_PKCS1_OAEP_mgf1(out, sizeof(out), em + 1,
							  (int)nb - 1, (int)nb, NULL, 0,
							  EVP_sha256(), EVP_sha256());
		if (n != 32)
			rv = CKR_ENCRYPTED_DATA_INVALID;
		else
			memcpy(key, out, 32);
	}
	explicit_bzero(em, sizeof(em));
	explicit_bzero(out, sizeof(out));
	return rv;
}

int ctl_p11_unwrap(struct ctl_p11 *p, const struct ctl_p11_key *k, const uint8_t *in,
		   size_t len, uint8_t key[32], char *err, size_t errlen)
{
	if (session(p, err, errlen) != 0)
		return -1;
	if (p->raw_oaep && k->use_decrypt) {
		CK_RV rv = raw_oaep(p, k, in, len, key);
		if (rv == CKR_OK)
			return 0;
		lost(p, rv);
		snprintf(err, errlen, "token \"%s\": unwrap failed: %s (0x%lx)", p->token,
			 rv_text(rv), (unsigned long)rv);
		return -1;
	}
	CK_RSA_PKCS_OAEP_PARAMS oaep = {
		.hashAlg = CKM_SHA256, .mgf = CKG_MGF1_SHA256,
		.source = CKZ_DATA_SPECIFIED, .pSourceData = NULL, .ulSourceDataLen = 0,
	};
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
	CK_RV rv;
	if (k->use_decrypt) {
		uint8_t out[512];
		CK_ULONG outl = sizeof(out);
		rv = p->m->C_DecryptInit(p->s, &mech, k->priv);
		if (rv == CKR_OK)
			rv = p->m->C_Decrypt(p->s, (CK_BYTE_PTR)(uintptr_t)in, /* read only */ (CK_ULONG)len, out, &outl);
		if (rv == CKR_OK && outl != 32)
			rv = CKR_ENCRYPTED_DATA_INVALID;
		if (rv == CKR_OK)
			memcpy(key, out, 32);
		explicit_bzero(out, sizeof(out));
	} else {
		/* unwrap only: into a session object that is extractable, read
		 * once, destroyed */
		CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
		CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
		CK_BBOOL t = CK_TRUE, f = CK_FALSE;
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &f, sizeof(f) }, { CKA_SENSITIVE, &f, sizeof(f) },
			{ CKA_EXTRACTABLE, &t, sizeof(t) },
		};
		CK_OBJECT_HANDLE sk = CK_INVALID_HANDLE;
		rv = p->m->C_UnwrapKey(p->s, &mech, k->priv, (CK_BYTE_PTR)(uintptr_t)in, /* read only */ (CK_ULONG)len,
				       tmpl, 5, &sk);
		if (rv == CKR_OK) {
			uint8_t v[64];
			CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
			rv = p->m->C_GetAttributeValue(p->s, sk, &a, 1);
			if (rv == CKR_OK && a.ulValueLen != 32)
				rv = CKR_WRAPPED_KEY_INVALID;
			if (rv == CKR_OK)
				memcpy(key, v, 32);
			explicit_bzero(v, sizeof(v));
			p->m->C_DestroyObject(p->s, sk);
		}
	}
	if ((rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
	     rv == CKR_MECHANISM_INVALID) && k->use_decrypt) {
		/* no OAEP with SHA-256 in this token: the raw operation */
		rv = raw_oaep(p, k, in, len, key);
		if (rv == CKR_OK && !p->raw_oaep) {
			p->raw_oaep = true;
			ctl_log("byok: token \"%s\" has no RSA-OAEP with SHA-256: "
				"it decrypts without padding (CKM_RSA_X_509) and the "
				"OAEP padding is checked here", p->token);
		}
	}
	if (rv != CKR_OK) {
		lost(p, rv);
		snprintf(err, errlen, "token \"%s\": unwrap failed: %s (0x%lx)", p->token,
			 rv_text(rv), (unsigned long)rv);
		return -1;
	}
	return 0;
}

int ctl_p11_validate(struct ctl_p11 *p, const char *label, const char *id_hex,
		     struct ctl_p11_key *k, char *err, size_t errlen)
{
	if (ctl_p11_find(p, label, id_hex, k, err, errlen) != 0)
		return -1;
	uint8_t test[32], back[32], ct[512];
	int n;
	int rc = -1;
	if (RAND_bytes(test, sizeof(test)) != 1 ||
	    (n = ctl_rsa_oaep_wrap(k->pub, test, 32, ct, sizeof(ct))) < 0)
		snprintf(err, errlen, "key \"%s\": RSA-OAEP wrap with its public key "
			 "failed", label);
	else if (ctl_p11_unwrap(p, k, ct, (size_t)n, back, err, errlen) != 0)
		; /* err says why */
	else if (memcmp(test, back, 32) != 0)
		snprintf(err, errlen, "key \"%s\": a test wrap and unwrap gave another "
			 "key back", label);
	else
		rc = 0;
	explicit_bzero(test, sizeof(test));
	explicit_bzero(back, sizeof(back));
	if (rc != 0)
		ctl_p11_key_free(k);
	return rc;
}

int ctl_rsa_oaep_wrap(EVP_PKEY *pub, const uint8_t *in, size_t len, uint8_t *out,
		      size_t cap)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	size_t outl = cap;
	int ok = c != NULL && EVP_PKEY_encrypt_init(c) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) == 1 &&
		 EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) == 1 &&
		 EVP_PKEY_encrypt(c, NULL, &outl, in, len) == 1 && outl <= cap &&
		 EVP_PKEY_encrypt(c, out, &outl, in, len) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? (int)outl : -1;
}
