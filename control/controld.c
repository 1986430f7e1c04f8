/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld: the control plane. State store, key versions, governance
 * log, roles, the admin API on a Unix socket, and the link that hands key
 * versions to the dataplane. One thread, one poll loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "ctld_pvt.h"

static const char usage[] =
	"usage: veil-controld [-c FILE] [-n] [-f] [--recover-audit REASON] [-h]\n"
	"The veil control plane: keys, governance log, roles, admin API.\n"
	"  -c FILE  configuration file (default " VEIL_DEFAULT_CONFIG ")\n"
	"  -n       check the configuration and that the master key can be read\n"
	"           (or made, for a new state directory), print \"configuration\n"
	"           OK\" or the error with its file, and exit\n"
	"  -f       stay in the foreground, log to stderr (otherwise: syslog)\n"
	"  --recover-audit REASON\n"
	"           start although the governance log is missing, shortened,\n"
	"           rewound or broken: record what was found and REASON in it\n"
	"           (action audit.recover) and accept exactly that\n"
	"  -h       this text\n"
	"See veil-controld(8) and veil.conf(5).\n";

static volatile sig_atomic_t stopping, reload_wanted;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_wanted = 1;
}

struct client {
	int fd;
	struct ctl_caller who;
	uint8_t hdr[4];
	size_t hdr_got;
	char *body;
	size_t need, got;
	json_t *pending; /* the answer, held until its records are durable */
};

static struct ctld d;
static struct client clients[CTLD_MAX_CLIENTS];

/* Without -f, syslog (facility daemon; journald takes it): a daemon's
 * stderr is /dev/null (openlog's LOG_PERROR copies to the terminal until
 * daemon() detaches). With -f and for -n, stderr. */
