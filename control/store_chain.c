/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The governance log's hash chain: each record's MAC, long token lists
 * kept aside, the walk that verifies it (at start, in audit verify, before
 * pruning), the breaks a recovery accepted, and pruning in steps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "store_pvt.h"

/* ---- breaks a recovery accepted (meta audit_accepted) ---- */


static int acc_load(struct ctl_store *s, struct accepted *a, unsigned *n)
{
	static _Thread_local uint8_t buf[ACC_MAX * ACC_LEN + 32];
	uint8_t tag[32];
	int len;
	*n = 0;
	if (st_meta_get(s->db, "audit_accepted", buf, &len, sizeof(buf)) != 0)
		return st_count_of(s->db, "SELECT count(*) FROM meta WHERE k='audit_accepted'")
		       == 0 ? 0 : -1;
	if (len < 32 || (len - 32) % ACC_LEN != 0 ||
	    st_key_tag(s, "audit_accepted", buf, (size_t)len - 32, tag) != 0 ||
	    CRYPTO_memcmp(tag, buf + len - 32, 32) != 0)
		return -1;
	for (int off = 0; off < len - 32; off += ACC_LEN, (*n)++) {
		a[*n].first = (int64_t)st_get_be64(buf + off);
		a[*n].rec = (int64_t)st_get_be64(buf + off + 8);
		memcpy(a[*n].digest, buf + off + 16, 32);
		memcpy(a[*n].prev, buf + off + 48, 32);
	}
	return 0;
}

int st_acc_add(struct ctl_store *s, const struct accepted *e)
{
	static _Thread_local struct accepted a[ACC_MAX];
	static _Thread_local uint8_t buf[ACC_MAX * ACC_LEN + 32];
	unsigned n;
	if (acc_load(s, a, &n) != 0 || n >= ACC_MAX)
		return -1;
	a[n++] = *e;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = buf + i * ACC_LEN;
		st_put_be64(p, (uint64_t)a[i].first);
		st_put_be64(p + 8, (uint64_t)a[i].rec);
		memcpy(p + 16, a[i].digest, 32);
		memcpy(p + 48, a[i].prev, 32);
	}
	size_t len = n * ACC_LEN;
	return st_key_tag(s, "audit_accepted", buf, len, buf + len) == 0 &&
	       st_meta_put(s->db, "audit_accepted", buf, (int)len + 32) == 0 ? 0 : -1;
}

static void put_field(EVP_MAC_CTX *m, const char *v)
{
	uint8_t len[4];
	size_t n = v ? strlen(v) : 0;
	len[0] = v ? (uint8_t)(n >> 24) : 0xff; /* NULL differs from "" */
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	EVP_MAC_update(m, len, 4);
	if (n)
		EVP_MAC_update(m, (const uint8_t *)v, n);
}

int st_record_mac(struct ctl_store *s, const uint8_t prev[32],
		      const struct ctl_audit_rec *r, uint8_t out[32])
{
	EVP_MAC_CTX *m = st_audit_mac(s);
	char nums[64];
	size_t outl = 0;
	if (m == NULL)
		return -1;
	EVP_MAC_update(m, prev, 32);
	snprintf(nums, sizeof(nums), "%lld/%lld/%u", (long long)r->seq,
		 (long long)r->time, r->uid);
	put_field(m, nums);
	put_field(m, r->role);
	put_field(m, r->action);
	put_field(m, r->tenant);
	put_field(m, r->tokens);
	put_field(m, r->justification);
	put_field(m, r->outcome);
	return EVP_MAC_final(m, out, &outl, 32) == 1 && outl == 32 ? 0 : -1;
}


/* ---- long token lists, kept aside (struct ctl_token_list) ---- */

/* The SHA-256 of a list from its chunks, each JSON array text of at
 * least one token: "[" + the chunks without their brackets, joined by ","
 * + "]", the list as it would have been written inline. */
