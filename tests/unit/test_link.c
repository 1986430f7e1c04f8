/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The controld <-> dataplane link: both sides in one process, each with its
 * own mapping of the region, as two processes would have; the region handed
 * over on a real Unix socket (a socketpair, or the link server's listening
 * socket), with the checks of both sides. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_skip.h"
#include "veil_link.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/veil-link-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* reachable by an unprivileged child (the uid test) */
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/link.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct veil_link_key sample_key(const char *tenant, uint32_t v)
{
	struct veil_link_key k;
	memset(&k, 0, sizeof(k));
	snprintf(k.tenant, sizeof(k.tenant), "%s", tenant);
	k.version = v;
	k.current = 1;
	for (int i = 0; i < 32; i++)
		k.key[i] = (uint8_t)(0xa0 + i);
	return k;
}

/* controld's region handed to a dataplane over a socketpair. */
static void pair(uint32_t slots, struct veil_link **c, struct veil_link **d)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*c = veil_link_create(slots);
	assert_non_null(*c);
	assert_int_equal(veil_link_offer(*c, sv[0]), 0);
	*d = veil_link_attach(sv[1]);
	assert_non_null(*d);
}

/* Map controld's region once more and look for a byte string in it. */
static long find_in_region(struct veil_link *c, const void *needle, size_t n)
{
	struct stat st;
	int fd = veil_link_region_fd(c);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	long at = -1;
	for (size_t i = 0; i + n <= (size_t)st.st_size; i++)
		if (memcmp(p + i, needle, n) == 0) {
			at = (long)i;
			break;
		}
	munmap(p, (size_t)st.st_size);
	return at;
}

static void test_key_roundtrip_and_wipe(void **state)
{
	(void)state;
	struct veil_link *c, *d;
	pair(64, &c, &d);
	assert_int_equal(veil_link_epoch(c), veil_link_epoch(d));

	struct veil_link_key k = sample_key("acme", 3);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);
	/* the key is in the region while in flight */
	assert_true(find_in_region(c, k.key, sizeof(k.key)) >= 0);

	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type = VEIL_LINK_MSG_NONE;
	uint32_t len = 0;
	assert_int_equal(veil_link_recv(d, &type, buf, &len), 1);
	assert_int_equal(type, VEIL_LINK_MSG_KEY_ADD);
	assert_int_equal(len, sizeof(k));
	assert_memory_equal(buf, &k, sizeof(k));
	/* ... and gone from it once received */
	assert_int_equal(find_in_region(c, k.key, sizeof(k.key)), -1);
	assert_int_equal(veil_link_recv(d, &type, buf, &len), 0);

	/* the other way */
	struct veil_link_hello h = { .pid = 1234, .workers = 2 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	assert_int_equal(veil_link_recv(c, &type, buf, &len), 1);
	assert_int_equal(type, VEIL_LINK_MSG_HELLO);
	assert_memory_equal(buf, &h, sizeof(h));

	struct veil_link_stats st;
	veil_link_get_stats(c, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.received, 1);
	veil_link_close(d);
	veil_link_close(c);
}

static void test_send_checks(void **state)
{
	(void)state;
	struct veil_link *c, *d;
	pair(16, &c, &d);
	struct veil_link_key k = sample_key("acme", 1);
	struct veil_link_hello h = { 1, 1 };

	/* direction and length are checked before anything is written */
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k) - 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(veil_link_send(c, (enum veil_link_msg)99, &k, sizeof(k)), -1);
	assert_int_equal(errno, EINVAL);

	/* 16 slots, slot 0 unused: 15 in flight, then the ring is full */
	for (int i = 0; i < 15; i++)
		assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), -1);
	assert_int_equal(errno, EAGAIN);
	struct veil_link_stats st;
	veil_link_get_stats(c, &st);
	assert_int_equal(st.send_full, 1);

	/* draining frees the slots again */
	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type;
	uint32_t len;
	for (int i = 0; i < 15; i++)
		assert_int_equal(veil_link_recv(d, &type, buf, &len), 1);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);
	veil_link_close(d);
	veil_link_close(c);
}

static void test_corrupt_message_dropped(void **state)
{
	(void)state;
	struct veil_link *c, *d;
	pair(16, &c, &d);
	struct veil_link_key k = sample_key("corruptme", 9);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);

	/* Corrupt the slot's protocol version through a third mapping: the
	 * slot header is 24 bytes before the payload (type, proto, len). */
	long at = find_in_region(c, "corruptme", 9);
	assert_true(at >= 24);
	uint16_t bad = 77;
	assert_int_equal(pwrite(veil_link_region_fd(c), &bad, 2, at - 24 + 2), 2);

	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type;
	uint32_t len;
	assert_int_equal(veil_link_recv(d, &type, buf, &len), -1);
	assert_int_equal(errno, EPROTO);
	struct veil_link_stats st;
	veil_link_get_stats(d, &st);
	assert_int_equal(st.bad_msgs, 1);
	/* the dropped key was wiped too */
	assert_int_equal(find_in_region(c, k.key, sizeof(k.key)), -1);
	veil_link_close(d);
	veil_link_close(c);
}

