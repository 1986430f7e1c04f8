/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The INI reader of every veil config file (inih), with errors that name
 * the file and the line. Its own file: veilctl (doctor) reads the config
 * too, and links this alone.
 */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "veil_control.h"

int veil_ini_parse(const char *path,
		   int (*h)(void *user, const char *section, const char *name,
			    const char *value),
		   void *user, const char *msg, char *err, size_t errlen)
{
	errno = 0;
	int rc = ini_parse(path, h, user);
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOENT));
	else if (rc == -2)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (rc > 0)
		snprintf(err, errlen, "%s:%d: %s", path, rc, msg[0] ? msg : "syntax error");
	return rc == 0 ? 0 : -1;
}
