/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The dataplane core: unescaping, source options, the regex extractor and
 * the burst pipeline (identities, dedupe, repeats, domains, "no user",
 * markers, drops and their counters), with the real token engine. The
 * format parsers have their own tests; the round trip over every test line
 * of every format is test_dp_roundtrip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pvt.h"
#include "veil_dp.h"
#include "veil_name.h"

static const uint8_t raw_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
				     15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
				     26, 27, 28, 29, 30, 31, 32 };

struct fx {
	struct veil_engine *e;
	struct veil_keyring *ring;
	const struct veil_key *key;
	struct vdp_source *src;
	struct vdp_worker *w;
	struct vdp_burst out;
	char buf[8192];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->e = veil_engine_new(NULL);
	assert_non_null(f->e);
	f->ring = veil_keyring_new("acme");
	struct veil_key *k = veil_key_new(raw_key, "acme", 3);
	assert_non_null(k);
	assert_int_equal(veil_keyring_add(f->ring, k), 0);
	f->key = veil_keyring_get(f->ring, 3);
	f->src = vdp_source_new("test");
	assert_non_null(f->src);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vdp_worker_free(f->w);
	vdp_source_free(f->src);
	veil_keyring_free(f->ring);
	veil_engine_free(f->e);
	free(f);
	return 0;
}

static void set(struct fx *f, const char *k, const char *v)
{
	char err[200] = "";
	if (vdp_source_set(f->src, k, v, err, sizeof(err)) != 0)
		fail_msg("%s=%s: %s", k, v, err);
}

/* A regex source: "user=X" and "host=Y" words. */
static void regex_source(struct fx *f)
{
	set(f, "format", "regex");
	set(f, "regex", "user=(?<user>[^ ]*)(?: .*host=(?<device>[^ ]*))?");
}

static void start(struct fx *f)
{
	struct vdp_source *list[] = { f->src };
	vdp_worker_free(f->w);
	f->w = vdp_worker_new(f->e, list, 1);
	assert_non_null(f->w);
	vdp_worker_set_key(f->w, 0, f->key);
}

/* Run one line; returns the output text (in f->buf) or NULL if dropped. */
static const char *run1(struct fx *f, const char *line)
{
	struct vdp_line in = { line, (uint32_t)strlen(line), 0 };
	unsigned fw = vdp_process_burst(f->w, &in, 1, &f->out);
	if (fw == 0)
		return NULL;
	size_t n = vdp_burst_copy(&f->out, 0, f->buf, sizeof(f->buf) - 1);
	assert_true(n == f->out.line[0].len);
	f->buf[n] = '\0';
	return f->buf;
}

/* Decrypt token segment k of output line 0 into name (NUL-terminated). */
static void seg_name(struct fx *f, unsigned k, char *name, size_t cap, int *kind)
{
	const struct vdp_seg *s = f->out.segs + f->out.line[0].first_seg + k;
	assert_true(s->token);
	struct veil_item it = { .in = (const uint8_t *)s->p, .in_len = s->len,
				.out = (uint8_t *)name, .out_cap = cap - 1 };
	assert_int_equal(veil_token_decrypt_batch(f->e, f->ring, VEIL_KIND_ANY, &it, 1), 1);
	name[it.out_len] = '\0';
	*kind = it.kind;
}

