/* SPDX-License-Identifier: LicenseRef-veil-proprietary */
/*
 * Locked, non-dumpable memory for keys, names and crypto scratch.
 *
 * Every mapping is mmap'd, mlock'd and MADV_DONTDUMP'd once, and holds
 * secrets only: what describes it (free bitmaps, lists) lives in the
 * ordinary heap, so that locked memory (RLIMIT_MEMLOCK) goes to keys.
 *
 * Small requests (up to half a page: keys, key buffers) are packed into
 * slabs: a slab is a mapping of a few pages cut into objects of one size
 * class (a multiple of 64 bytes, so objects are 64-byte aligned and no two
 * secrets share a cache line). A slab's page count is chosen so that the
 * objects fill it (a 1280-byte key: 16 in 5 pages). A freed object is
 * zeroized at once; a slab whose objects are all free is zeroized,
 * unlocked and unmapped, except one per size class that is kept to avoid
 * mapping and locking again at the boundary.
 *
 * Larger requests are handed out in whole pages from a pool of regions
 * whose freed runs are zeroized and stay mapped and locked for reuse (per
 * thread scratch); requests bigger than half a region get a mapping of
 * their own, which is zeroized and unmapped on free.
 */
#include <errno.h>
#include <pthread.h>
#include <search.h>
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

#define SLAB_ALIGN     64  /* object alignment and size granule */
#define SLAB_MAX_PAGES 8
#define SLAB_MAX_OBJS  (SLAB_MAX_PAGES * 4096 / SLAB_ALIGN)
/* size classes: 64, 128, ... up to half a page */
#define SLAB_CLASSES   (4096 / 2 / SLAB_ALIGN)

struct slab {
	struct slab *next, *prev; /* the class's slabs with a free object */
	uint8_t *base;
	size_t bytes;             /* of the mapping */
	unsigned cls;             /* object size: (cls + 1) * SLAB_ALIGN */
	unsigned nobj, nfree;
	uint64_t used[SLAB_MAX_OBJS / 64];
};

struct slab_class {
	struct slab *partial;     /* slabs with at least one free object */
	unsigned empty;           /* slabs in it with every object free */
	size_t pages;             /* per slab, chosen once */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regions;
static struct big *bigs;
static size_t page_size;
static struct slab_class classes[SLAB_CLASSES];
static void *slab_tree;           /* every slab, by address range (tsearch) */
static size_t slab_pages_mapped;  /* pages of every slab */
static size_t slab_objs_used;

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

/* ---- slabs ---- */

/* Order slabs by address; a probe (bytes == 0) matches the slab that
 * holds its address. Slabs never overlap, so this is a total order. */
static int slab_cmp(const void *a, const void *b)
{
	const struct slab *x = a, *y = b;
	if (x->bytes == 0 || y->bytes == 0) {
		const struct slab *probe = x->bytes == 0 ? x : y;
		const struct slab *s = x->bytes == 0 ? y : x;
		int sign = x->bytes == 0 ? 1 : -1;
		if (probe->base < s->base)
			return -sign;
		if (probe->base >= s->base + s->bytes)
			return sign;
		return 0;
	}
	return x->base < y->base ? -1 : x->base > y->base;
}

static size_t class_size(unsigned cls)
{
	return (size_t)(cls + 1) * SLAB_ALIGN;
}

/* The pages per slab of a class: the fewest (up to SLAB_MAX_PAGES) that
 * the objects fill best, so that little locked memory is left over. */
static size_t class_pages(unsigned cls)
{
	struct slab_class *c = &classes[cls];
	if (c->pages != 0)
		return c->pages;
	size_t osz = class_size(cls), best = 1, best_waste = SIZE_MAX;
	for (size_t n = 1; n <= SLAB_MAX_PAGES; n++) {
		size_t bytes = n * page_size;
		if (bytes / osz > SLAB_MAX_OBJS)
			break;
		size_t waste = (bytes % osz) * SLAB_MAX_PAGES / n; /* per page */
		if (waste < best_waste) {
			best = n;
			best_waste = waste;
		}
		if (waste == 0)
			break;
	}
	c->pages = best;
	return best;
}

static void slab_list_add(struct slab_class *c, struct slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial != NULL)
		c->partial->prev = s;
	c->partial = s;
}

