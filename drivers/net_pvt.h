/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The network drivers' configuration (netcfg.c parses it; socket.c and
 * dpdk.c read it). Every field is set, with its default, by
 * vdr_net_cfg_new(); docs/network.md lists the keys.
 */
#ifndef VEIL_NET_PVT_H
#define VEIL_NET_PVT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "drv_pvt.h"

#define VDR_MAX_LISTEN   16
#define VDR_MAX_UPSTREAM 8
#define VDR_MAX_PORTS    4
#define VDR_MAX_PORT_ADDRS 4
#define VDR_MAX_NETS     4096
#define VDR_PATH_MAX     256
#define VDR_NAME_MAX     64
#define VDR_DESC_DEFAULT 1024 /* a port's RX and TX descriptors per queue */

/* VDR_RELP: an upstream only (RFC-style RELP over TCP, librelp): a line
 * is delivered when the collector acknowledged it. */
enum vdr_proto { VDR_UDP, VDR_TCP, VDR_TLS, VDR_RELP };

/* [upstream] on_queue_full: what happens to a line when the upstream's
 * memory queue (queue_bytes) is full. */
enum vdr_on_full {
	VDR_FULL_DEFAULT = 0, /* not set: block for TCP/TLS, drop for UDP
				 (the socket driver); drop (dpdk) */
	VDR_FULL_BLOCK,       /* TCP/TLS senders are not read until there is
				 room (their TCP slows them); lines on their
				 way, and UDP lines meanwhile, are queued up
				 to 64 MiB over queue_bytes, then dropped */
	VDR_FULL_SPOOL,       /* every line goes through a disk spool first
				 (at-least-once across restarts) */
	VDR_FULL_DROP,        /* dropped and counted */
};

/* An IPv4 or IPv6 address (network order) with a prefix length. */
struct vdr_prefix {
	int family;      /* AF_INET or AF_INET6 */
	uint8_t ip[16];  /* IPv4: the first 4 bytes */
	unsigned plen;
};

/* [listen NAME]: where senders reach the socket driver. */
struct vdr_listen_cfg {
	char name[VDR_NAME_MAX];
	enum vdr_proto proto;                /* protocol = udp | tcp | tls */
	struct sockaddr_storage addr;        /* address = IP:PORT, [IPv6]:PORT */
	socklen_t addr_len;
	char addr_text[80];                  /* as given, for messages */
	int framing;                         /* enum vdp_framing: framing = auto
						(VDP_FRAME_TCP_AUTO, the default),
						octet-counting, lf; UDP: always
						VDP_FRAME_DATAGRAM */
	char tls_cert[VDR_PATH_MAX];         /* tls_cert = PEM (chain) */
	char tls_key[VDR_PATH_MAX];          /* tls_key = PEM */
	char tls_client_ca[VDR_PATH_MAX];    /* tls_client_ca = PEM: when set,
						a client certificate signed by
						it is required */
};

/* [upstream NAME]: a collector every forwarded line is sent to. */
struct vdr_upstream_cfg {
	char name[VDR_NAME_MAX];
	enum vdr_proto proto;                /* protocol = udp | tcp | tls | relp */
	char host[256];                      /* address = HOST:PORT (a name is
						resolved at each connect) */
	char port[8];
	bool numeric;                        /* host is an IP address: addr set */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int framing;                         /* TCP/TLS: VDP_FRAME_OCTET_COUNT
						(default) or VDP_FRAME_LF */
	char tls_ca[VDR_PATH_MAX];           /* tls_ca = PEM ("": the system's) */
	bool tls_verify;                     /* tls_verify = yes (default) | no */
	char tls_server_name[256];           /* tls_server_name = (default: host) */
	char tls_cert[VDR_PATH_MAX];         /* tls_cert/tls_key: a client
						certificate, optional */
	char tls_key[VDR_PATH_MAX];
	enum vdr_on_full on_full;            /* on_queue_full = block | spool |
						drop */
	uint64_t spool_bytes;                /* spool_bytes (1 GiB): the spool's
						bound on disk */
};

