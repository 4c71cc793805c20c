/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ukfs_txn.c - ukfs grouped transactions: nothing reaches
 * the files before a commit, everything committed survives a crash (a
 * child that _exit()s mid-transaction), commits by age and size, the
 * pre-commit hook (data=ordered) and its failure, atomicity of a failed
 * call; plus a quick measurement of create/lookup rates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ukfs_test_util.h"

struct fx {
	char *dir;
	struct ukfs_meta *m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, 20000);
	f->m = ut_open(f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->m)
		assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_assert_fsck_clean(f->dir);
	ut_rmimage(f->dir);
	free(f);
	return 0;
}

static int mk(struct ukfs_meta *m, const char *name)
{
	struct ukfs_inode a = ut_attr(S_IFREG | 0644);

	return ukfs_create(m, UKFS_ROOT_INO, name, &a, NULL, NULL);
}

/* mk, then its inode number (the test fails if either fails). */
static uint64_t mk_ino(struct ukfs_meta *m, const char *name)
{
	uint64_t ino;

	assert_int_equal(mk(m, name), 0);
	assert_int_equal(ukfs_lookup(m, UKFS_ROOT_INO, name, &ino, NULL), 0);
	return ino;
}

/*
 * What a crash right now would leave: copies of meta.db and its WAL as
 * they are on disk, in a new image directory, opened and asked for name.
 */
static int snapshot_has(const char *dir, const char *name)
{
	char *snap = ut_tmpdir();
	const char *files[] = {UKFS_META_FILE, UKFS_META_FILE "-wal"};
	struct ukfs_meta *m;
	char *src, *dst;
	int ret;

	for (unsigned int i = 0; i < 2; i++) {
		src = ut_path(dir, files[i]);
		dst = ut_path(snap, files[i]);
		ut_copy(src, dst);
		free(src);
		free(dst);
	}
	dst = ut_path(snap, UKFS_BLOCKS_FILE);
	ut_copy("/dev/null", dst);
	assert_int_equal(truncate(dst, T_SIZE), 0);
	free(dst);
	m = ut_open(snap);
	ret = ukfs_lookup(m, UKFS_ROOT_INO, name, NULL, NULL);
	assert_int_equal(ukfs_meta_close(m, true), 0);
	ut_assert_fsck_clean(snap);
	ut_rmimage(snap);
	return ret == 0;
}

static void test_changes_reach_disk_only_at_commit(void **state)
{
	struct fx *f = *state;
	struct ukfs_meta_info info;
	uint64_t commits;

	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_false(info.txn_open);
	commits = info.commits;
	assert_int_equal(mk(f->m, "a"), 0);
	assert_int_equal(mk(f->m, "b"), 0);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_true(info.txn_open);
	assert_int_equal(info.txn_changes, 2);
	assert_int_equal(info.commits, commits);
	/* Visible to this connection, not on disk. */
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "a", NULL, NULL), 0);
	assert_false(snapshot_has(f->dir, "a"));
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_true(snapshot_has(f->dir, "a"));
	assert_true(snapshot_has(f->dir, "b"));
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_false(info.txn_open);
	assert_int_equal(info.commits, commits + 1);
	/* Nothing open: commit is a no-op. */
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_int_equal(info.commits, commits + 1);
}

static void test_crash_loses_only_uncommitted(void **state)
{
	struct fx *f = *state;
	struct ukfs_meta_info info;
	struct ukfs_meta *m;
	int status;
	pid_t pid;

	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char err[256];

		if (ukfs_meta_open(f->dir, 0, &m, err, sizeof(err)) ||
		    mk(m, "committed") || ukfs_meta_commit(m) ||
		    mk(m, "lost") ||
		    ukfs_lookup(m, UKFS_ROOT_INO, "lost", NULL, NULL))
			_exit(1);
		_exit(0); /* no commit, no close: a crash */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_false(info.was_clean);
	assert_int_equal(
		ukfs_lookup(f->m, UKFS_ROOT_INO, "committed", NULL, NULL), 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "lost", NULL, NULL),
			 -ENOENT);
	/* close(!clean) drops the open transaction the same way. */
	assert_int_equal(mk(f->m, "lost2"), 0);
	assert_int_equal(ukfs_meta_close(f->m, false), 0);
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "lost2", NULL, NULL),
			 -ENOENT);
}

