/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver: the kernel path of veil-dataplane (veil_driver.h,
 * docs/network-socket.md).
 *
 * In: every [listen NAME]. UDP is read with recvmmsg, a datagram a
 * message; TCP and TLS connections are accepted up to max_connections and
 * each has its own vdp_framer (RFC 6587 octet counting or LF). One epoll
 * set serves everything, level-triggered; each ready connection is read at
 * most RX_READ bytes per round, so that no sender starves the others, and
 * the only scan over all connections is the timeout check once a second.
 * Framed messages are copied into the pending queue (an arena and a line
 * table): vdr_rx() hands out its head, valid until the next vdr_rx();
 * vdr_rx_return() leaves the tail there for the next call. A full pending
 * queue stops reading (backpressure reaches the senders' TCP windows).
 *
 * Out: every [upstream NAME] has a queue of framed lines (a byte ring and
 * a ring of line ends), bounded by queue_bytes. A line leaves the queue
 * only when the collector's TCP has acknowledged its last byte (TCP_INFO
 * tcpi_bytes_acked), so that a connection that breaks loses nothing the kernel had not
 * delivered: on reconnect, every line not yet acknowledged -- and a line
 * partly written -- is sent again whole, from its first byte. The price is
 * a possible duplicate (a line the collector had received but whose ACK
 * had not come back), never a loss; a collector that dies with lines in
 * its own buffers loses them (only an application-level acknowledgement,
 * RELP, could tell). UDP upstreams get one datagram per line (sendmmsg).
 *
 * Nothing is printed; vdr_error() says the last noteworthy event (an
 * address and a reason, never a message's content).
 *
 * The parts: socket_pvt.h lists them.
 */
#include "socket_pvt.h"

#define SK_NAME_(n) #n,
static const char *const sk_xnames[SKX_COUNT] = { SK_XSTATS(SK_NAME_) };

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

static struct sock_drv *sd_of(struct vdr_driver *d)
{
	return (struct sock_drv *)d;
}

static const char *proto_name(enum vdr_proto p)
{
	return p == VDR_UDP ? "udp" : p == VDR_TCP ? "tcp" : p == VDR_TLS ? "tls"
									   : "relp";
}

/* "192.0.2.1:514" or "[2001:db8::1]:514". */
void sk_sa_text(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, cap, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, cap, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, cap, "(address family %d)", sa->sa_family);
	}
}

/* The reason of the last OpenSSL error (never data: OpenSSL's errors name
 * a function and a reason). */
int sk_set_events(struct sock_drv *d, int fd, void *obj, uint32_t *cur,
		  uint32_t ev)
{
	if (*cur == ev)
		return 0;
	struct epoll_event e = { .events = ev, .data.ptr = obj };
	int rc = epoll_ctl(d->ep, *cur == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd,
			   &e);
	if (rc == 0)
		*cur = ev;
	return rc;
}

/* ------------------------------------------------------------------ */
/* the pending queue                                                  */
/* ------------------------------------------------------------------ */

static size_t pend_n(const struct sock_drv *d)
{
	return d->pl_tail - d->pl_head;
}

bool sk_pend_room(const struct sock_drv *d)
{
	return pend_n(d) < PEND_LINES && d->pa_tail - d->pa_head < PEND_BYTES;
}

void sk_pend_push(struct sock_drv *d, const char *msg, size_t len,
		  uint16_t src)
{
	if (d->pl_tail == d->pl_cap) {
		size_t nc = d->pl_cap ? 2 * d->pl_cap : PEND_LINES_INIT;
		struct pend *np = realloc(d->pl, nc * sizeof(*np));
		if (np == NULL) {
			d->x[SKX_drop_no_memory]++;
			return;
		}
		d->pl = np;
		d->pl_cap = nc;
	}
	if (d->pa_cap - d->pa_tail < len) {
		size_t nc = d->pa_cap ? d->pa_cap : 1u << 20;
		while (nc - d->pa_tail < len)
			nc *= 2;
		char *np = malloc(nc);
		if (np == NULL) {
			d->x[SKX_drop_no_memory]++;
			return;
		}
		/* not realloc: the old copy is wiped */
		if (d->pa != NULL) {
			memcpy(np, d->pa, d->pa_tail);
			explicit_bzero(d->pa, d->pa_cap);
			free(d->pa);
		}
		d->pa = np;
		d->pa_cap = nc;
	}
	memcpy(d->pa + d->pa_tail, msg, len);
	d->pl[d->pl_tail++] = (struct pend){ d->pa_tail, (uint32_t)len, src };
	d->pa_tail += len;
}

