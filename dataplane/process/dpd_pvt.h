/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane, the process: its configuration (dpd_config.c), the key
 * table the main lcore keeps from controld's link (dpd_keys.c) and the
 * worker loop with its hold queue (dpd_worker.c). Symbols are prefixed
 * vdd_. docs/dataplane-process.md describes the behaviour.
 */
#ifndef VEIL_DPD_PVT_H
#define VEIL_DPD_PVT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "veil_clock.h"
#include "veil_crypto.h"
#include "veil_dp.h"
#include "veil_driver.h"
#include "veil_link.h"

#define VDD_MAX_SOURCES  (1u << 20) /* and so tenants: one per source at most */
#define VDD_MAX_INPUTS   4096
#define VDD_MAX_MESSAGE  (16u << 20)
#define VDD_WAIT_KEYS_MAX VEIL_S_PER_DAY /* wait_keys, --wait-keys: seconds */
#define VDD_MAX_WORKERS  16
#define VDD_MAX_XSTATS   96
#define VDD_MAX_ROWS     (2 * VEIL_LINK_ROWS_MAX) /* upstreams, listeners */

/* ---- a name -> index table (dpd_index.c) ---- */

/* Names (tenant ids, source names) to indices in O(1); the caller keeps
 * the names, key_of() gives the name of index i. */
struct vdd_index {
	uint32_t *slot; /* index + 1; 0: empty */
	uint32_t mask;
	uint32_t n;
};
int vdd_index_init(struct vdd_index *x, uint32_t n); /* room for n; 0 or -1 */
/* @return the index of @p name, or -1. */
int64_t vdd_index_find(const struct vdd_index *x, const char *name,
		       const char *(*key_of)(const void *ctx, uint32_t i),
		       const void *ctx);
/* Add @p name (not there yet) as index @p i. @return 0, or -1 (ENOMEM). */
int vdd_index_add(struct vdd_index *x, const char *name, uint32_t i,
		  const char *(*key_of)(const void *ctx, uint32_t i),
		  const void *ctx);
void vdd_index_free(struct vdd_index *x);

/* ---- configuration (dpd_config.c) ---- */

struct vdd_source_cfg {
	char name[64];
	char tenant[VEIL_TENANT_MAX + 1];
	char format[32];           /* for the summary */
	struct vdp_source *src;
	bool from_config;          /* a [source NAME] section */
	bool has_regex;
	unsigned tenant_idx;       /* into the key table's tenants */
};

struct vdd_input_cfg {
	const char *path;          /* argv string, or "-" */
	unsigned source;           /* index into sources */
};

struct vdd_config {
	char path[256];            /* the config file, or "" */
	char link_socket[VEIL_LINK_SOCKET_MAX + 1]; /* controld's link socket */
	bool link_from_dataplane;  /* [dataplane] link_socket (over [controld]'s) */
	int64_t controld_uid;      /* VEIL_LINK_UID_DEFAULT: root or our euid */
	char controld_user[64];    /* as the config says it, or "" */
	/* [dataplane] user = / --user: who the process becomes once its
	 * ports are up (dpd_privdrop.c); user_uid -1: it stays who it is */
	char user[64];
	int64_t user_uid;
	gid_t user_gid;
	size_t max_message;
	double wait_keys;          /* seconds */
	unsigned hold_lines;
	size_t hold_bytes;
	unsigned n_sources;
	struct vdd_source_cfg *sources; /* grows, up to VDD_MAX_SOURCES */
	unsigned cap_sources;
	struct vdd_index source_idx;    /* name -> index into sources */
	unsigned n_inputs;
	struct vdd_input_cfg *inputs;   /* VDD_MAX_INPUTS */
	/* [network], [listen], [upstream], [port]; [source] networks = */
	struct vdr_net_cfg *net;
	char default_source[64];        /* [network] default_source = NAME */
};

/* Defaults, then the file (NULL: none). -1 with "file:line: message". */
int vdd_config_load(struct vdd_config *c, const char *path, char *err,
		    size_t errlen);
/* A link socket path (--link, link_socket): 0, or -1 with a message. */
int vdd_link_socket_check(const char *value, char *err, size_t errlen);
/* The source named @p name, or -1. */
int vdd_source_find(const struct vdd_config *c, const char *name);
/* A source of an input given on the command line, with its own tenant
 * and format. @return its index, or -1 with a message. */
