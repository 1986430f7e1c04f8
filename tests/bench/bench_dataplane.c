/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Dataplane benchmark (a meson benchmark, never a test): the parse +
 * batch-encrypt + rewrite path in memory on one core, over a corpus of
 * mixed traffic (tests/bench/gen_corpus.py), in bursts of VDP_BURST_MAX.
 * In the same run, for a baseline:
 *  (a) the floor: split the lines and copy them out, nothing else;
 *  (b) the pipeline with ipsec-mb, each format's lines on a source of that
 *      format;
 *  (c) the same with every source on format auto (target: >= 85% of (b));
 *  (d) the pipeline with the OpenSSL backend.
 * Every pass splits the corpus and writes every output line into an output
 * buffer, as a driver would. Rates are per second of the thread's CPU time
 * (one core), so other load on the machine does not skew them.
 *
 * usage: bench_dataplane CORPUS [--seconds S] [--only b] [--no-repeats]
 *   --only X runs pass X alone (a, b, c or d), e.g. under a profiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "veil_dp.h"
#include "bench_corpus.h"

static char *corpus;
static size_t corpus_len;
static double seconds = 2.0;
static char only;
static bool no_repeats;

/* The thread's CPU time: the figures are per core even when other work
 * shares the machine. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The corpus kept as one buffer of "SRC-INDEX-BYTE MESSAGE\n" so that a
 * pass only splits. */
static int keep(void *arg, unsigned fmt, const char *msg, size_t len)
{
	(void)arg;
	/* one index byte replaces each name and its tab: the file's size
	 * bounds the whole */
	if (corpus == NULL && (corpus = malloc(bench_corpus_bytes + 1)) == NULL)
		return -1;
	corpus[corpus_len++] = (char)fmt;
	memcpy(corpus + corpus_len, msg, len);
	corpus_len += len;
	return 0;
}

struct result {
	double lines_per_s, gbit_per_s;
	uint64_t lines, dropped, identities;
};

/* One pass over the corpus: split into bursts; w NULL is the floor. */
static void pass(struct vdp_worker *w, char *out, struct result *r, uint64_t *in_bytes)
{
	static struct vdp_line in[VDP_BURST_MAX];
	static struct vdp_burst b;
	const char *p = corpus, *end = corpus + corpus_len;
	while (p < end) {
		unsigned n = 0;
		while (n < VDP_BURST_MAX && p < end) {
			const char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
			in[n] = (struct vdp_line){ p + 1, (uint32_t)(nl - p - 1),
						   (uint16_t)(unsigned char)p[0] };
			*in_bytes += in[n].len;
			n++;
			p = nl + 1;
		}
		size_t o = 0;
		if (w == NULL) {
			for (unsigned i = 0; i < n; i++) {
				memcpy(out + o, in[i].data, in[i].len);
				o += in[i].len;
			}
		} else {
			vdp_process_burst(w, in, n, &b);
			for (unsigned i = 0; i < n; i++) {
				size_t l = vdp_burst_copy(&b, i, out + o, 1 << 20);
				o += l;
				r->dropped += b.line[i].verdict != VDP_FORWARD;
			}
		}
		r->lines += n;
	}
}

static void run(const char *label, struct vdp_worker *w, struct result *r)
{
	static char *out;
	if (only && label[1] != only) {
		memset(r, 0, sizeof(*r));
		r->lines_per_s = 1;
		return;
	}
	if (out == NULL)
		out = malloc((size_t)VDP_BURST_MAX * 8192 + (1 << 20));
	memset(r, 0, sizeof(*r));
	uint64_t bytes = 0;
	pass(w, out, r, &bytes); /* warm up: caches, W3C state */
	memset(r, 0, sizeof(*r));
	bytes = 0;
	double t0 = now(), t;
	do {
		pass(w, out, r, &bytes);
		t = now() - t0;
	} while (t < seconds);
	r->lines_per_s = r->lines / t;
	r->gbit_per_s = bytes * 8 / t / 1e9;
	printf("  %-34s %10.0f lines/s %7.2f Gbit/s", label, r->lines_per_s,
	       r->gbit_per_s);
	if (w != NULL)
		printf("  (%.2f%% dropped)", 100.0 * r->dropped / (double)r->lines);
	printf("\n");
}

