// SPDX-License-Identifier: MIT
/*
 * ukernel/pcache.c - the page cache's core: the cache object and its
 * options, mappings and their page tables, page references and the page
 * lock, allocation against the size limit and LRU eviction.
 *
 * Sections: clock, cache, page lock and references, page table, LRU and
 * allocation, mappings.
 */
#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "pcache_internal.h"
#include "uk_time.h"

/* ---- clock ----------------------------------------------------------- */

/* Dirty-age clock: the option's (tests) or CLOCK_MONOTONIC. */
uint64_t pcache_now(struct pcache *pc)
{
	if (pc->o.clock)
		return pc->o.clock(pc->o.clock_arg);
	return uk_mono_ns();
}

/* ---- cache ------------------------------------------------------------ */

_Thread_local unsigned int pcache_hit_shard_id; /* 1-based; 0: not yet */

unsigned int pcache_hit_shard_slow(void)
{
	static atomic_uint next;

	pcache_hit_shard_id =
		atomic_fetch_add(&next, 1) % PCACHE_HIT_SHARDS + 1;
	return pcache_hit_shard_id;
}

void pcache_opts_default(struct pcache_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size_limit = 256ull << 20;
	o->dirty_background_ratio = 10;
	o->dirty_ratio = 20;
	o->dirty_expire_ns = 30ull * 1000000000ull;
	o->writeback_interval_ns = 5ull * 1000000000ull;
	o->readahead_max = 128u << 10;
}

/*
 * Create a cache with options o (NULL: defaults) and start its writeback
 * thread unless o->no_thread. Returns 0 and *out, or -EINVAL (ratios out of
 * range, limit under 16 pages) / -ENOMEM / the thread's error.
 */
static void frame_pool_reserve(uint64_t limit_pages);
static void frame_pool_put(struct pcache_frame_chunk c);

int pcache_create(const struct pcache_opts *o, struct pcache **out)
{
	struct pcache *pc;
	int ret;

	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	if (o)
		pc->o = *o;
	else
		pcache_opts_default(&pc->o);
	if (pc->o.size_limit < 16 * PCACHE_PAGE_SIZE ||
	    pc->o.dirty_ratio > 100 || pc->o.dirty_background_ratio > 100 ||
	    pc->o.dirty_background_ratio > pc->o.dirty_ratio) {
		ret = -EINVAL;
		goto err_free;
	}
	pc->limit_pages = pc->o.size_limit >> PCACHE_PAGE_SHIFT;
	pc->bg_thresh = pc->limit_pages * pc->o.dirty_background_ratio / 100;
	pc->dirty_thresh = pc->limit_pages * pc->o.dirty_ratio / 100;
	if (!pc->dirty_thresh)
		pc->dirty_thresh = 1;
	pc->ra_max_pages = pc->o.readahead_max >> PCACHE_PAGE_SHIFT;
	if (pc->ra_max_pages > PCACHE_MAX_RA)
		pc->ra_max_pages = PCACHE_MAX_RA;

	pthread_mutex_init(&pc->lock, NULL);
	pthread_mutex_init(&pc->lru_lock, NULL);
	pthread_mutex_init(&pc->frame_lock, NULL);
	frame_pool_reserve(pc->limit_pages);
	pthread_cond_init(&pc->wb_cv, NULL);
	pthread_cond_init(&pc->progress_cv, NULL);

	if (!pc->o.no_thread) {
		ret = pcache_thread_start(pc);
		if (ret)
			goto err_destroy;
	}
	*out = pc;
	return 0;

err_destroy:
	pthread_mutex_destroy(&pc->frame_lock);
	pthread_cond_destroy(&pc->progress_cv);
	pthread_cond_destroy(&pc->wb_cv);
	pthread_mutex_destroy(&pc->lru_lock);
	pthread_mutex_destroy(&pc->lock);
err_free:
	free(pc);
	return ret;
}

