/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The admin API: one JSON request in, one JSON answer out. Every field is
 * checked before use; every refusal and every action that touches a name or
 * a key is in the governance log, and an answer that carries names goes out
 * only after its record is durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "veil_clock.h"
#include "api_pvt.h"
#include "byok.h"
#include "privsep.h"


json_t *api_error(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *a = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	if (a == NULL) {
		/* the message quoted bytes of the request that are not UTF-8
		 * (or were cut inside a character): say it without them */
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		a = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	}
	return a;
}

json_t *api_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

bool api_in_groups(const struct ctl_caller *who, unsigned gid)
{
	if (who->gid == gid)
		return true;
	for (unsigned i = 0; i < who->n_groups; i++)
		if (who->groups[i] == gid)
			return true;
	return false;
}

enum veil_role ctl_role_of(struct ctld *d, const struct ctl_caller *who)
{
	sqlite3_stmt *st;
	enum veil_role role = VEIL_ROLE_NONE, r;
	/* the database (role grant) wins over the config file, a uid binding
	 * over group bindings; of several groups, the strongest role counts */
	if ((st = ctl_store_stmt(&d->store, "SELECT role, is_gid, id FROM roles WHERE "
				 "(is_gid=0 AND id=?) OR is_gid=1")) != NULL) {
		sqlite3_bind_int64(st, 1, who->uid);
		while (sqlite3_step(st) == SQLITE_ROW) {
			bool is_gid = sqlite3_column_int(st, 1) != 0;
			if ((is_gid && !api_in_groups(who, (unsigned)sqlite3_column_int64(st, 2))) ||
			    veil_role_parse((const char *)sqlite3_column_text(st, 0), &r) != 0)
				continue;
			if (!is_gid) {
				role = r;
				break;
			}
			if (r > role)
				role = r;
		}
		sqlite3_reset(st);
		if (role != VEIL_ROLE_NONE)
			return role;
	}
	for (unsigned i = 0; i < d->cfg.n_roles; i++)
		if (!d->cfg.roles[i].is_gid && d->cfg.roles[i].id == who->uid)
			return d->cfg.roles[i].role;
	for (unsigned i = 0; i < d->cfg.n_roles; i++)
		if (d->cfg.roles[i].is_gid && api_in_groups(who, d->cfg.roles[i].id) &&
		    d->cfg.roles[i].role > role)
			role = d->cfg.roles[i].role;
	return role;
}

/* ---- governance log helpers ---- */

int api_audit(struct ctld *d, const struct ctl_caller *who, const char *action,
		 const char *tenant, const char *tokens, const char *just,
		 const char *outcome)
{
	struct ctl_audit_rec r = {
		.uid = who->uid, .role = veil_role_name(who->role), .action = action,
		.tenant = tenant, .tokens = tokens, .justification = just,
		.outcome = outcome,
	};
	return ctl_audit_append(&d->store, &r);
}

/* The summary of a caller's counted refusals: "refused N times: WHY". */
static void refusal_record(struct ctld *d, struct ctl_refusal *r)
{
	char outcome[224];
	if (r->count > 0) {
		struct ctl_caller who = { .uid = r->uid, .role = r->role };
		snprintf(outcome, sizeof(outcome), "refused %u time%s: %s%s", r->count,
			 r->count == 1 ? "" : "s", r->why,
			 r->mixed_why ? " (and other reasons)" : "");
		api_audit(d, &who, r->mixed_action ? "refusals" : r->action,
		      r->mixed_tenant || !r->tenant[0] ? NULL : r->tenant, NULL, NULL,
		      outcome);
	}
	r->used = false;
}

void ctl_refusals_flush(struct ctld *d, bool all)
{
	int64_t now = ctl_now();
	for (unsigned i = 0; i < CTLD_REFUSERS; i++) {
		struct ctl_refusal *r = &d->refusals[i];
		if (r->used && (all || now - r->since >= CTLD_REFUSAL_INTERVAL_MS ||
				now < r->since))
			refusal_record(d, r);
	}
}

static void set_refusal(struct ctl_refusal *r, const char *action, const char *tenant,
			const char *why)
{
	snprintf(r->action, sizeof(r->action), "%s", action);
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant ? tenant : "");
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->mixed_action = r->mixed_tenant = r->mixed_why = false;
}

