// SPDX-License-Identifier: MIT
/*
 * ukernel/pcache_writeback.c - dirty data: accounting per mapping and per
 * cache, the dirty mapping list (oldest first), writer throttling
 * (balance_dirty_pages), writing a mapping's dirty pages in runs of
 * consecutive indexes, the background writeback thread (expiry and the
 * background threshold), fsync/sync and errseq error reporting.
 *
 * Sections: accounting, errseq, writing a mapping, background writeback,
 * throttling, fsync and sync.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "pcache_internal.h"
#include "uk_time.h"

/* ---- accounting -------------------------------------------------------- */

static void dirty_list_add_tail_locked(struct pcache *pc,
				       struct pcache_mapping *m)
{
	m->dirty_next = NULL;
	m->dirty_prev = pc->dirty_tail;
	if (pc->dirty_tail)
		pc->dirty_tail->dirty_next = m;
	else
		pc->dirty_head = m;
	pc->dirty_tail = m;
	m->on_dirty_list = true;
}

void pcache_dirty_list_del_locked(struct pcache *pc, struct pcache_mapping *m)
{
	if (!m->on_dirty_list)
		return;
	if (m->dirty_prev)
		m->dirty_prev->dirty_next = m->dirty_next;
	else
		pc->dirty_head = m->dirty_next;
	if (m->dirty_next)
		m->dirty_next->dirty_prev = m->dirty_prev;
	else
		pc->dirty_tail = m->dirty_prev;
	m->dirty_prev = m->dirty_next = NULL;
	m->on_dirty_list = false;
}

/*
 * A page went clean -> dirty (its lock held). NO_BACKING pages are not
 * accounted: nothing could ever clean them.
 */
void pcache_account_dirty(struct pcache_page *p)
{
	struct pcache_mapping *m = p->mapping;
	struct pcache *pc = m->pc;

	if (pcache_no_backing(m))
		return;
	pthread_mutex_lock(&pc->lock);
	atomic_fetch_add(&pc->nr_dirty, 1);
	if (!m->nr_dirty++) {
		m->dirtied_when = p->dirtied_when;
		dirty_list_add_tail_locked(pc, m);
	}
	pthread_mutex_unlock(&pc->lock);
}

/* A dirty page is discarded (its lock held). */
void pcache_unaccount_dirty(struct pcache_page *p)
{
	struct pcache_mapping *m = p->mapping;
	struct pcache *pc = m->pc;

	if (pcache_no_backing(m))
		return;
	pthread_mutex_lock(&pc->lock);
	atomic_fetch_sub(&pc->nr_dirty, 1);
	if (!--m->nr_dirty)
		pcache_dirty_list_del_locked(pc, m);
	pthread_cond_broadcast(&pc->progress_cv);
	pthread_mutex_unlock(&pc->lock);
}

/* Dirty -> writeback (page locked): one lock section so dirty+writeback
 * never dips, which throttled writers compare against their limit. */
static void start_writeback(struct pcache_page *p)
{
	struct pcache_mapping *m = p->mapping;
	struct pcache *pc = m->pc;

	pcache_set(p, PG_WRITEBACK);
	pcache_clear(p, PG_DIRTY);
	pthread_mutex_lock(&pc->lock);
	atomic_fetch_add(&pc->nr_writeback, 1);
	atomic_fetch_sub(&pc->nr_dirty, 1);
	if (!--m->nr_dirty)
		pcache_dirty_list_del_locked(pc, m);
	pthread_mutex_unlock(&pc->lock);
}

void pcache_wait_progress_locked(struct pcache *pc)
{
	pthread_cond_wait(&pc->progress_cv, &pc->lock);
}

/* ---- errseq ------------------------------------------------------------- */

#define ERRSEQ_ERRNO 0xfffu
#define ERRSEQ_SEEN 0x1000u
#define ERRSEQ_CTR 0x2000u

