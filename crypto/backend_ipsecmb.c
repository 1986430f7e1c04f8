/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The fast path: AES-SIV for a whole batch in a few long ipsec-mb calls.
 *
 * Once S2V's associated data is folded into the key context, what is left
 * per name is a CMAC (CBC-MAC) over its T blocks and CTR over its blocks.
 * Both are independent across names, so the batch runs as passes:
 *   S2V pass j: for every name with more than j blocks, X = AES_K1(X ^ T_j)
 *   CTR:        every counter block of every name, AES_K2(Q + j)
 * and each pass is one AES-ECB job over one contiguous buffer: ipsec-mb
 * spreads it over all AES lanes (VAES on AVX-512) instead of one small job
 * per name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include "crypto_pvt.h"

/* Largest job the engine builds: a chunk plus one maximal item. */
#define MAX_BLOCKS (VEIL_CHUNK_BLOCKS + VEIL_PAD_MAX / VEIL_BLK + 2)

struct imb_state {
	IMB_MGR *mgr;
	uint8_t *tail;  /* last two T blocks per item, 2 x VEIL_CHUNK_ITEMS */
	uint8_t *x;     /* recomputed V per item (decrypt), VEIL_CHUNK_ITEMS */
	uint8_t *pass;  /* CBC-MAC states of one pass, VEIL_CHUNK_ITEMS blocks */
	uint8_t *ks;    /* CTR counter blocks, then key stream, MAX_BLOCKS */
	size_t alloc_size;
};

static inline void xor16(uint8_t *d, const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	a0 ^= b0;
	a1 ^= b1;
	memcpy(d, &a0, 8);
	memcpy(d + 8, &a1, 8);
}

/* ipsec-mb refuses ECB jobs of 64 KiB or more. */
#define ECB_MAX_BLOCKS 4095

/*
 * One ECB job. Every job the backend builds has the same shape (ECB,
 * encrypt, AES-128, no hash, a whole number of blocks under 64 KiB, src
 * and dst set), so only the first job of an engine goes through
 * ipsec-mb's parameter checks (veil_ipsecmb_init); the rest are submitted
 * unchecked, which saves about a fifth of a short job's time.
 */
static int ecb_job(IMB_MGR *m, const uint8_t *sched, const uint8_t *src,
		   uint8_t *buf, size_t nblocks, bool checked)
{
	IMB_JOB *job = IMB_GET_NEXT_JOB(m);
	job->cipher_mode = IMB_CIPHER_ECB;
	job->cipher_direction = IMB_DIR_ENCRYPT;
	job->chain_order = IMB_ORDER_CIPHER_HASH;
	job->hash_alg = IMB_AUTH_NULL;
	job->key_len_in_bytes = IMB_KEY_128_BYTES;
	job->enc_keys = sched;
	job->dec_keys = sched;
	job->src = src;
	job->dst = buf;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = nblocks * VEIL_BLK;
	job->iv = NULL;
	job->iv_len_in_bytes = 0;
	job->user_data = NULL;
	job = checked ? IMB_SUBMIT_JOB(m) : IMB_SUBMIT_JOB_NOCHECK(m);
	if (job == NULL) /* ECB completes at once; defensive */
		job = IMB_FLUSH_JOB(m);
	return (job != NULL && job->status == IMB_STATUS_COMPLETED) ? 0 : -1;
}

/* AES-128 encryption of nblocks independent blocks from src into dst
 * (the same buffer or one that does not overlap it). */
static int ecb_to(IMB_MGR *m, const uint8_t *sched, const uint8_t *src,
		  uint8_t *dst, size_t nblocks)
{
	while (nblocks > 0) {
		size_t nb = nblocks < ECB_MAX_BLOCKS ? nblocks : ECB_MAX_BLOCKS;
		if (ecb_job(m, sched, src, dst, nb, false) != 0)
			return -1;
		src += nb * VEIL_BLK;
		dst += nb * VEIL_BLK;
		nblocks -= nb;
	}
	return 0;
}

/* The same in place. */
static int ecb(IMB_MGR *m, const uint8_t *sched, uint8_t *buf, size_t nblocks)
{
	return ecb_to(m, sched, buf, buf, nblocks);
}

static size_t nblocks_of(size_t len)
{
	return len < VEIL_BLK ? 1 : (len + VEIL_BLK - 1) / VEIL_BLK;
}