static void test_unescape(void **state)
{
	(void)state;
	char out[64];
	uint32_t pos[64];
	long n;
	n = vdp_unescape(VDP_ESC_CEF_EXT, "a\\=b\\\\c\\nd\\x", 12, out, sizeof(out), pos);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "a=b\\c\nd\\x", 9);
	assert_int_equal(pos[1], 1); /* '=' came from "\=" at 1 */
	assert_int_equal(pos[2], 3);
	n = vdp_unescape(VDP_ESC_CEF_HDR, "x\\|y\\=", 6, out, sizeof(out), NULL);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "x|y\\=", 5);
	n = vdp_unescape(VDP_ESC_JSON, "caf\\u00e9 \\ud83d\\ude00\\\"", 24, out, sizeof(out), pos);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "caf\xc3\xa9 \xf0\x9f\x98\x80\"", 11);
	assert_int_equal(pos[4], 3);
	assert_int_equal(vdp_unescape(VDP_ESC_JSON, "\\ud83d", 6, out, 64, NULL), -1);
	assert_int_equal(vdp_unescape(VDP_ESC_JSON, "\\q", 2, out, 64, NULL), -1);
	assert_int_equal(vdp_unescape(VDP_ESC_JSON, "a\tb", 3, out, 64, NULL), -1);
	n = vdp_unescape(VDP_ESC_CSV, "say \"\"hi\"\"", 10, out, sizeof(out), NULL);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "say \"hi\"", 8);
	assert_int_equal(vdp_unescape(VDP_ESC_CSV, "a\"b", 3, out, 64, NULL), -1);
	n = vdp_unescape(VDP_ESC_BACKSLASH, "a\\\"b\\]", 6, out, sizeof(out), NULL);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "a\"b]", 4);
	/* only \" \\ \] are escapes: DOMAIN\user keeps its backslash */
	n = vdp_unescape(VDP_ESC_BACKSLASH, "CORP\\alice\\\\x\\", 14, out, sizeof(out), NULL);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "CORP\\alice\\x\\", 13);
	/* too small an output is an error, not a truncation */
	assert_int_equal(vdp_unescape(VDP_ESC_NONE, "abcdef", 6, out, 3, NULL), -1);
}

static void test_source_options(void **state)
{
	struct fx *f = *state;
	char err[200];
	assert_int_equal(vdp_source_set(f->src, "format", "nope", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown"));
	assert_int_equal(vdp_source_set(f->src, "keep_domain", "perhaps", err, sizeof(err)), -1);
	assert_int_equal(vdp_source_set(f->src, "on_bad_field", "explode", err, sizeof(err)), -1);
	assert_int_equal(vdp_source_set(f->src, "colour", "blue", err, sizeof(err)), -1);
	assert_int_equal(vdp_source_set(f->src, "regex", "user=(?<user>", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regex"));
	assert_int_equal(vdp_source_set(f->src, "regex", "no groups", err, sizeof(err)), -1);
	/* format regex without a regex: no worker */
	set(f, "format", "regex");
	struct vdp_source *list[] = { f->src };
	assert_null(vdp_worker_new(f->e, list, 1));
	assert_int_equal(errno, EINVAL);
	/* every format has a name the config accepts */
	for (const char *const *n = vdp_format_names(); *n != NULL; n++)
		assert_int_equal(vdp_source_set(f->src, "format", *n, err, sizeof(err)), 0);
	/* W3C: pinned columns and the refusal of columns without identity */
	assert_int_equal(vdp_source_set(f->src, "w3c_allow_no_identity", "perhaps",
					err, sizeof(err)), -1);
	assert_int_equal(vdp_source_set(f->src, "w3c_fields", " \t", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "w3c_fields"));
	char many[1200] = "";
	for (int i = 0; i < 257; i++)
		strcat(many, "c ");
	assert_int_equal(vdp_source_set(f->src, "w3c_fields", many, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "256 columns"));
	assert_null(f->src->w3c_fields);
	/* a continuation line adds columns */
	set(f, "w3c_fields", "date time");
	set(f, "w3c_fields", "cs-uri");
	assert_string_equal(f->src->w3c_fields, "date time cs-uri");
	/* ... which must hold an identity, unless allowed */
	set(f, "format", "w3c");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "w3c_allow_no_identity = yes"));
	set(f, "w3c_allow_no_identity", "yes");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), 0);
	set(f, "w3c_allow_no_identity", "no");
	set(f, "user_fields", "cs-uri");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), 0);
	set(f, "format", "auto");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), 0);
	/* and only where W3C may be the format */
	set(f, "format", "cef");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "format is cef"));
	assert_int_equal(vdp_source_set(f->src, "user_fields", "a, b,c", err, sizeof(err)), 0);
	unsigned ci = vdp_format_index(vdp_format_find("cef"));
	assert_int_equal(vdp_keys_find(&f->src->keys[ci], "b", 1), VEIL_KIND_USER);
	assert_int_equal(vdp_keys_find(&f->src->keys[ci], "suser", 5), -1);
	assert_int_equal(vdp_keys_find(&f->src->keys[ci], "shost", 5), VEIL_KIND_DEVICE);
}

