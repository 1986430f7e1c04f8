/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The Cisco ASA/FTD parser (dataplane/pipeline/fmt_asa.c) on messages written as
 * Cisco's syslog reference documents them and as ASAs send them: every
 * header variant, every form of the message-ID table, the generic forms in
 * unknown IDs, the identity firewall, and what is dropped. Each line marks
 * its expected identity spans with « and » (dp_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

/* the common headers */
#define H     "<166>Jan 05 2024 12:00:00 asa-hq : " /* logging device-id */
#define HB    "<166>Jan  5 12:00:00 10.1.1.1 "        /* a relay's BSD header */
#define HNONE "<166>Jan 05 2024 12:00:00: "           /* no device id */

/* ASA names are never escaped */
#define U(n)  DP_U(NONE, n)
#define D(n)  DP_D(NONE, n)

static const struct vdp_format *asa;

#define OK(hdr, line, ...)      DP_OK(asa, hdr, line, __VA_ARGS__)
#define NONE(hdr, line)         DP_NONE(asa, hdr, line)
#define BAD(hdr, line)          DP_BAD(asa, hdr, line)
#define NOTMINE(hdr, line)      DP_NOTMINE(asa, hdr, line)
#define OKK(ks, hdr, line, ...) DP_OKK(asa, ks, hdr, line, __VA_ARGS__)
#define NONEK(ks, hdr, line)    DP_NONEK(asa, ks, hdr, line)
#define detect(line) dp_detect(asa, "", line)

/* ------------------------------------------------------------------ */

static void test_registry_and_detect(void **state)
{
	(void)state;
	assert_ptr_equal(asa, &vdp_fmt_asa);
	struct vdp_keys ks;
	vdp_keys_set(&ks, asa->default_users, asa->default_devices);
	assert_int_equal(ks.n, 2);
	assert_int_equal(vdp_keys_find(&ks, "user", 4), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "idfw", 4), VEIL_KIND_USER);
	assert_null(asa->free_state);

	assert_true(detect(H "%ASA-6-302013: Built outbound TCP connection 1"));
	assert_true(detect("%ASA-6-302013: Built"));
	assert_true(detect("<185>2020-07-24T13:13:45Z   %FTD-1-430003: DeviceUUID: x"));
	assert_true(detect("Sep 25 15:47:07 host1 : Sep 25 15:47:07 EDT: %ASA-auth-4-113004: AAA"));
	assert_true(detect("<166>:Jan 13 2012 15:51:28 MSK: %PIX-6-113004: AAA"));
	assert_true(detect("<166>1 2018-06-27T12:17:46Z asa - - - %ASA-6-110002: Failed"));
	assert_false(detect(H "%ASA-6-30201: short id"));
	assert_false(detect(H "%ASA-9-302013: no such severity"));
	assert_false(detect(H "%ASA-6-302013 no colon"));
	assert_false(detect(H "%ASA-Auth-6-113004: uppercase class"));
	assert_false(detect("date=2024-03-01 logid=\"1\" msg=\"100% done\""));
	assert_false(detect("<14>1 2024-03-01T10:15:01Z srx RT_FLOW - X [junos@2636.1 username=\"a\"]"));
	assert_false(detect(""));
	assert_false(detect("%"));
	assert_false(detect("%ASA-"));
	NOTMINE(H, "Built outbound TCP connection 1 without a message id");
	NOTMINE("", "");
}

