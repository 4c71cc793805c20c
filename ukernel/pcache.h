/* SPDX-License-Identifier: MIT */
/*
 * ukernel/pcache.h - the page cache: per-inode 4 KiB pages (an address space,
 * struct pcache_mapping) in one cache per kernel (struct pcache), with a
 * lock-free-ish read hit path, on-demand readahead, dirty accounting with
 * background writeback and writer throttling, expiry of old dirty data, LRU
 * eviction of clean pages, and fsync/truncate/O_DIRECT helpers.
 *
 * The file system implements struct pcache_mapping_ops (read_pages and
 * write_pages work on runs of consecutive pages so it can issue one merged
 * block request per run and allocate blocks for a whole run at writeback).
 * See docs/pcache.md for the design, the lock order and the numbers.
 */
#ifndef UK_PCACHE_H
#define UK_PCACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PCACHE_PAGE_SHIFT 12
#define PCACHE_PAGE_SIZE (1u << PCACHE_PAGE_SHIFT)
#define PCACHE_MAX_RUN 8192 /* pages per read_pages/write_pages call: 32 MiB */
#define PCACHE_MAX_RA 16384 /* pages in a readahead window: 64 MiB, in runs */

struct pcache;
struct pcache_mapping;

/* Page flags (struct pcache_page.flags, atomic). */
enum {
	PG_LOCKED = 1u << 0,	 /* I/O or a writer owns the page's contents */
	PG_UPTODATE = 1u << 1,	 /* data valid (set with release) */
	PG_DIRTY = 1u << 2,	 /* newer than the backing store */
	PG_WRITEBACK = 1u << 3,	 /* write_pages in flight */
	PG_ERROR = 1u << 4,	 /* the last read or write of it failed */
	PG_READAHEAD = 1u << 5,	 /* hitting it triggers async readahead */
	PG_RA = 1u << 6,	 /* brought in by readahead, not yet used */
	PG_REFERENCED = 1u << 7, /* hit since the LRU last looked */
	PG_REMOVED = 1u << 8,	 /* no longer in its mapping (truncated) */
};

/*
 * One cached page. data is PCACHE_PAGE_SIZE bytes, 4 KiB-aligned, so the fs
 * may hand it to blockdev in O_DIRECT mode. index is the page number in the
 * file. private is the fs's (e.g. the block it maps to), freed by its
 * release_page op. The other fields are the cache's.
 */
struct pcache_page {
	void *data;
	uint64_t index;
	struct pcache_mapping *mapping;
	struct pcache *cache;
	void *private;
	atomic_uint flags;
	atomic_int refcount;
	uint64_t dirtied_when; /* clock ns when it last went clean -> dirty */
	struct pcache_page *hnext; /* hash chain, under mapping->tree_lock */
	struct pcache_page *lru_prev, *lru_next; /* under pcache->lru_lock */
	bool on_lru;				 /* under pcache->lru_lock */
};

/*
 * What a file system implements. read_pages and write_pages start I/O on n
 * consecutive pages (pages[i]->index == pages[0]->index + i, n <=
 * PCACHE_MAX_RUN) and may complete it before returning or later, from any
 * thread, by calling pcache_read_done()/pcache_write_done() exactly once per
 * page (in one call or several). Returning -errno instead means the I/O was
 * not started: the cache completes every page with that error itself. No
 * cache lock is held across these calls. The pages array is the caller's and
 * valid only during the call: an fs completing later keeps its own copy of
 * the pointers (the pages stay alive until completed).
 */
struct pcache_mapping_ops {
	/*
	 * Fill pages (locked, not uptodate) from the backing store; bytes
	 * past i_size must read as zeros. NULL: pages read as zeros (holes).
	 */
	int (*read_pages)(struct pcache_mapping *m, struct pcache_page **pages,
			  unsigned int n);
	/*
	 * Write back dirty data (pages are in writeback, unlocked; their data
	 * may be redirtied meanwhile, which the cache notices). The fs maps
	 * or allocates blocks for the whole run here. sync: someone waits
	 * (fsync, sync): the fs should not defer the I/O.
	 */
	int (*write_pages)(struct pcache_mapping *m, struct pcache_page **pages,
			   unsigned int n, bool sync);
	/* Optional: a page leaves the cache (evicted, truncated, dropped). */
	void (*release_page)(struct pcache_mapping *m, struct pcache_page *p);
};

