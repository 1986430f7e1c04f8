/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's DPDK telemetry: /veil/counters, /veil/workers,
 * /veil/keys, /veil/link, /veil/driver.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dpd_run.h"

/* ---- DPDK telemetry: /veil/counters, /veil/workers, /veil/keys, /veil/link ----
 *
 * The callbacks run on DPDK's telemetry thread. The counters are the
 * worker's published totals (vdd_sh.ctr, vdd_sh.wctr: relaxed atomic loads of
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

void vdd_telemetry_publish(const struct vdd_run *r)
{
	unsigned n = r->keys ? vdd_keys_tenants(r->keys) : 0;
	/* the tenants are known from the start: their copy is made once */
	struct tel_tenant *t = tel.t == NULL && n > 0 ? calloc(n, sizeof(*t)) : NULL;
	pthread_mutex_lock(&tel.lock);
	tel.n_workers = vdd_sh.n_workers > 1 ? vdd_sh.n_workers : 1;
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
			&vdd_sh.ctr[c], memory_order_relaxed));
	}
	pthread_mutex_lock(&tel.lock);
	unsigned nw = tel.n_workers;
	pthread_mutex_unlock(&tel.lock);
	rte_tel_data_add_dict_u64(d, "workers", nw);
	rte_tel_data_add_dict_u64(d, "inputs_done", atomic_load_explicit(
		&vdd_sh.rx_inputs_done, memory_order_relaxed));
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
				nw > 1 ? &vdd_sh.wctr[i][c] : &vdd_sh.ctr[c],
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
	unsigned n = vdd_sh.n_x; /* set before telemetry is registered */
	for (unsigned i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(d, vdd_sh.xname[i], atomic_load_explicit(
			&vdd_sh.xval[i], memory_order_relaxed));
	return 0;
}

/* (DPDK takes help texts of up to 127 characters: a longer one fails the
 * registration) */
void vdd_telemetry_register(void)
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
