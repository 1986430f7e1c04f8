/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld's metrics, in the Prometheus text exposition format 0.0.4,
 * on GET /metrics at metrics_listen (off by default; a loopback address
 * unless metrics_allow_remote says otherwise).
 *
 * Two sides. The poll loop (ctl_metrics_tick) gathers the numbers into a
 * snapshot at most every second, or 100 ms after a request, and publishes
 * it under a mutex: a copy of a few KiB. libmicrohttpd's thread formats
 * the last published snapshot for each scrape: it reads nothing of the
 * daemon's own state, so a scrape can neither see the state half-changed
 * nor hold the loop up. The HTTP thread has every signal blocked: SIGTERM
 * and SIGHUP reach the poll loop.
 *
 * What is counted where: the dataplane's counters as its workers send them
 * up the link (veil_link_server_counters), the link's state, the tenant
 * table and the key cache in memory, and, for resolves, lookups and
 * refusals, the governance log itself: the records written since the
 * start, read in order from the last one seen. A refusal summary ("refused
 * N times") counts N; those come when their interval ends (a minute at
 * most). Nothing exposed names a tenant, a name, a token or a key: labels
 * are worker numbers, fixed reasons, the API's command names, and the
 * config's names of the dataplane's upstreams and listeners.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "veil_clock.h"
#include "metrics.h"

#define MAX_WORKERS 64
#define REFRESH_MS 1000      /* a new snapshot at least this often */
#define REFRESH_BUSY_MS 100  /* ... and this soon after a request */
#define AUDIT_ROWS_PER_PASS 4096 /* records read a pass: the loop goes on */
#define HTTP_CONNECTIONS 16
#define HTTP_TIMEOUT_S 10

/* The actions a refusal is counted under; anything else is "other". The
 * API's commands, the connection's own refusals, and "mixed" for a
 * summary of refusals of several actions. */
static const char *const actions[] = {
	"connect", "request", "status", "stats", "tenant.create", "tenant.list",
	"tenant.show", "tenant.set", "key.list", "key.roll", "key.destroy",
	"resolve", "lookup", "audit.show", "audit.tokens", "audit.verify",
	"role.list", "role.grant", "role.revoke", "config.show", "config.set",
	"mixed", "other",
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))

struct snapshot {
	int64_t started_ms;
	uint64_t requests, errors;
	unsigned callers;
	unsigned tenants, tenants_locked;
	int master_key_ok;      /* 1, 0, or -1: not checked */
	int64_t key_versions; /* < 0: the count at the start failed */
	uint64_t cache_hits, cache_misses, cache_evictions;
	unsigned cache_keys, cache_cap;
	uint64_t audit_records, audit_commits;
	uint64_t resolve_served, resolve_refused, tokens_resolved, tokens_failed;
	uint64_t lookup_served, lookup_refused;
	uint64_t refusals[N_ACTIONS];
	struct veil_link_server_status link;
	struct veil_link_worker_counters workers[MAX_WORKERS];
	/* the dataplane's upstreams and listeners; valid: sent since its hello */
	struct veil_link_row rows[2][VEIL_LINK_ROWS_MAX];
	bool row_valid[2][VEIL_LINK_ROWS_MAX];
};

static struct {
	int fd;                  /* the bound socket, until MHD takes it */
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	struct snapshot pub;     /* what scrapes see (under lock) */
	struct snapshot next;    /* the poll loop's, built between ticks */
	int64_t audit_seq;       /* the last governance record counted */
	bool locked_changed;     /* a tenant.set: count the locked tenants again */
	int64_t last_ms;
	uint64_t last_requests;
} m = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the poll loop's side ---- */

static size_t action_index(const char *a)
{
	if (!strcmp(a, "resolve.bulk"))
		a = "resolve";
	else if (!strcmp(a, "refusals"))
		a = "mixed"; /* a summary of refusals of several actions */
	for (size_t i = 0; i < N_ACTIONS - 1; i++)
		if (!strcmp(a, actions[i]))
			return i;
	return N_ACTIONS - 1;
}

/* One governance record, as api.c writes them: "refused: WHY", "refused N
 * times: WHY" (a summary), "ok: N resolved, M failed" (a resolve). */
