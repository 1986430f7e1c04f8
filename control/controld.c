/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld: the control plane. State store, key versions, governance
 * log, roles, the admin API on a Unix socket, and the link that hands key
 * versions to the dataplane. One poll loop serves every caller; a read that
 * may take long (audit.show, audit.verify, the walk of the chain after a
 * start) runs in a worker thread of its own (worker.c), and the mark's
 * fdatasync in another (store.c). Callers' JSON is parsed by the api
 * process (privsep_proc.c), not here: this process reads a request's
 * bytes, hands them over, and runs the typed request that comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "veil_clock.h"
#include "byok.h"
#include "ctld_pvt.h"
#include "metrics.h"
#include "privsep.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif

static const char usage[] =
	"usage: veil-controld [-c FILE] [-n] [-f] [--recover-audit REASON] [-h]\n"
	"       veil-controld [-c FILE] --restore FILE (--passphrase-file F |\n"
	"                     --recovery-key PRIVATE.pem) --reason TEXT [--force]\n"
	"The veil control plane: keys, governance log, roles, admin API.\n"
	"  -c FILE  configuration file (default " VEIL_DEFAULT_CONFIG ")\n"
	"  -n       check the configuration and that the master key can be read\n"
	"           (or made, for a new state directory), print \"configuration\n"
	"           OK\" or the error with its file, and exit; also says the\n"
	"           locked memory the keys need and RLIMIT_MEMLOCK\n"
	"  -f       stay in the foreground, log to stderr (otherwise: syslog)\n"
	"  --recover-audit REASON\n"
	"           start although the governance log is missing, shortened,\n"
	"           rewound or broken: record what was found and REASON in it\n"
	"           (action audit.recover) and accept exactly that\n"
	"  --restore FILE --passphrase-file F --reason TEXT [--force]\n"
	"  --restore FILE --recovery-key PRIVATE.pem --reason TEXT [--force]\n"
	"           put the state of a backup (veilctl backup create) into the\n"
	"           configured state directory, with its master key, verify the\n"
	"           governance log, record the restore in it, and exit; refuses\n"
	"           a state directory that holds state unless --force, and one\n"
	"           whose daemon runs\n"
	"  -h       this text\n"
	"See veil-controld(8) and veil.conf(5).\n";

static volatile sig_atomic_t stopping, reload_wanted;

/* systemd's watchdog (WatchdogSec=): a ping every half period from the
 * poll loop, so that a loop that hangs is restarted. 0: not asked for. */
static uint64_t watchdog_usec;
static int64_t next_watchdog;

/* Tell systemd (Type=notify) where we are; without $NOTIFY_SOCKET, as
 * under -f in a terminal or in the tests, sd_notify does nothing. */
static void notify(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		ctl_log("sd_notify(%s): %s", state, strerror(-rc));
}

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

/* A client of the admin API. One request at a time: while its answer is
 * not yet written, nothing more is read from it (POLLOUT drives the rest
 * of the answer), so a caller that does not read its answers stalls only
 * itself. */
enum client_state {
	C_READ,    /* reading a request */
	C_PENDING, /* handled: the answer waits for this pass's group commit */
	C_WRITE,   /* writing the answer */
	C_LINGER,  /* refused: the answer is out, closed when the caller closes */
	C_WORKING, /* the worker runs its request; its answer comes from there */
	C_PARSING, /* the api process has its body; its typed request comes */
};

struct client {
	int fd;
	uint64_t serial;  /* this connection's, for the worker's answer */
	enum client_state state;
	bool closing;     /* refused: no request after this answer */
	struct ctl_caller who;
	gid_t *groups;    /* who.groups */
	int64_t deadline; /* closed if no request is complete by then (ms) */
	uint8_t hdr[4];
	size_t hdr_got;
	char *body;
	size_t need, got, cap;
	uint8_t *ahead;   /* read with this request, of the next: read after */
	size_t ahead_len; /* this one's answer (a caller that sent ahead) */
	json_t *pending;  /* the answer, held until its records are durable */
	bool on_batch;    /* pending may depend on this pass's group commit */
	uint8_t out_hdr[4];
	char *out;        /* the answer being written */
	size_t out_len, out_off;
	bool trim;        /* a large request was freed: trim after its answer */
	int passed_fd;    /* a file passed with the request (SCM_RIGHTS), or -1 */
};

#define CLIENT_IO_PER_PASS (4u << 20) /* bytes read or written per pass */
#define CLIENT_BODY_FIRST (64u << 10) /* a body grows as it arrives */
#define CLIENT_BIG (1u << 20)         /* freed: give the memory back */
#define CLIENT_AHEAD (8u << 10)       /* read in one call with a length */
#define ACCEPTS_PER_PASS 64
#define MARK_SETTLE_MS 100 /* no commit since: the mark gets the rest */

