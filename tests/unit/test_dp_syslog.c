/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The syslog header parser (dataplane/pipeline/syslog.c): real-world RFC 5424 and
 * RFC 3164 headers and bare messages, with the exact body offset and
 * STRUCTURED-DATA span of each; every prefix of every example is parsed
 * too, in an exactly sized buffer, to check the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pvt.h"

#define BOM "\xEF\xBB\xBF"

struct example {
	const char *msg;
	enum vdp_syslog_kind kind;
	const char *body; /* the body: the message from m.body on */
	const char *sd;	  /* the STRUCTURED-DATA, or NULL */
};

static const char *kind_name(enum vdp_syslog_kind k)
{
	return k == VDP_SYSLOG_5424 ? "5424" : k == VDP_SYSLOG_3164 ? "3164" : "none";
}

/* Every prefix of msg: the offsets stay in bounds and in order. */
static void check_prefixes(const char *msg, size_t len)
{
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, msg, n);
		struct vdp_msg m = { .data = copy, .len = n };
		enum vdp_syslog_kind k = vdp_syslog_parse(&m);
		assert_true(m.body <= n);
		if (m.sd_len > 0) {
			assert_int_equal(k, VDP_SYSLOG_5424);
			assert_true(m.sd_off + m.sd_len <= n);
			assert_true(copy[m.sd_off] == '[');
			assert_true(copy[m.sd_off + m.sd_len - 1] == ']');
			assert_true(m.body >= m.sd_off + m.sd_len);
		}
		free(copy);
	}
}

static void check(const struct example *ex, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct example *e = &ex[i];
		size_t len = strlen(e->msg), blen = strlen(e->body);
		char *copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, e->msg, len);
		struct vdp_msg m = { .data = copy, .len = len, .body = 99,
				     .sd_off = 99, .sd_len = 99 };
		enum vdp_syslog_kind k = vdp_syslog_parse(&m);
		if (k != e->kind || blen > len || m.body != len - blen ||
		    memcmp(copy + m.body, e->body, blen) != 0)
			fail_msg("%s\n got %s body \"%.*s\"\nwant %s body \"%s\"",
				 e->msg, kind_name(k),
				 (int)(len - (m.body <= len ? m.body : len)),
				 copy + (m.body <= len ? m.body : len),
				 kind_name(e->kind), e->body);
		if (e->sd == NULL) {
			if (m.sd_len != 0)
				fail_msg("%s\n got SD \"%.*s\", want none",
					 e->msg, (int)m.sd_len,
					 copy + m.sd_off);
		} else {
			const char *at = strstr(e->msg, e->sd);
			assert_non_null(at);
			if (m.sd_off != (size_t)(at - e->msg) ||
			    m.sd_len != strlen(e->sd))
				fail_msg("%s\n got SD at %zu \"%.*s\"\nwant \"%s\"",
					 e->msg, m.sd_off,
					 (int)(m.sd_len < len ? m.sd_len : 0),
					 copy + (m.sd_off < len ? m.sd_off : 0),
					 e->sd);
		}
		/* the same answer twice; the message is not changed */
		struct vdp_msg m2 = { .data = copy, .len = len };
		assert_int_equal(vdp_syslog_parse(&m2), k);
		assert_int_equal(m2.body, m.body);
		assert_memory_equal(copy, e->msg, len);
		free(copy);
		check_prefixes(e->msg, len);
	}
}

#define CHECK(ex) check((ex), sizeof(ex) / sizeof((ex)[0]))

