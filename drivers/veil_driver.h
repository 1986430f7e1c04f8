/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_driver.h
 * The I/O drivers of veil-dataplane behind one small interface: a driver
 * receives bursts of framed messages, each with the index of its source,
 * and sends the forwarded lines of a rewritten burst (struct vdp_burst).
 * The worker loop is the same for every driver:
 *
 *     n = vdr_rx(d, lines, VDP_BURST_MAX);
 *     vdp_process_burst(w, lines, n, &burst);
 *     vdr_tx(d, &burst);
 *
 * Drivers: `file` (snapshot mode: files or stdin in, a file or stdout
 * out), `mem` (in-memory, for tests and benchmarks), `socket` (the kernel
 * path: UDP, TCP and TLS syslog in, forwarding to upstream collectors) and
 * `dpdk` (the fast path: syslog over UDP on ethdev ports, everything else
 * to the kernel through an exception interface). The network drivers are
 * configured from the config file's [network], [listen NAME],
 * [upstream NAME] and [port NAME] sections (struct vdr_net_cfg).
 *
 * Threading: a driver belongs to one thread (the worker that polls it).
 * No driver prints a message it carries.
 */
#ifndef VEIL_DRIVER_H
#define VEIL_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veil_msg.h"

#define VDR_EOF (-1) /**< vdr_rx(): every input is exhausted */
#define VDR_ERR (-2) /**< vdr_rx(), vdr_tx(): a fatal error, see vdr_error() */

/** Counters of one driver (one thread: read them from that thread).
 *  Driver-specific counters (packets, connections, upstream queue) are
 *  vdr_xstats(). */
struct vdr_stats {
	uint64_t rx_msgs;         /**< messages delivered by vdr_rx() */
	uint64_t rx_bytes;        /**< bytes read, line ends included */
	uint64_t rx_size;         /**< bytes of the inputs, when known (files) */
	uint64_t rx_oversize;     /**< messages over the maximum, dropped whole */
	uint64_t rx_unterminated; /**< inputs whose last line had no line end
				       (the line is delivered) */
	uint64_t rx_errors;       /**< inputs that could not be read to the end */
	uint64_t rx_inputs_done;  /**< inputs read to their end */
	uint64_t tx_msgs;         /**< lines written (buffered lines count
				       once written; in memory, once taken) */
	uint64_t tx_bytes;        /**< bytes written, line ends included */
	uint64_t tx_errors;       /**< failed writes (the output is lost) */
	uint64_t tx_lost;         /**< forwarded lines that a failed write kept
				       from the output (given to a vdr_tx()
				       that failed, or buffered when it did) */
	uint64_t tx_held;         /**< forwarded lines not delivered yet:
				       while running, those an upstream still
				       holds (its memory queue and spool; with
				       several, the most any holds); at the
				       end, those kept for the next run (an
				       upstream's disk spool) */
	uint64_t rx_kernel_drops; /**< datagrams the kernel dropped before
				       they could be read (a UDP listener's
				       receive buffer full): lines lost on
				       the way in, counted */
};

struct vdr_driver;

/**
 * Receive up to @p max messages into @p lines (data, length, source
 * index). The messages stay valid until the next vdr_rx() on this driver.
 * @return the number of messages (> 0); 0 when nothing is there now (a
 *   pipe with no data yet, an idle network: call again at once; a driver
 *   that may wait does so inside, the file driver up to 100 ms, the
 *   socket driver ~1 ms, the dpdk driver never); VDR_EOF when every
 *   input is exhausted; VDR_ERR on a fatal error (vdr_error() says which).
 */
int vdr_rx(struct vdr_driver *d, struct vdp_line *lines, unsigned max);
/**
 * Give back the last @p n messages of the previous vdr_rx() (n at most
 * what it returned): the next vdr_rx() returns them again, unchanged.
 * This is how a caller that cannot take a whole burst applies
 * backpressure without losing a line.
 */
void vdr_rx_return(struct vdr_driver *d, unsigned n);
/**
 * Lines that outlive the next vdr_rx(), for a caller that hands them to
 * other threads: call vdr_rx_keep() once, before the first vdr_rx(). A
 * driver that can (file, mem) then keeps the lines of each vdr_rx() where
 * they are until released; the others change nothing.
 * @return true when the driver keeps lines.
 */
