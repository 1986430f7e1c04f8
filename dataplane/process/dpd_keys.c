/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The main lcore's side of the link to veil-controld (docs/link-protocol.md)
 * and the key table of the tenants this dataplane serves.
 *
 * Keys: the current version of each served tenant, the only one it
 * encrypts with, is kept as a veil_key (locked, non-dumpable memory,
 * zeroized when freed); a KEY_ADD of a new current version replaces it.
 * Keys of other tenants are wiped as they arrive. The key each source encrypts with is published
 * to the worker as an immutable table behind an atomic pointer, which the
 * worker takes at burst boundaries and acknowledges with the table's
 * generation. A key version that goes away (destroyed, replaced by a
 * resend, its tenant deleted) and every replaced table are retired with
 * the generation of the first table without them, and freed only once the
 * worker acknowledged that generation: the worker never encrypts with
 * freed memory, and a version is zeroized at most one burst after its
 * destruction.
 *
 * Sessions: connect to controld's link socket (retrying every 50 ms while
 * nobody listens there), check that the process listening runs as
 * controld_user (SO_PEERCRED) before anything is read, take the region
 * it hands over (seals, size, header checked), HELLO, then KEY_ADD /
 * KEY_DESTROY / TENANT_STATE / SYNC_DONE. A listener of another uid is
 * refused (closed at once, counted, logged): no key ever comes from it. A
 * SYNC_DONE ends a full resync: versions it did not carry are destroyed,
 * tenants it did not say were locked are unlocked. If controld goes away
 * (the connection ends) the keys stay and serve; when it comes back the
 * dataplane connects again, through the same checks, and says HELLO.
 * COUNTERS go up every second and at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dpd_pvt.h"

/* A tenant its sources name: the one key it encrypts with. */
struct tenant {
	char id[VEIL_TENANT_MAX + 1];
	struct veil_key *key; /* the current version's, or NULL */
	uint32_t current;     /* its version; 0: none */
	uint32_t round;       /* the resync round that last carried it */
	bool locked, deleted;
	uint32_t locked_round;
};

struct retired {
	void *p;
	bool table;
	uint64_t gen; /* free once the worker took this generation */
};

/* The link's state changes go to the log while running: without a link
 * for LINK_DOWN_SAY_AFTER seconds (then every LINK_DOWN_SAY_EVERY while it
 * lasts), attached again after that, lost. */
#define LINK_DOWN_SAY_AFTER 1.0
#define LINK_DOWN_SAY_EVERY 60.0

struct vdd_keys {
	struct vdd_shared *sh;
	struct vdd_config *cfg;
	struct veil_link *link;
	int conn;              /* connected, waiting for the region; or -1 */
	double conn_since;
	int attach_errno;
	double start, next_attach, next_stale, next_counters;
	uint32_t round;
	bool ever_attached, ever_synced, synced;
	unsigned attaches;
	/* listeners refused (another uid), regions refused (a check failed) */
	uint64_t refused_peers, refused_regions;
	uint32_t refused_uid;
	double next_refusal_log;
	/* the link's state as the log last told it: down since (without a
	 * link since the start, or since it was lost), when to say so again */
	double down_since, next_down_log;
	bool said_down;
	unsigned n_t;
	struct tenant *t;      /* as many as the sources name */
	struct vdd_index idx;  /* tenant id -> index into t */
	unsigned n_src;
	uint64_t gen;
	struct vdd_keytab *cur;
	bool dirty;
	struct retired *ret;
	unsigned n_ret, cap_ret;
	uint64_t keys_in, keys_ignored;
};

static const char *tenant_key(const void *ctx, uint32_t i)
{
	const struct vdd_keys *k = ctx;
	return k->t[i].id;
}

/* Every message of the link names its tenant: a hash lookup, whatever
 * the number of tenants. */
static struct tenant *tenant_find(struct vdd_keys *k, const char *id)
{
	int64_t i = vdd_index_find(&k->idx, id, tenant_key, k);
	return i < 0 ? NULL : &k->t[i];
}

static void retire(struct vdd_keys *k, void *p, bool table, uint64_t gen)
{
	if (p == NULL)
		return;
	if (k->n_ret == k->cap_ret) {
		unsigned cap = k->cap_ret ? 2 * k->cap_ret : 64;
		struct retired *r = realloc(k->ret, cap * sizeof(*r));
		if (r == NULL) {
			/* cannot defer, and never free what the worker may
			 * still use: the memory is left as it is (locked, not
			 * dumpable) until the process ends */
			fprintf(stderr, "veil-dataplane: out of memory retiring a "
				"key version; its memory is released at exit\n");
			return;
		}
		k->ret = r;
		k->cap_ret = cap;
	}
	k->ret[k->n_ret++] = (struct retired){ p, table, gen };
	k->dirty = true;
}