/*
 * The last two blocks of T (RFC 5297 2.4), with the CMAC subkey already
 * folded into the last one; every earlier block of T is the plaintext's.
 *   |P| >= 16: T = P xorend D, CMAC pads a partial last block (K2 subkey)
 *   |P| < 16:  T = dbl(D) ^ pad(P), one full block (K1 subkey)
 */
static void t_tail(const struct veil_siv_ctx *c, const uint8_t *p, size_t l,
		   uint8_t tail[2 * VEIL_BLK])
{
	if (l < VEIL_BLK) {
		memset(tail + VEIL_BLK, 0, VEIL_BLK);
		memcpy(tail + VEIL_BLK, p, l);
		tail[VEIL_BLK + l] = 0x80;
		xor16(tail + VEIL_BLK, tail + VEIL_BLK, c->dd_k1);
	} else if (l % VEIL_BLK == 0) {
		if (l >= 2 * VEIL_BLK)
			memcpy(tail, p + l - 2 * VEIL_BLK, VEIL_BLK);
		xor16(tail + VEIL_BLK, p + l - VEIL_BLK, c->d_k1);
	} else {
		/* l > 16: the window starts at block nb-2, D straddles both. */
		size_t start = (l / VEIL_BLK - 1) * VEIL_BLK, n = l - start;
		memset(tail, 0, 2 * VEIL_BLK);
		memcpy(tail, p + start, n);
		for (int b = 0; b < VEIL_BLK; b++)
			tail[n - VEIL_BLK + (size_t)b] ^= c->d[b];
		tail[n] = 0x80;
		xor16(tail + VEIL_BLK, tail + VEIL_BLK, c->k2sub);
	}
}

/*
 * S2V's last step for n items: v[i] = CMAC_K1(T_i). The CBC-MAC chains run
 * side by side, one ECB job per block position. Items are ordered by block
 * count, longest first, so the chains still running in pass j are always a
 * prefix of the pass buffer and each chain's state stays in its slot.
 */
static int s2v_batch(struct imb_state *s, const struct veil_siv_ctx *c,
		     unsigned n, const uint8_t *const *pt, const uint16_t *len,
		     uint8_t *const *v)
{
	uint16_t nb[VEIL_CHUNK_ITEMS], order[VEIL_CHUNK_ITEMS];
	unsigned count[VEIL_PAD_MAX / VEIL_BLK + 2] = { 0 };
	const unsigned max_b = VEIL_PAD_MAX / VEIL_BLK + 1;

	uint16_t lo = UINT16_MAX, hi = 0;
	for (unsigned i = 0; i < n; i++) {
		nb[i] = (uint16_t)nblocks_of(len[i]);
		lo = nb[i] < lo ? nb[i] : lo;
		hi = nb[i] > hi ? nb[i] : hi;
		t_tail(c, pt[i], len[i], s->tail + (size_t)i * 2 * VEIL_BLK);
	}
	if (lo == hi) { /* the common case: every name in one size bucket */
		for (unsigned i = 0; i < n; i++)
			order[i] = (uint16_t)i;
	} else { /* stable counting sort, descending block count */
		for (unsigned i = 0; i < n; i++)
			count[max_b - nb[i]]++;
		for (unsigned k = 0, sum = 0; k <= max_b; k++) {
			unsigned cnt = count[k];
			count[k] = sum;
			sum += cnt;
		}
		for (unsigned i = 0; i < n; i++)
			order[count[max_b - nb[i]]++] = (uint16_t)i;
	}

	unsigned active = n;
	size_t passes = n ? nb[order[0]] : 0;
	for (size_t j = 0; j < passes; j++) {
		while (active > 0 && nb[order[active - 1]] <= j)
			active--;
		for (unsigned p = 0; p < active; p++) {
			unsigned i = order[p];
			long from_tail = (long)j - ((long)nb[i] - 2);
			const uint8_t *src =
				from_tail >= 0
					? s->tail + (size_t)i * 2 * VEIL_BLK +
						  (size_t)from_tail * VEIL_BLK
					: pt[i] + j * VEIL_BLK;
			uint8_t *x = s->pass + (size_t)p * VEIL_BLK;
			if (j == 0)
				memcpy(x, src, VEIL_BLK);
			else
				xor16(x, x, src);
		}
		if (ecb(s->mgr, c->k1_sched, s->pass, active) != 0)
			return -1;
		for (unsigned p = active; p > 0 && nb[order[p - 1]] == j + 1; p--)
			memcpy(v[order[p - 1]], s->pass + (size_t)(p - 1) * VEIL_BLK,
			       VEIL_BLK);
	}
	return 0;
}

