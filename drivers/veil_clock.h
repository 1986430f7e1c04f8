/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_clock.h
 * The monotonic clock, one way for every folder (timeouts, backoff,
 * intervals, rates): seconds as a double, or nanoseconds and
 * milliseconds as integers. No DPDK, nothing to link: the bottom layer.
 */
#ifndef VEIL_CLOCK_H
#define VEIL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define VEIL_MS_PER_DAY 86400000
#define VEIL_MS_PER_MINUTE 60000
#define VEIL_S_PER_DAY 86400

static inline uint64_t veil_clock_ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Monotonic nanoseconds. */
static inline uint64_t veil_now_ns(void)
{
	return veil_clock_ns_of(CLOCK_MONOTONIC);
}

/** Monotonic milliseconds. */
static inline uint64_t veil_now_ms(void)
{
	return veil_now_ns() / 1000000u;
}

/** Monotonic seconds. */
static inline double veil_now(void)
{
	return (double)veil_now_ns() / 1e9;
}

/** Monotonic seconds from the coarse clock: a few ms of resolution, a
 *  fraction of the cost per read (per-burst bookkeeping). */
static inline double veil_now_coarse(void)
{
	return (double)veil_clock_ns_of(CLOCK_MONOTONIC_COARSE) / 1e9;
}

#endif
