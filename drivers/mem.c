/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The in-memory driver, for tests and benchmarks: buffers of lines in
 * (framed exactly as files are, in place), the output collected in memory
 * or copied into a scratch buffer and counted.
 */
#include <errno.h>
#include <stdlib.h>

#include "drv_pvt.h"

struct mem_drv {
	struct vdr_driver base;
	struct vdr_reader rd;
	struct vdr_writer wr;
	bool started;
};

static struct mem_drv *md_of(struct vdr_driver *d)
{
	return (struct mem_drv *)d;
}

static int mem_rx(struct vdr_driver *d, struct vdp_line *lines, unsigned max)
{
	md_of(d)->started = true;
	return vdr_reader_rx(&md_of(d)->rd, lines, max);
}

static void mem_rx_return(struct vdr_driver *d, unsigned n)
{
	vdr_reader_return(&md_of(d)->rd, n);
}

static bool mem_keep(struct vdr_driver *d)
{
	return vdr_reader_keep(&md_of(d)->rd);
}

static uint64_t mem_kept(const struct vdr_driver *d)
{
	return vdr_reader_kept(&((const struct mem_drv *)d)->rd);
}

static void mem_release(struct vdr_driver *d, uint64_t mark)
{
	vdr_reader_release(&md_of(d)->rd, mark);
}

static int mem_tx(struct vdr_driver *d, const struct vdp_burst *b)
{
	return vdr_writer_tx(&md_of(d)->wr, b);
}

static int mem_flush(struct vdr_driver *d)
{
	return vdr_writer_flush(&md_of(d)->wr);
}

static void mem_stats(const struct vdr_driver *d, struct vdr_stats *st)
{
	const struct mem_drv *m = (const struct mem_drv *)d;
	vdr_reader_stats(&m->rd, st);
	vdr_writer_stats(&m->wr, st);
}

static void mem_free(struct vdr_driver *d)
{
	struct mem_drv *m = md_of(d);
	vdr_reader_fini(&m->rd);
	vdr_writer_fini(&m->wr);
	free(m);
}

static const struct vdr_ops mem_ops = {
	.name = "mem",
	.rx = mem_rx,
	.rx_return = mem_rx_return,
	.tx = mem_tx,
	.flush = mem_flush,
	.stats = mem_stats,
	.keep = mem_keep,
	.kept = mem_kept,
	.release = mem_release,
	.free = mem_free,
};

struct vdr_driver *vdr_mem_new(size_t max_msg, bool collect)
{
	struct mem_drv *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->base.ops = &mem_ops;
	if (vdr_reader_init(&m->rd, &m->base, max_msg) != 0 ||
	    vdr_writer_init(&m->wr, &m->base,
			    collect ? VDR_SINK_COLLECT : VDR_SINK_COUNT, -1, false,
			    "memory") != 0) {
		int e = errno;
		vdr_reader_fini(&m->rd);
		vdr_writer_fini(&m->wr);
		free(m);
		errno = e;
		return NULL;
	}
	return &m->base;
}

int vdr_mem_add(struct vdr_driver *d, const char *buf, size_t len,
		uint16_t src)
{
	if (d->ops != &mem_ops || (buf == NULL && len > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (md_of(d)->started) {
		errno = EBUSY;
		return -1;
	}
	return vdr_reader_add_mem(&md_of(d)->rd, buf, len, src);
}

void vdr_mem_set_loops(struct vdr_driver *d, uint64_t loops)
{
	if (d->ops == &mem_ops)
		md_of(d)->rd.loops = md_of(d)->rd.loops_total = loops > 0 ? loops : 1;
}

const char *vdr_mem_output(const struct vdr_driver *d, size_t *len)
{
	const struct mem_drv *m = (const struct mem_drv *)d;
	if (d->ops != &mem_ops || m->wr.sink != VDR_SINK_COLLECT) {
		*len = 0;
		return NULL;
	}
	*len = m->wr.len;
	return m->wr.buf;
}
