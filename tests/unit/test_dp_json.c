/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The JSON lines format (fmt_json.c): Zscaler NSS JSON feeds and similar
 * objects; dotted paths, arrays, escapes, values that are not strings,
 * broken and foreign bodies. Each test asserts exact spans, kinds, escapes
 * and the unescaped names (dp_harness.h).
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
#define J VDP_ESC_JSON

static struct vdp_keys def;

static int setup(void **state)
{
	(void)state;
	vdp_keys_set(&def, vdp_fmt_json.default_users, vdp_fmt_json.default_devices);
	return 0;
}

static enum vdp_parse_rc run_n(const struct vdp_keys *ks, const char *line,
			       size_t len, const char *hdr,
			       struct vdp_fields *out)
{
	return dp_run(&vdp_fmt_json, ks, line, len, hdr, out);
}

static enum vdp_parse_rc run(const struct vdp_keys *ks, const char *line,
			     struct vdp_fields *out)
{
	return dp_run(&vdp_fmt_json, ks, line, strlen(line), NULL, out);
}

/* Field i: JSON-escaped, @p raw at @p off (dp_field). */
static void field(const char *line, const struct vdp_fields *fs, unsigned i,
		  size_t off, const char *raw, enum veil_kind kind,
		  const char *name)
{
	dp_field(line, fs, i, off, raw, kind, J, name);
}

/* Zscaler NSS web feed in its Splunk JSON form: the identities are under
 * "event"; event.hostname is the web server, not a device. */
static const char nss_web[] =
	"{\"sourcetype\":\"zscalernss-web\",\"event\":{\"datetime\":\"2024-03-01 "
	"10:15:22\",\"reason\":\"Allowed\",\"event_id\":\"7301234567890123456\","
	"\"protocol\":\"HTTPS\",\"action\":\"Allowed\",\"transactionsize\":\"12034\","
	"\"urlcategory\":\"Web Search\",\"serverip\":\"142.250.72.110\","
	"\"requestmethod\":\"GET\",\"useragent\":\"Mozilla/5.0 (Windows NT 10.0; "
	"Win64; x64)\",\"location\":\"HQ-GRE\",\"ClientIP\":\"10.1.20.45\","
	"\"status\":\"200\",\"user\":\"jdoe@safemarch.com\",\"url\":\"www.google.com/"
	"search?q=veil\",\"vendor\":\"Zscaler\",\"hostname\":\"www.google.com\","
	"\"department\":\"Sales\",\"deviceowner\":\"jdoe\",\"devicehostname\":"
	"\"JDOE-LT01\"}}";

