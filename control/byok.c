/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Bring your own key: see byok.h for the format, docs/keys.md for the
 * whole story. The database holds, per tenant, the KEK versions it has
 * used (byok_keks: token key label and id, the public key, when it was
 * made current and when it stopped being so) and, when the checks locked
 * it, why and since when (byok_lock). Memory holds only what the checks
 * found since the start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api_pvt.h"
#include "byok.h"
#include "p11.h"

#define MAGIC "VKB1"
#define HDR 8

/* A BYOK tenant as the checks see it. */
struct byok_tenant {
	char id[VEIL_TENANT_MAX + 1];
	int64_t failing_since; /* ms, 0: the last check worked */
	char why[320];         /* of the last failure */
};

struct ctl_byok {
	struct ctld *d;
	struct ctl_p11 *p11;
	char open_err[256];    /* why the token did not open (last try) */
	int64_t next_check;
	unsigned n, cap;
	struct byok_tenant *t;
	char locked_why[400];
};

static bool configured(const struct ctld *d)
{
	return d->cfg.byok_module[0] != '\0';
}

/* The token, opened now if it is not open; NULL with why in err. */
static struct ctl_p11 *token(struct ctl_byok *b, char *err, size_t errlen)
{
	const struct ctl_config *c = &b->d->cfg;
	if (b->p11 != NULL)
		return b->p11;
	if (!configured(b->d)) {
		snprintf(err, errlen, "no PKCS#11 token is configured: set module, "
			 "token_label and pin_file in the [byok] section of %s",
			 c->path[0] ? c->path : "veil.conf");
		return NULL;
	}
	b->p11 = ctl_p11_open(c->byok_module, c->byok_token, c->byok_pin_file, err,
			      errlen);
	if (b->p11 == NULL && strcmp(b->open_err, err) != 0) {
		ctl_log("byok: %s", err); /* once per new reason */
		snprintf(b->open_err, sizeof(b->open_err), "%s", err);
	}
	if (b->p11 != NULL)
		b->open_err[0] = '\0';
	return b->p11;
}

/* The KEK row id: its label and key id (copied into the buffers). */
static int kek_row(struct ctld *d, int64_t id, char *label, size_t ll, char *key_id,
		   size_t kl)
{
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(d->store.db, "SELECT label, key_id FROM byok_keks "
			       "WHERE id=?", -1, &st, NULL))
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(label, ll, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(key_id, kl, "%s", (const char *)sqlite3_column_text(st, 1));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int64_t blob_kek(const uint8_t *in, size_t len)
{
	if (len <= HDR || memcmp(in, MAGIC, 4) != 0)
		return -1;
	return (int64_t)in[4] << 24 | (int64_t)in[5] << 16 | (int64_t)in[6] << 8 | in[7];
}

/* ctl_unwrap_key's hook: a key a KEK wraps, unwrapped in the token. */
static int unwrap_hook(void *ctx, const uint8_t *in, size_t len, uint8_t key[32])
{
	struct ctl_byok *b = ctx;
	char label[256], key_id[160], err[320];
	int64_t id = blob_kek(in, len);
	struct ctl_p11_key k;
	struct ctl_p11 *p;
	if (id < 0 || kek_row(b->d, id, label, sizeof(label), key_id, sizeof(key_id)) != 0)
		return -1;
	if ((p = token(b, err, sizeof(err))) == NULL)
		return -1;
	if (ctl_p11_find(p, label, key_id, &k, err, sizeof(err)) != 0) {
		ctl_log("byok: %s", err);
		return -1;
	}
	int rc = ctl_p11_unwrap(p, &k, in + HDR, len - HDR, key, err, sizeof(err));
	if (rc != 0)
		ctl_log("byok: key \"%s\": %s", label, err);
	ctl_p11_key_free(&k);
	return rc;
}

/* The tenant's current KEK row (0: none, the master key), and its public
 * key if pub is not NULL. */
static int64_t current_kek(struct ctld *d, const char *tenant, EVP_PKEY **pub)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	if (sqlite3_prepare_v2(d->store.db, "SELECT id, pub FROM byok_keks WHERE "
			       "tenant=? AND retired IS NULL ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		if (pub != NULL) {
			const unsigned char *der = sqlite3_column_blob(st, 1);
			*pub = d2i_PUBKEY(NULL, &der, sqlite3_column_bytes(st, 1));
			if (*pub == NULL)
				id = -1;
		}
	}
	sqlite3_finalize(st);
	return id;
}

