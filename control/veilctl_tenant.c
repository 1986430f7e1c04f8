/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl tenant ... and key ...: tenants, their key versions, BYOK,
 * export and deletion.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "doctor.h"
#include "veil_control.h"
#include "veilctl_pvt.h"
#include "veilctl_text.h"

static int print_tenant(json_t *t)
{
	size_t i;
	json_t *v;
	printf("tenant %s (%s), current key version %lld", str(t, "tenant"),
	       str(t, "state"), num(t, "current_version"));
	if (num(t, "roll_days") > 0)
		printf(", rolled every %lld days", num(t, "roll_days"));
	putchar('\n');
	json_t *b = json_object_get(t, "byok");
	if (b != NULL && json_is_true(json_object_get(b, "enabled")))
		printf("  own key (BYOK): token \"%s\", key \"%s\", KEK version %lld\n",
		       str(b, "token"), str(b, "key_label"), num(b, "kek_version"));
	if (b != NULL && json_object_get(b, "unreachable_since_ms")) {
		char when[32];
		fmt_time(num(b, "unreachable_since_ms"), when, sizeof(when));
		printf("  its key is unreachable since %s: %s\n", when,
		       str(b, "unreachable_why"));
	}
	if (b != NULL && json_object_get(b, "locked_since_ms")) {
		char when[32];
		fmt_time(num(b, "locked_since_ms"), when, sizeof(when));
		printf("  locked since %s by the BYOK lockdown: %s\n", when,
		       str(b, "locked_why"));
	}
	printf("  %-8s %-21s %s\n", "VERSION", "CREATED", "STATE");
	json_array_foreach(json_object_get(t, "versions"), i, v) {
		char when[32];
		fmt_time(num(v, "created_ms"), when, sizeof(when));
		printf("  %-8lld %-21s %s\n", num(v, "version"), when,
		       json_is_true(json_object_get(v, "current")) ? "current"
		       : json_is_true(json_object_get(v, "live")) ? "live (resolves)"
								   : "destroyed");
	}
	return EXIT_OK;
}

/* tenant.set with the fields in @p change (consumed). */
static int tenant_set(const char *tenant, json_t *change)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "tenant.set", "tenant", tenant);
	json_object_update(req, change);
	json_decref(change);
	json_t *a = call(req);
	if (!common(a))
		return fail(a);
	if (!json_out)
		print_tenant(json_object_get(a, "tenant"));
	json_decref(a);
	return EXIT_OK;
}

