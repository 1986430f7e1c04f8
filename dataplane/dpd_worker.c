/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The worker loop of veil-dataplane: rx a burst from the driver, rewrite
 * it (vdp_process_burst), tx it; at every burst boundary take the key
 * table the main lcore published.
 *
 * Fail closed, in input order. A source without a key (controld not
 * reachable yet, its tenant locked) never gets a line out in clear: the
 * pipeline drops such a line (no-key). Before that, its lines are held:
 * from the first line that must wait, every line (of any source) goes
 * into a bounded FIFO, copied, so that the output keeps the input's
 * order. The head of the queue goes on as soon as its source has a key,
 * or once its source has been without a key for wait_keys seconds (from
 * the start, or from the moment it lost its key): then the pipeline drops
 * it with reason no-key. A full queue stops reading (the driver gets its
 * burst back with vdr_rx_return()): nothing is lost, nothing is emitted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpd_pvt.h"

struct held {
	uint64_t off;
	uint32_t len;
	uint16_t src;
};

struct vdd_worker {
	struct vdd_shared *sh;
	struct vdp_worker *w;
	struct vdr_driver *drv;
	unsigned n_src;
	const struct veil_key **key; /* by source, as given to the pipeline */
	double *wait_since;          /* by source: without a key since */
	double wait_keys;
	struct vdd_keytab *seen;
	double now, next_pub, next_hk;
	void (*hk)(void *);
	void *hk_arg;
	/* the hold queue: a ring of entries, their bytes in one arena */
	struct held *q;
	unsigned q_cap, q_head, q_n;
	char *arena;
	size_t a_cap, a_head, a_tail, a_high;
	struct vdp_line lines[VDP_BURST_MAX];
	struct vdp_burst out;
	char err[256];
};

struct vdd_worker *vdd_worker_new(struct vdd_shared *sh, struct vdp_worker *w,
				  struct vdr_driver *drv, unsigned n_src,
				  double wait_keys, unsigned hold_lines,
				  size_t hold_bytes)
{
	struct vdd_worker *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->sh = sh;
	x->w = w;
	x->drv = drv;
	x->n_src = n_src;
	x->wait_keys = wait_keys;
	x->key = calloc(n_src, sizeof(*x->key));
	x->wait_since = calloc(n_src, sizeof(*x->wait_since));
	x->q_cap = hold_lines;
	x->q = calloc(hold_lines, sizeof(*x->q));
	x->a_cap = hold_bytes;
	x->arena = malloc(hold_bytes); /* touched only when lines are held */
	if (x->key == NULL || x->wait_since == NULL || x->q == NULL ||
	    x->arena == NULL) {
		vdd_worker_free(x);
		errno = ENOMEM;
		return NULL;
	}
	double t0 = vdd_now();
	for (unsigned s = 0; s < n_src; s++)
		x->wait_since[s] = t0;
	return x;
}

void vdd_worker_set_inline(struct vdd_worker *x, void (*fn)(void *), void *arg)
{
	x->hk = fn;
	x->hk_arg = arg;
}

const char *vdd_worker_error(const struct vdd_worker *x)
{
	return x->err;
}

unsigned vdd_worker_held(const struct vdd_worker *x)
{
	return x->q_n;
}

void vdd_worker_free(struct vdd_worker *x)
{
	if (x == NULL)
		return;
	if (x->arena != NULL)
		explicit_bzero(x->arena, x->a_high); /* held lines: names */
	free(x->arena);
	free(x->q);
	free(x->key);
	free(x->wait_since);
	free(x);
}

/* The worker's totals, for the main lcore (COUNTERS, progress). */
static void publish(struct vdd_worker *x)
{
	uint64_t t[VEIL_LINK_CTR_COUNT] = { 0 };
	struct vdr_stats st;

	for (unsigned s = 0; s < x->n_src; s++) {
		const struct vdp_counters *c = vdp_worker_counters(x->w, s);
		t[VEIL_LINK_CTR_LINES_IN] += c->lines_in;
		t[VEIL_LINK_CTR_LINES_OUT] += c->lines_out;
		t[VEIL_LINK_CTR_LINES_DROPPED] += c->lines_dropped;
		t[VEIL_LINK_CTR_IDENTITIES] += c->identities;
		for (unsigned r = 0; r < VDP_REASON_COUNT; r++)
			t[VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT + r] += c->drops[r];
	}
	vdr_stats(x->drv, &st);
	/* lines over the maximum never reach the pipeline: in and dropped */
	t[VEIL_LINK_CTR_DROP_OVERSIZE] = st.rx_oversize;
	t[VEIL_LINK_CTR_LINES_IN] += st.rx_oversize + x->q_n;
	t[VEIL_LINK_CTR_LINES_DROPPED] += st.rx_oversize;
	t[VEIL_LINK_CTR_LINES_HELD] = x->q_n;
	t[VEIL_LINK_CTR_BYTES_IN] = st.rx_bytes;
	t[VEIL_LINK_CTR_BYTES_OUT] = st.tx_bytes;
	for (unsigned i = 0; i < VEIL_LINK_CTR_COUNT; i++)
		atomic_store_explicit(&x->sh->ctr[i], t[i], memory_order_relaxed);
	atomic_store_explicit(&x->sh->rx_bytes, st.rx_bytes, memory_order_relaxed);
	atomic_store_explicit(&x->sh->rx_size, st.rx_size, memory_order_relaxed);
	atomic_store_explicit(&x->sh->rx_inputs_done, st.rx_inputs_done,
			      memory_order_relaxed);
}

