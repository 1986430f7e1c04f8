/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The control plane's state store and key wrapping, against real SQLite
 * files and master key files in a temporary directory: the governance log's
 * hash chain (appends, reopening, tampering with sqlite3 behind its back,
 * pruning) and the master key's creation, checks and use. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctld_pvt.h"
#include "store_pvt.h"

struct fx {
	char dir[64];     /* mkdtemp under /tmp, removed by teardown */
	char key[300];    /* dir/state/master.key */
	struct ctl_config cfg;
	struct ctl_store s;
	bool open;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/veil-test-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    ctl_config_load(&f->cfg, NULL, err, sizeof(err)) != 0) {
		free(f);
		return -1;
	}
	/* a state directory that does not exist yet: the store makes it */
	snprintf(f->cfg.state_dir, sizeof(f->cfg.state_dir), "%s/state", f->dir);
	snprintf(f->cfg.master_key, sizeof(f->cfg.master_key),
		 "%s/state/master.key", f->dir);
	snprintf(f->key, sizeof(f->key), "%s", f->cfg.master_key);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->open)
		ctl_store_close(&f->s);
	int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* ---- helpers ---- */

static void store_open(struct fx *f)
{
	char err[512] = "";

	if (ctl_store_open(&f->s, &f->cfg, err, sizeof(err)) != 0)
		fail_msg("ctl_store_open: %s", err);
	f->open = true;
}

static void store_close(struct fx *f)
{
	ctl_store_close(&f->s);
	f->open = false;
}

/* Close the store and start again from an empty state directory (the
 * master key goes too). */
