/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Key wrapping: data keys and the audit key are stored only wrapped by the
 * master key-encryption key, AES-256 key wrap with padding (RFC 5649)
 * through OpenSSL. The master key is a root-only file outside the database,
 * made on first start; a database copy alone reveals nothing. A tenant
 * with its own key (BYOK) has its keys wrapped by an RSA key in an HSM
 * instead: byok.c, which ctl_unwrap_key hands those blobs to. The master key also authenticates what is kept outside
 * the database (the governance log's mark), through ctl_wrap_tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "ctl_pvt.h"

struct ctl_wrap {
	uint8_t *kek; /* 32 bytes, locked memory */
	uint8_t *sub; /* 64 bytes, locked memory: a derived subkey, and its label */
	ctl_unwrap_fn byok;  /* the keys a tenant's own KEK wraps (byok.c) */
	void *byok_ctx;
};

void ctl_wrap_set_byok(struct ctl_wrap *w, ctl_unwrap_fn fn, void *ctx)
{
	w->byok = fn;
	w->byok_ctx = ctx;
}

static int read_kek(const char *path, uint8_t kek[32], char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		snprintf(err, errlen, "master key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 32) {
		snprintf(err, errlen, "master key %s: not a 32-byte file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		snprintf(err, errlen, "master key %s: must be owned by uid %u and "
			 "mode 0600 (is %03o)", path, (unsigned)geteuid(),
			 (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, kek, 32);
	close(fd);
	if (n != 32) {
		snprintf(err, errlen, "master key %s: short read", path);
		return -1;
	}
	return 0;
}

/* The new file's directory entry must be durable before any key is
 * wrapped with it: fsync the directory too. */
int ctl_fsync_dir(const char *path)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int create_kek(const char *path, uint8_t kek[32], char *err, size_t errlen)
{
	if (RAND_priv_bytes(kek, 32) != 1) {
		snprintf(err, errlen, "no random bytes for the master key");
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ssize_t n = fd < 0 ? -1 : write(fd, kek, 32);
	if (fd < 0 || n != 32 || fsync(fd) != 0 || ctl_fsync_dir(path) != 0) {
		snprintf(err, errlen, "master key %s: cannot create: %s", path,
			 n >= 0 && n != 32 ? "short write" : strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	close(fd);
	return 0;
}

struct ctl_wrap *ctl_wrap_open(const char *path, bool allow_create, char *err,
			       size_t errlen)
{
	struct ctl_wrap *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->kek = veil_secmem_alloc(32)) == NULL ||
	    (w->sub = veil_secmem_alloc(64)) == NULL) {
		snprintf(err, errlen, "no locked memory for the master key: %s",
			 strerror(errno));
		if (w != NULL)
			veil_secmem_free(w->kek);
		free(w);
		return NULL;
	}
	memset(w->sub, 0, 64);
	int rc;
	if (access(path, F_OK) != 0 && errno == ENOENT && allow_create)
		rc = create_kek(path, w->kek, err, errlen);
	else
		rc = read_kek(path, w->kek, err, errlen);
	if (rc != 0) {
		ctl_wrap_close(w);
		return NULL;
	}
	return w;
}

const uint8_t *ctl_wrap_master(const struct ctl_wrap *w)
{
	return w->kek;
}

void ctl_wrap_close(struct ctl_wrap *w)
{
	if (w == NULL)
		return;
	veil_secmem_free(w->kek);
	veil_secmem_free(w->sub);
	free(w);
}

static int wrap_op(struct ctl_wrap *w, int enc, const uint8_t *in, size_t len,
		   uint8_t *out, int *outl)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, ok = 0;
	if (x != NULL) {
		EVP_CIPHER_CTX_set_flags(x, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		ok = EVP_CipherInit_ex(x, EVP_aes_256_wrap_pad(), NULL, w->kek, NULL, enc) == 1 &&
		     EVP_CipherUpdate(x, out, &l1, in, (int)len) == 1 &&
		     EVP_CipherFinal_ex(x, out + l1, &l2) == 1;
	}
	EVP_CIPHER_CTX_free(x);
	*outl = l1 + l2;
	return ok ? 0 : -1;
}

int ctl_wrap_key(struct ctl_wrap *w, const uint8_t key[32], uint8_t out[64])
{
	int n;
	return wrap_op(w, 1, key, 32, out, &n) == 0 ? n : -1;
}

int ctl_unwrap_key(struct ctl_wrap *w, const uint8_t *in, size_t len,
		   uint8_t key[32])
{
	uint8_t buf[64];
	int n;
	/* an RFC 5649 wrap of 32 bytes is 40; anything longer is a BYOK wrap */
	if (len > 48 && w->byok != NULL)
		return w->byok(w->byok_ctx, in, len, key);
	if (len < 16 || len > 48 || wrap_op(w, 0, in, len, buf, &n) != 0 || n != 32) {
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(key, buf, 32);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* HKDF-SHA256 of the master key with the label as info: a subkey for one
 * purpose only, so that a tag made with it is never a wrapped key's. The
 * last label's subkey is kept (locked) for the next call. */
static int subkey(struct ctl_wrap *w, const char *label)
{
	size_t ll = strlen(label);
	if (ll >= 32)
		return -1;
	if (w->sub[32] != '\0' && strcmp((char *)w->sub + 32, label) == 0)
		return 0;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	/* OSSL_PARAM takes char * and void *: its own copies of the texts */
	static char sha256[] = "SHA256", salt[] = "veil-controld";
	char info[32]; /* ll < 32, above */
	memcpy(info, label, ll);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, sha256, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, w->kek, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, 13),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ll),
		OSSL_PARAM_construct_end(),
	};
	int ok = k != NULL && EVP_KDF_derive(k, w->sub, 32, p) == 1;
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
	memset(w->sub + 32, 0, 32);
	if (ok)
		memcpy(w->sub + 32, label, ll);
	else
		explicit_bzero(w->sub, 32);
	return ok ? 0 : -1;
}

int ctl_wrap_tag(struct ctl_wrap *w, const char *label, const uint8_t *data,
		 size_t len, uint8_t out[32])
{
	size_t outl = 0;
	if (subkey(w, label) != 0)
		return -1;
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, w->sub, 32, data, len,
			 out, 32, &outl) != NULL && outl == 32 ? 0 : -1;
}
