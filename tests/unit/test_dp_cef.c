/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The CEF and LEEF parsers (dataplane/pipeline/fmt_cef.c, fmt_leef.c) on lines
 * written as the vendors document them. Each line marks its expected
 * identity spans with « and »; the helper strips the marks, parses the
 * line (after vdp_syslog_parse, as the pipeline does) and checks the exact
 * spans, kinds, escapes and unescaped names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pvt.h"

#define OPEN  "\xc2\xab" /* « */
#define CLOSE "\xc2\xbb" /* » */

struct want {
	int kind;
	int esc;
	const char *name; /* unescaped */
};

#define U(e, n) { VEIL_KIND_USER, VDP_ESC_##e, n }
#define D(e, n) { VEIL_KIND_DEVICE, VDP_ESC_##e, n }
#define NW(w)   (sizeof(w) / sizeof((w)[0]))

static struct vdp_keys defaults(const struct vdp_format *f)
{
	struct vdp_keys ks;
	vdp_keys_set(&ks, f->default_users, f->default_devices);
	return ks;
}

/*
 * Parse @p hdr followed by @p marked (with « » around each expected span)
 * and check the answer. The message is an exact-size heap copy without a
 * NUL, so that ASan sees any read past its end.
 */
static void check_msg(const struct vdp_format *f, struct vdp_parse_ctx *ctx,
		      const char *hdr, const char *marked,
		      enum vdp_parse_rc rc, const struct want *w, unsigned nw)
{
	size_t hl = strlen(hdr), ml = strlen(marked);
	char *buf = malloc(hl + ml + 1);
	assert_non_null(buf);
	memcpy(buf, hdr, hl);
	size_t len = hl, span_off[VDP_MAX_FIELDS + 1], span_len[VDP_MAX_FIELDS + 1];
	unsigned ns = 0;
	for (size_t i = 0; i < ml;) {
		if (!strncmp(marked + i, OPEN, 2)) {
			assert_true(ns <= VDP_MAX_FIELDS);
			span_off[ns] = len;
			i += 2;
		} else if (!strncmp(marked + i, CLOSE, 2)) {
			span_len[ns] = len - span_off[ns];
			ns++;
			i += 2;
		} else {
			buf[len++] = marked[i++];
		}
	}
	assert_int_equal(ns, nw);
	char *msg = malloc(len ? len : 1);
	assert_non_null(msg);
	memcpy(msg, buf, len);
	free(buf);

	struct vdp_msg m = { .data = msg, .len = len };
	enum vdp_syslog_kind sk = vdp_syslog_parse(&m);
	if (hl > 0 && sk == VDP_SYSLOG_NONE && m.body == 0)
		m.body = hl; /* the syslog parser is not there yet */
	struct vdp_fields out;
	memset(&out, 0xa5, sizeof(out));
	out.n = 0;
	enum vdp_parse_rc got = f->parse(ctx, &m, &out);
	if (got != rc)
		fail_msg("%s: rc %d, expected %d, for: %.*s", f->name, got, rc,
			 (int)len, msg);
	if (rc == VDP_PARSED) {
		if (out.n != nw)
			fail_msg("%u fields, expected %u, for: %.*s", out.n, nw,
				 (int)len, msg);
		for (unsigned i = 0; i < nw; i++) {
			const struct vdp_field *fl = &out.f[i];
			if (fl->off != span_off[i] || fl->len != span_len[i])
				fail_msg("field %u at %u+%u \"%.*s\", expected %zu+%zu",
					 i, fl->off, fl->len, (int)fl->len,
					 msg + fl->off, span_off[i], span_len[i]);
			assert_int_equal(fl->kind, w[i].kind);
			assert_int_equal(fl->esc, w[i].esc);
			char name[VEIL_NAME_MAX];
			long n = vdp_unescape((enum vdp_esc)fl->esc, msg + fl->off,
					      fl->len, name, sizeof(name), NULL);
			assert_true(n >= 0);
			assert_int_equal((size_t)n, strlen(w[i].name));
			assert_memory_equal(name, w[i].name, (size_t)n);
		}
	}
	free(msg);
}

