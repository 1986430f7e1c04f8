/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Cisco ASA (and FTD, PIX, FWSM, NGIPS: the same message IDs): messages
 * "%ASA-<sev>-<msgid>: <text>" (also "%ASA-<class>-<sev>-<msgid>:" with
 * "logging class"), found anywhere in the first bytes of the message so that
 * every header variant (device-id, EMBLEM, relays) works.
 *
 * ASA text is free English, one template per message ID. Two passes read it:
 *  - the generic forms, in every message (ASA has hundreds of IDs that
 *    name a user, and new ones with each release):
 *      user = X          X up to ":" / "," followed by a space, or the end
 *                        (")" too if "(user= X)")
 *      Username = X      X up to ", " or the end (IKE 713xxx, 113019)
 *      Username:X        X up to a space or "," (IKEv2 750xxx, 751xxx)
 *      User <X>          X up to ">" (AnyConnect/WebVPN "Group <G> User <X>")
 *      User 'X', user "X"    quoted
 *      User (X)          (713049 "complete for User (X)")
 *      Group G User X IP I   the unbracketed AnyConnect form, at the start
 *      (DOMAIN\user)     identity firewall, up to ")" or "," (an SGT follows)
 *  - the message-specific forms of the table below, for templates whose
 *    user part has no generic marker ("for user X from", "Uname: X", ...).
 * Forms select by key name: "user" (every form but the identity firewall)
 * and "idfw" (the DOMAIN\user forms); the key's kind is the fields' kind.
 * A message of a table ID marked need that yields no user, or any form whose
 * value has no end (a "<", quote or "(" never closed), is VDP_MALFORMED.
 * Values are raw (VDP_ESC_NONE): ASA escapes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "dp_pvt.h"
#include "vdp_scan.h"

#define ASA_SCAN_MAX 1024 /* how far into the message "%ASA-" may start */
#define ASA_CLASS_MAX 24  /* the longest optional class before the tag */

enum asa_key { K_USER, K_IDFW, K__COUNT };

#define NEED_USER (1u << K_USER)
#define NEED_IDFW (1u << K_IDFW)

/* form flags */
#define F_QUOTED   0x01 /* the value may be quoted: '...' or "..." */
#define F_EQ       0x02 /* an optional "= " before the value */
#define F_END      0x04 /* without a terminator the value runs to the end */
#define F_SKIPIP   0x08 /* skip a word and " - " first (746012) */
#define F_AAAPAREN 0x10 /* " (user)" after the addresses (302013...) */
#define F_ATUSER   0x20 /* "user@address" (304001) */

struct asa_form {
	const char *trig;    /* the value starts after this (first letter
			      * matches either case) */
	const char *term[2]; /* and ends at the first of these */
	uint8_t flags;
	uint8_t key;
};

struct asa_rule {
	uint32_t id;
	uint8_t need; /* NEED_*: every message of this ID names one */
	struct asa_form form;
};

#define FORM(t, a, b, fl) { .trig = (t), .term = { (a), (b) }, .flags = (fl) }
#define GENERIC { .trig = NULL }

