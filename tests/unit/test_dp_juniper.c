/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The Juniper parser (dataplane/pipeline/fmt_juniper.c): SRX and Junos structured
 * syslog, in RFC 5424 STRUCTURED-DATA and in the body, on lines written as
 * Juniper documents and sends them. Each line marks its expected identity
 * spans with « and » (dp_harness.h).
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
#define OK(...)               DP_OK(__VA_ARGS__)
#define NONE(f, hdr, line)    DP_NONE(f, hdr, line)
#define BAD(f, hdr, line)     DP_BAD(f, hdr, line)
#define NOTMINE(f, hdr, line) DP_NOTMINE(f, hdr, line)
#define OKK(...)              DP_OKK(__VA_ARGS__)

static const struct vdp_format *junos;

/* ------------------------------------------------------------------ */
/* registry and detection                                             */
/* ------------------------------------------------------------------ */

static void test_registry_and_detect(void **state)
{
	(void)state;
	struct vdp_keys ks;
	assert_ptr_equal(junos, &vdp_fmt_juniper);
	vdp_keys_set(&ks, junos->default_users, junos->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "username", 8), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "source-user", 11), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "hostname", 8), -1);
	assert_null(junos->free_state);

	assert_true(dp_detect(junos, "<14>1 2019-04-12T14:29:06.576Z srx1 ",
			      "RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "
			      "source-address=\"10.0.0.1\" username=\"alice\" roles=\"N/A\"]"));
	assert_true(dp_detect(junos, "<14>Mar  1 12:00:00 srx ",
			      "RT_FLOW: RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address=\"10.0.0.1\"]"));
	assert_false(dp_detect(junos, "<14>Mar  1 12:00:00 srx ",
			       "RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/443"));
	/* the key=value family's lines and ASA's are not Juniper's */
	assert_false(dp_detect(junos, "<189>",
			       "date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" logid=\"0000000013\" "
			       "type=\"traffic\" user=\"bob\""));
	assert_false(dp_detect(junos, "<134>1 2020-01-02T14:04:50Z fwmgmt CheckPoint 16559 - ",
			       "[action:\"Accept\"; origin:\"10.4.150.2\"; src_user_name:\"jdoe\"; ]"));
	assert_false(dp_detect(junos, "<166>Jan 05 2024 12:00:00 asa1 : ",
			       "%ASA-6-113004: AAA user authentication Successful : server = "
			       "10.1.1.5 : user = alice"));
	assert_false(dp_detect(junos, "", ""));
}

/* ------------------------------------------------------------------ */
/* Juniper                                                            */
/* ------------------------------------------------------------------ */

static void test_juniper_sd(void **state)
{
	(void)state;
	/* RFC 5424 STRUCTURED-DATA (sd-syslog stream mode) */
	OK(junos, "<14>1 2024-03-01T10:15:01.184+01:00 SRX-GW1 ",
	   "RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "
	   "source-address=\"10.0.0.1\" source-port=\"594\" destination-address=\"67.43.156.13\" "
	   "destination-port=\"443\" connection-tag=\"0\" service-name=\"junos-https\" "
	   "nat-source-address=\"198.51.100.10\" nat-source-port=\"594\" "
	   "src-nat-rule-type=\"source rule\" protocol-id=\"6\" policy-name=\"trust-to-untrust\" "
	   "source-zone-name=\"trust\" destination-zone-name=\"untrust\" session-id-32=\"6093\" "
	   "username=\"" OPEN "alice" CLOSE "\" roles=\"Employees\" "
	   "packet-incoming-interface=\"ge-0/0/1.0\" application=\"SSL\"] "
	   "session created 10.0.0.1/594->67.43.156.13/443 junos-https",
	   UB("alice"));
	/* N/A is reported: the pipeline knows it for no user */
	OK(junos, "<14>1 2019-11-14T11:12:46.573+01:00 SRX-GW1 ",
	   "RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address=\"10.0.0.26\" "
	   "source-port=\"37233\" destination-address=\"67.43.156.13\" destination-port=\"161\" "
	   "service-name=\"None\" protocol-id=\"17\" policy-name=\"MgmtAccess-trust-cleanup\" "
	   "username=\"" OPEN "N/A" CLOSE "\" roles=\"N/A\" reason=\"Denied by policy\"]",
	   UB("N/A"));
	/* Junos system event (mgd): UI_LOGIN_EVENT */
	OK(junos, "<165>1 2024-02-15T09:17:15.719Z router1 mgd 3046 ",
	   "UI_LOGIN_EVENT [junos@2636.1.1.1.2.18 username=\"" OPEN "noc-ops" CLOSE
	   "\" class-name=\"super-user\" client-mode=\"cli\"] User 'noc-ops' login, class 'super-user'",
	   UB("noc-ops"));
	/* escapes \" \\ \], unicode, several identities, another SD element */
	OK(junos, "<14>1 2024-03-01T10:15:01Z srx ",
	   "RT_FLOW - APPTRACK_SESSION_CLOSE [meta sequenceId=\"9\" note=\"a]b\\\"c\"]"
	   "[junos@2636.1.1.1.2.129 username=\"" OPEN "CORP\\\\o\\\"neil" CLOSE "\" "
	   "source-identity=\"" OPEN "Grüße\\]x" CLOSE "\" destination-user=\"" OPEN CLOSE
	   "\"] text",
	   UB("CORP\\o\"neil"), UB("Grüße]x"), UB(""));
	/* two junos elements */
	OK(junos, "<14>1 2024-03-01T10:15:01Z srx ",
	   "RT_FLOW - X [junos@2636.1.1.1.2.129 username=\"" OPEN "a" CLOSE "\"]"
	   "[junos@2636.1.1.1.2.129 source-user=\"" OPEN "b" CLOSE "\"]",
	   UB("a"), UB("b"));
}