bool vdr_rx_keep(struct vdr_driver *d);
/**
 * The mark of the lines the last vdr_rx() returned when the driver keeps
 * them (marks grow, from 1), or 0: these are valid only until the next
 * vdr_rx(), as always (no vdr_rx_keep(), or lines the driver had to
 * assemble or could not keep).
 */
uint64_t vdr_rx_kept(const struct vdr_driver *d);
/** No line of a mark below @p mark is in use any more: the driver may
 *  reuse their memory. */
void vdr_rx_release(struct vdr_driver *d, uint64_t mark);
/**
 * Send the forwarded lines of @p b (each followed by a line end), built
 * from its segments; dropped lines are skipped. A driver may buffer them
 * until its buffer is full or vdr_flush().
 * @return the number of lines taken, or VDR_ERR (vdr_error() says why;
 *   the forwarded lines that did not reach the output are in tx_lost).
 */
int vdr_tx(struct vdr_driver *d, const struct vdp_burst *b);
/** Push out what is buffered. @return 0 or VDR_ERR. */
int vdr_flush(struct vdr_driver *d);
void vdr_stats(const struct vdr_driver *d, struct vdr_stats *st);
/**
 * The driver's own counters, by name (lower case, [a-z0-9_]: "rx_packets",
 * "drop_bad_checksum", "tcp_accepted", "upstream_queue_dropped", ...):
 * up to @p cap of them into @p names (static strings, the same order on
 * every call) and @p vals. Every packet, connection and message a network
 * driver drops or holds has a counter here.
 * @return how many the driver has (may be more than @p cap; 0 for file
 *   and mem).
 */
unsigned vdr_xstats(const struct vdr_driver *d, const char **names,
		    uint64_t *vals, unsigned cap);
/** Why an upstream dropped a line (struct vdr_row drops[]). */
enum vdr_row_drop {
	VDR_ROW_DROP_QUEUE_FULL,  /**< its memory queue was full */
	VDR_ROW_DROP_NO_MEMORY,
	VDR_ROW_DROP_SPOOL_FULL,  /**< its spool was full (spool_bytes) */
	VDR_ROW_DROP_SPOOL_ERROR, /**< its spool could not be written or read */
	VDR_ROW_DROP_TOO_BIG,     /**< too long for one datagram */
	VDR_ROW_DROP_COUNT
};

enum vdr_row_state { VDR_ROW_DOWN, VDR_ROW_CONNECTING, VDR_ROW_CONNECTED,
		     VDR_ROW_LISTENING };

/** An upstream collector or a listener of a network driver, now: what
 *  veilctl stats shows for each. */
struct vdr_row {
	bool listener;            /**< a [listen NAME]; else an [upstream NAME] */
	enum vdr_row_state state;
	const char *proto;        /**< "udp", "tcp", "tls", "relp" (static) */
	char name[64];            /**< the section's NAME */
	char addr[300];           /**< HOST:PORT as configured */
	double since;             /**< in this state since (seconds since 1970,
				       CLOCK_REALTIME); 0: unknown */
	uint64_t queued_lines;    /**< in memory, not acknowledged yet */
	uint64_t queued_bytes;    /**< their bytes, framing included */
	uint64_t spooled_lines;   /**< in the spool, not acknowledged yet
				       (those in memory too) */
	uint64_t spooled_bytes;
	uint64_t delivered;       /**< acknowledged by the collector */
	uint64_t resent;          /**< sent again on a new connection */
	uint64_t connects, disconnects, failures; /**< connections made, lost,
						       attempts that failed */
	uint64_t drops[VDR_ROW_DROP_COUNT];
	uint64_t kernel_drops;    /**< a UDP listener: datagrams the kernel
				       dropped, its socket's buffer full */
};
/**
 * The driver's upstreams and listeners: up to @p cap into @p rows.
 * Call from the driver's thread. @return how many there are (0 for file
 * and mem).
 */