static void reset(struct fx *f)
{
	store_close(f);
	assert_int_equal(nftw(f->cfg.state_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	store_open(f);
}

/* Append n records, the i-th (from 0) at time t0 + i * step (ms). */
static void append_n(struct fx *f, int n, int64_t t0, int64_t step)
{
	static const char *const actions[] = { "tenant.create", "key.roll",
					       "resolve", "key.destroy" };
	for (int i = 0; i < n; i++) {
		struct ctl_audit_rec r = {
			.time = t0 + i * step,
			.uid = 1000 + (unsigned)i,
			.role = "investigator",
			.action = actions[i % 4],
			/* NULL and "" both occur: they must not be confused */
			.tenant = i % 3 == 0 ? NULL : i % 3 == 1 ? "acme" : "",
			.tokens = "[\"veil_u1_aaaabbbbccccdddd\"]",
			.justification = "INC-4242: phishing triage",
			.outcome = "ok",
		};
		int64_t before = f->s.last_seq;
		assert_int_equal(ctl_audit_append(&f->s, &r), 0);
		assert_int_equal(f->s.last_seq, before + 1);
	}
}

/* Expect verify to say `want` (0: intact) and, if intact, `count`. */
static void expect_verify(struct fx *f, int64_t want, int64_t count)
{
	char why[256] = "";
	int64_t n = -1;
	int64_t bad = ctl_audit_verify(&f->s, &n, why, sizeof(why));

	if (bad != want)
		fail_msg("verify: %lld, want %lld (%s)", (long long)bad,
			 (long long)want, why);
	if (want == 0)
		assert_int_equal(n, count);
	else
		assert_true(why[0] != '\0');
}

/* Prune: 0 if it went through with nothing to report, else -1. */
static int prune(struct fx *f, int64_t before)
{
	char why[512] = "x";
	int64_t n = ctl_audit_prune(&f->s, before, 0, why, sizeof(why));
	if (n >= 0 && why[0] != '\0')
		print_message("# prune: %s\n", why);
	return n >= 0 && why[0] == '\0' ? 0 : -1;
}

/* Run SQL behind the store's back, on a connection of our own; returns the
 * number of rows it changed. */
static int sql(struct fx *f, const char *q)
{
	char path[300];
	sqlite3 *db = NULL;
	char *msg = NULL;

	snprintf(path, sizeof(path), "%s/veil.db", f->cfg.state_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
			 SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK) {
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		fail_msg("%s: %s", q, copy);
	}
	int n = sqlite3_changes(db);
	sqlite3_close(db);
	return n;
}

static int64_t sql_int(struct fx *f, const char *q);
static void read_file(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* ctl_store_open must refuse, saying needle and the recovery command. */
static void expect_refused(struct fx *f, const char *needle)
{
	struct ctl_store s2;
	char err[2048] = "";

	if (ctl_store_open(&s2, &f->cfg, err, sizeof(err)) == 0) {
		ctl_store_close(&s2);
		fail_msg("opened; want a refusal saying \"%s\"", needle);
	}
	if (strstr(err, needle) == NULL || strstr(err, "--recover-audit") == NULL)
		fail_msg("refused, but without \"%s\" or the recovery command: %s",
			 needle, err);
}

/* Open with the recovery flag: it must record something (or nothing, if
 * want_record is false). */
static void recover(struct fx *f, const char *reason, bool want_record)
{
	char err[2048] = "";
	struct ctl_recovery r = { .uid = 4711, .role = "admin", .reason = reason };
	if (ctl_store_recover(&f->s, &f->cfg, &r, err, sizeof(err)) != 0)
		fail_msg("ctl_store_recover: %s", err);
	f->open = true;
	if (want_record) {
		assert_non_null(strstr(f->s.note, "recorded"));
		char q[200];
		snprintf(q, sizeof(q), "SELECT count(*) FROM audit WHERE seq=%lld AND "
			 "action='audit.recover' AND uid=4711 AND role='admin'",
			 (long long)f->s.last_seq);
		assert_int_equal(sql_int(f, q), 1);
	} else
		assert_non_null(strstr(f->s.note, "nothing to recover"));
}

/* The audit table made a plain one again behind the store's back (an
 * attacker can: writable_schema), so that it takes any type. */
static void unstrict(struct fx *f)
{
	int64_t v = sql_int(f, "PRAGMA schema_version");
	char q[400];
	snprintf(q, sizeof(q), "PRAGMA writable_schema=ON;"
		 "UPDATE sqlite_schema SET sql=replace(sql, ') STRICT', ')') "
		 "WHERE name='audit';"
		 "PRAGMA schema_version=%lld; PRAGMA writable_schema=OFF",
		 (long long)v + 1);
	sql(f, q);
	assert_int_equal(sql_int(f, "SELECT strict FROM pragma_table_list WHERE "
				 "name='audit'"), 0);
}

static void copy_file(const char *from, const char *to)
{
	static uint8_t buf[1 << 20];
	size_t n = 0;
	read_file(from, buf, sizeof(buf), &n);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static int64_t sql_int(struct fx *f, const char *q)
{
	char path[300];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/veil.db", f->cfg.state_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap);
	close(fd);
	assert_true(n >= 0);
	*len = (size_t)n;
}

static void write_key_file(const char *path, const uint8_t key[32], mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, key, 32), 32);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static bool file_has(const char *path, const uint8_t *needle, size_t n)
{
	static uint8_t buf[4 << 20];
	size_t len = 0;

	if (access(path, F_OK) != 0)
		return false;
	read_file(path, buf, sizeof(buf), &len);
	return memmem(buf, len, needle, n) != NULL;
}

/* ---- key wrapping ---- */

static void test_wrap_create_only_when_allowed(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	struct stat st;

	assert_int_equal(mkdir(f->cfg.state_dir, 0700), 0);
	/* missing and not allowed to make it: an error naming the file */
	assert_null(ctl_wrap_open(f->key, false, err, sizeof(err)));
	assert_non_null(strstr(err, f->key));
	assert_int_equal(access(f->key, F_OK), -1);
	assert_int_equal(errno, ENOENT);

	struct ctl_wrap *w = ctl_wrap_open(f->key, true, err, sizeof(err));
	if (w == NULL)
		fail_msg("ctl_wrap_open: %s", err);
	assert_int_equal(lstat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(st.st_uid, geteuid());
	uint8_t k1[64], k2[64];
	size_t n1, n2;
	read_file(f->key, k1, sizeof(k1), &n1);
	assert_int_equal(n1, 32);

	uint8_t key[32], wrapped[64], back[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(7 * i + 1);
	int wl = ctl_wrap_key(w, key, wrapped);
	assert_int_equal(wl, 40);
	ctl_wrap_close(w);

	/* an existing file is used as it is, whether or not creating is
	 * allowed: never replaced */
	for (int allow = 0; allow < 2; allow++) {
		w = ctl_wrap_open(f->key, allow, err, sizeof(err));
		if (w == NULL)
			fail_msg("ctl_wrap_open (allow %d): %s", allow, err);
		memset(back, 0, sizeof(back));
		assert_int_equal(ctl_unwrap_key(w, wrapped, (size_t)wl, back), 0);
		assert_memory_equal(back, key, 32);
		ctl_wrap_close(w);
		read_file(f->key, k2, sizeof(k2), &n2);
		assert_int_equal(n2, 32);
		assert_memory_equal(k1, k2, 32);
	}
	ctl_wrap_close(NULL);

	/* a missing directory cannot hold a new key: an error, not a crash */
	char deep[400];
	snprintf(deep, sizeof(deep), "%s/no/such/dir/master.key", f->dir);
	err[0] = '\0';
	assert_null(ctl_wrap_open(deep, true, err, sizeof(err)));
	assert_non_null(strstr(err, deep));
}

static void test_wrap_roundtrip_and_tamper(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	uint8_t key[32], wrapped[64], back[32];

	assert_int_equal(mkdir(f->cfg.state_dir, 0700), 0);
	struct ctl_wrap *w = ctl_wrap_open(f->key, true, err, sizeof(err));
	if (w == NULL)
		fail_msg("ctl_wrap_open: %s", err);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xc0 ^ i);
	int wl = ctl_wrap_key(w, key, wrapped);
	assert_int_equal(wl, 40);
	/* the wrapped form does not hold the key in the clear */
	assert_null(memmem(wrapped, (size_t)wl, key, 16));
	assert_null(memmem(wrapped, (size_t)wl, key + 16, 16));

	memset(back, 0, sizeof(back));
	assert_int_equal(ctl_unwrap_key(w, wrapped, (size_t)wl, back), 0);
	assert_memory_equal(back, key, 32);

	/* any flipped bit, anywhere, fails to unwrap */
	for (int i = 0; i < wl; i++)
		for (int bit = 0; bit < 8; bit += 7) {
			uint8_t t[64];
			memcpy(t, wrapped, (size_t)wl);
			t[i] ^= (uint8_t)(1u << bit);
			memset(back, 0x5a, sizeof(back));
			if (ctl_unwrap_key(w, t, (size_t)wl, back) != -1)
				fail_msg("byte %d bit %d flipped: unwrapped", i, bit);
		}
	/* wrong lengths: truncated, extended, absurd */
	assert_int_equal(ctl_unwrap_key(w, wrapped, (size_t)wl - 1, back), -1);
	assert_int_equal(ctl_unwrap_key(w, wrapped, (size_t)wl - 8, back), -1);
	assert_int_equal(ctl_unwrap_key(w, wrapped, 0, back), -1);
	uint8_t longer[64];
	memcpy(longer, wrapped, (size_t)wl);
	memset(longer + wl, 0, sizeof(longer) - (size_t)wl);
	assert_int_equal(ctl_unwrap_key(w, longer, (size_t)wl + 8, back), -1);
	assert_int_equal(ctl_unwrap_key(w, longer, sizeof(longer), back), -1);

	/* still fine after all that */
	assert_int_equal(ctl_unwrap_key(w, wrapped, (size_t)wl, back), 0);
	assert_memory_equal(back, key, 32);
	ctl_wrap_close(w);
}

static void test_wrap_other_master_key(void **state)
{
	struct fx *f = *state;
	char err[512] = "", other[320];
	uint8_t key[32], wrapped[64], back[32];

	assert_int_equal(mkdir(f->cfg.state_dir, 0700), 0);
	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	struct ctl_wrap *w1 = ctl_wrap_open(f->key, true, err, sizeof(err));
	struct ctl_wrap *w2 = ctl_wrap_open(other, true, err, sizeof(err));
	assert_non_null(w1);
	assert_non_null(w2);
	memset(key, 0x42, sizeof(key));
	int wl = ctl_wrap_key(w1, key, wrapped);
	assert_int_equal(wl, 40);
	assert_int_equal(ctl_unwrap_key(w2, wrapped, (size_t)wl, back), -1);
	assert_int_equal(ctl_unwrap_key(w1, wrapped, (size_t)wl, back), 0);
	assert_memory_equal(back, key, 32);
	ctl_wrap_close(w2);

	/* the same 32 bytes in another file are the same key */
	uint8_t raw[64];
	size_t n;
	char copy[320];
	read_file(f->key, raw, sizeof(raw), &n);
	snprintf(copy, sizeof(copy), "%s/copy.key", f->dir);
	write_key_file(copy, raw, 0600);
	w2 = ctl_wrap_open(copy, false, err, sizeof(err));
	if (w2 == NULL)
		fail_msg("ctl_wrap_open: %s", err);
	memset(back, 0, sizeof(back));
	assert_int_equal(ctl_unwrap_key(w2, wrapped, (size_t)wl, back), 0);
	assert_memory_equal(back, key, 32);
	ctl_wrap_close(w2);
	ctl_wrap_close(w1);
}

/* wrap.c refuses a master key file that is not a regular 32-byte file owned
 * by the effective uid with no group or other permission bits (a stat
 * check, so it holds for root too). */
static void test_wrap_refuses_bad_key_files(void **state)
{
	struct fx *f = *state;
	char err[512], lnk[320];
	uint8_t raw[32];
	static const mode_t bad_modes[] = { 0644, 0640, 0604, 0660, 0610, 0601 };

	assert_int_equal(mkdir(f->cfg.state_dir, 0700), 0);
	memset(raw, 0x17, sizeof(raw));
	write_key_file(f->key, raw, 0600);
	struct ctl_wrap *w = ctl_wrap_open(f->key, false, err, sizeof(err));
	if (w == NULL)
		fail_msg("ctl_wrap_open 0600: %s", err);
	ctl_wrap_close(w);

	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		char mode[8];
		assert_int_equal(chmod(f->key, bad_modes[i]), 0);
		err[0] = '\0';
		for (int allow = 0; allow < 2; allow++) {
			w = ctl_wrap_open(f->key, allow, err, sizeof(err));
			if (w != NULL)
				fail_msg("mode %03o accepted", (unsigned)bad_modes[i]);
			assert_non_null(strstr(err, f->key));
			snprintf(mode, sizeof(mode), "%03o", (unsigned)bad_modes[i]);
			assert_non_null(strstr(err, mode));
		}
	}
	/* owner read-only is fine */
	assert_int_equal(chmod(f->key, 0400), 0);
	w = ctl_wrap_open(f->key, false, err, sizeof(err));
	if (w == NULL)
		fail_msg("ctl_wrap_open 0400: %s", err);
	ctl_wrap_close(w);

	/* owned by another uid (only root can make one) */
	if (geteuid() == 0) {
		assert_int_equal(chmod(f->key, 0600), 0);
		assert_int_equal(chown(f->key, 4242, (gid_t)-1), 0);
		assert_null(ctl_wrap_open(f->key, true, err, sizeof(err)));
		assert_non_null(strstr(err, f->key));
		assert_int_equal(chown(f->key, 0, (gid_t)-1), 0);
	}

	/* not 32 bytes */
	assert_int_equal(chmod(f->key, 0600), 0);
	assert_int_equal(truncate(f->key, 31), 0);
	assert_null(ctl_wrap_open(f->key, true, err, sizeof(err)));
	assert_non_null(strstr(err, f->key));
	assert_int_equal(truncate(f->key, 33), 0);
	assert_null(ctl_wrap_open(f->key, true, err, sizeof(err)));

	/* a symlink to a good key file is not followed */
	write_key_file(f->key, raw, 0600);
	snprintf(lnk, sizeof(lnk), "%s/link.key", f->dir);
	assert_int_equal(symlink(f->key, lnk), 0);
	assert_null(ctl_wrap_open(lnk, true, err, sizeof(err)));
	assert_non_null(strstr(err, lnk));

	/* a directory is not a key file */
	assert_null(ctl_wrap_open(f->dir, false, err, sizeof(err)));
}

/* ctl_wrap_tag: HMAC under a subkey of the master key, one per label; the
 * same with the same 32 bytes in another file, another with another key. */
static void test_wrap_tag(void **state)
{
	struct fx *f = *state;
	char err[512] = "", other[320], copy[320];
	uint8_t t1[32], t2[32], t3[32], t4[32], raw[64];
	size_t n;
	static const uint8_t msg[] = "chain 1 up to record 57";

	assert_int_equal(mkdir(f->cfg.state_dir, 0700), 0);
	struct ctl_wrap *w = ctl_wrap_open(f->key, true, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(ctl_wrap_tag(w, "label one", msg, sizeof(msg), t1), 0);
	assert_int_equal(ctl_wrap_tag(w, "label two", msg, sizeof(msg), t2), 0);
	assert_memory_not_equal(t1, t2, 32);
	assert_int_equal(ctl_wrap_tag(w, "label one", msg, sizeof(msg), t3), 0);
	assert_memory_equal(t1, t3, 32);
	assert_int_equal(ctl_wrap_tag(w, "label one", msg, sizeof(msg) - 1, t3), 0);
	assert_memory_not_equal(t1, t3, 32);
	/* the tag is neither the master key nor made with it directly */
	read_file(f->key, raw, sizeof(raw), &n);
	assert_int_equal(n, 32);
	assert_memory_not_equal(t1, raw, 32);
	/* too long a label is refused, not cut short */
	assert_int_equal(ctl_wrap_tag(w, "a label of thirty-two characters", msg,
				      sizeof(msg), t3), -1);
	ctl_wrap_close(w);

	snprintf(copy, sizeof(copy), "%s/copy.key", f->dir);
	write_key_file(copy, raw, 0600);
	w = ctl_wrap_open(copy, false, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(ctl_wrap_tag(w, "label one", msg, sizeof(msg), t3), 0);
	assert_memory_equal(t1, t3, 32);
	ctl_wrap_close(w);

	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	w = ctl_wrap_open(other, true, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(ctl_wrap_tag(w, "label one", msg, sizeof(msg), t4), 0);
	assert_memory_not_equal(t1, t4, 32);
	ctl_wrap_close(w);
}

/* ---- the store and the governance log ---- */

static void test_store_append_verify_reopen(void **state)
{
	struct fx *f = *state;
	struct stat st;
	char path[320];

	store_open(f);
	/* a new state directory (0700) and master key (0600) */
	assert_int_equal(stat(f->cfg.state_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	snprintf(path, sizeof(path), "%s/veil.db", f->cfg.state_dir);
	assert_int_equal(access(path, F_OK), 0);

	/* an empty log is intact */
	assert_int_equal(f->s.last_seq, 0);
	expect_verify(f, 0, 0);

	append_n(f, 5, 1000, 1000);
	expect_verify(f, 0, 5);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 5);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 1);
	assert_int_equal(sql_int(f, "SELECT max(seq) FROM audit"), 5);
	/* the explicit times are kept */
	assert_int_equal(sql_int(f, "SELECT time FROM audit WHERE seq=3"), 3000);
	/* a time of 0 means now */
	struct ctl_audit_rec now = { .role = "admin", .action = "status",
				     .outcome = "ok" };
	int64_t t0 = ctl_now();
	assert_int_equal(ctl_audit_append(&f->s, &now), 0);
	assert_true(sql_int(f, "SELECT time FROM audit WHERE seq=6") >= t0);
	expect_verify(f, 0, 6);

	/* the audit key is stored wrapped only: the database (and its WAL)
	 * do not hold it */
	assert_int_equal(sql_int(f, "SELECT length(v) FROM meta WHERE k='audit_key'"),
			 40);
	uint8_t ak[32];
	memcpy(ak, f->s.audit_key, sizeof(ak));
	store_close(f);
	assert_false(file_has(path, ak, sizeof(ak)));
	snprintf(path, sizeof(path), "%s/veil.db-wal", f->cfg.state_dir);
	assert_false(file_has(path, ak, sizeof(ak)));

	/* reopened: the same chain, and appending goes on from its head */
	store_open(f);
	assert_int_equal(f->s.last_seq, 6);
	assert_memory_equal(f->s.audit_key, ak, sizeof(ak));
	expect_verify(f, 0, 6);
	append_n(f, 3, 20000, 10);
	expect_verify(f, 0, 9);
	assert_int_equal(sql_int(f, "SELECT max(seq) FROM audit"), 9);
	store_close(f);
	store_open(f);
	assert_int_equal(f->s.last_seq, 9);
	expect_verify(f, 0, 9);
}

static void test_store_edit_detected(void **state)
{
	struct fx *f = *state;
	/* each edit shows at the record edited; undone, the chain is intact */
	static const struct {
		const char *edit, *undo;
		int64_t bad;
	} cases[] = {
		{ "UPDATE audit SET justification='nothing to see' WHERE seq=3",
		  "UPDATE audit SET justification='INC-4242: phishing triage' WHERE seq=3", 3 },
		{ "UPDATE audit SET outcome='denied' WHERE seq=1",
		  "UPDATE audit SET outcome='ok' WHERE seq=1", 1 },
		{ "UPDATE audit SET uid=0 WHERE seq=5",
		  "UPDATE audit SET uid=1004 WHERE seq=5", 5 },
		{ "UPDATE audit SET time=time+1 WHERE seq=2",
		  "UPDATE audit SET time=time-1 WHERE seq=2", 2 },
		{ "UPDATE audit SET tokens='[]' WHERE seq=4",
		  "UPDATE audit SET tokens='[\"veil_u1_aaaabbbbccccdddd\"]' WHERE seq=4", 4 },
		{ "UPDATE audit SET role='admin' WHERE seq=2",
		  "UPDATE audit SET role='investigator' WHERE seq=2", 2 },
		{ "UPDATE audit SET action='status' WHERE seq=3",
		  "UPDATE audit SET action='resolve' WHERE seq=3", 3 },
		/* seq 1 has no tenant (NULL), seq 3 an empty one: not the same */
		{ "UPDATE audit SET tenant='' WHERE seq=1",
		  "UPDATE audit SET tenant=NULL WHERE seq=1", 1 },
		{ "UPDATE audit SET tenant=NULL WHERE seq=3",
		  "UPDATE audit SET tenant='' WHERE seq=3", 3 },
		{ "UPDATE audit SET mac=zeroblob(32) WHERE seq=5",
		  NULL, 5 },
	};

	store_open(f);
	append_n(f, 5, 1000, 1000);
	expect_verify(f, 0, 5);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sql(f, cases[i].edit), 1);
		char why[256] = "";
		int64_t n = -1;
		int64_t bad = ctl_audit_verify(&f->s, &n, why, sizeof(why));
		if (bad != cases[i].bad)
			fail_msg("%s: verify %lld (%s)", cases[i].edit,
				 (long long)bad, why);
		assert_true(why[0] != '\0');
		if (cases[i].undo == NULL)
			continue;
		assert_int_equal(sql(f, cases[i].undo), 1);
		expect_verify(f, 0, 5);
	}
}

static void test_store_removal_detected(void **state)
{
	struct fx *f = *state;
	char why[256] = "";
	int64_t n = -1;

	store_open(f);
	append_n(f, 5, 1000, 1000);

	/* a record from the middle: verify names it */
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=3"), 1);
	assert_int_equal(ctl_audit_verify(&f->s, &n, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "3"));
	/* and a restart refuses it, naming it */
	store_close(f);
	expect_refused(f, "record 3");

	/* the first record, in a fresh log */
	reset(f);
	append_n(f, 5, 1000, 1000);
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=1"), 1);
	expect_verify(f, 1, 0);
}

static void test_store_last_removal_detected(void **state)
{
	struct fx *f = *state;
	char why[256] = "";
	int64_t n = -1;

	store_open(f);
	append_n(f, 5, 1000, 1000);
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=5"), 1);
	int64_t bad = ctl_audit_verify(&f->s, &n, why, sizeof(why));
	assert_int_equal(bad, 5);
	assert_true(why[0] != '\0');

	/* the last two */
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=4"), 1);
	assert_int_equal(ctl_audit_verify(&f->s, &n, why, sizeof(why)), 4);

	/* all of them */
	assert_int_equal(sql(f, "DELETE FROM audit"), 3);
	assert_int_equal(ctl_audit_verify(&f->s, &n, why, sizeof(why)), 1);

	/* and a restart, which reads the head from the database, refuses it */
	store_close(f);
	expect_refused(f, "removed from the end");
}

static void test_store_insertion_detected(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 5, 1000, 1000);

	/* a forged record after the head, even one with a real record's mac */
	assert_int_equal(sql(f, "INSERT INTO audit(seq,time,uid,role,action,tenant,"
			     "tokens,justification,outcome,mac) SELECT 6,time+1,uid,"
			     "role,action,tenant,tokens,justification,outcome,mac "
			     "FROM audit WHERE seq=5"), 1);
	expect_verify(f, 6, 0);
	assert_int_equal(sql(f, "UPDATE audit SET mac=randomblob(32) WHERE seq=6"), 1);
	expect_verify(f, 6, 0);
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=6"), 1);
	expect_verify(f, 0, 5);

	/* a forged record in place of a real one: moved down, renumbered */
	assert_int_equal(sql(f, "UPDATE audit SET seq=seq+10 WHERE seq>=3"), 3);
	assert_int_equal(sql(f, "INSERT INTO audit(seq,time,uid,role,action,tenant,"
			     "tokens,justification,outcome,mac) VALUES(3,3000,0,"
			     "'admin','key.destroy','acme',NULL,'forged','ok',"
			     "randomblob(32))"), 1);
	expect_verify(f, 3, 0);
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=3"), 1);
	assert_int_equal(sql(f, "UPDATE audit SET seq=seq-10 WHERE seq>=13"), 3);
	expect_verify(f, 0, 5);

	/* two records swapped */
	assert_int_equal(sql(f, "UPDATE audit SET seq=-2 WHERE seq=2;"
			     "UPDATE audit SET seq=2 WHERE seq=4;"
			     "UPDATE audit SET seq=4 WHERE seq=-2"), 1);
	expect_verify(f, 2, 0);

	/* swapped back: intact again */
	assert_int_equal(sql(f, "UPDATE audit SET seq=-2 WHERE seq=2;"
			     "UPDATE audit SET seq=2 WHERE seq=4;"
			     "UPDATE audit SET seq=4 WHERE seq=-2"), 1);
	expect_verify(f, 0, 5);

	/* the anchor or head gone */
	store_close(f);
	store_open(f);
	assert_int_equal(sql(f, "DELETE FROM meta WHERE k='audit_anchor'"), 1);
	char why[256] = "";
	int64_t n;
	assert_true(ctl_audit_verify(&f->s, &n, why, sizeof(why)) != 0);
	assert_true(why[0] != '\0');
}

static void test_store_prune(void **state)
{
	struct fx *f = *state;

	store_open(f);
	/* seq 1-3 at 1000, 2000, 3000; seq 4 exactly at the cut (kept);
	 * seq 5-8 after it */
	append_n(f, 4, 1000, 1000);
	append_n(f, 4, 10000, 1000);
	expect_verify(f, 0, 8);

	assert_int_equal(prune(f, 4000), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 5);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 4);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit WHERE time < 4000"), 0);
	expect_verify(f, 0, 5);

	/* appending goes on, across a restart too */
	append_n(f, 2, 20000, 1000);
	expect_verify(f, 0, 7);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 7);
	assert_int_equal(f->s.last_seq, 10);

	/* removals are still seen: the oldest kept record ... */
	assert_int_equal(sql(f, "DELETE FROM audit WHERE seq=4"), 1);
	expect_verify(f, 4, 0);

	/* ... and, in a fresh log, pruning all of it keeps it verifiable */
	reset(f);
	append_n(f, 3, 1000, 1000);
	assert_int_equal(prune(f, 1000000), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 0);
	expect_verify(f, 0, 0);
	append_n(f, 2, 2000000, 1000);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 4);
	expect_verify(f, 0, 2);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 2);
	append_n(f, 1, 3000000, 0);
	expect_verify(f, 0, 3);
}

