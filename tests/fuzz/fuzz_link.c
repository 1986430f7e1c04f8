/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * libFuzzer target for the controld <-> dataplane link's receive side
 * (veil_link_recv(), the check every message from the peer goes through,
 * and veil_link_server_poll(), which acts on what passes), driven as a
 * misbehaving peer would: any bytes as slots, any 32-bit values as slot
 * indices in the rings, mixed with well-formed traffic through the API.
 *
 * Each input gets a fresh region, handed over as in production: a link
 * server as controld listening on a socket in a directory of this process,
 * a dataplane that connects and takes the region it hands over (the
 * handshake, seals, size and header checked), and a third raw mapping of
 * the region's memfd the harness writes through; so a run depends on
 * nothing but its input.
 *
 * Input: one configuration byte, then operations, each one opcode byte and
 * its arguments (missing bytes read as zero):
 *   0 RAW_UP n b[n+1]     the dataplane's free up slot gets the n+1 bytes
 *                         (a raw 256-byte slot: type, proto, len, seq, ...)
 *                         and its index goes in the up ring
 *   1 RAW_DOWN n b[n+1]   the same, controld's down direction
 *   2 RAW_INDEX d i32     a free slot of direction d & 1 (0 down, 1 up)
 *                         is taken and index i (any value) queued for it
 *   3 POLL                veil_link_server_poll()
 *   4 DRAIN               the dataplane receives until its ring is empty
 *   5 SEND_UP t l p[]     veil_link_send() by the dataplane: type t, length
 *                         l (l & 0x80: the type's own size, else l), payload
 *   6 SEND_DOWN t l p[]   the same by controld
 *   7 SERVER o f tl t[] v32  key added / destroyed / tenant state
 * A raw slot written into an empty ring is received at once and checked
 * against the protocol's rules (docs/link-protocol.md) restated here from
 * veil_link.h's message list.
 *
 * The peer modelled here writes what a sender may write: the slots it
 * took from its free ring and one index (any value) per slot it took in
 * its filled ring. It does not rewrite the region's header or the rings'
 * own headers, nor push indices into a free ring: link.c trusts those (the
 * receiver reads nslots from the shared header, the sender ignores the
 * result of its enqueue), so such a peer is out of scope here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "link_pvt.h"
#include "veil_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The protocol's rules, from the public message list. */
#define SIZE_(name, dir, type) [VEIL_LINK_MSG_##name] = sizeof(type),
#define DIR_(name, dir, type) [VEIL_LINK_MSG_##name] = DIR_##dir,
static const uint32_t want_size[VEIL_LINK_MSG_COUNT] = { VEIL_LINK_MSG_LIST(SIZE_) };
static const int want_dir[VEIL_LINK_MSG_COUNT] = { VEIL_LINK_MSG_LIST(DIR_) };

static bool valid_msg(unsigned type, int dir, uint32_t len)
{
	return type > VEIL_LINK_MSG_NONE && type < VEIL_LINK_MSG_COUNT &&
	       want_dir[type] == dir && want_size[type] == len;
}

#define MAX_OPS 512
#define SENTINEL 0xa5

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take_u8(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t take_u32(struct input *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)take_u8(in) << (8 * i);
	return v;
}

static void take_bytes(struct input *in, uint8_t *dst, size_t n)
{
	size_t k = n < in->n ? n : in->n;
	memcpy(dst, in->p, k);
	memset(dst + k, 0, n - k);
	in->p += k;
	in->n -= k;
}

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_link: check failed: %s (line %d)\n", \
				#cond, __LINE__);                             \
			abort();                                             \
		}                                                            \
	} while (0)

/* ---- the fake key store behind the server ---- */

struct fake_keys {
	unsigned n;
	bool fail;
};

/* Tenants t000, t001, ... one current version each (every third one
 * locked), from the server's cursor on. */
static int fake_keys_fn(void *ctx, const char *after, uint32_t after_version,
			unsigned max, veil_link_emit_fn emit, void *arg)
{
	struct fake_keys *k = ctx;
	if (k->fail)
		return -1;
	unsigned n = 0;
	for (unsigned i = 0; i < k->n && n < max; i++) {
		char tenant[16];
		uint8_t key[32];
		snprintf(tenant, sizeof(tenant), "t%03u", i);
		int c = strcmp(tenant, after);
		if (c < 0 || (c == 0 && i + 1 <= after_version))
			continue;
		memset(key, (int)(0x40 + i), sizeof(key));
		n++;
		if (emit(arg, tenant, i + 1, true, i % 3 == 0, key) != 0)
			break;
	}
	return 0;
}

/* The server's log lines (a dataplane connected, left): not wanted here. */
static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* ---- one run ---- */

struct run {
	struct veil_link_server *srv;
	struct veil_link *c; /* controld's link (the server's) */
	struct veil_link *d; /* the dataplane's */
	uint8_t *raw;        /* a third mapping, for the harness */
	size_t raw_size;
	const struct link_hdr *h;
	uint32_t nslots;
	uint64_t raw_enq[2]; /* by direction: entries the harness enqueued */
};

static struct rte_ring *ring(struct run *r, int i)
{
	return (struct rte_ring *)(r->raw + r->h->ring_off[i]);
}

/* ring(dir * 2) holds filled slots of a direction, ring(dir * 2 + 1) free */
static struct rte_ring *filled(struct run *r, int dir)
{
	return ring(r, dir * 2);
}

static struct rte_ring *free_ring(struct run *r, int dir)
{
	return ring(r, dir * 2 + 1);
}

static struct link_slot *slot(struct run *r, int dir, uint32_t idx)
{
	return (struct link_slot *)(r->raw + r->h->slot_off[dir]) + idx;
}

static struct veil_link *receiver(struct run *r, int dir)
{
	return dir == DIR_UP ? r->c : r->d;
}

static void open_raw(struct run *r)
{
	struct stat st;

	int fd = veil_link_region_fd(r->c);
	CHECK(fd >= 0);
	CHECK(fstat(fd, &st) == 0);
	r->raw_size = (size_t)st.st_size;
	r->raw = mmap(NULL, r->raw_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(r->raw != MAP_FAILED);
	r->h = (const struct link_hdr *)r->raw;
	CHECK(r->h->magic == LINK_MAGIC && r->h->proto == VEIL_LINK_PROTO);
	CHECK(r->h->slot_size == LINK_SLOT_SIZE && r->h->nslots == r->nslots);
	CHECK(r->h->hdr_size >= sizeof(struct link_hdr));
	CHECK(r->h->region_size == r->raw_size);
	for (int d = 0; d < 2; d++)
		CHECK(r->h->slot_off[d] + (uint64_t)r->nslots * LINK_SLOT_SIZE <= r->raw_size);
	for (int i = 0; i < 4; i++)
		CHECK(rte_ring_get_capacity(ring(r, i)) == r->nslots - 1);
	CHECK(rte_ring_count(free_ring(r, DIR_DOWN)) == r->nslots - 1);
	CHECK(rte_ring_count(free_ring(r, DIR_UP)) == r->nslots - 1);
}

/* Receive one message on the side that receives direction dir, and check
 * what the link says against the rules; `sent` (if not NULL) is the slot
 * the harness put in an empty ring, so the outcome is known in advance. */
static int recv_checked(struct run *r, int dir, const struct link_slot *sent)
{
	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type = VEIL_LINK_MSG_NONE;
	uint32_t len = 0xdeadbeef;
	unsigned before_free = rte_ring_count(free_ring(r, dir));

	memset(buf, SENTINEL, sizeof(buf));
	errno = 0;
	int rc = veil_link_recv(receiver(r, dir), &type, buf, &len);
	CHECK(rc == 1 || rc == 0 || rc == -1);
	if (rc == 1) {
		CHECK(valid_msg((unsigned)type, dir, len));
		for (size_t i = len; i < sizeof(buf); i++)
			CHECK(buf[i] == SENTINEL);
	} else {
		/* nothing is written for a message dropped or absent */
		for (size_t i = 0; i < sizeof(buf); i++)
			CHECK(buf[i] == SENTINEL);
		CHECK(type == VEIL_LINK_MSG_NONE && len == 0xdeadbeef);
		if (rc == -1)
			CHECK(errno == EPROTO);
	}
	if (sent != NULL) {
		bool ok = sent->proto == VEIL_LINK_PROTO &&
			  valid_msg(sent->type, dir, sent->len);
		CHECK(rc == (ok ? 1 : -1));
		if (ok) {
			CHECK(type == sent->type && len == sent->len);
			CHECK(memcmp(buf, sent->payload, len) == 0);
		}
		/* a checked slot, good or bad, goes back to the free ring */
		CHECK(rte_ring_count(free_ring(r, dir)) == before_free + 1);
	}
	return rc;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void op_raw_slot(struct run *r, int dir, struct input *in)
{
	struct link_slot s;
	uint32_t idx;
	size_t n = (size_t)take_u8(in) + 1;

	memset(&s, 0, sizeof(s));
	take_bytes(in, (uint8_t *)&s, n);
	bool was_empty = rte_ring_count(filled(r, dir)) == 0;
	if (rte_ring_dequeue_elem(free_ring(r, dir), &idx, sizeof(idx)) != 0)
		return; /* every slot in flight */
	/* free rings only ever hold good indices: the receiver checks them
	 * before it gives a slot back */
	CHECK(idx != 0 && idx < r->nslots);
	struct link_slot *dst = slot(r, dir, idx);
	memcpy(dst, &s, sizeof(s));
	CHECK(rte_ring_enqueue_elem(filled(r, dir), &idx, sizeof(idx)) == 0);
	r->raw_enq[dir]++;
	if (!was_empty)
		return;
	recv_checked(r, dir, &s);
	/* received or dropped, the slot is wiped */
	CHECK(all_zero(dst, sizeof(*dst)));
	CHECK(rte_ring_count(filled(r, dir)) == 0);
}

static void op_raw_index(struct run *r, struct input *in)
{
	int dir = take_u8(in) & 1;
	uint32_t idx = take_u32(in), mine;

	/* a sender that took a free slot and queued another index instead:
	 * the rings never hold more entries than there are slots, as with any
	 * peer that only pushes indices of slots it took */
	if (rte_ring_dequeue_elem(free_ring(r, dir), &mine, sizeof(mine)) != 0)
		return;
	CHECK(rte_ring_enqueue_elem(filled(r, dir), &idx, sizeof(idx)) == 0);
	r->raw_enq[dir]++;
}

static void op_poll(struct run *r)
{
	int handled = veil_link_server_poll(r->srv);
	CHECK(handled >= 0);
	/* a poll takes everything that came up */
	CHECK(rte_ring_count(filled(r, DIR_UP)) == 0);
	for (unsigned w = 0; w < 64; w++) {
		const struct veil_link_worker_counters *c =
			veil_link_server_counters(r->srv, w);
		if (c != NULL)
			CHECK(c->valid && c->n <= VEIL_LINK_NCOUNTERS);
	}
	CHECK(veil_link_server_counters(r->srv, 64) == NULL);
	CHECK(veil_link_server_counters(r->srv, UINT32_MAX) == NULL);
}

static void op_drain(struct run *r)
{
	/* a ring holds at most nslots - 1 entries */
	for (uint32_t i = 0; i < r->nslots; i++)
		if (recv_checked(r, DIR_DOWN, NULL) == 0)
			break;
	CHECK(rte_ring_count(filled(r, DIR_DOWN)) == 0);
	CHECK(recv_checked(r, DIR_DOWN, NULL) == 0);
}

static void op_send(struct run *r, int dir, struct input *in)
{
	struct veil_link *l = dir == DIR_UP ? r->d : r->c;
	uint8_t payload[256];
	unsigned t = take_u8(in);
	uint8_t lsel = take_u8(in);
	uint32_t len = lsel & 0x7f;

	if ((lsel & 0x80) && t > VEIL_LINK_MSG_NONE && t < VEIL_LINK_MSG_COUNT)
		len = want_size[t];
	take_bytes(in, payload, len);
	bool ok = valid_msg(t, dir, len);
	bool room = rte_ring_count(free_ring(r, dir)) > 0;
	struct veil_link_stats before, after;
	veil_link_get_stats(l, &before);
	errno = 0;
	int rc = veil_link_send(l, (enum veil_link_msg)t, payload, len);
	veil_link_get_stats(l, &after);
	if (!ok) {
		CHECK(rc == -1 && errno == EINVAL);
		CHECK(after.sent == before.sent && after.send_full == before.send_full);
	} else if (!room) {
		CHECK(rc == -1 && errno == EAGAIN);
		CHECK(after.send_full == before.send_full + 1);
	} else {
		CHECK(rc == 0 && after.sent == before.sent + 1);
	}
}

static void op_server(struct run *r, struct input *in)
{
	uint8_t o = take_u8(in);
	uint8_t flags = take_u8(in);
	char tenant[VEIL_LINK_TENANT_MAX + 8];
	size_t tl = take_u8(in) % sizeof(tenant); /* up to 71: too long too */
	uint8_t key[32];

	take_bytes(in, (uint8_t *)tenant, tl);
	tenant[tl] = '\0';
	uint32_t version = take_u32(in);
	memset(key, (int)(version & 0xff), sizeof(key));
	switch (o % 3) {
	case 0:
		veil_link_server_key_added(r->srv, tenant, version, flags & 1, key);
		break;
	case 1:
		veil_link_server_key_destroyed(r->srv, tenant, version);
		break;
	default:
		veil_link_server_tenant_state(r->srv, tenant,
					      (enum veil_link_tenant_state)(flags % 3));
		break;
	}
}

static char dir[64], sock_path[96];

static void remove_dir(void)
{
	unlink(sock_path);
	rmdir(dir);
}

/* A server on a socket of this process, and the dataplane's side attached
 * through the handshake, as veil-dataplane does it. */
static void start(struct run *r, struct fake_keys *keys)
{
	char err[300];
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/veil-fuzz-link-XXXXXX");
		CHECK(mkdtemp(dir) != NULL);
		snprintf(sock_path, sizeof(sock_path), "%s/link.sock", dir);
		atexit(remove_dir);
	}
	struct veil_link_server_opts o = {
		.socket_path = sock_path, .slots = r->nslots,
		.dataplane_uid = VEIL_LINK_UID_DEFAULT, .keys = fake_keys_fn,
		.ctx = keys, .log = quiet,
	};
	r->srv = veil_link_server_new(&o, err, sizeof(err));
	if (r->srv == NULL)
		fprintf(stderr, "fuzz_link: %s\n", err);
	CHECK(r->srv != NULL);
	int fd = veil_link_connect(sock_path, VEIL_LINK_UID_DEFAULT, NULL);
	CHECK(fd >= 0);
	veil_link_server_poll(r->srv);
	r->c = veil_link_server_link(r->srv);
	CHECK(r->c != NULL);
	r->d = veil_link_attach(fd); /* sent before the poll returned */
	CHECK(r->d != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct run r;
	struct fake_keys keys;

	memset(&r, 0, sizeof(r));
	uint8_t cfg = take_u8(&in);
	r.nslots = cfg & 1 ? 32 : 16;
	keys.n = (cfg >> 1) & 31; /* up to 31 keys: more than a ring holds */
	keys.fail = (cfg & 0xc0) == 0xc0;

	start(&r, &keys);
	open_raw(&r);

	for (int ops = 0; in.n > 0 && ops < MAX_OPS; ops++) {
		switch (take_u8(&in) % 8) {
		case 0:
			op_raw_slot(&r, DIR_UP, &in);
			break;
		case 1:
			op_raw_slot(&r, DIR_DOWN, &in);
			break;
		case 2:
			op_raw_index(&r, &in);
			break;
		case 3:
			op_poll(&r);
			break;
		case 4:
			op_drain(&r);
			break;
		case 5:
			op_send(&r, DIR_UP, &in);
			break;
		case 6:
			op_send(&r, DIR_DOWN, &in);
			break;
		default:
			op_server(&r, &in);
			break;
		}
	}

	/* Everything still in flight is received (or dropped): then each
	 * entry put in a ring was received exactly once, and no slot holds
	 * anything any more, keys in particular. */
	op_poll(&r);
	op_drain(&r);
	struct veil_link_stats cs, ds;
	veil_link_get_stats(r.c, &cs);
	veil_link_get_stats(r.d, &ds);
	CHECK(cs.received + cs.bad_msgs == r.raw_enq[DIR_UP] + ds.sent);
	CHECK(ds.received + ds.bad_msgs == r.raw_enq[DIR_DOWN] + cs.sent);
	for (int dir = 0; dir < 2; dir++)
		CHECK(all_zero(slot(&r, dir, 0), (size_t)r.nslots * LINK_SLOT_SIZE));

	munmap(r.raw, r.raw_size);
	veil_link_close(r.d);
	veil_link_server_free(r.srv);
	return 0;
}