json_t *ctl_refuse(struct ctld *d, const struct ctl_caller *who, const char *action,
		   const char *tenant, const char *why)
{
	int64_t now = ctl_now();
	struct ctl_refusal *r = NULL, *oldest = NULL, *free_slot = NULL;
	for (unsigned i = 0; i < CTLD_REFUSERS && r == NULL; i++) {
		struct ctl_refusal *e = &d->refusals[i];
		if (!e->used)
			free_slot = free_slot ? free_slot : e;
		else if (e->uid == who->uid)
			r = e;
		else if (oldest == NULL || e->since < oldest->since)
			oldest = e;
	}
	/* an interval that has ended is recorded first: the count of the
	 * last one is never lost, and this refusal begins a new one */
	if (r != NULL && (now - r->since >= CTLD_REFUSAL_INTERVAL_MS || now < r->since))
		refusal_record(d, r);
	if (r != NULL && r->used) {
		r->role = who->role;
		if (r->count++ == 0) {
			/* the summary describes the counted refusals: the first
			 * of them, and whether the others differ */
			set_refusal(r, action, tenant, why);
			return api_error("%s", why);
		}
		r->mixed_action |= strcmp(r->action, action) != 0;
		r->mixed_tenant |= strcmp(r->tenant, tenant ? tenant : "") != 0;
		/* the same reason with other figures (tokens left, a size) is
		 * the same reason: compare what comes before the first ':' */
		size_t k = strcspn(r->why, ":");
		r->mixed_why |= strncmp(r->why, why, k) != 0 || (why[k] != ':' && why[k] != '\0');
		return api_error("%s", why);
	}
	if (r == NULL) {
		/* more callers refused at once than the table holds: the one
		 * refused longest ago has its count recorded now */
		r = free_slot;
		if (r == NULL) {
			r = oldest;
			refusal_record(d, r);
		}
	}
	*r = (struct ctl_refusal){ .used = true, .uid = who->uid, .since = now,
				   .role = who->role };
	char outcome[192];
	snprintf(outcome, sizeof(outcome), "refused: %s", why);
	api_audit(d, who, action, tenant, NULL, NULL, outcome);
	return api_error("%s", why);
}

json_t *api_refuse(struct ctld *d, const struct ctl_caller *who,
		      const char *cmd, const char *tenant, const char *why)
{
	return ctl_refuse(d, who, cmd, tenant, why);
}

/* ---- state changes: the change and its record in one transaction ---- */

/* A record of a caller's, or with who NULL, of controld's own (the
 * housekeeping): role "system", uid 0. */
int api_record(struct ctld *d, const struct ctl_caller *who, const char *action,
		  const char *tenant, const char *just, const char *outcome)
{
	struct ctl_audit_rec r = {
		.uid = who ? who->uid : 0,
		.role = who ? veil_role_name(who->role) : "system",
		.action = action, .tenant = tenant, .justification = just,
		.outcome = outcome,
	};
	return ctl_audit_append(&d->store, &r);
}

/* Append the change's record to its open transaction (ctl_store_begin)
 * and commit both; -1: neither is kept. */
int api_commit_change(struct ctld *d, const struct ctl_caller *who,
			 const char *action, const char *tenant, const char *just,
			 const char *outcome)
{
	if (api_record(d, who, action, tenant, just, outcome) != 0) {
		ctl_store_abort(&d->store);
		return -1;
	}
	return ctl_store_commit(&d->store);
}

/* The change did not commit: say so in the log, and to the caller. */
void api_rolled_back(struct ctld *d)
{
	ctl_log("governance log commit failed: %s; the change was rolled back",
	     sqlite3_errmsg(d->store.db));
}

json_t *api_not_changed(struct ctld *d)
{
	api_rolled_back(d);
	return api_error("the governance log cannot be written: nothing was changed");
}

/* A committed key version the keyring did not take (it cannot happen
 * short of a bug: ctl_key_stage checks the ring's room). */
void api_not_live(const char *tenant, uint32_t version)
{
	ctl_log("tenant %s: key version %u is stored but not in memory (%s); "
	     "restart veil-controld to load it", tenant, version, strerror(errno));
}

/* The change failed on its own (not the log's fault): roll it back and
 * record the failure (committed with the batch). */
void api_change_failed(struct ctld *d, const struct ctl_caller *who,
			  const char *action, const char *tenant, const char *outcome)
{
	ctl_store_abort(&d->store);
	api_record(d, who, action, tenant, NULL, outcome);
}

/* ---- field checks ---- */

