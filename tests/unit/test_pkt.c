/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The dpdk driver's frame classifier and header builder (drivers/pkt.h)
 * on frames crafted here byte by byte: IPv4 (options, fragments, zero
 * checksum), IPv6 (extension headers, fragment header, atomic fragments),
 * 802.1Q and 802.1ad tags, bad checksums, bad lengths, runts, junk, and
 * what is not ours. The builder's output is parsed back and its checksums
 * recomputed with the RFC 1071 sum written out here, independently.
 * Then the dpdk driver on net_ring vdevs (EAL without hugepages): the
 * reassembly table's bound, the senders' networks.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "pkt.h"
#include "veil_driver.h"

static const char MSG[] = "<34>Oct 11 22:14:15 host su: 'su root' failed";

/* RFC 1071, the obvious way */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t udp_sum(int fam, const uint8_t *src, const uint8_t *dst,
			const uint8_t *udp, size_t ulen)
{
	size_t al = fam == AF_INET ? 4 : 16;
	uint32_t s = sum16(src, al, 0);
	s = sum16(dst, al, s);
	s += IPPROTO_UDP + (uint32_t)ulen;
	return fold(sum16(udp, ulen, s));
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct mk {
	int fam;
	unsigned vlans;          /* 0, 1 or 2 tags */
	uint16_t vid[2];         /* outer, inner */
	uint16_t outer_type;     /* 0x8100 or 0x88a8 */
	unsigned v4_opt_words;   /* IPv4 options, 4 bytes each */
	uint16_t frag;           /* IPv4: the flags+offset field; IPv6 below */
	bool v6_frag;            /* a fragment header */
	uint16_t v6_fo;          /* its offset/M field */
	unsigned v6_exts;        /* hop-by-hop then destination options */
	uint8_t proto;
	uint8_t dst[16];
	uint16_t dport;
	bool zero_udp_csum, bad_udp_csum, bad_ip_csum;
	size_t pad;              /* Ethernet padding after the datagram */
	const char *payload;     /* NULL: MSG */
};

static const uint8_t SRC4[4] = { 198, 51, 100, 7 };
static const uint8_t US4[4] = { 192, 0, 2, 10 };
static uint8_t SRC6[16], US6[16];

static struct pkt_local local(uint16_t vlan)
{
	struct pkt_local l = { .vlan = vlan, .n_addr = 2, .n_ports = 2,
			       .ports = { 514, 1514 } };
	l.addr[0].family = AF_INET;
	memcpy(l.addr[0].ip, US4, 4);
	l.addr[1].family = AF_INET6;
	memcpy(l.addr[1].ip, US6, 16);
	return l;
}

static struct mk mk4(void)
{
	struct mk m = { .fam = AF_INET, .proto = IPPROTO_UDP, .dport = 514 };
	memcpy(m.dst, US4, 4);
	return m;
}

static struct mk mk6(void)
{
	struct mk m = { .fam = AF_INET6, .proto = IPPROTO_UDP, .dport = 514 };
	memcpy(m.dst, US6, 16);
	return m;
}

/* A frame carrying MSG (or m->payload); @return its length, *poff the
 * payload offset. */
static size_t build(uint8_t *f, const struct mk *m, size_t *poff)
{
	const char *msg = m->payload != NULL ? m->payload : MSG;
	size_t plen = strlen(msg), o = 12;
	memset(f, 0, 2048);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	for (unsigned i = 0; i < m->vlans; i++) {
		put16(f + o, i == 0 && m->vlans == 2 ? m->outer_type : 0x8100);
		put16(f + o + 2, m->vid[m->vlans == 2 ? i : 1]);
		o += 4;
	}
	put16(f + o, m->fam == AF_INET ? 0x0800 : 0x86dd);
	o += 2;
	uint8_t *ip = f + o, *u;
	size_t ulen = 8 + plen;
	const uint8_t *src = m->fam == AF_INET ? SRC4 : SRC6;
	if (m->fam == AF_INET) {
		size_t ihl = 20 + 4 * m->v4_opt_words;
		ip[0] = (uint8_t)(0x40 | ihl / 4);
		put16(ip + 2, (unsigned)(ihl + ulen));
		put16(ip + 4, 0x1234);
		put16(ip + 6, m->frag);
		ip[8] = 64;
		ip[9] = m->proto;
		memcpy(ip + 12, SRC4, 4);
		memcpy(ip + 16, m->dst, 4);
		for (unsigned i = 0; i < m->v4_opt_words; i++)
			ip[20 + 4 * i] = 1; /* NOP options */
		put16(ip + 10, fold(sum16(ip, ihl, 0)) ^ (m->bad_ip_csum ? 1 : 0));
		u = ip + ihl;
	} else {
		size_t eh = 8 * m->v6_exts + (m->v6_frag ? 8 : 0);
		ip[0] = 0x60;
		put16(ip + 4, (unsigned)(eh + ulen));
		ip[7] = 64;
		memcpy(ip + 8, SRC6, 16);
		memcpy(ip + 24, m->dst, 16);
		uint8_t *nh = ip + 6, *e = ip + 40;
		if (m->v6_frag) {
			*nh = IPPROTO_FRAGMENT;
			nh = e;
			put16(e + 2, m->v6_fo);
			memcpy(e + 4, "\0\0\0\x2a", 4);
			e += 8;
		}
		for (unsigned i = 0; i < m->v6_exts; i++) {
			*nh = i == 0 && !m->v6_frag ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS;
			nh = e;
			e[1] = 0;     /* 8 bytes */
			e[2] = 1;     /* PadN */
			e[3] = 4;
			e += 8;
		}
		*nh = m->proto;
		u = e;
	}
	put16(u, 40000);
	put16(u + 2, m->dport);
	put16(u + 4, (unsigned)ulen);
	memcpy(u + 8, msg, plen);
	if (!m->zero_udp_csum) {
		uint16_t c = udp_sum(m->fam, src, m->dst, u, ulen);
		put16(u + 6, (c == 0 ? 0xffff : c) ^ (m->bad_udp_csum ? 0x100 : 0));
	}
	*poff = (size_t)(u + 8 - f);
	return (size_t)(u + ulen - f) + m->pad;
}

static enum pkt_class classify(const struct mk *m, uint16_t port_vlan,
			       struct pkt_info *pi)
{
	static uint8_t f[2048];
	size_t poff;
	size_t len = build(f, m, &poff);
	struct pkt_local l = local(port_vlan);
	enum pkt_class c = pkt_classify(f, len, &l, 0, pi);
	if (c == PKT_SYSLOG) {
		assert_int_equal(pi->payload_off, poff);
		assert_int_equal(pi->payload_len, strlen(MSG));
		assert_memory_equal(f + pi->payload_off, MSG, strlen(MSG));
	}
	return c;
}

static void test_ipv4(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk4();
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	assert_int_equal(pi.family, AF_INET);
	assert_memory_equal(pi.src, SRC4, 4);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 514);
	assert_int_equal(pi.l2_len, 14);
	assert_int_equal(pi.l3_len, 20);
	m.dport = 1514;
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	m = mk4();
	m.v4_opt_words = 3;
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	assert_int_equal(pi.l3_len, 32);
	m = mk4();
	m.zero_udp_csum = true; /* no checksum: allowed over IPv4 */
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	m = mk4();
	m.pad = 17; /* Ethernet padding after the datagram */
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
}

