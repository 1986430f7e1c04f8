/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The spool of an upstream (drivers/spool.c): order, restart, at-least-once
 * delivery, a torn tail cut at the open, the size bound, segments freed
 * (also when the head cannot be written, and by starting over when the
 * disk has no room and every record was acknowledged), and records that
 * survive a kill -9 of the process writing them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "spool.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/veil-spool-XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/up", tmpl);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[600];
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct vdr_spool *open_ok(uint64_t max)
{
	struct vdr_spool *s;
	char err[300];
	int rc = vdr_spool_open(&s, dir, max, err, sizeof(err));
	if (rc != 0)
		fail_msg("open: %s", err);
	return s;
}

static void put(struct vdr_spool *s, unsigned i)
{
	char b[64];
	int n = snprintf(b, sizeof(b), "<134>line %u of the spool", i);
	assert_int_equal(vdr_spool_append(s, b, (uint32_t)n), 0);
}

/* The next record is line @p i: taken (sent), acknowledged unless
 * @p ack is false. */
static void expect_ack(struct vdr_spool *s, unsigned i, bool ack)
{
	const void *p;
	uint32_t len;
	char b[64];
	int n = snprintf(b, sizeof(b), "<134>line %u of the spool", i);
	assert_int_equal(vdr_spool_peek(s, &p, &len), 1);
	assert_int_equal(len, (uint32_t)n);
	assert_memory_equal(p, b, len);
	assert_int_equal(vdr_spool_take(s), 0);
	if (ack)
		assert_int_equal(vdr_spool_ack(s, 1), 1);
}

static void expect(struct vdr_spool *s, unsigned i)
{
	expect_ack(s, i, true);
}

static void test_order_and_restart(void **state)
{
	(void)state;
	struct vdr_spool_stats st;
	struct vdr_spool *s = open_ok(1 << 20);
	for (unsigned i = 0; i < 100; i++)
		put(s, i);
	assert_int_equal(vdr_spool_sync(s), 0);
	for (unsigned i = 0; i < 10; i++)
		expect(s, i);
	vdr_spool_close(s); /* commits: 10 delivered */

	s = open_ok(1 << 20);
	vdr_spool_stats(s, &st);
	assert_int_equal(st.recovered, 90);
	assert_int_equal(st.queued, 90);
	assert_int_equal(st.torn, 0);
	for (unsigned i = 10; i < 100; i++)
		expect(s, i);
	const void *p;
	uint32_t len;
	assert_int_equal(vdr_spool_peek(s, &p, &len), 0);
	vdr_spool_close(s);
}

/* Delivered but not committed when the process stopped: delivered again. */
static void test_at_least_once(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vdr_spool *s;
		char err[300];
		if (vdr_spool_open(&s, dir, 1 << 20, err, sizeof(err)) != 0)
			_exit(2);
		for (unsigned i = 0; i < 20; i++)
			put(s, i);
		if (vdr_spool_sync(s) != 0)
			_exit(3);
		for (unsigned i = 0; i < 5; i++)
			expect(s, i);
		if (vdr_spool_commit(s) != 0)
			_exit(4);
		for (unsigned i = 5; i < 12; i++)
			expect_ack(s, i, false); /* sent, not acknowledged */
		for (unsigned i = 12; i < 15; i++)
			expect(s, i); /* acknowledged, not committed */
		_exit(0); /* a crash: no commit, no close */
	}
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct vdr_spool *s = open_ok(1 << 20);
	for (unsigned i = 5; i < 20; i++) /* 5..14 twice: never lost */
		expect(s, i);
	vdr_spool_close(s);
}

/* The record just appended, taken without reading it back: only when it
 * is the one not taken; acknowledged ones do not come again. */
static void test_take_appended(void **state)
{
	(void)state;
	char b[64];
	struct vdr_spool_stats st;
	struct vdr_spool *s = open_ok(1 << 20);
	for (unsigned i = 0; i < 10; i++) {
		int n = snprintf(b, sizeof(b), "<134>line %u of the spool", i);
		assert_int_equal(vdr_spool_append(s, b, (uint32_t)n), 0);
		assert_int_equal(vdr_spool_take_appended(s, (uint32_t)n), 0);
	}
	put(s, 10);
	put(s, 11);
	assert_int_equal(vdr_spool_take_appended(s, 10), -1); /* 10 waits */
	vdr_spool_stats(s, &st);
	assert_int_equal(st.queued, 12);
	assert_int_equal(st.unsent, 2);
	assert_int_equal(vdr_spool_ack(s, 4), 4);
	assert_int_equal(vdr_spool_commit(s), 0);
	vdr_spool_close(s);
	s = open_ok(1 << 20);
	for (unsigned i = 4; i < 12; i++)
		expect(s, i);
	vdr_spool_close(s);
}