const char *api_get_str(json_t *req, const char *key, size_t max)
{
	json_t *v = json_object_get(req, key);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max)
		return NULL;
	/* no NUL inside: it would cut the string short */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* One wording for a bad tenant id, whatever was wrong with it. */
json_t *api_bad_tenant(json_t *req)
{
	json_t *v = json_object_get(req, "tenant");
	return api_error("bad tenant id \"%.80s\": 1 to %d of a-z 0-9 . _ -",
		     json_is_string(v) ? json_string_value(v) : "", VEIL_TENANT_MAX);
}

bool api_justification_ok(const char *j)
{
	size_t n = 0;
	for (; j != NULL && *j; j++)
		n += *j != ' ' && *j != '\t';
	return n >= MIN_JUSTIFICATION;
}

/* rate_limit counts what a caller resolves or looks up per minute: each
 * token of a resolve (a bulk of N counts N) and each lookup. A request
 * over what is left is refused whole; why says what is left. */
bool api_rate_ok(struct ctld *d, unsigned uid, unsigned cost, bool lookup,
		    char *why, size_t whylen)
{
	int64_t minute = ctl_now() / VEIL_MS_PER_MINUTE;
	unsigned limit = d->cfg.rate_limit_per_min;
	struct ctl_rate *r = NULL, *stale = NULL;
	for (unsigned i = 0; i < d->n_rates && r == NULL; i++)
		if (d->rates[i].uid == uid)
			r = &d->rates[i];
		else if (d->rates[i].window != minute && stale == NULL)
			stale = &d->rates[i];
	if (r == NULL) {
		if (stale != NULL)
			r = stale; /* a window that has ended: nothing to keep */
		else if (d->n_rates < CTLD_MAX_CLIENTS)
			r = &d->rates[d->n_rates++];
		else /* more callers in one minute than the table holds */
			r = &d->rates[uid % CTLD_MAX_CLIENTS];
		*r = (struct ctl_rate){ uid, minute, 0 };
	}
	if (r->window != minute) {
		r->window = minute;
		r->used = 0;
	}
	unsigned left = r->used < limit ? limit - r->used : 0;
	if (cost > left) {
		char what[48];
		if (lookup)
			snprintf(what, sizeof(what), "a lookup counts 1");
		else
			snprintf(what, sizeof(what), "this request has %u token%s", cost,
				 cost == 1 ? "" : "s");
		snprintf(why, whylen, "rate limit reached: %s, %u of rate_limit (%u "
			 "tokens per minute) %s left; %s", what, left, limit,
			 left == 1 ? "is" : "are",
			 cost > limit ? "split the request (or raise rate_limit)"
				      : "try again in the next minute or with fewer tokens");
		return false;
	}
	r->used += cost;
	return true;
}

/* ---- commands ---- */

static json_t *cmd_status(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)req;
	json_t *a = api_ok();
	json_object_set_new(a, "version", json_string("0.1.0"));
	json_object_set_new(a, "uptime_s", json_integer((ctl_now() - d->started) / 1000));
	json_object_set_new(a, "tenants", json_integer(d->n_tenants - d->n_deleted));
	json_object_set_new(a, "requests", json_integer((json_int_t)d->requests));
	json_object_set_new(a, "role", json_string(veil_role_name(who->role)));
	json_object_set_new(a, "crypto", json_string(veil_engine_name(d->engine)));
	json_object_set_new(a, "audit_records", json_integer(d->store.last_seq));
	json_object_set_new(a, "audit_commits", json_integer((json_int_t)d->store.commits));
	uint64_t ckpts, pruned;
	ctl_store_keeper_counts(&d->store, &ckpts, &pruned);
	json_object_set_new(a, "wal_checkpoints", json_integer((json_int_t)ckpts));
	json_object_set_new(a, "audit_pruned", json_integer((json_int_t)pruned));
	/* a start from the mark: the whole chain is walked behind it */
	json_object_set_new(a, "audit_chain_walking", json_boolean(d->chain_walking));
	json_object_set_new(a, "errors", json_integer((json_int_t)d->errors));
	ctl_master_status_json(d, a);
	ctl_link_status_json(d, a);
	ctl_link_rows_json(d, a);
	return a;
}

