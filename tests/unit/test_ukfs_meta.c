/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_ukfs_meta.c - the ukfs metadata API: mkfs/open/close,
 * validation of damaged and foreign images, inodes, names, rename, readdir
 * cookies, xattrs, orphans and statfs. Every test ends with a clean fsck.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ukfs_test_util.h"

struct fx {
	char *dir;
	struct ukfs_meta *m;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dir = ut_mkimage(T_SIZE, T_INODES);
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

static void reopen(struct fx *f)
{
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = ut_open(f->dir);
}

static uint64_t mk(struct ukfs_meta *m, uint64_t parent, const char *name,
		   uint32_t mode)
{
	struct ukfs_inode a = ut_attr(mode), out;

	assert_int_equal(ukfs_create(m, parent, name, &a, NULL, &out), 0);
	return out.ino;
}

static struct ukfs_inode iget(struct ukfs_meta *m, uint64_t ino)
{
	struct ukfs_inode i;

	assert_int_equal(ukfs_inode_get(m, ino, &i), 0);
	return i;
}

/* ---- image ------------------------------------------------------------ */

static void test_mkfs_open_close_roundtrip(void **state)
{
	struct fx *f = *state;
	struct ukfs_statfs st;
	struct ukfs_meta_info info;
	struct ukfs_inode root;
	char err[256];

	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.block_size, 4096);
	assert_int_equal(st.blocks, T_SIZE / 4096 - 1);
	assert_int_equal(st.free_blocks, st.blocks);
	assert_int_equal(st.inodes, T_INODES);
	assert_int_equal(st.free_inodes, T_INODES - 1);
	root = iget(f->m, UKFS_ROOT_INO);
	assert_true(S_ISDIR(root.mode));
	assert_int_equal(root.nlink, 2);
	assert_int_equal(root.parent, UKFS_ROOT_INO);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_true(info.was_clean);
	assert_int_equal(strlen(info.uuid), 36);
	mk(f->m, UKFS_ROOT_INO, "a", S_IFREG | 0644);
	reopen(f);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "a", NULL, NULL), 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, T_INODES - 2);
	/* mkfs refuses an existing image and silly sizes. */
	assert_int_equal(ukfs_mkfs(f->dir, T_SIZE, 0, err, sizeof(err)),
			 -EEXIST);
	assert_int_equal(
		ukfs_mkfs("/tmp/ukfs-never", 4096, 0, err, sizeof(err)),
		-EINVAL);
}

static void test_second_opener_refused_with_pid(void **state)
{
	struct fx *f = *state;
	struct ukfs_meta *m2 = NULL;
	char err[256] = "", want[64];

	assert_int_equal(ukfs_meta_open(f->dir, 0, &m2, err, sizeof(err)),
			 -EBUSY);
	assert_null(m2);
	snprintf(want, sizeof(want), "pid %d", (int)getpid());
	assert_non_null(strstr(err, want));
	assert_int_equal(ukfs_fsck(f->dir, false, NULL, NULL),
			 UKFS_FSCK_CANNOT);
}

/* Opens dir expecting ret and a message containing what. */
static void expect_refused(const char *dir, int ret, const char *what)
{
	struct ukfs_meta *m = NULL;
	char err[512] = "";

	assert_int_equal(ukfs_meta_open(dir, 0, &m, err, sizeof(err)), ret);
	assert_null(m);
	if (!strstr(err, what))
		print_error("message '%s' lacks '%s'\n", err, what);
	assert_non_null(strstr(err, what));
}