static void test_store_prune_nothing_old(void **state)
{
	struct fx *f = *state;

	store_open(f);
	/* on an empty log */
	assert_int_equal(prune(f, ctl_now()), 0);
	expect_verify(f, 0, 0);

	append_n(f, 5, 50000, 1000);
	assert_int_equal(prune(f, 50000), 0);
	assert_int_equal(prune(f, 0), 0);
	assert_int_equal(prune(f, -1), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 5);
	expect_verify(f, 0, 5);
	/* the anchor did not move: still the start of the log */
	assert_int_equal(sql_int(f, "SELECT substr(v, 1, 40) = zeroblob(40) FROM meta "
				 "WHERE k='audit_anchor'"), 1);

	/* a second prune with the same cut is a no-op too */
	assert_int_equal(prune(f, 52000), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	assert_int_equal(prune(f, 52000), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	expect_verify(f, 0, 3);
}

/* The head and the anchor carry a MAC under the audit key: rewinding the
 * head over removed records, or moving the anchor over removed old ones,
 * with values copied from the table, is caught. */
static void test_store_rewound_head_and_anchor(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	struct ctl_store s2;

	store_open(f);
	append_n(f, 6, 1000, 1000);
	expect_verify(f, 0, 6);
	/* remove record 6 and point the head at record 5, as it was */
	sql(f, "DELETE FROM audit WHERE seq=6");
	sql(f, "UPDATE meta SET v = (SELECT x'0000000000000005' || mac FROM audit "
	       "WHERE seq=5) || substr(v, 41) WHERE k='audit_head'");
	assert_int_equal(ctl_audit_verify(&f->s, &(int64_t){0}, err, sizeof(err)) != 0, 1);
	store_close(f);
	/* and the daemon refuses to go on from a forged head */
	assert_int_equal(ctl_store_open(&s2, &f->cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not authentic"));

	reset(f);
	append_n(f, 6, 1000, 1000);
	/* remove records 1-2 and move the anchor to record 2 */
	sql(f, "UPDATE meta SET v = (SELECT x'0000000000000002' || mac FROM audit "
	       "WHERE seq=2) || substr(v, 41) WHERE k='audit_anchor'");
	sql(f, "DELETE FROM audit WHERE seq <= 2");
	int64_t n = -1;
	assert_int_not_equal(ctl_audit_verify(&f->s, &n, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not authentic"));
}

/* Records are pruned as the oldest run only: one whose clock went back
 * after a newer record is not taken with the old ones. */
static void test_store_prune_clock_steps(void **state)
{
	struct fx *f = *state;
	static const int64_t times[] = { 1000, 900000, 1500, 900001 };

	store_open(f);
	for (int i = 0; i < 4; i++) {
		struct ctl_audit_rec r = { .time = times[i], .role = "admin",
					   .action = "status", .outcome = "ok" };
		assert_int_equal(ctl_audit_append(&f->s, &r), 0);
	}
	assert_int_equal(prune(f, 2000), 0);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	expect_verify(f, 0, 3);
}

/* What the MAC does not cover is refused: a uid beyond 32 bits, text
 * hidden after a NUL. */
static void test_store_uncovered_edits(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 3, 1000, 1000);
	sql(f, "UPDATE audit SET uid = uid + 4294967296 WHERE seq=2");
	expect_verify(f, 2, 0);
	sql(f, "UPDATE audit SET uid = uid - 4294967296 WHERE seq=2");
	expect_verify(f, 0, 3);
	sql(f, "UPDATE audit SET outcome = CAST(outcome || x'00' || 'hidden' AS TEXT) "
	       "WHERE seq=3");
	expect_verify(f, 3, 0);
}

static void test_store_master_key_missing(void **state)
{
	struct fx *f = *state;
	char err[512] = "";
	uint8_t raw[64];
	size_t n;
	struct ctl_store s2;

	store_open(f);
	append_n(f, 3, 1000, 1000);
	store_close(f);
	read_file(f->key, raw, sizeof(raw), &n);
	assert_int_equal(n, 32);
	assert_int_equal(unlink(f->key), 0);

	/* the database holds the wrapped audit key: no new master key */
	assert_int_equal(ctl_store_open(&s2, &f->cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->key));
	assert_non_null(strstr(err, "wrapped"));
	assert_int_equal(access(f->key, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	/* twice: the failed open did not change anything either */
	assert_int_equal(ctl_store_open(&s2, &f->cfg, err, sizeof(err)), -1);
	assert_int_equal(access(f->key, F_OK), -1);

	/* another master key in its place does not unwrap the audit key */
	uint8_t other[32];
	memset(other, 0x99, sizeof(other));
	write_key_file(f->key, other, 0600);
	err[0] = '\0';
	assert_int_equal(ctl_store_open(&s2, &f->cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, f->key));
	uint8_t now[64];
	read_file(f->key, now, sizeof(now), &n);
	assert_int_equal(n, 32);
	assert_memory_equal(now, other, 32);

	/* the right one back: all is well */
	write_key_file(f->key, raw, 0600);
	store_open(f);
	expect_verify(f, 0, 3);
	append_n(f, 1, 5000, 0);
	expect_verify(f, 0, 4);
}


/* ---- rollback protection: the mark beside the master key ---- */

static void db_path(struct fx *f, char *out, size_t cap, const char *suffix)
{
	snprintf(out, cap, "%s/veil.db%s", f->cfg.state_dir, suffix);
}

/* The whole log gone from the database (its rows and meta's), or the
 * database itself: refused, never a new log; the recovery records it, the
 * new log goes on after the lost records, and the next start is clean. */
static void test_mark_wiped(void **state)
{
	struct fx *f = *state;
	char path[320];

	store_open(f);
	append_n(f, 7, 1000, 1000);
	store_close(f);
	sql(f, "DELETE FROM audit; DELETE FROM meta");
	expect_refused(f, "records 1-7 are missing");
	expect_refused(f, "records 1-7 are missing"); /* the refusal changed nothing */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM meta"), 0);

	recover(f, "INC-1: wiped by a script", true);
	assert_int_equal(f->s.last_seq, 8);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 8);
	expect_verify(f, 0, 1);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 1);
	append_n(f, 2, 50000, 1);
	store_close(f);

	/* veil.db deleted */
	const char *const sfx[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		db_path(f, path, sizeof(path), sfx[i]);
		unlink(path);
	}
	expect_refused(f, "records 8-10 are missing");
	/* ... or truncated */
	db_path(f, path, sizeof(path), "");
	assert_int_equal(truncate(path, 0), 0);
	expect_refused(f, "no governance log");

	/* a master key with neither a log nor a mark */
	char mark[320];
	snprintf(mark, sizeof(mark), "%s/audit.mark", f->cfg.state_dir);
	assert_int_equal(unlink(mark), 0);
	expect_refused(f, "neither a governance log");
}

/* The group commit moves the mark too (one hook after either commit), and
 * only once it is durable: records of a batch never committed leave the
 * mark where it was. */
static void test_mark_group_commit(void **state)
{
	struct fx *f = *state;
	char path[320], old[320];

	store_open(f);
	append_n(f, 2, 1000, 1000);
	store_close(f);
	db_path(f, path, sizeof(path), "");
	snprintf(old, sizeof(old), "%s/old.db", f->dir);
	copy_file(path, old);

	/* a batch lost before its commit: the mark did not move */
	store_open(f);
	ctl_store_batch(&f->s, true);
	append_n(f, 2, 3000, 1000);
	store_close(f); /* no sync: rolled back */
	store_open(f);
	assert_int_equal(f->s.last_seq, 2);
	expect_verify(f, 0, 2);

	/* a batch committed: the mark follows it */
	ctl_store_batch(&f->s, true);
	append_n(f, 3, 3000, 1000);
	assert_int_equal(ctl_store_sync(&f->s), 0);
	ctl_store_batch(&f->s, false);
	store_close(f);
	copy_file(old, path);
	expect_refused(f, "records 3-5 are missing");
}

/* Writes that never pause (a group commit after another, as under a
 * steady rate of audited requests): the keeper checkpoints the WAL once
 * per 1,000 new pages or so, not after every commit once the WAL is past
 * 1,000 pages (a checkpoint that commits made meanwhile leave incomplete
 * does not restart the WAL: asking again at each commit ran checkpoints,
 * each with its two fsyncs, back to back); and the WAL still restarts,
 * so it stays bounded. */
static void test_keeper_checkpoints(void **state)
{
	struct fx *f = *state;
	char path[320];
	enum { COMMITS = 600, PER = 30 };

	store_open(f);
	assert_int_equal(ctl_store_mark_async(&f->s), 0);
	assert_int_equal(ctl_store_keeper_start(&f->s), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int c = 0; c < COMMITS; c++) {
		ctl_store_batch(&f->s, true);
		append_n(f, PER, 1000 + (int64_t)c * PER, 1);
		assert_int_equal(ctl_store_sync(&f->s), 0);
		ctl_store_batch(&f->s, false);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t ckpts, pruned;
	ctl_store_keeper_counts(&f->s, &ckpts, &pruned);
	/* a commit of 30 records writes well under 10 pages; the keeper also
	 * checkpoints once a second when nothing asks */
	uint64_t secs = (uint64_t)(t1.tv_sec - t0.tv_sec) + 1;
	print_message("# %d commits in %llu s: %llu checkpoints\n", COMMITS,
		      (unsigned long long)secs, (unsigned long long)ckpts);
	if (ckpts > COMMITS / 10 + secs + 2)
		fail_msg("%llu checkpoints for %d commits in %llu s: one a commit, "
			 "not one per 1,000 pages", (unsigned long long)ckpts, COMMITS,
			 (unsigned long long)secs);
	/* restarted within 8,000 pages (it restarts from 4,000 on) */
	struct stat st;
	db_path(f, path, sizeof(path), "-wal");
	assert_int_equal(stat(path, &st), 0);
	if (st.st_size > 8000 * (4096 + 24))
		fail_msg("the WAL is %lld bytes: it did not restart",
			 (long long)st.st_size);
	expect_verify(f, 0, COMMITS * PER);
}

/* With the mark's writer thread, the mark is written every CTL_MARK_EVERY
 * commits, not after each: after any commit, the mark on disk names a
 * state at most 2 * CTL_MARK_EVERY - 1 commits old and never one ahead of
 * the log; a settle hands over the rest, and the close writes it. */
static void test_mark_lag_bound(void **state)
{
	struct fx *f = *state;
	enum { COMMITS = 60, LAG = 2 * CTL_MARK_EVERY - 1 };
	int64_t heads[COMMITS + 1];
	struct mark m;

	store_open(f);
	assert_int_equal(ctl_store_mark_async(&f->s), 0);
	heads[0] = f->s.last_seq;
	for (int c = 1; c <= COMMITS; c++) {
		ctl_store_batch(&f->s, true);
		append_n(f, 1 + c % 3, 1000 + (int64_t)c * 10, 1);
		assert_int_equal(ctl_store_sync(&f->s), 0);
		ctl_store_batch(&f->s, false);
		heads[c] = f->s.last_seq;
		assert_int_equal(st_mark_read(&f->s, &m), MARK_OK);
		if (m.seq > heads[c])
			fail_msg("commit %d: the mark names record %lld, the log ends at "
				 "%lld", c, (long long)m.seq, (long long)heads[c]);
		if (c >= LAG && m.seq < heads[c - LAG])
			fail_msg("commit %d: the mark names record %lld, more than %d "
				 "commits behind (record %lld)", c, (long long)m.seq, LAG,
				 (long long)heads[c - LAG]);
	}
	/* a quiet pass hands over what is left */
	append_n(f, 1, 99999, 1); /* a commit of its own, not yet handed over */
	assert_int_equal(ctl_store_mark_flush(&f->s), 0);
	assert_int_equal(st_mark_read(&f->s, &m), MARK_OK);
	assert_int_equal(m.seq, f->s.last_seq);
	/* and the close writes the last state: a copy from before it is
	 * refused */
	char path[320], old[320];
	store_close(f);
	db_path(f, path, sizeof(path), "");
	snprintf(old, sizeof(old), "%s/old.db", f->dir);
	copy_file(path, old);
	store_open(f);
	assert_int_equal(ctl_store_mark_async(&f->s), 0);
	append_n(f, 1, 100000, 1);
	char want[64];
	snprintf(want, sizeof(want), "record %lld is missing", (long long)f->s.last_seq);
	store_close(f);
	copy_file(old, path);
	expect_refused(f, want);
}

/* veil.db put back to an older copy of itself: refused. */
static void test_mark_rewound(void **state)
{
	struct fx *f = *state;
	char path[320], old[320];

	store_open(f);
	append_n(f, 4, 1000, 1000);
	store_close(f);
	db_path(f, path, sizeof(path), "");
	snprintf(old, sizeof(old), "%s/old.db", f->dir);
	copy_file(path, old);
	store_open(f);
	append_n(f, 3, 9000, 1000);
	store_close(f);
	copy_file(old, path);
	expect_refused(f, "rewound");
	expect_refused(f, "records 5-7 are missing");

	/* another log in its place: refused. The rewound copy is accepted
	 * by a recovery, then the log wiped and recovered (a new chain id),
	 * then the rewound copy put back. */
	recover(f, "INC-3: restored from a backup", true);
	store_close(f);
	copy_file(path, old);
	sql(f, "DELETE FROM audit; DELETE FROM meta");
	recover(f, "INC-3: wiped", true);
	store_close(f);
	copy_file(old, path);
	expect_refused(f, "another log");

	/* the mark deleted: refused too */
	reset(f);
	append_n(f, 2, 1000, 1000);
	store_close(f);
	char mark[320];
	snprintf(mark, sizeof(mark), "%s/audit.mark", f->cfg.state_dir);
	assert_int_equal(unlink(mark), 0);
	expect_refused(f, "is missing");
	recover(f, "INC-3: mark deleted by mistake", true);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 3);
}

/* A torn write of the newest slot leaves the older one: the log, ahead of
 * it, still opens. A mark altered in both slots does not. */
static void test_mark_torn(void **state)
{
	struct fx *f = *state;
	char mark[320];
	uint8_t buf[2048];
	size_t n;

	store_open(f);
	append_n(f, 3, 1000, 1000);
	store_close(f);
	snprintf(mark, sizeof(mark), "%s/audit.mark", f->cfg.state_dir);
	read_file(mark, buf, sizeof(buf), &n);
	assert_true(n > 512 + 100);
	/* which slot is the newer: the one with the higher generation */
	int newer = memcmp(buf + 8, buf + 512 + 8, 8) > 0 ? 0 : 1;
	int fd = open(mark, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "torn", 4, newer * 512 + 40), 4);
	close(fd);
	store_open(f);
	expect_verify(f, 0, 3);
	append_n(f, 1, 5000, 0);
	store_close(f);
	/* both slots altered: not authentic, refused */
	fd = open(mark, O_WRONLY);
	assert_int_equal(pwrite(fd, "xx", 2, 40), 2);
	assert_int_equal(pwrite(fd, "xx", 2, 512 + 40), 2);
	close(fd);
	expect_refused(f, "not authentic");
}

/* A record edited in the middle: refused; the recovery accepts that
 * break as it was found, and only that. */
static void test_mark_recover_edit(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 6, 1000, 1000);
	store_close(f);
	sql(f, "UPDATE audit SET justification='nothing to see' WHERE seq=3");
	expect_refused(f, "record 3 was altered");
	recover(f, "INC-6: edited by a script", true);
	assert_int_equal(f->s.last_seq, 7);
	expect_verify(f, 0, 3); /* 1, 2 and the recovery record verify */
	store_close(f);
	store_open(f); /* accepted: no refusal */
	append_n(f, 1, 9000, 0);
	expect_verify(f, 0, 4);
	store_close(f);

	/* a new break before it, or a change to what it accepted: refused */
	sql(f, "UPDATE audit SET outcome='denied' WHERE seq=2");
	expect_refused(f, "record 2");
	sql(f, "UPDATE audit SET outcome='ok' WHERE seq=2");
	store_open(f);
	store_close(f);
	sql(f, "UPDATE audit SET uid=0 WHERE seq=5");
	expect_refused(f, "changed since the recovery");
	sql(f, "UPDATE audit SET uid=1004 WHERE seq=5");
	/* or after it */
	sql(f, "UPDATE audit SET role='admin' WHERE seq=8");
	expect_refused(f, "record 8");
	sql(f, "UPDATE audit SET role='investigator' WHERE seq=8");
	store_open(f);
	/* nothing wrong: the flag records nothing */
	store_close(f);
	recover(f, "just checking", false);
	assert_int_equal(f->s.last_seq, 8);
}

/* Records removed from the end (below the head): refused, recovered. */
static void test_mark_recover_end(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 5, 1000, 1000);
	store_close(f);
	sql(f, "DELETE FROM audit WHERE seq >= 4");
	expect_refused(f, "removed from the end");
	recover(f, "INC-7", true);
	assert_int_equal(f->s.last_seq, 6);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 4);
}

/* Pruning verifies each record from the anchor before it believes its
 * time: old-looking records that do not verify stay, and it says so. */
static void test_prune_unverified(void **state)
{
	struct fx *f = *state;
	char why[512];

	store_open(f);
	append_n(f, 5, 1000, 1000);
	sql(f, "UPDATE audit SET time=0 WHERE seq <= 2");
	assert_int_equal(ctl_audit_prune(&f->s, 4000, 0, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "record 1"));
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 5);
	/* the anchor did not move */
	assert_int_equal(sql_int(f, "SELECT substr(v, 1, 40) = zeroblob(40) FROM meta "
				 "WHERE k='audit_anchor'"), 1);
	sql(f, "UPDATE audit SET time=1000 WHERE seq=1; UPDATE audit SET time=2000 "
	       "WHERE seq=2");
	expect_verify(f, 0, 5);

	/* one altered in the middle: the records before it go, it stays */
	sql(f, "UPDATE audit SET outcome='denied' WHERE seq=3");
	assert_int_equal(ctl_audit_prune(&f->s, 1000000, 0, why, sizeof(why)), 2);
	assert_non_null(strstr(why, "record 3"));
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	sql(f, "UPDATE audit SET outcome='ok' WHERE seq=3");
	expect_verify(f, 0, 3);
}

