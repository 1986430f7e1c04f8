/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * gen_tenants: fill a veil-controld state directory with many tenants and
 * key versions, in bulk, for the scale benchmark (creating 100,000 tenants
 * through the API, one durable transaction each, would take hours).
 *
 * It writes through the functions the API uses (ctl_tenant_create,
 * ctl_key_stage, ctl_audit_append, ctl_tenant_add, ctl_key_live), with the
 * records an admin's tenant.create and key.roll write, but thousands of
 * changes to one transaction. controld must not be running on the
 * directory. tests/integration/scale_tenants.py checks that what it makes
 * is what the API makes.
 *
 * usage: gen_tenants -c veil.conf PREFIX COUNT [VERSIONS]
 *   makes tenants PREFIX00000 .. PREFIX(COUNT-1), each with VERSIONS live
 *   key versions (default 1); an existing one is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctld_pvt.h"

#define PER_TXN 2000 /* changes to one transaction */

static int rec(struct ctld *d, const char *action, const char *tenant,
	       const char *outcome)
{
	struct ctl_audit_rec r = { .uid = (unsigned)getuid(), .role = "admin",
				   .action = action, .tenant = tenant,
				   .outcome = outcome };
	return ctl_audit_append(&d->store, &r);
}

/* One tenant and its versions, in the open transaction. */
static int make(struct ctld *d, const char *id, unsigned versions, unsigned *changes,
		char *err, size_t errlen)
{
	struct ctl_new_tenant nt;
	char outcome[64];
	if (ctl_tenant_create(d, id, &nt, err, errlen) != 0)
		return -1;
	if (rec(d, "tenant.create", id, "ok: key version 1") != 0) {
		ctl_tenant_drop(&nt);
		snprintf(err, errlen, "governance log: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	ctl_tenant_add(d, &nt);
	struct ctl_tenant *t = ctl_tenant_find(d, id);
	for (unsigned v = 2; v <= versions; v++) {
		struct ctl_new_key nk;
		if (ctl_key_stage(d, id, t->current, &nk) != 0) {
			snprintf(err, errlen, "%s: cannot make version %u (max_live_versions "
				 "is %u)", id, v, d->cfg.max_live_versions);
			return -1;
		}
		snprintf(outcome, sizeof(outcome), "ok: version %u is current", nk.version);
		if (rec(d, "key.roll", id, outcome) != 0) {
			ctl_key_drop(&nk);
			snprintf(err, errlen, "governance log: %s", sqlite3_errmsg(d->store.db));
			return -1;
		}
		ctl_key_live(d, t, &nk);
	}
	*changes += versions;
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctld d;
	const char *conf = NULL;
	char err[512];
	int c;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c')
			goto usage;
		conf = optarg;
	}
	if (conf == NULL || argc - optind < 2 || argc - optind > 3)
		goto usage;
	const char *prefix = argv[optind];
	unsigned count = (unsigned)strtoul(argv[optind + 1], NULL, 10);
	unsigned versions = argc - optind == 3 ?
			    (unsigned)strtoul(argv[optind + 2], NULL, 10) : 1;
	if (count == 0 || versions == 0 || strlen(prefix) > VEIL_TENANT_MAX - 10)
		goto usage;
	if (ctl_config_load(&d.cfg, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "gen_tenants: %s\n", err);
		return 1;
	}
	d.cfg.key_cache = 64; /* the keys go to the database, not to memory */
	if (ctl_store_open(&d.store, &d.cfg, err, sizeof(err)) != 0 ||
	    ctl_tenants_load(&d, err, sizeof(err)) != 0) {
		fprintf(stderr, "gen_tenants: %s\n", err);
		return 1;
	}
	unsigned changes = 0;
	int rc = 0;
	for (unsigned i = 0; i < count && rc == 0; i++) {
		char id[VEIL_TENANT_MAX + 1];
		snprintf(id, sizeof(id), "%s%05u", prefix, i);
		if (changes == 0 && ctl_store_begin(&d.store) != 0) {
			snprintf(err, sizeof(err), "database: %s", sqlite3_errmsg(d.store.db));
			rc = -1;
			break;
		}
		rc = make(&d, id, versions, &changes, err, sizeof(err));
		if (rc == 0 && (changes >= PER_TXN || i + 1 == count)) {
			changes = 0;
			if (ctl_store_commit(&d.store) != 0) {
				snprintf(err, sizeof(err), "commit: %s", sqlite3_errmsg(d.store.db));
				rc = -1;
			}
		}
	}
	if (rc != 0) {
		ctl_store_abort(&d.store);
		fprintf(stderr, "gen_tenants: %s\n", err);
	}
	ctl_tenants_free(&d);
	ctl_store_close(&d.store);
	return rc == 0 ? 0 : 1;
usage:
	fputs("usage: gen_tenants -c veil.conf PREFIX COUNT [VERSIONS]\n", stderr);
	return 2;
}
