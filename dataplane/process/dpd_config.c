/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's configuration: the same INI file as veil-controld, read
 * with inih. Its sections:
 *   [dataplane]    link_socket, controld_user, user, max_message,
 *                  wait_keys, hold_lines, hold_bytes
 *   [source NAME]  tenant = ..., and any key of vdp_source_set() (format,
 *                  user_fields, keep_domain, ...)
 *   [network], [listen NAME], [upstream NAME], [port NAME]
 *                  the network drivers' (drivers/netcfg.c), except
 *                  [network] default_source = NAME, read here
 *   [source NAME]  networks = CIDR, ...: the senders of this source
 *   [controld]     only link_socket is read (when [dataplane] has none)
 *   [roles]        controld's: skipped
 * Any other section or key, or a bad value, is an error "file:line: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpd_pvt.h"
#include "veil_control.h"

struct parse {
	struct vdd_config *c;
	char msg[240];
};

static int parse_num(double *dst, const char *v, double lo, double hi,
		     struct parse *p, const char *name)
{
	char *end;
	errno = 0;
	double n = strtod(v, &end);
	if (errno || end == v || *end != '\0' || !(n >= lo && n <= hi)) {
		snprintf(p->msg, sizeof(p->msg), "%s: \"%.40s\" is not a number "
			 "from %g to %g", name, v, lo, hi);
		return 0;
	}
	*dst = n;
	return 1;
}

/* link_name was a name under /dev/shm: a config that has it is told. */
static int link_name_gone(struct parse *p)
{
	snprintf(p->msg, sizeof(p->msg), "link_name was replaced by link_socket "
		 "(a path)");
	return 0;
}

static int link_socket_set(struct parse *p, const char *value)
{
	if (vdd_link_socket_check(value, p->msg, sizeof(p->msg)) != 0)
		return 0;
	strcpy(p->c->link_socket, value);
	return 1;
}

int vdd_link_socket_check(const char *value, char *err, size_t errlen)
{
	if (value[0] != '/' || strlen(value) > VEIL_LINK_SOCKET_MAX) {
		snprintf(err, errlen, "link_socket: \"%.60s\" is not an absolute "
			 "path of at most %d characters (e.g. %s)", value,
			 VEIL_LINK_SOCKET_MAX, VEIL_LINK_DEFAULT_SOCKET);
		return -1;
	}
	return 0;
}

static int dataplane_key(struct parse *p, const char *name, const char *value)
{
	struct vdd_config *c = p->c;
	double n;

	if (!strcmp(name, "link_name"))
		return link_name_gone(p);
	if (!strcmp(name, "link_socket")) {
		if (!link_socket_set(p, value))
			return 0;
		c->link_from_dataplane = true;
		return 1;
	}
	if (!strcmp(name, "controld_user")) {
		char e[120];
		if (veil_link_parse_user(value, &c->controld_uid, e, sizeof(e)) != 0 ||
		    strlen(value) >= sizeof(c->controld_user)) {
			snprintf(p->msg, sizeof(p->msg), "controld_user: %s",
				 strlen(value) >= sizeof(c->controld_user)
				 ? "too long" : e);
			return 0;
		}
		strcpy(c->controld_user, value);
		return 1;
	}
	if (!strcmp(name, "user")) {
		char e[200];
		if (vdd_user_resolve(c, value, e, sizeof(e)) != 0) {
			snprintf(p->msg, sizeof(p->msg), "%s", e);
			return 0;
		}
		return 1;
	}
	if (!strcmp(name, "max_message")) {
		if (!parse_num(&n, value, 64, VDD_MAX_MESSAGE, p, name))
			return 0;
		c->max_message = (size_t)n;
		return 1;
	}
	if (!strcmp(name, "wait_keys")) {
		if (!parse_num(&n, value, 0, VDD_WAIT_KEYS_MAX, p, name))
			return 0;
		c->wait_keys = n;
		return 1;
	}
	if (!strcmp(name, "hold_lines")) {
		if (!parse_num(&n, value, VDP_BURST_MAX, 1 << 24, p, name))
			return 0;
		c->hold_lines = (unsigned)n;
		return 1;
	}
	if (!strcmp(name, "hold_bytes")) {
		if (!parse_num(&n, value, 1 << 20, (double)(1ull << 34), p, name))
			return 0;
		c->hold_bytes = (size_t)n;
		return 1;
	}
	snprintf(p->msg, sizeof(p->msg), "unknown key \"%.40s\" in [dataplane]", name);
	return 0;
}

