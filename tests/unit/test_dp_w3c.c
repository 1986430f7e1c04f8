/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The W3C extended parser (dataplane/pipeline/fmt_w3c.c) on lines written as IIS,
 * TMG and Blue Coat ProxySG write them, and a source's W3C lines through
 * the pipeline. Each line marks its expected identity spans with « and »
 * (dp_harness.h); the lines go through one parser context, in order, as
 * one source's lines do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_harness.h"
#include "veil_dp.h"

#define U(e, n) DP_U(e, n)
#define D(e, n) DP_D(e, n)
#define OK(...)               DP_SRC_OK(__VA_ARGS__)
#define NONE(s, hdr, line)    DP_SRC_NONE(s, hdr, line)
#define BAD(s, hdr, line)     DP_SRC_BAD(s, hdr, line)
#define NOTMINE(s, hdr, line) DP_SRC_NOTMINE(s, hdr, line)
#define REFUSED(s, hdr, line) dp_check_src(s, hdr, line, VDP_NO_IDENTITY, NULL, 0)
#define PINNED(s, hdr, line)  dp_check_src(s, hdr, line, VDP_PINNED, NULL, 0)

static const struct vdp_format *w3c;

/* A parser context with a whole source's options (w3c_fields,
 * w3c_allow_no_identity, user_fields...), as the pipeline makes it. */
static void src_init_opts(struct dp_src *s, struct vdp_source *vs)
{
	unsigned fi = vdp_format_index(w3c);
	s->f = w3c;
	s->keys = vs->keys[fi];
	s->ctx = (struct vdp_parse_ctx){ .keys = &s->keys, .src = vs };
}

static struct vdp_source *source_with(const char *k1, const char *v1,
				      const char *k2, const char *v2)
{
	struct vdp_source *vs = vdp_source_new("t");
	char err[200] = "";
	assert_non_null(vs);
	if (k1 != NULL && vdp_source_set(vs, k1, v1, err, sizeof(err)) != 0)
		fail_msg("%s = %s: %s", k1, v1, err);
	if (k2 != NULL && vdp_source_set(vs, k2, v2, err, sizeof(err)) != 0)
		fail_msg("%s = %s: %s", k2, v2, err);
	return vs;
}

/* ------------------------------------------------------------------ */
/* W3C extended                                                       */
/* ------------------------------------------------------------------ */

static void test_w3c_registry(void **state)
{
	(void)state;
	assert_ptr_equal(vdp_format_find("w3c"), &vdp_fmt_w3c);
	struct dp_src s;
	dp_src_init(&s, w3c);
	assert_int_equal(vdp_keys_find(&s.keys, "cs-username", 11), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&s.keys, "cs-userdn", 9), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&s.keys, "c-dns", 5), VEIL_KIND_DEVICE);
	assert_non_null(w3c->free_state);
	/* a state freed before any line */
	dp_src_fini(&s);
}

static void test_w3c_no_fields_yet(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	/* data before any #Fields cannot be trusted */
	BAD(&s, "", "2024-03-01 10:00:00 10.1.2.3 jdoe GET http://a.example/ 200");
	assert_null(s.ctx.state);
	NONE(&s, "", "");
	NONE(&s, "", "   ");
	/* other directives do not allocate */
	NONE(&s, "", "#Software: Microsoft Internet Information Services 10.0");
	NONE(&s, "", "#Version: 1.0");
	NONE(&s, "", "#Date: 2024-03-01 00:00:00");
	NONE(&s, "", "#Remark: user jdoe logged in");
	assert_null(s.ctx.state);
	BAD(&s, "", "2024-03-01 10:00:00 jdoe");
	dp_src_fini(&s);
}