/* 113xxx AAA: "user = X" ends at " : ", ": ", ", " or the end */
static void test_aaa(void **state)
{
	(void)state;
	OK(H, "%ASA-6-113004: AAA user authentication Successful : server = 10.1.1.5 : user = "
	   OPEN "alice" CLOSE, U("alice"));
	OK(H, "%ASA-6-113004: AAA user authorization Successful : server =  10.1.1.5 : User = "
	   OPEN "Alice.Martin@corp.example" CLOSE, U("Alice.Martin@corp.example"));
	OK(H, "%ASA-6-113005: AAA user authentication Rejected : reason = Invalid password : "
	   "server = 10.1.2.0 : user = " OPEN "bob smith" CLOSE " : user IP = 10.1.2.3",
	   U("bob smith"));
	/* the "user = X: user IP" variant; masked; empty */
	OK(HB, "%ASA-6-113005: AAA user authentication Rejected: reason = AAA failure: "
	   "server = 81.2.69.144 : user = " OPEN "carol" CLOSE ": user IP = 172.31.98.44",
	   U("carol"));
	OK(H, "%ASA-6-113005: AAA user authentication Rejected : reason = Account has been "
	   "locked out : server = 192.168.1.1 : user = " OPEN "*****" CLOSE
	   " : user IP = 81.2.69.144",
	   U("*****"));
	OK(H, "%ASA-6-113005: AAA user authentication Rejected : reason = Unspecified : "
	   "server = 10.0.0.70 : user = " OPEN CLOSE ": user IP = 81.2.69.144",
	   U(""));
	/* odd characters, the local database, trailing spaces */
	OK(HNONE, "%ASA-6-113015: AAA user authentication Rejected : reason = User was not "
	   "found : local database : user = " OPEN ";;alice-johnson(test user)" CLOSE
	   " : user IP = 203.0.113.20",
	   U(";;alice-johnson(test user)"));
	OK(H, "%ASA-6-113012: AAA user authentication Successful : local database : user = "
	   OPEN "sample.user" CLOSE "   ", U("sample.user"));
	OK(H, "%ASA-6-113008: AAA transaction status ACCEPT : user = " OPEN "USER_1" CLOSE,
	   U("USER_1"));
	/* DOMAIN\user and unicode names are raw */
	OK(H, "%ASA-6-113004: AAA user authentication Successful : server = 10.1.1.5 : user = "
	   OPEN "CORP\\jörg" CLOSE, U("CORP\\jörg"));
	OK(H, "%ASA-6-113014: AAA authentication server not accessible : server = 10.9.9.9 : "
	   "user = " OPEN "Дмитрий" CLOSE, U("Дмитрий"));
	/* 113009/113011: "for user X" or "for user = X" */
	OK(H, "%ASA-6-113009: AAA retrieved default group policy GROUP_POLICY_1 for user "
	   OPEN "USER_1" CLOSE, U("USER_1"));
	OK(H, "%ASA-6-113009: AAA retrieved default group policy (DfltGrpPolicy) for user = "
	   OPEN "dave" CLOSE, U("dave"));
	OK(H, "%ASA-6-113011: AAA retrieved user specific group policy (GP-Eng) for user "
	   OPEN "erin" CLOSE, U("erin"));
	OK(H, "%ASA-6-113003: AAA group policy for user " OPEN "frank" CLOSE
	   " is being set to GP-Sales", U("frank"));
	OK(H, "%ASA-6-113010: AAA challenge received for user " OPEN "gina" CLOSE
	   " from server 10.1.1.5", U("gina"));
	OK(H, "%ASA-4-113019: Group = VPN-Users, Username = " OPEN "hank" CLOSE
	   ", IP = 198.51.100.7, Session disconnected. Session Type: IKEv1, Duration: "
	   "0h:32m:16s, Bytes xmt: 297103, Bytes rcv: 1216163, Reason: User Requested",
	   U("hank"));
	OK(H, "%ASA-3-113021: Attempted console login failed. User " OPEN "eve" CLOSE
	   " did NOT have appropriate Admin Rights.", U("eve"));
	OK(H, "%ASA-3-113021: Attempted console login failed user '" OPEN "eve" CLOSE
	   "' did NOT have appropriate Admin Rights.", U("eve"));
	OK(H, "%ASA-6-113006: User '" OPEN "ivan" CLOSE "' locked out on exceeding '3' "
	   "successive failed authentication attempts", U("ivan"));
	OK(H, "%ASA-6-113007: User '" OPEN "ivan" CLOSE "' unlocked by admin", U("ivan"));
	OK(H, "%ASA-5-113024: Group tg-certs: Authenticating IKEv2 connection from "
	   "198.51.100.9 with username, " OPEN "judy" CLOSE ", from client certificate",
	   U("judy"));
	OK(H, "%ASA-6-113042: CoA: Non-HTTP connection from inside:10.1.1.1/5050 to "
	   "outside:2.2.2.2/443 for user " OPEN "ken" CLOSE " at 10.1.1.1 denied by "
	   "redirect filter; only HTTP connections are supported for redirection.",
	   U("ken"));
}