/* CTR of RFC 5297 2.5/2.6: dst_i = src_i ^ AES_K2(Q_i + j), Q = V masked. */
static int ctr_batch(struct imb_state *s, const struct veil_siv_ctx *c,
		     unsigned n, const uint8_t *const *v,
		     const uint8_t *const *src, const uint16_t *len,
		     uint8_t *const *dst)
{
	uint8_t *b = s->ks;

	for (unsigned i = 0; i < n; i++) {
		size_t nb = ((size_t)len[i] + VEIL_BLK - 1) / VEIL_BLK;
		uint64_t lo, hi;
		/* Q = V with bits 63 and 31 of its low 64 bits cleared, i.e.
		 * the top bits of bytes 8 and 12 (loaded little-endian). */
		memcpy(&lo, v[i], 8);
		memcpy(&hi, v[i] + 8, 8);
		hi &= ~(UINT64_C(0x80) | UINT64_C(0x80) << 32);
		uint32_t ctr = __builtin_bswap32((uint32_t)(hi >> 32));
		hi &= UINT64_C(0xffffffff);
		/* Bit 31 of the counter word is clear: no carry out of it
		 * for fewer than 2^31 blocks. */
		for (size_t j = 0; j < nb; j++, b += VEIL_BLK) {
			uint64_t h = hi | (uint64_t)__builtin_bswap32(
						  ctr + (uint32_t)j) << 32;
			memcpy(b, &lo, 8);
			memcpy(b + 8, &h, 8);
		}
	}
	if (ecb(s->mgr, c->k2_sched, s->ks, (size_t)(b - s->ks) / VEIL_BLK) != 0)
		return -1;
	b = s->ks;
	for (unsigned i = 0; i < n; i++) {
		size_t l = len[i], full = l / VEIL_BLK * VEIL_BLK;
		for (size_t k = 0; k < full; k += VEIL_BLK)
			xor16(dst[i] + k, src[i] + k, b + k);
		for (size_t k = full; k < l; k++)
			dst[i][k] = src[i][k] ^ b[k];
		b += (l + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;
	}
	return 0;
}

/*
 * The common batch: every item has the same length, a whole number of
 * blocks (with length bucketing, every name of one size class). Then T's
 * blocks are the plaintext's with D ^ K1-subkey folded into the last one,
 * no item needs sorting or a tail copy, and the passes are straight loops
 * of 16-byte loads, XORs and stores. Same result as s2v_batch/ctr_batch
 * (the unit tests cross-check every backend and architecture).
 */
static bool uniform_blocks(unsigned n, const uint16_t *len)
{
	if (n == 0 || len[0] < VEIL_BLK || len[0] % VEIL_BLK != 0)
		return false;
	for (unsigned i = 1; i < n; i++)
		if (len[i] != len[0])
			return false;
	return true;
}

static inline __m128i ld16(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

static inline void st16(uint8_t *p, __m128i v)
{
	_mm_storeu_si128((__m128i *)p, v);
}

/* S2V's CBC-MAC passes of a uniform batch: V of item i is left in block i
 * of the pass buffer. */
static int s2v_uniform_passes(struct imb_state *s, const struct veil_siv_ctx *c,
			      unsigned n, const uint8_t *const *pt, size_t l)
{
	const size_t nb = l / VEIL_BLK;
	const __m128i dk = ld16(c->d_k1);
	uint8_t *x = s->pass;

	for (size_t j = 0; j < nb; j++) {
		const __m128i fold = j + 1 == nb ? dk : _mm_setzero_si128();
		const size_t off = j * VEIL_BLK;
		if (j == 0)
			for (unsigned i = 0; i < n; i++)
				st16(x + (size_t)i * VEIL_BLK,
				     _mm_xor_si128(ld16(pt[i]), fold));
		else
			for (unsigned i = 0; i < n; i++) {
				uint8_t *xi = x + (size_t)i * VEIL_BLK;
				st16(xi, _mm_xor_si128(_mm_xor_si128(ld16(xi),
								     ld16(pt[i] + off)),
						       fold));
			}
		if (ecb(s->mgr, c->k1_sched, x, n) != 0)
			return -1;
	}
	return 0;
}

static int s2v_uniform(struct imb_state *s, const struct veil_siv_ctx *c,
		       unsigned n, const uint8_t *const *pt, size_t l,
		       uint8_t *const *v)
{
	if (s2v_uniform_passes(s, c, n, pt, l) != 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		st16(v[i], ld16(s->pass + (size_t)i * VEIL_BLK));
	return 0;
}

/*
 * The nb counter blocks Q + j of one item (RFC 5297 2.5/2.6): Q is V with
 * the top bits of bytes 8 and 12 cleared, and Q + j adds j to the
 * big-endian 32-bit word of bytes 12-15 (bit 31 is clear: no carry out of
 * it for fewer than 2^31 blocks). When the last byte does not wrap, that is
 * a byte add on byte 15 alone; otherwise the word is added in full.
 */
static inline uint8_t *ctr_blocks_stride(uint8_t *b, __m128i v, size_t nb,
					 size_t stride)
{
	const __m128i qmask = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1,
					    0x7f, -1, -1, -1, 0x7f, -1, -1, -1);
	const __m128i one = _mm_slli_si128(_mm_cvtsi32_si128(1), 15);
	__m128i q = _mm_and_si128(v, qmask);
	unsigned last = (unsigned)_mm_extract_epi16(q, 7) >> 8;

	if (last + nb - 1 <= 0xff) {
		for (size_t j = 0; j < nb; j++, b += stride) {
			st16(b, q);
			q = _mm_add_epi8(q, one);
		}
		return b;
	}
	uint8_t qb[VEIL_BLK];
	uint32_t w;
	st16(qb, q);
	memcpy(&w, qb + 12, 4);
	const uint32_t ctr0 = __builtin_bswap32(w);
	for (size_t j = 0; j < nb; j++, b += stride) {
		w = __builtin_bswap32(ctr0 + (uint32_t)j);
		memcpy(qb + 12, &w, 4);
		st16(b, ld16(qb));
	}
	return b;
}

/* The counter blocks of one item one after the other. */
static inline uint8_t *ctr_blocks(uint8_t *b, __m128i v, size_t nb)
{
	return ctr_blocks_stride(b, v, nb, VEIL_BLK);
}

/* out_i = src_i ^ key stream, from the counter blocks encrypted in s->ks. */
static void ctr_xor_uniform(struct imb_state *s, unsigned n,
			    const uint8_t *const *src, size_t l,
			    uint8_t *const *dst)
{
	const uint8_t *b = s->ks;

	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; k < l; k += VEIL_BLK, b += VEIL_BLK)
			st16(dst[i] + k, _mm_xor_si128(ld16(src[i] + k), ld16(b)));
}

static int ctr_uniform(struct imb_state *s, const struct veil_siv_ctx *c,
		       unsigned n, const uint8_t *const *v,
		       const uint8_t *const *src, size_t l, uint8_t *const *dst)
{
	const size_t nb = l / VEIL_BLK;
	uint8_t *b = s->ks;

	for (unsigned i = 0; i < n; i++)
		b = ctr_blocks(b, ld16(v[i]), nb);
	if (ecb(s->mgr, c->k2_sched, s->ks, (size_t)n * nb) != 0)
		return -1;
	ctr_xor_uniform(s, n, src, l, dst);
	return 0;
}

/*
 * Encryption of a uniform batch of nb-block items: the S2V passes, then V
 * goes out and its counter blocks are made in one loop, then the CTR XOR
 * writes C behind V. out_i = V || C. Inlined with nb a constant for the
 * common sizes (1, 2 and 4 blocks: names of up to 63 bytes), so that the
 * per-item loops are straight code.
 */
static inline __attribute__((always_inline)) int
encrypt_uniform_nb(struct imb_state *s, const struct veil_siv_ctx *c,
		   unsigned n, const uint8_t *const *pt, uint8_t *const *out,
		   const size_t nb)
{
	const __m128i dk = ld16(c->d_k1);
	uint8_t *const x = s->pass;
	uint8_t *b = s->ks;

	for (size_t j = 0; j < nb; j++) {
		const size_t off = j * VEIL_BLK;
		for (unsigned i = 0; i < n; i++) {
			__m128i t = ld16(pt[i] + off);
			if (j + 1 == nb)
				t = _mm_xor_si128(t, dk);
			if (j > 0)
				t = _mm_xor_si128(t, ld16(x + (size_t)i * VEIL_BLK));
			st16(x + (size_t)i * VEIL_BLK, t);
		}
		if (ecb(s->mgr, c->k1_sched, x, n) != 0)
			return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		__m128i v = ld16(x + (size_t)i * VEIL_BLK);
		st16(out[i], v);
		b = ctr_blocks(b, v, nb);
	}
	if (ecb(s->mgr, c->k2_sched, s->ks, (size_t)n * nb) != 0)
		return -1;
	b = s->ks;
	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; k < nb; k++, b += VEIL_BLK)
			st16(out[i] + VEIL_BLK + k * VEIL_BLK,
			     _mm_xor_si128(ld16(pt[i] + k * VEIL_BLK), ld16(b)));
	return 0;
}

