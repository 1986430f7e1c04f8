/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane and systemd (Type=notify, WatchdogSec=): READY=1 once
 * the ports are up and the privileges dropped, STATUS= with the lines in
 * and out every second, and WATCHDOG=1 every half WatchdogSec, but only
 * while every worker loop makes progress: each counts its rounds
 * (vdd_shared.beat) and a loop stuck in a write that does not return, a
 * driver that hangs or a deadlock stops them. The main lcore then stops
 * pinging and systemd kills the process and starts it again
 * (Restart=on-failure). Without $NOTIFY_SOCKET (a terminal, the tests'
 * plain runs) sd_notify() does nothing.
 */
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "dpd_run.h"

static struct {
	uint64_t usec;         /* WATCHDOG_USEC, 0: no watchdog */
	double next_ping, next_status;
	uint64_t last[VDD_MAX_WORKERS]; /* each loop's rounds at the last look */
	bool stalled;
} nt;

static unsigned n_loops(void)
{
	return vdd_sh.per_worker && vdd_sh.n_workers > 0 ? vdd_sh.n_workers : 1;
}

static void notify(const char *state)
{
	int rc = sd_notify(0, state);
	if (rc < 0)
		fprintf(stderr, "veil-dataplane: sd_notify: %s\n", strerror(-rc));
}

static void status(const struct vdd_run *r, const char *first)
{
	struct vdd_link_info li = { 0 };
	if (r->keys != NULL)
		vdd_keys_link(r->keys, &li);
	char msg[256];
	snprintf(msg, sizeof(msg), "%sSTATUS=lines in %llu, out %llu, dropped %llu; "
		 "link to veil-controld %s%s", first,
		 (unsigned long long)atomic_load(&vdd_sh.ctr[VEIL_LINK_CTR_LINES_IN]),
		 (unsigned long long)atomic_load(&vdd_sh.ctr[VEIL_LINK_CTR_LINES_OUT]),
		 (unsigned long long)atomic_load(&vdd_sh.ctr[VEIL_LINK_CTR_LINES_DROPPED]),
		 li.synced ? "up" : li.connected ? "syncing" : "down",
		 nt.stalled ? "; a worker is stalled" : "");
	notify(msg);
}

void vdd_notify_ready(const struct vdd_run *r)
{
	uint64_t usec = 0;
	nt.usec = sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
	for (unsigned i = 0; i < n_loops(); i++)
		nt.last[i] = atomic_load(&vdd_sh.beat[i]);
	double now = veil_now();
	nt.next_ping = now + (double)nt.usec / 2e6;
	nt.next_status = now + 1;
	status(r, "READY=1\n");
}

/* Did every worker loop go round since the last look? */
static int stalled_loop(void)
{
	int stuck = -1;
	for (unsigned i = 0; i < n_loops(); i++) {
		uint64_t b = atomic_load_explicit(&vdd_sh.beat[i],
						  memory_order_relaxed);
		if (b == nt.last[i] && stuck < 0)
			stuck = (int)i;
		nt.last[i] = b;
	}
	return stuck;
}

void vdd_notify_poll(const struct vdd_run *r)
{
	double now = veil_now();
	if (nt.usec > 0 && now >= nt.next_ping) {
		double half = (double)nt.usec / 2e6;
		nt.next_ping = now + half;
		int stuck = stalled_loop();
		if (stuck < 0) {
			if (nt.stalled)
				fprintf(stderr, "veil-dataplane: the workers make "
					"progress again; watchdog pings resume\n");
			nt.stalled = false;
			notify("WATCHDOG=1");
		} else if (!nt.stalled) {
			nt.stalled = true;
			fprintf(stderr, "veil-dataplane: worker %d made no progress "
				"for %.1f s: no watchdog ping to systemd (it restarts "
				"the process after WatchdogSec)\n", stuck, half);
		}
	}
	if (now >= nt.next_status) {
		nt.next_status = now + 1;
		status(r, "");
	}
}

void vdd_notify_stopping(const struct vdd_run *r)
{
	status(r, "STOPPING=1\n");
}
