/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's RX: every frame classified (pkt.c); UDP syslog to the
 * port's addresses delivered as a message of its sender's source,
 * fragments reassembled first (rte_ip_frag), everything else to the
 * kernel.
 */
#include "dpdk_pvt.h"

/* ------------------------------------------------------------------ */
/* RX                                                                 */
/* ------------------------------------------------------------------ */

static void count_drop(struct dpdk_drv *d, enum pkt_drop r, uint64_t w)
{
	switch (r) {
	case PKT_DROP_runt: d->x.drop_runt += w; break;
	case PKT_DROP_bad_ip_header: d->x.drop_bad_ip_header += w; break;
	case PKT_DROP_bad_ip_checksum: d->x.drop_bad_ip_checksum += w; break;
	case PKT_DROP_bad_length: d->x.drop_bad_length += w; break;
	case PKT_DROP_bad_udp_checksum: d->x.drop_bad_udp_checksum += w; break;
	case PKT_DROP_bad_vlan: d->x.drop_bad_vlan += w; break;
	case PKT_DROP_COUNT: d->x.drop_bad_ip_header += w; break;
	}
}

/* The source of a sender (netcfg.c: longest prefix, in O(lengths x log
 * networks), so that a flood of unknown senders costs no more than known
 * ones). */
static int sender_source(const struct dpdk_drv *d, int family,
			 const uint8_t *ip)
{
	return vdr_net_lookup(d->cfg, family, ip);
}

/* A syslog datagram's payload, standing for @p w frames: in frame @p m
 * (kept until the next poll; @return true), or, @p m NULL, copied. */
static bool deliver(struct dpdk_drv *d, const struct pkt_info *pi,
		    const uint8_t *payload, uint32_t w, struct rte_mbuf *m)
{
	size_t len = pi->payload_len;
	d->st.rx_bytes += len;
	while (len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == '\r' ||
			   payload[len - 1] == '\0'))
		len--;
	if (len == 0) {
		d->x.drop_empty += w;
		return false;
	}
	if (len > d->max_msg) {
		d->st.rx_oversize++;
		d->x.drop_oversize += w;
		return false;
	}
	int src = sender_source(d, pi->family, pi->src);
	if (src < 0) {
		d->x.drop_unknown_sender += w;
		return false;
	}
	const char *at = (const char *)payload;
	if (m != NULL)
		d->kept[d->n_kept++] = m;
	else {
		char *to = d->arena + d->arena_used;
		memcpy(to, payload, len);
		d->arena_used += len;
		at = to;
	}
	d->msgs[d->n_msgs++] = (struct vdp_line){ .data = at,
						  .len = (uint32_t)len,
						  .src = (uint16_t)src };
	d->st.rx_msgs++;
	d->x.rx_fast_path += w;
	return m != NULL;
}

/* Fragments the table dropped while @p mb was added (or expired). */
static void count_death_row(struct dpdk_drv *d, uint32_t before,
			    const struct rte_mbuf *mb)
{
	uint32_t n = d->dr.cnt - before;
	if (n == 0)
		return;
	bool has_mb = false;
	for (uint32_t i = before; i < d->dr.cnt; i++)
		has_mb |= d->dr.row[i] == mb;
	if (mb == NULL || !has_mb)
		d->x.drop_frag_timeout += n;
	else if (n == 1)
		d->x.drop_frag_table_full += n;
	else
		d->x.drop_frag_bad += n;
	d->x.frag_pending -= n;
}

/* A reassembled datagram for the kernel, over the TAP's MTU: split again
 * (rte_ip_frag), each piece with an untagged Ethernet header. */
static void to_kernel_split(struct dpdk_drv *d, struct dp_port *p,
			    struct rte_mbuf *m, const struct pkt_info *pi,
			    uint32_t w)
{
	uint8_t eth[RTE_ETHER_HDR_LEN];
	memcpy(eth, rte_pktmbuf_mtod(m, const uint8_t *), 2 * RTE_ETHER_ADDR_LEN);
	eth[12] = (uint8_t)(pi->ether_type >> 8);
	eth[13] = (uint8_t)pi->ether_type;
	rte_pktmbuf_adj(m, pi->l2_len);
	struct rte_mbuf *fr[MAX_FRAGS];
	int32_t n = pi->family == AF_INET
		? rte_ipv4_fragment_packet(m, fr, MAX_FRAGS, p->mtu, p->pool,
					   p->indirect)
		: rte_ipv6_fragment_packet(m, fr, MAX_FRAGS, p->mtu, p->pool,
					   p->indirect);
	rte_pktmbuf_free(m);
	if (n <= 0) {
		d->x.drop_exception_full += w;
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		uint8_t *e = (uint8_t *)rte_pktmbuf_prepend(fr[i], sizeof(eth));
		if (e == NULL) { /* cannot be: fragments have headroom */
			rte_pktmbuf_free(fr[i]);
			continue;
		}
		memcpy(e, eth, sizeof(eth));
		if (pi->family == AF_INET) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + sizeof(eth));
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		} else {
			struct rte_ipv6_fragment_ext *fh =
				(struct rte_ipv6_fragment_ext *)(e + sizeof(eth) +
					sizeof(struct rte_ipv6_hdr));
			fh->id = rte_cpu_to_be_32(d->frag_id);
		}
		/* the first piece stands for the frames received */
		dpdk_to_kernel(d, p, fr[i], 0, i == 0 ? w : 0);
	}
	d->frag_id += d->n_workers;
}