static void check(const struct vdp_format *f, const char *hdr,
		  const char *marked, enum vdp_parse_rc rc,
		  const struct want *w, unsigned nw)
{
	struct vdp_keys ks = defaults(f);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	check_msg(f, &ctx, hdr, marked, rc, w, nw);
	assert_null(ctx.state);
}

static bool detect(const struct vdp_format *f, const char *hdr,
		   const char *line)
{
	size_t hl = strlen(hdr), ll = strlen(line);
	char *msg = malloc(hl + ll + 1);
	memcpy(msg, hdr, hl);
	memcpy(msg + hl, line, ll);
	struct vdp_msg m = { .data = msg, .len = hl + ll };
	if (vdp_syslog_parse(&m) == VDP_SYSLOG_NONE && m.body == 0)
		m.body = hl;
	bool r = f->detect(&m);
	free(msg);
	return r;
}

#define OK(f, hdr, line, ...)                                                   \
	do {                                                                    \
		static const struct want w_[] = { __VA_ARGS__ };                \
		check(f, hdr, line, VDP_PARSED, w_, NW(w_));                    \
	} while (0)
#define NONE(f, hdr, line) check(f, hdr, line, VDP_PARSED, NULL, 0)
#define BAD(f, hdr, line)  check(f, hdr, line, VDP_MALFORMED, NULL, 0)
#define NOTMINE(f, hdr, line) check(f, hdr, line, VDP_NOT_MINE, NULL, 0)

static const struct vdp_format *cef, *leef;

/* ------------------------------------------------------------------ */
/* CEF                                                                */
/* ------------------------------------------------------------------ */

static void test_cef_registry(void **state)
{
	(void)state;
	assert_ptr_equal(vdp_format_find("cef"), &vdp_fmt_cef);
	struct vdp_keys ks = defaults(cef);
	assert_int_equal(ks.n, 3);
	assert_int_equal(vdp_keys_find(&ks, "suser", 5), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "duser", 5), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "shost", 5), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "dhost", 5), -1);
	assert_null(cef->free_state);
}

static void test_cef_basic(void **state)
{
	(void)state;
	/* the example of the CEF implementation standard, with users */
	OK(cef, "",
	   "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|"
	   "src=10.0.0.1 dst=2.1.2.2 spt=1232 suser=" OPEN "jdoe" CLOSE
	   " shost=" OPEN "WKS-0042" CLOSE " dhost=fileserver.corp.example"
	   " duser=" OPEN "administrator" CLOSE " act=blocked",
	   U(CEF_EXT, "jdoe"), D(CEF_EXT, "WKS-0042"),
	   U(CEF_EXT, "administrator"));
	/* CEF:1, the identity first and last */
	OK(cef, "",
	   "CEF:1|Palo Alto Networks|PAN-OS|10.1|url|THREAT|3|suser="
	   OPEN "CORP\\\\jdoe" CLOSE " request=http://www.example.com/ duser="
	   OPEN "bob" CLOSE,
	   U(CEF_EXT, "CORP\\jdoe"), U(CEF_EXT, "bob"));
	/* an empty extension, no extension at all */
	NONE(cef, "", "CEF:0|Vendor|Product|1.0|100|Name|5|");
	NONE(cef, "", "CEF:0|Vendor|Product|1.0|100|Name|5|rt=1709287200000 cnt=3");
}

static void test_cef_spaces_and_trim(void **state)
{
	(void)state;
	/* values with spaces run to the next key */
	OK(cef, "",
	   "CEF:0|Zscaler|NSSWeblog|5.7|Allowed|Allowed|3|suser=" OPEN
	   "John Smith" CLOSE " act=Allowed reason=Allowed by policy shost="
	   OPEN "John's MacBook Pro" CLOSE,
	   U(CEF_EXT, "John Smith"), D(CEF_EXT, "John's MacBook Pro"));
	/* spaces around a value are not part of it (ArcSight trims) */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|suser=  " OPEN "bob" CLOSE "   duser=" OPEN
	   "alice" CLOSE "  ",
	   U(CEF_EXT, "bob"), U(CEF_EXT, "alice"));
	/* empty values are reported, at the value's place */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|suser=" OPEN CLOSE " duser=" OPEN "alice" CLOSE
	   " shost=" OPEN CLOSE,
	   U(CEF_EXT, ""), U(CEF_EXT, "alice"), D(CEF_EXT, ""));
	/* a tab before a key separates too */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|act=allow\tsuser=" OPEN "tab user" CLOSE
	   "\tshost=" OPEN "PC1" CLOSE,
	   U(CEF_EXT, "tab user"), D(CEF_EXT, "PC1"));
}

