/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The admin socket's side that is not the loop's (controld.c serves it):
 * the socket made with its directory and group, the supplementary groups
 * of a peer, and the refusal sent to a caller that gets no slot.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctld_pvt.h"

/* Can the members of group gid pass every directory down to dir (its
 * own and its parents')? If not, bad names the first that stops them. */
static bool group_can_pass(const char *dir, gid_t gid, char *bad, size_t badlen,
			   struct stat *bst)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;
		*p = '\0';
		struct stat st = { 0 };
		if (stat(path, &st) != 0 || !((st.st_mode & S_IXOTH) ||
		    (st.st_gid == gid && (st.st_mode & S_IXGRP)))) {
			snprintf(bad, badlen, "%s", path);
			*bst = st;
			return false;
		}
		*p = save;
		if (save == '\0')
			return true;
	}
}

/* The socket's directory: made as socket_group needs it (0750 root:group;
 * without a group 0755); one that is there already is left as it is, but
 * if the group cannot reach the socket through it, that is an error. */
static int socket_dir(const char *dir, const char *group, gid_t gid)
{
	bool grouped = group[0] != '\0';
	if (mkdir(dir, 0700) == 0) {
		if ((grouped && chown(dir, (uid_t)-1, gid) != 0) ||
		    chmod(dir, grouped ? 0750 : 0755) != 0) {
			ctl_log("socket directory %s: %s", dir, strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		ctl_log("socket directory %s: %s", dir, strerror(errno));
		return -1;
	}
	char bad[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	if (grouped && !group_can_pass(dir, gid, bad, sizeof(bad), &st)) {
		ctl_log("socket_group %s: its members cannot reach the socket: %s is mode "
		       "%04o, owner %u:%u (it needs o+x, or group %s with g+x: e.g. "
		       "chgrp %s %s; chmod 0750 %s); veil-controld does not loosen a "
		       "directory it did not make", group, bad,
		       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
		       (unsigned)st.st_gid, group, group, bad, bad);
		return -1;
	}
	return 0;
}

int ctl_admin_listen(const struct ctl_config *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(c->socket_path) >= sizeof(sa.sun_path)) {
		ctl_log("socket path too long: %s", c->socket_path);
		return -1;
	}
	gid_t gid = (gid_t)-1;
	if (c->socket_group[0] != '\0') {
		struct group *g = getgrnam(c->socket_group);
		if (g == NULL) {
			ctl_log("socket group %s: no such group", c->socket_group);
			return -1;
		}
		gid = g->gr_gid;
	}
	strcpy(sa.sun_path, c->socket_path);
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", c->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (socket_dir(dir, c->socket_group, gid) != 0)
			return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(c->socket_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->socket_path, 0660) != 0 || listen(fd, 64) != 0) {
		ctl_log("socket %s: %s", c->socket_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (gid != (gid_t)-1 && chown(c->socket_path, (uid_t)-1, gid) != 0) {
		ctl_log("socket group %s: %s", c->socket_group, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The supplementary groups of the peer (SO_PEERGROUPS, Linux 4.13); none
 * if the kernel cannot say, so that a group role is never assumed. */
gid_t *ctl_peer_groups(int fd, unsigned *n)
{
	socklen_t len = 32 * sizeof(gid_t);
	gid_t *g = NULL;
	*n = 0;
	for (int tries = 0; tries < 2; tries++) {
		gid_t *ng = realloc(g, len ? len : 1);
		if (ng == NULL)
			break;
		g = ng;
		socklen_t got = len;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
			*n = got / sizeof(gid_t);
			return g;
		}
		if (errno != ERANGE)
			break;
		len = got; /* the size it needs */
	}
	free(g);
	return NULL;
}

/* An answer straight away, for a caller that gets no slot. */
void ctl_refuse_now(int fd, const char *why)
{
	json_t *a = json_pack("{s:b, s:s}", "ok", 0, "error", why);
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL)
		return;
	size_t len = strlen(s);
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			   (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 4 }, { s, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing to do: the caller sees the connection close */
	}
	free(s);
}
