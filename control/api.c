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

#include "byok.h"
#include "ctld_pvt.h"

#define MIN_JUSTIFICATION 8
#define STR_(x) #x
#define STR(x) STR_(x)
/* what a refusal for a missing or short justification says */
#define JUSTIFICATION_RULE "a justification of at least " STR(MIN_JUSTIFICATION) \
	" characters is required"

static json_t *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error(const char *fmt, ...)
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

static json_t *ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static bool in_groups(const struct ctl_caller *who, unsigned gid)
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
	if (sqlite3_prepare_v2(d->store.db, "SELECT role, is_gid, id FROM roles WHERE "
			       "(is_gid=0 AND id=?) OR is_gid=1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, who->uid);
		while (sqlite3_step(st) == SQLITE_ROW) {
			bool is_gid = sqlite3_column_int(st, 1) != 0;
			if ((is_gid && !in_groups(who, (unsigned)sqlite3_column_int64(st, 2))) ||
			    veil_role_parse((const char *)sqlite3_column_text(st, 0), &r) != 0)
				continue;
			if (!is_gid) {
				role = r;
				break;
			}
			if (r > role)
				role = r;
		}
		sqlite3_finalize(st);
		if (role != VEIL_ROLE_NONE)
			return role;
	}
	for (unsigned i = 0; i < d->cfg.n_roles; i++)
		if (!d->cfg.roles[i].is_gid && d->cfg.roles[i].id == who->uid)
			return d->cfg.roles[i].role;
	for (unsigned i = 0; i < d->cfg.n_roles; i++)
		if (d->cfg.roles[i].is_gid && in_groups(who, d->cfg.roles[i].id) &&
		    d->cfg.roles[i].role > role)
			role = d->cfg.roles[i].role;
	return role;
}

/* ---- governance log helpers ---- */

static int audit(struct ctld *d, const struct ctl_caller *who, const char *action,
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
		audit(d, &who, r->mixed_action ? "refusals" : r->action,
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
			return error("%s", why);
		}
		r->mixed_action |= strcmp(r->action, action) != 0;
		r->mixed_tenant |= strcmp(r->tenant, tenant ? tenant : "") != 0;
		/* the same reason with other figures (tokens left, a size) is
		 * the same reason: compare what comes before the first ':' */
		size_t k = strcspn(r->why, ":");
		r->mixed_why |= strncmp(r->why, why, k) != 0 || (why[k] != ':' && why[k] != '\0');
		return error("%s", why);
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
	audit(d, who, action, tenant, NULL, NULL, outcome);
	return error("%s", why);
}

static json_t *refuse(struct ctld *d, const struct ctl_caller *who,
		      const char *cmd, const char *tenant, const char *why)
{
	return ctl_refuse(d, who, cmd, tenant, why);
}

/* ---- state changes: the change and its record in one transaction ---- */

/* A record of a caller's, or with who NULL, of controld's own (the
 * housekeeping): role "system", uid 0. */