/* The counters the dataplane's workers sent up the link (latest of each). */
static json_t *cmd_stats(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	(void)req;
	json_t *workers = json_array();
	uint64_t sum[VEIL_LINK_NCOUNTERS] = { 0 };
	for (unsigned w = 0; d->link != NULL && w < 64; w++) {
		const struct veil_link_worker_counters *c =
			veil_link_server_counters(d->link, w);
		if (c == NULL)
			continue;
		json_t *cs = json_object(), *drops = json_object();
		for (unsigned i = 0; i < c->n && i < VEIL_LINK_CTR_COUNT; i++) {
			json_t *v = json_integer((json_int_t)c->value[i]);
			json_object_set_new(i >= VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT ? drops : cs,
					    veil_link_counter_name(i), v);
			sum[i] += c->value[i];
		}
		json_object_set_new(cs, "dropped", drops);
		json_array_append_new(workers, json_pack("{s:i, s:I, s:o}", "worker", (int)w,
							 "updated_ms", (json_int_t)c->updated_ms,
							 "counters", cs));
	}
	json_t *tot = json_object(), *drops = json_object();
	for (unsigned i = 0; i < VEIL_LINK_CTR_COUNT; i++)
		json_object_set_new(i >= VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT ? drops : tot,
				    veil_link_counter_name(i), json_integer((json_int_t)sum[i]));
	json_object_set_new(tot, "dropped", drops);
	json_t *a = api_ok();
	ctl_link_status_json(d, a);
	json_object_set_new(a, "link", json_string(d->cfg.link_socket));
	json_object_set_new(a, "workers", workers);
	json_object_set_new(a, "totals", tot);
	ctl_link_rows_json(d, a);
	return a;
}

static json_t *cmd_tenant_create(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *id = api_get_str(req, "tenant", VEIL_TENANT_MAX);
	struct ctl_new_tenant nt;
	char err[160];
	if (id == NULL || !veil_tenant_valid(id))
		return api_bad_tenant(req);
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	/* no first key, no tenant: its row goes with the transaction */
	if (ctl_tenant_create(d, id, &nt, err, sizeof(err)) != 0) {
		api_change_failed(d, who, "tenant.create", id, "failed");
		return api_error("%s", err);
	}
	if (api_commit_change(d, who, "tenant.create", id, NULL, "ok: key version 1") != 0) {
		ctl_tenant_drop(&nt);
		return api_not_changed(d);
	}
	if (ctl_tenant_add(d, &nt) != 0)
		api_not_live(id, 1);
	json_t *a = api_ok();
	json_object_set_new(a, "tenant", json_string(id));
	json_object_set_new(a, "version", json_integer(1));
	return a;
}

static json_t *tenant_json(struct ctld *d, struct ctl_tenant *t)
{
	sqlite3_stmt *st;
	json_t *versions = json_array();
	if (sqlite3_prepare_v2(d->store.db, "SELECT version, created, destroyed FROM keys "
			       "WHERE tenant=? ORDER BY version", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			uint32_t v = (uint32_t)sqlite3_column_int64(st, 0);
			json_t *o = json_pack("{s:i, s:I, s:b, s:b}", "version", (int)v,
					      "created_ms", (json_int_t)sqlite3_column_int64(st, 1),
					      "current", v == t->current,
					      "live", sqlite3_column_type(st, 2) == SQLITE_NULL);
			if (sqlite3_column_type(st, 2) != SQLITE_NULL)
				json_object_set_new(o, "destroyed_ms",
						    json_integer(sqlite3_column_int64(st, 2)));
			json_array_append_new(versions, o);
		}
		sqlite3_finalize(st);
	}
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:o}", "tenant", t->id,
			      "state", t->locked ? "locked" : "active",
			      "current_version", (int)t->current,
			      "roll_days", (int)t->roll_days, "versions", versions);
	json_t *byok = ctl_byok_json(d, t);
	if (byok != NULL)
		json_object_set_new(o, "byok", byok);
	return o;
}

static json_t *cmd_tenant_list(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	(void)req;
	json_t *list = json_array();
	for (unsigned i = 0; i < d->n_tenants; i++)
		if (d->tenants[i].id[0] != '\0') /* not a deleted one */
			json_array_append_new(list, tenant_json(d, &d->tenants[i]));
	json_t *a = api_ok();
	json_object_set_new(a, "tenants", list);
	return a;
}

struct ctl_tenant *api_tenant_arg(struct ctld *d, json_t *req, json_t **err)
{
	const char *id = api_get_str(req, "tenant", VEIL_TENANT_MAX);
	struct ctl_tenant *t = id && veil_tenant_valid(id) ? ctl_tenant_find(d, id) : NULL;
	if (id == NULL || !veil_tenant_valid(id))
		*err = api_bad_tenant(req);
	else if (t == NULL)
		*err = api_error("no tenant \"%s\"", id);
	return t;
}

