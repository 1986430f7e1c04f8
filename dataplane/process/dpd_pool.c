/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Workers fed by the main lcore (dpd_worker.c has the loop they share):
 * the distributor (the loop, on the main lcore) hands bursts to the lanes
 * over a single-producer single-consumer ring each, rewrites a burst
 * itself when every lane has a full ring, and gives the results back to
 * the driver in the order it took them.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dpd_worker_pvt.h"

/* ------------------------------------------------------------------ */
/* The distributor (this loop, on the main lcore), a single-producer     */
/* single-consumer ring to each worker, a done flag back, and the        */
/* reorder step before the driver's tx.                                  */
/* ------------------------------------------------------------------ */

#define POOL_DEPTH 16 /* bursts queued per worker (a power of two): a few ms
			* of work, more than a write of the output takes */
#define CACHE_LINE 64

/* One burst on its way: the input lines where the driver keeps them
 * (mark: vdr_rx_kept()), else copied (the driver's lines are valid only
 * until its next rx), and the output as one segment per line (a worker's
 * vdp_burst is valid only until its next burst). */
struct desc {
	_Atomic bool done; /* rewritten: the worker's release, the reorder's acquire */
	uint64_t seq;
	uint64_t mark;     /* the driver keeps its lines under this mark; 0: copied */
	const struct vdd_keytab *kt; /* the keys it was admitted under */
	unsigned n;
	struct vdp_line in[VDP_BURST_MAX];
	char *ibuf;
	size_t icap;
	struct vdp_burst ob;
	struct vdp_seg oseg[VDP_BURST_MAX];
	char *obuf;
	size_t ocap;
	uint64_t bytes_in, bytes_out; /* line ends included */
	/* lines of other bursts that set how a source's lines are read (a
	 * W3C #Fields), for the worker to learn first: in ibuf after in[] */
	unsigned n_pre;
	struct vdp_line *pre; /* one per source at most */
};

/* The consumer's index and the producer's on cache lines of their own:
 * each is written by one thread, and a line shared by both would move
 * between the CPUs at every push and pop. */
struct spsc {
	struct desc *slot[POOL_DEPTH];
	_Alignas(CACHE_LINE) _Atomic unsigned head; /* the consumer's */
	uint32_t parked; /* the consumer sleeps (a futex word, __atomic): wake it */
	_Alignas(CACHE_LINE) _Atomic unsigned tail; /* the producer's */
};

/* A worker; lane[n] is the distributor's own (its pipeline is the loop's,
 * run on the main lcore when every worker's ring is full). Aligned so
 * that no two lanes share a cache line. */
struct lane {
	struct spsc in;
	_Alignas(CACHE_LINE) struct vdd_pool *p;
	unsigned idx;
	struct vdp_worker *w;
	const struct veil_key **key; /* by source, as given to its pipeline */
	uint64_t *hdr_seen;          /* by source: the header version it has */
	struct vdp_burst b;
	uint64_t bytes_in, bytes_out;
	double cpu;
	/* its totals, for the distributor (published every burst) */
	_Alignas(CACHE_LINE) _Atomic uint64_t ctr[VEIL_LINK_CTR_COUNT];
};

struct vdd_pool {
	struct vdd_worker *x;
	unsigned n;
	struct lane *lane; /* n workers and the distributor's (lane[n]) */
	unsigned rr;       /* the worker the next burst goes to first */
	uint64_t local;    /* bursts the distributor rewrote itself */
	struct desc *descs;
	struct desc **free_d;
	unsigned n_free, n_desc;
	struct desc **inflight; /* by seq % n_desc */
	uint64_t next_seq, tx_seq;
	bool keep;          /* the driver keeps the lines of its rx (vdr_rx_keep) */
	uint64_t last_mark; /* the last mark of lines taken */
	atomic_bool stop;
	/* by source, the latest line that sets how its next lines are read
	 * (vdp_line_sets_state), and its version (0: none yet) */
	struct hdr {
		char *data;
		uint32_t len;
		uint64_t ver;
		size_t cap;
	} *hdr;
	unsigned *hdr_src, n_hdr_src; /* the sources that have one */
};

