/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The name that is encrypted (crypto/name.c): a source's normalization
 * options and rules, as veil-dataplane and veil-controld both apply them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "veil_name.h"

static void norm_is(unsigned rule, const char *in, const char *want)
{
	char out[64];
	size_t n = veil_name_normalize(rule, in, strlen(in), out);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("%s of \"%s\": \"%.*s\", want \"%s\"", veil_norm_rule_name(rule),
			 in, (int)n, out, want);
}

static void test_rules(void **state)
{
	(void)state;
	const unsigned L = VEIL_NORM_LOWER, S = VEIL_NORM_STRIP;
	norm_is(0, "CORP\\JDoe", "CORP\\JDoe");
	norm_is(L, "CORP\\JDoe", "corp\\jdoe");
	norm_is(S, "CORP\\JDoe", "JDoe");
	norm_is(L | S, "CORP\\JDoe", "jdoe");
	norm_is(L | S, "jdoe@corp.example", "jdoe");
	norm_is(L | S, "JDoe", "jdoe");
	/* the last separator; a backslash before an at sign */
	norm_is(S, "a\\b\\Carl", "Carl");
	norm_is(S, "a@b@c", "a@b");
	norm_is(S, "dom\\u@x", "u@x");
	/* an at sign in front is no domain */
	norm_is(S, "@admin", "@admin");
	/* nothing but a domain: no name */
	norm_is(S, "CORP\\", "");
	norm_is(L | S, "@", "@");
	/* lower is ASCII only: UTF-8 sequences stay as they are */
	norm_is(L, "\xc3\x84RGER", "\xc3\x84rger");
	norm_is(L, "\xc3\xa4Z\xe2\x84\xaa", "\xc3\xa4z\xe2\x84\xaa");
	norm_is(L, "@[]^_`{~\x7f", "@[]^_`{~\x7f");
	/* in place */
	char buf[] = "CORP\\JDoe";
	size_t n = veil_name_normalize(L | S, buf, strlen(buf), buf);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "jdoe", 4);
}

static void test_rule_names(void **state)
{
	(void)state;
	unsigned r;
	for (unsigned i = 0; i < VEIL_NORM_RULES; i++) {
		assert_int_equal(veil_norm_rule_parse(veil_norm_rule_name(i), &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(veil_norm_rule_name(VEIL_NORM_LOWER | VEIL_NORM_STRIP),
			    "lower,strip_domain");
	assert_int_equal(veil_norm_rule_parse("strip_domain,lower", &r), 0);
	assert_int_equal(r, VEIL_NORM_LOWER | VEIL_NORM_STRIP);
	assert_int_equal(veil_norm_rule_parse("upper", &r), -1);
	assert_int_equal(veil_norm_rule_parse("", &r), -1);
	assert_int_equal(veil_norm_rule_parse("Lower", &r), -1);
}

static void test_options(void **state)
{
	(void)state;
	struct veil_name_opts o = { 0 };
	char err[120];
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_USER), 0);
	assert_int_equal(veil_name_option(&o, "format", "cef", err, sizeof(err)), 0);
	assert_int_equal(veil_name_option(&o, "normalize_user", "lower", err, sizeof(err)), 1);
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_USER), VEIL_NORM_LOWER);
	assert_int_equal(veil_name_option(&o, "strip_domain", "YES", err, sizeof(err)), 1);
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_USER), VEIL_NORM_LOWER | VEIL_NORM_STRIP);
	/* devices: never lowered; strip_domain is for users */
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_DEVICE), 0);
	assert_int_equal(veil_name_option(&o, "keep_domain", "on", err, sizeof(err)), 1);
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_DEVICE), VEIL_NORM_STRIP);
	/* keep_domain alone: the user part is what is encrypted */
	o = (struct veil_name_opts){ 0 };
	assert_int_equal(veil_name_option(&o, "keep_domain", "1", err, sizeof(err)), 1);
	assert_int_equal(veil_name_rule(&o, VEIL_KIND_USER), VEIL_NORM_STRIP);
	assert_int_equal(veil_name_option(&o, "keep_domain", "off", err, sizeof(err)), 1);
	assert_false(o.keep_domain);
	/* bad values name the key and the value */
	assert_int_equal(veil_name_option(&o, "normalize_user", "upper", err, sizeof(err)), -1);
	assert_string_equal(err, "normalize_user: \"upper\" is not lower or none");
	assert_int_equal(veil_name_option(&o, "strip_domain", "maybe", err, sizeof(err)), -1);
	assert_string_equal(err, "strip_domain: \"maybe\" is not yes or no");
	assert_int_equal(veil_name_option(&o, "normalize_user", "none", err, sizeof(err)), 1);
	assert_false(o.lower);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_rule_names),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
