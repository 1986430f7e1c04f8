/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* veil.conf: INI, parsed by inih. Every key is checked; the first error is
 * reported as "file:line: message". */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_pvt.h"
#include "veil_link.h"

struct parse {
	struct ctl_config *c;
	char msg[200];
};

static int copy_str(char *dst, size_t cap, const char *v, struct parse *p,
		    const char *name)
{
	if (strlen(v) == 0 || strlen(v) >= cap) {
		snprintf(p->msg, sizeof(p->msg), "%s: empty or longer than %zu",
			 name, cap - 1);
		return 0;
	}
	strcpy(dst, v);
	return 1;
}

static int parse_uint(unsigned *dst, const char *v, unsigned lo, unsigned hi,
		      struct parse *p, const char *name)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end != '\0' || *v == '-' || n < lo || n > hi) {
		snprintf(p->msg, sizeof(p->msg),
			 "%s: \"%.40s\" is not a number from %u to %u", name, v,
			 lo, hi);
		return 0;
	}
	*dst = (unsigned)n;
	return 1;
}

static int parse_bool(bool *dst, const char *v, struct parse *p, const char *name)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true")) {
		*dst = true;
		return 1;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false")) {
		*dst = false;
		return 1;
	}
	snprintf(p->msg, sizeof(p->msg), "%s: \"%.40s\" is not yes or no", name, v);
	return 0;
}

/* One identity "uid:N", "gid:N", "user:NAME" or "group:NAME". */
static int parse_identity(struct parse *p, const char *key,
			  enum veil_role role)
{
	struct ctl_config *c = p->c;
	struct ctl_role_binding b = { .role = role };
	const char *colon = strchr(key, ':');

	if (colon == NULL)
		goto bad;
	size_t kl = (size_t)(colon - key);
	const char *id = colon + 1;
	if ((kl == 3 && !strncmp(key, "uid", 3)) ||
	    (kl == 3 && !strncmp(key, "gid", 3))) {
		b.is_gid = key[0] == 'g';
		if (!parse_uint(&b.id, id, 0, 0xfffffffeu, p, key))
			return 0;
	} else if (kl == 4 && !strncmp(key, "user", 4)) {
		struct passwd *pw = getpwnam(id);
		if (pw == NULL) {
			snprintf(p->msg, sizeof(p->msg), "no such user \"%.40s\"", id);
			return 0;
		}
		b.id = pw->pw_uid;
	} else if (kl == 5 && !strncmp(key, "group", 5)) {
		struct group *gr = getgrnam(id);
		if (gr == NULL) {
			snprintf(p->msg, sizeof(p->msg), "no such group \"%.40s\"", id);
			return 0;
		}
		b.is_gid = true;
		b.id = gr->gr_gid;
	} else
		goto bad;
	for (unsigned i = 0; i < c->n_roles; i++)
		if (c->roles[i].is_gid == b.is_gid && c->roles[i].id == b.id) {
			c->roles[i].role = role; /* the file overrides defaults */
			return 1;
		}
	if (c->n_roles == CTL_MAX_ROLES) {
		snprintf(p->msg, sizeof(p->msg), "more than %d role bindings",
			 CTL_MAX_ROLES);
		return 0;
	}
	c->roles[c->n_roles++] = b;
	return 1;
bad:
	snprintf(p->msg, sizeof(p->msg), "bad identity \"%.40s\" (uid:N, gid:N, "
		 "user:NAME or group:NAME)", key);
	return 0;
}

/* [roles] ROLE = identity identity ... (spaces or commas between) */
static int parse_role(struct parse *p, const char *name, const char *value)
{
	enum veil_role role;
	char list[256], *save = NULL;

	if (veil_role_parse(name, &role) != 0) {
		snprintf(p->msg, sizeof(p->msg), "unknown role \"%.40s\" (reader, "
			 "investigator or admin)", name);
		return 0;
	}
	if (strlen(value) >= sizeof(list)) {
		snprintf(p->msg, sizeof(p->msg), "role list too long");
		return 0;
	}
	strcpy(list, value);
	for (char *t = strtok_r(list, " ,\t", &save); t != NULL;
	     t = strtok_r(NULL, " ,\t", &save))
		if (!parse_identity(p, t, role))
			return 0;
	return 1;
}

/* [byok]: the PKCS#11 token that holds tenants' key-encryption keys
 * (docs/keys.md). The PIN is read from pin_file at use, never kept here. */
