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

#include "ctl_pvt.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* STRICT: a field of another type than its column's is refused, not
 * stored (a BLOB tenant would hide a record from audit show). */
#define AUDIT_COLUMNS "(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"	\
	"  uid INTEGER NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT," \
	"  tokens TEXT, justification TEXT, outcome TEXT NOT NULL, mac BLOB NOT NULL)"
#define AUDIT_SELECT "SELECT seq,time,uid,role,action,tenant,tokens," \
	"justification,outcome,mac FROM audit "

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

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
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
static EVP_MAC_CTX *audit_mac(struct ctl_store *s)
{
	if (s->mac == NULL) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							 (char *)"SHA256", 0),
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

static void mac_release(struct ctl_store *s)
{
	EVP_MAC_CTX_free(s->mac); /* cleanses */
	s->mac = NULL;
}

/* HMAC-SHA256(audit key, label || data): the tags of what meta keeps. */
static int key_tag(struct ctl_store *s, const char *label, const uint8_t *data,
		   size_t len, uint8_t tag[32])
{
	EVP_MAC_CTX *m = audit_mac(s);
	size_t outl = 0;
	int ok = m != NULL &&
		 EVP_MAC_update(m, (const uint8_t *)label, strlen(label)) == 1 &&
		 EVP_MAC_update(m, data, len) == 1 &&
		 EVP_MAC_final(m, tag, &outl, 32) == 1 && outl == 32;
	return ok ? 0 : -1;
}

/* head/anchor: 8-byte seq (big-endian) || 32-byte record mac || a 32-byte
 * HMAC of both under the audit key, labelled, so neither can be rewound to
 * a record of the table (hiding removed records) without the key. */
#define POS_LEN 72

static int pack_pos(struct ctl_store *s, const char *label, uint8_t out[POS_LEN],
		    int64_t seq, const uint8_t mac[32])
{
	put_be64(out, (uint64_t)seq);
	memcpy(out + 8, mac, 32);
	return key_tag(s, label, out, 40, out + 40);
}

/* Read a head or anchor from meta; -1 if missing or not authentic. */
static int get_pos(struct ctl_store *s, const char *label, int64_t *seq,
		   uint8_t mac[32])
{
	uint8_t in[POS_LEN], tag[32];
	int n;
	if (meta_get(s->db, label, in, &n, POS_LEN) != 0 || n != POS_LEN ||
	    key_tag(s, label, in, 40, tag) != 0 ||
	    CRYPTO_memcmp(tag, in + 40, 32) != 0)
		return -1;
	*seq = (int64_t)get_be64(in);
	memcpy(mac, in + 8, 32);
	return 0;
}

static int put_pos(struct ctl_store *s, const char *label, int64_t seq,
		   const uint8_t mac[32])
{
	uint8_t out[POS_LEN];
	return pack_pos(s, label, out, seq, mac) == 0 &&
	       meta_put(s->db, label, out, POS_LEN) == 0 ? 0 : -1;
}

static void hex8(char out[17], const uint8_t *b)
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- the mark, beside the master key ---- */

/* Two slots of MARK_SLOT bytes, MARK_STRIDE apart (separate sectors):
 * "VEILMRK1" | generation | chain id (16) | head seq | anchor seq |
 * head mac (32) | HMAC-SHA256 of all that under a master key subkey. The
 * slot with the highest generation that verifies is the mark. */
#define MARK_BODY 80
#define MARK_SLOT (MARK_BODY + 32)
#define MARK_STRIDE 512
#define MARK_LABEL "veil-controld audit mark v1"

struct mark {
	uint64_t gen;
	uint8_t id[16];
	int64_t seq, anchor;
	uint8_t mac[32];
};

static int mark_pack(struct ctl_store *s, const struct mark *m, uint8_t out[MARK_SLOT])
{
	memcpy(out, "VEILMRK1", 8);
	put_be64(out + 8, m->gen);
	memcpy(out + 16, m->id, 16);
	put_be64(out + 32, (uint64_t)m->seq);
	put_be64(out + 40, (uint64_t)m->anchor);
	memcpy(out + 48, m->mac, 32);
	return ctl_wrap_tag(s->wrap, MARK_LABEL, out, MARK_BODY, out + MARK_BODY);
}

static bool mark_unpack(struct ctl_store *s, const uint8_t in[MARK_SLOT], struct mark *m)
{
	uint8_t tag[32];
	if (memcmp(in, "VEILMRK1", 8) != 0 ||
	    ctl_wrap_tag(s->wrap, MARK_LABEL, in, MARK_BODY, tag) != 0 ||
	    CRYPTO_memcmp(tag, in + MARK_BODY, 32) != 0)
		return false;
	m->gen = get_be64(in + 8);
	memcpy(m->id, in + 16, 16);
	m->seq = (int64_t)get_be64(in + 32);
	m->anchor = (int64_t)get_be64(in + 40);
	memcpy(m->mac, in + 48, 32);
	return true;
}

enum { MARK_NONE, MARK_OK, MARK_BAD };