static void test_cef_escapes(void **state)
{
	(void)state;
	/* \= \\ \n \r in values; '=' unescaped inside a URL value */
	OK(cef, "",
	   "CEF:0|McAfee|Web Gateway|11.2|200|Allowed|1|request=http://x.example/"
	   "?a=b&c=d suser=" OPEN "a\\=b\\\\c" CLOSE " msg=line1\\nline2 duser="
	   OPEN "two\\nlines\\r" CLOSE,
	   U(CEF_EXT, "a=b\\c"), U(CEF_EXT, "two\nlines\r"));
	/* an escaped '=' never ends a key: "x\=y suser" is one value */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|msg=k\\=v duser\\=no suser=" OPEN "CN\\=jdoe,OU\\=Sales"
	   CLOSE,
	   U(CEF_EXT, "CN=jdoe,OU=Sales"));
	/* unescaped '=' inside a value without a space before it */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|suser=" OPEN "CN=jdoe,OU=Sales,DC=corp" CLOSE
	   " cat=auth",
	   U(CEF_EXT, "CN=jdoe,OU=Sales,DC=corp"));
	/* a backslash before another character is literal; \| is a pipe */
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|suser=" OPEN "CORP\\jdoe" CLOSE " duser=" OPEN
	   "pipe\\|user" CLOSE " shost=" OPEN "trailing\\" CLOSE,
	   U(CEF_EXT, "CORP\\jdoe"), U(CEF_EXT, "pipe|user"),
	   D(CEF_EXT, "trailing\\"));
}

static void test_cef_header(void **state)
{
	(void)state;
	/* escaped pipes and backslashes in the header */
	OK(cef, "",
	   "CEF:0|Vendor\\|With Pipe|Prod\\\\uct|1.0\\\\|100|Name \\| more|5|suser="
	   OPEN "bob" CLOSE,
	   U(CEF_EXT, "bob"));
	/* "suser=" in the header is not the extension */
	OK(cef, "",
	   "CEF:0|V|P|1|1|login suser\\=eve|5|suser=" OPEN "bob" CLOSE,
	   U(CEF_EXT, "bob"));
	/* a header cut short: the extension cannot be found */
	BAD(cef, "", "CEF:0|Vendor|Product|1.0|100|Name suser=bob");
	BAD(cef, "", "CEF:0|Vendor|Product|1.0|100|Name|5\\|suser=bob");
	BAD(cef, "", "CEF:0|");
	/* not CEF */
	NOTMINE(cef, "", "LEEF:1.0|V|P|1|E|usrName=bob");
	NOTMINE(cef, "", "date=2024-03-01 user=bob action=allow");
	NOTMINE(cef, "", "user=bob CEF:0|V|P|1|1|N|5|suser=bob");
	NOTMINE(cef, "", "CEF:x|V|P|1|1|N|5|suser=bob");
	NOTMINE(cef, "", "");
	NOTMINE(cef, "", "CEF:");
}

static void test_cef_unicode(void **state)
{
	(void)state;
	OK(cef, "",
	   "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|Accept|Low|suser=" OPEN
	   "Jürgen Müller" CLOSE " shost=" OPEN "ПК-Бухгалтерия" CLOSE
	   " duser=" OPEN "山田太郎@例え.jp" CLOSE " dst=10.0.0.9",
	   U(CEF_EXT, "Jürgen Müller"), D(CEF_EXT, "ПК-Бухгалтерия"),
	   U(CEF_EXT, "山田太郎@例え.jp"));
	OK(cef, "",
	   "CEF:0|V|P|1|1|N|5|suser=" OPEN "jdoe@corp.example.com" CLOSE
	   " duser=" OPEN "CORP\\\\Zoë" CLOSE,
	   U(CEF_EXT, "jdoe@corp.example.com"), U(CEF_EXT, "CORP\\Zoë"));
}