static void test_rewrite_and_roundtrip(void **state)
{
	struct fx *f = *state;
	char name[64];
	int kind;
	regex_source(f);
	start(f);
	const char *line = "<13>login ok user=alice@example.com from 10.0.0.1 host=WS-0042 end";
	const char *o = run1(f, line);
	assert_non_null(o);
	assert_null(strstr(o, "alice@example.com"));
	assert_null(strstr(o, "WS-0042"));
	assert_true(strncmp(o, "<13>login ok user=veil_u3_", 26) == 0);
	/* segments: text, token, text, token, text; tokens decrypt to the names */
	assert_int_equal(f->out.line[0].n_segs, 5);
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "alice@example.com");
	assert_int_equal(kind, VEIL_KIND_USER);
	seg_name(f, 3, name, sizeof(name), &kind);
	assert_string_equal(name, "WS-0042");
	assert_int_equal(kind, VEIL_KIND_DEVICE);
	/* the rest is the input, byte for byte: put the raw spans back */
	char back[256];
	size_t n = 0;
	const struct vdp_seg *s = f->out.segs + f->out.line[0].first_seg;
	for (unsigned k = 0; k < f->out.line[0].n_segs; k++) {
		const char *p = s[k].token ? line + s[k].src_off : s[k].p;
		size_t l = s[k].token ? s[k].src_len : s[k].len;
		memcpy(back + n, p, l);
		n += l;
	}
	assert_int_equal(n, strlen(line));
	assert_memory_equal(back, line, n);
	/* the same line gives the same output, in a later burst too */
	char first[512];
	strcpy(first, o);
	assert_string_equal(run1(f, line), first);
	const struct vdp_counters *c = vdp_worker_counters(f->w, 0);
	assert_int_equal(c->lines_in, 2);
	assert_int_equal(c->lines_out, 2);
	assert_int_equal(c->identities, 4);
	assert_int_equal(c->identities_kind[VEIL_KIND_USER], 2);
	assert_int_equal(c->identities_kind[VEIL_KIND_DEVICE], 2);
}

static void test_burst_dedupe_and_order(void **state)
{
	struct fx *f = *state;
	regex_source(f);
	start(f);
	struct vdp_line in[VDP_BURST_MAX];
	char lines[VDP_BURST_MAX][64];
	for (unsigned i = 0; i < VDP_BURST_MAX; i++) {
		snprintf(lines[i], sizeof(lines[i]), "user=u%u host=h%u", i % 7, i % 3);
		in[i] = (struct vdp_line){ lines[i], (uint32_t)strlen(lines[i]), 0 };
	}
	assert_int_equal(vdp_process_burst(f->w, in, VDP_BURST_MAX, &f->out), VDP_BURST_MAX);
	/* the same name in two lines of the burst: the same token */
	char a[512], b[512];
	size_t na = vdp_burst_copy(&f->out, 0, a, sizeof(a));
	size_t nb = vdp_burst_copy(&f->out, 21, b, sizeof(b));
	assert_true(na > 100);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	nb = vdp_burst_copy(&f->out, 1, b, sizeof(b));
	assert_false(na == nb && memcmp(a, b, na) == 0);
	/* a buffer too small: nothing copied */
	assert_int_equal(vdp_burst_copy(&f->out, 0, a, 10), 0);
}

static void test_repeats_and_boundaries(void **state)
{
	struct fx *f = *state;
	regex_source(f);
	start(f);
	const char *o = run1(f, "user=bob msg=\"bob logged in; bobby is not bob.x nor xbob\" bob");
	assert_non_null(o);
	/* "bob" as a word goes everywhere; "bobby", "xbob", "bob.x" stay */
	assert_non_null(strstr(o, "bobby"));
	assert_non_null(strstr(o, "xbob"));
	assert_non_null(strstr(o, "bob.x"));
	unsigned count = 0;
	for (const char *p = o; (p = strstr(p, "veil_u3_")) != NULL; p++)
		count++;
	assert_int_equal(count, 3);
	assert_int_equal(vdp_worker_counters(f->w, 0)->repeats, 2);
	set(f, "replace_repeats", "no");
	start(f);
	o = run1(f, "user=bob said bob");
	assert_non_null(strstr(o, "said bob"));
}

