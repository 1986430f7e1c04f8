/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Token text: prefix, kind, version and the base32 blob (docs/token-format.md).
 * Every function here reads untrusted text: bounds first, then content.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "crypto_pvt.h"

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* -1 for characters outside the alphabet; either letter case. */
static int b32_value(uint8_t ch)
{
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a';
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= '2' && ch <= '7')
		return ch - '2' + 26;
	return -1;
}

static bool is_word(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

static uint8_t lower(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
}

/* Two base32 characters for every 10-bit value, filled once. */
static uint16_t b32_pairs[1024];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void pairs_init(void)
{
	for (unsigned v = 0; v < 1024; v++) {
		char two[2] = { b32_alphabet[v >> 5], b32_alphabet[v & 31] };
		memcpy(&b32_pairs[v], two, 2);
	}
}

/* The reference encoder: every vector path must write exactly what this
 * one writes, for every length (tests/unit/test_b32.c). */
static void b32_encode_scalar(char *dst, const uint8_t *src, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;

	pthread_once(&pairs_once, pairs_init);
	/* 5 bytes make 8 characters: whole groups as four 10-bit lookups. */
	for (; n >= 5; n -= 5, src += 5, dst += 8) {
		uint64_t g = (uint64_t)src[0] << 32 | (uint64_t)src[1] << 24 |
			     (uint64_t)src[2] << 16 | (uint64_t)src[3] << 8 |
			     src[4];
		uint16_t p[4] = { b32_pairs[(g >> 30) & 1023],
				  b32_pairs[(g >> 20) & 1023],
				  b32_pairs[(g >> 10) & 1023],
				  b32_pairs[g & 1023] };
		memcpy(dst, p, 8);
	}
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | src[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			*dst++ = b32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		*dst++ = b32_alphabet[(acc << (5 - bits)) & 31];
}

#if defined(__x86_64__)
/*
 * The vector paths share one layout: each 5-byte group goes into a 64-bit
 * lane as a big-endian 40-bit value v; character k of the group is then
 * (v >> (35 - 5k)) & 31. A missing tail of the last group reads as zero
 * bytes, which is exactly RFC 4648's padding with zero bits, so a partial
 * group needs no special case: only the characters stored are fewer.
 */

/* AVX2: 20 bytes (4 groups) to 32 characters a step. Each 128-bit lane
 * takes 10 bytes; the 5-bit fields are spread into bytes by three
 * shift-and-mask steps (40 -> 2 x 20 -> 4 x 10 -> 8 x 5 bits). */
__attribute__((target("avx2"))) static inline __m256i
b32_avx2_step(__m128i lo, __m128i hi)
{
	const __m256i gather = _mm256_setr_epi8(
		4, 3, 2, 1, 0, -1, -1, -1, 9, 8, 7, 6, 5, -1, -1, -1,
		4, 3, 2, 1, 0, -1, -1, -1, 9, 8, 7, 6, 5, -1, -1, -1);
	const __m256i reverse = _mm256_setr_epi8(
		7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
		7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
	__m256i v = _mm256_shuffle_epi8(
		_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1),
		gather);
	/* field i (from the least significant) into byte i */
	v = _mm256_or_si256(
		_mm256_and_si256(v, _mm256_set1_epi64x(0xfffff)),
		_mm256_and_si256(_mm256_slli_epi64(v, 12),
				 _mm256_set1_epi64x(0xfffff00000000)));
	v = _mm256_or_si256(
		_mm256_and_si256(v, _mm256_set1_epi64x(0x000003ff000003ff)),
		_mm256_and_si256(_mm256_slli_epi64(v, 6),
				 _mm256_set1_epi64x(0x03ff000003ff0000)));
	v = _mm256_or_si256(
		_mm256_and_si256(v, _mm256_set1_epi64x(0x001f001f001f001f)),
		_mm256_and_si256(_mm256_slli_epi64(v, 3),
				 _mm256_set1_epi64x(0x1f001f001f001f00)));
	/* the most significant field first, then 0-25 -> a-z, 26-31 -> 2-7 */
	v = _mm256_shuffle_epi8(v, reverse);
	__m256i digit = _mm256_and_si256(
		_mm256_cmpgt_epi8(v, _mm256_set1_epi8(25)),
		_mm256_set1_epi8('a' - ('2' - 26)));
	return _mm256_sub_epi8(_mm256_add_epi8(v, _mm256_set1_epi8('a')), digit);
}

/* Copy k (1..64) bytes with a few overlapping fixed-size moves. */
static inline void copy_small(char *dst, const char *src, size_t k)
{
	if (k >= 32) {
		memcpy(dst, src, 32);
		memcpy(dst + k - 32, src + k - 32, 32);
	} else if (k >= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + k - 16, src + k - 16, 16);
	} else if (k >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + k - 8, src + k - 8, 8);
	} else if (k >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + k - 4, src + k - 4, 4);
	} else {
		for (size_t i = 0; i < k; i++)
			dst[i] = src[i];
	}
}

