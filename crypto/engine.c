/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Engines (backend choice, per-thread scratch) and the batch calls: names
 * are padded into locked scratch, the backend runs AES-SIV over a chunk of
 * them at once, and the results are written as token text or binary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "crypto_pvt.h"

#define STATUS_STR_(name, str) str,
#define STATUS_NAME_(name, str) #name,
static const char *const status_str[] = { VEIL_STATUS_LIST(STATUS_STR_) };
static const char *const status_name[] = { VEIL_STATUS_LIST(STATUS_NAME_) };

const char *veil_status_str(int status)
{
	if (status < 0 || status >= VEIL_STATUS_COUNT)
		return "unknown status";
	return status_str[status];
}

const char *veil_status_name(int status)
{
	if (status < 0 || status >= VEIL_STATUS_COUNT)
		return "E_UNKNOWN";
	return status_name[status];
}

/* ---- options ---- */

static const char *const arch_names[VEIL_ARCH_COUNT] = {
	"auto", "noaesni", "sse", "avx", "avx2", "avx512",
};

const char *veil_arch_name(enum veil_arch arch)
{
	if ((unsigned)arch >= VEIL_ARCH_COUNT)
		return "unknown";
	return arch_names[arch];
}

int veil_arch_parse(const char *s, enum veil_arch *out)
{
	for (int a = 0; a < VEIL_ARCH_COUNT; a++) {
		if (s != NULL && strcmp(s, arch_names[a]) == 0) {
			*out = (enum veil_arch)a;
			return 0;
		}
	}
	return -1;
}

int veil_backend_parse(const char *s, enum veil_backend *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "auto") == 0)
		*out = VEIL_BACKEND_AUTO;
	else if (strcmp(s, "ipsec-mb") == 0)
		*out = VEIL_BACKEND_IPSECMB;
	else if (strcmp(s, "openssl") == 0)
		*out = VEIL_BACKEND_OPENSSL;
	else
		return -1;
	return 0;
}

int veil_engine_opts_from_env(struct veil_engine_opts *opts, char *err,
			      size_t errlen)
{
	const char *b = getenv("VEIL_CRYPTO");
	const char *a = getenv("VEIL_CRYPTO_ARCH");

	memset(opts, 0, sizeof(*opts));
	if (b != NULL && *b != '\0' && veil_backend_parse(b, &opts->backend)) {
		snprintf(err, errlen,
			 "VEIL_CRYPTO=\"%.32s\": unknown backend (use auto, "
			 "ipsec-mb or openssl)", b);
		return -1;
	}
	if (a != NULL && *a != '\0' && veil_arch_parse(a, &opts->arch)) {
		snprintf(err, errlen,
			 "VEIL_CRYPTO_ARCH=\"%.32s\": unknown architecture (use "
			 "auto, noaesni, sse, avx, avx2 or avx512)", a);
		return -1;
	}
	return 0;
}

/* ---- engines ---- */

/* A chunk plus one maximal item, in blocks; V || C adds a block per item. */
#define SCRATCH_BLOCKS (VEIL_CHUNK_BLOCKS + VEIL_PAD_MAX / VEIL_BLK + 2)
#define PT_SIZE  ((size_t)SCRATCH_BLOCKS * VEIL_BLK)
#define SIV_SIZE (PT_SIZE + (size_t)(VEIL_CHUNK_ITEMS + 1) * \
		  (VEIL_BLK + VEIL_HDR_LEN + VEIL_BLK))
/* the lanes of 1, 2 and 4 blocks an item, one after the other */
#define LANES_SIZE ((size_t)(1 + 2 + 4) * VEIL_LANE_ROW * VEIL_BLK)

struct veil_engine *veil_engine_new(const struct veil_engine_opts *opts)
{
	struct veil_engine_opts def = { 0 };
	int rc;

	if (opts == NULL)
		opts = &def;
	if ((unsigned)opts->backend > VEIL_BACKEND_OPENSSL ||
	    (unsigned)opts->arch >= VEIL_ARCH_COUNT) {
		errno = EINVAL;
		return NULL;
	}
	struct veil_engine *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->bucketing = !opts->no_bucketing;
	e->pt = veil_secmem_alloc(PT_SIZE + LANES_SIZE);
	e->lanes = e->pt ? e->pt + PT_SIZE : NULL;
	e->siv = e->pt ? veil_secmem_alloc(SIV_SIZE) : NULL;
	if (e->siv == NULL)
		goto fail;