static void test_keep_domain_and_no_user(void **state)
{
	struct fx *f = *state;
	char name[64];
	int kind;
	regex_source(f);
	set(f, "keep_domain", "yes");
	start(f);
	const char *o = run1(f, "user=CORP\\carol host=pc1");
	assert_non_null(o);
	assert_true(strncmp(o, "user=CORP\\veil_u3_", 18) == 0);
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "carol");
	o = run1(f, "user=dave@corp.example");
	assert_non_null(strstr(o, "@corp.example"));
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "dave");
	/* "no user" values are left alone and counted */
	o = run1(f, "user=- host=N/A");
	assert_string_equal(o, "user=- host=N/A");
	o = run1(f, "user=UNKNOWN");
	assert_string_equal(o, "user=UNKNOWN");
	assert_int_equal(vdp_worker_counters(f->w, 0)->no_user, 3);
	set(f, "no_user", "nobody");
	start(f);
	o = run1(f, "user=- host=nobody");
	assert_null(strstr(o, "user=-"));
}

static void test_fail_closed(void **state)
{
	struct fx *f = *state;
	char big[1200];
	regex_source(f);
	start(f);
	/* a name longer than the engine takes: the line is dropped */
	memcpy(big, "user=", 5);
	memset(big + 5, 'x', 1100);
	big[1105] = '\0';
	assert_null(run1(f, big));
	assert_int_equal(f->out.line[0].reason, VDP_R_TOO_LONG);
	/* a line the regex does not match: dropped, unless forward */
	assert_null(run1(f, "nothing to see"));
	assert_int_equal(f->out.line[0].reason, VDP_R_UNKNOWN_FORMAT);
	const struct vdp_counters *c = vdp_worker_counters(f->w, 0);
	assert_int_equal(c->drops[VDP_R_TOO_LONG], 1);
	assert_int_equal(c->drops[VDP_R_UNKNOWN_FORMAT], 1);
	assert_int_equal(c->lines_dropped, 2);
	assert_string_equal(vdp_reason_name(VDP_R_TOO_LONG), "name-too-long");
	/* with the marker, the field is replaced instead */
	set(f, "on_bad_field", "marker");
	set(f, "on_unknown", "forward");
	start(f);
	const char *o = run1(f, big);
	assert_non_null(o);
	assert_string_equal(o, "user=" VDP_MARKER);
	o = run1(f, "nothing to see");
	assert_string_equal(o, "nothing to see");
	c = vdp_worker_counters(f->w, 0);
	assert_int_equal(c->marked, 1);
	assert_int_equal(c->lines_unparsed, 1);
	/* no key yet: dropped, never forwarded in clear */
	vdp_worker_set_key(f->w, 0, NULL);
	assert_null(run1(f, "user=erin"));
	assert_int_equal(f->out.line[0].reason, VDP_R_NO_KEY);
}

static void test_name_memory_chunks(void **state)
{
	struct fx *f = *state;
	/* 256 lines of 32 names of 1000 bytes each: more names than the
	 * worker's 1 MiB at once; every line still comes out right */
	set(f, "format", "regex");
	char pat[2048] = "";
	strcat(pat, "^");
	for (int i = 0; i < 32; i++) {
		char g[64];
		snprintf(g, sizeof(g), "(?<user%d>[^ ]*) ", i + 1);
		strcat(pat, g);
	}
	set(f, "regex", pat);
	start(f);
	static struct vdp_line in[VDP_BURST_MAX];
	static char lines[VDP_BURST_MAX][32 * 1001 + 1];
	for (unsigned i = 0; i < VDP_BURST_MAX; i++) {
		char *p = lines[i];
		for (int k = 0; k < 32; k++) {
			memset(p, 'a' + (char)(k % 26), 1000);
			snprintf(p, 12, "%03u-%02d", i, k);
			p[strlen(p)] = 'y';
			p += 1000;
			*p++ = ' ';
		}
		*p = '\0';
		in[i] = (struct vdp_line){ lines[i], (uint32_t)strlen(lines[i]), 0 };
	}
	assert_int_equal(vdp_process_burst(f->w, in, VDP_BURST_MAX, &f->out), VDP_BURST_MAX);
	const struct vdp_counters *c = vdp_worker_counters(f->w, 0);
	assert_int_equal(c->identities, 32 * VDP_BURST_MAX);
	assert_int_equal(c->lines_in, VDP_BURST_MAX);
	for (unsigned i = 0; i < VDP_BURST_MAX; i++)
		assert_int_equal(f->out.line[i].n_segs, 64);
}

/* A burst of more distinct names than the name table starts with (it
 * grows while the burst is read): every line comes out as it does alone,
 * and a name repeated across the burst has one token. */
