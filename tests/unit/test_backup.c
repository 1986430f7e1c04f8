/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* The backup file (control/backup_file.c): its header parser against
 * every truncation, bad fields and random damage; the passphrase check;
 * a whole file written and read back, and read back altered. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backup.h"
#include "veil_crypto.h"

static size_t good_header(uint8_t out[BK_HEADER_MAX])
{
	struct bk_header h;
	assert_int_equal(bk_header_new(&h, BK_PROT_PASSPHRASE), 0);
	return bk_header_pack(&h, out);
}

static void test_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[BK_HEADER_MAX + BK_TAG] = { 0 };
	struct bk_header h, p;
	char err[200];
	assert_int_equal(bk_header_new(&h, BK_PROT_PASSPHRASE), 0);
	size_t n = bk_header_pack(&h, buf);
	assert_int_equal(n, BK_FIXED + BK_PASS_BLOCK);
	assert_int_equal(bk_header_parse(buf, sizeof(buf), &p, err, sizeof(err)), 0);
	assert_int_equal(p.len, n);
	assert_memory_equal(p.salt, h.salt, 16);
	assert_memory_equal(p.nonce, h.nonce, 12);
	assert_int_equal(p.log2_n, BK_SCRYPT_LOG2N);
	assert_int_equal(p.created_ms, h.created_ms);
}