struct list_hash {
	EVP_MD_CTX *h;
	size_t chunks;
};

static int lh_begin(struct list_hash *l)
{
	l->chunks = 0;
	l->h = EVP_MD_CTX_new();
	return l->h != NULL && EVP_DigestInit_ex(l->h, EVP_sha256(), NULL) == 1 &&
	       EVP_DigestUpdate(l->h, "[", 1) == 1 ? 0 : -1;
}

static int lh_chunk(struct list_hash *l, const char *text, size_t len)
{
	if (len < 3 || text[0] != '[' || text[len - 1] != ']')
		return -1;
	return (l->chunks++ == 0 || EVP_DigestUpdate(l->h, ",", 1) == 1) &&
	       EVP_DigestUpdate(l->h, text + 1, len - 2) == 1 ? 0 : -1;
}

static int lh_end(struct list_hash *l, char hex[65])
{
	uint8_t d[32];
	unsigned n = 0;
	int ok = EVP_DigestUpdate(l->h, "]", 1) == 1 &&
		 EVP_DigestFinal_ex(l->h, d, &n) == 1 && n == 32;
	EVP_MD_CTX_free(l->h);
	l->h = NULL;
	for (int i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return ok ? 0 : -1;
}

/* The digest form of a list whose first tokens are head (JSON array
 * text): a new string, or NULL. */
char *st_list_form(const struct ctl_token_list *list, const char *head)
{
	struct list_hash l;
	char hex[65];
	size_t total = 0;
	if (lh_begin(&l) != 0) {
		EVP_MD_CTX_free(l.h);
		return NULL;
	}
	for (size_t i = 0; i < list->n_chunks; i++) {
		total += list->chunk_count[i];
		if (list->chunk_count[i] == 0 ||
		    lh_chunk(&l, list->chunk[i], strlen(list->chunk[i])) != 0) {
			EVP_MD_CTX_free(l.h);
			return NULL;
		}
	}
	json_t *first = json_loads(head, 0, NULL);
	if (lh_end(&l, hex) != 0 || total != list->count || !json_is_array(first)) {
		json_decref(first);
		return NULL;
	}
	json_t *o = json_pack("{s:I, s:s, s:o}", "count", (json_int_t)total,
			      "sha256", hex, "first", first);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

/* A digest form's count and SHA-256 (hex); -1 if it is not one. */
static int list_form_read(const char *text, json_int_t *count, char hex[65],
			  json_t **first)
{
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *c = json_object_get(o, "count");
	const char *h = json_string_value(json_object_get(o, "sha256"));
	json_t *f = json_object_get(o, "first");
	int rc = -1;
	if (json_is_integer(c) && json_integer_value(c) > 0 && h != NULL &&
	    strlen(h) == 64 && json_is_array(f)) {
		*count = json_integer_value(c);
		memcpy(hex, h, 65);
		if (first != NULL)
			*first = json_incref(f);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* The list kept aside for record seq against its digest form: the
 * chunks in order, each of the tokens its row says, hashing to the
 * digest, as many as it counts. */
static int check_list(struct ctl_store *s, int64_t seq, const char *form, char *why,
		      size_t whylen)
{
	sqlite3_stmt *st;
	struct list_hash l;
	json_int_t count, at = 0, idx = 0;
	char want[65], got[65];
	bool ok = list_form_read(form, &count, want, NULL) == 0 && lh_begin(&l) == 0;
	if (!ok || sqlite3_prepare_v2(s->db, "SELECT idx, first, n, tokens FROM "
				      "audit_tokens WHERE seq=? ORDER BY idx", -1, &st,
				      NULL) != SQLITE_OK) {
		EVP_MD_CTX_free(l.h);
		snprintf(why, whylen, "record %lld: its token list cannot be read",
			 (long long)seq);
		return -1;
	}
	sqlite3_bind_int64(st, 1, seq);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		json_t *a = t ? json_loadb(t, len, 0, NULL) : NULL;
		ok = sqlite3_column_int64(st, 0) == idx++ &&
		     sqlite3_column_int64(st, 1) == at &&
		     json_is_array(a) && json_array_size(a) > 0 &&
		     (json_int_t)json_array_size(a) == sqlite3_column_int64(st, 2) &&
		     lh_chunk(&l, t, len) == 0;
		at += (json_int_t)json_array_size(a);
		json_decref(a);
	}
	sqlite3_finalize(st);
	ok = ok && at == count && lh_end(&l, got) == 0 && strcmp(got, want) == 0;
	EVP_MD_CTX_free(l.h);
	if (!ok) {
		snprintf(why, whylen, "record %lld: its token list (audit_tokens) was "
			 "altered", (long long)seq);
		return -1;
	}
	return 0;
}

/* Rows of audit_tokens that belong to no record kept aside: 0 if none. */
static int64_t stray_lists(struct ctl_store *s)
{
	return st_count_of(s->db, "SELECT count(*) FROM (SELECT DISTINCT seq FROM "
			"audit_tokens) t LEFT JOIN audit a ON a.seq = t.seq WHERE "
			"a.seq IS NULL OR a.tokens IS NULL OR substr(a.tokens, 1, 1) != '{'");
}

int ctl_audit_tokens_shown(const char *field, char **shown, size_t *total)
{
	json_int_t count;
	char hex[65];
	json_t *first = NULL;
	*shown = NULL;
	if (field[0] == '{') {
		if (list_form_read(field, &count, hex, &first) != 0)
			return -1;
		*total = (size_t)count;
		*shown = json_dumps(first, JSON_COMPACT);
		json_decref(first);
		return *shown != NULL ? 0 : -1;
	}
	json_t *a = json_loads(field, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return -1;
	}
	*total = json_array_size(a);
	if (*total > CTL_TOKENS_INLINE_MAX) {
		/* an inline list from before lists were kept aside */
		while (json_array_size(a) > CTL_TOKENS_HEAD)
			json_array_remove(a, json_array_size(a) - 1);
		*shown = json_dumps(a, JSON_COMPACT);
	}
	json_decref(a);
	return 0;
}

/* The slice [offset, offset + max) of array a, appended to out. */
static void slice_into(json_t *out, json_t *a, size_t base, size_t offset, size_t max)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		if (base + i >= offset && base + i < offset + max)
			json_array_append(out, json_array_get(a, i));
}

int ctl_audit_tokens(struct ctl_store *s, int64_t seq, size_t offset, size_t max,
		     json_t **out, size_t *total, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	json_int_t count;
	char hex[65];
	int rc = -1;
	*out = NULL;
	*total = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT tokens FROM audit WHERE seq=?", -1, &st,
			       NULL) != SQLITE_OK) {
		snprintf(why, whylen, "database: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "no record %lld in the governance log", (long long)seq);
		sqlite3_finalize(st);
		return -1;
	}
	const char *field = (const char *)sqlite3_column_text(st, 0);
	json_t *list = json_array();
	snprintf(why, whylen, "record %lld: its tokens do not read (audit verify "
		 "says more)", (long long)seq);
	if (field == NULL)
		rc = 0;
	else if (field[0] == '[') {
		json_t *a = json_loads(field, 0, NULL);
		if (json_is_array(a)) {
			*total = json_array_size(a);
			slice_into(list, a, 0, offset, max);
			rc = 0;
		}
		json_decref(a);
	} else if (list_form_read(field, &count, hex, NULL) == 0) {
		sqlite3_stmt *c;
		*total = (size_t)count;
		rc = 0;
		if (sqlite3_prepare_v2(s->db, "SELECT first, tokens FROM audit_tokens "
				       "WHERE seq=?1 AND first + n > ?2 AND first < ?3 "
				       "ORDER BY idx", -1, &c, NULL) != SQLITE_OK)
			rc = -1;
		else {
			sqlite3_bind_int64(c, 1, seq);
			sqlite3_bind_int64(c, 2, (int64_t)offset);
			sqlite3_bind_int64(c, 3, (int64_t)(offset + max));
			while (rc == 0 && sqlite3_step(c) == SQLITE_ROW) {
				json_t *a = json_loadb((const char *)sqlite3_column_text(c, 1),
						       (size_t)sqlite3_column_bytes(c, 1), 0, NULL);
				if (!json_is_array(a))
					rc = -1;
				else
					slice_into(list, a, (size_t)sqlite3_column_int64(c, 0),
						   offset, max);
				json_decref(a);
			}
			sqlite3_finalize(c);
		}
	}
	sqlite3_finalize(st);
	if (rc == 0) {
		*out = list;
		why[0] = '\0';
	} else
		json_decref(list);
	return rc;
}

/* ---- checking records ---- */

static const char *const col_name[10] = { "seq", "time", "uid", "role", "action",
	"tenant", "tokens", "justification", "outcome", "mac" };

static const char *type_name(int t)
{
	switch (t) {
	case SQLITE_INTEGER: return "an integer";
	case SQLITE_FLOAT: return "a real";
	case SQLITE_TEXT: return "text";
	case SQLITE_BLOB: return "a blob";
	default: return "null";
	}
}

/* One row of AUDIT_SELECT: 0 if every field is of its column's type and
 * the MAC chains from prev (its MAC in mac), and with lists, a token list
 * kept aside matches its digest form; else -1 and why. The types are read
 * before any value, which could convert them. */
static int check_row(struct ctl_store *s, sqlite3_stmt *st, const uint8_t prev[32],
		     uint8_t mac[32], bool lists, char *why, size_t whylen)
{
	static const int want[10] = { SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER,
		SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT,
		SQLITE_TEXT, SQLITE_BLOB };
	int types[10];
	for (int c = 0; c < 10; c++)
		types[c] = sqlite3_column_type(st, c);
	long long seq = sqlite3_column_int64(st, 0);
	for (int c = 0; c < 10; c++) {
		bool nullable = c >= 5 && c <= 7;
		if (types[c] != want[c] && !(nullable && types[c] == SQLITE_NULL)) {
			snprintf(why, whylen, "record %lld was altered: its %s is %s, "
				 "not %s", seq, col_name[c], type_name(types[c]),
				 type_name(want[c]));
			return -1;
		}
	}
	struct ctl_audit_rec r = {
		.seq = seq,
		.time = sqlite3_column_int64(st, 1),
		.uid = (unsigned)sqlite3_column_int64(st, 2),
		.role = (const char *)sqlite3_column_text(st, 3),
		.action = (const char *)sqlite3_column_text(st, 4),
		.tenant = (const char *)sqlite3_column_text(st, 5),
		.tokens = (const char *)sqlite3_column_text(st, 6),
		.justification = (const char *)sqlite3_column_text(st, 7),
		.outcome = (const char *)sqlite3_column_text(st, 8),
	};
	/* what the MAC covers must be all there is: a uid that fits, and
	 * text without a NUL hiding more after it */
	bool clean = sqlite3_column_int64(st, 2) >= 0 &&
		     sqlite3_column_int64(st, 2) <= UINT32_MAX;
	for (int c = 3; c <= 8; c++)
		if (types[c] != SQLITE_NULL &&
		    strlen((const char *)sqlite3_column_text(st, c)) !=
		    (size_t)sqlite3_column_bytes(st, c))
			clean = false;
	if (!clean || st_record_mac(s, prev, &r, mac) != 0 ||
	    sqlite3_column_bytes(st, 9) != 32 ||
	    CRYPTO_memcmp(mac, sqlite3_column_blob(st, 9), 32) != 0) {
		snprintf(why, whylen, "record %lld was altered or inserted", seq);
		return -1;
	}
	if (lists && r.tokens != NULL && r.tokens[0] == '{')
		return check_list(s, seq, r.tokens, why, whylen);
	return 0;
}

/* SHA-256 of the rows first..end-1 as they are, every field with its
 * type: what a recovery accepted, so that a later change to them shows. */
static int rows_digest(struct ctl_store *s, int64_t first, int64_t end, uint8_t out[32])
{
	sqlite3_stmt *st;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	uint8_t b[8];
	int ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
		 sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq >= ?1 AND seq < ?2 "
				    "ORDER BY seq", -1, &st, NULL) == SQLITE_OK;
	if (!ok) {
		EVP_MD_CTX_free(h);
		return -1;
	}
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int64(st, 2, end);
	st_put_be64(b, (uint64_t)first);
	EVP_DigestUpdate(h, b, 8);
	st_put_be64(b, (uint64_t)end);
	EVP_DigestUpdate(h, b, 8);
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int c = 0; c < 10; c++) {
			uint8_t t = (uint8_t)sqlite3_column_type(st, c);
			EVP_DigestUpdate(h, &t, 1);
			if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
				st_put_be64(b, t == SQLITE_INTEGER ?
					 (uint64_t)sqlite3_column_int64(st, c) :
					 (uint64_t)(int64_t)(sqlite3_column_double(st, c) * 1e6));
				EVP_DigestUpdate(h, b, 8);
			} else if (t != SQLITE_NULL) {
				const void *v = sqlite3_column_blob(st, c);
				int n = sqlite3_column_bytes(st, c);
				st_put_be64(b, (uint64_t)n);
				EVP_DigestUpdate(h, b, 8);
				if (n > 0)
					EVP_DigestUpdate(h, v, (size_t)n);
			}
		}
	sqlite3_finalize(st);
	unsigned outl = 0;
	ok = EVP_DigestFinal_ex(h, out, &outl) == 1 && outl == 32;
	EVP_MD_CTX_free(h);
	return ok ? 0 : -1;
}

