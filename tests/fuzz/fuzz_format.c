/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for one log format parser, chosen at build time
 * (-DVDP_FUZZ_FORMAT="cef"): any bytes as one message, through the syslog
 * header parser and then the format's parser with its default keys. The
 * parser's state (W3C #Fields) carries over from input to input, as it does
 * within one source. Checks the rules of dp_pvt.h on every answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"

#ifndef VDP_FUZZ_FORMAT
#error "build with -DVDP_FUZZ_FORMAT=\"name\""
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct vdp_format *fmt;
static struct vdp_keys keys;
static struct vdp_parse_ctx ctx;

static void fini(void)
{
	if (fmt != NULL && fmt->free_state != NULL && ctx.state != NULL)
		fmt->free_state(ctx.state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[4096];
	if (fmt == NULL) {
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
		ctx.keys = &keys;
		atexit(fini);
	}
	struct vdp_msg m = { .data = (const char *)data, .len = size };
	vdp_syslog_parse(&m);
	if (m.body > size || (m.sd_len && m.sd_off + m.sd_len > size))
		abort();
	(void)fmt->detect(&m); /* the same reading rules as parse */
	struct vdp_fields out = { 0 };
	enum vdp_parse_rc rc = fmt->parse(&ctx, &m, &out);
	if (rc != VDP_PARSED && rc != VDP_NOT_MINE && rc != VDP_MALFORMED)
		abort();
	if (rc != VDP_PARSED)
		return 0;
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
	return 0;
}
