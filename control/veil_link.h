/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_link.h
 * The link between veil-controld and veil-dataplane: one shared-memory
 * region holding two single-producer/single-consumer rte_rings of message
 * slots, "down" (controld -> dataplane: key versions, tenant state) and
 * "up" (dataplane -> controld: hello, counters, events).
 *
 * controld creates the region (veil_link_create()); the dataplane attaches
 * to it (veil_link_attach()). The region is mode 0600, locked in RAM and
 * excluded from core dumps. Every message carries the protocol version and
 * its length, both checked before use; a slot that carried a key is
 * zeroized by the receiver before it goes back to the sender.
 * docs/link-protocol.md describes the protocol.
 *
 * Not thread-safe: one thread per side uses a link.
 */
#ifndef VEIL_LINK_H
#define VEIL_LINK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_LINK_PROTO        1
#define VEIL_LINK_DEFAULT_NAME "veil-link"
#define VEIL_LINK_PAYLOAD_MAX  232
#define VEIL_LINK_TENANT_MAX   64
#define VEIL_LINK_NCOUNTERS    24

/** Message types: X(name, direction, payload struct). */
#define VEIL_LINK_MSG_LIST(X)                                                  \
	X(HELLO, UP, struct veil_link_hello)                                   \
	X(KEY_ADD, DOWN, struct veil_link_key)                                 \
	X(KEY_DESTROY, DOWN, struct veil_link_key_ref)                         \
	X(TENANT_STATE, DOWN, struct veil_link_tenant)                         \
	X(SYNC_DONE, DOWN, struct veil_link_sync)                              \
	X(COUNTERS, UP, struct veil_link_counters)                             \
	X(EVENT, UP, struct veil_link_event)

#define VEIL_LINK_ENUM_(name, dir, type) VEIL_LINK_MSG_##name,
enum veil_link_msg { VEIL_LINK_MSG_NONE = 0,
		     VEIL_LINK_MSG_LIST(VEIL_LINK_ENUM_) VEIL_LINK_MSG_COUNT };
#undef VEIL_LINK_ENUM_

/** The dataplane says who it is; controld answers with every live key. */
struct veil_link_hello {
	uint32_t pid;
	uint32_t workers;
};

/** A key version (unwrapped). The receiver must wipe its copies. */
struct veil_link_key {
	char tenant[VEIL_LINK_TENANT_MAX + 1];
	uint8_t current;  /**< 1 if this is the version to encrypt with */
	uint8_t pad[2];
	uint32_t version;
	uint8_t key[32];
};

struct veil_link_key_ref {
	char tenant[VEIL_LINK_TENANT_MAX + 1];
	uint8_t pad[3];
	uint32_t version;
};

enum veil_link_tenant_state { VEIL_LINK_TENANT_ACTIVE = 0,
			      VEIL_LINK_TENANT_LOCKED = 1,
			      VEIL_LINK_TENANT_DELETED = 2 };

struct veil_link_tenant {
	char tenant[VEIL_LINK_TENANT_MAX + 1];
	uint8_t state; /**< enum veil_link_tenant_state */
	uint8_t pad[2];
};

/** End of a full resync: the dataplane now has every live key. */
struct veil_link_sync {
	uint32_t keys;
	uint32_t reserved;
};

struct veil_link_counters {
	uint32_t worker;
	uint32_t n;   /**< values used */
	uint64_t value[VEIL_LINK_NCOUNTERS];
};

/**
 * What value[] of a worker's COUNTERS holds, by index: lines in, out,
 * dropped and held (waiting for a key), identities replaced, bytes read
 * and written (line ends included), then the lines dropped by
 * reason: the dataplane library's reasons in the order of
 * VDP_REASON_LIST (veil_dp.h), then oversize (longer than the maximum
 * message size). Every value counts from the dataplane's start.
 * X(NAME, "text").
 */
#define VEIL_LINK_COUNTER_LIST(X)                                              \
	X(LINES_IN, "lines_in")                                                \
	X(LINES_OUT, "lines_out")                                              \
	X(LINES_DROPPED, "lines_dropped")                                      \
	X(LINES_HELD, "lines_held")                                            \
	X(IDENTITIES, "identities")                                            \
	X(IDENTITIES_USER, "identities_user")                                  \
	X(IDENTITIES_DEVICE, "identities_device")                              \
	X(BYTES_IN, "bytes_in")                                                \
	X(BYTES_OUT, "bytes_out")                                              \
	X(DROP_UNKNOWN_FORMAT, "unknown-format")                               \
	X(DROP_MALFORMED, "malformed")                                         \
	X(DROP_TOO_MANY, "too-many-fields")                                    \
	X(DROP_BAD_ESCAPE, "bad-escape")                                       \
	X(DROP_TOO_LONG, "name-too-long")                                      \
	X(DROP_NO_KEY, "no-key")                                               \
	X(DROP_CRYPTO, "crypto-error")                                         \
	X(DROP_BURST_FULL, "burst-full")                                       \
	X(DROP_FIELDS_NO_IDENTITY, "fields-without-identity")                  \
	X(DROP_FIELDS_PINNED, "fields-pinned")                                 \
	X(DROP_OVERSIZE, "oversize")

#define VEIL_LINK_CTR_ENUM_(name, str) VEIL_LINK_CTR_##name,
enum veil_link_counter { VEIL_LINK_COUNTER_LIST(VEIL_LINK_CTR_ENUM_)
			 VEIL_LINK_CTR_COUNT };
#undef VEIL_LINK_CTR_ENUM_
#ifndef __cplusplus
_Static_assert(VEIL_LINK_CTR_COUNT <= VEIL_LINK_NCOUNTERS, "counters fit");
#endif
/** @return the counter's name ("lines_in", "no-key", ...) or NULL. */
const char *veil_link_counter_name(unsigned index);

