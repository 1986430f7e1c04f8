/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's private header: its limits, counters and state,
 * shared by its parts (socket.c has the whole story):
 *   socket.c           the driver: helpers, the pending queue, rx/tx/flush,
 *                      counters, set-up and release
 *   socket_tls.c       OpenSSL contexts (listeners, upstreams)
 *   socket_listen.c    inbound TCP/TLS: listeners, connections, framing,
 *                      timeouts
 *   socket_udp.c       UDP in (recvmmsg) and out (sendmmsg)
 *   socket_upstream.c  TCP/TLS upstreams: the queue, connections,
 *                      acknowledgements, reconnects
 *   socket_spool.c     an upstream's disk spool (on_queue_full = spool)
 *   socket_relp.c      RELP upstreams: a thread each, fed from the queue
 */
#ifndef VEIL_SOCKET_PVT_H
#define VEIL_SOCKET_PVT_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h> /* SK_MEMINFO_DROPS */
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked */
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net_pvt.h"
#include "spool.h"

#define RX_READ (64u * 1024u)     /* bytes read from a connection per round */
#define UDP_BATCH 64              /* datagrams per recvmmsg / sendmmsg */
#define UDP_ROUNDS 4              /* recvmmsg calls per listener per round */
#define UDP_SLOT_MAX 65536u       /* the largest datagram */
#define EV_MAX 256                /* epoll events per round */
#define ACCEPT_MAX 64             /* accepts per listener per round */
#define PEND_LINES 4096           /* pending messages: stop reading above */
#define PEND_BYTES (2u << 20)     /* pending bytes: likewise */
#define HS_TIMEOUT 10.0           /* a TLS handshake (in and out) */
#define CONNECT_TIMEOUT 10.0      /* an upstream's TCP connect */
#define TX_CHUNK (256u * 1024u)   /* bytes per write to an upstream */
#define REC_COST 16u              /* queue bytes charged per line */
#define ACCEPT_PAUSE 0.1          /* a listener rests after EMFILE */
#define UP_DEAD_MS 30000          /* an upstream that acknowledges nothing */
#define SK_LOG_EVERY 60.0         /* a state that lasts: said again after */
#define BLOCK_SLACK (64u << 20)   /* block: queued over queue_bytes, at most */
#define SPOOL_SYNC 0.05           /* the spool's appends made durable after */
#define SPOOL_COMMIT 0.5          /* its acknowledged position, after */
#define SPOOL_FILL 4096           /* lines moved from a spool per round */
#define SPOOL_RETRY 0.2           /* a spool whose disk failed: tried again
				     after */
#define RX_WAIT_MS 1              /* vdr_rx(): the longest wait for input */
#define FLUSH_POLL_MS 5           /* vdr_flush(): one wait for the upstreams */
#define PEND_LINES_INIT 1024      /* the pending line table's first size */

/* The driver's own counters (vdr_xstats), in their stable order. Gauges
 * (tcp_open, upstream_queued, upstream_queue_bytes) are computed. */
#define SK_XSTATS(X)                                                           \
	X(udp_datagrams)                                                       \
	X(udp_empty)                                                           \
	X(udp_errors)                                                          \
	X(udp_kernel_drops)                                                    \
	X(drop_unknown_sender)                                                 \
	X(drop_no_memory)                                                      \
	X(oversize)                                                            \
	X(tcp_accepted)                                                        \
	X(tcp_closed)                                                          \
	X(tcp_open)                                                            \
	X(tcp_refused_max_connections)                                         \
	X(tcp_refused_unknown_sender)                                          \
	X(tcp_accept_errors)                                                   \
	X(tcp_idle_timeouts)                                                   \
	X(tcp_bad_frames)                                                      \
	X(tcp_oversize_closes)                                                 \
	X(tcp_truncated)                                                       \
	X(tcp_read_errors)                                                     \
	X(tls_handshakes)                                                      \
	X(tls_failed)                                                          \
	X(tls_handshake_timeouts)                                              \
	X(rx_paused)                                                           \
	X(rx_paused_upstream)                                                  \
	X(upstream_sent)                                                       \
	X(upstream_queued)                                                     \
	X(upstream_queue_bytes)                                                \
	X(upstream_dropped)                                                    \
	X(upstream_lost)                                                       \
	X(upstream_resent)                                                     \
	X(upstream_connects)                                                   \
	X(upstream_disconnects)                                                \
	X(upstream_reconnect_failures)                                         \
	X(upstream_spooled)                                                    \
	X(upstream_spool_bytes)                                                \
	X(upstream_spool_dropped)                                              \
	X(upstream_spool_errors)                                               \
	X(tx_empty)                                                            \
	X(upstream_spool_full)                                                 \
	X(upstream_spool_bypassed)

