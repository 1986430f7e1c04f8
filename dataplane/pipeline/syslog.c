/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The syslog header of a message: where the body starts and where the RFC
 * 5424 STRUCTURED-DATA is. See docs/dataplane-framing.md for the forms
 * recognized, with examples.
 *
 *  - RFC 5424: "<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID
 *    SP MSGID SP STRUCTURED-DATA [SP MSG]". The body is MSG, after a UTF-8
 *    BOM if it has one. STRUCTURED-DATA is "-" (sd_len 0) or SD elements
 *    back to back; a param value ends at the first '"' not escaped by a
 *    backslash (an unescaped ']' inside the quotes is tolerated). If the
 *    STRUCTURED-DATA is neither "-" nor well-formed elements, the sender
 *    got the header wrong somewhere, and the body starts at APP-NAME.
 *  - RFC 3164 as devices send it: "<PRI>" (optional: file lines have
 *    none), a timestamp ("Mmm dd hh:mm:ss", "Mmm dd yyyy hh:mm:ss", with
 *    optional fraction and Cisco's '*' or '.' in front, or ISO 8601 with a
 *    'T'), then an optional HOSTNAME and an optional TAG ("tag:",
 *    "tag[pid]:", "tag[pid]"), or ASA's lone ":". A message with PRI but no
 *    timestamp has its body right after the PRI (FortiGate "<189>date=...").
 *  - Anything else is all body (VDP_SYSLOG_NONE, body 0).
 *
 * When unsure, less is header: a word is a TAG only with a colon or a
 * [pid], a HOSTNAME only with hostname characters (a ':' only in an IPv6
 * address) and a space after it; "%ASA-6-...:", "CEF:0|...", "LEEF:...",
 * "date=...", "1,2024/..." and "{" are never taken for one. A UTF-8 BOM at
 * the start of the body is skipped in every kind. Reads data[0..len) only.
 */
#include <string.h>

#include "dp_pvt.h"

#define TAG_MAX	 64  /* longest TAG (RFC 3164 says 32; devices exceed it) */
#define HOST_MAX 255 /* longest HOSTNAME */

/* Byte classes, one lookup instead of a chain of compares (every line's
 * header walks its host name and tag through these). */
enum { C_DIGIT = 1, C_ALPHA = 2, C_HEXA = 4, C_TAGX = 8 };
static const uint8_t cls[256] = {
	['0' ... '9'] = C_DIGIT,
	['a' ... 'f'] = C_ALPHA | C_HEXA, ['g' ... 'z'] = C_ALPHA,
	['A' ... 'F'] = C_ALPHA | C_HEXA, ['G' ... 'Z'] = C_ALPHA,
	['_'] = C_TAGX, ['-'] = C_TAGX, ['.'] = C_TAGX, ['/'] = C_TAGX,
};

/* The class of at()'s result: none past the end (-1). */
static inline unsigned cls_of(int c)
{
	return c >= 0 ? cls[c] : 0;
}

static bool is_alnum(int c)
{
	return cls_of(c) & (C_DIGIT | C_ALPHA);
}

static bool is_hex(int c)
{
	return cls_of(c) & (C_DIGIT | C_HEXA);
}

/* RFC 5424 PRINTUSASCII */
static bool is_print(int c)
{
	return c >= 33 && c <= 126;
}

/* The byte at i, or -1 past the end. */
static int at(const char *d, size_t len, size_t i)
{
	return i < len ? (unsigned char)d[i] : -1;
}

/* n digits at i: the index after them, or 0. */
static size_t digits(const char *d, size_t len, size_t i, unsigned n)
{
	for (unsigned k = 0; k < n; k++, i++)
		if (!vdp_is_digit(at(d, len, i)))
			return 0;
	return i;
}

static size_t skip_sp(const char *d, size_t len, size_t i)
{
	while (at(d, len, i) == ' ')
		i++;
	return i;
}

static size_t skip_bom(const char *d, size_t len, size_t i)
{
	if (at(d, len, i) == 0xef && at(d, len, i + 1) == 0xbb &&
	    at(d, len, i + 2) == 0xbf)
		return i + 3;
	return i;
}

