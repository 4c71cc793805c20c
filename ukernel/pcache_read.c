// SPDX-License-Identifier: MIT
/*
 * ukernel/pcache_read.c - the read path and on-demand readahead: the hit
 * fast path (tree_lock read side for the lookup, no page reference: see
 * read_hits; with references under ASan and after a race), misses
 * that insert locked pages and call read_pages once per run of a readahead
 * window, and Linux's on-demand readahead (a window per open file that
 * starts small on sequential access, doubles up to the maximum, and is
 * refilled asynchronously when a marked page is hit; random reads get no
 * readahead).
 *
 * Sections: read I/O, readahead, pcache_read.
 */
#include <errno.h>
#include <string.h>

#include "pcache_internal.h"

/* ---- read I/O ---------------------------------------------------------- */

void pcache_read_done(struct pcache_page **pages, unsigned int n, int err)
{
	struct pcache_mapping *m;

	if (!n)
		return;
	m = pages[0]->mapping;
	for (unsigned int i = 0; i < n; i++) {
		struct pcache_page *p = pages[i];

		if (err) {
			pcache_set(p, PG_ERROR);
		} else {
			pcache_clear(p, PG_ERROR);
			/* release: the data filled in is visible to hits */
			pcache_set(p, PG_UPTODATE);
		}
		/*
		 * The I/O holds no reference: from here the page may be
		 * evicted and freed, so it is not touched again (one wake-up
		 * for the run, through m, below).
		 */
		pcache_clear(p, PG_LOCKED);
	}
	pcache_wake_page(m);
	/* release: our last access to m (see io_pages) */
	atomic_fetch_sub_explicit(&m->io_pages, n, memory_order_release);
}

/*
 * Start reading n consecutive locked pages. Ownership of the lock passes to
 * the I/O: pcache_read_done unlocks them (here on a failed start). The
 * table's reference keeps each page alive until then (locked pages are not
 * evicted, and truncate waits for the lock).
 */
void pcache_submit_read(struct pcache_mapping *m, struct pcache_page **pages,
			unsigned int n)
{
	int ret;

	pcache_count(&m->pc->read_runs, 1);
	atomic_fetch_add(&m->io_pages, n);
	if (!m->ops || !m->ops->read_pages) {
		for (unsigned int i = 0; i < n; i++)
			memset(pages[i]->data, 0, PCACHE_PAGE_SIZE);
		pcache_read_done(pages, n, 0);
		return;
	}
	ret = m->ops->read_pages(m, pages, n);
	if (ret < 0)
		pcache_read_done(pages, n, ret);
}

/*
 * Read one page the caller has locked and keep it locked. Returns 0 when
 * uptodate, -EIO on a read error, -EAGAIN when it was removed meanwhile
 * (the caller looks it up again).
 */
int pcache_read_one(struct pcache_mapping *m, struct pcache_page *p)
{
	pcache_submit_read(m, &p, 1);
	pcache_lock_page(p);
	if (pcache_test(p, PG_REMOVED))
		return -EAGAIN;
	if (!pcache_test(p, PG_UPTODATE))
		return -EIO;
	return 0;
}

/* ---- readahead --------------------------------------------------------- */

void pcache_ra_init(struct pcache_ra_state *ra)
{
	memset(ra, 0, sizeof(*ra));
	ra->prev_pos = -1;
}

/*
 * Bring [start, start + nr) into the cache: pages already there are
 * skipped, missing ones are allocated, inserted locked and read in runs
 * (one read_pages per run of consecutive missing pages). Pages at or past
 * ra_from are speculative (PG_RA, counted); the page at mark gets
 * PG_READAHEAD. Pages at or past eof (the file's page count) are not
 * read. Returns -ENOMEM when not even one page could be had.
 */
static int do_readahead(struct pcache_mapping *m, uint64_t start, uint64_t nr,
			uint64_t ra_from, uint64_t mark, uint64_t eof)
{
	struct pcache *pc = m->pc;
	struct pcache_page *run[PCACHE_MAX_RUN], *p;
	unsigned int rn = 0;
	uint64_t ra = 0;
	int ret = 0;

	/* Never past the page holding the last byte (eof: pages in file). */
	if (start >= eof)
		return 0;
	if (nr > eof - start)
		nr = eof - start;
	for (uint64_t idx = start; idx < start + nr; idx++) {
		p = pcache_find_get(m, idx);
		if (p) {
			pcache_page_put(p);
			goto flush;
		}
		if (!pcache_alloc_pages(m, &p, 1)) {
			ret = -ENOMEM;
			break;
		}
		p->index = idx;
		if (idx >= ra_from) {
			pcache_set(p, PG_RA);
			ra++;
		}
		if (idx == mark)
			pcache_set(p, PG_READAHEAD);
		if (pcache_insert(m, p)) {
			if (idx >= ra_from)
				ra--;
			pcache_page_put(p);
			goto flush;
		}
		run[rn++] = p;
		if (rn < PCACHE_MAX_RUN)
			continue;
	flush:
		if (rn) {
			pcache_submit_read(m, run, rn);
			pcache_put_pages(run, rn);
			rn = 0;
		}
	}
	if (rn) {
		pcache_submit_read(m, run, rn);
		pcache_put_pages(run, rn);
	}
	pcache_count(&pc->ra_pages, ra);
	return ret;
}