static int wrap_kek(int64_t id, EVP_PKEY *pub, const uint8_t key[32], uint8_t *out,
		    size_t cap)
{
	if (cap <= HDR)
		return -1;
	memcpy(out, MAGIC, 4);
	out[4] = (uint8_t)(id >> 24);
	out[5] = (uint8_t)(id >> 16);
	out[6] = (uint8_t)(id >> 8);
	out[7] = (uint8_t)id;
	int n = ctl_rsa_oaep_wrap(pub, key, 32, out + HDR, cap - HDR);
	return n < 0 ? -1 : n + HDR;
}

int ctl_byok_wrap(struct ctld *d, const char *tenant, const uint8_t key[32],
		  uint8_t *out, size_t cap)
{
	EVP_PKEY *pub = NULL;
	/* without ctl_byok_init (a test's controld) there are no KEKs */
	int64_t id = d->byok != NULL ? current_kek(d, tenant, &pub) : 0;
	int n;
	if (id < 0)
		n = -1;
	else if (id == 0)
		n = cap >= 64 ? ctl_wrap_key(d->store.wrap, key, out) : -1;
	else
		n = wrap_kek(id, pub, key, out, cap);
	EVP_PKEY_free(pub);
	return n;
}

static struct byok_tenant *state_of(struct ctl_byok *b, const char *id, bool add)
{
	for (unsigned i = 0; i < b->n; i++)
		if (strcmp(b->t[i].id, id) == 0)
			return &b->t[i];
	if (!add)
		return NULL;
	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 16;
		struct byok_tenant *t = realloc(b->t, cap * sizeof(*t));
		if (t == NULL)
			return NULL;
		b->t = t;
		b->cap = cap;
	}
	struct byok_tenant *t = &b->t[b->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	return t;
}

static void state_drop(struct ctl_byok *b, const char *id)
{
	struct byok_tenant *t = state_of(b, id, false);
	if (t != NULL)
		*t = b->t[--b->n];
}

int ctl_byok_init(struct ctld *d, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(d->store.db,
			 "CREATE TABLE IF NOT EXISTS byok_keks(id INTEGER PRIMARY KEY "
			 "AUTOINCREMENT, tenant TEXT NOT NULL, version INTEGER NOT NULL, "
			 "label TEXT NOT NULL, key_id TEXT NOT NULL DEFAULT '', "
			 "bits INTEGER NOT NULL, pub BLOB NOT NULL, created INTEGER NOT NULL, "
			 "retired INTEGER);"
			 "CREATE INDEX IF NOT EXISTS byok_keks_tenant ON byok_keks(tenant);"
			 "CREATE TABLE IF NOT EXISTS byok_lock(tenant TEXT PRIMARY KEY, "
			 "since INTEGER NOT NULL, reason TEXT NOT NULL);",
			 NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "byok tables: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	struct ctl_byok *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->d = d;
	d->byok = b;
	ctl_wrap_set_byok(d->store.wrap, unwrap_hook, b);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT DISTINCT tenant FROM byok_keks "
			       "WHERE retired IS NULL", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			state_of(b, (const char *)sqlite3_column_text(st, 0), true);
		sqlite3_finalize(st);
	}
	if (configured(d)) {
		char e[320];
		if (token(b, e, sizeof(e)) != NULL)
			ctl_log("byok: token \"%s\" open (%u tenants with their own key)",
				d->cfg.byok_token, b->n);
	}
	return 0;
}

void ctl_byok_forget(struct ctld *d, const char *tenant)
{
	if (d->byok != NULL)
		state_drop(d->byok, tenant);
}

