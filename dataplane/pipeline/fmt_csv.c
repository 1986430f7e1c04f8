/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Comma-separated formats: PAN-OS syslog CSV ("panos") and Websense /
 * Forcepoint report CSV ("websense").
 *
 * One scanner reads both. A field is either unquoted (its bytes up to the
 * next ',', a '"' inside it is a literal byte: VDP_ESC_NONE) or starts with
 * '"' and runs to the next lone '"', "" inside it standing for one quote
 * (VDP_ESC_CSV; the span excludes the quotes). A quoted field with no
 * closing quote, or with anything but ',' or the end of the line after its
 * closing quote, cannot be bounded: the line is VDP_MALFORMED. Trailing CR
 * and LF are not part of the last field.
 *
 * Identities sit at fixed columns: a format lists the columns that can
 * hold one, by a key name (PAN-OS: per log type). A line reports the
 * columns whose key is in ctx->keys, with that key's kind; a key
 * "<prefix>:<N>" names column N (1-based) directly ("traffic:83",
 * "col:5"). The scan goes left to right once and stops after the last
 * column wanted: what comes after is neither read nor checked. A line
 * shorter than a wanted column has the columns it has (a truncated line
 * can end with its user). Layouts and keys: docs/formats.md.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define COL_MAX	 1024 /* highest column a "<prefix>:<N>" key may name */
#define WANT_MAX (VDP_MAX_KEYS + 8)

/* ---- the scanner ---- */

struct csv_cur {
	const char *d;
	size_t pos;  /* start of the next field */
	size_t end;  /* end of the line (CR and LF excluded) */
	bool done;   /* the last field has been read */
};

struct csv_val {
	size_t off, len;
	bool quoted;
};

enum csv_rc { CSV_OK, CSV_END, CSV_BAD };

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* High bit set in each byte of x equal to the byte in pat (exact, no
 * false positives). */
static inline uint64_t eq_bytes(uint64_t x, uint64_t pat)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	uint64_t t = x ^ pat;
	return ~(((t & low7) + low7) | t | low7);
}
#endif

/* Index of the first c in d[i..end), or end. */
static inline size_t find_byte(const char *d, size_t i, size_t end, char c)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t pat = 0x0101010101010101ULL * (uint8_t)c;
	for (; i + 8 <= end; i += 8) {
		uint64_t w;
		memcpy(&w, d + i, 8);
		uint64_t m = eq_bytes(w, pat);
		if (m != 0)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
	}
#endif
	while (i < end && d[i] != c)
		i++;
	return i;
}

static void csv_init(struct csv_cur *c, const struct vdp_msg *m)
{
	size_t end = m->len, b = m->body < m->len ? m->body : m->len;
	while (end > b && (m->data[end - 1] == '\n' || m->data[end - 1] == '\r'))
		end--;
	*c = (struct csv_cur){ .d = m->data, .pos = b, .end = end };
}

/* Read the quoted field opening at c->pos. */
static enum csv_rc csv_quoted(struct csv_cur *c, struct csv_val *v)
{
	const char *d = c->d;
	size_t open = c->pos, i = open + 1;
	for (;;) {
		i = find_byte(d, i, c->end, '"');
		if (i == c->end)
			return CSV_BAD; /* unterminated */
		if (i + 1 < c->end && d[i + 1] == '"') {
			i += 2; /* "" */
			continue;
		}
		break;
	}
	if (v != NULL)
		*v = (struct csv_val){ open + 1, i - open - 1, true };
	if (i + 1 == c->end)
		c->done = true;
	else if (d[i + 1] == ',')
		c->pos = i + 2;
	else
		return CSV_BAD; /* "abc"def */
	return CSV_OK;
}

/* Read the next field into v (NULL: skip it). */
static enum csv_rc csv_next(struct csv_cur *c, struct csv_val *v)
{
	if (c->done)
		return CSV_END;
	size_t p = c->pos;
	if (p < c->end && c->d[p] == '"')
		return csv_quoted(c, v);
	size_t i = find_byte(c->d, p, c->end, ',');
	if (v != NULL)
		*v = (struct csv_val){ p, i - p, false };
	if (i == c->end)
		c->done = true;
	else
		c->pos = i + 1;
	return CSV_OK;
}

