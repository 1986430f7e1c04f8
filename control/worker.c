/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Long reads off the request loop: a thread with a read-only connection of
 * its own (WAL lets it read while the loop writes) runs the requests that
 * may take long (audit.verify, audit.show's pages, the walk of the whole
 * chain after a start from the mark), one at a time in the order they
 * came, and hands each finished answer back as the text that goes out.
 * An eventfd tells the loop that answers are ready; the loop writes them
 * to their callers as it writes any other, without waiting.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctld_pvt.h"

struct ctl_worker {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stop;
	struct ctl_job *todo, **todo_tail;
	struct ctl_job *done, **done_tail;
	int efd;
	struct ctl_store reader;
};

void ctl_job_free(struct ctl_job *j)
{
	if (j == NULL)
		return;
	json_decref(j->req);
	json_decref(j->answer);
	if (j->text != NULL)
		explicit_bzero(j->text, j->len);
	free(j->text);
	free(j);
}

static void run_job(struct ctl_worker *w, struct ctl_job *j)
{
	json_t *a = j->fn(&w->reader, j->req);
	j->ok = json_is_true(json_object_get(a, "ok"));
	if (j->keep)
		j->answer = json_incref(a);
	j->text = json_dumps(a, JSON_COMPACT);
	j->len = j->text != NULL ? strlen(j->text) : 0;
	json_decref(a);
}

static void *worker_main(void *arg)
{
	struct ctl_worker *w = arg;
	/* on a machine with few cores the loop comes first: the worker's
	 * long reads take the CPU the loop leaves (Linux: a thread's nice) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
		/* not allowed: it runs at the loop's priority */
	}
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct ctl_job *j = w->todo;
		if (j == NULL) {
			pthread_cond_wait(&w->wake, &w->mu);
			continue;
		}
		w->todo = j->next;
		if (w->todo == NULL)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->mu);
		run_job(w, j);
		pthread_mutex_lock(&w->mu);
		j->next = NULL;
		*w->done_tail = j;
		w->done_tail = &j->next;
		uint64_t one = 1;
		if (write(w->efd, &one, sizeof(one)) != sizeof(one)) {
			/* the counter is far from full: nothing to do */
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ctl_worker_start(struct ctld *d, char *err, size_t errlen)
{
	struct ctl_worker *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(w);
		return -1;
	}
	if (ctl_store_reader(&d->store, &w->reader, err, errlen) != 0) {
		close(w->efd);
		free(w);
		return -1;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	int rc = pthread_create(&w->th, NULL, worker_main, w);
	if (rc != 0) {
		snprintf(err, errlen, "a thread for long reads: %s", strerror(rc));
		ctl_store_reader_close(&w->reader);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->wake);
		close(w->efd);
		free(w);
		return -1;
	}
	d->worker = w;
	return 0;
}

int ctl_worker_fd(struct ctld *d)
{
	return d->worker != NULL ? d->worker->efd : -1;
}

void ctl_worker_submit(struct ctld *d, struct ctl_job *j)
{
	struct ctl_worker *w = d->worker;
	j->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
}

struct ctl_job *ctl_worker_done(struct ctld *d)
{
	struct ctl_worker *w = d->worker;
	uint64_t n;
	if (w == NULL)
		return NULL;
	if (read(w->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing counted since the last read */
	}
	pthread_mutex_lock(&w->mu);
	struct ctl_job *j = w->done;
	if (j != NULL) {
		w->done = j->next;
		if (w->done == NULL)
			w->done_tail = &w->done;
		j->next = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	return j;
}

void ctl_worker_stop(struct ctld *d)
{
	struct ctl_worker *w = d->worker;
	if (w == NULL)
		return;
	/* the job under way is cut short (its statement interrupted: a walk
	 * of a long log would hold the stop for minutes); the ones waiting are
	 * dropped with their callers' connections */
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	sqlite3_interrupt(w->reader.db);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	for (struct ctl_job *l = w->todo, *n; l != NULL; l = n) {
		n = l->next;
		ctl_job_free(l);
	}
	for (struct ctl_job *l = w->done, *n; l != NULL; l = n) {
		n = l->next;
		ctl_job_free(l);
	}
	ctl_store_reader_close(&w->reader);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->wake);
	close(w->efd);
	free(w);
	d->worker = NULL;
}
