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

/* Frames from the kernel leave by the port, tagged with its VLAN. */
void dpdk_poll_kernel(struct dpdk_drv *d, struct dp_port *p)
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
	unsigned s = dpdk_tx_wire(p, d->wid, m, k);
	d->x.tx_to_wire += s;
	d->x.drop_tx_full += k - s;
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
