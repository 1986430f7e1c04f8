/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_crypto.h
 * The veil token engine: usernames and device names in, deterministic,
 * authenticated, reversible tokens out, many at a time.
 *
 * Cipher: AES-SIV (RFC 5297) with AES-128, a 256-bit key per tenant key
 * version. The associated data binds the tenant id, the key version and the
 * field kind; the S2V state after the associated data is precomputed once per
 * key and kind. docs/token-format.md specifies the token text.
 *
 * Threading: a struct veil_engine belongs to one thread (it owns the
 * ipsec-mb manager and scratch memory). Keys and keyrings are read-only once
 * built and may be shared by the engines of many threads.
 *
 * No function of this library prints a key or a name.
 */
#ifndef VEIL_CRYPTO_H
#define VEIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_KEY_LEN      32   /**< SIV key: K1 (S2V/CMAC) || K2 (CTR) */
#define VEIL_NAME_MAX     1024 /**< longest name, in bytes */
#define VEIL_TENANT_MAX   64   /**< longest tenant id: [a-z0-9_.-], 1..64 */
#define VEIL_SIV_MAX      (16 + 1040) /**< V || C of the longest padded name */
#define VEIL_TOKEN_MAX    1728 /**< longest token text, in bytes (no NUL) */
#define VEIL_BATCH_MAX    4096 /**< most items in one batch call */

/** Field kind of an identity; part of the associated data and the token. */
enum veil_kind {
	VEIL_KIND_USER = 0,
	VEIL_KIND_DEVICE = 1,
	VEIL_KIND_ANY = 2, /**< decrypt only: accept either kind */
};

/**
 * Per-item status codes, one X-macro list for the enum and its strings.
 * Every failed item gets one of these; its output is never garbage (out_len
 * is 0 on failure).
 */
#define VEIL_STATUS_LIST(X)                                                    \
	X(OK, "ok")                                                            \
	X(E_TOOLONG, "name longer than 1024 bytes")                            \
	X(E_NOSPACE, "output buffer too small")                                \
	X(E_PREFIX, "not a veil token (bad prefix, kind or version field)")    \
	X(E_ENCODING, "bad base32 encoding")                                   \
	X(E_TRUNCATED, "token truncated")                                      \
	X(E_LENGTH, "token length inconsistent with its header")               \
	X(E_TENANT, "token belongs to another tenant")                         \
	X(E_KIND, "token is of another field kind")                            \
	X(E_VERSION, "unknown or destroyed key version")                       \
	X(E_AUTH, "token forged or altered (authentication failed)")           \
	X(E_PADDING, "bad name padding inside an authentic token")             \
	X(E_INTERNAL, "internal crypto error")

#define VEIL_STATUS_ENUM_(name, str) VEIL_##name,
enum veil_status { VEIL_STATUS_LIST(VEIL_STATUS_ENUM_) VEIL_STATUS_COUNT };
#undef VEIL_STATUS_ENUM_

/** @return a short English text for a status code (never NULL). */
const char *veil_status_str(int status);
/** @return the code's symbolic name, e.g. "E_AUTH" (never NULL). */
const char *veil_status_name(int status);

/* ------------------------------------------------------------------ */
/* Engines and backends                                               */
/* ------------------------------------------------------------------ */

enum veil_backend {
	VEIL_BACKEND_AUTO = 0, /**< ipsec-mb if it initialises, else OpenSSL */
	VEIL_BACKEND_IPSECMB,  /**< batched AES passes through intel-ipsec-mb */
	VEIL_BACKEND_OPENSSL,  /**< EVP AES-128-SIV, one call per name */
};

/** ipsec-mb architecture; NOAESNI is the software fallback. */
enum veil_arch {
	VEIL_ARCH_AUTO = 0,
	VEIL_ARCH_NOAESNI,
	VEIL_ARCH_SSE,
	VEIL_ARCH_AVX,
	VEIL_ARCH_AVX2,
	VEIL_ARCH_AVX512,
	VEIL_ARCH_COUNT,
};

struct veil_engine_opts {
	enum veil_backend backend;
	enum veil_arch arch;     /**< ipsec-mb only */
	bool no_bucketing;       /**< pad names to length+1, not to a bucket */
};