/* "record 5 is missing", "records 5-9 are missing", "no record is
 * missing" */
const char *st_missing(char *buf, size_t cap, int64_t first, int64_t last)
{
	if (last < first)
		snprintf(buf, cap, "no record is missing");
	else if (last == first)
		snprintf(buf, cap, "record %lld is missing", (long long)first);
	else
		snprintf(buf, cap, "records %lld-%lld are missing", (long long)first,
			 (long long)last);
	return buf;
}

/* Walk the chain from the anchor, or from a checkpoint after it (from,
 * from_mac: a record whose MAC is known good; from 0: the anchor).
 * Returns 0 if it is intact up to the head, or every break in it was
 * accepted by a recovery; else the seq where the first other break
 * starts, what it is in why, and in first the accepted-break entry a
 * recovery would add for it. Without a transaction open it reads in
 * snapshots of CTL_WALK_CHUNK records (a long walk holds no snapshot, and
 * so the WAL, for its whole length); the head is checked in the last. */
int64_t st_walk_chain(struct ctl_store *s, int64_t from, const uint8_t *from_mac,
			  int64_t *count, char *why, size_t whylen,
			  struct accepted *first);

int64_t st_walk(struct ctl_store *s, int64_t *count, char *why, size_t whylen,
		    struct accepted *first)
{
	int64_t bad = st_walk_chain(s, 0, NULL, count, why, whylen, first);
	st_mac_release(s);
	return bad;
}

