/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Locked, non-dumpable memory for keys, names and crypto scratch.
 *
 * A pool of regions, each mmap'd, mlock'd and MADV_DONTDUMP'd once. Memory
 * is handed out in whole pages so that two secrets never share a page with
 * ordinary heap data. Freed runs are zeroized and stay mapped and locked for
 * reuse: locking is costly and the pool stays small (keys, per-thread
 * scratch). Requests bigger than a region get a mapping of their own, which
 * is zeroized and unmapped on free.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto_pvt.h"

#define REGION_PAGES 64

struct region {
	struct region *next;
	uint8_t *base;
	size_t npages;
	uint16_t run[REGION_PAGES]; /* at a run's first page: its length */
	uint8_t used[REGION_PAGES];
};

struct big {
	struct big *next;
	uint8_t *base;
	size_t size;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static struct big *bigs;
static size_t page_size;

static void *map_locked(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mlock(p, size) != 0) {
		int err = errno;
		munmap(p, size);
		errno = err;
		return NULL;
	}
	/* Not fatal on kernels without MADV_DONTDUMP, but ours all have it. */
	if (madvise(p, size, MADV_DONTDUMP) != 0) {
		int err = errno;
		munlock(p, size);
		munmap(p, size);
		errno = err;
		return NULL;
	}
	return p;
}

static void unmap_locked(void *p, size_t size)
{
	explicit_bzero(p, size);
	munlock(p, size);
	munmap(p, size);
}

static struct region *region_new(void)
{
	struct region *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->npages = REGION_PAGES;
	r->base = map_locked(REGION_PAGES * page_size);
	if (r->base == NULL) {
		int err = errno;
		free(r);
		errno = err;
		return NULL;
	}
	return r;
}

/* First fit of npages free pages in r; returns the first page or -1. */
static long region_find(const struct region *r, size_t npages)
{
	size_t start = 0, len = 0;

	for (size_t i = 0; i < r->npages; i++) {
		if (r->used[i]) {
			len = 0;
			continue;
		}
		if (len == 0)
			start = i;
		if (++len == npages)
			return (long)start;
	}
	return -1;
}

static void *alloc_big(size_t size)
{
	struct big *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->size = size;
	b->base = map_locked(size);
	if (b->base == NULL) {
		int err = errno;
		free(b);
		errno = err;
		return NULL;
	}
	b->next = bigs;
	bigs = b;
	return b->base;
}

void *veil_secmem_alloc(size_t size)
{
	void *p = NULL;

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&pool_lock);
	if (page_size == 0)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	size_t npages = (size + page_size - 1) / page_size;

	if (npages > REGION_PAGES / 2) {
		p = alloc_big(npages * page_size);
		goto out;
	}
	for (struct region *r = regions;; r = r->next) {
		if (r == NULL) {
			r = region_new();
			if (r == NULL)
				goto out;
			r->next = regions;
			regions = r;
		}
		long first = region_find(r, npages);
		if (first < 0)
			continue;
		memset(&r->used[first], 1, npages);
		r->run[first] = (uint16_t)npages;
		p = r->base + (size_t)first * page_size;
		break;
	}
out:
	pthread_mutex_unlock(&pool_lock);
	return p;
}

void veil_secmem_free(void *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&pool_lock);
	for (struct region *r = regions; r != NULL; r = r->next) {
		uint8_t *u = p;
		if (u < r->base || u >= r->base + r->npages * page_size)
			continue;
		size_t first = (size_t)(u - r->base) / page_size;
		size_t n = r->run[first];
		explicit_bzero(u, n * page_size);
		memset(&r->used[first], 0, n);
		r->run[first] = 0;
		goto out;
	}
	for (struct big **bp = &bigs; *bp != NULL; bp = &(*bp)->next) {
		struct big *b = *bp;
		if (b->base != p)
			continue;
		*bp = b->next;
		unmap_locked(b->base, b->size);
		free(b);
		goto out;
	}
	/* Not ours: a caller bug. Refuse to touch it rather than corrupt. */
out:
	pthread_mutex_unlock(&pool_lock);
}

size_t veil_secmem_pool_pages(void)
{
	size_t n = 0;

	pthread_mutex_lock(&pool_lock);
	for (struct region *r = regions; r != NULL; r = r->next)
		n += r->npages;
	pthread_mutex_unlock(&pool_lock);
	return n;
}