static json_t *cmd_tenant_show(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	if (t == NULL)
		return err;
	json_t *a = api_ok();
	json_object_set_new(a, "tenant", tenant_json(d, t));
	return a;
}

/* Lock/unlock a tenant (a locked tenant's tokens are not resolved or
 * looked up, and its dataplane traffic follows the tenant's lock policy),
 * and set its automatic roll interval. */
static json_t *cmd_tenant_set(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	if (t == NULL)
		return err;
	json_t *state = json_object_get(req, "state"), *roll = json_object_get(req, "roll_days");
	if (state == NULL && roll == NULL)
		return api_error("give \"state\" (active or locked) or \"roll_days\"");
	bool locked = t->locked;
	unsigned roll_days = t->roll_days;
	if (state != NULL) {
		const char *st = json_string_value(state);
		if (st == NULL || (strcmp(st, "active") && strcmp(st, "locked")))
			return api_error("\"state\" must be \"active\" or \"locked\"");
		locked = !strcmp(st, "locked");
	}
	if (roll != NULL) {
		if (!json_is_integer(roll) || json_integer_value(roll) < 0 ||
		    json_integer_value(roll) > 3650)
			return api_error("\"roll_days\" must be a number of days from 0 "
				     "(never) to 3650");
		roll_days = (unsigned)json_integer_value(roll);
	}
	char outcome[128];
	snprintf(outcome, sizeof(outcome), "state %s -> %s, roll_days %u -> %u",
		 t->locked ? "locked" : "active", locked ? "locked" : "active",
		 t->roll_days, roll_days);
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	if (ctl_tenant_set(d, t, locked, roll_days) != 0) {
		json_t *e = api_error("database: %s", sqlite3_errmsg(d->store.db));
		api_change_failed(d, who, "tenant.change", t->id, "failed");
		return e;
	}
	char full[160];
	snprintf(full, sizeof(full), "ok: %s", outcome);
	if (api_commit_change(d, who, "tenant.change", t->id, NULL, full) != 0)
		return api_not_changed(d);
	ctl_tenant_apply(d, t, locked, roll_days);
	json_t *a = api_ok();
	json_object_set_new(a, "tenant", tenant_json(d, t));
	return a;
}

static json_t *cmd_key_roll(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	struct ctl_new_key nk;
	char outcome[64];
	if (t == NULL)
		return err;
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	int rc = ctl_key_stage(d, t->id, t->current, &nk);
	if (rc != 0) {
		api_change_failed(d, who, "key.roll", t->id, "failed");
		if (rc == -2)
			return api_error("%s has %u live key versions, the most there can "
				     "be (max_live_versions in veil.conf): destroy old "
				     "ones first", t->id, d->cfg.max_live_versions);
		return api_error("cannot make a new key version");
	}
	uint32_t v = nk.version;
	snprintf(outcome, sizeof(outcome), "ok: version %u is current", v);
	if (api_commit_change(d, who, "key.roll", t->id, NULL, outcome) != 0) {
		ctl_key_drop(&nk); /* zeroized: it never existed */
		return api_not_changed(d);
	}
	if (ctl_key_live(d, t, &nk) != 0)
		api_not_live(t->id, v);
	json_t *a = api_ok();
	json_object_set_new(a, "version", json_integer(v));
	return a;
}

static json_t *cmd_key_destroy(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = api_tenant_arg(d, req, &err);
	json_t *v = json_object_get(req, "version");
	char outcome[96];
	if (t == NULL)
		return err;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > UINT32_MAX)
		return api_error("\"version\" must be a key version");
	uint32_t ver = (uint32_t)json_integer_value(v);
	/* it cannot be undone: the caller says why, as for a resolve */
	const char *reason = api_get_str(req, "reason", 4096);
	if (!api_justification_ok(reason))
		return api_error("\"reason\" must say why in a sentence (at least %d "
			     "non-blank characters): a destroyed key version cannot "
			     "be brought back", MIN_JUSTIFICATION);
	if (ver == t->current)
		return api_error("version %u is current: roll first", ver);
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	if (ctl_key_destroy(d, t, ver) != 0) {
		ctl_store_abort(&d->store);
		return api_error("version %u is not a live version of %s", ver, t->id);
	}
	snprintf(outcome, sizeof(outcome), "ok: version %u destroyed by an admin", ver);
	if (api_commit_change(d, who, "key.destroy", t->id, reason, outcome) != 0)
		return api_not_changed(d);
	ctl_key_destroyed(d, t, ver);
	bool shredded = ctl_store_shred(&d->store) == 0;
	if (!shredded)
		ctl_log("shredding %s version %u: the WAL could not be truncated (%s); "
		     "retrying at the next housekeeping", t->id, ver,
		     sqlite3_errmsg(d->store.db));
	json_t *a = api_ok();
	json_object_set_new(a, "shredded", json_boolean(shredded));
	return a;
}

