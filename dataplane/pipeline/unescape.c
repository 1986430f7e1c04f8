/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The escaping rules of the formats, for reading identity values: the name
 * that is encrypted is the unescaped one. (Tokens need no escaping in any
 * format: they are [a-z0-9_-] only.) */
#include <string.h>

#include "dp_pvt.h"

struct out {
	char *p;
	size_t n, cap;
	uint32_t *pos;
};

static bool put(struct out *o, char c, size_t raw_at)
{
	if (o->n == o->cap)
		return false;
	if (o->pos != NULL)
		o->pos[o->n] = (uint32_t)raw_at;
	o->p[o->n++] = c;
	return true;
}

static int hex4(const char *s, size_t avail)
{
	int v = 0;
	if (avail < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static bool put_utf8(struct out *o, unsigned long cp, size_t at)
{
	if (cp < 0x80)
		return put(o, (char)cp, at);
	if (cp < 0x800)
		return put(o, (char)(0xc0 | cp >> 6), at) &&
		       put(o, (char)(0x80 | (cp & 0x3f)), at);
	if (cp < 0x10000)
		return put(o, (char)(0xe0 | cp >> 12), at) &&
		       put(o, (char)(0x80 | ((cp >> 6) & 0x3f)), at) &&
		       put(o, (char)(0x80 | (cp & 0x3f)), at);
	return put(o, (char)(0xf0 | cp >> 18), at) &&
	       put(o, (char)(0x80 | ((cp >> 12) & 0x3f)), at) &&
	       put(o, (char)(0x80 | ((cp >> 6) & 0x3f)), at) &&
	       put(o, (char)(0x80 | (cp & 0x3f)), at);
}

/* One JSON escape at raw[i] == '\\'; returns the raw bytes used or -1. */
static long json_escape(struct out *o, const char *raw, size_t len, size_t i)
{
	if (i + 1 >= len)
		return -1;
	char c = raw[i + 1];
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k = c ? strchr(from, c) : NULL;
	if (k != NULL)
		return put(o, to[k - from], i) ? 2 : -1;
	if (c != 'u')
		return -1;
	int hi = hex4(raw + i + 2, len - i - 2);
	if (hi < 0)
		return -1;
	unsigned long cp = (unsigned long)hi;
	long used = 6;
	if (hi >= 0xd800 && hi <= 0xdbff) {
		/* a high surrogate needs its low half right after */
		if (i + 12 > len || raw[i + 6] != '\\' || raw[i + 7] != 'u')
			return -1;
		int lo = hex4(raw + i + 8, len - i - 8);
		if (lo < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
		     ((unsigned long)lo - 0xdc00);
		used = 12;
	} else if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1; /* a lone low surrogate */
	return put_utf8(o, cp, i) ? used : -1;
}

long vdp_unescape(enum vdp_esc esc, const char *raw, size_t len, char *out,
		  size_t cap, uint32_t *raw_pos)
{
	struct out o = { out, 0, cap, raw_pos };
	size_t i = 0;
	while (i < len) {
		char c = raw[i];
		if (esc == VDP_ESC_CSV && c == '"') {
			if (i + 1 >= len || raw[i + 1] != '"')
				return -1; /* a lone quote inside a quoted field */
			if (!put(&o, '"', i))
				return -1;
			i += 2;
			continue;
		}
		if (c != '\\' || esc == VDP_ESC_NONE || esc == VDP_ESC_CSV) {
			if (esc == VDP_ESC_JSON && (unsigned char)c < 0x20)
				return -1;
			if (!put(&o, c, i))
				return -1;
			i++;
			continue;
		}
		/* a backslash */
		if (esc == VDP_ESC_JSON) {
			long used = json_escape(&o, raw, len, i);
			if (used < 0)
				return -1;
			i += (size_t)used;
			continue;
		}
		if (i + 1 >= len) {
			if (!put(&o, '\\', i)) /* a literal backslash at the end */
				return -1;
			i++;
			continue;
		}
		char n = raw[i + 1], v;
		switch (esc) {
		case VDP_ESC_CEF_HDR:
			v = n == '|' || n == '\\' ? n : 0;
			break;
		case VDP_ESC_CEF_EXT:
			v = n == '=' || n == '\\' || n == '|' ? n
			    : n == 'n' ? '\n' : n == 'r' ? '\r' : 0;
			break;
		default: /* VDP_ESC_BACKSLASH: RFC 5424 PARAM-VALUE rules */
			v = n == '"' || n == '\\' || n == ']' ? n : 0;
			break;
		}
		if (v == 0) {
			/* a backslash before anything else is literal:
			 * DOMAIN\alice stays DOMAIN\alice */
			if (!put(&o, '\\', i))
				return -1;
			i++;
			continue;
		}
		if (!put(&o, v, i))
			return -1;
		i += 2;
	}
	return (long)o.n;
}
