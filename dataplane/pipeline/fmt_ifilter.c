/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Digital Arts i-FILTER access log (i-FILTER Ver.10, D-SPA Ver.4,
 * i-FILTER@Cloud), its default layout: 35 columns separated by spaces
 * when the output time counts as three:
 *
 *   Sep 19 19:26:56 4872 1000/01/ - - 10.1.20.45 10.1.20.45 PC-0117 jdoe
 *   [19/Sep/2017:19:26:56 +0900] 200 0 1207 pass ...       (one line)
 *
 * output time (3), process id, version ("NNNN/NN/"), upper proxy, server
 * address:port, source address (the device talking to i-FILTER), client
 * address, computer name (reverse DNS; "-" without), authenticated user
 * ("-" without), access start time in brackets (2), then the response
 * and the request, which are not read.
 *
 * Where the body starts depends on what is in front: a file line
 * ("Sep 19 19:26:56 4872 1000/01/ ...") looks like an RFC 3164 header
 * whose HOSTNAME is the process id, so its body starts at the version;
 * a line a relay sent with a header of its own starts at the output time;
 * either way the process id is the digits just before the version.
 *
 * Identities (keys): user (the authenticated user name, default user),
 * computer (the computer name, default device); source_ip and client_ip
 * (no default kind). Values are the bytes of the column: i-FILTER
 * URL-encodes Japanese names (%E5%B1%B1...) and they are tokenized as
 * they appear (VDP_ESC_NONE).
 *
 * Safety: the columns are positional. The version, the addresses and the
 * bracketed access time after the user must be where the layout puts
 * them, one space apart; if not (a name with a space, a missing column, a
 * line cut before the access time) the line is VDP_MALFORMED, never read
 * with a shifted column.
 */
#include <string.h>

#include "dp_pvt.h"

static const char *const ifl_users[] = { "user", NULL };
static const char *const ifl_devices[] = { "computer", NULL };

/* the columns from the version on */
enum { C_VERSION, C_PROXY, C_DEST, C_SOURCE, C_CLIENT, C_COMPUTER, C_USER,
       C_ATIME, C_ZONE, C__COUNT };

/* The version column: [0-9]+/[0-9]+/ */
static bool is_version(const char *s, size_t n)
{
	size_t i = 0, a, b;
	for (a = i; i < n && vdp_is_digit(s[i]); i++)
		;
	if (i == a || i >= n || s[i++] != '/')
		return false;
	for (b = i; i < n && vdp_is_digit(s[i]); i++)
		;
	return i > b && i + 1 == n && s[i] == '/';
}

/* An address, loosely (IPv4, IPv6, with a port, IPv6 in brackets), or
 * "-": what the address columns hold. */
static bool is_addr_or_dash(const char *s, size_t n)
{
	if (n == 1 && s[0] == '-')
		return true;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!vdp_is_digit(c) && !(c >= 'a' && c <= 'f') &&
		    !(c >= 'A' && c <= 'F') && c != '.' && c != ':' &&
		    c != '[' && c != ']')
			return false;
	}
	return true;
}

/* "[19/Sep/2017:19:26:56" */
static bool is_atime(const char *s, size_t n)
{
	return n == 21 && s[0] == '[' && vdp_is_digit(s[1]) && vdp_is_digit(s[2]) &&
	       s[3] == '/' && s[7] == '/' && vdp_all_digits(s + 8, 4) &&
	       s[12] == ':' && vdp_all_digits(s + 13, 2) && s[15] == ':' &&
	       vdp_all_digits(s + 16, 2) && s[18] == ':' && vdp_all_digits(s + 19, 2);
}

/* "+0900]" */
static bool is_zone(const char *s, size_t n)
{
	return n == 6 && (s[0] == '+' || s[0] == '-') &&
	       vdp_all_digits(s + 1, 4) && s[5] == ']';
}

/* The month's three letters and "dd hh:mm:ss" (dd may be " d"): the
 * offset after the time, or 0. */
static size_t skip_out_time(const char *d, size_t p, size_t end)
{
	if (end - p < 15)
		return 0;
	const char *s = d + p;
	if (!(s[0] >= 'A' && s[0] <= 'Z') || !(s[1] >= 'a' && s[1] <= 'z') ||
	    !(s[2] >= 'a' && s[2] <= 'z') || s[3] != ' ')
		return 0;
	size_t i = 4;
	if (s[i] == ' ')
		i++;
	if (!vdp_is_digit(s[i]))
		return 0;
	i += vdp_is_digit(s[i + 1]) ? 2 : 1;
	if (end - p < i + 10 || s[i] != ' ' || !vdp_is_digit(s[i + 1]) ||
	    !vdp_is_digit(s[i + 2]) || s[i + 3] != ':' || !vdp_is_digit(s[i + 4]) ||
	    !vdp_is_digit(s[i + 5]) || s[i + 6] != ':' || !vdp_is_digit(s[i + 7]) ||
	    !vdp_is_digit(s[i + 8]) || s[i + 9] != ' ')
		return 0;
	return p + i + 10;
}

