/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Message framing (drivers/framing.c): every mode, streams cut at every
 * byte position, zero copy, oversize messages, bad octet counts, the end of
 * a stream, and the counters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "veil_msg.h"

#define MAX_MSGS 64

/* Short names for the modes. */
#define M_DGRAM VDP_FRAME_DATAGRAM
#define M_OCT	VDP_FRAME_OCTET_COUNT
#define M_LF	VDP_FRAME_LF
#define M_AUTO	VDP_FRAME_TCP_AUTO
#define M_FILE	VDP_FRAME_FILE

/* What the callback got. */
struct coll {
	unsigned n;
	char *msg[MAX_MSGS];
	size_t len[MAX_MSGS];
	bool in_place[MAX_MSGS]; /* pointed into the buffer being fed */
	const char *buf;	 /* the buffer being fed */
	size_t buf_len;
};

static void collect(void *arg, const char *msg, size_t len)
{
	struct coll *c = arg;
	assert_true(c->n < MAX_MSGS);
	assert_true(len > 0);
	c->msg[c->n] = malloc(len);
	assert_non_null(c->msg[c->n]);
	memcpy(c->msg[c->n], msg, len);
	c->len[c->n] = len;
	c->in_place[c->n] = c->buf != NULL && msg >= c->buf &&
			    msg + len <= c->buf + c->buf_len;
	c->n++;
}

static void coll_free(struct coll *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->msg[i]);
	memset(c, 0, sizeof(*c));
}

static void assert_msg(const struct coll *c, unsigned i, const char *want,
		       size_t want_len)
{
	assert_true(i < c->n);
	if (c->len[i] != want_len || memcmp(c->msg[i], want, want_len) != 0)
		fail_msg("message %u: got \"%.*s\" (%zu), want \"%.*s\" (%zu)",
			 i, (int)c->len[i], c->msg[i], c->len[i],
			 (int)want_len, want, want_len);
}

#define MSG(c, i, s) assert_msg((c), (i), (s), sizeof(s) - 1)

/* Feed one buffer, noting it in c for the zero-copy check. */
static int feed(struct vdp_framer *f, const char *d, size_t len,
		struct coll *c)
{
	c->buf = d;
	c->buf_len = len;
	int rc = vdp_framer_feed(f, d, len, collect, c);
	c->buf = NULL;
	return rc;
}

#define FEED(f, s, c) feed((f), (s), sizeof(s) - 1, (c))

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

enum chunking {
	WHOLE,	/* one feed */
	BYTES,	/* one byte per feed */
	RANDOM, /* random sizes 1..16 from rng_state */
	SPLIT,	/* two feeds, cut at split_at */
};

static size_t split_at;

/*
 * Feed @p in to a new framer cut as @p how, each piece in its own exactly
 * sized heap buffer (ASan sees any read past it), then finish unless the
 * feed failed. Returns the first non-zero feed result; *st gets the stats.
 */
static int run(enum vdp_framing mode, size_t max, const char *in, size_t len,
	       enum chunking how, struct coll *c, struct vdp_framer_stats *st)
{
	struct vdp_framer *f = vdp_framer_new(mode, max);
	assert_non_null(f);
	int rc = 0;
	size_t i = 0;
	while (i < len) {
		size_t k;
		switch (how) {
		case WHOLE:
			k = len;
			break;
		case BYTES:
			k = 1;
			break;
		case RANDOM:
			k = 1 + rnd() % 16;
			break;
		default:
			k = i < split_at ? split_at - i : len - i;
			break;
		}
		if (k > len - i)
			k = len - i;
		char *piece = malloc(k);
		assert_non_null(piece);
		memcpy(piece, in + i, k);
		c->buf = piece;
		c->buf_len = k;
		int r = vdp_framer_feed(f, piece, k, collect, c);
		c->buf = NULL;
		free(piece);
		if (r != 0 && rc == 0)
			rc = r;
		i += k;
	}
	if (rc == 0)
		vdp_framer_finish(f, collect, c);
	*st = *vdp_framer_stats(f);
	vdp_framer_free(f);
	return rc;
}

