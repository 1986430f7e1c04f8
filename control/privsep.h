/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Privilege separation of veil-controld: callers' JSON is parsed by the
 * api process (unprivileged, no key, no database), which passes the key
 * process a typed, length-checked message per request. This header is the
 * message format both sides share, the api process's loop, and the key
 * process's handle on it.
 *
 * A request message (every integer big-endian):
 *
 *   u8  version        PS_VERSION
 *   u64 id             the request's, as the key process gave it
 *   u8  method         0: none (only "error"), else 1 + index in ps_methods
 *   u8  n_fields       at most PS_FIELDS_MAX
 *   n_fields times:
 *     u8 field         1 + index in ps_fields; allowed for the method, once
 *     u8 type          enum ps_type, one the field allows
 *     value            PS_STR: u32 length, the bytes (UTF-8, no NUL, at most
 *                        the field's max); PS_INT: 8 bytes (two's
 *                        complement); PS_TRUE, PS_FALSE, PS_NULL: nothing;
 *                      PS_STRS: u32 count (at most the field's max), then
 *                        each string as PS_STR (at most item_max bytes)
 *
 * and nothing after the last field. A request the api process refused
 * (not JSON, a field of the wrong type or too long) carries the field
 * "error" with what to tell the caller, and "tenant" when that was valid:
 * the key process still checks the caller's role first, and records a
 * refusal as it did before the split.
 */
#ifndef VEIL_PRIVSEP_H
#define VEIL_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "veil_control.h"

#define PS_VERSION 1
/* A string becomes its length (4 bytes) and its bytes, at least 3 bytes in
 * JSON ("",) for 4 here: a message is at most twice its request. */
#define PS_MSG_MAX (2u * VEIL_API_MSG_MAX + 4096u)
#define PS_ERR_MAX 256
#define PS_FIELDS_MAX 32

enum ps_type { PS_STR = 1, PS_INT, PS_TRUE, PS_FALSE, PS_NULL, PS_STRS };
#define PS_T(t) (1u << (t))

struct ps_field {
	const char *name;
	unsigned types;   /* PS_T() of each type it may have */
	size_t max;       /* bytes of a string; strings of a PS_STRS */
	size_t item_max;  /* bytes of each string of a PS_STRS */
	const char *what; /* "a string", ...: for the caller's error */
};

struct ps_method {
	const char *name;
	uint64_t fields; /* bit i: ps_fields[i] */
};

extern const struct ps_field ps_fields[];
extern const size_t ps_n_fields;
extern const struct ps_method ps_methods[];
extern const size_t ps_n_methods;

/* A decoded request: method -1 for none; req holds its fields as JSON
 * (built, not parsed); err the api process's refusal, or NULL. */
struct ps_request {
	uint64_t id;
	int method;
	json_t *req;
	const char *err; /* inside req ("error") */
};

/* The api process's side: parse one request's JSON and validate it
 * against the method's table; the message in *out (malloc'd; a refused
 * request is a message too). -1 only without memory. */
int ps_encode(const char *json, size_t len, uint64_t id, uint8_t **out,
	      size_t *outlen);

/* The key process's side: decode one message, trusting nothing in it.
 * 0 and *r filled (ps_request_free), or -1 with why. */
int ps_decode(const uint8_t *m, size_t len, struct ps_request *r, char *why,
	      size_t whylen);
void ps_request_free(struct ps_request *r);

/* ---- the api process (privsep_proc.c) ---- */

/* What the api process drops to: with uid/gid (set when started as root)
 * it chroots to root_dir (empty) and takes that uid and gid. */
struct ps_drop {
	bool setuid;
	uid_t uid;
	gid_t gid;
	char root_dir[256];
};

/* Landlock for the calling process: no path can be opened, executed or
 * made, no TCP, no signal out of it (as the kernel's ABI allows; needs
 * PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN). -1 with errno where the kernel
 * has no Landlock. */
int ps_landlock_nothing(void);

/* veil-controld --api-child SPEC: the api process's main (the socket to
 * the key process is fd 3). Never returns. */
void ps_child_main(const char *spec) __attribute__((noreturn));

/* The key process's handle on its api process. */
struct ps_out;
struct ps_proc {
	pid_t pid;   /* 0: not running */
	int fd;      /* the socket to it, -1 when not running */
	struct ps_drop drop;
	struct ps_out *out_head, *out_tail; /* requests not yet written */
	uint8_t *in; /* a message coming in */
	size_t in_len, in_cap;
	int64_t started_ms;
	unsigned restarts;
};

/* The drop for an api process of a daemon that runs as the current user:
 * with root, user's uid and gid (a name or a number), and dir made empty
 * (0755 root; NULL: only the user is checked). -1 with err. */
int ps_drop_init(struct ps_drop *d, const char *user, const char *dir,
		 char *err, size_t errlen);
/* Start it (fork and exec /proc/self/exe --api-child). -1 with err. */
int ps_spawn(struct ps_proc *p, char *err, size_t errlen);
/* Stop it (SIGKILL, reaped) and forget what was queued. With status, how
 * it ended, as a sentence. */
void ps_stop(struct ps_proc *p, char *status, size_t statuslen);
/* Queue one request's body (taken: zeroized and freed once written). */
int ps_send(struct ps_proc *p, uint64_t id, char *body, size_t len);
/* Write what the socket takes; -1 if the api process is gone. */
int ps_flush(struct ps_proc *p);
bool ps_want_write(const struct ps_proc *p);
/* Read what is there; each whole message to fn. -1 if the api process is
 * gone or sent a frame over PS_MSG_MAX. */
int ps_receive(struct ps_proc *p, void (*fn)(void *arg, const uint8_t *m, size_t len),
	       void *arg);

#endif