static int encrypt_uniform(struct imb_state *s, const struct veil_siv_ctx *c,
			   unsigned n, const uint8_t *const *pt, size_t l,
			   uint8_t *const *out)
{
	switch (l / VEIL_BLK) {
	case 1: return encrypt_uniform_nb(s, c, n, pt, out, 1);
	case 2: return encrypt_uniform_nb(s, c, n, pt, out, 2);
	case 4: return encrypt_uniform_nb(s, c, n, pt, out, 4);
	default: return encrypt_uniform_nb(s, c, n, pt, out, l / VEIL_BLK);
	}
}

/*
 * Lanes (struct veil_lanes_job): the items of a chunk of 1, 2 or 4 blocks,
 * transposed, row j holding block j of every item. S2V's first AES pass
 * reads row 0 in place; the XORs between passes, the counter blocks and
 * the key stream's XOR run on whole rows, so only the last loop, which
 * writes V || C to each item, works item by item. Row work has two
 * versions: 16 bytes a step (x86-64) and 64 (AVX-512, where the engine's
 * wide path runs: veil_batch_wide()); both make the same bytes.
 */
#define ROW_BYTES ((size_t)VEIL_LANE_ROW * VEIL_BLK)

/* x_i = row_i ^ fold, or x_i ^ row_i ^ fold if chain: n blocks. */
typedef void xor_row_fn(uint8_t *x, const uint8_t *row,
			const uint8_t fold[VEIL_BLK], unsigned n, bool chain);
