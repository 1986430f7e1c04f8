/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Internals of the token engine, shared by its .c files and white-box tests. */
#ifndef VEIL_CRYPTO_PVT_H
#define VEIL_CRYPTO_PVT_H

#include <stdalign.h>
#include <string.h>

#include "veil_crypto.h"

#define VEIL_AD_MAX     8   /* associated-data strings in one S2V */
#define VEIL_BLK        16
#define VEIL_PAD_MAX    1040 /* padded length of a 1024-byte name */
#define VEIL_TAG_LEN    2   /* tenant tag in the token header */
#define VEIL_HDR_LEN    4   /* tenant tag (2) || ciphertext length (2) */
#define VEIL_TOKEN_PREFIX "veil_"

/* AES-SIV state of one (key, associated data) pair: everything S2V and CTR
 * need that does not depend on the plaintext. Lives in locked memory. */
struct veil_siv_ctx {
	alignas(64) uint8_t k1_sched[11 * VEIL_BLK]; /* AES-128 round keys, K1 */
	alignas(16) uint8_t k2_sched[11 * VEIL_BLK]; /* AES-128 round keys, K2 */
	alignas(16) uint8_t k1sub[VEIL_BLK];  /* CMAC subkey for full blocks */
	alignas(16) uint8_t k2sub[VEIL_BLK];  /* CMAC subkey for padded blocks */
	alignas(16) uint8_t d[VEIL_BLK];      /* S2V state after the AD */
	alignas(16) uint8_t d_k1[VEIL_BLK];   /* d ^ k1sub: block-aligned pt */
	alignas(16) uint8_t dd_k1[VEIL_BLK];  /* dbl(d) ^ k1sub: pt < 16 bytes */
	uint8_t raw[VEIL_KEY_LEN];            /* for the OpenSSL backend */
	bool has_sched;                       /* ipsec-mb could expand the key */
	unsigned n_ad;
	uint16_t ad_len[VEIL_AD_MAX];
	const uint8_t *ad[VEIL_AD_MAX];       /* point into the owner's memory */
};

struct veil_key {
	struct veil_siv_ctx ctx[2]; /* by enum veil_kind (USER, DEVICE) */
	uint32_t version;
	uint8_t version_be[4];
	uint8_t tenant_tag[VEIL_TAG_LEN];
	char tenant[VEIL_TENANT_MAX + 1];
};

/* The keys sorted by version (found by binary search); the array of
 * pointers grows as keys are added and is ordinary heap: the keys it
 * points to are in locked memory. */
struct veil_keyring {
	char tenant[VEIL_TENANT_MAX + 1];
	uint8_t tenant_tag[VEIL_TAG_LEN];
	unsigned n, cap;
	struct veil_key **keys;
};

/* One pass of a batch: n padded plaintexts (or ciphertexts) and their
 * outputs. For encryption: in[i] = padded plaintext, out[i] = V || C.
 * For decryption: in[i] = V || C, out[i] = plaintext, ok[i] set to 1 when
 * the SIV verifies. len[i] is the plaintext length. */
struct veil_siv_job {
	unsigned n;
	const uint8_t *const *in;
	uint8_t *const *out;
	const uint16_t *len;
	uint8_t *ok;
	/* every len[i] is the same whole number of blocks: set by the caller
	 * that knows it for free (the encrypt batch loop); false says only
	 * "not known", and the backend may check for itself */
	bool uniform;
};

/* Scratch sizes of one engine: a chunk of a batch holds at most this many
 * items and this many AES blocks of padded plaintext. */
#define VEIL_CHUNK_ITEMS  256
#define VEIL_CHUNK_BLOCKS 8192

/*
 * The items of a chunk whose padded length is nb = 1, 2 or 4 whole blocks
 * (names under 64 bytes, bucketed), kept transposed: block j of item i is
 * at pt + (j * VEIL_LANE_ROW + i) * VEIL_BLK, so that row j holds block j
 * of every item side by side. An AES pass of S2V then reads a row in place
 * and the XORs between passes run on whole vectors. out[i] = V || C.
 */