static json_t *cmd_role_list(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	(void)req;
	json_t *list = json_array();
	for (unsigned i = 0; i < d->cfg.n_roles; i++)
		json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:s}",
			"type", d->cfg.roles[i].is_gid ? "gid" : "uid",
			"id", (int)d->cfg.roles[i].id,
			"role", veil_role_name(d->cfg.roles[i].role), "source", "config"));
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT is_gid, id, role FROM roles ORDER BY is_gid, id",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(list, json_pack("{s:s, s:I, s:s, s:s, s:o}",
				"type", sqlite3_column_int(st, 0) ? "gid" : "uid",
				"id", (json_int_t)sqlite3_column_int64(st, 1),
				"role", (const char *)sqlite3_column_text(st, 2),
				"source", "database", "tenants",
				ctl_scope_json(d, sqlite3_column_int(st, 0) != 0,
					       sqlite3_column_int64(st, 1))));
		sqlite3_finalize(st);
	}
	json_t *a = api_ok();
	json_object_set_new(a, "roles", list);
	return a;
}

static json_t *cmd_role_change(struct ctld *d, const struct ctl_caller *who, json_t *req,
			       bool grant)
{
	json_t *uid = json_object_get(req, "uid"), *gid = json_object_get(req, "gid");
	const char *role_s = grant ? api_get_str(req, "role", 32) : NULL;
	const char *scope = grant ? api_get_str(req, "tenant", VEIL_TENANT_MAX) : NULL;
	enum veil_role role = VEIL_ROLE_NONE;
	char what[192];
	if ((uid == NULL) == (gid == NULL))
		return api_error("give one of \"uid\" or \"gid\"");
	json_t *id = uid ? uid : gid;
	if (!json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_integer_value(id) > 0xfffffffe)
		return api_error("\"%s\" must be a number", uid ? "uid" : "gid");
	if (grant && veil_role_parse(role_s, &role) != 0)
		return api_error("\"role\" must be reader, investigator or admin");
	if (scope != NULL && ctl_tenant_find(d, scope) == NULL)
		return api_error("no tenant \"%s\" to scope the role to", scope);
	sqlite3_stmt *st;
	const char *sql = grant ? "INSERT OR REPLACE INTO roles(is_gid, id, role) VALUES(?,?,?)"
				: "DELETE FROM roles WHERE is_gid=? AND id=?";
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL)) {
		json_t *e = api_error("database: %s", sqlite3_errmsg(d->store.db));
		ctl_store_abort(&d->store);
		return e;
	}
	sqlite3_bind_int(st, 1, gid != NULL);
	sqlite3_bind_int64(st, 2, json_integer_value(id));
	if (grant)
		sqlite3_bind_text(st, 3, veil_role_name(role), -1, SQLITE_STATIC);
	int okk = sqlite3_step(st) == SQLITE_DONE;
	int changed = sqlite3_changes(d->store.db);
	sqlite3_finalize(st);
	okk = okk && ctl_scope_set(d, gid != NULL, json_integer_value(id), scope, grant) == 0;
	if (!okk) {
		json_t *e = api_error("database: %s", sqlite3_errmsg(d->store.db));
		ctl_store_abort(&d->store);
		return e;
	}
	snprintf(what, sizeof(what), "%s %s:%lld%s%s%s%s", grant ? "granted" : "revoked",
		 uid ? "uid" : "gid", (long long)json_integer_value(id),
		 grant ? " " : "", grant ? veil_role_name(role) : "",
		 scope ? " for tenant " : "", scope ? scope : "");
	if (!grant && changed == 0) {
		ctl_store_abort(&d->store);
		return api_error("no database role binding for %s:%lld (config file "
			     "bindings change in the file)", uid ? "uid" : "gid",
			     (long long)json_integer_value(id));
	}
	if (api_commit_change(d, who, grant ? "role.grant" : "role.revoke", NULL, NULL,
			  what) != 0)
		return api_not_changed(d);
	/* the answer says what was bound, as the record does */
	json_t *a = api_ok();
	json_object_set_new(a, uid ? "uid" : "gid", json_integer(json_integer_value(id)));
	if (grant)
		json_object_set_new(a, "role", json_string(veil_role_name(role)));
	if (grant)
		json_object_set_new(a, "tenants", ctl_scope_json(d, gid != NULL,
								 json_integer_value(id)));
	return a;
}

