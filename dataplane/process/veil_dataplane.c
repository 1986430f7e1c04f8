/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane: the anonymizer process. DPDK's EAL first, then its own
 * options; one worker on a worker lcore (or on the main lcore when there
 * is no other) runs rx -> vdp_process_burst -> tx over a driver; with two
 * or more worker lcores, one worker on each and the main lcore reads,
 * distributes the bursts and writes them back in order (vdd_pool). The
 * main lcore keeps the link to veil-controld (keys down, counters up) and
 * prints progress. Snapshot mode drives the file driver; network mode (a
 * [network] section in the config file, no --in) the socket or the dpdk
 * driver until SIGTERM. docs/dataplane-process.md and docs/network.md
 * describe it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "dpd_run.h"

struct vdd_shared vdd_sh = { .rows_lock = PTHREAD_MUTEX_INITIALIZER };

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&vdd_sh.stop, true);
}

/* ---- the main lcore's part while the workers run ---- */

static void housekeeping(void *arg)
{
	struct vdd_run *r = arg;
	vdd_keys_poll(r->keys, false);
	vdd_notify_poll(r);
	vdd_progress(r, false);
	double now = veil_now();
	if (now >= r->next_tel) {
		vdd_telemetry_publish(r);
		r->next_tel = now + VDD_TELEMETRY_S;
	}
}

static int worker_main(void *arg)
{
	return vdd_worker_run(arg) == 0 ? 0 : -1;
}

struct lane_arg {
	struct vdd_pool *pool;
	unsigned idx;
};

static int lane_main(void *arg)
{
	struct lane_arg *a = arg;
	return vdd_pool_lane_run(a->pool, a->idx);
}

/* ---- options ---- */

/* Our options first: -h and -n need no EAL. @return -1 to go on, or the
 * exit status. */
static int options(struct vdd_run *r, int argc, char **argv)
{
	char err[512] = "";
	bool check = false;
	r->has_dd = vdd_split_args(argc, argv, &r->dd);
	int vfirst = r->has_dd ? r->dd + 1 : 1;
	int vargc = argc - vfirst + 1;
	char **vargv = r->vargv = calloc((size_t)vargc + 1, sizeof(char *));
	if (vargv == NULL)
		return EXIT_FAILED;
	vargv[0] = argv[0];
	for (int i = vfirst; i < argc; i++)
		vargv[i - vfirst + 1] = argv[i];

	if (vdd_parse_options(r, vargc, vargv, &check, !r->has_dd, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "veil-dataplane: %s\n(veil-dataplane --help for the "
			"options)\n", err);
		return EXIT_USAGE;
	}
	if (r->help) {
		fputs(vdd_usage_text, stdout);
		return EXIT_OK;
	}
	if (r->cfg.hold_bytes < 2 * r->cfg.max_message)
		r->cfg.hold_bytes = 2 * r->cfg.max_message; /* any line fits */
	r->dpdk = r->network && !strcmp(vdr_net_cfg_driver(r->cfg.net), "dpdk");
	if (!check)
		return -1;
	if (r->network) {
		char desc[2048];
		vdr_net_cfg_describe(r->cfg.net, desc, sizeof(desc));
		printf("configuration OK: network mode, %s driver, %u sources, "
		       "link %s\n%s", vdr_net_cfg_driver(r->cfg.net),
		       r->cfg.n_sources, r->cfg.link_socket, desc);
	} else
		printf("configuration OK: %u sources, %u inputs, link %s\n",
		       r->cfg.n_sources, r->cfg.n_inputs, r->cfg.link_socket);
	return EXIT_OK;
}

/* ---- set-up: each step prints what failed; run_free() undoes them all ---- */