/* The tenant's key goes: retired with the next table's generation. */
static void drop_key(struct vdd_keys *k, struct tenant *t)
{
	retire(k, t->key, false, k->gen + 1);
	t->key = NULL;
	t->current = 0;
	k->dirty = true;
}

static void publish(struct vdd_keys *k)
{
	struct vdd_keytab *t = malloc(sizeof(*t) + k->n_src * sizeof(t->key[0]));
	if (t == NULL)
		return; /* stays dirty: tried again at the next poll */
	t->gen = ++k->gen;
	t->n = k->n_src;
	for (unsigned s = 0; s < k->n_src; s++) {
		const struct tenant *tt = &k->t[k->cfg->sources[s].tenant_idx];
		t->key[s] = tt->locked ? NULL : tt->key;
	}
	struct vdd_keytab *old = k->cur;
	k->cur = t;
	atomic_store_explicit(&k->sh->keytab, t, memory_order_release);
	k->dirty = false;
	retire(k, old, true, t->gen);
	k->dirty = false;
}

void vdd_keys_reclaim(struct vdd_keys *k, bool worker_finished)
{
	uint64_t wgen = atomic_load_explicit(&k->sh->worker_gen,
					     memory_order_acquire);
	unsigned j = 0;
	for (unsigned i = 0; i < k->n_ret; i++) {
		struct retired *r = &k->ret[i];
		if (worker_finished || r->gen <= wgen) {
			if (r->table)
				free(r->p);
			else
				veil_key_free(r->p);
		} else
			k->ret[j++] = *r;
	}
	k->n_ret = j;
}

struct vdd_keys *vdd_keys_new(struct vdd_shared *sh, struct vdd_config *c)
{
	struct vdd_keys *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	/* at most one tenant per source; the sources are known from now on */
	k->t = calloc(c->n_sources ? c->n_sources : 1, sizeof(*k->t));
	if (k->t == NULL || vdd_index_init(&k->idx, c->n_sources) != 0) {
		free(k->t);
		free(k);
		errno = ENOMEM;
		return NULL;
	}
	k->sh = sh;
	k->cfg = c;
	k->conn = -1;
	k->n_src = c->n_sources;
	k->round = 1;
	for (unsigned s = 0; s < c->n_sources; s++) {
		struct tenant *t = tenant_find(k, c->sources[s].tenant);
		if (t == NULL) {
			t = &k->t[k->n_t];
			snprintf(t->id, sizeof(t->id), "%s", c->sources[s].tenant);
			if (vdd_index_add(&k->idx, t->id, k->n_t, tenant_key, k) != 0) {
				vdd_keys_free(k);
				errno = ENOMEM;
				return NULL;
			}
			k->n_t++;
		}
		c->sources[s].tenant_idx = (unsigned)(t - k->t);
	}
	k->start = k->next_attach = k->down_since = veil_now();
	k->next_down_log = k->start + LINK_DOWN_SAY_AFTER;
	publish(k); /* every source without a key: hold */
	if (k->cur == NULL) {
		vdd_keys_free(k);
		errno = ENOMEM;
		return NULL;
	}
	return k;
}

static void on_key_add(struct vdd_keys *k, struct veil_link_key *m)
{
	m->tenant[VEIL_LINK_TENANT_MAX] = '\0';
	struct tenant *t = tenant_find(k, m->tenant);
	if (t == NULL) {
		explicit_bzero(m->key, sizeof(m->key)); /* not ours to keep */
		k->keys_ignored++;
		return;
	}
	if (!m->current) {
		/* the dataplane encrypts with the current version only, and
		 * controld sends no other */
		explicit_bzero(m->key, sizeof(m->key));
		k->keys_ignored++;
		return;
	}
	struct veil_key *key = veil_key_new(m->key, m->tenant, m->version);
	explicit_bzero(m->key, sizeof(m->key));
	if (key == NULL) {
		/* another version held is not current any more (it may even
		 * be destroyed): the tenant's lines wait rather than use it */
		fprintf(stderr, "veil-dataplane: key version %u of tenant %s cannot "
			"be kept in locked memory: %s\n", m->version, t->id,
			strerror(errno));
		if (t->current != m->version)
			drop_key(k, t);
		return;
	}
	k->keys_in++;
	t->deleted = false;
	/* the new current version replaces the one held (a roll), or a copy
	 * of itself (a resync's or a repair's resend) */
	retire(k, t->key, false, k->gen + 1);
	t->key = key;
	t->current = m->version;
	t->round = k->round;
	k->dirty = true;
}

