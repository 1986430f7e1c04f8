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
 */
#define ALLOW_EXPERIMENTAL_API 1 /* rte_ip_frag_table_del_expired_entries */

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/ipv6.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_udp.h>

#include "net_pvt.h"
#include "pkt.h"

#define BURST 32                  /* frames per rte_eth_rx_burst */
#define MSG_CAP 1024              /* messages held by one poll */
#define TX_RETRIES 4              /* rte_eth_tx_burst calls for one batch */
#define MAX_FRAGS 64              /* fragments of one datagram we send */
#define NEIGH_RETRY_S 1.0         /* an unknown next hop: look again */
#define NEIGH_REFRESH_S 10.0      /* a known one: look again */
#define INNER_POLL_S 0.005        /* the socket driver (its rx may wait ~1 ms) */
#define REASM_MAX 65600           /* a reassembled frame, linear */
#define TAP_DESC 512              /* a TAP queue's ring */
#define LINE_OFF (65536 + 256)    /* scratch: a datagram, then the line */
/* mbufs of a port's pool for fragments waiting in the reassembly table,
 * and so the most fragments it holds */
#define FRAG_POOL(c) RTE_MIN((c)->frag_entries * 2, 16384u)

/* The driver's own counters: one list gives the fields, the names and the
 * order of vdr_xstats(). */
#define DPDK_XSTATS(X)                                                       \
	X(rx_packets)         /* frames from the ports' RX queues */        \
	X(rx_fast_path)       /* ... delivered as messages (fragments too) */ \
	X(rx_exception)       /* ... given to the kernel */                 \
	X(rx_fragments)       /* ... that were fragments for us */          \
	X(reassembled)        /* datagrams rebuilt from them */             \
	X(frag_pending)       /* fragments waiting in the table now */      \
	X(drop_runt)                                                         \
	X(drop_bad_ip_header)                                                \
	X(drop_bad_ip_checksum)                                              \
	X(drop_bad_length)                                                   \
	X(drop_bad_udp_checksum)                                             \
	X(drop_bad_vlan)                                                     \
	X(drop_frag_table_full)                                              \
	X(drop_frag_timeout)                                                 \
	X(drop_frag_bad)      /* overlapping, too many, inconsistent */     \
	X(drop_unknown_sender)                                               \
	X(drop_oversize)      /* longer than max_msg (rx_oversize) */       \
	X(drop_empty)         /* nothing left after trimming */             \
	X(drop_no_exception)  /* not syslog, and exception = none */        \
	X(drop_exception_full) /* the TAP did not take it */                \
	X(rx_from_kernel)     /* frames from the TAP */                     \
	X(tx_to_wire)         /* ... sent by the port */                    \
	X(drop_tx_full)       /* ... or our datagrams, not taken by the port */ \
	X(tx_datagrams)       /* datagrams to upstreams, by the port */     \
	X(tx_fragments)       /* IP fragments of those sent */              \
	X(tx_via_kernel)      /* datagrams sent by a kernel socket */       \
	X(tx_too_long)        /* lines too long for a datagram */           \
	X(neighbour_misses)   /* next-hop lookups that found no MAC */

struct xst {
#define X_FIELD(n) uint64_t n;
	DPDK_XSTATS(X_FIELD)
#undef X_FIELD
};

static const char *const xst_names[] = {
#define X_NAME(n) #n,
	DPDK_XSTATS(X_NAME)
#undef X_NAME
};
#define N_XST (sizeof(xst_names) / sizeof(xst_names[0]))

struct dp_port {
	const struct vdr_port_cfg *cfg;
	unsigned idx;
	uint16_t id;                 /* the ethdev */
	uint16_t nq;
	uint16_t mtu;
	struct rte_ether_addr mac;
	struct rte_mempool *pool, *indirect;
	bool tx_ip_csum, tx_udp_csum, tx_multiseg;
	bool started;
	bool has_tap, tap_started;
	uint16_t tap_id;
	char tap_dev[32];            /* the vdev's name */
	int tap_ifindex;
	struct pkt_local loc;
};

/* A worker's frames to a port's TAP, this burst. */
struct dp_exc {
	struct rte_mbuf *m[BURST * 2];
	uint32_t w[BURST * 2];            /* frames each stands for */
	unsigned n;
};

struct dp_upstream {
	const struct vdr_upstream_cfg *cfg;
	struct dp_port *port;
	int family;
	uint8_t src[16], dst[16], nh[16];
	uint16_t sport, dport;
	bool has_mac, fixed_mac;
	struct rte_ether_addr mac;
	double next_lookup;          /* monotonic seconds */
	int kfd;                     /* the kernel fallback socket */
	bool kfd_shared;             /* an earlier upstream's (same source),
				      * or worker 0's */
};

