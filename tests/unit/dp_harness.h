/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The harness of the format parser tests (test_dp_<family>.c). A test line
 * marks each identity span it expects with « and »: the harness strips the
 * marks, runs vdp_syslog_parse() and the parser as the pipeline does, and
 * checks the answer, the exact spans, kinds and escapes, and the unescaped
 * names. Every message is an exact-size heap copy without a NUL after it,
 * so that ASan sees any read past its end. For tests that name offsets
 * themselves: dp_run(), dp_after() and dp_field().
 */
#ifndef VEIL_DP_HARNESS_H
#define VEIL_DP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "dp_pvt.h"

#define OPEN  "\xc2\xab" /* « */
#define CLOSE "\xc2\xbb" /* » */

/* One expected field, in order: kind, escape, and the name unescaped. */
struct dp_want {
	int kind;
	int esc;
	const char *name;
};

#define NW(w) (sizeof(w) / sizeof((w)[0]))
#define DP_U(e, n) { VEIL_KIND_USER, VDP_ESC_##e, n }
#define DP_D(e, n) { VEIL_KIND_DEVICE, VDP_ESC_##e, n }

/* A line of @p f (default keys) and what it must give. */
#define DP_OK(f, hdr, line, ...)                                                \
	do {                                                                    \
		static const struct dp_want w_[] = { __VA_ARGS__ };             \
		dp_check(f, hdr, line, VDP_PARSED, w_, NW(w_));                 \
	} while (0)
#define DP_NONE(f, hdr, line)    dp_check(f, hdr, line, VDP_PARSED, NULL, 0)
#define DP_BAD(f, hdr, line)     dp_check(f, hdr, line, VDP_MALFORMED, NULL, 0)
#define DP_NOTMINE(f, hdr, line) dp_check(f, hdr, line, VDP_NOT_MINE, NULL, 0)
/* the same under a key set of the test's own */
#define DP_OKK(f, ks, hdr, line, ...)                                           \
	do {                                                                    \
		static const struct dp_want w_[] = { __VA_ARGS__ };             \
		dp_check_keys(f, ks, hdr, line, VDP_PARSED, w_, NW(w_));        \
	} while (0)
#define DP_NONEK(f, ks, hdr, line) dp_check_keys(f, ks, hdr, line, VDP_PARSED, NULL, 0)

/*
 * Parse @p hdr followed by @p marked with @p f in @p ctx (the caller's:
 * keys, source, and the format's state across lines) and check the return
 * code; for VDP_PARSED, that the fields are exactly @p w. A header the
 * syslog parser cannot read is taken as @p hdr's length.
 */
void dp_check_ctx(const struct vdp_format *f, struct vdp_parse_ctx *ctx,
		  const char *hdr, const char *marked, enum vdp_parse_rc rc,
		  const struct dp_want *w, unsigned nw);
/* The same under key set @p ks in a fresh context, which a stateless line
 * must leave without state. */
void dp_check_keys(const struct vdp_format *f, const struct vdp_keys *ks,
		   const char *hdr, const char *marked, enum vdp_parse_rc rc,
		   const struct dp_want *w, unsigned nw);
/* The same under the format's default keys. */
void dp_check(const struct vdp_format *f, const char *hdr, const char *marked,
	      enum vdp_parse_rc rc, const struct dp_want *w, unsigned nw);

/* The format's default key set. */
struct vdp_keys dp_default_keys(const struct vdp_format *f);

/* A parser context as a source has one: the format, its keys, and the
 * format's state across the source's lines, in order. */
struct dp_src {
	const struct vdp_format *f;
	struct vdp_keys keys;
	struct vdp_parse_ctx ctx;
};
/* With the format's default keys and no state yet. */
void dp_src_init(struct dp_src *s, const struct vdp_format *f);
/* Free the format's state. */
void dp_src_fini(struct dp_src *s);
/* dp_check_ctx() on the source's context. */
void dp_check_src(struct dp_src *s, const char *hdr, const char *marked,
		  enum vdp_parse_rc rc, const struct dp_want *w, unsigned nw);

#define DP_SRC_OK(s, hdr, line, ...)                                            \
	do {                                                                    \
		static const struct dp_want w_[] = { __VA_ARGS__ };             \
		dp_check_src(s, hdr, line, VDP_PARSED, w_, NW(w_));             \
	} while (0)
#define DP_SRC_NONE(s, hdr, line)    dp_check_src(s, hdr, line, VDP_PARSED, NULL, 0)
#define DP_SRC_BAD(s, hdr, line)     dp_check_src(s, hdr, line, VDP_MALFORMED, NULL, 0)
#define DP_SRC_NOTMINE(s, hdr, line) dp_check_src(s, hdr, line, VDP_NOT_MINE, NULL, 0)

/* f->detect() on @p hdr followed by @p line. */
bool dp_detect(const struct vdp_format *f, const char *hdr, const char *line);

/*
 * Parse the first @p len bytes of @p line with @p fmt under @p ks into
 * @p out (its state freed afterwards). @p hdr (or NULL): the header the
 * line starts with, for when the syslog parser finds none.
 */
enum vdp_parse_rc dp_run(const struct vdp_format *fmt, const struct vdp_keys *ks,
			 const char *line, size_t len, const char *hdr,
			 struct vdp_fields *out);
/* The offset just after the @p nth (1-based) occurrence of @p s in @p line. */
size_t dp_after(const char *line, const char *s, unsigned nth);
/* Field @p i of @p fs is @p raw at @p off, of @p kind and @p esc, and
 * unescapes to @p name. */
void dp_field(const char *line, const struct vdp_fields *fs, unsigned i,
	      size_t off, const char *raw, enum veil_kind kind, enum vdp_esc esc,
	      const char *name);

#endif