static void test_commit_by_age_and_size(void **state)
{
	struct fx *f = *state;
	int64_t now;
	char name[16];
	int i;

	ukfs_meta_set_commit_policy(f->m, 1000000000ll, 5);
	assert_int_equal(ukfs_meta_maybe_commit(f->m, ukfs_meta_now()), 0);
	assert_int_equal(mk(f->m, "x"), 0);
	now = ukfs_meta_now();
	assert_int_equal(ukfs_meta_maybe_commit(f->m, now), 0);
	assert_int_equal(ukfs_meta_maybe_commit(f->m, now + 2000000000ll), 1);
	assert_true(snapshot_has(f->dir, "x"));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(mk(f->m, name), 0);
		assert_int_equal(ukfs_meta_maybe_commit(f->m, ukfs_meta_now()),
				 0);
	}
	assert_int_equal(mk(f->m, "n4"), 0);
	assert_int_equal(ukfs_meta_maybe_commit(f->m, ukfs_meta_now()), 1);
	/* A failed call is not a change. */
	assert_int_equal(mk(f->m, "n4"), -EEXIST);
	{
		struct ukfs_meta_info info;

		assert_int_equal(ukfs_meta_info(f->m, &info), 0);
		assert_int_equal(info.txn_changes, 0);
	}
}

struct hook {
	int calls;
	int fail;
};

static int pre_commit(void *arg, struct ukfs_meta *m)
{
	struct hook *h = arg;

	h->calls++;
	if (h->fail)
		return -EIO;
	/* Writeback may allocate and map blocks: it joins this commit. */
	return ukfs_xattr_set(m, UKFS_ROOT_INO, "user.hook", "1", 1, 0);
}

static void test_pre_commit_hook_orders_and_fails_cleanly(void **state)
{
	struct fx *f = *state;
	struct ukfs_meta_info info;
	struct hook h = {0};
	char v[4];

	ukfs_meta_set_pre_commit(f->m, pre_commit, &h);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(h.calls, 0); /* nothing to commit, no hook */
	assert_int_equal(mk(f->m, "fsynced"), 0);
	h.fail = 1;
	assert_int_equal(ukfs_meta_commit(f->m), -EIO);
	assert_int_equal(h.calls, 1);
	/* The transaction stays open with everything in it. */
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_true(info.txn_open);
	assert_int_equal(
		ukfs_lookup(f->m, UKFS_ROOT_INO, "fsynced", NULL, NULL), 0);
	assert_false(snapshot_has(f->dir, "fsynced"));
	assert_int_equal(ukfs_meta_maybe_commit(f->m, INT64_MAX / 2), -EIO);
	h.fail = 0;
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(h.calls, 3);
	assert_true(snapshot_has(f->dir, "fsynced"));
	ukfs_meta_set_pre_commit(f->m, NULL, NULL);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = ut_open(f->dir);
	assert_int_equal(
		ukfs_xattr_get(f->m, UKFS_ROOT_INO, "user.hook", v, sizeof(v)),
		1);
}

static void test_failed_call_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFDIR | 0755), root;
	struct ukfs_statfs st0, st;
	uint64_t orphans[2];

	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	/* A root at the link limit: mkdir fails after it has written the
	 * inode, the orphan row and the entry. */
	ut_sql(f->dir, "UPDATE inodes SET nlink = 65000 WHERE ino = 1");
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_statfs(f->m, &st0), 0);
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "d", &a, NULL, NULL),
			 -EMLINK);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "d", NULL, NULL),
			 -ENOENT);
	assert_int_equal(ukfs_orphan_list(f->m, orphans, 2), 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, st0.free_inodes);
	assert_int_equal(ukfs_inode_get(f->m, UKFS_ROOT_INO, &root), 0);
	assert_int_equal(root.nlink, 65000);
	/* A file still fits. */
	a.mode = S_IFREG | 0644;
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "f", &a, NULL, NULL),
			 0);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_sql(f->dir, "UPDATE inodes SET nlink = 2 WHERE ino = 1");
	f->m = ut_open(f->dir);
}

/*
 * Faults injected with SQLite triggers: a call that fails after some of
 * its rows were written must leave none of them, nor counter changes.
 */
