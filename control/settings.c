/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Settings admins change at run time (veilctl config set): kept in the
 * database, they override veil.conf's value until reset; every change is in
 * the governance log, committed with it (by the API, api.c), and in effect
 * only once committed.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctld_pvt.h"

static const struct setting {
	const char *name;
	size_t off; /* of an unsigned in struct ctl_config */
	unsigned lo, hi;
} settings[] = {
	{ "key_retention_days", offsetof(struct ctl_config, key_retention_days), 1, 36500 },
	{ "audit_retention_days", offsetof(struct ctl_config, audit_retention_days), 1, 36500 },
	{ "rate_limit", offsetof(struct ctl_config, rate_limit_per_min), 1, 1000000 },
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static unsigned *field(struct ctl_config *c, const struct setting *s)
{
	return (unsigned *)((char *)c + s->off);
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

int ctl_settings_load(struct ctld *d, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = 0;
	d->file_cfg = d->cfg;
	if (sqlite3_prepare_v2(d->store.db, "SELECT k, v FROM settings", -1, &st, NULL)) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(d->store.db));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		const struct setting *s = find(k);
		if (s == NULL || v < s->lo || v > s->hi) {
			snprintf(err, errlen, "database: bad runtime setting %.40s=%lld",
				 k, (long long)v);
			rc = -1;
			break;
		}
		*field(&d->cfg, s) = (unsigned)v;
	}
	sqlite3_finalize(st);
	return rc;
}

json_t *ctl_settings_json(struct ctld *d)
{
	json_t *list = json_array();
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		unsigned v = *field(&d->cfg, s), f = *field(&d->file_cfg, s);
		sqlite3_stmt *st;
		bool runtime = false;
		if (sqlite3_prepare_v2(d->store.db, "SELECT 1 FROM settings WHERE k=?",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
			runtime = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
		json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}",
			"name", s->name, "value", (json_int_t)v, "file_value", (json_int_t)f,
			"source", runtime ? "runtime" : "file",
			"min", (json_int_t)s->lo, "max", (json_int_t)s->hi));
	}
	return list;
}

int ctl_setting_set(struct ctld *d, const char *name, const json_t *value,
		    struct ctl_setting_change *ch, char *what, size_t whatlen)
{
	const struct setting *s = find(name);
	if (s == NULL) {
		snprintf(what, whatlen, "unknown setting \"%.40s\" (key_retention_days, "
			 "audit_retention_days or rate_limit)", name);
		return -1;
	}
	unsigned old = *field(&d->cfg, s), v;
	sqlite3_stmt *st;
	if (json_is_null(value)) {
		v = *field(&d->file_cfg, s); /* reset: back to veil.conf */
		if (sqlite3_prepare_v2(d->store.db, "DELETE FROM settings WHERE k=?",
				       -1, &st, NULL))
			goto db;
		sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
	} else {
		if (!json_is_integer(value) || json_integer_value(value) < s->lo ||
		    json_integer_value(value) > s->hi) {
			snprintf(what, whatlen, "%s: the value must be a number from %u "
				 "to %u", s->name, s->lo, s->hi);
			return -1;
		}
		v = (unsigned)json_integer_value(value);
		if (sqlite3_prepare_v2(d->store.db, "INSERT OR REPLACE INTO settings(k, v) "
				       "VALUES(?,?)", -1, &st, NULL))
			goto db;
		sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, v);
	}
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok)
		goto db;
	*ch = (struct ctl_setting_change){ .off = s->off, .value = v };
	snprintf(what, whatlen, "%s: %u -> %u%s", s->name, old, v,
		 json_is_null(value) ? " (reset to the file's value)" : "");
	return 0;
db:
	snprintf(what, whatlen, "database: %s", sqlite3_errmsg(d->store.db));
	return -1;
}

void ctl_setting_apply(struct ctld *d, const struct ctl_setting_change *ch)
{
	*(unsigned *)((char *)&d->cfg + ch->off) = ch->value;
}