#define SK_ENUM_(n) SKX_##n,
enum { SK_XSTATS(SK_ENUM_) SKX_COUNT };
enum obj_kind { OBJ_LISTEN, OBJ_CONN, OBJ_UP };

struct sk_listen {
	uint8_t kind; /* OBJ_LISTEN: first, as in every epoll object */
	int fd;
	struct vdr_listen_cfg cfg;
	char text[96];        /* "tcp 0.0.0.0:514", for messages */
	SSL_CTX *ctx;         /* TLS */
	double paused_until;  /* after EMFILE: 0 when listening */
	uint32_t ovfl;        /* UDP: the kernel's drop count (sk_drops, as
				 SO_RXQ_OVFL and SO_MEMINFO say it) */
	uint64_t kdrops;      /* UDP: the kernel's drops counted here */
};

enum conn_state { C_HANDSHAKE, C_OPEN };

struct sk_conn {
	uint8_t kind; /* OBJ_CONN */
	int fd;
	enum conn_state state;
	struct sk_listen *l;
	SSL *ssl;
	struct vdp_framer *fr;
	uint32_t events;       /* registered with epoll */
	uint16_t src;
	bool octet;            /* the sender counts octets */
	bool started;          /* the first frame byte was seen */
	bool on_ready;         /* in the ready list */
	double last_rx, hs_deadline;
	unsigned idx;          /* in the driver's conns[] */
	struct sk_conn *rprev, *rnext;
	char peer[64];
};

enum up_state { U_DOWN, U_RESOLVING, U_CONNECTING, U_HANDSHAKE, U_UP };

/* Why an upstream dropped a line (sk_up_drop). */
enum sk_drop {
	SK_DROP_QUEUE_FULL,
	SK_DROP_NO_MEMORY,
	SK_DROP_SPOOL_FULL,
	SK_DROP_SPOOL_ERROR,
	SK_DROP_TOO_BIG,
	SK_DROP_COUNT
};

struct qrec {
	uint64_t end;  /* absolute byte position after the line */
	uint64_t wire; /* bytes on the connection once its last byte was
			  written (TCP: payload; TLS: records) */
	bool spooled;  /* a record taken from the spool: acknowledged there
			  when it leaves (else in memory only) */
};