static void test_fault_mid_call_rolls_back_the_call(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFREG | 0644), v;
	struct ukfs_statfs st0, st;
	struct ukfs_extent e;
	uint64_t ino, dir, got, orphans[2];

	assert_int_equal(mk(f->m, "keep"), 0);
	a.mode = S_IFDIR | 0755;
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "dir", &a, NULL, &v),
			 0);
	dir = v.ino;
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "keep", &ino, NULL),
			 0);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_sql(f->dir,
	       "CREATE TRIGGER boom AFTER INSERT ON dentries WHEN "
	       "NEW.name = CAST('boom' AS BLOB) BEGIN SELECT RAISE(ABORT, "
	       "'injected'); END;"
	       "CREATE TRIGGER boom_e AFTER INSERT ON extents WHEN "
	       "NEW.lblk = 77 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_statfs(f->m, &st0), 0);

	/* create: the inode row and counters were written first. */
	a.mode = S_IFREG | 0644;
	assert_true(ukfs_create(f->m, dir, "boom", &a, NULL, NULL) < 0);
	/* rename: the source entry was deleted first. */
	assert_true(ukfs_rename(f->m, UKFS_ROOT_INO, "keep", dir, "boom", 0,
				NULL) < 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "keep", &got, NULL),
			 0);
	assert_int_equal(got, ino);
	assert_int_equal(ukfs_inode_get(f->m, ino, &v), 0);
	assert_int_equal(v.nlink, 1);
	/* rename of a directory: nlinks were not yet moved, nothing is. */
	assert_true(ukfs_rename(f->m, UKFS_ROOT_INO, "dir", UKFS_ROOT_INO,
				"boom", 0, NULL) < 0);
	assert_int_equal(ukfs_inode_get(f->m, UKFS_ROOT_INO, &v), 0);
	assert_int_equal(v.nlink, 3);
	/* block allocation: free space was carved before the map failed. */
	assert_true(ukfs_alloc_extent(f->m, ino, 77, 10, 0, &e) < 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, st0.free_inodes);
	assert_int_equal(st.free_blocks, st0.free_blocks);
	assert_int_equal(ukfs_orphan_list(f->m, orphans, 2), 0);
	assert_int_equal(ukfs_inode_get(f->m, ino, &v), 0);
	assert_int_equal(v.blocks, 0);
	/* The transaction goes on and commits what did succeed. */
	assert_int_equal(mk(f->m, "after"), 0);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_sql(f->dir, "DROP TRIGGER boom; DROP TRIGGER boom_e;");
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "after", NULL, NULL),
			 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_blocks, st0.free_blocks);
	assert_int_equal(st.free_inodes, st0.free_inodes - 1);
}

/*
 * Orphans are deferred to the commit (docs/ukfs.md "Orphans wait for the
 * commit"): what a crash finds must be what writing them at once gave.
 * An inode unlinked while open (not freed) when a transaction commits is
 * on that commit's orphan list, with nlink 0, and the next open frees it;
 * one unlinked and freed (closed) before the commit leaves no row at all.
 */