/* STRICT: a new audit table takes no other type; an existing plain one is
 * made STRICT in place; a field of another type, stored while it was
 * plain, is reported by verify and refused at start. */
static void test_typed_columns(void **state)
{
	struct fx *f = *state;
	char why[512] = "";
	int64_t n;

	store_open(f);
	append_n(f, 4, 1000, 1000);
	assert_int_equal(sql_int(f, "SELECT strict FROM pragma_table_list WHERE "
				 "name='audit'"), 1);
	store_close(f);
	unstrict(f);
	store_open(f);
	assert_int_equal(sql_int(f, "SELECT strict FROM pragma_table_list WHERE "
				 "name='audit'"), 1);
	expect_verify(f, 0, 4);

	unstrict(f);
	sql(f, "UPDATE audit SET tenant=CAST(tenant AS BLOB) WHERE seq=2");
	assert_int_equal(sql_int(f, "SELECT typeof(tenant) FROM audit WHERE seq=2") ==
			 sql_int(f, "SELECT typeof(tenant) FROM audit WHERE seq=2"), 1);
	assert_int_equal(ctl_audit_verify(&f->s, &n, why, sizeof(why)), 2);
	assert_non_null(strstr(why, "tenant is a blob"));
	store_close(f);
	expect_refused(f, "record 2");
	/* a MAC as text is no better */
	sql(f, "UPDATE audit SET tenant=CAST(tenant AS TEXT) WHERE seq=2");
	sql(f, "UPDATE audit SET mac=CAST(mac AS TEXT) WHERE seq=4");
	expect_refused(f, "record 4");
	sql(f, "UPDATE audit SET mac=CAST(mac AS BLOB) WHERE seq=4");
	store_open(f);
	expect_verify(f, 0, 4);
}