/* Each side sees the other leave by the connection's end. */
static void test_stale_by_connection(void **state)
{
	(void)state;
	struct veil_link *c, *d;
	pair(16, &c, &d);
	assert_false(veil_link_stale(d));
	assert_false(veil_link_stale(c));
	assert_true(veil_link_peer_age_ms(d) < 10000);
	veil_link_close(d); /* the dataplane exits */
	assert_true(veil_link_stale(c));
	veil_link_close(c);

	pair(16, &c, &d);
	veil_link_close(c); /* controld stops */
	assert_true(veil_link_stale(d));
	veil_link_close(d);
}

static void test_region_locked_and_not_dumped(void **state)
{
	(void)state;
	struct veil_link *c = veil_link_create(64);
	assert_non_null(c);
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	char line[512];
	bool in = false, locked = false, dd = false;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strstr(line, "memfd:veil-link"))
			in = true;
		else if (in && strncmp(line, "Locked:", 7) == 0)
			locked = strtoul(line + 7, NULL, 10) > 0;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			dd = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	assert_true(in);
	assert_true(dd);
#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
	/* ASan turns mlock() into a no-op: only the normal build can tell */
	skip_part("region locked", "AddressSanitizer makes mlock() a no-op");
	locked = true;
#endif
#endif
	assert_true(locked);
	/* the region's size is sealed, and so are the seals */
	int seals = fcntl(veil_link_region_fd(c), F_GET_SEALS);
	assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(ftruncate(veil_link_region_fd(c), 4096), -1);
	veil_link_close(c);
}

/* ---- the handshake's checks on the dataplane's side ---- */

/* Send a handshake and nfds copies of fd (fd < 0: none). */
static void send_hs(int sock, const struct veil_link_handshake *hs, int fd,
		    int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)hs, .iov_len = sizeof(*hs) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	memset(&cm, 0, sizeof(cm));
	if (fd >= 0) {
		int fds[2] = { fd, fd };
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)sizeof(*hs));
}

/* A copy of a real region's bytes in a new memfd: sealed with @p seals,
 * @p extra bytes longer. */
static int copy_region(struct veil_link *c, int seals, off_t extra)
{
	struct stat st;
	int src = veil_link_region_fd(c);
	assert_int_equal(fstat(src, &st), 0);
	int fd = memfd_create("not-veil", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, st.st_size + extra), 0);
	uint8_t *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(pread(src, buf, (size_t)st.st_size, 0), st.st_size);
	assert_int_equal(pwrite(fd, buf, (size_t)st.st_size, 0), st.st_size);
	free(buf);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* Offer a handshake and fd on a socketpair; @return the attach's errno
 * (0: attached, and detached again). */
static int try_attach(const struct veil_link_handshake *hs, int fd, int nfds)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	send_hs(sv[0], hs, fd, nfds);
	errno = 0;
	struct veil_link *d = veil_link_attach(sv[1]);
	int err = d ? 0 : errno;
	if (d != NULL)
		veil_link_close(d); /* closes sv[1] */
	else
		close(sv[1]);
	close(sv[0]);
	return err;
}

static void test_attach_refuses_bad_regions(void **state)
{
	(void)state;
	struct veil_link *c = veil_link_create(16);
	assert_non_null(c);
	struct stat st;
	assert_int_equal(fstat(veil_link_region_fd(c), &st), 0);
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct veil_link_handshake hs = {
		.magic = VEIL_LINK_HS_MAGIC, .proto = VEIL_LINK_PROTO,
		.size = sizeof(hs), .region_size = (uint64_t)st.st_size,
		.epoch = veil_link_epoch(c),
	};

	/* the same bytes, sealed: taken (the harness itself is right) */
	int good = copy_region(c, seals, 0);
	assert_int_equal(try_attach(&hs, good, 1), 0);

	/* not sealed: whoever has the fd could shrink it under the mapping */
	int open_fd = copy_region(c, 0, 0);
	assert_int_equal(try_attach(&hs, open_fd, 1), EPROTO);
	/* sealed against shrinking only: it could still be grown, resealed */
	int half = copy_region(c, F_SEAL_SHRINK, 0);
	assert_int_equal(try_attach(&hs, half, 1), EPROTO);
	/* a size other than the handshake's */
	int longer = copy_region(c, seals, 4096);
	assert_int_equal(try_attach(&hs, longer, 1), EPROTO);
	struct veil_link_handshake hs2 = hs;
	hs2.region_size += 4096;
	assert_int_equal(try_attach(&hs2, longer, 1), EPROTO); /* header's size */
	/* another epoch than the header's */
	hs2 = hs;
	hs2.epoch ^= 1;
	assert_int_equal(try_attach(&hs2, good, 1), EPROTO);
	/* another protocol, another magic */
	hs2 = hs;
	hs2.proto = VEIL_LINK_PROTO + 1;
	assert_int_equal(try_attach(&hs2, good, 1), EPROTO);
	hs2 = hs;
	hs2.magic = 0;
	assert_int_equal(try_attach(&hs2, good, 1), EPROTO);
	/* no fd, two fds, a pipe */
	assert_int_equal(try_attach(&hs, -1, 0), EPROTO);
	assert_int_equal(try_attach(&hs, good, 2), EPROTO);
	int pp[2];
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(try_attach(&hs, pp[0], 1), EPROTO);
	close(pp[0]);
	close(pp[1]);

	/* nothing yet is EAGAIN; a closed connection is ECONNRESET */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_null(veil_link_attach(sv[1]));
	assert_int_equal(errno, EAGAIN);
	close(sv[0]);
	assert_null(veil_link_attach(sv[1]));
	assert_int_equal(errno, ECONNRESET);
	close(sv[1]);

	close(good);
	close(open_fd);
	close(half);
	close(longer);
	veil_link_close(c);
}