static void test_open_refuses_damaged_images(void **state)
{
	struct fx *f = *state;
	char *d, *p;
	int fd;

	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = NULL;

	/* Not a directory; missing pieces. */
	p = ut_path(f->dir, UKFS_BLOCKS_FILE);
	expect_refused(p, -ENOTDIR, "not a directory");
	free(p);
	expect_refused("/nonexistent-ukfs", -ENOENT, "No such file");
	d = ut_tmpdir();
	expect_refused(d, -ENOENT, "meta.db");
	ut_rmimage(d);
	d = ut_mkimage(T_SIZE, 0);
	p = ut_path(d, UKFS_BLOCKS_FILE);
	unlink(p);
	expect_refused(d, -ENOENT, "blocks");
	free(p);
	ut_rmimage(d);

	/* Garbage in place of the database. */
	d = ut_mkimage(T_SIZE, 0);
	p = ut_path(d, UKFS_META_FILE);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, "garbage!garbage!", 16), 16);
	close(fd);
	expect_refused(d, -EINVAL, "not a SQLite database");
	free(p);
	ut_rmimage(d);

	/* A truncated database (enough rows to span several pages). */
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
		  "FROM n WHERE x < 3000) INSERT INTO xattrs SELECT 1, "
		  "'user.' || x, randomblob(100) FROM n;"
		  "PRAGMA wal_checkpoint(TRUNCATE);");
	p = ut_path(d, UKFS_META_FILE);
	assert_int_equal(truncate(p, 64 * 1024), 0);
	expect_refused(d, -EUCLEAN, "truncated");
	assert_int_equal(ukfs_fsck(d, true, NULL, NULL), UKFS_FSCK_CANNOT);
	free(p);
	ut_rmimage(d);

	/* Foreign database: no superblock table; wrong magic. */
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "DROP TABLE superblock");
	expect_refused(d, -EINVAL, "not a ukfs image");
	ut_rmimage(d);
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "UPDATE superblock SET magic = 'ext4'");
	expect_refused(d, -EINVAL, "magic 'ext4'");
	ut_rmimage(d);

	/* Version and block size this code does not read. */
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "UPDATE superblock SET version = 7");
	expect_refused(d, -EPROTONOSUPPORT,
		       "format version 7 found, this ukfs supports version 1");
	ut_rmimage(d);
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "UPDATE superblock SET block_size = 8192");
	expect_refused(d, -EPROTONOSUPPORT, "block size 8192");
	ut_rmimage(d);

	/* Blocks file shorter than the superblock says. */
	d = ut_mkimage(T_SIZE, 0);
	p = ut_path(d, UKFS_BLOCKS_FILE);
	assert_int_equal(truncate(p, T_SIZE / 2), 0);
	expect_refused(d, -EUCLEAN, "blocks file is 33554432 bytes");
	free(p);
	ut_rmimage(d);

	/* An extent past the end of the device; NOCHECK skips the scan. */
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "INSERT INTO extents VALUES (1, 0, 16380, 10, 0)");
	expect_refused(d, -EUCLEAN, "outside the device");
	{
		struct ukfs_meta *m = NULL;

		assert_int_equal(
			ukfs_meta_open(d, UKFS_META_NOCHECK, &m, NULL, 0), 0);
		assert_int_equal(ukfs_meta_close(m, true), 0);
	}
	ut_rmimage(d);

	/* Root missing. */
	d = ut_mkimage(T_SIZE, 0);
	ut_sql(d, "DELETE FROM inodes WHERE ino = 1");
	expect_refused(d, -EUCLEAN, "root directory");
	ut_rmimage(d);
}

/* ---- inodes ----------------------------------------------------------- */

static void test_inode_alloc_get_update_free(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFREG | 0600), i, u = {0};
	uint64_t ino, list[4];
	struct ukfs_statfs st;

	assert_int_equal(ukfs_inode_alloc(f->m, &a, NULL, &ino), 0);
	i = iget(f->m, ino);
	assert_int_equal(i.mode, S_IFREG | 0600);
	assert_int_equal(i.nlink, 0);
	assert_int_equal(i.uid, 1000);
	assert_int_equal(i.gid, 100);
	assert_true(i.gen > 0);
	/* O_TMPFILE-like: on the orphan list until linked. */
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 1);
	assert_int_equal(list[0], ino);

	u.ino = ino;
	u.mode = S_IFDIR | 0751; /* the type bits are not changed */
	u.uid = 7;
	u.size = 12345;
	u.mtime_ns = 42;
	assert_int_equal(ukfs_inode_update(f->m, &u,
					   UKFS_SET_MODE | UKFS_SET_UID |
						   UKFS_SET_SIZE |
						   UKFS_SET_MTIME),
			 0);
	i = iget(f->m, ino);
	assert_int_equal(i.mode, S_IFREG | 0751);
	assert_int_equal(i.uid, 7);
	assert_int_equal(i.gid, 100);
	assert_int_equal(i.size, 12345);
	assert_int_equal(i.mtime_ns, 42);
	assert_int_equal(ukfs_truncate(f->m, ino, 0), 0);

	assert_int_equal(ukfs_link(f->m, UKFS_ROOT_INO, "tmp", ino), 0);
	assert_int_equal(iget(f->m, ino).nlink, 1);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 0);
	assert_int_equal(ukfs_inode_free(f->m, ino), -EBUSY);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "tmp", &i), 0);
	assert_int_equal(i.nlink, 0);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 1);
	assert_int_equal(ukfs_inode_free(f->m, ino), 0);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 0);
	assert_int_equal(ukfs_inode_get(f->m, ino, &i), -ENOENT);
	assert_int_equal(ukfs_inode_free(f->m, ino), -ENOENT);
	u.ino = 999999;
	assert_int_equal(ukfs_inode_update(f->m, &u, UKFS_SET_UID), -ENOENT);
	assert_int_equal(ukfs_inode_free(f->m, UKFS_ROOT_INO), -EBUSY);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, T_INODES - 1);
}