void ctl_byok_free(struct ctld *d)
{
	if (d->byok == NULL)
		return;
	if (d->store.wrap != NULL)
		ctl_wrap_set_byok(d->store.wrap, NULL, NULL);
	ctl_p11_close(d->byok->p11);
	free(d->byok->t);
	free(d->byok);
	d->byok = NULL;
}

/* ---- records ---- */

static json_t *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error(const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++) /* quoted request bytes that are not UTF-8 */
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* ---- rewrapping ---- */

/* Every live version of tenant, unwrapped (whatever wraps it) and wrapped
 * again under kek (0: the master key), in the open transaction. Returns
 * how many, or -1 with why in err. */
static int rewrap_all(struct ctld *d, const char *tenant, int64_t kek, EVP_PKEY *pub,
		      char *err, size_t errlen)
{
	sqlite3_stmt *sel, *upd;
	int n = 0;
	if (sqlite3_prepare_v2(d->store.db, "SELECT version, wrapped FROM keys WHERE "
			       "tenant=? AND destroyed IS NULL ORDER BY version", -1,
			       &sel, NULL))
		goto db;
	if (sqlite3_prepare_v2(d->store.db, "UPDATE keys SET wrapped=? WHERE tenant=? "
			       "AND version=?", -1, &upd, NULL)) {
		sqlite3_finalize(sel);
		goto db;
	}
	sqlite3_bind_text(sel, 1, tenant, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(sel, 0);
		uint8_t raw[32], out[CTL_WRAPPED_MAX];
		int wl;
		if (ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(sel, 1),
				   (size_t)sqlite3_column_bytes(sel, 1), raw) != 0) {
			snprintf(err, errlen, "key version %lld does not unwrap under what "
				 "wraps it now (is that KEK still on the token?)",
				 (long long)v);
			n = -1;
			break;
		}
		wl = kek ? wrap_kek(kek, pub, raw, out, sizeof(out))
			 : ctl_wrap_key(d->store.wrap, raw, out);
		explicit_bzero(raw, sizeof(raw));
		if (wl < 0) {
			snprintf(err, errlen, "key version %lld: wrap failed", (long long)v);
			n = -1;
			break;
		}
		sqlite3_reset(upd);
		sqlite3_bind_blob(upd, 1, out, wl, SQLITE_TRANSIENT);
		sqlite3_bind_text(upd, 2, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 3, v);
		if (sqlite3_step(upd) != SQLITE_DONE) {
			snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
			n = -1;
			break;
		}
		n++;
	}
	if (n >= 0 && rc != SQLITE_DONE) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		n = -1;
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return n;
db:
	snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
	return -1;
}

static int exec_tenant(struct ctld *d, const char *sql, const char *tenant, int64_t arg)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, sql, -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, arg);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* A new KEK version for tenant (retiring the one before), in the open
 * transaction; its row id, or -1. */
static int64_t add_kek(struct ctld *d, const char *tenant, const char *label,
		       const char *key_id, const struct ctl_p11_key *k, int64_t *version)
{
	unsigned char *der = NULL;
	int dl = i2d_PUBKEY(k->pub, &der);
	sqlite3_stmt *st;
	int64_t id = -1;
	*version = 1;
	if (dl <= 0)
		return -1;
	if (sqlite3_prepare_v2(d->store.db, "SELECT coalesce(max(version), 0) + 1 FROM "
			       "byok_keks WHERE tenant=?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			*version = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (exec_tenant(d, "UPDATE byok_keks SET retired=?2 WHERE tenant=?1 AND "
			"retired IS NULL", tenant, ctl_now()) != 0 ||
	    sqlite3_prepare_v2(d->store.db, "INSERT INTO byok_keks(tenant, version, label, "
			       "key_id, bits, pub, created) VALUES(?,?,?,?,?,?,?)", -1,
			       &st, NULL)) {
		OPENSSL_free(der);
		return -1;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, *version);
	sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key_id ? key_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, k->bits);
	sqlite3_bind_blob(st, 6, der, dl, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, ctl_now());
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(d->store.db);
	sqlite3_finalize(st);
	OPENSSL_free(der);
	return id;
}

