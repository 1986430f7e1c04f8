/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * veil-link-peer: plays the dataplane's side of the link, through the same
 * library code the dataplane uses, for tests and labs (built, not
 * installed). It connects to controld's link socket (checking controld's
 * uid, as the dataplane does), takes the region controld hands over (its
 * seals, size and header checked), says hello, builds keyrings from the key
 * versions it receives, and prints one JSON line per event. It never prints
 * a key: with --probe NAME it prints the token of NAME under each received
 * version instead, which proves the key arrived intact (resolve it).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "veil_clock.h"
#include "veil_crypto.h"
#include "veil_link.h"

#define MAX_TENANTS 64

static const char usage[] =
	"usage: veil-link-peer [--socket PATH] [--controld-user USER] [--probe NAME]\n"
	"                      [--timeout SECONDS] [--exit-after-keys N]\n"
	"Connects to veil-controld's link socket (default " VEIL_LINK_DEFAULT_SOCKET ")\n"
	"as the dataplane would and prints one JSON line per event: refused (the\n"
	"socket's owner is not USER: root or our own uid by default), closed\n"
	"(controld closed the connection, or handed over nothing usable), attach,\n"
	"key_add, key_destroy, tenant_state, sync_done, detach. Keys are never\n"
	"printed; --probe NAME prints the token of NAME (kind user) under each key\n"
	"version received.\n"
	"exit status: 0 done, 1 timeout or link error, 2 usage\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct tenant {
	char id[VEIL_LINK_TENANT_MAX + 1];
	struct veil_keyring *ring;
};

static struct tenant tenants[MAX_TENANTS];

/* Key versions held, with the resync round that last carried them: at a
 * SYNC_DONE every version the round did not carry is destroyed. */
#define MAX_HELD 1024
static struct held {
	char tenant[VEIL_LINK_TENANT_MAX + 1];
	uint32_t version;
	uint32_t round;
	bool used;
} held[MAX_HELD];
static uint32_t round_no = 1;

static void held_mark(const char *tenant, uint32_t version)
{
	struct held *free_slot = NULL;
	for (int i = 0; i < MAX_HELD; i++) {
		if (held[i].used && held[i].version == version &&
		    !strcmp(held[i].tenant, tenant)) {
			held[i].round = round_no;
			return;
		}
		if (!held[i].used && free_slot == NULL)
			free_slot = &held[i];
	}
	if (free_slot != NULL) {
		snprintf(free_slot->tenant, sizeof(free_slot->tenant), "%s", tenant);
		free_slot->version = version;
		free_slot->round = round_no;
		free_slot->used = true;
	}
}

static void held_forget(const char *tenant, uint32_t version)
{
	for (int i = 0; i < MAX_HELD; i++)
		if (held[i].used && held[i].version == version &&
		    !strcmp(held[i].tenant, tenant))
			held[i].used = false;
}

static struct tenant *tenant_get(const char *id)
{
	for (int i = 0; i < MAX_TENANTS; i++)
		if (tenants[i].ring != NULL && !strcmp(tenants[i].id, id))
			return &tenants[i];
	for (int i = 0; i < MAX_TENANTS; i++) {
		if (tenants[i].ring != NULL)
			continue;
		tenants[i].ring = veil_keyring_new(id);
		if (tenants[i].ring == NULL)
			return NULL;
		snprintf(tenants[i].id, sizeof(tenants[i].id), "%s", id);
		return &tenants[i];
	}
	return NULL;
}

static void drop_all(void)
{
	for (int i = 0; i < MAX_TENANTS; i++) {
		veil_keyring_free(tenants[i].ring);
		tenants[i].ring = NULL;
	}
	memset(held, 0, sizeof(held));
}

