/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * A string -> index table (open addressing, linear probing, FNV-1a): the
 * tenants of the key table and the sources of the configuration are found
 * by name in O(1), however many there are. The table stores indices only;
 * the caller's key_of() gives the name of an index, so nothing is copied.
 * Never shrinks, no removal (neither tenants nor sources go away).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dpd_pvt.h"

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* A power of two with room for @p n at half load, at least 16. */
static uint32_t size_for(uint32_t n)
{
	uint32_t size = 16;
	while (size < 2 * (uint64_t)n && size < (1u << 31))
		size <<= 1;
	return size;
}

int vdd_index_init(struct vdd_index *x, uint32_t n)
{
	memset(x, 0, sizeof(*x));
	uint32_t size = size_for(n);
	x->slot = calloc(size, sizeof(*x->slot));
	if (x->slot == NULL)
		return -1;
	x->mask = size - 1;
	return 0;
}

int64_t vdd_index_find(const struct vdd_index *x, const char *name,
		       const char *(*key_of)(const void *ctx, uint32_t i),
		       const void *ctx)
{
	if (x->slot == NULL)
		return -1;
	for (uint32_t h = hash(name) & x->mask;; h = (h + 1) & x->mask) {
		uint32_t v = x->slot[h];
		if (v == 0)
			return -1;
		if (strcmp(key_of(ctx, v - 1), name) == 0)
			return v - 1;
	}
}

static void put(uint32_t *slot, uint32_t mask, const char *name, uint32_t i)
{
	uint32_t h = hash(name) & mask;
	while (slot[h] != 0)
		h = (h + 1) & mask;
	slot[h] = i + 1;
}

int vdd_index_add(struct vdd_index *x, const char *name, uint32_t i,
		  const char *(*key_of)(const void *ctx, uint32_t i),
		  const void *ctx)
{
	if (i == UINT32_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (x->slot == NULL || 2 * (uint64_t)(x->n + 1) > (uint64_t)x->mask + 1) {
		uint32_t size = size_for(x->n + 1);
		uint32_t *slot = calloc(size, sizeof(*slot));
		if (slot == NULL)
			return -1;
		for (uint32_t j = 0; x->slot != NULL && j <= x->mask; j++)
			if (x->slot[j] != 0)
				put(slot, size - 1, key_of(ctx, x->slot[j] - 1),
				    x->slot[j] - 1);
		free(x->slot);
		x->slot = slot;
		x->mask = size - 1;
	}
	put(x->slot, x->mask, name, i);
	x->n++;
	return 0;
}

void vdd_index_free(struct vdd_index *x)
{
	free(x->slot);
	memset(x, 0, sizeof(*x));
}
