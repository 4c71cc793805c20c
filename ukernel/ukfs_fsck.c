/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_fsck.c - the ukfs checker: block ownership, free space,
 * names, reachability, link counts, orphans, sizes and superblock counters,
 * each found problem reported in one line and, with repair, fixed in one
 * transaction. A repaired image is checked again before fsck says so.
 *
 * Sections: helpers, extents and free space, names and reachability,
 * counts, driver.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ukfs_internal.h"

struct fsck {
	struct ukfs_meta *m;
	bool repair;
	bool changed; /* repaired something not counted */
	unsigned long problems;
	ukfs_report_fn fn;
	void *arg;
};

/* ---- helpers ---------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3)))
report(struct fsck *f, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	f->problems++;
	if (!f->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f->fn(f->arg, buf);
}

static void note(struct fsck *f, const char *msg)
{
	if (f->fn)
		f->fn(f->arg, msg);
}

static void note2(struct fsck *f, const char *a, const char *b, const char *c)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s%s%s", a, b, c);
	note(f, buf);
}

/*
 * Runs sql (its ?1 bound to the device size when it has parameters) and
 * calls row() for each row. Returns 0 or -errno.
 */
static int each_row(struct fsck *f, const char *sql,
		    int (*row)(struct fsck *f, sqlite3_stmt *s))
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(f->m->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return ukfs_sqlerr(rc) ? ukfs_sqlerr(rc) : -EIO;
	if (sqlite3_bind_parameter_count(s) > 0)
		ukfs_bind_u64(s, 1, f->m->nr_blocks);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rc = row(f, s);
		if (rc < 0)
			break;
		rc = SQLITE_ROW;
	}
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	return rc == SQLITE_DONE ? 0 : ukfs_sqlerr(rc);
}

/* Executes a repair statement with up to three integer arguments. */
static int fix(struct fsck *f, const char *sql, int n, uint64_t a, uint64_t b,
	       uint64_t c)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(f->m->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	if (n > 0)
		ukfs_bind_u64(s, 1, a);
	if (n > 1)
		ukfs_bind_u64(s, 2, b);
	if (n > 2)
		ukfs_bind_u64(s, 3, c);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : ukfs_sqlerr(rc) ? ukfs_sqlerr(rc) : -EIO;
}

static int drop_extent(struct fsck *f, uint64_t ino, uint64_t lblk)
{
	return fix(f, "DELETE FROM extents WHERE ino = ?1 AND lblk = ?2", 2,
		   ino, lblk, 0);
}

static uint64_t scalar(struct fsck *f, const char *sql, int *err)
{
	sqlite3_stmt *s;
	uint64_t v = 0;
	int rc;

	rc = sqlite3_prepare_v2(f->m->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		*err = -EIO;
		return 0;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		v = ukfs_col_u64(s, 0);
	else
		*err = ukfs_sqlerr(rc) ? ukfs_sqlerr(rc) : -EIO;
	sqlite3_finalize(s);
	return v;
}

/* ---- extents and free space ------------------------------------------- */

static int bad_extent(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), lblk = ukfs_col_u64(s, 1);

	report(f,
	       "inode %" PRIu64 ": extent at block %" PRIu64 " maps %" PRIu64
	       " blocks from %" PRIu64 ", outside the device",
	       ino, lblk, ukfs_col_u64(s, 3), ukfs_col_u64(s, 2));
	return f->repair ? drop_extent(f, ino, lblk) : 0;
}

static int stray_extent(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), lblk = ukfs_col_u64(s, 1);

	report(f, "extent of missing inode %" PRIu64 " at block %" PRIu64, ino,
	       lblk);
	return f->repair ? drop_extent(f, ino, lblk) : 0;
}