static void test_w3c_iis(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "", "#Software: Microsoft Internet Information Services 10.0");
	NONE(&s, "", "#Version: 1.0");
	NONE(&s, "", "#Date: 2024-03-01 00:00:00");
	NONE(&s, "",
	     "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port "
	     "cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus "
	     "sc-win32-status time-taken");
	assert_non_null(s.ctx.state);
	OK(&s, "",
	   "2024-03-01 10:00:00 10.0.0.5 GET /owa/ - 443 " OPEN "CORP\\jdoe" CLOSE
	   " 10.1.2.3 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - 200 0 0 15",
	   U(NONE, "CORP\\jdoe"));
	OK(&s, "",
	   "2024-03-01 10:00:01 10.0.0.5 GET /favicon.ico - 443 " OPEN "-" CLOSE
	   " 10.1.2.3 Mozilla/5.0 https://mail.example/owa/ 404 0 2 0",
	   U(NONE, "-"));
	OK(&s, "",
	   "2024-03-01 10:00:02 10.0.0.5 POST /ews/exchange.asmx a=b&c=d 443 " OPEN
	   "jürgen.müller@corp.example" CLOSE " 10.1.2.4 Outlook - 200 0 0 31",
	   U(NONE, "jürgen.müller@corp.example"));
	/* IIS writes '+' for spaces: the raw value is the name */
	OK(&s, "",
	   "2024-03-01 10:00:03 10.0.0.5 GET / - 80 " OPEN "John+Smith" CLOSE
	   " 10.1.2.5 curl/8.0 - 200 0 0 1",
	   U(NONE, "John+Smith"));
	/* an unquoted space shifts the columns: one field too many */
	BAD(&s, "",
	    "2024-03-01 10:00:04 10.0.0.5 GET / - 80 John Smith 10.1.2.5 curl/8.0 "
	    "- 200 0 0 1");
	/* one too few */
	BAD(&s, "", "2024-03-01 10:00:05 10.0.0.5 GET / - 80 jdoe 10.1.2.5");
	/* trailing CR and spaces are not a field */
	OK(&s, "",
	   "2024-03-01 10:00:06 10.0.0.5 GET / - 80 " OPEN "eve" CLOSE
	   " 10.1.2.5 curl/8.0 - 200 0 0 1  \r",
	   U(NONE, "eve"));
	dp_src_fini(&s);
}

static void test_w3c_proxysg(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "", "#Software: SGOS 6.7.5.3");
	NONE(&s, "", "#Version: 1.0");
	NONE(&s, "", "#Start-Date: 2024-03-01 10:00:00");
	NONE(&s, "",
	     "#Fields: date time time-taken c-ip cs-username cs-auth-group "
	     "x-exception-id sc-filter-result cs-categories cs(Referer) sc-status "
	     "s-action cs-method rs(Content-Type) cs-uri-scheme cs-host "
	     "cs-uri-port cs-uri-path cs-uri-query cs-uri-extension "
	     "cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id cs-userdn");
	OK(&s, "",
	   "2024-03-01 10:00:00 187 10.1.2.3 " OPEN "jdoe" CLOSE
	   " CORP\\Sales - OBSERVED \"Technology/Internet;Web Ads/Analytics\" - 200 "
	   "TCP_NC_MISS GET text/html;charset=UTF-8 http www.example.com 80 / - - "
	   "\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\" 10.0.0.1 5120 512 - \""
	   OPEN "CN=John Doe,OU=Sales,DC=corp,DC=example" CLOSE "\"",
	   U(NONE, "jdoe"), U(CSV, "CN=John Doe,OU=Sales,DC=corp,DC=example"));
	/* quoted user names, a doubled quote inside, quoted "-" */
	OK(&s, "",
	   "2024-03-01 10:00:01 5 10.1.2.4 \"" OPEN "John \"\"JJ\"\" Smith" CLOSE
	   "\" - - DENIED \"Gambling\" - 403 TCP_DENIED GET - http bet.example 80 "
	   "/ - - \"curl/8.0\" 10.0.0.1 300 120 - \"" OPEN "-" CLOSE "\"",
	   U(CSV, "John \"JJ\" Smith"), U(CSV, "-"));
	OK(&s, "",
	   "2024-03-01 10:00:02 5 10.1.2.4 \"" OPEN CLOSE "\" - - OBSERVED "
	   "\"None\" - 200 TCP_HIT GET - http a.example 80 / - - \"\" 10.0.0.1 "
	   "300 120 - " OPEN "-" CLOSE,
	   U(CSV, ""), U(NONE, "-"));
	/* a quote not closed, a quote followed by more */
	BAD(&s, "",
	    "2024-03-01 10:00:03 5 10.1.2.4 \"jdoe - - OBSERVED \"None\" - 200 "
	    "TCP_HIT GET - http a.example 80 / - - - 10.0.0.1 300 120 - -");
	BAD(&s, "",
	    "2024-03-01 10:00:03 5 10.1.2.4 \"jdoe\"x - - OBSERVED \"None\" - 200 "
	    "TCP_HIT GET - http a.example 80 / - - - 10.0.0.1 300 120 - -");
	BAD(&s, "",
	    "2024-03-01 10:00:03 5 10.1.2.4 jdoe - - OBSERVED \"None\" - 200 "
	    "TCP_HIT GET - http a.example 80 / - - - 10.0.0.1 300 120 - \"-");
	/* a quote inside an unquoted value is literal */
	OK(&s, "",
	   "2024-03-01 10:00:04 5 10.1.2.4 " OPEN "o\"brien" CLOSE " - - OBSERVED "
	   "\"None\" - 200 TCP_HIT GET - http a.example 80 / - - - 10.0.0.1 300 "
	   "120 - " OPEN "-" CLOSE,
	   U(NONE, "o\"brien"), U(NONE, "-"));
	dp_src_fini(&s);
}

