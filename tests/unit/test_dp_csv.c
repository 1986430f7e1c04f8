/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The CSV formats (fmt_csv.c): PAN-OS syslog CSV, every log type with
 * identity columns, and the Websense report layout. Lines follow the
 * vendors' documented column orders (PAN-OS 10.x/11.x); each test asserts
 * the exact spans, kinds, escapes and unescaped names (dp_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

#define U VEIL_KIND_USER
#define D VEIL_KIND_DEVICE
#define BSD_HDR	 "<14>Mar  1 10:15:22 PA-3220-01 "
#define IETF_HDR "<14>1 2024-03-01T10:15:22.443Z PA-3220-01 - - - - "

static struct vdp_keys panos_keys, ws_keys;

static int setup(void **state)
{
	(void)state;
	vdp_keys_set(&panos_keys, vdp_fmt_panos.default_users,
		     vdp_fmt_panos.default_devices);
	vdp_keys_set(&ws_keys, vdp_fmt_websense.default_users,
		     vdp_fmt_websense.default_devices);
	return 0;
}

/* Parse the line after its syslog header (dp_run); hdr: the header the
 * line starts with, for when the syslog parser finds none. */
static enum vdp_parse_rc run(const struct vdp_format *fmt,
			     const struct vdp_keys *ks, const char *line,
			     const char *hdr, struct vdp_fields *out)
{
	return dp_run(fmt, ks, line, strlen(line), hdr, out);
}

/* ---- PAN-OS lines, per the documented column orders ---- */

static const char traffic_bsd[] =
	"<14>Mar  1 10:15:22 PA-3220-01 1,2024/03/01 10:15:22,013201001234,"
	"TRAFFIC,end,2561,2024/03/01 10:15:21,10.1.20.45,142.250.72.110,203.0.113.10,"
	"142.250.72.110,Allow-Web,corp\\jdoe,,ssl,vsys1,trust,untrust,ethernet1/2,"
	"ethernet1/1,Forward-All,2024/03/01 10:15:21,72568134,1,51514,443,23144,"
	"443,0x40441a,tcp,allow,7312,2228,5084,22,2024/03/01 10:14:50,31,search-engines,"
	",7253419119627122716,0x8000000000000000,10.0.0.0-10.255.255.255,United States,"
	",12,10,tcp-fin,0,0,0,0,,PA-3220-01,from-policy,,,0,,0,,N/A,0,0,0,0,"
	"90431d13-81da-4129-8bc5-ce968fa06b76,0,0,,,,,,,,,Workstation,Windows,"
	"Surface Laptop 4,Microsoft,Windows,Windows 11,JDOE-LT01,00:15:5d:01:ab:cd,"
	",,,,,,,,,,,,,,,,,,2024-03-01T10:15:22.443+00:00,,,encrypted-tunnel,"
	"networking,browser-based,4,used-by-malware able-to-transfer-file,,"
	"ssl,no,no,0";

static const char traffic_both[] =
	"<14>1 2024-03-01T10:15:22.443Z PA-3220-01 - - - - 1,2024/03/01 10:15:22,"
	"013201001234,TRAFFIC,start,2561,2024/03/01 10:15:21,10.1.20.45,142.250.72.110,"
	"203.0.113.10,142.250.72.110,Allow-Web,jdoe@corp.example,svc_backup@corp.example,"
	"ssl,vsys1,trust,untrust,ethernet1/2,ethernet1/1,Forward-All,2024/03/01 10:15:21,"
	"72568134,1,51514,443,23144,443,0x40441a,tcp,allow,7312,2228,5084,22,"
	"2024/03/01 10:14:50,31,search-engines,,7253419119627122716,0x8000000000000000,"
	"10.0.0.0-10.255.255.255,United States,,12,10,tcp-fin,0,0,0,0,,PA-3220-01,"
	"from-policy,,,0,,0,,N/A,0,0,0,0,90431d13-81da-4129-8bc5-ce968fa06b76,"
	"0,0,,,,,,,,,Workstation,Windows,Surface Laptop 4,Microsoft,Windows,"
	"Windows 11,JDOE-LT01,00:15:5d:01:ab:cd,,,,,,,FS01.corp.example,,,,"
	",,,,,,,,2024-03-01T10:15:22.443+00:00,,,encrypted-tunnel,networking,"
	"browser-based,4,used-by-malware able-to-transfer-file,,ssl,no,no,0";

static const char traffic_91[] =
	"1,2024/03/01 10:15:22,013201001234,TRAFFIC,deny,2561,2024/03/01 10:15:21,"
	"10.1.20.45,142.250.72.110,203.0.113.10,142.250.72.110,Allow-Web,corp\\jdoe,"
	",ssl,vsys1,trust,untrust,ethernet1/2,ethernet1/1,Forward-All,2024/03/01 10:15:21,"
	"72568134,1,51514,443,23144,443,0x40441a,tcp,allow,7312,2228,5084,22,"
	"2024/03/01 10:14:50,31,search-engines,,7253419119627122716,0x8000000000000000,"
	"10.0.0.0-10.255.255.255,United States,,12,10,tcp-fin,0,0,0,0,,PA-3220-01,"
	"from-policy,,,0,,0,,N/A";

static const char traffic_quoted[] =
	"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
	"10.1.20.45,142.250.72.110,203.0.113.10,142.250.72.110,\"Allow \"\"web\"\","
	" mail\",\"Doe, John \"\"JD\"\"\",,ssl,vsys1,trust,untrust,ethernet1/2,"
	"ethernet1/1,Forward-All,2024/03/01 10:15:21,72568134,1,51514,443,23144,"
	"443,0x40441a,tcp,allow,7312,2228,5084,22,2024/03/01 10:14:50,31,search-engines,"
	",7253419119627122716,0x8000000000000000,10.0.0.0-10.255.255.255,United States,"
	",12,10,tcp-fin,0,0,0,0,,PA-3220-01,from-policy,,,0,,0,,N/A,0,0,0,0,"
	"90431d13-81da-4129-8bc5-ce968fa06b76,0,0,,,,,,,,,Workstation,Windows,"
	"Surface Laptop 4,Microsoft,Windows,Windows 11,José's Mac,00:15:5d:01:ab:cd,"
	",,,,,,,,,,,,,,,,,,2024-03-01T10:15:22.443+00:00,,,encrypted-tunnel,"
	"networking,browser-based,4,used-by-malware able-to-transfer-file,,"
	"ssl,no,no,0";

static const char threat_url[] =
	"<14>Mar  1 10:15:22 PA-3220-01 1,2024/03/01 10:15:22,013201001234,"
	"THREAT,url,2561,2024/03/01 10:15:21,10.1.20.45,142.250.72.110,203.0.113.10,"
	"142.250.72.110,Allow-Web,corp\\m.rossi,,google-base,vsys1,trust,untrust,"
	"ethernet1/2,ethernet1/1,Forward-All,2024/03/01 10:15:21,123456,1,51514,"
	"443,23144,443,0x40b000,tcp,alert,\"www.example.com/a,b?c=\"\"d\"\"\","
	"(9999),search-engines,informational,client-to-server,7301234567890,"
	"0x8000000000000000,10.0.0.0-10.255.255.255,United States,,text/html,"
	"0,,,1,\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML,"
	" like Gecko)\",,,https://www.google.com/,,,,,0,0,0,0,,PA-3220-01,,"
	",,get,0,,0,,N/A,unknown,AppThreat-8790-8515,,0,0,,\"search-engines,"
	"low-risk\",2b8c9d3e-1f2a-4b5c-8d7e-6f5a4b3c2d1e,0,,,,,,,,,ROSSI-PC,"
	",,,,,,,,,,,,,,,,,,2024-03-01T10:15:22.443+00:00,,,,";

static const char threat_mail[] =
	"1,2024/03/01 10:15:22,013201001234,THREAT,wildfire,2561,2024/03/01 10:15:21,"
	"10.1.20.45,142.250.72.110,203.0.113.10,142.250.72.110,Allow-Web,,,"
	"google-base,vsys1,trust,untrust,ethernet1/2,ethernet1/1,Forward-All,"
	"2024/03/01 10:15:21,123456,1,51514,443,23144,443,0x40b000,tcp,alert,"
	"invoice.pdf,(9999),search-engines,informational,client-to-server,7301234567890,"
	"0x8000000000000000,10.0.0.0-10.255.255.255,United States,,text/html,"
	"0,,,1,\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML,"
	" like Gecko)\",,,https://www.google.com/,Alice Martin <alice@partner.example>,"
	",bob.smith@corp.example,,0,0,0,0,,PA-3220-01,,,,get,0,,0,,N/A,unknown,"
	"AppThreat-8790-8515,,0,0,,\"search-engines,low-risk\",2b8c9d3e-1f2a-4b5c-8d7e-6f5a4b3c2d1e,"
	"0,,,,,,,,,,,,,,,,,,,,,,,,,,,,2024-03-01T10:15:22.443+00:00,,,,";

static const char decryption[] =
	"1,2024/03/01 10:15:22,013201001234,DECRYPTION,0,2561,2024/03/01 10:15:21,"
	"10.1.20.45,52.96.165.18,203.0.113.10,52.96.165.18,Decrypt-Outbound,"
	"corp\\jdoe,,ms-office365-base,vsys1,trust,untrust,ethernet1/2,ethernet1/1,"
	"Forward-All,2024/03/01 10:15:21,884211,1,61022,443,30011,443,0x400000,"
	"tcp,allow,N/A,,,,,1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6,Certificate,"
	"Certificate,TLS1.3,ECDHE,AES_256_GCM,SHA384,Decrypt-Outbound,secp256r1,"
	"0,trusted,trusted,Forward,3b00ab12cd34ef56,a1b2c3d4e5f60718293a4b5c6d7e8f9012345678,"
	"2024-01-10 00:00:00,2025-01-09 23:59:59,V3,2048,19,42,38,19,0x00,outlook.office365.com,"
	"DigiCert Cloud Services CA-1,DigiCert Global Root CA,outlook.office365.com,"
	"None,,,,,,,,2024-03-01T10:15:22.443+00:00,Workstation,Windows,,,,,"
	"JDOE-LT01,,,,,,,,,,7301234567999,0x8000000000000000,,,,,PA-3220-01,"
	",,,";

static const char userid[] =
	"<14>Mar  1 10:15:22 PA-3220-01 1,2024/03/01 10:15:22,013201001234,"
	"USERID,login,2561,2024/03/01 10:15:21,vsys1,10.1.20.45,CORP\\José.Müller,"
	"AD-DC01,0,1,2700,0,0,agent,AD,7301234567001,0x8000000000000000,0,0,"
	"0,0,,PA-3220-01,1,,,0,0x0,CORP\\José.Müller,,2024-03-01T10:15:22.443+00:00,"
	",,";

static const char userid_short[] =
	"1,2024/03/01 10:15:22,013201001234,USERID,login,2561,2024/03/01 10:15:21,"
	"vsys1,10.1.20.45,corp\\asmith,AD-DC01,0,1,2700,0,0,agent,AD,7301234567001,"
	"0x8000000000000000";

static const char gp[] =
	"1,2024/03/01 10:15:22,013201001234,GLOBALPROTECT,0,2561,2024/03/01 10:15:21,"
	"vsys1,gateway-auth,login,LDAP,IPSec,jdoe@corp.example,US,JDOE-LT01,"
	"198.51.100.23,0.0.0.0,10.250.0.17,0.0.0.0,3d2f8c14-7e11-4b6a-9f0e-5a4c3b2a1908,"
	"PF2XK9ZQ,6.1.3,Microsoft Windows,\"Microsoft Windows 11 Pro , 64-bit\","
	"1,,,\"Login succeeded, via SAML\",success,,0,user-logon,0,GP-Portal,"
	"7301234567002,0x8000000000000000,2024-03-01T10:15:22.443+00:00,,0,"
	",,GP-Gateway-East,0,0,0,0,,PA-3220-01,0";

static const char hip[] =
	"1,2024/03/01 10:15:22,013201001234,HIPMATCH,0,2561,2024/03/01 10:15:21,"
	"corp\\jdoe,vsys1,JDOE-LT01,\"Microsoft Windows 11 Pro , 64-bit\",10.250.0.17,"
	"Corp-Compliant,1,profile,,,7301234567004,0x8000000000000000,0,0,0,"
	"0,,PA-3220-01,1,,3d2f8c14-7e11-4b6a-9f0e-5a4c3b2a1908,PF2XK9ZQ,00:15:5d:01:ab:cd,"
	"2024-03-01T10:15:22.443+00:00";

static const char auth[] =
	"1,2024/03/01 10:15:22,013201001234,AUTHENTICATION,0,2561,2024/03/01 10:15:21,"
	"vsys1,10.1.20.45,jdoe,jdoe@corp.example,Captive-Portal,Auth-Web-Apps,"
	"1,5201,Okta,Forward-All,okta-saml,\"Authenticated, MFA ok\",0,auth-success,"
	"1,7301234567003,0x8000000000000000,0,0,0,0,,PA-3220-01,1,SAML,5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170,"
	"2024-03-01T10:15:22.443+00:00,Workstation,Windows,,,,,JDOE-LT01,00:15:5d:01:ab:cd,"
	",,Mozilla/5.0,72568134,";

static const char config[] =
	"1,2024/03/01 10:15:22,013201001234,CONFIG,0,2561,2024/03/01 10:15:21,"
	"10.1.1.5,vsys1,set,admin,Web,Succeeded,\" vsys  vsys1 rulebase security rules  \"\"Allow-Web\"\"\","
	",,7301234567006,0x8000000000000000,0,0,0,0,,PA-3220-01,0,2024-03-01T10:15:22.443+00:00";

static const char sys_authfail[] =
	"<14>Mar  1 10:15:22 PA-3220-01 1,2024/03/01 10:15:22,013201001234,"
	"SYSTEM,auth,0,2024/03/01 10:15:21,,auth-fail,,0,0,general,medium,failed authentication for user 'admin'. Reason: Invalid username/password. From: 10.0.10.55.,"
	"7301234567005,0x8000000000000000,0,0,0,0,,PA-3220-01,0,0,2024-03-01T10:15:22.443+00:00";

static const char sys_gp[] =
	"1,2024/03/01 10:15:22,013201001234,SYSTEM,globalprotect,0,2024/03/01 10:15:21,"
	",globalprotectgateway-auth-succ,,0,0,general,informational,\"GlobalProtect gateway user authentication succeeded. Login from: 198.51.100.23,"
	" Source region: US, User name: corp\\jdoe, Client OS version: Microsoft Windows 10 Pro ,"
	" 64-bit.\",7301234567005,0x8000000000000000,0,0,0,0,,PA-3220-01,0,"
	"0,2024-03-01T10:15:22.443+00:00";

static const char sys_general[] =
	"1,2024/03/01 10:15:22,013201001234,SYSTEM,general,0,2024/03/01 10:15:21,"
	",general,,0,0,general,informational,Commit job succeeded for job 412,"
	"7301234567005,0x8000000000000000,0,0,0,0,,PA-3220-01,0,0,2024-03-01T10:15:22.443+00:00";


/* ---- PAN-OS: one test per log type ---- */

static void test_panos_traffic(void **state)
{
	(void)state;
	struct vdp_fields o;
	const char *l = traffic_bsd;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, BSD_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 4);
	dp_field(l, &o, 0, dp_after(l, "Allow-Web,", 1), "corp\\jdoe", U, VDP_ESC_NONE, "corp\\jdoe");
	dp_field(l, &o, 1, dp_after(l, "corp\\jdoe,", 1), "", U, VDP_ESC_NONE, "");
	dp_field(l, &o, 2, dp_after(l, "Windows 11,", 1), "JDOE-LT01", D, VDP_ESC_NONE, "JDOE-LT01");
	dp_field(l, &o, 3, dp_after(l, "00:15:5d:01:ab:cd,,,,,,,", 1), "", D, VDP_ESC_NONE, "");

	/* source and destination users, RFC 5424 header */
	l = traffic_both;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, IETF_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 4);
	dp_field(l, &o, 0, dp_after(l, "Allow-Web,", 1), "jdoe@corp.example", U, VDP_ESC_NONE,
	      "jdoe@corp.example");
	dp_field(l, &o, 1, dp_after(l, "jdoe@corp.example,", 1), "svc_backup@corp.example", U,
	      VDP_ESC_NONE, "svc_backup@corp.example");
	dp_field(l, &o, 2, dp_after(l, "Windows 11,", 1), "JDOE-LT01", D, VDP_ESC_NONE, "JDOE-LT01");
	dp_field(l, &o, 3, dp_after(l, "00:15:5d:01:ab:cd,,,,,,,", 1), "FS01.corp.example", D,
	      VDP_ESC_NONE, "FS01.corp.example");
}

