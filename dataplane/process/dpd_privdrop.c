/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's drop of privileges. It starts as root for what DPDK
 * needs while its ports come up (hugepages, /dev/vfio, the exception TAP,
 * pagemap) and for listening ports below 1024; once they are up it
 * becomes its own user ([dataplane] user =, or --user) and keeps no
 * capability: the running loop polls descriptors and mappings it already
 * has, and mlock()s the key pages within RLIMIT_MEMLOCK.
 *
 * Why setresuid() from root and not capset() alone: capabilities belong
 * to each thread, and by now the EAL has started its own (the lcore
 * workers, the interrupt and telemetry threads), which capset() on this
 * thread cannot reach. glibc applies setresuid() to every thread of the
 * process, and the kernel clears a thread's permitted, effective and
 * ambient capabilities when its uids all leave 0 (PR_SET_KEEPCAPS is not
 * set: nothing is kept). Then every thread is checked through
 * /proc/self/task: a process that still holds anything exits (fail
 * closed).
 *
 * What the running loop writes must be the user's: the upstreams' spools
 * (spool_dir), which root made at the start, are handed over before the
 * drop. Descriptors opened before it (the output file, the ports, the
 * telemetry socket) stay usable; the link to veil-controld is made after
 * it, so controld's dataplane_user must name this user.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dpd_run.h"

int vdd_user_resolve(struct vdd_config *c, const char *value, char *err,
		     size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(value, &end, 10);
	bool numeric = value[0] >= '0' && value[0] <= '9' && *end == '\0' &&
		       errno == 0;
	struct passwd *pw = numeric ? getpwuid((uid_t)n) : getpwnam(value);
	if (pw == NULL || strlen(pw->pw_name) >= sizeof(c->user)) {
		snprintf(err, errlen, "user: no such user \"%.40s\" (create it: "
			 "the package makes veil-dp with systemd-sysusers)", value);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user: \"%.40s\" is root: the dataplane "
			 "drops to a user of its own (veil-dp)", value);
		return -1;
	}
	strcpy(c->user, pw->pw_name);
	c->user_uid = pw->pw_uid;
	c->user_gid = pw->pw_gid;
	return 0;
}

int vdd_user_check(struct vdd_config *c, char *err, size_t errlen)
{
	if (c->user_uid < 0)
		return 0;
	if (c->controld_uid == c->user_uid) {
		snprintf(err, errlen, "user: %s is veil-controld's user "
			 "(controld_user = %s): the dataplane never runs as the "
			 "process that holds the keys; give it its own (veil-dp)",
			 c->user, c->controld_user);
		return -1;
	}
	/* without controld_user the link takes a controld of root or of our
	 * euid, which after the drop is this user: only root, then */
	if (c->controld_uid == VEIL_LINK_UID_DEFAULT)
		c->controld_uid = 0;
	return 0;
}

/* ---- the spools: root made them, the user writes them ---- */

static int chown_fd(int fd, const char *what, const struct vdd_config *c,
		    char *err, size_t errlen)
{
	if (fchown(fd, (uid_t)c->user_uid, c->user_gid) != 0) {
		snprintf(err, errlen, "cannot give %s to %s: %s", what, c->user,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* One upstream's spool: the directory and its files (no symlinks followed,
 * nothing else is there). */
static int chown_spool(int dfd, const char *name, const struct vdd_config *c,
		       char *err, size_t errlen)
{
	int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 && (errno == ENOTDIR || errno == ELOOP))
		return 0; /* not a directory: not a spool */
	if (sfd < 0) {
		snprintf(err, errlen, "spool %s: %s", name, strerror(errno));
		return -1;
	}
	if (chown_fd(sfd, name, c, err, errlen) != 0) {
		close(sfd);
		return -1;
	}
	DIR *d = fdopendir(sfd);
	if (d == NULL) {
		snprintf(err, errlen, "spool %s: %s", name, strerror(errno));
		close(sfd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fchownat(dirfd(d), e->d_name, (uid_t)c->user_uid, c->user_gid,
			     AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen, "cannot give spool file %s/%s to %s: %s",
				 name, e->d_name, c->user, strerror(errno));
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

static int give_spools(const struct vdd_config *c, char *err, size_t errlen)
{
	const char *dir = vdr_net_cfg_spool_dir(c->net);
	if (dir == NULL)
		return 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dfd < 0 || fstat(dfd, &st) != 0) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	/* a directory another user could change under us is not chowned
	 * through */
	if ((st.st_uid != 0 && st.st_uid != (uid_t)c->user_uid) ||
	    (st.st_mode & 022)) {
		snprintf(err, errlen, "spool_dir %s is owned by uid %u with mode "
			 "%04o: it must be root's or %s's and writable by no one "
			 "else (the package's tmpfiles.d makes /var/spool/veil 0700 "
			 "veil-dp)", dir, (unsigned)st.st_uid,
			 (unsigned)(st.st_mode & 07777), c->user);
		close(dfd);
		return -1;
	}
	if (chown_fd(dfd, dir, c, err, errlen) != 0) {
		close(dfd);
		return -1;
	}
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			rc = chown_spool(dirfd(d), e->d_name, c, err, errlen);
	closedir(d);
	return rc;
}

/* ---- capabilities (no libcap: two system calls) ---- */

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return (int)syscall(SYS_capget, &h, data);
}

static int caps_clear(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	return (int)syscall(SYS_capset, &h, data);
}

/* The bounding set too (for an exec, which NO_NEW_PRIVS bars anyway):
 * only a process with CAP_SETPCAP may, and the unit's bounds it. */
static int bounding_clear(char *err, size_t errlen)
{
	struct __user_cap_data_struct data[2];
	if (caps_get(data) != 0) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	if (!(data[0].effective & (1u << CAP_SETPCAP)))
		return 0;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			snprintf(err, errlen, "PR_CAPBSET_DROP %d: %s", cap,
				 strerror(errno));
			return -1;
		}
	return 0;
}

/* ---- the check afterwards: every thread ---- */

/* "Uid:\t1\t1\t1\t1" is all @p id (real, effective, saved, fs). */
static bool ids_all(const char *line, unsigned long id)
{
	const char *p = strchr(line, ':');
	unsigned n = 0;
	while (p != NULL && *++p != '\0' && *p != '\n') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			continue;
		if (v != id)
			return false;
		n++;
		p = end - 1;
	}
	return n == 4;
}

