/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veil-controld's own state, shared by its .c files. */
#ifndef VEIL_CTLD_PVT_H
#define VEIL_CTLD_PVT_H

#include <jansson.h>

#include "ctl_pvt.h"
#include "veil_link.h"

#define CTLD_MAX_CLIENTS 256
#define CTLD_MAX_TOKENS  200000 /* per resolve request */
/* The largest request by role; a body over the caller's limit is refused
 * without reading it, and a caller without a role sends none. */
#define CTLD_READER_MSG_MAX (64u << 10)
#define CTLD_REFUSERS 256          /* callers whose refusals are counted */
#define CTLD_REFUSAL_INTERVAL_MS 60000

struct ctl_tenant {
	char id[VEIL_TENANT_MAX + 1];
	bool locked;
	unsigned roll_days; /* automatic roll interval, 0: never */
	uint32_t current;
	struct veil_keyring *ring; /* the versions kept unwrapped (keycache.c) */
};

/* The unwrapped key versions kept (keycache.c); all zero: empty, made at
 * first use with key_cache entries. */
struct ctl_cached;
struct ctl_keycache {
	unsigned cap, n;
	struct ctl_cached *e;
	uint32_t *bucket;       /* hash chains by (tenant index, version) */
	size_t n_buckets;
	uint32_t head, tail;    /* LRU order */
	uint32_t free;
	uint64_t hits, misses, evictions;
};

/* norm.c: the rules (crypto/veil_name.h) of each tenant's sources, from
 * veil.conf's [source NAME] sections, for lookups. rules[kind] has bit r
 * set when a source of the tenant applies rule r to names of that kind. */
struct ctl_norm_tenant {
	char id[VEIL_TENANT_MAX + 1];
	uint8_t rules[2];
};
struct ctl_norms {
	size_t n;
	struct ctl_norm_tenant *t; /* by id */
};

struct ctl_rate {
	unsigned uid;
	int64_t window; /* minute number */
	unsigned used;  /* tokens resolved and names looked up in it */
};

/* The refusals of one caller: the first of an interval is recorded at
 * once, the rest are counted and recorded as one record when the interval
 * ends (ctl_refusals_flush). */
struct ctl_refusal {
	bool used;
	unsigned uid;
	int64_t since;      /* the interval began (ms) */
	unsigned count;     /* refusals in it not yet recorded */
	enum veil_role role;
	bool mixed_action, mixed_tenant, mixed_why;
	char action[33];
	char tenant[VEIL_TENANT_MAX + 1]; /* "" for none */
	char why[160];
};

/* The master key file as the last check found it (masterkey.c). */
enum ctl_mk_state { CTL_MK_OK, CTL_MK_MISSING, CTL_MK_UNREADABLE, CTL_MK_CHANGED };

struct ctld {
	struct ctl_config cfg;      /* in effect: the file and runtime settings */
	struct ctl_config file_cfg; /* as veil.conf says */
	struct ctl_store store;
	struct veil_engine *engine;
	struct veil_link_server *link;
	/* The tenant table (tenants.c): grows as tenants are added; a pointer
	 * into it stays valid until the next tenant is added. An index of
	 * open-addressed slots finds a tenant by id (slot: index + 1, 0:
	 * empty). Everything zero is an empty table. */
	unsigned n_tenants, cap_tenants;
	struct ctl_tenant *tenants;
	uint32_t *tenant_slot;
	size_t n_slots;       /* a power of two, at least twice n_tenants */
	struct ctl_keycache keys;
	struct ctl_byok *byok;  /* tenants' own KEKs (byok.c) */
	struct ctl_norms norms; /* the sources' name rules, for lookups (norm.c) */
	bool scopes;            /* the role_scopes table is there (scope.c) */
	unsigned n_deleted;     /* tombstones in the tenant table (tenant_delete.c) */
	unsigned n_rates;
	struct ctl_rate rates[CTLD_MAX_CLIENTS];
	struct ctl_refusal refusals[CTLD_REFUSERS];
	int64_t started;
	uint64_t requests, errors;
	struct ctl_worker *worker;  /* long reads (worker.c), once started */
	bool chain_walking;         /* the start's walk of the whole chain runs */
	/* pruning, a step a pass of the loop (ctl_prune_pass) */
	int64_t prune_before, prune_left;
	bool prune_any, prune_vacuum;
	struct {
		enum ctl_mk_state state;
		int64_t since, next;  /* ms: the state began (0: at start); next check */
	} mkey;
};