/* ---- the server side ---- */

/* controld's key store as the server sees it: tenants in id order, each
 * with its current version and whether it is locked. */
struct fake_tenant {
	char id[VEIL_LINK_TENANT_MAX + 1];
	uint32_t current;
	bool locked;
};

struct fake_store {
	unsigned n;
	struct fake_tenant *t; /* sorted by id */
	bool fail;
	unsigned calls;
};

/* The key of a tenant's version: distinct for each, checkable. */
static void key_of(const char *tenant, uint32_t version, uint8_t key[32])
{
	uint32_t h = 2166136261u;
	for (const char *p = tenant; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(h >> (i % 4 * 8)) ^ (uint8_t)(version * 31 + i);
}

/* @p n tenants t00000, t00001, ... at version 1; or, with @p one, that
 * tenant only, at version @p version. */
static void store_init(struct fake_store *st, unsigned n, const char *one,
		       uint32_t version)
{
	memset(st, 0, sizeof(*st));
	st->n = one ? 1 : n;
	st->t = calloc(st->n ? st->n : 1, sizeof(*st->t));
	assert_non_null(st->t);
	for (unsigned i = 0; i < st->n; i++) {
		if (one)
			snprintf(st->t[i].id, sizeof(st->t[i].id), "%s", one);
		else
			snprintf(st->t[i].id, sizeof(st->t[i].id), "t%05u", i);
		st->t[i].current = one ? version : 1;
	}
}

/* The keys callback: what ctl_link_keys does over SQLite, over the array. */
static int fake_keys(void *ctx, const char *after, uint32_t after_version,
		     unsigned max, veil_link_emit_fn emit, void *arg)
{
	struct fake_store *st = ctx;
	st->calls++;
	if (st->fail)
		return -1;
	unsigned lo = 0, hi = st->n, n = 0;
	while (lo < hi) { /* the first id >= after */
		unsigned mid = (lo + hi) / 2;
		if (strcmp(st->t[mid].id, after) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (unsigned i = lo; i < st->n && n < max; i++) {
		const struct fake_tenant *t = &st->t[i];
		if (!strcmp(t->id, after) && t->current <= after_version)
			continue;
		uint8_t key[32];
		key_of(t->id, t->current, key);
		n++;
		if (emit(arg, t->id, t->current, true, t->locked, key) != 0)
			break;
	}
	return 0;
}

static char last_log[400];
static unsigned n_logs;

static void keep_log(void *ctx, const char *msg)
{
	(void)ctx;
	snprintf(last_log, sizeof(last_log), "%s", msg);
	n_logs++;
}

static struct veil_link_server *server(struct fake_store *st, uint32_t slots,
				       int64_t dataplane_uid)
{
	char err[400];
	struct veil_link_server_opts o = {
		.socket_path = path, .slots = slots, .dataplane_uid = dataplane_uid,
		.keys = fake_keys, .ctx = st, .log = keep_log,
	};
	struct veil_link_server *srv = veil_link_server_new(&o, err, sizeof(err));
	if (srv == NULL)
		fail_msg("veil_link_server_new: %s", err);
	return srv;
}

/* The dataplane's way in: connect (controld's uid checked), then the
 * region, once the server took the connection. */
static struct veil_link *dataplane(struct veil_link_server *srv)
{
	struct veil_link_cred who;
	int fd = veil_link_connect(path, VEIL_LINK_UID_DEFAULT, &who);
	assert_true(fd >= 0);
	assert_int_equal(who.uid, geteuid());
	assert_int_equal(who.pid, getpid());
	struct veil_link *d = NULL;
	for (int i = 0; i < 100 && d == NULL; i++) {
		veil_link_server_poll(srv);
		d = veil_link_attach(fd);
		if (d == NULL)
			assert_int_equal(errno, EAGAIN);
	}
	assert_non_null(d);
	return d;
}

/* Drain the client; count KEY_ADDs and SYNC_DONEs. */
static void drain(struct veil_link *d, unsigned *adds, unsigned *syncs,
		  unsigned *destroys, uint32_t *last_version)
{
	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type;
	uint32_t len;
	while (veil_link_recv(d, &type, buf, &len) == 1) {
		if (type == VEIL_LINK_MSG_KEY_ADD) {
			(*adds)++;
			*last_version = ((struct veil_link_key *)buf)->version;
		} else if (type == VEIL_LINK_MSG_SYNC_DONE)
			(*syncs)++;
		else if (type == VEIL_LINK_MSG_KEY_DESTROY)
			(*destroys)++;
	}
}

/* A dataplane that sends nothing (no message, no heartbeat) for longer
 * than watchdog_ms is dropped as silent, and shown so until the next one
 * connects; one that heartbeats is kept. */
static void test_server_watchdog_drops_silent(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 1, "acme", 1);
	char err[400];
	struct veil_link_server_opts o = {
		.socket_path = path, .slots = 64,
		.dataplane_uid = VEIL_LINK_UID_DEFAULT, .watchdog_ms = 500,
		.keys = fake_keys, .ctx = &st, .log = keep_log,
	};
	struct veil_link_server *srv = veil_link_server_new(&o, err, sizeof(err));
	assert_non_null(srv);
	struct veil_link *d = dataplane(srv);
	struct veil_link_server_status ss;
	/* beating: kept, for several watchdog periods */
	for (int i = 0; i < 40; i++) {
		veil_link_heartbeat(d);
		veil_link_server_poll(srv);
		usleep(50000);
	}
	veil_link_server_status(srv, &ss);
	assert_true(ss.connected);
	assert_false(ss.silent);
	assert_int_equal(ss.silent_drops, 0);
	assert_int_equal(ss.watchdog_ms, 500);
	/* silent: dropped, its region closed */
	for (int i = 0; i < 200 && ss.connected; i++) {
		usleep(50000);
		veil_link_server_poll(srv);
		veil_link_server_status(srv, &ss);
	}
	assert_false(ss.connected);
	assert_true(ss.silent);
	assert_int_equal(ss.silent_drops, 1);
	assert_non_null(strstr(last_log, "was silent for"));
	assert_true(veil_link_stale(d));
	veil_link_close(d);
	/* it (or its successor) connects again: no longer silent */
	d = dataplane(srv);
	veil_link_server_status(srv, &ss);
	assert_true(ss.connected);
	assert_false(ss.silent);
	assert_int_equal(ss.silent_drops, 1);
	veil_link_close(d);
	veil_link_server_free(srv);
	free(st.t);
}

static void test_server_resync_and_changes(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 1, "acme", 3);
	struct veil_link_server *srv = server(&st, 64, VEIL_LINK_UID_DEFAULT);
	uint8_t key[32] = { 0 };
	struct veil_link_server_status ss;

	veil_link_server_status(srv, &ss);
	assert_false(ss.connected || ss.seen);
	assert_int_equal(ss.last_contact_ms, -1);
	/* no dataplane yet: changes are not sent (a HELLO brings them all) */
	veil_link_server_key_added(srv, "acme", 4, true, key);
	struct veil_link *d = dataplane(srv);
	unsigned adds = 0, syncs = 0, destroys = 0;
	uint32_t last = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 0);
	veil_link_server_status(srv, &ss);
	assert_true(ss.connected);
	assert_false(ss.synced);
	assert_int_equal(ss.peer.pid, getpid());
	assert_int_equal(ss.peer.uid, geteuid());
	assert_int_equal(ss.connections, 1);

	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	assert_int_equal(veil_link_server_poll(srv), 1);
	assert_true(veil_link_server_synced(srv));
	drain(d, &adds, &syncs, &destroys, &last);
	/* the current version only: the dataplane encrypts with nothing else */
	assert_int_equal(adds, 1);
	assert_int_equal(last, 3);
	assert_int_equal(syncs, 1);

	/* a roll and a destruction go down as they happen */
	veil_link_server_key_added(srv, "acme", 4, true, key);
	veil_link_server_key_destroyed(srv, "acme", 1);
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 2);
	assert_int_equal(last, 4);
	assert_int_equal(destroys, 1);

	/* counters come up */
	struct veil_link_counters c = { .worker = 1, .n = 2, .value = { 10, 20 } };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_COUNTERS, &c, sizeof(c)), 0);
	veil_link_server_poll(srv);
	const struct veil_link_worker_counters *w = veil_link_server_counters(srv, 1);
	assert_non_null(w);
	assert_int_equal(w->value[1], 20);
	assert_null(veil_link_server_counters(srv, 0));
	veil_link_server_status(srv, &ss);
	assert_true(ss.synced && ss.last_contact_ms >= 0);

	/* rows of upstreams and listeners: kept by kind and index, texts end
	 * in a NUL whatever came, rows beyond a kind's count go, bad ones
	 * are ignored */
	struct veil_link_row r;
	memset(&r, 'x', sizeof(r));
	r.kind = VEIL_LINK_ROW_UPSTREAM;
	r.index = 1;
	r.count = 2;
	r.state = VEIL_LINK_UP_CONNECTED;
	r.value[VEIL_LINK_ROW_DELIVERED] = 77;
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_ROW, &r, sizeof(r)), 0);
	struct veil_link_row bad = r;
	bad.index = 2; /* not below its count */
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_ROW, &bad, sizeof(bad)), 0);
	bad = r;
	bad.kind = 7;
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_ROW, &bad, sizeof(bad)), 0);
	veil_link_server_poll(srv);
	const struct veil_link_row *got = veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 1);
	assert_non_null(got);
	assert_int_equal(got->value[VEIL_LINK_ROW_DELIVERED], 77);
	assert_int_equal(strlen(got->name), sizeof(got->name) - 1);
	assert_int_equal(strlen(got->addr), sizeof(got->addr) - 1);
	assert_int_equal(strlen(got->proto), sizeof(got->proto) - 1);
	assert_null(veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 0));
	assert_null(veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 2));
	assert_null(veil_link_server_row(srv, 7, 1));
	assert_string_equal(veil_link_row_value_name(VEIL_LINK_ROW_DELIVERED), "delivered");
	/* one upstream now: the second row goes */
	r.index = 0;
	r.count = 1;
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_ROW, &r, sizeof(r)), 0);
	veil_link_server_poll(srv);
	assert_non_null(veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 0));
	assert_null(veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 1));
	/* a HELLO clears them: a new dataplane's rows are its own */
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	veil_link_server_poll(srv);
	assert_null(veil_link_server_row(srv, VEIL_LINK_ROW_UPSTREAM, 0));
	drain(d, &adds, &syncs, &destroys, &last);

	/* the dataplane exits: the server says so at its next poll, and
	 * no longer that it is synced */
	veil_link_close(d);
	veil_link_server_poll(srv);
	assert_false(veil_link_server_synced(srv));
	veil_link_server_status(srv, &ss);
	assert_false(ss.connected);
	assert_false(ss.synced);
	assert_true(ss.seen);
	assert_int_equal(ss.peer.pid, getpid());
	assert_non_null(strstr(last_log, "left"));
	assert_null(veil_link_server_link(srv));
	/* a change with nobody there goes nowhere, and fails nothing */
	veil_link_server_key_added(srv, "acme", 5, true, key);

	/* the next dataplane gets a fresh region and a full resync */
	d = dataplane(srv);
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	veil_link_server_poll(srv);
	adds = syncs = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 1);
	assert_int_equal(syncs, 1);
	veil_link_server_status(srv, &ss);
	assert_int_equal(ss.connections, 2);
	veil_link_close(d);
	veil_link_server_free(srv);
	free(st.t);
}