static int extent_past_eof(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), lblk = ukfs_col_u64(s, 1);
	uint64_t len = ukfs_col_u64(s, 2), size = ukfs_col_u64(s, 3);
	uint64_t eof = (size + UKFS_BLOCK_SIZE - 1) >> UKFS_BLOCK_SHIFT;

	report(f,
	       "inode %" PRIu64 ": extent at block %" PRIu64 " (%" PRIu64
	       " blocks) lies past its size %" PRIu64
	       " and is not preallocated",
	       ino, lblk, len, size);
	if (!f->repair)
		return 0;
	/* Cut at EOF; the free-space rebuild takes the blocks back. */
	if (lblk >= eof)
		return drop_extent(f, ino, lblk);
	return fix(f,
		   "UPDATE extents SET len = ?3 WHERE ino = ?1 AND "
		   "lblk = ?2",
		   3, ino, lblk, eof - lblk);
}

struct ival {
	uint64_t start, len;
	uint64_t ino, lblk; /* ino 0: a free run */
};

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

struct ivals {
	struct ival *v;
	size_t n, cap;
};

static int ivals_push(struct ivals *iv, struct ival x)
{
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 256;
		struct ival *v = realloc(iv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		iv->v = v;
		iv->cap = cap;
	}
	iv->v[iv->n++] = x;
	return 0;
}

static int load_ivals(struct fsck *f, const char *sql, struct ivals *iv,
		      bool free_runs)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(f->m->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	while (!ret && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct ival x = {0};

		if (free_runs) {
			x.start = ukfs_col_u64(s, 0);
			x.len = ukfs_col_u64(s, 1);
		} else {
			x.ino = ukfs_col_u64(s, 0);
			x.lblk = ukfs_col_u64(s, 1);
			x.start = ukfs_col_u64(s, 2);
			x.len = ukfs_col_u64(s, 3);
		}
		ret = ivals_push(iv, x);
	}
	sqlite3_finalize(s);
	if (!ret && rc != SQLITE_DONE)
		ret = -EIO;
	return ret;
}

/*
 * Extents overlapping each other (a block owned twice): the later claimant
 * loses its extent on repair. Logical overlaps inside one file likewise.
 */
static int check_double_owners(struct fsck *f)
{
	struct ivals iv = {0};
	uint64_t end = 0;
	size_t i, owner = 0;
	int ret;

	ret = load_ivals(f,
			 "SELECT ino, lblk, pblk, len FROM extents "
			 "ORDER BY pblk, ino, lblk",
			 &iv, false);
	for (i = 0; !ret && i < iv.n; i++) {
		struct ival *x = &iv.v[i];

		if (i && x->start < end) {
			uint64_t last = x->start + x->len < end
						? x->start + x->len - 1
						: end - 1;

			report(f,
			       "blocks %" PRIu64 "..%" PRIu64
			       " owned twice: inode %" PRIu64 " (block %" PRIu64
			       ") and inode %" PRIu64 " (block %" PRIu64 ")",
			       x->start, last, iv.v[owner].ino,
			       iv.v[owner].lblk, x->ino, x->lblk);
			if (f->repair)
				ret = drop_extent(f, x->ino, x->lblk);
			continue;
		}
		end = x->start + x->len;
		owner = i;
	}
	free(iv.v);
	return ret;
}

static int logical_overlap(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), lblk = ukfs_col_u64(s, 1);

	report(f,
	       "inode %" PRIu64 ": extents overlap at logical block %" PRIu64,
	       ino, lblk);
	return f->repair ? drop_extent(f, ino, lblk) : 0;
}

