/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver (veil_driver.h): syslog over UDP on ethdev ports.
 *
 * RX: every frame of every RX queue is classified (pkt.c). UDP to one of
 * the port's addresses and udp_ports is a message, left in its frame (or,
 * reassembled, copied into an arena) until the next vdr_rx(); fragments of
 * such datagrams are
 * reassembled with rte_ip_frag first; everything else goes to the kernel
 * through a TAP interface (the exception path) that has the port's MAC
 * and addresses, and whatever the kernel sends on it leaves by the port.
 * TX: each forwarded line is a UDP datagram to every UDP upstream, built
 * in mbufs here (fragmented by rte_ip_frag over the MTU), to the next
 * hop's MAC from the kernel's neighbour table of the TAP interface; while
 * that is unknown, through a kernel socket (the kernel resolves it over
 * the exception path). TCP and TLS listeners and upstreams are a socket
 * driver inside this one. docs/network-dpdk.md describes the packet path
 * and every counter.
 *
 * Workers (vdr_dpdk_new(), vdr_dpdk_worker()): each port has at least one
 * RX/TX queue pair per worker, RSS over IP and UDP spreads the senders.
 * Worker i's driver polls RX queues i, i + n, ... of every port, sends on
 * TX queue i, and has its own TAP queue pair, reassembly table, neighbour
 * lookups and socket driver (worker 0's has the TCP/TLS listeners; every
 * worker's its own TCP/TLS upstream connections). The ports, their pools
 * and the TAP devices are shared (created and freed by the device, the
 * driver vdr_dpdk_new() returns); nothing else is. One thread polls each
 * worker's driver.
 *
 * The parts: dpdk_pvt.h lists them.
 */
#include "dpdk_pvt.h"

static const char *const xst_names[] = {
#define X_NAME(n) #n,
	DPDK_XSTATS(X_NAME)
#undef X_NAME
};
#define N_XST (sizeof(xst_names) / sizeof(xst_names[0]))


static void dpdk_stats(const struct vdr_driver *dv, struct vdr_stats *st)
{
	const struct dpdk_drv *d = (const struct dpdk_drv *)dv;
	struct vdr_stats in = { 0 };
	if (d->inner != NULL)
		vdr_stats(d->inner, &in);
	st->rx_msgs = d->st.rx_msgs + in.rx_msgs;
	st->rx_bytes = d->st.rx_bytes + in.rx_bytes;
	st->rx_oversize = d->st.rx_oversize + in.rx_oversize;
	st->rx_errors = in.rx_errors;
	st->rx_unterminated = in.rx_unterminated;
	/* a line sent to the UDP upstreams and to a socket one counts once */
	st->tx_msgs = d->n_up > 0 ? d->st.tx_msgs : in.tx_msgs;
	st->tx_bytes = d->n_up > 0 ? d->st.tx_bytes : in.tx_bytes;
	st->tx_errors = d->st.tx_errors + in.tx_errors;
	st->tx_lost = d->st.tx_lost + in.tx_lost;
}

static unsigned dpdk_xstats(const struct vdr_driver *dv, const char **names,
			    uint64_t *vals, unsigned cap)
{
	const struct dpdk_drv *d = (const struct dpdk_drv *)dv;
	const uint64_t *v = (const uint64_t *)&d->x;
	unsigned n = 0;
	for (; n < N_XST; n++)
		if (n < cap) {
			names[n] = xst_names[n];
			vals[n] = v[n];
		}
	if (d->inner != NULL)
		n += vdr_xstats(d->inner, n < cap ? names + n : NULL,
				n < cap ? vals + n : NULL, n < cap ? cap - n : 0);
	return n;
}

/* The TCP and TLS upstreams and listeners (the socket driver inside). */
static unsigned dpdk_rows(const struct vdr_driver *dv, struct vdr_row *rows,
			  unsigned cap)
{
	const struct dpdk_drv *d = (const struct dpdk_drv *)dv;
	return d->inner != NULL ? vdr_rows(d->inner, rows, cap) : 0;
}

static void dpdk_free(struct vdr_driver *dv)
{
	struct dpdk_drv *d = dpdk_dd_of(dv);
	vdr_free(d->inner);
	for (unsigned i = 0; i < d->n_up; i++) {
		if (d->up[i].kfd >= 0 && !d->up[i].kfd_shared)
			close(d->up[i].kfd);
		if (d->up[i].held != NULL)
			explicit_bzero(d->up[i].held, d->up[i].held_cap);
		free(d->up[i].held);
	}
	if (d->frag != NULL) {
		rte_ip_frag_free_death_row(&d->dr, 0);
		rte_ip_frag_table_destroy(d->frag);
	}
	for (unsigned i = 0; i < d->n_port; i++)
		for (unsigned k = 0; k < d->exc[i].n; k++)
			rte_pktmbuf_free(d->exc[i].m[k]);
	if (d->n_kept > 0)
		rte_pktmbuf_free_bulk(d->kept, d->n_kept);
	if (d->nl >= 0)
		close(d->nl);
	/* message content: received lines and frames, lines sent */
	if (d->arena != NULL)
		explicit_bzero(d->arena, d->arena_cap);
	if (d->reasm != NULL)
		explicit_bzero(d->reasm, REASM_MAX + 64);
	if (d->scratch != NULL)
		explicit_bzero(d->scratch, LINE_OFF + 65536);
	free(d->arena);
	free(d->reasm);
	free(d->scratch);
	free(d);
}

static const struct vdr_ops dpdk_ops = {
	.name = "dpdk",
	.rx = dpdk_rx,
	.rx_return = dpdk_rx_return,
	.tx = dpdk_tx,
	.flush = dpdk_flush,
	.stats = dpdk_stats,
	.xstats = dpdk_xstats,
	.rows = dpdk_rows,
	.free = dpdk_free,
};

/* ------------------------------------------------------------------ */
/* the device: one worker's rx and tx, every worker's counters         */
/* ------------------------------------------------------------------ */

static struct dpdk_dev *dev_of(struct vdr_driver *d)
{
	return (struct dpdk_dev *)d;
}

/* rx, tx and flush of the device are its only worker's; with more, each
 * worker has its own driver (vdr_dpdk_worker()). */
static struct vdr_driver *dev_worker(struct dpdk_dev *v)
{
	if (v->n_workers == 1)
		return &v->w[0]->base;
	vdr_set_error(&v->base, "the dpdk driver has %u workers: each uses "
		      "its own (vdr_dpdk_worker)", v->n_workers);
	return NULL;
}

static int dev_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max)
{
	struct vdr_driver *w = dev_worker(dev_of(dv));
	int n = w != NULL ? vdr_rx(w, lines, max) : VDR_ERR;
	if (n == VDR_ERR && w != NULL)
		vdr_set_error(dv, "%s", vdr_error(w));
	return n;
}

