/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-controld's messages, from every file of the daemon: to syslog
 * (facility daemon; journald takes it) once the daemon runs detached, when
 * its stderr is /dev/null; to stderr with -f, for -n and in tests.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "ctld_pvt.h"

static bool to_syslog;

void ctl_log_to_syslog(void)
{
	/* LOG_PERROR: on the terminal too, until daemon() closes it */
	openlog("veil-controld", LOG_PID | LOG_PERROR, LOG_DAEMON);
	to_syslog = true;
}

void ctl_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(LOG_NOTICE, fmt, ap);
	} else {
		fputs("veil-controld: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
