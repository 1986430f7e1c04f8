/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Pure functions on a frame in a byte buffer, for the dpdk driver
 * (dpdk.c): classify a received frame (Ethernet, 0-2 VLAN tags, IPv4 or
 * IPv6 with extension headers, UDP) as syslog for us, a fragment of a
 * datagram for us, something for the kernel, or a drop with its reason;
 * and build the Ethernet (+VLAN) / IP / UDP header of a datagram we send.
 * No allocation, no I/O, no state: the fuzz target (tests/fuzz/fuzz_pkt.c)
 * calls them on anything.
 */
#ifndef VEIL_PKT_H
#define VEIL_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a frame is dropped: one list gives the enum, the names and the
 * driver's counters (drop_<name>). */
#define PKT_DROP_REASONS(X)                                                   \
	X(runt)            /* shorter than its headers */                    \
	X(bad_ip_header)   /* IP version, header length, extension chain */  \
	X(bad_ip_checksum)                                                    \
	X(bad_length)      /* IP or UDP length against the frame */          \
	X(bad_udp_checksum) /* wrong, or zero over IPv6 */                   \
	X(bad_vlan)        /* not the port's VLAN (or 3+ tags) */

enum pkt_drop {
#define PKT_X(n) PKT_DROP_##n,
	PKT_DROP_REASONS(PKT_X)
#undef PKT_X
	PKT_DROP_COUNT
};

/** @return the reason's name ("runt", ...). */
const char *pkt_drop_name(enum pkt_drop r);

enum pkt_class {
	PKT_SYSLOG,    /**< UDP to one of our addresses and ports: payload */
	PKT_FRAGMENT,  /**< a fragment of a UDP datagram to one of our
			    addresses: reassemble, then classify the whole */
	PKT_EXCEPTION, /**< anything else well formed: for the kernel */
	PKT_DROP,      /**< malformed: drop, counted by reason */
};

/** What is ours on a port. */
struct pkt_local {
	uint16_t vlan;             /**< 0: untagged */
	unsigned n_addr;
	struct {
		int family;        /**< AF_INET or AF_INET6 */
		uint8_t ip[16];    /**< network order; IPv4 in the first 4 */
	} addr[4];
	unsigned n_ports;
	uint16_t ports[8];         /**< UDP listen ports, host order */
};

/* pkt_classify() flags */
enum {
	PKT_F_IP_CSUM_GOOD = 1u << 0,  /**< the NIC checked the IPv4 header */
	PKT_F_L4_CSUM_GOOD = 1u << 1,  /**< the NIC checked the UDP checksum */
	PKT_F_REASSEMBLED = 1u << 2,   /**< a datagram rebuilt from fragments:
					    its IPv4 header checksum is not
					    checked (each fragment's was) */
};

struct pkt_info {
	enum pkt_class cls;
	enum pkt_drop drop;        /**< cls == PKT_DROP */
	unsigned n_vlan;           /**< tags seen (0-2) */
	uint16_t l2_len;           /**< Ethernet + tags */
	uint16_t l3_len;           /**< IP header with options / extension
				        headers (IPv6: up to the fragment
				        header included) */
	uint16_t ether_type;       /**< after the tags, host order */
	int family;                /**< AF_INET, AF_INET6, or 0 (not IP) */
	uint8_t src[16], dst[16];  /**< IP addresses (IPv4 in the first 4) */
	uint8_t proto;             /**< the upper-layer protocol */
	uint16_t sport, dport;     /**< UDP (PKT_SYSLOG), host order */
	uint32_t payload_off;      /**< PKT_SYSLOG: the UDP payload */
	uint32_t payload_len;
	uint16_t frag_hdr_off;     /**< IPv6 PKT_FRAGMENT: offset of the
				        fragment header in the frame */
};

/**
 * Classify the frame @p f of @p len bytes for the port @p loc (see enum
 * pkt_class). Checks, in order: Ethernet and tags (the port's VLAN only),
 * IP header and its checksum, lengths (trailing Ethernet padding is
 * allowed), then for UDP to us: UDP length and checksum (0 means none
 * over IPv4 only). Non-IP frames, IP not to us, and non-UDP are
 * PKT_EXCEPTION without further checks beyond the IP header.
 * @return out->cls.
 */
enum pkt_class pkt_classify(const uint8_t *f, size_t len,
			    const struct pkt_local *loc, unsigned flags,
			    struct pkt_info *out);

/** An outgoing datagram's header. */
struct pkt_hdr_spec {
	uint8_t dst_mac[6], src_mac[6];
	uint16_t vlan;             /**< 0: untagged */
	int family;                /**< AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;     /**< host order */
	uint8_t ttl;               /**< hop limit */
	uint16_t ip_id;            /**< IPv4 identification */
};

/** Bytes of the header pkt_build_hdr() writes. */
size_t pkt_hdr_len(const struct pkt_hdr_spec *s);

/* pkt_build_hdr() flags */
enum {
	PKT_B_NO_IP_CSUM = 1u << 0,  /**< leave the IPv4 header checksum 0
					  (the NIC computes it) */
	PKT_B_NO_UDP_CSUM = 1u << 1, /**< leave the UDP checksum to the
					  caller (the NIC, or the pseudo-header
					  sum the NIC wants) */
};

/**
 * Write the header of a datagram whose UDP payload is @p payload
 * (@p plen bytes, read for the UDP checksum unless PKT_B_NO_UDP_CSUM)
 * into @p hdr (at least pkt_hdr_len() bytes).
 * @return the header length, or 0 if the datagram cannot be built
 *   (payload too long for the IP length fields, bad family).
 */
size_t pkt_build_hdr(uint8_t *hdr, size_t cap, const struct pkt_hdr_spec *s,
		     const uint8_t *payload, size_t plen, unsigned flags);

/**
 * The UDP checksum of a datagram (pseudo-header included), computed over
 * the UDP header @p udp and payload (@p ulen bytes, contiguous): 0 when
 * the stored checksum is right (or, @p verify false, the value to store,
 * with the checksum field zero).
 */
uint16_t pkt_udp_cksum(int family, const uint8_t *src, const uint8_t *dst,
		       const uint8_t *udp, size_t ulen, bool verify);

/**
 * The Internet checksum's sum (RFC 1071) of @p len bytes at @p buf added to
 * @p sum: the same value as DPDK's __rte_raw_cksum() once reduced
 * (__rte_raw_cksum_reduce()), taken 8 bytes a step instead of 2 (DPDK
 * 22.11 adds one 16-bit word a step: the payload checksums in and out were
 * a sixth of the DPDK path's time).
 */
uint32_t pkt_sum(const void *buf, size_t len, uint32_t sum);

#endif
