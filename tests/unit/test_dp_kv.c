/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The key=value family and Juniper parsers (dataplane/pipeline/fmt_kv.c: fortigate,
 * sophos, checkpoint; dataplane/pipeline/fmt_juniper.c: juniper) on lines written as
 * the vendors document and send them, syslog header included. Each line
 * marks its expected identity spans with « and »; the helper strips the
 * marks, runs vdp_syslog_parse() and the parser as the pipeline does, and
 * checks the exact spans, kinds, escapes and unescaped names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pvt.h"

#define OPEN  "\xc2\xab" /* « */
#define CLOSE "\xc2\xbb" /* » */

struct want {
	int kind;
	int esc;
	const char *name; /* unescaped */
};

#define UB(n) { VEIL_KIND_USER, VDP_ESC_BACKSLASH, n }
#define DB(n) { VEIL_KIND_DEVICE, VDP_ESC_BACKSLASH, n }
#define UN(n) { VEIL_KIND_USER, VDP_ESC_NONE, n }
#define DN(n) { VEIL_KIND_DEVICE, VDP_ESC_NONE, n }
#define NW(w) (sizeof(w) / sizeof((w)[0]))

static const struct vdp_format *fgt, *sophos, *cp, *junos;

/* Copy @p hdr + @p marked without the marks into an exact-size buffer (no
 * NUL: ASan sees a read past the end); the spans go to off/len. */
static char *unmark(const char *hdr, const char *marked, size_t *len,
		    size_t *off, size_t *slen, unsigned *ns)
{
	size_t hl = strlen(hdr), ml = strlen(marked), n = hl;
	char *tmp = malloc(hl + ml + 1);
	assert_non_null(tmp);
	memcpy(tmp, hdr, hl);
	*ns = 0;
	for (size_t i = 0; i < ml;) {
		if (!strncmp(marked + i, OPEN, 2)) {
			assert_true(*ns < 2 * VDP_MAX_FIELDS);
			off[*ns] = n;
			i += 2;
		} else if (!strncmp(marked + i, CLOSE, 2)) {
			slen[*ns] = n - off[*ns];
			(*ns)++;
			i += 2;
		} else {
			tmp[n++] = marked[i++];
		}
	}
	char *msg = malloc(n ? n : 1);
	assert_non_null(msg);
	memcpy(msg, tmp, n);
	free(tmp);
	*len = n;
	return msg;
}

static void locate(struct vdp_msg *m, size_t hl)
{
	if (vdp_syslog_parse(m) == VDP_SYSLOG_NONE && m->body == 0)
		m->body = hl; /* a header parser that cannot read it yet */
}

static void check_keys(const struct vdp_format *f, const struct vdp_keys *ks,
		       const char *hdr, const char *marked,
		       enum vdp_parse_rc rc, const struct want *w, unsigned nw)
{
	size_t off[2 * VDP_MAX_FIELDS], slen[2 * VDP_MAX_FIELDS], len;
	unsigned ns;
	char *msg = unmark(hdr, marked, &len, off, slen, &ns);
	assert_int_equal(ns, nw);
	struct vdp_msg m = { .data = msg, .len = len };
	locate(&m, strlen(hdr));
	struct vdp_parse_ctx ctx = { .keys = ks };
	struct vdp_fields out;
	memset(&out, 0x5a, sizeof(out));
	out.n = 0;
	enum vdp_parse_rc got = f->parse(&ctx, &m, &out);
	if (got != rc)
		fail_msg("%s: rc %d, expected %d, for: %.*s", f->name, got, rc,
			 (int)len, msg);
	assert_null(ctx.state);
	if (rc != VDP_PARSED) {
		free(msg);
		return;
	}
	if (out.n != nw)
		fail_msg("%s: %u fields, expected %u, for: %.*s", f->name, out.n,
			 nw, (int)len, msg);
	for (unsigned i = 0; i < nw; i++) {
		const struct vdp_field *fl = &out.f[i];
		if (fl->off != off[i] || fl->len != slen[i])
			fail_msg("field %u at %u+%u \"%.*s\", expected %zu+%zu in: %.*s",
				 i, fl->off, fl->len, (int)fl->len, msg + fl->off,
				 off[i], slen[i], (int)len, msg);
		assert_int_equal(fl->kind, w[i].kind);
		assert_int_equal(fl->esc, w[i].esc);
		char name[VEIL_NAME_MAX];
		long n = vdp_unescape((enum vdp_esc)fl->esc, msg + fl->off, fl->len,
				      name, sizeof(name), NULL);
		assert_true(n >= 0);
		if ((size_t)n != strlen(w[i].name) || memcmp(name, w[i].name, (size_t)n))
			fail_msg("field %u reads \"%.*s\", expected \"%s\"", i,
				 (int)n, name, w[i].name);
	}
	free(msg);
}