static const char *source_name(const void *ctx, uint32_t i)
{
	const struct vdd_config *c = ctx;
	return c->sources[i].name;
}

/* Room for one more source (the array grows: a dataplane may serve a
 * source per tenant, 100,000 of them and more). @return the next free
 * entry, zeroed, or NULL with a message. */
static struct vdd_source_cfg *source_slot(struct vdd_config *c, char *err,
					  size_t errlen)
{
	if (c->n_sources == VDD_MAX_SOURCES) {
		snprintf(err, errlen, "more than %u sources", VDD_MAX_SOURCES);
		return NULL;
	}
	if (c->n_sources == c->cap_sources) {
		unsigned cap = c->cap_sources ? 2 * c->cap_sources : 64;
		struct vdd_source_cfg *a = realloc(c->sources, cap * sizeof(*a));
		if (a == NULL) {
			snprintf(err, errlen, "%u sources: out of memory", cap);
			return NULL;
		}
		c->sources = a;
		c->cap_sources = cap;
	}
	struct vdd_source_cfg *s = &c->sources[c->n_sources];
	memset(s, 0, sizeof(*s));
	return s;
}

/* The entry source_slot() gave is a source now, found by its name. */
static int source_commit(struct vdd_config *c, char *err, size_t errlen)
{
	if (vdd_index_add(&c->source_idx, c->sources[c->n_sources].name,
			  c->n_sources, source_name, c) != 0) {
		snprintf(err, errlen, "source %s: out of memory",
			 c->sources[c->n_sources].name);
		return -1;
	}
	c->n_sources++;
	return 0;
}

static struct vdd_source_cfg *source_get(struct parse *p, const char *name)
{
	struct vdd_config *c = p->c;
	int i = vdd_source_find(c, name);
	if (i >= 0)
		return &c->sources[i];
	if (strlen(name) == 0 || strlen(name) >= sizeof(((struct vdd_source_cfg *)0)->name)) {
		snprintf(p->msg, sizeof(p->msg), "[source NAME]: a name of 1 to %zu "
			 "characters", sizeof(((struct vdd_source_cfg *)0)->name) - 1);
		return NULL;
	}
	struct vdd_source_cfg *s = source_slot(c, p->msg, sizeof(p->msg));
	if (s == NULL)
		return NULL;
	s->src = vdp_source_new(name);
	if (s->src == NULL) {
		snprintf(p->msg, sizeof(p->msg), "source \"%.40s\": %s", name,
			 strerror(errno));
		return NULL;
	}
	strcpy(s->name, name);
	strcpy(s->format, "auto");
	s->from_config = true;
	if (source_commit(c, p->msg, sizeof(p->msg)) != 0) {
		vdp_source_free(s->src);
		return NULL;
	}
	return s;
}

