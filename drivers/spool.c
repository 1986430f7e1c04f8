/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The spool of an upstream: see spool.h for the format and the guarantee.
 * Segments are appended with O_APPEND and never rewritten; the head file
 * is replaced whole (write, fdatasync, rename, directory fsync), so a crash
 * at any point leaves either the old head or the new one. The CRC is zlib's
 * CRC-32; it catches a record written part way (the process died in the
 * middle of a write) and a disk that returns other bytes than it took.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"

#define SEG_MAGIC "VEILSPL1"
#define SEG_HDR 8u               /* the magic */
#define REC_HDR 8u               /* length, CRC-32 (little-endian words) */
#define REC_MAX (16u << 20)
#define SEG_MIN (64u << 10)
#define SEG_MAX (64u << 20)
#define HEAD_NAME "head"
#define HEAD_TMP "head.tmp"

struct seg {
	uint64_t seq;
	uint64_t size; /* valid bytes (the magic included) */
};

/* A record taken (sent) and not yet acknowledged: where it ends. */
struct taken {
	uint64_t seq, off_after;
	uint32_t len;
};

struct vdr_spool {
	int dfd;
	char dir[PATH_MAX];
	uint64_t max_bytes, seg_bytes;
	struct seg *seg;
	unsigned n_seg, cap_seg;
	unsigned h;              /* the read head's segment: seg[h] */
	uint64_t head_off;       /* the read head's offset in it */
	uint64_t untaken;        /* records after the read head */
	struct taken *tk;        /* taken, not acknowledged: a ring */
	size_t tk_cap, tk_head, tk_n;
	uint64_t ack_seq, ack_off;   /* the first record not acknowledged */
	uint64_t done_seq, done_off; /* the head file's position */
	int rfd;                 /* seg[h], for reading; or -1 */
	uint64_t rfd_seq;
	int wfd;                 /* the tail segment, seg[n_seg - 1] */
	bool dir_dirty;          /* a segment was made since the last sync */
	char *rbuf;
	size_t rcap;
	bool peeked;
	uint32_t plen;
	struct vdr_spool_stats st;
};

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* CRC-32 over the length word and the bytes. */
static uint32_t rec_crc(const unsigned char *lenw, const void *p, uint32_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	c = crc32(c, lenw, 4);
	c = crc32(c, p, len);
	return (uint32_t)c;
}

static void seg_name(char *b, size_t cap, uint64_t seq)
{
	snprintf(b, cap, "%016" PRIx64 ".seg", seq);
}

static int fail(char *err, size_t cap, int e, const char *fmt, const char *a,
		const char *b)
{
	snprintf(err, cap, fmt, a, b);
	errno = e;
	return -1;
}

static bool grow(char **b, size_t *cap, size_t need)
{
	if (*cap >= need)
		return true;
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	char *n = realloc(*b, c);
	if (n == NULL)
		return false;
	*b = n;
	*cap = c;
	return true;
}

static bool add_seg(struct vdr_spool *s, uint64_t seq, uint64_t size)
{
	if (s->n_seg == s->cap_seg) {
		unsigned c = s->cap_seg ? s->cap_seg * 2 : 16;
		struct seg *n = realloc(s->seg, c * sizeof(*n));
		if (n == NULL)
			return false;
		s->seg = n;
		s->cap_seg = c;
	}
	s->seg[s->n_seg++] = (struct seg){ seq, size };
	return true;
}

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct seg *)a)->seq, y = ((const struct seg *)b)->seq;
	return x < y ? -1 : x > y;
}

/* The segment files of the directory, in order. */
static int list_segs(struct vdr_spool *s)
{
	int fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (strlen(e->d_name) != 20 || strcmp(e->d_name + 16, ".seg") != 0)
			continue;
		errno = 0;
		uint64_t seq = strtoull(e->d_name, &end, 16);
		if (errno != 0 || end != e->d_name + 16)
			continue;
		if (!add_seg(s, seq, 0)) {
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
	}
	closedir(d);
	if (s->n_seg > 1)
		qsort(s->seg, s->n_seg, sizeof(*s->seg), cmp_seq);
	return 0;
}

/* The head file: "SEQ OFFSET" (hex, decimal). false: none, or unreadable
 * (then everything left is delivered again: duplicates, never a loss). */