	switch (opts->backend) {
	case VEIL_BACKEND_IPSECMB:
		rc = veil_ipsecmb_init(e, opts->arch);
		break;
	case VEIL_BACKEND_OPENSSL:
		rc = veil_openssl_init(e);
		break;
	default:
		rc = veil_ipsecmb_init(e, opts->arch);
		if (rc != 0 && opts->arch == VEIL_ARCH_AUTO)
			rc = veil_openssl_init(e);
	}
	if (rc != 0)
		goto fail;
	if (e->ops->encrypt == NULL)
		goto fail;
	if (strcmp(e->ops->name, "ipsec-mb") == 0) {
		e->backend = VEIL_BACKEND_IPSECMB;
		snprintf(e->name, sizeof(e->name), "ipsec-mb/%s",
			 veil_arch_name(e->arch));
	} else {
		e->backend = VEIL_BACKEND_OPENSSL;
		snprintf(e->name, sizeof(e->name), "openssl");
	}
	return e;
fail:;
	int err = errno ? errno : ENOMEM;
	veil_engine_free(e);
	errno = err;
	return NULL;
}

void veil_engine_free(struct veil_engine *e)
{
	if (e == NULL)
		return;
	if (e->ops != NULL && e->ops->fini != NULL)
		e->ops->fini(e);
	veil_secmem_free(e->pt);
	veil_secmem_free(e->siv);
	free(e);
}

const char *veil_engine_name(const struct veil_engine *e)
{
	return e->name;
}

/* ---- batches ---- */

/* veil_pad() for the batch loop, inlined: names up to 64 bytes (nearly all)
 * are copied by a few overlapping fixed-size moves instead of a call to
 * memcpy; the blocks from the marker's on are zeroed first. dst has room
 * for plen rounded up to a block. */
static inline void pad_inline(uint8_t *dst, const uint8_t *name, size_t len,
			      size_t plen)
{
	size_t end = (plen > len + 1 ? plen : len + 1) + VEIL_BLK - 1;

	for (size_t b = len / VEIL_BLK * VEIL_BLK; b < end / VEIL_BLK * VEIL_BLK;
	     b += VEIL_BLK)
		memset(dst + b, 0, VEIL_BLK);
	if (len >= 32 && len <= 64) {
		memcpy(dst, name, 32);
		memcpy(dst + len - 32, name + len - 32, 32);
	} else if (len >= 16 && len < 32) {
		memcpy(dst, name, 16);
		memcpy(dst + len - 16, name + len - 16, 16);
	} else if (len >= 8 && len < 16) {
		memcpy(dst, name, 8);
		memcpy(dst + len - 8, name + len - 8, 8);
	} else if (len >= 4 && len < 8) {
		memcpy(dst, name, 4);
		memcpy(dst + len - 4, name + len - 4, 4);
	} else {
		memcpy(dst, name, len);
	}
	dst[len] = 0x80;
}

/* The rows of the lanes of nb blocks an item: nb = 1, 2, 4 start at rows
 * 0, 1 and 3 of the lanes area. */
static inline uint8_t *lane_rows(uint8_t *lanes, size_t nb)
{
	return lanes + (nb - 1) * VEIL_LANE_ROW * VEIL_BLK;
}

/* Up to 16 bytes of a name into a block that is already zero, by a few
 * overlapping fixed-size moves. */
