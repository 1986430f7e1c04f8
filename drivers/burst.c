/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* A rewritten burst's line, copied out of its segments (drivers that
 * build a packet or a buffer per line; tests). */
#include <string.h>

#include "veil_msg.h"

size_t vdp_burst_copy(const struct vdp_burst *b, unsigned i, char *buf,
		      size_t cap)
{
	if (i >= b->n || b->line[i].verdict != VDP_FORWARD || b->line[i].len > cap)
		return 0;
	size_t n = 0;
	const struct vdp_seg *s = b->segs + b->line[i].first_seg;
	for (unsigned k = 0; k < b->line[i].n_segs; k++) {
		memcpy(buf + n, s[k].p, s[k].len);
		n += s[k].len;
	}
	return n;
}