static void check(const struct vdp_format *f, const char *hdr,
		  const char *marked, enum vdp_parse_rc rc,
		  const struct want *w, unsigned nw)
{
	struct vdp_keys ks;
	vdp_keys_set(&ks, f->default_users, f->default_devices);
	check_keys(f, &ks, hdr, marked, rc, w, nw);
}

static bool detect(const struct vdp_format *f, const char *hdr,
		   const char *line)
{
	size_t hl = strlen(hdr), ll = strlen(line);
	char *msg = malloc(hl + ll + 1);
	assert_non_null(msg);
	memcpy(msg, hdr, hl);
	memcpy(msg + hl, line, ll);
	struct vdp_msg m = { .data = msg, .len = hl + ll };
	locate(&m, hl);
	bool r = f->detect(&m);
	free(msg);
	return r;
}

#define OK(f, hdr, line, ...)                                                   \
	do {                                                                    \
		static const struct want w_[] = { __VA_ARGS__ };                \
		check(f, hdr, line, VDP_PARSED, w_, NW(w_));                    \
	} while (0)
#define NONE(f, hdr, line)    check(f, hdr, line, VDP_PARSED, NULL, 0)
#define BAD(f, hdr, line)     check(f, hdr, line, VDP_MALFORMED, NULL, 0)
#define NOTMINE(f, hdr, line) check(f, hdr, line, VDP_NOT_MINE, NULL, 0)
/* with a key set of the test's own */
#define OKK(f, ks, hdr, line, ...)                                              \
	do {                                                                    \
		static const struct want w_[] = { __VA_ARGS__ };                \
		check_keys(f, ks, hdr, line, VDP_PARSED, w_, NW(w_));           \
	} while (0)

/* Sample lines of every format, for the detection matrix. */
#define FGT_LINE                                                                \
	"date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" " \
	"logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" user=\"bob\""
#define SFOS_LINE                                                               \
	"device=\"SFW\" date=2017-01-31 time=18:13:38 timezone=\"IST\" "        \
	"device_name=\"CR750iNG-XP\" log_id=062910617701 log_type=\"Event\" "   \
	"user_name=\"gaurav\""
#define UTM_LINE                                                                \
	"2023:03:08-15:00:00 utm-1 httpproxy[6267]: id=\"0001\" "                \
	"severity=\"info\" sys=\"SecureWeb\" sub=\"http\" user=\"testuser\""
#define CP_LINE                                                                 \
	"[action:\"Accept\"; flags:\"18692\"; ifdir:\"inbound\"; origin:\"10.4.150.2\"; " \
	"product:\"VPN-1 & FireWall-1\"; src_user_name:\"jdoe\"; ]"
#define JUNOS_LINE                                                              \
	"RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "             \
	"source-address=\"10.0.0.1\" username=\"alice\" roles=\"N/A\"]"
#define ASA_LINE                                                                \
	"%ASA-6-113004: AAA user authentication Successful : server = "         \
	"10.1.1.5 : user = alice"

/* ------------------------------------------------------------------ */
/* registry and defaults                                              */
/* ------------------------------------------------------------------ */