static void test_rfc5424(void **state)
{
	(void)state;
	static const struct example ex[] = {
		/* RFC 5424 6.5, example 1: no SD, a BOM before MSG */
		{ "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
		  BOM "'su root' failed for lonvick on /dev/pts/8",
		  VDP_SYSLOG_5424, "'su root' failed for lonvick on /dev/pts/8", NULL },
		/* example 2: no BOM */
		{ "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
		  "%% It's time to make the do-nuts.",
		  VDP_SYSLOG_5424, "%% It's time to make the do-nuts.", NULL },
		/* example 3: SD and a BOM */
		{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
		  "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
		  "eventID=\"1011\"] " BOM "An application event log entry...",
		  VDP_SYSLOG_5424, "An application event log entry...",
		  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
		  "eventID=\"1011\"]" },
		/* example 4: two SD elements, no MSG */
		{ "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
		  "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
		  "eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
		  VDP_SYSLOG_5424, "",
		  "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
		  "eventID=\"1011\"][examplePriority@32473 class=\"high\"]" },
		/* escapes in values: \" \\ \] and a literal ']' in quotes */
		{ "<13>1 2024-01-01T00:00:00Z h app - - "
		  "[x@1 a=\"q\\\"uo\\\\te\\]\" b=\"]\" c=\"\\n\"] msg",
		  VDP_SYSLOG_5424, "msg",
		  "[x@1 a=\"q\\\"uo\\\\te\\]\" b=\"]\" c=\"\\n\"]" },
		/* an element with no params, one with an empty value */
		{ "<13>1 2024-01-01T00:00:00Z h app - - [origin][meta x=\"\"] m",
		  VDP_SYSLOG_5424, "m", "[origin][meta x=\"\"]" },
		/* every field NIL */
		{ "<13>1 - - - - - -", VDP_SYSLOG_5424, "", NULL },
		{ "<13>1 - - - - - - hello", VDP_SYSLOG_5424, "hello", NULL },
		{ "<13>1 - - - - - - " BOM, VDP_SYSLOG_5424, "", NULL },
		/* Juniper SRX structured-data */
		{ "<14>1 2024-01-01T12:00:00.000Z srx1 RT_FLOW - "
		  "RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "
		  "source-address=\"10.0.0.1\" source-port=\"51234\" "
		  "username=\"bob\" roles=\"N/A\"] session created "
		  "10.0.0.1/51234->192.0.2.1/443",
		  VDP_SYSLOG_5424, "session created 10.0.0.1/51234->192.0.2.1/443",
		  "[junos@2636.1.1.1.2.129 source-address=\"10.0.0.1\" "
		  "source-port=\"51234\" username=\"bob\" roles=\"N/A\"]" },
		/* CEF after a 5424 header */
		{ "<134>1 2024-01-01T00:00:00+01:00 host CEF - - - "
		  "CEF:0|Vendor|Prod|1.0|100|name|5|suser=bob",
		  VDP_SYSLOG_5424, "CEF:0|Vendor|Prod|1.0|100|name|5|suser=bob", NULL },
		/* a three-digit version */
		{ "<13>123 - - - - - - x", VDP_SYSLOG_5424, "x", NULL },
		/* tolerated: spaces before ']', MSG right after the SD */
		{ "<13>1 - h a p m [a@1 x=\"1\"  ]msg", VDP_SYSLOG_5424, "msg",
		  "[a@1 x=\"1\"  ]" },
		/* a space between elements ends the SD: the rest is MSG */
		{ "<13>1 - h a p m [a@1 x=\"1\"] [b@1 y=\"2\"] msg",
		  VDP_SYSLOG_5424, "[b@1 y=\"2\"] msg", "[a@1 x=\"1\"]" },
		/* the header ends after MSGID */
		{ "<14>1 2024-01-01T00:00:00Z host app 1 ID", VDP_SYSLOG_5424, "", NULL },
	};
	CHECK(ex);
}

/* Headers that start as RFC 5424 but go wrong: the body starts earlier. */
static void test_rfc5424_broken(void **state)
{
	(void)state;
	static const struct example ex[] = {
		/* an unterminated value: from APP-NAME on */
		{ "<14>1 2024-01-01T00:00:00Z host app 1 ID [x a=\"unterminated] msg",
		  VDP_SYSLOG_5424, "app 1 ID [x a=\"unterminated] msg", NULL },
		/* a backslash at the very end */
		{ "<14>1 - host app 1 ID [x a=\"\\", VDP_SYSLOG_5424,
		  "app 1 ID [x a=\"\\", NULL },
		/* no STRUCTURED-DATA: a 3164-ish sender with a version */
		{ "<14>1 2024-01-01T00:00:00Z host app: user bob logged in",
		  VDP_SYSLOG_5424, "app: user bob logged in", NULL },
		/* bad SD-ID, bad param, missing '=' or quote */
		{ "<14>1 - h app - - [] m", VDP_SYSLOG_5424, "app - - [] m", NULL },
		{ "<14>1 - h app - - [a b] m", VDP_SYSLOG_5424, "app - - [a b] m", NULL },
		{ "<14>1 - h app - - [a b=c] m", VDP_SYSLOG_5424, "app - - [a b=c] m", NULL },
		{ "<14>1 - h app - - [a =\"c\"] m", VDP_SYSLOG_5424,
		  "app - - [a =\"c\"] m", NULL },
		{ "<14>1 - h app - - [a b=\"c\"", VDP_SYSLOG_5424,
		  "app - - [a b=\"c\"", NULL },
		/* "-x" is not NIL */
		{ "<14>1 - h app - - -x", VDP_SYSLOG_5424, "app - - -x", NULL },
		/* MSGID SP and nothing */
		{ "<14>1 - h app - - ", VDP_SYSLOG_5424, "app - - ", NULL },
		/* not a timestamp, an empty field, a tab: not RFC 5424 */
		{ "<14>1 yesterday host app - - - msg", VDP_SYSLOG_3164,
		  "1 yesterday host app - - - msg", NULL },
		{ "<14>1 -  host app - - - msg", VDP_SYSLOG_3164,
		  "1 -  host app - - - msg", NULL },
		{ "<14>1 - host\tapp - - - msg", VDP_SYSLOG_3164,
		  "1 - host\tapp - - - msg", NULL },
		{ "<14>1 - host app", VDP_SYSLOG_3164, "1 - host app", NULL },
		{ "<14>1234 - - - - - - x", VDP_SYSLOG_3164, "1234 - - - - - - x", NULL },
		{ "<14>0 - - - - - - x", VDP_SYSLOG_3164, "0 - - - - - - x", NULL },
	};
	CHECK(ex);
}

