/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * dpdk_echo: the dpdk driver alone, for tests. Initialise EAL, start the
 * driver from the network sections of a config file, and forward every
 * message unchanged (a pass-through burst: no pipeline, no keys) until
 * SIGTERM/SIGINT, or until the ports have been idle for --idle seconds
 * after the first frame. Then print the driver's counters as one JSON
 * object on stdout: {"stats": {...}, "xstats": {...}, "sources": [...]}.
 *
 *   dpdk_echo EAL-OPTIONS -- --config FILE [--max-msg N] [--idle S]
 *             [--upper]
 *
 * Config: [network], [port NAME], [upstream NAME], [listen NAME] as for
 * veil-dataplane, and [source NAME] with "networks =" (sources are
 * numbered from 0 in file order). --upper sends each line in upper case,
 * so that a test sees that what leaves was built from what came in.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ini.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "veil_driver.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct load {
	struct vdr_net_cfg *c;
	char section[128];
	int n_src;
	char err[320];
};

static int on_key(void *arg, const char *section, const char *key,
		  const char *value)
{
	struct load *l = arg;
	char e[256] = "";
	if (strncmp(section, "source ", 7) == 0) {
		if (strcmp(l->section, section) != 0) {
			snprintf(l->section, sizeof(l->section), "%s", section);
			l->n_src++;
		}
		if (strcmp(key, "networks") == 0) {
			char buf[1024];
			snprintf(buf, sizeof(buf), "%s", value);
			for (char *s = NULL, *t = strtok_r(buf, ", ", &s); t;
			     t = strtok_r(NULL, ", ", &s))
				if (vdr_net_cfg_map(l->c, t, (uint16_t)(l->n_src - 1),
						    e, sizeof(e)) != 0)
					goto bad;
		}
		return 1;
	}
	if (!vdr_net_cfg_section(section))
		return 1;
	if (vdr_net_cfg_set(l->c, section, key, value, e, sizeof(e)) == 0)
		return 1;
bad:
	snprintf(l->err, sizeof(l->err), "[%s] %s: %s", section, key, e);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xstat(struct vdr_driver *d, const char *name)
{
	const char *names[128];
	uint64_t vals[128];
	unsigned n = vdr_xstats(d, names, vals, 128);
	for (unsigned i = 0; i < n && i < 128; i++)
		if (strcmp(names[i], name) == 0)
			return vals[i];
	return 0;
}

static void print_json(struct vdr_driver *d, const uint64_t *per_src,
		       unsigned n_src)
{
	struct vdr_stats st;
	vdr_stats(d, &st);
	printf("{\"stats\": {\"rx_msgs\": %llu, \"rx_bytes\": %llu, "
	       "\"rx_oversize\": %llu, \"tx_msgs\": %llu, \"tx_bytes\": %llu, "
	       "\"tx_errors\": %llu, \"tx_lost\": %llu}, \"xstats\": {",
	       (unsigned long long)st.rx_msgs, (unsigned long long)st.rx_bytes,
	       (unsigned long long)st.rx_oversize, (unsigned long long)st.tx_msgs,
	       (unsigned long long)st.tx_bytes, (unsigned long long)st.tx_errors,
	       (unsigned long long)st.tx_lost);
	const char *names[128];
	uint64_t vals[128];
	unsigned n = vdr_xstats(d, names, vals, 128);
	for (unsigned i = 0; i < n && i < 128; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", names[i],
		       (unsigned long long)vals[i]);
	printf("}, \"sources\": [");
	for (unsigned i = 0; i < n_src; i++)
		printf("%s%llu", i ? ", " : "", (unsigned long long)per_src[i]);
	printf("]}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "dpdk_echo: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= used;
	argv += used;
	const char *config = NULL;
	size_t max_msg = 8192;
	double idle = 0;
	bool upper = false;
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "max-msg", required_argument, NULL, 'm' },
		{ "idle", required_argument, NULL, 'i' },
		{ "upper", no_argument, NULL, 'u' },
		{ 0 },
	};
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'm': max_msg = strtoul(optarg, NULL, 10); break;
		case 'i': idle = strtod(optarg, NULL); break;
		case 'u': upper = true; break;
		default: return 2;
		}
	}
	if (config == NULL) {
		fprintf(stderr, "dpdk_echo: --config FILE is needed\n");
		return 2;
	}
	struct load l = { .c = vdr_net_cfg_new() };
	if (l.c == NULL)
		return 1;
	int rc = ini_parse(config, on_key, &l);
	char err[320] = "";
	if (rc != 0) {
		fprintf(stderr, "dpdk_echo: %s: %s (line %d)\n", config,
			l.err[0] ? l.err : "cannot read", rc);
		return 1;
	}
	if (vdr_net_cfg_check(l.c, err, sizeof(err)) != 0) {
		fprintf(stderr, "dpdk_echo: %s: %s\n", config, err);
		return 1;
	}
	struct vdr_driver *d = vdr_dpdk_new(l.c, max_msg, 1, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "dpdk_echo: %s\n", err);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "dpdk_echo: running\n");

	static struct vdp_line lines[VDP_BURST_MAX];
	static struct vdp_seg segs[VDP_BURST_MAX];
	static struct vdp_burst b;
	static char up[VDP_BURST_MAX][65536];
	uint64_t per_src[64] = { 0 };
	uint64_t seen = 0;
	double last = now_s();
	int status = 0;
	while (!stop) {
		int n = vdr_rx(d, lines, VDP_BURST_MAX);
		if (n < 0) {
			fprintf(stderr, "dpdk_echo: rx: %s\n", vdr_error(d));
			status = 1;
			break;
		}
		/* take them in two steps, to exercise vdr_rx_return */
		if (n > 1) {
			vdr_rx_return(d, (unsigned)n / 2);
			n -= n / 2;
		}
		b.n = (unsigned)n;
		b.segs = segs;
		for (int i = 0; i < n; i++) {
			const char *p = lines[i].data;
			if (upper) {
				for (uint32_t k = 0; k < lines[i].len; k++)
					up[i][k] = (char)toupper((unsigned char)p[k]);
				p = up[i];
			}
			segs[i] = (struct vdp_seg){ .p = p, .len = lines[i].len };
			b.line[i] = (struct vdp_out){ .verdict = VDP_FORWARD,
						      .n_segs = 1,
						      .first_seg = (uint32_t)i,
						      .len = lines[i].len };
			if (lines[i].src < 64)
				per_src[lines[i].src]++;
		}
		if (n > 0 && vdr_tx(d, &b) < 0) {
			fprintf(stderr, "dpdk_echo: tx: %s\n", vdr_error(d));
			status = 1;
			break;
		}
		uint64_t rx = xstat(d, "rx_packets");
		double t = now_s();
		if (rx != seen) {
			seen = rx;
			last = t;
		} else if (idle > 0 && seen > 0 && t - last > idle)
			break;
	}
	vdr_flush(d);
	print_json(d, per_src, (unsigned)(l.n_src > 0 ? l.n_src : 1));
	vdr_free(d);
	vdr_net_cfg_free(l.c);
	rte_eal_cleanup();
	return status;
}