static struct ctld d;
static struct client clients[CTLD_MAX_CLIENTS];
static uint64_t serials;
static int exit_code;
/* The api process: it parses the callers' JSON (privsep.h). */
static struct ps_proc api = { .fd = -1 };
static int64_t api_next_start; /* no restart before (ms): one a second */
/* A request the api process has not typed by then: it is stuck (or not
 * ours any more), and is replaced. A 32 MiB request parses in well under
 * a second. */
#define API_PARSE_TIMEOUT_MS 30000
static void api_restart(const char *why);

/* The link server's lines (dataplanes connecting, leaving, refused). */
static void link_log(void *ctx, const char *msg)
{
	(void)ctx;
	ctl_log("link: %s", msg);
}

static void watchdog_ping(void)
{
	if (watchdog_usec == 0 || (int64_t)veil_now_ms() < next_watchdog)
		return;
	notify("WATCHDOG=1");
	next_watchdog = (int64_t)veil_now_ms() + (int64_t)(watchdog_usec / 2000);
}

static int64_t idle_deadline(void)
{
	return (int64_t)veil_now_ms() + (int64_t)d.cfg.idle_timeout_s * 1000;
}

/* The file a caller passed with its request: closed once handled. */
static void passed_close(struct client *c)
{
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	c->passed_fd = -1;
}

static void client_close(struct client *c)
{
	bool big = c->trim || c->cap > CLIENT_BIG || c->out_len > CLIENT_BIG;
	close(c->fd);
	passed_close(c);
	if (c->body != NULL)
		explicit_bzero(c->body, c->got); /* a lookup's name */
	free(c->body);
	if (c->ahead != NULL)
		explicit_bzero(c->ahead, c->ahead_len);
	free(c->ahead);
	if (c->out != NULL)
		explicit_bzero(c->out, c->out_len); /* may hold names */
	free(c->out);
	json_decref(c->pending);
	free(c->groups);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->passed_fd = -1;
	if (big)
		malloc_trim(0);
}

/* The answer is out: wait for the next request, or for a refused caller
 * to go away. */
static void answer_done(struct client *c)
{
	bool big = c->trim || c->out_len > CLIENT_BIG;
	explicit_bzero(c->out, c->out_len);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->trim = false;
	if (big)
		malloc_trim(0); /* the request's and the answer's memory */
	if (c->closing) {
		shutdown(c->fd, SHUT_WR);
		c->state = C_LINGER;
	} else {
		c->state = C_READ;
		c->deadline = idle_deadline();
	}
}

/* Write what the socket takes, never waiting for the caller. */
static void client_write(struct client *c)
{
	size_t budget = CLIENT_IO_PER_PASS, total = 4 + c->out_len;
	while (c->out_off < total && budget > 0) {
		struct iovec iov[2];
		int n = 0;
		if (c->out_off < 4)
			iov[n++] = (struct iovec){ c->out_hdr + c->out_off, 4 - c->out_off };
		size_t boff = c->out_off < 4 ? 0 : c->out_off - 4;
		size_t blen = c->out_len - boff < budget ? c->out_len - boff : budget;
		iov[n++] = (struct iovec){ c->out + boff, blen };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* POLLOUT brings us back */
		if (w <= 0) {
			client_close(c);
			return;
		}
		c->out_off += (size_t)w;
		budget -= (size_t)w < budget ? (size_t)w : budget;
	}
	if (c->out_off == total)
		answer_done(c);
}

/* The answer's text (taken: freed once written). */
static void answer_text(struct client *c, char *s, size_t len)
{
	if (len > VEIL_API_MSG_MAX) {
		explicit_bzero(s, len);
		free(s);
		malloc_trim(0); /* the answer that could not go: give it back */
		json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", "the answer is over "
				      "the API's 32 MiB: ask for less (fewer tokens, a "
				      "narrower filter or a lower limit)");
		s = json_dumps(e, JSON_COMPACT);
		json_decref(e);
		len = s != NULL ? strlen(s) : 0;
	}
	if (s == NULL) {
		client_close(c);
		return;
	}
	c->out = s;
	c->out_len = len;
	c->out_off = 0;
	c->out_hdr[0] = (uint8_t)(len >> 24);
	c->out_hdr[1] = (uint8_t)(len >> 16);
	c->out_hdr[2] = (uint8_t)(len >> 8);
	c->out_hdr[3] = (uint8_t)len;
	c->state = C_WRITE;
	client_write(c);
}

/* The answer's text: written into a buffer kept for it (json_dumps
 * grows its own from 16 bytes, reallocating, and copies it once more),
 * then copied out at its length and the buffer zeroized (an answer may
 * hold names); a longer answer (rare: the long reads answer from the
 * worker) is written again by json_dumps. */
static void answer(struct client *c, json_t *a)
{
	static char buf[64 << 10];
	size_t len = json_dumpb(a, buf, sizeof(buf), JSON_COMPACT);
	char *s = NULL;
	if (len > 0 && len <= sizeof(buf)) {
		if ((s = malloc(len + 1)) != NULL) {
			memcpy(s, buf, len);
			s[len] = '\0';
		}
		explicit_bzero(buf, len);
	} else {
		explicit_bzero(buf, sizeof(buf)); /* what did fit */
		s = json_dumps(a, JSON_COMPACT);
		len = s != NULL ? strlen(s) : 0;
	}
	json_decref(a);
	answer_text(c, s, s != NULL ? len : 0);
}