static void test_registry(void **state)
{
	(void)state;
	struct vdp_keys ks;
	assert_ptr_equal(fgt, &vdp_fmt_fortigate);
	vdp_keys_set(&ks, fgt->default_users, fgt->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "user", 4), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "unauthuser", 10), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "srcname", 7), VEIL_KIND_DEVICE);
	assert_int_equal(vdp_keys_find(&ks, "devname", 7), -1);

	assert_ptr_equal(sophos, &vdp_fmt_sophos);
	vdp_keys_set(&ks, sophos->default_users, sophos->default_devices);
	assert_int_equal(ks.n, 2);
	assert_int_equal(vdp_keys_find(&ks, "user_name", 9), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "user", 4), VEIL_KIND_USER);

	assert_ptr_equal(cp, &vdp_fmt_checkpoint);
	vdp_keys_set(&ks, cp->default_users, cp->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "src_user_name", 13), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "administrator", 13), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "src_machine_name", 16),
			 VEIL_KIND_DEVICE);

	assert_ptr_equal(junos, &vdp_fmt_juniper);
	vdp_keys_set(&ks, junos->default_users, junos->default_devices);
	assert_int_equal(vdp_keys_find(&ks, "username", 8), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "source-user", 11), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&ks, "hostname", 8), -1);

	/* all stateless */
	assert_null(fgt->free_state);
	assert_null(sophos->free_state);
	assert_null(cp->free_state);
	assert_null(junos->free_state);
}

/* Each format claims its own lines and none of the others'. */
static void test_detect_matrix(void **state)
{
	(void)state;
	static const struct {
		const char *hdr, *line;
		const struct vdp_format **yes;
	} rows[] = {
		{ "<189>", FGT_LINE, &fgt },
		{ "<30>", SFOS_LINE, &sophos },
		{ "<30>", UTM_LINE, &sophos },
		{ "<134>1 2020-01-02T14:04:50Z fwmgmt CheckPoint 16559 - ", CP_LINE, &cp },
		{ "<14>1 2019-04-12T14:29:06.576Z srx1 ", JUNOS_LINE, &junos },
		{ "<166>Jan 05 2024 12:00:00 asa1 : ", ASA_LINE, NULL },
	};
	const struct vdp_format *const *all[] = { &fgt, &sophos, &cp, &junos };
	for (unsigned r = 0; r < NW(rows); r++)
		for (unsigned f = 0; f < NW(all); f++) {
			bool want = rows[r].yes == all[f];
			if (detect(*all[f], rows[r].hdr, rows[r].line) != want)
				fail_msg("%s detect() is %d on: %s", (*all[f])->name,
					 !want, rows[r].line);
		}
	/* the other detection forms */
	assert_true(detect(fgt, "<189>", "eventtime=1707900000 devid=\"FG1\" logid=\"0000000013\" user=\"x\""));
	assert_true(detect(fgt, "", "logver=704 devname=\"fw\" logid=\"0100032001\""));
	assert_false(detect(fgt, "", "devname=\"fw\" xlogid=\"01\""));
	assert_true(detect(sophos, "Nov 16 00:25:00 sophos ", "device_name=\"SFW\" timestamp=\"2021-11-15T18:25:00-0600\""));
	assert_false(detect(sophos, "", "id=\"0001\" severity=\"info\""));
	assert_true(detect(cp, "<134>1 2018-03-21 17:25:25 MDS-72 CheckPoint 13752 - ",
			   "[action:\"Update\"; flags:\"150784\"; ifdir:\"inbound\"]"));
	/* without brackets */
	assert_true(detect(cp, "", "time:\"1574823505\"; loguid:\"{0x5ddde651}\"; src:\"1.2.3.4\""));
	/* JSON has "key":"value": not Check Point */
	assert_false(detect(cp, "", "{\"action\":\"Accept\", \"origin\":\"1.2.3.4\"}"));
	/* a colon-quote in a FortiGate message is not a Check Point block */
	assert_false(detect(cp, "<189>", "date=2024-03-01 logid=\"1\" msg=\"Error:\" action:\"x\""));
	assert_true(detect(junos, "<14>Mar  1 12:00:00 srx ",
			   "RT_FLOW: RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 source-address=\"10.0.0.1\"]"));
	assert_false(detect(junos, "<14>Mar  1 12:00:00 srx ",
			    "RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->10.0.0.2/443"));
	assert_false(detect(fgt, "", ""));
	assert_false(detect(sophos, "", ""));
	assert_false(detect(cp, "", ""));
	assert_false(detect(junos, "", ""));
}