/* Where the version column starts: after "[time ]pid " in the body, or
 * the body itself when the process id is the last word before it (the
 * syslog parser took the file line's time and pid for a header). 0 if
 * neither. */
static size_t ifl_version_at(const struct vdp_msg *m)
{
	const char *d = m->data;
	size_t end = m->len, p = vdp_body_start(m), t;
	if (p >= end)
		return 0;
	if (!vdp_is_digit(d[p])) {
		p = skip_out_time(d, p, end);
		if (p == 0)
			return 0;
	}
	/* the process id, then one space; or the version itself */
	size_t q = p;
	while (q < end && vdp_is_digit(d[q]))
		q++;
	if (q < end && d[q] == ' ' && q > p)
		return q + 1 < end ? q + 1 : 0;
	if (q < end && d[q] == '/' && p == vdp_body_start(m)) {
		/* the version first: the word before it must be the pid */
		if (p < 2 || d[p - 1] != ' ')
			return 0;
		for (t = p - 1; t > 0 && vdp_is_digit(d[t - 1]); t--)
			;
		if (t == p - 1 || (t > 0 && d[t - 1] != ' '))
			return 0;
		return p;
	}
	return 0;
}

/* The columns from the version to the access time's zone, one space
 * apart. False if the line stops before them or a column is empty. */
static bool ifl_split(const char *d, size_t p, size_t end,
		      struct vdp_span col[C__COUNT])
{
	for (unsigned c = 0; c < C__COUNT; c++) {
		if (p >= end || d[p] == ' ')
			return false;
		const char *sp = memchr(d + p, ' ', end - p);
		size_t e = sp != NULL ? (size_t)(sp - d) : end;
		col[c] = (struct vdp_span){ p, e - p };
		p = e + 1;
	}
	return true;
}

static bool ifl_shape_ok(const char *d, const struct vdp_span col[C__COUNT])
{
#define COL(c) d + col[c].off, col[c].len
	return is_version(COL(C_VERSION)) && is_addr_or_dash(COL(C_PROXY)) &&
	       is_addr_or_dash(COL(C_DEST)) && is_addr_or_dash(COL(C_SOURCE)) &&
	       is_addr_or_dash(COL(C_CLIENT)) && is_atime(COL(C_ATIME)) &&
	       is_zone(COL(C_ZONE));
#undef COL
}

/* Cheap: the first byte of the body is a digit or a capital letter (the
 * month), then the version's "N/N/" shape, then the access time's '['
 * seven columns on. */
static bool ifl_detect(const struct vdp_msg *m)
{
	struct vdp_span col[C__COUNT];
	size_t p = ifl_version_at(m);
	if (p == 0 || !vdp_is_digit(m->data[p]))
		return false;
	return ifl_split(m->data, p, m->len, col) &&
	       is_version(m->data + col[C_VERSION].off, col[C_VERSION].len) &&
	       is_atime(m->data + col[C_ATIME].off, col[C_ATIME].len);
}

static const struct {
	unsigned col;
	const char *name;
} ifl_ids[] = {
	{ C_SOURCE, "source_ip" },
	{ C_CLIENT, "client_ip" },
	{ C_COMPUTER, "computer" },
	{ C_USER, "user" },
};

static enum vdp_parse_rc ifl_parse(struct vdp_parse_ctx *ctx,
				   const struct vdp_msg *m,
				   struct vdp_fields *out)
{
	struct vdp_span col[C__COUNT];
	size_t p = ifl_version_at(m);
	if (p == 0 || !vdp_is_digit(m->data[p]))
		return VDP_NOT_MINE;
	/* the version is the signature: without it the line is not i-FILTER's;
	 * with it, columns that do not line up are a malformed line */
	const char *sp = memchr(m->data + p, ' ', m->len - p);
	size_t vlen = (sp != NULL ? (size_t)(sp - m->data) : m->len) - p;
	if (!is_version(m->data + p, vlen))
		return VDP_NOT_MINE;
	if (!ifl_split(m->data, p, m->len, col) || !ifl_shape_ok(m->data, col))
		return VDP_MALFORMED;
	for (unsigned i = 0; i < sizeof(ifl_ids) / sizeof(ifl_ids[0]); i++) {
		const char *nm = ifl_ids[i].name;
		int kind = vdp_keys_find(ctx->keys, nm, strlen(nm));
		const struct vdp_span *v = &col[ifl_ids[i].col];
		if (kind < 0)
			continue;
		if (!vdp_fields_add(out, v->off, v->len, (enum veil_kind)kind,
				    VDP_ESC_NONE))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

const struct vdp_format vdp_fmt_ifilter = {
	.name = "ifilter",
	.detect = ifl_detect,
	.parse = ifl_parse,
	.default_users = ifl_users,
	.default_devices = ifl_devices,
};
