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

/* The spool's lines, in order, into the memory queue while it has room. */
static void fill(struct sock_drv *d, struct sk_up *u)
{
	for (unsigned i = 0; i < SPOOL_FILL; i++) {
		const void *p;
		uint32_t len;
		int rc = vdr_spool_peek(u->sp, &p, &len);
		if (rc == 0 || !sk_q_room(d, u, len))
			return;
		if (rc < 0) {
			/* unreadable (the disk gave back other bytes): this
			 * line is lost, the others go on */
			d->x[SKX_upstream_spool_errors]++;
			if (vdr_spool_take(u->sp) == 0)
				vdr_spool_ack(u->sp, 1);
			sk_up_drop(d, u, SK_DROP_SPOOL_ERROR);
			continue;
		}
		if (sk_q_put_line(u, p, NULL, 0, len) != 0)
			return; /* no memory now: it stays in the spool */
		(void)vdr_spool_take(u->sp);
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
	struct vdr_spool_stats st;
	vdr_spool_stats(u->sp, &st);
	uint64_t full = st.dropped_full;
	if (vdr_spool_append(u->sp, u->sp_buf, (uint32_t)len) != 0) {
		vdr_spool_stats(u->sp, &st);
		if (st.dropped_full > full) {
			sk_up_drop(d, u, SK_DROP_SPOOL_FULL);
		} else {
			d->x[SKX_upstream_spool_errors]++;
			sk_up_drop(d, u, SK_DROP_SPOOL_ERROR);
		}
		return;
	}
	u->sp_dirty = true;
	/* nothing waits before it and there is room: into the memory queue
	 * at once, without reading it back */
	if (st.unsent == 0 && sk_q_room(d, u, len) &&
	    sk_q_put_line(u, u->sp_buf, NULL, 0, len) == 0)
		(void)vdr_spool_take_appended(u->sp, (uint32_t)len);
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

/* Lines @p u holds, not delivered yet: in its spool (those in memory are
 * there too), or in its memory queue. */
uint64_t sk_up_waiting(const struct sk_up *u)
{
	return u->sp != NULL ? sk_spool_left(u) : u->r_tail - u->r_head;
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
}