static void on_key_destroy(struct vdd_keys *k, struct veil_link_key_ref *m)
{
	m->tenant[VEIL_LINK_TENANT_MAX] = '\0';
	struct tenant *t = tenant_find(k, m->tenant);
	if (t != NULL && t->key != NULL && t->current == m->version)
		drop_key(k, t);
}

static void on_tenant_state(struct vdd_keys *k, struct veil_link_tenant *m)
{
	m->tenant[VEIL_LINK_TENANT_MAX] = '\0';
	struct tenant *t = tenant_find(k, m->tenant);
	if (t == NULL)
		return;
	if (m->state == VEIL_LINK_TENANT_LOCKED) {
		t->locked = true;
		t->locked_round = k->round;
	} else if (m->state == VEIL_LINK_TENANT_ACTIVE) {
		t->locked = false;
	} else if (m->state == VEIL_LINK_TENANT_DELETED) {
		drop_key(k, t);
		t->deleted = true;
	}
	k->dirty = true;
}

/* End of a full resync: it is authoritative. */
static void on_sync_done(struct vdd_keys *k)
{
	for (unsigned i = 0; i < k->n_t; i++) {
		struct tenant *t = &k->t[i];
		if (t->key != NULL && t->round != k->round)
			drop_key(k, t);
		if (t->locked && t->locked_round != k->round)
			t->locked = false;
	}
	k->round++;
	k->synced = k->ever_synced = true;
	k->dirty = true;
}

/* A driver's row as the link carries it. */
static void link_row(const struct vdr_row *r, unsigned index, unsigned count,
		     struct veil_link_row *m)
{
	static const uint8_t state[] = {
		[VDR_ROW_DOWN] = VEIL_LINK_UP_DOWN,
		[VDR_ROW_CONNECTING] = VEIL_LINK_UP_CONNECTING,
		[VDR_ROW_CONNECTED] = VEIL_LINK_UP_CONNECTED,
		[VDR_ROW_LISTENING] = VEIL_LINK_UP_LISTENING,
	};
	memset(m, 0, sizeof(*m));
	m->kind = r->listener ? VEIL_LINK_ROW_LISTENER : VEIL_LINK_ROW_UPSTREAM;
	m->index = (uint8_t)index;
	m->count = (uint8_t)count;
	m->state = state[r->state];
	snprintf(m->proto, sizeof(m->proto), "%s", r->proto ? r->proto : "");
	snprintf(m->name, sizeof(m->name), "%s", r->name);
	snprintf(m->addr, sizeof(m->addr), "%s", r->addr);
	m->since_ms = (int64_t)(r->since * 1000.0);
	uint64_t *v = m->value;
	v[VEIL_LINK_ROW_QUEUED_LINES] = r->queued_lines;
	v[VEIL_LINK_ROW_QUEUED_BYTES] = r->queued_bytes;
	v[VEIL_LINK_ROW_SPOOLED_LINES] = r->spooled_lines;
	v[VEIL_LINK_ROW_SPOOLED_BYTES] = r->spooled_bytes;
	v[VEIL_LINK_ROW_DELIVERED] = r->delivered;
	v[VEIL_LINK_ROW_RESENT] = r->resent;
	v[VEIL_LINK_ROW_RECONNECTS] = r->connects;
	v[VEIL_LINK_ROW_DISCONNECTS] = r->disconnects;
	v[VEIL_LINK_ROW_CONNECT_FAILURES] = r->failures;
	v[VEIL_LINK_ROW_DROP_QUEUE_FULL] = r->drops[VDR_ROW_DROP_QUEUE_FULL];
	v[VEIL_LINK_ROW_DROP_NO_MEMORY] = r->drops[VDR_ROW_DROP_NO_MEMORY];
	v[VEIL_LINK_ROW_DROP_SPOOL_FULL] = r->drops[VDR_ROW_DROP_SPOOL_FULL];
	v[VEIL_LINK_ROW_DROP_SPOOL_ERROR] = r->drops[VDR_ROW_DROP_SPOOL_ERROR];
	v[VEIL_LINK_ROW_DROP_TOO_BIG] = r->drops[VDR_ROW_DROP_TOO_BIG];
	v[VEIL_LINK_ROW_KERNEL_DROPS] = r->kernel_drops;
}