/* End of a resync round: destroy what it did not carry. */
static unsigned sync_done(void)
{
	unsigned dropped = 0;
	for (int i = 0; i < MAX_HELD; i++) {
		if (!held[i].used || held[i].round == round_no)
			continue;
		struct tenant *t = tenant_get(held[i].tenant);
		if (t != NULL)
			veil_keyring_destroy(t->ring, held[i].version);
		printf("{\"event\":\"key_destroy\",\"tenant\":\"%s\","
		       "\"version\":%u,\"had\":true,\"reason\":\"resync\"}\n",
		       held[i].tenant, held[i].version);
		held[i].used = false;
		dropped++;
	}
	round_no++;
	return dropped;
}

/* Handle a KEY_ADD: build the key in locked memory, wipe the message. */
static int on_key(struct veil_engine *e, struct veil_link_key *k,
		  const char *probe)
{
	k->tenant[VEIL_LINK_TENANT_MAX] = '\0';
	struct tenant *t = tenant_get(k->tenant);
	struct veil_key *key = t ? veil_key_new(k->key, k->tenant, k->version)
				 : NULL;
	explicit_bzero(k->key, sizeof(k->key));
	if (key == NULL) {
		printf("{\"event\":\"error\",\"what\":\"key_add\",\"errno\":%d}\n",
		       errno);
		return -1;
	}
	veil_keyring_destroy(t->ring, k->version); /* a resend replaces */
	if (veil_keyring_add(t->ring, key) != 0) {
		veil_key_free(key);
		return -1;
	}
	held_mark(k->tenant, k->version);
	printf("{\"event\":\"key_add\",\"tenant\":\"%s\",\"version\":%u,"
	       "\"current\":%s", k->tenant, k->version,
	       k->current ? "true" : "false");
	if (probe != NULL) {
		uint8_t tok[VEIL_TOKEN_MAX + 1];
		struct veil_item it = { .in = (const uint8_t *)probe,
					.in_len = strlen(probe), .out = tok,
					.out_cap = VEIL_TOKEN_MAX };
		veil_token_encrypt_batch(e, key, VEIL_KIND_USER, &it, 1);
		tok[it.out_len] = '\0';
		printf(",\"probe_token\":\"%s\"", it.status == VEIL_OK
						  ? (char *)tok : "");
	}
	printf("}\n");
	return 0;
}

static int serve(struct veil_link *l, struct veil_engine *e, const char *probe,
		 long exit_after, long *keys_seen, double deadline)
{
	union veil_link_payload m;
	enum veil_link_msg type;
	uint32_t len;
	struct veil_link_hello hello = { .pid = (uint32_t)getpid(), .workers = 1 };

	if (veil_link_send(l, VEIL_LINK_MSG_HELLO, &hello, sizeof(hello)) != 0)
		return -1;
	printf("{\"event\":\"attach\",\"epoch\":\"%016llx\"}\n",
	       (unsigned long long)veil_link_epoch(l));
	fflush(stdout);
	while (!stop && veil_now() < deadline) {
		int rc = veil_link_recv(l, &type, m.raw, &len);
		if (rc < 0) {
			printf("{\"event\":\"bad_message\"}\n");
			continue;
		}
		if (rc == 0) {
			veil_link_heartbeat(l);
			if (veil_link_stale(l))
				return 1; /* controld restarted: re-attach */
			usleep(10000);
			continue;
		}
		switch (type) {
		case VEIL_LINK_MSG_KEY_ADD:
			if (on_key(e, &m.key, probe) == 0)
				(*keys_seen)++;
			break;
		case VEIL_LINK_MSG_KEY_DESTROY: {
			m.ref.tenant[VEIL_LINK_TENANT_MAX] = '\0';
			struct tenant *t = tenant_get(m.ref.tenant);
			int gone = t ? veil_keyring_destroy(t->ring, m.ref.version) : -1;
			held_forget(m.ref.tenant, m.ref.version);
			printf("{\"event\":\"key_destroy\",\"tenant\":\"%s\","
			       "\"version\":%u,\"had\":%s}\n", m.ref.tenant,
			       m.ref.version, gone == 0 ? "true" : "false");
			break;
		}
		case VEIL_LINK_MSG_TENANT_STATE:
			m.ten.tenant[VEIL_LINK_TENANT_MAX] = '\0';
			printf("{\"event\":\"tenant_state\",\"tenant\":\"%s\","
			       "\"state\":%u}\n", m.ten.tenant, m.ten.state);
			break;
		case VEIL_LINK_MSG_SYNC_DONE: {
			unsigned dropped = sync_done();
			printf("{\"event\":\"sync_done\",\"keys\":%u,"
			       "\"dropped\":%u}\n", m.sync.keys, dropped);
			break;
		}
		default:
			printf("{\"event\":\"unexpected\",\"type\":\"%s\"}\n",
			       veil_link_msg_name((int)type));
		}
		explicit_bzero(m.raw, sizeof(m.raw));
		fflush(stdout);
		if (exit_after > 0 && *keys_seen >= exit_after)
			return 0;
	}
	return stop ? 0 : 2;
}