__attribute__((target("avx2"))) static void
b32_encode_avx2(char *dst, const uint8_t *src, size_t n)
{
	/* PSHUFB indexes: window[o + j] picks byte o + j of a 16-byte load
	 * while that is < 16, zero after */
	static const int8_t window[32] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	};
	const bool back = n >= 16; /* 16 bytes before the end are readable */
	const uint8_t *end = src + n;

	/* A step loads 16 bytes at +0 and +10: whole steps while 26 bytes
	 * are readable. */
	for (; n >= 26; n -= 20, src += 20, dst += 32)
		_mm256_storeu_si256(
			(__m256i *)dst,
			b32_avx2_step(_mm_loadu_si128((const __m128i *)src),
				      _mm_loadu_si128((const __m128i *)(src + 10))));
	if (n == 0)
		return;
	char out[64];
	if (back) {
		/* the last 16 bytes, shifted into place by PSHUFB: byte k of
		 * last is src[n - 16 + k], so src[o + j] is at o + j + 16 - n */
		const __m128i last = _mm_loadu_si128((const __m128i *)(end - 16));
		const __m128i zero = _mm_setzero_si128();
#define B32_WINDOW(o) (o + 16 - (long)n >= 16 ? zero : _mm_shuffle_epi8( \
		last, _mm_loadu_si128((const __m128i *)(window + o + 16 - n))))
		__m128i lo = n >= 16 ? _mm_loadu_si128((const __m128i *)src)
				     : B32_WINDOW(0);
		_mm256_storeu_si256((__m256i *)out,
				    b32_avx2_step(lo, B32_WINDOW(10)));
		if (n > 20)
			_mm256_storeu_si256((__m256i *)(out + 32),
					    b32_avx2_step(B32_WINDOW(20), zero));
#undef B32_WINDOW
	} else {
		uint8_t in[48] = { 0 };
		memcpy(in, src, n);
		for (size_t k = 0; k < 2; k++)
			_mm256_storeu_si256(
				(__m256i *)(out + 32 * k),
				b32_avx2_step(_mm_loadu_si128((const __m128i *)(in + 20 * k)),
					      _mm_loadu_si128((const __m128i *)(in + 20 * k + 10))));
	}
	copy_small(dst, out, veil_b32_encoded_len(n));
}

/* AVX-512 VBMI: 40 bytes (8 groups) to 64 characters a step, with masked
 * loads and stores (no read or write past either buffer): VPERMB gathers
 * the groups into lanes, VPMULTISHIFTQB cuts the eight fields of each lane
 * and VPERMB looks them up in the alphabet (twice over: 6 index bits). */
#define B32_VBMI_TARGET "avx512f,avx512bw,avx512vbmi"

__attribute__((target(B32_VBMI_TARGET))) static inline __m512i
b32_vbmi_step(__m512i in)
{
	const __m512i gather = _mm512_set_epi64(
		0x0000002324252627, 0x0000001e1f202122, 0x000000191a1b1c1d,
		0x0000001415161718, 0x0000000f10111213, 0x0000000a0b0c0d0e,
		0x0000000506070809, 0x0000000001020304);
	const __m512i shifts = _mm512_set1_epi64(0x00050a0f14191e23);
	const __m512i alphabet = _mm512_loadu_si512(
		"abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwxyz234567");
	__m512i v = _mm512_maskz_permutexvar_epi8(0x1f1f1f1f1f1f1f1full, gather,
						  in);
	v = _mm512_multishift_epi64_epi8(shifts, v);
	return _mm512_permutexvar_epi8(v, alphabet);
}

__attribute__((target(B32_VBMI_TARGET))) static void
b32_encode_vbmi(char *dst, const uint8_t *src, size_t n)
{
	for (; n >= 40; n -= 40, src += 40, dst += 64)
		_mm512_storeu_si512(
			dst, b32_vbmi_step(_mm512_maskz_loadu_epi8(
				     (UINT64_C(1) << 40) - 1, src)));
	if (n == 0)
		return;
	__m512i v = b32_vbmi_step(
		_mm512_maskz_loadu_epi8((UINT64_C(1) << n) - 1, src));
	_mm512_mask_storeu_epi8(
		dst, (UINT64_C(1) << veil_b32_encoded_len(n)) - 1, v);
}
#endif /* __x86_64__ */

