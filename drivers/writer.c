/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The line writer of the file and mem drivers: each forwarded line of a
 * burst is built from its segments into a buffer (1 MiB), followed by an
 * LF; the buffer goes out in one write when full and at vdr_flush(). A
 * line longer than the buffer is written segment by segment. A failed
 * write is fatal for the output: counted, reported once, and every later
 * send fails too (the worker stops). Nothing is silently lost: the lines
 * of a burst, or of the buffer, that did not reach the output are counted
 * as tx_lost; tx_bytes counts only bytes that were written.
 *
 * A write that fails part way (a full disk, a file size limit) leaves no
 * torn line: the whole lines of what was written count as written, and a
 * regular file is cut back to the end of the last of them. (The file
 * driver's lines come from LF framing, so a line holds no LF: the LFs of
 * the written bytes are its whole lines.) Output that cannot be cut (a
 * pipe) keeps the partial line, which is counted as not written.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "drv_pvt.h"

#define OUT_BUF (1u << 20)

int vdr_writer_init(struct vdr_writer *w, struct vdr_driver *drv,
		    enum vdr_sink sink, int fd, bool own_fd, const char *name)
{
	memset(w, 0, sizeof(*w));
	w->drv = drv;
	w->sink = sink;
	w->fd = fd;
	w->own_fd = own_fd;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->cap = sink == VDR_SINK_COLLECT ? 64 * 1024 : OUT_BUF;
	w->buf = malloc(w->cap);
	if (w->buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Write @p n bytes; @p done (if given) gets the bytes written, also when
 * it fails part way. */
static int write_all(struct vdr_writer *w, const char *p, size_t n, size_t *done)
{
	size_t total = n;
	if (done != NULL)
		*done = 0;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) { /* a non-blocking stdout */
			struct pollfd pfd = { .fd = w->fd, .events = POLLOUT };
			poll(&pfd, 1, VDR_FILE_WAIT_MS);
			continue;
		}
		if (k <= 0) {
			w->errors++;
			w->failed = true;
			vdr_set_error(w->drv, "%s: write: %s", w->name,
				      k < 0 ? strerror(errno) : "no progress");
			w->bytes += total - n;
			return VDR_ERR;
		}
		p += k;
		n -= (size_t)k;
		if (done != NULL)
			*done += (size_t)k;
	}
	w->bytes += total;
	return 0;
}

/* After a failed write: the last @p cut bytes written are part of a line
 * that did not go out whole. A regular file is cut back to the end of the
 * last whole line (@return true); other output keeps them. */
static bool cut_back(struct vdr_writer *w, size_t cut)
{
	struct stat sb;
	if (cut == 0)
		return true;
	if (fstat(w->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return false;
	off_t end = lseek(w->fd, 0, SEEK_CUR);
	if (end < (off_t)cut || ftruncate(w->fd, end - (off_t)cut) != 0 ||
	    lseek(w->fd, end - (off_t)cut, SEEK_SET) < 0)
		return false;
	w->bytes -= cut;
	return true;
}

/* The whole lines of the first @p done bytes of the buffer. */
static size_t whole_lines(const char *p, size_t done, size_t *end)
{
	size_t n = 0, last = 0;
	const char *q = p, *stop = p + done;
	while (q < stop && (q = memchr(q, '\n', (size_t)(stop - q))) != NULL) {
		n++;
		q++;
		last = (size_t)(q - p);
	}
	*end = last;
	return n;
}

int vdr_writer_flush(struct vdr_writer *w)
{
	if (w->failed)
		return VDR_ERR;
	if (w->sink != VDR_SINK_FD || w->len == 0)
		return 0;
	size_t done;
	int rc = write_all(w, w->buf, w->len, &done);
	if (rc != 0) {
		/* the whole lines written went out; the others never did */
		size_t end, n = whole_lines(w->buf, done, &end);
		(void)cut_back(w, done - end);
		w->lost += w->buf_msgs - n;
		w->lost_taken += w->buf_msgs - n;
	}
	w->len = 0;
	w->buf_msgs = 0;
	return rc;
}

static void put_line(char *dst, const struct vdp_burst *b,
		     const struct vdp_out *o)
{
	const struct vdp_seg *s = b->segs + o->first_seg;
	for (unsigned k = 0; k < o->n_segs; k++) {
		memcpy(dst, s[k].p, s[k].len);
		dst += s[k].len;
	}
	*dst = '\n';
}

/* A line longer than the buffer, straight out. */
static int write_long(struct vdr_writer *w, const struct vdp_burst *b,
		      const struct vdp_out *o)
{
	const struct vdp_seg *s = b->segs + o->first_seg;
	if (vdr_writer_flush(w) != 0)
		return VDR_ERR;
	size_t done, all = 0;
	for (unsigned k = 0; k <= o->n_segs; k++) {
		bool lf = k == o->n_segs;
		if (write_all(w, lf ? "\n" : s[k].p, lf ? 1 : s[k].len, &done) != 0) {
			(void)cut_back(w, all + done);
			return VDR_ERR;
		}
		all += done;
	}
	return 0;
}

/* The burst's forwarded lines from @p i on never reached the output. */
static int lose_rest(struct vdr_writer *w, const struct vdp_burst *b, unsigned i)
{
	for (; i < b->n; i++)
		w->lost += b->line[i].verdict == VDP_FORWARD;
	return VDR_ERR;
}

static int grow(struct vdr_writer *w, size_t need)
{
	size_t cap = w->cap;
	while (cap - w->len < need)
		cap *= 2;
	char *nb = realloc(w->buf, cap);
	if (nb == NULL) {
		w->failed = true;
		w->errors++;
		vdr_set_error(w->drv, "%s: out of memory", w->name);
		return VDR_ERR;
	}
	w->buf = nb;
	w->cap = cap;
	return 0;
}

int vdr_writer_tx(struct vdr_writer *w, const struct vdp_burst *b)
{
	int sent = 0;
	if (w->failed)
		return lose_rest(w, b, 0);
	for (unsigned i = 0; i < b->n; i++) {
		const struct vdp_out *o = &b->line[i];
		if (o->verdict != VDP_FORWARD)
			continue;
		size_t need = (size_t)o->len + 1;
		switch (w->sink) {
		case VDR_SINK_FD:
			if (w->len + need > w->cap && vdr_writer_flush(w) != 0)
				return lose_rest(w, b, i);
			if (need > w->cap) {
				if (write_long(w, b, o) != 0)
					return lose_rest(w, b, i);
				break;
			}
			put_line(w->buf + w->len, b, o);
			w->len += need;
			w->buf_msgs++;
			break;
		case VDR_SINK_COLLECT:
			if (w->cap - w->len < need && grow(w, need) != 0)
				return lose_rest(w, b, i);
			put_line(w->buf + w->len, b, o);
			w->len += need;
			w->bytes += need;
			break;
		case VDR_SINK_COUNT:
			/* copied as a sending driver would, then forgotten */
			if (w->len + need > w->cap)
				w->len = 0;
			if (need <= w->cap) {
				put_line(w->buf + w->len, b, o);
				w->len += need;
			}
			w->bytes += need;
			break;
		}
		w->msgs++;
		sent++;
	}
	return sent;
}

void vdr_writer_stats(const struct vdr_writer *w, struct vdr_stats *st)
{
	st->tx_msgs = w->msgs - w->lost_taken - w->buf_msgs;
	st->tx_bytes = w->bytes;
	st->tx_errors = w->errors;
	st->tx_lost = w->lost;
}

void vdr_writer_fini(struct vdr_writer *w)
{
	if (w->own_fd && w->fd >= 0)
		close(w->fd);
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}
