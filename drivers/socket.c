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
 */
#include <arpa/inet.h>
#include <errno.h>
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
	X(upstream_sent)                                                       \
	X(upstream_queued)                                                     \
	X(upstream_queue_bytes)                                                \
	X(upstream_dropped)                                                    \
	X(upstream_lost)                                                       \
	X(upstream_resent)                                                     \
	X(upstream_connects)                                                   \
	X(upstream_disconnects)                                                \
	X(upstream_reconnect_failures)                                         \
	X(tx_empty)

#define SK_ENUM_(n) SKX_##n,
enum { SK_XSTATS(SK_ENUM_) SKX_COUNT };
#define SK_NAME_(n) #n,
static const char *const sk_xnames[SKX_COUNT] = { SK_XSTATS(SK_NAME_) };

enum obj_kind { OBJ_LISTEN, OBJ_CONN, OBJ_UP };

struct sk_listen {
	uint8_t kind; /* OBJ_LISTEN: first, as in every epoll object */
	int fd;
	struct vdr_listen_cfg cfg;
	char text[96];        /* "tcp 0.0.0.0:514", for messages */
	SSL_CTX *ctx;         /* TLS */
	double paused_until;  /* after EMFILE: 0 when listening */
	uint32_t ovfl;        /* UDP: the kernel's drop count (SO_RXQ_OVFL) */
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

struct qrec {
	uint64_t end;  /* absolute byte position after the line */
	uint64_t wire; /* bytes on the connection once its last byte was
			  written (TCP: payload; TLS: records) */
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
	uint64_t conn_start;   /* q_head when the connection came up */
	uint64_t wire;         /* bytes written on this connection */
	size_t tls_wlen;       /* a retried SSL_write's length */
	bool blocked;          /* a write would block: wait for EPOLLOUT */
	bool was_up;
	/* counters */
	uint64_t sent, dropped, lost, resent, connects, disconnects, failures;
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
	uint64_t x[SKX_COUNT];
	uint64_t rx_msgs, rx_bytes, tx_msgs, tx_bytes, tx_errors, tx_lost;
};

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

static struct sock_drv *sd_of(struct vdr_driver *d)
{
	return (struct sock_drv *)d;
}

static const char *proto_name(enum vdr_proto p)
{
	return p == VDR_UDP ? "udp" : p == VDR_TCP ? "tcp" : "tls";
}

/* "192.0.2.1:514" or "[2001:db8::1]:514". */
static void sa_text(const struct sockaddr *sa, char *buf, size_t cap)
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
static const char *tls_reason(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, cap, "%s", r ? r : e ? "TLS error" : "connection closed");
	ERR_clear_error();
	return buf;
}

