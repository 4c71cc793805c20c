/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ukfs_test_util.c - scratch images, raw SQL and fsck checks for
 * the ukfs metadata tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ukfs_test_util.h"

char *ut_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/ukfs-test-XXXXXX", base ? base : "/tmp") < 0)
		fail();
	assert_non_null(mkdtemp(p));
	return p;
}

char *ut_mkimage(uint64_t size, uint64_t inodes)
{
	char *d = ut_tmpdir();
	char err[256] = "";
	int ret = ukfs_mkfs(d, size, inodes, err, sizeof(err));

	if (ret)
		print_error("mkfs: %s\n", err);
	assert_int_equal(ret, 0);
	return d;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void ut_rmimage(char *dir)
{
	if (!dir)
		return;
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

struct ukfs_meta *ut_open(const char *dir)
{
	struct ukfs_meta *m = NULL;
	char err[256] = "";
	int ret = ukfs_meta_open(dir, 0, &m, err, sizeof(err));

	if (ret)
		print_error("open: %s\n", err);
	assert_int_equal(ret, 0);
	return m;
}

char *ut_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		fail();
	return p;
}

void ut_sql(const char *dir, const char *fmt, ...)
{
	char *path = ut_path(dir, UKFS_META_FILE);
	char *sql = NULL, *msg = NULL;
	sqlite3 *db;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&sql, fmt, ap);
	va_end(ap);
	assert_true(rc >= 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		print_error("sql '%s': %s\n", sql, msg ? msg : "?");
	assert_int_equal(rc, SQLITE_OK);
	sqlite3_free(msg);
	sqlite3_close(db);
	free(sql);
	free(path);
}

static void print_finding(void *arg, const char *msg)
{
	(void)arg;
	print_message("fsck: %s\n", msg);
}

void ut_assert_fsck_clean(const char *dir)
{
	assert_int_equal(ukfs_fsck(dir, false, print_finding, NULL),
			 UKFS_FSCK_CLEAN);
}

struct ukfs_inode ut_attr(uint32_t mode)
{
	struct ukfs_inode a = {0};

	a.mode = mode;
	a.uid = 1000;
	a.gid = 100;
	a.atime_ns = a.mtime_ns = a.ctime_ns = a.btime_ns =
		1700000000ll * 1000000000ll;
	return a;
}

void ut_copy(const char *src, const char *dst)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(src, O_RDONLY);
	if (in < 0) {
		unlink(dst);
		return;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}
