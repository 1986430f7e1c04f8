/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The state store (one SQLite file, WAL, synchronous=FULL) and the
 * governance log's hash chain.
 *
 * Chain: mac_n = HMAC-SHA256(audit key, mac_{n-1} || fields_n), with the
 * fields length-prefixed. meta holds the anchor (seq and mac just before the
 * oldest record kept, moved by pruning) and the head (the newest record's
 * seq and mac, written in the same transaction as the record), so an edit,
 * an insertion, a removal in the middle and a removal at the end all show.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctl_pvt.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"PRAGMA foreign_keys=ON;"
	/* what a delete frees is zeroed: a destroyed key leaves no copy in
	 * the file's free space (crypto-shredding, ctl_store_shred) */
	"PRAGMA secure_delete=ON;"
	"CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'active', roll_days INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS keys(tenant TEXT NOT NULL REFERENCES tenants(id),"
	"  version INTEGER NOT NULL, wrapped BLOB, created INTEGER NOT NULL,"
	"  destroyed INTEGER, PRIMARY KEY(tenant, version));"
	"CREATE TABLE IF NOT EXISTS roles(is_gid INTEGER NOT NULL, id INTEGER NOT NULL,"
	"  role TEXT NOT NULL, PRIMARY KEY(is_gid, id));"
	"CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT,"
	"  tokens TEXT, justification TEXT, outcome TEXT NOT NULL, mac BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB);"
	"CREATE TABLE IF NOT EXISTS settings(k TEXT PRIMARY KEY, v INTEGER NOT NULL);";

int64_t ctl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int meta_get(sqlite3 *db, const char *k, void *v, int *len, int cap)
{
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k=?", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);
		if (n <= cap) {
			memcpy(v, sqlite3_column_blob(st, 0), (size_t)n);
			*len = n;
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int meta_put(sqlite3 *db, const char *k, const void *v, int len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(k,v) VALUES(?,?)",
			       -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, v, len, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

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

/* head/anchor: 8-byte seq (big-endian) || 32-byte record mac || a 32-byte
 * HMAC of both under the audit key, labelled, so neither can be rewound to
 * a record of the table (hiding removed records) without the key. */
#define POS_LEN 72

static int pos_tag(const uint8_t *key, const char *label, const uint8_t *pos40,
		   uint8_t tag[32])
{
	uint8_t buf[64 + 40];
	size_t ll = strlen(label), outl = 0;
	memcpy(buf, label, ll);
	memcpy(buf + ll, pos40, 40);
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, buf, ll + 40,
			 tag, 32, &outl) != NULL && outl == 32 ? 0 : -1;
}

static int pack_pos(const uint8_t *key, const char *label, uint8_t out[POS_LEN],
		    int64_t seq, const uint8_t mac[32])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
	memcpy(out + 8, mac, 32);
	return pos_tag(key, label, out, out + 40);
}

/* Read a head or anchor from meta; -1 if missing or not authentic. */
static int get_pos(struct ctl_store *s, const char *label, int64_t *seq,
		   uint8_t mac[32])
{
	uint8_t in[POS_LEN], tag[32];
	int n;
	if (meta_get(s->db, label, in, &n, POS_LEN) != 0 || n != POS_LEN ||
	    pos_tag(s->audit_key, label, in, tag) != 0 ||
	    CRYPTO_memcmp(tag, in + 40, 32) != 0)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	*seq = (int64_t)v;
	memcpy(mac, in + 8, 32);
	return 0;
}

static int put_pos(struct ctl_store *s, const char *label, int64_t seq,
		   const uint8_t mac[32])
{
	uint8_t out[POS_LEN];
	return pack_pos(s->audit_key, label, out, seq, mac) == 0 &&
	       meta_put(s->db, label, out, POS_LEN) == 0 ? 0 : -1;
}

int ctl_store_open(struct ctl_store *s, const struct ctl_config *c, char *err,
		   size_t errlen)
{
	char path[300];
	memset(s, 0, sizeof(*s));
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", c->state_dir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/veil.db", c->state_dir);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);

	/* A new master key only for a database that holds nothing wrapped:
	 * never silently over existing wrapped keys. */
	int64_t wrapped = count_of(s->db, "SELECT (SELECT count(*) FROM keys) + "
				   "(SELECT count(*) FROM meta WHERE k='audit_key')");
	s->wrap = ctl_wrap_open(c->master_key, wrapped == 0, err, errlen);
	if (s->wrap == NULL) {
		if (wrapped > 0) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, " (the database holds %lld "
				 "wrapped keys that need it; refusing to start)",
				 (long long)wrapped);
		}
		goto fail;
	}
	s->audit_key = veil_secmem_alloc(32);
	if (s->audit_key == NULL) {
		snprintf(err, errlen, "no locked memory: %s", strerror(errno));
		goto fail;
	}
	uint8_t wk[64];
	int wl;
	if (meta_get(s->db, "audit_key", wk, &wl, sizeof(wk)) == 0) {
		if (ctl_unwrap_key(s->wrap, wk, (size_t)wl, s->audit_key) != 0) {
			snprintf(err, errlen, "the audit key does not unwrap with %s: "
				 "wrong master key or tampered database", c->master_key);
			goto fail;
		}
	} else {
		static const uint8_t zero[32];
		if (RAND_priv_bytes(s->audit_key, 32) != 1 ||
		    (wl = ctl_wrap_key(s->wrap, s->audit_key, wk)) < 0 ||
		    meta_put(s->db, "audit_key", wk, wl) != 0) {
			snprintf(err, errlen, "cannot make the audit key");
			goto fail;
		}
		if (put_pos(s, "audit_anchor", 0, zero) != 0 ||
		    put_pos(s, "audit_head", 0, zero) != 0) {
			snprintf(err, errlen, "cannot start the governance log");
			goto fail;
		}
	}
	if (get_pos(s, "audit_head", &s->last_seq, s->last_mac) != 0) {
		snprintf(err, errlen, "the governance log's head is missing or not "
			 "authentic (a tampered database?): refusing to start");
		goto fail;
	}
	return 0;
