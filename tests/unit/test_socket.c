/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The socket driver (drivers/socket.c) against real peers over 127.0.0.1:
 * UDP with sources by network and unknown senders, TCP octet counting and
 * LF over several connections in order, oversize and broken frames, idle
 * timeouts, max_connections, TLS with certificates made here (client
 * certificate required, refused without one, garbage, handshake deadline),
 * backpressure (vdr_rx_return), and the upstreams: TCP, TLS and UDP
 * receivers in this process, a receiver that goes away and comes back
 * (nothing lost), a tiny queue (drops counted), drain at vdr_flush().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "veil_driver.h"

#define MAX_MSG 100

static char tmpdir[64];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *path_of(const char *name)
{
	static char p[8][128];
	static int k;
	k = (k + 1) % 8;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
	return p[k];
}

/* A CA, a server certificate for localhost and 127.0.0.1, and a client
 * certificate, all signed by the CA; and a second CA nobody uses. */
static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/veil-sock.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
		 "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=veil-test-ca 2>/dev/null;"
		 "openssl req -x509 $K -keyout ca2.key -out ca2.pem -days 2 -subj /CN=other-ca 2>/dev/null;"
		 "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext;"
		 "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null;"
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
		 " -out srv.pem -days 2 -extfile srv.ext 2>/dev/null;"
		 "openssl req $K -keyout cli.key -out cli.csr -subj /CN=veil-test-client 2>/dev/null;"
		 "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
		 " -out cli.pem -days 2 2>/dev/null",
		 tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A port free now on 127.0.0.1 (the config cannot say "port 0"). */
static unsigned free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void set(struct vdr_net_cfg *c, const char *sec, const char *k,
		const char *fmt, ...)
{
	char v[512], err[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (vdr_net_cfg_set(c, sec, k, v, err, sizeof(err)) != 0)
		fail_msg("[%s] %s = %s: %s", sec, k, v, err);
}

static void map(struct vdr_net_cfg *c, const char *cidr, uint16_t src)
{
	char err[256];
	assert_int_equal(vdr_net_cfg_map(c, cidr, src, err, sizeof(err)), 0);
}

static struct vdr_driver *new_drv(const struct vdr_net_cfg *c, unsigned flags)
{
	char err[256] = "";
	struct vdr_driver *d = vdr_socket_new(c, MAX_MSG, flags, err, sizeof(err));
	if (d == NULL)
		fail_msg("vdr_socket_new: %s", err);
	assert_string_equal(vdr_name(d), "socket");
	return d;
}

static uint64_t xstat(struct vdr_driver *d, const char *name)
{
	const char *names[64];
	uint64_t vals[64];
	unsigned n = vdr_xstats(d, names, vals, 64);
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return vals[i];
	fail_msg("no counter %s", name);
	return 0;
}

/* Messages received, as "SRC:TEXT". */
struct got {
	char *m[8192];
	unsigned n;
};

static void got_free(struct got *g)
{
	for (unsigned i = 0; i < g->n; i++)
		free(g->m[i]);
	g->n = 0;
}

static void take(struct got *g, const struct vdp_line *l, int n)
{
	for (int i = 0; i < n; i++) {
		assert_true(g->n < 8192);
		char *s = malloc(l[i].len + 16);
		int k = sprintf(s, "%u:", l[i].src);
		memcpy(s + k, l[i].data, l[i].len);
		s[k + l[i].len] = '\0';
		g->m[g->n++] = s;
	}
}

/* Serve the driver until @p want messages came, or @p secs passed. */
static void pump(struct vdr_driver *d, struct got *g, unsigned want, double secs)
{
	struct vdp_line l[VDP_BURST_MAX];
	double end = now_s() + secs;
	while ((g == NULL || g->n < want) && now_s() < end) {
		int n = vdr_rx(d, l, VDP_BURST_MAX);
		assert_true(n >= 0);
		if (g != NULL)
			take(g, l, n);
		else
			assert_int_equal(n, 0);
	}
}

static void pump_for(struct vdr_driver *d, struct got *g, double secs)
{
	pump(d, g, UINT32_MAX, secs);
}

static int tcp_connect(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

static void sendf(int fd, const char *fmt, ...)
{
	char b[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	send_all(fd, b, (size_t)n);
}

/* Has the driver closed this connection? (EOF or reset, while the driver
 * is served.) */
static bool closed_by_peer(struct vdr_driver *d, struct got *g, int fd,
			   double secs)
{
	double end = now_s() + secs;
	while (now_s() < end) {
		pump_for(d, g, 0.01);
		char b[256];
		ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN))
			return true;
	}
	return false;
}

static struct vdr_net_cfg *cfg_listen(const char *proto, unsigned port,
				      const char *framing)
{
	struct vdr_net_cfg *c = vdr_net_cfg_new();
	assert_non_null(c);
	set(c, "network", "driver", "socket");
	set(c, "listen in", "protocol", "%s", proto);
	set(c, "listen in", "address", "127.0.0.1:%u", port);
	if (framing != NULL)
		set(c, "listen in", "framing", "%s", framing);
	map(c, "127.0.0.1", 5);
	return c;
}

/* ------------------------------------------------------------------ */

static void udp_sources(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_DGRAM);
	struct vdr_net_cfg *c = cfg_listen("udp", port, NULL);
	map(c, "127.0.0.0/24", 1); /* 127.0.0.1 itself: 5, the longer prefix */
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c); /* the driver keeps its own copy */

	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s[3];
	const char *from[3] = { "127.0.0.1", "127.0.0.7", "127.0.1.9" };
	for (int i = 0; i < 3; i++) {
		s[i] = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET };
		inet_pton(AF_INET, from[i], &a.sin_addr);
		assert_int_equal(bind(s[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	char big[MAX_MSG + 10];
	memset(big, 'x', sizeof(big));
	struct { int s; const char *p; size_t n; } dg[] = {
		{ 0, "<13>one", 7 },
		{ 1, "<13>two\r\n\0", 10 },  /* trailing CR LF NUL trimmed */
		{ 2, "<13>unknown", 11 },    /* a sender of no source */
		{ 0, "\n\r", 2 },            /* empty once trimmed */
		{ 0, big, sizeof(big) },     /* oversize */
		{ 1, "<13>three", 9 },
	};
	for (unsigned i = 0; i < sizeof(dg) / sizeof(dg[0]); i++)
		assert_int_equal(sendto(s[dg[i].s], dg[i].p, dg[i].n, 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)dg[i].n);
	struct got g = { 0 };
	pump(d, &g, 3, 2.0);
	pump_for(d, &g, 0.05);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.m[0], "5:<13>one");
	assert_string_equal(g.m[1], "1:<13>two");
	assert_string_equal(g.m[2], "1:<13>three");
	assert_int_equal(xstat(d, "udp_datagrams"), 6);
	assert_int_equal(xstat(d, "drop_unknown_sender"), 1);
	assert_int_equal(xstat(d, "udp_empty"), 1);
	assert_int_equal(xstat(d, "oversize"), 1);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_msgs, 3);
	assert_int_equal(st.rx_oversize, 1);
	assert_int_equal(st.rx_bytes, 7 + 10 + 11 + 2 + sizeof(big) + 9);
	for (int i = 0; i < 3; i++)
		close(s[i]);
	got_free(&g);
	vdr_free(d);
}

