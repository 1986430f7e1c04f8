/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The key=value family (dataplane/pipeline/fmt_kv.c: fortigate, sophos,
 * sonicwall, stormshield, watchguard, checkpoint)
 * on lines written as the vendors document and send them, syslog header
 * included. Each line marks its expected identity spans with « and »
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

#define UB(n) DP_U(BACKSLASH, n)
#define DB(n) DP_D(BACKSLASH, n)
#define UN(n) DP_U(NONE, n)
#define DN(n) DP_D(NONE, n)
#define OK(...)               DP_OK(__VA_ARGS__)
#define NONE(f, hdr, line)    DP_NONE(f, hdr, line)
#define BAD(f, hdr, line)     DP_BAD(f, hdr, line)
#define NOTMINE(f, hdr, line) DP_NOTMINE(f, hdr, line)
#define OKK(...)              DP_OKK(__VA_ARGS__)

static const struct vdp_format *fgt, *sophos, *cp;

/* Sample lines of every format, for the detection matrix. */
#define FGT_LINE                                                                \
	"date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" " \
	"logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" user=\"bob\""
#define SFOS_LINE                                                               \
	"device=\"SFW\" date=2017-01-31 time=18:13:38 timezone=\"IST\" "        \
	"device_name=\"CR750iNG-XP\" log_id=062910617701 log_type=\"Event\" "   \
	"user_name=\"gaurav\""
/* Cyberoam (CROS), the ancestor of SFOS: `date=` first, as FortiOS */
#define CYBEROAM_LINE                                                           \
	"date=2013-08-06 time=11:20:19 timezone=\"IST\" device_name=\"CR500ia\" " \
	"device_id=C0100123456-ABCDEF log_id=010302602002 log_type=\"Firewall\" " \
	"log_component=\"Firewall Rule\" log_subtype=\"Allowed\" status=\"Allow\" " \
	"priority=Information fw_rule_id=3 user_name=\"jdoe\" user_gp=\"Sales\""
#define UTM_LINE                                                                \
	"2023:03:08-15:00:00 utm-1 httpproxy[6267]: id=\"0001\" "                \
	"severity=\"info\" sys=\"SecureWeb\" sub=\"http\" user=\"testuser\""
#define CP_LINE                                                                 \
	"[action:\"Accept\"; flags:\"18692\"; ifdir:\"inbound\"; origin:\"10.4.150.2\"; " \
	"product:\"VPN-1 & FireWall-1\"; src_user_name:\"jdoe\"; ]"
#define JUNOS_LINE                                                              \
	"RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "             \
	"source-address=\"10.0.0.1\" username=\"alice\" roles=\"N/A\"]"
#define ASA_LINE                                                                \
	"%ASA-6-113004: AAA user authentication Successful : server = "         \
	"10.1.1.5 : user = alice"

/* ------------------------------------------------------------------ */
/* registry and defaults                                              */
/* ------------------------------------------------------------------ */

static void test_registry(void **state)
{
	(void)state;
	struct vdp_keys ks;
	assert_ptr_equal(fgt, &vdp_fmt_fortigate);
	vdp_keys_set(&ks, fgt->default_users, fgt->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "user", 4), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "unauthuser", 10), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "srcname", 7), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "devname", 7), -1);

	assert_ptr_equal(sophos, &vdp_fmt_sophos);
	vdp_keys_set(&ks, sophos->default_users, sophos->default_devices);
	assert_int_equal(ks.n, 2);
	assert_int_equal(vdp_keys_find(&ks, "user_name", 9), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "user", 4), VEIL_KIND_USER);

	assert_ptr_equal(cp, &vdp_fmt_checkpoint);
	vdp_keys_set(&ks, cp->default_users, cp->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "src_user_name", 13), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "administrator", 13), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "src_machine_name", 16),
			 VEIL_KIND_DEVICE);

	/* all stateless */
	assert_null(fgt->free_state);
	assert_null(sophos->free_state);
	assert_null(cp->free_state);
}

/* Each format claims its own lines and none of the others' (Juniper's
 * structured data and ASA's messages included). */