/* Record a write-back error; a new sequence once the old one was seen. */
void pcache_errseq_set(struct pcache_mapping *m, int err)
{
	unsigned int old = atomic_load(&m->wb_err), new;

	do {
		new = (old & ~(ERRSEQ_ERRNO | ERRSEQ_SEEN)) |
		      ((unsigned int)-err & ERRSEQ_ERRNO);
		if (old & ERRSEQ_SEEN)
			new += ERRSEQ_CTR;
		if (new == old)
			return;
	} while (!atomic_compare_exchange_weak(&m->wb_err, &old, new));
}

uint32_t pcache_errseq_sample(struct pcache_mapping *m)
{
	unsigned int old = atomic_load(&m->wb_err);

	/* An error nobody has seen yet is reported to the new file too. */
	return old & ERRSEQ_SEEN ? old : 0;
}

int pcache_errseq_check(struct pcache_mapping *m, uint32_t *since)
{
	unsigned int old = atomic_load(&m->wb_err);

	if (old == *since)
		return 0;
	if (!(old & ERRSEQ_SEEN))
		atomic_compare_exchange_strong(&m->wb_err, &old,
					       old | ERRSEQ_SEEN);
	*since = old | ERRSEQ_SEEN;
	return -(int)(old & ERRSEQ_ERRNO);
}

/* ---- writing a mapping --------------------------------------------------- */

void pcache_write_done(struct pcache_page **pages, unsigned int n, int err)
{
	struct pcache_mapping *m;
	struct pcache *pc;

	if (!n)
		return;
	m = pages[0]->mapping;
	pc = m->pc;
	if (err) {
		pcache_errseq_set(m, err);
		atomic_fetch_add(&m->wb_failures, 1);
	}
	for (unsigned int i = 0; i < n; i++) {
		/*
		 * A failed page is left clean with PG_ERROR (as Linux since
		 * errseq): the error goes to fsync through errseq, and a
		 * failing store cannot pin dirty memory forever.
		 */
		if (err)
			pcache_set(pages[i], PG_ERROR);
		else
			pcache_clear(pages[i], PG_ERROR);
		pcache_clear(pages[i], PG_WRITEBACK);
	}
	pthread_mutex_lock(&pc->lock);
	atomic_fetch_sub(&pc->nr_writeback, n);
	if (!err)
		pcache_count(&pc->wb_pages, n);
	pthread_cond_broadcast(&pc->progress_cv);
	pthread_mutex_unlock(&pc->lock);
	pcache_wake_page(m);
	/* release: our last access to m (see io_pages) */
	atomic_fetch_sub_explicit(&m->io_pages, n, memory_order_release);
	pcache_put_pages(pages, n); /* the I/O's references */
}

static void submit_write(struct pcache_mapping *m, struct pcache_page **run,
			 unsigned int n, bool sync)
{
	int ret = 0;

	pcache_count(&m->pc->write_runs, 1);
	atomic_fetch_add(&m->io_pages, n);
	if (m->ops && m->ops->write_pages)
		ret = m->ops->write_pages(m, run, n, sync);
	else
		pcache_write_done(run, n, 0); /* nothing to write to */
	if (ret < 0)
		pcache_write_done(run, n, ret);
}

/*
 * Write the dirty pages of m with first <= index <= last, in runs of
 * consecutive indexes (at most PCACHE_MAX_RUN each, one write_pages call
 * per run). sync: wait for page locks and writeback in flight, then for
 * this call's writeback, and return an error if any page of the range
 * failed; else skip busy pages. max: stop after that many pages (0: all).
 * Returns the pages submitted, or -errno (sync: the write error).
 */
