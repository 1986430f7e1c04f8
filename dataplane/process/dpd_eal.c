/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's EAL: its arguments (the user's, before "--", or the
 * snapshot defaults) and its start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "dpd_run.h"

static void print_usage(const char *prog)
{
	(void)prog;
	fputs(vdd_usage_text, stderr);
}

int vdd_eal_start(struct vdd_run *r, int argc, char **argv)
{
	char **eargv = r->eargv = calloc((size_t)argc + 8, sizeof(char *));
	if (eargv == NULL)
		return EXIT_FAILED;
	/* the user's options, or the snapshot defaults */
	int eargc = 0;
	eargv[eargc++] = argv[0];
	/* rte_eal_init() takes char **: arrays of our own, not literals */
	static char log_level[] = "--log-level=lib.eal:warning",
		    no_huge[] = "--no-huge", no_pci[] = "--no-pci",
		    no_shconf[] = "--no-shconf", no_telemetry[] = "--no-telemetry";
	eargv[eargc++] = log_level; /* the user's wins */
	bool user_eal = r->has_dd && r->dd > 1;
	if (r->dpdk && !user_eal) {
		fprintf(stderr, "veil-dataplane: [network] driver = dpdk needs EAL "
			"options for its ports, before --: e.g. veil-dataplane -l 0-1 "
			"-a 0000:3b:00.0 -- -c FILE, or in a lab --no-huge --no-pci "
			"--vdev=net_pcap0,iface=eth1 -- -c FILE\n");
		return EXIT_USAGE;
	}
	if (!user_eal) {
		eargv[eargc++] = no_huge;
		eargv[eargc++] = no_pci;
		eargv[eargc++] = no_shconf;
		eargv[eargc++] = no_telemetry;
	} else
		for (int i = 1; i < r->dd; i++)
			eargv[eargc++] = argv[i];
	rte_set_application_usage_hook(print_usage);
	int used = rte_eal_init(eargc, eargv);
	r->eal_up = used >= 0;
	if (used < 0) {
		fprintf(stderr, "veil-dataplane: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return EXIT_FAILED;
	}
	if (used != eargc - 1) {
		fprintf(stderr, "veil-dataplane: unexpected EAL argument \"%s\" "
			"(veil-dataplane's options come after --)\n",
			eargv[used + 1]);
		return EXIT_USAGE;
	}
	return -1;
}