/* Connect, check controld's uid, take the region: NULL (said why) or the
 * link. */
static struct veil_link *take_link(const char *path, int64_t want_uid,
				   double deadline)
{
	struct veil_link_cred who;
	int fd = veil_link_connect(path, want_uid, &who);
	if (fd < 0) {
		if (errno == EPERM)
			printf("{\"event\":\"refused\",\"uid\":%u,\"pid\":%u}\n",
			       who.uid, who.pid);
		fflush(stdout);
		return NULL;
	}
	struct veil_link *l;
	while ((l = veil_link_attach(fd)) == NULL && errno == EAGAIN &&
	       !stop && veil_now() < deadline)
		usleep(10000);
	if (l == NULL) {
		printf("{\"event\":\"closed\",\"why\":\"%s\"}\n",
		       errno == ECONNRESET ? "closed by controld"
		       : errno == EPROTO ? "bad handshake or region"
		       : strerror(errno));
		fflush(stdout);
		close(fd);
	}
	return l;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "controld-user", required_argument, NULL, 'u' },
		{ "probe", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "exit-after-keys", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = VEIL_LINK_DEFAULT_SOCKET, *probe = NULL;
	int64_t want_uid = VEIL_LINK_UID_DEFAULT;
	char err[160];
	double timeout = 30;
	long exit_after = 0, keys_seen = 0;
	int c;

	prctl(PR_SET_DUMPABLE, 0);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'u':
			if (veil_link_parse_user(optarg, &want_uid, err,
						 sizeof(err)) != 0) {
				fprintf(stderr, "veil-link-peer: --controld-user: "
					"%s\n", err);
				return 2;
			}
			break;
		case 'p': probe = optarg; break;
		case 't': timeout = atof(optarg); break;
		case 'x': exit_after = atol(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (timeout <= 0 || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	struct veil_engine_opts eo;
	if (veil_engine_opts_from_env(&eo, err, sizeof(err)) != 0) {
		fprintf(stderr, "veil-link-peer: %s\n", err);
		return 2;
	}
	struct veil_engine *e = veil_engine_new(&eo);
	if (e == NULL) {
		fprintf(stderr, "veil-link-peer: engine: %s\n", strerror(errno));
		return 1;
	}
	double deadline = veil_now() + timeout;
	int rc = 2;
	while (!stop && veil_now() < deadline) {
		struct veil_link *l = take_link(path, want_uid, deadline);
		if (l == NULL) {
			usleep(50000);
			continue;
		}
		/* a new controld sends every live key again */
		drop_all();
		rc = serve(l, e, probe, exit_after, &keys_seen, deadline);
		veil_link_close(l);
		printf("{\"event\":\"detach\"}\n");
		fflush(stdout);
		if (rc != 1)
			break;
	}
	drop_all();
	veil_engine_free(e);
	return rc == 0 ? 0 : 1;
}
