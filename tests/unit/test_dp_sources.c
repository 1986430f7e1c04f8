/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Vendor sources that map onto an existing format family (docs/formats.md,
 * "Sources"): one line each, written to the vendor's documented layout,
 * with its user and client device fields marked, and the appliance's own
 * name left alone. Each is also checked to be auto-detected as its family.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

/* Zscaler NSS web feed, JSON output (the feed's fields login,
 * devicehostname, deviceowner; the NSS server's hostname is not a field) */
static void test_zscaler_nss_json(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_json, "<13>Mar  1 10:15:22 nss01 ",
	      "{\"sourcetype\":\"zscalernss-web\",\"event\":{\"datetime\":"
	      "\"Fri Mar 01 10:15:22 2024\",\"reason\":\"Allowed\",\"event_id\":"
	      "\"7301234567005\",\"protocol\":\"HTTPS\",\"action\":\"Allowed\","
	      "\"login\":\"" OPEN "jdoe@corp.example" CLOSE "\",\"department\":"
	      "\"Finance\",\"devicehostname\":\"" OPEN "JDOE-LT01" CLOSE "\","
	      "\"deviceowner\":\"" OPEN "jdoe" CLOSE "\",\"cip\":\"10.1.20.45\","
	      "\"url\":\"www.example.com/search\",\"urlcategory\":\"Web Search\"}}",
	      DP_U(JSON, "jdoe@corp.example"), DP_D(JSON, "JDOE-LT01"),
	      DP_U(JSON, "jdoe"));
	assert_true(dp_detect(&vdp_fmt_json, "", "{\"sourcetype\":\"zscalernss-web\","
			      "\"event\":{\"login\":\"jdoe\"}}"));
}

/* Cisco Secure Web Appliance (IronPort WSA) access log, squid native
 * layout with the WSA's decision tag and scanning verdicts after the
 * content type */
static void test_cisco_wsa_squid(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_squid, "",
	      "1709287522.443 128 10.1.20.45 TCP_MISS/200 5084 GET "
	      "http://www.example.com/search " OPEN "jdoe" CLOSE " DIRECT/93.184.216.34 "
	      "text/html DEFAULT_CASE_12-AccessPolicy-ID-NONE-NONE-DefaultGroup-NONE "
	      "<IW_srch,7.9,1,\"-\",-,-,-,1,\"-\",-,-,-,\"-\",-,-,\"-\",\"-\",-,-,"
	      "IW_srch,-,\"-\",\"-\",\"Unknown\",\"Unknown\",\"-\",\"-\",314.25,0,-,"
	      "\"-\",\"-\"> -",
	      DP_U(NONE, "jdoe"));
}

/* Forcepoint Web Security, SIEM integration in CEF: suser (LDAP DN
 * form), the client's host in src only (no shost): the proxy is dvc */
static void test_forcepoint_cef(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_cef, "<159>Mar  1 10:15:22 wsg01 ",
	      "CEF:0|Forcepoint|Security|8.5.4|194|Transaction permitted|1| "
	      "act=permitted app=https dvc=10.0.0.5 dst=93.184.216.34 "
	      "dhost=www.example.com dpt=443 src=10.1.20.45 spt=52144 "
	      "suser=" OPEN "LDAP://10.0.0.10 OU\\=Finance,DC\\=corp,DC\\=example/jdoe" CLOSE
	      " loginID=jdoe requestMethod=GET cat=Search Engines and Portals",
	      DP_U(CEF_EXT, "LDAP://10.0.0.10 OU=Finance,DC=corp,DC=example/jdoe"));
}

/* Forcepoint Web Security in LEEF (QRadar integration): usrName */
static void test_forcepoint_leef(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_leef, "<159>Mar  1 10:15:22 wsg01 ",
	      "LEEF:1.0|Forcepoint|Security|8.5.4|transaction:permitted|"
	      "sev=1\tcat=Search Engines and Portals\tusrName=" OPEN "CORP\\jdoe" CLOSE
	      "\tsrc=10.1.20.45\tdst=93.184.216.34\tdstPort=443\tproto=6",
	      DP_U(NONE, "CORP\\jdoe"));
}

/* Microsoft Forefront TMG web proxy log in W3C: cs-username; the TMG
 * server's own name (s-computername) is not tokenized */
static void test_tmg_w3c(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, &vdp_fmt_w3c);
	dp_check_ctx(&vdp_fmt_w3c, &s.ctx, "",
		     "#Fields: c-ip cs-username c-agent sc-authenticated date time "
		     "s-svcname s-computername cs-referred r-host r-ip r-port time-taken "
		     "cs-bytes sc-bytes cs-protocol cs-transport s-operation cs-uri "
		     "cs-mime-type s-object-source sc-status s-cache-info rule#1 rule#2",
		     VDP_PARSED, NULL, 0);
	static const struct dp_want w[] = { DP_U(NONE, "CORP\\jdoe") };
	dp_check_ctx(&vdp_fmt_w3c, &s.ctx, "",
		     "10.1.20.45 " OPEN "CORP\\jdoe" CLOSE " Mozilla/5.0 Y 2024-03-01 "
		     "10:15:22 w3proxy TMG01 - www.example.com 93.184.216.34 80 128 "
		     "512 5084 http TCP GET http://www.example.com/ text/html Internet "
		     "200 0x40 Allow-Web -",
		     VDP_PARSED, w, NW(w));
	dp_src_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zscaler_nss_json),
		cmocka_unit_test(test_cisco_wsa_squid),
		cmocka_unit_test(test_forcepoint_cef),
		cmocka_unit_test(test_forcepoint_leef),
		cmocka_unit_test(test_tmg_w3c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
