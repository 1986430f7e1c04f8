/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* controld's refusal records (ctl_refuse, ctl_refusals_flush) and role
 * lookup (ctl_role_of) against a real state store in a temporary
 * directory: the first refusal of a caller is recorded at once, the rest of
 * its interval counted and recorded as one record when the interval ends,
 * when the table of callers is full, or at shutdown, and no count is lost;
 * supplementary groups count for group roles. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctld_pvt.h"

#define WHY "permission denied: resolve needs role investigator"

struct fx {
	char dir[64];
	struct ctld d;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/veil-test-refusals.XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    ctl_config_load(&f->d.cfg, NULL, err, sizeof(err)) != 0)
		return -1;
	snprintf(f->d.cfg.state_dir, sizeof(f->d.cfg.state_dir), "%s", f->dir);
	snprintf(f->d.cfg.master_key, sizeof(f->d.cfg.master_key), "%s/master.key",
		 f->dir);
	if (ctl_store_open(&f->d.store, &f->d.cfg, err, sizeof(err)) != 0)
		return -1;
	/* durability is not what this tests: no fsync per record */
	sqlite3_exec(f->d.store.db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
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
	ctl_store_close(&f->d.store);
	int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* ---- helpers ---- */

static void refuse(struct fx *f, unsigned uid, const char *action,
		   const char *tenant, const char *why)
{
	struct ctl_caller who = { .uid = uid, .role = VEIL_ROLE_READER };
	json_t *a = ctl_refuse(&f->d, &who, action, tenant, why);
	assert_non_null(a);
	assert_false(json_is_true(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(a, "error")), why);
	json_decref(a);
}

/* The uid's records, oldest first: outcome, action and tenant ("-" for
 * none) of record i into out[i] as "outcome|action|tenant". */
static unsigned records(struct fx *f, unsigned uid, char out[][256], unsigned max)
{
	sqlite3_stmt *st;
	unsigned n = 0;
	assert_int_equal(sqlite3_prepare_v2(f->d.store.db, "SELECT outcome, action, "
					    "ifnull(tenant, '-') FROM audit WHERE uid=? "
					    "ORDER BY seq", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, uid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n < max)
			snprintf(out[n], 256, "%s|%s|%s", sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2));
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

/* Move the uid's interval back in time, as if it had ended. */
static void age(struct fx *f, unsigned uid)
{
	for (unsigned i = 0; i < CTLD_REFUSERS; i++)
		if (f->d.refusals[i].used && f->d.refusals[i].uid == uid) {
			f->d.refusals[i].since -= CTLD_REFUSAL_INTERVAL_MS + 1;
			return;
		}
	fail_msg("uid %u has no interval", uid);
}

/* ---- tests ---- */

static void first_at_once_rest_counted(void **state)
{
	struct fx *f = *state;
	char r[4][256];
	for (int i = 0; i < 50; i++)
		refuse(f, 7, "resolve", "acme", WHY);
	assert_int_equal(records(f, 7, r, 4), 1);
	assert_string_equal(r[0], "refused: " WHY "|resolve|acme");
	ctl_refusals_flush(&f->d, false); /* the interval has not ended */
	assert_int_equal(records(f, 7, r, 4), 1);
	age(f, 7);
	ctl_refusals_flush(&f->d, false);
	assert_int_equal(records(f, 7, r, 4), 2);
	assert_string_equal(r[1], "refused 49 times: " WHY "|resolve|acme");
	/* a new interval: its first refusal is recorded at once again */
	refuse(f, 7, "resolve", "acme", WHY);
	assert_int_equal(records(f, 7, r, 4), 3);
	assert_string_equal(r[2], "refused: " WHY "|resolve|acme");
}

static void ended_interval_recorded_by_next_refusal(void **state)
{
	struct fx *f = *state;
	char r[4][256];
	for (int i = 0; i < 3; i++)
		refuse(f, 8, "status", NULL, "permission denied: uid 8 has no role");
	age(f, 8);
	refuse(f, 8, "status", NULL, "permission denied: uid 8 has no role");
	assert_int_equal(records(f, 8, r, 4), 3);
	assert_string_equal(r[1], "refused 2 times: permission denied: uid 8 has no role|status|-");
	assert_string_equal(r[2], "refused: permission denied: uid 8 has no role|status|-");
	/* an interval with one refusal only ends without another record */
	age(f, 8);
	ctl_refusals_flush(&f->d, false);
	assert_int_equal(records(f, 8, r, 4), 3);
}

static void mixed_and_same_reasons(void **state)
{
	struct fx *f = *state;
	char r[4][256];
	/* the same reason with other figures is the same reason */
	refuse(f, 9, "resolve", "acme", "rate limit reached: this request has 5 tokens, 2 left");
	refuse(f, 9, "resolve", "acme", "rate limit reached: this request has 3 tokens, 1 left");
	refuse(f, 9, "resolve", "acme", "rate limit reached: this request has 9 tokens, 0 left");
	ctl_refusals_flush(&f->d, true);
	assert_int_equal(records(f, 9, r, 4), 2);
	/* the summary gives the first of the refusals it counts */
	assert_string_equal(r[1], "refused 2 times: rate limit reached: this request has 3 "
			    "tokens, 1 left|resolve|acme");
	/* another reason among them: said so */
	refuse(f, 10, "resolve", "acme", WHY);
	refuse(f, 10, "lookup", "globex", "permission denied: lookup needs role investigator");
	refuse(f, 10, "lookup", "globex", "tenant is locked");
	ctl_refusals_flush(&f->d, true);
	assert_int_equal(records(f, 10, r, 4), 2);
	assert_string_equal(r[1], "refused 2 times: permission denied: lookup needs role "
			    "investigator (and other reasons)|lookup|globex");
	/* other commands and tenants: no one command or tenant is named */
	refuse(f, 11, "resolve", "acme", WHY);
	refuse(f, 11, "resolve", "acme", WHY);
	refuse(f, 11, "key.roll", "globex", WHY);
	ctl_refusals_flush(&f->d, true);
	assert_int_equal(records(f, 11, r, 4), 2);
	assert_string_equal(r[1], "refused 2 times: " WHY "|refusals|-");
}

static void full_table_loses_no_count(void **state)
{
	struct fx *f = *state;
	char r[4][256];
	unsigned n = CTLD_REFUSERS + 1, total = 0;
	for (unsigned u = 0; u < n; u++) {
		refuse(f, 1000 + u, "status", NULL, "permission denied: no role");
		refuse(f, 1000 + u, "status", NULL, "permission denied: no role");
	}
	/* the caller refused longest ago made room, its count recorded */
	assert_int_equal(records(f, 1000, r, 4), 2);
	assert_string_equal(r[1], "refused 1 time: permission denied: no role|status|-");
	ctl_refusals_flush(&f->d, true); /* as at shutdown */
	for (unsigned u = 0; u < n; u++) {
		unsigned k = records(f, 1000 + u, r, 4), count = 0;
		assert_int_equal(k, 2);
		assert_int_equal(sscanf(r[1], "refused %u time", &count), 1);
		total += 1 + count;
	}
	assert_int_equal(total, 2 * n);
	int64_t count = 0;
	char why[200];
	assert_int_equal(ctl_audit_verify(&f->d.store, &count, why, sizeof(why)), 0);
}

static void roles_of_groups(void **state)
{
	struct fx *f = *state;
	struct ctl_config *c = &f->d.cfg;
	gid_t groups[] = { 60, 61 };
	struct ctl_caller who = { .uid = 9, .gid = 9, .groups = groups, .n_groups = 2 };
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_NONE);
	c->roles[c->n_roles++] = (struct ctl_role_binding){ true, 60, VEIL_ROLE_READER };
	c->roles[c->n_roles++] = (struct ctl_role_binding){ true, 61, VEIL_ROLE_INVESTIGATOR };
	/* of several groups, the strongest role */
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_INVESTIGATOR);
	who.n_groups = 1;
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_READER);
	who.n_groups = 0;
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_NONE);
	/* the primary gid counts too */
	who.gid = 61;
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_INVESTIGATOR);
	who.gid = 9;
	who.n_groups = 2;
	/* a database binding of a group wins over the file's */
	assert_int_equal(sqlite3_exec(f->d.store.db, "INSERT INTO roles(is_gid, id, role) "
				      "VALUES(1, 60, 'reader')", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_READER);
	/* and one of the uid over any group's */
	assert_int_equal(sqlite3_exec(f->d.store.db, "INSERT INTO roles(is_gid, id, role) "
				      "VALUES(1, 61, 'admin'), (0, 9, 'reader')", NULL, NULL,
				      NULL), SQLITE_OK);
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_READER);
	/* the database's group binding over the file's uid binding, as for
	 * the primary gid before */
	c->roles[c->n_roles++] = (struct ctl_role_binding){ false, 10, VEIL_ROLE_READER };
	who.uid = 10;
	assert_int_equal(ctl_role_of(&f->d, &who), VEIL_ROLE_ADMIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_at_once_rest_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(ended_interval_recorded_by_next_refusal,
						setup, teardown),
		cmocka_unit_test_setup_teardown(mixed_and_same_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(full_table_loses_no_count, setup, teardown),
		cmocka_unit_test_setup_teardown(roles_of_groups, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
