/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl stats and status: the dataplane's upstream collectors and
 * listeners (each upstream's state, what waits in memory and in its spool,
 * what it delivered, dropped and why; the kernel's drops at each UDP
 * listener), as the dataplane last sent them up the link.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "veilctl_pvt.h"

/* "DOWN", "connected", ...: what stands out is in capitals. */
static const char *state_text(json_t *u)
{
	const char *s = str(u, "state");
	return !strcmp(s, "down") ? "DOWN" : s;
}

/* Seconds since @p ms (ms since 1970), or -1 when it is not known. */
static long long ago_s(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		return -1;
	long long d = (long long)time(NULL) * 1000 - json_integer_value(v);
	return d > 0 ? d / 1000 : 0;
}

/* "queue-full 3, spool-full 1" of the reasons with a count, or "". */
static void drops_text(json_t *u, char *buf, size_t cap)
{
	const char *k;
	json_t *v;
	size_t n = 0;
	buf[0] = '\0';
	json_object_foreach(json_object_get(u, "dropped"), k, v)
		if (json_integer_value(v) > 0 && n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s %lld", n ? ", " : "",
					      k, (long long)json_integer_value(v));
}

void print_net_stats(json_t *a)
{
	size_t i;
	json_t *u;
	json_t *ups = json_object_get(a, "upstreams"), *lis = json_object_get(a, "listeners");
	if (json_array_size(ups) > 0)
		printf("%-12s %-5s %-24s %-9s %7s %10s %12s %10s %12s %10s %8s %8s\n",
		       "UPSTREAM", "PROTO", "ADDRESS", "STATE", "SINCE", "QUEUED", "QUEUED B",
		       "SPOOLED", "DELIVERED", "DROPPED", "RESENT", "CONNECTS");
	json_array_foreach(ups, i, u) {
		char since[24] = "-";
		long long s = ago_s(u, "since_ms");
		if (s >= 0)
			snprintf(since, sizeof(since), "%llds", s);
		printf("%-12s %-5s %-24s %-9s %7s %10lld %12lld %10lld %12lld %10lld %8lld %8lld\n",
		       str(u, "name"), str(u, "protocol"), str(u, "address"), state_text(u),
		       since, num(u, "queued_lines"), num(u, "queued_bytes"),
		       num(u, "spooled_lines"), num(u, "delivered"), num(u, "dropped_lines"),
		       num(u, "resent"), num(u, "reconnects"));
	}
	json_array_foreach(ups, i, u) {
		char d[512];
		drops_text(u, d, sizeof(d));
		if (d[0])
			printf("upstream %s dropped by reason: %s\n", str(u, "name"), d);
	}
	if (json_array_size(lis) > 0)
		printf("%-12s %-5s %-24s %12s\n", "LISTENER", "PROTO", "ADDRESS", "KERNEL DROPS");
	json_array_foreach(lis, i, u) {
		char kd[24] = "-"; /* the kernel's drops are a UDP socket's */
		if (!strcmp(str(u, "protocol"), "udp"))
			snprintf(kd, sizeof(kd), "%lld", num(u, "kernel_drops"));
		printf("%-12s %-5s %-24s %12s\n", str(u, "name"), str(u, "protocol"),
		       str(u, "address"), kd);
	}
}

void print_net_status(json_t *a)
{
	size_t i;
	json_t *u;
	json_array_foreach(json_object_get(a, "upstreams"), i, u) {
		long long s = ago_s(u, "since_ms");
		char d[512];
		printf("upstream %s (%s %s): %s", str(u, "name"), str(u, "protocol"),
		       str(u, "address"), state_text(u));
		if (s >= 0)
			printf(" for %llds", s);
		printf("; %lld lines waiting in memory, %lld in the spool; %lld delivered, "
		       "%lld dropped", num(u, "queued_lines"), num(u, "spooled_lines"),
		       num(u, "delivered"), num(u, "dropped_lines"));
		drops_text(u, d, sizeof(d));
		if (d[0])
			printf(" (%s)", d);
		putchar('\n');
	}
	json_array_foreach(json_object_get(a, "listeners"), i, u)
		if (num(u, "kernel_drops") > 0)
			printf("listener %s (%s %s): %lld datagrams DROPPED by the kernel "
			       "(its receive buffer was full: raise udp_rcvbuf and "
			       "net.core.rmem_max)\n", str(u, "name"), str(u, "protocol"),
			       str(u, "address"), num(u, "kernel_drops"));
}
