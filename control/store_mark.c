/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The governance log's mark, beside the master key (see store.c for what
 * it protects against): written after commits of records, never ahead of
 * them, in one of two slots; once the daemon runs, by a thread of its
 * own, so the loop does not wait for its fdatasync, every CTL_MARK_EVERY
 * commits (an fdatasync after every commit cost about as much CPU as the
 * commit's own).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store_pvt.h"

/* ---- the mark, beside the master key ---- */


static int mark_pack(struct ctl_store *s, const struct mark *m, uint8_t out[MARK_SLOT])
{
	memcpy(out, "VEILMRK1", 8);
	st_put_be64(out + 8, m->gen);
	memcpy(out + 16, m->id, 16);
	st_put_be64(out + 32, (uint64_t)m->seq);
	st_put_be64(out + 40, (uint64_t)m->anchor);
	memcpy(out + 48, m->mac, 32);
	return ctl_wrap_tag(s->wrap, MARK_LABEL, out, MARK_BODY, out + MARK_BODY);
}

static bool mark_unpack(struct ctl_store *s, const uint8_t in[MARK_SLOT], struct mark *m)
{
	uint8_t tag[32];
	if (memcmp(in, "VEILMRK1", 8) != 0 ||
	    ctl_wrap_tag(s->wrap, MARK_LABEL, in, MARK_BODY, tag) != 0 ||
	    CRYPTO_memcmp(tag, in + MARK_BODY, 32) != 0)
		return false;
	m->gen = st_get_be64(in + 8);
	memcpy(m->id, in + 16, 16);
	m->seq = (int64_t)st_get_be64(in + 32);
	m->anchor = (int64_t)st_get_be64(in + 40);
	memcpy(m->mac, in + 48, 32);
	return true;
}

int st_mark_read(struct ctl_store *s, struct mark *m)
{
	uint8_t buf[MARK_STRIDE + MARK_SLOT];
	int fd = open(s->mark_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? MARK_NONE : MARK_BAD;
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	bool found = false;
	for (int i = 0; i < 2; i++) {
		struct mark t;
		ssize_t off = i * MARK_STRIDE;
		if (n < off + MARK_SLOT || !mark_unpack(s, buf + off, &t))
			continue;
		if (!found || t.gen > m->gen)
			*m = t;
		found = true;
	}
	return found ? MARK_OK : MARK_BAD;
}

/* The mark file, open for writing (made if missing). */
static int mark_open(struct ctl_store *s)
{
	if (s->mark_open)
		return 0;
	bool created = access(s->mark_path, F_OK) != 0;
	s->mark_fd = open(s->mark_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->mark_fd < 0)
		return -1;
	if (s->mark_fd < 3) {
		/* started with a standard stream closed: daemon() would put
		 * /dev/null over it */
		int fd = fcntl(s->mark_fd, F_DUPFD_CLOEXEC, 3);
		close(s->mark_fd);
		if ((s->mark_fd = fd) < 0)
			return -1;
	}
	s->mark_open = true;
	if (created && ctl_fsync_dir(s->mark_path) != 0)
		return -1;
	return 0;
}

/* One packed slot into its place, durably. */
static int mark_put(int fd, const uint8_t slot[MARK_SLOT], uint64_t gen)
{
	return pwrite(fd, slot, MARK_SLOT, (off_t)(gen & 1) * MARK_STRIDE) == MARK_SLOT &&
	       fdatasync(fd) == 0 ? 0 : -1;
}

/* The chain's head and anchor as they are, packed into the next
 * generation's slot. */
static int mark_next(struct ctl_store *s, uint8_t out[MARK_SLOT])
{
	struct mark m = { .gen = s->mark_gen + 1, .seq = s->last_seq,
			  .anchor = s->anchor_seq };
	memcpy(m.id, s->chain_id, 16);
	memcpy(m.mac, s->last_mac, 32);
	if (mark_pack(s, &m, out) != 0)
		return -1;
	s->mark_gen = m.gen;
	s->mark_seq = m.seq;
	s->mark_anchor = m.anchor;
	return 0;
}

/* Write the chain's head and anchor as they are into the older slot, now. */
int st_mark_write(struct ctl_store *s)
{
	uint8_t out[MARK_SLOT];
	if (mark_open(s) != 0 || mark_next(s, out) != 0)
		return -1;
	return mark_put(s->mark_fd, out, s->mark_gen);
}

/* The mark's writer (ctl_store_mark_async): the loop packs the state of
 * every CTL_MARK_EVERY-th commit after that commit returned (so what it
 * holds is durable already) and hands it over; the thread writes the
 * newest it was given, with its fdatasync, off the loop. A handing over
 * first waits until the previous state is on disk (it rarely has to: the
 * commits between take longer than one fdatasync), so the mark on disk
 * lags the database by at most 2 * CTL_MARK_EVERY - 1 commits, and never
 * leads it: a state is handed over only once its records are durable. A
 * pass of the loop that commits nothing hands over what is left
 * (ctl_store_mark_settle), and so does the close. */
struct ctl_mark_writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t wake, written;
	bool stop, failed;
	int fd;
	uint8_t slot[MARK_SLOT]; /* the newest state handed over */
	uint64_t want, done;     /* generations: handed over, written */
	int64_t want_seq, done_seq; /* the head each of them names */
};

static void *mark_thread(void *arg)
{
	struct ctl_mark_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->done == w->want)
			pthread_cond_wait(&w->wake, &w->mu);
		if (w->done == w->want)
			break; /* stopping, everything written */
		uint8_t slot[MARK_SLOT];
		uint64_t gen = w->want;
		int64_t seq = w->want_seq;
		memcpy(slot, w->slot, MARK_SLOT);
		pthread_mutex_unlock(&w->mu);
		int rc = mark_put(w->fd, slot, gen);
		pthread_mutex_lock(&w->mu);
		if (rc != 0)
			w->failed = true;
		w->done = gen;
		if (rc == 0)
			w->done_seq = seq;
		pthread_cond_broadcast(&w->written);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ctl_store_mark_async(struct ctl_store *s)
{
	struct ctl_mark_writer *w = calloc(1, sizeof(*w));
	if (w == NULL || mark_open(s) != 0) {
		free(w);
		return -1;
	}
	w->fd = s->mark_fd;
	w->want = w->done = s->mark_gen;
	w->want_seq = w->done_seq = s->mark_seq;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->written, NULL);
	if (pthread_create(&w->th, NULL, mark_thread, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->wake);
		pthread_cond_destroy(&w->written);
		free(w);
		return -1;
	}
	s->mark_writer = w;
	return 0;
}

