/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Frame classification and datagram headers for the dpdk driver (pkt.h).
 * Every read is bounds-checked against the frame and done with memcpy or
 * byte loads: frames come from the wire (and from the fuzzer) at any
 * alignment. Checksums are DPDK's (rte_ip.h); the header layouts are
 * rte_ether.h, rte_ip.h and rte_udp.h.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "pkt.h"

#define QINQ_LEGACY 0x9100 /* pre-802.1ad provider tag, still seen */

static const char *const drop_names[PKT_DROP_COUNT] = {
#define PKT_X(n) #n,
	PKT_DROP_REASONS(PKT_X)
#undef PKT_X
};

const char *pkt_drop_name(enum pkt_drop r)
{
	return (unsigned)r < PKT_DROP_COUNT ? drop_names[r] : "unknown";
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static enum pkt_class drop(struct pkt_info *o, enum pkt_drop r)
{
	o->drop = r;
	return o->cls = PKT_DROP;
}

static enum pkt_class exception(struct pkt_info *o)
{
	return o->cls = PKT_EXCEPTION;
}

static bool is_ours(const struct pkt_local *loc, int family, const uint8_t *ip)
{
	size_t alen = family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < loc->n_addr && i < 4; i++)
		if (loc->addr[i].family == family &&
		    memcmp(loc->addr[i].ip, ip, alen) == 0)
			return true;
	return false;
}

static bool is_our_port(const struct pkt_local *loc, uint16_t port)
{
	for (unsigned i = 0; i < loc->n_ports && i < 8; i++)
		if (loc->ports[i] == port)
			return true;
	return false;
}

/* RFC 1071 section 2: the sum of the 16-bit words may be taken in wider
 * words (here the two 32-bit halves of each 8 bytes, into 64-bit
 * accumulators, which cannot overflow below 2^31 steps) and folded at the
 * end; byte order does not matter as long as the caller stores the
 * result as it was summed (as with DPDK's). A final odd byte counts as the
 * first byte of a 16-bit word, as in __rte_raw_cksum(). */