struct dpdk_drv;

/* The ports, the TAPs and a driver per worker: what vdr_dpdk_new()
 * returns. With one worker its rx and tx are that worker's; its stats and
 * xstats are the sums over the workers. */
struct dpdk_dev {
	struct vdr_driver base;
	const struct vdr_net_cfg *cfg;
	struct dp_port port[VDR_MAX_PORTS];
	unsigned n_port;
	unsigned n_workers;
	uint32_t frag_id_base;
	uint16_t ip_id_base;
	struct dpdk_drv *w[RTE_MAX_LCORE];
};

/* One worker's driver. */
struct dpdk_drv {
	struct vdr_driver base;
	const struct vdr_net_cfg *cfg;
	struct dpdk_dev *dev;
	uint16_t wid, n_workers;     /* its queues: wid, wid + n_workers, ... */
	size_t max_msg;
	struct dp_port *port;        /* the device's */
	unsigned n_port;
	struct dp_exc exc[VDR_MAX_PORTS];
	struct dp_upstream up[VDR_MAX_UPSTREAM];
	unsigned n_up;
	struct vdr_driver *inner;    /* TCP, TLS */
	double inner_last;
	/* messages of the last poll, and where they are */
	struct vdp_line msgs[MSG_CAP];
	unsigned n_msgs, pos, last_rx;
	bool inner_failed;           /* its rx said VDR_ERR */
	char *arena;
	size_t arena_cap, arena_used;
	struct rte_mbuf *kept[MSG_CAP]; /* frames the messages are in */
	unsigned n_kept;
	uint8_t *reasm;              /* a reassembled frame, linear */
	uint8_t *scratch;            /* a line to send, linear */
	/* reassembly */
	struct rte_ip_frag_tbl *frag;
	struct rte_ip_frag_death_row dr;
	uint64_t next_expire;        /* tsc */
	uint64_t frag_budget;        /* fragments it may hold (FRAG_POOL) */
	uint16_t ip_id;
	uint32_t frag_id;            /* IPv6 fragment identification */
	/* senders -> sources (the [source] networks, longest prefix) */
	int nl;                      /* rtnetlink, for neighbours */
	uint32_t nl_seq;
	uint32_t nl_buf[8192];       /* its answers */
	struct rte_mbuf *txq[VDR_MAX_PORTS][BURST * 2]; /* a burst's frames */
	uint32_t txq_last[VDR_MAX_PORTS][BURST * 2];    /* 1: a datagram's last */
	struct xst x;
	struct vdr_stats st;
};

static struct dpdk_drv *dd_of(struct vdr_driver *d)
{
	return (struct dpdk_drv *)d;
}

/* ------------------------------------------------------------------ */
/* the exception path                                                 */
/* ------------------------------------------------------------------ */

static void flush_kernel(struct dpdk_drv *d, struct dp_port *p)
{
	struct dp_exc *e = &d->exc[p->idx];
	unsigned sent = 0;
	for (int t = 0; t < TX_RETRIES && sent < e->n; t++)
		sent += rte_eth_tx_burst(p->tap_id, d->wid, e->m + sent,
					 (uint16_t)(e->n - sent));
	for (unsigned i = 0; i < e->n; i++) {
		if (i < sent)
			d->x.rx_exception += e->w[i];
		else {
			d->x.drop_exception_full += e->w[i];
			rte_pktmbuf_free(e->m[i]);
		}
	}
	e->n = 0;
}

/* Queue frame @p m for the kernel (its tags removed: the TAP interface is
 * the port's VLAN), standing for @p w received frames. The queue is
 * flushed after each RX burst. */
static void to_kernel(struct dpdk_drv *d, struct dp_port *p,
		      struct rte_mbuf *m, unsigned n_vlan, uint32_t w)
{
	if (!p->has_tap) {
		d->x.drop_no_exception += w;
		rte_pktmbuf_free(m);
		return;
	}
	if (n_vlan > 0) {
		uint8_t *e = rte_pktmbuf_mtod(m, uint8_t *);
		memmove(e + 4 * n_vlan, e, 2 * RTE_ETHER_ADDR_LEN);
		rte_pktmbuf_adj(m, (uint16_t)(4 * n_vlan));
	}
	m->ol_flags = 0;
	struct dp_exc *e = &d->exc[p->idx];
	if (e->n == RTE_DIM(e->m))
		flush_kernel(d, p);
	e->m[e->n] = m;
	e->w[e->n++] = w;
}