/* The nb counter blocks of each of n items, from V in x: block j of item
 * i at ks + (j * n + i) blocks, so that each row is contiguous and all
 * of them are one ECB job. */
typedef void ctr_rows_fn(uint8_t *ks, const uint8_t *x, unsigned n,
			 size_t nb);

static void xor_row_sse(uint8_t *x, const uint8_t *row,
			const uint8_t fold[VEIL_BLK], unsigned n, bool chain)
{
	const __m128i f = ld16(fold);

	for (unsigned i = 0; i < n; i++) {
		__m128i t = _mm_xor_si128(ld16(row + (size_t)i * VEIL_BLK), f);
		if (chain)
			t = _mm_xor_si128(t, ld16(x + (size_t)i * VEIL_BLK));
		st16(x + (size_t)i * VEIL_BLK, t);
	}
}

static void ctr_rows_sse(uint8_t *ks, const uint8_t *x, unsigned n, size_t nb)
{
	for (unsigned i = 0; i < n; i++)
		ctr_blocks_stride(ks + (size_t)i * VEIL_BLK,
				  ld16(x + (size_t)i * VEIL_BLK), nb,
				  (size_t)n * VEIL_BLK);
}

#define LANES_TARGET "avx512f,avx512bw,avx512vl"

/* Rows are walked four blocks (a 64-byte vector) a step; the last step
 * of a row whose length is no multiple of four is masked (masked-out
 * bytes are neither read nor written) and has its own copy of the step,
 * so the others are plain loads and stores. */
#define ROW_LOOP(n, STEP)                                                      \
	do {                                                                   \
		unsigned i_ = 0;                                               \
		for (; i_ + 4 <= (n); i_ += 4)                                 \
			STEP(i_, (__mmask8)0xff);                              \
		if (i_ < (n))                                                  \
			STEP(i_, (__mmask8)((1u << (2 * ((n) - i_))) - 1));    \
	} while (0)

__attribute__((target(LANES_TARGET))) static void
xor_row_512(uint8_t *x, const uint8_t *row, const uint8_t fold[VEIL_BLK],
	    unsigned n, bool chain)
{
	const __m512i f = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)fold));

