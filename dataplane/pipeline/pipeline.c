/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The burst pipeline: parse every line of a burst, collect the identities
 * of the burst (each distinct name once), encrypt them with one batch call
 * per field kind, then build every output line as segments: runs of the
 * input and tokens. Nothing of the input is copied.
 *
 * A burst is worked in chunks only when its names would overflow the
 * worker's locked name memory (1 MiB): then the lines so far are finished
 * before the next are parsed. Names are wiped after each chunk.
 *
 * Fail closed: a line whose identities cannot all be found, bounded,
 * unescaped and encrypted is dropped (or, with on_bad_field=marker, the
 * bad field is replaced by VDP_MARKER), and counted with its reason.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_pvt.h"
#include "vdp_scan.h"
#include "veil_dp.h"
#include "veil_name.h" /* the rule veil-controld's lookup applies too */

#define NAME_ARENA   (1u << 20)
#define TOKEN_ARENA  (VDP_BURST_MAX * VDP_MAX_FIELDS * (VEIL_TOKEN_MAX + 16))
#define MAX_ITEMS    (VDP_BURST_MAX * VDP_MAX_FIELDS)
#define HASH_SLOTS   (2 * MAX_ITEMS)     /* a power of two */
#define HASH_SLOTS_MIN 1024               /* 8 KiB: a burst's names, in L1 */
#define MAX_REPEATS  64                   /* per line */
#define SEGS_PER_LINE (2 * (VDP_MAX_FIELDS + MAX_REPEATS) + 1)
#define MIN_REPEAT   3                    /* shorter names are not searched */

struct ident {
	uint32_t off, len;  /* raw span replaced */
	int32_t item;       /* index into items, or -1: the marker */
};

struct line_work {
	uint8_t verdict, reason;
	uint8_t n;          /* identities */
	uint8_t unparsed;   /* forwarded unchanged */
	struct ident id[VDP_MAX_FIELDS];
};

struct vdp_worker {
	struct veil_engine *engine;     /* NULL: a worker for previews only */
	int last_fmt;                   /* the format of the last line parsed */
	bool learning;                  /* vdp_worker_learn: nothing counted */
	unsigned n_src;
	struct vdp_source **src;        /* a copy of the list */
	unsigned *fmt_idx;              /* [src]: index of its format, if fixed */
	const struct veil_key **key;
	struct vdp_counters *cnt;
	void **state;                   /* [src][format] */
	void **memo;                    /* [src][format]: vdp_parse_ctx.memo */
	pcre2_match_data **md;          /* [src], regex sources */

	uint8_t *names;                 /* locked; NAME_ARENA bytes */
	size_t names_used;
	char *tokens;                   /* TOKEN_ARENA bytes */
	size_t tokens_used;
	struct veil_item *items;        /* MAX_ITEMS, by kind: see item_kind */
	uint8_t *item_kind;
	unsigned n_items;
	uint64_t *hash;                 /* HASH_SLOTS: hash << 32 | item + 1; 0 empty */
	uint32_t hash_mask;             /* slots in use - 1: grows with the names */
	uint32_t *hash_used;            /* slot of item k; the slots to clear */
	unsigned n_hash_used;
	struct veil_item *batch;        /* one kind's items for the engine */
	uint32_t *batch_of;
	struct line_work *work;         /* VDP_BURST_MAX */
	struct vdp_seg *segs;           /* VDP_BURST_MAX * SEGS_PER_LINE */
	unsigned n_segs;
	char scratch[VEIL_NAME_MAX + 64];
	uint32_t raw_pos[VEIL_NAME_MAX + 64];
	char norm[VEIL_NAME_MAX];       /* a user name lowered (normalize_user) */
};

