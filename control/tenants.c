/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Tenants and their key versions: the database keeps them wrapped, memory
 * keeps the live versions unwrapped in keyrings (locked memory) for resolve
 * and lookup, and every change, once committed with its governance record,
 * reaches memory and goes down the link to the dataplane.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctld_pvt.h"

struct ctl_tenant *ctl_tenant_find(struct ctld *d, const char *id)
{
	for (unsigned i = 0; i < d->n_tenants; i++)
		if (strcmp(d->tenants[i].id, id) == 0)
			return &d->tenants[i];
	return NULL;
}

/* Unwrap one stored key and put it in the tenant's ring. */
static int load_version(struct ctld *d, struct ctl_tenant *t, uint32_t version,
			const void *wrapped, int wlen)
{
	uint8_t raw[32];
	if (ctl_unwrap_key(d->store.wrap, wrapped, (size_t)wlen, raw) != 0)
		return -1;
	struct veil_key *k = veil_key_new(raw, t->id, version);
	explicit_bzero(raw, sizeof(raw));
	if (k == NULL || veil_keyring_add(t->ring, k) != 0) {
		veil_key_free(k);
		return -1;
	}
	if (version > t->current)
		t->current = version;
	return 0;
}

int ctl_tenants_load(struct ctld *d, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT t.id, t.state, k.version, k.wrapped, "
			       "t.roll_days "
			       "FROM tenants t LEFT JOIN keys k ON k.tenant = t.id "
			       "AND k.destroyed IS NULL ORDER BY t.id, k.version",
			       -1, &st, NULL)) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	int rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		struct ctl_tenant *t = ctl_tenant_find(d, id);
		if (t == NULL) {
			if (d->n_tenants == CTLD_MAX_TENANTS || !veil_tenant_valid(id)) {
				snprintf(err, errlen, "tenant \"%.64s\": too many or bad id", id);
				rc = -1;
				break;
			}
			t = &d->tenants[d->n_tenants++];
			memset(t, 0, sizeof(*t));
			snprintf(t->id, sizeof(t->id), "%s", id);
			t->ring = veil_keyring_new(id);
			t->locked = !strcmp((const char *)sqlite3_column_text(st, 1), "locked");
			t->roll_days = (unsigned)sqlite3_column_int64(st, 4);
		}
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			continue;
		uint32_t v = (uint32_t)sqlite3_column_int64(st, 2);
		if (load_version(d, t, v, sqlite3_column_blob(st, 3),
				 sqlite3_column_bytes(st, 3)) != 0) {
			snprintf(err, errlen, "tenant %s key version %u does not unwrap: "
				 "wrong master key or tampered database", id, v);
			rc = -1;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Make, wrap and store (in the open transaction) the version after
 * current; the key is kept ready for the ring and the link, which get it
 * only once the transaction committed (ctl_key_live). */
int ctl_key_stage(struct ctld *d, const char *id, uint32_t current,
		  struct ctl_new_key *nk)
{
	uint8_t wrapped[64];
	sqlite3_stmt *st;
	int wl;
	uint32_t v = current + 1;
	memset(nk, 0, sizeof(*nk));
	/* versions are never reused, even after destruction; and a ring
	 * holds at most CTLD_MAX_LIVE_VERSIONS, checked before anything is
	 * stored so that going live cannot fail after the commit */
	if (sqlite3_prepare_v2(d->store.db, "SELECT max(version), sum(destroyed IS NULL) "
			       "FROM keys WHERE tenant=?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int64_t live = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) >= v)
			v = (uint32_t)sqlite3_column_int64(st, 0) + 1;
		live = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (live >= CTLD_MAX_LIVE_VERSIONS)
		return -2;
	nk->raw = veil_secmem_alloc(32);
	if (nk->raw == NULL || veil_key_generate(nk->raw) != 0 ||
	    (wl = ctl_wrap_key(d->store.wrap, nk->raw, wrapped)) < 0 ||
	    (nk->key = veil_key_new(nk->raw, id, v)) == NULL)
		goto fail;
	if (sqlite3_prepare_v2(d->store.db, "INSERT INTO keys(tenant,version,wrapped,created)"
			       " VALUES(?,?,?,?)", -1, &st, NULL))
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	sqlite3_bind_blob(st, 3, wrapped, wl, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ctl_now());
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok)
		goto fail;
	nk->version = v;
	return 0;
fail:
	ctl_key_drop(nk);
	return -1;
}

void ctl_key_drop(struct ctl_new_key *nk)
{
	veil_key_free(nk->key);
	veil_secmem_free(nk->raw); /* zeroizes */
	memset(nk, 0, sizeof(*nk));
}

/* After the commit: the new version is live and current, here and in the
 * dataplane. The ring takes it (a new version number, below the ring's
 * capacity, checked by ctl_key_stage); if it did not, -1: the version is
 * stored, and a restart loads it. */
int ctl_key_live(struct ctld *d, struct ctl_tenant *t, struct ctl_new_key *nk)
{
	int rc = veil_keyring_add(t->ring, nk->key);
	if (rc == 0) {
		nk->key = NULL;
		t->current = nk->version;
		if (d->link != NULL)
			veil_link_server_key_added(d->link, t->id, nk->version, true,
						   nk->raw);
	}
	ctl_key_drop(nk);
	return rc;
}

int ctl_tenant_create(struct ctld *d, const char *id, struct ctl_new_tenant *nt,
		      char *err, size_t errlen)
{
	memset(nt, 0, sizeof(*nt));
	if (!veil_tenant_valid(id)) {
		snprintf(err, errlen, "bad tenant id (1 to 64 of a-z 0-9 . _ -)");
		return -1;
	}
	if (ctl_tenant_find(d, id) != NULL) {
		snprintf(err, errlen, "tenant %s exists", id);
		return -1;
	}
	if (d->n_tenants == CTLD_MAX_TENANTS) {
		snprintf(err, errlen, "too many tenants (%d)", CTLD_MAX_TENANTS);
		return -1;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "INSERT INTO tenants(id, created) VALUES(?,?)",
			       -1, &st, NULL)) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ctl_now());
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	snprintf(nt->id, sizeof(nt->id), "%s", id);
	nt->ring = veil_keyring_new(id);
	if (nt->ring == NULL || ctl_key_stage(d, id, 0, &nt->key) != 0) {
		/* the caller rolls the tenant's row back with the transaction */
		veil_keyring_free(nt->ring);
		nt->ring = NULL;
		snprintf(err, errlen, "cannot make the first key version");
		return -1;
	}
	return 0;
}

