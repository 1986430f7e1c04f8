/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The controld <-> dataplane link (veil_link.h, docs/link-protocol.md).
 *
 * Region layout (offsets from the start, all cache-line aligned):
 *   struct link_hdr
 *   ring down       indices of filled down slots  (controld -> dataplane)
 *   ring down_free  indices of free down slots    (dataplane -> controld)
 *   ring up, ring up_free                          (the other way)
 *   slots down[n], slots up[n]
 * rte_rings hold only 32-bit slot indices and the ring memory follows its
 * header, so the region works at a different address in each process. Only
 * the sender writes a free slot; only the receiver reads a filled one.
 *
 * Each side trusts nothing the other can write: the slot count and offsets
 * are kept privately (checked once at attach), and each ring's geometry is
 * compared with the private copy before every use, so a corrupted header
 * makes the link fail (EPROTO) instead of reaching outside the region.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "veil_link.h"

#define LINK_MAGIC 0x4b4e4c56u /* "VLNK" */
#define CACHE_LINE 64
#define SLOT_SIZE  256

enum { SIDE_CONTROLD = 0, SIDE_DATAPLANE = 1 };
enum { DIR_DOWN = 0, DIR_UP = 1 };

struct link_slot {
	uint16_t type;
	uint16_t proto;
	uint32_t len;
	uint64_t seq;
	uint8_t reserved[8];
	uint8_t payload[VEIL_LINK_PAYLOAD_MAX];
};
_Static_assert(sizeof(struct link_slot) == SLOT_SIZE, "slot size");

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
	alignas(CACHE_LINE) _Atomic uint64_t heartbeat_ns[2]; /* by side */
};

struct veil_link {
	int side;
	char name[64];
	uint8_t *base;
	size_t size;
	struct link_hdr *hdr;
	struct rte_ring *ring[4];
	struct link_slot *slots[2];
	uint32_t nslots;      /* private copies of the geometry */
	uint32_t ring_mask;
	uint32_t ring_capacity;
	size_t slot_off[2];
	uint64_t seq;
	struct veil_link_stats st;
};

