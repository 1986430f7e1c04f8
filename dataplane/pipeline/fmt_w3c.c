/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * W3C extended log format (W3C WD-logfile; Microsoft IIS and TMG, Blue Coat
 * ProxySG ELFF, and others):
 *
 *   #Version: 1.0
 *   #Fields: date time c-ip cs-username cs-method cs-uri sc-status
 *   2024-03-01 10:00:00 10.1.2.3 CORP\jdoe GET http://example.com/ 200
 *
 * Lines starting with '#' are directives: each is parsed, with no field.
 * "#Fields:" (or "#fields" and a blank, as Zeek writes it) names the
 * columns of the data lines that follow, until the next #Fields; that is
 * this format's per-source state (ctx->state, allocated at the first
 * #Fields). The identity keys are column names, matched without regard to
 * case. Defaults: users cs-username (IIS, TMG, ProxySG) and cs-userdn
 * (ProxySG's distinguished name); device c-dns (the draft's client DNS
 * name). detect() knows the directives only: a data line has no signature
 * of its own, so an auto source must send its #Fields first, or pin its
 * columns (the pipeline then gives W3C the lines no other format claims).
 *
 * Data fields are separated by spaces (or tabs, runs collapsing), or by
 * single tabs when the #Fields line separates its names with tabs, in which
 * case values may hold spaces. A field may be double-quoted (ProxySG quotes
 * values with spaces), a quote inside being doubled as in the W3C draft's
 * strings: the span is inside the quotes, escaped VDP_ESC_CSV. "-" is a
 * value like any other (the core knows it means "no user").
 *
 * A source cannot switch its own tokenization off in-band: a #Fields line
 * that names no identity column under the source's keys is refused
 * (VDP_NO_IDENTITY: not adopted), and so is every data line after it
 * until a #Fields that names one, unless the source's config says
 * w3c_allow_no_identity = yes (a log that has no identities). A source
 * whose config pins its columns (w3c_fields) uses them from its first line
 * on, and drops every in-band #Fields line (VDP_PINNED).
 *
 * Without a header (ProxySG over syslog never sends one): a data line
 * before any #Fields is matched against the shapes of the known layouts
 * (w3c_layouts[]: the number of fields and what some columns must look
 * like); the first it fits gives its columns, line by line, until a
 * #Fields arrives. A source may also give its columns, or a layout's name,
 * in its config (option fields, pinned as w3c_fields).
 *
 * Fail closed: a data line before any #Fields that fits no known layout
 * (VDP_NOT_MINE under format auto, so it drops as unknown-format, else
 * VDP_MALFORMED), a data line with more or fewer fields than its #Fields,
 * or with a quote that is not closed or not followed by a separator, is
 * dropped: its columns cannot be trusted, so neither can the place of its
 * identities.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"

#define W3C_MAX_COLS  256  /* columns of one #Fields line */
#define W3C_NAMES_MAX 8192 /* their names, stored to match new key sets */

static const char *const w3c_users[] = { "cs-username", "cs-userdn", NULL };
static const char *const w3c_devices[] = { "c-dns", NULL };

struct w3c_state {
	const struct vdp_keys *keys; /* the key set kind[] was found with */
	unsigned ncols;              /* 0: no usable #Fields yet */
	bool tabs;                   /* fields are tab-separated */
	bool pinned;                 /* columns from the source's w3c_fields:
				      * in-band #Fields lines are dropped */
	bool refused;                /* the last #Fields named no identity
				      * column: data lines drop */
	int8_t shaped;               /* -1, or the known layout whose shape
				      * the last data line fitted (no
				      * #Fields seen): its columns are in use */
	int8_t kind[W3C_MAX_COLS];   /* enum veil_kind, or -1 */
	uint8_t name_len[W3C_MAX_COLS]; /* 0: too long to be a key */
	uint16_t name_off[W3C_MAX_COLS];
	char names[W3C_NAMES_MAX];
};

static inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool same_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* The kind of column @p name in @p ks, matched without regard to case. */
static int w3c_find(const struct vdp_keys *ks, const char *name, size_t len)
{
	for (unsigned i = 0; i < ks->n; i++)
		if (ks->k[i].len == len && same_nocase(ks->k[i].name, name, len))
			return ks->k[i].kind;
	return -1;
}

/* The columns' kinds under @p ks; false if none is an identity. */
static bool w3c_set_kinds(struct w3c_state *st, const struct vdp_keys *ks)
{
	bool ident = false;
	for (unsigned c = 0; c < st->ncols; c++) {
		int kind = -1;
		if (st->name_len[c] > 0)
			kind = w3c_find(ks, st->names + st->name_off[c],
					st->name_len[c]);
		st->kind[c] = (int8_t)kind;
		ident |= kind >= 0;
	}
	st->keys = ks;
	return ident;
}

