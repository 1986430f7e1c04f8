/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The drivers (drivers/veil_driver.h): the file and mem drivers' framing,
 * sources, order, in-place delivery, backpressure (vdr_rx_return), long
 * and oversize lines, unterminated last lines, NUL bytes, pipes, input
 * errors, and the writer (segments, long lines, write errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dpd_pvt.h"
#include "drv_pvt.h"
#include "veil_driver.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/veil-drv.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name)
{
	static char p[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
	return p[k];
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Every line of a driver, until EOF, as "SRC:DATA\n" text. */
static char *drain(struct vdr_driver *d, unsigned max, unsigned *count)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	struct vdp_line l[VDP_BURST_MAX];
	int n;
	*count = 0;
	while ((n = vdr_rx(d, l, max)) != VDR_EOF) {
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			size_t need = l[i].len + 16;
			while (len + need > cap)
				out = realloc(out, cap *= 2);
			len += (size_t)sprintf(out + len, "%u:", l[i].src);
			memcpy(out + len, l[i].data, l[i].len);
			len += l[i].len;
			out[len++] = '\n';
		}
		*count += (unsigned)n;
	}
	out = realloc(out, len + 1);
	out[len] = '\0';
	return out;
}

static void mem_framing(void **state)
{
	(void)state;
	static const char buf[] = "alpha\nbravo\r\n\n\r\ncharlie";
	struct vdr_driver *d = vdr_mem_new(1024, false);
	assert_non_null(d);
	assert_string_equal(vdr_name(d), "mem");
	assert_int_equal(vdr_mem_add(d, buf, strlen(buf), 3), 0);
	unsigned n;
	char *got = drain(d, VDP_BURST_MAX, &n);
	assert_string_equal(got, "3:alpha\n3:bravo\n3:charlie\n");
	assert_int_equal(vdr_mem_add(d, buf, 1, 0), -1); /* reading began */
	assert_int_equal(errno, EBUSY);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_msgs, 3);
	assert_int_equal(st.rx_bytes, strlen(buf));
	assert_int_equal(st.rx_unterminated, 1);
	assert_int_equal(st.rx_inputs_done, 1);
	assert_int_equal(st.rx_oversize, 0);
	free(got);
	vdr_free(d);
}

/* A burst given back comes again, unchanged and in order. */
static void mem_return(void **state)
{
	(void)state;
	char *buf = malloc(600 * 16);
	size_t len = 0;
	for (int i = 0; i < 600; i++)
		len += (size_t)sprintf(buf + len, "line %d\n", i);
	struct vdr_driver *d = vdr_mem_new(1024, false);
	assert_int_equal(vdr_mem_add(d, buf, len, 7), 0);
	struct vdp_line l[VDP_BURST_MAX];
	int next = 0;
	for (int round = 0; next < 600; round++) {
		int n = vdr_rx(d, l, VDP_BURST_MAX);
		assert_true(n > 0);
		/* take a few, give back the rest (none back every third time) */
		int take = round % 3 == 2 ? n : (n > 5 ? 5 : n);
		for (int i = 0; i < take; i++) {
			char want[32];
			int wl = sprintf(want, "line %d", next++);
			assert_int_equal(l[i].len, wl);
			assert_memory_equal(l[i].data, want, (size_t)wl);
			assert_int_equal(l[i].src, 7);
		}
		vdr_rx_return(d, (unsigned)(n - take));
	}
	assert_int_equal(vdr_rx(d, l, VDP_BURST_MAX), VDR_EOF);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_msgs, 600);
	vdr_free(d);
	free(buf);
}

/* Lines are delivered in place; a line longer than a block is assembled
 * (and correct); one over the maximum is dropped whole and counted. */
static void mem_long_lines(void **state)
{
	(void)state;
	size_t big = 300 * 1024, huge = 3 * 1024 * 1024;
	char *buf = malloc(big + huge + 64);
	size_t len = (size_t)sprintf(buf, "first\n");
	memset(buf + len, 'b', big);
	len += big;
	buf[len++] = '\n';
	memset(buf + len, 'h', huge);
	len += huge;
	len += (size_t)sprintf(buf + len, "\nlast\n");

	struct vdr_driver *d = vdr_mem_new(1 << 20, false);
	assert_int_equal(vdr_mem_add(d, buf, len, 1), 0);
	struct vdp_line l[VDP_BURST_MAX];
	unsigned seen = 0;
	int n;
	while ((n = vdr_rx(d, l, VDP_BURST_MAX)) != VDR_EOF)
		for (int i = 0; i < n; i++, seen++) {
			if (seen == 0 || seen == 2) {
				/* short lines point into the caller's buffer */
				assert_true(l[i].data >= buf && l[i].data < buf + len);
				assert_int_equal(l[i].len, seen ? 4 : 5);
			} else {
				assert_int_equal(l[i].len, big);
				for (size_t k = 0; k < big; k++)
					if (l[i].data[k] != 'b')
						fail_msg("byte %zu of the long line", k);
			}
		}
	assert_int_equal(seen, 3);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_oversize, 1);
	vdr_free(d);
	free(buf);
}