/* The first @p k pending messages are done with. */
static void pend_consume(struct sock_drv *d, size_t k)
{
	d->pl_head += k;
	if (d->pl_head == d->pl_tail) {
		d->pl_head = d->pl_tail = 0;
		d->pa_head = d->pa_tail = 0;
		return;
	}
	d->pa_head = d->pl[d->pl_head].off;
	/* compact once the consumed part is the larger: amortized O(1) */
	if (d->pl_head < d->pl_tail - d->pl_head)
		return;
	size_t n = d->pl_tail - d->pl_head, base = d->pa_head;
	memmove(d->pl, d->pl + d->pl_head, n * sizeof(*d->pl));
	for (size_t i = 0; i < n; i++)
		d->pl[i].off -= base;
	memmove(d->pa, d->pa + base, d->pa_tail - base);
	d->pa_tail -= base;
	d->pa_head = 0;
	d->pl_head = 0;
	d->pl_tail = n;
}

/* ------------------------------------------------------------------ */
/* the operations                                                     */
/* ------------------------------------------------------------------ */

static void dispatch(struct sock_drv *d, const struct epoll_event *e)
{
	uint8_t kind = *(const uint8_t *)e->data.ptr;
	if (kind == OBJ_LISTEN) {
		struct sk_listen *l = e->data.ptr;
		if (l->cfg.proto == VDR_UDP) {
			if (sk_pend_room(d))
				sk_udp_read(d, l);
		} else {
			sk_listen_accept(d, l);
		}
	} else if (kind == OBJ_CONN) {
		struct sk_conn *c = e->data.ptr;
		if (c->state == C_HANDSHAKE || (sk_pend_room(d) && !d->up_full))
			sk_conn_read(d, c);
	} else {
		sk_up_event(d, e->data.ptr, e->events);
	}
}

/*
 * Held senders' connections are not read, and epoll (level-triggered)
 * would report them readable at every round: the loop would spin at full
 * CPU while the upstream is full. Their input is switched off in epoll
 * meanwhile (a closing sender's RDHUP is reported once, edge-triggered),
 * and on again when the upstream takes lines. Every round while held, for
 * the connections accepted or through their TLS handshake since.
 */
#define CONN_OPEN_EVENTS (EPOLLIN | EPOLLRDHUP)
#define CONN_HELD_EVENTS (EPOLLRDHUP | EPOLLET)

static void hold_conns(struct sock_drv *d, bool hold)
{
	uint32_t from = hold ? CONN_OPEN_EVENTS : CONN_HELD_EVENTS;
	uint32_t to = hold ? CONN_HELD_EVENTS : CONN_OPEN_EVENTS;
	for (unsigned i = 0; i < d->n_conns; i++) {
		struct sk_conn *c = d->conns[i];
		if (c->state != C_HANDSHAKE && c->events == from)
			sk_set_events(d, c->fd, c, &c->events, to);
	}
	d->conns_held = hold;
}

static int sock_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max)
{
	struct sock_drv *d = sd_of(dv);
	struct epoll_event ev[EV_MAX];

	pend_consume(d, d->last_out - d->returned);
	d->last_out = d->returned = 0;
	d->now = veil_now();
	if (!sk_pend_room(d)) {
		d->bp_last = d->now;
		d->x[SKX_rx_paused]++;
	}
	/* an upstream that blocks is full (or one whose spool refuses lines,
	 * which then blocks): the TCP and TLS senders wait (their TCP windows
	 * close), until the collector takes its queue */
	d->up_full = false;
	for (unsigned i = 0; i < d->n_up; i++)
		if (sk_up_holds_senders(d, &d->up[i]))
			d->up_full = true;
	if (d->up_full)
		d->x[SKX_rx_paused_upstream]++;
	if (d->up_full || d->conns_held)
		hold_conns(d, d->up_full);
	int n = epoll_wait(d->ep, ev, EV_MAX, pend_n(d) > 0 ||
			   (d->flags & VDR_SOCK_NO_WAIT) ? 0 : RX_WAIT_MS);
	d->now = veil_now();
	for (int i = 0; i < n; i++)
		dispatch(d, &ev[i]);
	/* connections read to their round's limit, in turn */
	for (struct sk_conn *c = d->ready, *next;
	     c != NULL && sk_pend_room(d) && !d->up_full; c = next) {
		next = c->rnext;
		sk_conn_read(d, c); /* may close c, never another */
	}
	for (unsigned i = 0; i < d->n_up; i++)
		sk_up_service(d, &d->up[i]);
	if (d->now >= d->next_scan) {
		sk_scan_timeouts(d);
		d->next_scan = d->now + 1.0;
	}
	size_t k = pend_n(d);
	if (k > max)
		k = max;
	for (size_t i = 0; i < k; i++) {
		const struct pend *p = &d->pl[d->pl_head + i];
		lines[i] = (struct vdp_line){ d->pa + p->off, p->len, p->src };
	}
	d->last_out = (unsigned)k;
	d->rx_msgs += k;
	return (int)k;
}