static json_t *cmd_config_show(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	(void)req;
	json_t *a = api_ok();
	json_object_set_new(a, "settings", ctl_settings_json(d));
	json_object_set_new(a, "config_file", json_string(d->cfg.path[0] ? d->cfg.path
							   : "(built-in defaults)"));
	return a;
}

static json_t *cmd_config_set(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *name = api_get_str(req, "name", 64);
	json_t *value = json_object_get(req, "value");
	struct ctl_setting_change ch;
	char what[160], outcome[176];
	if (name == NULL || value == NULL)
		return api_error("give \"name\" and \"value\" (a number, or null to "
			     "reset to veil.conf's value)");
	if (ctl_store_begin(&d->store) != 0)
		return api_not_changed(d);
	if (ctl_setting_set(d, name, value, &ch, what, sizeof(what)) != 0) {
		ctl_store_abort(&d->store);
		return api_error("%s", what);
	}
	snprintf(outcome, sizeof(outcome), "ok: %s", what);
	if (api_commit_change(d, who, "config.change", NULL, NULL, outcome) != 0)
		return api_not_changed(d);
	ctl_setting_apply(d, &ch);
	json_t *a = api_ok();
	json_object_set_new(a, "settings", ctl_settings_json(d));
	return a;
}

static json_t *cmd_role_grant(struct ctld *d, const struct ctl_caller *w, json_t *r)
{
	return cmd_role_change(d, w, r, true);
}

static json_t *cmd_role_revoke(struct ctld *d, const struct ctl_caller *w, json_t *r)
{
	return cmd_role_change(d, w, r, false);
}

static const struct command {
	const char *name;
	enum veil_role need;
	json_t *(*fn)(struct ctld *, const struct ctl_caller *, json_t *);
	/* changes keys, tenants, roles or settings: commits the change with
	 * its record in a transaction of its own (ctl_store_begin), outside
	 * the group commit of resolves and lookups, before it answers */
	bool changes_state;
	/* or a read that may take long: run by the worker, on its own
	 * connection, while the loop serves the others */
	json_t *(*read)(struct ctl_store *, json_t *);
} commands[] = {
	{ "status", VEIL_ROLE_READER, cmd_status, false, NULL },
	{ "stats", VEIL_ROLE_READER, cmd_stats, false, NULL },
	{ "tenant.create", VEIL_ROLE_ADMIN, cmd_tenant_create, true, NULL },
	{ "tenant.list", VEIL_ROLE_READER, cmd_tenant_list, false, NULL },
	{ "tenant.show", VEIL_ROLE_READER, cmd_tenant_show, false, NULL },
	{ "tenant.set", VEIL_ROLE_ADMIN, cmd_tenant_set, true, NULL },
	{ "tenant.byok", VEIL_ROLE_ADMIN, ctl_cmd_tenant_byok, true, NULL },
	{ "tenant.export", VEIL_ROLE_ADMIN, ctl_cmd_tenant_export, true, NULL },
	{ "tenant.delete", VEIL_ROLE_ADMIN, ctl_cmd_tenant_delete, true, NULL },
	{ "key.list", VEIL_ROLE_READER, cmd_tenant_show, false, NULL },
	{ "key.roll", VEIL_ROLE_ADMIN, cmd_key_roll, true, NULL },
	{ "key.destroy", VEIL_ROLE_ADMIN, cmd_key_destroy, true, NULL },
	{ "resolve", VEIL_ROLE_INVESTIGATOR, cmd_resolve, false, NULL },
	{ "lookup", VEIL_ROLE_INVESTIGATOR, cmd_lookup, false, NULL },
	{ "audit.show", VEIL_ROLE_READER, NULL, false, read_audit_show },
	{ "audit.tokens", VEIL_ROLE_READER, cmd_audit_tokens, false, NULL },
	{ "audit.verify", VEIL_ROLE_READER, NULL, false, read_audit_verify },
	{ "role.list", VEIL_ROLE_READER, cmd_role_list, false, NULL },
	{ "role.grant", VEIL_ROLE_ADMIN, cmd_role_grant, true, NULL },
	{ "role.revoke", VEIL_ROLE_ADMIN, cmd_role_revoke, true, NULL },
	{ "config.show", VEIL_ROLE_READER, cmd_config_show, false, NULL },
	{ "config.set", VEIL_ROLE_ADMIN, cmd_config_set, true, NULL },
	{ "backup.create", VEIL_ROLE_ADMIN, ctl_cmd_backup_create, true, NULL },
};

