/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The spool: a disk-backed first-in first-out queue of lines, one per
 * upstream, for the lines an upstream cannot take now (it is down, or
 * slower than the senders). Private to drivers/.
 *
 * On disk: a directory (mode 0700) of segment files NNNNNNNNNNNNNNNN.seg
 * (hexadecimal sequence numbers, mode 0600), each a magic and records
 * (length, CRC-32 of length and bytes, the bytes), and a file "head" that
 * says where the first record not yet delivered is (written to a temporary
 * file, synced, renamed). Segments before the head are deleted.
 *
 * A record goes through three states: appended (in the spool, not sent),
 * taken (sent, not yet acknowledged by the peer: vdr_spool_peek and
 * vdr_spool_take, or vdr_spool_take_appended for the record just appended
 * when its bytes are at hand), acknowledged (vdr_spool_ack, oldest first).
 * vdr_spool_commit makes the acknowledged position durable and deletes the
 * segments wholly before it.
 *
 * The guarantee (docs/reliability.md): a record whose append returned
 * survives a kill -9 of the process (the kernel has its bytes); once
 * vdr_spool_sync returned, it survives the machine's crash too. It is
 * delivered at least once: after a restart every record after the last
 * committed acknowledgement is sent again (duplicates, never a loss). A
 * record written part way when the process or the machine stopped fails
 * its length or CRC check at the next open and is cut off (counted as
 * torn): its append never returned. When the spool holds max_bytes,
 * appends are refused (ENOSPC) and counted.
 *
 * A full disk: a commit deletes the segments wholly acknowledged even when
 * it cannot write the head (the next open reads the first segment left
 * from its start: duplicates, never a loss); an append that finds no room
 * (ENOSPC, EDQUOT, EFBIG) while every record is acknowledged starts over
 * in a new segment (the tail renamed and cut back), so that a spool on a
 * file system smaller than its segments does not stay full.
 *
 * Not thread-safe: one owner (the upstream's loop).
 */
#ifndef VEIL_DRV_SPOOL_H
#define VEIL_DRV_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct vdr_spool;

struct vdr_spool_stats {
	uint64_t queued;        /* records not yet acknowledged */
	uint64_t queued_bytes;  /* their bytes (without the record headers) */
	uint64_t unsent;        /* of those, not taken (sent) yet */
	uint64_t used_bytes;    /* the segment files' size on disk */
	uint64_t appended;      /* since the open */
	uint64_t delivered;     /* acknowledged since the open */
	uint64_t dropped_full;  /* appends refused: the spool was full */
	uint64_t recovered;     /* found at the open, from before it */
	uint64_t torn;          /* cut at the open: written part way */
	uint64_t write_errors;  /* appends that failed on the disk (full, EIO) */
	unsigned segments;
};

/**
 * Open (or create) the spool in @p dir (its parent must exist), holding at
 * most @p max_bytes of segment files. Recovers what an earlier run left:
 * every record after the head, checked, a torn tail cut off.
 * @return 0, or -1 with errno set and @p err saying what and where.
 */
int vdr_spool_open(struct vdr_spool **out, const char *dir, uint64_t max_bytes,
		   char *err, size_t cap);

/** Append a record of @p len bytes (1 to 16 MiB). @return 0, or -1: errno
 * ENOSPC (full: counted in dropped_full), EINVAL, or a write error. */
int vdr_spool_append(struct vdr_spool *s, const void *p, uint32_t len);

/** Make every appended record durable (fdatasync; the directory too when
 * a segment was added). @return 0 or -1 (errno). */
int vdr_spool_sync(struct vdr_spool *s);

/** The first record not taken yet: @p p (valid until the next call) and
 * @p len. @return 1, 0 when every record is taken, -1 on a read error. */
int vdr_spool_peek(struct vdr_spool *s, const void **p, uint32_t *len);

/** The record vdr_spool_peek() gave is taken (sent). @return 0 or -1. */
int vdr_spool_take(struct vdr_spool *s);

/** The record appended last, of @p len bytes, is taken without reading it
 * back (the caller has its bytes): only when it is the one record not
 * taken. @return 0, or -1 (EINVAL: other records wait before it). */
int vdr_spool_take_appended(struct vdr_spool *s, uint32_t len);

/** The @p n oldest taken records were acknowledged. @return how many were
 * (at most the taken ones). */
uint64_t vdr_spool_ack(struct vdr_spool *s, uint64_t n);

/** Make the acknowledged position durable and delete the segments wholly
 * before it. Until then, a restart sends those records again.
 * @return 0 or -1 (errno). */
int vdr_spool_commit(struct vdr_spool *s);

void vdr_spool_stats(const struct vdr_spool *s, struct vdr_spool_stats *st);

/** Close (commits first). NULL is fine. */
void vdr_spool_close(struct vdr_spool *s);

#endif
