/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Digital Arts i-FILTER access log (format ifilter): the default 35-column
 * layout of i-FILTER Ver.10 / D-SPA Ver.4 / i-FILTER@Cloud, lines written
 * to the columns of Digital Arts' published description. The
 * authenticated user and the computer name are marked; the time, process
 * id, version and addresses are not tokenized.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"

/* The columns up to the client address (a file line: no syslog header),
 * then the computer name, the user, the access time, and the rest. */
#define HEAD "Mar  4 09:12:07 3120 1000/02/ - 203.0.113.80:443 10.2.0.1 10.2.4.33 "
#define TAIL                                                                    \
	" [04/Mar/2024:09:12:06 +0900] 200 0 5123 pass 0 41 41/77/95 -1 0 "    \
	"2210 0 sales - 0 - \"GET https://www.example.jp/news/ HTTP/1.1\" - "   \
	"Chrome text%2Fhtml%3B+charset%3Dutf-8 5E1F0A33"

static void test_access_log(void **state)
{
	(void)state;
	/* computer name and user */
	DP_OK(&vdp_fmt_ifilter, "",
	      HEAD OPEN "PC-0117.corp.example.jp" CLOSE " " OPEN "tanaka" CLOSE TAIL,
	      DP_D(NONE, "PC-0117.corp.example.jp"), DP_U(NONE, "tanaka"));
	/* user only: no reverse DNS */
	DP_OK(&vdp_fmt_ifilter, "",
	      HEAD OPEN "-" CLOSE " " OPEN "suzuki" CLOSE TAIL,
	      DP_D(NONE, "-"), DP_U(NONE, "suzuki"));
	/* neither: "-" is a value, the core counts it as no user */
	DP_OK(&vdp_fmt_ifilter, "",
	      HEAD OPEN "-" CLOSE " " OPEN "-" CLOSE TAIL,
	      DP_D(NONE, "-"), DP_U(NONE, "-"));
	/* a URL-encoded Japanese user name: its bytes as they appear */
	DP_OK(&vdp_fmt_ifilter, "",
	      HEAD OPEN "-" CLOSE " " OPEN "%E5%B1%B1%E7%94%B0" CLOSE TAIL,
	      DP_D(NONE, "-"), DP_U(NONE, "%E5%B1%B1%E7%94%B0"));
	/* the vendor's own sample's shape: upper proxy and server "-", a
	 * day of two digits, a user and no computer name */
	DP_OK(&vdp_fmt_ifilter, "",
	      "Sep 19 19:26:56 4872 1000/01/ - - 192.168.1.1 192.168.1.1 "
	      OPEN "-" CLOSE " " OPEN "user01" CLOSE " [19/Sep/2017:19:26:56 +0900] "
	      "503 0 1207 block 63 87 87/127/151 -1 0 1518 0 group01 - 0 - "
	      "\"GET https://www.example.com/sw.js HTTP/1.1\" - Chrome "
	      "text%2Fhtml%3B+charset%3Dutf-8 A667FEFF",
	      DP_D(NONE, "-"), DP_U(NONE, "user01"));
	assert_true(dp_detect(&vdp_fmt_ifilter, "", HEAD "PC-1 tanaka" TAIL));
}

/* The line behind a relay's syslog header: the body starts at the output
 * time (with a HOSTNAME, with a TAG); i-FILTER's own header: the time
 * and the process id are the header, the body starts at the version. */
static void test_syslog(void **state)
{
	(void)state;
	DP_OK(&vdp_fmt_ifilter, "<134>Mar  4 09:12:08 proxy-gw01 ",
	      HEAD OPEN "PC-0117" CLOSE " " OPEN "tanaka" CLOSE TAIL,
	      DP_D(NONE, "PC-0117"), DP_U(NONE, "tanaka"));
	DP_OK(&vdp_fmt_ifilter, "<134>Mar  4 09:12:08 proxy-gw01 ifilter: ",
	      HEAD OPEN "PC-0117" CLOSE " " OPEN "tanaka" CLOSE TAIL,
	      DP_D(NONE, "PC-0117"), DP_U(NONE, "tanaka"));
	DP_OK(&vdp_fmt_ifilter, "<134>",
	      HEAD OPEN "-" CLOSE " " OPEN "sato" CLOSE TAIL,
	      DP_D(NONE, "-"), DP_U(NONE, "sato"));
	assert_true(dp_detect(&vdp_fmt_ifilter, "<134>Mar  4 09:12:08 proxy-gw01 ",
			      HEAD "- tanaka" TAIL));
	assert_true(dp_detect(&vdp_fmt_ifilter, "<134>", HEAD "- tanaka" TAIL));
}