static void test_orphans_at_commit_survive_a_crash(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFREG | 0644), v;
	struct ukfs_meta_info info;
	struct ukfs_statfs st0, st;
	uint64_t open_ino, gone_ino, dir_ino, tmp_ino, lnk_ino, list[8];

	open_ino = mk_ino(f->m, "open");
	gone_ino = mk_ino(f->m, "gone");
	a.mode = S_IFDIR | 0755;
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "d", &a, NULL, &v),
			 0);
	dir_ino = v.ino;
	a.mode = S_IFREG | 0644;
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st0), 0);

	/* Still open at the commit: a file, a directory, an O_TMPFILE. */
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "open", &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_inode_get(f->m, open_ino, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "d", &v), 0);
	assert_int_equal(ukfs_inode_get(f->m, dir_ino, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(v.parent, 0);
	assert_int_equal(ukfs_inode_alloc(f->m, &a, NULL, &tmp_ino), 0);
	/* Gone before the commit: unlinked and closed; and an O_TMPFILE
	 * linked in (linkat) before it. */
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "gone", &v), 0);
	assert_int_equal(ukfs_inode_free_mode(f->m, gone_ino, v.mode), 0);
	assert_int_equal(ukfs_inode_alloc(f->m, &a, NULL, &lnk_ino), 0);
	assert_int_equal(ukfs_link(f->m, UKFS_ROOT_INO, "lnk", lnk_ino), 0);
	assert_int_equal(ukfs_inode_get(f->m, lnk_ino, &v), 0);
	assert_int_equal(v.nlink, 1);
	assert_int_equal(ukfs_meta_commit(f->m), 0);

	/* A crash right after that commit. */
	assert_int_equal(ukfs_meta_close(f->m, false), 0);
	f->m = NULL;
	ut_assert_fsck_clean(f->dir); /* orphans noted, not counted */
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_int_equal(info.orphans_reclaimed, 3);
	assert_int_equal(ukfs_orphan_list(f->m, list, 8), 0);
	assert_int_equal(ukfs_inode_get(f->m, open_ino, &v), -ENOENT);
	assert_int_equal(ukfs_inode_get(f->m, dir_ino, &v), -ENOENT);
	assert_int_equal(ukfs_inode_get(f->m, tmp_ino, &v), -ENOENT);
	assert_int_equal(ukfs_inode_get(f->m, gone_ino, &v), -ENOENT);
	assert_int_equal(ukfs_inode_get(f->m, lnk_ino, &v), 0);
	assert_int_equal(v.nlink, 1);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	/* open, d, gone freed; lnk made. */
	assert_int_equal(st.free_inodes, st0.free_inodes + 2);
}

/*
 * Unlink and free with neither an orphan row nor a savepoint: a fault in
 * their one statement, or a failed free after the unlink, leaves the
 * orphan set as it was, and the commit writes what it should.
 */
static void test_orphan_set_follows_failed_calls(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode v;
	struct ukfs_meta_info info;
	uint64_t keep_ino, busy_ino, list[4];

	keep_ino = mk_ino(f->m, "nodel");
	busy_ino = mk_ino(f->m, "busy");
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_sql(f->dir,
	       "CREATE TRIGGER nodel BEFORE DELETE ON dentries WHEN "
	       "OLD.name = CAST('nodel' AS BLOB) BEGIN SELECT RAISE(ABORT, "
	       "'injected'); END;"
	       "CREATE TRIGGER busy BEFORE DELETE ON inodes WHEN "
	       "OLD.ino = %llu BEGIN SELECT RAISE(ABORT, 'injected'); END;",
	       (unsigned long long)busy_ino);
	f->m = ut_open(f->dir);

	/* The entry's DELETE fails: still named, nlink 1, no orphan. */
	assert_true(ukfs_unlink(f->m, UKFS_ROOT_INO, "nodel", &v) < 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "nodel", NULL, NULL),
			 0);
	assert_int_equal(ukfs_inode_get(f->m, keep_ino, &v), 0);
	assert_int_equal(v.nlink, 1);
	/* The inode's DELETE fails: it stays an orphan. */
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "busy", &v), 0);
	assert_true(ukfs_inode_free_mode(f->m, busy_ino, v.mode) < 0);
	assert_int_equal(ukfs_inode_get(f->m, busy_ino, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_true(ukfs_inode_free_mode(f->m, busy_ino, v.mode) < 0);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 1);
	assert_int_equal(list[0], busy_ino);
	assert_int_equal(mk(f->m, "after"), 0);

	assert_int_equal(ukfs_meta_close(f->m, false), 0);
	f->m = NULL;
	ut_sql(f->dir, "DROP TRIGGER nodel; DROP TRIGGER busy;");
	ut_assert_fsck_clean(f->dir);
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_int_equal(info.orphans_reclaimed, 1);
	assert_int_equal(ukfs_inode_get(f->m, busy_ino, &v), -ENOENT);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "nodel", NULL, NULL),
			 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "after", NULL, NULL),
			 -ENOENT);
}

struct worker {
	struct ukfs_meta *m;
	int id;
	int errors;
};

static void *create_many(void *arg)
{
	struct worker *w = arg;
	struct ukfs_extent e;
	struct ukfs_inode a = ut_attr(S_IFREG | 0644), out;
	char name[32];

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		if (ukfs_create(w->m, UKFS_ROOT_INO, name, &a, NULL, &out) ||
		    ukfs_alloc_extent(w->m, out.ino, 0, 2, 0, &e) ||
		    ukfs_truncate(w->m, out.ino, 2 * 4096))
			w->errors++;
		if (ukfs_meta_maybe_commit(w->m, ukfs_meta_now()) < 0)
			w->errors++;
	}
	return NULL;
}