static int record(struct ctld *d, const struct ctl_caller *who, const char *action,
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
static int commit_change(struct ctld *d, const struct ctl_caller *who,
			 const char *action, const char *tenant, const char *just,
			 const char *outcome)
{
	if (record(d, who, action, tenant, just, outcome) != 0) {
		ctl_store_abort(&d->store);
		return -1;
	}
	return ctl_store_commit(&d->store);
}

/* The change did not commit: say so in the log, and to the caller. */
static void rolled_back(struct ctld *d)
{
	ctl_log("governance log commit failed: %s; the change was rolled back",
	     sqlite3_errmsg(d->store.db));
}

static json_t *not_changed(struct ctld *d)
{
	rolled_back(d);
	return error("the governance log cannot be written: nothing was changed");
}

/* A committed key version the keyring did not take (it cannot happen
 * short of a bug: ctl_key_stage checks the ring's room). */
static void not_live(const char *tenant, uint32_t version)
{
	ctl_log("tenant %s: key version %u is stored but not in memory (%s); "
	     "restart veil-controld to load it", tenant, version, strerror(errno));
}

/* The change failed on its own (not the log's fault): roll it back and
 * record the failure (committed with the batch). */
static void change_failed(struct ctld *d, const struct ctl_caller *who,
			  const char *action, const char *tenant, const char *outcome)
{
	ctl_store_abort(&d->store);
	record(d, who, action, tenant, NULL, outcome);
}

/* ---- field checks ---- */

static const char *get_str(json_t *req, const char *key, size_t max)
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
static json_t *bad_tenant(json_t *req)
{
	json_t *v = json_object_get(req, "tenant");
	return error("bad tenant id \"%.80s\": 1 to %d of a-z 0-9 . _ -",
		     json_is_string(v) ? json_string_value(v) : "", VEIL_TENANT_MAX);
}

static bool justification_ok(const char *j)
{
	size_t n = 0;
	for (; j != NULL && *j; j++)
		n += *j != ' ' && *j != '\t';
	return n >= MIN_JUSTIFICATION;
}

/* rate_limit counts what a caller resolves or looks up per minute: each
 * token of a resolve (a bulk of N counts N) and each lookup. A request
 * over what is left is refused whole; why says what is left. */
static bool rate_ok(struct ctld *d, unsigned uid, unsigned cost, bool lookup,
		    char *why, size_t whylen)
{
	int64_t minute = ctl_now() / 60000;
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
	json_t *a = ok();
	json_object_set_new(a, "version", json_string("0.1.0"));
	json_object_set_new(a, "uptime_s", json_integer((ctl_now() - d->started) / 1000));
	json_object_set_new(a, "tenants", json_integer(d->n_tenants - d->n_deleted));
	json_object_set_new(a, "requests", json_integer((json_int_t)d->requests));
	json_object_set_new(a, "role", json_string(veil_role_name(who->role)));
	json_object_set_new(a, "crypto", json_string(veil_engine_name(d->engine)));
	json_object_set_new(a, "audit_records", json_integer(d->store.last_seq));
	json_object_set_new(a, "audit_commits", json_integer((json_int_t)d->store.commits));
	json_object_set_new(a, "errors", json_integer((json_int_t)d->errors));
	ctl_link_status_json(d, a);
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
	json_t *a = ok();
	ctl_link_status_json(d, a);
	json_object_set_new(a, "link", json_string(d->cfg.link_socket));
	json_object_set_new(a, "workers", workers);
	json_object_set_new(a, "totals", tot);
	return a;
}

static json_t *cmd_tenant_create(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *id = get_str(req, "tenant", VEIL_TENANT_MAX);
	struct ctl_new_tenant nt;
	char err[160];
	if (id == NULL || !veil_tenant_valid(id))
		return bad_tenant(req);
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	/* no first key, no tenant: its row goes with the transaction */
	if (ctl_tenant_create(d, id, &nt, err, sizeof(err)) != 0) {
		change_failed(d, who, "tenant.create", id, "failed");
		return error("%s", err);
	}
	if (commit_change(d, who, "tenant.create", id, NULL, "ok: key version 1") != 0) {
		ctl_tenant_drop(&nt);
		return not_changed(d);
	}
	if (ctl_tenant_add(d, &nt) != 0)
		not_live(id, 1);
	json_t *a = ok();
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
	json_t *a = ok();
	json_object_set_new(a, "tenants", list);
	return a;
}

static struct ctl_tenant *tenant_arg(struct ctld *d, json_t *req, json_t **err)
{
	const char *id = get_str(req, "tenant", VEIL_TENANT_MAX);
	struct ctl_tenant *t = id && veil_tenant_valid(id) ? ctl_tenant_find(d, id) : NULL;
	if (id == NULL || !veil_tenant_valid(id))
		*err = bad_tenant(req);
	else if (t == NULL)
		*err = error("no tenant \"%s\"", id);
	return t;
}

static json_t *cmd_tenant_show(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	if (t == NULL)
		return err;
	json_t *a = ok();
	json_object_set_new(a, "tenant", tenant_json(d, t));
	return a;
}

/* Lock/unlock a tenant (a locked tenant's tokens are not resolved or
 * looked up, and its dataplane traffic follows the tenant's lock policy),
 * and set its automatic roll interval. */
static json_t *cmd_tenant_set(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	if (t == NULL)
		return err;
	json_t *state = json_object_get(req, "state"), *roll = json_object_get(req, "roll_days");
	if (state == NULL && roll == NULL)
		return error("give \"state\" (active or locked) or \"roll_days\"");
	bool locked = t->locked;
	unsigned roll_days = t->roll_days;
	if (state != NULL) {
		const char *st = json_string_value(state);
		if (st == NULL || (strcmp(st, "active") && strcmp(st, "locked")))
			return error("\"state\" must be \"active\" or \"locked\"");
		locked = !strcmp(st, "locked");
	}
	if (roll != NULL) {
		if (!json_is_integer(roll) || json_integer_value(roll) < 0 ||
		    json_integer_value(roll) > 3650)
			return error("\"roll_days\" must be a number of days from 0 "
				     "(never) to 3650");
		roll_days = (unsigned)json_integer_value(roll);
	}
	char outcome[128];
	snprintf(outcome, sizeof(outcome), "state %s -> %s, roll_days %u -> %u",
		 t->locked ? "locked" : "active", locked ? "locked" : "active",
		 t->roll_days, roll_days);
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	if (ctl_tenant_set(d, t, locked, roll_days) != 0) {
		json_t *e = error("database: %s", sqlite3_errmsg(d->store.db));
		change_failed(d, who, "tenant.change", t->id, "failed");
		return e;
	}
	char full[160];
	snprintf(full, sizeof(full), "ok: %s", outcome);
	if (commit_change(d, who, "tenant.change", t->id, NULL, full) != 0)
		return not_changed(d);
	ctl_tenant_apply(d, t, locked, roll_days);
	json_t *a = ok();
	json_object_set_new(a, "tenant", tenant_json(d, t));
	return a;
}

static json_t *cmd_key_roll(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	struct ctl_new_key nk;
	char outcome[64];
	if (t == NULL)
		return err;
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	int rc = ctl_key_stage(d, t->id, t->current, &nk);
	if (rc != 0) {
		change_failed(d, who, "key.roll", t->id, "failed");
		if (rc == -2)
			return error("%s has %u live key versions, the most there can "
				     "be (max_live_versions in veil.conf): destroy old "
				     "ones first", t->id, d->cfg.max_live_versions);
		return error("cannot make a new key version");
	}
	uint32_t v = nk.version;
	snprintf(outcome, sizeof(outcome), "ok: version %u is current", v);
	if (commit_change(d, who, "key.roll", t->id, NULL, outcome) != 0) {
		ctl_key_drop(&nk); /* zeroized: it never existed */
		return not_changed(d);
	}
	if (ctl_key_live(d, t, &nk) != 0)
		not_live(t->id, v);
	json_t *a = ok();
	json_object_set_new(a, "version", json_integer(v));
	return a;
}

static json_t *cmd_key_destroy(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	json_t *v = json_object_get(req, "version");
	char outcome[96];
	if (t == NULL)
		return err;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > UINT32_MAX)
		return error("\"version\" must be a key version");
	uint32_t ver = (uint32_t)json_integer_value(v);
	/* it cannot be undone: the caller says why, as for a resolve */
	const char *reason = get_str(req, "reason", 4096);
	if (!justification_ok(reason))
		return error("\"reason\" must say why in a sentence (at least %d "
			     "non-blank characters): a destroyed key version cannot "
			     "be brought back", MIN_JUSTIFICATION);
	if (ver == t->current)
		return error("version %u is current: roll first", ver);
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	if (ctl_key_destroy(d, t, ver) != 0) {
		ctl_store_abort(&d->store);
		return error("version %u is not a live version of %s", ver, t->id);
	}
	snprintf(outcome, sizeof(outcome), "ok: version %u destroyed by an admin", ver);
	if (commit_change(d, who, "key.destroy", t->id, reason, outcome) != 0)
		return not_changed(d);
	ctl_key_destroyed(d, t, ver);
	bool shredded = ctl_store_shred(&d->store) == 0;
	if (!shredded)
		ctl_log("shredding %s version %u: the WAL could not be truncated (%s); "
		     "retrying at the next housekeeping", t->id, ver,
		     sqlite3_errmsg(d->store.db));
	json_t *a = ok();
	json_object_set_new(a, "shredded", json_boolean(shredded));
	return a;
}

/* A name as JSON: a string when it is UTF-8 without NUL, else {"hex": ...}. */
static json_t *name_json(const uint8_t *name, size_t len)
{
	json_t *s = memchr(name, 0, len) ? NULL : json_stringn((const char *)name, len);
	if (s != NULL)
		return s;
	char *hex = malloc(2 * len + 1);
	if (hex == NULL)
		return json_null();
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", name[i]);
	json_t *o = json_pack("{s:s%}", "hex", hex, 2 * len);
	explicit_bzero(hex, 2 * len);
	free(hex);
	return o;
}