static const char *get_str(json_t *req, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(req, key));
	return s != NULL && strlen(s) <= max ? s : NULL;
}

static bool reason_ok(const char *j)
{
	size_t n = 0;
	for (; j != NULL && *j; j++)
		n += *j != ' ' && *j != '\t';
	return n >= 8;
}

/* tenant.byok: {"tenant", "action": enable|rotate|disable, "key_label",
 * "key_id" (hex, optional), "reason"} */
json_t *ctl_cmd_tenant_byok(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	struct ctl_byok *b = d->byok;
	const char *id = get_str(req, "tenant", VEIL_TENANT_MAX);
	const char *action = get_str(req, "action", 16);
	const char *label = get_str(req, "key_label", 200);
	const char *key_id = get_str(req, "key_id", 128);
	const char *reason = get_str(req, "reason", 4096);
	struct ctl_tenant *t = id != NULL && veil_tenant_valid(id) ? ctl_tenant_find(d, id)
								  : NULL;
	if (t == NULL)
		return error("no tenant \"%.80s\"", id ? id : "");
	if (action == NULL || (strcmp(action, "enable") && strcmp(action, "rotate") &&
			       strcmp(action, "disable")))
		return error("\"action\" must be enable, rotate or disable");
	if (!reason_ok(reason))
		return error("\"reason\" must say why in a sentence (at least 8 "
			     "non-blank characters)");
	bool off = !strcmp(action, "disable");
	int64_t cur = current_kek(d, t->id, NULL);
	if (cur < 0)
		return error("database: cannot read the KEKs of %s", t->id);
	if (!strcmp(action, "enable") && cur > 0)
		return error("%s already has its own key: use rotate to change it", t->id);
	if (strcmp(action, "enable") && cur == 0)
		return error("%s is on the appliance master key: use enable", t->id);
	if (!off && (label == NULL || label[0] == '\0'))
		return error("give the key's label (\"key_label\")");
	char err[400];
	struct ctl_p11_key k = { 0 };
	struct ctl_p11 *p = NULL;
	if (!off) {
		/* validated before anything changes: it exists, is RSA of a
		 * size we take, permits decrypt or unwrap, and round-trips */
		if ((p = token(b, err, sizeof(err))) == NULL ||
		    ctl_p11_validate(p, label, key_id, &k, err, sizeof(err)) != 0) {
			char out[480];
			snprintf(out, sizeof(out), "refused: %s", err);
			api_record(d, who, "tenant.byok", t->id, reason, out);
			return error("%s", err);
		}
	}
	if (ctl_store_begin(&d->store) != 0) {
		ctl_p11_key_free(&k);
		return error("the governance log cannot be written: nothing was changed");
	}
	int64_t kek = 0, kver = 0;
	int n = -1;
	if (!off) {
		kek = add_kek(d, t->id, label, key_id, &k, &kver);
		if (kek < 0)
			snprintf(err, sizeof(err), "database: %s", sqlite3_errmsg(d->store.db));
	} else if (exec_tenant(d, "UPDATE byok_keks SET retired=?2 WHERE tenant=?1 AND "
			       "retired IS NULL", t->id, ctl_now()) != 0) {
		kek = -1;
		snprintf(err, sizeof(err), "database: %s", sqlite3_errmsg(d->store.db));
	}
	if (kek >= 0)
		n = rewrap_all(d, t->id, kek, k.pub, err, sizeof(err));
	char outcome[480];
	if (n < 0) {
		ctl_store_abort(&d->store);
		ctl_p11_key_free(&k);
		snprintf(outcome, sizeof(outcome), "failed: %s: %s", action, err);
		api_record(d, who, "tenant.byok", t->id, reason, outcome);
		return error("%s: nothing was changed", err);
	}
	if (off)
		snprintf(outcome, sizeof(outcome), "ok: disable: %d key versions "
			 "rewrapped under the appliance master key", n);
	else
		snprintf(outcome, sizeof(outcome), "ok: %s: KEK version %lld (token \"%s\", "
			 "key \"%s\"%s%s, RSA-%u), %d key versions rewrapped", action,
			 (long long)kver, d->cfg.byok_token, label, key_id && *key_id ?
			 ", id " : "", key_id && *key_id ? key_id : "", k.bits, n);
	ctl_p11_key_free(&k);
	if (api_record(d, who, "tenant.byok", t->id, reason, outcome) != 0 ||
	    ctl_store_commit(&d->store) != 0) {
		ctl_store_abort(&d->store);
		ctl_log("governance log commit failed: %s; the change was rolled back",
			sqlite3_errmsg(d->store.db));
		return error("the governance log cannot be written: nothing was changed");
	}
	/* the data keys themselves are unchanged: what is kept unwrapped and
	 * what the dataplane holds stay as they are */
	if (off)
		state_drop(b, t->id);
	else {
		struct byok_tenant *s = state_of(b, t->id, true);
		if (s != NULL)
			s->failing_since = 0;
	}
	json_t *a = json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "tenant", t->id,
			      "action", action, "rewrapped", n);
	json_t *j = ctl_byok_json(d, t);
	if (j != NULL)
		json_object_set_new(a, "byok", j);
	return a;
}