static int mark_read(struct ctl_store *s, struct mark *m)
{
	uint8_t buf[MARK_STRIDE + MARK_SLOT];
	int fd = open(s->mark_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? MARK_NONE : MARK_BAD;
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	bool found = false;
	for (int i = 0; i < 2; i++) {
		struct mark t;
		ssize_t off = i * MARK_STRIDE;
		if (n < off + MARK_SLOT || !mark_unpack(s, buf + off, &t))
			continue;
		if (!found || t.gen > m->gen)
			*m = t;
		found = true;
	}
	return found ? MARK_OK : MARK_BAD;
}

/* The mark file, open for writing (made if missing). */
static int mark_open(struct ctl_store *s)
{
	if (s->mark_open)
		return 0;
	bool created = access(s->mark_path, F_OK) != 0;
	s->mark_fd = open(s->mark_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->mark_fd < 0)
		return -1;
	if (s->mark_fd < 3) {
		/* started with a standard stream closed: daemon() would put
		 * /dev/null over it */
		int fd = fcntl(s->mark_fd, F_DUPFD_CLOEXEC, 3);
		close(s->mark_fd);
		if ((s->mark_fd = fd) < 0)
			return -1;
	}
	s->mark_open = true;
	if (created && ctl_fsync_dir(s->mark_path) != 0)
		return -1;
	return 0;
}

/* One packed slot into its place, durably. */
static int mark_put(int fd, const uint8_t slot[MARK_SLOT], uint64_t gen)
{
	return pwrite(fd, slot, MARK_SLOT, (off_t)(gen & 1) * MARK_STRIDE) == MARK_SLOT &&
	       fdatasync(fd) == 0 ? 0 : -1;
}

/* The chain's head and anchor as they are, packed into the next
 * generation's slot. */
static int mark_next(struct ctl_store *s, uint8_t out[MARK_SLOT])
{
	struct mark m = { .gen = s->mark_gen + 1, .seq = s->last_seq,
			  .anchor = s->anchor_seq };
	memcpy(m.id, s->chain_id, 16);
	memcpy(m.mac, s->last_mac, 32);
	if (mark_pack(s, &m, out) != 0)
		return -1;
	s->mark_gen = m.gen;
	s->mark_seq = m.seq;
	s->mark_anchor = m.anchor;
	return 0;
}

/* Write the chain's head and anchor as they are into the older slot, now. */
static int mark_write(struct ctl_store *s)
{
	uint8_t out[MARK_SLOT];
	if (mark_open(s) != 0 || mark_next(s, out) != 0)
		return -1;
	return mark_put(s->mark_fd, out, s->mark_gen);
}

/* The mark's writer (ctl_store_mark_async): the loop packs each new state
 * after its commit returned (so what it holds is durable already) and
 * hands it over; the thread writes the newest it was given, with its
 * fdatasync, off the loop. The mark may lag the database by the commits of
 * a few passes, never lead it: a state is handed over only once its
 * records are durable. */
struct ctl_mark_writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t wake, written;
	bool stop, failed;
	int fd;
	uint8_t slot[MARK_SLOT]; /* the newest state handed over */
	uint64_t want, done;     /* generations: handed over, written */
};

static void *mark_thread(void *arg)
{
	struct ctl_mark_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->done == w->want)
			pthread_cond_wait(&w->wake, &w->mu);
		if (w->done == w->want)
			break; /* stopping, everything written */
		uint8_t slot[MARK_SLOT];
		uint64_t gen = w->want;
		memcpy(slot, w->slot, MARK_SLOT);
		pthread_mutex_unlock(&w->mu);
		int rc = mark_put(w->fd, slot, gen);
		pthread_mutex_lock(&w->mu);
		if (rc != 0)
			w->failed = true;
		w->done = gen;
		pthread_cond_broadcast(&w->written);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ctl_store_mark_async(struct ctl_store *s)
{
	struct ctl_mark_writer *w = calloc(1, sizeof(*w));
	if (w == NULL || mark_open(s) != 0) {
		free(w);
		return -1;
	}
	w->fd = s->mark_fd;
	w->want = w->done = s->mark_gen;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->written, NULL);
	if (pthread_create(&w->th, NULL, mark_thread, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->wake);
		pthread_cond_destroy(&w->written);
		free(w);
		return -1;
	}
	s->mark_writer = w;
	return 0;
}

/* Wait until the writer wrote everything handed to it; -1 if a write
 * failed since the last call. */
static int mark_wait(struct ctl_mark_writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->done != w->want)
		pthread_cond_wait(&w->written, &w->mu);
	bool failed = w->failed;
	w->failed = false;
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

static void mark_writer_stop(struct ctl_store *s)
{
	struct ctl_mark_writer *w = s->mark_writer;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->written);
	free(w);
	s->mark_writer = NULL;
}

/* Hand the state as it is now to the writer; with wait, return once it
 * is written. -1 if a write failed (it is tried again with the next
 * state): the caller answers as for a failed commit. */
static int mark_post(struct ctl_store *s, bool wait)
{
	struct ctl_mark_writer *w = s->mark_writer;
	uint8_t out[MARK_SLOT];
	if (mark_next(s, out) != 0)
		return -1;
	pthread_mutex_lock(&w->mu);
	memcpy(w->slot, out, MARK_SLOT);
	w->want = s->mark_gen;
	bool failed = w->failed;
	w->failed = false;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	if (wait && mark_wait(w) != 0)
		failed = true;
	return failed ? -1 : 0;
}

/* The one hook after a commit of records (or of the anchor): the mark
 * follows the durable chain, never ahead of it. With the writer thread
 * the loop does not wait for it, except when the anchor moved: a mark
 * left naming a record that pruning removed would refuse the next
 * start. */
static int chain_committed(struct ctl_store *s)
{
	if (s->mark_seq == s->last_seq && s->mark_anchor == s->anchor_seq)
		return 0;
	if (s->mark_writer != NULL)
		return mark_post(s, s->mark_anchor != s->anchor_seq);
	return mark_write(s);
}

int ctl_store_mark_flush(struct ctl_store *s)
{
	return s->mark_writer != NULL ? mark_wait(s->mark_writer) : 0;
}

/* ---- breaks a recovery accepted (meta audit_accepted) ---- */

/* Each: where the break starts (first), the recovery record (rec), a
 * SHA-256 of the rows first..rec-1 as they were found, and the MAC the
 * chain goes on from at rec. The list carries an HMAC under the audit key. */
#define ACC_LEN 80
#define ACC_MAX 64

struct accepted {
	int64_t first, rec;
	uint8_t digest[32], prev[32];
};

static int acc_load(struct ctl_store *s, struct accepted *a, unsigned *n)
{
	static _Thread_local uint8_t buf[ACC_MAX * ACC_LEN + 32];
	uint8_t tag[32];
	int len;
	*n = 0;
	if (meta_get(s->db, "audit_accepted", buf, &len, sizeof(buf)) != 0)
		return count_of(s->db, "SELECT count(*) FROM meta WHERE k='audit_accepted'")
		       == 0 ? 0 : -1;
	if (len < 32 || (len - 32) % ACC_LEN != 0 ||
	    key_tag(s, "audit_accepted", buf, (size_t)len - 32, tag) != 0 ||
	    CRYPTO_memcmp(tag, buf + len - 32, 32) != 0)
		return -1;
	for (int off = 0; off < len - 32; off += ACC_LEN, (*n)++) {
		a[*n].first = (int64_t)get_be64(buf + off);
		a[*n].rec = (int64_t)get_be64(buf + off + 8);
		memcpy(a[*n].digest, buf + off + 16, 32);
		memcpy(a[*n].prev, buf + off + 48, 32);
	}
	return 0;
}