/* A UDP burst bigger than the socket's buffer: every datagram is either
 * received or counted as dropped by the kernel. */
static void udp_kernel_drops(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_DGRAM);
	struct vdr_net_cfg *c = cfg_listen("udp", port, NULL);
	set(c, "network", "udp_rcvbuf", "4096");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char m[80];
	memset(m, 'z', sizeof(m));
	memcpy(m, "<14>", 4);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(sendto(s, m, sizeof(m), 0, (struct sockaddr *)&to,
					sizeof(to)), (ssize_t)sizeof(m));
	static struct got g;
	pump_for(d, &g, 0.2);
	/* the count of drops comes with the next datagram received */
	assert_int_equal(sendto(s, m, sizeof(m), 0, (struct sockaddr *)&to,
				sizeof(to)), (ssize_t)sizeof(m));
	pump_for(d, &g, 0.1);
	uint64_t drops = xstat(d, "udp_kernel_drops");
	printf("# udp: %u received, %llu dropped by the kernel\n", g.n,
	       (unsigned long long)drops);
	assert_true(drops > 0);
	assert_int_equal(g.n + drops, 3001);
	assert_int_equal(xstat(d, "udp_datagrams"), g.n);
	close(s);
	got_free(&g);
	vdr_free(d);
}

/* Several connections, octet counted and LF, split anywhere: each in
 * order, none lost. */
static void tcp_order(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, NULL); /* auto */
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	enum { CONNS = 6, MSGS = 300 };
	int fd[CONNS];
	for (int k = 0; k < CONNS; k++)
		fd[k] = tcp_connect(port);
	struct got g = { 0 };
	pump_for(d, &g, 0.02);
	for (int i = 0; i < MSGS; i++) {
		for (int k = 0; k < CONNS; k++) {
			char m[64];
			int n = snprintf(m, sizeof(m), "<14>c%d m%d", k, i);
			if (k % 2 == 0) /* octet counting, split in two */
				sendf(fd[k], "%d %.*s", n, 3, m), sendf(fd[k], "%s", m + 3);
			else            /* LF, CRLF */
				sendf(fd[k], "%s%s", m, i % 2 ? "\r\n" : "\n");
		}
		if (i % 50 == 0)
			pump_for(d, &g, 0.001);
	}
	pump(d, &g, CONNS * MSGS, 5.0);
	assert_int_equal(g.n, CONNS * MSGS);
	int next[CONNS] = { 0 };
	for (unsigned i = 0; i < g.n; i++) {
		int k, m;
		assert_int_equal(sscanf(g.m[i], "5:<14>c%d m%d", &k, &m), 2);
		assert_int_equal(m, next[k]);
		next[k]++;
	}
	assert_int_equal(xstat(d, "tcp_accepted"), CONNS);
	assert_int_equal(xstat(d, "tcp_open"), CONNS);
	/* a last line without its LF is taken at the close */
	sendf(fd[1], "<14>last words");
	close(fd[1]);
	got_free(&g);
	pump(d, &g, 1, 2.0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.m[0], "5:<14>last words");
	for (int k = 0; k < CONNS; k++)
		if (k != 1)
			close(fd[k]);
	pump_for(d, &g, 0.1);
	assert_int_equal(xstat(d, "tcp_closed"), CONNS);
	assert_int_equal(xstat(d, "tcp_open"), 0);
	got_free(&g);
	vdr_free(d);
}

