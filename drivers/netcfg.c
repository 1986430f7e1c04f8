/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The network drivers' configuration: the [network], [listen NAME],
 * [upstream NAME] and [port NAME] sections of the config file (inih calls
 * vdr_net_cfg_set() once per key), the sender networks of each source,
 * and the longest-prefix lookup of a sender's source. docs/network.md
 * lists every key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net_pvt.h"
#include "veil_msg.h"

struct vdr_net_cfg *vdr_net_cfg_new(void)
{
	struct vdr_net_cfg *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->default_src = -1;
	c->idle_timeout = 300;
	c->max_connections = 4096;
	c->queue_bytes = 64u << 20;
	c->drain_timeout = 5;
	/* a collector that comes back is noticed within reconnect_max */
	c->reconnect_min = 0.2;
	c->reconnect_max = 2;
	snprintf(c->spool_dir, sizeof(c->spool_dir), "/var/spool/veil");
	c->frag_entries = 4096;
	c->frag_timeout = 2;
	c->udp_rcvbuf = 8u << 20;
	return c;
}

enum vdr_on_full vdr_upstream_on_full(const struct vdr_net_cfg *c,
				      const struct vdr_upstream_cfg *u)
{
	if (u->on_full != VDR_FULL_DEFAULT)
		return u->on_full;
	return strcmp(c->driver, "dpdk") && u->proto != VDR_UDP ? VDR_FULL_BLOCK
								 : VDR_FULL_DROP;
}

void vdr_net_cfg_free(struct vdr_net_cfg *c)
{
	if (c == NULL)
		return;
	free(c->map);
	free(c);
}

static const char *section_name(const char *section, const char *kind)
{
	size_t k = strlen(kind);
	if (strncmp(section, kind, k) != 0 || section[k] != ' ')
		return NULL;
	const char *n = section + k;
	while (*n == ' ')
		n++;
	return *n ? n : NULL;
}

bool vdr_net_cfg_section(const char *section)
{
	return !strcmp(section, "network") || !strncmp(section, "listen ", 7) ||
	       !strncmp(section, "upstream ", 9) || !strncmp(section, "port ", 5);
}

int vdr_prefix_parse(const char *s, struct vdr_prefix *p)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->ip) == 1) {
		p->family = AF_INET;
		p->plen = 32;
	} else if (inet_pton(AF_INET6, buf, p->ip) == 1) {
		p->family = AF_INET6;
		p->plen = 128;
	} else
		return -1;
	if (slash != NULL) {
		char *end;
		errno = 0;
		unsigned long l = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end != '\0' || l > p->plen)
			return -1;
		p->plen = (unsigned)l;
	}
	return 0;
}

/* The networks are kept sorted by family, then prefix length from the
 * longest, then address: a lookup tries each prefix length present,
 * longest first, with a binary search for the sender's address masked to
 * it, in O(lengths x log networks) whatever their number (a flood of
 * unknown senders costs no more than known ones). */
static int prefix_cmp(const struct vdr_prefix *a, const struct vdr_prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen > b->plen ? -1 : 1;
	return memcmp(a->ip, b->ip, 16);
}