static void sock_rx_return(struct vdr_driver *dv, unsigned n)
{
	struct sock_drv *d = sd_of(dv);
	if (n > d->last_out)
		n = d->last_out;
	d->returned = n;
	d->rx_msgs -= n;
}

static int sock_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	struct sock_drv *d = sd_of(dv);
	int taken = 0;
	d->now = veil_now();
	for (unsigned i = 0; i < b->n; i++) {
		const struct vdp_out *o = &b->line[i];
		if (o->verdict != VDP_FORWARD)
			continue;
		taken++;
		if (o->len == 0) {
			/* nothing to send ("0 " is no octet count): counted */
			d->x[SKX_tx_empty]++;
			continue;
		}
		uint64_t lost = d->tx_lost;
		for (unsigned k = 0; k < d->n_up; k++)
			sk_q_line(d, &d->up[k], b, o);
		if (d->tx_lost - lost < d->n_up || d->n_up == 0)
			d->tx_msgs++; /* at least one upstream took it */
	}
	for (unsigned k = 0; k < d->n_up; k++)
		sk_up_service(d, &d->up[k]);
	return taken;
}

static bool all_sent(const struct sock_drv *d)
{
	for (unsigned k = 0; k < d->n_up; k++)
		if (!sk_q_empty(&d->up[k]) || d->up[k].bh_lines > 0)
			return false;
	return true;
}

static int sock_flush(struct vdr_driver *dv)
{
	struct sock_drv *d = sd_of(dv);
	d->now = veil_now();
	double end = d->now + d->cfg.drain_timeout;
	for (unsigned k = 0; k < d->n_up; k++)
		if (d->up[k].relp != NULL)
			sk_relp_drain(&d->up[k]);
	for (;;) {
		for (unsigned k = 0; k < d->n_up; k++)
			sk_up_service(d, &d->up[k]);
		if (all_sent(d) || d->now >= end)
			break;
		/* wait on the upstreams only: senders wait for the next rx */
		struct pollfd pf[VDR_MAX_UPSTREAM];
		struct sk_up *pu[VDR_MAX_UPSTREAM];
		unsigned np = 0;
		for (unsigned k = 0; k < d->n_up; k++) {
			struct sk_up *u = &d->up[k];
			if (u->fd < 0 || u->events == 0)
				continue;
			short e = 0;
			if (u->events & EPOLLIN)
				e |= POLLIN;
			if (u->events & EPOLLOUT)
				e |= POLLOUT;
			pf[np] = (struct pollfd){ .fd = u->fd, .events = e };
			pu[np++] = u;
		}
		poll(pf, np, FLUSH_POLL_MS);
		d->now = veil_now();
		for (unsigned k = 0; k < np; k++)
			if (pf[k].revents != 0)
				sk_up_event(d, pu[k], (pf[k].revents & POLLIN ? EPOLLIN : 0) |
						   (pf[k].revents & POLLOUT ? EPOLLOUT : 0) |
						   (pf[k].revents & POLLERR ? EPOLLERR : 0) |
						   (pf[k].revents & POLLHUP ? EPOLLHUP : 0));
	}
	uint64_t left = 0;
	d->tx_held = 0;
	d->drained = true;
	for (unsigned k = 0; k < d->n_up; k++) {
		struct sk_up *u = &d->up[k];
		if (u->sp != NULL) {
			/* not lost: in the spool, for the next run; but what
			 * went round it while it refused lines is in memory
			 * only, as with block */
			sk_spool_service(d, u, true);
			d->tx_held += sk_spool_left(u);
			uint64_t m = sk_up_mem_only(u);
			u->lost += m;
			left += m;
			continue;
		}
		uint64_t n = u->r_tail - u->r_head;
		if (n == 0)
			continue;
		u->lost += n;
		left += n;
		sk_q_release(u, u->r_tail);
		u->q_wr = u->q_head;
		u->r_wr = u->r_head;
		u->tls_wlen = 0;
	}
	if (left > 0) {
		d->tx_lost += left;
		vdr_set_error(&d->base, "%llu lines could not be delivered to "
			      "the upstreams within drain_timeout (%.1f s)",
			      (unsigned long long)left, d->cfg.drain_timeout);
	}
	return 0;
}

