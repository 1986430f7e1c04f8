/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* controld's tenant table and key versions at scale (control/tenants.c):
 * thousands of tenants made through the API are all found, and again
 * after a restart; a tenant keeps hundreds of live versions, and a token
 * of each resolves; the configured limits refuse what is past them and
 * store nothing. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctld_pvt.h"

struct fx {
	char dir[64];
	struct ctld d;
};

static const struct ctl_caller admin = { .uid = 0, .role = VEIL_ROLE_ADMIN };

static void open_ctld(struct fx *f)
{
	char err[256];
	assert_int_equal(ctl_store_open(&f->d.store, &f->d.cfg, err, sizeof(err)), 0);
	/* durability is not what this tests: no fsync per record */
	sqlite3_exec(f->d.store.db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	if (f->d.engine == NULL)
		f->d.engine = veil_engine_new(NULL);
	assert_non_null(f->d.engine);
	assert_int_equal(ctl_tenants_load(&f->d, err, sizeof(err)), 0);
}

static void close_ctld(struct fx *f)
{
	ctl_tenants_free(&f->d);
	ctl_store_close(&f->d.store);
	memset(&f->d.store, 0, sizeof(f->d.store));
}

/* controld stopped and started again on the same state */
static void restart(struct fx *f)
{
	close_ctld(f);
	open_ctld(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/veil-test-tenants.XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    ctl_config_load(&f->d.cfg, NULL, err, sizeof(err)) != 0)
		return -1;
	snprintf(f->d.cfg.state_dir, sizeof(f->d.cfg.state_dir), "%s", f->dir);
	snprintf(f->d.cfg.master_key, sizeof(f->d.cfg.master_key), "%s/master.key",
		 f->dir);
	f->d.cfg.rate_limit_per_min = 1000000;
	open_ctld(f);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close_ctld(f);
	veil_engine_free(f->d.engine);
	int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* One request as an admin; the answer (the caller frees it). */
static json_t *req(struct fx *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static json_t *req(struct fx *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *a = ctl_handle(&f->d, &admin, msg, strlen(msg));
	assert_non_null(a);
	return a;
}

static bool ok(json_t *a)
{
	bool r = json_is_true(json_object_get(a, "ok"));
	json_decref(a);
	return r;
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->d.store.db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The tokens a lookup of name gives, by version: tok[v] (malloc'd). */
static unsigned lookup(struct fx *f, const char *tenant, const char *name,
		       char **tok, unsigned max)
{
	json_t *a = req(f, "{\"cmd\":\"lookup\",\"tenant\":\"%s\",\"kind\":\"user\","
			"\"name\":\"%s\",\"justification\":\"incident 42: who was it\"}",
			tenant, name);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_t *list = json_object_get(a, "tokens"), *o;
	size_t i;
	unsigned n = 0;
	json_array_foreach(list, i, o) {
		unsigned v = (unsigned)json_integer_value(json_object_get(o, "version"));
		assert_true(v < max);
		tok[v] = strdup(json_string_value(json_object_get(o, "token")));
		n++;
	}
	json_decref(a);
	return n;
}

/* Resolve one token: the name, or NULL with the error code in code. */
static char *resolve(struct fx *f, const char *tenant, const char *tok,
		     char *code, size_t codelen)
{
	json_t *a = req(f, "{\"cmd\":\"resolve\",\"tenant\":\"%s\",\"token\":\"%s\","
			"\"justification\":\"incident 42: who was it\"}", tenant, tok);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_t *name = json_array_get(json_object_get(a, "names"), 0);
	json_t *err = json_array_get(json_object_get(a, "errors"), 0);
	char *r = json_is_string(name) ? strdup(json_string_value(name)) : NULL;
	snprintf(code, codelen, "%s", json_is_string(err) ? json_string_value(err) : "");
	json_decref(a);
	return r;
}

#define TENANTS 2500

static void test_many_tenants_restart(void **state)
{
	struct fx *f = *state;
	char id[32];
	for (int i = 0; i < TENANTS; i++) {
		snprintf(id, sizeof(id), "t%05d", i);
		assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"%s\"}", id)));
	}
	/* a second create of one of them is refused */
	assert_false(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"t01234\"}")));
	assert_int_equal(f->d.n_tenants, TENANTS);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < TENANTS; i++) {
			snprintf(id, sizeof(id), "t%05d", i);
			struct ctl_tenant *t = ctl_tenant_find(&f->d, id);
			assert_non_null(t);
			assert_string_equal(t->id, id);
			assert_int_equal(t->current, 1);
		}
		assert_null(ctl_tenant_find(&f->d, "t99999"));
		/* a token of a tenant made early and of one made late resolves */
		for (int i = 0; i < TENANTS; i += TENANTS / 5) {
			char *tok[2] = { 0 }, code[32];
			snprintf(id, sizeof(id), "t%05d", i);
			assert_int_equal(lookup(f, id, "alice", tok, 2), 1);
			char *name = resolve(f, id, tok[1], code, sizeof(code));
			assert_non_null(name);
			assert_string_equal(name, "alice");
			free(name);
			free(tok[1]);
		}
		restart(f); /* the same, from the database */
		assert_int_equal(f->d.n_tenants, TENANTS);
	}
}