static uint64_t roundup_pow2(uint64_t x)
{
	uint64_t r = 1;

	while (r < x)
		r <<= 1;
	return r;
}

/* First window: the request rounded up, at least 4 pages, times 2 if small. */
static unsigned int init_ra_size(uint64_t req, uint64_t max)
{
	uint64_t size = roundup_pow2(req);

	if (size < 4)
		size = 4;
	else if (size <= max / 4)
		size *= 2;
	return (unsigned int)(size < max ? size : max);
}

static unsigned int next_ra_size(unsigned int cur, uint64_t max)
{
	uint64_t size = 2 * (uint64_t)cur;

	return (unsigned int)(size < max ? size : max);
}

/* Issue the current window; pages before ra_from are the ones asked for. */
static int submit_window(struct pcache_mapping *m, struct pcache_ra_state *ra,
			 uint64_t ra_from, uint64_t eof)
{
	return do_readahead(m, ra->start, ra->size, ra_from,
			    ra->start + ra->size - ra->async_size, eof);
}

/*
 * Linux's ondemand_readahead, for a reader at page index wanting req pages.
 * hit_marker: a PG_READAHEAD page was hit (async: the window moves ahead);
 * else the page was missing (sync). The ra state belongs to the caller's
 * open file.
 */
static int ondemand_readahead(struct pcache_mapping *m,
			      struct pcache_ra_state *ra, uint64_t index,
			      uint64_t req, bool hit_marker, uint64_t eof)
{
	uint64_t max = m->pc->ra_max_pages;
	uint64_t prev;

	if (!max) {
		if (hit_marker)
			return 0;
		return do_readahead(m, index, req, UINT64_MAX, UINT64_MAX, eof);
	}
	if (hit_marker) {
		/* The expected marker: push the window ahead, doubled. */
		if (ra->size &&
		    index == ra->start + ra->size - ra->async_size) {
			ra->start += ra->size;
			ra->size = next_ra_size(ra->size, max);
		} else {
			/* Someone else's marker or a stale state: restart. */
			ra->start = index + 1;
			ra->size = init_ra_size(req, max);
		}
		ra->async_size = ra->size;
		return submit_window(m, ra, 0, eof);
	}

	prev = ra->prev_pos < 0 ? UINT64_MAX
				: (uint64_t)ra->prev_pos >> PCACHE_PAGE_SHIFT;
	if (ra->size && index == ra->start + ra->size) {
		/* Sequential past the window (its pages were dropped). */
		ra->start = index;
		ra->size = next_ra_size(ra->size, max);
		ra->async_size = ra->size;
	} else if (index == 0 || index == prev || index == prev + 1) {
		/* Start of file or sequential: a fresh window. */
		ra->start = index;
		ra->size = init_ra_size(req, max);
		ra->async_size = ra->size > req ? ra->size - (unsigned int)req
						: ra->size;
	} else {
		/* Random: read what was asked, no speculation. */
		return do_readahead(m, index, req, UINT64_MAX, UINT64_MAX, eof);
	}
	if (req > ra->size) {
		/* A read bigger than the window: read it all, plus the window.
		 */
		int ret = do_readahead(m, index, req, UINT64_MAX, UINT64_MAX,
				       eof);

		if (ret)
			return ret;
		ra->start = index + req;
		ra->async_size = ra->size;
		return submit_window(m, ra, 0, eof);
	}
	return submit_window(m, ra, index + req, eof);
}

/* ---- pcache_read ------------------------------------------------------- */

/*
 * The slow path for one page: it was missing or not uptodate. Returns it
 * uptodate with a reference, or NULL and *err (-EIO, -ENOMEM).
 */
