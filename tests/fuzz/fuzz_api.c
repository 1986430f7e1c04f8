/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for veil-controld's request parser and dispatcher: any
 * bytes as the body of one admin API message, from an admin caller and from
 * a caller without a role, against a real (temporary) state store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include "ctld_pvt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ctld d;
static char dir[] = "/tmp/veil-fuzz-api.XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	ctl_store_close(&d.store);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
	char err[256];
	if (mkdtemp(dir) == NULL || ctl_config_load(&d.cfg, NULL, err, sizeof(err)) != 0)
		abort();
	atexit(cleanup);
	snprintf(d.cfg.state_dir, sizeof(d.cfg.state_dir), "%s", dir);
	snprintf(d.cfg.master_key, sizeof(d.cfg.master_key), "%s/master.key", dir);
	d.cfg.rate_limit_per_min = 1000000;
	if (ctl_store_open(&d.store, &d.cfg, err, sizeof(err)) != 0)
		abort();
	/* the harness fuzzes parsing, not durability: no fsync per record */
	sqlite3_exec(d.store.db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	d.engine = veil_engine_new(NULL);
	if (d.engine == NULL)
		abort();
	static const struct ctl_caller root = { .uid = 0, .role = VEIL_ROLE_ADMIN };
	static const char create[] = "{\"cmd\": \"tenant.create\", \"tenant\": \"acme\"}";
	json_t *a = ctl_handle(&d, &root, create, sizeof(create) - 1);
	if (!json_is_true(json_object_get(a, "ok")))
		abort();
	json_decref(a);
	d.started = ctl_now();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ctl_caller admin = { .uid = 0, .role = VEIL_ROLE_ADMIN };
	static const struct ctl_caller nobody = { .uid = 4242, .role = VEIL_ROLE_NONE };
	if (d.engine == NULL)
		init();
	for (int k = 0; k < 2; k++) {
		json_t *a = ctl_handle(&d, k ? &nobody : &admin, (const char *)data, size);
		/* every answer is an object with a boolean "ok"; a failure says why */
		json_t *ok = json_object_get(a, "ok");
		if (!json_is_object(a) || !json_is_boolean(ok))
			abort();
		if (!json_is_true(ok) && !json_is_string(json_object_get(a, "error")))
			abort();
		if (k == 1 && json_is_true(ok))
			abort(); /* a caller without a role gets nothing */
		json_decref(a);
	}
	/* keep the store small: tenants and keys made by inputs stay, but the
	 * tenant table is bounded by max_tenants in the daemon itself */
	return 0;
}