static void test_w3c_fields_change(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "", "#Fields: c-ip date time c-dns cs-uri-stem c-status");
	OK(&s, "",
	   "10.1.2.3 2024-03-01 10:00:00 " OPEN "laptop-42.corp.example" CLOSE
	   " /stream 200",
	   D(NONE, "laptop-42.corp.example"));
	/* a new #Fields: the columns change */
	NONE(&s, "", "#Fields: date c-dns time");
	OK(&s, "", "2024-03-01 " OPEN "pc-7" CLOSE " 10:00:01", D(NONE, "pc-7"));
	BAD(&s, "", "10.1.2.3 2024-03-01 10:00:00 laptop-42 /stream 200");
	/* names match without regard to case (TMG writes cs-Network...) */
	NONE(&s, "", "#fields: C-IP CS-USERNAME C-DNS");
	OK(&s, "",
	   "10.1.2.3 " OPEN "CORP\\Администратор" CLOSE " " OPEN "ПК-1" CLOSE,
	   U(NONE, "CORP\\Администратор"), D(NONE, "ПК-1"));
	/* an empty #Fields names no identity: refused, data drops */
	REFUSED(&s, "", "#Fields:");
	REFUSED(&s, "", "10.1.2.3 jdoe pc1");
	NONE(&s, "", "#Fields: c-ip cs-username");
	OK(&s, "", "10.1.2.3 " OPEN "jdoe" CLOSE, U(NONE, "jdoe"));
	/* "#fields" without a colon (Zeek) declares columns too */
	NONE(&s, "", "#fields\tts\tcs-username\tc-ip");
	OK(&s, "", "1709287200.1\t" OPEN "zeek user" CLOSE "\t10.1.2.3",
	   U(NONE, "zeek user"));
	/* other directives leave the columns alone */
	NONE(&s, "", "#Remark: cs-username c-ip");
	OK(&s, "", "1709287200.2\t" OPEN "z2" CLOSE "\t10.1.2.3", U(NONE, "z2"));
	dp_src_fini(&s);
}

static void test_w3c_tabs(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	/* tab-separated #Fields: values may hold spaces, empty fields count */
	NONE(&s, "", "#Fields:\tdate\ttime\tcs-username\tc-dns\tcs-uri");
	OK(&s, "",
	   "2024-03-01\t10:00:00\t" OPEN "John Smith" CLOSE "\t" OPEN "PC 42" CLOSE
	   "\t/index.html",
	   U(NONE, "John Smith"), D(NONE, "PC 42"));
	OK(&s, "",
	   "2024-03-01\t10:00:00\t" OPEN CLOSE "\t" OPEN "pc7" CLOSE "\t",
	   U(NONE, ""), D(NONE, "pc7"));
	OK(&s, "",
	   "2024-03-01\t10:00:00\t\"" OPEN "quoted\ttab" CLOSE "\"\t" OPEN "pc7"
	   CLOSE "\t/",
	   U(CSV, "quoted\ttab"), D(NONE, "pc7"));
	BAD(&s, "", "2024-03-01\t10:00:00\tjdoe\tpc7");
	BAD(&s, "", "2024-03-01\t10:00:00\tjdoe\tpc7\t/\textra");
	/* space-separated #Fields: a tab in the data separates too */
	NONE(&s, "", "#Fields: date time cs-username c-dns");
	OK(&s, "",
	   "2024-03-01 10:00:00\t" OPEN "jdoe" CLOSE "  \t " OPEN "pc7" CLOSE,
	   U(NONE, "jdoe"), D(NONE, "pc7"));
	dp_src_fini(&s);
}

