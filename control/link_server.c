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
 * A resync walks the tenants in order, one current key each, from a
 * cursor (the last tenant and version sent): each poll sends as many as the
 * ring takes and the next goes on from there, so a dataplane that drains
 * slowly still gets all of them, each once; SYNC_DONE goes when every key
 * went. A resync is authoritative: at its SYNC_DONE the dataplane destroys
 * every key version it did not carry and unlocks every tenant it did not
 * say was locked.
 *
 * Changes during a resync: a key version ahead of the cursor is not sent
 * (the resync carries it when it gets there); everything else goes at
 * once. Nothing is queued outside the region: a change that finds the ring
 * full puts its tenant on the repair list, and the next polls resend that
 * tenant whole (its state, then its current key, which makes the
 * dataplane drop every other version of it); until then other changes of
 * that tenant are not sent, the repair carries them. A change of a tenant
 * still ahead of a running resync needs no repair: the resync carries it.
 * Past REPAIR_MAX tenants the resync starts again from the first key.
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

#include "veil_clock.h"
#include "veil_link.h"

#define MAX_WORKERS 64
#define REPAIR_MAX  1024 /* tenants waiting to be resent, then a resync */

typedef char tenant_id[VEIL_LINK_TENANT_MAX + 1];

struct veil_link_server {
	struct veil_link_server_opts o;
	char path[VEIL_LINK_SOCKET_MAX + 1];
	int lfd;
	struct veil_link *link; /* the connected dataplane's, or NULL */
	bool peer_hello;     /* it said hello */
	bool resync;         /* a resync runs: on from the cursor at each poll */
	tenant_id cur_tenant; /* the cursor: the last key the resync sent */
	uint32_t cur_version;
	uint32_t resync_keys; /* keys the running resync sent */
	tenant_id *repair;   /* tenants to resend whole (a change found the
				ring full), REPAIR_MAX */
	unsigned n_repair;
	uint64_t resyncs, restarts;
	bool synced;
	bool seen;
	struct veil_link_cred peer;
	uint64_t last_contact_ms; /* monotonic; 0: never */
	uint64_t connections, refused_peers, refused_busy;
	uint32_t last_refused_uid;
	bool silent;            /* the last one was dropped for silence */
	uint64_t silent_drops;
	uint64_t last_refusal_log_ms, refusals_unlogged;
	struct veil_link_worker_counters counters[MAX_WORKERS];
	/* the dataplane's upstreams and listeners (ROW), since its hello */
	struct veil_link_row rows[2][VEIL_LINK_ROWS_MAX];
	bool row_valid[2][VEIL_LINK_ROWS_MAX];
};

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
	s->repair = calloc(REPAIR_MAX, sizeof(*s->repair));
	if (s->repair == NULL) {
		free(s);
		snprintf(err, errlen, "link: out of memory");
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->o.socket_path = s->path;
	if (listen_link(s, err, errlen) != 0) {
		if (s->lfd >= 0)
			close(s->lfd);
		free(s->repair);
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
	s->peer_hello = s->synced = s->resync = false;
	s->n_repair = 0;
	s->last_contact_ms = veil_now_ms();
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
	free(s->repair);
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
		: (int64_t)(veil_now_ms() - s->last_contact_ms);
	st->connections = s->connections;
	st->refused_peers = s->refused_peers;
	st->refused_busy = s->refused_busy;
	st->last_refused_uid = s->last_refused_uid;
	st->silent = s->silent;
	st->silent_drops = s->silent_drops;
	st->watchdog_ms = s->o.watchdog_ms;
}

/* A row of the dataplane's upstreams or listeners: kept, and rows of its
 * kind beyond its count go (a dataplane sends them all every second). */
static void take_row(struct veil_link_server *s, const struct veil_link_row *r)
{
	if (r->kind > VEIL_LINK_ROW_LISTENER || r->index >= VEIL_LINK_ROWS_MAX ||
	    r->index >= r->count)
		return;
	s->rows[r->kind][r->index] = *r;
	/* the texts end in a NUL whatever came */
	s->rows[r->kind][r->index].proto[sizeof(r->proto) - 1] = '\0';
	s->rows[r->kind][r->index].name[sizeof(r->name) - 1] = '\0';
	s->rows[r->kind][r->index].addr[sizeof(r->addr) - 1] = '\0';
	s->row_valid[r->kind][r->index] = true;
	for (unsigned i = r->count; i < VEIL_LINK_ROWS_MAX; i++)
		s->row_valid[r->kind][i] = false;
}

const struct veil_link_row *
veil_link_server_row(const struct veil_link_server *s, unsigned kind,
		     unsigned index)
{
	if (kind > VEIL_LINK_ROW_LISTENER || index >= VEIL_LINK_ROWS_MAX ||
	    !s->row_valid[kind][index])
		return NULL;
	return &s->rows[kind][index];
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
	uint64_t now = veil_now_ms();
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
	s->peer_hello = s->synced = s->resync = false;
	s->n_repair = 0;
	s->last_contact_ms = veil_now_ms();
	s->silent = false;
	logf_(s, "dataplane pid %u (uid %u) connected", s->peer.pid, s->peer.uid);
}

/* The tenant id into a message's field: -1 (EINVAL) if it is too long. */
static int put_tenant(char dst[VEIL_LINK_TENANT_MAX + 1], const char *tenant)
{
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dst, tenant, n);
	return 0;
}