static void mem_loops_and_collect(void **state)
{
	(void)state;
	static const char a[] = "x1\nx2\n", b[] = "y1\n";
	struct vdr_driver *d = vdr_mem_new(256, true);
	assert_int_equal(vdr_mem_add(d, a, strlen(a), 0), 0);
	assert_int_equal(vdr_mem_add(d, b, strlen(b), 1), 0);
	vdr_mem_set_loops(d, 3);
	unsigned n;
	char *got = drain(d, 2, &n);
	assert_string_equal(got, "0:x1\n0:x2\n1:y1\n0:x1\n0:x2\n1:y1\n0:x1\n0:x2\n1:y1\n");
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_size, 3 * (strlen(a) + strlen(b)));
	free(got);

	/* tx: forwarded lines built from segments, dropped ones skipped */
	struct vdp_seg segs[] = {
		{ .p = "user=", .len = 5 }, { .p = "veil_u1_tok", .len = 11, .token = true },
		{ .p = "plain", .len = 5 },
	};
	struct vdp_burst bu = { .n = 3, .segs = segs };
	bu.line[0] = (struct vdp_out){ VDP_FORWARD, 0, 2, 0, 16 };
	bu.line[1] = (struct vdp_out){ VDP_DROP, 1, 0, 0, 0 };
	bu.line[2] = (struct vdp_out){ VDP_FORWARD, 0, 1, 2, 5 };
	assert_int_equal(vdr_tx(d, &bu), 2);
	assert_int_equal(vdr_flush(d), 0);
	size_t olen;
	const char *out = vdr_mem_output(d, &olen);
	assert_int_equal(olen, 23);
	assert_memory_equal(out, "user=veil_u1_tok\nplain\n", 23);
	vdr_stats(d, &st);
	assert_int_equal(st.tx_msgs, 2);
	assert_int_equal(st.tx_bytes, 23);
	vdr_free(d);
}

/* Several files, each its source, in order; NUL bytes are data; the last
 * line of a file without a line end is taken and counted. */
