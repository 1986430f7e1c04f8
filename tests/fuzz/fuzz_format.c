/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for one log format parser, chosen at build time
 * (-DVDP_FUZZ_FORMAT="cef"): any bytes as one message, through the syslog
 * header parser and then the format's parser with its default keys. The
 * parser's state (W3C #Fields) carries over from input to input, as it does
 * within one source. W3C's parsing also depends on its source's options:
 * each input goes through four contexts (no source options; a #Fields
 * without identity allowed; columns pinned; pinned columns without
 * identity). Checks the rules of dp_pvt.h on every answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"
#include "veil_dp.h"

#ifndef VDP_FUZZ_FORMAT
#error "build with -DVDP_FUZZ_FORMAT=\"name\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCTX 5

static const struct vdp_format *fmt;
static struct vdp_keys keys;
static struct vdp_source *src[NCTX];
static struct vdp_parse_ctx ctx[NCTX];
static unsigned nctx;

static void fini(void)
{
	for (unsigned i = 0; i < nctx; i++) {
		if (fmt->free_state != NULL && ctx[i].state != NULL)
			fmt->free_state(ctx[i].state);
		vdp_source_free(src[i]);
	}
}

static struct vdp_source *source(const char *k1, const char *v1,
				 const char *k2, const char *v2)
{
	char err[200];
	struct vdp_source *s = vdp_source_new("fuzz");
	if (s == NULL || vdp_source_set(s, k1, v1, err, sizeof(err)) != 0 ||
	    (k2 != NULL && vdp_source_set(s, k2, v2, err, sizeof(err)) != 0))
		abort();
	return s;
}

static void init(void)
{
	fmt = vdp_format_find(VDP_FUZZ_FORMAT);
	if (fmt == NULL)
		abort();
	vdp_keys_set(&keys, fmt->default_users, fmt->default_devices);
	if (keys.n == 0) {
		/* a generic extractor (kv, csv): keys a source might name */
		static const char *const u[] = { "user", "col:3", "a.b", NULL };
		static const char *const d[] = { "host", "col:5", NULL };
		vdp_keys_set(&keys, u, d);
	}
	ctx[nctx++] = (struct vdp_parse_ctx){ .keys = &keys };
	if (fmt == &vdp_fmt_w3c) {
		src[nctx] = source("w3c_allow_no_identity", "yes", NULL, NULL);
		src[nctx + 1] = source("w3c_fields",
				       "date time c-ip cs-username cs-uri c-dns",
				       NULL, NULL);
		src[nctx + 2] = source("w3c_fields", "date\ttime\tcs-uri", NULL, NULL);
		/* format auto: header-less lines of the known layouts' shapes */
		src[nctx + 3] = source("format", "auto", NULL, NULL);
		for (unsigned i = nctx; i < nctx + 4; i++)
			ctx[i] = (struct vdp_parse_ctx){ .keys = &keys, .src = src[i] };
		nctx += 4;
	}
	atexit(fini);
}

static void one(struct vdp_parse_ctx *c, const uint8_t *data, size_t size)
{
	static char name[4096];
	struct vdp_msg m = { .data = (const char *)data, .len = size };
	vdp_syslog_parse(&m);
	if (m.body > size || (m.sd_len && m.sd_off + m.sd_len > size))
		abort();
	(void)fmt->detect(&m); /* the same reading rules as parse */
	struct vdp_fields out = { 0 };
	enum vdp_parse_rc rc = fmt->parse(c, &m, &out);
	if (rc != VDP_PARSED && rc != VDP_NOT_MINE && rc != VDP_MALFORMED &&
	    rc != VDP_NO_IDENTITY && rc != VDP_PINNED)
		abort();
	if ((rc == VDP_NO_IDENTITY || rc == VDP_PINNED) && fmt != &vdp_fmt_w3c)
		abort(); /* W3C's answers only */
	if (rc == VDP_PINNED && (c->src == NULL || c->src->w3c_fields == NULL))
		abort();
	if (rc == VDP_NO_IDENTITY && c->src != NULL && c->src->w3c_allow_no_identity)
		abort();
	if (rc != VDP_PARSED)
		return;
	if (out.n > VDP_MAX_FIELDS)
		abort();
	size_t end = 0;
	for (unsigned i = 0; i < out.n; i++) {
		const struct vdp_field *f = &out.f[i];
		if ((size_t)f->off + f->len > size || f->off < end ||
		    f->kind > VEIL_KIND_DEVICE || f->esc >= VDP_ESC__COUNT)
			abort(); /* out of bounds, unsorted, overlapping, bad enum */
		end = (size_t)f->off + f->len;
		/* the value can be read (the core drops the line if not) */
		(void)vdp_unescape((enum vdp_esc)f->esc, (const char *)data + f->off,
				   f->len, name, sizeof(name), NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fmt == NULL)
		init();
	for (unsigned i = 0; i < nctx; i++)
		one(&ctx[i], data, size);
	return 0;
}