/* Send @p n frames on the port's TX queue @p q, a few tries; the rest are
 * freed. @return how many were sent. */
static unsigned tx_wire(struct dp_port *p, uint16_t q, struct rte_mbuf **m,
			unsigned n)
{
	unsigned sent = 0;
	for (int t = 0; t < TX_RETRIES && sent < n; t++)
		sent += rte_eth_tx_burst(p->id, q, m + sent, (uint16_t)(n - sent));
	for (unsigned i = sent; i < n; i++)
		rte_pktmbuf_free(m[i]);
	return sent;
}

/* Frames from the kernel leave by the port, tagged with its VLAN. */
static void poll_kernel(struct dpdk_drv *d, struct dp_port *p)
{
	struct rte_mbuf *m[BURST];
	uint16_t n = rte_eth_rx_burst(p->tap_id, d->wid, m, BURST);
	if (n == 0)
		return;
	d->x.rx_from_kernel += n;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		m[i]->ol_flags = 0;
		if (p->cfg->vlan) {
			m[i]->vlan_tci = p->cfg->vlan;
			if (rte_vlan_insert(&m[i]) != 0) {
				d->x.drop_tx_full++;
				rte_pktmbuf_free(m[i]);
				continue;
			}
		}
		m[k++] = m[i];
	}
	unsigned s = tx_wire(p, d->wid, m, k);
	d->x.tx_to_wire += s;
	d->x.drop_tx_full += k - s;
}

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
		to_kernel(d, p, fr[i], 0, i == 0 ? w : 0);
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
			to_kernel(d, p, m, pi.n_vlan, w);
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
		to_kernel(d, p, m, pi.n_vlan, 1);
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
					flush_kernel(d, p);
			}
		}
		if (!got)
			break;
	}
full:
	for (unsigned i = 0; i < d->n_port; i++)
		if (d->port[i].has_tap)
			poll_kernel(d, &d->port[i]);
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
	double t = vdr_now();
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

static void refresh_neighbours(struct dpdk_drv *d, bool force);

static int dpdk_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max)
{
	struct dpdk_drv *d = dd_of(dv);
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
		refresh_neighbours(d, false);
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

static void dpdk_rx_return(struct vdr_driver *dv, unsigned n)
{
	struct dpdk_drv *d = dd_of(dv);
	if (n > d->last_rx)
		n = d->last_rx;
	d->pos -= n;
	d->last_rx -= n;
}

/* ------------------------------------------------------------------ */
/* next hops: the kernel's neighbour table of the TAP interface       */
/* ------------------------------------------------------------------ */

/* @return 0 and the MAC of @p ip on interface @p ifindex, or -1. */
static int neigh_lookup(struct dpdk_drv *d, int ifindex, int family,
			const uint8_t *ip, struct rte_ether_addr *mac)
{
	if (d->nl < 0)
		return -1;
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
	} req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)),
			.nlmsg_type = RTM_GETNEIGH,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = ++d->nl_seq },
		.nd = { .ndm_family = (uint8_t)family },
	};
	if (send(d->nl, &req, req.nh.nlmsg_len, 0) < 0)
		return -1;
	size_t alen = family == AF_INET ? 4 : 16;
	int found = -1;
	uint32_t *buf = d->nl_buf;
	for (;;) {
		ssize_t got = recv(d->nl, buf, sizeof(d->nl_buf), 0);
		if (got <= 0)
			return -1;
		/* NLMSG_OK and NLMSG_NEXT, without their sign mix */
		size_t n = (size_t)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
		     n >= sizeof(*h) && h->nlmsg_len >= sizeof(*h) &&
		     h->nlmsg_len <= n;
		     n -= RTE_MIN(n, (size_t)NLMSG_ALIGN(h->nlmsg_len)),
		     h = (struct nlmsghdr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len))) {
			if (h->nlmsg_seq != d->nl_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				return found;
			if (h->nlmsg_type != RTM_NEWNEIGH)
				continue;
			struct ndmsg *nd = NLMSG_DATA(h);
			if (nd->ndm_ifindex != ifindex ||
			    !(nd->ndm_state & (NUD_REACHABLE | NUD_STALE |
					       NUD_DELAY | NUD_PROBE |
					       NUD_PERMANENT)))
				continue;
			const uint8_t *dst = NULL, *ll = NULL;
			int rl = (int)RTM_PAYLOAD(h);
			for (struct rtattr *a = (struct rtattr *)((char *)nd +
				     NLMSG_ALIGN(sizeof(*nd)));
			     RTA_OK(a, rl); a = RTA_NEXT(a, rl)) {
				if (a->rta_type == NDA_DST &&
				    RTA_PAYLOAD(a) == alen)
					dst = RTA_DATA(a);
				else if (a->rta_type == NDA_LLADDR &&
					 RTA_PAYLOAD(a) == RTE_ETHER_ADDR_LEN)
					ll = RTA_DATA(a);
			}
			if (dst != NULL && ll != NULL && memcmp(dst, ip, alen) == 0) {
				memcpy(mac->addr_bytes, ll, RTE_ETHER_ADDR_LEN);
				found = 0;
			}
		}
	}
}