/* AnyConnect and WebVPN: Group <G> User <U> IP <I>, with or without < > */
static void test_vpn_sessions(void **state)
{
	(void)state;
	OK(H, "%ASA-6-113039: Group <GroupPolicy_Remote-VPN> User <" OPEN
	   "first.o'last@example.com" CLOSE "> IP <81.2.69.144> AnyConnect parent session started.",
	   U("first.o'last@example.com"));
	OK(H, "%ASA-6-113039: Group VPN_USERS User " OPEN "example.user" CLOSE
	   " IP 67.43.156.14 AnyConnect parent session started.", U("example.user"));
	OK(H, "%ASA-6-716001: Group <DfltGrpPolicy> User <" OPEN "Lena Schulz" CLOSE
	   "> IP <10.10.10.10> WebVPN session started.", U("Lena Schulz"));
	OK(H, "%ASA-6-716002: Group another-policy User " OPEN "testuser" CLOSE
	   " IP 81.2.69.144 WebVPN session terminated: User Requested.", U("testuser"));
	OK(H, "%ASA-6-722022: Group <GP Remote User VPN> User <" OPEN "mona" CLOSE
	   "> IP <198.51.100.33> TCP SVC connection established without compression",
	   U("mona"));
	OK(H, "%ASA-5-722037: Group <GP> User <" OPEN "CORP\\nick" CLOSE
	   "> IP <198.51.100.34> SVC closing connection: DPD failure.", U("CORP\\nick"));
	OK(H, "%ASA-5-722028: Group GROUP_1 User " OPEN "USER 1" CLOSE
	   " IP 10.20.0.1 Stale SVC connection closed.", U("USER 1"));
	OK(H, "%ASA-4-722051: Group <VPN5Policy> User <" OPEN "john" CLOSE
	   "> IP <192.168.50.3> IPv4 Address <192.168.50.5> IPv6 address <::> assigned to session",
	   U("john"));
	/* an empty user, with and without brackets */
	OK(H, "%ASA-6-716059: Group <Vendor_User> User " OPEN CLOSE "IP <10.20.0.1> AnyConnect "
	   "session resumed connection from IP <172.16.0.1>.", U(""));
	OK(H, "%ASA-6-716058: Group GROUP_1 User " OPEN CLOSE "IP 10.20.0.1 AnyConnect session "
	   "lost connection. Waiting to resume.", U(""));
	/* 716039's two templates */
	OK(H, "%ASA-6-716039: Authentication: rejected, group = malcorp user = " OPEN "eve"
	   CLOSE " , Session Type: WebVPN", U("eve"));
	OK(H, "%ASA-6-716039: Group <malcorp group> User <" OPEN "malory" CLOSE
	   "> IP <172.31.98.44> Authentication: rejected, Session Type: WebVPN.", U("malory"));
	OK(H, "%ASA-6-721016: (WebVPN-Primary) WebVPN session for client user " OPEN
	   "test.user" CLOSE ", IPv4 10.1.2.0 has been created.", U("test.user"));
	OK(H, "%ASA-6-721018: (DEVICE_1) WebVPN session for client user " OPEN "USER_1" CLOSE
	   ", IP 10.20.0.1 has been deleted.", U("USER_1"));
	OK(H, "%ASA-7-734001: DAP: User " OPEN "oscar" CLOSE ", Addr 198.51.100.8, Connection "
	   "AnyConnect: The following DAP records were selected for this connection: DfltAccessPolicy",
	   U("oscar"));
	/* IKE: Username = X, and User (X) later in the same message */
	OK(H, "%ASA-5-713049: Group = 100.60.140.10, Username = " OPEN "test_user" CLOSE
	   ", IP = 81.2.69.143, Security negotiation complete for User (" OPEN "test_user"
	   CLOSE ") Responder, Inbound SPI = 0x0000000, Outbound SPI = 0x0000000",
	   U("test_user"), U("test_user"));
	NONE(H, "%ASA-5-713049: Group = 10.0.0.0, IP = 10.0.0.0, Security negotiation complete "
	     "for peer (10.0.0.0) Initiator, Inbound SPI = 0x6fdb0644, Outbound SPI = 0x14dde27d");
	/* IKEv2: Username:X */
	OK(H, "%ASA-5-750002: Local:81.2.69.144:500 Remote:192.168.2.2:500 Username:" OPEN
	   "admin" CLOSE " Received a IKE_INIT_SA request", U("admin"));
	OK(HNONE, "%ASA-5-751025: Local:10.1.1.180:4500 Remote:10.2.66.123:53256 Username:"
	   OPEN "anonyms" CLOSE " IKEv2 Group:Remote-Power_Users IPv4 Address=172.16.58.24 "
	   "IPv6 address=fd29:849c:87c7:41bb::1 assigned to session", U("anonyms"));
	OK(H, "%ASA-6-602303: IPSEC: An outbound LAN-to-LAN SA (SPI= 0xF81283) between "
	   "81.2.69.144 and 192.168.2.2 (user= " OPEN "peer-admin" CLOSE ") has been created.",
	   U("peer-admin"));
}

