/* SPDX-License-Identifier: MIT */
/*
 * ukernel/pcache_internal.h - what the page cache's files share: the cache
 * and mapping structures, page lock/refcount helpers and the lookup table.
 *
 * Lock order (outermost first); no lock is held across ops->read_pages or
 * ops->write_pages, nor while a thread sleeps on a page bit:
 *
 *   mapping->tree_lock (rwlock)  the mapping's page table
 *     -> pcache->lock (mutex)    dirty/mapping lists, counters, thread state
 *       -> mapping->wait_lock    sleeping on PG_LOCKED/PG_WRITEBACK
 *         -> pcache->lru_lock    the LRU list (innermost)
 *
 * Eviction goes the other way (lru_lock, then a mapping's tree_lock) and so
 * only ever try-locks the tree_lock.
 */
#ifndef UK_PCACHE_INTERNAL_H
#define UK_PCACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "pcache.h"

#define pcache_container_of(ptr, type, member)                                 \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define pcache_likely(x) __builtin_expect(!!(x), 1)
#define pcache_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * Under AddressSanitizer every page frame is its own malloc'd block (so a
 * use after free of page data is caught), and warm reads take references
 * instead of the rm_seq check (which copies from frames that may have
 * been freed meanwhile, safe only while frames stay mapped).
 */
#if defined(__SANITIZE_ADDRESS__)
#define PCACHE_FRAMES_FROM_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PCACHE_FRAMES_FROM_MALLOC 1
#endif
#endif

#define PCACHE_HIT_SHARDS 16
#define PCACHE_FRAME_CHUNK (2u << 20) /* page frames come in 2 MiB chunks */

struct pcache_mapping {
	struct pcache *pc;
	const struct pcache_mapping_ops *ops;
	void *fs_priv;
	unsigned int flags;

	/*
	 * tree_lock protects buckets, nbuckets, nr_pages and membership of
	 * pages in the table (the table holds one reference per page).
	 * Readers of a hit take the read side only.
	 */
	pthread_rwlock_t tree_lock;
	struct pcache_page **buckets;
	uint64_t nbuckets; /* power of two */
	uint64_t nr_pages;

	/*
	 * wait_lock + wait_cv: sleeping until a page of this mapping loses
	 * PG_LOCKED or PG_WRITEBACK. Bits are cleared, then wait_lock is
	 * taken to broadcast, so a sleeper that checked under wait_lock
	 * cannot miss the wake-up. waiters counts the sleepers (changed
	 * under wait_lock): a waker that finds none skips wait_lock, which
	 * most unlocks do (pcache_wake_page says why that is safe).
	 */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cv;
	atomic_uint waiters;

	/*
	 * Where the last partial background pass stopped (Linux's
	 * writeback_index): the next one probes the indexes after it first
	 * instead of collecting and sorting every page of the mapping,
	 * which made a 1 GiB write spend a fifth of its CPU in qsort.
	 * Relaxed atomic: a hint, any value is safe.
	 */
	_Atomic uint64_t wb_cursor;

	atomic_uint wb_err;	 /* errseq_t */
	atomic_uint wb_failures; /* failed write runs, ever */
	/*
	 * Pages handed to read_pages/write_pages and not yet completed. A
	 * completion's last touch of the mapping is its decrement (release),
	 * so destroy, once it reads 0 (acquire), may free the mapping even
	 * while a completing thread is still finishing with the pages.
	 */
	atomic_long io_pages;

	/*
	 * Bumped (under tree_lock's write side) whenever a page leaves the
	 * table, before its frame can be freed and reused. The warm-read
	 * path (pcache_read.c, read_hits) looks pages up under the read side
	 * without taking references, copies after dropping it, and trusts
	 * the copy only if rm_seq did not move meanwhile: a seqcount whose
	 * readers never wait, with the table's rwlock for the lookup.
	 */
	atomic_uint rm_seq;

	/* Under pc->lock. */
	uint64_t nr_dirty;     /* accounted dirty pages */
	uint64_t dirtied_when; /* clock ns of its 0 -> 1 dirty transition */
	int pins;	       /* writeback/sync users; destroy waits for 0 */
	bool on_dirty_list;
	struct pcache_mapping *dirty_prev, *dirty_next; /* oldest first */
	struct pcache_mapping *all_prev, *all_next;
};

