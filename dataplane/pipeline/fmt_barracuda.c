/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Barracuda Web Application Firewall syslog, the default layouts of its
 * Web Firewall, Access and Audit logs (ADVANCED > Export Logs, "Default"
 * format): after the syslog header, a time stamp in three columns, the
 * unit name (the WAF itself), the log type, then the type's columns:
 *
 *   2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45
 *   52144 "jdoe" "-" GET HTTPS www.example.com HTTP/1.1 200 ...  (one line)
 *
 * Columns are separated by spaces. A column that starts with '"' runs to
 * the next '"' followed by a space or the end of the line (user agents,
 * referers and cookies have spaces); one that starts with '[' (the Web
 * Firewall log's attack details) to the next ']' followed by a space or
 * the end. Values are not escaped (VDP_ESC_NONE): the span is the text
 * between the quotes.
 *
 * Identities (keys, default user unless said):
 *   TR (Access)       login_id (Login ID), cert_user (Certificate User),
 *                     auth_user (Authenticated User);
 *                     client_ip, proxy_ip (no default kind)
 *   WF (Web Firewall) auth_user; client_ip, proxy_ip (no default kind)
 *   AUDIT             admin (Admin Name); login_ip (no default kind)
 * The unit name and the service and server addresses are the WAF's and
 * its back ends': never identities.
 *
 * Safety: the columns are positional, so a value with a space where none
 * is expected would shift them. Around each identity column the parser
 * checks columns of a known shape (ports are numbers, the proxy address an
 * address); if they do not line up the line is VDP_MALFORMED, never read
 * with a shifted column. A line cut before an identity column has what it
 * has (devices truncate long lines): the columns it holds are reported.
 */
#include <string.h>

#include "dp_pvt.h"

#define BWAF_MAX_COLS 40 /* the longest layout (TR) has 35 after the type */

static const char *const bwaf_users[] = { "login_id", "cert_user", "auth_user",
					  "admin", NULL };

/* An IPv4 or IPv6 address, loosely: hex digits, '.' and ':'. */
static bool is_addr(const char *s, size_t n)
{
	if (n == 0 || n > 45)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!vdp_is_digit(c) && !(c >= 'a' && c <= 'f') &&
		    !(c >= 'A' && c <= 'F') && c != '.' && c != ':')
			return false;
	}
	return true;
}

/* "2024-03-01" at d[p] */
static bool is_date(const char *d, size_t p, size_t end)
{
	if (end - p < 10)
		return false;
	const char *s = d + p;
	return vdp_is_digit(s[0]) && vdp_is_digit(s[1]) && vdp_is_digit(s[2]) &&
	       vdp_is_digit(s[3]) && s[4] == '-' && vdp_is_digit(s[5]) &&
	       vdp_is_digit(s[6]) && s[7] == '-' && vdp_is_digit(s[8]) && vdp_is_digit(s[9]);
}

/* "10:15:22" or "10:15:22.443" */
static bool is_time(const char *s, size_t n)
{
	if (n < 8 || !vdp_is_digit(s[0]) || !vdp_is_digit(s[1]) || s[2] != ':' ||
	    !vdp_is_digit(s[3]) || !vdp_is_digit(s[4]) || s[5] != ':' ||
	    !vdp_is_digit(s[6]) || !vdp_is_digit(s[7]))
		return false;
	return n == 8 || (s[8] == '.' && vdp_all_digits(s + 9, n - 9));
}

/* "+0000", "-0700" */
static bool is_zone(const char *s, size_t n)
{
	return n == 5 && (s[0] == '+' || s[0] == '-') && vdp_all_digits(s + 1, 4);
}

/* One column at @p p (no leading space): its value span, and where the
 * next column's separator is. Returns false for an opening quote or
 * bracket that never closes. */
