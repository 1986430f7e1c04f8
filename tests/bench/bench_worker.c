/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Worker benchmark (a meson benchmark, never a test): the pipeline through
 * the real worker loop of veil-dataplane (vdd_worker_run(), the code of
 * dataplane/process/dpd_worker.c that the process runs) over the in-memory driver
 * (drivers/mem.c), on the corpus of tests/bench/gen_corpus.py, read the
 * number of times needed for about --seconds per pass. In the same run:
 *  (a) the floor: the mem driver's rx, each line forwarded whole as one
 *      segment, its tx (split + copy, no pipeline, no worker loop);
 *  (b) the worker loop, ipsec-mb, each format's lines on a source of that
 *      format;
 *  (c) the same with one source on format auto;
 *  (d) the worker loop with the OpenSSL backend (as (b)).
 * Each figure is per run (wall clock) and per core (the worker thread's
 * CPU time; with 2 workers, the workers' CPU time summed). Each pass with
 * 1 worker (vdd_worker_run() alone, as the process with one worker lcore)
 * and with 2 (the distributor, vdd_worker_run() with a vdd_pool, on this
 * thread; vdd_pool_lane_run() on a thread per worker, as the process runs
 * them on lcores). Keys are made here (a benchmark; the process itself
 * only takes keys from veil-controld). Figures are printed with their
 * baseline and targets; never a failure.
 *
 * usage: bench_worker CORPUS [--seconds S] [--pass b]
 * (--pass b: only (b) with one worker, for a benchmark that alternates it
 * with another measurement.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpd_pvt.h"
#include "bench_corpus.h"

static char *buf[BENCH_MAX_FORMATS];       /* per format: its messages, LF-ended */
static size_t buf_len[BENCH_MAX_FORMATS];
static char *all;                /* every message, in corpus order */
static size_t all_len;
static uint64_t corpus_lines;
static double seconds = 2.0;
static bool only_b;              /* --pass b */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The corpus kept as one buffer per format and one of every message in
 * order. */
static int keep(void *arg, unsigned fmt, const char *msg, size_t len)
{
	(void)arg;
	if (all == NULL && (all = malloc(bench_corpus_bytes + 1)) == NULL)
		return -1;
	if (buf[fmt] == NULL && (buf[fmt] = malloc(bench_corpus_bytes + 1)) == NULL)
		return -1; /* touched as filled */
	memcpy(buf[fmt] + buf_len[fmt], msg, len);
	buf_len[fmt] += len;
	memcpy(all + all_len, msg, len);
	all_len += len;
	corpus_lines++;
	return 0;
}

struct result {
	double wall, cpu;  /* cpu: the workers' CPU seconds */
	double dist_cpu;   /* two or more workers: the distributor's */
	unsigned workers;
	uint64_t lines, bytes, dropped, identities;
};

static struct vdr_driver *driver(bool per_format, uint64_t loops)
{
	struct vdr_driver *d = vdr_mem_new(65536, false);
	if (d == NULL)
		return NULL;
	if (per_format) {
		for (unsigned s = 0; s < bench_n_formats; s++)
			vdr_mem_add(d, buf[s], buf_len[s], (uint16_t)s);
	} else {
		vdr_mem_add(d, all, all_len, 0);
	}
	vdr_mem_set_loops(d, loops);
	return d;
}

static void take_stats(struct vdr_driver *d, struct result *r)
{
	struct vdr_stats st;
	vdr_stats(d, &st);
	r->lines = st.rx_msgs;
	r->bytes = st.rx_bytes - st.rx_msgs; /* messages, without line ends */
}

/* (a): rx, every line forwarded whole, tx. */
static int floor_pass(uint64_t loops, struct result *r)
{
	static struct vdp_line in[VDP_BURST_MAX];
	static struct vdp_seg seg[VDP_BURST_MAX];
	static struct vdp_burst b;
	struct vdr_driver *d = driver(false, loops);
	if (d == NULL)
		return -1;
	double w0 = veil_now(), c0 = cpu_now();
	int n;
	while ((n = vdr_rx(d, in, VDP_BURST_MAX)) != VDR_EOF) {
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			seg[i] = (struct vdp_seg){ in[i].data, in[i].len, 0, 0, false };
			b.line[i] = (struct vdp_out){ VDP_FORWARD, 0, 1, (uint32_t)i,
						      in[i].len };
		}
		b.n = (unsigned)n;
		b.segs = seg;
		vdr_tx(d, &b);
	}
	vdr_flush(d);
	r->cpu = cpu_now() - c0;
	r->wall = veil_now() - w0;
	take_stats(d, r);
	vdr_free(d);
	return n == VDR_EOF ? 0 : -1;
}

struct lane_arg {
	struct vdd_pool *p;
	unsigned i;
};

static void *lane_thread(void *arg)
{
	struct lane_arg *a = arg;
	vdd_pool_lane_run(a->p, a->i);
	return NULL;
}

/* (b), (c), (d): the worker loop of the process; with @p nw >= 2 workers,
 * its distributor on this thread and a thread per worker, as the process
 * runs them on lcores. */
static int worker_pass(const struct veil_engine_opts *eo, const struct veil_key *k,
		       bool per_format, uint64_t loops, unsigned nw, struct result *r)
{
	unsigned ns = per_format ? bench_n_formats : 1;
	struct vdp_source *srcs[BENCH_MAX_FORMATS];
	struct veil_engine *eng[VDD_MAX_WORKERS + 1] = { 0 };
	struct vdp_worker *pw[VDD_MAX_WORKERS + 1] = { 0 };
	char err[200];
	for (unsigned s = 0; s < ns; s++) {
		srcs[s] = vdp_source_new(per_format ? bench_formats[s] : "all");
		if (srcs[s] == NULL ||
		    vdp_source_set(srcs[s], "format", per_format ? bench_formats[s] : "auto",
				   err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_worker: %s\n", err);
			return -1;
		}
	}
	unsigned npipe = nw >= 2 ? nw + 1 : 1;
	for (unsigned i = 0; i < npipe; i++) {
		eng[i] = veil_engine_new(eo);
		pw[i] = eng[i] ? vdp_worker_new(eng[i], srcs, ns) : NULL;
		if (pw[i] == NULL)
			return -1;
	}
	struct vdr_driver *d = driver(per_format, loops);
	struct vdd_keytab *kt = calloc(1, sizeof(*kt) + ns * sizeof(kt->key[0]));
	static struct vdd_shared sh;
	memset(&sh, 0, sizeof(sh));
	if (d == NULL || kt == NULL)
		return -1;
	kt->gen = 1;
	kt->n = ns;
	for (unsigned s = 0; s < ns; s++)
		kt->key[s] = k;
	atomic_store(&sh.keytab, kt);
	struct vdd_worker *x = vdd_worker_new(&sh, pw[0], d, ns, 10.0, 256, 1 << 20);
	if (x == NULL)
		return -1;
	struct vdd_pool *pool = nw >= 2 ? vdd_pool_new(x, pw + 1, nw) : NULL;
	pthread_t th[VDD_MAX_WORKERS];
	struct lane_arg la[VDD_MAX_WORKERS];
	double w0 = veil_now(), c0 = cpu_now();
	for (unsigned i = 0; pool != NULL && i < nw; i++) {
		la[i] = (struct lane_arg){ pool, i };
		pthread_create(&th[i], NULL, lane_thread, &la[i]);
	}
	int rc = vdd_worker_run(x);
	for (unsigned i = 0; pool != NULL && i < nw; i++)
		pthread_join(th[i], NULL);
	r->dist_cpu = pool != NULL ? cpu_now() - c0 : 0;
	r->cpu = pool != NULL ? 0 : cpu_now() - c0;
	for (unsigned i = 0; pool != NULL && i < nw; i++)
		r->cpu += vdd_pool_lane_cpu(pool, i);
	r->wall = veil_now() - w0;
	r->workers = nw;
	if (rc != 0)
		fprintf(stderr, "bench_worker: %s\n", vdd_worker_error(x));
	take_stats(d, r);
	r->dropped = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_DROPPED]);
	r->identities = atomic_load(&sh.ctr[VEIL_LINK_CTR_IDENTITIES]);
	vdd_pool_free(pool);
	vdd_worker_free(x);
	vdr_free(d);
	for (unsigned i = 0; i < npipe; i++) {
		vdp_worker_free(pw[i]);
		veil_engine_free(eng[i]);
	}
	free(kt);
	for (unsigned s = 0; s < ns; s++)
		vdp_source_free(srcs[s]);
	return rc;
}

