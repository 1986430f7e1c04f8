/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld's api process: the one that parses callers' JSON. The key
 * process (the daemon, with the master key, the keys, the database) starts
 * it as a new image of itself (fork, then exec /proc/self/exe
 * --api-child), so that nothing of the key process's memory is in it; it
 * drops what it can (the fds, root: a chroot to an empty directory and
 * another uid, no new privileges, not dumpable) and then only reads
 * requests' bytes from its socket and writes typed messages back
 * (privsep.h). Here too: the key process's handle on it (start, queue,
 * read, stop).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctld_pvt.h"
#include "privsep.h"

#define PS_CHILD_FD 3
/* a request to the api process: id (8 bytes) and the body */
#define PS_IN_MAX (8u + VEIL_API_MSG_MAX)

/* ---- the api process ---- */

static void die(const char *what)
{
	fprintf(stderr, "veil-controld (api): %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* Landlock's ruleset attributes as the kernel's ABI has them (the
 * system's header may be older than the kernel): the rights each ABI
 * version knows are handled, and no rule grants any. */
struct ll_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};

/* No path can be opened, executed or made (already open fds still
 * work), no TCP bind or connect, no signal to a process outside (the key
 * process) and no abstract Unix socket. 0, or -1 where the kernel has no
 * Landlock (errno). */
int ps_landlock_nothing(void)
{
#ifdef SYS_landlock_create_ruleset
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u /* VERSION */);
	if (abi < 1)
		return -1;
	struct ll_attr a = { .handled_access_fs = (UINT64_C(1) << 13) - 1 };
	size_t size = 8;
	if (abi >= 2)
		a.handled_access_fs |= UINT64_C(1) << 13; /* REFER */
	if (abi >= 3)
		a.handled_access_fs |= UINT64_C(1) << 14; /* TRUNCATE */
	if (abi >= 5)
		a.handled_access_fs |= UINT64_C(1) << 15; /* IOCTL_DEV */
	if (abi >= 4) {
		a.handled_access_net = 3; /* BIND_TCP, CONNECT_TCP */
		size = 16;
	}
	if (abi >= 6) {
		a.scoped = 3; /* ABSTRACT_UNIX_SOCKET, SIGNAL */
		size = 24;
	}
	int fd = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0u);
	if (fd < 0)
		return -1;
	int rc = (int)syscall(SYS_landlock_restrict_self, fd, 0u);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* SPEC: "-" (drop nothing more), or UID:GID:DIR (started as root). */