static void file_inputs(void **state)
{
	(void)state;
	static const char f1[] = "one\ntw\0o\nthree\n";
	static const char f2[] = "four\r\nfive";
	write_file(path_of("f1"), f1, sizeof(f1) - 1);
	write_file(path_of("f2"), f2, sizeof(f2) - 1);
	struct vdr_file_input in[] = { { path_of("f1"), 4 }, { path_of("f2"), 9 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 2, path_of("out"), 1024, err, sizeof(err));
	assert_non_null(d);
	assert_string_equal(vdr_name(d), "file");
	unsigned n;
	char *got = drain(d, VDP_BURST_MAX, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(got, "4:one\n4:tw\0o\n4:three\n9:four\n9:five\n", 35);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_bytes, sizeof(f1) - 1 + sizeof(f2) - 1);
	assert_int_equal(st.rx_size, st.rx_bytes);
	assert_int_equal(st.rx_inputs_done, 2);
	assert_int_equal(st.rx_unterminated, 1);
	assert_int_equal(st.rx_errors, 0);
	free(got);
	vdr_free(d);
}

/* Lines across the reader's block boundaries come out whole, in order. */
static void file_blocks(void **state)
{
	(void)state;
	size_t cap = 3u << 20, len = 0;
	char *buf = malloc(cap), *want = malloc(cap * 2);
	size_t wl = 0;
	unsigned lines = 0;
	srand(4711);
	while (len < cap - 5000) {
		int l = 1 + rand() % 3000;
		for (int k = 0; k < l; k++)
			buf[len + (size_t)k] = (char)('a' + (lines + (unsigned)k) % 26);
		wl += (size_t)sprintf(want + wl, "2:");
		memcpy(want + wl, buf + len, (size_t)l);
		wl += (size_t)l;
		want[wl++] = '\n';
		len += (size_t)l;
		buf[len++] = '\n';
		lines++;
	}
	want[wl] = '\0';
	write_file(path_of("blocks"), buf, len);
	struct vdr_file_input in[] = { { path_of("blocks"), 2 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 1, path_of("out"), 4096, err, sizeof(err));
	assert_non_null(d);
	unsigned n;
	char *got = drain(d, 100, &n);
	assert_int_equal(n, lines);
	assert_int_equal(strlen(got), wl);
	assert_memory_equal(got, want, wl);
	free(got);
	free(buf);
	free(want);
	vdr_free(d);
}

/* Keep mode (vdr_rx_keep): @p size bytes of lines of 1 to 3000 bytes read
 * to the end, each rx's lines remembered; with @p release each rx's mark
 * is released as soon as the next rx came (the blocks go round), else
 * nothing is. @return the lines whose mark was 0 (copy them). Every line
 * kept is checked to be intact at the end: no block was read into while
 * its lines were not released. */
static unsigned keep_run(size_t size, bool release)
{
	char *buf = malloc(size);
	assert_non_null(buf);
	size_t len = 0;
	unsigned lines = 0;
	srand(99);
	while (len < size - 3002) {
		int l = 1 + rand() % 3000;
		for (int k = 0; k < l; k++)
			buf[len + (size_t)k] = (char)('a' + (lines + (unsigned)k) % 26);
		len += (size_t)l;
		buf[len++] = '\n';
		lines++;
	}
	write_file(path_of("keep"), buf, len);
	struct vdr_file_input in[] = { { path_of("keep"), 1 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 1, path_of("out"), 4096, err, sizeof(err));
	assert_non_null(d);
	assert_true(vdr_rx_keep(d));
	struct vdp_line *got = calloc(lines + 1, sizeof(*got));
	uint64_t *mark = calloc(lines + 1, sizeof(*mark));
	assert_non_null(got);
	assert_non_null(mark);
	unsigned n = 0, unkept = 0;
	uint64_t last = 0;
	int k;
	while ((k = vdr_rx(d, got + n, lines + 1 - n < 100 ? lines + 1 - n : 100)) != VDR_EOF) {
		assert_true(k > 0);
		assert_true(n + (unsigned)k <= lines);
		uint64_t m = vdr_rx_kept(d);
		assert_true(m == 0 || m >= last); /* marks grow */
		if (m != 0) {
			if (release && last != 0)
				vdr_rx_release(d, last); /* the previous ones: done */
			last = m;
		}
		for (int i = 0; i < k; i++)
			mark[n + (unsigned)i] = m;
		if (m == 0) /* valid until the next rx only: check them now */
			for (int i = 0; i < k; i++, unkept++)
				assert_int_equal(got[n + (unsigned)i].data[0],
						 (char)('a' + (n + (unsigned)i) % 26));
		n += (unsigned)k;
	}
	assert_int_equal(n, lines);
	/* the lines kept and not released are still there, byte for byte */
	size_t off = 0;
	for (unsigned i = 0; i < lines; i++) {
		assert_int_equal(got[i].src, 1);
		if (mark[i] != 0 && (!release || mark[i] >= last))
			assert_memory_equal(got[i].data, buf + off, got[i].len);
		off += got[i].len + 1;
	}
	free(got);
	free(mark);
	free(buf);
	vdr_free(d);
	return unkept;
}

/* Keep mode: lines stay where they were read until released, blocks go
 * round once released; with none released past 64 blocks the reader reads
 * into its scratch block and says so (mark 0), never over kept lines. */
static void file_keep(void **state)
{
	(void)state;
	assert_int_equal(keep_run(6u << 20, false), 0);  /* 24 blocks, all kept */
	assert_int_equal(keep_run(24u << 20, true), 0);  /* 96 blocks, 3 or so in use */
	assert_true(keep_run(20u << 20, false) > 0);     /* past 64: copied */
}

/* A 10 MB line is dropped whole and counted; the lines around it stay. */
static void file_huge_line(void **state)
{
	(void)state;
	size_t huge = 10u << 20;
	char *buf = malloc(huge + 64);
	size_t len = (size_t)sprintf(buf, "before\n");
	memset(buf + len, 'z', huge);
	len += huge;
	len += (size_t)sprintf(buf + len, "\nafter\n");
	write_file(path_of("huge"), buf, len);
	struct vdr_file_input in[] = { { path_of("huge"), 0 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 1, path_of("out"), 65536, err, sizeof(err));
	assert_non_null(d);
	unsigned n;
	char *got = drain(d, VDP_BURST_MAX, &n);
	assert_string_equal(got, "0:before\n0:after\n");
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.rx_oversize, 1);
	assert_int_equal(st.rx_bytes, len);
	free(got);
	free(buf);
	vdr_free(d);
}

static void file_errors(void **state)
{
	(void)state;
	char err[256];
	struct vdr_file_input miss[] = { { path_of("no-such-file"), 0 } };
	assert_null(vdr_file_new(miss, 1, NULL, 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-file: No such file or directory"));

	struct vdr_file_input dir[] = { { tmpdir, 0 } };
	assert_null(vdr_file_new(dir, 1, NULL, 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "is a directory"));

	write_file(path_of("same"), "a\n", 2);
	struct vdr_file_input same[] = { { path_of("same"), 0 } };
	assert_null(vdr_file_new(same, 1, path_of("same"), 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "the output is also an input"));
	size_t l;
	free(read_file(path_of("same"), &l));
	assert_int_equal(l, 2); /* not truncated */

	struct vdr_file_input twice[] = { { "-", 0 }, { "-", 1 } };
	assert_null(vdr_file_new(twice, 2, NULL, 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "stdin"));

	assert_null(vdr_file_new(same, 1, "/nonexistent-dir/out", 1024, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/out"));
}

/* stdin from a pipe that delivers slowly: rx says "nothing now" (0) while
 * it waits, then every line, then EOF. */
static void file_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (int i = 0; i < 5; i++) {
			char b[32];
			int n = sprintf(b, "slow %d\n", i);
			if (write(p[1], b, (size_t)n) != n)
				_exit(1);
			usleep(150000);
		}
		_exit(0);
	}
	close(p[1]);
	int saved = dup(STDIN_FILENO);
	dup2(p[0], STDIN_FILENO);
	close(p[0]);
	struct vdr_file_input in[] = { { "-", 5 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 1, path_of("out"), 1024, err, sizeof(err));
	assert_non_null(d);
	struct vdp_line l[VDP_BURST_MAX];
	unsigned got = 0, empty = 0;
	int n;
	while ((n = vdr_rx(d, l, VDP_BURST_MAX)) != VDR_EOF) {
		assert_true(n >= 0);
		if (n == 0)
			empty++;
		for (int i = 0; i < n; i++, got++) {
			char want[32];
			int wl = sprintf(want, "slow %u", got);
			assert_int_equal(l[i].len, wl);
			assert_memory_equal(l[i].data, want, (size_t)wl);
			assert_int_equal(l[i].src, 5);
		}
	}
	assert_int_equal(got, 5);
	assert_true(empty > 0);
	vdr_free(d);
	dup2(saved, STDIN_FILENO);
	close(saved);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The writer: lines from segments, one longer than its buffer, and a
 * write error that is reported and sticks. */
static void file_writer(void **state)
{
	(void)state;
	write_file(path_of("in"), "x\n", 2);
	struct vdr_file_input in[] = { { path_of("in"), 0 } };
	char err[256];
	struct vdr_driver *d = vdr_file_new(in, 1, path_of("w.out"), 1024, err, sizeof(err));
	assert_non_null(d);
	size_t big = (3u << 20) / 2;
	char *blob = malloc(big);
	memset(blob, 'q', big);
	struct vdp_seg segs[] = {
		{ .p = "a=", .len = 2 }, { .p = "veil_u1_x", .len = 9, .token = true },
		{ .p = blob, .len = (uint32_t)big },
	};
	struct vdp_burst b = { .n = 3, .segs = segs };
	b.line[0] = (struct vdp_out){ VDP_FORWARD, 0, 2, 0, 11 };
	b.line[1] = (struct vdp_out){ VDP_FORWARD, 0, 1, 2, (uint32_t)big };
	b.line[2] = (struct vdp_out){ VDP_FORWARD, 0, 1, 0, 2 };
	assert_int_equal(vdr_tx(d, &b), 3);
	struct vdr_stats st;
	vdr_stats(d, &st);
	assert_int_equal(st.tx_msgs, 2); /* the first two; the third is buffered */
	assert_int_equal(st.tx_bytes, 12 + big + 1);
	assert_int_equal(vdr_flush(d), 0);
	vdr_stats(d, &st);
	assert_int_equal(st.tx_msgs, 3);
	assert_int_equal(st.tx_lost, 0);
	assert_int_equal(st.tx_bytes, 12 + big + 1 + 3);
	vdr_free(d);
	size_t len;
	char *out = read_file(path_of("w.out"), &len);
	assert_int_equal(len, 12 + big + 1 + 3);
	assert_memory_equal(out, "a=veil_u1_x\n", 12);
	assert_memory_equal(out + 12, blob, big);
	assert_memory_equal(out + 12 + big, "\na=\n", 4);
	free(out);

	/* /dev/full: the error comes at the flush, names the output, sticks */
	d = vdr_file_new(in, 1, "/dev/full", 1024, err, sizeof(err));
	assert_non_null(d);
	b.n = 1;
	assert_int_equal(vdr_tx(d, &b), 1); /* buffered */
	assert_int_equal(vdr_flush(d), VDR_ERR);
	assert_non_null(strstr(vdr_error(d), "/dev/full: write: No space left"));
	assert_int_equal(vdr_tx(d, &b), VDR_ERR);
	vdr_stats(d, &st);
	assert_int_equal(st.tx_errors, 1);
	assert_int_equal(st.tx_msgs, 0);  /* nothing reached the output */
	assert_int_equal(st.tx_lost, 2);  /* the buffered line, the refused one */
	assert_int_equal(st.tx_bytes, 0);
	vdr_free(d);
	free(blob);
}

/* ---- the worker's per-source hold queue (dataplane/process/dpd_worker.c) ---- */

/* A scripted driver: source 0 (A) and 2 (C) lose a (never used) key at
 * t0 + 0.5 s, so that B (source 1, never a key) reaches wait_keys (1 s)
 * first. A1 is held, then B1..B7 (the queue of 8 is full); at t0 + 1 s
 * B's lines go (dropped, no-key) from behind A1; at t0 + 1.15 s C1..C3
 * come, and must be held in the room B's lines gave back, not dropped. */
struct script_drv {
	struct vdr_driver base;
	struct vdd_shared *sh;
	struct vdd_keytab *kt[2];
	double t0;
	int step;
	char text[16][32];
	unsigned forwarded, dropped;
};

static int script_rx(struct vdr_driver *dv, struct vdp_line *l, unsigned max)
{
	struct script_drv *d = (struct script_drv *)dv;
	double t = veil_now() - d->t0;
	assert_true(max >= 8);
	unsigned n = 0;
	if (d->step == 0) { /* A and C lose their key at t0 + 0.5 */
		if (t < 0.5)
			return 0;
		atomic_store(&d->sh->keytab, d->kt[1]);
		d->step++;
		return 0;
	}
	if (d->step == 1) {
		if (t < 0.6)
			return 0;
		l[n++] = (struct vdp_line){ "<14>A1", 6, 0 };
	} else if (d->step == 2) {
		for (unsigned i = 0; i < 7; i++) {
			int len = snprintf(d->text[i], sizeof(d->text[i]), "<14>B%u", i + 1);
			l[n++] = (struct vdp_line){ d->text[i], (uint32_t)len, 1 };
		}
	} else if (d->step == 3) {
		if (t < 1.15)
			return 0;
		for (unsigned i = 0; i < 3; i++) {
			int len = snprintf(d->text[8 + i], sizeof(d->text[8 + i]),
					   "<14>C%u", i + 1);
			l[n++] = (struct vdp_line){ d->text[8 + i], (uint32_t)len, 2 };
		}
	} else {
		if (t >= 1.25)
			atomic_store(&d->sh->stop, true);
		return 0;
	}
	d->step++;
	return (int)n;
}

static void script_rx_return(struct vdr_driver *dv, unsigned n)
{
	(void)dv;
	assert_int_equal(n, 0); /* every line is taken, held or dropped */
}

static int script_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	struct script_drv *d = (struct script_drv *)dv;
	for (unsigned i = 0; i < b->n; i++)
		if (b->line[i].verdict == VDP_FORWARD)
			d->forwarded++;
		else
			d->dropped++;
	return (int)b->n;
}

static int script_flush(struct vdr_driver *dv)
{
	(void)dv;
	return 0;
}

static void script_stats(const struct vdr_driver *dv, struct vdr_stats *st)
{
	(void)dv;
	memset(st, 0, sizeof(*st));
}

static void script_free(struct vdr_driver *dv)
{
	(void)dv;
}

static const struct vdr_ops script_ops = {
	.name = "script", .rx = script_rx, .rx_return = script_rx_return,
	.tx = script_tx, .flush = script_flush, .stats = script_stats,
	.free = script_free,
};

static void hold_per_source_room(void **state)
{
	(void)state;
	struct veil_engine_opts eo = { 0 };
	struct veil_engine *eng = veil_engine_new(&eo);
	assert_non_null(eng);
	struct vdp_source *src[3];
	char err[200];
	for (unsigned s = 0; s < 3; s++) {
		src[s] = vdp_source_new(s == 0 ? "a" : s == 1 ? "b" : "c");
		assert_non_null(src[s]);
		assert_int_equal(vdp_source_set(src[s], "format", "auto", err,
						sizeof(err)), 0);
	}
	struct vdp_worker *pw = vdp_worker_new(eng, src, 3);
	assert_non_null(pw);
	static struct vdd_shared sh;
	memset(&sh, 0, sizeof(sh));
	static struct script_drv d;
	memset(&d, 0, sizeof(d));
	d.base.ops = &script_ops;
	d.sh = &sh;
	/* a key pointer that is never used: A and C have one until 0.5 s,
	 * and send nothing before they lose it */
	static const char fake_key;
	for (unsigned i = 0; i < 2; i++) {
		d.kt[i] = calloc(1, sizeof(*d.kt[i]) + 3 * sizeof(d.kt[i]->key[0]));
		assert_non_null(d.kt[i]);
		d.kt[i]->gen = i + 1;
		d.kt[i]->n = 3;
	}
	d.kt[0]->key[0] = d.kt[0]->key[2] = (const struct veil_key *)&fake_key;
	atomic_store(&sh.keytab, d.kt[0]);
	struct vdd_worker *x = vdd_worker_new(&sh, pw, &d.base, 3, 1.0, 8, 4096);
	assert_non_null(x);
	vdd_worker_set_order(x, true);
	d.t0 = veil_now();
	assert_int_equal(vdd_worker_run(x), 0);
	assert_int_equal(d.step, 4);
	/* B's 7 went (dropped, no key); A1 and C1..C3 wait */
	assert_int_equal(d.dropped, 7);
	assert_int_equal(d.forwarded, 0);
	assert_int_equal(vdd_worker_held(x), 4);
	uint64_t in = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_IN]);
	uint64_t held = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_HELD]);
	uint64_t out = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_OUT]);
	uint64_t dropped = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_DROPPED]);
	assert_int_equal(in, 11);
	assert_int_equal(in, out + dropped + held);
	assert_int_equal(held, 4);
	vdd_worker_free(x);
	vdp_worker_free(pw);
	for (unsigned s = 0; s < 3; s++)
		vdp_source_free(src[s]);
	veil_engine_free(eng);
	free(d.kt[0]);
	free(d.kt[1]);
}

