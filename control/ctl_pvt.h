/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Internals of veil-controld: config, state store, key wrapping, audit. */
#ifndef VEIL_CTL_PVT_H
#define VEIL_CTL_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>
#include <sqlite3.h>

#include "veil_control.h"
#include "veil_crypto.h"

/* ---- config (config.c) ---- */

#define CTL_MAX_ROLES 64
#define CTL_KEPT_STMTS 24 /* prepared statements a store keeps */

struct ctl_role_binding {
	bool is_gid;
	unsigned id;
	enum veil_role role;
};

struct ctl_config {
	char path[256];
	char state_dir[200];
	char socket_path[108];
	char socket_group[64];
	char master_key[256];
	char link_socket[108];     /* where the dataplane connects */
	char dataplane_user[64];   /* as the file says it, or "" */
	unsigned dataplane_watchdog_s; /* a dataplane silent longer is
					  dropped from the link; 0: never */
	char api_user[64];         /* the api process's, when started as root */
	int64_t dataplane_uid;     /* VEIL_LINK_UID_DEFAULT: root or ours */
	unsigned key_retention_days;
	unsigned audit_retention_days;
	unsigned rate_limit_per_min;
	unsigned idle_timeout_s;       /* a connection without a request: closed */
	unsigned connections_per_uid;  /* open API connections of one uid */
	unsigned max_tenants;          /* creates past it are refused */
	unsigned max_live_versions;    /* per tenant: a roll past it is refused */
	unsigned key_cache;            /* unwrapped key versions kept (locked) */
	char metrics_listen[64];       /* ADDRESS:PORT of /metrics, "" off */
	bool metrics_allow_remote;     /* metrics_listen may be non-loopback */
	unsigned n_roles;
	struct ctl_role_binding roles[CTL_MAX_ROLES];
	/* [byok]: the PKCS#11 module (a path or a p11-kit module name), the
	 * token's label, the file with its PIN; "" when not configured */
	char byok_module[256];
	char byok_token[64];
	char byok_pin_file[256];
	unsigned byok_check_interval_s; /* how often each BYOK KEK is checked */
	unsigned byok_grace_s;          /* unreachable this long: the tenant locks */
	unsigned master_key_check_s;    /* master.key read again this often, 0: never */
};

/* Load defaults, then the file (NULL: defaults only). On error returns -1
 * and writes "file:line: message" into err. */
int ctl_config_load(struct ctl_config *c, const char *path, char *err,
		    size_t errlen);
/* metrics_listen as an address to bind (*len 0: off); -1 with why in err
 * for one that does not parse, or that is not a loopback address while
 * metrics_allow_remote is off. ctl_config_load checks it too. */
int ctl_config_metrics_addr(const struct ctl_config *c, struct sockaddr_storage *ss,
			    socklen_t *len, char *err, size_t errlen);
/* veil-controld -n: the master key can be read (as at start), or, for a
 * state directory that holds no keys yet, created. -1 with the error,
 * naming the file, in err. */
int ctl_config_check_master_key(const struct ctl_config *c, char *err,
				size_t errlen);

/* ---- key wrapping (wrap.c): behind one interface, one implementation
 * today (a master key file, AES-256 key wrap with padding, RFC 5649) ---- */

struct ctl_wrap;
/* Open the master key file; create it only if allow_create. */
struct ctl_wrap *ctl_wrap_open(const char *path, bool allow_create, char *err,
			       size_t errlen);
void ctl_wrap_close(struct ctl_wrap *w);
/* Wrap 32 bytes into out (40 bytes); returns out length or -1. */
int ctl_wrap_key(struct ctl_wrap *w, const uint8_t key[32], uint8_t out[64]);
/* Unwrap; returns 0 or -1 (tampered or another master key). */
int ctl_unwrap_key(struct ctl_wrap *w, const uint8_t *in, size_t len,
		   uint8_t key[32]);
/* HMAC-SHA256 of data under a subkey of the master key for one purpose
 * (HKDF-SHA256, info = label, under 32 characters): authenticates state
 * kept outside the database, checkable when the database is gone.
 * Returns 0 or -1. */
int ctl_wrap_tag(struct ctl_wrap *w, const char *label, const uint8_t *data,
		 size_t len, uint8_t out[32]);
/* A key wrapped by a tenant's own key-encryption key (BYOK, byok.c) is
 * longer than a master-key wrap: ctl_unwrap_key hands such a blob to the
 * function set here. */