static void test_juniper_body(void **state)
{
	(void)state;
	/* the BSD header with structured data in the body */
	OK(junos, "<14>Mar  1 12:00:00 srx-branch ",
	   "RT_FLOW: RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address=\"10.0.0.1\" "
	   "source-port=\"51234\" username=\"" OPEN "CORP\\\\bob" CLOSE "\" roles=\"N/A\"]",
	   UB("CORP\\bob"));
	/* a relay's BSD header before the device's RFC 5424 one */
	OK(junos, "Jun 16 06:54:17 relay1 ",
	   "1 2015-06-16T03:54:16.444-07:00 test-fw-1 RT_FLOW - RT_FLOW_SESSION_CREATE "
	   "[junos@2636.1.1.1.2.39 source-address=\"10.10.30.6\" username=\"" OPEN
	   "ŝtefan" CLOSE "\" roles=\"N/A\" packet-incoming-interface=\"st0.21\"]",
	   UB("ŝtefan"));
	/* timestamp without a zone: not RFC 5424, still found in the body;
	 * a broken parameter after the identity (curly quotes) ends the
	 * element but hides no identity */
	OK(junos, "<14>1 2013-01-19T15:18:20.040 SRX100HM ",
	   "RT_FLOW - APPTRACK_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason=\"TCP CLIENT RST\" "
	   "username=\"" OPEN "user1" CLOSE "\" roles=\"DEPT1\" encrypted=\"No\" "
	   "destination-interface-name=\xe2\x80\x9dst0.0\xe2\x80\x9d apbr-rule-type=\xe2\x80\x9d"
	   "default\xe2\x80\x9d]",
	   UB("user1"));
}

static void test_juniper_malformed(void **state)
{
	(void)state;
	const char *h = "<14>1 2024-03-01T10:15:01Z srx ";
	BAD(junos, h, "RT_FLOW - X [junos@2636.1.1.1.2.129 reason=\"TCP FIN\" username=\"alice");
	/* a parameter that never closes, an identity after it */
	BAD(junos, h, "RT_FLOW - X [junos@2636.1.1.1.2.129 reason=\"TCP FIN username=\"alice\"]");
	/* a backslash before a closing quote, not escaped by the sender */
	BAD(junos, h, "RT_FLOW - X [junos@2636.1.1.1.2.129 file=\"C:\\T\\\" username=\"bob\"]");
	/* an identity not quoted: cannot be bounded */
	BAD(junos, h, "RT_FLOW - X [junos@2636.1.1.1.2.129 username=alice smith roles=\"x\"]");
	/* a broken element before a junos one: the header parser takes no
	 * STRUCTURED-DATA, the junos element is found in the body */
	OK(junos, h, "RT_FLOW - X [meta a=\"1\" bad][junos@2636.1.1.1.2.129 username=\""
	   OPEN "x" CLOSE "\"]",
	   UB("x"));
	/* truncated after the identity: what was read stands */
	OK(junos, h, "RT_FLOW - X [junos@2636.1.1.1.2.129 username=\"" OPEN "ok" CLOSE
	   "\" application-characteristics=\"Can Leak Inform",
	   UB("ok"));
	/* unstructured RT_FLOW text and other messages are not this format */
	NOTMINE(junos, "<14>Mar  1 12:00:00 srx ",
		"RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/443 "
		"junos-https 10.0.0.1/1->10.0.0.2/443 None None 6 p trust untrust 5 "
		"username(N/A) roles(N/A) ge-0/0/0.0");
	NOTMINE(junos, h, "RT_FLOW - X [meta sequenceId=\"1\"] no junos element");
	NOTMINE(junos, "", "");
}

