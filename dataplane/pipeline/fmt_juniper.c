/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Juniper SRX (Junos) structured-data syslog: the identities are SD-PARAMs
 * of a `[junos@2636.<platform> name="value" ...]` element, found
 *  - in the RFC 5424 STRUCTURED-DATA (m->sd_off, m->sd_len), the
 *    "sd-syslog" stream mode and `structured-data` host logging, or
 *  - in the body, for the BSD-header form with structured data
 *    (`RT_FLOW: RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 ...]`) and
 *    for relays that prepend a header of their own.
 * SD-PARAM values are quoted, \" \\ \] escaped (read as VDP_ESC_BACKSLASH).
 * Any SD-ID starting with "junos@" counts (the enterprise number is 2636
 * on every Junos device; test data often rewrites it). Other SD elements
 * are skipped. A message without a junos element, such as the unstructured
 * `RT_FLOW_SESSION_CREATE: session created ...` text, is not this format.
 */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define JUNOS_ID     "[junos@"
#define JUNOS_ID_LEN (sizeof(JUNOS_ID) - 1)

struct jscan {
	const char *d;
	const struct vdp_keys *ks;
	uint64_t mask;
	struct vdp_fields *out;
};


/* vdp_keys_find() with a cheap reject: length, then first and last byte. */
static int key_kind(const struct jscan *s, const char *k, size_t n)
{
	if (n == 0 || n > VDP_KEY_MAX || !(s->mask >> n & 1))
		return -1;
	for (unsigned i = 0; i < s->ks->n; i++) {
		const struct vdp_key *e = &s->ks->k[i];
		if (e->len == n && e->name[0] == k[0] &&
		    e->name[n - 1] == k[n - 1] && memcmp(e->name, k, n) == 0)
			return e->kind;
	}
	return -1;
}

/* SD-NAME characters (RFC 5424: printable US-ASCII but '=', SP, ']',
 * '"'), as a table: the name loops are the hot ones. */
#define NC(c)   [c] = ((c) > ' ' && (c) < 0x7f && (c) != '"' && (c) != '=' && \
		       (c) != ']')
#define NC4(c)  NC(c), NC(c + 1), NC(c + 2), NC(c + 3)
#define NC16(c) NC4(c), NC4(c + 4), NC4(c + 8), NC4(c + 12)
#define NC64(c) NC16(c), NC16(c + 16), NC16(c + 32), NC16(c + 48)
static const uint8_t name_tab[256] = { NC64(0), NC64(64), NC64(128),
				       NC64(192) };
#undef NC
#undef NC4
#undef NC16
#undef NC64

static bool name_char(char c)
{
	return name_tab[(unsigned char)c];
}

/* Is an identity parameter name followed by '=' in [from, end)? Used once
 * the element's structure is lost: the rest is read as plain text. */
static bool probe_params(const struct jscan *s, size_t from, size_t end)
{
	const char *d = s->d;
	size_t p = from;
	while (p < end) {
		const char *e = memchr(d + p, '=', end - p);
		if (e == NULL)
			return false;
		size_t at = (size_t)(e - d), k = at;
		while (k > from && name_char(d[k - 1]))
			k--;
		if (key_kind(s, d + k, at - k) >= 0)
			return true;
		p = at + 1;
	}
	return false;
}

enum elem_rc { ELEM_OK, ELEM_BAD, ELEM_MALFORMED };

/*
 * One SD element at d[*pos] == '['. Its parameters are identities only if
 * @p junos. On ELEM_OK *pos is just past the closing ']'. ELEM_BAD: the
 * element does not parse, but nothing after the point where it broke can
 * be an identity (or it is not a junos element); ELEM_MALFORMED: it can.
 */
static enum elem_rc parse_element(const struct jscan *s, size_t *pos,
				  size_t end, bool junos)
{
	const char *d = s->d;
	size_t p = *pos + 1, last;
	while (p < end && name_char(d[p]))
		p++; /* SD-ID */
	last = p; /* the last value read: suspect if the next name breaks */
	for (;;) {
		while (p < end && d[p] == ' ')
			p++;
		if (p == end)
			break;
		if (d[p] == ']') {
			*pos = p + 1;
			return ELEM_OK;
		}
		size_t k = p;
		while (p < end && name_char(d[p]))
			p++;
		if (p == end || d[p] != '=' || p == k)
			break;
		int kind = junos ? key_kind(s, d + k, p - k) : -1;
		p++; /* '=' */
		size_t v, vlen;
		if (p < end && d[p] == '"') {
			size_t close = vdp_quote_end(d, p + 1, end);
			if (close == SIZE_MAX) {
				if (kind >= 0)
					return ELEM_MALFORMED;
				p++;
				break;
			}
			v = p + 1;
			vlen = close - v;
			p = close + 1;
			last = v;
		} else {
			/* an unquoted value (not RFC 5424, seen from relays
			 * that "fix" quotes): cannot bound a name in it */
			if (kind >= 0)
				return ELEM_MALFORMED;
			while (p < end && d[p] != ' ' && d[p] != ']')
				p++;
			continue;
		}
		if (kind >= 0 &&
		    !vdp_fields_add(s->out, v, vlen, (enum veil_kind)kind,
				    VDP_ESC_BACKSLASH))
			return ELEM_MALFORMED;
	}
	/* lost the structure (maybe at a stray quote in the last value):
	 * nothing from that value on may hide an identity */
	if (junos && probe_params(s, last, end))
		return ELEM_MALFORMED;
	return ELEM_BAD;
}