/* The tokens of a request as the JSON array text of its audit record.
 * Well-formed tokens need no escaping ([A-Za-z0-9_-]), so the text of a
 * large bulk request is joined directly; anything else goes through
 * jansson. */
static char *tokens_text(json_t *tokens)
{
	size_t n = json_array_size(tokens), len = 3;
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tokens, i);
		const char *v = json_string_value(t);
		size_t l = json_string_length(t);
		if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789_-") != l)
			return json_dumps(tokens, JSON_COMPACT);
		len += l + 3;
	}
	char *out = malloc(len), *p = out;
	if (out == NULL)
		return NULL;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(tokens, i);
		size_t l = json_string_length(t);
		if (i)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, json_string_value(t), l);
		p += l;
		*p++ = '"';
	}
	*p++ = ']';
	*p = '\0';
	return out;
}

/* A record that names tokens: a list of up to CTL_TOKENS_INLINE_MAX in the
 * record itself; a longer one (a bulk resolve's 200,000) aside, in chunks
 * (struct ctl_token_list), so that listing records stays cheap. */
static int audit_tokens(struct ctld *d, const struct ctl_caller *who, const char *action,
			const char *tenant, json_t *tokens, const char *just,
			const char *outcome)
{
	size_t n = json_array_size(tokens);
	if (n <= CTL_TOKENS_INLINE_MAX) {
		char *text = tokens_text(tokens);
		int rc = text ? audit(d, who, action, tenant, text, just, outcome) : -1;
		free(text);
		return rc;
	}
	size_t nc = (n + CTL_TOKENS_CHUNK - 1) / CTL_TOKENS_CHUNK;
	char **chunk = calloc(nc, sizeof(*chunk)), *head = NULL;
	size_t *count = calloc(nc, sizeof(*count));
	json_t *part = json_array();
	int rc = -1;
	if (chunk == NULL || count == NULL || part == NULL)
		goto out;
	for (size_t i = 0; i < CTL_TOKENS_HEAD; i++)
		json_array_append(part, json_array_get(tokens, i));
	if ((head = tokens_text(part)) == NULL)
		goto out;
	for (size_t c = 0; c < nc; c++) {
		json_array_clear(part);
		for (size_t i = c * CTL_TOKENS_CHUNK; i < n && i < (c + 1) * CTL_TOKENS_CHUNK; i++)
			json_array_append(part, json_array_get(tokens, i));
		count[c] = json_array_size(part);
		if ((chunk[c] = tokens_text(part)) == NULL)
			goto out;
	}
	struct ctl_token_list list = { .count = n, .n_chunks = nc,
				       .chunk = (const char *const *)chunk,
				       .chunk_count = count };
	struct ctl_audit_rec r = {
		.uid = who->uid, .role = veil_role_name(who->role), .action = action,
		.tenant = tenant, .tokens = head, .justification = just,
		.outcome = outcome, .list = &list,
	};
	rc = ctl_audit_append(&d->store, &r);
out:
	for (size_t c = 0; chunk != NULL && c < nc; c++)
		free(chunk[c]);
	free(chunk);
	free(count);
	free(head);
	json_decref(part);
	return rc;
}

/* Collect the tokens of a resolve: "token", "tokens" or "text". */
static int collect_tokens(json_t *req, json_t *tokens, const char **why)
{
	json_t *one = json_object_get(req, "token"), *many = json_object_get(req, "tokens");
	json_t *text = json_object_get(req, "text");
	int given = (one != NULL) + (many != NULL) + (text != NULL);
	size_t idx;
	json_t *v;

	*why = "give one of \"token\", \"tokens\" or \"text\"";
	if (given != 1)
		return -1;
	if (one != NULL) {
		if (!json_is_string(one))
			return -1;
		json_array_append(tokens, one);
	} else if (many != NULL) {
		*why = "\"tokens\" must be an array of strings";
		if (!json_is_array(many) || json_array_size(many) == 0)
			return -1;
		json_array_foreach(many, idx, v)
			if (!json_is_string(v) || json_array_append(tokens, v) != 0)
				return -1;
	} else {
		*why = "\"text\" must be a string";
		if (!json_is_string(text))
			return -1;
		const char *p = json_string_value(text);
		size_t len = json_string_length(text), off, tl;
		while (len > 0 && veil_token_find(p, len, &off, &tl)) {
			json_array_append_new(tokens, json_stringn(p + off, tl));
			p += off + tl;
			len -= off + tl;
		}
	}
	*why = "too many tokens in one request";
	return json_array_size(tokens) <= CTLD_MAX_TOKENS ? 0 : -1;
}

static size_t name_cap(size_t token_len)
{
	size_t cap = token_len * 5 / 8 + 1; /* base32: 5 bits a character */
	return cap < VEIL_NAME_MAX ? cap : VEIL_NAME_MAX;
}

