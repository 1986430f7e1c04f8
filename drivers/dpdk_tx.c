/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's TX: each forwarded line a UDP datagram to every UDP
 * upstream, built in mbufs, fragmented over the MTU, to the next hop's
 * MAC (or through a kernel socket while it is unknown); the upstreams'
 * set-up (the port of their family, the next hop, the fallback socket).
 */
#include "dpdk_pvt.h"

/* ------------------------------------------------------------------ */
/* TX                                                                 */
/* ------------------------------------------------------------------ */

static void fill_spec(struct dpdk_drv *d, const struct dp_upstream *u,
		      struct pkt_hdr_spec *s)
{
	*s = (struct pkt_hdr_spec){ .vlan = u->port->cfg->vlan,
				    .family = u->family, .sport = u->sport,
				    .dport = u->dport, .ttl = 64,
				    .ip_id = d->ip_id };
	d->ip_id = (uint16_t)(d->ip_id + d->n_workers);
	memcpy(s->dst_mac, u->mac.addr_bytes, 6);
	memcpy(s->src_mac, u->port->mac.addr_bytes, 6);
	memcpy(s->src, u->src, 16);
	memcpy(s->dst, u->dst, 16);
}

/* Copy @p len bytes into a chain of mbufs from @p pool. */
static struct rte_mbuf *chain_of(struct rte_mempool *pool, const uint8_t *b,
				 size_t len)
{
	struct rte_mbuf *head = NULL;
	while (len > 0 || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == NULL)
			goto fail;
		uint16_t room = rte_pktmbuf_tailroom(m);
		uint16_t n = len < room ? (uint16_t)len : room;
		memcpy(rte_pktmbuf_append(m, n), b, n);
		b += n;
		len -= n;
		if (head == NULL)
			head = m;
		else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			goto fail;
		}
	}
	return head;
fail:
	rte_pktmbuf_free(head);
	return NULL;
}

/* A line to send: output line @p i of burst @p b, @p len bytes, copied
 * straight into each frame, or first into the scratch buffer (line) when
 * it must be in one piece (a kernel socket, fragmentation). */
struct tx_src {
	const struct vdp_burst *b;
	unsigned i;
	size_t len;
	const uint8_t *line; /* NULL until linear() */
};

static const uint8_t *linear(struct dpdk_drv *d, struct tx_src *t)
{
	if (t->line == NULL) {
		uint8_t *to = d->scratch + LINE_OFF;
		vdp_burst_copy(t->b, t->i, (char *)to, 65536);
		t->line = to;
	}
	return t->line;
}

/* One line to one upstream by the port: @return frames queued in @p out
 * (at most MAX_FRAGS), or -1 (no mbufs, too long). */