static void dev_rx_return(struct vdr_driver *dv, unsigned n)
{
	struct vdr_driver *w = dev_worker(dev_of(dv));
	if (w != NULL)
		vdr_rx_return(w, n);
}

static int dev_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	struct vdr_driver *w = dev_worker(dev_of(dv));
	int n = w != NULL ? vdr_tx(w, b) : VDR_ERR;
	if (n == VDR_ERR && w != NULL)
		vdr_set_error(dv, "%s", vdr_error(w));
	return n;
}

static int dev_flush(struct vdr_driver *dv)
{
	struct vdr_driver *w = dev_worker(dev_of(dv));
	int rc = w != NULL ? vdr_flush(w) : VDR_ERR;
	if (rc != 0 && w != NULL)
		vdr_set_error(dv, "%s", vdr_error(w));
	return rc;
}

static void dev_stats(const struct vdr_driver *dv, struct vdr_stats *st)
{
	const struct dpdk_dev *v = (const struct dpdk_dev *)dv;
	for (unsigned i = 0; i < v->n_workers; i++) {
		struct vdr_stats w;
		vdr_stats(&v->w[i]->base, &w);
		st->rx_msgs += w.rx_msgs;
		st->rx_bytes += w.rx_bytes;
		st->rx_oversize += w.rx_oversize;
		st->rx_errors += w.rx_errors;
		st->rx_unterminated += w.rx_unterminated;
		st->tx_msgs += w.tx_msgs;
		st->tx_bytes += w.tx_bytes;
		st->tx_errors += w.tx_errors;
		st->tx_lost += w.tx_lost;
	}
}

/* Worker 0's names (every worker has the same ones, or fewer when only
 * worker 0 has TCP/TLS listeners and no socket driver otherwise), the
 * values summed by name. */