static void count_record(struct snapshot *s, const char *action, const char *outcome)
{
	unsigned n;
	bool resolve = !strcmp(action, "resolve") || !strcmp(action, "resolve.bulk");
	bool lookup = !strcmp(action, "lookup");
	s->audit_records++;
	if (!strncmp(outcome, "refused", 7)) {
		if (sscanf(outcome, "refused %u time", &n) != 1)
			n = 1;
		s->refusals[action_index(action)] += n;
		s->resolve_refused += resolve ? n : 0;
		s->lookup_refused += lookup ? n : 0;
		return;
	}
	if (strncmp(outcome, "ok", 2) != 0)
		return;
	unsigned long long ok, failed;
	if (resolve) {
		s->resolve_served++;
		if (sscanf(outcome, "ok: %llu resolved, %llu failed", &ok, &failed) == 2) {
			s->tokens_resolved += ok;
			s->tokens_failed += failed;
		}
	} else if (lookup) {
		s->lookup_served++;
	} else if (!strcmp(action, "tenant.create") || !strcmp(action, "key.roll")) {
		/* a change commits with its record: each counted once */
		s->key_versions += s->key_versions >= 0;
	} else if (!strcmp(action, "key.destroy")) {
		s->key_versions -= s->key_versions > 0;
	} else if (!strncmp(action, "tenant.", 7)) { /* tenant.change: lock, unlock */
		m.locked_changed = true;
	}
}

/* The records written since the last pass, in order; at most
 * AUDIT_ROWS_PER_PASS (the next pass goes on). */
static void read_audit(struct ctld *d)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT seq, action, outcome FROM audit "
			       "WHERE seq > ? ORDER BY seq LIMIT ?", -1, &st, NULL))
		return;
	sqlite3_bind_int64(st, 1, m.audit_seq);
	sqlite3_bind_int(st, 2, AUDIT_ROWS_PER_PASS);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 1);
		const char *o = (const char *)sqlite3_column_text(st, 2);
		m.audit_seq = sqlite3_column_int64(st, 0);
		count_record(&m.next, a ? a : "", o ? o : "");
	}
	sqlite3_finalize(st);
}

/* The live key versions, counted once at the start: a full scan of the
 * keys table (1M tenants: about a second), too slow for the loop. From
 * then on the governance records of the changes keep the count. */
static int64_t count_key_versions(struct ctld *d)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_prepare_v2(d->store.db, "SELECT count(*) FROM keys WHERE destroyed "
			       "IS NULL", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return n;
}

/* The locked tenants: a walk of the table, after a tenant's change only. */
static unsigned count_locked(struct ctld *d)
{
	unsigned locked = 0;
	for (unsigned i = 0; i < d->n_tenants; i++)
		locked += d->tenants[i].locked;
	return locked;
}

static void gather(struct ctld *d, unsigned callers)
{
	struct snapshot *s = &m.next;
	read_audit(d);
	if (m.locked_changed) {
		m.locked_changed = false;
		s->tenants_locked = count_locked(d);
	}
	s->started_ms = d->started;
	s->requests = d->requests;
	s->errors = d->errors;
	s->callers = callers;
	s->tenants = d->n_tenants - d->n_deleted;
	s->master_key_ok = d->cfg.master_key_check_s == 0 ? -1 : d->mkey.state == CTL_MK_OK;
	s->cache_hits = d->keys.hits;
	s->cache_misses = d->keys.misses;
	s->cache_evictions = d->keys.evictions;
	s->cache_keys = d->keys.n;
	s->cache_cap = d->cfg.key_cache;
	s->audit_commits = d->store.commits;
	s->link = (struct veil_link_server_status){ .last_contact_ms = -1 };
	for (unsigned w = 0; w < MAX_WORKERS; w++) {
		const struct veil_link_worker_counters *c = d->link != NULL ?
			veil_link_server_counters(d->link, w) : NULL;
		s->workers[w] = c != NULL ? *c : (struct veil_link_worker_counters){ 0 };
	}
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < VEIL_LINK_ROWS_MAX; i++) {
			const struct veil_link_row *r = d->link != NULL ?
				veil_link_server_row(d->link, k, i) : NULL;
			s->row_valid[k][i] = r != NULL;
			if (r != NULL)
				s->rows[k][i] = *r;
		}
	if (d->link != NULL)
		veil_link_server_status(d->link, &s->link);
	pthread_mutex_lock(&m.lock);
	m.pub = *s;
	pthread_mutex_unlock(&m.lock);
}

