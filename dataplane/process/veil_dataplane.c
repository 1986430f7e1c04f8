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
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>

#include "dpd_pvt.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: veil-dataplane [EAL options] -- [options]\n"
	"       veil-dataplane [options]      (EAL gets the snapshot defaults)\n"
	"Anonymizes log lines: every user and device name becomes a token of its\n"
	"tenant's key, which comes from veil-controld over its link socket.\n"
	"\n"
	"Snapshot mode (files or stdin in, the anonymized lines out):\n"
	"  --in FILE         an input file, or - for stdin (repeatable; default -)\n"
	"  --out FILE        the output (default stdout)\n"
	"  --tenant T        the tenant of the --in files that follow it (and of\n"
	"                    earlier ones that have none)\n"
	"  --format F        their format: auto (default), cef, leef, w3c, squid,\n"
	"                    squid-common, fortigate, sophos, juniper, checkpoint,\n"
	"                    panos, websense, json, asa, kv, csv\n"
	"  --source NAME     the following --in files belong to [source NAME] of\n"
	"                    the config file (its tenant, format and options)\n"
	"Network mode (the config file has [network] and no --in is given): syslog\n"
	"  from the network ([listen NAME] sockets, or [port NAME] DPDK ports), the\n"
	"  anonymized messages to every [upstream NAME], until SIGTERM or SIGINT.\n"
	"  The dpdk driver needs EAL options (the ports: -a PCI or --vdev).\n"
	"options:\n"
	"  -c FILE           config file (INI: [dataplane], [source NAME]; the same\n"
	"                    file as veil-controld's may be used)\n"
	"  --link PATH       veil-controld's link socket (default: the config's\n"
	"                    link_socket, or " VEIL_LINK_DEFAULT_SOCKET ")\n"
	"  --wait-keys S     hold lines up to S seconds for a missing key, then drop\n"
	"                    them (default 10)\n"
	"  --max-message N   longest line in bytes (default 65536); longer ones are\n"
	"                    dropped and counted\n"
	"  -n                check the configuration and the options, and exit\n"
	"  --json            the final summary as one JSON line (on stderr)\n"
	"  -h, --help        this text\n"
	"EAL: without EAL options (nothing before --, or no --) veil-dataplane uses\n"
	"  --no-huge --no-pci --no-shconf --no-telemetry: no hugepages, no root,\n"
	"  no files.\n"
	"exit status: 0 done; 1 lines not delivered (for want of a key, an input or\n"
	"  output error, dropped at an upstream), or stopped with lines held for a\n"
	"  key (lines left in an upstream's spool are not: the next start sends\n"
	"  them); 2 usage or configuration\n"
	"See docs/dataplane-process.md and docs/network.md.\n";

static void print_usage(const char *prog)
{
	(void)prog;
	fputs(usage_text, stderr);
}

static struct vdd_shared sh;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&sh.stop, true);
}

struct run {
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
	bool network; /* network mode: [network] and no --in */
	double t0, t1, next_progress, next_tel;
	bool progress_shown;
};

/* ---- progress on a terminal ---- */

static void progress(struct run *r, bool end)
{
	double now = vdd_now();
	if (!r->progress)
		return;
	if (end) {
		if (r->progress_shown)
			fputs("\r\033[K", stderr);
		return;
	}
	if (now < r->next_progress)
		return;
	r->next_progress = now + 1.0;
	if (now - r->t0 < 0.9)
		return;
	uint64_t lines = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_IN]);
	uint64_t held = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_HELD]);
	double bytes = (double)atomic_load(&sh.rx_bytes);
	double size = (double)atomic_load(&sh.rx_size);
	double rate = bytes / (now - r->t0);
	fprintf(stderr, "\r\033[Kveil-dataplane: %llu lines, %.1f MB, %.1f MB/s",
		(unsigned long long)lines, bytes / 1e6, rate / 1e6);
	if (held > 0)
		fprintf(stderr, ", %llu held for a key", (unsigned long long)held);
	if (!r->from_stdin && size > bytes && rate > 0)
		fprintf(stderr, ", ETA %.0f s", (size - bytes) / rate);
	r->progress_shown = true;
}

/* ---- DPDK telemetry: /veil/counters, /veil/workers, /veil/keys, /veil/link ----
 *
 * The callbacks run on DPDK's telemetry thread. The counters are the
 * worker's published totals (sh.ctr, sh.wctr: relaxed atomic loads of
 * 64-bit values); what only the main lcore may read (the key table, the
 * number of workers) it copies into tel below, under tel.lock, every
 * 50 ms (the tenants only when the key table changed) and at the end.
 * Everything the callbacks touch is static or allocated once and kept to
 * the exit: they stay safe however late a request comes. Key versions are
 * numbers only: no key material ever leaves the key table. */

/* A tenant as the telemetry shows it: the dataplane holds one key version
 * per tenant at most, the current one (docs/link-protocol.md). */
struct tel_tenant {
	char id[VEIL_TENANT_MAX + 1];
	bool held, locked;
	uint32_t current;
};