static json_t *cmd_resolve(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	const char *just = get_str(req, "justification", 4096), *why;
	if (t == NULL)
		return err;
	if (!justification_ok(just))
		return refuse(d, who, "resolve", t->id, JUSTIFICATION_RULE);
	if (t->locked)
		return refuse(d, who, "resolve", t->id, ctl_byok_locked_why(d, t));
	json_t *tokens = json_array();
	if (collect_tokens(req, tokens, &why) != 0) {
		json_decref(tokens);
		return error("%s", why);
	}
	size_t n = json_array_size(tokens);
	char rwhy[192];
	if (!rate_ok(d, who->uid, (unsigned)n, false, rwhy, sizeof(rwhy))) {
		json_decref(tokens);
		return refuse(d, who, "resolve", t->id, rwhy);
	}

	/* a name is never longer than its token's ciphertext: size the
	 * (locked) name buffer by the tokens, not n times the longest name */
	size_t cap_total = 0;
	for (size_t i = 0; i < n; i++)
		cap_total += name_cap(json_string_length(json_array_get(tokens, i)));
	struct veil_item *it = calloc(n ? n : 1, sizeof(*it));
	uint8_t *names = veil_secmem_alloc(cap_total ? cap_total : 1);
	unsigned ok_count = 0;
	if (it == NULL || names == NULL) {
		free(it);
		veil_secmem_free(names);
		json_decref(tokens);
		return error("out of memory");
	}
	for (size_t i = 0, off = 0; i < n; i++) {
		json_t *s = json_array_get(tokens, i);
		size_t cap = name_cap(json_string_length(s));
		it[i] = (struct veil_item){ .in = (const uint8_t *)json_string_value(s),
					    .in_len = json_string_length(s),
					    .out = names + off, .out_cap = cap };
		off += cap;
	}
	ok_count = ctl_decrypt_tokens(d, t, it, n); /* unwraps what it needs */
	/* the record first, durable; names only after */
	char outcome[96];
	snprintf(outcome, sizeof(outcome), "ok: %u resolved, %zu failed", ok_count,
		 n - ok_count);
	int arc = audit_tokens(d, who, n > 1 ? "resolve.bulk" : "resolve", t->id, tokens,
			       just, outcome);
	if (arc != 0) {
		veil_secmem_free(names);
		free(it);
		json_decref(tokens);
		return error("the governance log cannot be written: nothing resolved");
	}
	/* the answer is by column, one entry per token in the order given:
	 * cheap to build and parse for a bulk of 100,000 */
	json_t *names_a = json_array(), *kinds = json_array(), *vers = json_array();
	json_t *errs = json_array(), *msgs = json_object();
	json_t *kind_name[2] = { json_string("user"), json_string("device") };
	for (size_t i = 0; i < n; i++) {
		if (it[i].status == VEIL_OK) {
			json_array_append_new(names_a, name_json(it[i].out, it[i].out_len));
			json_array_append(kinds, kind_name[it[i].kind != VEIL_KIND_USER]);
			json_array_append_new(vers, json_integer(it[i].version));
			json_array_append_new(errs, json_null());
		} else {
			const char *code = veil_status_name(it[i].status);
			json_array_append_new(names_a, json_null());
			json_array_append_new(kinds, json_null());
			json_array_append_new(vers, json_null());
			json_array_append_new(errs, json_string(code));
			json_object_set_new(msgs, code, json_string(veil_status_str(it[i].status)));
		}
	}
	json_decref(kind_name[0]);
	json_decref(kind_name[1]);
	explicit_bzero(names, cap_total);
	veil_secmem_free(names);
	free(it);
	json_t *a = ok();
	json_object_set_new(a, "resolved", json_integer(ok_count));
	json_object_set_new(a, "failed", json_integer((json_int_t)(n - ok_count)));
	if (json_object_get(req, "text") != NULL)
		json_object_set(a, "tokens", tokens); /* the ones found */
	json_decref(tokens);
	json_object_set_new(a, "names", names_a);
	json_object_set_new(a, "kinds", kinds);
	json_object_set_new(a, "versions", vers);
	json_object_set_new(a, "errors", errs);
	json_object_set_new(a, "messages", msgs);
	return a;
}

static json_t *cmd_lookup(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	json_t *err = NULL;
	struct ctl_tenant *t = tenant_arg(d, req, &err);
	const char *just = get_str(req, "justification", 4096);
	const char *kind_s = get_str(req, "kind", 16);
	json_t *name = json_object_get(req, "name");
	enum veil_kind kind;
	if (t == NULL)
		return err;
	if (kind_s == NULL || (strcmp(kind_s, "user") && strcmp(kind_s, "device")))
		return error("\"kind\" must be \"user\" or \"device\"");
	kind = kind_s[0] == 'u' ? VEIL_KIND_USER : VEIL_KIND_DEVICE;
	if (!json_is_string(name) || json_string_length(name) > VEIL_NAME_MAX)
		return error("\"name\" must be a string of at most %d bytes", VEIL_NAME_MAX);
	if (!justification_ok(just))
		return refuse(d, who, "lookup", t->id, JUSTIFICATION_RULE);
	if (t->locked)
		return refuse(d, who, "lookup", t->id, ctl_byok_locked_why(d, t));
	char rwhy[192];
	if (!rate_ok(d, who->uid, 1, true, rwhy, sizeof(rwhy)))
		return refuse(d, who, "lookup", t->id, rwhy);

	json_t *list = json_array();
	json_t *toks = json_array();
	uint8_t out[VEIL_TOKEN_MAX];
	uint32_t *live = NULL;
	unsigned n_live = ctl_live_versions(d, t, &live);
	for (unsigned i = 0; i < n_live; i++) {
		uint32_t v = live[i];
		const struct veil_key *k = ctl_key_get(d, t, v); /* unwrapped if not kept */
		if (k == NULL)
			continue;
		struct veil_item it = { .in = (const uint8_t *)json_string_value(name),
					.in_len = json_string_length(name),
					.out = out, .out_cap = sizeof(out) };
		if (veil_token_encrypt_batch(d->engine, k, kind, &it, 1) != 1)
			continue;
		json_t *tok = json_stringn((const char *)out, it.out_len);
		json_array_append(toks, tok);
		json_array_append_new(list, json_pack("{s:i, s:o}", "version", (int)v,
						      "token", tok));
	}
	free(live);
	/* the record names the tokens handed out, never the name */
	int arc = audit_tokens(d, who, "lookup", t->id, toks, just, "ok");
	json_decref(toks);
	if (arc != 0) {
		json_decref(list);
		return error("the governance log cannot be written: nothing looked up");
	}
	json_t *a = ok();
	json_object_set_new(a, "kind", json_string(kind_s));
	json_object_set_new(a, "tokens", list);
	return a;
}

static json_t *record_json(sqlite3_stmt *st)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}",
			      "seq", (json_int_t)sqlite3_column_int64(st, 0),
			      "time_ms", (json_int_t)sqlite3_column_int64(st, 1),
			      "uid", (json_int_t)sqlite3_column_int64(st, 2),
			      "role", (const char *)sqlite3_column_text(st, 3),
			      "action", (const char *)sqlite3_column_text(st, 4),
			      "outcome", (const char *)sqlite3_column_text(st, 8));
	static const char *const opt[] = { NULL, NULL, NULL, NULL, NULL,
					   "tenant", "tokens", "justification" };
	for (int c = 5; c <= 7; c++)
		if (sqlite3_column_type(st, c) != SQLITE_NULL)
			json_object_set_new(o, opt[c], json_string(
				(const char *)sqlite3_column_text(st, c)));
	/* a long list: its first tokens and how many (audit.tokens lists
	 * them all) */
	const char *toks = (const char *)sqlite3_column_text(st, 6);
	char *shown;
	size_t total;
	if (toks != NULL && ctl_audit_tokens_shown(toks, &shown, &total) == 0) {
		if (shown != NULL)
			json_object_set_new(o, "tokens", json_string(shown));
		json_object_set_new(o, "tokens_total", json_integer((json_int_t)total));
		free(shown);
	}
	return o;
}