#define CTL_WRAPPED_MAX 600 /* the longest wrapped key: RSA-4096 and a header */
typedef int (*ctl_unwrap_fn)(void *ctx, const uint8_t *in, size_t len,
			     uint8_t key[32]);
void ctl_wrap_set_byok(struct ctl_wrap *w, ctl_unwrap_fn fn, void *ctx);
/* The master key in use (32 bytes, locked memory), for a backup of the
 * state it wraps (backup.c) and nothing else. */
const uint8_t *ctl_wrap_master(const struct ctl_wrap *w);
/* fsync the directory that holds the file path (a new entry in it). */
int ctl_fsync_dir(const char *path);

/* ---- state store (store.c) ---- */

struct ctl_store {
	sqlite3 *db;
	struct ctl_wrap *wrap;
	uint8_t *audit_key;   /* 32 bytes, locked memory */
	struct evp_mac_ctx_st *mac; /* HMAC under it, while in use (store.c) */
	uint8_t last_mac[32]; /* of the newest audit record */
	int64_t last_seq;
	/* group commit (ctl_store_batch) */
	bool batch, txn, batch_failed;
	bool change;             /* a ctl_store_begin transaction is open */
	bool head_dirty;         /* records appended in the open transaction:
				  * meta's head is written at its commit */
	bool reading;            /* a pass's read transaction is open */
	bool shred_pending;      /* a destroy's WAL is not truncated yet */
	int64_t durable_seq;     /* the chain's head when the batch began */
	uint8_t durable_mac[32];
	uint64_t commits;        /* audit commits (fsyncs) since start */
	/* rollback protection: the mark beside the master key (store.c) */
	uint8_t chain_id[16];    /* the log's identity, also in meta */
	int64_t anchor_seq;
	bool mark_open;
	int mark_fd;
	uint64_t mark_gen;       /* of the newest slot written */
	int64_t mark_seq;        /* the head and anchor the mark holds */
	int64_t mark_anchor;
	char mark_path[280];
	struct ctl_mark_writer *mark_writer; /* the thread, once async */
	unsigned mark_unposted;  /* commits not handed to it yet */
	struct ctl_keeper *keeper; /* checkpoints and pruning, once async */
	bool keeper_side;        /* the keeper thread's own connection */
	bool walk_pending;       /* started from the mark: the whole walk is due */
	bool reader;             /* a reader connection (ctl_store_reader) */
	char note[1024];         /* what the open did that is worth a log line */
	/* statements of the request paths, prepared once (ctl_store_stmt) */
	struct ctl_kept_stmt {
		const char *sql;
		sqlite3_stmt *st;
	} kept[CTL_KEPT_STMTS];
	unsigned n_kept;
};

/* Open the state store: refuses (-1, and why in err, with the recovery
 * command) a governance log that is missing, shortened, rewound, replaced
 * or broken against the mark kept beside the master key. */
int ctl_store_open(struct ctl_store *s, const struct ctl_config *c, char *err,
		   size_t errlen);
/* The operator who runs the recovery, and why. */
struct ctl_recovery {
	unsigned uid;
	const char *role;
	const char *reason;
};
/* Open as ctl_store_open does, but record what it would refuse as an
 * audit.recover record (what was expected and found, the reason), accept
 * exactly those breaks and mark the log again; never re-signs a record.
 * s->note says what was recorded (or that nothing was wrong). */
int ctl_store_recover(struct ctl_store *s, const struct ctl_config *c,
		      const struct ctl_recovery *r, char *err, size_t errlen);
/* config.c: the operator of a recovery or a restore (getuid(), its role
 * in c, the reason). */
struct ctl_recovery ctl_config_operator(const struct ctl_config *c, const char *reason);
void ctl_store_close(struct ctl_store *s);
/* A statement of the connection kept prepared for its life (the request
 * paths: a record's insert, the log's head, the caller's role, the
 * transaction's bounds), found by its text, reset with its bindings
 * cleared: parsing and planning it again for every request cost more
 * than running it. NULL if it does not prepare. The caller resets it when
 * done (sqlite3_reset), so that it holds no read transaction open. */
sqlite3_stmt *ctl_store_stmt(struct ctl_store *s, const char *sql);
/* Run a kept statement that returns no row (BEGIN, COMMIT, SAVEPOINT).
 * @return 0, or -1 if it failed. */