/* The first network not before @p k. */
static unsigned lower_bound(const struct vdr_net_cfg *c,
			    const struct vdr_prefix *k)
{
	unsigned lo = 0, hi = c->n_map;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (prefix_cmp(&c->map[mid].net, k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* @p ip (4 or 16 bytes) masked to @p plen bits, as a key. */
static struct vdr_prefix masked(int family, const uint8_t *ip, unsigned plen)
{
	struct vdr_prefix k = { .family = family, .plen = plen };
	unsigned full = plen / 8, rest = plen % 8;
	memcpy(k.ip, ip, full);
	if (rest)
		k.ip[full] = (uint8_t)(ip[full] & (0xff << (8 - rest)));
	return k;
}

int vdr_net_lookup(const struct vdr_net_cfg *c, int family, const uint8_t *ip)
{
	struct vdr_prefix top = { .family = family, .plen = 129 };
	unsigned i = lower_bound(c, &top); /* the family's longest prefix */
	while (i < c->n_map && c->map[i].net.family == family) {
		unsigned plen = c->map[i].net.plen;
		struct vdr_prefix k = masked(family, ip, plen);
		unsigned j = lower_bound(c, &k);
		if (j < c->n_map && prefix_cmp(&c->map[j].net, &k) == 0)
			return c->map[j].src;
		if (plen == 0)
			break;
		struct vdr_prefix next = { .family = family, .plen = plen - 1 };
		i = lower_bound(c, &next); /* the next shorter length present */
	}
	return c->default_src;
}

int vdr_net_lookup_sa(const struct vdr_net_cfg *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return vdr_net_lookup(c, AF_INET, (const uint8_t *)&(
			(const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) /* a dual-stack socket's IPv4 sender */
			return vdr_net_lookup(c, AF_INET, a->s6_addr + 12);
		return vdr_net_lookup(c, AF_INET6, a->s6_addr);
	}
	return c->default_src;
}

int vdr_net_cfg_map(struct vdr_net_cfg *c, const char *cidr, uint16_t src,
		    char *err, size_t errlen)
{
	struct vdr_prefix p;
	if (vdr_prefix_parse(cidr, &p) != 0) {
		snprintf(err, errlen, "\"%.60s\" is not a network (IPv4 or IPv6 "
			 "address, optionally /LENGTH)", cidr);
		return -1;
	}
	/* the host bits must be zero: 10.1.2.3/16 is a typo, not a network */
	struct vdr_prefix z = p;
	unsigned full = p.plen / 8, rest = p.plen % 8;
	if (rest)
		z.ip[full] &= (uint8_t)(0xff << (8 - rest));
	for (unsigned i = full + (rest ? 1 : 0); i < 16; i++)
		z.ip[i] = 0;
	if (memcmp(z.ip, p.ip, 16) != 0) {
		snprintf(err, errlen, "\"%.60s\" has bits set after its prefix "
			 "length", cidr);
		return -1;
	}
	unsigned at = lower_bound(c, &p);
	if (at < c->n_map && prefix_cmp(&c->map[at].net, &p) == 0) {
		if (c->map[at].src == src)
			return 0; /* listed again for the same source */
		snprintf(err, errlen, "network %.60s belongs to another source "
			 "already", cidr);
		return -1;
	}
	if (c->n_map == VDR_MAX_NETS) {
		snprintf(err, errlen, "more than %d sender networks", VDR_MAX_NETS);
		return -1;
	}
	if (c->map == NULL) {
		c->map = calloc(VDR_MAX_NETS, sizeof(*c->map));
		if (c->map == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	memmove(&c->map[at + 1], &c->map[at], (c->n_map - at) * sizeof(*c->map));
	c->map[at] = (struct vdr_net_map){ p, src };
	c->n_map++;
	return 0;
}

void vdr_net_cfg_default_source(struct vdr_net_cfg *c, int src)
{
	c->default_src = src;
}

/* ---- values ---- */

static int num(const char *key, const char *v, double lo, double hi, double *out,
	       char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double n = strtod(v, &end);
	if (errno || end == v)
		goto bad;
	/* sizes may end in K, M or G (powers of 1024) */
	if (*end == 'K' || *end == 'k')
		n *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		n *= 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		n *= 1024.0 * 1024 * 1024, end++;
	if (*end != '\0' || !(n >= lo && n <= hi))
		goto bad;
	*out = n;
	return 0;
bad:
	snprintf(err, errlen, "%s: \"%.40s\" is not a number from %g to %g", key,
		 v, lo, hi);
	return -1;
}

/* @p relp: an upstream's protocol may be relp too. */
static int proto(const char *key, const char *v, enum vdr_proto *p, bool relp,
		 char *err, size_t errlen)
{
	if (!strcasecmp(v, "udp"))
		*p = VDR_UDP;
	else if (!strcasecmp(v, "tcp"))
		*p = VDR_TCP;
	else if (!strcasecmp(v, "tls"))
		*p = VDR_TLS;
	else if (relp && !strcasecmp(v, "relp"))
		*p = VDR_RELP;
	else {
		snprintf(err, errlen, "%s: \"%.40s\" is not udp, tcp%s tls%s", key, v,
			 relp ? "," : " or", relp ? " or relp" : "");
		return -1;
	}
	return 0;
}

static int yesno(const char *key, const char *v, bool *b, char *err,
		 size_t errlen)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"))
		*b = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		*b = false;
	else {
		snprintf(err, errlen, "%s: \"%.40s\" is not yes or no", key, v);
		return -1;
	}
	return 0;
}

static int path(const char *key, const char *v, char *dst, size_t cap,
		char *err, size_t errlen)
{
	if (strlen(v) == 0 || strlen(v) >= cap) {
		snprintf(err, errlen, "%s: a path of 1 to %zu characters", key,
			 cap - 1);
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

/* "HOST:PORT" or "[IPv6]:PORT" into @p host and @p port. */
static int split_hostport(const char *key, const char *v, char *host,
			  size_t hcap, char *port, size_t pcap, char *err,
			  size_t errlen)
{
	const char *colon, *h = v;
	size_t hl;
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = v + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || memchr(v, ':', (size_t)(colon - v)) != NULL)
			goto bad; /* an IPv6 address needs its brackets */
		hl = (size_t)(colon - v);
	}
	char *end;
	unsigned long pn = strtoul(colon + 1, &end, 10);
	if (hl == 0 || hl >= hcap || end == colon + 1 || *end != '\0' || pn == 0 ||
	    pn > 65535 || strlen(colon + 1) >= pcap)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, pcap, "%lu", pn);
	return 0;
bad:
	snprintf(err, errlen, "%s: \"%.60s\" is not HOST:PORT or [IPv6]:PORT "
		 "(port 1 to 65535)", key, v);
	return -1;
}

/* A numeric address into @p ss. @return 0, or -1 if @p host is a name. */
static int numeric_addr(const char *host, const char *port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int framing(const char *key, const char *v, bool listener, int *f,
		   char *err, size_t errlen)
{
	if (listener && !strcasecmp(v, "auto"))
		*f = VDP_FRAME_TCP_AUTO;
	else if (!strcasecmp(v, "octet-counting"))
		*f = VDP_FRAME_OCTET_COUNT;
	else if (!strcasecmp(v, "lf"))
		*f = VDP_FRAME_LF;
	else {
		snprintf(err, errlen, "%s: \"%.40s\" is not %soctet-counting or lf",
			 key, v, listener ? "auto, " : "");
		return -1;
	}
	return 0;
}

static int mac_parse(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* A comma-separated list: call @p fn on each item (spaces trimmed). */
static int each_item(const char *v, int (*fn)(void *, const char *), void *arg)
{
	char buf[1024];
	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		char *e = t + strlen(t);
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*t == '\0' || fn(arg, t) != 0)
			return -1;
	}
	return 0;
}

static int add_port_addr(void *arg, const char *s)
{
	struct vdr_port_cfg *p = arg;
	if (p->n_addr == VDR_MAX_PORT_ADDRS)
		return -1;
	return vdr_prefix_parse(s, &p->addr[p->n_addr++]);
}

static int add_udp_port(void *arg, const char *s)
{
	struct vdr_port_cfg *p = arg;
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (*end != '\0' || n == 0 || n > 65535 || p->n_listen_ports == 8)
		return -1;
	p->listen_ports[p->n_listen_ports++] = (uint16_t)n;
	return 0;
}

/* ---- sections ---- */

static int network_key(struct vdr_net_cfg *c, const char *k, const char *v,
		       char *err, size_t errlen)
{
	double n;
	if (!strcmp(k, "driver")) {
		if (strcmp(v, "socket") && strcmp(v, "dpdk")) {
			snprintf(err, errlen, "driver: \"%.40s\" is not socket or "
				 "dpdk", v);
			return -1;
		}
		snprintf(c->driver, sizeof(c->driver), "%s", v);
		return 0;
	}
	if (!strcmp(k, "spool_dir"))
		return path(k, v, c->spool_dir, sizeof(c->spool_dir), err, errlen);
	struct { const char *k; double lo, hi; } t[] = {
		{ "idle_timeout", 1, VEIL_S_PER_DAY }, { "max_connections", 1, 1 << 20 },
		{ "queue_bytes", 0, (double)(1ull << 36) },
		{ "drain_timeout", 0, 3600 }, { "reconnect_min", 0.01, 3600 },
		{ "reconnect_max", 0.01, 3600 }, { "frag_entries", 16, 1 << 20 },
		{ "frag_timeout", 0.01, 120 }, { "udp_rcvbuf", 4096, 1 << 30 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(k, t[i].k))
			continue;
		if (num(k, v, t[i].lo, t[i].hi, &n, err, errlen) != 0)
			return -1;
		switch (i) {
		case 0: c->idle_timeout = n; break;
		case 1: c->max_connections = (unsigned)n; break;
		case 2: c->queue_bytes = (size_t)n; break;
		case 3: c->drain_timeout = n; break;
		case 4: c->reconnect_min = n; break;
		case 5: c->reconnect_max = n; break;
		case 6: c->frag_entries = (unsigned)n; break;
		case 7: c->frag_timeout = n; break;
		default: c->udp_rcvbuf = (unsigned)n; break;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key \"%.40s\" in [network] (driver, "
		 "idle_timeout, max_connections, queue_bytes, drain_timeout, "
		 "reconnect_min, reconnect_max, frag_entries, frag_timeout, "
		 "udp_rcvbuf, spool_dir)", k);
	return -1;
}

static int listen_key(struct vdr_listen_cfg *l, const char *k, const char *v,
		      char *err, size_t errlen)
{
	if (!strcmp(k, "protocol"))
		return proto(k, v, &l->proto, false, err, errlen);
	if (!strcmp(k, "address")) {
		char host[128], port[8];
		if (split_hostport(k, v, host, sizeof(host), port, sizeof(port),
				   err, errlen) != 0)
			return -1;
		if (numeric_addr(host, port, &l->addr, &l->addr_len) != 0) {
			snprintf(err, errlen, "address: \"%.60s\" is not an IP "
				 "address and port (0.0.0.0:514, [::]:6514)", v);
			return -1;
		}
		snprintf(l->addr_text, sizeof(l->addr_text), "%s", v);
		return 0;
	}
	if (!strcmp(k, "framing"))
		return framing(k, v, true, &l->framing, err, errlen);
	if (!strcmp(k, "tls_cert"))
		return path(k, v, l->tls_cert, sizeof(l->tls_cert), err, errlen);
	if (!strcmp(k, "tls_key"))
		return path(k, v, l->tls_key, sizeof(l->tls_key), err, errlen);
	if (!strcmp(k, "tls_client_ca"))
		return path(k, v, l->tls_client_ca, sizeof(l->tls_client_ca), err,
			    errlen);
	snprintf(err, errlen, "unknown key \"%.40s\" in [listen] (protocol, "
		 "address, framing, tls_cert, tls_key, tls_client_ca)", k);
	return -1;
}

static int upstream_key(struct vdr_upstream_cfg *u, const char *k,
			const char *v, char *err, size_t errlen)
{
	if (!strcmp(k, "protocol"))
		return proto(k, v, &u->proto, true, err, errlen);
	if (!strcmp(k, "address")) {
		if (split_hostport(k, v, u->host, sizeof(u->host), u->port,
				   sizeof(u->port), err, errlen) != 0)
			return -1;
		u->numeric = numeric_addr(u->host, u->port, &u->addr,
					  &u->addr_len) == 0;
		return 0;
	}
	if (!strcmp(k, "framing"))
		return framing(k, v, false, &u->framing, err, errlen);
	if (!strcmp(k, "tls_ca"))
		return path(k, v, u->tls_ca, sizeof(u->tls_ca), err, errlen);
	if (!strcmp(k, "tls_verify"))
		return yesno(k, v, &u->tls_verify, err, errlen);
	if (!strcmp(k, "tls_server_name"))
		return path(k, v, u->tls_server_name, sizeof(u->tls_server_name),
			    err, errlen);
	if (!strcmp(k, "tls_cert"))
		return path(k, v, u->tls_cert, sizeof(u->tls_cert), err, errlen);
	if (!strcmp(k, "tls_key"))
		return path(k, v, u->tls_key, sizeof(u->tls_key), err, errlen);
	if (!strcmp(k, "on_queue_full")) {
		static const char *const names[] = { "block", "spool", "drop" };
		for (unsigned i = 0; i < 3; i++)
			if (!strcmp(v, names[i])) {
				u->on_full = (enum vdr_on_full)(VDR_FULL_BLOCK + i);
				return 0;
			}
		snprintf(err, errlen, "on_queue_full: \"%.40s\" is not block, "
			 "spool or drop", v);
		return -1;
	}
	if (!strcmp(k, "spool_bytes")) {
		double n;
		if (num(k, v, 1 << 20, (double)(1ull << 44), &n, err, errlen) != 0)
			return -1;
		u->spool_bytes = (uint64_t)n;
		return 0;
	}
	snprintf(err, errlen, "unknown key \"%.40s\" in [upstream] (protocol, "
		 "address, framing, tls_ca, tls_verify, tls_server_name, "
		 "tls_cert, tls_key, on_queue_full, spool_bytes)", k);
	return -1;
}

static int port_key(struct vdr_port_cfg *p, const char *k, const char *v,
		    char *err, size_t errlen)
{
	double n;
	if (!strcmp(k, "device"))
		return path(k, v, p->device, sizeof(p->device), err, errlen);
	if (!strcmp(k, "address")) {
		p->n_addr = 0;
		if (each_item(v, add_port_addr, p) != 0) {
			snprintf(err, errlen, "address: \"%.60s\" is not a list of "
				 "up to %d IP/LENGTH", v, VDR_MAX_PORT_ADDRS);
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "udp_ports")) {
		p->n_listen_ports = 0;
		if (each_item(v, add_udp_port, p) != 0) {
			snprintf(err, errlen, "udp_ports: \"%.60s\" is not a list "
				 "of up to 8 ports (1 to 65535)", v);
			return -1;
		}
		return 0;
	}
	if (!strcmp(k, "vlan")) {
		if (num(k, v, 0, 4094, &n, err, errlen) != 0)
			return -1;
		p->vlan = (uint16_t)n;
		return 0;
	}
	if (!strcmp(k, "mtu")) {
		if (num(k, v, 68, 9600, &n, err, errlen) != 0)
			return -1;
		p->mtu = (unsigned)n;
		return 0;
	}
	if (!strcmp(k, "exception")) {
		if (strlen(v) == 0 || strlen(v) >= sizeof(p->exception) ||
		    strchr(v, '/') || strchr(v, ' ')) {
			snprintf(err, errlen, "exception: an interface name of 1 to "
				 "%zu characters, or none", sizeof(p->exception) - 1);
			return -1;
		}
		strcpy(p->exception, v);
		return 0;
	}
	if (!strcmp(k, "next_hop_mac")) {
		if (mac_parse(v, p->next_hop_mac) != 0) {
			snprintf(err, errlen, "next_hop_mac: \"%.40s\" is not a MAC "
				 "address (aa:bb:cc:dd:ee:ff)", v);
			return -1;
		}
		p->has_next_hop_mac = true;
		return 0;
	}
	if (!strcmp(k, "gateway")) {
		if (vdr_prefix_parse(v, &p->gateway) != 0 || strchr(v, '/')) {
			snprintf(err, errlen, "gateway: \"%.40s\" is not an IP "
				 "address", v);
			return -1;
		}
		p->has_gateway = true;
		return 0;
	}
	if (!strcmp(k, "queues") || !strcmp(k, "rx_desc") || !strcmp(k, "tx_desc")) {
		bool q = !strcmp(k, "queues");
		if (num(k, v, q ? 1 : 64, q ? 64 : 16384, &n, err, errlen) != 0)
			return -1;
		if (q)
			p->queues = (unsigned)n;
		else if (k[0] == 'r')
			p->rx_desc = (unsigned)n;
		else
			p->tx_desc = (unsigned)n;
		return 0;
	}
	snprintf(err, errlen, "unknown key \"%.40s\" in [port] (device, address, "
		 "udp_ports, vlan, mtu, exception, next_hop_mac, gateway, queues, "
		 "rx_desc, tx_desc)", k);
	return -1;
}

static bool name_ok(const char *n)
{
	return strlen(n) < VDR_NAME_MAX;
}

int vdr_net_cfg_set(struct vdr_net_cfg *c, const char *section,
		    const char *key, const char *value, char *err,
		    size_t errlen)
{
	const char *n;
	if (!strcmp(section, "network"))
		return network_key(c, key, value, err, errlen);
	if ((n = section_name(section, "listen")) != NULL && name_ok(n)) {
		unsigned i;
		for (i = 0; i < c->n_listen; i++)
			if (!strcmp(c->listen[i].name, n))
				break;
		if (i == c->n_listen) {
			if (i == VDR_MAX_LISTEN) {
				snprintf(err, errlen, "more than %d [listen] sections",
					 VDR_MAX_LISTEN);
				return -1;
			}
			memset(&c->listen[i], 0, sizeof(c->listen[i]));
			strcpy(c->listen[i].name, n);
			c->listen[i].proto = VDR_UDP;
			c->listen[i].framing = VDP_FRAME_TCP_AUTO;
			c->n_listen++;
		}
		return listen_key(&c->listen[i], key, value, err, errlen);
	}
	if ((n = section_name(section, "upstream")) != NULL && name_ok(n)) {
		unsigned i;
		for (i = 0; i < c->n_up; i++)
			if (!strcmp(c->up[i].name, n))
				break;
		if (i == c->n_up) {
			if (i == VDR_MAX_UPSTREAM) {
				snprintf(err, errlen, "more than %d [upstream] "
					 "sections", VDR_MAX_UPSTREAM);
				return -1;
			}
			memset(&c->up[i], 0, sizeof(c->up[i]));
			strcpy(c->up[i].name, n);
			c->up[i].proto = VDR_UDP;
			c->up[i].framing = VDP_FRAME_OCTET_COUNT;
			c->up[i].tls_verify = true;
			c->up[i].spool_bytes = 1ull << 30;
			c->n_up++;
		}
		return upstream_key(&c->up[i], key, value, err, errlen);
	}
	if ((n = section_name(section, "port")) != NULL && name_ok(n)) {
		unsigned i;
		for (i = 0; i < c->n_port; i++)
			if (!strcmp(c->port[i].name, n))
				break;
		if (i == c->n_port) {
			if (i == VDR_MAX_PORTS) {
				snprintf(err, errlen, "more than %d [port] sections",
					 VDR_MAX_PORTS);
				return -1;
			}
			struct vdr_port_cfg *p = &c->port[i];
			memset(p, 0, sizeof(*p));
			strcpy(p->name, n);
			p->listen_ports[0] = 514;
			p->n_listen_ports = 1;
			p->mtu = 1500;
			snprintf(p->exception, sizeof(p->exception), "veil-%.10s", n);
			p->queues = 0; /* one per worker */
			p->rx_desc = p->tx_desc = VDR_DESC_DEFAULT;
			c->n_port++;
		}
		return port_key(&c->port[i], key, value, err, errlen);
	}
	snprintf(err, errlen, "[%.60s]: a section name of 1 to %d characters is "
		 "needed ([listen NAME], [upstream NAME], [port NAME])", section,
		 VDR_NAME_MAX - 1);
	return -1;
}

static int readable(const char *what, const char *name, const char *key,
		    const char *p, char *err, size_t errlen)
{
	if (p[0] != '\0' && access(p, R_OK) != 0) {
		snprintf(err, errlen, "[%s %s] %s: %s: %s", what, name, key, p,
			 strerror(errno));
		return -1;
	}
	return 0;
}

void vdr_prefix_mask(unsigned plen, uint8_t *mask, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned b = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * (unsigned)i : 0;
		mask[i] = (uint8_t)(0xff00u >> b);
	}
}

bool vdr_in_prefix(const struct vdr_prefix *p, const uint8_t *ip)
{
	uint8_t mask[16];
	size_t n = p->family == AF_INET ? 4 : 16;
	vdr_prefix_mask(p->plen, mask, n);
	for (size_t i = 0; i < n; i++)
		if ((p->ip[i] & mask[i]) != (ip[i] & mask[i]))
			return false;
	return true;
}

int vdr_upstream_port(const struct vdr_net_cfg *c, int family, const uint8_t *dst,
		      const struct vdr_prefix **src, bool *on_link)
{
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < c->n_port; i++)
			for (unsigned k = 0; k < c->port[i].n_addr; k++) {
				const struct vdr_prefix *a = &c->port[i].addr[k];
				if (a->family != family ||
				    (pass == 0 && !vdr_in_prefix(a, dst)))
					continue;
				*src = a;
				*on_link = pass == 0;
				return (int)i;
			}
	return -1;
}

/* An upstream's address as 4 or 16 bytes; its family, or -1. */
static int upstream_ip(const struct vdr_upstream_cfg *u, uint8_t ip[16])
{
	if (u->addr.ss_family == AF_INET) {
		memcpy(ip, &((const struct sockaddr_in *)&u->addr)->sin_addr, 4);
		return AF_INET;
	}
	if (u->addr.ss_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)&u->addr)->sin6_addr, 16);
		return AF_INET6;
	}
	return -1;
}