void ctl_tenant_drop(struct ctl_new_tenant *nt)
{
	ctl_key_drop(&nt->key);
	veil_keyring_free(nt->ring);
	memset(nt, 0, sizeof(*nt));
}

int ctl_tenant_add(struct ctld *d, struct ctl_new_tenant *nt)
{
	struct ctl_tenant *t = &d->tenants[d->n_tenants++];
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", nt->id);
	t->ring = nt->ring;
	nt->ring = NULL;
	return ctl_key_live(d, t, &nt->key);
}

/* Crypto-shredding, the database's part, in the open transaction: the
 * wrapped key is erased (secure_delete zeroes its bytes). */
int ctl_key_destroy(struct ctld *d, struct ctl_tenant *t, uint32_t version)
{
	sqlite3_stmt *st;
	if (version == t->current || veil_keyring_get(t->ring, version) == NULL)
		return -1;
	if (sqlite3_prepare_v2(d->store.db, "UPDATE keys SET wrapped=NULL, destroyed=? "
			       "WHERE tenant=? AND version=? AND destroyed IS NULL",
			       -1, &st, NULL))
		return -1;
	sqlite3_bind_int64(st, 1, ctl_now());
	sqlite3_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, version);
	int ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(d->store.db) == 1;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* After the commit: the unwrapped key is zeroized, here and in the
 * dataplane. */
void ctl_key_destroyed(struct ctld *d, struct ctl_tenant *t, uint32_t version)
{
	veil_keyring_destroy(t->ring, version);
	if (d->link != NULL)
		veil_link_server_key_destroyed(d->link, t->id, version);
}

int ctl_tenant_set(struct ctld *d, struct ctl_tenant *t, bool locked,
		   unsigned roll_days)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "UPDATE tenants SET state=?, roll_days=? "
			       "WHERE id=?", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, locked ? "locked" : "active", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, roll_days);
	sqlite3_bind_text(st, 3, t->id, -1, SQLITE_STATIC);
	int ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(d->store.db) == 1;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

void ctl_tenant_apply(struct ctld *d, struct ctl_tenant *t, bool locked,
		      unsigned roll_days)
{
	if (locked != t->locked && d->link != NULL)
		veil_link_server_tenant_state(d->link, t->id, locked ?
					      VEIL_LINK_TENANT_LOCKED :
					      VEIL_LINK_TENANT_ACTIVE);
	t->locked = locked;
	t->roll_days = roll_days;
}

/* The link's resync, from its cursor: each tenant's current version (the
 * dataplane encrypts with nothing else), unwrapped only for the copy, with
 * whether the tenant is locked; tenants in id order (the primary key's
 * index), strictly after (after, after_version). The current version and
 * the state are memory's: a tenant or version staged in a transaction that
 * is not committed yet is not there, and the link gets it as a change once
 * it is. */
int ctl_link_keys(void *ctx, const char *after, uint32_t after_version,
		  unsigned max, veil_link_emit_fn emit, void *arg)
{
	struct ctld *d = ctx;
	sqlite3_stmt *ids, *key;
	char from[VEIL_TENANT_MAX + 1];
	int rc = 0;
	/* a copy: the caller's cursor moves as keys are emitted */
	snprintf(from, sizeof(from), "%s", after);
	if (sqlite3_prepare_v2(d->store.db, "SELECT id FROM tenants WHERE id >= ? "
			       "ORDER BY id", -1, &ids, NULL))
		return -1;
	if (sqlite3_prepare_v2(d->store.db, "SELECT wrapped FROM keys WHERE tenant=? "
			       "AND version=? AND destroyed IS NULL", -1, &key, NULL)) {
		sqlite3_finalize(ids);
		return -1;
	}
	sqlite3_bind_text(ids, 1, from, -1, SQLITE_STATIC);
	/* no LIMIT: tenants passed over must not end the walk early; the
	 * statement steps lazily along the index */
	unsigned n = 0;
	while (n < max && sqlite3_step(ids) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(ids, 0);
		struct ctl_tenant *t = ctl_tenant_find(d, id);
		if (t == NULL || t->current == 0 ||
		    (strcmp(id, from) == 0 && t->current <= after_version))
			continue; /* not committed yet, or the cursor's own */
		sqlite3_reset(key);
		sqlite3_bind_text(key, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(key, 2, t->current);
		uint8_t raw[32];
		if (sqlite3_step(key) != SQLITE_ROW ||
		    ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(key, 0),
				   (size_t)sqlite3_column_bytes(key, 0), raw) != 0) {
			rc = -1;
			break;
		}
		n++;
		int stop = emit(arg, t->id, t->current, true, t->locked, raw);
		explicit_bzero(raw, sizeof(raw));
		if (stop)
			break;
	}
	sqlite3_finalize(key);
	sqlite3_finalize(ids);
	return rc;
}
