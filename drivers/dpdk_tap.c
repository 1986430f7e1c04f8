/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's exception path: the TAP interface that has the
 * port's MAC and addresses (and the host routes to upstreams off the
 * port's networks); frames the fast path does not take go to the kernel
 * through it, and whatever the kernel sends on it leaves by the port.
 */
#include "dpdk_pvt.h"

/* ------------------------------------------------------------------ */
/* the exception path                                                 */
/* ------------------------------------------------------------------ */

void dpdk_flush_kernel(struct dpdk_drv *d, struct dp_port *p)
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
void dpdk_to_kernel(struct dpdk_drv *d, struct dp_port *p,
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
		dpdk_flush_kernel(d, p);
	e->m[e->n] = m;
	e->w[e->n++] = w;
}

/* Send @p n frames on the port's TX queue @p q, a few tries; the rest are
 * freed. @return how many were sent. */
unsigned dpdk_tx_wire(struct dp_port *p, uint16_t q, struct rte_mbuf **m,
		      unsigned n)
{
	unsigned sent = 0;
	for (int t = 0; t < TX_RETRIES && sent < n; t++)
		sent += rte_eth_tx_burst(p->id, q, m + sent, (uint16_t)(n - sent));
	for (unsigned i = sent; i < n; i++)
		rte_pktmbuf_free(m[i]);
	return sent;
}

/* ------------------------------------------------------------------ */
/* lines given to a kernel socket, until they leave by the port       */
/* ------------------------------------------------------------------ */

bool dpdk_kernel_sent(struct dpdk_drv *d, unsigned k)
{
	struct dp_kpend *q = &d->dev->kpend[k];
	double now = veil_now();
	bool ok = false;
	rte_spinlock_lock(&q->lock);
	if (q->n < KPEND_MAX) {
		q->sent[(q->head + q->n) % KPEND_MAX] = now;
		q->n++;
		ok = true;
	}
	rte_spinlock_unlock(&q->lock);
	return ok;
}

void dpdk_kernel_unsent(struct dpdk_drv *d, unsigned k)
{
	struct dp_kpend *q = &d->dev->kpend[k];
	rte_spinlock_lock(&q->lock);
	if (q->n > 0)
		q->n--; /* the newest: all of them stand for lines alike */
	rte_spinlock_unlock(&q->lock);
}

/* The oldest line pending for upstream @p k: delivered (@p out) or lost.
 * Nothing pending: a frame of a line already counted lost after its wait
 * (or not ours); nothing to count. */
static void kernel_settle(struct dpdk_drv *d, unsigned k, bool out)
{
	struct dp_kpend *q = &d->dev->kpend[k];
	bool had = false;
	rte_spinlock_lock(&q->lock);
	if (q->n > 0) {
		q->head = (q->head + 1) % KPEND_MAX;
		q->n--;
		had = true;
	}
	rte_spinlock_unlock(&q->lock);
	if (!had)
		return;
	if (out)
		d->x.tx_kernel_out++;
	else {
		d->x.tx_kernel_lost++;
		d->st.tx_lost++;
	}
}

void dpdk_kernel_expire(struct dpdk_drv *d, bool final)
{
	double now = 0;
	for (unsigned k = 0; k < d->n_up; k++) {
		struct dp_kpend *q = &d->dev->kpend[k];
		if (__atomic_load_n(&q->n, __ATOMIC_RELAXED) == 0)
			continue;
		if (now == 0)
			now = veil_now();
		unsigned lost = 0;
		rte_spinlock_lock(&q->lock);
		while (q->n > 0 && (final || now - q->sent[q->head] > KERNEL_WAIT_S)) {
			q->head = (q->head + 1) % KPEND_MAX;
			q->n--;
			lost++;
		}
		rte_spinlock_unlock(&q->lock);
		d->x.tx_kernel_lost += lost;
		d->st.tx_lost += lost;
	}
}

/* The upstream whose kernel socket sent frame @p m (an untagged frame the
 * kernel wrote on the TAP): a UDP datagram from its source to its
 * address, or the last fragment of one. @return its index, or -1. */