struct sk_up {
	uint8_t kind; /* OBJ_UP */
	int fd;
	enum up_state state;
	struct vdr_upstream_cfg cfg;
	char text[300];        /* "tls collector:6514", for messages */
	SSL_CTX *ctx;
	SSL *ssl;
	uint32_t events;
	double retry_at, deadline, backoff;
	/* name resolution (getaddrinfo_a); the block outlives us if the
	 * resolver cannot be cancelled at free */
	struct sk_gai *gai;
	struct addrinfo *ai;   /* the addresses being tried */
	struct addrinfo *ai_cur;
	/* the queue: bytes q_head..q_tail (absolute), q_wr the next to write;
	 * lines r_head..r_tail, r_wr the first not written whole */
	char *qb;
	size_t qcap;
	uint64_t q_head, q_wr, q_tail;
	struct qrec *qr;
	size_t rcap;
	uint64_t r_head, r_wr, r_tail;
	size_t q_cost;         /* bytes + REC_COST a line, against queue_bytes */
	uint64_t q_mem;        /* lines in the queue that are not in the spool */
	uint64_t conn_start;   /* q_head when the connection came up */
	uint64_t wire;         /* bytes written on this connection */
	size_t tls_wlen;       /* a retried SSL_write's length */
	bool blocked;          /* a write would block: wait for EPOLLOUT */
	bool was_up;
	enum vdr_on_full on_full;
	/* on_queue_full = spool: every line goes through it */
	struct vdr_spool *sp;
	bool sp_dirty;         /* appended since the last sync */
	double sp_next_sync, sp_next_commit;
	char *sp_buf;          /* a line made contiguous for the spool */
	size_t sp_cap;
	/* the spool refused a line (spool_bytes, its disk full or failing):
	 * until it takes one again, lines go through memory only, as with
	 * block (socket_spool.c) */
	bool sp_full;
	bool sp_said_full;     /* this time was told in the log */
	enum sk_drop sp_why;   /* SK_DROP_SPOOL_FULL (spool_bytes) or _ERROR */
	double sp_retry_at;    /* its disk failed: tried again from */
	double sp_full_since, sp_next_log;
	uint64_t sp_fulls;     /* times it refused lines */
	uint64_t sp_bypassed;  /* lines that went through memory only */
	/* lines the spool refused while others waited in it: in memory, in
	 * order, after those ([length][bytes] records at bh_head..bh_tail) */
	char *bh;
	size_t bh_cap, bh_head, bh_tail;
	uint64_t bh_lines;
	/* the log: down since, said so, when to say it again; up since (0:
	 * never up) */
	double down_since, next_down_log, up_since;
	bool said_down;
	double next_drop_log[SK_DROP_COUNT];
	/* protocol = relp: its thread (socket_relp.c); the lines it confirmed
	 * that were released from the queue */
	struct sk_relp *relp;
	uint64_t relp_done;
	/* counters */
	uint64_t sent, dropped, lost, resent, connects, disconnects, failures;
	uint64_t drops[SK_DROP_COUNT];
};

struct sk_gai {
	struct gaicb cb;
	struct addrinfo hints;
	char host[256], port[8];
};

struct pend {
	size_t off;
	uint32_t len;
	uint16_t src;
};

struct sock_drv {
	struct vdr_driver base;
	struct vdr_net_cfg cfg;      /* a copy, with its own map */
	size_t max_msg;
	unsigned flags;
	int ep;
	struct sk_listen lis[VDR_MAX_LISTEN];
	unsigned n_lis;
	struct sk_up up[VDR_MAX_UPSTREAM];
	unsigned n_up;
	struct sk_conn **conns;
	unsigned n_conns, conns_cap;
	struct sk_conn *ready;       /* connections with more to read */
	/* the pending queue */
	char *pa;
	size_t pa_cap, pa_head, pa_tail;
	struct pend *pl;
	size_t pl_cap, pl_head, pl_tail;
	unsigned last_out, returned;
	/* buffers */
	char *rbuf;                  /* RX_READ */
	char *ubuf;                  /* UDP_BATCH slots */
	size_t uslot;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage ua[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} uc[UDP_BATCH];
	char *txs;                   /* a wrapped datagram, made contiguous */
	size_t txs_cap;
	struct sk_conn *cur;         /* the connection being framed */
	double now, next_scan, bp_last;
	bool up_full;                /* an upstream that blocks is full: TCP and
					TLS senders are not read */
	bool conns_held;             /* their input is off in epoll meanwhile */
	uint64_t x[SKX_COUNT];
	uint64_t rx_msgs, rx_bytes, tx_msgs, tx_bytes, tx_errors, tx_lost;
	uint64_t tx_held;            /* at the end: lines left in spools */
	bool drained;                /* vdr_flush() ran: tx_held is final */
};

