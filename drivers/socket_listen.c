/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's inbound TCP and TLS: listeners opened and accepting
 * up to max_connections, each connection read at most RX_READ bytes per
 * round and framed into the pending queue, and the once-a-second scan for
 * handshake and idle timeouts.
 */
#include "socket_pvt.h"

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
	sk_pend_push(d, msg, len, d->cur->src);
}

void sk_conn_close(struct sock_drv *d, struct sk_conn *c,
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
	sk_sa_text(sa, who, sizeof(who));
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
	if (sk_set_events(d, fd, c, &c->events, EPOLLIN | EPOLLRDHUP) != 0) {
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

void sk_listen_accept(struct sock_drv *d, struct sk_listen *l)
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
		sk_conn_close(d, c, CL_BAD_FRAME);
		return false;
	}
	if (dov > 0 && c->octet) {
		/* a frame over max_message announced: we will not read it */
		d->x[SKX_tcp_oversize_closes]++;
		vdr_set_error(&d->base, "%s %s: closed: an octet-counted frame "
			      "longer than the maximum (%zu bytes)", c->l->text,
			      c->peer, d->max_msg);
		sk_conn_close(d, c, CL_OVERSIZE);
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
		sk_tls_reason(why, sizeof(why));
	d->x[SKX_tls_failed]++;
	vdr_set_error(&d->base, "%s %s: closed: TLS %s failed: %s", c->l->text,
		      c->peer, when, why);
	sk_conn_close(d, c, CL_TLS);
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
		sk_set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLRDHUP);
		return true;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ) {
		sk_set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLRDHUP);
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		sk_set_events(d, c->fd, c, &c->events, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
		return true;
	}
	conn_tls_fail(d, c, e, "handshake");
	return false;
}

/* Read one round of @p c: at most RX_READ bytes. */
void sk_conn_read(struct sock_drv *d, struct sk_conn *c)
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
				sk_conn_close(d, c, CL_READ_ERROR);
				return;
			}
		} else {
			ERR_clear_error();
			errno = 0;
			int r = SSL_read(c->ssl, d->rbuf, (int)RX_READ);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ) {
					sk_set_events(d, c->fd, c, &c->events,
						   EPOLLIN | EPOLLRDHUP);
					return;
				}
				if (e == SSL_ERROR_WANT_WRITE) {
					sk_set_events(d, c->fd, c, &c->events,
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
			sk_conn_close(d, c, CL_EOF);
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
/* timeouts                                                           */
/* ------------------------------------------------------------------ */

void sk_scan_timeouts(struct sock_drv *d)
{
	bool idle_ok = d->now - d->bp_last >= d->cfg.idle_timeout;
	for (unsigned i = d->n_conns; i-- > 0;) {
		struct sk_conn *c = d->conns[i];
		if (c->state == C_HANDSHAKE && d->now >= c->hs_deadline) {
			d->x[SKX_tls_handshake_timeouts]++;
			vdr_set_error(&d->base, "%s %s: closed: no TLS handshake "
				      "within %.0f s", c->l->text, c->peer,
				      HS_TIMEOUT);
			sk_conn_close(d, c, CL_HS_TIMEOUT);
		} else if (c->state == C_OPEN && idle_ok &&
			   d->now - c->last_rx >= d->cfg.idle_timeout) {
			d->x[SKX_tcp_idle_timeouts]++;
			vdr_set_error(&d->base, "%s %s: closed: silent for %.0f s "
				      "(idle_timeout)", c->l->text, c->peer,
				      d->cfg.idle_timeout);
			sk_conn_close(d, c, CL_IDLE);
		}
	}
	for (unsigned i = 0; i < d->n_lis; i++) {
		struct sk_listen *l = &d->lis[i];
		if (l->cfg.proto == VDR_UDP)
			sk_udp_meminfo(d, l);
		if (l->paused_until > 0 && d->now >= l->paused_until) {
			struct epoll_event e = { .events = EPOLLIN, .data.ptr = l };
			epoll_ctl(d->ep, EPOLL_CTL_MOD, l->fd, &e);
			l->paused_until = 0;
		}
	}
}

/* ------------------------------------------------------------------ */
/* set-up                                                             */
/* ------------------------------------------------------------------ */

int sk_listen_open(struct sock_drv *d, struct sk_listen *l, char *err,
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