struct vdp_worker *vdp_worker_new(struct veil_engine *engine,
				  struct vdp_source *const *sources, unsigned n)
{
	if (sources == NULL || n == 0 || n > 65535) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++)
		if (sources[i] == NULL || (sources[i]->is_regex && sources[i]->re == NULL)) {
			errno = EINVAL; /* format regex without a regex */
			return NULL;
		}
	struct vdp_worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->engine = engine;
	w->n_src = n;
	w->src = calloc(n, sizeof(*w->src));
	if (w->src != NULL)
		memcpy(w->src, sources, n * sizeof(*w->src));
	w->key = calloc(n, sizeof(*w->key));
	w->cnt = calloc(n, sizeof(*w->cnt));
	w->state = calloc((size_t)n * VDP_MAX_FORMATS, sizeof(*w->state));
	w->memo = calloc((size_t)n * VDP_MAX_FORMATS, sizeof(*w->memo));
	w->md = calloc(n, sizeof(*w->md));
	w->fmt_idx = calloc(n, sizeof(*w->fmt_idx));
	w->names = veil_secmem_alloc(NAME_ARENA);
	w->tokens = malloc(TOKEN_ARENA);
	w->items = calloc(MAX_ITEMS, sizeof(*w->items));
	w->item_kind = calloc(MAX_ITEMS, 1);
	w->hash = calloc(HASH_SLOTS, sizeof(*w->hash));
	w->hash_mask = HASH_SLOTS_MIN - 1;
	w->hash_used = calloc(MAX_ITEMS, sizeof(*w->hash_used));
	w->batch = calloc(MAX_ITEMS, sizeof(*w->batch));
	w->batch_of = calloc(MAX_ITEMS, sizeof(*w->batch_of));
	w->work = calloc(VDP_BURST_MAX, sizeof(*w->work));
	w->segs = calloc((size_t)VDP_BURST_MAX * SEGS_PER_LINE, sizeof(*w->segs));
	bool ok = w->src && w->key && w->cnt && w->state && w->memo && w->md && w->fmt_idx &&
		  w->names && w->tokens && w->items && w->item_kind && w->hash && w->hash_used && w->batch &&
		  w->batch_of && w->work && w->segs;
	/* state a source's options give from the first line (W3C's pinned
	 * columns): under format auto, its unclaimed lines go there at once */
	for (unsigned i = 0; ok && i < n; i++)
		for (unsigned f = 0; ok && vdp_formats[f] != NULL; f++)
			if (vdp_formats[f]->new_state != NULL &&
			    vdp_formats[f]->new_state(sources[i], &sources[i]->keys[f],
						      &w->state[(size_t)i * VDP_MAX_FORMATS + f]) != 0)
				ok = false;
	for (unsigned i = 0; ok && i < n; i++)
		if (sources[i]->fmt != NULL) /* looked up once, not per line */
			w->fmt_idx[i] = vdp_format_index(sources[i]->fmt);
	for (unsigned i = 0; ok && i < n; i++)
		if (sources[i]->is_regex &&
		    (w->md[i] = pcre2_match_data_create_from_pattern(sources[i]->re,
								     NULL)) == NULL)
			ok = false;
	if (!ok) {
		vdp_worker_free(w);
		errno = ENOMEM;
		return NULL;
	}
	return w;
}

void vdp_worker_free(struct vdp_worker *w)
{
	if (w == NULL)
		return;
	for (unsigned i = 0; w->state != NULL && i < w->n_src; i++)
		for (unsigned f = 0; f < VDP_MAX_FORMATS && vdp_formats[f]; f++) {
			void *st = w->state[(size_t)i * VDP_MAX_FORMATS + f];
			if (st != NULL && vdp_formats[f]->free_state != NULL)
				vdp_formats[f]->free_state(st);
		}
	for (size_t i = 0; w->memo != NULL && i < (size_t)w->n_src * VDP_MAX_FORMATS; i++)
		free(w->memo[i]);
	free(w->memo);
	for (unsigned i = 0; w->md != NULL && i < w->n_src; i++)
		pcre2_match_data_free(w->md[i]);
	veil_secmem_free(w->names);
	free(w->src);
	free(w->key);
	free(w->cnt);
	free(w->state);
	free(w->md);
	free(w->fmt_idx);
	free(w->tokens);
	free(w->items);
	free(w->item_kind);
	free(w->hash);
	free(w->hash_used);
	free(w->batch);
	free(w->batch_of);
	free(w->work);
	free(w->segs);
	explicit_bzero(w->scratch, sizeof(w->scratch));
	free(w);
}

void vdp_worker_set_key(struct vdp_worker *w, unsigned src,
			const struct veil_key *key)
{
	if (src < w->n_src)
		w->key[src] = key;
}

const struct vdp_counters *vdp_worker_counters(const struct vdp_worker *w,
					       unsigned src)
{
	return src < w->n_src ? &w->cnt[src] : NULL;
}

/* ---- parsing ---- */

typedef enum vdp_parse_rc (*parse_fn)(struct vdp_parse_ctx *ctx,
				      const struct vdp_msg *m,
				      struct vdp_fields *out);