/* Management access and commands */
static void test_management(void **state)
{
	(void)state;
	OK(H, "%ASA-6-605004: Login denied from 10.10.1.212/51923 to FCD-FS-LAN:10.10.1.254/https "
	   "for user \"" OPEN "*****" CLOSE "\"", U("*****"));
	OK(H, "%ASA-6-605005: Login permitted from 10.10.0.87/6651 to inside:10.10.1.254/ssh "
	   "for user \"" OPEN "netops" CLOSE "\"", U("netops"));
	OK(H, "%ASA-6-605004: Login denied from 81.2.69.144/51215 to dmz-1000:81.2.69.145/https "
	   "for user \"" OPEN CLOSE "\"", U(""));
	OK(H, "%ASA-6-611101: User authentication succeeded: IP address: 10.10.0.87, Uname: "
	   OPEN "admin" CLOSE, U("admin"));
	OK(H, "%ASA-6-611102: User authentication failed: IP address: 10.10.0.87, Uname: "
	   OPEN "Zoë" CLOSE, U("Zoë"));
	OK(H, "%ASA-6-611103: User logged out: Uname: " OPEN "admin" CLOSE, U("admin"));
	OK(H, "%ASA-5-502103: User priv level changed: Uname: " OPEN "enable_15" CLOSE
	   " From: 1 To: 15", U("enable_15"));
	OK(H, "%ASA-5-502101: New user added to local dbase: Uname: " OPEN "pat" CLOSE
	   " Priv: 15 Encpass: ***********", U("pat"));
	OK(H, "%ASA-5-111008: User '" OPEN "enable_15" CLOSE "' executed the 'configure "
	   "terminal' command.", U("enable_15"));
	OK(H, "%ASA-7-111009: User '" OPEN "quinn" CLOSE "' executed cmd: show run user '" OPEN "x" CLOSE "' ",
	   U("quinn"), U("x"));
	OK(H, "%ASA-5-111010: User '" OPEN "enable_15" CLOSE "', running 'CLI' from IP "
	   "10.10.0.87, executed 'clear'", U("enable_15"));
	OK(H, "%ASA-6-315011: SSH session from 10.1.2.3 on interface inside for user \""
	   OPEN "user-test" CLOSE "\" terminated normally.", U("user-test"));
	OK(H, "%ASA-6-315011: SSH session from 10.1.2.1 on interface inside for user " OPEN
	   "USER_1" CLOSE " disconnected by SSH server, reason: Out of memory", U("USER_1"));
	/* cut-through proxy (109xxx), quoted or not */
	OK(H, "%ASA-6-109001: Auth start for user '" OPEN "rita" CLOSE "' from "
	   "10.1.1.1/1234 to 2.2.2.2/80", U("rita"));
	OK(H, "%ASA-6-109005: Authentication succeeded for user " OPEN "rita" CLOSE " from "
	   "10.1.1.1/1234 to 2.2.2.2/80 on interface inside.", U("rita"));
	OK(H, "%ASA-6-109011: Authen Session Start: user '" OPEN "rita" CLOSE "', sid 7",
	   U("rita"));
	OK(H, "%ASA-6-303002: FTP connection from net:192.168.2.2/63656 to fw111:10.192.18.4/21, "
	   "user " OPEN "ftpuser" CLOSE " Stored file /export/home/tmp.log", U("ftpuser"));
	OK(H, "%ASA-5-304001: " OPEN "jdoe" CLOSE "@10.20.30.40 Accessed URL "
	   "10.20.30.41:http://10.20.30.41/index.html", U("jdoe"));
	OK(H, "%ASA-5-304001: 10.20.30.40 Accessed URL " OPEN "someuser" CLOSE
	   "@10.20.30.40:http://10.20.30.40/IOFUHSIU98[0]", U("someuser"));
	NONE(H, "%ASA-5-304001: 10.20.30.40 Accessed JAVA URL 10.20.30.40:http://10.20.30.40/a");
}