static void test_inode_limit_enospc_then_reuse(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFREG | 0644);
	struct ukfs_statfs st;
	char name[32];
	unsigned int i;

	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	ut_rmimage(f->dir);
	f->dir = ut_mkimage(T_SIZE, 10);
	f->m = ut_open(f->dir);
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(
			ukfs_create(f->m, UKFS_ROOT_INO, name, &a, NULL, NULL),
			0);
	}
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "more", &a, NULL, NULL),
		-ENOSPC);
	{
		uint64_t ino;

		assert_int_equal(ukfs_inode_alloc(f->m, &a, NULL, &ino),
				 -ENOSPC);
	}
	/* EEXIST wins over ENOSPC, as in Linux. */
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "f0", &a, NULL, NULL),
			 -EEXIST);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, 0);
	reopen(f);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "f3", &a), 0);
	assert_int_equal(ukfs_inode_free(f->m, a.ino), 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_inodes, 1);
	a = ut_attr(S_IFREG | 0644);
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "more", &a, NULL, NULL), 0);
}

static void test_symlink_and_readlink(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFLNK | 0777), out;
	char buf[64], longt[5000];

	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "l", &a,
				     "../target/file", &out),
			 0);
	assert_int_equal(out.size, 14);
	assert_int_equal(ukfs_readlink(f->m, out.ino, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "../target/file", 14);
	assert_int_equal(ukfs_readlink(f->m, out.ino, buf, 3), 3);
	assert_int_equal(ukfs_readlink(f->m, UKFS_ROOT_INO, buf, 64), -EINVAL);
	assert_int_equal(ukfs_readlink(f->m, 4444, buf, 64), -ENOENT);
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "l2", &a, longt, NULL),
		-ENAMETOOLONG);
	a.mode = S_IFREG | 0644;
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "l3", &a, "x", NULL),
			 -EINVAL);
}

/* ---- names ------------------------------------------------------------ */

static void test_create_lookup_errors(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode a = ut_attr(S_IFREG | 0644);
	uint64_t file, dir, ino;
	unsigned int type;
	char longn[300];

	file = mk(f->m, UKFS_ROOT_INO, "file", S_IFREG | 0644);
	dir = mk(f->m, UKFS_ROOT_INO, "dir", S_IFDIR | 0755);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "file", &ino, &type),
			 0);
	assert_int_equal(ino, file);
	assert_int_equal(type, DT_REG);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "dir", &ino, &type),
			 0);
	assert_int_equal(ino, dir);
	assert_int_equal(type, DT_DIR);
	assert_int_equal(iget(f->m, dir).nlink, 2);
	assert_int_equal(iget(f->m, dir).parent, UKFS_ROOT_INO);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 3);

	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "nope", &ino, NULL),
			 -ENOENT);
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "file", &a, NULL, NULL),
		-EEXIST);
	assert_int_equal(ukfs_create(f->m, file, "x", &a, NULL, NULL),
			 -ENOTDIR);
	assert_int_equal(ukfs_create(f->m, 4242, "x", &a, NULL, NULL), -ENOENT);
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "", &a, NULL, NULL),
			 -EINVAL);
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "a/b", &a, NULL, NULL),
		-EINVAL);
	assert_int_equal(ukfs_create(f->m, UKFS_ROOT_INO, "..", &a, NULL, NULL),
			 -EINVAL);
	memset(longn, 'n', sizeof(longn) - 1);
	longn[sizeof(longn) - 1] = '\0';
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, longn, &a, NULL, NULL),
		-ENAMETOOLONG);
	longn[255] = '\0';
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, longn, &a, NULL, NULL), 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, longn, NULL, NULL),
			 0);
	/* Names are bytes: no case folding, any non-NUL non-'/' byte. */
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "FILE", NULL, NULL),
			 -ENOENT);
	assert_int_equal(
		ukfs_create(f->m, UKFS_ROOT_INO, "\xff\x01 é", &a, NULL, NULL),
		0);
}

