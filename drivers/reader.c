/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The line reader of the file and mem drivers: inputs one after the other,
 * framed with vdp_framer in VDP_FRAME_FILE mode.
 *
 * Lines are handed out in place wherever they can be: a file is read in
 * blocks of DRV_CHUNK bytes and only the part up to the block's last line
 * end is framed (the tail waits for the next block, moved to the front of
 * the buffer only once every line of the block was handed out); a memory
 * input is framed in pieces that end at a line end. The framer assembles
 * only a line longer than a block, and the last line of an input when it
 * has no line end: those are copied into a small arena of the reader.
 *
 * Each refill frames at most one block, so it yields at most DRV_CHUNK / 2
 * lines (a line is at least one byte and its LF; empty lines are skipped)
 * and at most two assembled ones: the line table and the arena are sized
 * once, and no line is ever lost for want of room.
 *
 * Keep mode (vdr_rx_keep(), for a caller that hands lines to other
 * threads): a block lines were handed out from is not read into again
 * until the caller released their mark; the next read goes to another
 * block (the unterminated tail copied over), up to KEEP_BLOCKS of them.
 * With none free, the reader reads into its scratch block, as in the
 * copying mode, and those lines have no mark (the caller copies them); so
 * do lines the framer assembled.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drv_pvt.h"

#define MAX_INPUTS 65536
#define KEEP_BLOCKS 64 /* keep mode: 16 MiB of blocks at most */

