/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Sources: the format of each log source and its identity rules, set key by
 * key from the source's config section (the dataplane's config file, read
 * with inih, hands each key here). The regex extractor for formats not
 * otherwise known is compiled here (PCRE2 with JIT).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dp_pvt.h"
#include "veil_dp.h"
#include "veil_name.h"

#define REASON_NAME_(name, str) str,
static const char *const reason_names[] = { VDP_REASON_LIST(REASON_NAME_) };

const char *vdp_reason_name(enum vdp_reason r)
{
	return (unsigned)r < VDP_REASON_COUNT ? reason_names[r] : "?";
}

unsigned vdp_format_index(const struct vdp_format *f)
{
	unsigned i = 0;
	while (vdp_formats[i] != NULL && vdp_formats[i] != f)
		i++;
	return i;
}

const char *const *vdp_format_names(void)
{
	static const char *names[VDP_MAX_FORMATS + 1];
	if (names[0] == NULL)
		for (unsigned i = 0; vdp_formats[i] != NULL && i < VDP_MAX_FORMATS; i++)
			names[i] = vdp_formats[i]->name;
	return names;
}

/* Apply "a, b, c" as the keys of @p kind for every format (or one). */
static int set_keys(struct vdp_source *s, const char *list, enum veil_kind kind,
		    char *err, size_t errlen)
{
	char buf[512], *save = NULL;
	const char *names[VDP_MAX_KEYS + 1];
	unsigned n = 0;
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "field list too long");
		return -1;
	}
	strcpy(buf, list);
	for (char *t = strtok_r(buf, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (strlen(t) > VDP_KEY_MAX || n == VDP_MAX_KEYS) {
			snprintf(err, errlen, "field \"%.40s\": too long or too many "
				 "(at most %d of %d bytes)", t, VDP_MAX_KEYS, VDP_KEY_MAX);
			return -1;
		}
		names[n++] = t;
	}
	names[n] = NULL;
	s->keys_overridden = true;
	for (unsigned f = 0; vdp_formats[f] != NULL; f++) {
		struct vdp_keys *ks = &s->keys[f];
		/* keep the other kind's keys, replace this kind's */
		struct vdp_keys keep = { 0 };
		for (unsigned i = 0; i < ks->n; i++)
			if (ks->k[i].kind != kind)
				keep.k[keep.n++] = ks->k[i];
		*ks = keep;
		for (unsigned i = 0; i < n && ks->n < VDP_MAX_KEYS; i++) {
			struct vdp_key *k = &ks->k[ks->n++];
			size_t l = strlen(names[i]);
			memcpy(k->name, names[i], l + 1);
			k->len = (uint8_t)l;
			k->kind = (uint8_t)kind;
		}
	}
	return 0;
}

static int set_bool(bool *dst, const char *v, const char *key, char *err,
		    size_t errlen)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*dst = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
		 !strcasecmp(v, "off"))
		*dst = false;
	else {
		snprintf(err, errlen, "%s: \"%.40s\" is not yes or no", key, v);
		return -1;
	}
	return 0;
}

static int set_no_user(struct vdp_source *s, const char *v, char *err,
		       size_t errlen)
{
	char buf[512], *save = NULL;
	if (strlen(v) >= sizeof(buf)) {
		snprintf(err, errlen, "no_user: list too long");
		return -1;
	}
	strcpy(buf, v);
	s->n_no_user = 0;
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		size_t l = strlen(t);
		while (l > 0 && t[l - 1] == ' ')
			t[--l] = '\0';
		if (l >= sizeof(s->no_user[0]) || s->n_no_user == VDP_MAX_NOUSER) {
			snprintf(err, errlen, "no_user: at most %d values of %zu bytes",
				 VDP_MAX_NOUSER, sizeof(s->no_user[0]) - 1);
			return -1;
		}
		s->no_user_len[s->n_no_user] = (uint8_t)l;
		strcpy(s->no_user[s->n_no_user++], t);
	}
	return 0;
}

static int set_regex(struct vdp_source *s, const char *pattern, char *err,
		     size_t errlen)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eo,
				       NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[120];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "regex: %s at offset %zu", (char *)msg, (size_t)eo);
		return -1;
	}
	/* identities are the named groups user, user2.., device, device2.. */
	uint32_t count, size;
	PCRE2_SPTR table;
	pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
	unsigned n = 0;
	for (uint32_t i = 0; i < count; i++) {
		const unsigned char *e = table + (size_t)i * size;
		const char *name = (const char *)e + 2;
		uint32_t number = (uint32_t)e[0] << 8 | e[1];
		int kind = !strncmp(name, "user", 4) ? VEIL_KIND_USER
			   : !strncmp(name, "device", 6) ? VEIL_KIND_DEVICE : -1;
		if (kind < 0 || n == VDP_MAX_FIELDS)
			continue;
		s->groups[n].number = number;
		s->groups[n++].kind = (uint8_t)kind;
	}
	if (n == 0) {
		pcre2_code_free(re);
		snprintf(err, errlen, "regex: no named group user.. or device..");
		return -1;
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* interpreted if no JIT */
	pcre2_code_free(s->re);
	s->re = re;
	s->n_groups = n;
	return 0;
}