/* Parse with format @p fi by @p parse (its parse or detect_parse). */
static enum vdp_parse_rc parse_by(struct vdp_worker *w, unsigned si,
				  unsigned fi, parse_fn parse,
				  const struct vdp_msg *m, struct vdp_fields *out)
{
	void **st = &w->state[(size_t)si * VDP_MAX_FORMATS + fi];
	struct vdp_parse_ctx ctx = { .keys = &w->src[si]->keys[fi],
				     .src = w->src[si], .state = *st,
				     .memo = &w->memo[(size_t)si * VDP_MAX_FORMATS + fi] };
	out->n = 0;
	enum vdp_parse_rc rc = parse(&ctx, m, out);
	*st = ctx.state;
	w->last_fmt = (int)fi;
	if (rc == VDP_PARSED && fi < VDP_MAX_FORMATS && !w->learning)
		w->cnt[si].by_format[fi]++;
	return rc;
}

static enum vdp_parse_rc parse_with(struct vdp_worker *w, unsigned si,
				    unsigned fi, const struct vdp_msg *m,
				    struct vdp_fields *out)
{
	return parse_by(w, si, fi, vdp_formats[fi]->parse, m, out);
}

/* Find the identity fields of a line with the source's format, or the
 * first format that recognizes it. */
static enum vdp_parse_rc parse_line(struct vdp_worker *w, unsigned si,
				    struct vdp_msg *m, struct vdp_fields *out)
{
	const struct vdp_source *s = w->src[si];
	vdp_syslog_parse(m);
	if (s->is_regex) {
		out->n = 0;
		return vdp_regex_parse(s, w->md[si], m, out);
	}
	if (s->fmt != NULL)
		return parse_with(w, si, w->fmt_idx[si], m, out);
	vdp_hdr_sigs(m); /* CEF's and LEEF's detections in one search */
	for (unsigned f = 0; vdp_formats[f] != NULL; f++) {
		const struct vdp_format *fmt = vdp_formats[f];
		enum vdp_parse_rc rc;
		if (fmt->detect_parse != NULL)
			rc = parse_by(w, si, f, fmt->detect_parse, m, out);
		else if (fmt->parse_detects || fmt->detect(m))
			rc = parse_with(w, si, f, m, out);
		else
			continue;
		if (rc != VDP_NOT_MINE)
			return rc;
	}
	/* a stateful format (W3C after its #Fields) knows its data lines;
	 * W3C also knows the shapes of known layouts without a header */
	for (unsigned f = 0; vdp_formats[f] != NULL; f++) {
		if (w->state[(size_t)si * VDP_MAX_FORMATS + f] == NULL &&
		    !vdp_formats[f]->takes_undetected)
			continue;
		enum vdp_parse_rc rc = parse_with(w, si, f, m, out);
		if (rc != VDP_NOT_MINE)
			return rc;
	}
	return VDP_NOT_MINE;
}

static bool no_user(const struct vdp_source *s, const char *v, size_t n)
{
	if (n == 0)
		return true;
	for (unsigned i = 0; i < s->n_no_user; i++)
		if (s->no_user_len[i] == n && strncasecmp(s->no_user[i], v, n) == 0)
			return true;
	return false;
}

/* A hash for the burst's name table (not cryptographic: a collision only
 * costs a compare). Eight bytes at a time. */
static uint64_t hash_name(const uint8_t *p, size_t n, unsigned kind)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n << 1) ^ kind;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	uint64_t v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* The bytes that make an escape in each kind of value; NULL: none. */
static const char *const esc_chars[VDP_ESC__COUNT] = {
	[VDP_ESC_NONE] = NULL,
	[VDP_ESC_CEF_HDR] = "\\",
	[VDP_ESC_CEF_EXT] = "\\",
	[VDP_ESC_BACKSLASH] = "\\",
	[VDP_ESC_JSON] = "\\",
	[VDP_ESC_CSV] = "\"",
};

/* Twice the slots, the items so far placed again. The table starts small
 * (a burst of a few hundred names probes 8 KiB, not all 128 KiB, which the
 * profile showed missing the cache on every name); hash_used[k] stays the
 * slot of item k, which undoing a line relies on. */
static void hash_grow(struct vdp_worker *w)
{
	for (unsigned k = 0; k < w->n_hash_used; k++)
		w->hash[w->hash_used[k]] = 0;
	w->hash_mask = 2 * w->hash_mask + 1;
	for (unsigned k = 0; k < w->n_items; k++) {
		uint64_t h = hash_name(w->items[k].in, w->items[k].in_len,
				       w->item_kind[k]);
		uint32_t i = (uint32_t)h & w->hash_mask;
		while (w->hash[i] != 0)
			i = (i + 1) & w->hash_mask;
		w->hash[i] = (h & 0xffffffff00000000ull) | (k + 1);
		w->hash_used[k] = i;
	}
}