static void test_link_unlink_rmdir(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode v;
	uint64_t file, dir, sub;

	file = mk(f->m, UKFS_ROOT_INO, "file", S_IFREG | 0644);
	dir = mk(f->m, UKFS_ROOT_INO, "dir", S_IFDIR | 0755);
	sub = mk(f->m, dir, "sub", S_IFDIR | 0755);
	assert_int_equal(iget(f->m, dir).nlink, 3);

	assert_int_equal(ukfs_link(f->m, dir, "hard", file), 0);
	assert_int_equal(iget(f->m, file).nlink, 2);
	assert_int_equal(ukfs_link(f->m, dir, "hard", file), -EEXIST);
	assert_int_equal(ukfs_link(f->m, file, "x", file), -ENOTDIR);
	assert_int_equal(ukfs_link(f->m, UKFS_ROOT_INO, "d2", dir), -EPERM);
	assert_int_equal(ukfs_link(f->m, UKFS_ROOT_INO, "x", 777), -ENOENT);

	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "file", &v), 0);
	assert_int_equal(v.nlink, 1);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "file", &v), -ENOENT);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "dir", &v),
			 -ENOTEMPTY);
	assert_int_equal(ukfs_unlink(f->m, dir, "sub", &v), 0);
	assert_int_equal(v.ino, sub);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(iget(f->m, dir).nlink, 2);
	assert_int_equal(ukfs_inode_free(f->m, sub), 0);
	/* A removed directory takes no new entries. */
	assert_int_equal(ukfs_unlink(f->m, dir, "hard", &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_inode_free(f->m, file), 0);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "dir", &v), 0);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 2);
	{
		struct ukfs_inode a = ut_attr(S_IFREG | 0644);

		assert_int_equal(ukfs_create(f->m, dir, "late", &a, NULL, NULL),
				 -ENOENT);
	}
	assert_int_equal(ukfs_inode_free(f->m, dir), 0);
}

/* The VFS's unlink names the inode it expects (ukfs_unlink_ino). */
static void test_unlink_ino_checks_the_entry(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode v;
	uint64_t a, b, d;

	a = mk(f->m, UKFS_ROOT_INO, "a", S_IFREG | 0644);
	b = mk(f->m, UKFS_ROOT_INO, "b", S_IFREG | 0644);
	d = mk(f->m, UKFS_ROOT_INO, "d", S_IFDIR | 0755);
	/* "a" names a, not b: nothing changes. */
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "a", b, &v),
			 -ESTALE);
	assert_int_equal(iget(f->m, a).nlink, 1);
	assert_int_equal(iget(f->m, b).nlink, 1);
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "nope", a, &v),
			 -ESTALE);
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "a", 9999, &v),
			 -ENOENT);
	assert_int_equal(ukfs_link(f->m, d, "a2", a), 0);
	assert_int_equal(ukfs_unlink_ino(f->m, d, "a2", b, &v), -ESTALE);
	assert_int_equal(iget(f->m, a).nlink, 2);
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "d", a, &v),
			 -ESTALE);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 3);
	/* The right inode: as ukfs_unlink. */
	assert_int_equal(ukfs_unlink_ino(f->m, d, "a2", a, &v), 0);
	assert_int_equal(v.nlink, 1);
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "a", a, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "a", NULL, NULL),
			 -ENOENT);
	assert_int_equal(ukfs_inode_free(f->m, a), 0);
	assert_int_equal(ukfs_unlink_ino(f->m, UKFS_ROOT_INO, "d", d, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 2);
	assert_int_equal(ukfs_inode_free(f->m, d), 0);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "b", &v), 0);
	assert_int_equal(ukfs_inode_free(f->m, b), 0);
}

