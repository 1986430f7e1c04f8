/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * format = auto, made cheap without changing what it decides:
 *  - the byte searches of vdp_scan.h (SSE2) against their scalar twins and
 *    glibc's memmem, and CEF's and LEEF's signature searches against the
 *    byte-by-byte walks they replace, on every test line of every format
 *    and on the fuzz corpora, at every alignment;
 *  - a source whose lines switch format mid-stream, a line that a format
 *    earlier in the order claims after many lines of a later one, W3C's
 *    #Fields state (also learnt by another worker of a pool);
 *  - a cross-check: over every line of tests/data/lines/FORMAT.txt, the fuzz
 *    corpora and the benchmark corpus, the pipeline's auto gives the format
 *    and the fields of the full search written out here (every detect() in
 *    the order of vdp_formats[], then the stateful formats).
 *
 * usage: test_dp_auto LINES-DIR FUZZ-CORPUS-DIR BENCH-CORPUS
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pvt.h"
#include "vdp_scan.h"
#include "veil_dp.h"

static const char *lines_dir, *fuzz_dir, *bench_path;

/* ---- the corpus: every message of every input, in file order ---- */

struct msg {
	char *data;
	size_t len;
	bool file_start; /* the first line of a file (a new source) */
};

static struct msg *msgs;
static size_t n_msgs, cap_msgs;
static size_t n_line_msgs; /* the test lines come first */

static void add_msg(const char *p, size_t len, bool start)
{
	if (n_msgs == cap_msgs) {
		cap_msgs = cap_msgs ? 2 * cap_msgs : 4096;
		msgs = realloc(msgs, cap_msgs * sizeof(*msgs));
		assert_non_null(msgs);
	}
	char *d = malloc(len + 1);
	assert_non_null(d);
	memcpy(d, p, len);
	d[len] = '\0';
	msgs[n_msgs++] = (struct msg){ d, len, start };
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)sz + 1);
	if (b == NULL || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)sz;
	return b;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* tests/data/lines/FORMAT.txt: every line but the expectations ("@...") */
static void load_lines(void)
{
	struct dirent **ents;
	int n = scandir(lines_dir, &ents, NULL, by_name);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		size_t nl = strlen(ents[i]->d_name);
		if (nl > 4 && strcmp(ents[i]->d_name + nl - 4, ".txt") == 0) {
			char path[4096], *b;
			size_t len;
			snprintf(path, sizeof(path), "%s/%s", lines_dir, ents[i]->d_name);
			assert_non_null(b = slurp(path, &len));
			bool start = true;
			for (char *p = b, *end = b + len; p < end;) {
				char *e = memchr(p, '\n', (size_t)(end - p));
				size_t l = e ? (size_t)(e - p) : (size_t)(end - p);
				if (l > 0 && p[0] != '@') {
					add_msg(p, l, start);
					start = false;
				}
				p += l + 1;
			}
			free(b);
		}
		free(ents[i]);
	}
	free(ents);
	n_line_msgs = n_msgs;
}

/* The fuzz corpora of the parsers: each file one message (at most 8 KiB) */
static void load_fuzz(void)
{
	static const char *const dirs[] = {
		"asa", "barracuda", "cef", "checkpoint", "csv", "fortigate",
		"json", "juniper", "kv", "leef", "panos", "pipeline", "sonicwall",
		"sophos", "squid", "squid-common", "stormshield", "syslog", "w3c",
		"watchguard", "websense", NULL };
	for (unsigned d = 0; dirs[d] != NULL; d++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, dirs[d]);
		struct dirent **ents;
		int n = scandir(path, &ents, NULL, by_name);
		bool start = true;
		for (int i = 0; i < n; i++) {
			if (ents[i]->d_name[0] != '.') {
				char f[8192], *b;
				size_t len;
				snprintf(f, sizeof(f), "%s/%s", path, ents[i]->d_name);
				if ((b = slurp(f, &len)) != NULL) {
					add_msg(b, len > 8192 ? 8192 : len, start);
					start = false;
					free(b);
				}
			}
			free(ents[i]);
		}
		if (n > 0)
			free(ents);
	}
}