/* ---- tenant show ---- */

static void iso(int64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *ctl_byok_json(struct ctld *d, const struct ctl_tenant *t)
{
	sqlite3_stmt *st;
	json_t *keks = json_array(), *cur = NULL;
	if (sqlite3_prepare_v2(d->store.db, "SELECT id, version, label, key_id, bits, "
			       "created, retired FROM byok_keks WHERE tenant=? ORDER BY id",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:I}", "kek_version",
					      (json_int_t)sqlite3_column_int64(st, 1),
					      "key_label", (const char *)sqlite3_column_text(st, 2),
					      "key_id", (const char *)sqlite3_column_text(st, 3),
					      "bits", sqlite3_column_int(st, 4),
					      "created_ms", (json_int_t)sqlite3_column_int64(st, 5));
			bool retired = sqlite3_column_type(st, 6) != SQLITE_NULL;
			if (retired)
				json_object_set_new(o, "retired_ms",
						    json_integer(sqlite3_column_int64(st, 6)));
			else
				cur = o;
			json_array_append_new(keks, o);
		}
		sqlite3_finalize(st);
	}
	if (json_array_size(keks) == 0) {
		json_decref(keks);
		return NULL;
	}
	json_t *j = json_pack("{s:b, s:s, s:o}", "enabled", cur != NULL, "token",
			      d->cfg.byok_token, "keks", keks);
	if (cur != NULL) {
		json_object_set(j, "kek_version", json_object_get(cur, "kek_version"));
		json_object_set(j, "key_label", json_object_get(cur, "key_label"));
	}
	/* which KEK version wraps each live data key version */
	json_t *wraps = json_object();
	if (sqlite3_prepare_v2(d->store.db, "SELECT version, wrapped FROM keys WHERE "
			       "tenant=? AND destroyed IS NULL ORDER BY version", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_stmt *kv = NULL;
		sqlite3_prepare_v2(d->store.db, "SELECT version FROM byok_keks WHERE id=?",
				   -1, &kv, NULL);
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char v[16];
			snprintf(v, sizeof(v), "%lld", (long long)sqlite3_column_int64(st, 0));
			int64_t id = blob_kek(sqlite3_column_blob(st, 1),
					      (size_t)sqlite3_column_bytes(st, 1));
			json_t *w = json_string("master");
			if (id >= 0 && kv != NULL) {
				sqlite3_reset(kv);
				sqlite3_bind_int64(kv, 1, id);
				if (sqlite3_step(kv) == SQLITE_ROW) {
					json_decref(w);
					w = json_integer(sqlite3_column_int64(kv, 0));
				}
			}
			json_object_set_new(wraps, v, w);
		}
		sqlite3_finalize(kv);
		sqlite3_finalize(st);
	}
	json_object_set_new(j, "wrapped_by", wraps);
	struct byok_tenant *s = d->byok ? state_of(d->byok, t->id, false) : NULL;
	if (s != NULL && s->failing_since) {
		json_object_set_new(j, "unreachable_since_ms", json_integer(s->failing_since));
		json_object_set_new(j, "unreachable_why", json_string(s->why));
	}
	if (sqlite3_prepare_v2(d->store.db, "SELECT since, reason FROM byok_lock WHERE "
			       "tenant=?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			json_object_set_new(j, "locked_since_ms",
					    json_integer(sqlite3_column_int64(st, 0)));
			json_object_set_new(j, "locked_why", json_string(
					    (const char *)sqlite3_column_text(st, 1)));
		}
		sqlite3_finalize(st);
	}
	return j;
}

