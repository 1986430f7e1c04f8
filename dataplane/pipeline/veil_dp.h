/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_dp.h
 * The dataplane's pipeline: find every user and device identity in log
 * messages, and rewrite bursts of lines with tokens from one call of the
 * token engine (crypto/). The messages come framed from the drivers
 * (drivers/veil_msg.h: struct vdp_line in, struct vdp_burst out);
 * veil-dataplane's worker loop uses it; it does no I/O itself.
 *
 * Threading: a struct vdp_worker belongs to one thread (its engine, its
 * scratch memory, its counters). Sources' configurations are read-only once
 * built; per-source parser state lives in the worker.
 */
#ifndef VEIL_DP_H
#define VEIL_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veil_crypto.h"
#include "veil_link.h" /* control/: VEIL_DROP_REASON_LIST */
#include "veil_msg.h" /* drivers/: framing, struct vdp_line, struct vdp_burst */

/* ------------------------------------------------------------------ */
/* Sources (source.c)                                                 */
/* ------------------------------------------------------------------ */

/**
 * Why a line was dropped (or a field replaced by the marker); counted per
 * source and reason. The list is the link's (control/veil_link.h,
 * VEIL_DROP_REASON_LIST), whose DROP_* counters carry these counts to
 * veil-controld: one list, so the two cannot drift apart.
 */
#define VDP_REASON_LIST(X) VEIL_DROP_REASON_LIST(X, )
#define VDP_REASON_ENUM_(name, str) VDP_R_##name,
enum vdp_reason { VDP_REASON_LIST(VDP_REASON_ENUM_) VDP_REASON_COUNT };
/** @return "malformed", ... */
const char *vdp_reason_name(enum vdp_reason r);

#define VDP_MAX_FORMATS 24 /**< room for the formats (vdp_format_names()) */

/** Counters of one source in one worker (no locks: one writer). */
struct vdp_counters {
	uint64_t lines_in;
	uint64_t lines_out;        /**< forwarded (rewritten or not) */
	uint64_t lines_dropped;    /**< sum of drops[] */
	uint64_t lines_unparsed;   /**< forwarded unchanged: on_unknown=forward */
	uint64_t identities;       /**< fields replaced by a token */
	uint64_t identities_kind[2]; /**< the same, by enum veil_kind */
	uint64_t repeats;          /**< other verbatim occurrences replaced */
	uint64_t no_user;          /**< values meaning "no user", left alone */
	uint64_t marked;           /**< fields replaced by the marker */
	uint64_t drops[VDP_REASON_COUNT];
	uint64_t marks[VDP_REASON_COUNT];
	uint64_t by_format[VDP_MAX_FORMATS]; /**< lines parsed, by vdp_format_names()
					   index */
};

struct vdp_source;
/** A source with the defaults: format auto, whole values, drop what
 *  cannot be parsed. @return NULL with errno (EINVAL, ENOMEM). */
struct vdp_source *vdp_source_new(const char *name);
void vdp_source_free(struct vdp_source *s);
/**
 * Set one option, as read from the source's config section:
 *   format          auto | cef | leef | w3c | squid | squid-common |
 *                   fortigate | sophos | juniper | checkpoint | panos |
 *                   websense | json | asa | barracuda | sonicwall |
 *                   stormshield | watchguard | ifilter, or a generic
 *                   extractor: kv | csv (keys "col:N") | regex
 *   user_fields     comma-separated keys (key names, JSON paths, column
 *                   names: see docs/formats.md) replacing the format's
 *                   default user keys; device_fields likewise
 *   regex           for format regex: a PCRE2 pattern whose named groups
 *                   user, user2.. and device, device2.. are identities
 *   keep_domain     yes | no: tokenize only the user part of DOMAIN\user
 *                   and user@domain (default no: the whole value)
 *   strip_domain    yes | no: a user name is encrypted without its domain
 *                   (DOMAIN\user and user@domain -> user) and its token
 *                   replaces the whole value (default no)
 *   normalize_user  lower | none: user names are encrypted with ASCII
 *                   A-Z as a-z (default none); both apply before
 *                   encryption, so resolve returns the normalized name
 *   fields          a known layout (proxysg-main, bcreportermain_v1,
 *                   squid, ncsa) or W3C columns as for w3c_fields
 *   no_user         comma-separated values meaning "no user" (default
 *                   "-,N/A,unknown" plus the empty value; case-insensitive)
 *   replace_repeats yes | no: also replace other verbatim occurrences of
 *                   an identity in the line (default yes)
 *   on_bad_field    drop | marker: a field that cannot be tokenized drops
 *                   the line (default) or becomes VDP_MARKER
 *   on_unknown      drop | forward: a line no parser recognizes (default drop)
 *   w3c_fields      W3C column names, as after "#Fields:", pinned: used from
 *                   the first line, in-band #Fields lines dropped (reason
 *                   fields-pinned); each further w3c_fields line (a config
 *                   continuation line) adds columns
 *   w3c_allow_no_identity  yes | no: adopt a W3C #Fields line that names no
 *                   identity column (default no: it is dropped, and the data
 *                   lines after it, with reason fields-without-identity)
 * @return 0, or -1 with a message in @p err.
 */