/* Refuse the caller: the answer goes out after the group commit (its
 * record is in it), then nothing more is read and the connection closes. */
static void client_refuse(struct client *c, const char *action, const char *why)
{
	json_decref(c->pending);
	c->pending = ctl_refuse(&d, &c->who, action, NULL, why);
	c->on_batch = true;
	c->closing = true;
	c->state = C_PENDING;
}

static unsigned open_connections(unsigned uid)
{
	unsigned n = 0;
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		n += clients[i].fd >= 0 && !clients[i].closing && clients[i].who.uid == uid;
	return n;
}

/* All slots taken: close the connection that matters least, among those
 * of class up to max (0 refused and lingering, 1 idle between requests,
 * 2 inside a request, 3 with an answer not read), the longest idle first.
 * Returns its slot, or NULL. */
static struct client *evict(int max)
{
	struct client *v = NULL;
	int vclass = 0;
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->state == C_PENDING || c->state == C_WORKING ||
		    c->state == C_PARSING)
			continue;
		int k = c->state == C_LINGER ? 0 : c->state == C_WRITE ? 3 :
			c->hdr_got == 0 ? 1 : 2;
		if (k > max)
			continue;
		if (v == NULL || k < vclass || (k == vclass && c->deadline < v->deadline)) {
			v = c;
			vclass = k;
		}
	}
	if (v != NULL)
		client_close(v);
	return v;
}

/* The roles looked up in this pass's read transaction (one snapshot of
 * the roles: the same caller, by uid, gid and groups, has the same role
 * throughout it), so that callers of one uid cost one lookup a pass, not
 * one a request. Forgotten at the start of each pass's reading. */
#define ROLE_MEMO 8
#define ROLE_MEMO_GROUPS 32
static struct role_memo {
	unsigned uid, gid, n_groups;
	gid_t groups[ROLE_MEMO_GROUPS];
	enum veil_role role;
} role_memo[ROLE_MEMO];
static unsigned n_role_memo;

static enum veil_role role_of(const struct ctl_caller *who)
{
	for (unsigned i = 0; i < n_role_memo; i++) {
		struct role_memo *m = &role_memo[i];
		if (m->uid == who->uid && m->gid == who->gid &&
		    m->n_groups == who->n_groups &&
		    (who->n_groups == 0 ||
		     memcmp(m->groups, who->groups, who->n_groups * sizeof(gid_t)) == 0))
			return m->role;
	}
	enum veil_role role = ctl_role_of(&d, who);
	if (n_role_memo < ROLE_MEMO && who->n_groups <= ROLE_MEMO_GROUPS) {
		struct role_memo *m = &role_memo[n_role_memo++];
		m->uid = who->uid;
		m->gid = who->gid;
		m->n_groups = who->n_groups;
		if (who->n_groups > 0)
			memcpy(m->groups, who->groups, who->n_groups * sizeof(gid_t));
		m->role = role;
	}
	return role;
}

/* Accept one waiting connection; returns false when none is left. Its
 * role is looked up now: a caller without one, or over its uid's
 * connection cap, is answered with the refusal and sends nothing more. */
static bool accept_client(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return false;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return true;
	}
	unsigned n_groups;
	gid_t *groups = ctl_peer_groups(fd, &n_groups);
	struct ctl_caller who = { .uid = cr.uid, .gid = cr.gid, .pid = cr.pid,
				  .groups = groups, .n_groups = n_groups };
	who.role = role_of(&who);
	char why[160] = "";
	const char *action = "connect";
	unsigned same = open_connections(cr.uid);
	if (who.role == VEIL_ROLE_NONE)
		snprintf(why, sizeof(why), "permission denied: uid %u has no role", cr.uid);
	else if (same >= d.cfg.connections_per_uid)
		snprintf(why, sizeof(why), "too many connections: uid %u has %u open "
			 "and connections_per_uid is %u", cr.uid, same,
			 d.cfg.connections_per_uid);

	struct client *c = NULL;
	for (int i = 0; i < CTLD_MAX_CLIENTS && c == NULL; i++)
		if (clients[i].fd < 0)
			c = &clients[i];
	/* a caller to be refused takes the slot only of another refused one */
	if (c == NULL)
		c = evict(why[0] ? 0 : 3);
	if (c == NULL) {
		if (why[0])
			json_decref(ctl_refuse(&d, &who, action, NULL, why));
		ctl_refuse_now(fd, why[0] ? why : "too many connections to veil-controld "
			   "(every one busy): try again");
		close(fd);
		free(groups);
		return true;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->passed_fd = -1;
	c->serial = ++serials;
	c->who = who;
	c->groups = groups;
	c->state = C_READ;
	c->deadline = idle_deadline();
	if (why[0])
		client_refuse(c, action, why);
	return true;
}