/* A request run by the worker (worker.c): fn with the worker's reader
 * connection; the answer comes back as text (and as JSON with keep). */
struct ctl_job {
	struct ctl_job *next;
	json_t *(*fn)(struct ctl_store *r, json_t *req);
	json_t *req;
	int slot;           /* whose answer (controld.c); -1: the daemon's own */
	uint64_t serial;    /* the connection in that slot */
	bool keep, ok;
	json_t *answer;     /* with keep */
	char *text;         /* the answer as it goes out */
	size_t len;
};

/* The caller of one request: its credentials as the socket gives them
 * (SO_PEERCRED, SO_PEERGROUPS), and its role as of this request. */
struct ctl_caller {
	unsigned uid, gid;
	int pid;
	enum veil_role role;
	const gid_t *groups; /* supplementary groups */
	unsigned n_groups;
	/* a file the caller passed with this request (SCM_RIGHTS): where
	 * backup.create writes; the daemon closes it after the request */
	bool has_fd;
	int fd;
};

/* tenants.c. A change is made in two steps: its SQL, in the transaction
 * the caller opened (ctl_store_begin), then, only once that committed with
 * its record, its effect in memory and on the link (the _live, _add,
 * _destroyed, _apply functions); if it did not commit, the _drop
 * functions zeroize and free what was prepared. */

/* A key version stored in the open transaction, not live yet. */
struct ctl_new_key {
	uint32_t version;
	uint8_t *raw;          /* 32 bytes, locked memory: for the link */
	struct veil_key *key;  /* for the ring */
};

/* A tenant stored in the open transaction with its first key version. */
struct ctl_new_tenant {
	char id[VEIL_TENANT_MAX + 1];
	struct veil_keyring *ring;
	struct ctl_new_key key;
};

struct ctl_tenant *ctl_tenant_find(struct ctld *d, const char *id);
int ctl_tenants_load(struct ctld *d, char *err, size_t errlen);
/* Zeroize and free every key and the table. */
void ctl_tenants_free(struct ctld *d);
int ctl_tenant_create(struct ctld *d, const char *id, struct ctl_new_tenant *nt,
		      char *err, size_t errlen);
/* -1 if its first key did not go live (see ctl_key_live). */
int ctl_tenant_add(struct ctld *d, struct ctl_new_tenant *nt);
void ctl_tenant_drop(struct ctl_new_tenant *nt);
/* The version after current (of tenant id); -1 on failure, -2 when the
 * tenant has max_live_versions (veil.conf) live versions. */
int ctl_key_stage(struct ctld *d, const char *id, uint32_t current,
		  struct ctl_new_key *nk);
/* The new version is current (it cannot fail). */
int ctl_key_live(struct ctld *d, struct ctl_tenant *t, struct ctl_new_key *nk);
void ctl_key_drop(struct ctl_new_key *nk);
/* -1 if version is current or not live. */
int ctl_key_destroy(struct ctld *d, struct ctl_tenant *t, uint32_t version);
void ctl_key_destroyed(struct ctld *d, struct ctl_tenant *t, uint32_t version);
/* Lock or unlock, and set the automatic roll interval (days, 0: never). */
int ctl_tenant_set(struct ctld *d, struct ctl_tenant *t, bool locked,
		   unsigned roll_days);
void ctl_tenant_apply(struct ctld *d, struct ctl_tenant *t, bool locked,
		      unsigned roll_days);
int ctl_link_keys(void *ctx, const char *after, uint32_t after_version,
		  unsigned max, veil_link_emit_fn emit, void *arg);

/* keycache.c: the unwrapped versions kept, at most key_cache of them.
 * ctl_key_get: the key of a live version of t, unwrapped now if it is not
 * kept (the least recently used one is zeroized when the cache is full);
 * valid until the next call that may unwrap. NULL with errno ENOENT (not
 * live), EIO (does not unwrap), ENOMEM/EAGAIN/EPERM (locked memory). */
