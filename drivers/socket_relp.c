/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver's RELP upstreams (protocol = relp): a line is
 * delivered when the collector acknowledged it (RELP's "rsp 200"), not
 * when its TCP did.
 *
 * librelp's client is blocking, so each RELP upstream has a thread of its
 * own. The driver's thread keeps the upstream's memory queue (and its
 * spool) as for TCP; instead of writing to a socket it copies the lines,
 * in order, into a hand-off (at most RELP_HANDOFF of them not yet
 * confirmed), and releases from the queue the lines the RELP thread
 * confirmed. The RELP thread sends them with relpCltSendSyslog().
 *
 * What librelp says about acknowledgements, and so what "confirmed" is:
 * relpCltSendSyslog() returns once the frame is sent and at most the
 * window (RELP_WINDOW frames) is unacknowledged; it does not say which
 * frames were. So after a send returns, every line sent more than
 * RELP_WINDOW lines before it was acknowledged. The last lines of a burst
 * are confirmed by closing the session once nothing came for RELP_IDLE
 * seconds (or at the stop): librelp sends "close" and waits for its
 * response, which the collector sends after the responses of every frame
 * before it; an error on the way (reported through the engine's error
 * callback) means they were not confirmed. When a session breaks, every
 * line not confirmed is sent again on the next one (at least once: the
 * collector may get some twice, counted as resent).
 */
#include <pthread.h>

#include <librelp.h>

#include "socket_pvt.h"

#define RELP_HANDOFF 4096   /* lines handed to the RELP thread, not confirmed */
#define RELP_WINDOW 128     /* librelp's window (frames unacknowledged) */
#define RELP_TIMEOUT 10     /* s: a response, a connect */
#define RELP_IDLE 0.5       /* s without a new line: close to confirm the rest */

struct relp_line {
	char *p;
	uint32_t len;
};

struct sk_relp {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: the hand-off, lines numbered from 0 since the start;
	 * conf..tail are held (h[i % RELP_HANDOFF]), next the next to send */
	struct relp_line h[RELP_HANDOFF];
	uint64_t conf, next, tail;
	bool stop, drain;
	/* under mu: what the driver shows and counts */
	bool up;
	double since;
	uint64_t connects, disconnects, failures, resent;
	/* the RELP thread's own */
	int stop_now;        /* librelp's "stop at once" flag */
	bool sess_err;       /* the error callback ran during this session */
	char why[160];       /* its last message */
	bool said_down;
	double next_down_log, down_at;
	/* read-only after the start */
	char name[VDR_NAME_MAX], text[300], host[256], port[8];
	int family;
	double backoff_min, backoff_max;
};

static void relp_on_err(void *usr, char *objinfo, char *msg, relpRetVal code)
{
	struct sk_relp *r = usr;
	(void)objinfo;
	if (r == NULL)
		return;
	r->sess_err = true;
	snprintf(r->why, sizeof(r->why), "%s (librelp error %d)", msg ? msg : "error",
		 (int)code);
}

/* librelp calls its debug printer unconditionally: it must be set. */
static void relp_no_debug(char *fmt, ...)
{
	(void)fmt;
}

/* Lines up to @p upto were acknowledged: their copies go (under mu). */
static void confirm(struct sk_relp *r, uint64_t upto)
{
	for (; r->conf < upto; r->conf++) {
		struct relp_line *l = &r->h[r->conf % RELP_HANDOFF];
		explicit_bzero(l->p, l->len);
		free(l->p);
		l->p = NULL;
	}
}

/* The session broke or could not be opened (under mu): what was sent
 * and not confirmed goes again on the next. */
static void relp_down(struct sk_relp *r, bool was_up, const char *why)
{
	double now = veil_now();
	r->resent += r->next - r->conf;
	r->next = r->conf;
	if (was_up)
		r->disconnects++;
	else
		r->failures++;
	if (r->up || r->since == 0) {
		r->up = false;
		r->since = now;
		r->down_at = now;
	}
	if (now < r->next_down_log)
		return;
	r->next_down_log = now + SK_LOG_EVERY;
	fprintf(stderr, "veil-dataplane: upstream %s (%s) %s: %s; %llu lines "
		"waiting to be acknowledged; connecting again within %.1f s\n",
		r->name, r->text, was_up ? "DOWN" : r->said_down ? "still down"
		: "not reachable", why, (unsigned long long)(r->tail - r->conf),
		r->backoff_max);
	r->said_down = true;
}

static relpClt_t *relp_open(struct sk_relp *r, relpEngine_t *eng)
{
	relpClt_t *c = NULL;
	r->sess_err = false;
	snprintf(r->why, sizeof(r->why), "connection refused or timed out");
	if (relpEngineCltConstruct(eng, &c) != RELP_RET_OK)
		return NULL;
	relpCltSetUsrPtr(c, r);
	relpCltSetTimeout(c, RELP_TIMEOUT);
	relpCltSetConnTimeout(c, RELP_TIMEOUT);
	relpCltSetWindowSize(c, RELP_WINDOW);
	if (relpCltConnect(c, r->family, (unsigned char *)r->port,
			   (unsigned char *)r->host) != RELP_RET_OK) {
		relpEngineCltDestruct(eng, &c);
		return NULL;
	}
	return c;
}

/* Wait on the condition until @p until (veil_now() seconds) at most. */
static void wait_until(struct sk_relp *r, double until)
{
	double left = until - veil_now();
	if (left <= 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + left;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static void *relp_main(void *arg)
{
	struct sk_relp *r = arg;
	relpEngine_t *eng = NULL;
	relpClt_t *c = NULL;
	double backoff = r->backoff_min, retry_at = 0, last_send = 0;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main thread's */
	if (relpEngineConstruct(&eng) != RELP_RET_OK) {
		fprintf(stderr, "veil-dataplane: upstream %s (%s): librelp cannot "
			"start (out of memory); its lines stay queued\n", r->name,
			r->text);
		return NULL;
	}
	relpEngineSetDbgprint(eng, relp_no_debug);
	relpEngineSetShutdownImmdtPtr(eng, &r->stop_now);
	relpEngineSetOnErr(eng, relp_on_err);
	unsigned char cmd[] = "syslog"; /* librelp takes it as not const */
	relpEngineSetEnableCmd(eng, cmd, eRelpCmdState_Required);
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		double now = veil_now();
		if (c == NULL) {
			if (now < retry_at) {
				wait_until(r, retry_at);
				continue;
			}
			pthread_mutex_unlock(&r->mu);
			c = relp_open(r, eng);
			pthread_mutex_lock(&r->mu);
			if (c == NULL) {
				relp_down(r, false, r->why);
				retry_at = veil_now() + backoff;
				backoff = backoff * 2 > r->backoff_max ? r->backoff_max
								       : backoff * 2;
				continue;
			}
			if (r->said_down)
				fprintf(stderr, "veil-dataplane: upstream %s (%s) up again "
					"after %.1f s; sending what waits\n", r->name,
					r->text, veil_now() - r->down_at);
			r->said_down = false;
			r->next_down_log = 0;
			if (!r->up) {
				r->up = true;
				r->since = veil_now();
			}
			r->connects++;
			backoff = r->backoff_min;
			continue;
		}
		if (r->next < r->tail) {
			struct relp_line l = r->h[r->next % RELP_HANDOFF];
			pthread_mutex_unlock(&r->mu);
			relpRetVal rc = relpCltSendSyslog(c, (unsigned char *)l.p, l.len);
			pthread_mutex_lock(&r->mu);
			if (rc != RELP_RET_OK) {
				pthread_mutex_unlock(&r->mu);
				relpEngineCltDestruct(eng, &c);
				pthread_mutex_lock(&r->mu);
				c = NULL;
				relp_down(r, true, r->why);
				retry_at = veil_now() + backoff;
				continue;
			}
			r->next++;
			/* at most the window is unacknowledged now */
			if (r->next > RELP_WINDOW && r->next - RELP_WINDOW > r->conf)
				confirm(r, r->next - RELP_WINDOW);
			last_send = veil_now();
			continue;
		}
		if (r->conf < r->next && (r->drain || now - last_send >= RELP_IDLE)) {
			/* nothing more to send: close, and its response confirms the rest */
			uint64_t sent = r->next;
			pthread_mutex_unlock(&r->mu);
			relpEngineCltDestruct(eng, &c);
			pthread_mutex_lock(&r->mu);
			c = NULL;
			if (!r->sess_err) {
				confirm(r, sent);
				retry_at = 0; /* a new session at once */
			} else {
				relp_down(r, true, r->why);
				retry_at = veil_now() + backoff;
			}
			continue;
		}
		wait_until(r, r->conf < r->next ? last_send + RELP_IDLE : now + 1.0);
	}
	pthread_mutex_unlock(&r->mu);
	if (c != NULL) {
		/* a stop: the close is polite but must not wait for a collector
		 * that does not answer (what it did not confirm stays counted
		 * as not delivered) */
		r->stop_now = 1;
		relpEngineCltDestruct(eng, &c);
	}
	relpEngineDestruct(&eng);
	return NULL;
}

int sk_relp_start(struct sock_drv *d, struct sk_up *u, char *err, size_t errlen)
{
	struct sk_relp *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "[upstream %s]: out of memory", u->cfg.name);
		return -1;
	}
	snprintf(r->name, sizeof(r->name), "%s", u->cfg.name);
	snprintf(r->text, sizeof(r->text), "%s", u->text);
	snprintf(r->host, sizeof(r->host), "%s", u->cfg.host);
	snprintf(r->port, sizeof(r->port), "%s", u->cfg.port);
	r->family = u->cfg.numeric ? u->cfg.addr.ss_family : AF_UNSPEC;
	r->backoff_min = d->cfg.reconnect_min > 0 ? d->cfg.reconnect_min : 0.5;
	r->backoff_max = d->cfg.reconnect_max > r->backoff_min ? d->cfg.reconnect_max
							       : r->backoff_min;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	int e = pthread_create(&r->th, NULL, relp_main, r);
	if (e != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		snprintf(err, errlen, "[upstream %s]: cannot start its RELP thread: %s",
			 u->cfg.name, strerror(e));
		return -1;
	}
	u->relp = r;
	return 0;
}

