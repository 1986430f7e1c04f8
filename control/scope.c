/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Roles scoped to tenants: a database role binding (role grant) may be
 * limited to some tenants (role grant --tenant T, once per tenant), kept in
 * role_scopes. A request that names a tenant is checked against the
 * bindings that gave the caller its role: its uid's binding if the database
 * has one, else its groups' (one of them unscoped, or scoped to the tenant,
 * is enough). A binding without scope rows, and a binding of the config
 * file, are for every tenant.
 */
#include <stdio.h>
#include <string.h>

#include "api_pvt.h"
#include "byok.h"

int ctl_scope_init(struct ctld *d, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(d->store.db, "CREATE TABLE IF NOT EXISTS role_scopes(is_gid "
			 "INTEGER NOT NULL, id INTEGER NOT NULL, tenant TEXT NOT NULL, "
			 "PRIMARY KEY(is_gid, id, tenant));", NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "role_scopes table: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	d->scopes = true;
	return 0;
}

bool ctl_scope_allows(struct ctld *d, const struct ctl_caller *who, const char *tenant)
{
	sqlite3_stmt *st;
	if (!d->scopes)
		return true;
	/* every request that names a tenant asks: a kept statement */
	if ((st = ctl_store_stmt(&d->store, "SELECT r.is_gid, r.id, (SELECT count(*) FROM "
				 "role_scopes s WHERE s.is_gid=r.is_gid AND s.id=r.id), (SELECT "
				 "count(*) FROM role_scopes s WHERE s.is_gid=r.is_gid AND "
				 "s.id=r.id AND s.tenant=?) FROM roles r WHERE (r.is_gid=0 AND "
				 "r.id=?) OR r.is_gid=1")) == NULL)
		return false; /* fail closed */
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, who->uid);
	/* in the order the rows come (no ORDER BY: its sorter cost a large
	 * allocation every request): the uid's binding, when there is one,
	 * decides alone; else any of the caller's groups' */
	bool uid_row = false, uid_ok = false, any = false, allowed = false;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool is_gid = sqlite3_column_int(st, 0) != 0;
		if (is_gid && !api_in_groups(who, (unsigned)sqlite3_column_int64(st, 1)))
			continue;
		bool ok = sqlite3_column_int64(st, 2) == 0 || sqlite3_column_int64(st, 3) > 0;
		if (!is_gid) {
			uid_row = true;
			uid_ok = ok;
			break;
		}
		any = true;
		allowed |= ok;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return false; /* fail closed: the rows were not all read */
	if (uid_row)
		return uid_ok;
	return !any || allowed;
}

int ctl_scope_set(struct ctld *d, bool is_gid, int64_t id, const char *tenant, bool grant)
{
	sqlite3_stmt *st;
	/* a grant without --tenant, and a revoke, leave the binding unscoped */
	const char *sql = grant && tenant != NULL ?
		"INSERT OR IGNORE INTO role_scopes(is_gid, id, tenant) VALUES(?,?,?)" :
		"DELETE FROM role_scopes WHERE is_gid=? AND id=?";
	if (!d->scopes)
		return tenant == NULL ? 0 : -1;
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, is_gid);
	sqlite3_bind_int64(st, 2, id);
	if (grant && tenant != NULL)
		sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

json_t *ctl_scope_json(struct ctld *d, bool is_gid, int64_t id)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	if (d->scopes && sqlite3_prepare_v2(d->store.db, "SELECT tenant FROM role_scopes "
					    "WHERE is_gid=? AND id=? ORDER BY tenant", -1,
					    &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, is_gid);
		sqlite3_bind_int64(st, 2, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(a, json_string((const char *)
							     sqlite3_column_text(st, 0)));
		sqlite3_finalize(st);
	}
	return a;
}