static long write_mapping(struct pcache_mapping *m, uint64_t first,
			  uint64_t last, bool sync, uint64_t max)
{
	struct pcache_page **v, *run[PCACHE_MAX_RUN], *p;
	unsigned int rn = 0;
	unsigned int failures_before = atomic_load(&m->wb_failures);
	long n, submitted = 0, ret;

	if (pcache_no_backing(m))
		return 0;
	n = pcache_collect(m, first, last, !sync, &v);
	if (n <= 0)
		return n;
	for (long i = 0; i < n; i++) {
		p = v[i];
		if (sync) {
			if (!(pcache_flags(p) & (PG_DIRTY | PG_WRITEBACK)))
				continue;
			pcache_lock_page(p);
			pcache_wait_writeback(p);
		} else if (!pcache_trylock_page(p)) {
			continue;
		} else if (pcache_test(p, PG_WRITEBACK)) {
			pcache_unlock_page(p);
			continue;
		}
		if (!pcache_test(p, PG_DIRTY) || pcache_test(p, PG_REMOVED)) {
			pcache_unlock_page(p);
			continue;
		}
		start_writeback(p);
		pcache_page_get(p); /* the I/O's reference */
		pcache_unlock_page(p);
		if (rn && (run[rn - 1]->index + 1 != p->index ||
			   rn == PCACHE_MAX_RUN)) {
			submit_write(m, run, rn, sync);
			rn = 0;
		}
		run[rn++] = p;
		submitted++;
		if (max)
			atomic_store_explicit(&m->wb_cursor, p->index + 1,
					      memory_order_relaxed);
		if (max && (uint64_t)submitted >= max)
			break;
	}
	if (rn)
		submit_write(m, run, rn, sync);
	ret = submitted;
	if (sync) {
		for (long i = 0; i < n; i++)
			pcache_wait_writeback(v[i]);
		if (atomic_load(&m->wb_failures) != failures_before) {
			unsigned int e = atomic_load(&m->wb_err) & ERRSEQ_ERRNO;

			ret = e ? -(long)e : -EIO;
		}
	}
	pcache_put_pages(v, n);
	free(v);
	return ret;
}

/* ---- background writeback ------------------------------------------------ */

static void pin_locked(struct pcache_mapping *m)
{
	m->pins++;
}

static void unpin(struct pcache_mapping *m)
{
	struct pcache *pc = m->pc;

	pthread_mutex_lock(&pc->lock);
	m->pins--;
	pthread_cond_broadcast(&pc->progress_cv);
	pthread_mutex_unlock(&pc->lock);
}

/*
 * Write up to nr dirty pages of the oldest dirty mapping, without waiting;
 * the mapping goes to the list's tail so a stuck one cannot starve others.
 * Returns the pages submitted (0: none could be), or -errno.
 */
long pcache_writeback_some(struct pcache *pc, unsigned int nr)
{
	struct pcache_mapping *m;
	long n;

	pthread_mutex_lock(&pc->lock);
	m = pc->dirty_head;
	if (!m) {
		pthread_mutex_unlock(&pc->lock);
		return 0;
	}
	pcache_dirty_list_del_locked(pc, m);
	dirty_list_add_tail_locked(pc, m);
	pin_locked(m);
	pthread_mutex_unlock(&pc->lock);
	/*
	 * From the cursor, a window of 4 * nr indexes: probed one by one
	 * (pcache_collect's short-range path) while it is shorter than the
	 * table. Nothing there: the whole mapping, from the start.
	 */
	n = 0;
	if (nr) {
		uint64_t c = atomic_load_explicit(&m->wb_cursor,
						  memory_order_relaxed);

		n = write_mapping(m, c, c + 4ull * nr - 1, false, nr);
	}
	if (!n)
		n = write_mapping(m, 0, UINT64_MAX, false, nr);
	unpin(m);
	return n;
}

/*
 * Snapshot the mappings matching (dirtied before cutoff, or all when
 * all_mappings), pinned. Returns the count or -ENOMEM; free *out.
 */
static long snapshot(struct pcache *pc, bool all_mappings, uint64_t cutoff,
		     struct pcache_mapping ***out)
{
	struct pcache_mapping *m, **v;
	long n = 0, cap = 0;