static void sock_stats(const struct vdr_driver *dv, struct vdr_stats *st)
{
	const struct sock_drv *d = (const struct sock_drv *)dv;
	st->rx_msgs = d->rx_msgs;
	st->rx_bytes = d->rx_bytes;
	st->rx_oversize = d->x[SKX_oversize];
	st->tx_msgs = d->tx_msgs;
	st->tx_bytes = d->tx_bytes;
	st->tx_errors = d->tx_errors;
	st->tx_lost = d->tx_lost;
	st->tx_held = d->tx_held;
	st->rx_kernel_drops = d->x[SKX_udp_kernel_drops];
	if (d->drained)
		return;
	/* while running, a line is written once delivered: those an upstream
	 * still holds are held (with several, the most any holds) */
	st->tx_held = 0;
	for (unsigned k = 0; k < d->n_up; k++) {
		uint64_t w = sk_up_waiting(&d->up[k]);
		if (w > st->tx_held)
			st->tx_held = w;
	}
}

/* CLOCK_REALTIME seconds of driver time @p t (veil_now()). */
static double wall_of(double t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (veil_now() - t);
}

static void row_of_up(const struct sk_up *u, struct vdr_row *r)
{
	*r = (struct vdr_row){ .listener = false };
	snprintf(r->name, sizeof(r->name), "%s", u->cfg.name);
	bool v6 = strchr(u->cfg.host, ':') != NULL;
	snprintf(r->addr, sizeof(r->addr), "%s%s%s:%s", v6 ? "[" : "", u->cfg.host,
		 v6 ? "]" : "", u->cfg.port);
	r->proto = proto_name(u->cfg.proto);
	/* a collector is up or down; the attempts in between are down */
	r->state = u->state == U_UP ? VDR_ROW_CONNECTED : VDR_ROW_DOWN;
	r->since = wall_of(u->state == U_UP ? u->up_since : u->down_since);
	r->queued_lines = u->r_tail - u->r_head + u->bh_lines;
	r->queued_bytes = u->q_tail - u->q_head + (u->bh_tail - u->bh_head);
	if (u->sp != NULL) {
		struct vdr_spool_stats ss;
		vdr_spool_stats(u->sp, &ss);
		r->spooled_lines = ss.queued;
		r->spooled_bytes = ss.queued_bytes;
	}
	r->delivered = u->sent;
	r->resent = u->resent;
	r->connects = u->connects;
	r->disconnects = u->disconnects;
	r->failures = u->failures;
	static const unsigned map[SK_DROP_COUNT] = {
		[SK_DROP_QUEUE_FULL] = VDR_ROW_DROP_QUEUE_FULL,
		[SK_DROP_NO_MEMORY] = VDR_ROW_DROP_NO_MEMORY,
		[SK_DROP_SPOOL_FULL] = VDR_ROW_DROP_SPOOL_FULL,
		[SK_DROP_SPOOL_ERROR] = VDR_ROW_DROP_SPOOL_ERROR,
		[SK_DROP_TOO_BIG] = VDR_ROW_DROP_TOO_BIG,
	};
	for (unsigned k = 0; k < SK_DROP_COUNT; k++)
		r->drops[map[k]] += u->drops[k];
}

static unsigned sock_rows(const struct vdr_driver *dv, struct vdr_row *rows,
			  unsigned cap)
{
	const struct sock_drv *d = (const struct sock_drv *)dv;
	unsigned n = 0;
	for (unsigned k = 0; k < d->n_up; k++, n++)
		if (n < cap)
			row_of_up(&d->up[k], &rows[n]);
	for (unsigned i = 0; i < d->n_lis; i++, n++) {
		const struct sk_listen *l = &d->lis[i];
		if (n >= cap)
			continue;
		struct vdr_row *r = &rows[n];
		*r = (struct vdr_row){ .listener = true, .state = VDR_ROW_LISTENING };
		snprintf(r->name, sizeof(r->name), "%s", l->cfg.name);
		snprintf(r->addr, sizeof(r->addr), "%s", l->cfg.addr_text);
		r->proto = proto_name(l->cfg.proto);
		r->kernel_drops = l->kdrops;
	}
	return n;
}