/* ---- the dataplane's side as a model: what it holds after each message ---- */

struct dp_tenant {
	uint32_t version;      /* the key it holds (0: none) */
	uint32_t key_round, locked_round;
	bool locked;
	unsigned adds;         /* KEY_ADDs that came for it */
};

struct dp_model {
	unsigned n;
	struct dp_tenant *t;   /* by the number in "t%05u" */
	uint32_t round;
	unsigned syncs, adds, states, destroys, bad_keys, sync_keys;
	bool all_at_sync;      /* every tenant had its key at the SYNC_DONE */
};

static void model_init(struct dp_model *m, unsigned n)
{
	memset(m, 0, sizeof(*m));
	m->n = n;
	m->t = calloc(n, sizeof(*m->t));
	assert_non_null(m->t);
	m->round = 1;
}

static struct dp_tenant *model_find(struct dp_model *m, const char *id)
{
	assert_true(id[0] == 't');
	unsigned i = (unsigned)strtoul(id + 1, NULL, 10);
	assert_true(i < m->n);
	return &m->t[i];
}

/* Take at most @p max messages (0: every one there) as the dataplane does:
 * a KEY_ADD replaces the tenant's key, a SYNC_DONE drops the keys and
 * locks the resync did not carry. @return how many. */
static unsigned consume(struct veil_link *d, struct dp_model *m, unsigned max)
{
	union veil_link_payload p;
	enum veil_link_msg type;
	uint32_t len;
	unsigned n = 0;
	while ((max == 0 || n < max) && veil_link_recv(d, &type, p.raw, &len) == 1) {
		n++;
		if (type == VEIL_LINK_MSG_KEY_ADD) {
			struct dp_tenant *t = model_find(m, p.key.tenant);
			uint8_t want[32];
			key_of(p.key.tenant, p.key.version, want);
			if (memcmp(want, p.key.key, 32) != 0 || !p.key.current)
				m->bad_keys++;
			t->version = p.key.version;
			t->key_round = m->round;
			t->adds++;
			m->adds++;
		} else if (type == VEIL_LINK_MSG_KEY_DESTROY) {
			struct dp_tenant *t = model_find(m, p.ref.tenant);
			if (t->version == p.ref.version)
				t->version = 0;
			m->destroys++;
		} else if (type == VEIL_LINK_MSG_TENANT_STATE) {
			struct dp_tenant *t = model_find(m, p.ten.tenant);
			t->locked = p.ten.state == VEIL_LINK_TENANT_LOCKED;
			t->locked_round = m->round;
			m->states++;
		} else if (type == VEIL_LINK_MSG_SYNC_DONE) {
			m->syncs++;
			m->sync_keys = p.sync.keys;
			m->all_at_sync = true;
			for (unsigned i = 0; i < m->n; i++) {
				struct dp_tenant *t = &m->t[i];
				if (t->key_round != m->round)
					t->version = 0;
				if (t->locked && t->locked_round != m->round)
					t->locked = false;
				if (t->version == 0)
					m->all_at_sync = false;
			}
			m->round++;
		}
	}
	return n;
}