/* [port NAME]: an ethdev port of the dpdk driver. */
struct vdr_port_cfg {
	char name[VDR_NAME_MAX];
	char device[128];                    /* device = PCI address or EAL
						device name (net_pcap0, ...) */
	struct vdr_prefix addr[VDR_MAX_PORT_ADDRS]; /* address = 192.0.2.10/24,
						2001:db8::10/64 (the appliance's
						addresses on this port) */
	unsigned n_addr;
	uint16_t listen_ports[8];            /* udp_ports = 514, 1514 (UDP
						syslog to the fast path;
						default 514) */
	unsigned n_listen_ports;
	uint16_t vlan;                       /* vlan = 1-4094 (0: untagged) */
	unsigned mtu;                        /* mtu = 68-9600 (default 1500) */
	char exception[16];                  /* exception = TAP name (default
						"veil-<NAME>"; "none": drop
						what is not syslog, counted) */
	bool has_next_hop_mac;               /* next_hop_mac = aa:bb:cc:dd:ee:ff */
	uint8_t next_hop_mac[6];             /* (default: the kernel's
						neighbour table of the
						exception interface) */
	bool has_gateway;                    /* gateway = IP: the next hop
						for upstreams off the port's
						networks */
	struct vdr_prefix gateway;
	unsigned queues;                     /* queues = RX/TX queue pairs
						(0, the default: one per
						worker; RSS over IP and UDP
						when more than 1) */
	unsigned rx_desc, tx_desc;           /* rx_desc, tx_desc (default
						VDR_DESC_DEFAULT) */
};

struct vdr_net_map {
	struct vdr_prefix net;
	uint16_t src;
};

struct vdr_net_cfg {
	char driver[16];                     /* [network] driver = socket | dpdk
						("": no [network] section) */
	struct vdr_listen_cfg listen[VDR_MAX_LISTEN];
	unsigned n_listen;
	struct vdr_upstream_cfg up[VDR_MAX_UPSTREAM];
	unsigned n_up;
	struct vdr_port_cfg port[VDR_MAX_PORTS];
	unsigned n_port;
	struct vdr_net_map *map;             /* [source NAME] networks =,
						sorted (netcfg.c), each once */
	unsigned n_map;
	int default_src;                     /* -1: unknown senders dropped */
	/* [network] keys */
	double idle_timeout;                 /* idle_timeout = S (300): a TCP/TLS
						sender silent that long is closed */
	unsigned max_connections;            /* max_connections (4096) */
	size_t queue_bytes;                  /* queue_bytes (64 MiB): per
						upstream, while it is down */
	double drain_timeout;                /* drain_timeout = S (5): at exit */
	double reconnect_min, reconnect_max; /* reconnect_min (0.2), _max (2) */
	char spool_dir[VDR_PATH_MAX];        /* spool_dir (/var/spool/veil): an
						upstream's spool is spool_dir/NAME */
	unsigned frag_entries;               /* frag_entries (4096): datagrams
						being reassembled at once */
	double frag_timeout;                 /* frag_timeout = S (2) */
	unsigned udp_rcvbuf;                 /* udp_rcvbuf (8 MiB) */
};

/* The source of a sender (longest prefix, then the default), in
 * O(prefix lengths present x log networks). @p family AF_INET (4 bytes)
 * or AF_INET6 (16). @return the source, or -1. */
int vdr_net_lookup(const struct vdr_net_cfg *c, int family, const uint8_t *ip);
int vdr_net_lookup_sa(const struct vdr_net_cfg *c, const struct sockaddr *sa);
/* What a full queue of upstream @p u does, its default resolved. */
enum vdr_on_full vdr_upstream_on_full(const struct vdr_net_cfg *c,
				      const struct vdr_upstream_cfg *u);
/* Parse "IP/LEN" or "IP" into @p p. @return 0 or -1. */
int vdr_prefix_parse(const char *s, struct vdr_prefix *p);
/* The mask of a prefix length over @p n bytes; whether @p ip (the
 * prefix's family) is in @p p. */
void vdr_prefix_mask(unsigned plen, uint8_t *mask, size_t n);
bool vdr_in_prefix(const struct vdr_prefix *p, const uint8_t *ip);
/* The dpdk driver's port for UDP to @p dst (family AF_INET, 4 bytes, or
 * AF_INET6, 16): the first port with an address of the family whose
 * network holds dst (*on_link), else the first with an address of the
 * family. @return the port's index and its address in *src, or -1. */
int vdr_upstream_port(const struct vdr_net_cfg *c, int family, const uint8_t *dst,
		      const struct vdr_prefix **src, bool *on_link);

#endif