/* Mapping flags. */
enum {
	/*
	 * tmpfs: the page is the only copy. Its pages are never written back,
	 * never evicted, not counted as dirty for the thresholds (there is
	 * nowhere to write them); they count in pcache_stats.unevictable and
	 * in the cache size, and tmpfs enforces its own size= limit.
	 */
	PCACHE_MAPPING_NO_BACKING = 1u << 0,
};

struct pcache_opts {
	uint64_t size_limit;		     /* bytes; default 256 MiB */
	unsigned int dirty_background_ratio; /* % of size_limit; default 10 */
	unsigned int dirty_ratio;	     /* % of size_limit; default 20 */
	uint64_t dirty_expire_ns;	     /* default 30 s */
	uint64_t writeback_interval_ns;	     /* default 5 s; 0: only on kicks */
	uint64_t readahead_max; /* bytes; default 128 KiB; 0: off */
	/* Clock for dirty ages (tests control it); default CLOCK_MONOTONIC. */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	/* Tests: no background thread; writeback runs in the caller. */
	bool no_thread;
};

struct pcache_stats {
	uint64_t hits, misses;	    /* pages found / not found by readers */
	uint64_t ra_pages, ra_hits; /* readahead pages issued / later used */
	uint64_t writeback_pages;   /* pages written successfully */
	uint64_t write_runs;	    /* write_pages calls */
	uint64_t read_runs;	    /* read_pages calls */
	uint64_t evictions;
	uint64_t throttled;    /* times a writer waited for writeback */
	uint64_t throttled_ns; /* time writers waited (wall clock) */
	uint64_t wb_passes;    /* background writeback passes */
	/* Current values. */
	uint64_t nr_pages, nr_dirty, nr_writeback, unevictable;
	uint64_t bg_thresh, dirty_thresh; /* in pages */
};

/*
 * Per open file readahead state (Linux's file_ra_state), owned by the file
 * and used under its position lock (or with a private copy); zero it or use
 * pcache_ra_init. Units are pages, prev_pos is a byte offset.
 */
struct pcache_ra_state {
	uint64_t start;
	unsigned int size;
	unsigned int async_size;
	int64_t prev_pos; /* last byte read, -1 at open */
};

/*
 * Copy callback: copy n bytes between the page (kbuf) and the caller's
 * buffer at offset off of the request. Returns how many bytes it copied;
 * fewer than n means a fault (as copy_to_user's short count).
 */
typedef size_t (*pcache_copy_fn)(void *ctx, size_t off, void *kbuf, size_t n);

/* ---- cache ---------------------------------------------------------- */

void pcache_opts_default(struct pcache_opts *o);
/* Create a cache (o NULL: defaults); starts the writeback thread. */
int pcache_create(const struct pcache_opts *o, struct pcache **out);
/* Stop the thread and free. Every mapping must have been destroyed. */
void pcache_destroy(struct pcache *pc);
void pcache_get_stats(struct pcache *pc, struct pcache_stats *st);

/* ---- mappings ------------------------------------------------------- */

int pcache_mapping_create(struct pcache *pc,
			  const struct pcache_mapping_ops *ops, void *fs_priv,
			  unsigned int flags, struct pcache_mapping **out);
void *pcache_mapping_priv(struct pcache_mapping *m);
/*
 * Write back (wait) and drop every page, then free the mapping. Returns
 * the first write-back error; the pages are dropped either way. No other
 * thread may use the mapping meanwhile. NO_BACKING: pages are discarded.
 */
int pcache_mapping_destroy(struct pcache_mapping *m);
uint64_t pcache_mapping_nr_pages(struct pcache_mapping *m);
/*
 * The smallest index >= index that has a page in m, or UINT64_MAX when
 * there is none. Costs O(pages in m), never O(size of the file): it is
 * what SEEK_DATA over a sparse memory-only file needs.
 */
