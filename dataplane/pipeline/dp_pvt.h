/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * What a log format parser sees and what it produces (private to
 * dataplane/). A parser finds the identity fields of one message: for each,
 * the span of raw bytes that the token will replace, the field kind, and how
 * the raw bytes are escaped (the name encrypted is the unescaped value). It
 * never copies, allocates per message, or changes the message.
 *
 * Rules every parser keeps:
 *  - fields are reported in increasing offset order and never overlap;
 *  - a span is the value only (no quotes, no key, no delimiter); an empty
 *    value is reported too (len 0): the core decides what "no user" is;
 *  - an identity the parser sees but cannot bound safely (an unterminated
 *    quote around a user field, more fields than VDP_MAX_FIELDS, text whose
 *    structure is lost and that holds an identity key) makes the message
 *    VDP_MALFORMED, never a partial answer: a name must not leave in clear
 *    because the parser gave up half-way;
 *  - VDP_NOT_MINE only for a line that is clearly not the format: with a
 *    fixed format the pipeline drops it, or forwards it unchanged when the
 *    source says on_unknown = forward;
 *  - parse() may be called without detect(); both read only data[0..len)
 *    (never a NUL after it), and body, sd_off + sd_len are <= len;
 *  - ctx->keys is never NULL and does not change while a source lives;
 *    ctx->src, the source's options, may be NULL (a parser on its own, as
 *    in its unit tests): the defaults apply.
 */
#ifndef VEIL_DP_PVT_H
#define VEIL_DP_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veil_crypto.h" /* enum veil_kind */
#include "veil_dp.h"     /* VDP_MAX_FORMATS */

#define VDP_MAX_FIELDS 32 /* identity fields in one message */
#define VDP_MAX_KEYS   32 /* identity keys of one source and format */
#define VDP_KEY_MAX    63 /* longest key name / JSON path / column name */

/* How the raw bytes of a value are escaped. */
enum vdp_esc {
	VDP_ESC_NONE = 0,  /* the raw bytes are the value */
	VDP_ESC_CEF_HDR,   /* CEF header field: \| -> |, \\ -> \ */
	VDP_ESC_CEF_EXT,   /* CEF extension value: \= \\ \n \r (also \|) */
	VDP_ESC_BACKSLASH, /* quoted values (RFC 5424 SD-PARAM rules, also
			    * FortiOS, Check Point): \" \\ \] -> " \ ];
			    * any other backslash is literal (DOMAIN\user) */
	VDP_ESC_JSON,      /* JSON string content: RFC 8259 escapes, \uXXXX
			    * with surrogate pairs, to UTF-8 */
	VDP_ESC_CSV,       /* inside a double-quoted field (CSV, W3C): "" -> " */
	VDP_ESC__COUNT
};

struct vdp_field {
	uint32_t off;  /* first raw byte of the value, from the message start */
	uint32_t len;  /* raw bytes; the token replaces exactly these */
	uint8_t kind;  /* VEIL_KIND_USER or VEIL_KIND_DEVICE */
	uint8_t esc;   /* enum vdp_esc */
};

struct vdp_fields {
	unsigned n;
	struct vdp_field f[VDP_MAX_FIELDS];
};

/* One identity key: a key name (key=value formats), a JSON path
 * ("a.b.c"), a column name, or a message-specific name (ASA): each format
 * says what its names mean. */
struct vdp_key {
	char name[VDP_KEY_MAX + 1];
	uint8_t len;
	uint8_t kind; /* enum veil_kind */
};

struct vdp_keys {
	unsigned n;
	struct vdp_key k[VDP_MAX_KEYS];
};

/* The kind of @p name in @p ks (exact, case-sensitive), or -1. */
int vdp_keys_find(const struct vdp_keys *ks, const char *name, size_t len);
/* Bit n set when some key of @p ks is n bytes long (n <= VDP_KEY_MAX):
 * made once per message, it rejects most keys of a line without a
 * string compare. */
static inline uint64_t vdp_keys_len_mask(const struct vdp_keys *ks)
{
	uint64_t mask = 0;
	for (unsigned i = 0; i < ks->n; i++)
		mask |= (uint64_t)1 << (ks->k[i].len & 63);
	return mask;
}

/* vdp_keys_find() after the reject by @p mask (vdp_keys_len_mask(ks)). */
static inline int vdp_keys_find_masked(const struct vdp_keys *ks, uint64_t mask,
				       const char *name, size_t len)
{
	if (len > VDP_KEY_MAX || !(mask >> len & 1))
		return -1;
	return vdp_keys_find(ks, name, len);
}

/* Build a key set from a static list; for a format's defaults. */
void vdp_keys_set(struct vdp_keys *ks, const char *const *users,
		  const char *const *devices);

/* Append a field. Returns false when the set is full (the parser then
 * returns VDP_MALFORMED). */
bool vdp_fields_add(struct vdp_fields *fs, size_t off, size_t len,
		    enum veil_kind kind, enum vdp_esc esc);