static void test_panos_traffic_older_and_quoted(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* a 9.1-length line (61 columns): no host columns, no error */
	const char *l = traffic_91;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "Allow-Web,", 1), "corp\\jdoe", U, VDP_ESC_NONE, "corp\\jdoe");
	dp_field(l, &o, 1, dp_after(l, "corp\\jdoe,", 1), "", U, VDP_ESC_NONE, "");

	/* quoted fields before and at the user: "" is a quote */
	l = traffic_quoted;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 4);
	dp_field(l, &o, 0, dp_after(l, "mail\",\"", 1), "Doe, John \"\"JD\"\"", U, VDP_ESC_CSV,
	      "Doe, John \"JD\"");
	dp_field(l, &o, 1, dp_after(l, "\"\"JD\"\"\",", 1), "", U, VDP_ESC_NONE, "");
	dp_field(l, &o, 2, dp_after(l, "Windows 11,", 1), "Jos\u00e9's Mac", D, VDP_ESC_NONE,
	      "Jos\u00e9's Mac");
}

static void test_panos_threat(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* URL log (THREAT/url): quoted URL and user agent before the hosts */
	const char *l = threat_url;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, BSD_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 6);
	dp_field(l, &o, 0, dp_after(l, "Allow-Web,", 1), "corp\\m.rossi", U, VDP_ESC_NONE,
	      "corp\\m.rossi");
	dp_field(l, &o, 1, dp_after(l, "m.rossi,", 1), "", U, VDP_ESC_NONE, "");
	dp_field(l, &o, 2, dp_after(l, "https://www.google.com/,", 1), "", U, VDP_ESC_NONE, "");
	dp_field(l, &o, 3, dp_after(l, "https://www.google.com/,,,", 1), "", U, VDP_ESC_NONE, "");
	dp_field(l, &o, 4, dp_after(l, "low-risk\",2b8c9d3e-1f2a-4b5c-8d7e-6f5a4b3c2d1e,0,,,,,,,,,", 1),
	      "ROSSI-PC", D, VDP_ESC_NONE, "ROSSI-PC");
	dp_field(l, &o, 5, dp_after(l, "ROSSI-PC,,,,,,,,", 1), "", D, VDP_ESC_NONE, "");

	/* WildFire email verdict: sender and recipient */
	l = threat_mail;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 6);
	dp_field(l, &o, 2, dp_after(l, "https://www.google.com/,", 1),
	      "Alice Martin <alice@partner.example>", U, VDP_ESC_NONE,
	      "Alice Martin <alice@partner.example>");
	dp_field(l, &o, 3, dp_after(l, "partner.example>,,", 1), "bob.smith@corp.example", U,
	      VDP_ESC_NONE, "bob.smith@corp.example");
}