/* audit.show answers in pages: at most AUDIT_PAGE_MAX records (and about
 * AUDIT_PAGE_BYTES of text) each, whatever the caller asks, so that one
 * request costs what its page costs and no answer nears the frame limit. */
#define AUDIT_PAGE_DEFAULT 1000
#define AUDIT_PAGE_MAX 10000
#define AUDIT_PAGE_BYTES (8u << 20)

/* The request's position: after_seq and before_seq (either or both), and
 * a cursor ("after:N", "before:N") as a page's next_cursor says it, which
 * takes the place of its side (a range goes on with its other bound). */
static const char *page_bounds(json_t *req, int64_t *after, int64_t *before)
{
	json_t *a = json_object_get(req, "after_seq"), *b = json_object_get(req, "before_seq");
	json_t *c = json_object_get(req, "cursor");
	*after = -1;
	*before = INT64_MAX;
	if ((a && !json_is_integer(a)) || (b && !json_is_integer(b)))
		return "after_seq and before_seq are integers";
	if (a)
		*after = json_integer_value(a);
	if (b)
		*before = json_integer_value(b);
	if (c != NULL) {
		const char *v = json_string_value(c);
		long long n;
		char kind[8], end;
		if (v == NULL || sscanf(v, "%7[a-z]:%lld%c", kind, &n, &end) != 2 || n < 0 ||
		    (strcmp(kind, "after") && strcmp(kind, "before")))
			return "\"cursor\" is a next_cursor of an earlier page "
			       "(\"after:SEQ\" or \"before:SEQ\")";
		if ((kind[0] == 'a' && a) || (kind[0] == 'b' && b))
			return "give a cursor or its after_seq/before_seq, not both";
		*(kind[0] == 'a' ? after : before) = n;
	}
	return NULL;
}

/* The actions an action filter means: the action itself and its group
 * ("resolve": resolve, resolve.bulk), as they occur in the log, found by
 * seeks on audit_action. Returns how many (up to max; max + 1 if more). */
#define ACTIONS_MAX 16