static inline __attribute__((always_inline)) void
copy_part(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n == 16) {
		memcpy(dst, src, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else {
		for (size_t k = 0; k < n; k++)
			dst[k] = src[k];
	}
}

/* veil_pad() of a name of nb = 1, 2 or 4 whole blocks (len < 16 * nb)
 * into its lane: block j at dst + j rows. The name's whole blocks are
 * copied as they are; the block with the marker is made in registers:
 * for a name of 16 bytes or more, from the 16 bytes that end the name,
 * shifted down to its last len % 16 bytes (no byte outside the name is
 * read); for a shorter one, by a few overlapping moves into a block
 * zeroed first. */
static inline __attribute__((always_inline)) void
pad_lane(uint8_t *dst, const uint8_t *name, size_t len,
			    size_t nb)
{
	const size_t row = VEIL_LANE_ROW * VEIL_BLK;
	const size_t full = len / VEIL_BLK, r = len % VEIL_BLK;

	for (size_t j = 0; j < full; j++)
		memcpy(dst + j * row, name + j * VEIL_BLK, VEIL_BLK);
	uint8_t *d = dst + full * row;
	if (len >= VEIL_BLK) {
		unsigned __int128 t = 0;
		if (r != 0) {
			memcpy(&t, name + len - VEIL_BLK, VEIL_BLK);
			t >>= (VEIL_BLK - r) * 8;
		}
		t |= (unsigned __int128)0x80 << (r * 8);
		memcpy(d, &t, VEIL_BLK);
	} else {
		memset(d, 0, VEIL_BLK);
		copy_part(d, name, len);
		d[len] = 0x80;
	}
	for (size_t j = full + 1; j < nb; j++)
		memset(dst + j * row, 0, VEIL_BLK);
}

#if defined(__x86_64__)
#define WIDE_TARGET "avx512f,avx512bw,avx512vl,bmi2"
/* pad_inline() with AVX-512 masked moves for names under 64 bytes: one
 * load that reads the name's bytes only (masked-out bytes never fault),
 * the marker set under a one-bit mask, one 64-byte store that is also the
 * zeroing. The store runs past the padded length: dst has room for it
 * (the scratch is a maximal item longer than a chunk), and what lies past
 * an item is written again by the next one or never read. */
__attribute__((target(WIDE_TARGET))) static inline void
pad_wide(uint8_t *dst, const uint8_t *name, size_t len, size_t plen)
{
	if (len < 32) { /* most names: half the width, fewer lines touched */
		__m256i v = _mm256_maskz_loadu_epi8(_bzhi_u32(~0u, (unsigned)len),
						    name);
		v = _mm256_mask_mov_epi8(v, (__mmask32)1 << len,
					 _mm256_set1_epi8((char)0x80));
		_mm256_storeu_si256((__m256i *)dst, v);
		return;
	}
	if (len < 64) {
		__m512i v = _mm512_maskz_loadu_epi8(_bzhi_u64(~UINT64_C(0), (unsigned)len),
						    name);
		v = _mm512_mask_mov_epi8(v, (__mmask64)1 << len,
					 _mm512_set1_epi8((char)0x80));
		_mm512_storeu_si512(dst, v);
		return;
	}
	pad_inline(dst, name, len, plen);
}

/* 0x80 at byte 64, zeros around it: the 16 to 64 bytes from
 * lane_marker + 64 - len have the padding's marker at byte len. */
static const uint8_t lane_marker[128] = { [64] = 0x80 };

/* pad_lane() with one masked load (the name's bytes only), the marker
 * ORed in from lane_marker, and one 16-byte store per block. */
__attribute__((target(WIDE_TARGET))) static inline void
pad_lane_wide(uint8_t *dst, const uint8_t *name, size_t len, size_t nb)
{
	const size_t row = VEIL_LANE_ROW * VEIL_BLK;
	const uint8_t *mark = lane_marker + 64 - len;

	if (nb == 1) {
		__m128i v = _mm_maskz_loadu_epi8((__mmask16)_bzhi_u32(~0u, (unsigned)len),
						 name);
		v = _mm_or_si128(v, _mm_loadu_si128((const __m128i *)mark));
		_mm_storeu_si128((__m128i *)dst, v);
	} else if (nb == 2) {
		__m256i v = _mm256_maskz_loadu_epi8(_bzhi_u32(~0u, (unsigned)len),
						    name);
		v = _mm256_or_si256(v, _mm256_loadu_si256((const __m256i *)mark));
		_mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(v));
		_mm_storeu_si128((__m128i *)(dst + row),
				 _mm256_extracti128_si256(v, 1));
	} else {
		__m512i v = _mm512_maskz_loadu_epi8(_bzhi_u64(~UINT64_C(0), (unsigned)len),
						    name);
		v = _mm512_or_si512(v, _mm512_loadu_si512(mark));
		_mm_storeu_si128((__m128i *)dst, _mm512_castsi512_si128(v));
		_mm_storeu_si128((__m128i *)(dst + row),
				 _mm512_extracti32x4_epi32(v, 1));
		_mm_storeu_si128((__m128i *)(dst + 2 * row),
				 _mm512_extracti32x4_epi32(v, 2));
		_mm_storeu_si128((__m128i *)(dst + 3 * row),
				 _mm512_extracti32x4_epi32(v, 3));
	}
}

static bool wide_supported(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("bmi2");
}
#else
#define pad_wide pad_inline
#define pad_lane_wide pad_lane
static bool wide_supported(void)
{
	return false;
}
#endif

static void fail_item(struct veil_item *it, int status)
{
	it->status = status;
	it->out_len = 0;
}

/* The smallest batch whose names go into lanes. */
#define LANES_MIN 4

/* How many items ahead the batch loop prefetches a name and an output. */
#define PREFETCH_AHEAD 6