unsigned vdr_rows(const struct vdr_driver *d, struct vdr_row *rows, unsigned cap);
/** @return "file", "mem", "socket", "dpdk". */
const char *vdr_name(const struct vdr_driver *d);
/** @return the last error as a sentence (a path and a reason, never a
 *  message's content), or "" if none. */
const char *vdr_error(const struct vdr_driver *d);
/** Flush nothing, release everything. NULL is allowed. */
void vdr_free(struct vdr_driver *d);

/* ------------------------------------------------------------------ */
/* file: snapshot mode                                                */
/* ------------------------------------------------------------------ */

/** One input of the file driver. */
struct vdr_file_input {
	const char *path; /**< a file, or "-" for stdin */
	uint16_t src;     /**< the source index of its lines */
};

/**
 * Read the inputs one after the other, in order, framed as lines
 * (VDP_FRAME_FILE: LF or CRLF; a NUL is data; a line longer than
 * @p max_msg is dropped whole and counted). Every input is read in
 * large blocks (DRV_CHUNK), regular files with sequential read-ahead
 * advised; never mapped, so that a file cut short while it is read (a
 * rotation by copy and truncate) ends the input instead of raising
 * SIGBUS. Write the forwarded
 * lines to @p out ("-" or NULL: stdout), created or truncated.
 * Every input is opened here, so a missing file fails now.
 * @return the driver, or NULL with a sentence in @p err and errno.
 */
struct vdr_driver *vdr_file_new(const struct vdr_file_input *in, unsigned n,
				const char *out, size_t max_msg, char *err,
				size_t errlen);

/* ------------------------------------------------------------------ */
/* mem: in memory, for tests and benchmarks                           */
/* ------------------------------------------------------------------ */

/**
 * A driver reading buffers added with vdr_mem_add(), framed like files.
 * @p collect: keep the output (vdr_mem_output()); otherwise each line is
 * copied into a scratch buffer and counted, as a sending driver would.
 * @return the driver, or NULL with errno (EINVAL, ENOMEM).
 */
struct vdr_driver *vdr_mem_new(size_t max_msg, bool collect);
/** Add a buffer of lines for source @p src; it must outlive the driver.
 *  @return 0, or -1 with errno (ENOMEM, EBUSY once reading began). */
int vdr_mem_add(struct vdr_driver *d, const char *buf, size_t len,
		uint16_t src);
/** Read every buffer @p loops times in all (benchmarks; default 1). */
void vdr_mem_set_loops(struct vdr_driver *d, uint64_t loops);
/** The output collected so far (collect mode), or NULL. */
const char *vdr_mem_output(const struct vdr_driver *d, size_t *len);

/* ------------------------------------------------------------------ */
/* network drivers: their configuration                               */
/* ------------------------------------------------------------------ */

/** The network configuration (drivers/netcfg.c, fields in net_pvt.h). */
struct vdr_net_cfg;

struct vdr_net_cfg *vdr_net_cfg_new(void);
void vdr_net_cfg_free(struct vdr_net_cfg *c);
/** Is @p section ("network", "listen NAME", "upstream NAME",
 *  "port NAME") one of the network sections? */
bool vdr_net_cfg_section(const char *section);
/**
 * One key of a network section of the config file.
 * @return 0, or -1 with a sentence in @p err (no file or line: the caller
 *   adds them).
 */
int vdr_net_cfg_set(struct vdr_net_cfg *c, const char *section,
		    const char *key, const char *value, char *err,
		    size_t errlen);
/**
 * Senders in @p cidr ("10.1.0.0/16", "2001:db8::/48", an address alone is
 * a host) belong to source @p src (a [source NAME]'s "networks =", a
 * comma-separated list). The longest prefix wins.
 * @return 0, or -1 with a sentence.
 */
int vdr_net_cfg_map(struct vdr_net_cfg *c, const char *cidr, uint16_t src,
		    char *err, size_t errlen);
/** Senders in no network belong to source @p src (-1, the default: their
 *  messages are dropped and counted as drop_unknown_sender). */
void vdr_net_cfg_default_source(struct vdr_net_cfg *c, int src);
/**
 * After the whole file: are the sections complete and consistent (a
 * listener or a port to receive on, an upstream to send to, TLS files
 * readable, ...)? @return 0, or -1 with a sentence.
 */