static void drop(const char *spec)
{
	/* jansson's hash seed from /dev/urandom now: in the chroot there is
	 * none (it would fall back to the time and pid) */
	json_object_seed(0);
	/* every fd but stdin, stdout, stderr (messages) and the socket */
	if (close_range(PS_CHILD_FD + 1, ~0u, 0) != 0)
		for (int fd = PS_CHILD_FD + 1; fd < 1024; fd++)
			close(fd);
	if (strcmp(spec, "-") != 0) {
		unsigned long uid, gid;
		char dir[256];
		if (sscanf(spec, "%lu:%lu:%255s", &uid, &gid, dir) != 3 || uid == 0)
			die("bad --api-child argument");
		if (chroot(dir) != 0 || chdir("/") != 0)
			die(dir);
		if (setgroups(0, NULL) != 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0 ||
		    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)
			die("dropping to the api user");
		/* no way back */
		if (setuid(0) == 0 || getuid() != (uid_t)uid || geteuid() != (uid_t)uid)
			die("root could be taken back");
	} else if (chdir("/") != 0) {
		die("chdir /");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		die("PR_SET_DUMPABLE");
	/* without root (under the unit, User=veil) this is what keeps it
	 * from the database and the master key files of its own uid */
	if (ps_landlock_nothing() != 0)
		fprintf(stderr, "veil-controld (api): Landlock: %s; the api process "
			"can open what its uid can\n", strerror(errno));
	/* it opens nothing and starts nothing. A unit's system call filter
	 * may refuse these (systemd's ~@resources): then the filter, and
	 * Landlock, stand for them */
	struct rlimit none = { 0, 0 }, fds = { PS_CHILD_FD + 1, PS_CHILD_FD + 1 };
	if (setrlimit(RLIMIT_NOFILE, &fds) != 0 || setrlimit(RLIMIT_NPROC, &none) != 0)
		fprintf(stderr, "veil-controld (api): setrlimit: %s (going on)\n",
			strerror(errno));
}

/* Room for more of what the key process sends: at least @want bytes in
 * all (a message's whole length once its header is in). */
static void child_room(uint8_t **buf, size_t *cap, size_t len, size_t want)
{
	if (*cap >= want && *cap - len >= 4096)
		return;
	size_t n = *cap ? *cap * 2 : 65536;
	n = n < want ? want : n;
	uint8_t *b = malloc(n);
	if (b == NULL)
		_exit(1); /* the key process starts another */
	if (*buf != NULL) {
		memcpy(b, *buf, len);
		explicit_bzero(*buf, *cap);
		free(*buf);
	}
	*buf = b;
	*cap = n;
}

/* Encode the request at m (id, body) and append its message, framed, to
 * the answers of this read. */
static void child_encode(const uint8_t *m, size_t n, uint8_t **out, size_t *olen,
			 size_t *ocap)
{
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | m[i];
	uint8_t *msg;
	size_t len;
	if (ps_encode((const char *)m + 8, n - 8, id, &msg, &len) != 0)
		_exit(1); /* out of memory: the key process starts another */
	if (*ocap - *olen < 4 + len) {
		size_t cap = (*olen + 4 + len) * 2;
		uint8_t *b = malloc(cap);
		if (b == NULL)
			_exit(1);
		if (*out != NULL) {
			memcpy(b, *out, *olen);
			explicit_bzero(*out, *ocap);
			free(*out);
		}
		*out = b;
		*ocap = cap;
	}
	uint8_t *o = *out + *olen;
	o[0] = (uint8_t)(len >> 24);
	o[1] = (uint8_t)(len >> 16);
	o[2] = (uint8_t)(len >> 8);
	o[3] = (uint8_t)len;
	memcpy(o + 4, msg, len);
	*olen += 4 + len;
	explicit_bzero(msg, len);
	free(msg);
}

void ps_child_main(const char *spec)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* the daemon's reload is not ours */
	signal(SIGINT, SIG_IGN);
	drop(spec);
	/* Every request that one read brings (the key process writes all it
	 * has in one call) is typed, and the messages go back in one write:
	 * two system calls for a pass's requests, not four for each. */
	uint8_t *in = NULL, *out = NULL;
	size_t len = 0, cap = 0, olen = 0, ocap = 0, want = 4;
	for (;;) {
		child_room(&in, &cap, len, want);
		ssize_t r = read(PS_CHILD_FD, in + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(r == 0 ? 0 : 1); /* the key process is gone or stopped us */
		len += (size_t)r;
		size_t off = 0;
		want = 4;
		while (len - off >= 4) {
			const uint8_t *h = in + off;
			size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
				   (size_t)h[2] << 8 | h[3];
			if (n < 8 || n > PS_IN_MAX)
				_exit(1);
			if (len - off - 4 < n) {
				want = 4 + n;
				break;
			}
			child_encode(h + 4, n, &out, &olen, &ocap);
			off += 4 + n;
		}
		explicit_bzero(in, off); /* a lookup's name */
		memmove(in, in + off, len - off);
		len -= off;
		if (olen > 0) {
			if (veil_write_all(PS_CHILD_FD, out, olen) != 0)
				_exit(0);
			explicit_bzero(out, olen);
			olen = 0;
		}
		/* a large request's room goes back once it is typed */
		if (len == 0 && cap > (1u << 20)) {
			explicit_bzero(in, cap);
			free(in);
			in = NULL;
			cap = 0;
		}
		if (olen == 0 && ocap > (1u << 20)) {
			explicit_bzero(out, ocap);
			free(out);
			out = NULL;
			ocap = 0;
		}
	}
}

/* ---- the key process's handle ---- */

struct ps_out {
	struct ps_out *next;
	uint8_t hdr[12]; /* length, id */
	char *body;
	size_t len, off; /* of hdr and body together */
};

int ps_drop_init(struct ps_drop *d, const char *user, const char *dir,
		 char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (geteuid() != 0)
		return 0; /* not root: nothing to drop to */
	struct passwd *pw = getpwnam(user);
	char *end;
	unsigned long id = strtoul(user, &end, 10);
	if (pw == NULL && (end == user || *end != '\0' || id > 0xfffffffe)) {
		snprintf(err, errlen, "api_user %s: no such user (give a user name "
			 "or a uid other than root's)", user);
		return -1;
	}
	d->uid = pw ? pw->pw_uid : (uid_t)id;
	d->gid = pw ? pw->pw_gid : (gid_t)id;
	if (d->uid == 0) {
		snprintf(err, errlen, "api_user %s: is root; the api process must run "
			 "as another user", user);
		return -1;
	}
	if (dir == NULL)
		return 0; /* the user only (veil-controld -n) */
	if (strlen(dir) >= sizeof(d->root_dir) || strchr(dir, ' ') != NULL) {
		snprintf(err, errlen, "the api process's directory %s: too long or "
			 "with a space", dir);
		return -1;
	}
	/* empty, root's, nobody writes in it */
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "the api process's directory %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0 || st.st_nlink != 2) {
		snprintf(err, errlen, "the api process's directory %s must be an empty "
			 "directory of root's that only root can write (rmdir it: "
			 "veil-controld makes it)", dir);
		return -1;
	}
	snprintf(d->root_dir, sizeof(d->root_dir), "%s", dir);
	d->setuid = true;
	return 0;
}