uint64_t pcache_next_present(struct pcache_mapping *m, uint64_t index);
/* Whether m has a page at index. */
bool pcache_present(struct pcache_mapping *m, uint64_t index);

/* ---- read and write --------------------------------------------------- */

void pcache_ra_init(struct pcache_ra_state *ra);
/*
 * Read up to len bytes at pos (never past i_size) through copy.
 * Returns bytes copied (short on a fault), 0 at/after EOF, -EFAULT when the
 * first copy faulted, -EIO (or the read error) when the first page failed.
 */
ssize_t pcache_read(struct pcache_mapping *m, struct pcache_ra_state *ra,
		    uint64_t pos, size_t len, uint64_t i_size,
		    pcache_copy_fn copy, void *ctx);
/*
 * Write len bytes at pos into the cache (dirtying pages), reading partial
 * pages below i_size first. The caller updates i_size to pos + ret after.
 * May sleep for dirty throttling. Returns bytes copied (short on a fault),
 * -EFAULT if nothing could be copied, or the read error of a partial page.
 */
ssize_t pcache_write(struct pcache_mapping *m, uint64_t pos, size_t len,
		     uint64_t i_size, pcache_copy_fn copy, void *ctx);

/* Completions for read_pages / write_pages (err 0 or -errno). */
void pcache_read_done(struct pcache_page **pages, unsigned int n, int err);
void pcache_write_done(struct pcache_page **pages, unsigned int n, int err);

/* ---- writeback, fsync, errors --------------------------------------- */

/*
 * Write the dirty pages overlapping bytes [start, end] (end inclusive;
 * UINT64_MAX for all) in runs; with wait, also wait for writeback in
 * flight in the range. Returns the first error this call saw, else 0.
 * It does not consume the mapping's errseq (pcache_fsync does).
 */
int pcache_writeback_range(struct pcache_mapping *m, uint64_t start,
			   uint64_t end, bool wait);
/* O_DIRECT read: write back and wait for [start, end] first. */
int pcache_flush_range(struct pcache_mapping *m, uint64_t start, uint64_t end);

/*
 * errseq as Linux's: a write-back error is recorded in the mapping; each
 * open file samples the cursor at open (pcache_errseq_sample) and gets
 * every error that happened since, once, from pcache_fsync.
 */
uint32_t pcache_errseq_sample(struct pcache_mapping *m);
int pcache_errseq_check(struct pcache_mapping *m, uint32_t *since);
/*
 * fsync/fdatasync's page-cache part: write back and wait for [start, end],
 * then report an error once per file cursor. The fs commits metadata and
 * flushes the device after this returns.
 */
int pcache_fsync(struct pcache_mapping *m, uint64_t start, uint64_t end,
		 uint32_t *since);
/* sync/syncfs: write back and wait for every mapping; first error. */
int pcache_sync_all(struct pcache *pc);

/*
 * Wake the writeback thread; with wait, return after it finished a pass
 * that started after this call (tests, memory pressure).
 */
void pcache_writeback_kick(struct pcache *pc, bool wait);
/* One writeback pass in the caller's thread (what the thread runs). */
void pcache_writeback_run(struct pcache *pc);

/* ---- truncate and invalidate ---------------------------------------- */

/*
 * Drop the pages wholly past byte from (dirty ones discarded, writeback
 * waited for) and zero the tail of the partial page (left dirty if it was
 * cached, so the zeros reach the store).
 */
void pcache_truncate(struct pcache_mapping *m, uint64_t from);
/*
 * Punch hole: zero the partial pages at the edges of [start, end) and drop
 * the pages wholly inside, discarding dirty data.
 */
void pcache_punch_range(struct pcache_mapping *m, uint64_t start, uint64_t end);
/*
 * After an O_DIRECT write of [start, end] (inclusive): write back and wait
 * for the range, then drop every cached page overlapping it. Returns the
 * write-back error, -EBUSY if a page was redirtied (and so kept) meanwhile,
 * else 0.
 */
int pcache_invalidate_range(struct pcache_mapping *m, uint64_t start,
			    uint64_t end);

#endif /* UK_PCACHE_H */