static void refresh_neighbours(struct dpdk_drv *d, bool force)
{
	double t = 0;
	for (unsigned i = 0; i < d->n_up; i++) {
		struct dp_upstream *u = &d->up[i];
		if (u->fixed_mac || !u->port->has_tap)
			continue;
		if (t == 0)
			t = vdr_now();
		if (!force && t < u->next_lookup)
			continue;
		struct rte_ether_addr mac;
		if (neigh_lookup(d, u->port->tap_ifindex, u->family, u->nh,
				 &mac) == 0) {
			u->mac = mac;
			u->has_mac = true;
			u->next_lookup = t + NEIGH_REFRESH_S;
		} else {
			/* a stale entry goes on working until it is gone */
			u->has_mac = false;
			d->x.neighbour_misses++;
			u->next_lookup = t + NEIGH_RETRY_S;
		}
	}
}

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

static void send_kernel(struct dpdk_drv *d, struct dp_upstream *u,
			const uint8_t *line, size_t len)
{
	if (sendto(u->kfd, line, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&u->cfg->addr, u->cfg->addr_len) < 0) {
		d->st.tx_errors++;
		d->st.tx_lost++;
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
	unsigned s = tx_wire(&d->port[pi], d->wid, d->txq[pi], nq[pi]);
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

/* One line to every UDP upstream. */
static void tx_line(struct dpdk_drv *d, struct tx_src *t, unsigned *nq)
{
	for (unsigned k = 0; k < d->n_up; k++) {
		struct dp_upstream *u = &d->up[k];
		if (!u->has_mac) {
			send_kernel(d, u, linear(d, t), t->len);
			continue;
		}
		unsigned pi = u->port->idx;
		struct rte_mbuf *fr[MAX_FRAGS];
		int n = build_datagram(d, u, t, fr);
		if (n < 0) {
			d->st.tx_errors++;
			d->st.tx_lost++;
			continue;
		}
		/* a datagram's frames go in one tx_burst batch */
		if (nq[pi] + (unsigned)n > RTE_DIM(d->txq[pi]))
			flush_tx(d, pi, nq);
		for (int j = 0; j < n; j++) {
			d->txq_last[pi][nq[pi]] = j == n - 1;
			d->txq[pi][nq[pi]++] = fr[j];
		}
	}
}

static int dpdk_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	struct dpdk_drv *d = dd_of(dv);
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

static int dpdk_flush(struct vdr_driver *dv)
{
	struct dpdk_drv *d = dd_of(dv);
	if (d->inner != NULL && vdr_flush(d->inner) != 0) {
		vdr_set_error(dv, "%s", vdr_error(d->inner));
		return VDR_ERR;
	}
	return 0;
}

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

/* ------------------------------------------------------------------ */
/* start and stop                                                     */
/* ------------------------------------------------------------------ */

static void port_stop(struct dp_port *p)
{
	if (p->tap_started) {
		rte_eth_dev_stop(p->tap_id);
		p->tap_started = false;
	}
	if (p->has_tap) {
		rte_eth_dev_close(p->tap_id);
		rte_eal_hotplug_remove("vdev", p->tap_dev);
		p->has_tap = false;
	}
	if (p->started) {
		rte_eth_dev_stop(p->id);
		rte_eth_dev_close(p->id);
		p->started = false;
	}
	rte_mempool_free(p->pool);
	rte_mempool_free(p->indirect);
	p->pool = p->indirect = NULL;
}

/* A worker's driver (its ports, pools and TAPs are the device's). */
static void dpdk_free(struct vdr_driver *dv)
{
	struct dpdk_drv *d = dd_of(dv);
	vdr_free(d->inner);
	for (unsigned i = 0; i < d->n_up; i++)
		if (d->up[i].kfd >= 0 && !d->up[i].kfd_shared)
			close(d->up[i].kfd);
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
		port_stop(&v->port[i]);
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

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void prefix_mask(unsigned plen, uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned b = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * (unsigned)i : 0;
		mask[i] = (uint8_t)(0xff00u >> b);
	}
}

/* Give the TAP interface the port's addresses and bring it up (ioctl). */
static int tap_addresses(struct dp_port *p, char *err, size_t errlen)
{
	const char *name = p->cfg->exception;
	int fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;
	struct ifreq ifr;
	if (fd4 < 0)
		goto out;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd4, SIOCGIFINDEX, &ifr) != 0) {
		fail(err, errlen, "exception interface %s: %s", name,
		     strerror(errno));
		goto out;
	}
	p->tap_ifindex = ifr.ifr_ifindex;
	unsigned n4 = 0;
	for (unsigned i = 0; i < p->cfg->n_addr; i++) {
		const struct vdr_prefix *a = &p->cfg->addr[i];
		char text[INET6_ADDRSTRLEN];
		inet_ntop(a->family, a->ip, text, sizeof(text));
		if (a->family == AF_INET) {
			memset(&ifr, 0, sizeof(ifr));
			/* a second IPv4 address is an alias (name:N) */
			if (n4 == 0)
				snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
			else if (snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s:%u",
					  name, n4) >= (int)sizeof(ifr.ifr_name)) {
				fail(err, errlen, "exception interface %s: no room "
				     "for an alias name for %s", name, text);
				goto out;
			}
			struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, a->ip, 4);
			if (ioctl(fd4, SIOCSIFADDR, &ifr) != 0)
				goto addr_fail;
			prefix_mask(a->plen, (uint8_t *)&sin->sin_addr, 4);
			if (ioctl(fd4, SIOCSIFNETMASK, &ifr) != 0)
				goto addr_fail;
			n4++;
			continue;
		}
		struct in6_ifreq r6;
		memset(&r6, 0, sizeof(r6));
		memcpy(&r6.ifr6_addr, a->ip, 16);
		r6.ifr6_prefixlen = a->plen;
		r6.ifr6_ifindex = p->tap_ifindex;
		if (fd6 < 0 || ioctl(fd6, SIOCSIFADDR, &r6) != 0)
			goto addr_fail;
		continue;