/* Free runs must be exactly the blocks no extent uses. */
static int check_free_space(struct fsck *f)
{
	struct ivals iv = {0};
	uint64_t pos = UKFS_FIRST_DATA_BLOCK, end;
	uint64_t nr = f->m->nr_blocks;
	unsigned long before = f->problems;
	size_t i;
	int ret;

	ret = load_ivals(f, "SELECT ino, lblk, pblk, len FROM extents", &iv,
			 false);
	if (!ret)
		ret = load_ivals(f, "SELECT start, len FROM freespace", &iv,
				 true);
	if (ret)
		goto out;
	qsort(iv.v, iv.n, sizeof(*iv.v), cmp_ival);
	for (i = 0; i < iv.n; i++) {
		struct ival *x = &iv.v[i];

		end = x->start + x->len;
		if (!x->ino &&
		    (x->start < UKFS_FIRST_DATA_BLOCK || !x->len || end > nr)) {
			report(f,
			       "free run %" PRIu64 "+%" PRIu64
			       " outside the device",
			       x->start, x->len);
		} else if (x->start < pos) {
			report(f,
			       "block %" PRIu64 " is %s and also in use or "
			       "free twice",
			       x->start,
			       x->ino ? "in use by an extent" : "free");
		} else if (x->start > pos) {
			report(f,
			       "blocks %" PRIu64 "..%" PRIu64
			       " are neither used nor free (leaked)",
			       pos, x->start - 1);
		}
		if (end > pos)
			pos = end < nr ? end : nr;
	}
	if (pos < nr)
		report(f,
		       "blocks %" PRIu64 "..%" PRIu64
		       " are neither used nor free (leaked)",
		       pos, nr - 1);
	if (!f->repair || f->problems == before)
		goto out;
	/* Rebuild: the complement of the extents, merged. */
	ret = fix(f, "DELETE FROM freespace", 0, 0, 0, 0);
	pos = UKFS_FIRST_DATA_BLOCK;
	for (i = 0; !ret && i < iv.n; i++) {
		struct ival *x = &iv.v[i];

		if (!x->ino)
			continue;
		if (x->start > pos)
			ret = fix(f, "INSERT INTO freespace VALUES (?1, ?2)", 2,
				  pos, x->start - pos, 0);
		if (x->start + x->len > pos)
			pos = x->start + x->len;
	}
	if (!ret && pos < nr)
		ret = fix(f, "INSERT INTO freespace VALUES (?1, ?2)", 2, pos,
			  nr - pos, 0);
	if (!ret)
		note(f, "free space rebuilt from the extents");
out:
	free(iv.v);
	return ret;
}

/* ---- names and reachability ------------------------------------------- */

/*
 * Executes a repair of the dentry row that s (a row of parent, name, ...)
 * points at: sql binds ?1 = parent, ?2 = name, and ?3 = s's column 2 when
 * it uses it.
 */
