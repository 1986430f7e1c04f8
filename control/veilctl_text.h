/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veilctl's text for people (veilctl_text.c). */
#ifndef VEIL_VEILCTL_TEXT_H
#define VEIL_VEILCTL_TEXT_H

/* COMMAND --help (and what a usage error of the command prints) */
extern const char help_status[], help_stats[], help_tenant[], help_key[],
	help_resolve[], help_lookup[], help_audit[], help_role[], help_config[];

/* s for a terminal: control characters (below 0x20, 0x7f and the C1
 * controls U+0080..U+009F) and bytes that are not UTF-8 as \xNN. The
 * result lives until 16 more calls; NULL gives "". */
const char *esc(const char *s);

/* n with a comma between each group of three digits, in out. */
const char *thousands(unsigned long long n, char out[32]);

#endif