static unsigned sock_xstats(const struct vdr_driver *dv, const char **names,
			    uint64_t *vals, unsigned cap)
{
	const struct sock_drv *d = (const struct sock_drv *)dv;
	uint64_t v[SKX_COUNT];
	memcpy(v, d->x, sizeof(v));
	v[SKX_tcp_open] = d->n_conns;
	for (unsigned k = 0; k < d->n_up; k++) {
		const struct sk_up *u = &d->up[k];
		v[SKX_upstream_sent] += u->sent;
		v[SKX_upstream_queued] += u->r_tail - u->r_head + u->bh_lines;
		v[SKX_upstream_queue_bytes] += u->q_tail - u->q_head +
					       (u->bh_tail - u->bh_head);
		v[SKX_upstream_dropped] += u->dropped;
		v[SKX_upstream_lost] += u->lost;
		v[SKX_upstream_resent] += u->resent;
		v[SKX_upstream_connects] += u->connects;
		v[SKX_upstream_disconnects] += u->disconnects;
		v[SKX_upstream_reconnect_failures] += u->failures;
		v[SKX_upstream_spool_dropped] += u->drops[SK_DROP_SPOOL_FULL];
		v[SKX_upstream_spool_full] += u->sp_fulls;
		v[SKX_upstream_spool_bypassed] += u->sp_bypassed;
		if (u->sp != NULL) {
			struct vdr_spool_stats ss;
			vdr_spool_stats(u->sp, &ss);
			v[SKX_upstream_spooled] += ss.queued;
			v[SKX_upstream_spool_bytes] += ss.used_bytes;
		}
	}
	for (unsigned i = 0; i < SKX_COUNT && i < cap; i++) {
		names[i] = sk_xnames[i];
		vals[i] = v[i];
	}
	return SKX_COUNT;
}

static void sock_free(struct vdr_driver *dv)
{
	struct sock_drv *d = sd_of(dv);
	while (d->n_conns > 0)
		sk_conn_close(d, d->conns[d->n_conns - 1], CL_FREE);
	free(d->conns);
	for (unsigned i = 0; i < d->n_lis; i++) {
		if (d->lis[i].fd >= 0)
			close(d->lis[i].fd);
		SSL_CTX_free(d->lis[i].ctx);
	}
	for (unsigned i = 0; i < d->n_up; i++)
		sk_up_free(&d->up[i]);
	if (d->ep >= 0)
		close(d->ep);
	if (d->pa != NULL) {
		explicit_bzero(d->pa, d->pa_cap);
		free(d->pa);
	}
	free(d->pl);
	if (d->rbuf != NULL) {
		explicit_bzero(d->rbuf, RX_READ);
		free(d->rbuf);
	}
	if (d->ubuf != NULL) {
		explicit_bzero(d->ubuf, UDP_BATCH * d->uslot);
		free(d->ubuf);
	}
	if (d->txs != NULL) {
		explicit_bzero(d->txs, d->txs_cap);
		free(d->txs);
	}
	free(d->cfg.map);
	explicit_bzero(d, sizeof(*d));
	free(d);
}

static const struct vdr_ops sock_ops = {
	.name = "socket",
	.rx = sock_rx,
	.rx_return = sock_rx_return,
	.tx = sock_tx,
	.flush = sock_flush,
	.stats = sock_stats,
	.xstats = sock_xstats,
	.rows = sock_rows,
	.free = sock_free,
};