static int fix_dentry(struct fsck *f, const char *sql, sqlite3_stmt *s)
{
	sqlite3_stmt *d;
	int rc;

	rc = sqlite3_prepare_v2(f->m->db, sql, -1, &d, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	ukfs_bind_u64(d, 1, ukfs_col_u64(s, 0));
	sqlite3_bind_blob(d, 2, sqlite3_column_blob(s, 1),
			  sqlite3_column_bytes(s, 1), SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(d) > 2)
		sqlite3_bind_int64(d, 3, sqlite3_column_int64(s, 2));
	rc = sqlite3_step(d);
	sqlite3_finalize(d);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int dangling(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t parent = ukfs_col_u64(s, 0), ino = ukfs_col_u64(s, 2);

	report(f,
	       "entry '%.*s' in directory %" PRIu64 " names inode %" PRIu64
	       ", which %s",
	       sqlite3_column_bytes(s, 1),
	       (const char *)sqlite3_column_blob(s, 1), parent, ino,
	       sqlite3_column_int(s, 3) ? "does not exist"
					: "sits in a missing directory");
	if (!f->repair)
		return 0;
	return fix_dentry(f, "DELETE FROM dentries WHERE parent = ?1 AND "
			     "name = ?2", s);
}

static int bad_type(struct fsck *f, sqlite3_stmt *s)
{
	report(f, "entry '%.*s' in directory %" PRIu64 " has the wrong type",
	       sqlite3_column_bytes(s, 1),
	       (const char *)sqlite3_column_blob(s, 1), ukfs_col_u64(s, 0));
	if (!f->repair)
		return 0;
	return fix_dentry(f, "UPDATE dentries SET type = ?3 WHERE "
			     "parent = ?1 AND name = ?2", s);
}

static int dir_linked_twice(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0);

	report(f, "directory %" PRIu64 " has %d names", ino,
	       sqlite3_column_int(s, 1));
	/* Keep the entry with the smallest (parent, name). */
	return f->repair ? fix(f,
			       "DELETE FROM dentries WHERE ino = ?1 AND "
			       "(parent, name) != (SELECT parent, name FROM "
			       "dentries WHERE ino = ?1 ORDER BY parent, name "
			       "LIMIT 1)",
			       1, ino, 0, 0)
			 : 0;
}

/* The inode of /lost+found, made if missing. */
static int lost_found(struct fsck *f, uint64_t *ino)
{
	struct ukfs_inode attr = {0};
	struct timespec ts;
	int64_t now;
	int ret;

	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(f->m->db,
				"SELECT d.ino FROM dentries d JOIN inodes i "
				"USING (ino) WHERE d.parent = ?1 AND d.name = "
				"CAST('lost+found' AS BLOB) AND "
				"(i.mode & 61440) = 16384",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(s, 1, UKFS_ROOT_INO);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ino = ukfs_col_u64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
	attr.mode = S_IFDIR | 0700;
	attr.atime_ns = attr.mtime_ns = attr.ctime_ns = attr.btime_ns = now;
	ret = ukfs_alloc_ino_locked(f->m, &attr, NULL, ino);
	if (!ret)
		ret = ukfs_link_locked(f->m, UKFS_ROOT_INO, "lost+found", *ino);
	if (!ret)
		note(f, "created /lost+found");
	return ret;
}

static int unreachable(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), lf = 0;
	uint32_t nlink = (uint32_t)sqlite3_column_int64(s, 1);
	int names = sqlite3_column_int(s, 2);
	int orphan = sqlite3_column_int(s, 3);
	char name[32];
	int ret;

	if (!names && orphan) {
		/* nlink 0 on the orphan list is what a crash leaves while a
		 * file was open: not damage; the next open frees it. */
		if (nlink)
			report(f, "orphan inode %" PRIu64 " has nlink %u", ino,
			       nlink);
		snprintf(name, sizeof(name), "%" PRIu64, ino);
		note2(f, "orphan inode ", name,
		      f->repair ? ": reclaimed"
				: ": the next open reclaims it");
		if (!f->repair)
			return 0;
		f->changed = true;
		ret = fix(f, "UPDATE inodes SET nlink = 0 WHERE ino = ?1", 1,
			  ino, 0, 0);
		return ret ? ret : ukfs_inode_free_locked(f->m, ino);
	}
	if (names) {
		report(f,
		       "inode %" PRIu64
		       " is named only inside a directory loop",
		       ino);
		return 0; /* not repaired: see docs/ukfs.md */
	}
	report(f, "inode %" PRIu64 " is unreachable and not an orphan%s", ino,
	       f->repair ? ": moved to /lost+found" : "");
	if (!f->repair)
		return 0;
	ret = lost_found(f, &lf);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "#%" PRIu64, ino);
	/* nlink is recounted later; link from a clean slate. */
	ret = fix(f, "UPDATE inodes SET nlink = 0, parent = 0 WHERE ino = ?1",
		  1, ino, 0, 0);
	return ret ? ret : ukfs_link_locked(f->m, lf, name, ino);
}

/* ---- counts ----------------------------------------------------------- */

static int bad_nlink(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), want = ukfs_col_u64(s, 2);

	report(f, "inode %" PRIu64 ": nlink %" PRIu64 ", should be %" PRIu64,
	       ino, ukfs_col_u64(s, 1), want);
	return f->repair ? fix(f,
			       "UPDATE inodes SET nlink = ?2 WHERE "
			       "ino = ?1",
			       2, ino, want, 0)
			 : 0;
}

