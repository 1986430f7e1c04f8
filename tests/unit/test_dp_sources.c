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


/* Cisco Secure Web Appliance W3C access log (its default W3C fields:
 * timestamp, c-ip, cs-username, ...); the appliance's s-hostname is not
 * a field here and s-ip is not an identity */
static void test_cisco_wsa_w3c(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, &vdp_fmt_w3c);
	DP_SRC_NONE(&s, "", "#Version: 1.0");
	DP_SRC_NONE(&s, "",
		    "#Fields: timestamp x-elapsed-time c-ip x-resultcode-httpstatus "
		    "sc-bytes cs-method cs-url cs-username x-hierarchy-origin "
		    "cs-mime-type x-acltag x-result-code s-ip");
	DP_SRC_OK(&s, "",
		  "1709287522.443 128 10.1.20.45 TCP_MISS/200 5084 GET "
		  "http://www.example.com/ " OPEN "CORP\\jdoe" CLOSE " DIRECT/www.example.com "
		  "text/html DEFAULT_CASE_12-AccessPolicy-ID-NONE-NONE-DefaultGroup-NONE "
		  "IW_srch 10.0.0.5",
		  DP_U(NONE, "CORP\\jdoe"));
	dp_src_fini(&s);
}

/* Cisco Cloud Web Security (ScanCenter) W3C log extract, tab-separated:
 * cs-username (WinNT:// form) */
static void test_cisco_cws_w3c(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, &vdp_fmt_w3c);
	DP_SRC_NONE(&s, "",
		    "#Fields: datetime\tc-ip\tcs(X-Forwarded-For)\tcs-username\tcs-method\t"
		    "cs-uri-scheme\tcs-host\tcs-uri-port\tcs-uri-path\tcs-uri-query\t"
		    "cs(User-Agent)\tcs-bytes\tsc-bytes\tsc-status\ts-ip\tx-ss-category\t"
		    "x-ss-last-rule-name\tx-ss-last-rule-action");
	DP_SRC_OK(&s, "",
		  "2024-03-01 10:15:22\t10.1.20.45\t-\t" OPEN "WinNT://CORP\\jdoe" CLOSE
		  "\tGET\thttp\twww.example.com\t80\t/\t-\tMozilla/5.0 (X11; Linux x86_64)\t"
		  "512\t5084\t200\t203.0.113.80\tc:search\tdefault\tallow",
		  DP_U(NONE, "WinNT://CORP\\jdoe"));
	dp_src_fini(&s);
}

/* Cisco FWSM: the ASA message IDs behind a %FWSM- mnemonic */
static void test_cisco_fwsm(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_asa, "<166>Mar  1 10:15:22 fwsm01 ",
	      "%FWSM-6-109005: Authentication succeeded for user '" OPEN "jdoe" CLOSE
	      "' from 10.1.20.45/52144 to 93.184.216.34/80 on interface inside",
	      DP_U(NONE, "jdoe"));
	assert_true(dp_detect(&vdp_fmt_asa, "<166>Mar  1 10:15:22 fwsm01 ",
			      "%FWSM-6-109005: Authentication succeeded for user 'jdoe' "
			      "from 10.1.20.45/52144 to 93.184.216.34/80 on interface inside"));
}

/* Blue Coat ProxySG access log in its squid and ncsa layouts (the
 * appliance's name is in the syslog header only) */
static void test_proxysg_squid_ncsa(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_squid, "<134>Mar  1 10:15:22 proxysg01 ",
	      "1709287522.443 128 10.1.20.45 TCP_NC_MISS/200 5084 GET "
	      "http://www.example.com/ " OPEN "jdoe" CLOSE " DIRECT/93.184.216.34 text/html",
	      DP_U(NONE, "jdoe"));
	DP_OK(&vdp_fmt_squid_common, "<134>Mar  1 10:15:22 proxysg01 ",
	      "10.1.20.45 " OPEN "-" CLOSE " " OPEN "CORP\\jdoe" CLOSE
	      " [01/Mar/2024:10:15:22 +0000] \"GET http://www.example.com/ HTTP/1.1\" "
	      "200 5084",
	      DP_U(NONE, "-"), DP_U(NONE, "CORP\\jdoe"));
}

/* Cisco Meraki MX "urls" log: no user; the client's MAC when a source
 * asks for it (format kv, device_fields = mac); the MX's name is not a
 * key */
static void test_meraki_urls(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const d[] = { "mac", NULL };
	vdp_keys_set(&ks, NULL, d);
	DP_OKK(&vdp_fmt_kv, &ks, "<134>1 ",
	       "1709287522.443218 MX84_HQ urls src=10.1.20.45:52144 "
	       "dst=93.184.216.34:443 mac=" OPEN "00:1A:2B:3C:4D:5E" CLOSE
	       " agent='Mozilla/5.0' request: GET https://www.example.com/search",
	       DP_D(NONE, "00:1A:2B:3C:4D:5E"));
}

/* Clavister cOS Core syslog (format kv, user_fields = user,username):
 * a user authentication event; the firewall's name is in the header */
static void test_clavister(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const u[] = { "user", "username", NULL };
	vdp_keys_set(&ks, u, NULL);
	DP_OKK(&vdp_fmt_kv, &ks, "<134>Mar  1 10:15:22 cos-hq ",
	       "EFW: USERAUTH: prio=2 id=03700001 rev=1 event=user_login "
	       "action=user_login authsystem=HTTP userdb=LocalUsers user=" OPEN "jdoe" CLOSE
	       " srcip=10.1.20.45 agent=HTTP",
	       DP_U(NONE, "jdoe"));
	DP_NONEK(&vdp_fmt_kv, &ks, "<134>Mar  1 10:15:23 cos-hq ",
		 "EFW: CONN: prio=1 id=00600001 rev=1 event=conn_open action=allow "
		 "rule=lan_to_wan conntype=TCP connsrcif=lan connsrcip=10.1.20.45 "
		 "connsrcport=52144 conndestif=wan conndestip=93.184.216.34 "
		 "conndestport=443");
}

