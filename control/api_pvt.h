/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The admin API's own helpers, shared by its files: api.c (roles,
 * refusals, the commands that change state, the dispatch), api_resolve.c,
 * api_audit.c, api_house.c. */
#ifndef VEIL_API_PVT_H
#define VEIL_API_PVT_H

#include "ctld_pvt.h"

#define MIN_JUSTIFICATION 8
#define STR_(x) #x
#define STR(x) STR_(x)
/* what a refusal for a missing or short justification says */
#define JUSTIFICATION_RULE "a justification of at least " STR(MIN_JUSTIFICATION) \
	" characters is required"

/* answers */
json_t *api_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *api_ok(void);
const char *api_get_str(json_t *req, const char *key, size_t max);
json_t *api_bad_tenant(json_t *req);
bool api_justification_ok(const char *j);
bool api_rate_ok(struct ctld *d, unsigned uid, unsigned cost, bool lookup,
	char *why, size_t whylen);
int api_audit(struct ctld *d, const struct ctl_caller *who, const char *action,
	const char *tenant, const char *tokens, const char *just,
	const char *outcome);
json_t *api_refuse(struct ctld *d, const struct ctl_caller *who,
	const char *cmd, const char *tenant, const char *why);
/* the caller is in group @p gid (its own, or a supplementary one) */
bool api_in_groups(const struct ctl_caller *who, unsigned gid);
int api_record(struct ctld *d, const struct ctl_caller *who, const char *action,
	const char *tenant, const char *just, const char *outcome);
int api_commit_change(struct ctld *d, const struct ctl_caller *who,
	const char *action, const char *tenant, const char *just,
	const char *outcome);
void api_rolled_back(struct ctld *d);
void api_change_failed(struct ctld *d, const struct ctl_caller *who,
	const char *action, const char *tenant, const char *outcome);
void api_not_live(const char *tenant, uint32_t version);
struct ctl_tenant *api_tenant_arg(struct ctld *d, json_t *req, json_t **err);
json_t *api_not_changed(struct ctld *d);

/* the commands of the other files (the table is in api.c) */
json_t *cmd_resolve(struct ctld *d, const struct ctl_caller *who, json_t *req);
json_t *cmd_lookup(struct ctld *d, const struct ctl_caller *who, json_t *req);
json_t *cmd_audit_tokens(struct ctld *d, const struct ctl_caller *who, json_t *req);
/* reads that may take long: the worker runs them on its own connection */
json_t *read_audit_show(struct ctl_store *store, json_t *req);
json_t *read_audit_verify(struct ctl_store *store, json_t *req);

#endif