static int bad_orphan(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0);
	bool listed = sqlite3_column_int(s, 1);

	report(f, "inode %" PRIu64 ": %s", ino,
	       listed ? "on the orphan list but linked or missing"
		      : "nlink 0 but not on the orphan list");
	if (!f->repair)
		return 0;
	return listed ? fix(f, "DELETE FROM orphans WHERE ino = ?1", 1, ino, 0,
			    0)
		      : fix(f, "INSERT INTO orphans VALUES (?1)", 1, ino, 0, 0);
}

static int bad_parent(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), want = ukfs_col_u64(s, 2);

	report(f,
	       "directory %" PRIu64 ": '..' is %" PRIu64 ", should be %" PRIu64,
	       ino, ukfs_col_u64(s, 1), want);
	return f->repair ? fix(f,
			       "UPDATE inodes SET parent = ?2 WHERE "
			       "ino = ?1",
			       2, ino, want, 0)
			 : 0;
}

static int bad_blocks(struct fsck *f, sqlite3_stmt *s)
{
	uint64_t ino = ukfs_col_u64(s, 0), want = ukfs_col_u64(s, 2);

	report(f,
	       "inode %" PRIu64 ": %" PRIu64
	       " blocks recorded, extents map %" PRIu64,
	       ino, ukfs_col_u64(s, 1), want);
	return f->repair ? fix(f,
			       "UPDATE inodes SET blocks = ?2 WHERE "
			       "ino = ?1",
			       2, ino, want, 0)
			 : 0;
}

/*
 * The superblock counters against the tables, before any repair (repairs
 * change the tables, and their counter changes live in m->c until the
 * commit). set_counters then recomputes m->c, which the commit writes.
 */
static int check_counters(struct fsck *f)
{
	struct ukfs_meta *m = f->m;
	uint64_t free_blocks, inodes, max_ino, sb_fb, sb_fi, sb_next;
	int err = 0;

	free_blocks =
		scalar(f, "SELECT coalesce(sum(len), 0) FROM freespace", &err);
	inodes = scalar(f, "SELECT count(*) FROM inodes", &err);
	max_ino = scalar(f, "SELECT coalesce(max(ino), 0) FROM inodes", &err);
	sb_fb = scalar(f, "SELECT free_blocks FROM superblock", &err);
	sb_fi = scalar(f, "SELECT free_inodes FROM superblock", &err);
	sb_next = scalar(f, "SELECT next_ino FROM superblock", &err);
	if (err)
		return err;
	if (sb_fb != free_blocks)
		report(f,
		       "superblock: %" PRIu64 " free blocks, free space "
		       "holds %" PRIu64,
		       sb_fb, free_blocks);
	if (inodes > m->nr_inodes)
		report(f, "%" PRIu64 " inodes exceed the limit %" PRIu64,
		       inodes, m->nr_inodes);
	else if (sb_fi != m->nr_inodes - inodes)
		report(f,
		       "superblock: %" PRIu64 " free inodes, should be "
		       "%" PRIu64,
		       sb_fi, m->nr_inodes - inodes);
	if (sb_next <= max_ino)
		report(f,
		       "superblock: next inode %" PRIu64 " is not above "
		       "inode %" PRIu64,
		       sb_next, max_ino);
	return 0;
}

static int set_counters(struct fsck *f)
{
	struct ukfs_meta *m = f->m;
	uint64_t free_blocks, inodes, max_ino;
	int err = 0;

	free_blocks =
		scalar(f, "SELECT coalesce(sum(len), 0) FROM freespace", &err);
	inodes = scalar(f, "SELECT count(*) FROM inodes", &err);
	max_ino = scalar(f, "SELECT coalesce(max(ino), 0) FROM inodes", &err);
	if (err)
		return err;
	/* Frees of this repair are written into freespace at the commit. */
	m->c.free_blocks = free_blocks + ukfs_pending_blocks(m);
	m->c.free_inodes = inodes > m->nr_inodes ? 0 : m->nr_inodes - inodes;
	if (m->c.next_ino <= max_ino)
		m->c.next_ino = max_ino + 1;
	return 0;
}