/* One record of the walk at the row st holds: chained on, a gap or a bad
 * record skipped where a recovery accepted it, or the break (its seq, what
 * it is in why). */
static int64_t walk_row(struct ctl_store *s, sqlite3_stmt *st, const struct accepted *acc,
			unsigned nacc, uint8_t prev[32], int64_t *expect, int64_t *count,
			char *why, size_t whylen)
{
	uint8_t mac[32];
	int64_t seq = sqlite3_column_int64(st, 0);
	while (seq >= *expect) {
		char w[256];
		if (seq == *expect && check_row(s, st, prev, mac, true, w, sizeof(w)) == 0) {
			memcpy(prev, mac, 32);
			*expect = seq + 1;
			(*count)++;
			return 0;
		}
		if (seq != *expect) {
			char what[80];
			snprintf(w, sizeof(w), "%s (next is %lld)", st_missing(what,
				 sizeof(what), *expect, seq - 1), (long long)seq);
		}
		/* a break: one a recovery accepted, as it was then? */
		const struct accepted *e = NULL;
		for (unsigned i = 0; i < nacc && e == NULL; i++)
			if (acc[i].first == *expect)
				e = &acc[i];
		uint8_t dg[32];
		if (e != NULL && e->rec > *expect &&
		    rows_digest(s, e->first, e->rec, dg) == 0 &&
		    CRYPTO_memcmp(dg, e->digest, 32) == 0) {
			memcpy(prev, e->prev, 32);
			*expect = e->rec;
			continue;
		}
		snprintf(why, whylen, "%s%s", w, e != NULL ? " (and changed "
			 "since the recovery that accepted it)" : "");
		return *expect;
	}
	return 0;
}