static int set_events(struct sock_drv *d, int fd, void *obj, uint32_t *cur,
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

static bool pend_room(const struct sock_drv *d)
{
	return pend_n(d) < PEND_LINES && d->pa_tail - d->pa_head < PEND_BYTES;
}

static void pend_push(struct sock_drv *d, const char *msg, size_t len,
		      uint16_t src)
{
	if (d->pl_tail == d->pl_cap) {
		size_t nc = d->pl_cap ? 2 * d->pl_cap : 1024;
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
/* TLS contexts                                                       */
/* ------------------------------------------------------------------ */

static SSL_CTX *tls_server_ctx(const struct sk_listen *l, char *err,
			       size_t errlen)
{
	char why[160];
	const struct vdr_listen_cfg *c = &l->cfg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "listen %s: TLS: %s", l->text,
			 tls_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* the plaintext is the senders' messages: OpenSSL wipes its copy
	 * once read (its buffers are freed unwiped otherwise) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_CLEANSE_PLAINTEXT);
	/* thousands of idle connections: no idle record buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	static const unsigned char sid[] = "veil-socket";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	const char *what = "tls_cert";
	const char *path = c->tls_cert;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
		goto fail;
	what = "tls_key";
	path = c->tls_key;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (c->tls_client_ca[0] != '\0') {
		what = "tls_client_ca";
		path = c->tls_client_ca;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->tls_client_ca);
		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, c->tls_client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
					SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	snprintf(err, errlen, "listen %s: %s %s: %s", l->text, what, path,
		 tls_reason(why, sizeof(why)));
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *tls_client_ctx(const struct sk_up *u, char *err, size_t errlen)
{
	char why[160];
	const struct vdr_upstream_cfg *c = &u->cfg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "upstream %s: TLS: %s", u->text,
			 tls_reason(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* the queue's ring may move (it grows) and a retried write may be
	 * longer: both are fine for us */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	const char *what = "tls_ca", *path = c->tls_ca;
	if (c->tls_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		int ok = c->tls_ca[0] != '\0'
				 ? SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL)
				 : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			if (c->tls_ca[0] == '\0')
				path = "(the system's CA certificates)";
			goto fail;
		}
	}
	if (c->tls_cert[0] != '\0') {
		what = "tls_cert";
		path = c->tls_cert;
		if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
			goto fail;
		what = "tls_key";
		path = c->tls_key;
		if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key,
						SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			goto fail;
	}
	return ctx;
fail:
	snprintf(err, errlen, "upstream %s: %s %s: %s", u->text, what, path,
		 tls_reason(why, sizeof(why)));
	SSL_CTX_free(ctx);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* inbound connections                                                */
/* ------------------------------------------------------------------ */

static void ready_add(struct sock_drv *d, struct sk_conn *c)
{
	if (c->on_ready)
		return;
	c->on_ready = true;
	c->rprev = NULL;
	c->rnext = d->ready;
	if (d->ready != NULL)
		d->ready->rprev = c;
	d->ready = c;
}

static void ready_del(struct sock_drv *d, struct sk_conn *c)
{
	if (!c->on_ready)
		return;
	if (c->rprev != NULL)
		c->rprev->rnext = c->rnext;
	else
		d->ready = c->rnext;
	if (c->rnext != NULL)
		c->rnext->rprev = c->rprev;
	c->on_ready = false;
	c->rprev = c->rnext = NULL;
}

static void on_msg(void *arg, const char *msg, size_t len)
{
	struct sock_drv *d = arg;
	pend_push(d, msg, len, d->cur->src);
}

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

static void conn_close(struct sock_drv *d, struct sk_conn *c,
		       enum close_why why)
{
	if (why != CL_TLS && why != CL_HS_TIMEOUT && why != CL_FREE &&
	    c->fr != NULL) {
		/* a last line without its LF is the sender's last message */
		uint64_t tr = vdp_framer_stats(c->fr)->truncated;
		uint64_t ov = vdp_framer_stats(c->fr)->oversize;
		d->cur = c;
		vdp_framer_finish(c->fr, on_msg, d);
		d->x[SKX_tcp_truncated] += vdp_framer_stats(c->fr)->truncated - tr;
		uint64_t dov = vdp_framer_stats(c->fr)->oversize - ov;
		d->x[SKX_oversize] += dov;
	}
	ready_del(d, c);
	if (c->ssl != NULL) {
		if (why == CL_EOF || why == CL_IDLE || why == CL_FREE) {
			ERR_clear_error();
			SSL_shutdown(c->ssl); /* a close_notify, if it fits */
		}
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	close(c->fd); /* also leaves the epoll set */
	vdp_framer_free(c->fr);
	d->x[SKX_tcp_closed]++;
	/* swap-remove from conns[] */
	struct sk_conn *last = d->conns[--d->n_conns];
	last->idx = c->idx;
	d->conns[c->idx] = last;
	free(c);
}

static void conn_accept(struct sock_drv *d, struct sk_listen *l, int fd,
			const struct sockaddr *sa)
{
	char who[64];
	sa_text(sa, who, sizeof(who));
	if (d->n_conns >= d->cfg.max_connections) {
		close(fd);
		d->x[SKX_tcp_refused_max_connections]++;
		vdr_set_error(&d->base, "listen %s: %s refused: max_connections "
			      "(%u) reached", l->text, who, d->cfg.max_connections);
		return;
	}
	int src = vdr_net_lookup_sa(&d->cfg, sa);
	if (src < 0) {
		close(fd);
		d->x[SKX_tcp_refused_unknown_sender]++;
		vdr_set_error(&d->base, "listen %s: %s refused: the sender is in "
			      "no source's networks", l->text, who);
		return;
	}
	if (d->n_conns == d->conns_cap) {
		unsigned nc = d->conns_cap ? 2 * d->conns_cap : 256;
		struct sk_conn **np = realloc(d->conns, nc * sizeof(*np));
		if (np == NULL)
			goto nomem;
		d->conns = np;
		d->conns_cap = nc;
	}
	struct sk_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto nomem;
	c->kind = OBJ_CONN;
	c->fd = fd;
	c->l = l;
	c->src = (uint16_t)src;
	c->last_rx = d->now;
	c->octet = l->cfg.framing == VDP_FRAME_OCTET_COUNT;
	snprintf(c->peer, sizeof(c->peer), "%s", who);
	c->fr = vdp_framer_new((enum vdp_framing)l->cfg.framing, d->max_msg);
	if (c->fr == NULL) {
		free(c);
		goto nomem;
	}
	if (l->cfg.proto == VDR_TLS) {
		c->ssl = SSL_new(l->ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			SSL_free(c->ssl);
			vdp_framer_free(c->fr);
			free(c);
			ERR_clear_error();
			goto nomem;
		}
		SSL_set_accept_state(c->ssl);
		c->state = C_HANDSHAKE;
		c->hs_deadline = d->now + HS_TIMEOUT;
	} else {
		c->state = C_OPEN;
	}
	if (set_events(d, fd, c, &c->events, EPOLLIN | EPOLLRDHUP) != 0) {
		SSL_free(c->ssl);
		vdp_framer_free(c->fr);
		free(c);
		goto nomem;
	}
	c->idx = d->n_conns;
	d->conns[d->n_conns++] = c;
	d->x[SKX_tcp_accepted]++;
	return;
nomem:
	close(fd);
	d->x[SKX_tcp_accept_errors]++;
	vdr_set_error(&d->base, "listen %s: %s dropped: out of memory",
		      l->text, who);
}

static void listen_accept(struct sock_drv *d, struct sk_listen *l)
{
	for (unsigned i = 0; i < ACCEPT_MAX; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			d->x[SKX_tcp_accept_errors]++;
			vdr_set_error(&d->base, "listen %s: accept: %s", l->text,
				      strerror(errno));
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* rest a little instead of spinning */
				struct epoll_event e = { .events = 0, .data.ptr = l };
				epoll_ctl(d->ep, EPOLL_CTL_MOD, l->fd, &e);
				l->paused_until = d->now + ACCEPT_PAUSE;
			}
			return;
		}
		conn_accept(d, l, fd, (const struct sockaddr *)&ss);
	}
}

/* Frame bytes of @p c. @return false if the connection was closed. */
static bool conn_feed(struct sock_drv *d, struct sk_conn *c, const char *p,
		      size_t n)
{
	if (!c->started && c->l->cfg.framing == VDP_FRAME_TCP_AUTO) {
		size_t i = 0;
		while (i < n && (p[i] == '\n' || p[i] == '\r' || p[i] == '\0'))
			i++;
		if (i < n) {
			c->started = true;
			c->octet = p[i] >= '0' && p[i] <= '9';
		}
	}
	const struct vdp_framer_stats *fs = vdp_framer_stats(c->fr);
	uint64_t ov = fs->oversize;
	d->cur = c;
	int rc = vdp_framer_feed(c->fr, p, n, on_msg, d);
	uint64_t dov = fs->oversize - ov;
	d->x[SKX_oversize] += dov;
	if (rc != 0) {
		d->x[SKX_tcp_bad_frames]++;
		vdr_set_error(&d->base, "%s %s: closed: a bad octet count (not "
			      "\"LENGTH SP MESSAGE\")", c->l->text, c->peer);
		conn_close(d, c, CL_BAD_FRAME);
		return false;
	}
	if (dov > 0 && c->octet) {
		/* a frame over max_message announced: we will not read it */
		d->x[SKX_tcp_oversize_closes]++;
		vdr_set_error(&d->base, "%s %s: closed: an octet-counted frame "
			      "longer than the maximum (%zu bytes)", c->l->text,
			      c->peer, d->max_msg);
		conn_close(d, c, CL_OVERSIZE);
		return false;
	}
	return true;
}

