/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The unwrapped key versions controld keeps: a bounded cache.
 *
 * At start no key is unwrapped: controld reads each tenant's row and the
 * number of its current version, which is all that a start, the tenant
 * list and the link need (the link's resync unwraps each key as it sends
 * it). A lookup or a resolve that needs a version unwraps it from the
 * database then (ctl_unwrap_key) and keeps it here; when key_cache
 * versions are kept, the least recently used one is zeroized to make room.
 * So the locked memory controld needs is bounded by key_cache, whatever
 * the number of tenants and versions, and a start costs no unwrap at all.
 *
 * A kept key lives in its tenant's keyring (what the token engine
 * decrypts with); this file keeps the order of use: entries in a fixed
 * array, linked in LRU order, found by (tenant, version) through a
 * chained hash. Tenants are named by their index in the table, which
 * stays when the table grows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ctld_pvt.h"

#define NIL UINT32_MAX

struct ctl_cached {
	uint32_t tenant, version;
	uint32_t prev, next; /* LRU: head is the most recently used */
	uint32_t hnext;      /* hash chain, or the free list */
};

static size_t bucket_of(const struct ctl_keycache *c, uint32_t tenant,
			uint32_t version)
{
	uint64_t h = ((uint64_t)tenant << 32 | version) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (c->n_buckets - 1);
}

/* Made at first use, at the size veil.conf gave at start. */
static int cache_init(struct ctld *d)
{
	struct ctl_keycache *c = &d->keys;
	if (c->e != NULL)
		return 0;
	unsigned cap = d->cfg.key_cache ? d->cfg.key_cache : 1;
	size_t nb = 16;
	while (nb < (size_t)cap * 2)
		nb *= 2;
	c->e = calloc(cap, sizeof(*c->e));
	c->bucket = malloc(nb * sizeof(*c->bucket));
	if (c->e == NULL || c->bucket == NULL) {
		free(c->e);
		free(c->bucket);
		c->e = NULL;
		c->bucket = NULL;
		errno = ENOMEM;
		return -1;
	}
	memset(c->bucket, 0xff, nb * sizeof(*c->bucket));
	c->cap = cap;
	c->n_buckets = nb;
	c->head = c->tail = NIL;
	for (uint32_t i = 0; i < cap; i++)
		c->e[i].hnext = i + 1 < cap ? i + 1 : NIL;
	c->free = 0;
	return 0;
}

static uint32_t find(const struct ctl_keycache *c, uint32_t tenant, uint32_t version)
{
	if (c->e == NULL)
		return NIL;
	for (uint32_t i = c->bucket[bucket_of(c, tenant, version)]; i != NIL;
	     i = c->e[i].hnext)
		if (c->e[i].tenant == tenant && c->e[i].version == version)
			return i;
	return NIL;
}

static void lru_unlink(struct ctl_keycache *c, uint32_t i)
{
	struct ctl_cached *e = &c->e[i];
	if (e->prev != NIL)
		c->e[e->prev].next = e->next;
	else
		c->head = e->next;
	if (e->next != NIL)
		c->e[e->next].prev = e->prev;
	else
		c->tail = e->prev;
}

