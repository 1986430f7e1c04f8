/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld's metrics for Prometheus (metrics.c): served over HTTP by
 * libmicrohttpd in a thread of its own on metrics_listen. The poll loop
 * publishes a snapshot of the numbers (ctl_metrics_tick); the HTTP thread
 * only formats the last snapshot, so a scrape never touches the daemon's
 * state and never holds up the loop longer than a copy under a mutex.
 */
#ifndef VEIL_CTLD_METRICS_H
#define VEIL_CTLD_METRICS_H

#include "ctld_pvt.h"

/* Bind metrics_listen (nothing when it is off): before daemon(), so that
 * an address in use stops the start with the error. 0, or -1 with why. */
int ctl_metrics_open(struct ctld *d, char *err, size_t errlen);
/* Take the first snapshot and start the HTTP thread: after daemon() (a
 * thread does not survive the fork). 0, or -1 with why. */
int ctl_metrics_start(struct ctld *d, char *err, size_t errlen);
/* From the poll loop, every pass: a new snapshot when one is due (every
 * second, or sooner after a request). callers: API connections open. */
void ctl_metrics_tick(struct ctld *d, unsigned callers);
/* Stop the thread, close the socket. */
void ctl_metrics_stop(void);

#endif
