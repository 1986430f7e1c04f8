/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Tenants and their key versions: the database keeps them wrapped; memory
 * keeps every tenant's row and current version number, and the versions
 * lookups and resolves use unwrapped in keyrings (locked memory), at most
 * key_cache of them (keycache.c). Every change, once committed with its
 * governance record, reaches memory and goes down the link to the
 * dataplane.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byok.h"
#include "ctld_pvt.h"

/* ---- the tenant table: an array that grows, and an index by id ---- */

/* FNV-1a: ids are short and chosen by an admin, not by an attacker. */
static uint64_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ull;
	return h;
}

struct ctl_tenant *ctl_tenant_find(struct ctld *d, const char *id)
{
	if (d->n_slots == 0)
		return NULL;
	for (size_t i = id_hash(id) & (d->n_slots - 1);; i = (i + 1) & (d->n_slots - 1)) {
		uint32_t s = d->tenant_slot[i];
		if (s == 0)
			return NULL;
		if (strcmp(d->tenants[s - 1].id, id) == 0)
			return &d->tenants[s - 1];
	}
}

static void slot_put(uint32_t *slot, size_t n_slots, const char *id, uint32_t idx)
{
	size_t i = id_hash(id) & (n_slots - 1);
	while (slot[i] != 0)
		i = (i + 1) & (n_slots - 1);
	slot[i] = idx + 1;
}

/* Room for one more tenant, made before a create commits so that adding
 * it afterwards cannot fail. -1 (ENOMEM) if there is none. */
static int tenant_reserve(struct ctld *d)
{
	if (d->n_tenants + 1 > d->cap_tenants) {
		unsigned cap = d->cap_tenants ? d->cap_tenants * 2 : 64;
		struct ctl_tenant *t = realloc(d->tenants, (size_t)cap * sizeof(*t));
		if (t == NULL)
			return -1;
		d->tenants = t;
		d->cap_tenants = cap;
	}
	if ((size_t)(d->n_tenants + 1) * 2 > d->n_slots) {
		size_t n = d->n_slots ? d->n_slots * 2 : 128;
		uint32_t *slot = calloc(n, sizeof(*slot));
		if (slot == NULL)
			return -1;
		for (unsigned i = 0; i < d->n_tenants; i++)
			slot_put(slot, n, d->tenants[i].id, i);
		free(d->tenant_slot);
		d->tenant_slot = slot;
		d->n_slots = n;
	}
	return 0;
}

/* Append a tenant (room reserved) and index it. */
static struct ctl_tenant *tenant_append(struct ctld *d, const char *id)
{
	struct ctl_tenant *t = &d->tenants[d->n_tenants];
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	slot_put(d->tenant_slot, d->n_slots, t->id, d->n_tenants++);
	return t;
}

void ctl_tenants_free(struct ctld *d)
{
	ctl_key_cache_free(d);
	for (unsigned i = 0; i < d->n_tenants; i++)
		veil_keyring_free(d->tenants[i].ring);
	free(d->tenants);
	free(d->tenant_slot);
	d->tenants = NULL;
	d->tenant_slot = NULL;
	d->n_tenants = d->cap_tenants = 0;
	d->n_slots = 0;
}

/* Each tenant and the number of its current version (the newest live
 * one: the current version is never destroyed). No key is unwrapped here:
 * keycache.c does it when a lookup or resolve needs a version. */
int ctl_tenants_load(struct ctld *d, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT t.id, t.state, t.roll_days, "
			       "(SELECT max(version) FROM keys k WHERE k.tenant = t.id "
			       "AND k.destroyed IS NULL) FROM tenants t ORDER BY t.id",
			       -1, &st, NULL)) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (!veil_tenant_valid(id) || ctl_tenant_find(d, id) != NULL) {
			snprintf(err, errlen, "tenant \"%.64s\": bad id", id);
			rc = -1;
			break;
		}
		if (tenant_reserve(d) != 0) {
			snprintf(err, errlen, "out of memory for %u tenants", d->n_tenants + 1);
			rc = -1;
			break;
		}
		struct ctl_tenant *t = tenant_append(d, id);
		t->locked = !strcmp((const char *)sqlite3_column_text(st, 1), "locked");
		t->roll_days = (unsigned)sqlite3_column_int64(st, 2);
		t->current = (uint32_t)sqlite3_column_int64(st, 3);
		t->ring = veil_keyring_new(id);
		if (t->ring == NULL) {
			snprintf(err, errlen, "out of memory for %u tenants", d->n_tenants);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && step != SQLITE_DONE) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

