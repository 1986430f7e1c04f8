/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * controld's side of the link: listens on the link socket, checks who
 * connects (SO_PEERCRED), hands a fresh region to the dataplane it accepts,
 * answers its HELLO with every live key version, pushes key rolls and
 * destructions as they happen, and keeps the counters the workers send up.
 *
 * One dataplane at a time: a second one is refused while the first is
 * connected. When the dataplane leaves (its connection ends), its region
 * is closed and wiped; the next one gets a new region and a full resync.
 *
 * Nothing is queued outside the region: a change that finds the ring full
 * marks the link "resync pending", and the next poll sends every live key
 * again. A resync is authoritative: at its SYNC_DONE the dataplane destroys
 * every key version the resync did not carry, so a destruction that could
 * not be sent is not lost either.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "veil_link.h"

#define MAX_WORKERS 64

struct veil_link_server {
	struct veil_link_server_opts o;
	char path[VEIL_LINK_SOCKET_MAX + 1];
	int lfd;
	struct veil_link *link; /* the connected dataplane's, or NULL */
	bool peer_hello;     /* it said hello */
	bool resync_pending; /* send every live key at the next poll */
	bool synced;
	bool seen;
	struct veil_link_cred peer;
	uint64_t last_contact_ms; /* monotonic; 0: never */
	uint64_t connections, refused_peers, refused_busy;
	uint32_t last_refused_uid;
	uint64_t last_refusal_log_ms, refusals_unlogged;
	struct veil_link_worker_counters counters[MAX_WORKERS];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void logf_(struct veil_link_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct veil_link_server *s, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->o.log != NULL)
		s->o.log(s->o.ctx, msg);
	else
		fprintf(stderr, "veil-link: %s\n", msg);
}

/* The socket's directory: made if missing; refused if a user other than
 * root or ours could write in it, since that user could replace the
 * socket (the dataplane's peer check would still refuse an impostor, but
 * the link would be down). */
static int check_dir(const char *path, char *err, size_t errlen)
{
	char dir[VEIL_LINK_SOCKET_MAX + 1];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash[1] == '\0') {
		snprintf(err, errlen, "link_socket %s: an absolute path to a "
			 "socket file, e.g. %s", path, VEIL_LINK_DEFAULT_SOCKET);
		return -1;
	}
	if (slash == dir)
		slash[1] = '\0'; /* "/": root's own directory */
	else
		*slash = '\0';
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0750) != 0 ||
		    chmod(dir, 0750) != 0 || lstat(dir, &st) != 0) {
			snprintf(err, errlen, "link_socket %s: cannot make its "
				 "directory %s: %s", path, dir, strerror(errno));
			return -1;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "link_socket %s: %s is not a directory (a "
			 "symbolic link is not taken either)", path, dir);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "link_socket %s: its directory %s belongs to "
			 "uid %u, who could replace the socket; use a directory "
			 "of root or of veil-controld's user (uid %u), e.g. /run/veil",
			 path, dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "link_socket %s: its directory %s is writable "
			 "by other users (mode %04o), who could replace the "
			 "socket; use a directory only root or veil-controld's "
			 "user can write, e.g. /run/veil (mode 0750)", path, dir,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int listen_link(struct veil_link_server *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (check_dir(s->path, err, errlen) != 0)
		return -1;
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "link_socket %s exists and is not a "
				 "socket; remove it or choose another path", s->path);
			return -1;
		}
		unlink(s->path); /* left by a controld that stopped */
	}
	strcpy(sa.sun_path, s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* anyone who can reach the directory may connect: the peer check
	 * decides, and counts who was refused */
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(s->path, 0666) != 0 || listen(s->lfd, 16) != 0) {
		snprintf(err, errlen, "link_socket %s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

struct veil_link_server *
veil_link_server_new(const struct veil_link_server_opts *o, char *err,
		     size_t errlen)
{
	const char *path = o->socket_path;
	if (path == NULL || path[0] != '/' || strlen(path) > VEIL_LINK_SOCKET_MAX) {
		snprintf(err, errlen, "link_socket \"%.120s\": an absolute path of "
			 "at most %d characters", path ? path : "", VEIL_LINK_SOCKET_MAX);
		return NULL;
	}
	if (o->slots < 16 || o->slots > 65536 || (o->slots & (o->slots - 1))) {
		snprintf(err, errlen, "link: %u slots (a power of two, 16 to 65536)",
			 o->slots);
		return NULL;
	}
	struct veil_link_server *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "link: out of memory");
		return NULL;
	}
	s->o = *o;
	s->lfd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->o.socket_path = s->path;
	if (listen_link(s, err, errlen) != 0) {
		if (s->lfd >= 0)
			close(s->lfd);
		free(s);
		return NULL;
	}
	return s;
}