struct vdr_driver *vdr_socket_new(const struct vdr_net_cfg *c, size_t max_msg,
				  unsigned flags, char *err, size_t errlen)
{
	if (c == NULL || max_msg == 0 || max_msg > 999999999u) {
		snprintf(err, errlen, "socket driver: no configuration, or a "
			 "maximum message size out of 1..999999999");
		errno = EINVAL;
		return NULL;
	}
	/* a collector that resets its connection must not kill us */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);

	struct sock_drv *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(err, errlen, "socket driver: out of memory");
		return NULL;
	}
	d->base.ops = &sock_ops;
	d->cfg = *c;
	d->cfg.map = NULL;
	d->max_msg = max_msg;
	d->flags = flags;
	d->ep = -1;
	for (unsigned i = 0; i < VDR_MAX_LISTEN; i++)
		d->lis[i].fd = -1;
	for (unsigned i = 0; i < VDR_MAX_UPSTREAM; i++)
		d->up[i].fd = -1;
	d->bp_last = -1e9;
	if (c->n_map > 0) {
		d->cfg.map = malloc(c->n_map * sizeof(*c->map));
		if (d->cfg.map == NULL)
			goto nomem;
		memcpy(d->cfg.map, c->map, c->n_map * sizeof(*c->map));
	}
	d->rbuf = malloc(RX_READ);
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->rbuf == NULL)
		goto nomem;
	if (d->ep < 0) {
		snprintf(err, errlen, "socket driver: epoll: %s", strerror(errno));
		goto out;
	}
	d->now = veil_now();
	d->next_scan = d->now + 1.0;

	bool any_udp = false;
	for (unsigned i = 0; i < c->n_listen && i < VDR_MAX_LISTEN; i++) {
		if ((c->listen[i].proto == VDR_UDP && (flags & VDR_SOCK_NO_UDP_LISTEN)) ||
		    (flags & VDR_SOCK_NO_LISTEN))
			continue;
		struct sk_listen *l = &d->lis[d->n_lis++];
		l->kind = OBJ_LISTEN;
		l->cfg = c->listen[i];
		char a[80];
		sk_sa_text((const struct sockaddr *)&l->cfg.addr, a, sizeof(a));
		snprintf(l->text, sizeof(l->text), "%s %s",
			 proto_name(l->cfg.proto), a);
		if (l->cfg.proto == VDR_UDP) {
			any_udp = true;
			l->cfg.framing = VDP_FRAME_DATAGRAM;
		} else if (l->cfg.framing != VDP_FRAME_TCP_AUTO &&
			   l->cfg.framing != VDP_FRAME_OCTET_COUNT &&
			   l->cfg.framing != VDP_FRAME_LF) {
			snprintf(err, errlen, "listen %s: framing must be auto, "
				 "octet-counting or lf", l->text);
			goto out;
		}
		if (l->cfg.proto == VDR_TLS &&
		    (l->ctx = sk_tls_server_ctx(l, err, errlen)) == NULL)
			goto out;
		if (sk_listen_open(d, l, err, errlen) != 0)
			goto out;
	}
	if (any_udp) {
		d->uslot = max_msg + 64 < UDP_SLOT_MAX ? max_msg + 64 : UDP_SLOT_MAX;
		d->ubuf = malloc(UDP_BATCH * d->uslot);
		if (d->ubuf == NULL)
			goto nomem;
	}
	for (unsigned i = 0; i < c->n_up && i < VDR_MAX_UPSTREAM; i++) {
		if (c->up[i].proto == VDR_UDP && (flags & VDR_SOCK_NO_UDP_UPSTREAM))
			continue;
		struct sk_up *u = &d->up[d->n_up++];
		u->kind = OBJ_UP;
		u->cfg = c->up[i];
		bool v6 = strchr(u->cfg.host, ':') != NULL;
		snprintf(u->text, sizeof(u->text), "%s %s%s%s:%s",
			 proto_name(u->cfg.proto), v6 ? "[" : "", u->cfg.host,
			 v6 ? "]" : "", u->cfg.port);
		if (u->cfg.proto != VDR_UDP && u->cfg.framing != VDP_FRAME_LF)
			u->cfg.framing = VDP_FRAME_OCTET_COUNT;
		u->backoff = c->reconnect_min > 0 ? c->reconnect_min : 0.5;
		u->state = U_DOWN;
		u->retry_at = d->now;
		if (u->cfg.proto == VDR_TLS &&
		    (u->ctx = sk_tls_client_ctx(u, err, errlen)) == NULL)
			goto out;
		u->on_full = vdr_upstream_on_full(c, &u->cfg);
		u->down_since = d->now;
		if (u->on_full == VDR_FULL_SPOOL && sk_spool_open(d, u, err, errlen) != 0)
			goto out;
		if (u->cfg.proto == VDR_RELP && sk_relp_start(d, u, err, errlen) != 0)
			goto out;
	}
	/* first connection attempts now (non-blocking) */
	for (unsigned i = 0; i < d->n_up; i++)
		sk_up_service(d, &d->up[i]);
	return &d->base;
nomem:
	snprintf(err, errlen, "socket driver: out of memory");
out:
	sock_free(&d->base);
	return NULL;
}
