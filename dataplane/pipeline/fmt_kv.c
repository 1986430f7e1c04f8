/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The key=value family: FortiGate (FortiOS), Sophos (SFOS/XG, UTM,
 * Cyberoam), SonicWall, Stormshield, WatchGuard and Check Point Log
 * Exporter (syslog format).
 *
 * FortiGate and Sophos share one scanner: space-separated `key=value`
 * tokens, a value either bare (up to the next space, no escapes) or
 * double-quoted (spaces allowed, a backslash escapes the next byte). A
 * token without '=' (a syslog tag left in the body, free text) is skipped.
 *
 * Check Point: `[key:"value"; key2:"value2"; ...]`, with or without the
 * brackets, values quoted with backslash escapes (\" \\ \]); a bare value
 * (`key:value;`) is accepted too.
 *
 * Both scanners make one pass, left to right, and skip quoted values whole,
 * so that a `user=` inside another field's value is never taken for a key.
 * An unterminated quote makes the rest of the message unreadable: if the
 * quoted key is an identity, or an identity key shows up in the rest, the
 * message is VDP_MALFORMED; otherwise the fields found before it stand
 * (devices truncate long lines). A closing quote glued to more text, or
 * for Check Point a pair that does not parse, puts the last value in doubt
 * (a sender that did not escape a backslash before a quote): an identity
 * key inside it makes the message VDP_MALFORMED too.
 */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define DETECT_WINDOW 512 /* bytes of the body that detect() looks at */

/* ---- shared helpers ---- */


/* vdp_keys_find() with a cheap reject: length, then first and last byte
 * (most keys of a line share a length with some identity key). */
static inline int key_kind(const struct vdp_keys *ks, uint64_t mask,
			   const char *k, size_t n)
{
	if (n == 0 || n > VDP_KEY_MAX || !(mask >> n & 1))
		return -1;
	for (unsigned i = 0; i < ks->n; i++) {
		const struct vdp_key *e = &ks->k[i];
		if (e->len == n && e->name[0] == k[0] &&
		    e->name[n - 1] == k[n - 1] && memcmp(e->name, k, n) == 0)
			return e->kind;
	}
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Is there an identity key followed by @p sep anywhere in [from, end)?
 * Used once the structure is lost (a quote that never closes, or a stray
 * one): that text is read as plain text, and any identity key in it is a
 * name that could not be bounded. */
static bool probe_keys(const char *d, size_t from, size_t end, char sep,
		       const struct vdp_keys *ks, uint64_t mask)
{
	size_t p = from;
	while (p < end) {
		const char *s = memchr(d + p, sep, end - p);
		if (s == NULL)
			return false;
		size_t at = (size_t)(s - d), k = at;
		while (k > from && (unsigned char)d[k - 1] > ' ' &&
		       d[k - 1] != '"' && d[k - 1] != sep && d[k - 1] != ';' &&
		       d[k - 1] != '[')
			k--;
		if (key_kind(ks, mask, d + k, at - k) >= 0)
			return true;
		p = at + 1;
	}
	return false;
}

/* Does @p key (with its separator, e.g. "logid=") start a token in the
 * first @p n bytes of @p b? */
static bool has_key(const char *b, size_t n, const char *key)
{
	size_t kl = strlen(key), p = 0;
	while (p + kl <= n) {
		const char *f = vdp_find(b + p, n - p, key, kl);
		if (f == NULL)
			return false;
		size_t at = (size_t)(f - b);
		if (at == 0 || is_space(b[at - 1]) || b[at - 1] == '[' ||
		    b[at - 1] == ';')
			return true;
		p = at + 1;
	}
	return false;
}

/* The body, skipping leading spaces, at most DETECT_WINDOW bytes. */
static const char *detect_window(const struct vdp_msg *m, size_t *n)
{
	size_t b = m->body < m->len ? m->body : m->len;
	while (b < m->len && is_space(m->data[b]))
		b++;
	*n = m->len - b < DETECT_WINDOW ? m->len - b : DETECT_WINDOW;
	return m->data + b;
}

/* ---- key=value (FortiGate, Sophos) ---- */

/* The offset of the first of @p a, @p b (, @p c) in d[p..end), or end:
 * 16 bytes at a time (vdp_scan.h), as a line's tokens run to 10-40 bytes. */
static inline size_t upto2(const char *d, size_t p, size_t end, char a, char b)
{
	const char *q = vdp_find2(d + p, end - p, a, b);
	return q != NULL ? (size_t)(q - d) : end;
}

static inline size_t upto3(const char *d, size_t p, size_t end, char a, char b,
			   char c)
{
	const char *q = vdp_find3(d + p, end - p, a, b, c);
	return q != NULL ? (size_t)(q - d) : end;
}

/* SonicWall's src= and dst= are `address:port:interface:name`, the name
 * (the host name SonicOS resolved) only with name resolution on: the span
 * of that fourth part, or len 0 when there is none. An address with more
 * than three ':' (IPv6) is not split. */
static size_t sw_host(const char *v, size_t vlen, size_t *len)
{
	size_t colons = 0, at = 0;
	for (size_t i = 0; i < vlen; i++)
		if (v[i] == ':' && ++colons == 3)
			at = i + 1;
	*len = colons == 3 ? vlen - at : 0;
	return at;
}

/* The key=value scanner; @p sw: SonicWall, whose src= and dst= values may
 * end with a host name (keys src_host and dst_host). A constant at each
 * call, so that FortiGate's and Sophos's loop has no trace of it. */
static inline __attribute__((always_inline)) enum vdp_parse_rc
kv_scan(struct vdp_parse_ctx *ctx, const struct vdp_msg *m,
	struct vdp_fields *out, const bool sw)
{
	const char *d = m->data;
	const size_t end = m->len;
	const struct vdp_keys *ks = ctx->keys;
	const uint64_t mask = vdp_keys_len_mask(ks);
	size_t p = m->body < end ? m->body : end;
	int src_host = -1, dst_host = -1;
	if (sw) {
		src_host = vdp_keys_find(ks, "src_host", 8);
		dst_host = vdp_keys_find(ks, "dst_host", 8);
	}

	while (p < end) {
		while (p < end && is_space(d[p]))
			p++;
		if (p == end)
			break;
		/* the key: up to '=' within this token */
		size_t k = p;
		p = upto3(d, p, end, '=', ' ', '\t');
		if (p == end || d[p] != '=' || p == k) {
			/* not a key=value token: skip it */
			p = upto2(d, p, end, ' ', '\t');
			continue;
		}
		int kind = key_kind(ks, mask, d + k, p - k);
		p++; /* '=' */
		size_t v, vlen;
		enum vdp_esc esc;
		if (p < end && d[p] == '"') {
			size_t close = vdp_quote_end(d, p + 1, end);
			if (close == SIZE_MAX) {
				if (kind >= 0 ||
				    probe_keys(d, p + 1, end, '=', ks, mask))
					return VDP_MALFORMED;
				return VDP_PARSED;
			}
			v = p + 1;
			vlen = close - v;
			esc = VDP_ESC_BACKSLASH;
			p = close + 1;
			/* a closing quote glued to more text: maybe a sender
			 * that does not escape a backslash before a quote
			 * ("C:\dir\" user=...) and the value ran over keys */
			if (p < end && !is_space(d[p]) &&
			    probe_keys(d, v, close, '=', ks, mask))
				return VDP_MALFORMED;
		} else {
			v = p;
			p = upto2(d, p, end, ' ', '\t');
			vlen = p - v;
			esc = VDP_ESC_NONE;
			if (sw && kind < 0 && v - k == 4 &&
			    (memcmp(d + k, "src", 3) == 0 ||
			     memcmp(d + k, "dst", 3) == 0)) {
				int hk = d[k] == 's' ? src_host : dst_host;
				size_t hl, h = sw_host(d + v, vlen, &hl);
				if (hk >= 0 && hl > 0 &&
				    !vdp_fields_add(out, v + h, hl,
						    (enum veil_kind)hk, esc))
					return VDP_MALFORMED;
			}
		}
		if (kind >= 0 &&
		    !vdp_fields_add(out, v, vlen, (enum veil_kind)kind, esc))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

static enum vdp_parse_rc kv_parse(struct vdp_parse_ctx *ctx,
				  const struct vdp_msg *m,
				  struct vdp_fields *out)
{
	return kv_scan(ctx, m, out, false);
}

static enum vdp_parse_rc sw_parse(struct vdp_parse_ctx *ctx,
				  const struct vdp_msg *m,
				  struct vdp_fields *out)
{
	return kv_scan(ctx, m, out, true);
}

/*
 * FortiGate: every FortiOS log starts with date= (syslog and FortiAnalyzer
 * forwarding alike); other orders (eventtime= first, reordered by a relay)
 * are recognized by logid= together with devid= or devname=.
 */
/* Does the key after `date=... time=...` say Sophos (Cyberoam, SFOS)? */
static bool sophos_after_date(const char *b, size_t n)
{
	size_t p = 0;
	for (unsigned tok = 0; tok < 2; tok++) {
		const char *sp = memchr(b + p, ' ', n - p);
		if (sp == NULL)
			return false;
		p = (size_t)(sp - b) + 1;
		while (p < n && b[p] == ' ')
			p++;
	}
	return (n - p >= 9 && memcmp(b + p, "timezone=", 9) == 0) ||
	       (n - p >= 12 && memcmp(b + p, "device_name=", 12) == 0);
}

static bool fortigate_detect(const struct vdp_msg *m)
{
	size_t n;
	const char *b = detect_window(m, &n);
	/* FortiOS starts with date=; so do Cyberoam and some SFOS lines,
	 * whose users are in keys FortiOS does not have (user_name): those
	 * are Sophos's, known by their third key, timezone= or device_name=
	 * (FortiOS writes tz=, devname=). A look at one key, not a search:
	 * every FortiGate line of an auto source comes here. */
	if (n >= 5 && memcmp(b, "date=", 5) == 0)
		return !sophos_after_date(b, n);
	return has_key(b, n, "logid=") &&
	       (has_key(b, n, "devid=") || has_key(b, n, "devname="));
}

/* Sophos: SFOS/XG (v17 `device="SFW" ... log_id=`, v18+ `device_name=`,
 * Cyberoam `date=... device_name=... log_id=`)
 * or UTM (`id="0001" severity="info" sys="SecureWeb"`). */
static bool sophos_detect(const struct vdp_msg *m)
{
	size_t n;
	const char *b = detect_window(m, &n);
	if (has_key(b, n, "device_name=\"") || has_key(b, n, "log_id=") ||
	    has_key(b, n, "log_type=\""))
		return true;
	return has_key(b, n, "id=\"") && has_key(b, n, "severity=\"") &&
	       has_key(b, n, "sys=\"");
}

/* SonicWall (SonicOS "Default" syslog format): `id=firewall sn=SERIAL
 * time="..." fw=ADDR pri=N c=N m=N ...`; the Syslog ID (id=) may be
 * changed, so the serial, firewall address and message ID decide. */
static bool sonicwall_detect(const struct vdp_msg *m)
{
	size_t n;
	const char *b = detect_window(m, &n);
	return has_key(b, n, "sn=") && has_key(b, n, "fw=") &&
	       has_key(b, n, "m=") && has_key(b, n, "pri=");
}

/* Stormshield Network Security (WELF): `id=firewall time="..." fw="NAME"
 * tz=+0000 startime="..."` begins every record. */
static bool stormshield_detect(const struct vdp_msg *m)
{
	size_t n;
	const char *b = detect_window(m, &n);
	return has_key(b, n, "id=firewall") && has_key(b, n, "fw=") &&
	       has_key(b, n, "startime=");
}

/* WatchGuard Fireware: every log message has a `msg_id="NNNN-NNNN"`,
 * followed by positional words (disposition, interfaces, addresses) and
 * then key="value" pairs. */
static bool watchguard_detect(const struct vdp_msg *m)
{
	size_t n;
	const char *b = detect_window(m, &n);
	const char *k = vdp_find(b, n, "msg_id=\"", 8);
	if (k == NULL || (k > b && !is_space(k[-1])))
		return false;
	size_t i = (size_t)(k - b) + 8;
	/* "3000-0148": four hex digits, '-', four hex digits */
	if (n - i < 10 || k[17] != '"' || k[12] != '-')
		return false;
	for (size_t j = 8; j < 17; j++) {
		char c = k[j];
		if (j != 12 && !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* ---- Check Point Log Exporter ---- */

static bool cp_key_char(char c)
{
	return (unsigned char)c > ' ' && c != ':' && c != ';' && c != '"' &&
	       c != '[' && c != ']' && c != '=';
}

/* Where the Check Point fields may start: the body, or the STRUCTURED-DATA
 * if the syslog header parser took the bracketed block for it. */
static size_t cp_region(const struct vdp_msg *m)
{
	size_t s = m->body < m->len ? m->body : m->len;
	if (m->sd_len > 0 && m->sd_off < s)
		s = m->sd_off;
	return s;
}

/* The first key of the block: the first `key:"` whose key starts the
 * region or follows '[', ' ' or ';'. SIZE_MAX if none. */
static size_t cp_find(const char *d, size_t from, size_t end)
{
	size_t p = from;
	while (p + 1 < end) {
		const char *c = vdp_find(d + p, end - p, ":\"", 2);
		if (c == NULL)
			return SIZE_MAX;
		size_t at = (size_t)(c - d), k = at;
		while (k > from && cp_key_char(d[k - 1]))
			k--;
		if (k < at && (k == from || d[k - 1] == '[' ||
			       is_space(d[k - 1]) || d[k - 1] == ';'))
			return k;
		p = at + 1;
	}
	return SIZE_MAX;
}

static enum vdp_parse_rc cp_parse(struct vdp_parse_ctx *ctx,
				  const struct vdp_msg *m,
				  struct vdp_fields *out)
{
	const char *d = m->data;
	const size_t end = m->len;
	const struct vdp_keys *ks = ctx->keys;
	const uint64_t mask = vdp_keys_len_mask(ks);
	size_t p = cp_find(d, cp_region(m), end);
	if (p == SIZE_MAX)
		return VDP_NOT_MINE;
	size_t last = p; /* the last value read: suspect if the next key breaks */

	while (p < end) {
		while (p < end && (is_space(d[p]) || d[p] == ';'))
			p++;
		if (p == end || d[p] == ']')
			break;
		size_t k = p;
		while (p < end && cp_key_char(d[p]))
			p++;
		if (p == end || d[p] != ':' || p == k) {
			/* lost the structure (maybe at a stray quote in the last
			 * value): nothing from that value on may hide a name */
			if (probe_keys(d, last, end, ':', ks, mask))
				return VDP_MALFORMED;
			return VDP_PARSED;
		}
		int kind = key_kind(ks, mask, d + k, p - k);
		p++; /* ':' */
		size_t v, vlen;
		enum vdp_esc esc;
		if (p < end && d[p] == '"') {
			size_t close = vdp_quote_end(d, p + 1, end);
			if (close == SIZE_MAX) {
				if (kind >= 0 ||
				    probe_keys(d, last, end, ':', ks, mask))
					return VDP_MALFORMED;
				return VDP_PARSED;
			}
			v = p + 1;
			vlen = close - v;
			esc = VDP_ESC_BACKSLASH;
			p = close + 1;
			last = v;
		} else {
			/* a bare value runs to ';' or ']' */
			v = p;
			while (p < end && d[p] != ';' && d[p] != ']')
				p++;
			vlen = p - v;
			while (vlen > 0 && is_space(d[v + vlen - 1]))
				vlen--;
			esc = VDP_ESC_NONE;
		}
		if (kind >= 0 &&
		    !vdp_fields_add(out, v, vlen, (enum veil_kind)kind, esc))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}

/* Check Point: a `key:"value"` block with "; " separators and one of the
 * keys every Log Exporter record has. */
static bool checkpoint_detect(const struct vdp_msg *m)
{
	const char *d = m->data;
	size_t from = cp_region(m);
	/* the block starts right after the header: a bounded look, as
	 * detect() runs on every line of an auto source */
	size_t lim = m->len - from < DETECT_WINDOW ? m->len : from + DETECT_WINDOW;
	size_t k = cp_find(d, from, lim);
	if (k == SIZE_MAX)
		return false;
	size_t n = m->len - k < 2 * DETECT_WINDOW ? m->len - k
						  : 2 * DETECT_WINDOW;
	const char *b = d + k;
	if (vdp_find(b, n, "\";", 2) == NULL)
		return false;
	return has_key(b, n, "action:\"") || has_key(b, n, "product:\"") ||
	       has_key(b, n, "origin:\"") || has_key(b, n, "loguid:\"");
}

/* ---- the formats ---- */

/* FortiOS: `user` (authenticated user), `unauthuser` (FSSO/Kerberos
 * passive identification), `xauthuser` (IPsec XAuth); `srcname` is the
 * client's host name. `devname` is the FortiGate itself: not an identity. */
static const char *const fortigate_users[] = { "user", "unauthuser",
					       "xauthuser", NULL };
static const char *const fortigate_devices[] = { "srcname", NULL };

/* SFOS: `user_name`; UTM: `user`. No device key by default (SFOS has no
 * client host name field; UTM's `device` is a flag, "0"/"1"). */
static const char *const sophos_users[] = { "user_name", "user", NULL };

/* SonicOS: `usr` (the authenticated user of a connection), `user` (SSL VPN
 * and administration events); the host name SonicOS resolved for the
 * source, in src= (src_host). dst= is the server's. `fw` (the firewall's
 * address), `sn` (its serial) and `id` are the appliance's. */
static const char *const sonicwall_users[] = { "usr", "user", NULL };
static const char *const sonicwall_devices[] = { "src_host", NULL };

/* Stormshield: `user` (the authenticated user, or the administrator of
 * l_server/l_system); `srcname`, the source host's object name (often the
 * client's host name). `fw` is the firewall (name or serial). */
static const char *const stormshield_users[] = { "user", NULL };
static const char *const stormshield_devices[] = { "srcname", NULL };

/* WatchGuard: `src_user` and `dst_user` (authenticated users, as
 * user@auth-domain), `user` of authentication and management events. The
 * Firebox's own name is in the syslog header only. */
static const char *const watchguard_users[] = { "src_user", "dst_user", "user",
						NULL };

/* Log Exporter: Identity Awareness names (`src_user_name`,
 * `dst_user_name`) and distinguished names (`src_user_dn`, `dst_user_dn`),
 * the `user` of VPN/URL Filtering logs, the `administrator` of audit logs;
 * the client machine of Identity Awareness: `src_machine_name`,
 * `dst_machine_name`, and `machine` (identity logs of a machine login).
 * `hostname`, `origin` and `originsicname` are the gateway itself: not
 * identities. */
static const char *const checkpoint_users[] = { "src_user_name",
						"dst_user_name", "src_user_dn",
						"dst_user_dn", "user",
						"administrator", NULL };
static const char *const checkpoint_devices[] = { "src_machine_name",
						  "dst_machine_name", "machine",
						  NULL };

const struct vdp_format vdp_fmt_fortigate = {
	.name = "fortigate",
	.detect = fortigate_detect,
	.parse = kv_parse,
	.default_users = fortigate_users,
	.default_devices = fortigate_devices,
};

const struct vdp_format vdp_fmt_sophos = {
	.name = "sophos",
	.detect = sophos_detect,
	.parse = kv_parse,
	.default_users = sophos_users,
	.default_devices = NULL,
};

const struct vdp_format vdp_fmt_sonicwall = {
	.name = "sonicwall",
	.detect = sonicwall_detect,
	.parse = sw_parse,
	.default_users = sonicwall_users,
	.default_devices = sonicwall_devices,
};

const struct vdp_format vdp_fmt_stormshield = {
	.name = "stormshield",
	.detect = stormshield_detect,
	.parse = kv_parse,
	.default_users = stormshield_users,
	.default_devices = stormshield_devices,
};

const struct vdp_format vdp_fmt_watchguard = {
	.name = "watchguard",
	.detect = watchguard_detect,
	.parse = kv_parse,
	.default_users = watchguard_users,
	.default_devices = NULL,
};

const struct vdp_format vdp_fmt_checkpoint = {
	.name = "checkpoint",
	.detect = checkpoint_detect,
	.parse = cp_parse,
	.default_users = checkpoint_users,
	.default_devices = checkpoint_devices,
};

/* ---- generic key=value: the keys a source names, FortiGate's syntax
 * (space-separated, values optionally double-quoted with \" escapes) ---- */

static bool kv_never(const struct vdp_msg *m)
{
	(void)m; /* never auto-detected: a source says format = kv */
	return false;
}

const struct vdp_format vdp_fmt_kv = {
	.name = "kv",
	.detect = kv_never,
	.parse = kv_parse,
};