/* Line @p i of @p u's memory queue into a buffer of its own. */
static char *q_copy(const struct sk_up *u, uint64_t i, uint32_t *len)
{
	uint64_t start = i == u->r_head ? u->q_head : sk_q_rec(u, i - 1)->end;
	uint64_t end = sk_q_rec(u, i)->end;
	size_t n = (size_t)(end - start);
	char *p = malloc(n ? n : 1);
	if (p == NULL)
		return NULL;
	for (size_t k = 0; k < n;) {
		size_t off = (size_t)((start + k) % u->qcap), m = n - k;
		if (m > u->qcap - off)
			m = u->qcap - off;
		memcpy(p + k, u->qb + off, m);
		k += m;
	}
	*len = (uint32_t)n;
	return p;
}

/* Hand what the queue has to the RELP thread; release from the queue what
 * it confirmed; take its state and counts. */
void sk_relp_service(struct sock_drv *d, struct sk_up *u)
{
	struct sk_relp *r = u->relp;
	bool more = false;
	pthread_mutex_lock(&r->mu);
	while (u->r_wr < u->r_tail && r->tail - r->conf < RELP_HANDOFF) {
		uint32_t len;
		char *p = q_copy(u, u->r_wr, &len);
		if (p == NULL)
			break; /* no memory now: the line waits in the queue */
		r->h[r->tail % RELP_HANDOFF] = (struct relp_line){ p, len };
		r->tail++;
		d->tx_bytes += len;
		u->q_wr = sk_q_rec(u, u->r_wr)->end;
		u->r_wr++;
		more = true;
	}
	/* the queue's lines from r_head on are the hand-off's from
	 * u->relp_done on, in order */
	uint64_t done = r->conf - u->relp_done;
	u->relp_done = r->conf;
	bool up = r->up;
	double since = r->since;
	u->connects = r->connects;
	u->disconnects = r->disconnects;
	u->failures = r->failures;
	u->resent = r->resent;
	if (more)
		pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (done > 0) {
		u->sent += done;
		sk_q_release(u, u->r_head + done);
	}
	u->state = up ? U_UP : U_DOWN;
	if (since > 0) {
		if (up)
			u->up_since = since;
		else
			u->down_since = since;
	}
}

/* At the stop: close the session as soon as everything went. */
void sk_relp_drain(struct sk_up *u)
{
	struct sk_relp *r = u->relp;
	pthread_mutex_lock(&r->mu);
	r->drain = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void sk_relp_stop(struct sk_up *u)
{
	struct sk_relp *r = u->relp;
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	r->stop_now = 1; /* librelp polls it in its waits */
	pthread_join(r->th, NULL);
	confirm(r, r->tail); /* not confirmed: only the copies go */
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	u->relp = NULL;
}
