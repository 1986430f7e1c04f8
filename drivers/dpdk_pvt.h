/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's private header: its limits, counters and state,
 * shared by its parts (dpdk.c has the whole story):
 *   dpdk.c        the device and its workers: set-up, the per-worker
 *                 drivers, counters, release
 *   dpdk_port.c   an ethdev port started (queues, RSS, pools) and stopped
 *   dpdk_tap.c    the exception path: the TAP interface, its addresses and
 *                 routes, frames to and from the kernel
 *   dpdk_rx.c     RX: classify, reassemble, deliver messages by sender
 *   dpdk_neigh.c  next hops from the kernel's neighbour table (netlink)
 *   dpdk_tx.c     TX: datagrams built and fragmented, the upstreams
 */
#ifndef VEIL_DPDK_PVT_H
#define VEIL_DPDK_PVT_H

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
#include <rte_spinlock.h>
#include <rte_udp.h>

#include "net_pvt.h"
#include "pkt.h"

#define BURST 32                  /* frames per rte_eth_rx_burst */
#define MSG_CAP 1024              /* messages held by one poll */
#define TX_RETRIES 4              /* rte_eth_tx_burst calls for one batch */
#define MAX_FRAGS 64              /* fragments of one datagram we send */
#define NEIGH_RETRY_S 1.0         /* an unknown next hop: look again */
#define NEIGH_REFRESH_S 10.0      /* a known one: look again */
#define HOLD_LOOKUP_S 0.02        /* ... while lines wait for it */
#define HOLD_MAX_S 3.0            /* lines wait for a next hop at most this */
#define HOLD_BYTES (4u << 20)     /* and at most this much, an upstream */
#define INNER_POLL_S 0.005        /* the socket driver (its rx may wait ~1 ms) */
#define REASM_MAX 65600           /* a reassembled frame, linear */
#define TAP_DESC 512              /* a TAP queue's ring */
#define KERNEL_WAIT_S 5.0         /* a line given to a kernel socket must
				   * leave the TAP within this (the kernel
				   * gives up on a next hop after ~3 s) */
#define KERNEL_FINAL_S 1.0        /* ... at the end: wait this long more */
#define KPEND_MAX 64              /* such lines pending, an upstream */
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
	X(tx_kernel_out)      /* ... seen leaving by the port (delivered) */ \
	X(tx_kernel_lost)     /* ... not: dropped on the way, lost */       \
	X(tx_too_long)        /* lines too long for a datagram */           \
	X(neighbour_misses)   /* next-hop lookups that found no MAC */      \
	X(tx_held)            /* lines held while the next hop was unknown */ \
	X(drop_hold_full)     /* ... not held: HOLD_BYTES were waiting */   \
	X(drop_no_next_hop)   /* held lines whose next hop stayed unknown */

struct xst {
#define X_FIELD(n) uint64_t n;
	DPDK_XSTATS(X_FIELD)
#undef X_FIELD
};

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
	uint16_t ksport;             /* the kernel socket's source port */
	bool has_mac, fixed_mac;
	struct rte_ether_addr mac;
	double next_lookup;          /* monotonic seconds */
	int kfd;                     /* the kernel fallback socket */
	bool kfd_shared;             /* an earlier upstream's (same source),
				      * or worker 0's */
	/* while the next hop is unknown (dpdk_tx.c): the first line went
	 * by the kernel (probed), the next ones wait here, each a 4-byte
	 * length and its bytes */
	bool probed;
	uint8_t *held;
	size_t held_len, held_cap;
	uint64_t held_n;
	double held_since;
};

struct dpdk_drv;

/* Lines of an upstream given to its kernel socket: they are delivered
 * only once their frame came back out of the TAP and the port took it.
 * The kernel picks the TAP queue, so another worker may see it: shared
 * by the workers. When each was sent, oldest first (a ring). */
struct dp_kpend {
	rte_spinlock_t lock;
	unsigned head, n;
	double sent[KPEND_MAX];
};

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
	struct dp_kpend kpend[VDR_MAX_UPSTREAM]; /* by index in up[] */
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

static inline struct dpdk_drv *dpdk_dd_of(struct vdr_driver *d)
{
	return (struct dpdk_drv *)d;
}

/* dpdk_port.c */
void dpdk_port_stop(struct dp_port *p);
int dpdk_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int dpdk_start_port(struct dpdk_dev *v, struct dp_port *p, char *err,
		    size_t errlen);

/* dpdk_tap.c */
void dpdk_flush_kernel(struct dpdk_drv *d, struct dp_port *p);
void dpdk_to_kernel(struct dpdk_drv *d, struct dp_port *p,
		    struct rte_mbuf *m, unsigned n_vlan, uint32_t w);
unsigned dpdk_tx_wire(struct dp_port *p, uint16_t q, struct rte_mbuf **m,
		      unsigned n);
void dpdk_poll_kernel(struct dpdk_drv *d, struct dp_port *p);
/* A line of upstream @p k given to its kernel socket: @return false when
 * KPEND_MAX wait already (then it is not sent, and counted lost). */
bool dpdk_kernel_sent(struct dpdk_drv *d, unsigned k);
/* ... and the kernel refused it after all (counted by the caller). */
void dpdk_kernel_unsent(struct dpdk_drv *d, unsigned k);
/* Lines given to the kernel that did not leave the TAP within
 * KERNEL_WAIT_S are lost; with @p final, all that still wait (after up
 * to KERNEL_FINAL_S more of polling the TAP). */
void dpdk_kernel_expire(struct dpdk_drv *d, bool final);
int dpdk_start_tap(struct dp_port *p, uint16_t nw, char *err, size_t errlen);
int dpdk_tap_routes(struct dpdk_drv *d, char *err, size_t errlen);

/* dpdk_rx.c */
int dpdk_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max);
void dpdk_rx_return(struct vdr_driver *dv, unsigned n);

/* dpdk_neigh.c */
void dpdk_refresh_neighbours(struct dpdk_drv *d, bool force);

/* dpdk_tx.c */
int dpdk_tx(struct vdr_driver *dv, const struct vdp_burst *b);
int dpdk_flush(struct vdr_driver *dv);
/* The held lines: by the port once their next hop is known, dropped
 * (counted) once they waited HOLD_MAX_S, or all now with final. */
void dpdk_release_held(struct dpdk_drv *d, bool final);
int dpdk_setup_upstream(struct dpdk_drv *d, struct dp_upstream *u,
			const struct vdr_upstream_cfg *c, char *err,
			size_t errlen);

#endif