/* The benchmark's corpus: "FORMAT<TAB>MESSAGE" lines */
static void load_bench(void)
{
	size_t len;
	char *b = slurp(bench_path, &len);
	assert_non_null(b);
	bool start = true;
	for (char *p = b, *end = b + len; p < end;) {
		char *e = memchr(p, '\n', (size_t)(end - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(end - p);
		char *tab = memchr(p, '\t', l);
		if (tab != NULL) {
			add_msg(tab + 1, l - (size_t)(tab + 1 - p), start);
			start = false;
		}
		p += l + 1;
	}
	free(b);
}

static int setup(void **state)
{
	(void)state;
	load_lines();
	load_fuzz();
	load_bench();
	return n_line_msgs > 100 && n_msgs > n_line_msgs ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i].data);
	free(msgs);
	return 0;
}

/* ---- the byte searches ---- */

static void check_find(const char *h, size_t hl, const char *n, size_t nl)
{
	const char *want = memmem(h, hl, n, nl);
	assert_ptr_equal(vdp_find_scalar(h, hl, n, nl), want);
	assert_ptr_equal(vdp_find(h, hl, n, nl), want);
#ifdef __SSE2__
	assert_ptr_equal(vdp_find_sse2(h, hl, n, nl), want);
#endif
#ifdef VDP_SCAN_AVX2
	if (vdp_scan_avx2)
		assert_ptr_equal(vdp_find_avx2(h, hl, n, nl), want);
#endif
}

static void check_find2(const char *h, size_t hl, char a, char b)
{
	const char *want = NULL;
	for (size_t i = 0; i < hl && want == NULL; i++)
		if (h[i] == a || h[i] == b)
			want = h + i;
	assert_ptr_equal(vdp_find2_scalar(h, hl, a, b), want);
	assert_ptr_equal(vdp_find2(h, hl, a, b), want);
#ifdef __SSE2__
	assert_ptr_equal(vdp_find2_sse2(h, hl, a, b), want);
#endif
}

static void check_find1(const char *h, size_t hl, char a)
{
	const char *want = memchr(h, a, hl);
	assert_ptr_equal(vdp_find1_scalar(h, hl, a), want);
	assert_ptr_equal(vdp_find1(h, hl, a), want);
#ifdef __SSE2__
	assert_ptr_equal(vdp_find1_sse2(h, hl, a), want);
#endif
}

static void check_find3(const char *h, size_t hl, char a, char b, char c)
{
	const char *want = NULL;
	for (size_t i = 0; i < hl && want == NULL; i++)
		if (h[i] == a || h[i] == b || h[i] == c)
			want = h + i;
	assert_ptr_equal(vdp_find3_scalar(h, hl, a, b, c), want);
	assert_ptr_equal(vdp_find3(h, hl, a, b, c), want);
#ifdef __SSE2__
	assert_ptr_equal(vdp_find3_sse2(h, hl, a, b, c), want);
#endif
}

