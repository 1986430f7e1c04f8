/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The LEEF parser (dataplane/pipeline/fmt_leef.c), 1.0 and 2.0, on lines written
 * as IBM QRadar's LEEF documents and the vendors that send it write them. Each line marks its expected identity spans with « and »
 * (dp_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

#define U(e, n) DP_U(e, n)
#define D(e, n) DP_D(e, n)
#define OK(...)               DP_OK(__VA_ARGS__)
#define NONE(f, hdr, line)    DP_NONE(f, hdr, line)
#define BAD(f, hdr, line)     DP_BAD(f, hdr, line)
#define NOTMINE(f, hdr, line) DP_NOTMINE(f, hdr, line)

static const struct vdp_format *leef;

/* ------------------------------------------------------------------ */
/* LEEF                                                               */
/* ------------------------------------------------------------------ */

static void test_leef_registry(void **state)
{
	(void)state;
	assert_ptr_equal(vdp_format_find("leef"), &vdp_fmt_leef);
	struct vdp_keys ks = dp_default_keys(leef);
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
	assert_true(dp_detect(leef, "<13>Jan 18 11:07:53 192.168.1.1 ",
			   "LEEF:1.0|V|P|1|E|"));
	assert_false(dp_detect(leef, "", "CEF:0|V|P|1|1|N|5|"));
}

static void test_leef_custom_keys(void **state)
{
	(void)state;
	static const char *const users[] = { "suser", NULL };
	static const char *const devices[] = { "dvchost", NULL };
	struct vdp_keys ks;
	vdp_keys_set(&ks, users, devices);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	static const struct dp_want w[] = { D(NONE, "ddi38-143"), U(NONE, "jdoe") };
	dp_check_ctx(leef, &ctx, "",
		  "LEEF:1.0|Trend Micro|Deep Discovery Inspector|3.8|EVT|dvchost="
		  OPEN "ddi38-143" CLOSE "\tusrName=notme\tsuser=" OPEN "jdoe" CLOSE,
		  VDP_PARSED, w, NW(w));
}

int main(void)
{
	leef = vdp_format_find("leef");
	if (leef == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
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
