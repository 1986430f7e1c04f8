/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veilctl's parts (veilctl.c: the connection, the other commands, main;
 * veilctl_tenant.c: tenant and key; veilctl_audit.c: audit show, export,
 * verify; veilctl_net.c: upstreams and listeners; veilctl_text.c: help and
 * escaping). Private to control/.
 */
#ifndef VEIL_VEILCTL_PVT_H
#define VEIL_VEILCTL_PVT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

extern bool json_out, confirmed;

/* veilctl.c */
const char *raw(json_t *o, const char *k);
const char *str(json_t *o, const char *k);
json_t *call(json_t *req);
json_t *call_fd(json_t *req, int fd);
bool common(json_t *a);
int fail(json_t *a);
long long num(json_t *o, const char *k);
void fmt_time(long long ms, char *out, size_t cap);
int parse_time(const char *s, long long *ms);
void print_tokens(const char *text, long long seq, size_t total);

/* veilctl_tenant.c */
int cmd_tenant(int argc, char **argv);
int cmd_key(int argc, char **argv);

/* veilctl_backup.c */
int cmd_backup(int argc, char **argv);
extern const char help_backup[];

/* veilctl_net.c: the upstreams and listeners of stats and status */
void print_net_stats(json_t *a);
void print_net_status(json_t *a);

/* veilctl_audit.c */
int cmd_audit(int argc, char **argv);

#endif