/* ---- a queue pair per worker: two worker loops, one vdd_shared ---- */

/* Worker i's scripted driver: lines first (3 for worker 0, 2 for worker
 * 1), then worker 0 has nothing more; worker 1 waits in its rx until the
 * test releases it, passes one more burst boundary, then fails. */
struct lane_drv {
	struct vdr_driver base;
	unsigned idx, step;
	atomic_bool *release;
	char text[4][24];
};

static int lane_rx(struct vdr_driver *dv, struct vdp_line *l, unsigned max)
{
	struct lane_drv *d = (struct lane_drv *)dv;
	assert_true(max >= 4);
	if (d->step == 0) {
		unsigned n = d->idx == 0 ? 3 : 2;
		for (unsigned i = 0; i < n; i++) {
			int len = snprintf(d->text[i], sizeof(d->text[i]),
					   "<14>w%u line %u", d->idx, i);
			l[i] = (struct vdp_line){ d->text[i], (uint32_t)len, 0 };
		}
		d->step++;
		return (int)n;
	}
	if (d->idx == 0)
		return 0;
	if (d->step == 1) {
		while (!atomic_load(d->release))
			usleep(1000);
		d->step++;
		return 0; /* a burst boundary comes next */
	}
	vdr_set_error(dv, "scripted failure of worker 1");
	return VDR_ERR;
}