void pcache_destroy(struct pcache *pc)
{
	if (!pc)
		return;
	pcache_thread_stop(pc);
	for (size_t i = 0; i < pc->nr_chunks; i++)
		frame_pool_put(pc->chunks[i]);
	free(pc->chunks);
	free(pc->free_pages);
	pthread_mutex_destroy(&pc->frame_lock);
	pthread_cond_destroy(&pc->progress_cv);
	pthread_cond_destroy(&pc->wb_cv);
	pthread_mutex_destroy(&pc->lru_lock);
	pthread_mutex_destroy(&pc->lock);
	free(pc);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void pcache_get_stats(struct pcache *pc, struct pcache_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < PCACHE_HIT_SHARDS; i++)
		st->hits += LOAD(pc->hit_shard[i].n);
	st->misses = LOAD(pc->misses);
	st->ra_pages = LOAD(pc->ra_pages);
	st->ra_hits = LOAD(pc->ra_hits);
	st->writeback_pages = LOAD(pc->wb_pages);
	st->write_runs = LOAD(pc->write_runs);
	st->read_runs = LOAD(pc->read_runs);
	st->evictions = LOAD(pc->evictions);
	st->throttled = LOAD(pc->throttled);
	st->throttled_ns = LOAD(pc->throttled_ns);
	st->wb_passes = LOAD(pc->wb_passes);
	st->nr_pages = LOAD(pc->nr_pages);
	st->nr_dirty = LOAD(pc->nr_dirty);
	st->nr_writeback = LOAD(pc->nr_writeback);
	st->unevictable = LOAD(pc->unevictable);
	st->bg_thresh = pc->bg_thresh;
	st->dirty_thresh = pc->dirty_thresh;
}

/* ---- page lock and references ---------------------------------------- */

void pcache_page_get(struct pcache_page *p)
{
	atomic_fetch_add_explicit(&p->refcount, 1, memory_order_relaxed);
}

/* Drop a reference; the last one (after removal from the table) frees. */
void pcache_page_put(struct pcache_page *p)
{
	/* acq_rel: the freeing thread sees every access made under a ref */
	if (atomic_fetch_sub_explicit(&p->refcount, 1, memory_order_acq_rel) ==
	    1)
		pcache_free_unattached(p);
}

void pcache_put_pages(struct pcache_page **pages, long n)
{
	for (long i = 0; i < n; i++)
		pcache_page_put(pages[i]);
}

bool pcache_trylock_page(struct pcache_page *p)
{
	/* acquire: pairs with the release in pcache_unlock_page */
	return !(atomic_fetch_or_explicit(&p->flags, PG_LOCKED,
					  memory_order_acquire) &
		 PG_LOCKED);
}

/*
 * Called after clearing PG_LOCKED or PG_WRITEBACK. Why the check: every
 * page unlock took wait_lock and broadcast, two mutex operations and a
 * futex check per page on the write and writeback paths, almost always
 * with nobody asleep. No lost wake-up: a sleeper counts itself in
 * waiters, then (fence) tests the bit; we cleared the bit, then (fence)
 * test waiters. The two seq_cst fences are ordered one way or the other,
 * so either the sleeper sees the bit clear and does not sleep, or we see
 * it counted and broadcast under wait_lock, which it holds from before
 * its test until it sleeps.
 */
void pcache_wake_page(struct pcache_mapping *m)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&m->waiters, memory_order_relaxed))
		return;
	pthread_mutex_lock(&m->wait_lock);
	pthread_cond_broadcast(&m->wait_cv);
	pthread_mutex_unlock(&m->wait_lock);
}