/* Counters good enough for the repairs to allocate an inode. */
static int prep_counters(struct fsck *f)
{
	uint64_t inodes, max_ino;
	int err = 0;

	inodes = scalar(f, "SELECT count(*) FROM inodes", &err);
	max_ino = scalar(f, "SELECT coalesce(max(ino), 0) FROM inodes", &err);
	if (err)
		return err;
	f->m->c.free_inodes =
		inodes > f->m->nr_inodes ? 0 : f->m->nr_inodes - inodes;
	if (f->m->c.next_ino <= max_ino)
		f->m->c.next_ino = max_ino + 1;
	return 0;
}

/* ---- driver ----------------------------------------------------------- */

#define DIR_SQL "(i.mode & 61440) = 16384"

static int fsck_pass(struct fsck *f)
{
	int ret;

	ret = check_counters(f);
	if (!ret)
		ret = each_row(f,
			       "SELECT ino, lblk, pblk, len FROM extents "
			       "WHERE pblk < 1 OR len < 1 OR len > ?1 OR "
			       "pblk + len > ?1",
			       bad_extent);
	if (!ret)
		ret = each_row(f,
			       "SELECT e.ino, e.lblk FROM extents e WHERE "
			       "NOT EXISTS (SELECT 1 FROM inodes i WHERE "
			       "i.ino = e.ino)",
			       stray_extent);
	if (!ret)
		ret = each_row(f,
			       "SELECT e.ino, e.lblk, e.len, i.size FROM "
			       "extents e JOIN inodes i USING (ino) WHERE "
			       "e.lblk + e.len > (i.size + 4095) / 4096 "
			       "AND (e.flags & 2) = 0",
			       extent_past_eof);
	if (!ret)
		ret = each_row(f,
			       "SELECT a.ino, b.lblk FROM extents a JOIN "
			       "extents b ON b.ino = a.ino AND b.lblk > "
			       "a.lblk AND b.lblk < a.lblk + a.len",
			       logical_overlap);
	if (!ret)
		ret = check_double_owners(f);
	if (!ret)
		ret = check_free_space(f);
	if (!ret)
		ret = each_row(
			f,
			"SELECT d.parent, d.name, d.ino, "
			"NOT EXISTS (SELECT 1 FROM inodes c WHERE "
			"c.ino = d.ino) FROM dentries d WHERE NOT "
			"EXISTS (SELECT 1 FROM inodes c WHERE "
			"c.ino = d.ino) OR NOT EXISTS (SELECT 1 "
			"FROM inodes i WHERE i.ino = d.parent AND " DIR_SQL ")",
			dangling);
	if (!ret)
		ret = each_row(f,
			       "SELECT d.parent, d.name, (i.mode >> 12) & 15"
			       " FROM dentries d JOIN inodes i USING (ino) "
			       "WHERE d.type != (i.mode >> 12) & 15",
			       bad_type);
	if (!ret)
		ret = each_row(f,
			       "SELECT d.ino, count(*) FROM dentries d JOIN "
			       "inodes i USING (ino) WHERE " DIR_SQL
			       " GROUP BY d.ino HAVING count(*) > 1",
			       dir_linked_twice);
	if (!ret)
		ret = each_row(f,
			       "WITH RECURSIVE r(ino) AS (SELECT 1 UNION "
			       "SELECT d.ino FROM dentries d JOIN r ON "
			       "d.parent = r.ino) SELECT i.ino, i.nlink, "
			       "(SELECT count(*) FROM dentries d WHERE "
			       "d.ino = i.ino), EXISTS (SELECT 1 FROM "
			       "orphans o WHERE o.ino = i.ino) FROM inodes "
			       "i WHERE i.ino NOT IN r",
			       unreachable);
	if (!ret)
		ret = each_row(f,
			       "SELECT ino, nlink, want FROM (SELECT i.ino, "
			       "i.nlink, CASE WHEN " DIR_SQL " THEN CASE "
			       "WHEN i.ino = 1 OR EXISTS (SELECT 1 FROM "
			       "dentries d WHERE d.ino = i.ino) THEN 2 + "
			       "(SELECT count(*) FROM dentries d WHERE "
			       "d.parent = i.ino AND d.type = 4) ELSE 0 END "
			       "ELSE (SELECT count(*) FROM dentries d WHERE "
			       "d.ino = i.ino) END AS want FROM inodes i) "
			       "WHERE nlink != want",
			       bad_nlink);
	if (!ret)
		ret = each_row(f,
			       "SELECT o.ino, 1 FROM orphans o WHERE NOT "
			       "EXISTS (SELECT 1 FROM inodes i WHERE i.ino "
			       "= o.ino AND i.nlink = 0) UNION ALL SELECT "
			       "i.ino, 0 FROM inodes i WHERE i.nlink = 0 "
			       "AND NOT EXISTS (SELECT 1 FROM orphans o "
			       "WHERE o.ino = i.ino)",
			       bad_orphan);
	if (!ret)
		ret = each_row(
			f,
			"SELECT i.ino, i.parent, d.parent FROM inodes "
			"i JOIN dentries d ON d.ino = i.ino WHERE " DIR_SQL
			" AND i.parent != d.parent UNION ALL "
			"SELECT ino, parent, 1 FROM inodes WHERE "
			"ino = 1 AND parent != 1",
			bad_parent);
	if (!ret)
		ret = each_row(f,
			       "SELECT ino, blocks, want FROM (SELECT i.ino, "
			       "i.blocks, (SELECT coalesce(sum(len), 0) FROM "
			       "extents e WHERE e.ino = i.ino) AS want FROM "
			       "inodes i) WHERE blocks != want",
			       bad_blocks);
	if (!ret)
		ret = set_counters(f);
	return ret;
}