static void test_rfc3164(void **state)
{
	(void)state;
	static const struct example ex[] = {
		/* RFC 3164 5.4 examples */
		{ "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
		  VDP_SYSLOG_3164, "'su root' failed for lonvick on /dev/pts/8", NULL },
		{ "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
		  VDP_SYSLOG_3164, "Use the BFG!", NULL },
		/* host and tag[pid] */
		{ "<38>Jan 15 08:30:00 web01 sshd[1234]: Failed password for "
		  "invalid user admin from 192.0.2.7 port 22 ssh2",
		  VDP_SYSLOG_3164, "Failed password for invalid user admin from "
		  "192.0.2.7 port 22 ssh2", NULL },
		/* no hostname */
		{ "<13>Jan  1 12:00:00 sshd[1234]: Accepted password for bob",
		  VDP_SYSLOG_3164, "Accepted password for bob", NULL },
		{ "<13>Jan  1 12:00:00 kernel: eth0 link up",
		  VDP_SYSLOG_3164, "eth0 link up", NULL },
		/* a tag with a pid and no colon */
		{ "<13>Jan  1 12:00:00 host app[12] message here",
		  VDP_SYSLOG_3164, "message here", NULL },
		/* a word without a colon or pid is not a tag */
		{ "<13>Jan  1 12:00:00 host app message here",
		  VDP_SYSLOG_3164, "app message here", NULL },
		/* with a year; a one-digit day; a zero-padded day */
		{ "<13>Jan  1 2024 12:00:00 host tag: msg", VDP_SYSLOG_3164, "msg", NULL },
		{ "<13>Jan 1 12:00:00 host tag: m", VDP_SYSLOG_3164, "m", NULL },
		{ "<13>Dec 31 23:59:59.999 host tag: m", VDP_SYSLOG_3164, "m", NULL },
		{ "<13>JAN 01 12:00:00 host tag: m", VDP_SYSLOG_3164, "m", NULL },
		/* ISO timestamps after PRI */
		{ "<13>2024-01-01T12:00:00.123456+01:00 host tag[9]: msg",
		  VDP_SYSLOG_3164, "msg", NULL },
		{ "<13>2024-01-01T12:00:00Z host postfix/smtpd[77]: connect from x",
		  VDP_SYSLOG_3164, "connect from x", NULL },
		{ "<13>2024-01-01T12:00:00-0500 host tag: m", VDP_SYSLOG_3164, "m", NULL },
		/* an IPv6 hostname; a word with a colon is not one */
		{ "<13>Jan  1 12:00:00 2001:db8::1 kernel: msg", VDP_SYSLOG_3164, "msg", NULL },
		{ "<13>Jan  1 12:00:00 user:bob logged in", VDP_SYSLOG_3164,
		  "user:bob logged in", NULL },
		/* "host:" is a tag */
		{ "<13>Jan  1 12:00:00 host: msg", VDP_SYSLOG_3164, "msg", NULL },
		/* a word with a colon after the hostname is a tag */
		{ "<13>Jan  1 12:00:00 nas01 Error: disk full", VDP_SYSLOG_3164,
		  "disk full", NULL },
		/* Juniper, BSD format */
		{ "<28>Jan  1 12:00:00 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE: session created",
		  VDP_SYSLOG_3164, "RT_FLOW_SESSION_CREATE: session created", NULL },
		/* cut short */
		{ "<13>Jan  1 12:00:00", VDP_SYSLOG_3164, "", NULL },
		{ "<13>Jan  1 12:00:00 host", VDP_SYSLOG_3164, "host", NULL },
		{ "<13>Jan  1 12:00:00 host ", VDP_SYSLOG_3164, "", NULL },
		{ "<13>Jan  1 12:00:00 host tag:", VDP_SYSLOG_3164, "", NULL },
		{ "<13>Jan  1 12:00:00 host tag[1]", VDP_SYSLOG_3164, "", NULL },
		/* PRI only; PRI and no timestamp */
		{ "<13>", VDP_SYSLOG_3164, "", NULL },
		{ "<0>hello", VDP_SYSLOG_3164, "hello", NULL },
		{ "<191>x", VDP_SYSLOG_3164, "x", NULL },
		{ "<13>sshd[1]: no timestamp", VDP_SYSLOG_3164, "sshd[1]: no timestamp", NULL },
		{ "<13>Jan  1 12:00:00x host", VDP_SYSLOG_3164, "Jan  1 12:00:00x host", NULL },
		{ "<13>Jan 123 12:00:00 host", VDP_SYSLOG_3164, "Jan 123 12:00:00 host", NULL },
		{ "<13>Foo  1 12:00:00 host", VDP_SYSLOG_3164, "Foo  1 12:00:00 host", NULL },
		{ "<13> Jan  1 12:00:00 host t: m", VDP_SYSLOG_3164,
		  " Jan  1 12:00:00 host t: m", NULL },
		{ "<13>" BOM "hi", VDP_SYSLOG_3164, "hi", NULL },
	};
	CHECK(ex);
}