static void lru_front(struct ctl_keycache *c, uint32_t i)
{
	c->e[i].prev = NIL;
	c->e[i].next = c->head;
	if (c->head != NIL)
		c->e[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

/* Forget entry i and zeroize its key. */
static void remove_entry(struct ctld *d, uint32_t i)
{
	struct ctl_keycache *c = &d->keys;
	struct ctl_cached *e = &c->e[i];
	uint32_t *p = &c->bucket[bucket_of(c, e->tenant, e->version)];
	while (*p != i)
		p = &c->e[*p].hnext;
	*p = e->hnext;
	lru_unlink(c, i);
	veil_keyring_destroy(d->tenants[e->tenant].ring, e->version);
	e->hnext = c->free;
	c->free = i;
	c->n--;
}

int ctl_key_cache_put(struct ctld *d, struct ctl_tenant *t, struct veil_key *k)
{
	struct ctl_keycache *c = &d->keys;
	uint32_t ti = (uint32_t)(t - d->tenants), v = veil_key_version(k);
	if (cache_init(d) != 0 || find(c, ti, v) != NIL) {
		veil_key_free(k);
		return -1;
	}
	if (c->n == c->cap) {
		remove_entry(d, c->tail);
		c->evictions++;
	}
	if (veil_keyring_add(t->ring, k) != 0) {
		veil_key_free(k);
		return -1;
	}
	uint32_t i = c->free;
	struct ctl_cached *e = &c->e[i];
	c->free = e->hnext;
	e->tenant = ti;
	e->version = v;
	size_t b = bucket_of(c, ti, v);
	e->hnext = c->bucket[b];
	c->bucket[b] = i;
	lru_front(c, i);
	c->n++;
	return 0;
}

void ctl_key_cache_drop(struct ctld *d, struct ctl_tenant *t, uint32_t version)
{
	uint32_t i = find(&d->keys, (uint32_t)(t - d->tenants), version);
	if (i != NIL)
		remove_entry(d, i);
}

void ctl_key_cache_free(struct ctld *d)
{
	struct ctl_keycache *c = &d->keys;
	while (c->e != NULL && c->head != NIL)
		remove_entry(d, c->head);
	free(c->e);
	free(c->bucket);
	memset(c, 0, sizeof(*c));
}

/* The wrapped key of a live version, unwrapped and built. NULL with errno
 * ENOENT (not live: destroyed or never made), EIO (does not unwrap), or
 * what locked memory gave (ENOMEM, EAGAIN, EPERM). */
static struct veil_key *unwrap_version(struct ctld *d, struct ctl_tenant *t,
				       uint32_t version)
{
	sqlite3_stmt *st;
	uint8_t raw[32];
	struct veil_key *k = NULL;
	int err = ENOENT;
	if (sqlite3_prepare_v2(d->store.db, "SELECT wrapped FROM keys WHERE tenant=? "
			       "AND version=? AND destroyed IS NULL", -1, &st, NULL)) {
		errno = EIO;
		return NULL;
	}
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW) {
		err = EIO;
		if (ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(st, 0),
				   (size_t)sqlite3_column_bytes(st, 0), raw) == 0) {
			k = veil_key_new(raw, t->id, version);
			err = errno;
			explicit_bzero(raw, sizeof(raw));
			if (k == NULL)
				ctl_log("tenant %s key version %u: no "
					"locked memory for it (%s): raise LimitMEMLOCK or lower "
					"key_cache (veil-controld -n says what it needs)",
					t->id, version, strerror(err));
		} else {
			ctl_log("tenant %s key version %u does not "
				"unwrap: wrong master key or tampered database",
				t->id, version);
		}
	}
	sqlite3_finalize(st);
	if (k == NULL)
		errno = err;
	return k;
}