/* The upstreams and listeners, as the worker published them: a ROW each
 * (numbered within its kind, VEIL_LINK_ROWS_MAX of each at most). */
static void send_rows(struct vdd_keys *k)
{
	struct vdr_row rows[VDD_MAX_ROWS];
	pthread_mutex_lock(&k->sh->rows_lock);
	unsigned n = k->sh->n_rows;
	memcpy(rows, k->sh->rows, n * sizeof(rows[0]));
	pthread_mutex_unlock(&k->sh->rows_lock);
	unsigned count[2] = { 0, 0 }, idx[2] = { 0, 0 };
	for (unsigned i = 0; i < n; i++)
		count[rows[i].listener]++;
	for (unsigned c = 0; c < 2; c++)
		if (count[c] > VEIL_LINK_ROWS_MAX)
			count[c] = VEIL_LINK_ROWS_MAX;
	for (unsigned i = 0; i < n; i++) {
		unsigned c = rows[i].listener;
		if (idx[c] >= count[c])
			continue;
		struct veil_link_row m;
		link_row(&rows[i], idx[c], count[c], &m);
		idx[c]++;
		veil_link_send(k->link, VEIL_LINK_MSG_ROW, &m, sizeof(m));
	}
}

static void send_counters(struct vdd_keys *k)
{
	struct veil_link_counters m;
	unsigned n = k->sh->n_workers > 1 ? k->sh->n_workers : 1;
	for (unsigned w = 0; w < n; w++) {
		memset(&m, 0, sizeof(m));
		m.worker = w;
		m.n = VEIL_LINK_CTR_COUNT;
		for (unsigned i = 0; i < VEIL_LINK_CTR_COUNT; i++)
			m.value[i] = atomic_load_explicit(n > 1 ? &k->sh->wctr[w][i]
							       : &k->sh->ctr[i],
							  memory_order_relaxed);
		veil_link_send(k->link, VEIL_LINK_MSG_COUNTERS, &m, sizeof(m));
	}
	send_rows(k);
}

/* The uid controld must run as, for messages. */
static const char *controld_who(const struct vdd_keys *k, char *buf, size_t cap)
{
	if (k->cfg->controld_uid >= 0)
		snprintf(buf, cap, "controld_user = %s", k->cfg->controld_user);
	else
		snprintf(buf, cap, "root or uid %u (no controld_user)",
			 (unsigned)geteuid());
	return buf;
}

/* A refusal is logged the first time, then at most every 10 s. */
static const char *attach_why(const struct vdd_keys *k)
{
	if (k->attach_errno == 0)
		return "not attached yet";
	return k->attach_errno == ENOENT || k->attach_errno == ECONNREFUSED
	       ? "nobody listens there" : strerror(k->attach_errno);
}

static void say_down(struct vdd_keys *k, double now)
{
	if (now < k->next_down_log)
		return;
	k->next_down_log = now + LINK_DOWN_SAY_EVERY;
	k->said_down = true;
	fprintf(stderr, "veil-dataplane: no link to veil-controld at %s (%s) for "
		"%.0f s: lines wait for their tenant's key up to wait_keys (%g s), "
		"then are dropped (no-key), never written in clear; still "
		"trying\n", k->cfg->link_socket, attach_why(k), now - k->down_since,
		k->cfg->wait_keys);
}

static bool refusal_log_due(struct vdd_keys *k, double now)
{
	if (now < k->next_refusal_log)
		return false;
	k->next_refusal_log = now + 10;
	return true;
}

/* Connect and check who listens; the region comes later (take_region). */
static void connect_link(struct vdd_keys *k, double now)
{
	struct veil_link_cred who;
	char w[80];

	k->next_attach = now + 0.05;
	k->conn = veil_link_connect(k->cfg->link_socket, k->cfg->controld_uid, &who);
	if (k->conn >= 0) {
		k->conn_since = now;
		return;
	}
	k->attach_errno = errno;
	if (errno != EPERM)
		return;
	/* someone else listens there: closed, nothing read from it */
	k->refused_peers++;
	k->refused_uid = who.uid;
	if (refusal_log_due(k, now))
		fprintf(stderr, "veil-dataplane: REFUSED the link at %s: it is "
			"served by uid %u (pid %u), not by veil-controld's user "
			"(%s); no key is taken from it (%llu refused so far)\n",
			k->cfg->link_socket, who.uid, who.pid,
			controld_who(k, w, sizeof(w)),
			(unsigned long long)k->refused_peers);
}