static int acc_add(struct ctl_store *s, const struct accepted *e)
{
	static _Thread_local struct accepted a[ACC_MAX];
	static _Thread_local uint8_t buf[ACC_MAX * ACC_LEN + 32];
	unsigned n;
	if (acc_load(s, a, &n) != 0 || n >= ACC_MAX)
		return -1;
	a[n++] = *e;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = buf + i * ACC_LEN;
		put_be64(p, (uint64_t)a[i].first);
		put_be64(p + 8, (uint64_t)a[i].rec);
		memcpy(p + 16, a[i].digest, 32);
		memcpy(p + 48, a[i].prev, 32);
	}
	size_t len = n * ACC_LEN;
	return key_tag(s, "audit_accepted", buf, len, buf + len) == 0 &&
	       meta_put(s->db, "audit_accepted", buf, (int)len + 32) == 0 ? 0 : -1;
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

static int record_mac(struct ctl_store *s, const uint8_t prev[32],
		      const struct ctl_audit_rec *r, uint8_t out[32])
{
	EVP_MAC_CTX *m = audit_mac(s);
	char nums[64];
	size_t outl = 0;
	if (m == NULL)
		return -1;
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
	return EVP_MAC_final(m, out, &outl, 32) == 1 && outl == 32 ? 0 : -1;
}


/* ---- long token lists, kept aside (struct ctl_token_list) ---- */

/* The SHA-256 of a list from its chunks, each JSON array text of at
 * least one token: "[" + the chunks without their brackets, joined by ","
 * + "]", the list as it would have been written inline. */
struct list_hash {
	EVP_MD_CTX *h;
	size_t chunks;
};

static int lh_begin(struct list_hash *l)
{
	l->chunks = 0;
	l->h = EVP_MD_CTX_new();
	return l->h != NULL && EVP_DigestInit_ex(l->h, EVP_sha256(), NULL) == 1 &&
	       EVP_DigestUpdate(l->h, "[", 1) == 1 ? 0 : -1;
}

static int lh_chunk(struct list_hash *l, const char *text, size_t len)
{
	if (len < 3 || text[0] != '[' || text[len - 1] != ']')
		return -1;
	return (l->chunks++ == 0 || EVP_DigestUpdate(l->h, ",", 1) == 1) &&
	       EVP_DigestUpdate(l->h, text + 1, len - 2) == 1 ? 0 : -1;
}