/* The end of a walk: the head names the last record verified, and no
 * token list is kept for a record that is not there. */
static int64_t walk_end(struct ctl_store *s, int64_t expect, const uint8_t prev[32],
			char *why, size_t whylen)
{
	int64_t head;
	uint8_t head_mac[32];
	if (st_get_pos(s, "audit_head", &head, head_mac) != 0) {
		snprintf(why, whylen, "the chain's anchor or head is missing or "
			 "not authentic");
		return expect;
	}
	if (expect - 1 < head) {
		snprintf(why, whylen, "the log ends at record %lld but its head is "
			 "record %lld: records were removed from the end",
			 (long long)(expect - 1), (long long)head);
		return expect;
	}
	if (expect - 1 > head) {
		snprintf(why, whylen, "record %lld is after the head (record %lld)",
			 (long long)(head + 1), (long long)head);
		return head + 1;
	}
	if (CRYPTO_memcmp(prev, head_mac, 32) != 0) {
		snprintf(why, whylen, "the head does not match record %lld",
			 (long long)head);
		return head;
	}
	if (stray_lists(s) != 0) {
		/* not part of the chain; reported, never believed */
		snprintf(why, whylen, "the token lists table (audit_tokens) holds "
			 "lists of no record kept aside: rows were added");
		return head + 1;
	}
	return 0;
}