static void test_ipv4_bad(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk4();
	m.bad_ip_csum = true;
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_checksum);
	assert_string_equal(pkt_drop_name(pi.drop), "bad_ip_checksum");
	m = mk4();
	m.bad_udp_csum = true;
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_udp_checksum);

	/* lengths: the IP total beyond the frame, UDP beyond IP, UDP < 8 */
	uint8_t f[2048];
	size_t poff, len = build(f, &(struct mk){ .fam = AF_INET,
		.proto = IPPROTO_UDP, .dport = 514, .dst = { 192, 0, 2, 10 } }, &poff);
	struct pkt_local l = local(0);
	assert_int_equal(pkt_classify(f, len - 1, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
	uint8_t g[2048];
	memcpy(g, f, len);
	put16(g + 14 + 20 + 4, (unsigned)(len - 14 - 20 + 1));
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
	memcpy(g, f, len);
	put16(g + 14 + 20 + 4, 7);
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
	/* a shorter UDP length than the IP payload is checked as given */
	memcpy(g, f, len);
	put16(g + 14 + 20 + 4, (unsigned)(len - 14 - 20 - 1));
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_udp_checksum);
	/* a header length under 20, a version that is not 4 */
	memcpy(g, f, len);
	g[14] = 0x44;
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_header);
	memcpy(g, f, len);
	g[14] = 0x55;
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_header);
	/* a total length under the header */
	memcpy(g, f, len);
	put16(g + 14 + 2, 19);
	put16(g + 14 + 10, 0);
	put16(g + 14 + 10, fold(sum16(g + 14, 20, 0)));
	assert_int_equal(pkt_classify(g, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
	/* the NIC said the checksums are good: not checked again */
	m = mk4();
	m.bad_udp_csum = true;
	len = build(f, &m, &poff);
	assert_int_equal(pkt_classify(f, len, &l, PKT_F_L4_CSUM_GOOD, &pi),
			 PKT_SYSLOG);
}

static void test_runts(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct pkt_local l = local(0);
	uint8_t f[2048];
	size_t poff, len = build(f, &(struct mk){ .fam = AF_INET,
		.proto = IPPROTO_UDP, .dport = 514, .dst = { 192, 0, 2, 10 } }, &poff);
	for (size_t n = 0; n < 14 + 20; n++) {
		assert_int_equal(pkt_classify(f, n, &l, 0, &pi), PKT_DROP);
		assert_int_equal(pi.drop, PKT_DROP_runt);
	}
	for (size_t n = 14 + 20; n < len; n++) {
		assert_int_equal(pkt_classify(f, n, &l, 0, &pi), PKT_DROP);
		assert_int_equal(pi.drop, PKT_DROP_bad_length);
	}
	struct mk m = mk6();
	len = build(f, &m, &poff);
	for (size_t n = 14; n < 14 + 40; n++) {
		assert_int_equal(pkt_classify(f, n, &l, 0, &pi), PKT_DROP);
		assert_int_equal(pi.drop, PKT_DROP_runt);
	}
	m.vlans = 1;
	m.vid[1] = 5;
	len = build(f, &m, &poff);
	l = local(5);
	assert_int_equal(pkt_classify(f, 16, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_runt);
	assert_int_equal(pkt_classify(f, len, &l, 0, &pi), PKT_SYSLOG);
}

static void test_ipv6(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk6();
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	assert_int_equal(pi.family, AF_INET6);
	assert_memory_equal(pi.src, SRC6, 16);
	assert_int_equal(pi.l3_len, 40);
	m.v6_exts = 2; /* hop-by-hop, destination options */
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	assert_int_equal(pi.l3_len, 56);
	m = mk6();
	m.zero_udp_csum = true; /* mandatory over IPv6 */
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_udp_checksum);
	m = mk6();
	m.bad_udp_csum = true;
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_udp_checksum);
	/* an atomic fragment (RFC 6946) is a whole datagram */
	m = mk6();
	m.v6_frag = true;
	m.v6_fo = 0;
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	/* too many extension headers; hop-by-hop only first */
	m = mk6();
	m.v6_exts = 9;
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_header);
	/* an extension header past the payload */
	uint8_t f[2048];
	size_t poff;
	m = mk6();
	m.v6_exts = 1;
	size_t len = build(f, &m, &poff);
	struct pkt_local l = local(0);
	f[14 + 40 + 1] = 200;
	assert_int_equal(pkt_classify(f, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
	/* version, payload length beyond the frame */
	m = mk6();
	len = build(f, &m, &poff);
	f[14] = 0x40;
	assert_int_equal(pkt_classify(f, len, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_header);
	len = build(f, &m, &poff);
	assert_int_equal(pkt_classify(f, len - 1, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_length);
}

static void test_fragments(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk4();
	m.frag = 0x2000; /* MF */
	assert_int_equal(classify(&m, 0, &pi), PKT_FRAGMENT);
	assert_int_equal(pi.l3_len, 20);
	m.frag = 100; /* an offset, last */
	assert_int_equal(classify(&m, 0, &pi), PKT_FRAGMENT);
	m.frag = 0x4000; /* DF alone: whole */
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	m.frag = 0x2000; /* to someone else, or not UDP: the kernel's */
	m.dst[3] = 11;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	m = mk4();
	m.frag = 0x2000;
	m.proto = IPPROTO_ICMP;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	/* a bad header checksum is checked on fragments too */
	m = mk4();
	m.frag = 0x2000;
	m.bad_ip_csum = true;
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_checksum);

	m = mk6();
	m.v6_frag = true;
	m.v6_fo = 1; /* M */
	assert_int_equal(classify(&m, 0, &pi), PKT_FRAGMENT);
	assert_int_equal(pi.frag_hdr_off, 14 + 40);
	assert_int_equal(pi.l3_len, 48);
	m.v6_fo = 8 << 3; /* offset 64, last */
	assert_int_equal(classify(&m, 0, &pi), PKT_FRAGMENT);
	/* a fragment whose next header is an extension header: it may be
	 * UDP to us, reassembled here (the kernel never gets our syslog) */
	m = mk6();
	m.v6_frag = true;
	m.v6_fo = 1;
	m.v6_exts = 1; /* the fragment header, then destination options */
	assert_int_equal(classify(&m, 0, &pi), PKT_FRAGMENT);
	assert_int_equal(pi.l3_len, 48);
	/* a fragment of another protocol: the kernel's */
	m.v6_exts = 0;
	m.proto = IPPROTO_TCP;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	/* a fragment header after hop-by-hop: rte_ip_frag cannot reassemble
	 * it, and it may be syslog for us: dropped, never the kernel's */
	uint8_t f[2048];
	size_t poff;
	m = mk6();
	m.v6_exts = 1;
	size_t len = build(f, &m, &poff);
	uint8_t *hbh = f + 14 + 40;
	memmove(hbh + 16, hbh + 8, len - (14 + 40 + 8));
	hbh[0] = IPPROTO_FRAGMENT;
	memset(hbh + 8, 0, 8);
	hbh[8] = IPPROTO_UDP;
	hbh[11] = 1; /* M */
	put16(f + 14 + 4, (unsigned)(len - 14 - 40 + 8));
	struct pkt_local l = local(0);
	assert_int_equal(pkt_classify(f, len + 8, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_ip_header);
	/* ... unless what it fragments is not UDP */
	hbh[8] = IPPROTO_ICMPV6;
	assert_int_equal(pkt_classify(f, len + 8, &l, 0, &pi), PKT_EXCEPTION);
}

static void test_vlan(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk4();
	m.vlans = 1;
	m.vid[1] = 100;
	assert_int_equal(classify(&m, 100, &pi), PKT_SYSLOG);
	assert_int_equal(pi.l2_len, 18);
	assert_int_equal(pi.n_vlan, 1);
	assert_int_equal(classify(&m, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_vlan);
	assert_int_equal(classify(&m, 101, &pi), PKT_DROP);
	/* priority tag on an untagged port */
	m.vid[1] = 0;
	assert_int_equal(classify(&m, 0, &pi), PKT_SYSLOG);
	/* untagged frame on a tagged port */
	m = mk6();
	assert_int_equal(classify(&m, 100, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_vlan);
	/* QinQ: the inner tag is the port's */
	m = mk6();
	m.vlans = 2;
	m.outer_type = 0x88a8;
	m.vid[0] = 300;
	m.vid[1] = 100;
	assert_int_equal(classify(&m, 100, &pi), PKT_SYSLOG);
	assert_int_equal(pi.l2_len, 22);
	assert_int_equal(pi.n_vlan, 2);
	m.outer_type = 0x8100;
	assert_int_equal(classify(&m, 100, &pi), PKT_SYSLOG);
	/* three tags */
	uint8_t f[2048];
	size_t poff, len = build(f, &m, &poff);
	memmove(f + 16, f + 12, len - 12);
	put16(f + 12, 0x88a8);
	put16(f + 14, 7);
	struct pkt_local l = local(100);
	assert_int_equal(pkt_classify(f, len + 4, &l, 0, &pi), PKT_DROP);
	assert_int_equal(pi.drop, PKT_DROP_bad_vlan);
}

static void test_not_ours(void **state)
{
	(void)state;
	struct pkt_info pi;
	struct mk m = mk4();
	m.dport = 53;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	m = mk4();
	m.dst[3] = 255;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	m = mk4();
	m.proto = IPPROTO_TCP;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	m = mk6();
	m.dst[0] = 0xff; /* multicast (neighbour discovery) */
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	m = mk6();
	m.proto = 58; /* ICMPv6 */
	m.v6_exts = 1;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);
	/* a UDP port of someone else: its checksum is the kernel's concern */
	m = mk4();
	m.dport = 53;
	m.bad_udp_csum = true;
	assert_int_equal(classify(&m, 0, &pi), PKT_EXCEPTION);

	/* ARP, and junk of every length */
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2,
			    0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };
	struct pkt_local l = local(0);
	assert_int_equal(pkt_classify(arp, sizeof(arp), &l, 0, &pi), PKT_EXCEPTION);
	assert_int_equal(pi.ether_type, 0x0806);
	assert_int_equal(pi.family, 0);
	uint8_t junk[256];
	srand(7);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)rand() % sizeof(junk);
		for (size_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rand();
		if (round & 1)
			put16(junk + 12, round & 2 ? 0x0800 : 0x86dd);
		uint8_t *copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, junk, n);
		enum pkt_class c = pkt_classify(copy, n, &l, 0, &pi);
		if (c == PKT_SYSLOG)
			assert_true(pi.payload_off + pi.payload_len <= n);
		free(copy);
	}
}

static void check_built(const uint8_t *f, size_t len, int fam, uint16_t vlan)
{
	struct pkt_info pi;
	struct pkt_local l = local(vlan);
	assert_int_equal(pkt_classify(f, len, &l, 0, &pi), PKT_SYSLOG);
	assert_int_equal(pi.payload_len, strlen(MSG));
	assert_memory_equal(f + pi.payload_off, MSG, strlen(MSG));
	assert_int_equal(pi.dport, 514);
	assert_int_equal(pi.sport, 1514);
	size_t l3 = pi.l2_len;
	const uint8_t *u = f + pi.payload_off - 8;
	if (fam == AF_INET) {
		assert_int_equal(fold(sum16(f + l3, 20, 0)), 0);
		assert_int_equal(udp_sum(fam, f + l3 + 12, f + l3 + 16, u,
					 8 + strlen(MSG)), 0);
	} else
		assert_int_equal(udp_sum(fam, f + l3 + 8, f + l3 + 24, u,
					 8 + strlen(MSG)), 0);
}

static void test_build(void **state)
{
	(void)state;
	uint8_t f[2048];
	for (int k = 0; k < 4; k++) {
		int fam = k & 1 ? AF_INET6 : AF_INET;
		uint16_t vlan = k & 2 ? 100 : 0;
		struct pkt_hdr_spec s = { .vlan = vlan, .family = fam,
					  .sport = 514, .dport = 1514, .ttl = 64,
					  .ip_id = 77 };
		/* to us from 198.51.100.7, so that it classifies as ours */
		memcpy(s.dst_mac, "\x02\0\0\0\0\x01", 6);
		memcpy(s.src_mac, "\x02\0\0\0\0\x02", 6);
		memcpy(s.src, fam == AF_INET ? SRC4 : SRC6, fam == AF_INET ? 4 : 16);
		memcpy(s.dst, fam == AF_INET ? US4 : US6, fam == AF_INET ? 4 : 16);
		s.sport = 1514;
		s.dport = 514;
		size_t hl = pkt_build_hdr(f, sizeof(f), &s, (const uint8_t *)MSG,
					  strlen(MSG), 0);
		assert_int_equal(hl, pkt_hdr_len(&s));
		assert_int_equal(hl, 14u + (vlan ? 4 : 0) +
					     (fam == AF_INET ? 20 : 40) + 8);
		memcpy(f + hl, MSG, strlen(MSG));
		check_built(f, hl + strlen(MSG), fam, vlan);
		/* no room for the header */
		assert_int_equal(pkt_build_hdr(f, hl - 1, &s, NULL, 0, 0), 0);
	}
	/* offload flags leave the checksums zero */
	struct pkt_hdr_spec s = { .family = AF_INET, .sport = 1, .dport = 2 };
	size_t hl = pkt_build_hdr(f, sizeof(f), &s, (const uint8_t *)MSG,
				  strlen(MSG), PKT_B_NO_IP_CSUM | PKT_B_NO_UDP_CSUM);
	assert_int_equal(hl, 42);
	assert_int_equal(f[24] | f[25], 0);
	assert_int_equal(f[40] | f[41], 0);
	/* too long for the length fields */
	static uint8_t big[70000];
	assert_int_equal(pkt_build_hdr(f, sizeof(f), &s, big, 65536 - 8, 0), 0);
	s.family = AF_INET6;
	assert_int_equal(pkt_build_hdr(f, sizeof(f), &s, big, 65535 - 8, 0), 62);
	assert_int_equal(pkt_build_hdr(f, sizeof(f), &s, big, 65536 - 8, 0), 0);
	s.family = 0;
	assert_int_equal(pkt_build_hdr(f, sizeof(f), &s, big, 1, 0), 0);
	/* pkt_udp_cksum agrees with the sum written here */
	for (size_t n = 0; n < 64; n++) {
		uint8_t u[80] = { 0 };
		put16(u + 4, (unsigned)(8 + n));
		for (size_t i = 0; i < n; i++)
			u[8 + i] = (uint8_t)(i * 37 + n);
		uint16_t c = pkt_udp_cksum(AF_INET6, SRC6, US6, u, 8 + n, false);
		memcpy(u + 6, &c, 2);
		assert_int_equal(udp_sum(AF_INET6, SRC6, US6, u, 8 + n), 0);
		assert_int_equal(pkt_udp_cksum(AF_INET6, SRC6, US6, u, 8 + n, true), 0);
		u[n ? 8 + n / 2 : 0] ^= 0x40;
		assert_int_not_equal(pkt_udp_cksum(AF_INET6, SRC6, US6, u, 8 + n,
						   true), 0);
	}
}

/* pkt_sum() against DPDK's own sum (__rte_raw_cksum, 16 bits a step) on
 * every length to 600 and longer ones, at every alignment, with carries
 * (all-ones data: sums of 0xffff multiples) and a starting sum; and the
 * UDP checksum of a datagram built with it against the independent one
 * of udp_sum() above. */
static void test_sum(void **state)
{
	(void)state;
	static uint8_t buf[9000 + 16];
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	static uint8_t ones[4096];
	memset(ones, 0xff, sizeof(ones));
	unsigned checked = 0;
	for (size_t len = 0; len < 9000; len += len < 600 ? 1 : 97)
		for (size_t off = 0; off < 16; off += len < 600 ? 1 : 5)
			for (unsigned k = 0; k < 3; k++) {
				const uint8_t *b = k == 1 && len <= sizeof(ones)
					? ones : buf + off;
				uint32_t start = k == 2 ? 0x00fe1234u : 0; /* rte: 32 bits */
				uint16_t want = __rte_raw_cksum_reduce(
					__rte_raw_cksum(b, len, start));
				uint16_t got = __rte_raw_cksum_reduce(
					pkt_sum(b, len, start));
				if (want != got)
					fail_msg("len %zu off %zu case %u: %04x != %04x",
						 len, off, k, got, want);
				checked++;
			}
	assert_true(checked > 29000);

	struct pkt_hdr_spec sp = { .family = AF_INET, .sport = 514, .dport = 5514,
				   .ttl = 64 };
	memcpy(sp.src, US4, 4);
	memcpy(sp.dst, SRC4, 4);
	for (size_t plen = 1; plen < 1400; plen += 37) {
		uint8_t h[128];
		size_t hl = pkt_build_hdr(h, sizeof(h), &sp, buf + 3, plen, 0);
		assert_true(hl > 0);
		static uint8_t dg[2048];
		memcpy(dg, h + hl - 8, 8);
		memcpy(dg + 8, buf + 3, plen);
		uint16_t stored = (uint16_t)(dg[6] << 8 | dg[7]);
		dg[6] = dg[7] = 0;
		uint16_t c = udp_sum(AF_INET, US4, SRC4, dg, plen + 8);
		assert_int_equal(stored, c == 0 ? 0xffff : c);
	}
}

/* ---- the dpdk driver on a ring port (rte_eth_from_rings) ---- */

/* EAL, once: net_ring0 and net_ring1, whose TX queue feeds their RX */
static void eal_up(void)
{
	static bool up;
	/* rte_eal_init() takes char **: writable copies of the options */
	static char a[][32] = { "test_pkt", "--no-huge", "-m", "256", "--no-pci",
				"--no-shconf", "--no-telemetry", "-l", "0",
				"--log-level=lib.eal:error", "--vdev=net_ring0",
				"--vdev=net_ring1", "--vdev=net_ring2" };
	char *eal[sizeof(a) / sizeof(a[0]) + 1];
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		eal[i] = a[i];
	eal[sizeof(a) / sizeof(a[0])] = NULL;
	if (!up)
		assert_true(rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1,
					 eal) >= 0);
	up = true;
}