/* The length a request's first 4 bytes announce. */
static size_t request_len(const struct client *c)
{
	return (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
	       (size_t)c->hdr[2] << 8 | c->hdr[3];
}

/* A request's length is in: look the caller's role up again (a grant or a
 * revocation applies to the next request of an open connection) and check
 * the length against the role's limit before any of the body is taken or
 * room made for it (what came with the length, at most CLIENT_AHEAD bytes
 * in a buffer of that fixed size, is zeroized unused if it is refused). */
static bool request_start(struct client *c)
{
	char why[160];
	c->need = request_len(c);
	c->who.role = role_of(&c->who);
	size_t limit = c->who.role >= VEIL_ROLE_INVESTIGATOR ? VEIL_API_MSG_MAX
							      : CTLD_READER_MSG_MAX;
	if (c->who.role == VEIL_ROLE_NONE) {
		snprintf(why, sizeof(why), "permission denied: uid %u has no role",
			 c->who.uid);
		client_refuse(c, "request", why);
		return false;
	}
	if (c->need > limit) {
		snprintf(why, sizeof(why), "request too large: %zu bytes; a%s %s's "
			 "requests are at most %zu bytes", c->need,
			 c->who.role == VEIL_ROLE_READER ? "" : "n",
			 veil_role_name(c->who.role), limit);
		client_refuse(c, "request", why);
		return false;
	}
	c->cap = c->need + 1 < CLIENT_BODY_FIRST ? c->need + 1 : CLIENT_BODY_FIRST;
	c->body = malloc(c->cap);
	c->got = 0;
	if (c->body == NULL) {
		client_close(c);
		return false;
	}
	return true;
}

/* The body is in: the api process parses it (the body goes to it, and
 * is zeroized here once written); its typed request comes back to
 * request_typed. */
static void request_done(struct client *c)
{
	c->trim = c->cap > CLIENT_BIG; /* once the answer is out too */
	char *body = c->body;
	size_t len = c->need;
	c->body = NULL;
	c->hdr_got = c->need = c->got = c->cap = 0;
	c->deadline = (int64_t)veil_now_ms() + API_PARSE_TIMEOUT_MS;
	if (api.fd < 0 || ps_send(&api, c->serial, body, len) != 0) {
		if (api.fd < 0) {
			explicit_bzero(body, len);
			free(body);
		}
		client_close(c); /* no api process now: the caller tries again */
		return;
	}
	c->state = C_PARSING;
}

/* The api process's typed request for c: handled as before the split. */
static void request_typed(struct client *c, const struct ps_request *r)
{
	struct ctl_job *job = NULL;
	c->who.has_fd = c->passed_fd >= 0;
	c->who.fd = c->passed_fd;
	c->pending = ctl_handle_request(&d, &c->who, r, &job);
	c->who.has_fd = false;
	passed_close(c);
	/* a state change commits in its own transaction and leaves none
	 * open: its answer does not wait on (or fail with) the group commit */
	c->on_batch = d.store.txn;
	c->state = C_PENDING;
	c->deadline = idle_deadline();
	if (job != NULL) {
		/* the worker answers; the loop goes on with the others */
		job->slot = (int)(c - clients);
		job->serial = c->serial;
		ctl_worker_submit(&d, job);
		c->state = C_WORKING;
	}
}

/* Read (some of) a request's length and, at a request's start, what
 * follows it into extra (one call where there were two: the length, then
 * the body); a file passed with it (SCM_RIGHTS, sent with the first bytes:
 * backup.create's output) is kept for the request, one at most. */
static ssize_t read_header(struct client *c, uint8_t *extra, size_t extra_len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov[2] = { { c->hdr + c->hdr_got, 4 - c->hdr_got },
				{ extra, extra_len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = extra_len > 0 ? 2 : 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t r = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	for (struct cmsghdr *h = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; h != NULL;
	     h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->passed_fd < 0 && c->hdr_got == 0)
				c->passed_fd = fd;
			else
				close(fd); /* more than one, or not with a request's start */
		}
	}
	return r;
}

/* Room in the body for one more byte at least: it grows as it comes. */
static bool body_room(struct client *c)
{
	if (c->got + 1 < c->cap)
		return true;
	size_t cap = c->cap * 2 < c->need + 1 ? c->cap * 2 : c->need + 1;
	char *b = realloc(c->body, cap);
	if (b == NULL) {
		client_close(c);
		return false;
	}
	c->body = b;
	c->cap = cap;
	return true;
}

/* Bytes of c's request read already (what came with its length, or what
 * an earlier read brought ahead): its length's first, then its body's.
 * Once the request is whole, what is left (the start of a next request,
 * sent before this one's answer) is kept for it in c->ahead, and read
 * after this answer. false: nothing more is to be read from c in this
 * pass (refused, closed, or the request whole). */
static bool take_read(struct client *c, const uint8_t *p, size_t n)
{
	if (c->hdr_got < 4) {
		size_t k = 4 - c->hdr_got < n ? 4 - c->hdr_got : n;
		memcpy(c->hdr + c->hdr_got, p, k);
		c->hdr_got += k;
		p += k;
		n -= k;
		if (c->hdr_got < 4)
			return true;
		if (!request_start(c))
			return false; /* refused (or out of memory): nothing more is read */
	}
	while (c->got < c->need && n > 0) {
		if (!body_room(c))
			return false;
		size_t room = c->cap - 1 - c->got, want = c->need - c->got;
		size_t k = room < want ? room : want;
		k = k < n ? k : n;
		memcpy(c->body + c->got, p, k);
		c->got += k;
		p += k;
		n -= k;
	}
	if (c->got < c->need)
		return true;
	if (n > 0) {
		c->ahead = malloc(n);
		if (c->ahead == NULL) {
			client_close(c);
			return false;
		}
		memcpy(c->ahead, p, n);
		c->ahead_len = n;
	}
	request_done(c);
	return false;
}

/* What an earlier read brought ahead of this request: taken first. */
static bool take_ahead(struct client *c)
{
	uint8_t *a = c->ahead;
	size_t n = c->ahead_len;
	c->ahead = NULL;
	c->ahead_len = 0;
	bool more = take_read(c, a, n);
	explicit_bzero(a, n);
	free(a);
	return more;
}

/* Read what is there; handle a request once it is whole. */
static void client_read(struct client *c)
{
	/* bytes read with a request's length, beyond it: zeroized once taken */
	static uint8_t extra[CLIENT_AHEAD];
	size_t budget = CLIENT_IO_PER_PASS;
	if (c->ahead_len > 0 && !take_ahead(c))
		return;
	while (budget > 0) {
		ssize_t r;
		size_t n_extra = 0;
		if (c->hdr_got == 0) {
			int had = c->passed_fd;
			r = read_header(c, extra, sizeof(extra));
			if (r > 4) {
				n_extra = (size_t)r - 4;
				r = 4;
				/* a file that came with this read and a next request's
				 * first bytes may be that request's: not this one's */
				if (had < 0 && c->passed_fd >= 0 && n_extra > request_len(c))
					passed_close(c);
			}
		} else if (c->hdr_got < 4)
			r = read_header(c, NULL, 0);
		else {
			if (!body_room(c))
				return;
			size_t want = c->cap - 1 - c->got;
			r = read(c->fd, c->body + c->got, want < budget ? want : budget);
		}
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				client_close(c);
			return;
		}
		if (c->hdr_got < 4) {
			c->hdr_got += (size_t)r;
			if (c->hdr_got < 4)
				continue;
			bool more = request_start(c) && take_read(c, extra, n_extra);
			explicit_bzero(extra, n_extra);
			budget -= n_extra < budget ? n_extra : budget;
			if (!more)
				return; /* refused, closed, or whole */
		} else {
			c->got += (size_t)r;
			budget -= (size_t)r < budget ? (size_t)r : budget;
		}
		if (c->got == c->need) {
			request_done(c);
			return;
		}
	}
}

