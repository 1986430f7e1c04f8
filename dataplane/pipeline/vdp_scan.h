/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Byte searches for the parsers and detectors (private to dataplane/).
 *
 * glibc's memmem builds a shift table on every call: on the short windows
 * a detector looks at (a few hundred bytes, once per line and format under
 * format = auto) that table costs more than the search. These look for the
 * needle's first and last byte 16 positions at a time (SSE2, which every
 * x86-64 has: no run-time dispatch) and compare the rest only there.
 *
 * vdp_find1 and vdp_find3 replace memchr and byte walks in the parsers:
 * their searches run 5 to 40 bytes, where the call into glibc costs more
 * than the search. A search's last bytes (fewer than 16) are looked at with
 * one load of the last 16 bytes of h, masked, not byte by byte.
 *
 * Each has a scalar twin, compiled everywhere and used where SSE2 is not:
 * the unit tests (test_dp_auto) check both against glibc (memmem, memchr)
 * or a plain loop on every format's test lines and the fuzz corpora, at
 * every alignment and many lengths. All read only h[0..hl), never a byte
 * after it.
 */
#ifndef VEIL_VDP_SCAN_H
#define VEIL_VDP_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* AVX2, where the CPU has it (known at run time, vdp_scan_avx2): vdp_find
 * over a haystack of 64 bytes or more looks at 32 positions a load (the
 * repeat search of each name over its line, the detectors' signatures). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
#define VDP_SCAN_AVX2 1
#include <immintrin.h>
#include <stdbool.h>
extern bool vdp_scan_avx2; /* keys.c: set before main() */
#endif

/* memmem(h, hl, n, nl), scalar: memchr for the first byte, then compare. */
static inline const char *vdp_find_scalar(const char *h, size_t hl,
					  const char *n, size_t nl)
{
	if (nl == 0)
		return h;
	if (hl < nl)
		return NULL;
	const char *p = h, *last = h + hl - nl;
	while (p <= last) {
		p = memchr(p, n[0], (size_t)(last - p) + 1);
		if (p == NULL)
			return NULL;
		if (p[nl - 1] == n[nl - 1] && memcmp(p, n, nl) == 0)
			return p;
		p++;
	}
	return NULL;
}

/* memchr(h, a, hl), scalar; the parsers' searches are short, where the
 * call into glibc costs more than the search. */
static inline const char *vdp_find1_scalar(const char *h, size_t hl, char a)
{
	for (size_t i = 0; i < hl; i++)
		if (h[i] == a)
			return h + i;
	return NULL;
}

/* The first byte of h[0..hl) equal to @p a, @p b or @p c, or NULL; scalar. */
static inline const char *vdp_find3_scalar(const char *h, size_t hl, char a,
					   char b, char c)
{
	for (size_t i = 0; i < hl; i++)
		if (h[i] == a || h[i] == b || h[i] == c)
			return h + i;
	return NULL;
}

/* The first byte of h[0..hl) equal to @p a or @p b, or NULL; scalar. */
static inline const char *vdp_find2_scalar(const char *h, size_t hl, char a,
					   char b)
{
	for (size_t i = 0; i < hl; i++)
		if (h[i] == a || h[i] == b)
			return h + i;
	return NULL;
}

#ifdef __SSE2__
static inline unsigned vdp_sse2_eq(const char *p, __m128i v)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, v));
}

/* A block of 16 bytes at the end of h[0..hl), hl >= 16, for the bytes
 * from @p i on that a whole block did not cover: the mask of the matches
 * of the last 16 bytes, shifted to start at i (bit k: byte i + k). */
static inline unsigned vdp_sse2_tail(unsigned last16, size_t i, size_t hl)
{
	return last16 >> (16 - (hl - i));
}

/* The candidates of a block of 16 start positions at h + i: the needle's
 * first byte there and its last byte nl - 1 further. */
static inline unsigned vdp_find_block(const char *h, size_t i, size_t nl,
				      __m128i first, __m128i lastb)
{
	return vdp_sse2_eq(h + i, first) & vdp_sse2_eq(h + i + nl - 1, lastb);
}

/* The candidate in @p mask (bit k: h + i + k) where the whole needle is. */
static inline const char *vdp_find_check(const char *h, size_t i, uint32_t mask,
					 const char *n, size_t nl)
{
	while (mask != 0) {
		unsigned bit = (unsigned)__builtin_ctz(mask);
		if (memcmp(h + i + bit + 1, n + 1, nl - 2) == 0)
			return h + i + bit;
		mask &= mask - 1;
	}
	return NULL;
}

static inline const char *vdp_find_sse2(const char *h, size_t hl,
					const char *n, size_t nl)
{
	if (nl < 2 || hl < nl + 15)
		return vdp_find_scalar(h, hl, n, nl);
	const __m128i first = _mm_set1_epi8(n[0]), lastb = _mm_set1_epi8(n[nl - 1]);
	/* blocks of 16 start positions; a block's last load ends at
	 * i + nl - 1 + 16, so the last block starts at top; it may overlap
	 * the one before it, whose positions are masked off: no scalar tail */
	const size_t top = hl - nl - 15;
	const char *hit;
	size_t i = 0;
	/* two blocks a turn while both fit: one test for 32 positions (the
	 * repeat search looks for each name over its whole line) */
	for (; i + 16 <= top; i += 32) {
		unsigned m0 = vdp_find_block(h, i, nl, first, lastb),
			 m1 = vdp_find_block(h, i + 16, nl, first, lastb);
		if ((m0 | m1) != 0 &&
		    (hit = vdp_find_check(h, i, m0 | (uint32_t)m1 << 16, n, nl)) != NULL)
			return hit;
	}
	for (;; i += 16) {
		if (i > top) {
			size_t done = i - top; /* positions top .. i - 1 */
			if (done >= 16)
				return NULL;
			unsigned m = vdp_find_block(h, top, nl, first, lastb);
			return vdp_find_check(h, top, m >> done << done, n, nl);
		}
		unsigned m = vdp_find_block(h, i, nl, first, lastb);
		if (m != 0 && (hit = vdp_find_check(h, i, m, n, nl)) != NULL)
			return hit;
	}
}