const struct veil_key *ctl_key_get(struct ctld *d, struct ctl_tenant *t,
				   uint32_t version);
/* Keep a key (the cache takes it, even on failure: -1). */
int ctl_key_cache_put(struct ctld *d, struct ctl_tenant *t, struct veil_key *k);
/* Zeroize a kept version (destroyed). */
void ctl_key_cache_drop(struct ctld *d, struct ctl_tenant *t, uint32_t version);
void ctl_key_cache_free(struct ctld *d);
/* Decrypt n tokens of tenant t: the versions kept first, then each other
 * version they name unwrapped once. Items of a version that is stored but
 * cannot be used now get E_INTERNAL; of one not live, E_VERSION. */
unsigned ctl_decrypt_tokens(struct ctld *d, struct ctl_tenant *t,
			    struct veil_item *items, size_t n);
/* veil-controld -n: the locked memory key_cache and an engine need, and
 * RLIMIT_MEMLOCK, as a line in msg; -1 if the limit is too small. */
int ctl_locked_need(const struct ctl_config *c, char *msg, size_t msglen);
/* tenants.c: the live versions of t, ascending, in *out (malloc'd). */
unsigned ctl_live_versions(struct ctld *d, struct ctl_tenant *t, uint32_t **out);

/* link_status.c: "dataplane_synced" and "dataplane" (the link) into @p a. */
void ctl_link_status_json(struct ctld *d, json_t *a);
/* The dataplane's upstreams and listeners as it last sent them: "upstreams"
 * and "listeners" of @p a. */
void ctl_link_rows_json(struct ctld *d, json_t *a);

/* settings.c: runtime settings (veilctl config set) */
struct ctl_setting_change {
	size_t off; /* of the unsigned in struct ctl_config */
	unsigned value;
};
int ctl_settings_load(struct ctld *d, char *err, size_t errlen);
json_t *ctl_settings_json(struct ctld *d);
/* Store (or with a JSON null, reset to the file's value) one setting in
 * the open transaction; what says what changes, or why not. After the
 * commit, ctl_setting_apply puts the change in effect. */
int ctl_setting_set(struct ctld *d, const char *name, const json_t *value,
		    struct ctl_setting_change *ch, char *what, size_t whatlen);
void ctl_setting_apply(struct ctld *d, const struct ctl_setting_change *ch);

/* norm.c (struct ctl_norms above struct ctld). */
/* Read the [source NAME] sections of path (NULL: none); -1 with
 * "file:line: [source NAME] message" on a bad value. */
int ctl_norms_load(struct ctl_norms *out, const char *path, char *err, size_t errlen);
void ctl_norms_free(struct ctl_norms *n);
/* The rules (bit r: rule r) of tenant's sources for kind; a tenant
 * without a source in the file: the name as typed (bit 0). */
unsigned ctl_norms_of(const struct ctl_norms *n, const char *tenant, enum veil_kind kind);
/* The tenants with a source that normalizes. */
unsigned ctl_norms_count(const struct ctl_norms *n);
bool ctl_norms_equal(const struct ctl_norms *a, const struct ctl_norms *b);

/* reload.c: read veil.conf again (SIGHUP). Roles and the file's settings
 * change (runtime settings stay over them), keys read only at start are
 * kept and reported; a file with an error changes nothing. Logs what
 * changed and writes a config.reload record. 0, or -1 if refused. */
int ctl_reload(struct ctld *d);

/* log.c: the daemon's messages: stderr, or syslog once ctl_log_to_syslog()
 * was called (without -f). */
void ctl_log_to_syslog(void);
void ctl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* api.c: one request in, one answer out (a new JSON object). */
/* The caller's role now: a database binding of its uid, else the
 * strongest database binding of its gid or a supplementary group, else
 * the same in the config file. */
enum veil_role ctl_role_of(struct ctld *d, const struct ctl_caller *who);
/* An error answer that says why; the refusal is in the governance log
 * (rate-limited per caller: see struct ctl_refusal). tenant may be NULL. */