/* The addresses as devices when a source asks for them */
static void test_keys(void **state)
{
	(void)state;
	struct vdp_keys ks;
	static const char *const u[] = { "user", NULL };
	static const char *const d[] = { "client_ip", NULL };
	vdp_keys_set(&ks, u, d);
	DP_OKK(&vdp_fmt_ifilter, &ks, "",
	       "Mar  4 09:12:07 3120 1000/02/ - 203.0.113.80:443 10.2.0.1 "
	       OPEN "10.2.4.33" CLOSE " PC-0117 " OPEN "tanaka" CLOSE TAIL,
	       DP_D(NONE, "10.2.4.33"), DP_U(NONE, "tanaka"));
}

/* Columns that do not line up: dropped, never read shifted */
static void test_malformed(void **state)
{
	(void)state;
	/* a user name with a space: the access time is not at its column */
	DP_BAD(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka taro" TAIL);
	/* a column missing: the access time comes one column early */
	DP_BAD(&vdp_fmt_ifilter, "",
	       "Mar  4 09:12:07 3120 1000/02/ - 10.2.0.1 10.2.4.33 PC-0117 tanaka" TAIL);
	/* a computer name where an address belongs (a column too many) */
	DP_BAD(&vdp_fmt_ifilter, "",
	       "Mar  4 09:12:07 3120 1000/02/ - 10.2.0.1 10.2.4.33 PC-0117 x tanaka" TAIL);
	/* an empty column (two spaces) */
	DP_BAD(&vdp_fmt_ifilter, "", HEAD "PC-0117  tanaka" TAIL);
	/* cut before the access time */
	DP_BAD(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka");
	DP_BAD(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka [04/Mar/2024:09:12:06");
	/* the access time without its zone */
	DP_BAD(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka [04/Mar/2024:09:12:06] 200");
	/* a line cut after the access time keeps its identities */
	DP_OK(&vdp_fmt_ifilter, "",
	      HEAD OPEN "PC-0117" CLOSE " " OPEN "tanaka" CLOSE
	      " [04/Mar/2024:09:12:06 +0900] 200 0 51",
	      DP_D(NONE, "PC-0117"), DP_U(NONE, "tanaka"));
	/* none of these is detected */
	assert_false(dp_detect(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka taro" TAIL));
	assert_false(dp_detect(&vdp_fmt_ifilter, "", HEAD "PC-0117 tanaka"));
}

/* Not i-FILTER: no version column, other formats */
static void test_not_mine(void **state)
{
	(void)state;
	/* the version without its trailing slash */
	DP_NOTMINE(&vdp_fmt_ifilter, "",
		   "Mar  4 09:12:07 3120 1000/02 - - 10.2.0.1 10.2.4.33 - tanaka" TAIL);
	/* no process id before the version */
	DP_NOTMINE(&vdp_fmt_ifilter, "<134>Mar  4 09:12:08 proxy-gw01 ",
		   "Mar  4 09:12:07 1000/02/ - - 10.2.0.1 10.2.4.33 - tanaka" TAIL);
	DP_NOTMINE(&vdp_fmt_ifilter, "<134>Mar  4 09:12:08 proxy-gw01 ",
		   "sshd[22]: Accepted publickey for tanaka from 10.2.4.33");
	DP_NOTMINE(&vdp_fmt_ifilter, "",
		   "1709287522.443 128 10.1.20.45 TCP_MISS/200 5084 GET http://a/ jdoe "
		   "DIRECT/1.2.3.4 text/html");
	/* squid's common log format has the access time too */
	DP_NOTMINE(&vdp_fmt_ifilter, "",
		   "10.1.20.45 - jdoe [04/Mar/2024:09:12:06 +0900] \"GET http://a/ "
		   "HTTP/1.1\" 200 5084");
	assert_false(dp_detect(&vdp_fmt_ifilter, "", ""));
	assert_false(dp_detect(&vdp_fmt_ifilter, "", "3120 1000/02/"));
	assert_false(dp_detect(&vdp_fmt_ifilter, "<134>", "Mar  4 09:12:07"));
	/* auto-detection reaches it: no format before it in the order takes
	 * its lines, with or without a header (squid-common, after it, would:
	 * it drops any line with a CLF date as shifted) */
	const char *line = HEAD "PC-0117 tanaka" TAIL;
	unsigned i;
	for (i = 0; vdp_formats[i] != &vdp_fmt_ifilter; i++) {
		assert_non_null(vdp_formats[i]);
		if (dp_detect(vdp_formats[i], "", line) ||
		    dp_detect(vdp_formats[i], "<134>Mar  4 09:12:08 gw01 ", line))
			fail_msg("%s detects it", vdp_formats[i]->name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_log),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_mine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
