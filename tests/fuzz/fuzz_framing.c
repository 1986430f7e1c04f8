/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * libFuzzer target for message framing (drivers/framing.c), in every
 * mode, against a reference framer written here the obvious way (the whole
 * stream at once).
 *
 * Input: one byte choosing the maximum message size, one byte mixed into
 * the chunk sizes, then the stream. The stream is fed twice to a framer of
 * each mode: in one piece, and in chunks of 1 to 32 bytes whose sizes come
 * from the stream's own bytes; each piece is an exactly sized heap copy, so
 * ASan sees a read past it. Both runs must deliver what the reference
 * delivers (the same messages, in order), with the same counters and
 * result. Every message is non-empty, at most the maximum, and trimmed as
 * its mode says; in the one-piece run every message delivered during the
 * feed points into the fed buffer (zero copy). In datagram mode every chunk
 * is a datagram.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                \
	do {                    \
		if (!(x))       \
			abort(); \
	} while (0)

/* What a run delivered. */
struct run {
	enum vdp_framing mode;
	size_t max;
	uint64_t hash;	 /* of every message's length and bytes, in order */
	uint64_t count;
	uint64_t total;	 /* bytes delivered */
	const char *buf; /* the piece being fed, while it is fed */
	size_t buf_len;
	bool in_place;	 /* check that messages point into buf */
	struct vdp_framer_stats st;
};

static void hash_add(struct run *r, const char *msg, size_t len)
{
	uint64_t h = r->hash ^ len;
	h *= 0x100000001b3ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)msg[i];
		h *= 0x100000001b3ull;
	}
	r->hash = h;
	r->count++;
	r->total += len;
}

static void on_msg(void *arg, const char *msg, size_t len)
{
	struct run *r = arg;
	CHECK(len > 0 && len <= r->max);
	char last = msg[len - 1];
	switch (r->mode) {
	case VDP_FRAME_LF:
		CHECK(memchr(msg, '\0', len) == NULL);
		/* fall through */
	case VDP_FRAME_FILE:
		CHECK(memchr(msg, '\n', len) == NULL && last != '\r');
		break;
	case VDP_FRAME_TCP_AUTO:
		CHECK(last != '\r');
		break;
	default: /* datagram, octet counting */
		CHECK(last != '\n' && last != '\r' && last != '\0');
		break;
	}
	if (r->in_place)
		CHECK(msg >= r->buf && msg + len <= r->buf + r->buf_len);
	hash_add(r, msg, len);
}

/* ---- the reference ---- */

static void ref_emit(struct run *r, const char *msg, size_t len)
{
	if (len == 0)
		return;
	if (len > r->max) {
		r->st.oversize++;
		return;
	}
	r->st.messages++;
	hash_add(r, msg, len);
}

static int reference(struct run *r, const char *d, size_t n)
{
	size_t i = 0;
	r->st.bytes = n;
	while (i < n) {
		bool octet = r->mode == VDP_FRAME_OCTET_COUNT ||
			     (r->mode == VDP_FRAME_TCP_AUTO && d[i] >= '0' &&
			      d[i] <= '9');
		if (r->mode == VDP_FRAME_OCTET_COUNT &&
		    (d[i] == '\n' || d[i] == '\r' || d[i] == '\0')) {
			i++;
			continue;
		}
		if (!octet) {
			size_t e = i;
			while (e < n && d[e] != '\n' &&
			       (d[e] != '\0' || r->mode == VDP_FRAME_FILE))
				e++;
			size_t len = e - i;
			while (len > 0 && d[i + len - 1] == '\r')
				len--;
			ref_emit(r, d + i, len);
			i = e + 1;
			continue;
		}
		size_t value = 0, k = 0;
		for (; i < n && d[i] >= '0' && d[i] <= '9'; i++, k++) {
			if ((k == 0 && d[i] == '0') || k == 9) {
				r->st.bad_frame++;
				return -1;
			}
			value = value * 10 + (size_t)(d[i] - '0');
		}
		if (i == n) {
			r->st.truncated++;
			return 0;
		}
		if (d[i] != ' ' || k == 0) {
			r->st.bad_frame++;
			return -1;
		}
		i++;
		if (value > r->max) {
			r->st.oversize++;
			i = value < n - i ? i + value : n;
			continue;
		}
		if (value > n - i) {
			r->st.truncated++;
			return 0;
		}
		ref_emit(r, d + i, vdp_datagram_len(d + i, value));
		i += value;
	}
	return 0;
}

/* ---- the framer ---- */