static void test_panos_decryption(void **state)
{
	(void)state;
	struct vdp_fields o;
	const char *l = decryption;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 4);
	dp_field(l, &o, 0, dp_after(l, "Decrypt-Outbound,", 1), "corp\\jdoe", U, VDP_ESC_NONE,
	      "corp\\jdoe");
	dp_field(l, &o, 2, dp_after(l, "Workstation,Windows,,,,,", 1), "JDOE-LT01", D,
	      VDP_ESC_NONE, "JDOE-LT01");
	dp_field(l, &o, 3, dp_after(l, "JDOE-LT01,,,,,,,,", 1), "", D, VDP_ESC_NONE, "");
}

static void test_panos_userid(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* the user twice: User and User by Source; UTF-8 name */
	const char *l = userid;
	const char *name = "CORP\\Jos\u00e9.M\u00fcller";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, BSD_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "vsys1,10.1.20.45,", 1), name, U, VDP_ESC_NONE, name);
	dp_field(l, &o, 1, dp_after(l, "0x0,", 1), name, U, VDP_ESC_NONE, name);

	/* an 8.x-length line: the columns it has */
	l = userid_short;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(l, &o, 0, dp_after(l, "vsys1,10.1.20.45,", 1), "corp\\asmith", U, VDP_ESC_NONE,
	      "corp\\asmith");
}

