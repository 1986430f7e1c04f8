/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl's text for people: each command's help, and output made safe for
 * a terminal (escaped control characters, grouped digits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veilctl_text.h"

const char help_status[] =
	"usage: veilctl status\n"
	"The daemon, its tenants, the crypto backend, the dataplane link, each\n"
	"upstream of the dataplane (connected or DOWN, since when, lines waiting,\n"
	"delivered, dropped), the UDP listeners whose datagrams the kernel dropped,\n"
	"and your role (any role).\n";
const char help_stats[] =
	"usage: veilctl stats\n"
	"The counters the dataplane's workers sent up the link: lines in, written\n"
	"(delivered: an upstream's collector acknowledged them), dropped (by reason,\n"
	"kernel-udp: datagrams the kernel dropped at a UDP listener), held (waiting\n"
	"for a key, or for an upstream), identities, bytes; then each upstream (its\n"
	"state, lines queued in memory and in its spool, delivered, dropped, resent,\n"
	"connections) and each listener (the kernel's drops) (any role).\n";
const char help_tenant[] =
	"usage: veilctl tenant create TENANT     new tenant, key version 1 (admin)\n"
	"       veilctl tenant list | tenant show TENANT\n"
	"       veilctl tenant lock TENANT | tenant unlock TENANT\n"
	"                                        a locked tenant's tokens are never\n"
	"                                        resolved or looked up (admin)\n"
	"       veilctl tenant roll-every TENANT DAYS\n"
	"                                        automatic key roll, 0: never (admin)\n"
	"TENANT: 1 to 64 of a-z 0-9 . _ -\n";
const char help_key[] =
	"usage: veilctl key list TENANT           key versions and their state\n"
	"       veilctl key roll TENANT           a new current version (admin)\n"
	"       veilctl key destroy TENANT VERSION --reason TEXT --yes\n"
	"                                        crypto-shred an old version: its\n"
	"                                        tokens never resolve again; this\n"
	"                                        cannot be undone (admin); the\n"
	"                                        reason (at least 8 characters) is\n"
	"                                        recorded in the governance log\n";
const char help_resolve[] =
	"usage: veilctl resolve -t TENANT -j JUSTIFICATION [--text] [--file F] [TOKEN...]\n"
	"Tokens to names (investigator), from the arguments, a file or stdin; one\n"
	"line per token: the token, a tab, the name or !STATUS: message.\n"
	"  -t, --tenant TENANT\n"
	"  -j, --justification TEXT  why; at least 8 characters, in the governance log\n"
	"  -f, --file F              the tokens (or the text) from F\n"
	"      --text                the input is free text: resolve every token in it\n";
const char help_lookup[] =
	"usage: veilctl lookup -t TENANT -j JUSTIFICATION [-K user|device]\n"
	"                      [--normalize RULE]... NAME\n"
	"The tokens of NAME under every live key version (investigator), and under\n"
	"each rule the tenant's sources apply to names before they are encrypted\n"
	"(normalize_user, strip_domain, keep_domain in veil.conf [source NAME]).\n"
	"One line a token: the version, the token, its rules, the name as encrypted.\n"
	"  -t TENANT, -j JUSTIFICATION (at least 8 characters), -K the kind (user)\n"
	"  --normalize RULE   these rules instead of the sources': none, lower,\n"
	"                     strip_domain, lower,strip_domain, or all (repeatable)\n";
const char help_audit[] =
	"usage: veilctl audit show [--since T] [--until T] [--tenant T] [--uid N]\n"
	"                          [--action A] [--limit N] [--before SEQ | --after SEQ]\n"
	"       veilctl audit export --csv [the same filters]\n"
	"       veilctl audit tokens SEQ\n"
	"       veilctl audit verify\n"
	"The governance log (any role): show prints one page (the newest N records,\n"
	"default 1000, at most 10000) and says on stderr how to get the next;\n"
	"export writes every record that matches, from the oldest, as RFC 4180 CSV;\n"
	"tokens lists every token of record SEQ (show prints a long list's first\n"
	"20 and its count); verify checks the hash chain and names the first bad\n"
	"record.\n"
	"  T: YYYY-MM-DDTHH:MM:SSZ (UTC, as show prints times), YYYY-MM-DD, or\n"
	"     milliseconds since 1970\n"
	"  --action A: the action or its group (resolve: resolve and resolve.bulk)\n"
	"  --before SEQ: the newest records before record SEQ; --after SEQ: the\n"
	"     oldest records after it\n";
const char help_role[] =
	"usage: veilctl role list\n"
	"       veilctl role grant (--uid N | --gid N) ROLE   (admin)\n"
	"       veilctl role revoke (--uid N | --gid N)       (admin)\n"
	"ROLE: reader, investigator or admin. Grants are kept in the database and\n"
	"apply from the caller's next connection; veil.conf's [roles] also count.\n";
const char help_config[] =
	"usage: veilctl config show\n"
	"       veilctl config set NAME VALUE | config reset NAME   (admin)\n"
	"Settings that change at run time: key_retention_days,\n"
	"audit_retention_days, rate_limit. A value set here stays over veil.conf's\n"
	"(also over a reload) until reset.\n";

/* The length of the well-formed UTF-8 sequence at p, 0 if there is none. */
static size_t utf8_seq(const unsigned char *p)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	int n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c == 0xe0 || c == 0xed || (c >= 0xe1 && c <= 0xef)) {
		n = 2;
		lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf; /* up to U+10FFFF */
	} else
		return 0;
	for (int i = 1; i <= n; i++) /* stops at the NUL of a short string */
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
	return (size_t)n + 1;
}

/* s for a terminal: control characters (below 0x20, 0x7f and the C1
 * controls U+0080..U+009F) and bytes that are not UTF-8 as \xNN, so that
 * what callers wrote (a justification, a tenant id in an error) cannot
 * move the cursor, recolour or fake lines. The result lives until 16 more
 * calls. */
const char *esc(const char *s)
{
	static char *ring[16];
	static unsigned next;
	if (s == NULL)
		return "";
	char *out = malloc(4 * strlen(s) + 1), *o = out;
	if (out == NULL)
		return "(out of memory)";
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t l = utf8_seq(p);
		size_t bad = l == 0 || *p < 0x20 || *p == 0x7f ? 1
			     : l == 2 && p[0] == 0xc2 && p[1] < 0xa0 ? 2 : 0;
		for (size_t i = 0; i < bad; i++)
			o += sprintf(o, "\\x%02x", p[i]);
		if (bad == 0) {
			memcpy(o, p, l);
			o += l;
		}
		p += bad ? bad : l;
	}
	*o = '\0';
	free(ring[next]);
	ring[next] = out;
	next = (next + 1) % 16;
	return out;
}

/* n with a comma between each group of three digits */
const char *thousands(unsigned long long n, char out[32])
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", n), o = 0;
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}