int ctl_store_exec(struct ctl_store *s, const char *sql);
int64_t ctl_now(void);
/* From now on the mark is written by a thread of its own, without the
 * caller waiting for its fdatasync: it is handed the state of every
 * CTL_MARK_EVERY-th commit (and of each commit that moves the anchor, and
 * what ctl_store_mark_settle hands it), and the handing over waits for the
 * previous state to be on disk, so the mark on disk lags the durable log
 * by at most 2 * CTL_MARK_EVERY - 1 commits, never leads it;
 * ctl_store_close writes the last state. Call it after daemon(): a fork
 * keeps no thread. 0, or -1 (writes stay synchronous, after each commit). */
#define CTL_MARK_EVERY 4
int ctl_store_mark_async(struct ctl_store *s);
/* The commits not handed to the mark's writer yet, to it now (the loop,
 * after a pass that committed nothing). 0, or -1 if a write failed. */
int ctl_store_mark_settle(struct ctl_store *s);
/* From now on the WAL's checkpoints and the pruning of the governance log
 * run on a thread with a connection of its own (store_keeper.c), not in
 * the loop. After ctl_store_mark_async (the pruning stops at what the mark
 * holds). 0, or -1 (SQLite's autocheckpoint and pruning in the loop stay). */
int ctl_store_keeper_start(struct ctl_store *s);
/* Hand a prune run (ctl_audit_prune's before and max) to the keeper; -1
 * without one. Its steps go on while the loop serves. */
int ctl_store_keeper_prune(struct ctl_store *s, int64_t before, int64_t max);
/* In the loop, each pass: the anchor the keeper's steps moved is taken
 * into the store and its mark. @return true while a run is under way;
 * why gets what stopped a run (a record that fails verification). */
bool ctl_store_keeper_poll(struct ctl_store *s, char *why, size_t whylen);
/* The keeper's checkpoints and pruned records since the start (status). */
void ctl_store_keeper_counts(const struct ctl_store *s, uint64_t *checkpoints,
			     uint64_t *pruned);
/* Wait until the mark holds everything committed; -1 if a write failed. */
int ctl_store_mark_flush(struct ctl_store *s);
/* The mark file for the chain as it is now, as a restore of a backup
 * taken now puts it beside the master key (store_mark.c). 0 or -1. */
#define CTL_MARK_FILE_LEN 624
int ctl_store_mark_image(struct ctl_store *s, uint8_t out[CTL_MARK_FILE_LEN]);

/* A long token list (a bulk resolve's), kept beside its record: the
 * record's tokens field holds its digest form, {"count":N,"sha256":HEX,
 * "first":[the first tokens]}, which the MAC covers; the tokens go into
 * the audit_tokens table in chunks, JSON array text each. The SHA-256 is
 * over "[" + each chunk without its brackets, joined by "," + "]": the
 * list as it would have been written inline. */
#define CTL_TOKENS_INLINE_MAX 100   /* a list longer than this goes aside */
#define CTL_TOKENS_HEAD 20          /* the tokens the digest form keeps */
#define CTL_TOKENS_CHUNK 1000       /* tokens a row of audit_tokens */
struct ctl_token_list {
	size_t count;               /* tokens in all */
	size_t n_chunks;
	const char *const *chunk;   /* JSON array text of consecutive tokens */
	const size_t *chunk_count;  /* tokens in each (at least 1) */
};

struct ctl_audit_rec {
	int64_t seq;
	int64_t time;
	unsigned uid;
	const char *role;
	const char *action;
	const char *tenant;
	const char *tokens;        /* JSON array text, never names */
	const char *justification;
	const char *outcome;
	/* a long list: tokens is then the JSON array text of its first
	 * CTL_TOKENS_HEAD; ctl_audit_append stores the digest form */
	const struct ctl_token_list *list;
};

/* Append one record, chained. Outside a batch it is durable (fsync'd) when
 * this returns 0; inside one, when ctl_store_sync returns 0. */
int ctl_audit_append(struct ctl_store *s, const struct ctl_audit_rec *r);
/* The tokens of record seq from offset on, at most max: a new JSON array
 * in *out and the list's length in *total (0 for a record without
 * tokens), whether the list is inline or kept aside. 0, or -1 with why (no
 * such record, a list that does not read, a database error). */
int ctl_audit_tokens(struct ctl_store *s, int64_t seq, size_t offset, size_t max,
		     json_t **out, size_t *total, char *why, size_t whylen);
/* A record's tokens field as audit.show gives it: the JSON array text of
 * its tokens, or of the first CTL_TOKENS_HEAD of a long list (a new
 * string in *shown, NULL to keep the field as it is), and in *total how
 * many the list holds. -1 if the field is not a list. */