static void test_detect_matrix(void **state)
{
	(void)state;
	static const struct {
		const char *hdr, *line;
		const struct vdp_format **yes;
	} rows[] = {
		{ "<189>", FGT_LINE, &fgt },
		{ "<30>", SFOS_LINE, &sophos },
		{ "<30>", UTM_LINE, &sophos },
		{ "<30>", CYBEROAM_LINE, &sophos },
		{ "<134>1 2020-01-02T14:04:50Z fwmgmt CheckPoint 16559 - ", CP_LINE, &cp },
		{ "<14>1 2019-04-12T14:29:06.576Z srx1 ", JUNOS_LINE, NULL },
		{ "<166>Jan 05 2024 12:00:00 asa1 : ", ASA_LINE, NULL },
	};
	const struct vdp_format *const *all[] = { &fgt, &sophos, &cp };
	for (unsigned r = 0; r < NW(rows); r++)
		for (unsigned f = 0; f < NW(all); f++) {
			bool want = rows[r].yes == all[f];
			if (dp_detect(*all[f], rows[r].hdr, rows[r].line) != want)
				fail_msg("%s dp_detect() is %d on: %s", (*all[f])->name,
					 !want, rows[r].line);
		}
	/* the other detection forms */
	assert_true(dp_detect(fgt, "<189>", "eventtime=1707900000 devid=\"FG1\" logid=\"0000000013\" user=\"x\""));
	assert_true(dp_detect(fgt, "", "logver=704 devname=\"fw\" logid=\"0100032001\""));
	assert_false(dp_detect(fgt, "", "devname=\"fw\" xlogid=\"01\""));
	assert_true(dp_detect(sophos, "Nov 16 00:25:00 sophos ", "device_name=\"SFW\" timestamp=\"2021-11-15T18:25:00-0600\""));
	assert_false(dp_detect(sophos, "", "id=\"0001\" severity=\"info\""));
	assert_true(dp_detect(cp, "<134>1 2018-03-21 17:25:25 MDS-72 CheckPoint 13752 - ",
			   "[action:\"Update\"; flags:\"150784\"; ifdir:\"inbound\"]"));
	/* without brackets */
	assert_true(dp_detect(cp, "", "time:\"1574823505\"; loguid:\"{0x5ddde651}\"; src:\"1.2.3.4\""));
	/* JSON has "key":"value": not Check Point */
	assert_false(dp_detect(cp, "", "{\"action\":\"Accept\", \"origin\":\"1.2.3.4\"}"));
	/* a colon-quote in a FortiGate message is not a Check Point block */
	assert_false(dp_detect(cp, "<189>", "date=2024-03-01 logid=\"1\" msg=\"Error:\" action:\"x\""));
	assert_false(dp_detect(fgt, "", ""));
	assert_false(dp_detect(sophos, "", ""));
	assert_false(dp_detect(cp, "", ""));
}

/* ------------------------------------------------------------------ */
/* FortiGate                                                          */
/* ------------------------------------------------------------------ */