/* The STRUCTURED-DATA as a header parser may hand it over: sd_len too
 * short (an escaped ']' taken for the end), or covering a broken element. */
static void test_juniper_sd_bounds(void **state)
{
	(void)state;
	struct vdp_keys ks;
	vdp_keys_set(&ks, junos->default_users, junos->default_devices);
	struct vdp_parse_ctx ctx = { .keys = &ks };
	struct vdp_fields out;
	static const char sd1[] =
		"[junos@2636.1.1.1.2.129 reason=\"a\\]b\" username=\"bob\"] msg";
	struct vdp_msg m = { .data = sd1, .len = sizeof(sd1) - 1, .sd_off = 0,
			     .sd_len = 37 /* up to the escaped ']' */ };
	m.body = m.sd_len + 1;
	out.n = 0;
	assert_int_equal(junos->parse(&ctx, &m, &out), VDP_PARSED);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.f[0].off, 48);
	assert_int_equal(out.f[0].len, 3);
	assert_memory_equal(sd1 + out.f[0].off, "bob", 3);

	static const char sd2[] =
		"[meta a=\"1\" bad][junos@2636.1.1.1.2.129 username=\"x\"] msg";
	m = (struct vdp_msg){ .data = sd2, .len = sizeof(sd2) - 1, .sd_off = 0,
			      .sd_len = sizeof(sd2) - 5, .body = sizeof(sd2) - 4 };
	out.n = 0;
	assert_int_equal(junos->parse(&ctx, &m, &out), VDP_MALFORMED);

	/* a broken junos element, nothing after it: the fields before stand */
	static const char sd3[] = "[junos@2636.1.1.1.2.129 username=\"y\" bad] msg";
	m = (struct vdp_msg){ .data = sd3, .len = sizeof(sd3) - 1, .sd_off = 0,
			      .sd_len = sizeof(sd3) - 5, .body = sizeof(sd3) - 4 };
	out.n = 0;
	assert_int_equal(junos->parse(&ctx, &m, &out), VDP_PARSED);
	assert_int_equal(out.n, 1);
	assert_memory_equal(sd3 + out.f[0].off, "y", 1);
}

static void test_juniper_keys(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const users[] = { "username", NULL };
	static const char *const devices[] = { "hostname", NULL };
	vdp_keys_set(&ks, users, devices);
	OKK(junos, &ks, "<11>1 2016-09-20T10:40:30.050-07:00 host-example ",
	    "RT_AAMW - AAMW_HOST_INFECTED_EVENT_LOG [junos@2636.1.1.1.2.129 "
	    "timestamp=\"Thu Jun 23 09:55:38 2016\" tenant-id=\"ABC123456\" client-ip=\"10.1.3.4\" "
	    "hostname=\"" OPEN "lab-pc-17.example.com" CLOSE "\" status=\"in_progress\" "
	    "username=\"" OPEN "emma" CLOSE "\" reason=\"malware\"]",
	    DB("lab-pc-17.example.com"), UB("emma"));
	/* non-junos elements never give identities */
	OKK(junos, &ks, "<14>1 2024-03-01T10:15:01Z srx ",
	    "RT_FLOW - X [origin hostname=\"relay\"][junos@2636.1.1.1.2.129 username=\""
	    OPEN "f" CLOSE "\"]",
	    UB("f"));
}

int main(void)
{
	junos = vdp_format_find("juniper");
	if (junos == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_and_detect),
		cmocka_unit_test(test_juniper_sd),
		cmocka_unit_test(test_juniper_body),
		cmocka_unit_test(test_juniper_malformed),
		cmocka_unit_test(test_juniper_sd_bounds),
		cmocka_unit_test(test_juniper_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
