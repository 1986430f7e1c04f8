/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's TCP and TLS upstreams: the queue of framed lines
 * (released only once the collector's TCP acknowledged them), the
 * connection with its reconnects and backoff, and writing to it.
 */
#include "socket_pvt.h"

/* ------------------------------------------------------------------ */
/* upstreams: the queue                                               */
/* ------------------------------------------------------------------ */

bool sk_q_empty(const struct sk_up *u)
{
	return u->r_head == u->r_tail;
}

struct qrec *sk_q_rec(const struct sk_up *u, uint64_t i)
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

/* A line is dropped at upstream @p u, for @p why: counted; the first of
 * each reason is logged, then a count at most once a minute. */
void sk_up_drop(struct sock_drv *d, struct sk_up *u, enum sk_drop why)
{
	static const char *const text[SK_DROP_COUNT] = {
		[SK_DROP_QUEUE_FULL] = ("its queue is full (queue_bytes; on_queue_full "
					"= drop, or UDP lines while TCP senders wait)"),
		[SK_DROP_NO_MEMORY] = "out of memory",
		[SK_DROP_SPOOL_FULL] = ("its spool is full (spool_bytes) and so is "
					"memory (queue_bytes and 64 MiB more for "
					"lines that cannot wait)"),
		[SK_DROP_SPOOL_ERROR] = ("its spool cannot be written (and memory "
					 "is full: queue_bytes and 64 MiB more) "
					 "or read"),
		[SK_DROP_TOO_BIG] = "a line too long for one datagram",
	};
	u->dropped++;
	u->drops[why]++;
	d->tx_lost++;
	if (why == SK_DROP_NO_MEMORY)
		d->x[SKX_drop_no_memory]++;
	if (d->now < u->next_drop_log[why])
		return;
	u->next_drop_log[why] = d->now + SK_LOG_EVERY;
	fprintf(stderr, "veil-dataplane: upstream %s (%s): lines DROPPED: %s "
		"(%llu so far)\n", u->cfg.name, u->text, text[why],
		(unsigned long long)u->drops[why]);
}

/* Whether a line of @p len bytes fits the memory queue now (a line always
 * fits an empty one). */
bool sk_q_room(const struct sock_drv *d, const struct sk_up *u, size_t len)
{
	return sk_q_empty(u) || u->q_cost + len + 16 + REC_COST <= d->cfg.queue_bytes;
}

/* Put a line into the memory queue, framed for @p u: its bytes are
 * @p flat, or (NULL) the @p n segments @p s; @p spooled: it is a record
 * taken from the spool (else in memory only). @return 0, or -1 (no
 * memory). */
int sk_q_put_line(struct sk_up *u, const char *flat, const struct vdp_seg *s,
		  unsigned n, size_t len, bool spooled)
{
	char hdr[16];
	size_t hl = 0;
	bool lf = false;
	if (u->cfg.proto == VDR_TCP || u->cfg.proto == VDR_TLS) {
		if (u->cfg.framing == VDP_FRAME_LF)
			lf = true;
		else
			hl = octet_header(hdr, (uint32_t)len);
	}
	size_t flen = hl + len + lf;
	if (q_reserve(u, flen) != 0)
		return -1;
	q_put(u, hdr, hl);
	if (flat != NULL)
		q_put(u, flat, len);
	for (unsigned k = 0; flat == NULL && k < n; k++)
		q_put(u, s[k].p, s[k].len);
	if (lf)
		q_put(u, "\n", 1);
	*sk_q_rec(u, u->r_tail) = (struct qrec){ u->q_tail, 0, spooled };
	u->r_tail++;
	u->q_cost += flen + REC_COST;
	u->q_mem += !spooled;
	return 0;
}

/* Take back the line put last into the memory queue (nothing of it was
 * written yet). */
void sk_q_unput(struct sk_up *u)
{
	u->r_tail--;
	const struct qrec *r = sk_q_rec(u, u->r_tail);
	uint64_t start = u->r_tail > u->r_head ? sk_q_rec(u, u->r_tail - 1)->end
					       : u->q_head;
	u->q_cost -= (size_t)(r->end - start) + REC_COST;
	u->q_mem -= !r->spooled;
	u->q_tail = start;
	if (sk_q_empty(u))
		u->q_cost = 0;
}

/* Whether a line of @p len bytes may be kept in memory as block keeps
 * lines: up to BLOCK_SLACK over queue_bytes, @p more bytes kept elsewhere
 * in memory counted too (a line always fits an empty queue). What the
 * connection takes now, and what it acknowledged, make room first. */
bool sk_q_slack(struct sock_drv *d, struct sk_up *u, size_t len, size_t more)
{
	size_t cost = len + 16 + REC_COST;
	if (!sk_q_empty(u) && u->q_cost + more + cost > d->cfg.queue_bytes &&
	    u->state == U_UP && !u->blocked)
		up_push(d, u);
	return (sk_q_empty(u) && more == 0) ||
	       u->q_cost + more + cost <= d->cfg.queue_bytes + BLOCK_SLACK;
}

/* Whether @p u makes the TCP and TLS senders wait now: block, its memory
 * queue is full; spool, the spool refuses lines and the memory queue is
 * full (or lines wait in memory behind the spool's). */
bool sk_up_holds_senders(const struct sock_drv *d, const struct sk_up *u)
{
	if (u->on_full == VDR_FULL_BLOCK)
		return u->q_cost >= d->cfg.queue_bytes;
	return u->sp != NULL && u->sp_full &&
	       (u->bh_lines > 0 || u->q_cost >= d->cfg.queue_bytes);
}

/* Append forwarded line @p o of @p b for @p u, as its on_queue_full
 * says: through the spool, or into the memory queue (drop: up to
 * queue_bytes; block: TCP/TLS senders wait while it is over queue_bytes,
 * and the lines on their way by then (read, in the pipeline), and UDP lines,
 * which cannot be made to wait, are queued up to BLOCK_SLACK more). */
void sk_q_line(struct sock_drv *d, struct sk_up *u,
	       const struct vdp_burst *b, const struct vdp_out *o)
{
	const struct vdp_seg *s = b->segs + o->first_seg;
	if (u->sp != NULL) {
		sk_spool_line(d, u, s, o->n_segs, o->len);
		return;
	}
	size_t limit = d->cfg.queue_bytes +
		       (u->on_full == VDR_FULL_BLOCK ? BLOCK_SLACK : 0);
	size_t cost = (size_t)o->len + 16 + REC_COST;
	/* full: what the connection takes now, and what it acknowledged,
	 * make room before a line is dropped (a burst is bigger than a
	 * small queue) */
	if (!sk_q_empty(u) && u->q_cost + cost > d->cfg.queue_bytes &&
	    u->state == U_UP && !u->blocked)
		up_push(d, u);
	/* a line always fits an empty queue */
	if (!sk_q_empty(u) && u->q_cost + cost > limit) {
		sk_up_drop(d, u, SK_DROP_QUEUE_FULL);
		return;
	}
	if (sk_q_put_line(u, NULL, s, o->n_segs, o->len, false) != 0)
		sk_up_drop(d, u, SK_DROP_NO_MEMORY);
}

/* Lines from r_head on are done (delivered, or given up); a spool hears
 * that those taken from it were delivered. */
void sk_q_release(struct sk_up *u, uint64_t upto)
{
	uint64_t spooled = 0;
	while (u->r_head < upto) {
		const struct qrec *r = sk_q_rec(u, u->r_head);
		size_t flen = (size_t)(r->end - u->q_head);
		spooled += r->spooled;
		u->q_mem -= !r->spooled;
		u->q_cost -= flen + REC_COST;
		u->q_head = r->end;
		u->r_head++;
	}
	if (sk_q_empty(u))
		u->q_cost = 0;
	if (u->sp != NULL && spooled > 0)
		vdr_spool_ack(u->sp, spooled);
}

/* Everything not acknowledged goes again, whole, on the next connection. */
static void q_rewind(struct sk_up *u)
{
	uint64_t again = u->r_wr - u->r_head;
	if (u->q_wr > (u->r_wr > u->r_head ? sk_q_rec(u, u->r_wr - 1)->end : u->q_head))
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

/* The log: an upstream went down, or is still down (once a minute). */
static void say_down(struct sock_drv *d, struct sk_up *u, const char *why,
		     bool was_up)
{
	static const char *const meanwhile[] = {
		[VDR_FULL_DEFAULT] = "", [VDR_FULL_DROP] = "queued in memory, then "
		"dropped (on_queue_full = drop)", [VDR_FULL_BLOCK] = "queued in "
		"memory; when that is full, TCP and TLS senders wait",
		[VDR_FULL_SPOOL] = "kept in its spool on disk",
	};
	u->next_down_log = d->now + SK_LOG_EVERY;
	fprintf(stderr, "veil-dataplane: upstream %s (%s) %s: %s; %llu lines "
		"waiting, new lines are %s; connecting again within %.1f s\n",
		u->cfg.name, u->text, was_up ? "DOWN" : u->said_down ? "still down"
		: "not reachable", why, (unsigned long long)sk_up_waiting(u),
		u->sp_full ? "kept in memory, its spool refusing lines; when "
		"that is full, TCP and TLS senders wait" : meanwhile[u->on_full],
		u->retry_at - d->now);
	u->said_down = true;
}

/* The connection failed or broke: try again after the backoff. */
void sk_up_fail(struct sock_drv *d, struct sk_up *u, const char *fmt, ...)
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
		u->down_since = d->now;
		u->next_down_log = d->now;
	} else {
		u->failures++;
	}
	d->tx_errors++;
	if (u->state == U_DOWN && d->now >= u->next_down_log)
		say_down(d, u, why, was_up);
	vdr_set_error(&d->base, "upstream %s: %s%s", u->text, why,
		      u->state == U_DOWN && u->retry_at > d->now
			      ? "; retrying" : "");
}

