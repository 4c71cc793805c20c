/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_alloc.c - ukfs block allocation and file block maps. Free
 * space is a set of extents (start, len) indexed by start (for merging and
 * goal lookups) and by length (best fit); a file's blocks are extents
 * (ino, lblk) -> (pblk, len, flags). Block 0 is never allocated.
 *
 * Sections: free space, allocator, extent rows, block maps, seek.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ukfs_internal.h"

/* A free extent within this many blocks after the goal counts as near. */
#define UKFS_NEAR_WINDOW 2048u

/* ---- free space ------------------------------------------------------- */

/* Runs a freespace query with one argument: 1 and *r, 0 none, -errno. */
static int f_query(struct ukfs_meta *m, enum ukfs_st st, uint64_t arg,
		   struct ukfs_run *r)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	if (st != ST_F_LARGEST)
		ukfs_bind_u64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->start = ukfs_col_u64(s, 0);
		r->len = ukfs_col_u64(s, 1);
		rc = 1;
	} else {
		rc = ukfs_sqlerr(rc);
	}
	sqlite3_reset(s);
	return rc;
}

static int f_write(struct ukfs_meta *m, enum ukfs_st st, uint64_t a, uint64_t b,
		   uint64_t c)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, a);
	if (st != ST_F_DELETE)
		ukfs_bind_u64(s, 2, b);
	if (st == ST_F_UPDATE)
		ukfs_bind_u64(s, 3, c);
	return ukfs_exec_stmt(s);
}

/* Takes [at, at + n) out of the free run r, which holds it. */
static int carve(struct ukfs_meta *m, const struct ukfs_run *r, uint64_t at,
		 uint64_t n)
{
	uint64_t left = at - r->start;
	uint64_t right = r->start + r->len - (at + n);
	int ret;

	if (!left && !right)
		ret = f_write(m, ST_F_DELETE, r->start, 0, 0);
	else if (!left)
		ret = f_write(m, ST_F_UPDATE, r->start, at + n, right);
	else {
		ret = f_write(m, ST_F_UPDATE, r->start, r->start, left);
		if (!ret && right)
			ret = f_write(m, ST_F_INSERT, at + n, right, 0);
	}
	if (!ret)
		m->c.free_blocks -= n;
	return ret;
}

/*
 * Adds [start, start + count) to freespace now, merging with neighbours.
 * -EUCLEAN if any of it is free already.
 */
static int freespace_insert(struct ukfs_meta *m, uint64_t start, uint64_t count)
{
	struct ukfs_run prev, next;
	bool has_prev, has_next, merge_prev, merge_next;
	int ret;

	if (!count || start < UKFS_FIRST_DATA_BLOCK || start >= m->nr_blocks ||
	    count > m->nr_blocks - start)
		return -EINVAL;
	ret = f_query(m, ST_F_FLOOR, start, &prev);
	if (ret < 0)
		return ret;
	has_prev = ret;
	if (has_prev && prev.start + prev.len > start)
		return -EUCLEAN; /* freeing free blocks */
	ret = f_query(m, ST_F_CEIL, start, &next);
	if (ret < 0)
		return ret;
	has_next = ret;
	if (has_next && next.start < start + count)
		return -EUCLEAN;
	merge_prev = has_prev && prev.start + prev.len == start;
	merge_next = has_next && next.start == start + count;
	if (merge_prev) {
		ret = 0;
		if (merge_next)
			ret = f_write(m, ST_F_DELETE, next.start, 0, 0);
		if (!ret)
			ret = f_write(m, ST_F_UPDATE, prev.start, prev.start,
				      prev.len + count +
					      (merge_next ? next.len : 0));
	} else if (merge_next) {
		ret = f_write(m, ST_F_UPDATE, next.start, start,
			      count + next.len);
	} else {
		ret = f_write(m, ST_F_INSERT, start, count, 0);
	}
	return ret;
}