#define XOR_STEP(i, k)                                                         \
	do {                                                                   \
		uint8_t *xi = x + (size_t)(i) * VEIL_BLK;                      \
		__m512i t = _mm512_maskz_loadu_epi64(k, row + (size_t)(i) * VEIL_BLK); \
		if (chain) /* t ^ x ^ f in one step */                         \
			t = _mm512_ternarylogic_epi64(                         \
				t, _mm512_maskz_loadu_epi64(k, xi), f, 0x96);  \
		else                                                           \
			t = _mm512_xor_si512(t, f);                            \
		if ((k) == 0xff)                                               \
			_mm512_storeu_si512(xi, t);                            \
		else                                                           \
			_mm512_mask_storeu_epi64(xi, k, t);                    \
	} while (0)
	ROW_LOOP(n, XOR_STEP);
#undef XOR_STEP
}

/* Q = V with the top bits of bytes 8 and 12 cleared; Q + j adds j to the
 * big-endian word of bytes 12-15: the word is byte-swapped, added to as a
 * 32-bit lane and swapped back (bit 31 is clear: no carry out of it). */
__attribute__((target(LANES_TARGET))) static void
ctr_rows_512(uint8_t *ks, const uint8_t *x, unsigned n, size_t nb)
{
	const __m512i qmask = _mm512_broadcast_i32x4(_mm_setr_epi8(
		-1, -1, -1, -1, -1, -1, -1, -1, 0x7f, -1, -1, -1, 0x7f, -1, -1, -1));
	const __m512i swap = _mm512_broadcast_i32x4(_mm_setr_epi8(
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12));
	const __m512i one = _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0, 0, 1));
	const size_t rs = (size_t)n * VEIL_BLK;

#define CTR_STEP(i, k)                                                         \
	do {                                                                   \
		uint8_t *b = ks + (size_t)(i) * VEIL_BLK;                      \
		__m512i q = _mm512_and_si512(                                  \
			_mm512_maskz_loadu_epi64(k, x + (size_t)(i) * VEIL_BLK), qmask); \
		__m512i w = _mm512_shuffle_epi8(q, swap);                      \
		for (size_t j = 0; j < nb; j++, b += rs) {                     \
			if ((k) == 0xff)                                       \
				_mm512_storeu_si512(b, q);                     \
			else                                                   \
				_mm512_mask_storeu_epi64(b, k, q);             \
			w = _mm512_add_epi32(w, one);                          \
			q = _mm512_shuffle_epi8(w, swap);                      \
		}                                                              \
	} while (0)
	ROW_LOOP(n, CTR_STEP);
#undef CTR_STEP
}

static inline __attribute__((always_inline)) int
lanes_nb(struct imb_state *s, const struct veil_siv_ctx *c, unsigned n,
	 const uint8_t *pt, uint8_t *const *out, const size_t nb, bool wide)
{
	static const uint8_t zero[VEIL_BLK];
	xor_row_fn *const xor_row = wide ? xor_row_512 : xor_row_sse;
	uint8_t *const x = s->pass, *const ks = s->ks;
	const size_t rs = (size_t)n * VEIL_BLK;

	/* S2V: X = AES_K1(P_0) (or of P_0 ^ D ^ K1-subkey for one block),
	 * then X = AES_K1(X ^ P_j), D ^ K1-subkey folded into the last */
	if (nb == 1) {
		xor_row(x, pt, c->d_k1, n, false);
		if (ecb(s->mgr, c->k1_sched, x, n) != 0)
			return -1;
	} else if (ecb_to(s->mgr, c->k1_sched, pt, x, n) != 0) {
		return -1;
	}
	for (size_t j = 1; j < nb; j++) {
		xor_row(x, pt + j * ROW_BYTES, j + 1 == nb ? c->d_k1 : zero, n,
			true);
		if (ecb(s->mgr, c->k1_sched, x, n) != 0)
			return -1;
	}
	/* CTR: the key stream of every item, then C = P ^ key stream, row
	 * by row in place */
	(wide ? ctr_rows_512 : ctr_rows_sse)(ks, x, n, nb);
	if (ecb(s->mgr, c->k2_sched, ks, (size_t)n * nb) != 0)
		return -1;
	for (size_t j = 0; j < nb; j++)
		xor_row(ks + j * rs, pt + j * ROW_BYTES, zero, n, true);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *o = out[i];
		st16(o, ld16(x + (size_t)i * VEIL_BLK));
		for (size_t j = 0; j < nb; j++)
			st16(o + VEIL_BLK + j * VEIL_BLK,
			     ld16(ks + j * rs + (size_t)i * VEIL_BLK));
	}
	return 0;
}