/* Group commit: one commit for the records of every request handled in
 * this pass, then the answers. If the commit fails, nothing that depended
 * on it goes out: each caller whose request left records in it gets an
 * error instead (a state change that committed on its own keeps its
 * answer: its change and its record are durable). */
static void answer_pending(void)
{
	bool lost = ctl_store_sync(&d.store) != 0;
	if (lost)
		ctl_log("governance log commit failed: %s; withholding answers",
		       sqlite3_errmsg(d.store.db));
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0 || c->pending == NULL)
			continue;
		json_t *a = c->pending;
		c->pending = NULL;
		if (lost && c->on_batch) {
			json_decref(a);
			a = json_pack("{s:b, s:s}", "ok", 0, "error", "the governance "
				      "log cannot be written; nothing was answered");
		}
		answer(c, a);
	}
}

static void close_idle(void)
{
	int64_t now = (int64_t)veil_now_ms();
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].state == C_PARSING &&
		    now >= clients[i].deadline) {
			api_restart("did not type a request within 30 s");
			break;
		}
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].state != C_PENDING &&
		    clients[i].state != C_WORKING && clients[i].state != C_PARSING &&
		    now >= clients[i].deadline)
			client_close(&clients[i]);
}

/* The walk of the whole chain after a start from the mark is done: a
 * break refuses to serve, as a start would have. */
static void walk_done(struct ctl_job *j)
{
	d.chain_walking = false;
	json_t *a = j->answer;
	if (!j->ok || json_is_true(json_object_get(a, "intact")) ||
	    json_is_true(json_object_get(a, "accepted"))) {
		if (!j->ok)
			ctl_log("the walk of the governance log's chain did not finish: %s",
				json_string_value(json_object_get(a, "error")));
		return;
	}
	char msg[1024];
	ctl_audit_refusal(json_string_value(json_object_get(a, "problem")),
			  d.cfg.path, msg, sizeof(msg));
	ctl_log("%s", msg);
	exit_code = 1;
	stopping = 1;
}