static void test_cef_syslog(void **state)
{
	(void)state;
	OK(cef, "<134>Mar  1 10:00:00 fw01 ",
	   "CEF:0|Fortinet|FortiGate|7.2|13|traffic|5|suser=" OPEN "jdoe" CLOSE
	   " shost=" OPEN "LAPTOP-7" CLOSE,
	   U(CEF_EXT, "jdoe"), D(CEF_EXT, "LAPTOP-7"));
	OK(cef, "<134>1 2024-03-01T10:00:00.000Z fw01 CEF - - - ",
	   "CEF:0|Fortinet|FortiGate|7.2|13|traffic|5|duser=" OPEN "eve" CLOSE,
	   U(CEF_EXT, "eve"));
	/* a tag left before "CEF:" */
	OK(cef, "",
	   "<134>Mar  1 10:00:00 fw01 ArcSight[2231]: CEF:0|V|P|1|1|N|5|suser="
	   OPEN "jdoe" CLOSE,
	   U(CEF_EXT, "jdoe"));
	assert_true(detect(cef, "<134>Mar  1 10:00:00 fw01 ", "CEF:0|V|P|1|1|N|5|"));
	assert_true(detect(cef, "", "CEF:0|V|P|1|1|N|5|"));
	assert_false(detect(cef, "", "LEEF:1.0|V|P|1|E|"));
	assert_false(detect(cef, "", "a=b CEF:0|V|P|1|1|N|5|"));
	assert_false(detect(cef, "", "1709287200.123 187 10.1.2.3 TCP_MISS/200"));
}

static void test_cef_custom_keys(void **state)
{
	(void)state;
	static const char *const users[] = { "cs1", "suid", NULL };
	static const char *const devices[] = { "dhost", "dvchost", NULL };
	struct vdp_keys ks;
	vdp_keys_set(&ks, users, devices);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	static const struct want w[] = {
		U(CEF_EXT, "jdoe"), U(CEF_EXT, "1042"), D(CEF_EXT, "srv-01"),
	};
	/* cs1Label is a key of its own, not a pairing */
	check_msg(cef, &ctx, "",
		  "CEF:0|V|P|1|1|N|5|cs1Label=Employee cs1=" OPEN "jdoe" CLOSE
		  " suser=notme suid=" OPEN "1042" CLOSE " dhost=" OPEN "srv-01"
		  CLOSE " cs1Label2=x",
		  VDP_PARSED, w, NW(w));
	/* no key set: fail closed */
	ctx.keys = NULL;
	check_msg(cef, &ctx, "", "CEF:0|V|P|1|1|N|5|suser=bob", VDP_MALFORMED,
		  NULL, 0);
}

static void test_cef_too_many(void **state)
{
	(void)state;
	char line[2048] = "CEF:0|V|P|1|1|N|5|";
	for (int i = 0; i < VDP_MAX_FIELDS; i++)
		strcat(line, "suser=u ");
	NONE(cef, "", "CEF:0|V|P|1|1|N|5|cnt=1"); /* warm-up: no field */
	struct vdp_keys ks = defaults(cef);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	struct vdp_fields out = { 0 };
	struct vdp_msg m = { .data = line, .len = strlen(line) };
	assert_int_equal(cef->parse(&ctx, &m, &out), VDP_PARSED);
	assert_int_equal(out.n, VDP_MAX_FIELDS);
	strcat(line, "duser=one-too-many");
	m.len = strlen(line);
	out.n = 0;
	assert_int_equal(cef->parse(&ctx, &m, &out), VDP_MALFORMED);
}

/* ------------------------------------------------------------------ */
/* LEEF                                                               */
/* ------------------------------------------------------------------ */

static void test_leef_registry(void **state)
{
	(void)state;
	assert_ptr_equal(vdp_format_find("leef"), &vdp_fmt_leef);
	struct vdp_keys ks = defaults(leef);
	assert_int_equal(vdp_keys_find(&ks, "usrName", 7), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "accountName", 11), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "identHostName", 13), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "identNetBios", 12), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "srcHostName", 11), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "identSrc", 8), -1);
}

