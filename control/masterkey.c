/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The master key checked while the daemon runs. controld reads master.key
 * once, at start, and keeps it in locked memory: a file removed or
 * replaced afterwards changes nothing until the next start, which then
 * fails (every tenant down). So every master_key_check_interval seconds
 * the file is read again and must unwrap the governance log's key as the
 * key in use does: "ok", else "missing", "unreadable" (its mode, owner or
 * size as the start would refuse them) or "changed" (another key). Each
 * change of that state is logged once, recorded in the governance log
 * (master_key.check, by the system) and shown by status and the metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_pvt.h"

static const char *const names[] = { "ok", "missing", "unreadable", "changed" };

/* What the file says now; why into why (never a key). */
static enum ctl_mk_state check_file(struct ctld *d, char *why, size_t whylen)
{
	const char *path = d->cfg.master_key;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		snprintf(why, whylen, "%s is missing", path);
		return CTL_MK_MISSING;
	}
	struct ctl_wrap *w = ctl_wrap_open(path, false, why, whylen);
	if (w == NULL)
		return CTL_MK_UNREADABLE;
	/* the governance log's key, as the database keeps it wrapped */
	uint8_t wk[64], key[32];
	int wl = 0, rc = -1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->store.db, "SELECT v FROM meta WHERE k='audit_key'", -1,
			       &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    (wl = sqlite3_column_bytes(st, 0)) > 0 && wl <= (int)sizeof(wk)) {
			memcpy(wk, sqlite3_column_blob(st, 0), (size_t)wl);
			rc = ctl_unwrap_key(w, wk, (size_t)wl, key);
		}
		sqlite3_finalize(st);
	}
	explicit_bzero(key, sizeof(key));
	ctl_wrap_close(w);
	if (rc != 0) {
		snprintf(why, whylen, "%s holds another key: it does not unwrap the "
			 "governance log's key", path);
		return CTL_MK_CHANGED;
	}
	snprintf(why, whylen, "%s unwraps the governance log's key", path);
	return CTL_MK_OK;
}

void ctl_master_check_tick(struct ctld *d)
{
	int64_t now = ctl_now();
	if (d->cfg.master_key_check_s == 0 || now < d->mkey.next)
		return;
	d->mkey.next = now + (int64_t)d->cfg.master_key_check_s * 1000;
	char why[600], outcome[800];
	enum ctl_mk_state s = check_file(d, why, sizeof(why));
	if (s == d->mkey.state)
		return;
	d->mkey.state = s;
	d->mkey.since = now;
	if (s == CTL_MK_OK)
		ctl_log("master key: ok again: %s", why);
	else
		ctl_log("master key: %s: %s; the keys in memory keep serving, but a "
			"restart would fail: put the file back (docs/keys.md)", names[s], why);
	snprintf(outcome, sizeof(outcome), "%s: %s", names[s], why);
	if (ctl_store_begin(&d->store) != 0 ||
	    api_commit_change(d, NULL, "master_key.check", NULL, NULL, outcome) != 0)
		api_rolled_back(d);
}

const char *ctl_master_state(const struct ctld *d)
{
	return d->cfg.master_key_check_s == 0 ? "unchecked" : names[d->mkey.state];
}

void ctl_master_status_json(struct ctld *d, json_t *a)
{
	json_object_set_new(a, "master_key", json_string(ctl_master_state(d)));
	char when[32];
	time_t t = (time_t)((d->mkey.since ? d->mkey.since : d->started) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(a, "master_key_since", json_string(when));
}