static int send_key(struct veil_link *l, const char *tenant, uint32_t version,
		    bool current, const uint8_t key[32])
{
	struct veil_link_key k;
	memset(&k, 0, sizeof(k));
	if (put_tenant(k.tenant, tenant) != 0)
		return -1;
	k.version = version;
	k.current = current ? 1 : 0;
	memcpy(k.key, key, sizeof(k.key));
	int rc = veil_link_send(l, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k));
	explicit_bzero(&k, sizeof(k));
	return rc;
}

static int send_state(struct veil_link *l, const char *tenant,
		      enum veil_link_tenant_state state)
{
	struct veil_link_tenant t;
	memset(&t, 0, sizeof(t));
	if (put_tenant(t.tenant, tenant) != 0)
		return -1;
	t.state = (uint8_t)state;
	return veil_link_send(l, VEIL_LINK_MSG_TENANT_STATE, &t, sizeof(t));
}

/* A resync from the first key. Repairs are dropped: it carries them. */
static void resync_start(struct veil_link_server *s)
{
	s->resync = true;
	s->cur_tenant[0] = '\0';
	s->cur_version = 0;
	s->resync_keys = 0;
	s->n_repair = 0;
}

/* Is (tenant, version) still ahead of the running resync's cursor, which
 * will carry it? */
static bool ahead(const struct veil_link_server *s, const char *tenant,
		  uint32_t version)
{
	if (!s->resync)
		return false;
	int c = strcmp(tenant, s->cur_tenant);
	return c > 0 || (c == 0 && version > s->cur_version);
}

/* ... and the tenant, whose state the resync sends with its key? The
 * cursor's own tenant is behind: its key went. */
static bool tenant_ahead(const struct veil_link_server *s, const char *tenant)
{
	return s->resync && strcmp(tenant, s->cur_tenant) > 0;
}

static bool in_repair(const struct veil_link_server *s, const char *tenant)
{
	for (unsigned i = 0; i < s->n_repair; i++)
		if (strcmp(s->repair[i], tenant) == 0)
			return true;
	return false;
}

/* A change of @p tenant could not be sent (the ring is full): the tenant
 * is resent whole at the next polls; too many of them, a new resync. */