static struct {
	pthread_mutex_t lock;
	unsigned n_workers;
	unsigned n_t;
	struct tel_tenant *t; /* n_t of them, allocated once */
	uint64_t keys_gen;    /* the key table copied (0: none yet) */
	struct vdd_link_info link;
	char link_socket[VEIL_LINK_SOCKET_MAX + 1];
} tel = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void telemetry_publish(const struct run *r)
{
	unsigned n = r->keys ? vdd_keys_tenants(r->keys) : 0;
	/* the tenants are known from the start: their copy is made once */
	struct tel_tenant *t = tel.t == NULL && n > 0 ? calloc(n, sizeof(*t)) : NULL;
	pthread_mutex_lock(&tel.lock);
	tel.n_workers = sh.n_workers > 1 ? sh.n_workers : 1;
	if (t != NULL) {
		tel.t = t;
		tel.n_t = n;
	}
	uint64_t gen = r->keys ? vdd_keys_generation(r->keys) : 0;
	for (unsigned i = 0; gen != tel.keys_gen && i < tel.n_t; i++) {
		uint32_t v;
		struct tel_tenant *e = &tel.t[i];
		snprintf(e->id, sizeof(e->id), "%s", vdd_keys_tenant_id(r->keys, i));
		e->held = vdd_keys_versions(r->keys, i, &v, 1, &e->current,
					    &e->locked) > 0;
	}
	if (tel.t != NULL)
		tel.keys_gen = gen;
	if (r->keys != NULL)
		vdd_keys_link(r->keys, &tel.link);
	snprintf(tel.link_socket, sizeof(tel.link_socket), "%s", r->cfg.link_socket);
	pthread_mutex_unlock(&tel.lock);
}

/* A counter's name as a telemetry name ([A-Za-z0-9_/]): '-' becomes '_';
 * the drop reasons get a "dropped_" prefix. */