int ps_spawn(struct ps_proc *p, char *err, size_t errlen)
{
	int sv[2];
	char spec[320] = "-";
	if (p->drop.setuid)
		snprintf(spec, sizeof(spec), "%u:%u:%s", (unsigned)p->drop.uid,
			 (unsigned)p->drop.gid, p->drop.root_dir);
	char name[] = "veil-controld", flag[] = "--api-child";
	char *argv[] = { name, flag, spec, NULL };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* only async-signal-safe calls until exec: a thread of the
		 * key process may hold a lock */
		if (dup2(sv[1], PS_CHILD_FD) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(sv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	p->pid = pid;
	p->fd = sv[0];
	p->started_ms = ctl_now();
	return 0;
}

static void out_free(struct ps_out *o)
{
	if (o->body != NULL)
		explicit_bzero(o->body, o->len - sizeof(o->hdr));
	free(o->body);
	free(o);
}

void ps_stop(struct ps_proc *p, char *status, size_t statuslen)
{
	if (status != NULL)
		snprintf(status, statuslen, "not running");
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 0) {
		int st = 0;
		kill(p->pid, SIGKILL); /* gone already, or no longer trusted */
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
		if (status != NULL && WIFSIGNALED(st))
			snprintf(status, statuslen, "pid %d ended by signal %d (%s)",
				 (int)p->pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
		else if (status != NULL)
			snprintf(status, statuslen, "pid %d exited with status %d",
				 (int)p->pid, WEXITSTATUS(st));
	}
	p->pid = 0;
	while (p->out_head != NULL) {
		struct ps_out *o = p->out_head;
		p->out_head = o->next;
		out_free(o);
	}
	p->out_tail = NULL;
	if (p->in != NULL)
		explicit_bzero(p->in, p->in_len);
	free(p->in);
	p->in = NULL;
	p->in_len = p->in_cap = 0;
}

int ps_send(struct ps_proc *p, uint64_t id, char *body, size_t len)
{
	struct ps_out *o = calloc(1, sizeof(*o));
	if (o == NULL || len > VEIL_API_MSG_MAX) {
		free(o);
		explicit_bzero(body, len);
		free(body);
		return -1;
	}
	size_t n = 8 + len;
	o->hdr[0] = (uint8_t)(n >> 24);
	o->hdr[1] = (uint8_t)(n >> 16);
	o->hdr[2] = (uint8_t)(n >> 8);
	o->hdr[3] = (uint8_t)n;
	for (int i = 0; i < 8; i++)
		o->hdr[4 + i] = (uint8_t)(id >> (8 * (7 - i)));
	o->body = body;
	o->len = sizeof(o->hdr) + len;
	if (p->out_tail != NULL)
		p->out_tail->next = o;
	else
		p->out_head = o;
	p->out_tail = o;
	return 0;
}

bool ps_want_write(const struct ps_proc *p)
{
	return p->fd >= 0 && p->out_head != NULL;
}

/* Every queued request in one call (at most PS_FLUSH_IOV pieces): the api
 * process reads them in one call too. */
#define PS_FLUSH_IOV 128
int ps_flush(struct ps_proc *p)
{
	while (p->fd >= 0 && p->out_head != NULL) {
		struct iovec iov[PS_FLUSH_IOV];
		int n = 0;
		for (struct ps_out *o = p->out_head; o != NULL && n + 2 <= PS_FLUSH_IOV;
		     o = o->next) {
			if (o->off < sizeof(o->hdr))
				iov[n++] = (struct iovec){ o->hdr + o->off,
							   sizeof(o->hdr) - o->off };
			size_t boff = o->off < sizeof(o->hdr) ? 0 : o->off - sizeof(o->hdr);
			if (o->len - sizeof(o->hdr) > boff)
				iov[n++] = (struct iovec){ o->body + boff,
							   o->len - sizeof(o->hdr) - boff };
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(p->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -1;
		/* what went: whole requests freed, the last one partly */
		size_t left = (size_t)w;
		while (p->out_head != NULL && left > 0) {
			struct ps_out *o = p->out_head;
			size_t take = o->len - o->off < left ? o->len - o->off : left;
			o->off += take;
			left -= take;
			if (o->off < o->len)
				break;
			p->out_head = o->next;
			if (p->out_head == NULL)
				p->out_tail = NULL;
			out_free(o);
		}
	}
	return 0;
}

int ps_receive(struct ps_proc *p, void (*fn)(void *arg, const uint8_t *m, size_t len),
	       void *arg)
{
	for (int rounds = 0; p->fd >= 0 && rounds < 64; rounds++) {
		if (p->in_cap - p->in_len < 65536) {
			size_t cap = p->in_cap ? p->in_cap * 2 : 65536;
			uint8_t *n = realloc(p->in, cap);
			if (n == NULL)
				return -1;
			p->in = n;
			p->in_cap = cap;
		}
		ssize_t r = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len,
				 MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -1; /* gone */
		p->in_len += (size_t)r;
		size_t off = 0;
		while (p->in_len - off >= 4) {
			const uint8_t *h = p->in + off;
			size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 |
				   (size_t)h[2] << 8 | h[3];
			if (n > PS_MSG_MAX)
				return -1;
			if (p->in_len - off - 4 < n)
				break;
			fn(arg, h + 4, n);
			off += 4 + n;
		}
		if (off > 0) {
			explicit_bzero(p->in, off);
			memmove(p->in, p->in + off, p->in_len - off);
			p->in_len -= off;
		}
		/* a large message's room goes back once it is handled (the
		 * caller's answer trims the heap) */
		if (p->in_len == 0 && p->in_cap > (1u << 20)) {
			free(p->in);
			p->in = NULL;
			p->in_cap = 0;
			continue;
		}
		/* a large message: room for the rest of it at once */
		if (p->in_len >= 4) {
			size_t n = (size_t)p->in[0] << 24 | (size_t)p->in[1] << 16 |
				   (size_t)p->in[2] << 8 | p->in[3];
			if (n <= PS_MSG_MAX && p->in_cap < 4 + n) {
				uint8_t *b = realloc(p->in, 4 + n);
				if (b == NULL)
					return -1;
				p->in = b;
				p->in_cap = 4 + n;
			}
		}
	}
	return 0;
}