static void test_panos_globalprotect_hip_auth_config(void **state)
{
	(void)state;
	struct vdp_fields o;
	const char *l = gp;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "IPSec,", 1), "jdoe@corp.example", U, VDP_ESC_NONE,
	      "jdoe@corp.example");
	dp_field(l, &o, 1, dp_after(l, "US,", 1), "JDOE-LT01", D, VDP_ESC_NONE, "JDOE-LT01");

	l = hip;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10:15:21,", 1), "corp\\jdoe", U, VDP_ESC_NONE, "corp\\jdoe");
	dp_field(l, &o, 1, dp_after(l, "vsys1,", 1), "JDOE-LT01", D, VDP_ESC_NONE, "JDOE-LT01");

	l = auth;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 3);
	dp_field(l, &o, 0, dp_after(l, "10.1.20.45,", 1), "jdoe", U, VDP_ESC_NONE, "jdoe");
	dp_field(l, &o, 1, dp_after(l, "10.1.20.45,jdoe,", 1), "jdoe@corp.example", U,
	      VDP_ESC_NONE, "jdoe@corp.example");
	dp_field(l, &o, 2, dp_after(l, "Workstation,Windows,,,,,", 1), "JDOE-LT01", D,
	      VDP_ESC_NONE, "JDOE-LT01");

	/* the short type name some versions send */
	static const char auth_short[] =
		"1,2024/03/01 10:15:22,013201001234,AUTH,0,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,m.rossi,m.rossi@corp.example,Captive-Portal";
	l = auth_short;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 1, dp_after(l, "m.rossi,", 1), "m.rossi@corp.example", U, VDP_ESC_NONE,
	      "m.rossi@corp.example");

	/* CONFIG: the admin's client host, then the admin */
	l = config;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10:15:21,", 1), "10.1.1.5", D, VDP_ESC_NONE, "10.1.1.5");
	dp_field(l, &o, 1, dp_after(l, "vsys1,set,", 1), "admin", U, VDP_ESC_NONE, "admin");
}