static int build_datagram(struct dpdk_drv *d, const struct dp_upstream *u,
			  struct tx_src *t, struct rte_mbuf **out)
{
	size_t len = t->len;
	struct dp_port *p = u->port;
	struct pkt_hdr_spec s;
	fill_spec(d, u, &s);
	size_t hl = pkt_hdr_len(&s);
	size_t l2 = sizeof(struct rte_ether_hdr) + (s.vlan ? 4 : 0);
	size_t l3 = u->family == AF_INET ? sizeof(struct rte_ipv4_hdr)
					 : sizeof(struct rte_ipv6_hdr);
	if (hl - l2 + len <= p->mtu) {
		/* one frame: the checksums by the NIC when it can */
		struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
		if (m == NULL)
			return -1;
		uint8_t *b = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + len));
		if (b == NULL) {
			rte_pktmbuf_free(m);
			return -1;
		}
		if (t->line != NULL)
			memcpy(b + hl, t->line, len);
		else
			vdp_burst_copy(t->b, t->i, (char *)b + hl, len);
		bool off_ip = u->family == AF_INET && p->tx_ip_csum;
		bool off_udp = p->tx_udp_csum;
		pkt_build_hdr(b, hl, &s, b + hl, len,
			      (off_ip ? PKT_B_NO_IP_CSUM : 0) |
				      (off_udp ? PKT_B_NO_UDP_CSUM : 0));
		m->l2_len = (uint16_t)l2;
		m->l3_len = (uint16_t)l3;
		if (off_ip || off_udp) {
			void *ip = b + l2;
			struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(b + l2 + l3);
			m->ol_flags |= u->family == AF_INET ? RTE_MBUF_F_TX_IPV4
							    : RTE_MBUF_F_TX_IPV6;
			if (off_ip)
				m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
			if (off_udp) {
				m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
				uh->dgram_cksum = u->family == AF_INET
					? rte_ipv4_phdr_cksum(ip, m->ol_flags)
					: rte_ipv6_phdr_cksum(ip, m->ol_flags);
			}
		}
		out[0] = m;
		return 1;
	}
	/* over the MTU: the whole datagram (without Ethernet), checksummed
	 * here, then split by rte_ip_frag */
	uint8_t hdr[128];
	const uint8_t *line = linear(d, t);
	if (pkt_build_hdr(hdr, sizeof(hdr), &s, line, len, 0) == 0) {
		d->x.tx_too_long++;
		return -1;
	}
	uint8_t *dg = d->scratch; /* the line is elsewhere: build it here */
	memcpy(dg, hdr + l2, hl - l2);
	memcpy(dg + (hl - l2), line, len);
	struct rte_mbuf *whole = chain_of(p->pool, dg, hl - l2 + len);
	if (whole == NULL)
		return -1;
	struct rte_mbuf *fr[MAX_FRAGS];
	int32_t n = u->family == AF_INET
		? rte_ipv4_fragment_packet(whole, fr, MAX_FRAGS, p->mtu,
					   p->pool, p->indirect)
		: rte_ipv6_fragment_packet(whole, fr, MAX_FRAGS, p->mtu,
					   p->pool, p->indirect);
	rte_pktmbuf_free(whole);
	if (n <= 0)
		return -1;
	for (int32_t i = 0; i < n; i++) {
		struct rte_mbuf *m = fr[i];
		if (!p->tx_multiseg && m->nb_segs > 1) {
			struct rte_mbuf *c = chain_of(p->pool,
				rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m),
						 d->reasm), rte_pktmbuf_pkt_len(m));
			rte_pktmbuf_free(m);
			m = fr[i] = c;
			if (m == NULL || m->nb_segs > 1)
				goto fail;
		}
		uint8_t *e = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)l2);
		if (e == NULL)
			goto fail;
		memcpy(e, hdr, l2);
		m->l2_len = (uint16_t)l2;
		m->l3_len = (uint16_t)l3;
		if (u->family == AF_INET) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + l2);
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		} else {
			/* rte_ipv6_fragment_packet gives every datagram id 0:
			 * a receiver would mix their fragments up */
			struct rte_ipv6_fragment_ext *fh =
				(struct rte_ipv6_fragment_ext *)(e + l2 + l3);
			fh->id = rte_cpu_to_be_32(d->frag_id);
		}
	}
	d->frag_id += d->n_workers;
	d->x.tx_fragments += (uint64_t)n;
	for (int32_t i = 0; i < n; i++)
		out[i] = fr[i];
	return n;
fail:
	for (int32_t i = 0; i < n; i++)
		rte_pktmbuf_free(fr[i]);
	return -1;
}

/* A line to upstream @p k by its kernel socket. The kernel taking it is
 * not delivery: it may drop it (a next hop that never answers, its TAP
 * queue full), and the port may not take its frame. With an exception
 * interface the line is delivered once its frame left the TAP by the port
 * (dpdk_poll_kernel), lost when it did not within KERNEL_WAIT_S. */
