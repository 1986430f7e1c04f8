/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_link.h
 * The link between veil-controld and veil-dataplane: one shared-memory
 * region holding two single-producer/single-consumer rte_rings of message
 * slots, "down" (controld -> dataplane: key versions, tenant state) and
 * "up" (dataplane -> controld: hello, counters, events).
 *
 * The region has no name: controld listens on a Unix stream socket (the
 * config's link_socket); for each dataplane that connects, and whose uid
 * (SO_PEERCRED) is the one controld expects, it makes a fresh region as an
 * anonymous memfd (sized, sealed against resizing, locked in RAM and
 * excluded from core dumps) and hands it over on the connection
 * (SCM_RIGHTS, with struct veil_link_handshake). The dataplane checks the
 * uid of the socket's owner before it reads anything, then the region's
 * seals, size and header before it uses it. The connection stays open for
 * the link's life: either side sees the other leave by its end (EOF/HUP).
 * Nothing has a name another local user could make first.
 *
 * Every message carries the protocol version and its length, both checked
 * before use; a slot that carried a key is zeroized by the receiver before
 * it goes back to the sender. docs/link-protocol.md describes the protocol.
 *
 * Not thread-safe: one thread per side uses a link.
 */
#ifndef VEIL_LINK_H
#define VEIL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VEIL_LINK_PROTO          2
#define VEIL_LINK_DEFAULT_SOCKET "/run/veil/link.sock"
#define VEIL_LINK_SOCKET_MAX     107 /* sun_path, without its NUL */
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
	X(EVENT, UP, struct veil_link_event)                                   \
	X(ROW, UP, struct veil_link_row)

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
 * Why the dataplane's pipeline dropped a line (or replaced a field by the
 * marker), in the order of the link's DROP_* counters: the one list of
 * the reasons, which the pipeline's enum vdp_reason (veil_dp.h) is made
 * from too. X(P##NAME, "text"): P is pasted before each name (DROP_ for
 * the counters, nothing for the pipeline).
 */