addr_fail:
		fail(err, errlen, "exception interface %s: cannot add address "
		     "%s/%u: %s", name, text, a->plen, strerror(errno));
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd4, SIOCGIFFLAGS, &ifr) != 0)
		goto flags_fail;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd4, SIOCSIFFLAGS, &ifr) != 0)
		goto flags_fail;
	rc = 0;
	goto out;
flags_fail:
	fail(err, errlen, "exception interface %s: cannot bring it up: %s",
	     name, strerror(errno));
out:
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	return rc;
}

/* The exception interface: a TAP with a queue pair per worker (the
 * kernel spreads what it sends over them). */
static int start_tap(struct dp_port *p, uint16_t nw, char *err, size_t errlen)
{
	char args[160];
	snprintf(p->tap_dev, sizeof(p->tap_dev), "net_tap_veil%u", p->idx);
	snprintf(args, sizeof(args), "iface=%s,mac=" RTE_ETHER_ADDR_PRT_FMT,
		 p->cfg->exception, RTE_ETHER_ADDR_BYTES(&p->mac));
	if (rte_eal_hotplug_add("vdev", p->tap_dev, args) != 0)
		return fail(err, errlen, "port %s: cannot create the exception "
			    "interface %s (net_tap): %s", p->cfg->name,
			    p->cfg->exception, rte_strerror(rte_errno));
	if (rte_eth_dev_get_port_by_name(p->tap_dev, &p->tap_id) != 0) {
		rte_eal_hotplug_remove("vdev", p->tap_dev);
		return fail(err, errlen, "port %s: the exception interface has "
			    "no ethdev", p->cfg->name);
	}
	p->has_tap = true;
	struct rte_eth_conf conf = { 0 };
	int rc = rte_eth_dev_configure(p->tap_id, nw, nw, &conf);
	for (uint16_t q = 0; rc == 0 && q < nw; q++) {
		rc = rte_eth_rx_queue_setup(p->tap_id, q, TAP_DESC,
					    rte_eth_dev_socket_id(p->tap_id),
					    NULL, p->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->tap_id, q, TAP_DESC,
						    rte_eth_dev_socket_id(p->tap_id),
						    NULL);
	}
	if (rc == 0 && (rc = rte_eth_dev_set_mtu(p->tap_id, p->mtu)) == -ENOTSUP)
		rc = 0;
	if (rc == 0)
		rc = rte_eth_dev_start(p->tap_id);
	if (rc != 0)
		return fail(err, errlen, "port %s: exception interface %s: %s",
			    p->cfg->name, p->cfg->exception, rte_strerror(-rc));
	p->tap_started = true;
	return tap_addresses(p, err, errlen);
}