static void lane_rx_return(struct vdr_driver *dv, unsigned n)
{
	(void)dv;
	assert_int_equal(n, 0);
}

static int lane_tx(struct vdr_driver *dv, const struct vdp_burst *b)
{
	(void)dv;
	return (int)b->n;
}

static const struct vdr_ops lane_ops = {
	.name = "lane", .rx = lane_rx, .rx_return = lane_rx_return,
	.tx = lane_tx, .flush = script_flush, .stats = script_stats,
	.free = script_free,
};

struct lane_run {
	pthread_t th;
	struct vdd_worker *x;
	int rc;
};

static void *lane_thread(void *arg)
{
	struct lane_run *r = arg;
	r->rc = vdd_worker_run(r->x);
	return NULL;
}

/* Wait (up to 10 s) until the gathered key generation in use is @p gen. */
static uint64_t gathered_gen(struct vdd_shared *sh, unsigned slot, uint64_t want)
{
	for (int i = 0; i < 10000; i++) {
		vdd_shared_gather(sh);
		if (atomic_load(&sh->wgen[slot]) == want)
			break;
		usleep(1000);
	}
	return atomic_load(&sh->wgen[slot]);
}

/* Two worker loops each on its own driver (as with the dpdk driver's
 * queue pairs): the main side's gather sums their counters, and a key
 * table counts as unused (worker_gen) only once both moved past it; a
 * fatal error of one stops the other. */