static bool hex_zero(const char *line)
{
	const char *p = strchr(line, ':');
	return p != NULL && strtoull(p + 1, NULL, 16) == 0;
}

static int check_thread(int tfd, const char *tid, const struct vdd_config *c,
			char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/status", tid);
	int fd = openat(tfd, path, O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		if (errno == ENOENT)
			return 0; /* the thread ended */
		snprintf(err, errlen, "/proc/self/task/%s/status: %s", tid,
			 strerror(errno));
		return -1;
	}
	char line[256];
	unsigned seen = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		bool ok = true;
		if (!strncmp(line, "Uid:", 4))
			ok = ids_all(line, (unsigned long)c->user_uid), seen++;
		else if (!strncmp(line, "Gid:", 4))
			ok = ids_all(line, c->user_gid), seen++;
		else if (!strncmp(line, "CapInh:", 7) || !strncmp(line, "CapPrm:", 7) ||
			 !strncmp(line, "CapEff:", 7) || !strncmp(line, "CapAmb:", 7))
			ok = hex_zero(line), seen++;
		if (!ok) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(err, errlen, "after the drop, thread %s still has "
				 "\"%s\"", tid, line);
			rc = -1;
		}
	}
	fclose(f);
	if (rc == 0 && seen != 6) {
		snprintf(err, errlen, "/proc/self/task/%s/status lacks Uid, Gid or "
			 "Cap lines", tid);
		rc = -1;
	}
	return rc;
}

static int verify(const struct vdd_config *c, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0) {
		snprintf(err, errlen, "getresuid: %s", strerror(errno));
		return -1;
	}
	uid_t u = (uid_t)c->user_uid;
	if (r != u || e != u || s != u || rg != c->user_gid ||
	    eg != c->user_gid || sg != c->user_gid) {
		snprintf(err, errlen, "after the drop the ids are uid %u/%u/%u gid "
			 "%u/%u/%u, not %s's %u/%u", (unsigned)r, (unsigned)e,
			 (unsigned)s, (unsigned)rg, (unsigned)eg, (unsigned)sg,
			 c->user, (unsigned)u, (unsigned)c->user_gid);
		return -1;
	}
	/* no way back */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1) {
		snprintf(err, errlen, "after the drop setuid(0) still succeeds");
		return -1;
	}
	int tfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = tfd >= 0 ? fdopendir(tfd) : NULL;
	if (d == NULL) {
		snprintf(err, errlen, "/proc/self/task: %s (each thread's ids and "
			 "capabilities are checked there: mount /proc)",
			 strerror(errno));
		if (tfd >= 0)
			close(tfd);
		return -1;
	}
	struct dirent *ent;
	int rc = 0;
	unsigned n = 0;
	while (rc == 0 && (ent = readdir(d)) != NULL)
		if (ent->d_name[0] != '.') {
			rc = check_thread(dirfd(d), ent->d_name, c, err, errlen);
			n++;
		}
	closedir(d);
	if (rc == 0 && n == 0) {
		snprintf(err, errlen, "/proc/self/task lists no thread");
		rc = -1;
	}
	return rc;
}

/* The ids: from root to the user (every thread, through glibc). */
static int become(const struct vdd_config *c, char *err, size_t errlen)
{
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) != 0) {
		snprintf(err, errlen, "getresuid: %s", strerror(errno));
		return -1;
	}
	if (r == (uid_t)c->user_uid && e == r && s == r)
		return 0; /* started as the user: the check says if it holds
			     capabilities it cannot drop */
	if (e != 0) {
		snprintf(err, errlen, "running as uid %u, neither root nor %s: "
			 "cannot change to %s (start veil-dataplane as root and "
			 "let it drop, or as %s)", (unsigned)e, c->user, c->user,
			 c->user);
		return -1;
	}
	if (initgroups(c->user, c->user_gid) != 0) {
		snprintf(err, errlen, "initgroups(%s): %s", c->user, strerror(errno));
		return -1;
	}
	if (setresgid(c->user_gid, c->user_gid, c->user_gid) != 0) {
		snprintf(err, errlen, "setresgid(%u): %s", (unsigned)c->user_gid,
			 strerror(errno));
		return -1;
	}
	if (setresuid((uid_t)c->user_uid, (uid_t)c->user_uid,
		      (uid_t)c->user_uid) != 0) {
		snprintf(err, errlen, "setresuid(%u): %s", (unsigned)c->user_uid,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int vdd_privdrop(const struct vdd_config *c, char *err, size_t errlen)
{
	if (c->user_uid < 0)
		return 0;
	if (give_spools(c, err, errlen) != 0 || bounding_clear(err, errlen) != 0)
		return -1;
	/* no capability survives the change of uids: keepcaps off (it is
	 * per thread; make sure of this one) */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	if (become(c, err, errlen) != 0)
		return -1;
	if (caps_clear() != 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* a change of uids makes the process dumpable again: keys come
	 * from here on, so no core dump and no ptrace by the user */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	return verify(c, err, errlen);
}