int64_t st_walk_chain(struct ctl_store *s, int64_t from, const uint8_t *from_mac,
			  int64_t *count, char *why, size_t whylen,
			  struct accepted *first)
{
	static _Thread_local struct accepted acc[ACC_MAX];
	uint8_t prev[32], head_mac[32];
	int64_t anchor = 0, head = 0, bad = 0;
	unsigned nacc = 0;
	sqlite3_stmt *st = NULL;
	bool own = sqlite3_get_autocommit(s->db) != 0;

	*count = 0;
	if (own && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "cannot read the log: %s", sqlite3_errmsg(s->db));
		return 1;
	}
	if (st_get_pos(s, "audit_anchor", &anchor, prev) != 0 ||
	    st_get_pos(s, "audit_head", &head, head_mac) != 0) {
		snprintf(why, whylen, "the chain's anchor or head is missing or "
			 "not authentic");
		bad = anchor > 0 ? anchor + 1 : 1;
		goto out;
	}
	if (acc_load(s, acc, &nacc) != 0) {
		snprintf(why, whylen, "the list of breaks accepted by recoveries "
			 "(meta audit_accepted) is not authentic");
		bad = anchor + 1;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			       -1, &st, NULL)) {
		snprintf(why, whylen, "cannot read the log: %s", sqlite3_errmsg(s->db));
		bad = anchor + 1;
		goto out;
	}
	int64_t expect = anchor + 1;
	if (from > anchor && from_mac != NULL) {
		memcpy(prev, from_mac, 32);
		expect = from + 1;
	}
	for (;;) {
		int64_t rows = 0;
		sqlite3_bind_int64(st, 1, expect - 1);
		sqlite3_bind_int64(st, 2, own ? CTL_WALK_CHUNK : -1);
		while (bad == 0 && sqlite3_step(st) == SQLITE_ROW) {
			rows++;
			bad = walk_row(s, st, acc, nacc, prev, &expect, count, why, whylen);
		}
		sqlite3_reset(st);
		if (bad != 0 || !own || rows < CTL_WALK_CHUNK)
			break;
		/* the next snapshot; pruning may have moved the anchor past
		 * where the walk is: it goes on from the anchor, authentic */
		int64_t a2;
		uint8_t amac[32];
		if (sqlite3_exec(s->db, "COMMIT; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    st_get_pos(s, "audit_anchor", &a2, amac) != 0) {
			snprintf(why, whylen, "the chain's anchor is missing or not "
				 "authentic");
			bad = expect;
			break;
		}
		if (a2 >= expect) {
			memcpy(prev, amac, 32);
			expect = a2 + 1;
		}
	}
	if (bad == 0)
		bad = walk_end(s, expect, prev, why, whylen);
out:
	sqlite3_finalize(st);
	if (bad != 0 && first != NULL) {
		/* a recovery record would be the next after the head, chained
		 * from it; the rows from the break up to it are kept as found */
		first->first = bad;
		first->rec = s->last_seq + 1;
		memcpy(first->prev, s->last_mac, 32);
		if (rows_digest(s, first->first, first->rec, first->digest) != 0)
			bad = -1;
	}
	if (own)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return bad;
}

