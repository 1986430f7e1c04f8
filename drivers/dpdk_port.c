/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's ethdev ports: started with a queue pair per worker,
 * RSS over IP and UDP, their mbuf pools; stopped with their TAP.
 */
#include "dpdk_pvt.h"

/* ------------------------------------------------------------------ */
/* start and stop                                                     */
/* ------------------------------------------------------------------ */

void dpdk_port_stop(struct dp_port *p)
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
int dpdk_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Give the TAP interface the port's addresses and bring it up (ioctl). */
int dpdk_start_port(struct dpdk_dev *v, struct dp_port *p, char *err,
		    size_t errlen)
{
	const struct vdr_port_cfg *c = p->cfg;
	if (rte_eth_dev_get_port_by_name(c->device, &p->id) != 0)
		return dpdk_fail(err, errlen, "port %s: no ethdev \"%s\" (a PCI port "
			    "bound to vfio-pci, or an EAL --vdev)", c->name,
			    c->device);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(p->id, &info);
	if (rc != 0)
		return dpdk_fail(err, errlen, "port %s: %s", c->name, rte_strerror(-rc));
	if (c->mtu > info.max_mtu || c->mtu < info.min_mtu)
		return dpdk_fail(err, errlen, "port %s: mtu %u is outside what %s "
			    "allows (%u-%u)", c->name, c->mtu, c->device,
			    info.min_mtu, info.max_mtu);
	p->mtu = (uint16_t)c->mtu;
	/* a queue pair per worker unless more are asked for */
	unsigned nw = v->n_workers;
	p->nq = (uint16_t)(c->queues ? c->queues : nw);
	if (p->nq < nw)
		return dpdk_fail(err, errlen, "port %s: queues = %u, fewer than the %u "
			    "workers (each needs its own queue pair)", c->name,
			    c->queues, nw);
	unsigned has = RTE_MIN(info.max_rx_queues, info.max_tx_queues);
	if (p->nq > has && c->queues)
		return dpdk_fail(err, errlen, "port %s: queues = %u, %s has %u queue "
			    "pairs", c->name, p->nq, c->device, has);
	if (p->nq > has)
		return dpdk_fail(err, errlen, "port %s: a queue pair per worker (%u), "
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
		return dpdk_fail(err, errlen, "port %s: mbuf pool of %u: %s", c->name,
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
		return dpdk_fail(err, errlen, "port %s (%s): %s", c->name, c->device,
			    rte_strerror(-rc));
	rc = rte_eth_dev_start(p->id);
	if (rc != 0)
		return dpdk_fail(err, errlen, "port %s (%s): cannot start: %s", c->name,
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
		return dpdk_start_tap(p, (uint16_t)nw, err, errlen);
	return 0;
}