static void test_fortigate_logs(void **state)
{
	(void)state;
	/* FortiOS 6.x+ traffic log: all strings quoted; FortiGate sends a
	 * bare <PRI> before date= */
	OK(fgt, "<189>",
	   "date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" "
	   "eventtime=1709288101234567890 tz=\"+0100\" logid=\"0000000013\" type=\"traffic\" "
	   "subtype=\"forward\" level=\"notice\" vd=\"root\" srcip=10.10.5.23 srcport=51544 "
	   "srcintf=\"port2\" srcintfrole=\"lan\" dstip=142.250.185.78 dstport=443 "
	   "dstintf=\"wan1\" dstintfrole=\"wan\" srcname=\"" OPEN "LT-ALICE-01" CLOSE "\" "
	   "sessionid=8815237 proto=6 action=\"close\" policyid=12 policytype=\"policy\" "
	   "service=\"HTTPS\" trandisp=\"snat\" duration=65 sentbyte=4321 rcvdbyte=98211 "
	   "unauthuser=\"" OPEN "alice.martin" CLOSE "\" unauthusersource=\"kerberos\" "
	   "srcmac=\"3c:22:fb:11:22:33\"",
	   DB("LT-ALICE-01"), UB("alice.martin"));
	/* event log: the admin user; devname is the FortiGate itself */
	OK(fgt, "<189>",
	   "date=2024-03-01 time=10:20:54 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" "
	   "logid=\"0100032001\" type=\"event\" subtype=\"system\" level=\"information\" "
	   "vd=\"root\" logdesc=\"Admin login successful\" sn=\"1709288454\" user=\""
	   OPEN "netadmin" CLOSE "\" ui=\"https(10.1.1.50)\" method=\"https\" "
	   "srcip=10.1.1.50 dstip=10.1.1.1 action=\"login\" status=\"success\" "
	   "reason=\"none\" profile=\"super_admin\" msg=\"Administrator netadmin logged in successfully from https(10.1.1.50)\"",
	   UB("netadmin"));
	/* FortiOS 5.x: unquoted values, user@domain */
	OK(fgt, "",
	   "date=2016-06-16 time=16:22:34 devname=Branch_FW devid=FGT60D4615000000 "
	   "logid=0100032001 type=event subtype=system level=information vd=\"root\" "
	   "user=" OPEN "a.khan@corp.example" CLOSE " ui=https(10.42.8.253) action=login "
	   "status=success",
	   UN("a.khan@corp.example"));
	/* a line without identities */
	NONE(fgt, "<189>",
	     "date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" logid=\"0113022923\" "
	     "type=\"event\" subtype=\"sdwan\" msg=\"Number of pass member changed.\"");
	/* SSL VPN: user, xauthuser, several identities in one line */
	OK(fgt, "<190>",
	   "date=2024-03-01 time=11:00:00 devname=\"FGT-HQ\" logid=\"0101039424\" "
	   "type=\"event\" subtype=\"vpn\" tunneltype=\"ssl-tunnel\" remip=203.0.113.7 "
	   "user=\"" OPEN "dana" CLOSE "\" group=\"VPN-Users\" xauthuser=\"" OPEN "N/A"
	   CLOSE "\" srcname=\"" OPEN "DANA-PC" CLOSE "\" user=\"" OPEN "dana2" CLOSE "\"",
	   UB("dana"), UB("N/A"), DB("DANA-PC"), UB("dana2"));
}

static void test_fortigate_quoting(void **state)
{
	(void)state;
	/* a key=value inside a quoted value is not a key */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0317013312\" type=\"utm\" url=\"/login?user=eve&x=1\" "
	   "msg=\"URL has been visited user=mallory\" user=\"" OPEN "carol" CLOSE "\"",
	   UB("carol"));
	/* escaped quotes and backslashes inside quotes */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0100032001\" msg=\"said \\\"user=x\\\" twice\" user=\""
	   OPEN "o\\\"brien" CLOSE "\" unauthuser=\"" OPEN "CORP\\\\jdoe" CLOSE "\"",
	   UB("o\"brien"), UB("CORP\\jdoe"));
	/* a value ending in an escaped backslash */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN "back\\\\" CLOSE "\" srcname=\""
	   OPEN "pc" CLOSE "\"",
	   UB("back\\"), DB("pc"));
	/* empty values, quoted and bare */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN CLOSE "\" unauthuser=" OPEN CLOSE
	   " srcname=\"" OPEN CLOSE "\"",
	   UB(""), UN(""), DB(""));
	/* a bare value at the end of the line */
	OK(fgt, "", "date=2024-03-01 logid=1 user=" OPEN "last" CLOSE, UN("last"));
	/* a quoted value glued to the next token is read as it stands,
	 * unless it holds an identity key: then the quotes may not be what
	 * they seem (a backslash before a closing quote, not escaped) */
	OK(fgt, "", "date=2024-03-01 logid=\"1\"srcport=\"2\" user=\"" OPEN "spaced" CLOSE "\"",
	   UB("spaced"));
	OK(fgt, "", "date=2024-03-01 logid=\"1\"user=\"" OPEN "glued" CLOSE "\"",
	   UB("glued"));
	/* a sender that does not escape a backslash before the quote */
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" path=\"C:\\Temp\\\" user=\"bob\" x=\"y\"");
	/* tokens that are not key=value are skipped (a relay's header) */
	OK(fgt, "Mar  1 10:15:01 relay01 ",
	   "fortigate: =x junk \"free text\" date=2024-03-01 logid=\"1\" user=\""
	   OPEN "erin" CLOSE "\"",
	   UB("erin"));
	/* tabs separate too */
	OK(fgt, "", "date=2024-03-01\tlogid=\"1\"\tuser=" OPEN "tab" CLOSE "\tsrcname="
	   OPEN "host" CLOSE,
	   UN("tab"), DN("host"));
}