static void test_many_names_one_burst(void **state)
{
	struct fx *f = *state;
	set(f, "format", "regex");
	set(f, "regex", "^(?<user>[^ ]*) (?<user2>[^ ]*) (?<user3>[^ ]*) "
			"(?<user4>[^ ]*) (?<device>[^ ]*) (?<device2>[^ ]*)");
	start(f);
	static struct vdp_line in[VDP_BURST_MAX];
	static char lines[VDP_BURST_MAX][128];
	for (unsigned i = 0; i < VDP_BURST_MAX; i++) {
		/* 1536 names, 1100 distinct users and 900 distinct devices
		 * at most, each kind sharing spellings with the other */
		unsigned a = i * 4;
		snprintf(lines[i], sizeof(lines[i]), "u%u u%u u%u u%u u%u h%u",
			 a % 1100, (a + 1) % 1100, (a + 2) % 1100, (a + 3) % 1100,
			 (i * 2) % 900, (i * 2 + 1) % 900);
		in[i] = (struct vdp_line){ lines[i], (uint32_t)strlen(lines[i]), 0 };
	}
	assert_int_equal(vdp_process_burst(f->w, in, VDP_BURST_MAX, &f->out), VDP_BURST_MAX);
	static char burst[VDP_BURST_MAX][2048];
	static size_t blen[VDP_BURST_MAX];
	for (unsigned i = 0; i < VDP_BURST_MAX; i++) {
		blen[i] = vdp_burst_copy(&f->out, i, burst[i], sizeof(burst[i]));
		assert_true(blen[i] > 0);
	}
	for (unsigned i = 0; i < VDP_BURST_MAX; i++) {
		const char *one = run1(f, lines[i]);
		assert_non_null(one);
		assert_int_equal(strlen(one), blen[i]);
		assert_memory_equal(one, burst[i], blen[i]);
	}
}

/* The generic extractors: key=value keys, CSV columns, JSON paths, as a
 * source names them. */
static void test_generic_extractors(void **state)
{
	struct fx *f = *state;
	char name[64];
	int kind;
	set(f, "format", "kv");
	set(f, "user_fields", "account, login");
	set(f, "device_fields", "client");
	start(f);
	const char *o = run1(f, "ts=1 account=\"frank smith\" client=pc7 note=x");
	assert_non_null(o);
	assert_null(strstr(o, "frank smith"));
	assert_null(strstr(o, "pc7"));
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "frank smith");
	assert_int_equal(kind, VEIL_KIND_USER);
	/* kv and csv are never auto-detected: a source names them */
	assert_false(vdp_format_find("kv")->detect(&(struct vdp_msg){ .data = "a=b", .len = 3 }));

	vdp_source_free(f->src);
	f->src = vdp_source_new("csv");
	set(f, "format", "csv");
	set(f, "user_fields", "col:3");
	set(f, "device_fields", "col:5");
	start(f);
	o = run1(f, "2026-11-24,allow,\"Doe, Jane\",10.0.0.1,LAPTOP-9,443");
	assert_non_null(o);
	assert_null(strstr(o, "Doe"));
	assert_null(strstr(o, "LAPTOP-9"));
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "Doe, Jane");
	assert_true(strncmp(o, "2026-11-24,allow,\"veil_u3_", 26) == 0);

	vdp_source_free(f->src);
	f->src = vdp_source_new("json");
	set(f, "format", "json");
	set(f, "user_fields", "actor.name");
	set(f, "device_fields", "");
	start(f);
	o = run1(f, "{\"actor\":{\"name\":\"gina\",\"id\":7},\"login\":\"kept\"}");
	assert_non_null(o);
	assert_null(strstr(o, "gina"));
	assert_non_null(strstr(o, "\"login\":\"kept\""));
}

/* ProxySG access log lines as ProxySG sends them over syslog: no #Fields
 * header ever arrives. Columns per the ProxySG access logging guide's
 * predefined formats "main" and "bcreportermain_v1". */
static const char sg_main[] =
	"<134>Mar  1 10:15:22 proxysg01 2024-03-01 10:15:22 128 10.1.20.45 200 "
	"TCP_NC_MISS 5084 2228 GET https www.example.com 443 /search ?q=a jdoe "
	"CORP\\Sales DIRECT www.example.com text/html - \"Mozilla/5.0 (Windows NT "
	"10.0; Win64; x64)\" OBSERVED \"Search Engines/Portals\" - 10.1.0.5";