/* The dataplane left (or is replaced): its region is closed and wiped. */
static void drop_peer(struct veil_link_server *s, const char *why)
{
	logf_(s, "dataplane pid %u (uid %u) %s; link closed", s->peer.pid,
	      s->peer.uid, why);
	veil_link_close(s->link);
	s->link = NULL;
	s->peer_hello = s->synced = s->resync_pending = false;
	s->last_contact_ms = mono_ms();
}

void veil_link_server_free(struct veil_link_server *s)
{
	if (s == NULL)
		return;
	veil_link_close(s->link);
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->path);
	}
	free(s);
}

struct veil_link *veil_link_server_link(struct veil_link_server *s)
{
	return s->link;
}

const char *veil_link_server_path(const struct veil_link_server *s)
{
	return s->path;
}

bool veil_link_server_synced(const struct veil_link_server *s)
{
	return s->link != NULL && s->synced;
}

void veil_link_server_status(const struct veil_link_server *s,
			     struct veil_link_server_status *st)
{
	memset(st, 0, sizeof(*st));
	st->connected = s->link != NULL;
	st->synced = veil_link_server_synced(s);
	st->seen = s->seen;
	st->peer = s->peer;
	st->last_contact_ms = s->last_contact_ms == 0 ? -1
		: (int64_t)(mono_ms() - s->last_contact_ms);
	st->connections = s->connections;
	st->refused_peers = s->refused_peers;
	st->refused_busy = s->refused_busy;
	st->last_refused_uid = s->last_refused_uid;
}

const struct veil_link_worker_counters *
veil_link_server_counters(const struct veil_link_server *s, unsigned worker)
{
	if (worker >= MAX_WORKERS || !s->counters[worker].valid)
		return NULL;
	return &s->counters[worker];
}

/* A refusal goes to the log, at most one line a second (a local user can
 * connect as often as it likes); the line says how many were not logged. */
static void log_refusal(struct veil_link_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_refusal(struct veil_link_server *s, const char *fmt, ...)
{
	char msg[300];
	uint64_t now = mono_ms();
	if (s->last_refusal_log_ms != 0 && now - s->last_refusal_log_ms < 1000) {
		s->refusals_unlogged++;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->refusals_unlogged > 0)
		logf_(s, "%s (and %llu more refusals not logged)", msg,
		      (unsigned long long)s->refusals_unlogged);
	else
		logf_(s, "%s", msg);
	s->refusals_unlogged = 0;
	s->last_refusal_log_ms = now;
}

/* One connection: the peer check, then a fresh region handed over. */
static void take(struct veil_link_server *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return;
	}
	if (!veil_link_uid_ok(s->o.dataplane_uid, (uint32_t)cr.uid)) {
		/* closed with nothing sent: no region, no key */
		s->refused_peers++;
		s->last_refused_uid = (uint32_t)cr.uid;
		close(fd);
		if (s->o.dataplane_uid >= 0)
			log_refusal(s, "refused a link connection from uid %u "
				    "(pid %d): dataplane_user is uid %lld (%llu "
				    "refused so far)", (unsigned)cr.uid, (int)cr.pid,
				    (long long)s->o.dataplane_uid,
				    (unsigned long long)s->refused_peers);
		else
			log_refusal(s, "refused a link connection from uid %u "
				    "(pid %d): without dataplane_user only root and "
				    "uid %u are taken (%llu refused so far)",
				    (unsigned)cr.uid, (int)cr.pid, (unsigned)geteuid(),
				    (unsigned long long)s->refused_peers);
		return;
	}
	if (s->link != NULL && veil_link_stale(s->link))
		drop_peer(s, "left");
	if (s->link != NULL) {
		s->refused_busy++;
		close(fd);
		log_refusal(s, "refused a second dataplane (pid %d, uid %u): "
			    "pid %u is connected", (int)cr.pid, (unsigned)cr.uid,
			    s->peer.pid);
		return;
	}
	struct veil_link *l = veil_link_create(s->o.slots);
	if (l == NULL || veil_link_offer(l, fd) != 0) {
		logf_(s, "dataplane pid %d: cannot hand over a region: %s",
		      (int)cr.pid, strerror(errno));
		veil_link_close(l);
		close(fd);
		return;
	}
	s->link = l;
	s->peer = (struct veil_link_cred){ (uint32_t)cr.pid, (uint32_t)cr.uid,
					   (uint32_t)cr.gid };
	s->seen = true;
	s->connections++;
	s->peer_hello = s->synced = s->resync_pending = false;
	s->last_contact_ms = mono_ms();
	logf_(s, "dataplane pid %u (uid %u) connected", s->peer.pid, s->peer.uid);
}