static void tel_ctr_name(unsigned c, char *buf, size_t cap)
{
	const char *n = veil_link_counter_name(c);
	snprintf(buf, cap, "%s%s", c >= VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT ?
		 "dropped_" : "", n ? n : "unknown");
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

static int tel_counters(const char *cmd, const char *params,
			struct rte_tel_data *d)
{
	char name[64];
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (unsigned c = 0; c < VEIL_LINK_CTR_COUNT; c++) {
		tel_ctr_name(c, name, sizeof(name));
		rte_tel_data_add_dict_u64(d, name, atomic_load_explicit(
			&sh.ctr[c], memory_order_relaxed));
	}
	pthread_mutex_lock(&tel.lock);
	unsigned nw = tel.n_workers;
	pthread_mutex_unlock(&tel.lock);
	rte_tel_data_add_dict_u64(d, "workers", nw);
	rte_tel_data_add_dict_u64(d, "inputs_done", atomic_load_explicit(
		&sh.rx_inputs_done, memory_order_relaxed));
	return 0;
}

static int tel_workers(const char *cmd, const char *params,
		       struct rte_tel_data *d)
{
	char name[64];
	(void)cmd;
	(void)params;
	pthread_mutex_lock(&tel.lock);
	unsigned nw = tel.n_workers;
	pthread_mutex_unlock(&tel.lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", nw);
	for (unsigned c = 0; c < VEIL_LINK_CTR_COUNT; c++) {
		struct rte_tel_data *a = rte_tel_data_alloc();
		if (a == NULL)
			return -ENOMEM;
		rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
		for (unsigned i = 0; i < nw; i++)
			rte_tel_data_add_array_u64(a, atomic_load_explicit(
				nw > 1 ? &sh.wctr[i][c] : &sh.ctr[c],
				memory_order_relaxed));
		tel_ctr_name(c, name, sizeof(name));
		if (rte_tel_data_add_dict_container(d, name, a, 0) != 0) {
			rte_tel_data_free(a);
			return -ENOMEM;
		}
	}
	return 0;
}

static int tel_keys(const char *cmd, const char *params,
		    struct rte_tel_data *d)
{
	(void)cmd;
	int rc = 0;
	pthread_mutex_lock(&tel.lock);
	if (params != NULL && params[0] != '\0') {
		/* one tenant: its versions */
		unsigned i;
		for (i = 0; i < tel.n_t; i++)
			if (!strcmp(tel.t[i].id, params))
				break;
		if (i == tel.n_t) {
			rc = -EINVAL; /* not a tenant this dataplane serves */
			goto out;
		}
		struct rte_tel_data *a = rte_tel_data_alloc();
		if (a == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
		if (tel.t[i].held)
			rte_tel_data_add_array_u64(a, tel.t[i].current);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "tenant", tel.t[i].id);
		if (rte_tel_data_add_dict_container(d, "versions", a, 0) != 0) {
			rte_tel_data_free(a);
			rc = -ENOMEM;
			goto out;
		}
		rte_tel_data_add_dict_u64(d, "current", tel.t[i].current);
		rte_tel_data_add_dict_u64(d, "locked", tel.t[i].locked);
		goto out;
	}
	/* every tenant: arrays in the order of "tenants" */
	struct rte_tel_data *a[4];
	static const char *const an[4] = { "tenants", "versions_held",
					   "current", "locked" };
	for (unsigned k = 0; k < 4; k++) {
		a[k] = rte_tel_data_alloc();
		if (a[k] == NULL) {
			for (unsigned j = 0; j < k; j++)
				rte_tel_data_free(a[j]);
			rc = -ENOMEM;
			goto out;
		}
		rte_tel_data_start_array(a[k], k == 0 ? RTE_TEL_STRING_VAL
						      : RTE_TEL_U64_VAL);
	}
	for (unsigned i = 0; i < tel.n_t; i++) {
		rte_tel_data_add_array_string(a[0], tel.t[i].id);
		rte_tel_data_add_array_u64(a[1], tel.t[i].held);
		rte_tel_data_add_array_u64(a[2], tel.t[i].current);
		rte_tel_data_add_array_u64(a[3], tel.t[i].locked);
	}
	rte_tel_data_start_dict(d);
	for (unsigned k = 0; k < 4; k++)
		if (rte_tel_data_add_dict_container(d, an[k], a[k], 0) != 0) {
			for (unsigned j = k; j < 4; j++)
				rte_tel_data_free(a[j]);
			rc = -ENOMEM;
			goto out;
		}
out:
	pthread_mutex_unlock(&tel.lock);
	return rc;
}

static int tel_link(const char *cmd, const char *params,
		    struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	pthread_mutex_lock(&tel.lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "socket", tel.link_socket);
	rte_tel_data_add_dict_u64(d, "connected", tel.link.connected);
	rte_tel_data_add_dict_u64(d, "synced", tel.link.synced);
	rte_tel_data_add_dict_u64(d, "attaches", tel.link.attaches);
	rte_tel_data_add_dict_u64(d, "refused_peers", tel.link.refused_peers);
	rte_tel_data_add_dict_u64(d, "refused_uid", tel.link.refused_uid);
	rte_tel_data_add_dict_u64(d, "refused_regions", tel.link.refused_regions);
	pthread_mutex_unlock(&tel.lock);
	return 0;
}

static int tel_driver(const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	unsigned n = sh.n_x; /* set before telemetry is registered */
	for (unsigned i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(d, sh.xname[i], atomic_load_explicit(
			&sh.xval[i], memory_order_relaxed));
	return 0;
}

/* (DPDK takes help texts of up to 127 characters: a longer one fails the
 * registration) */
static void telemetry_register(void)
{
	rte_telemetry_register_cmd("/veil/driver", tel_driver,
		"veil-dataplane's driver counters: packets, connections, upstream "
		"queue, drops by reason. No parameters");
	rte_telemetry_register_cmd("/veil/counters", tel_counters,
		"veil-dataplane's totals: lines in/out/dropped/held, identities, "
		"bytes, drops by reason. No parameters");
	rte_telemetry_register_cmd("/veil/workers", tel_workers,
		"veil-dataplane's counters per worker: each an array by worker. "
		"No parameters");
	rte_telemetry_register_cmd("/veil/keys", tel_keys,
		"Key versions held per tenant (numbers only). Parameters: none, "
		"or a tenant id for its versions");
	rte_telemetry_register_cmd("/veil/link", tel_link,
		"The link to veil-controld: connected, synced, attaches, peers "
		"and regions refused. No parameters");
}

static void housekeeping(void *arg)
{
	struct run *r = arg;
	vdd_keys_poll(r->keys, false);
	progress(r, false);
	double now = vdd_now();
	if (now >= r->next_tel) {
		telemetry_publish(r);
		r->next_tel = now + 0.05;
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

/* Source @p s's counters, over every pipeline. */
static void src_counters(const struct run *r, unsigned s, struct vdp_counters *c)
{
	memset(c, 0, sizeof(*c));
	unsigned n = r->n_lanes > 0 ? r->n_lanes : 1;
	for (unsigned i = 0; i < n; i++) {
		const struct vdp_counters *x =
			vdp_worker_counters(r->n_lanes > 0 ? r->lane_pipe[i] : r->pipe, s);
		c->lines_in += x->lines_in;
		c->lines_out += x->lines_out;
		c->lines_dropped += x->lines_dropped;
		c->identities += x->identities;
		c->repeats += x->repeats;
		c->no_user += x->no_user;
		c->marked += x->marked;
		c->lines_unparsed += x->lines_unparsed;
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			c->drops[k] += x->drops[k];
	}
}

/* ---- the summary ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct totals {
	struct vdp_counters sum;
	struct vdr_stats st;
	uint64_t in, out, dropped, held, oversize;
	uint64_t not_written; /* the output lost them, or they were read
				 after it failed */
	uint64_t *tenant_nokey;
};

static void totals(struct run *r, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	vdr_stats(r->drv, &t->st);
	t->tenant_nokey = calloc(vdd_keys_tenants(r->keys) + 1, sizeof(uint64_t));
	for (unsigned s = 0; s < r->cfg.n_sources; s++) {
		struct vdp_counters cc;
		const struct vdp_counters *c = &cc;
		src_counters(r, s, &cc);
		t->sum.lines_in += c->lines_in;
		t->sum.lines_out += c->lines_out;
		t->sum.lines_dropped += c->lines_dropped;
		t->sum.identities += c->identities;
		t->sum.repeats += c->repeats;
		t->sum.no_user += c->no_user;
		t->sum.marked += c->marked;
		t->sum.lines_unparsed += c->lines_unparsed;
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			t->sum.drops[k] += c->drops[k];
		if (t->tenant_nokey != NULL)
			t->tenant_nokey[r->cfg.sources[s].tenant_idx] += c->drops[VDP_R_NO_KEY];
	}
	t->held = t->st.tx_held; /* in an upstream's spool, for the next run */
	uint64_t abandoned = 0;
	for (unsigned i = 0; i < r->n_loops; i++) {
		t->held += vdd_worker_held(r->loop[i]);
		abandoned += vdd_worker_abandoned(r->loop[i]);
	}
	t->oversize = t->st.rx_oversize;
	/* every line once: in = out + dropped + held + not written */
	t->in = t->sum.lines_in + t->oversize + t->held + abandoned;
	t->out = t->sum.lines_out - t->st.tx_lost - t->st.tx_held;
	t->not_written = t->st.tx_lost + abandoned;
	t->dropped = t->sum.lines_dropped + t->oversize;
}

static void summary_text(struct run *r, const struct totals *t, double secs,
			 const char *error)
{
	bool att, syn;
	unsigned vers, attaches;
	char why[400];

	vdd_keys_describe(r->keys, &att, &syn, &vers, &attaches);
	fprintf(stderr, "veil-dataplane: %llu lines in %.2f s: %llu written, "
		"%llu dropped, %llu held", (unsigned long long)t->in, secs,
		(unsigned long long)t->out,
		(unsigned long long)t->dropped, (unsigned long long)t->held);
	if (t->not_written > 0)
		fprintf(stderr, ", %llu NOT WRITTEN (%s)",
			(unsigned long long)t->not_written,
			r->network ? "dropped at an upstream, or not delivered before "
				     "the end" : "output error");
	fputc('\n', stderr);
	fprintf(stderr, "  identities replaced: %llu (and %llu repeats); \"no "
		"user\" values left: %llu; fields marked: %llu\n",
		(unsigned long long)t->sum.identities,
		(unsigned long long)t->sum.repeats,
		(unsigned long long)t->sum.no_user, (unsigned long long)t->sum.marked);
	if (t->dropped > 0) {
		fputs("  dropped:", stderr);
		const char *sep = " ";
		for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
			if (t->sum.drops[k] > 0) {
				fprintf(stderr, "%s%s %llu", sep, vdp_reason_name(k),
					(unsigned long long)t->sum.drops[k]);
				sep = ", ";
			}
		if (t->oversize > 0)
			fprintf(stderr, "%soversize (over %zu bytes) %llu", sep,
				r->cfg.max_message, (unsigned long long)t->oversize);
		fputc('\n', stderr);
	}
	fprintf(stderr, "  bytes: %llu read, %llu written, %.1f MB/s\n",
		(unsigned long long)t->st.rx_bytes, (unsigned long long)t->st.tx_bytes,
		secs > 0 ? (double)t->st.rx_bytes / secs / 1e6 : 0.0);
	if (r->network) {
		fprintf(stderr, "  %s driver:", vdr_name(r->drv));
		for (unsigned i = 0; i < sh.n_x; i++) {
			uint64_t v = atomic_load(&sh.xval[i]);
			if (v > 0)
				fprintf(stderr, " %s %llu", sh.xname[i],
					(unsigned long long)v);
		}
		fputc('\n', stderr);
	} else {
		fprintf(stderr, "  inputs: %u (%llu read to the end", r->cfg.n_inputs,
			(unsigned long long)t->st.rx_inputs_done);
		if (t->st.rx_unterminated > 0)
			fprintf(stderr, "; %llu ended without a line end, their last "
				"line was taken",
				(unsigned long long)t->st.rx_unterminated);
		if (t->st.rx_errors > 0)
			fprintf(stderr, "; %llu READ ERRORS",
				(unsigned long long)t->st.rx_errors);
		fputs(")\n", stderr);
	}
	if (sh.n_workers > 1) {
		fprintf(stderr, "  workers: %u, %s; lines in:", sh.n_workers,
			r->per_queue ? "a queue pair each"
				     : "fed in order by the main lcore");
		for (unsigned i = 0; i < sh.n_workers; i++)
			fprintf(stderr, "%s %llu", i ? "," : "", (unsigned long long)
				atomic_load(&sh.wctr[i][VEIL_LINK_CTR_LINES_IN]));
		fputc('\n', stderr);
	}
	struct vdd_link_info li;
	vdd_keys_link(r->keys, &li);
	fprintf(stderr, "  keys: link %s %s; %u key versions held for %u tenants; "
		"crypto %s\n", r->cfg.link_socket,
		!att ? "never reached" : syn ? "attached, keys synced"
					     : "attached, keys not synced",
		vers, vdd_keys_tenants(r->keys), veil_engine_name(r->engine));
	if (li.refused_peers > 0)
		fprintf(stderr, "veil-dataplane: the link was REFUSED %llu times: "
			"served by uid %u, not veil-controld's user; no key was "
			"taken from it\n", (unsigned long long)li.refused_peers,
			li.refused_uid);
	if (li.refused_regions > 0)
		fprintf(stderr, "veil-dataplane: %llu regions veil-controld handed "
			"over were REFUSED (a failed check)\n",
			(unsigned long long)li.refused_regions);
	for (unsigned i = 0; t->tenant_nokey && i < vdd_keys_tenants(r->keys); i++)
		if (t->tenant_nokey[i] > 0)
			fprintf(stderr, "veil-dataplane: %llu lines of tenant %s were "
				"dropped, never written: no key: %s\n",
				(unsigned long long)t->tenant_nokey[i],
				vdd_keys_tenant_id(r->keys, i),
				vdd_keys_why(r->keys, i, why, sizeof(why)));
	if (t->held > t->st.tx_held)
		fprintf(stderr, "veil-dataplane: stopped with %llu lines held (waiting "
			"for a key, or behind one); they were not written\n",
			(unsigned long long)(t->held - t->st.tx_held));
	if (t->st.tx_held > 0)
		fprintf(stderr, "veil-dataplane: %llu lines wait in the upstreams' "
			"spools; the next start sends them\n",
			(unsigned long long)t->st.tx_held);
	if (error != NULL)
		fprintf(stderr, "veil-dataplane: %s\n", error);
}

static void summary_json(struct run *r, const struct totals *t, double secs,
			 const char *error, int status)
{
	bool att, syn;
	unsigned vers, attaches;
	char why[400];
	FILE *f = stderr;

	vdd_keys_describe(r->keys, &att, &syn, &vers, &attaches);
	fprintf(f, "{\"lines_in\":%llu,\"lines_out\":%llu,\"lines_dropped\":%llu,"
		"\"lines_held\":%llu,\"lines_not_written\":%llu,\"dropped\":{",
		(unsigned long long)t->in, (unsigned long long)t->out,
		(unsigned long long)t->dropped, (unsigned long long)t->held,
		(unsigned long long)t->not_written);
	for (unsigned k = 0; k < VDP_REASON_COUNT; k++)
		fprintf(f, "\"%s\":%llu,", vdp_reason_name(k),
			(unsigned long long)t->sum.drops[k]);
	fprintf(f, "\"oversize\":%llu},\"identities\":%llu,\"repeats\":%llu,"
		"\"no_user\":%llu,\"marked\":%llu,\"unparsed_forwarded\":%llu,"
		"\"bytes_in\":%llu,\"bytes_out\":%llu,\"seconds\":%.3f,"
		"\"mb_per_s\":%.1f,\"inputs\":%u,\"inputs_done\":%llu,"
		"\"unterminated\":%llu,\"read_errors\":%llu,",
		(unsigned long long)t->oversize, (unsigned long long)t->sum.identities,
		(unsigned long long)t->sum.repeats, (unsigned long long)t->sum.no_user,
		(unsigned long long)t->sum.marked,
		(unsigned long long)t->sum.lines_unparsed,
		(unsigned long long)t->st.rx_bytes, (unsigned long long)t->st.tx_bytes,
		secs, secs > 0 ? (double)t->st.rx_bytes / secs / 1e6 : 0.0,
		r->cfg.n_inputs, (unsigned long long)t->st.rx_inputs_done,
		(unsigned long long)t->st.rx_unterminated,
		(unsigned long long)t->st.rx_errors);
	fputs("\"driver\":{\"name\":", f);
	json_str(f, vdr_name(r->drv));
	for (unsigned i = 0; i < sh.n_x; i++)
		fprintf(f, ",\"%s\":%llu", sh.xname[i],
			(unsigned long long)atomic_load(&sh.xval[i]));
	/* per worker, as sent up the link */
	unsigned nw = sh.n_workers > 1 ? sh.n_workers : 1;
	fprintf(f, "},\"worker_mode\":\"%s\",\"workers\":[",
		nw == 1 ? "single" : r->per_queue ? "queue" : "distributor");
	for (unsigned i = 0; i < nw; i++) {
		_Atomic uint64_t *c = nw > 1 ? sh.wctr[i] : sh.ctr;
		fprintf(f, "%s{\"lines_in\":%llu,\"lines_out\":%llu,"
			"\"lines_dropped\":%llu,\"bytes_in\":%llu}", i ? "," : "",
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_IN]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_OUT]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_LINES_DROPPED]),
			(unsigned long long)atomic_load(&c[VEIL_LINK_CTR_BYTES_IN]));
	}
	struct vdd_link_info li;
	vdd_keys_link(r->keys, &li);
	fputs("],\"link\":{\"socket\":", f);
	json_str(f, r->cfg.link_socket);
	fprintf(f, ",\"attached\":%s,\"synced\":%s,\"attaches\":%u,"
		"\"key_versions\":%u,\"connected\":%s,\"refused_peers\":%llu,"
		"\"refused_uid\":", att ? "true" : "false",
		syn ? "true" : "false", attaches, vers,
		li.connected ? "true" : "false",
		(unsigned long long)li.refused_peers);
	if (li.refused_peers > 0)
		fprintf(f, "%u", li.refused_uid);
	else
		fputs("null", f);
	fprintf(f, ",\"refused_regions\":%llu},\"crypto\":",
		(unsigned long long)li.refused_regions);
	json_str(f, veil_engine_name(r->engine));
	fputs(",\"sources\":[", f);
	for (unsigned s = 0; s < r->cfg.n_sources; s++) {
		struct vdp_counters cc;
		const struct vdp_counters *c = &cc;
		src_counters(r, s, &cc);
		fputs(s ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, r->cfg.sources[s].name);
		fputs(",\"tenant\":", f);
		json_str(f, r->cfg.sources[s].tenant);
		fputs(",\"format\":", f);
		json_str(f, r->cfg.sources[s].format);
		fprintf(f, ",\"lines_in\":%llu,\"lines_out\":%llu,\"lines_dropped\":"
			"%llu,\"identities\":%llu}", (unsigned long long)c->lines_in,
			(unsigned long long)c->lines_out,
			(unsigned long long)c->lines_dropped,
			(unsigned long long)c->identities);
	}
	fputs("],\"no_key\":[", f);
	bool first = true;
	for (unsigned i = 0; t->tenant_nokey && i < vdd_keys_tenants(r->keys); i++) {
		if (t->tenant_nokey[i] == 0)
			continue;
		fputs(first ? "{\"tenant\":" : ",{\"tenant\":", f);
		first = false;
		json_str(f, vdd_keys_tenant_id(r->keys, i));
		fprintf(f, ",\"lines\":%llu,\"why\":", (unsigned long long)t->tenant_nokey[i]);
		json_str(f, vdd_keys_why(r->keys, i, why, sizeof(why)));
		fputc('}', f);
	}
	fputs("],\"error\":", f);
	if (error != NULL)
		json_str(f, error);
	else
		fputs("null", f);
	fprintf(f, ",\"exit\":%d}\n", status);
}