/* Every length short of a header and a tag: an error, never a read past. */
static void test_truncated(void **state)
{
	(void)state;
	uint8_t full[BK_HEADER_MAX + BK_TAG] = { 0 };
	size_t hl = good_header(full);
	struct bk_header h;
	char err[200];
	for (size_t n = 0; n < hl + BK_TAG; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exactly n: ASan sees a read past */
		memcpy(cut, full, n);
		err[0] = '\0';
		assert_int_equal(bk_header_parse(cut, n, &h, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		free(cut);
	}
}

static void expect_refused(const uint8_t *buf, size_t len, const char *says)
{
	struct bk_header h;
	char err[200] = "";
	assert_int_equal(bk_header_parse(buf, len, &h, err, sizeof(err)), -1);
	if (strstr(err, says) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, says);
}

static void test_bad_fields(void **state)
{
	(void)state;
	uint8_t good[BK_HEADER_MAX + BK_TAG] = { 0 }, b[sizeof(good)];
	good_header(good);
	memcpy(b, good, sizeof(b));
	b[0] = 'X';
	expect_refused(b, sizeof(b), "not a veil backup");
	memcpy(b, good, sizeof(b));
	b[8] = 2;
	expect_refused(b, sizeof(b), "format version 2");
	memcpy(b, good, sizeof(b));
	b[9] = 2;
	expect_refused(b, sizeof(b), "protection 2");
	memcpy(b, good, sizeof(b));
	b[11] = 0xff; /* the protection block's length */
	expect_refused(b, sizeof(b), "protected another way");
	memcpy(b, good, sizeof(b));
	b[BK_FIXED + 16] = 30; /* log2 N: 2^30 * 128 * r bytes */
	expect_refused(b, sizeof(b), "scrypt cost");
	memcpy(b, good, sizeof(b));
	b[BK_FIXED + 17] = 0; /* r */
	expect_refused(b, sizeof(b), "scrypt cost");
	memcpy(b, good, sizeof(b));
	b[BK_FIXED + 16] = 24; /* within log2 N's range, but with r = 8 over the memory */
	expect_refused(b, sizeof(b), "scrypt cost");
}

/* Random damage (a fixed seed: the same each run): parse or refuse, and
 * what it accepts is bounded. */
static void test_random_damage(void **state)
{
	(void)state;
	uint8_t good[BK_HEADER_MAX + BK_TAG] = { 0 }, b[sizeof(good)];
	good_header(good);
	uint32_t x = 0x9e3779b9u;
	for (int i = 0; i < 200000; i++) {
		memcpy(b, good, sizeof(b));
		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b[x % sizeof(b)] ^= (uint8_t)(x >> 8 | 1);
		}
		size_t len = i % 7 == 0 ? x % sizeof(b) : sizeof(b);
		struct bk_header h;
		char err[200];
		if (bk_header_parse(b, len, &h, err, sizeof(err)) == 0) {
			assert_true(h.len <= BK_HEADER_MAX);
			assert_true(h.protection != BK_PROT_PASSPHRASE ||
				    128ull * h.r * (1ull << h.log2_n) <= BK_SCRYPT_MAXMEM);
			assert_true(len >= h.len + BK_TAG);
		}
	}
}

/* A recovery key's header: the wrapped key's length decides the block's;
 * only RSA 2048, 3072 and 4096 are taken, and a cut block is refused. */
static void test_rsa_header(void **state)
{
	(void)state;
	uint8_t buf[BK_HEADER_MAX + BK_TAG] = { 0 };
	struct bk_header h, p;
	char err[200];
	for (unsigned w = 256; w <= 512; w += 128) {
		assert_int_equal(bk_header_new(&h, BK_PROT_RSA), 0);
		memset(h.key_sha256, 0x11, 32);
		h.wrapped_len = (uint16_t)w;
		memset(h.wrapped, 0x22, w);
		size_t n = bk_header_pack(&h, buf);
		assert_int_equal(n, BK_FIXED + 34 + w);
		assert_int_equal(bk_header_parse(buf, n + BK_TAG, &p, err, sizeof(err)), 0);
		assert_int_equal(p.len, n);
		assert_int_equal(p.protection, BK_PROT_RSA);
		assert_int_equal(p.wrapped_len, w);
		assert_memory_equal(p.wrapped, h.wrapped, w);
		assert_memory_equal(p.key_sha256, h.key_sha256, 32);
		for (size_t cut = 0; cut < n + BK_TAG; cut += 7)
			assert_int_equal(bk_header_parse(buf, cut, &p, err, sizeof(err)), -1);
	}
	h.wrapped_len = 300; /* no RSA size */
	size_t n = bk_header_pack(&h, buf);
	expect_refused(buf, n + BK_TAG, "protected another way");
	buf[11] ^= 1; /* L no longer 34 + W */
	expect_refused(buf, n + BK_TAG, "protected another way");
}

/* A small cost: the test is about the file, not scrypt's strength. */
static void cheap_header(struct bk_header *h)
{
	assert_int_equal(bk_header_new(h, BK_PROT_PASSPHRASE), 0);
	h->log2_n = 10;
	h->r = 1;
}

static void test_passphrase(void **state)
{
	(void)state;
	struct bk_header h;
	cheap_header(&h);
	uint8_t *k1 = veil_secmem_alloc(32), *k2 = veil_secmem_alloc(32);
	assert_int_equal(bk_file_key(&h, "correct horse", 13, true, k1), 0);
	assert_int_equal(bk_file_key(&h, "correct horse", 13, false, k2), 0);
	assert_memory_equal(k1, k2, 32);
	assert_int_equal(bk_file_key(&h, "correct horsE", 13, false, k2), 1);
	veil_secmem_free(k1);
	veil_secmem_free(k2);
}

static int tmpfile_fd(char *path)
{
	strcpy(path, "/tmp/veil-test-backup-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* A whole file, read back; then each region altered: refused. */
static void test_file(void **state)
{
	(void)state;
	char p1[64], p2[64], p3[64], err[300];
	int db = tmpfile_fd(p1), out = tmpfile_fd(p2);
	uint8_t data[100000], master[32], mark[624];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	memset(master, 0x5a, sizeof(master));
	memset(mark, 0xa5, sizeof(mark));
	assert_int_equal(write(db, data, sizeof(data)), (ssize_t)sizeof(data));
	struct bk_header h;
	cheap_header(&h);
	uint8_t *key = veil_secmem_alloc(32);
	assert_int_equal(bk_file_key(&h, "correct horse", 13, true, key), 0);
	assert_int_equal(bk_write(out, &h, key, master, mark, sizeof(mark), db, err,
				  sizeof(err)), 0);
	off_t size = lseek(out, 0, SEEK_END);
	uint8_t *file = malloc((size_t)size);
	assert_int_equal(pread(out, file, (size_t)size, 0), size);
	assert_null(memmem(file, (size_t)size, master, sizeof(master)));

	for (int pass = 0; pass < 5; pass++) {
		/* 0: as made; then a byte of the header, the mark, the database
		 * and the tag changed */
		off_t at[] = { -1, 14, (off_t)h.len + 60, size / 2, size - 3 };
		uint8_t *f = malloc((size_t)size);
		memcpy(f, file, (size_t)size);
		if (at[pass] >= 0)
			f[at[pass]] ^= 0x10;
		int in = tmpfile_fd(p3);
		assert_int_equal(write(in, f, (size_t)size), size);
		struct bk_header r;
		int rc = bk_header_parse(f, (size_t)size, &r, err, sizeof(err));
		assert_int_equal(rc, 0);
		uint8_t *k = veil_secmem_alloc(32);
		rc = bk_file_key(&r, "correct horse", 13, false, k);
		int dbo = tmpfile_fd(p1);
		struct bk_contents c;
		if (rc == 0)
			rc = bk_read(in, &r, k, dbo, &c, err, sizeof(err));
		if (pass == 0) {
			assert_int_equal(rc, 0);
			assert_memory_equal(c.master, master, 32);
			assert_int_equal(c.mark_len, sizeof(mark));
			assert_memory_equal(c.mark, mark, sizeof(mark));
			assert_int_equal(c.db_len, sizeof(data));
			uint8_t back[sizeof(data)];
			assert_int_equal(pread(dbo, back, sizeof(back), 0), (ssize_t)sizeof(back));
			assert_memory_equal(back, data, sizeof(data));
			bk_contents_free(&c);
		} else {
			assert_int_not_equal(rc, 0);
		}
		veil_secmem_free(k);
		close(in);
		close(dbo);
		free(f);
	}
	veil_secmem_free(key);
	free(file);
	close(db);
	close(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_random_damage),
		cmocka_unit_test(test_rsa_header),
		cmocka_unit_test(test_passphrase),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
