/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Backup and restore of the appliance's state (docs/keys.md, "Backup and
 * restore"). backup.create is an admin's request to the running daemon:
 * its record is durable first, then the database is copied as it is at
 * that commit (VACUUM INTO: one read transaction, so consistent while the
 * daemon serves; no free page of a shredded key comes along), and written
 * with the master key and the governance log's mark, encrypted, into the
 * file the caller passed with the request (veilctl opens it, so the
 * daemon's user needs no right on the caller's directory). The restore
 * runs offline, from veil-controld --restore, into a state directory
 * that holds no state (or with --force).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api_pvt.h"
#include "backup.h"

static void iso(int64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void chain_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* The passed file: a regular, empty file open for writing. */
static const char *out_file_bad(const struct ctl_caller *who)
{
	struct stat st;
	if (!who->has_fd)
		return "backup.create writes into a file passed with the request "
		       "(SCM_RIGHTS): use veilctl backup create --out FILE";
	int fl = fcntl(who->fd, F_GETFL);
	if (fstat(who->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0 ||
	    fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return "the file passed with backup.create must be a new, empty "
		       "regular file open for writing";
	return NULL;
}

/* The copy of the database as of now, open and already unlinked. */
static int snapshot(struct ctld *d, char *err, size_t errlen)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/veil.db.backup-%d", d->cfg.state_dir,
		 (int)getpid());
	unlink(path); /* one left by a crash; VACUUM INTO wants none */
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->store.db, "VACUUM INTO ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot copy the database (VACUUM INTO %s): %s",
			 path, sqlite3_errmsg(d->store.db));
		unlink(path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "the database copy %s: %s", path, strerror(errno));
	unlink(path);
	return fd;
}

/* backup.create: {"justification", "passphrase"} and the output file
 * passed with the request. */
json_t *ctl_cmd_backup_create(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *just = api_get_str(req, "justification", 4096);
	json_t *pv = json_object_get(req, "passphrase");
	const char *pass = json_string_value(pv);
	size_t plen = json_string_length(pv);
	json_t *ans = NULL;
	uint8_t *key = NULL;
	char err[600], outcome[700], chain[33], when[32];
	if (!api_justification_ok(just)) {
		ans = api_refuse(d, who, "backup.create", NULL, JUSTIFICATION_RULE);
		goto out;
	}
	if (pass == NULL || plen < BK_PASS_MIN || plen > BK_PASS_MAX ||
	    strlen(pass) != plen) {
		ans = api_error("\"passphrase\" must be %d to %d bytes (veilctl reads it "
				"from --passphrase-file)", BK_PASS_MIN, BK_PASS_MAX);
		goto out;
	}
	const char *bad = out_file_bad(who);
	if (bad != NULL) {
		ans = api_error("%s", bad);
		goto out;
	}
	struct bk_header h;
	key = veil_secmem_alloc(32);
	if (key == NULL || bk_header_new(&h) != 0 ||
	    bk_file_key(&h, pass, plen, true, key) != 0) {
		ans = api_error("cannot derive the backup's key (scrypt): out of memory?");
		goto out;
	}
	/* the record is durable before anything is copied, and the copy
	 * holds it */
	chain_hex(d->store.chain_id, chain);
	snprintf(outcome, sizeof(outcome), "ok: the state up to this record (chain %s, "
		 "%u tenants), with the master key, encrypted under a passphrase "
		 "(scrypt, AES-256-GCM)", chain, d->n_tenants);
	if (ctl_store_begin(&d->store) != 0 ||
	    api_record(d, who, "backup.create", NULL, just, outcome) != 0 ||
	    ctl_store_commit(&d->store) != 0) {
		ctl_store_abort(&d->store);
		ans = api_error("the governance log cannot be written: no backup made");
		goto out;
	}
	int64_t seq = d->store.last_seq;
	uint8_t mark[CTL_MARK_FILE_LEN];
	int db = -1;
	if (ctl_store_mark_image(&d->store, mark) != 0)
		snprintf(err, sizeof(err), "cannot make the mark for the backup");
	else if ((db = snapshot(d, err, sizeof(err))) >= 0 &&
		 bk_write(who->fd, &h, key, ctl_wrap_master(d->store.wrap), mark,
			  sizeof(mark), db, err, sizeof(err)) == 0) {
		struct stat st;
		close(db);
		fstat(who->fd, &st);
		iso(h.created_ms, when, sizeof(when));
		ctl_log("backup made by uid %u: up to record %lld, %lld bytes", who->uid,
			(long long)seq, (long long)st.st_size);
		ans = json_pack("{s:b, s:I, s:I, s:s, s:s, s:i}", "ok", 1, "record",
				(json_int_t)seq, "bytes", (json_int_t)st.st_size, "created",
				when, "chain", chain, "tenants", (int)d->n_tenants);
		goto out;
	}
	if (db >= 0)
		close(db);
	/* the file the caller holds is not a backup: say so in the log */
	ctl_log("backup by uid %u failed: %s", who->uid, err);
	snprintf(outcome, sizeof(outcome), "failed: %s", err);
	api_record(d, who, "backup.create", NULL, just, outcome);
	ans = api_error("%s (the file is not a backup: delete it)", err);
out:
	/* the request's copy of the passphrase: not left in freed memory */
	if (pass != NULL)
		explicit_bzero((char *)(uintptr_t)pass, plen);
	veil_secmem_free(key);
	return ans;
}