int vdp_source_set(struct vdp_source *s, const char *key, const char *value,
		   char *err, size_t errlen);
/** Check the options together, once all are set (w3c_fields against the
 *  format and the identity keys). @return 0, or -1 with a message. */
int vdp_source_check(const struct vdp_source *s, char *err, size_t errlen);
const char *vdp_source_name(const struct vdp_source *s);
/** Names of the formats, in auto-detection order (NULL-terminated). */
const char *const *vdp_format_names(void);

/** What replaces a field that cannot be tokenized, with on_bad_field=marker. */
#define VDP_MARKER "veil-redacted"

/* ------------------------------------------------------------------ */
/* Workers and bursts (pipeline.c)                                    */
/* ------------------------------------------------------------------ */

struct vdp_worker;
/**
 * A worker for one thread, serving @p n sources (the list is copied; the
 * sources themselves must outlive the worker). @p engine is the thread's token
 * engine; NULL makes a worker for vdp_worker_explain() only.
 * @return NULL with errno (EINVAL, ENOMEM).
 */
struct vdp_worker *vdp_worker_new(struct veil_engine *engine,
				  struct vdp_source *const *sources, unsigned n);
void vdp_worker_free(struct vdp_worker *w);
/** The key version to encrypt with for source @p src (NULL: none, lines
 *  are dropped with reason no-key). Takes effect at the next burst. */
void vdp_worker_set_key(struct vdp_worker *w, unsigned src,
			const struct veil_key *key);
const struct vdp_counters *vdp_worker_counters(const struct vdp_worker *w,
					       unsigned src);

/**
 * Lines that change how the next lines of their source are read (a W3C
 * "#Fields" line). Workers that share a source's lines (a pool: bursts go
 * round the workers) must each see them in order: the distributor asks
 * vdp_line_sets_state() of every line (it reads only the source's
 * settings, so any worker of the pool may answer, from any thread), and
 * gives the latest such line of a source to each worker that has not seen
 * it, with vdp_worker_learn() before that worker's next burst. Learning
 * counts nothing and forwards nothing: the worker whose burst held the
 * line counts it.
 */
bool vdp_line_sets_state(const struct vdp_worker *w, const struct vdp_line *ln);
void vdp_worker_learn(struct vdp_worker *w, const struct vdp_line *ln);

/**
 * Rewrite a burst of @p n (<= VDP_BURST_MAX) lines: parse all, collect the
 * identities of the burst, encrypt them in one batch call per field kind,
 * then build each output line as segments of the input and tokens (the
 * input is not copied). The same input line always gives the same output
 * for the same key version.
 * @return the number of lines forwarded.
 */
unsigned vdp_process_burst(struct vdp_worker *w, const struct vdp_line *in,
			   unsigned n, struct vdp_burst *out);

/* ------------------------------------------------------------------ */
/* The preview (veil-dataplane --explain)                             */
/* ------------------------------------------------------------------ */

enum vdp_explain_what {
	VDP_EX_TOKEN = 0, /**< would be replaced by a token */
	VDP_EX_NO_USER,   /**< a "no user" value, left alone */
	VDP_EX_BAD,       /**< cannot be tokenized: reason (the line drops,
			   *   or the field is marked with on_bad_field) */
};

struct vdp_explain_field {
	uint32_t off, len; /**< the raw value's span in the line */
	uint8_t kind;      /**< enum veil_kind */
	uint8_t what;      /**< enum vdp_explain_what */
	uint8_t reason;    /**< enum vdp_reason, for VDP_EX_BAD */
};

struct vdp_explain {
	int format;        /**< index into vdp_format_names(); -1: none (or regex) */
	bool dropped;      /**< the line would be dropped: reason */
	bool unparsed;     /**< forwarded unchanged (on_unknown = forward) */
	uint8_t reason;    /**< enum vdp_reason */
	unsigned n;
	struct vdp_explain_field f[32];
};

/**
 * What the worker would do with one line of source @p src, without a key
 * and without forwarding anything: the format that takes it, its identity
 * fields, and whether (and why) it would be dropped. Lines are read in
 * order: a format's state (W3C's #Fields) carries over as in the worker.
 * A worker made with a NULL engine serves only this (vdp_process_burst()
 * forwards nothing). @return 0, or -1 if @p src is out of range.
 */
int vdp_worker_explain(struct vdp_worker *w, unsigned src, const char *line,
		       size_t len, struct vdp_explain *x);

#endif
