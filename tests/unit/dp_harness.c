/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The harness of the format parser tests (dp_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

#define MAX_SPANS (2 * VDP_MAX_FIELDS)

/* @p hdr + @p marked without the marks, in an exact-size buffer; the
 * spans go to off/slen. */
static char *unmark(const char *hdr, const char *marked, size_t *len,
		    size_t *off, size_t *slen, unsigned *ns)
{
	size_t hl = strlen(hdr), ml = strlen(marked), n = hl;
	char *tmp = malloc(hl + ml + 1);
	assert_non_null(tmp);
	memcpy(tmp, hdr, hl);
	*ns = 0;
	for (size_t i = 0; i < ml;) {
		if (!strncmp(marked + i, OPEN, 2)) {
			assert_true(*ns < MAX_SPANS);
			off[*ns] = n;
			i += 2;
		} else if (!strncmp(marked + i, CLOSE, 2)) {
			slen[*ns] = n - off[*ns];
			(*ns)++;
			i += 2;
		} else {
			tmp[n++] = marked[i++];
		}
	}
	char *msg = malloc(n ? n : 1);
	assert_non_null(msg);
	memcpy(msg, tmp, n);
	free(tmp);
	*len = n;
	return msg;
}

/* The syslog header, as the pipeline finds it; a header the syslog parser
 * cannot read is taken as the test's header. */
static void locate(struct vdp_msg *m, size_t hl)
{
	if (vdp_syslog_parse(m) == VDP_SYSLOG_NONE && m->body == 0)
		m->body = hl;
}

void dp_check_ctx(const struct vdp_format *f, struct vdp_parse_ctx *ctx,
		  const char *hdr, const char *marked, enum vdp_parse_rc rc,
		  const struct dp_want *w, unsigned nw)
{
	size_t off[MAX_SPANS], slen[MAX_SPANS], len;
	unsigned ns;
	char *msg = unmark(hdr, marked, &len, off, slen, &ns);
	assert_int_equal(ns, nw);
	struct vdp_msg m = { .data = msg, .len = len };
	locate(&m, strlen(hdr));
	struct vdp_fields out;
	memset(&out, 0x5a, sizeof(out));
	out.n = 0;
	enum vdp_parse_rc got = f->parse(ctx, &m, &out);
	if (got != rc)
		fail_msg("%s: rc %d, expected %d, for: %.*s", f->name, got, rc,
			 (int)len, msg);
	if (rc != VDP_PARSED) {
		free(msg);
		return;
	}
	if (out.n != nw)
		fail_msg("%s: %u fields, expected %u, for: %.*s", f->name, out.n,
			 nw, (int)len, msg);
	for (unsigned i = 0; i < nw; i++) {
		const struct vdp_field *fl = &out.f[i];
		if (fl->off != off[i] || fl->len != slen[i])
			fail_msg("field %u at %u+%u \"%.*s\", expected %zu+%zu in: %.*s",
				 i, fl->off, fl->len, (int)fl->len, msg + fl->off,
				 off[i], slen[i], (int)len, msg);
		assert_int_equal(fl->kind, w[i].kind);
		assert_int_equal(fl->esc, w[i].esc);
		char name[VEIL_NAME_MAX];
		long n = vdp_unescape((enum vdp_esc)fl->esc, msg + fl->off, fl->len,
				      name, sizeof(name), NULL);
		assert_true(n >= 0);
		if ((size_t)n != strlen(w[i].name) || memcmp(name, w[i].name, (size_t)n))
			fail_msg("field %u reads \"%.*s\", expected \"%s\"", i,
				 (int)n, name, w[i].name);
	}
	free(msg);
}

void dp_check_keys(const struct vdp_format *f, const struct vdp_keys *ks,
		   const char *hdr, const char *marked, enum vdp_parse_rc rc,
		   const struct dp_want *w, unsigned nw)
{
	struct vdp_parse_ctx ctx = { .keys = ks };
	dp_check_ctx(f, &ctx, hdr, marked, rc, w, nw);
	assert_null(ctx.state);
}

struct vdp_keys dp_default_keys(const struct vdp_format *f)
{
	struct vdp_keys ks;
	vdp_keys_set(&ks, f->default_users, f->default_devices);
	return ks;
}

void dp_check(const struct vdp_format *f, const char *hdr, const char *marked,
	      enum vdp_parse_rc rc, const struct dp_want *w, unsigned nw)
{
	struct vdp_keys ks = dp_default_keys(f);
	dp_check_keys(f, &ks, hdr, marked, rc, w, nw);
}

void dp_src_init(struct dp_src *s, const struct vdp_format *f)
{
	s->f = f;
	s->keys = dp_default_keys(f);
	s->ctx = (struct vdp_parse_ctx){ .keys = &s->keys };
}

void dp_src_fini(struct dp_src *s)
{
	if (s->ctx.state != NULL && s->f->free_state != NULL)
		s->f->free_state(s->ctx.state);
	s->ctx.state = NULL;
}

void dp_check_src(struct dp_src *s, const char *hdr, const char *marked,
		  enum vdp_parse_rc rc, const struct dp_want *w, unsigned nw)
{
	dp_check_ctx(s->f, &s->ctx, hdr, marked, rc, w, nw);
}

bool dp_detect(const struct vdp_format *f, const char *hdr, const char *line)
{
	size_t hl = strlen(hdr), ll = strlen(line);
	char *msg = malloc(hl + ll + 1);
	assert_non_null(msg);
	memcpy(msg, hdr, hl);
	memcpy(msg + hl, line, ll);
	struct vdp_msg m = { .data = msg, .len = hl + ll };
	locate(&m, hl);
	bool r = f->detect(&m);
	free(msg);
	return r;
}

enum vdp_parse_rc dp_run(const struct vdp_format *fmt, const struct vdp_keys *ks,
			 const char *line, size_t len, const char *hdr,
			 struct vdp_fields *out)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, line, len);
	struct vdp_msg m = { .data = copy, .len = len };
	vdp_syslog_parse(&m);
	if (m.body == 0 && hdr != NULL)
		m.body = strlen(hdr);
	struct vdp_parse_ctx ctx = { .keys = ks };
	memset(out, 0x5a, sizeof(*out)); /* parse must set n */
	enum vdp_parse_rc rc = fmt->parse(&ctx, &m, out);
	if (ctx.state != NULL && fmt->free_state != NULL)
		fmt->free_state(ctx.state);
	free(copy);
	return rc;
}

size_t dp_after(const char *line, const char *s, unsigned nth)
{
	const char *p = line;
	for (;;) {
		const char *q = strstr(p, s);
		assert_non_null(q);
		if (--nth == 0)
			return (size_t)(q - line) + strlen(s);
		p = q + 1;
	}
}

void dp_field(const char *line, const struct vdp_fields *fs, unsigned i,
	      size_t off, const char *raw, enum veil_kind kind, enum vdp_esc esc,
	      const char *name)
{
	char buf[8192];
	assert_true(i < fs->n);
	const struct vdp_field *f = &fs->f[i];
	assert_int_equal(f->off, off);
	assert_int_equal(f->len, strlen(raw));
	if (f->len > 0)
		assert_memory_equal(line + f->off, raw, f->len);
	assert_int_equal(f->kind, kind);
	assert_int_equal(f->esc, esc);
	long n = vdp_unescape(esc, line + f->off, f->len, buf, sizeof(buf), NULL);
	assert_int_equal(n, (long)strlen(name));
	if (n > 0)
		assert_memory_equal(buf, name, (size_t)n);
}