int64_t ctl_audit_verify(struct ctl_store *s, int64_t *count, char *why,
			 size_t whylen)
{
	return st_walk(s, count, why, whylen, NULL);
}

int ctl_store_reader(const struct ctl_store *s, struct ctl_store *r, char *err,
		     size_t errlen)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	memset(r, 0, sizeof(*r));
	r->mark_fd = -1;
	if (path == NULL || sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY |
					    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: a reader connection: %s",
			 path ? path : "?", r->db ? sqlite3_errmsg(r->db) : "cannot open");
		sqlite3_close(r->db);
		r->db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(r->db, 5000);
	r->audit_key = s->audit_key;
	r->reader = true;
	return 0;
}

void ctl_store_reader_close(struct ctl_store *r)
{
	st_mac_release(r);
	st_forget_kept(r);
	sqlite3_close(r->db);
	memset(r, 0, sizeof(*r));
}

void ctl_audit_refusal(const char *why, const char *conf, char *out, size_t cap)
{
	int n = snprintf(out, cap, "the governance log cannot be trusted: the chain "
			 "is broken: %s: refusing to serve", why);
	if (n >= 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, RECOVERY_HINT, conf[0] ? conf : "FILE");
}

/* One step of pruning: at most max records of the oldest run older than
 * before, in a transaction of its own that moves the anchor with them.
 * Returns how many went (0: the run is over), or -1. */