static void test_find_twins(void **state)
{
	(void)state;
#ifdef VDP_SCAN_AVX2
	printf("# vdp_find: AVX2 path %s\n",
	       vdp_scan_avx2 ? "checked too" : "not checked (no AVX2 here)");
#endif
	/* the needles the parsers look for, and pieces of each line */
	static const char *const fixed[] = { "CEF:", "LEEF:", ":\"", "\";",
					     "[junos@", "logid=", "msg_id=\"",
					     "devid=", "id=\"", "=", "sn=", NULL };
	for (size_t i = 0; i < n_msgs; i++) {
		/* a copy of exactly len bytes: a read past the end is caught by
		 * the sanitizers */
		const size_t len = msgs[i].len;
		char *d = malloc(len ? len : 1);
		assert_non_null(d);
		memcpy(d, msgs[i].data, len);
		/* every phase of a 16-byte block on the test lines, some on
		 * the corpora (the sanitizer build runs this too) */
		const size_t step = i < n_line_msgs ? 1 : 3;
		for (size_t a = 0; a < 17 && a <= len; a += step)
			for (size_t cut = 0; cut < 18 && a + cut <= len; cut += 17 - a % 3) {
				const char *h = d + a;
				size_t hl = len - a - cut;
				for (unsigned k = 0; fixed[k] != NULL; k++)
					check_find(h, hl, fixed[k], strlen(fixed[k]));
				for (size_t at = 0; at + 1 < len; at += 1 + len / 7)
					for (size_t nl = 1; nl <= 9 && at + nl <= len; nl += 2)
						check_find(h, hl, d + at, nl);
				/* names as long as the repeat search looks for */
				static const size_t longer[] = { 12, 16, 17, 24, 33 };
				for (size_t at = 0; at + 1 < len; at += 1 + len / 5)
					for (unsigned k = 0; k < 5 && at + longer[k] <= len; k++)
						check_find(h, hl, d + at, longer[k]);
				check_find2(h, hl, '=', '|');
				check_find2(h, hl, '"', '\\');
				/* the parsers' single bytes and sets; a byte of
				 * the line itself at several places */
				static const char one[] = "=|\",<>%[]#";
				for (const char *o = one; *o != '\0'; o++)
					check_find1(h, hl, *o);
				for (size_t at = 0; at < len; at += 1 + len / 5)
					check_find1(h, hl, d[at]);
				check_find3(h, hl, ' ', '\t', '=');
				check_find3(h, hl, '"', ' ', '\t');
			}
		free(d);
	}
}

/* ---- CEF and LEEF: the walks the searches replace ---- */

static long ref_hdr_find(const struct vdp_msg *m, const char *sig, size_t sl,
			 bool digit)
{
	if (m->body > m->len)
		return -1;
	const char *b = m->data + m->body;
	size_t n = m->len - m->body;
	for (size_t i = 0; i + sl + 1 <= n && i <= 256; i++) {
		char c = b[i];
		if (c == '=' || c == '|')
			return -1;
		if (c == sig[0] && (i == 0 || b[i - 1] == ' ') &&
		    memcmp(b + i, sig, sl) == 0 &&
		    (!digit || (b[i + sl] >= '0' && b[i + sl] <= '9')))
			return (long)i;
	}
	return -1;
}

static void test_hdr_detect(void **state)
{
	(void)state;
	unsigned cef = 0, leef = 0;
	for (size_t i = 0; i < n_msgs; i++) {
		struct vdp_msg m = { .data = msgs[i].data, .len = msgs[i].len };
		size_t top = m.len < 300 ? m.len + 1 : 300;
		for (m.body = 0; m.body < top; m.body++) {
			long rc = ref_hdr_find(&m, "CEF:", 4, true);
			long rl = ref_hdr_find(&m, "LEEF:", 5, false);
			bool c = rc >= 0, l = rl >= 0;
			assert_int_equal(vdp_fmt_cef.detect(&m), c);
			assert_int_equal(vdp_fmt_leef.detect(&m), l);
			/* auto's one search for both: the same places */
			struct vdp_msg s = m;
			vdp_hdr_sigs(&s);
			assert_true(s.hdr_sigs);
			assert_int_equal(s.cef_at, rc);
			assert_int_equal(s.leef_at, rl);
			assert_int_equal(vdp_fmt_cef.detect(&s), c);
			assert_int_equal(vdp_fmt_leef.detect(&s), l);
			cef += c;
			leef += l;
		}
	}
	assert_true(cef > 100 && leef > 100); /* the corpus has both */
}

/* vdp_skip_tag() as a walk of range tests (its table is checked
 * against it) */
