/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* libFuzzer target for every parser of the token engine: token text,
 * tokens in free text, binary SIV blobs, base32; and a name round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_pvt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct veil_engine *eng;
static struct veil_key *key;
static struct veil_keyring *ring;

static void init(void)
{
	/* a fixed key: the seed corpus holds tokens made with it */
	uint8_t raw[VEIL_KEY_LEN];
	for (int i = 0; i < VEIL_KEY_LEN; i++)
		raw[i] = (uint8_t)i;
	eng = veil_engine_new(NULL);
	key = veil_key_new(raw, "acme", 1);
	ring = veil_keyring_new("acme");
	if (eng == NULL || key == NULL || ring == NULL ||
	    veil_keyring_add(ring, veil_key_new(raw, "acme", 1)) != 0)
		abort();
}

static void check_decrypt(const uint8_t *data, size_t size, enum veil_kind k)
{
	uint8_t out[VEIL_NAME_MAX];
	struct veil_item it = { .in = data, .in_len = size, .out = out,
				.out_cap = sizeof(out) };
	veil_token_decrypt_batch(eng, ring, k, &it, 1);
	if (it.status < 0 || it.status >= VEIL_STATUS_COUNT)
		abort();
	if (it.status != VEIL_OK && it.out_len != 0)
		abort();
	if (it.status == VEIL_OK && it.out_len > VEIL_NAME_MAX)
		abort();
}

static void check_find(const uint8_t *data, size_t size)
{
	size_t pos = 0, off, len;
	while (pos < size &&
	       veil_token_find((const char *)data + pos, size - pos, &off, &len)) {
		if (off + len > size - pos || len < 9)
			abort();
		if (strncasecmp((const char *)data + pos + off, "veil_", 5) != 0)
			abort();
		pos += off + len;
	}
}

static void check_b32(const uint8_t *data, size_t size)
{
	uint8_t bin[2048];
	char txt[4096];
	long n = veil_b32_decode(bin, sizeof(bin), (const char *)data, size);
	if (n < 0)
		return;
	/* canonical: re-encoding gives the input back, in lower case */
	if (veil_b32_encoded_len((size_t)n) != size)
		abort();
	veil_b32_encode(txt, bin, (size_t)n);
	for (size_t i = 0; i < size; i++) {
		uint8_t ch = data[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch + 32);
		if ((uint8_t)txt[i] != ch)
			abort();
	}
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
	uint8_t tok[VEIL_TOKEN_MAX], back[VEIL_NAME_MAX];
	struct veil_item it = { .in = data, .in_len = size, .out = tok,
				.out_cap = sizeof(tok) };
	veil_token_encrypt_batch(eng, key, VEIL_KIND_DEVICE, &it, 1);
	if (size > VEIL_NAME_MAX) {
		if (it.status != VEIL_E_TOOLONG)
			abort();
		return;
	}
	if (it.status != VEIL_OK)
		abort();
	struct veil_item d = { .in = tok, .in_len = it.out_len, .out = back,
			       .out_cap = sizeof(back) };
	veil_token_decrypt_batch(eng, ring, VEIL_KIND_DEVICE, &d, 1);
	if (d.status != VEIL_OK || d.out_len != size ||
	    (size && memcmp(back, data, size) != 0))
		abort();
	size_t off, len;
	if (!veil_token_find((const char *)tok, it.out_len, &off, &len) ||
	    off != 0 || len != it.out_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (eng == NULL)
		init();
	check_decrypt(data, size, VEIL_KIND_ANY);
	check_decrypt(data, size, VEIL_KIND_USER);
	check_find(data, size);
	check_b32(data, size);

	uint8_t out[VEIL_NAME_MAX];
	struct veil_item it = { .in = data, .in_len = size, .out = out,
				.out_cap = sizeof(out) };
	veil_siv_decrypt_batch(eng, key, VEIL_KIND_USER, &it, 1);
	if (it.status != VEIL_OK && it.out_len != 0)
		abort();

	enum veil_kind kind;
	uint32_t version;
	uint8_t blob[VEIL_HDR_LEN + VEIL_SIV_MAX];
	size_t blob_len = 0;
	if (veil_token_parse(data, size, &kind, &version, blob, sizeof(blob),
			     &blob_len) == VEIL_OK &&
	    (blob_len > sizeof(blob) || version == 0))
		abort();

	check_roundtrip(data, size);
	return 0;
}