static unsigned count_segs(void)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".seg") != NULL;
	closedir(d);
	return n;
}

static char *last_seg(char *b, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[300] = "";
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".seg") && strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	snprintf(b, cap, "%s/%s", dir, best);
	return b;
}

/* A record written part way (the process died in the write): cut at the
 * open, counted; what came before is whole, and appends go on after it. */
static void test_torn_tail(void **state)
{
	(void)state;
	struct vdr_spool_stats st;
	char path[400];
	struct vdr_spool *s = open_ok(1 << 20);
	for (unsigned i = 0; i < 30; i++)
		put(s, i);
	vdr_spool_close(s);
	/* half a record at the end: a length that promises more than there is */
	int fd = open(last_seg(path, sizeof(path)), O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	unsigned char half[12] = { 200, 0, 0, 0, 1, 2, 3, 4, 'x', 'y', 'z', 'w' };
	assert_int_equal(write(fd, half, sizeof(half)), (ssize_t)sizeof(half));
	close(fd);
	s = open_ok(1 << 20);
	vdr_spool_stats(s, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.queued, 30);
	put(s, 30);
	for (unsigned i = 0; i <= 30; i++)
		expect(s, i);
	vdr_spool_close(s);

	/* a whole record with a damaged byte: its CRC fails, it is cut */
	s = open_ok(1 << 20);
	put(s, 31);
	put(s, 32);
	vdr_spool_close(s);
	struct stat sb;
	assert_int_equal(stat(last_seg(path, sizeof(path)), &sb), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "?", 1, sb.st_size - 3), 1);
	close(fd);
	s = open_ok(1 << 20);
	vdr_spool_stats(s, &st);
	assert_int_equal(st.torn, 1);
	expect(s, 31);
	const void *p;
	uint32_t len;
	assert_int_equal(vdr_spool_peek(s, &p, &len), 0);
	vdr_spool_close(s);
}

/* At max_bytes appends are refused and counted; delivery and a commit
 * free whole segments, and appends go in again. */
static void test_full_and_segments(void **state)
{
	(void)state;
	struct vdr_spool_stats st;
	uint64_t max = 256 << 10; /* segments of 64 KiB */
	struct vdr_spool *s = open_ok(max);
	unsigned n = 0;
	while (n < 100000) {
		char b[64];
		int k = snprintf(b, sizeof(b), "<134>line %u of the spool", n);
		if (vdr_spool_append(s, b, (uint32_t)k) != 0) {
			assert_int_equal(errno, ENOSPC);
			break;
		}
		n++;
	}
	assert_true(n > 1000 && n < 100000);
	vdr_spool_stats(s, &st);
	assert_int_equal(st.dropped_full, 1);
	assert_true(st.used_bytes <= max);
	assert_true(st.segments >= 3);
	unsigned segs = count_segs();
	assert_int_equal(segs, st.segments);
	uint64_t used = st.used_bytes;
	for (unsigned i = 0; i < n / 2; i++)
		expect(s, i);
	assert_int_equal(vdr_spool_commit(s), 0);
	assert_true(count_segs() < segs);
	vdr_spool_stats(s, &st);
	assert_true(st.used_bytes + (60 << 10) <= used); /* whole segments went */
	put(s, n); /* room again */
	vdr_spool_close(s);
	s = open_ok(max);
	for (unsigned i = n / 2; i <= n; i++)
		expect(s, i);
	vdr_spool_close(s);
}

/* The number of the next record (it must be one of put()'s). */
static unsigned next_no(struct vdr_spool *s)
{
	const void *p;
	uint32_t len;
	char b[64];
	unsigned i;
	assert_int_equal(vdr_spool_peek(s, &p, &len), 1);
	assert_true(len < sizeof(b));
	memcpy(b, p, len);
	b[len] = '\0';
	assert_int_equal(sscanf(b, "<134>line %u of the spool", &i), 1);
	return i;
}

/* A commit that cannot write the head (its disk is full; here a directory
 * is in the way of head.tmp) still deletes the segments whose records were
 * all acknowledged, so that a full disk gets room back; a restart then
 * sends again the first segment left from its start (duplicates, never a
 * loss). */