static void conn_tls_fail(struct sock_drv *d, struct sk_conn *c, int err,
			  const char *when)
{
	char why[160];
	if (err == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		snprintf(why, sizeof(why), "%s", errno ? strerror(errno)
						       : "connection closed");
	else
		tls_reason(why, sizeof(why));
	d->x[SKX_tls_failed]++;
	vdr_set_error(&d->base, "%s %s: closed: TLS %s failed: %s", c->l->text,
		      c->peer, when, why);
	conn_close(d, c, CL_TLS);
}

/* @return false if the connection was closed. */
static bool conn_handshake(struct sock_drv *d, struct sk_conn *c)
{
	ERR_clear_error();
	errno = 0;
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->state = C_OPEN;
		c->last_rx = d->now;
		d->x[SKX_tls_handshakes]++;
		set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLRDHUP);
		return true;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ) {
		set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLRDHUP);
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		return true;
	}
	conn_tls_fail(d, c, e, "handshake");
	return false;
}

/* Read one round of @p c: at most RX_READ bytes. */
static void conn_read(struct sock_drv *d, struct sk_conn *c)
{
	size_t total = 0;
	ready_del(d, c);
	if (c->state == C_HANDSHAKE && !conn_handshake(d, c))
		return;
	if (c->state == C_HANDSHAKE)
		return;
	while (total < RX_READ) {
		ssize_t k;
		if (c->ssl == NULL) {
			k = recv(c->fd, d->rbuf, RX_READ, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno == EAGAIN)
				return;
			if (k < 0) {
				d->x[SKX_tcp_read_errors]++;
				vdr_set_error(&d->base, "%s %s: closed: %s",
					      c->l->text, c->peer, strerror(errno));
				conn_close(d, c, CL_READ_ERROR);
				return;
			}
		} else {
			ERR_clear_error();
			errno = 0;
			int r = SSL_read(c->ssl, d->rbuf, (int)RX_READ);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ) {
					set_events(d, c->fd, c, &c->events,
						   EPOLLIN | EPOLLRDHUP);
					return;
				}
				if (e == SSL_ERROR_WANT_WRITE) {
					set_events(d, c->fd, c, &c->events,
						   EPOLLIN | EPOLLOUT | EPOLLRDHUP);
					return;
				}
				if (e == SSL_ERROR_ZERO_RETURN ||
				    (e == SSL_ERROR_SYSCALL &&
				     ERR_peek_last_error() == 0 && errno == 0)) {
					k = 0; /* close_notify, or a plain EOF */
				} else {
					conn_tls_fail(d, c, e, "read");
					return;
				}
			} else {
				k = r;
			}
		}
		if (k == 0) {
			conn_close(d, c, CL_EOF);
			return;
		}
		c->last_rx = d->now;
		d->rx_bytes += (uint64_t)k;
		total += (size_t)k;
		if (!conn_feed(d, c, d->rbuf, (size_t)k))
			return;
		if (c->ssl == NULL && (size_t)k < RX_READ)
			return; /* drained; epoll says when there is more */
	}
	/* more may be there (in the socket, or decrypted in OpenSSL) */
	ready_add(d, c);
}

/* ------------------------------------------------------------------ */
/* UDP                                                                */
/* ------------------------------------------------------------------ */

/* Datagrams the kernel dropped for want of room in the socket's buffer
 * (SO_RXQ_OVFL: a running count, sent with each datagram). */
static void udp_ovfl(struct sock_drv *d, struct sk_listen *l,
		     struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL)
			continue;
		uint32_t v;
		memcpy(&v, CMSG_DATA(cm), sizeof(v));
		d->x[SKX_udp_kernel_drops] += (uint32_t)(v - l->ovfl);
		l->ovfl = v;
	}
}

static void udp_read(struct sock_drv *d, struct sk_listen *l)
{
	for (unsigned round = 0; round < UDP_ROUNDS && pend_room(d); round++) {
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			d->iov[i] = (struct iovec){ d->ubuf + i * d->uslot, d->uslot };
			d->mm[i].msg_hdr = (struct msghdr){
				.msg_name = &d->ua[i],
				.msg_namelen = sizeof(d->ua[i]),
				.msg_iov = &d->iov[i],
				.msg_iovlen = 1,
				.msg_control = d->uc[i].buf,
				.msg_controllen = sizeof(d->uc[i].buf),
			};
			d->mm[i].msg_len = 0;
		}
		int n = recvmmsg(l->fd, d->mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				d->x[SKX_udp_errors]++;
				vdr_set_error(&d->base, "listen %s: recvmmsg: %s",
					      l->text, strerror(errno));
			}
			return;
		}
		for (int i = 0; i < n; i++) {
			const char *p = d->iov[i].iov_base;
			size_t len = d->mm[i].msg_len;
			d->x[SKX_udp_datagrams]++;
			d->rx_bytes += len;
			udp_ovfl(d, l, &d->mm[i].msg_hdr);
			if (d->mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				d->x[SKX_oversize]++;
				continue;
			}
			len = vdp_datagram_len(p, len);
			if (len == 0) {
				d->x[SKX_udp_empty]++;
				continue;
			}
			if (len > d->max_msg) {
				d->x[SKX_oversize]++;
				continue;
			}
			int src = vdr_net_lookup_sa(&d->cfg,
						    (const struct sockaddr *)&d->ua[i]);
			if (src < 0) {
				d->x[SKX_drop_unknown_sender]++;
				continue;
			}
			pend_push(d, p, len, (uint16_t)src);
		}
		if (n < UDP_BATCH)
			return;
	}
}

/* ------------------------------------------------------------------ */
/* upstreams: the queue                                               */
/* ------------------------------------------------------------------ */

static bool q_empty(const struct sk_up *u)
{
	return u->r_head == u->r_tail;
}

static struct qrec *q_rec(const struct sk_up *u, uint64_t i)
{
	return &u->qr[i % u->rcap];
}

/* Make the rings hold @p need more bytes and one more line. Positions
 * are absolute: byte p lives at p % qcap, line i at i % rcap, before and
 * after a ring grows. */