/* The item of a name, made on first sight in this chunk. */
static int32_t item_for(struct vdp_worker *w, const char *name, size_t n,
			unsigned kind)
{
	uint64_t h = hash_name((const uint8_t *)name, n, kind);
	uint64_t tag = h & 0xffffffff00000000ull;
	for (uint32_t i = (uint32_t)h & w->hash_mask;; i = (i + 1) & w->hash_mask) {
		uint64_t slot = w->hash[i];
		uint32_t v = (uint32_t)slot;
		if (slot == 0) {
			if (w->n_items == MAX_ITEMS || w->names_used + n > NAME_ARENA)
				return -1;
			if (2 * (w->n_items + 1) > w->hash_mask + 1 &&
			    w->hash_mask + 1 < HASH_SLOTS) {
				/* at most half full, as the table of HASH_SLOTS */
				hash_grow(w);
				return item_for(w, name, n, kind);
			}
			uint8_t *dst = w->names + w->names_used;
			memcpy(dst, name, n);
			w->names_used += n;
			struct veil_item *it = &w->items[w->n_items];
			*it = (struct veil_item){ .in = dst, .in_len = n };
			w->item_kind[w->n_items] = (uint8_t)kind;
			w->hash[i] = tag | ++w->n_items;
			w->hash_used[w->n_hash_used++] = i;
			return (int32_t)(w->n_items - 1);
		}
		if ((slot & 0xffffffff00000000ull) != tag)
			continue; /* another name: no need to look at it */
		struct veil_item *it = &w->items[v - 1];
		if (w->item_kind[v - 1] == kind && it->in_len == n &&
		    memcmp(it->in, name, n) == 0)
			return (int32_t)(v - 1);
	}
}

/* A control character: not valid raw inside a JSON string. */
static bool has_ctl(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return true;
	return false;
}

static void line_drop(struct line_work *lw, enum vdp_reason r)
{
	lw->verdict = VDP_DROP;
	lw->reason = (uint8_t)r;
}

/* A field that cannot be tokenized: the line goes, or the field is marked. */
static void bad_field(struct vdp_worker *w, unsigned si, struct line_work *lw,
		      const struct vdp_field *f, enum vdp_reason r)
{
	if (!w->src[si]->marker || r == VDP_R_MALFORMED || r == VDP_R_TOO_MANY) {
		line_drop(lw, r);
		return;
	}
	w->cnt[si].marks[r]++;
	lw->id[lw->n++] = (struct ident){ f->off, f->len, -1 };
}

/* Parse one line into its work record; false if the chunk's name memory
 * is full (the line is parsed again in the next chunk). */
static bool collect(struct vdp_worker *w, const struct vdp_line *ln,
		    struct line_work *lw)
{
	unsigned si = ln->src;
	const struct vdp_source *s = w->src[si];
	struct vdp_msg m = { .data = ln->data, .len = ln->len };
	struct vdp_fields fs;
	unsigned items0 = w->n_items, hash0 = w->n_hash_used;
	size_t names0 = w->names_used;