/* An oversize octet-counted frame and a broken count close the
 * connection; an oversize LF line is dropped and the stream goes on. */
static void tcp_bad_input(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, NULL);
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	struct got g = { 0 };
	char big[MAX_MSG * 3];
	memset(big, 'y', sizeof(big));

	int a = tcp_connect(port);
	sendf(a, "5 <14>a");
	sendf(a, "%zu ", sizeof(big));
	send_all(a, big, sizeof(big));
	assert_true(closed_by_peer(d, &g, a, 3.0));
	assert_int_equal(g.n, 1);
	assert_string_equal(g.m[0], "5:<14>a");
	assert_int_equal(xstat(d, "tcp_oversize_closes"), 1);
	assert_int_equal(xstat(d, "oversize"), 1);
	close(a);

	int b = tcp_connect(port);
	sendf(b, "6 <14>bb12x <14>nope");
	assert_true(closed_by_peer(d, &g, b, 3.0));
	assert_int_equal(xstat(d, "tcp_bad_frames"), 1);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.m[1], "5:<14>bb");
	close(b);

	int l = tcp_connect(port);
	sendf(l, "<14>before\n");
	send_all(l, big, sizeof(big));
	sendf(l, "\n<14>after\n");
	pump(d, &g, 4, 3.0);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.m[2], "5:<14>before");
	assert_string_equal(g.m[3], "5:<14>after");
	assert_false(closed_by_peer(d, &g, l, 0.1));
	assert_int_equal(xstat(d, "oversize"), 2);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_oversize, 2);
	close(l);
	got_free(&g);
	vdr_free(d);
}

static void tcp_idle_and_max(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, "lf");
	set(c, "network", "idle_timeout", "1");
	set(c, "network", "max_connections", "2");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	struct got g = { 0 };
	int a = tcp_connect(port), b = tcp_connect(port);
	pump_for(d, &g, 0.05);
	int x = tcp_connect(port); /* the third: accepted and closed */
	assert_true(closed_by_peer(d, &g, x, 2.0));
	assert_int_equal(xstat(d, "tcp_refused_max_connections"), 1);
	close(x);
	/* a talks, b is silent: b is closed after idle_timeout, a later */
	double t0 = now_s();
	sendf(a, "<14>hello\n");
	pump(d, &g, 1, 1.0);
	assert_int_equal(g.n, 1);
	assert_true(closed_by_peer(d, &g, b, 4.0));
	assert_true(now_s() - t0 >= 0.5);
	assert_true(xstat(d, "tcp_idle_timeouts") >= 1);
	assert_true(closed_by_peer(d, &g, a, 4.0));
	assert_int_equal(xstat(d, "tcp_idle_timeouts"), 2);
	assert_int_equal(xstat(d, "tcp_open"), 0);
	close(a);
	close(b);
	got_free(&g);
	vdr_free(d);
}

/* Thousands of connections at once, each in order. */
static void many_connections(void **state)
{
	(void)state;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	unsigned conns = rl.rlim_cur > 4200 ? 2000 : (unsigned)(rl.rlim_cur - 200) / 2;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, NULL);
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	int *fd = calloc(conns, sizeof(int));
	static struct got g;
	double t0 = now_s();
	for (unsigned k = 0; k < conns; k++) {
		fd[k] = tcp_connect(port);
		if (k % 100 == 99)
			pump_for(d, &g, 0.001);
	}
	for (int i = 0; i < 2; i++)
		for (unsigned k = 0; k < conns; k++)
			sendf(fd[k], "<14>k%u n%d\n", k, i);
	pump(d, &g, 2 * conns, 20.0);
	double secs = now_s() - t0;
	assert_int_equal(g.n, 2 * conns);
	assert_int_equal(xstat(d, "tcp_open"), conns);
	assert_int_equal(xstat(d, "tcp_refused_max_connections"), 0);
	int *next = calloc(conns, sizeof(int));
	for (unsigned i = 0; i < g.n; i++) {
		unsigned k;
		int n;
		assert_int_equal(sscanf(g.m[i], "5:<14>k%u n%d", &k, &n), 2);
		assert_true(k < conns);
		assert_int_equal(n, next[k]++);
	}
	printf("# %u connections accepted and read in %.2f s\n", conns, secs);
	for (unsigned k = 0; k < conns; k++)
		close(fd[k]);
	pump_for(d, &g, 0.2);
	assert_int_equal(xstat(d, "tcp_open"), 0);
	free(next);
	free(fd);
	got_free(&g);
	vdr_free(d);
}

/* Backpressure: what is given back comes again first, unchanged. */
static void rx_return(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, "lf");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	int a = tcp_connect(port);
	for (int i = 0; i < 1000; i++)
		sendf(a, "<14>m%d\n", i);
	struct vdp_line l[VDP_BURST_MAX];
	int next = 0;
	double end = now_s() + 5;
	for (int round = 0; next < 1000 && now_s() < end; round++) {
		int n = vdr_rx(d, l, 64);
		assert_true(n >= 0);
		int keep = round % 3 == 0 ? n : n / 2; /* all, or half */
		for (int i = 0; i < keep; i++) {
			char m[32];
			snprintf(m, sizeof(m), "<14>m%d", next++);
			assert_int_equal(l[i].len, strlen(m));
			assert_memory_equal(l[i].data, m, l[i].len);
		}
		vdr_rx_return(d, (unsigned)(n - keep));
	}
	assert_int_equal(next, 1000);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_msgs, 1000);
	close(a);
	vdr_free(d);
}