const char *ctl_byok_locked_why(struct ctld *d, const struct ctl_tenant *t)
{
	sqlite3_stmt *st;
	const char *why = "tenant is locked";
	if (d->byok == NULL || sqlite3_prepare_v2(d->store.db, "SELECT since, reason "
						  "FROM byok_lock WHERE tenant=?", -1,
						  &st, NULL) != SQLITE_OK)
		return why;
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		char when[32];
		iso(sqlite3_column_int64(st, 0), when, sizeof(when));
		snprintf(d->byok->locked_why, sizeof(d->byok->locked_why),
			 "tenant is locked (byok lockdown since %s): %s", when,
			 (const char *)sqlite3_column_text(st, 1));
		why = d->byok->locked_why;
	}
	sqlite3_finalize(st);
	return why;
}

/* ---- the checks ---- */

/* The tenant's KEK: on the token, and the current version unwraps. */
static int check(struct ctld *d, struct ctl_tenant *t, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	uint8_t raw[32];
	int rc = -1;
	if (sqlite3_prepare_v2(d->store.db, "SELECT wrapped FROM keys WHERE tenant=? AND "
			       "version=? AND destroyed IS NULL", -1, &st, NULL)) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->current);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "current key version %u not found", t->current);
	} else {
		const uint8_t *in = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		char label[256], key_id[160];
		int64_t id = blob_kek(in, len);
		struct ctl_p11_key k;
		struct ctl_p11 *p;
		if (id < 0) /* not wrapped by a KEK (yet): nothing to check */
			rc = 0;
		else if (kek_row(d, id, label, sizeof(label), key_id, sizeof(key_id)) != 0)
			snprintf(err, errlen, "KEK row %lld not found", (long long)id);
		else if ((p = token(d->byok, err, errlen)) != NULL &&
			 ctl_p11_find(p, label, key_id, &k, err, errlen) == 0) {
			rc = ctl_p11_unwrap(p, &k, in + HDR, len - HDR, raw, err, errlen);
			explicit_bzero(raw, sizeof(raw));
			ctl_p11_key_free(&k);
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* Lock (or unlock) a tenant for its KEK, with its record, in one
 * transaction; then the dataplane is told, as tenant lock does. */
static void transition(struct ctld *d, struct ctl_tenant *t, bool lock, const char *why)
{
	char outcome[400];
	if (ctl_store_begin(&d->store) != 0)
		return;
	int ok = ctl_tenant_set(d, t, lock, t->roll_days) == 0;
	if (ok && lock) {
		sqlite3_stmt *st;
		ok = sqlite3_prepare_v2(d->store.db, "INSERT OR REPLACE INTO byok_lock("
					"tenant, since, reason) VALUES(?,?,?)", -1, &st,
					NULL) == SQLITE_OK;
		if (ok) {
			sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, ctl_now());
			sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
			ok = sqlite3_step(st) == SQLITE_DONE;
			sqlite3_finalize(st);
		}
	} else if (ok) {
		ok = exec_tenant(d, "DELETE FROM byok_lock WHERE tenant=?", t->id, 0) == 0;
	}
	if (lock)
		snprintf(outcome, sizeof(outcome), "locked: its key-encryption key has "
			 "been unreachable for more than byok_grace (%us): %.300s",
			 d->cfg.byok_grace_s, why);
	else
		snprintf(outcome, sizeof(outcome), "unlocked: its key-encryption key "
			 "is reachable again");
	if (!ok || api_record(d, NULL, lock ? "tenant.byok.lock" : "tenant.byok.unlock",
			  t->id, NULL, outcome) != 0 || ctl_store_commit(&d->store) != 0) {
		ctl_store_abort(&d->store);
		ctl_log("byok: tenant %s: the %s did not commit (%s); tried again at "
			"the next check", t->id, lock ? "lock" : "unlock",
			sqlite3_errmsg(d->store.db));
		return;
	}
	ctl_log("byok: tenant %s %s", t->id, outcome);
	ctl_tenant_apply(d, t, lock, t->roll_days);
}

static bool byok_locked(struct ctld *d, const char *tenant)
{
	sqlite3_stmt *st;
	bool yes = false;
	if (sqlite3_prepare_v2(d->store.db, "SELECT 1 FROM byok_lock WHERE tenant=?", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
		yes = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return yes;
}

static void note(struct ctld *d, const char *tenant, const char *action,
		 const char *outcome)
{
	ctl_log("byok: tenant %s: %s", tenant, outcome);
	if (ctl_store_begin(&d->store) == 0 &&
	    (api_record(d, NULL, action, tenant, NULL, outcome) != 0 ||
	     ctl_store_commit(&d->store) != 0))
		ctl_store_abort(&d->store);
}

/* The link's resync passes over a tenant whose key does not unwrap
 * (ctl_link_keys): its current key goes to the dataplane when it is back. */
static void resend(struct ctld *d, struct ctl_tenant *t)
{
	sqlite3_stmt *st;
	uint8_t raw[32];
	if (d->link == NULL || sqlite3_prepare_v2(d->store.db, "SELECT wrapped FROM keys "
						  "WHERE tenant=? AND version=? AND "
						  "destroyed IS NULL", -1, &st, NULL))
		return;
	sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->current);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(st, 0),
			   (size_t)sqlite3_column_bytes(st, 0), raw) == 0) {
		veil_link_server_key_added(d->link, t->id, t->current, true, raw);
		explicit_bzero(raw, sizeof(raw));
	}
	sqlite3_finalize(st);
}