static const char *const b32_path_names[VEIL_B32_PATHS] = {
	[VEIL_B32_SCALAR] = "scalar",
	[VEIL_B32_AVX2] = "avx2",
	[VEIL_B32_AVX512] = "avx512vbmi",
};

const char *veil_b32_path_name(enum veil_b32_path p)
{
	return (unsigned)p < VEIL_B32_PATHS ? b32_path_names[p] : "unknown";
}

bool veil_b32_path_supported(enum veil_b32_path p)
{
	switch (p) {
	case VEIL_B32_SCALAR:
		return true;
#if defined(__x86_64__)
	case VEIL_B32_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	case VEIL_B32_AVX512:
		/* the CPU's flags, and the OS saving the ZMM state: GCC and
		 * clang check XCR0 for the AVX-512 features they report */
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vbmi");
#endif
	default:
		return false;
	}
}

static veil_b32_encode_fn *path_fn(enum veil_b32_path p)
{
	switch (p) {
#if defined(__x86_64__)
	case VEIL_B32_AVX2: return b32_encode_avx2;
	case VEIL_B32_AVX512: return b32_encode_vbmi;
#endif
	default: return b32_encode_scalar;
	}
}

void veil_b32_encode_path(enum veil_b32_path p, char *dst, const uint8_t *src,
			  size_t n)
{
	if (veil_b32_path_supported(p))
		path_fn(p)(dst, src, n);
	else
		b32_encode_scalar(dst, src, n);
}

/* The encoder of veil_b32_encode: the best path of this CPU, chosen on the
 * first call (or set by veil_b32_set_path). Read and written atomically:
 * every thread that races on the first call stores the same pointer. */
static enum veil_b32_path chosen_path = VEIL_B32_PATHS;
static veil_b32_encode_fn *chosen_fn;

static enum veil_b32_path best_path(void)
{
	for (int p = VEIL_B32_PATHS - 1; p > VEIL_B32_SCALAR; p--)
		if (veil_b32_path_supported((enum veil_b32_path)p))
			return (enum veil_b32_path)p;
	return VEIL_B32_SCALAR;
}

enum veil_b32_path veil_b32_path(void)
{
	enum veil_b32_path p = __atomic_load_n(&chosen_path, __ATOMIC_ACQUIRE);
	return p == VEIL_B32_PATHS ? best_path() : p;
}

int veil_b32_set_path(enum veil_b32_path p)
{
	if ((unsigned)p >= VEIL_B32_PATHS || !veil_b32_path_supported(p))
		return -1;
	__atomic_store_n(&chosen_fn, path_fn(p), __ATOMIC_RELAXED);
	__atomic_store_n(&chosen_path, p, __ATOMIC_RELEASE);
	return 0;
}

veil_b32_encode_fn *veil_b32_encoder(void)
{
	veil_b32_encode_fn *fn = __atomic_load_n(&chosen_fn, __ATOMIC_RELAXED);

	if (fn == NULL) {
		enum veil_b32_path p = best_path();
		fn = path_fn(p);
		__atomic_store_n(&chosen_fn, fn, __ATOMIC_RELAXED);
		__atomic_store_n(&chosen_path, p, __ATOMIC_RELEASE);
	}
	return fn;
}

void veil_b32_encode(char *dst, const uint8_t *src, size_t n)
{
	veil_b32_encoder()(dst, src, n);
}

/*
 * Decode up to cap whole bytes of n characters. *tail_zero tells whether the
 * bits left over after the last whole byte are zero (canonical form).
 * Returns the number of bytes decoded, or -1 on a character outside the
 * alphabet.
 */
static long b32_decode_prefix(uint8_t *dst, size_t cap, const uint8_t *src,
			      size_t n, bool *tail_zero)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b32_value(src[i]);
		if (v < 0)
			return -1;
		acc = ((acc << 5) | (uint32_t)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (out < cap)
				dst[out] = (uint8_t)(acc >> bits);
			out++;
		}
	}
	*tail_zero = (acc & ((1u << bits) - 1)) == 0;
	return (long)(out < cap ? out : cap);
}

long veil_b32_decode(uint8_t *dst, size_t cap, const char *src, size_t n)
{
	bool tail_zero;
	size_t m = n % 8;

	if (m == 1 || m == 3 || m == 6)
		return -1;
	if (n * 5 / 8 > cap)
		return -1;
	long got = b32_decode_prefix(dst, cap, (const uint8_t *)src, n,
				     &tail_zero);
	if (got < 0 || !tail_zero)
		return -1;
	return got;
}

