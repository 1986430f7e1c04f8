/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * CEF, ArcSight Common Event Format:
 *
 *   CEF:Version|Device Vendor|Device Product|Device Version|
 *       Device Event Class ID|Name|Severity|Extension
 *
 * The seven header fields escape '|' and '\' with a backslash; they hold no
 * identity. The extension is "key=value" pairs separated by spaces: a value
 * runs up to the next key, a key being [A-Za-z0-9_.[]-]+ after a space (a
 * tab or a stray '|' too) and right before a '='. Values escape '=', '\'
 * and line breaks (\= \\ \n \r, VDP_ESC_CEF_EXT), so a key is never found
 * inside a well-formed value; a key holds no backslash, so "\=" never ends
 * one. An unescaped '=' inside a value ("CN=bob,OU=x", a URL's query) is
 * part of it unless a space and key characters come right before it: then
 * it starts a pair, which errs towards finding more identities.
 *
 * A value's span leaves out the white space around it (ArcSight trims it):
 * the space before the next key is the separator, and " bob " and "bob"
 * are the same user, given the same token; the spaces stay in the line.
 * Custom strings work by name ("cs1" as a user key tokenizes every cs1);
 * the cs1Label that says what cs1 holds is not interpreted.
 *
 * The body may follow a syslog header; "CEF:" may also follow what a
 * header parser left (a host name, a tag "app[12]: ") as long as that
 * prefix holds no '=' or '|', so that no key=value pair hides in it.
 */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define CEF_HDR_PIPES  7   /* unescaped pipes before the extension */

static const char *const cef_users[] = { "suser", "duser", NULL };
static const char *const cef_devices[] = { "shost", NULL };

static bool cef_detect(const struct vdp_msg *m)
{
	return vdp_cef_at(m) >= 0;
}

/* What may come before a key. Only a space is standard; a tab or a '|'
 * (a stray header pipe) also end a value, so that no key hides after one. */
static inline bool cef_sep(char c)
{
	return c == ' ' || c == '\t' || c == '|';
}

static inline bool cef_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Report the value [s, e) without its surrounding white space. */
static bool cef_add(struct vdp_fields *out, const char *d, size_t s, size_t e,
		    int kind)
{
	while (e > s && cef_space(d[e - 1]))
		e--;
	while (s < e && cef_space(d[s]))
		s++;
	return vdp_fields_add(out, s, e - s, (enum veil_kind)kind,
			      VDP_ESC_CEF_EXT);
}

/*
 * The extension in one pass: every '=' right after key characters that
 * follow a separator (or the extension start) starts a pair and ends the
 * previous value before the separator. Walking back from each '=' is
 * linear overall: a walk stops at the first non-key byte, at the previous
 * '=' at the latest.
 */
static enum vdp_parse_rc cef_extension(const struct vdp_keys *ks,
				       const char *d, size_t start, size_t len,
				       struct vdp_fields *out)
{
	int kind = -1; /* of the value being read, -1 if no identity */
	const uint64_t mask = vdp_keys_len_mask(ks);
	size_t vstart = 0, p = start;
	const char *q;
	while (p < len && (q = vdp_find1(d + p, len - p, '=')) != NULL) {
		size_t eq = (size_t)(q - d), k = eq;
		p = eq + 1;
		while (k > start && vdp_hdr_key_char((unsigned char)d[k - 1]))
			k--;
		if (k == eq || (k > start && !cef_sep(d[k - 1])))
			continue; /* '=' inside a value */
		if (kind >= 0 && !cef_add(out, d, vstart, k - 1, kind))
			return VDP_MALFORMED;
		kind = vdp_keys_find_masked(ks, mask, d + k, eq - k);
		vstart = eq + 1;
	}
	if (kind >= 0 && !cef_add(out, d, vstart, len, kind))
		return VDP_MALFORMED;
	return VDP_PARSED;
}

static enum vdp_parse_rc cef_parse(struct vdp_parse_ctx *ctx,
				   const struct vdp_msg *m,
				   struct vdp_fields *out)
{
	long at = vdp_cef_at(m);
	if (at < 0)
		return VDP_NOT_MINE;
	if (ctx->keys == NULL)
		return VDP_MALFORMED; /* no key set: fail closed */
	size_t ext = vdp_hdr_pipes(m->data, m->body + (size_t)at + 4, m->len, CEF_HDR_PIPES);
	if (ext == 0)
		return VDP_MALFORMED; /* the extension cannot be located */
	return cef_extension(ctx->keys, m->data, ext, m->len, out);
}

const struct vdp_format vdp_fmt_cef = {
	.name = "cef",
	.detect = cef_detect,
	.parse = cef_parse,
	.parse_detects = true,
	.default_users = cef_users,
	.default_devices = cef_devices,
	.free_state = NULL,
};
