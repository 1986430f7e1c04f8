/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * The backup file (format in backup.h and docs/keys.md): its header, the
 * file key from a passphrase (scrypt, OpenSSL's EVP_KDF), and the payload
 * streamed through AES-256-GCM (OpenSSL's EVP), the header as its AAD so
 * that no byte of the file can change unnoticed. Nothing here knows the
 * daemon: the unit test and the fuzz target take it alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "backup.h"
#include "veil_control.h"
#include "veil_crypto.h"

#define CHUNK (64u << 10)

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int bk_header_parse(const uint8_t *buf, size_t len, struct bk_header *h,
		    char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (len < BK_FIXED || memcmp(buf, BK_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a veil backup (no %s header)", BK_MAGIC);
		return -1;
	}
	h->version = buf[8];
	h->protection = buf[9];
	size_t plen = (size_t)get_be(buf + 10, 2);
	if (h->version != BK_VERSION) {
		snprintf(err, errlen, "a backup of format version %u; this veil reads "
			 "version %u", h->version, BK_VERSION);
		return -1;
	}
	if (h->protection == BK_PROT_RSA && len < BK_FIXED + 34 + BK_TAG) {
		snprintf(err, errlen, "a backup cut short (%zu bytes)", len);
		return -1;
	}
	size_t wl = plen >= 34 && len >= BK_FIXED + 34 ?
		    (size_t)get_be(buf + BK_FIXED + 32, 2) : 0;
	bool pass_ok = h->protection == BK_PROT_PASSPHRASE && plen == BK_PASS_BLOCK;
	bool rsa_ok = h->protection == BK_PROT_RSA && plen == 34 + wl &&
		      (wl == 256 || wl == 384 || wl == 512);
	if (!pass_ok && !rsa_ok) {
		snprintf(err, errlen, "a backup protected another way (protection %u, "
			 "%zu bytes): this veil reads a passphrase (protection %u, %d "
			 "bytes) or a recovery RSA key (protection %u, 34 + 256, 384 or "
			 "512 bytes)", h->protection, plen, BK_PROT_PASSPHRASE,
			 BK_PASS_BLOCK, BK_PROT_RSA);
		return -1;
	}
	if (len < BK_FIXED + plen + BK_TAG) {
		snprintf(err, errlen, "a backup cut short (%zu bytes)", len);
		return -1;
	}
	h->created_ms = (int64_t)get_be(buf + 12, 8);
	memcpy(h->nonce, buf + 20, 12);
	const uint8_t *b = buf + BK_FIXED;
	h->len = BK_FIXED + plen;
	if (rsa_ok) {
		memcpy(h->key_sha256, b, 32);
		h->wrapped_len = (uint16_t)wl;
		memcpy(h->wrapped, b + 34, wl);
		return 0;
	}
	memcpy(h->salt, b, 16);
	h->log2_n = b[16];
	h->r = b[17];
	h->p = b[18];
	memcpy(h->check, b + 19, 16);
	/* scrypt's memory is 128 * r * N (and 128 * r * p): bounded, so that a
	 * made-up header cannot make the restore take the machine's memory */
	if (h->log2_n < 10 || h->log2_n > 24 || h->r < 1 || h->r > 32 || h->p < 1 ||
	    h->p > 16 || 128ull * h->r * (1ull << h->log2_n) > BK_SCRYPT_MAXMEM) {
		snprintf(err, errlen, "a backup with a scrypt cost out of range (log2 N "
			 "%u, r %u, p %u)", h->log2_n, h->r, h->p);
		return -1;
	}
	return 0;
}

size_t bk_header_pack(const struct bk_header *h, uint8_t out[BK_HEADER_MAX])
{
	memset(out, 0, BK_HEADER_MAX);
	memcpy(out, BK_MAGIC, 8);
	out[8] = h->version;
	out[9] = h->protection;
	put_be(out + 12, (uint64_t)h->created_ms, 8);
	memcpy(out + 20, h->nonce, 12);
	uint8_t *b = out + BK_FIXED;
	if (h->protection == BK_PROT_RSA) {
		put_be(out + 10, 34u + h->wrapped_len, 2);
		memcpy(b, h->key_sha256, 32);
		put_be(b + 32, h->wrapped_len, 2);
		memcpy(b + 34, h->wrapped, h->wrapped_len);
		return BK_FIXED + 34 + h->wrapped_len;
	}
	put_be(out + 10, BK_PASS_BLOCK, 2);
	memcpy(b, h->salt, 16);
	b[16] = h->log2_n;
	b[17] = h->r;
	b[18] = h->p;
	memcpy(b + 19, h->check, 16);
	return BK_FIXED + BK_PASS_BLOCK;
}

int bk_header_new(struct bk_header *h, int protection)
{
	struct timespec ts;
	memset(h, 0, sizeof(*h));
	clock_gettime(CLOCK_REALTIME, &ts);
	h->version = BK_VERSION;
	h->protection = (uint8_t)protection;
	h->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (protection == BK_PROT_PASSPHRASE) {
		h->log2_n = BK_SCRYPT_LOG2N;
		h->r = BK_SCRYPT_R;
		h->p = BK_SCRYPT_P;
		h->len = BK_FIXED + BK_PASS_BLOCK;
		if (RAND_bytes(h->salt, 16) != 1)
			return -1;
	}
	return RAND_bytes(h->nonce, 12) == 1 ? 0 : -1;
}

int bk_file_key(struct bk_header *h, const char *pass, size_t plen, bool make,
		uint8_t key[32])
{
	uint8_t *out = veil_secmem_alloc(48);
	if (out == NULL)
		return -1;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *k = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	uint64_t n = 1ull << h->log2_n;
	uint32_t r = h->r, p = h->p;
	uint64_t maxmem = BK_SCRYPT_MAXMEM + (1u << 20);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						  (void *)(uintptr_t)pass, plen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, h->salt, 16),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};
	int rc = k != NULL && EVP_KDF_derive(k, out, 48, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
	if (rc == 0 && make)
		memcpy(h->check, out + 32, 16);
	else if (rc == 0 && CRYPTO_memcmp(h->check, out + 32, 16) != 0)
		rc = 1;
	if (rc == 0)
		memcpy(key, out, 32);
	veil_secmem_free(out);
	return rc;
}

int bk_read_passphrase(const char *path, char **out, size_t *len, char *err,
		       size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "passphrase file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "passphrase file %s: must be a regular file that "
			 "group and others cannot read (chmod 600; is %03o)", path,
			 (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	char *buf = veil_secmem_alloc(BK_PASS_MAX + 2);
	if (buf != NULL)
		memset(buf, 0, BK_PASS_MAX + 2);
	ssize_t n = buf != NULL ? read(fd, buf, BK_PASS_MAX + 1) : -1;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "passphrase file %s: %s", path, strerror(errno));
		veil_secmem_free(buf);
		return -1;
	}
	const char *nl = memchr(buf, '\n', (size_t)n); /* the first line */
	size_t l = nl != NULL ? (size_t)(nl - buf) : (size_t)n;
	if (l < BK_PASS_MIN || l > BK_PASS_MAX || memchr(buf, '\0', l) != NULL) {
		snprintf(err, errlen, "passphrase file %s: its first line must be the "
			 "passphrase, %d to %d bytes", path, BK_PASS_MIN, BK_PASS_MAX);
		veil_secmem_free(buf);
		return -1;
	}
	memset(buf + l, 0, (size_t)BK_PASS_MAX + 2 - l);
	*out = buf;
	*len = l;
	return 0;
}

/* Encrypt n bytes of in and write them. */
static int seal(EVP_CIPHER_CTX *x, int fd, const uint8_t *in, size_t n, uint8_t *tmp)
{
	int ol = 0;
	return EVP_EncryptUpdate(x, tmp, &ol, in, (int)n) == 1 &&
	       veil_write_all(fd, tmp, (size_t)ol) == 0 ? 0 : -1;
}

int bk_write(int out_fd, struct bk_header *h, const uint8_t key[32],
	     const uint8_t master[32], const uint8_t *mark, size_t mark_len,
	     int db_fd, char *err, size_t errlen)
{
	struct stat st;
	uint8_t hdr[BK_HEADER_MAX], tag[BK_TAG];
	uint8_t *pre = veil_secmem_alloc(8 + 32 + 4 + BK_MARK_MAX + 8);
	uint8_t *buf = malloc(CHUNK), *tmp = malloc(CHUNK + 32);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int rc = -1, ol = 0;
	if (pre == NULL || buf == NULL || tmp == NULL || x == NULL ||
	    mark_len > BK_MARK_MAX || fstat(db_fd, &st) != 0) {
		snprintf(err, errlen, "cannot start the backup: %s", strerror(errno));
		goto out;
	}
	size_t hl = bk_header_pack(h, hdr);
	/* the payload's fixed part: magic, master key, the mark, the db length */
	size_t pl = 0;
	memcpy(pre, BK_PAYLOAD_MAGIC, 8);
	memcpy(pre + 8, master, 32);
	put_be(pre + 40, mark_len, 4);
	memcpy(pre + 44, mark, mark_len);
	pl = 44 + mark_len;
	put_be(pre + pl, (uint64_t)st.st_size, 8);
	pl += 8;
	if (veil_write_all(out_fd, hdr, hl) != 0) {
		snprintf(err, errlen, "writing the backup: %s", strerror(errno));
		goto out;
	}
	if (EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_EncryptInit_ex(x, NULL, NULL, key, h->nonce) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &ol, hdr, (int)hl) != 1 ||
	    seal(x, out_fd, pre, pl, tmp) != 0) {
		snprintf(err, errlen, "encrypting the backup: %s", errno ? strerror(errno) :
			 "OpenSSL refused");
		goto out;
	}
	uint64_t left = (uint64_t)st.st_size;
	while (left > 0) {
		ssize_t r = pread(db_fd, buf, left < CHUNK ? left : CHUNK,
				  st.st_size - (off_t)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || seal(x, out_fd, buf, (size_t)r, tmp) != 0) {
			snprintf(err, errlen, "writing the backup: %s",
				 r == 0 ? "the database copy was cut short" : strerror(errno));
			goto out;
		}
		left -= (uint64_t)r;
	}
	if (EVP_EncryptFinal_ex(x, tmp, &ol) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, BK_TAG, tag) != 1 ||
	    veil_write_all(out_fd, tmp, (size_t)ol) != 0 || veil_write_all(out_fd, tag, BK_TAG) != 0 ||
	    fsync(out_fd) != 0) {
		snprintf(err, errlen, "writing the backup: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(x);
	veil_secmem_free(pre);
	free(buf);
	if (tmp != NULL)
		OPENSSL_cleanse(tmp, CHUNK + 32);
	free(tmp);
	return rc;
}

/* Decrypt the next n bytes of the payload into out. */
static int open_some(EVP_CIPHER_CTX *x, int fd, uint8_t *out, size_t n, uint8_t *tmp,
		     uint64_t *left)
{
	int ol = 0;
	if (n > *left || veil_read_all(fd, tmp, n) != 0 ||
	    EVP_DecryptUpdate(x, out, &ol, tmp, (int)n) != 1 || (size_t)ol != n)
		return -1;
	*left -= n;
	return 0;
}

int bk_read(int in_fd, const struct bk_header *h, const uint8_t key[32],
	    int db_fd, struct bk_contents *c, char *err, size_t errlen)
{
	struct stat st;
	uint8_t hdr[BK_HEADER_MAX], tag[BK_TAG];
	uint8_t *pre = veil_secmem_alloc(8 + 32 + 4);
	uint8_t *buf = malloc(CHUNK), *tmp = malloc(CHUNK);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int rc = -1, ol = 0;
	memset(c, 0, sizeof(*c));
	c->master = veil_secmem_alloc(32);
	const char *cut = "the file is cut short or altered (its parts do not add up)";
	if (pre == NULL || buf == NULL || tmp == NULL || x == NULL || c->master == NULL ||
	    fstat(in_fd, &st) != 0) {
		snprintf(err, errlen, "cannot read the backup: %s", strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size < h->len + BK_TAG) {
		snprintf(err, errlen, "%s", cut);
		goto out;
	}
	uint64_t left = (uint64_t)st.st_size - h->len - BK_TAG;
	size_t hl = bk_header_pack(h, hdr);
	if (EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_DecryptInit_ex(x, NULL, NULL, key, h->nonce) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &ol, hdr, (int)hl) != 1 ||
	    lseek(in_fd, (off_t)h->len, SEEK_SET) != (off_t)h->len) {
		snprintf(err, errlen, "cannot read the backup: %s", strerror(errno));
		goto out;
	}
	/* nothing decrypted is believed before the tag at the end says it is
	 * the file as made; the lengths read on the way only bound the reads */
	uint8_t be[8];
	if (open_some(x, in_fd, pre, 44, tmp, &left) != 0 ||
	    memcmp(pre, BK_PAYLOAD_MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s", cut);
		goto out;
	}
	memcpy(c->master, pre + 8, 32);
	c->mark_len = (size_t)get_be(pre + 40, 4);
	if (c->mark_len > BK_MARK_MAX ||
	    open_some(x, in_fd, c->mark, c->mark_len, tmp, &left) != 0 ||
	    open_some(x, in_fd, be, 8, tmp, &left) != 0 ||
	    (c->db_len = get_be(be, 8)) != left) {
		snprintf(err, errlen, "%s", cut);
		goto out;
	}
	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		if (open_some(x, in_fd, buf, n, tmp, &left) != 0 ||
		    veil_write_all(db_fd, buf, n) != 0) {
			snprintf(err, errlen, "restoring the database: %s", strerror(errno));
			goto out;
		}
	}
	if (veil_read_all(in_fd, tag, BK_TAG) != 0 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, BK_TAG, tag) != 1 ||
	    EVP_DecryptFinal_ex(x, buf, &ol) != 1) {
		snprintf(err, errlen, "the backup does not authenticate (AES-GCM tag "
			 "mismatch): the file was altered or damaged");
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(x);
	veil_secmem_free(pre);
	if (buf != NULL)
		OPENSSL_cleanse(buf, CHUNK);
	free(buf);
	free(tmp);
	if (rc != 0)
		bk_contents_free(c);
	return rc;
}

void bk_contents_free(struct bk_contents *c)
{
	veil_secmem_free(c->master);
	OPENSSL_cleanse(c->mark, sizeof(c->mark));
	memset(c, 0, sizeof(*c));
}