static int imb_encrypt_lanes(struct veil_engine *e,
			     const struct veil_siv_ctx *c,
			     const struct veil_lanes_job *job)
{
	struct imb_state *s = e->backend_state;
	const bool wide = veil_batch_wide();

	if (job->n == 0)
		return 0;
	if (job->n > VEIL_LANE_ROW || !c->has_sched)
		return -1;
	/* each with nb and the row path constants */
	switch (job->nb * 2 + wide) {
	case 2: return lanes_nb(s, c, job->n, job->pt, job->out, 1, false);
	case 3: return lanes_nb(s, c, job->n, job->pt, job->out, 1, true);
	case 4: return lanes_nb(s, c, job->n, job->pt, job->out, 2, false);
	case 5: return lanes_nb(s, c, job->n, job->pt, job->out, 2, true);
	case 8: return lanes_nb(s, c, job->n, job->pt, job->out, 4, false);
	case 9: return lanes_nb(s, c, job->n, job->pt, job->out, 4, true);
	default: return -1;
	}
}

static int s2v(struct imb_state *s, const struct veil_siv_ctx *c, unsigned n,
	       const uint8_t *const *pt, const uint16_t *len, uint8_t *const *v)
{
	if (uniform_blocks(n, len))
		return s2v_uniform(s, c, n, pt, len[0], v);
	return s2v_batch(s, c, n, pt, len, v);
}

static int ctr(struct imb_state *s, const struct veil_siv_ctx *c, unsigned n,
	       const uint8_t *const *v, const uint8_t *const *src,
	       const uint16_t *len, uint8_t *const *dst)
{
	if (uniform_blocks(n, len))
		return ctr_uniform(s, c, n, v, src, len[0], dst);
	return ctr_batch(s, c, n, v, src, len, dst);
}

static int imb_encrypt(struct veil_engine *e, const struct veil_siv_ctx *c,
		       const struct veil_siv_job *job)
{
	struct imb_state *s = e->backend_state;
	const uint8_t *v[VEIL_CHUNK_ITEMS];
	uint8_t *ct[VEIL_CHUNK_ITEMS];

	if (job->n > VEIL_CHUNK_ITEMS || !c->has_sched)
		return -1;
	if (job->uniform || uniform_blocks(job->n, job->len))
		return encrypt_uniform(s, c, job->n, job->in, job->len[0],
				       job->out);
	if (s2v_batch(s, c, job->n, job->in, job->len, job->out) != 0)
		return -1;
	for (unsigned i = 0; i < job->n; i++) {
		v[i] = job->out[i];
		ct[i] = job->out[i] + VEIL_BLK;
	}
	return ctr_batch(s, c, job->n, v, job->in, job->len, ct);
}

static int imb_decrypt(struct veil_engine *e, const struct veil_siv_ctx *c,
		       const struct veil_siv_job *job)
{
	struct imb_state *s = e->backend_state;
	const uint8_t *ct[VEIL_CHUNK_ITEMS];
	const uint8_t *pt[VEIL_CHUNK_ITEMS];
	uint8_t *v2[VEIL_CHUNK_ITEMS];

	if (job->n > VEIL_CHUNK_ITEMS || !c->has_sched)
		return -1;
	for (unsigned i = 0; i < job->n; i++) {
		ct[i] = job->in[i] + VEIL_BLK;
		pt[i] = job->out[i];
		v2[i] = s->x + (size_t)i * VEIL_BLK;
	}
	if (ctr(s, c, job->n, job->in, ct, job->len, job->out) != 0)
		return -1;
	if (s2v(s, c, job->n, pt, job->len, v2) != 0)
		return -1;
	for (unsigned i = 0; i < job->n; i++)
		job->ok[i] = CRYPTO_memcmp(v2[i], job->in[i], VEIL_BLK) == 0;
	return 0;
}

static void imb_fini(struct veil_engine *e)
{
	struct imb_state *s = e->backend_state;

	if (s == NULL)
		return;
	if (s->mgr != NULL)
		free_mb_mgr(s->mgr);
	veil_secmem_free(s->tail); /* one allocation: tail, x, pass, ks */
	free(s);
	e->backend_state = NULL;
}

static const struct veil_backend_ops imb_ops = {
	.name = "ipsec-mb",
	.encrypt = imb_encrypt,
	.encrypt_lanes = imb_encrypt_lanes,
	.decrypt = imb_decrypt,
	.fini = imb_fini,
};

