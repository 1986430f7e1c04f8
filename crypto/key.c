/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Key versions, keyrings, and the per-key precomputation of S2V.
 *
 * S2V (RFC 5297 2.4) over (AD1, ..., ADn, P) folds the associated data into
 * a 16-byte state D before it looks at P. veil's associated data (tenant,
 * version, kind) is fixed per key and kind, so D, and the values derived
 * from it that every name needs, are computed here once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto_pvt.h"

static const char *const kind_ad[2] = { "user", "device" };

void veil_dbl(uint8_t out[VEIL_BLK], const uint8_t in[VEIL_BLK])
{
	/* GF(2^128) doubling of RFC 5297 2.3, constant time. */
	uint8_t carry = in[0] >> 7;
	for (int i = 0; i < VEIL_BLK - 1; i++)
		out[i] = (uint8_t)((in[i] << 1) | (in[i + 1] >> 7));
	out[VEIL_BLK - 1] = (uint8_t)((in[VEIL_BLK - 1] << 1) ^ (0x87 & -carry));
}

/* ---- AES key schedule through ipsec-mb (one manager for the process) ---- */

static pthread_once_t sched_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t sched_lock = PTHREAD_MUTEX_INITIALIZER;
static IMB_MGR *sched_mgr;

static void sched_init(void)
{
	IMB_ARCH arch = IMB_ARCH_NONE;
	IMB_MGR *m = alloc_mb_mgr(0);

	if (m != NULL) {
		init_mb_mgr_auto(m, &arch);
		if (arch == IMB_ARCH_NONE || imb_get_errno(m) != 0) {
			free_mb_mgr(m);
			m = NULL;
		}
	}
	if (m == NULL) {
		/* No AES-NI: ipsec-mb's software path has the same layout. */
		m = alloc_mb_mgr(IMB_FLAG_AESNI_OFF);
		if (m != NULL)
			init_mb_mgr_sse(m);
	}
	sched_mgr = m;
}

int veil_aes128_schedule(const uint8_t key[16], uint8_t sched[11 * VEIL_BLK])
{
	alignas(16) uint8_t dec[11 * VEIL_BLK];

	pthread_once(&sched_once, sched_init);
	if (sched_mgr == NULL) {
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&sched_lock);
	IMB_AES_KEYEXP_128(sched_mgr, key, sched, dec);
	pthread_mutex_unlock(&sched_lock);
	explicit_bzero(dec, sizeof(dec));
	return 0;
}

/* ---- CMAC through OpenSSL, only at key set-up ---- */

static int cmac(const uint8_t k1[16], const uint8_t *msg, size_t len,
		uint8_t out[VEIL_BLK])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
	static char cbc[] = "AES-128-CBC"; /* OSSL_PARAM takes char * */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cbc, 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outl = 0;
	int ok = mc != NULL && EVP_MAC_init(mc, k1, 16, params) == 1 &&
		 EVP_MAC_update(mc, msg, len) == 1 &&
		 EVP_MAC_final(mc, out, &outl, VEIL_BLK) == 1 &&
		 outl == VEIL_BLK;

	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