void ctl_byok_tick(struct ctld *d)
{
	struct ctl_byok *b = d->byok;
	int64_t now = ctl_now();
	if (b == NULL || b->n == 0 || now < b->next_check)
		return;
	b->next_check = now + (int64_t)d->cfg.byok_check_interval_s * 1000;
	for (unsigned i = 0; i < b->n; i++) {
		struct byok_tenant *s = &b->t[i];
		struct ctl_tenant *t = ctl_tenant_find(d, s->id);
		char err[320];
		if (t == NULL)
			continue;
		if (check(d, t, err, sizeof(err)) == 0) {
			if (s->failing_since != 0) {
				s->failing_since = 0;
				note(d, t->id, "tenant.byok.reachable", "its key-encryption "
				     "key is reachable again");
				resend(d, t);
			}
			if (t->locked && byok_locked(d, t->id)) {
				transition(d, t, false, "");
				s = &b->t[i];
			}
			continue;
		}
		snprintf(s->why, sizeof(s->why), "%s", err);
		if (s->failing_since == 0) {
			char out[400];
			s->failing_since = now;
			snprintf(out, sizeof(out), "its key-encryption key is unreachable "
				 "(it locks after byok_grace, %us): %s", d->cfg.byok_grace_s,
				 err);
			note(d, t->id, "tenant.byok.unreachable", out);
		}
		if (!t->locked && now - s->failing_since >= (int64_t)d->cfg.byok_grace_s * 1000)
			transition(d, t, true, err);
	}
}

/* ---- tenant export ---- */

/* tenant.export: {"tenant", "public_key": PEM of an RSA key of 2048 bits
 * or more, "justification"}: every live data key of the tenant, wrapped
 * RSA-OAEP-SHA256 to that key, in the format of docs/keys.md. */