	memset(lw, 0, offsetof(struct line_work, id));
	lw->verdict = VDP_FORWARD;
	if (w->key[si] == NULL) {
		line_drop(lw, VDP_R_NO_KEY);
		return true;
	}
	enum vdp_parse_rc rc = parse_line(w, si, &m, &fs);
	if (rc == VDP_NOT_MINE) {
		if (s->forward_unknown)
			lw->unparsed = 1;
		else
			line_drop(lw, VDP_R_UNKNOWN_FORMAT);
		return true;
	}
	if (rc == VDP_NO_IDENTITY || rc == VDP_PINNED) {
		line_drop(lw, rc == VDP_PINNED ? VDP_R_FIELDS_PINNED
					       : VDP_R_FIELDS_NO_IDENTITY);
		return true;
	}
	if (rc != VDP_PARSED || fs.n > VDP_MAX_FIELDS) {
		line_drop(lw, rc == VDP_PARSED ? VDP_R_TOO_MANY : VDP_R_MALFORMED);
		return true;
	}
	size_t end = 0;
	for (unsigned i = 0; i < fs.n && lw->verdict == VDP_FORWARD; i++) {
		const struct vdp_field *f = &fs.f[i];
		/* the parser's rules, checked: in bounds, in order, disjoint */
		if ((size_t)f->off + f->len > ln->len || f->off < end ||
		    f->kind > VEIL_KIND_DEVICE || f->esc >= VDP_ESC__COUNT) {
			line_drop(lw, VDP_R_MALFORMED);
			break;
		}
		end = (size_t)f->off + f->len;
		/* most values hold no escape: the name is the raw bytes */
		const char *ec = esc_chars[f->esc], *name = ln->data + f->off;
		bool plain = (ec == NULL || vdp_find1(name, f->len, ec[0]) == NULL) &&
			     (f->esc != VDP_ESC_JSON || !has_ctl(name, f->len));
		long n = plain ? (long)f->len
			       : vdp_unescape((enum vdp_esc)f->esc, name, f->len,
					      w->scratch, sizeof(w->scratch), w->raw_pos);
		if (!plain)
			name = w->scratch;
		if (n < 0) {
			bad_field(w, si, lw, f, f->len > VEIL_NAME_MAX ?
				  VDP_R_TOO_LONG : VDP_R_BAD_ESCAPE);
			continue;
		}
		if (no_user(s, name, (size_t)n)) {
			w->cnt[si].no_user++;
			continue;
		}
		size_t start = 0, len = (size_t)n;
		uint32_t raw_off = f->off, raw_len = f->len;
		if (s->keep_domain) {
			veil_name_user_part(name, &start, &len);
			if (len == 0 || no_user(s, name + start, len)) {
				w->cnt[si].no_user++;
				continue;
			}
			/* plain: output byte i is raw byte i */
			raw_off = f->off + (plain ? (uint32_t)start : w->raw_pos[start]);
			uint32_t raw_end = start + len < (size_t)n
					   ? f->off + (plain ? (uint32_t)(start + len)
							     : w->raw_pos[start + len])
					   : f->off + f->len;
			raw_len = raw_end - raw_off;
		}
		if (f->kind == VEIL_KIND_USER && !s->keep_domain && s->strip_domain) {
			/* the name without its domain; the token still replaces
			 * the whole value */
			veil_name_user_part(name, &start, &len);
			if (len == 0 || no_user(s, name + start, len)) {
				w->cnt[si].no_user++;
				continue;
			}
		}
		if (len > VEIL_NAME_MAX) {
			bad_field(w, si, lw, f, VDP_R_TOO_LONG);
			continue;
		}
		if (f->kind == VEIL_KIND_USER && s->lower_users) {
			veil_name_lower(w->norm, name + start, len);
			name = w->norm;
			start = 0;
		}
		int32_t it = item_for(w, name + start, len, f->kind);
		if (it < 0) {
			/* out of name memory: undo this line, finish the chunk */
			for (unsigned k = hash0; k < w->n_hash_used; k++)
				w->hash[w->hash_used[k]] = 0;
			w->n_hash_used = hash0;
			w->n_items = items0;
			w->names_used = names0;
			return false;
		}
		lw->id[lw->n++] = (struct ident){ raw_off, raw_len, it };
	}
	return true;
}

/* ---- encryption ---- */

/* A token's text before its base32 body: "veil_", the kind, up to 10
 * digits of version and "_" (17 bytes), with room to spare. */
#define TOKEN_HEAD_MAX 24

static size_t token_cap(size_t name_len)
{
	size_t bin = 4 + 16 + veil_padded_len(name_len, true);
	return TOKEN_HEAD_MAX + (bin * 8 + 4) / 5;
}

static void encrypt_items(struct vdp_worker *w, const struct veil_key *key,
			  unsigned kind)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->n_items; i++) {
		if (w->item_kind[i] != kind)
			continue;
		struct veil_item *it = &w->items[i];
		size_t cap = token_cap(it->in_len);
		if (w->tokens_used + cap > TOKEN_ARENA) {
			it->status = VEIL_E_NOSPACE;
			it->out = NULL;
			continue;
		}
		it->out = (uint8_t *)w->tokens + w->tokens_used;
		it->out_cap = cap;
		w->tokens_used += cap;
		w->batch[n] = *it;
		w->batch_of[n++] = i;
	}
	for (unsigned off = 0; off < n; off += VEIL_BATCH_MAX) {
		unsigned m = n - off < VEIL_BATCH_MAX ? n - off : VEIL_BATCH_MAX;
		veil_token_encrypt_batch(w->engine, key, (enum veil_kind)kind,
					 w->batch + off, m);
	}
	for (unsigned j = 0; j < n; j++) {
		struct veil_item *it = &w->items[w->batch_of[j]];
		it->status = w->batch[j].status;
		it->out_len = w->batch[j].out_len;
	}
}

/* ---- output ---- */

/* A byte that continues a name: a repeat must not have one on either
 * side. A table: the repeat search asks at every candidate. */