/* A burst boundary: the latest key table, the clock, the totals. */
static void boundary(struct vdd_worker *x)
{
	struct vdd_keytab *t = atomic_load_explicit(&x->sh->keytab,
						    memory_order_acquire);
	x->now = vdd_now();
	if (t != x->seen) {
		for (unsigned s = 0; s < x->n_src && s < t->n; s++) {
			if (t->key[s] == x->key[s])
				continue;
			if (t->key[s] == NULL)
				x->wait_since[s] = x->now; /* lost its key */
			x->key[s] = t->key[s];
			vdp_worker_set_key(x->w, s, t->key[s]);
		}
		x->seen = t;
		/* from here on the older tables and their keys are unused */
		atomic_store_explicit(&x->sh->worker_gen, t->gen,
				      memory_order_release);
	}
	if (x->now >= x->next_pub) {
		publish(x);
		x->next_pub = x->now + 0.05;
	}
	if (x->hk != NULL && x->now >= x->next_hk) {
		x->hk(x->hk_arg);
		x->next_hk = x->now + 0.005;
	}
}

/* May a line of @p src go to the pipeline now? With a key, yes; without
 * one, once the source waited long enough (the pipeline drops it). */
static bool can_go(const struct vdd_worker *x, unsigned src)
{
	return src >= x->n_src || x->key[src] != NULL ||
	       x->now - x->wait_since[src] >= x->wait_keys;
}

static int process(struct vdd_worker *x, const struct vdp_line *in, unsigned n)
{
	vdp_process_burst(x->w, in, n, &x->out);
	if (vdr_tx(x->drv, &x->out) < 0) {
		snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
		return -1;
	}
	return 0;
}

/* Copy a line to the tail of the queue. false: no room. */
static bool enqueue(struct vdd_worker *x, const struct vdp_line *ln)
{
	if (x->q_n == x->q_cap)
		return false;
	if (x->a_tail + ln->len > x->a_cap && x->a_head > 0) {
		memmove(x->arena, x->arena + x->a_head, x->a_tail - x->a_head);
		for (unsigned i = 0; i < x->q_n; i++)
			x->q[(x->q_head + i) % x->q_cap].off -= x->a_head;
		x->a_tail -= x->a_head;
		x->a_head = 0;
	}
	if (x->a_tail + ln->len > x->a_cap)
		return false;
	memcpy(x->arena + x->a_tail, ln->data, ln->len);
	x->q[(x->q_head + x->q_n) % x->q_cap] =
		(struct held){ x->a_tail, ln->len, ln->src };
	x->q_n++;
	x->a_tail += ln->len;
	if (x->a_tail > x->a_high)
		x->a_high = x->a_tail;
	return true;
}

/* The head of the queue, as far as it may go: one burst. @return lines
 * processed, or -1 on a fatal error. */
static int drain(struct vdd_worker *x)
{
	unsigned k = 0;
	while (k < VDP_BURST_MAX && k < x->q_n) {
		const struct held *h = &x->q[(x->q_head + k) % x->q_cap];
		if (!can_go(x, h->src))
			break;
		x->lines[k++] = (struct vdp_line){ x->arena + h->off, h->len, h->src };
	}
	if (k == 0)
		return 0;
	if (process(x, x->lines, k) != 0)
		return -1;
	for (unsigned i = 0; i < k; i++) {
		const struct held *h = &x->q[x->q_head];
		x->a_head = h->off + h->len;
		x->q_head = (x->q_head + 1) % x->q_cap;
		x->q_n--;
	}
	if (x->q_n == 0)
		x->q_head = x->a_head = x->a_tail = 0;
	return (int)k;
}

int vdd_worker_run(struct vdd_worker *x)
{
	bool eof = false;
	int rc = 0;

	for (;;) {
		boundary(x);
		if (atomic_load_explicit(&x->sh->stop, memory_order_relaxed))
			break;
		if (x->q_n > 0) {
			int k = drain(x);
			if (k < 0) {
				rc = -1;
				break;
			}
			if (k > 0)
				continue;
		}
		if (eof && x->q_n == 0)
			break;
		if (eof || x->q_n == x->q_cap) {
			usleep(1000); /* waiting for a key, or its deadline */
			continue;
		}
		unsigned room = x->q_cap - x->q_n;
		int n = vdr_rx(x->drv, x->lines, room < VDP_BURST_MAX ? room : VDP_BURST_MAX);
		if (n == VDR_EOF) {
			eof = true;
			continue;
		}
		if (n < 0) {
			snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
			rc = -1;
			break;
		}
		unsigned go = 0;
		if (x->q_n == 0)
			while (go < (unsigned)n && can_go(x, x->lines[go].src))
				go++;
		if (go > 0 && process(x, x->lines, go) != 0) {
			rc = -1;
			break;
		}
		/* the rest waits, in order, behind the first that must */
		unsigned j = go;
		while (j < (unsigned)n && enqueue(x, &x->lines[j]))
			j++;
		vdr_rx_return(x->drv, (unsigned)n - j);
		if (j == 0)
			usleep(1000); /* the queue's bytes are full: wait */
	}
	if (vdr_flush(x->drv) != 0 && rc == 0) {
		snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
		rc = -1;
	}
	publish(x);
	atomic_store_explicit(&x->sh->done, true, memory_order_release);
	return rc;
}