static void test_panos_system(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* "user 'X'" in an unquoted Description */
	const char *l = sys_authfail;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, BSD_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(l, &o, 0, dp_after(l, "for user '", 1), "admin", U, VDP_ESC_NONE, "admin");

	/* "User name: X," in a quoted Description */
	l = sys_gp;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(l, &o, 0, dp_after(l, "User name: ", 1), "corp\\jdoe", U, VDP_ESC_CSV, "corp\\jdoe");

	/* no name in it */
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, sys_general, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 0);

	/* several names, a name cut at the field's end, a full stop */
	static const char many[] =
		"1,2024/03/01 10:15:22,013201001234,SYSTEM,general,0,2024/03/01 10:15:21,"
		",general,,0,0,general,informational,\"User 'ann' replaced user 'bob', "
		"User name: carl.\",7301234567005";
	l = many;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 3);
	dp_field(l, &o, 0, dp_after(l, "User '", 1), "ann", U, VDP_ESC_CSV, "ann");
	dp_field(l, &o, 1, dp_after(l, "user '", 1), "bob", U, VDP_ESC_CSV, "bob");
	dp_field(l, &o, 2, dp_after(l, "User name: ", 1), "carl", U, VDP_ESC_CSV, "carl");
	static const char cut[] =
		"1,2024/03/01 10:15:22,013201001234,SYSTEM,auth,0,2024/03/01 10:15:21,"
		",auth-fail,,0,0,general,medium,failed authentication for user 'adm";
	l = cut;
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(l, &o, 0, dp_after(l, "user '", 1), "adm", U, VDP_ESC_NONE, "adm");

	/* more names than a message may have: dropped, not cut short */
	char big[2048];
	int n = snprintf(big, sizeof(big), "1,2024/03/01 10:15:22,013201001234,"
			 "SYSTEM,auth,0,2024/03/01 10:15:21,,auth-fail,,0,0,general,"
			 "medium,");
	for (int i = 0; i <= VDP_MAX_FIELDS; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "user 'u%d' ", i);
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, big, NULL, &o), VDP_MALFORMED);
}

static void test_panos_types_without_identities(void **state)
{
	(void)state;
	struct vdp_fields o;
	static const char iptag[] =
		"1,2024/03/01 10:15:22,013201001234,IPTAG,0,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,quarantine,register,1,0,NAC,xml-api,,7301234567007,"
		"0x8000000000000000,0,0,0,0,,PA-3220-01,1";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, iptag, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 0);

	/* a log type whose columns veil doesn't know: where would the user be? */
	static const char correlation[] =
		"1,2024/03/01 10:15:22,013201001234,CORRELATION,compromised-host,,"
		"2024/03/01 10:15:21,10.1.20.45,corp\\jdoe,beacon-detection,medium";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, correlation, NULL, &o),
			 VDP_MALFORMED);
	assert_false(dp_detect(&vdp_fmt_panos, "", correlation));
}

static void test_panos_not_mine(void **state)
{
	(void)state;
	struct vdp_fields o;
	static const char *const lines[] = {
		"<38>Mar  1 10:15:22 fw01 sshd[812]: Accepted publickey for root",
		"1,2024/03/01 10:15:22,013201001234",      /* no Type column */
		"1,2024/03/01 10:15:22,0132,traffic,end",  /* not a Type value */
		"{\"login\":\"jdoe\"}",
		"",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(run(&vdp_fmt_panos, &panos_keys, lines[i], NULL, &o),
				 VDP_NOT_MINE);
		assert_false(dp_detect(&vdp_fmt_panos, "", lines[i]));
	}
}