static void bind_error(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tcp", port, NULL);
	struct vdr_driver *d = new_drv(c, 0);
	char err[256] = "";
	assert_null(vdr_socket_new(c, MAX_MSG, 0, err, sizeof(err)));
	char want[128];
	snprintf(want, sizeof(want), "listen tcp 127.0.0.1:%u: bind: Address "
		 "already in use", port);
	assert_string_equal(err, want);
	/* a listener left to another driver is not opened */
	set(c, "listen u", "protocol", "udp");
	set(c, "listen u", "address", "127.0.0.1:%u", free_port(SOCK_DGRAM));
	vdr_free(d);
	d = new_drv(c, VDR_SOCK_NO_UDP_LISTEN);
	vdr_free(d);
	/* TLS files that are not there */
	struct vdr_net_cfg *t = cfg_listen("tls", free_port(SOCK_STREAM), NULL);
	set(t, "listen in", "tls_cert", "%s", path_of("srv.pem"));
	set(t, "listen in", "tls_key", "%s", path_of("nothing.key"));
	assert_null(vdr_socket_new(t, MAX_MSG, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "tls_key"));
	vdr_net_cfg_free(t);
	vdr_net_cfg_free(c);
}

/* ---- TLS in ---- */

struct tls_client {
	unsigned port;
	bool cert;
	const char *data;
	int handshake; /* 1 ok */
};

static SSL_CTX *client_ctx(bool cert)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, path_of("ca.pem"), NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path_of("cli.pem")), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path_of("cli.key"),
							     SSL_FILETYPE_PEM), 1);
	}
	return ctx;
}

static void *tls_client_main(void *arg)
{
	struct tls_client *t = arg;
	SSL_CTX *ctx = client_ctx(t->cert);
	int fd = tcp_connect(t->port);
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	static char host[] = "localhost"; /* the macro casts it to void * */
	SSL_set1_host(s, host);
	SSL_set_tlsext_host_name(s, host);
	t->handshake = SSL_connect(s);
	if (t->handshake == 1) {
		SSL_write(s, t->data, (int)strlen(t->data));
		SSL_shutdown(s);
		char b[64];
		while (SSL_read(s, b, sizeof(b)) > 0)
			;
	}
	SSL_free(s);
	close(fd);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static void tls_in(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_listen("tls", port, NULL);
	set(c, "listen in", "tls_cert", "%s", path_of("srv.pem"));
	set(c, "listen in", "tls_key", "%s", path_of("srv.key"));
	set(c, "listen in", "tls_client_ca", "%s", path_of("ca.pem"));
	char err[256];
	assert_int_equal(vdr_net_cfg_check(c, err, sizeof(err)), -1); /* no upstream */
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	struct got g = { 0 };

	/* with a client certificate */
	struct tls_client t = { port, true, "12 <14>secure 1<14>secure 2\n", 0 };
	pthread_t th;
	pthread_create(&th, NULL, tls_client_main, &t);
	pump(d, &g, 2, 5.0);
	pthread_join(th, NULL);
	assert_int_equal(t.handshake, 1);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.m[0], "5:<14>secure 1");
	assert_string_equal(g.m[1], "5:<14>secure 2");
	assert_int_equal(xstat(d, "tls_handshakes"), 1);
	pump_for(d, &g, 0.1);
	assert_int_equal(xstat(d, "tls_failed"), 0);

	/* without one: refused, nothing delivered */
	t = (struct tls_client){ port, false, "<14>sneaky\n", 0 };
	pthread_create(&th, NULL, tls_client_main, &t);
	pump_for(d, &g, 1.0);
	pthread_join(th, NULL);
	pump_for(d, &g, 0.2);
	assert_int_equal(g.n, 2);
	assert_int_equal(xstat(d, "tls_failed"), 1);
	assert_int_equal(xstat(d, "tls_handshakes"), 1);

	/* plain text to a TLS port */
	int a = tcp_connect(port);
	sendf(a, "<14>this is not TLS at all\n");
	assert_true(closed_by_peer(d, &g, a, 3.0));
	close(a);
	assert_int_equal(xstat(d, "tls_failed"), 2);
	assert_int_equal(g.n, 2);

	/* connected, and never a handshake: closed at the deadline (10 s) */
	int s = tcp_connect(port);
	sendf(s, "%c", 0x16); /* the first byte of a handshake record, only */
	double t0 = now_s();
	assert_true(closed_by_peer(d, &g, s, 15.0));
	assert_true(now_s() - t0 >= 8.0);
	assert_int_equal(xstat(d, "tls_handshake_timeouts"), 1);
	close(s);
	assert_int_equal(xstat(d, "tcp_open"), 0);
	got_free(&g);
	vdr_free(d);
}

/* ---- upstreams ---- */

/* A burst whose forwarded lines are the given texts (every third line
 * dropped when @p with_drops: the driver must skip them). */
struct mkburst {
	struct vdp_burst b;
	struct vdp_seg seg[VDP_BURST_MAX];
	char text[VDP_BURST_MAX][64];
};

