/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * tenant delete: every key version crypto-shredded as key destroy does
 * (the wrapped copies zeroed: secure_delete, then the WAL truncated), the
 * tenant's rows removed, its keys withdrawn from memory and from the
 * dataplane (the link's DELETED state). In memory the tenant's entry stays
 * as a tombstone (an empty id, found by no lookup) until the next start,
 * so that the indexes into the tenant table stay valid.
 */
#include <stdio.h>
#include <string.h>

#include "byok.h"

static bool reason_ok(const char *j)
{
	size_t n = 0;
	for (; j != NULL && *j; j++)
		n += *j != ' ' && *j != '\t';
	return n >= 8;
}

static int del(struct ctld *d, const char *sql, const char *tenant)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, ctl_now());
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

json_t *ctl_cmd_tenant_delete(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "tenant"));
	const char *reason = json_string_value(json_object_get(req, "reason"));
	struct ctl_tenant *t = id != NULL && veil_tenant_valid(id) ? ctl_tenant_find(d, id)
								  : NULL;
	if (t == NULL)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "no such tenant");
	if (!json_is_true(json_object_get(req, "yes")))
		return json_pack("{s:b, s:s}", "ok", 0, "error", "deleting a tenant cannot "
				 "be undone: confirm with \"yes\": true (veilctl --yes)");
	if (!reason_ok(reason) || strlen(reason) > 4096)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "\"reason\" must say why in "
				 "a sentence (at least 8 non-blank characters)");
	uint32_t *versions = NULL;
	unsigned n = ctl_live_versions(d, t, &versions);
	char outcome[160];
	if (ctl_store_begin(&d->store) != 0) {
		free(versions);
		return json_pack("{s:b, s:s}", "ok", 0, "error", "the governance log cannot "
				 "be written: nothing was changed");
	}
	/* zero the wrapped keys in place first (secure_delete zeroes what a
	 * delete frees, and so does the update's rewrite), then the rows */
	int rc = del(d, "UPDATE keys SET wrapped=NULL, destroyed=?2 WHERE tenant=?1 AND "
		     "destroyed IS NULL", t->id) |
		 del(d, "DELETE FROM keys WHERE tenant=?", t->id) |
		 del(d, "DELETE FROM tenants WHERE id=?", t->id);
	/* what BYOK and scoped roles keep of it, if their tables are there */
	if (d->byok != NULL)
		rc |= del(d, "DELETE FROM byok_keks WHERE tenant=?", t->id) |
		      del(d, "DELETE FROM byok_lock WHERE tenant=?", t->id);
	if (d->scopes)
		rc |= del(d, "DELETE FROM role_scopes WHERE tenant=?", t->id);
	snprintf(outcome, sizeof(outcome), "ok: %u live key versions crypto-shredded, "
		 "tenant removed", n);
	struct ctl_audit_rec r = {
		.uid = who->uid, .role = veil_role_name(who->role), .action = "tenant.delete",
		.tenant = t->id, .justification = reason, .outcome = outcome,
	};
	if (rc != 0 || ctl_audit_append(&d->store, &r) != 0 ||
	    ctl_store_commit(&d->store) != 0) {
		ctl_store_abort(&d->store);
		free(versions);
		return json_pack("{s:b, s:s}", "ok", 0, "error", "database or governance "
				 "log error: nothing was changed");
	}
	for (unsigned i = 0; i < n; i++)
		ctl_key_cache_drop(d, t, versions[i]);
	free(versions);
	if (d->link != NULL)
		veil_link_server_tenant_state(d->link, t->id, VEIL_LINK_TENANT_DELETED);
	ctl_byok_forget(d, t->id);
	json_t *a = json_pack("{s:b, s:s, s:i, s:b}", "ok", 1, "tenant", t->id,
			      "shredded_versions", (int)n, "wal_truncated",
			      ctl_store_shred(&d->store) == 0);
	/* the tombstone */
	t->id[0] = '\0';
	t->current = 0;
	t->locked = false;
	t->roll_days = 0;
	d->n_deleted++;
	return a;
}