static void test_w3c_keys(void **state)
{
	(void)state;
	static const char *const users[] = { "x-cs-user", NULL };
	static const char *const devices[] = { "x-client-name", NULL };
	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "", "#Fields: date x-client-name cs-username x-cs-user");
	OK(&s, "", "2024-03-01 pc1 " OPEN "jdoe" CLOSE " nobody",
	   U(NONE, "jdoe"));
	/* another key set: the columns' kinds follow it */
	struct vdp_keys other;
	vdp_keys_set(&other, users, devices);
	s.ctx.keys = &other;
	OK(&s, "", "2024-03-01 " OPEN "pc1" CLOSE " jdoe " OPEN "svc" CLOSE,
	   D(NONE, "pc1"), U(NONE, "svc"));
	/* no key set: fail closed */
	s.ctx.keys = NULL;
	BAD(&s, "", "2024-03-01 pc1 jdoe svc");
	BAD(&s, "", "#Fields: date cs-username");
	dp_src_fini(&s);
}

static void test_w3c_limits(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	/* more than 32 identity columns: too many fields */
	char line[4096] = "#Fields:", data[4096] = "";
	for (int i = 0; i < VDP_MAX_FIELDS + 1; i++) {
		strcat(line, " cs-username");
		strcat(data, i ? " u" : "u");
	}
	NONE(&s, "", line);
	BAD(&s, "", data);
	/* more than 256 columns: the #Fields is refused, data drops */
	strcpy(line, "#Fields:");
	for (int i = 0; i < 257; i++)
		strcat(line, " c");
	BAD(&s, "", line);
	BAD(&s, "", "x");
	/* more than 8 KiB of column names: refused too */
	char *big = malloc(16384);
	strcpy(big, "#Fields:");
	for (int i = 0; i < 200; i++)
		strcat(big, " cs-0123456789012345678901234567890123456789012345678901");
	BAD(&s, "", big);
	free(big);
	BAD(&s, "", "x");
	/* a column name too long to be a key is still a column */
	strcpy(line, "#Fields: cs-username ");
	for (int i = 0; i < 100; i++)
		strcat(line, "x");
	NONE(&s, "", line);
	OK(&s, "", OPEN "jdoe" CLOSE " 1", U(NONE, "jdoe"));
	dp_src_fini(&s);
}

static void test_w3c_detect_syslog(void **state)
{
	(void)state;
	assert_true(dp_detect(w3c, "", "#Fields: date time cs-username"));
	assert_true(dp_detect(w3c, "", "#Software: SGOS 6.7.5.3"));
	assert_true(dp_detect(w3c, "", "#version: 1.0"));
	assert_true(dp_detect(w3c, "<134>Mar  1 10:00:00 proxy ", "#Fields: date"));
	assert_true(dp_detect(w3c, "", "bcproxy[12]: #Fields: date"));
	assert_false(dp_detect(w3c, "", "# a comment"));
	assert_false(dp_detect(w3c, "", "2024-03-01 10:00:00 10.1.2.3 jdoe"));
	assert_false(dp_detect(w3c, "", "CEF:0|V|P|1|1|N|5|"));
	assert_false(dp_detect(w3c, "", ""));

	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "<134>Mar  1 10:00:00 proxysg ", "#Fields: date time cs-username");
	OK(&s, "<134>Mar  1 10:00:00 proxysg ",
	   "2024-03-01 10:00:00 " OPEN "jdoe" CLOSE, U(NONE, "jdoe"));
	OK(&s, "<134>1 2024-03-01T10:00:00Z proxysg bcaccess - - - ",
	   "2024-03-01 10:00:00 " OPEN "eve" CLOSE, U(NONE, "eve"));
	dp_src_fini(&s);
}