static int kernel_line_of(const struct dpdk_drv *d, const struct dp_port *p,
			  const struct rte_mbuf *m)
{
	if (d->n_up == 0 || rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) +
					      sizeof(struct rte_ipv4_hdr))
		return -1;
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	uint16_t et = (uint16_t)(b[12] << 8 | b[13]);
	const uint8_t *ip = b + sizeof(struct rte_ether_hdr);
	size_t left = len - sizeof(struct rte_ether_hdr);
	int fam;
	const uint8_t *src, *dst, *udp = NULL;
	if (et == RTE_ETHER_TYPE_IPV4) {
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		uint16_t frag = (uint16_t)(ip[6] << 8 | ip[7]);
		if (ip[9] != IPPROTO_UDP || ihl < 20 || ihl > left)
			return -1;
		if (frag & 0x2000) /* more fragments: the last one counts */
			return -1;
		if ((frag & 0x1fff) == 0)
			udp = ip + ihl;
		fam = AF_INET;
		src = ip + 12;
		dst = ip + 16;
	} else if (et == RTE_ETHER_TYPE_IPV6 && left >= sizeof(struct rte_ipv6_hdr)) {
		size_t off = sizeof(struct rte_ipv6_hdr);
		if (ip[6] == IPPROTO_FRAGMENT) {
			if (left < off + 8 || ip[off] != IPPROTO_UDP)
				return -1;
			uint16_t fo = (uint16_t)(ip[off + 2] << 8 | ip[off + 3]);
			if (fo & 1) /* M */
				return -1;
			if ((fo & 0xfff8) == 0)
				udp = ip + off + 8;
		} else if (ip[6] == IPPROTO_UDP)
			udp = ip + off;
		else
			return -1;
		fam = AF_INET6;
		src = ip + 8;
		dst = ip + 24;
	} else
		return -1;
	if (udp != NULL && (size_t)(udp - ip) + 8 > left)
		return -1;
	size_t alen = fam == AF_INET ? 4 : 16;
	for (unsigned k = 0; k < d->n_up; k++) {
		const struct dp_upstream *u = &d->up[k];
		if (u->port != p || u->family != fam || memcmp(u->src, src, alen) != 0 ||
		    memcmp(u->dst, dst, alen) != 0)
			continue;
		if (udp != NULL && ((uint16_t)(udp[0] << 8 | udp[1]) != u->ksport ||
				    (uint16_t)(udp[2] << 8 | udp[3]) != u->dport))
			continue;
		return (int)k;
	}
	return -1;
}

/* Frames from the kernel leave by the port, tagged with its VLAN. A line
 * an upstream's kernel socket sent is delivered when the port took it,
 * lost when it did not. */
void dpdk_poll_kernel(struct dpdk_drv *d, struct dp_port *p)
{
	struct rte_mbuf *m[BURST];
	int line[BURST];
	uint16_t n = rte_eth_rx_burst(p->tap_id, d->wid, m, BURST);
	if (n == 0)
		return;
	d->x.rx_from_kernel += n;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		m[i]->ol_flags = 0;
		int up = kernel_line_of(d, p, m[i]);
		if (p->cfg->vlan) {
			m[i]->vlan_tci = p->cfg->vlan;
			if (rte_vlan_insert(&m[i]) != 0) {
				d->x.drop_tx_full++;
				rte_pktmbuf_free(m[i]);
				if (up >= 0)
					kernel_settle(d, (unsigned)up, false);
				continue;
			}
		}
		line[k] = up;
		m[k++] = m[i];
	}
	unsigned s = dpdk_tx_wire(p, d->wid, m, k);
	d->x.tx_to_wire += s;
	d->x.drop_tx_full += k - s;
	for (unsigned i = 0; i < k; i++)
		if (line[i] >= 0)
			kernel_settle(d, (unsigned)line[i], i < s);
}

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
		dpdk_fail(err, errlen, "exception interface %s: %s", name,
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
				dpdk_fail(err, errlen, "exception interface %s: no room "
				     "for an alias name for %s", name, text);
				goto out;
			}
			struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, a->ip, 4);
			if (ioctl(fd4, SIOCSIFADDR, &ifr) != 0)
				goto addr_fail;
			vdr_prefix_mask(a->plen, (uint8_t *)&sin->sin_addr, 4);
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
		dpdk_fail(err, errlen, "exception interface %s: cannot add address "
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
	dpdk_fail(err, errlen, "exception interface %s: cannot bring it up: %s",
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
int dpdk_start_tap(struct dp_port *p, uint16_t nw, char *err, size_t errlen)
{
	char args[160];
	snprintf(p->tap_dev, sizeof(p->tap_dev), "net_tap_veil%u", p->idx);
	snprintf(args, sizeof(args), "iface=%s,mac=" RTE_ETHER_ADDR_PRT_FMT,
		 p->cfg->exception, RTE_ETHER_ADDR_BYTES(&p->mac));
	if (rte_eal_hotplug_add("vdev", p->tap_dev, args) != 0)
		return dpdk_fail(err, errlen, "port %s: cannot create the exception "
			    "interface %s (net_tap): %s", p->cfg->name,
			    p->cfg->exception, rte_strerror(rte_errno));
	if (rte_eth_dev_get_port_by_name(p->tap_dev, &p->tap_id) != 0) {
		rte_eal_hotplug_remove("vdev", p->tap_dev);
		return dpdk_fail(err, errlen, "port %s: the exception interface has "
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
		return dpdk_fail(err, errlen, "port %s: exception interface %s: %s",
			    p->cfg->name, p->cfg->exception, rte_strerror(-rc));
	p->tap_started = true;
	return tap_addresses(p, err, errlen);
}


/* Upstreams off the port's networks are reached through its gateway:
 * the kernel (the fallback socket, the socket driver's TCP and TLS) needs
 * a host route for each through the exception interface (ioctl
 * SIOCADDRT), so as not to take the management interface's default. */
int dpdk_tap_routes(struct dpdk_drv *d, char *err, size_t errlen)
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
					on_link |= vdr_in_prefix(&pc->addr[a], ip);
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
				return dpdk_fail(err, errlen, "upstream %s: cannot add its "
					    "route via the gateway on %s: %s",
					    uc->name, pc->exception, strerror(e));
			break;
		}
	}
	return 0;
}
