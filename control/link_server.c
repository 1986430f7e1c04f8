/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * controld's side of the link: answers a dataplane's HELLO with every live
 * key version, pushes key rolls and destructions as they happen, and keeps
 * the counters the workers send up.
 *
 * Nothing is queued outside the region: a change that finds the ring full
 * marks the link "resync pending", and the next poll sends every live key
 * again. A resync is authoritative: at its SYNC_DONE the dataplane destroys
 * every key version the resync did not carry, so a destruction that could
 * not be sent is not lost either.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "veil_link.h"

#define MAX_WORKERS 64

struct veil_link_server {
	struct veil_link *link;
	veil_link_keys_fn keys;
	void *ctx;
	bool peer_hello;     /* a dataplane is there */
	bool resync_pending; /* send every live key at the next poll */
	bool synced;
	struct veil_link_worker_counters counters[MAX_WORKERS];
};

struct veil_link_server *veil_link_server_new(const char *name, uint32_t slots,
					      veil_link_keys_fn keys, void *ctx)
{
	struct veil_link_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->link = veil_link_create(name, slots);
	if (s->link == NULL) {
		int err = errno;
		free(s);
		errno = err;
		return NULL;
	}
	s->keys = keys;
	s->ctx = ctx;
	return s;
}

void veil_link_server_free(struct veil_link_server *s)
{
	if (s == NULL)
		return;
	veil_link_close(s->link);
	free(s);
}

struct veil_link *veil_link_server_link(struct veil_link_server *s)
{
	return s->link;
}

bool veil_link_server_synced(const struct veil_link_server *s)
{
	return s->synced;
}

const struct veil_link_worker_counters *
veil_link_server_counters(const struct veil_link_server *s, unsigned worker)
{
	if (worker >= MAX_WORKERS || !s->counters[worker].valid)
		return NULL;
	return &s->counters[worker];
}

static int send_key(struct veil_link *l, const char *tenant, uint32_t version,
		    bool current, const uint8_t key[32])
{
	struct veil_link_key k;
	memset(&k, 0, sizeof(k));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(k.tenant, tenant, n);
	k.version = version;
	k.current = current ? 1 : 0;
	memcpy(k.key, key, sizeof(k.key));
	int rc = veil_link_send(l, VEIL_LINK_MSG_KEY_ADD, &k, sizeof(k));
	explicit_bzero(&k, sizeof(k));
	return rc;
}

struct resync {
	struct veil_link *link;
	uint32_t keys;
	bool failed;
};

static int resync_emit(void *arg, const char *tenant, uint32_t version,
		       bool current, const uint8_t key[32])
{
	struct resync *r = arg;
	if (r->failed)
		return -1;
	if (send_key(r->link, tenant, version, current, key) != 0) {
		r->failed = true;
		return -1;
	}
	r->keys++;
	return 0;
}

/* Send every live key, then SYNC_DONE; on a full ring, try again later. */
static void resync(struct veil_link_server *s)
{
	struct resync r = { .link = s->link };

	s->resync_pending = true;
	if (s->keys(s->ctx, resync_emit, &r) != 0 || r.failed)
		return;
	struct veil_link_sync done = { .keys = r.keys };
	if (veil_link_send(s->link, VEIL_LINK_MSG_SYNC_DONE, &done,
			   sizeof(done)) != 0)
		return;
	s->resync_pending = false;
	s->synced = true;
}

int veil_link_server_poll(struct veil_link_server *s)
{
	union veil_link_payload m;
	enum veil_link_msg type;
	uint32_t len;
	int handled = 0, rc;

	veil_link_heartbeat(s->link);
	while ((rc = veil_link_recv(s->link, &type, m.raw, &len)) != 0) {
		if (rc < 0)
			continue; /* counted by the link */
		handled++;
		if (type == VEIL_LINK_MSG_HELLO) {
			/* a (re)started dataplane: it has nothing yet */
			s->peer_hello = true;
			s->synced = false;
			s->resync_pending = true;
		} else if (type == VEIL_LINK_MSG_COUNTERS &&
			   m.cnt.worker < MAX_WORKERS &&
			   m.cnt.n <= VEIL_LINK_NCOUNTERS) {
			struct veil_link_worker_counters *w =
				&s->counters[m.cnt.worker];
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			w->valid = true;
			w->n = m.cnt.n;
			memcpy(w->value, m.cnt.value, sizeof(w->value));
			w->updated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		}
	}
	if (!s->peer_hello)
		return handled;
	if (s->resync_pending)
		resync(s);
	return handled;
}

void veil_link_server_key_added(struct veil_link_server *s, const char *tenant,
				uint32_t version, bool current,
				const uint8_t key[32])
{
	if (!s->peer_hello || s->resync_pending)
		return; /* the coming resync carries it */
	if (send_key(s->link, tenant, version, current, key) != 0)
		s->resync_pending = true;
}

void veil_link_server_key_destroyed(struct veil_link_server *s,
				    const char *tenant, uint32_t version)
{
	struct veil_link_key_ref r;

	if (!s->peer_hello)
		return;
	memset(&r, 0, sizeof(r));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX)
		return;
	memcpy(r.tenant, tenant, n);
	r.version = version;
	if (s->resync_pending)
		return; /* the coming resync leaves it out */
	if (veil_link_send(s->link, VEIL_LINK_MSG_KEY_DESTROY, &r, sizeof(r)) != 0)
		s->resync_pending = true;
}

void veil_link_server_tenant_state(struct veil_link_server *s,
				   const char *tenant,
				   enum veil_link_tenant_state state)
{
	struct veil_link_tenant t;

	if (!s->peer_hello)
		return;
	memset(&t, 0, sizeof(t));
	size_t n = strlen(tenant);
	if (n > VEIL_LINK_TENANT_MAX)
		return;
	memcpy(t.tenant, tenant, n);
	t.state = (uint8_t)state;
	if (veil_link_send(s->link, VEIL_LINK_MSG_TENANT_STATE, &t, sizeof(t)) != 0)
		s->resync_pending = true;
}
