/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The store's keeper: the WAL's checkpoints and the pruning of the
 * governance log, on a thread with a read-write connection of its own,
 * off the request loop.
 *
 * Checkpoints. SQLite checkpoints inside the commit that takes the WAL past
 * 1,000 pages (wal_autocheckpoint): that commit copies the WAL into the
 * database and fsyncs both while the loop waits. Here the loop's connection
 * only notes, in its WAL hook, that 1,000 more pages are in the WAL; the
 * keeper runs a PASSIVE checkpoint, which copies what no reader still needs
 * without taking the writer's lock. The WAL restarts (and
 * journal_size_limit trims it) at the loop's next write after a complete
 * checkpoint; a checkpoint on the keeper is rarely complete while the loop
 * commits (what it committed meanwhile is left), so once the WAL holds
 * 4,000 pages the loop's connection checkpoints what is left itself,
 * between two of its commits, where nothing is written meanwhile: a few
 * pages, once per 4,000. (Asking the keeper again at every commit past
 * 1,000 pages ran checkpoints back to back, two fsyncs each, every few
 * commits.)
 *
 * Pruning. Each step (CTLD_PRUNE_PASS records: verified from the anchor,
 * deleted, the anchor moved, one transaction) holds the writer's lock for
 * its own length only, so an audited request waits at most one step and a
 * request that writes nothing does not wait at all. The keeper never moves
 * the anchor past the head the mark on disk names (a mark naming a pruned
 * record would refuse the next start); the loop takes each new anchor into
 * its store and hands it to the mark (ctl_store_keeper_poll). After a run,
 * the freed pages go back in short steps, then a checkpoint.
 *
 * Without the thread (ctl_store_keeper_start not called, or failed)
 * SQLite's own autocheckpoint stays, and the loop prunes in steps between
 * its passes (api_house.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store_pvt.h"

/* the pages in the WAL that call for a checkpoint: SQLite's default */
#define KEEPER_CKPT_PAGES 1000
/* the pages from which the loop checkpoints what is left itself, so that
 * its next write restarts the WAL (16 MiB, journal_size_limit) */
#define KEEPER_RESTART_PAGES 4000
/* a checkpoint at least this often while nothing asks for one (seconds) */
#define KEEPER_IDLE_S 1
/* records a prune step; the loop's writes get the lock between steps */
#define KEEPER_PRUNE_STEP 1000
#define KEEPER_PAUSE_US 1000
/* steps of giving pages back after a run (2 GiB at 4 KiB pages) */
#define KEEPER_VACUUM_STEPS 2048

struct ctl_keeper {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stop, ckpt_due;
	/* a prune run: asked by the loop, its progress for the loop */
	bool prune_due, pruning;
	int64_t before, max;
	int64_t anchor;        /* the newest anchor a step committed */
	bool anchor_new;
	char why[400];         /* what stopped the last run */
	uint64_t checkpoints, pruned;
	struct ctl_store *owner; /* the loop's store: its mark's head */
	int asked_at, restart_at; /* the loop's: the WAL's pages when it last
				   * asked the keeper, checkpointed itself */
	struct ctl_store side;   /* the keeper's connection */
};

static bool keeper_stopping(struct ctl_keeper *k)
{
	pthread_mutex_lock(&k->mu);
	bool stop = k->stop;
	pthread_mutex_unlock(&k->mu);
	return stop;
}

static void checkpoint(struct ctl_keeper *k)
{
	int log = 0, done = 0;
	/* PASSIVE: as far as the readers allow, never waiting for the
	 * writer; what is left goes at the next run */
	if (sqlite3_wal_checkpoint_v2(k->side.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				      &log, &done) == SQLITE_OK && done > 0) {
		pthread_mutex_lock(&k->mu);
		k->checkpoints++;
		pthread_mutex_unlock(&k->mu);
	}
}

/* One run: steps until the records due are gone, max is reached, a record
 * fails verification or the daemon stops; then the pages go back. */
static void prune_run(struct ctl_keeper *k, int64_t before, int64_t max)
{
	char why[400] = "";
	int64_t total = 0;
	bool any = false;
	while ((max <= 0 || total < max) && !keeper_stopping(k)) {
		int64_t step = KEEPER_PRUNE_STEP;
		if (max > 0 && max - total < step)
			step = max - total;
		int64_t n = ctl_audit_prune_step(&k->side, before, step,
						 st_mark_written_seq(k->owner), why, sizeof(why));
		if (n < 0 && why[0] == '\0')
			snprintf(why, sizeof(why), "pruning the governance log failed: %s",
				 sqlite3_errmsg(k->side.db));
		if (n > 0) {
			any = true;
			total += n;
			pthread_mutex_lock(&k->mu);
			k->anchor = k->side.anchor_seq;
			k->anchor_new = true;
			k->pruned += (uint64_t)n;
			pthread_mutex_unlock(&k->mu);
		}
		if (n < step || why[0] != '\0')
			break;
		usleep(KEEPER_PAUSE_US);
	}
	for (int i = 0; any && i < KEEPER_VACUUM_STEPS && !keeper_stopping(k) &&
	     ctl_store_give_back_step(&k->side) == 1; i++)
		usleep(KEEPER_PAUSE_US);
	checkpoint(k);
	pthread_mutex_lock(&k->mu);
	snprintf(k->why, sizeof(k->why), "%s", why);
	k->pruning = false;
	pthread_mutex_unlock(&k->mu);
}

static void *keeper_thread(void *arg)
{
	struct ctl_keeper *k = arg;
	/* the loop comes first, as for the worker (worker.c) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
		/* not allowed: it runs at the loop's priority */
	}
	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		if (!k->ckpt_due && !k->prune_due) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += KEEPER_IDLE_S;
			pthread_cond_timedwait(&k->wake, &k->mu, &until);
			if (k->stop)
				break;
		}
		bool prune = k->prune_due;
		int64_t before = k->before, max = k->max;
		k->prune_due = k->ckpt_due = false;
		pthread_mutex_unlock(&k->mu);
		if (prune)
			prune_run(k, before, max);
		else
			checkpoint(k);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* The loop's connection after each commit: hand the copy over. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ctl_keeper *k = arg;
	(void)name;
	if (pages < k->asked_at) /* the WAL restarted */
		k->asked_at = k->restart_at = 0;
	if (pages >= KEEPER_RESTART_PAGES && pages >= k->restart_at + KEEPER_CKPT_PAGES) {
		/* what the keeper left, here, between two commits: complete
		 * unless a reader holds an older snapshot (then again 1,000
		 * pages on) */
		int log = 0, done = 0;
		k->asked_at = k->restart_at = pages;
		if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
					      &done) == SQLITE_OK && done > 0) {
			pthread_mutex_lock(&k->mu);
			k->checkpoints++;
			pthread_mutex_unlock(&k->mu);
		}
	} else if (pages >= k->asked_at + KEEPER_CKPT_PAGES) {
		k->asked_at = pages;
		pthread_mutex_lock(&k->mu);
		k->ckpt_due = true;
		pthread_cond_signal(&k->wake);
		pthread_mutex_unlock(&k->mu);
	}
	return SQLITE_OK;
}