int ukfs_free_blocks_locked(struct ukfs_meta *m, uint64_t start, uint64_t count)
{
	struct ukfs_run *v, r = { 0 }; /* filled when f_query returns 1 */
	size_t cap;
	int ret;

	if (!count || start < UKFS_FIRST_DATA_BLOCK || start >= m->nr_blocks ||
	    count > m->nr_blocks - start)
		return -EINVAL;
	/* Free already (committed)? Pending ones are checked at commit. */
	ret = f_query(m, ST_F_FLOOR, start + count - 1, &r);
	if (ret < 0)
		return ret;
	if (ret && r.start + r.len > start)
		return -EUCLEAN;
	if (m->nr_pending &&
	    m->pending[m->nr_pending - 1].start +
			    m->pending[m->nr_pending - 1].len ==
		    start) {
		m->pending[m->nr_pending - 1].len += count;
		goto out;
	}
	if (m->nr_pending == m->pending_cap) {
		cap = m->pending_cap ? m->pending_cap * 2 : 64;
		v = realloc(m->pending, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->pending = v;
		m->pending_cap = cap;
	}
	m->pending[m->nr_pending++] = (struct ukfs_run){start, count};
out:
	m->c.free_blocks += count;
	return 0;
}

uint64_t ukfs_pending_blocks(const struct ukfs_meta *m)
{
	uint64_t n = 0;

	for (size_t i = 0; i < m->nr_pending; i++)
		n += m->pending[i].len;
	return n;
}

static int run(struct ukfs_meta *m, enum ukfs_st st)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	return s ? ukfs_exec_stmt(s) : rc;
}

static int cmp_run(const void *a, const void *b)
{
	const struct ukfs_run *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int ukfs_flush_frees_locked(struct ukfs_meta *m)
{
	struct ukfs_run cur;
	size_t i;
	int ret, rc;

	if (!m->nr_pending)
		return 0;
	qsort(m->pending, m->nr_pending, sizeof(*m->pending), cmp_run);
	ret = run(m, ST_SAVEPOINT);
	if (ret)
		return ret;
	cur = m->pending[0];
	for (i = 1; !ret && i <= m->nr_pending; i++) {
		if (i < m->nr_pending &&
		    m->pending[i].start <= cur.start + cur.len) {
			if (m->pending[i].start < cur.start + cur.len)
				ret = -EUCLEAN; /* freed twice */
			cur.len += m->pending[i].len;
			continue;
		}
		ret = freespace_insert(m, cur.start, cur.len);
		if (i < m->nr_pending)
			cur = m->pending[i];
	}
	if (ret)
		rc = run(m, ST_ROLLBACK_TO);
	rc = run(m, ST_RELEASE);
	if (!ret)
		ret = rc;
	if (!ret)
		m->nr_pending = 0;
	return ret;
}

int ukfs_free_blocks(struct ukfs_meta *m, uint64_t start, uint64_t count)
{
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	return ukfs_op_end(m, ukfs_free_blocks_locked(m, start, count));
}

/* ---- allocator -------------------------------------------------------- */

/*
 * Up to count blocks: from goal if goal is free (contiguity with the
 * file), else a run that fits within UKFS_NEAR_WINDOW after goal, else the
 * best fit, else the largest run (fewer blocks). Returns the number taken.
 */
static long alloc_blocks_locked(struct ukfs_meta *m, uint64_t goal,
				uint64_t count, uint64_t *start)
{
	struct ukfs_run r;
	uint64_t n;
	int ret;

	if (!count)
		return -EINVAL;
	if (!m->c.free_blocks)
		return -ENOSPC;
	if (goal >= UKFS_FIRST_DATA_BLOCK && goal < m->nr_blocks) {
		ret = f_query(m, ST_F_FLOOR, goal, &r);
		if (ret < 0)
			return ret;
		if (ret && r.start + r.len > goal) {
			n = r.start + r.len - goal;
			n = n < count ? n : count;
			ret = carve(m, &r, goal, n);
			*start = goal;
			return ret ? ret : (long)n;
		}
		ret = f_query(m, ST_F_CEIL, goal, &r);
		if (ret < 0)
			return ret;
		if (ret && r.len >= count && r.start - goal <= UKFS_NEAR_WINDOW)
			goto take_front;
	}
	ret = f_query(m, ST_F_BESTFIT, count, &r);
	if (ret < 0)
		return ret;
	if (!ret) {
		ret = f_query(m, ST_F_LARGEST, 0, &r);
		if (ret <= 0)
			return ret < 0 ? ret : -ENOSPC;
	}
take_front:
	n = r.len < count ? r.len : count;
	ret = carve(m, &r, r.start, n);
	*start = r.start;
	return ret ? ret : (long)n;
}

/*
 * After -ENOSPC with frees pending in the open transaction: commit, so
 * they become allocatable, and let the caller try once more (as ext4
 * forces a journal commit before giving up). Not from inside the
 * pre-commit hook, whose commit cannot finish first.
 */
static bool retry_after_commit(struct ukfs_meta *m, long ret)
{
	return ret == -ENOSPC && m->nr_pending && !m->in_commit;
}

long ukfs_alloc_blocks(struct ukfs_meta *m, uint64_t goal, uint64_t count,
		       uint64_t *start)
{
	bool retry;
	long ret;
	int tries = 0;

again:
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	ret = alloc_blocks_locked(m, goal, count, start);
	retry = !tries++ && retry_after_commit(m, ret);
	/* op_end takes an int; ret is bounded by count of one free run. */
	if (ret > 0) {
		int r = ukfs_op_end(m, 0);

		return r ? r : ret;
	}
	ret = ukfs_op_end(m, (int)ret);
	if (retry && !ukfs_meta_commit(m))
		goto again;
	return ret;
}

/* ---- extent rows ------------------------------------------------------ */

static int e_query(struct ukfs_meta *m, enum ukfs_st st, uint64_t ino,
		   uint64_t lblk, struct ukfs_extent *e)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	if (st != ST_E_FIRST)
		ukfs_bind_u64(s, 2, lblk);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		e->lblk = ukfs_col_u64(s, 0);
		e->pblk = ukfs_col_u64(s, 1);
		e->len = ukfs_col_u64(s, 2);
		e->flags = st == ST_E_FIRST
				   ? 0
				   : (uint32_t)sqlite3_column_int64(s, 3);
		rc = 1;
	} else {
		rc = ukfs_sqlerr(rc);
	}
	sqlite3_reset(s);
	return rc;
}