void ctl_metrics_tick(struct ctld *d, unsigned callers)
{
	if (m.mhd == NULL)
		return;
	int64_t now = (int64_t)veil_now_ms();
	bool asked = d->requests != m.last_requests;
	if (now - m.last_ms < (asked ? REFRESH_BUSY_MS : REFRESH_MS))
		return;
	m.last_ms = now;
	m.last_requests = d->requests;
	gather(d, callers);
}

/* ---- the HTTP thread's side ---- */

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *text,
		unsigned long long v)
{
	help(f, name, type, text);
	fprintf(f, "%s %llu\n", name, v);
}

/* A family of the dataplane's per-worker counters: counter index i. */
static void per_worker(FILE *f, const struct snapshot *s, const char *name,
		       const char *type, const char *text, unsigned i)
{
	help(f, name, type, text);
	for (unsigned w = 0; w < MAX_WORKERS; w++)
		if (s->workers[w].valid && i < s->workers[w].n)
			fprintf(f, "%s{worker=\"%u\"} %llu\n", name, w,
				(unsigned long long)s->workers[w].value[i]);
}

static void format_dataplane(FILE *f, const struct snapshot *s)
{
	per_worker(f, s, "veil_dataplane_lines_in_total", "counter",
		   "Lines the dataplane's worker took in.", VEIL_LINK_CTR_LINES_IN);
	per_worker(f, s, "veil_dataplane_lines_out_total", "counter",
		   "Lines written whole to the output, anonymized.", VEIL_LINK_CTR_LINES_OUT);
	help(f, "veil_dataplane_lines_dropped_total", "counter",
	     "Lines dropped, never emitted, by reason.");
	for (unsigned w = 0; w < MAX_WORKERS; w++)
		for (unsigned i = VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT;
		     s->workers[w].valid && i < s->workers[w].n && i < VEIL_LINK_CTR_COUNT; i++)
			fprintf(f, "veil_dataplane_lines_dropped_total{worker=\"%u\","
				"reason=\"%s\"} %llu\n", w, veil_link_counter_name(i),
				(unsigned long long)s->workers[w].value[i]);
	per_worker(f, s, "veil_dataplane_lines_held", "gauge",
		   "Lines held now, waiting for their tenant's key.", VEIL_LINK_CTR_LINES_HELD);
	per_worker(f, s, "veil_dataplane_lines_not_written_total", "counter",
		   "Lines rewritten but not written: the output failed.",
		   VEIL_LINK_CTR_LINES_NOT_WRITTEN);
	help(f, "veil_dataplane_identities_total", "counter",
	     "Identities replaced by tokens, by kind.");
	for (unsigned w = 0; w < MAX_WORKERS; w++)
		if (s->workers[w].valid && s->workers[w].n > VEIL_LINK_CTR_IDENTITIES_DEVICE)
			fprintf(f, "veil_dataplane_identities_total{worker=\"%u\",kind=\"user\"} "
				"%llu\nveil_dataplane_identities_total{worker=\"%u\","
				"kind=\"device\"} %llu\n", w, (unsigned long long)
				s->workers[w].value[VEIL_LINK_CTR_IDENTITIES_USER], w,
				(unsigned long long)s->workers[w].value[VEIL_LINK_CTR_IDENTITIES_DEVICE]);
	per_worker(f, s, "veil_dataplane_read_bytes_total", "counter",
		   "Bytes read, line ends included.", VEIL_LINK_CTR_BYTES_IN);
	per_worker(f, s, "veil_dataplane_written_bytes_total", "counter",
		   "Bytes written, line ends included.", VEIL_LINK_CTR_BYTES_OUT);
	help(f, "veil_dataplane_counters_timestamp_seconds", "gauge",
	     "When the worker last sent its counters up the link.");
	for (unsigned w = 0; w < MAX_WORKERS; w++)
		if (s->workers[w].valid)
			fprintf(f, "veil_dataplane_counters_timestamp_seconds{worker=\"%u\"} "
				"%.3f\n", w, (double)s->workers[w].updated_ms / 1000.0);
}

