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

size_t vdp_skip_tag(const char *d, size_t p, size_t end)
{
	size_t i = p;
	while (i < end && i - p < 48 &&
	       ((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		(d[i] >= '0' && d[i] <= '9') || d[i] == '_' || d[i] == '-' ||
		d[i] == '.' || d[i] == '/'))
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
