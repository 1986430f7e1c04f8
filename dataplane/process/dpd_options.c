/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-dataplane's own options, those after "--" (and the usage text).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dpd_run.h"

const char vdd_usage_text[] =
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
	"                    panos, websense, json, asa, barracuda, sonicwall,\n"
	"                    stormshield, watchguard, ifilter, kv, csv\n"
	"  --source NAME     the following --in files belong to [source NAME] of\n"
	"                    the config file (its tenant, format and options)\n"
	"  --explain FILE    preview FILE as an input (like --in): per line the\n"
	"                    format, the identity fields marked, the drops and why,\n"
	"                    then counts; no key needed, nothing forwarded (with\n"
	"                    --json: one JSON object per line, then the summary)\n"
	"Network mode (the config file has [network] and no --in is given): syslog\n"
	"  from the network ([listen NAME] sockets, or [port NAME] DPDK ports), the\n"
	"  anonymized messages to every [upstream NAME], until SIGTERM or SIGINT.\n"
	"  The dpdk driver needs EAL options (the ports: -a PCI or --vdev).\n"
	"options:\n"
	"  -c FILE           config file (INI: [dataplane], [source NAME]; the same\n"
	"                    file as veil-controld's may be used)\n"
	"  --link PATH       veil-controld's link socket (default: the config's\n"
	"                    link_socket, or " VEIL_LINK_DEFAULT_SOCKET ")\n"
	"  --user USER       once the ports are up, become USER with no capability\n"
	"                    (started as root; default: the config's user, or stay)\n"
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
/* ---- options ---- */

struct in_opt {
	const char *path, *tenant, *format, *source;
};

int vdd_parse_options(struct vdd_run *r, int argc, char **argv, bool *check,
		      bool eal_hint, char *err, size_t errlen)
{
	static const struct option lo[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "explain", required_argument, NULL, 'x' },
		{ "out", required_argument, NULL, 'o' },
		{ "tenant", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "source", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "link", required_argument, NULL, 'L' },
		{ "wait-keys", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'U' },
		{ "max-message", required_argument, NULL, 'm' },
		{ "check", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct in_opt *ins = calloc(VDD_MAX_INPUTS, sizeof(*ins));
	const char *tenant = NULL, *format = NULL, *source = NULL, *config = NULL;
	const char *link = NULL, *wait = NULL, *maxmsg = NULL, *user = NULL;
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
		case 'x':
			r->explain = true;
			__attribute__((fallthrough)); /* an input like --in */
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
		case 'U': user = optarg; break;
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
	if (user != NULL) {
		char e[200];
		if (vdd_user_resolve(&r->cfg, user, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "--%s", e);
			goto out;
		}
	}
	if (vdd_user_check(&r->cfg, err, errlen) != 0)
		goto out;
	if (wait != NULL) {
		char *end;
		double w = strtod(wait, &end);
		if (end == wait || *end != '\0' ||
		    !(w >= 0 && w <= VDD_WAIT_KEYS_MAX)) {
			snprintf(err, errlen, "--wait-keys: \"%s\" is not a number of "
				 "seconds from 0 to %d", wait, VDD_WAIT_KEYS_MAX);
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
			const char *t = ins[i].tenant ? ins[i].tenant : tenant;
			if (t == NULL && r->explain)
				t = "preview"; /* no key is used: any tenant */
			s = vdd_source_add_cli(&r->cfg, ins[i].path, t,
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
int vdd_split_args(int argc, char **argv, int *dd)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			*dd = i;
			return 1;
		}
	*dd = 0;
	return 0;
}