static int q_reserve(struct sk_up *u, size_t need)
{
	size_t used = (size_t)(u->q_tail - u->q_head);
	if (u->qcap - used < need) {
		size_t nc = u->qcap ? u->qcap : 256u * 1024u;
		while (nc - used < need)
			nc *= 2;
		char *nb = malloc(nc);
		if (nb == NULL)
			return -1;
		for (uint64_t p = u->q_head; p < u->q_tail;) {
			size_t from = (size_t)(p % u->qcap), to = (size_t)(p % nc);
			size_t k = (size_t)(u->q_tail - p);
			if (k > u->qcap - from)
				k = u->qcap - from;
			if (k > nc - to)
				k = nc - to;
			memcpy(nb + to, u->qb + from, k);
			p += k;
		}
		if (u->qb != NULL) {
			explicit_bzero(u->qb, u->qcap);
			free(u->qb);
		}
		u->qb = nb;
		u->qcap = nc;
	}
	if (u->r_tail - u->r_head == u->rcap) {
		size_t nc = u->rcap ? 2 * u->rcap : 4096;
		struct qrec *nr = malloc(nc * sizeof(*nr));
		if (nr == NULL)
			return -1;
		for (uint64_t i = u->r_head; i < u->r_tail; i++)
			nr[i % nc] = u->qr[i % u->rcap];
		free(u->qr);
		u->qr = nr;
		u->rcap = nc;
	}
	return 0;
}

static void q_put(struct sk_up *u, const char *p, size_t n)
{
	while (n > 0) {
		size_t off = (size_t)(u->q_tail % u->qcap);
		size_t k = u->qcap - off;
		if (k > n)
			k = n;
		memcpy(u->qb + off, p, k);
		u->q_tail += k;
		p += k;
		n -= k;
	}
}

static void up_push(struct sock_drv *d, struct sk_up *u);