static unsigned burst_of(struct mkburst *m, int first, unsigned n,
			 bool with_drops)
{
	unsigned fwd = 0;
	m->b.n = n;
	m->b.segs = m->seg;
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(m->text[i], sizeof(m->text[i]), "<14>up line %d",
				   first + (int)i);
		bool drop = with_drops && i % 3 == 2;
		m->seg[i] = (struct vdp_seg){ .p = m->text[i], .len = (uint32_t)len };
		m->b.line[i] = (struct vdp_out){ .verdict = drop ? VDP_DROP : VDP_FORWARD,
						 .n_segs = 1, .first_seg = i,
						 .len = (uint32_t)len };
		fwd += !drop;
	}
	return fwd;
}

static int listen_on(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* A TCP collector in this thread: accepts one connection at a time and
 * parses octet-counted frames into line numbers. */
struct collector {
	int lfd, fd;
	char buf[1 << 20];
	size_t len;
	int *seen;
	unsigned n, cap;
};

static void coll_poll(struct collector *k)
{
	if (k->fd < 0 && k->lfd >= 0) {
		k->fd = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK);
		k->len = 0;
	}
	if (k->fd < 0)
		return;
	for (;;) {
		ssize_t r = recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len, 0);
		if (r <= 0)
			break;
		k->len += (size_t)r;
	}
	size_t off = 0;
	for (;;) {
		char *sp = memchr(k->buf + off, ' ', k->len - off);
		if (sp == NULL)
			break;
		unsigned long fl = strtoul(k->buf + off, NULL, 10);
		size_t start = (size_t)(sp - k->buf) + 1;
		if (start + fl > k->len)
			break;
		int num;
		char line[128];
		assert_true(fl < sizeof(line));
		memcpy(line, k->buf + start, fl);
		line[fl] = '\0';
		assert_int_equal(sscanf(line, "<14>up line %d", &num), 1);
		if (k->n == k->cap) {
			k->cap = k->cap ? 2 * k->cap : 1024;
			k->seen = realloc(k->seen, k->cap * sizeof(int));
		}
		k->seen[k->n++] = num;
		off = start + fl;
	}
	memmove(k->buf, k->buf + off, k->len - off);
	k->len -= off;
}

static void coll_close(struct collector *k, bool listener_too)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	if (listener_too && k->lfd >= 0) {
		close(k->lfd);
		k->lfd = -1;
	}
}

static void serve(struct vdr_driver *d, struct collector *k, unsigned want,
		  double secs)
{
	double end = now_s() + secs;
	while (now_s() < end && (k == NULL || k->n < want)) {
		pump_for(d, NULL, 0.002);
		if (k != NULL)
			coll_poll(k);
	}
}

/* Every line 0..n-1 in order; a line may come twice only as part of a
 * re-sent run (after a reconnect), never out of order as a first. */
static unsigned check_seq(const int *seen, unsigned n, int lines)
{
	int next = 0;
	unsigned dups = 0;
	for (unsigned i = 0; i < n; i++) {
		if (seen[i] == next) {
			next++;
			continue;
		}
		assert_true(seen[i] < next); /* never a gap */
		dups++;
	}
	assert_int_equal(next, lines);
	return dups;
}

/* Every line offered to the one upstream is in exactly one place. */
static void check_accounting(struct vdr_driver *d, uint64_t offered)
{
	assert_int_equal(xstat(d, "upstream_sent") + xstat(d, "upstream_queued") +
			 xstat(d, "upstream_dropped") + xstat(d, "upstream_lost"),
			 offered);
}