static const char sg_bcr[] =
	"<134>Mar  1 10:16:40 proxysg01 2024-03-01 10:16:40 31 10.1.20.46 dlevi - - "
	"OBSERVED \"Social Networking\" - 200 TCP_TUNNELED CONNECT - tcp "
	"www.reddit.com 443 / - - \"Mozilla/5.0\" 10.1.0.5 517 0 -";

/* The one token of output line 0 decrypts to @p want. */
static void one_token(struct fx *f, const char *want, int want_kind)
{
	char name[128];
	int kind = -1;
	unsigned tokens = 0, at = 0;
	for (unsigned k = 0; k < f->out.line[0].n_segs; k++)
		if (f->out.segs[f->out.line[0].first_seg + k].token) {
			tokens++;
			at = k;
		}
	assert_int_equal(tokens, 1);
	seg_name(f, at, name, sizeof(name), &kind);
	assert_string_equal(name, want);
	assert_int_equal(kind, want_kind);
}

static void test_w3c_without_header(void **state)
{
	struct fx *f = *state;
	char err[200];
	/* format auto: a data line of a known layout's shape is parsed
	 * with that layout's columns, before any #Fields */
	start(f);
	const char *o = run1(f, sg_main);
	assert_non_null(o);
	assert_null(strstr(o, " jdoe "));
	one_token(f, "jdoe", VEIL_KIND_USER);
	o = run1(f, sg_bcr);
	assert_non_null(o);
	assert_null(strstr(o, "dlevi"));
	one_token(f, "dlevi", VEIL_KIND_USER);
	/* a line that matches no layout is still dropped and counted */
	assert_null(run1(f, "<134>Mar  1 10:17:00 proxysg01 2024-03-01 10:17:00 "
			    "12 10.1.20.47 jdoe GET http://example.com/"));
	const struct vdp_counters *c = vdp_worker_counters(f->w, 0);
	assert_int_equal(c->drops[VDP_R_UNKNOWN_FORMAT], 1);
	assert_int_equal(c->lines_out, 2);

	/* the columns from the config: a layout name ... */
	set(f, "format", "w3c");
	set(f, "fields", "proxysg-main");
	assert_non_null(f->src->w3c_fields);
	assert_int_equal(strncmp(f->src->w3c_fields, "date time time-taken c-ip sc-status", 35), 0);
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), 0);
	start(f);
	assert_non_null(run1(f, sg_main));
	one_token(f, "jdoe", VEIL_KIND_USER);
	/* pinned columns: a line with another number of fields drops */
	assert_null(run1(f, "<134>Mar  1 10:17:00 proxysg01 2024-03-01 10:17:00 "
			    "12 10.1.20.47 jdoe GET http://example.com/"));
	assert_int_equal(vdp_worker_counters(f->w, 0)->drops[VDP_R_MALFORMED], 1);
}