static void need_repair(struct veil_link_server *s, const char *tenant)
{
	if (tenant_ahead(s, tenant) || in_repair(s, tenant))
		return;
	if (strlen(tenant) > VEIL_LINK_TENANT_MAX)
		return; /* no such tenant: never sent either */
	if (s->n_repair == REPAIR_MAX) {
		logf_(s, "more than %d tenants changed while the dataplane's ring "
		      "was full: resending every key", REPAIR_MAX);
		s->restarts++;
		resync_start(s);
		return;
	}
	snprintf(s->repair[s->n_repair++], sizeof(tenant_id), "%s", tenant);
}

struct emit_ctx {
	struct veil_link_server *s;
	const char *want; /* a repair: this tenant only */
	unsigned emitted;
	bool stopped;     /* the ring is full: go on at the next poll */
	bool found;       /* a repair: the tenant's key went */
};

/* A resync's key: a locked tenant's state first (so that its key is never
 * used), then the key; the cursor moves once both went. A state that went
 * without its key is sent again with it, which changes nothing. */
static int resync_emit(void *arg, const char *tenant, uint32_t version,
		       bool current, bool locked, const uint8_t key[32])
{
	struct emit_ctx *r = arg;
	struct veil_link_server *s = r->s;
	r->emitted++;
	if ((locked && send_state(s->link, tenant, VEIL_LINK_TENANT_LOCKED) != 0) ||
	    send_key(s->link, tenant, version, current, key) != 0) {
		if (errno != EINVAL) {
			r->stopped = true;
			return 1;
		}
		/* cannot be said on the link at all: passed over */
		logf_(s, "resync: a tenant id longer than %d characters is "
		      "passed over", VEIL_LINK_TENANT_MAX);
	} else {
		s->resync_keys++;
	}
	snprintf(s->cur_tenant, sizeof(s->cur_tenant), "%s", tenant);
	s->cur_version = version;
	return 0;
}

/* The running resync, on from its cursor: as many keys as the ring takes,
 * then SYNC_DONE once every key went. */
static void resync_step(struct veil_link_server *s)
{
	for (;;) {
		struct emit_ctx r = { .s = s };
		unsigned max = s->o.slots;
		if (s->o.keys(s->o.ctx, s->cur_tenant, s->cur_version, max,
			      resync_emit, &r) != 0 || r.stopped)
			return; /* the keys cannot be read now, or the ring is
				 * full: on from the cursor at the next poll */
		if (r.emitted < max)
			break; /* the end of the keys */
	}
	struct veil_link_sync done = { .keys = s->resync_keys };
	if (veil_link_send(s->link, VEIL_LINK_MSG_SYNC_DONE, &done,
			   sizeof(done)) != 0)
		return;
	s->resync = false;
	s->synced = true;
	s->resyncs++;
}

/* A repair: the tenant's state, explicit, then its current key. */
static int repair_emit(void *arg, const char *tenant, uint32_t version,
		       bool current, bool locked, const uint8_t key[32])
{
	struct emit_ctx *r = arg;
	if (strcmp(tenant, r->want) != 0)
		return 1; /* past it: the tenant has no key (any more) */
	if (send_state(r->s->link, tenant, locked ? VEIL_LINK_TENANT_LOCKED :
		       VEIL_LINK_TENANT_ACTIVE) != 0 ||
	    send_key(r->s->link, tenant, version, current, key) != 0) {
		r->stopped = true;
		return 1;
	}
	r->found = true;
	return 0;
}

/* Resend the tenants whose change found the ring full, while it takes
 * them. */
