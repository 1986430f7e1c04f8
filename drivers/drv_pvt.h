/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Internals shared by the drivers: the operations behind veil_driver.h, a
 * line reader over files and memory, and a buffered line writer. */
#ifndef VEIL_DRV_PVT_H
#define VEIL_DRV_PVT_H

#include <sys/types.h>
#include <time.h>

#include "veil_clock.h" /* veil_now(): timeouts, backoff, neighbour refresh */
#include "veil_driver.h"

struct vdr_ops {
	const char *name;
	int (*rx)(struct vdr_driver *d, struct vdp_line *lines, unsigned max);
	void (*rx_return)(struct vdr_driver *d, unsigned n);
	int (*tx)(struct vdr_driver *d, const struct vdp_burst *b);
	int (*flush)(struct vdr_driver *d);
	void (*stats)(const struct vdr_driver *d, struct vdr_stats *st);
	/* optional: the driver's own counters (vdr_xstats) */
	unsigned (*xstats)(const struct vdr_driver *d, const char **names,
			   uint64_t *vals, unsigned cap);
	/* optional: its upstreams and listeners (vdr_rows) */
	unsigned (*rows)(const struct vdr_driver *d, struct vdr_row *rows,
			 unsigned cap);
	/* optional: lines kept until released (vdr_rx_keep) */
	bool (*keep)(struct vdr_driver *d);
	uint64_t (*kept)(const struct vdr_driver *d);
	void (*release)(struct vdr_driver *d, uint64_t mark);
	void (*free)(struct vdr_driver *d);
};

/* Every driver starts with this. */
struct vdr_driver {
	const struct vdr_ops *ops;
	char err[256];
};

void vdr_set_error(struct vdr_driver *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The longest a file driver waits in vdr_rx() for a pipe or a terminal,
 * and in a write for a full non-blocking stdout (ms). */
#define VDR_FILE_WAIT_MS 100

/* ---- the line reader (reader.c) ---- */

/* Bytes framed at a time: a mapped input is fed up to its last line end
 * within this many bytes, so that lines are delivered in place. */
#define DRV_CHUNK (256u * 1024u)

struct vdr_input {
	char name[256];     /* the path, for messages */
	uint16_t src;
	int fd;             /* -1: memory, or closed */
	const char *map;    /* the whole input when mapped (mmap or memory) */
	size_t size;        /* bytes of map */
	bool mmapped;       /* map is ours to munmap */
	bool is_stdin;
	bool regular;
	dev_t dev;          /* files: to refuse an output that is an input */
	ino_t ino;
	size_t pos;         /* next byte of map to feed */
	bool started;
	char last;          /* the last byte fed */
	uint64_t fed;       /* bytes fed from this input */
};

struct vdr_reader {
	struct vdr_driver *drv;   /* for errors */
	struct vdr_input *in;
	unsigned n_in, cur;
	uint64_t loops;           /* passes over all inputs left (memory) */
	uint64_t loops_total;     /* passes in all */
	struct vdp_framer *fr;
	size_t max_msg;
	char *buf;                /* read path: the block read into (DRV_CHUNK
				     bytes): scratch, or one of blk[] */
	char *scratch;            /* the block of the copying mode */
	size_t buf_len;           /* bytes in buf */
	bool buf_fed;             /* lines of buf were handed out */
	/* keep mode (vdr_rx_keep): the blocks lines were handed out from
	 * stay as they are until released; blk_mark[i] is the mark of the
	 * last lines handed out from blk[i] (0: none) */
	bool keep;
	char **blk;
	uint64_t *blk_mark;
	unsigned n_blk;
	int cur_blk;              /* buf's index in blk[], or -1 (scratch) */
	uint64_t mark_seq;        /* the last mark given */
	uint64_t pend_mark;       /* the mark of the lines in pend, 0: not kept */
	uint64_t released;        /* lines of marks below it are not in use */
	int feed_blk;             /* the block this refill's lines are in: an
				     index in blk[], -1 scratch, -2 memory */
	size_t carry_off;         /* an unterminated tail kept for the next read */
	size_t carry_len;
	char *copy;               /* messages the framer assembled */
	size_t copy_cap, copy_used;
	const char *feed_lo, *feed_hi;
	uint16_t feed_src;
	struct vdp_line *pend;
	size_t pend_cap, pend_n, pend_pos;
	unsigned last_rx;         /* messages handed out by the last rx */
	uint64_t msgs, bytes, size, unterminated, errors, done, lost;
	bool eof;
};

int vdr_reader_init(struct vdr_reader *r, struct vdr_driver *drv,
		    size_t max_msg);
/* Open and check an input (a path or "-"); for messages, no content. */
int vdr_reader_open(struct vdr_reader *r, const char *path, uint16_t src);
int vdr_reader_add_mem(struct vdr_reader *r, const char *buf, size_t len,
		       uint16_t src);
int vdr_reader_rx(struct vdr_reader *r, struct vdp_line *lines, unsigned max);
void vdr_reader_return(struct vdr_reader *r, unsigned n);
bool vdr_reader_keep(struct vdr_reader *r);
uint64_t vdr_reader_kept(const struct vdr_reader *r);
void vdr_reader_release(struct vdr_reader *r, uint64_t mark);
void vdr_reader_stats(const struct vdr_reader *r, struct vdr_stats *st);
void vdr_reader_fini(struct vdr_reader *r);

/* ---- the line writer (writer.c) ---- */

enum vdr_sink { VDR_SINK_FD, VDR_SINK_COLLECT, VDR_SINK_COUNT };

struct vdr_writer {
	struct vdr_driver *drv;
	enum vdr_sink sink;
	int fd;
	bool own_fd;
	char name[256];
	char *buf;
	size_t cap, len;
	size_t buf_msgs;          /* lines in buf */
	uint64_t msgs;            /* lines taken by tx */
	uint64_t bytes;           /* bytes written (fd), or taken (memory) */
	uint64_t lost;            /* lines taken, or refused, that a failed
				     write kept from the output */
	uint64_t lost_taken;      /* of those, the ones taken */
	uint64_t errors;
	bool failed;
};

int vdr_writer_init(struct vdr_writer *w, struct vdr_driver *drv,
		    enum vdr_sink sink, int fd, bool own_fd, const char *name);
int vdr_writer_tx(struct vdr_writer *w, const struct vdp_burst *b);
int vdr_writer_flush(struct vdr_writer *w);
void vdr_writer_stats(const struct vdr_writer *w, struct vdr_stats *st);
void vdr_writer_fini(struct vdr_writer *w);

#endif