static void two_workers(void **state)
{
	(void)state;
	static struct vdd_shared sh;
	memset(&sh, 0, sizeof(sh));
	sh.n_workers = 2;
	sh.per_worker = true;
	struct vdd_keytab *kt[2];
	for (unsigned i = 0; i < 2; i++) {
		kt[i] = calloc(1, sizeof(*kt[i]) + sizeof(kt[i]->key[0]));
		assert_non_null(kt[i]);
		kt[i]->gen = i + 1;
		kt[i]->n = 1; /* no key: the lines are dropped (no-key) */
	}
	atomic_store(&sh.keytab, kt[0]);
	static atomic_bool release;
	atomic_store(&release, false);
	struct veil_engine_opts eo = { 0 };
	struct veil_engine *eng[2];
	struct vdp_source *src = vdp_source_new("a");
	assert_non_null(src);
	struct vdp_worker *pw[2];
	static struct lane_drv d[2];
	struct lane_run run[2];
	for (unsigned i = 0; i < 2; i++) {
		eng[i] = veil_engine_new(&eo);
		assert_non_null(eng[i]);
		pw[i] = vdp_worker_new(eng[i], &src, 1);
		assert_non_null(pw[i]);
		memset(&d[i], 0, sizeof(d[i]));
		d[i].base.ops = &lane_ops;
		d[i].idx = i;
		d[i].release = &release;
		run[i].x = vdd_worker_new(&sh, pw[i], &d[i].base, 1, 0.0, 8, 4096);
		assert_non_null(run[i].x);
		vdd_worker_set_order(run[i].x, true);
		vdd_worker_set_slot(run[i].x, i);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&run[i].th, NULL, lane_thread, &run[i]), 0);

	assert_int_equal(gathered_gen(&sh, 0, 1), 1);
	assert_int_equal(gathered_gen(&sh, 1, 1), 1);
	assert_int_equal(atomic_load(&sh.worker_gen), 1);
	/* a new table: worker 0 takes it, worker 1 (in its rx) cannot yet */
	atomic_store(&sh.keytab, kt[1]);
	assert_int_equal(gathered_gen(&sh, 0, 2), 2);
	usleep(20000);
	vdd_shared_gather(&sh);
	assert_int_equal(atomic_load(&sh.wgen[1]), 1);
	assert_int_equal(atomic_load(&sh.worker_gen), 1); /* table 1 in use */
	atomic_store(&release, true);
	assert_int_equal(gathered_gen(&sh, 1, 2), 2);
	assert_int_equal(atomic_load(&sh.worker_gen), 2);

	/* worker 1 fails: both end, worker 0 without error */
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_join(run[i].th, NULL), 0);
	assert_int_equal(atomic_load(&sh.n_done), 2);
	assert_true(atomic_load(&sh.stop));
	assert_int_equal(run[0].rc, 0);
	assert_int_equal(run[1].rc, -1);
	assert_non_null(strstr(vdd_worker_error(run[1].x), "scripted failure"));
	vdd_shared_gather(&sh);
	assert_int_equal(atomic_load(&sh.wctr[0][VEIL_LINK_CTR_LINES_IN]), 3);
	assert_int_equal(atomic_load(&sh.wctr[1][VEIL_LINK_CTR_LINES_IN]), 2);
	assert_int_equal(atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_IN]), 5);
	assert_int_equal(atomic_load(&sh.ctr[VEIL_LINK_CTR_DROP_NO_KEY]), 5);

	for (unsigned i = 0; i < 2; i++) {
		vdd_worker_free(run[i].x);
		vdp_worker_free(pw[i]);
		veil_engine_free(eng[i]);
		free(kt[i]);
	}
	vdp_source_free(src);
}