int ctl_store_keeper_start(struct ctl_store *s)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	struct ctl_keeper *k = calloc(1, sizeof(*k));
	if (k == NULL || path == NULL || s->mark_writer == NULL)
		goto fail;
	k->owner = s;
	k->side.mark_fd = -1;
	k->side.keeper_side = true;
	k->side.audit_key = s->audit_key; /* the owner's locked copy, read only */
	if (sqlite3_open_v2(path, &k->side.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_exec(k->side.db, "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(k->side.db, 5000);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&k->th, NULL, keeper_thread, k) != 0) {
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->wake);
		goto fail;
	}
	/* replaces SQLite's autocheckpoint on the loop's connection */
	sqlite3_wal_hook(s->db, wal_hook, k);
	s->keeper = k;
	return 0;
fail:
	if (k != NULL)
		sqlite3_close(k->side.db);
	free(k);
	return -1;
}

int ctl_store_keeper_prune(struct ctl_store *s, int64_t before, int64_t max)
{
	struct ctl_keeper *k = s->keeper;
	if (k == NULL)
		return -1;
	pthread_mutex_lock(&k->mu);
	if (!k->pruning) { /* a run under way goes on; the next asks again */
		k->pruning = k->prune_due = true;
		k->before = before;
		k->max = max;
		pthread_cond_signal(&k->wake);
	}
	pthread_mutex_unlock(&k->mu);
	return 0;
}

bool ctl_store_keeper_poll(struct ctl_store *s, char *why, size_t whylen)
{
	struct ctl_keeper *k = s->keeper;
	why[0] = '\0';
	if (k == NULL)
		return false;
	pthread_mutex_lock(&k->mu);
	bool moved = k->anchor_new, pruning = k->pruning;
	int64_t anchor = k->anchor;
	k->anchor_new = false;
	if (!pruning) {
		snprintf(why, whylen, "%s", k->why);
		k->why[0] = '\0';
	}
	pthread_mutex_unlock(&k->mu);
	if (moved && anchor > s->anchor_seq) {
		s->anchor_seq = anchor;
		st_chain_committed(s); /* the mark follows the anchor */
	}
	return pruning;
}

void ctl_store_keeper_counts(const struct ctl_store *s, uint64_t *checkpoints,
			     uint64_t *pruned)
{
	struct ctl_keeper *k = s->keeper;
	*checkpoints = *pruned = 0;
	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	*checkpoints = k->checkpoints;
	*pruned = k->pruned;
	pthread_mutex_unlock(&k->mu);
}

void st_checkpoint_soon(struct ctl_store *s)
{
	struct ctl_keeper *k = s->keeper;
	if (k == NULL) {
		sqlite3_exec(s->db, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, NULL);
		return;
	}
	pthread_mutex_lock(&k->mu);
	k->ckpt_due = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->mu);
}

void st_keeper_stop(struct ctl_store *s)
{
	struct ctl_keeper *k = s->keeper;
	if (k == NULL)
		return;
	/* SQLite's own autocheckpoint again, for what the close commits */
	sqlite3_wal_autocheckpoint(s->db, KEEPER_CKPT_PAGES);
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_signal(&k->wake);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->wake);
	/* the anchor of a step the loop had not taken yet: into the mark */
	if (k->anchor_new && k->anchor > s->anchor_seq) {
		s->anchor_seq = k->anchor;
		st_chain_committed(s);
	}
	st_mac_release(&k->side);
	st_forget_kept(&k->side);
	sqlite3_close(k->side.db);
	free(k);
	s->keeper = NULL;
}
