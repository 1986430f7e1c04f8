/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's run: the state main() builds and tears down, shared
 * with its parts:
 *   veil_dataplane.c  main(): set-up, the topologies, one cleanup path
 *   dpd_options.c     the options after "--" (and the usage text)
 *   dpd_eal.c         the EAL's arguments and its start
 *   dpd_telemetry.c   DPDK telemetry: /veil/counters, /veil/workers, ...
 *   dpd_summary.c     progress on a terminal, the final summary
 *   dpd_privdrop.c    the drop to its own user once the ports are up
 *   dpd_notify.c      systemd: READY=1, WATCHDOG=1 while workers progress
 * Not for the worker loop, which is a library (dpd_pvt.h).
 */
#ifndef VEIL_DPD_RUN_H
#define VEIL_DPD_RUN_H

#include <stdio.h>

#include "dpd_pvt.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define VDD_HOUSEKEEPING_US 2000 /* the main lcore's pause between rounds of
				    housekeeping while the workers run */
#define VDD_TELEMETRY_S 0.05     /* telemetry's copy of the key table and link */
#define VDD_PROGRESS_S 1.0       /* the progress line on a terminal */

/* The worker loops' shared state (keys, counters, stop), one per process. */
extern struct vdd_shared vdd_sh;

struct vdd_run {
	struct vdd_config cfg;
	struct vdd_keys *keys;
	/* the worker loops: one (the worker, or the distributor of the
	 * lanes below), or one per lane with a queue pair each */
	unsigned n_loops;
	struct vdd_worker *loop[VDD_MAX_WORKERS];
	struct vdp_worker *pipe;
	struct veil_engine *engine;
	/* two or more worker lcores: one pipeline and engine each */
	unsigned n_lanes;
	unsigned lane_lcore[VDD_MAX_WORKERS];
	struct vdp_worker *lane_pipe[VDD_MAX_WORKERS];
	struct veil_engine *lane_engine[VDD_MAX_WORKERS];
	/* the dpdk driver with two or more: a queue pair and a whole
	 * worker loop each, no distributor */
	bool per_queue;
	struct vdd_pool *pool;
	struct vdr_driver *drv;
	const char *out_path;
	bool json, progress, from_stdin, help;
	bool explain;   /* --explain: the preview, no key, nothing forwarded */
	bool network; /* network mode: [network] and no --in */
	double t0, t1, next_progress, next_tel;
	bool progress_shown;
	/* the command line: "--" at argv[dd] (has_dd), ours after it, the
	 * EAL's before it (eargv: with its defaults) */
	bool has_dd;
	int dd;
	char **vargv, **eargv;
	bool dpdk;      /* network mode with the dpdk driver */
	bool eal_up;    /* rte_eal_init() succeeded: rte_eal_cleanup() */
	bool aborted;   /* the workers could not all start: no summary */
	struct veil_engine_opts eo;
	struct vdr_file_input *fin;
	struct vdp_source **srcs;
};

struct vdd_totals {
	struct vdp_counters sum;
	struct vdr_stats st;
	uint64_t in, out, dropped, held, oversize;
	uint64_t not_written; /* the output lost them, or they were read
				 after it failed */
	uint64_t *tenant_nokey;
};

/* dpd_options.c */
extern const char vdd_usage_text[];
int vdd_parse_options(struct vdd_run *r, int argc, char **argv, bool *check,
		      bool eal_hint, char *err, size_t errlen);
int vdd_split_args(int argc, char **argv, int *dd);

/* dpd_explain.c: the --explain preview of the inputs. @return the exit status. */
int vdd_explain(struct vdd_run *r);

/* dpd_eal.c */
/** Start the EAL with the user's options (before "--") or the snapshot
 *  defaults. @return -1 to go on, or the exit status (a message printed). */
int vdd_eal_start(struct vdd_run *r, int argc, char **argv);

/* dpd_privdrop.c */
/** Become cfg's user (when it has one) with no capability, NO_NEW_PRIVS,
 *  its spools handed over; every thread checked. @return 0, or -1 with a
 *  message (the process must not go on). */
int vdd_privdrop(const struct vdd_config *c, char *err, size_t errlen);

/* dpd_notify.c: systemd's notification socket (nothing without one) */
/** READY=1 and the first STATUS=; reads WATCHDOG_USEC. */
void vdd_notify_ready(const struct vdd_run *r);
/** From the housekeeping: WATCHDOG=1 while every worker loop goes round,
 *  STATUS= every second. */
void vdd_notify_poll(const struct vdd_run *r);
void vdd_notify_stopping(const struct vdd_run *r);

/* dpd_telemetry.c */
void vdd_telemetry_publish(const struct vdd_run *r);
void vdd_telemetry_register(void);

/* dpd_summary.c */
void vdd_progress(struct vdd_run *r, bool end);
void vdd_totals(struct vdd_run *r, struct vdd_totals *t);
void vdd_summary_text(struct vdd_run *r, const struct vdd_totals *t, double secs,
		      const char *error);
void vdd_summary_json(struct vdd_run *r, const struct vdd_totals *t, double secs,
		      const char *error, int status);

#endif