static void test_leef1(void **state)
{
	(void)state;
	/* QRadar's example, tab-separated */
	OK(leef, "",
	   "LEEF:1.0|Microsoft|MSExchange|2013 SP1|15345|src=192.0.2.0\t"
	   "dst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\t"
	   "usrName=" OPEN "joe.black" CLOSE,
	   U(NONE, "joe.black"));
	/* values keep spaces and '='; several identities */
	OK(leef, "",
	   "LEEF:1.0|Trend Micro|Deep Discovery Inspector|3.8.1181|SECURITY_RISK|"
	   "devTime=Mar 11 2015 05:00:26 GMT-04:00\tusrName=" OPEN "John Smith"
	   CLOSE "\tidentHostName=" OPEN "WS-0042.corp.example" CLOSE
	   "\turl=http://x.example/?a=b\taccountName=" OPEN "svc=backup" CLOSE,
	   U(NONE, "John Smith"), D(NONE, "WS-0042.corp.example"),
	   U(NONE, "svc=backup"));
	/* empty values, a trailing tab, a space before a key */
	OK(leef, "",
	   "LEEF:1.0|V|P|1|E|usrName=" OPEN CLOSE "\t identNetBios=" OPEN "PC42"
	   CLOSE "\t",
	   U(NONE, ""), D(NONE, "PC42"));
	/* values are not unescaped: a backslash stays */
	OK(leef, "",
	   "LEEF:1.0|V|P|1|E|usrName=" OPEN "CORP\\jdoe" CLOSE "\tsrc=10.1.1.1",
	   U(NONE, "CORP\\jdoe"));
	/* an escaped pipe in the header */
	OK(leef, "",
	   "LEEF:1.0|Ven\\|dor|P|1|E|usrName=" OPEN "x" CLOSE, U(NONE, "x"));
}

static void test_leef2_delimiters(void **state)
{
	(void)state;
	OK(leef, "",
	   "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^"
	   "usrName=" OPEN "CORP\\jdoe" CLOSE "^sev=5^srcPort=81",
	   U(NONE, "CORP\\jdoe"));
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|x09|usrName=" OPEN "a b" CLOSE "\tsrcHostName="
	   OPEN "mac-1" CLOSE,
	   U(NONE, "a b"), D(NONE, "mac-1"));
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|0x7C|usrName=" OPEN "pipe" CLOSE "|accountName="
	   OPEN "x" CLOSE,
	   U(NONE, "pipe"), U(NONE, "x"));
	/* 0xA6 is '¦', written in UTF-8 in the line */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|xA6|usrName=" OPEN "André" CLOSE "¦src=1.2.3.4¦"
	   "identHostName=" OPEN "Poste-Ç" CLOSE,
	   U(NONE, "André"), D(NONE, "Poste-Ç"));
	/* a multi-byte delimiter whose first byte starts another character */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|xA6|usrName=" OPEN "a§b" CLOSE "¦identNetBios="
	   OPEN "x\xc2" CLOSE,
	   U(NONE, "a§b"), D(NONE, "x\xc2"));
	/* a 4-digit code: U+2605 '★' */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|0x2605|usrName=" OPEN "star" CLOSE "★cat=x",
	   U(NONE, "star"));
	/* a literal one-character delimiter, multi-byte */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|§|usrName=" OPEN "sect" CLOSE "§cat=x",
	   U(NONE, "sect"));
	/* empty delimiter field: tab */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E||src=1.1.1.1\tusrName=" OPEN "tabbed" CLOSE,
	   U(NONE, "tabbed"));
	/* no delimiter field at all: the sixth field is a pair */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|usrName=" OPEN "nodelim" CLOSE "\tsrc=1.1.1.1",
	   U(NONE, "nodelim"));
	/* a delimiter field that names no usable character */
	BAD(leef, "", "LEEF:2.0|V|P|1|E|x0|usrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E|xD800|usrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E|abc|usrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E|0x12345|usrName=bob");
	/* a key character would cut keys in two: "usrN" "me=bob" */
	BAD(leef, "", "LEEF:2.0|V|P|1|E|a|usrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E|x2E|usrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E|0x5F|usrName=bob");
}

