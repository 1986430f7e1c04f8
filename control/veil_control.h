/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_control.h
 * What veil-controld and its clients (veilctl, tests) share: roles and the
 * admin API's message framing. A message is a 4-byte big-endian length
 * followed by that many bytes of one JSON object; docs/controld.md lists
 * the requests and answers.
 */
#ifndef VEIL_CONTROL_H
#define VEIL_CONTROL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_API_MSG_MAX (32u << 20) /**< largest message, either way */
#define VEIL_DEFAULT_CONFIG "/etc/veil/veil.conf"
#define VEIL_DEFAULT_SOCKET "/run/veil/controld.sock"

/** Roles, weakest first: a role can do everything the ones before can. */
enum veil_role {
	VEIL_ROLE_NONE = 0,     /**< unknown caller: nothing */
	VEIL_ROLE_READER,       /**< tenants, key metadata, stats, audit */
	VEIL_ROLE_INVESTIGATOR, /**< + resolve and lookup, with justification */
	VEIL_ROLE_ADMIN,        /**< everything */
};

/** @return "none", "reader", "investigator" or "admin". */
const char *veil_role_name(enum veil_role role);
/** @return 0, or -1 for an unknown name ("none" is not accepted). */
int veil_role_parse(const char *s, enum veil_role *out);

/* All n bytes to / from a blocking fd, through EINTR and short writes
 * and reads. @return 0, or -1 (errno; ECONNRESET for an end of file
 * before n bytes). */
int veil_write_all(int fd, const void *p, size_t n);
int veil_read_all(int fd, void *p, size_t n);

/**
 * Write one framed message. @return 0, or -1 with errno (EMSGSIZE over
 * VEIL_API_MSG_MAX, or the write's).
 */
int veil_api_write(int fd, const char *json, size_t len);
/** The message alone, after its 4-byte length went by other means (with a
 * file descriptor beside it, SCM_RIGHTS). @return 0, or -1 with errno. */
int veil_api_write_body(int fd, const char *json, size_t len);
/**
 * Read one framed message into a new NUL-terminated buffer (free()).
 * @return 0, or -1 with errno: ECONNRESET (closed before or inside a
 *   message), EMSGSIZE (announced length over VEIL_API_MSG_MAX), or the
 *   read's.
 */
int veil_api_read(int fd, char **out, size_t *len);

/**
 * Parse an INI file with inih, calling @p handler for each key as inih
 * does; the config files of veil-controld and veil-dataplane share it.
 * @p msg is the handler's own message for the key it refused (may be "").
 * @return 0, or -1 with "file: error" or "file:line: message" in @p err.
 */
int veil_ini_parse(const char *path,
		   int (*handler)(void *user, const char *section,
				  const char *name, const char *value),
		   void *user, const char *msg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