/* Take the region controld hands over on the checked connection. */
static void take_region(struct vdd_keys *k, double now)
{
	k->link = veil_link_attach(k->conn);
	if (k->link == NULL) {
		if (errno == EAGAIN && now - k->conn_since < 5)
			return; /* not yet: controld answers within its poll */
		k->attach_errno = errno == EAGAIN ? ETIMEDOUT : errno;
		if (errno == ECONNRESET && refusal_log_due(k, now))
			fprintf(stderr, "veil-dataplane: veil-controld at %s closed "
				"the connection without a region: does its "
				"dataplane_user take uid %u? is another dataplane "
				"connected? (its log says)\n", k->cfg->link_socket,
				(unsigned)geteuid());
		if (errno == EPROTO) {
			k->refused_regions++;
			if (refusal_log_due(k, now))
				fprintf(stderr, "veil-dataplane: REFUSED the region "
					"veil-controld handed over at %s: its "
					"handshake, seals, size or header failed a "
					"check (%llu refused so far)\n",
					k->cfg->link_socket, (unsigned long long)
					k->refused_regions);
		}
		close(k->conn);
		k->conn = -1;
		k->next_attach = now + 0.05;
		return;
	}
	k->conn = -1; /* the link's now */
	struct veil_link_hello hello = { .pid = (uint32_t)getpid(),
		.workers = k->sh->n_workers > 1 ? k->sh->n_workers : 1 };
	if (veil_link_send(k->link, VEIL_LINK_MSG_HELLO, &hello, sizeof(hello)) != 0) {
		k->attach_errno = errno;
		veil_link_close(k->link);
		k->link = NULL;
		k->next_attach = now + 0.05;
		return;
	}
	if (k->said_down)
		fprintf(stderr, "veil-dataplane: link to veil-controld at %s "
			"attached (after %.1f s without)\n", k->cfg->link_socket,
			now - k->down_since);
	k->said_down = false;
	k->ever_attached = true;
	k->synced = false;
	k->attaches++;
	k->next_stale = now + 0.1;
	k->next_counters = now;
}

void vdd_keys_poll(struct vdd_keys *k, bool final)
{
	union veil_link_payload m;
	enum veil_link_msg type;
	uint32_t len;
	double now = veil_now();

	if (k->link == NULL && k->conn < 0 && !final && now >= k->next_attach)
		connect_link(k, now);
	if (k->link == NULL && k->conn >= 0 && !final)
		take_region(k, now);
	if (k->link == NULL && !final)
		say_down(k, now);
	if (k->link != NULL) {
		veil_link_heartbeat(k->link);
		for (int n = 0; n < 4096; n++) {
			int rc = veil_link_recv(k->link, &type, m.raw, &len);
			if (rc == 0)
				break;
			if (rc < 0)
				continue; /* counted by the link */
			switch (type) {
			case VEIL_LINK_MSG_KEY_ADD: on_key_add(k, &m.key); break;
			case VEIL_LINK_MSG_KEY_DESTROY: on_key_destroy(k, &m.ref); break;
			case VEIL_LINK_MSG_TENANT_STATE: on_tenant_state(k, &m.ten); break;
			case VEIL_LINK_MSG_SYNC_DONE: on_sync_done(k); break;
			default: break;
			}
			explicit_bzero(m.raw, sizeof(m.raw));
		}
		if (final || now >= k->next_counters) {
			send_counters(k);
			k->next_counters = now + 1.0;
		}
		if (!final && now >= k->next_stale) {
			k->next_stale = now + 0.1;
			if (veil_link_stale(k->link)) {
				/* controld stopped or restarted (its end of the
				 * connection closed): keep the keys, connect
				 * again, through the same checks */
				veil_link_close(k->link);
				k->link = NULL;
				k->synced = false;
				k->next_attach = now;
				k->down_since = now;
				k->next_down_log = now + LINK_DOWN_SAY_AFTER;
				k->said_down = true;
				fprintf(stderr, "veil-dataplane: link to veil-controld "
					"at %s LOST (it stopped or restarted): the keys "
					"are kept; connecting again\n",
					k->cfg->link_socket);
			}
		}
	}
	if (k->dirty)
		publish(k);
	vdd_keys_reclaim(k, false);
}