int ctl_audit_tokens_shown(const char *field, char **shown, size_t *total);
/* Group commit: turn batching on (records share one transaction) or off
 * (committing what is open). */
void ctl_store_batch(struct ctl_store *s, bool on);
/* The reads of one pass (each caller's role as its request's length
 * comes in) in one read transaction instead of one each: begun with
 * batching on and nothing open, ended by _end, by the first record
 * appended and by ctl_store_sync. SQLite takes and drops its file locks
 * once for all of them. */
void ctl_store_read_begin(struct ctl_store *s);
void ctl_store_read_end(struct ctl_store *s);
/* Commit the open batch. -1 if this batch (or an earlier commit of it) was
 * lost: no answer that depended on its records may go out. */
int ctl_store_sync(struct ctl_store *s);
/* A state change and its record in one transaction: begin (committing an
 * open batch first), the change's own SQL, ctl_audit_append, then commit:
 * 0 when both are durable; -1 when neither is (rolled back, the chain
 * too). Abort rolls back an open change (nothing if none is open). Memory
 * and the dataplane change only after a commit returned 0. */
int ctl_store_begin(struct ctl_store *s);
int ctl_store_commit(struct ctl_store *s);
void ctl_store_abort(struct ctl_store *s);
/* After a destroy: checkpoint the WAL into the database and truncate it,
 * so no copy of the destroyed key is left in veil.db-wal. 0 when done,
 * -1 when a reader held it back or it failed (shred_pending stays set). */
int ctl_store_shred(struct ctl_store *s);
/* Walk the chain: 0 if intact or every break in it was accepted by a
 * recovery, else the seq of the first other bad record (and what is wrong
 * in why). count: the records whose MAC verified. */
int64_t ctl_audit_verify(struct ctl_store *s, int64_t *count, char *why,
			 size_t whylen);
/* A read-only connection to s's database for another thread, sharing s's
 * audit key (s must outlive it): what ctl_audit_verify, ctl_audit_tokens
 * and the queries of audit.show need. WAL: it reads while s writes. */
int ctl_store_reader(const struct ctl_store *s, struct ctl_store *r, char *err,
		     size_t errlen);
void ctl_store_reader_close(struct ctl_store *r);
/* A start walks the whole chain when it holds at most CTL_WALK_AT_START
 * records; a longer one only from the mark's checkpoint, and sets
 * walk_pending: the daemon walks the rest in the background. A walk reads
 * in snapshots of CTL_WALK_CHUNK records. */
#define CTL_WALK_AT_START 100000
#define CTL_WALK_CHUNK 50000
/* The log line for a chain found broken after the start (with the
 * recovery command for the config file conf). */
void ctl_audit_refusal(const char *why, const char *conf, char *out, size_t cap);
/* One step of ctl_audit_prune: at most max records, none after upto, one
 * transaction. How many went (0: none is due), or -1; why as for
 * ctl_audit_prune. */
int64_t ctl_audit_prune_step(struct ctl_store *s, int64_t before, int64_t max,
			     int64_t upto, char *why, size_t whylen);
/* After pruning, one step of giving the freed pages back (CTL_VACUUM_PAGES
 * pages, a transaction): 1 while more remain, 0 when done (the WAL then
 * checkpointed). */
int ctl_store_give_back_step(struct ctl_store *s);
/* Delete the oldest run of records older than before, each verified from
 * the anchor first; keeps the chain verifiable. At most max records (0: no
 * limit), in transactions of CTL_PRUNE_STEP records that each move the
 * anchor; then the freed pages go back to the file system
 * (auto_vacuum=INCREMENTAL) and the WAL into the database. Returns how
 * many went, or -1 on a database error before any did. A record that fails
 * verification stops it and is kept; why then says which (else it is left
 * empty). */
#define CTL_PRUNE_STEP 10000
#define CTL_VACUUM_PAGES 2048     /* pages a step of incremental_vacuum */
#define CTL_VACUUM_STEPS 256      /* steps after one prune (2 GiB at 4 KiB) */
#define CTL_KEEPER_VACUUM_PAGES 256 /* the same on the keeper's thread (store_keeper.c) */
#define CTL_WAL_LIMIT 16777216   /* journal_size_limit (16 MiB): the WAL after a reset */
int64_t ctl_audit_prune(struct ctl_store *s, int64_t before, int64_t max, char *why,
			size_t whylen);

#endif
