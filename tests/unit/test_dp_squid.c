/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The Squid parsers (dataplane/pipeline/fmt_squid.c): Squid's native access log
 * and the common log format (squid-common, Apache's combined too), on
 * lines written as Squid and Apache write them. Each line marks its
 * expected identity spans with « and » (dp_harness.h).
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
#define OK(...)               DP_SRC_OK(__VA_ARGS__)
#define NONE(s, hdr, line)    DP_SRC_NONE(s, hdr, line)
#define BAD(s, hdr, line)     DP_SRC_BAD(s, hdr, line)
#define NOTMINE(s, hdr, line) DP_SRC_NOTMINE(s, hdr, line)

static const struct vdp_format *squid, *common;

/* ------------------------------------------------------------------ */
/* Squid native                                                       */
/* ------------------------------------------------------------------ */

static void test_squid_native(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, squid);
	assert_ptr_equal(vdp_format_find("squid"), &vdp_fmt_squid);
	assert_int_equal(s.keys.n, 1);
	assert_int_equal(vdp_keys_find(&s.keys, "rfc931", 6), VEIL_KIND_USER);
	OK(&s, "",
	   "1709287200.123    187 10.1.2.3 TCP_MISS/200 5120 GET "
	   "http://www.example.com/ " OPEN "jdoe" CLOSE
	   " HIER_DIRECT/93.184.216.34 text/html",
	   U(NONE, "jdoe"));
	OK(&s, "",
	   "1709287200.456      0 10.1.2.3 TCP_DENIED/407 3923 CONNECT "
	   "www.example.com:443 " OPEN "-" CLOSE " HIER_NONE/- text/html",
	   U(NONE, "-"));
	/* Squid URL-escapes names: the raw column is the name */
	OK(&s, "",
	   "1709287201.001   1022 10.1.2.4 TCP_TUNNEL/200 81234 CONNECT "
	   "login.example.com:443 " OPEN "John%20Smith" CLOSE
	   " HIER_DIRECT/20.190.1.1 -",
	   U(NONE, "John%20Smith"));
	OK(&s, "",
	   "1709287201.002     12 10.1.2.5 TCP_MEM_HIT/200 1520 GET "
	   "http://a.example/x " OPEN "CORP\\jdoe" CLOSE " HIER_NONE/- image/png",
	   U(NONE, "CORP\\jdoe"));
	OK(&s, "",
	   "1709287201.003     12 10.1.2.5 TCP_MISS/304 320 GET "
	   "http://a.example/y " OPEN "zoë@CORP.EXAMPLE" CLOSE
	   " FIRSTUP_PARENT/10.0.0.1 -",
	   U(NONE, "zoë@CORP.EXAMPLE"));
	/* log_mime_hdrs: bracketed headers after the ten columns */
	OK(&s, "",
	   "1709287201.004     45 10.1.2.6 TCP_MISS/200 900 GET "
	   "http://a.example/ " OPEN "jdoe" CLOSE " HIER_DIRECT/1.2.3.4 "
	   "text/html [Host: a.example\\r\\nUser-Agent: curl/8.0\\r\\n] "
	   "[HTTP/1.1 200 OK\\r\\n]",
	   U(NONE, "jdoe"));
	/* a space in the name shifts the columns */
	BAD(&s, "",
	    "1709287201.005     45 10.1.2.6 TCP_MISS/200 900 GET http://a.example/ "
	    "John Smith HIER_DIRECT/1.2.3.4 text/html");
	/* cut short */
	BAD(&s, "",
	    "1709287201.006     45 10.1.2.6 TCP_MISS/200 900 GET http://a.example/ "
	    "jdoe");
	BAD(&s, "", "1709287201.006 45 10.1.2.6 TCP_MISS/200");
	/* not squid */
	NOTMINE(&s, "", "Mar  1 10:00:00 proxy sshd[1]: Accepted password for jdoe");
	NOTMINE(&s, "",
		"10.1.2.3 - jdoe [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1");
	NOTMINE(&s, "", "1709287201 45 10.1.2.6 TCP_MISS/200 900 GET / jdoe HIER_NONE/- -");
	NOTMINE(&s, "", "1709287201.1 45 10.1.2.6 TCP_MISS/2x0 900 GET / jdoe HIER_NONE/- -");
	NOTMINE(&s, "", "");
	dp_src_fini(&s);
}

static void test_squid_native_keys_syslog(void **state)
{
	(void)state;
	static const char *const users[] = { "rfc931", NULL };
	static const char *const devices[] = { "remotehost", "nosuchcolumn", NULL };
	struct dp_src s;
	dp_src_init(&s, squid);
	vdp_keys_set(&s.keys, users, devices);
	OK(&s, "",
	   "1709287200.123    187 " OPEN "ws042.corp.example" CLOSE
	   " TCP_MISS/200 5120 GET http://www.example.com/ " OPEN "jdoe" CLOSE
	   " HIER_DIRECT/93.184.216.34 text/html",
	   D(NONE, "ws042.corp.example"), U(NONE, "jdoe"));
	dp_src_init(&s, squid);
	OK(&s, "<166>Mar  1 10:00:00 proxy ",
	   "squid[1234]: 1709287200.123    187 10.1.2.3 TCP_MISS/200 5120 GET "
	   "http://www.example.com/ " OPEN "jdoe" CLOSE " HIER_DIRECT/1.2.3.4 "
	   "text/html",
	   U(NONE, "jdoe"));
	assert_true(dp_detect(squid, "",
			   "1709287200.123    187 10.1.2.3 TCP_MISS/200 5120 GET / - "
			   "HIER_NONE/- -"));
	assert_true(dp_detect(squid, "<166>Mar  1 10:00:00 proxy ",
			   "squid[1]: 1709287200.123 187 10.1.2.3 TCP_MISS/200"));
	assert_false(dp_detect(squid, "", "#Fields: date"));
	assert_false(dp_detect(squid, "", "CEF:0|V|P|1|1|N|5|"));
	s.ctx.keys = NULL;
	BAD(&s, "",
	    "1709287200.123 187 10.1.2.3 TCP_MISS/200 5120 GET / jdoe HIER_NONE/- -");
}

