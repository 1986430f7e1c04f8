/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veilctl's text for a terminal (control/veilctl_text.c): what esc() passes
 * and what it writes as \xNN, byte by byte at the edges of UTF-8; digits
 * grouped by thousands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "veilctl_text.h"

static void passes_text(void **state)
{
	(void)state;
	assert_string_equal(esc("ticket 4711: phishing"), "ticket 4711: phishing");
	assert_string_equal(esc(""), "");
	assert_string_equal(esc(NULL), "");
	/* UTF-8 of 2, 3 and 4 bytes, the first after the C1 block, the last
	 * code point */
	assert_string_equal(esc("Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			    "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(esc("\xc2\xa0|\xf4\x8f\xbf\xbf"), "\xc2\xa0|\xf4\x8f\xbf\xbf");
	assert_string_equal(esc("C:\\path ~"), "C:\\path ~");
}

static void escapes_controls(void **state)
{
	(void)state;
	assert_string_equal(esc("a\x1b[31mb\nc\r\td\x7f"),
			    "a\\x1b[31mb\\x0ac\\x0d\\x09d\\x7f");
	assert_string_equal(esc("\x01\x1f"), "\\x01\\x1f");
	/* C1 controls (U+0080..U+009F), CSI among them: both bytes */
	assert_string_equal(esc("x\xc2\x9b" "2Jy\xc2\x80\xc2\x9f"),
			    "x\\xc2\\x9b2Jy\\xc2\\x80\\xc2\\x9f");
}

static void escapes_bad_utf8(void **state)
{
	(void)state;
	assert_string_equal(esc("\xff\xfe"), "\\xff\\xfe");
	assert_string_equal(esc("\x80x"), "\\x80x");                 /* lone continuation */
	assert_string_equal(esc("\xc0\xaf"), "\\xc0\\xaf");          /* overlong '/' */
	assert_string_equal(esc("\xe0\x80\xaf"), "\\xe0\\x80\\xaf"); /* overlong, 3 bytes */
	assert_string_equal(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
	assert_string_equal(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	assert_string_equal(esc("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf"); /* overlong, 4 */
	assert_string_equal(esc("ab\xe2\x82"), "ab\\xe2\\x82");      /* cut at the end */
	assert_string_equal(esc("\xe2\x82z"), "\\xe2\\x82z");        /* cut in the middle */
}

static void results_live_for_16_calls(void **state)
{
	(void)state;
	const char *first = esc("\x1b one");
	for (int i = 0; i < 15; i++)
		esc("other");
	assert_string_equal(first, "\\x1b one");
}

static void groups_digits(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(thousands(0, b), "0");
	assert_string_equal(thousands(999, b), "999");
	assert_string_equal(thousands(1000, b), "1,000");
	assert_string_equal(thousands(199990, b), "199,990");
	assert_string_equal(thousands(1234567, b), "1,234,567");
	assert_string_equal(thousands(18446744073709551615ull, b),
			    "18,446,744,073,709,551,615");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(passes_text),
		cmocka_unit_test(escapes_controls),
		cmocka_unit_test(escapes_bad_utf8),
		cmocka_unit_test(results_live_for_16_calls),
		cmocka_unit_test(groups_digits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