static void format_link(FILE *f, const struct snapshot *s)
{
	one(f, "veil_link_connected", "gauge", "1 while a dataplane is connected.",
	    s->link.connected);
	one(f, "veil_link_synced", "gauge",
	    "1 while the connected dataplane has every live key version.", s->link.synced);
	one(f, "veil_link_connections_total", "counter",
	    "Dataplanes taken on the link since the start.", s->link.connections);
	help(f, "veil_link_refused_total", "counter",
	     "Link connections refused: from a uid other than dataplane_user, or "
	     "while a dataplane was connected.");
	fprintf(f, "veil_link_refused_total{reason=\"other_uid\"} %llu\n"
		"veil_link_refused_total{reason=\"busy\"} %llu\n",
		(unsigned long long)s->link.refused_peers,
		(unsigned long long)s->link.refused_busy);
	one(f, "veil_link_dataplane_silent", "gauge",
	    "1 while the last dataplane is dropped for silence (dataplane_watchdog) "
	    "and none connected since.", s->link.silent);
	one(f, "veil_link_silent_drops_total", "counter",
	    "Dataplanes dropped from the link for silence since the start.",
	    s->link.silent_drops);
	if (s->link.last_contact_ms >= 0) {
		help(f, "veil_link_last_contact_age_seconds", "gauge",
		     "Seconds since the dataplane was last heard from (or left).");
		fprintf(f, "veil_link_last_contact_age_seconds %.3f\n",
			(double)s->link.last_contact_ms / 1000.0);
	}
}

static void format_control(FILE *f, const struct snapshot *s)
{
	help(f, "veil_controld_start_time_seconds", "gauge",
	     "When veil-controld started, seconds since 1970.");
	fprintf(f, "veil_controld_start_time_seconds %.3f\n", (double)s->started_ms / 1000.0);
	one(f, "veil_api_requests_total", "counter", "Admin API requests handled.",
	    s->requests);
	one(f, "veil_api_request_errors_total", "counter",
	    "Admin API requests answered with an error (refusals included).", s->errors);
	one(f, "veil_api_callers", "gauge", "Admin API connections open.", s->callers);
	one(f, "veil_tenants", "gauge", "Tenants.", s->tenants);
	one(f, "veil_tenants_locked", "gauge",
	    "Tenants locked: no resolves, their lines are not emitted.", s->tenants_locked);
	if (s->master_key_ok >= 0)
		one(f, "veil_master_key_ok", "gauge", "1 if the master key file, read "
		    "again every master_key_check_interval, unwraps what it wraps.",
		    (unsigned long long)s->master_key_ok);
	if (s->key_versions >= 0)
		one(f, "veil_key_versions_live", "gauge",
		    "Key versions live (not destroyed), all tenants.",
		    (unsigned long long)s->key_versions);
	one(f, "veil_key_cache_hits_total", "counter",
	    "Key versions found unwrapped in the key cache.", s->cache_hits);
	one(f, "veil_key_cache_misses_total", "counter",
	    "Key versions unwrapped because the key cache did not hold them.",
	    s->cache_misses);
	one(f, "veil_key_cache_evictions_total", "counter",
	    "Key versions zeroized to make room in the key cache.", s->cache_evictions);
	one(f, "veil_key_cache_keys", "gauge", "Key versions kept unwrapped.", s->cache_keys);
	one(f, "veil_key_cache_capacity_keys", "gauge",
	    "Key versions the cache keeps at most (key_cache).", s->cache_cap);
	one(f, "veil_audit_records_total", "counter",
	    "Governance records written since the start.", s->audit_records);
	one(f, "veil_audit_commits_total", "counter",
	    "Governance log commits (fsyncs) since the start.", s->audit_commits);
	help(f, "veil_resolve_requests_total", "counter",
	     "Resolve requests (single and bulk), by outcome.");
	fprintf(f, "veil_resolve_requests_total{outcome=\"served\"} %llu\n"
		"veil_resolve_requests_total{outcome=\"refused\"} %llu\n",
		(unsigned long long)s->resolve_served,
		(unsigned long long)s->resolve_refused);
	help(f, "veil_resolve_tokens_total", "counter",
	     "Tokens in served resolve requests, by result.");
	fprintf(f, "veil_resolve_tokens_total{result=\"resolved\"} %llu\n"
		"veil_resolve_tokens_total{result=\"failed\"} %llu\n",
		(unsigned long long)s->tokens_resolved,
		(unsigned long long)s->tokens_failed);
	help(f, "veil_lookup_requests_total", "counter", "Lookup requests, by outcome.");
	fprintf(f, "veil_lookup_requests_total{outcome=\"served\"} %llu\n"
		"veil_lookup_requests_total{outcome=\"refused\"} %llu\n",
		(unsigned long long)s->lookup_served,
		(unsigned long long)s->lookup_refused);
	help(f, "veil_refusals_total", "counter",
	     "Requests and connections refused, by action, as the governance "
	     "log records them.");
	for (size_t i = 0; i < N_ACTIONS; i++)
		fprintf(f, "veil_refusals_total{action=\"%s\"} %llu\n", actions[i],
			(unsigned long long)s->refusals[i]);
}

