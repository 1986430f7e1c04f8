/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * libFuzzer target for the dpdk driver's frame classifier (drivers/pkt.c).
 *
 * Input: one byte of options (bit 0-1: the port's VLAN is none, 100 or
 * the frame's own; bit 2: the NIC checked the IP checksum; bit 3: the
 * datagram was reassembled), then the frame, as an exactly sized heap
 * copy so that ASan sees a read past it. The result must be coherent:
 * headers and payload inside the frame, a drop reason with a name. A
 * frame classified as syslog is rebuilt with pkt_build_hdr() from what the
 * classifier found (addresses, ports, VLAN, payload) and must classify
 * again as syslog with the same payload, its checksums verified.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                \
	do {                    \
		if (!(x))       \
			abort(); \
	} while (0)

static struct pkt_local local(uint16_t vlan)
{
	static const uint8_t v4[4] = { 192, 0, 2, 10 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };
	struct pkt_local l = { .vlan = vlan, .n_addr = 2, .n_ports = 2,
			       .ports = { 514, 1514 } };
	l.addr[0].family = AF_INET;
	memcpy(l.addr[0].ip, v4, 4);
	l.addr[1].family = AF_INET6;
	memcpy(l.addr[1].ip, v6, 16);
	return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	size_t len = size - 1;
	uint8_t *f = malloc(len ? len : 1);
	if (f == NULL)
		return 0;
	memcpy(f, data + 1, len);
	uint16_t vlan = 0;
	if ((opt & 3) == 1)
		vlan = 100;
	else if ((opt & 3) == 2 && len >= 16)
		vlan = (uint16_t)((f[14] << 8 | f[15]) & 0x0fff);
	struct pkt_local loc = local(vlan);
	unsigned flags = (opt & 4 ? PKT_F_IP_CSUM_GOOD : 0) |
			 (opt & 8 ? PKT_F_REASSEMBLED : 0);
	struct pkt_info pi;
	enum pkt_class c = pkt_classify(f, len, &loc, flags, &pi);
	CHECK(c == pi.cls);
	CHECK(c <= PKT_DROP);
	if (c == PKT_DROP) {
		CHECK(pi.drop < PKT_DROP_COUNT);
		CHECK(strcmp(pkt_drop_name(pi.drop), "unknown") != 0);
	} else
		CHECK(pi.l2_len <= len && pi.n_vlan <= 2);
	if (c == PKT_FRAGMENT) {
		CHECK(pi.family == AF_INET || pi.family == AF_INET6);
		CHECK((size_t)pi.l2_len + pi.l3_len <= len);
		if (pi.family == AF_INET6)
			CHECK(pi.frag_hdr_off == pi.l2_len + 40u &&
			      pi.l3_len == 48);
	}
	if (c == PKT_SYSLOG) {
		CHECK((size_t)pi.payload_off + pi.payload_len <= len);
		CHECK(pi.payload_off >= (size_t)pi.l2_len + pi.l3_len + 8);
		CHECK(pi.dport == 514 || pi.dport == 1514);
		/* rebuild it from what was found, and classify that */
		struct pkt_hdr_spec s = { .vlan = vlan, .family = pi.family,
					  .sport = pi.sport, .dport = pi.dport,
					  .ttl = 64, .ip_id = 1 };
		memcpy(s.src, pi.src, 16);
		memcpy(s.dst, pi.dst, 16);
		size_t cap = pkt_hdr_len(&s) + pi.payload_len;
		uint8_t *g = malloc(cap);
		CHECK(g != NULL);
		size_t hl = pkt_build_hdr(g, cap, &s, f + pi.payload_off,
					  pi.payload_len, 0);
		CHECK(hl == pkt_hdr_len(&s));
		memcpy(g + hl, f + pi.payload_off, pi.payload_len);
		struct pkt_info p2;
		struct pkt_local l2 = local(vlan);
		CHECK(pkt_classify(g, cap, &l2, 0, &p2) == PKT_SYSLOG);
		CHECK(p2.payload_len == pi.payload_len && p2.payload_off == hl);
		CHECK(memcmp(g + hl, f + pi.payload_off, pi.payload_len) == 0);
		CHECK(p2.sport == pi.sport && p2.dport == pi.dport);
		CHECK(memcmp(p2.src, pi.src, 16) == 0);
		free(g);
	}
	free(f);
	return 0;
}
