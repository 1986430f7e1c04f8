/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/* Shared by the crypto unit tests: every backend this machine has. */
#ifndef VEIL_TEST_BACKENDS_H
#define VEIL_TEST_BACKENDS_H

#include <stdio.h>
#include <string.h>

#include "veil_crypto.h"

#define MAX_ENGINES (VEIL_ARCH_COUNT + 1)

/* Options of every engine this machine can run: OpenSSL first (the
 * reference), then ipsec-mb for each architecture the CPU and the library
 * support (the others are not part of this machine). Prints them. Returns
 * the count. */
static inline unsigned all_backends(struct veil_engine_opts *o, bool no_bucketing)
{
	unsigned n = 0;
	o[n++] = (struct veil_engine_opts){ .backend = VEIL_BACKEND_OPENSSL,
					    .no_bucketing = no_bucketing };
	for (int a = VEIL_ARCH_NOAESNI; a < VEIL_ARCH_COUNT; a++) {
		if (!veil_arch_supported((enum veil_arch)a)) {
			printf("# not here: ipsec-mb/%s (this CPU or ipsec-mb build lacks it)\n",
			       veil_arch_name((enum veil_arch)a));
			continue;
		}
		o[n++] = (struct veil_engine_opts){ .backend = VEIL_BACKEND_IPSECMB,
						    .arch = (enum veil_arch)a,
						    .no_bucketing = no_bucketing };
	}
	return n;
}

static inline size_t unhex(uint8_t *dst, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		dst[i] = (uint8_t)v;
	}
	return n;
}

/* splitmix64: reproducible test data (never keys) */
static inline uint64_t test_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
