/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * An upstream's disk spool (on_queue_full = spool): every line of the
 * upstream goes through it, write-ahead, so that a line the pipeline handed
 * to the upstream is either delivered or in the spool, across a restart and
 * a kill -9 of veil-dataplane (spool.h says what is durable when). The
 * memory queue is a window over the spool: a line goes into it at once when
 * nothing waits before it and there is room, else it is read back from the
 * spool when there is (in order). A line leaves the spool when the
 * collector's TCP acknowledged it (sk_q_release). Only anonymized lines
 * are ever spooled: the upstream gets lines after the pipeline.
 *
 * When the spool refuses a line (it holds spool_bytes, its disk is full or
 * fails), the upstream does what block does until the spool takes one
 * again: the line goes into the memory queue (marked as in memory only, so
 * that the spool's acknowledgements stay in step), or, when lines wait in
 * the spool before it, into memory behind them (u->bh), in order; the TCP
 * and TLS senders wait while the memory queue is full (sk_up_holds_senders);
 * beyond BLOCK_SLACK over queue_bytes lines are dropped, counted. Those
 * lines are in memory only: a kill -9 loses them, as with block; the lines
 * kept behind go into the spool as soon as it takes lines again.
 */
#include "socket_pvt.h"

int sk_spool_open(struct sock_drv *d, struct sk_up *u, char *err, size_t errlen)
{
	char dir[VDR_PATH_MAX * 2], why[400];
	snprintf(dir, sizeof(dir), "%s/%s", d->cfg.spool_dir, u->cfg.name);
	if (vdr_spool_open(&u->sp, dir, u->cfg.spool_bytes, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "[upstream %s]: %s (spool_dir in [network]: "
			 "a directory of veil-dataplane's user, mode 0700)",
			 u->cfg.name, why);
		return -1;
	}
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	if (st.recovered > 0 || st.torn > 0)
		fprintf(stderr, "veil-dataplane: upstream %s: %llu lines from the "
			"spool %s are sent first%s\n", u->cfg.name,
			(unsigned long long)st.recovered, dir,
			st.torn ? " (a line written part way when it stopped was "
				  "cut off)" : "");
	u->sp_next_sync = u->sp_next_commit = d->now;
	return 0;
}

/* ------------------------------------------------------------------ */
/* when the spool refuses lines                                       */
/* ------------------------------------------------------------------ */

/* The spool refused a line: @p bound, it holds spool_bytes; else its
 * disk failed (errno @p e: full, an I/O error). Until it takes a line
 * again, lines go through memory only, as with block: said in the log
 * once (then at most once a minute), counted each time. */
static void spool_refused(struct sock_drv *d, struct sk_up *u, bool bound, int e)
{
	u->sp_why = bound ? SK_DROP_SPOOL_FULL : SK_DROP_SPOOL_ERROR;
	if (!bound) {
		d->x[SKX_upstream_spool_errors]++;
		u->sp_retry_at = d->now + SPOOL_RETRY;
	}
	if (u->sp_full)
		return;
	u->sp_full = true;
	u->sp_fulls++;
	u->sp_full_since = d->now;
	u->sp_said_full = d->now >= u->sp_next_log;
	if (!u->sp_said_full)
		return;
	u->sp_next_log = d->now + SK_LOG_EVERY;
	char why[160];
	if (bound)
		snprintf(why, sizeof(why), "is full (spool_bytes, %llu MiB)",
			 (unsigned long long)(u->cfg.spool_bytes >> 20));
	else
		snprintf(why, sizeof(why), "%s (its disk: %s)",
			 e == ENOSPC || e == EDQUOT ? "is full" : "cannot be written",
			 strerror(e));
	fprintf(stderr, "veil-dataplane: upstream %s (%s): its spool %s; new "
		"lines go through memory only, as with on_queue_full = block (TCP "
		"and TLS senders wait while the memory queue is full; a kill -9 "
		"loses what is only in memory); %llu time(s) so far\n",
		u->cfg.name, u->text, why, (unsigned long long)u->sp_fulls);
}

/* The spool took a line: lines go through it again (said when the
 * refusal was). */
static void spool_took(struct sock_drv *d, struct sk_up *u)
{
	if (!u->sp_full)
		return;
	u->sp_full = false;
	if (u->sp_said_full)
		fprintf(stderr, "veil-dataplane: upstream %s (%s): its spool takes "
			"lines again after %.1f s; %llu lines went through memory "
			"only so far\n", u->cfg.name, u->text,
			d->now - u->sp_full_since,
			(unsigned long long)u->sp_bypassed);
	u->sp_said_full = false;
}

/* Append a line to the spool. @return whether it took it. A disk that
 * failed is tried again after SPOOL_RETRY; a spool at spool_bytes at
 * each line (it costs no system call). */
static bool spool_try(struct sock_drv *d, struct sk_up *u, const void *p,
		      uint32_t len)
{
	if (u->sp_full && u->sp_why == SK_DROP_SPOOL_ERROR &&
	    d->now < u->sp_retry_at)
		return false;
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	uint64_t full = st.dropped_full;
	if (vdr_spool_append(u->sp, p, len) == 0) {
		u->sp_dirty = true;
		spool_took(d, u);
		return true;
	}
	int e = errno;
	vdr_spool_stats(u->sp, &st);
	spool_refused(d, u, st.dropped_full > full, e);
	return false;
}

/* Lines kept in memory behind the spool's: a FIFO of [length][bytes]. */
static int bh_push(struct sk_up *u, const char *p, uint32_t len)
{
	size_t need = sizeof(len) + len;
	if (u->bh_cap - u->bh_tail < need && u->bh_head > 0) {
		memmove(u->bh, u->bh + u->bh_head, u->bh_tail - u->bh_head);
		u->bh_tail -= u->bh_head;
		u->bh_head = 0;
	}
	if (u->bh_cap - u->bh_tail < need) {
		size_t c = u->bh_cap ? u->bh_cap : 64u * 1024u;
		while (c - u->bh_tail < need)
			c *= 2;
		char *n = malloc(c);
		if (n == NULL)
			return -1;
		if (u->bh != NULL) {
			memcpy(n, u->bh, u->bh_tail);
			explicit_bzero(u->bh, u->bh_cap);
			free(u->bh);
		}
		u->bh = n;
		u->bh_cap = c;
	}
	memcpy(u->bh + u->bh_tail, &len, sizeof(len));
	memcpy(u->bh + u->bh_tail + sizeof(len), p, len);
	u->bh_tail += need;
	u->bh_lines++;
	return 0;
}

static const char *bh_front(const struct sk_up *u, uint32_t *len)
{
	memcpy(len, u->bh + u->bh_head, sizeof(*len));
	return u->bh + u->bh_head + sizeof(*len);
}

static void bh_pop(struct sk_up *u)
{
	uint32_t len;
	bh_front(u, &len);
	explicit_bzero(u->bh + u->bh_head, sizeof(len) + len);
	u->bh_head += sizeof(len) + len;
	if (--u->bh_lines == 0)
		u->bh_head = u->bh_tail = 0;
}

/* A line the spool refused: into the memory queue when no line waits in
 * the spool before it, else in memory behind those (in order); as block
 * keeps lines, up to BLOCK_SLACK over queue_bytes (the senders wait
 * meanwhile), then dropped, counted by why the spool refused it. */
static void hold(struct sock_drv *d, struct sk_up *u, const char *p, uint32_t len)
{
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	size_t behind = u->bh_tail - u->bh_head;
	if (!sk_q_slack(d, u, len, behind)) {
		sk_up_drop(d, u, u->sp_why);
		return;
	}
	if (st.unsent > 0 || u->bh_lines > 0) {
		if (bh_push(u, p, len) != 0)
			sk_up_drop(d, u, SK_DROP_NO_MEMORY);
		return;
	}
	if (sk_q_put_line(u, p, NULL, 0, len, false) != 0) {
		sk_up_drop(d, u, SK_DROP_NO_MEMORY);
		return;
	}
	u->sp_bypassed++;
}

/* The spool's lines, in order, into the memory queue while it has room;
 * then the lines kept behind them. Those go into the spool first when it
 * takes lines again. */
static void fill(struct sock_drv *d, struct sk_up *u)
{
	uint32_t len;
	while (u->bh_lines > 0) {
		const char *p = bh_front(u, &len);
		if (!spool_try(d, u, p, len))
			break;
		bh_pop(u);
	}
	for (unsigned i = 0; i < SPOOL_FILL; i++) {
		const void *p;
		int rc = vdr_spool_peek(u->sp, &p, &len);
		if (rc == 0)
			break;
		if (rc < 0) {
			/* unreadable (the disk gave back other bytes): this
			 * line is lost, the others go on */
			d->x[SKX_upstream_spool_errors]++;
			if (vdr_spool_take(u->sp) == 0)
				vdr_spool_ack(u->sp, 1);
			sk_up_drop(d, u, SK_DROP_SPOOL_ERROR);
			continue;
		}
		if (!sk_q_room(d, u, len) || sk_q_put_line(u, p, NULL, 0, len, true) != 0)
			return; /* no room or no memory now: it stays in the spool */
		if (vdr_spool_take(u->sp) != 0) {
			/* not marked taken (no memory): it stays in the
			 * spool only, for a later round */
			sk_q_unput(u);
			return;
		}
	}
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	while (st.unsent == 0 && u->bh_lines > 0) {
		const char *p = bh_front(u, &len);
		if (!sk_q_room(d, u, len) || sk_q_put_line(u, p, NULL, 0, len, false) != 0)
			return;
		u->sp_bypassed++;
		bh_pop(u);
	}
}

void sk_spool_line(struct sock_drv *d, struct sk_up *u, const struct vdp_seg *s,
		   unsigned n, size_t len)
{
	if (u->sp_cap < len) {
		char *b = realloc(u->sp_buf, len);
		if (b == NULL) {
			sk_up_drop(d, u, SK_DROP_NO_MEMORY);
			return;
		}
		u->sp_buf = b;
		u->sp_cap = len;
	}
	size_t o = 0;
	for (unsigned k = 0; k < n; k++) {
		memcpy(u->sp_buf + o, s[k].p, s[k].len);
		o += s[k].len;
	}
	/* lines wait in memory behind the spool's: after them */
	if (u->bh_lines > 0) {
		hold(d, u, u->sp_buf, (uint32_t)len);
		return;
	}
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	if (!spool_try(d, u, u->sp_buf, (uint32_t)len)) {
		hold(d, u, u->sp_buf, (uint32_t)len);
		return;
	}
	/* nothing waits before it and there is room: into the memory queue
	 * at once, without reading it back */
	if (st.unsent == 0 && sk_q_room(d, u, len) &&
	    sk_q_put_line(u, u->sp_buf, NULL, 0, len, true) == 0 &&
	    vdr_spool_take_appended(u->sp, (uint32_t)len) != 0)
		sk_q_unput(u); /* no memory: it stays in the spool only */
}

/* Refill the memory queue; make the appends durable and commit the
 * acknowledged position on their schedules (or @p now: at exit). */
void sk_spool_service(struct sock_drv *d, struct sk_up *u, bool now)
{
	if (u->sp == NULL)
		return;
	fill(d, u);
	if (u->sp_dirty && (now || d->now >= u->sp_next_sync)) {
		if (vdr_spool_sync(u->sp) != 0) {
			d->x[SKX_upstream_spool_errors]++;
			if (d->now >= u->next_drop_log[SK_DROP_SPOOL_ERROR]) {
				u->next_drop_log[SK_DROP_SPOOL_ERROR] = d->now + SK_LOG_EVERY;
				fprintf(stderr, "veil-dataplane: upstream %s: the spool "
					"cannot be synced: %s\n", u->cfg.name,
					strerror(errno));
			}
		}
		u->sp_dirty = false;
		u->sp_next_sync = d->now + SPOOL_SYNC;
	}
	if (now || d->now >= u->sp_next_commit) {
		if (vdr_spool_commit(u->sp) != 0)
			d->x[SKX_upstream_spool_errors]++;
		u->sp_next_commit = d->now + SPOOL_COMMIT;
	}
}

/* Lines in the spool, not acknowledged (they are sent by the next run). */
uint64_t sk_spool_left(const struct sk_up *u)
{
	struct vdr_spool_stats st;
	if (u->sp == NULL)
		return 0;
	vdr_spool_stats(u->sp, &st);
	return st.queued;
}

/* Lines @p u holds in memory only: all of a memory queue without a
 * spool; with one, those that went round it while it refused lines. */
uint64_t sk_up_mem_only(const struct sk_up *u)
{
	return u->sp != NULL ? u->q_mem + u->bh_lines : u->r_tail - u->r_head;
}

/* Lines @p u holds, not delivered yet: in its spool (those in memory that
 * were taken from it are there too), and in memory only. */
uint64_t sk_up_waiting(const struct sk_up *u)
{
	return sk_spool_left(u) + sk_up_mem_only(u);
}

void sk_spool_close(struct sk_up *u)
{
	vdr_spool_close(u->sp); /* syncs, commits what was acknowledged */
	u->sp = NULL;
	if (u->sp_buf != NULL) {
		explicit_bzero(u->sp_buf, u->sp_cap);
		free(u->sp_buf);
	}
	u->sp_buf = NULL;
	u->sp_cap = 0;
	if (u->bh != NULL) {
		explicit_bzero(u->bh, u->bh_cap);
		free(u->bh);
	}
	u->bh = NULL;
	u->bh_cap = u->bh_head = u->bh_tail = 0;
	u->bh_lines = 0;
}
