/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The network drivers' configuration (drivers/netcfg.c): every section's
 * keys, their errors, the consistency check and the sender -> source
 * lookup (longest prefix, IPv4, IPv6, v4-mapped, the default). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_pvt.h"
#include "veil_msg.h"

static char err[300];

static int set(struct vdr_net_cfg *c, const char *sec, const char *k,
	       const char *v)
{
	err[0] = '\0';
	return vdr_net_cfg_set(c, sec, k, v, err, sizeof(err));
}

static int look4(const struct vdr_net_cfg *c, const char *a)
{
	uint8_t ip[4];
	assert_int_equal(inet_pton(AF_INET, a, ip), 1);
	return vdr_net_lookup(c, AF_INET, ip);
}

static int look6(const struct vdr_net_cfg *c, const char *a)
{
	uint8_t ip[16];
	assert_int_equal(inet_pton(AF_INET6, a, ip), 1);
	return vdr_net_lookup(c, AF_INET6, ip);
}

static void test_lookup(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_non_null(c);
	assert_int_equal(vdr_net_cfg_map(c, "10.0.0.0/8", 1, err, sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "10.1.0.0/16", 2, err, sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "10.1.2.3", 3, err, sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "10.1.2.128/25", 4, err, sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "2001:db8::/32", 5, err, sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "2001:db8:1::/48", 6, err, sizeof(err)), 0);
	assert_int_equal(look4(c, "10.9.9.9"), 1);
	assert_int_equal(look4(c, "10.1.9.9"), 2);
	assert_int_equal(look4(c, "10.1.2.3"), 3);
	assert_int_equal(look4(c, "10.1.2.200"), 4);
	assert_int_equal(look4(c, "10.1.2.127"), 2);
	assert_int_equal(look4(c, "11.0.0.1"), -1);
	assert_int_equal(look6(c, "2001:db8:2::1"), 5);
	assert_int_equal(look6(c, "2001:db8:1:ffff::1"), 6);
	assert_int_equal(look6(c, "2001:db9::1"), -1);
	/* an IPv4 prefix never matches an IPv6 sender with the same bytes */
	assert_int_equal(look6(c, "a01:203::"), -1);
	/* a dual-stack socket's v4-mapped sender is looked up as IPv4 */
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	assert_int_equal(vdr_net_lookup_sa(c, (struct sockaddr *)&s6), 3);
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "10.200.0.1", &s4.sin_addr);
	assert_int_equal(vdr_net_lookup_sa(c, (struct sockaddr *)&s4), 1);
	/* the default source for everyone else */
	vdr_net_cfg_default_source(c, 7);
	assert_int_equal(look4(c, "192.0.2.1"), 7);
	assert_int_equal(look6(c, "fe80::1"), 7);
	/* bad networks */
	assert_int_equal(vdr_net_cfg_map(c, "10.1.2.3/16", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bits set"));
	assert_int_equal(vdr_net_cfg_map(c, "10.0.0.0/33", 1, err, sizeof(err)), -1);
	assert_int_equal(vdr_net_cfg_map(c, "host.example", 1, err, sizeof(err)), -1);
	assert_int_equal(vdr_net_cfg_map(c, "10.0.0.0/", 1, err, sizeof(err)), -1);
	assert_int_equal(vdr_net_cfg_map(c, "10.0.0.0/8", 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another source"));
	vdr_net_cfg_free(c);
}

/* The longest prefix, by a plain scan: the rule vdr_net_lookup() keeps. */
static int reference(const struct vdr_net_cfg *c, int family, const uint8_t *ip)
{
	int best = c->default_src;
	int best_len = -1;
	for (unsigned i = 0; i < c->n_map; i++) {
		const struct vdr_prefix *p = &c->map[i].net;
		unsigned full = p->plen / 8, rest = p->plen % 8;
		if (p->family != family || (int)p->plen <= best_len ||
		    memcmp(p->ip, ip, full) != 0 ||
		    (rest && ((p->ip[full] ^ ip[full]) & (0xff << (8 - rest)))))
			continue;
		best = c->map[i].src;
		best_len = (int)p->plen;
	}
	return best;
}

/* Many random networks of every length, IPv4 and IPv6, and random
 * senders near them: the sorted lookup says what the scan says. */
static void test_lookup_random(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_non_null(c);
	srand(7);
	char txt[80], a[INET6_ADDRSTRLEN];
	uint8_t base[2][16];
	for (int f = 0; f < 2; f++)
		for (int b = 0; b < 16; b++)
			base[f][b] = (uint8_t)rand();
	unsigned added = 0;
	for (int i = 0; i < 3000; i++) {
		int fam = i % 2 ? AF_INET6 : AF_INET;
		unsigned bytes = fam == AF_INET ? 4 : 16, max = bytes * 8;
		uint8_t ip[16] = { 0 };
		memcpy(ip, base[i % 2], bytes);
		/* near each other: random low bits under a shared top */
		for (unsigned b = bytes / 2; b < bytes; b++)
			ip[b] = (uint8_t)rand();
		unsigned plen = (unsigned)rand() % (max + 1);
		for (unsigned b = 0; b < bytes; b++) {
			unsigned keep = plen > b * 8 ? plen - b * 8 : 0;
			ip[b] &= keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
		}
		inet_ntop(fam, ip, a, sizeof(a));
		snprintf(txt, sizeof(txt), "%s/%u", a, plen);
		if (vdr_net_cfg_map(c, txt, (uint16_t)(i % 50), err, sizeof(err)) == 0)
			added++;
	}
	assert_true(added > 1000);
	vdr_net_cfg_default_source(c, 99);
	for (int i = 0; i < 20000; i++) {
		int fam = i % 2 ? AF_INET6 : AF_INET;
		unsigned bytes = fam == AF_INET ? 4 : 16;
		uint8_t ip[16] = { 0 };
		memcpy(ip, base[i % 2], bytes);
		for (unsigned b = bytes / 2; b < bytes; b++)
			ip[b] = (uint8_t)rand();
		if (i % 7 == 0)
			ip[0] ^= 0x80; /* far from all of them */
		assert_int_equal(vdr_net_lookup(c, fam, ip), reference(c, fam, ip));
	}
	vdr_net_cfg_free(c);
}

static void test_socket_config(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_null(vdr_net_cfg_driver(c));
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0); /* none */
	assert_true(vdr_net_cfg_section("network"));
	assert_true(vdr_net_cfg_section("listen a"));
	assert_true(vdr_net_cfg_section("upstream b"));
	assert_true(vdr_net_cfg_section("port c"));
	assert_false(vdr_net_cfg_section("source a"));
	assert_false(vdr_net_cfg_section("listener"));

	assert_int_equal(set(c, "network", "driver", "socket"), 0);
	assert_string_equal(vdr_net_cfg_driver(c), "socket");
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[listen NAME]"));
	assert_int_equal(set(c, "listen udp", "address", "0.0.0.0:514"), 0);
	assert_int_equal(c->listen[0].proto, VDR_UDP); /* the default */
	assert_int_equal(set(c, "listen tls", "protocol", "tls"), 0);
	assert_int_equal(set(c, "listen tls", "address", "[::1]:6514"), 0);
	assert_int_equal(c->listen[1].addr.ss_family, AF_INET6);
	assert_int_equal(c->listen[1].framing, VDP_FRAME_TCP_AUTO);
	assert_int_equal(set(c, "listen tls", "framing", "octet-counting"), 0);
	assert_int_equal(c->listen[1].framing, VDP_FRAME_OCTET_COUNT);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls_cert and tls_key"));
	assert_int_equal(set(c, "listen tls", "tls_cert", "/nonexistent/cert.pem"), 0);
	assert_int_equal(set(c, "listen tls", "tls_key", "/nonexistent/key.pem"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/cert.pem"));
	assert_int_equal(set(c, "listen tls", "tls_cert", "/dev/null"), 0);
	assert_int_equal(set(c, "listen tls", "tls_key", "/dev/null"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[upstream NAME]"));
	assert_int_equal(set(c, "upstream siem", "protocol", "tls"), 0);
	assert_int_equal(set(c, "upstream siem", "address", "siem.example.net:6514"), 0);
	assert_false(c->up[0].numeric);
	assert_true(c->up[0].tls_verify);
	assert_int_equal(c->up[0].framing, VDP_FRAME_OCTET_COUNT);
	assert_int_equal(set(c, "upstream siem", "tls_verify", "no"), 0);
	assert_false(c->up[0].tls_verify);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	assert_int_equal(set(c, "upstream raw", "address", "[2001:db8::5]:514"), 0);
	assert_true(c->up[1].numeric);
	assert_int_equal(set(c, "upstream raw", "tls_ca", "/dev/null"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "need protocol = tls"));
	assert_int_equal(set(c, "upstream raw", "protocol", "tls"), 0);
	assert_int_equal(set(c, "upstream raw", "tls_cert", "/dev/null"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both tls_cert and tls_key"));
	assert_int_equal(set(c, "upstream raw", "tls_key", "/dev/null"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);

	/* [network] numbers and sizes */
	assert_int_equal(set(c, "network", "queue_bytes", "16M"), 0);
	assert_int_equal(c->queue_bytes, 16u << 20);
	assert_int_equal(set(c, "network", "idle_timeout", "30"), 0);
	assert_true(c->idle_timeout == 30);
	assert_int_equal(set(c, "network", "idle_timeout", "0"), -1);
	assert_int_equal(set(c, "network", "max_connections", "lots"), -1);
	assert_int_equal(set(c, "network", "reconnect_min", "10"), 0);
	assert_int_equal(set(c, "network", "reconnect_max", "5"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_int_equal(set(c, "network", "driver", "netmap"), -1);
	assert_int_equal(set(c, "network", "colour", "blue"), -1);
	assert_non_null(strstr(err, "unknown key"));

	/* bad values */
	assert_int_equal(set(c, "listen x", "address", "::1:514"), -1);
	assert_int_equal(set(c, "listen x", "address", "0.0.0.0:0"), -1);
	assert_int_equal(set(c, "listen x", "address", "0.0.0.0:65536"), -1);
	assert_int_equal(set(c, "listen x", "address", "localhost:514"), -1);
	assert_int_equal(set(c, "listen x", "protocol", "sctp"), -1);
	assert_int_equal(set(c, "listen x", "framing", "cr"), -1);
	assert_int_equal(set(c, "upstream y", "framing", "auto"), -1);
	assert_int_equal(set(c, "upstream y", "tls_verify", "maybe"), -1);
	/* what a full queue does: the defaults, and sizes whose number alone
	 * is below the range (64M of a key from 1M up) */
	assert_int_equal(vdr_upstream_on_full(c, &c->up[1]), VDR_FULL_BLOCK);
	assert_int_equal(set(c, "upstream raw", "on_queue_full", "spool"), 0);
	assert_int_equal(vdr_upstream_on_full(c, &c->up[1]), VDR_FULL_SPOOL);
	assert_int_equal(set(c, "upstream raw", "on_queue_full", "wait"), -1);
	assert_int_equal(set(c, "upstream raw", "spool_bytes", "64M"), 0);
	assert_true(c->up[1].spool_bytes == 64u << 20);
	assert_int_equal(set(c, "upstream raw", "spool_bytes", "64"), -1);
	assert_int_equal(set(c, "listen", "address", "0.0.0.0:514"), -1);
	/* [port] is the dpdk driver's */
	assert_int_equal(set(c, "port p0", "device", "net_pcap0"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	vdr_net_cfg_free(c);
}

/* protocol = relp: an upstream's, not a listener's; no tls_* keys. */
static void test_relp_config(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_int_equal(set(c, "network", "driver", "socket"), 0);
	assert_int_equal(set(c, "listen t", "protocol", "relp"), -1);
	assert_non_null(strstr(err, "not udp, tcp or tls"));
	assert_int_equal(set(c, "listen t", "protocol", "tcp"), 0);
	assert_int_equal(set(c, "listen t", "address", "127.0.0.1:514"), 0);
	assert_int_equal(set(c, "upstream r", "protocol", "relp"), 0);
	assert_int_equal(c->up[0].proto, VDR_RELP);
	assert_int_equal(set(c, "upstream r", "address", "collector.example.net:2514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	/* it blocks by default, as TCP does */
	assert_int_equal(vdr_upstream_on_full(c, &c->up[0]), VDR_FULL_BLOCK);
	char buf[512];
	vdr_net_cfg_describe(c, buf, sizeof(buf));
	assert_non_null(strstr(buf, "relp collector.example.net:2514"));
	assert_int_equal(set(c, "upstream r", "tls_ca", "/dev/null"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "need protocol = tls"));
	assert_int_equal(set(c, "upstream r", "protocol", "sctp"), -1);
	assert_non_null(strstr(err, "udp, tcp, tls or relp"));
	vdr_net_cfg_free(c);
}

static void test_dpdk_config(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_int_equal(set(c, "network", "driver", "dpdk"), 0);
	assert_int_equal(set(c, "upstream u", "address", "192.0.2.50:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[port NAME]"));
	assert_int_equal(set(c, "port p0", "device", "net_pcap0"), 0);
	struct vdr_port_cfg *p = &c->port[0];
	assert_int_equal(p->mtu, 1500);
	assert_int_equal(p->n_listen_ports, 1);
	assert_int_equal(p->listen_ports[0], 514);
	assert_string_equal(p->exception, "veil-p0");
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_int_equal(set(c, "port p0", "address",
			     "192.0.2.10/24, 2001:db8::10/64"), 0);
	assert_int_equal(p->n_addr, 2);
	assert_int_equal(p->addr[1].family, AF_INET6);
	assert_int_equal(p->addr[1].plen, 64);
	assert_int_equal(set(c, "port p0", "udp_ports", "514,1514 , 5514"), 0);
	assert_int_equal(p->n_listen_ports, 3);
	assert_int_equal(p->listen_ports[2], 5514);
	assert_int_equal(set(c, "port p0", "udp_ports", "0"), -1);
	assert_int_equal(set(c, "port p0", "vlan", "100"), 0);
	assert_int_equal(set(c, "port p0", "vlan", "4095"), -1);
	assert_int_equal(set(c, "port p0", "mtu", "9000"), 0);
	assert_int_equal(set(c, "port p0", "mtu", "20000"), -1);
	assert_int_equal(set(c, "port p0", "next_hop_mac", "02:00:00:00:00:01"), 0);
	assert_true(p->has_next_hop_mac);
	assert_int_equal(p->next_hop_mac[5], 1);
	assert_int_equal(set(c, "port p0", "next_hop_mac", "02:00:00:00:00"), -1);
	assert_int_equal(set(c, "port p0", "gateway", "192.0.2.1"), 0);
	assert_int_equal(set(c, "port p0", "gateway", "192.0.2.0/24"), -1);
	assert_int_equal(set(c, "port p0", "queues", "2"), 0);
	assert_int_equal(set(c, "port p0", "exception", "none"), 0);
	assert_int_equal(set(c, "port p0", "exception", "a/b"), -1);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	/* UDP arrives on the port; a name cannot be sent to from the port */
	assert_int_equal(set(c, "listen u", "address", "0.0.0.0:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "udp_ports"));
	assert_int_equal(set(c, "listen u", "protocol", "tcp"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	assert_int_equal(set(c, "upstream n", "address", "collector.example:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a name"));
	assert_int_equal(set(c, "upstream n", "protocol", "tcp"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	char desc[1024];
	vdr_net_cfg_describe(c, desc, sizeof(desc));
	assert_non_null(strstr(desc, "port p0: net_pcap0, 192.0.2.10/24"));
	assert_non_null(strstr(desc, "upstream u: udp 192.0.2.50:514"));
	vdr_net_cfg_free(c);
}

/* A UDP upstream of the dpdk driver leaves by the port that has an
 * address of its family (on its network if one is): with exception =
 * none and no next_hop_mac, its next hop can never be learnt, and the
 * lines would have gone out of an unbound kernel socket by the host's
 * routes. Refused at the check (-n), naming the port. */
static void test_dpdk_next_hop_needed(void **state)
{
	(void)state;
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_int_equal(set(c, "network", "driver", "dpdk"), 0);
	assert_int_equal(set(c, "port a", "device", "net_pcap0"), 0);
	assert_int_equal(set(c, "port a", "address", "192.0.2.10/24"), 0);
	assert_int_equal(set(c, "port a", "exception", "none"), 0);
	assert_int_equal(set(c, "port b", "device", "net_pcap1"), 0);
	assert_int_equal(set(c, "port b", "address", "198.51.100.10/24"), 0);
	/* off both networks: the first port with an IPv4 address, a */
	assert_int_equal(set(c, "upstream far", "address", "203.0.113.5:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[upstream far]"));
	assert_non_null(strstr(err, "[port a]"));
	assert_non_null(strstr(err, "next_hop_mac"));
	assert_non_null(strstr(err, "gateway"));
	assert_int_equal(set(c, "port a", "next_hop_mac", "02:00:00:00:00:01"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	/* on b's network: b, which has its exception interface (the default) */
	assert_int_equal(set(c, "upstream near", "address", "198.51.100.20:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	assert_int_equal(set(c, "port b", "exception", "none"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[upstream near]"));
	assert_non_null(strstr(err, "[port b]"));
	assert_non_null(strstr(err, "collector"));
	/* TCP goes through the kernel's own stack: not concerned */
	assert_int_equal(set(c, "upstream near", "protocol", "tcp"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);
	/* IPv6 to a port set without an IPv6 address */
	assert_int_equal(set(c, "upstream six", "address", "[2001:db8::5]:514"), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IPv6"));
	vdr_net_cfg_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_random),
		cmocka_unit_test(test_socket_config),
		cmocka_unit_test(test_relp_config),
		cmocka_unit_test(test_dpdk_config),
		cmocka_unit_test(test_dpdk_next_hop_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