/**
 * Fill @p opts with the defaults, then apply VEIL_CRYPTO
 * (auto|ipsec-mb|openssl) and VEIL_CRYPTO_ARCH
 * (auto|noaesni|sse|avx|avx2|avx512) from the environment.
 * @return 0, or -1 with a message naming the bad value in @p err.
 */
int veil_engine_opts_from_env(struct veil_engine_opts *opts, char *err,
			      size_t errlen);

/** Parse a backend or arch name. @return 0, or -1 if unknown. */
int veil_backend_parse(const char *s, enum veil_backend *out);
int veil_arch_parse(const char *s, enum veil_arch *out);
const char *veil_arch_name(enum veil_arch arch);

/** @return true if this CPU and ipsec-mb build can run @p arch. */
bool veil_arch_supported(enum veil_arch arch);

/**
 * Create an engine for the calling thread.
 * @param opts NULL for the defaults (the environment is not read).
 * @return the engine, or NULL with errno: EINVAL (bad option), ENOTSUP
 *   (arch not supported by this CPU), ENOMEM (or EPERM/EAGAIN when locked
 *   memory cannot be had).
 */
struct veil_engine *veil_engine_new(const struct veil_engine_opts *opts);
void veil_engine_free(struct veil_engine *e);
/** @return e.g. "ipsec-mb/avx512" or "openssl". */
const char *veil_engine_name(const struct veil_engine *e);

/* ------------------------------------------------------------------ */
/* Keys                                                               */
/* ------------------------------------------------------------------ */

struct veil_key;     /**< one key version of one tenant, precomputed */
struct veil_keyring; /**< the live key versions of one tenant */

/** Fill @p raw with a fresh random key (OpenSSL's private DRBG). */
int veil_key_generate(uint8_t raw[VEIL_KEY_LEN]);

/** @return true if @p tenant is a valid tenant id. */
bool veil_tenant_valid(const char *tenant);

/**
 * Build a key version: copies @p raw into locked, non-dumpable memory and
 * precomputes S2V for both field kinds. The caller should wipe its copy.
 * @return the key, or NULL with errno: EINVAL (bad tenant id, version 0),
 *   ENOMEM/EAGAIN/EPERM (locked memory).
 */
struct veil_key *veil_key_new(const uint8_t raw[VEIL_KEY_LEN],
			      const char *tenant, uint32_t version);
/** Zeroize and release a key. NULL is allowed. */
void veil_key_free(struct veil_key *key);
/** @return the locked memory (bytes) that @p n keys take. */
size_t veil_key_locked_bytes(size_t n);
uint32_t veil_key_version(const struct veil_key *key);
const char *veil_key_tenant(const struct veil_key *key);

/** @return a keyring for @p tenant, or NULL with errno (EINVAL, ENOMEM). */
struct veil_keyring *veil_keyring_new(const char *tenant);
/**
 * Add a key version; the ring takes ownership of @p key on success. A ring
 * holds any number of versions; finding one is O(log n).
 * @return 0, or -1 with errno: EINVAL (other tenant), EEXIST (version
 *   present), ENOMEM.
 */
int veil_keyring_add(struct veil_keyring *ring, struct veil_key *key);
/** @return how many versions the ring holds. */
unsigned veil_keyring_count(const struct veil_keyring *ring);
/** @return the key of @p version, or NULL. */
const struct veil_key *veil_keyring_get(const struct veil_keyring *ring,
					uint32_t version);
/** Destroy (zeroize) a version: its tokens no longer resolve. -1/ENOENT. */
int veil_keyring_destroy(struct veil_keyring *ring, uint32_t version);
/** Zeroize and release every key, then the ring. NULL is allowed. */
void veil_keyring_free(struct veil_keyring *ring);

/* ------------------------------------------------------------------ */
/* Batches                                                            */
/* ------------------------------------------------------------------ */

/** One item of a batch call: input, caller-owned output, result. */
struct veil_item {
	const uint8_t *in; /**< name (encrypt) or token / SIV blob (decrypt) */
	size_t in_len;
	uint8_t *out;      /**< caller buffer for the result */
	size_t out_cap;
	size_t out_len;    /**< bytes written; 0 on failure */
	int status;        /**< enum veil_status */
	uint32_t version;  /**< decrypt: the key version the token names */
	uint8_t kind;      /**< decrypt: the kind the token names */
};