/*
 * 2 MiB of page frames and the 512 page descriptors that go with them, for
 * good: a descriptor's data is its frame, as a struct page's is in Linux's
 * mem_map (docs/pcache.md "Page frames").
 */
struct pcache_frame_chunk {
	char *frames;
	struct pcache_page *pages;
};

struct pcache {
	struct pcache_opts o;
	uint64_t limit_pages, bg_thresh, dirty_thresh, ra_max_pages;

	/*
	 * lock protects: the dirty mapping list (oldest dirtied_when first),
	 * the all-mappings list, mapping nr_dirty/dirtied_when/pins,
	 * nr_dirty, nr_writeback (also read locklessly), the thread state
	 * (stop, kick_seq, done_seq) and the throttling counters.
	 * wb_cv wakes the thread; progress_cv wakes throttled writers, pass
	 * waiters and destroy (on writeback completion, pass end, unpin).
	 */
	pthread_mutex_t lock;
	pthread_cond_t wb_cv, progress_cv;
	struct pcache_mapping *dirty_head, *dirty_tail;
	struct pcache_mapping *all_head;
	atomic_uint_fast64_t nr_dirty, nr_writeback;
	uint64_t kick_seq, done_seq;
	bool kicked, stop, have_thread;
	pthread_t thread;

	/*
	 * lru_lock protects the LRU list (head most recent, tail oldest) and
	 * page->on_lru/lru_prev/lru_next. Innermost.
	 */
	pthread_mutex_t lru_lock;
	struct pcache_page *lru_head, *lru_tail;

	atomic_uint_fast64_t nr_pages, unevictable;

	/*
	 * Page frames (docs/pcache.md "Page frames"): 4 KiB data buffers
	 * carved in order from 2 MiB chunks, kept on a free stack when
	 * their page is freed, chunks returned at pcache_destroy. Neither
	 * the stack nor the carving writes into a frame: a free list linked
	 * through the frames' first word cost a cache miss per frame when
	 * carved and again when taken (a tenth of a cold read's CPU).
	 * frame_lock (a leaf, taken under any other lock) protects the
	 * fields below.
	 */
	pthread_mutex_t frame_lock;
	/* stack of free pages, room for every page of every chunk */
	struct pcache_page **free_pages;
	size_t nr_free, free_cap;
	/* the current chunk's pages not yet used */
	struct pcache_page *carve, *carve_end;
	struct pcache_frame_chunk *chunks; /* every chunk, for pcache_destroy */
	size_t nr_chunks, chunks_cap;
	/* Statistics, relaxed atomics. */
	/*
	 * The hit counter is bumped on every hit: one cache line per shard,
	 * a thread picks its shard once, so readers on different CPUs do not
	 * bounce one line. pcache_get_stats sums them.
	 */
	struct {
		_Alignas(64) atomic_uint_fast64_t n;
	} hit_shard[PCACHE_HIT_SHARDS];
	atomic_uint_fast64_t misses, ra_pages, ra_hits, wb_pages, write_runs,
		read_runs, evictions, throttled, throttled_ns, wb_passes;
};

static inline unsigned int pcache_flags(struct pcache_page *p)
{
	return atomic_load_explicit(&p->flags, memory_order_acquire);
}

static inline bool pcache_test(struct pcache_page *p, unsigned int bit)
{
	return pcache_flags(p) & bit;
}

static inline void pcache_set(struct pcache_page *p, unsigned int bit)
{
	/* release: the data written before it (PG_UPTODATE) is visible */
	atomic_fetch_or_explicit(&p->flags, bit, memory_order_release);
}

static inline void pcache_clear(struct pcache_page *p, unsigned int bit)
{
	/* release: clearing LOCKED/WRITEBACK publishes what the owner did */
	atomic_fetch_and_explicit(&p->flags, ~bit, memory_order_release);
}

static inline bool pcache_test_and_clear(struct pcache_page *p,
					 unsigned int bit)
{
	/* acq_rel: one caller wins the bit and sees the setter's writes */
	return atomic_fetch_and_explicit(&p->flags, ~bit,
					 memory_order_acq_rel) &
	       bit;
}

static inline void pcache_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline bool pcache_no_backing(struct pcache_mapping *m)
{
	return m->flags & PCACHE_MAPPING_NO_BACKING;
}

/* This thread's hit shard, picked round-robin on first use. */
unsigned int pcache_hit_shard_slow(void);
extern _Thread_local unsigned int pcache_hit_shard_id;

