/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Reloading veil.conf (SIGHUP). The file is read into a new configuration
 * and applied whole or not at all: a file with an error leaves everything
 * as it was. Roles and the settings that can change at run time follow the
 * file (a value set with `veilctl config set` stays in effect over the
 * file's), and so do the name rules of the [source] sections that lookups
 * apply (norm.c); keys that only take effect at start are kept and reported as
 * needing a restart. Tenants, keys, the governance log, the dataplane link
 * and the open connections are not touched. Every reload, done or refused,
 * is one governance record (action config.reload, role system).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctld_pvt.h"

/* Keys read only at start: the store, the socket and the link are open. */
static const struct restart_key {
	const char *name;
	size_t off, len; /* a char array in struct ctl_config */
} restart_keys[] = {
#define RK(name, field) { name, offsetof(struct ctl_config, field), \
			  sizeof(((struct ctl_config *)0)->field) }
	RK("state_dir", state_dir),
	RK("socket", socket_path),
	RK("socket_group", socket_group),
	RK("master_key", master_key),
	RK("link_socket", link_socket),
	RK("metrics_listen", metrics_listen),
	RK("api_user", api_user),
#undef RK
};

/* Append to a change list: "what" after a "; " unless it is the first. */
static void add(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(buf);
	if (n + 3 >= cap)
		return;
	if (n > 0) {
		strcpy(buf + n, "; ");
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

static bool has_binding(const struct ctl_config *c, const struct ctl_role_binding *b)
{
	for (unsigned i = 0; i < c->n_roles; i++)
		if (c->roles[i].is_gid == b->is_gid && c->roles[i].id == b->id &&
		    c->roles[i].role == b->role)
			return true;
	return false;
}

/* The bindings one configuration has and the other has not. */
static void role_changes(const struct ctl_config *old, const struct ctl_config *new,
			 char *buf, size_t cap)
{
	for (unsigned i = 0; i < new->n_roles; i++)
		if (!has_binding(old, &new->roles[i]))
			add(buf, cap, "role added: %s:%u %s", new->roles[i].is_gid ?
			    "gid" : "uid", new->roles[i].id,
			    veil_role_name(new->roles[i].role));
	for (unsigned i = 0; i < old->n_roles; i++)
		if (!has_binding(new, &old->roles[i]))
			add(buf, cap, "role removed: %s:%u %s", old->roles[i].is_gid ?
			    "gid" : "uid", old->roles[i].id,
			    veil_role_name(old->roles[i].role));
}

/* What the settings (settings.c's list, as JSON) say changed. */
static void setting_changes(json_t *before, json_t *after, char *buf, size_t cap)
{
	for (size_t i = 0; i < json_array_size(after); i++) {
		json_t *b = json_array_get(before, i), *a = json_array_get(after, i);
		json_int_t fb = json_integer_value(json_object_get(b, "file_value"));
		json_int_t fa = json_integer_value(json_object_get(a, "file_value"));
		json_int_t v = json_integer_value(json_object_get(a, "value"));
		const char *name = json_string_value(json_object_get(a, "name"));
		if (fb == fa)
			continue;
		if (!strcmp(json_string_value(json_object_get(a, "source")), "runtime"))
			add(buf, cap, "%s: file %lld -> %lld (the value set at run time, "
			    "%lld, stays; veilctl config reset %s applies the file's)",
			    name, (long long)fb, (long long)fa, (long long)v, name);
		else
			add(buf, cap, "%s: %lld -> %lld", name, (long long)fb, (long long)fa);
	}
}

/* The reload's governance record, durable when this returns. */
static void record(struct ctld *d, const char *outcome)
{
	struct ctl_audit_rec r = { .uid = 0, .role = "system",
				   .action = "config.reload", .outcome = outcome };
	if (ctl_audit_append(&d->store, &r) != 0)
		ctl_log("governance log: the reload's record cannot be written: %s",
		    sqlite3_errmsg(d->store.db));
}

int ctl_reload(struct ctld *d)
{
	struct ctl_config n;
	char err[512], changes[2048] = "", restart[1024] = "", outcome[3200];
	char path[sizeof(d->file_cfg.path)];
	snprintf(path, sizeof(path), "%s", d->file_cfg.path);

	ctl_log("reloading %s (SIGHUP)", path);
	struct ctl_norms norms;
	if (ctl_config_load(&n, path, err, sizeof(err)) != 0 ||
	    ctl_norms_load(&norms, path, err, sizeof(err)) != 0) {
		ctl_log("reload refused, the configuration in effect stays: %s", err);
		snprintf(outcome, sizeof(outcome), "refused: %s", err);
		record(d, outcome);
		return -1;
	}
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]); i++) {
		const struct restart_key *k = &restart_keys[i];
		char *now = (char *)&d->file_cfg + k->off, *file = (char *)&n + k->off;
		if (strcmp(now, file) == 0)
			continue;
		add(restart, sizeof(restart), "%s %s -> %s", k->name, now, file);
		memcpy(file, now, k->len); /* kept until a restart */
	}
	if (n.key_cache != d->file_cfg.key_cache) {
		add(restart, sizeof(restart), "key_cache %u -> %u", d->file_cfg.key_cache,
		    n.key_cache);
		n.key_cache = d->file_cfg.key_cache; /* the cache is made at start */
	}
	if (n.dataplane_uid != d->file_cfg.dataplane_uid) {
		add(restart, sizeof(restart), "dataplane_user changed");
		n.dataplane_uid = d->file_cfg.dataplane_uid; /* kept until a restart */
	}
	json_t *before = ctl_settings_json(d);
	struct ctl_config old_cfg = d->cfg, old_file = d->file_cfg;
	role_changes(&d->cfg, &n, changes, sizeof(changes));
	/* the file's values, then the runtime settings over them, as at start */
	d->cfg = n;
	if (ctl_settings_load(d, err, sizeof(err)) != 0) {
		d->cfg = old_cfg;
		d->file_cfg = old_file;
		ctl_norms_free(&norms);
		json_decref(before);
		ctl_log("reload refused, the configuration in effect stays: %s", err);
		snprintf(outcome, sizeof(outcome), "refused: %s", err);
		record(d, outcome);
		return -1;
	}
	json_t *after = ctl_settings_json(d);
	setting_changes(before, after, changes, sizeof(changes));
	json_decref(before);
	json_decref(after);
	/* the sources' name rules: what lookups apply from now on */
	if (!ctl_norms_equal(&d->norms, &norms))
		add(changes, sizeof(changes), "lookup name rules: %u tenant(s) with a "
		    "source that normalizes user names", ctl_norms_count(&norms));
	ctl_norms_free(&d->norms);
	d->norms = norms;

	ctl_log("reloaded %s: %s", path, changes[0] ? changes : "no change");
	if (restart[0])
		ctl_log("changed in %s but needs a restart to apply (kept as it was): %s",
		    path, restart);
	snprintf(outcome, sizeof(outcome), "ok: %s%s%s", changes[0] ? changes :
		 "no change", restart[0] ? "; needs a restart (kept as it was): " : "",
		 restart);
	record(d, outcome);
	return 0;
}