/**
 * Encrypt @p n names into token texts under @p key for @p kind. Token text
 * needs at most VEIL_TOKEN_MAX bytes of out_cap (no NUL is written).
 * @return how many items succeeded; each item has its status.
 */
unsigned veil_token_encrypt_batch(struct veil_engine *e,
				  const struct veil_key *key,
				  enum veil_kind kind, struct veil_item *items,
				  unsigned n);

/**
 * Decrypt @p n token texts (case-insensitive) with the versions of
 * @p ring. @p expect is the kind the caller wants, or VEIL_KIND_ANY.
 * Names need at most VEIL_NAME_MAX bytes of out_cap.
 * @return how many items succeeded; each item has its status.
 */
unsigned veil_token_decrypt_batch(struct veil_engine *e,
				  const struct veil_keyring *ring,
				  enum veil_kind expect,
				  struct veil_item *items, unsigned n);

/**
 * Binary form, without the token text: out = V || C (16 + padded length),
 * at most VEIL_SIV_MAX bytes. The padding is the one the token uses.
 */
unsigned veil_siv_encrypt_batch(struct veil_engine *e,
				const struct veil_key *key, enum veil_kind kind,
				struct veil_item *items, unsigned n);
/** Inverse of veil_siv_encrypt_batch(): V || C in, name out. */
unsigned veil_siv_decrypt_batch(struct veil_engine *e,
				const struct veil_key *key, enum veil_kind kind,
				struct veil_item *items, unsigned n);

/**
 * Plain RFC 5297 AES-SIV (no veil padding, any associated data), through
 * the engine's backend; for test vectors and interoperability checks.
 * out receives V || C (16 + pt_len bytes). Every backend takes an empty
 * plaintext (out is V alone) and empty AD strings (each one S2V input).
 * @return 0, or -1 with errno (EINVAL: more than 8 AD strings or pt_len
 *   over VEIL_SIV_MAX - 16).
 */
int veil_aes_siv_encrypt(struct veil_engine *e, const uint8_t key[VEIL_KEY_LEN],
			 const uint8_t *const ad[], const size_t ad_len[],
			 unsigned n_ad, const uint8_t *pt, size_t pt_len,
			 uint8_t *out);
/** @return 0, or -1 with errno EBADMSG when authentication fails. */
int veil_aes_siv_decrypt(struct veil_engine *e, const uint8_t key[VEIL_KEY_LEN],
			 const uint8_t *const ad[], const size_t ad_len[],
			 unsigned n_ad, const uint8_t *in, size_t in_len,
			 uint8_t *pt_out);

/* ------------------------------------------------------------------ */
/* Token text                                                         */
/* ------------------------------------------------------------------ */

/** @return the padded plaintext length of a name of @p name_len bytes. */
size_t veil_padded_len(size_t name_len, bool bucketing);

/**
 * Find the next token in free text, starting at @p text. Matches are
 * case-insensitive and bounded by non-token characters.
 * @return true and the token's offset and length, or false.
 */
bool veil_token_find(const char *text, size_t len, size_t *off,
		     size_t *tok_len);

/* ------------------------------------------------------------------ */
/* Locked memory                                                      */
/* ------------------------------------------------------------------ */

/**
 * Allocate @p size bytes of zeroed memory that is locked in RAM (mlock)
 * and excluded from core dumps (MADV_DONTDUMP).
 * @return the memory, or NULL with errno (ENOMEM, EAGAIN or EPERM when
 *   RLIMIT_MEMLOCK is too small).
 */
void *veil_secmem_alloc(size_t size);
/** Zeroize and release memory from veil_secmem_alloc(). NULL is allowed. */
void veil_secmem_free(void *p);
/**
 * The locked memory that @p count allocations of @p size bytes take.
 * Requests up to half a page are packed, many to a page (64-byte aligned);
 * larger ones take whole pages.
 * @return bytes, a whole number of pages.
 */
size_t veil_secmem_need(size_t size, size_t count);

#ifdef __cplusplus
}
#endif
#endif /* VEIL_CRYPTO_H */