/* Lines from files: no PRI. */
static void test_no_pri(void **state)
{
	(void)state;
	static const struct example ex[] = {
		{ "Jan  1 12:00:00 host CRON[99]: (root) CMD (run-parts /etc/cron.hourly)",
		  VDP_SYSLOG_3164, "(root) CMD (run-parts /etc/cron.hourly)", NULL },
		{ "2024-01-01T12:00:00.000000+00:00 host sudo:      bob : TTY=pts/0 ; USER=root",
		  VDP_SYSLOG_3164, "     bob : TTY=pts/0 ; USER=root", NULL },
		{ BOM "Jan  1 12:00:00 host tag: m", VDP_SYSLOG_3164, "m", NULL },
		/* a W3C or Squid line, a date with a space: not a header */
		{ "#Fields: date time cs-username", VDP_SYSLOG_NONE,
		  "#Fields: date time cs-username", NULL },
		{ "2024-01-01 12:00:00 10.0.0.1 GET /index.html bob",
		  VDP_SYSLOG_NONE, "2024-01-01 12:00:00 10.0.0.1 GET /index.html bob", NULL },
		{ "1704110400.123     45 10.0.0.1 TCP_MISS/200 1234 GET http://x/ bob DIRECT/1.2.3.4 text/html",
		  VDP_SYSLOG_NONE, "1704110400.123     45 10.0.0.1 TCP_MISS/200 1234 GET "
		  "http://x/ bob DIRECT/1.2.3.4 text/html", NULL },
	};
	CHECK(ex);
}