static void test_fortigate_unicode(void **state)
{
	(void)state;
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0000000013\" type=\"traffic\" srcname=\""
	   OPEN "Zoë’s MacBook Pro" CLOSE "\" user=\"" OPEN "Jörg Müller" CLOSE
	   "\" unauthuser=\"" OPEN "山田太郎" CLOSE "\"",
	   DB("Zoë’s MacBook Pro"), UB("Jörg Müller"), UB("山田太郎"));
}

static void test_fortigate_malformed(void **state)
{
	(void)state;
	/* an identity whose quote never closes */
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob");
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\\\"");
	/* a value that never closes and hides an identity key */
	BAD(fgt, "<189>",
	    "date=2024-03-01 logid=\"1\" msg=\"cut short by the relay user=bob srcname=pc");
	/* one that hides none: the fields before it stand (truncated lines) */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN "kim" CLOSE "\" msg=\"FX04DN4N16002352 STATE: connecting",
	   UB("kim"));
	/* more identities than VDP_MAX_FIELDS */
	char line[4096];
	size_t n = (size_t)snprintf(line, sizeof(line), "date=2024-03-01 logid=\"1\"");
	for (int i = 0; i <= VDP_MAX_FIELDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " user=\"u%d\"", i);
	BAD(fgt, "", line);
}

static void test_fortigate_keys(void **state)
{
	(void)state;
	/* user_fields/device_fields replace the defaults */
	struct vdp_keys ks;
	static const char *const users[] = { "group", NULL };
	static const char *const devices[] = { "devname", "srcname", NULL };
	vdp_keys_set(&ks, users, devices);
	OKK(fgt, &ks, "<189>",
	    "date=2024-03-01 devname=\"" OPEN "FGT-HQ" CLOSE "\" logid=\"1\" user=\"bob\" "
	    "group=\"" OPEN "Finance" CLOSE "\" srcname=\"" OPEN "PC7" CLOSE "\"",
	    DB("FGT-HQ"), UB("Finance"), DB("PC7"));
	/* no keys: nothing to find */
	ks.n = 0;
	dp_check_keys(fgt, &ks, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\"",
		   VDP_PARSED, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Sophos                                                             */
/* ------------------------------------------------------------------ */

static void test_sophos_sfos(void **state)
{
	(void)state;
	/* SFOS v17 authentication event: `name` repeats the user (the
	 * pipeline's replace_repeats takes it); src_mac is empty and last */
	OK(sophos, "<30>",
	   "device=\"SFW\" date=2017-01-31 time=18:13:38 timezone=\"IST\" "
	   "device_name=\"CR750iNG-XP\" device_id=C44313350024-P29PUA log_id=062910617701 "
	   "log_type=\"Event\" log_component=\"Firewall Authentication\" "
	   "log_subtype=\"Authentication\" status=\"Successful\" priority=Information "
	   "user_name=\"" OPEN "gaurav" CLOSE "\" usergroupname=\"Open Group\" "
	   "auth_client=\"Web Client\" auth_mechanism=\"Local\" reason=\"\" "
	   "src_ip=10.198.47.71 message=\"User gaurav of group Open Group logged in\" "
	   "name=\"gaurav\" src_mac=",
	   UB("gaurav"));
	/* SFOS v18+ (device_name first), behind a BSD header without a tag */
	OK(sophos, "Nov 16 00:25:00 sophos ",
	   "device_name=\"SFW\" timestamp=\"2021-11-15T18:25:00-0600\" device_model=\"SFVH\" "
	   "device_serial_id=\"C01001BQC8TFFFF\" log_id=\"010101600001\" log_type=\"Firewall\" "
	   "log_component=\"Firewall Rule\" log_subtype=\"Allowed\" severity=\"Information\" "
	   "fw_rule_id=\"12\" user_name=\"" OPEN "jörg.müller@example.de" CLOSE "\" "
	   "src_ip=\"192.168.2.111\" dst_ip=\"89.160.20.156\" protocol=\"TCP\"",
	   UB("jörg.müller@example.de"));
	/* a firewall log without a user: empty user_name reported */
	OK(sophos, "<30>",
	   "device=\"SFW\" date=2017-01-31 time=18:24:51 log_id=010101600001 "
	   "log_type=\"Firewall\" user_name=\"" OPEN CLOSE "\" user_gp=\"\" iap=0",
	   UB(""));
	/* DOMAIN\user, escaped */
	OK(sophos, "<30>",
	   "device_name=\"SFW\" log_id=\"062910617701\" user_name=\"" OPEN "CORP\\\\ana"
	   CLOSE "\" message=\"User CORP\\\\ana logged in\"",
	   UB("CORP\\ana"));
	BAD(sophos, "<30>", "device_name=\"SFW\" log_id=\"1\" user_name=\"ana");
	BAD(sophos, "<30>", "device_name=\"SFW\" log_id=\"1\" message=\"cut user_name=ana");
}

static void test_sophos_utm(void **state)
{
	(void)state;
	/* UTM web proxy: `user`; `name` is the event and `device` a flag */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:00 utm-1 httpproxy[6267]: id=\"0001\" severity=\"info\" "
	   "sys=\"SecureWeb\" sub=\"http\" name=\"http access\" action=\"pass\" "
	   "method=\"GET\" srcip=\"10.0.0.5\" dstip=\"89.160.20.129\" user=\"" OPEN
	   "testuser" CLOSE "\" group=\"testgroup\" ad_domain=\"example.com\" "
	   "statuscode=\"200\" device=\"0\" auth=\"0\" ua=\"Mozilla/5.0 (X11; Linux x86_64)\"",
	   UB("testuser"));
	/* no user: an empty value */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:01 utm-1 httpproxy[6267]: id=\"0002\" severity=\"info\" "
	   "sys=\"SecureWeb\" sub=\"http\" user=\"" OPEN CLOSE "\" url=\"http://a/?user=x\"",
	   UB(""));
	/* AD users with spaces and non-ASCII */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:02 utm-1 httpproxy[6267]: id=\"0001\" severity=\"info\" "
	   "sys=\"SecureWeb\" user=\"" OPEN "Ærøskøbing Ølsen" CLOSE "\" group=\"Staff\"",
	   UB("Ærøskøbing Ølsen"));
}