/* Skip n fields. Runs of unquoted fields go a word at a time: every comma
 * of the word ends one, until a field opens with a quote. */
static enum csv_rc csv_skip(struct csv_cur *c, unsigned n)
{
	const char *d = c->d;
	const size_t end = c->end;
	while (n > 0) {
		if (c->done)
			return CSV_END;
		size_t p = c->pos;
		if (p < end && d[p] == '"') {
			enum csv_rc rc = csv_quoted(c, NULL);
			if (rc != CSV_OK)
				return rc;
			n--;
			continue;
		}
		size_t i = p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		for (; i + 8 <= end; i += 8) {
			uint64_t w;
			memcpy(&w, d + i, 8);
			uint64_t m = eq_bytes(w, 0x2c2c2c2c2c2c2c2cULL); /* ',' */
			while (m != 0) {
				p = i + (size_t)(__builtin_ctzll(m) >> 3) + 1;
				m &= m - 1;
				if (--n == 0 || (p < end && d[p] == '"')) {
					c->pos = p;
					goto next;
				}
			}
		}
#endif
		for (; i < end; i++) {
			if (d[i] != ',')
				continue;
			p = i + 1;
			if (--n == 0 || (p < end && d[p] == '"')) {
				c->pos = p;
				goto next;
			}
		}
		/* the last field */
		c->done = true;
		n--;
next:;
	}
	return CSV_OK;
}

static bool eq_ci(const char *a, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++) {
		char x = a[i], y = lit[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* ---- columns wanted by the keys ---- */

/* Column content that is not a plain identity value. */
enum col_special {
	COL_PLAIN = 0,
	COL_DESC,  /* PAN-OS SYSTEM Description: names found in its text */
};

struct layout_col {
	uint16_t col;      /* 1-based */
	uint8_t special;   /* enum col_special */
	uint8_t key_len;
	const char *key;   /* key name */
	const char *title; /* column title, for header lines (or NULL) */
};

#define COL(n, special, key, title) { n, special, sizeof(key) - 1, key, title }

struct want {
	uint16_t col;
	uint8_t kind;
	uint8_t special;
	const char *title;
};

/* "<prefix>:<N>" with prefix matching (case-insensitive): N, or 0. */
static unsigned key_col(const struct vdp_key *k, const char *prefix, size_t pl)
{
	if (k->len < pl + 2 || k->name[pl] != ':' || !eq_ci(k->name, pl, prefix))
		return 0;
	unsigned n = 0;
	for (size_t i = pl + 1; i < k->len; i++) {
		if (!vdp_is_digit(k->name[i]) || n > COL_MAX)
			return 0;
		n = n * 10 + (unsigned)(k->name[i] - '0');
	}
	return n <= COL_MAX ? n : 0;
}

/* The columns of a layout that the keys ask for, in column order without
 * duplicates. Returns their number. */
static unsigned want_build(const struct vdp_keys *ks,
			   const struct layout_col *lay, unsigned n_lay,
			   const char *prefix, size_t prefix_len, struct want *w)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ks->n && n < WANT_MAX; i++) {
		const struct vdp_key *k = &ks->k[i];
		struct want x = { 0, k->kind, COL_PLAIN, NULL };
		for (unsigned j = 0; j < n_lay; j++) {
			const struct layout_col *c = &lay[j];
			if (c->key_len == k->len && c->key[0] == k->name[0] &&
			    memcmp(c->key, k->name, k->len) == 0) {
				x.col = c->col;
				x.special = c->special;
				x.title = c->title;
				break;
			}
		}
		if (x.col == 0)
			x.col = (uint16_t)key_col(k, prefix, prefix_len);
		if (x.col == 0)
			continue;
		/* insert in column order; the first key of a column wins */
		unsigned at = n;
		while (at > 0 && w[at - 1].col > x.col)
			at--;
		if (at > 0 && w[at - 1].col == x.col)
			continue;
		memmove(&w[at + 1], &w[at], (n - at) * sizeof(*w));
		w[at] = x;
		n++;
	}
	return n;
}

static bool add_val(struct vdp_fields *out, const struct csv_val *v,
		    unsigned kind)
{
	return vdp_fields_add(out, v->off, v->len, (enum veil_kind)kind,
			      v->quoted ? VDP_ESC_CSV : VDP_ESC_NONE);
}

