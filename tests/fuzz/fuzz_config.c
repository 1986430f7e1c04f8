/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for veil.conf: any bytes as the config file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_pvt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/veil-fuzz-config.%d", (int)getpid());
		atexit(cleanup);
	}
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	struct ctl_config c;
	char err[512];
	memset(err, 0, sizeof(err));
	int rc = ctl_config_load(&c, path, err, sizeof(err));
	if (rc != 0 && (err[0] == '\0' || strncmp(err, path, strlen(path)) != 0))
		abort(); /* every error names the file */
	if (rc == 0) {
		if (c.n_roles > CTL_MAX_ROLES || c.state_dir[0] == '\0' ||
		    c.master_key[0] == '\0' || c.rate_limit_per_min == 0)
			abort();
		for (unsigned i = 0; i < c.n_roles; i++)
			if (c.roles[i].role < VEIL_ROLE_READER || c.roles[i].role > VEIL_ROLE_ADMIN)
				abort();
	}
	return 0;
}
