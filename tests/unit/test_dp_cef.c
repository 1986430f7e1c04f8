/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The CEF parser (dataplane/pipeline/fmt_cef.c) on lines written as the vendors
 * document them. Each line marks its expected identity spans with « and »
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

static const struct vdp_format *cef;

/* ------------------------------------------------------------------ */
/* CEF                                                                */
/* ------------------------------------------------------------------ */

static void test_cef_registry(void **state)
{
	(void)state;
	assert_ptr_equal(vdp_format_find("cef"), &vdp_fmt_cef);
	struct vdp_keys ks = dp_default_keys(cef);
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
	assert_true(dp_detect(cef, "<134>Mar  1 10:00:00 fw01 ", "CEF:0|V|P|1|1|N|5|"));
	assert_true(dp_detect(cef, "", "CEF:0|V|P|1|1|N|5|"));
	assert_false(dp_detect(cef, "", "LEEF:1.0|V|P|1|E|"));
	assert_false(dp_detect(cef, "", "a=b CEF:0|V|P|1|1|N|5|"));
	assert_false(dp_detect(cef, "", "1709287200.123 187 10.1.2.3 TCP_MISS/200"));
}

static void test_cef_custom_keys(void **state)
{
	(void)state;
	static const char *const users[] = { "cs1", "suid", NULL };
	static const char *const devices[] = { "dhost", "dvchost", NULL };
	struct vdp_keys ks;
	vdp_keys_set(&ks, users, devices);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	static const struct dp_want w[] = {
		U(CEF_EXT, "jdoe"), U(CEF_EXT, "1042"), D(CEF_EXT, "srv-01"),
	};
	/* cs1Label is a key of its own, not a pairing */
	dp_check_ctx(cef, &ctx, "",
		  "CEF:0|V|P|1|1|N|5|cs1Label=Employee cs1=" OPEN "jdoe" CLOSE
		  " suser=notme suid=" OPEN "1042" CLOSE " dhost=" OPEN "srv-01"
		  CLOSE " cs1Label2=x",
		  VDP_PARSED, w, NW(w));
	/* no key set: fail closed */
	ctx.keys = NULL;
	dp_check_ctx(cef, &ctx, "", "CEF:0|V|P|1|1|N|5|suser=bob", VDP_MALFORMED,
		  NULL, 0);
}

static void test_cef_too_many(void **state)
{
	(void)state;
	char line[2048] = "CEF:0|V|P|1|1|N|5|";
	for (int i = 0; i < VDP_MAX_FIELDS; i++)
		strcat(line, "suser=u ");
	NONE(cef, "", "CEF:0|V|P|1|1|N|5|cnt=1"); /* warm-up: no field */
	struct vdp_keys ks = dp_default_keys(cef);
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

int main(void)
{
	cef = vdp_format_find("cef");
	if (cef == NULL)
		return 1;
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