int vdr_reader_init(struct vdr_reader *r, struct vdr_driver *drv,
		    size_t max_msg)
{
	memset(r, 0, sizeof(*r));
	r->drv = drv;
	r->loops = r->loops_total = 1;
	r->max_msg = max_msg;
	r->cur_blk = -1;
	r->released = 1; /* marks start at 1 */
	r->fr = vdp_framer_new(VDP_FRAME_FILE, max_msg);
	if (r->fr == NULL)
		return -1;
	r->copy_cap = 2 * max_msg;
	r->copy = malloc(r->copy_cap);
	r->pend_cap = DRV_CHUNK / 2 + 8;
	r->pend = calloc(r->pend_cap, sizeof(*r->pend));
	if (r->copy == NULL || r->pend == NULL) {
		vdr_reader_fini(r);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static struct vdr_input *new_input(struct vdr_reader *r)
{
	if (r->n_in == MAX_INPUTS) {
		errno = E2BIG;
		return NULL;
	}
	struct vdr_input *in = realloc(r->in, (r->n_in + 1) * sizeof(*in));
	if (in == NULL)
		return NULL;
	r->in = in;
	in = &r->in[r->n_in];
	memset(in, 0, sizeof(*in));
	in->fd = -1;
	return in;
}

int vdr_reader_open(struct vdr_reader *r, const char *path, uint16_t src)
{
	struct stat st;
	bool is_stdin = strcmp(path, "-") == 0;

	for (unsigned i = 0; is_stdin && i < r->n_in; i++)
		if (r->in[i].is_stdin) {
			vdr_set_error(r->drv, "stdin (-) given twice as an input");
			errno = EINVAL;
			return -1;
		}
	struct vdr_input *in = new_input(r);
	if (in == NULL) {
		vdr_set_error(r->drv, "%s: %s", path, strerror(errno));
		return -1;
	}
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		vdr_set_error(r->drv, "%s: %s", path, strerror(e));
		if (fd >= 0 && !is_stdin)
			close(fd);
		errno = e;
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		vdr_set_error(r->drv, "%s: is a directory", path);
		if (!is_stdin)
			close(fd);
		errno = EISDIR;
		return -1;
	}
	snprintf(in->name, sizeof(in->name), "%s", is_stdin ? "stdin" : path);
	in->fd = fd;
	in->src = src;
	in->is_stdin = is_stdin;
	in->regular = S_ISREG(st.st_mode);
	in->dev = st.st_dev;
	in->ino = st.st_ino;
	if (in->regular) {
		r->size += (uint64_t)st.st_size;
		/* read once, front to back: twice the read-ahead for a
		 * file that is not in the page cache */
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	r->n_in++;
	return 0;
}

int vdr_reader_add_mem(struct vdr_reader *r, const char *buf, size_t len,
		       uint16_t src)
{
	struct vdr_input *in = new_input(r);
	if (in == NULL)
		return -1;
	snprintf(in->name, sizeof(in->name), "memory #%u", r->n_in);
	in->map = buf;
	in->size = len;
	in->src = src;
	in->regular = true;
	r->size += len;
	r->n_in++;
	return 0;
}

/* A message from the framer: in place, or copied when the framer
 * assembled it in its own buffer (valid during this call only). */
static void on_msg(void *arg, const char *msg, size_t len)
{
	struct vdr_reader *r = arg;
	uintptr_t p = (uintptr_t)msg;

	if (r->pend_n == r->pend_cap) {
		r->lost++; /* cannot happen: see the sizes above */
		return;
	}
	if (r->feed_lo == NULL || p < (uintptr_t)r->feed_lo ||
	    p + len > (uintptr_t)r->feed_hi) {
		if (r->copy_used + len > r->copy_cap) {
			r->lost++; /* cannot happen either */
			return;
		}
		memcpy(r->copy + r->copy_used, msg, len);
		msg = r->copy + r->copy_used;
		r->copy_used += len;
	}
	r->pend[r->pend_n++] = (struct vdp_line){ .data = msg,
						  .len = (uint32_t)len,
						  .src = r->feed_src };
}

static void feed(struct vdr_reader *r, struct vdr_input *in, const char *p,
		 size_t n)
{
	if (n == 0)
		return;
	r->feed_lo = p;
	r->feed_hi = p + n;
	r->feed_src = in->src;
	vdp_framer_feed(r->fr, p, n, on_msg, r); /* file framing never fails */
	r->feed_lo = r->feed_hi = NULL;
	r->bytes += n;
	in->fed += n;
	in->last = p[n - 1];
}

/* End of an input: its last unterminated line comes out of the framer. */
static void finish(struct vdr_reader *r, struct vdr_input *in)
{
	r->feed_src = in->src;
	vdp_framer_finish(r->fr, on_msg, r);
	if (in->fed > 0 && in->last != '\n')
		r->unterminated++;
	if (in->fd >= 0 && !in->is_stdin && in->map == NULL) {
		close(in->fd);
		in->fd = -1;
	}
	r->done++;
	r->cur++;
}

/* The first @p n bytes of the block read into. */
static void feed_buf(struct vdr_reader *r, struct vdr_input *in, size_t n)
{
	if (n == 0)
		return;
	feed(r, in, r->buf, n);
	r->buf_fed = true;
	r->feed_blk = r->cur_blk;
}

/* Keep mode: a block to read into, other than buf, whose lines were all
 * released (or a new one); else the scratch block (@p idx -1). */
static char *free_block(struct vdr_reader *r, int *idx)
{
	for (unsigned i = 0; i < r->n_blk; i++)
		if ((int)i != r->cur_blk && r->blk_mark[i] < r->released) {
			*idx = (int)i;
			return r->blk[i];
		}
	*idx = -1;
	if (r->n_blk == KEEP_BLOCKS)
		return r->scratch;
	char **b = realloc(r->blk, (r->n_blk + 1) * sizeof(*b));
	if (b == NULL)
		return r->scratch;
	r->blk = b;
	uint64_t *m = realloc(r->blk_mark, (r->n_blk + 1) * sizeof(*m));
	if (m == NULL)
		return r->scratch;
	r->blk_mark = m;
	if ((b[r->n_blk] = malloc(DRV_CHUNK)) == NULL)
		return r->scratch;
	m[r->n_blk] = 0;
	*idx = (int)r->n_blk++;
	return b[*idx];
}

/* One block of a file or pipe. @return 0 to go on, 1 when nothing is
 * there yet (a pipe). */
static int read_block(struct vdr_reader *r, struct vdr_input *in)
{
	if (r->buf_fed) {
		/* lines were handed out from buf: a kept block stays as it is,
		 * the tail goes to the front of the next one */
		int idx = -1;
		char *nb = r->keep ? free_block(r, &idx) : r->buf;
		if (nb != r->buf)
			memcpy(nb, r->buf + r->carry_off, r->carry_len);
		else if (r->carry_len > 0)
			memmove(nb, nb + r->carry_off, r->carry_len);
		r->buf = nb;
		r->cur_blk = idx;
		r->buf_len = r->carry_len;
		r->carry_len = 0;
		r->buf_fed = false;
	}
	if (!in->regular) {
		struct pollfd pfd = { .fd = in->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, VDR_FILE_WAIT_MS);
		if (pr == 0 || (pr < 0 && errno == EINTR))
			return 1;
	}
	ssize_t n = read(in->fd, r->buf + r->buf_len, DRV_CHUNK - r->buf_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		if (n < 0) {
			r->errors++;
			vdr_set_error(r->drv, "%s: read: %s", in->name,
				      strerror(errno));
		}
		feed_buf(r, in, r->buf_len);
		r->buf_len = 0;
		finish(r, in);
		return 0;
	}
	r->buf_len += (size_t)n;
	const char *lf = memrchr(r->buf, '\n', r->buf_len);
	if (lf != NULL) {
		size_t k = (size_t)(lf - r->buf) + 1;
		feed_buf(r, in, k);
		r->carry_off = k;
		r->carry_len = r->buf_len - k;
		r->buf_len = 0;
	} else if (r->buf_len == DRV_CHUNK) {
		/* a line longer than a block: the framer assembles it */
		feed_buf(r, in, r->buf_len);
		r->buf_len = 0;
	}
	return 0;
}

/* Frame the next piece of input. @return 1 with lines, 0 nothing now,
 * VDR_EOF. */
static int refill_lines(struct vdr_reader *r)
{
	r->pend_n = r->pend_pos = 0;
	r->copy_used = 0;
	r->feed_blk = -1;
	while (r->pend_n == 0) {
		if (r->cur == r->n_in) {
			if (r->loops <= 1 || r->n_in == 0) {
				r->eof = true;
				return VDR_EOF;
			}
			r->loops--;
			r->cur = 0;
			for (unsigned i = 0; i < r->n_in; i++) {
				r->in[i].pos = 0;
				r->in[i].fed = 0;
			}
			continue;
		}
		struct vdr_input *in = &r->in[r->cur];
		if (in->map != NULL || in->fd < 0) {
			if (in->pos == in->size) {
				finish(r, in);
				continue;
			}
			size_t n = in->size - in->pos;
			if (n > DRV_CHUNK) {
				n = DRV_CHUNK;
				const char *lf = memrchr(in->map + in->pos, '\n', n);
				if (lf != NULL)
					n = (size_t)(lf - (in->map + in->pos)) + 1;
			}
			feed(r, in, in->map + in->pos, n);
			r->feed_blk = -2; /* memory: it stays */
			in->pos += n;
			continue;
		}
		if (r->scratch == NULL) {
			if ((r->scratch = malloc(DRV_CHUNK)) == NULL) {
				vdr_set_error(r->drv, "out of memory");
				return VDR_ERR;
			}
			r->buf = r->scratch;
			if (r->keep) /* the first lines kept too */
				r->buf = free_block(r, &r->cur_blk);
		}
		if (read_block(r, in) == 1)
			return r->pend_n > 0 ? 1 : 0;
	}
	return 1;
}

static int refill(struct vdr_reader *r)
{
	int rc = refill_lines(r);
	/* the mark of these lines: kept where they are until released */
	if (rc <= 0 || !r->keep || r->copy_used > 0 || r->feed_blk == -1) {
		r->pend_mark = 0;
		return rc;
	}
	r->pend_mark = ++r->mark_seq;
	if (r->feed_blk >= 0)
		r->blk_mark[r->feed_blk] = r->pend_mark;
	return rc;
}

int vdr_reader_rx(struct vdr_reader *r, struct vdp_line *lines, unsigned max)
{
	r->last_rx = 0;
	if (r->pend_pos == r->pend_n) {
		if (r->eof)
			return VDR_EOF;
		int rc = refill(r);
		if (rc <= 0)
			return rc;
	}
	size_t k = r->pend_n - r->pend_pos;
	if (k > max)
		k = max;
	memcpy(lines, r->pend + r->pend_pos, k * sizeof(*lines));
	r->pend_pos += k;
	r->msgs += k;
	r->last_rx = (unsigned)k;
	return (int)k;
}

void vdr_reader_return(struct vdr_reader *r, unsigned n)
{
	if (n > r->last_rx)
		n = r->last_rx;
	r->pend_pos -= n;
	r->msgs -= n;
	r->last_rx -= n;
}

bool vdr_reader_keep(struct vdr_reader *r)
{
	r->keep = true;
	return true;
}

uint64_t vdr_reader_kept(const struct vdr_reader *r)
{
	return r->pend_mark;
}

void vdr_reader_release(struct vdr_reader *r, uint64_t mark)
{
	if (mark > r->released)
		r->released = mark;
}

void vdr_reader_stats(const struct vdr_reader *r, struct vdr_stats *st)
{
	const struct vdp_framer_stats *fs = vdp_framer_stats(r->fr);
	st->rx_msgs = r->msgs;
	st->rx_bytes = r->bytes;
	st->rx_size = r->size * r->loops_total;
	st->rx_oversize = fs->oversize + r->lost;
	st->rx_unterminated = r->unterminated;
	st->rx_errors = r->errors;
	st->rx_inputs_done = r->done;
}

void vdr_reader_fini(struct vdr_reader *r)
{
	for (unsigned i = 0; i < r->n_in; i++)
		if (r->in[i].fd >= 0 && !r->in[i].is_stdin && r->in[i].map == NULL)
			close(r->in[i].fd);
	free(r->in);
	vdp_framer_free(r->fr);
	free(r->copy);
	free(r->pend);
	free(r->scratch);
	for (unsigned i = 0; i < r->n_blk; i++) {
		explicit_bzero(r->blk[i], DRV_CHUNK); /* names, for longer */
		free(r->blk[i]);
	}
	free(r->blk);
	free(r->blk_mark);
	memset(r, 0, sizeof(*r));
}