/* "<PRI>": the index after '>', or 0. */
static size_t parse_pri(const char *d, size_t len)
{
	unsigned v = 0;
	size_t i = 1;
	if (at(d, len, 0) != '<')
		return 0;
	for (; i <= 3 && vdp_is_digit(at(d, len, i)); i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	if (i == 1 || at(d, len, i) != '>' || v > 191)
		return 0;
	return i + 1;
}

/* ---- RFC 5424 ---- */

/* The end of a run of PRINTUSASCII from i. */
static size_t print_end(const char *d, size_t len, size_t i)
{
	while (is_print(at(d, len, i)))
		i++;
	return i;
}

/* SD-NAME characters: PRINTUSASCII except '=', SP, ']', '"'. */
static bool is_sdname(int c)
{
	return is_print(c) && c != '=' && c != ']' && c != '"';
}

static size_t sdname_end(const char *d, size_t len, size_t i)
{
	while (is_sdname(at(d, len, i)))
		i++;
	return i;
}

/* SD-ELEMENTs back to back from i ('['): the index after the last ']', or
 * 0 if they are not well-formed. */
static size_t parse_sd(const char *d, size_t len, size_t i)
{
	size_t start = i;
	while (at(d, len, i) == '[') {
		size_t s = ++i;
		i = sdname_end(d, len, i);
		if (i == s)
			return 0;
		for (;;) {
			int c = at(d, len, i);
			if (c == ']') {
				i++;
				break;
			}
			if (c != ' ')
				return 0;
			i = skip_sp(d, len, i);
			if (at(d, len, i) == ']')
				continue; /* spaces before ']' */
			s = i;
			i = sdname_end(d, len, i);
			if (i == s || at(d, len, i) != '=' ||
			    at(d, len, i + 1) != '"')
				return 0;
			for (i += 2;; i++) {
				c = at(d, len, i);
				if (c < 0)
					return 0;
				if (c == '"')
					break;
				if (c == '\\') {
					if (i + 1 >= len)
						return 0;
					i++; /* \" \\ \] or a literal '\' */
				}
			}
			i++; /* the closing quote */
		}
	}
	return i > start ? i : 0;
}

/* TIMESTAMP: "-" or "yyyy-mm-dd..." */
static bool ts5424_ok(const char *d, size_t len, size_t i, size_t end)
{
	if (end - i == 1)
		return d[i] == '-';
	return end - i >= 10 && digits(d, len, i, 4) && d[i + 4] == '-' &&
	       digits(d, len, i + 5, 2) && d[i + 7] == '-' &&
	       digits(d, len, i + 8, 2);
}

/* "VERSION SP ... SD" after the PRI at p; false if it is not RFC 5424. */
static bool parse_5424(struct vdp_msg *m, size_t p)
{
	const char *d = m->data;
	size_t len = m->len, i = p, app = 0;

	/* VERSION: NONZERO-DIGIT 0*2DIGIT */
	if (at(d, len, i) < '1' || at(d, len, i) > '9')
		return false;
	for (i++; i < p + 3 && vdp_is_digit(at(d, len, i)); i++)
		;
	if (at(d, len, i) != ' ')
		return false;
	i++;
	/* TIMESTAMP HOSTNAME APP-NAME PROCID MSGID */
	for (int field = 0; field < 5; field++) {
		size_t end = print_end(d, len, i);
		if (end == i || (field == 0 && !ts5424_ok(d, len, i, end)))
			return false;
		if (field == 2)
			app = i;
		if (end == len && field == 4) {
			m->body = len; /* no STRUCTURED-DATA at all */
			return true;
		}
		if (at(d, len, end) != ' ')
			return false;
		i = end + 1;
	}
	/* STRUCTURED-DATA */
	int c = at(d, len, i);
	if (c == '-' && (i + 1 == len || d[i + 1] == ' ')) {
		m->body = i + 1 < len ? i + 2 : len;
		return true;
	}
	size_t e = c == '[' ? parse_sd(d, len, i) : 0;
	if (e == 0) {
		m->body = app; /* not what a header would be: less header */
		return true;
	}
	m->sd_off = i;
	m->sd_len = e - i;
	m->body = at(d, len, e) == ' ' ? e + 1 : e;
	return true;
}

/* ---- RFC 3164 ---- */

static size_t parse_month(const char *d, size_t len, size_t i)
{
	uint32_t s = 0;
	for (int k = 0; k < 3; k++) {
		int c = at(d, len, i + (size_t)k);
		if (!(cls_of(c) & C_ALPHA))
			return 0;
		s = s << 8 | (uint32_t)(c | 0x20); /* lower case */
	}
#define MON(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (uint32_t)(c))
	switch (s) {
	case MON('j', 'a', 'n'): case MON('f', 'e', 'b'): case MON('m', 'a', 'r'):
	case MON('a', 'p', 'r'): case MON('m', 'a', 'y'): case MON('j', 'u', 'n'):
	case MON('j', 'u', 'l'): case MON('a', 'u', 'g'): case MON('s', 'e', 'p'):
	case MON('o', 'c', 't'): case MON('n', 'o', 'v'): case MON('d', 'e', 'c'):
		return i + 3;
	}
#undef MON
	return 0;
}

/* "hh:mm:ss" with an optional ".fraction". */
static size_t parse_time(const char *d, size_t len, size_t i)
{
	if (!digits(d, len, i, 2) || at(d, len, i + 2) != ':' ||
	    !digits(d, len, i + 3, 2) || at(d, len, i + 5) != ':' ||
	    !digits(d, len, i + 6, 2))
		return 0;
	i += 8;
	if (at(d, len, i) == '.' && vdp_is_digit(at(d, len, i + 1)))
		for (i++; vdp_is_digit(at(d, len, i)); i++)
			;
	return i;
}

/* "Mmm dd hh:mm:ss" or "Mmm dd yyyy hh:mm:ss" (dd: "d", " d" or "dd"). */
static size_t parse_bsd_ts(const char *d, size_t len, size_t i)
{
	if (at(d, len, i) == '*' || at(d, len, i) == '.')
		i++; /* Cisco: clock not synchronized / was synchronized */
	i = parse_month(d, len, i);
	if (i == 0 || at(d, len, i) != ' ')
		return 0;
	i++;
	if (at(d, len, i) == ' ')
		i++;
	if (!vdp_is_digit(at(d, len, i)))
		return 0;
	i += vdp_is_digit(at(d, len, i + 1)) ? 2 : 1;
	if (at(d, len, i) != ' ')
		return 0;
	i++;
	if (digits(d, len, i, 4) && at(d, len, i + 4) == ' ')
		i += 5; /* the year */
	return parse_time(d, len, i);
}

/* "yyyy-mm-ddThh:mm:ss[.frac][Z|+hh:mm|-hhmm]" */
static size_t parse_iso_ts(const char *d, size_t len, size_t i)
{
	if (!digits(d, len, i, 4) || at(d, len, i + 4) != '-' ||
	    !digits(d, len, i + 5, 2) || at(d, len, i + 7) != '-' ||
	    !digits(d, len, i + 8, 2) || at(d, len, i + 10) != 'T')
		return 0;
	i = parse_time(d, len, i + 11);
	if (i == 0)
		return 0;
	int c = at(d, len, i);
	if (c == 'Z')
		return i + 1;
	if ((c == '+' || c == '-') && digits(d, len, i + 1, 2)) {
		size_t j = i + 3;
		if (at(d, len, j) == ':')
			j++;
		if (digits(d, len, j, 2))
			return j + 2;
	}
	return i;
}

static bool is_tagc(int c)
{
	return cls_of(c) & (C_DIGIT | C_ALPHA | C_TAGX);
}

/* A TAG at i: "tag:", "tag[pid]:" (then SP or the end) or "tag[pid]"
 * (then SP or the end). Returns the index after it, or 0. */
static size_t tag_end(const char *d, size_t len, size_t i)
{
	size_t s = i;
	bool pid = false;
	if (!is_alnum(at(d, len, i)))
		return 0;
	while (is_tagc(at(d, len, i)))
		i++;
	if (i - s > TAG_MAX)
		return 0;
	if (at(d, len, i) == '[') {
		size_t ps = ++i;
		while (is_tagc(at(d, len, i)))
			i++;
		if (i == ps || at(d, len, i) != ']')
			return 0;
		i++;
		pid = true;
	}
	if (at(d, len, i) == ':')
		i++;
	else if (!pid)
		return 0;
	return i == len || d[i] == ' ' ? i : 0;
}

/* A HOSTNAME at i, followed by SP: the index of the SP, or 0. Letters,
 * digits, '.', '-', '_'; or an IPv6 address (hex digits and '.', at least
 * two ':'), so that "user:bob" or "CEF:0" is never a hostname. */
static size_t host_end(const char *d, size_t len, size_t i)
{
	size_t s = i;
	unsigned colons = 0;
	bool nonhex = false;
	for (;; i++) {
		int c = at(d, len, i);
		if (c == ':' || c == '.' || is_hex(c)) {
			colons += c == ':';
		} else if (is_alnum(c) || c == '-' || c == '_') {
			nonhex = true;
		} else {
			break;
		}
	}
	if (colons > 0 && (colons < 2 || nonhex))
		return 0;
	if (i == s || i - s > HOST_MAX || at(d, len, i) != ' ')
		return 0;
	return i;
}

/* After SP: a lone ':' (Cisco ASA's "host : %ASA-..."), a TAG, or neither.
 * Returns the body, or 0 for neither. */
static size_t colon_or_tag(const char *d, size_t len, size_t i)
{
	if (at(d, len, i) == ':' && (i + 1 == len || d[i + 1] == ' '))
		return i + 1 < len ? i + 2 : len;
	size_t t = tag_end(d, len, i);
	if (t == 0)
		return 0;
	return t < len ? t + 1 : len;
}

/* A timestamp at i and what follows: sets *body and returns true, or
 * returns false if there is no timestamp at i. */
static bool parse_3164(const char *d, size_t len, size_t i, size_t *body)
{
	size_t e = parse_bsd_ts(d, len, i);
	if (e == 0)
		e = parse_iso_ts(d, len, i);
	if (e == 0)
		return false;
	if (at(d, len, e) == ':') {
		/* "Jan 01 2024 12:00:00: %ASA-..." (no hostname) */
		*body = skip_sp(d, len, e + 1);
		return true;
	}
	if (e == len) {
		*body = len;
		return true;
	}
	if (d[e] != ' ')
		return false;
	size_t q = skip_sp(d, len, e);
	size_t b = q < len ? colon_or_tag(d, len, q) : len;
	if (b != 0) {
		*body = b;
		return true;
	}
	size_t h = host_end(d, len, q);
	if (h == 0) {
		*body = q;
		return true;
	}
	q = skip_sp(d, len, h);
	b = q < len ? colon_or_tag(d, len, q) : len;
	*body = b != 0 ? b : q;
	return true;
}

enum vdp_syslog_kind vdp_syslog_parse(struct vdp_msg *m)
{
	const char *d = m->data;
	size_t len = m->len, body;

	m->body = 0;
	m->sd_off = 0;
	m->sd_len = 0;
	if (d == NULL || len == 0)
		return VDP_SYSLOG_NONE;
	size_t p = parse_pri(d, len);
	if (p != 0) {
		if (parse_5424(m, p)) {
			m->body = skip_bom(d, len, m->body);
			return VDP_SYSLOG_5424;
		}
		if (!parse_3164(d, len, p, &body))
			body = p; /* "<189>date=..." */
		m->body = skip_bom(d, len, body);
		return VDP_SYSLOG_3164;
	}
	p = skip_bom(d, len, 0);
	if (parse_3164(d, len, p, &body)) {
		m->body = skip_bom(d, len, body);
		return VDP_SYSLOG_3164;
	}
	m->body = p;
	return VDP_SYSLOG_NONE;
}