/* ---- options ---- */

struct in_opt {
	const char *path, *tenant, *format, *source;
};

static int parse_options(struct run *r, int argc, char **argv, bool *check,
			 bool eal_hint, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "tenant", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "source", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "link", required_argument, NULL, 'L' },
		{ "wait-keys", required_argument, NULL, 'w' },
		{ "max-message", required_argument, NULL, 'm' },
		{ "check", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct in_opt *ins = calloc(VDD_MAX_INPUTS, sizeof(*ins));
	const char *tenant = NULL, *format = NULL, *source = NULL, *config = NULL;
	const char *link = NULL, *wait = NULL, *maxmsg = NULL;
	unsigned n_in = 0;
	int c, rc = -1;

	if (ins == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:nh", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (n_in == VDD_MAX_INPUTS) {
				snprintf(err, errlen, "more than %d inputs", VDD_MAX_INPUTS);
				goto out;
			}
			ins[n_in++] = (struct in_opt){ optarg, tenant, format, source };
			break;
		case 'o': r->out_path = optarg; break;
		case 't': tenant = optarg; break;
		case 'F': format = optarg; break;
		case 's': source = optarg; break;
		case 'c': config = optarg; break;
		case 'L': link = optarg; break;
		case 'w': wait = optarg; break;
		case 'm': maxmsg = optarg; break;
		case 'n': *check = true; break;
		case 'j': r->json = true; break;
		case 'h': r->help = true; rc = 0; goto out;
		default:
			snprintf(err, errlen, "unknown option or missing value: %s%s",
				 argv[optind - 1], eal_hint ? " (EAL options go "
				 "before --: veil-dataplane [EAL options] -- [options])"
				 : "");
			goto out;
		}
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument \"%s\" (inputs are given "
			 "with --in)", argv[optind]);
		goto out;
	}
	if (vdd_config_load(&r->cfg, config, err, errlen) != 0)
		goto out;
	if (link != NULL) {
		char e[200];
		if (vdd_link_socket_check(link, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "--link: %s", e);
			goto out;
		}
		strcpy(r->cfg.link_socket, link);
	}
	if (wait != NULL) {
		char *end;
		double w = strtod(wait, &end);
		if (end == wait || *end != '\0' || !(w >= 0 && w <= 86400)) {
			snprintf(err, errlen, "--wait-keys: \"%s\" is not a number of "
				 "seconds from 0 to 86400", wait);
			goto out;
		}
		r->cfg.wait_keys = w;
	}
	if (maxmsg != NULL) {
		char *end;
		unsigned long long m = strtoull(maxmsg, &end, 10);
		if (end == maxmsg || *end != '\0' || m < 64 || m > VDD_MAX_MESSAGE) {
			snprintf(err, errlen, "--max-message: \"%s\" is not a number of "
				 "bytes from 64 to %u", maxmsg, VDD_MAX_MESSAGE);
			goto out;
		}
		r->cfg.max_message = (size_t)m;
	}
	if (n_in == 0 && vdr_net_cfg_driver(r->cfg.net) != NULL) {
		/* network mode: the sources come from the config file */
		if (r->out_path != NULL || tenant != NULL || format != NULL ||
		    source != NULL) {
			snprintf(err, errlen, "--out, --tenant, --format and --source "
				 "are for snapshot mode (--in); in network mode the "
				 "config file's [source NAME] and [upstream NAME] "
				 "sections say them");
			goto out;
		}
		if (r->cfg.n_sources == 0) {
			snprintf(err, errlen, "network mode needs a [source NAME] "
				 "section (tenant, format, networks)");
			goto out;
		}
		r->network = true;
		rc = 0;
		goto out;
	}
	/* a filter: stdin to stdout; but -n -c FILE alone checks the file,
	 * whose [source NAME] sections the inputs pick later */
	if (n_in == 0 && !(*check && tenant == NULL && source == NULL))
		ins[n_in++] = (struct in_opt){ "-", tenant, format, source };
	for (unsigned i = 0; i < n_in; i++) {
		int s;
		if (ins[i].source != NULL) {
			s = vdd_source_find(&r->cfg, ins[i].source);
			if (s < 0 || !r->cfg.sources[s].from_config) {
				snprintf(err, errlen, "--source %s: no [source %s] in "
					 "the config file%s", ins[i].source, ins[i].source,
					 config ? "" : " (give it with -c)");
				goto out;
			}
		} else {
			s = vdd_source_add_cli(&r->cfg, ins[i].path,
					       ins[i].tenant ? ins[i].tenant : tenant,
					       ins[i].format ? ins[i].format : format,
					       err, errlen);
			if (s < 0)
				goto out;
		}
		r->cfg.inputs[r->cfg.n_inputs++] =
			(struct vdd_input_cfg){ ins[i].path, (unsigned)s };
		if (!strcmp(ins[i].path, "-"))
			r->from_stdin = true;
	}
	rc = 0;