void sk_up_want(struct sock_drv *d, struct sk_up *u, uint32_t ev)
{
	if (u->fd >= 0 && sk_set_events(d, u->fd, u, &u->events, ev) != 0)
		sk_up_fail(d, u, "epoll: %s", strerror(errno));
}

static void up_established(struct sock_drv *d, struct sk_up *u)
{
	if (u->said_down)
		fprintf(stderr, "veil-dataplane: upstream %s (%s) up again after "
			"%.1f s; sending what waits\n", u->cfg.name, u->text,
			d->now - u->down_since);
	u->said_down = false;
	u->next_down_log = d->now;
	u->up_since = d->now;
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
	sk_up_want(d, u, u->cfg.proto == VDR_UDP ? EPOLLERR : EPOLLIN | EPOLLRDHUP);
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
		sk_up_want(d, u, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		sk_up_want(d, u, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
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
		sk_tls_reason(why, sizeof(why));
	sk_up_fail(d, u, "TLS handshake failed: %s", why);
}

static void up_connected(struct sock_drv *d, struct sk_up *u)
{
	if (u->cfg.proto != VDR_TLS) {
		up_established(d, u);
		return;
	}
	u->ssl = SSL_new(u->ctx);
	if (u->ssl == NULL || SSL_set_fd(u->ssl, u->fd) != 1) {
		sk_up_fail(d, u, "TLS: out of memory");
		return;
	}
	/* not const: SSL_set_tlsext_host_name() casts it to void * */
	char *name = u->cfg.tls_server_name[0] ? u->cfg.tls_server_name
					       : u->cfg.host;
	unsigned char ipb[16];
	bool is_ip = inet_pton(AF_INET, name, ipb) == 1 ||
		     inet_pton(AF_INET6, name, ipb) == 1;
	if (u->cfg.tls_verify) {
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(u->ssl),
								name)
			       : SSL_set1_host(u->ssl, name);
		if (ok != 1) {
			sk_up_fail(d, u, "TLS: cannot check the name \"%.100s\"", name);
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
		sk_up_fail(d, u, "socket: %s", strerror(errno));
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
		sk_up_fail(d, u, "connect: %s", strerror(errno));
		return;
	}
	u->state = U_CONNECTING;
	u->deadline = d->now + CONNECT_TIMEOUT;
	sk_up_want(d, u, EPOLLOUT);
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
			sk_up_fail(d, u, "out of memory");
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
		sk_up_fail(d, u, "cannot resolve: %s", gai_strerror(rc));
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
		sk_up_fail(d, u, "cannot resolve the host: %s",
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
	while (upto < u->r_wr && sk_q_rec(u, upto)->wire <= acked)
		upto++;
	u->sent += upto - u->r_head;
	sk_q_release(u, upto);
}

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
				sk_up_want(d, u, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
				return;
			}
			if (k <= 0) {
				sk_up_fail(d, u, "send: %s",
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
					sk_up_want(d, u, EPOLLIN | EPOLLRDHUP |
						(e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0));
					return;
				}
				char why[160];
				if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
					snprintf(why, sizeof(why), "%s", errno ? strerror(errno)
									       : "connection closed");
				else
					sk_tls_reason(why, sizeof(why));
				sk_up_fail(d, u, "TLS write: %s", why);
				return;
			}
			u->tls_wlen = 0;
			k = r;
			u->wire = BIO_number_written(SSL_get_wbio(u->ssl));
		}
		d->tx_bytes += (uint64_t)k;
		u->q_wr += (uint64_t)k;
		while (u->r_wr < u->r_tail && sk_q_rec(u, u->r_wr)->end <= u->q_wr) {
			struct qrec *r = sk_q_rec(u, u->r_wr);
			r->wire = u->ssl != NULL ? u->wire
						 : r->end - u->conn_start;
			u->r_wr++;
		}
	}
	if (u->blocked) {
		u->blocked = false;
		sk_up_want(d, u, EPOLLIN | EPOLLRDHUP);
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
			sk_up_fail(d, u, "connection %s", k == 0 ? "closed by the "
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
			sk_tls_reason(why, sizeof(why));
		sk_up_fail(d, u, "connection %s", why);
		return;
	}
}

void sk_up_event(struct sock_drv *d, struct sk_up *u, uint32_t ev)
{
	switch (u->state) {
	case U_CONNECTING: {
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			e = errno;
		if (e != 0) {
			sk_up_fail(d, u, "connect: %s", strerror(e));
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
			sk_udp_send(d, u);
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
	if (u->relp != NULL) {
		sk_relp_service(d, u);
		return;
	}
	if (u->cfg.proto == VDR_UDP) {
		sk_udp_send(d, u);
		return;
	}
	stream_send(d, u);
	if (u->state == U_UP)
		up_acked(u);
}

/* Timers and progress of an upstream: connect, resolve, deadlines, the
 * queue's acknowledgements. */
void sk_up_service(struct sock_drv *d, struct sk_up *u)
{
	if (u->relp != NULL) {
		/* its thread connects and sends: lines go to it, come back
		 * confirmed */
		sk_relp_service(d, u);
		sk_spool_service(d, u, false);
		return;
	}
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
			sk_up_fail(d, u, "connect: timed out after %.0f s",
				CONNECT_TIMEOUT);
		break;
	case U_HANDSHAKE:
		if (d->now >= u->deadline)
			sk_up_fail(d, u, "TLS handshake: timed out after %.0f s",
				HS_TIMEOUT);
		break;
	case U_UP:
		if (u->cfg.proto == VDR_UDP) {
			if (!u->blocked && u->r_wr < u->r_tail)
				sk_udp_send(d, u);
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
	sk_spool_service(d, u, false);
}

void sk_up_free(struct sk_up *u)
{
	sk_relp_stop(u);
	sk_spool_close(u);
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