static void test_panos_quoting(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* a quote in an unquoted field is a literal byte */
	static const char lit[] =
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
		"10.1.20.45,142.250.72.110,,,Allow \"web\" out,jdoe,,ssl";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, lit, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(lit, &o, 0, dp_after(lit, "out,", 1), "jdoe", U, VDP_ESC_NONE, "jdoe");

	/* an unterminated quote before the user: the user can't be found */
	static const char open[] =
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
		"10.1.20.45,142.250.72.110,,,\"Allow-Web,jdoe,,ssl,vsys1";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, open, NULL, &o), VDP_MALFORMED);
	/* ... or around it */
	static const char open_user[] =
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
		"10.1.20.45,142.250.72.110,,,Allow-Web,\"Doe, John";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, open_user, NULL, &o),
			 VDP_MALFORMED);
	/* bytes after a closing quote */
	static const char junk[] =
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
		"10.1.20.45,142.250.72.110,,,\"Allow-Web\"x,jdoe,,ssl";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, junk, NULL, &o), VDP_MALFORMED);
	/* a lone quote inside quotes */
	static const char lone[] =
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end,2561,2024/03/01 10:15:21,"
		"10.1.20.45,142.250.72.110,,,Allow-Web,\"Doe \"John\",,ssl";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, lone, NULL, &o), VDP_MALFORMED);

	/* broken after the last column wanted: not read */
	static const char tail[] =
		"1,2024/03/01 10:15:22,013201001234,USERID,login,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,jdoe,AD-DC01,0,1,2700,0,0,agent,AD,7301234567001,"
		"0x8000000000000000,0,0,0,0,,PA-3220-01,1,,,0,0x0,jdoe,\"broken";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, tail, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);

	/* a truncated line that ends with its user, CRLF framing */
	static const char crlf[] =
		"1,2024/03/01 10:15:22,013201001234,USERID,login,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,corp\\jdoe\r\n";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, crlf, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(crlf, &o, 0, dp_after(crlf, "10.1.20.45,", 1), "corp\\jdoe", U, VDP_ESC_NONE,
	      "corp\\jdoe");
	/* ... quoted */
	static const char crlf_q[] =
		"1,2024/03/01 10:15:22,013201001234,USERID,login,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,\"Doe, J\"\r\n";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, crlf_q, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(crlf_q, &o, 0, dp_after(crlf_q, "10.1.20.45,\"", 1), "Doe, J", U, VDP_ESC_CSV,
	      "Doe, J");
	/* a trailing comma: an empty last column */
	static const char comma[] =
		"1,2024/03/01 10:15:22,013201001234,USERID,login,2561,2024/03/01 10:15:21,"
		"vsys1,10.1.20.45,";
	assert_int_equal(run(&vdp_fmt_panos, &panos_keys, comma, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(comma, &o, 0, strlen(comma), "", U, VDP_ESC_NONE, "");
}

static void test_panos_keys(void **state)
{
	(void)state;
	struct vdp_fields o;
	struct vdp_keys ks;
	const char *l = traffic_both;

	/* only the destination user; column 15 (Application) as a device */
	static const char *const u1[] = { "dst_user", NULL };
	static const char *const d1[] = { "traffic:15", NULL };
	vdp_keys_set(&ks, u1, d1);
	assert_int_equal(run(&vdp_fmt_panos, &ks, l, IETF_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "jdoe@corp.example,", 1), "svc_backup@corp.example", U,
	      VDP_ESC_NONE, "svc_backup@corp.example");
	dp_field(l, &o, 1, dp_after(l, "svc_backup@corp.example,", 1), "ssl", D, VDP_ESC_NONE,
	      "ssl");

	/* one column named twice: reported once, the first key's kind */
	static const char *const u2[] = { "src_user", NULL };
	static const char *const d2[] = { "TRAFFIC:13", "threat:14", "traffic:0",
					  "traffic:x1", "traffic:99999", "traffic:3",
					  NULL };
	vdp_keys_set(&ks, u2, d2);
	assert_int_equal(run(&vdp_fmt_panos, &ks, l, IETF_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10:15:22,", 1), "013201001234", D, VDP_ESC_NONE,
	      "013201001234");
	dp_field(l, &o, 1, dp_after(l, "Allow-Web,", 1), "jdoe@corp.example", U, VDP_ESC_NONE,
	      "jdoe@corp.example");

	/* no keys: nothing */
	vdp_keys_set(&ks, NULL, NULL);
	assert_int_equal(run(&vdp_fmt_panos, &ks, l, IETF_HDR, &o), VDP_PARSED);
	assert_int_equal(o.n, 0);
}

/* Parse @p line with @p ctx (its memo kept across calls), as a worker does. */
static enum vdp_parse_rc run_ctx(const struct vdp_format *fmt,
				 struct vdp_parse_ctx *ctx, const char *line,
				 struct vdp_fields *out)
{
	struct vdp_msg m = { .data = line, .len = strlen(line) };
	vdp_syslog_parse(&m);
	memset(out, 0x5a, sizeof(*out));
	return fmt->parse(ctx, &m, out);
}

/* The columns a log type's keys ask for are made once per source (the
 * memo a worker keeps): lines of every type, in turns, under the default
 * keys and under keys of the test's own, give exactly the fields of a
 * parse without a memo, in both modes (format panos and auto's one call). */
static void test_panos_memo(void **state)
{
	(void)state;
	static const char *const lines[] = { traffic_bsd, threat_url, sys_authfail,
					     userid, decryption, traffic_both,
					     threat_mail, sys_gp, traffic_91 };
	static const char *const u[] = { "dst_user", "src_user", "description", NULL };
	static const char *const d[] = { "traffic:15", "threat:87", "src_host", NULL };
	struct vdp_keys own;
	vdp_keys_set(&own, u, d);
	const struct vdp_keys *sets[] = { &panos_keys, &own };
	for (unsigned k = 0; k < 2; k++) {
		void *memo = NULL;
		struct vdp_parse_ctx ctx = { .keys = sets[k], .memo = &memo };
		unsigned parsed = 0;
		for (unsigned round = 0; round < 3; round++)
			for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
				struct vdp_fields want, got;
				enum vdp_parse_rc rc = run(&vdp_fmt_panos, sets[k], lines[i],
							   NULL, &want);
				assert_int_equal(run_ctx(&vdp_fmt_panos, &ctx, lines[i], &got), rc);
				assert_int_equal(got.n, want.n);
				assert_memory_equal(got.f, want.f, want.n * sizeof(want.f[0]));
				/* auto's one call: detect() then parse() */
				struct vdp_msg m = { .data = lines[i], .len = strlen(lines[i]) };
				vdp_syslog_parse(&m);
				enum vdp_parse_rc arc = vdp_fmt_panos.detect(&m) ? rc : VDP_NOT_MINE;
				assert_int_equal(vdp_fmt_panos.detect_parse(&ctx, &m, &got), arc);
				if (arc == VDP_PARSED) {
					assert_int_equal(got.n, want.n);
					assert_memory_equal(got.f, want.f, want.n * sizeof(want.f[0]));
				}
				parsed += rc == VDP_PARSED && want.n > 0;
			}
		assert_non_null(memo); /* made on the first line */
		assert_true(parsed >= 2 * 3);
		free(memo);
	}
}

static void test_panos_detect(void **state)
{
	(void)state;
	static const char *const yes[] = {
		traffic_bsd, traffic_both, traffic_91, traffic_quoted, threat_url,
		threat_mail, decryption, userid, userid_short, gp, hip, auth, config,
		sys_authfail, sys_gp, sys_general,
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(dp_detect(&vdp_fmt_panos, "", yes[i]));
	static const char *const no[] = {
		"1,2024-03-01 10:15:22,013201001234,TRAFFIC,end",   /* ISO date */
		"1,2024/03/01 10:15:22,013201001234,\"TRAFFIC\",end",
		"\"2024-03-01\",\"10:15:22\",\"jdoe\",\"PC1\"",
		"CEF:0|Palo Alto Networks|PAN-OS|10.2|end|TRAFFIC|1|suser=jdoe",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(dp_detect(&vdp_fmt_panos, "", no[i]));
	assert_false(dp_detect(&vdp_fmt_websense, "", traffic_both));
}

/* Newer leading fields: PAN-OS 10.x/11.x and logs relayed by Panorama or
 * a Log Collector may carry a receive time (ISO 8601) or a sequence number
 * ahead of the serial and Type; the columns after Type keep their order,
 * so the identity columns move with Type. */
static void test_panos_leading_fields(void **state)
{
	(void)state;
	/* ISO 8601 receive time first, no FUTURE_USE column */
	DP_OK(&vdp_fmt_panos, "",
	      "<14>1 2024-03-01T10:15:22.443Z PA-3220-01 - - - - "
	      "2024-03-01T10:15:22.443+00:00,013201001234,TRAFFIC,end,2561,"
	      "2024-03-01T10:15:21.000+00:00,10.1.20.45,142.250.72.110,203.0.113.10,"
	      "142.250.72.110,Allow-Web," OPEN "corp\\jdoe" CLOSE "," OPEN CLOSE ",ssl,vsys1",
	      DP_U(NONE, "corp\\jdoe"), DP_U(NONE, ""));
	/* a sequence number ahead of the classic head */
	DP_OK(&vdp_fmt_panos, "",
	      "<14>Mar  1 10:15:22 PA-3220-01 7301234567005,1,2024/03/01 10:15:22,"
	      "013201001234,THREAT,url,2561,2024/03/01 10:15:21,10.1.20.45,"
	      "142.250.72.110,203.0.113.10,142.250.72.110,Allow-Web,"
	      OPEN "jdoe@corp.example" CLOSE "," OPEN CLOSE ",web-browsing,vsys1",
	      DP_U(NONE, "jdoe@corp.example"), DP_U(NONE, ""));
	/* FUTURE_USE then an ISO 8601 receive time (PAN-OS 11.x, custom
	 * syslog time) */
	DP_OK(&vdp_fmt_panos, "",
	      "1,2024-03-01T10:15:22+01:00,013201001234,USERID,login,2561,"
	      "2024-03-01T10:15:22+01:00,vsys1,10.1.20.45," OPEN "corp\\jdoe" CLOSE
	      ",,0,1,0,0,0,active-directory,7301234567006,0x8000000000000000",
	      DP_U(NONE, "corp\\jdoe"));
	static const char *const yes[] = {
		"2024-03-01T10:15:22Z,013201001234,TRAFFIC,end",
		"2024-03-01T10:15:22.443-05:00,013201001234,SYSTEM,general",
		"42,1,2024/03/01 10:15:22,013201001234,TRAFFIC,end",
		"1,2024-03-01T10:15:22.443Z,013201001234,TRAFFIC,end",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(dp_detect(&vdp_fmt_panos, "", yes[i]));
	static const char *const no[] = {
		"2024-03-01T10:15:22Z,TRAFFIC,end",         /* no serial */
		"2024-03-01T10:15,013201001234,TRAFFIC,end", /* no seconds */
		"a,b,c,2024/03/01 10:15:22,013201001234,TRAFFIC,end",
		"jdoe,2024-03-01T10:15:22Z,013201001234,TRAFFIC,end",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(dp_detect(&vdp_fmt_panos, "", no[i]));
}

/* ---- Websense ---- */

static const char ws_quoted[] =
	"\"2024-03-01\",\"10:15:22\",\"CORP\\jdoe\",\"JDOE-LT01\",\"10.1.20.45\","
	"\"142.250.72.110\",\"www.google.com\",\"https://www.google.com/search?q=a,b\","
	"\"Search Engines and Portals\",\"Category permitted\",\"HTTPS\",\"443\","
	"\"2228\",\"5084\",\"1\",\"corp.example\",\"Sales\",\"Productivity Loss\"";
static const char ws_plain[] =
	"2024-03-01,10:16:40,jdoe@corp.example,10.1.20.46,10.1.20.46,151.101.1.69,"
	"www.reddit.com,https://www.reddit.com/,Social Networking,Category blocked,"
	"HTTPS,443,517,0,1,corp.example,Sales,Productivity Loss";
static const char ws_header[] =
	"\"Date\",\"Time\",\"User\",\"Workstation\",\"Source IP\",\"Destination IP\","
	"\"URL Hostname\",\"Full URL\",\"Category\",\"Action\",\"Protocol\",\"Port\","
	"\"Bytes Sent\",\"Bytes Received\",\"Hits\",\"Domain\",\"Group\",\"Risk Class\"";
static const char ws_ldap[] =
	"\"03/01/2024\",\"10:17:05 AM\",\"LDAP://10.0.0.10 OU=Sales,DC=corp,DC=example/"
	"Smith, \"\"Bob\"\"\",\"SALES-PC-07\",\"10.1.30.7\",\"52.96.165.18\","
	"\"outlook.office365.com\",\"https://outlook.office365.com/mail/\","
	"\"Web-based Email\",\"Category permitted\",\"HTTPS\",\"443\",\"1022\","
	"\"88211\",\"3\",\"corp.example\",\"Sales\",\"Business Usage\"";

static void test_websense(void **state)
{
	(void)state;
	struct vdp_fields o;
	const char *l = ws_quoted;
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10:15:22\",\"", 1), "CORP\\jdoe", U, VDP_ESC_CSV,
	      "CORP\\jdoe");
	dp_field(l, &o, 1, dp_after(l, "jdoe\",\"", 1), "JDOE-LT01", D, VDP_ESC_CSV, "JDOE-LT01");

	l = ws_plain;
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10:16:40,", 1), "jdoe@corp.example", U, VDP_ESC_NONE,
	      "jdoe@corp.example");
	dp_field(l, &o, 1, dp_after(l, "corp.example,", 1), "10.1.20.46", D, VDP_ESC_NONE,
	      "10.1.20.46");

	/* an LDAP user path with commas and quotes */
	l = ws_ldap;
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "AM\",\"", 1),
	      "LDAP://10.0.0.10 OU=Sales,DC=corp,DC=example/Smith, \"\"Bob\"\"", U,
	      VDP_ESC_CSV, "LDAP://10.0.0.10 OU=Sales,DC=corp,DC=example/Smith, \"Bob\"");
	dp_field(l, &o, 1, dp_after(l, "\"\"Bob\"\"\",\"", 1), "SALES-PC-07", D, VDP_ESC_CSV,
	      "SALES-PC-07");

	/* the header line names columns, no one */
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, ws_header, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 0);

	/* empty and "-" values are reported: the core knows "no user" */
	static const char empty[] = "\"2024-03-01\",\"10:18:00\",\"\",\"-\",\"10.1.20.9\"";
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, empty, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(empty, &o, 0, dp_after(empty, "10:18:00\",\"", 1), "", U, VDP_ESC_CSV, "");
	dp_field(empty, &o, 1, dp_after(empty, "\"\",\"", 1), "-", D, VDP_ESC_CSV, "-");

	/* a short line; a UTF-8 name */
	static const char shortl[] = "2024-03-01,10:18:00,Zo\u00eb.\u00c5ngstr\u00f6m@corp.example";
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys, shortl, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	dp_field(shortl, &o, 0, dp_after(shortl, "10:18:00,", 1),
	      "Zo\u00eb.\u00c5ngstr\u00f6m@corp.example", U, VDP_ESC_NONE,
	      "Zo\u00eb.\u00c5ngstr\u00f6m@corp.example");

	/* broken quoting */
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys,
			     "\"2024-03-01\",\"10:18:00\",\"asmith", NULL, &o), VDP_MALFORMED);
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys,
			     "\"2024-03-01\",\"10:18:00\",\"asmith,\"PC-1\"", NULL, &o),
			 VDP_MALFORMED);
	assert_int_equal(run(&vdp_fmt_websense, &ws_keys,
			     "\"2024-03-01\",\"10:18:00\",\"asmith\",\"PC-1\",\"10.1", NULL, &o),
			 VDP_PARSED); /* after the workstation: not read */
}