/* A #Fields line that names no identity column cannot switch the
 * tokenization of the lines after it off: it is refused, and the data
 * lines under it too, until a #Fields that names one. */
static void test_w3c_no_identity_refused(void **state)
{
	(void)state;
	struct dp_src s;
	dp_src_init(&s, w3c);
	NONE(&s, "", "#Fields: date time c-ip cs-username cs-uri");
	OK(&s, "", "2024-03-01 10:00:00 10.1.2.3 " OPEN "jdoe" CLOSE " /a",
	   U(NONE, "jdoe"));
	/* the injection: no identity column, then names in a column */
	REFUSED(&s, "", "#Fields: date time c-ip x-who cs-uri");
	REFUSED(&s, "", "2024-03-01 10:00:01 10.1.2.3 mallory /b");
	/* lines laid out as the header before it drop too: which one they
	 * follow cannot be known */
	REFUSED(&s, "", "2024-03-01 10:00:02 10.1.2.3 jdoe /a");
	REFUSED(&s, "", "jdoe");
	NONE(&s, "", "  ");
	/* other directives change nothing */
	NONE(&s, "", "#Remark: cs-username");
	REFUSED(&s, "", "2024-03-01 10:00:03 10.1.2.3 mallory /b");
	/* case, Zeek's "#fields", tabs: the same rule */
	REFUSED(&s, "", "#FIELDS: DATE TIME C-IP");
	REFUSED(&s, "", "#fields\tts\tuid\tid.orig_h");
	REFUSED(&s, "", "1709287200.1\tCabc\tjdoe");
	/* a good #Fields again: lines are tokenized */
	NONE(&s, "", "#Fields: date time c-ip cs-username cs-uri");
	OK(&s, "", "2024-03-01 10:00:04 10.1.2.3 " OPEN "eve" CLOSE " /c",
	   U(NONE, "eve"));
	/* a device column alone is an identity */
	NONE(&s, "", "#Fields: date c-dns");
	OK(&s, "", "2024-03-01 " OPEN "pc1" CLOSE, D(NONE, "pc1"));
	/* a #Fields over the limits is malformed, not refused */
	char line[1024] = "#Fields:";
	for (int i = 0; i < 257; i++)
		strcat(line, " c");
	BAD(&s, "", line);
	BAD(&s, "", "x");
	dp_src_fini(&s);

	/* refused as the first #Fields: the data after it drops as refused
	 * (not malformed), so that format auto hands it here */
	dp_src_init(&s, w3c);
	REFUSED(&s, "", "#Fields: date time x-who");
	assert_non_null(s.ctx.state);
	REFUSED(&s, "", "2024-03-01 10:00:00 mallory");
	dp_src_fini(&s);

	/* the source's own keys decide what an identity column is */
	struct vdp_source *vs = source_with("user_fields", "x-who", NULL, NULL);
	src_init_opts(&s, vs);
	NONE(&s, "", "#Fields: date time x-who");
	OK(&s, "", "2024-03-01 10:00:00 " OPEN "mallory" CLOSE,
	   U(NONE, "mallory"));
	REFUSED(&s, "", "#Fields: date time cs-uri");
	REFUSED(&s, "", "2024-03-01 10:00:00 /x");
	dp_src_fini(&s);
	vdp_source_free(vs);
}

static void test_w3c_allow_no_identity(void **state)
{
	(void)state;
	struct dp_src s;
	struct vdp_source *vs = source_with("w3c_allow_no_identity", "yes",
					    NULL, NULL);
	src_init_opts(&s, vs);
	/* a log that really has no identity (Zeek's conn.log) passes */
	NONE(&s, "", "#fields\tts\tuid\tid.orig_h\tid.orig_p");
	NONE(&s, "", "1709287200.1\tCabc\t10.1.2.3\t51000");
	BAD(&s, "", "1709287200.1\tCabc\t10.1.2.3");
	NONE(&s, "", "#Fields: date cs-username");
	OK(&s, "", "2024-03-01 " OPEN "jdoe" CLOSE, U(NONE, "jdoe"));
	dp_src_fini(&s);
	vdp_source_free(vs);
}

/* Columns pinned by the config: used from the first line on, in-band
 * #Fields lines are dropped and change nothing. */