/* A database from before the mark (no chain id, a plain audit table, no
 * mark file) starts, and gets both. */
static void test_mark_migration(void **state)
{
	struct fx *f = *state;
	char mark[320];

	store_open(f);
	append_n(f, 3, 1000, 1000);
	store_close(f);
	snprintf(mark, sizeof(mark), "%s/audit.mark", f->cfg.state_dir);
	assert_int_equal(unlink(mark), 0);
	sql(f, "DELETE FROM meta WHERE k='chain_id'");
	unstrict(f);
	store_open(f);
	assert_non_null(strstr(f->s.note, "had no mark"));
	assert_int_equal(access(mark, F_OK), 0);
	assert_int_equal(sql_int(f, "SELECT length(v) FROM meta WHERE k='chain_id'"), 16);
	assert_int_equal(sql_int(f, "SELECT strict FROM pragma_table_list WHERE "
				 "name='audit'"), 1);
	expect_verify(f, 0, 3);
	store_close(f);
	store_open(f);
	assert_string_equal(f->s.note, "");

	/* a broken one is not migrated: refused */
	store_close(f);
	assert_int_equal(unlink(mark), 0);
	sql(f, "DELETE FROM meta WHERE k='chain_id'");
	sql(f, "UPDATE audit SET outcome='x' WHERE seq=2");
	expect_refused(f, "record 2");
	assert_int_equal(access(mark, F_OK), -1);
	/* and nothing was changed by the refusal: still one from before */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM meta WHERE k='chain_id'"), 0);
	expect_refused(f, "record 2");
	sql(f, "UPDATE audit SET outcome='ok' WHERE seq=2");
	store_open(f);
	assert_non_null(strstr(f->s.note, "had no mark"));
}

