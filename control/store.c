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
 *
 * Rollback protection: what the database alone cannot show (the whole log
 * gone, or the file put back to an older copy of itself) is caught with a
 * mark kept outside it, beside the master key: the log's identity (a random
 * chain id, also in meta), its head and anchor, tagged with a subkey of the
 * master key (ctl_wrap_tag). It is written after every commit of records
 * (never ahead of them), in one of two slots, so a torn write leaves the
 * other. A start against a log that does not reach the mark, or is not the
 * one marked, or whose chain is broken, is refused until an operator
 * records what happened (ctl_store_recover); a recovery accepts exactly the
 * breaks it recorded (meta's audit_accepted: where each starts, the rows as
 * found then, and where the chain goes on), so any later one is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include "store_pvt.h"


/* STRICT: a field of another type than its column's is refused, not
 * stored (a BLOB tenant would hide a record from audit show). */
#define AUDIT_COLUMNS "(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"	\
	"  uid INTEGER NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT," \
	"  tokens TEXT, justification TEXT, outcome TEXT NOT NULL, mac BLOB NOT NULL)"

#define AUDIT_INDEXES \
	"CREATE INDEX IF NOT EXISTS audit_time ON audit(time);"	\
	"CREATE INDEX IF NOT EXISTS audit_uid ON audit(uid);"	\
	"CREATE INDEX IF NOT EXISTS audit_tenant ON audit(tenant);" \
	"CREATE INDEX IF NOT EXISTS audit_action ON audit(action);"

static const char schema[] =
	/* a new database gives pruned pages back (give_back); an older one
	 * is changed once at open if it is small (vacuum_mode) */
	"PRAGMA auto_vacuum=INCREMENTAL;"
	"PRAGMA journal_mode=WAL;"
	/* the WAL goes back to this size when it restarts after a checkpoint,
	 * whatever a big transaction (a prune, a bulk record) made it */
	"PRAGMA journal_size_limit=" STR(CTL_WAL_LIMIT) ";"
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
	"CREATE TABLE IF NOT EXISTS audit" AUDIT_COLUMNS " STRICT;"
	/* long token lists, beside their records (struct ctl_token_list) */
	"CREATE TABLE IF NOT EXISTS audit_tokens(seq INTEGER NOT NULL, idx INTEGER NOT NULL,"
	"  first INTEGER NOT NULL, n INTEGER NOT NULL, tokens TEXT NOT NULL,"
	"  PRIMARY KEY(seq, idx)) STRICT;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB);"
	"CREATE TABLE IF NOT EXISTS settings(k TEXT PRIMARY KEY, v INTEGER NOT NULL);";

int64_t ctl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sqlite3_stmt *ctl_store_stmt(struct ctl_store *s, const char *sql)
{
	for (unsigned i = 0; i < s->n_kept; i++)
		if (s->kept[i].sql == sql || strcmp(s->kept[i].sql, sql) == 0) {
			sqlite3_stmt *st = s->kept[i].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	/* the texts are the code's own: a fixed set, sized by CTL_KEPT_STMTS */
	if (s->n_kept == CTL_KEPT_STMTS)
		return NULL;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK)
		return NULL;
	s->kept[s->n_kept++] = (struct ctl_kept_stmt){ .sql = sql, .st = st };
	return st;
}