json_t *ctl_cmd_tenant_export(struct ctld *d, const struct ctl_caller *who, json_t *req)
{
	const char *id = get_str(req, "tenant", VEIL_TENANT_MAX);
	const char *pem = get_str(req, "public_key", 16384);
	const char *just = get_str(req, "justification", 4096);
	struct ctl_tenant *t = id != NULL && veil_tenant_valid(id) ? ctl_tenant_find(d, id)
								  : NULL;
	if (t == NULL)
		return error("no tenant \"%.80s\"", id ? id : "");
	if (!reason_ok(just))
		return ctl_refuse(d, who, "tenant.export", t->id, "a justification of at "
				  "least 8 characters is required");
	BIO *bio = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	EVP_PKEY *pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (pub == NULL || !EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_get_bits(pub) < 2048) {
		EVP_PKEY_free(pub);
		return error("\"public_key\" must be the PEM of an RSA public key of 2048 "
			     "bits or more (openssl pkey -pubout)");
	}
	unsigned char *der = NULL, fp[32];
	char fph[65];
	int dl = i2d_PUBKEY(pub, &der);
	unsigned fpl = 0;
	if (dl <= 0 || EVP_Digest(der, (size_t)dl, fp, &fpl, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		EVP_PKEY_free(pub);
		return error("cannot read the public key");
	}
	OPENSSL_free(der);
	for (unsigned i = 0; i < 32; i++)
		snprintf(fph + 2 * i, 3, "%02x", fp[i]);
	json_t *keys = json_array();
	sqlite3_stmt *st;
	int bad = 0;
	if (sqlite3_prepare_v2(d->store.db, "SELECT version, wrapped, created FROM keys "
			       "WHERE tenant=? AND destroyed IS NULL ORDER BY version", -1,
			       &st, NULL) != SQLITE_OK)
		bad = -1;
	else {
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		while (bad == 0 && sqlite3_step(st) == SQLITE_ROW) {
			uint8_t raw[32], ct[1024];
			char b64[1400], when[32];
			int n = -1;
			if (ctl_unwrap_key(d->store.wrap, sqlite3_column_blob(st, 1),
					   (size_t)sqlite3_column_bytes(st, 1), raw) == 0)
				n = ctl_rsa_oaep_wrap(pub, raw, 32, ct, sizeof(ct));
			explicit_bzero(raw, sizeof(raw));
			if (n < 0) {
				bad = (int)sqlite3_column_int64(st, 0);
				break;
			}
			EVP_EncodeBlock((unsigned char *)b64, ct, n);
			iso(sqlite3_column_int64(st, 2), when, sizeof(when));
			uint32_t v = (uint32_t)sqlite3_column_int64(st, 0);
			json_array_append_new(keys, json_pack("{s:i, s:b, s:s, s:s}", "version",
							      (int)v, "current", v == t->current,
							      "created", when, "wrapped_key", b64));
		}
		sqlite3_finalize(st);
	}
	EVP_PKEY_free(pub);
	char outcome[200];
	if (bad != 0) {
		json_decref(keys);
		snprintf(outcome, sizeof(outcome), "failed: key version %d does not "
			 "unwrap", bad);
		api_record(d, who, "tenant.export", t->id, just, outcome);
		return error("tenant %s: key version %d does not unwrap now (is its "
			     "key-encryption key reachable?): nothing exported", t->id, bad);
	}
	snprintf(outcome, sizeof(outcome), "ok: %zu live key versions exported to the "
		 "RSA key sha256:%s", json_array_size(keys), fph);
	/* the record is durable before the keys go out */
	if (ctl_store_begin(&d->store) != 0 ||
	    api_record(d, who, "tenant.export", t->id, just, outcome) != 0 ||
	    ctl_store_commit(&d->store) != 0) {
		ctl_store_abort(&d->store);
		json_decref(keys);
		return error("the governance log cannot be written: nothing exported");
	}
	char now[32];
	iso(ctl_now(), now, sizeof(now));
	json_t *x = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}",
			      "format", "veil-tenant-export/1", "tenant", t->id,
			      "exported", now,
			      "wrapping", "RSA-OAEP, SHA-256, MGF1-SHA-256, no label",
			      "public_key_sha256", fph, "current_version", (int)t->current,
			      "keys", keys);
	return json_pack("{s:b, s:o}", "ok", 1, "export", x);
}