/* CEF and LEEF headers: the offset just after the @p want -th unescaped
 * '|' from @p p (a pipe is escaped by an odd run of backslashes), or 0 if
 * the header is cut short. */
size_t vdp_hdr_pipes(const char *d, size_t p, size_t len, unsigned want);

/* The closing '"' of a quoted value whose first byte is at @p from (just
 * after the opening quote); a quote after an odd run of backslashes is
 * escaped. Returns its offset, or SIZE_MAX if it never closes. */
size_t vdp_quote_end(const char *d, size_t from, size_t end);

/* Skip a syslog TAG ("squid[12]: ") a header parser may have left at @p p;
 * returns where the message starts (p itself if there is no tag). */
size_t vdp_skip_tag(const char *d, size_t p, size_t end);

/* Where @p m's body starts past such a tag; m->len if it is empty. */
struct vdp_msg;
size_t vdp_body_start(const struct vdp_msg *m);

/* A byte span of a line (an offset and a length). */
struct vdp_span {
	size_t off, len;
};

static inline bool vdp_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* @p n >= 1 ASCII digits. */
static inline bool vdp_all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!vdp_is_digit(s[i]))
			return false;
	return true;
}

/* A character of a CEF/LEEF extension key. */
static inline bool vdp_hdr_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	       c == '[' || c == ']';
}

/* One message as framed, with its syslog header located. */
struct vdp_msg {
	const char *data; /* the whole message, not NUL-terminated */
	size_t len;
	size_t body;      /* offset of the body (after the syslog header) */
	size_t sd_off;    /* RFC 5424 STRUCTURED-DATA, if sd_len > 0 */
	size_t sd_len;
	/* Under format = auto, where "CEF:" and "LEEF:" start in the body
	 * (-1: not there), both found by one search (vdp_hdr_sigs()); while
	 * hdr_sigs is false (0 from an initializer: an explicit format, a
	 * test, the fuzzers) vdp_cef_at()/vdp_leef_at() search for the one
	 * asked. */
	bool hdr_sigs;
	long cef_at, leef_at;
};

/* How far into the body "CEF:" and "LEEF:" may start. */
#define VDP_HDR_PREFIX_MAX 256

/* Set m->cef_at and m->leef_at (and m->hdr_sigs) for the body as it is
 * now, from one search of the body for "EF:", before its first '=' or
 * '|'. */
void vdp_hdr_sigs(struct vdp_msg *m);

/* Where "CEF:<digit>" / "LEEF:" starts in @p m's body (at most
 * VDP_HDR_PREFIX_MAX bytes in, before any '=' or '|'), or -1: m->cef_at /
 * m->leef_at once vdp_hdr_sigs() ran, else the same search for that one
 * signature. */
long vdp_cef_at(const struct vdp_msg *m);
long vdp_leef_at(const struct vdp_msg *m);

enum vdp_parse_rc {
	VDP_PARSED = 0, /* this format; the fields (maybe none) are in out */
	VDP_NOT_MINE,   /* not this format: auto-detection tries another */
	VDP_MALFORMED,  /* this format, but not safely parseable: dropped */
	VDP_NO_IDENTITY, /* W3C: a #Fields line that names no identity column,
			  * or a data line under it: dropped, so that a source
			  * cannot switch its own tokenization off in-band */
	VDP_PINNED,     /* W3C: a #Fields line where the source's columns are
			 * pinned by its config (w3c_fields): dropped */
};

/* Per source and format: the identity keys in effect, the source's
 * options (may be NULL) and the format's own state (W3C's #Fields
 * columns), which the format allocates on first use, or at new_state, and
 * frees with free_state. */
struct vdp_source;
struct vdp_parse_ctx {
	const struct vdp_keys *keys;
	const struct vdp_source *src;
	void *state;
	/* Where the format may keep what it derives from keys alone (PAN-OS:
	 * the columns each log type's keys ask for), allocated by the format
	 * on first use and freed with free() by the caller: the worker keeps
	 * one per source and format. NULL: the caller keeps none (a parser
	 * on its own). Never read to decide what a line is. */
	void **memo;
};