/* Wait until the writer wrote everything handed to it; -1 if a write
 * failed since the last call. */
static int mark_wait(struct ctl_mark_writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->done != w->want)
		pthread_cond_wait(&w->written, &w->mu);
	bool failed = w->failed;
	w->failed = false;
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

void st_mark_writer_stop(struct ctl_store *s)
{
	struct ctl_mark_writer *w = s->mark_writer;
	if (w == NULL)
		return;
	ctl_store_mark_settle(s); /* the commits not handed over yet */
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->written);
	free(w);
	s->mark_writer = NULL;
}

/* Hand the state as it is now to the writer; with wait, return once it
 * is written. -1 if a write failed (it is tried again with the next
 * state): the caller answers as for a failed commit. */
static int mark_post(struct ctl_store *s, bool wait)
{
	struct ctl_mark_writer *w = s->mark_writer;
	uint8_t out[MARK_SLOT];
	if (mark_next(s, out) != 0)
		return -1;
	s->mark_unposted = 0;
	pthread_mutex_lock(&w->mu);
	/* the previous state on disk first: the lag stays bounded */
	while (w->done != w->want)
		pthread_cond_wait(&w->written, &w->mu);
	memcpy(w->slot, out, MARK_SLOT);
	w->want = s->mark_gen;
	w->want_seq = s->mark_seq;
	/* a mark on disk that names a record pruning removed would refuse
	 * the next start: wait for this one then (rarely: the head is far
	 * ahead of the anchor unless the log was idle for the retention) */
	wait = wait && s->anchor_seq > w->done_seq;
	bool failed = w->failed;
	w->failed = false;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	if (wait && mark_wait(w) != 0)
		failed = true;
	return failed ? -1 : 0;
}

/* The one hook after a commit of records (or of the anchor): the mark
 * follows the durable chain, never ahead of it. With the writer thread
 * the loop does not wait for it, except when the anchor moved: a mark
 * left naming a record that pruning removed would refuse the next
 * start. */
int st_chain_committed(struct ctl_store *s)
{
	if (s->mark_seq == s->last_seq && s->mark_anchor == s->anchor_seq)
		return 0;
	if (s->mark_writer == NULL)
		return st_mark_write(s);
	if (s->mark_anchor != s->anchor_seq)
		return mark_post(s, true);
	if (++s->mark_unposted < CTL_MARK_EVERY)
		return 0; /* with a later commit's state, or the next settle */
	return mark_post(s, false);
}

int ctl_store_mark_settle(struct ctl_store *s)
{
	if (s->mark_writer == NULL || s->mark_unposted == 0)
		return 0;
	return mark_post(s, false);
}

int64_t st_mark_written_seq(struct ctl_store *s)
{
	struct ctl_mark_writer *w = s->mark_writer;
	if (w == NULL)
		return s->mark_seq;
	pthread_mutex_lock(&w->mu);
	int64_t seq = w->done_seq;
	pthread_mutex_unlock(&w->mu);
	return seq;
}

int ctl_store_mark_flush(struct ctl_store *s)
{
	if (s->mark_writer == NULL)
		return 0;
	int rc = ctl_store_mark_settle(s);
	return mark_wait(s->mark_writer) != 0 ? -1 : rc;
}

/* The mark file a restore of a backup taken now puts beside the master
 * key: the chain's head and anchor as they are, generation 1 in its slot
 * (the other zero). Nothing is written, and the writer's generations are
 * left alone. */
int ctl_store_mark_image(struct ctl_store *s, uint8_t out[CTL_MARK_FILE_LEN])
{
	_Static_assert(CTL_MARK_FILE_LEN == MARK_STRIDE + MARK_SLOT, "mark file size");
	struct mark m = { .gen = 1, .seq = s->last_seq, .anchor = s->anchor_seq };
	memcpy(m.id, s->chain_id, 16);
	memcpy(m.mac, s->last_mac, 32);
	memset(out, 0, CTL_MARK_FILE_LEN);
	return mark_pack(s, &m, out + (m.gen & 1) * MARK_STRIDE);
}
