/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Identity key sets, field lists and the format registry. */
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#ifdef VDP_SCAN_AVX2
bool vdp_scan_avx2;

__attribute__((constructor)) static void vdp_scan_init(void)
{
	__builtin_cpu_init();
	vdp_scan_avx2 = __builtin_cpu_supports("avx2");
}
#endif

int vdp_keys_find(const struct vdp_keys *ks, const char *name, size_t len)
{
	if (len == 0 || len > VDP_KEY_MAX) {
		for (unsigned i = 0; i < ks->n; i++)
			if (ks->k[i].len == len)
				return ks->k[i].kind;
		return -1;
	}
	/* most keys of a line share a length with some identity key: their
	 * first and last byte reject them without a call to memcmp */
	const char first = name[0], last = name[len - 1];
	for (unsigned i = 0; i < ks->n; i++) {
		const struct vdp_key *k = &ks->k[i];
		if (k->len == len && k->name[0] == first &&
		    k->name[len - 1] == last && memcmp(k->name, name, len) == 0)
			return k->kind;
	}
	return -1;
}

static void add_list(struct vdp_keys *ks, const char *const *list,
		     enum veil_kind kind)
{
	for (; list != NULL && *list != NULL && ks->n < VDP_MAX_KEYS; list++) {
		size_t n = strlen(*list);
		if (n > VDP_KEY_MAX)
			continue;
		struct vdp_key *k = &ks->k[ks->n++];
		memcpy(k->name, *list, n + 1);
		k->len = (uint8_t)n;
		k->kind = (uint8_t)kind;
	}
}

void vdp_keys_set(struct vdp_keys *ks, const char *const *users,
		  const char *const *devices)
{
	ks->n = 0;
	add_list(ks, users, VEIL_KIND_USER);
	add_list(ks, devices, VEIL_KIND_DEVICE);
}

bool vdp_fields_add(struct vdp_fields *fs, size_t off, size_t len,
		    enum veil_kind kind, enum vdp_esc esc)
{
	if (fs->n == VDP_MAX_FIELDS || off > UINT32_MAX || len > UINT32_MAX)
		return false;
	fs->f[fs->n++] = (struct vdp_field){ .off = (uint32_t)off,
					     .len = (uint32_t)len,
					     .kind = (uint8_t)kind,
					     .esc = (uint8_t)esc };
	return true;
}

size_t vdp_hdr_pipes(const char *d, size_t p, size_t len, unsigned want)
{
	unsigned pipes = 0;
	while (pipes < want) {
		const char *q = vdp_find1(d + p, len - p, '|');
		if (q == NULL)
			return 0;
		size_t i = (size_t)(q - d), bs = 0;
		/* d[p - 1] is ':' or '|': the run of backslashes stops there */
		while (i - bs > p && d[i - bs - 1] == '\\')
			bs++;
		if (bs % 2 == 0)
			pipes++;
		p = i + 1;
	}
	return p;
}

size_t vdp_quote_end(const char *d, size_t from, size_t end)
{
	size_t p = from;
	while (p < end) {
		const char *q = vdp_find1(d + p, end - p, '"');
		if (q == NULL)
			return SIZE_MAX;
		size_t at = (size_t)(q - d), bs = 0;
		while (at - bs > from && d[at - bs - 1] == '\\')
			bs++;
		if ((bs & 1) == 0)
			return at;
		p = at + 1;
	}
	return SIZE_MAX;
}