static struct pcache_page *read_slow(struct pcache_mapping *m,
				     struct pcache_ra_state *ra,
				     struct pcache_page *p, uint64_t idx,
				     uint64_t req, uint64_t eof, int *err)
{
	struct pcache *pc = m->pc;
	bool tried = false;
	int ret;

	pcache_count(&pc->misses, 1);
	for (;;) {
		if (!p) {
			ret = ondemand_readahead(m, ra, idx, req, false, eof);
			p = pcache_find_get(m, idx);
			if (!p) {
				if (ret) {
					*err = ret;
					return NULL;
				}
				continue; /* evicted at once: again */
			}
		}
		if (pcache_test(p, PG_UPTODATE))
			return p;
		pcache_lock_page(p); /* waits for the read in flight */
		if (pcache_test(p, PG_REMOVED)) {
			pcache_unlock_page(p);
			pcache_page_put(p);
			p = NULL;
			continue;
		}
		if (pcache_test(p, PG_UPTODATE)) {
			pcache_unlock_page(p);
			return p;
		}
		if (pcache_test(p, PG_ERROR) && tried) {
			pcache_unlock_page(p);
			pcache_page_put(p);
			*err = -EIO;
			return NULL;
		}
		/* Not read (a failed read, or a write's discarded copy). */
		tried = true;
		ret = pcache_read_one(m, p);
		pcache_unlock_page(p);
		if (!ret)
			return p;
		if (ret != -EAGAIN) {
			pcache_page_put(p);
			*err = ret;
			return NULL;
		}
		pcache_page_put(p);
		p = NULL;
	}
}

/*
 * Copies the uptodate pages v[0..k) (consecutive indexes) from byte off of
 * the first, up to end of the file range at *pos: one copy call per run
 * of pages whose frames are adjacent in memory (frames are carved in
 * order from 2 MiB chunks, so a file read in order mostly is one run).
 * Returns false when the copy came up short (a fault).
 */
static bool copy_frames(char *const *v, unsigned int k, uint64_t *pos,
			uint64_t end, size_t *done, pcache_copy_fn copy,
			void *ctx)
{
	unsigned int i = 0;

	while (i < k && *pos < end) {
		size_t off = *pos & (PCACHE_PAGE_SIZE - 1);
		char *base = v[i] + off;
		size_t n = PCACHE_PAGE_SIZE - off, c;

		while (i + 1 < k && v[i + 1] == v[i] + PCACHE_PAGE_SIZE &&
		       *pos + n < end) {
			i++;
			n += PCACHE_PAGE_SIZE;
		}
		i++;
		if (n > end - *pos)
			n = (size_t)(end - *pos);
		c = copy(ctx, *done, base, n);
		*done += c;
		*pos += c;
		if (c < n)
			return false;
	}
	return true;
}

static bool copy_pages(struct pcache_page **v, unsigned int k, uint64_t *pos,
		       uint64_t end, size_t *done, pcache_copy_fn copy,
		       void *ctx)
{
	char *d[PCACHE_READ_BATCH];

	for (unsigned int i = 0; i < k; i++)
		d[i] = v[i]->data;
	return copy_frames(d, k, pos, end, done, copy, ctx);
}

#ifndef PCACHE_FRAMES_FROM_MALLOC
/*
 * The warm-read fast path (docs/pcache.md "Warm reads"): up to
 * PCACHE_HIT_BATCH plain hits found under tree_lock's read side, copied
 * after it is dropped, with no page reference and no atomic per page. A
 * page removed meanwhile (truncate, eviction, invalidation) may have its
 * frame reused while we copy; frames stay mapped while the cache lives,
 * so the copy is memory-safe, and rm_seq, bumped at every removal before
 * the frame can be freed, tells us to throw the copy away and redo the
 * range through references. Returns 1 when it copied (check *fault), 0
 * when the first page is not a plain hit, -EAGAIN when rm_seq moved.
 */
static int read_hits(struct pcache_mapping *m, uint64_t idx, unsigned int want,
		     uint64_t *pos, uint64_t end, size_t *done,
		     pcache_copy_fn copy, void *ctx, bool *fault)
{
	char *d[PCACHE_HIT_BATCH];
	uint64_t pos0 = *pos;
	size_t done0 = *done;
	unsigned int seq, k;

	k = pcache_find_hits(m, idx,
			     want < PCACHE_HIT_BATCH ? want : PCACHE_HIT_BATCH,
			     d, &seq);
	if (!k)
		return 0;
	*fault = !copy_frames(d, k, pos, end, done, copy, ctx);
	/*
	 * The copy's loads before the second read of rm_seq: a copy that
	 * saw a reused frame's new contents then sees the bump that came
	 * before the frame was freed.
	 */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&m->rm_seq, memory_order_relaxed) != seq) {
		*pos = pos0;
		*done = done0;
		*fault = false;
		return -EAGAIN;
	}
	pcache_count_hits(m->pc, k);
	return 1;
}
#endif