void veil_tenant_tag(const char *tenant, uint8_t tag[VEIL_TAG_LEN])
{
	static const char label[] = "veil-tenant:";
	uint8_t md[32];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, label, sizeof(label) - 1) == 1 &&
	    EVP_DigestUpdate(c, tenant, strlen(tenant)) == 1)
		EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	memcpy(tag, md, VEIL_TAG_LEN);
}

/* "veil_" [ud] version "_" : returns the prefix length, or 0. */
static size_t parse_prefix(const uint8_t *t, size_t len, enum veil_kind *kind,
			   uint32_t *version)
{
	static const char pfx[] = VEIL_TOKEN_PREFIX;
	const size_t plen = sizeof(pfx) - 1;
	size_t i;
	uint64_t v = 0;

	if (len < plen + 3)
		return 0;
	for (i = 0; i < plen; i++)
		if (lower(t[i]) != (uint8_t)pfx[i])
			return 0;
	switch (lower(t[i++])) {
	case 'u': *kind = VEIL_KIND_USER; break;
	case 'd': *kind = VEIL_KIND_DEVICE; break;
	default: return 0;
	}
	if (t[i] < '1' || t[i] > '9')
		return 0;
	for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(t[i] - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	if (i >= len || t[i] != '_')
		return 0;
	*version = (uint32_t)v;
	return i + 1;
}

int veil_token_parse(const uint8_t *tok, size_t len, enum veil_kind *kind,
		     uint32_t *version, uint8_t *blob, size_t blob_cap,
		     size_t *blob_len)
{
	size_t p = parse_prefix(tok, len, kind, version);
	bool tail_zero;

	if (p == 0)
		return VEIL_E_PREFIX;
	const uint8_t *body = tok + p;
	size_t nchars = len - p;
	long got = b32_decode_prefix(blob, blob_cap, body, nchars, &tail_zero);
	if (got < 0)
		return VEIL_E_ENCODING;
	if ((size_t)got < VEIL_HDR_LEN)
		return VEIL_E_TRUNCATED;
	size_t ct_len = ((size_t)blob[2] << 8) | blob[3];
	if (ct_len == 0 || ct_len > VEIL_PAD_MAX)
		return VEIL_E_LENGTH;
	size_t want = VEIL_HDR_LEN + VEIL_BLK + ct_len;
	if (nchars * 5 / 8 < want)
		return VEIL_E_TRUNCATED;
	if (nchars != veil_b32_encoded_len(want))
		return VEIL_E_LENGTH;
	if (!tail_zero)
		return VEIL_E_ENCODING;
	*blob_len = want;
	return VEIL_OK;
}

size_t veil_token_prefix(char head[VEIL_PREFIX_MAX], enum veil_kind kind,
			 uint32_t version)
{
	size_t hlen = sizeof(VEIL_TOKEN_PREFIX) - 1;
	char digits[10];
	int nd = 0;

	memset(head, 0, VEIL_PREFIX_MAX);
	memcpy(head, VEIL_TOKEN_PREFIX, hlen);
	head[hlen++] = kind == VEIL_KIND_USER ? 'u' : 'd';
	do {
		digits[nd++] = (char)('0' + version % 10);
		version /= 10;
	} while (version != 0);
	while (nd > 0)
		head[hlen++] = digits[--nd];
	head[hlen++] = '_';
	return hlen;
}

bool veil_token_find(const char *text, size_t len, size_t *off,
		     size_t *tok_len)
{
	const uint8_t *t = (const uint8_t *)text;
	static const char pfx[] = VEIL_TOKEN_PREFIX;
	const size_t plen = sizeof(pfx) - 1;

	for (size_t s = 0; s + plen + 4 <= len; s++) {
		if (lower(t[s]) != 'v' || (s > 0 && is_word(t[s - 1])))
			continue;
		size_t i;
		for (i = 1; i < plen && lower(t[s + i]) == (uint8_t)pfx[i]; i++)
			;
		if (i < plen)
			continue;
		i = s + plen;
		if (lower(t[i]) != 'u' && lower(t[i]) != 'd')
			continue;
		i++;
		if (i >= len || t[i] < '1' || t[i] > '9')
			continue;
		while (i < len && t[i] >= '0' && t[i] <= '9')
			i++;
		if (i >= len || t[i] != '_')
			continue;
		size_t body = ++i;
		while (i < len && b32_value(t[i]) >= 0)
			i++;
		if (i == body || (i < len && is_word(t[i])))
			continue;
		*off = s;
		*tok_len = i - s;
		return true;
	}
	return false;
}