static int parse_byok(struct parse *p, const char *name, const char *value)
{
	struct ctl_config *c = p->c;
	if (!strcmp(name, "module"))
		return copy_str(c->byok_module, sizeof(c->byok_module), value, p, name);
	if (!strcmp(name, "token_label"))
		return copy_str(c->byok_token, sizeof(c->byok_token), value, p, name);
	if (!strcmp(name, "pin_file")) {
		if (value[0] != '/') {
			snprintf(p->msg, sizeof(p->msg), "pin_file: \"%.60s\" is not an "
				 "absolute path", value);
			return 0;
		}
		return copy_str(c->byok_pin_file, sizeof(c->byok_pin_file), value, p, name);
	}
	if (!strcmp(name, "byok_check_interval"))
		return parse_uint(&c->byok_check_interval_s, value, 1, 86400, p, name);
	if (!strcmp(name, "byok_grace"))
		return parse_uint(&c->byok_grace_s, value, 0, 30 * 86400, p, name);
	snprintf(p->msg, sizeof(p->msg), "unknown key \"%.40s\" in [byok] (module, "
		 "token_label, pin_file, byok_check_interval, byok_grace)", name);
	return 0;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;
	struct ctl_config *c = p->c;

	if (!strcmp(section, "roles"))
		return parse_role(p, name, value);
	if (!strcmp(section, "byok"))
		return parse_byok(p, name, value);
	/* veil-dataplane's sections: it checks them (veil-dataplane -n) */
	if (!strcmp(section, "dataplane") || !strncmp(section, "source ", 7) ||
	    !strcmp(section, "network") || !strncmp(section, "listen ", 7) ||
	    !strncmp(section, "upstream ", 9) || !strncmp(section, "port ", 5))
		return 1;
	if (strcmp(section, "controld") != 0) {
		snprintf(p->msg, sizeof(p->msg), "unknown section [%.40s]", section);
		return 0;
	}
	if (!strcmp(name, "state_dir"))
		return copy_str(c->state_dir, sizeof(c->state_dir), value, p, name);
	if (!strcmp(name, "socket"))
		return copy_str(c->socket_path, sizeof(c->socket_path), value, p, name);
	if (!strcmp(name, "api_user"))
		return copy_str(c->api_user, sizeof(c->api_user), value, p, name);
	if (!strcmp(name, "socket_group"))
		return copy_str(c->socket_group, sizeof(c->socket_group), value, p, name);
	if (!strcmp(name, "master_key"))
		return copy_str(c->master_key, sizeof(c->master_key), value, p, name);
	if (!strcmp(name, "link_name")) {
		snprintf(p->msg, sizeof(p->msg), "link_name was replaced by "
			 "link_socket (a path)");
		return 0;
	}
	if (!strcmp(name, "link_socket")) {
		if (value[0] != '/') {
			snprintf(p->msg, sizeof(p->msg), "link_socket: \"%.60s\" is "
				 "not an absolute path (e.g. %s)", value,
				 VEIL_LINK_DEFAULT_SOCKET);
			return 0;
		}
		return copy_str(c->link_socket, sizeof(c->link_socket), value, p, name);
	}
	if (!strcmp(name, "dataplane_user")) {
		char e[120];
		if (veil_link_parse_user(value, &c->dataplane_uid, e, sizeof(e)) != 0) {
			snprintf(p->msg, sizeof(p->msg), "dataplane_user: %s", e);
			return 0;
		}
		return copy_str(c->dataplane_user, sizeof(c->dataplane_user), value,
				p, name);
	}
	if (!strcmp(name, "dataplane_watchdog"))
		return parse_uint(&c->dataplane_watchdog_s, value, 0, 3600, p, name);
	if (!strcmp(name, "key_retention_days"))
		return parse_uint(&c->key_retention_days, value, 1, 36500, p, name);
	if (!strcmp(name, "audit_retention_days"))
		return parse_uint(&c->audit_retention_days, value, 1, 36500, p, name);
	if (!strcmp(name, "rate_limit"))
		return parse_uint(&c->rate_limit_per_min, value, 1, 1000000, p, name);
	if (!strcmp(name, "idle_timeout"))
		return parse_uint(&c->idle_timeout_s, value, 1, 3600, p, name);
	if (!strcmp(name, "connections_per_uid")) /* up to CTLD_MAX_CLIENTS */
		return parse_uint(&c->connections_per_uid, value, 1, 256, p, name);
	if (!strcmp(name, "max_tenants"))
		return parse_uint(&c->max_tenants, value, 1, 100000000, p, name);
	if (!strcmp(name, "key_cache"))
		return parse_uint(&c->key_cache, value, 1, 10000000, p, name);
	if (!strcmp(name, "max_live_versions"))
		return parse_uint(&c->max_live_versions, value, 2, 100000, p, name);
	if (!strcmp(name, "metrics_listen")) /* checked once the file is read */
		return copy_str(c->metrics_listen, sizeof(c->metrics_listen), value, p,
				name);
	if (!strcmp(name, "master_key_check_interval"))
		return parse_uint(&c->master_key_check_s, value, 0, 86400, p, name);
	if (!strcmp(name, "metrics_allow_remote"))
		return parse_bool(&c->metrics_allow_remote, value, p, name);
	snprintf(p->msg, sizeof(p->msg), "unknown key \"%.40s\" in [controld]", name);
	return 0;
}