static const bool id_chars[256] = {
	['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true,
	['_'] = true, ['-'] = true, ['.'] = true, ['@'] = true, ['\\'] = true,
	[0x80 ... 0xff] = true,
};

static inline bool id_char(unsigned char c)
{
	return id_chars[c];
}

static bool add_seg(struct vdp_worker *w, struct vdp_out *o, struct vdp_seg s)
{
	if (s.len == 0 && !s.token)
		return true;
	if (o->n_segs == SEGS_PER_LINE)
		return false;
	w->segs[w->n_segs++] = s;
	o->n_segs++;
	o->len += s.len;
	return true;
}

/* A replacement in an output line: a field's span or a repeat's. */
struct repl {
	uint32_t off, len;
	int32_t item; /* -1: the marker */
	bool repeat;
};

/* memmem for a short name in a short line (vdp_scan.h): glibc's memmem
 * builds a shift table on every call, which costs more than the search. */
static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
	return nl == 0 ? NULL : vdp_find(h, hl, n, nl);
}

static bool overlaps(const struct repl *r, unsigned n, uint32_t off, uint32_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (off < r[i].off + r[i].len && r[i].off < off + len)
			return true;
	return false;
}

/* The occurrences of @p needle between non-name characters that no
 * replacement covers yet, as repeats of item @p it. */
static unsigned scan_repeats(const struct vdp_line *ln, struct repl *r,
			     unsigned n, unsigned lim, const char *needle,
			     size_t nlen, int32_t it)
{
	const char *p = ln->data, *end = ln->data + ln->len;
	while ((size_t)(end - p) >= nlen && n < lim) {
		const char *hit = find(p, (size_t)(end - p), needle, nlen);
		if (hit == NULL)
			break;
		uint32_t at = (uint32_t)(hit - ln->data);
		uint32_t len = (uint32_t)nlen;
		if ((at == 0 || !id_char((unsigned char)ln->data[at - 1])) &&
		    (at + len >= ln->len || !id_char((unsigned char)ln->data[at + len])) &&
		    !overlaps(r, n, at, len)) {
			r[n++] = (struct repl){ at, len, it, true };
			p = hit + len;
		} else
			p = hit + 1;
	}
	return n;
}

/* Other verbatim occurrences of the line's identities, between non-name
 * characters and outside the fields: one scan of the line per name. A
 * source that normalizes user names also has the field's own spelling
 * looked for (JDoe where the name encrypted is jdoe). */
static unsigned find_repeats(struct vdp_worker *w, const struct vdp_line *ln,
			     const struct line_work *lw, struct repl *r, unsigned n)
{
	const struct vdp_source *s = w->src[ln->src];
	const bool spelled = s->lower_users || (s->strip_domain && !s->keep_domain);
	const unsigned lim = n + MAX_REPEATS;
	for (unsigned i = 0; i < lw->n && n < lim; i++) {
		int32_t it = lw->id[i].item;
		if (it < 0)
			continue;
		const struct veil_item *x = &w->items[it];
		bool dup = false; /* the same name twice in the line: one scan */
		for (unsigned k = 0; k < i && !dup; k++)
			dup = lw->id[k].item == it;
		if (dup)
			continue;
		if (x->in_len >= MIN_REPEAT)
			n = scan_repeats(ln, r, n, lim, (const char *)x->in,
					 x->in_len, it);
		const char *raw = ln->data + lw->id[i].off;
		size_t rl = lw->id[i].len;
		if (spelled && w->item_kind[it] == VEIL_KIND_USER &&
		    rl >= MIN_REPEAT &&
		    (rl != x->in_len || memcmp(raw, x->in, rl) != 0))
			n = scan_repeats(ln, r, n, lim, raw, rl, it);
	}
	return n;
}