/* Sorted by ID (bsearch). docs/formats.md has the same table. */
static const struct asa_rule asa_rules[] = {
	{ 109001, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 109005, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 109006, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 109007, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 109008, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 109011, NEED_USER, FORM("user ", ", sid", NULL, F_QUOTED) },
	{ 109012, NEED_USER, FORM("user ", ", sid", NULL, F_QUOTED) },
	{ 109025, NEED_USER, FORM("for user ", " from ", NULL, F_QUOTED) },
	{ 111008, NEED_USER, FORM("User ", " executed", NULL, F_QUOTED) },
	{ 111009, NEED_USER, FORM("User ", " executed", NULL, F_QUOTED) },
	{ 111010, NEED_USER, FORM("User ", ", running", NULL, F_QUOTED) },
	{ 113003, NEED_USER,
	  FORM("for user ", " is being set", NULL, F_QUOTED) },
	{ 113004, NEED_USER, GENERIC },
	{ 113005, NEED_USER, GENERIC },
	{ 113006, NEED_USER, FORM("User ", " locked out", NULL, F_QUOTED) },
	{ 113007, NEED_USER, FORM("User ", " unlocked", NULL, F_QUOTED) },
	{ 113008, NEED_USER, GENERIC },
	{ 113009, NEED_USER,
	  FORM("for user ", NULL, NULL, F_EQ | F_QUOTED | F_END) },
	{ 113010, NEED_USER,
	  FORM("for user ", " from server", NULL, F_QUOTED) },
	{ 113011, NEED_USER,
	  FORM("for user ", NULL, NULL, F_EQ | F_QUOTED | F_END) },
	{ 113012, NEED_USER, GENERIC },
	{ 113013, NEED_USER, GENERIC },
	{ 113014, NEED_USER, GENERIC },
	{ 113015, NEED_USER, GENERIC },
	{ 113016, NEED_USER, GENERIC },
	{ 113017, NEED_USER, GENERIC },
	{ 113019, NEED_USER, GENERIC },
	{ 113021, NEED_USER, FORM("User ", " did NOT", NULL, F_QUOTED) },
	{ 113024, NEED_USER,
	  FORM("with username, ", ", from client", NULL, 0) },
	{ 113029, NEED_USER, GENERIC },
	{ 113030, NEED_USER, GENERIC },
	{ 113031, NEED_USER, GENERIC },
	{ 113032, NEED_USER, GENERIC },
	{ 113033, NEED_USER, GENERIC },
	{ 113034, NEED_USER, GENERIC },
	{ 113035, NEED_USER, GENERIC },
	{ 113036, NEED_USER, GENERIC },
	{ 113038, NEED_USER, GENERIC },
	{ 113039, NEED_USER, GENERIC },
	{ 113042, NEED_USER, FORM("for user ", " at ", NULL, F_QUOTED) },
	{ 302013, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 302014, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 302015, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 302016, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 302020, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 302021, 0, FORM(NULL, NULL, NULL, F_AAAPAREN) },
	{ 303002, NEED_USER,
	  FORM(", user ", " Stored ", " Retrieved ", F_QUOTED) },
	{ 304001, 0, FORM(NULL, NULL, NULL, F_ATUSER) },
	{ 315011, NEED_USER,
	  FORM("for user ", " disconnected", " terminated", F_QUOTED) },
	{ 430001, 0, FORM("User: ", ", ", NULL, F_END) },
	{ 430002, 0, FORM("User: ", ", ", NULL, F_END) },
	{ 430003, 0, FORM("User: ", ", ", NULL, F_END) },
	{ 430004, 0, FORM("User: ", ", ", NULL, F_END) },
	{ 430005, 0, FORM("User: ", ", ", NULL, F_END) },
	{ 502101, NEED_USER, FORM("Uname: ", " Priv:", NULL, 0) },
	{ 502102, NEED_USER, FORM("Uname: ", " Priv:", NULL, 0) },
	{ 502103, NEED_USER, FORM("Uname: ", " From:", NULL, 0) },
	{ 605004, NEED_USER, FORM("for user ", NULL, NULL, F_QUOTED | F_END) },
	{ 605005, NEED_USER, FORM("for user ", NULL, NULL, F_QUOTED | F_END) },
	{ 611101, NEED_USER, FORM("Uname: ", NULL, NULL, F_END) },
	{ 611102, NEED_USER, FORM("Uname: ", NULL, NULL, F_END) },
	{ 611103, NEED_USER, FORM("Uname: ", NULL, NULL, F_END) },
	{ 716001, NEED_USER, GENERIC },
	{ 716002, NEED_USER, GENERIC },
	{ 716003, NEED_USER, GENERIC },
	{ 716038, NEED_USER, GENERIC },
	{ 716039, NEED_USER, GENERIC },
	{ 716058, NEED_USER, GENERIC },
	{ 716059, NEED_USER, GENERIC },
	{ 721016, NEED_USER, FORM("client user ", ", IP", NULL, 0) },
	{ 721018, NEED_USER, FORM("client user ", ", IP", NULL, 0) },
	{ 722022, NEED_USER, GENERIC },
	{ 722023, NEED_USER, GENERIC },
	{ 722028, NEED_USER, GENERIC },
	{ 722032, NEED_USER, GENERIC },
	{ 722033, NEED_USER, GENERIC },
	{ 722034, NEED_USER, GENERIC },
	{ 722037, NEED_USER, GENERIC },
	{ 722041, NEED_USER, GENERIC },
	{ 722051, NEED_USER, GENERIC },
	{ 722053, NEED_USER, GENERIC },
	{ 722055, NEED_USER, GENERIC },
	{ 734001, NEED_USER, FORM("DAP: User ", ", Addr", NULL, 0) },
	{ 746012, NEED_IDFW,
	  { .trig = "mapping ", .term = { " Succeeded", " Failed" },
	    .flags = F_SKIPIP, .key = K_IDFW } },
	{ 746013, NEED_IDFW,
	  { .trig = "mapping ", .term = { " Succeeded", " Failed" },
	    .flags = F_SKIPIP, .key = K_IDFW } },
};

