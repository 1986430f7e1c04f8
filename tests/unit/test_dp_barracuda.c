/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Barracuda Web Application Firewall syslog (format barracuda): the
 * default Access (TR), Web Firewall (WF) and Audit (AUDIT) layouts, lines
 * written to the columns of Barracuda's "Exporting Log Formats". Users are
 * marked; the unit name (the WAF itself), its syslog HOSTNAME and the
 * client and service addresses are not tokenized.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

#define HDR "<150>Mar  1 10:15:22 waf01 "

/* Access log: Login ID, Certificate User (here "-") and Authenticated
 * User; the user agent and cookie are quoted and have spaces */
#define TR_LINE(login, cert, auth)                                              \
	"2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45 "   \
	"52144 " login " " cert " GET HTTPS www.example.com HTTP/1.1 200 5084 " \
	"512 0 128 10.0.5.21 80 96 \"9f3a1c2e\" SERVER DEFAULT PROTECTED VALID "  \
	"/portal/index.html q=veil \"https://www.example.com/\" "               \
	"\"lang=en; sid=9f3a1c2e\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) " \
	"AppleWebKit/537.36 (KHTML, like Gecko)\" 10.1.20.45 52144 " auth       \
	" \"-\" \"-\" \"-\""

static void test_access_log(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_barracuda, HDR,
	      TR_LINE("\"" OPEN "jdoe" CLOSE "\"", "\"" OPEN "-" CLOSE "\"",
		      "\"" OPEN "CORP\\jdoe" CLOSE "\""),
	      DP_U(NONE, "jdoe"), DP_U(NONE, "-"), DP_U(NONE, "CORP\\jdoe"));
	/* unquoted values too */
	DP_OK(&vdp_fmt_barracuda, HDR,
	      TR_LINE(OPEN "jdoe" CLOSE, OPEN "CN=jdoe,O=Corp" CLOSE,
		      OPEN "jdoe@corp.example" CLOSE),
	      DP_U(NONE, "jdoe"), DP_U(NONE, "CN=jdoe,O=Corp"),
	      DP_U(NONE, "jdoe@corp.example"));
	assert_true(dp_detect(&vdp_fmt_barracuda, HDR, TR_LINE("jdoe", "-", "jdoe")));
}

/* Web Firewall log: the attack details in brackets, with spaces; the
 * authenticated user after the proxy address and port */
static void test_web_firewall_log(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_barracuda, "<137>Mar  1 10:15:23 waf01 ",
	      "2024-03-01 10:15:23.017 +0000 waf01 WF ALER SQL_INJECTION_IN_URL "
	      "10.1.20.45 52150 203.0.113.10 443 global-sql GLOBAL DENY NONE "
	      "[type=\"sql-injection\" pattern=\"or 1=1\" token=\"' or 1=1--\"] "
	      "GET www.example.com/portal/search?q=%27%20or%201%3D1-- HTTPS "
	      "\"9f3a1c2e\" \"Mozilla/5.0 (X11; Linux x86_64)\" 10.1.20.45 52150 "
	      "\"" OPEN "m.rossi" CLOSE "\" \"https://www.example.com/portal/\" "
	      "18e0a2b4c5d-6f7e8d9c",
	      DP_U(NONE, "m.rossi"));
}

/* Audit log: the administrator's name; the login address is not an
 * identity by default */
static void test_audit_log(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_barracuda, "<110>Mar  1 10:16:02 waf01 ",
	      "2024-03-01 10:16:02.511 +0000 waf01 AUDIT " OPEN "wafadmin" CLOSE
	      " GUI 10.0.9.14 51122 CONFIG 3521 config SET service_ssl "
	      "portal-https ssl_status \"Off\" \"On\" []",
	      DP_U(NONE, "wafadmin"));
	/* the configured Syslog Header word ahead of the time stamp */
	DP_OK(&vdp_fmt_barracuda, "<110>Mar  1 10:16:02 waf01 ",
	      "Barracuda 2024-03-01 10:16:02.511 +0000 waf01 AUDIT " OPEN "admin"
	      CLOSE " GUI 10.0.9.14 51122 LOGIN 3522 login - - - - - - []",
	      DP_U(NONE, "admin"));
}

