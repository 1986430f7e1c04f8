/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl backup create: the appliance's state in one encrypted file
 * (docs/keys.md, "Backup and restore"). veilctl makes the file (new,
 * mode 0600) and passes it to the daemon with the request, which writes
 * the backup into it; the passphrase comes from a file, never from the
 * command line. The restore is offline: veil-controld --restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "backup.h"
#include "veil_crypto.h"
#include "veilctl_pvt.h"
#include "veilctl_text.h"

const char help_backup[] =
	"usage: veilctl backup create --out FILE --passphrase-file F --reason TEXT\n"
	"       veilctl backup create --out FILE --recovery-key PUB.pem --reason TEXT\n"
	"                                                       (admin)\n"
	"The appliance's state: the database (tenants, wrapped keys, roles,\n"
	"settings, the governance log) as it is at the backup's own record, the\n"
	"master key that wraps it and the log's mark, in one file (FILE, made\n"
	"new, mode 0600) encrypted with AES-256-GCM under a key derived from the\n"
	"passphrase (scrypt). F: a file only its owner can read; its first line\n"
	"is the passphrase (8 to 1024 bytes). Or, with --recovery-key, under a\n"
	"random key wrapped RSA-OAEP-SHA256 to that RSA public key (2048, 3072 or\n"
	"4096 bits; its private key, kept offline, restores it). The reason (a\n"
	"sentence) is recorded (backup.create). Keys of tenants with their own\n"
	"key (BYOK) stay wrapped by that key: a restore needs their HSM too.\n"
	"Restore, on a stopped appliance:\n"
	"  veil-controld -c veil.conf --restore FILE --passphrase-file F --reason TEXT\n"
	"  veil-controld -c veil.conf --restore FILE --recovery-key PRIVATE.pem --reason TEXT\n";

static int backup_create(int argc, char **argv)
{
	const char *out = NULL, *pass_file = NULL, *pub = NULL, *reason = NULL;
	for (int i = 2; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--out") ? &out :
				   !strcmp(argv[i], "--passphrase-file") ? &pass_file :
				   !strcmp(argv[i], "--recovery-key") ? &pub :
				   !strcmp(argv[i], "--reason") ? &reason : NULL;
		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "veilctl: backup create: unexpected \"%s\"\n",
				esc(argv[i]));
			return EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (out == NULL || (pass_file == NULL) == (pub == NULL) || reason == NULL) {
		fputs(help_backup, stderr);
		return EXIT_USAGE;
	}
	char *pass = NULL, err[400], pem[16384];
	size_t plen = 0;
	if (pub != NULL) {
		FILE *f = fopen(pub, "r");
		size_t n = f != NULL ? fread(pem, 1, sizeof(pem) - 1, f) : 0;
		if (f != NULL)
			fclose(f);
		if (n == 0 || n == sizeof(pem) - 1) {
			fprintf(stderr, "veilctl: %s: %s\n", esc(pub), f == NULL ?
				strerror(errno) : "not a PEM public key of at most 16 KiB");
			return EXIT_USAGE;
		}
		pem[n] = '\0';
	} else if (bk_read_passphrase(pass_file, &pass, &plen, err, sizeof(err)) != 0) {
		fprintf(stderr, "veilctl: %s\n", esc(err));
		return EXIT_USAGE;
	}
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "veilctl: %s: %s%s\n", esc(out), strerror(errno),
			errno == EEXIST ? " (a backup is never written over a file)" : "");
		veil_secmem_free(pass);
		return EXIT_FAILED;
	}
	json_t *req = json_pack("{s:s, s:s}", "cmd", "backup.create", "justification",
				reason);
	if (pass != NULL) {
		json_t *p = json_stringn(pass, plen);
		if (p == NULL) {
			fprintf(stderr, "veilctl: %s: the passphrase must be UTF-8 text\n",
				esc(pass_file));
			veil_secmem_free(pass);
			close(fd);
			unlink(out);
			json_decref(req);
			return EXIT_USAGE;
		}
		json_object_set_new(req, "passphrase", p);
	} else
		json_object_set_new(req, "recovery_key", json_string(pem));
	json_t *a = call_fd(req, fd);
	veil_secmem_free(pass);
	close(fd);
	if (!common(a)) {
		unlink(out); /* not a backup */
		return fail(a);
	}
	if (!json_out)
		printf("backup of %lld tenants (governance log up to record %lld) written "
		       "to %s: %lld bytes\n", num(a, "tenants"), num(a, "record"),
		       esc(out), num(a, "bytes"));
	json_decref(a);
	return EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return backup_create(argc, argv);
	fputs(help_backup, stderr);
	return EXIT_USAGE;
}