int ctl_store_exec(struct ctl_store *s, const char *sql)
{
	sqlite3_stmt *st = ctl_store_stmt(s, sql);
	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

void st_forget_kept(struct ctl_store *s)
{
	for (unsigned i = 0; i < s->n_kept; i++)
		sqlite3_finalize(s->kept[i].st);
	s->n_kept = 0;
}

int st_meta_get(sqlite3 *db, const char *k, void *v, int *len, int cap)
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

int st_meta_put(sqlite3 *db, const char *k, const void *v, int len)
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

int64_t st_count_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

void st_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t st_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The HMAC-SHA256 context under the audit key, made once and reset for
 * each MAC (EVP_MAC_init with no key keeps the key): fetching and freeing
 * one for every record was most of what verifying cost. It holds what the
 * key derives, so it lives only while it is used: for a walk, a prune, a
 * batch of appends (mac_release after each). */
EVP_MAC_CTX *st_audit_mac(struct ctl_store *s)
{
	if (s->mac == NULL) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		static char sha256[] = "SHA256"; /* OSSL_PARAM takes char * */
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							 sha256, 0),
			OSSL_PARAM_construct_end(),
		};
		s->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac); /* the context keeps its own reference */
		if (s->mac == NULL || EVP_MAC_init(s->mac, s->audit_key, 32, params) != 1) {
			EVP_MAC_CTX_free(s->mac);
			s->mac = NULL;
		}
		return s->mac;
	}
	return EVP_MAC_init(s->mac, NULL, 0, NULL) == 1 ? s->mac : NULL;
}

void st_mac_release(struct ctl_store *s)
{
	EVP_MAC_CTX_free(s->mac); /* cleanses */
	s->mac = NULL;
}

/* HMAC-SHA256(audit key, label || data): the tags of what meta keeps. */
int st_key_tag(struct ctl_store *s, const char *label, const uint8_t *data,
		   size_t len, uint8_t tag[32])
{
	EVP_MAC_CTX *m = st_audit_mac(s);
	size_t outl = 0;
	int ok = m != NULL &&
		 EVP_MAC_update(m, (const uint8_t *)label, strlen(label)) == 1 &&
		 EVP_MAC_update(m, data, len) == 1 &&
		 EVP_MAC_final(m, tag, &outl, 32) == 1 && outl == 32;
	return ok ? 0 : -1;
}


static int pack_pos(struct ctl_store *s, const char *label, uint8_t out[POS_LEN],
		    int64_t seq, const uint8_t mac[32])
{
	st_put_be64(out, (uint64_t)seq);
	memcpy(out + 8, mac, 32);
	return st_key_tag(s, label, out, 40, out + 40);
}

/* Read a head or anchor from meta; -1 if missing or not authentic. */
int st_get_pos(struct ctl_store *s, const char *label, int64_t *seq,
		   uint8_t mac[32])
{
	uint8_t in[POS_LEN], tag[32];
	int n;
	if (st_meta_get(s->db, label, in, &n, POS_LEN) != 0 || n != POS_LEN ||
	    st_key_tag(s, label, in, 40, tag) != 0 ||
	    CRYPTO_memcmp(tag, in + 40, 32) != 0)
		return -1;
	*seq = (int64_t)st_get_be64(in);
	memcpy(mac, in + 8, 32);
	return 0;
}