/* ------------------------------------------------------------------ */
/* FortiGate                                                          */
/* ------------------------------------------------------------------ */

static void test_fortigate_logs(void **state)
{
	(void)state;
	/* FortiOS 6.x+ traffic log: all strings quoted; FortiGate sends a
	 * bare <PRI> before date= */
	OK(fgt, "<189>",
	   "date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" "
	   "eventtime=1709288101234567890 tz=\"+0100\" logid=\"0000000013\" type=\"traffic\" "
	   "subtype=\"forward\" level=\"notice\" vd=\"root\" srcip=10.10.5.23 srcport=51544 "
	   "srcintf=\"port2\" srcintfrole=\"lan\" dstip=142.250.185.78 dstport=443 "
	   "dstintf=\"wan1\" dstintfrole=\"wan\" srcname=\"" OPEN "LT-ALICE-01" CLOSE "\" "
	   "sessionid=8815237 proto=6 action=\"close\" policyid=12 policytype=\"policy\" "
	   "service=\"HTTPS\" trandisp=\"snat\" duration=65 sentbyte=4321 rcvdbyte=98211 "
	   "unauthuser=\"" OPEN "alice.martin" CLOSE "\" unauthusersource=\"kerberos\" "
	   "srcmac=\"3c:22:fb:11:22:33\"",
	   DB("LT-ALICE-01"), UB("alice.martin"));
	/* event log: the admin user; devname is the FortiGate itself */
	OK(fgt, "<189>",
	   "date=2024-03-01 time=10:20:54 devname=\"FGT-HQ\" devid=\"FG100E4Q17002345\" "
	   "logid=\"0100032001\" type=\"event\" subtype=\"system\" level=\"information\" "
	   "vd=\"root\" logdesc=\"Admin login successful\" sn=\"1709288454\" user=\""
	   OPEN "netadmin" CLOSE "\" ui=\"https(10.1.1.50)\" method=\"https\" "
	   "srcip=10.1.1.50 dstip=10.1.1.1 action=\"login\" status=\"success\" "
	   "reason=\"none\" profile=\"super_admin\" msg=\"Administrator netadmin logged in successfully from https(10.1.1.50)\"",
	   UB("netadmin"));
	/* FortiOS 5.x: unquoted values, user@domain */
	OK(fgt, "",
	   "date=2016-06-16 time=16:22:34 devname=Branch_FW devid=FGT60D4615000000 "
	   "logid=0100032001 type=event subtype=system level=information vd=\"root\" "
	   "user=" OPEN "a.khan@corp.example" CLOSE " ui=https(10.42.8.253) action=login "
	   "status=success",
	   UN("a.khan@corp.example"));
	/* a line without identities */
	NONE(fgt, "<189>",
	     "date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" logid=\"0113022923\" "
	     "type=\"event\" subtype=\"sdwan\" msg=\"Number of pass member changed.\"");
	/* SSL VPN: user, xauthuser, several identities in one line */
	OK(fgt, "<190>",
	   "date=2024-03-01 time=11:00:00 devname=\"FGT-HQ\" logid=\"0101039424\" "
	   "type=\"event\" subtype=\"vpn\" tunneltype=\"ssl-tunnel\" remip=203.0.113.7 "
	   "user=\"" OPEN "dana" CLOSE "\" group=\"VPN-Users\" xauthuser=\"" OPEN "N/A"
	   CLOSE "\" srcname=\"" OPEN "DANA-PC" CLOSE "\" user=\"" OPEN "dana2" CLOSE "\"",
	   UB("dana"), UB("N/A"), DB("DANA-PC"), UB("dana2"));
}