static void print(const char *label, const struct result *r)
{
	printf("  %-36s run %9.0f lines/s %6.2f Gbit/s; per core %9.0f lines/s "
	       "%6.2f Gbit/s", label, r->lines / r->wall, r->bytes * 8 / r->wall / 1e9,
	       r->lines / r->cpu, r->bytes * 8 / r->cpu / 1e9);
	if (r->lines > 0 && label[1] != 'a')
		printf(" (%.2f%% dropped)", 100.0 * r->dropped / (double)r->lines);
	if (r->workers >= 2)
		printf("; distributor %.0f%% of a core", 100.0 * r->dist_cpu / r->wall);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_worker CORPUS [--seconds S] [--pass b]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--pass") && i + 1 < argc)
			only_b = !strcmp(argv[++i], "b");
	if (bench_corpus_read(argv[1], keep, NULL) < 0 || corpus_lines == 0) {
		fprintf(stderr, "bench_worker: cannot load %s\n", argv[1]);
		return 1;
	}
	static const uint8_t raw[32] = { 7 };
	struct veil_engine_opts o = { 0 };
	struct veil_engine *e = veil_engine_new(&o);
	o.backend = VEIL_BACKEND_OPENSSL;
	struct veil_engine *eo = veil_engine_new(&o);
	struct veil_key *k = veil_key_new(raw, "bench", 1);
	if (e == NULL || eo == NULL || k == NULL) {
		fprintf(stderr, "bench_worker: no token engine\n");
		return 1;
	}
	printf("veil worker benchmark: veil-dataplane's worker loop over the mem "
	       "driver, %llu lines, %.0f bytes on average, %u formats, bursts of %d\n",
	       (unsigned long long)corpus_lines,
	       (double)all_len / (double)corpus_lines - 1, bench_n_formats, VDP_BURST_MAX);

	/* calibrate: one read of the corpus through (b), also the warm-up */
	struct veil_engine_opts oi = { 0 }, oo = { .backend = VEIL_BACKEND_OPENSSL };
	struct result r = { 0 };
	if (worker_pass(&oi, k, true, 1, 1, &r) != 0)
		return 1;
	uint64_t loops = r.cpu > 0 ? (uint64_t)(seconds / r.cpu) + 1 : 1;
	struct result fa = { 0 }, rb[3] = { 0 }, rc = { 0 }, rd = { 0 };
	char label[96];
	if (only_b) {
		printf("  1 worker (the corpus read %llu times):\n",
		       (unsigned long long)loops);
		worker_pass(&oi, k, true, loops, 1, &rb[1]);
		snprintf(label, sizeof(label), "(b) worker, %s", veil_engine_name(e));
		print(label, &rb[1]);
		goto out;
	}
	for (unsigned nw = 1; nw <= 2; nw++) {
		printf("  %u worker%s (the corpus read %llu times per pass%s):\n", nw,
		       nw > 1 ? "s" : "", (unsigned long long)loops,
		       nw > 1 ? "; the distributor on this thread, a thread per worker" : "");
		if (nw == 1) {
			floor_pass(loops, &fa);
			print("(a) floor: mem rx + copy + tx", &fa);
		}
		worker_pass(&oi, k, true, loops, nw, &rb[nw]);
		snprintf(label, sizeof(label), "(b) worker, %s", veil_engine_name(e));
		print(label, &rb[nw]);
		worker_pass(&oi, k, false, loops, nw, &rc);
		snprintf(label, sizeof(label), "(c) worker, %s, auto", veil_engine_name(e));
		print(label, &rc);
		worker_pass(&oo, k, true, loops, nw, &rd);
		snprintf(label, sizeof(label), "(d) worker, %s", veil_engine_name(eo));
		print(label, &rd);
		if (nw == 1) {
			double b_core = rb[1].lines / rb[1].cpu;
			printf("  identities replaced per line (b): %.2f\n",
			       rb[1].lines ? (double)rb[1].identities / (double)rb[1].lines : 0.0);
			printf("  (b) vs floor: %.1f%%; (b) per core %.2fM lines/s (target >= 5M: "
			       "%s), %.2f Gbit/s (target >= 10: %s); (b) vs (d) OpenSSL: %.2fx\n",
			       100.0 * b_core / (fa.lines / fa.cpu), b_core / 1e6,
			       b_core >= 5e6 ? "MET" : "NOT MET", rb[1].bytes * 8 / rb[1].cpu / 1e9,
			       rb[1].bytes * 8 / rb[1].cpu / 1e9 >= 10 ? "MET" : "NOT MET",
			       b_core / (rd.lines / rd.cpu));
		}
	}
	double x2 = (rb[2].lines / rb[2].wall) / (rb[1].lines / rb[1].wall);
	printf("  (b) 2 workers vs 1 worker, per run: %.2fx (target >= 1.8x: %s); on %ld "
	       "CPUs, with the distributor's thread\n", x2, x2 >= 1.8 ? "MET" : "NOT MET",
	       sysconf(_SC_NPROCESSORS_ONLN));
out:
	veil_key_free(k);
	veil_engine_free(e);
	veil_engine_free(eo);
	for (unsigned s = 0; s < BENCH_MAX_FORMATS; s++)
		free(buf[s]);
	free(all);
	return 0;
}