json_t *ctl_handle(struct ctld *d, const struct ctl_caller *who, const char *msg,
		   size_t len)
{
	return ctl_handle_job(d, who, msg, len, NULL);
}

/* A read for the worker: NULL (and *job) when it takes it. */
static json_t *run_read(struct ctld *d, const struct command *c, json_t *req,
			struct ctl_job **job)
{
	if (job == NULL || d->worker == NULL)
		return c->read(&d->store, req);
	*job = calloc(1, sizeof(**job));
	if (*job == NULL)
		return api_error("out of memory");
	(*job)->fn = c->read;
	(*job)->req = json_incref(req);
	return NULL;
}

/* In one process (the fuzz target, the tests, the daemon's own
 * requests): the request goes through the api process's encoder and the
 * key process's decoder, as a caller's does between the two processes. */
json_t *ctl_handle_job(struct ctld *d, const struct ctl_caller *who, const char *msg,
		       size_t len, struct ctl_job **job)
{
	uint8_t *m;
	size_t mlen;
	struct ps_request r;
	char why[128];
	if (job != NULL)
		*job = NULL;
	if (ps_encode(msg, len, 0, &m, &mlen) != 0) {
		d->requests++;
		d->errors++;
		return api_error("out of memory");
	}
	int rc = ps_decode(m, mlen, &r, why, sizeof(why));
	explicit_bzero(m, mlen);
	free(m);
	if (rc != 0) { /* the encoder wrote what the decoder refuses: a bug */
		d->requests++;
		d->errors++;
		return api_error("internal error: %s", why);
	}
	json_t *a = ctl_handle_request(d, who, &r, job);
	ps_request_free(&r);
	return a;
}

/* One request as the api process typed it (r->req was built by the
 * decoder, never parsed here); the role and the tenant's scope are checked
 * before the api process's refusal is given, as before the split. */
json_t *ctl_handle_request(struct ctld *d, const struct ctl_caller *who,
			   const struct ps_request *r, struct ctl_job **job)
{
	if (job != NULL)
		*job = NULL;
	d->requests++;
	json_t *req = json_incref(r->req);
	const char *cmd = r->method >= 0 ? ps_methods[r->method].name : NULL;
	json_t *ans = NULL;
	if (cmd == NULL) {
		ans = api_error("%s", r->err ? r->err : "no command");
		goto out;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name) != 0)
			continue;
		if (who->role < commands[i].need) {
			char why[128];
			if (who->role == VEIL_ROLE_NONE)
				snprintf(why, sizeof(why), "permission denied: uid %u has "
					 "no role", who->uid);
			else
				snprintf(why, sizeof(why), "permission denied: %s needs "
					 "role %s", cmd, veil_role_name(commands[i].need));
			const char *t = api_get_str(req, "tenant", VEIL_TENANT_MAX);
			ans = api_refuse(d, who, cmd, t, why);
		} else if (api_get_str(req, "tenant", VEIL_TENANT_MAX) != NULL &&
			   !ctl_scope_allows(d, who, api_get_str(req, "tenant", VEIL_TENANT_MAX))) {
			char why[128];
			snprintf(why, sizeof(why), "permission denied: uid %u's role is "
				 "scoped to other tenants (role list)", who->uid);
			ans = api_refuse(d, who, cmd, api_get_str(req, "tenant", VEIL_TENANT_MAX), why);
		} else if (r->err != NULL) {
			ans = api_error("%s", r->err);
		} else if (commands[i].changes_state) {
			ans = commands[i].fn(d, who, req);
			/* a change that did not commit leaves nothing behind */
			ctl_store_abort(&d->store);
		} else if (commands[i].read != NULL) {
			ans = run_read(d, &commands[i], req, job);
			if (ans == NULL) {
				json_decref(req);
				return NULL; /* the worker answers */
			}
		} else
			ans = commands[i].fn(d, who, req);
		goto out;
	}
	ans = api_error("unknown command \"%.32s\"", cmd);
out:
	json_decref(req);
	if (!json_is_true(json_object_get(ans, "ok")))
		d->errors++;
	return ans;
}