static void test_rename_variants(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode v;
	uint64_t a, b, d1, d2, d3, ino, x;
	unsigned int type;

	a = mk(f->m, UKFS_ROOT_INO, "a", S_IFREG | 0644);
	b = mk(f->m, UKFS_ROOT_INO, "b", S_IFREG | 0644);
	d1 = mk(f->m, UKFS_ROOT_INO, "d1", S_IFDIR | 0755);
	d2 = mk(f->m, UKFS_ROOT_INO, "d2", S_IFDIR | 0755);
	d3 = mk(f->m, d1, "d3", S_IFDIR | 0755);

	/* Plain move to a new name. */
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "a", d1, "a2", 0, &v),
			 0);
	assert_int_equal(v.ino, 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "a", NULL, NULL),
			 -ENOENT);
	assert_int_equal(ukfs_lookup(f->m, d1, "a2", &ino, NULL), 0);
	assert_int_equal(ino, a);
	/* Missing source. */
	assert_int_equal(
		ukfs_rename(f->m, UKFS_ROOT_INO, "zz", d1, "q", 0, NULL),
		-ENOENT);
	/* Replace b: the victim loses its link and becomes an orphan. */
	assert_int_equal(ukfs_rename(f->m, d1, "a2", UKFS_ROOT_INO, "b", 0, &v),
			 0);
	assert_int_equal(v.ino, b);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_inode_free(f->m, b), 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "b", &ino, NULL), 0);
	assert_int_equal(ino, a);
	/* NOREPLACE. */
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "b", UKFS_ROOT_INO,
				     "d1", RENAME_NOREPLACE, NULL),
			 -EEXIST);
	/* Types. */
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "b", UKFS_ROOT_INO,
				     "d2", 0, NULL),
			 -EISDIR);
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "d2", UKFS_ROOT_INO,
				     "b", 0, NULL),
			 -ENOTDIR);
	/* Directory move: '..' and both parents' nlink follow. */
	assert_int_equal(iget(f->m, d1).nlink, 3);
	assert_int_equal(ukfs_rename(f->m, d1, "d3", d2, "d3", 0, NULL), 0);
	assert_int_equal(iget(f->m, d3).parent, d2);
	assert_int_equal(iget(f->m, d1).nlink, 2);
	assert_int_equal(iget(f->m, d2).nlink, 3);
	/* Replacing a non-empty directory fails, an empty one works. */
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "d1", UKFS_ROOT_INO,
				     "d2", 0, NULL),
			 -ENOTEMPTY);
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "d2", UKFS_ROOT_INO,
				     "d1", 0, &v),
			 0);
	assert_int_equal(v.ino, d1);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_inode_free(f->m, d1), 0);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 3);
	/* EXCHANGE: a file and a directory in different parents. */
	x = mk(f->m, d3, "x", S_IFREG | 0644);
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "b", d3, "nope",
				     RENAME_EXCHANGE, NULL),
			 -ENOENT);
	assert_int_equal(ukfs_rename(f->m, UKFS_ROOT_INO, "b", d2, "d3",
				     RENAME_EXCHANGE, NULL),
			 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "b", &ino, &type), 0);
	assert_int_equal(ino, d3);
	assert_int_equal(type, DT_DIR);
	assert_int_equal(ukfs_lookup(f->m, d2, "d3", &ino, &type), 0);
	assert_int_equal(ino, a);
	assert_int_equal(type, DT_REG);
	assert_int_equal(iget(f->m, d3).parent, UKFS_ROOT_INO);
	assert_int_equal(iget(f->m, UKFS_ROOT_INO).nlink, 4);
	assert_int_equal(iget(f->m, d2).nlink, 2);
	assert_int_equal(ukfs_lookup(f->m, d3, "x", &ino, NULL), 0);
	assert_int_equal(ino, x);
}

static void test_rename_exchange_file_dir(void **state)
{
	struct fx *f = *state;
	uint64_t file, dir, p1, p2, ino;
	unsigned int type;

	p1 = mk(f->m, UKFS_ROOT_INO, "p1", S_IFDIR | 0755);
	p2 = mk(f->m, UKFS_ROOT_INO, "p2", S_IFDIR | 0755);
	file = mk(f->m, p1, "f", S_IFREG | 0644);
	dir = mk(f->m, p2, "d", S_IFDIR | 0755);
	assert_int_equal(iget(f->m, p2).nlink, 3);
	assert_int_equal(
		ukfs_rename(f->m, p1, "f", p2, "d", RENAME_EXCHANGE, NULL), 0);
	assert_int_equal(ukfs_lookup(f->m, p1, "f", &ino, &type), 0);
	assert_int_equal(ino, dir);
	assert_int_equal(type, DT_DIR);
	assert_int_equal(ukfs_lookup(f->m, p2, "d", &ino, &type), 0);
	assert_int_equal(ino, file);
	assert_int_equal(type, DT_REG);
	assert_int_equal(iget(f->m, dir).parent, p1);
	assert_int_equal(iget(f->m, p1).nlink, 3);
	assert_int_equal(iget(f->m, p2).nlink, 2);
	/* Same inode under two names: rename does nothing. */
	assert_int_equal(ukfs_link(f->m, p1, "h", file), 0);
	assert_int_equal(ukfs_rename(f->m, p1, "h", p2, "d", 0, NULL), 0);
	assert_int_equal(ukfs_lookup(f->m, p1, "h", NULL, NULL), 0);
	assert_int_equal(iget(f->m, file).nlink, 2);
	assert_int_equal(ukfs_rename(f->m, p1, "h", p1, "h", 0, NULL), 0);
	assert_int_equal(ukfs_rename(f->m, p1, "h", p1, "h",
				     RENAME_NOREPLACE | RENAME_EXCHANGE, NULL),
			 -EINVAL);
	reopen(f);
	assert_int_equal(iget(f->m, p1).nlink, 3);
}

struct listing {
	char names[64][16];
	uint64_t next[64];
	int n, stop_after;
};

static int collect(void *arg, const char *name, size_t len, uint64_t ino,
		   unsigned int type, uint64_t next)
{
	struct listing *l = arg;

	(void)ino;
	(void)type;
	if (l->stop_after && l->n == l->stop_after)
		return 1;
	snprintf(l->names[l->n], 16, "%.*s", (int)len, name);
	l->next[l->n++] = next;
	return 0;
}