static int e_insert(struct ukfs_meta *m, uint64_t ino,
		    const struct ukfs_extent *e)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_E_INSERT, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	ukfs_bind_u64(s, 2, e->lblk);
	ukfs_bind_u64(s, 3, e->pblk);
	ukfs_bind_u64(s, 4, e->len);
	sqlite3_bind_int64(s, 5, e->flags);
	return ukfs_exec_stmt(s);
}

static int e_delete(struct ukfs_meta *m, uint64_t ino, uint64_t lblk)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_E_DELETE, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	ukfs_bind_u64(s, 2, lblk);
	return ukfs_exec_stmt(s);
}

/* Rewrites the row keyed (ino, old_lblk) as e (flags unchanged). */
static int e_update(struct ukfs_meta *m, uint64_t ino, uint64_t old_lblk,
		    const struct ukfs_extent *e)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_E_UPDATE, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	ukfs_bind_u64(s, 2, old_lblk);
	ukfs_bind_u64(s, 3, e->lblk);
	ukfs_bind_u64(s, 4, e->pblk);
	ukfs_bind_u64(s, 5, e->len);
	return ukfs_exec_stmt(s);
}

static int blocks_add(struct ukfs_meta *m, uint64_t ino, int64_t delta)
{
	int rc = 0;
	sqlite3_stmt *s;

	if (!delta)
		return 0;
	s = ukfs_stmt(m, ST_I_BLOCKS, &rc);
	if (!s)
		return rc;
	sqlite3_bind_int64(s, 1, delta);
	ukfs_bind_u64(s, 2, ino);
	return ukfs_exec_stmt(s);
}

/* ---- block maps ------------------------------------------------------- */

/*
 * Frees [start, start + n) except the part inside keep (blocks about to be
 * mapped again, e.g. an unwritten run turned written in place).
 */
static int free_except(struct ukfs_meta *m, uint64_t start, uint64_t n,
		       const struct ukfs_run *keep)
{
	uint64_t end = start + n, ks, ke;
	int ret = 0;

	if (!keep || keep->start >= end || keep->start + keep->len <= start)
		return ukfs_free_blocks_locked(m, start, n);
	ks = keep->start > start ? keep->start : start;
	ke = keep->start + keep->len < end ? keep->start + keep->len : end;
	if (ks > start)
		ret = ukfs_free_blocks_locked(m, start, ks - start);
	if (!ret && ke < end)
		ret = ukfs_free_blocks_locked(m, ke, end - ke);
	return ret;
}

/* Removes [a, b) from the part of extent e it overlaps; frees blocks
 * (but not those in keep). */
