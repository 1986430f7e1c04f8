/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * libFuzzer target for the whole rewrite path: the input's lines (split at
 * LF) as one burst through a source on format auto (or regex, kv, csv,
 * json with paths, chosen by the first byte, which also turns keep_domain,
 * replace_repeats and the marker on or off), with the real token engine.
 * Checks on every forwarded line: the text runs and the replaced spans
 * tile the input exactly, every token decrypts, and the output length is
 * the sum of its segments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"
#include "veil_dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct veil_engine *engine;
static struct veil_keyring *ring;
static const struct veil_key *key;
static struct vdp_source *src[8];
static struct vdp_worker *w[8];

static void fini(void)
{
	for (int i = 0; i < 8; i++) {
		vdp_worker_free(w[i]);
		vdp_source_free(src[i]);
	}
	veil_keyring_free(ring);
	veil_engine_free(engine);
}

static void set(struct vdp_source *s, const char *k, const char *v)
{
	char err[200];
	if (vdp_source_set(s, k, v, err, sizeof(err)) != 0)
		abort();
}

static void init(void)
{
	static const uint8_t raw[32] = { 9, 8, 7 };
	engine = veil_engine_new(NULL);
	ring = veil_keyring_new("fuzz");
	struct veil_key *k = veil_key_new(raw, "fuzz", 1);
	if (engine == NULL || ring == NULL || k == NULL || veil_keyring_add(ring, k) != 0)
		abort();
	key = veil_keyring_get(ring, 1);
	static const char *const fmt[8] = { "auto", "auto", "regex", "kv", "csv", "json",
					    "auto", "auto" };
	for (int i = 0; i < 8; i++) {
		src[i] = vdp_source_new("fuzz");
		set(src[i], "format", fmt[i]);
		if (i == 2)
			set(src[i], "regex", "u=(?<user>\\S+)(?:.*d=(?<device>\\S+))?");
		if (i == 3 || i == 4 || i == 5) {
			set(src[i], "user_fields", i == 3 ? "user,u" : i == 4 ? "col:2" : "a.b,u");
			set(src[i], "device_fields", i == 4 ? "col:4" : "host");
		}
		if (i & 1)
			set(src[i], "keep_domain", "yes");
		if (i >= 6) {
			set(src[i], "on_bad_field", "marker");
			set(src[i], "on_unknown", "forward");
			set(src[i], "replace_repeats", i == 6 ? "no" : "yes");
		}
		struct vdp_source *one[1] = { src[i] };
		w[i] = vdp_worker_new(engine, one, 1);
		if (w[i] == NULL)
			abort();
		vdp_worker_set_key(w[i], 0, key);
	}
	atexit(fini);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vdp_line in[VDP_BURST_MAX];
	static struct vdp_burst out;
	if (engine == NULL)
		init();
	if (size < 1)
		return 0;
	unsigned which = data[0] & 7;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	unsigned n = 0;
	while (p < end && n < VDP_BURST_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		in[n++] = (struct vdp_line){ p, (uint32_t)(e - p), 0 };
		p = nl ? nl + 1 : end;
	}
	vdp_process_burst(w[which], in, n, &out);
	for (unsigned i = 0; i < n; i++) {
		const struct vdp_out *o = &out.line[i];
		if (o->verdict != VDP_FORWARD)
			continue;
		const struct vdp_seg *s = out.segs + o->first_seg;
		size_t pos = 0, len = 0;
		for (unsigned k = 0; k < o->n_segs; k++) {
			len += s[k].len;
			if (!s[k].token) {
				if (s[k].p != in[i].data + pos)
					abort(); /* a text run that is not the input's */
				pos += s[k].len;
				continue;
			}
			if (s[k].src_off != pos || s[k].src_off + s[k].src_len > in[i].len)
				abort(); /* a token that does not replace the next span */
			pos += s[k].src_len;
			if (s[k].len == sizeof(VDP_MARKER) - 1 &&
			    memcmp(s[k].p, VDP_MARKER, s[k].len) == 0)
				continue;
			uint8_t name[VEIL_NAME_MAX];
			struct veil_item it = { .in = (const uint8_t *)s[k].p, .in_len = s[k].len,
						.out = name, .out_cap = sizeof(name) };
			if (veil_token_decrypt_batch(engine, ring, VEIL_KIND_ANY, &it, 1) != 1)
				abort(); /* a token that does not decrypt */
		}
		if (pos != in[i].len || len != o->len)
			abort(); /* the pieces do not tile the input */
	}
	return 0;
}