static void send_kernel(struct dpdk_drv *d, unsigned k, const uint8_t *line,
			size_t len)
{
	struct dp_upstream *u = &d->up[k];
	bool track = u->port->has_tap;
	if (track && !dpdk_kernel_sent(d, k)) {
		d->x.tx_kernel_lost++;
		d->st.tx_lost++;
		return;
	}
	if (sendto(u->kfd, line, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&u->cfg->addr, u->cfg->addr_len) < 0) {
		d->st.tx_errors++;
		d->st.tx_lost++;
		if (track)
			dpdk_kernel_unsent(d, k);
		return;
	}
	d->x.tx_via_kernel++;
}

/* Send the frames queued for port @p pi; a datagram whose last frame the
 * port did not take is lost (the ones before it were taken). */
static void flush_tx(struct dpdk_drv *d, unsigned pi, unsigned *nq)
{
	if (nq[pi] == 0)
		return;
	unsigned s = dpdk_tx_wire(&d->port[pi], d->wid, d->txq[pi], nq[pi]);
	for (unsigned z = 0; z < nq[pi]; z++) {
		if (!d->txq_last[pi][z])
			continue;
		if (z < s)
			d->x.tx_datagrams++;
		else {
			d->x.drop_tx_full++;
			d->st.tx_lost++;
		}
	}
	if (s < nq[pi])
		d->st.tx_errors++;
	nq[pi] = 0;
}

/* One line to one upstream by the port, queued for the port's burst. */
static void tx_port(struct dpdk_drv *d, struct dp_upstream *u, struct tx_src *t,
		    unsigned *nq)
{
	unsigned pi = u->port->idx;
	struct rte_mbuf *fr[MAX_FRAGS];
	int n = build_datagram(d, u, t, fr);
	if (n < 0) {
		d->st.tx_errors++;
		d->st.tx_lost++;
		return;
	}
	/* a datagram's frames go in one tx_burst batch */
	if (nq[pi] + (unsigned)n > RTE_DIM(d->txq[pi]))
		flush_tx(d, pi, nq);
	for (int j = 0; j < n; j++) {
		d->txq_last[pi][nq[pi]] = j == n - 1;
		d->txq[pi][nq[pi]++] = fr[j];
	}
}

/* A line for an upstream whose next hop is unknown. The first goes by the
 * kernel: its ARP or ND request over the exception interface makes the
 * neighbour known. The next ones wait here (up to HOLD_BYTES) while the
 * neighbour is looked up every HOLD_LOOKUP_S, then go by the port
 * (dpdk_release_held): a burst sent by the kernel before would overflow
 * the TAP's queue, uncounted. @return false: send it by the kernel. */
static bool hold_line(struct dpdk_drv *d, struct dp_upstream *u, struct tx_src *t)
{
	if (!u->port->has_tap || !u->probed) {
		u->probed = true;
		return false;
	}
	size_t need = 4 + t->len;
	if (u->held_len + need > HOLD_BYTES) {
		d->x.drop_hold_full++;
		d->st.tx_lost++;
		return true;
	}
	if (u->held_len + need > u->held_cap) {
		size_t cap = RTE_MAX(u->held_cap * 2, (size_t)65536);
		cap = RTE_MIN(RTE_MAX(cap, u->held_len + need), (size_t)HOLD_BYTES);
		uint8_t *b = realloc(u->held, cap);
		if (b == NULL) {
			d->x.drop_hold_full++;
			d->st.tx_lost++;
			return true;
		}
		u->held = b;
		u->held_cap = cap;
	}
	double now = veil_now();
	if (u->held_n == 0)
		u->held_since = now;
	uint32_t len = (uint32_t)t->len;
	memcpy(u->held + u->held_len, &len, 4);
	memcpy(u->held + u->held_len + 4, linear(d, t), t->len);
	u->held_len += need;
	u->held_n++;
	d->x.tx_held++;
	u->next_lookup = RTE_MIN(u->next_lookup, now + HOLD_LOOKUP_S);
	return true;
}

static void hold_clear(struct dp_upstream *u)
{
	if (u->held != NULL)
		explicit_bzero(u->held, u->held_len);
	u->held_len = 0;
	u->held_n = 0;
	u->probed = false;
}