#define VEIL_LANE_ROW VEIL_CHUNK_ITEMS /* blocks from one row to the next */
struct veil_lanes_job {
	unsigned n;      /* items, at most VEIL_LANE_ROW */
	unsigned nb;     /* blocks an item: 1, 2 or 4 */
	const uint8_t *pt;
	uint8_t *const *out;
};

struct veil_backend_ops {
	const char *name;
	/* Return 0, or -1 on an internal error (every item then fails). */
	int (*encrypt)(struct veil_engine *e, const struct veil_siv_ctx *c,
		       const struct veil_siv_job *job);
	/* The same for items in lanes; NULL if the backend has no such path
	 * (the engine then pads every item for encrypt). */
	int (*encrypt_lanes)(struct veil_engine *e, const struct veil_siv_ctx *c,
			     const struct veil_lanes_job *job);
	int (*decrypt)(struct veil_engine *e, const struct veil_siv_ctx *c,
		       const struct veil_siv_job *job);
	void (*fini)(struct veil_engine *e);
};

struct veil_engine {
	const struct veil_backend_ops *ops;
	enum veil_backend backend;
	enum veil_arch arch;
	bool bucketing;
	char name[32];
	void *backend_state;     /* IMB_MGR * or EVP state */
	/* scratch, all in locked memory */
	uint8_t *pt;             /* padded plaintexts, VEIL_CHUNK_BLOCKS blocks */
	uint8_t *lanes;          /* the lanes of nb = 1, 2, 4 (7 rows), in pt's
				  * allocation */
	uint8_t *siv;            /* V || C outputs */
	uint8_t *work;           /* backend work area: 3 x VEIL_CHUNK_BLOCKS */
	size_t work_size;
};

/* backends */
int veil_ipsecmb_init(struct veil_engine *e, enum veil_arch arch);
int veil_openssl_init(struct veil_engine *e);

/* S2V helpers */
void veil_dbl(uint8_t out[VEIL_BLK], const uint8_t in[VEIL_BLK]);
int veil_siv_ctx_init(struct veil_siv_ctx *c, const uint8_t raw[VEIL_KEY_LEN],
		      const uint8_t *const ad[], const size_t ad_len[],
		      unsigned n_ad);
/* AES-128 key schedule in the byte layout ipsec-mb uses for every arch. */
int veil_aes128_schedule(const uint8_t key[16], uint8_t sched[11 * VEIL_BLK]);