int vdd_source_add_cli(struct vdd_config *c, const char *input,
		       const char *tenant, const char *format, char *err,
		       size_t errlen);
void vdd_config_free(struct vdd_config *c);
/* The user to drop to (a name or a uid with a passwd entry, not root)
 * into c->user, user_uid, user_gid. @return 0, or -1 with a message. */
int vdd_user_resolve(struct vdd_config *c, const char *value, char *err,
		     size_t errlen);
/* Once the options are read: a user that is controld's (controld_user)
 * is refused; without controld_user, the link then takes only a root
 * controld. @return 0, or -1 with a message. */
int vdd_user_check(struct vdd_config *c, char *err, size_t errlen);

/* ---- what the worker and the main lcore share ---- */

/* The key each source encrypts with, as published by the main lcore. A
 * table is never changed once published; a newer one replaces it. */
struct vdd_keytab {
	uint64_t gen;
	unsigned n;
	const struct veil_key *key[]; /* by source; NULL: none (hold, drop) */
};

struct vdd_shared {
	_Atomic(struct vdd_keytab *) keytab; /* main -> worker */
	_Atomic uint64_t worker_gen;  /* worker -> main: the table in use,
				       * taken at a burst boundary */
	atomic_bool stop;             /* main -> worker: stop reading now */
	atomic_bool done;             /* worker -> main: finished */
	/* the worker's totals, published every 50 ms and at the end */
	_Atomic uint64_t ctr[VEIL_LINK_CTR_COUNT];
	_Atomic uint64_t rx_bytes, rx_size, rx_inputs_done;
	/* the driver's own counters (vdr_xstats): names set before the
	 * run, values published with the totals */
	_Atomic unsigned n_x;
	const char *xname[VDD_MAX_XSTATS];
	_Atomic uint64_t xval[VDD_MAX_XSTATS];
	/* per worker (n_workers of them, set before the run; 0 or 1: ctr
	 * is worker 0's), as sent up the link */
	unsigned n_workers;
	_Atomic uint64_t wctr[VDD_MAX_WORKERS][VEIL_LINK_CTR_COUNT];
	/* a queue pair per worker (vdd_worker_set_slot(); set before the
	 * run): each worker publishes its own counters, key table in use and
	 * driver counters here, and the main lcore sums them into ctr,
	 * rx_bytes and xval (vdd_shared_gather()); worker_gen is then the
	 * oldest of wgen */
	bool per_worker;
	_Atomic uint64_t wgen[VDD_MAX_WORKERS];
	_Atomic uint64_t wrx_bytes[VDD_MAX_WORKERS];
	_Atomic uint64_t wx[VDD_MAX_WORKERS][VDD_MAX_XSTATS];
	_Atomic unsigned n_done;      /* workers finished */
	/* each worker loop's rounds (by slot; 0 without slots): the main
	 * lcore pings systemd's watchdog only while they all go up */
	_Atomic uint64_t beat[VDD_MAX_WORKERS];
	/* the driver's upstreams and listeners (vdr_rows), published with
	 * the totals by the worker that has them, sent up the link by the
	 * main lcore (ROW) */
	pthread_mutex_t rows_lock;
	unsigned n_rows;
	struct vdr_row rows[VDD_MAX_ROWS];
};

/* A queue pair per worker: sum the workers' counters into ctr, rx_bytes
 * and xval, and their oldest key table in use into worker_gen (the main
 * lcore, before reading them). */
void vdd_shared_gather(struct vdd_shared *sh);

/* ---- keys from controld (dpd_keys.c; the main lcore) ---- */

struct vdd_keys;

struct vdd_keys *vdd_keys_new(struct vdd_shared *sh, struct vdd_config *c);
/* Housekeeping, at least every 100 ms: attach, hello, keys, heartbeat,
 * counters every second. @p final: send the last counters. */
void vdd_keys_poll(struct vdd_keys *k, bool final);
/* Free what the worker no longer uses (everything once it finished). */
void vdd_keys_reclaim(struct vdd_keys *k, bool worker_finished);
/* Why tenant @p t had no key at the end (a sentence), or NULL. */
const char *vdd_keys_why(const struct vdd_keys *k, unsigned t, char *buf,
			 size_t cap);
