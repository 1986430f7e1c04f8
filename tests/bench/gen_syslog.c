/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * A syslog traffic generator for the network benchmark (never a test):
 * a DPDK process on one lcore that sends --count UDP syslog datagrams of
 * --size payload bytes (CEF lines, each with a user and a device name,
 * 4096 distinct ones, from 256 sender addresses) out of its port 0 (a
 * net_memif or net_ring vdev in the benchmark), as fast as the port takes
 * them (a full TX ring is retried, never dropped), and at the same time
 * receives what comes back (veil-dataplane's forwarded datagrams) and
 * counts it. It ends when every datagram came back or nothing came for
 * --idle seconds after the last was sent, and prints one JSON line:
 * sent, received, payload bytes each way, the seconds from the first sent
 * to the last received, packets per second and payload Gbit/s. With
 * --warmup N, N datagrams are sent first and waited for (veil-dataplane's
 * caches, its pool and the rings warm), and only then the clock starts
 * for the --count measured; the warm-up is reported apart. A full TX
 * ring is tried again after --backoff microseconds (default 5; 0: at
 * once), the ring then holding a ring's worth of work for the receiver.
 *
 *   gen_syslog [EAL options] -- --dst IP --dst-mac MAC [--count N]
 *       [--size BYTES] [--port P] [--idle S] [--warmup N] [--backoff US]
 *   gen_syslog --dump FILE [--count N] [--size BYTES]   (no EAL: the same
 *       payloads as LF-ended lines, for the in-memory baseline)
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define VARIANTS 4096
#define BURST 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Payload @p i: a CEF line of exactly @p size bytes (padded in msg=). */
static size_t payload(unsigned i, char *buf, size_t size)
{
	int n = snprintf(buf, size + 1,
		"<134>Nov 25 10:00:00 fw%02u CEF:0|Palo Alto Networks|PAN-OS|11.0|"
		"end|TRAFFIC|3|src=10.1.%u.%u dst=203.0.113.5 spt=%u dpt=443 "
		"proto=TCP suser=user%04u shost=ws-%04u act=allow msg=",
		i % 16, (i / 256) % 256, i % 256, 40000 + i % 20000, i, i);
	if (n < 0 || (size_t)n > size)
		return 0;
	memset(buf + n, 'x', size - (size_t)n);
	buf[size] = '\0';
	return size;
}

static int parse_mac(const char *s, struct rte_ether_addr *m)
{
	return rte_ether_unformat_addr(s, m);
}

/* What one phase (the warm-up, the measured run) sent and got back. */
struct phase {
	unsigned long long sent, recv, rx_bytes, tx_retries;
	double t0, t_sent, t_last_rx;
};

struct gen {
	uint16_t port;
	struct rte_mempool *mp;
	uint8_t (*frame)[1500];
	unsigned flen;
	double idle;
	unsigned backoff_us;
};

/* Send @p count datagrams (the variants from @p first on) as fast as the
 * port takes them, and count what comes back, until all @p count came
 * back or nothing came for idle seconds after the last was sent. What
 * came back is taken whole at each turn, so that veil-dataplane never
 * finds our RX ring full because we were busy sending. */
static void run(const struct gen *g, unsigned long long count,
		unsigned long long first, struct phase *ph)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];
	unsigned ntx = 0;
	/* payload bytes: the frame less Ethernet/IPv4/UDP (the benchmark's
	 * upstream is IPv4, untagged) */
	const uint32_t hl = sizeof(struct rte_ether_hdr) +
			    sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);
	while (!stop) {
		while (ph->sent + ntx < count && ntx < BURST) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(g->mp);
			if (m == NULL)
				break;
			unsigned v = (unsigned)((first + ph->sent + ntx) % VARIANTS);
			char *p = rte_pktmbuf_append(m, (uint16_t)g->flen);
			memcpy(p, g->frame[v], g->flen);
			tx[ntx++] = m;
		}
		if (ntx > 0) {
			if (ph->t0 == 0)
				ph->t0 = now();
			uint16_t k = rte_eth_tx_burst(g->port, 0, tx, (uint16_t)ntx);
			if (k < ntx) {
				memmove(tx, tx + k, (ntx - k) * sizeof(tx[0]));
				ph->tx_retries++;
				/* the ring is full: veil-dataplane has a ring's
				 * worth of work. Spinning on it would only pull
				 * the ring's indexes to this core at every turn,
				 * slowing veil-dataplane, whose core writes them */
				if (g->backoff_us > 0)
					rte_delay_us_block(g->backoff_us);
			}
			ntx -= k;
			ph->sent += k;
			if (ph->sent == count)
				ph->t_sent = now();
		}
		uint16_t r;
		bool got = false;
		while ((r = rte_eth_rx_burst(g->port, 0, rx, BURST)) > 0) {
			for (uint16_t i = 0; i < r; i++) {
				if (rx[i]->pkt_len > hl)
					ph->rx_bytes += rx[i]->pkt_len - hl;
				ph->recv++;
			}
			rte_pktmbuf_free_bulk(rx, r);
			got = true;
			if (r < BURST)
				break;
		}
		if (got)
			ph->t_last_rx = now();
		if (ph->sent == count && ntx == 0) {
			if (ph->recv >= count)
				break;
			double last = ph->t_last_rx > ph->t_sent ? ph->t_last_rx
								 : ph->t_sent;
			if (now() - last > g->idle)
				break;
		}
	}
	/* interrupted mid-burst: what was not sent is freed */
	if (ntx > 0)
		rte_pktmbuf_free_bulk(tx, ntx);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "idle", required_argument, NULL, 'i' },
		{ "dump", required_argument, NULL, 'D' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "backoff", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dst = NULL, *dmac = NULL, *dump = NULL;
	unsigned long long count = 1000000, warmup = 0;
	unsigned size = 256, dport = 514, backoff = 5;
	double idle = 2.0;
	static char pl[VARIANTS][2048];
	int c;

	int dd = 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dd = i;
			break;
		}
	int oargc = dd ? argc - dd : argc;
	char **oargv = dd ? argv + dd : argv;
	optind = 1;
	while ((c = getopt_long(oargc, oargv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': dst = optarg; break;
		case 'm': dmac = optarg; break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 's': size = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': dport = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': idle = strtod(optarg, NULL); break;
		case 'D': dump = optarg; break;
		case 'w': warmup = strtoull(optarg, NULL, 10); break;
		case 'b': backoff = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: gen_syslog [EAL] -- --dst IP --dst-mac "
				"MAC [--count N] [--size B] [--port P] [--idle S] "
				"[--warmup N] [--backoff US] | "
				"gen_syslog --dump FILE [--count N] [--size B]\n");
			return 2;
		}
	}
	if (size < 200 || size > 1400 || count == 0) {
		fprintf(stderr, "gen_syslog: --size 200 to 1400, --count > 0\n");
		return 2;
	}
	for (unsigned i = 0; i < VARIANTS; i++)
		if (payload(i, pl[i], size) == 0)
			return 1;
	if (dump != NULL) {
		FILE *f = fopen(dump, "w");
		if (f == NULL) {
			perror(dump);
			return 1;
		}
		for (unsigned long long i = 0; i < count; i++) {
			fwrite(pl[i % VARIANTS], 1, size, f);
			fputc('\n', f);
		}
		return fclose(f) == 0 ? 0 : 1;
	}
	if (dst == NULL || dmac == NULL) {
		fprintf(stderr, "gen_syslog: --dst and --dst-mac are needed\n");
		return 2;
	}

	if (rte_eal_init(dd ? dd : 1, argv) < 0) {
		fprintf(stderr, "gen_syslog: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct rte_ether_addr dm, sm;
	uint32_t dip;
	if (parse_mac(dmac, &dm) != 0 || inet_pton(AF_INET, dst, &dip) != 1) {
		fprintf(stderr, "gen_syslog: bad --dst or --dst-mac\n");
		return 2;
	}
	if (rte_eth_dev_count_avail() < 1) {
		fprintf(stderr, "gen_syslog: no port (give a --vdev)\n");
		return 1;
	}
	uint16_t port = 0;
	struct rte_mempool *mp = rte_pktmbuf_pool_create("gen", 16383, 256, 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (mp == NULL || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, rte_socket_id(), NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0) {
		fprintf(stderr, "gen_syslog: port setup failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	rte_eth_macaddr_get(port, &sm);
	/* wait for the link (memif: the peer connected) */
	struct rte_eth_link link;
	double t_link = now();
	do {
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status)
			break;
		usleep(10000);
	} while (now() - t_link < 30 && !stop);
	if (!link.link_status) {
		fprintf(stderr, "gen_syslog: the link did not come up in 30 s\n");
		return 1;
	}

	/* the frames, made once: Ethernet / IPv4 / UDP (checksummed) / CEF */
	static uint8_t frame[VARIANTS][1500];
	unsigned flen = (unsigned)(sizeof(struct rte_ether_hdr) +
				   sizeof(struct rte_ipv4_hdr) +
				   sizeof(struct rte_udp_hdr)) + size;
	for (unsigned i = 0; i < VARIANTS; i++) {
		struct rte_ether_hdr *eh = (struct rte_ether_hdr *)frame[i];
		struct rte_ipv4_hdr *ih = (struct rte_ipv4_hdr *)(eh + 1);
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ih + 1);
		eh->dst_addr = dm;
		eh->src_addr = sm;
		eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		memset(ih, 0, sizeof(*ih));
		ih->version_ihl = RTE_IPV4_VHL_DEF;
		ih->total_length = rte_cpu_to_be_16((uint16_t)(flen - sizeof(*eh)));
		ih->time_to_live = 64;
		ih->next_proto_id = IPPROTO_UDP;
		ih->src_addr = rte_cpu_to_be_32(0x0a010000u | (i % 256)); /* 10.1.0.x */
		ih->dst_addr = dip;
		ih->hdr_checksum = rte_ipv4_cksum(ih);
		uh->src_port = rte_cpu_to_be_16(40000);
		uh->dst_port = rte_cpu_to_be_16((uint16_t)dport);
		uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + size));
		memcpy(uh + 1, pl[i], size);
		uh->dgram_cksum = 0;
		uh->dgram_cksum = rte_ipv4_udptcp_cksum(ih, uh);
	}

	struct gen g = { .port = port, .mp = mp, .frame = frame, .flen = flen,
			 .idle = idle, .backoff_us = backoff };
	struct phase w = { 0 }, r = { 0 };
	/* the warm-up: sent, and all back (or idle), before the clock starts */
	if (warmup > 0)
		run(&g, warmup, 0, &w);
	run(&g, count, warmup, &r);
	double secs = r.t_last_rx > r.t0 ? r.t_last_rx - r.t0 : 0;
	printf("{\"sent\":%llu,\"received\":%llu,\"payload_size\":%u,"
	       "\"payload_bytes_sent\":%llu,\"payload_bytes_received\":%llu,"
	       "\"seconds\":%.4f,\"pps\":%.0f,\"payload_gbps\":%.3f,"
	       "\"send_seconds\":%.4f,\"tx_full_retries\":%llu,"
	       "\"warmup_sent\":%llu,\"warmup_received\":%llu}\n",
	       r.sent, r.recv, size, r.sent * size, r.rx_bytes, secs,
	       secs > 0 ? (double)r.recv / secs : 0.0,
	       secs > 0 ? (double)r.rx_bytes * 8 / secs / 1e9 : 0.0,
	       r.t_sent > 0 ? r.t_sent - r.t0 : 0.0, r.tx_retries, w.sent, w.recv);
	fflush(stdout);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
}