static int lh_end(struct list_hash *l, char hex[65])
{
	uint8_t d[32];
	unsigned n = 0;
	int ok = EVP_DigestUpdate(l->h, "]", 1) == 1 &&
		 EVP_DigestFinal_ex(l->h, d, &n) == 1 && n == 32;
	EVP_MD_CTX_free(l->h);
	l->h = NULL;
	for (int i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return ok ? 0 : -1;
}

/* The digest form of a list whose first tokens are head (JSON array
 * text): a new string, or NULL. */
static char *list_form(const struct ctl_token_list *list, const char *head)
{
	struct list_hash l;
	char hex[65];
	size_t total = 0;
	if (lh_begin(&l) != 0) {
		EVP_MD_CTX_free(l.h);
		return NULL;
	}
	for (size_t i = 0; i < list->n_chunks; i++) {
		total += list->chunk_count[i];
		if (list->chunk_count[i] == 0 ||
		    lh_chunk(&l, list->chunk[i], strlen(list->chunk[i])) != 0) {
			EVP_MD_CTX_free(l.h);
			return NULL;
		}
	}
	json_t *first = json_loads(head, 0, NULL);
	if (lh_end(&l, hex) != 0 || total != list->count || !json_is_array(first)) {
		json_decref(first);
		return NULL;
	}
	json_t *o = json_pack("{s:I, s:s, s:o}", "count", (json_int_t)total,
			      "sha256", hex, "first", first);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

/* A digest form's count and SHA-256 (hex); -1 if it is not one. */
static int list_form_read(const char *text, json_int_t *count, char hex[65],
			  json_t **first)
{
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *c = json_object_get(o, "count");
	const char *h = json_string_value(json_object_get(o, "sha256"));
	json_t *f = json_object_get(o, "first");
	int rc = -1;
	if (json_is_integer(c) && json_integer_value(c) > 0 && h != NULL &&
	    strlen(h) == 64 && json_is_array(f)) {
		*count = json_integer_value(c);
		memcpy(hex, h, 65);
		if (first != NULL)
			*first = json_incref(f);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* The list kept aside for record seq against its digest form: the
 * chunks in order, each of the tokens its row says, hashing to the
 * digest, as many as it counts. */
static int check_list(struct ctl_store *s, int64_t seq, const char *form, char *why,
		      size_t whylen)
{
	sqlite3_stmt *st;
	struct list_hash l;
	json_int_t count, at = 0, idx = 0;
	char want[65], got[65];
	bool ok = list_form_read(form, &count, want, NULL) == 0 && lh_begin(&l) == 0;
	if (!ok || sqlite3_prepare_v2(s->db, "SELECT idx, first, n, tokens FROM "
				      "audit_tokens WHERE seq=? ORDER BY idx", -1, &st,
				      NULL) != SQLITE_OK) {
		EVP_MD_CTX_free(l.h);
		snprintf(why, whylen, "record %lld: its token list cannot be read",
			 (long long)seq);
		return -1;
	}
	sqlite3_bind_int64(st, 1, seq);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		json_t *a = t ? json_loadb(t, len, 0, NULL) : NULL;
		ok = sqlite3_column_int64(st, 0) == idx++ &&
		     sqlite3_column_int64(st, 1) == at &&
		     json_is_array(a) && json_array_size(a) > 0 &&
		     (json_int_t)json_array_size(a) == sqlite3_column_int64(st, 2) &&
		     lh_chunk(&l, t, len) == 0;
		at += (json_int_t)json_array_size(a);
		json_decref(a);
	}
	sqlite3_finalize(st);
	ok = ok && at == count && lh_end(&l, got) == 0 && strcmp(got, want) == 0;
	EVP_MD_CTX_free(l.h);
	if (!ok) {
		snprintf(why, whylen, "record %lld: its token list (audit_tokens) was "
			 "altered", (long long)seq);
		return -1;
	}
	return 0;
}

/* Rows of audit_tokens that belong to no record kept aside: 0 if none. */
static int64_t stray_lists(struct ctl_store *s)
{
	return count_of(s->db, "SELECT count(*) FROM (SELECT DISTINCT seq FROM "
			"audit_tokens) t LEFT JOIN audit a ON a.seq = t.seq WHERE "
			"a.seq IS NULL OR a.tokens IS NULL OR substr(a.tokens, 1, 1) != '{'");
}

int ctl_audit_tokens_shown(const char *field, char **shown, size_t *total)
{
	json_int_t count;
	char hex[65];
	json_t *first = NULL;
	*shown = NULL;
	if (field[0] == '{') {
		if (list_form_read(field, &count, hex, &first) != 0)
			return -1;
		*total = (size_t)count;
		*shown = json_dumps(first, JSON_COMPACT);
		json_decref(first);
		return *shown != NULL ? 0 : -1;
	}
	json_t *a = json_loads(field, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return -1;
	}
	*total = json_array_size(a);
	if (*total > CTL_TOKENS_INLINE_MAX) {
		/* an inline list from before lists were kept aside */
		while (json_array_size(a) > CTL_TOKENS_HEAD)
			json_array_remove(a, json_array_size(a) - 1);
		*shown = json_dumps(a, JSON_COMPACT);
	}
	json_decref(a);
	return 0;
}

/* The slice [offset, offset + max) of array a, appended to out. */
static void slice_into(json_t *out, json_t *a, size_t base, size_t offset, size_t max)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (base + i >= offset && base + i < offset + max)
			json_array_append(out, json_array_get(a, i));
}

int ctl_audit_tokens(struct ctl_store *s, int64_t seq, size_t offset, size_t max,
		     json_t **out, size_t *total, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	json_int_t count;
	char hex[65];
	int rc = -1;
	*out = NULL;
	*total = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT tokens FROM audit WHERE seq=?", -1, &st,
			       NULL) != SQLITE_OK) {
		snprintf(why, whylen, "database: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "no record %lld in the governance log", (long long)seq);
		sqlite3_finalize(st);
		return -1;
	}
	const char *field = (const char *)sqlite3_column_text(st, 0);
	json_t *list = json_array();
	snprintf(why, whylen, "record %lld: its tokens do not read (audit verify "
		 "says more)", (long long)seq);
	if (field == NULL)
		rc = 0;
	else if (field[0] == '[') {
		json_t *a = json_loads(field, 0, NULL);
		if (json_is_array(a)) {
			*total = json_array_size(a);
			slice_into(list, a, 0, offset, max);
			rc = 0;
		}
		json_decref(a);
	} else if (list_form_read(field, &count, hex, NULL) == 0) {
		sqlite3_stmt *c;
		*total = (size_t)count;
		rc = 0;
		if (sqlite3_prepare_v2(s->db, "SELECT first, tokens FROM audit_tokens "
				       "WHERE seq=?1 AND first + n > ?2 AND first < ?3 "
				       "ORDER BY idx", -1, &c, NULL) != SQLITE_OK)
			rc = -1;
		else {
			sqlite3_bind_int64(c, 1, seq);
			sqlite3_bind_int64(c, 2, (int64_t)offset);
			sqlite3_bind_int64(c, 3, (int64_t)(offset + max));
			while (rc == 0 && sqlite3_step(c) == SQLITE_ROW) {
				json_t *a = json_loadb((const char *)sqlite3_column_text(c, 1),
						       (size_t)sqlite3_column_bytes(c, 1), 0, NULL);
				if (!json_is_array(a))
					rc = -1;
				else
					slice_into(list, a, (size_t)sqlite3_column_int64(c, 0),
						   offset, max);
				json_decref(a);
			}
			sqlite3_finalize(c);
		}
	}
	sqlite3_finalize(st);
	if (rc == 0) {
		*out = list;
		why[0] = '\0';
	} else
		json_decref(list);
	return rc;
}

/* ---- checking records ---- */

static const char *const col_name[10] = { "seq", "time", "uid", "role", "action",
	"tenant", "tokens", "justification", "outcome", "mac" };

static const char *type_name(int t)
{
	switch (t) {
	case SQLITE_INTEGER: return "an integer";
	case SQLITE_FLOAT: return "a real";
	case SQLITE_TEXT: return "text";
	case SQLITE_BLOB: return "a blob";
	default: return "null";
	}
}

/* One row of AUDIT_SELECT: 0 if every field is of its column's type and
 * the MAC chains from prev (its MAC in mac), and with lists, a token list
 * kept aside matches its digest form; else -1 and why. The types are read
 * before any value, which could convert them. */
static int check_row(struct ctl_store *s, sqlite3_stmt *st, const uint8_t prev[32],
		     uint8_t mac[32], bool lists, char *why, size_t whylen)
{
	static const int want[10] = { SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER,
		SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT,
		SQLITE_TEXT, SQLITE_BLOB };
	int types[10];
	for (int c = 0; c < 10; c++)
		types[c] = sqlite3_column_type(st, c);
	long long seq = sqlite3_column_int64(st, 0);
	for (int c = 0; c < 10; c++) {
		bool nullable = c >= 5 && c <= 7;
		if (types[c] != want[c] && !(nullable && types[c] == SQLITE_NULL)) {
			snprintf(why, whylen, "record %lld was altered: its %s is %s, "
				 "not %s", seq, col_name[c], type_name(types[c]),
				 type_name(want[c]));
			return -1;
		}
	}
	struct ctl_audit_rec r = {
		.seq = seq,
		.time = sqlite3_column_int64(st, 1),
		.uid = (unsigned)sqlite3_column_int64(st, 2),
		.role = (const char *)sqlite3_column_text(st, 3),
		.action = (const char *)sqlite3_column_text(st, 4),
		.tenant = (const char *)sqlite3_column_text(st, 5),
		.tokens = (const char *)sqlite3_column_text(st, 6),
		.justification = (const char *)sqlite3_column_text(st, 7),
		.outcome = (const char *)sqlite3_column_text(st, 8),
	};
	/* what the MAC covers must be all there is: a uid that fits, and
	 * text without a NUL hiding more after it */
	bool clean = sqlite3_column_int64(st, 2) >= 0 &&
		     sqlite3_column_int64(st, 2) <= UINT32_MAX;
	for (int c = 3; c <= 8; c++)
		if (types[c] != SQLITE_NULL &&
		    strlen((const char *)sqlite3_column_text(st, c)) !=
		    (size_t)sqlite3_column_bytes(st, c))
			clean = false;
	if (!clean || record_mac(s, prev, &r, mac) != 0 ||
	    sqlite3_column_bytes(st, 9) != 32 ||
	    CRYPTO_memcmp(mac, sqlite3_column_blob(st, 9), 32) != 0) {
		snprintf(why, whylen, "record %lld was altered or inserted", seq);
		return -1;
	}
	if (lists && r.tokens != NULL && r.tokens[0] == '{')
		return check_list(s, seq, r.tokens, why, whylen);
	return 0;
}

/* SHA-256 of the rows first..end-1 as they are, every field with its
 * type: what a recovery accepted, so that a later change to them shows. */
static int rows_digest(struct ctl_store *s, int64_t first, int64_t end, uint8_t out[32])
{
	sqlite3_stmt *st;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	uint8_t b[8];
	int ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
		 sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq >= ?1 AND seq < ?2 "
				    "ORDER BY seq", -1, &st, NULL) == SQLITE_OK;
	if (!ok) {
		EVP_MD_CTX_free(h);
		return -1;
	}
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int64(st, 2, end);
	put_be64(b, (uint64_t)first);
	EVP_DigestUpdate(h, b, 8);
	put_be64(b, (uint64_t)end);
	EVP_DigestUpdate(h, b, 8);
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int c = 0; c < 10; c++) {
			uint8_t t = (uint8_t)sqlite3_column_type(st, c);
			EVP_DigestUpdate(h, &t, 1);
			if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
				put_be64(b, t == SQLITE_INTEGER ?
					 (uint64_t)sqlite3_column_int64(st, c) :
					 (uint64_t)(int64_t)(sqlite3_column_double(st, c) * 1e6));
				EVP_DigestUpdate(h, b, 8);
			} else if (t != SQLITE_NULL) {
				const void *v = sqlite3_column_blob(st, c);
				int n = sqlite3_column_bytes(st, c);
				put_be64(b, (uint64_t)n);
				EVP_DigestUpdate(h, b, 8);
				if (n > 0)
					EVP_DigestUpdate(h, v, (size_t)n);
			}
		}
	sqlite3_finalize(st);
	unsigned outl = 0;
	ok = EVP_DigestFinal_ex(h, out, &outl) == 1 && outl == 32;
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}