static bool next_col(const char *d, size_t p, size_t end, struct vdp_span *v,
		     size_t *after)
{
	char close = d[p] == '"' ? '"' : d[p] == '[' ? ']' : 0;
	if (close == 0) {
		const char *sp = memchr(d + p, ' ', end - p);
		size_t e = sp != NULL ? (size_t)(sp - d) : end;
		*v = (struct vdp_span){ p, e - p };
		*after = e;
		return true;
	}
	for (size_t q = p + 1; q < end; q++) {
		const char *c = memchr(d + q, close, end - q);
		if (c == NULL)
			break;
		q = (size_t)(c - d);
		if (q + 1 == end || d[q + 1] == ' ') {
			/* quotes: the text between them; brackets: all */
			*v = close == '"' ? (struct vdp_span){ p + 1, q - p - 1 }
					  : (struct vdp_span){ p, q + 1 - p };
			*after = q + 1;
			return true;
		}
	}
	return false;
}

enum bwaf_type { BWAF_NONE, BWAF_TR, BWAF_WF, BWAF_AUDIT };

struct bwaf_line {
	enum bwaf_type type;
	unsigned n;        /* columns after the type */
	bool cut;          /* an unclosed quote or bracket ended the split */
	struct vdp_span col[BWAF_MAX_COLS];
};

static size_t skip_spaces(const char *d, size_t p, size_t end)
{
	while (p < end && d[p] == ' ')
		p++;
	return p;
}

/* The head: [header token] date time zone unit type. Returns the offset
 * after the type, or 0 if the body does not start so. */
static size_t bwaf_head(const char *d, size_t p, size_t end,
			enum bwaf_type *type)
{
	struct vdp_span c[5];
	size_t after;
	p = skip_spaces(d, p, end);
	if (p < end && !is_date(d, p, end)) {
		/* the Syslog Header text an admin may configure (%header):
		 * one word before the time stamp */
		const char *sp = memchr(d + p, ' ', end - p > 64 ? 64 : end - p);
		if (sp == NULL)
			return 0;
		p = skip_spaces(d, (size_t)(sp - d), end);
	}
	if (p >= end || !is_date(d, p, end))
		return 0;
	for (unsigned i = 0; i < 5; i++) {
		p = skip_spaces(d, p, end);
		if (p == end || d[p] == '"' || d[p] == '[')
			return 0;
		next_col(d, p, end, &c[i], &after);
		p = after;
	}
	if (c[0].len != 10 || !is_time(d + c[1].off, c[1].len) ||
	    !is_zone(d + c[2].off, c[2].len))
		return 0;
	const char *t = d + c[4].off;
	if (c[4].len == 2 && t[0] == 'T' && t[1] == 'R')
		*type = BWAF_TR;
	else if (c[4].len == 2 && t[0] == 'W' && t[1] == 'F')
		*type = BWAF_WF;
	else if (c[4].len == 5 && memcmp(t, "AUDIT", 5) == 0)
		*type = BWAF_AUDIT;
	else
		return 0;
	return p;
}

static bool bwaf_detect(const struct vdp_msg *m)
{
	enum bwaf_type type;
	size_t p = vdp_body_start(m);
	/* cheap reject: a digit, or a header word, first */
	if (p >= m->len)
		return false;
	return bwaf_head(m->data, p, m->len, &type) != 0;
}

static bool bwaf_split(const struct vdp_msg *m, struct bwaf_line *l)
{
	const char *d = m->data;
	size_t end = m->len, p = bwaf_head(d, vdp_body_start(m), end, &l->type);
	if (p == 0)
		return false;
	l->n = 0;
	l->cut = false;
	while (l->n < BWAF_MAX_COLS) {
		p = skip_spaces(d, p, end);
		if (p == end)
			break;
		size_t after;
		if (!next_col(d, p, end, &l->col[l->n], &after)) {
			l->cut = true;
			break;
		}
		l->n++;
		p = after;
	}
	return true;
}

/* One layout: its columns' names (after the type, from 1) and the columns
 * whose shape is checked before an identity column behind them is read. */
struct bwaf_col {
	unsigned col;
	const char *name;
};

enum shape { SH_PORT, SH_ADDR_OR_DASH, SH_PORT_OR_DASH };

struct bwaf_check {
	unsigned col;
	enum shape shape;
};

struct bwaf_layout {
	const struct bwaf_col *ids;
	unsigned n_ids;
	const struct bwaf_check *checks;
	unsigned n_checks;
};

/* Access log: ... 3 client_ip, 4 client_port, 5 login_id, 6 cert_user,
 * ..., 29 proxy_ip, 30 proxy_port, 31 auth_user */