static const struct {
	const char *name;
	size_t len;
} w3c_directives[] = {
	{ "#Fields:", 8 },  { "#Software:", 10 },  { "#Version:", 9 },
	{ "#Date:", 6 },    { "#Remark:", 8 },     { "#Start-Date:", 12 },
	{ "#End-Date:", 10 },
};

#define W3C_N_DIRECTIVES (sizeof(w3c_directives) / sizeof(w3c_directives[0]))

static bool is_directive(const char *d, size_t p, size_t end)
{
	for (size_t i = 0; i < W3C_N_DIRECTIVES; i++)
		if (end - p >= w3c_directives[i].len &&
		    same_nocase(d + p, w3c_directives[i].name,
				w3c_directives[i].len))
			return true;
	return false;
}

static bool w3c_detect(const struct vdp_msg *m)
{
	size_t p = vdp_body_start(m);
	return p < m->len && m->data[p] == '#' &&
	       is_directive(m->data, p, m->len);
}

/*
 * The next name of a column list ("#Fields:" line or w3c_fields) from *p:
 * its span in *s and *len; *tab is set when the blanks after it hold a tab
 * and more names follow. False at the end of the list.
 */
static bool next_name(const char *d, size_t *p, size_t end, size_t *s,
		      size_t *len, bool *tab)
{
	size_t q = *p;
	while (q < end && (d[q] == ' ' || d[q] == '\t'))
		q++;
	if (q == end)
		return false;
	*s = q;
	while (q < end && d[q] != ' ' && d[q] != '\t')
		q++;
	*len = q - *s;
	size_t sep = q;
	while (q < end && (d[q] == ' ' || d[q] == '\t'))
		q++;
	if (q < end && memchr(d + sep, '\t', q - sep) != NULL)
		*tab = true;
	*p = q;
	return true;
}

int vdp_w3c_check_fields(const struct vdp_keys *ks, const char *d, size_t len)
{
	unsigned n = 0;
	size_t p = 0, used = 0, s, l;
	bool tab = false, ident = false;
	while (next_name(d, &p, len, &s, &l, &tab)) {
		if (n++ == W3C_MAX_COLS)
			return -1;
		if (l > VDP_KEY_MAX)
			continue; /* too long to be a key, still a column */
		if (used + l > W3C_NAMES_MAX)
			return -1;
		used += l;
		if (!ident && ks != NULL && w3c_find(ks, d + s, l) >= 0)
			ident = true;
	}
	return ident;
}

/* Take a column list that vdp_w3c_check_fields() accepted as the columns
 * from now on. */
static void w3c_store(struct w3c_state *st, const struct vdp_keys *ks,
		      const char *d, size_t len)
{
	unsigned n = 0;
	size_t p = 0, used = 0, s, l;
	bool tabs = false;
	while (n < W3C_MAX_COLS && next_name(d, &p, len, &s, &l, &tabs)) {
		st->name_len[n] = 0;
		if (l <= VDP_KEY_MAX && used + l <= W3C_NAMES_MAX) {
			memcpy(st->names + used, d + s, l);
			st->name_off[n] = (uint16_t)used;
			st->name_len[n] = (uint8_t)l;
			used += l;
		}
		n++;
	}
	st->ncols = n;
	st->tabs = tabs;
	w3c_set_kinds(st, ks);
}

/* ---- known layouts, for lines without a header ---- */

/* What a column of a known layout must look like for a line to fit it. */
enum w3c_shape {
	SH_ANY = 0,
	SH_DATE,   /* YYYY-MM-DD */
	SH_TIME,   /* hh:mm:ss */
	SH_NUM,    /* digits, or "-" */
	SH_IP,     /* an IPv4 or IPv6 address, or "-" */
	SH_ACTION, /* ProxySG s-action: TCP_NC_MISS, TCP_DENIED, "-" */
	SH_FILTER, /* ProxySG sc-filter-result: OBSERVED, PROXIED, DENIED, "-" */
};

struct w3c_check {
	uint8_t col; /* 0-based */
	uint8_t shape;
};

#define W3C_CHECKS_MAX 8

struct w3c_layout {
	const char *name;
	const char *cols;    /* as after "#Fields:" */
	unsigned ncols;
	struct w3c_check checks[W3C_CHECKS_MAX]; /* shape 0 ends the list */
};