enum close_why {
	CL_EOF,        /* the sender closed */
	CL_READ_ERROR,
	CL_IDLE,
	CL_BAD_FRAME,
	CL_OVERSIZE,
	CL_TLS,        /* TLS failed: no partial message is delivered */
	CL_HS_TIMEOUT,
	CL_FREE,       /* the driver goes away */
};

/* socket.c */
void sk_sa_text(const struct sockaddr *sa, char *buf, size_t cap);
int sk_set_events(struct sock_drv *d, int fd, void *obj, uint32_t *cur,
		  uint32_t ev);
bool sk_pend_room(const struct sock_drv *d);
void sk_pend_push(struct sock_drv *d, const char *msg, size_t len,
		  uint16_t src);

/* socket_tls.c */
const char *sk_tls_reason(char *buf, size_t cap);
SSL_CTX *sk_tls_server_ctx(const struct sk_listen *l, char *err,
			   size_t errlen);
SSL_CTX *sk_tls_client_ctx(const struct sk_up *u, char *err, size_t errlen);

/* socket_listen.c */
void sk_conn_close(struct sock_drv *d, struct sk_conn *c,
		   enum close_why why);
void sk_listen_accept(struct sock_drv *d, struct sk_listen *l);
void sk_conn_read(struct sock_drv *d, struct sk_conn *c);
void sk_scan_timeouts(struct sock_drv *d);
int sk_listen_open(struct sock_drv *d, struct sk_listen *l, char *err,
		   size_t errlen);

/* socket_udp.c */
void sk_udp_read(struct sock_drv *d, struct sk_listen *l);
void sk_udp_send(struct sock_drv *d, struct sk_up *u);
void sk_udp_kernel_drops(struct sock_drv *d, struct sk_listen *l, uint32_t v);
void sk_udp_meminfo(struct sock_drv *d, struct sk_listen *l);

/* socket_upstream.c */
bool sk_q_empty(const struct sk_up *u);
struct qrec *sk_q_rec(const struct sk_up *u, uint64_t i);
void sk_q_line(struct sock_drv *d, struct sk_up *u,
	       const struct vdp_burst *b, const struct vdp_out *o);
bool sk_q_room(const struct sock_drv *d, const struct sk_up *u, size_t len);
int sk_q_put_line(struct sk_up *u, const char *flat, const struct vdp_seg *s,
		  unsigned n, size_t len, bool spooled);
void sk_q_unput(struct sk_up *u);
bool sk_q_slack(struct sock_drv *d, struct sk_up *u, size_t len, size_t more);
bool sk_up_holds_senders(const struct sock_drv *d, const struct sk_up *u);
void sk_up_drop(struct sock_drv *d, struct sk_up *u, enum sk_drop why);
void sk_q_release(struct sk_up *u, uint64_t upto);
void sk_up_fail(struct sock_drv *d, struct sk_up *u, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sk_up_want(struct sock_drv *d, struct sk_up *u, uint32_t ev);
void sk_up_event(struct sock_drv *d, struct sk_up *u, uint32_t ev);
void sk_up_service(struct sock_drv *d, struct sk_up *u);
void sk_up_free(struct sk_up *u);
/* socket_spool.c */
int sk_spool_open(struct sock_drv *d, struct sk_up *u, char *err, size_t errlen);
void sk_spool_line(struct sock_drv *d, struct sk_up *u, const struct vdp_seg *s,
		   unsigned n, size_t len);
void sk_spool_service(struct sock_drv *d, struct sk_up *u, bool now);
uint64_t sk_spool_left(const struct sk_up *u);
uint64_t sk_up_waiting(const struct sk_up *u);
uint64_t sk_up_mem_only(const struct sk_up *u);
void sk_spool_close(struct sk_up *u);
/* socket_relp.c */
int sk_relp_start(struct sock_drv *d, struct sk_up *u, char *err, size_t errlen);
void sk_relp_service(struct sock_drv *d, struct sk_up *u);
void sk_relp_drain(struct sk_up *u);
void sk_relp_stop(struct sk_up *u);

#endif