static struct vdr_net_cfg *cfg_up(const char *proto, unsigned port)
{
	struct vdr_net_cfg *c = cfg_listen("udp", free_port(SOCK_DGRAM), NULL);
	set(c, "upstream out", "protocol", "%s", proto);
	set(c, "upstream out", "address", "127.0.0.1:%u", port);
	set(c, "network", "reconnect_min", "0.05");
	set(c, "network", "reconnect_max", "0.2");
	char err[256] = "";
	if (vdr_net_cfg_check(c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return c;
}

static void upstream_tcp(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	static struct collector k;
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	k.lfd = listen_on(port);
	struct vdr_net_cfg *c = cfg_up("tcp", port);
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	static struct mkburst m;
	int line = 0;
	/* 1. 3000 lines, collector up */
	for (int r = 0; r < 12; r++) {
		unsigned n = burst_of(&m, line, 250, false);
		assert_int_equal(vdr_tx(d, &m.b), (int)n);
		line += 250;
		serve(d, &k, 0, 0.002);
	}
	serve(d, &k, (unsigned)line, 5.0);
	assert_int_equal(check_seq(k.seen, k.n, line), 0);
	serve(d, NULL, 0, 0.1); /* the acknowledgements come back */
	assert_int_equal(xstat(d, "upstream_sent"), (uint64_t)line);
	assert_int_equal(xstat(d, "upstream_queued"), 0);
	/* 2. the collector goes away; lines wait; it comes back */
	coll_close(&k, true);
	serve(d, NULL, 0, 0.3);
	assert_true(xstat(d, "upstream_disconnects") >= 1);
	for (int r = 0; r < 4; r++) {
		unsigned n = burst_of(&m, line, 250, false);
		assert_int_equal(vdr_tx(d, &m.b), (int)n);
		line += 250;
		serve(d, NULL, 0, 0.05);
	}
	assert_int_equal(xstat(d, "upstream_queued"), 1000);
	assert_true(xstat(d, "upstream_reconnect_failures") >= 1);
	check_accounting(d, (uint64_t)line);
	k.lfd = listen_on(port);
	serve(d, &k, (unsigned)line, 5.0);
	check_seq(k.seen, k.n, line);
	/* 3. a connection broken while lines flow: nothing lost */
	for (int r = 0; r < 8; r++) {
		unsigned n = burst_of(&m, line, 250, true);
		/* renumber: only forwarded lines count */
		unsigned j = 0;
		for (unsigned i = 0; i < 250; i++)
			if (m.b.line[i].verdict == VDP_FORWARD) {
				int len = snprintf(m.text[i], sizeof(m.text[i]),
						   "<14>up line %d", line + (int)j++);
				m.seg[i].len = m.b.line[i].len = (uint32_t)len;
			}
		assert_int_equal(vdr_tx(d, &m.b), (int)n);
		line += (int)n;
		if (r == 3) {
			coll_poll(&k);
			coll_close(&k, false); /* the listener stays */
		}
		serve(d, &k, 0, 0.01);
	}
	serve(d, &k, (unsigned)line, 5.0);
	unsigned dups = check_seq(k.seen, k.n, line);
	assert_true(dups <= xstat(d, "upstream_resent"));
	assert_int_equal(xstat(d, "upstream_dropped"), 0);
	assert_int_equal(vdr_flush(d), 0);
	assert_int_equal(xstat(d, "upstream_lost"), 0);
	assert_int_equal(xstat(d, "upstream_queued"), 0);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.tx_msgs, (uint64_t)line);
	assert_int_equal(st.tx_lost, 0);
	check_accounting(d, (uint64_t)line);
	assert_true(st.tx_bytes > 0);
	printf("# upstream tcp: %d lines, %u sent again after a break, %llu "
	       "connects\n", line, dups,
	       (unsigned long long)xstat(d, "upstream_connects"));
	coll_close(&k, true);
	free(k.seen);
	vdr_free(d);
}

/* A collector that reads nothing and takes @p rcvbuf bytes: the listener
 * (its accepted connections inherit the receive buffer). */
static int listen_small(unsigned port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Bytes a collector like listen_small()'s takes before its window closes. */
static int window_of(int rcvbuf)
{
	unsigned port = free_port(SOCK_STREAM);
	int l = listen_small(port, rcvbuf), c = tcp_connect(port);
	int s = accept(l, NULL, NULL), q = 0;
	assert_true(s >= 0);
	fcntl(c, F_SETFL, O_NONBLOCK);
	static char junk[4096];
	while (send(c, junk, sizeof(junk), 0) > 0)
		;
	usleep(300000);
	assert_int_equal(ioctl(s, FIONREAD, &q), 0);
	close(c);
	close(s);
	close(l);
	return q;
}

/* A line leaves the queue only once its last byte is acknowledged: the
 * collector's TCP took all of it but its LF (its window closed there),
 * so it stays queued, and goes again whole on the next connection.
 * (tcpi_bytes_acked counts the SYN too.) */
static void upstream_ack_boundary(void **state)
{
	(void)state;
	int w = window_of(2048);
	assert_true(w > 0 && w < 60000);
	unsigned port = free_port(SOCK_STREAM);
	int lfd = listen_small(port, 2048);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	struct vdr_net_cfg *c = cfg_up("tcp", port);
	set(c, "upstream out", "framing", "lf");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	/* one line of w bytes: with its LF, one byte over the window */
	char *text = malloc((size_t)w);
	assert_non_null(text);
	memset(text, 'a', (size_t)w);
	memcpy(text, "<14>", 4);
	static struct mkburst m;
	m.b.n = 1;
	m.b.segs = m.seg;
	m.seg[0] = (struct vdp_seg){ .p = text, .len = (uint32_t)w };
	m.b.line[0] = (struct vdp_out){ .verdict = VDP_FORWARD, .n_segs = 1,
					.first_seg = 0, .len = (uint32_t)w };
	assert_int_equal(vdr_tx(d, &m.b), 1);
	int s = -1, q = 0;
	double end = now_s() + 5.0;
	while (now_s() < end && q < w) {
		serve(d, NULL, 0, 0.01);
		if (s < 0)
			s = accept(lfd, NULL, NULL);
		if (s >= 0)
			ioctl(s, FIONREAD, &q);
	}
	assert_int_equal(q, w); /* all but the LF is there */
	serve(d, NULL, 0, 0.3);
	assert_int_equal(xstat(d, "upstream_sent"), 0);
	assert_int_equal(xstat(d, "upstream_queued"), 1);
	/* the collector breaks (unread data: a reset); the next one gets
	 * the line whole */
	struct linger lg = { 1, 0 };
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
	serve(d, NULL, 0, 0.3);
	s = -1;
	char *got = malloc((size_t)w + 16);
	assert_non_null(got);
	size_t n = 0;
	end = now_s() + 5.0;
	while (now_s() < end && n < (size_t)w + 1) {
		serve(d, NULL, 0, 0.01);
		if (s < 0) {
			s = accept(lfd, NULL, NULL);
			if (s >= 0)
				fcntl(s, F_SETFL, O_NONBLOCK);
			continue;
		}
		ssize_t r = recv(s, got + n, (size_t)w + 16 - n, 0);
		if (r > 0)
			n += (size_t)r;
	}
	assert_int_equal(n, (size_t)w + 1);
	assert_memory_equal(got, text, (size_t)w);
	assert_int_equal(got[w], '\n');
	serve(d, NULL, 0, 0.2);
	assert_int_equal(xstat(d, "upstream_sent"), 1);
	assert_int_equal(xstat(d, "upstream_queued"), 0);
	close(s);
	close(lfd);
	free(got);
	free(text);
	vdr_free(d);
}

/* on_queue_full = block (a TCP upstream's default): over queue_bytes
 * nothing is dropped; the lines on their way are queued, and the next rx
 * does not read TCP senders (counted as rx_paused_upstream). */
static void upstream_block(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_up("tcp", port);
	set(c, "network", "queue_bytes", "1000");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	static struct mkburst m;
	unsigned n = burst_of(&m, 0, 100, false);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	assert_int_equal(xstat(d, "upstream_queued"), 100);
	assert_int_equal(xstat(d, "upstream_dropped"), 0);
	struct vdp_line lines[8];
	(void)vdr_rx(d, lines, 8);
	assert_true(xstat(d, "rx_paused_upstream") > 0);
	vdr_free(d);
}

/* A small queue that drops: what does not fit is dropped and counted; what
 * fits arrives once the collector is there. vdr_flush() counts what is
 * left. */
static void upstream_small_queue(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_up("tcp", port);
	set(c, "upstream out", "on_queue_full", "drop");
	set(c, "network", "queue_bytes", "1000");
	set(c, "network", "drain_timeout", "0.3");
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	static struct mkburst m;
	unsigned n = burst_of(&m, 0, 100, false);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	uint64_t q = xstat(d, "upstream_queued"), dr = xstat(d, "upstream_dropped");
	assert_true(q > 0 && dr > 0);
	assert_int_equal(q + dr, 100);
	assert_true(xstat(d, "upstream_queue_bytes") <= 1000);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.tx_lost, dr);
	static struct collector k;
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	k.lfd = listen_on(port);
	serve(d, &k, (unsigned)q, 5.0);
	assert_int_equal(check_seq(k.seen, k.n, (int)q), 0);
	/* the collector gone: flush waits drain_timeout, then counts */
	coll_close(&k, true);
	serve(d, NULL, 0, 0.2);
	n = burst_of(&m, 0, 5, false);
	vdr_tx(d, &m.b);
	double t0 = now_s();
	assert_int_equal(vdr_flush(d), 0);
	assert_true(now_s() - t0 >= 0.25);
	assert_int_equal(xstat(d, "upstream_lost"), 5);
	assert_int_equal(xstat(d, "upstream_queued"), 0);
	vdr_stats(d, &st);
	assert_int_equal(st.tx_lost, dr + 5);
	check_accounting(d, 105);
	assert_non_null(strstr(vdr_error(d), "drain_timeout"));
	free(k.seen);
	vdr_free(d);
}

/* An upstream by name: resolved (getaddrinfo_a) at each connect, every
 * address tried in turn (localhost may be ::1 first; the collector is on
 * 127.0.0.1 only). */
static void upstream_by_name(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	struct vdr_net_cfg *c = cfg_up("tcp", port);
	set(c, "upstream out", "address", "localhost:%u", port);
	struct vdr_driver *d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	static struct collector k;
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	k.lfd = listen_on(port);
	static struct mkburst m;
	unsigned n = burst_of(&m, 0, 50, false);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	serve(d, &k, n, 5.0);
	assert_int_equal(check_seq(k.seen, k.n, (int)n), 0);
	assert_int_equal(xstat(d, "upstream_connects"), 1);
	/* a name that does not resolve: failures counted, lines held */
	coll_close(&k, true);
	free(k.seen);
	vdr_free(d);
	c = cfg_up("tcp", port);
	set(c, "upstream out", "address", "no-such-host.invalid:%u", port);
	d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	/* (a resolver without a network may take its time to say no) */
	for (double end = now_s() + 15; now_s() < end &&
	     xstat(d, "upstream_reconnect_failures") == 0;)
		serve(d, NULL, 0, 0.05);
	assert_true(xstat(d, "upstream_reconnect_failures") >= 1);
	assert_int_equal(xstat(d, "upstream_queued"), n);
	assert_non_null(strstr(vdr_error(d), "resolve"));
	vdr_free(d);
}

/* A TLS collector in a thread: verifies nothing of the client, reads
 * everything into a buffer until the connection ends. */
struct tls_coll {
	int lfd;
	char buf[1 << 16];
	size_t len;
	int accepted;
};

static void *tls_coll_main(void *arg)
{
	struct tls_coll *t = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate_chain_file(ctx, path_of("srv.pem"));
	SSL_CTX_use_PrivateKey_file(ctx, path_of("srv.key"), SSL_FILETYPE_PEM);
	struct pollfd p = { .fd = t->lfd, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		goto out;
	int fd = accept(t->lfd, NULL, NULL);
	int fl = 0;
	(void)fl;
	struct timeval tv = { 3, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_accept(s) == 1) {
		t->accepted = 1;
		int r;
		while ((r = SSL_read(s, t->buf + t->len,
				     (int)(sizeof(t->buf) - t->len))) > 0)
			t->len += (size_t)r;
	}
	SSL_free(s);
	close(fd);
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static void upstream_tls(void **state)
{
	(void)state;
	unsigned port = free_port(SOCK_STREAM);
	/* a name the certificate does not have: refused, retried */
	struct vdr_net_cfg *c = cfg_up("tls", port);
	set(c, "upstream out", "tls_ca", "%s", path_of("ca.pem"));
	set(c, "upstream out", "tls_server_name", "collector.example");
	set(c, "upstream out", "framing", "lf");
	struct vdr_driver *d = new_drv(c, 0);
	static struct tls_coll t;
	memset(&t, 0, sizeof(t));
	int lfd = listen_on(port);
	fcntl(lfd, F_SETFL, 0);
	t.lfd = lfd;
	pthread_t th;
	pthread_create(&th, NULL, tls_coll_main, &t);
	static struct mkburst m;
	unsigned n = burst_of(&m, 0, 10, false);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	serve(d, NULL, 0, 1.0);
	pthread_join(th, NULL);
	assert_int_equal(t.len, 0);
	assert_int_equal(xstat(d, "upstream_connects"), 0);
	assert_true(xstat(d, "upstream_reconnect_failures") >= 1);
	assert_non_null(strstr(vdr_error(d), "certificate verification failed"));
	vdr_free(d);

	close(lfd);

	/* the right name (the certificate's IP address): lines arrive, LF
	 * (a new port: the old one's backlog holds the retries) */
	port = free_port(SOCK_STREAM);
	set(c, "upstream out", "address", "127.0.0.1:%u", port);
	set(c, "upstream out", "tls_server_name", "127.0.0.1");
	lfd = listen_on(port);
	fcntl(lfd, F_SETFL, 0);
	d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	memset(&t, 0, sizeof(t));
	t.lfd = lfd;
	pthread_create(&th, NULL, tls_coll_main, &t);
	n = burst_of(&m, 0, 20, true);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	serve(d, NULL, 0, 0.5);
	assert_int_equal(vdr_flush(d), 0);
	assert_int_equal(xstat(d, "upstream_connects"), 1);
	assert_int_equal(xstat(d, "upstream_sent"), n);
	vdr_free(d); /* close_notify: the collector's read ends */
	pthread_join(th, NULL);
	assert_int_equal(t.accepted, 1);
	char want[4096];
	size_t wl = 0;
	for (unsigned i = 0; i < 20; i++)
		if (m.b.line[i].verdict == VDP_FORWARD)
			wl += (size_t)sprintf(want + wl, "%s\n", m.text[i]);
	assert_int_equal(t.len, wl);
	assert_memory_equal(t.buf, want, wl);
	close(lfd);
}

static void upstream_udp(void **state)
{
	(void)state;
	int r = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(r, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	getsockname(r, (struct sockaddr *)&a, &al);
	struct vdr_net_cfg *c = cfg_up("udp", ntohs(a.sin_port));
	/* skipped when another driver sends UDP: nothing arrives */
	struct vdr_driver *d = new_drv(c, VDR_SOCK_NO_UDP_UPSTREAM);
	static struct mkburst m;
	unsigned n = burst_of(&m, 0, 30, true);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	serve(d, NULL, 0, 0.1);
	char b[256];
	assert_true(recv(r, b, sizeof(b), MSG_DONTWAIT) < 0);
	vdr_free(d);
	d = new_drv(c, 0);
	vdr_net_cfg_free(c);
	assert_int_equal(vdr_tx(d, &m.b), (int)n);
	serve(d, NULL, 0, 0.1);
	for (unsigned i = 0; i < 30; i++) {
		if (m.b.line[i].verdict != VDP_FORWARD)
			continue;
		ssize_t k = recv(r, b, sizeof(b), MSG_DONTWAIT);
		assert_int_equal(k, (ssize_t)strlen(m.text[i]));
		assert_memory_equal(b, m.text[i], (size_t)k);
	}
	assert_true(recv(r, b, sizeof(b), MSG_DONTWAIT) < 0);
	assert_int_equal(xstat(d, "upstream_sent"), n);
	/* an empty forwarded line: taken, counted, nothing sent */
	n = burst_of(&m, 0, 1, false);
	m.seg[0].len = m.b.line[0].len = 0;
	assert_int_equal(vdr_tx(d, &m.b), 1);
	serve(d, NULL, 0, 0.05);
	assert_true(recv(r, b, sizeof(b), MSG_DONTWAIT) < 0);
	assert_int_equal(xstat(d, "tx_empty"), 1);
	close(r);
	vdr_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_sources),
		cmocka_unit_test(udp_kernel_drops),
		cmocka_unit_test(tcp_order),
		cmocka_unit_test(tcp_bad_input),
		cmocka_unit_test(tcp_idle_and_max),
		cmocka_unit_test(rx_return),
		cmocka_unit_test(many_connections),
		cmocka_unit_test(bind_error),
		cmocka_unit_test(tls_in),
		cmocka_unit_test(upstream_tcp),
		cmocka_unit_test(upstream_ack_boundary),
		cmocka_unit_test(upstream_block),
		cmocka_unit_test(upstream_small_queue),
		cmocka_unit_test(upstream_by_name),
		cmocka_unit_test(upstream_tls),
		cmocka_unit_test(upstream_udp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