/* Sleeps on wait_cv until p's bit is clear (see pcache_wake_page). */
static void wait_on_bit(struct pcache_mapping *m, struct pcache_page *p,
			unsigned int bit)
{
	pthread_mutex_lock(&m->wait_lock);
	atomic_fetch_add_explicit(&m->waiters, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	while (pcache_test(p, bit))
		pthread_cond_wait(&m->wait_cv, &m->wait_lock);
	atomic_fetch_sub_explicit(&m->waiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&m->wait_lock);
}

/* Sleep until PG_LOCKED is ours. Caller holds no cache lock. */
void pcache_lock_page(struct pcache_page *p)
{
	while (!pcache_trylock_page(p))
		wait_on_bit(p->mapping, p, PG_LOCKED);
}

/*
 * The mapping is read before the bit is cleared: once the page is
 * unlocked, a caller that holds no reference of its own (the read I/O's
 * completion) may see it evicted and freed at once.
 */
void pcache_unlock_page(struct pcache_page *p)
{
	struct pcache_mapping *m = p->mapping;

	pcache_clear(p, PG_LOCKED);
	pcache_wake_page(m);
}

void pcache_wait_writeback(struct pcache_page *p)
{
	struct pcache_mapping *m = p->mapping;

	if (!pcache_test(p, PG_WRITEBACK))
		return;
	wait_on_bit(m, p, PG_WRITEBACK);
}

/* ---- page table ------------------------------------------------------- */

static inline struct pcache_page **bucket(struct pcache_mapping *m,
					  uint64_t index)
{
	/* Sequential indexes fill buckets evenly; no hash needed. */
	return &m->buckets[index & (m->nbuckets - 1)];
}

static struct pcache_page *lookup_locked(struct pcache_mapping *m,
					 uint64_t index)
{
	struct pcache_page *p;

	for (p = *bucket(m, index); p; p = p->hnext)
		if (p->index == index)
			return p;
	return NULL;
}

/*
 * The hit path: the read side of tree_lock and one atomic increment. The
 * reference keeps the page (and its data) alive after the lock is dropped.
 */
/*
 * The batched hit path (Linux's filemap_get_pages over find_get_pages_contig):
 * the pages at index, index + 1, ... while present, at most nr, each with a
 * reference, under one read side of tree_lock. Returns how many.
 */
unsigned int pcache_find_get_contig(struct pcache_mapping *m, uint64_t index,
				    unsigned int nr, struct pcache_page **pages)
{
	unsigned int n = 0;

	pthread_rwlock_rdlock(&m->tree_lock);
	while (n < nr) {
		struct pcache_page *p = lookup_locked(m, index + n);

		if (!p)
			break;
		pcache_page_get(p);
		pages[n++] = p;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	return n;
}

#ifndef PCACHE_FRAMES_FROM_MALLOC
unsigned int pcache_find_hits(struct pcache_mapping *m, uint64_t index,
			      unsigned int nr, char **data, unsigned int *seq)
{
	unsigned int n = 0, ra = 0;

	/* acquire: before the lookup, so a removal after it moves rm_seq */
	*seq = atomic_load_explicit(&m->rm_seq, memory_order_acquire);
	pthread_rwlock_rdlock(&m->tree_lock);
	while (n < nr) {
		struct pcache_page *p = lookup_locked(m, index + n);
		unsigned int f;

		if (!p)
			break;
		f = pcache_flags(p);
		if (!(f & PG_UPTODATE) || (f & PG_READAHEAD))
			break;
		/*
		 * A readahead page's first use: counted, and a hit like
		 * any other (a cold sequential read is all such pages, and
		 * taking them one at a time through references cost more
		 * than their copy).
		 */
		if ((f & PG_RA) && pcache_test_and_clear(p, PG_RA))
			ra++;
		if (!(f & PG_REFERENCED))
			pcache_set(p, PG_REFERENCED);
		data[n++] = p->data;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	if (ra)
		pcache_count(&m->pc->ra_hits, ra);
	return n;
}
#endif

struct pcache_page *pcache_find_get(struct pcache_mapping *m, uint64_t index)
{
	struct pcache_page *p;

	pthread_rwlock_rdlock(&m->tree_lock);
	p = lookup_locked(m, index);
	if (p)
		pcache_page_get(p);
	pthread_rwlock_unlock(&m->tree_lock);
	return p;
}

static void unlink_locked(struct pcache_mapping *m, struct pcache_page *p)
{
	struct pcache_page **pp = bucket(m, p->index);

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	p->hnext = NULL;
	m->nr_pages--;
	/* the frame may be reused from now on: see rm_seq */
	atomic_fetch_add_explicit(&m->rm_seq, 1, memory_order_release);
}

/* Double the table when it is fuller than one page per bucket. */
static void grow_locked(struct pcache_mapping *m)
{
	uint64_t n = m->nbuckets * 2;
	struct pcache_page **nb, *p, *next;

	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return; /* longer chains, still correct */
	for (uint64_t i = 0; i < m->nbuckets; i++) {
		for (p = m->buckets[i]; p; p = next) {
			next = p->hnext;
			p->hnext = nb[p->index & (n - 1)];
			nb[p->index & (n - 1)] = p;
		}
	}
	free(m->buckets);
	m->buckets = nb;
	m->nbuckets = n;
}

static void lru_add(struct pcache *pc, struct pcache_page *p);
static void lru_del_locked(struct pcache *pc, struct pcache_page *p);

int pcache_insert(struct pcache_mapping *m, struct pcache_page *p)
{
	struct pcache_page **b;

	pthread_rwlock_wrlock(&m->tree_lock);
	if (lookup_locked(m, p->index)) {
		pthread_rwlock_unlock(&m->tree_lock);
		return -EEXIST;
	}
	if (m->nr_pages >= m->nbuckets)
		grow_locked(m);
	b = bucket(m, p->index);
	p->hnext = *b;
	pcache_page_get(p); /* the table's reference */
	*b = p;
	m->nr_pages++;
	if (pcache_no_backing(m))
		pcache_count(&m->pc->unevictable, 1);
	else
		lru_add(m->pc, p);
	pthread_rwlock_unlock(&m->tree_lock);
	return 0;
}

void pcache_remove(struct pcache_mapping *m, struct pcache_page *p)
{
	if (pcache_test(p, PG_REMOVED))
		return;
	if (pcache_test(p, PG_DIRTY)) {
		pcache_clear(p, PG_DIRTY);
		pcache_unaccount_dirty(p);
	}
	pthread_rwlock_wrlock(&m->tree_lock);
	unlink_locked(m, p);
	pcache_set(p, PG_REMOVED);
	if (pcache_no_backing(m)) {
		atomic_fetch_sub(&m->pc->unevictable, 1);
	} else {
		pthread_mutex_lock(&m->pc->lru_lock);
		lru_del_locked(m->pc, p);
		pthread_mutex_unlock(&m->pc->lru_lock);
	}
	pthread_rwlock_unlock(&m->tree_lock);
	if (m->ops && m->ops->release_page)
		m->ops->release_page(m, p);
	pcache_page_put(p); /* the table's reference */
}

static int cmp_index(const void *a, const void *b)
{
	const struct pcache_page *x = *(struct pcache_page *const *)a;
	const struct pcache_page *y = *(struct pcache_page *const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* *out is NULL when nothing matched. */
long pcache_collect(struct pcache_mapping *m, uint64_t first, uint64_t last,
		    bool dirty_only, struct pcache_page ***out)
{
	struct pcache_page **v = NULL, *p;
	long n = 0;

	pthread_rwlock_rdlock(&m->tree_lock);
	if (m->nr_pages) {
		uint64_t cap = m->nr_pages;

		/* a short range needs no more than its length */
		if (last >= first && last - first < cap)
			cap = last - first + 1;
		v = malloc(cap * sizeof(*v));
		if (!v) {
			pthread_rwlock_unlock(&m->tree_lock);
			return -ENOMEM;
		}
	}
	if (last >= first && last - first < m->nbuckets) {
		/* Short range: probe each index. */
		for (uint64_t i = first;; i++) {
			p = lookup_locked(m, i);
			if (p && (!dirty_only || pcache_test(p, PG_DIRTY))) {
				pcache_page_get(p);
				v[n++] = p;
			}
			if (i == last)
				break;
		}
	} else {
		for (uint64_t b = 0; b < m->nbuckets; b++) {
			for (p = m->buckets[b]; p; p = p->hnext) {
				if (p->index < first || p->index > last)
					continue;
				if (dirty_only && !pcache_test(p, PG_DIRTY))
					continue;
				pcache_page_get(p);
				v[n++] = p;
			}
		}
	}
	pthread_rwlock_unlock(&m->tree_lock);
	if (!n) {
		free(v);
		v = NULL;
	}
	/*
	 * Buckets are index & mask, so a file with no more pages than
	 * buckets (the table doubles at load 1) comes out in order already:
	 * a 1 GiB fsync sorted 262,144 sorted pages (a tenth of its CPU).
	 */
	for (long i = 1; i < n; i++) {
		if (v[i - 1]->index > v[i]->index) {
			qsort(v, (size_t)n, sizeof(*v), cmp_index);
			break;
		}
	}
	*out = v;
	return n;
}

/* ---- LRU and allocation ----------------------------------------------- */

/* New and rotated pages go to the head; eviction scans from the tail. */
static void lru_push_head_locked(struct pcache *pc, struct pcache_page *p)
{
	p->lru_prev = NULL;
	p->lru_next = pc->lru_head;
	if (pc->lru_head)
		pc->lru_head->lru_prev = p;
	else
		pc->lru_tail = p;
	pc->lru_head = p;
	p->on_lru = true;
}

static void lru_del_locked(struct pcache *pc, struct pcache_page *p)
{
	if (!p->on_lru)
		return;
	if (p->lru_prev)
		p->lru_prev->lru_next = p->lru_next;
	else
		pc->lru_head = p->lru_next;
	if (p->lru_next)
		p->lru_next->lru_prev = p->lru_prev;
	else
		pc->lru_tail = p->lru_prev;
	p->lru_prev = p->lru_next = NULL;
	p->on_lru = false;
}

static void lru_add(struct pcache *pc, struct pcache_page *p)
{
	pthread_mutex_lock(&pc->lru_lock);
	lru_push_head_locked(pc, p);
	pthread_mutex_unlock(&pc->lru_lock);
}

/*
 * Evict up to want clean, unreferenced, unlocked pages from the LRU tail
 * (a clock: PG_REFERENCED pages get a second pass at the head; dirty,
 * locked, in-writeback or referenced-by-others pages are rotated). Takes
 * lru_lock, then try-locks each candidate's tree_lock (against the order,
 * hence only try). release_page runs under those locks. Returns how many
 * pages it freed.
 */
static unsigned int evict(struct pcache *pc, unsigned int want)
{
	struct pcache_page *p, *freed = NULL;
	struct pcache_mapping *m;
	unsigned int n = 0;
	uint64_t scan = 2 * atomic_load(&pc->nr_pages) + 8;

	pthread_mutex_lock(&pc->lru_lock);
	while (n < want && scan-- && (p = pc->lru_tail)) {
		unsigned int f = pcache_flags(p);

		lru_del_locked(pc, p);
		if (f & (PG_DIRTY | PG_WRITEBACK | PG_LOCKED) ||
		    atomic_load(&p->refcount) > 1) {
			lru_push_head_locked(pc, p);
			continue;
		}
		if (f & PG_REFERENCED) {
			pcache_clear(p, PG_REFERENCED);
			lru_push_head_locked(pc, p);
			continue;
		}
		m = p->mapping;
		if (pthread_rwlock_trywrlock(&m->tree_lock)) {
			lru_push_head_locked(pc, p);
			continue;
		}
		/* Under the write side no new reference can appear. */
		f = pcache_flags(p);
		if (f & (PG_DIRTY | PG_WRITEBACK | PG_LOCKED) ||
		    atomic_load(&p->refcount) > 1) {
			pthread_rwlock_unlock(&m->tree_lock);
			lru_push_head_locked(pc, p);
			continue;
		}
		unlink_locked(m, p);
		pcache_set(p, PG_REMOVED);
		if (m->ops && m->ops->release_page)
			m->ops->release_page(m, p);
		pthread_rwlock_unlock(&m->tree_lock);
		p->lru_next = freed;
		freed = p;
		n++;
	}
	pthread_mutex_unlock(&pc->lru_lock);
	while ((p = freed)) {
		freed = p->lru_next;
		pcache_page_put(p);
	}
	pcache_count(&pc->evictions, n);
	return n;
}

/* ---- page frames ------------------------------------------------------ */

/*
 * The process's pool of free 2 MiB chunks, shared by every cache: a
 * destroyed cache (an unmount) gives its chunks here instead of unmapping
 * them, and a cache that needs a chunk takes one from here before it maps
 * a new one. Why: the first touch of fresh anonymous memory costs a page
 * fault and the kernel zeroing it, which on the benchmark VM is 1-10 s
 * per GiB (docs/ukfs.md "Performance", 2026-11-25), while the kernel's own
 * page cache takes pages that are mapped already. A chunk in the pool is
 * faulted in and reused as it is: frames carry no state (every user fills
 * a frame before it is uptodate), and a chunk's page descriptors are
 * cleared when handed out. The pool keeps at most as many chunks
 * as the largest cache created in the process may hold, so the memory
 * kept is what one cache could have used anyway. pool_lock is a leaf
 * (taken under frame_lock).
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcache_frame_chunk *pool;
static size_t pool_n, pool_cap, pool_max;

static void frame_pool_reserve(uint64_t limit_pages)
{
	uint64_t chunks = (limit_pages * PCACHE_PAGE_SIZE +
			   PCACHE_FRAME_CHUNK - 1) / PCACHE_FRAME_CHUNK;

	pthread_mutex_lock(&pool_lock);
	if (chunks > pool_max)
		pool_max = (size_t)chunks;
	pthread_mutex_unlock(&pool_lock);
}

static void frame_pool_put(struct pcache_frame_chunk c)
{
	bool kept = false;

	pthread_mutex_lock(&pool_lock);
	if (pool_n == pool_cap && pool_n < pool_max) {
		size_t cap = pool_cap ? 2 * pool_cap : 64;
		struct pcache_frame_chunk *n = realloc(pool, cap * sizeof(*n));

		if (n) {
			pool = n;
			pool_cap = cap;
		}
	}
	if (pool_n < pool_cap && pool_n < pool_max) {
		pool[pool_n++] = c;
		kept = true;
	}
	pthread_mutex_unlock(&pool_lock);
	if (!kept) {
		munmap(c.frames, PCACHE_FRAME_CHUNK);
		free(c.pages);
	}
}

/* unused under ASan, where frames come from malloc */
static __attribute__((unused)) bool
frame_pool_get(struct pcache_frame_chunk *c)
{
	bool got = false;

	pthread_mutex_lock(&pool_lock);
	if (pool_n) {
		*c = pool[--pool_n];
		got = true;
	}
	pthread_mutex_unlock(&pool_lock);
	return got;
}

/*
 * Why not posix_memalign per page: profiling the 1 GiB sequential write and
 * cold read (docs/ukfs.md "Performance") showed a third of the CPU time in
 * glibc's aligned allocator and in first-touch page faults of the heap
 * (one fault per 4 KiB, plus a TLB entry per page when copying). Frames
 * carved from 2 MiB chunks advised MADV_HUGEPAGE fault in (and sit in the
 * TLB) 2 MiB at a time, and a freed frame is reused from a free stack
 * without a trip through malloc. Memory is bounded by the cache's size
 * limit, so keeping freed frames until pcache_destroy costs at most that.
 *
 * Page descriptors come with their frames: a chunk carries an array of
 * 512, each bound to its frame for good, and the free stack holds
 * descriptors. A calloc and a free per page cost a tenth of a cold read's
 * CPU (2026-11-25, docs/ukfs.md), much of it faulting the heap back in
 * after the unmount before had trimmed it.
 *
 * Under AddressSanitizer every page and every frame is its own allocation
 * again, so a use after free of either is still caught.
 */

/* A cleared page bound to a frame, or NULL. */
static struct pcache_page *page_alloc(struct pcache *pc)
{
#ifdef PCACHE_FRAMES_FROM_MALLOC
	struct pcache_page *p = calloc(1, sizeof(*p));

	if (p && posix_memalign(&p->data, PCACHE_PAGE_SIZE, PCACHE_PAGE_SIZE)) {
		free(p);
		p = NULL;
	}
	return p;
#else
	const size_t per_chunk = PCACHE_FRAME_CHUNK / PCACHE_PAGE_SIZE;
	struct pcache_frame_chunk c;
	struct pcache_page *p = NULL;
	void *data;

	pthread_mutex_lock(&pc->frame_lock);
	if (pc->nr_free) {
		p = pc->free_pages[--pc->nr_free];
		goto out_unlock;
	}
	if (pc->carve < pc->carve_end) {
		p = pc->carve++;
		goto out_unlock;
	}
	if (pc->nr_chunks == pc->chunks_cap) {
		size_t cap = pc->chunks_cap ? 2 * pc->chunks_cap : 16;
		struct pcache_frame_chunk *n =
			realloc(pc->chunks, cap * sizeof(*n));

		if (!n)
			goto out_unlock;
		pc->chunks = n;
		pc->chunks_cap = cap;
	}
	/* page_free never fails: the stack has room for every page */
	if (pc->free_cap < (pc->nr_chunks + 1) * per_chunk) {
		size_t cap = pc->chunks_cap * per_chunk;
		struct pcache_page **n =
			realloc(pc->free_pages, cap * sizeof(*n));

		if (!n)
			goto out_unlock;
		pc->free_pages = n;
		pc->free_cap = cap;
	}
	if (frame_pool_get(&c))
		goto carve;
	c.pages = malloc(per_chunk * sizeof(*c.pages));
	if (!c.pages)
		goto out_unlock;
	/* 2 MiB-aligned: map 4 MiB, keep the aligned 2 MiB, unmap the rest */
	c.frames = mmap(NULL, 2 * PCACHE_FRAME_CHUNK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c.frames == MAP_FAILED) {
		free(c.pages);
		goto out_unlock;
	}
	{
		uintptr_t a = ((uintptr_t)c.frames + PCACHE_FRAME_CHUNK - 1) &
			      ~(uintptr_t)(PCACHE_FRAME_CHUNK - 1);
		char *al = (char *)a;

		if (al > c.frames)
			munmap(c.frames, (size_t)(al - c.frames));
		munmap(al + PCACHE_FRAME_CHUNK,
		       (size_t)(c.frames + 2 * PCACHE_FRAME_CHUNK -
				(al + PCACHE_FRAME_CHUNK)));
		c.frames = al;
	}
	madvise(c.frames, PCACHE_FRAME_CHUNK, MADV_HUGEPAGE); /* a hint only */
	for (size_t i = 0; i < per_chunk; i++)
		c.pages[i].data = c.frames + i * PCACHE_PAGE_SIZE;
carve:
	pc->chunks[pc->nr_chunks++] = c;
	/* page 0 is returned; the others are carved in order */
	p = c.pages;
	pc->carve = c.pages + 1;
	pc->carve_end = c.pages + per_chunk;
out_unlock:
	pthread_mutex_unlock(&pc->frame_lock);
	if (p) {
		data = p->data;
		memset(p, 0, sizeof(*p));
		p->data = data;
	}
	return p;
#endif
}

static void page_free(struct pcache *pc, struct pcache_page *p)
{
#ifdef PCACHE_FRAMES_FROM_MALLOC
	free(p->data);
	free(p);
#else
	pthread_mutex_lock(&pc->frame_lock);
	pc->free_pages[pc->nr_free++] = p;
	pthread_mutex_unlock(&pc->frame_lock);
#endif
}

void pcache_free_unattached(struct pcache_page *p)
{
	struct pcache *pc = p->cache; /* the mapping may be gone */

	page_free(pc, p);
	atomic_fetch_sub(&pc->nr_pages, 1);
}

/*
 * Make room for one page: evict; if nothing is evictable write back the
 * oldest dirty mapping or wait for writeback in flight. Returns false when
 * nothing can be freed at all (the limit is then exceeded: everything is
 * referenced or unevictable).
 */
static bool make_room(struct pcache *pc)
{
	uint64_t seen;

	/* Small batches: a tiny cache must not be emptied in one go. */
	unsigned int batch = (unsigned int)(pc->limit_pages / 512) + 1;

	if (evict(pc, batch < 32 ? batch : 32))
		return true;
	if (atomic_load(&pc->nr_dirty) && pcache_writeback_some(pc, 1024) > 0)
		return true;
	pthread_mutex_lock(&pc->lock);
	seen = atomic_load(&pc->nr_writeback);
	if (!seen) {
		pthread_mutex_unlock(&pc->lock);
		return false;
	}
	pcache_wait_progress_locked(pc);
	pthread_mutex_unlock(&pc->lock);
	return true;
}

unsigned int pcache_alloc_pages(struct pcache_mapping *m,
				struct pcache_page **pages, unsigned int n)
{
	struct pcache *pc = m->pc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct pcache_page *p;

		while (atomic_load(&pc->nr_pages) >= pc->limit_pages)
			if (!make_room(pc))
				break;
		p = page_alloc(pc);
		if (!p)
			break;
		p->mapping = m;
		p->cache = pc;
		atomic_init(&p->flags, PG_LOCKED);
		atomic_init(&p->refcount, 1);
		atomic_fetch_add(&pc->nr_pages, 1);
		pages[i] = p;
	}
	return i;
}

/* ---- mappings ---------------------------------------------------------- */

int pcache_mapping_create(struct pcache *pc,
			  const struct pcache_mapping_ops *ops, void *fs_priv,
			  unsigned int flags, struct pcache_mapping **out)
{
	struct pcache_mapping *m;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->nbuckets = 64;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	m->pc = pc;
	m->ops = ops;
	m->fs_priv = fs_priv;
	m->flags = flags;
	pthread_rwlock_init(&m->tree_lock, NULL);
	pthread_mutex_init(&m->wait_lock, NULL);
	pthread_cond_init(&m->wait_cv, NULL);

	pthread_mutex_lock(&pc->lock);
	m->all_next = pc->all_head;
	if (pc->all_head)
		pc->all_head->all_prev = m;
	pc->all_head = m;
	pthread_mutex_unlock(&pc->lock);
	*out = m;
	return 0;
}

uint64_t pcache_next_present(struct pcache_mapping *m, uint64_t index)
{
	uint64_t best = UINT64_MAX;

	pthread_rwlock_rdlock(&m->tree_lock);
	if (m->nr_pages && lookup_locked(m, index)) {
		best = index;
	} else if (m->nr_pages) {
		for (uint64_t b = 0; b < m->nbuckets; b++)
			for (struct pcache_page *p = m->buckets[b]; p;
			     p = p->hnext)
				if (p->index >= index && p->index < best)
					best = p->index;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	return best;
}

bool pcache_present(struct pcache_mapping *m, uint64_t index)
{
	bool ret;

	pthread_rwlock_rdlock(&m->tree_lock);
	ret = lookup_locked(m, index) != NULL;
	pthread_rwlock_unlock(&m->tree_lock);
	return ret;
}

void *pcache_mapping_priv(struct pcache_mapping *m)
{
	return m->fs_priv;
}

uint64_t pcache_mapping_nr_pages(struct pcache_mapping *m)
{
	uint64_t n;

	pthread_rwlock_rdlock(&m->tree_lock);
	n = m->nr_pages;
	pthread_rwlock_unlock(&m->tree_lock);
	return n;
}

int pcache_mapping_destroy(struct pcache_mapping *m)
{
	struct pcache *pc = m->pc;
	struct pcache_page **v;
	long n;
	int ret = 0;

	if (!pcache_no_backing(m))
		ret = pcache_writeback_range(m, 0, UINT64_MAX, true);

	/* Unhook from the lists once the writeback thread lets go of it. */
	pthread_mutex_lock(&pc->lock);
	while (m->pins)
		pthread_cond_wait(&pc->progress_cv, &pc->lock);
	pcache_dirty_list_del_locked(pc, m);
	if (m->all_prev)
		m->all_prev->all_next = m->all_next;
	else
		pc->all_head = m->all_next;
	if (m->all_next)
		m->all_next->all_prev = m->all_prev;
	pthread_mutex_unlock(&pc->lock);

	n = pcache_collect(m, 0, UINT64_MAX, false, &v);
	for (long i = 0; i < n; i++) {
		pcache_lock_page(v[i]);
		pcache_wait_writeback(v[i]);
		pcache_remove(m, v[i]);
		pcache_unlock_page(v[i]);
	}
	if (n > 0) {
		pcache_put_pages(v, n);
		free(v);
	}
	/* Completions may still be leaving wait_lock: let them finish. */
	while (atomic_load_explicit(&m->io_pages, memory_order_acquire))
		sched_yield();

	pthread_cond_destroy(&m->wait_cv);
	pthread_mutex_destroy(&m->wait_lock);
	pthread_rwlock_destroy(&m->tree_lock);
	free(m->buckets);
	free(m);
	return ret;
}