/* Room in the ring (the producer's view: only the consumer frees). */
static bool spsc_room(struct spsc *r)
{
	unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned h = atomic_load_explicit(&r->head, memory_order_acquire);
	return t - h < POOL_DEPTH;
}

static void futex_wake(uint32_t *f)
{
	syscall(SYS_futex, f, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* The consumer parked: wake it. After the store that gave it work: the
 * fences pair with park()'s, so that either it sees the work or this sees
 * it parked. */
static void spsc_wake(struct spsc *r)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (__atomic_load_n(&r->parked, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&r->parked, 0, __ATOMIC_RELAXED))
		futex_wake(&r->parked);
}

static void spsc_push(struct spsc *r, struct desc *d) /* after spsc_room() */
{
	unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	r->slot[t & (POOL_DEPTH - 1)] = d;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	spsc_wake(r);
}

static bool spsc_empty(struct spsc *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed) ==
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

static struct desc *spsc_pop(struct spsc *r)
{
	unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h == t)
		return NULL;
	struct desc *d = r->slot[h & (POOL_DEPTH - 1)];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return d;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Nothing to do: spin a little (the other side is usually a burst away),
 * yield a few times (fewer cores than lcores: let the others run), then
 * sleep. Not thousands of yields: a yield is a trip through the
 * scheduler, which on a busy or virtual machine costs as much CPU as a
 * good part of a burst, and the rings hold enough work to cover a sleep. */
static void idle(unsigned *spins)
{
	if (++*spins < 256) {
		cpu_relax();
		return;
	}
	if (*spins < 256 + 16)
		sched_yield();
	else
		usleep(SPIN_SLEEP_US);
}

/* A worker with nothing to do after its spins and yields (the
 * distributor is waiting for keys, reading a slow input, writing, or
 * done): asleep until the distributor pushes a burst or stops the pool,
 * rather than waking every SPIN_SLEEP_US for nothing (a sleep and its
 * wake-up cost as much CPU as a good part of a burst on a virtual
 * machine; the wake-up is one futex call for the distributor). */
#define PARK_AFTER 2
#define PARK_MAX_NS 100000000L /* and at most this long: nothing can hang */

static void park(struct spsc *r, atomic_bool *stop)
{
	__atomic_store_n(&r->parked, 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	if (spsc_empty(r) && !atomic_load_explicit(stop, memory_order_acquire)) {
		struct timespec ts = { 0, PARK_MAX_NS };
		syscall(SYS_futex, &r->parked, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
	}
	__atomic_store_n(&r->parked, 0, __ATOMIC_RELAXED);
}

static bool grow_buf(char **b, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : 1 << 16;
	while (c < need)
		c *= 2;
	char *nb = realloc(*b, c);
	if (nb == NULL)
		return false;
	*b = nb;
	*cap = c;
	return true;
}

struct vdd_pool *vdd_pool_new(struct vdd_worker *x, struct vdp_worker **pipes,
			      unsigned n)
{
	if (n < 1 || n > VDD_MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	struct vdd_pool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->x = x;
	p->n = n;
	/* each worker: a full ring, one it works on, one done waiting for
	 * an older one to be written; and the distributor's, done while the
	 * oldest burst of a full ring waits its turn (about a ring's worth:
	 * it rewrites at about a worker's pace) */
	p->n_desc = n * (POOL_DEPTH + 2) + 2 * POOL_DEPTH;
	size_t lsz = (n + 1) * sizeof(*p->lane); /* a multiple of the alignment */
	p->lane = aligned_alloc(_Alignof(struct lane), lsz);
	if (p->lane != NULL)
		memset(p->lane, 0, lsz);
	p->descs = calloc(p->n_desc, sizeof(*p->descs));
	p->free_d = calloc(p->n_desc, sizeof(*p->free_d));
	p->inflight = calloc(p->n_desc, sizeof(*p->inflight));
	p->hdr = calloc(x->n_src, sizeof(*p->hdr));
	p->hdr_src = calloc(x->n_src, sizeof(*p->hdr_src));
	if (p->lane == NULL || p->descs == NULL || p->free_d == NULL ||
	    p->inflight == NULL || p->hdr == NULL || p->hdr_src == NULL)
		goto fail;
	for (unsigned i = 0; i < p->n_desc; i++)
		if ((p->descs[i].pre = calloc(x->n_src, sizeof(struct vdp_line))) == NULL)
			goto fail;
	for (unsigned i = 0; i <= n; i++) {
		struct lane *l = &p->lane[i];
		l->p = p;
		l->idx = i;
		l->w = i < n ? pipes[i] : x->w;
		l->key = calloc(x->n_src, sizeof(*l->key));
		l->hdr_seen = calloc(x->n_src, sizeof(*l->hdr_seen));
		if (l->key == NULL || l->hdr_seen == NULL)
			goto fail;
	}
	for (unsigned i = 0; i < p->n_desc; i++)
		p->free_d[p->n_free++] = &p->descs[i];
	/* the workers read the lines where the driver keeps them: no copy */
	p->keep = vdr_rx_keep(x->drv);
	x->pool = p;
	atomic_store(&x->sh->worker_gen, 0);
	x->sh->n_workers = n;
	return p;
fail:
	vdd_pool_free(p);
	errno = ENOMEM;
	return NULL;
}

void vdd_pool_free(struct vdd_pool *p)
{
	if (p == NULL)
		return;
	for (unsigned i = 0; p->lane != NULL && i <= p->n; i++) {
		free(p->lane[i].key);
		free(p->lane[i].hdr_seen);
	}
	for (unsigned i = 0; p->descs != NULL && i < p->n_desc; i++) {
		struct desc *d = &p->descs[i];
		if (d->ibuf != NULL)
			explicit_bzero(d->ibuf, d->icap); /* names */
		if (d->obuf != NULL)
			explicit_bzero(d->obuf, d->ocap);
		free(d->ibuf);
		free(d->obuf);
		free(d->pre);
	}
	for (unsigned i = 0; p->hdr != NULL && p->x != NULL && i < p->x->n_src; i++) {
		if (p->hdr[i].data != NULL)
			explicit_bzero(p->hdr[i].data, p->hdr[i].cap);
		free(p->hdr[i].data);
	}
	if (p->x != NULL && p->x->pool == p)
		p->x->pool = NULL;
	free(p->lane);
	free(p->descs);
	free(p->free_d);
	free(p->inflight);
	free(p->hdr);
	free(p->hdr_src);
	free(p);
}

double vdd_pool_lane_cpu(const struct vdd_pool *p, unsigned i)
{
	return i < p->n ? p->lane[i].cpu : 0;
}

uint64_t vdd_pool_local(const struct vdd_pool *p)
{
	return p->local;
}

/* A worker's totals, from its pipeline and its bytes. */
static void lane_publish(struct lane *l)
{
	uint64_t t[VEIL_LINK_CTR_COUNT] = { 0 };
	vdd_add_pipeline(t, l->w, l->p->x->n_src);
	t[VEIL_LINK_CTR_BYTES_IN] = l->bytes_in;
	t[VEIL_LINK_CTR_BYTES_OUT] = l->bytes_out;
	for (unsigned i = 0; i < VEIL_LINK_CTR_COUNT; i++)
		atomic_store_explicit(&l->ctr[i], t[i], memory_order_relaxed);
}

/* Rewrite one burst on worker @p l, the output copied into the burst. */
static void lane_burst(struct lane *l, struct desc *d)
{
	const struct vdd_keytab *kt = d->kt;
	for (unsigned s = 0; s < l->p->x->n_src && s < kt->n; s++)
		if (l->key[s] != kt->key[s]) {
			l->key[s] = kt->key[s];
			vdp_worker_set_key(l->w, s, kt->key[s]);
		}
	for (unsigned i = 0; i < d->n_pre; i++)
		vdp_worker_learn(l->w, &d->pre[i]);
	vdp_process_burst(l->w, d->in, d->n, &l->b);
	size_t need = 0;
	for (unsigned i = 0; i < d->n; i++)
		if (l->b.line[i].verdict == VDP_FORWARD)
			need += l->b.line[i].len;
	bool room = grow_buf(&d->obuf, &d->ocap, need + 1);
	size_t o = 0;
	d->bytes_out = 0;
	for (unsigned i = 0; i < d->n; i++) {
		struct vdp_out *ol = &d->ob.line[i];
		*ol = l->b.line[i];
		ol->n_segs = 1;
		ol->first_seg = i;
		if (ol->verdict != VDP_FORWARD)
			continue;
		if (!room) {
			/* no memory for the output: never forwarded as is */
			ol->verdict = VDP_DROP;
			ol->reason = VDP_R_CRYPTO;
			continue;
		}
		size_t len = ol->len ? vdp_burst_copy(&l->b, i, d->obuf + o,
						       d->ocap - o) : 0;
		d->oseg[i] = (struct vdp_seg){ d->obuf + o, (uint32_t)len, 0, 0,
					      false };
		ol->len = (uint32_t)len;
		o += len;
		d->bytes_out += len + 1;
	}
	d->ob.n = d->n;
	d->ob.segs = d->oseg;
	l->bytes_in += d->bytes_in;
	l->bytes_out += d->bytes_out;
	lane_publish(l);
}

int vdd_pool_lane_run(struct vdd_pool *p, unsigned i)
{
	struct lane *l = &p->lane[i];
	struct timespec a, b;
	unsigned spins = 0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (;;) {
		struct desc *d = spsc_pop(&l->in);
		if (d == NULL) {
			if (atomic_load_explicit(&p->stop, memory_order_acquire) &&
			    spsc_pop(&l->in) == NULL)
				break;
			if (spins >= 256 + 16 + PARK_AFTER) {
				park(&l->in, &p->stop);
				continue;
			}
			idle(&spins);
			continue;
		}
		spins = 0;
		lane_burst(l, d);
		atomic_store_explicit(&d->done, true, memory_order_release);
	}
	lane_publish(l);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	l->cpu = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return 0;
}

/* The driver may reuse the memory of the lines no burst in flight reads:
 * those older than the oldest kept burst in flight (marks grow with the
 * bursts' order), else than the last lines taken (the rest of those may
 * still come back from the driver, vdr_rx_return()). */
static void release(struct vdd_pool *p)
{
	uint64_t m = p->last_mark;
	for (uint64_t s = p->tx_seq; s < p->next_seq; s++) {
		uint64_t k = p->inflight[s % p->n_desc]->mark;
		if (k != 0) {
			m = k;
			break;
		}
	}
	vdr_rx_release(p->x->drv, m);
}

/* The results back in sequence order, to the driver: what is ready, or
 * (@p all) everything in flight. @return 0, or -1 after a failed tx (the
 * rest still goes to the driver, which counts it lost). */
int vdd_pool_complete(struct vdd_pool *p, bool all)
{
	int rc = 0;
	unsigned spins = 0;
	while (p->tx_seq < p->next_seq) {
		/* the reorder step: burst tx_seq, whichever worker has it */
		struct desc *d = p->inflight[p->tx_seq % p->n_desc];
		if (!atomic_load_explicit(&d->done, memory_order_acquire)) {
			if (!all)
				break;
			idle(&spins);
			continue;
		}
		spins = 0;
		if (vdr_tx(p->x->drv, &d->ob) < 0)
			rc = -1;
		p->inflight[d->seq % p->n_desc] = NULL;
		p->tx_seq++;
		if (d->icap > (1u << 22)) { /* a burst of long lines: give back */
			explicit_bzero(d->ibuf, d->icap);
			free(d->ibuf);
			d->ibuf = NULL;
			d->icap = 0;
		}
		p->free_d[p->n_free++] = d;
	}
	if (p->keep)
		release(p);
	return rc;
}

/* The oldest key table a burst in flight was admitted under, else the
 * newest the distributor took: the main lcore frees older ones. */
void vdd_pool_ack(struct vdd_pool *p)
{
	const struct vdd_keytab *t = p->x->seen;
	if (p->tx_seq < p->next_seq)
		t = p->inflight[p->tx_seq % p->n_desc]->kt;
	if (t != NULL)
		atomic_store_explicit(&p->x->sh->worker_gen, t->gen,
				      memory_order_release);
}

/* The lines of a burst that set how their source's next lines are read:
 * kept as the source's latest, which the worker @p l taking the burst
 * sees in it, and every other worker gets before its next burst. */
static bool note_headers(struct vdd_pool *p, struct lane *l,
			 const struct vdp_line *in, unsigned n)
{
	const struct vdp_worker *w = p->lane[0].w;
	for (unsigned i = 0; i < n; i++) {
		if (!vdp_line_sets_state(w, &in[i]))
			continue;
		struct hdr *h = &p->hdr[in[i].src];
		if (h->cap < in[i].len) {
			char *nd = malloc(in[i].len);
			if (nd == NULL)
				return false;
			if (h->data != NULL)
				explicit_bzero(h->data, h->cap);
			free(h->data);
			h->data = nd;
			h->cap = in[i].len;
		}
		memcpy(h->data, in[i].data, in[i].len);
		h->len = in[i].len;
		if (h->ver == 0)
			p->hdr_src[p->n_hdr_src++] = in[i].src;
		h->ver++;
		l->hdr_seen[in[i].src] = h->ver;
	}
	return true;
}

/* The worker for the next burst: the first, from the one after the last
 * chosen, with room in its ring; when every ring is full, the distributor
 * itself (lane[n]): rewriting a burst is better than waiting, and on a
 * machine with a CPU for the main lcore and one for a worker it keeps both
 * busy. */
static struct lane *pick(struct vdd_pool *p)
{
	for (unsigned k = 0; k < p->n; k++) {
		unsigned i = (p->rr + k) % p->n;
		if (spsc_room(&p->lane[i].in)) {
			p->rr = (i + 1) % p->n;
			return &p->lane[i];
		}
	}
	return &p->lane[p->n];
}

int vdd_pool_submit(struct vdd_pool *p, const struct vdp_line *in, unsigned n,
		    bool from_rx)
{
	int rc = 0;
	unsigned spins = 0;
	while (p->n_free == 0) {
		if (vdd_pool_complete(p, false) != 0)
			rc = -1;
		if (p->n_free == 0)
			idle(&spins);
	}
	struct desc *d = p->free_d[--p->n_free];
	struct lane *l = pick(p);
	bool local = l == &p->lane[p->n];
	/* the headers its worker has not seen yet, as of this burst's start */
	size_t need = 0;
	d->n_pre = 0;
	for (unsigned k = 0; k < p->n_hdr_src; k++) {
		unsigned s = p->hdr_src[k];
		if (l->hdr_seen[s] != p->hdr[s].ver) {
			d->pre[d->n_pre++] = (struct vdp_line){ NULL, p->hdr[s].len, s };
			need += p->hdr[s].len;
		}
	}
	/* the lines where the driver keeps them (it reuses that memory once
	 * released, vdd_pool_complete()), else a worker's copy (the driver's
	 * are valid only until its next rx); the distributor rewrites them
	 * where they are */
	uint64_t mark = p->keep && from_rx ? vdr_rx_kept(p->x->drv) : 0;
	bool copy = !local && mark == 0;
	for (unsigned i = 0; copy && i < n; i++)
		need += in[i].len;
	if (!grow_buf(&d->ibuf, &d->icap, need + 1)) {
		p->free_d[p->n_free++] = d;
		return -2; /* not taken */
	}
	size_t o = 0;
	for (unsigned k = 0; k < d->n_pre; k++) {
		struct vdp_line *h = &d->pre[k];
		memcpy(d->ibuf + o, p->hdr[h->src].data, h->len);
		h->data = d->ibuf + o;
		o += h->len;
		l->hdr_seen[h->src] = p->hdr[h->src].ver;
	}
	d->bytes_in = 0;
	for (unsigned i = 0; i < n; i++) {
		d->in[i] = in[i];
		if (copy) {
			memcpy(d->ibuf + o, in[i].data, in[i].len);
			d->in[i].data = d->ibuf + o;
			o += in[i].len;
		}
		d->bytes_in += in[i].len + 1;
	}
	if (!note_headers(p, l, d->in, n)) {
		p->free_d[p->n_free++] = d;
		return -2; /* not taken: no worker may read on with an old header */
	}
	d->n = n;
	d->kt = p->x->seen;
	d->seq = p->next_seq++;
	d->mark = local ? 0 : mark;
	if (mark > p->last_mark)
		p->last_mark = mark;
	atomic_store_explicit(&d->done, false, memory_order_relaxed);
	p->inflight[d->seq % p->n_desc] = d;
	if (local) {
		lane_burst(l, d);
		atomic_store_explicit(&d->done, true, memory_order_relaxed);
		p->local++;
	} else {
		spsc_push(&l->in, d);
	}
	if (vdd_pool_complete(p, false) != 0)
		rc = -1;
	return rc;
}

/* Totals and per-worker counters (sh->wctr) for the link: each worker's
 * own, with what only the distributor sees (oversize lines, held lines,
 * the driver's exact byte counts) and the bursts it rewrote itself on
 * worker 0. */
void vdd_pool_counters(struct vdd_pool *p, uint64_t *t, const struct vdr_stats *st,
			  unsigned held, uint64_t abandoned)
{
	uint64_t w[VDD_MAX_WORKERS][VEIL_LINK_CTR_COUNT];
	uint64_t bin = 0, bout = 0;
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i <= p->n; i++) {
		unsigned row = i < p->n ? i : 0; /* the distributor's: worker 0 */
		for (unsigned c = 0; c < VEIL_LINK_CTR_COUNT; c++) {
			uint64_t v = atomic_load_explicit(&p->lane[i].ctr[c],
							  memory_order_relaxed);
			w[row][c] += v;
			t[c] += v;
			if (c == VEIL_LINK_CTR_BYTES_IN)
				bin += v;
			else if (c == VEIL_LINK_CTR_BYTES_OUT)
				bout += v;
		}
	}
	w[0][VEIL_LINK_CTR_DROP_OVERSIZE] += st->rx_oversize;
	w[0][VEIL_LINK_CTR_DROP_KERNEL_UDP] += st->rx_kernel_drops;
	w[0][VEIL_LINK_CTR_LINES_IN] += st->rx_oversize + st->rx_kernel_drops +
					held + abandoned;
	w[0][VEIL_LINK_CTR_LINES_DROPPED] += st->rx_oversize + st->rx_kernel_drops;
	w[0][VEIL_LINK_CTR_LINES_HELD] = held;
	w[0][VEIL_LINK_CTR_LINES_NOT_WRITTEN] = st->tx_lost + abandoned;
	/* the output is shared: the lines it lost come off the workers' out
	 * in worker order, so that the rows add up to the totals */
	w[0][VEIL_LINK_CTR_LINES_HELD] += st->tx_held;
	uint64_t lost = st->tx_lost + st->tx_held;
	for (unsigned i = 0; i < p->n && lost > 0; i++) {
		uint64_t k = lost < w[i][VEIL_LINK_CTR_LINES_OUT]
				     ? lost : w[i][VEIL_LINK_CTR_LINES_OUT];
		w[i][VEIL_LINK_CTR_LINES_OUT] -= k;
		lost -= k;
	}
	w[0][VEIL_LINK_CTR_BYTES_IN] += st->rx_bytes - bin;
	w[0][VEIL_LINK_CTR_BYTES_OUT] += st->tx_bytes - bout;
	t[VEIL_LINK_CTR_DROP_OVERSIZE] = st->rx_oversize;
	t[VEIL_LINK_CTR_DROP_KERNEL_UDP] = st->rx_kernel_drops;
	t[VEIL_LINK_CTR_LINES_IN] += st->rx_oversize + st->rx_kernel_drops +
				     held + abandoned;
	t[VEIL_LINK_CTR_LINES_DROPPED] += st->rx_oversize + st->rx_kernel_drops;
	t[VEIL_LINK_CTR_LINES_HELD] = held;
	t[VEIL_LINK_CTR_LINES_OUT] -= st->tx_lost + st->tx_held;
	t[VEIL_LINK_CTR_LINES_HELD] += st->tx_held;
	t[VEIL_LINK_CTR_LINES_NOT_WRITTEN] = st->tx_lost + abandoned;
	t[VEIL_LINK_CTR_BYTES_IN] = st->rx_bytes;
	t[VEIL_LINK_CTR_BYTES_OUT] = st->tx_bytes;
	for (unsigned i = 0; i < p->n; i++)
		for (unsigned c = 0; c < VEIL_LINK_CTR_COUNT; c++)
			atomic_store_explicit(&p->x->sh->wctr[i][c], w[i][c],
					      memory_order_relaxed);
}

void vdd_pool_stop(struct vdd_pool *p)
{
	atomic_store_explicit(&p->stop, true, memory_order_release);
	for (unsigned i = 0; i < p->n; i++)
		spsc_wake(&p->lane[i].in);
}