/* w3c_fields: a column list as after "#Fields:"; a further line (a config
 * continuation line) adds its columns to those before, joined with a tab
 * if the list separates its names with tabs (the data does then too). */
static int set_w3c_fields(struct vdp_source *s, const char *v, char *err,
			  size_t errlen)
{
	size_t old = s->w3c_fields != NULL ? strlen(s->w3c_fields) : 0;
	size_t add = strlen(v);
	if (strspn(v, " \t") == add) {
		snprintf(err, errlen, "w3c_fields: no column names (give them as "
			 "the log's #Fields line does: date time c-ip cs-username ...)");
		return -1;
	}
	char *list = malloc(old + 1 + add + 1);
	if (list == NULL) {
		snprintf(err, errlen, "w3c_fields: out of memory");
		return -1;
	}
	if (old > 0) {
		memcpy(list, s->w3c_fields, old);
		list[old++] = strchr(s->w3c_fields, '\t') != NULL ? '\t' : ' ';
	}
	memcpy(list + old, v, add + 1);
	if (vdp_w3c_check_fields(NULL, list, old + add) < 0) {
		free(list);
		snprintf(err, errlen, "w3c_fields: more than 256 columns or 8 KiB "
			 "of column names");
		return -1;
	}
	free(s->w3c_fields);
	s->w3c_fields = list;
	return 0;
}

/* fields: a known layout's name, or the columns as for w3c_fields. ProxySG's
 * "squid" and "ncsa" layouts are the squid parsers' lines: they select
 * that format (vdp_source_check() refuses another). */
static int set_fields(struct vdp_source *s, const char *v, char *err,
		      size_t errlen)
{
	static const struct {
		const char *name;
		const struct vdp_format *fmt;
	} by_format[] = {
		{ "squid", &vdp_fmt_squid },
		{ "ncsa", &vdp_fmt_squid_common },
	};
	for (size_t i = 0; i < sizeof(by_format) / sizeof(by_format[0]); i++) {
		if (strcmp(v, by_format[i].name) != 0)
			continue;
		s->fields_fmt = by_format[i].fmt;
		s->fmt = by_format[i].fmt;
		s->is_regex = false;
		return 0;
	}
	const char *cols = vdp_w3c_layout(v);
	if (cols != NULL) {
		free(s->w3c_fields); /* a layout is the whole list */
		s->w3c_fields = NULL;
		v = cols;
	}
	if (set_w3c_fields(s, v, err, errlen) != 0) {
		/* the message names the key given */
		if (strncmp(err, "w3c_fields", 10) == 0)
			memmove(err, err + 4, strlen(err + 4) + 1);
		return -1;
	}
	return 0;
}

struct vdp_source *vdp_source_new(const char *name)
{
	if (name == NULL || strlen(name) == 0 || strlen(name) >= 64) {
		errno = EINVAL;
		return NULL;
	}
	struct vdp_source *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	strcpy(s->name, name);
	for (unsigned f = 0; vdp_formats[f] != NULL; f++)
		vdp_keys_set(&s->keys[f], vdp_formats[f]->default_users,
			     vdp_formats[f]->default_devices);
	s->replace_repeats = true;
	char err[64];
	set_no_user(s, "-,N/A,unknown", err, sizeof(err));
	return s;
}

void vdp_source_free(struct vdp_source *s)
{
	if (s == NULL)
		return;
	pcre2_code_free(s->re);
	free(s->w3c_fields);
	free(s);
}

const char *vdp_source_name(const struct vdp_source *s)
{
	return s->name;
}