	pthread_mutex_lock(&pc->lock);
	for (m = all_mappings ? pc->all_head : pc->dirty_head; m;
	     m = all_mappings ? m->all_next : m->dirty_next)
		cap++;
	v = malloc((size_t)(cap ? cap : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&pc->lock);
		return -ENOMEM;
	}
	for (m = all_mappings ? pc->all_head : pc->dirty_head; m;
	     m = all_mappings ? m->all_next : m->dirty_next) {
		if (!all_mappings && m->dirtied_when > cutoff)
			continue;
		pin_locked(m);
		v[n++] = m;
	}
	pthread_mutex_unlock(&pc->lock);
	*out = v;
	return n;
}

/*
 * Pages per background step: what is over the background threshold, at
 * least 1024 (Linux's MAX_WRITEBACK_PAGES), at most one run. Why: each
 * step is one write_pages call, which the fs completes before it returns
 * (ukfs: data=ordered under wb_mutex), so the disk queue drains at the
 * end of every step; 1024-page steps kept at most four 1 MiB requests in
 * flight while a 1 GiB write was being throttled (2026-11-25,
 * docs/ukfs.md).
 */
static unsigned int bg_batch(struct pcache *pc)
{
	uint64_t dirty = atomic_load(&pc->nr_dirty);
	uint64_t over = dirty > pc->bg_thresh ? dirty - pc->bg_thresh : 0;

	if (over < 1024)
		return 1024;
	return over < PCACHE_MAX_RUN ? (unsigned int)over : PCACHE_MAX_RUN;
}

void pcache_writeback_run(struct pcache *pc)
{
	struct pcache_mapping **v;
	uint64_t now = pcache_now(pc);
	int idle = 0;
	long n;

	pcache_count(&pc->wb_passes, 1);
	/* Expired: every mapping first dirtied dirty_expire ago, wholly. */
	if (now >= pc->o.dirty_expire_ns) {
		n = snapshot(pc, false, now - pc->o.dirty_expire_ns, &v);
		for (long i = 0; i < n; i++) {
			write_mapping(v[i], 0, UINT64_MAX, false, 0);
			unpin(v[i]);
		}
		if (n >= 0)
			free(v);
	}
	/* Background: oldest mappings first until under the threshold. */
	while (atomic_load(&pc->nr_dirty) > pc->bg_thresh && idle < 8) {
		if (pcache_writeback_some(pc, bg_batch(pc)) > 0)
			idle = 0;
		else
			idle++;
	}
}

static void *wb_thread(void *arg)
{
	struct pcache *pc = arg;
	struct timespec ts;
	uint64_t seq, deadline;

	pthread_mutex_lock(&pc->lock);
	for (;;) {
		deadline = uk_mono_ns() + pc->o.writeback_interval_ns;
		while (!pc->stop && !pc->kicked) {
			if (!pc->o.writeback_interval_ns) {
				pthread_cond_wait(&pc->wb_cv, &pc->lock);
				continue;
			}
			ts.tv_sec = (time_t)(deadline / 1000000000ull);
			ts.tv_nsec = (long)(deadline % 1000000000ull);
			if (pthread_cond_timedwait(&pc->wb_cv, &pc->lock,
						   &ts) == ETIMEDOUT)
				break;
		}
		if (pc->stop)
			break;
		pc->kicked = false;
		seq = pc->kick_seq;
		pthread_mutex_unlock(&pc->lock);
		pcache_writeback_run(pc);
		pthread_mutex_lock(&pc->lock);
		pc->done_seq = seq;
		pthread_cond_broadcast(&pc->progress_cv);
	}
	pthread_mutex_unlock(&pc->lock);
	return NULL;
}