/* ------------------------------------------------------------------ */
/* Check Point                                                        */
/* ------------------------------------------------------------------ */

static void test_checkpoint_logs(void **state)
{
	(void)state;
	/* Identity Awareness, the Log Exporter's own example shape (its
	 * timestamp is not RFC 5424: the header parser gives up early) */
	OK(cp, "<134>1 2018-03-21 17:25:25 MDS-72 CheckPoint 13752 - ",
	   "[action:\"Update\"; flags:\"150784\"; ifdir:\"inbound\"; logid:\"160571424\"; "
	   "loguid:\"{0x5ab27965,0x0,0x5b20a8c0,0x7d5707b6}\"; origin:\"192.168.32.91\"; "
	   "originsicname:\"CN=GW91,O=Domain2_Server..cuggd3\"; sequencenum:\"1\"; "
	   "time:\"1521645925\"; version:\"5\"; auth_method:\"Machine Authentication (Active Directory)\"; "
	   "auth_status:\"Successful Login\"; identity_src:\"AD Query\"; identity_type:\"machine\"; "
	   "product:\"Identity Awareness\"; src:\"192.168.32.69\"; src_machine_group:\"All Machines\"; "
	   "src_machine_name:\"" OPEN "yonatanad" CLOSE "\";]",
	   DB("yonatanad"));
	/* URL filtering with a user and a machine, proper RFC 5424 header */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw-hq CheckPoint 2187 - ",
	   "[action:\"Accept\"; flags:\"411908\"; ifdir:\"outbound\"; origin:\"10.20.0.1\"; "
	   "product:\"URL Filtering\"; proto:\"6\"; resource:\"https://cdn.example/a;b:c\"; "
	   "s_port:\"52144\"; service:\"443\"; src:\"10.20.14.37\"; src_machine_name:\""
	   OPEN "WS-FIN-0142@corp.local" CLOSE "\"; src_user_name:\"" OPEN
	   "Levi, Dana (dlevi)" CLOSE "\"; web_client_type:\"Other: Python-urllib/3.11\"]",
	   DB("WS-FIN-0142@corp.local"), UB("Levi, Dana (dlevi)"));
	/* audit log: administrator; destination identities */
	OK(cp, "<134>1 2024-05-02T10:01:00Z mgmt CheckPoint 3001 - ",
	   "[action:\"Log In\"; origin:\"10.0.0.2\"; product:\"SmartConsole\"; administrator:\""
	   OPEN "cpadmin" CLOSE "\"; dst_user_name:\"" OPEN "svc_backup" CLOSE
	   "\"; dst_machine_name:\"" OPEN "FS01" CLOSE "\"; ]",
	   UB("cpadmin"), UB("svc_backup"), DB("FS01"));
	/* no identity */
	NONE(cp, "<134>1 2019-11-27T02:58:25Z ABDP-CPLOG01 CheckPoint 22103 - ",
	     "[action:\"Accept\"; flags:\"18692\"; ifdir:\"inbound\"; ifname:\"bond1.734\"; "
	     "origin:\"10.4.150.2\"; product:\"VPN-1 & FireWall-1\"; proto:\"6\"; ]");
}