/* The worker's finished answers, to callers still there (a slot closed
 * and taken again since has another serial). */
static void worker_answers(void)
{
	struct ctl_job *j;
	while ((j = ctl_worker_done(&d)) != NULL) {
		if (!j->ok)
			d.errors++;
		if (j->slot < 0)
			walk_done(j);
		else {
			struct client *c = &clients[j->slot];
			if (c->fd >= 0 && c->serial == j->serial && c->state == C_WORKING) {
				c->deadline = idle_deadline();
				answer_text(c, j->text, j->len);
				j->text = NULL;
			}
		}
		ctl_job_free(j);
	}
}

/* Start the api process (again); callers whose requests it had get
 * their connections closed: they send them again. */
static void api_restart(const char *why)
{
	char status[128];
	bool was = api.pid > 0;
	ps_stop(&api, status, sizeof(status));
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].state == C_PARSING)
			client_close(&clients[i]);
	if (was)
		ctl_log("the api process (%s) %s; starting another", status, why);
	int64_t now = ctl_now();
	if (now < api_next_start)
		return; /* the loop tries again then */
	char err[160];
	if (ps_spawn(&api, err, sizeof(err)) != 0)
		ctl_log("the api process: %s; trying again in a second", err);
	else if (was)
		api.restarts++;
	api_next_start = now + 1000;
}

struct typed_ctx {
	bool bad;
	char why[128];
};

/* One message of the api process: decoded with every length checked; a
 * message that does not decode means the api process is not what we
 * started: it is stopped and another is started. */
static void api_message(void *arg, const uint8_t *m, size_t len)
{
	struct typed_ctx *t = arg;
	struct ps_request r;
	if (t->bad)
		return;
	if (ps_decode(m, len, &r, t->why, sizeof(t->why)) != 0) {
		t->bad = true;
		return;
	}
	/* the connection whose body it had (a slot closed and taken again
	 * since has another serial, and is not waiting) */
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0 && c->serial == r.id && c->state == C_PARSING) {
			request_typed(c, &r);
			break;
		}
	}
	ps_request_free(&r);
}

static void api_io(short revents)
{
	if (api.fd < 0)
		return;
	if (ps_flush(&api) != 0) {
		api_restart("is gone");
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	struct typed_ctx t = { 0 };
	int rc = ps_receive(&api, api_message, &t);
	if (t.bad) {
		ctl_log("the api process sent a message that does not decode (%s)", t.why);
		api_restart("was stopped");
	} else if (rc != 0)
		api_restart("is gone");
}

static int run(int lfd)
{
	struct pollfd pfd[CTLD_MAX_CLIENTS + 3];
	struct client *of[CTLD_MAX_CLIENTS + 3];
	int64_t next_housekeeping = 0;
	uint64_t commits_seen = 0;
	int64_t commits_at = 0;
	bool pruning = false;
	int wfd = ctl_worker_fd(&d);

	while (!stopping) {
		watchdog_ping();
		if (reload_wanted) {
			reload_wanted = 0;
			/* MONOTONIC_USEC: systemd 253's Type=notify-reload
			 * wants it; older ones ignore it */
			char msg[64];
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
				 (unsigned long long)ts.tv_sec * 1000000ULL +
				 (unsigned long long)ts.tv_nsec / 1000);
			notify(msg);
			ctl_reload(&d);
			notify("READY=1");
		}
		if (api.fd < 0 && ctl_now() >= api_next_start)
			api_restart("");
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = wfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = api.fd, .events = POLLIN |
					    (ps_want_write(&api) ? POLLOUT : 0) };
		bool ahead = false; /* a caller's next request read already */
		for (int i = 0; i < CTLD_MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->fd < 0)
				continue;
			ahead |= c->state == C_READ && c->ahead_len > 0;
			short ev = c->state == C_READ ? POLLIN : c->state == C_WRITE ? POLLOUT :
				   c->state == C_LINGER ? POLLRDHUP : 0;
			of[n] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
		}
		/* a resync under way goes on at every poll: sooner then; a
		 * prune under way at once (a step between two passes), and
		 * a request a caller sent ahead, read already */
		int rc = poll(pfd, (nfds_t)n, pruning || ahead ? 0 : d.link != NULL &&
			      veil_link_server_busy(d.link) ?
			      VEIL_LINK_BUSY_POLL_MS : 100);
		if (rc < 0 && errno != EINTR) {
			ctl_log("poll: %s", strerror(errno));
			return -1;
		}
		if (d.link != NULL)
			veil_link_server_poll(d.link);
		/* no commit for MARK_SETTLE_MS: the mark gets the commits it
		 * was not handed yet (under a steady rate, every
		 * CTL_MARK_EVERY-th commit hands them over) */
		if (d.store.commits != commits_seen) {
			commits_seen = d.store.commits;
			commits_at = ctl_now();
		} else if (ctl_now() - commits_at >= MARK_SETTLE_MS &&
			   ctl_store_mark_settle(&d.store) != 0)
			ctl_log("the governance log's mark could not be written: "
				"it is tried again with the next commit");
		if (ctl_now() >= next_housekeeping) {
			ctl_housekeeping(&d);
			next_housekeeping = ctl_now() + VEIL_MS_PER_MINUTE;
		}
		/* one step of pruning, a short transaction, between passes */
		pruning = ctl_prune_pass(&d);
		ctl_byok_tick(&d);
		ctl_master_check_tick(&d);
		ctl_refusals_flush(&d, false);
		close_idle();
		/* the callers: n less the listener, the worker's pipe, the api process */
		ctl_metrics_tick(&d, (unsigned)n - 3);
		if (rc < 0 || (rc == 0 && !ahead))
			continue;
		if (pfd[1].revents & POLLIN)
			worker_answers();
		ctl_store_batch(&d.store, true);
		/* the callers' roles, looked up as their requests' lengths come
		 * in, from one read transaction: SQLite's locks once a pass */
		ctl_store_read_begin(&d.store);
		n_role_memo = 0;
		for (int i = 3; i < n; i++) {
			struct client *c = of[i];
			/* closed since the poll (idle): skip it */
			if (c->fd != pfd[i].fd || (pfd[i].revents == 0 &&
			    !(c->state == C_READ && c->ahead_len > 0)))
				continue;
			if (c->state == C_WORKING || c->state == C_PARSING)
				client_close(c); /* gone (its answer is dropped) */
			else if (c->state == C_READ)
				client_read(c);
			else if (c->state == C_WRITE)
				client_write(c);
			else if (c->state == C_LINGER)
				client_close(c);
		}
		/* after the clients: a slot freed by an eviction is not one
		 * whose poll result is still to be read */
		if (pfd[0].revents & POLLIN)
			for (int k = 0; k < ACCEPTS_PER_PASS && accept_client(lfd); k++)
				;
		ctl_store_read_end(&d.store);
		/* the bodies read in this pass to the api process, and its
		 * typed requests back: handled in this pass's group commit */
		api_io(pfd[2].revents);
		answer_pending();
		ctl_store_batch(&d.store, false);
	}
	ctl_refusals_flush(&d, true); /* no count is lost at shutdown */
	return exit_code;
}