/* Connections: identity firewall users and the AAA user */
static void test_connections(void **state)
{
	(void)state;
	OK(H, "%ASA-6-302013: Built inbound TCP connection 79766144 for outside:192.168.2.2/62848 "
	   "(192.168.2.2/62848)(" OPEN "LOCAL\\myUser1234" CLOSE ", 9999:my_SgtName) to "
	   "inside:192.168.2.3/443 (192.168.2.3/443) (" OPEN "myUser1234" CLOSE ")",
	   U("LOCAL\\myUser1234"), U("myUser1234"));
	OK(H, "%ASA-6-302014: Teardown TCP connection 79710069 for outside:192.168.2.2/59774("
	   OPEN "LOCAL\\myUser1234" CLOSE ", 9999:my_SgtName) to inside:192.168.2.3/443 "
	   "duration 0:01:04 bytes 16874 TCP FINs from outside (" OPEN "myUser1234" CLOSE ")",
	   U("LOCAL\\myUser1234"), U("myUser1234"));
	OK(H, "%ASA-6-302015: Built outbound UDP connection 1743372 for outside:8.8.8.8/53 "
	   "(8.8.8.8/53) to inside:10.1.1.7/51000 (203.0.113.5/51000)(" OPEN "CORP\\ines" CLOSE
	   ")", U("CORP\\ines"));
	OK(H, "%ASA-6-302021: Teardown ICMP connection for faddr 192.168.2.2/29(" OPEN
	   "LOCAL\\myUser1234" CLOSE ", 9999:my_SgtName) gaddr 192.168.2.3/0 laddr "
	   "192.168.2.3/0 (" OPEN "myUser1234" CLOSE ") type 8 code 0 ",
	   U("LOCAL\\myUser1234"), U("myUser1234"));
	/* addresses, SGTs, FQDNs and reasons in parentheses are no users */
	NONE(H, "%ASA-6-302013: Built inbound TCP connection 990568095 for outside:192.168.2.2/61921 "
	     "(192.168.2.2/61921)(9999:my_SgtName) to inside:192.168.2.3/443 (192.168.2.3/443)");
	NONE(H, "%ASA-6-302026: Built director stub ICMP connection for fw111:10.10.10.10/32004 "
	     "(8.8.8.5) to net:192.168.2.2/0 (81.2.69.144)");
	NONE(HB, "%ASA-4-106023: Deny tcp src outside:10.10.10.2/56444 dst srv:192.168.2.2/51635"
	     "(testhostname.domain) by access-group \"global_access_1\" [0x0, 0x0]");
	/* 106100 and 106023 with identity firewall users on both ends */
	OK(H, "%ASA-6-106100: access-list inside_in permitted tcp inside/10.1.1.1(1234)(" OPEN
	   "LOCAL\\alice" CLOSE ") -> outside/2.2.2.2(80)(" OPEN "CORP\\bob" CLOSE
	   ") hit-cnt 1 first hit [0x38ff326b, 0x00000000]",
	   U("LOCAL\\alice"), U("CORP\\bob"));
	OK(H, "%ASA-4-106023: Deny tcp src outside:198.51.100.2/56444(" OPEN "CORP\\Jürgen Groß"
	   CLOSE ") dst inside:10.1.1.9/445 by access-group \"outside_in\" [0x0, 0x0]",
	   U("CORP\\Jürgen Groß"));
	OK(HB, "%FTD-4-313005: No matching connection for ICMP error message: icmp src "
	   "srcif:192.168.2.2(" OPEN "LOCAL\\testgroup\\testuser" CLOSE ") dst dstif:192.168.2.3 "
	   "(type 3, code 3) on myif interface.", U("LOCAL\\testgroup\\testuser"));
	/* the identity firewall's own mapping messages */
	OK("Mar  5 12:32:07 WIN-6UKNDHK4QEV SyslogGen ",
	   "%ASA-7-746012: user-identity: Add IP-User mapping 10.10.10.3 - " OPEN
	   "LOCAL\\lsge\\christina.baker" CLOSE " Succeeded - VPN user",
	   U("LOCAL\\lsge\\christina.baker"));
	OK(H, "%ASA-5-746013: user-identity: Delete IP-User mapping 10.1.1.10 - " OPEN
	   "CORP\\user1" CLOSE " Failed - Inactive timeout", U("CORP\\user1"));
	/* a plain connection */
	NONE(H, "%ASA-6-302013: Built outbound TCP connection 89743277 for outside:192.168.0.17/80 "
	     "(192.168.0.17/80) to inside:192.168.3.42/4954 (10.0.0.130/10879)");
}