static unsigned dev_xstats(const struct vdr_driver *dv, const char **names,
			   uint64_t *vals, unsigned cap)
{
	const struct dpdk_dev *v = (const struct dpdk_dev *)dv;
	unsigned n = vdr_xstats(&v->w[0]->base, names, vals, cap);
	const char *wn[256];
	uint64_t wv[256];
	for (unsigned i = 1; i < v->n_workers; i++) {
		unsigned m = vdr_xstats(&v->w[i]->base, wn, wv, RTE_DIM(wn));
		for (unsigned k = 0; k < m && k < n && k < cap; k++)
			if (strcmp(names[k], wn[k]) == 0)
				vals[k] += wv[k];
	}
	return n;
}

static void dev_free(struct vdr_driver *dv)
{
	struct dpdk_dev *v = dev_of(dv);
	for (unsigned i = 0; i < v->n_workers; i++)
		if (v->w[i] != NULL)
			dpdk_free(&v->w[i]->base);
	for (unsigned i = 0; i < v->n_port; i++)
		dpdk_port_stop(&v->port[i]);
	free(v);
}

static const struct vdr_ops dev_ops = {
	.name = "dpdk",
	.rx = dev_rx,
	.rx_return = dev_rx_return,
	.tx = dev_tx,
	.flush = dev_flush,
	.stats = dev_stats,
	.xstats = dev_xstats,
	.free = dev_free,
};

struct vdr_driver *vdr_dpdk_worker(struct vdr_driver *d, unsigned i)
{
	if (d == NULL || d->ops != &dev_ops)
		return NULL;
	struct dpdk_dev *v = dev_of(d);
	return i < v->n_workers ? &v->w[i]->base : NULL;
}

static bool needs_socket_driver(const struct vdr_net_cfg *c)
{
	for (unsigned i = 0; i < c->n_listen; i++)
		if (c->listen[i].proto != VDR_UDP)
			return true;
	for (unsigned i = 0; i < c->n_up; i++)
		if (c->up[i].proto != VDR_UDP)
			return true;
	return false;
}

static bool tcp_upstreams(const struct vdr_net_cfg *c)
{
	for (unsigned i = 0; i < c->n_up; i++)
		if (c->up[i].proto != VDR_UDP)
			return true;
	return false;
}

/* Worker @p i's driver: its buffers, its share of the reassembly table,
 * its neighbour socket, its upstreams (worker 0 opens the kernel
 * fallback sockets, the others use them). */