static int action_group(sqlite3 *db, const char *action, char (*names)[64], int max)
{
	sqlite3_stmt *st;
	int n = 0;
	char lo[80], hi[80];
	if (sqlite3_prepare_v2(db, "SELECT min(action) FROM audit WHERE action >= ?1 "
			       "AND action < ?2", -1, &st, NULL) != SQLITE_OK)
		return -1;
	/* the action itself, then each of "action." up to "action/" */
	snprintf(lo, sizeof(lo), "%s", action);
	snprintf(hi, sizeof(hi), "%s\x01", action);
	for (int pass = 0; n <= max; pass = 1) {
		sqlite3_bind_text(st, 1, lo, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
		const char *got = sqlite3_step(st) == SQLITE_ROW ?
			(const char *)sqlite3_column_text(st, 0) : NULL;
		if (got != NULL && n < max)
			snprintf(names[n], 64, "%s", got);
		if (got != NULL)
			n++;
		if (got != NULL && pass == 1)
			snprintf(lo, sizeof(lo), "%s\x01", got);
		else if (pass == 1) {
			sqlite3_reset(st);
			break;
		} else {
			snprintf(lo, sizeof(lo), "%s.", action);
			snprintf(hi, sizeof(hi), "%s/", action);
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return n;
}

/* The filters that are given, and only those (so that an index serves
 * each): ?3 since, ?4 until, ?5 uid, ?6 tenant; and the action's group as
 * n_actions exact actions (?10...), each taken in seq order from
 * audit_action and merged, or (n_actions < 0) as a prefix test. */
static void page_sql(char *sql, size_t cap, json_t *req, bool ascending, int n_actions)
{
	char f[200];
	const char *dir = ascending ? "ASC" : "DESC";
	snprintf(f, sizeof(f), "seq > ?1 AND seq < ?2%s%s%s%s",
		 json_object_get(req, "since_ms") ? " AND time >= ?3" : "",
		 json_object_get(req, "until_ms") ? " AND time <= ?4" : "",
		 json_object_get(req, "uid") ? " AND uid = ?5" : "",
		 json_object_get(req, "tenant") ? " AND tenant = ?6" : "");
	int k = snprintf(sql, cap, "SELECT seq,time,uid,role,action,tenant,tokens,"
			 "justification,outcome FROM audit WHERE ");
	if (n_actions < 0)
		k += snprintf(sql + k, cap - (size_t)k, "%s AND (action = ?7 OR (action "
			      ">= ?7 || '.' AND action < ?7 || '/'))", f);
	else if (n_actions == 0)
		k += snprintf(sql + k, cap - (size_t)k, "%s", f);
	else {
		k += snprintf(sql + k, cap - (size_t)k, "seq IN (");
		for (int i = 0; i < n_actions; i++)
			k += snprintf(sql + k, cap - (size_t)k, "%sSELECT seq FROM (SELECT "
				      "seq FROM audit WHERE %s AND action = ?%d ORDER BY "
				      "seq %s LIMIT ?8)", i ? " UNION ALL " : "", f,
				      10 + i, dir);
		k += snprintf(sql + k, cap - (size_t)k, ")");
	}
	snprintf(sql + k, cap - (size_t)k, " ORDER BY seq %s LIMIT ?8", dir);
}

/* The text a record takes in the answer, roughly. */
static size_t record_bytes(sqlite3_stmt *st)
{
	size_t n = 160;
	for (int c = 3; c <= 8; c++)
		n += (size_t)sqlite3_column_bytes(st, c);
	return n;
}

static json_t *cmd_audit_show(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	sqlite3_stmt *st;
	json_t *since = json_object_get(req, "since_ms"), *until = json_object_get(req, "until_ms");
	json_t *actor = json_object_get(req, "uid"), *limit = json_object_get(req, "limit");
	json_t *tenant = json_object_get(req, "tenant"), *action = json_object_get(req, "action");
	if ((since && !json_is_integer(since)) || (until && !json_is_integer(until)) ||
	    (actor && !json_is_integer(actor)) || (limit && !json_is_integer(limit)) ||
	    (tenant && !json_is_string(tenant)) || (action && !json_is_string(action)))
		return error("filters: since_ms, until_ms, uid, limit are integers; "
			     "tenant, action are strings");
	int64_t after, before;
	const char *why = page_bounds(req, &after, &before);
	if (why != NULL)
		return error("%s", why);
	json_int_t n = limit ? json_integer_value(limit) : AUDIT_PAGE_DEFAULT;
	if (n < 1)
		return error("\"limit\" must be at least 1 (a page holds at most %d)",
			     AUDIT_PAGE_MAX);
	if (n > AUDIT_PAGE_MAX)
		n = AUDIT_PAGE_MAX;
	/* after a seq: the oldest page after it; else the newest before */
	bool ascending = after >= 0;
	char names[ACTIONS_MAX][64];
	int n_actions = 0;
	if (action != NULL && json_string_length(action) > 32)
		return error("\"action\" is an action name (at most 32 characters)");
	if (action != NULL) {
		n_actions = action_group(d->store.db, json_string_value(action), names,
					 ACTIONS_MAX);
		if (n_actions == 0) /* none in the log */
			return json_pack("{s:b, s:[]}", "ok", 1, "records");
		if (n_actions > ACTIONS_MAX)
			n_actions = -1;
	}
	char sql[ACTIONS_MAX * 320 + 512];
	page_sql(sql, sizeof(sql), req, ascending, n_actions);
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL))
		return error("database: %s", sqlite3_errmsg(d->store.db));
	for (int i = 0; i < n_actions; i++)
		sqlite3_bind_text(st, 10 + i, names[i], -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, before);
	if (since)
		sqlite3_bind_int64(st, 3, json_integer_value(since));
	if (until)
		sqlite3_bind_int64(st, 4, json_integer_value(until));
	if (actor)
		sqlite3_bind_int64(st, 5, json_integer_value(actor));
	if (tenant)
		sqlite3_bind_text(st, 6, json_string_value(tenant), -1, SQLITE_TRANSIENT);
	if (action)
		sqlite3_bind_text(st, 7, json_string_value(action), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, n + 1); /* one more: whether more remain */
	json_t **page = malloc((size_t)n * sizeof(*page));
	if (page == NULL) {
		sqlite3_finalize(st);
		return error("out of memory");
	}
	size_t got = 0, bytes = 0;
	bool more = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bytes += record_bytes(st);
		if (got == (size_t)n || (got > 0 && bytes > AUDIT_PAGE_BYTES)) {
			more = true;
			break;
		}
		page[got++] = record_json(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		for (size_t i = 0; i < got; i++)
			json_decref(page[i]);
		free(page);
		return error("database: %s", sqlite3_errmsg(d->store.db));
	}
	/* in seq order either way: built from the front, never inserted at 0 */
	json_t *recs = json_array();
	for (size_t i = 0; i < got; i++)
		json_array_append_new(recs, page[ascending ? i : got - 1 - i]);
	free(page);
	json_t *a = ok();
	if (more && got > 0) {
		char cur[40];
		json_t *edge = json_array_get(recs, ascending ? got - 1 : 0);
		snprintf(cur, sizeof(cur), "%s:%lld", ascending ? "after" : "before",
			 (long long)json_integer_value(json_object_get(edge, "seq")));
		json_object_set_new(a, "next_cursor", json_string(cur));
	}
	json_object_set_new(a, "records", recs);
	return a;
}

/* The tokens of one record, a page at a time: a bulk resolve's list is
 * long (audit.show gives its first tokens and tokens_total). */
#define AUDIT_TOKENS_DEFAULT 10000
#define AUDIT_TOKENS_MAX 50000

static json_t *cmd_audit_tokens(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	json_t *seq = json_object_get(req, "seq"), *off = json_object_get(req, "offset");
	json_t *lim = json_object_get(req, "limit");
	if (!json_is_integer(seq) || (off && !json_is_integer(off)) ||
	    (lim && !json_is_integer(lim)))
		return error("\"seq\" (a record's) is required; offset and limit are "
			     "integers");
	json_int_t o = off ? json_integer_value(off) : 0;
	json_int_t n = lim ? json_integer_value(lim) : AUDIT_TOKENS_DEFAULT;
	if (o < 0 || o > CTLD_MAX_TOKENS || n < 1)
		return error("\"offset\" must be 0..%d and \"limit\" at least 1",
			     CTLD_MAX_TOKENS);
	if (n > AUDIT_TOKENS_MAX)
		n = AUDIT_TOKENS_MAX;
	json_t *list;
	size_t total;
	char why[160];
	if (ctl_audit_tokens(&d->store, json_integer_value(seq), (size_t)o, (size_t)n,
			     &list, &total, why, sizeof(why)) != 0)
		return error("%s", why);
	json_t *a = ok();
	json_object_set_new(a, "seq", json_integer(json_integer_value(seq)));
	json_object_set_new(a, "tokens_total", json_integer((json_int_t)total));
	json_object_set_new(a, "offset", json_integer(o));
	if ((size_t)o + json_array_size(list) < total)
		json_object_set_new(a, "next_offset",
				    json_integer(o + (json_int_t)json_array_size(list)));
	json_object_set_new(a, "tokens", list);
	return a;
}

/* The log's recoveries: each audit.recover record says what was found
 * (its outcome) and why it was accepted (its justification). */
static json_t *recoveries(struct ctld *d, char *problem, size_t cap)
{
	sqlite3_stmt *st;
	json_t *list = json_array();
	if (sqlite3_prepare_v2(d->store.db, "SELECT seq,time,uid,role,justification,"
			       "outcome FROM audit WHERE action='audit.recover' "
			       "ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return list;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *reason = (const char *)sqlite3_column_text(st, 4);
		const char *found = (const char *)sqlite3_column_text(st, 5);
		int64_t seq = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 1);
		char date[32] = "?";
		time_t secs = (time_t)(t / 1000);
		struct tm tm;
		if (gmtime_r(&secs, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
		if (found != NULL && strncmp(found, "recovered: ", 11) == 0)
			found += 11;
		json_array_append_new(list, json_pack("{s:I, s:I, s:I, s:s, s:s, s:s}",
			"seq", (json_int_t)seq, "time_ms", (json_int_t)t,
			"uid", (json_int_t)sqlite3_column_int64(st, 2),
			"role", sqlite3_column_text(st, 3) ?
				(const char *)sqlite3_column_text(st, 3) : "",
			"reason", reason ? reason : "", "found", found ? found : ""));
		size_t n = strlen(problem);
		snprintf(problem + n, cap - n, "%s%s; accepted by recovery record %lld "
			 "on %s: %s", n ? "; " : "", found ? found : "?", (long long)seq,
			 date, reason ? reason : "");
	}
	sqlite3_finalize(st);
	return list;
}

/* Intact: the chain verifies and no recovery is in it (the answer is then
 * as it always was). A break no recovery accepted: first_bad_seq and the
 * problem. A recovered log: not intact either, "accepted", and the problem
 * says what each recovery found, when, and why it was accepted. */
static json_t *cmd_audit_verify(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	(void)req;
	int64_t count;
	char why[512] = "", problem[4096] = "";
	int64_t bad = ctl_audit_verify(&d->store, &count, why, sizeof(why));
	json_t *rec = recoveries(d, problem, sizeof(problem));
	json_t *a = ok();
	json_object_set_new(a, "records", json_integer(count));
	if (bad == 0 && json_array_size(rec) == 0) {
		json_object_set_new(a, "intact", json_true());
		json_decref(rec);
		return a;
	}
	json_object_set_new(a, "intact", json_false());
	json_object_set_new(a, "accepted", json_boolean(bad == 0));
	json_object_set_new(a, "recoveries", rec);
	if (bad != 0) {
		json_object_set_new(a, "first_bad_seq", json_integer(bad));
		json_object_set_new(a, "problem", json_string(why));
	} else {
		json_object_set_new(a, "first_bad_seq", json_array_get(rec, 0) ?
			json_incref(json_object_get(json_array_get(rec, 0), "seq")) :
			json_integer(0));
		json_object_set_new(a, "problem", json_string(problem));
	}
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
	json_t *a = ok();
	json_object_set_new(a, "roles", list);
	return a;
}

static json_t *cmd_role_change(struct ctld *d, const struct ctl_caller *who, json_t *req,
			       bool grant)
{
	json_t *uid = json_object_get(req, "uid"), *gid = json_object_get(req, "gid");
	const char *role_s = grant ? get_str(req, "role", 32) : NULL;
	const char *scope = grant ? get_str(req, "tenant", VEIL_TENANT_MAX) : NULL;
	enum veil_role role = VEIL_ROLE_NONE;
	char what[192];
	if ((uid == NULL) == (gid == NULL))
		return error("give one of \"uid\" or \"gid\"");
	json_t *id = uid ? uid : gid;
	if (!json_is_integer(id) || json_integer_value(id) < 0 ||
	    json_integer_value(id) > 0xfffffffe)
		return error("\"%s\" must be a number", uid ? "uid" : "gid");
	if (grant && veil_role_parse(role_s, &role) != 0)
		return error("\"role\" must be reader, investigator or admin");
	if (scope != NULL && ctl_tenant_find(d, scope) == NULL)
		return error("no tenant \"%s\" to scope the role to", scope);
	sqlite3_stmt *st;
	const char *sql = grant ? "INSERT OR REPLACE INTO roles(is_gid, id, role) VALUES(?,?,?)"
				: "DELETE FROM roles WHERE is_gid=? AND id=?";
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL)) {
		json_t *e = error("database: %s", sqlite3_errmsg(d->store.db));
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
		json_t *e = error("database: %s", sqlite3_errmsg(d->store.db));
		ctl_store_abort(&d->store);
		return e;
	}
	snprintf(what, sizeof(what), "%s %s:%lld%s%s%s%s", grant ? "granted" : "revoked",
		 uid ? "uid" : "gid", (long long)json_integer_value(id),
		 grant ? " " : "", grant ? veil_role_name(role) : "",
		 scope ? " for tenant " : "", scope ? scope : "");
	if (!grant && changed == 0) {
		ctl_store_abort(&d->store);
		return error("no database role binding for %s:%lld (config file "
			     "bindings change in the file)", uid ? "uid" : "gid",
			     (long long)json_integer_value(id));
	}
	if (commit_change(d, who, grant ? "role.grant" : "role.revoke", NULL, NULL,
			  what) != 0)
		return not_changed(d);
	/* the answer says what was bound, as the record does */
	json_t *a = ok();
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
	json_t *a = ok();
	json_object_set_new(a, "settings", ctl_settings_json(d));
	json_object_set_new(a, "config_file", json_string(d->cfg.path[0] ? d->cfg.path
							   : "(built-in defaults)"));
	return a;
}

static json_t *cmd_config_set(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *name = get_str(req, "name", 64);
	json_t *value = json_object_get(req, "value");
	struct ctl_setting_change ch;
	char what[160], outcome[176];
	if (name == NULL || value == NULL)
		return error("give \"name\" and \"value\" (a number, or null to "
			     "reset to veil.conf's value)");
	if (ctl_store_begin(&d->store) != 0)
		return not_changed(d);
	if (ctl_setting_set(d, name, value, &ch, what, sizeof(what)) != 0) {
		ctl_store_abort(&d->store);
		return error("%s", what);
	}
	snprintf(outcome, sizeof(outcome), "ok: %s", what);
	if (commit_change(d, who, "config.change", NULL, NULL, outcome) != 0)
		return not_changed(d);
	ctl_setting_apply(d, &ch);
	json_t *a = ok();
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
} commands[] = {
	{ "status", VEIL_ROLE_READER, cmd_status, false },
	{ "stats", VEIL_ROLE_READER, cmd_stats, false },
	{ "tenant.create", VEIL_ROLE_ADMIN, cmd_tenant_create, true },
	{ "tenant.list", VEIL_ROLE_READER, cmd_tenant_list, false },
	{ "tenant.show", VEIL_ROLE_READER, cmd_tenant_show, false },
	{ "tenant.set", VEIL_ROLE_ADMIN, cmd_tenant_set, true },
	{ "tenant.byok", VEIL_ROLE_ADMIN, ctl_cmd_tenant_byok, true },
	{ "tenant.export", VEIL_ROLE_ADMIN, ctl_cmd_tenant_export, true },
	{ "tenant.delete", VEIL_ROLE_ADMIN, ctl_cmd_tenant_delete, true },
	{ "key.list", VEIL_ROLE_READER, cmd_tenant_show, false },
	{ "key.roll", VEIL_ROLE_ADMIN, cmd_key_roll, true },
	{ "key.destroy", VEIL_ROLE_ADMIN, cmd_key_destroy, true },
	{ "resolve", VEIL_ROLE_INVESTIGATOR, cmd_resolve, false },
	{ "lookup", VEIL_ROLE_INVESTIGATOR, cmd_lookup, false },
	{ "audit.show", VEIL_ROLE_READER, cmd_audit_show, false },
	{ "audit.tokens", VEIL_ROLE_READER, cmd_audit_tokens, false },
	{ "audit.verify", VEIL_ROLE_READER, cmd_audit_verify, false },
	{ "role.list", VEIL_ROLE_READER, cmd_role_list, false },
	{ "role.grant", VEIL_ROLE_ADMIN, cmd_role_grant, true },
	{ "role.revoke", VEIL_ROLE_ADMIN, cmd_role_revoke, true },
	{ "config.show", VEIL_ROLE_READER, cmd_config_show, false },
	{ "config.set", VEIL_ROLE_ADMIN, cmd_config_set, true },
};

json_t *ctl_handle(struct ctld *d, const struct ctl_caller *who, const char *msg,
		   size_t len)
{
	json_error_t jerr;
	d->requests++;
	json_t *req = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL)
		return error("not JSON: %s at byte %d", jerr.text, jerr.position);
	if (!json_is_object(req)) {
		json_decref(req);
		return error("a request is a JSON object");
	}
	const char *cmd = get_str(req, "cmd", 32);
	json_t *ans = NULL;
	if (cmd == NULL) {
		ans = error("\"cmd\" must be a command name");
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
			const char *t = get_str(req, "tenant", VEIL_TENANT_MAX);
			ans = refuse(d, who, cmd, t, why);
		} else if (get_str(req, "tenant", VEIL_TENANT_MAX) != NULL &&
			   !ctl_scope_allows(d, who, get_str(req, "tenant", VEIL_TENANT_MAX))) {
			char why[128];
			snprintf(why, sizeof(why), "permission denied: uid %u's role is "
				 "scoped to other tenants (role list)", who->uid);
			ans = refuse(d, who, cmd, get_str(req, "tenant", VEIL_TENANT_MAX), why);
		} else if (commands[i].changes_state) {
			ans = commands[i].fn(d, who, req);
			/* a change that did not commit leaves nothing behind */
			ctl_store_abort(&d->store);
		} else
			ans = commands[i].fn(d, who, req);
		goto out;
	}
	ans = error("unknown command \"%.32s\"", cmd);