static void test_fields_option(void **state)
{
	struct fx *f = *state;
	char err[200];
	/* ... or the column list itself (as after #Fields:) */
	set(f, "format", "w3c");
	set(f, "fields", "date time c-ip cs-username cs-method cs-uri sc-status");
	assert_string_equal(f->src->w3c_fields,
			    "date time c-ip cs-username cs-method cs-uri sc-status");
	assert_int_equal(vdp_source_check(f->src, err, sizeof(err)), 0);
	start(f);
	const char *o = run1(f, "2024-03-01 10:00:00 10.1.2.3 CORP\\jdoe GET "
			     "http://example.com/ 200");
	assert_non_null(o);
	one_token(f, "CORP\\jdoe", VEIL_KIND_USER);
	assert_null(run1(f, "2024-03-01 10:00:00 10.1.2.3 CORP\\jdoe GET"));

	/* the squid and ncsa layouts are the squid parsers' */
	struct vdp_source *s = vdp_source_new("sq");
	assert_non_null(s);
	assert_int_equal(vdp_source_set(s, "fields", "squid", err, sizeof(err)), 0);
	assert_ptr_equal(s->fmt, &vdp_fmt_squid);
	assert_int_equal(vdp_source_check(s, err, sizeof(err)), 0);
	assert_int_equal(vdp_source_set(s, "fields", "ncsa", err, sizeof(err)), 0);
	assert_ptr_equal(s->fmt, &vdp_fmt_squid_common);
	/* a named layout and another format contradict each other */
	assert_int_equal(vdp_source_set(s, "format", "cef", err, sizeof(err)), 0);
	assert_int_equal(vdp_source_check(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fields"));
	vdp_source_free(s);
	s = vdp_source_new("sg");
	assert_non_null(s);
	assert_int_equal(vdp_source_set(s, "format", "cef", err, sizeof(err)), 0);
	assert_int_equal(vdp_source_set(s, "fields", "proxysg-main", err, sizeof(err)), 0);
	assert_int_equal(vdp_source_check(s, err, sizeof(err)), -1);
	vdp_source_free(s);
}

/* The pipeline encrypts exactly what veil_name_normalize() gives for the
 * source's rule: the function veil-controld's lookup applies (UTF-8 bytes
 * untouched, the last '\' or '@' taken, an '@' in front kept). */
static void test_normalize_as_lookup(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {
		"CORP\\JDoe", "jdoe@Corp.Example", "@Admin", "A\\B\\Carl",
		"a@b@C", "\xc3\x84RGER\\\xc3\x96ZIL", "Z\xc3\xa9ZETTE@x", "MiXeD",
	};
	static const struct { const char *lower, *strip; } opt[] = {
		{ "none", "no" }, { "lower", "no" }, { "none", "yes" }, { "lower", "yes" },
	};
	regex_source(f);
	for (unsigned r = 0; r < VEIL_NORM_RULES; r++) {
		set(f, "normalize_user", opt[r].lower);
		set(f, "strip_domain", opt[r].strip);
		start(f);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char line[128], got[128], want[128];
			int kind;
			snprintf(line, sizeof(line), "user=%s host=PC1", names[i]);
			assert_non_null(run1(f, line));
			seg_name(f, 1, got, sizeof(got), &kind);
			size_t n = veil_name_normalize(r, names[i], strlen(names[i]), want);
			want[n] = '\0';
			if (strcmp(got, want) != 0)
				fail_msg("rule %s, %s: the pipeline encrypted \"%s\", the "
					 "lookup would encrypt \"%s\"", veil_norm_rule_name(r),
					 names[i], got, want);
		}
	}
}

/* normalize_user and strip_domain: one person, one token. */
static void test_normalize_user(void **state)
{
	struct fx *f = *state;
	char name[64], first[256];
	int kind;
	/* off by default: the name as the log wrote it */
	regex_source(f);
	start(f);
	assert_non_null(run1(f, "user=CORP\\JDoe host=PC1"));
	seg_name(f, 1, name, sizeof(name), &kind);
	assert_string_equal(name, "CORP\\JDoe");

	char err[100];
	assert_int_equal(vdp_source_set(f->src, "normalize_user", "upper", err,
					sizeof(err)), -1);
	assert_non_null(strstr(err, "normalize_user"));
	set(f, "normalize_user", "lower");
	set(f, "strip_domain", "yes");
	start(f);
	static const char *const spellings[] = {
		"user=CORP\\JDoe host=PC1", "user=jdoe@corp.example host=PC1",
		"user=JDOE host=PC1", "user=corp.example\\jdoe host=PC1",
	};
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		const char *o = run1(f, spellings[i]);
		assert_non_null(o);
		/* the whole value is replaced: no domain left in clear */
		assert_true(strncmp(o, "user=veil_u3_", 13) == 0);
		assert_null(strstr(o, "corp"));
		assert_null(strstr(o, "CORP"));
		seg_name(f, 1, name, sizeof(name), &kind);
		assert_string_equal(name, "jdoe");
		assert_int_equal(kind, VEIL_KIND_USER);
		/* the same token for every spelling */
		size_t tl = f->out.segs[f->out.line[0].first_seg + 1].len;
		assert_true(tl < sizeof(first));
		if (i == 0)
			memcpy(first, f->out.segs[f->out.line[0].first_seg + 1].p, tl);
		else
			assert_memory_equal(first,
					    f->out.segs[f->out.line[0].first_seg + 1].p, tl);
	}
	/* devices are not normalized */
	assert_non_null(run1(f, "user=a host=PC1.Corp.Example"));
	seg_name(f, 3, name, sizeof(name), &kind);
	assert_string_equal(name, "PC1.Corp.Example");
	/* the log's own spelling elsewhere in the line is replaced too */
	const char *o = run1(f, "user=JDoe msg=(JDoe) host=x");
	assert_non_null(o);
	assert_null(strstr(o, "JDoe"));
	/* a domain alone is no user */
	o = run1(f, "user=CORP\\ host=x");
	assert_non_null(strstr(o, "user=CORP\\ "));
}