static void test_readdir_cookies_stable(void **state)
{
	struct fx *f = *state;
	struct listing l = {0};
	struct ukfs_inode v;
	uint64_t dir, resume;
	char name[16];
	int i;

	dir = mk(f->m, UKFS_ROOT_INO, "dir", S_IFDIR | 0755);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		mk(f->m, dir, name, S_IFREG | 0644);
	}
	l.stop_after = 4;
	assert_int_equal(ukfs_readdir(f->m, dir, 0, collect, &l), 1);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[3], "e3");
	resume = l.next[3];
	/* Concurrent changes: remove seen and unseen entries, add one. */
	assert_int_equal(ukfs_unlink(f->m, dir, "e1", &v), 0);
	assert_int_equal(ukfs_inode_free(f->m, v.ino), 0);
	assert_int_equal(ukfs_unlink(f->m, dir, "e5", &v), 0);
	assert_int_equal(ukfs_inode_free(f->m, v.ino), 0);
	mk(f->m, dir, "new", S_IFREG | 0644);
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_readdir(f->m, dir, resume, collect, &l), 0);
	assert_int_equal(l.n, 6 - 1 + 1);
	assert_string_equal(l.names[0], "e4");
	assert_string_equal(l.names[1], "e6");
	assert_string_equal(l.names[5], "new");
	/* A renamed entry gets a new cookie, so it is seen again at the end
	 * rather than lost. */
	assert_int_equal(ukfs_rename(f->m, dir, "e0", dir, "e0b", 0, NULL), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_readdir(f->m, dir, resume, collect, &l), 0);
	assert_string_equal(l.names[l.n - 1], "e0b");
	reopen(f);
	memset(&l, 0, sizeof(l));
	assert_int_equal(ukfs_readdir(f->m, dir, 0, collect, &l), 0);
	assert_int_equal(l.n, 9);
	assert_int_equal(ukfs_readdir(f->m, 77777, 0, collect, &l), -ENOENT);
	{
		uint64_t file;

		assert_int_equal(ukfs_lookup(f->m, dir, "e2", &file, NULL), 0);
		assert_int_equal(ukfs_readdir(f->m, file, 0, collect, &l),
				 -ENOTDIR);
	}
	assert_int_equal(ukfs_readdir(f->m, dir, l.next[8], collect, &l), 0);
}

static int reenter(void *arg, const char *name, size_t len, uint64_t ino,
		   unsigned int type, uint64_t next)
{
	struct ukfs_meta *m = arg;

	(void)name, (void)len, (void)ino, (void)type, (void)next;
	return ukfs_unlink(m, UKFS_ROOT_INO, "f", NULL) == -EDEADLK ? 9 : 1;
}

static void test_readdir_callback_cannot_change(void **state)
{
	struct fx *f = *state;

	mk(f->m, UKFS_ROOT_INO, "f", S_IFREG | 0644);
	assert_int_equal(ukfs_readdir(f->m, UKFS_ROOT_INO, 0, reenter, f->m),
			 9);
	assert_int_equal(ukfs_readdir(f->m, iget(f->m, UKFS_ROOT_INO).ino, 0,
				      collect, &(struct listing){0}),
			 0);
	assert_int_equal(ukfs_lookup(f->m, UKFS_ROOT_INO, "f", NULL, NULL), 0);
}

/* ---- xattrs ----------------------------------------------------------- */