/* ---- a state change and its record in one transaction ---- */

static int change_exec(struct fx *f, const char *q)
{
	return sqlite3_exec(f->s.db, q, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int change_record(struct fx *f, const char *just)
{
	struct ctl_audit_rec r = { .uid = 0, .role = "admin", .action = "role.grant",
				   .justification = just, .outcome = "ok" };
	return ctl_audit_append(&f->s, &r);
}

/* Committed: the change and its record; aborted or failed: neither, and the
 * chain goes on from the last durable record. */
static void test_store_change_commit_abort(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 2, 1000, 1000);

	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 5, 'admin')"), 0);
	assert_int_equal(change_record(f, NULL), 0);
	assert_int_equal(f->s.last_seq, 3);
	ctl_store_abort(&f->s);
	assert_int_equal(f->s.last_seq, 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM roles"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 2);
	ctl_store_abort(&f->s); /* nothing open: nothing happens */

	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 6, 'reader')"), 0);
	assert_int_equal(change_record(f, NULL), 0);
	assert_int_equal(ctl_store_commit(&f->s), 0);
	ctl_store_abort(&f->s); /* committed: nothing to undo */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM roles WHERE id=6"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	expect_verify(f, 0, 3);

	/* the commit itself fails (a deferred constraint, checked at COMMIT):
	 * both go, and the next record chains on from record 3 */
	assert_int_equal(change_exec(f, "CREATE TABLE later(t TEXT REFERENCES "
				     "tenants(id) DEFERRABLE INITIALLY DEFERRED)"), 0);
	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 7, 'admin')"), 0);
	assert_int_equal(change_exec(f, "INSERT INTO later VALUES('no such tenant')"), 0);
	assert_int_equal(change_record(f, NULL), 0);
	assert_int_equal(ctl_store_commit(&f->s), -1);
	assert_int_equal(f->s.last_seq, 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM roles WHERE id=7"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	append_n(f, 1, 5000, 0);
	expect_verify(f, 0, 4);

	/* the record cannot be written (the database may not grow): the
	 * change is rolled back with it */
	int64_t pages = sql_int(f, "PRAGMA page_count");
	char q[64];
	snprintf(q, sizeof(q), "PRAGMA max_page_count=%lld", (long long)pages);
	assert_int_equal(change_exec(f, q), 0);
	static char big[64 << 10];
	memset(big, 'j', sizeof(big) - 1);
	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 8, 'admin')"), 0);
	assert_int_equal(change_record(f, big), -1);
	ctl_store_abort(&f->s);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM roles WHERE id=8"), 0);
	assert_int_equal(f->s.last_seq, 4);
	expect_verify(f, 0, 4);
}

/* A batch open when a change begins is committed first: an aborted change
 * takes none of the batch's records with it, and does not fail the batch. */
static void test_store_change_after_batch(void **state)
{
	struct fx *f = *state;

	store_open(f);
	ctl_store_batch(&f->s, true);
	append_n(f, 2, 1000, 1000);
	uint64_t commits = f->s.commits;
	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(f->s.commits, commits + 1);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(1, 9, 'admin')"), 0);
	assert_int_equal(change_record(f, NULL), 0);
	ctl_store_abort(&f->s);
	append_n(f, 1, 3000, 0); /* a new batch */
	assert_int_equal(ctl_store_sync(&f->s), 0);
	ctl_store_batch(&f->s, false);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM roles"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	expect_verify(f, 0, 3);
}

/* After a destroy commits, ctl_store_shred leaves no copy of the erased
 * bytes in the database file or its WAL. */