json_t *ctl_refuse(struct ctld *d, const struct ctl_caller *who, const char *action,
		   const char *tenant, const char *why);
/* Record the counted refusals of every interval that has ended, or (all)
 * of every interval. */
void ctl_refusals_flush(struct ctld *d, bool all);
json_t *ctl_handle(struct ctld *d, const struct ctl_caller *who,
		   const char *msg, size_t len);
/* As ctl_handle; with the worker running, a request that may take long
 * (audit.show, audit.verify) is not answered: NULL, and *job is made for
 * ctl_worker_submit (slot and serial left to the caller). */
json_t *ctl_handle_job(struct ctld *d, const struct ctl_caller *who,
		       const char *msg, size_t len, struct ctl_job **job);
/* As ctl_handle_job, for a request the api process typed (privsep.h):
 * what the daemon runs; the JSON text forms above pass through the same
 * encoder and decoder in this process. */
struct ps_request;
json_t *ctl_handle_request(struct ctld *d, const struct ctl_caller *who,
			   const struct ps_request *r, struct ctl_job **job);
/* The query of an audit.show page for the filters of req (bound by
 * position: see api.c), newest first unless ascending. */
void ctl_audit_page_sql(char *sql, size_t cap, json_t *req, bool ascending,
			int n_actions);
/* The job that walks the whole chain (after a start from the mark). */
struct ctl_job *ctl_walk_job(void);
/* One step of the pruning housekeeping started; true while more is due
 * (the loop does not sleep then). */
bool ctl_prune_pass(struct ctld *d);

/* worker.c: the thread of long reads, with a reader connection of its
 * own. ctl_worker_fd is readable when a job is done; ctl_worker_done
 * gives the finished jobs, one a call, NULL when none is left. */
int ctl_worker_start(struct ctld *d, char *err, size_t errlen);
int ctl_worker_fd(struct ctld *d);
void ctl_worker_submit(struct ctld *d, struct ctl_job *j);
struct ctl_job *ctl_worker_done(struct ctld *d);
void ctl_worker_stop(struct ctld *d);
void ctl_job_free(struct ctl_job *j);
/* backup.c: backup.create (the state into the file the caller passed),
 * and the offline restore of veil-controld --restore: a backup into the
 * state directory of c, with the passphrase in pass_file or the recovery
 * RSA private key in key_file (refused when it holds state, unless force, or
 * when a daemon answers on c's socket), the chain verified against the
 * mark that came with it, the restore recorded (action backup.restore)
 * by who. 0, or -1; msg says what was done or why not. */
json_t *ctl_cmd_backup_create(struct ctld *d, const struct ctl_caller *who, json_t *req);
int ctl_backup_restore(const struct ctl_config *c, const char *file,
		       const char *pass_file, const char *key_file, bool force,
		       const struct ctl_recovery *who, char *msg, size_t msglen);
/* veil-controld --restore FILE (docs/keys.md): the options checked, then
 * ctl_backup_restore with the operator of c; what it did on stdout (or why
 * not on stderr). @return the exit status: 0, 1, or 2 for a usage error. */
int ctl_restore_command(const struct ctl_config *c, const char *file,
			const char *pass_file, const char *key_file, const char *reason,
			bool force);
/* admin_socket.c: the admin socket, listening (its directory made and
 * checked for socket_group), or -1 (logged); the peer's supplementary
 * groups (malloc'd, NULL and *n 0 when the kernel cannot say); a refusal
 * written to a caller that gets no slot. */
int ctl_admin_listen(const struct ctl_config *c);
gid_t *ctl_peer_groups(int fd, unsigned *n);
void ctl_refuse_now(int fd, const char *why);
/* masterkey.c: the master key file read again every
 * master_key_check_interval; a change of state is logged, recorded and
 * shown in status ("master_key", "master_key_since"). */
void ctl_master_check_tick(struct ctld *d);
const char *ctl_master_state(const struct ctld *d);
void ctl_master_status_json(struct ctld *d, json_t *a);
/* Destroy versions past the key retention. */
void ctl_housekeeping(struct ctld *d);

#endif