#define VEIL_DROP_REASON_LIST(X, P)                                            \
	X(P##UNKNOWN_FORMAT, "unknown-format") /* no parser recognized it */   \
	X(P##MALFORMED, "malformed")   /* recognized, not safely parseable */  \
	X(P##TOO_MANY, "too-many-fields") /* more identities than fit */       \
	X(P##BAD_ESCAPE, "bad-escape") /* an identity value badly escaped */   \
	X(P##TOO_LONG, "name-too-long") /* longer than VEIL_NAME_MAX bytes */  \
	X(P##NO_KEY, "no-key")         /* no key version for the source yet */ \
	X(P##CRYPTO, "crypto-error")   /* the token engine refused a name */   \
	X(P##BURST_FULL, "burst-full") /* token storage of the burst gone */   \
	X(P##FIELDS_NO_IDENTITY, "fields-without-identity") /* a W3C #Fields  \
		line naming no identity column, and the data lines under it */ \
	X(P##FIELDS_PINNED, "fields-pinned") /* a W3C #Fields line where the   \
		source pins its columns (w3c_fields) */

/**
 * What value[] of a worker's COUNTERS holds, by index: lines in, out
 * (written whole to the output), dropped, held (waiting for a key) and not
 * written (the output failed: in = out + dropped + held + not written),
 * identities replaced, bytes read
 * and written (line ends included), then the lines dropped by
 * reason: the pipeline's reasons (VEIL_DROP_REASON_LIST, above), then
 * oversize (longer than the maximum message size), then kernel-udp
 * (datagrams the kernel dropped at a UDP listener's socket, its receive
 * buffer full: they count in lines_in too, so that lines_in is what the
 * senders sent). Every value counts
 * from the dataplane's start.
 * X(NAME, "text").
 */
#define VEIL_LINK_COUNTER_LIST(X)                                              \
	X(LINES_IN, "lines_in")                                                \
	X(LINES_OUT, "lines_out")                                              \
	X(LINES_DROPPED, "lines_dropped")                                      \
	X(LINES_HELD, "lines_held")                                            \
	X(LINES_NOT_WRITTEN, "lines_not_written")                              \
	X(IDENTITIES, "identities")                                            \
	X(IDENTITIES_USER, "identities_user")                                  \
	X(IDENTITIES_DEVICE, "identities_device")                              \
	X(BYTES_IN, "bytes_in")                                                \
	X(BYTES_OUT, "bytes_out")                                              \
	VEIL_DROP_REASON_LIST(X, DROP_)                                        \
	X(DROP_OVERSIZE, "oversize")                                           \
	X(DROP_KERNEL_UDP, "kernel-udp")

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

/**
 * One row of the dataplane's network state (ROW, every second with the
 * COUNTERS): an upstream collector or a listener of the socket driver.
 * Rows of a kind are numbered 0..count-1; a row's values count from the
 * dataplane's start, except the gauges (queued_*, spooled_*).
 * X(NAME, "text") of the values, by index.
 */
#define VEIL_LINK_ROW_VALUE_LIST(X)                                            \
	X(QUEUED_LINES, "queued_lines")   /* in memory, not acknowledged */    \
	X(QUEUED_BYTES, "queued_bytes")                                        \
	X(SPOOLED_LINES, "spooled_lines") /* in the spool, not acknowledged    \
					     (those in memory too) */          \
	X(SPOOLED_BYTES, "spooled_bytes")                                      \
	X(DELIVERED, "delivered") /* acknowledged by the collector */          \
	X(RESENT, "resent")       /* sent again on a new connection */         \
	X(RECONNECTS, "reconnects") /* connections made */                     \
	X(DISCONNECTS, "disconnects")                                          \
	X(CONNECT_FAILURES, "connect_failures")                                \
	X(DROP_QUEUE_FULL, "queue-full")                                       \
	X(DROP_NO_MEMORY, "no-memory")                                         \
	X(DROP_SPOOL_FULL, "spool-full")                                       \
	X(DROP_SPOOL_ERROR, "spool-error")                                     \
	X(DROP_TOO_BIG, "too-big")                                             \
	X(KERNEL_DROPS, "kernel_drops") /* a UDP listener's socket */

#define VEIL_LINK_ROW_ENUM_(name, str) VEIL_LINK_ROW_##name,
enum veil_link_row_value { VEIL_LINK_ROW_VALUE_LIST(VEIL_LINK_ROW_ENUM_)
			   VEIL_LINK_ROW_NVALUES };
#undef VEIL_LINK_ROW_ENUM_
/** @return a row value's name ("delivered", "queue-full", ...) or NULL. */
const char *veil_link_row_value_name(unsigned index);

enum veil_link_row_kind { VEIL_LINK_ROW_UPSTREAM = 0, VEIL_LINK_ROW_LISTENER = 1 };
/** An upstream's connection (a listener is always VEIL_LINK_UP_LISTENING). */
enum veil_link_up_state { VEIL_LINK_UP_DOWN = 0, VEIL_LINK_UP_CONNECTING = 1,
			  VEIL_LINK_UP_CONNECTED = 2, VEIL_LINK_UP_LISTENING = 3 };
#define VEIL_LINK_ROWS_MAX 16 /* of each kind */

struct veil_link_row {
	uint8_t kind;     /**< enum veil_link_row_kind */
	uint8_t index;    /**< 0..count-1 */
	uint8_t count;    /**< rows of this kind */
	uint8_t state;    /**< enum veil_link_up_state */
	char proto[8];    /**< "udp", "tcp", "tls", "relp" */
	char name[40];    /**< the section's NAME (cut at 39 bytes) */
	char addr[52];    /**< HOST:PORT as configured (cut at 51 bytes) */
	int64_t since_ms; /**< in this state since (ms since 1970); 0: unknown */
	uint64_t value[VEIL_LINK_ROW_NVALUES];
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
	struct veil_link_row row;
};

struct veil_link;

/** Link statistics of one side. */
struct veil_link_stats {
	uint64_t sent, received;
	uint64_t send_full;  /**< sends refused: ring full (EAGAIN) */
	uint64_t bad_msgs;   /**< received messages dropped by a check */
};

/**
 * The one message controld sends on a dataplane's connection, with the
 * region's file descriptor (SCM_RIGHTS, exactly one). Host byte order: both
 * ends are on one machine.
 */
struct veil_link_handshake {
	uint32_t magic;       /**< VEIL_LINK_HS_MAGIC */
	uint16_t proto;       /**< VEIL_LINK_PROTO */
	uint16_t size;        /**< sizeof(struct veil_link_handshake) */
	uint64_t region_size; /**< the region's size in bytes */
	uint64_t epoch;       /**< the region's epoch (its header says it too) */
};
#define VEIL_LINK_HS_MAGIC 0x53484c56u /* "VLHS" */

/** Who is at the other end of a link socket (SO_PEERCRED). */
struct veil_link_cred {
	uint32_t pid, uid, gid;
};

/** Any uid: a peer check that takes root or this process's euid. */
#define VEIL_LINK_UID_DEFAULT (-1)

/**
 * The uid a link peer must have: a user name or a numeric uid (the
 * config's controld_user / dataplane_user).
 * @return 0 and *uid, or -1 with a message in @p err.
 */
int veil_link_parse_user(const char *value, int64_t *uid, char *err,
			 size_t errlen);
/**
 * @return true if a peer of uid @p uid passes the check for @p want: that
 *   uid, or for VEIL_LINK_UID_DEFAULT root or this process's euid.
 */
bool veil_link_uid_ok(int64_t want, uint32_t uid);

/**
 * controld: make a fresh region (a sealed memfd, not yet handed over) with
 * @p slots message slots per direction (a power of two, 16 to 65536).
 * @return the link, or NULL with errno (EINVAL, ENOMEM, EAGAIN when the
 *   region cannot be locked).
 */
struct veil_link *veil_link_create(uint32_t slots);

/** controld: the region's memfd (a test or a fuzz harness maps it too). */
int veil_link_region_fd(const struct veil_link *link);

/**
 * controld: hand the region over on @p sock, a dataplane's connection
 * whose uid was checked: the handshake and the region's fd. From then on
 * the link owns @p sock (veil_link_close() closes it).
 * @return 0, or -1 with errno (the socket stays the caller's).
 */
int veil_link_offer(struct veil_link *link, int sock);

/**
 * dataplane: connect to controld's link socket @p path and check the uid
 * of the process that listens on it against @p controld_uid (see
 * veil_link_uid_ok()) before anything is read. @p peer (may be NULL) gets
 * its pid, uid and gid.
 * @return the connected socket (non-blocking, close-on-exec), or -1 with
 *   errno: ENOENT or ECONNREFUSED (no controld there), EPERM (a peer of
 *   another uid: closed at once, *peer says which), EINVAL (a path too
 *   long), or another from socket()/connect().
 */
int veil_link_connect(const char *path, int64_t controld_uid,
		      struct veil_link_cred *peer);

/**
 * dataplane: take the region controld hands over on @p sock (from
 * veil_link_connect()): the handshake, then the fd's seals (it must be
 * sealed against growing, shrinking and new seals) and size, then the
 * region's header, all checked before the region is used. Never blocks.
 * On success the link owns @p sock; on an error the caller closes it.
 * @return the link, or NULL with errno: EAGAIN (nothing yet, call again),
 *   ECONNRESET (controld closed the connection: refused us, or stopped),
 *   EPROTO (a handshake or region that fails a check), ENOMEM.
 */
struct veil_link *veil_link_attach(int sock);

/**
 * Detach. controld marks the region closed and zeroizes its slots; either
 * side unmaps it and closes the connection. NULL is allowed.
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
 * @return true when the other side is gone: its end of the connection
 *   closed (it stopped, or restarted), or bytes came that the protocol
 *   does not send there, or (dataplane) controld marked the region closed.
 *   The dataplane then detaches and connects again (the same checks);
 *   controld drops the region.
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

/**
 * Called by the keys callback for each key version of a resync, in
 * order: the tenant, the version, whether it is the tenant's current one,
 * whether the tenant is locked, and the key.
 * @return 0 to go on, non-zero to stop (the ring is full: the resync goes
 *   on from the last version taken at the next poll).
 */
typedef int (*veil_link_emit_fn)(void *arg, const char *tenant,
				 uint32_t version, bool current, bool locked,
				 const uint8_t key[32]);
/**
 * Where the server gets the keys a dataplane needs (controld's key store):
 * each tenant's current version (the dataplane encrypts with nothing
 * else), in the order of (tenant id, version), tenant ids compared byte by
 * byte (strcmp, SQLite's BINARY), starting strictly after
 * (@p after_tenant, @p after_version) ("" and 0: from the first). Call
 * @p emit for each, at most @p max of them (a hint: the server stops
 * earlier by returning non-zero from @p emit), and return 0 (also when
 * emit stopped it), or -1 if the keys cannot be read now.
 */
typedef int (*veil_link_keys_fn)(void *ctx, const char *after_tenant,
				 uint32_t after_version, unsigned max,
				 veil_link_emit_fn emit, void *arg);

struct veil_link_server;

/** Latest counters a worker sent up. */
struct veil_link_worker_counters {
	bool valid;
	uint32_t n;
	uint64_t value[VEIL_LINK_NCOUNTERS];
	int64_t updated_ms; /**< when they came (ms since 1970) */
};

/** What veil_link_server_new() needs. */
struct veil_link_server_opts {
	const char *socket_path; /**< where dataplanes connect (link_socket) */
	uint32_t slots;          /**< message slots per direction, per region */
	int64_t dataplane_uid;   /**< the uid a dataplane must have, or
				      VEIL_LINK_UID_DEFAULT */
	uint32_t watchdog_ms;    /**< a connected dataplane not heard from
				      (no message, no heartbeat) for longer
				      is dropped as silent; 0: never */
	veil_link_keys_fn keys;  /**< the keys, from a cursor, for resyncs */
	void *ctx;               /**< for keys and log */
	/** A line for controld's log (no key, no name in it); NULL: stderr. */
	void (*log)(void *ctx, const char *msg);
};

/**
 * Listen on o->socket_path. Its directory is made if missing (mode 0750);
 * one that another user could write in (group or world writable, or owned
 * by a user other than root and this process's) is refused, and so is a
 * path that exists and is not a socket. A dataplane that connects gets a
 * fresh region once its uid passed the check; one of another uid is
 * refused (closed, nothing sent) and counted, as is a second dataplane
 * while one is connected.
 * @return the server, or NULL with a message in @p err.
 */
struct veil_link_server *
veil_link_server_new(const struct veil_link_server_opts *o, char *err,
		     size_t errlen);
/**
 * Do the periodic work; call at least every 100 ms: take connections,
 * notice a dataplane that left or went silent (watchdog_ms), heartbeat, store counters, answer a HELLO
 * with a resync, resend the tenants whose change found the ring full, and
 * take a running resync on from where it stopped: as many keys as the
 * ring takes, SYNC_DONE once every key went (docs/link-protocol.md).
 * @return number of messages handled.
 */
int veil_link_server_poll(struct veil_link_server *srv);
/**
 * @return true while a resync runs or tenants wait to be resent: the
 *   caller should poll again within VEIL_LINK_BUSY_POLL_MS (each poll
 *   sends what the ring takes; the dataplane drains it in between), not
 *   only every 100 ms.
 */
bool veil_link_server_busy(const struct veil_link_server *srv);
#define VEIL_LINK_BUSY_POLL_MS 10

/*
 * The changes, as they happen (after their commit). Each goes down at
 * once, unless a running resync has yet to reach its tenant and carries it
 * anyway; one that finds the ring full has its tenant resent whole (its
 * current key and state) at the next polls.
 */
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
/**
 * @return true while a dataplane is connected, said hello and got a full
 *   resync; false as soon as it is gone.
 */
bool veil_link_server_synced(const struct veil_link_server *srv);

/** Where a resync stands (for tests and benchmarks). */
struct veil_link_server_resync {
	bool running;          /**< a resync is under way */
	uint32_t keys;         /**< keys it sent so far (or, done: in all) */
	uint32_t repairs;      /**< tenants waiting to be resent whole */
	uint64_t resyncs;      /**< resyncs completed (SYNC_DONE sent) */
	uint64_t restarts;     /**< resyncs restarted from the first key */
};
void veil_link_server_resync_status(const struct veil_link_server *srv,
				    struct veil_link_server_resync *st);

/** The link as veilctl status shows it. */
struct veil_link_server_status {
	bool connected;       /**< a dataplane is connected now */
	bool synced;          /**< ... and has every live key */
	bool seen;            /**< a dataplane was ever connected */
	struct veil_link_cred peer; /**< the (last) dataplane's, if seen */
	int64_t last_contact_ms;    /**< ms since its last message or
					 heartbeat (or since it left); -1:
					 never */
	uint64_t connections; /**< dataplanes taken since the start */
	uint64_t refused_peers; /**< connections refused: another uid */
	uint64_t refused_busy;  /**< refused: a dataplane was connected */
	uint32_t last_refused_uid; /**< uid of the last refused peer */
	bool silent;          /**< the last dataplane was dropped for silence
				   (watchdog_ms) and none connected since */
	uint64_t silent_drops; /**< dataplanes dropped for silence */
	uint32_t watchdog_ms;  /**< the server's watchdog_ms */
};
void veil_link_server_status(const struct veil_link_server *srv,
			     struct veil_link_server_status *st);
/** Counters of worker @p worker (< 64), or NULL. */
const struct veil_link_worker_counters *
veil_link_server_counters(const struct veil_link_server *srv, unsigned worker);
/** Row @p index (< VEIL_LINK_ROWS_MAX) of @p kind the dataplane sent last
 *  (since its hello), or NULL. */
const struct veil_link_row *
veil_link_server_row(const struct veil_link_server *srv, unsigned kind,
		     unsigned index);
/** The connected dataplane's link, or NULL when there is none. */
struct veil_link *veil_link_server_link(struct veil_link_server *srv);
/** The socket path it listens on. */
const char *veil_link_server_path(const struct veil_link_server *srv);
/**
 * Close the link (marked closed, zeroized), the connection and the
 * listening socket, and remove the socket's path. NULL is allowed.
 */
void veil_link_server_free(struct veil_link_server *srv);

#ifdef __cplusplus
}
#endif
#endif /* VEIL_LINK_H */
