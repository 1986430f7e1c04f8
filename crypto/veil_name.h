/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_name.h
 * The name that is encrypted: a source's user-name normalization
 * (normalize_user, strip_domain, keep_domain in veil.conf's [source NAME]),
 * one definition for the two processes. veil-dataplane applies it to a
 * user field before it encrypts it; veil-controld applies it to the name
 * an investigator looks up, so that the lookup finds the token the
 * dataplane wrote. Both read the options with veil_name_option(), so that
 * a value means the same to both. docs/dataplane.md "One person, one
 * token" states the rule.
 */
#ifndef VEIL_NAME_H
#define VEIL_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "veil_crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A rule: the bits of the normalizations applied, in this order:
 *  VEIL_NORM_STRIP (the domain off), then VEIL_NORM_LOWER. */
enum {
	VEIL_NORM_LOWER = 1, /**< ASCII A-Z to a-z, every other byte as it is */
	VEIL_NORM_STRIP = 2, /**< DOMAIN\\user and user@domain to user */
};
#define VEIL_NORM_RULES 4 /**< none, lower, strip_domain, lower,strip_domain */

/** The options of one source that decide its rules. */
struct veil_name_opts {
	bool keep_domain;  /**< only the user part is encrypted (and replaced) */
	bool strip_domain; /**< users: the user part is encrypted, the token
			    *   replaces the whole value */
	bool lower;        /**< normalize_user = lower (users) */
};

/**
 * Set one of the options from its config key and value: keep_domain and
 * strip_domain (yes|true|on|1 or no|false|off|0, any case), normalize_user
 * (lower|none). @return 1 if @p key is one of them and was set, 0 if it is
 * another key (nothing set), -1 on a bad value, with a message that names
 * the key and the value in @p err.
 */
int veil_name_option(struct veil_name_opts *o, const char *key, const char *value,
		     char *err, size_t errlen);

/** The rule a source with @p o applies to names of @p kind: devices are
 *  never lowered, and only keep_domain narrows them. */
unsigned veil_name_rule(const struct veil_name_opts *o, enum veil_kind kind);

/** "none", "lower", "strip_domain" or "lower,strip_domain". */
const char *veil_norm_rule_name(unsigned rule);
/** The rule named @p s (as veil_norm_rule_name, or "strip_domain,lower").
 *  @return 0, or -1 if it is none of them. */
int veil_norm_rule_parse(const char *s, unsigned *rule);

/** Narrow [*start, *start + *len) of @p name to its user part: what
 *  follows the last '\\' if there is one; else what precedes the last '@'
 *  if that is not the first byte; else all of it. */
void veil_name_user_part(const char *name, size_t *start, size_t *len);
/** normalize_user = lower: @p n bytes of @p src to @p dst (may be the
 *  same), ASCII A-Z as a-z; other bytes, UTF-8 sequences included, as
 *  they are. */
void veil_name_lower(char *dst, const char *src, size_t n);
/**
 * @p rule applied to the @p len bytes of @p name (the user part, then the
 * case), written to @p out (at least @p len bytes). @return the length of
 * the result; 0 when the rule leaves no name (a value that is only a
 * domain, as "CORP\\"), which is no user.
 */
size_t veil_name_normalize(unsigned rule, const char *name, size_t len, char *out);

#ifdef __cplusplus
}
#endif

#endif
