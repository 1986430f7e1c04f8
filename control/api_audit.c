/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The API's reads of the governance log: audit.show's pages, a record's
 * tokens, audit.verify. The two long ones run in the worker (worker.c) on
 * a connection of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_pvt.h"

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
 * audit_action and merged, or (n_actions < 0) as a prefix test. With a
 * time bound the rows come from audit_time (INDEXED BY: left to itself,
 * SQLite walks seq to spare the sort, through every record outside the
 * window: a week of a year-long log read from the newest end was a scan
 * of all of it); the page is then sorted, its cost the window's. */
void ctl_audit_page_sql(char *sql, size_t cap, json_t *req, bool ascending,
			int n_actions)
{
	char f[200];
	const char *dir = ascending ? "ASC" : "DESC";
	const char *from = json_object_get(req, "since_ms") || json_object_get(req, "until_ms") ?
			   "audit INDEXED BY audit_time" : "audit";
	snprintf(f, sizeof(f), "seq > ?1 AND seq < ?2%s%s%s%s",
		 json_object_get(req, "since_ms") ? " AND time >= ?3" : "",
		 json_object_get(req, "until_ms") ? " AND time <= ?4" : "",
		 json_object_get(req, "uid") ? " AND uid = ?5" : "",
		 json_object_get(req, "tenant") ? " AND tenant = ?6" : "");
	int k = snprintf(sql, cap, "SELECT seq,time,uid,role,action,tenant,tokens,"
			 "justification,outcome FROM %s WHERE ", n_actions > 0 ? "audit" : from);
	if (n_actions < 0)
		k += snprintf(sql + k, cap - (size_t)k, "%s AND (action = ?7 OR (action "
			      ">= ?7 || '.' AND action < ?7 || '/'))", f);
	else if (n_actions == 0)
		k += snprintf(sql + k, cap - (size_t)k, "%s", f);
	else {
		k += snprintf(sql + k, cap - (size_t)k, "seq IN (");
		for (int i = 0; i < n_actions; i++)
			k += snprintf(sql + k, cap - (size_t)k, "%sSELECT seq FROM (SELECT "
				      "seq FROM %s WHERE %s AND action = ?%d ORDER BY "
				      "seq %s LIMIT ?8)", i ? " UNION ALL " : "", from, f,
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

/* Runs in the worker (or inline without it): the store's connection only. */
json_t *read_audit_show(struct ctl_store *store, json_t *req)
{
	sqlite3_stmt *st;
	json_t *since = json_object_get(req, "since_ms"), *until = json_object_get(req, "until_ms");
	json_t *actor = json_object_get(req, "uid"), *limit = json_object_get(req, "limit");
	json_t *tenant = json_object_get(req, "tenant"), *action = json_object_get(req, "action");
	if ((since && !json_is_integer(since)) || (until && !json_is_integer(until)) ||
	    (actor && !json_is_integer(actor)) || (limit && !json_is_integer(limit)) ||
	    (tenant && !json_is_string(tenant)) || (action && !json_is_string(action)))
		return api_error("filters: since_ms, until_ms, uid, limit are integers; "
			     "tenant, action are strings");
	int64_t after, before;
	const char *why = page_bounds(req, &after, &before);
	if (why != NULL)
		return api_error("%s", why);
	json_int_t n = limit ? json_integer_value(limit) : AUDIT_PAGE_DEFAULT;
	if (n < 1)
		return api_error("\"limit\" must be at least 1 (a page holds at most %d)",
			     AUDIT_PAGE_MAX);
	if (n > AUDIT_PAGE_MAX)
		n = AUDIT_PAGE_MAX;
	/* after a seq: the oldest page after it; else the newest before */
	bool ascending = after >= 0;
	char names[ACTIONS_MAX][64];
	int n_actions = 0;
	if (action != NULL && json_string_length(action) > 32)
		return api_error("\"action\" is an action name (at most 32 characters)");
	if (action != NULL) {
		n_actions = action_group(store->db, json_string_value(action), names,
					 ACTIONS_MAX);
		if (n_actions == 0) /* none in the log */
			return json_pack("{s:b, s:[]}", "ok", 1, "records");
		if (n_actions > ACTIONS_MAX)
			n_actions = -1;
	}
	char sql[ACTIONS_MAX * 320 + 512];
	ctl_audit_page_sql(sql, sizeof(sql), req, ascending, n_actions);
	if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL))
		return api_error("database: %s", sqlite3_errmsg(store->db));
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
		return api_error("out of memory");
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
		return api_error("database: %s", sqlite3_errmsg(store->db));
	}
	/* in seq order either way: built from the front, never inserted at 0 */
	json_t *recs = json_array();
	for (size_t i = 0; i < got; i++)
		json_array_append_new(recs, page[ascending ? i : got - 1 - i]);
	free(page);
	json_t *a = api_ok();
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

json_t *cmd_audit_tokens(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	(void)who;
	json_t *seq = json_object_get(req, "seq"), *off = json_object_get(req, "offset");
	json_t *lim = json_object_get(req, "limit");
	if (!json_is_integer(seq) || (off && !json_is_integer(off)) ||
	    (lim && !json_is_integer(lim)))
		return api_error("\"seq\" (a record's) is required; offset and limit are "
			     "integers");
	json_int_t o = off ? json_integer_value(off) : 0;
	json_int_t n = lim ? json_integer_value(lim) : AUDIT_TOKENS_DEFAULT;
	if (o < 0 || o > CTLD_MAX_TOKENS || n < 1)
		return api_error("\"offset\" must be 0..%d and \"limit\" at least 1",
			     CTLD_MAX_TOKENS);
	if (n > AUDIT_TOKENS_MAX)
		n = AUDIT_TOKENS_MAX;
	json_t *list;
	size_t total;
	char why[160];
	if (ctl_audit_tokens(&d->store, json_integer_value(seq), (size_t)o, (size_t)n,
			     &list, &total, why, sizeof(why)) != 0)
		return api_error("%s", why);
	json_t *a = api_ok();
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
static json_t *recoveries(struct ctl_store *store, char *problem, size_t cap)
{
	sqlite3_stmt *st;
	json_t *list = json_array();
	if (sqlite3_prepare_v2(store->db, "SELECT seq,time,uid,role,justification,"
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
json_t *read_audit_verify(struct ctl_store *store, json_t *req)
{
	(void)req;
	int64_t count;
	char why[512] = "", problem[4096] = "";
	int64_t bad = ctl_audit_verify(store, &count, why, sizeof(why));
	json_t *rec = recoveries(store, problem, sizeof(problem));
	json_t *a = api_ok();
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

struct ctl_job *ctl_walk_job(void)
{
	struct ctl_job *j = calloc(1, sizeof(*j));
	if (j != NULL) {
		j->fn = read_audit_verify;
		j->req = json_object();
		j->slot = -1;
		j->keep = true;
	}
	return j;
}