void dpdk_release_held(struct dpdk_drv *d, bool final)
{
	unsigned nq[VDR_MAX_PORTS] = { 0 };
	double now = 0;
	for (unsigned k = 0; k < d->n_up; k++) {
		struct dp_upstream *u = &d->up[k];
		if (u->held_n == 0)
			continue;
		if (!u->has_mac) {
			if (now == 0)
				now = veil_now();
			if (!final && now < u->held_since + HOLD_MAX_S)
				continue;
			d->x.drop_no_next_hop += u->held_n;
			d->st.tx_lost += u->held_n;
			hold_clear(u);
			continue;
		}
		for (size_t off = 0; off + 4 <= u->held_len;) {
			uint32_t len;
			memcpy(&len, u->held + off, 4);
			struct tx_src t = { NULL, 0, len, u->held + off + 4 };
			tx_port(d, u, &t, nq);
			off += 4 + (size_t)len;
		}
		hold_clear(u);
	}
	for (unsigned pi = 0; pi < d->n_port; pi++)
		flush_tx(d, pi, nq);
	if (!final)
		dpdk_kernel_expire(d, false);
}

/* One line to every UDP upstream. */
static void tx_line(struct dpdk_drv *d, struct tx_src *t, unsigned *nq)
{
	for (unsigned k = 0; k < d->n_up; k++) {
		struct dp_upstream *u = &d->up[k];
		if (!u->has_mac) {
			if (!hold_line(d, u, t))
				send_kernel(d, k, linear(d, t), t->len);
			continue;
		}
		tx_port(d, u, t, nq);
	}
}

static bool kernel_pending(struct dpdk_drv *d)
{
	for (unsigned k = 0; k < d->n_up; k++)
		if (__atomic_load_n(&d->dev->kpend[k].n, __ATOMIC_RELAXED) > 0)
			return true;
	return false;
}

int dpdk_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	struct dpdk_drv *d = dpdk_dd_of(dv);
	int taken = 0;
	unsigned nq[VDR_MAX_PORTS] = { 0 };
	/* the next hops are refreshed by every poll (dpdk_rx), which comes
	 * before the tx of what it read */
	for (unsigned i = 0; i < b->n; i++) {
		if (b->line[i].verdict != VDP_FORWARD)
			continue;
		taken++;
		if (d->n_up == 0)
			continue;
		size_t len = b->line[i].len;
		if (len > 65536) { /* more than a datagram could carry */
			d->x.tx_too_long++;
			d->st.tx_lost++;
			continue;
		}
		d->st.tx_msgs++;
		d->st.tx_bytes += len;
		struct tx_src t = { b, i, len, NULL };
		tx_line(d, &t, nq);
	}
	for (unsigned pi = 0; pi < d->n_port; pi++)
		flush_tx(d, pi, nq);
	if (d->inner != NULL && vdr_tx(d->inner, b) == VDR_ERR) {
		vdr_set_error(dv, "%s", vdr_error(d->inner));
		return VDR_ERR;
	}
	return taken;
}

int dpdk_flush(struct vdr_driver *dv)
{
	struct dpdk_drv *d = dpdk_dd_of(dv);
	/* the end: what still waits for a next hop goes if it is known now */
	dpdk_refresh_neighbours(d, true);
	dpdk_release_held(d, true);
	/* the lines given to the kernel leave the TAP, or are lost */
	double end = veil_now() + KERNEL_FINAL_S;
	while (kernel_pending(d) && veil_now() < end) {
		for (unsigned i = 0; i < d->n_port; i++)
			if (d->port[i].has_tap)
				dpdk_poll_kernel(d, &d->port[i]);
		usleep(1000);
	}
	dpdk_kernel_expire(d, true);
	if (d->inner != NULL && vdr_flush(d->inner) != 0) {
		vdr_set_error(dv, "%s", vdr_error(d->inner));
		return VDR_ERR;
	}
	return 0;
}