unsigned ctl_live_versions(struct ctld *d, struct ctl_tenant *t, uint32_t **out)
{
	sqlite3_stmt *st;
	unsigned n = 0, cap = 0;
	*out = NULL;
	if ((st = ctl_store_stmt(&d->store, "SELECT version FROM keys WHERE tenant=? AND "
				 "destroyed IS NULL ORDER BY version")) == NULL)
		return 0;
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			uint32_t *v = realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (v == NULL)
				break;
			*out = v;
		}
		(*out)[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return n;
}

/* Make, wrap and store (in the open transaction) the version after
 * current; the key is kept ready for the ring and the link, which get it
 * only once the transaction committed (ctl_key_live). */
int ctl_key_stage(struct ctld *d, const char *id, uint32_t current,
		  struct ctl_new_key *nk)
{
	uint8_t wrapped[CTL_WRAPPED_MAX];
	sqlite3_stmt *st;
	int wl;
	uint32_t v = current + 1;
	memset(nk, 0, sizeof(*nk));
	/* versions are never reused, even after destruction; and a ring
	 * tenant keeps at most max_live_versions, checked before anything is
	 * stored */
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
	if (live >= d->cfg.max_live_versions)
		return -2;
	nk->raw = veil_secmem_alloc(32);
	if (nk->raw == NULL || veil_key_generate(nk->raw) != 0 ||
	    (wl = ctl_byok_wrap(d, id, nk->raw, wrapped, sizeof(wrapped))) < 0 ||
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
 * dataplane; its key is kept (the next lookups use it), and if the cache
 * cannot take it, it is unwrapped again when needed. */
int ctl_key_live(struct ctld *d, struct ctl_tenant *t, struct ctl_new_key *nk)
{
	ctl_key_cache_put(d, t, nk->key); /* takes it */
	nk->key = NULL;
	t->current = nk->version;
	if (d->link != NULL)
		veil_link_server_key_added(d->link, t->id, nk->version, true, nk->raw);
	ctl_key_drop(nk);
	return 0;
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
	if (d->n_tenants >= d->cfg.max_tenants) {
		snprintf(err, errlen, "too many tenants: there are %u, max_tenants "
			 "in veil.conf is %u", d->n_tenants, d->cfg.max_tenants);
		return -1;
	}
	if (tenant_reserve(d) != 0) {
		snprintf(err, errlen, "out of memory for %u tenants", d->n_tenants + 1);
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
	struct ctl_tenant *t = tenant_append(d, nt->id); /* room reserved */
	t->ring = nt->ring;
	nt->ring = NULL;
	return ctl_key_live(d, t, &nt->key);
}

/* Crypto-shredding, the database's part, in the open transaction: the
 * wrapped key is erased (secure_delete zeroes its bytes). */
int ctl_key_destroy(struct ctld *d, struct ctl_tenant *t, uint32_t version)
{
	sqlite3_stmt *st;
	if (version == t->current) /* and the UPDATE finds it only if live */
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
	ctl_key_cache_drop(d, t, version);
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
		if (sqlite3_step(key) != SQLITE_ROW) {
			rc = -1;
			break;
		}
		if (ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(key, 0),
				   (size_t)sqlite3_column_bytes(key, 0), raw) != 0) {
			/* a tenant's own KEK that cannot be reached now holds
			 * back only that tenant (its lines are dropped, no-key):
			 * the checks send its key once it is back (byok.c) */
			if (sqlite3_column_bytes(key, 0) > 48)
				continue;
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