/* Vendor bodies: never taken for a header. */
static void test_vendors(void **state)
{
	(void)state;
	static const struct example ex[] = {
		/* Cisco ASA: with hostname, without, without a timestamp */
		{ "<166>Jan 01 2024 12:00:00 fw01 : %ASA-6-113004: AAA user "
		  "authentication Successful : server = 10.1.1.1 : user = bob",
		  VDP_SYSLOG_3164, "%ASA-6-113004: AAA user authentication "
		  "Successful : server = 10.1.1.1 : user = bob", NULL },
		{ "<166>Jan 01 2024 12:00:00: %ASA-6-302013: Built outbound TCP connection",
		  VDP_SYSLOG_3164, "%ASA-6-302013: Built outbound TCP connection", NULL },
		{ "<166>%ASA-6-113004: AAA user authentication Successful",
		  VDP_SYSLOG_3164, "%ASA-6-113004: AAA user authentication Successful", NULL },
		{ "<166>Jan  1 12:00:00 fw01 %ASA-6-113004: x", VDP_SYSLOG_3164,
		  "%ASA-6-113004: x", NULL },
		{ "<166>2024-01-01T12:00:00Z fw01 : %FTD-6-430003: EventPriority: Low",
		  VDP_SYSLOG_3164, "%FTD-6-430003: EventPriority: Low", NULL },
		/* Cisco IOS */
		{ "<189>*Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console",
		  VDP_SYSLOG_3164, "%SYS-5-CONFIG_I: Configured from console", NULL },
		/* FortiGate: right after PRI; as a file line; after a header */
		{ "<189>date=2024-01-01 time=12:00:00 devname=\"FG100\" "
		  "devid=\"FG100E\" logid=\"0100032001\" type=\"event\" user=\"bob\"",
		  VDP_SYSLOG_3164, "date=2024-01-01 time=12:00:00 devname=\"FG100\" "
		  "devid=\"FG100E\" logid=\"0100032001\" type=\"event\" user=\"bob\"", NULL },
		{ "date=2024-01-01 time=12:00:00 devname=FG user=bob",
		  VDP_SYSLOG_NONE, "date=2024-01-01 time=12:00:00 devname=FG user=bob", NULL },
		{ "<189>Jan  1 12:00:00 FGT-1 date=2024-01-01 time=12:00:00 user=bob",
		  VDP_SYSLOG_3164, "date=2024-01-01 time=12:00:00 user=bob", NULL },
		{ "<189>Jan  1 12:00:00 date=2024-01-01 user=bob",
		  VDP_SYSLOG_3164, "date=2024-01-01 user=bob", NULL },
		/* Sophos */
		{ "<30>device=\"SFW\" date=2024-01-01 time=12:00:00 user_name=\"bob\"",
		  VDP_SYSLOG_3164, "device=\"SFW\" date=2024-01-01 time=12:00:00 "
		  "user_name=\"bob\"", NULL },
		/* PAN-OS: after a header with hostname; right after PRI */
		{ "<14>Jan  1 12:00:00 PA-VM 1,2024/01/01 12:00:00,012801000000,"
		  "TRAFFIC,end,2049,2024/01/01 12:00:00,10.0.0.1,192.0.2.1,,,rule1,"
		  "corp\\bob,,ssl",
		  VDP_SYSLOG_3164, "1,2024/01/01 12:00:00,012801000000,TRAFFIC,end,"
		  "2049,2024/01/01 12:00:00,10.0.0.1,192.0.2.1,,,rule1,corp\\bob,,ssl",
		  NULL },
		{ "<14>1,2024/01/01 12:00:00,0128,THREAT,url,2049",
		  VDP_SYSLOG_3164, "1,2024/01/01 12:00:00,0128,THREAT,url,2049", NULL },
		/* CEF and LEEF after a 3164 header, with and without host */
		{ "<134>Jan  1 12:00:00 host CEF:0|Security|threatmanager|1.0|100|"
		  "worm successfully stopped|10|src=10.0.0.1 suser=bob",
		  VDP_SYSLOG_3164, "CEF:0|Security|threatmanager|1.0|100|worm "
		  "successfully stopped|10|src=10.0.0.1 suser=bob", NULL },
		{ "<134>Jan  1 12:00:00 CEF:0|Security|threatmanager|1.0|100|x|10|suser=bob",
		  VDP_SYSLOG_3164, "CEF:0|Security|threatmanager|1.0|100|x|10|suser=bob",
		  NULL },
		{ "<134>Jan  1 12:00:00 CEF:0 |x", VDP_SYSLOG_3164, "CEF:0 |x", NULL },
		{ "<13>Jan  1 12:00:00 qradar LEEF:1.0|Microsoft|MSExchange|4.0.0|15345|"
		  "usrName=bob", VDP_SYSLOG_3164,
		  "LEEF:1.0|Microsoft|MSExchange|4.0.0|15345|usrName=bob", NULL },
		{ "CEF:0|Vendor|Prod|1.0|100|name|5|suser=bob", VDP_SYSLOG_NONE,
		  "CEF:0|Vendor|Prod|1.0|100|name|5|suser=bob", NULL },
		/* JSON */
		{ "<13>Jan  1 12:00:00 host {\"user\":\"bob\"}", VDP_SYSLOG_3164,
		  "{\"user\":\"bob\"}", NULL },
		{ "<13>Jan  1 12:00:00 app[3]: {\"user\":\"bob\"}", VDP_SYSLOG_3164,
		  "{\"user\":\"bob\"}", NULL },
		{ "{\"user\":\"bob\"}", VDP_SYSLOG_NONE, "{\"user\":\"bob\"}", NULL },
	};
	CHECK(ex);
}

