/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's UDP: datagrams in with recvmmsg (a datagram a
 * message, the kernel's drops counted), and out to a UDP upstream with
 * sendmmsg (a datagram a line).
 */
#include "socket_pvt.h"

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
		sk_udp_kernel_drops(d, l, v);
	}
}

/* The kernel's drop count of listener @p l's socket is @p v now (its
 * sk_drops, a 32-bit running count that wraps): what it adds is counted.
 * Two sources say it: SO_RXQ_OVFL with each datagram (the count when the
 * datagram was queued) and SO_MEMINFO at each scan (the count now: drops
 * are seen even when no datagram follows them). */
void sk_udp_kernel_drops(struct sock_drv *d, struct sk_listen *l, uint32_t v)
{
	uint32_t more = v - l->ovfl;
	if (more == 0 || more > UINT32_MAX / 2)
		return; /* nothing new, or an older count than one seen */
	d->x[SKX_udp_kernel_drops] += more;
	l->kdrops += more;
	l->ovfl = v;
}

/* The kernel's drop count of a UDP listener, read now (SO_MEMINFO). */
void sk_udp_meminfo(struct sock_drv *d, struct sk_listen *l)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t ml = sizeof(mi);
	if (l->fd < 0 || getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mi, &ml) != 0 ||
	    ml <= SK_MEMINFO_DROPS * sizeof(uint32_t))
		return; /* an old kernel: SO_RXQ_OVFL alone */
	sk_udp_kernel_drops(d, l, mi[SK_MEMINFO_DROPS]);
}

void sk_udp_read(struct sock_drv *d, struct sk_listen *l)
{
	for (unsigned round = 0; round < UDP_ROUNDS && sk_pend_room(d); round++) {
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
			sk_pend_push(d, p, len, (uint16_t)src);
		}
		if (n < UDP_BATCH)
			return;
	}
}

void sk_udp_send(struct sock_drv *d, struct sk_up *u)
{
	while (u->r_wr < u->r_tail) {
		struct mmsghdr mm[UDP_BATCH];
		struct iovec iov[UDP_BATCH];
		unsigned n = 0;
		uint64_t pos = u->q_wr;
		for (uint64_t r = u->r_wr; r < u->r_tail && n < UDP_BATCH; r++) {
			uint64_t end = sk_q_rec(u, r)->end;
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
			sk_up_want(d, u, EPOLLOUT);
			return;
		}
		if (k < 0 && errno == EMSGSIZE) {
			/* a line no datagram can carry: dropped, counted */
			u->q_wr = sk_q_rec(u, u->r_wr)->end;
			u->r_wr++;
			sk_up_drop(d, u, SK_DROP_TOO_BIG);
			sk_q_release(u, u->r_wr);
			continue;
		}
		if (k < 0) {
			sk_up_fail(d, u, "sendmmsg: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < k; i++) {
			d->tx_bytes += iov[i].iov_len;
			u->q_wr = sk_q_rec(u, u->r_wr)->end;
			u->r_wr++;
		}
		u->sent += (uint64_t)k;
		sk_q_release(u, u->r_wr);
	}
	if (u->blocked) {
		u->blocked = false;
		sk_up_want(d, u, EPOLLERR);
	}
}

/* Write what is queued to a TCP or TLS upstream, until it would block. */
