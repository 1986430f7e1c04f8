/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Message framing: cut a byte stream (or a datagram) into syslog messages.
 * See docs/dataplane-framing.md.
 *
 *  - VDP_FRAME_DATAGRAM: every vdp_framer_feed() is one datagram and one
 *    message, with trailing LF, CR and NUL trimmed (vdp_datagram_len).
 *  - VDP_FRAME_OCTET_COUNT (RFC 6587 3.4.1): "MSG-LEN SP SYSLOG-MSG". MSG-LEN
 *    is 1 to 9 decimal digits, non-zero, without a leading zero, followed by
 *    exactly one SP; anything else is a bad frame: bad_frame is counted and
 *    feed returns -1 (now and for every later feed: the stream is lost).
 *    LF, CR and NUL bytes *between* frames are skipped (some senders end
 *    each frame with one); trailing LF, CR and NUL inside a frame are
 *    trimmed from the message as for a datagram.
 *  - VDP_FRAME_LF (RFC 6587 3.4.2): a message ends at LF *or NUL* (RFC 6587
 *    mentions senders that use NUL as the trailer; a stream using NUL would
 *    otherwise be one endless message). Trailing CRs are trimmed.
 *  - VDP_FRAME_TCP_AUTO: decided per frame: a frame that starts with a
 *    digit is octet-counted, anything else is an LF/NUL-terminated line. A
 *    line that starts with a digit is therefore a (bad) octet count: send
 *    syslog over TCP with its "<PRI>" or use VDP_FRAME_LF.
 *  - VDP_FRAME_FILE: lines end at LF only (a NUL is data); trailing CRs are
 *    trimmed.
 *
 * Empty messages (nothing left after trimming) are skipped silently. A
 * message longer than the maximum (after trimming) is dropped whole and
 * counted as oversize: a line is discarded up to its terminator, an
 * octet-counted frame is skipped by exactly its announced length, so the
 * stream stays in sync. At vdp_framer_finish() a last unterminated line is
 * delivered; a partial octet-counted frame (or a partial MSG-LEN) is
 * counted as truncated; the rest of an oversize frame that never came is
 * not counted again.
 *
 * Messages that lie whole inside one feed buffer are passed to the callback
 * in place (zero copy). Only a message split across feeds is assembled in
 * the framer's buffer: max_msg bytes, allocated by vdp_framer_new() (so a
 * stream never fails later for want of memory; the pages are only touched
 * when used). The callback must not feed the same framer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "veil_msg.h"

#define OCTET_DIGITS_MAX 9
#define FRAMER_MAX_MSG	 999999999u /* the largest 9-digit MSG-LEN */

enum fstate {
	FS_START,   /* between messages */
	FS_LEN,	    /* in MSG-LEN */
	FS_FRAME,   /* in an octet-counted message (want bytes in all) */
	FS_SKIP,    /* skipping an oversize octet-counted message */
	FS_LINE,    /* in a line */
	FS_DISCARD, /* discarding an oversize line up to its terminator */
	FS_FAILED,  /* a bad frame: nothing more can be framed */
};

struct vdp_framer {
	enum vdp_framing mode;
	enum fstate state;
	size_t max;
	size_t want;	    /* FS_LEN: the count so far; FS_FRAME: the
			     * message's length; FS_SKIP: the bytes left */
	unsigned ndigits;   /* FS_LEN: digits seen */
	size_t pending_cr;  /* FS_LINE: CRs past a full buffer, not stored */
	size_t n;	    /* bytes in buf */
	char *buf;	    /* max bytes; NULL in datagram mode */
	struct vdp_framer_stats st;
};

size_t vdp_datagram_len(const char *d, size_t len)
{
	while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == '\r' ||
			   d[len - 1] == '\0'))
		len--;
	return len;
}

struct vdp_framer *vdp_framer_new(enum vdp_framing mode, size_t max_msg)
{
	if ((unsigned)mode > VDP_FRAME_FILE || max_msg == 0 ||
	    max_msg > FRAMER_MAX_MSG) {
		errno = EINVAL;
		return NULL;
	}
	struct vdp_framer *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->mode = mode;
	f->max = max_msg;
	f->state = FS_START;
	if (mode != VDP_FRAME_DATAGRAM) {
		f->buf = malloc(max_msg);
		if (f->buf == NULL) {
			free(f);
			errno = ENOMEM;
			return NULL;
		}
	}
	return f;
}

void vdp_framer_free(struct vdp_framer *f)
{
	if (f == NULL)
		return;
	if (f->buf != NULL)
		explicit_bzero(f->buf, f->max); /* message content */
	free(f->buf);
	free(f);
}

const struct vdp_framer_stats *vdp_framer_stats(const struct vdp_framer *f)
{
	return &f->st;
}

static void deliver(struct vdp_framer *f, const char *msg, size_t len,
		    vdp_msg_fn cb, void *arg)
{
	if (len == 0)
		return;
	if (len > f->max) {
		f->st.oversize++;
		return;
	}
	f->st.messages++;
	if (cb != NULL)
		cb(arg, msg, len);
}

