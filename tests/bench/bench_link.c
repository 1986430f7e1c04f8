/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Link benchmark (a `meson benchmark`, never a test: it prints figures and
 * fails only if the link does not work): how long a dataplane waits for
 * the keys of many tenants.
 *
 * Without --attach, controld's link server and a dataplane's side of the
 * link in one process (the dataplane in a thread of its own, with its own
 * mapping of the region, as two processes would have), over a store of N
 * tenants (default 100,000) that answers the server's cursor as
 * ctl_link_keys does (a binary search, then the keys in order; no
 * database, no unwrap: the link alone):
 *   (a) at controld's settings: 1,024 slots, the server polled every
 *       10 ms while a resync runs (VEIL_LINK_BUSY_POLL_MS), else every
 *       100 ms, the dataplane draining every 10 ms: time to the full
 *       sync; (a') the same polled every 100 ms only (controld before);
 *   (b) as fast as the link goes: the server polled back to back, the
 *       dataplane draining without pause: keys/s;
 *   (c) (a) again with a dataplane that takes 64 messages per 10 ms (a
 *       busy main lcore): the resync still ends, resuming at each poll.
 *
 * With --attach SOCKET it plays the dataplane against a running
 * veil-controld (tests/bench/bench_link_sync.py starts one with N
 * tenants): connect (controld's uid checked), take the region, HELLO, and
 * every message until SYNC_DONE: time from HELLO to SYNC_DONE, keys, keys/s.
 *
 * usage: bench_link [--tenants N] | --attach SOCKET [--timeout S]
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "veil_link.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

/* ---- the store: N tenants, in id order ---- */

struct store {
	unsigned n;
	char (*id)[16];
};

static int store_keys(void *ctx, const char *after, uint32_t after_version,
		      unsigned max, veil_link_emit_fn emit, void *arg)
{
	struct store *st = ctx;
	unsigned lo = 0, hi = st->n, n = 0;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (strcmp(st->id[mid], after) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (unsigned i = lo; i < st->n && n < max; i++) {
		if (!strcmp(st->id[i], after) && after_version >= 1)
			continue;
		uint8_t key[32];
		memset(key, (int)(i & 0xff), sizeof(key));
		n++;
		if (emit(arg, st->id[i], 1, true, false, key) != 0)
			break;
	}
	return 0;
}

/* ---- the dataplane's side ---- */

struct peer {
	struct veil_link *link;
	unsigned per_poll;   /* messages taken per poll (0: all) */
	double interval;     /* between polls (0: none) */
	uint8_t (*table)[32]; /* where the keys go, as the key table */
	unsigned n;
	atomic_bool done;
	unsigned keys, bad;
	double t_first, t_done;
};

static unsigned tenant_no(const char *id)
{
	return (unsigned)strtoul(id + 1, NULL, 10);
}

/* Take what the ring holds (up to per_poll): a key is copied into the
 * table and wiped from the message. @return -1 if the link failed. */
static int take(struct peer *p)
{
	union veil_link_payload m;
	enum veil_link_msg type;
	uint32_t len;
	int rc;
	for (unsigned k = 0; p->per_poll == 0 || k < p->per_poll; k++) {
		rc = veil_link_recv(p->link, &type, m.raw, &len);
		if (rc == 0)
			break;
		if (rc < 0)
			return -1;
		if (type == VEIL_LINK_MSG_KEY_ADD) {
			unsigned i = tenant_no(m.key.tenant);
			if (p->keys == 0)
				p->t_first = now_s();
			if (p->table != NULL && i < p->n)
				memcpy(p->table[i], m.key.key, 32);
			else if (p->table != NULL)
				p->bad++;
			explicit_bzero(m.key.key, sizeof(m.key.key));
			p->keys++;
		} else if (type == VEIL_LINK_MSG_SYNC_DONE) {
			if (m.sync.keys != p->keys)
				p->bad++;
			p->t_done = now_s();
			atomic_store(&p->done, true);
			return 0;
		}
	}
	return 0;
}

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	while (!atomic_load(&p->done)) {
		if (take(p) != 0) {
			fprintf(stderr, "bench_link: the link failed: %s\n",
				strerror(errno));
			p->bad++;
			atomic_store(&p->done, true);
			break;
		}
		sleep_s(p->interval);
	}
	return NULL;
}

/* The dataplane's way in: connect (controld's uid checked), then the
 * region, once the server (polled here, or controld) took the connection. */
static struct veil_link *attach(const char *path, struct veil_link_server *srv,
				double timeout)
{
	struct veil_link_cred who;
	int fd = veil_link_connect(path, VEIL_LINK_UID_DEFAULT, &who);
	if (fd < 0) {
		fprintf(stderr, "bench_link: connect %s: %s\n", path, strerror(errno));
		return NULL;
	}
	double end = now_s() + timeout;
	while (now_s() < end) {
		if (srv != NULL)
			veil_link_server_poll(srv);
		struct veil_link *l = veil_link_attach(fd);
		if (l != NULL)
			return l;
		if (errno != EAGAIN)
			break;
		sleep_s(0.005);
	}
	fprintf(stderr, "bench_link: no region from %s: %s\n", path, strerror(errno));
	close(fd);
	return NULL;
}

static int hello(struct veil_link *l)
{
	struct veil_link_hello h = { .pid = (uint32_t)getpid(), .workers = 1 };
	return veil_link_send(l, VEIL_LINK_MSG_HELLO, &h, sizeof(h));
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* One run in one process: @p slots, the server polled every @p poll_s
 * (0: back to back), the dataplane taking @p per_poll messages every
 * @p peer_s; with @p busy_poll, every VEIL_LINK_BUSY_POLL_MS while a
 * resync runs, as controld does. @return 0, or -1 if the sync did not
 * complete. */
static int run_local(const char *label, struct store *st, uint32_t slots,
		     double poll_s, bool busy_poll, unsigned per_poll,
		     double peer_s)
{
	char dir[] = "/tmp/veil-bench-link-XXXXXX", path[128], err[400];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/link.sock", dir);
	struct veil_link_server_opts o = {
		.socket_path = path, .slots = slots,
		.dataplane_uid = VEIL_LINK_UID_DEFAULT, .keys = store_keys,
		.ctx = st, .log = quiet,
	};
	struct veil_link_server *srv = veil_link_server_new(&o, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "bench_link: %s\n", err);
		rmdir(dir);
		return -1;
	}
	int rc = -1;
	struct peer p = { .per_poll = per_poll, .interval = peer_s, .n = st->n };
	p.table = calloc(st->n, sizeof(*p.table));
	p.link = attach(path, srv, 5);
	pthread_t th;
	if (p.table == NULL || p.link == NULL || hello(p.link) != 0)
		goto out;
	double t0 = now_s(), next = t0;
	unsigned polls = 0;
	if (pthread_create(&th, NULL, peer_run, &p) != 0)
		goto out;
	while (!atomic_load(&p.done) && now_s() - t0 < 600) {
		veil_link_server_poll(srv);
		polls++;
		if (poll_s > 0) {
			/* as controld: sooner while the server is busy */
			next += busy_poll && veil_link_server_busy(srv) ?
				VEIL_LINK_BUSY_POLL_MS / 1000.0 : poll_s;
			sleep_s(next - now_s());
		}
	}
	atomic_store(&p.done, true);
	pthread_join(th, NULL);
	struct veil_link_server_resync rs;
	veil_link_server_resync_status(srv, &rs);
	double t = p.t_done - t0;
	if (p.t_done == 0 || p.keys != st->n || p.bad != 0 || rs.restarts != 0) {
		fprintf(stderr, "bench_link: %s: the sync did not complete (%u of %u "
			"keys, %u bad, %llu restarts)\n", label, p.keys, st->n, p.bad,
			(unsigned long long)rs.restarts);
		goto out;
	}
	printf("  %-44s %7.3f s to the full sync, %9.0f keys/s, %u server polls\n",
	       label, t, st->n / t, polls);
	rc = 0;
out:
	if (p.table != NULL)
		explicit_bzero(p.table, (size_t)st->n * sizeof(*p.table));
	free(p.table);
	veil_link_close(p.link);
	veil_link_server_free(srv);
	rmdir(dir);
	return rc;
}

static int run_attach(const char *path, double timeout)
{
	struct peer p = { 0 };
	p.link = attach(path, NULL, timeout);
	if (p.link == NULL)
		return 1;
	double t0 = now_s();
	if (hello(p.link) != 0) {
		fprintf(stderr, "bench_link: HELLO: %s\n", strerror(errno));
		veil_link_close(p.link);
		return 1;
	}
	while (!atomic_load(&p.done) && now_s() - t0 < timeout) {
		if (take(&p) != 0 || veil_link_stale(p.link))
			break;
		sleep_s(0.001);
	}
	veil_link_close(p.link);
	if (!atomic_load(&p.done) || p.bad != 0) {
		fprintf(stderr, "bench_link: no complete sync within %g s (%u keys)\n",
			timeout, p.keys);
		return 1;
	}
	double t = p.t_done - t0;
	printf("{\"keys\": %u, \"seconds\": %.3f, \"first_key_s\": %.3f, "
	       "\"keys_per_s\": %.0f}\n", p.keys, t, p.t_first > 0 ? p.t_first - t0 : 0,
	       t > 0 ? p.keys / t : 0);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 100000;
	const char *sock = NULL;
	double timeout = 600;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tenants") && i + 1 < argc)
			n = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--attach") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = strtod(argv[++i], NULL);
		else {
			fprintf(stderr, "usage: bench_link [--tenants N] | --attach "
				"SOCKET [--timeout S]\n");
			return 2;
		}
	}
	if (sock != NULL)
		return run_attach(sock, timeout);
	if (n == 0 || n > 10000000) {
		fprintf(stderr, "bench_link: --tenants 1 to 10,000,000\n");
		return 2;
	}
	struct store st = { .n = n, .id = calloc(n, 16) };
	if (st.id == NULL)
		return 1;
	for (unsigned i = 0; i < n; i++)
		snprintf(st.id[i], sizeof(st.id[i]), "t%08u", i);
	printf("link resync of %u tenants (one current key each), the link alone "
	       "(no database):\n", n);
	int rc = 0;
	rc |= run_local("(a) controld: 1024 slots, polls 10 ms busy:", &st, 1024,
			0.1, true, 0, 0.01);
	rc |= run_local("(a') the same, polls every 100 ms only:", &st, 1024,
			0.1, false, 0, 0.01);
	rc |= run_local("(b) 1024 slots, back to back:", &st, 1024, 0, false, 0, 0);
	rc |= run_local("(b) 16384 slots, back to back:", &st, 16384, 0, false,
			0, 0);
	rc |= run_local("(c) (a), dataplane takes 64 per 10 ms:", &st, 1024,
			0.1, true, 64, 0.01);
	free(st.id);
	return rc ? 1 : 0;
}