/* Text: the token header of an item goes in front of its V || C, so that
 * the blob is encoded in one piece; written now, long before the encoder
 * loads it (a load that spans recent small stores waits for them).
 * Returns where V || C goes. */
static inline __attribute__((always_inline)) uint8_t *
note_blob(uint8_t *siv, size_t *sivpos, const uint8_t tag[VEIL_TAG_LEN],
	  size_t plen, size_t nb, struct veil_item *it, unsigned m,
	  struct veil_item **owner, uint8_t **blob, uint16_t *tplen)
{
	uint8_t *b = siv + *sivpos;

	veil_token_header(b, tag, plen);
	owner[m] = it;
	blob[m] = b;
	tplen[m] = (uint16_t)plen;
	*sivpos += VEIL_HDR_LEN + VEIL_BLK + nb * VEIL_BLK;
	return b + VEIL_HDR_LEN;
}

/* Text: where the blobs of a chunk go, and its items in order. */
struct text_chunk {
	uint8_t *siv;
	size_t sivpos;
	const uint8_t *tag;
	unsigned m;
	struct veil_item **owner;
	uint8_t **blob;
	uint16_t *tplen;
};

/*
 * A run of items of nb = 1, 2 or 4 padded blocks into their lanes (dst,
 * one block a step), from it up to end, as long as the next name's length
 * is in lo .. lo + span (the same padded length) and its output has room
 * for need bytes; lout[] gets where each one's V || C goes. t: text (the
 * blob goes into its scratch), or NULL. Returns the first item not taken.
 * Inlined with nb a constant: a handful of instructions an item.
 */
static inline __attribute__((always_inline)) struct veil_item *
lane_run(struct veil_item *it, struct veil_item *const end,
	 struct veil_item *const pf_end, size_t lo, size_t span, size_t need,
	 uint8_t **lout, uint8_t *dst, const size_t nb, bool wide,
	 struct text_chunk *t)
{
	for (; it < end; it++, dst += VEIL_BLK) {
		size_t nlen = it->in_len;
		uint8_t *o = it->out;
		if (nlen - lo > span || o == NULL || it->out_cap < need)
			break;
		/* a name and an output a few items ahead: their lines are on
		 * the way when this loop and the backend's output loop get
		 * there */
		if (it < pf_end) {
			__builtin_prefetch(it[PREFETCH_AHEAD].in);
			if (t == NULL)
				__builtin_prefetch(it[PREFETCH_AHEAD].out, 1);
		}
		/* its length now: if the chunk fails, every item of it is
		 * failed again (out_len 0) */
		it->status = VEIL_OK;
		it->out_len = need;
		if (t != NULL)
			o = note_blob(t->siv, &t->sivpos, t->tag, nb * VEIL_BLK, nb,
				      it, t->m++, t->owner, t->blob, t->tplen);
		*lout++ = o;
		if (wide)
			pad_lane_wide(dst, it->in, nlen, nb);
		else
			pad_lane(dst, it->in, nlen, nb);
	}
	return it;
}

/* Encrypt items into binary V || C (text == false) or token text. Inlined
 * into its two callers, so that each has a loop without the other's
 * branches. Names of 1, 2 or 4 whole padded blocks go into lanes where
 * the backend takes them (struct veil_lanes_job); the others are padded
 * one after the other for the backend's general call. */