/* The link's drop counters are the pipeline's reasons, in the same order
 * and with the same names (veilctl stats, telemetry), then oversize. */
static void link_counters_follow_reasons(void **state)
{
	(void)state;
	for (unsigned r = 0; r < VDP_REASON_COUNT; r++)
		assert_string_equal(veil_link_counter_name(VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT + r),
				    vdp_reason_name((enum vdp_reason)r));
	assert_int_equal(VEIL_LINK_CTR_DROP_UNKNOWN_FORMAT + VDP_REASON_COUNT,
			 VEIL_LINK_CTR_DROP_OVERSIZE);
	assert_string_equal(veil_link_counter_name(VEIL_LINK_CTR_DROP_OVERSIZE), "oversize");
	assert_true(VEIL_LINK_CTR_COUNT <= VEIL_LINK_NCOUNTERS);
	assert_string_equal(veil_link_counter_name(VEIL_LINK_CTR_DROP_FIELDS_NO_IDENTITY),
			    "fields-without-identity");
}

/* Workers fed by the main lcore (dpd_pool.c): the distributor's run over
 * the mem driver (collect), with @p nw workers whose threads start
 * @p delay_us late (0 workers: the single loop). @return the output. */
struct late_lane {
	struct vdd_pool *p;
	unsigned i;
	useconds_t delay;
};

static void *late_lane_thread(void *arg)
{
	struct late_lane *a = arg;
	usleep(a->delay);
	vdd_pool_lane_run(a->p, a->i);
	return NULL;
}

static char *pool_run(const char *text, size_t len, unsigned nw, useconds_t delay_us,
		      bool file, size_t *olen, uint64_t *local, uint64_t *lines_in,
		      uint64_t *lines_out)
{
	static const uint8_t raw[32] = { 9 };
	char err[160];
	struct vdp_source *src = vdp_source_new("w3c-pool");
	assert_non_null(src);
	assert_int_equal(vdp_source_set(src, "format", "w3c", err, sizeof(err)), 0);
	struct veil_key *k = veil_key_new(raw, "acme", 1);
	assert_non_null(k);
	struct veil_engine_opts eo = { 0 };
	struct veil_engine *eng[3];
	struct vdp_worker *pw[3];
	for (unsigned i = 0; i <= nw; i++) {
		eng[i] = veil_engine_new(&eo);
		assert_non_null(eng[i]);
		pw[i] = vdp_worker_new(eng[i], &src, 1);
		assert_non_null(pw[i]);
	}
	/* the mem driver, or the file driver (its blocks go round while the
	 * workers read the lines in them) */
	struct vdr_driver *d;
	if (file) {
		write_file(path_of("pool.in"), text, len);
		struct vdr_file_input fin[] = { { path_of("pool.in"), 0 } };
		d = vdr_file_new(fin, 1, path_of("pool.out"), 65536, err, sizeof(err));
		assert_non_null(d);
	} else {
		d = vdr_mem_new(65536, true);
		assert_non_null(d);
		assert_int_equal(vdr_mem_add(d, text, len, 0), 0);
	}
	struct vdd_keytab *kt = calloc(1, sizeof(*kt) + sizeof(kt->key[0]));
	assert_non_null(kt);
	kt->gen = 1;
	kt->n = 1;
	kt->key[0] = k;
	static struct vdd_shared sh;
	memset(&sh, 0, sizeof(sh));
	atomic_store(&sh.keytab, kt);
	struct vdd_worker *x = vdd_worker_new(&sh, pw[0], d, 1, 10.0, 256, 1 << 20);
	assert_non_null(x);
	struct vdd_pool *pool = nw > 0 ? vdd_pool_new(x, pw + 1, nw) : NULL;
	assert_true(nw == 0 || pool != NULL);
	pthread_t th[2];
	struct late_lane la[2];
	for (unsigned i = 0; i < nw; i++) {
		la[i] = (struct late_lane){ pool, i, delay_us };
		assert_int_equal(pthread_create(&th[i], NULL, late_lane_thread, &la[i]), 0);
	}
	assert_int_equal(vdd_worker_run(x), 0);
	for (unsigned i = 0; i < nw; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	*local = pool != NULL ? vdd_pool_local(pool) : 0;
	*lines_in = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_IN]);
	*lines_out = atomic_load(&sh.ctr[VEIL_LINK_CTR_LINES_OUT]);
	char *copy;
	if (file) {
		vdd_pool_free(pool);
		vdd_worker_free(x);
		vdr_free(d); /* written, closed */
		copy = read_file(path_of("pool.out"), olen);
	} else {
		const char *o = vdr_mem_output(d, olen);
		copy = malloc(*olen + 1);
		assert_non_null(copy);
		memcpy(copy, o, *olen);
		copy[*olen] = '\0';
		vdd_pool_free(pool);
		vdd_worker_free(x);
		vdr_free(d);
	}
	for (unsigned i = 0; i <= nw; i++) {
		vdp_worker_free(pw[i]);
		veil_engine_free(eng[i]);
	}
	free(kt);
	veil_key_free(k);
	vdp_source_free(src);
	return copy;
}