static void test_fortigate_quoting(void **state)
{
	(void)state;
	/* a key=value inside a quoted value is not a key */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0317013312\" type=\"utm\" url=\"/login?user=eve&x=1\" "
	   "msg=\"URL has been visited user=mallory\" user=\"" OPEN "carol" CLOSE "\"",
	   UB("carol"));
	/* escaped quotes and backslashes inside quotes */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0100032001\" msg=\"said \\\"user=x\\\" twice\" user=\""
	   OPEN "o\\\"brien" CLOSE "\" unauthuser=\"" OPEN "CORP\\\\jdoe" CLOSE "\"",
	   UB("o\"brien"), UB("CORP\\jdoe"));
	/* a value ending in an escaped backslash */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN "back\\\\" CLOSE "\" srcname=\""
	   OPEN "pc" CLOSE "\"",
	   UB("back\\"), DB("pc"));
	/* empty values, quoted and bare */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN CLOSE "\" unauthuser=" OPEN CLOSE
	   " srcname=\"" OPEN CLOSE "\"",
	   UB(""), UN(""), DB(""));
	/* a bare value at the end of the line */
	OK(fgt, "", "date=2024-03-01 logid=1 user=" OPEN "last" CLOSE, UN("last"));
	/* a quoted value glued to the next token is read as it stands,
	 * unless it holds an identity key: then the quotes may not be what
	 * they seem (a backslash before a closing quote, not escaped) */
	OK(fgt, "", "date=2024-03-01 logid=\"1\"srcport=\"2\" user=\"" OPEN "spaced" CLOSE "\"",
	   UB("spaced"));
	OK(fgt, "", "date=2024-03-01 logid=\"1\"user=\"" OPEN "glued" CLOSE "\"",
	   UB("glued"));
	/* a sender that does not escape a backslash before the quote */
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" path=\"C:\\Temp\\\" user=\"bob\" x=\"y\"");
	/* tokens that are not key=value are skipped (a relay's header) */
	OK(fgt, "Mar  1 10:15:01 relay01 ",
	   "fortigate: =x junk \"free text\" date=2024-03-01 logid=\"1\" user=\""
	   OPEN "erin" CLOSE "\"",
	   UB("erin"));
	/* tabs separate too */
	OK(fgt, "", "date=2024-03-01\tlogid=\"1\"\tuser=" OPEN "tab" CLOSE "\tsrcname="
	   OPEN "host" CLOSE,
	   UN("tab"), DN("host"));
}

static void test_fortigate_unicode(void **state)
{
	(void)state;
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"0000000013\" type=\"traffic\" srcname=\""
	   OPEN "Zoë’s MacBook Pro" CLOSE "\" user=\"" OPEN "Jörg Müller" CLOSE
	   "\" unauthuser=\"" OPEN "山田太郎" CLOSE "\"",
	   DB("Zoë’s MacBook Pro"), UB("Jörg Müller"), UB("山田太郎"));
}

static void test_fortigate_malformed(void **state)
{
	(void)state;
	/* an identity whose quote never closes */
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob");
	BAD(fgt, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\\\"");
	/* a value that never closes and hides an identity key */
	BAD(fgt, "<189>",
	    "date=2024-03-01 logid=\"1\" msg=\"cut short by the relay user=bob srcname=pc");
	/* one that hides none: the fields before it stand (truncated lines) */
	OK(fgt, "<189>",
	   "date=2024-03-01 logid=\"1\" user=\"" OPEN "kim" CLOSE "\" msg=\"FX04DN4N16002352 STATE: connecting",
	   UB("kim"));
	/* more identities than VDP_MAX_FIELDS */
	char line[4096];
	size_t n = (size_t)snprintf(line, sizeof(line), "date=2024-03-01 logid=\"1\"");
	for (int i = 0; i <= VDP_MAX_FIELDS; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " user=\"u%d\"", i);
	BAD(fgt, "", line);
}