/* ---- PAN-OS ---- */

/* PAN-OS SYSTEM logs have no user column, but the Description of some
 * events names one: "... for user 'jdoe'. From: ..." (auth, sessions),
 * "..., User name: jdoe, ..." (GlobalProtect events of PAN-OS 8.x/9.0).
 * Report those names: a name runs to the closing quote (first form) or to
 * the next ',' (second form), or to the end of the field. */
static bool desc_names(struct vdp_fields *out, const char *d,
		       const struct csv_val *v, unsigned kind)
{
	static const char q_form[] = "ser '", n_form[] = "ser name: ";
	const size_t ql = sizeof(q_form) - 1, nl = sizeof(n_form) - 1;
	size_t i = v->off, end = v->off + v->len;
	enum vdp_esc esc = v->quoted ? VDP_ESC_CSV : VDP_ESC_NONE;
	while (i < end) {
		if (d[i] != 'u' && d[i] != 'U') {
			i++;
			continue;
		}
		size_t rest = end - i - 1, s, e;
		const char *p = d + i + 1;
		if (rest >= ql && memcmp(p, q_form, ql) == 0) {
			s = i + 1 + ql;
			e = find_byte(d, s, end, '\'');
			i = e < end ? e + 1 : end;
		} else if (rest >= nl && memcmp(p, n_form, nl) == 0) {
			s = i + 1 + nl;
			e = find_byte(d, s, end, ',');
			if (e == end && e > s && d[e - 1] == '.')
				e--; /* the sentence's full stop */
			i = e;
		} else {
			i++;
			continue;
		}
		if (!vdp_fields_add(out, s, e - s, (enum veil_kind)kind, esc))
			return false;
	}
	return true;
}

static const struct layout_col pan_traffic[] = {
	COL(13, COL_PLAIN, "src_user", NULL),
	COL(14, COL_PLAIN, "dst_user", NULL),
	COL(83, COL_PLAIN, "src_host", NULL),
	COL(91, COL_PLAIN, "dst_host", NULL),
};
static const struct layout_col pan_threat[] = {
	COL(13, COL_PLAIN, "src_user", NULL),
	COL(14, COL_PLAIN, "dst_user", NULL),
	COL(51, COL_PLAIN, "sender", NULL),
	COL(53, COL_PLAIN, "recipient", NULL),
	COL(87, COL_PLAIN, "src_host", NULL),
	COL(95, COL_PLAIN, "dst_host", NULL),
};
static const struct layout_col pan_decryption[] = {
	COL(13, COL_PLAIN, "src_user", NULL),
	COL(14, COL_PLAIN, "dst_user", NULL),
	COL(80, COL_PLAIN, "src_host", NULL),
	COL(88, COL_PLAIN, "dst_host", NULL),
};
static const struct layout_col pan_userid[] = {
	COL(10, COL_PLAIN, "user", NULL),
	COL(32, COL_PLAIN, "user_by_source", NULL),
};
static const struct layout_col pan_auth[] = {
	COL(10, COL_PLAIN, "user", NULL),
	COL(11, COL_PLAIN, "normalize_user", NULL),
	COL(41, COL_PLAIN, "src_host", NULL),
};
static const struct layout_col pan_gp[] = {
	COL(13, COL_PLAIN, "src_user", NULL),
	COL(15, COL_PLAIN, "machine_name", NULL),
};
static const struct layout_col pan_hip[] = {
	COL(8, COL_PLAIN, "src_user", NULL),
	COL(10, COL_PLAIN, "machine_name", NULL),
};
static const struct layout_col pan_config[] = {
	COL(8, COL_PLAIN, "host", NULL),
	COL(11, COL_PLAIN, "admin", NULL),
};
static const struct layout_col pan_system[] = {
	COL(15, COL_DESC, "description", NULL),
};

struct pan_type {
	const char *name;  /* as in the Type column */
	const char *key;   /* lowercase, for "<type>:<N>" keys */
	uint8_t name_len, key_len;
	const struct layout_col *cols;
	unsigned n;
};

#define PAN_TYPE(n, k, c) \
	{ n, k, sizeof(n) - 1, sizeof(k) - 1, c, sizeof(c) / sizeof(c[0]) }