static void test_store_shred(void **state)
{
	struct fx *f = *state;
	char db[320], wal[320];
	uint8_t blob[40];
	struct stat st;

	store_open(f);
	snprintf(db, sizeof(db), "%s/veil.db", f->cfg.state_dir);
	snprintf(wal, sizeof(wal), "%s/veil.db-wal", f->cfg.state_dir);
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(0xc3 ^ (i * 37));
	assert_int_equal(change_exec(f, "INSERT INTO tenants(id, created) VALUES('acme', 1)"), 0);
	/* version 2 of three, so that its row sits between the others */
	for (int v = 1; v <= 3; v++) {
		sqlite3_stmt *ins;
		assert_int_equal(sqlite3_prepare_v2(f->s.db, "INSERT INTO keys(tenant, "
						    "version, wrapped, created) VALUES('acme', "
						    "?, ?, 1)", -1, &ins, NULL), SQLITE_OK);
		blob[0] = (uint8_t)v;
		sqlite3_bind_int(ins, 1, v);
		sqlite3_bind_blob(ins, 2, blob, sizeof(blob), SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_finalize(ins);
	}
	blob[0] = 2;
	/* in the database file and in the WAL, as after days of service */
	assert_int_equal(change_exec(f, "PRAGMA wal_checkpoint(PASSIVE)"), 0);
	assert_int_equal(change_exec(f, "UPDATE keys SET created=2"), 0);
	assert_true(file_has(db, blob, sizeof(blob)));
	assert_true(file_has(wal, blob, sizeof(blob)));

	assert_int_equal(ctl_store_begin(&f->s), 0);
	assert_int_equal(change_exec(f, "UPDATE keys SET wrapped=NULL, destroyed=3 "
				     "WHERE version=2"), 0);
	assert_int_equal(change_record(f, "the customer asked for erasure"), 0);
	assert_int_equal(ctl_store_commit(&f->s), 0);
	assert_int_equal(ctl_store_shred(&f->s), 0);
	assert_false(f->s.shred_pending);
	assert_false(file_has(db, blob, sizeof(blob)));
	assert_true(stat(wal, &st) != 0 || st.st_size == 0);

	/* a reader on an older snapshot holds the WAL: not done, and pending */
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 1, 'admin')"), 0);
	sqlite3 *reader;
	assert_int_equal(sqlite3_open_v2(db, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM roles",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(change_exec(f, "INSERT INTO roles VALUES(0, 2, 'admin')"), 0);
	sqlite3_busy_timeout(f->s.db, 1);
	assert_int_equal(ctl_store_shred(&f->s), -1);
	assert_true(f->s.shred_pending);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	assert_int_equal(ctl_store_shred(&f->s), 0);
	assert_false(f->s.shred_pending);
}

/* ---- pruning in steps, the WAL and the file kept bounded ---- */

static off_t file_size(struct fx *f, const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", f->cfg.state_dir, name);
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* n records of ~1 KB at time t0 + i, in one batch (one commit). */
static void append_big(struct fx *f, int n, int64_t t0)
{
	char just[1001];
	memset(just, 'j', 1000);
	just[1000] = '\0';
	ctl_store_batch(&f->s, true);
	for (int i = 0; i < n; i++) {
		struct ctl_audit_rec r = { .time = t0 + i, .uid = 1000, .role = "investigator",
					   .action = "resolve", .tenant = "acme",
					   .tokens = "[\"veil_u1_aaaabbbbccccdddd\"]",
					   .justification = just, .outcome = "ok" };
		assert_int_equal(ctl_audit_append(&f->s, &r), 0);
	}
	assert_int_equal(ctl_store_sync(&f->s), 0);
	ctl_store_batch(&f->s, false);
}

static void test_prune_steps(void **state)
{
	struct fx *f = *state;
	char why[256] = "";

	store_open(f);
	assert_int_equal(sql_int(f, "PRAGMA auto_vacuum"), 2); /* incremental */
	append_big(f, 35000, 1000);
	append_n(f, 3, 1000000, 1);
	store_close(f); /* a clean close: the WAL into the database */
	store_open(f);
	off_t db_before = file_size(f, "veil.db");
	assert_true(db_before > 35000 * 1000);

	/* a budget: that many and no more, the anchor moved with them */
	assert_int_equal(ctl_audit_prune(&f->s, 500000, 15000, why, sizeof(why)), 15000);
	assert_string_equal(why, "");
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 15001);
	expect_verify(f, 0, 20003);
	/* the rest, in steps of CTL_PRUNE_STEP */
	assert_int_equal(ctl_audit_prune(&f->s, 500000, 0, why, sizeof(why)), 20000);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM audit"), 35001);
	expect_verify(f, 0, 3);
	assert_int_equal(ctl_audit_prune(&f->s, 500000, 0, why, sizeof(why)), 0);

	/* the next commit restarts the WAL at journal_size_limit at most: not
	 * the 35 MB that went; and the file gave the pages back */
	append_n(f, 1, 2000000, 0);
	off_t wal = file_size(f, "veil.db-wal");
	if (wal > CTL_WAL_LIMIT)
		fail_msg("the WAL is %lld bytes after the prune (limit %d)",
			 (long long)wal, CTL_WAL_LIMIT);
	off_t db_after = file_size(f, "veil.db");
	if (db_after > db_before / 4)
		fail_msg("veil.db: %lld bytes before the prune, %lld after",
			 (long long)db_before, (long long)db_after);
	assert_int_equal(sql_int(f, "PRAGMA freelist_count"), 0);
	expect_verify(f, 0, 4);
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 4);
}

/* A database made without auto_vacuum gets it at open when it is small. */
static void test_vacuum_migration(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 50, 1000, 1);
	store_close(f);
	sql(f, "PRAGMA auto_vacuum=NONE; VACUUM");
	assert_int_equal(sql_int(f, "PRAGMA auto_vacuum"), 0);
	store_open(f);
	assert_int_equal(sql_int(f, "PRAGMA auto_vacuum"), 2);
	assert_null(strstr(f->s.note, "auto_vacuum"));
	expect_verify(f, 0, 50);
	assert_int_equal(prune(f, 1030), 0);
	expect_verify(f, 0, 20);
}

/* ---- indexes for audit.show's filters ---- */

/* How SQLite would run q: its query plan, one line per step. */
static void plan_of(struct fx *f, const char *q, char *out, size_t cap)
{
	sqlite3_stmt *st;
	char eq[512];
	snprintf(eq, sizeof(eq), "EXPLAIN QUERY PLAN %s", q);
	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(f->s.db, eq, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s\n", sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
}

static void expect_indexed(struct fx *f)
{
	static const char *const filter[][2] = {
		{ "uid = 1001", "audit_uid" }, { "tenant = 'acme'", "audit_tenant" },
		{ "action = 'resolve'", "audit_action" },
	};
	char q[256], plan[1024];
	for (int i = 0; i < 4; i++) {
		static const char *const name[] = { "audit_time", "audit_uid",
						    "audit_tenant", "audit_action" };
		snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_schema WHERE "
			 "type='index' AND name='%s' AND tbl_name='audit'", name[i]);
		if (sql_int(f, q) != 1)
			fail_msg("no index %s", name[i]);
	}
	/* a page of one filter: from its index, in seq order, no sort */
	for (int i = 0; i < 3; i++)
		for (int asc = 0; asc < 2; asc++) {
			snprintf(q, sizeof(q), "SELECT seq FROM audit WHERE seq > 0 AND "
				 "seq < 1000000 AND %s ORDER BY seq %s LIMIT 100",
				 filter[i][0], asc ? "ASC" : "DESC");
			plan_of(f, q, plan, sizeof(plan));
			if (strstr(plan, filter[i][1]) == NULL ||
			    strstr(plan, "TEMP B-TREE") != NULL)
				fail_msg("%s: %s", q, plan);
		}
	snprintf(q, sizeof(q), "SELECT seq FROM audit WHERE time >= 5 AND time < 10");
	plan_of(f, q, plan, sizeof(plan));
	if (strstr(plan, "audit_time") == NULL)
		fail_msg("%s: %s", q, plan);
}

static void test_audit_indexes(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_n(f, 20, 1000, 1);
	expect_indexed(f);
	/* a database from before them (and before STRICT, which makes the
	 * table anew): they come at the next open */
	store_close(f);
	sql(f, "DROP INDEX audit_time; DROP INDEX audit_uid; DROP INDEX audit_tenant;"
	    "DROP INDEX audit_action");
	unstrict(f);
	store_open(f);
	expect_indexed(f);
	assert_int_equal(sql_int(f, "SELECT strict FROM pragma_table_list WHERE "
				 "name='audit'"), 1);
	expect_verify(f, 0, 20);
}

/* ---- long token lists kept aside ---- */

/* Append a record with n tokens "tNNNNNN" (from t0), the way controld
 * does for a long list: the first CTL_TOKENS_HEAD inline, the rest aside
 * in chunks. */
static void append_list(struct fx *f, size_t n, size_t t0)
{
	size_t nc = (n + CTL_TOKENS_CHUNK - 1) / CTL_TOKENS_CHUNK;
	char **chunk = calloc(nc, sizeof(*chunk)), head[1024] = "[";
	size_t *count = calloc(nc, sizeof(*count));
	assert_non_null(chunk);
	assert_non_null(count);
	for (size_t c = 0; c < nc; c++) {
		size_t from = c * CTL_TOKENS_CHUNK;
		count[c] = n - from < CTL_TOKENS_CHUNK ? n - from : CTL_TOKENS_CHUNK;
		chunk[c] = malloc(count[c] * 12 + 3);
		char *p = chunk[c];
		*p++ = '[';
		for (size_t i = 0; i < count[c]; i++)
			p += sprintf(p, "%s\"t%07zu\"", i ? "," : "", t0 + from + i);
		strcpy(p, "]");
	}
	for (size_t i = 0; i < CTL_TOKENS_HEAD && i < n; i++)
		sprintf(head + strlen(head), "%s\"t%07zu\"", i ? "," : "", t0 + i);
	strcat(head, "]");
	struct ctl_token_list l = { .count = n, .n_chunks = nc,
				    .chunk = (const char *const *)chunk,
				    .chunk_count = count };
	struct ctl_audit_rec r = { .time = 500, .uid = 7, .role = "investigator",
				   .action = "resolve.bulk", .tenant = "acme",
				   .tokens = head, .justification = "INC-1: bulk",
				   .outcome = "ok", .list = &l };
	assert_int_equal(ctl_audit_append(&f->s, &r), 0);
	for (size_t c = 0; c < nc; c++)
		free(chunk[c]);
	free(chunk);
	free(count);
}

/* Every token of record seq, in pages of page: they must be tNNNNNN from
 * t0 on, n of them. */