/* The model holds what the store says: each tenant's current key, and
 * its lock. */
static void model_matches(const struct dp_model *m, const struct fake_store *st)
{
	for (unsigned i = 0; i < st->n; i++) {
		if (m->t[i].version != st->t[i].current ||
		    m->t[i].locked != st->t[i].locked)
			fail_msg("%s: the dataplane holds version %u%s, controld "
				 "has %u%s", st->t[i].id, m->t[i].version,
				 m->t[i].locked ? " (locked)" : "", st->t[i].current,
				 st->t[i].locked ? " (locked)" : "");
	}
	assert_int_equal(m->bad_keys, 0);
}

static void roll(struct veil_link_server *srv, struct fake_store *st,
		 unsigned i)
{
	uint8_t key[32];
	struct fake_tenant *t = &st->t[i];
	t->current++;
	key_of(t->id, t->current, key);
	veil_link_server_key_added(srv, t->id, t->current, true, key);
	/* and the version before goes (crypto-shredding) */
	veil_link_server_key_destroyed(srv, t->id, t->current - 1);
}

static void set_lock(struct veil_link_server *srv, struct fake_store *st,
		     unsigned i, bool locked)
{
	st->t[i].locked = locked;
	veil_link_server_tenant_state(srv, st->t[i].id, locked ?
				      VEIL_LINK_TENANT_LOCKED :
				      VEIL_LINK_TENANT_ACTIVE);
}