static void test_checkpoint_escapes(void **state)
{
	(void)state;
	/* \" \\ \] in values; ';' ']' '[' inside quotes */
	OK(cp, "<134>1 2020-01-02T14:04:50Z fwmgmt CheckPoint 16559 - ",
	   "[action:\"Accept\"; __policy_id_tag:\"product=VPN-1 & FireWall-1[db_tag={E97DE696};"
	   "mgmt=fwmgmt;policy_name=Standard\\]\"; src_user_name:\"" OPEN
	   "John \\\"JD\\\" Doe (jdoe)" CLOSE "\"; user:\"" OPEN "CORP\\\\jdoe" CLOSE
	   "\"; dst:\"1.2.3.4\"; ]",
	   UB("John \"JD\" Doe (jdoe)"), UB("CORP\\jdoe"));
	/* without brackets; unicode; an empty value */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ",
	   "action:\"Drop\"; origin:\"10.1.1.1\"; src_user_name:\"" OPEN
	   "Łukasz Żółć (lzolc)" CLOSE "\"; user:\"" OPEN CLOSE "\"",
	   UB("Łukasz Żółć (lzolc)"), UB(""));
	/* bare values run to ';' or ']' */
	OK(cp, "", "[action:Accept; origin:\"1.1.1.1\"; administrator:" OPEN "admin" CLOSE
	   " ; src_machine_name:" OPEN "pc 9" CLOSE "]",
	   UN("admin"), DN("pc 9"));
	/* an SD element before the block (a relay's) */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ",
	   "[meta sequenceId=\"7\"][action:\"Drop\"; origin:\"1.1.1.1\"; user:\"" OPEN
	   "ivan" CLOSE "\"]",
	   UB("ivan"));
}

static void test_checkpoint_machine_names(void **state)
{
	(void)state;
	/* Identity Awareness identity log: the client machine in `machine`,
	 * the users' distinguished names; `hostname`, `origin` and
	 * `originsicname` are the gateway itself and stay as they are */
	OK(cp, "<134>1 2024-05-02T10:02:00Z gw-hq CheckPoint 2188 - ",
	   "[action:\"Update\"; hostname:\"gw-hq\"; origin:\"10.20.0.1\"; "
	   "originsicname:\"CN=gw-hq,O=mgmt..x7h2ka\"; product:\"Identity Awareness\"; "
	   "identity_src:\"AD Query\"; identity_type:\"machine\"; machine:\""
	   OPEN "WS-FIN-0142@corp.local" CLOSE "\"; src:\"10.20.14.37\"; "
	   "src_user_dn:\"" OPEN "CN=Dana Levi,OU=Finance,DC=corp,DC=local" CLOSE
	   "\"; dst_user_dn:\"" OPEN "CN=svc_backup,OU=Service,DC=corp,DC=local" CLOSE
	   "\"; src_machine_name:\"" OPEN "WS-FIN-0142" CLOSE "\"]",
	   DB("WS-FIN-0142@corp.local"), UB("CN=Dana Levi,OU=Finance,DC=corp,DC=local"),
	   UB("CN=svc_backup,OU=Service,DC=corp,DC=local"), DB("WS-FIN-0142"));
}

