/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Squid access.log, two layouts.
 *
 * "squid", the native format (logformat squid):
 *
 *   time elapsed remotehost code/status bytes method URL rfc931
 *   peerstatus/peerhost type
 *   1709287200.123    187 10.1.2.3 TCP_MISS/200 5120 GET http://a.example/
 *   jdoe HIER_DIRECT/93.184.216.34 text/html       (one line)
 *
 * Columns are separated by runs of spaces (elapsed is padded); anything
 * after the tenth column (log_mime_hdrs' "[headers]", a content type with
 * a space) is left alone. The columns' names, for user_fields and
 * device_fields: time elapsed remotehost code bytes method url rfc931 peer
 * type. Default user: rfc931 (the user name Squid logs there, from
 * authentication or ident); no default device (remotehost is an address,
 * or a host name with log_fqdn: add it as a device if so).
 *
 * "squid-common", the Common Log Format (logformat common, Apache's too):
 *
 *   remotehost rfc931 authuser [date] "request" status bytes ...
 *   10.1.2.3 - jdoe [01/Mar/2024:10:00:00 +0000] "GET http://a.example/
 *   HTTP/1.1" 200 5120 TCP_MISS:HIER_DIRECT        (one line)
 *
 * Column names: remotehost rfc931 authuser (only these three may be
 * identities). Default users: rfc931 and authuser.
 *
 * Squid writes a user name URL-escaped ("john%20smith"): the raw column is
 * the name (VDP_ESC_NONE), so a name always gives the same token as long
 * as Squid escapes it the same way. "-" is a value (the core knows it
 * means "no user").
 *
 * Detection and safety: a native line is one whose first column is a time
 * ("1709287200.123") and fourth a code/status ("TCP_MISS/200"); if the
 * rest does not line up (fewer than ten columns, a ninth column that is no
 * "HIER/peer"), a name with a space may have shifted the columns, so the
 * line is VDP_MALFORMED. A common line is one with "[dd/Mon/yyyy:" in its
 * fourth column; if that bracket is found later on the line, the first
 * columns did not line up: VDP_MALFORMED.
 */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define SQUID_COLS 10

static const char *const squid_users[] = { "rfc931", NULL };
static const char *const squid_common_users[] = { "rfc931", "authuser",
						  NULL };

struct col_name {
	const char *name;
	size_t len;
};
#define COL(s) { s, sizeof(s) - 1 }
static const struct col_name squid_names[SQUID_COLS] = {
	COL("time"),   COL("elapsed"), COL("remotehost"), COL("code"),
	COL("bytes"),  COL("method"),  COL("url"),	  COL("rfc931"),
	COL("peer"),   COL("type"),
};
static const struct col_name common_names[3] = {
	COL("remotehost"), COL("rfc931"), COL("authuser"),
};

/* Each column's kind (-1: none) from the configured keys; a key that
 * names no column is ignored. */
static void col_kinds(const struct vdp_keys *ks, const struct col_name *names,
		      unsigned n, int *kind)
{
	for (unsigned c = 0; c < n; c++)
		kind[c] = -1;
	for (unsigned i = 0; i < ks->n; i++)
		for (unsigned c = 0; c < n; c++)
			if (names[c].len == ks->k[i].len &&
			    memcmp(names[c].name, ks->k[i].name, names[c].len) == 0)
				kind[c] = ks->k[i].kind;
}

static inline bool is_upper_(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

/* ---- native ---- */

/* Split up to @p max space-separated columns; returns how many. */
static unsigned split_spaces(const char *d, size_t p, size_t end,
			     struct vdp_span *col, unsigned max)
{
	unsigned n = 0;
	while (n < max) {
		while (p < end && d[p] == ' ')
			p++;
		if (p == end)
			break;
		size_t s = p;
		const char *sp = vdp_find1(d + p, end - p, ' ');
		p = sp != NULL ? (size_t)(sp - d) : end;
		col[n++] = (struct vdp_span){ s, p - s };
	}
	return n;
}

/* "1709287200.123" */
static bool is_time(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && vdp_is_digit(s[i]))
		i++;
	if (i == 0 || i == n || s[i] != '.')
		return false;
	size_t f = ++i;
	while (i < n && vdp_is_digit(s[i]))
		i++;
	return i == n && i > f;
}

/* "TCP_MISS/200" when @p digits, "HIER_DIRECT/x" otherwise */
static bool is_tag_slash(const char *s, size_t n, bool digits)
{
	size_t i = 0;
	while (i < n && is_upper_(s[i]))
		i++;
	if (i == 0 || i + 1 >= n || s[i] != '/')
		return false;
	if (!digits)
		return true;
	for (i++; i < n; i++)
		if (!vdp_is_digit(s[i]))
			return false;
	return true;
}

/* Columns 1 and 4 say "squid"; 0 if not, else how many were split. */
static unsigned squid_split(const struct vdp_msg *m, struct vdp_span *col)
{
	const char *d = m->data;
	unsigned n = split_spaces(d, vdp_body_start(m), m->len, col, SQUID_COLS);
	if (n < 4 || !is_time(d + col[0].off, col[0].len) ||
	    !is_tag_slash(d + col[3].off, col[3].len, true))
		return 0;
	return n;
}

static bool squid_detect(const struct vdp_msg *m)
{
	struct vdp_span col[SQUID_COLS];
	return squid_split(m, col) > 0;
}

static enum vdp_parse_rc squid_parse(struct vdp_parse_ctx *ctx,
				     const struct vdp_msg *m,
				     struct vdp_fields *out)
{
	struct vdp_span col[SQUID_COLS];
	unsigned n = squid_split(m, col);
	if (n == 0)
		return VDP_NOT_MINE;
	if (ctx->keys == NULL || n < SQUID_COLS ||
	    !is_tag_slash(m->data + col[8].off, col[8].len, false))
		return VDP_MALFORMED;
	int kind[SQUID_COLS];
	col_kinds(ctx->keys, squid_names, SQUID_COLS, kind);
	for (unsigned c = 0; c < SQUID_COLS; c++)
		if (kind[c] >= 0 &&
		    !vdp_fields_add(out, col[c].off, col[c].len,
				    (enum veil_kind)kind[c], VDP_ESC_NONE))
			return VDP_MALFORMED;
	return VDP_PARSED;
}

/* ---- common ---- */

static inline bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* "[dd/Mon/yyyy:" at d[p] */
static bool is_clf_date(const char *d, size_t p, size_t end)
{
	if (end - p < 13)
		return false;
	const char *s = d + p;
	return s[0] == '[' && vdp_is_digit(s[1]) && vdp_is_digit(s[2]) && s[3] == '/' &&
	       is_alpha(s[4]) && is_alpha(s[5]) && is_alpha(s[6]) &&
	       s[7] == '/' && vdp_is_digit(s[8]) && vdp_is_digit(s[9]) &&
	       vdp_is_digit(s[10]) && vdp_is_digit(s[11]) && s[12] == ':';
}

/* The offset of " [dd/Mon/yyyy:" after @p p, or 0. */
static size_t find_clf_date(const char *d, size_t p, size_t end)
{
	const char *q;
	while (p < end && (q = memchr(d + p, '[', end - p)) != NULL) {
		size_t i = (size_t)(q - d);
		if (i > 0 && d[i - 1] == ' ' && is_clf_date(d, i, end))
			return i;
		p = i + 1;
	}
	return 0;
}

enum clf_rc { CLF_NOT, CLF_OK, CLF_SHIFTED };

/* The three first columns, separated by single spaces, then the date. */
static enum clf_rc common_split(const struct vdp_msg *m, struct vdp_span *col)
{
	const char *d = m->data;
	size_t end = m->len, p = vdp_body_start(m);
	for (unsigned c = 0; c < 3; c++) {
		size_t s = p;
		while (p < end && d[p] != ' ')
			p++;
		col[c] = (struct vdp_span){ s, p - s };
		if (p == end || p == s)
			goto shifted;
		p++;
	}
	if (is_clf_date(d, p, end)) {
		const char *q = memchr(d + p, ']', end - p);
		if (q != NULL && end - (size_t)(q - d) >= 3 && q[1] == ' ' &&
		    q[2] == '"')
			return CLF_OK;
	}
shifted:
	return find_clf_date(d, vdp_body_start(m), end) != 0 ? CLF_SHIFTED
							 : CLF_NOT;
}

/* A shifted line is detected too, so that it is dropped, not forwarded. */
static bool common_detect(const struct vdp_msg *m)
{
	struct vdp_span col[3];
	return common_split(m, col) != CLF_NOT;
}

static enum vdp_parse_rc common_parse(struct vdp_parse_ctx *ctx,
				      const struct vdp_msg *m,
				      struct vdp_fields *out)
{
	struct vdp_span col[3];
	switch (common_split(m, col)) {
	case CLF_NOT:
		return VDP_NOT_MINE;
	case CLF_SHIFTED:
		return VDP_MALFORMED;
	case CLF_OK:
		break;
	}
	if (ctx->keys == NULL)
		return VDP_MALFORMED;
	int kind[3];
	col_kinds(ctx->keys, common_names, 3, kind);
	for (unsigned c = 0; c < 3; c++)
		if (kind[c] >= 0 &&
		    !vdp_fields_add(out, col[c].off, col[c].len,
				    (enum veil_kind)kind[c], VDP_ESC_NONE))
			return VDP_MALFORMED;
	return VDP_PARSED;
}

const struct vdp_format vdp_fmt_squid = {
	.name = "squid",
	.detect = squid_detect,
	.parse = squid_parse,
	.parse_detects = true,
	.default_users = squid_users,
	.default_devices = NULL,
	.free_state = NULL,
};

const struct vdp_format vdp_fmt_squid_common = {
	.name = "squid-common",
	.detect = common_detect,
	.parse = common_parse,
	.parse_detects = true,
	.default_users = squid_common_users,
	.default_devices = NULL,
	.free_state = NULL,
};
