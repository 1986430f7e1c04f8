/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The file driver (snapshot mode): one or more files, or stdin, in, read
 * one after the other in blocks and framed as lines; the anonymized lines
 * out to a file or stdout. See reader.c and writer.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drv_pvt.h"

struct file_drv {
	struct vdr_driver base;
	struct vdr_reader rd;
	struct vdr_writer wr;
};

static struct file_drv *fd_of(struct vdr_driver *d)
{
	return (struct file_drv *)d;
}

static int file_rx(struct vdr_driver *d, struct vdp_line *lines, unsigned max)
{
	return vdr_reader_rx(&fd_of(d)->rd, lines, max);
}

static void file_rx_return(struct vdr_driver *d, unsigned n)
{
	vdr_reader_return(&fd_of(d)->rd, n);
}

static bool file_keep(struct vdr_driver *d)
{
	return vdr_reader_keep(&fd_of(d)->rd);
}

static uint64_t file_kept(const struct vdr_driver *d)
{
	return vdr_reader_kept(&((const struct file_drv *)d)->rd);
}

static void file_release(struct vdr_driver *d, uint64_t mark)
{
	vdr_reader_release(&fd_of(d)->rd, mark);
}

static int file_tx(struct vdr_driver *d, const struct vdp_burst *b)
{
	return vdr_writer_tx(&fd_of(d)->wr, b);
}

static int file_flush(struct vdr_driver *d)
{
	return vdr_writer_flush(&fd_of(d)->wr);
}

static void file_stats(const struct vdr_driver *d, struct vdr_stats *st)
{
	const struct file_drv *f = (const struct file_drv *)d;
	vdr_reader_stats(&f->rd, st);
	vdr_writer_stats(&f->wr, st);
}

static void file_free(struct vdr_driver *d)
{
	struct file_drv *f = fd_of(d);
	vdr_reader_fini(&f->rd);
	vdr_writer_fini(&f->wr);
	free(f);
}

static const struct vdr_ops file_ops = {
	.name = "file",
	.rx = file_rx,
	.rx_return = file_rx_return,
	.tx = file_tx,
	.flush = file_flush,
	.stats = file_stats,
	.keep = file_keep,
	.kept = file_kept,
	.release = file_release,
	.free = file_free,
};

/* Open the output; refuse one that is also an input (truncating it would
 * destroy the data being read). */
static int open_output(struct file_drv *f, const char *out)
{
	struct stat st;
	if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
		for (unsigned i = 0; i < f->rd.n_in; i++)
			if (f->rd.in[i].regular && f->rd.in[i].dev == st.st_dev &&
			    f->rd.in[i].ino == st.st_ino) {
				vdr_set_error(&f->base, "%s: the output is also an "
					      "input", out);
				errno = EINVAL;
				return -1;
			}
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		vdr_set_error(&f->base, "%s: %s", out, strerror(errno));
		return -1;
	}
	return fd;
}

struct vdr_driver *vdr_file_new(const struct vdr_file_input *in, unsigned n,
				const char *out, size_t max_msg, char *err,
				size_t errlen)
{
	struct file_drv *f = calloc(1, sizeof(*f));
	int e = 0;

	if (f == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	f->base.ops = &file_ops;
	f->wr.fd = -1;
	if (n == 0 || in == NULL) {
		snprintf(f->base.err, sizeof(f->base.err), "no input");
		e = EINVAL;
		goto fail;
	}
	if (vdr_reader_init(&f->rd, &f->base, max_msg) != 0) {
		e = errno;
		snprintf(f->base.err, sizeof(f->base.err), "maximum message size "
			 "%zu: %s", max_msg, strerror(e));
		goto fail;
	}
	for (unsigned i = 0; i < n; i++)
		if (vdr_reader_open(&f->rd, in[i].path, in[i].src) != 0) {
			e = errno;
			goto fail;
		}
	bool to_stdout = out == NULL || strcmp(out, "-") == 0;
	int ofd = to_stdout ? STDOUT_FILENO : open_output(f, out);
	if (ofd < 0) {
		e = errno;
		goto fail;
	}
	if (vdr_writer_init(&f->wr, &f->base, VDR_SINK_FD, ofd, !to_stdout,
			    to_stdout ? "stdout" : out) != 0) {
		e = errno;
		if (!to_stdout)
			close(ofd);
		snprintf(f->base.err, sizeof(f->base.err), "out of memory");
		goto fail;
	}
	return &f->base;
fail:
	snprintf(err, errlen, "%s", f->base.err);
	vdr_reader_fini(&f->rd);
	vdr_writer_fini(&f->wr);
	free(f);
	errno = e;
	return NULL;
}