static void test_checkpoint_malformed(void **state)
{
	(void)state;
	const char *h = "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ";
	BAD(cp, h, "[action:\"Accept\"; origin:\"1.1.1.1\"; src_user_name:\"cut");
	/* the structure breaks before an identity */
	BAD(cp, h, "[action:\"Accept\"; broken token here user:\"x\"]");
	BAD(cp, h, "[action:\"Accept\"; msg:\"never closed; user:\"x\"]");
	BAD(cp, h, "[action:\"Accept\"; file:\"C:\\T\\\"; user:\"bob\"]");
	/* ... or where none follows: what came before stands */
	OK(cp, h, "[action:\"Accept\"; user:\"" OPEN "x" CLOSE "\"; trailing garbage",
	   UB("x"));
	/* not Check Point at all */
	NOTMINE(cp, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\"");
	NOTMINE(cp, "", "{\"action\":\"Accept\"}");
	NOTMINE(cp, "", "");
}


/* ------------------------------------------------------------------ */
/* SonicWall, Stormshield, WatchGuard                                 */
/* ------------------------------------------------------------------ */

/* SonicOS "Default" syslog: usr, and the resolved host name that ends
 * src=; the firewall's address (fw=), serial (sn=) and the server's name
 * at the end of dst= are not identities */
static void test_sonicwall(void **state)
{
	(void)state;
	const struct vdp_format *sw = &vdp_fmt_sonicwall;
	OK(sw, "<134>",
	   "id=firewall sn=0017C5178994 time=\"2024-03-01 10:15:22 UTC\" "
	   "fw=203.0.113.10 pri=6 c=1024 m=537 msg=\"Connection Closed\" app=49175 "
	   "appName=\"General HTTPS\" n=1234567 src=10.1.20.45:52144:X0:" OPEN
	   "JDOE-LT01" CLOSE " dst=93.184.216.34:443:X1:www.example.com "
	   "srcMac=00:1a:2b:3c:4d:5e dstMac=ec:f4:bb:fb:f7:f6 proto=tcp/https "
	   "sent=2228 rcvd=5084 usr=\"" OPEN "jdoe" CLOSE "\" rule=\"5 (LAN->WAN)\" "
	   "fw_action=\"NA\"",
	   DN("JDOE-LT01"), UB("jdoe"));
	/* SSL VPN login: user=; a src= without a name has no host */
	OK(sw, "<134>",
	   "id=firewall sn=0017C5178994 time=\"2024-03-01 10:16:02 UTC\" "
	   "fw=203.0.113.10 pri=6 c=0 m=1080 msg=\"SSL VPN zone remote user login "
	   "allowed\" n=88 src=198.51.100.7:0:X1 dst=203.0.113.10:4433:X1 "
	   "user=\"" OPEN "m.rossi" CLOSE "\" note=\"Portal\"",
	   UB("m.rossi"));
	/* IPv6 sources are not split */
	NONE(sw, "<134>",
	     "id=firewall sn=0017C5178994 fw=203.0.113.10 pri=6 c=1024 m=537 "
	     "src=2001:db8::5:52144:X0 dst=2001:db8::9:443:X1");
	assert_true(dp_detect(sw, "<134>", "id=firewall sn=0017C5178994 "
			      "time=\"2024-03-01 10:15:22 UTC\" fw=203.0.113.10 pri=6 "
			      "c=1024 m=537"));
	/* a changed Syslog ID */
	assert_true(dp_detect(sw, "", "id=fw-hq sn=0017C5178994 fw=203.0.113.10 "
			      "pri=6 c=1024 m=537"));
	assert_false(dp_detect(sw, "", FGT_LINE));
	assert_false(dp_detect(fgt, "<134>", "id=firewall sn=0017C5178994 "
			       "fw=203.0.113.10 pri=6 c=1024 m=537 usr=\"x\""));
}

/* Stormshield SNS audit logs (WELF): user and srcname; fw (the firewall's
 * name or serial) is not an identity */