ssize_t pcache_read(struct pcache_mapping *m, struct pcache_ra_state *ra,
		    uint64_t pos, size_t len, uint64_t i_size,
		    pcache_copy_fn copy, void *ctx)
{
	struct pcache *pc = m->pc;
	struct pcache_page *v[PCACHE_READ_BATCH];
	uint64_t end, last, eof;
	size_t done = 0;
#ifndef PCACHE_FRAMES_FROM_MALLOC
	bool retry = false;
#endif
	int err = 0;

	if (pos >= i_size || !len)
		return 0;
	end = i_size - pos < len ? i_size : pos + len;
	last = (end - 1) >> PCACHE_PAGE_SHIFT;
	eof = ((i_size - 1) >> PCACHE_PAGE_SHIFT) + 1;

	while (pos < end) {
		uint64_t idx = pos >> PCACHE_PAGE_SHIFT;
		uint64_t want = last - idx + 1;
		unsigned int k, got, i;
		struct pcache_page *p;
		unsigned int f;
		bool ok;

#ifndef PCACHE_FRAMES_FROM_MALLOC
		if (!retry) {
			bool fault;
			int r = read_hits(m, idx,
					  want < PCACHE_HIT_BATCH
						  ? (unsigned int)want
						  : PCACHE_HIT_BATCH,
					  &pos, end, &done, copy, ctx, &fault);

			if (r > 0) {
				if (fault) {
					err = -EFAULT;
					break;
				}
				continue;
			}
			retry = r < 0;
		} else {
			retry = false; /* once through references */
		}
#endif

		/*
		 * Fast path: a run of uptodate pages found under one lock,
		 * copied with as few copy calls as their frames allow.
		 */
		got = pcache_find_get_contig(m, idx,
					     want < PCACHE_READ_BATCH
						     ? (unsigned int)want
						     : PCACHE_READ_BATCH,
					     v);
		for (k = 0; k < got; k++) {
			f = pcache_flags(v[k]);
			if (!(f & PG_UPTODATE) || (f & PG_READAHEAD))
				break;
			/* a readahead page's first use (see find_hits) */
			if ((f & PG_RA) && pcache_test_and_clear(v[k], PG_RA))
				pcache_count(&pc->ra_hits, 1);
			if (!(f & PG_REFERENCED))
				pcache_set(v[k], PG_REFERENCED);
		}
		if (k) {
			pcache_count_hits(pc, k);
			ok = copy_pages(v, k, &pos, end, &done, copy, ctx);
			pcache_put_pages(v, got);
			if (!ok) {
				err = -EFAULT;
				break;
			}
			continue;
		}
		/* v[0] is missing, not uptodate or a readahead mark. */
		for (i = 1; i < got; i++)
			pcache_page_put(v[i]);
		p = got ? v[0] : NULL;
		if (!p && pcache_no_backing(m)) {
			/*
			 * A hole of a memory-only file reads as zeros
			 * without a page (shmem's ZERO_PAGE): a read must
			 * not allocate what the fs never charged.
			 */
			static const char zero_page[PCACHE_PAGE_SIZE];
			size_t off = pos & (PCACHE_PAGE_SIZE - 1);
			size_t n = PCACHE_PAGE_SIZE - off, c;

			if (n > end - pos)
				n = (size_t)(end - pos);
			c = copy(ctx, done, (void *)(zero_page + off), n);
			done += c;
			pos += c;
			if (c < n) {
				err = -EFAULT;
				break;
			}
			continue;
		}
		f = p ? pcache_flags(p) : 0;
		if (f & PG_UPTODATE) {
			pcache_count_hit(pc);
			if (!(f & PG_REFERENCED))
				pcache_set(p, PG_REFERENCED);
		} else {
			p = read_slow(m, ra, p, idx, want, eof, &err);
			if (!p)
				break;
			f = pcache_flags(p);
		}
		if (pcache_unlikely(f & (PG_READAHEAD | PG_RA))) {
			if (f & PG_RA && pcache_test_and_clear(p, PG_RA))
				pcache_count(&pc->ra_hits, 1);
			if (f & PG_READAHEAD &&
			    pcache_test_and_clear(p, PG_READAHEAD))
				ondemand_readahead(m, ra, idx, want, true, eof);
		}
		ok = copy_pages(&p, 1, &pos, end, &done, copy, ctx);
		pcache_page_put(p);
		if (!ok) {
			err = -EFAULT;
			break;
		}
	}
	if (done)
		ra->prev_pos = (int64_t)(pos - 1);
	return done ? (ssize_t)done : err;
}