/* A datagram rebuilt from @p w fragments. */
static void process_reassembled(struct dpdk_drv *d, struct dp_port *p,
				struct rte_mbuf *m, uint32_t w)
{
	d->x.reassembled++;
	d->x.frag_pending -= w;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	if (len > REASM_MAX) {
		d->x.drop_bad_length += w;
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *f = rte_pktmbuf_read(m, 0, len, d->reasm);
	struct pkt_info pi;
	switch (pkt_classify(f, len, &p->loc, PKT_F_REASSEMBLED, &pi)) {
	case PKT_SYSLOG:
		deliver(d, &pi, f + pi.payload_off, w, NULL);
		rte_pktmbuf_free(m);
		break;
	case PKT_DROP:
		count_drop(d, pi.drop, w);
		rte_pktmbuf_free(m);
		break;
	case PKT_FRAGMENT: /* a fragment header inside: dropped */
		d->x.drop_frag_bad += w;
		rte_pktmbuf_free(m);
		break;
	case PKT_EXCEPTION:
		if (pi.family == AF_INET) {
			/* rte_ip_frag leaves the header checksum to offload */
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(
				m, struct rte_ipv4_hdr *, pi.l2_len);
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
		if (len - pi.l2_len > p->mtu)
			to_kernel_split(d, p, m, &pi, w);
		else
			dpdk_to_kernel(d, p, m, pi.n_vlan, w);
		break;
	}
}

static void reassemble(struct dpdk_drv *d, struct dp_port *p,
		       struct rte_mbuf *m, const struct pkt_info *pi,
		       const uint8_t *f)
{
	d->x.rx_fragments++;
	/* the table holds up to 8 fragments a datagram: bounded by the
	 * pools' share for it, or incomplete datagrams would empty them
	 * and stop RX */
	if (d->x.frag_pending >= d->frag_budget) {
		d->x.drop_frag_table_full++;
		rte_pktmbuf_free(m);
		return;
	}
	d->x.frag_pending++;
	/* the datagram's end: Ethernet padding must not join the payload */
	uint32_t end = pi->l2_len + (pi->family == AF_INET
		? (uint32_t)(f[pi->l2_len + 2] << 8 | f[pi->l2_len + 3])
		: 40u + (uint32_t)(f[pi->l2_len + 4] << 8 | f[pi->l2_len + 5]));
	if (rte_pktmbuf_pkt_len(m) > end)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - end));
	m->l2_len = pi->l2_len;
	m->l3_len = pi->l3_len;
	uint64_t tms = rte_rdtsc();
	uint32_t before = d->dr.cnt;
	struct rte_mbuf *mo;
	if (pi->family == AF_INET)
		mo = rte_ipv4_frag_reassemble_packet(d->frag, &d->dr, m, tms,
			rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
						pi->l2_len));
	else
		mo = rte_ipv6_frag_reassemble_packet(d->frag, &d->dr, m, tms,
			rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *,
						pi->l2_len),
			rte_pktmbuf_mtod_offset(m, struct rte_ipv6_fragment_ext *,
						pi->frag_hdr_off));
	count_death_row(d, before, m);
	/* free now: the death row holds a few bursts' worth at most */
	rte_ip_frag_free_death_row(&d->dr, 0);
	if (mo != NULL)
		process_reassembled(d, p, mo, mo->nb_segs);
}