static int punch_one(struct ukfs_meta *m, uint64_t ino,
		     const struct ukfs_extent *e, uint64_t a, uint64_t b,
		     const struct ukfs_run *keep, uint64_t *freed)
{
	uint64_t end = e->lblk + e->len;
	uint64_t s = e->lblk > a ? e->lblk : a;
	uint64_t t = end < b ? end : b;
	struct ukfs_extent x = *e;
	int ret;

	if (s == e->lblk && t == end) {
		ret = e_delete(m, ino, e->lblk);
	} else if (s == e->lblk) {
		x.lblk = t;
		x.pblk = e->pblk + (t - e->lblk);
		x.len = end - t;
		ret = e_update(m, ino, e->lblk, &x);
	} else {
		x.len = s - e->lblk;
		ret = e_update(m, ino, e->lblk, &x);
		if (!ret && t < end) {
			x.lblk = t;
			x.pblk = e->pblk + (t - e->lblk);
			x.len = end - t;
			ret = e_insert(m, ino, &x);
		}
	}
	if (!ret)
		ret = free_except(m, e->pblk + (s - e->lblk), t - s, keep);
	if (!ret)
		*freed += t - s;
	return ret;
}

static int punch_locked(struct ukfs_meta *m, uint64_t ino, uint64_t a,
			uint64_t b, const struct ukfs_run *keep,
			uint64_t *freed)
{
	struct ukfs_extent e = { 0 };
	uint64_t cur = a, n = 0;
	int ret;

	ret = e_query(m, ST_E_FLOOR, ino, a, &e);
	if (ret > 0 && e.lblk < a && e.lblk + e.len > a)
		ret = punch_one(m, ino, &e, a, b, keep, &n);
	while (ret >= 0) {
		ret = e_query(m, ST_E_NEXT, ino, cur, &e);
		if (ret <= 0 || e.lblk >= b)
			break;
		ret = punch_one(m, ino, &e, a, b, keep, &n);
		cur = e.lblk + 1;
	}
	if (ret >= 0)
		ret = blocks_add(m, ino, -(int64_t)n);
	if (freed)
		*freed = n;
	return ret < 0 ? ret : 0;
}

static int inode_check(struct ukfs_meta *m, uint64_t ino, struct ukfs_inode *i)
{
	struct ukfs_inode tmp;

	return ukfs_inode_get_locked(m, ino, i ? i : &tmp);
}

static int extent_insert_locked(struct ukfs_meta *m, uint64_t ino,
				const struct ukfs_extent *e)
{
	struct ukfs_extent x = *e, l, r;
	bool merged_left = false;
	struct ukfs_run fr, keep;
	int ret;

	if (!e->len || e->pblk < UKFS_FIRST_DATA_BLOCK ||
	    e->pblk >= m->nr_blocks || e->len > m->nr_blocks - e->pblk ||
	    e->lblk >= UKFS_LBLK_MAX || e->len > UKFS_LBLK_MAX - e->lblk ||
	    (e->flags & ~(UKFS_EXT_UNWRITTEN | UKFS_EXT_KEEP_SIZE)))
		return -EINVAL;
	ret = inode_check(m, ino, NULL);
	if (ret)
		return ret;
	/* The blocks must be allocated: none of them in the free space. */
	ret = f_query(m, ST_F_FLOOR, e->pblk + e->len - 1, &fr);
	if (ret < 0)
		return ret;
	if (ret && fr.start + fr.len > e->pblk)
		return -EUCLEAN;
	keep.start = e->pblk;
	keep.len = e->len;
	ret = punch_locked(m, ino, e->lblk, e->lblk + e->len, &keep, NULL);
	if (ret)
		return ret;
	if (e->lblk) {
		ret = e_query(m, ST_E_FLOOR, ino, e->lblk - 1, &l);
		if (ret < 0)
			return ret;
		if (ret && l.lblk + l.len == e->lblk &&
		    l.pblk + l.len == e->pblk && l.flags == e->flags) {
			x.lblk = l.lblk;
			x.pblk = l.pblk;
			x.len += l.len;
			merged_left = true;
		}
	}
	ret = e_query(m, ST_E_NEXT, ino, e->lblk + e->len, &r);
	if (ret < 0)
		return ret;
	if (ret && r.lblk == e->lblk + e->len && e->pblk + e->len == r.pblk &&
	    r.flags == e->flags) {
		ret = e_delete(m, ino, r.lblk);
		if (ret)
			return ret;
		x.len += r.len;
	}
	ret = merged_left ? e_update(m, ino, x.lblk, &x) : e_insert(m, ino, &x);
	if (!ret)
		ret = blocks_add(m, ino, (int64_t)e->len);
	if (!ret && !(e->flags & UKFS_EXT_UNWRITTEN))
		ret = ukfs_ordered_add(m, ino);
	return ret;
}

