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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "api_pvt.h"
#include "backup.h"
#include "p11.h"
#include "store_pvt.h"

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

/* The SHA-256 of a key's DER SubjectPublicKeyInfo. */
static int spki_sha256(EVP_PKEY *k, uint8_t out[32])
{
	unsigned char *der = NULL;
	unsigned n = 0;
	int dl = i2d_PUBKEY(k, &der);
	int ok = dl > 0 && EVP_Digest(der, (size_t)dl, out, &n, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

static void hex32(const uint8_t b[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* A recovery key's header: a random file key, wrapped RSA-OAEP to pem's
 * key; what protects it into what (for the record). */
static json_t *rsa_header(const char *pem, struct bk_header *h, uint8_t key[32],
			  char *what, size_t whatlen)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	int bits = pub != NULL && EVP_PKEY_is_a(pub, "RSA") ? EVP_PKEY_get_bits(pub) : 0;
	if (bits != 2048 && bits != 3072 && bits != 4096) {
		EVP_PKEY_free(pub);
		return api_error("\"recovery_key\" must be the PEM of an RSA public key "
				 "of 2048, 3072 or 4096 bits (openssl pkey -pubout)");
	}
	int n = -1;
	if (bk_header_new(h, BK_PROT_RSA) == 0 && RAND_priv_bytes(key, 32) == 1 &&
	    spki_sha256(pub, h->key_sha256) == 0)
		n = ctl_rsa_oaep_wrap(pub, key, 32, h->wrapped, sizeof(h->wrapped));
	EVP_PKEY_free(pub);
	if (n != bits / 8)
		return api_error("cannot wrap the backup's key to the recovery key");
	h->wrapped_len = (uint16_t)n;
	h->len = BK_FIXED + 34 + (size_t)n;
	char fp[65];
	hex32(h->key_sha256, fp);
	snprintf(what, whatlen, "a recovery RSA-%d key (sha256:%s)", bits, fp);
	return NULL;
}

/* backup.create: {"justification", "passphrase" or "recovery_key"} and
 * the output file passed with the request. */
json_t *ctl_cmd_backup_create(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *just = api_get_str(req, "justification", 4096);
	json_t *pv = json_object_get(req, "passphrase");
	const char *pass = json_string_value(pv);
	size_t plen = json_string_length(pv);
	const char *pem = api_get_str(req, "recovery_key", 16384);
	json_t *ans = NULL;
	uint8_t *key = NULL;
	char err[600], outcome[900], chain[33], when[32], what[120];
	if (!api_justification_ok(just)) {
		ans = api_refuse(d, who, "backup.create", NULL, JUSTIFICATION_RULE);
		goto out;
	}
	if ((pass == NULL) == (pem == NULL)) {
		ans = api_error("backup.create takes a \"passphrase\" or a \"recovery_key\" "
				"(the PEM of an RSA public key), one of them");
		goto out;
	}
	if (pass != NULL && (plen < BK_PASS_MIN || plen > BK_PASS_MAX ||
			     strlen(pass) != plen)) {
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
	if ((key = veil_secmem_alloc(32)) == NULL) {
		ans = api_error("no locked memory for the backup's key");
		goto out;
	}
	if (pem != NULL) {
		if ((ans = rsa_header(pem, &h, key, what, sizeof(what))) != NULL)
			goto out;
	} else if (bk_header_new(&h, BK_PROT_PASSPHRASE) != 0 ||
		   bk_file_key(&h, pass, plen, true, key) != 0) {
		ans = api_error("cannot derive the backup's key (scrypt): out of memory?");
		goto out;
	} else
		snprintf(what, sizeof(what), "a passphrase (scrypt)");
	/* the record is durable before anything is copied, and the copy
	 * holds it */
	chain_hex(d->store.chain_id, chain);
	snprintf(outcome, sizeof(outcome), "ok: the state up to this record (chain %s, "
		 "%u tenants), with the master key, AES-256-GCM under %s", chain,
		 d->n_tenants - d->n_deleted, what);
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
				when, "chain", chain, "tenants",
				(int)(d->n_tenants - d->n_deleted));
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

/* The file key from the recovery private key in key_file (a file group
 * and others cannot read): it must be the key the backup was made for. */
static int rsa_file_key(const struct bk_header *h, const char *key_file,
			uint8_t key[32], char *err, size_t errlen)
{
	struct stat st;
	if (stat(key_file, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "recovery key %s: must be a regular file that group "
			 "and others cannot read (chmod 600)", key_file);
		return -1;
	}
	BIO *bio = BIO_new_file(key_file, "r");
	EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	uint8_t fp[32], *out = veil_secmem_alloc(BK_RSA_WRAPPED_MAX);
	char want[65];
	int rc = -1;
	hex32(h->key_sha256, want);
	if (k == NULL || !EVP_PKEY_is_a(k, "RSA"))
		snprintf(err, errlen, "recovery key %s: not the PEM of an RSA private key",
			 key_file);
	else if (spki_sha256(k, fp) != 0 || CRYPTO_memcmp(fp, h->key_sha256, 32) != 0)
		snprintf(err, errlen, "recovery key %s is not the one this backup was made "
			 "for (its public key's SHA-256 is %s); nothing restored", key_file,
			 want);
	else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		size_t ol = BK_RSA_WRAPPED_MAX;
		if (out != NULL && c != NULL && EVP_PKEY_decrypt_init(c) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_oaep_md_name(c, "SHA256", NULL) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md_name(c, "SHA256", NULL) == 1 &&
		    EVP_PKEY_decrypt(c, out, &ol, h->wrapped, h->wrapped_len) == 1 &&
		    ol == 32) {
			memcpy(key, out, 32);
			rc = 0;
		} else
			snprintf(err, errlen, "the backup's key does not unwrap with the "
				 "recovery key %s (the file was altered?); nothing restored",
				 key_file);
		EVP_PKEY_CTX_free(c);
	}
	veil_secmem_free(out);
	EVP_PKEY_free(k);
	return rc;
}

/* The file key of h: from the passphrase in pass_file or the recovery
 * private key in key_file, whichever protects it. */
static int file_key(const char *file, struct bk_header *h, const char *pass_file,
		    const char *key_file, uint8_t key[32], char *err, size_t errlen)
{
	char *pass = NULL;
	size_t plen = 0;
	if (h->protection == BK_PROT_RSA) {
		char fp[65];
		hex32(h->key_sha256, fp);
		if (key_file == NULL) {
			snprintf(err, errlen, "backup %s is protected by a recovery RSA key "
				 "(sha256:%s): restore it with --recovery-key PRIVATE.pem; "
				 "nothing restored", file, fp);
			return -1;
		}
		return rsa_file_key(h, key_file, key, err, errlen);
	}
	if (pass_file == NULL) {
		snprintf(err, errlen, "backup %s is protected by a passphrase: restore it "
			 "with --passphrase-file F; nothing restored", file);
		return -1;
	}
	if (bk_read_passphrase(pass_file, &pass, &plen, err, errlen) != 0)
		return -1;
	int k = bk_file_key(h, pass, plen, false, key);
	veil_secmem_free(pass);
	if (k != 0)
		snprintf(err, errlen, "backup %s: %s", file, k > 0 ?
			 "wrong passphrase (it does not give the key the backup was "
			 "made with); nothing restored" : "cannot derive its key (scrypt)");
	return k == 0 ? 0 : -1;
}

/* Decrypt the backup into a new database file beside veil.db; its
 * contents (master key, mark) into c. */
static int unpack(const char *file, const char *pass_file, const char *key_file,
		  const char *tmp, struct bk_header *h, struct bk_contents *c, char *err,
		  size_t errlen)
{
	char why[400];
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
	if ((key = veil_secmem_alloc(32)) == NULL) {
		snprintf(err, errlen, "no locked memory for the backup's key");
		goto out;
	}
	if (file_key(file, h, pass_file, key_file, key, err, errlen) != 0)
		goto out;
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
		       const char *pass_file, const char *key_file, bool force,
		       const struct ctl_recovery *who, char *msg, size_t msglen)
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
	if (unpack(file, pass_file, key_file, tmp, &h, &bc, msg, msglen) != 0)
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
	int64_t tenants = st_count_of(s.db, "SELECT count(*) FROM tenants");
	/* a BYOK wrap is longer than a master-key wrap (wrap.c) */
	int64_t byok = st_count_of(s.db, "SELECT count(DISTINCT tenant) FROM keys WHERE "
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

int ctl_restore_command(const struct ctl_config *c, const char *file,
			const char *pass_file, const char *key_file, const char *reason,
			bool force)
{
	char msg[2048];
	if ((pass_file == NULL) == (key_file == NULL) || reason == NULL ||
	    strlen(reason) < 8 || strlen(reason) > 1000) {
		fputs("veil-controld: --restore FILE needs --passphrase-file F (or "
		      "--recovery-key PRIVATE.pem, for a backup made for one) and "
		      "--reason TEXT (8 to 1000 characters: why, and the ticket)\n",
		      stderr);
		return 2;
	}
	umask(077);
	struct ctl_recovery who = ctl_config_operator(c, reason);
	int rc = ctl_backup_restore(c, file, pass_file, key_file, force, &who, msg,
				    sizeof(msg));
	fprintf(rc == 0 ? stdout : stderr, "veil-controld: %s\n", msg);
	return rc == 0 ? 0 : 1;
}