static void process_frame(struct dpdk_drv *d, struct dp_port *p,
			  struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	/* a frame in one segment is read in place, a chain copied */
	const uint8_t *f = len <= REASM_MAX
		? rte_pktmbuf_read(m, 0, len, d->reasm) : NULL;
	if (f == NULL) {
		d->x.drop_bad_length++;
		rte_pktmbuf_free(m);
		return;
	}
	unsigned flags = 0;
	if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
	    RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		flags |= PKT_F_IP_CSUM_GOOD;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
	    RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		flags |= PKT_F_L4_CSUM_GOOD;
	struct pkt_info pi;
	switch (pkt_classify(f, len, &p->loc, flags, &pi)) {
	case PKT_SYSLOG:
		/* in place when the frame is one segment (read in place) */
		if (!deliver(d, &pi, f + pi.payload_off, 1, f != d->reasm ? m : NULL))
			rte_pktmbuf_free(m);
		break;
	case PKT_DROP:
		count_drop(d, pi.drop, 1);
		rte_pktmbuf_free(m);
		break;
	case PKT_FRAGMENT:
		if (m->nb_segs != 1 && rte_pktmbuf_linearize(m) != 0) {
			/* the ledger counts fragments as segments */
			d->x.drop_frag_bad++;
			rte_pktmbuf_free(m);
			break;
		}
		reassemble(d, p, m, &pi, rte_pktmbuf_mtod(m, const uint8_t *));
		break;
	case PKT_EXCEPTION:
		dpdk_to_kernel(d, p, m, pi.n_vlan, 1);
		break;
	}
}

/* Take frames until the messages or the arena could overflow. */
static void poll_ports(struct dpdk_drv *d)
{
	struct rte_mbuf *m[BURST];
	for (int pass = 0; pass < 8; pass++) {
		bool got = false;
		for (unsigned i = 0; i < d->n_port; i++) {
			struct dp_port *p = &d->port[i];
			for (uint16_t q = d->wid; q < p->nq; q += d->n_workers) {
				if (d->n_msgs + BURST > MSG_CAP ||
				    d->arena_cap - d->arena_used <
					    BURST * d->max_msg)
					goto full;
				uint16_t n = rte_eth_rx_burst(p->id, q, m, BURST);
				d->x.rx_packets += n;
				got |= n > 0;
				for (uint16_t k = 0; k < n; k++)
					process_frame(d, p, m[k]);
				if (d->exc[i].n > 0)
					dpdk_flush_kernel(d, p);
			}
		}
		if (!got)
			break;
	}
full:
	for (unsigned i = 0; i < d->n_port; i++)
		if (d->port[i].has_tap)
			dpdk_poll_kernel(d, &d->port[i]);
	if (d->frag != NULL) {
		uint64_t now = rte_rdtsc();
		if (now >= d->next_expire) {
			uint32_t before = d->dr.cnt;
			rte_ip_frag_table_del_expired_entries(d->frag, &d->dr, now);
			count_death_row(d, before, NULL);
			rte_ip_frag_free_death_row(&d->dr, 0);
			d->next_expire = now + rte_get_tsc_hz() / 10;
		}
	}
}

/* The socket driver (TCP, TLS): every few ms, as its rx may wait ~1 ms
 * when it has nothing and this driver never waits. Its lines stay valid
 * until its next rx, which comes only once ours are all taken. */
static void poll_inner(struct dpdk_drv *d)
{
	if (d->inner == NULL) /* no clock read per poll without one */
		return;
	double t = veil_now();
	if (t - d->inner_last < INNER_POLL_S || d->n_msgs >= MSG_CAP)
		return;
	d->inner_last = t;
	int n = vdr_rx(d->inner, d->msgs + d->n_msgs, MSG_CAP - d->n_msgs);
	if (n > 0)
		d->n_msgs += (unsigned)n;
	else if (n == VDR_ERR) {
		vdr_set_error(&d->base, "TCP/TLS: %s", vdr_error(d->inner));
		d->inner_failed = true;
	}
}

int dpdk_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max)
{
	struct dpdk_drv *d = dpdk_dd_of(dv);
	if (d->pos >= d->n_msgs) {
		/* everything given out before is released now */
		d->n_msgs = d->pos = 0;
		d->arena_used = 0;
		if (d->n_kept > 0) {
			rte_pktmbuf_free_bulk(d->kept, d->n_kept);
			d->n_kept = 0;
		}
		poll_ports(d);
		poll_inner(d);
		dpdk_refresh_neighbours(d, false);
		dpdk_release_held(d, false);
		if (d->inner_failed && d->n_msgs == 0)
			return VDR_ERR;
	}
	unsigned k = d->n_msgs - d->pos;
	if (k > max)
		k = max;
	memcpy(lines, d->msgs + d->pos, k * sizeof(*lines));
	d->pos += k;
	d->last_rx = k;
	return (int)k;
}

void dpdk_rx_return(struct vdr_driver *dv, unsigned n)
{
	struct dpdk_drv *d = dpdk_dd_of(dv);
	if (n > d->last_rx)
		n = d->last_rx;
	d->pos -= n;
	d->last_rx -= n;
}