/* The distributor rewrites bursts itself once every worker's ring is
 * full (the worker's thread starts late here, so the ring fills): the
 * output is byte for byte the single loop's, a W3C source whose #Fields
 * change (same columns, another order) read against the header before
 * each line whoever rewrote it, no name left in clear, and the counters
 * add up; also with two workers, and over the file driver, whose blocks
 * (3 MB of input: a dozen) are read into again only once no worker reads
 * their lines. */
static void pool_distributor_rewrites(void **state)
{
	(void)state;
	size_t cap = 8 << 20, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	unsigned lines = 0;
	for (unsigned k = 0; k < 160; k++) {
		len += (size_t)snprintf(text + len, cap - len, "%s\n", k % 2 ?
					"#Fields: date time c-ip cs-username cs-uri" :
					"#Fields: date time cs-username c-ip cs-uri");
		lines++;
		for (unsigned i = 0; i < 301; i++, lines++) {
			char u[32], ip[32];
			snprintf(u, sizeof(u), "poolu.%u-%u", k, i);
			snprintf(ip, sizeof(ip), "10.%u.%u.9", k, i % 250);
			len += (size_t)snprintf(text + len, cap - len,
						"2024-03-01 10:%02u:%02u %s %s /p%u\n",
						k % 60, i % 60, k % 2 ? ip : u, k % 2 ? u : ip, i);
		}
	}
	size_t l0, l1, l2;
	uint64_t loc, in, out;
	char *single = pool_run(text, len, 0, 0, false, &l0, &loc, &in, &out);
	assert_int_equal(in, lines);
	assert_int_equal(out, lines);
	assert_null(strstr(single, "poolu."));
	char *one = pool_run(text, len, 1, 300000, false, &l1, &loc, &in, &out);
	assert_true(loc > 0); /* the ring filled: the distributor rewrote */
	assert_int_equal(in, lines);
	assert_int_equal(out, lines);
	assert_int_equal(l1, l0);
	assert_memory_equal(one, single, l0);
	char *two = pool_run(text, len, 2, 300000, false, &l2, &loc, &in, &out);
	assert_true(loc > 0);
	assert_int_equal(in, lines);
	assert_int_equal(out, lines);
	assert_int_equal(l2, l0);
	assert_memory_equal(two, single, l0);
	for (unsigned nw = 1; nw <= 2; nw++) {
		size_t lf;
		char *f = pool_run(text, len, nw, 300000, true, &lf, &loc, &in, &out);
		assert_true(loc > 0);
		assert_int_equal(in, lines);
		assert_int_equal(out, lines);
		assert_int_equal(lf, l0);
		assert_memory_equal(f, single, l0);
		free(f);
	}
	free(single);
	free(one);
	free(two);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mem_framing),
		cmocka_unit_test(mem_return),
		cmocka_unit_test(mem_long_lines),
		cmocka_unit_test(mem_loops_and_collect),
		cmocka_unit_test(file_inputs),
		cmocka_unit_test(file_blocks),
		cmocka_unit_test(file_keep),
		cmocka_unit_test(file_huge_line),
		cmocka_unit_test(file_errors),
		cmocka_unit_test(file_pipe),
		cmocka_unit_test(file_writer),
		cmocka_unit_test(hold_per_source_room),
		cmocka_unit_test(two_workers),
		cmocka_unit_test(pool_distributor_rewrites),
		cmocka_unit_test(link_counters_follow_reasons),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
