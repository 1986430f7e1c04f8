/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Token text: prefix, kind, version and the base32 blob (docs/token-format.md).
 * Every function here reads untrusted text: bounds first, then content.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

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

size_t veil_b32_encoded_len(size_t n)
{
	return (n * 8 + 4) / 5;
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

void veil_b32_encode(char *dst, const uint8_t *src, size_t n)
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

size_t veil_token_format(char *dst, size_t cap, enum veil_kind kind,
			 uint32_t version, const uint8_t tag[VEIL_TAG_LEN],
			 const uint8_t *siv, size_t siv_len)
{
	char head[24];
	size_t ct_len = siv_len - VEIL_BLK;
	uint8_t hdr[VEIL_HDR_LEN] = { tag[0], tag[1], (uint8_t)(ct_len >> 8),
				      (uint8_t)ct_len };
	size_t hlen = sizeof(VEIL_TOKEN_PREFIX) - 1;

	memcpy(head, VEIL_TOKEN_PREFIX, hlen);
	head[hlen++] = kind == VEIL_KIND_USER ? 'u' : 'd';
	char digits[10];
	int nd = 0;
	do {
		digits[nd++] = (char)('0' + version % 10);
		version /= 10;
	} while (version != 0);
	while (nd > 0)
		head[hlen++] = digits[--nd];
	head[hlen++] = '_';

	size_t total = hlen + veil_b32_encoded_len(VEIL_HDR_LEN + siv_len);
	if (total > cap)
		return 0;
	memcpy(dst, head, hlen);
	/* The header is 4 bytes: encode header and SIV output as one stream
	 * without copying them together, in 5-byte groups. */
	uint8_t first[5] = { hdr[0], hdr[1], hdr[2], hdr[3], siv[0] };
	char *o = dst + hlen;
	veil_b32_encode(o, first, 5);
	veil_b32_encode(o + 8, siv + 1, siv_len - 1);
	return total;
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