/* A UDP upstream of the dpdk driver goes out of one port: its next hop's
 * MAC comes from next_hop_mac or from the neighbour table of the port's
 * exception interface. With neither, lines could only leave through an
 * unbound kernel socket: by the host's routes, from the host's address,
 * or nowhere. Refused. */
static int check_next_hop(const struct vdr_net_cfg *c, const struct vdr_upstream_cfg *u,
			  char *err, size_t errlen)
{
	uint8_t ip[16];
	const struct vdr_prefix *src;
	bool on_link;
	int family = upstream_ip(u, ip);
	int pi = family < 0 ? -1 : vdr_upstream_port(c, family, ip, &src, &on_link);
	if (pi < 0) {
		snprintf(err, errlen, "[upstream %s]: no [port] has an IPv%c address "
			 "to send it from", u->name, family == AF_INET6 ? '6' : '4');
		return -1;
	}
	const struct vdr_port_cfg *p = &c->port[pi];
	if (!strcmp(p->exception, "none") && !p->has_next_hop_mac) {
		snprintf(err, errlen, "[upstream %s]: [port %s] has exception = none "
			 "and no next_hop_mac: its next hop's MAC can never be "
			 "learnt, and the lines would leave by the host's own routes; "
			 "set next_hop_mac (the %s's MAC) or an exception interface",
			 u->name, p->name, on_link ? "collector" : "gateway");
		return -1;
	}
	return 0;
}