#define RUN(mode, max, s, how, c, st) \
	run((mode), (max), (s), sizeof(s) - 1, (how), (c), (st))

/* The same messages, stats and result however the stream is cut. */
static void check_cuts(enum vdp_framing mode, size_t max, const char *in,
		       size_t len)
{
	struct coll ref = { 0 }, c = { 0 };
	struct vdp_framer_stats rst, st;
	int rrc = run(mode, max, in, len, WHOLE, &ref, &rst);

	for (int pass = 0; pass < (int)len + 1 + 20; pass++) {
		enum chunking how;
		if (pass == 0) {
			how = BYTES;
		} else if (pass <= (int)len) {
			how = SPLIT;
			split_at = (size_t)pass;
		} else {
			how = RANDOM;
			rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)pass;
		}
		int rc = run(mode, max, in, len, how, &c, &st);
		assert_int_equal(rc, rrc);
		assert_int_equal(c.n, ref.n);
		for (unsigned i = 0; i < c.n; i++)
			assert_msg(&c, i, ref.msg[i], ref.len[i]);
		assert_memory_equal(&st, &rst, sizeof(st));
		coll_free(&c);
	}
	coll_free(&ref);
}

#define CHECK_CUTS(mode, max, s) check_cuts((mode), (max), (s), sizeof(s) - 1)