static const uint64_t arch_cpuflags[VEIL_ARCH_COUNT] = {
	/* The software AES path exists only in builds with AESNI_EMU. */
	[VEIL_ARCH_NOAESNI] = IMB_CPUFLAGS_NO_AESNI | IMB_FEATURE_AESNI_EMU,
	[VEIL_ARCH_SSE] = IMB_CPUFLAGS_SSE,
	[VEIL_ARCH_AVX] = IMB_CPUFLAGS_AVX,
	[VEIL_ARCH_AVX2] = IMB_CPUFLAGS_AVX2,
	[VEIL_ARCH_AVX512] = IMB_CPUFLAGS_AVX512,
};

bool veil_arch_supported(enum veil_arch arch)
{
	if (arch == VEIL_ARCH_AUTO)
		return true;
	if (arch <= VEIL_ARCH_AUTO || arch >= VEIL_ARCH_COUNT)
		return false;
	uint64_t have = imb_get_feature_flags();
	return (have & arch_cpuflags[arch]) == arch_cpuflags[arch];
}

static IMB_MGR *mgr_new(enum veil_arch arch, enum veil_arch *chosen)
{
	IMB_MGR *m = alloc_mb_mgr(arch == VEIL_ARCH_NOAESNI ? IMB_FLAG_AESNI_OFF
							   : 0);
	IMB_ARCH a = IMB_ARCH_NONE;

	if (m == NULL)
		return NULL;
	switch (arch) {
	case VEIL_ARCH_NOAESNI:
	case VEIL_ARCH_SSE: init_mb_mgr_sse(m); break;
	case VEIL_ARCH_AVX: init_mb_mgr_avx(m); break;
	case VEIL_ARCH_AVX2: init_mb_mgr_avx2(m); break;
	case VEIL_ARCH_AVX512: init_mb_mgr_avx512(m); break;
	default:
		init_mb_mgr_auto(m, &a);
		switch (a) {
		case IMB_ARCH_NOAESNI: arch = VEIL_ARCH_NOAESNI; break;
		case IMB_ARCH_SSE: arch = VEIL_ARCH_SSE; break;
		case IMB_ARCH_AVX: arch = VEIL_ARCH_AVX; break;
		case IMB_ARCH_AVX2: arch = VEIL_ARCH_AVX2; break;
		case IMB_ARCH_AVX512: arch = VEIL_ARCH_AVX512; break;
		default: arch = VEIL_ARCH_AUTO; break;
		}
	}
	if (imb_get_errno(m) != 0 || arch == VEIL_ARCH_AUTO) {
		free_mb_mgr(m);
		errno = ENOTSUP;
		return NULL;
	}
	*chosen = arch;
	return m;
}

/* The one checked job of an engine (see ecb_job): one block under the
 * schedule of an all-zero key, which is no secret. */
static int ecb_checked(struct imb_state *s)
{
	alignas(16) uint8_t sched[11 * VEIL_BLK];
	static const uint8_t zero[16];

	if (veil_aes128_schedule(zero, sched) != 0)
		return -1;
	memset(s->pass, 0, VEIL_BLK);
	int rc = ecb_job(s->mgr, sched, s->pass, s->pass, 1, true);
	memset(s->pass, 0, VEIL_BLK);
	return rc;
}

int veil_ipsecmb_init(struct veil_engine *e, enum veil_arch arch)
{
	if (!veil_arch_supported(arch)) {
		errno = ENOTSUP;
		return -1;
	}
	struct imb_state *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	size_t ks_size = (size_t)MAX_BLOCKS * VEIL_BLK;
	size_t item_size = (size_t)VEIL_CHUNK_ITEMS * VEIL_BLK;
	s->alloc_size = ks_size + 4 * item_size;
	s->tail = veil_secmem_alloc(s->alloc_size);
	if (s->tail == NULL) {
		free(s);
		return -1;
	}
	s->x = s->tail + 2 * item_size;
	s->pass = s->x + item_size;
	s->ks = s->pass + item_size;
	e->backend_state = s;
	e->ops = &imb_ops;
	s->mgr = mgr_new(arch, &e->arch);
	if (s->mgr == NULL || ecb_checked(s) != 0) {
		int err = s->mgr == NULL ? errno : ENOTSUP;
		imb_fini(e);
		errno = err;
		return -1;
	}
	return 0;
}