int pcache_thread_start(struct pcache *pc)
{
	pthread_condattr_t ca;
	int ret;

	/* The thread's interval sleeps on CLOCK_MONOTONIC. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&pc->wb_cv);
	pthread_cond_init(&pc->wb_cv, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&pc->thread, NULL, wb_thread, pc);
	if (!ret)
		pc->have_thread = true;
	return ret;
}

void pcache_thread_stop(struct pcache *pc)
{
	if (!pc->have_thread)
		return;
	pthread_mutex_lock(&pc->lock);
	pc->stop = true;
	pthread_cond_signal(&pc->wb_cv);
	pthread_mutex_unlock(&pc->lock);
	pthread_join(pc->thread, NULL);
	pc->have_thread = false;
}

void pcache_writeback_kick(struct pcache *pc, bool wait)
{
	uint64_t seq;

	if (!pc->have_thread) {
		if (wait)
			pcache_writeback_run(pc);
		return;
	}
	pthread_mutex_lock(&pc->lock);
	seq = ++pc->kick_seq;
	pc->kicked = true;
	pthread_cond_signal(&pc->wb_cv);
	while (wait && pc->done_seq < seq && !pc->stop)
		pcache_wait_progress_locked(pc);
	pthread_mutex_unlock(&pc->lock);
}

/* ---- throttling ------------------------------------------------------------
 */

static uint64_t dirty_load(struct pcache *pc)
{
	return atomic_load(&pc->nr_dirty) + atomic_load(&pc->nr_writeback);
}

/*
 * balance_dirty_pages, called by writers after dirtying a page, with no
 * lock held: above the background threshold kick the thread; above the
 * dirty threshold sleep until writeback brings the cache under it (with no
 * thread, write back in the caller's context).
 */
void pcache_balance_dirty(struct pcache *pc)
{
	uint64_t t0;

	if (pcache_likely(dirty_load(pc) <= pc->bg_thresh))
		return;
	if (pc->have_thread && dirty_load(pc) <= pc->dirty_thresh) {
		pthread_mutex_lock(&pc->lock);
		if (!pc->kicked) {
			pc->kicked = true;
			pc->kick_seq++;
			pthread_cond_signal(&pc->wb_cv);
		}
		pthread_mutex_unlock(&pc->lock);
		return;
	}
	if (dirty_load(pc) <= pc->dirty_thresh)
		return;

	pcache_count(&pc->throttled, 1);
	t0 = uk_mono_ns();
	pthread_mutex_lock(&pc->lock);
	while (dirty_load(pc) > pc->dirty_thresh && !pc->stop) {
		if (!pc->have_thread) {
			long n;

			pthread_mutex_unlock(&pc->lock);
			n = pcache_writeback_some(pc, 1024);
			pthread_mutex_lock(&pc->lock);
			if (n > 0 || !atomic_load(&pc->nr_writeback)) {
				if (n <= 0)
					break; /* nothing writable: give up */
				continue;
			}
		} else {
			pc->kicked = true;
			pc->kick_seq++;
			pthread_cond_signal(&pc->wb_cv);
		}
		pcache_wait_progress_locked(pc);
	}
	pthread_mutex_unlock(&pc->lock);
	pcache_count(&pc->throttled_ns, uk_mono_ns() - t0);
}

/* ---- fsync and sync ---------------------------------------------------------
 */

int pcache_writeback_range(struct pcache_mapping *m, uint64_t start,
			   uint64_t end, bool wait)
{
	long ret;

	if (end < start)
		return 0;
	ret = write_mapping(m, start >> PCACHE_PAGE_SHIFT,
			    end >> PCACHE_PAGE_SHIFT, wait, 0);
	return ret < 0 ? (int)ret : 0;
}

int pcache_flush_range(struct pcache_mapping *m, uint64_t start, uint64_t end)
{
	return pcache_writeback_range(m, start, end, true);
}

int pcache_fsync(struct pcache_mapping *m, uint64_t start, uint64_t end,
		 uint32_t *since)
{
	int ret = pcache_writeback_range(m, start, end, true);
	int err = pcache_errseq_check(m, since);

	return err ? err : ret;
}

int pcache_sync_all(struct pcache *pc)
{
	struct pcache_mapping **v;
	long n;
	int ret = 0, err;

	n = snapshot(pc, true, 0, &v);
	if (n < 0)
		return (int)n;
	for (long i = 0; i < n; i++) {
		err = pcache_writeback_range(v[i], 0, UINT64_MAX, true);
		if (err && !ret)
			ret = err;
		unpin(v[i]);
	}
	free(v);
	return ret;
}