static int send_key(struct veil_link *l, const char *tenant, uint32_t version,
		    bool current, const uint8_t key[32])
{
	struct veil_link_key k;
	memset(&k, 0, sizeof(k));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(k.tenant, tenant, n);
	k.version = version;
	k.current = current ? 1 : 0;
	memcpy(k.key, key, sizeof(k.key));
	int rc = veil_link_send(l, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k));
	explicit_bzero(&k, sizeof(k));
	return rc;
}

struct resync {
	struct veil_link *link;
	uint32_t keys;
	bool failed;
};

static int resync_emit(void *arg, const char *tenant, uint32_t version,
		       bool current, const uint8_t key[32])
{
	struct resync *r = arg;
	if (r->failed)
		return -1;
	if (send_key(r->link, tenant, version, current, key) != 0) {
		r->failed = true;
		return -1;
	}
	r->keys++;
	return 0;
}

/* Send every live key, then SYNC_DONE; on a full ring, try again later. */
static void resync(struct veil_link_server *s)
{
	struct resync r = { .link = s->link };

	s->resync_pending = true;
	if (s->o.keys(s->o.ctx, resync_emit, &r) != 0 || r.failed)
		return;
	struct veil_link_sync done = { .keys = r.keys };
	if (veil_link_send(s->link, VEIL_LINK_MSG_SYNC_DONE, &done,
			   sizeof(done)) != 0)
		return;
	s->resync_pending = false;
	s->synced = true;
}

int veil_link_server_poll(struct veil_link_server *s)
{
	union veil_link_payload m;
	enum veil_link_msg type;
	uint32_t len;
	int handled = 0, rc, fd;

	while ((fd = accept4(s->lfd, NULL, NULL,
			     SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		take(s, fd);
	if (s->link == NULL)
		return 0;
	/* a dataplane that left sent its last counters before: they are
	 * taken below, then its region goes */
	bool gone = veil_link_stale(s->link);
	veil_link_heartbeat(s->link);
	uint64_t age = veil_link_peer_age_ms(s->link), now = mono_ms();
	if (age != UINT64_MAX && age < now && now - age > s->last_contact_ms)
		s->last_contact_ms = now - age;
	while ((rc = veil_link_recv(s->link, &type, m.raw, &len)) != 0) {
		if (rc < 0)
			continue; /* counted by the link */
		handled++;
		s->last_contact_ms = now;
		if (type == VEIL_LINK_MSG_HELLO) {
			/* a (re)started dataplane: it has nothing yet */
			s->peer_hello = true;
			s->synced = false;
			s->resync_pending = true;
		} else if (type == VEIL_LINK_MSG_COUNTERS &&
			   m.cnt.worker < MAX_WORKERS &&
			   m.cnt.n <= VEIL_LINK_NCOUNTERS) {
			struct veil_link_worker_counters *w =
				&s->counters[m.cnt.worker];
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			w->valid = true;
			w->n = m.cnt.n;
			memcpy(w->value, m.cnt.value, sizeof(w->value));
			w->updated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		}
	}
	if (gone) {
		drop_peer(s, "left");
		return handled;
	}
	if (!s->peer_hello)
		return handled;
	if (s->resync_pending)
		resync(s);
	return handled;
}

void veil_link_server_key_added(struct veil_link_server *s, const char *tenant,
				uint32_t version, bool current,
				const uint8_t key[32])
{
	if (s->link == NULL || !s->peer_hello || s->resync_pending)
		return; /* the coming resync carries it */
	if (send_key(s->link, tenant, version, current, key) != 0)
		s->resync_pending = true;
}

void veil_link_server_key_destroyed(struct veil_link_server *s,
				    const char *tenant, uint32_t version)
{
	struct veil_link_key_ref r;

	if (s->link == NULL || !s->peer_hello)
		return;
	memset(&r, 0, sizeof(r));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX)
		return;
	memcpy(r.tenant, tenant, n);
	r.version = version;
	if (s->resync_pending)
		return; /* the coming resync leaves it out */
	if (veil_link_send(s->link, VEIL_LINK_MSG_KEY_DESTROY, &r, sizeof(r)) != 0)
		s->resync_pending = true;
}

void veil_link_server_tenant_state(struct veil_link_server *s,
				   const char *tenant,
				   enum veil_link_tenant_state state)
{
	struct veil_link_tenant t;

	if (s->link == NULL || !s->peer_hello)
		return;
	memset(&t, 0, sizeof(t));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX)
		return;
	memcpy(t.tenant, tenant, n);
	t.state = (uint8_t)state;
	if (veil_link_send(s->link, VEIL_LINK_MSG_TENANT_STATE, &t, sizeof(t)) != 0)
		s->resync_pending = true;
}
