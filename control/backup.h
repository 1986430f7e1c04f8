/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Backup and restore of the appliance's state (backup.c, backup_file.c):
 * the database, the master key that wraps it and the governance log's
 * mark, in one file encrypted with AES-256-GCM under a key derived from a
 * passphrase (scrypt). The format is in docs/keys.md ("Backup and
 * restore"):
 *
 *   0   8  "VEILBAK1"
 *   8   1  format version, 1
 *   9   1  protection: 1 = passphrase, scrypt; 2 = a recovery RSA key
 *  10   2  L, the protection block's length (big-endian)
 *  12   8  when the backup was made, ms since 1970 (big-endian)
 *  20  12  the AES-256-GCM nonce
 *  32   L  protection 1 (L = 35): salt (16), log2 N (1), r (1), p (1),
 *          check (16): the scrypt output's bytes 32..47
 *          protection 2 (L = 34 + W): the SHA-256 of the recovery public
 *          key's DER SubjectPublicKeyInfo (32), W (2), and the file key
 *          wrapped RSA-OAEP (SHA-256, MGF1-SHA-256) to it (W: 256, 384 or
 *          512 bytes: RSA 2048, 3072, 4096)
 *  32+L    the payload, encrypted; the header (bytes 0..32+L) is its AAD
 *  end-16  the GCM tag
 *
 * The payload: "VEILSTA1", the master key (32), the mark's length (4,
 * big-endian) and the mark file, the database's length (8, big-endian)
 * and the database (a VACUUM INTO copy).
 */
#ifndef VEIL_BACKUP_H
#define VEIL_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_MAGIC "VEILBAK1"
#define BK_VERSION 1
#define BK_FIXED 32            /* the header before the protection block */
#define BK_PROT_PASSPHRASE 1
#define BK_PROT_RSA 2
#define BK_PASS_BLOCK 35
#define BK_RSA_WRAPPED_MAX 512
#define BK_HEADER_MAX (BK_FIXED + 34 + BK_RSA_WRAPPED_MAX)
#define BK_TAG 16
#define BK_PAYLOAD_MAGIC "VEILSTA1"
#define BK_MARK_MAX 4096
/* scrypt's cost: the defaults a backup is made with, and what a file may
 * ask for (a hostile header cannot make the restore use more than
 * BK_SCRYPT_MAXMEM of memory) */
#define BK_SCRYPT_LOG2N 17
#define BK_SCRYPT_R 8
#define BK_SCRYPT_P 1
#define BK_SCRYPT_MAXMEM (1ull << 30)
#define BK_PASS_MIN 8
#define BK_PASS_MAX 1024

struct bk_header {
	uint8_t version, protection;
	int64_t created_ms;
	uint8_t nonce[12];
	uint8_t salt[16];
	uint8_t log2_n, r, p;
	uint8_t check[16];
	/* protection 2 */
	uint8_t key_sha256[32];
	uint16_t wrapped_len;
	uint8_t wrapped[BK_RSA_WRAPPED_MAX];
	size_t len;            /* the header's bytes: the AAD */
};

/* Parse the first len bytes of a backup file. 0, or -1 with why in err
 * (not a backup, a newer format, a protection or cost it does not take,
 * too short). Never reads past len. */
int bk_header_parse(const uint8_t *buf, size_t len, struct bk_header *h,
		    char *err, size_t errlen);
/* The header's bytes (h->len of them, at most BK_HEADER_MAX). */
size_t bk_header_pack(const struct bk_header *h, uint8_t out[BK_HEADER_MAX]);
/* A new header: nonce, now; for a passphrase (protection 1) the salt and
 * the default cost; for a recovery key (2), the caller fills key_sha256
 * and wrapped. */
int bk_header_new(struct bk_header *h, int protection);
/* The file key (32 bytes, into locked memory the caller gives) from the
 * passphrase; fills h->check when make, else compares it: 1 when the
 * passphrase is not the one the file was made with, -1 on an error. */
int bk_file_key(struct bk_header *h, const char *pass, size_t plen, bool make,
		uint8_t key[32]);
/* Read a passphrase file: a regular file that group and others cannot
 * read, its first line (the newline dropped), BK_PASS_MIN to BK_PASS_MAX
 * bytes. Into locked memory (*out, veil_secmem_free it). 0 or -1. */
int bk_read_passphrase(const char *path, char **out, size_t *len, char *err,
		       size_t errlen);

/* Write a whole backup to out_fd (a new, empty file): the header, then the
 * payload from the master key, the mark's bytes and the database file
 * db_fd, then the tag. 0, or -1 with why. */
int bk_write(int out_fd, struct bk_header *h, const uint8_t key[32],
	     const uint8_t master[32], const uint8_t *mark, size_t mark_len,
	     int db_fd, char *err, size_t errlen);

/* What a restore takes out of a backup. */
struct bk_contents {
	uint8_t *master;        /* 32 bytes, locked memory */
	uint8_t mark[BK_MARK_MAX];
	size_t mark_len;
	uint64_t db_len;
};
/* Decrypt the backup in_fd (positioned after the header h) with key: the
 * database into db_fd, the rest into c. -1 with why when the tag does not
 * match (the file was altered or cut) or it does not read: then what was
 * written to db_fd must be thrown away. */
int bk_read(int in_fd, const struct bk_header *h, const uint8_t key[32],
	    int db_fd, struct bk_contents *c, char *err, size_t errlen);
void bk_contents_free(struct bk_contents *c);

#endif
