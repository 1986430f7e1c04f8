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
 * Each has a scalar twin, compiled everywhere and used where SSE2 is not:
 * the unit tests (test_dp_core) check both give the same answer on every
 * format's test lines. Both read only h[0..hl), never a byte after it.
 */
#ifndef VEIL_VDP_SCAN_H
#define VEIL_VDP_SCAN_H

#include <stddef.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
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

static inline const char *vdp_find_sse2(const char *h, size_t hl,
					const char *n, size_t nl)
{
	if (nl < 2 || hl < nl)
		return vdp_find_scalar(h, hl, n, nl);
	const __m128i first = _mm_set1_epi8(n[0]), lastb = _mm_set1_epi8(n[nl - 1]);
	size_t i = 0;
	/* a block of 16 start positions; its last load ends at i + nl - 1 + 16 */
	for (; i + nl + 15 <= hl; i += 16) {
		unsigned mask = vdp_sse2_eq(h + i, first) &
				vdp_sse2_eq(h + i + nl - 1, lastb);
		while (mask != 0) {
			unsigned bit = (unsigned)__builtin_ctz(mask);
			if (memcmp(h + i + bit + 1, n + 1, nl - 2) == 0)
				return h + i + bit;
			mask &= mask - 1;
		}
	}
	return vdp_find_scalar(h + i, hl - i, n, nl);
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
	return vdp_find2_scalar(h + i, hl - i, a, b);
}
#endif

/* memmem(h, hl, n, nl): the first occurrence of the needle, or NULL. */
static inline const char *vdp_find(const char *h, size_t hl, const char *n,
				   size_t nl)
{
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
