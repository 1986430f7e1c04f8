/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* A load generator for veil-controld's admin API (benchmarks only): N
 * connections, each sending one request and waiting for its answer before
 * the next, for S seconds, from one thread that polls them all, so that
 * the daemon, not the caller, is what is measured (a Python caller with
 * 32 threads spends more CPU than the daemon it calls).
 *
 * usage: bench_calls SOCKET CONNECTIONS SECONDS REQUEST_JSON
 * prints one JSON object: requests answered, errors, seconds, per second,
 * and the answers' latency percentiles in ms. Exit 1 on a connection that
 * fails or an answer that is not {"ok":true,...}. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	uint8_t hdr[4];
	size_t hdr_got, need, got;
	char *body;
	size_t cap;
	double sent;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The whole request: short enough for one write on a local socket. */
static int send_req(struct conn *c, const uint8_t *frame, size_t len)
{
	c->hdr_got = c->got = c->need = 0;
	c->sent = now_s();
	return write(c->fd, frame, len) == (ssize_t)len ? 0 : -1;
}

/* @return 1 when the answer is whole, 0 for more, -1 on an error. */
static int read_answer(struct conn *c)
{
	if (c->hdr_got < 4) {
		ssize_t r = read(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got);
		if (r <= 0)
			return r < 0 && errno == EAGAIN ? 0 : -1;
		c->hdr_got += (size_t)r;
		if (c->hdr_got < 4)
			return 0;
		c->need = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
			  (size_t)c->hdr[2] << 8 | c->hdr[3];
		if (c->need + 1 > c->cap) {
			char *b = realloc(c->body, c->need + 1);
			if (b == NULL)
				return -1;
			c->body = b;
			c->cap = c->need + 1;
		}
	}
	while (c->got < c->need) {
		ssize_t r = read(c->fd, c->body + c->got, c->need - c->got);
		if (r <= 0)
			return r < 0 && errno == EAGAIN ? 0 : -1;
		c->got += (size_t)r;
	}
	c->body[c->need] = '\0';
	return 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_calls SOCKET CONNECTIONS SECONDS REQUEST_JSON\n");
		return 2;
	}
	int n = atoi(argv[2]);
	double secs = atof(argv[3]);
	size_t blen = strlen(argv[4]);
	if (n < 1 || n > 1024 || secs <= 0) {
		fprintf(stderr, "bench_calls: 1 to 1024 connections, seconds > 0\n");
		return 2;
	}
	uint8_t *frame = malloc(blen + 4);
	struct conn *cs = calloc((size_t)n, sizeof(*cs));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	size_t lat_cap = 1 << 20, n_lat = 0;
	double *lat = malloc(lat_cap * sizeof(*lat));
	if (frame == NULL || cs == NULL || pf == NULL || lat == NULL)
		return 1;
	frame[0] = (uint8_t)(blen >> 24);
	frame[1] = (uint8_t)(blen >> 16);
	frame[2] = (uint8_t)(blen >> 8);
	frame[3] = (uint8_t)blen;
	memcpy(frame + 4, argv[4], blen);

	for (int i = 0; i < n; i++) {
		if ((cs[i].fd = dial(argv[1])) < 0) {
			fprintf(stderr, "bench_calls: connect %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		pf[i] = (struct pollfd){ .fd = cs[i].fd, .events = POLLIN };
	}
	unsigned long answered = 0, errors = 0;
	char first_error[256] = "";
	double t0 = now_s(), end = t0 + secs;
	for (int i = 0; i < n; i++)
		if (send_req(&cs[i], frame, blen + 4) != 0)
			return 1;
	int open = n;
	while (open > 0) {
		if (poll(pf, (nfds_t)n, 1000) < 0 && errno != EINTR)
			return 1;
		double t = now_s();
		for (int i = 0; i < n; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int r = read_answer(&cs[i]);
			if (r == 0)
				continue;
			bool ok = r > 0 && (strstr(cs[i].body, "\"ok\": true") != NULL ||
					    strstr(cs[i].body, "\"ok\":true") != NULL);
			if (!ok && errors++ == 0)
				snprintf(first_error, sizeof(first_error), "%s",
					 r < 0 ? "connection closed" : cs[i].body);
			if (r > 0) {
				answered++;
				if (n_lat == lat_cap) {
					double *l = realloc(lat, 2 * lat_cap * sizeof(*lat));
					if (l == NULL)
						return 1;
					lat = l;
					lat_cap *= 2;
				}
				lat[n_lat++] = t - cs[i].sent;
			}
			if (r < 0 || t >= end || send_req(&cs[i], frame, blen + 4) != 0) {
				close(cs[i].fd);
				pf[i].fd = -1;
				open--;
			}
		}
	}
	double took = now_s() - t0;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	double p50 = n_lat ? lat[n_lat / 2] * 1e3 : 0;
	double p99 = n_lat ? lat[(size_t)((double)n_lat * 0.99)] * 1e3 : 0;
	printf("{\"connections\": %d, \"answered\": %lu, \"errors\": %lu, \"seconds\": %.3f, "
	       "\"per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
	       n, answered, errors, took, (double)answered / took, p50, p99);
	if (errors)
		fprintf(stderr, "bench_calls: %lu errors, the first: %s\n", errors, first_error);
	return errors ? 1 : 0;
}