static void test_fortigate_keys(void **state)
{
	(void)state;
	/* user_fields/device_fields replace the defaults */
	struct vdp_keys ks;
	static const char *const users[] = { "group", NULL };
	static const char *const devices[] = { "devname", "srcname", NULL };
	vdp_keys_set(&ks, users, devices);
	OKK(fgt, &ks, "<189>",
	    "date=2024-03-01 devname=\"" OPEN "FGT-HQ" CLOSE "\" logid=\"1\" user=\"bob\" "
	    "group=\"" OPEN "Finance" CLOSE "\" srcname=\"" OPEN "PC7" CLOSE "\"",
	    DB("FGT-HQ"), UB("Finance"), DB("PC7"));
	/* no keys: nothing to find */
	ks.n = 0;
	check_keys(fgt, &ks, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\"",
		   VDP_PARSED, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Sophos                                                             */
/* ------------------------------------------------------------------ */

static void test_sophos_sfos(void **state)
{
	(void)state;
	/* SFOS v17 authentication event: `name` repeats the user (the
	 * pipeline's replace_repeats takes it); src_mac is empty and last */
	OK(sophos, "<30>",
	   "device=\"SFW\" date=2017-01-31 time=18:13:38 timezone=\"IST\" "
	   "device_name=\"CR750iNG-XP\" device_id=C44313350024-P29PUA log_id=062910617701 "
	   "log_type=\"Event\" log_component=\"Firewall Authentication\" "
	   "log_subtype=\"Authentication\" status=\"Successful\" priority=Information "
	   "user_name=\"" OPEN "gaurav" CLOSE "\" usergroupname=\"Open Group\" "
	   "auth_client=\"Web Client\" auth_mechanism=\"Local\" reason=\"\" "
	   "src_ip=10.198.47.71 message=\"User gaurav of group Open Group logged in\" "
	   "name=\"gaurav\" src_mac=",
	   UB("gaurav"));
	/* SFOS v18+ (device_name first), behind a BSD header without a tag */
	OK(sophos, "Nov 16 00:25:00 sophos ",
	   "device_name=\"SFW\" timestamp=\"2021-11-15T18:25:00-0600\" device_model=\"SFVH\" "
	   "device_serial_id=\"C01001BQC8TFFFF\" log_id=\"010101600001\" log_type=\"Firewall\" "
	   "log_component=\"Firewall Rule\" log_subtype=\"Allowed\" severity=\"Information\" "
	   "fw_rule_id=\"12\" user_name=\"" OPEN "jörg.müller@example.de" CLOSE "\" "
	   "src_ip=\"192.168.2.111\" dst_ip=\"89.160.20.156\" protocol=\"TCP\"",
	   UB("jörg.müller@example.de"));
	/* a firewall log without a user: empty user_name reported */
	OK(sophos, "<30>",
	   "device=\"SFW\" date=2017-01-31 time=18:24:51 log_id=010101600001 "
	   "log_type=\"Firewall\" user_name=\"" OPEN CLOSE "\" user_gp=\"\" iap=0",
	   UB(""));
	/* DOMAIN\user, escaped */
	OK(sophos, "<30>",
	   "device_name=\"SFW\" log_id=\"062910617701\" user_name=\"" OPEN "CORP\\\\ana"
	   CLOSE "\" message=\"User CORP\\\\ana logged in\"",
	   UB("CORP\\ana"));
	BAD(sophos, "<30>", "device_name=\"SFW\" log_id=\"1\" user_name=\"ana");
	BAD(sophos, "<30>", "device_name=\"SFW\" log_id=\"1\" message=\"cut user_name=ana");
}

static void test_sophos_utm(void **state)
{
	(void)state;
	/* UTM web proxy: `user`; `name` is the event and `device` a flag */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:00 utm-1 httpproxy[6267]: id=\"0001\" severity=\"info\" "
	   "sys=\"SecureWeb\" sub=\"http\" name=\"http access\" action=\"pass\" "
	   "method=\"GET\" srcip=\"10.0.0.5\" dstip=\"89.160.20.129\" user=\"" OPEN
	   "testuser" CLOSE "\" group=\"testgroup\" ad_domain=\"example.com\" "
	   "statuscode=\"200\" device=\"0\" auth=\"0\" ua=\"Mozilla/5.0 (X11; Linux x86_64)\"",
	   UB("testuser"));
	/* no user: an empty value */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:01 utm-1 httpproxy[6267]: id=\"0002\" severity=\"info\" "
	   "sys=\"SecureWeb\" sub=\"http\" user=\"" OPEN CLOSE "\" url=\"http://a/?user=x\"",
	   UB(""));
	/* AD users with spaces and non-ASCII */
	OK(sophos, "<30>",
	   "2023:03:08-15:00:02 utm-1 httpproxy[6267]: id=\"0001\" severity=\"info\" "
	   "sys=\"SecureWeb\" user=\"" OPEN "Ærøskøbing Ølsen" CLOSE "\" group=\"Staff\"",
	   UB("Ærøskøbing Ølsen"));
}

