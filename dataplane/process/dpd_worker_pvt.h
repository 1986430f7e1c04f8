/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The worker loop's state, shared by its two files: dpd_worker.c (the
 * loop, the hold queue) and dpd_pool.c (two or more workers: the
 * distributor, the lanes, the reorder step). Private to dataplane/process/.
 */
#ifndef VEIL_DPD_WORKER_PVT_H
#define VEIL_DPD_WORKER_PVT_H

#include "dpd_pvt.h"

#define WAIT_US 1000     /* a worker that cannot go on: a key, room, a lane */
#define SPIN_SLEEP_US 50 /* a lane or distributor spinning long: sleep */
#define STOP_DRAIN_S 1.0 /* network mode at a stop: reading what was sent, at most */

struct held {
	uint64_t off;
	uint32_t len;
	uint16_t src;
	bool taken;  /* per-source order: gone from the middle of the queue */
};

struct vdd_worker {
	struct vdd_shared *sh;
	struct vdp_worker *w;
	struct vdr_driver *drv;
	unsigned n_src;
	const struct veil_key **key; /* by source, as given to the pipeline */
	double *wait_since;          /* by source: without a key since */
	double wait_keys;
	struct vdd_keytab *seen;
	double now, next_pub, next_hk;
	void (*hk)(void *);
	void *hk_arg;
	/* the hold queue: a ring of entries, their bytes in one arena */
	struct held *q;
	unsigned q_cap, q_head, q_n; /* q_n entries, taken ones included */
	unsigned q_live;             /* lines held (not taken) */
	bool per_source;             /* order kept per source only */
	unsigned *held_n;            /* per source: its lines held */
	bool rescan;                 /* per source: something may go now */
	double next_deadline;        /* per source: the next wait_keys end */
	struct vdp_line go[VDP_BURST_MAX];
	char *arena;
	size_t a_cap, a_head, a_tail, a_high;
	struct vdp_line lines[VDP_BURST_MAX];
	struct vdp_burst out;
	struct vdd_pool *pool;       /* two or more workers, or NULL */
	int slot;                    /* a queue pair per worker: its index */
	bool tx_failed;              /* the output failed: nothing more goes */
	uint64_t abandoned;          /* lines read, then not processed because
				        the output had failed: not written */
	char err[256];
};

/* dpd_worker.c, for the lanes: a pipeline's counters added into @p t */
void vdd_add_pipeline(uint64_t *t, const struct vdp_worker *w, unsigned n);

/* dpd_pool.c, for the loop */
int vdd_pool_submit(struct vdd_pool *p, const struct vdp_line *in, unsigned n,
		    bool from_rx);
int vdd_pool_complete(struct vdd_pool *p, bool all);
void vdd_pool_ack(struct vdd_pool *p);
void vdd_pool_counters(struct vdd_pool *p, uint64_t *t, const struct vdr_stats *st,
		       unsigned held, uint64_t abandoned);

#endif