fail:
	ctl_store_close(s);
	return -1;
}

void ctl_store_close(struct ctl_store *s)
{
	if (s->db != NULL)
		sqlite3_close(s->db);
	ctl_wrap_close(s->wrap);
	veil_secmem_free(s->audit_key);
	memset(s, 0, sizeof(*s));
}

static void put_field(EVP_MAC_CTX *m, const char *v)
{
	uint8_t len[4];
	size_t n = v ? strlen(v) : 0;
	len[0] = v ? (uint8_t)(n >> 24) : 0xff; /* NULL differs from "" */
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	EVP_MAC_update(m, len, 4);
	if (n)
		EVP_MAC_update(m, (const uint8_t *)v, n);
}

static int record_mac(const uint8_t *key, const uint8_t prev[32],
		      const struct ctl_audit_rec *r, uint8_t out[32])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	char nums[64];
	size_t outl = 0;
	int ok = m != NULL && EVP_MAC_init(m, key, 32, params) == 1;
	if (ok) {
		EVP_MAC_update(m, prev, 32);
		snprintf(nums, sizeof(nums), "%lld/%lld/%u", (long long)r->seq,
			 (long long)r->time, r->uid);
		put_field(m, nums);
		put_field(m, r->role);
		put_field(m, r->action);
		put_field(m, r->tenant);
		put_field(m, r->tokens);
		put_field(m, r->justification);
		put_field(m, r->outcome);
		ok = EVP_MAC_final(m, out, &outl, 32) == 1 && outl == 32;
	}
	EVP_MAC_CTX_free(m);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

/* Group commit. With batching on, appended records share one transaction,
 * opened by the first of them and committed by ctl_store_sync: one fsync
 * for every request handled in one pass of the daemon's loop. The daemon
 * sends no answer before that commit returns. */
void ctl_store_batch(struct ctl_store *s, bool on)
{
	if (!on)
		ctl_store_sync(s);
	s->batch = on;
	s->batch_failed = false;
}