static void expect_tokens(struct fx *f, int64_t seq, size_t n, size_t t0, size_t page)
{
	size_t off = 0, total = 0;
	char why[200];
	while (off < n) {
		json_t *a;
		if (ctl_audit_tokens(&f->s, seq, off, page, &a, &total, why, sizeof(why)) != 0)
			fail_msg("ctl_audit_tokens %lld at %zu: %s", (long long)seq, off, why);
		assert_int_equal(total, n);
		assert_true(json_array_size(a) > 0);
		for (size_t i = 0; i < json_array_size(a); i++) {
			char want[16];
			snprintf(want, sizeof(want), "t%07zu", t0 + off + i);
			assert_string_equal(json_string_value(json_array_get(a, i)), want);
		}
		off += json_array_size(a);
		json_decref(a);
	}
	assert_int_equal(off, n);
}

static void test_list_aside(void **state)
{
	struct fx *f = *state;
	char why[200], *shown;
	size_t total;

	store_open(f);
	append_n(f, 2, 1000, 1);
	append_list(f, 2500, 0);          /* record 3: three chunks */
	append_n(f, 2, 2000, 1);
	append_list(f, 101, 5000);        /* record 6: one chunk, just over */
	expect_verify(f, 0, 6);
	/* the record holds the digest form, not the tokens */
	assert_int_equal(sql_int(f, "SELECT length(tokens) < 600 FROM audit WHERE seq=3"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit_tokens WHERE seq=3"), 3);
	expect_tokens(f, 3, 2500, 0, 700);
	expect_tokens(f, 3, 2500, 0, 5000);
	expect_tokens(f, 6, 101, 5000, 10);
	/* a page inside one chunk and across two */
	json_t *a;
	assert_int_equal(ctl_audit_tokens(&f->s, 3, 999, 2, &a, &total, why,
					  sizeof(why)), 0);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "t0000999");
	assert_string_equal(json_string_value(json_array_get(a, 1)), "t0001000");
	json_decref(a);
	/* past the end: nothing; an inline list; no such record */
	assert_int_equal(ctl_audit_tokens(&f->s, 3, 2500, 10, &a, &total, why,
					  sizeof(why)), 0);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	assert_int_equal(ctl_audit_tokens(&f->s, 1, 0, 10, &a, &total, why,
					  sizeof(why)), 0);
	assert_int_equal(total, 1);
	json_decref(a);
	assert_int_equal(ctl_audit_tokens(&f->s, 99, 0, 10, &a, &total, why,
					  sizeof(why)), -1);
	assert_non_null(strstr(why, "no record 99"));

	/* what audit.show gives: the first tokens and the count */
	char q[64];
	sqlite3_stmt *st;
	snprintf(q, sizeof(q), "SELECT tokens FROM audit WHERE seq=3");
	assert_int_equal(sqlite3_prepare_v2(f->s.db, q, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(ctl_audit_tokens_shown((const char *)sqlite3_column_text(st, 0),
						&shown, &total), 0);
	sqlite3_finalize(st);
	assert_int_equal(total, 2500);
	json_t *h = json_loads(shown, 0, NULL);
	assert_int_equal(json_array_size(h), CTL_TOKENS_HEAD);
	assert_string_equal(json_string_value(json_array_get(h, 19)), "t0000019");
	json_decref(h);
	free(shown);
	assert_int_equal(ctl_audit_tokens_shown("[\"a\",\"b\"]", &shown, &total), 0);
	assert_null(shown); /* short: as it is */
	assert_int_equal(total, 2);

	/* after a reopen, the same */
	store_close(f);
	store_open(f);
	expect_verify(f, 0, 6);
	expect_tokens(f, 3, 2500, 0, 1000);
}

static void test_list_aside_tampered(void **state)
{
	struct fx *f = *state;

	store_open(f);
	append_list(f, 2500, 0);
	append_n(f, 3, 1000, 1);
	expect_verify(f, 0, 4);
	/* one token edited */
	assert_int_equal(sql(f, "UPDATE audit_tokens SET tokens=replace(tokens, "
			     "'\"t0001234\"', '\"t0009999\"') WHERE seq=1 AND idx=1"), 1);
	expect_verify(f, 1, 0);
	sql(f, "UPDATE audit_tokens SET tokens=replace(tokens, '\"t0009999\"', "
	    "'\"t0001234\"') WHERE seq=1");
	expect_verify(f, 0, 4);
	/* a chunk removed, or moved */
	sql(f, "CREATE TABLE keep AS SELECT * FROM audit_tokens");
	sql(f, "DELETE FROM audit_tokens WHERE seq=1 AND idx=2");
	expect_verify(f, 1, 0);
	sql(f, "DELETE FROM audit_tokens; INSERT INTO audit_tokens SELECT * FROM keep");
	expect_verify(f, 0, 4);
	sql(f, "UPDATE audit_tokens SET first=first+1 WHERE seq=1 AND idx=1");
	expect_verify(f, 1, 0);
	sql(f, "DELETE FROM audit_tokens; INSERT INTO audit_tokens SELECT * FROM keep");
	/* a token added at the end (the count no longer fits) */
	sql(f, "UPDATE audit_tokens SET tokens=replace(tokens, ']', ',\"tX\"]'), n=n+1 "
	    "WHERE seq=1 AND idx=2");
	expect_verify(f, 1, 0);
	sql(f, "DELETE FROM audit_tokens; INSERT INTO audit_tokens SELECT * FROM keep");
	expect_verify(f, 0, 4);
	/* a list of a record that has none */
	sql(f, "INSERT INTO audit_tokens VALUES(3, 0, 0, 1, '[\"tY\"]')");
	char why[256] = "";
	int64_t n;
	assert_true(ctl_audit_verify(&f->s, &n, why, sizeof(why)) != 0);
	assert_non_null(strstr(why, "audit_tokens"));
	sql(f, "DELETE FROM audit_tokens WHERE seq=3");
	expect_verify(f, 0, 4);
	/* pruning takes a list with its record */
	assert_int_equal(prune(f, 600), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit"), 3);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM audit_tokens"), 0);
	expect_verify(f, 0, 3);
}

/* Records from before lists were kept aside: a long list inline. */
static void test_list_inline_old(void **state)
{
	struct fx *f = *state;
	char *text = malloc(200 * 12 + 3), *p = text, *shown;
	size_t total;

	store_open(f);
	*p++ = '[';
	for (int i = 0; i < 200; i++)
		p += sprintf(p, "%s\"t%07d\"", i ? "," : "", i);
	strcpy(p, "]");
	struct ctl_audit_rec r = { .uid = 7, .role = "investigator",
				   .action = "resolve.bulk", .tokens = text,
				   .justification = "INC-2: old bulk", .outcome = "ok" };
	assert_int_equal(ctl_audit_append(&f->s, &r), 0);
	expect_verify(f, 0, 1);
	expect_tokens(f, 1, 200, 0, 64);
	assert_int_equal(ctl_audit_tokens_shown(text, &shown, &total), 0);
	assert_int_equal(total, 200);
	json_t *h = json_loads(shown, 0, NULL);
	assert_int_equal(json_array_size(h), CTL_TOKENS_HEAD);
	json_decref(h);
	free(shown);
	free(text);
}

/* audit.show with --since/--until takes its window from the time index,
 * newest or oldest first, with the other filters too (an action as a
 * prefix, -1, or as exact actions); without a time bound a page seeks by
 * seq. */
static void test_page_sql_time_index(void **state)
{
	struct fx *f = *state;
	static const char *const reqs[] = {
		"{\"since_ms\": 1}", "{\"until_ms\": 1}",
		"{\"since_ms\": 1, \"until_ms\": 2}",
		"{\"since_ms\": 1, \"uid\": 7}",
		"{\"since_ms\": 1, \"until_ms\": 2, \"after_seq\": 5}",
	};
	store_open(f);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]) * 2 + 2; i++) {
		bool timed = i < sizeof(reqs) / sizeof(reqs[0]) * 2;
		json_t *req = json_loads(timed ? reqs[i / 2] : "{}", 0, NULL);
		char sql[2048], plan[1024] = "";
		sqlite3_stmt *st;
		ctl_audit_page_sql(sql, sizeof(sql), req, i % 2 == 0, (int)(i % 3) - 1);
		char *q = NULL;
		assert_true(asprintf(&q, "EXPLAIN QUERY PLAN %s", sql) > 0);
		assert_int_equal(sqlite3_prepare_v2(f->s.db, q, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW)
			snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s; ",
				 (const char *)sqlite3_column_text(st, 3));
		sqlite3_finalize(st);
		free(q);
		json_decref(req);
		if (timed && strstr(plan, "USING INDEX audit_time (time") == NULL)
			fail_msg("%s: %s", reqs[i / 2], plan);
		if (!timed && strstr(plan, "INTEGER PRIMARY KEY") == NULL)
			fail_msg("no filter: %s", plan);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wrap_create_only_when_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_roundtrip_and_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_other_master_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_refuses_bad_key_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_append_verify_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_edit_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_removal_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_last_removal_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_insertion_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_prune_nothing_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_master_key_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_rewound_head_and_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_prune_clock_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_uncovered_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_wiped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_rewound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_torn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_recover_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_recover_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_unverified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_change_commit_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_change_after_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_shred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vacuum_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_aside_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_inline_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_sql_time_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keeper_checkpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_lag_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