/* ------------------------------------------------------------------ */
/* Check Point                                                        */
/* ------------------------------------------------------------------ */

static void test_checkpoint_logs(void **state)
{
	(void)state;
	/* Identity Awareness, the Log Exporter's own example shape (its
	 * timestamp is not RFC 5424: the header parser gives up early) */
	OK(cp, "<134>1 2018-03-21 17:25:25 MDS-72 CheckPoint 13752 - ",
	   "[action:\"Update\"; flags:\"150784\"; ifdir:\"inbound\"; logid:\"160571424\"; "
	   "loguid:\"{0x5ab27965,0x0,0x5b20a8c0,0x7d5707b6}\"; origin:\"192.168.32.91\"; "
	   "originsicname:\"CN=GW91,O=Domain2_Server..cuggd3\"; sequencenum:\"1\"; "
	   "time:\"1521645925\"; version:\"5\"; auth_method:\"Machine Authentication (Active Directory)\"; "
	   "auth_status:\"Successful Login\"; identity_src:\"AD Query\"; identity_type:\"machine\"; "
	   "product:\"Identity Awareness\"; src:\"192.168.32.69\"; src_machine_group:\"All Machines\"; "
	   "src_machine_name:\"" OPEN "yonatanad" CLOSE "\";]",
	   DB("yonatanad"));
	/* URL filtering with a user and a machine, proper RFC 5424 header */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw-hq CheckPoint 2187 - ",
	   "[action:\"Accept\"; flags:\"411908\"; ifdir:\"outbound\"; origin:\"10.20.0.1\"; "
	   "product:\"URL Filtering\"; proto:\"6\"; resource:\"https://cdn.example/a;b:c\"; "
	   "s_port:\"52144\"; service:\"443\"; src:\"10.20.14.37\"; src_machine_name:\""
	   OPEN "WS-FIN-0142@corp.local" CLOSE "\"; src_user_name:\"" OPEN
	   "Levi, Dana (dlevi)" CLOSE "\"; web_client_type:\"Other: Python-urllib/3.11\"]",
	   DB("WS-FIN-0142@corp.local"), UB("Levi, Dana (dlevi)"));
	/* audit log: administrator; destination identities */
	OK(cp, "<134>1 2024-05-02T10:01:00Z mgmt CheckPoint 3001 - ",
	   "[action:\"Log In\"; origin:\"10.0.0.2\"; product:\"SmartConsole\"; administrator:\""
	   OPEN "cpadmin" CLOSE "\"; dst_user_name:\"" OPEN "svc_backup" CLOSE
	   "\"; dst_machine_name:\"" OPEN "FS01" CLOSE "\"; ]",
	   UB("cpadmin"), UB("svc_backup"), DB("FS01"));
	/* no identity */
	NONE(cp, "<134>1 2019-11-27T02:58:25Z ABDP-CPLOG01 CheckPoint 22103 - ",
	     "[action:\"Accept\"; flags:\"18692\"; ifdir:\"inbound\"; ifname:\"bond1.734\"; "
	     "origin:\"10.4.150.2\"; product:\"VPN-1 & FireWall-1\"; proto:\"6\"; ]");
}