/*
 * The RFC 5424 STRUCTURED-DATA from @p p: consecutive elements, read to
 * their own closing brackets (m->sd_len only says where they start: a
 * header parser that ends an element at an escaped \] must not make a
 * value look shorter). Returns -1 if the message must be dropped, else how
 * many junos elements were read; *endp is where the elements end (the
 * message end if one broke: nothing after it is read as an identity).
 */
static int parse_sd(const struct jscan *s, size_t p, size_t end,
		    size_t *endp)
{
	const char *d = s->d;
	int junos = 0;
	while (p < end && d[p] == '[') {
		bool j = end - p >= JUNOS_ID_LEN &&
			 memcmp(d + p, JUNOS_ID, JUNOS_ID_LEN) == 0;
		enum elem_rc rc = parse_element(s, &p, end, j);
		if (rc == ELEM_MALFORMED)
			return -1;
		if (rc == ELEM_BAD) {
			/* a broken element hides where the next one starts */
			*endp = end;
			if (!j && vdp_find(d + p + 1, end - p - 1, JUNOS_ID,
					 JUNOS_ID_LEN))
				return -1;
			return junos + j;
		}
		junos += j;
	}
	*endp = p;
	return junos;
}

/* junos elements in the text of the body. -1: drop; else how many. */
static int parse_body(const struct jscan *s, size_t p, size_t end)
{
	const char *d = s->d;
	int junos = 0;
	while (p < end) {
		const char *f = vdp_find(d + p, end - p, JUNOS_ID, JUNOS_ID_LEN);
		if (f == NULL)
			break;
		p = (size_t)(f - d);
		enum elem_rc rc = parse_element(s, &p, end, true);
		junos++;
		if (rc == ELEM_MALFORMED)
			return -1;
		if (rc == ELEM_BAD)
			break; /* the rest was searched for names already */
	}
	return junos;
}

static enum vdp_parse_rc juniper_parse(struct vdp_parse_ctx *ctx,
				       const struct vdp_msg *m,
				       struct vdp_fields *out)
{
	struct jscan s = { m->data, ctx->keys, vdp_keys_len_mask(ctx->keys), out };
	size_t body = m->body < m->len ? m->body : m->len;
	int n = 0;
	if (m->sd_len > 0 && m->sd_off < m->len) {
		size_t sd_end;
		n = parse_sd(&s, m->sd_off, m->len, &sd_end);
		if (n < 0)
			return VDP_MALFORMED;
		if (sd_end > body)
			body = sd_end;
	}
	int b = parse_body(&s, body, m->len);
	if (b < 0)
		return VDP_MALFORMED;
	return n + b > 0 ? VDP_PARSED : VDP_NOT_MINE;
}

static bool juniper_detect(const struct vdp_msg *m)
{
	if (m->sd_len > 0 && m->sd_off < m->len &&
	    m->sd_len <= m->len - m->sd_off &&
	    vdp_find(m->data + m->sd_off, m->sd_len, JUNOS_ID, JUNOS_ID_LEN))
		return true;
	size_t b = m->body < m->len ? m->body : m->len;
	size_t n = m->len - b < 512 ? m->len - b : 512;
	return vdp_find(m->data + b, n, JUNOS_ID, JUNOS_ID_LEN) != NULL;
}

/*
 * `username`: RT_FLOW session logs (user firewall / UAC), APPTRACK, IDP,
 * UTM, AAMW, SecIntel, and the UI_* login and command events.
 * `source-identity`, `source-user`, `destination-user`: the identity
 * fields of the JIMS/identity-aware logs of newer releases; harmless where
 * absent. No device key by default: `hostname` is the client in
 * AAMW_HOST_INFECTED_EVENT_LOG but the web server in AAMW_ACTION_LOG, so it
 * is left to the configuration (add it as a device key to tokenize it).
 */
static const char *const juniper_users[] = { "username", "source-user",
					     "destination-user",
					     "source-identity", NULL };

const struct vdp_format vdp_fmt_juniper = {
	.name = "juniper",
	.detect = juniper_detect,
	.parse = juniper_parse,
	.default_users = juniper_users,
	.default_devices = NULL,
};