int ctl_store_sync(struct ctl_store *s)
{
	if (!s->txn)
		return s->batch_failed ? -1 : 0;
	s->txn = false;
	/* synchronous=FULL: the commit returns once the WAL is fsync'd */
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		s->commits++;
		return s->batch_failed ? -1 : 0;
	}
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	/* the records of this batch are gone: so is every answer that
	 * depended on them, and the chain goes on from the last durable one */
	s->last_seq = s->durable_seq;
	memcpy(s->last_mac, s->durable_mac, 32);
	s->batch_failed = true;
	return -1;
}

/* One transaction for a state change and its record(s): what a batch holds
 * is committed on its own first (its answers do not depend on this change),
 * then the change's writes and ctl_audit_append's records share one
 * transaction that ctl_store_commit makes durable, or nothing of it is
 * kept. */
int ctl_store_begin(struct ctl_store *s)
{
	if (ctl_store_sync(s) != 0 ||
	    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	s->txn = true;
	s->change = true;
	s->durable_seq = s->last_seq;
	memcpy(s->durable_mac, s->last_mac, 32);
	return 0;
}

int ctl_store_commit(struct ctl_store *s)
{
	s->change = false;
	if (ctl_store_sync(s) == 0)
		return 0;
	/* rolled back, the chain with it; this change alone failed, not
	 * the answers of the batch committed before it */
	s->batch_failed = false;
	return -1;
}

void ctl_store_abort(struct ctl_store *s)
{
	if (!s->change)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->change = false;
	s->txn = false;
	s->last_seq = s->durable_seq;
	memcpy(s->last_mac, s->durable_mac, 32);
}

/* The last step of crypto-shredding, after a destroy committed: the WAL
 * (which still holds the pages from before it) is copied into the database
 * file, where secure_delete zeroed the key's bytes, and truncated to
 * nothing. A reader that holds an older snapshot keeps it from completing:
 * then shred_pending stays set for the next try. */
int ctl_store_shred(struct ctl_store *s)
{
	sqlite3_stmt *st;
	int busy = 1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			busy = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	s->shred_pending = busy != 0;
	return busy ? -1 : 0;
}

int ctl_audit_append(struct ctl_store *s, const struct ctl_audit_rec *in)
{
	struct ctl_audit_rec r = *in;
	uint8_t mac[32];
	sqlite3_stmt *st = NULL;

	r.seq = s->last_seq + 1;
	if (r.time == 0)
		r.time = ctl_now();
	if (record_mac(s->audit_key, s->last_mac, &r, mac) != 0)
		return -1;
	if (s->batch && !s->txn) {
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return -1;
		s->txn = true;
		s->durable_seq = s->last_seq;
		memcpy(s->durable_mac, s->last_mac, 32);
	}
	/* inside a batch, a savepoint undoes this record alone on failure */
	if (sqlite3_exec(s->db, s->txn ? "SAVEPOINT rec" : "BEGIN IMMEDIATE",
			 NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO audit(seq,time,uid,role,action,"
			       "tenant,tokens,justification,outcome,mac) "
			       "VALUES(?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL))
		goto fail;
	sqlite3_bind_int64(st, 1, r.seq);
	sqlite3_bind_int64(st, 2, r.time);
	sqlite3_bind_int64(st, 3, r.uid);
	sqlite3_bind_text(st, 4, r.role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r.action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r.tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r.tokens, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r.justification, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, r.outcome, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, mac, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	if (put_pos(s, "audit_head", r.seq, mac) != 0 ||
	    sqlite3_exec(s->db, s->txn ? "RELEASE rec" : "COMMIT",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_finalize(st);
	if (!s->txn)
		s->commits++;
	s->last_seq = r.seq;
	memcpy(s->last_mac, mac, 32);
	return 0;
fail:
	sqlite3_finalize(st);
	if (s->txn)
		sqlite3_exec(s->db, "ROLLBACK TO rec; RELEASE rec", NULL, NULL, NULL);
	else
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int64_t ctl_audit_verify(struct ctl_store *s, int64_t *count, char *why,
			 size_t whylen)
{
	uint8_t prev[32], mac[32];
	int64_t seq = 0, head_seq = 0;
	uint8_t head_mac[32];
	sqlite3_stmt *st;

	*count = 0;
	if (get_pos(s, "audit_anchor", &seq, prev) != 0 ||
	    get_pos(s, "audit_head", &head_seq, head_mac) != 0) {
		snprintf(why, whylen, "the chain's anchor or head is missing or "
			 "not authentic");
		return seq > 0 ? seq + 1 : 1;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT seq,time,uid,role,action,tenant,tokens,"
			       "justification,outcome,mac FROM audit ORDER BY seq",
			       -1, &st, NULL)) {
		snprintf(why, whylen, "cannot read the log: %s", sqlite3_errmsg(s->db));
		return seq + 1;
	}
	int64_t bad = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ctl_audit_rec r = {
			.seq = sqlite3_column_int64(st, 0),
			.time = sqlite3_column_int64(st, 1),
			.uid = (unsigned)sqlite3_column_int64(st, 2),
			.role = (const char *)sqlite3_column_text(st, 3),
			.action = (const char *)sqlite3_column_text(st, 4),
			.tenant = (const char *)sqlite3_column_text(st, 5),
			.tokens = (const char *)sqlite3_column_text(st, 6),
			.justification = (const char *)sqlite3_column_text(st, 7),
			.outcome = (const char *)sqlite3_column_text(st, 8),
		};
		/* what the MAC covers must be all there is: a uid that fits,
		 * and text without a NUL hiding more after it */
		bool clean = sqlite3_column_int64(st, 2) >= 0 &&
			     sqlite3_column_int64(st, 2) <= UINT32_MAX;
		for (int c = 3; c <= 8; c++)
			if (sqlite3_column_type(st, c) != SQLITE_NULL &&
			    strlen((const char *)sqlite3_column_text(st, c)) !=
			    (size_t)sqlite3_column_bytes(st, c))
				clean = false;
		if (r.seq != seq + 1) {
			bad = seq + 1;
			snprintf(why, whylen, "record %lld is missing (next is %lld)",
				 (long long)(seq + 1), (long long)r.seq);
			break;
		}
		if (!clean || record_mac(s->audit_key, prev, &r, mac) != 0 ||
		    sqlite3_column_bytes(st, 9) != 32 ||
		    CRYPTO_memcmp(mac, sqlite3_column_blob(st, 9), 32) != 0) {
			bad = r.seq;
			snprintf(why, whylen, "record %lld was altered or inserted",
				 (long long)r.seq);
			break;
		}
		memcpy(prev, mac, 32);
		seq = r.seq;
		(*count)++;
	}
	sqlite3_finalize(st);
	if (bad == 0 && (seq != head_seq || CRYPTO_memcmp(prev, head_mac, 32) != 0)) {
		bad = seq + 1;
		snprintf(why, whylen, "the log ends at record %lld but its head is "
			 "record %lld: records were removed from the end",
			 (long long)seq, (long long)head_seq);
	}
	return bad;
}

int ctl_audit_prune(struct ctl_store *s, int64_t before)
{
	sqlite3_stmt *st;
	int rc = -1;
	/* Only the oldest run of records that are all older than the cut-off
	 * goes: a record after a newer one stays even if its clock said
	 * earlier. The newest record dropped becomes the anchor. */
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, mac FROM audit WHERE seq < "
			       "coalesce((SELECT min(seq) FROM audit WHERE time >= ?1), "
			       "(SELECT max(seq) + 1 FROM audit)) "
			       "ORDER BY seq DESC LIMIT 1", -1, &st, NULL))
		goto out;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = 0; /* nothing old enough */
		sqlite3_finalize(st);
		goto out;
	}
	int64_t seq = sqlite3_column_int64(st, 0);
	uint8_t mac[32];
	if (sqlite3_column_bytes(st, 1) != 32) {
		sqlite3_finalize(st);
		goto out;
	}
	memcpy(mac, sqlite3_column_blob(st, 1), 32);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "DELETE FROM audit WHERE seq <= ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, seq);
		if (put_pos(s, "audit_anchor", seq, mac) == 0 &&
		    sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
		sqlite3_finalize(st);
	}
out:
	sqlite3_exec(s->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
