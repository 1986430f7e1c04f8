/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The controld <-> dataplane link: both sides in one process, each with its
 * own mapping of the region, as two processes would have. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "veil_link.h"

static char name[48];

static int setup(void **state)
{
	(void)state;
	snprintf(name, sizeof(name), "veil-link-test-%d", (int)getpid());
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

/* Map the region by name and look for a byte string in it. */
static long find_in_region(const void *needle, size_t n)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/%s", name);
	int fd = shm_open(path, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
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
	struct veil_link *c = veil_link_create(name, 64);
	assert_non_null(c);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
	assert_int_equal(veil_link_epoch(c), veil_link_epoch(d));

	struct veil_link_key k = sample_key("acme", 3);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);
	/* the key is in the region while in flight */
	assert_true(find_in_region(k.key, sizeof(k.key)) >= 0);

	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type = VEIL_LINK_MSG_NONE;
	uint32_t len = 0;
	assert_int_equal(veil_link_recv(d, &type, buf, &len), 1);
	assert_int_equal(type, VEIL_LINK_MSG_KEY_ADD);
	assert_int_equal(len, sizeof(k));
	assert_memory_equal(buf, &k, sizeof(k));
	/* ... and gone from it once received */
	assert_int_equal(find_in_region(k.key, sizeof(k.key)), -1);
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
	struct veil_link *c = veil_link_create(name, 16);
	assert_non_null(c);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
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
	struct veil_link *c = veil_link_create(name, 16);
	assert_non_null(c);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
	struct veil_link_key k = sample_key("corruptme", 9);
	assert_int_equal(veil_link_send(c, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k)), 0);

	/* Corrupt the slot's protocol version through a third mapping: the
	 * slot header is 24 bytes before the payload (type, proto, len). */
	char path[64];
	snprintf(path, sizeof(path), "/%s", name);
	long at = find_in_region("corruptme", 9);
	assert_true(at >= 24);
	int fd = shm_open(path, O_RDWR, 0);
	assert_true(fd >= 0);
	uint16_t bad = 77;
	assert_int_equal(pwrite(fd, &bad, 2, at - 24 + 2), 2);
	close(fd);

	uint8_t buf[VEIL_LINK_PAYLOAD_MAX];
	enum veil_link_msg type;
	uint32_t len;
	assert_int_equal(veil_link_recv(d, &type, buf, &len), -1);
	assert_int_equal(errno, EPROTO);
	struct veil_link_stats st;
	veil_link_get_stats(d, &st);
	assert_int_equal(st.bad_msgs, 1);
	/* the dropped key was wiped too */
	assert_int_equal(find_in_region(k.key, sizeof(k.key)), -1);
	veil_link_close(d);
	veil_link_close(c);
}

static void test_attach_errors_and_stale(void **state)
{
	(void)state;
	assert_null(veil_link_attach(name));
	assert_int_equal(errno, ENOENT);
	assert_null(veil_link_attach("bad/name"));
	assert_int_equal(errno, EINVAL);
	assert_null(veil_link_create(name, 100)); /* not a power of two */
	assert_int_equal(errno, EINVAL);

	/* something else under the name */
	char path[64];
	snprintf(path, sizeof(path), "/%s", name);
	int fd = shm_open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	close(fd);
	assert_null(veil_link_attach(name));
	assert_int_equal(errno, EPROTO);
	shm_unlink(path);

	/* controld restarts: the old region is stale, the new one attaches */
	struct veil_link *c = veil_link_create(name, 16);
	assert_non_null(c);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
	assert_false(veil_link_stale(d));
	assert_true(veil_link_peer_age_ms(d) < 10000);
	struct veil_link *c2 = veil_link_create(name, 16);
	assert_non_null(c2);
	assert_true(veil_link_stale(d));
	veil_link_close(d);
	d = veil_link_attach(name);
	assert_non_null(d);
	assert_int_equal(veil_link_epoch(d), veil_link_epoch(c2));
	assert_false(veil_link_stale(d));
	/* a clean close marks the region closed */
	veil_link_close(c2);
	assert_true(veil_link_stale(d));
	veil_link_close(d);
	veil_link_close(c);
}