static inline void pcache_count_hits(struct pcache *pc, uint64_t n)
{
	unsigned int s = pcache_hit_shard_id;

	if (pcache_unlikely(!s))
		s = pcache_hit_shard_slow();
	pcache_count(&pc->hit_shard[s - 1].n, n);
}

static inline void pcache_count_hit(struct pcache *pc)
{
	pcache_count_hits(pc, 1);
}

uint64_t pcache_now(struct pcache *pc);

/* pcache.c: pages, table, LRU, page lock. */
void pcache_page_get(struct pcache_page *p);
void pcache_page_put(struct pcache_page *p);
/* Up to nr present consecutive pages from index, with references. */
#define PCACHE_READ_BATCH 32
unsigned int pcache_find_get_contig(struct pcache_mapping *m, uint64_t index,
				    unsigned int nr, struct pcache_page **pages);
/*
 * The warm-read lookup: the frames of up to nr consecutive plain hits
 * (uptodate, no PG_READAHEAD marker; PG_RA is cleared and counted as a
 * readahead hit) from index, without references; *seq is
 * rm_seq before the lookup. A copy from them is valid only if rm_seq
 * still equals *seq after it (pcache_read.c, read_hits).
 */
#define PCACHE_HIT_BATCH 64
unsigned int pcache_find_hits(struct pcache_mapping *m, uint64_t index,
			      unsigned int nr, char **data, unsigned int *seq);
/* Lookup with a reference, or NULL. Takes tree_lock's read side. */
struct pcache_page *pcache_find_get(struct pcache_mapping *m, uint64_t index);
/*
 * Allocate n unattached pages of m (refcount 1, PG_LOCKED), evicting or waiting
 * for writeback when the cache is over its limit. Returns the number
 * allocated (may be < n only when memory is short; 0 with ENOMEM).
 */
unsigned int pcache_alloc_pages(struct pcache_mapping *m,
				struct pcache_page **pages, unsigned int n);
void pcache_free_unattached(struct pcache_page *p);
/*
 * Insert a locked page at p->index with a table reference; -EEXIST when the
 * index is taken.
 */
int pcache_insert(struct pcache_mapping *m, struct pcache_page *p);
/*
 * Remove a locked page from its mapping (sets PG_REMOVED, unaccounts dirty,
 * calls release_page) and drop the table's reference. Caller keeps its own.
 */
void pcache_remove(struct pcache_mapping *m, struct pcache_page *p);
bool pcache_trylock_page(struct pcache_page *p);
void pcache_lock_page(struct pcache_page *p);
void pcache_unlock_page(struct pcache_page *p);
void pcache_wait_writeback(struct pcache_page *p);
void pcache_wake_page(struct pcache_mapping *m);
/*
 * Collect referenced pages with first <= index <= last (optionally only
 * dirty ones), sorted by index. Returns the count, or -ENOMEM; *out is
 * malloc'd (free it, put the pages).
 */
long pcache_collect(struct pcache_mapping *m, uint64_t first, uint64_t last,
		    bool dirty_only, struct pcache_page ***out);
void pcache_put_pages(struct pcache_page **pages, long n);

/* pcache_writeback.c */
void pcache_account_dirty(struct pcache_page *p);   /* page locked */
void pcache_unaccount_dirty(struct pcache_page *p); /* page locked */
void pcache_balance_dirty(struct pcache *pc);
int pcache_thread_start(struct pcache *pc);
void pcache_thread_stop(struct pcache *pc);
void pcache_errseq_set(struct pcache_mapping *m, int err);
/* Sleep on progress_cv until writeback completes something (pc->lock). */
void pcache_wait_progress_locked(struct pcache *pc);
/* Write back up to nr pages of the oldest dirty mappings, no wait. */
long pcache_writeback_some(struct pcache *pc, unsigned int nr);
void pcache_dirty_list_del_locked(struct pcache *pc, struct pcache_mapping *m);
/* Read one locked page synchronously (for partial writes). */
int pcache_read_one(struct pcache_mapping *m, struct pcache_page *p);
/* Start read_pages for a run of locked pages, completing them on failure. */
void pcache_submit_read(struct pcache_mapping *m, struct pcache_page **pages,
			unsigned int n);

#endif /* UK_PCACHE_INTERNAL_H */