/* 16 slots hold 15 messages: a resync of 20 keys goes on where it
 * stopped, each key once; a change that finds the ring full has its
 * tenant resent whole, with what is true by then. */
static void test_server_full_ring_resumes(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 20, NULL, 0);
	struct dp_model m;
	model_init(&m, 20);
	struct veil_link_server *srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	struct veil_link *d = dataplane(srv);
	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	veil_link_server_poll(srv);
	assert_false(veil_link_server_synced(srv));
	for (unsigned rounds = 0; !veil_link_server_synced(srv) && rounds < 10; rounds++) {
		consume(d, &m, 0);
		veil_link_server_poll(srv);
	}
	assert_true(veil_link_server_synced(srv));
	consume(d, &m, 0);
	assert_int_equal(m.syncs, 1);
	assert_int_equal(m.sync_keys, 20);
	assert_int_equal(m.adds, 20);
	assert_true(m.all_at_sync);
	model_matches(&m, &st);

	/* fill the ring with rolls of t00000 (and their destructions) */
	for (int i = 0; i < 8; i++)
		roll(srv, &st, 0);
	/* a lock that finds it full: the tenant waits for a repair */
	set_lock(srv, &st, 5, true);
	struct veil_link_server_resync rs;
	veil_link_server_resync_status(srv, &rs);
	assert_int_equal(rs.repairs, 2); /* t00000's last roll, and t00005 */
	consume(d, &m, 0);
	assert_int_equal(m.t[5].locked, false);
	/* an unlock meanwhile is not sent: the repair carries it */
	set_lock(srv, &st, 5, false);
	roll(srv, &st, 0);
	assert_int_equal(consume(d, &m, 0), 0);
	veil_link_server_poll(srv);
	veil_link_server_resync_status(srv, &rs);
	assert_int_equal(rs.repairs, 0);
	assert_int_equal(rs.restarts, 0);
	consume(d, &m, 0);
	model_matches(&m, &st);
	assert_int_equal(m.syncs, 1); /* no new resync */
	veil_link_close(d);
	veil_link_server_free(srv);
	free(m.t);
	free(st.t);
}

/* 20,000 keys and a dataplane that takes 5 messages per poll: the resync
 * goes on where it stopped until every key went, each once, SYNC_DONE
 * last; rolls, destructions, locks and unlocks made meanwhile, behind and
 * ahead of it, are all there at the end. (Before, a resync that found the
 * ring full began again from the first key at the next poll: it never
 * ended.) */
