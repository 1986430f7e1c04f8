/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The controld <-> dataplane link (veil_link.h, docs/link-protocol.md).
 *
 * The region is an anonymous memfd that controld makes for each dataplane
 * it accepts on its link socket and hands over on that connection
 * (SCM_RIGHTS); the connection stays open so that each side sees the other
 * leave. Before it reads anything the dataplane checks who listens on the
 * socket (SO_PEERCRED); before it maps the fd it checks its seals and size.
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
#include <poll.h>
#include <pwd.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "veil_clock.h"
#include "link_pvt.h"
#include "veil_link.h"

enum { SIDE_CONTROLD = 0, SIDE_DATAPLANE = 1 };

struct veil_link {
	int side;
	int memfd;            /* controld: the region, for the handover */
	int sock;             /* the connection to the peer, or -1 */
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

#define ROW_NAME_(name, str) str,
static const char *const row_value_name[] = { VEIL_LINK_ROW_VALUE_LIST(ROW_NAME_) };

const char *veil_link_row_value_name(unsigned index)
{
	return index < VEIL_LINK_ROW_NVALUES ? row_value_name[index] : NULL;
}

const char *veil_link_msg_name(int type)
{
	if (type <= VEIL_LINK_MSG_NONE || type >= VEIL_LINK_MSG_COUNT)
		return "UNKNOWN";
	return msg_name[type];
}

static size_t align_up(size_t v)
{
	return (v + LINK_CACHE_LINE - 1) / LINK_CACHE_LINE * LINK_CACHE_LINE;
}

/* Compute the layout; returns the region size. */
static size_t layout(struct link_hdr *h, uint32_t nslots)
{
	size_t ring = align_up((size_t)rte_ring_get_memsize_elem(
		sizeof(uint32_t), nslots));
	size_t off = align_up(sizeof(struct link_hdr));

	for (int r = 0; r < 4; r++, off += ring)
		h->ring_off[r] = off;
	for (int d = 0; d < 2; d++, off += (size_t)nslots * LINK_SLOT_SIZE)
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

/* The seals a region must carry: its size is fixed for good. */
#define LINK_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

struct veil_link *veil_link_create(uint32_t slots)
{
	struct link_hdr tmp;
	struct veil_link *l;

	if (slots < 16 || slots > 65536 || (slots & (slots - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->side = SIDE_CONTROLD;
	l->sock = -1;
	memset(&tmp, 0, sizeof(tmp));
	size_t size = layout(&tmp, slots);

	/* anonymous: no name another user could have made first */
	l->memfd = memfd_create("veil-link", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (l->memfd < 0 || ftruncate(l->memfd, (off_t)size) != 0 ||
	    fcntl(l->memfd, F_ADD_SEALS, LINK_SEALS) != 0 ||
	    map_region(l, l->memfd, size) != 0) {
		int err = errno;
		if (l->memfd >= 0)
			close(l->memfd);
		free(l);
		errno = err;
		return NULL;
	}

	struct link_hdr *h = l->hdr;
	memcpy(h, &tmp, sizeof(tmp));
	h->proto = VEIL_LINK_PROTO;
	h->hdr_size = sizeof(*h);
	h->slot_size = LINK_SLOT_SIZE;
	h->nslots = slots;
	h->region_size = size;
	if (RAND_bytes((unsigned char *)&h->epoch, sizeof(h->epoch)) != 1)
		h->epoch = veil_now_ns();
	bind_ptrs(l, slots);
	for (int r = 0; r < 4; r++)
		rte_ring_init(l->ring[r], r < 2 ? "down" : "up", slots,
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	/* slot index 0 is never used, so a ring holds slots - 1 entries */
	for (uint32_t i = 1; i < slots; i++) {
		rte_ring_enqueue_elem(l->ring[1], &i, sizeof(i));
		rte_ring_enqueue_elem(l->ring[3], &i, sizeof(i));
	}
	atomic_store(&h->heartbeat_ns[SIDE_CONTROLD], veil_now_ns());
	__atomic_store_n(&h->magic, LINK_MAGIC, __ATOMIC_RELEASE);
	return l;
}

int veil_link_region_fd(const struct veil_link *l)
{
	return l->side == SIDE_CONTROLD ? l->memfd : -1;
}

int veil_link_offer(struct veil_link *l, int sock)
{
	struct veil_link_handshake hs = {
		.magic = VEIL_LINK_HS_MAGIC, .proto = VEIL_LINK_PROTO,
		.size = sizeof(hs), .region_size = l->size,
		.epoch = l->hdr->epoch,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = &hs, .iov_len = sizeof(hs) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };

	if (l->side != SIDE_CONTROLD || l->sock >= 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&cm, 0, sizeof(cm));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &l->memfd, sizeof(int));
	ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(hs)) {
		if (n >= 0)
			errno = EPROTO; /* a short write of 32 bytes: not a peer */
		return -1;
	}
	l->sock = sock;
	return 0;
}

int veil_link_parse_user(const char *value, int64_t *uid, char *err,
			 size_t errlen)
{
	char *end;

	if (value == NULL || value[0] == '\0') {
		snprintf(err, errlen, "a user name or a numeric uid");
		return -1;
	}
	if (value[0] >= '0' && value[0] <= '9') {
		errno = 0;
		unsigned long long n = strtoull(value, &end, 10);
		if (errno != 0 || *end != '\0' || n > 0xfffffffeull) {
			snprintf(err, errlen, "\"%.40s\" is not a uid (0 to "
				 "4294967294)", value);
			return -1;
		}
		*uid = (int64_t)n;
		return 0;
	}
	struct passwd *pw = getpwnam(value);
	if (pw == NULL) {
		snprintf(err, errlen, "no such user \"%.40s\"", value);
		return -1;
	}
	*uid = (int64_t)pw->pw_uid;
	return 0;
}

bool veil_link_uid_ok(int64_t want, uint32_t uid)
{
	if (want >= 0)
		return (int64_t)uid == want;
	return uid == 0 || uid == (uint32_t)geteuid();
}

int veil_link_connect(const char *path, int64_t controld_uid,
		      struct veil_link_cred *peer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* non-blocking: a full backlog is EAGAIN, never a wait */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (peer != NULL)
		*peer = (struct veil_link_cred){ (uint32_t)cr.pid,
						 (uint32_t)cr.uid,
						 (uint32_t)cr.gid };
	/* the uid of the process that listens, fixed when it called
	 * listen(): whoever made the socket file, only that counts */
	if (!veil_link_uid_ok(controld_uid, (uint32_t)cr.uid)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* The dataplane trusts nothing in the header it did not check. */
static int check_header(const struct link_hdr *h, size_t size)
{
	if (h->magic != LINK_MAGIC || h->proto != VEIL_LINK_PROTO ||
	    h->hdr_size != sizeof(*h) || h->slot_size != LINK_SLOT_SIZE ||
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

/* The largest region a valid header can describe. */
static size_t region_max(void)
{
	struct link_hdr h;
	memset(&h, 0, sizeof(h));
	return layout(&h, 65536);
}

/* Receive the handshake and its one fd; -1 with errno (EAGAIN: nothing
 * yet). Any other fd that came along is closed. */
static int recv_handshake(int sock, struct veil_link_handshake *hs, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = hs, .iov_len = sizeof(*hs) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	int nfds = 0;

	*fd = -1;
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -1; /* EAGAIN included */
	if (n == 0) {
		errno = ECONNRESET;
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
	     c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (nfds++ == 0)
				*fd = f;
			else
				close(f);
		}
	}
	if (n != (ssize_t)sizeof(*hs) || (mh.msg_flags & MSG_CTRUNC) ||
	    nfds != 1 || hs->magic != VEIL_LINK_HS_MAGIC ||
	    hs->proto != VEIL_LINK_PROTO || hs->size != sizeof(*hs)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* The fd is a sealed region of the size the handshake says: nobody can
 * shrink it under our mapping (SIGBUS) or change that later. */
static bool region_fd_ok(int fd, uint64_t size)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & LINK_SEALS) == LINK_SEALS &&
	       !(seals & F_SEAL_WRITE) && fstat(fd, &st) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
	       size >= sizeof(struct link_hdr) && size <= region_max();
}

struct veil_link *veil_link_attach(int sock)
{
	struct veil_link_handshake hs;
	struct veil_link *l;
	int fd;

	if (recv_handshake(sock, &hs, &fd) != 0)
		return NULL;
	if (!region_fd_ok(fd, hs.region_size)) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return NULL;
	}
	l->side = SIDE_DATAPLANE;
	l->memfd = -1;
	l->sock = -1;
	int rc = map_region(l, fd, (size_t)hs.region_size);
	int err = errno;
	close(fd);
	if (rc != 0) {
		free(l);
		errno = err;
		return NULL;
	}
	if (check_header(l->hdr, l->size) != 0 || l->hdr->epoch != hs.epoch) {
		munlock(l->base, l->size);
		munmap(l->base, l->size);
		free(l);
		errno = EPROTO;
		return NULL;
	}
	bind_ptrs(l, l->hdr->nslots); /* checked just above */
	l->sock = sock;
	veil_link_heartbeat(l);
	return l;
}

void veil_link_close(struct veil_link *l)
{
	if (l == NULL)
		return;
	if (l->side == SIDE_CONTROLD) {
		atomic_store(&l->hdr->closed, 1);
		/* wipe every slot: some may still hold keys not yet received */
		explicit_bzero(l->base + l->slot_off[0],
			       (size_t)2 * l->nslots * LINK_SLOT_SIZE);
		close(l->memfd);
	}
	if (l->sock >= 0)
		close(l->sock);
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
	atomic_store(&l->hdr->heartbeat_ns[l->side], veil_now_ns());
}

uint64_t veil_link_peer_age_ms(const struct veil_link *l)
{
	uint64_t t = atomic_load(&l->hdr->heartbeat_ns[1 - l->side]);
	uint64_t now = veil_now_ns();
	if (t == 0)
		return UINT64_MAX;
	return now > t ? (now - t) / 1000000u : 0;
}

bool veil_link_stale(const struct veil_link *l)
{
	if (l->side == SIDE_DATAPLANE && atomic_load(&l->hdr->closed))
		return true;
	if (l->sock < 0)
		return false; /* not handed over yet */
	struct pollfd p = { .fd = l->sock, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		return true;
	/* nothing is sent on the connection after the handshake: its end,
	 * or bytes the protocol does not have (peeked: no fd is taken) */
	char c;
	ssize_t n = recv(l->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

uint64_t veil_link_epoch(const struct veil_link *l)
{
	return l->hdr->epoch;
}

void veil_link_get_stats(const struct veil_link *l, struct veil_link_stats *st)
{
	*st = l->st;
}