static int feed_piece(struct vdp_framer *f, struct run *r, const uint8_t *p,
		      size_t k)
{
	char *piece = malloc(k ? k : 1);
	CHECK(piece != NULL);
	memcpy(piece, p, k);
	r->buf = piece;
	r->buf_len = k;
	int rc = vdp_framer_feed(f, piece, k, on_msg, r);
	CHECK(rc == 0 || rc == -1);
	r->buf = NULL;
	free(piece);
	return rc;
}

static int framer(struct run *r, const uint8_t *d, size_t n, bool whole,
		  uint8_t mix)
{
	struct vdp_framer *f = vdp_framer_new(r->mode, r->max);
	CHECK(f != NULL);
	int rc = 0;
	size_t i = 0;
	r->in_place = whole;
	do {
		size_t k = n;
		if (!whole && n > 0)
			k = 1 + (size_t)((d[i] ^ mix) % 32);
		if (k > n - i)
			k = n - i;
		int x = feed_piece(f, r, d + i, k);
		if (rc != 0)
			CHECK(x == -1); /* failed for good */
		else
			rc = x;
		i += k;
	} while (i < n);
	r->in_place = false;
	if (rc == 0)
		vdp_framer_finish(f, on_msg, r);
	r->st = *vdp_framer_stats(f);
	if (rc != 0) {
		/* nothing more: no message, no count but bytes */
		uint64_t count = r->count;
		struct vdp_framer_stats want = r->st;
		want.bytes += 3;
		CHECK(feed_piece(f, r, (const uint8_t *)"1 a", 3) == -1);
		vdp_framer_finish(f, on_msg, r);
		CHECK(memcmp(&want, vdp_framer_stats(f), sizeof(want)) == 0);
		CHECK(r->count == count);
	}
	vdp_framer_free(f);
	return rc;
}

/* Datagram mode: each chunk is one datagram, delivered in place. */
static void datagrams(size_t max, const uint8_t *d, size_t n, uint8_t mix)
{
	struct run r = { .mode = VDP_FRAME_DATAGRAM, .max = max };
	struct vdp_framer *f = vdp_framer_new(VDP_FRAME_DATAGRAM, max);
	CHECK(f != NULL);
	uint64_t want = 0, over = 0;
	for (size_t i = 0; i < n;) {
		size_t k = 1 + (size_t)((d[i] ^ mix) % 32);
		if (k > n - i)
			k = n - i;
		size_t dl = vdp_datagram_len((const char *)d + i, k);
		CHECK(dl <= k);
		want += dl > 0 && dl <= max;
		over += dl > max;
		r.in_place = true;
		uint64_t before = r.count;
		CHECK(feed_piece(f, &r, d + i, k) == 0);
		CHECK(r.count - before == (dl > 0 && dl <= max));
		i += k;
	}
	vdp_framer_finish(f, on_msg, &r);
	const struct vdp_framer_stats *st = vdp_framer_stats(f);
	CHECK(st->messages == want && r.count == want && st->oversize == over);
	CHECK(st->bytes == n && st->bad_frame == 0 && st->truncated == 0);
	vdp_framer_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[8] = { 1, 2, 3, 5, 8, 16, 64, 4096 };
	if (size < 2)
		return 0;
	size_t max = maxes[data[0] % 8];
	uint8_t mix = data[1];
	const uint8_t *d = data + 2;
	size_t n = size - 2;

	datagrams(max, d, n, mix);
	for (int mode = VDP_FRAME_OCTET_COUNT; mode <= VDP_FRAME_FILE; mode++) {
		struct run ref = { .mode = (enum vdp_framing)mode, .max = max };
		struct run one = ref, cut = ref;
		int rrc = reference(&ref, (const char *)d, n);
		int rc1 = framer(&one, d, n, true, mix);
		int rc2 = framer(&cut, d, n, false, mix);
		CHECK(rc1 == rrc && rc2 == rrc);
		CHECK(one.count == ref.st.messages && one.hash == ref.hash);
		CHECK(cut.count == ref.st.messages && cut.hash == ref.hash);
		CHECK(memcmp(&one.st, &ref.st, sizeof(ref.st)) == 0);
		CHECK(memcmp(&cut.st, &ref.st, sizeof(ref.st)) == 0);
		/* the counters add up */
		const struct vdp_framer_stats *st = &one.st;
		CHECK(st->bytes == n && st->messages == one.count);
		CHECK(one.total <= n);
		CHECK(st->bad_frame <= 1 && st->truncated <= 1);
		CHECK((st->bad_frame == 1) == (rrc == -1));
		CHECK(st->messages + st->oversize + st->bad_frame +
			      st->truncated <= n);
		if (mode == VDP_FRAME_LF || mode == VDP_FRAME_FILE)
			CHECK(st->bad_frame == 0 && st->truncated == 0);
	}
	return 0;
}