static bool to_syslog;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	if (to_syslog) {
		va_start(ap, fmt);
		vsyslog(LOG_NOTICE, fmt, ap);
		va_end(ap);
		return;
	}
	va_start(ap, fmt);
	fputs("veil-controld: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The link server's lines (dataplanes connecting, leaving, refused). */
static void link_log(void *ctx, const char *msg)
{
	(void)ctx;
	logmsg("link: %s", msg);
}

static int listen_socket(const struct ctl_config *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(c->socket_path) >= sizeof(sa.sun_path)) {
		logmsg("socket path too long: %s", c->socket_path);
		return -1;
	}
	strcpy(sa.sun_path, c->socket_path);
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", c->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(c->socket_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->socket_path, 0660) != 0 || listen(fd, 64) != 0) {
		logmsg("socket %s: %s", c->socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (c->socket_group[0] != '\0') {
		struct group *g = getgrnam(c->socket_group);
		if (g == NULL || chown(c->socket_path, (uid_t)-1, g->gr_gid) != 0) {
			logmsg("socket group %s: %s", c->socket_group,
			       g ? strerror(errno) : "no such group");
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->body);
	json_decref(c->pending);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void answer(struct client *c, json_t *a)
{
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	/* the socket is non-blocking for reads; answers are written whole */
	int fl = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	if (s == NULL || veil_api_write(c->fd, s, strlen(s)) != 0)
		client_close(c);
	else
		fcntl(c->fd, F_SETFL, fl);
	if (s != NULL) {
		explicit_bzero(s, strlen(s)); /* may hold names */
		free(s);
	}
}

/* Accept one waiting connection; returns false when none is left. */
static bool accept_client(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return false;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *c = NULL;
	for (int i = 0; i < CTLD_MAX_CLIENTS && c == NULL; i++)
		if (clients[i].fd < 0)
			c = &clients[i];
	if (c == NULL || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return c != NULL;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->who = (struct ctl_caller){ .uid = cr.uid, .gid = cr.gid, .pid = cr.pid,
				      .role = ctl_role_of(&d, cr.uid, cr.gid) };
	return true;
}

/* Read what is there; handle a request once it is whole. */
static void client_read(struct client *c)
{
	if (c->hdr_got < 4) {
		ssize_t r = read(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				client_close(c);
			return;
		}
		c->hdr_got += (size_t)r;
		if (c->hdr_got < 4)
			return;
		c->need = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
			  (size_t)c->hdr[2] << 8 | c->hdr[3];
		if (c->need > VEIL_API_MSG_MAX) {
			answer(c, json_pack("{s:b, s:s}", "ok", 0, "error",
					    "request too large"));
			if (c->fd >= 0)
				client_close(c);
			return;
		}
		c->body = malloc(c->need + 1);
		c->got = 0;
		if (c->body == NULL) {
			client_close(c);
			return;
		}
	}
	if (c->got < c->need) {
		ssize_t r = read(c->fd, c->body + c->got, c->need - c->got);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				client_close(c);
			return;
		}
		c->got += (size_t)r;
		if (c->got < c->need)
			return;
	}
	c->body[c->need] = '\0';
	c->pending = ctl_handle(&d, &c->who, c->body, c->need);
	free(c->body);
	c->body = NULL;
	c->hdr_got = 0;
}

/* Group commit: one commit for the records of every request handled in
 * this pass, then the answers. If the commit fails, nothing that depended
 * on it goes out: each waiting caller gets an error instead. */
static void answer_pending(void)
{
	bool lost = ctl_store_sync(&d.store) != 0;
	if (lost)
		logmsg("governance log commit failed: %s; withholding answers",
		       sqlite3_errmsg(d.store.db));
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->pending == NULL)
			continue;
		json_t *a = c->pending;
		c->pending = NULL;
		if (lost) {
			json_decref(a);
			a = json_pack("{s:b, s:s}", "ok", 0, "error", "the governance "
				      "log cannot be written; nothing was answered");
		}
		answer(c, a);
	}
}

static int run(int lfd)
{
	struct pollfd pfd[CTLD_MAX_CLIENTS + 1];
	int64_t next_housekeeping = 0;

	while (!stopping) {
		if (reload_wanted) {
			reload_wanted = 0;
			ctl_reload(&d, logmsg);
		}
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
			if (clients[i].fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
		int rc = poll(pfd, (nfds_t)n, 100);
		if (rc < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return -1;
		}
		if (d.link != NULL)
			veil_link_server_poll(d.link);
		if (ctl_now() >= next_housekeeping) {
			ctl_housekeeping(&d);
			next_housekeeping = ctl_now() + 60000;
		}
		if (rc <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			while (accept_client(lfd))
				;
		ctl_store_batch(&d.store, true);
		for (int i = 1; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (int k = 0; k < CTLD_MAX_CLIENTS; k++)
				if (clients[k].fd == pfd[i].fd) {
					client_read(&clients[k]);
					break;
				}
		}
		answer_pending();
		ctl_store_batch(&d.store, false);
	}
	return 0;
}

/* The store, checked against the governance log's mark; with a reason,
 * what does not fit is recorded and accepted instead of refused. The
 * operator's role is the one veil.conf gives: the database may be what
 * is being recovered. */
static int open_store(const char *reason, char *err, size_t errlen)
{
	if (reason == NULL)
		return ctl_store_open(&d.store, &d.cfg, err, errlen);
	enum veil_role role = VEIL_ROLE_NONE;
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();
	for (unsigned i = 0; i < d.cfg.n_roles && role == VEIL_ROLE_NONE; i++)
		if (!d.cfg.roles[i].is_gid && d.cfg.roles[i].id == uid)
			role = d.cfg.roles[i].role;
	for (unsigned i = 0; i < d.cfg.n_roles && role == VEIL_ROLE_NONE; i++)
		if (d.cfg.roles[i].is_gid && d.cfg.roles[i].id == gid)
			role = d.cfg.roles[i].role;
	struct ctl_recovery r = { .uid = uid, .role = veil_role_name(role),
				  .reason = reason };
	return ctl_store_recover(&d.store, &d.cfg, &r, err, errlen);
}

int main(int argc, char **argv)
{
	const char *config = VEIL_DEFAULT_CONFIG;
	bool check = false, foreground = false;
	const char *recover = NULL;
	char err[2048];
	int c;
	static const struct option longopts[] = {
		{ "recover-audit", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "c:nfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'R': recover = optarg; break;
		case 'n': check = true; break;
		case 'f': foreground = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (recover != NULL && (recover[0] == '\0' || strlen(recover) > 1000)) {
		fputs("veil-controld: --recover-audit needs a reason (1 to 1000 "
		      "characters): what happened, and the ticket\n", stderr);
		return 2;
	}
	if (ctl_config_load(&d.cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-controld: %s\n", err);
		return 1;
	}
	if (check) {
		if (ctl_config_check_master_key(&d.cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "veil-controld: %s\n", err);
			return 1;
		}
		printf("configuration OK\n");
		return 0;
	}
	if (!foreground) {
		/* LOG_PERROR: on the terminal too, until daemon() closes it */
		openlog("veil-controld", LOG_PID | LOG_PERROR, LOG_DAEMON);
		to_syslog = true;
	}
	prctl(PR_SET_DUMPABLE, 0); /* keys: no core dumps, no ptrace */
	umask(077);
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	d.started = ctl_now();
	if (open_store(recover, err, sizeof(err)) != 0) {
		logmsg("%s", err);
		return 1;
	}
	if (d.store.note[0] != '\0')
		logmsg("%s", d.store.note);
	char eerr[160];
	struct veil_engine_opts eo;
	if (veil_engine_opts_from_env(&eo, eerr, sizeof(eerr)) != 0 ||
	    (d.engine = veil_engine_new(&eo)) == NULL) {
		logmsg("crypto engine: %s", eerr[0] ? eerr : strerror(errno));
		return 1;
	}
	if (ctl_settings_load(&d, err, sizeof(err)) != 0 ||
	    ctl_tenants_load(&d, err, sizeof(err)) != 0) {
		logmsg("%s", err);
		return 1;
	}
	struct veil_link_server_opts lo = {
		.socket_path = d.cfg.link_socket, .slots = 1024,
		.dataplane_uid = d.cfg.dataplane_uid, .keys = ctl_link_keys,
		.ctx = &d, .log = link_log,
	};
	d.link = veil_link_server_new(&lo, err, sizeof(err));
	if (d.link == NULL) {
		logmsg("dataplane link: %s", err);
		return 1;
	}
	/* before the socket exists: whoever sees it may signal us */
	struct sigaction sa = { .sa_handler = on_signal }, hup = { .sa_handler = on_hup };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = listen_socket(&d.cfg);
	if (lfd < 0)
		return 1;
	if (!foreground && daemon(0, 0) != 0) {
		logmsg("daemon: %s", strerror(errno));
		return 1;
	}
	logmsg("serving %u tenants on %s (crypto %s, link %s)", d.n_tenants,
	       d.cfg.socket_path, veil_engine_name(d.engine), d.cfg.link_socket);
	int rc = run(lfd);

	logmsg("stopping after %llu requests", (unsigned long long)d.requests);
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	close(lfd);
	unlink(d.cfg.socket_path);
	veil_link_server_free(d.link);
	for (unsigned i = 0; i < d.n_tenants; i++)
		veil_keyring_free(d.tenants[i].ring);
	veil_engine_free(d.engine);
	ctl_store_close(&d.store);
	return rc == 0 ? 0 : 1;
}