const struct veil_key *ctl_key_get(struct ctld *d, struct ctl_tenant *t,
				   uint32_t version)
{
	struct ctl_keycache *c = &d->keys;
	uint32_t i = find(c, (uint32_t)(t - d->tenants), version);
	if (i != NIL) {
		c->hits++;
		lru_unlink(c, i);
		lru_front(c, i);
		return veil_keyring_get(t->ring, version);
	}
	c->misses++;
	struct veil_key *k = unwrap_version(d, t, version);
	if (k == NULL)
		return NULL;
	if (ctl_key_cache_put(d, t, k) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	return veil_keyring_get(t->ring, version);
}

/* ---- resolve: the versions the tokens name, each unwrapped once ---- */

static const struct veil_item *sort_items;

static int by_version(const void *a, const void *b)
{
	uint32_t x = sort_items[*(const size_t *)a].version;
	uint32_t y = sort_items[*(const size_t *)b].version;
	return x < y ? -1 : x > y;
}

/* Decrypt items[idx[0..m)] (a run of one version) with the tenant's ring. */
static unsigned decrypt_run(struct ctld *d, struct ctl_tenant *t,
			    struct veil_item *items, const size_t *idx, size_t m)
{
	struct veil_item tmp[256];
	unsigned done = 0;
	for (size_t o = 0; o < m; o += 256) {
		unsigned k = (unsigned)(m - o < 256 ? m - o : 256);
		for (unsigned j = 0; j < k; j++)
			tmp[j] = items[idx[o + j]];
		done += veil_token_decrypt_batch(d->engine, t->ring, VEIL_KIND_ANY, tmp, k);
		for (unsigned j = 0; j < k; j++)
			items[idx[o + j]] = tmp[j];
	}
	return done;
}

unsigned ctl_decrypt_tokens(struct ctld *d, struct ctl_tenant *t,
			    struct veil_item *items, size_t n)
{
	unsigned ok = 0;
	/* the versions kept: in one pass */
	for (size_t i = 0; i < n; i += VEIL_BATCH_MAX) {
		unsigned m = (unsigned)(n - i < VEIL_BATCH_MAX ? n - i : VEIL_BATCH_MAX);
		ok += veil_token_decrypt_batch(d->engine, t->ring, VEIL_KIND_ANY,
					       items + i, m);
	}
	/* used now: to the front, once per run of a version */
	uint32_t last = 0;
	size_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].status == VEIL_OK && items[i].version != last)
			ctl_key_get(d, t, last = items[i].version);
		missing += items[i].status == VEIL_E_VERSION;
	}
	if (missing == 0)
		return ok;
	/* the others: by version, each unwrapped once and used at once (a
	 * request may name more versions than the cache keeps) */
	size_t *idx = malloc(missing * sizeof(*idx)), m = 0;
	if (idx == NULL)
		return ok; /* they stay E_VERSION */
	for (size_t i = 0; i < n; i++)
		if (items[i].status == VEIL_E_VERSION)
			idx[m++] = i;
	sort_items = items;
	qsort(idx, m, sizeof(*idx), by_version);
	for (size_t r = 0; r < m;) {
		uint32_t v = items[idx[r]].version;
		size_t e = r;
		while (e < m && items[idx[e]].version == v)
			e++;
		errno = 0;
		if (v > t->current) /* never made: no need to ask the database */
			errno = ENOENT;
		else if (ctl_key_get(d, t, v) != NULL) {
			ok += decrypt_run(d, t, items, idx + r, e - r);
		} else if (errno != ENOENT) {
			/* stored, but not usable now: not the token's fault */
			for (size_t j = r; j < e; j++)
				items[idx[j]].status = VEIL_E_INTERNAL;
		}
		r = e;
	}
	free(idx);
	return ok;
}

/* ---- veil-controld -n: the locked memory it needs ---- */

/* A line of /proc/self/status as a number (kB for VmLck), or -1. */
static long long status_field(const char *name, int base)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t nl = strlen(name);
	long long v = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, nl) == 0 && line[nl] == ':')
			v = strtoll(line + nl + 1, NULL, base);
	fclose(f);
	return v;
}

int ctl_locked_need(const struct ctl_config *c, char *msg, size_t msglen)
{
	size_t keys = veil_key_locked_bytes(c->key_cache);
	/* what an engine locks (its scratch), measured by making one */
	long long before = status_field("VmLck", 10);
	struct veil_engine_opts eo;
	char eerr[160];
	struct veil_engine *e = veil_engine_opts_from_env(&eo, eerr, sizeof(eerr)) == 0 ?
				veil_engine_new(&eo) : NULL;
	long long after = status_field("VmLck", 10);
	size_t engine = e != NULL && before >= 0 && after >= before ?
			(size_t)(after - before) * 1024 : 0;
	veil_engine_free(e);
	/* the master key, the log's key, a key being made: one page */
	size_t total = keys + engine + 4096;
	struct rlimit rl;
	long long caps = status_field("CapEff", 16);
	bool ipc_lock = caps >= 0 && (caps & (1ll << 14)); /* CAP_IPC_LOCK */
	char lim[64];
	getrlimit(RLIMIT_MEMLOCK, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(lim, sizeof(lim), "unlimited");
	else
		snprintf(lim, sizeof(lim), "%llu KiB", (unsigned long long)rl.rlim_cur / 1024);
	int over = !ipc_lock && rl.rlim_cur != RLIM_INFINITY && total > rl.rlim_cur;
	snprintf(msg, msglen, "locked memory: %u keys (key_cache) need %zu KiB, the "
		 "crypto engine %zu KiB: %zu KiB in all; RLIMIT_MEMLOCK is %s%s%s",
		 c->key_cache, keys / 1024, engine / 1024, total / 1024, lim,
		 ipc_lock ? " (not enforced: CAP_IPC_LOCK)" : "",
		 over ? ": too small, raise it (LimitMEMLOCK= in the systemd unit) "
			"or lower key_cache" : "");
	return over ? -1 : 0;
}