static size_t trim_cr(const char *p, size_t len)
{
	while (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The terminator of a line in p[0..len): LF, or NUL too except in files. */
static const char *find_eol(const struct vdp_framer *f, const char *p,
			    size_t len)
{
	const char *lf = memchr(p, '\n', len);
	if (f->mode == VDP_FRAME_FILE)
		return lf;
	const char *nul = memchr(p, '\0', lf != NULL ? (size_t)(lf - p) : len);
	return nul != NULL ? nul : lf;
}

/*
 * Append line bytes to the buffer. The limit is on the line without its
 * trailing CRs: CRs that do not fit are only counted, and the line is
 * oversize (false) if anything but a CR follows them.
 */
static bool line_append(struct vdp_framer *f, const char *p, size_t len)
{
	if (f->pending_cr == 0) {
		size_t k = f->max - f->n;
		if (k > len)
			k = len;
		memcpy(f->buf + f->n, p, k);
		f->n += k;
		p += k;
		len -= k;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\r')
			return false;
		f->pending_cr++;
	}
	return true;
}

static void reset(struct vdp_framer *f)
{
	f->state = FS_START;
	f->want = 0;
	f->ndigits = 0;
	f->pending_cr = 0;
	f->n = 0;
}

/* A line from d[i..]: returns the bytes used. */
static size_t feed_line(struct vdp_framer *f, const char *d, size_t len,
			vdp_msg_fn cb, void *arg)
{
	const char *eol = find_eol(f, d, len);
	size_t seg = eol != NULL ? (size_t)(eol - d) : len;

	if (f->state == FS_DISCARD) {
		if (eol != NULL)
			reset(f);
		return eol != NULL ? seg + 1 : len;
	}
	if (eol != NULL && f->n == 0 && f->pending_cr == 0) {
		/* the whole line is here: in place */
		deliver(f, d, trim_cr(d, seg), cb, arg);
		reset(f);
		return seg + 1;
	}
	if (!line_append(f, d, seg)) {
		f->st.oversize++;
		f->n = 0;
		f->pending_cr = 0;
		f->state = FS_DISCARD;
		if (eol != NULL)
			reset(f);
		return eol != NULL ? seg + 1 : len;
	}
	if (eol == NULL)
		return len;
	deliver(f, f->buf, trim_cr(f->buf, f->n), cb, arg);
	reset(f);
	return seg + 1;
}

/* MSG-LEN SP from d[i..]: returns the bytes used, or 0 for a bad count. */
static size_t feed_len(struct vdp_framer *f, const char *d, size_t len)
{
	size_t i = 0;
	for (; i < len; i++) {
		char c = d[i];
		if (is_digit(c)) {
			if ((f->ndigits == 0 && c == '0') ||
			    f->ndigits == OCTET_DIGITS_MAX)
				return 0;
			f->want = f->want * 10 + (size_t)(c - '0');
			f->ndigits++;
			continue;
		}
		if (c != ' ' || f->ndigits == 0)
			return 0;
		f->ndigits = 0;
		if (f->want > f->max) {
			f->st.oversize++;
			f->state = FS_SKIP;
		} else {
			f->state = FS_FRAME;
			f->n = 0;
		}
		return i + 1;
	}
	return i;
}

/* An octet-counted message from d[i..]: returns the bytes used. */
static size_t feed_frame(struct vdp_framer *f, const char *d, size_t len,
			 vdp_msg_fn cb, void *arg)
{
	if (f->state == FS_SKIP) {
		size_t k = f->want < len ? f->want : len;
		f->want -= k;
		if (f->want == 0)
			reset(f);
		return k;
	}
	if (f->n == 0 && len >= f->want) {
		size_t k = f->want;
		deliver(f, d, vdp_datagram_len(d, k), cb, arg);
		reset(f);
		return k;
	}
	size_t k = f->want - f->n;
	if (k > len)
		k = len;
	memcpy(f->buf + f->n, d, k);
	f->n += k;
	if (f->n == f->want) {
		deliver(f, f->buf, vdp_datagram_len(f->buf, f->n), cb, arg);
		reset(f);
	}
	return k;
}

int vdp_framer_feed(struct vdp_framer *f, const char *data, size_t len,
		    vdp_msg_fn cb, void *arg)
{
	f->st.bytes += len;
	if (f->state == FS_FAILED)
		return -1;
	if (f->mode == VDP_FRAME_DATAGRAM) {
		deliver(f, data, vdp_datagram_len(data, len), cb, arg);
		return 0;
	}
	size_t i = 0;
	while (i < len) {
		const char *d = data + i;
		size_t left = len - i, used;
		switch (f->state) {
		case FS_START:
			if (f->mode == VDP_FRAME_OCTET_COUNT) {
				if (*d == '\n' || *d == '\r' || *d == '\0') {
					i++; /* a trailer between frames */
					continue;
				}
				f->state = FS_LEN;
			} else if (f->mode == VDP_FRAME_TCP_AUTO &&
				   is_digit(*d)) {
				f->state = FS_LEN;
			} else {
				f->state = FS_LINE;
			}
			continue;
		case FS_LEN:
			used = feed_len(f, d, left);
			if (used == 0) {
				f->st.bad_frame++;
				f->state = FS_FAILED;
				return -1;
			}
			break;
		case FS_FRAME:
		case FS_SKIP:
			used = feed_frame(f, d, left, cb, arg);
			break;
		case FS_LINE:
		case FS_DISCARD:
			used = feed_line(f, d, left, cb, arg);
			break;
		default:
			return -1;
		}
		i += used;
	}
	return 0;
}

void vdp_framer_finish(struct vdp_framer *f, vdp_msg_fn cb, void *arg)
{
	switch (f->state) {
	case FS_LEN:
	case FS_FRAME:
		f->st.truncated++;
		break;
	case FS_LINE:
		deliver(f, f->buf, trim_cr(f->buf, f->n), cb, arg);
		break;
	case FS_FAILED:
		return; /* stays failed */
	default:
		break;
	}
	reset(f);
}