/* McAfee / Skyhigh Web Gateway, its CEF syslog rule set: suser; the
 * gateway is dvchost */
static void test_mcafee_swg_cef(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_cef, "<134>Mar  1 10:15:22 mwg01 ",
	      "CEF:0|McAfee|Web Gateway|11.2.1|200|Proxy-Allowed|2|rt=Mar 01 2024 "
	      "10:15:22 cat=Access Log dst=93.184.216.34 dhost=www.example.com "
	      "suser=" OPEN "jdoe@corp.example" CLOSE " src=10.1.20.45 "
	      "requestMethod=GET request=https://www.example.com/ app=HTTPS "
	      "dvchost=mwg01 cs3Label=Categories cs3=Search Engines",
	      DP_U(CEF_EXT, "jdoe@corp.example"));
}

/* iboss cloud gateway over syslog in CEF: suser, shost */
static void test_iboss_cef(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_cef, "<134>Mar  1 10:15:22 iboss-node1 ",
	      "CEF:0|iboss|Cloud Gateway|10.0|web|Web Request Allowed|3|"
	      "src=10.1.20.45 shost=" OPEN "JDOE-LT01" CLOSE " suser=" OPEN "jdoe" CLOSE
	      " dhost=www.example.com request=https://www.example.com/ act=allowed",
	      DP_D(CEF_EXT, "JDOE-LT01"), DP_U(CEF_EXT, "jdoe"));
}

/* Zscaler NSS firewall and DNS feeds, JSON output: login; the NSS
 * server is not a field */
static void test_zscaler_nss_fw_dns(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_json, "<13>Mar  1 10:15:22 nss01 ",
	      "{\"sourcetype\":\"zscalernss-fw\",\"event\":{\"datetime\":\"Fri Mar 01 "
	      "10:15:22 2024\",\"user\":\"" OPEN "jdoe@corp.example" CLOSE "\","
	      "\"department\":\"Finance\",\"locationname\":\"HQ\",\"cdport\":443,"
	      "\"csip\":\"10.1.20.45\",\"cdip\":\"93.184.216.34\",\"action\":\"Allow\","
	      "\"devicehostname\":\"" OPEN "JDOE-LT01" CLOSE "\"}}",
	      DP_U(JSON, "jdoe@corp.example"), DP_D(JSON, "JDOE-LT01"));
	DP_OK(&vdp_fmt_json, "<13>Mar  1 10:15:22 nss01 ",
	      "{\"sourcetype\":\"zscalernss-dns\",\"event\":{\"datetime\":\"Fri Mar 01 "
	      "10:15:22 2024\",\"user\":\"" OPEN "m.rossi@corp.example" CLOSE "\","
	      "\"location\":\"HQ\",\"reqaction\":\"REQ_ALLOW\",\"req\":\"www.example.com\","
	      "\"reqtype\":\"A\",\"clt_sip\":\"10.1.20.46\"}}",
	      DP_U(JSON, "m.rossi@corp.example"));
}

/* Zscaler NSS in key=value (format kv, user_fields = login,
 * device_fields = devicehostname) */
static void test_zscaler_nss_kv(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const u[] = { "login", NULL };
	static const char *const d[] = { "devicehostname", NULL };
	vdp_keys_set(&ks, u, d);
	DP_OKK(&vdp_fmt_kv, &ks, "<13>Mar  1 10:15:22 nss01 ",
	       "datetime=\"Fri Mar 01 10:15:22 2024\" reason=Allowed action=Allowed "
	       "login=" OPEN "jdoe@corp.example" CLOSE " department=Finance "
	       "devicehostname=\"" OPEN "JDOE-LT01" CLOSE "\" cip=10.1.20.45 "
	       "url=www.example.com/search urlcategory=\"Web Search\"",
	       DP_U(NONE, "jdoe@corp.example"), DP_D(BACKSLASH, "JDOE-LT01"));
}

/* Forcepoint Web Security Cloud report exported to CSV (format csv,
 * user_fields = col:3): the columns the report was built with */
static void test_forcepoint_cloud_csv(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const u[] = { "col:3", NULL };
	vdp_keys_set(&ks, u, NULL);
	DP_OKK(&vdp_fmt_csv, &ks, "",
	       "\"2024-03-01\",\"10:15:22\",\"" OPEN "jdoe@corp.example" CLOSE "\","
	       "\"10.1.20.45\",\"www.example.com\",\"Search Engines and Portals\","
	       "\"Allowed\",\"5084\"",
	       DP_U(CSV, "jdoe@corp.example"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zscaler_nss_json),
		cmocka_unit_test(test_cisco_wsa_squid),
		cmocka_unit_test(test_forcepoint_cef),
		cmocka_unit_test(test_forcepoint_leef),
		cmocka_unit_test(test_tmg_w3c),
		cmocka_unit_test(test_cisco_wsa_w3c),
		cmocka_unit_test(test_cisco_cws_w3c),
		cmocka_unit_test(test_cisco_fwsm),
		cmocka_unit_test(test_proxysg_squid_ncsa),
		cmocka_unit_test(test_meraki_urls),
		cmocka_unit_test(test_clavister),
		cmocka_unit_test(test_mcafee_swg_cef),
		cmocka_unit_test(test_iboss_cef),
		cmocka_unit_test(test_zscaler_nss_fw_dns),
		cmocka_unit_test(test_zscaler_nss_kv),
		cmocka_unit_test(test_forcepoint_cloud_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