static bool read_head(struct vdr_spool *s, uint64_t *seq, uint64_t *off)
{
	char b[64];
	int fd = openat(s->dfd, HEAD_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return false;
	b[n] = '\0';
	char *end;
	errno = 0;
	*seq = strtoull(b, &end, 16);
	if (errno != 0 || *end != ' ')
		return false;
	*off = strtoull(end + 1, &end, 10);
	return errno == 0 && *end == '\n';
}

/* Check segment @p i: count its records at or after @p from (the head),
 * cut a torn or damaged tail; @p first gets the first record's offset at or
 * after @p from (a head that is not on a record boundary moves to the next
 * one). @return 0, or -1 (errno). */
static int scan_seg(struct vdr_spool *s, unsigned i, uint64_t from, uint64_t *first)
{
	char name[32];
	seg_name(name, sizeof(name), s->seg[i].seq);
	int fd = openat(s->dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uint64_t size = (uint64_t)sb.st_size, pos = SEG_HDR;
	unsigned char h[REC_HDR];
	char magic[SEG_HDR];
	if (size < SEG_HDR || pread(fd, magic, SEG_HDR, 0) != (ssize_t)SEG_HDR ||
	    memcmp(magic, SEG_MAGIC, SEG_HDR) != 0) {
		/* made, but its magic never reached the disk: nothing in it */
		s->st.torn += size > 0;
		if (ftruncate(fd, 0) != 0 || pwrite(fd, SEG_MAGIC, SEG_HDR, 0) != SEG_HDR) {
			close(fd);
			return -1;
		}
		s->seg[i].size = *first = SEG_HDR;
		close(fd);
		return 0;
	}
	*first = UINT64_MAX;
	while (pos + REC_HDR <= size) {
		if (pread(fd, h, REC_HDR, (off_t)pos) != (ssize_t)REC_HDR)
			break;
		uint32_t len = get32(h);
		if (len == 0 || len > REC_MAX || pos + REC_HDR + len > size)
			break;
		if (!grow(&s->rbuf, &s->rcap, len)) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
		if (pread(fd, s->rbuf, len, (off_t)(pos + REC_HDR)) != (ssize_t)len ||
		    rec_crc(h, s->rbuf, len) != get32(h + 4))
			break;
		if (pos >= from) {
			if (*first == UINT64_MAX)
				*first = pos;
			s->st.queued++;
			s->st.queued_bytes += len;
		}
		pos += REC_HDR + len;
	}
	if (pos < size) {
		/* written part way when the process or the machine stopped */
		s->st.torn++;
		if (ftruncate(fd, (off_t)pos) != 0 || fdatasync(fd) != 0) {
			close(fd);
			return -1;
		}
	}
	s->seg[i].size = pos;
	if (*first == UINT64_MAX)
		*first = pos;
	close(fd);
	return 0;
}

static int new_seg(struct vdr_spool *s, uint64_t seq)
{
	char name[32];
	seg_name(name, sizeof(name), seq);
	int fd = openat(s->dfd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
			O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, SEG_MAGIC, SEG_HDR) != (ssize_t)SEG_HDR) {
		int e = errno;
		close(fd);
		unlinkat(s->dfd, name, 0);
		errno = e ? e : EIO;
		return -1;
	}
	if (!add_seg(s, seq, SEG_HDR)) {
		close(fd);
		unlinkat(s->dfd, name, 0);
		errno = ENOMEM;
		return -1;
	}
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = fd;
	s->dir_dirty = true;
	s->st.segments = s->n_seg;
	s->st.used_bytes += SEG_HDR;
	return 0;
}

static int open_tail(struct vdr_spool *s)
{
	char name[32];
	seg_name(name, sizeof(name), s->seg[s->n_seg - 1].seq);
	s->wfd = openat(s->dfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	return s->wfd < 0 ? -1 : 0;
}

/* The directory: made if missing, ours, and closed to others. */
static int open_dir(struct vdr_spool *s, const char *dir, char *err, size_t cap)
{
	struct stat sb;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->dfd < 0)
		return fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
	if (fstat(s->dfd, &sb) != 0)
		return fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
	if (sb.st_uid != geteuid() || (sb.st_mode & 077) != 0)
		return fail(err, cap, EPERM, "spool %s: %s", dir,
			    "must be a directory of veil-dataplane's user that no "
			    "one else can read or write (mode 0700)");
	return 0;
}

int vdr_spool_open(struct vdr_spool **out, const char *dir, uint64_t max_bytes,
		   char *err, size_t cap)
{
	struct vdr_spool *s = calloc(1, sizeof(*s));
	uint64_t hseq = 0, hoff = 0;
	*out = NULL;
	if (s == NULL)
		return fail(err, cap, ENOMEM, "spool %s: %s", dir, "out of memory");
	s->dfd = s->rfd = s->wfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->max_bytes = max_bytes;
	s->seg_bytes = max_bytes / 8;
	s->seg_bytes = s->seg_bytes < SEG_MIN ? SEG_MIN
		       : s->seg_bytes > SEG_MAX ? SEG_MAX : s->seg_bytes;
	if (open_dir(s, dir, err, cap) != 0)
		goto bad;
	if (list_segs(s) != 0) {
		fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
		goto bad;
	}
	bool have_head = read_head(s, &hseq, &hoff);
	/* segments before the head were delivered: a crash came between the
	 * head's rename and their removal */
	unsigned first = 0;
	while (have_head && first < s->n_seg && s->seg[first].seq < hseq) {
		char name[32];
		seg_name(name, sizeof(name), s->seg[first].seq);
		unlinkat(s->dfd, name, 0);
		first++;
	}
	if (first > 0) {
		memmove(s->seg, s->seg + first, (s->n_seg - first) * sizeof(*s->seg));
		s->n_seg -= first;
	}
	if (!have_head || s->n_seg == 0 || s->seg[0].seq != hseq)
		hoff = SEG_HDR; /* from the first record there is */
	for (unsigned i = 0; i < s->n_seg; i++) {
		uint64_t f;
		if (scan_seg(s, i, i == 0 ? hoff : SEG_HDR, &f) != 0) {
			fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
			goto bad;
		}
		s->st.used_bytes += s->seg[i].size;
		if (i == 0)
			hoff = f;
	}
	s->st.recovered = s->untaken = s->st.queued;
	if (s->n_seg == 0) {
		if (new_seg(s, have_head ? hseq + 1 : 1) != 0) {
			fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
			goto bad;
		}
		hoff = SEG_HDR;
	} else if (open_tail(s) != 0) {
		fail(err, cap, errno, "spool %s: %s", dir, strerror(errno));
		goto bad;
	}
	s->head_off = hoff;
	s->ack_seq = s->done_seq = s->seg[0].seq;
	s->ack_off = s->done_off = s->head_off;
	s->st.segments = s->n_seg;
	*out = s;
	return 0;
bad:
	{
		int e = errno;
		vdr_spool_close(s);
		errno = e;
	}
	return -1;
}

/* Whether errno @p e says the disk has no room for more. */
static bool no_room(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

/* Every record is acknowledged and the disk has no room (a file system
 * smaller than the spool's segments, or filled by others): the segments
 * hold nothing that must be kept, but the tail would never be deleted.
 * The segments before it are deleted; the tail is renamed to the next
 * sequence number (the head file still names an older one, so the next
 * open reads it from its start) and then cut back to its magic. A crash
 * at any step loses nothing: at worst acknowledged records come again.
 * @return 0, or -1 (nothing to free, or it failed: errno). */
static int start_over(struct vdr_spool *s)
{
	struct seg *t = &s->seg[s->n_seg - 1];
	if (s->st.queued != 0 || s->untaken != 0 || s->tk_n != 0 || s->peeked ||
	    (s->n_seg == 1 && t->size <= SEG_HDR)) {
		errno = ENOSPC;
		return -1;
	}
	char from[32], to[32];
	for (unsigned i = 0; i + 1 < s->n_seg; i++) {
		seg_name(from, sizeof(from), s->seg[i].seq);
		unlinkat(s->dfd, from, 0);
		s->st.used_bytes -= s->seg[i].size;
	}
	s->seg[0] = *t;
	t = &s->seg[0];
	s->n_seg = s->st.segments = 1;
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = -1;
	/* everything is taken and acknowledged: the read head and the
	 * acknowledged position are the tail's end */
	s->h = 0;
	s->head_off = t->size;
	s->ack_seq = t->seq;
	s->ack_off = t->size;
	s->dir_dirty = true;
	seg_name(from, sizeof(from), t->seq);
	seg_name(to, sizeof(to), t->seq + 1);
	if (renameat(s->dfd, from, s->dfd, to) != 0)
		return -1;
	t->seq++;
	s->ack_seq = t->seq;
	if (ftruncate(s->wfd, SEG_HDR) != 0)
		return -1;
	s->st.used_bytes -= t->size - SEG_HDR;
	t->size = s->head_off = s->ack_off = SEG_HDR;
	return 0;
}

int vdr_spool_append(struct vdr_spool *s, const void *p, uint32_t len)
{
	unsigned char h[REC_HDR];
	if (len == 0 || len > REC_MAX) {
		errno = EINVAL;
		return -1;
	}
	uint64_t need = REC_HDR + (uint64_t)len;
	if (s->st.used_bytes + need > s->max_bytes) {
		s->st.dropped_full++;
		errno = ENOSPC;
		return -1;
	}
	struct seg *t = &s->seg[s->n_seg - 1];
	if (t->size > SEG_HDR && t->size + need > s->seg_bytes) {
		/* the old tail durable before records go to a later segment */
		if (fdatasync(s->wfd) != 0 || new_seg(s, t->seq + 1) != 0) {
			int e = errno;
			if (no_room(e) && start_over(s) == 0)
				return vdr_spool_append(s, p, len);
			s->st.write_errors++;
			errno = e;
			return -1;
		}
		t = &s->seg[s->n_seg - 1];
	}
	put32(h, len);
	put32(h + 4, rec_crc(h, p, len));
	struct iovec iov[2] = { { h, REC_HDR }, { (void *)(uintptr_t)p, len } };
	ssize_t n = writev(s->wfd, iov, 2);
	if (n != (ssize_t)need) {
		int e = n < 0 ? errno : ENOSPC;
		if (n > 0 && ftruncate(s->wfd, (off_t)t->size) != 0)
			e = errno;
		else if (no_room(e) && start_over(s) == 0)
			return vdr_spool_append(s, p, len); /* once: now it has room */
		s->st.write_errors++;
		errno = e;
		return -1;
	}
	t->size += need;
	s->st.used_bytes += need;
	s->st.queued++;
	s->st.queued_bytes += len;
	s->st.appended++;
	s->untaken++;
	return 0;
}

int vdr_spool_sync(struct vdr_spool *s)
{
	if (fdatasync(s->wfd) != 0)
		return -1;
	if (s->dir_dirty) {
		if (fsync(s->dfd) != 0)
			return -1;
		s->dir_dirty = false;
	}
	return 0;
}

int vdr_spool_peek(struct vdr_spool *s, const void **p, uint32_t *len)
{
	unsigned char h[REC_HDR];
	if (s->peeked) {
		*p = s->rbuf;
		*len = s->plen;
		return 1;
	}
	if (s->untaken == 0)
		return 0;
	while (s->head_off >= s->seg[s->h].size && s->h + 1 < s->n_seg) {
		s->h++;
		s->head_off = SEG_HDR;
	}
	const struct seg *g = &s->seg[s->h];
	if (s->rfd < 0 || s->rfd_seq != g->seq) {
		char name[32];
		if (s->rfd >= 0)
			close(s->rfd);
		seg_name(name, sizeof(name), g->seq);
		s->rfd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (s->rfd < 0)
			return -1;
		s->rfd_seq = g->seq;
	}
	if (pread(s->rfd, h, REC_HDR, (off_t)s->head_off) != (ssize_t)REC_HDR) {
		errno = EIO;
		return -1;
	}
	uint32_t n = get32(h);
	if (n == 0 || n > REC_MAX || s->head_off + REC_HDR + n > g->size) {
		errno = EIO;
		return -1;
	}
	if (!grow(&s->rbuf, &s->rcap, n)) {
		errno = ENOMEM;
		return -1;
	}
	if (pread(s->rfd, s->rbuf, n, (off_t)(s->head_off + REC_HDR)) != (ssize_t)n ||
	    rec_crc(h, s->rbuf, n) != get32(h + 4)) {
		errno = EIO; /* the disk gave back other bytes than it took */
		return -1;
	}
	s->peeked = true;
	s->plen = n;
	*p = s->rbuf;
	*len = n;
	return 1;
}

/* The record at the read head, of @p len bytes, is taken. */
static int take(struct vdr_spool *s, uint32_t len)
{
	if (s->tk_n == s->tk_cap) {
		size_t c = s->tk_cap ? 2 * s->tk_cap : 1024;
		struct taken *n = malloc(c * sizeof(*n));
		if (n == NULL)
			return -1;
		for (size_t i = 0; i < s->tk_n; i++)
			n[i] = s->tk[(s->tk_head + i) % s->tk_cap];
		free(s->tk);
		s->tk = n;
		s->tk_cap = c;
		s->tk_head = 0;
	}
	s->head_off += REC_HDR + len;
	s->tk[(s->tk_head + s->tk_n++) % s->tk_cap] =
		(struct taken){ s->seg[s->h].seq, s->head_off, len };
	s->untaken--;
	return 0;
}

int vdr_spool_take(struct vdr_spool *s)
{
	if (!s->peeked) {
		errno = EINVAL;
		return -1;
	}
	if (take(s, s->plen) != 0) {
		errno = ENOMEM;
		return -1;
	}
	s->peeked = false;
	return 0;
}

int vdr_spool_take_appended(struct vdr_spool *s, uint32_t len)
{
	if (s->untaken != 1 || s->peeked) {
		errno = EINVAL;
		return -1;
	}
	while (s->head_off >= s->seg[s->h].size && s->h + 1 < s->n_seg) {
		s->h++;
		s->head_off = SEG_HDR;
	}
	if (s->head_off + REC_HDR + len != s->seg[s->h].size) {
		errno = EINVAL; /* not the record appended last */
		return -1;
	}
	if (take(s, len) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

uint64_t vdr_spool_ack(struct vdr_spool *s, uint64_t n)
{
	uint64_t k = 0;
	for (; k < n && s->tk_n > 0; k++) {
		const struct taken *t = &s->tk[s->tk_head];
		s->ack_seq = t->seq;
		s->ack_off = t->off_after;
		s->st.queued--;
		s->st.queued_bytes -= t->len;
		s->st.delivered++;
		s->tk_head = (s->tk_head + 1) % s->tk_cap;
		s->tk_n--;
	}
	return k;
}

static int write_head(struct vdr_spool *s, uint64_t seq, uint64_t off)
{
	char b[64];
	int n = snprintf(b, sizeof(b), "%016" PRIx64 " %" PRIu64 "\n", seq, off);
	int fd = openat(s->dfd, HEAD_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
			O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, b, (size_t)n) != n || fdatasync(fd) != 0) {
		int e = errno ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	if (renameat(s->dfd, HEAD_TMP, s->dfd, HEAD_NAME) != 0 || fsync(s->dfd) != 0)
		return -1;
	return 0;
}

int vdr_spool_commit(struct vdr_spool *s)
{
	/* the segment the acknowledged head is in; an ack at the end of a
	 * segment that has a successor is the successor's start */
	unsigned a = 0;
	while (a < s->n_seg && s->seg[a].seq != s->ack_seq)
		a++;
	if (a == s->n_seg)
		a = 0;
	if (s->ack_off >= s->seg[a].size && a + 1 < s->n_seg && a < s->h) {
		a++;
		s->ack_seq = s->seg[a].seq;
		s->ack_off = SEG_HDR;
	}
	if (s->ack_seq == s->done_seq && s->ack_off == s->done_off)
		return 0;
	int rc = write_head(s, s->ack_seq, s->ack_off), e = errno;
	if (rc == 0) {
		s->done_seq = s->ack_seq;
		s->done_off = s->ack_off;
	}
	/* the segments wholly acknowledged go even when the head could not
	 * be written (its disk full), so that the disk gets room back: the
	 * next open reads the first segment left from its start (acknowledged
	 * records come again, none is lost) */
	for (unsigned i = 0; i < a; i++) {
		char name[32];
		seg_name(name, sizeof(name), s->seg[i].seq);
		unlinkat(s->dfd, name, 0);
		s->st.used_bytes -= s->seg[i].size;
	}
	if (a > 0) {
		memmove(s->seg, s->seg + a, (s->n_seg - a) * sizeof(*s->seg));
		s->n_seg -= a;
		s->h -= a;
		s->st.segments = s->n_seg;
	}
	errno = e;
	return rc;
}

void vdr_spool_stats(const struct vdr_spool *s, struct vdr_spool_stats *st)
{
	*st = s->st;
	st->unsent = s->untaken;
}

void vdr_spool_close(struct vdr_spool *s)
{
	if (s == NULL)
		return;
	if (s->n_seg > 0 && s->dfd >= 0) {
		(void)vdr_spool_sync(s);
		(void)vdr_spool_commit(s);
	}
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->dfd >= 0)
		close(s->dfd);
	if (s->rbuf != NULL)
		explicit_bzero(s->rbuf, s->rcap); /* anonymized lines, still */
	free(s->rbuf);
	free(s->seg);
	free(s->tk);
	free(s);
}