static struct vdp_worker *make(struct veil_engine *e, const struct veil_key *k,
			       bool autodetect, struct vdp_source **srcs)
{
	char err[200];
	for (unsigned i = 0; i < bench_n_formats; i++) {
		srcs[i] = vdp_source_new(bench_formats[i]);
		if (vdp_source_set(srcs[i], "format", autodetect ? "auto" : bench_formats[i],
				   err, sizeof(err)) != 0 ||
		    vdp_source_set(srcs[i], "replace_repeats", no_repeats ? "no" : "yes",
				   err, sizeof(err)) != 0) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
	}
	struct vdp_worker *w = vdp_worker_new(e, srcs, bench_n_formats);
	for (unsigned i = 0; w != NULL && i < bench_n_formats; i++)
		vdp_worker_set_key(w, i, k);
	return w;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_dataplane CORPUS [--seconds S]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--no-repeats"))
			no_repeats = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[i + 1][0];
	if (bench_corpus_read(argv[1], keep, NULL) < 0) {
		fprintf(stderr, "bench: cannot load %s\n", argv[1]);
		return 1;
	}
	size_t lines = 0;
	for (size_t i = 0; i < corpus_len; i++)
		lines += corpus[i] == '\n';
	printf("veil dataplane benchmark: %zu lines, %.0f bytes on average, %u formats, "
	       "one core, bursts of %d\n", lines, (double)corpus_len / lines - 1, bench_n_formats,
	       VDP_BURST_MAX);

	static const uint8_t raw[32] = { 7 };
	struct veil_engine_opts o = { 0 };
	struct veil_engine *e = veil_engine_new(&o);
	o.backend = VEIL_BACKEND_OPENSSL;
	struct veil_engine *eo = veil_engine_new(&o);
	struct veil_key *k = veil_key_new(raw, "bench", 1);
	if (e == NULL || eo == NULL || k == NULL) {
		fprintf(stderr, "bench: no token engine\n");
		return 1;
	}
	struct vdp_source *s1[BENCH_MAX_FORMATS], *s2[BENCH_MAX_FORMATS], *s3[BENCH_MAX_FORMATS];
	struct vdp_worker *w1 = make(e, k, false, s1), *w2 = make(e, k, true, s2);
	struct vdp_worker *w3 = make(eo, k, false, s3);
	struct result floor_r, r1, r2, r3;
	char label[96];
	run("(a) floor: split + copy", NULL, &floor_r);
	snprintf(label, sizeof(label), "(b) pipeline, %s", veil_engine_name(e));
	run(label, w1, &r1);
	snprintf(label, sizeof(label), "(c) pipeline, %s, auto", veil_engine_name(e));
	run(label, w2, &r2);
	snprintf(label, sizeof(label), "(d) pipeline, %s", veil_engine_name(eo));
	run(label, w3, &r3);
	printf("  per format (b), lines parsed:");
	for (unsigned i = 0; i < bench_n_formats; i++) {
		const struct vdp_counters *c = vdp_worker_counters(w1, i);
		printf(" %s %.0f%%", bench_formats[i], c->lines_in ?
		       100.0 * (c->lines_out - c->lines_unparsed) / c->lines_in : 0.0);
	}
	if (only) /* one pass alone: no comparison */
		return 0;
	uint64_t ids = 0, in = 0;
	for (unsigned i = 0; i < bench_n_formats; i++) {
		ids += vdp_worker_counters(w1, i)->identities +
		       vdp_worker_counters(w1, i)->repeats;
		in += vdp_worker_counters(w1, i)->lines_in;
	}
	printf("\n  identities replaced per line (b): %.2f\n", in ? (double)ids / in : 0.0);
	printf("  (b) vs floor: %.1f%% (target >= 40%%: %s); (b) %.2fM lines/s "
	       "(target >= 5M: %s); (b) vs (d) OpenSSL: %.2fx\n",
	       100.0 * r1.lines_per_s / floor_r.lines_per_s,
	       r1.lines_per_s >= 0.4 * floor_r.lines_per_s ? "MET" : "NOT MET",
	       r1.lines_per_s / 1e6, r1.lines_per_s >= 5e6 ? "MET" : "NOT MET",
	       r1.lines_per_s / r3.lines_per_s);
	printf("  (c) auto vs (b) its formats: %.1f%% (target >= 85%%: %s)\n",
	       100.0 * r2.lines_per_s / r1.lines_per_s,
	       r2.lines_per_s >= 0.85 * r1.lines_per_s ? "MET" : "NOT MET");
	vdp_worker_free(w1);
	vdp_worker_free(w2);
	vdp_worker_free(w3);
	for (unsigned i = 0; i < bench_n_formats; i++) {
		vdp_source_free(s1[i]);
		vdp_source_free(s2[i]);
		vdp_source_free(s3[i]);
	}
	veil_key_free(k);
	veil_engine_free(e);
	veil_engine_free(eo);
	free(corpus);
	return 0;
}