/* The link now: for the summary and the telemetry. */
struct vdd_link_info {
	bool connected, synced;    /* now */
	unsigned attaches;
	uint64_t refused_peers;    /* listeners of another uid */
	uint64_t refused_regions;  /* regions that failed a check */
	uint32_t refused_uid;      /* of the last listener refused */
};
void vdd_keys_link(const struct vdd_keys *k, struct vdd_link_info *li);
/* For the summary: attached, synced, key versions held. */
void vdd_keys_describe(const struct vdd_keys *k, bool *attached, bool *synced,
		       unsigned *versions, unsigned *attaches);
unsigned vdd_keys_tenants(const struct vdd_keys *k);
/* The generation of the key table last published: it changes with every
 * change of a tenant's key or lock. */
uint64_t vdd_keys_generation(const struct vdd_keys *k);
/* Tenant @p t's key versions held (their numbers, up to @p cap into @p v),
 * its current version (0: none) and whether it is locked; never key
 * material. @return how many. */
unsigned vdd_keys_versions(const struct vdd_keys *k, unsigned t, uint32_t *v,
			   unsigned cap, uint32_t *current, bool *locked);
const char *vdd_keys_tenant_id(const struct vdd_keys *k, unsigned t);
void vdd_keys_free(struct vdd_keys *k);

/* ---- the worker loop (dpd_worker.c) ---- */

struct vdd_worker;

struct vdd_worker *vdd_worker_new(struct vdd_shared *sh, struct vdp_worker *w,
				  struct vdr_driver *drv, unsigned n_src,
				  double wait_keys, unsigned hold_lines,
				  size_t hold_bytes);
/* Keep the order per source only (network mode): a source waiting for
 * its key holds only its own lines (see dpd_worker.c). Default: the input
 * order of every line (snapshot mode). */
void vdd_worker_set_order(struct vdd_worker *x, bool per_source);
/* A queue pair per worker: this loop is worker @p slot of sh->n_workers,
 * each with its own driver (the dpdk driver's queues), pipeline and hold
 * queue; it publishes into sh's per-worker slots, and a fatal error stops
 * the others. */
void vdd_worker_set_slot(struct vdd_worker *x, unsigned slot);
/* Housekeeping to run at burst boundaries when the worker runs on the
 * main lcore (there is no other lcore). */
void vdd_worker_set_inline(struct vdd_worker *x, void (*fn)(void *), void *arg);
/* The loop: until the inputs are exhausted and nothing is held, or stop.
 * @return 0, or -1 on a fatal error (vdd_worker_error()). */
int vdd_worker_run(struct vdd_worker *x);
const char *vdd_worker_error(const struct vdd_worker *x);
/* Lines still held when the loop ended (stopped early). */
unsigned vdd_worker_held(const struct vdd_worker *x);
/* Lines read and then not processed because the output had failed (held
 * ones, and in snapshot mode the rest of the input): not written. */
uint64_t vdd_worker_abandoned(const struct vdd_worker *x);
void vdd_worker_free(struct vdd_worker *x);

/* Workers fed by the main lcore: the vdd_worker loop above runs on the
 * main lcore as the distributor (rx, the hold queue, housekeeping) and
 * hands each burst, copied into a descriptor with a sequence number and
 * the key table it was admitted under, to the next worker with room in
 * its single-producer single-consumer ring (round robin); the worker
 * rewrites it with its own pipeline (@p pipes[i], each with its own token
 * engine) and marks it done. When every ring is full the distributor
 * rewrites the burst itself, with the loop's pipeline (@p x's), in place.
 * The distributor takes the results back in sequence order (the reorder
 * step) and sends them to the driver. A key table is acknowledged (freed
 * by the main lcore) only once no burst in flight was admitted under it. */
struct vdd_pool;
struct vdd_pool *vdd_pool_new(struct vdd_worker *x, struct vdp_worker **pipes,
			      unsigned n);
/* The loop of worker @p i (on its lcore or thread): until the distributor
 * finished. @return 0. */
int vdd_pool_lane_run(struct vdd_pool *p, unsigned i);
/* The workers end their loops once their rings are empty (done by
 * vdd_worker_run() at its end). */
void vdd_pool_stop(struct vdd_pool *p);
/* Worker @p i's CPU seconds in its loop (once it returned). */
double vdd_pool_lane_cpu(const struct vdd_pool *p, unsigned i);
/* The bursts the distributor rewrote itself (every worker's ring full). */
uint64_t vdd_pool_local(const struct vdd_pool *p);
void vdd_pool_free(struct vdd_pool *p);


#endif