/* The pipelines: one for the worker (or the distributor), one per lane. */
static int setup_pipelines(struct vdd_run *r)
{
	char eerr[160] = "";
	r->srcs = calloc(r->cfg.n_sources, sizeof(*r->srcs));
	if (r->srcs == NULL) {
		fprintf(stderr, "veil-dataplane: out of memory\n");
		return -1;
	}
	if (veil_engine_opts_from_env(&r->eo, eerr, sizeof(eerr)) != 0 ||
	    (r->engine = veil_engine_new(&r->eo)) == NULL) {
		fprintf(stderr, "veil-dataplane: crypto engine: %s\n",
			eerr[0] ? eerr : strerror(errno));
		return -1;
	}
	for (unsigned s = 0; s < r->cfg.n_sources; s++)
		r->srcs[s] = r->cfg.sources[s].src;
	r->pipe = vdp_worker_new(r->engine, r->srcs, r->cfg.n_sources);
	if (r->pipe == NULL) {
		fprintf(stderr, "veil-dataplane: worker: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_lanes(struct vdd_run *r)
{
	for (unsigned i = 0; i < r->n_lanes; i++) {
		r->lane_engine[i] = veil_engine_new(&r->eo);
		r->lane_pipe[i] = r->lane_engine[i] ?
			vdp_worker_new(r->lane_engine[i], r->srcs, r->cfg.n_sources) :
			NULL;
		if (r->lane_pipe[i] == NULL) {
			fprintf(stderr, "veil-dataplane: worker %u: %s\n", i,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The driver: file (snapshot mode), dpdk or socket (network mode). */
static int setup_driver(struct vdd_run *r)
{
	char err[512] = "";
	r->fin = calloc(r->cfg.n_inputs, sizeof(*r->fin));
	if (r->fin == NULL && r->cfg.n_inputs > 0) {
		fprintf(stderr, "veil-dataplane: out of memory\n");
		return -1;
	}
	for (unsigned i = 0; i < r->cfg.n_inputs; i++)
		r->fin[i] = (struct vdr_file_input){ r->cfg.inputs[i].path,
						     (uint16_t)r->cfg.inputs[i].source };
	if (!r->network)
		r->drv = vdr_file_new(r->fin, r->cfg.n_inputs, r->out_path,
				      r->cfg.max_message, err, sizeof(err));
	else if (r->dpdk)
		r->drv = vdr_dpdk_new(r->cfg.net, r->cfg.max_message,
				      r->per_queue ? r->n_lanes : 1, err, sizeof(err));
	else
		r->drv = vdr_socket_new(r->cfg.net, r->cfg.max_message, 0, err,
					sizeof(err));
	if (r->drv == NULL) {
		fprintf(stderr, "veil-dataplane: %s\n", err);
		return -1;
	}
	/* the driver's counter names, for the summary and telemetry */
	uint64_t v[VDD_MAX_XSTATS];
	unsigned nx = vdr_xstats(r->drv, vdd_sh.xname, v, VDD_MAX_XSTATS);
	vdd_sh.n_x = nx < VDD_MAX_XSTATS ? nx : VDD_MAX_XSTATS;
	if (r->network) {
		char desc[2048];
		vdr_net_cfg_describe(r->cfg.net, desc, sizeof(desc));
		fprintf(stderr, "veil-dataplane: network mode, %s driver, %u "
			"sources\n%s", vdr_name(r->drv), r->cfg.n_sources, desc);
	}
	return 0;
}

/* The worker loops: one per queue pair (dpdk, two or more workers), or
 * one (with the pool of lanes behind it when there are lanes). */
static int setup_loops(struct vdd_run *r)
{
	r->n_loops = r->per_queue ? r->n_lanes : 1;
	for (unsigned i = 0; i < r->n_loops; i++) {
		r->loop[i] = r->per_queue
			? vdd_worker_new(&vdd_sh, r->lane_pipe[i],
					 vdr_dpdk_worker(r->drv, i), r->cfg.n_sources,
					 r->cfg.wait_keys, r->cfg.hold_lines,
					 r->cfg.hold_bytes)
			: vdd_worker_new(&vdd_sh, r->pipe, r->drv, r->cfg.n_sources,
					 r->cfg.wait_keys, r->cfg.hold_lines,
					 r->cfg.hold_bytes);
		if (r->loop[i] == NULL) {
			fprintf(stderr, "veil-dataplane: worker %u: %s\n", i,
				strerror(errno));
			return -1;
		}
		/* network mode: each sender's order, not the interleaving of
		 * senders: a tenant waiting for its key does not hold the
		 * others' lines */
		vdd_worker_set_order(r->loop[i], r->network);
		if (r->per_queue)
			vdd_worker_set_slot(r->loop[i], i);
	}
	if (r->per_queue) {
		vdd_sh.n_workers = r->n_lanes;
		vdd_sh.per_worker = true;
	}
	if (r->n_lanes > 0 && !r->per_queue &&
	    (r->pool = vdd_pool_new(r->loop[0], r->lane_pipe, r->n_lanes)) == NULL) {
		fprintf(stderr, "veil-dataplane: workers: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Is the output (the file driver's) a regular file? */
static bool output_regular(const struct vdd_run *r)
{
	struct stat st;
	int rc = r->out_path == NULL || strcmp(r->out_path, "-") == 0
		 ? fstat(STDOUT_FILENO, &st) : stat(r->out_path, &st);
	return rc == 0 && S_ISREG(st.st_mode);
}

static int setup(struct vdd_run *r)
{
	vdd_telemetry_register(); /* served unless --no-telemetry */
	/* keys from here on: no core dumps, no ptrace by other users */
	prctl(PR_SET_DUMPABLE, 0);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (setup_pipelines(r) != 0)
		return -1;
	/* two or more worker lcores: a worker on each. With the dpdk driver
	 * each polls its own queue pair and the main lcore does the
	 * housekeeping; otherwise the main lcore reads, distributes, writes
	 * in order and does the housekeeping */
	unsigned lc;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (r->n_lanes < VDD_MAX_WORKERS)
			r->lane_lcore[r->n_lanes++] = lc;
	}
	if (r->n_lanes < 2 && r->network)
		r->n_lanes = 0;
	r->per_queue = r->dpdk && r->n_lanes > 0;
	if (setup_driver(r) != 0)
		return -1;
	/* one worker lcore in snapshot mode: the main lcore reads, writes and
	 * rewrites what the worker has no room for (dpd_pool.c), so both
	 * lcores work, when the output is a regular file. A pipe's reader
	 * may stop reading for as long as it likes: the main lcore would wait
	 * in the write, and the link and the watchdog with it; the worker
	 * lcore does it all then, and the main lcore keeps house */
	if (r->n_lanes == 1 && !output_regular(r))
		r->n_lanes = 0;
	r->keys = vdd_keys_new(&vdd_sh, &r->cfg);
	if (r->keys == NULL) {
		fprintf(stderr, "veil-dataplane: %s\n", strerror(errno));
		return -1;
	}
	r->progress = isatty(STDERR_FILENO) && !r->json;
	if (setup_lanes(r) != 0 || setup_loops(r) != 0)
		return -1;
	/* the ports are up: the running loop needs no privilege */
	char err[512];
	if (vdd_privdrop(&r->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-dataplane: dropping privileges to user %s: "
			"%s; stopping\n", r->cfg.user, err);
		return -1;
	}
	if (r->cfg.user_uid >= 0)
		fprintf(stderr, "veil-dataplane: running as user %s (uid %lld), "
			"no capability\n", r->cfg.user, (long long)r->cfg.user_uid);
	return 0;
}

/* ---- the topologies: each returns 0, or -1 when a worker failed ---- */

/* dpdk with two or more workers: a whole worker loop on each lcore, each
 * on its own queue pair; the main lcore gathers counters and keeps house. */
static int run_per_queue(struct vdd_run *r)
{
	unsigned launched = 0;
	int wrc = 0;
	for (; launched < r->n_lanes; launched++)
		if (rte_eal_remote_launch(worker_main, r->loop[launched],
					  r->lane_lcore[launched]) != 0) {
			fprintf(stderr, "veil-dataplane: cannot launch worker "
				"%u on lcore %u\n", launched,
				r->lane_lcore[launched]);
			atomic_store(&vdd_sh.stop, true);
			wrc = -1;
			break;
		}
	while (atomic_load_explicit(&vdd_sh.n_done, memory_order_acquire) <
	       launched) {
		vdd_shared_gather(&vdd_sh);
		housekeeping(r);
		usleep(VDD_HOUSEKEEPING_US);
	}
	for (unsigned i = 0; i < launched; i++)
		if (rte_eal_wait_lcore(r->lane_lcore[i]) != 0)
			wrc = -1;
	vdd_shared_gather(&vdd_sh);
	return wrc;
}

/* The file and socket drivers with two or more workers: the lanes on
 * their lcores, the distributor (reads, hands out, writes back in order,
 * keeps house) here. A lane that cannot start stops everything. */
static int run_pool(struct vdd_run *r)
{
	struct lane_arg la[VDD_MAX_WORKERS];
	for (unsigned i = 0; i < r->n_lanes; i++) {
		la[i] = (struct lane_arg){ r->pool, i };
		if (rte_eal_remote_launch(lane_main, &la[i], r->lane_lcore[i]) != 0) {
			fprintf(stderr, "veil-dataplane: cannot launch worker "
				"%u on lcore %u\n", i, r->lane_lcore[i]);
			vdd_pool_stop(r->pool);
			for (unsigned j = 0; j < i; j++)
				rte_eal_wait_lcore(r->lane_lcore[j]);
			r->aborted = true;
			return -1;
		}
	}
	vdd_worker_set_inline(r->loop[0], housekeeping, r);
	int wrc = vdd_worker_run(r->loop[0]);
	for (unsigned i = 0; i < r->n_lanes; i++)
		rte_eal_wait_lcore(r->lane_lcore[i]);
	return wrc;
}

/* One worker on a worker lcore; the main lcore keeps house. */
static int run_one_lcore(struct vdd_run *r, unsigned lcore)
{
	while (!atomic_load_explicit(&vdd_sh.done, memory_order_acquire)) {
		housekeeping(r);
		usleep(VDD_HOUSEKEEPING_US);
	}
	return rte_eal_wait_lcore(lcore);
}

/* No worker lcore: the worker here, keeping house between bursts. */
static int run_inline(struct vdd_run *r)
{
	vdd_worker_set_inline(r->loop[0], housekeeping, r);
	return vdd_worker_run(r->loop[0]);
}

static int run(struct vdd_run *r)
{
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	if (r->per_queue)
		return run_per_queue(r);
	if (r->pool != NULL)
		return run_pool(r);
	if (lcore < RTE_MAX_LCORE &&
	    rte_eal_remote_launch(worker_main, r->loop[0], lcore) == 0)
		return run_one_lcore(r, lcore);
	return run_inline(r);
}

/* The last counters up, the summary. @return the exit status. */
static int finish(struct vdd_run *r, int wrc)
{
	int status = EXIT_OK;
	r->t1 = veil_now();
	vdd_keys_poll(r->keys, true); /* the last counters go up */
	vdd_telemetry_publish(r);
	vdd_progress(r, true);

	struct vdd_totals t;
	vdd_totals(r, &t);
	const char *error = NULL;
	for (unsigned i = 0; wrc != 0 && i < r->n_loops; i++)
		if (error == NULL || error[0] == '\0')
			error = vdd_worker_error(r->loop[i]);
	if (wrc != 0 && (error == NULL || error[0] == '\0'))
		error = "a worker could not start";
	uint64_t nokey = t.sum.drops[VDP_R_NO_KEY];
	/* lines left in an upstream's spool are not lost: the next run sends
	 * them; lines held for a key, or not written, are */
	if (error != NULL || nokey > 0 || t.held > t.st.tx_held ||
	    t.not_written > 0 || t.st.rx_errors > 0)
		status = EXIT_FAILED;
	if (t.st.rx_errors > 0 && error == NULL && vdr_error(r->drv)[0])
		error = vdr_error(r->drv);
	if (r->json)
		vdd_summary_json(r, &t, r->t1 - r->t0, error, status);
	else
		vdd_summary_text(r, &t, r->t1 - r->t0, error);
	free(t.tenant_nokey);
	return status;
}

/* The one cleanup path: whatever of the run was set up (NULL and zero
 * fields are skipped). */
static void run_free(struct vdd_run *r)
{
	vdd_pool_free(r->pool);
	for (unsigned i = 0; i < r->n_loops; i++)
		vdd_worker_free(r->loop[i]);
	vdr_free(r->drv);
	vdp_worker_free(r->pipe);
	for (unsigned i = 0; i < r->n_lanes; i++) {
		vdp_worker_free(r->lane_pipe[i]);
		veil_engine_free(r->lane_engine[i]);
	}
	veil_engine_free(r->engine);
	vdd_keys_free(r->keys);
	vdd_config_free(&r->cfg);
	free(r->fin);
	free(r->srcs);
	free(r->vargv);
	free(r->eargv);
	if (r->eal_up)
		rte_eal_cleanup();
}

int main(int argc, char **argv)
{
	struct vdd_run r;
	memset(&r, 0, sizeof(r));
	int status = options(&r, argc, argv);
	if (status < 0 && r.explain)
		status = vdd_explain(&r); /* no EAL, no key, no output */
	if (status < 0)
		status = vdd_eal_start(&r, argc, argv);
	if (status < 0 && setup(&r) != 0)
		status = EXIT_FAILED;
	if (status < 0) {
		/* one worker: on a worker lcore, or here when there is none;
		 * two or more: the workers on their lcores, the distributor
		 * here */
		r.t0 = veil_now();
		r.next_progress = r.t0 + VDD_PROGRESS_S;
		vdd_telemetry_publish(&r);
		vdd_notify_ready(&r);
		int wrc = run(&r);
		vdd_notify_stopping(&r);
		status = r.aborted ? EXIT_FAILED : finish(&r, wrc);
	}
	run_free(&r);
	return status;
}