static void test_server_slow_consumer_many_keys(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct fake_store st;
	store_init(&st, N, NULL, 0);
	for (unsigned i = 0; i < N; i++) {
		if (i % 10 == 0)
			st.t[i].current = 3;
		st.t[i].locked = i % 97 == 0;
	}
	struct dp_model m;
	model_init(&m, N);
	struct veil_link_server *srv = server(&st, 64, VEIL_LINK_UID_DEFAULT);
	struct veil_link *d = dataplane(srv);
	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);

	/* the tenants the changes touch: behind the resync when they are
	 * made, and ahead of it */
	static const unsigned first[] = { 10, 20, 40, 97, 15000, 16000, 17000, 19400 };
	static const unsigned second[] = { 30, 5000, 9700, 12000, 19990 };
	bool first_done = false, second_done = false;
	struct veil_link_server_resync rs = { 0 };
	unsigned polls = 0, max_repairs = 0;
	for (;;) {
		veil_link_server_poll(srv);
		consume(d, &m, 5);
		veil_link_server_resync_status(srv, &rs);
		if (rs.repairs > max_repairs)
			max_repairs = rs.repairs;
		if (!first_done && rs.keys >= 1000) {
			first_done = true;
			assert_true(rs.running);
			roll(srv, &st, 10);        /* behind */
			roll(srv, &st, 20);
			set_lock(srv, &st, 40, true);
			set_lock(srv, &st, 97, false);
			roll(srv, &st, 15000);     /* ahead */
			set_lock(srv, &st, 16000, true);
			roll(srv, &st, 17000);
			roll(srv, &st, 17000);
			set_lock(srv, &st, 19400, false);
		}
		if (!second_done && rs.keys >= 13000) {
			second_done = true;
			assert_true(rs.running);
			roll(srv, &st, 30);
			set_lock(srv, &st, 5000, true);
			set_lock(srv, &st, 9700, false);
			roll(srv, &st, 12000);
			set_lock(srv, &st, 19990, true);
			roll(srv, &st, 19990);
		}
		if (!rs.running && rs.repairs == 0)
			break;
		assert_true(++polls < 200000);
	}
	consume(d, &m, 0);
	assert_true(first_done && second_done);
	/* the changes behind the resync found the ring full (it refills
	 * it at each poll): their tenants were resent */
	assert_true(max_repairs > 0);
	assert_int_equal(m.syncs, 1);
	assert_true(m.all_at_sync);
	assert_int_equal(m.sync_keys, N); /* one key per tenant */
	assert_int_equal(rs.resyncs, 1);
	assert_int_equal(rs.restarts, 0);
	model_matches(&m, &st);
	/* every tenant no change touched got its key exactly once */
	for (unsigned i = 0; i < N; i++) {
		bool touched = false;
		for (size_t j = 0; j < sizeof(first) / sizeof(first[0]); j++)
			touched |= first[j] == i;
		for (size_t j = 0; j < sizeof(second) / sizeof(second[0]); j++)
			touched |= second[j] == i;
		if (!touched && m.t[i].adds != 1)
			fail_msg("%s: %u KEY_ADDs", st.t[i].id, m.t[i].adds);
	}
	/* after the resync, changes go down as they happen */
	roll(srv, &st, 7);
	set_lock(srv, &st, 8, true);
	consume(d, &m, 0);
	model_matches(&m, &st);
	assert_int_equal(m.syncs, 1);
	veil_link_close(d);
	veil_link_server_free(srv);
	free(m.t);
	free(st.t);
}

/* More tenants changed while the ring is full than the repair list holds
 * (1,024): the resync starts again from the first key, and in the end the
 * dataplane has every change. */
static void test_server_repair_overflow_resyncs(void **state)
{
	(void)state;
	enum { N = 1100 };
	struct fake_store st;
	store_init(&st, N, NULL, 0);
	struct dp_model m;
	model_init(&m, N);
	struct veil_link_server *srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	struct veil_link *d = dataplane(srv);
	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	for (unsigned polls = 0; m.syncs == 0; polls++) {
		assert_true(polls < 1000);
		veil_link_server_poll(srv);
		consume(d, &m, 0);
	}
	/* 15 messages fill the ring; then every lock waits for a repair */
	for (unsigned i = 0; i < N; i++)
		set_lock(srv, &st, i, true);
	struct veil_link_server_resync rs;
	veil_link_server_resync_status(srv, &rs);
	assert_int_equal(rs.restarts, 1);
	assert_true(rs.running);
	/* ... which the resync from the first key carries */
	for (unsigned polls = 0; rs.running || rs.repairs > 0; polls++) {
		assert_true(polls < 1000);
		consume(d, &m, 0);
		veil_link_server_poll(srv);
		veil_link_server_resync_status(srv, &rs);
	}
	consume(d, &m, 0);
	assert_int_equal(m.syncs, 2);
	assert_true(m.all_at_sync);
	model_matches(&m, &st);
	veil_link_close(d);
	veil_link_server_free(srv);
	free(m.t);
	free(st.t);
}

/* ---- who may be at the other end ---- */

static void test_peer_uid_checked_both_ways(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 1, "acme", 1);
	uint32_t other = geteuid() == 4242 ? 4243 : 4242;

	/* the dataplane expects controld to run as another uid: it refuses
	 * the socket before reading anything, and says whose it was */
	struct veil_link_server *srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	struct veil_link_cred who;
	errno = 0;
	assert_int_equal(veil_link_connect(path, other, &who), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(who.uid, geteuid());
	assert_true(veil_link_connect(path, geteuid(), &who) >= 0 ||
		    !"its own uid is taken");
	veil_link_server_free(srv);

	/* controld expects the dataplane to run as another uid: the
	 * connection is closed with nothing sent, counted and logged */
	srv = server(&st, 16, other);
	int fd = veil_link_connect(path, VEIL_LINK_UID_DEFAULT, NULL);
	assert_true(fd >= 0);
	n_logs = 0;
	veil_link_server_poll(srv);
	struct veil_link_server_status ss;
	veil_link_server_status(srv, &ss);
	assert_int_equal(ss.refused_peers, 1);
	assert_int_equal(ss.last_refused_uid, geteuid());
	assert_false(ss.connected || ss.seen);
	assert_int_equal(n_logs, 1);
	char want[32];
	snprintf(want, sizeof(want), "from uid %u", (unsigned)geteuid());
	assert_non_null(strstr(last_log, want));
	assert_null(veil_link_attach(fd));
	assert_int_equal(errno, ECONNRESET); /* no region, no key */
	close(fd);
	veil_link_server_free(srv);
	free(st.t);
}