static void test_new_and_args(void **state)
{
	(void)state;
	errno = 0;
	assert_null(vdp_framer_new(M_LF, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(vdp_framer_new((enum vdp_framing)99, 100));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(vdp_framer_new(M_OCT, 1000000000));
	assert_int_equal(errno, EINVAL);
	vdp_framer_free(NULL);

	struct vdp_framer *f = vdp_framer_new(M_FILE, 1);
	assert_non_null(f);
	const struct vdp_framer_stats *st = vdp_framer_stats(f);
	assert_int_equal(st->messages, 0);
	assert_int_equal(st->bytes, 0);
	/* a NULL callback: messages are counted, nothing else happens */
	assert_int_equal(vdp_framer_feed(f, "a\nb\n", 4, NULL, NULL), 0);
	assert_int_equal(st->messages, 2);
	vdp_framer_free(f);
}

static void test_datagram_len(void **state)
{
	(void)state;
	assert_int_equal(vdp_datagram_len("", 0), 0);
	assert_int_equal(vdp_datagram_len("abc", 3), 3);
	assert_int_equal(vdp_datagram_len("abc\n", 4), 3);
	assert_int_equal(vdp_datagram_len("abc\r\n", 5), 3);
	assert_int_equal(vdp_datagram_len("abc\n\0\0", 6), 3);
	assert_int_equal(vdp_datagram_len("abc\0\r\n\r", 7), 3);
	assert_int_equal(vdp_datagram_len("\n\r\0", 3), 0);
	/* only trailing ones */
	assert_int_equal(vdp_datagram_len("a\nb\0c", 5), 5);
	assert_int_equal(vdp_datagram_len("\nabc ", 5), 5);
}

static void test_datagram(void **state)
{
	(void)state;
	struct vdp_framer *f = vdp_framer_new(M_DGRAM, 10);
	assert_non_null(f);
	struct coll c = { 0 };
	static const char d1[] = "<13>hello\r\n";
	assert_int_equal(FEED(f, d1, &c), 0);
	/* a datagram is one message even with LFs inside */
	static const char d2[] = "a\nb\n\0";
	assert_int_equal(FEED(f, d2, &c), 0);
	/* empty and oversize ones are dropped */
	assert_int_equal(FEED(f, "\r\n", &c), 0);
	assert_int_equal(FEED(f, "", &c), 0);
	assert_int_equal(FEED(f, "0123456789X\n", &c), 0);
	assert_int_equal(FEED(f, "0123456789\n", &c), 0);
	vdp_framer_finish(f, collect, &c);

	assert_int_equal(c.n, 3);
	MSG(&c, 0, "<13>hello");
	MSG(&c, 1, "a\nb");
	MSG(&c, 2, "0123456789");
	assert_true(c.in_place[0]);
	assert_true(c.in_place[1]);
	const struct vdp_framer_stats *st = vdp_framer_stats(f);
	assert_int_equal(st->messages, 3);
	assert_int_equal(st->oversize, 1);
	assert_int_equal(st->bytes, 11 + 5 + 2 + 0 + 12 + 11);
	assert_int_equal(st->bad_frame, 0);
	assert_int_equal(st->truncated, 0);
	coll_free(&c);
	vdp_framer_free(f);
}

static void test_lf(void **state)
{
	(void)state;
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	static const char in[] = "<13>a\n<13>bb\r\n\n\r\n<13>ccc\r\r\n"
				 "x\0y\0\0\ntail";
	assert_int_equal(RUN(M_LF, 100, in, WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 6);
	MSG(&c, 0, "<13>a");
	MSG(&c, 1, "<13>bb");
	MSG(&c, 2, "<13>ccc");
	MSG(&c, 3, "x"); /* NUL ends a message too */
	MSG(&c, 4, "y");
	MSG(&c, 5, "tail"); /* delivered by finish */
	/* zero copy for all but the last, which finish delivers */
	for (unsigned i = 0; i < 5; i++)
		assert_true(c.in_place[i]);
	assert_false(c.in_place[5]);
	assert_int_equal(st.messages, 6);
	assert_int_equal(st.bytes, sizeof(in) - 1);
	assert_int_equal(st.oversize + st.bad_frame + st.truncated, 0);
	coll_free(&c);

	/* a CR inside a line stays, a CR at the end of the stream goes */
	assert_int_equal(RUN(M_LF, 100, "a\rb\nc\r", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 2);
	MSG(&c, 0, "a\rb");
	MSG(&c, 1, "c");
	coll_free(&c);

	CHECK_CUTS(M_LF, 100, "<13>a\n<13>bb\r\n\n\r\n<13>ccc\r\r\n"
			      "x\0y\0\0\ntail\r");
	CHECK_CUTS(M_LF, 100, "\n\n\r\n\0");
	CHECK_CUTS(M_LF, 1, "a\nbb\nc\r\n\r\r\rd\n");
}

static void test_file(void **state)
{
	(void)state;
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	/* a NUL is data in a file; CRLF and LF lines */
	static const char in[] = "Jan  1 00:00:00 h t: a\0b\r\n\r\n"
				 "second\nlast\r\n";
	assert_int_equal(RUN(M_FILE, 100, in, WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 3);
	MSG(&c, 0, "Jan  1 00:00:00 h t: a\0b");
	MSG(&c, 1, "second");
	MSG(&c, 2, "last");
	assert_int_equal(st.messages, 3);
	coll_free(&c);

	/* the last line without its LF */
	assert_int_equal(RUN(M_FILE, 100, "one\ntwo", BYTES, &c, &st), 0);
	assert_int_equal(c.n, 2);
	MSG(&c, 1, "two");
	assert_int_equal(st.truncated, 0);
	coll_free(&c);

	CHECK_CUTS(M_FILE, 100, in);
	CHECK_CUTS(M_FILE, 6, "123456\r\n1234567\n12345\r\r\r\n"
			      "123456\r\rx\nok\n");
}

static void test_octet(void **state)
{
	(void)state;
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	/* RFC 6587 3.4.1; LFs inside a frame are data, trailing ones go */
	static const char in[] = "9 <13>hello3 abc12 <13>a\nb c\r\n\n"
				 "5 <1>x\n\r\n\0" "2 \n\n" "1 z";
	assert_int_equal(RUN(M_OCT, 100, in, WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 5);
	MSG(&c, 0, "<13>hello");
	MSG(&c, 1, "abc");
	MSG(&c, 2, "<13>a\nb c");
	MSG(&c, 3, "<1>x");
	MSG(&c, 4, "z"); /* "2 \n\n" was empty after trimming */
	for (unsigned i = 0; i < c.n; i++)
		assert_true(c.in_place[i]);
	assert_int_equal(st.messages, 5);
	assert_int_equal(st.oversize + st.bad_frame + st.truncated, 0);
	coll_free(&c);

	CHECK_CUTS(M_OCT, 100, in);
	/* a frame of exactly the maximum */
	assert_int_equal(RUN(M_OCT, 5, "5 abcde", BYTES, &c, &st), 0);
	assert_int_equal(c.n, 1);
	MSG(&c, 0, "abcde");
	assert_false(c.in_place[0]);
	coll_free(&c);
	/* nine digits is a count, if too big */
	assert_int_equal(RUN(M_OCT, 5, "999999999 ab", WHOLE, &c, &st), 0);
	assert_int_equal(st.oversize, 1);
	assert_int_equal(st.truncated, 0);
	coll_free(&c);
}

static void test_octet_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"abc",		/* not a digit */
		"05 hello",	/* a leading zero */
		"0 ",		/* zero */
		" 5 hello",	/* a space first */
		"5hello",	/* no space */
		"5\thello",	/* not a space */
		"1234567890 x", /* ten digits */
		"-1 x",
		"+5 hello",
		"5  hello3 abcx", /* 5 is " hell", then "o3..." */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (enum chunking how = WHOLE; how <= BYTES; how++) {
			struct coll c = { 0 };
			struct vdp_framer_stats st;
			char in[64];
			/* a good frame first: delivered before the failure */
			int n = snprintf(in, sizeof(in), "3 abc%s", bad[i]);
			int rc = run(M_OCT, 100, in, (size_t)n,
				     how, &c, &st);
			assert_int_equal(rc, -1);
			assert_true(c.n >= 1);
			MSG(&c, 0, "abc");
			assert_int_equal(st.bad_frame, 1);
			assert_int_equal(st.bytes, (size_t)n);
			coll_free(&c);
		}
	}

	/* once failed, every feed fails, nothing is delivered, no recount */
	struct vdp_framer *f = vdp_framer_new(M_OCT, 100);
	assert_non_null(f);
	struct coll c = { 0 };
	assert_int_equal(FEED(f, "x", &c), -1);
	assert_int_equal(FEED(f, "3 abc", &c), -1);
	vdp_framer_finish(f, collect, &c);
	assert_int_equal(FEED(f, "3 abc", &c), -1);
	assert_int_equal(c.n, 0);
	assert_int_equal(vdp_framer_stats(f)->bad_frame, 1);
	assert_int_equal(vdp_framer_stats(f)->truncated, 0);
	vdp_framer_free(f);
}

static void test_tcp_auto(void **state)
{
	(void)state;
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	/* per frame: a digit starts an octet-counted frame, else a line */
	static const char in[] = "<13>line one\n"
				 "16 <13>octet\nframe\n"
				 "<13>line two\r\n\0"
				 "4 <1>x"
				 "<2>y\n"
				 "<3>last";
	assert_int_equal(RUN(M_AUTO, 100, in, WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 6);
	MSG(&c, 0, "<13>line one");
	MSG(&c, 1, "<13>octet\nframe");
	MSG(&c, 2, "<13>line two");
	MSG(&c, 3, "<1>x");
	MSG(&c, 4, "<2>y");
	MSG(&c, 5, "<3>last");
	coll_free(&c);
	CHECK_CUTS(M_AUTO, 100, in);
	CHECK_CUTS(M_AUTO, 5, in);

	/* a line starting with a digit is a bad octet count */
	assert_int_equal(RUN(M_AUTO, 100, "<1>a\n1,2024/01/01,x\n",
			     WHOLE, &c, &st), -1);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.bad_frame, 1);
	coll_free(&c);
}

static void test_zero_copy(void **state)
{
	(void)state;
	struct vdp_framer *f = vdp_framer_new(M_LF, 100);
	assert_non_null(f);
	struct coll c = { 0 };
	static const char b1[] = "first\nsecond\nthi";
	static const char b2[] = "rd\nfourth\nfif";
	assert_int_equal(FEED(f, b1, &c), 0);
	assert_int_equal(FEED(f, b2, &c), 0);
	vdp_framer_finish(f, collect, &c);
	assert_int_equal(c.n, 5);
	MSG(&c, 0, "first");
	MSG(&c, 1, "second");
	MSG(&c, 2, "third");
	MSG(&c, 3, "fourth");
	MSG(&c, 4, "fif");
	assert_true(c.in_place[0]);
	assert_true(c.in_place[1]);
	assert_false(c.in_place[2]); /* split: assembled */
	assert_true(c.in_place[3]);
	coll_free(&c);
	vdp_framer_free(f);

	/* octet counting: the same */
	f = vdp_framer_new(M_OCT, 100);
	assert_non_null(f);
	static const char o1[] = "3 abc5 de";
	static const char o2[] = "fgh2 ij";
	assert_int_equal(FEED(f, o1, &c), 0);
	assert_int_equal(FEED(f, o2, &c), 0);
	assert_int_equal(c.n, 3);
	MSG(&c, 0, "abc");
	MSG(&c, 1, "defgh");
	MSG(&c, 2, "ij");
	assert_true(c.in_place[0]);
	assert_false(c.in_place[1]);
	assert_true(c.in_place[2]);
	coll_free(&c);
	vdp_framer_free(f);
}

static void test_oversize_lf(void **state)
{
	(void)state;
	static const char in[] = "short\n"
				 "this line is far too long\n"
				 "12345678\r\n"	      /* exactly the maximum */
				 "123456789\n"	      /* one more */
				 "12345678\r\r\rX\n"  /* CRs inside count */
				 "after\n";
	for (enum chunking how = WHOLE; how <= RANDOM; how++) {
		struct coll c = { 0 };
		struct vdp_framer_stats st;
		rng_state = 42;
		assert_int_equal(RUN(M_LF, 8, in, how, &c, &st), 0);
		assert_int_equal(c.n, 3);
		MSG(&c, 0, "short");
		MSG(&c, 1, "12345678");
		MSG(&c, 2, "after");
		assert_int_equal(st.oversize, 3);
		assert_int_equal(st.messages, 3);
		coll_free(&c);
	}
	CHECK_CUTS(M_LF, 8, in);
	CHECK_CUTS(M_FILE, 8, in);

	/* an oversize line at the end of the stream: counted once */
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	assert_int_equal(RUN(M_LF, 4, "ok\n0123456789", BYTES, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.oversize, 1);
	assert_int_equal(st.truncated, 0);
	coll_free(&c);
}

static void test_oversize_octet(void **state)
{
	(void)state;
	/* the oversize frame holds what looks like frames: skipped exactly */
	static const char in[] = "3 abc"
				 "20 5 junk\n3 xyz\n1234567"
				 "8 12345678"
				 "9 123456789"
				 "2 ok";
	for (enum chunking how = WHOLE; how <= RANDOM; how++) {
		struct coll c = { 0 };
		struct vdp_framer_stats st;
		rng_state = 7;
		assert_int_equal(RUN(M_OCT, 8, in, how, &c, &st), 0);
		assert_int_equal(c.n, 3);
		MSG(&c, 0, "abc");
		MSG(&c, 1, "12345678");
		MSG(&c, 2, "ok");
		assert_int_equal(st.oversize, 2);
		assert_int_equal(st.bad_frame, 0);
		coll_free(&c);
	}
	CHECK_CUTS(M_OCT, 8, in);
	CHECK_CUTS(M_AUTO, 8, in);
}

static void test_finish(void **state)
{
	(void)state;
	struct coll c = { 0 };
	struct vdp_framer_stats st;
	/* a partial octet-counted frame */
	assert_int_equal(RUN(M_OCT, 100, "3 abc10 abc", BYTES, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.truncated, 1);
	coll_free(&c);
	/* a partial count */
	assert_int_equal(RUN(M_OCT, 100, "3 abc12", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.truncated, 1);
	coll_free(&c);
	assert_int_equal(RUN(M_AUTO, 100, "<1>a\n7 <1>", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.truncated, 1);
	coll_free(&c);
	/* the rest of an oversize frame: already counted */
	assert_int_equal(RUN(M_OCT, 4, "50 abc", WHOLE, &c, &st), 0);
	assert_int_equal(st.oversize, 1);
	assert_int_equal(st.truncated, 0);
	coll_free(&c);
	/* trailers after the last frame are not a partial frame */
	assert_int_equal(RUN(M_OCT, 100, "1 a\r\n", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.truncated, 0);
	coll_free(&c);
	/* the last line in TCP auto; a last line of CRs only: nothing */
	assert_int_equal(RUN(M_AUTO, 100, "<1>a\n<2>b", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 2);
	MSG(&c, 1, "<2>b");
	coll_free(&c);
	assert_int_equal(RUN(M_LF, 100, "<1>a\n\r\r", WHOLE, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(st.truncated, 0);
	coll_free(&c);

	/* finish resets: the framer can frame a new stream */
	struct vdp_framer *f = vdp_framer_new(M_OCT, 100);
	assert_non_null(f);
	assert_int_equal(FEED(f, "5 ab", &c), 0);
	vdp_framer_finish(f, collect, &c);
	vdp_framer_finish(f, collect, &c);
	assert_int_equal(FEED(f, "2 cd", &c), 0);
	assert_int_equal(c.n, 1);
	MSG(&c, 0, "cd");
	assert_int_equal(vdp_framer_stats(f)->truncated, 1);
	assert_int_equal(vdp_framer_stats(f)->bytes, 8);
	coll_free(&c);
	vdp_framer_free(f);
}

/* A long random stream of mixed frames, cut at random. */
static void test_random_streams(void **state)
{
	(void)state;
	static const char alphabet[] = "ab<>1 0\r\n\0x9";
	for (uint64_t seed = 1; seed <= 200; seed++) {
		char in[96];
		rng_state = seed * 0x2545f4914f6cdd1dull;
		size_t len = 1 + rnd() % sizeof(in);
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		enum vdp_framing mode = (enum vdp_framing)(1 + seed % 4);
		size_t max = 1 + seed % 9;
		struct coll ref = { 0 }, c = { 0 };
		struct vdp_framer_stats rst, st;
		int rrc = run(mode, max, in, len, WHOLE, &ref, &rst);
		int rc = run(mode, max, in, len, BYTES, &c, &st);
		assert_int_equal(rc, rrc);
		assert_int_equal(c.n, ref.n);
		for (unsigned i = 0; i < c.n; i++) {
			assert_msg(&c, i, ref.msg[i], ref.len[i]);
			assert_true(c.len[i] <= max);
		}
		assert_memory_equal(&st, &rst, sizeof(st));
		coll_free(&c);
		coll_free(&ref);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_args),
		cmocka_unit_test(test_datagram_len),
		cmocka_unit_test(test_datagram),
		cmocka_unit_test(test_lf),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_octet),
		cmocka_unit_test(test_octet_bad),
		cmocka_unit_test(test_tcp_auto),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_oversize_lf),
		cmocka_unit_test(test_oversize_octet),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_random_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