int st_put_pos(struct ctl_store *s, const char *label, int64_t seq,
		   const uint8_t mac[32])
{
	uint8_t out[POS_LEN];
	if (pack_pos(s, label, out, seq, mac) != 0)
		return -1;
	/* the head moves with every record: a kept statement */
	sqlite3_stmt *st = ctl_store_stmt(s, "INSERT OR REPLACE INTO meta(k,v) VALUES(?,?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, label, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, out, POS_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static void hex8(char out[17], const uint8_t *b)
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- opening: the checks against the mark ---- */


static void add_finding(char *found, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_finding(char *found, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(found);
	va_list ap;
	if (n > 0 && n + 2 < cap) {
		memcpy(found + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(found + n, cap - n, fmt, ap);
	va_end(ap);
}

static int new_audit_key(struct ctl_store *s)
{
	uint8_t wk[64];
	int wl;
	st_mac_release(s); /* made under the key before, if any */
	return RAND_priv_bytes(s->audit_key, 32) == 1 &&
	       (wl = ctl_wrap_key(s->wrap, s->audit_key, wk)) > 0 &&
	       st_meta_put(s->db, "audit_key", wk, wl) == 0 ? 0 : -1;
}

/* A new log in this database (a new chain id), going on after seq/mac:
 * 0 for a first start, the mark's head after a lost log. */
static int new_chain(struct ctl_store *s, int64_t seq, const uint8_t mac[32])
{
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	bool ok = new_audit_key(s) == 0 && RAND_bytes(s->chain_id, 16) == 1 &&
		  st_meta_put(s->db, "chain_id", s->chain_id, 16) == 0 &&
		  st_put_pos(s, "audit_anchor", seq, mac) == 0 &&
		  st_put_pos(s, "audit_head", seq, mac) == 0;
	if (!ok || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	s->last_seq = s->anchor_seq = seq;
	memcpy(s->last_mac, mac, 32);
	return 0;
}

/* The audit table as STRICT, in place and in one transaction, for a
 * database made before it was; left as it is while a row has a field of
 * another type (verification reports that record). */
static int make_strict(struct ctl_store *s)
{
	if (st_count_of(s->db, "SELECT strict FROM pragma_table_list WHERE "
		     "schema='main' AND name='audit'") == 1)
		return 0;
	if (st_count_of(s->db, "SELECT count(*) FROM audit WHERE typeof(time)!='integer' "
		     "OR typeof(uid)!='integer' OR typeof(role)!='text' OR "
		     "typeof(action)!='text' OR typeof(tenant) NOT IN ('text','null') OR "
		     "typeof(tokens) NOT IN ('text','null') OR typeof(justification) "
		     "NOT IN ('text','null') OR typeof(outcome)!='text' OR "
		     "typeof(mac)!='blob'") != 0)
		return 1;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE;"
			 "CREATE TABLE audit_strict" AUDIT_COLUMNS " STRICT;"
			 "INSERT INTO audit_strict SELECT seq,time,uid,role,action,tenant,"
			 "tokens,justification,outcome,mac FROM audit;"
			 "DROP TABLE audit;"
			 "ALTER TABLE audit_strict RENAME TO audit;"
			 "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void id_hex(char out[33], const uint8_t id[16])
{
	hex8(out, id);
	hex8(out + 16, id + 8);
}

/* Compare the database's log with the mark; what does not fit goes into
 * found. */
static void check_mark(struct ctl_store *s, const struct mark *m, char *found,
		       size_t cap)
{
	if (memcmp(m->id, s->chain_id, 16) != 0) {
		add_finding(found, cap, "the database holds another log than the "
			    "one marked: replaced");
		return;
	}
	if (s->last_seq < m->seq) {
		char what[80];
		add_finding(found, cap, "%s: the log was rewound to an older copy",
			    st_missing(what, sizeof(what), s->last_seq + 1, m->seq));
		return;
	}
	/* the record the mark names must be the one in the log */
	uint8_t mac[32];
	bool same;
	if (m->seq == s->last_seq)
		same = CRYPTO_memcmp(m->mac, s->last_mac, 32) == 0;
	else {
		int64_t aseq;
		sqlite3_stmt *st;
		same = false;
		if (st_get_pos(s, "audit_anchor", &aseq, mac) == 0 && aseq == m->seq)
			same = CRYPTO_memcmp(m->mac, mac, 32) == 0;
		else if (sqlite3_prepare_v2(s->db, "SELECT mac FROM audit WHERE seq=?",
					    -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, m->seq);
			same = sqlite3_step(st) == SQLITE_ROW &&
			       sqlite3_column_bytes(st, 0) == 32 &&
			       CRYPTO_memcmp(sqlite3_column_blob(st, 0), m->mac, 32) == 0;
			sqlite3_finalize(st);
		}
	}
	if (!same)
		add_finding(found, cap, "record %lld is not the one marked: the log "
			    "was replaced from it on", (long long)m->seq);
}

/* What was expected and what was found, for the refusal and the
 * recovery record: "(found: chain ... up to record 2, head ...; the mark:
 * chain ... up to record 3, head ...)". */
static void context(struct ctl_store *s, bool had_log, int mstate,
		    const struct mark *m, char *out, size_t cap)
{
	char have[33], want[33], hh[17], mh[17];
	id_hex(have, s->chain_id);
	id_hex(want, m->id);
	hex8(hh, s->last_mac);
	hex8(mh, m->mac);
	int k = had_log ?
		snprintf(out, cap, "(found: chain %s up to record %lld, head %s; ",
			 have, (long long)s->last_seq, hh) :
		snprintf(out, cap, "(found: no log; ");
	if (k < 0 || (size_t)k >= cap)
		return;
	if (mstate == MARK_OK)
		snprintf(out + k, cap - (size_t)k, "the mark: chain %s up to record "
			 "%lld, head %s)", want, (long long)m->seq, mh);
	else
		snprintf(out + k, cap - (size_t)k, "the mark: %s)",
			 mstate == MARK_BAD ? "not authentic" : "none");
}

/* A database made before auto_vacuum=INCREMENTAL: changed once (a VACUUM,
 * which rewrites the file) if it is at most CTL_VACUUM_AT_OPEN; a bigger
 * one is left as it is, and note says the one-time command. */
#define CTL_VACUUM_AT_OPEN (64 << 20)

static void vacuum_mode(struct ctl_store *s, const char *path, char *note, size_t cap)
{
	note[0] = '\0';
	if (st_count_of(s->db, "PRAGMA auto_vacuum") != 0)
		return;
	int64_t size = st_count_of(s->db, "PRAGMA page_count") *
		       st_count_of(s->db, "PRAGMA page_size");
	if (size <= CTL_VACUUM_AT_OPEN &&
	    sqlite3_exec(s->db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM", NULL, NULL,
			 NULL) == SQLITE_OK)
		return;
	snprintf(note, cap, "the database %.250s (%lld MiB) was made without "
		 "auto_vacuum: pruning frees pages in it but the file does not "
		 "shrink; to change that once, stop veil-controld and run: sqlite3 "
		 "%.250s 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM' (it rewrites the "
		 "file: as much free disk as its size)", path, (long long)(size >> 20),
		 path);
}

/* The database, with its schema; the mark's path; the master key (made
 * only for a database that holds nothing it wrapped); the audit key's
 * locked memory. */
static int open_db(struct ctl_store *s, const struct ctl_config *c, char *path,
		   size_t pathcap, char *vnote, size_t vcap, bool *key_there,
		   char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->mark_fd = -1;
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", c->state_dir,
			 strerror(errno));
		return -1;
	}
	snprintf(path, pathcap, "%s/veil.db", c->state_dir);
	/* no mutex: the connection is the loop's alone (the worker reads
	 * through one of its own, ctl_store_reader) */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(s->db, 5000);
	vacuum_mode(s, path, vnote, vcap);

	/* the mark lives beside the master key */
	const char *slash = strrchr(c->master_key, '/');
	if (slash == NULL)
		snprintf(s->mark_path, sizeof(s->mark_path), "audit.mark");
	else
		snprintf(s->mark_path, sizeof(s->mark_path), "%.*s/audit.mark",
			 (int)(slash - c->master_key), c->master_key);
	bool mark_there = access(s->mark_path, F_OK) == 0;
	*key_there = access(c->master_key, F_OK) == 0;

	/* A new master key only for a database that holds nothing wrapped,
	 * and no mark made with an earlier one: never silently over either. */
	int64_t wrapped = st_count_of(s->db, "SELECT (SELECT count(*) FROM keys) + "
				   "(SELECT count(*) FROM meta WHERE k='audit_key')");
	s->wrap = ctl_wrap_open(c->master_key, wrapped == 0 && !mark_there, err, errlen);
	if (s->wrap == NULL) {
		size_t n = strlen(err);
		if (wrapped > 0)
			snprintf(err + n, errlen - n, " (the database holds %lld "
				 "wrapped keys that need it; refusing to start)",
				 (long long)wrapped);
		else if (mark_there)
			snprintf(err + n, errlen - n, " (the governance log's mark %s "
				 "was made with it; refusing to start)", s->mark_path);
		return -1;
	}
	s->audit_key = veil_secmem_alloc(32);
	if (s->audit_key == NULL) {
		snprintf(err, errlen, "no locked memory: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int rfail(struct ctl_store *s, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot record the recovery: %s", sqlite3_errmsg(s->db));
	return -1;
}

/* A recovery: the record says what was found (found), and the breaks it
 * accepts are exactly the ones it found (brk, when the chain is broken). */
static int record_recovery(struct ctl_store *s, const struct ctl_recovery *rec,
			   bool had_log, int mstate, const struct mark *m,
			   const char *found, int64_t bad, const struct accepted *brk,
			   char *err, size_t errlen)
{
	int64_t cnt;
	char why[512];
	/* recovery: the record says what was found, and the breaks it
	 * accepts are exactly the ones it found */
	char outcome[2048], ctx[300];
	context(s, had_log, mstate, m, ctx, sizeof(ctx));
	if (!had_log) {
		char id[33];
		id_hex(id, s->chain_id);
		snprintf(ctx + strlen(ctx) - 1, sizeof(ctx) - strlen(ctx) + 1,
			 "; the new log is chain %s)", id);
	}
	snprintf(outcome, sizeof(outcome), "recovered: %s %s", found, ctx);
	struct ctl_audit_rec r = { .uid = rec->uid, .role = rec->role,
				   .action = "audit.recover",
				   .justification = rec->reason,
				   .outcome = outcome };
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return rfail(s, err, errlen);
	s->txn = true;
	s->durable_seq = s->last_seq;
	memcpy(s->durable_mac, s->last_mac, 32);
	if ((bad != 0 && st_acc_add(s, brk) != 0) || ctl_audit_append(s, &r) != 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->txn = s->head_dirty = false;
		return rfail(s, err, errlen);
	}
	if (ctl_store_sync(s) != 0)
		return rfail(s, err, errlen);
	snprintf(s->note, sizeof(s->note), "recorded as governance log record "
		 "%lld: %.400s", (long long)s->last_seq, outcome);
	if (st_walk(s, &cnt, why, sizeof(why), NULL) != 0) {
		snprintf(err, errlen, "after the recovery the chain is still "
			 "broken: %s", why);
		return -1;
	}
	return 0;
}

/* A database with a log: its audit key, head and anchor; what does not
 * fit the mark into found. *has_id: the log has a chain id (one from
 * before the mark has none). */
static int log_against_mark(struct ctl_store *s, const struct ctl_config *c,
			    const char *path, const uint8_t *wk, int wl, int mstate,
			    const struct mark *m, char *found, size_t cap,
			    bool *has_id, char *err, size_t errlen)
{
	int n;
	if (ctl_unwrap_key(s->wrap, wk, (size_t)wl, s->audit_key) != 0) {
		snprintf(err, errlen, "the audit key does not unwrap with %s: "
			 "wrong master key or tampered database", c->master_key);
		return -1;
	}
	uint8_t amac[32];
	if (st_get_pos(s, "audit_head", &s->last_seq, s->last_mac) != 0 ||
	    st_get_pos(s, "audit_anchor", &s->anchor_seq, amac) != 0) {
		snprintf(err, errlen, "the governance log's head or anchor is "
			 "missing or not authentic (a tampered database?): "
			 "refusing to start; to go on with a new log, move %s "
			 "aside (keep it for the investigation), then" RECOVERY_HINT,
			 path, c->path[0] ? c->path : "FILE");
		return -1;
	}
	*has_id = st_meta_get(s->db, "chain_id", s->chain_id, &n, 16) == 0 &&
		      n == 16;
	if (mstate == MARK_OK && *has_id)
		check_mark(s, m, found, cap);
	else if (mstate == MARK_OK)
		add_finding(found, cap, "the database's log has no chain "
			    "id, the mark has: replaced by an older copy");
	else if (mstate == MARK_BAD)
		add_finding(found, cap, "the mark %s is not authentic",
			    s->mark_path);
	else if (*has_id && s->last_seq > 0)
		add_finding(found, cap, "the mark %s is missing (the "
			    "database's log had one)", s->mark_path);
	return 0;
}

static int store_open(struct ctl_store *s, const struct ctl_config *c,
		      const struct ctl_recovery *rec, char *err, size_t errlen)
{
	char vnote[800];
	char path[300], found[1536] = "";
	struct mark m = { 0 };
	static const uint8_t zero[32];
	bool key_there = false;

	if (open_db(s, c, path, sizeof(path), vnote, sizeof(vnote), &key_there, err,
		    errlen) != 0)
		goto fail;
	int mstate = st_mark_read(s, &m);
	s->mark_gen = mstate == MARK_OK ? m.gen : 0;
	s->mark_seq = -1; /* written once below in any case */

	uint8_t wk[64];
	int wl, n;
	bool new_id = false, had_log = true;
	if (st_meta_get(s->db, "audit_key", wk, &wl, sizeof(wk)) != 0) {
		had_log = false;
		/* no log in this database */
		char what[80];
		if (mstate == MARK_OK)
			add_finding(found, sizeof(found), "%s%s: the database holds no "
				    "governance log", st_missing(what, sizeof(what),
				    m.anchor + 1, m.seq), m.anchor > 0 ? " (the ones before "
				    "were pruned or recovered earlier)" : "");
		else if (mstate == MARK_BAD)
			add_finding(found, sizeof(found), "the database holds no "
				    "governance log and the mark %s is not authentic",
				    s->mark_path);
		else if (key_there)
			add_finding(found, sizeof(found), "the master key %s exists but "
				    "there is neither a governance log in the database nor "
				    "a mark (%s): the log was wiped", c->master_key,
				    s->mark_path);
		if (found[0] != '\0' && rec == NULL)
			goto refuse;
		/* a first start, or a recovery: the new log goes on after the
		 * records the mark knew of */
		if (new_chain(s, mstate == MARK_OK ? m.seq : 0,
			      mstate == MARK_OK ? m.mac : zero) != 0) {
			snprintf(err, errlen, "cannot start the governance log: %s",
				 sqlite3_errmsg(s->db));
			goto fail;
		}
	} else {
		bool has_id;
		if (log_against_mark(s, c, path, wk, wl, mstate, &m, found, sizeof(found),
				     &has_id, err, errlen) != 0)
			goto fail;
		/* from before the mark: it gets an identity, once it verifies */
		new_id = !has_id;
	}
	/* the whole chain at every start; a long one from the mark's
	 * checkpoint (check_mark found the record it names in the log, with
	 * its MAC), the rest walked in the background (walk_pending) */
	int64_t cnt;
	char why[512];
	struct accepted brk;
	s->walk_pending = rec == NULL && mstate == MARK_OK && !new_id &&
			  found[0] == '\0' && m.seq > s->anchor_seq &&
			  s->last_seq - s->anchor_seq > CTL_WALK_AT_START;
	int64_t bad = st_walk_chain(s, s->walk_pending ? m.seq : 0, m.mac, &cnt, why,
				 sizeof(why), &brk);
	st_mac_release(s);
	if (bad != 0)
		add_finding(found, sizeof(found), "the chain is broken: %s", why);
	if (found[0] != '\0' && rec == NULL)
		goto refuse;
	if (new_id) {
		if (RAND_bytes(s->chain_id, 16) != 1 ||
		    st_meta_put(s->db, "chain_id", s->chain_id, 16) != 0) {
			snprintf(err, errlen, "cannot store the chain id: %s",
				 sqlite3_errmsg(s->db));
			goto fail;
		}
		if (mstate == MARK_NONE)
			snprintf(s->note, sizeof(s->note), "the governance log had no "
				 "mark: made %s from its verified head, record %lld",
				 s->mark_path, (long long)s->last_seq);
	}
	if (make_strict(s) < 0) {
		snprintf(err, errlen, "database %s: cannot make the audit table STRICT: "
			 "%s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	/* after make_strict, which makes the table anew: an index for each
	 * filter of audit.show (the rowid, seq, is in each: a filter's
	 * records come in seq order); a database made before them gets them
	 * here, once */
	if (sqlite3_exec(s->db, AUDIT_INDEXES, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: cannot index the governance log: %s",
			 path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (mstate == MARK_BAD && rec != NULL) {
		/* kept for the investigation; a new one follows */
		char aside[300];
		snprintf(aside, sizeof(aside), "%s.bad", s->mark_path);
		rename(s->mark_path, aside);
		s->mark_gen = 0;
	}
	if (found[0] != '\0') {
		if (record_recovery(s, rec, had_log, mstate, &m, found, bad, &brk, err,
				    errlen) != 0)
			goto fail;
	} else if (rec != NULL)
		snprintf(s->note, sizeof(s->note), "the governance log is intact and "
			 "marked (record %lld): nothing to recover", (long long)s->last_seq);
	if (st_mark_write(s) != 0) {
		snprintf(err, errlen, "the governance log's mark %s: cannot write: %s",
			 s->mark_path, strerror(errno));
		goto fail;
	}
	st_mac_release(s);
	if (vnote[0] != '\0') {
		size_t n = strlen(s->note);
		snprintf(s->note + n, sizeof(s->note) - n, "%s%s", n ? "; " : "", vnote);
	}
	return 0;
refuse:;
	char ctx[300];
	context(s, had_log, mstate, &m, ctx, sizeof(ctx));
	n = snprintf(err, errlen, "the governance log cannot be trusted: %s %s: "
		     "refusing to start", found, ctx);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, RECOVERY_HINT,
			 c->path[0] ? c->path : "FILE");
fail:
	ctl_store_close(s);
	return -1;
}

int ctl_store_open(struct ctl_store *s, const struct ctl_config *c, char *err,
		   size_t errlen)
{
	return store_open(s, c, NULL, err, errlen);
}

int ctl_store_recover(struct ctl_store *s, const struct ctl_config *c,
		      const struct ctl_recovery *r, char *err, size_t errlen)
{
	return store_open(s, c, r, err, errlen);
}

void ctl_store_close(struct ctl_store *s)
{
	st_keeper_stop(s);
	st_mark_writer_stop(s); /* writes what it was handed first */
	st_mac_release(s);
	st_forget_kept(s);
	if (s->db != NULL)
		sqlite3_close(s->db);
	if (s->mark_open)
		close(s->mark_fd);
	ctl_wrap_close(s->wrap);
	veil_secmem_free(s->audit_key);
	memset(s, 0, sizeof(*s));
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

void ctl_store_read_begin(struct ctl_store *s)
{
	/* deferred: SQLite reads (and locks) at the first statement only */
	if (!s->txn && !s->reading && ctl_store_exec(s, "BEGIN") == 0)
		s->reading = true;
}

void ctl_store_read_end(struct ctl_store *s)
{
	if (!s->reading)
		return;
	s->reading = false;
	if (ctl_store_exec(s, "COMMIT") != 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int ctl_store_sync(struct ctl_store *s)
{
	ctl_store_read_end(s);
	if (!s->txn) {
		st_mac_release(s); /* the batch's appends are done */
		return s->batch_failed ? -1 : 0;
	}
	s->txn = false;
	/* the head in meta once for the transaction's records, not once a
	 * record: what commits is the same */
	bool head = !s->head_dirty || st_put_pos(s, "audit_head", s->last_seq,
						 s->last_mac) == 0;
	s->head_dirty = false;
	st_mac_release(s);
	/* synchronous=FULL: the commit returns once the WAL is fsync'd */
	if (head && ctl_store_exec(s, "COMMIT") == 0) {
		s->commits++;
		if (st_chain_committed(s) != 0)
			return -1;
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
	if (ctl_store_sync(s) != 0 || ctl_store_exec(s, "BEGIN IMMEDIATE") != 0)
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
	st_mac_release(s);
	if (!s->change)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->change = false;
	s->txn = false;
	s->head_dirty = false;
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

/* The chunks of a long list, in the record's transaction. */
static int put_list(struct ctl_store *s, int64_t seq, const struct ctl_token_list *l)
{
	sqlite3_stmt *st;
	size_t first = 0;
	int ok = sqlite3_prepare_v2(s->db, "INSERT INTO audit_tokens(seq,idx,first,n,"
				    "tokens) VALUES(?,?,?,?,?)", -1, &st, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < l->n_chunks; i++) {
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite3_bind_int64(st, 3, (int64_t)first);
		sqlite3_bind_int64(st, 4, (int64_t)l->chunk_count[i]);
		sqlite3_bind_text(st, 5, l->chunk[i], -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_reset(st) == SQLITE_OK;
		first += l->chunk_count[i];
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

int ctl_audit_append(struct ctl_store *s, const struct ctl_audit_rec *in)
{
	struct ctl_audit_rec r = *in;
	uint8_t mac[32];
	sqlite3_stmt *st = NULL;

	r.seq = s->last_seq + 1;
	if (r.time == 0)
		r.time = ctl_now();
	char *form = NULL;
	if (r.list != NULL && (form = st_list_form(r.list, r.tokens)) == NULL)
		return -1;
	if (form != NULL)
		r.tokens = form;
	if (st_record_mac(s, s->last_mac, &r, mac) != 0) {
		free(form);
		return -1;
	}
	ctl_store_read_end(s); /* a write transaction of its own follows */
	if (s->batch && !s->txn) {
		if (ctl_store_exec(s, "BEGIN IMMEDIATE") != 0) {
			free(form);
			return -1;
		}
		s->txn = true;
		s->durable_seq = s->last_seq;
		memcpy(s->durable_mac, s->last_mac, 32);
	}
	/* inside a batch, a savepoint undoes this record alone on failure */
	if (ctl_store_exec(s, s->txn ? "SAVEPOINT rec" : "BEGIN IMMEDIATE") != 0) {
		free(form);
		return -1;
	}
	st = ctl_store_stmt(s, "INSERT INTO audit(seq,time,uid,role,action,tenant,"
			    "tokens,justification,outcome,mac) VALUES(?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
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
	int done = sqlite3_step(st);
	sqlite3_reset(st);
	if (done != SQLITE_DONE || (r.list != NULL && put_list(s, r.seq, r.list) != 0))
		goto fail;
	/* in a transaction the head is written once, at its commit */
	if ((!s->txn && st_put_pos(s, "audit_head", r.seq, mac) != 0) ||
	    ctl_store_exec(s, s->txn ? "RELEASE rec" : "COMMIT") != 0)
		goto fail;
	s->head_dirty = s->txn;
	free(form);
	s->last_seq = r.seq;
	memcpy(s->last_mac, mac, 32);
	if (!s->txn) {
		st_mac_release(s);
		s->commits++;
		return st_chain_committed(s);
	}
	return 0;
fail:
	free(form);
	if (s->txn)
		sqlite3_exec(s->db, "ROLLBACK TO rec; RELEASE rec", NULL, NULL, NULL);
	else {
		st_mac_release(s);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return -1;
}