static int source_key(struct parse *p, const char *sname, const char *name,
		      const char *value)
{
	struct vdd_source_cfg *s = source_get(p, sname);
	char err[160];
	if (s == NULL)
		return 0;
	if (!strcmp(name, "networks")) {
		/* a comma-separated list of networks */
		char buf[1024], *save = NULL;
		if (strlen(value) >= sizeof(buf)) {
			snprintf(p->msg, sizeof(p->msg), "networks: too long");
			return 0;
		}
		strcpy(buf, value);
		for (char *t = strtok_r(buf, ", \t", &save); t != NULL;
		     t = strtok_r(NULL, ", \t", &save))
			if (vdr_net_cfg_map(p->c->net, t, (uint16_t)(s - p->c->sources),
					    err, sizeof(err)) != 0) {
				snprintf(p->msg, sizeof(p->msg), "[source %.40s] "
					 "networks: %.160s", sname, err);
				return 0;
			}
		return 1;
	}
	if (!strcmp(name, "tenant")) {
		if (!veil_tenant_valid(value)) {
			snprintf(p->msg, sizeof(p->msg), "tenant: \"%.64s\" is not a "
				 "tenant id ([a-z0-9_.-], 1 to %d)", value,
				 VEIL_TENANT_MAX);
			return 0;
		}
		strcpy(s->tenant, value);
		return 1;
	}
	if (vdp_source_set(s->src, name, value, err, sizeof(err)) != 0) {
		snprintf(p->msg, sizeof(p->msg), "[source %.40s] %.160s", sname, err);
		return 0;
	}
	if (!strcmp(name, "format"))
		snprintf(s->format, sizeof(s->format), "%s", value);
	if (!strcmp(name, "regex"))
		s->has_regex = true;
	return 1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;

	if (!strcmp(section, "dataplane"))
		return dataplane_key(p, name, value);
	if (!strncmp(section, "source ", 7)) {
		const char *sname = section + 7;
		while (*sname == ' ')
			sname++;
		return source_key(p, sname, name, value);
	}
	if (!strcmp(section, "controld")) {
		/* controld checks its own keys; only the link is shared */
		if (!strcmp(name, "link_name"))
			return link_name_gone(p);
		if (!strcmp(name, "link_socket") && !p->c->link_from_dataplane)
			return link_socket_set(p, value);
		return 1;
	}
	/* veil-controld's own sections: one file serves both daemons */
	if (!strcmp(section, "roles") || !strcmp(section, "byok"))
		return 1;
	if (!strcmp(section, "network") && !strcmp(name, "default_source")) {
		if (strlen(value) == 0 || strlen(value) >= sizeof(p->c->default_source)) {
			snprintf(p->msg, sizeof(p->msg), "default_source: a source name");
			return 0;
		}
		strcpy(p->c->default_source, value);
		return 1;
	}
	if (vdr_net_cfg_section(section)) {
		char err[200];
		if (vdr_net_cfg_set(p->c->net, section, name, value, err,
				    sizeof(err)) != 0) {
			snprintf(p->msg, sizeof(p->msg), "%s", err);
			return 0;
		}
		return 1;
	}
	snprintf(p->msg, sizeof(p->msg), "unknown section [%.40s] (dataplane, "
		 "source NAME, network, listen NAME, upstream NAME, port NAME; "
		 "controld, roles and byok are veil-controld's)", section);
	return 0;
}

