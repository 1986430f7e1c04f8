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
 *
 * Per-source order (network mode, vdd_worker_set_order()): the order that
 * matters is each sender's, not the interleaving of senders, so only the
 * lines of a source that must wait are held (with its later lines, in
 * order); the other sources' lines go on at once. A full queue then does
 * not stop the reading: a line of a source without a key that finds no
 * room goes to the pipeline, which drops it (no-key), as it would after
 * wait_keys; a line of a source that has its key again but still has
 * lines held waits for room (the reading stops, nothing is lost).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpd_worker_pvt.h"



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
	x->slot = -1;
	x->wait_keys = wait_keys;
	x->key = calloc(n_src, sizeof(*x->key));
	x->wait_since = calloc(n_src, sizeof(*x->wait_since));
	x->held_n = calloc(n_src ? n_src : 1, sizeof(*x->held_n));
	x->q_cap = hold_lines;
	x->q = calloc(hold_lines, sizeof(*x->q));
	x->a_cap = hold_bytes;
	x->arena = malloc(hold_bytes); /* touched only when lines are held */
	if (x->key == NULL || x->wait_since == NULL || x->q == NULL ||
	    x->arena == NULL || x->held_n == NULL) {
		vdd_worker_free(x);
		errno = ENOMEM;
		return NULL;
	}
	double t0 = veil_now();
	for (unsigned s = 0; s < n_src; s++)
		x->wait_since[s] = t0;
	return x;
}

void vdd_worker_set_order(struct vdd_worker *x, bool per_source)
{
	x->per_source = per_source;
}

void vdd_worker_set_slot(struct vdd_worker *x, unsigned slot)
{
	x->slot = slot < VDD_MAX_WORKERS ? (int)slot : -1;
}

void vdd_shared_gather(struct vdd_shared *sh)
{
	unsigned n = sh->n_workers;
	if (!sh->per_worker || n > VDD_MAX_WORKERS)
		return;
	uint64_t gen = UINT64_MAX, rx = 0;
	for (unsigned c = 0; c < VEIL_LINK_CTR_COUNT; c++) {
		uint64_t t = 0;
		for (unsigned i = 0; i < n; i++)
			t += atomic_load_explicit(&sh->wctr[i][c], memory_order_relaxed);
		atomic_store_explicit(&sh->ctr[c], t, memory_order_relaxed);
	}
	for (unsigned k = 0; k < sh->n_x; k++) {
		uint64_t t = 0;
		for (unsigned i = 0; i < n; i++)
			t += atomic_load_explicit(&sh->wx[i][k], memory_order_relaxed);
		atomic_store_explicit(&sh->xval[k], t, memory_order_relaxed);
	}
	for (unsigned i = 0; i < n; i++) {
		rx += atomic_load_explicit(&sh->wrx_bytes[i], memory_order_relaxed);
		uint64_t g = atomic_load_explicit(&sh->wgen[i], memory_order_acquire);
		if (g < gen)
			gen = g;
	}
	atomic_store_explicit(&sh->rx_bytes, rx, memory_order_relaxed);
	/* only this thread writes worker_gen in this mode */
	atomic_store_explicit(&sh->worker_gen, gen, memory_order_release);
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
	return x->q_live;
}

uint64_t vdd_worker_abandoned(const struct vdd_worker *x)
{
	return x->abandoned;
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
	free(x->held_n);
	free(x);
}

/* Add the pipeline's counters of @p n sources to the link's totals @p t. */
/* the link's DROP_ counters are the pipeline's reasons, in their order */
_Static_assert(VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT + VDP_REASON_COUNT ==
	       VEIL_LINK_CTR_DROP_OVERSIZE, "VEIL_LINK_COUNTER_LIST follows VDP_REASON_LIST");