/* As root: a child that setuid()s to nobody connects to a controld that
 * takes root only (the default): refused and counted. */
static void test_foreign_uid_refused(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip_part("foreign uid refused", "needs root (a child that becomes nobody)");
		skip();
	}
	struct fake_store st;
	store_init(&st, 1, "acme", 1);
	struct veil_link_server *srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		int fd = veil_link_connect(path, 0, NULL);
		if (fd < 0)
			_exit(11);
		/* wait for controld's answer: the end of the connection */
		for (int i = 0; i < 500; i++) {
			struct veil_link *d = veil_link_attach(fd);
			if (d != NULL)
				_exit(12); /* a region for nobody */
			if (errno == ECONNRESET)
				_exit(0);
			usleep(10000);
		}
		_exit(13);
	}
	struct veil_link_server_status ss = { 0 };
	for (int i = 0; i < 500 && ss.refused_peers == 0; i++) {
		veil_link_server_poll(srv);
		veil_link_server_status(srv, &ss);
		usleep(10000);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(ss.refused_peers, 1);
	assert_int_equal(ss.last_refused_uid, 65534);
	assert_false(ss.connected);
	assert_non_null(strstr(last_log, "from uid 65534"));
	veil_link_server_free(srv);
	free(st.t);
}

/* One dataplane at a time; a stopped controld is seen, a new one taken
 * through the same checks. */
static void test_second_dataplane_and_restart(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 1, "acme", 1);
	struct veil_link_server *srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	struct veil_link *d = dataplane(srv);
	int fd = veil_link_connect(path, VEIL_LINK_UID_DEFAULT, NULL);
	assert_true(fd >= 0);
	veil_link_server_poll(srv);
	assert_null(veil_link_attach(fd));
	assert_int_equal(errno, ECONNRESET);
	close(fd);
	struct veil_link_server_status ss;
	veil_link_server_status(srv, &ss);
	assert_int_equal(ss.refused_busy, 1);
	assert_int_equal(ss.refused_peers, 0);
	assert_true(ss.connected);

	/* controld stops: the dataplane sees it; a new controld on the same
	 * path gives a new region (a new epoch) */
	uint64_t epoch = veil_link_epoch(d);
	veil_link_server_free(srv);
	assert_true(veil_link_stale(d));
	veil_link_close(d);
	struct stat sb;
	assert_int_equal(stat(path, &sb), -1); /* the socket went with it */
	srv = server(&st, 16, VEIL_LINK_UID_DEFAULT);
	d = dataplane(srv);
	assert_false(veil_link_stale(d));
	assert_true(veil_link_epoch(d) != epoch);
	veil_link_close(d);
	veil_link_server_free(srv);
	free(st.t);
}

/* The socket's directory: nobody else may write in it. */
static void test_server_directory_checks(void **state)
{
	(void)state;
	struct fake_store st;
	store_init(&st, 0, NULL, 0);
	char err[400], sub[160], sock[200];
	struct veil_link_server_opts o = { .socket_path = sock, .slots = 16,
		.dataplane_uid = VEIL_LINK_UID_DEFAULT, .keys = fake_keys,
		.ctx = &st, .log = keep_log };

	/* missing: made, mode 0750 */
	snprintf(sub, sizeof(sub), "%s/run", dir);
	snprintf(sock, sizeof(sock), "%s/link.sock", sub);
	struct veil_link_server *srv = veil_link_server_new(&o, err, sizeof(err));
	assert_non_null(srv);
	struct stat sb;
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(stat(sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	veil_link_server_free(srv);

	/* world-writable (as /tmp) or group-writable: refused, saying so */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_null(veil_link_server_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "writable by other users"));
	assert_int_equal(chmod(sub, 0770), 0);
	assert_null(veil_link_server_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "writable by other users"));
	assert_int_equal(chmod(sub, 0755), 0);

	/* something that is not a socket at the path: left alone */
	int f = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	close(f);
	assert_null(veil_link_server_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	unlink(sock);

	/* a relative path */
	o.socket_path = "link.sock";
	assert_null(veil_link_server_new(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "absolute"));
	rmdir(sub);
	free(st.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_roundtrip_and_wipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_message_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_by_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_locked_and_not_dumped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_refuses_bad_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_resync_and_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_full_ring_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_slow_consumer_many_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_repair_overflow_resyncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_uid_checked_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_uid_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_dataplane_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_watchdog_drops_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_directory_checks, setup, teardown),
	};
	return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