/* An upstream: the port that has an address of its family (on its
 * network if one is), the next hop, the kernel fallback socket. */
int dpdk_setup_upstream(struct dpdk_drv *d, struct dp_upstream *u,
			const struct vdr_upstream_cfg *c, char *err,
			size_t errlen)
{
	u->cfg = c;
	u->kfd = -1;
	if (!c->numeric || (c->addr.ss_family != AF_INET &&
			    c->addr.ss_family != AF_INET6))
		return dpdk_fail(err, errlen, "upstream %s: the dpdk driver needs an "
			    "IP address, not a name", c->name);
	u->family = c->addr.ss_family;
	if (u->family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&c->addr;
		memcpy(u->dst, &s->sin_addr, 4);
		u->dport = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)&c->addr;
		memcpy(u->dst, &s->sin6_addr, 16);
		u->dport = ntohs(s->sin6_port);
	}
	const struct vdr_prefix *src = NULL;
	bool on_link = false;
	int pi = vdr_upstream_port(d->cfg, u->family, u->dst, &src, &on_link);
	if (pi < 0)
		return dpdk_fail(err, errlen, "upstream %s: no port has an IPv%c "
			    "address", c->name, u->family == AF_INET ? '4' : '6');
	u->port = &d->port[pi];
	memcpy(u->src, src->ip, 16);
	u->sport = u->port->cfg->listen_ports[0];
	const struct vdr_port_cfg *pc = u->port->cfg;
	memcpy(u->nh, u->dst, 16);
	if (!on_link && pc->has_gateway && pc->gateway.family == u->family)
		memcpy(u->nh, pc->gateway.ip, 16);
	if (pc->has_next_hop_mac) {
		memcpy(u->mac.addr_bytes, pc->next_hop_mac, 6);
		u->has_mac = u->fixed_mac = true;
	}
	/* the fallback: a kernel socket from the port's address, whose
	 * packets leave through the exception interface; one for all the
	 * upstreams with the same source */
	for (const struct dp_upstream *o = d->up; o < u; o++)
		if (o->port == u->port && o->family == u->family &&
		    memcmp(o->src, u->src, 16) == 0 && o->kfd >= 0) {
			u->kfd = o->kfd;
			u->ksport = o->ksport;
			u->kfd_shared = true;
			return 0;
		}
	u->kfd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->kfd < 0)
		return dpdk_fail(err, errlen, "upstream %s: socket: %s", c->name,
			    strerror(errno));
	if (u->port->has_tap) {
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		socklen_t sl;
		if (u->family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;
			s->sin_family = AF_INET;
			memcpy(&s->sin_addr, u->src, 4);
			sl = sizeof(*s);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, u->src, 16);
			sl = sizeof(*s);
		}
		/* an IPv6 address is tentative until DAD is done: bind
		 * anyway, the source is right once it is usable */
		int one = 1;
		if (u->family == AF_INET6)
			setsockopt(u->kfd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one));
		else
			setsockopt(u->kfd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
		/* the listen port as the source, as on the fast path; any
		 * port if that one is taken or privileged */
		if (u->family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(u->sport);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(u->sport);
		if (bind(u->kfd, (struct sockaddr *)&ss, sl) != 0) {
			if (u->family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = 0;
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = 0;
			if (bind(u->kfd, (struct sockaddr *)&ss, sl) != 0)
				return dpdk_fail(err, errlen, "upstream %s: binding the "
					    "kernel socket to the port's address: %s",
					    c->name, strerror(errno));
		}
		/* the source port its frames will have (dpdk_poll_kernel) */
		sl = sizeof(ss);
		if (getsockname(u->kfd, (struct sockaddr *)&ss, &sl) != 0)
			return dpdk_fail(err, errlen, "upstream %s: the kernel socket: "
				    "getsockname: %s", c->name, strerror(errno));
		u->ksport = ntohs(u->family == AF_INET
				  ? ((struct sockaddr_in *)&ss)->sin_port
				  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}