/* A label value as the exposition format wants it: \\, \" and \\n escaped. */
static const char *label(const char *v, char *buf, size_t cap)
{
	size_t n = 0;
	for (; *v && n + 3 < cap; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			buf[n++] = '\\';
		buf[n++] = *v == '\n' ? 'n' : *v;
	}
	buf[n] = '\0';
	return buf;
}

/* One value of every upstream: family @p name, value @p i. */
static void per_upstream(FILE *f, const struct snapshot *s, const char *name,
			 const char *type, const char *text, unsigned i)
{
	char nb[96];
	help(f, name, type, text);
	for (unsigned k = 0; k < VEIL_LINK_ROWS_MAX; k++)
		if (s->row_valid[VEIL_LINK_ROW_UPSTREAM][k]) {
			const struct veil_link_row *r = &s->rows[VEIL_LINK_ROW_UPSTREAM][k];
			fprintf(f, "%s{upstream=\"%s\",protocol=\"%s\"} %llu\n", name,
				label(r->name, nb, sizeof(nb)), r->proto,
				(unsigned long long)r->value[i]);
		}
}

/* The upstreams (by their section's name and protocol) and the listeners'
 * kernel drops; nothing while no dataplane sent them. */
static void format_upstreams(FILE *f, const struct snapshot *s)
{
	char nb[96];
	help(f, "veil_upstream_up", "gauge",
	     "1 while the upstream's collector is connected (its row as the "
	     "dataplane last sent it).");
	for (unsigned k = 0; k < VEIL_LINK_ROWS_MAX; k++)
		if (s->row_valid[VEIL_LINK_ROW_UPSTREAM][k]) {
			const struct veil_link_row *r = &s->rows[VEIL_LINK_ROW_UPSTREAM][k];
			fprintf(f, "veil_upstream_up{upstream=\"%s\",protocol=\"%s\"} %d\n",
				label(r->name, nb, sizeof(nb)), r->proto,
				s->link.connected && r->state == VEIL_LINK_UP_CONNECTED);
		}
	per_upstream(f, s, "veil_upstream_queued_lines", "gauge",
		     "Lines in the upstream's memory queue, not acknowledged yet.",
		     VEIL_LINK_ROW_QUEUED_LINES);
	per_upstream(f, s, "veil_upstream_queued_bytes", "gauge",
		     "Bytes in the upstream's memory queue, framing included.",
		     VEIL_LINK_ROW_QUEUED_BYTES);
	per_upstream(f, s, "veil_upstream_spooled_lines", "gauge",
		     "Lines in the upstream's disk spool, not acknowledged yet.",
		     VEIL_LINK_ROW_SPOOLED_LINES);
	per_upstream(f, s, "veil_upstream_spooled_bytes", "gauge",
		     "Bytes of those lines in the spool.", VEIL_LINK_ROW_SPOOLED_BYTES);
	per_upstream(f, s, "veil_upstream_delivered_lines_total", "counter",
		     "Lines the collector acknowledged.", VEIL_LINK_ROW_DELIVERED);
	per_upstream(f, s, "veil_upstream_resent_lines_total", "counter",
		     "Lines sent again on a new connection (possible duplicates).",
		     VEIL_LINK_ROW_RESENT);
	per_upstream(f, s, "veil_upstream_connects_total", "counter",
		     "Connections to the collector made.", VEIL_LINK_ROW_RECONNECTS);
	per_upstream(f, s, "veil_upstream_disconnects_total", "counter",
		     "Connections to the collector lost.", VEIL_LINK_ROW_DISCONNECTS);
	per_upstream(f, s, "veil_upstream_connect_failures_total", "counter",
		     "Connection attempts that failed.", VEIL_LINK_ROW_CONNECT_FAILURES);
	help(f, "veil_upstream_dropped_lines_total", "counter",
	     "Lines the upstream dropped, by reason.");
	for (unsigned k = 0; k < VEIL_LINK_ROWS_MAX; k++)
		for (unsigned i = VEIL_LINK_ROW_DROP_QUEUE_FULL;
		     s->row_valid[VEIL_LINK_ROW_UPSTREAM][k] && i < VEIL_LINK_ROW_KERNEL_DROPS; i++) {
			const struct veil_link_row *r = &s->rows[VEIL_LINK_ROW_UPSTREAM][k];
			fprintf(f, "veil_upstream_dropped_lines_total{upstream=\"%s\","
				"protocol=\"%s\",reason=\"%s\"} %llu\n",
				label(r->name, nb, sizeof(nb)), r->proto,
				veil_link_row_value_name(i), (unsigned long long)r->value[i]);
		}
	help(f, "veil_listener_kernel_drops_total", "counter",
	     "Datagrams the kernel dropped at a UDP listener (its receive buffer "
	     "full).");
	for (unsigned k = 0; k < VEIL_LINK_ROWS_MAX; k++) {
		const struct veil_link_row *r = &s->rows[VEIL_LINK_ROW_LISTENER][k];
		if (s->row_valid[VEIL_LINK_ROW_LISTENER][k] && !strcmp(r->proto, "udp"))
			fprintf(f, "veil_listener_kernel_drops_total{listener=\"%s\","
				"protocol=\"udp\"} %llu\n", label(r->name, nb, sizeof(nb)),
				(unsigned long long)r->value[VEIL_LINK_ROW_KERNEL_DROPS]);
	}
}

