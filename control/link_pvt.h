/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The link's shared region as link.c lays it out (docs/link-protocol.md):
 * its header and its slots. Private to link.c and to the link's fuzz
 * target, which writes the region as a misbehaving peer would; nothing
 * else may depend on the layout (the processes speak through veil_link.h).
 */
#ifndef VEIL_LINK_PVT_H
#define VEIL_LINK_PVT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "veil_link.h"

#define LINK_MAGIC      0x4b4e4c56u /* "VLNK" */
#define LINK_CACHE_LINE 64
#define LINK_SLOT_SIZE  256

/* The two directions; ring 2 * dir holds the filled slots of a direction,
 * ring 2 * dir + 1 its free ones. */
enum { DIR_DOWN = 0, DIR_UP = 1 };

struct link_slot {
	uint16_t type;
	uint16_t proto;
	uint32_t len;
	uint64_t seq;
	uint8_t reserved[8];
	uint8_t payload[VEIL_LINK_PAYLOAD_MAX];
};
_Static_assert(sizeof(struct link_slot) == LINK_SLOT_SIZE, "slot size");

struct link_hdr {
	uint32_t magic;
	uint16_t proto;
	uint16_t hdr_size;
	uint32_t slot_size;
	uint32_t nslots;
	uint64_t region_size;
	uint64_t epoch;
	uint64_t ring_off[4];  /* down, down_free, up, up_free */
	uint64_t slot_off[2];  /* down, up */
	_Atomic uint32_t closed;
	uint32_t pad;
	alignas(LINK_CACHE_LINE) _Atomic uint64_t heartbeat_ns[2]; /* by side */
};

#endif /* VEIL_LINK_PVT_H */