static void test_stormshield(void **state)
{
	(void)state;
	const struct vdp_format *st = &vdp_fmt_stormshield;
	OK(st, "<134>Mar  1 10:15:22 sns-hq ",
	   "id=firewall time=\"2024-03-01 10:15:22\" fw=\"SN310A17C0000123\" "
	   "tz=+0100 startime=\"2024-03-01 10:15:21\" pri=5 confid=01 slotlevel=2 "
	   "ruleid=12 srcif=\"Ethernet1\" srcifname=\"in\" ipproto=tcp "
	   "dstif=\"Ethernet0\" dstifname=\"out\" proto=https src=10.1.20.45 "
	   "srcport=52144 srcportname=ephemeral_fw_tcp srcname=" OPEN "pc_jdoe" CLOSE
	   " dst=93.184.216.34 dstport=443 dstportname=https dstname=www.example.com "
	   "user=\"" OPEN "jdoe" CLOSE "\" domain=\"corp.example\" sent=2228 "
	   "rcvd=5084 duration=0.13 action=pass logtype=\"connection\"",
	   DN("pc_jdoe"), UB("jdoe"));
	/* l_server: the administrator */
	OK(st, "",
	   "id=firewall time=\"2024-03-01 10:20:00\" fw=\"sns-hq\" tz=+0100 "
	   "startime=\"2024-03-01 10:20:00\" error=0 user=\"" OPEN "admin" CLOSE
	   "\" address=10.0.9.14 sessionid=7 msg=\"Logged in\" logtype=\"server\"",
	   UB("admin"));
	assert_false(dp_detect(st, "", "id=firewall fw=\"x\" tz=+0100 user=\"y\""));
	assert_false(dp_detect(&vdp_fmt_sonicwall, "",
			       "id=firewall time=\"2024-03-01 10:20:00\" fw=\"sns-hq\" "
			       "tz=+0100 startime=\"2024-03-01 10:20:00\" pri=5"));
}

/* WatchGuard Fireware: src_user, dst_user; the positional words and the
 * Firebox's name in the header are not identities */
static void test_watchguard(void **state)
{
	(void)state;
	const struct vdp_format *wg = &vdp_fmt_watchguard;
	OK(wg, "<140>Mar  1 10:15:22 FBX-M370 ",
	   "(2024-03-01T10:15:22) firewall: msg_id=\"3000-0148\" Allow 1-Trusted "
	   "0-External 52 tcp 20 64 10.1.20.45 93.184.216.34 52144 443 offset 8 S "
	   "2931428183 win 64240 src_user=\"" OPEN "jdoe@corp.example" CLOSE "\" "
	   "(HTTPS-proxy-00)",
	   UB("jdoe@corp.example"));
	OK(wg, "<140>Mar  1 10:15:23 FBX-M370 ",
	   "http-proxy[2089]: msg_id=\"1AFF-0024\" Allow 1-Trusted 0-External tcp "
	   "10.1.20.45 93.184.216.34 52144 80 msg=\"HTTP request\" "
	   "proxy_act=\"HTTP-Client.Standard\" op=\"GET\" dstname=\"www.example.com\" "
	   "arg=\"/\" sent_bytes=\"512\" rcvd_bytes=\"5084\" "
	   "elapsed_time=\"0.128 sec(s)\" src_user=\"" OPEN "m.rossi@Firebox-DB" CLOSE
	   "\" dst_user=\"" OPEN "svc-web" CLOSE "\" (HTTP-proxy-00)",
	   UB("m.rossi@Firebox-DB"), UB("svc-web"));
	assert_false(dp_detect(wg, "", "msg_id=\"30-1\" Allow"));
	assert_false(dp_detect(wg, "", "xmsg_id=\"3000-0148\" Allow"));
	assert_false(dp_detect(wg, "", "msg_id=\"3000-0148"));
}

int main(void)
{
	fgt = vdp_format_find("fortigate");
	sophos = vdp_format_find("sophos");
	cp = vdp_format_find("checkpoint");
	if (!fgt || !sophos || !cp)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_detect_matrix),
		cmocka_unit_test(test_fortigate_logs),
		cmocka_unit_test(test_fortigate_quoting),
		cmocka_unit_test(test_fortigate_unicode),
		cmocka_unit_test(test_fortigate_malformed),
		cmocka_unit_test(test_fortigate_keys),
		cmocka_unit_test(test_sophos_sfos),
		cmocka_unit_test(test_sophos_utm),
		cmocka_unit_test(test_checkpoint_logs),
		cmocka_unit_test(test_checkpoint_escapes),
		cmocka_unit_test(test_checkpoint_machine_names),
		cmocka_unit_test(test_checkpoint_malformed),
		cmocka_unit_test(test_sonicwall),
		cmocka_unit_test(test_stormshield),
		cmocka_unit_test(test_watchguard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