void vdd_add_pipeline(uint64_t *t, const struct vdp_worker *w, unsigned n)
{
	for (unsigned s = 0; s < n; s++) {
		const struct vdp_counters *c = vdp_worker_counters(w, s);
		t[VEIL_LINK_CTR_LINES_IN] += c->lines_in;
		t[VEIL_LINK_CTR_LINES_OUT] += c->lines_out;
		t[VEIL_LINK_CTR_LINES_DROPPED] += c->lines_dropped;
		t[VEIL_LINK_CTR_IDENTITIES] += c->identities;
		t[VEIL_LINK_CTR_IDENTITIES_USER] += c->identities_kind[VEIL_KIND_USER];
		t[VEIL_LINK_CTR_IDENTITIES_DEVICE] += c->identities_kind[VEIL_KIND_DEVICE];
		for (unsigned r = 0; r < VDP_REASON_COUNT; r++)
			t[VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT + r] += c->drops[r];
	}
}

/* The worker's totals, for the main lcore (COUNTERS, progress). */
static void publish(struct vdd_worker *x)
{
	uint64_t t[VEIL_LINK_CTR_COUNT] = { 0 };
	struct vdr_stats st;

	if (x->pool != NULL) {
		vdr_stats(x->drv, &st);
		vdd_pool_counters(x->pool, t, &st, x->q_live, x->abandoned);
		goto totals;
	}
	vdd_add_pipeline(t, x->w, x->n_src);
	vdr_stats(x->drv, &st);
	/* lines over the maximum, and datagrams the kernel dropped, never
	 * reach the pipeline: in and dropped */
	t[VEIL_LINK_CTR_DROP_OVERSIZE] = st.rx_oversize;
	t[VEIL_LINK_CTR_DROP_KERNEL_UDP] = st.rx_kernel_drops;
	t[VEIL_LINK_CTR_LINES_IN] += st.rx_oversize + st.rx_kernel_drops +
				     x->q_live + x->abandoned;
	t[VEIL_LINK_CTR_LINES_DROPPED] += st.rx_oversize + st.rx_kernel_drops;
	t[VEIL_LINK_CTR_LINES_HELD] = x->q_live;
	/* out counts the lines written whole: the pipeline's minus those the
	 * output lost */
	t[VEIL_LINK_CTR_LINES_OUT] -= st.tx_lost + st.tx_held;
	t[VEIL_LINK_CTR_LINES_HELD] += st.tx_held;
	t[VEIL_LINK_CTR_LINES_NOT_WRITTEN] = st.tx_lost + x->abandoned;
	t[VEIL_LINK_CTR_BYTES_IN] = st.rx_bytes;
	t[VEIL_LINK_CTR_BYTES_OUT] = st.tx_bytes;
totals:
	/* the upstreams and listeners: the worker that has them (the first) */
	if (x->slot <= 0) {
		struct vdr_row rows[VDD_MAX_ROWS];
		unsigned nr = vdr_rows(x->drv, rows, VDD_MAX_ROWS);
		if (nr > VDD_MAX_ROWS)
			nr = VDD_MAX_ROWS;
		pthread_mutex_lock(&x->sh->rows_lock);
		memcpy(x->sh->rows, rows, nr * sizeof(rows[0]));
		x->sh->n_rows = nr;
		pthread_mutex_unlock(&x->sh->rows_lock);
	}
	if (x->sh->n_x > 0) {
		const char *names[VDD_MAX_XSTATS];
		uint64_t v[VDD_MAX_XSTATS];
		unsigned nx = vdr_xstats(x->drv, names, v, VDD_MAX_XSTATS);
		_Atomic uint64_t *to = x->slot >= 0 ? x->sh->wx[x->slot]
						    : x->sh->xval;
		for (unsigned i = 0; i < nx && i < x->sh->n_x; i++)
			atomic_store_explicit(&to[i], v[i], memory_order_relaxed);
	}
	if (x->slot >= 0) {
		for (unsigned i = 0; i < VEIL_LINK_CTR_COUNT; i++)
			atomic_store_explicit(&x->sh->wctr[x->slot][i], t[i],
					      memory_order_relaxed);
		atomic_store_explicit(&x->sh->wrx_bytes[x->slot], st.rx_bytes,
				      memory_order_relaxed);
		return;
	}
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
	/* the coarse clock is enough for what it times here (publishing
	 * every 50 ms, housekeeping, wait_keys) */
	x->now = veil_now_coarse();
	/* a round: for the watchdog (a loop stuck in a write stops these) */
	atomic_fetch_add_explicit(&x->sh->beat[x->slot >= 0 ? x->slot : 0], 1,
				  memory_order_relaxed);
	if (t != x->seen) {
		for (unsigned s = 0; s < x->n_src && s < t->n; s++) {
			if (t->key[s] == x->key[s])
				continue;
			if (t->key[s] == NULL)
				x->wait_since[s] = x->now; /* lost its key */
			x->key[s] = t->key[s];
			/* with workers, the pipeline takes the keys of each
			 * burst's table when it rewrites one (dpd_pool.c) */
			if (x->pool == NULL)
				vdp_worker_set_key(x->w, s, t->key[s]);
		}
		x->rescan = true;
		x->seen = t;
		/* from here on the older tables and their keys are unused
		 * (with workers: once no burst admitted under them is in
		 * flight, vdd_pool_ack()) */
		if (x->slot >= 0)
			atomic_store_explicit(&x->sh->wgen[x->slot], t->gen,
					      memory_order_release);
		else if (x->pool == NULL)
			atomic_store_explicit(&x->sh->worker_gen, t->gen,
					      memory_order_release);
	}
	if (x->pool != NULL) {
		if (vdd_pool_complete(x->pool, false) != 0 && x->err[0] == '\0')
			snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
		vdd_pool_ack(x->pool);
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

/* The lines to the pipeline and the output (@p from_rx: the lines the
 * driver's last rx returned, which it may keep for the workers; else held
 * lines). @return 0; -1 when the output failed (the lines were taken: the
 * driver counts those it did not write); -2 when they were not taken (an
 * earlier failure, or no memory). */
static int process(struct vdd_worker *x, const struct vdp_line *in, unsigned n,
		   bool from_rx)
{
	if (x->pool != NULL) {
		int rc = x->err[0] != '\0' ? -2
					    : vdd_pool_submit(x->pool, in, n, from_rx);
		if (rc != 0) {
			if (x->err[0] == '\0')
				snprintf(x->err, sizeof(x->err), "%s",
					 vdr_error(x->drv)[0] ? vdr_error(x->drv)
							      : "out of memory");
			x->tx_failed = true;
			return rc;
		}
		return 0;
	}
	vdp_process_burst(x->w, in, n, &x->out);
	if (vdr_tx(x->drv, &x->out) < 0) {
		snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
		x->tx_failed = true;
		return -1;
	}
	return 0;
}

/* Per-source order: the entries taken from the middle of the queue and
 * their bytes give their room back (the others keep their order), or a
 * line held at the head would keep the room of every line taken after it. */
static void compact(struct vdd_worker *x)
{
	unsigned k = 0;
	size_t a = 0;
	for (unsigned i = 0; i < x->q_n; i++) {
		struct held h = x->q[(x->q_head + i) % x->q_cap];
		if (h.taken)
			continue;
		memmove(x->arena + a, x->arena + h.off, h.len); /* a <= h.off */
		h.off = a;
		a += h.len;
		x->q[(x->q_head + k++) % x->q_cap] = h; /* k <= i: read already */
	}
	x->q_n = k;
	x->a_head = 0;
	x->a_tail = a;
	if (k == 0)
		x->q_head = 0;
}

/* Copy a line to the tail of the queue. false: no room. */
static bool enqueue(struct vdd_worker *x, const struct vdp_line *ln)
{
	if (x->q_n > x->q_live && (x->q_n == x->q_cap ||
				   x->a_tail + ln->len > x->a_cap))
		compact(x);
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
		(struct held){ x->a_tail, ln->len, ln->src, false };
	x->q_n++;
	x->q_live++;
	if (ln->src < x->n_src)
		x->held_n[ln->src]++;
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
	int rc = process(x, x->lines, k, false);
	if (rc == -2)
		return -1;
	for (unsigned i = 0; i < k; i++) { /* taken, also when tx failed */
		const struct held *h = &x->q[x->q_head];
		if (h->src < x->n_src)
			x->held_n[h->src]--;
		x->a_head = h->off + h->len;
		x->q_head = (x->q_head + 1) % x->q_cap;
		x->q_n--;
		x->q_live--;
	}
	if (x->q_n == 0)
		x->q_head = x->a_head = x->a_tail = 0;
	return rc != 0 ? -1 : (int)k;
}

/* When the next held source reaches its wait_keys (then it may go, as a
 * drop). */
static double next_deadline(const struct vdd_worker *x)
{
	double d = 1e300;
	for (unsigned s = 0; s < x->n_src; s++)
		if (x->held_n[s] > 0 && x->key[s] == NULL &&
		    x->wait_since[s] + x->wait_keys < d)
			d = x->wait_since[s] + x->wait_keys;
	return d;
}

/* Per-source order: up to a burst of the held lines whose source may go
 * now, from anywhere in the queue (each source's in order), then the
 * queue's head moves over what was taken. @return lines processed, or -1
 * on a fatal error. */
static int drain_per_source(struct vdd_worker *x)
{
	if (!x->rescan && x->now < x->next_deadline)
		return 0; /* nothing changed since the last look */
	unsigned k = 0, idx[VDP_BURST_MAX];
	for (unsigned i = 0; i < x->q_n && k < VDP_BURST_MAX; i++) {
		unsigned j = (x->q_head + i) % x->q_cap;
		const struct held *h = &x->q[j];
		if (h->taken || !can_go(x, h->src))
			continue;
		idx[k] = j;
		x->lines[k++] = (struct vdp_line){ x->arena + h->off, h->len, h->src };
	}
	if (k == 0) {
		x->rescan = false;
		x->next_deadline = next_deadline(x);
		return 0;
	}
	int rc = process(x, x->lines, k, false);
	if (rc == -2)
		return -1;
	for (unsigned i = 0; i < k; i++) { /* taken, also when tx failed */
		struct held *h = &x->q[idx[i]];
		h->taken = true;
		if (h->src < x->n_src)
			x->held_n[h->src]--;
		x->q_live--;
	}
	while (x->q_n > 0 && x->q[x->q_head].taken) {
		const struct held *h = &x->q[x->q_head];
		x->a_head = h->off + h->len;
		x->q_head = (x->q_head + 1) % x->q_cap;
		x->q_n--;
	}
	if (x->q_n == 0)
		x->q_head = x->a_head = x->a_tail = 0;
	if (k < VDP_BURST_MAX) /* all that could go went: look again later */
		x->rescan = false, x->next_deadline = next_deadline(x);
	return rc != 0 ? -1 : (int)k;
}

/* Per-source order: admit a received burst. Lines of a source with
 * nothing held that may go, go (in one batch, in order); the others are
 * held; a line that finds the queue full goes to the pipeline (which drops
 * it, no-key) if its source has no key, else the rest of the burst is
 * given back. @return 0, or -1 on a fatal error. */
static int admit_per_source(struct vdd_worker *x, unsigned n)
{
	unsigned g = 0, i;
	for (i = 0; i < n; i++) {
		const struct vdp_line *ln = &x->lines[i];
		unsigned s = ln->src;
		bool held = s < x->n_src && x->held_n[s] > 0;
		if (!held && can_go(x, s))
			x->go[g++] = *ln;
		else if (enqueue(x, ln)) {
			if (!held) /* a new waiting source: its deadline */
				x->rescan = true;
		} else if (s < x->n_src && x->key[s] == NULL)
			x->go[g++] = *ln; /* no room: dropped (no-key) now */
		else
			break;
	}
	int rc = g > 0 ? process(x, x->go, g, true) : 0;
	if (rc == -2)
		x->abandoned += g; /* neither held nor given back */
	vdr_rx_return(x->drv, n - i);
	if (rc != 0)
		return -1;
	if (i == 0 && n > 0)
		usleep(WAIT_US); /* the queue's room is for lines that wait */
	return 0;
}

/* The output failed: nothing more is processed. The lines held, and in
 * snapshot mode (order kept across sources: a finite input) the rest of
 * the input, are counted as not written, so that every line of the input
 * is accounted for. */
static void abandon_rest(struct vdd_worker *x)
{
	x->abandoned += x->q_live;
	for (unsigned s = 0; s < x->n_src; s++)
		x->held_n[s] = 0;
	if (x->a_tail > 0)
		explicit_bzero(x->arena, x->a_tail); /* names */
	x->q_n = x->q_live = x->q_head = 0;
	x->a_head = x->a_tail = 0;
	if (x->per_source)
		return;
	for (;;) {
		int n = vdr_rx(x->drv, x->lines, VDP_BURST_MAX);
		if (n < 0) /* the end, or a read error (counted by the driver) */
			break;
		x->abandoned += (uint64_t)n;
	}
}

int vdd_worker_run(struct vdd_worker *x)
{
	bool eof = false, draining = false;
	double drain_end = 0;
	int rc = 0;

	for (;;) {
		boundary(x);
		if (atomic_load_explicit(&x->sh->stop, memory_order_relaxed)) {
			/* network mode: what the senders already wrote (in the
			 * kernel's buffers) is read and forwarded before the end,
			 * until a read finds nothing or STOP_DRAIN_S passed; a
			 * sender closed with unread bytes would lose them, and
			 * they would be counted nowhere */
			if (!x->per_source)
				break;
			if (!draining) {
				draining = true;
				drain_end = x->now + STOP_DRAIN_S;
			} else if (x->now >= drain_end) {
				break;
			}
		}
		if (x->q_live > 0) {
			int k = x->per_source ? drain_per_source(x) : drain(x);
			if (k < 0) {
				rc = -1;
				break;
			}
			if (k > 0)
				continue;
		}
		if (eof && x->q_live == 0)
			break;
		if (eof || (x->q_n == x->q_cap && !x->per_source)) {
			usleep(WAIT_US); /* waiting for a key, or its deadline */
			continue;
		}
		unsigned room = x->per_source ? VDP_BURST_MAX : x->q_cap - x->q_n;
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
		if (draining && n == 0)
			break; /* nothing more was written before the stop */
		if (x->per_source) {
			if (admit_per_source(x, (unsigned)n) != 0) {
				rc = -1;
				break;
			}
			continue;
		}
		unsigned go = 0;
		if (x->q_n == 0)
			while (go < (unsigned)n && can_go(x, x->lines[go].src))
				go++;
		int prc = go > 0 ? process(x, x->lines, go, true) : 0;
		if (prc != 0) {
			/* the lines not taken go back, to be counted below */
			vdr_rx_return(x->drv, (unsigned)n - (prc == -1 ? go : 0));
			rc = -1;
			break;
		}
		/* the rest waits, in order, behind the first that must */
		unsigned j = go;
		while (j < (unsigned)n && enqueue(x, &x->lines[j]))
			j++;
		vdr_rx_return(x->drv, (unsigned)n - j);
		/* the queue's bytes are full: wait. Nothing received: call
		 * again at once (a poll-mode driver must not sleep; the socket
		 * and file drivers wait in their rx) */
		if (j == 0 && n > 0)
			usleep(WAIT_US);
	}
	if (x->pool != NULL) {
		/* every burst in flight, written in order, then the workers
		 * stop */
		if (vdd_pool_complete(x->pool, true) != 0 && rc == 0) {
			snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
			rc = -1;
		}
		vdd_pool_ack(x->pool);
		vdd_pool_stop(x->pool);
	}
	if (vdr_flush(x->drv) != 0 && rc == 0) {
		snprintf(x->err, sizeof(x->err), "%s", vdr_error(x->drv));
		rc = -1;
	}
	if (x->tx_failed)
		abandon_rest(x);
	publish(x);
	if (x->slot >= 0) {
		if (rc != 0) /* fail closed: the process ends */
			atomic_store_explicit(&x->sh->stop, true, memory_order_relaxed);
		atomic_fetch_add_explicit(&x->sh->n_done, 1, memory_order_release);
	} else
		atomic_store_explicit(&x->sh->done, true, memory_order_release);
	return rc;
}