static void test_region_locked_and_not_dumped(void **state)
{
	(void)state;
	struct veil_link *c = veil_link_create(name, 64);
	assert_non_null(c);
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	char line[512];
	bool in = false, locked = false, dd = false;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strstr(line, name))
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
	locked = true;
#endif
#endif
	assert_true(locked);
	veil_link_close(c);
}

/* ---- the server side ---- */

struct fake_store {
	unsigned n;
	uint32_t version[64];
	bool fail;
};

static int fake_keys(void *ctx, veil_link_emit_fn emit, void *arg)
{
	struct fake_store *st = ctx;
	if (st->fail)
		return -1;
	for (unsigned i = 0; i < st->n; i++) {
		struct veil_link_key k = sample_key("acme", st->version[i]);
		if (emit(arg, "acme", st->version[i], i + 1 == st->n, k.key) != 0)
			return -1;
	}
	return 0;
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

static void test_server_resync_and_changes(void **state)
{
	(void)state;
	struct fake_store st = { .n = 3, .version = { 1, 2, 3 } };
	struct veil_link_server *srv = veil_link_server_new(name, 64, fake_keys, &st);
	assert_non_null(srv);
	uint8_t key[32] = { 0 };

	/* no dataplane yet: changes are not sent (a HELLO brings them all) */
	veil_link_server_key_added(srv, "acme", 4, true, key);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
	unsigned adds = 0, syncs = 0, destroys = 0;
	uint32_t last = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 0);

	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	assert_int_equal(veil_link_server_poll(srv), 1);
	assert_true(veil_link_server_synced(srv));
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 3);
	assert_int_equal(syncs, 1);

	/* a roll and a destruction go down as they happen */
	veil_link_server_key_added(srv, "acme", 4, true, key);
	veil_link_server_key_destroyed(srv, "acme", 1);
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(adds, 4);
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
	veil_link_close(d);
	veil_link_server_free(srv);
}

static void test_server_full_ring_resyncs(void **state)
{
	(void)state;
	/* 16 slots hold 15 messages: 20 keys cannot go down in one go */
	struct fake_store st = { .n = 20 };
	for (unsigned i = 0; i < 20; i++)
		st.version[i] = i + 1;
	struct veil_link_server *srv = veil_link_server_new(name, 16, fake_keys, &st);
	assert_non_null(srv);
	struct veil_link *d = veil_link_attach(name);
	assert_non_null(d);
	struct veil_link_hello h = { 42, 1 };
	assert_int_equal(veil_link_send(d, VEIL_LINK_MSG_HELLO, &h, sizeof(h)), 0);
	veil_link_server_poll(srv);
	assert_false(veil_link_server_synced(srv));

	unsigned adds = 0, syncs = 0, destroys = 0, rounds = 0;
	uint32_t last = 0;
	/* a dataplane draining as it goes gets a complete resync */
	st.n = 10;
	while (!veil_link_server_synced(srv) && rounds++ < 10) {
		drain(d, &adds, &syncs, &destroys, &last);
		veil_link_server_poll(srv);
	}
	assert_true(veil_link_server_synced(srv));
	adds = syncs = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(syncs, 1);
	assert_int_equal(adds, 10);

	/* a destruction that finds the ring full turns into a resync */
	uint8_t key[32] = { 0 };
	for (int i = 0; i < 15; i++)
		veil_link_server_key_added(srv, "acme", 100, true, key);
	veil_link_server_key_destroyed(srv, "acme", 3);
	adds = syncs = destroys = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(destroys, 0);
	veil_link_server_poll(srv);
	adds = syncs = 0;
	drain(d, &adds, &syncs, &destroys, &last);
	assert_int_equal(syncs, 1);
	assert_int_equal(adds, 10);
	veil_link_close(d);
	veil_link_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_key_roundtrip_and_wipe, setup),
		cmocka_unit_test_setup(test_send_checks, setup),
		cmocka_unit_test_setup(test_corrupt_message_dropped, setup),
		cmocka_unit_test_setup(test_attach_errors_and_stale, setup),
		cmocka_unit_test_setup(test_region_locked_and_not_dumped, setup),
		cmocka_unit_test_setup(test_server_resync_and_changes, setup),
		cmocka_unit_test_setup(test_server_full_ring_resyncs, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