static size_t ref_skip_tag(const char *d, size_t p, size_t end)
{
	size_t i = p;
	while (i < end && i - p < 48 &&
	       ((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		(d[i] >= '0' && d[i] <= '9') || d[i] == '_' || d[i] == '-' ||
		d[i] == '.' || d[i] == '/'))
		i++;
	if (i == p)
		return p;
	if (i < end && d[i] == '[') {
		size_t j = i + 1;
		while (j < end && d[j] >= '0' && d[j] <= '9')
			j++;
		if (j == i + 1 || j >= end || d[j] != ']')
			return p;
		i = j + 1;
	}
	if (i + 1 < end && d[i] == ':' && d[i + 1] == ' ')
		return i + 2;
	return p;
}

static void test_skip_tag(void **state)
{
	(void)state;
	unsigned tags = 0;
	static const char *const own[] = {
		"squid[12]: x", "a: b", "a:b", "x[]: y", "x[1: y", "x[1]:y",
		"0123456789012345678901234567890123456789012345678: z",
		"012345678901234567890123456789012345678901234567: z",
		"k/._-[99]: v", "tag[", "tag", "",
	};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		for (size_t p = 0; p <= strlen(own[i]) + 1; p++)
			assert_int_equal(vdp_skip_tag(own[i], p, strlen(own[i])),
					 p > strlen(own[i]) ? p : ref_skip_tag(own[i], p, strlen(own[i])));
	for (size_t i = 0; i < n_msgs; i++) {
		size_t top = msgs[i].len < 300 ? msgs[i].len : 300;
		for (size_t p = 0; p <= top; p++) {
			size_t r = ref_skip_tag(msgs[i].data, p, msgs[i].len);
			assert_int_equal(vdp_skip_tag(msgs[i].data, p, msgs[i].len), r);
			tags += r != p;
		}
	}
	assert_true(tags > 100);
}

/* ---- the full search, written out ---- */

struct ref {
	struct vdp_source *src;
	void *state[VDP_MAX_FORMATS];
};

static enum vdp_parse_rc ref_with(struct ref *r, unsigned f,
				  const struct vdp_msg *m, struct vdp_fields *out)
{
	struct vdp_parse_ctx ctx = { .keys = &r->src->keys[f], .src = r->src,
				     .state = r->state[f] };
	out->n = 0;
	enum vdp_parse_rc rc = vdp_formats[f]->parse(&ctx, m, out);
	r->state[f] = ctx.state;
	return rc;
}

static enum vdp_parse_rc ref_parse(struct ref *r, const char *line, size_t len,
				   int *fmt, struct vdp_fields *out)
{
	struct vdp_msg m = { .data = line, .len = len };
	vdp_syslog_parse(&m);
	for (unsigned f = 0; vdp_formats[f] != NULL; f++) {
		if (!vdp_formats[f]->detect(&m))
			continue;
		enum vdp_parse_rc rc = ref_with(r, f, &m, out);
		if (rc != VDP_NOT_MINE) {
			*fmt = (int)f;
			return rc;
		}
	}
	for (unsigned f = 0; vdp_formats[f] != NULL; f++) {
		if (r->state[f] == NULL && !vdp_formats[f]->takes_undetected)
			continue;
		enum vdp_parse_rc rc = ref_with(r, f, &m, out);
		if (rc != VDP_NOT_MINE) {
			*fmt = (int)f;
			return rc;
		}
	}
	*fmt = -1;
	return VDP_NOT_MINE;
}

static void ref_fini(struct ref *r)
{
	for (unsigned f = 0; vdp_formats[f] != NULL; f++)
		if (r->state[f] != NULL && vdp_formats[f]->free_state != NULL)
			vdp_formats[f]->free_state(r->state[f]);
	memset(r->state, 0, sizeof(r->state));
}

static struct vdp_source *auto_source(void)
{
	char err[200];
	struct vdp_source *s = vdp_source_new("auto");
	assert_non_null(s);
	assert_int_equal(vdp_source_set(s, "format", "auto", err, sizeof(err)), 0);
	return s;
}

/* One message through the pipeline's auto and through the full search. */
static void cross(struct vdp_worker *w, struct ref *r, const struct msg *mg)
{
	struct vdp_explain x;
	struct vdp_fields fs;
	int fmt;
	enum vdp_parse_rc rc = ref_parse(r, mg->data, mg->len, &fmt, &fs);
	assert_int_equal(vdp_worker_explain(w, 0, mg->data, mg->len, &x), 0);
	if (x.format != fmt)
		fail_msg("format %d, the full search says %d: %.*s", x.format,
			 fmt, (int)(mg->len > 200 ? 200 : mg->len), mg->data);
	if (rc != VDP_PARSED) {
		assert_true(x.dropped || x.unparsed);
		return;
	}
	if (fs.n > VDP_MAX_FIELDS) {
		assert_true(x.dropped);
		return;
	}
	assert_int_equal(x.n, fs.n);
	for (unsigned i = 0; i < fs.n; i++) {
		assert_int_equal(x.f[i].off, fs.f[i].off);
		assert_int_equal(x.f[i].len, fs.f[i].len);
		assert_int_equal(x.f[i].kind, fs.f[i].kind);
	}
}

/* Every message, in order, on one auto source (formats switch at every
 * file, W3C state carries over), and again with a new source per file. */
static void test_cross_check(void **state)
{
	(void)state;
	for (int per_file = 0; per_file < 2; per_file++) {
		struct vdp_source *s = auto_source();
		struct vdp_worker *w = vdp_worker_new(NULL, &s, 1);
		struct ref r = { .src = s };
		assert_non_null(w);
		for (size_t i = 0; i < n_msgs; i++) {
			if (per_file && msgs[i].file_start && i > 0) {
				vdp_worker_free(w);
				ref_fini(&r);
				assert_non_null(w = vdp_worker_new(NULL, &s, 1));
			}
			cross(w, &r, &msgs[i]);
		}
		vdp_worker_free(w);
		ref_fini(&r);
		vdp_source_free(s);
	}
}

/* ---- behaviour ---- */

static int format_of(struct vdp_worker *w, const char *line)
{
	struct vdp_explain x;
	assert_int_equal(vdp_worker_explain(w, 0, line, strlen(line), &x), 0);
	return x.format;
}

#define IDX(f) ((int)vdp_format_index(&(f)))

static const char fgt[] =
	"<189>date=2024-03-01 time=10:15:01 devname=\"FGT-HQ\" devid=\"FG1\" "
	"logid=\"0000000013\" type=\"traffic\" srcip=10.1.1.1 user=\"bob\"";
static const char cef_line[] =
	"<134>Mar  1 10:00:00 fw01 CEF:0|Fortinet|FortiGate|7.2|13|x|3|"
	"logid=0000000013 devid=FG1 devname=FGT-HQ suser=asmith";
static const char json_line[] = "{\"user\":\"jdoe\",\"devicehostname\":\"LT1\"}";
static const char squid_line[] =
	"1709287200.123    187 10.1.2.3 TCP_MISS/200 5120 GET "
	"http://www.example.com/ jdoe HIER_DIRECT/93.184.216.34 text/html";

static void test_switch_mid_stream(void **state)
{
	(void)state;
	struct vdp_source *s = auto_source();
	struct vdp_worker *w = vdp_worker_new(NULL, &s, 1);
	assert_non_null(w);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 50; i++)
			assert_int_equal(format_of(w, fgt), IDX(vdp_fmt_fortigate));
		assert_int_equal(format_of(w, json_line), IDX(vdp_fmt_json));
		assert_int_equal(format_of(w, squid_line), IDX(vdp_fmt_squid));
		assert_int_equal(format_of(w, fgt), IDX(vdp_fmt_fortigate));
		assert_int_equal(format_of(w, "not a log line at all"), -1);
	}
	vdp_worker_free(w);
	vdp_source_free(s);
}