/* tenant export TENANT --public-key PEM --reason TEXT [--out FILE] */
static int tenant_export(int argc, char **argv)
{
	const char *pub = NULL, *reason = NULL, *out = NULL;
	for (int i = 3; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--public-key") ? &pub :
				   !strcmp(argv[i], "--out") ? &out :
				   !strcmp(argv[i], "--reason") ? &reason : NULL;
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "veilctl: tenant export: unexpected \"%s\"\n",
				esc(argv[i]));
			return EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (pub == NULL || reason == NULL) {
		fputs("usage: veilctl tenant export TENANT --public-key PEM --reason TEXT "
		      "[--out FILE]\n", stderr);
		return EXIT_USAGE;
	}
	char pem[16384];
	FILE *f = fopen(pub, "r");
	size_t n = f != NULL ? fread(pem, 1, sizeof(pem) - 1, f) : 0;
	if (f == NULL || n == 0 || n == sizeof(pem) - 1) {
		fprintf(stderr, "veilctl: %s: %s\n", esc(pub), f == NULL ? strerror(errno) :
			"not a PEM public key of at most 16 KiB");
		if (f != NULL)
			fclose(f);
		return EXIT_USAGE;
	}
	fclose(f);
	pem[n] = '\0';
	json_t *a = call(json_pack("{s:s, s:s, s:s, s:s}", "cmd", "tenant.export", "tenant",
				   argv[2], "public_key", pem, "justification", reason));
	if (!common(a))
		return fail(a);
	json_t *x = json_object_get(a, "export");
	int rc = EXIT_OK;
	if (out != NULL) {
		int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		FILE *o = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (o == NULL || json_dumpf(x, o, JSON_INDENT(2)) != 0 || fputc('\n', o) == EOF ||
		    fclose(o) != 0) {
			fprintf(stderr, "veilctl: %s: %s\n", esc(out), strerror(errno));
			rc = EXIT_FAILED;
		} else if (!json_out) {
			printf("tenant %s: %zu key versions exported to %s\n", argv[2],
			       json_array_size(json_object_get(x, "keys")), out);
		}
	} else {
		json_dumpf(x, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(a);
	return rc;
}

/* tenant byok ACTION TENANT [--key-label L] [--key-id HEX] --reason TEXT */
static int tenant_byok(int argc, char **argv)
{
	const char *label = NULL, *key_id = NULL, *reason = NULL;
	for (int i = 4; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--key-label") ? &label :
				   !strcmp(argv[i], "--key-id") ? &key_id :
				   !strcmp(argv[i], "--reason") ? &reason : NULL;
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "veilctl: tenant byok: unexpected \"%s\"\n",
				esc(argv[i]));
			return EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (reason == NULL || (strcmp(argv[2], "disable") && label == NULL)) {
		fputs("usage: veilctl tenant byok enable|rotate TENANT --key-label L "
		      "[--key-id HEX] --reason TEXT\n"
		      "       veilctl tenant byok disable TENANT --reason TEXT\n", stderr);
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "cmd", "tenant.byok", "tenant",
				argv[3], "action", argv[2], "reason", reason);
	if (label != NULL)
		json_object_set_new(req, "key_label", json_string(label));
	if (key_id != NULL)
		json_object_set_new(req, "key_id", json_string(key_id));
	json_t *a = call(req);
	if (!common(a))
		return fail(a);
	if (!json_out) {
		json_t *b = json_object_get(a, "byok");
		if (!strcmp(argv[2], "disable"))
			printf("tenant %s: back on the appliance master key, %lld key "
			       "versions rewrapped\n", argv[3], num(a, "rewrapped"));
		else
			printf("tenant %s: KEK version %lld (key \"%s\"), %lld key versions "
			       "rewrapped\n", argv[3], num(b, "kek_version"),
			       str(b, "key_label"), num(a, "rewrapped"));
	}
	json_decref(a);
	return EXIT_OK;
}

int cmd_tenant(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list") && argc == 2) {
		json_t *a = call(json_pack("{s:s}", "cmd", "tenant.list"));
		if (!common(a))
			return fail(a);
		if (!json_out) {
			size_t i;
			json_t *t;
			printf("%-24s %-8s %s\n", "TENANT", "STATE", "CURRENT VERSION");
			json_array_foreach(json_object_get(a, "tenants"), i, t)
				printf("%-24s %-8s %lld\n", str(t, "tenant"), str(t, "state"),
				       num(t, "current_version"));
		}
		json_decref(a);
		return EXIT_OK;
	}
	if (argc == 3 && (!strcmp(argv[1], "create") || !strcmp(argv[1], "show"))) {
		bool create = argv[1][0] == 'c';
		json_t *a = call(json_pack("{s:s, s:s}", "cmd",
					   create ? "tenant.create" : "tenant.show",
					   "tenant", argv[2]));
		if (!common(a))
			return fail(a);
		if (!json_out && create)
			printf("tenant %s created, key version 1\n", argv[2]);
		else if (!json_out)
			print_tenant(json_object_get(a, "tenant"));
		json_decref(a);
		return EXIT_OK;
	}
	if (argc == 3 && (!strcmp(argv[1], "lock") || !strcmp(argv[1], "unlock")))
		return tenant_set(argv[2], json_pack("{s:s}", "state",
					!strcmp(argv[1], "lock") ? "locked" : "active"));
	if (argc >= 4 && !strcmp(argv[1], "byok"))
		return tenant_byok(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "export"))
		return tenant_export(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "delete") && !strcmp(argv[3], "--reason")) {
		/* --yes was taken by the option parser: the daemon checks it */
		json_t *a = call(json_pack("{s:s, s:s, s:s, s:b}", "cmd", "tenant.delete",
					   "tenant", argv[2], "reason", argv[4], "yes", confirmed));
		if (!common(a))
			return fail(a);
		if (!json_out)
			printf("tenant %s deleted: %lld key versions crypto-shredded; its "
			       "tokens never resolve again\n", argv[2], num(a, "shredded_versions"));
		json_decref(a);
		return EXIT_OK;
	}
	if (argc == 4 && !strcmp(argv[1], "roll-every")) {
		char *end;
		long days = strtol(argv[3], &end, 10);
		if (*end != '\0' || end == argv[3] || days < 0) {
			fprintf(stderr, "veilctl: \"%s\" is not a number of days\n", esc(argv[3]));
			return EXIT_USAGE;
		}
		return tenant_set(argv[2], json_pack("{s:I}", "roll_days", (json_int_t)days));
	}
	fputs("usage: veilctl tenant create TENANT | tenant list | tenant show TENANT |\n"
	      "       tenant lock TENANT | tenant unlock TENANT | "
	      "tenant roll-every TENANT DAYS\n", stderr);
	return EXIT_USAGE;
}

int cmd_key(int argc, char **argv)
{
	json_t *a;
	if (argc == 3 && !strcmp(argv[1], "list")) {
		a = call(json_pack("{s:s, s:s}", "cmd", "key.list", "tenant", argv[2]));
		if (!common(a))
			return fail(a);
		if (!json_out)
			print_tenant(json_object_get(a, "tenant"));
	} else if (argc == 3 && !strcmp(argv[1], "roll")) {
		a = call(json_pack("{s:s, s:s}", "cmd", "key.roll", "tenant", argv[2]));
		if (!common(a))
			return fail(a);
		if (!json_out)
			printf("tenant %s: key version %lld is current\n", argv[2],
			       num(a, "version"));
	} else if (argc == 6 && !strcmp(argv[1], "destroy") &&
		   !strcmp(argv[4], "--reason")) {
		/* the reason is required: the daemon checks it and records it */
		char *end;
		long long v = strtoll(argv[3], &end, 10);
		if (*end || v <= 0) {
			fprintf(stderr, "veilctl: bad version \"%s\"\n", argv[3]);
			return EXIT_USAGE;
		}
		a = call(json_pack("{s:s, s:s, s:I, s:s}", "cmd", "key.destroy", "tenant",
				   argv[2], "version", (json_int_t)v, "reason", argv[5]));
		if (!common(a))
			return fail(a);
		if (!json_out)
			printf("tenant %s: key version %lld destroyed; its tokens no "
			       "longer resolve%s\n", argv[2], v,
			       json_is_true(json_object_get(a, "shredded")) ? "" :
			       " (its wrapped copy leaves veil.db-wal at the next "
			       "housekeeping)");
	} else {
		fputs("usage: veilctl key list|roll TENANT | key destroy TENANT VERSION "
		      "--reason TEXT\n", stderr);
		return EXIT_USAGE;
	}
	json_decref(a);
	return EXIT_OK;
}