static struct dpdk_drv *worker_new(struct dpdk_dev *v, unsigned i,
				   size_t max_msg, char *err, size_t errlen)
{
	const struct vdr_net_cfg *c = v->cfg;
	struct dpdk_drv *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		dpdk_fail(err, errlen, "out of memory");
		return NULL;
	}
	d->base.ops = &dpdk_ops;
	d->cfg = c;
	d->dev = v;
	d->wid = (uint16_t)i;
	d->n_workers = (uint16_t)v->n_workers;
	d->port = v->port;
	d->n_port = v->n_port;
	/* no UDP payload is longer: a larger maximum changes nothing */
	d->max_msg = RTE_MIN(max_msg, (size_t)65535);
	d->nl = -1;
	/* the workers' IPv4 and IPv6 fragment identifications never meet:
	 * worker i takes base + i, then steps by the number of workers */
	d->frag_id = v->frag_id_base + i;
	d->ip_id = (uint16_t)(v->ip_id_base + i);
	for (unsigned k = 0; k < VDR_MAX_UPSTREAM; k++)
		d->up[k].kfd = -1;
	v->w[i] = d; /* freed with the device from here on */
	d->arena_cap = RTE_MAX((size_t)4 << 20, 2 * BURST * d->max_msg);
	d->arena = malloc(d->arena_cap);
	d->reasm = malloc(REASM_MAX + 64);
	d->scratch = malloc(LINE_OFF + 65536);
	if (d->arena == NULL || d->reasm == NULL || d->scratch == NULL) {
		dpdk_fail(err, errlen, "out of memory");
		return NULL;
	}
	/* fragments of a datagram hash to one queue (the IP addresses):
	 * the workers share the table's size and the pool's budget */
	uint64_t hz = rte_get_tsc_hz();
	unsigned entries = RTE_MAX(c->frag_entries / v->n_workers, 16u);
	d->frag_budget = RTE_MAX(FRAG_POOL(c) / v->n_workers, 16u);
	d->frag = rte_ip_frag_table_create(
		rte_align32pow2((entries + 15) / 16), 16, entries,
		(uint64_t)(c->frag_timeout * (double)hz), (int)rte_socket_id());
	if (d->frag == NULL) {
		dpdk_fail(err, errlen, "reassembly table of %u datagrams: %s",
		     entries, rte_strerror(rte_errno));
		return NULL;
	}
	d->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (d->nl >= 0) {
		struct timeval tv = { .tv_usec = 200000 };
		setsockopt(d->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (i > 0) {
		const struct dpdk_drv *w0 = v->w[0];
		memcpy(d->up, w0->up, sizeof(d->up));
		d->n_up = w0->n_up;
		for (unsigned k = 0; k < d->n_up; k++)
			d->up[k].kfd_shared = true;
		return d;
	}
	for (unsigned k = 0; k < c->n_up; k++) {
		if (c->up[k].proto != VDR_UDP)
			continue;
		if (dpdk_setup_upstream(d, &d->up[d->n_up], &c->up[k], err, errlen) != 0) {
			d->n_up++;
			return NULL;
		}
		d->n_up++;
	}
	return d;
}

/* The next hops, and the socket driver for TCP and TLS: worker 0's has
 * the listeners, every worker's its own upstream connections. */
static int worker_start(struct dpdk_drv *d, size_t max_msg, char *err,
			size_t errlen)
{
	dpdk_refresh_neighbours(d, true);
	unsigned flags = VDR_SOCK_NO_UDP_LISTEN | VDR_SOCK_NO_UDP_UPSTREAM |
			 VDR_SOCK_NO_WAIT | VDR_SOCK_FREEBIND;
	if (d->wid > 0)
		flags |= VDR_SOCK_NO_LISTEN;
	if (d->wid == 0 ? !needs_socket_driver(d->cfg) : !tcp_upstreams(d->cfg))
		return 0;
	char ierr[256] = "";
	/* polled from the poll-mode loop: it must never wait; its listeners
	 * may bind the TAP's addresses before they are usable (IPv6
	 * duplicate address detection) */
	d->inner = vdr_socket_new(d->cfg, max_msg, flags, ierr, sizeof(ierr));
	if (d->inner == NULL)
		return dpdk_fail(err, errlen, "TCP/TLS through the exception "
			    "interface: %s", ierr);
	return 0;
}

struct vdr_driver *vdr_dpdk_new(const struct vdr_net_cfg *c, size_t max_msg,
				unsigned workers, char *err, size_t errlen)
{
	if (c == NULL || max_msg == 0 || c->n_port == 0 || workers == 0) {
		dpdk_fail(err, errlen, "the dpdk driver needs at least one [port], "
		     "a maximum message size and a worker");
		errno = EINVAL;
		return NULL;
	}
	if (rte_lcore_count() == 0) {
		dpdk_fail(err, errlen, "the dpdk driver needs rte_eal_init() first");
		errno = EINVAL;
		return NULL;
	}
	if (workers > RTE_MAX_LCORE || workers > UINT16_MAX) {
		dpdk_fail(err, errlen, "%u workers: at most %u", workers, RTE_MAX_LCORE);
		errno = EINVAL;
		return NULL;
	}
	struct dpdk_dev *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		dpdk_fail(err, errlen, "out of memory");
		return NULL;
	}
	v->base.ops = &dev_ops;
	v->cfg = c;
	v->n_workers = workers;
	v->frag_id_base = (uint32_t)rte_rand();
	v->ip_id_base = (uint16_t)rte_rand();
	for (unsigned i = 0; i < c->n_port; i++) {
		v->port[i].cfg = &c->port[i];
		v->port[i].idx = i;
		v->n_port = i + 1;
		if (dpdk_start_port(v, &v->port[i], err, errlen) != 0)
			goto fail;
	}
	if (worker_new(v, 0, max_msg, err, errlen) == NULL ||
	    dpdk_tap_routes(v->w[0], err, errlen) != 0)
		goto fail;
	for (unsigned i = 1; i < workers; i++)
		if (worker_new(v, i, max_msg, err, errlen) == NULL)
			goto fail;
	for (unsigned i = 0; i < workers; i++)
		if (worker_start(v->w[i], max_msg, err, errlen) != 0)
			goto fail;
	return &v->base;
fail:
	dev_free(&v->base);
	errno = EINVAL;
	return NULL;
}