static void test_w3c_pinned(void **state)
{
	(void)state;
	struct dp_src s;
	struct vdp_source *vs = source_with("w3c_fields", "date time c-ip",
					    "w3c_fields", "cs-username cs-uri");
	src_init_opts(&s, vs);
	/* no #Fields ever sent */
	OK(&s, "", "2024-03-01 10:00:00 10.1.2.3 " OPEN "jdoe" CLOSE " /a",
	   U(NONE, "jdoe"));
	assert_non_null(s.ctx.state);
	/* in-band #Fields: dropped, whatever they say */
	PINNED(&s, "", "#Fields: date time c-ip x-who cs-uri");
	OK(&s, "", "2024-03-01 10:00:01 10.1.2.3 " OPEN "mallory" CLOSE " /b",
	   U(NONE, "mallory"));
	PINNED(&s, "", "#Fields: cs-uri cs-username");
	PINNED(&s, "", "#Fields: date time c-ip cs-username cs-uri");
	PINNED(&s, "", "#Fields:");
	NONE(&s, "", "#Software: Microsoft Internet Information Services 10.0");
	OK(&s, "", "2024-03-01 10:00:02 10.1.2.3 " OPEN "eve" CLOSE " /c",
	   U(NONE, "eve"));
	BAD(&s, "", "/c eve");
	dp_src_fini(&s);
	vdp_source_free(vs);

	/* tabs between the pinned names: tab-separated data */
	vs = source_with("w3c_fields", "date\tcs-username\tc-dns", NULL, NULL);
	src_init_opts(&s, vs);
	OK(&s, "", "2024-03-01\t" OPEN "John Smith" CLOSE "\t" OPEN "PC 7" CLOSE,
	   U(NONE, "John Smith"), D(NONE, "PC 7"));
	dp_src_fini(&s);
	vdp_source_free(vs);

	/* pinned without an identity column: the data drops, unless allowed */
	vs = source_with("w3c_fields", "date time cs-uri", NULL, NULL);
	src_init_opts(&s, vs);
	REFUSED(&s, "", "2024-03-01 10:00:00 /a");
	PINNED(&s, "", "#Fields: date time cs-username");
	REFUSED(&s, "", "2024-03-01 10:00:00 /a");
	dp_src_fini(&s);
	assert_int_equal(vdp_source_set(vs, "w3c_allow_no_identity", "yes", NULL, 0), 0);
	src_init_opts(&s, vs);
	NONE(&s, "", "2024-03-01 10:00:00 /a");
	dp_src_fini(&s);
	vdp_source_free(vs);

	/* the state a worker makes at its start: only with pinned columns */
	void *st = (void *)1;
	vs = vdp_source_new("t");
	unsigned fi = vdp_format_index(w3c);
	assert_non_null(w3c->new_state);
	assert_int_equal(w3c->new_state(vs, &vs->keys[fi], &st), 0);
	assert_null(st);
	assert_int_equal(vdp_source_set(vs, "w3c_fields", "cs-username", NULL, 0), 0);
	assert_int_equal(w3c->new_state(vs, &vs->keys[fi], &st), 0);
	assert_non_null(st);
	s.f = w3c;
	s.keys = vs->keys[fi];
	s.ctx = (struct vdp_parse_ctx){ .keys = &s.keys, .src = vs, .state = st };
	OK(&s, "", OPEN "jdoe" CLOSE, U(NONE, "jdoe"));
	dp_src_fini(&s);
	vdp_source_free(vs);
}

/* ------------------------------------------------------------------ */
/* W3C through the pipeline: what a source's lines become               */
/* ------------------------------------------------------------------ */

struct pipe {
	struct veil_engine *e;
	struct veil_keyring *ring;
	struct vdp_source *src;
	struct vdp_worker *w;
	struct vdp_burst out;
	char buf[4096];
};

