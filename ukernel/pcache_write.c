// SPDX-License-Identifier: MIT
/*
 * ukernel/pcache_write.c - the write path (find or create the page, read a
 * partial page first, copy through the caller's function, dirty, throttle)
 * and the ways pages leave a mapping early: truncate, punch hole and the
 * invalidation that follows an O_DIRECT write.
 *
 * Sections: pcache_write, dropping pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcache_internal.h"

/* ---- pcache_write ------------------------------------------------------ */

/*
 * Find or create the page at idx and return it locked with a reference,
 * still in the mapping; NULL when no page could be allocated.
 */
static struct pcache_page *grab_page(struct pcache_mapping *m, uint64_t idx)
{
	struct pcache_page *p;

	for (;;) {
		p = pcache_find_get(m, idx);
		if (p) {
			pcache_lock_page(p);
			if (!pcache_test(p, PG_REMOVED))
				return p;
			pcache_unlock_page(p);
			pcache_page_put(p);
			continue;
		}
		if (!pcache_alloc_pages(m, &p, 1))
			return NULL;
		p->index = idx;
		if (!pcache_insert(m, p))
			return p;   /* locked since allocation */
		pcache_page_put(p); /* lost the race: use the other */
	}
}

/* Mark a locked, uptodate page dirty (accounting the clean->dirty edge). */
static void set_page_dirty(struct pcache_page *p)
{
	if (pcache_test(p, PG_DIRTY))
		return;
	p->dirtied_when = pcache_now(p->mapping->pc);
	pcache_set(p, PG_DIRTY);
	pcache_account_dirty(p);
}

ssize_t pcache_write(struct pcache_mapping *m, uint64_t pos, size_t len,
		     uint64_t i_size, pcache_copy_fn copy, void *ctx)
{
	size_t done = 0;
	int err = 0;

	while (done < len) {
		uint64_t idx = pos >> PCACHE_PAGE_SHIFT;
		size_t off = pos & (PCACHE_PAGE_SIZE - 1);
		size_t n = PCACHE_PAGE_SIZE - off;
		struct pcache_page *p;
		bool valid;
		size_t c;

		if (n > len - done)
			n = len - done;
		p = grab_page(m, idx);
		if (!p) {
			err = -ENOMEM;
			break;
		}
		valid = pcache_test(p, PG_UPTODATE);
		if (!valid && (off || n < PCACHE_PAGE_SIZE)) {
			if (idx << PCACHE_PAGE_SHIFT >= i_size) {
				/* Wholly past EOF: nothing to read. */
				memset(p->data, 0, PCACHE_PAGE_SIZE);
				pcache_set(p, PG_UPTODATE);
				valid = true;
			} else {
				err = pcache_read_one(m, p);
				if (err == -EAGAIN) {
					pcache_unlock_page(p);
					pcache_page_put(p);
					err = 0;
					continue;
				}
				if (err) {
					pcache_unlock_page(p);
					pcache_page_put(p);
					break;
				}
				valid = true;
			}
		}
		c = copy(ctx, done, (char *)p->data + off, n);
		if (c < n && !valid)
			c = 0; /* a torn full-page copy over unread data */
		if (c) {
			pcache_set(p, PG_UPTODATE);
			set_page_dirty(p);
		}
		pcache_unlock_page(p);
		pcache_page_put(p);
		done += c;
		pos += c;
		if (c < n) {
			err = -EFAULT;
			break;
		}
		pcache_balance_dirty(m->pc);
	}
	return done ? (ssize_t)done : err;
}

/* ---- dropping pages ------------------------------------------------------ */

/* Drop pages first..last (inclusive), dirty or not, after their writeback. */
static void drop_pages(struct pcache_mapping *m, uint64_t first, uint64_t last)
{
	struct pcache_page **v;
	long n;

	if (last < first)
		return;
	n = pcache_collect(m, first, last, false, &v);
	if (n <= 0)
		return;
	for (long i = 0; i < n; i++) {
		pcache_lock_page(v[i]);
		pcache_wait_writeback(v[i]);
		pcache_remove(m, v[i]);
		pcache_unlock_page(v[i]);
	}
	pcache_put_pages(v, n);
	free(v);
}

/* Zero bytes [from, to) of the cached page idx, if cached and valid. */
static void zero_partial(struct pcache_mapping *m, uint64_t idx, size_t from,
			 size_t to)
{
	struct pcache_page *p = pcache_find_get(m, idx);

	if (!p)
		return;
	pcache_lock_page(p);
	if (pcache_test(p, PG_UPTODATE) && !pcache_test(p, PG_REMOVED)) {
		/* Writeback may be reading the page: let it finish first. */
		pcache_wait_writeback(p);
		memset((char *)p->data + from, 0, to - from);
		set_page_dirty(p);
	}
	pcache_unlock_page(p);
	pcache_page_put(p);
}

void pcache_truncate(struct pcache_mapping *m, uint64_t from)
{
	uint64_t first = (from + PCACHE_PAGE_SIZE - 1) >> PCACHE_PAGE_SHIFT;

	if (from & (PCACHE_PAGE_SIZE - 1))
		zero_partial(m, from >> PCACHE_PAGE_SHIFT,
			     from & (PCACHE_PAGE_SIZE - 1), PCACHE_PAGE_SIZE);
	drop_pages(m, first, UINT64_MAX);
}

void pcache_punch_range(struct pcache_mapping *m, uint64_t start, uint64_t end)
{
	uint64_t sidx = start >> PCACHE_PAGE_SHIFT;
	uint64_t eidx = end >> PCACHE_PAGE_SHIFT;
	size_t soff = start & (PCACHE_PAGE_SIZE - 1);
	size_t eoff = end & (PCACHE_PAGE_SIZE - 1);
	uint64_t first = soff ? sidx + 1 : sidx;

	if (end <= start)
		return;
	if (sidx == eidx) {
		zero_partial(m, sidx, soff, eoff);
		return;
	}
	if (soff)
		zero_partial(m, sidx, soff, PCACHE_PAGE_SIZE);
	if (eoff)
		zero_partial(m, eidx, 0, eoff);
	if (eidx > first)
		drop_pages(m, first, eidx - 1);
}

int pcache_invalidate_range(struct pcache_mapping *m, uint64_t start,
			    uint64_t end)
{
	struct pcache_page **v;
	long n;
	int ret;

	if (end < start)
		return 0;
	ret = pcache_writeback_range(m, start, end, true);
	n = pcache_collect(m, start >> PCACHE_PAGE_SHIFT,
			   end >> PCACHE_PAGE_SHIFT, false, &v);
	if (n < 0)
		return ret ? ret : (int)n;
	for (long i = 0; i < n; i++) {
		pcache_lock_page(v[i]);
		pcache_wait_writeback(v[i]);
		if (pcache_test(v[i], PG_DIRTY) && !pcache_no_backing(m)) {
			if (!ret)
				ret = -EBUSY; /* redirtied: keep it */
		} else {
			pcache_remove(m, v[i]);
		}
		pcache_unlock_page(v[i]);
	}
	if (n > 0) {
		pcache_put_pages(v, n);
		free(v);
	}
	return ret;
}