static int rule_cmp(const void *key, const void *elem)
{
	uint32_t id = *(const uint32_t *)key;
	const struct asa_rule *r = elem;
	return id < r->id ? -1 : id > r->id;
}

/* ---- locating the message ---- */

/* "%ASA-[class-]<sev>-<6 digits>:" at d[at] == '%': sets the text start
 * and the ID. */
static bool asa_header(const char *d, size_t at, size_t len, size_t *text,
		       uint32_t *id)
{
	static const char *const vendors[] = { "ASA-", "FTD-", "PIX-",
					       "FWSM-", "NGIPS-" };
	size_t p = at + 1;
	bool ok = false;
	for (unsigned i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++) {
		size_t vl = strlen(vendors[i]);
		if (len - p >= vl && memcmp(d + p, vendors[i], vl) == 0) {
			p += vl;
			ok = true;
			break;
		}
	}
	if (!ok)
		return false;
	size_t q = p; /* an optional class: lowercase letters and '-' */
	while (q < len && q - p < ASA_CLASS_MAX &&
	       ((d[q] >= 'a' && d[q] <= 'z') || d[q] == '-'))
		q++;
	if ((q > p && d[q - 1] != '-') || len - q < 9)
		return false;
	if (d[q] < '0' || d[q] > '7' || d[q + 1] != '-' || d[q + 8] != ':')
		return false;
	uint32_t v = 0;
	for (size_t i = q + 2; i < q + 8; i++) {
		if (d[i] < '0' || d[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(d[i] - '0');
	}
	p = q + 9;
	while (p < len && d[p] == ' ')
		p++;
	*text = p;
	*id = v;
	return true;
}

static bool asa_locate(const struct vdp_msg *m, size_t *text, uint32_t *id)
{
	const char *d = m->data;
	size_t lim = m->len < ASA_SCAN_MAX ? m->len : ASA_SCAN_MAX, p = 0;
	while (p < lim) {
		const char *f = memchr(d + p, '%', lim - p);
		if (f == NULL)
			return false;
		size_t at = (size_t)(f - d);
		if (asa_header(d, at, m->len, text, id))
			return true;
		p = at + 1;
	}
	return false;
}

/* ---- candidate fields ---- */

struct cand {
	uint32_t off, len;
	uint8_t key;
};

struct asa_scan {
	const char *d;
	size_t t0, end; /* the message text */
	int kind[K__COUNT];
	uint8_t found; /* keys that matched at least once */
	bool over;     /* drop the message: too many, or overlapping */
	bool in_loop;  /* the generic loop adds in offset order */
	size_t loop_off, loop_len;
	unsigned n;
	struct cand c[2 * VDP_MAX_FIELDS];
};

static void add(struct asa_scan *s, size_t off, size_t len, enum asa_key key)
{
	if (s->kind[key] < 0)
		return;
	if (s->in_loop) {
		/* a value starting inside the previous one (a form without
		 * its end, repeated): the answer is "malformed" already,
		 * stop here rather than scan the rest again and again */
		if (off < s->loop_off + s->loop_len &&
		    !(off == s->loop_off && len == s->loop_len)) {
			s->over = true;
			return;
		}
		s->loop_off = off;
		s->loop_len = len;
	}
	s->found |= (uint8_t)(1u << key);
	if (s->n == sizeof(s->c) / sizeof(s->c[0])) {
		s->over = true;
		return;
	}
	s->c[s->n++] = (struct cand){ (uint32_t)off, (uint32_t)len,
				      (uint8_t)key };
}

static size_t skip_sp(const struct asa_scan *s, size_t p)
{
	while (p < s->end && s->d[p] == ' ')
		p++;
	return p;
}

/* The length of [off, e) without trailing spaces. */
static size_t rtrim(const struct asa_scan *s, size_t off, size_t e)
{
	while (e > off && s->d[e - 1] == ' ')
		e--;
	return e - off;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static size_t find(const struct asa_scan *s, size_t from, const char *str)
{
	size_t n = strlen(str);
	if (from >= s->end)
		return SIZE_MAX;
	const char *f = vdp_find(s->d + from, s->end - from, str, n);
	return f == NULL ? SIZE_MAX : (size_t)(f - s->d);
}

/* The first occurrence of @p trig, its first letter in either case. */
static size_t find_trig(const struct asa_scan *s, const char *trig)
{
	char alt[32];
	size_t n = strlen(trig), a = find(s, s->t0, trig), b = SIZE_MAX;
	char c = trig[0];
	bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	if (n < sizeof(alt) && letter) {
		memcpy(alt, trig, n + 1);
		alt[0] = (char)(c ^ 0x20);
		b = find(s, s->t0, alt);
	}
	return a < b ? a : b;
}

/* ---- generic forms ---- */

/* The end of "user = X": ':' or ',' followed by a space (or last), or ')'
 * when the form opened with '('. */
static size_t eq_end(const struct asa_scan *s, size_t v, bool paren)
{
	const char *d = s->d;
	size_t k;
	for (k = v; k < s->end; k++) {
		char c = d[k];
		bool last = k + 1 == s->end;
		if ((c == ':' || c == ',') && (last || d[k + 1] == ' '))
			break;
		if (c == ')' && paren)
			break;
	}
	return k;
}

/* "user"/"User" at d[i], a word of its own. */
static int user_at(struct asa_scan *s, size_t i)
{
	const char *d = s->d;
	size_t j = i + 4, k, v, e;
	if (s->end - j >= 4 && memcmp(d + j, "name", 4) == 0) {
		j += 4;
		k = skip_sp(s, j);
		if (k < s->end && d[k] == '=') {
			/* Username = X, IP = ... */
			v = skip_sp(s, k + 1);
			e = find(s, v, ", ");
			if (e == SIZE_MAX)
				e = s->end;
			add(s, v, rtrim(s, v, e), K_USER);
		} else if (k == j && k < s->end && d[k] == ':') {
			/* Username:X Received ... */
			v = skip_sp(s, k + 1);
			e = v;
			while (e < s->end && d[e] != ' ' && d[e] != ',')
				e++;
			add(s, v, e - v, K_USER);
		}
		return 0;
	}
	if (j < s->end && word_char(d[j]))
		return 0; /* "users", "user-identity" */
	k = skip_sp(s, j);
	if (k == s->end)
		return 0;
	bool one = k == j + 1;
	const char *close;
	switch (d[k]) {
	case '=':
		v = skip_sp(s, k + 1);
		e = eq_end(s, v, i > s->t0 && d[i - 1] == '(');
		add(s, v, rtrim(s, v, e), K_USER);
		break;
	case '<':
		if (!one)
			break;
		close = memchr(d + k + 1, '>', s->end - k - 1);
		if (close == NULL)
			return -1;
		add(s, k + 1, (size_t)(close - d) - k - 1, K_USER);
		break;
	case '\'':
	case '"':
		if (!one)
			break;
		close = memchr(d + k + 1, d[k], s->end - k - 1);
		if (close == NULL)
			return -1;
		add(s, k + 1, (size_t)(close - d) - k - 1, K_USER);
		break;
	case '(':
		if (!one || d[i] != 'U')
			break;
		close = memchr(d + k + 1, ')', s->end - k - 1);
		if (close == NULL)
			return -1;
		add(s, k + 1, (size_t)(close - d) - k - 1, K_USER);
		break;
	case 'I':
		/* "Group <G> User IP <ip>": an empty user */
		if (one && d[i] == 'U' && s->end - k >= 4 &&
		    memcmp(d + k, "IP <", 4) == 0)
			add(s, k, 0, K_USER);
		break;
	default:
		break;
	}
	return 0;
}

static bool dom_char(char c)
{
	return (unsigned char)c > ' ' && c != '(' && c != ')' && c != '\\' &&
	       c != ',' && c != '/';
}

/* "(DOMAIN\user)" or "(DOMAIN\user, sgt)" at d[i] == '('. */
static int idfw_at(struct asa_scan *s, size_t i)
{
	const char *d = s->d;
	size_t k = i + 1;
	while (k < s->end && dom_char(d[k]))
		k++;
	if (k == i + 1 || k == s->end || d[k] != '\\')
		return 0;
	size_t e = k + 1;
	while (e < s->end && d[e] != ')' && d[e] != ',')
		e++;
	if (e == s->end)
		return -1; /* an identity without its end */
	add(s, i + 1, rtrim(s, i + 1, e), K_IDFW);
	return 0;
}

/* "Group G User U IP I" without brackets, at the start of the text. */
static int group_form(struct asa_scan *s)
{
	const char *d = s->d;
	size_t g = s->t0 + 6;
	if (s->end - s->t0 < 6 || memcmp(d + s->t0, "Group ", 6) != 0 ||
	    g == s->end || d[g] == '<' || d[g] == '=')
		return 0;
	size_t u = find(s, g, " User ");
	if (u == SIZE_MAX)
		return 0;
	size_t v = u + 6;
	if (v < s->end && d[v] == '<')
		return 0; /* the bracketed user: a generic form of its own */
	if (s->end - v >= 3 && memcmp(d + v, "IP ", 3) == 0) {
		add(s, v, 0, K_USER);
		return 0;
	}
	size_t ip = find(s, v, " IP ");
	if (ip == SIZE_MAX)
		return -1;
	add(s, v, rtrim(s, v, ip), K_USER);
	return 0;
}

static int scan_generic(struct asa_scan *s)
{
	const char *d = s->d;
	if (s->kind[K_USER] >= 0 && group_form(s) < 0)
		return -1;
	/* s->over: the message is dropped anyway; stopping there also bounds
	 * the work of a hostile message made of unterminated forms */
	s->in_loop = true;
	s->loop_off = s->loop_len = 0;
	for (size_t i = s->t0; i < s->end && !s->over; i++) {
		/* only these bytes start a form: searched for, not walked to */
		const char *q = vdp_find3(d + i, s->end - i, '(', 'u', 'U');
		if (q == NULL)
			break;
		i = (size_t)(q - d);
		char c = *q;
		if (c == '(') {
			if (s->kind[K_IDFW] >= 0 && idfw_at(s, i) < 0)
				return -1;
		} else if ((c == 'u' || c == 'U') && s->end - i >= 4 &&
			   memcmp(d + i + 1, "ser", 3) == 0 &&
			   (i == s->t0 || !word_char(d[i - 1])) &&
			   s->kind[K_USER] >= 0) {
			/* a word of its own: "(user=" is, "IP-User" is not */
			if (user_at(s, i) < 0)
				return -1;
		}
	}
	s->in_loop = false;
	return 0;
}

/* ---- message-specific forms ---- */

static bool ipv4_like(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < '0' || p[i] > '9') && p[i] != '.')
			return false;
	return true;
}

/* " (user)" after the addresses of a connection message: a parenthesized
 * word that is not an address ("(10.1.1.1/80)", "(8.8.8.5)"), an SGT
 * ("(9999:name)") or an identity firewall name (read generically). */
static int aaa_paren(struct asa_scan *s)
{
	const char *d = s->d;
	size_t p = s->t0;
	while (p < s->end) {
		const char *f = memchr(d + p, '(', s->end - p);
		if (f == NULL)
			break;
		size_t i = (size_t)(f - d), e = i + 1;
		p = i + 1;
		if (i == s->t0 || d[i - 1] != ' ')
			continue;
		while (e < s->end && d[e] != ')' && (unsigned char)d[e] > ' ' &&
		       d[e] != '/' && d[e] != ':' && d[e] != ',' &&
		       d[e] != '\\' && d[e] != '(')
			e++;
		if (e == i + 1 || ipv4_like(d + i + 1, e - i - 1))
			continue;
		if (e == s->end)
			return -1; /* "(alic" cut short */
		if (d[e] == ')')
			add(s, i + 1, e - i - 1, K_USER);
	}
	return 0;
}

/* 304001 "user@10.1.1.1 Accessed URL 10.2.2.2:http://..." (and relays'
 * "10.1.1.1 Accessed URL user@10.2.2.2:http://..."). */
static int at_user(struct asa_scan *s)
{
	const char *d = s->d;
	size_t a = find(s, s->t0, " Accessed ");
	if (a == SIZE_MAX)
		return 0;
	const char *at = memchr(d + s->t0, '@', a - s->t0);
	size_t ulen = at != NULL ? (size_t)(at - d) - s->t0 : 0;
	if (at != NULL && memchr(d + s->t0, ' ', ulen) == NULL)
		add(s, s->t0, ulen, K_USER);
	size_t u = find(s, a, "URL ");
	if (u == SIZE_MAX)
		return 0;
	u += 4;
	for (size_t e = u; e < s->end && d[e] != ' ' && d[e] != ':' &&
			   d[e] != '/'; e++)
		if (d[e] == '@') {
			add(s, u, e - u, K_USER);
			break;
		}
	return 0;
}

static int apply_form(struct asa_scan *s, const struct asa_form *f)
{
	const char *d = s->d;
	if (f->flags & F_AAAPAREN)
		return s->kind[K_USER] >= 0 ? aaa_paren(s) : 0;
	if (f->flags & F_ATUSER)
		return s->kind[K_USER] >= 0 ? at_user(s) : 0;
	if (f->trig == NULL || s->kind[f->key] < 0)
		return 0;
	size_t t = find_trig(s, f->trig);
	if (t == SIZE_MAX)
		return 0; /* a template variant without it: see need */
	size_t v = t + strlen(f->trig), e = SIZE_MAX;
	if (f->flags & F_EQ) {
		size_t k = skip_sp(s, v);
		if (k < s->end && d[k] == '=')
			v = skip_sp(s, k + 1);
	}
	if (f->flags & F_SKIPIP) {
		while (v < s->end && d[v] != ' ')
			v++;
		if (s->end - v < 3 || memcmp(d + v, " - ", 3) != 0)
			return -1;
		v += 3;
	}
	if ((f->flags & F_QUOTED) && v < s->end &&
	    (d[v] == '\'' || d[v] == '"')) {
		const char *close = memchr(d + v + 1, d[v], s->end - v - 1);
		if (close == NULL)
			return -1;
		add(s, v + 1, (size_t)(close - d) - v - 1, f->key);
		return 0;
	}
	for (unsigned i = 0; i < 2 && f->term[i] != NULL; i++) {
		size_t x = find(s, v, f->term[i]);
		if (x < e)
			e = x;
	}
	if (e == SIZE_MAX) {
		if (!(f->flags & F_END))
			return -1;
		e = s->end;
	}
	add(s, v, rtrim(s, v, e), f->key);
	return 0;
}

/* The candidates as fields: in offset order, one per span, never two
 * overlapping (false: the message is malformed). */
static bool emit(struct asa_scan *s, struct vdp_fields *out)
{
	for (unsigned i = 1; i < s->n; i++) {
		struct cand c = s->c[i];
		unsigned j = i;
		for (; j > 0; j--) {
			const struct cand *b = &s->c[j - 1];
			if (b->off < c.off || (b->off == c.off && b->len <= c.len))
				break;
			s->c[j] = *b;
		}
		s->c[j] = c;
	}
	size_t prev_end = 0;
	for (unsigned i = 0; i < s->n; i++) {
		const struct cand *c = &s->c[i], *b = i ? &s->c[i - 1] : NULL;
		if (b != NULL && c->off == b->off && c->len == b->len)
			continue;
		if (c->off < prev_end)
			return false;
		if (!vdp_fields_add(out, c->off, c->len,
				    (enum veil_kind)s->kind[c->key], VDP_ESC_NONE))
			return false;
		prev_end = (size_t)c->off + c->len;
	}
	return true;
}

/* ---- the parser ---- */

static enum vdp_parse_rc asa_parse(struct vdp_parse_ctx *ctx,
				   const struct vdp_msg *m,
				   struct vdp_fields *out)
{
	struct asa_scan s;
	uint32_t id;
	if (!asa_locate(m, &s.t0, &id))
		return VDP_NOT_MINE;
	s.d = m->data;
	s.end = m->len;
	while (s.end > s.t0 &&
	       (s.d[s.end - 1] == '\n' || s.d[s.end - 1] == '\r'))
		s.end--;
	s.kind[K_USER] = vdp_keys_find(ctx->keys, "user", 4);
	s.kind[K_IDFW] = vdp_keys_find(ctx->keys, "idfw", 4);
	s.found = 0;
	s.over = false;
	s.in_loop = false;
	s.n = 0;
	if (s.kind[K_USER] < 0 && s.kind[K_IDFW] < 0)
		return VDP_PARSED;

	if (scan_generic(&s) < 0)
		return VDP_MALFORMED;
	size_t nrules = sizeof(asa_rules) / sizeof(asa_rules[0]);
	const struct asa_rule *r = bsearch(&id, asa_rules, nrules,
					   sizeof(asa_rules[0]), rule_cmp);
	if (r != NULL) {
		if (apply_form(&s, &r->form) < 0)
			return VDP_MALFORMED;
		for (unsigned k = 0; k < K__COUNT; k++)
			if ((r->need & (1u << k)) && s.kind[k] >= 0 &&
			    !(s.found & (1u << k)))
				return VDP_MALFORMED;
	}
	if (s.over)
		return VDP_MALFORMED;

	return emit(&s, out) ? VDP_PARSED : VDP_MALFORMED;
}

static bool asa_detect(const struct vdp_msg *m)
{
	size_t text;
	uint32_t id;
	return asa_locate(m, &text, &id);
}

/* "user": every user form; "idfw": the identity firewall's DOMAIN\user. */
static const char *const asa_users[] = { "user", "idfw", NULL };

const struct vdp_format vdp_fmt_asa = {
	.name = "asa",
	.detect = asa_detect,
	.parse = asa_parse,
	.parse_detects = true,
	.default_users = asa_users,
	.default_devices = NULL,
};
