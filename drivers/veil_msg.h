/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/**
 * @file veil_msg.h
 * What a driver hands up and takes back: byte streams framed into
 * messages (struct vdp_framer), a burst of messages with their source
 * (struct vdp_line), and the rewritten burst to send (struct vdp_burst:
 * each line a verdict and a list of segments). The drivers fill and send
 * them; the dataplane's pipeline (dataplane/pipeline/veil_dp.h) turns the
 * one into the other. No I/O, no DPDK, no crypto: the bottom of the
 * dataplane, under both.
 *
 * The vdp_ prefix is historical: these types were the dataplane
 * library's before the drivers took them over.
 */
#ifndef VEIL_MSG_H
#define VEIL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Framing (framing.c)                                                */
/* ------------------------------------------------------------------ */

enum vdp_framing {
	VDP_FRAME_DATAGRAM,    /**< each feed is one datagram (trailing LF/CR/NUL trimmed) */
	VDP_FRAME_OCTET_COUNT, /**< RFC 6587 3.4.1: "LEN SP MSG", LEN 1-9 digits without
				    a leading zero; LF/CR/NUL between frames skipped */
	VDP_FRAME_LF,          /**< RFC 6587 3.4.2: LF- or NUL-terminated, trailing CRs
				    trimmed */
	VDP_FRAME_TCP_AUTO,    /**< per frame: octet counting if it starts with a digit,
				    else LF (headerless lines that start with a digit,
				    such as bare PAN-OS CSV, need VDP_FRAME_LF) */
	VDP_FRAME_FILE,        /**< LF or CRLF lines of a file (a NUL is data) */
};

struct vdp_framer_stats {
	uint64_t messages;  /**< delivered */
	uint64_t bytes;     /**< fed */
	uint64_t oversize;  /**< messages longer than the maximum, dropped whole */
	uint64_t bad_frame; /**< a bad octet count (the stream fails: at most 1) */
	uint64_t truncated; /**< a partial frame at the end of the stream */
};

struct vdp_framer;
/** @return a framer for one stream, or NULL (ENOMEM, EINVAL: a mode out
 *  of range or @p max_msg outside 1..999999999). The limit applies after
 *  trimming; max_msg bytes are reserved for messages split across feeds. */
struct vdp_framer *vdp_framer_new(enum vdp_framing mode, size_t max_msg);
void vdp_framer_free(struct vdp_framer *f);
/** A complete message; @p msg is valid during the call only. */
typedef void (*vdp_msg_fn)(void *arg, const char *msg, size_t len);
/**
 * Feed the next bytes of the stream; @p cb gets every message completed.
 * @return 0, or -1 when the stream cannot be framed any more (a bad
 *   octet count): the caller closes the connection.
 */
int vdp_framer_feed(struct vdp_framer *f, const char *data, size_t len,
		    vdp_msg_fn cb, void *arg);
/** End of stream: a last unterminated line is delivered (LF, file); a
 *  partial octet-counted frame is counted as truncated. The framer is then
 *  ready for a new stream (a failed one stays failed). */
void vdp_framer_finish(struct vdp_framer *f, vdp_msg_fn cb, void *arg);
const struct vdp_framer_stats *vdp_framer_stats(const struct vdp_framer *f);
/** The length of a datagram's message: trailing LF, CR and NUL trimmed. */
size_t vdp_datagram_len(const char *d, size_t len);

/* ------------------------------------------------------------------ */
/* Bursts (burst.c)                                                   */
/* ------------------------------------------------------------------ */

#define VDP_BURST_MAX 256 /**< lines in one burst */

struct vdp_line {
	const char *data; /**< one framed message, not NUL-terminated */
	uint32_t len;
	uint16_t src;     /**< index of its source */
};

/** A piece of an output line: a run of the input, or a token. */
struct vdp_seg {
	const char *p;
	uint32_t len;
	uint32_t src_off; /**< token: the input bytes it replaced */
	uint32_t src_len;
	bool token;
};

enum vdp_verdict { VDP_FORWARD, VDP_DROP };

struct vdp_out {
	uint8_t verdict;  /**< enum vdp_verdict */
	uint8_t reason;   /**< for a drop: why (the pipeline's enum vdp_reason) */
	uint16_t n_segs;
	uint32_t first_seg;
	uint32_t len;     /**< bytes of the output line */
};

/** The result of a burst; valid until the worker's next burst. */
struct vdp_burst {
	unsigned n;
	struct vdp_out line[VDP_BURST_MAX];
	const struct vdp_seg *segs;
};

/** Copy output line @p i into @p buf. @return its length, or 0 if it does
 *  not fit or was dropped. */
size_t vdp_burst_copy(const struct vdp_burst *b, unsigned i, char *buf,
		      size_t cap);

#endif