/* A CEF line that carries FortiGate's keys comes after many FortiGate
 * lines: CEF is first in the order and takes it, with its fields. */
static void test_earlier_format_keeps_its_lines(void **state)
{
	(void)state;
	struct vdp_source *s = auto_source();
	struct vdp_worker *w = vdp_worker_new(NULL, &s, 1);
	struct vdp_explain x;
	assert_non_null(w);
	for (int i = 0; i < 100; i++)
		assert_int_equal(format_of(w, fgt), IDX(vdp_fmt_fortigate));
	assert_int_equal(vdp_worker_explain(w, 0, cef_line, strlen(cef_line), &x), 0);
	assert_int_equal(x.format, IDX(vdp_fmt_cef));
	assert_int_equal(x.n, 1);
	assert_memory_equal(cef_line + x.f[0].off, "asmith", 6);
	assert_int_equal(format_of(w, fgt), IDX(vdp_fmt_fortigate));
	vdp_worker_free(w);
	vdp_source_free(s);
}

/* W3C: the #Fields line gives the source's data lines to W3C, between
 * lines of other formats too; a worker of a pool learns it. */
static void test_w3c_state(void **state)
{
	(void)state;
	static const char fields[] = "#Fields: date time c-ip cs-username cs-method";
	static const char data[] = "2024-03-01 10:00:00 10.1.1.1 jdoe GET";
	struct vdp_source *s = auto_source();
	struct vdp_worker *w = vdp_worker_new(NULL, &s, 1);
	struct vdp_worker *peer = vdp_worker_new(NULL, &s, 1);
	struct vdp_explain x;
	assert_non_null(w);
	assert_non_null(peer);
	/* no #Fields yet: not a known layout's shape */
	assert_int_equal(format_of(w, data), -1);
	assert_int_equal(format_of(w, fields), IDX(vdp_fmt_w3c));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vdp_worker_explain(w, 0, data, strlen(data), &x), 0);
		assert_int_equal(x.format, IDX(vdp_fmt_w3c));
		assert_int_equal(x.n, 1);
		assert_memory_equal(data + x.f[0].off, "jdoe", 4);
		assert_int_equal(format_of(w, fgt), IDX(vdp_fmt_fortigate));
		assert_int_equal(format_of(w, cef_line), IDX(vdp_fmt_cef));
	}
	/* the pool: the #Fields line sets state, the peer learns it */
	struct vdp_line fl = { fields, sizeof(fields) - 1, 0 };
	struct vdp_line dl = { data, sizeof(data) - 1, 0 };
	assert_true(vdp_line_sets_state(w, &fl));
	assert_false(vdp_line_sets_state(w, &dl));
	assert_int_equal(format_of(peer, data), -1);
	/* learning reads only the lines of a source with a key */
	static const uint8_t raw[32] = { 7 };
	struct veil_key *k = veil_key_new(raw, "auto", 1);
	assert_non_null(k);
	vdp_worker_set_key(peer, 0, k);
	vdp_worker_learn(peer, &fl);
	assert_int_equal(vdp_worker_explain(peer, 0, data, strlen(data), &x), 0);
	assert_int_equal(x.format, IDX(vdp_fmt_w3c));
	assert_int_equal(x.n, 1);
	vdp_worker_free(w);
	vdp_worker_free(peer);
	veil_key_free(k);
	vdp_source_free(s);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: test_dp_auto LINES-DIR FUZZ-CORPUS-DIR BENCH-CORPUS\n");
		return 2;
	}
	lines_dir = argv[1];
	fuzz_dir = argv[2];
	bench_path = argv[3];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_twins),
		cmocka_unit_test(test_hdr_detect),
		cmocka_unit_test(test_skip_tag),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_switch_mid_stream),
		cmocka_unit_test(test_earlier_format_keeps_its_lines),
		cmocka_unit_test(test_w3c_state),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