static const struct pan_type pan_types[] = {
	PAN_TYPE("TRAFFIC", "traffic", pan_traffic),
	PAN_TYPE("THREAT", "threat", pan_threat),
	PAN_TYPE("DECRYPTION", "decryption", pan_decryption),
	PAN_TYPE("USERID", "userid", pan_userid),
	PAN_TYPE("AUTHENTICATION", "auth", pan_auth),
	PAN_TYPE("AUTH", "auth", pan_auth),
	PAN_TYPE("GLOBALPROTECT", "globalprotect", pan_gp),
	PAN_TYPE("HIPMATCH", "hipmatch", pan_hip),
	PAN_TYPE("HIP-MATCH", "hipmatch", pan_hip),
	PAN_TYPE("CONFIG", "config", pan_config),
	PAN_TYPE("SYSTEM", "system", pan_system),
	{ "IPTAG", "iptag", 5, 5, NULL, 0 },
};
#define N_PAN_TYPES (sizeof(pan_types) / sizeof(pan_types[0]))

/* The columns each log type's keys ask for, made once per source
 * (vdp_parse_ctx.memo): the keys do not change while a source lives. */
struct pan_memo {
	struct {
		bool made;
		uint8_t n;
		struct want w[WANT_MAX];
	} type[N_PAN_TYPES];
};

static const struct pan_type *pan_type_find(const char *s, size_t n)
{
	for (unsigned i = 0; i < N_PAN_TYPES; i++)
		if (pan_types[i].name_len == n &&
		    memcmp(pan_types[i].name, s, n) == 0)
			return &pan_types[i];
	return NULL;
}

#define TYPE_LEN_MAX 24 /* the longest Type value taken as one */

/* Upper-case letters and '-': the shape of a Type value. */
static bool type_shaped(const char *s, size_t n)
{
	if (n < 2 || n > TYPE_LEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-'))
			return false;
	return true;
}

/* "YYYY/MM/DD hh:mm:ss" */
static bool pan_time(const char *s, size_t n)
{
	static const char shape[] = "dddd/dd/dd dd:dd:dd";
	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !vdp_is_digit(s[i]) : s[i] != shape[i])
			return false;
	return true;
}

/* ISO 8601 as PAN-OS writes it with a custom or RFC 5424 time format:
 * "YYYY-MM-DDThh:mm:ss", then optional fractional seconds, then an
 * optional "Z" or "+hh:mm" / "-hh:mm". */
static bool iso_time(const char *s, size_t n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	const size_t k = sizeof(shape) - 1;
	if (n < k || n > k + 16)
		return false;
	for (size_t i = 0; i < k; i++)
		if (shape[i] == 'd' ? !vdp_is_digit(s[i]) : s[i] != shape[i])
			return false;
	size_t i = k;
	if (i < n && s[i] == '.') {
		size_t f = ++i;
		while (i < n && vdp_is_digit(s[i]))
			i++;
		if (i == f)
			return false;
	}
	if (i == n)
		return true;
	if (s[i] == 'Z')
		return i + 1 == n;
	return (s[i] == '+' || s[i] == '-') && n - i == 6 && vdp_is_digit(s[i + 1]) &&
	       vdp_is_digit(s[i + 2]) && s[i + 3] == ':' && vdp_is_digit(s[i + 4]) &&
	       vdp_is_digit(s[i + 5]);
}

static bool any_time(const char *s, size_t n)
{
	return pan_time(s, n) || iso_time(s, n);
}

/* 1 to 20 digits (a 64-bit number) */
static bool all_digits(const char *s, size_t n)
{
	return n <= 20 && vdp_all_digits(s, n);
}

/* A device serial: letters, digits and '-' (hardware and VM-series serials
 * are digits; some cloud firewalls write a name). */