int vdr_net_cfg_check(const struct vdr_net_cfg *c, char *err, size_t errlen);
/** @return "socket", "dpdk", or NULL when the file has no [network]
 *  section (snapshot mode). */
const char *vdr_net_cfg_driver(const struct vdr_net_cfg *c);
/** @return the directory that holds the upstreams' spools (spool_dir)
 *  when an upstream spools (on_queue_full = spool), else NULL: what the
 *  process writes while it runs, which must be its user's after a drop
 *  of privileges. */
const char *vdr_net_cfg_spool_dir(const struct vdr_net_cfg *c);
/** One line per listener, port and upstream, for the start-up message
 *  (addresses and protocols; never a key). */
void vdr_net_cfg_describe(const struct vdr_net_cfg *c, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* socket: the kernel path                                            */
/* ------------------------------------------------------------------ */

/** Parts of the configuration a socket driver leaves to another driver. */
enum {
	VDR_SOCK_NO_UDP_LISTEN = 1u << 0,   /**< skip [listen] protocol = udp */
	VDR_SOCK_NO_UDP_UPSTREAM = 1u << 1, /**< skip [upstream] protocol = udp */
	VDR_SOCK_NO_WAIT = 1u << 2,         /**< vdr_rx() never waits (polled
						 by a poll-mode loop) */
	VDR_SOCK_FREEBIND = 1u << 3,        /**< listeners may bind addresses
						 not (yet) on an interface (a
						 TAP's tentative IPv6) */
	VDR_SOCK_NO_LISTEN = 1u << 4,       /**< no listener at all (upstreams
						 only) */
};

/**
 * Listen on every [listen NAME] (UDP: recvmmsg, each datagram a message;
 * TCP: RFC 6587 octet counting or LF framing; TLS: RFC 5425 over OpenSSL,
 * TLS 1.2+), and send each forwarded line to every [upstream NAME] (UDP:
 * sendmmsg, a datagram each; TCP or TLS: octet counted or LF framed, with
 * reconnect and backoff, a bounded queue while an upstream is down, then
 * drops counted). vdr_rx() returns 0 after waiting at most ~1 ms when
 * nothing came; it also serves connections, timeouts and upstreams, so it
 * must be called even when the caller cannot take lines (max 0 is not a
 * call: give at least 1). vdr_flush() waits for the upstream queues to
 * drain, at most the configured drain_timeout.
 * @p flags: VDR_SOCK_* (0: everything in the configuration).
 * @return the driver (sockets bound, listening), or NULL with a sentence.
 */
struct vdr_driver *vdr_socket_new(const struct vdr_net_cfg *c, size_t max_msg,
				  unsigned flags, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* dpdk: the fast path (call after rte_eal_init())                    */
/* ------------------------------------------------------------------ */

/**
 * Start the [port NAME] ethdev ports (and their exception interfaces):
 * syslog over UDP to the port's addresses and listen ports goes to the
 * pipeline, everything else to the kernel; forwarded lines leave as UDP
 * syslog to the UDP upstreams, built here. TCP and TLS listeners and
 * upstreams are served by a socket driver inside this one (through the
 * exception interface).
 * @p workers: each has its own RX/TX queue pair on every port (a port's
 *   queues = N may give more: worker i polls RX queues i, i + workers, ...
 *   and sends on TX queue i), RSS over IP and UDP spreads the senders.
 * @return the device, or NULL with a sentence. With one worker it is
 *   that worker's driver; with more, each worker polls its own
 *   (vdr_dpdk_worker()) and the device only counts (vdr_stats and
 *   vdr_xstats: the sums over the workers, to read once they stopped;
 *   with one worker, from its thread too). vdr_free() of the device frees them all.
 */
struct vdr_driver *vdr_dpdk_new(const struct vdr_net_cfg *c, size_t max_msg,
				unsigned workers, char *err, size_t errlen);
/** Worker @p i's driver of the device @p d (vdr_dpdk_new()), or NULL.
 *  Only one thread may use it; its stats and xstats are its own. */
struct vdr_driver *vdr_dpdk_worker(struct vdr_driver *d, unsigned i);

#endif