/* ------------------------------------------------------------------ */
/* Squid common (CLF)                                                 */
/* ------------------------------------------------------------------ */

static void test_squid_common(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, common);
	assert_ptr_equal(vdp_format_find("squid-common"), &vdp_fmt_squid_common);
	assert_int_equal(vdp_keys_find(&s.keys, "rfc931", 6), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&s.keys, "authuser", 8), VEIL_KIND_USER);
	OK(&s, "",
	   "10.1.2.3 " OPEN "-" CLOSE " " OPEN "jdoe" CLOSE
	   " [01/Mar/2024:10:00:00 +0000] \"GET http://www.example.com/ HTTP/1.1\" "
	   "200 5120 TCP_MISS:HIER_DIRECT",
	   U(NONE, "-"), U(NONE, "jdoe"));
	/* ident and authenticated user both present */
	OK(&s, "",
	   "10.1.2.4 " OPEN "jdoe-ident" CLOSE " " OPEN "CORP\\jdoe" CLOSE
	   " [01/Mar/2024:10:00:01 +0100] \"CONNECT login.example.com:443 HTTP/1.1\""
	   " 200 81234 TCP_TUNNEL:HIER_DIRECT",
	   U(NONE, "jdoe-ident"), U(NONE, "CORP\\jdoe"));
	/* Apache combined: referer and agent after */
	OK(&s, "",
	   "192.0.2.7 " OPEN "-" CLOSE " " OPEN "frank@example.org" CLOSE
	   " [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
	   "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
	   U(NONE, "-"), U(NONE, "frank@example.org"));
	OK(&s, "",
	   "10.1.2.5 " OPEN "-" CLOSE " " OPEN "J%C3%BCrgen%20M%C3%BCller" CLOSE
	   " [01/Mar/2024:10:00:02 +0000] \"GET / HTTP/1.1\" 403 0 TCP_DENIED:HIER_NONE",
	   U(NONE, "-"), U(NONE, "J%C3%BCrgen%20M%C3%BCller"));
	OK(&s, "",
	   "10.1.2.6 " OPEN "-" CLOSE " " OPEN "山田" CLOSE
	   " [01/Mar/2024:10:00:03 +0900] \"GET / HTTP/1.1\" 200 10",
	   U(NONE, "-"), U(NONE, "山田"));
	/* a space in the name shifts the date: malformed */
	BAD(&s, "",
	    "10.1.2.3 - John Smith [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1");
	BAD(&s, "",
	    "10.1.2.3 - [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1");
	BAD(&s, "", "10.1.2.3  jdoe [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1");
	BAD(&s, "", "10.1.2.3 - jdoe [01/Mar/2024:10:00:00 +0000] GET / 200 1");
	/* not CLF */
	NOTMINE(&s, "",
		"1709287200.123 187 10.1.2.3 TCP_MISS/200 5120 GET / jdoe HIER_NONE/- -");
	NOTMINE(&s, "", "10.1.2.3 - jdoe [yesterday] \"GET / HTTP/1.1\" 200 1");
	NOTMINE(&s, "", "#Fields: date");
	NOTMINE(&s, "", "");
	dp_src_fini(&s);
}

static void test_squid_common_keys_syslog(void **state)
{
	(void)state;
	static const char *const users[] = { "authuser", NULL };
	static const char *const devices[] = { "remotehost", NULL };
	struct dp_src s;
	dp_src_init(&s, common);
	vdp_keys_set(&s.keys, users, devices);
	OK(&s, "",
	   OPEN "host-7.corp.example" CLOSE " - " OPEN "jdoe" CLOSE
	   " [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
	   D(NONE, "host-7.corp.example"), U(NONE, "jdoe"));
	dp_src_init(&s, common);
	OK(&s, "<166>Mar  1 10:00:00 proxy ",
	   "squid[99]: 10.1.2.3 " OPEN "-" CLOSE " " OPEN "jdoe" CLOSE
	   " [01/Mar/2024:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1",
	   U(NONE, "-"), U(NONE, "jdoe"));
	assert_true(dp_detect(common, "",
			   "10.1.2.3 - jdoe [01/Mar/2024:10:00:00 +0000] \"GET /\" 200 1"));
	/* a shifted line is claimed, so that it is dropped */
	assert_true(dp_detect(common, "",
			   "10.1.2.3 - J S [01/Mar/2024:10:00:00 +0000] \"GET /\" 200 1"));
	assert_false(dp_detect(common, "", "CEF:0|V|P|1|1|N|5|"));
	assert_false(dp_detect(common, "", "1709287200.123 187 10.1.2.3 TCP_MISS/200"));
}

int main(void)
{
	squid = vdp_format_find("squid");
	common = vdp_format_find("squid-common");
	if (squid == NULL || common == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_squid_native),
		cmocka_unit_test(test_squid_native_keys_syslog),
		cmocka_unit_test(test_squid_common),
		cmocka_unit_test(test_squid_common_keys_syslog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
