/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_dp.h
 * The dataplane library: frame log messages, find every user and device
 * identity in them, and rewrite bursts of lines with tokens from one call
 * of the token engine (crypto/). veil-dataplane's lcore loop and the
 * drivers use it; it does no I/O itself.
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

/* ------------------------------------------------------------------ */
/* Framing (framing.c)                                                */
/* ------------------------------------------------------------------ */

enum vdp_framing {
	VDP_FRAME_DATAGRAM,    /**< each feed is one datagram (trailing LF/CR/NUL trimmed) */
	VDP_FRAME_OCTET_COUNT, /**< RFC 6587 3.4.1: "LEN SP MSG", LEN 1-9 digits without
				    a leading zero; LF/CR/NUL between frames skipped */
	VDP_FRAME_LF,          /**< RFC 6587 3.4.2: LF- or NUL-terminated, trailing CRs
				    trimmed */
	VDP_FRAME_TCP_AUTO,    /**< per frame: octet counting if it starts with a digit,
				    else LF (headerless lines that start with a digit,
				    such as bare PAN-OS CSV, need VDP_FRAME_LF) */
	VDP_FRAME_FILE,        /**< LF or CRLF lines of a file (a NUL is data) */
};

struct vdp_framer_stats {
	uint64_t messages;  /**< delivered */
	uint64_t bytes;     /**< fed */
	uint64_t oversize;  /**< messages longer than the maximum, dropped whole */
	uint64_t bad_frame; /**< a bad octet count (the stream fails: at most 1) */
	uint64_t truncated; /**< a partial frame at the end of the stream */
};

struct vdp_framer;
/** @return a framer for one stream, or NULL (ENOMEM, EINVAL: a mode out
 *  of range or @p max_msg outside 1..999999999). The limit applies after
 *  trimming; max_msg bytes are reserved for messages split across feeds. */
struct vdp_framer *vdp_framer_new(enum vdp_framing mode, size_t max_msg);
void vdp_framer_free(struct vdp_framer *f);
/** A complete message; @p msg is valid during the call only. */
typedef void (*vdp_msg_fn)(void *arg, const char *msg, size_t len);
/**
 * Feed the next bytes of the stream; @p cb gets every message completed.
 * @return 0, or -1 when the stream cannot be framed any more (a bad
 *   octet count): the caller closes the connection.
 */
int vdp_framer_feed(struct vdp_framer *f, const char *data, size_t len,
		    vdp_msg_fn cb, void *arg);
/** End of stream: a last unterminated line is delivered (LF, file); a
 *  partial octet-counted frame is counted as truncated. The framer is then
 *  ready for a new stream (a failed one stays failed). */
void vdp_framer_finish(struct vdp_framer *f, vdp_msg_fn cb, void *arg);
const struct vdp_framer_stats *vdp_framer_stats(const struct vdp_framer *f);
/** The length of a datagram's message: trailing LF, CR and NUL trimmed. */
size_t vdp_datagram_len(const char *d, size_t len);

/* ------------------------------------------------------------------ */
/* Sources (source.c)                                                 */
/* ------------------------------------------------------------------ */

/**
 * Why a line was dropped (or a field replaced by the marker); counted per
 * source and reason.
 */
#define VDP_REASON_LIST(X)                                                     \
	X(UNKNOWN_FORMAT, "unknown-format") /* no parser recognized the line */ \
	X(MALFORMED, "malformed")     /* recognized, not safely parseable */   \
	X(TOO_MANY, "too-many-fields") /* more identities than fit a line */   \
	X(BAD_ESCAPE, "bad-escape")   /* an identity value badly escaped */    \
	X(TOO_LONG, "name-too-long")  /* a name longer than 1024 bytes */      \
	X(NO_KEY, "no-key")           /* no key version for the source yet */  \
	X(CRYPTO, "crypto-error")     /* the token engine refused a name */    \
	X(BURST_FULL, "burst-full")   /* token storage of the burst exhausted */ \
	X(FIELDS_NO_IDENTITY, "fields-without-identity") /* a W3C #Fields     \
		line naming no identity column, and the data lines under it */ \
	X(FIELDS_PINNED, "fields-pinned") /* a W3C #Fields line where the      \
		source pins its columns (w3c_fields) */
#define VDP_REASON_ENUM_(name, str) VDP_R_##name,
enum vdp_reason { VDP_REASON_LIST(VDP_REASON_ENUM_) VDP_REASON_COUNT };
/** @return "malformed", ... */
const char *vdp_reason_name(enum vdp_reason r);

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
	uint64_t by_format[24];    /**< lines parsed, by vdp_format_names() index */
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
 *                   websense | json | asa, or a generic extractor:
 *                   kv | csv (keys "col:N") | regex
 *   user_fields     comma-separated keys (key names, JSON paths, column
 *                   names: see docs/formats.md) replacing the format's
 *                   default user keys; device_fields likewise
 *   regex           for format regex: a PCRE2 pattern whose named groups
 *                   user, user2.. and device, device2.. are identities
 *   keep_domain     yes | no: tokenize only the user part of DOMAIN\user
 *                   and user@domain (default no: the whole value)
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

#define VDP_BURST_MAX 256 /**< lines in one burst */

struct vdp_worker;
/**
 * A worker for one thread, serving @p n sources (the list is copied; the
 * sources themselves must outlive the worker). @p engine is the thread's token engine.
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

struct vdp_line {
	const char *data; /**< one framed message, not NUL-terminated */
	uint32_t len;
	uint16_t src;     /**< index of its source */
};

/** A piece of an output line: a run of the input, or a token. */
struct vdp_seg {
	const char *p;
	uint32_t len;
	uint32_t src_off; /**< token: the input bytes it replaced */
	uint32_t src_len;
	bool token;
};

enum vdp_verdict { VDP_FORWARD, VDP_DROP };

struct vdp_out {
	uint8_t verdict;  /**< enum vdp_verdict */
	uint8_t reason;   /**< enum vdp_reason, for a drop */
	uint16_t n_segs;
	uint32_t first_seg;
	uint32_t len;     /**< bytes of the output line */
};

/** The result of a burst; valid until the worker's next burst. */
struct vdp_burst {
	unsigned n;
	struct vdp_out line[VDP_BURST_MAX];
	const struct vdp_seg *segs;
};

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
/** Copy output line @p i into @p buf. @return its length, or 0 if it does
 *  not fit or was dropped. */
size_t vdp_burst_copy(const struct vdp_burst *b, unsigned i, char *buf,
		      size_t cap);

#endif