int vdr_net_cfg_check(const struct vdr_net_cfg *c, char *err, size_t errlen)
{
	if (c->driver[0] == '\0') {
		if (c->n_listen || c->n_up || c->n_port) {
			snprintf(err, errlen, "[listen], [upstream] or [port] "
				 "sections without [network] driver = socket or "
				 "dpdk");
			return -1;
		}
		return 0;
	}
	bool dpdk = !strcmp(c->driver, "dpdk");
	if (dpdk && c->n_port == 0) {
		snprintf(err, errlen, "[network] driver = dpdk needs a [port NAME] "
			 "section");
		return -1;
	}
	if (!dpdk && c->n_port > 0) {
		snprintf(err, errlen, "[port %s] is for driver = dpdk (the socket "
			 "driver listens on [listen NAME])", c->port[0].name);
		return -1;
	}
	if (!dpdk && c->n_listen == 0) {
		snprintf(err, errlen, "[network] driver = socket needs a [listen "
			 "NAME] section (protocol, address)");
		return -1;
	}
	if (c->reconnect_max < c->reconnect_min) {
		snprintf(err, errlen, "[network] reconnect_max is less than "
			 "reconnect_min");
		return -1;
	}
	for (unsigned i = 0; i < c->n_listen; i++) {
		const struct vdr_listen_cfg *l = &c->listen[i];
		if (l->addr_len == 0) {
			snprintf(err, errlen, "[listen %s] has no address", l->name);
			return -1;
		}
		if (dpdk && l->proto == VDR_UDP) {
			snprintf(err, errlen, "[listen %s]: with driver = dpdk, UDP "
				 "syslog is received on the [port]'s udp_ports; "
				 "[listen] is for tcp and tls", l->name);
			return -1;
		}
		if (l->proto == VDR_TLS && (!l->tls_cert[0] || !l->tls_key[0])) {
			snprintf(err, errlen, "[listen %s] protocol = tls needs "
				 "tls_cert and tls_key", l->name);
			return -1;
		}
		if (l->proto != VDR_TLS && (l->tls_cert[0] || l->tls_key[0] ||
					    l->tls_client_ca[0])) {
			snprintf(err, errlen, "[listen %s]: tls_* keys need "
				 "protocol = tls", l->name);
			return -1;
		}
		if (readable("listen", l->name, "tls_cert", l->tls_cert, err, errlen) ||
		    readable("listen", l->name, "tls_key", l->tls_key, err, errlen) ||
		    readable("listen", l->name, "tls_client_ca", l->tls_client_ca,
			     err, errlen))
			return -1;
	}
	for (unsigned i = 0; i < c->n_up; i++) {
		const struct vdr_upstream_cfg *u = &c->up[i];
		if (dpdk && vdr_upstream_on_full(c, u) != VDR_FULL_DROP) {
			snprintf(err, errlen, "[upstream %s]: on_queue_full = block "
				 "and spool need the socket driver (the dpdk "
				 "driver drops, counted)", u->name);
			return -1;
		}
		if (vdr_upstream_on_full(c, u) == VDR_FULL_SPOOL &&
		    strlen(c->spool_dir) + strlen(u->name) + 2 > VDR_PATH_MAX) {
			snprintf(err, errlen, "[upstream %s]: spool_dir plus the "
				 "name is too long", u->name);
			return -1;
		}
		if (u->host[0] == '\0') {
			snprintf(err, errlen, "[upstream %s] has no address", u->name);
			return -1;
		}
		if (dpdk && u->proto == VDR_UDP && !u->numeric) {
			snprintf(err, errlen, "[upstream %s]: the dpdk driver sends "
				 "UDP to an IP address, not a name", u->name);
			return -1;
		}
		if (dpdk && u->proto == VDR_UDP && check_next_hop(c, u, err, errlen) != 0)
			return -1;
		if (u->proto != VDR_TLS && (u->tls_ca[0] || u->tls_cert[0] ||
					    u->tls_key[0] || u->tls_server_name[0])) {
			snprintf(err, errlen, "[upstream %s]: tls_* keys need "
				 "protocol = tls", u->name);
			return -1;
		}
		if (!u->tls_cert[0] != !u->tls_key[0]) {
			snprintf(err, errlen, "[upstream %s]: a client certificate "
				 "needs both tls_cert and tls_key", u->name);
			return -1;
		}
		if (readable("upstream", u->name, "tls_ca", u->tls_ca, err, errlen) ||
		    readable("upstream", u->name, "tls_cert", u->tls_cert, err, errlen) ||
		    readable("upstream", u->name, "tls_key", u->tls_key, err, errlen))
			return -1;
	}
	for (unsigned i = 0; i < c->n_port; i++) {
		const struct vdr_port_cfg *p = &c->port[i];
		if (p->device[0] == '\0' || p->n_addr == 0) {
			snprintf(err, errlen, "[port %s] needs device and address",
				 p->name);
			return -1;
		}
	}
	if (c->n_up == 0) {
		snprintf(err, errlen, "[network] needs an [upstream NAME] section: "
			 "the collector the anonymized lines go to");
		return -1;
	}
	return 0;
}