static void test_xattrs(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f->m, UKFS_ROOT_INO, "x", S_IFREG | 0644);
	char buf[64];
	static char big[UKFS_XATTR_SIZE_MAX + 1];

	assert_int_equal(ukfs_xattr_get(f->m, ino, "user.a", buf, 64),
			 -ENODATA);
	assert_int_equal(
		ukfs_xattr_set(f->m, ino, "user.a", "one", 3, XATTR_REPLACE),
		-ENODATA);
	assert_int_equal(
		ukfs_xattr_set(f->m, ino, "user.a", "one", 3, XATTR_CREATE), 0);
	assert_int_equal(
		ukfs_xattr_set(f->m, ino, "user.a", "two", 3, XATTR_CREATE),
		-EEXIST);
	assert_int_equal(
		ukfs_xattr_set(f->m, ino, "user.a", "three", 5, XATTR_REPLACE),
		0);
	assert_int_equal(ukfs_xattr_set(f->m, ino, "trusted.b", "", 0, 0), 0);
	assert_int_equal(ukfs_xattr_get(f->m, ino, "user.a", NULL, 0), 5);
	assert_int_equal(ukfs_xattr_get(f->m, ino, "user.a", buf, 2), -ERANGE);
	assert_int_equal(ukfs_xattr_get(f->m, ino, "user.a", buf, 64), 5);
	assert_memory_equal(buf, "three", 5);
	assert_int_equal(ukfs_xattr_get(f->m, ino, "trusted.b", buf, 64), 0);
	assert_int_equal(ukfs_xattr_list(f->m, ino, NULL, 0), 17);
	assert_int_equal(ukfs_xattr_list(f->m, ino, buf, 5), -ERANGE);
	assert_int_equal(ukfs_xattr_list(f->m, ino, buf, 64), 17);
	assert_memory_equal(buf, "trusted.b\0user.a\0", 17);
	assert_int_equal(ukfs_xattr_set(f->m, ino, "", "v", 1, 0), -ERANGE);
	assert_int_equal(
		ukfs_xattr_set(f->m, ino, "user.big", big, sizeof(big), 0),
		-E2BIG);
	assert_int_equal(ukfs_xattr_set(f->m, 9999, "user.a", "v", 1, 0),
			 -ENOENT);
	assert_int_equal(ukfs_xattr_get(f->m, 9999, "user.a", buf, 64),
			 -ENOENT);
	assert_int_equal(ukfs_xattr_remove(f->m, 9999, "user.a"), -ENOENT);
	assert_int_equal(ukfs_xattr_set(f->m, ino, "user.a", "v", 1, 4),
			 -EINVAL);
	assert_int_equal(ukfs_xattr_remove(f->m, ino, "user.a"), 0);
	assert_int_equal(ukfs_xattr_remove(f->m, ino, "user.a"), -ENODATA);
	reopen(f);
	assert_int_equal(ukfs_xattr_list(f->m, ino, buf, 64), 10);
	/* Freed with the inode. */
	{
		struct ukfs_inode v;

		assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "x", &v), 0);
		assert_int_equal(ukfs_inode_free(f->m, ino), 0);
	}
	assert_int_equal(ukfs_xattr_list(f->m, ino, buf, 64), -ENOENT);
}

/* ---- orphans ---------------------------------------------------------- */