#define SIZE_(name, dir, type) [VEIL_LINK_MSG_##name] = sizeof(type),
#define DIR_(name, dir, type) [VEIL_LINK_MSG_##name] = DIR_##dir,
#define NAME_(name, dir, type) [VEIL_LINK_MSG_##name] = #name,
static const uint32_t msg_size[VEIL_LINK_MSG_COUNT] = { VEIL_LINK_MSG_LIST(SIZE_) };
static const uint8_t msg_dir[VEIL_LINK_MSG_COUNT] = { VEIL_LINK_MSG_LIST(DIR_) };
static const char *const msg_name[VEIL_LINK_MSG_COUNT] = { VEIL_LINK_MSG_LIST(NAME_) };
#define CHECK_(name, dir, type) \
	_Static_assert(sizeof(type) <= VEIL_LINK_PAYLOAD_MAX, #name " fits");
VEIL_LINK_MSG_LIST(CHECK_)

#define CTR_NAME_(name, str) str,
static const char *const counter_name[] = { VEIL_LINK_COUNTER_LIST(CTR_NAME_) };

const char *veil_link_counter_name(unsigned index)
{
	return index < VEIL_LINK_CTR_COUNT ? counter_name[index] : NULL;
}

const char *veil_link_msg_name(int type)
{
	if (type <= VEIL_LINK_MSG_NONE || type >= VEIL_LINK_MSG_COUNT)
		return "UNKNOWN";
	return msg_name[type];
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t align_up(size_t v)
{
	return (v + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
}

static int shm_path(char *dst, size_t cap, const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 48 || strchr(name, '/') != NULL)
		return -1;
	snprintf(dst, cap, "/%s", name);
	return 0;
}

/* Compute the layout; returns the region size. */
static size_t layout(struct link_hdr *h, uint32_t nslots)
{
	size_t ring = align_up((size_t)rte_ring_get_memsize_elem(
		sizeof(uint32_t), nslots));
	size_t off = align_up(sizeof(struct link_hdr));

	for (int r = 0; r < 4; r++, off += ring)
		h->ring_off[r] = off;
	for (int d = 0; d < 2; d++, off += (size_t)nslots * SLOT_SIZE)
		h->slot_off[d] = off;
	return off;
}

/* Point into the region using a layout computed here, never the one the
 * region says. */
static void bind_ptrs(struct veil_link *l, uint32_t nslots)
{
	struct link_hdr want;
	memset(&want, 0, sizeof(want));
	layout(&want, nslots);
	l->nslots = nslots;
	l->ring_mask = nslots - 1;
	l->ring_capacity = nslots - 1;
	for (int r = 0; r < 4; r++)
		l->ring[r] = (struct rte_ring *)(l->base + want.ring_off[r]);
	for (int d = 0; d < 2; d++) {
		l->slot_off[d] = want.slot_off[d];
		l->slots[d] = (struct link_slot *)(l->base + want.slot_off[d]);
	}
}

/* The shared ring header still has the geometry it was made with. */
static bool ring_ok(struct veil_link *l, int r)
{
	const struct rte_ring *rg = l->ring[r];
	if (rg->mask == l->ring_mask && rg->size == l->nslots &&
	    rg->capacity == l->ring_capacity &&
	    rg->flags == (RING_F_SP_ENQ | RING_F_SC_DEQ))
		return true;
	l->st.bad_msgs++;
	errno = EPROTO;
	return false;
}

static int map_region(struct veil_link *l, int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	if (mlock(p, size) != 0 || madvise(p, size, MADV_DONTDUMP) != 0) {
		int err = errno;
		munmap(p, size);
		errno = err;
		return -1;
	}
	l->base = p;
	l->size = size;
	l->hdr = p;
	return 0;
}

struct veil_link *veil_link_create(const char *name, uint32_t slots)
{
	char path[64];
	struct link_hdr tmp;
	struct veil_link *l;
	int fd;

	if (name == NULL || shm_path(path, sizeof(path), name) != 0 ||
	    slots < 16 || slots > 65536 || (slots & (slots - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->side = SIDE_CONTROLD;
	snprintf(l->name, sizeof(l->name), "%s", path);
	memset(&tmp, 0, sizeof(tmp));
	size_t size = layout(&tmp, slots);

	/* A region left by a controld that died: replace it. A dataplane
	 * still mapping it sees it as stale (heartbeat stops). */
	shm_unlink(path);
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
	    map_region(l, fd, size) != 0) {
		int err = errno;
		if (fd >= 0) {
			close(fd);
			shm_unlink(path);
		}
		free(l);
		errno = err;
		return NULL;
	}
	close(fd);

	struct link_hdr *h = l->hdr;
	memcpy(h, &tmp, sizeof(tmp));
	h->proto = VEIL_LINK_PROTO;
	h->hdr_size = sizeof(*h);
	h->slot_size = SLOT_SIZE;
	h->nslots = slots;
	h->region_size = size;
	if (RAND_bytes((unsigned char *)&h->epoch, sizeof(h->epoch)) != 1)
		h->epoch = now_ns();
	bind_ptrs(l, slots);
	for (int r = 0; r < 4; r++)
		rte_ring_init(l->ring[r], r < 2 ? "down" : "up", slots,
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	/* slot index 0 is never used, so a ring holds slots - 1 entries */
	for (uint32_t i = 1; i < slots; i++) {
		rte_ring_enqueue_elem(l->ring[1], &i, sizeof(i));
		rte_ring_enqueue_elem(l->ring[3], &i, sizeof(i));
	}
	atomic_store(&h->heartbeat_ns[SIDE_CONTROLD], now_ns());
	__atomic_store_n(&h->magic, LINK_MAGIC, __ATOMIC_RELEASE);
	return l;
}

/* The dataplane trusts nothing in the header it did not check. */
static int check_header(const struct link_hdr *h, size_t size)
{
	if (h->magic != LINK_MAGIC || h->proto != VEIL_LINK_PROTO ||
	    h->hdr_size != sizeof(*h) || h->slot_size != SLOT_SIZE ||
	    h->region_size != size || h->nslots < 16 || h->nslots > 65536 ||
	    (h->nslots & (h->nslots - 1)) != 0)
		return -1;
	struct link_hdr want;
	memset(&want, 0, sizeof(want));
	if (layout(&want, h->nslots) != size)
		return -1;
	return memcmp(want.ring_off, h->ring_off, sizeof(want.ring_off)) ||
	       memcmp(want.slot_off, h->slot_off, sizeof(want.slot_off)) ? -1 : 0;
}

struct veil_link *veil_link_attach(const char *name)
{
	char path[64];
	struct stat stt;
	struct veil_link *l;

	if (name == NULL || shm_path(path, sizeof(path), name) != 0) {
		errno = EINVAL;
		return NULL;
	}
	int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &stt) != 0 || (size_t)stt.st_size < sizeof(struct link_hdr)) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return NULL;
	}
	l->side = SIDE_DATAPLANE;
	snprintf(l->name, sizeof(l->name), "%s", path);
	int rc = map_region(l, fd, (size_t)stt.st_size);
	int err = errno;
	close(fd);
	if (rc != 0) {
		free(l);
		errno = err;
		return NULL;
	}
	if (check_header(l->hdr, l->size) != 0) {
		munmap(l->base, l->size);
		free(l);
		errno = EPROTO;
		return NULL;
	}
	bind_ptrs(l, l->hdr->nslots); /* checked just above */
	veil_link_heartbeat(l);
	return l;
}

void veil_link_close(struct veil_link *l)
{
	if (l == NULL)
		return;
	if (l->side == SIDE_CONTROLD) {
		atomic_store(&l->hdr->closed, 1);
		shm_unlink(l->name);
		/* wipe every slot: some may still hold keys not yet received */
		explicit_bzero(l->base + l->slot_off[0],
			       (size_t)2 * l->nslots * SLOT_SIZE);
	}
	munlock(l->base, l->size);
	munmap(l->base, l->size);
	free(l);
}

int veil_link_send(struct veil_link *l, enum veil_link_msg type,
		   const void *payload, uint32_t len)
{
	int dir = l->side == SIDE_CONTROLD ? DIR_DOWN : DIR_UP;
	uint32_t idx;

	if (type <= VEIL_LINK_MSG_NONE || type >= VEIL_LINK_MSG_COUNT ||
	    msg_dir[type] != dir || len != msg_size[type]) {
		errno = EINVAL;
		return -1;
	}
	if (!ring_ok(l, dir * 2 + 1) || !ring_ok(l, dir * 2))
		return -1;
	if (rte_ring_dequeue_elem(l->ring[dir * 2 + 1], &idx, sizeof(idx)) != 0) {
		l->st.send_full++;
		errno = EAGAIN;
		return -1;
	}
	if (idx == 0 || idx >= l->nslots) {
		l->st.bad_msgs++; /* the peer returned a bad free index */
		errno = EPROTO;
		return -1;
	}
	struct link_slot *s = &l->slots[dir][idx];
	s->type = (uint16_t)type;
	s->proto = VEIL_LINK_PROTO;
	s->len = len;
	s->seq = ++l->seq;
	memcpy(s->payload, payload, len);
	/* the ring's enqueue is a release: the slot is written before */
	if (rte_ring_enqueue_elem(l->ring[dir * 2], &idx, sizeof(idx)) != 0) {
		/* only a peer that returned an index twice fills this ring:
		 * the message is not sent, and its slot (maybe a key) is wiped */
		explicit_bzero(s, sizeof(*s));
		l->st.bad_msgs++;
		errno = EPROTO;
		return -1;
	}
	l->st.sent++;
	return 0;
}

int veil_link_recv(struct veil_link *l, enum veil_link_msg *type, void *buf,
		   uint32_t *len)
{
	int dir = l->side == SIDE_CONTROLD ? DIR_UP : DIR_DOWN;
	uint32_t idx;

	if (!ring_ok(l, dir * 2) || !ring_ok(l, dir * 2 + 1))
		return -1;
	if (rte_ring_dequeue_elem(l->ring[dir * 2], &idx, sizeof(idx)) != 0)
		return 0;
	if (idx == 0 || idx >= l->nslots) {
		/* a broken index cannot be returned to the free ring */
		l->st.bad_msgs++;
		errno = EPROTO;
		return -1;
	}
	struct link_slot *s = &l->slots[dir][idx];
	uint16_t t = s->type;
	uint32_t n = s->len;
	int rc = 1;
	if (s->proto != VEIL_LINK_PROTO || t <= VEIL_LINK_MSG_NONE ||
	    t >= VEIL_LINK_MSG_COUNT || msg_dir[t] != dir || n != msg_size[t]) {
		l->st.bad_msgs++;
		errno = EPROTO;
		rc = -1;
	} else {
		memcpy(buf, s->payload, n);
		*type = (enum veil_link_msg)t;
		*len = n;
		l->st.received++;
	}
	explicit_bzero(s, sizeof(*s));
	if (rte_ring_enqueue_elem(l->ring[dir * 2 + 1], &idx, sizeof(idx)) != 0)
		l->st.bad_msgs++; /* a duplicate index from the peer: dropped */
	return rc;
}

void veil_link_heartbeat(struct veil_link *l)
{
	atomic_store(&l->hdr->heartbeat_ns[l->side], now_ns());
}

uint64_t veil_link_peer_age_ms(const struct veil_link *l)
{
	uint64_t t = atomic_load(&l->hdr->heartbeat_ns[1 - l->side]);
	uint64_t now = now_ns();
	if (t == 0)
		return UINT64_MAX;
	return now > t ? (now - t) / 1000000u : 0;
}

bool veil_link_stale(const struct veil_link *l)
{
	if (atomic_load(&l->hdr->closed))
		return true;
	/* a restarted controld made a new region under the same name */
	struct stat a;
	int fd = shm_open(l->name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false; /* controld gone, not yet back: keep serving */
	bool replaced = false;
	struct link_hdr h;
	if (fstat(fd, &a) == 0 && (size_t)a.st_size >= sizeof(h) &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h))
		replaced = h.epoch != l->hdr->epoch;
	close(fd);
	return replaced;
}

uint64_t veil_link_epoch(const struct veil_link *l)
{
	return l->hdr->epoch;
}

void veil_link_get_stats(const struct veil_link *l, struct veil_link_stats *st)
{
	*st = l->st;
}