/* The preview: what the worker would do, with no engine and no key. */
/* Juniper SSG / NetScreen (ScreenOS): its syslog names users only in
 * the text of events (the admin logon), read with format regex as
 * docs/formats.md gives it; the device_id (the firewall) stays */
static void test_juniper_ssg_regex(void **state)
{
	struct fx *f = *state;
	set(f, "format", "regex");
	set(f, "regex", "[Aa]dmin user \"?(?<user>[^\" ]+)\"? ");
	start(f);
	const char *out = run1(f, "<164>ssg5-hq: NetScreen device_id=ssg5-hq "
			       "[Root]system-warning-00515: Admin user jdoe has logged "
			       "on via Telnet from 10.1.20.45:37314 (2024-03-01 10:15:22)");
	assert_non_null(out);
	one_token(f, "jdoe", VEIL_KIND_USER);
	assert_null(strstr(out, "user jdoe"));
	assert_non_null(strstr(out, "device_id=ssg5-hq "));
	/* a traffic log has no user: no match, dropped (fail closed) unless
	 * on_unknown = forward */
	assert_null(run1(f, "<133>ssg5-hq: NetScreen device_id=ssg5-hq "
			 "[Root]system-notification-00257(traffic): start_time=\"2024-03-01 "
			 "10:15:22\" duration=5 policy_id=2 service=https proto=6 src "
			 "zone=Trust dst zone=Untrust action=Permit sent=2228 rcvd=5084 "
			 "src=10.1.20.45 dst=93.184.216.34 src_port=52144 dst_port=443"));
}

static void test_explain(void **state)
{
	struct fx *f = *state;
	struct vdp_source *list[] = { f->src };
	struct vdp_worker *w = vdp_worker_new(NULL, list, 1);
	assert_non_null(w);
	struct vdp_explain x;
	const char *const *names = vdp_format_names();
	/* a header-less ProxySG line: W3C, one user, the span of "jdoe" */
	assert_int_equal(vdp_worker_explain(w, 0, sg_main, strlen(sg_main), &x), 0);
	assert_false(x.dropped);
	assert_string_equal(names[x.format], "w3c");
	assert_int_equal(x.n, 1);
	assert_int_equal(x.f[0].kind, VEIL_KIND_USER);
	assert_int_equal(x.f[0].what, VDP_EX_TOKEN);
	assert_memory_equal(sg_main + x.f[0].off, "jdoe", 4);
	assert_int_equal(x.f[0].len, 4);
	/* "no user" values and a name too long to tokenize */
	static char cef[2200];
	memset(cef, 'a', sizeof(cef) - 1);
	memcpy(cef, "CEF:0|V|P|1|1|n|5|suser=- duser=", 32);
	assert_int_equal(vdp_worker_explain(w, 0, cef, strlen(cef), &x), 0);
	assert_string_equal(names[x.format], "cef");
	assert_int_equal(x.n, 2);
	assert_int_equal(x.f[0].what, VDP_EX_NO_USER);
	assert_int_equal(x.f[1].what, VDP_EX_BAD);
	assert_int_equal(x.f[1].reason, VDP_R_TOO_LONG);
	assert_true(x.dropped);
	assert_int_equal(x.reason, VDP_R_TOO_LONG);
	/* a line nobody takes */
	assert_int_equal(vdp_worker_explain(w, 0, "hello world", 11, &x), 0);
	assert_true(x.dropped);
	assert_int_equal(x.reason, VDP_R_UNKNOWN_FORMAT);
	assert_int_equal(x.format, -1);
	/* nothing is forwarded by a preview worker */
	struct vdp_line in = { "hello", 5, 0 };
	assert_int_equal(vdp_process_burst(w, &in, 1, &f->out), 0);
	assert_int_equal(vdp_worker_explain(w, 1, "x", 1, &x), -1);
	vdp_worker_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
		cmocka_unit_test_setup_teardown(test_source_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_and_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_dedupe_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeats_and_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_domain_and_no_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_memory_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_names_one_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generic_extractors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_w3c_without_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normalize_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normalize_as_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_juniper_ssg_regex, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
