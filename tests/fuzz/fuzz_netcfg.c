/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target: the network configuration's values (drivers/netcfg.c).
 * The input is lines "SECTION\tKEY\tVALUE"; each is set, then the whole is
 * checked, described, and senders are looked up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_pvt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[300], desc[2048];
	char *buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line && c;
	     line = strtok_r(NULL, "\n", &save)) {
		char *k = strchr(line, '\t');
		if (k == NULL)
			continue;
		*k++ = '\0';
		char *v = strchr(k, '\t');
		if (v == NULL)
			continue;
		*v++ = '\0';
		if (!strcmp(line, "map"))
			vdr_net_cfg_map(c, v, (uint16_t)strlen(k), err, sizeof(err));
		else if (vdr_net_cfg_section(line))
			vdr_net_cfg_set(c, line, k, v, err, sizeof(err));
	}
	if (c != NULL) {
		vdr_net_cfg_check(c, err, sizeof(err));
		vdr_net_cfg_describe(c, desc, sizeof(desc));
		uint8_t ip[16];
		memset(ip, 0, sizeof(ip));
		memcpy(ip, data, size < 16 ? size : 16);
		vdr_net_lookup(c, AF_INET, ip);
		vdr_net_lookup(c, AF_INET6, ip);
	}
	vdr_net_cfg_free(c);
	free(buf);
	return 0;
}