/* "LEN SP" of octet counting into @p buf (16 bytes). @return its length. */
static size_t octet_header(char *buf, uint32_t len)
{
	char t[12];
	size_t n = 0;
	do {
		t[n++] = (char)('0' + len % 10);
		len /= 10;
	} while (len > 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = t[n - 1 - i];
	buf[n] = ' ';
	return n + 1;
}

/* Append forwarded line @p i of @p b, framed for @p u. */
static void q_line(struct sock_drv *d, struct sk_up *u,
		   const struct vdp_burst *b, const struct vdp_out *o)
{
	char hdr[16];
	size_t hl = 0;
	bool lf = false;
	if (u->cfg.proto != VDR_UDP) {
		if (u->cfg.framing == VDP_FRAME_LF)
			lf = true;
		else
			hl = octet_header(hdr, o->len);
	}
	size_t flen = hl + o->len + lf;
	size_t cost = flen + REC_COST;
	/* full: what the connection takes now, and what it acknowledged,
	 * make room before a line is dropped (a burst is bigger than a
	 * small queue) */
	if (!q_empty(u) && u->q_cost + cost > d->cfg.queue_bytes &&
	    u->state == U_UP && !u->blocked)
		up_push(d, u);
	/* a line always fits an empty queue */
	if (!q_empty(u) && u->q_cost + cost > d->cfg.queue_bytes) {
		u->dropped++;
		d->tx_lost++;
		return;
	}
	if (q_reserve(u, flen) != 0) {
		u->dropped++;
		d->tx_lost++;
		d->x[SKX_drop_no_memory]++;
		return;
	}
	q_put(u, hdr, hl);
	const struct vdp_seg *s = b->segs + o->first_seg;
	for (unsigned k = 0; k < o->n_segs; k++)
		q_put(u, s[k].p, s[k].len);
	if (lf)
		q_put(u, "\n", 1);
	*q_rec(u, u->r_tail) = (struct qrec){ u->q_tail, 0 };
	u->r_tail++;
	u->q_cost += cost;
}

/* Lines from r_head on are done (delivered, or given up). */
static void q_release(struct sk_up *u, uint64_t upto)
{
	while (u->r_head < upto) {
		const struct qrec *r = q_rec(u, u->r_head);
		size_t flen = (size_t)(r->end - u->q_head);
		u->q_cost -= flen + REC_COST;
		u->q_head = r->end;
		u->r_head++;
	}
	if (q_empty(u))
		u->q_cost = 0;
}

/* Everything not acknowledged goes again, whole, on the next connection. */
static void q_rewind(struct sk_up *u)
{
	uint64_t again = u->r_wr - u->r_head;
	if (u->q_wr > (u->r_wr > u->r_head ? q_rec(u, u->r_wr - 1)->end : u->q_head))
		again++; /* a line partly written */
	u->resent += again;
	u->q_wr = u->q_head;
	u->r_wr = u->r_head;
	u->tls_wlen = 0;
}

/* ------------------------------------------------------------------ */
/* upstreams: connections                                             */
/* ------------------------------------------------------------------ */

static void up_close_fd(struct sock_drv *d, struct sk_up *u)
{
	if (u->ssl != NULL) {
		SSL_free(u->ssl);
		u->ssl = NULL;
	}
	ERR_clear_error();
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->events = 0;
	u->blocked = false;
	(void)d;
}

/* The connection failed or broke: try again after the backoff. */
static void up_fail(struct sock_drv *d, struct sk_up *u, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void up_fail(struct sock_drv *d, struct sk_up *u, const char *fmt, ...)
{
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	bool was_up = u->state == U_UP;
	up_close_fd(d, u);
	if (u->ai_cur != NULL && u->ai_cur->ai_next != NULL && !was_up) {
		/* another address of the name: at once */
		u->ai_cur = u->ai_cur->ai_next;
		u->state = U_DOWN;
		u->retry_at = d->now;
	} else {
		if (u->ai != NULL)
			freeaddrinfo(u->ai);
		u->ai = u->ai_cur = NULL;
		u->state = U_DOWN;
		u->retry_at = d->now + u->backoff;
		u->backoff *= 2;
		if (u->backoff > d->cfg.reconnect_max)
			u->backoff = d->cfg.reconnect_max;
	}
	if (was_up) {
		u->disconnects++;
		q_rewind(u);
	} else {
		u->failures++;
	}
	d->tx_errors++;
	vdr_set_error(&d->base, "upstream %s: %s%s", u->text, why,
		      u->state == U_DOWN && u->retry_at > d->now
			      ? "; retrying" : "");
}

static void up_want(struct sock_drv *d, struct sk_up *u, uint32_t ev)
{
	if (u->fd >= 0 && set_events(d, u->fd, u, &u->events, ev) != 0)
		up_fail(d, u, "epoll: %s", strerror(errno));
}

static void up_established(struct sock_drv *d, struct sk_up *u)
{
	u->state = U_UP;
	u->connects++;
	u->backoff = d->cfg.reconnect_min;
	u->conn_start = u->q_head;
	u->wire = 0;
	u->blocked = false;
	if (u->ai != NULL)
		freeaddrinfo(u->ai);
	u->ai = u->ai_cur = NULL;
	/* UDP: nothing to wait for until a send would block */
	up_want(d, u, u->cfg.proto == VDR_UDP ? EPOLLERR : EPOLLIN | EPOLLRDHUP);
}

static void up_handshake(struct sock_drv *d, struct sk_up *u)
{
	ERR_clear_error();
	errno = 0;
	int rc = SSL_do_handshake(u->ssl);
	if (rc == 1) {
		up_established(d, u);
		return;
	}
	int e = SSL_get_error(u->ssl, rc);
	if (e == SSL_ERROR_WANT_READ) {
		up_want(d, u, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		up_want(d, u, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		return;
	}
	char why[160];
	long vr = SSL_get_verify_result(u->ssl);
	if (vr != X509_V_OK)
		snprintf(why, sizeof(why), "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		snprintf(why, sizeof(why), "%s",
			 errno ? strerror(errno) : "connection closed");
	else
		tls_reason(why, sizeof(why));
	up_fail(d, u, "TLS handshake failed: %s", why);
}

static void up_connected(struct sock_drv *d, struct sk_up *u)
{
	if (u->cfg.proto != VDR_TLS) {
		up_established(d, u);
		return;
	}
	u->ssl = SSL_new(u->ctx);
	if (u->ssl == NULL || SSL_set_fd(u->ssl, u->fd) != 1) {
		up_fail(d, u, "TLS: out of memory");
		return;
	}
	const char *name = u->cfg.tls_server_name[0] ? u->cfg.tls_server_name
						     : u->cfg.host;
	unsigned char ipb[16];
	bool is_ip = inet_pton(AF_INET, name, ipb) == 1 ||
		     inet_pton(AF_INET6, name, ipb) == 1;
	if (u->cfg.tls_verify) {
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(u->ssl),
								name)
			       : SSL_set1_host(u->ssl, name);
		if (ok != 1) {
			up_fail(d, u, "TLS: cannot check the name \"%.100s\"", name);
			return;
		}
	}
	if (!is_ip)
		SSL_set_tlsext_host_name(u->ssl, name);
	SSL_set_connect_state(u->ssl);
	u->state = U_HANDSHAKE;
	u->deadline = d->now + HS_TIMEOUT;
	up_handshake(d, u);
}

static void up_connect_addr(struct sock_drv *d, struct sk_up *u,
			    const struct sockaddr *sa, socklen_t sl)
{
	int type = u->cfg.proto == VDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
	u->fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		up_fail(d, u, "socket: %s", strerror(errno));
		return;
	}
	if (u->cfg.proto == VDR_UDP) {
		/* not connected: ICMP errors must not fail later sends */
		if (sa != (const struct sockaddr *)&u->cfg.addr) {
			memcpy(&u->cfg.addr, sa, sl);
			u->cfg.addr_len = sl;
		}
		up_established(d, u);
		return;
	}
	/* a collector that vanished without a reset (a partition, a dead
	 * host) is noticed: unacknowledged data or silent keepalives for
	 * UP_DEAD_MS break the connection, and the queue waits for the next */
	int one = 1, idle = UP_DEAD_MS / 3000, intvl = UP_DEAD_MS / 6000, cnt = 3;
	unsigned ut = UP_DEAD_MS;
	setsockopt(u->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(u->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(u->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(u->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(u->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	if (connect(u->fd, sa, sl) == 0) {
		up_connected(d, u);
		return;
	}
	if (errno != EINPROGRESS) {
		up_fail(d, u, "connect: %s", strerror(errno));
		return;
	}
	u->state = U_CONNECTING;
	u->deadline = d->now + CONNECT_TIMEOUT;
	up_want(d, u, EPOLLOUT);
}

static void up_start(struct sock_drv *d, struct sk_up *u)
{
	if (u->cfg.numeric) {
		up_connect_addr(d, u, (const struct sockaddr *)&u->cfg.addr,
				u->cfg.addr_len);
		return;
	}
	if (u->ai_cur != NULL) { /* the next address of the last answer */
		up_connect_addr(d, u, u->ai_cur->ai_addr, u->ai_cur->ai_addrlen);
		return;
	}
	if (u->gai == NULL) {
		u->gai = calloc(1, sizeof(*u->gai));
		if (u->gai == NULL) {
			up_fail(d, u, "out of memory");
			return;
		}
	}
	struct sk_gai *g = u->gai;
	memset(&g->cb, 0, sizeof(g->cb));
	g->hints = (struct addrinfo){
		.ai_socktype = u->cfg.proto == VDR_UDP ? SOCK_DGRAM : SOCK_STREAM,
		.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV,
	};
	snprintf(g->host, sizeof(g->host), "%s", u->cfg.host);
	snprintf(g->port, sizeof(g->port), "%s", u->cfg.port);
	g->cb.ar_name = g->host;
	g->cb.ar_service = g->port;
	g->cb.ar_request = &g->hints;
	struct gaicb *list[1] = { &g->cb };
	int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		up_fail(d, u, "cannot resolve: %s", gai_strerror(rc));
		return;
	}
	u->state = U_RESOLVING;
}

static void up_resolved(struct sock_drv *d, struct sk_up *u)
{
	int rc = gai_error(&u->gai->cb);
	if (rc == EAI_INPROGRESS)
		return;
	if (rc != 0 || u->gai->cb.ar_result == NULL) {
		if (u->gai->cb.ar_result != NULL)
			freeaddrinfo(u->gai->cb.ar_result);
		u->gai->cb.ar_result = NULL;
		u->state = U_DOWN;
		up_fail(d, u, "cannot resolve the host: %s",
			rc ? gai_strerror(rc) : "no address");
		return;
	}
	u->ai = u->ai_cur = u->gai->cb.ar_result;
	u->gai->cb.ar_result = NULL;
	u->state = U_DOWN;
	up_connect_addr(d, u, u->ai_cur->ai_addr, u->ai_cur->ai_addrlen);
}

/* Lines the collector's TCP has acknowledged leave the queue: the bytes
 * the peer acknowledged on this connection (tcpi_bytes_acked; on an old
 * kernel, what was written less what the send queue still holds). */
static void up_acked(struct sk_up *u)
{
	if (u->r_head == u->r_wr)
		return;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	uint64_t acked;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(u->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0)
		return;
	if (tl >= offsetof(struct tcp_info, tcpi_bytes_acked) +
			  sizeof(ti.tcpi_bytes_acked)) {
		/* it counts the SYN: one more than the bytes written */
		acked = ti.tcpi_bytes_acked > 0 ? ti.tcpi_bytes_acked - 1 : 0;
	} else {
		int outq = 0;
		if (ti.tcpi_state != 1 /* TCP_ESTABLISHED */ ||
		    ioctl(u->fd, SIOCOUTQ, &outq) != 0)
			return;
		acked = u->wire - (uint64_t)outq;
	}
	uint64_t upto = u->r_head;
	while (upto < u->r_wr && q_rec(u, upto)->wire <= acked)
		upto++;
	u->sent += upto - u->r_head;
	q_release(u, upto);
}

static void udp_send(struct sock_drv *d, struct sk_up *u)
{
	while (u->r_wr < u->r_tail) {
		struct mmsghdr mm[UDP_BATCH];
		struct iovec iov[UDP_BATCH];
		unsigned n = 0;
		uint64_t pos = u->q_wr;
		for (uint64_t r = u->r_wr; r < u->r_tail && n < UDP_BATCH; r++) {
			uint64_t end = q_rec(u, r)->end;
			size_t len = (size_t)(end - pos), off = (size_t)(pos % u->qcap);
			char *p = u->qb + off;
			if (off + len > u->qcap) { /* wraps: one per batch */
				if (n > 0)
					break;
				if (d->txs_cap < len) {
					if (d->txs != NULL) /* a line */
						explicit_bzero(d->txs, d->txs_cap);
					free(d->txs);
					d->txs = malloc(len);
					d->txs_cap = d->txs ? len : 0;
					if (d->txs == NULL)
						return;
				}
				memcpy(d->txs, p, u->qcap - off);
				memcpy(d->txs + (u->qcap - off), u->qb, len - (u->qcap - off));
				p = d->txs;
			}
			iov[n] = (struct iovec){ p, len };
			mm[n].msg_hdr = (struct msghdr){
				.msg_name = &u->cfg.addr,
				.msg_namelen = u->cfg.addr_len,
				.msg_iov = &iov[n],
				.msg_iovlen = 1,
			};
			mm[n].msg_len = 0;
			n++;
			pos = end;
		}
		int k = sendmmsg(u->fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			u->blocked = true;
			up_want(d, u, EPOLLOUT);
			return;
		}
		if (k < 0 && errno == EMSGSIZE) {
			/* a line no datagram can carry: dropped, counted */
			u->q_wr = q_rec(u, u->r_wr)->end;
			u->r_wr++;
			u->dropped++;
			d->tx_lost++;
			q_release(u, u->r_wr);
			continue;
		}
		if (k < 0) {
			up_fail(d, u, "sendmmsg: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < k; i++) {
			d->tx_bytes += iov[i].iov_len;
			u->q_wr = q_rec(u, u->r_wr)->end;
			u->r_wr++;
		}
		u->sent += (uint64_t)k;
		q_release(u, u->r_wr);
	}
	if (u->blocked) {
		u->blocked = false;
		up_want(d, u, EPOLLERR);
	}
}

/* Write what is queued to a TCP or TLS upstream, until it would block. */
static void stream_send(struct sock_drv *d, struct sk_up *u)
{
	while (u->q_wr < u->q_tail) {
		size_t off = (size_t)(u->q_wr % u->qcap);
		size_t len = (size_t)(u->q_tail - u->q_wr);
		ssize_t k;
		if (u->ssl == NULL) {
			struct iovec iov[2];
			int niov = 1;
			if (len > TX_CHUNK)
				len = TX_CHUNK;
			iov[0] = (struct iovec){ u->qb + off, len };
			if (off + len > u->qcap) {
				iov[0].iov_len = u->qcap - off;
				iov[1] = (struct iovec){ u->qb, len - iov[0].iov_len };
				niov = 2;
			}
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
			k = sendmsg(u->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno == EAGAIN) {
				u->blocked = true;
				up_want(d, u, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
				return;
			}
			if (k <= 0) {
				up_fail(d, u, "send: %s",
					k < 0 ? strerror(errno) : "no progress");
				return;
			}
			u->wire += (uint64_t)k;
		} else {
			if (off + len > u->qcap)
				len = u->qcap - off;
			if (len > 16384)
				len = 16384;
			if (len < u->tls_wlen) /* OpenSSL: a retry is never shorter */
				len = u->tls_wlen;
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(u->ssl, u->qb + off, (int)len);
			if (r <= 0) {
				int e = SSL_get_error(u->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE ||
				    e == SSL_ERROR_WANT_READ) {
					u->tls_wlen = len;
					u->blocked = true;
					up_want(d, u, EPOLLIN | EPOLLRDHUP |
						(e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0));
					return;
				}
				char why[160];
				if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
					snprintf(why, sizeof(why), "%s", errno ? strerror(errno)
									       : "connection closed");
				else
					tls_reason(why, sizeof(why));
				up_fail(d, u, "TLS write: %s", why);
				return;
			}
			u->tls_wlen = 0;
			k = r;
			u->wire = BIO_number_written(SSL_get_wbio(u->ssl));
		}
		d->tx_bytes += (uint64_t)k;
		u->q_wr += (uint64_t)k;
		while (u->r_wr < u->r_tail && q_rec(u, u->r_wr)->end <= u->q_wr) {
			struct qrec *r = q_rec(u, u->r_wr);
			r->wire = u->ssl != NULL ? u->wire
						 : r->end - u->conn_start;
			u->r_wr++;
		}
	}
	if (u->blocked) {
		u->blocked = false;
		up_want(d, u, EPOLLIN | EPOLLRDHUP);
	}
}

/* A collector says nothing: what it sends is read and ignored; its end
 * of the stream is a disconnect. */
static void up_read(struct sock_drv *d, struct sk_up *u)
{
	char buf[4096];
	for (;;) {
		if (u->ssl == NULL) {
			ssize_t k = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (k > 0)
				continue;
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno == EAGAIN)
				return;
			up_fail(d, u, "connection %s", k == 0 ? "closed by the "
				"collector" : strerror(errno));
			return;
		}
		ERR_clear_error();
		errno = 0;
		int r = SSL_read(u->ssl, buf, sizeof(buf));
		if (r > 0)
			continue;
		int e = SSL_get_error(u->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		char why[160];
		if (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0))
			snprintf(why, sizeof(why), "%s", errno && e != SSL_ERROR_ZERO_RETURN
				 ? strerror(errno) : "closed by the collector");
		else
			tls_reason(why, sizeof(why));
		up_fail(d, u, "connection %s", why);
		return;
	}
}

static void up_event(struct sock_drv *d, struct sk_up *u, uint32_t ev)
{
	switch (u->state) {
	case U_CONNECTING: {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			e = errno;
		if (e != 0) {
			up_fail(d, u, "connect: %s", strerror(e));
			return;
		}
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			up_connected(d, u);
		return;
	}
	case U_HANDSHAKE:
		up_handshake(d, u);
		return;
	case U_UP:
		if (u->cfg.proto == VDR_UDP) {
			if (ev & EPOLLERR) {
				int e = 0;
				socklen_t el = sizeof(e);
				getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &el);
			}
			udp_send(d, u);
			return;
		}
		if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			up_read(d, u);
			if (u->state != U_UP)
				return;
		}
		stream_send(d, u);
		return;
	default:
		return;
	}
}

/* Write what an established upstream takes now; release what it has
 * acknowledged. */
static void up_push(struct sock_drv *d, struct sk_up *u)
{
	if (u->cfg.proto == VDR_UDP) {
		udp_send(d, u);
		return;
	}
	stream_send(d, u);
	if (u->state == U_UP)
		up_acked(u);
}

/* Timers and progress of an upstream: connect, resolve, deadlines, the
 * queue's acknowledgements. */
static void up_service(struct sock_drv *d, struct sk_up *u)
{
	switch (u->state) {
	case U_DOWN:
		if (d->now >= u->retry_at)
			up_start(d, u);
		break;
	case U_RESOLVING:
		up_resolved(d, u);
		break;
	case U_CONNECTING:
		if (d->now >= u->deadline)
			up_fail(d, u, "connect: timed out after %.0f s",
				CONNECT_TIMEOUT);
		break;
	case U_HANDSHAKE:
		if (d->now >= u->deadline)
			up_fail(d, u, "TLS handshake: timed out after %.0f s",
				HS_TIMEOUT);
		break;
	case U_UP:
		if (u->cfg.proto == VDR_UDP) {
			if (!u->blocked && u->r_wr < u->r_tail)
				udp_send(d, u);
			break;
		}
		/* a collector that went away is noticed before we write to
		 * it (epoll tells too, but only at the next vdr_rx()) */
		if (!u->blocked && u->q_wr < u->q_tail) {
			char c;
			ssize_t k = recv(u->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
			if (k >= 0 || (errno != EAGAIN && errno != EINTR)) {
				up_read(d, u);
				if (u->state != U_UP)
					break;
			}
		}
		if (!u->blocked && u->q_wr < u->q_tail)
			stream_send(d, u);
		if (u->state == U_UP)
			up_acked(u);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* timeouts                                                           */
/* ------------------------------------------------------------------ */

static void scan_timeouts(struct sock_drv *d)
{
	bool idle_ok = d->now - d->bp_last >= d->cfg.idle_timeout;
	for (unsigned i = d->n_conns; i-- > 0;) {
		struct sk_conn *c = d->conns[i];
		if (c->state == C_HANDSHAKE && d->now >= c->hs_deadline) {
			d->x[SKX_tls_handshake_timeouts]++;
			vdr_set_error(&d->base, "%s %s: closed: no TLS handshake "
				      "within %.0f s", c->l->text, c->peer,
				      HS_TIMEOUT);
			conn_close(d, c, CL_HS_TIMEOUT);
		} else if (c->state == C_OPEN && idle_ok &&
			   d->now - c->last_rx >= d->cfg.idle_timeout) {
			d->x[SKX_tcp_idle_timeouts]++;
			vdr_set_error(&d->base, "%s %s: closed: silent for %.0f s "
				      "(idle_timeout)", c->l->text, c->peer,
				      d->cfg.idle_timeout);
			conn_close(d, c, CL_IDLE);
		}
	}
	for (unsigned i = 0; i < d->n_lis; i++) {
		struct sk_listen *l = &d->lis[i];
		if (l->paused_until > 0 && d->now >= l->paused_until) {
			struct epoll_event e = { .events = EPOLLIN, .data.ptr = l };
			epoll_ctl(d->ep, EPOLL_CTL_MOD, l->fd, &e);
			l->paused_until = 0;
		}
	}
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
			if (pend_room(d))
				udp_read(d, l);
		} else {
			listen_accept(d, l);
		}
	} else if (kind == OBJ_CONN) {
		struct sk_conn *c = e->data.ptr;
		if (c->state == C_HANDSHAKE || pend_room(d))
			conn_read(d, c);
	} else {
		up_event(d, e->data.ptr, e->events);
	}
}

static int sock_rx(struct vdr_driver *dv, struct vdp_line *lines, unsigned max)
{
	struct sock_drv *d = sd_of(dv);
	struct epoll_event ev[EV_MAX];

	pend_consume(d, d->last_out - d->returned);
	d->last_out = d->returned = 0;
	d->now = vdr_now();
	if (!pend_room(d)) {
		d->bp_last = d->now;
		d->x[SKX_rx_paused]++;
	}
	int n = epoll_wait(d->ep, ev, EV_MAX, pend_n(d) > 0 ||
			   (d->flags & VDR_SOCK_NO_WAIT) ? 0 : 1);
	d->now = vdr_now();
	for (int i = 0; i < n; i++)
		dispatch(d, &ev[i]);
	/* connections read to their round's limit, in turn */
	for (struct sk_conn *c = d->ready, *next; c != NULL && pend_room(d);
	     c = next) {
		next = c->rnext;
		conn_read(d, c); /* may close c, never another */
	}
	for (unsigned i = 0; i < d->n_up; i++)
		up_service(d, &d->up[i]);
	if (d->now >= d->next_scan) {
		scan_timeouts(d);
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
	d->now = vdr_now();
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
			q_line(d, &d->up[k], b, o);
		if (d->tx_lost - lost < d->n_up || d->n_up == 0)
			d->tx_msgs++; /* at least one upstream took it */
	}
	for (unsigned k = 0; k < d->n_up; k++)
		up_service(d, &d->up[k]);
	return taken;
}

static bool all_sent(const struct sock_drv *d)
{
	for (unsigned k = 0; k < d->n_up; k++)
		if (!q_empty(&d->up[k]))
			return false;
	return true;
}

static int sock_flush(struct vdr_driver *dv)
{
	struct sock_drv *d = sd_of(dv);
	d->now = vdr_now();
	double end = d->now + d->cfg.drain_timeout;
	for (;;) {
		for (unsigned k = 0; k < d->n_up; k++)
			up_service(d, &d->up[k]);
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
		poll(pf, np, 5);
		d->now = vdr_now();
		for (unsigned k = 0; k < np; k++)
			if (pf[k].revents != 0)
				up_event(d, pu[k], (pf[k].revents & POLLIN ? EPOLLIN : 0) |
						   (pf[k].revents & POLLOUT ? EPOLLOUT : 0) |
						   (pf[k].revents & POLLERR ? EPOLLERR : 0) |
						   (pf[k].revents & POLLHUP ? EPOLLHUP : 0));
	}
	uint64_t left = 0;
	for (unsigned k = 0; k < d->n_up; k++) {
		struct sk_up *u = &d->up[k];
		uint64_t n = u->r_tail - u->r_head;
		if (n == 0)
			continue;
		u->lost += n;
		left += n;
		q_release(u, u->r_tail);
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
		v[SKX_upstream_queued] += u->r_tail - u->r_head;
		v[SKX_upstream_queue_bytes] += u->q_tail - u->q_head;
		v[SKX_upstream_dropped] += u->dropped;
		v[SKX_upstream_lost] += u->lost;
		v[SKX_upstream_resent] += u->resent;
		v[SKX_upstream_connects] += u->connects;
		v[SKX_upstream_disconnects] += u->disconnects;
		v[SKX_upstream_reconnect_failures] += u->failures;
	}
	for (unsigned i = 0; i < SKX_COUNT && i < cap; i++) {
		names[i] = sk_xnames[i];
		vals[i] = v[i];
	}
	return SKX_COUNT;
}

static void up_free(struct sk_up *u)
{
	if (u->ssl != NULL) {
		if (u->state == U_UP) {
			ERR_clear_error();
			SSL_shutdown(u->ssl);
		}
		SSL_free(u->ssl);
	}
	ERR_clear_error();
	if (u->fd >= 0)
		close(u->fd);
	if (u->gai != NULL) {
		bool done = true;
		if (u->state == U_RESOLVING &&
		    gai_cancel(&u->gai->cb) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = { &u->gai->cb };
			struct timespec ts = { 5, 0 };
			gai_suspend(list, 1, &ts);
			done = gai_error(&u->gai->cb) != EAI_INPROGRESS;
		}
		if (done) {
			if (u->gai->cb.ar_result != NULL)
				freeaddrinfo(u->gai->cb.ar_result);
			free(u->gai);
		} /* else the resolver still owns it: left to it */
	}
	if (u->ai != NULL)
		freeaddrinfo(u->ai);
	if (u->qb != NULL) {
		explicit_bzero(u->qb, u->qcap);
		free(u->qb);
	}
	free(u->qr);
	SSL_CTX_free(u->ctx);
}

static void sock_free(struct vdr_driver *dv)
{
	struct sock_drv *d = sd_of(dv);
	while (d->n_conns > 0)
		conn_close(d, d->conns[d->n_conns - 1], CL_FREE);
	free(d->conns);
	for (unsigned i = 0; i < d->n_lis; i++) {
		if (d->lis[i].fd >= 0)
			close(d->lis[i].fd);
		SSL_CTX_free(d->lis[i].ctx);
	}
	for (unsigned i = 0; i < d->n_up; i++)
		up_free(&d->up[i]);
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
	.free = sock_free,
};

/* ------------------------------------------------------------------ */
/* set-up                                                             */
/* ------------------------------------------------------------------ */

static int listen_open(struct sock_drv *d, struct sk_listen *l, char *err,
		       size_t errlen)
{
	const struct vdr_listen_cfg *c = &l->cfg;
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	bool udp = c->proto == VDR_UDP;
	int one = 1;
	const char *step = "socket";

	l->fd = socket(sa->sa_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
					      SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		goto fail;
	if (!udp) {
		step = "setsockopt SO_REUSEADDR";
		if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) != 0)
			goto fail;
	} else {
		/* a bigger buffer rides out bursts; the kernel caps it at
		 * net.core.rmem_max, which is not an error */
		int sz = (int)d->cfg.udp_rcvbuf;
		setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(l->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	}
	if (d->flags & VDR_SOCK_FREEBIND) {
		step = "setsockopt IP_FREEBIND";
		if (setsockopt(l->fd, SOL_IP, IP_FREEBIND, &one, sizeof(one)) != 0)
			goto fail;
	}
	step = "bind";
	if (bind(l->fd, sa, c->addr_len) != 0)
		goto fail;
	step = "listen";
	if (!udp && listen(l->fd, SOMAXCONN) != 0)
		goto fail;
	step = "epoll";
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = l };
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, l->fd, &e) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "listen %s: %s: %s", l->text, step,
		 strerror(errno));
	return -1;
}

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
	d->now = vdr_now();
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
		sa_text((const struct sockaddr *)&l->cfg.addr, a, sizeof(a));
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
		    (l->ctx = tls_server_ctx(l, err, errlen)) == NULL)
			goto out;
		if (listen_open(d, l, err, errlen) != 0)
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
		    (u->ctx = tls_client_ctx(u, err, errlen)) == NULL)
			goto out;
	}
	/* first connection attempts now (non-blocking) */
	for (unsigned i = 0; i < d->n_up; i++)
		up_service(d, &d->up[i]);
	return &d->base;
nomem:
	snprintf(err, errlen, "socket driver: out of memory");
out:
	sock_free(&d->base);
	return NULL;
}
