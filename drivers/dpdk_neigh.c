/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's next hops: the MAC of each upstream's next hop from
 * the kernel's neighbour table of the TAP interface (rtnetlink), looked
 * up again while unknown and refreshed while known.
 */
#include "dpdk_pvt.h"

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

void dpdk_refresh_neighbours(struct dpdk_drv *d, bool force)
{
	double t = 0;
	for (unsigned i = 0; i < d->n_up; i++) {
		struct dp_upstream *u = &d->up[i];
		if (u->fixed_mac || !u->port->has_tap)
			continue;
		if (t == 0)
			t = veil_now();
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