struct veil_link_event {
	uint32_t code;
	char text[120];
};

/** A buffer for veil_link_recv(): any message, read as its type says. */
union veil_link_payload {
	uint8_t raw[VEIL_LINK_PAYLOAD_MAX];
	struct veil_link_hello hello;
	struct veil_link_key key;
	struct veil_link_key_ref ref;
	struct veil_link_tenant ten;
	struct veil_link_sync sync;
	struct veil_link_counters cnt;
	struct veil_link_event event;
};

struct veil_link;

/** Link statistics of one side. */
struct veil_link_stats {
	uint64_t sent, received;
	uint64_t send_full;  /**< sends refused: ring full (EAGAIN) */
	uint64_t bad_msgs;   /**< received messages dropped by a check */
};

/**
 * controld: create the region @p name (replacing a stale one), with
 * @p slots message slots per direction (a power of two, 16 to 65536).
 * @return the link, or NULL with errno (EINVAL, EACCES, ENOMEM, EAGAIN
 *   when the region cannot be locked).
 */
struct veil_link *veil_link_create(const char *name, uint32_t slots);

/**
 * dataplane: attach to the region @p name.
 * @return the link, or NULL with errno: ENOENT (no controld yet), EPROTO
 *   (not a veil link, or another protocol version), ENOMEM, EAGAIN.
 */
struct veil_link *veil_link_attach(const char *name);

/**
 * Detach. controld marks the region closed, zeroizes it and removes its
 * name; the dataplane unmaps it. NULL is allowed.
 */
void veil_link_close(struct veil_link *link);

/**
 * Send one message in this side's direction.
 * @return 0, or -1 with errno: EAGAIN (ring full, counted), EINVAL (type
 *   of the other direction, or @p len not the type's size).
 */
int veil_link_send(struct veil_link *link, enum veil_link_msg type,
		   const void *payload, uint32_t len);

/**
 * Receive one message of the other side. The payload is copied into
 * @p buf (at least VEIL_LINK_PAYLOAD_MAX bytes) and the slot is zeroized.
 * @return 1 and the type and length, 0 if there is none, -1 with errno
 *   EPROTO for a message that failed a check (dropped and counted).
 */
int veil_link_recv(struct veil_link *link, enum veil_link_msg *type,
		   void *buf, uint32_t *len);

/** Record that this side is alive (call at least every 100 ms). */
void veil_link_heartbeat(struct veil_link *link);
/** @return milliseconds since the other side's last heartbeat. */
uint64_t veil_link_peer_age_ms(const struct veil_link *link);
/**
 * dataplane: @return true when controld closed the region or replaced it
 * with a new one (it restarted): detach, attach again and say hello.
 */
bool veil_link_stale(const struct veil_link *link);
/** @return the region's generation, random per veil_link_create(). */
uint64_t veil_link_epoch(const struct veil_link *link);
void veil_link_get_stats(const struct veil_link *link,
			 struct veil_link_stats *st);
/** @return the message type's name, e.g. "KEY_ADD". */
const char *veil_link_msg_name(int type);

/* ------------------------------------------------------------------ */
/* controld's side: the link server                                   */
/* ------------------------------------------------------------------ */

/** Called by the server for each live key version during a resync. */
typedef int (*veil_link_emit_fn)(void *arg, const char *tenant,
				 uint32_t version, bool current,
				 const uint8_t key[32]);
/**
 * Where the server gets every live key version from (controld's key store):
 * call @p emit for each and return 0, or -1 if the keys cannot be read now.
 */
typedef int (*veil_link_keys_fn)(void *ctx, veil_link_emit_fn emit,
				 void *arg);

struct veil_link_server;

/** Latest counters a worker sent up. */
struct veil_link_worker_counters {
	bool valid;
	uint32_t n;
	uint64_t value[VEIL_LINK_NCOUNTERS];
	int64_t updated_ms; /**< when they came (ms since 1970) */
};

/**
 * Create the region and serve it. @p keys is called for every resync (a
 * dataplane's HELLO, or after a change could not be sent).
 * @return the server, or NULL with errno as veil_link_create().
 */
struct veil_link_server *veil_link_server_new(const char *name, uint32_t slots,
					      veil_link_keys_fn keys,
					      void *ctx);
/**
 * Do the periodic work; call at least every 100 ms: heartbeat, answer
 * HELLOs with a resync, store counters, retry a pending resync.
 * @return number of messages handled.
 */
int veil_link_server_poll(struct veil_link_server *srv);
/** A key version was made (current: it is now the one to encrypt with). */
void veil_link_server_key_added(struct veil_link_server *srv,
				const char *tenant, uint32_t version,
				bool current, const uint8_t key[32]);
/** A key version was destroyed. */
void veil_link_server_key_destroyed(struct veil_link_server *srv,
				    const char *tenant, uint32_t version);
/** A tenant was locked, unlocked or deleted. */
void veil_link_server_tenant_state(struct veil_link_server *srv,
				   const char *tenant,
				   enum veil_link_tenant_state state);
/** @return true once a dataplane said hello and got a full resync. */
bool veil_link_server_synced(const struct veil_link_server *srv);
/** Counters of worker @p worker (< 64), or NULL. */
const struct veil_link_worker_counters *
veil_link_server_counters(const struct veil_link_server *srv, unsigned worker);
struct veil_link *veil_link_server_link(struct veil_link_server *srv);
/** Close the region (marked closed, zeroized). NULL is allowed. */
void veil_link_server_free(struct veil_link_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* VEIL_LINK_H */