static void slab_list_del(struct slab_class *c, struct slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

static struct slab *slab_new(unsigned cls)
{
	struct slab *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cls = cls;
	s->bytes = class_pages(cls) * page_size;
	s->nobj = (unsigned)(s->bytes / class_size(cls));
	s->nfree = s->nobj;
	s->base = map_locked(s->bytes);
	if (s->base == NULL || tsearch(s, &slab_tree, slab_cmp) == NULL) {
		int err = s->base == NULL ? errno : ENOMEM;
		if (s->base != NULL)
			unmap_locked(s->base, s->bytes);
		free(s);
		errno = err;
		return NULL;
	}
	slab_pages_mapped += s->bytes / page_size;
	classes[cls].empty++;
	slab_list_add(&classes[cls], s);
	return s;
}

static void *slab_alloc(size_t size)
{
	unsigned cls = (unsigned)((size + SLAB_ALIGN - 1) / SLAB_ALIGN - 1);
	struct slab_class *c = &classes[cls];
	struct slab *s = c->partial;
	if (s == NULL && (s = slab_new(cls)) == NULL)
		return NULL;
	unsigned i = 0;
	for (unsigned w = 0; w < (s->nobj + 63) / 64; w++) {
		uint64_t freebits = ~s->used[w];
		if (freebits != 0) {
			i = w * 64 + (unsigned)__builtin_ctzll(freebits);
			break;
		}
	}
	s->used[i / 64] |= 1ull << (i % 64);
	if (s->nfree-- == s->nobj)
		c->empty--;
	if (s->nfree == 0)
		slab_list_del(c, s);
	slab_objs_used++;
	return s->base + (size_t)i * class_size(cls);
}

/* Free p if a slab holds it: true, else false (not a slab object). */
static bool slab_free(void *p)
{
	struct slab probe = { .base = p };
	void **found = tfind(&probe, &slab_tree, slab_cmp);
	if (found == NULL)
		return false;
	struct slab *s = *found;
	struct slab_class *c = &classes[s->cls];
	size_t osz = class_size(s->cls), off = (size_t)((uint8_t *)p - s->base);
	unsigned i = (unsigned)(off / osz);
	/* not an object's start, or already free: a caller bug; refuse */
	if (off % osz != 0 || i >= s->nobj || !(s->used[i / 64] & (1ull << (i % 64))))
		return true;
	explicit_bzero(p, osz);
	s->used[i / 64] &= ~(1ull << (i % 64));
	if (s->nfree++ == 0)
		slab_list_add(c, s);
	slab_objs_used--;
	if (s->nfree < s->nobj)
		return true;
	if (++c->empty == 1)
		return true; /* kept: the class's one empty slab */
	c->empty--;
	slab_list_del(c, s);
	tdelete(s, &slab_tree, slab_cmp);
	slab_pages_mapped -= s->bytes / page_size;
	unmap_locked(s->base, s->bytes);
	free(s);
	return true;
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
	if (size <= (size_t)SLAB_CLASSES * SLAB_ALIGN && page_size == 4096) {
		p = slab_alloc(size);
		goto out;
	}
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
	if (slab_tree != NULL && slab_free(p))
		goto out;
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

void veil_secmem_stats(struct veil_secmem_stats *st)
{
	pthread_mutex_lock(&pool_lock);
	memset(st, 0, sizeof(*st));
	st->slab_pages = slab_pages_mapped;
	st->slab_objects = slab_objs_used;
	for (struct region *r = regions; r != NULL; r = r->next)
		st->region_pages += r->npages;
	for (struct big *b = bigs; b != NULL; b = b->next)
		st->big_bytes += b->size;
	pthread_mutex_unlock(&pool_lock);
}

size_t veil_secmem_need(size_t size, size_t count)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	if (count == 0 || size == 0)
		return 0;
	if (size > (size_t)SLAB_CLASSES * SLAB_ALIGN || ps != 4096)
		return count * ((size + ps - 1) / ps * ps);
	unsigned cls = (unsigned)((size + SLAB_ALIGN - 1) / SLAB_ALIGN - 1);
	pthread_mutex_lock(&pool_lock);
	if (page_size == 0)
		page_size = ps;
	size_t pages = class_pages(cls);
	pthread_mutex_unlock(&pool_lock);
	size_t per_slab = pages * ps / class_size(cls);
	return (count + per_slab - 1) / per_slab * pages * ps;
}
