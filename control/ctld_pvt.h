/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veil-controld's own state, shared by its .c files. */
#ifndef VEIL_CTLD_PVT_H
#define VEIL_CTLD_PVT_H

#include <jansson.h>

#include "ctl_pvt.h"
#include "veil_link.h"

#define CTLD_MAX_TENANTS 1024
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
	struct veil_keyring *ring;
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

struct ctld {
	struct ctl_config cfg;      /* in effect: the file and runtime settings */
	struct ctl_config file_cfg; /* as veil.conf says */
	struct ctl_store store;
	struct veil_engine *engine;
	struct veil_link_server *link;
	unsigned n_tenants;
	struct ctl_tenant tenants[CTLD_MAX_TENANTS];
	unsigned n_rates;
	struct ctl_rate rates[CTLD_MAX_CLIENTS];
	struct ctl_refusal refusals[CTLD_REFUSERS];
	int64_t started;
	uint64_t requests, errors;
};

/* The caller of one request: its credentials as the socket gives them
 * (SO_PEERCRED, SO_PEERGROUPS), and its role as of this request. */
struct ctl_caller {
	unsigned uid, gid;
	int pid;
	enum veil_role role;
	const gid_t *groups; /* supplementary groups */
	unsigned n_groups;
};

/* tenants.c */
struct ctl_tenant *ctl_tenant_find(struct ctld *d, const char *id);
int ctl_tenants_load(struct ctld *d, char *err, size_t errlen);
int ctl_tenant_create(struct ctld *d, const char *id, char *err, size_t errlen);
int ctl_key_new_version(struct ctld *d, struct ctl_tenant *t, uint32_t *version);
int ctl_key_destroy(struct ctld *d, struct ctl_tenant *t, uint32_t version);
/* Lock or unlock, and set the automatic roll interval (days, 0: never). */
int ctl_tenant_set(struct ctld *d, struct ctl_tenant *t, bool locked,
		   unsigned roll_days);
int ctl_link_keys(void *ctx, veil_link_emit_fn emit, void *arg);

/* settings.c: runtime settings (veilctl config set) */
int ctl_settings_load(struct ctld *d, char *err, size_t errlen);
json_t *ctl_settings_json(struct ctld *d);
/* Set (or with a JSON null, reset to the file's value) one setting; what
 * says what changed, or why not. */
int ctl_setting_set(struct ctld *d, const char *name, const json_t *value,
		    char *what, size_t whatlen);

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
/* Destroy versions past the key retention. */
void ctl_housekeeping(struct ctld *d);

#endif