static void repair_step(struct veil_link_server *s)
{
	while (s->n_repair > 0) {
		struct emit_ctx r = { .s = s, .want = s->repair[s->n_repair - 1] };
		if (s->o.keys(s->o.ctx, r.want, 0, 1, repair_emit, &r) != 0 ||
		    r.stopped)
			return;
		s->n_repair--;
	}
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
	uint64_t age = veil_link_peer_age_ms(s->link), now = veil_now_ms();
	if (age != UINT64_MAX && age < now && now - age > s->last_contact_ms)
		s->last_contact_ms = now - age;
	while ((rc = veil_link_recv(s->link, &type, m.raw, &len)) != 0) {
		if (rc < 0)
			continue; /* counted by the link */
		handled++;
		s->last_contact_ms = now;
		if (type == VEIL_LINK_MSG_HELLO) {
			/* a (re)started dataplane: it has nothing yet, and
			 * its counters start from zero (rows of workers an
			 * earlier run had go: they would add to its totals) */
			s->peer_hello = true;
			for (unsigned i = 0; i < MAX_WORKERS; i++)
				s->counters[i].valid = false;
			memset(s->row_valid, 0, sizeof(s->row_valid));
			s->synced = false;
			resync_start(s);
		} else if (type == VEIL_LINK_MSG_ROW) {
			take_row(s, &m.row);
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
	if (s->o.watchdog_ms > 0 && now - s->last_contact_ms > s->o.watchdog_ms) {
		/* stopped, hung or starved: its region goes (the keys in the
		 * slots wiped); once it runs again it finds the link closed,
		 * connects again and resyncs. Under systemd its own
		 * WatchdogSec= restarts a dataplane that stays stuck. */
		char why[160];
		snprintf(why, sizeof(why), "was silent for %.1f s (no message, "
			 "no heartbeat; dataplane_watchdog = %.1f s)",
			 (double)(now - s->last_contact_ms) / 1000.0,
			 (double)s->o.watchdog_ms / 1000.0);
		s->silent = true;
		s->silent_drops++;
		drop_peer(s, why);
		return handled;
	}
	if (!s->peer_hello)
		return handled;
	/* the repairs first: they are changes the dataplane waits for (a
	 * lock); a resync's keys are new to it */
	repair_step(s);
	if (s->resync)
		resync_step(s);
	return handled;
}

/* Whether a change of @p tenant goes down now: there is a dataplane that
 * said hello, and no repair of the tenant is waiting (it carries the
 * change). */
static bool change_goes(const struct veil_link_server *s, const char *tenant)
{
	return s->link != NULL && s->peer_hello && !in_repair(s, tenant);
}

void veil_link_server_key_added(struct veil_link_server *s, const char *tenant,
				uint32_t version, bool current,
				const uint8_t key[32])
{
	if (!change_goes(s, tenant) || ahead(s, tenant, version))
		return; /* the coming resync or repair carries it */
	if (send_key(s->link, tenant, version, current, key) != 0)
		need_repair(s, tenant);
}

void veil_link_server_key_destroyed(struct veil_link_server *s,
				    const char *tenant, uint32_t version)
{
	struct veil_link_key_ref r;

	if (!change_goes(s, tenant))
		return;
	memset(&r, 0, sizeof(r));
	if (put_tenant(r.tenant, tenant) != 0)
		return;
	r.version = version;
	/* sent even ahead of a resync: a version the dataplane held from
	 * before goes now, not at the SYNC_DONE */
	if (veil_link_send(s->link, VEIL_LINK_MSG_KEY_DESTROY, &r, sizeof(r)) != 0)
		need_repair(s, tenant);
}

void veil_link_server_tenant_state(struct veil_link_server *s,
				   const char *tenant,
				   enum veil_link_tenant_state state)
{
	if (!change_goes(s, tenant))
		return;
	/* sent even ahead of a resync: a lock takes effect now; the resync
	 * says it again when it gets there */
	if (send_state(s->link, tenant, state) != 0 && errno != EINVAL)
		need_repair(s, tenant);
}

bool veil_link_server_busy(const struct veil_link_server *s)
{
	return s->link != NULL && s->peer_hello && (s->resync || s->n_repair > 0);
}

void veil_link_server_resync_status(const struct veil_link_server *s,
				    struct veil_link_server_resync *st)
{
	memset(st, 0, sizeof(*st));
	st->running = s->link != NULL && s->resync;
	st->keys = s->resync_keys;
	st->repairs = s->n_repair;
	st->resyncs = s->resyncs;
	st->restarts = s->restarts;
}