static bool serial_shaped(const char *s, size_t n)
{
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(vdp_is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	return true;
}

/*
 * The leading fields up to Type. The classic head is
 * "FUTURE_USE,Receive Time,Serial,Type" (Type in column 4); releases and
 * relays differ in what comes before the serial: the receive time alone
 * (Type in column 3, often ISO 8601), or a sequence number ahead of the
 * classic head (Type in column 5). So: Type is the first field of its
 * shape in columns 3 to 5, the field before it a serial, the one before
 * that a time, and every field before the time a number or a time (the
 * FUTURE_USE "1", a sequence number, a second time). *type_col is Type's
 * column; the layouts' columns are classic ones and move by type_col - 4.
 * CSV_END: not that head (or the line is shorter); CSV_BAD: a quoted field
 * that cannot be bounded.
 */
#define PAN_HEAD_MAX 5
static enum csv_rc pan_head(struct csv_cur *c, const char *d,
			    struct csv_val f[PAN_HEAD_MAX], unsigned *type_col)
{
	for (unsigned i = 0; i < PAN_HEAD_MAX; i++) {
		enum csv_rc rc = csv_next(c, &f[i]);
		if (rc != CSV_OK)
			return rc;
		if (f[i].quoted)
			return CSV_END; /* none of the head is ever quoted */
		const char *s = d + f[i].off;
		if (i >= 2 && type_shaped(s, f[i].len) &&
		    serial_shaped(d + f[i - 1].off, f[i - 1].len) &&
		    any_time(d + f[i - 2].off, f[i - 2].len)) {
			*type_col = i + 1;
			return CSV_OK;
		}
		/* before the time: numbers and times only */
		if (!all_digits(s, f[i].len) && !any_time(s, f[i].len) &&
		    !(i >= 1 && any_time(d + f[i - 1].off, f[i - 1].len) &&
		      serial_shaped(s, f[i].len)))
			return CSV_END;
	}
	return CSV_END;
}

/* The longest first field pan_head() takes: an ISO 8601 time with
 * fractional seconds and an offset (a number has at most 20 digits). */
#define PAN_FIRST_MAX (sizeof("dddd-dd-ddTdd:dd:dd") - 1 + 16)

/* What pan_head() would find in a few bytes, before it reads the first
 * field of a line that has no comma (this runs on every line of an auto
 * source that the formats before it do not take): the first field is a
 * number or a time, so it starts with a digit, and a comma ends it. */
static bool pan_first_ok(const struct csv_cur *c)
{
	size_t room = c->end - c->pos < PAN_FIRST_MAX + 1 ? c->end - c->pos
							   : PAN_FIRST_MAX + 1;
	return room > 0 && vdp_is_digit(c->d[c->pos]) &&
	       vdp_find1(c->d + c->pos, room, ',') != NULL;
}

static bool panos_detect(const struct vdp_msg *m)
{
	struct csv_cur c;
	struct csv_val f[PAN_HEAD_MAX];
	unsigned tc;
	csv_init(&c, m);
	if (!pan_first_ok(&c))
		return false;
	if (pan_head(&c, m->data, f, &tc) != CSV_OK)
		return false;
	return pan_type_find(m->data + f[tc - 1].off, f[tc - 1].len) != NULL;
}

/* @p detecting: as detect() then parse() would, VDP_NOT_MINE wherever
 * panos_detect() is false (format auto); else the parser of format panos,
 * for which a line with a PAN-OS head that cannot be read is malformed. */
static inline __attribute__((always_inline)) enum vdp_parse_rc
pan_parse(struct vdp_parse_ctx *ctx, const struct vdp_msg *m,
	  struct vdp_fields *out, const bool detecting)
{
	struct csv_cur c;
	struct csv_val head[PAN_HEAD_MAX], v;
	struct want w[WANT_MAX];
	unsigned tc;

	out->n = 0;
	csv_init(&c, m);
	if (detecting && !pan_first_ok(&c))
		return VDP_NOT_MINE;
	enum csv_rc rc = pan_head(&c, m->data, head, &tc);
	if (rc == CSV_BAD)
		return detecting ? VDP_NOT_MINE : VDP_MALFORMED;
	if (rc == CSV_END)
		return VDP_NOT_MINE; /* no Type column: not PAN-OS CSV */
	const char *type = m->data + head[tc - 1].off;
	const struct pan_type *t = pan_type_find(type, head[tc - 1].len);
	if (t == NULL) /* a log type whose columns we don't know */
		return detecting ? VDP_NOT_MINE : VDP_MALFORMED;

	const struct want *wl = w;
	unsigned nw;
	struct pan_memo *memo = NULL;
	if (ctx->memo != NULL && (memo = *ctx->memo) == NULL)
		memo = *ctx->memo = calloc(1, sizeof(*memo)); /* NULL: no memo */
	if (memo != NULL) {
		size_t ti = (size_t)(t - pan_types);
		if (!memo->type[ti].made) {
			memo->type[ti].n = (uint8_t)want_build(ctx->keys, t->cols, t->n,
							       t->key, t->key_len,
							       memo->type[ti].w);
			memo->type[ti].made = true;
		}
		wl = memo->type[ti].w;
		nw = memo->type[ti].n;
	} else {
		nw = want_build(ctx->keys, t->cols, t->n, t->key, t->key_len, w);
	}
	unsigned at = tc; /* fields read so far */
	for (unsigned i = 0; i < nw; i++) {
		/* a classic column number, moved with Type */
		unsigned col = wl[i].col + tc - 4;
		if (col == 0)
			continue; /* a head column that this line lacks */
		if (col <= tc) {
			v = head[col - 1];
		} else {
			rc = csv_skip(&c, col - at - 1);
			if (rc == CSV_OK)
				rc = csv_next(&c, &v);
			if (rc == CSV_BAD)
				return VDP_MALFORMED;
			if (rc == CSV_END)
				break; /* a short line: the columns it has */
			at = col;
		}
		bool ok = wl[i].special == COL_DESC ?
			  desc_names(out, m->data, &v, wl[i].kind) :
			  add_val(out, &v, wl[i].kind);
		if (!ok)
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

static enum vdp_parse_rc panos_parse(struct vdp_parse_ctx *ctx,
				     const struct vdp_msg *m,
				     struct vdp_fields *out)
{
	return pan_parse(ctx, m, out, false);
}

/* detect() and parse() in one: the head is read once, not twice */
static enum vdp_parse_rc panos_detect_parse(struct vdp_parse_ctx *ctx,
					    const struct vdp_msg *m,
					    struct vdp_fields *out)
{
	return pan_parse(ctx, m, out, true);
}

static const char *const panos_users[] = {
	"src_user", "dst_user", "user", "user_by_source", "normalize_user",
	"admin", "sender", "recipient", "description", NULL,
};
static const char *const panos_devices[] = {
	"src_host", "dst_host", "machine_name", "host", NULL,
};

const struct vdp_format vdp_fmt_panos = {
	.name = "panos",
	.detect = panos_detect,
	.parse = panos_parse,
	.detect_parse = panos_detect_parse,
	.default_users = panos_users,
	.default_devices = panos_devices,
};

/* ---- Websense / Forcepoint ---- */

/* veil's Websense layout: the columns of a Forcepoint investigative
 * detail report in this order, as exported to CSV. */
static const struct layout_col ws_cols[] = {
	COL(1, COL_PLAIN, "date", "Date"),
	COL(2, COL_PLAIN, "time", "Time"),
	COL(3, COL_PLAIN, "user", "User"),
	COL(4, COL_PLAIN, "workstation", "Workstation"),
	COL(5, COL_PLAIN, "source_ip", "Source IP"),
	COL(6, COL_PLAIN, "destination_ip", "Destination IP"),
	COL(7, COL_PLAIN, "url_hostname", "URL Hostname"),
	COL(8, COL_PLAIN, "full_url", "Full URL"),
	COL(9, COL_PLAIN, "category", "Category"),
	COL(10, COL_PLAIN, "action", "Action"),
	COL(11, COL_PLAIN, "protocol", "Protocol"),
	COL(12, COL_PLAIN, "port", "Port"),
	COL(13, COL_PLAIN, "bytes_sent", "Bytes Sent"),
	COL(14, COL_PLAIN, "bytes_received", "Bytes Received"),
	COL(15, COL_PLAIN, "hits", "Hits"),
	COL(16, COL_PLAIN, "domain", "Domain"),
	COL(17, COL_PLAIN, "group", "Group"),
	COL(18, COL_PLAIN, "risk_class", "Risk Class"),
};
#define N_WS_COLS (sizeof(ws_cols) / sizeof(ws_cols[0]))

/* 2024-03-01, 2024/03/01, 03/01/2024, 1/3/2024 */
static bool ws_date(const char *s, size_t n)
{
	unsigned digits = 0, seps = 0;
	if (n < 6 || n > 10 || !vdp_is_digit(s[0]) || !vdp_is_digit(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (vdp_is_digit(s[i]))
			digits++;
		else if ((s[i] == '-' || s[i] == '/') && vdp_is_digit(s[i - 1]))
			seps++; /* i > 0: s[0] is a digit */
		else
			return false;
	}
	return seps == 2 && digits >= 4;
}

/* h:mm, hh:mm:ss, with an optional " AM"/" PM" */
static bool ws_time(const char *s, size_t n)
{
	if (n > 3 && (memcmp(s + n - 3, " AM", 3) == 0 ||
		      memcmp(s + n - 3, " PM", 3) == 0))
		n -= 3;
	if (n < 4 || n > 8)
		return false;
	unsigned colons = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':' && i > 0 && vdp_is_digit(s[i - 1]))
			colons++;
		else if (!vdp_is_digit(s[i]))
			return false;
	}
	return (colons == 1 || colons == 2) && vdp_is_digit(s[n - 1]);
}

static bool ws_detect(const struct vdp_msg *m)
{
	struct csv_cur c;
	struct csv_val d, t;
	csv_init(&c, m);
	if (csv_next(&c, &d) != CSV_OK || csv_next(&c, &t) != CSV_OK ||
	    csv_next(&c, NULL) != CSV_OK)
		return false;
	const char *ds = m->data + d.off, *ts = m->data + t.off;
	if (eq_ci(ds, d.len, "date") && eq_ci(ts, t.len, "time"))
		return true; /* the header line */
	return ws_date(ds, d.len) && ws_time(ts, t.len);
}

/* A CSV line read with a layout (or none: only "col:N" keys). A layout
 * whose first column has a title knows its header line by it. */
static enum vdp_parse_rc cols_parse(struct vdp_parse_ctx *ctx,
				    const struct vdp_msg *m, struct vdp_fields *out,
				    const struct layout_col *lay, unsigned n_lay)
{
	struct csv_cur c;
	struct csv_val first, v;
	struct want w[WANT_MAX];

	out->n = 0;
	csv_init(&c, m);
	enum csv_rc rc = csv_next(&c, &first);
	if (rc == CSV_BAD)
		return VDP_MALFORMED;
	/* Every line is read with the layout (detection looked at the date
	 * and time already); the header line is known by its first title. */
	bool header = n_lay > 0 && lay[0].title != NULL &&
		      eq_ci(m->data + first.off, first.len, lay[0].title);

	unsigned nw = want_build(ctx->keys, lay, n_lay, "col", 3, w);
	unsigned at = 1;
	for (unsigned i = 0; i < nw; i++) {
		if (w[i].col == 1) {
			v = first;
		} else {
			rc = csv_skip(&c, w[i].col - at - 1);
			if (rc == CSV_OK)
				rc = csv_next(&c, &v);
			if (rc == CSV_BAD)
				return VDP_MALFORMED;
			if (rc == CSV_END)
				break;
			at = w[i].col;
		}
		/* the header line names its columns: no identity there */
		if (header && w[i].title != NULL &&
		    eq_ci(m->data + v.off, v.len, w[i].title))
			continue;
		if (!add_val(out, &v, w[i].kind))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

static enum vdp_parse_rc ws_parse(struct vdp_parse_ctx *ctx,
				  const struct vdp_msg *m,
				  struct vdp_fields *out)
{
	return cols_parse(ctx, m, out, ws_cols, N_WS_COLS);
}

static const char *const ws_users[] = { "user", NULL };
static const char *const ws_devices[] = { "workstation", NULL };

const struct vdp_format vdp_fmt_websense = {
	.name = "websense",
	.detect = ws_detect,
	.parse = ws_parse,
	.default_users = ws_users,
	.default_devices = ws_devices,
};

/* ---- generic CSV: the columns a source names ("col:N"), any CSV ---- */

static bool csv_never(const struct vdp_msg *m)
{
	(void)m; /* never auto-detected: a source says format = csv */
	return false;
}

static enum vdp_parse_rc csv_generic_parse(struct vdp_parse_ctx *ctx,
					   const struct vdp_msg *m,
					   struct vdp_fields *out)
{
	return cols_parse(ctx, m, out, NULL, 0);
}

const struct vdp_format vdp_fmt_csv = {
	.name = "csv",
	.detect = csv_never,
	.parse = csv_generic_parse,
};