/* The addresses as devices when a source asks for them */
static void test_keys(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const u[] = { "auth_user", NULL };
	static const char *const d[] = { "client_ip", NULL };
	vdp_keys_set(&ks, u, d);
	DP_OKK(&vdp_fmt_barracuda, &ks, HDR,
	       "2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 "
	       OPEN "10.1.20.45" CLOSE " 52144 \"jdoe\" \"-\" GET HTTPS www.example.com "
	       "HTTP/1.1 200 5084 512 0 128 10.0.5.21 80 96 \"-\" SERVER DEFAULT "
	       "PROTECTED VALID / - \"-\" \"-\" \"-\" 10.1.20.45 52144 \"" OPEN "jdoe"
	       CLOSE "\" \"-\" \"-\" \"-\"",
	       DP_D(NONE, "10.1.20.45"), DP_U(NONE, "jdoe"));
}

/* Columns that do not line up (a value with a space where none is
 * expected), an unclosed quote before a user: dropped, never shifted */
static void test_malformed(void **state)
{
	(void)state;
	/* a Login ID with a space, unquoted: the ports do not line up */
	DP_BAD(&vdp_fmt_barracuda, HDR,
	       "2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45 "
	       "john doe - GET HTTPS www.example.com HTTP/1.1 200 5084 512 0 128 "
	       "10.0.5.21 80 96 \"-\" SERVER DEFAULT PROTECTED VALID / - \"-\" \"-\" "
	       "\"-\" 10.1.20.45 52144 \"jdoe\" \"-\" \"-\" \"-\"");
	/* an attack detail with "] " inside shifts the WF columns */
	DP_BAD(&vdp_fmt_barracuda, HDR,
	       "2024-03-01 10:15:23.017 +0000 waf01 WF ALER X 10.1.20.45 52150 "
	       "203.0.113.10 443 r GLOBAL DENY NONE [a=\"x] y\"] GET / HTTPS \"-\" "
	       "\"ua\" 10.1.20.45 52150 \"m.rossi\" \"-\" 1");
	/* an unclosed quote before the authenticated user */
	DP_BAD(&vdp_fmt_barracuda, HDR,
	       "2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45 "
	       "52144 \"-\" \"-\" GET HTTPS www.example.com HTTP/1.1 200 5084 512 0 "
	       "128 10.0.5.21 80 96 \"-\" SERVER DEFAULT PROTECTED VALID / - \"-\" "
	       "\"lang=en; \"Mozilla/5.0 10.1.20.45 52144 jdoe");
	/* cut inside the quoted Certificate User: it cannot be bounded */
	DP_BAD(&vdp_fmt_barracuda, HDR,
	       "2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45 "
	       "52144 \"jdoe\" \"CN=jd");
	/* a line cut after the user columns keeps them */
	DP_OK(&vdp_fmt_barracuda, HDR,
	      "2024-03-01 10:15:22.443 +0000 waf01 TR 203.0.113.10 443 10.1.20.45 "
	      "52144 \"" OPEN "jdoe" CLOSE "\" \"" OPEN "-" CLOSE "\" GET HTTPS www.exa",
	      DP_U(NONE, "jdoe"), DP_U(NONE, "-"));
}

/* Not Barracuda: other types, other time stamps, other formats */
static void test_not_mine(void **state)
{
	(void)state;
	DP_NOTMINE(&vdp_fmt_barracuda, HDR,
		   "2024-03-01 10:15:22.443 +0000 waf01 SYS something happened");
	DP_NOTMINE(&vdp_fmt_barracuda, HDR,
		   "2024-03-01 10:15:22 waf01 TR 203.0.113.10 443 10.1.20.45");
	DP_NOTMINE(&vdp_fmt_barracuda, HDR,
		   "date=2024-03-01 time=10:15:22 devname=\"fw01\" user=\"jdoe\"");
	DP_NOTMINE(&vdp_fmt_barracuda, "",
		   "1709287522.443 128 10.1.20.45 TCP_MISS/200 5084 GET http://a/ jdoe "
		   "DIRECT/1.2.3.4 text/html");
	assert_false(dp_detect(&vdp_fmt_barracuda, HDR, "2024-03-01"));
	assert_false(dp_detect(&vdp_fmt_barracuda, HDR, ""));
	/* other formats do not take its lines */
	const char *tr = TR_LINE("\"jdoe\"", "\"-\"", "\"jdoe\"");
	for (unsigned i = 0; vdp_formats[i] != NULL; i++)
		if (vdp_formats[i] != &vdp_fmt_barracuda)
			assert_false(dp_detect(vdp_formats[i], HDR, tr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_log),
		cmocka_unit_test(test_web_firewall_log),
		cmocka_unit_test(test_audit_log),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_mine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