/* The bytes of a syslog TAG (vdp_skip_tag()). */
static const bool tag_char[256] = {
	['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true,
	['_'] = true, ['-'] = true, ['.'] = true, ['/'] = true,
};

size_t vdp_skip_tag(const char *d, size_t p, size_t end)
{
	if (p >= end)
		return p;
	size_t i = p;
	const size_t top = end - p < 48 ? end : p + 48;
	while (i < top && tag_char[(unsigned char)d[i]])
		i++;
	if (i == p)
		return p;
	if (i < end && d[i] == '[') {
		size_t j = i + 1;
		while (j < end && d[j] >= '0' && d[j] <= '9')
			j++;
		if (j == i + 1 || j >= end || d[j] != ']')
			return p;
		i = j + 1;
	}
	if (i + 1 < end && d[i] == ':' && d[i + 1] == ' ')
		return i + 2;
	return p;
}

size_t vdp_body_start(const struct vdp_msg *m)
{
	if (m->body >= m->len)
		return m->len;
	return vdp_skip_tag(m->data, m->body, m->len);
}

/* No '=' or '|' in the @p n bytes at @p b: a signature there comes
 * before the first of them. */
static bool before_stop(const char *b, size_t n)
{
	return vdp_find2(b, n, '=', '|') == NULL;
}

struct hdr_sigs {
	long cef, leef;
};

/* Where "CEF:" and "LEEF:" start in @p m's body, -1 where not there (or
 * not looked for: @p want_cef, @p want_leef false). */
/* always inlined: each caller's constant wants leave only its loop (under
 * auto one call a line; as a call it cost 0.35% of the benchmark's
 * instructions, explicit and auto alike) */
static inline __attribute__((always_inline)) struct hdr_sigs
hdr_sigs(const struct vdp_msg *m, bool want_cef, bool want_leef)
{
	struct hdr_sigs r = { -1, -1 };
	bool cef_done = !want_cef, leef_done = !want_leef;
	if (m->body > m->len || m->len - m->body < 5)
		return r;
	const char *b = m->data + m->body;
	const size_t n = m->len - m->body;
	/* "CEF:" may start at i < n - 4, "LEEF:" at i < n - 5, both at
	 * i <= VDP_HDR_PREFIX_MAX and before the first '=' or '|'. Most lines
	 * hold neither, so "EF:" is searched for first, and the bytes before
	 * a place that fits are checked for a '=' or '|' after: if they hold
	 * one, so do those before any later place. */
	const size_t bc = n - 4 < VDP_HDR_PREFIX_MAX + 1 ? n - 4 : VDP_HDR_PREFIX_MAX + 1;
	const size_t bl = n - 5 < VDP_HDR_PREFIX_MAX + 1 ? n - 5 : VDP_HDR_PREFIX_MAX + 1;
	/* "EF:" at b + k + 1 is "CEF:" at k or "LEEF:" at k - 1; k <= bc
	 * (bl <= bc), and k + 4 <= bc + 3 < n */
	const char *h = b + 1;
	const size_t hl = bc + 3;
	for (size_t k = 0; k <= bc && !(cef_done && leef_done);) {
		const char *e = vdp_find(h + k, hl - k, "EF:", 3);
		if (e == NULL)
			return r;
		k = (size_t)(e - h);
		if (!cef_done && k < bc && b[k] == 'C' &&
		    (k == 0 || b[k - 1] == ' ') && b[k + 4] >= '0' && b[k + 4] <= '9') {
			if (before_stop(b, k))
				r.cef = (long)k;
			cef_done = true;
		}
		if (!leef_done && k >= 1 && k - 1 < bl && b[k] == 'E' &&
		    b[k - 1] == 'L' && (k == 1 || b[k - 2] == ' ')) {
			if (before_stop(b, k - 1))
				r.leef = (long)(k - 1);
			leef_done = true;
		}
		k++;
	}
	return r;
}

void vdp_hdr_sigs(struct vdp_msg *m)
{
	struct hdr_sigs r = hdr_sigs(m, true, true);
	m->cef_at = r.cef;
	m->leef_at = r.leef;
	m->hdr_sigs = true;
}

long vdp_cef_at(const struct vdp_msg *m)
{
	return m->hdr_sigs ? m->cef_at : hdr_sigs(m, true, false).cef;
}

long vdp_leef_at(const struct vdp_msg *m)
{
	return m->hdr_sigs ? m->leef_at : hdr_sigs(m, false, true).leef;
}

/* Auto-detection order: the most specific signatures first. */
const struct vdp_format *const vdp_formats[] = {
	&vdp_fmt_cef, &vdp_fmt_leef, &vdp_fmt_json, &vdp_fmt_w3c,
	&vdp_fmt_checkpoint, &vdp_fmt_panos, &vdp_fmt_asa, &vdp_fmt_juniper,
	&vdp_fmt_fortigate, &vdp_fmt_sophos, &vdp_fmt_websense,
	&vdp_fmt_squid,
	/* after the formats above, so that their lines pay nothing for
	 * these detections (checked: none of them takes these lines) */
	&vdp_fmt_barracuda, &vdp_fmt_sonicwall, &vdp_fmt_stormshield,
	&vdp_fmt_watchguard,
	/* before squid-common, which takes any line with a CLF date in it
	 * (to drop it as shifted): i-FILTER's access time is one */
	&vdp_fmt_ifilter, &vdp_fmt_squid_common,
	/* generic extractors: never detected, only configured */
	&vdp_fmt_kv, &vdp_fmt_csv, NULL,
};

const struct vdp_format *vdp_format_find(const char *name)
{
	for (unsigned i = 0; vdp_formats[i] != NULL; i++)
		if (strcmp(vdp_formats[i]->name, name) == 0)
			return vdp_formats[i];
	return NULL;
}