/* The exposition text of the last snapshot (malloc'd), or NULL. */
static char *format(size_t *len)
{
	struct snapshot *s = malloc(sizeof(*s));
	char *buf = NULL;
	if (s == NULL)
		return NULL;
	pthread_mutex_lock(&m.lock);
	*s = m.pub;
	pthread_mutex_unlock(&m.lock);
	FILE *f = open_memstream(&buf, len);
	if (f != NULL) {
		format_control(f, s);
		format_link(f, s);
		format_dataplane(f, s);
		format_upstreams(f, s);
		if (fclose(f) != 0) {
			free(buf);
			buf = NULL;
		}
	}
	free(s);
	return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
		(void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT); /* read only */
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **req)
{
	static int first;
	(void)cls;
	(void)version;
	(void)upload;
	if (*req == NULL) { /* the headers are in: the body, if any, next */
		*req = &first;
		return MHD_YES;
	}
	if (*upload_len != 0) { /* a body: not read */
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "veil-controld serves /metrics only\n");
	size_t len;
	char *text = format(&len);
	if (text == NULL)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text,
								 MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	ctl_log("metrics: %s", msg);
}

int ctl_metrics_open(struct ctld *d, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (ctl_config_metrics_addr(&d->cfg, &ss, &len, err, errlen) != 0)
		return -1;
	if (len == 0)
		return 0; /* off */
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", d->cfg.metrics_listen,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	m.fd = fd;
	m.audit_seq = d->store.last_seq; /* counted from here on */
	m.next.key_versions = count_key_versions(d);
	m.next.tenants_locked = count_locked(d);
	return 0;
}

int ctl_metrics_start(struct ctld *d, char *err, size_t errlen)
{
	if (m.fd < 0)
		return 0;
	gather(d, 0);
	m.last_ms = (int64_t)veil_now_ms();
	/* the thread inherits this mask: signals go to the poll loop */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	m.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
				 MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				 MHD_OPTION_LISTEN_SOCKET, m.fd,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
				 MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (m.mhd == NULL) {
		snprintf(err, errlen, "metrics_listen %s: the HTTP server did not start",
			 d->cfg.metrics_listen);
		return -1;
	}
	m.fd = -1; /* MHD's now: it closes it */
	ctl_log("metrics on http://%s/metrics", d->cfg.metrics_listen);
	return 0;
}

void ctl_metrics_stop(void)
{
	if (m.mhd != NULL)
		MHD_stop_daemon(m.mhd);
	m.mhd = NULL;
	if (m.fd >= 0)
		close(m.fd);
	m.fd = -1;
}