static void test_zscaler_nss(void **state)
{
	(void)state;
	struct vdp_fields o;
	const char *l = nss_web;
	assert_int_equal(run(&def, l, &o), VDP_PARSED);
	assert_int_equal(o.n, 3);
	field(l, &o, 0, dp_after(l, "\"user\":\"", 1), "jdoe@safemarch.com", U,
	      "jdoe@safemarch.com");
	field(l, &o, 1, dp_after(l, "\"deviceowner\":\"", 1), "jdoe", U, "jdoe");
	field(l, &o, 2, dp_after(l, "\"devicehostname\":\"", 1), "JDOE-LT01", D, "JDOE-LT01");

	/* a flat feed behind an RFC 5424 header, with spacing */
	static const char flat[] =
		"<134>1 2024-03-01T10:15:22.443Z nss01 zscaler - - - "
		"{ \"datetime\" : \"Fri Mar  1 10:15:22 2024\" , \"login\" : "
		"\"m.rossi@safemarch.com\" ,\"dept\":\"Finance\", \"devicehostname\":"
		"\t\"ROSSI-PC\" }\r\n";
	l = flat;
	assert_int_equal(run_n(&def, l, strlen(l), "<134>1 2024-03-01T10:15:22.443Z nss01 "
			       "zscaler - - - ", &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	field(l, &o, 0, dp_after(l, "\"login\" : \"", 1), "m.rossi@safemarch.com", U,
	      "m.rossi@safemarch.com");
	field(l, &o, 1, dp_after(l, "\t\"", 1), "ROSSI-PC", D, "ROSSI-PC");

	/* ZPA user status */
	static const char zpa[] =
		"{\"LogTimestamp\": \"Fri May 31 17:34:48 2019\",\"Customer\": \"ACME\","
		"\"Username\": \"jdoe@acme.example\",\"SessionStatus\": "
		"\"ZPN_STATUS_AUTHENTICATED\",\"PublicIP\": \"198.51.100.23\","
		"\"Latitude\": 45.000000,\"Hostname\": \"DESKTOP-2K299HC\","
		"\"Platform\": \"windows\",\"TotalBytesRx\": 31274866}";
	l = zpa;
	assert_int_equal(run(&def, l, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	field(l, &o, 0, dp_after(l, "\"Username\": \"", 1), "jdoe@acme.example", U,
	      "jdoe@acme.example");
	field(l, &o, 1, dp_after(l, "\"Hostname\": \"", 1), "DESKTOP-2K299HC", D,
	      "DESKTOP-2K299HC");
}

static void test_escapes(void **state)
{
	(void)state;
	struct vdp_fields o;
	static const char l[] =
		"{\"login\":\"corp\\\\j\\\"doe\\\"\",\"user\":\"J\\u00e9r\\u00f4me\","
		"\"deviceowner\":\"\\ud83d\\ude00 emoji\\/x\",\"devicehostname\":"
		"\"PC\\tTAB\\u0041\",\"username\":\"Zo\u00eb \u00c5ngstr\u00f6m\"}";
	assert_int_equal(run(&def, l, &o), VDP_PARSED);
	assert_int_equal(o.n, 5);
	field(l, &o, 0, dp_after(l, "\"login\":\"", 1), "corp\\\\j\\\"doe\\\"", U,
	      "corp\\j\"doe\"");
	field(l, &o, 1, dp_after(l, "\"user\":\"", 1), "J\\u00e9r\\u00f4me", U,
	      "J\u00e9r\u00f4me");
	field(l, &o, 2, dp_after(l, "\"deviceowner\":\"", 1), "\\ud83d\\ude00 emoji\\/x", U,
	      "\U0001F600 emoji/x");
	field(l, &o, 3, dp_after(l, "\"devicehostname\":\"", 1), "PC\\tTAB\\u0041", D,
	      "PC\tTABA");
	field(l, &o, 4, dp_after(l, "\"username\":\"", 1), "Zo\u00eb \u00c5ngstr\u00f6m", U,
	      "Zo\u00eb \u00c5ngstr\u00f6m");

	/* keys are matched decoded: an escaped key is no way around */
	static const char k[] = "{\"lo\\u0067in\":\"hidden\",\"\\u0075ser\":\"too\"}";
	assert_int_equal(run(&def, k, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	field(k, &o, 0, dp_after(k, ":\"", 1), "hidden", U, "hidden");
	field(k, &o, 1, dp_after(k, ":\"", 2), "too", U, "too");

	/* a long escaped value (yajl's decode buffer grows) */
	char big[8192];
	int n = snprintf(big, sizeof(big), "{\"x\":\"");
	for (int i = 0; i < 700; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "\\u00e9");
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\",\"login\":\"");
	for (int i = 0; i < 600; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "a\\\"");
	snprintf(big + n, sizeof(big) - (size_t)n, "\"}");
	assert_int_equal(run(&def, big, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.f[0].off, dp_after(big, "\"login\":\"", 1));
	assert_int_equal(o.f[0].len, 600 * 3);
}

static void test_paths_and_arrays(void **state)
{
	(void)state;
	struct vdp_fields o;
	struct vdp_keys ks;
	static const char *const users[] = { "actor.name", "members", "a.b.c", "a.b",
					     NULL };
	static const char *const devices[] = { "assets.host", NULL };
	vdp_keys_set(&ks, users, devices);
	static const char l[] =
		"{\"actor\":{\"name\":\"alice\",\"id\":7},\"members\":[\"bob\",[\"carol\","
		"{\"members\":\"nested-no\"}],\"dave\"],\"assets\":[{\"host\":\"PC-1\"},"
		"{\"host\":\"PC-2\",\"extra\":{\"host\":\"no\"}}],\"a\":{\"b\":{\"c\":\"deep\"}},"
		"\"a.b\":\"dotted\"}";
	assert_int_equal(run(&ks, l, &o), VDP_PARSED);
	assert_int_equal(o.n, 8);
	field(l, &o, 0, dp_after(l, "\"name\":\"", 1), "alice", U, "alice");
	field(l, &o, 1, dp_after(l, "[\"", 1), "bob", U, "bob");
	field(l, &o, 2, dp_after(l, "[\"", 2), "carol", U, "carol");
	field(l, &o, 3, dp_after(l, "],\"", 1), "dave", U, "dave");
	field(l, &o, 4, dp_after(l, "\"host\":\"", 1), "PC-1", D, "PC-1");
	field(l, &o, 5, dp_after(l, "\"host\":\"", 2), "PC-2", D, "PC-2");
	field(l, &o, 6, dp_after(l, "\"c\":\"", 1), "deep", U, "deep");
	field(l, &o, 7, dp_after(l, "\"a.b\":\"", 1), "dotted", U, "dotted");

	/* the same key twice: both */
	static const char dup[] = "{\"login\":\"one\",\"login\":\"two\"}";
	assert_int_equal(run(&def, dup, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	field(dup, &o, 1, dp_after(dup, "\"login\":\"", 2), "two", U, "two");

	/* a path of exactly VDP_KEY_MAX bytes matches; children of a longer
	 * one are followed without matching */
	char key[30];
	memset(key, 'k', sizeof(key));
	key[29] = '\0';
	char path[128], longp[128];
	snprintf(path, sizeof(path), "%s.%s.k", key, key);     /* 61 bytes */
	snprintf(longp, sizeof(longp), "%s.%s.kkk", key, key); /* 63 */
	assert_int_equal(strlen(longp), VDP_KEY_MAX);
	const char *u2[] = { path, longp, NULL };
	vdp_keys_set(&ks, u2, NULL);
	assert_int_equal(ks.n, 2);
	char doc[512];
	snprintf(doc, sizeof(doc), "{\"%s\":{\"%s\":{\"k\":\"x\",\"kkk\":\"y\","
		 "\"kkkk\":{\"k\":\"z\"}}}}", key, key);
	assert_int_equal(run(&ks, doc, &o), VDP_PARSED);
	assert_int_equal(o.n, 2);
	field(doc, &o, 0, dp_after(doc, "\"k\":\"", 1), "x", U, "x");
	field(doc, &o, 1, dp_after(doc, "\"kkk\":\"", 1), "y", U, "y");
}

static void test_not_strings(void **state)
{
	(void)state;
	struct vdp_fields o;
	/* numbers, booleans, null and objects at an identity path: skipped */
	static const char l[] =
		"{\"login\":12345,\"user\":{\"name\":\"x\"},\"deviceowner\":null,"
		"\"username\":true,\"devicehostname\":[1,2.5e3,false,null,{},[]],"
		"\"event\":{\"user\":-0.5,\"login\":\"\"}}";
	assert_int_equal(run(&def, l, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	field(l, &o, 0, dp_after(l, "\"event\":{\"user\":-0.5,\"login\":\"", 1), "", U, "");

	/* a number too big for any C type is still just a number */
	static const char big[] =
		"{\"n\":123456789012345678901234567890e999999,\"login\":\"ok\"}";
	assert_int_equal(run(&def, big, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);

	assert_int_equal(run(&def, "{}", &o), VDP_PARSED);
	assert_int_equal(o.n, 0);
}

static void test_malformed(void **state)
{
	(void)state;
	struct vdp_fields o;
	static const char *const bad[] = {
		"{\"login\":\"jdoe\"} trailing",
		"{\"login\":\"jdoe\"}{\"login\":\"again\"}",
		"{\"login\":\"jdoe\"",
		"{\"login\":\"jdoe",
		"{\"login\":\"jd\\xoe\"}",      /* bad escape */
		"{\"login\":\"jd\toe\"}",       /* raw control character */
		"{\"login\":\"jd\xff\xfeoe\"}", /* not UTF-8 */
		"{\"login\":jdoe}",
		"{'login':'jdoe'}",
		"{\"login\":\"jdoe\",}",
		"{\"a\":1 /* comment */}",
		"{\"a\":01}",
		"{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(&def, bad[i], &o), VDP_MALFORMED);
		assert_true(dp_detect(&vdp_fmt_json, "", bad[i]));
	}
	/* a NUL byte inside */
	static const char nul[] = "{\"login\":\"jd\0oe\"}";
	assert_int_equal(run_n(&def, nul, sizeof(nul) - 1, NULL, &o), VDP_MALFORMED);
}

static void test_limits(void **state)
{
	(void)state;
	struct vdp_fields o;
	char doc[4096];
	/* 64 nested containers are followed; 65 are not */
	int n = snprintf(doc, sizeof(doc), "{\"login\":");
	for (int i = 0; i < 62; i++)
		doc[n++] = '[';
	n += snprintf(doc + n, sizeof(doc) - (size_t)n, "\"deep\"");
	for (int i = 0; i < 62; i++)
		doc[n++] = ']';
	snprintf(doc + n, sizeof(doc) - (size_t)n, ",\"a\":[]}");
	assert_int_equal(run(&def, doc, &o), VDP_PARSED);
	assert_int_equal(o.n, 1);
	field(doc, &o, 0, dp_after(doc, "[\"", 1), "deep", U, "deep");
	/* one deeper: a name there could not be placed on its path */
	n = snprintf(doc, sizeof(doc), "{\"login\":");
	for (int i = 0; i < 64; i++)
		doc[n++] = '[';
	n += snprintf(doc + n, sizeof(doc) - (size_t)n, "\"deep\"");
	for (int i = 0; i < 64; i++)
		doc[n++] = ']';
	snprintf(doc + n, sizeof(doc) - (size_t)n, "}");
	assert_int_equal(run(&def, doc, &o), VDP_MALFORMED);

	/* more identities than a message may have */
	n = snprintf(doc, sizeof(doc), "{\"login\":[");
	for (int i = 0; i <= VDP_MAX_FIELDS; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, "%s\"u%d\"", i ? "," : "", i);
	snprintf(doc + n, sizeof(doc) - (size_t)n, "]}");
	assert_int_equal(run(&def, doc, &o), VDP_MALFORMED);
	/* exactly as many */
	n = snprintf(doc, sizeof(doc), "{\"login\":[");
	for (int i = 0; i < VDP_MAX_FIELDS; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, "%s\"u%d\"", i ? "," : "", i);
	snprintf(doc + n, sizeof(doc) - (size_t)n, "]}");
	assert_int_equal(run(&def, doc, &o), VDP_PARSED);
	assert_int_equal(o.n, VDP_MAX_FIELDS);
}

static void test_not_json(void **state)
{
	(void)state;
	struct vdp_fields o;
	static const char *const other[] = {
		"",
		"   \r\n",
		"[{\"login\":\"jdoe\"}]",
		"\"login\"",
		"login=jdoe action=allow",
		"<134>Mar  1 10:15:22 nss01 CEF:0|Zscaler|NSSWeblog|5.0|Allowed|x|3|",
		"1,2024/03/01 10:15:22,013201001234,TRAFFIC,end",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(run(&def, other[i], &o), VDP_NOT_MINE);
		assert_false(dp_detect(&vdp_fmt_json, "", other[i]));
	}
	assert_true(dp_detect(&vdp_fmt_json, "", nss_web));
	assert_true(dp_detect(&vdp_fmt_json, "", " \t{\"a\":1}"));
	assert_true(dp_detect(&vdp_fmt_json, "", "<134>1 2024-03-01T10:15:22Z nss01 zscaler - - - {\"a\":1}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zscaler_nss),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_paths_and_arrays),
		cmocka_unit_test(test_not_strings),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_json),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