int veil_siv_ctx_init(struct veil_siv_ctx *c, const uint8_t raw[VEIL_KEY_LEN],
		      const uint8_t *const ad[], const size_t ad_len[],
		      unsigned n_ad)
{
	static const uint8_t zero[VEIL_BLK];
	alignas(16) uint8_t t[VEIL_BLK], dd[VEIL_BLK];
	int rc = -1;

	if (n_ad > VEIL_AD_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(c->raw, raw, VEIL_KEY_LEN);
	c->n_ad = n_ad;
	for (unsigned i = 0; i < n_ad; i++) {
		if (ad_len[i] > UINT16_MAX) {
			errno = EINVAL;
			goto out;
		}
		c->ad[i] = ad[i];
		c->ad_len[i] = (uint16_t)ad_len[i];
	}
	/* The round keys and CMAC subkeys serve only the ipsec-mb backend; a
	 * machine where ipsec-mb cannot run still gets OpenSSL contexts. */
	if (veil_aes128_schedule(raw, c->k1_sched) == 0 &&
	    veil_aes128_schedule(raw + 16, c->k2_sched) == 0) {
		pthread_mutex_lock(&sched_lock);
		IMB_AES_CMAC_SUBKEY_GEN_128(sched_mgr, c->k1_sched, c->k1sub,
					    c->k2sub);
		pthread_mutex_unlock(&sched_lock);
		c->has_sched = true;
	}

	if (cmac(raw, zero, sizeof(zero), c->d) != 0)
		goto fail;
	for (unsigned i = 0; i < n_ad; i++) {
		if (cmac(raw, ad[i], ad_len[i], t) != 0)
			goto fail;
		veil_dbl(dd, c->d);
		for (int b = 0; b < VEIL_BLK; b++)
			c->d[b] = dd[b] ^ t[b];
	}
	veil_dbl(dd, c->d);
	for (int b = 0; b < VEIL_BLK; b++) {
		c->d_k1[b] = c->d[b] ^ c->k1sub[b];
		c->dd_k1[b] = dd[b] ^ c->k1sub[b];
	}
	rc = 0;
	goto out;
fail:
	errno = EIO;
out:
	explicit_bzero(t, sizeof(t));
	explicit_bzero(dd, sizeof(dd));
	if (rc != 0)
		explicit_bzero(c, sizeof(*c));
	return rc;
}

/* ---- tenants and keys ---- */

bool veil_tenant_valid(const char *tenant)
{
	size_t n = 0;

	if (tenant == NULL)
		return false;
	for (; tenant[n] != '\0'; n++) {
		char ch = tenant[n];
		if (n >= VEIL_TENANT_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return n > 0;
}

int veil_key_generate(uint8_t raw[VEIL_KEY_LEN])
{
	return RAND_priv_bytes(raw, VEIL_KEY_LEN) == 1 ? 0 : -1;
}

struct veil_key *veil_key_new(const uint8_t raw[VEIL_KEY_LEN],
			      const char *tenant, uint32_t version)
{
	if (raw == NULL || !veil_tenant_valid(tenant) || version == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct veil_key *k = veil_secmem_alloc(sizeof(*k));
	if (k == NULL)
		return NULL;
	k->version = version;
	k->version_be[0] = (uint8_t)(version >> 24);
	k->version_be[1] = (uint8_t)(version >> 16);
	k->version_be[2] = (uint8_t)(version >> 8);
	k->version_be[3] = (uint8_t)version;
	strcpy(k->tenant, tenant);
	veil_tenant_tag(k->tenant, k->tenant_tag);

	for (int kind = 0; kind < 2; kind++) {
		const uint8_t *ad[3] = { (const uint8_t *)k->tenant,
					 k->version_be,
					 (const uint8_t *)kind_ad[kind] };
		size_t ad_len[3] = { strlen(k->tenant), 4,
				     strlen(kind_ad[kind]) };
		if (veil_siv_ctx_init(&k->ctx[kind], raw, ad, ad_len, 3) != 0) {
			int err = errno;
			veil_secmem_free(k);
			errno = err;
			return NULL;
		}
	}
	return k;
}

void veil_key_free(struct veil_key *key)
{
	veil_secmem_free(key); /* zeroizes */
}

size_t veil_key_locked_bytes(size_t n)
{
	return veil_secmem_need(sizeof(struct veil_key), n);
}

uint32_t veil_key_version(const struct veil_key *key)
{
	return key->version;
}

const char *veil_key_tenant(const struct veil_key *key)
{
	return key->tenant;
}

/* ---- keyrings ---- */

struct veil_keyring *veil_keyring_new(const char *tenant)
{
	if (!veil_tenant_valid(tenant)) {
		errno = EINVAL;
		return NULL;
	}
	struct veil_keyring *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	strcpy(r->tenant, tenant);
	veil_tenant_tag(r->tenant, r->tenant_tag);
	return r;
}

/* The index of the first key whose version is >= version. */
static unsigned ring_lower(const struct veil_keyring *ring, uint32_t version)
{
	unsigned lo = 0, hi = ring->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (ring->keys[mid]->version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int veil_keyring_add(struct veil_keyring *ring, struct veil_key *key)
{
	if (ring == NULL || key == NULL || strcmp(ring->tenant, key->tenant)) {
		errno = EINVAL;
		return -1;
	}
	unsigned at = ring_lower(ring, key->version);
	if (at < ring->n && ring->keys[at]->version == key->version) {
		errno = EEXIST;
		return -1;
	}
	if (ring->n == ring->cap) {
		unsigned cap = ring->cap ? ring->cap * 2 : 4;
		struct veil_key **k = cap > ring->cap ?
			realloc(ring->keys, (size_t)cap * sizeof(*k)) : NULL;
		if (k == NULL) {
			errno = ENOMEM;
			return -1;
		}
		ring->keys = k;
		ring->cap = cap;
	}
	memmove(&ring->keys[at + 1], &ring->keys[at],
		(ring->n - at) * sizeof(ring->keys[0]));
	ring->keys[at] = key;
	ring->n++;
	return 0;
}

unsigned veil_keyring_count(const struct veil_keyring *ring)
{
	return ring->n;
}

const struct veil_key *veil_keyring_get(const struct veil_keyring *ring,
					uint32_t version)
{
	unsigned at = ring_lower(ring, version);
	return at < ring->n && ring->keys[at]->version == version ?
	       ring->keys[at] : NULL;
}

int veil_keyring_destroy(struct veil_keyring *ring, uint32_t version)
{
	unsigned at = ring_lower(ring, version);
	if (at == ring->n || ring->keys[at]->version != version) {
		errno = ENOENT;
		return -1;
	}
	veil_key_free(ring->keys[at]);
	ring->n--;
	memmove(&ring->keys[at], &ring->keys[at + 1],
		(ring->n - at) * sizeof(ring->keys[0]));
	ring->keys[ring->n] = NULL;
	return 0;
}

void veil_keyring_free(struct veil_keyring *ring)
{
	if (ring == NULL)
		return;
	for (unsigned i = 0; i < ring->n; i++)
		veil_key_free(ring->keys[i]);
	free(ring->keys);
	free(ring);
}

/* ---- padding ---- */

size_t veil_padded_len(size_t name_len, bool bucketing)
{
	return veil_padded_len_fast(name_len, bucketing);
}

size_t veil_pad(uint8_t *dst, const uint8_t *name, size_t len, bool bucketing)
{
	size_t plen = veil_padded_len_fast(len, bucketing);
	size_t last = (len + 1 + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;

	/* Zero the block the marker lands in and every block after it, in
	 * whole blocks (dst has room for plen rounded up to a block). */
	if (plen > last)
		last = (plen + VEIL_BLK - 1) / VEIL_BLK * VEIL_BLK;
	for (size_t b = len / VEIL_BLK * VEIL_BLK; b < last; b += VEIL_BLK)
		memset(dst + b, 0, VEIL_BLK);
	memcpy(dst, name, len);
	dst[len] = 0x80;
	return plen;
}

long veil_unpad(const uint8_t *pt, size_t len)
{
	while (len > 0 && pt[len - 1] == 0)
		len--;
	if (len == 0 || pt[len - 1] != 0x80)
		return -1;
	return (long)(len - 1);
}