const char *vdr_net_cfg_driver(const struct vdr_net_cfg *c)
{
	return c->driver[0] ? c->driver : NULL;
}

const char *vdr_net_cfg_spool_dir(const struct vdr_net_cfg *c)
{
	for (unsigned i = 0; i < c->n_up; i++)
		if (vdr_upstream_on_full(c, &c->up[i]) == VDR_FULL_SPOOL)
			return c->spool_dir;
	return NULL;
}

static const char *proto_name(enum vdr_proto p)
{
	return p == VDR_UDP ? "udp" : p == VDR_TCP ? "tcp" : p == VDR_TLS ? "tls"
									   : "relp";
}

void vdr_net_cfg_describe(const struct vdr_net_cfg *c, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
#define ADD(...)                                                               \
	do {                                                                   \
		if (n < cap) {                                                 \
			int k = snprintf(buf + n, cap - n, __VA_ARGS__);       \
			n += k > 0 ? (size_t)k : 0;                            \
		}                                                              \
	} while (0)
	for (unsigned i = 0; i < c->n_port; i++) {
		const struct vdr_port_cfg *p = &c->port[i];
		char a[INET6_ADDRSTRLEN];
		inet_ntop(p->addr[0].family, p->addr[0].ip, a, sizeof(a));
		ADD("  port %s: %s, %s/%u%s, udp port %u, mtu %u, exception %s\n",
		    p->name, p->device, a, p->addr[0].plen,
		    p->n_addr > 1 ? " (and more)" : "", p->listen_ports[0], p->mtu,
		    p->exception);
	}
	for (unsigned i = 0; i < c->n_listen; i++)
		ADD("  listen %s: %s %s\n", c->listen[i].name,
		    proto_name(c->listen[i].proto), c->listen[i].addr_text);
	for (unsigned i = 0; i < c->n_up; i++) {
		static const char *const full[] = { "drop", "block", "spool", "drop" };
		ADD("  upstream %s: %s %s%s%s:%s, on a full queue: %s", c->up[i].name,
		    proto_name(c->up[i].proto), strchr(c->up[i].host, ':') ? "[" : "",
		    c->up[i].host, strchr(c->up[i].host, ':') ? "]" : "",
		    c->up[i].port, full[vdr_upstream_on_full(c, &c->up[i])]);
		if (vdr_upstream_on_full(c, &c->up[i]) == VDR_FULL_SPOOL)
			ADD(" (%s/%s, at most %llu MiB)", c->spool_dir, c->up[i].name,
			    (unsigned long long)(c->up[i].spool_bytes >> 20));
		ADD("\n");
	}
#undef ADD
}