out:
	free(ins);
	return rc;
}

/* The veil options follow "--"; with no "--" every argument is ours. */
static int split_args(int argc, char **argv, int *dd)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			*dd = i;
			return 1;
		}
	*dd = 0;
	return 0;
}

int main(int argc, char **argv)
{
	struct run r;
	char err[512] = "";
	int dd, status = EXIT_OK;
	bool check = false;

	memset(&r, 0, sizeof(r));
	bool has_dd = split_args(argc, argv, &dd);
	int vfirst = has_dd ? dd + 1 : 1;
	int vargc = argc - vfirst + 1;
	char **vargv = calloc((size_t)vargc + 1, sizeof(char *));
	char **eargv = calloc((size_t)argc + 8, sizeof(char *));
	if (vargv == NULL || eargv == NULL)
		return EXIT_FAILED;
	vargv[0] = argv[0];
	for (int i = vfirst; i < argc; i++)
		vargv[i - vfirst + 1] = argv[i];

	/* our options first: -h and -n need no EAL */
	if (parse_options(&r, vargc, vargv, &check, !has_dd, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-dataplane: %s\n(veil-dataplane --help for the "
			"options)\n", err);
		vdd_config_free(&r.cfg);
		free(vargv);
		free(eargv);
		return EXIT_USAGE;
	}
	if (r.help) {
		fputs(usage_text, stdout);
		vdd_config_free(&r.cfg);
		free(vargv);
		free(eargv);
		return EXIT_OK;
	}
	if (r.cfg.hold_bytes < 2 * r.cfg.max_message)
		r.cfg.hold_bytes = 2 * r.cfg.max_message; /* any line fits */
	if (check) {
		if (r.network) {
			char desc[2048];
			vdr_net_cfg_describe(r.cfg.net, desc, sizeof(desc));
			printf("configuration OK: network mode, %s driver, %u sources, "
			       "link %s\n%s", vdr_net_cfg_driver(r.cfg.net),
			       r.cfg.n_sources, r.cfg.link_socket, desc);
		} else
			printf("configuration OK: %u sources, %u inputs, link %s\n",
			       r.cfg.n_sources, r.cfg.n_inputs, r.cfg.link_socket);
		vdd_config_free(&r.cfg);
		free(vargv);
		free(eargv);
		return EXIT_OK;
	}

	/* EAL: the user's options, or the snapshot defaults */
	int eargc = 0;
	eargv[eargc++] = argv[0];
	eargv[eargc++] = "--log-level=lib.eal:warning"; /* the user's wins */
	bool dpdk = r.network && !strcmp(vdr_net_cfg_driver(r.cfg.net), "dpdk");
	if (dpdk && (!has_dd || dd == 1)) {
		fprintf(stderr, "veil-dataplane: [network] driver = dpdk needs EAL "
			"options for its ports, before --: e.g. veil-dataplane -l 0-1 "
			"-a 0000:3b:00.0 -- -c FILE, or in a lab --no-huge --no-pci "
			"--vdev=net_pcap0,iface=eth1 -- -c FILE\n");
		vdd_config_free(&r.cfg);
		free(vargv);
		free(eargv);
		return EXIT_USAGE;
	}
	if (!has_dd || dd == 1) {
		eargv[eargc++] = "--no-huge";
		eargv[eargc++] = "--no-pci";
		eargv[eargc++] = "--no-shconf";
		eargv[eargc++] = "--no-telemetry";
	} else
		for (int i = 1; i < dd; i++)
			eargv[eargc++] = argv[i];
	rte_set_application_usage_hook(print_usage);
	int used = rte_eal_init(eargc, eargv);
	if (used < 0 || used != eargc - 1) {
		if (used < 0)
			fprintf(stderr, "veil-dataplane: EAL initialisation failed: "
				"%s\n", rte_strerror(rte_errno));
		else
			fprintf(stderr, "veil-dataplane: unexpected EAL argument "
				"\"%s\" (veil-dataplane's options come after --)\n",
				eargv[used + 1]);
		if (used >= 0)
			rte_eal_cleanup();
		vdd_config_free(&r.cfg);
		free(vargv);
		free(eargv);
		return used < 0 ? EXIT_FAILED : EXIT_USAGE;
	}
	telemetry_register(); /* served unless --no-telemetry */
	/* keys from here on: no core dumps, no ptrace by other users */
	prctl(PR_SET_DUMPABLE, 0);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char eerr[160] = "";
	struct veil_engine_opts eo;
	struct vdr_file_input *fin = calloc(r.cfg.n_inputs, sizeof(*fin));
	struct vdp_source **srcs = calloc(r.cfg.n_sources, sizeof(*srcs));
	if (fin == NULL || srcs == NULL) {
		fprintf(stderr, "veil-dataplane: out of memory\n");
		status = EXIT_FAILED;
		goto done;
	}
	if (veil_engine_opts_from_env(&eo, eerr, sizeof(eerr)) != 0 ||
	    (r.engine = veil_engine_new(&eo)) == NULL) {
		fprintf(stderr, "veil-dataplane: crypto engine: %s\n",
			eerr[0] ? eerr : strerror(errno));
		status = EXIT_FAILED;
		goto done;
	}
	for (unsigned s = 0; s < r.cfg.n_sources; s++)
		srcs[s] = r.cfg.sources[s].src;
	r.pipe = vdp_worker_new(r.engine, srcs, r.cfg.n_sources);
	if (r.pipe == NULL) {
		fprintf(stderr, "veil-dataplane: worker: %s\n", strerror(errno));
		status = EXIT_FAILED;
		goto done;
	}
	for (unsigned i = 0; i < r.cfg.n_inputs; i++)
		fin[i] = (struct vdr_file_input){ r.cfg.inputs[i].path,
						  (uint16_t)r.cfg.inputs[i].source };
	/* two or more worker lcores: a worker on each. With the dpdk driver
	 * each polls its own queue pair and the main lcore does the
	 * housekeeping; otherwise the main lcore reads, distributes, writes
	 * in order and does the housekeeping */
	unsigned lc;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (r.n_lanes < VDD_MAX_WORKERS)
			r.lane_lcore[r.n_lanes++] = lc;
	}
	if (r.n_lanes < 2)
		r.n_lanes = 0;
	r.per_queue = dpdk && r.n_lanes > 0;
	if (!r.network)
		r.drv = vdr_file_new(fin, r.cfg.n_inputs, r.out_path,
				     r.cfg.max_message, err, sizeof(err));
	else if (dpdk)
		r.drv = vdr_dpdk_new(r.cfg.net, r.cfg.max_message,
				     r.per_queue ? r.n_lanes : 1, err, sizeof(err));
	else
		r.drv = vdr_socket_new(r.cfg.net, r.cfg.max_message, 0, err,
				       sizeof(err));
	if (r.drv == NULL) {
		fprintf(stderr, "veil-dataplane: %s\n", err);
		status = EXIT_FAILED;
		goto done;
	}
	/* the driver's counter names, for the summary and telemetry */
	{
		uint64_t v[VDD_MAX_XSTATS];
		unsigned nx = vdr_xstats(r.drv, sh.xname, v, VDD_MAX_XSTATS);
		sh.n_x = nx < VDD_MAX_XSTATS ? nx : VDD_MAX_XSTATS;
	}
	if (r.network) {
		char desc[2048];
		vdr_net_cfg_describe(r.cfg.net, desc, sizeof(desc));
		fprintf(stderr, "veil-dataplane: network mode, %s driver, %u "
			"sources\n%s", vdr_name(r.drv), r.cfg.n_sources, desc);
	}
	r.keys = vdd_keys_new(&sh, &r.cfg);
	if (r.keys == NULL) {
		fprintf(stderr, "veil-dataplane: %s\n", strerror(errno));
		status = EXIT_FAILED;
		goto done;
	}
	r.progress = isatty(STDERR_FILENO) && !r.json;

	for (unsigned i = 0; i < r.n_lanes; i++) {
		r.lane_engine[i] = veil_engine_new(&eo);
		r.lane_pipe[i] = r.lane_engine[i] ?
			vdp_worker_new(r.lane_engine[i], srcs, r.cfg.n_sources) : NULL;
		if (r.lane_pipe[i] == NULL) {
			fprintf(stderr, "veil-dataplane: worker %u: %s\n", i,
				strerror(errno));
			status = EXIT_FAILED;
			goto done;
		}
	}
	r.n_loops = r.per_queue ? r.n_lanes : 1;
	for (unsigned i = 0; i < r.n_loops; i++) {
		r.loop[i] = r.per_queue
			? vdd_worker_new(&sh, r.lane_pipe[i], vdr_dpdk_worker(r.drv, i),
					 r.cfg.n_sources, r.cfg.wait_keys,
					 r.cfg.hold_lines, r.cfg.hold_bytes)
			: vdd_worker_new(&sh, r.pipe, r.drv, r.cfg.n_sources,
					 r.cfg.wait_keys, r.cfg.hold_lines,
					 r.cfg.hold_bytes);
		if (r.loop[i] == NULL) {
			fprintf(stderr, "veil-dataplane: worker %u: %s\n", i,
				strerror(errno));
			status = EXIT_FAILED;
			goto done;
		}
		/* network mode: each sender's order, not the interleaving of
		 * senders: a tenant waiting for its key does not hold the
		 * others' lines */
		vdd_worker_set_order(r.loop[i], r.network);
		if (r.per_queue)
			vdd_worker_set_slot(r.loop[i], i);
	}
	if (r.per_queue) {
		sh.n_workers = r.n_lanes;
		sh.per_worker = true;
	}
	if (r.n_lanes > 0 && !r.per_queue &&
	    (r.pool = vdd_pool_new(r.loop[0], r.lane_pipe, r.n_lanes)) == NULL) {
		fprintf(stderr, "veil-dataplane: workers: %s\n", strerror(errno));
		status = EXIT_FAILED;
		goto done;
	}

	/* one worker: on a worker lcore, or here when there is none; two or
	 * more: the workers on their lcores, the distributor here */
	r.t0 = vdd_now();
	r.next_progress = r.t0 + 1.0;
	telemetry_publish(&r);
	int wrc;
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	if (r.per_queue) {
		unsigned launched = 0;
		wrc = 0;
		for (; launched < r.n_lanes; launched++)
			if (rte_eal_remote_launch(worker_main, r.loop[launched],
						  r.lane_lcore[launched]) != 0) {
				fprintf(stderr, "veil-dataplane: cannot launch worker "
					"%u on lcore %u\n", launched,
					r.lane_lcore[launched]);
				atomic_store(&sh.stop, true);
				wrc = -1;
				break;
			}
		while (atomic_load_explicit(&sh.n_done, memory_order_acquire) <
		       launched) {
			vdd_shared_gather(&sh);
			housekeeping(&r);
			usleep(2000);
		}
		for (unsigned i = 0; i < launched; i++)
			if (rte_eal_wait_lcore(r.lane_lcore[i]) != 0)
				wrc = -1;
		vdd_shared_gather(&sh);
	} else if (r.pool != NULL) {
		struct lane_arg la[VDD_MAX_WORKERS];
		for (unsigned i = 0; i < r.n_lanes; i++) {
			la[i] = (struct lane_arg){ r.pool, i };
			if (rte_eal_remote_launch(lane_main, &la[i], r.lane_lcore[i]) != 0) {
				fprintf(stderr, "veil-dataplane: cannot launch worker "
					"%u on lcore %u\n", i, r.lane_lcore[i]);
				vdd_pool_stop(r.pool);
				for (unsigned j = 0; j < i; j++)
					rte_eal_wait_lcore(r.lane_lcore[j]);
				status = EXIT_FAILED;
				goto done;
			}
		}
		vdd_worker_set_inline(r.loop[0], housekeeping, &r);
		wrc = vdd_worker_run(r.loop[0]);
		for (unsigned i = 0; i < r.n_lanes; i++)
			rte_eal_wait_lcore(r.lane_lcore[i]);
	} else if (lcore < RTE_MAX_LCORE &&
	    rte_eal_remote_launch(worker_main, r.loop[0], lcore) == 0) {
		while (!atomic_load_explicit(&sh.done, memory_order_acquire)) {
			housekeeping(&r);
			usleep(2000);
		}
		wrc = rte_eal_wait_lcore(lcore);
	} else {
		vdd_worker_set_inline(r.loop[0], housekeeping, &r);
		wrc = vdd_worker_run(r.loop[0]);
	}
	r.t1 = vdd_now();
	vdd_keys_poll(r.keys, true); /* the last counters go up */
	telemetry_publish(&r);
	progress(&r, true);

	struct totals t;
	totals(&r, &t);
	const char *error = NULL;
	for (unsigned i = 0; wrc != 0 && i < r.n_loops; i++)
		if (error == NULL || error[0] == '\0')
			error = vdd_worker_error(r.loop[i]);
	if (wrc != 0 && (error == NULL || error[0] == '\0'))
		error = "a worker could not start";
	uint64_t nokey = t.sum.drops[VDP_R_NO_KEY];
	/* lines left in an upstream's spool are not lost: the next run sends
	 * them; lines held for a key, or not written, are */
	if (error != NULL || nokey > 0 || t.held > t.st.tx_held ||
	    t.not_written > 0 || t.st.rx_errors > 0)
		status = EXIT_FAILED;
	if (t.st.rx_errors > 0 && error == NULL && vdr_error(r.drv)[0])
		error = vdr_error(r.drv);
	if (r.json)
		summary_json(&r, &t, r.t1 - r.t0, error, status);
	else
		summary_text(&r, &t, r.t1 - r.t0, error);
	free(t.tenant_nokey);
done:
	vdd_pool_free(r.pool);
	for (unsigned i = 0; i < r.n_loops; i++)
		vdd_worker_free(r.loop[i]);
	vdr_free(r.drv);
	vdp_worker_free(r.pipe);
	for (unsigned i = 0; i < r.n_lanes; i++) {
		vdp_worker_free(r.lane_pipe[i]);
		veil_engine_free(r.lane_engine[i]);
	}
	veil_engine_free(r.engine);
	vdd_keys_free(r.keys);
	vdd_config_free(&r.cfg);
	free(fin);
	free(srcs);
	free(vargv);
	free(eargv);
	rte_eal_cleanup();
	return status;
}