int ukfs_extent_insert(struct ukfs_meta *m, uint64_t ino,
		       const struct ukfs_extent *e)
{
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	return ukfs_op_end(m, extent_insert_locked(m, ino, e));
}

static int map_locked(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		      uint64_t count, struct ukfs_extent *out)
{
	struct ukfs_extent e = { 0 };
	int ret;

	ret = e_query(m, ST_E_FLOOR, ino, lblk, &e);
	if (ret < 0)
		return ret;
	if (ret && e.lblk + e.len > lblk) {
		out->lblk = lblk;
		out->pblk = e.pblk + (lblk - e.lblk);
		out->len = e.lblk + e.len - lblk;
		if (out->len > count)
			out->len = count;
		out->flags = e.flags;
		return 0;
	}
	ret = e_query(m, ST_E_NEXT, ino, lblk, &e);
	if (ret < 0)
		return ret;
	out->lblk = lblk;
	out->pblk = 0;
	out->len = ret && e.lblk - lblk < count ? e.lblk - lblk : count;
	out->flags = UKFS_EXT_HOLE;
	return 0;
}

int ukfs_extent_map(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		    uint64_t count, struct ukfs_extent *out)
{
	int ret;

	if (!count || lblk >= UKFS_LBLK_MAX)
		return -EINVAL;
	if (count > UKFS_LBLK_MAX - lblk)
		count = UKFS_LBLK_MAX - lblk;
	pthread_mutex_lock(&m->lock);
	ret = inode_check(m, ino, NULL);
	if (!ret)
		ret = map_locked(m, ino, lblk, count, out);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int alloc_extent_locked(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
			       uint64_t count, uint32_t flags,
			       struct ukfs_extent *out)
{
	struct ukfs_extent hole, near;
	uint64_t goal = 0, start = 0;
	long n;
	int ret;

	ret = inode_check(m, ino, NULL);
	if (!ret)
		ret = map_locked(m, ino, lblk, count, &hole);
	if (ret)
		return ret;
	if (!(hole.flags & UKFS_EXT_HOLE))
		return -EEXIST;
	/* Goal: where the file's previous block is, continued. */
	ret = lblk ? e_query(m, ST_E_FLOOR, ino, lblk - 1, &near) : 0;
	if (ret > 0) {
		goal = near.pblk + (lblk - near.lblk);
	} else if (ret == 0) {
		ret = e_query(m, ST_E_NEXT, ino, lblk, &near);
		if (ret > 0 && near.pblk > near.lblk - lblk)
			goal = near.pblk - (near.lblk - lblk);
	}
	if (ret < 0)
		return ret;
	n = alloc_blocks_locked(m, goal, hole.len, &start);
	if (n < 0)
		return (int)n;
	out->lblk = lblk;
	out->pblk = start;
	out->len = (uint64_t)n;
	out->flags = flags;
	return extent_insert_locked(m, ino, out);
}

int ukfs_alloc_extent(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		      uint64_t count, uint32_t flags, struct ukfs_extent *out)
{
	bool retry;
	int ret, tries = 0;

	if (!count || lblk >= UKFS_LBLK_MAX || count > UKFS_LBLK_MAX - lblk ||
	    (flags & ~(UKFS_EXT_UNWRITTEN | UKFS_EXT_KEEP_SIZE)))
		return -EINVAL;
again:
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	ret = alloc_extent_locked(m, ino, lblk, count, flags, out);
	retry = !tries++ && retry_after_commit(m, ret);
	ret = ukfs_op_end(m, ret);
	if (retry && !ukfs_meta_commit(m))
		goto again;
	return ret;
}

int ukfs_extent_punch(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		      uint64_t count, uint64_t *freed)
{
	int ret;

	if (!count || lblk >= UKFS_LBLK_MAX)
		return -EINVAL;
	if (count > UKFS_LBLK_MAX - lblk)
		count = UKFS_LBLK_MAX - lblk;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	ret = inode_check(m, ino, NULL);
	if (!ret)
		ret = punch_locked(m, ino, lblk, lblk + count, NULL, freed);
	return ukfs_op_end(m, ret);
}

int ukfs_truncate(struct ukfs_meta *m, uint64_t ino, uint64_t size)
{
	struct ukfs_inode i;
	uint64_t first;
	int ret;

	if (size >= UKFS_LBLK_MAX << UKFS_BLOCK_SHIFT)
		return -EFBIG;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	first = (size + UKFS_BLOCK_SIZE - 1) >> UKFS_BLOCK_SHIFT;
	ret = inode_check(m, ino, NULL);
	if (!ret)
		ret = punch_locked(m, ino, first, UKFS_LBLK_MAX, NULL, NULL);
	if (!ret)
		ret = ukfs_inode_get_locked(m, ino, &i);
	if (!ret) {
		i.size = size;
		ret = ukfs_inode_write_locked(m, &i);
	}
	return ukfs_op_end(m, ret);
}

int ukfs_has_extents_locked(struct ukfs_meta *m, uint64_t ino)
{
	struct ukfs_extent e;

	return e_query(m, ST_E_FIRST, ino, 0, &e);
}

int ukfs_extents_free_all_locked(struct ukfs_meta *m, uint64_t ino,
				 uint64_t *freed)
{
	struct ukfs_extent e = { 0 }; /* filled when e_query returns 1 */
	uint64_t n = 0;
	int ret;

	while ((ret = e_query(m, ST_E_FIRST, ino, 0, &e)) > 0) {
		ret = e_delete(m, ino, e.lblk);
		if (!ret)
			ret = ukfs_free_blocks_locked(m, e.pblk, e.len);
		if (ret)
			return ret;
		n += e.len;
	}
	if (!ret)
		ret = blocks_add(m, ino, -(int64_t)n);
	if (freed)
		*freed = n;
	return ret;
}

/* ---- seek ------------------------------------------------------------- */

/* The first written extent ending after lblk: 1 and *e, 0 none. */
static int next_written(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
			struct ukfs_extent *e)
{
	int ret = e_query(m, ST_E_FLOOR, ino, lblk, e);

	if (ret > 0 && e->lblk + e->len > lblk &&
	    !(e->flags & UKFS_EXT_UNWRITTEN))
		return 1;
	for (;;) {
		if (ret < 0)
			return ret;
		ret = e_query(m, ST_E_NEXT, ino, lblk, e);
		if (ret <= 0 || !(e->flags & UKFS_EXT_UNWRITTEN))
			return ret;
		lblk = e->lblk + 1;
	}
}

static int seek_locked(struct ukfs_meta *m, uint64_t ino, int64_t off,
		       int whence, int64_t *res)
{
	struct ukfs_inode i;
	struct ukfs_extent e = { 0 };
	uint64_t cur, pos;
	int ret;

	ret = ukfs_inode_get_locked(m, ino, &i);
	if (ret)
		return ret;
	if (off < 0 || (uint64_t)off >= i.size)
		return -ENXIO;
	cur = (uint64_t)off >> UKFS_BLOCK_SHIFT;
	if (whence == SEEK_DATA) {
		ret = next_written(m, ino, cur, &e);
		if (ret <= 0)
			return ret < 0 ? ret : -ENXIO;
		pos = e.lblk > cur ? e.lblk << UKFS_BLOCK_SHIFT : (uint64_t)off;
		if (pos >= i.size)
			return -ENXIO;
		*res = (int64_t)pos;
		return 0;
	}
	/* SEEK_HOLE: walk written extents that cover cur. */
	for (;;) {
		ret = e_query(m, ST_E_FLOOR, ino, cur, &e);
		if (ret < 0)
			return ret;
		if (!ret || e.lblk + e.len <= cur ||
		    (e.flags & UKFS_EXT_UNWRITTEN))
			break;
		cur = e.lblk + e.len;
	}
	pos = cur << UKFS_BLOCK_SHIFT;
	if (pos < (uint64_t)off)
		pos = (uint64_t)off;
	*res = (int64_t)(pos > i.size ? i.size : pos);
	return 0;
}

int ukfs_seek_data_hole(struct ukfs_meta *m, uint64_t ino, int64_t off,
			int whence, int64_t *res)
{
	int ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	ret = seek_locked(m, ino, off, whence, res);
	pthread_mutex_unlock(&m->lock);
	return ret;
}