static void build(struct vdp_worker *w, const struct vdp_line *ln,
		  struct line_work *lw, struct vdp_out *o)
{
	struct vdp_counters *c = &w->cnt[ln->src];
	/* an identity the engine refused: the line (or the field) goes */
	for (unsigned i = 0; lw->verdict == VDP_FORWARD && i < lw->n; i++) {
		int32_t it = lw->id[i].item;
		if (it >= 0 && w->items[it].status != VEIL_OK) {
			enum vdp_reason r = w->items[it].status == VEIL_E_NOSPACE
					    ? VDP_R_BURST_FULL : VDP_R_CRYPTO;
			if (w->src[ln->src]->marker && r == VDP_R_CRYPTO) {
				lw->id[i].item = -1;
				c->marks[r]++;
			} else
				line_drop(lw, r);
		}
	}
	memset(o, 0, sizeof(*o));
	o->first_seg = w->n_segs;
	if (lw->verdict == VDP_DROP) {
		o->verdict = VDP_DROP;
		o->reason = lw->reason;
		c->drops[lw->reason]++;
		c->lines_dropped++;
		return;
	}
	struct repl r[VDP_MAX_FIELDS + MAX_REPEATS];
	unsigned nr = 0;
	for (unsigned i = 0; i < lw->n; i++)
		r[nr++] = (struct repl){ lw->id[i].off, lw->id[i].len, lw->id[i].item, false };
	if (w->src[ln->src]->replace_repeats && nr > 0) {
		nr = find_repeats(w, ln, lw, r, nr);
		for (unsigned i = 1; i < nr; i++) /* by offset; few entries */
			for (unsigned j = i; j > 0 && r[j].off < r[j - 1].off; j--) {
				struct repl t = r[j];
				r[j] = r[j - 1];
				r[j - 1] = t;
			}
	}
	unsigned repeats = 0;
	uint32_t cur = 0;
	bool ok = true;
	for (unsigned i = 0; ok && i < nr; i++) {
		ok = add_seg(w, o, (struct vdp_seg){ ln->data + cur, r[i].off - cur, 0, 0, false });
		if (!ok)
			break;
		if (r[i].item < 0) {
			ok = add_seg(w, o, (struct vdp_seg){ VDP_MARKER, sizeof(VDP_MARKER) - 1,
							     r[i].off, r[i].len, true });
			c->marked++;
		} else {
			const struct veil_item *x = &w->items[r[i].item];
			ok = add_seg(w, o, (struct vdp_seg){ (const char *)x->out,
							     (uint32_t)x->out_len,
							     r[i].off, r[i].len, true });
			if (r[i].repeat)
				repeats++;
			else {
				c->identities++;
				c->identities_kind[w->item_kind[r[i].item] & 1]++;
			}
		}
		cur = r[i].off + r[i].len;
	}
	if (ok)
		ok = add_seg(w, o, (struct vdp_seg){ ln->data + cur, ln->len - cur, 0, 0, false });
	if (!ok) { /* more pieces than a line may have: never half-rewritten */
		w->n_segs = o->first_seg;
		memset(o, 0, sizeof(*o));
		o->verdict = VDP_DROP;
		o->reason = VDP_R_TOO_MANY;
		c->drops[VDP_R_TOO_MANY]++;
		c->lines_dropped++;
		return;
	}
	c->repeats += repeats;
	c->lines_out++;
	if (lw->unparsed)
		c->lines_unparsed++;
}

/* Finish lines [from, to): encrypt their items, build them, wipe names. */
static void finish_chunk(struct vdp_worker *w, const struct vdp_line *in,
			 unsigned from, unsigned to, struct vdp_burst *out,
			 const struct veil_key *key)
{
	if (w->n_items > 0 && key != NULL) {
		encrypt_items(w, key, VEIL_KIND_USER);
		encrypt_items(w, key, VEIL_KIND_DEVICE);
	}
	for (unsigned i = from; i < to; i++)
		build(w, &in[i], &w->work[i], &out->line[i]);
	for (unsigned k = 0; k < w->n_hash_used; k++)
		w->hash[w->hash_used[k]] = 0;
	w->n_hash_used = 0;
	w->n_items = 0;
	explicit_bzero(w->names, w->names_used);
	w->names_used = 0;
}

unsigned vdp_process_burst(struct vdp_worker *w, const struct vdp_line *in,
			   unsigned n, struct vdp_burst *out)
{
	if (w->engine == NULL) {
		n = 0; /* a preview worker: nothing is forwarded */
		out->n = 0;
		return 0;
	}
	if (n > VDP_BURST_MAX)
		n = VDP_BURST_MAX;
	w->tokens_used = 0;
	w->n_segs = 0;
	out->n = n;
	out->segs = w->segs;
	unsigned from = 0, forwarded = 0;
	/* one key per chunk: lines of sources with other keys wait for the
	 * next chunk (a burst usually holds one tenant's sources) */
	while (from < n) {
		const struct veil_key *key = NULL;
		unsigned i = from;
		for (; i < n; i++) {
			unsigned si = in[i].src < w->n_src ? in[i].src : 0;
			if (in[i].src >= w->n_src) {
				memset(&w->work[i], 0, offsetof(struct line_work, id));
				line_drop(&w->work[i], VDP_R_NO_KEY);
				continue;
			}
			if (key == NULL)
				key = w->key[si];
			if (w->key[si] != NULL && w->key[si] != key)
				break;
			w->cnt[si].lines_in++;
			if (!collect(w, &in[i], &w->work[i])) {
				w->cnt[si].lines_in--;
				break;
			}
		}
		finish_chunk(w, in, from, i, out, key);
		from = i;
	}
	for (unsigned i = 0; i < n; i++)
		forwarded += out->line[i].verdict == VDP_FORWARD;
	return forwarded;
}