static void test_leef_spaced_fallback(void **state)
{
	(void)state;
	/* LEEF 1.0 whose producer used spaces: split as in CEF */
	OK(leef, "",
	   "LEEF:1.0|Microsoft|MSExchange|2016|15345|src=10.50.1.1  dst=2.10.20.20"
	   "  usrName=" OPEN "jdoe" CLOSE " accountName=" OPEN "svc backup" CLOSE,
	   U(NONE, "jdoe"), U(NONE, "svc backup"));
	/* a LEEF 2.0 delimiter that does not occur */
	OK(leef, "",
	   "LEEF:2.0|V|P|1|E|^|src=1.1.1.1 usrName=" OPEN "eve" CLOSE,
	   U(NONE, "eve"));
	/* a stray 2.0-style field in a 1.0 line does not hide the first key */
	OK(leef, "",
	   "LEEF:1.0|V|P|1|E|^|usrName=" OPEN "caret" CLOSE " src=1.1.1.1",
	   U(NONE, "caret"));
	OK(leef, "",
	   "LEEF:1.0|V|P|1|E|^|usrName=" OPEN "caret2" CLOSE "\tsrc=1.1.1.1",
	   U(NONE, "caret2"));
}

static void test_leef_malformed(void **state)
{
	(void)state;
	BAD(leef, "", "LEEF:1.0|Vendor|Product|1.0 usrName=bob");
	BAD(leef, "", "LEEF:1.0|V|P|1|E\tusrName=bob");
	BAD(leef, "", "LEEF:2.0|V|P|1|E\\|usrName=bob");
	NOTMINE(leef, "", "CEF:0|V|P|1|1|N|5|suser=bob");
	NOTMINE(leef, "", "usrName=bob LEEF:1.0|V|P|1|E|");
	NOTMINE(leef, "", "LEEF:");
	NOTMINE(leef, "", "");
}

static void test_leef_syslog_unicode(void **state)
{
	(void)state;
	OK(leef, "<13>Jan 18 11:07:53 192.168.1.1 ",
	   "LEEF:1.0|IBM|QRadar|7.5|Login|usrName=" OPEN "Zoë Ångström" CLOSE
	   "\tidentHostName=" OPEN "ノートPC-山田" CLOSE,
	   U(NONE, "Zoë Ångström"), D(NONE, "ノートPC-山田"));
	OK(leef, "<133>1 2019-01-18T11:07:53.520+07:00 myhostname app - - - ",
	   "LEEF:2.0|V|P|1|E|^|accountName=" OPEN "jdoe@corp.example" CLOSE
	   "^usrName=" OPEN "CORP\\jdoe" CLOSE,
	   U(NONE, "jdoe@corp.example"), U(NONE, "CORP\\jdoe"));
	assert_true(detect(leef, "<13>Jan 18 11:07:53 192.168.1.1 ",
			   "LEEF:1.0|V|P|1|E|"));
	assert_false(detect(leef, "", "CEF:0|V|P|1|1|N|5|"));
}

static void test_leef_custom_keys(void **state)
{
	(void)state;
	static const char *const users[] = { "suser", NULL };
	static const char *const devices[] = { "dvchost", NULL };
	struct vdp_keys ks;
	vdp_keys_set(&ks, users, devices);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	static const struct want w[] = { D(NONE, "ddi38-143"), U(NONE, "jdoe") };
	check_msg(leef, &ctx, "",
		  "LEEF:1.0|Trend Micro|Deep Discovery Inspector|3.8|EVT|dvchost="
		  OPEN "ddi38-143" CLOSE "\tusrName=notme\tsuser=" OPEN "jdoe" CLOSE,
		  VDP_PARSED, w, NW(w));
}

int main(void)
{
	cef = vdp_format_find("cef");
	leef = vdp_format_find("leef");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cef_registry),
		cmocka_unit_test(test_cef_basic),
		cmocka_unit_test(test_cef_spaces_and_trim),
		cmocka_unit_test(test_cef_escapes),
		cmocka_unit_test(test_cef_header),
		cmocka_unit_test(test_cef_unicode),
		cmocka_unit_test(test_cef_syslog),
		cmocka_unit_test(test_cef_custom_keys),
		cmocka_unit_test(test_cef_too_many),
		cmocka_unit_test(test_leef_registry),
		cmocka_unit_test(test_leef1),
		cmocka_unit_test(test_leef2_delimiters),
		cmocka_unit_test(test_leef_spaced_fallback),
		cmocka_unit_test(test_leef_malformed),
		cmocka_unit_test(test_leef_syslog_unicode),
		cmocka_unit_test(test_leef_custom_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