/* The store, checked against the governance log's mark; with a reason,
 * what does not fit is recorded and accepted instead of refused. */
static int open_store(const char *reason, char *err, size_t errlen)
{
	if (reason == NULL)
		return ctl_store_open(&d.store, &d.cfg, err, errlen);
	struct ctl_recovery r = ctl_config_operator(&d.cfg, reason);
	return ctl_store_recover(&d.store, &d.cfg, &r, err, errlen);
}

/* Started from the mark's checkpoint: the rest of the chain is walked
 * while the loop serves (on the worker; without one, here and now).
 * @return false if the walk found a break: the daemon must not serve. */
static bool start_chain_walk(void)
{
	struct ctl_job *j = d.worker != NULL ? ctl_walk_job() : NULL;
	if (j != NULL) {
		d.chain_walking = true;
		ctl_worker_submit(&d, j);
		return true;
	}
	json_t *a = ctl_handle(&d, &(struct ctl_caller){ .role = VEIL_ROLE_ADMIN },
			       "{\"cmd\":\"audit.verify\"}", 22);
	struct ctl_job w = { .ok = json_is_true(json_object_get(a, "ok")), .answer = a };
	walk_done(&w);
	json_decref(a);
	return !stopping;
}

int main(int argc, char **argv)
{
	const char *config = VEIL_DEFAULT_CONFIG;
	bool check = false, foreground = false;
	const char *recover = NULL, *restore_file = NULL, *pass_file = NULL,
		   *key_file = NULL, *reason = NULL;
	bool force = false;
	char err[2048];
	int c;
	static const struct option longopts[] = {
		{ "recover-audit", required_argument, NULL, 'R' },
		{ "restore", required_argument, NULL, 'B' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "recovery-key", required_argument, NULL, 'K' },
		{ "reason", required_argument, NULL, 'W' },
		{ "force", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};

	/* the api process, started by the daemon (privsep_proc.c) */
	if (argc == 3 && strcmp(argv[1], "--api-child") == 0)
		ps_child_main(argv[2]);
	while ((c = getopt_long(argc, argv, "c:nfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'R': recover = optarg; break;
		case 'B': restore_file = optarg; break;
		case 'P': pass_file = optarg; break;
		case 'K': key_file = optarg; break;
		case 'W': reason = optarg; break;
		case 'F': force = true; break;
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
	if (ctl_config_load(&d.cfg, config, err, sizeof(err)) != 0 ||
	    ctl_norms_load(&d.norms, d.cfg.path, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-controld: %s\n", err);
		return 1;
	}
	if (restore_file != NULL)
		return ctl_restore_command(&d.cfg, restore_file, pass_file, key_file, reason,
					   force);
	if (check) {
		if (ctl_config_check_master_key(&d.cfg, err, sizeof(err)) != 0 ||
		    ps_drop_init(&api.drop, d.cfg.api_user, NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "veil-controld: %s\n", err);
			return 1;
		}
		char need[400];
		int fits = ctl_locked_need(&d.cfg, need, sizeof(need));
		printf("%s\n", need);
		if (fits != 0) {
			fprintf(stderr, "veil-controld: %s\n", need);
			return 1;
		}
		printf("configuration OK\n");
		return 0;
	}
	if (!foreground) {
		ctl_log_to_syslog();
	}
	prctl(PR_SET_DUMPABLE, 0); /* keys: no core dumps, no ptrace */
	umask(077);
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		clients[i].fd = clients[i].passed_fd = -1;
	d.started = ctl_now();
	if (open_store(recover, err, sizeof(err)) != 0) {
		ctl_log("%s", err);
		return 1;
	}
	if (d.store.note[0] != '\0')
		ctl_log("%s", d.store.note);
	char eerr[160];
	struct veil_engine_opts eo;
	if (veil_engine_opts_from_env(&eo, eerr, sizeof(eerr)) != 0 ||
	    (d.engine = veil_engine_new(&eo)) == NULL) {
		ctl_log("crypto engine: %s", eerr[0] ? eerr : strerror(errno));
		return 1;
	}
	if (ctl_settings_load(&d, err, sizeof(err)) != 0 ||
	    ctl_tenants_load(&d, err, sizeof(err)) != 0 ||
	    ctl_byok_init(&d, err, sizeof(err)) != 0 ||
	    ctl_scope_init(&d, err, sizeof(err)) != 0) {
		ctl_log("%s", err);
		return 1;
	}
	struct veil_link_server_opts lo = {
		.socket_path = d.cfg.link_socket, .slots = 1024,
		.dataplane_uid = d.cfg.dataplane_uid, .keys = ctl_link_keys,
		.watchdog_ms = d.cfg.dataplane_watchdog_s * 1000u,
		.ctx = &d, .log = link_log,
	};
	d.link = veil_link_server_new(&lo, err, sizeof(err));
	if (d.link == NULL) {
		ctl_log("dataplane link: %s", err);
		return 1;
	}
	/* before the socket exists: whoever sees it may signal us */
	struct sigaction sa = { .sa_handler = on_signal }, hup = { .sa_handler = on_hup };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	int lfd = ctl_admin_listen(&d.cfg);
	if (lfd < 0 || ctl_metrics_open(&d, err, sizeof(err)) != 0) {
		if (lfd >= 0)
			ctl_log("%s", err);
		return 1;
	}
	if (!foreground && daemon(0, 0) != 0) {
		ctl_log("daemon: %s", strerror(errno));
		return 1;
	}
	if (ctl_metrics_start(&d, err, sizeof(err)) != 0) {
		ctl_log("%s", err);
		return 1;
	}
	/* the mark's fdatasync off the loop: after daemon(), which keeps no
	 * thread */
	if (ctl_store_mark_async(&d.store) != 0)
		ctl_log("the governance log's mark is written in the loop (no "
			"writer thread: %s)", strerror(errno));
	if (ctl_store_keeper_start(&d.store) != 0)
		ctl_log("the WAL's checkpoints and pruning run in the loop (no keeper "
			"thread)");
	if (ctl_worker_start(&d, err, sizeof(err)) != 0)
		ctl_log("long reads run in the loop (no worker: %s)", err);
	if (d.store.walk_pending && !start_chain_walk())
		return 1;
	/* the api process: callers' JSON is parsed there, not here */
	/* its empty root beside the socket (the RuntimeDirectory): the state
	 * directory holds only the state */
	char api_dir[sizeof(d.cfg.socket_path) + 16];
	const char *slash = strrchr(d.cfg.socket_path, '/');
	snprintf(api_dir, sizeof(api_dir), "%.*s/api-root",
		 slash != NULL ? (int)(slash - d.cfg.socket_path) : 1,
		 slash != NULL ? d.cfg.socket_path : ".");
	if (ps_drop_init(&api.drop, d.cfg.api_user, api_dir, err, sizeof(err)) != 0 ||
	    ps_spawn(&api, err, sizeof(err)) != 0) {
		ctl_log("%s", err);
		return 1;
	}
	api_next_start = ctl_now() + 1000;
	ctl_log("serving %u tenants on %s (crypto %s, link %s)", d.n_tenants,
	       d.cfg.socket_path, veil_engine_name(d.engine), d.cfg.link_socket);
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	notify("READY=1");
	int rc = run(lfd);

	notify("STOPPING=1");
	ctl_log("stopping after %llu requests", (unsigned long long)d.requests);
	ctl_worker_stop(&d);
	ps_stop(&api, NULL, 0);
	for (int i = 0; i < CTLD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	ctl_metrics_stop();
	close(lfd);
	unlink(d.cfg.socket_path);
	veil_link_server_free(d.link);
	ctl_tenants_free(&d);
	ctl_byok_free(&d);
	veil_engine_free(d.engine);
	ctl_store_close(&d.store);
	return rc == 0 ? 0 : 1;
}