static int start_port(struct dpdk_dev *v, struct dp_port *p, char *err,
		      size_t errlen)
{
	const struct vdr_port_cfg *c = p->cfg;
	if (rte_eth_dev_get_port_by_name(c->device, &p->id) != 0)
		return fail(err, errlen, "port %s: no ethdev \"%s\" (a PCI port "
			    "bound to vfio-pci, or an EAL --vdev)", c->name,
			    c->device);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->id, &info);
	if (rc != 0)
		return fail(err, errlen, "port %s: %s", c->name, rte_strerror(-rc));
	if (c->mtu > info.max_mtu || c->mtu < info.min_mtu)
		return fail(err, errlen, "port %s: mtu %u is outside what %s "
			    "allows (%u-%u)", c->name, c->mtu, c->device,
			    info.min_mtu, info.max_mtu);
	p->mtu = (uint16_t)c->mtu;
	/* a queue pair per worker unless more are asked for */
	unsigned nw = v->n_workers;
	p->nq = (uint16_t)(c->queues ? c->queues : nw);
	if (p->nq < nw)
		return fail(err, errlen, "port %s: queues = %u, fewer than the %u "
			    "workers (each needs its own queue pair)", c->name,
			    c->queues, nw);
	unsigned has = RTE_MIN(info.max_rx_queues, info.max_tx_queues);
	if (p->nq > has && c->queues)
		return fail(err, errlen, "port %s: queues = %u, %s has %u queue "
			    "pairs", c->name, p->nq, c->device, has);
	if (p->nq > has)
		return fail(err, errlen, "port %s: a queue pair per worker (%u), "
			    "%s has %u: give fewer worker lcores", c->name, p->nq,
			    c->device, has);
	int socket = rte_eth_dev_socket_id(p->id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	/* one frame a segment: the fragment ledger counts segments */
	unsigned room = RTE_MAX(RTE_MBUF_DEFAULT_DATAROOM,
				c->mtu + RTE_ETHER_HDR_LEN + 8 + RTE_ETHER_CRC_LEN);
	/* the rings, the TAP's, the frames kept with their messages until
	 * the next poll, the fragments, the lcores' caches, a margin */
	unsigned n = (c->rx_desc + c->tx_desc) * p->nq + 2 * TAP_DESC * nw +
		     (MSG_CAP + 4 * BURST) * nw + FRAG_POOL(v->cfg) +
		     384 * (nw + 1) + 4096;
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "veil_p%u", p->idx);
	p->pool = rte_pktmbuf_pool_create(name, n, 256, 0,
					  (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
					  socket);
	snprintf(name, sizeof(name), "veil_p%u_ind", p->idx);
	if (p->pool != NULL)
		p->indirect = rte_pktmbuf_pool_create(name, 8192, 256, 0, 0, socket);
	if (p->pool == NULL || p->indirect == NULL)
		return fail(err, errlen, "port %s: mbuf pool of %u: %s", c->name,
			    n, rte_strerror(rte_errno));

	struct rte_eth_conf conf = { 0 };
	conf.rxmode.mtu = c->mtu;
	uint64_t rx_want = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
			   RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	conf.rxmode.offloads = info.rx_offload_capa & rx_want;
	uint64_t tx_want = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
			   RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	conf.txmode.offloads = info.tx_offload_capa & tx_want;
	p->tx_ip_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	p->tx_udp_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	/* vdevs take chains without saying so (pcap, ring, tap copy them) */
	bool vdev = info.device == NULL ||
		    strcmp(rte_bus_name(rte_dev_bus(info.device)), "vdev") == 0;
	p->tx_multiseg = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ||
			 vdev;
	if (p->nq > 1) {
		/* RSS on the UDP 5-tuple: a flow (a sender's socket) reaches
		 * one queue, one worker, and keeps its order */
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) &
			      info.flow_type_rss_offloads;
		if (hf == 0 && !vdev)
			RTE_LOG(WARNING, USER1, "veil: port %s (%s) has no RSS "
				"over IP/UDP: every datagram reaches queue 0 "
				"(worker 0)\n", c->name, c->device);
		conf.rx_adv_conf.rss_conf.rss_hf = hf;
		if (hf != 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	}
	rc = rte_eth_dev_configure(p->id, p->nq, p->nq, &conf);
	uint16_t nrx = (uint16_t)c->rx_desc, ntx = (uint16_t)c->tx_desc;
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &nrx, &ntx);
	for (uint16_t q = 0; rc == 0 && q < p->nq; q++) {
		struct rte_eth_rxconf rxc = info.default_rxconf;
		rxc.offloads = conf.rxmode.offloads;
		struct rte_eth_txconf txc = info.default_txconf;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_rx_queue_setup(p->id, q, nrx, (unsigned)socket,
					    &rxc, p->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->id, q, ntx,
						    (unsigned)socket, &txc);
	}
	/* a device without mtu_set (net_pcap, net_ring) took rxmode.mtu */
	if (rc == 0 && (rc = rte_eth_dev_set_mtu(p->id, p->mtu)) == -ENOTSUP)
		rc = 0;
	if (rc == 0)
		rc = rte_eth_macaddr_get(p->id, &p->mac);
	if (rc != 0)
		return fail(err, errlen, "port %s (%s): %s", c->name, c->device,
			    rte_strerror(-rc));
	rc = rte_eth_dev_start(p->id);
	if (rc != 0)
		return fail(err, errlen, "port %s (%s): cannot start: %s", c->name,
			    c->device, rte_strerror(-rc));
	p->started = true;
	/* our MAC, broadcast and the multicast we need (ND) only; some
	 * vdevs cannot say no: the classifier does not rely on it */
	rte_eth_promiscuous_disable(p->id);
	rte_eth_allmulticast_enable(p->id);

	p->loc = (struct pkt_local){ .vlan = c->vlan };
	for (unsigned i = 0; i < c->n_addr && i < RTE_DIM(p->loc.addr); i++) {
		p->loc.addr[p->loc.n_addr].family = c->addr[i].family;
		memcpy(p->loc.addr[p->loc.n_addr++].ip, c->addr[i].ip, 16);
	}
	for (unsigned i = 0; i < c->n_listen_ports && i < RTE_DIM(p->loc.ports); i++)
		p->loc.ports[p->loc.n_ports++] = c->listen_ports[i];
	if (strcmp(c->exception, "none") != 0)
		return start_tap(p, (uint16_t)nw, err, errlen);
	return 0;
}