/* Unknown IDs get the generic forms; FTD's own events */
static void test_generic_and_ftd(void **state)
{
	(void)state;
	NONE(H, "%ASA-6-199999: nothing to see here");
	OK(H, "%ASA-6-999001: something about User <" OPEN "alice" CLOSE "> and user = "
	   OPEN "bob" CLOSE ", then user \"" OPEN "carl" CLOSE "\"",
	   U("alice"), U("bob"), U("carl"));
	OK(H, "%ASA-4-338002: Dynamic Filter monitored blacklisted TCP traffic from inside:"
	   "10.1.1.8/56290(" OPEN "CORP\\tom" CLOSE ") to outside:203.0.113.9/80", U("CORP\\tom"));
	/* "users", "user-identity", "IP-User" are no forms */
	NONE(H, "%ASA-6-999002: 12 users online; user-identity: IP-User mapping table full");
	OK("<185>2020-07-24T13:13:45Z   ",
	   "%FTD-1-430003: DeviceUUID: 854f1702-0ecf, AccessControlRuleAction: Allow, "
	   "SrcIP: 192.0.2.143, DstIP: 192.0.2.74, User: " OPEN "CORP\\dana" CLOSE
	   ", UserAgent: Mozilla/5.0 (Windows NT 10.0; Win64; x64), Client: Edge",
	   U("CORP\\dana"));
	NONE("<185>2020-07-24T13:13:45Z   ",
	     "%FTD-1-430002: EventPriority: Low, DeviceUUID: 1662dc94, SrcIP: 1.2.3.4, DstIP: 5.6.7.8");
	/* class-enabled message and PIX */
	OK("Sep 25 15:47:07 host1.example.com : Sep 25 15:47:07 EDT: ",
	   "%ASA-auth-4-113004: AAA user authentication Successful : server = myservername : "
	   "user = " OPEN "myusername" CLOSE, U("myusername"));
	OK("<166>:Jan 13 2012 15:51:28 MSK: ", "%PIX-6-113004: AAA user authentication "
	   "Successful : server =  10.20.30.153 : user = " OPEN "johntheuser" CLOSE,
	   U("johntheuser"));
	/* RFC 5424 header */
	OK("<166>1 2024-06-27T12:17:46Z asa - - - ", "%ASA-6-113004: AAA user authentication "
	   "Successful : server = 10.1.1.5 : user = " OPEN "uma" CLOSE, U("uma"));
	/* a trailing CR is not part of a name */
	OK(H, "%ASA-6-611103: User logged out: Uname: " OPEN "vic" CLOSE "\r", U("vic"));
}