/* ---- restore (offline) ---- */

static int64_t count_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The state files of c, in the order they are reported. */
static void state_paths(const struct ctl_config *c, char db[300], char mark[300])
{
	snprintf(db, 300, "%s/veil.db", c->state_dir);
	const char *slash = strrchr(c->master_key, '/');
	if (slash == NULL)
		snprintf(mark, 300, "audit.mark");
	else
		snprintf(mark, 300, "%.*s/audit.mark", (int)(slash - c->master_key),
			 c->master_key);
}

/* A daemon answering on c's socket is a state in use. */
static bool daemon_running(const struct ctl_config *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(c->socket_path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, c->socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return up;
}

/* Write a small file through a temporary and rename it over path. */
static int put_file(const char *path, const uint8_t *data, size_t len)
{
	char tmp[320];
	snprintf(tmp, sizeof(tmp), "%s.restore-%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	int rc = w == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	if (rc != 0 || rename(tmp, path) != 0 || ctl_fsync_dir(path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Decrypt the backup into a new database file beside veil.db; its
 * contents (master key, mark) into c. */
static int unpack(const char *file, const char *pass_file, const char *tmp,
		  struct bk_header *h, struct bk_contents *c, char *err, size_t errlen)
{
	char *pass = NULL, why[400];
	size_t plen = 0;
	uint8_t hdr[BK_HEADER_MAX + BK_TAG];
	uint8_t *key = NULL;
	int rc = -1, out = -1;
	int in = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n = in >= 0 ? read(in, hdr, sizeof(hdr)) : -1;
	if (in < 0 || n < 0) {
		snprintf(err, errlen, "backup %s: %s", file, strerror(errno));
		goto out;
	}
	if (bk_header_parse(hdr, (size_t)n, h, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "backup %s: %s; nothing restored", file, why);
		goto out;
	}
	if (bk_read_passphrase(pass_file, &pass, &plen, err, errlen) != 0)
		goto out;
	key = veil_secmem_alloc(32);
	int k = key != NULL ? bk_file_key(h, pass, plen, false, key) : -1;
	if (k != 0) {
		snprintf(err, errlen, "backup %s: %s", file, k > 0 ?
			 "wrong passphrase (it does not give the key the backup was "
			 "made with); nothing restored" : "cannot derive its key (scrypt)");
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (bk_read(in, h, key, out, c, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "backup %s: %s; nothing restored", file, why);
		goto out;
	}
	if (fsync(out) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (rc != 0 && out >= 0)
		unlink(tmp);
	veil_secmem_free(pass);
	veil_secmem_free(key);
	return rc;
}

/* Put the unpacked state in place: the database (its old WAL gone first:
 * it would be replayed into the new file), the master key, the mark. */
static int install(const struct ctl_config *c, const char *tmp, const char *db,
		   const char *mark, const struct bk_contents *bc, char *err,
		   size_t errlen)
{
	char wal[320], shm[320];
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(shm, sizeof(shm), "%s-shm", db);
	if ((unlink(wal) != 0 && errno != ENOENT) || (unlink(shm) != 0 && errno != ENOENT) ||
	    rename(tmp, db) != 0 || ctl_fsync_dir(db) != 0) {
		snprintf(err, errlen, "cannot put the database in place as %s: %s", db,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (put_file(c->master_key, bc->master, 32) != 0) {
		snprintf(err, errlen, "cannot write the master key %s: %s", c->master_key,
			 strerror(errno));
		return -1;
	}
	if (put_file(mark, bc->mark, bc->mark_len) != 0) {
		snprintf(err, errlen, "cannot write the governance log's mark %s: %s",
			 mark, strerror(errno));
		return -1;
	}
	return 0;
}

int ctl_backup_restore(const struct ctl_config *c, const char *file,
		       const char *pass_file, bool force, const struct ctl_recovery *who,
		       char *msg, size_t msglen)
{
	char db[300], mark[300], tmp[320], there[700] = "";
	state_paths(c, db, mark);
	const char *const paths[] = { db, c->master_key, mark };
	for (int i = 0; i < 3; i++)
		if (access(paths[i], F_OK) == 0) {
			size_t n = strlen(there);
			snprintf(there + n, sizeof(there) - n, "%s%s", n ? ", " : "", paths[i]);
		}
	if (daemon_running(c)) {
		snprintf(msg, msglen, "veil-controld answers on %s: stop it before a "
			 "restore; nothing restored", c->socket_path);
		return -1;
	}
	if (there[0] != '\0' && !force) {
		snprintf(msg, msglen, "the state directory is in use (%s exist): a restore "
			 "replaces it; move it aside, or restore over it with --force; "
			 "nothing restored", there);
		return -1;
	}
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(msg, msglen, "state directory %s: %s", c->state_dir, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.restore-%d", db, (int)getpid());
	struct bk_header h;
	struct bk_contents bc;
	if (unpack(file, pass_file, tmp, &h, &bc, msg, msglen) != 0)
		return -1;
	int rc = install(c, tmp, db, mark, &bc, msg, msglen);
	bk_contents_free(&bc);
	if (rc != 0)
		return -1;

	/* open it as a start does: the whole chain verified against the mark
	 * that came with it; then the restore is the new log's next record */
	struct ctl_store s;
	char err[2048], when[32], outcome[400];
	if (ctl_store_open(&s, c, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "restored the files, but the state does not open: %s",
			 err);
		return -1;
	}
	int64_t tenants = count_of(s.db, "SELECT count(*) FROM tenants");
	/* a BYOK wrap is longer than a master-key wrap (wrap.c) */
	int64_t byok = count_of(s.db, "SELECT count(DISTINCT tenant) FROM keys WHERE "
				"destroyed IS NULL AND length(wrapped) > 48");
	iso(h.created_ms, when, sizeof(when));
	snprintf(outcome, sizeof(outcome), "ok: restored from a backup made %s (the "
		 "log up to record %lld, %lld tenants, %lld of them with their own "
		 "key-encryption key)", when, (long long)s.last_seq, (long long)tenants,
		 (long long)byok);
	struct ctl_audit_rec r = { .uid = who->uid, .role = who->role,
				   .action = "backup.restore",
				   .justification = who->reason, .outcome = outcome };
	if (ctl_audit_append(&s, &r) != 0) {
		snprintf(msg, msglen, "restored, but the restore cannot be recorded: %s",
			 sqlite3_errmsg(s.db));
		ctl_store_close(&s);
		return -1;
	}
	int64_t count;
	char why[512];
	int64_t bad = ctl_audit_verify(&s, &count, why, sizeof(why));
	snprintf(msg, msglen, "restored %s into %s: %lld tenants, governance log "
		 "verified (%lld records, %s), the restore is record %lld%s", file,
		 c->state_dir, (long long)tenants, (long long)count,
		 bad == 0 ? "intact" : why, (long long)s.last_seq,
		 byok > 0 ? "; the BYOK tenants' keys stay wrapped by their KEKs: "
			    "configure [byok] for their HSM token before starting" : "");
	ctl_store_close(&s);
	return bad == 0 ? 0 : -1;
}