static void test_checkpoint_escapes(void **state)
{
	(void)state;
	/* \" \\ \] in values; ';' ']' '[' inside quotes */
	OK(cp, "<134>1 2020-01-02T14:04:50Z fwmgmt CheckPoint 16559 - ",
	   "[action:\"Accept\"; __policy_id_tag:\"product=VPN-1 & FireWall-1[db_tag={E97DE696};"
	   "mgmt=fwmgmt;policy_name=Standard\\]\"; src_user_name:\"" OPEN
	   "John \\\"JD\\\" Doe (jdoe)" CLOSE "\"; user:\"" OPEN "CORP\\\\jdoe" CLOSE
	   "\"; dst:\"1.2.3.4\"; ]",
	   UB("John \"JD\" Doe (jdoe)"), UB("CORP\\jdoe"));
	/* without brackets; unicode; an empty value */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ",
	   "action:\"Drop\"; origin:\"10.1.1.1\"; src_user_name:\"" OPEN
	   "Łukasz Żółć (lzolc)" CLOSE "\"; user:\"" OPEN CLOSE "\"",
	   UB("Łukasz Żółć (lzolc)"), UB(""));
	/* bare values run to ';' or ']' */
	OK(cp, "", "[action:Accept; origin:\"1.1.1.1\"; administrator:" OPEN "admin" CLOSE
	   " ; src_machine_name:" OPEN "pc 9" CLOSE "]",
	   UN("admin"), DN("pc 9"));
	/* an SD element before the block (a relay's) */
	OK(cp, "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ",
	   "[meta sequenceId=\"7\"][action:\"Drop\"; origin:\"1.1.1.1\"; user:\"" OPEN
	   "ivan" CLOSE "\"]",
	   UB("ivan"));
}

static void test_checkpoint_malformed(void **state)
{
	(void)state;
	const char *h = "<134>1 2024-05-02T10:00:00Z gw CheckPoint 1 - ";
	BAD(cp, h, "[action:\"Accept\"; origin:\"1.1.1.1\"; src_user_name:\"cut");
	/* the structure breaks before an identity */
	BAD(cp, h, "[action:\"Accept\"; broken token here user:\"x\"]");
	BAD(cp, h, "[action:\"Accept\"; msg:\"never closed; user:\"x\"]");
	BAD(cp, h, "[action:\"Accept\"; file:\"C:\\T\\\"; user:\"bob\"]");
	/* ... or where none follows: what came before stands */
	OK(cp, h, "[action:\"Accept\"; user:\"" OPEN "x" CLOSE "\"; trailing garbage",
	   UB("x"));
	/* not Check Point at all */
	NOTMINE(cp, "<189>", "date=2024-03-01 logid=\"1\" user=\"bob\"");
	NOTMINE(cp, "", "{\"action\":\"Accept\"}");
	NOTMINE(cp, "", "");
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
	fgt = vdp_format_find("fortigate");
	sophos = vdp_format_find("sophos");
	cp = vdp_format_find("checkpoint");
	junos = vdp_format_find("juniper");
	if (!fgt || !sophos || !cp || !junos)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_detect_matrix),
		cmocka_unit_test(test_fortigate_logs),
		cmocka_unit_test(test_fortigate_quoting),
		cmocka_unit_test(test_fortigate_unicode),
		cmocka_unit_test(test_fortigate_malformed),
		cmocka_unit_test(test_fortigate_keys),
		cmocka_unit_test(test_sophos_sfos),
		cmocka_unit_test(test_sophos_utm),
		cmocka_unit_test(test_checkpoint_logs),
		cmocka_unit_test(test_checkpoint_escapes),
		cmocka_unit_test(test_checkpoint_malformed),
		cmocka_unit_test(test_juniper_sd),
		cmocka_unit_test(test_juniper_body),
		cmocka_unit_test(test_juniper_malformed),
		cmocka_unit_test(test_juniper_sd_bounds),
		cmocka_unit_test(test_juniper_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