uint32_t pkt_sum(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t a = sum, b = 0;
	for (; len >= 16; p += 16, len -= 16) {
		uint64_t x, y;
		memcpy(&x, p, 8);
		memcpy(&y, p + 8, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		b += (y & 0xffffffffu) + (y >> 32);
	}
	if (len >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		b += x;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t x;
		memcpy(&x, p, 2);
		a += x;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		uint16_t x = 0;
		memcpy(&x, p, 1);
		b += x;
	}
	a += b; /* < 2^64: both below 2^62 */
	a = (a & 0xffffffffu) + (a >> 32);
	a = (a & 0xffffffffu) + (a >> 32);
	return (uint32_t)a;
}

uint16_t pkt_udp_cksum(int family, const uint8_t *src, const uint8_t *dst,
		       const uint8_t *udp, size_t ulen, bool verify)
{
	size_t alen = family == AF_INET ? 4 : 16;
	/* the pseudo-header: addresses, protocol and UDP length as 16-bit
	 * words (IPv6's 32-bit length has a zero upper half below 64 KiB) */
	uint8_t ph[4] = { 0, IPPROTO_UDP, (uint8_t)(ulen >> 8), (uint8_t)ulen };
	uint32_t sum = __rte_raw_cksum(src, alen, 0);
	sum = __rte_raw_cksum(dst, alen, sum);
	sum = __rte_raw_cksum(ph, sizeof(ph), sum);
	sum = pkt_sum(udp, ulen, sum);
	uint16_t r = __rte_raw_cksum_reduce(sum);
	if (verify)
		return r == 0xffff ? 0 : 1;
	r = (uint16_t)~r;
	return r == 0 ? 0xffff : r; /* RFC 768: a computed 0 is sent as ones */
}

/* The UDP header at @p u (@p avail bytes of IP payload) to us. */
static enum pkt_class classify_udp(const uint8_t *f, size_t u, size_t avail,
				   const struct pkt_local *loc, unsigned flags,
				   struct pkt_info *o)
{
	if (avail < sizeof(struct rte_udp_hdr))
		return drop(o, PKT_DROP_bad_length);
	const uint8_t *uh = f + u;
	uint16_t ulen = rd16(uh + 4), ck = rd16(uh + 6);
	o->sport = rd16(uh);
	o->dport = rd16(uh + 2);
	if (!is_our_port(loc, o->dport))
		return exception(o);
	if (ulen < sizeof(struct rte_udp_hdr) || ulen > avail)
		return drop(o, PKT_DROP_bad_length);
	if (ck == 0) {
		if (o->family == AF_INET6) /* RFC 8200 8.1: mandatory */
			return drop(o, PKT_DROP_bad_udp_checksum);
	} else if (!(flags & PKT_F_L4_CSUM_GOOD) &&
		   pkt_udp_cksum(o->family, o->src, o->dst, uh, ulen, true) != 0)
		return drop(o, PKT_DROP_bad_udp_checksum);
	o->payload_off = (uint32_t)(u + sizeof(struct rte_udp_hdr));
	o->payload_len = ulen - (uint32_t)sizeof(struct rte_udp_hdr);
	return o->cls = PKT_SYSLOG;
}

static enum pkt_class classify_ipv4(const uint8_t *f, size_t len, size_t l3,
				    const struct pkt_local *loc, unsigned flags,
				    struct pkt_info *o)
{
	if (len - l3 < sizeof(struct rte_ipv4_hdr))
		return drop(o, PKT_DROP_runt);
	const uint8_t *ip = f + l3;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < sizeof(struct rte_ipv4_hdr))
		return drop(o, PKT_DROP_bad_ip_header);
	if (ihl > len - l3)
		return drop(o, PKT_DROP_runt);
	if (!(flags & (PKT_F_IP_CSUM_GOOD | PKT_F_REASSEMBLED)) &&
	    rte_raw_cksum(ip, ihl) != 0xffff)
		return drop(o, PKT_DROP_bad_ip_checksum);
	size_t tot = rd16(ip + 2);
	if (tot < ihl || tot > len - l3)
		return drop(o, PKT_DROP_bad_length);
	o->family = AF_INET;
	o->l3_len = (uint16_t)ihl;
	o->proto = ip[9];
	memcpy(o->src, ip + 12, 4);
	memcpy(o->dst, ip + 16, 4);
	if (!is_ours(loc, AF_INET, o->dst) || o->proto != IPPROTO_UDP)
		return exception(o);
	uint16_t fo = rd16(ip + 6);
	if (fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return o->cls = PKT_FRAGMENT;
	return classify_udp(f, l3 + ihl, tot - ihl, loc, flags, o);
}

/* An IPv6 extension header that may come between a fragment header and
 * the upper layer (hop-by-hop may not: it is first or nothing). */
static bool may_precede_udp(uint8_t next)
{
	return next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS ||
	       next == IPPROTO_AH || next == IPPROTO_FRAGMENT;
}

static enum pkt_class classify_ipv6(const uint8_t *f, size_t len, size_t l3,
				    const struct pkt_local *loc, unsigned flags,
				    struct pkt_info *o)
{
	if (len - l3 < sizeof(struct rte_ipv6_hdr))
		return drop(o, PKT_DROP_runt);
	const uint8_t *ip = f + l3;
	if ((ip[0] >> 4) != 6)
		return drop(o, PKT_DROP_bad_ip_header);
	size_t plen = rd16(ip + 4);
	if (plen > len - l3 - sizeof(struct rte_ipv6_hdr))
		return drop(o, PKT_DROP_bad_length);
	o->family = AF_INET6;
	memcpy(o->src, ip + 8, 16);
	memcpy(o->dst, ip + 24, 16);
	o->l3_len = sizeof(struct rte_ipv6_hdr);
	uint8_t next = ip[6];
	o->proto = next;
	if (!is_ours(loc, AF_INET6, o->dst))
		return exception(o);
	/* the extension headers, up to the upper layer */
	size_t off = sizeof(struct rte_ipv6_hdr); /* from ip */
	size_t end = sizeof(struct rte_ipv6_hdr) + plen;
	for (unsigned n = 0;; n++) {
		size_t el;
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_AH &&
		    next != IPPROTO_FRAGMENT)
			break;
		if (n >= 8 || (next == IPPROTO_HOPOPTS && n > 0))
			return drop(o, PKT_DROP_bad_ip_header);
		if (end - off < 8)
			return drop(o, PKT_DROP_bad_length);
		const uint8_t *e = ip + off;
		if (next == IPPROTO_FRAGMENT) {
			el = RTE_IPV6_FRAG_HDR_SIZE;
			uint16_t fo = rd16(e + 2);
			if (fo & 0xfff9) { /* an offset or more fragments */
				o->proto = e[0];
				/* UDP, or headers that may come before it: it
				 * may be syslog for us, which the kernel must
				 * never get (fail closed); the rest is its */
				if (e[0] != IPPROTO_UDP && !may_precede_udp(e[0]))
					return exception(o);
				/* rte_ip_frag wants it right after the fixed
				 * header: the others are dropped */
				if (off != sizeof(struct rte_ipv6_hdr))
					return drop(o, PKT_DROP_bad_ip_header);
				o->frag_hdr_off = (uint16_t)(l3 + off);
				o->l3_len = (uint16_t)(off + el);
				return o->cls = PKT_FRAGMENT;
			}
			/* an atomic fragment (RFC 6946): go on */
		} else if (next == IPPROTO_AH)
			el = ((size_t)e[1] + 2) * 4;
		else
			el = ((size_t)e[1] + 1) * 8;
		if (el > end - off)
			return drop(o, PKT_DROP_bad_length);
		next = e[0];
		off += el;
	}
	o->proto = next;
	o->l3_len = (uint16_t)off;
	if (next != IPPROTO_UDP)
		return exception(o);
	return classify_udp(f, l3 + off, end - off, loc, flags, o);
}