/* ---- state carried by lines, for a pool of workers ---- */

bool vdp_line_sets_state(const struct vdp_worker *w, const struct vdp_line *ln)
{
	if (ln->src >= w->n_src)
		return false;
	const struct vdp_source *s = w->src[ln->src];
	if (s->is_regex || s->w3c_fields != NULL ||
	    (s->fmt != NULL && s->fmt != &vdp_fmt_w3c))
		return false; /* no format of the source reads a #Fields */
	/* most lines have no "#F" or "#f" at all: look before parsing */
	const char *h = memchr(ln->data, '#', ln->len);
	if (h == NULL)
		return false;
	struct vdp_msg m = { .data = ln->data, .len = ln->len };
	vdp_syslog_parse(&m);
	return vdp_w3c_is_fields(&m);
}

void vdp_worker_learn(struct vdp_worker *w, const struct vdp_line *ln)
{
	if (ln->src >= w->n_src || w->key[ln->src] == NULL)
		return; /* as vdp_process_burst: a line without a key is not read */
	struct vdp_msg m = { .data = ln->data, .len = ln->len };
	struct vdp_fields fs;
	w->learning = true;
	(void)parse_line(w, ln->src, &m, &fs);
	w->learning = false;
}

/* ---- the preview (veil-dataplane --explain) ---- */

int vdp_worker_explain(struct vdp_worker *w, unsigned si, const char *line,
		       size_t len, struct vdp_explain *x)
{
	if (si >= w->n_src || len > UINT32_MAX)
		return -1;
	const struct vdp_source *s = w->src[si];
	struct vdp_msg m = { .data = line, .len = len };
	struct vdp_fields fs;
	memset(x, 0, sizeof(*x));
	x->format = -1;
	w->last_fmt = -1;
	enum vdp_parse_rc rc = parse_line(w, si, &m, &fs);
	if (rc != VDP_NOT_MINE && !s->is_regex)
		x->format = w->last_fmt;
	switch (rc) {
	case VDP_NOT_MINE:
		if (s->forward_unknown)
			x->unparsed = true;
		else
			x->dropped = true;
		x->reason = VDP_R_UNKNOWN_FORMAT;
		return 0;
	case VDP_NO_IDENTITY:
	case VDP_PINNED:
		x->dropped = true;
		x->reason = rc == VDP_PINNED ? VDP_R_FIELDS_PINNED
					     : VDP_R_FIELDS_NO_IDENTITY;
		return 0;
	case VDP_MALFORMED:
		x->dropped = true;
		x->reason = VDP_R_MALFORMED;
		return 0;
	case VDP_PARSED:
		break;
	}
	if (fs.n > VDP_MAX_FIELDS) {
		x->dropped = true;
		x->reason = VDP_R_TOO_MANY;
		return 0;
	}
	for (unsigned i = 0; i < fs.n; i++) {
		const struct vdp_field *f = &fs.f[i];
		struct vdp_explain_field *e = &x->f[x->n++];
		*e = (struct vdp_explain_field){ f->off, f->len, f->kind,
						 VDP_EX_TOKEN, 0 };
		if ((size_t)f->off + f->len > len || f->esc >= VDP_ESC__COUNT) {
			x->dropped = true;
			x->reason = VDP_R_MALFORMED;
			return 0;
		}
		long n = vdp_unescape((enum vdp_esc)f->esc, line + f->off, f->len,
				      w->scratch, sizeof(w->scratch), NULL);
		enum vdp_reason bad = VDP_REASON_COUNT;
		if (n < 0)
			bad = f->len > VEIL_NAME_MAX ? VDP_R_TOO_LONG : VDP_R_BAD_ESCAPE;
		else if (no_user(s, w->scratch, (size_t)n))
			e->what = VDP_EX_NO_USER;
		else if ((size_t)n > VEIL_NAME_MAX)
			bad = VDP_R_TOO_LONG;
		if (bad != VDP_REASON_COUNT) {
			e->what = VDP_EX_BAD;
			e->reason = (uint8_t)bad;
			if (!s->marker) {
				x->dropped = true;
				x->reason = (uint8_t)bad;
			}
		}
	}
	return 0;
}