out:
	json_decref(req);
	if (!json_is_true(json_object_get(ans, "ok")))
		d->errors++;
	return ans;
}

#define CTLD_PRUNE_MAX 50000 /* records pruned a housekeeping: 72M a day */

void ctl_housekeeping(struct ctld *d)
{
	int64_t cutoff = ctl_now() - (int64_t)d->cfg.key_retention_days * 86400000;
	sqlite3_stmt *st;
	/* a version ages out once it has not been current for the retention:
	 * its successor's creation time is when it stopped being current */
	if (sqlite3_prepare_v2(d->store.db,
			       "SELECT k.tenant, k.version FROM keys k JOIN keys n "
			       "ON n.tenant = k.tenant AND n.version = k.version + 1 "
			       "WHERE k.destroyed IS NULL AND n.created < ?", -1, &st, NULL))
		return;
	sqlite3_bind_int64(st, 1, cutoff);
	struct { char t[VEIL_TENANT_MAX + 1]; uint32_t v; } old[64];
	unsigned n = 0;
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(old[n].t, sizeof(old[n].t), "%s", sqlite3_column_text(st, 0));
		old[n++].v = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	/* controld's own changes: recorded as the system's (who NULL), each
	 * committed with its record before it takes effect */
	bool destroyed = false;
	for (unsigned i = 0; i < n; i++) {
		struct ctl_tenant *t = ctl_tenant_find(d, old[i].t);
		char outcome[96];
		if (t == NULL || ctl_store_begin(&d->store) != 0)
			continue;
		if (ctl_key_destroy(d, t, old[i].v) != 0) {
			ctl_store_abort(&d->store);
			continue;
		}
		snprintf(outcome, sizeof(outcome), "ok: version %u destroyed after %u days "
			 "of retention", old[i].v, d->cfg.key_retention_days);
		if (commit_change(d, NULL, "key.destroy", t->id, NULL, outcome) != 0) {
			rolled_back(d);
			continue; /* the next housekeeping tries again */
		}
		ctl_key_destroyed(d, t, old[i].v);
		destroyed = true;
	}
	/* a shred that could not finish before is retried here */
	if ((destroyed || d->store.shred_pending) && ctl_store_shred(&d->store) != 0)
		ctl_log("shredding: the WAL could not be truncated (%s); retrying at "
		     "the next housekeeping", sqlite3_errmsg(d->store.db));
	/* automatic rolls: the current version is older than the interval */
	for (unsigned i = 0; i < d->n_tenants; i++) {
		struct ctl_tenant *t = &d->tenants[i];
		struct ctl_new_key nk;
		char outcome[96];
		if (t->roll_days == 0 || sqlite3_prepare_v2(d->store.db,
				"SELECT created FROM keys WHERE tenant=? AND version=?",
				-1, &st, NULL))
			continue;
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t->current);
		bool due = sqlite3_step(st) == SQLITE_ROW &&
			   sqlite3_column_int64(st, 0) + (int64_t)t->roll_days * 86400000 <= ctl_now();
		sqlite3_finalize(st);
		if (!due || ctl_store_begin(&d->store) != 0)
			continue;
		if (ctl_key_stage(d, t->id, t->current, &nk) != 0) {
			change_failed(d, NULL, "key.roll", t->id, "failed: automatic roll");
			continue;
		}
		snprintf(outcome, sizeof(outcome), "ok: version %u is current (automatic "
			 "roll, every %u days)", nk.version, t->roll_days);
		if (commit_change(d, NULL, "key.roll", t->id, NULL, outcome) != 0) {
			ctl_key_drop(&nk);
			rolled_back(d);
			continue;
		}
		uint32_t v = nk.version;
		if (ctl_key_live(d, t, &nk) != 0)
			not_live(t->id, v);
	}
	/* a record that fails verification stops pruning and stays: say so,
	 * once for each place it stops at (this runs every minute). At most
	 * CTLD_PRUNE_MAX records a minute, in steps: a backlog (a retention
	 * made shorter) goes over the minutes that follow, not in one stall */
	static char said[400];
	char why[400];
	if (ctl_audit_prune(&d->store, ctl_now() - (int64_t)d->cfg.audit_retention_days *
			    86400000, CTLD_PRUNE_MAX, why, sizeof(why)) < 0 && why[0] == '\0')
		snprintf(why, sizeof(why), "pruning the governance log failed: %s",
			 sqlite3_errmsg(d->store.db));
	if (why[0] != '\0' && strcmp(why, said) != 0)
		ctl_log("%s", why);
	memcpy(said, why, sizeof(said));
}