/* ProxySG's predefined access log formats (SGOS access logging guide):
 * "main" (the default of the main log) and "bcreportermain_v1" (the
 * Reporter format). Users: cs-username; cs-auth-group is a group and
 * s-ip the proxy itself: not identities. */
static const struct w3c_layout w3c_layouts[] = {
	{ "proxysg-main",
	  "date time time-taken c-ip sc-status s-action sc-bytes cs-bytes "
	  "cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path "
	  "cs-uri-query cs-username cs-auth-group s-hierarchy s-supplier-name "
	  "rs(Content-Type) cs(Referer) cs(User-Agent) sc-filter-result "
	  "cs-categories x-virus-id s-ip",
	  25,
	  { { 0, SH_DATE }, { 1, SH_TIME }, { 2, SH_NUM }, { 3, SH_IP },
	    { 4, SH_NUM }, { 5, SH_ACTION }, { 21, SH_FILTER }, { 24, SH_IP } } },
	{ "bcreportermain_v1",
	  "date time time-taken c-ip cs-username cs-auth-group x-exception-id "
	  "sc-filter-result cs-categories cs(Referer) sc-status s-action "
	  "cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port "
	  "cs-uri-path cs-uri-query cs-uri-extension cs(User-Agent) s-ip "
	  "sc-bytes cs-bytes x-virus-id",
	  25,
	  { { 0, SH_DATE }, { 1, SH_TIME }, { 2, SH_NUM }, { 3, SH_IP },
	    { 7, SH_FILTER }, { 10, SH_NUM }, { 11, SH_ACTION }, { 21, SH_IP } } },
};
#define W3C_N_LAYOUTS (sizeof(w3c_layouts) / sizeof(w3c_layouts[0]))

const char *vdp_w3c_layout(const char *name)
{
	for (unsigned i = 0; i < W3C_N_LAYOUTS; i++)
		if (strcmp(w3c_layouts[i].name, name) == 0)
			return w3c_layouts[i].cols;
	return NULL;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static bool fits(const char *s, size_t n, enum w3c_shape sh)
{
	static const char date[] = "dddd-dd-dd", time[] = "dd:dd:dd";
	bool dash = n == 1 && s[0] == '-';
	switch (sh) {
	case SH_DATE:
	case SH_TIME: {
		const char *f = sh == SH_DATE ? date : time;
		if (n != strlen(f))
			return false;
		for (size_t i = 0; i < n; i++)
			if (f[i] == 'd' ? !digits(s + i, 1) : s[i] != f[i])
				return false;
		return true;
	}
	case SH_NUM:
		return dash || digits(s, n);
	case SH_IP:
		if (dash)
			return true;
		if (n < 2 || n > 45)
			return false;
		for (size_t i = 0; i < n; i++) {
			char c = lower(s[i]);
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      c == '.' || c == ':'))
				return false;
		}
		return memchr(s, '.', n) != NULL || memchr(s, ':', n) != NULL;
	case SH_ACTION:
		if (dash)
			return true;
		if (n < 3)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
				return false;
		return memchr(s, '_', n) != NULL;
	case SH_FILTER:
		return dash || (n == 8 && (!memcmp(s, "OBSERVED", 8))) ||
		       (n == 7 && !memcmp(s, "PROXIED", 7)) ||
		       (n == 6 && !memcmp(s, "DENIED", 6));
	case SH_ANY:
	default:
		return true;
	}
}

/* The fields of a space-separated data line (quoted fields' spans include
 * the quotes): their number, or -1 if a quote is broken or there are more
 * than @p max. */
static int split_fields(const char *d, size_t p, size_t end, uint32_t *off,
			uint16_t *len, unsigned max)
{
	unsigned n = 0;
	while (p < end && (d[p] == ' ' || d[p] == '\t'))
		p++;
	while (p < end) {
		size_t s = p;
		if (d[p] == '"') {
			for (p++;;) {
				const char *q = memchr(d + p, '"', end - p);
				if (q == NULL)
					return -1;
				p = (size_t)(q - d) + 1;
				if (p < end && d[p] == '"')
					p++;
				else
					break;
			}
			if (p < end && d[p] != ' ' && d[p] != '\t')
				return -1;
		} else {
			while (p < end && d[p] != ' ' && d[p] != '\t')
				p++;
		}
		if (n == max)
			return -1;
		off[n] = (uint32_t)s;
		len[n] = (uint16_t)(p - s > UINT16_MAX ? UINT16_MAX : p - s);
		n++;
		while (p < end && (d[p] == ' ' || d[p] == '\t'))
			p++;
	}
	return (int)n;
}