static void test_max_tenants(void **state)
{
	struct fx *f = *state;
	f->d.cfg.max_tenants = 3;
	for (int i = 0; i < 3; i++)
		assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"m%d\"}", i)));
	json_t *a = req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"m3\"}");
	assert_false(json_is_true(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")),
			       "max_tenants"));
	json_decref(a);
	assert_int_equal(count(f, "SELECT count(*) FROM tenants"), 3);
	assert_null(ctl_tenant_find(&f->d, "m3"));
	/* a database with more tenants than the limit starts and serves all */
	restart(f);
	f->d.cfg.max_tenants = 2;
	restart(f);
	assert_int_equal(f->d.n_tenants, 3);
	assert_non_null(ctl_tenant_find(&f->d, "m2"));
}

#define VERSIONS 400

/* A year of daily rolls: 400 live versions; a name looked up has a token
 * for each, and each resolves, before and after a restart. */
static void test_400_versions(void **state)
{
	struct fx *f = *state;
	static char *tok[VERSIONS + 2];
	char code[32];
	assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"acme\"}")));
	for (int v = 2; v <= VERSIONS; v++)
		assert_true(ok(req(f, "{\"cmd\":\"key.roll\",\"tenant\":\"acme\"}")));
	assert_int_equal(count(f, "SELECT count(*) FROM keys WHERE destroyed IS NULL"),
			 VERSIONS);
	for (int pass = 0; pass < 2; pass++) {
		memset(tok, 0, sizeof(tok));
		assert_int_equal(lookup(f, "acme", "bob", tok, VERSIONS + 2), VERSIONS);
		for (int v = 1; v <= VERSIONS; v++) {
			assert_non_null(tok[v]);
			char *name = resolve(f, "acme", tok[v], code, sizeof(code));
			assert_non_null(name);
			assert_string_equal(name, "bob");
			free(name);
			free(tok[v]);
		}
		restart(f);
	}
}

static unsigned kept(struct fx *f)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->d.n_tenants; i++)
		n += veil_keyring_count(f->d.tenants[i].ring);
	return n;
}

/* A cache smaller than the versions a tenant has: a token of each old
 * version still resolves (unwrapped on demand, the least recently used
 * zeroized), one at a time and all in one bulk request; what is kept
 * unwrapped never exceeds key_cache. */