const char *vdd_keys_why(const struct vdd_keys *k, unsigned ti, char *buf,
			 size_t cap)
{
	const struct tenant *t = &k->t[ti];
	double w = k->cfg->wait_keys;
	char who[80];
	if (!k->ever_attached && k->refused_peers > 0)
		snprintf(buf, cap, "the link socket %s is served by uid %u, not by "
			 "veil-controld's user (%s): refused %llu times, no key "
			 "taken", k->cfg->link_socket, k->refused_uid,
			 controld_who(k, who, sizeof(who)),
			 (unsigned long long)k->refused_peers);
	else if (!k->ever_attached && k->refused_regions > 0)
		snprintf(buf, cap, "the region veil-controld handed over at %s "
			 "failed a check (refused %llu times)", k->cfg->link_socket,
			 (unsigned long long)k->refused_regions);
	else if (!k->ever_attached && k->attach_errno == ECONNRESET)
		snprintf(buf, cap, "veil-controld at %s closed the connection "
			 "without a region (does its dataplane_user take uid %u? is "
			 "another dataplane connected?)", k->cfg->link_socket,
			 (unsigned)geteuid());
	else if (!k->ever_attached)
		snprintf(buf, cap, "veil-controld was not reachable on its link "
			 "socket %s within %g s: %s (is veil-controld running, "
			 "with link_socket = %s?)", k->cfg->link_socket, w,
			 attach_why(k), k->cfg->link_socket);
	else if (!k->ever_synced)
		snprintf(buf, cap, "attached to veil-controld's link, but its keys "
			 "did not arrive within %g s", w);
	else if (t->deleted)
		snprintf(buf, cap, "tenant %s was deleted", t->id);
	else if (t->locked)
		snprintf(buf, cap, "tenant %s is locked (veilctl tenant unlock %s)",
			 t->id, t->id);
	else if (t->current == 0)
		snprintf(buf, cap, "veil-controld has no key for tenant %s (no such "
			 "tenant? veilctl tenant list)", t->id);
	else
		snprintf(buf, cap, "tenant %s had no key for longer than %g s "
			 "(the keys came late, or the tenant was locked for a time)",
			 t->id, w);
	return buf;
}

void vdd_keys_describe(const struct vdd_keys *k, bool *attached, bool *synced,
		       unsigned *versions, unsigned *attaches)
{
	unsigned n = 0;
	for (unsigned i = 0; i < k->n_t; i++)
		n += k->t[i].key != NULL;
	*attached = k->ever_attached;
	*synced = k->ever_synced;
	*versions = n;
	*attaches = k->attaches;
}

void vdd_keys_link(const struct vdd_keys *k, struct vdd_link_info *li)
{
	li->connected = k->link != NULL;
	li->synced = k->link != NULL && k->synced;
	li->attaches = k->attaches;
	li->refused_peers = k->refused_peers;
	li->refused_regions = k->refused_regions;
	li->refused_uid = k->refused_uid;
}

unsigned vdd_keys_versions(const struct vdd_keys *k, unsigned ti,
			   uint32_t *v, unsigned cap, uint32_t *current,
			   bool *locked)
{
	if (ti >= k->n_t)
		return 0;
	const struct tenant *t = &k->t[ti];
	unsigned n = 0;
	if (t->key != NULL && cap > 0)
		v[n++] = t->current;
	*current = t->current;
	*locked = t->locked;
	return n;
}

unsigned vdd_keys_tenants(const struct vdd_keys *k)
{
	return k->n_t;
}

uint64_t vdd_keys_generation(const struct vdd_keys *k)
{
	return k->gen;
}

const char *vdd_keys_tenant_id(const struct vdd_keys *k, unsigned t)
{
	return t < k->n_t ? k->t[t].id : "";
}

void vdd_keys_free(struct vdd_keys *k)
{
	if (k == NULL)
		return;
	if (k->link != NULL)
		veil_link_close(k->link);
	if (k->conn >= 0)
		close(k->conn);
	vdd_keys_reclaim(k, true);
	free(k->ret);
	for (unsigned i = 0; k->t != NULL && i < k->n_t; i++)
		veil_key_free(k->t[i].key);
	free(k->t);
	vdd_index_free(&k->idx);
	free(k->cur);
	free(k);
}