static uint64_t xstat(struct vdr_driver *d, const char *name)
{
	const char *names[128];
	uint64_t vals[128];
	unsigned n = vdr_xstats(d, names, vals, 128);
	for (unsigned i = 0; i < n && i < 128; i++)
		if (!strcmp(names[i], name))
			return vals[i];
	fail_msg("no counter %s", name);
	return 0;
}

static void cfg_set(struct vdr_net_cfg *c, const char *sec, const char *k,
		    const char *v)
{
	char err[256] = "";
	if (vdr_net_cfg_set(c, sec, k, v, err, sizeof(err)) != 0)
		fail_msg("[%s] %s = %s: %s", sec, k, v, err);
}

/* A dpdk driver's config on the ring vdev @p dev ([port @p port]): our
 * address 192.0.2.10/24, syslog on 514, no exception interface, a fixed
 * next hop, small rings, one UDP upstream. */
static struct vdr_net_cfg *ring_cfg(const char *port, const char *dev)
{
	char sec[32];
	snprintf(sec, sizeof(sec), "port %s", port);
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_non_null(c);
	cfg_set(c, "network", "driver", "dpdk");
	cfg_set(c, sec, "device", dev);
	cfg_set(c, sec, "address", "192.0.2.10/24");
	cfg_set(c, sec, "udp_ports", "514");
	cfg_set(c, sec, "exception", "none");
	cfg_set(c, sec, "next_hop_mac", "02:00:00:00:00:01");
	cfg_set(c, sec, "rx_desc", "64");
	cfg_set(c, sec, "tx_desc", "64");
	cfg_set(c, "upstream u", "address", "192.0.2.50:514");
	return c;
}