enum pkt_class pkt_classify(const uint8_t *f, size_t len,
			    const struct pkt_local *loc, unsigned flags,
			    struct pkt_info *o)
{
	memset(o, 0, sizeof(*o));
	if (len < sizeof(struct rte_ether_hdr))
		return drop(o, PKT_DROP_runt);
	size_t off = 2 * RTE_ETHER_ADDR_LEN;
	uint16_t type = rd16(f + off);
	uint16_t vid = 0;
	while (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ ||
	       type == QINQ_LEGACY) {
		if (o->n_vlan == 2)
			return drop(o, PKT_DROP_bad_vlan);
		if (len - off < 2 + sizeof(struct rte_vlan_hdr))
			return drop(o, PKT_DROP_runt);
		vid = rd16(f + off + 2) & 0x0fff; /* the innermost counts */
		type = rd16(f + off + 4);
		off += sizeof(struct rte_vlan_hdr);
		o->n_vlan++;
	}
	off += 2;
	o->l2_len = (uint16_t)off;
	o->ether_type = type;
	/* priority-tagged (VID 0) frames belong to an untagged port */
	if (vid != loc->vlan)
		return drop(o, PKT_DROP_bad_vlan);
	if (type == RTE_ETHER_TYPE_IPV4)
		return classify_ipv4(f, len, off, loc, flags, o);
	if (type == RTE_ETHER_TYPE_IPV6)
		return classify_ipv6(f, len, off, loc, flags, o);
	return exception(o);
}

size_t pkt_hdr_len(const struct pkt_hdr_spec *s)
{
	return sizeof(struct rte_ether_hdr) +
	       (s->vlan ? sizeof(struct rte_vlan_hdr) : 0) +
	       (s->family == AF_INET6 ? sizeof(struct rte_ipv6_hdr)
				      : sizeof(struct rte_ipv4_hdr)) +
	       sizeof(struct rte_udp_hdr);
}

size_t pkt_build_hdr(uint8_t *h, size_t cap, const struct pkt_hdr_spec *s,
		     const uint8_t *payload, size_t plen, unsigned flags)
{
	size_t hl = pkt_hdr_len(s);
	size_t ulen = sizeof(struct rte_udp_hdr) + plen;
	if ((s->family != AF_INET && s->family != AF_INET6) || cap < hl ||
	    ulen > 0xffff ||
	    (s->family == AF_INET && ulen + sizeof(struct rte_ipv4_hdr) > 0xffff))
		return 0;
	size_t off = 0;
	memcpy(h, s->dst_mac, 6);
	memcpy(h + 6, s->src_mac, 6);
	off = 12;
	if (s->vlan) {
		wr16(h + off, RTE_ETHER_TYPE_VLAN);
		wr16(h + off + 2, s->vlan & 0x0fff);
		off += 4;
	}
	uint8_t *ip = h + off + 2;
	if (s->family == AF_INET) {
		wr16(h + off, RTE_ETHER_TYPE_IPV4);
		ip[0] = 0x45;
		ip[1] = 0;
		wr16(ip + 2, (uint16_t)(sizeof(struct rte_ipv4_hdr) + ulen));
		wr16(ip + 4, s->ip_id);
		wr16(ip + 6, 0); /* no DF: rte_ipv4_fragment_packet may split it */
		ip[8] = s->ttl;
		ip[9] = IPPROTO_UDP;
		wr16(ip + 10, 0);
		memcpy(ip + 12, s->src, 4);
		memcpy(ip + 16, s->dst, 4);
		if (!(flags & PKT_B_NO_IP_CSUM)) {
			uint16_t c = (uint16_t)~rte_raw_cksum(ip, 20);
			memcpy(ip + 10, &c, 2); /* byte-order independent sum */
		}
	} else {
		wr16(h + off, RTE_ETHER_TYPE_IPV6);
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		wr16(ip + 4, (uint16_t)ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = s->ttl;
		memcpy(ip + 8, s->src, 16);
		memcpy(ip + 24, s->dst, 16);
	}
	uint8_t *u = h + hl - sizeof(struct rte_udp_hdr);
	wr16(u, s->sport);
	wr16(u + 2, s->dport);
	wr16(u + 4, (uint16_t)ulen);
	wr16(u + 6, 0);
	if (!(flags & PKT_B_NO_UDP_CSUM)) {
		size_t alen = s->family == AF_INET ? 4 : 16;
		uint8_t ph[4] = { 0, IPPROTO_UDP, (uint8_t)(ulen >> 8),
				  (uint8_t)ulen };
		uint32_t sum = __rte_raw_cksum(s->src, alen, 0);
		sum = __rte_raw_cksum(s->dst, alen, sum);
		sum = __rte_raw_cksum(ph, sizeof(ph), sum);
		sum = __rte_raw_cksum(u, sizeof(struct rte_udp_hdr), sum);
		sum = pkt_sum(payload, plen, sum);
		uint16_t c = (uint16_t)~__rte_raw_cksum_reduce(sum);
		if (c == 0)
			c = 0xffff;
		memcpy(u + 6, &c, 2);
	}
	return hl;
}