static inline __attribute__((always_inline)) unsigned
encrypt_batch(struct veil_engine *e, const struct veil_key *key,
	      enum veil_kind kind, struct veil_item *items, unsigned n,
	      bool text, bool wide)
{
	/* the general items of a chunk */
	const uint8_t *in[VEIL_CHUNK_ITEMS];
	uint8_t *out[VEIL_CHUNK_ITEMS];
	uint16_t len[VEIL_CHUNK_ITEMS];
	/* where V || C of the items in lanes of 1, 2, 4 blocks goes (by
	 * nb / 2), and how many there are */
	uint8_t *lane_out[3][VEIL_LANE_ROW];
	unsigned lane_n[3];
	/* text: every item of the chunk in order, its blob, its padded length */
	struct veil_item *owner[VEIL_CHUNK_ITEMS];
	uint8_t *blob[VEIL_CHUNK_ITEMS];
	uint16_t tplen[VEIL_CHUNK_ITEMS];
	unsigned done = 0, i = 0;
	char head[VEIL_PREFIX_MAX] = { 0 };
	/* text only: the token's text before its base32, and the encoder */
	size_t pfx = text ? veil_token_prefix(head, kind, key->version) : 0;
	veil_b32_encode_fn *enc = text ? veil_b32_encoder() : NULL;

	if (kind != VEIL_KIND_USER && kind != VEIL_KIND_DEVICE) {
		for (unsigned j = 0; j < n; j++)
			fail_item(&items[j], VEIL_E_INTERNAL);
		return 0;
	}
	const struct veil_siv_ctx *c = &key->ctx[kind];
	/* locals: the byte stores of the padding may alias anything, so
	 * fields read through pointers would be read again for every item */
	const bool bucketing = e->bucketing;
	/* lanes for batches of a few names or more: for one to three, the
	 * row loops cost more than they save (measured: a name alone took a
	 * fifth longer in lanes) */
	const bool has_lanes = e->ops->encrypt_lanes != NULL && n >= LANES_MIN;
	uint8_t *const pt = e->pt, *const siv = e->siv, *const lanes = e->lanes;
	const uint8_t tag[VEIL_TAG_LEN] = { key->tenant_tag[0],
					    key->tenant_tag[1] };
	/* what depends on the padded length alone, for the last one seen
	 * (names of a batch are mostly of one size class): its lanes (g < 3)
	 * or none (3), their rows, and the count of the lanes in use, kept
	 * here rather than in lane_n[] (a store and a load per item) */
	size_t last_plen = 0, nb = 0, need = 0, lo = 0, span = 0;
	unsigned g = 3, k = 0;
	uint8_t *rows = NULL;
	/* the items before this one have an item PREFETCH_AHEAD further on */
	struct veil_item *const pf_end = items + (n > PREFETCH_AHEAD ? n - PREFETCH_AHEAD : 0);
	while (i < n) {
		const unsigned i0 = i;
		unsigned m = 0, mg = 0;
		size_t blocks = 0, gblocks = 0, sivpos = 0, gen_plen = 0;
		bool same = true; /* every general item: one padded length */
		lane_n[0] = lane_n[1] = lane_n[2] = 0;
		k = 0;
		for (; i < n && m < VEIL_CHUNK_ITEMS &&
		       blocks < VEIL_CHUNK_BLOCKS; i++) {
			struct veil_item *it = &items[i];
			size_t nlen = it->in_len;
			if (nlen > VEIL_NAME_MAX) {
				fail_item(it, VEIL_E_TOOLONG);
				continue;
			}
			size_t plen = veil_padded_len_fast(nlen, bucketing);
			if (plen != last_plen) {
				last_plen = plen;
				nb = (plen + VEIL_BLK - 1) / VEIL_BLK;
				need = text ? pfx + veil_b32_encoded_len(
							    VEIL_HDR_LEN + VEIL_BLK + plen)
					    : VEIL_BLK + plen;
				if (g < 3)
					lane_n[g] = k;
				g = has_lanes && plen == nb * VEIL_BLK &&
						    (nb == 1 || nb == 2 || nb == 4)
					    ? (unsigned)nb / 2 : 3;
				k = g < 3 ? lane_n[g] : 0;
				rows = g < 3 ? lane_rows(lanes, nb) : NULL;
				/* the names of this padded length: lo .. lo +
				 * span (one bucket, or one length) */
				lo = !bucketing ? plen - 1 : plen == VEIL_BLK ? 0 : plen / 2;
				span = !bucketing ? 0 : plen == VEIL_BLK ? VEIL_BLK - 1
									  : plen / 2 - 1;
			}
			if (g < 3) {
				/* this item and those after it of the same
				 * padded length, as far as the chunk has room,
				 * with the checks that are left for them */
				const unsigned start = i;
				size_t room = (VEIL_CHUNK_BLOCKS - blocks + nb - 1) / nb;
				room = room < VEIL_CHUNK_ITEMS - m ? room : VEIL_CHUNK_ITEMS - m;
				room = room < n - i ? room : n - i;
				struct veil_item *const first = &items[i],
						 *const end = first + room;
				uint8_t **lout = lane_out[g] + k;
				uint8_t *dst = rows + (size_t)k * VEIL_BLK;
				struct text_chunk tc = { siv, sivpos, tag, m, owner, blob, tplen };
				struct text_chunk *t = text ? &tc : NULL;
				struct veil_item *next;
				switch (nb) { /* nb a constant in each */
				case 1:
					next = lane_run(first, end, pf_end, lo, span, need,
							lout, dst, 1, wide, t);
					break;
				case 2:
					next = lane_run(first, end, pf_end, lo, span, need,
							lout, dst, 2, wide, t);
					break;
				default:
					next = lane_run(first, end, pf_end, lo, span, need,
							lout, dst, 4, wide, t);
					break;
				}
				i += (unsigned)(next - first);
				sivpos = tc.sivpos;
				k += i - start;
				m += i - start;
				blocks += (i - start) * nb;
				if (i > start) {
					i--; /* the loop's i++ takes the next one */
					continue;
				}
				/* the first one has no room for its output */
			}
			if (it->out == NULL || it->out_cap < need) {
				fail_item(it, VEIL_E_NOSPACE);
				continue;
			}
			/* its length now: if the chunk fails, every item of it
			 * is failed again (out_len 0) */
			it->status = VEIL_OK;
			it->out_len = need;
			uint8_t *o = it->out;
			if (text)
				o = note_blob(siv, &sivpos, tag, plen, nb, it, m,
					      owner, blob, tplen);
			if (mg == 0)
				gen_plen = plen;
			same = same && plen == gen_plen;
			in[mg] = pt + gblocks * VEIL_BLK;
			len[mg] = (uint16_t)plen;
			out[mg++] = o;
			if (wide)
				pad_wide(pt + gblocks * VEIL_BLK, it->in, nlen, plen);
			else
				pad_inline(pt + gblocks * VEIL_BLK, it->in, nlen, plen);
			gblocks += nb;
			m++;
			blocks += nb;
		}
		if (g < 3)
			lane_n[g] = k;
		bool ok = true;
		for (unsigned lg = 0; lg < 3; lg++) {
			if (lane_n[lg] == 0)
				continue;
			const size_t lnb = lg == 0 ? 1 : 2 * lg;
			struct veil_lanes_job lj = { .n = lane_n[lg], .nb = (unsigned)lnb,
						     .pt = lane_rows(lanes, lnb),
						     .out = lane_out[lg] };
			ok = e->ops->encrypt_lanes(e, c, &lj) == 0 && ok;
		}
		if (mg > 0) {
			struct veil_siv_job job = { .n = mg, .in = in, .out = out,
						    .len = len,
						    .uniform = same && len[0] % VEIL_BLK == 0 };
			ok = e->ops->encrypt(e, c, &job) == 0 && ok;
		}
		if (!ok) { /* the items of this chunk are the ones it set OK */
			for (unsigned j = i0; j < i; j++)
				if (items[j].status == VEIL_OK)
					fail_item(&items[j], VEIL_E_INTERNAL);
			continue;
		}
		for (unsigned j = 0; text && j < m; j++)
			veil_token_format((char *)owner[j]->out, owner[j]->out_cap,
					  head, pfx, blob[j], VEIL_BLK + tplen[j],
					  enc);
		done += m;
	}
	return done;
}