static void test_websense_keys_and_detect(void **state)
{
	(void)state;
	struct vdp_fields o;
	struct vdp_keys ks;
	static const char *const u[] = { "group", NULL };
	static const char *const d[] = { "col:5", NULL };
	vdp_keys_set(&ks, u, d);
	const char *l = ws_plain;
	assert_int_equal(run(&vdp_fmt_websense, &ks, l, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	dp_field(l, &o, 0, dp_after(l, "10.1.20.46,", 1), "10.1.20.46", D, VDP_ESC_NONE,
	      "10.1.20.46");
	dp_field(l, &o, 1, dp_after(l, "corp.example,", 2), "Sales", U, VDP_ESC_NONE, "Sales");
	/* a column by number has no title: the header's "User" is reported */
	static const char *const u3[] = { "col:3", NULL };
	vdp_keys_set(&ks, u3, NULL);
	assert_int_equal(run(&vdp_fmt_websense, &ks, ws_header, NULL, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);

	assert_true(dp_detect(&vdp_fmt_websense, "", ws_quoted));
	assert_true(dp_detect(&vdp_fmt_websense, "", ws_plain));
	assert_true(dp_detect(&vdp_fmt_websense, "", ws_header));
	assert_true(dp_detect(&vdp_fmt_websense, "", ws_ldap));
	assert_true(dp_detect(&vdp_fmt_websense, "", "<13>Mar  1 10:15:22 wsg01 1/3/2024,9:05,jdoe"));
	assert_false(dp_detect(&vdp_fmt_websense, "", "\"Mar 1, 2024\",\"10:15:22\",\"jdoe\""));
	assert_false(dp_detect(&vdp_fmt_websense, "", "2024-03-01,10:15:22"));
	assert_false(dp_detect(&vdp_fmt_websense, "", "2024-03-01,noon,jdoe"));
	assert_false(dp_detect(&vdp_fmt_websense, "", "{\"user\":\"jdoe\"}"));
	assert_false(dp_detect(&vdp_fmt_websense, "", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_panos_traffic),
		cmocka_unit_test(test_panos_traffic_older_and_quoted),
		cmocka_unit_test(test_panos_threat),
		cmocka_unit_test(test_panos_decryption),
		cmocka_unit_test(test_panos_userid),
		cmocka_unit_test(test_panos_globalprotect_hip_auth_config),
		cmocka_unit_test(test_panos_system),
		cmocka_unit_test(test_panos_types_without_identities),
		cmocka_unit_test(test_panos_not_mine),
		cmocka_unit_test(test_panos_quoting),
		cmocka_unit_test(test_panos_keys),
		cmocka_unit_test(test_panos_detect),
		cmocka_unit_test(test_panos_memo),
		cmocka_unit_test(test_panos_leading_fields),
		cmocka_unit_test(test_websense),
		cmocka_unit_test(test_websense_keys_and_detect),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