int vdp_source_set(struct vdp_source *s, const char *key, const char *value,
		   char *err, size_t errlen)
{
	if (!strcmp(key, "format")) {
		if (!strcmp(value, "auto")) {
			s->fmt = NULL;
			s->is_regex = false;
			return 0;
		}
		if (!strcmp(value, "regex")) {
			s->fmt = NULL;
			s->is_regex = true;
			return 0;
		}
		const struct vdp_format *f = vdp_format_find(value);
		if (f == NULL) {
			snprintf(err, errlen, "format: unknown \"%.40s\" (auto, regex, or "
				 "one of the formats in docs/formats.md)", value);
			return -1;
		}
		s->fmt = f;
		s->is_regex = false;
		return 0;
	}
	if (!strcmp(key, "user_fields"))
		return set_keys(s, value, VEIL_KIND_USER, err, errlen);
	if (!strcmp(key, "device_fields"))
		return set_keys(s, value, VEIL_KIND_DEVICE, err, errlen);
	if (!strcmp(key, "regex"))
		return set_regex(s, value, err, errlen);
	/* keep_domain, strip_domain, normalize_user: read as veil-controld
	 * reads them for its lookups (crypto/name.c) */
	struct veil_name_opts no = { s->keep_domain, s->strip_domain, s->lower_users };
	int nrc = veil_name_option(&no, key, value, err, errlen);
	if (nrc != 0) {
		s->keep_domain = no.keep_domain;
		s->strip_domain = no.strip_domain;
		s->lower_users = no.lower;
		return nrc < 0 ? -1 : 0;
	}
	if (!strcmp(key, "replace_repeats"))
		return set_bool(&s->replace_repeats, value, key, err, errlen);
	if (!strcmp(key, "no_user"))
		return set_no_user(s, value, err, errlen);
	if (!strcmp(key, "w3c_fields"))
		return set_w3c_fields(s, value, err, errlen);
	if (!strcmp(key, "fields"))
		return set_fields(s, value, err, errlen);
	if (!strcmp(key, "w3c_allow_no_identity"))
		return set_bool(&s->w3c_allow_no_identity, value, key, err, errlen);
	if (!strcmp(key, "on_bad_field") || !strcmp(key, "on_unknown")) {
		bool *dst = key[3] == 'b' ? &s->marker : &s->forward_unknown;
		const char *yes = key[3] == 'b' ? "marker" : "forward";
		if (strcmp(value, "drop") && strcmp(value, yes)) {
			snprintf(err, errlen, "%s: \"%.40s\" is not drop or %s", key,
				 value, yes);
			return -1;
		}
		*dst = strcmp(value, "drop") != 0;
		return 0;
	}
	snprintf(err, errlen, "unknown source option \"%.40s\"", key);
	return -1;
}

int vdp_source_check(const struct vdp_source *s, char *err, size_t errlen)
{
	if (s->fields_fmt != NULL && s->fmt != s->fields_fmt) {
		snprintf(err, errlen, "fields: the layout names format %s, but this "
			 "source's format is %s (leave format out, or set it to %s)",
			 s->fields_fmt->name,
			 s->is_regex ? "regex" : s->fmt != NULL ? s->fmt->name : "auto",
			 s->fields_fmt->name);
		return -1;
	}
	if (s->w3c_fields == NULL)
		return 0;
	if (s->is_regex || (s->fmt != NULL && s->fmt != &vdp_fmt_w3c)) {
		snprintf(err, errlen, "w3c_fields: only for format w3c or auto "
			 "(this source's format is %s)",
			 s->is_regex ? "regex" : s->fmt->name);
		return -1;
	}
	const struct vdp_keys *ks = &s->keys[vdp_format_index(&vdp_fmt_w3c)];
	int ident = vdp_w3c_check_fields(ks, s->w3c_fields, strlen(s->w3c_fields));
	if (ident == 0 && !s->w3c_allow_no_identity) {
		snprintf(err, errlen, "w3c_fields: no identity column (by default "
			 "cs-username, cs-userdn, c-dns; else those user_fields and "
			 "device_fields name): add the log's, or set "
			 "w3c_allow_no_identity = yes if it has none");
		return -1;
	}
	if (ident < 0) { /* set_w3c_fields checked; kept for the library */
		snprintf(err, errlen, "w3c_fields: more than 256 columns or 8 KiB "
			 "of column names");
		return -1;
	}
	return 0;
}

enum vdp_parse_rc vdp_regex_parse(const struct vdp_source *s, void *match_data,
				  const struct vdp_msg *m, struct vdp_fields *out)
{
	pcre2_match_data *md = match_data;
	int rc = pcre2_match(s->re, (PCRE2_SPTR)m->data + m->body, m->len - m->body,
			     0, 0, md, NULL);
	if (rc == PCRE2_ERROR_NOMATCH)
		return VDP_NOT_MINE;
	if (rc < 0)
		return VDP_MALFORMED;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t ovn = pcre2_get_ovector_count(md);
	/* the groups in the order they matched in the line */
	struct vdp_field f[VDP_MAX_FIELDS];
	unsigned n = 0;
	for (unsigned g = 0; g < s->n_groups; g++) {
		uint32_t k = s->groups[g].number;
		if (k >= ovn || ov[2 * k] == PCRE2_UNSET)
			continue;
		f[n++] = (struct vdp_field){ .off = (uint32_t)(m->body + ov[2 * k]),
					     .len = (uint32_t)(ov[2 * k + 1] - ov[2 * k]),
					     .kind = s->groups[g].kind };
	}
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && f[j].off < f[j - 1].off; j--) {
			struct vdp_field t = f[j];
			f[j] = f[j - 1];
			f[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++) {
		if (i > 0 && f[i].off < f[i - 1].off + f[i - 1].len)
			return VDP_MALFORMED; /* overlapping groups */
		if (!vdp_fields_add(out, f[i].off, f[i].len, f[i].kind, VDP_ESC_NONE))
			return VDP_MALFORMED;
	}
	return VDP_PARSED;
}