/* Tags and hostnames too long to be ones. */
static void test_long_words(void **state)
{
	(void)state;
	char msg[600], want[600];
	/* a 64-character tag is one, a 65-character one is not */
	for (int n = 64; n <= 65; n++) {
		int k = snprintf(msg, sizeof(msg), "<13>Jan  1 12:00:00 h %.*s: m",
				 n, "tttttttttttttttttttttttttttttttttttttttttttt"
				    "ttttttttttttttttttttttttttttt");
		assert_true(k > 0 && (size_t)k < sizeof(msg));
		snprintf(want, sizeof(want), "%s", n == 64 ? "m" : msg + 22);
		struct example ex = { msg, VDP_SYSLOG_3164, want, NULL };
		check(&ex, 1);
	}
	/* a 255-character hostname is one, a 256-character one is not */
	for (int n = 255; n <= 256; n++) {
		int k = snprintf(msg, sizeof(msg), "<13>Jan  1 12:00:00 ");
		memset(msg + k, 'h', (size_t)n);
		snprintf(msg + k + n, sizeof(msg) - (size_t)(k + n), " word");
		snprintf(want, sizeof(want), "%s", n == 255 ? "word" : msg + k);
		struct example ex = { msg, VDP_SYSLOG_3164, want, NULL };
		check(&ex, 1);
	}
}

static void test_bare(void **state)
{
	(void)state;
	static const struct example ex[] = {
		{ "", VDP_SYSLOG_NONE, "", NULL },
		{ "just a message", VDP_SYSLOG_NONE, "just a message", NULL },
		{ BOM "hello", VDP_SYSLOG_NONE, "hello", NULL },
		/* not a PRI: out of range, not digits, too long, empty */
		{ "<192>Jan  1 12:00:00 h t: m", VDP_SYSLOG_NONE,
		  "<192>Jan  1 12:00:00 h t: m", NULL },
		{ "<1a>x", VDP_SYSLOG_NONE, "<1a>x", NULL },
		{ "<0013>x", VDP_SYSLOG_NONE, "<0013>x", NULL },
		{ "<>x", VDP_SYSLOG_NONE, "<>x", NULL },
		{ "<13", VDP_SYSLOG_NONE, "<13", NULL },
		{ "<", VDP_SYSLOG_NONE, "<", NULL },
		{ "<Event xmlns='x'>", VDP_SYSLOG_NONE, "<Event xmlns='x'>", NULL },
		/* 5424 needs its PRI */
		{ "1 2024-01-01T00:00:00Z h a p m - x", VDP_SYSLOG_NONE,
		  "1 2024-01-01T00:00:00Z h a p m - x", NULL },
	};
	CHECK(ex);

	/* a NULL message */
	struct vdp_msg m = { .data = NULL, .len = 0, .body = 5 };
	assert_int_equal(vdp_syslog_parse(&m), VDP_SYSLOG_NONE);
	assert_int_equal(m.body, 0);
	assert_int_equal(m.sd_len, 0);
}

/* Random bytes from a small alphabet of header pieces: the bounds hold. */
static void test_random(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"<13>", "<", ">", "1 ", " ", "-", "[", "]", "a@1", " x=\"", "\"",
		"\\", "=", "Jan ", " 1 ", "12:00:00", "2024-01-01T", "Z", "host ",
		"tag:", "[12]", ":", BOM, "\xEF", "CEF:0|", "%ASA-1-1:", "\n",
	};
	uint64_t s = 88172645463325252ull;
	for (int round = 0; round < 3000; round++) {
		char buf[128];
		size_t n = 0;
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		unsigned count = (unsigned)(s % 16);
		for (unsigned i = 0; i < count; i++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			const char *p = pieces[s % (sizeof(pieces) /
						    sizeof(pieces[0]))];
			size_t k = strlen(p);
			if (n + k > sizeof(buf))
				break;
			memcpy(buf + n, p, k);
			n += k;
		}
		check_prefixes(buf, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5424),
		cmocka_unit_test(test_rfc5424_broken),
		cmocka_unit_test(test_rfc3164),
		cmocka_unit_test(test_no_pri),
		cmocka_unit_test(test_vendors),
		cmocka_unit_test(test_long_words),
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
