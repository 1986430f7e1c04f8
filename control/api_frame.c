/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Roles and the admin API's framing (veil_control.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veil_control.h"

static const char *const role_names[] = { "none", "reader", "investigator",
					  "admin" };

const char *veil_role_name(enum veil_role role)
{
	if ((unsigned)role > VEIL_ROLE_ADMIN)
		return "none";
	return role_names[role];
}

int veil_role_parse(const char *s, enum veil_role *out)
{
	for (int r = VEIL_ROLE_READER; r <= VEIL_ROLE_ADMIN; r++)
		if (s != NULL && strcmp(s, role_names[r]) == 0) {
			*out = (enum veil_role)r;
			return 0;
		}
	return -1;
}

int veil_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int veil_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int veil_api_write(int fd, const char *json, size_t len)
{
	if (len > VEIL_API_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			   (uint8_t)(len >> 8), (uint8_t)len };
	if (veil_write_all(fd, hdr, 4) != 0)
		return -1;
	return veil_write_all(fd, json, len);
}

int veil_api_write_body(int fd, const char *json, size_t len)
{
	return veil_write_all(fd, json, len);
}

int veil_api_read(int fd, char **out, size_t *len)
{
	uint8_t hdr[4];
	if (veil_read_all(fd, hdr, 4) != 0)
		return -1;
	size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		   (size_t)hdr[2] << 8 | hdr[3];
	if (n > VEIL_API_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	char *buf = malloc(n + 1);
	if (buf == NULL)
		return -1;
	if (veil_read_all(fd, buf, n) != 0) {
		int err = errno;
		free(buf);
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
