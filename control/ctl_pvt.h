/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Internals of veil-controld: config, state store, key wrapping, audit. */
#ifndef VEIL_CTL_PVT_H
#define VEIL_CTL_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "veil_control.h"
#include "veil_crypto.h"

/* ---- config (config.c) ---- */

#define CTL_MAX_ROLES 64

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
	char link_name[49];
	unsigned key_retention_days;
	unsigned audit_retention_days;
	unsigned rate_limit_per_min;
	unsigned idle_timeout_s;       /* a connection without a request: closed */
	unsigned connections_per_uid;  /* open API connections of one uid */
	unsigned n_roles;
	struct ctl_role_binding roles[CTL_MAX_ROLES];
};

/* Load defaults, then the file (NULL: defaults only). On error returns -1
 * and writes "file:line: message" into err. */
int ctl_config_load(struct ctl_config *c, const char *path, char *err,
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

/* ---- state store (store.c) ---- */

struct ctl_store {
	sqlite3 *db;
	struct ctl_wrap *wrap;
	uint8_t *audit_key;   /* 32 bytes, locked memory */
	uint8_t last_mac[32]; /* of the newest audit record */
	int64_t last_seq;
	/* group commit (ctl_store_batch) */
	bool batch, txn, batch_failed;
	int64_t durable_seq;     /* the chain's head when the batch began */
	uint8_t durable_mac[32];
	uint64_t commits;        /* audit commits (fsyncs) since start */
};

int ctl_store_open(struct ctl_store *s, const struct ctl_config *c, char *err,
		   size_t errlen);
void ctl_store_close(struct ctl_store *s);
int64_t ctl_now(void);

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
};

/* Append one record, chained. Outside a batch it is durable (fsync'd) when
 * this returns 0; inside one, when ctl_store_sync returns 0. */
int ctl_audit_append(struct ctl_store *s, const struct ctl_audit_rec *r);
/* Group commit: turn batching on (records share one transaction) or off
 * (committing what is open). */
void ctl_store_batch(struct ctl_store *s, bool on);
/* Commit the open batch. -1 if this batch (or an earlier commit of it) was
 * lost: no answer that depended on its records may go out. */
int ctl_store_sync(struct ctl_store *s);
/* Walk the chain: 0 if intact, else the seq of the first bad record (and
 * what is wrong in why). */
int64_t ctl_audit_verify(struct ctl_store *s, int64_t *count, char *why,
			 size_t whylen);
/* Delete records older than the retention; keeps the chain verifiable. */
int ctl_audit_prune(struct ctl_store *s, int64_t before);

#endif