static void pipe_start(struct pipe *p, const char *const *opts)
{
	static const uint8_t raw[32] = { 7, 1, 2, 3 };
	char err[200] = "";
	memset(p, 0, sizeof(*p));
	p->e = veil_engine_new(NULL);
	assert_non_null(p->e);
	p->ring = veil_keyring_new("acme");
	struct veil_key *k = veil_key_new(raw, "acme", 1);
	assert_non_null(k);
	assert_int_equal(veil_keyring_add(p->ring, k), 0);
	p->src = vdp_source_new("w3c-test");
	assert_non_null(p->src);
	for (; opts[0] != NULL; opts += 2)
		if (vdp_source_set(p->src, opts[0], opts[1], err, sizeof(err)) != 0)
			fail_msg("%s = %s: %s", opts[0], opts[1], err);
	assert_int_equal(vdp_source_check(p->src, err, sizeof(err)), 0);
	struct vdp_source *list[] = { p->src };
	p->w = vdp_worker_new(p->e, list, 1);
	assert_non_null(p->w);
	vdp_worker_set_key(p->w, 0, veil_keyring_get(p->ring, 1));
}

static void pipe_stop(struct pipe *p)
{
	vdp_worker_free(p->w);
	vdp_source_free(p->src);
	veil_keyring_free(p->ring);
	veil_engine_free(p->e);
}

/* One line through the pipeline: the output line, or NULL if dropped (with
 * its reason in *why). No output may hold a name in @p never. */
static const char *feed(struct pipe *p, const char *line, int *why)
{
	static const char *const never[] = { "jdoe", "mallory", "eve", NULL };
	struct vdp_line in = { line, (uint32_t)strlen(line), 0 };
	*why = -1;
	if (vdp_process_burst(p->w, &in, 1, &p->out) == 0) {
		*why = p->out.line[0].reason;
		return NULL;
	}
	size_t n = vdp_burst_copy(&p->out, 0, p->buf, sizeof(p->buf) - 1);
	p->buf[n] = '\0';
	for (unsigned i = 0; never[i] != NULL; i++)
		if (strstr(p->buf, never[i]) != NULL)
			fail_msg("\"%s\" in clear: %s", never[i], p->buf);
	return p->buf;
}

#define PASS_AS_IS(p, line)                                                     \
	do {                                                                    \
		int why_;                                                       \
		const char *o_ = feed(p, line, &why_);                          \
		if (o_ == NULL || strcmp(o_, line) != 0)                        \
			fail_msg("expected unchanged: %s (reason %d)", line, why_); \
	} while (0)
#define TOKENIZED(p, line)                                                      \
	do {                                                                    \
		int why_;                                                       \
		const char *o_ = feed(p, line, &why_);                          \
		if (o_ == NULL || strstr(o_, "veil_u") == NULL)                 \
			fail_msg("expected a token: %s (reason %d)", line, why_); \
	} while (0)
#define DROPPED(p, line, r)                                                     \
	do {                                                                    \
		int why_;                                                       \
		if (feed(p, line, &why_) != NULL)                               \
			fail_msg("expected dropped: %s -> %s", line, (p)->buf); \
		assert_int_equal(why_, r);                                      \
	} while (0)

/* The injection: a good header, a #Fields without identity, lines with a
 * name in a column, a good header again; under one format. */
static void injection(const char *format, const char *on_unknown)
{
	const char *const opts[] = { "format", format, "on_unknown", on_unknown,
				     NULL, NULL };
	struct pipe p;
	pipe_start(&p, opts);
	PASS_AS_IS(&p, "#Software: Microsoft Internet Information Services 10.0");
	PASS_AS_IS(&p, "#Fields: date time c-ip cs-username cs-uri");
	TOKENIZED(&p, "2024-03-01 10:00:00 10.1.2.3 jdoe /a");
	DROPPED(&p, "#Fields: date time c-ip x-who cs-uri",
		VDP_R_FIELDS_NO_IDENTITY);
	DROPPED(&p, "2024-03-01 10:00:01 10.1.2.3 mallory /b",
		VDP_R_FIELDS_NO_IDENTITY);
	DROPPED(&p, "<134>Mar  1 10:00:02 iis 2024-03-01 10:00:02 10.1.2.3 jdoe /a",
		VDP_R_FIELDS_NO_IDENTITY);
	PASS_AS_IS(&p, "#Fields: date time c-ip cs-username cs-uri");
	TOKENIZED(&p, "2024-03-01 10:00:03 10.1.2.3 eve /c");
	const struct vdp_counters *c = vdp_worker_counters(p.w, 0);
	assert_int_equal(c->drops[VDP_R_FIELDS_NO_IDENTITY], 3);
	assert_int_equal(c->lines_dropped, 3);
	assert_int_equal(c->lines_in, 8);
	assert_int_equal(c->lines_out, 5);
	pipe_stop(&p);

	/* a refused #Fields as the source's first: the data after it drops,
	 * even where unknown lines would be forwarded */
	pipe_start(&p, opts);
	DROPPED(&p, "#Fields: date time x-who", VDP_R_FIELDS_NO_IDENTITY);
	DROPPED(&p, "2024-03-01 10:00:00 mallory", VDP_R_FIELDS_NO_IDENTITY);
	pipe_stop(&p);
}