static void test_malformed(void **state)
{
	(void)state;
	/* a known ID without its user: a template we do not know */
	BAD(H, "%ASA-6-113004: AAA user authentication Successful : server = 10.1.1.5");
	BAD(H, "%ASA-6-113039: Group <GP> AnyConnect parent session started.");
	BAD(H, "%ASA-6-605005: Login permitted from 10.10.0.87/6651 to inside:10.10.1.254/ssh");
	BAD(H, "%ASA-7-746012: user-identity: Add IP-User mapping 10.10.10.3 LOCAL\\x Succeeded");
	/* a user whose end is missing */
	BAD(H, "%ASA-6-722022: Group <GP> User <alice");
	BAD(H, "%ASA-6-605005: Login permitted from 10.10.0.87/6651 to inside:10.10.1.254/ssh "
	    "for user \"admi");
	BAD(H, "%ASA-6-109005: Authentication succeeded for user bob");
	BAD(H, "%ASA-6-716002: Group another-policy User testuser");
	BAD(H, "%ASA-6-999003: unknown message, user 'cut");
	BAD(H, "%ASA-6-106100: access-list in permitted tcp inside/10.1.1.1(1234)(LOCAL\\ali");
	BAD(H, "%ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5 (1.2.3.4/5) "
	    "to inside:10.1.1.1/80 (10.1.1.1/80) (alic");
	/* more than VDP_MAX_FIELDS users */
	char line[4096];
	size_t n = (size_t)snprintf(line, sizeof(line), "%%ASA-6-999004:");
	for (int i = 0; i <= VDP_MAX_FIELDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " user = u%d,", i);
	BAD(H, line);
}

static void test_keys(void **state)
{
	(void)state;
	struct vdp_keys ks;
	/* identity firewall names only, as devices (say) */
	static const char *const idfw[] = { "idfw", NULL };
	vdp_keys_set(&ks, NULL, idfw);
	OKK(&ks, H, "%ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5 "
	    "(1.2.3.4/5)(" OPEN "LOCAL\\w" CLOSE ") to inside:10.1.1.1/80 (10.1.1.1/80) (aaa)",
	    D("LOCAL\\w"));
	/* without "user", a user message is no longer required to have one */
	NONEK(&ks, H, "%ASA-6-113004: AAA user authentication Successful : server = 10.1.1.5");
	/* user forms only */
	static const char *const user[] = { "user", NULL };
	vdp_keys_set(&ks, user, NULL);
	OKK(&ks, H, "%ASA-6-106100: access-list in permitted tcp inside/10.1.1.1(1234)(LOCAL\\a) "
	    "-> outside/2.2.2.2(80) hit-cnt 1 first hit [0x1, 0x0] user = " OPEN "b" CLOSE,
	    U("b"));
	NONEK(&ks, H, "%ASA-7-746012: user-identity: Add IP-User mapping 10.10.10.3 - LOCAL\\x "
	      "Succeeded - VPN user");
	/* unknown key names select nothing */
	static const char *const other[] = { "username", NULL };
	vdp_keys_set(&ks, other, NULL);
	NONEK(&ks, H, "%ASA-6-113004: AAA user authentication Successful : server = 1.1.1.1 : "
	      "user = x");
}

int main(void)
{
	asa = vdp_format_find("asa");
	if (asa == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_and_detect),
		cmocka_unit_test(test_aaa),
		cmocka_unit_test(test_vpn_sessions),
		cmocka_unit_test(test_management),
		cmocka_unit_test(test_connections),
		cmocka_unit_test(test_generic_and_ftd),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