/* "record 5 is missing", "records 5-9 are missing", "no record is
 * missing" */
static const char *missing(char *buf, size_t cap, int64_t first, int64_t last)
{
	if (last < first)
		snprintf(buf, cap, "no record is missing");
	else if (last == first)
		snprintf(buf, cap, "record %lld is missing", (long long)first);
	else
		snprintf(buf, cap, "records %lld-%lld are missing", (long long)first,
			 (long long)last);
	return buf;
}

/* Walk the chain from the anchor, or from a checkpoint after it (from,
 * from_mac: a record whose MAC is known good; from 0: the anchor).
 * Returns 0 if it is intact up to the head, or every break in it was
 * accepted by a recovery; else the seq where the first other break
 * starts, what it is in why, and in first the accepted-break entry a
 * recovery would add for it. Without a transaction open it reads in
 * snapshots of CTL_WALK_CHUNK records (a long walk holds no snapshot, and
 * so the WAL, for its whole length); the head is checked in the last. */
static int64_t walk_chain(struct ctl_store *s, int64_t from, const uint8_t *from_mac,
			  int64_t *count, char *why, size_t whylen,
			  struct accepted *first);

static int64_t walk(struct ctl_store *s, int64_t *count, char *why, size_t whylen,
		    struct accepted *first)
{
	int64_t bad = walk_chain(s, 0, NULL, count, why, whylen, first);
	mac_release(s);
	return bad;
}

/* One record of the walk at the row st holds: chained on, a gap or a bad
 * record skipped where a recovery accepted it, or the break (its seq, what
 * it is in why). */
static int64_t walk_row(struct ctl_store *s, sqlite3_stmt *st, const struct accepted *acc,
			unsigned nacc, uint8_t prev[32], int64_t *expect, int64_t *count,
			char *why, size_t whylen)
{
	uint8_t mac[32];
	int64_t seq = sqlite3_column_int64(st, 0);
	while (seq >= *expect) {
		char w[256];
		if (seq == *expect && check_row(s, st, prev, mac, true, w, sizeof(w)) == 0) {
			memcpy(prev, mac, 32);
			*expect = seq + 1;
			(*count)++;
			return 0;
		}
		if (seq != *expect) {
			char what[80];
			snprintf(w, sizeof(w), "%s (next is %lld)", missing(what,
				 sizeof(what), *expect, seq - 1), (long long)seq);
		}
		/* a break: one a recovery accepted, as it was then? */
		const struct accepted *e = NULL;
		for (unsigned i = 0; i < nacc && e == NULL; i++)
			if (acc[i].first == *expect)
				e = &acc[i];
		uint8_t dg[32];
		if (e != NULL && e->rec > *expect &&
		    rows_digest(s, e->first, e->rec, dg) == 0 &&
		    CRYPTO_memcmp(dg, e->digest, 32) == 0) {
			memcpy(prev, e->prev, 32);
			*expect = e->rec;
			continue;
		}
		snprintf(why, whylen, "%s%s", w, e != NULL ? " (and changed "
			 "since the recovery that accepted it)" : "");
		return *expect;
	}
	return 0;
}

/* The end of a walk: the head names the last record verified, and no
 * token list is kept for a record that is not there. */
