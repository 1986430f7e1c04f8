/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * LEEF, IBM QRadar's Log Event Extended Format:
 *
 *   LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
 *   LEEF:2.0|Vendor|Product|Version|EventID|Delim|key=value<Delim>...
 *
 * LEEF 2.0's delimiter field is one character ("^", or a multi-byte one in
 * UTF-8) or its code in hex after "x" or "0x" (1 to 4 digits: "x09",
 * "0x5E", "0x2605" written in UTF-8); an empty field means the default tab.
 * If a '=' comes before the next '|', the sixth field is a pair already and
 * there is no delimiter field; a delimiter field naming no usable character
 * (NUL, '=', a surrogate, "abc") makes the line VDP_MALFORMED. A header field
 * may escape '|' with a backslash.
 *
 * Values are not escaped: a value runs from its key's first '=' to the next
 * delimiter, '=' included, bytes as they are (VDP_ESC_NONE). The key is the
 * run of key characters ([A-Za-z0-9_.[]-]) just before that '=', so stray
 * bytes before a key (" usrName=", "^|usrName=") do not hide it.
 *
 * Some producers separate the pairs with spaces although the header says
 * tab. When the delimiter does not occur at all after the header, the
 * pairs are split the CEF way instead (a value runs up to the next key
 * after a space, a tab or a '|'; white space around a value is not part of
 * it), so that a user key is never read as part of another value.
 *
 * Default identities, from QRadar's predefined attributes: users usrName
 * and accountName; devices identHostName and identNetBios (the names
 * identity events give the user's host), and srcHostName, which many
 * LEEF producers use for the client's host name.
 */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define LEEF_HDR_PIPES  5   /* pipes before the attributes (or delimiter) */

static const char *const leef_users[] = { "usrName", "accountName", NULL };
static const char *const leef_devices[] = { "identHostName", "identNetBios",
					    "srcHostName", NULL };

static bool leef_detect(const struct vdp_msg *m)
{
	return vdp_leef_at(m) >= 0;
}


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The UTF-8 length of a sequence starting with @p c (1 for a stray byte). */
static size_t utf8_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* The character a delimiter field names, whatever it is. */
static bool leef_delim_parse(const char *f, size_t n, char dl[4],
			     size_t *dlen)
{
	size_t h = 0; /* the length of a hex prefix */
	if (n > 2 && f[0] == '0' && (f[1] == 'x' || f[1] == 'X'))
		h = 2;
	else if (n > 1 && (f[0] == 'x' || f[0] == 'X'))
		h = 1;
	if (h > 0 && n - h <= 4) {
		unsigned long cp = 0;
		size_t i;
		for (i = h; i < n && hexval(f[i]) >= 0; i++)
			cp = cp << 4 | (unsigned long)hexval(f[i]);
		if (i == n) {
			if (cp == 0 || cp == '=' || (cp >= 0xd800 && cp <= 0xdfff))
				return false;
			if (cp < 0x80) {
				dl[0] = (char)cp;
				*dlen = 1;
			} else if (cp < 0x800) {
				dl[0] = (char)(0xc0 | cp >> 6);
				dl[1] = (char)(0x80 | (cp & 0x3f));
				*dlen = 2;
			} else {
				dl[0] = (char)(0xe0 | cp >> 12);
				dl[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				dl[2] = (char)(0x80 | (cp & 0x3f));
				*dlen = 3;
			}
			return true;
		}
	}
	if (n == 0) {
		dl[0] = '\t';
		*dlen = 1;
		return true;
	}
	if (n == utf8_len((unsigned char)f[0])) {
		memcpy(dl, f, n);
		*dlen = n;
		return true;
	}
	return false;
}

/*
 * Read a LEEF 2.0 delimiter field f[0..n): empty (the default tab), one
 * character, or "x"/"0x" and 1-4 hex digits; stored as UTF-8 in @p dl.
 * False if it is none of these or names a character that cannot be one:
 * NUL, '=', a surrogate, or a key character (a key cut in two by its
 * delimiter would hide its value).
 */
static bool leef_delim(const char *f, size_t n, char dl[4], size_t *dlen)
{
	if (!leef_delim_parse(f, n, dl, dlen))
		return false;
	return *dlen > 1 || !vdp_hdr_key_char((unsigned char)dl[0]);
}

static inline bool leef_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The key that ends at @p eq: the key characters right before it. */
static size_t leef_key_start(const char *d, size_t from, size_t eq)
{
	size_t k = eq;
	while (k > from && vdp_hdr_key_char((unsigned char)d[k - 1]))
		k--;
	return k;
}

static bool leef_add_trimmed(struct vdp_fields *out, const char *d, size_t s,
			     size_t e, int kind)
{
	while (e > s && leef_space(d[e - 1]))
		e--;
	while (s < e && leef_space(d[s]))
		s++;
	return vdp_fields_add(out, s, e - s, (enum veil_kind)kind,
			      VDP_ESC_NONE);
}

/*
 * Pairs separated by white space (the delimiter is nowhere): a key follows
 * a space, a tab or a '|' and a value runs up to the next key, as in CEF.
 */
static enum vdp_parse_rc leef_spaced(const struct vdp_keys *ks, const char *d,
				     size_t start, size_t len,
				     struct vdp_fields *out)
{
	int kind = -1;
	const uint64_t mask = vdp_keys_len_mask(ks);
	size_t vstart = 0, p = start;
	const char *q;
	while (p < len && (q = vdp_find1(d + p, len - p, '=')) != NULL) {
		size_t eq = (size_t)(q - d), k = leef_key_start(d, start, eq);
		p = eq + 1;
		if (k == eq || (k > start && d[k - 1] != ' ' && d[k - 1] != '\t' &&
				d[k - 1] != '|'))
			continue; /* '=' inside a value */
		if (kind >= 0 && !leef_add_trimmed(out, d, vstart, k - 1, kind))
			return VDP_MALFORMED;
		kind = vdp_keys_find_masked(ks, mask, d + k, eq - k);
		vstart = eq + 1;
	}
	if (kind >= 0 && !leef_add_trimmed(out, d, vstart, len, kind))
		return VDP_MALFORMED;
	return VDP_PARSED;
}

/* The next delimiter dl[0..dlen) in d[p..len), or NULL. */
static const char *find_delim(const char *d, size_t p, size_t len,
			      const char *dl, size_t dlen)
{
	const char *q;
	while (p + dlen <= len && (q = vdp_find1(d + p, len - p, dl[0])) != NULL) {
		size_t i = (size_t)(q - d);
		if (i + dlen > len)
			return NULL;
		if (dlen == 1 || memcmp(q + 1, dl + 1, dlen - 1) == 0)
			return q;
		p = i + 1;
	}
	return NULL;
}

/*
 * Pairs separated by the delimiter dl[0..dlen). The key of a pair is the
 * run of key characters right before its first '=', so that stray bytes
 * before a key (" usrName=", "^|usrName=") do not hide it.
 */
static enum vdp_parse_rc leef_delimited(const struct vdp_keys *ks,
					const char *d, size_t p, size_t len,
					const char *dl, size_t dlen,
					struct vdp_fields *out)
{
	const uint64_t mask = vdp_keys_len_mask(ks);
	for (;;) {
		const char *q = find_delim(d, p, len, dl, dlen);
		size_t end = q != NULL ? (size_t)(q - d) : len;
		const char *eq = vdp_find1(d + p, end - p, '=');
		if (eq != NULL) {
			size_t e = (size_t)(eq - d), k = leef_key_start(d, p, e);
			int kind = e > k ? vdp_keys_find_masked(ks, mask, d + k, e - k)
					 : -1;
			if (kind >= 0 &&
			    !vdp_fields_add(out, e + 1, end - e - 1,
					    (enum veil_kind)kind, VDP_ESC_NONE))
				return VDP_MALFORMED;
		}
		if (q == NULL)
			return VDP_PARSED;
		p = end + dlen;
	}
}

static enum vdp_parse_rc leef_parse(struct vdp_parse_ctx *ctx,
				    const struct vdp_msg *m,
				    struct vdp_fields *out)
{
	long at = vdp_leef_at(m);
	if (at < 0)
		return VDP_NOT_MINE;
	if (ctx->keys == NULL)
		return VDP_MALFORMED; /* no key set: fail closed */
	const char *d = m->data;
	size_t len = m->len, ver = m->body + (size_t)at + 5;
	size_t p = vdp_hdr_pipes(d, ver, len, LEEF_HDR_PIPES);
	if (p == 0)
		return VDP_MALFORMED; /* the attributes cannot be located */
	char dl[4] = { '\t' };
	size_t dlen = 1;
	if (d[ver] == '2') {
		/* the delimiter field runs to the next '|', unless a '='
		 * comes first: then there is none and this is a pair */
		size_t i = p;
		while (i < len && d[i] != '|' && d[i] != '=')
			i++;
		if (i < len && d[i] == '|') {
			if (!leef_delim(d + p, i - p, dl, &dlen))
				return VDP_MALFORMED;
			p = i + 1;
		}
	}
	if (find_delim(d, p, len, dl, dlen) == NULL)
		return leef_spaced(ctx->keys, d, p, len, out);
	return leef_delimited(ctx->keys, d, p, len, dl, dlen, out);
}

const struct vdp_format vdp_fmt_leef = {
	.name = "leef",
	.detect = leef_detect,
	.parse = leef_parse,
	.parse_detects = true,
	.default_users = leef_users,
	.default_devices = leef_devices,
	.free_state = NULL,
};