static void test_w3c_pipeline_injection(void **state)
{
	(void)state;
	injection("w3c", "drop");
	injection("auto", "drop");
	injection("auto", "forward");
	assert_string_equal(vdp_reason_name(VDP_R_FIELDS_NO_IDENTITY),
			    "fields-without-identity");
	assert_string_equal(vdp_reason_name(VDP_R_FIELDS_PINNED), "fields-pinned");
}

static void test_w3c_pipeline_allow(void **state)
{
	(void)state;
	const char *const formats[] = { "w3c", "auto" };
	for (unsigned i = 0; i < 2; i++) {
		const char *const opts[] = { "format", formats[i],
					     "w3c_allow_no_identity", "yes", NULL, NULL };
		struct pipe p;
		pipe_start(&p, opts);
		PASS_AS_IS(&p, "#Fields: ts uid id.orig_h");
		PASS_AS_IS(&p, "1709287200.1 Cabc 10.1.2.3");
		PASS_AS_IS(&p, "#Fields: date cs-username");
		TOKENIZED(&p, "2024-03-01 jdoe");
		assert_int_equal(vdp_worker_counters(p.w, 0)->lines_dropped, 0);
		pipe_stop(&p);
	}
}

static void test_w3c_pipeline_pinned(void **state)
{
	(void)state;
	const char *const formats[] = { "w3c", "auto" };
	for (unsigned i = 0; i < 2; i++) {
		const char *const opts[] = { "format", formats[i], "w3c_fields",
					     "date time c-ip cs-username cs-uri",
					     NULL, NULL };
		struct pipe p;
		pipe_start(&p, opts);
		/* no header: the pinned columns from the first line */
		TOKENIZED(&p, "2024-03-01 10:00:00 10.1.2.3 jdoe /a");
		DROPPED(&p, "#Fields: date time c-ip x-who cs-uri",
			VDP_R_FIELDS_PINNED);
		TOKENIZED(&p, "2024-03-01 10:00:01 10.1.2.3 mallory /b");
		DROPPED(&p, "#Fields: date time c-ip cs-username cs-uri",
			VDP_R_FIELDS_PINNED);
		PASS_AS_IS(&p, "#Version: 1.0");
		TOKENIZED(&p, "2024-03-01 10:00:02 10.1.2.3 eve /c");
		DROPPED(&p, "2024-03-01 10:00:02 eve", VDP_R_MALFORMED);
		const struct vdp_counters *c = vdp_worker_counters(p.w, 0);
		assert_int_equal(c->drops[VDP_R_FIELDS_PINNED], 2);
		assert_int_equal(c->identities, 3);
		pipe_stop(&p);
	}
}

int main(void)
{
	w3c = vdp_format_find("w3c");
	if (w3c == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_w3c_registry),
		cmocka_unit_test(test_w3c_no_fields_yet),
		cmocka_unit_test(test_w3c_iis),
		cmocka_unit_test(test_w3c_proxysg),
		cmocka_unit_test(test_w3c_fields_change),
		cmocka_unit_test(test_w3c_tabs),
		cmocka_unit_test(test_w3c_keys),
		cmocka_unit_test(test_w3c_limits),
		cmocka_unit_test(test_w3c_detect_syslog),
		cmocka_unit_test(test_w3c_no_identity_refused),
		cmocka_unit_test(test_w3c_allow_no_identity),
		cmocka_unit_test(test_w3c_pinned),
		cmocka_unit_test(test_w3c_pipeline_injection),
		cmocka_unit_test(test_w3c_pipeline_allow),
		cmocka_unit_test(test_w3c_pipeline_pinned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