/* The batch loop once per (text, wide) pair; the wide ones are compiled
 * for AVX-512 and called only where the CPU (and OS) run it. */
#define ENCRYPT_VARIANT(fn, text, wide, attr)                                  \
	attr static unsigned fn(struct veil_engine *e,                         \
				const struct veil_key *key,                    \
				enum veil_kind kind, struct veil_item *items,  \
				unsigned n)                                    \
	{                                                                      \
		return encrypt_batch(e, key, kind, items, n, text, wide);      \
	}
ENCRYPT_VARIANT(encrypt_text, true, false, )
ENCRYPT_VARIANT(encrypt_bin, false, false, )
#if defined(__x86_64__)
ENCRYPT_VARIANT(encrypt_text_wide, true, true, __attribute__((target(WIDE_TARGET))))
ENCRYPT_VARIANT(encrypt_bin_wide, false, true, __attribute__((target(WIDE_TARGET))))
#else
#define encrypt_text_wide encrypt_text
#define encrypt_bin_wide encrypt_bin
#endif

/* -1 unknown, then 0 or 1; every thread that races on it stores the same */
static int wide_state = -1;

static bool use_wide(void)
{
	int w = __atomic_load_n(&wide_state, __ATOMIC_RELAXED);

	if (w < 0) {
		w = wide_supported();
		__atomic_store_n(&wide_state, w, __ATOMIC_RELAXED);
	}
	return w;
}

bool veil_batch_wide(void)
{
	return use_wide();
}

int veil_batch_set_wide(bool on)
{
	if (on && !wide_supported())
		return -1;
	__atomic_store_n(&wide_state, on ? 1 : 0, __ATOMIC_RELAXED);
	return 0;
}