int vdd_config_load(struct vdd_config *c, const char *path, char *err,
		    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->link_socket, sizeof(c->link_socket), "%s",
		 VEIL_LINK_DEFAULT_SOCKET);
	c->controld_uid = VEIL_LINK_UID_DEFAULT;
	c->user_uid = -1;
	c->max_message = 65536;
	c->wait_keys = 10;
	c->hold_lines = 65536;
	c->hold_bytes = 32u << 20;
	c->inputs = calloc(VDD_MAX_INPUTS, sizeof(*c->inputs));
	c->net = vdr_net_cfg_new();
	if (vdd_index_init(&c->source_idx, 64) != 0 || c->inputs == NULL ||
	    c->net == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (path == NULL)
		return 0;
	snprintf(c->path, sizeof(c->path), "%s", path);
	struct parse p = { .c = c };
	if (veil_ini_parse(path, handler, &p, p.msg, err, errlen) != 0)
		return -1;
	for (unsigned i = 0; i < c->n_sources; i++)
		if (c->sources[i].tenant[0] == '\0') {
			snprintf(err, errlen, "%s: [source %s] has no \"tenant =\"",
				 path, c->sources[i].name);
			return -1;
		} else if (!strcmp(c->sources[i].format, "regex") &&
			   !c->sources[i].has_regex) {
			snprintf(err, errlen, "%s: [source %s] has format = regex "
				 "but no \"regex =\"", path, c->sources[i].name);
			return -1;
		}
	/* the options that only make sense together (W3C's pinned columns) */
	for (unsigned i = 0; i < c->n_sources; i++) {
		char serr[240];
		if (vdp_source_check(c->sources[i].src, serr, sizeof(serr)) != 0) {
			snprintf(err, errlen, "%s: [source %s] %s", path,
				 c->sources[i].name, serr);
			return -1;
		}
	}
	if (c->default_source[0] != '\0') {
		int d = vdd_source_find(c, c->default_source);
		if (d < 0) {
			snprintf(err, errlen, "%s: [network] default_source = %s: "
				 "no [source %s]", path, c->default_source,
				 c->default_source);
			return -1;
		}
		vdr_net_cfg_default_source(c->net, d);
	}
	char nerr[300];
	if (vdr_net_cfg_check(c->net, nerr, sizeof(nerr)) != 0) {
		snprintf(err, errlen, "%s: %s", path, nerr);
		return -1;
	}
	return 0;
}

int vdd_source_find(const struct vdd_config *c, const char *name)
{
	return (int)vdd_index_find(&c->source_idx, name, source_name, c);
}

int vdd_source_add_cli(struct vdd_config *c, const char *input,
		       const char *tenant, const char *format, char *err,
		       size_t errlen)
{
	char name[64], base[48];
	const char *slash = strrchr(input, '/');

	if (tenant == NULL) {
		snprintf(err, errlen, "input %s: no tenant (give --tenant T, or "
			 "--source NAME of a [source NAME] with a tenant)", input);
		return -1;
	}
	if (!veil_tenant_valid(tenant)) {
		snprintf(err, errlen, "--tenant: \"%.64s\" is not a tenant id "
			 "([a-z0-9_.-], 1 to %d)", tenant, VEIL_TENANT_MAX);
		return -1;
	}
	snprintf(base, sizeof(base), "%s", !strcmp(input, "-") ? "stdin"
			      : slash != NULL && slash[1] ? slash + 1 : input);
	snprintf(name, sizeof(name), "%s", base);
	for (unsigned k = 2; vdd_source_find(c, name) >= 0; k++)
		snprintf(name, sizeof(name), "%s#%u", base, k);
	struct vdd_source_cfg *s = source_slot(c, err, errlen);
	if (s == NULL)
		return -1;
	s->src = vdp_source_new(name);
	if (s->src == NULL) {
		snprintf(err, errlen, "source %s: %s", name, strerror(errno));
		return -1;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	snprintf(s->format, sizeof(s->format), "%s", format ? format : "auto");
	if (format != NULL &&
	    vdp_source_set(s->src, "format", format, err, errlen) != 0) {
		char e2[200];
		snprintf(e2, sizeof(e2), "--format: %s", err);
		snprintf(err, errlen, "%s", e2);
		vdp_source_free(s->src);
		s->src = NULL;
		return -1;
	}
	if (source_commit(c, err, errlen) != 0) {
		vdp_source_free(s->src);
		s->src = NULL;
		return -1;
	}
	return (int)c->n_sources - 1;
}

void vdd_config_free(struct vdd_config *c)
{
	for (unsigned i = 0; c->sources != NULL && i < c->n_sources; i++)
		vdp_source_free(c->sources[i].src);
	free(c->sources);
	vdd_index_free(&c->source_idx);
	free(c->inputs);
	vdr_net_cfg_free(c->net);
	memset(c, 0, sizeof(*c));
}