static void test_orphans_reclaimed_at_open(void **state)
{
	struct fx *f = *state;
	struct ukfs_inode v;
	struct ukfs_extent e;
	struct ukfs_statfs st0, st;
	struct ukfs_meta_info info;
	uint64_t ino, list[4];

	assert_int_equal(ukfs_meta_statfs(f->m, &st0), 0);
	ino = mk(f->m, UKFS_ROOT_INO, "open-unlinked", S_IFREG | 0644);
	assert_int_equal(ukfs_alloc_extent(f->m, ino, 0, 100, 0, &e), 0);
	assert_int_equal(ukfs_truncate(f->m, ino, 100 * 4096), 0);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "open-unlinked", &v),
			 0);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 1);
	/* The "crash": committed, never freed. */
	assert_int_equal(ukfs_meta_commit(f->m), 0);
	assert_int_equal(ukfs_meta_close(f->m, false), 0);
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_meta_info(f->m, &info), 0);
	assert_false(info.was_clean);
	assert_int_equal(info.orphans_reclaimed, 1);
	assert_int_equal(ukfs_inode_get(f->m, ino, &v), -ENOENT);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 0);
	assert_int_equal(ukfs_meta_statfs(f->m, &st), 0);
	assert_int_equal(st.free_blocks, st0.free_blocks);
	assert_int_equal(st.free_inodes, st0.free_inodes);
	/* The API: add/remove with errors. */
	ino = mk(f->m, UKFS_ROOT_INO, "y", S_IFREG | 0644);
	assert_int_equal(ukfs_orphan_add(f->m, ino), 0);
	assert_int_equal(ukfs_orphan_add(f->m, ino), 0);
	assert_int_equal(ukfs_orphan_remove(f->m, ino), 0);
	assert_int_equal(ukfs_orphan_remove(f->m, ino), -ENOENT);
	assert_int_equal(ukfs_orphan_add(f->m, 5555), -ENOENT);
	{
		uint64_t one;
		uint64_t x = mk(f->m, UKFS_ROOT_INO, "z", S_IFREG | 0644);

		assert_int_equal(ukfs_orphan_add(f->m, x), 0);
		assert_int_equal(ukfs_orphan_add(f->m, ino), 0);
		/* The total comes back even when max is smaller. */
		assert_int_equal(ukfs_orphan_list(f->m, &one, 1), 2);
		assert_int_equal(one, ino);
		assert_int_equal(ukfs_orphan_remove(f->m, x), 0);
	}
	/* A linked inode left on the list is only taken off it at open. */
	assert_int_equal(ukfs_orphan_add(f->m, ino), 0);
	reopen(f);
	assert_int_equal(ukfs_inode_get(f->m, ino, &v), 0);
	assert_int_equal(ukfs_orphan_list(f->m, list, 4), 0);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char *p = ut_path(dir, name), *buf;
	FILE *fp = fopen(p, "rb");
	long n;

	free(p);
	if (!fp) {
		*len = 0;
		return NULL;
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void test_read_only_open_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct ukfs_meta *ro = NULL, *rw = NULL;
	struct ukfs_inode v, a = ut_attr(S_IFREG | 0644);
	char *db0, *wal0, *db1, *wal1, err[256];
	size_t dl0, wl0, dl1, wl1;
	uint64_t orphan, list[2], start;
	int ret;
	int status;
	pid_t pid;

	mk(f->m, UKFS_ROOT_INO, "a", S_IFREG | 0644);
	orphan = mk(f->m, UKFS_ROOT_INO, "o", S_IFREG | 0644);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "o", &v), 0);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = NULL;
	/* A writer that crashes: a committed change and a lost one, with
	 * the WAL left behind. */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct ukfs_meta *m;

		if (ukfs_meta_open(f->dir, 0, &m, NULL, 0) ||
		    mk(m, UKFS_ROOT_INO, "c", S_IFREG | 0644) == 0 ||
		    ukfs_meta_commit(m) ||
		    ukfs_create(m, UKFS_ROOT_INO, "d", &a, NULL, NULL))
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);

	/* A read-only open cannot replay the crashed writer's WAL. */
	assert_int_equal(
		ukfs_meta_open(f->dir, UKFS_META_RDONLY, &ro, err, sizeof(err)),
		-EROFS);
	assert_non_null(strstr(err, "needs recovery"));
	/* Recovered by a writer (which reclaims the orphan: make another). */
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_inode_get(f->m, orphan, &v), -ENOENT);
	orphan = mk(f->m, UKFS_ROOT_INO, "o2", S_IFREG | 0644);
	assert_int_equal(ukfs_unlink(f->m, UKFS_ROOT_INO, "o2", &v), 0);
	assert_int_equal(ukfs_meta_close(f->m, true), 0);
	f->m = NULL;

	db0 = slurp(f->dir, UKFS_META_FILE, &dl0);
	wal0 = slurp(f->dir, UKFS_META_FILE "-wal", &wl0);
	ret = ukfs_meta_open(f->dir, UKFS_META_RDONLY, &ro, err, sizeof(err));
	if (ret)
		print_error("read-only open: %s\n", err);
	assert_int_equal(ret, 0);
	assert_int_equal(ukfs_meta_open(f->dir, 0, &rw, err, sizeof(err)),
			 -EBUSY);
	assert_int_equal(ukfs_lookup(ro, UKFS_ROOT_INO, "a", NULL, NULL), 0);
	assert_int_equal(ukfs_lookup(ro, UKFS_ROOT_INO, "c", NULL, NULL), 0);
	assert_int_equal(ukfs_lookup(ro, UKFS_ROOT_INO, "d", NULL, NULL),
			 -ENOENT);
	assert_int_equal(ukfs_orphan_list(ro, list, 2), 1);
	assert_int_equal(list[0], orphan);
	assert_int_equal(ukfs_create(ro, UKFS_ROOT_INO, "e", &a, NULL, NULL),
			 -EROFS);
	assert_int_equal(ukfs_alloc_blocks(ro, 0, 1, &start), -EROFS);
	assert_int_equal(ukfs_meta_commit(ro), 0);
	assert_int_equal(ukfs_meta_close(ro, true), 0);
	db1 = slurp(f->dir, UKFS_META_FILE, &dl1);
	wal1 = slurp(f->dir, UKFS_META_FILE "-wal", &wl1);
	assert_int_equal(dl0, dl1);
	assert_int_equal(wl0, wl1);
	assert_memory_equal(db0, db1, dl0);
	if (wl0)
		assert_memory_equal(wal0, wal1, wl0);
	free(db0);
	free(db1);
	free(wal0);
	free(wal1);
	/* The next writer reclaims the orphan. */
	f->m = ut_open(f->dir);
	assert_int_equal(ukfs_inode_get(f->m, orphan, &v), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkfs_open_close_roundtrip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_second_opener_refused_with_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_open_refuses_damaged_images, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_inode_alloc_get_update_free, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_inode_limit_enospc_then_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_and_readlink,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_lookup_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_unlink_rmdir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_unlink_ino_checks_the_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_variants, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_exchange_file_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir_cookies_stable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_readdir_callback_cannot_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_read_only_open_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphans_reclaimed_at_open,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
