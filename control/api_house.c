/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* controld's own work each minute: key versions past their retention
 * destroyed, automatic rolls, and the governance log pruned a step at a
 * time between the loop's passes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "veil_clock.h"
#include "api_pvt.h"

#define CTLD_PRUNE_MAX 50000 /* records pruned a housekeeping: 72M a day */
#define CTLD_PRUNE_PASS 1000 /* records a step, between two passes of the loop */

void ctl_housekeeping(struct ctld *d)
{
	int64_t cutoff = ctl_now() - (int64_t)d->cfg.key_retention_days * VEIL_MS_PER_DAY;
	sqlite3_stmt *st;
	/* a version ages out once it has not been current for the retention:
	 * its successor's creation time is when it stopped being current */
	if (sqlite3_prepare_v2(d->store.db,
			       "SELECT k.tenant, k.version FROM keys k JOIN keys n "
			       "ON n.tenant = k.tenant AND n.version = k.version + 1 "
			       "WHERE k.destroyed IS NULL AND n.created < ?", -1, &st, NULL))
		return;
	sqlite3_bind_int64(st, 1, cutoff);
	struct { char t[VEIL_TENANT_MAX + 1]; uint32_t v; } old[64];
	unsigned n = 0;
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(old[n].t, sizeof(old[n].t), "%s", sqlite3_column_text(st, 0));
		old[n++].v = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	/* controld's own changes: recorded as the system's (who NULL), each
	 * committed with its record before it takes effect */
	bool destroyed = false;
	for (unsigned i = 0; i < n; i++) {
		struct ctl_tenant *t = ctl_tenant_find(d, old[i].t);
		char outcome[96];
		if (t == NULL || ctl_store_begin(&d->store) != 0)
			continue;
		if (ctl_key_destroy(d, t, old[i].v) != 0) {
			ctl_store_abort(&d->store);
			continue;
		}
		snprintf(outcome, sizeof(outcome), "ok: version %u destroyed after %u days "
			 "of retention", old[i].v, d->cfg.key_retention_days);
		if (api_commit_change(d, NULL, "key.destroy", t->id, NULL, outcome) != 0) {
			api_rolled_back(d);
			continue; /* the next housekeeping tries again */
		}
		ctl_key_destroyed(d, t, old[i].v);
		destroyed = true;
	}
	/* a shred that could not finish before is retried here */
	if ((destroyed || d->store.shred_pending) && ctl_store_shred(&d->store) != 0)
		ctl_log("shredding: the WAL could not be truncated (%s); retrying at "
		     "the next housekeeping", sqlite3_errmsg(d->store.db));
	/* automatic rolls: the current version is older than the interval */
	for (unsigned i = 0; i < d->n_tenants; i++) {
		struct ctl_tenant *t = &d->tenants[i];
		struct ctl_new_key nk;
		char outcome[96];
		if (t->roll_days == 0 || sqlite3_prepare_v2(d->store.db,
				"SELECT created FROM keys WHERE tenant=? AND version=?",
				-1, &st, NULL))
			continue;
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t->current);
		bool due = sqlite3_step(st) == SQLITE_ROW &&
			   sqlite3_column_int64(st, 0) + (int64_t)t->roll_days * VEIL_MS_PER_DAY <= ctl_now();
		sqlite3_finalize(st);
		if (!due || ctl_store_begin(&d->store) != 0)
			continue;
		if (ctl_key_stage(d, t->id, t->current, &nk) != 0) {
			api_change_failed(d, NULL, "key.roll", t->id, "failed: automatic roll");
			continue;
		}
		snprintf(outcome, sizeof(outcome), "ok: version %u is current (automatic "
			 "roll, every %u days)", nk.version, t->roll_days);
		if (api_commit_change(d, NULL, "key.roll", t->id, NULL, outcome) != 0) {
			ctl_key_drop(&nk);
			api_rolled_back(d);
			continue;
		}
		uint32_t v = nk.version;
		if (ctl_key_live(d, t, &nk) != 0)
			api_not_live(t->id, v);
	}
	/* pruning: at most CTLD_PRUNE_MAX records a minute (a backlog, a
	 * retention made shorter, goes over the minutes that follow), in
	 * steps of CTLD_PRUNE_PASS between the loop's passes (ctl_prune_pass) */
	d->prune_before = ctl_now() - (int64_t)d->cfg.audit_retention_days * VEIL_MS_PER_DAY;
	d->prune_left = CTLD_PRUNE_MAX;
}

/* A record that fails verification stops pruning and stays: say so, once
 * for each place it stops at (this runs every minute). */
static void prune_said(const char *why, bool ended)
{
	static char said[400];
	if (why[0] != '\0' && strcmp(why, said) != 0)
		ctl_log("%s", why);
	if (ended)
		snprintf(said, sizeof(said), "%s", why);
}

bool ctl_prune_pass(struct ctld *d)
{
	char why[400] = "";
	if (d->store.keeper != NULL) {
		/* the keeper's thread prunes; the loop takes its anchors */
		if (d->prune_left > 0 &&
		    ctl_store_keeper_prune(&d->store, d->prune_before, d->prune_left) == 0)
			d->prune_left = 0;
		if (!ctl_store_keeper_poll(&d->store, why, sizeof(why)))
			prune_said(why, true);
		return false;
	}
	if (d->prune_vacuum) {
		d->prune_vacuum = ctl_store_give_back_step(&d->store) == 1;
		return d->prune_vacuum;
	}
	if (d->prune_left <= 0)
		return false;
	int64_t step = d->prune_left < CTLD_PRUNE_PASS ? d->prune_left : CTLD_PRUNE_PASS;
	int64_t n = ctl_audit_prune_step(&d->store, d->prune_before, step, INT64_MAX, why,
					 sizeof(why));
	if (n < 0 && why[0] == '\0')
		snprintf(why, sizeof(why), "pruning the governance log failed: %s",
			 sqlite3_errmsg(d->store.db));
	prune_said(why, n < step || why[0] != '\0');
	d->prune_left = n == step && why[0] == '\0' ? d->prune_left - n : 0;
	d->prune_any |= n > 0;
	if (d->prune_left == 0 && d->prune_any) {
		d->prune_vacuum = true; /* then the pages go back, a step a pass */
		d->prune_any = false;
	}
	return d->prune_left > 0 || d->prune_vacuum;
}