static int count_entry(void *arg, const char *name, size_t len, uint64_t ino,
		       unsigned int type, uint64_t next)
{
	(void)name, (void)len, (void)ino, (void)type, (void)next;
	(*(int *)arg)++;
	return 0;
}

static int ordered_hook(void *arg, struct ukfs_meta *m)
{
	long *seen = arg;
	uint64_t inos[4];

	*seen += ukfs_meta_ordered_inodes(m, inos, 4);
	return 0;
}

static void test_threads_share_one_meta(void **state)
{
	struct fx *f = *state;
	struct worker w[3];
	pthread_t t[3];
	long seen = 0;
	int n = 0;

	ukfs_meta_set_commit_policy(f->m, 0, 50);
	ukfs_meta_set_pre_commit(f->m, ordered_hook, &seen);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){.m = f->m, .id = i};
		assert_int_equal(
			pthread_create(&t[i], NULL, create_many, &w[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_true(seen >= 900);
	ukfs_meta_set_pre_commit(f->m, NULL, NULL);
	assert_int_equal(ukfs_readdir(f->m, UKFS_ROOT_INO, 0, count_entry, &n),
			 0);
	assert_int_equal(n, 900);
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void test_measure_create_lookup(void **state)
{
	struct fx *f = *state;
	struct timespec t0, t1, t2, t3, w0, w1, w2;
	enum { N = 10000 };
	char name[32];
	uint64_t ino;
	int i;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "file-%06d", i);
		assert_int_equal(mk(f->m, name), 0);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t2);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "file-%06d", (i * 7919) % N);
		assert_int_equal(
			ukfs_lookup(f->m, UKFS_ROOT_INO, name, &ino, NULL), 0);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t3);
	{
		struct timespec o0, o1;

		assert_int_equal(ukfs_meta_close(f->m, true), 0);
		clock_gettime(CLOCK_MONOTONIC, &o0);
		f->m = ut_open(f->dir);
		clock_gettime(CLOCK_MONOTONIC, &o1);
		print_message("ukfs-measure: commit of %d creates: %.1f ms "
			      "(wall, with its fsync)\n",
			      N, secs(&w0, &w1) * 1e3);
		clock_gettime(CLOCK_MONOTONIC, &w0);
		for (i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "synced-%d", i);
			assert_int_equal(mk(f->m, name), 0);
			assert_int_equal(ukfs_meta_commit(f->m), 0);
		}
		clock_gettime(CLOCK_MONOTONIC, &w2);
		print_message("ukfs-measure: create + commit, one at a time: "
			      "%.2f ms each (wall)\n",
			      secs(&w0, &w2) * 1e3 / 50);
		print_message("ukfs-measure: open with quick_check of %d "
			      "files: %.1f ms (wall)\n",
			      N, secs(&o0, &o1) * 1e3);
		assert_int_equal(ukfs_meta_close(f->m, true), 0);
		clock_gettime(CLOCK_MONOTONIC, &o0);
		ut_assert_fsck_clean(f->dir);
		clock_gettime(CLOCK_MONOTONIC, &o1);
		print_message("ukfs-measure: fsck of %d files: %.1f ms "
			      "(wall)\n",
			      N, secs(&o0, &o1) * 1e3);
		f->m = ut_open(f->dir);
	}
	/* CPU time: the shared machine's load does not skew it. */
	print_message("ukfs-measure (CPU time): create %.0f ops/s; commit of "
		      "%d creates "
		      "%.1f ms; %d creates + commit %.0f ms; lookup %.0f "
		      "ops/s\n",
		      N / secs(&t0, &t1), N, secs(&t1, &t2) * 1e3, N,
		      secs(&t0, &t2) * 1e3, N / secs(&t2, &t3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_changes_reach_disk_only_at_commit, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_crash_loses_only_uncommitted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_by_age_and_size,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_pre_commit_hook_orders_and_fails_cleanly, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_failed_call_leaves_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_fault_mid_call_rolls_back_the_call, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_orphans_at_commit_survive_a_crash, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_orphan_set_follows_failed_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_share_one_meta,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_measure_create_lookup,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