unsigned veil_token_encrypt_batch(struct veil_engine *e,
				  const struct veil_key *key,
				  enum veil_kind kind, struct veil_item *items,
				  unsigned n)
{
	return use_wide() ? encrypt_text_wide(e, key, kind, items, n)
			  : encrypt_text(e, key, kind, items, n);
}

unsigned veil_siv_encrypt_batch(struct veil_engine *e,
				const struct veil_key *key, enum veil_kind kind,
				struct veil_item *items, unsigned n)
{
	return use_wide() ? encrypt_bin_wide(e, key, kind, items, n)
			  : encrypt_bin(e, key, kind, items, n);
}

/* An item whose V || C is ready, waiting for its key and kind. */
struct pending {
	struct veil_item *it;
	const struct veil_siv_ctx *ctx;
	const uint8_t *siv;
	uint16_t ct_len;
};

/* Decrypt every pending item, one backend call per (key, kind) group. */
static unsigned decrypt_pending(struct veil_engine *e, struct pending *p,
				unsigned m)
{
	const uint8_t *in[VEIL_CHUNK_ITEMS];
	uint8_t *out[VEIL_CHUNK_ITEMS];
	uint16_t len[VEIL_CHUNK_ITEMS];
	uint8_t ok[VEIL_CHUNK_ITEMS];
	struct pending *grp[VEIL_CHUNK_ITEMS];
	unsigned done = 0;

	for (unsigned first = 0; first < m; first++) {
		const struct veil_siv_ctx *c = p[first].ctx;
		if (c == NULL)
			continue;
		unsigned g = 0;
		size_t pos = 0;
		for (unsigned j = first; j < m; j++) {
			if (p[j].ctx != c)
				continue;
			grp[g] = &p[j];
			in[g] = p[j].siv;
			len[g] = p[j].ct_len;
			out[g] = e->pt + pos;
			pos += (p[j].ct_len + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;
			g++;
			p[j].ctx = NULL;
		}
		struct veil_siv_job job = { .n = g, .in = in, .out = out,
					    .len = len, .ok = ok };
		memset(ok, 0, g);
		int rc = e->ops->decrypt(e, c, &job);
		for (unsigned j = 0; j < g; j++) {
			struct veil_item *it = grp[j]->it;
			if (rc != 0) {
				fail_item(it, VEIL_E_INTERNAL);
				continue;
			}
			if (!ok[j]) {
				fail_item(it, VEIL_E_AUTH);
				continue;
			}
			long nl = veil_unpad(out[j], len[j]);
			if (nl < 0) {
				fail_item(it, VEIL_E_PADDING);
				continue;
			}
			if (it->out == NULL || it->out_cap < (size_t)nl) {
				fail_item(it, VEIL_E_NOSPACE);
				continue;
			}
			memcpy(it->out, out[j], (size_t)nl);
			it->out_len = (size_t)nl;
			it->status = VEIL_OK;
			done++;
		}
		explicit_bzero(e->pt, pos);
	}
	return done;
}

/* Room for one more item in a chunk of the decrypt scratch. */
static bool chunk_full(unsigned m, size_t sivpos, size_t blocks)
{
	return m >= VEIL_CHUNK_ITEMS ||
	       sivpos + VEIL_HDR_LEN + VEIL_SIV_MAX > SIV_SIZE ||
	       blocks >= VEIL_CHUNK_BLOCKS;
}

unsigned veil_token_decrypt_batch(struct veil_engine *e,
				  const struct veil_keyring *ring,
				  enum veil_kind expect,
				  struct veil_item *items, unsigned n)
{
	struct pending p[VEIL_CHUNK_ITEMS];
	unsigned done = 0, i = 0;

	while (i < n) {
		unsigned m = 0;
		size_t sivpos = 0, blocks = 0;
		for (; i < n && !chunk_full(m, sivpos, blocks); i++) {
			struct veil_item *it = &items[i];
			enum veil_kind kind = VEIL_KIND_USER;
			uint32_t version = 0;
			size_t blob_len = 0;
			uint8_t *blob = e->siv + sivpos;

			fail_item(it, VEIL_OK);
			it->version = 0;
			it->kind = 0;
			int st = veil_token_parse(it->in, it->in_len, &kind,
						  &version, blob,
						  VEIL_HDR_LEN + VEIL_SIV_MAX,
						  &blob_len);
			if (st == VEIL_OK) {
				it->version = version;
				it->kind = (uint8_t)kind;
				if (memcmp(blob, ring->tenant_tag, VEIL_TAG_LEN))
					st = VEIL_E_TENANT;
				else if (expect != VEIL_KIND_ANY && expect != kind)
					st = VEIL_E_KIND;
			}
			const struct veil_key *key = NULL;
			if (st == VEIL_OK) {
				key = veil_keyring_get(ring, version);
				if (key == NULL)
					st = VEIL_E_VERSION;
			}
			if (st != VEIL_OK) {
				fail_item(it, st);
				continue;
			}
			uint16_t ct_len = (uint16_t)(blob_len - VEIL_HDR_LEN -
						     VEIL_BLK);
			p[m++] = (struct pending){ it, &key->ctx[kind],
						   blob + VEIL_HDR_LEN, ct_len };
			sivpos += (blob_len + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;
			blocks += (ct_len + VEIL_BLK - 1) / VEIL_BLK;
		}
		done += decrypt_pending(e, p, m);
	}
	return done;
}

unsigned veil_siv_decrypt_batch(struct veil_engine *e,
				const struct veil_key *key, enum veil_kind kind,
				struct veil_item *items, unsigned n)
{
	struct pending p[VEIL_CHUNK_ITEMS];
	unsigned done = 0, i = 0;

	if (kind != VEIL_KIND_USER && kind != VEIL_KIND_DEVICE) {
		for (unsigned j = 0; j < n; j++)
			fail_item(&items[j], VEIL_E_INTERNAL);
		return 0;
	}
	while (i < n) {
		unsigned m = 0;
		size_t blocks = 0;
		for (; i < n && m < VEIL_CHUNK_ITEMS &&
		       blocks < VEIL_CHUNK_BLOCKS; i++) {
			struct veil_item *it = &items[i];
			fail_item(it, VEIL_OK);
			it->version = key->version;
			it->kind = (uint8_t)kind;
			if (it->in_len <= VEIL_BLK || it->in_len > VEIL_SIV_MAX) {
				fail_item(it, VEIL_E_LENGTH);
				continue;
			}
			uint16_t ct_len = (uint16_t)(it->in_len - VEIL_BLK);
			p[m++] = (struct pending){ it, &key->ctx[kind], it->in,
						   ct_len };
			blocks += (ct_len + VEIL_BLK - 1) / VEIL_BLK;
		}
		done += decrypt_pending(e, p, m);
	}
	return done;
}

/* ---- plain RFC 5297 ---- */

static int raw_siv(struct veil_engine *e, const uint8_t key[VEIL_KEY_LEN],
		   const uint8_t *const ad[], const size_t ad_len[],
		   unsigned n_ad, const uint8_t *in, size_t pt_len,
		   uint8_t *out, bool enc)
{
	if (n_ad > VEIL_AD_MAX || pt_len > VEIL_PAD_MAX) {
		errno = EINVAL;
		return -1;
	}
	struct veil_siv_ctx *c = veil_secmem_alloc(sizeof(*c));
	if (c == NULL)
		return -1;
	int rc = veil_siv_ctx_init(c, key, ad, ad_len, n_ad);
	if (rc == 0) {
		const uint8_t *ins[1] = { in };
		uint8_t *outs[1] = { out };
		uint16_t len[1] = { (uint16_t)pt_len };
		uint8_t ok[1] = { 0 };
		struct veil_siv_job job = { 1, ins, outs, len, ok, false };
		rc = enc ? e->ops->encrypt(e, c, &job) : e->ops->decrypt(e, c, &job);
		if (rc != 0)
			errno = EIO;
		else if (!enc && !ok[0]) {
			explicit_bzero(out, pt_len);
			errno = EBADMSG;
			rc = -1;
		}
	}
	veil_secmem_free(c);
	return rc;
}

int veil_aes_siv_encrypt(struct veil_engine *e, const uint8_t key[VEIL_KEY_LEN],
			 const uint8_t *const ad[], const size_t ad_len[],
			 unsigned n_ad, const uint8_t *pt, size_t pt_len,
			 uint8_t *out)
{
	return raw_siv(e, key, ad, ad_len, n_ad, pt, pt_len, out, true);
}

int veil_aes_siv_decrypt(struct veil_engine *e, const uint8_t key[VEIL_KEY_LEN],
			 const uint8_t *const ad[], const size_t ad_len[],
			 unsigned n_ad, const uint8_t *in, size_t in_len,
			 uint8_t *pt_out)
{
	if (in_len < VEIL_BLK) {
		errno = EINVAL;
		return -1;
	}
	return raw_siv(e, key, ad, ad_len, n_ad, in, in_len - VEIL_BLK,
		       pt_out, false);
}