static int64_t walk_end(struct ctl_store *s, int64_t expect, const uint8_t prev[32],
			char *why, size_t whylen)
{
	int64_t head;
	uint8_t head_mac[32];
	if (get_pos(s, "audit_head", &head, head_mac) != 0) {
		snprintf(why, whylen, "the chain's anchor or head is missing or "
			 "not authentic");
		return expect;
	}
	if (expect - 1 < head) {
		snprintf(why, whylen, "the log ends at record %lld but its head is "
			 "record %lld: records were removed from the end",
			 (long long)(expect - 1), (long long)head);
		return expect;
	}
	if (expect - 1 > head) {
		snprintf(why, whylen, "record %lld is after the head (record %lld)",
			 (long long)(head + 1), (long long)head);
		return head + 1;
	}
	if (CRYPTO_memcmp(prev, head_mac, 32) != 0) {
		snprintf(why, whylen, "the head does not match record %lld",
			 (long long)head);
		return head;
	}
	if (stray_lists(s) != 0) {
		/* not part of the chain; reported, never believed */
		snprintf(why, whylen, "the token lists table (audit_tokens) holds "
			 "lists of no record kept aside: rows were added");
		return head + 1;
	}
	return 0;
}

static int64_t walk_chain(struct ctl_store *s, int64_t from, const uint8_t *from_mac,
			  int64_t *count, char *why, size_t whylen,
			  struct accepted *first)
{
	static _Thread_local struct accepted acc[ACC_MAX];
	uint8_t prev[32], head_mac[32];
	int64_t anchor = 0, head = 0, bad = 0;
	unsigned nacc = 0;
	sqlite3_stmt *st = NULL;
	bool own = sqlite3_get_autocommit(s->db) != 0;

	*count = 0;
	if (own && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "cannot read the log: %s", sqlite3_errmsg(s->db));
		return 1;
	}
	if (get_pos(s, "audit_anchor", &anchor, prev) != 0 ||
	    get_pos(s, "audit_head", &head, head_mac) != 0) {
		snprintf(why, whylen, "the chain's anchor or head is missing or "
			 "not authentic");
		bad = anchor > 0 ? anchor + 1 : 1;
		goto out;
	}
	if (acc_load(s, acc, &nacc) != 0) {
		snprintf(why, whylen, "the list of breaks accepted by recoveries "
			 "(meta audit_accepted) is not authentic");
		bad = anchor + 1;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			       -1, &st, NULL)) {
		snprintf(why, whylen, "cannot read the log: %s", sqlite3_errmsg(s->db));
		bad = anchor + 1;
		goto out;
	}
	int64_t expect = anchor + 1;
	if (from > anchor && from_mac != NULL) {
		memcpy(prev, from_mac, 32);
		expect = from + 1;
	}
	for (;;) {
		int64_t rows = 0;
		sqlite3_bind_int64(st, 1, expect - 1);
		sqlite3_bind_int64(st, 2, own ? CTL_WALK_CHUNK : -1);
		while (bad == 0 && sqlite3_step(st) == SQLITE_ROW) {
			rows++;
			bad = walk_row(s, st, acc, nacc, prev, &expect, count, why, whylen);
		}
		sqlite3_reset(st);
		if (bad != 0 || !own || rows < CTL_WALK_CHUNK)
			break;
		/* the next snapshot; pruning may have moved the anchor past
		 * where the walk is: it goes on from the anchor, authentic */
		int64_t a2;
		uint8_t amac[32];
		if (sqlite3_exec(s->db, "COMMIT; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    get_pos(s, "audit_anchor", &a2, amac) != 0) {
			snprintf(why, whylen, "the chain's anchor is missing or not "
				 "authentic");
			bad = expect;
			break;
		}
		if (a2 >= expect) {
			memcpy(prev, amac, 32);
			expect = a2 + 1;
		}
	}
	if (bad == 0)
		bad = walk_end(s, expect, prev, why, whylen);
out:
	sqlite3_finalize(st);
	if (bad != 0 && first != NULL) {
		/* a recovery record would be the next after the head, chained
		 * from it; the rows from the break up to it are kept as found */
		first->first = bad;
		first->rec = s->last_seq + 1;
		memcpy(first->prev, s->last_mac, 32);
		if (rows_digest(s, first->first, first->rec, first->digest) != 0)
			bad = -1;
	}
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return bad;
}

/* ---- opening: the checks against the mark ---- */

#define RECOVERY_HINT "; if what happened is known, record it and go on with: " \
	"veil-controld -c %s --recover-audit \"REASON\" (see veil-controld(8), " \
	"RECOVERY)"

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
	mac_release(s); /* made under the key before, if any */
	return RAND_priv_bytes(s->audit_key, 32) == 1 &&
	       (wl = ctl_wrap_key(s->wrap, s->audit_key, wk)) > 0 &&
	       meta_put(s->db, "audit_key", wk, wl) == 0 ? 0 : -1;
}

/* A new log in this database (a new chain id), going on after seq/mac:
 * 0 for a first start, the mark's head after a lost log. */