static bool in_prefix(const struct vdr_prefix *p, const uint8_t *ip)
{
	uint8_t mask[16];
	size_t n = p->family == AF_INET ? 4 : 16;
	prefix_mask(p->plen, mask, n);
	for (size_t i = 0; i < n; i++)
		if ((p->ip[i] & mask[i]) != (ip[i] & mask[i]))
			return false;
	return true;
}

/* An upstream: the port that has an address of its family (on its
 * network if one is), the next hop, the kernel fallback socket. */
static int setup_upstream(struct dpdk_drv *d, struct dp_upstream *u,
			  const struct vdr_upstream_cfg *c, char *err,
			  size_t errlen)
{
	u->cfg = c;
	u->kfd = -1;
	if (!c->numeric || (c->addr.ss_family != AF_INET &&
			    c->addr.ss_family != AF_INET6))
		return fail(err, errlen, "upstream %s: the dpdk driver needs an "
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
	for (unsigned i = 0; i < d->n_port && src == NULL; i++)
		for (unsigned k = 0; k < d->port[i].cfg->n_addr; k++) {
			const struct vdr_prefix *a = &d->port[i].cfg->addr[k];
			if (a->family == u->family && in_prefix(a, u->dst)) {
				src = a;
				u->port = &d->port[i];
				break;
			}
		}
	bool on_link = src != NULL;
	for (unsigned i = 0; i < d->n_port && src == NULL; i++)
		for (unsigned k = 0; k < d->port[i].cfg->n_addr; k++)
			if (d->port[i].cfg->addr[k].family == u->family) {
				src = &d->port[i].cfg->addr[k];
				u->port = &d->port[i];
				break;
			}
	if (src == NULL)
		return fail(err, errlen, "upstream %s: no port has an IPv%c "
			    "address", c->name, u->family == AF_INET ? '4' : '6');
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
			u->kfd_shared = true;
			return 0;
		}
	u->kfd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->kfd < 0)
		return fail(err, errlen, "upstream %s: socket: %s", c->name,
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
		if (bind(u->kfd, (struct sockaddr *)&ss, sl) == 0)
			return 0;
		if (u->family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		if (bind(u->kfd, (struct sockaddr *)&ss, sl) != 0)
			return fail(err, errlen, "upstream %s: binding the kernel "
				    "socket to the port's address: %s", c->name,
				    strerror(errno));
	}
	return 0;
}