/* The first known layout a header-less data line fits, or -1. */
static int shape_match(const char *d, size_t p, size_t end)
{
	enum { MAXF = 32 };
	uint32_t off[MAXF];
	uint16_t len[MAXF];
	int n = split_fields(d, p, end, off, len, MAXF);
	if (n <= 0)
		return -1;
	for (unsigned i = 0; i < W3C_N_LAYOUTS; i++) {
		const struct w3c_layout *l = &w3c_layouts[i];
		if ((unsigned)n != l->ncols)
			continue;
		bool ok = true;
		for (unsigned k = 0; ok && k < W3C_CHECKS_MAX; k++) {
			const struct w3c_check *c = &l->checks[k];
			if (c->shape == SH_ANY)
				break;
			ok = fits(d + off[c->col], len[c->col],
				  (enum w3c_shape)c->shape);
		}
		if (ok)
			return (int)i;
	}
	return -1;
}

/* Under format auto a line W3C does not take is another format's, or
 * none's (unknown-format); with format w3c it is malformed. */
static enum vdp_parse_rc not_taken(const struct vdp_parse_ctx *ctx)
{
	return ctx->src != NULL && ctx->src->fmt == NULL && !ctx->src->is_regex ?
		       VDP_NOT_MINE : VDP_MALFORMED;
}

/* A source may adopt columns without any identity only if its config
 * says so: else one injected #Fields line would switch tokenization off
 * for every line after it. */
static bool allow_no_identity(const struct vdp_parse_ctx *ctx)
{
	return ctx->src != NULL && ctx->src->w3c_allow_no_identity;
}

static int w3c_new_state(const struct vdp_source *src,
			 const struct vdp_keys *ks, void **state)
{
	*state = NULL;
	if (src == NULL || src->w3c_fields == NULL || ks == NULL)
		return 0;
	struct w3c_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	const char *d = src->w3c_fields;
	size_t len = strlen(d);
	int ident = vdp_w3c_check_fields(ks, d, len);
	st->pinned = true;
	st->shaped = -1;
	if (ident >= 0) /* else no columns: data lines drop as malformed */
		w3c_store(st, ks, d, len);
	st->refused = ident == 0 && !src->w3c_allow_no_identity;
	*state = st;
	return 0;
}

/* "#Fields: a b c": the columns from now on, unless the source pins its
 * columns (the line is dropped: VDP_PINNED) or the line names no identity
 * column (VDP_NO_IDENTITY: not adopted, and the data lines after it drop
 * until a #Fields that names one). */
static enum vdp_parse_rc w3c_fields(struct vdp_parse_ctx *ctx, const char *d,
				    size_t p, size_t end)
{
	struct w3c_state *st = ctx->state;
	if (st != NULL && st->pinned)
		return VDP_PINNED;
	int ident = vdp_w3c_check_fields(ctx->keys, d + p, end - p);
	if (st == NULL) {
		/* also for a refused line: the data after it must reach this
		 * parser under format auto, to be dropped */
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return VDP_MALFORMED;
		st->shaped = -1;
		ctx->state = st;
	}
	st->shaped = -1; /* a header from now on, whatever it says */
	if (ident < 0) {
		st->ncols = 0; /* data lines drop until the next good #Fields */
		st->refused = false;
		return VDP_MALFORMED;
	}
	if (ident == 0 && !allow_no_identity(ctx)) {
		st->refused = true; /* the columns before it are kept */
		return VDP_NO_IDENTITY;
	}
	st->refused = false;
	w3c_store(st, ctx->keys, d + p, end - p);
	return VDP_PARSED;
}

/* "#Fields:", or "#fields" and a blank as Zeek writes it, at @p p: a
 * column list that went unnoticed would misplace identities. */
static bool is_fields(const char *d, size_t p, size_t end)
{
	return end - p >= 8 && same_nocase(d + p, "#Fields", 7) &&
	       (d[p + 7] == ':' || d[p + 7] == ' ' || d[p + 7] == '\t');
}

bool vdp_w3c_is_fields(const struct vdp_msg *m)
{
	size_t p = vdp_body_start(m);
	return p < m->len && is_fields(m->data, p, m->len);
}

static inline bool w3c_sep(char c, bool tabs)
{
	return c == '\t' || (!tabs && c == ' ');
}