static int new_chain(struct ctl_store *s, int64_t seq, const uint8_t mac[32])
{
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	bool ok = new_audit_key(s) == 0 && RAND_bytes(s->chain_id, 16) == 1 &&
		  meta_put(s->db, "chain_id", s->chain_id, 16) == 0 &&
		  put_pos(s, "audit_anchor", seq, mac) == 0 &&
		  put_pos(s, "audit_head", seq, mac) == 0;
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
	if (count_of(s->db, "SELECT strict FROM pragma_table_list WHERE "
		     "schema='main' AND name='audit'") == 1)
		return 0;
	if (count_of(s->db, "SELECT count(*) FROM audit WHERE typeof(time)!='integer' "
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
			    missing(what, sizeof(what), s->last_seq + 1, m->seq));
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
		if (get_pos(s, "audit_anchor", &aseq, mac) == 0 && aseq == m->seq)
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
	if (count_of(s->db, "PRAGMA auto_vacuum") != 0)
		return;
	int64_t size = count_of(s->db, "PRAGMA page_count") *
		       count_of(s->db, "PRAGMA page_size");
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

static int store_open(struct ctl_store *s, const struct ctl_config *c,
		      const struct ctl_recovery *rec, char *err, size_t errlen)
{
	char vnote[800];
	char path[300], found[1536] = "";
	struct mark m = { 0 };
	static const uint8_t zero[32];

	memset(s, 0, sizeof(*s));
	s->mark_fd = -1;
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
	vacuum_mode(s, path, vnote, sizeof(vnote));

	/* the mark lives beside the master key */
	const char *slash = strrchr(c->master_key, '/');
	if (slash == NULL)
		snprintf(s->mark_path, sizeof(s->mark_path), "audit.mark");
	else
		snprintf(s->mark_path, sizeof(s->mark_path), "%.*s/audit.mark",
			 (int)(slash - c->master_key), c->master_key);
	bool mark_there = access(s->mark_path, F_OK) == 0;
	bool key_there = access(c->master_key, F_OK) == 0;

	/* A new master key only for a database that holds nothing wrapped,
	 * and no mark made with an earlier one: never silently over either. */
	int64_t wrapped = count_of(s->db, "SELECT (SELECT count(*) FROM keys) + "
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
		goto fail;
	}
	s->audit_key = veil_secmem_alloc(32);
	if (s->audit_key == NULL) {
		snprintf(err, errlen, "no locked memory: %s", strerror(errno));
		goto fail;
	}
	int mstate = mark_read(s, &m);
	s->mark_gen = mstate == MARK_OK ? m.gen : 0;
	s->mark_seq = -1; /* written once below in any case */

	uint8_t wk[64];
	int wl, n;
	bool new_id = false, had_log = true;
	if (meta_get(s->db, "audit_key", wk, &wl, sizeof(wk)) != 0) {
		had_log = false;
		/* no log in this database */
		char what[80];
		if (mstate == MARK_OK)
			add_finding(found, sizeof(found), "%s%s: the database holds no "
				    "governance log", missing(what, sizeof(what),
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
		if (ctl_unwrap_key(s->wrap, wk, (size_t)wl, s->audit_key) != 0) {
			snprintf(err, errlen, "the audit key does not unwrap with %s: "
				 "wrong master key or tampered database", c->master_key);
			goto fail;
		}
		uint8_t amac[32];
		if (get_pos(s, "audit_head", &s->last_seq, s->last_mac) != 0 ||
		    get_pos(s, "audit_anchor", &s->anchor_seq, amac) != 0) {
			snprintf(err, errlen, "the governance log's head or anchor is "
				 "missing or not authentic (a tampered database?): "
				 "refusing to start; to go on with a new log, move %s "
				 "aside (keep it for the investigation), then" RECOVERY_HINT,
				 path, c->path[0] ? c->path : "FILE");
			goto fail;
		}
		bool has_id = meta_get(s->db, "chain_id", s->chain_id, &n, 16) == 0 &&
			      n == 16;
		if (mstate == MARK_OK && has_id)
			check_mark(s, &m, found, sizeof(found));
		else if (mstate == MARK_OK)
			add_finding(found, sizeof(found), "the database's log has no chain "
				    "id, the mark has: replaced by an older copy");
		else if (mstate == MARK_BAD)
			add_finding(found, sizeof(found), "the mark %s is not authentic",
				    s->mark_path);
		else if (has_id && s->last_seq > 0)
			add_finding(found, sizeof(found), "the mark %s is missing (the "
				    "database's log had one)", s->mark_path);
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
	int64_t bad = walk_chain(s, s->walk_pending ? m.seq : 0, m.mac, &cnt, why,
				 sizeof(why), &brk);
	mac_release(s);
	if (bad != 0)
		add_finding(found, sizeof(found), "the chain is broken: %s", why);
	if (found[0] != '\0' && rec == NULL)
		goto refuse;
	if (new_id) {
		if (RAND_bytes(s->chain_id, 16) != 1 ||
		    meta_put(s->db, "chain_id", s->chain_id, 16) != 0) {
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
		/* recovery: the record says what was found, and the breaks it
		 * accepts are exactly the ones it found */
		char outcome[2048], ctx[300];
		context(s, had_log, mstate, &m, ctx, sizeof(ctx));
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
			goto rfail;
		s->txn = true;
		s->durable_seq = s->last_seq;
		memcpy(s->durable_mac, s->last_mac, 32);
		if ((bad != 0 && acc_add(s, &brk) != 0) || ctl_audit_append(s, &r) != 0) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			s->txn = false;
			goto rfail;
		}
		if (ctl_store_sync(s) != 0)
			goto rfail;
		snprintf(s->note, sizeof(s->note), "recorded as governance log record "
			 "%lld: %.400s", (long long)s->last_seq, outcome);
		if (walk(s, &cnt, why, sizeof(why), NULL) != 0) {
			snprintf(err, errlen, "after the recovery the chain is still "
				 "broken: %s", why);
			goto fail;
		}
	} else if (rec != NULL)
		snprintf(s->note, sizeof(s->note), "the governance log is intact and "
			 "marked (record %lld): nothing to recover", (long long)s->last_seq);
	if (mark_write(s) != 0) {
		snprintf(err, errlen, "the governance log's mark %s: cannot write: %s",
			 s->mark_path, strerror(errno));
		goto fail;
	}
	mac_release(s);
	if (vnote[0] != '\0') {
		size_t n = strlen(s->note);
		snprintf(s->note + n, sizeof(s->note) - n, "%s%s", n ? "; " : "", vnote);
	}
	return 0;
rfail:
	snprintf(err, errlen, "cannot record the recovery: %s", sqlite3_errmsg(s->db));
	goto fail;
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
	mark_writer_stop(s); /* writes what it was handed first */
	mac_release(s);
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

int ctl_store_sync(struct ctl_store *s)
{
	mac_release(s); /* the batch's appends are done */
	if (!s->txn)
		return s->batch_failed ? -1 : 0;
	s->txn = false;
	/* synchronous=FULL: the commit returns once the WAL is fsync'd */
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		s->commits++;
		if (chain_committed(s) != 0)
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
	mac_release(s);
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
	if (r.list != NULL && (form = list_form(r.list, r.tokens)) == NULL)
		return -1;
	if (form != NULL)
		r.tokens = form;
	if (record_mac(s, s->last_mac, &r, mac) != 0) {
		free(form);
		return -1;
	}
	if (s->batch && !s->txn) {
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
			free(form);
			return -1;
		}
		s->txn = true;
		s->durable_seq = s->last_seq;
		memcpy(s->durable_mac, s->last_mac, 32);
	}
	/* inside a batch, a savepoint undoes this record alone on failure */
	if (sqlite3_exec(s->db, s->txn ? "SAVEPOINT rec" : "BEGIN IMMEDIATE",
			 NULL, NULL, NULL) != SQLITE_OK) {
		free(form);
		return -1;
	}
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
	if (sqlite3_step(st) != SQLITE_DONE ||
	    (r.list != NULL && put_list(s, r.seq, r.list) != 0))
		goto fail;
	if (put_pos(s, "audit_head", r.seq, mac) != 0 ||
	    sqlite3_exec(s->db, s->txn ? "RELEASE rec" : "COMMIT",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_finalize(st);
	free(form);
	s->last_seq = r.seq;
	memcpy(s->last_mac, mac, 32);
	if (!s->txn) {
		mac_release(s);
		s->commits++;
		return chain_committed(s);
	}
	return 0;
fail:
	sqlite3_finalize(st);
	free(form);
	if (s->txn)
		sqlite3_exec(s->db, "ROLLBACK TO rec; RELEASE rec", NULL, NULL, NULL);
	else {
		mac_release(s);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return -1;
}

int64_t ctl_audit_verify(struct ctl_store *s, int64_t *count, char *why,
			 size_t whylen)
{
	return walk(s, count, why, whylen, NULL);
}

int ctl_store_reader(const struct ctl_store *s, struct ctl_store *r, char *err,
		     size_t errlen)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	memset(r, 0, sizeof(*r));
	r->mark_fd = -1;
	if (path == NULL || sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY |
					    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: a reader connection: %s",
			 path ? path : "?", r->db ? sqlite3_errmsg(r->db) : "cannot open");
		sqlite3_close(r->db);
		r->db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(r->db, 5000);
	r->audit_key = s->audit_key;
	r->reader = true;
	return 0;
}

void ctl_store_reader_close(struct ctl_store *r)
{
	mac_release(r);
	sqlite3_close(r->db);
	memset(r, 0, sizeof(*r));
}

void ctl_audit_refusal(const char *why, const char *conf, char *out, size_t cap)
{
	int n = snprintf(out, cap, "the governance log cannot be trusted: the chain "
			 "is broken: %s: refusing to serve", why);
	if (n >= 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, RECOVERY_HINT, conf[0] ? conf : "FILE");
}

/* One step of pruning: at most max records of the oldest run older than
 * before, in a transaction of its own that moves the anchor with them.
 * Returns how many went (0: the run is over), or -1. */
int64_t ctl_audit_prune_step(struct ctl_store *s, int64_t before, int64_t max,
			     char *why, size_t whylen)
{
	sqlite3_stmt *st;
	uint8_t prev[32], mac[32];
	int64_t anchor, last;
	int64_t rc = -1;

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (get_pos(s, "audit_anchor", &anchor, prev) != 0) {
		snprintf(why, whylen, "pruning the governance log stopped: its anchor "
			 "is missing or not authentic");
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			       -1, &st, NULL))
		goto out;
	sqlite3_bind_int64(st, 1, anchor);
	sqlite3_bind_int64(st, 2, max);
	last = anchor;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, 1) >= before)
			break; /* not old enough: the run ends */
		char w[256];
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq != last + 1) {
			snprintf(w, sizeof(w), "record %lld is missing", (long long)(last + 1));
			seq = last + 1;
		} else if (check_row(s, st, prev, mac, false, w, sizeof(w)) == 0) {
			memcpy(prev, mac, 32);
			last = seq;
			continue;
		}
		snprintf(why, whylen, "pruning the governance log stopped at record "
			 "%lld, which fails verification (%s): it and every record "
			 "after it are kept", (long long)seq, w);
		break;
	}
	sqlite3_finalize(st);
	rc = 0;
	if (last > anchor) {
		static const char *const del[] = { "DELETE FROM audit WHERE seq <= ?",
			"DELETE FROM audit_tokens WHERE seq <= ?" };
		rc = put_pos(s, "audit_anchor", last, prev) == 0 ? last - anchor : -1;
		for (int i = 0; i < 2 && rc >= 0; i++) {
			if (sqlite3_prepare_v2(s->db, del[i], -1, &st, NULL) != SQLITE_OK) {
				rc = -1;
				break;
			}
			sqlite3_bind_int64(st, 1, last);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = -1;
			sqlite3_finalize(st);
		}
	}
out:
	mac_release(s);
	if (sqlite3_exec(s->db, rc >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL)
	    != SQLITE_OK)
		rc = -1;
	if (rc > 0) {
		s->anchor_seq = last;
		chain_committed(s);
	}
	return rc;
}

int ctl_store_give_back_step(struct ctl_store *s)
{
	if (count_of(s->db, "PRAGMA freelist_count") > 0 &&
	    sqlite3_exec(s->db, "PRAGMA incremental_vacuum(" STR(CTL_VACUUM_PAGES) ")",
			 NULL, NULL, NULL) == SQLITE_OK &&
	    count_of(s->db, "PRAGMA freelist_count") > 0)
		return 1;
	sqlite3_exec(s->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL);
	return 0;
}

/* After a prune: give the freed pages back to the file system, a few at a
 * time (each step its own short transaction), then let the WAL go back
 * into the database; journal_size_limit truncates it at its next reset. */
static void give_back(struct ctl_store *s)
{
	for (int i = 0; i < CTL_VACUUM_STEPS && ctl_store_give_back_step(s) == 1; i++)
		;
}

int64_t ctl_audit_prune(struct ctl_store *s, int64_t before, int64_t max, char *why,
			size_t whylen)
{
	int64_t total = 0, n = 0;

	why[0] = '\0';
	/* Only the oldest run of records that are all older than the cut-off
	 * goes, each verified from the anchor before its time is believed: a
	 * record after a newer one stays even if its clock said earlier, and
	 * one that does not verify stops it (reported, never deleted). The
	 * newest record dropped becomes the anchor. In steps of
	 * CTL_PRUNE_STEP records, a transaction each: no step holds the
	 * database long, and the WAL holds one step's pages, not all. */
	while (max <= 0 || total < max) {
		int64_t step = CTL_PRUNE_STEP;
		if (max > 0 && max - total < step)
			step = max - total;
		n = ctl_audit_prune_step(s, before, step, why, whylen);
		if (n <= 0)
			break;
		total += n;
		if (n < step || why[0] != '\0')
			break;
	}
	if (total > 0)
		give_back(s);
	return n < 0 && total == 0 ? -1 : total;
}