/* Upstreams off the port's networks are reached through its gateway:
 * the kernel (the fallback socket, the socket driver's TCP and TLS) needs
 * a host route for each through the exception interface (ioctl
 * SIOCADDRT), so as not to take the management interface's default. */
static int tap_routes(struct dpdk_drv *d, char *err, size_t errlen)
{
	const struct vdr_net_cfg *c = d->cfg;
	for (unsigned i = 0; i < c->n_up; i++) {
		const struct vdr_upstream_cfg *uc = &c->up[i];
		if (!uc->numeric)
			continue; /* a name: resolved at each connect */
		int fam = uc->addr.ss_family;
		const uint8_t *ip = fam == AF_INET
			? (const uint8_t *)&((const struct sockaddr_in *)&uc->addr)->sin_addr
			: (const uint8_t *)&((const struct sockaddr_in6 *)&uc->addr)->sin6_addr;
		for (unsigned k = 0; k < d->n_port; k++) {
			const struct dp_port *p = &d->port[k];
			const struct vdr_port_cfg *pc = p->cfg;
			bool has_fam = false, on_link = false;
			for (unsigned a = 0; a < pc->n_addr; a++)
				if (pc->addr[a].family == fam) {
					has_fam = true;
					on_link |= in_prefix(&pc->addr[a], ip);
				}
			if (!has_fam || !p->has_tap)
				continue;
			if (on_link || !pc->has_gateway || pc->gateway.family != fam)
				break;
			int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			int rc = -1;
			if (fd >= 0 && fam == AF_INET) {
				struct rtentry rt;
				memset(&rt, 0, sizeof(rt));
				struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
				struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
				struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
				dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
				memcpy(&dst->sin_addr, ip, 4);
				memcpy(&gw->sin_addr, pc->gateway.ip, 4);
				mask->sin_addr.s_addr = 0xffffffff;
				rt.rt_flags = RTF_UP | RTF_GATEWAY | RTF_HOST;
				char dev[IFNAMSIZ];
				snprintf(dev, sizeof(dev), "%s", pc->exception);
				rt.rt_dev = dev;
				rc = ioctl(fd, SIOCADDRT, &rt);
			} else if (fd >= 0) {
				struct in6_rtmsg rt;
				memset(&rt, 0, sizeof(rt));
				memcpy(&rt.rtmsg_dst, ip, 16);
				rt.rtmsg_dst_len = 128;
				memcpy(&rt.rtmsg_gateway, pc->gateway.ip, 16);
				rt.rtmsg_flags = RTF_UP | RTF_GATEWAY | RTF_HOST;
				rt.rtmsg_metric = 1;
				rt.rtmsg_ifindex = p->tap_ifindex;
				rc = ioctl(fd, SIOCADDRT, &rt);
			}
			int e = errno;
			if (fd >= 0)
				close(fd);
			if (rc != 0 && e != EEXIST)
				return fail(err, errlen, "upstream %s: cannot add its "
					    "route via the gateway on %s: %s",
					    uc->name, pc->exception, strerror(e));
			break;
		}
	}
	return 0;
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
		fail(err, errlen, "out of memory");
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
		fail(err, errlen, "out of memory");
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
		fail(err, errlen, "reassembly table of %u datagrams: %s",
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
		if (setup_upstream(d, &d->up[d->n_up], &c->up[k], err, errlen) != 0) {
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
	refresh_neighbours(d, true);
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
		return fail(err, errlen, "TCP/TLS through the exception "
			    "interface: %s", ierr);
	return 0;
}

struct vdr_driver *vdr_dpdk_new(const struct vdr_net_cfg *c, size_t max_msg,
				unsigned workers, char *err, size_t errlen)
{
	if (c == NULL || max_msg == 0 || c->n_port == 0 || workers == 0) {
		fail(err, errlen, "the dpdk driver needs at least one [port], "
		     "a maximum message size and a worker");
		errno = EINVAL;
		return NULL;
	}
	if (rte_lcore_count() == 0) {
		fail(err, errlen, "the dpdk driver needs rte_eal_init() first");
		errno = EINVAL;
		return NULL;
	}
	if (workers > RTE_MAX_LCORE || workers > UINT16_MAX) {
		fail(err, errlen, "%u workers: at most %u", workers, RTE_MAX_LCORE);
		errno = EINVAL;
		return NULL;
	}
	struct dpdk_dev *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		fail(err, errlen, "out of memory");
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
		if (start_port(v, &v->port[i], err, errlen) != 0)
			goto fail;
	}
	if (worker_new(v, 0, max_msg, err, errlen) == NULL ||
	    tap_routes(v->w[0], err, errlen) != 0)
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