/* The driver on @p c (checked first), and @p dev's port id. */
static struct vdr_driver *ring_start(struct vdr_net_cfg *c, const char *dev,
				     uint16_t *port)
{
	char err[256] = "";
	if (vdr_net_cfg_check(c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	struct vdr_driver *d = vdr_dpdk_new(c, 2048, 1, err, sizeof(err));
	if (d == NULL)
		fail_msg("vdr_dpdk_new: %s", err);
	assert_int_equal(rte_eth_dev_get_port_by_name(dev, port), 0);
	return d;
}

/* Frame @p f into ring queue @p q: what the driver's port receives next
 * on RX queue @p q. */
static void ring_send_q(struct rte_mempool *mp, uint16_t port, uint16_t q,
			const uint8_t *f, size_t len)
{
	struct rte_mbuf *mb = rte_pktmbuf_alloc(mp);
	assert_non_null(mb);
	memcpy(rte_pktmbuf_append(mb, (uint16_t)len), f, len);
	assert_int_equal(rte_eth_tx_burst(port, q, &mb, 1), 1);
}

static void ring_send(struct rte_mempool *mp, uint16_t port, const uint8_t *f,
		      size_t len)
{
	ring_send_q(mp, port, 0, f, len);
}

/* Incomplete datagrams (first and middle fragments, never the last)
 * wait in the reassembly table only up to the mbufs kept for them in
 * the port's pool (2 x frag_entries): the rest are dropped and counted,
 * or a sender could empty the pool and stop the port's RX. Every frame
 * is counted once (docs/network-dpdk.md). */
static void test_dpdk_frag_budget(void **state)
{
	(void)state;
	eal_up();
	struct rte_mempool *mp = rte_pktmbuf_pool_create("veil_t_mp", 1023, 0,
							 0, 2048, 0);
	assert_non_null(mp);

	struct vdr_net_cfg *c = ring_cfg("p0", "net_ring0");
	cfg_set(c, "network", "frag_entries", "16");
	char err[256] = "";
	assert_int_equal(vdr_net_cfg_map(c, "198.51.100.0/24", 0, err,
					 sizeof(err)), 0);
	uint16_t port;
	struct vdr_driver *d = ring_start(c, "net_ring0", &port);

	/* 16 datagrams (the table's entries), 7 fragments each (its most
	 * without the last): 112 fragments, over the 32 it may hold */
	unsigned sent = 0;
	for (unsigned id = 0; id < 16; id++)
		for (unsigned k = 0; k < 7; k++) {
			struct mk m = mk4();
			m.frag = (uint16_t)(0x2000 | k); /* MF, offset 8k */
			uint8_t f[2048];
			size_t poff, len = build(f, &m, &poff);
			uint8_t *ip = f + 14;
			put16(ip + 4, 0x100 + id);
			put16(ip + 10, 0);
			put16(ip + 10, fold(sum16(ip, 20, 0)));
			ring_send(mp, port, f, len);
			sent++;
		}
	struct vdp_line lines[64];
	for (int i = 0; i < 50; i++)
		assert_int_equal(vdr_rx(d, lines, 64), 0);
	assert_int_equal(xstat(d, "rx_packets"), sent);
	assert_int_equal(xstat(d, "rx_fragments"), sent);
	uint64_t pending = xstat(d, "frag_pending");
	printf("# %u fragments: %llu waiting, %llu table full, %llu bad\n", sent,
	       (unsigned long long)pending,
	       (unsigned long long)xstat(d, "drop_frag_table_full"),
	       (unsigned long long)xstat(d, "drop_frag_bad"));
	assert_true(pending <= 32);
	assert_int_equal(pending + xstat(d, "drop_frag_table_full") +
			 xstat(d, "drop_frag_bad") + xstat(d, "drop_frag_timeout"),
			 sent);
	vdr_free(d);
	vdr_net_cfg_free(c);
	rte_mempool_free(mp);
}

/* A sender network listed twice for its source (vdr_net_cfg_map()
 * allows it, and the socket driver takes it): the dpdk driver starts, and
 * a sender's source is its longest prefix. */
static void test_dpdk_sources(void **state)
{
	(void)state;
	eal_up();
	struct rte_mempool *mp = rte_pktmbuf_pool_create("veil_t_mp2", 63, 0,
							 0, 2048, 0);
	assert_non_null(mp);
	struct vdr_net_cfg *c = ring_cfg("p1", "net_ring1");
	char err[256] = "";
	assert_int_equal(vdr_net_cfg_map(c, "198.51.100.0/24", 0, err,
					 sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "198.51.100.0/28", 1, err,
					 sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "198.51.100.0/24", 0, err,
					 sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "2001:db8:1::/48", 2, err,
					 sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_map(c, "2001:db8:1::/48", 2, err,
					 sizeof(err)), 0);
	uint16_t port;
	struct vdr_driver *d = ring_start(c, "net_ring1", &port);
	struct mk m = mk4();
	uint8_t f[2048];
	size_t poff, len = build(f, &m, &poff);
	ring_send(mp, port, f, len);
	struct vdp_line lines[8];
	int n = 0;
	for (int i = 0; i < 50 && n == 0; i++)
		n = vdr_rx(d, lines, 8);
	assert_int_equal(n, 1);
	assert_int_equal(lines[0].src, 1); /* 198.51.100.7: the /28 */
	assert_int_equal(lines[0].len, strlen(MSG));
	assert_memory_equal(lines[0].data, MSG, strlen(MSG));
	vdr_free(d);
	vdr_net_cfg_free(c);
	rte_mempool_free(mp);
}

/* A syslog frame from 198.51.100.7 with payload @p text. */
static size_t frame_with(uint8_t *f, const char *text)
{
	struct mk m = mk4();
	m.payload = text;
	size_t poff;
	return build(f, &m, &poff);
}

/* Two workers: each polls its own RX queue and sends on its own TX queue
 * (net_ring: TX queue i loops back to RX queue i), has its own counters;
 * the device's are their sums, and it cannot be polled itself. */
static void test_dpdk_workers(void **state)
{
	(void)state;
	eal_up();
	struct rte_mempool *mp = rte_pktmbuf_pool_create("veil_t_mp3", 63, 0,
							 0, 2048, 0);
	assert_non_null(mp);
	struct vdr_net_cfg *c = ring_cfg("p2", "net_ring2");
	char err[256] = "";
	assert_int_equal(vdr_net_cfg_map(c, "198.51.100.0/24", 0, err,
					 sizeof(err)), 0);
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), 0);

	/* fewer queues than workers: refused with a sentence (before the
	 * port is touched) */
	cfg_set(c, "port p2", "queues", "1");
	assert_null(vdr_dpdk_new(c, 2048, 2, err, sizeof(err)));
	if (strstr(err, "queues = 1, fewer than the 2 workers") == NULL)
		fail_msg("%s", err);
	cfg_set(c, "port p2", "queues", "2");

	struct vdr_driver *d = vdr_dpdk_new(c, 2048, 2, err, sizeof(err));
	if (d == NULL)
		fail_msg("vdr_dpdk_new: %s", err);
	uint16_t port;
	assert_int_equal(rte_eth_dev_get_port_by_name("net_ring2", &port), 0);
	struct vdr_driver *w[2] = { vdr_dpdk_worker(d, 0), vdr_dpdk_worker(d, 1) };
	assert_non_null(w[0]);
	assert_non_null(w[1]);
	assert_ptr_not_equal(w[0], w[1]);
	assert_null(vdr_dpdk_worker(d, 2));
	assert_null(vdr_dpdk_worker(w[0], 0)); /* not a device */

	struct vdp_line lines[16];
	assert_int_equal(vdr_rx(d, lines, 16), VDR_ERR);
	assert_non_null(strstr(vdr_error(d), "2 workers"));

	/* 3 messages on queue 0, 5 on queue 1 */
	uint8_t f[2048];
	char text[64];
	for (unsigned i = 0; i < 8; i++) {
		unsigned q = i < 3 ? 0 : 1;
		snprintf(text, sizeof(text), "<14>queue %u message %u", q, i);
		ring_send_q(mp, port, (uint16_t)q, f, frame_with(f, text));
	}
	unsigned want[2] = { 3, 5 };
	for (unsigned q = 0; q < 2; q++) {
		int n = 0;
		for (int t = 0; t < 50 && n == 0; t++)
			n = vdr_rx(w[q], lines, 16);
		assert_int_equal(n, (int)want[q]);
		for (int i = 0; i < n; i++) {
			snprintf(text, sizeof(text), "<14>queue %u message %u", q,
				 (q == 0 ? 0 : 3) + (unsigned)i);
			assert_int_equal(lines[i].len, strlen(text));
			assert_memory_equal(lines[i].data, text, strlen(text));
		}
		assert_int_equal(vdr_rx(w[q], lines, 16), 0);
		assert_int_equal(xstat(w[q], "rx_packets"), want[q]);
		assert_int_equal(xstat(w[q], "rx_fast_path"), want[q]);
	}
	assert_int_equal(xstat(d, "rx_packets"), 8);
	assert_int_equal(xstat(d, "rx_fast_path"), 8);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_msgs, 8);

	/* worker 1 forwards 2 lines: they leave on TX queue 1 only */
	struct vdp_seg seg[2] = { { .p = "<14>out a", .len = 9 },
				  { .p = "<14>out b", .len = 9 } };
	struct vdp_burst b = { .n = 2, .segs = seg };
	for (unsigned i = 0; i < 2; i++)
		b.line[i] = (struct vdp_out){ .verdict = VDP_FORWARD, .n_segs = 1,
					      .first_seg = i, .len = 9 };
	assert_int_equal(vdr_tx(w[1], &b), 2);
	struct rte_mbuf *m[8];
	assert_int_equal(rte_eth_rx_burst(port, 0, m, 8), 0);
	uint16_t got = rte_eth_rx_burst(port, 1, m, 8);
	assert_int_equal(got, 2);
	for (unsigned i = 0; i < got; i++) {
		const uint8_t *e = rte_pktmbuf_mtod(m[i], const uint8_t *);
		assert_int_equal(rte_pktmbuf_pkt_len(m[i]), 14 + 20 + 8 + 9);
		assert_memory_equal(e + 14 + 16, "\xc0\x00\x02\x32", 4); /* .50 */
		assert_memory_equal(e + 42, i ? "<14>out b" : "<14>out a", 9);
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(xstat(w[1], "tx_datagrams"), 2);
	assert_int_equal(xstat(w[0], "tx_datagrams"), 0);
	assert_int_equal(xstat(d, "tx_datagrams"), 2);
	vdr_stats(d, &st);
	assert_int_equal(st.tx_msgs, 2);
	vdr_free(d);
	vdr_net_cfg_free(c);
	rte_mempool_free(mp);
}

int main(void)
{
	inet_pton(AF_INET6, "2001:db8:1::7", SRC6);
	inet_pton(AF_INET6, "2001:db8::10", US6);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv4_bad),
		cmocka_unit_test(test_runts),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_vlan),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_sum),
		cmocka_unit_test(test_dpdk_frag_budget),
		cmocka_unit_test(test_dpdk_sources),
		cmocka_unit_test(test_dpdk_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