/* veil_padded_len() for the hot paths, inlined */
static inline size_t veil_padded_len_fast(size_t name_len, bool bucketing)
{
	if (!bucketing)
		return name_len + 1;
	if (name_len < VEIL_BLK)
		return VEIL_BLK;
	if (name_len + 1 > 1024)
		return (name_len + 1 + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;
	/* the smallest power of two above name_len */
	return (size_t)1 << (64 - __builtin_clzll((unsigned long long)name_len));
}

/* The encrypt batch loop pads names under 64 bytes with AVX-512 masked
 * moves where the CPU runs them ("wide"), else with scalar moves; both
 * write the same padded plaintext. veil_batch_set_wide() picks one
 * process-wide (tests, benchmarks): -1 if this CPU cannot run wide. */
bool veil_batch_wide(void);
int veil_batch_set_wide(bool on);

/* padding: name || 0x80 || 0x00..., returns the padded length */
size_t veil_pad(uint8_t *dst, const uint8_t *name, size_t len, bool bucketing);
/* returns the name length, or -1 if the padding is malformed */
long veil_unpad(const uint8_t *pt, size_t len);

/* codec */
static inline size_t veil_b32_encoded_len(size_t n)
{
	return (n * 8 + 4) / 5;
}
/* Base32 of n bytes into veil_b32_encoded_len(n) characters (no NUL),
 * by the fastest path of this CPU. */
void veil_b32_encode(char *dst, const uint8_t *src, size_t n);
/* The encoder's paths: the scalar one is the reference, each vector path
 * writes the same characters. */
enum veil_b32_path {
	VEIL_B32_SCALAR,
	VEIL_B32_AVX2,
	VEIL_B32_AVX512, /* AVX-512 VBMI */
	VEIL_B32_PATHS
};
const char *veil_b32_path_name(enum veil_b32_path p);
bool veil_b32_path_supported(enum veil_b32_path p);
/* The path veil_b32_encode uses (the best one until set). */
enum veil_b32_path veil_b32_path(void);
/* Use path p from now on, process-wide (tests, benchmarks); -1 if this
 * CPU cannot run it. */
int veil_b32_set_path(enum veil_b32_path p);
/* Encode with path p (the scalar one if this CPU cannot run p). */
void veil_b32_encode_path(enum veil_b32_path p, char *dst, const uint8_t *src,
			  size_t n);
/* The encoder veil_b32_encode calls now, for a loop to call directly. */
typedef void veil_b32_encode_fn(char *dst, const uint8_t *src, size_t n);
veil_b32_encode_fn *veil_b32_encoder(void);
/* returns decoded length, or -1 (bad char, bad length, non-canonical) */
long veil_b32_decode(uint8_t *dst, size_t cap, const char *src, size_t n);
void veil_tenant_tag(const char *tenant, uint8_t tag[VEIL_TAG_LEN]);

/* Parse token text: prefix, kind, version; then base32 into blob.
 * Returns VEIL_OK or a status; on OK, *blob_len is the decoded length. */
int veil_token_parse(const uint8_t *tok, size_t len, enum veil_kind *kind,
		     uint32_t *version, uint8_t *blob, size_t blob_cap,
		     size_t *blob_len);
/* The text before the base32: "veil_" kind version "_", at most
 * VEIL_PREFIX_MAX characters (no NUL), the rest of head zeroed. Returns
 * its length. */
#define VEIL_PREFIX_MAX 17
size_t veil_token_prefix(char head[VEIL_PREFIX_MAX], enum veil_kind kind,
			 uint32_t version);
/* The token header: tenant tag, then the ciphertext length big-endian. */
static inline void veil_token_header(uint8_t hdr[VEIL_HDR_LEN],
				     const uint8_t tag[VEIL_TAG_LEN],
				     size_t ct_len)
{
	hdr[0] = tag[0];
	hdr[1] = tag[1];
	hdr[2] = (uint8_t)(ct_len >> 8);
	hdr[3] = (uint8_t)ct_len;
}
/* Format a token: head (from veil_token_prefix), then the base32 of the
 * blob (by enc, from veil_b32_encoder): the header (veil_token_header)
 * followed by V || C (siv_len bytes). Returns the text length, or 0 if cap
 * is too small. Inline: the engine calls it once per token. */
static inline size_t veil_token_format(char *dst, size_t cap, const char *head,
				       size_t hlen, const uint8_t *blob,
				       size_t siv_len, veil_b32_encode_fn *enc)
{
	size_t total = hlen + veil_b32_encoded_len(VEIL_HDR_LEN + siv_len);

	if (total > cap)
		return 0;
	/* a fixed 16-byte move (the base32 after it is longer than that and
	 * overwrites what lies past hlen), and the 17th character if any */
	memcpy(dst, head, 16);
	if (hlen > 16)
		dst[16] = head[16];
	enc(dst + hlen, blob, VEIL_HDR_LEN + siv_len);
	return total;
}

/* secmem internals, for white-box tests */
size_t veil_secmem_pool_pages(void);
struct veil_secmem_stats {
	size_t slab_pages;   /* pages of the slabs of small objects */
	size_t slab_objects; /* small objects handed out */
	size_t region_pages; /* pages of the regions of page runs */
	size_t big_bytes;    /* of the requests with a mapping of their own */
};
void veil_secmem_stats(struct veil_secmem_stats *st);

#endif /* VEIL_CRYPTO_PVT_H */