int64_t ctl_audit_prune_step(struct ctl_store *s, int64_t before, int64_t max,
			     int64_t upto, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	uint8_t prev[32], mac[32];
	int64_t anchor, last;
	int64_t rc = -1;

	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (st_get_pos(s, "audit_anchor", &anchor, prev) != 0) {
		snprintf(why, whylen, "pruning the governance log stopped: its anchor "
			 "is missing or not authentic");
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, AUDIT_SELECT "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			       -1, &st, NULL))
		goto out;
	sqlite3_bind_int64(st, 1, anchor);
	sqlite3_bind_int64(st, 2, max);
	last = anchor;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
		     sqlite3_column_int64(st, 1) >= before) || sqlite3_column_int64(st, 0) > upto)
			break; /* not old enough (or the mark's): the run ends */
		char w[256];
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq != last + 1) {
			snprintf(w, sizeof(w), "record %lld is missing", (long long)(last + 1));
			seq = last + 1;
		} else if (check_row(s, st, prev, mac, false, w, sizeof(w)) == 0) {
			memcpy(prev, mac, 32);
			last = seq;
			continue;
		}
		snprintf(why, whylen, "pruning the governance log stopped at record "
			 "%lld, which fails verification (%s): it and every record "
			 "after it are kept", (long long)seq, w);
		break;
	}
	sqlite3_finalize(st);
	rc = 0;
	if (last > anchor) {
		static const char *const del[] = { "DELETE FROM audit WHERE seq <= ?",
			"DELETE FROM audit_tokens WHERE seq <= ?" };
		rc = st_put_pos(s, "audit_anchor", last, prev) == 0 ? last - anchor : -1;
		for (int i = 0; i < 2 && rc >= 0; i++) {
			if (sqlite3_prepare_v2(s->db, del[i], -1, &st, NULL) != SQLITE_OK) {
				rc = -1;
				break;
			}
			sqlite3_bind_int64(st, 1, last);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = -1;
			sqlite3_finalize(st);
		}
	}
out:
	st_mac_release(s);
	if (sqlite3_exec(s->db, rc >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL)
	    != SQLITE_OK)
		rc = -1;
	if (rc > 0) {
		s->anchor_seq = last;
		if (!s->keeper_side) /* the keeper's owner marks it */
			st_chain_committed(s);
	}
	return rc;
}

int ctl_store_give_back_step(struct ctl_store *s)
{
	/* on the keeper's connection, shorter steps: the loop's commits wait
	 * for each (it holds the writer's lock) */
	if (st_count_of(s->db, "PRAGMA freelist_count") > 0 &&
	    sqlite3_exec(s->db, s->keeper_side ?
			 "PRAGMA incremental_vacuum(" STR(CTL_KEEPER_VACUUM_PAGES) ")" :
			 "PRAGMA incremental_vacuum(" STR(CTL_VACUUM_PAGES) ")",
			 NULL, NULL, NULL) == SQLITE_OK &&
	    st_count_of(s->db, "PRAGMA freelist_count") > 0)
		return 1;
	st_checkpoint_soon(s);
	return 0;
}

/* After a prune: give the freed pages back to the file system, a few at a
 * time (each step its own short transaction), then let the WAL go back
 * into the database; journal_size_limit truncates it at its next reset. */
static void give_back(struct ctl_store *s)
{
	for (int i = 0; i < CTL_VACUUM_STEPS && ctl_store_give_back_step(s) == 1; i++)
		;
}

int64_t ctl_audit_prune(struct ctl_store *s, int64_t before, int64_t max, char *why,
			size_t whylen)
{
	int64_t total = 0, n = 0;

	why[0] = '\0';
	/* Only the oldest run of records that are all older than the cut-off
	 * goes, each verified from the anchor before its time is believed: a
	 * record after a newer one stays even if its clock said earlier, and
	 * one that does not verify stops it (reported, never deleted). The
	 * newest record dropped becomes the anchor. In steps of
	 * CTL_PRUNE_STEP records, a transaction each: no step holds the
	 * database long, and the WAL holds one step's pages, not all. */
	while (max <= 0 || total < max) {
		int64_t step = CTL_PRUNE_STEP;
		if (max > 0 && max - total < step)
			step = max - total;
		n = ctl_audit_prune_step(s, before, step, INT64_MAX, why, whylen);
		if (n <= 0)
			break;
		total += n;
		if (n < step || why[0] != '\0')
			break;
	}
	if (total > 0)
		give_back(s);
	return n < 0 && total == 0 ? -1 : total;
}