static int fsck_once(const char *dir, bool repair, ukfs_report_fn fn, void *arg,
		     unsigned long *problems)
{
	struct fsck f = {.repair = repair, .fn = fn, .arg = arg};
	struct ukfs_inode root;
	char err[512];
	int ret;

	ret = ukfs_open_image(dir, 0, true, &f.m, err, sizeof(err));
	if (ret) {
		note(&f, err);
		return ret;
	}
	if (ukfs_inode_get_locked(f.m, UKFS_ROOT_INO, &root) != 0 ||
	    !S_ISDIR(root.mode)) {
		note(&f, "root directory missing: cannot check");
		ukfs_meta_destroy(f.m);
		return -EUCLEAN;
	}
	ret = ukfs_op_begin(f.m);
	if (ret)
		goto out_destroy;
	if (repair)
		ret = prep_counters(&f);
	if (!ret)
		ret = fsck_pass(&f);
	ret = ukfs_op_end(f.m, ret);
	if (ret) {
		snprintf(err, sizeof(err), "fsck stopped: %s", strerror(-ret));
		note(&f, err);
		goto out_destroy;
	}
	*problems = f.problems;
	if (repair && (f.problems || f.changed))
		return ukfs_meta_close(f.m, true);
out_destroy:
	ukfs_meta_destroy(f.m); /* rolls back: a check changes nothing */
	return ret;
}

int ukfs_fsck(const char *dir, bool repair, ukfs_report_fn fn, void *arg)
{
	unsigned long problems = 0, left = 0;
	char msg[128];

	if (fsck_once(dir, repair, fn, arg, &problems))
		return UKFS_FSCK_CANNOT;
	if (!problems)
		return UKFS_FSCK_CLEAN;
	if (!repair)
		return UKFS_FSCK_FIXED;
	if (fsck_once(dir, false, NULL, NULL, &left) || left) {
		snprintf(msg, sizeof(msg), "%lu problem(s) left after repair",
			 left);
		if (fn)
			fn(arg, msg);
		return UKFS_FSCK_CANNOT;
	}
	return UKFS_FSCK_FIXED;
}