static void test_commit_without_head(void **state)
{
	(void)state;
	char path[400];
	struct vdr_spool_stats st;
	uint64_t max = 1 << 20; /* segments of 128 KiB */
	struct vdr_spool *s = open_ok(max);
	unsigned n = 0;
	while (count_segs() < 3)
		put(s, n++);
	for (unsigned k = 0; k < 100; k++)
		put(s, n++);
	snprintf(path, sizeof(path), "%s/head.tmp", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (unsigned i = 0; i < n - 10; i++)
		expect(s, i);
	assert_int_equal(vdr_spool_commit(s), -1);
	assert_int_equal(count_segs(), 1); /* the tail: 10 records wait there */
	vdr_spool_stats(s, &st);
	assert_int_equal(st.segments, 1);
	assert_true(st.used_bytes <= (128 << 10) + 64);
	put(s, n++);
	vdr_spool_close(s);
	assert_int_equal(rmdir(path), 0);
	s = open_ok(max);
	unsigned first = next_no(s);
	assert_true(first <= n - 11);
	for (unsigned i = first; i < n; i++)
		expect(s, i);
	const void *p;
	uint32_t len;
	assert_int_equal(vdr_spool_peek(s, &p, &len), 0);
	vdr_spool_close(s);
}

/* The disk has no room (here a file size limit below a segment's size: a
 * file system smaller than the spool's segments) and every record was
 * acknowledged: the spool starts over in a new segment instead of refusing
 * lines for good, and what it takes then survives a restart, without the
 * acknowledged ones. */
static void test_start_over_when_no_room(void **state)
{
	(void)state;
	struct rlimit old, lim;
	uint64_t max = 64 << 20; /* segments of 8 MiB */
	struct vdr_spool *s = open_ok(max);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = (struct rlimit){ 16 << 10, old.rlim_max }; /* the soft limit only */
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	unsigned n = 0;
	int e = 0, after[5];
	while (n < 10000) {
		char b[64];
		int k = snprintf(b, sizeof(b), "<134>line %u of the spool", n);
		if (vdr_spool_append(s, b, (uint32_t)k) != 0) {
			e = errno;
			break;
		}
		n++;
	}
	/* every record sent and acknowledged: the segment holds nothing to keep */
	for (unsigned i = 0; i < n; i++) {
		const void *p;
		uint32_t len;
		if (vdr_spool_peek(s, &p, &len) != 1 || vdr_spool_take(s) != 0)
			break;
	}
	uint64_t acked = vdr_spool_ack(s, n);
	for (unsigned k = 0; k < 5; k++) {
		char b[64];
		int m = snprintf(b, sizeof(b), "<134>line %u of the spool", n + k);
		after[k] = vdr_spool_append(s, b, (uint32_t)m);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_true(n > 100 && n < 10000);
	assert_true(e == ENOSPC || e == EFBIG);
	assert_int_equal(acked, n);
	for (unsigned k = 0; k < 5; k++)
		assert_int_equal(after[k], 0);
	vdr_spool_close(s);
	s = open_ok(max);
	for (unsigned i = n; i < n + 5; i++)
		expect(s, i);
	const void *p;
	uint32_t len;
	assert_int_equal(vdr_spool_peek(s, &p, &len), 0);
	vdr_spool_close(s);
}

/* A child appends and syncs in batches and says how far it synced; it is
 * killed with SIGKILL at some point. Every record it said was synced is
 * there, whole and in order; nothing after the last is damaged. */
static void test_kill9(void **state)
{
	(void)state;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		struct vdr_spool *s;
		char err[300];
		if (vdr_spool_open(&s, dir, 64 << 20, err, sizeof(err)) != 0)
			_exit(2);
		for (unsigned i = 0;; i++) {
			char b[64];
			int k = snprintf(b, sizeof(b), "<134>line %u of the spool", i);
			if (vdr_spool_append(s, b, (uint32_t)k) != 0)
				_exit(3);
			if (i % 64 == 63) {
				if (vdr_spool_sync(s) != 0)
					_exit(4);
				uint32_t upto = i + 1;
				if (write(pfd[1], &upto, sizeof(upto)) != sizeof(upto))
					_exit(5);
			}
		}
	}
	close(pfd[1]);
	uint32_t synced = 0, v;
	while (synced < 20000 && read(pfd[0], &v, sizeof(v)) == sizeof(v))
		synced = v;
	kill(pid, SIGKILL);
	while (read(pfd[0], &v, sizeof(v)) == sizeof(v))
		synced = v; /* what it said before it died */
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status));
	struct vdr_spool *s = open_ok(64 << 20);
	struct vdr_spool_stats st;
	vdr_spool_stats(s, &st);
	assert_true(st.recovered >= synced);
	for (unsigned i = 0; i < st.recovered; i++)
		expect(s, i);
	vdr_spool_close(s);
}

/* A directory others could read is refused: the spool holds log lines. */
static void test_dir_mode(void **state)
{
	(void)state;
	struct vdr_spool *s;
	char err[300];
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(vdr_spool_open(&s, dir, 1 << 20, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0700"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_at_least_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_and_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_without_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_over_when_no_room, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_mode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
