/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The name that is encrypted (veil_name.h): a source's normalization
 * options, read and applied alike by veil-dataplane (before it encrypts a
 * user field) and veil-controld (before it encrypts a name looked up).
 * Bytes, not characters: `lower` is ASCII only, so that the same bytes
 * give the same token whatever the locale of either process.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "veil_name.h"

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
	return 1;
}

int veil_name_option(struct veil_name_opts *o, const char *key, const char *value,
		     char *err, size_t errlen)
{
	if (!strcmp(key, "keep_domain"))
		return set_bool(&o->keep_domain, value, key, err, errlen);
	if (!strcmp(key, "strip_domain"))
		return set_bool(&o->strip_domain, value, key, err, errlen);
	if (!strcmp(key, "normalize_user")) {
		if (strcmp(value, "lower") && strcmp(value, "none")) {
			snprintf(err, errlen, "normalize_user: \"%.40s\" is not lower "
				 "or none", value);
			return -1;
		}
		o->lower = strcmp(value, "lower") == 0;
		return 1;
	}
	return 0;
}

unsigned veil_name_rule(const struct veil_name_opts *o, enum veil_kind kind)
{
	if (kind != VEIL_KIND_USER)
		return o->keep_domain ? VEIL_NORM_STRIP : 0;
	return (o->keep_domain || o->strip_domain ? VEIL_NORM_STRIP : 0) |
	       (o->lower ? VEIL_NORM_LOWER : 0);
}

static const char *const rule_names[VEIL_NORM_RULES] = {
	"none", "lower", "strip_domain", "lower,strip_domain",
};

const char *veil_norm_rule_name(unsigned rule)
{
	return rule < VEIL_NORM_RULES ? rule_names[rule] : "?";
}

int veil_norm_rule_parse(const char *s, unsigned *rule)
{
	for (unsigned r = 0; r < VEIL_NORM_RULES; r++)
		if (!strcmp(s, rule_names[r])) {
			*rule = r;
			return 0;
		}
	if (!strcmp(s, "strip_domain,lower")) {
		*rule = VEIL_NORM_LOWER | VEIL_NORM_STRIP;
		return 0;
	}
	return -1;
}

void veil_name_user_part(const char *name, size_t *start, size_t *len)
{
	const char *bs = memrchr(name + *start, '\\', *len);
	if (bs != NULL) {
		size_t k = (size_t)(bs - name) + 1;
		*len -= k - *start;
		*start = k;
		return;
	}
	const char *at = memrchr(name + *start, '@', *len);
	if (at != NULL && at != name + *start)
		*len = (size_t)(at - (name + *start));
}

void veil_name_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		dst[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
}

size_t veil_name_normalize(unsigned rule, const char *name, size_t len, char *out)
{
	size_t start = 0;
	if (rule & VEIL_NORM_STRIP)
		veil_name_user_part(name, &start, &len);
	if (rule & VEIL_NORM_LOWER)
		veil_name_lower(out, name + start, len);
	else
		memmove(out, name + start, len);
	return len;
}