int ctl_config_load(struct ctl_config *c, const char *path, char *err,
		    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/veil");
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", VEIL_DEFAULT_SOCKET);
	snprintf(c->api_user, sizeof(c->api_user), "nobody");
	snprintf(c->link_socket, sizeof(c->link_socket), "%s",
		 VEIL_LINK_DEFAULT_SOCKET);
	c->dataplane_uid = VEIL_LINK_UID_DEFAULT;
	c->dataplane_watchdog_s = 10;
	c->key_retention_days = 90;
	c->audit_retention_days = 120;
	c->rate_limit_per_min = 10000;
	c->idle_timeout_s = 30;
	c->connections_per_uid = 16;
	c->max_tenants = 1000000;
	c->max_live_versions = 1024;
	c->key_cache = 4096;
	c->byok_check_interval_s = 300;
	c->byok_grace_s = 3600;
	c->master_key_check_s = 60;
	/* root is admin unless the file says otherwise */
	c->roles[c->n_roles++] = (struct ctl_role_binding){ false, 0, VEIL_ROLE_ADMIN };
	if (path == NULL)
		goto done;
	snprintf(c->path, sizeof(c->path), "%s", path);

	struct parse p = { .c = c };
	if (veil_ini_parse(path, handler, &p, p.msg, err, errlen) != 0)
		return -1;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char merr[400];
	if (ctl_config_metrics_addr(c, &ss, &sslen, merr, sizeof(merr)) != 0) {
		snprintf(err, errlen, "%s: %s", path, merr);
		return -1;
	}
done:
	if (c->master_key[0] == '\0')
		snprintf(c->master_key, sizeof(c->master_key), "%s/master.key",
			 c->state_dir);
	return 0;
}

/* The directory a file would be made in: its parent path, or "." */
static void dir_of(const char *path, char *dir, size_t cap)
{
	snprintf(dir, cap, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, cap, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

int ctl_config_check_master_key(const struct ctl_config *c, char *err,
				size_t errlen)
{
	if (access(c->master_key, F_OK) == 0 || errno != ENOENT) {
		/* opened as at start (owner, mode, size checked), then shut */
		struct ctl_wrap *w = ctl_wrap_open(c->master_key, false, err, errlen);
		if (w == NULL)
			return -1;
		ctl_wrap_close(w);
		return 0;
	}
	/* No key yet. controld makes one only for a state directory that
	 * holds none: a database there has its keys wrapped by the lost one. */
	char db[sizeof(c->state_dir) + 16], dir[sizeof(c->master_key)];
	snprintf(db, sizeof(db), "%s/veil.db", c->state_dir);
	if (access(db, F_OK) == 0) {
		snprintf(err, errlen, "master key %s: missing, and %s holds keys "
			 "wrapped by it (restore the key; controld refuses to start "
			 "without it)", c->master_key, db);
		return -1;
	}
	dir_of(c->master_key, dir, sizeof(dir));
	if (strcmp(dir, c->state_dir) == 0 && access(dir, F_OK) != 0) {
		char parent[sizeof(dir)];
		dir_of(dir, parent, sizeof(parent)); /* controld makes the state dir */
		snprintf(dir, sizeof(dir), "%s", parent);
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "master key %s: cannot be created: %s: %s",
			 c->master_key, dir, strerror(errno));
		return -1;
	}
	return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

int ctl_config_metrics_addr(const struct ctl_config *c, struct sockaddr_storage *ss,
			    socklen_t *len, char *err, size_t errlen)
{
	const char *v = c->metrics_listen;
	char host[64];
	const char *port;
	*len = 0;
	if (v[0] == '\0')
		return 0; /* off */
	/* ADDRESS:PORT, an IPv6 address in brackets */
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - v - 1), v + 1);
		port = close + 2;
	} else {
		const char *colon = strrchr(v, ':');
		if (colon == NULL || strchr(v, ':') != colon)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
		port = colon + 1;
	}
	char *end;
	unsigned long pn = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end != '\0' || pn < 1 || pn > 65535)
		goto bad;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		goto bad;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!is_loopback(ss) && !c->metrics_allow_remote) {
		*len = 0;
		snprintf(err, errlen, "metrics_listen: %s is not a loopback address: "
			 "the metrics would be served to other hosts. Use 127.0.0.1:PORT "
			 "or [::1]:PORT (and a local agent to forward them), or set "
			 "metrics_allow_remote = yes to serve them there on purpose", v);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "metrics_listen: \"%s\" is not ADDRESS:PORT with a "
		 "numeric address and a port from 1 to 65535 (e.g. 127.0.0.1:9464 or "
		 "[::1]:9464)", v);
	return -1;
}

/* The operator of a recovery or a restore: the uid running veil-controld,
 * its role as veil.conf gives it (the database may be what is being
 * recovered), and the reason. */
struct ctl_recovery ctl_config_operator(const struct ctl_config *c, const char *reason)
{
	enum veil_role role = VEIL_ROLE_NONE;
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
	for (unsigned i = 0; i < c->n_roles && role == VEIL_ROLE_NONE; i++)
		if (!c->roles[i].is_gid && c->roles[i].id == uid)
			role = c->roles[i].role;
	for (unsigned i = 0; i < c->n_roles && role == VEIL_ROLE_NONE; i++)
		if (c->roles[i].is_gid && c->roles[i].id == gid)
			role = c->roles[i].role;
	return (struct ctl_recovery){ .uid = uid, .role = veil_role_name(role),
				      .reason = reason };
}