static const struct bwaf_col tr_ids[] = {
	{ 3, "client_ip" }, { 5, "login_id" }, { 6, "cert_user" },
	{ 29, "proxy_ip" }, { 31, "auth_user" },
};
static const struct bwaf_check tr_checks[] = {
	{ 2, SH_PORT }, { 4, SH_PORT }, { 11, SH_PORT }, { 17, SH_PORT_OR_DASH },
	{ 29, SH_ADDR_OR_DASH }, { 30, SH_PORT_OR_DASH },
};
/* Web Firewall log: 3 client_ip, 4 client_port, ..., 17 proxy_ip,
 * 18 proxy_port, 19 auth_user */
static const struct bwaf_col wf_ids[] = {
	{ 3, "client_ip" }, { 17, "proxy_ip" }, { 19, "auth_user" },
};
static const struct bwaf_check wf_checks[] = {
	{ 4, SH_PORT }, { 6, SH_PORT }, { 17, SH_ADDR_OR_DASH },
	{ 18, SH_PORT_OR_DASH },
};
/* Audit log: 1 admin, 2 client type, 3 login_ip, 4 login port */
static const struct bwaf_col audit_ids[] = {
	{ 1, "admin" }, { 3, "login_ip" },
};
static const struct bwaf_check audit_checks[] = { { 4, SH_PORT } };

#define LAYOUT(i, c) { i, sizeof(i) / sizeof(i[0]), c, sizeof(c) / sizeof(c[0]) }
static const struct bwaf_layout layouts[] = {
	[BWAF_TR] = LAYOUT(tr_ids, tr_checks),
	[BWAF_WF] = LAYOUT(wf_ids, wf_checks),
	[BWAF_AUDIT] = LAYOUT(audit_ids, audit_checks),
};

static bool shape_ok(const char *s, size_t n, enum shape sh)
{
	bool dash = n == 1 && s[0] == '-';
	switch (sh) {
	case SH_PORT:
		return vdp_all_digits(s, n);
	case SH_PORT_OR_DASH:
		return dash || vdp_all_digits(s, n);
	case SH_ADDR_OR_DASH:
		return dash || is_addr(s, n);
	}
	return false;
}

static enum vdp_parse_rc bwaf_parse(struct vdp_parse_ctx *ctx,
				    const struct vdp_msg *m,
				    struct vdp_fields *out)
{
	struct bwaf_line l;
	if (!bwaf_split(m, &l))
		return VDP_NOT_MINE;
	const struct bwaf_layout *lay = &layouts[l.type];
	/* the last identity column wanted, and the line's own shape up to it */
	int kind[sizeof(tr_ids) / sizeof(tr_ids[0])];
	unsigned last = 0;
	for (unsigned i = 0; i < lay->n_ids; i++) {
		const char *nm = lay->ids[i].name;
		kind[i] = vdp_keys_find(ctx->keys, nm, strlen(nm));
		if (kind[i] >= 0 && lay->ids[i].col > last)
			last = lay->ids[i].col;
	}
	if (last == 0)
		return VDP_PARSED;
	/* an unclosed quote or bracket at or before the last wanted column:
	 * where that column is cannot be known */
	if (l.cut && l.n < last)
		return VDP_MALFORMED;
	for (unsigned i = 0; i < lay->n_checks; i++) {
		unsigned c = lay->checks[i].col;
		if (c <= last && c <= l.n &&
		    !shape_ok(m->data + l.col[c - 1].off, l.col[c - 1].len,
			      lay->checks[i].shape))
			return VDP_MALFORMED;
	}
	for (unsigned i = 0; i < lay->n_ids; i++) {
		unsigned c = lay->ids[i].col;
		if (kind[i] < 0 || c > l.n)
			continue;
		if (!vdp_fields_add(out, l.col[c - 1].off, l.col[c - 1].len,
				    (enum veil_kind)kind[i], VDP_ESC_NONE))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

const struct vdp_format vdp_fmt_barracuda = {
	.name = "barracuda",
	.detect = bwaf_detect,
	.parse = bwaf_parse,
	.default_users = bwaf_users,
	.default_devices = NULL,
};