static inline const char *vdp_find2_sse2(const char *h, size_t hl, char a,
					 char b)
{
	const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
	size_t i = 0;
	for (; i + 16 <= hl; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(h + i));
		unsigned mask = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
		if (mask != 0)
			return h + i + __builtin_ctz(mask);
	}
	if (i == hl)
		return NULL;
	if (hl < 16)
		return vdp_find2_scalar(h + i, hl - i, a, b);
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(h + hl - 16));
	unsigned mask = vdp_sse2_tail((unsigned)_mm_movemask_epi8(_mm_or_si128(
		_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb))), i, hl);
	return mask != 0 ? h + i + __builtin_ctz(mask) : NULL;
}

static inline const char *vdp_find1_sse2(const char *h, size_t hl, char a)
{
	const __m128i va = _mm_set1_epi8(a);
	size_t i = 0;
	for (; i + 16 <= hl; i += 16) {
		unsigned mask = vdp_sse2_eq(h + i, va);
		if (mask != 0)
			return h + i + __builtin_ctz(mask);
	}
	if (i == hl)
		return NULL;
	if (hl < 16)
		return vdp_find1_scalar(h + i, hl - i, a);
	unsigned mask = vdp_sse2_tail(vdp_sse2_eq(h + hl - 16, va), i, hl);
	return mask != 0 ? h + i + __builtin_ctz(mask) : NULL;
}

static inline unsigned vdp_sse2_eq3(const char *p, __m128i va, __m128i vb,
				    __m128i vc)
{
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(
		_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
		_mm_cmpeq_epi8(x, vc)));
}

static inline const char *vdp_find3_sse2(const char *h, size_t hl, char a,
					 char b, char c)
{
	const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b),
		      vc = _mm_set1_epi8(c);
	size_t i = 0;
	for (; i + 16 <= hl; i += 16) {
		unsigned mask = vdp_sse2_eq3(h + i, va, vb, vc);
		if (mask != 0)
			return h + i + __builtin_ctz(mask);
	}
	if (i == hl)
		return NULL;
	if (hl < 16)
		return vdp_find3_scalar(h + i, hl - i, a, b, c);
	unsigned mask = vdp_sse2_tail(vdp_sse2_eq3(h + hl - 16, va, vb, vc), i, hl);
	return mask != 0 ? h + i + __builtin_ctz(mask) : NULL;
}
#endif

/* memchr(h, a, hl): the first byte equal to @p a, or NULL. */
static inline const char *vdp_find1(const char *h, size_t hl, char a)
{
#ifdef __SSE2__
	return vdp_find1_sse2(h, hl, a);
#else
	return vdp_find1_scalar(h, hl, a);
#endif
}

/* The first byte equal to @p a, @p b or @p c, or NULL. */
static inline const char *vdp_find3(const char *h, size_t hl, char a, char b,
				    char c)
{
#ifdef __SSE2__
	return vdp_find3_sse2(h, hl, a, b, c);
#else
	return vdp_find3_scalar(h, hl, a, b, c);
#endif
}

#ifdef VDP_SCAN_AVX2
__attribute__((target("avx2"))) static inline unsigned
vdp_avx2_block(const char *h, size_t i, size_t nl, __m256i first, __m256i lastb)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(h + i));
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(h + i + nl - 1));
	return (unsigned)_mm256_movemask_epi8(_mm256_and_si256(
		_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, lastb)));
}

/* vdp_find_sse2 with blocks of 32 start positions; hl >= nl + 31. */
__attribute__((target("avx2"))) static inline const char *
vdp_find_avx2(const char *h, size_t hl, const char *n, size_t nl)
{
	if (nl < 2 || hl < nl + 31)
		return vdp_find_scalar(h, hl, n, nl);
	const __m256i first = _mm256_set1_epi8(n[0]),
		      lastb = _mm256_set1_epi8(n[nl - 1]);
	const size_t top = hl - nl - 31; /* the last block's start */
	const char *hit;
	for (size_t i = 0;; i += 32) {
		if (i > top) {
			size_t done = i - top; /* positions top .. i - 1 */
			if (done >= 32)
				return NULL;
			uint32_t m = vdp_avx2_block(h, top, nl, first, lastb);
			return vdp_find_check(h, top, m >> done << done, n, nl);
		}
		uint32_t m = vdp_avx2_block(h, i, nl, first, lastb);
		if (m != 0 && (hit = vdp_find_check(h, i, m, n, nl)) != NULL)
			return hit;
	}
}
#endif

/* memmem(h, hl, n, nl): the first occurrence of the needle, or NULL. */
static inline const char *vdp_find(const char *h, size_t hl, const char *n,
				   size_t nl)
{
#ifdef VDP_SCAN_AVX2
	if (vdp_scan_avx2 && hl >= 64 + nl)
		return vdp_find_avx2(h, hl, n, nl);
#endif
#ifdef __SSE2__
	return vdp_find_sse2(h, hl, n, nl);
#else
	return vdp_find_scalar(h, hl, n, nl);
#endif
}

/* The first byte equal to @p a or @p b, or NULL. */
static inline const char *vdp_find2(const char *h, size_t hl, char a, char b)
{
#ifdef __SSE2__
	return vdp_find2_sse2(h, hl, a, b);
#else
	return vdp_find2_scalar(h, hl, a, b);
#endif
}

#endif