static void test_cache_smaller_than_versions(void **state)
{
	struct fx *f = *state;
	enum { V = 120, CACHE = 16 };
	static char *tok[V + 2];
	char code[32];
	f->d.cfg.key_cache = CACHE;
	assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"acme\"}")));
	assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"globex\"}")));
	for (int v = 2; v <= V; v++)
		assert_true(ok(req(f, "{\"cmd\":\"key.roll\",\"tenant\":\"acme\"}")));
	assert_true(kept(f) <= CACHE);
	memset(tok, 0, sizeof(tok));
	assert_int_equal(lookup(f, "acme", "carol", tok, V + 2), V);
	assert_true(kept(f) <= CACHE);
	restart(f); /* nothing unwrapped at start */
	assert_int_equal(kept(f), 0);
	assert_int_equal(ctl_tenant_find(&f->d, "acme")->current, V);
	/* version 1 first: a miss; then again: a hit */
	uint64_t misses = f->d.keys.misses;
	char *name = resolve(f, "acme", tok[1], code, sizeof(code));
	assert_string_equal(name, "carol");
	free(name);
	assert_int_equal(f->d.keys.misses, misses + 1);
	uint64_t hits = f->d.keys.hits;
	name = resolve(f, "acme", tok[1], code, sizeof(code));
	assert_string_equal(name, "carol");
	free(name);
	assert_int_equal(f->d.keys.misses, misses + 1);
	assert_true(f->d.keys.hits > hits);
	/* every old version, one at a time, newest first: right answers */
	for (int v = V; v >= 1; v--) {
		name = resolve(f, "acme", tok[v], code, sizeof(code));
		assert_non_null(name);
		assert_string_equal(name, "carol");
		free(name);
		assert_true(kept(f) <= CACHE);
	}
	assert_true(f->d.keys.evictions >= V - CACHE);
	/* all of them in one request: more versions than the cache keeps */
	char *msg = malloc(V * 200 + 256), *p = msg;
	p += sprintf(p, "{\"cmd\":\"resolve\",\"tenant\":\"acme\",\"justification\":"
		     "\"incident 42: who was it\",\"tokens\":[");
	for (int v = 1; v <= V; v++)
		p += sprintf(p, "%s\"%s\"", v > 1 ? "," : "", tok[(v * 7) % V + 1]);
	strcpy(p, "]}");
	json_t *a = ctl_handle(&f->d, &admin, msg, strlen(msg));
	free(msg);
	assert_int_equal(json_integer_value(json_object_get(a, "resolved")), V);
	json_t *names = json_object_get(a, "names"), *vers = json_object_get(a, "versions");
	for (int i = 0; i < V; i++) {
		assert_string_equal(json_string_value(json_array_get(names, (size_t)i)), "carol");
		assert_int_equal(json_integer_value(json_array_get(vers, (size_t)i)),
				 ((i + 1) * 7) % V + 1);
	}
	json_decref(a);
	assert_true(kept(f) <= CACHE);
	/* another tenant's token is not resolved with acme's keys */
	name = resolve(f, "globex", tok[3], code, sizeof(code));
	assert_null(name);
	assert_string_equal(code, "E_TENANT");
	/* a destroyed version: not resolved, whether it was kept or not */
	name = resolve(f, "acme", tok[2], code, sizeof(code));
	free(name);
	assert_true(ok(req(f, "{\"cmd\":\"key.destroy\",\"tenant\":\"acme\",\"version\":2,"
			   "\"reason\":\"ticket 7: the customer asked for it\"}")));
	assert_true(ok(req(f, "{\"cmd\":\"key.destroy\",\"tenant\":\"acme\",\"version\":3,"
			   "\"reason\":\"ticket 7: the customer asked for it\"}")));
	assert_null(resolve(f, "acme", tok[2], code, sizeof(code)));
	assert_string_equal(code, "E_VERSION");
	assert_null(resolve(f, "acme", tok[3], code, sizeof(code)));
	assert_string_equal(code, "E_VERSION");
	/* a version whose stored key was altered: that version fails (not
	 * E_VERSION: it is live), the others resolve, controld starts */
	assert_int_equal(sqlite3_exec(f->d.store.db, "UPDATE keys SET wrapped = "
				      "zeroblob(40) WHERE tenant='acme' AND version=5",
				      NULL, NULL, NULL), SQLITE_OK);
	restart(f);
	assert_null(resolve(f, "acme", tok[5], code, sizeof(code)));
	assert_string_equal(code, "E_INTERNAL");
	name = resolve(f, "acme", tok[6], code, sizeof(code));
	assert_string_equal(name, "carol");
	free(name);
	for (int v = 1; v <= V; v++)
		free(tok[v]);
}

/* max_live_versions: a roll past it is refused and stores nothing; after
 * a destroy there is room again. */
static void test_max_live_versions(void **state)
{
	struct fx *f = *state;
	f->d.cfg.max_live_versions = 5;
	assert_true(ok(req(f, "{\"cmd\":\"tenant.create\",\"tenant\":\"acme\"}")));
	for (int v = 2; v <= 5; v++)
		assert_true(ok(req(f, "{\"cmd\":\"key.roll\",\"tenant\":\"acme\"}")));
	json_t *a = req(f, "{\"cmd\":\"key.roll\",\"tenant\":\"acme\"}");
	assert_false(json_is_true(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")),
			       "max_live_versions"));
	json_decref(a);
	assert_int_equal(count(f, "SELECT count(*) FROM keys"), 5);
	restart(f);
	assert_int_equal(ctl_tenant_find(&f->d, "acme")->current, 5);
	assert_true(ok(req(f, "{\"cmd\":\"key.destroy\",\"tenant\":\"acme\",\"version\":1,"
			   "\"reason\":\"ticket 7: the customer asked for it\"}")));
	assert_true(ok(req(f, "{\"cmd\":\"key.roll\",\"tenant\":\"acme\"}")));
	assert_int_equal(ctl_tenant_find(&f->d, "acme")->current, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_tenants_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_tenants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_400_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_live_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_smaller_than_versions, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