struct vdp_format {
	const char *name; /* as in the config: "cef", "leef", ... */
	/* A cheap look at the body: could this be the format? Used by
	 * auto-detection, in the order of vdp_formats[]. */
	bool (*detect)(const struct vdp_msg *m);
	enum vdp_parse_rc (*parse)(struct vdp_parse_ctx *ctx,
				   const struct vdp_msg *m,
				   struct vdp_fields *out);
	/* The default identity keys (a format whose identities are fixed
	 * by position may ignore ctx->keys). */
	const char *const *default_users;
	const char *const *default_devices;
	void (*free_state)(void *state); /* NULL if stateless */
	/* The state a source's options give from its first line on (W3C's
	 * pinned columns), made when a worker starts so that auto-detection
	 * hands the source's unclaimed lines to the format at once. Sets
	 * *state (NULL: none yet). NULL if no option does. Returns -1 on ENOMEM. */
	int (*new_state)(const struct vdp_source *src,
			 const struct vdp_keys *keys, void **state);
	/* Under format auto, also offered the lines no detect() took, before
	 * it has state (W3C: a data line shaped like a known layout). It
	 * returns VDP_NOT_MINE for those it does not take. */
	bool takes_undetected;
	/* parse() returns VDP_NOT_MINE for every message detect() is false
	 * for (it starts with the same look): auto-detection calls parse()
	 * alone, not the same look twice for the format that takes the line. */
	bool parse_detects;
	/* Under format auto, instead of detect() and then parse(): the same
	 * answer in one call, VDP_NOT_MINE for every message detect() is
	 * false for, for a format whose detection reads what its parser
	 * reads again (PAN-OS's head). NULL: none. */
	enum vdp_parse_rc (*detect_parse)(struct vdp_parse_ctx *ctx,
					  const struct vdp_msg *m,
					  struct vdp_fields *out);
};

/* A W3C column list ("a b c", as after "#Fields:"; @p len bytes): -1 if
 * it has more than 256 columns or 8 KiB of names, else 1 if a column is
 * an identity under @p ks (NULL: none is), 0 if none is. */
int vdp_w3c_check_fields(const struct vdp_keys *ks, const char *list,
			 size_t len);

/* Whether the body of @p m (its syslog header parsed) is a "#Fields"
 * line: the state the source's next W3C lines are read with. */
bool vdp_w3c_is_fields(const struct vdp_msg *m);

/* The columns of a known W3C layout ("proxysg-main",
 * "bcreportermain_v1"), as after "#Fields:", or NULL. */
const char *vdp_w3c_layout(const char *name);

/* Every format, in auto-detection order; NULL-terminated. */
extern const struct vdp_format *const vdp_formats[];
const struct vdp_format *vdp_format_find(const char *name);

extern const struct vdp_format vdp_fmt_cef, vdp_fmt_leef, vdp_fmt_w3c,
	vdp_fmt_squid, vdp_fmt_squid_common, vdp_fmt_fortigate,
	vdp_fmt_sophos, vdp_fmt_juniper, vdp_fmt_checkpoint, vdp_fmt_panos,
	vdp_fmt_websense, vdp_fmt_json, vdp_fmt_asa, vdp_fmt_barracuda,
	vdp_fmt_sonicwall, vdp_fmt_stormshield, vdp_fmt_watchguard,
	vdp_fmt_ifilter, vdp_fmt_kv, vdp_fmt_csv;

/* Unescape @p len raw bytes escaped as @p esc into @p out (at most cap).
 * Returns the unescaped length, or -1 if the raw bytes are not a valid
 * escaped value or do not fit. If raw_pos is not NULL, raw_pos[i] is the
 * raw offset where output byte i came from (cap entries). */
long vdp_unescape(enum vdp_esc esc, const char *raw, size_t len, char *out,
		  size_t cap, uint32_t *raw_pos);

/* ---- sources (source.c) ---- */

#define VDP_MAX_NOUSER  16

struct vdp_source {
	char name[64];
	const struct vdp_format *fmt; /* NULL: auto-detect */
	bool is_regex;
	bool keys_overridden;         /* user_fields/device_fields given */
	struct vdp_keys keys[VDP_MAX_FORMATS]; /* per format index */
	bool keep_domain, replace_repeats, marker, forward_unknown;
	bool strip_domain;            /* users: DOMAIN\user, user@domain -> user */
	bool lower_users;             /* users: A-Z -> a-z (normalize_user) */
	unsigned n_no_user;
	char no_user[VDP_MAX_NOUSER][32];
	uint8_t no_user_len[VDP_MAX_NOUSER];
	void *re;                     /* pcre2_code *, format regex */
	unsigned n_groups;
	struct { uint32_t number; uint8_t kind; } groups[VDP_MAX_FIELDS];
	char user_fields[512], device_fields[512];
	char *w3c_fields;             /* pinned W3C columns, or NULL */
	const struct vdp_format *fields_fmt; /* the format a named layout of
				       * option fields implies (squid, ncsa) */
	bool w3c_allow_no_identity;   /* a #Fields without identities is adopted */
};

/* Index of @p f in vdp_formats[]. */
unsigned vdp_format_index(const struct vdp_format *f);
/* Format regex: the identities of one message (a per-worker match data). */
enum vdp_parse_rc vdp_regex_parse(const struct vdp_source *s, void *match_data,
				  const struct vdp_msg *m, struct vdp_fields *out);

/* ---- syslog header (syslog.c) ---- */

enum vdp_syslog_kind { VDP_SYSLOG_NONE, VDP_SYSLOG_3164, VDP_SYSLOG_5424 };

/* Locate the header of @p m->data: sets body, sd_off, sd_len. A message
 * without a recognizable header is all body (VDP_SYSLOG_NONE). Never
 * fails. */
enum vdp_syslog_kind vdp_syslog_parse(struct vdp_msg *m);

#endif