/* One data line against the current columns. */
static enum vdp_parse_rc w3c_data(const struct w3c_state *st, const char *d,
				  size_t p, size_t end, struct vdp_fields *out)
{
	bool tabs = st->tabs;
	unsigned col = 0;
	if (!tabs)
		while (p < end && (d[p] == ' ' || d[p] == '\t'))
			p++;
	for (;;) {
		size_t s, e;
		enum vdp_esc esc = VDP_ESC_NONE;
		if (p < end && d[p] == '"') {
			s = ++p;
			for (;;) {
				const char *q = memchr(d + p, '"', end - p);
				if (q == NULL)
					return VDP_MALFORMED; /* not closed */
				p = (size_t)(q - d) + 1;
				if (p < end && d[p] == '"')
					p++; /* "" is a quote */
				else
					break;
			}
			e = p - 1;
			if (p < end && !w3c_sep(d[p], tabs))
				return VDP_MALFORMED; /* "ab"cd */
			esc = VDP_ESC_CSV;
		} else {
			s = p;
			while (p < end && !w3c_sep(d[p], tabs))
				p++;
			e = p;
		}
		if (col == st->ncols)
			return VDP_MALFORMED; /* more fields than columns */
		int kind = st->kind[col++];
		if (kind >= 0 &&
		    !vdp_fields_add(out, s, e - s, (enum veil_kind)kind, esc))
			return VDP_MALFORMED;
		if (p == end)
			break;
		if (tabs)
			p++; /* one tab each: "a\t\tb" has an empty field */
		else
			while (p < end && (d[p] == ' ' || d[p] == '\t'))
				p++;
	}
	return col == st->ncols ? VDP_PARSED : VDP_MALFORMED;
}

static enum vdp_parse_rc w3c_parse(struct vdp_parse_ctx *ctx,
				   const struct vdp_msg *m,
				   struct vdp_fields *out)
{
	const char *d = m->data;
	size_t p = vdp_body_start(m), end = m->len;
	if (ctx->state == NULL && w3c_new_state(ctx->src, ctx->keys, &ctx->state) < 0)
		return VDP_MALFORMED;
	struct w3c_state *st = ctx->state;
	while (end > p && (d[end - 1] == '\n' || d[end - 1] == '\r'))
		end--;
	if (p < end && d[p] == '#') {
		if (is_fields(d, p, end)) {
			if (ctx->keys == NULL)
				return VDP_MALFORMED;
			return w3c_fields(ctx, d, p + 8, end);
		}
		return VDP_PARSED; /* #Software, #Version, #Date, #Remark... */
	}
	if (st == NULL || st->shaped >= 0 || (st->ncols == 0 && !st->refused)) {
		/* no #Fields: only a blank line, or a line of a known shape */
		size_t q = p;
		while (q < end && (d[q] == ' ' || d[q] == '\t'))
			q++;
		if (q == end)
			return VDP_PARSED;
		if (st != NULL && st->shaped < 0)
			return VDP_MALFORMED; /* after a #Fields it refused */
		int l = shape_match(d, p, end);
		if (l < 0 || ctx->keys == NULL)
			return not_taken(ctx);
		if (st == NULL) {
			st = calloc(1, sizeof(*st));
			if (st == NULL)
				return VDP_MALFORMED;
			ctx->state = st;
		}
		if (st->shaped != l || st->keys != ctx->keys) {
			const char *cols = w3c_layouts[l].cols;
			w3c_store(st, ctx->keys, cols, strlen(cols));
			st->shaped = (int8_t)l;
		}
		/* the layout may name no identity under the source's keys */
		bool ident = false;
		for (unsigned c = 0; c < st->ncols; c++)
			ident |= st->kind[c] >= 0;
		if (!ident && !allow_no_identity(ctx))
			return VDP_NO_IDENTITY;
	}
	if (ctx->keys == NULL)
		return VDP_MALFORMED;
	if (!st->refused && ctx->keys != st->keys &&
	    !w3c_set_kinds(st, ctx->keys) && !allow_no_identity(ctx))
		st->refused = true; /* the new keys name none of the columns */
	if (!st->tabs)
		while (end > p && (d[end - 1] == ' ' || d[end - 1] == '\t'))
			end--;
	if (p == end)
		return VDP_PARSED; /* a blank line */
	if (st->refused)
		return VDP_NO_IDENTITY;
	return w3c_data(st, d, p, end, out);
}

static void w3c_free_state(void *state)
{
	free(state);
}

const struct vdp_format vdp_fmt_w3c = {
	.name = "w3c",
	.detect = w3c_detect,
	.parse = w3c_parse,
	.default_users = w3c_users,
	.default_devices = w3c_devices,
	.free_state = w3c_free_state,
	.new_state = w3c_new_state,
	.takes_undetected = true,
};
