// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_dir.c - the syscalls that change directories and read
 * them: mkdir, rmdir, mknod, link, unlink, symlink, readlink, rename and
 * renameat2's flags, getdents64 (layout, resumption with stable cookies),
 * nlink counting, parent timestamps, EXDEV across two tmpfs mounts, and the
 * errnos compared with the same calls on a native directory.
 */
#include <dirent.h>
#include <stdio.h>

#include "vfs_test.h"
#include "vfs.h"

/* Names listed in dir through getdents64 (count bytes at a time). */
static int list(struct uk_task *t, const char *dir, unsigned int count,
		char names[][32], int max)
{
	char buf[4096];
	long fd = U(t, SYS_open, dir, O_RDONLY | O_DIRECTORY);
	int n = 0;
	long r;

	assert_true(fd >= 0);
	while ((r = U(t, SYS_getdents64, fd, buf, count)) > 0) {
		for (long off = 0; off < r;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			assert_int_equal(d->d_reclen % 8, 0);
			if (n < max)
				snprintf(names[n], 32, "%.31s", d->d_name);
			n++;
			off += d->d_reclen;
		}
	}
	assert_int_equal(r, 0);
	U(t, SYS_close, fd);
	return n;
}

static bool has(char names[][32], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return true;
	return false;
}

static void test_mkdir_rmdir_nlink(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st, p1, p2;

	assert_int_equal(U(t, SYS_stat, "/", &p1), 0);
	usleep(1000);
	assert_int_equal(U(t, SYS_mkdir, "/d", 0777), 0);
	assert_int_equal(U(t, SYS_stat, "/d", &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0755); /* umask 022 */
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(U(t, SYS_stat, "/", &p2), 0);
	assert_int_equal(p2.st_nlink, p1.st_nlink + 1);
	assert_true(p2.st_mtim.tv_nsec != p1.st_mtim.tv_nsec ||
		    p2.st_mtim.tv_sec != p1.st_mtim.tv_sec);
	assert_int_equal(U(t, SYS_mkdir, "/d/e", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/d/e/", 0755), -EEXIST);
	assert_int_equal(U(t, SYS_mkdirat, AT_FDCWD, "/d/f/", 0755), 0);
	assert_int_equal(U(t, SYS_stat, "/d", &st), 0);
	assert_int_equal(st.st_nlink, 4);
	assert_int_equal(U(t, SYS_rmdir, "/d"), -ENOTEMPTY);
	assert_int_equal(U(t, SYS_rmdir, "/d/e/."), -EINVAL);
	assert_int_equal(U(t, SYS_rmdir, "/d/e/.."), -ENOTEMPTY);
	assert_int_equal(U(t, SYS_rmdir, "/"), -EBUSY);
	assert_int_equal(U(t, SYS_rmdir, "/d/e"), 0);
	assert_int_equal(U(t, SYS_unlinkat, AT_FDCWD, "/d/f", AT_REMOVEDIR), 0);
	assert_int_equal(U(t, SYS_stat, "/d", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(U(t, SYS_unlinkat, AT_FDCWD, "/d", 0x1), -EINVAL);
	assert_int_equal(U(t, SYS_rmdir, "/d"), 0);
	assert_int_equal(U(t, SYS_stat, "/", &p2), 0);
	assert_int_equal(p2.st_nlink, p1.st_nlink);
}

/* Directory-changing errnos against a native directory. */
static void test_errors_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	static const char *const mk[] = { "/dir", "/file", "/file/x",
					  "/nope/x", "/dir/", "/.", "/dir/..",
					  "/link", "/dangling" };
	static const char *const rm[] = { "/dir", "/file", "/nope", "/dir/.",
					  "/dir/..", "/file/", "/dir/sub",
					  "/link", "/link/" };

	ukt_both_mkdir(x, "/dir", 0755);
	ukt_both_mkdir(x, "/dir/sub", 0755);
	ukt_both_file(x, "/file", 0644, "x");
	ukt_both_file(x, "/dir/f", 0644, "x");
	assert_int_equal(U(t, SYS_symlink, "dir", "/link"), 0);
	assert_int_equal(N(SYS_symlink, "dir", ukt_np(x, "/link")), 0);
	assert_int_equal(U(t, SYS_symlink, "gone", "/dangling"), 0);
	assert_int_equal(N(SYS_symlink, "gone", ukt_np(x, "/dangling")), 0);
	for (size_t i = 0; i < sizeof(mk) / sizeof(mk[0]); i++) {
		CMP(U(t, SYS_mkdir, mk[i], 0755),
		    N(SYS_mkdir, ukt_np(x, mk[i]), 0755));
		CMP(U(t, SYS_mknod, mk[i], S_IFREG | 0644, 0),
		    N(SYS_mknod, ukt_np(x, mk[i]), S_IFREG | 0644, 0));
		CMP(U(t, SYS_symlink, "t", mk[i]),
		    N(SYS_symlink, "t", ukt_np(x, mk[i])));
		CMP(U(t, SYS_link, "/dir/f", mk[i]),
		    N(SYS_link, ukt_np(x, "/dir/f"), ukt_np(x, mk[i])));
	}
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
		CMP(U(t, SYS_unlink, rm[i]), N(SYS_unlink, ukt_np(x, rm[i])));
		CMP(U(t, SYS_rmdir, rm[i]), N(SYS_rmdir, ukt_np(x, rm[i])));
	}
	CMP(U(t, SYS_link, "/dir", "/dir2"),
	    N(SYS_link, ukt_np(x, "/dir"), ukt_np(x, "/dir2")));
	/* Device nodes: CAP_MKNOD (root) makes them, others get EPERM. */
	CMP(U(x->user, SYS_mknod, "/chr", S_IFCHR | 0600, 0x0101), -EPERM);
	CMP(U(t, SYS_mknod, "/chr", S_IFCHR | 0600, 0x0101), 0);
	{
		struct stat st;

		CMP(U(t, SYS_stat, "/chr", &st), 0);
		assert_true(S_ISCHR(st.st_mode) && st.st_rdev == 0x0101);
		CMP(U(t, SYS_open, "/chr", O_RDONLY, 0), -ENXIO);
		CMP(U(t, SYS_unlink, "/chr"), 0);
	}
	CMP(U(t, SYS_mknod, "/bad", 0170000 | 0600, 0), -EINVAL);
	CMP(U(t, SYS_mknod, "/sdir", S_IFDIR | 0600, 0), -EPERM);
	CMP(U(t, SYS_symlink, "", "/empty"),
	    N(SYS_symlink, "", ukt_np(x, "/empty")));
}

static void test_link_unlink_symlink(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	char buf[64];

	ukt_put(t, "/a", "data");
	assert_int_equal(U(t, SYS_link, "/a", "/b"), 0);
	assert_int_equal(U(t, SYS_linkat, AT_FDCWD, "/b", AT_FDCWD, "/c", 0), 0);
	assert_int_equal(U(t, SYS_stat, "/a", &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(U(t, SYS_unlink, "/a"), 0);
	assert_int_equal(U(t, SYS_stat, "/c", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(U(t, SYS_linkat, AT_FDCWD, "/b", AT_FDCWD, "/x", 0x8),
			 -EINVAL);
	/* symlink, readlink (truncated, no NUL), linkat FOLLOW. */
	assert_int_equal(U(t, SYS_symlink, "/c", "/s"), 0);
	assert_int_equal(U(t, SYS_lstat, "/s", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, 2);
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(U(t, SYS_readlink, "/s", buf, 1), 1);
	assert_int_equal(buf[0], '/');
	assert_int_equal(buf[1], 'z');
	assert_int_equal(U(t, SYS_readlink, "/s", buf, 0), -EINVAL);
	assert_int_equal(U(t, SYS_readlink, "/c", buf, 8), -EINVAL);
	assert_int_equal(U(t, SYS_readlink, "/nope", buf, 8), -ENOENT);
	assert_int_equal(U(t, SYS_link, "/s", "/hs"), 0); /* the link itself */
	assert_int_equal(U(t, SYS_lstat, "/hs", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(U(t, SYS_linkat, AT_FDCWD, "/s", AT_FDCWD, "/hf",
			   AT_SYMLINK_FOLLOW),
			 0);
	assert_int_equal(U(t, SYS_lstat, "/hf", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_nlink, 3);
}

static void test_rename(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st, st2;
	char buf[8];

	assert_int_equal(U(t, SYS_mkdir, "/d1", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/d2", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/d1/sub", 0755), 0);
	ukt_put(t, "/d1/f", "one");
	ukt_put(t, "/d2/g", "two");
	/* Replacing a file. */
	assert_int_equal(U(t, SYS_stat, "/d1/f", &st), 0);
	assert_int_equal(U(t, SYS_rename, "/d1/f", "/d2/g"), 0);
	assert_int_equal(U(t, SYS_stat, "/d2/g", &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(U(t, SYS_stat, "/d1/f", &st), -ENOENT);
	/* Moving a directory: nlinks of both parents. */
	assert_int_equal(U(t, SYS_rename, "/d1/sub", "/d2/sub"), 0);
	assert_int_equal(U(t, SYS_stat, "/d1", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(U(t, SYS_stat, "/d2", &st), 0);
	assert_int_equal(st.st_nlink, 3);
	/* Errors. */
	assert_int_equal(U(t, SYS_rename, "/d2", "/d2/sub/x"), -EINVAL);
	assert_int_equal(U(t, SYS_rename, "/d2/sub", "/d2"), -ENOTEMPTY);
	assert_int_equal(U(t, SYS_rename, "/d2/g", "/d2/sub"), -EISDIR);
	assert_int_equal(U(t, SYS_rename, "/d2/sub", "/d2/g"), -ENOTDIR);
	assert_int_equal(U(t, SYS_rename, "/d2/g/", "/d2/h"), -ENOTDIR);
	assert_int_equal(U(t, SYS_rename, "/nope", "/d2/h"), -ENOENT);
	assert_int_equal(U(t, SYS_rename, "/d2/.", "/d2/h"), -EBUSY);
	assert_int_equal(U(t, SYS_mkdir, "/d1/full", 0755), 0);
	ukt_put(t, "/d1/full/x", "x");
	assert_int_equal(U(t, SYS_rename, "/d2/sub", "/d1/full"), -ENOTEMPTY);
	assert_int_equal(U(t, SYS_rename, "/d2/sub", "/d1/empty"), 0);
	/* Same inode (hard links): nothing happens. */
	assert_int_equal(U(t, SYS_link, "/d2/g", "/d2/g2"), 0);
	assert_int_equal(U(t, SYS_rename, "/d2/g", "/d2/g2"), 0);
	assert_int_equal(U(t, SYS_stat, "/d2/g", &st), 0);
	/* renameat2 flags. */
	ukt_put(t, "/r1", "r1");
	ukt_put(t, "/r2", "r2");
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r1", AT_FDCWD, "/r2",
			   RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r1", AT_FDCWD, "/r3",
			   RENAME_NOREPLACE),
			 0);
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r3", AT_FDCWD, "/r2",
			   RENAME_EXCHANGE),
			 0);
	long fd = U(t, SYS_open, "/r2", O_RDONLY);
	assert_int_equal(U(t, SYS_read, fd, buf, 8), 2);
	assert_memory_equal(buf, "r1", 2);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r3", AT_FDCWD, "/r9",
			   RENAME_EXCHANGE),
			 -ENOENT);
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r3", AT_FDCWD, "/r2",
			   RENAME_EXCHANGE | RENAME_NOREPLACE),
			 -EINVAL);
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/r3", AT_FDCWD, "/r2",
			   0x100),
			 -EINVAL);
	/* Long names (kept outside the dentry) through both kinds. */
	static const char long1[] = "/a-rather-long-name-that-does-not-fit-inline-1";
	static const char long2[] = "/another-quite-long-name-that-needs-the-heap-2";
	ukt_put(t, long1, "L1");
	assert_int_equal(U(t, SYS_rename, long1, "/short"), 0);
	assert_int_equal(U(t, SYS_rename, "/short", long2), 0);
	ukt_put(t, long1, "L3");
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, long1, AT_FDCWD, long2,
			   RENAME_EXCHANGE),
			 0);
	fd = U(t, SYS_open, long1, O_RDONLY);
	assert_int_equal(U(t, SYS_read, fd, buf, 8), 2);
	assert_memory_equal(buf, "L1", 2);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_stat, "/short", &st), -ENOENT);
	/* Exchange a directory and a file across parents. */
	assert_int_equal(U(t, SYS_renameat2, AT_FDCWD, "/d1/empty", AT_FDCWD,
			   "/r2", RENAME_EXCHANGE),
			 0);
	assert_int_equal(U(t, SYS_stat, "/r2", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(U(t, SYS_stat, "/d1/empty", &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_getdents(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char names[300][32];
	char p[64];
	long fd, r;
	char buf[512];
	int n;

	assert_int_equal(U(t, SYS_mkdir, "/g", 0755), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(p, sizeof(p), "/g/file-%03d", i);
		ukt_put(t, p, "");
	}
	assert_int_equal(U(t, SYS_mkdir, "/g/sub", 0755), 0);
	n = list(t, "/g", 100, names, 300);
	assert_int_equal(n, 203);
	assert_true(has(names, n, "."));
	assert_true(has(names, n, ".."));
	assert_true(has(names, n, "sub"));
	assert_true(has(names, n, "file-199"));
	/* Too small for one entry: EINVAL; not a directory: ENOTDIR. */
	fd = U(t, SYS_open, "/g", O_RDONLY | O_DIRECTORY);
	assert_int_equal(U(t, SYS_getdents64, fd, buf, 10), -EINVAL);
	/* Changes during a listing: every entry not touched is seen once. */
	r = U(t, SYS_getdents64, fd, buf, sizeof(buf));
	assert_true(r > 0);
	for (int i = 0; i < 100; i += 2) {
		snprintf(p, sizeof(p), "/g/file-%03d", i + 100);
		assert_int_equal(U(t, SYS_unlink, p), 0);
	}
	ukt_put(t, "/g/late", "");
	int seen = 0;
	for (long off = 0; off < r;) {
		off += ((struct dirent64 *)(buf + off))->d_reclen;
		seen++;
	}
	while ((r = U(t, SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < r;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			int num;

			if (sscanf(d->d_name, "file-%d", &num) == 1 &&
			    num >= 100)
				assert_true(num % 2 == 1);
			off += d->d_reclen;
			seen++;
		}
	assert_int_equal(seen, 203 - 50 + 1);
	/* Rewind with lseek(0) lists again. */
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_SET), 0);
	assert_true(U(t, SYS_getdents64, fd, buf, sizeof(buf)) > 0);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_END), -EINVAL);
	U(t, SYS_close, fd);
	ukt_put(t, "/plain", "");
	fd = U(t, SYS_open, "/plain", O_RDONLY);
	assert_int_equal(U(t, SYS_getdents64, fd, buf, sizeof(buf)), -ENOTDIR);
	U(t, SYS_close, fd);
	/* A removed directory lists nothing: ENOENT. */
	assert_int_equal(U(t, SYS_mkdir, "/gone", 0755), 0);
	fd = U(t, SYS_open, "/gone", O_RDONLY | O_DIRECTORY);
	assert_int_equal(U(t, SYS_rmdir, "/gone"), 0);
	assert_int_equal(U(t, SYS_getdents64, fd, buf, sizeof(buf)), -ENOENT);
	U(t, SYS_close, fd);
}

static void test_exdev_mounts(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat a, b;

	assert_int_equal(U(t, SYS_mkdir, "/m", 0755), 0);
	ukt_put(t, "/m/hidden", "under");
	assert_int_equal(vfs_mount(t, "/m", "tmpfs", "size=1M"), 0);
	assert_int_equal(vfs_mount(t, "/m", "tmpfs", ""), -EBUSY);
	assert_int_equal(vfs_mount(t, "/nope", "tmpfs", ""), -ENOENT);
	assert_int_equal(vfs_mount(t, "/m", "ext9", ""), -ENODEV);
	assert_int_equal(vfs_mount(x->user, "/m", "tmpfs", ""), -EPERM);
	assert_int_equal(U(t, SYS_stat, "/m/hidden", &a), -ENOENT);
	ukt_put(t, "/m/f", "x");
	ukt_put(t, "/top", "x");
	assert_int_equal(U(t, SYS_stat, "/m", &a), 0);
	assert_int_equal(U(t, SYS_stat, "/", &b), 0);
	assert_true(a.st_dev != b.st_dev);
	assert_int_equal(U(t, SYS_link, "/m/f", "/f2"), -EXDEV);
	assert_int_equal(U(t, SYS_rename, "/m/f", "/f2"), -EXDEV);
	assert_int_equal(U(t, SYS_rename, "/top", "/m/top"), -EXDEV);
	assert_int_equal(U(t, SYS_rename, "/m/f", "/m/g"), 0);
	assert_int_equal(U(t, SYS_rmdir, "/m"), -EBUSY);
	/* ".." from the mount's root goes to the parent file system. */
	assert_int_equal(U(t, SYS_stat, "/m/../top", &a), 0);
	/* getcwd inside the mount; the cwd keeps it busy. */
	char cwd[32];
	assert_int_equal(U(t, SYS_mkdir, "/m/in", 0755), 0);
	assert_int_equal(U(t, SYS_chdir, "/m/in"), 0);
	assert_int_equal(U(t, SYS_getcwd, cwd, sizeof(cwd)), 6);
	assert_string_equal(cwd, "/m/in");
	assert_int_equal(vfs_umount(t, "/m"), -EBUSY);
	assert_int_equal(U(t, SYS_chdir, "/"), 0);
	assert_int_equal(vfs_umount(t, "/top"), -EINVAL);
	long fd = U(t, SYS_open, "/m/g", O_RDONLY);
	assert_int_equal(vfs_umount(t, "/m"), -EBUSY);
	U(t, SYS_close, fd);
	assert_int_equal(vfs_umount(t, "/m"), 0);
	assert_int_equal(U(t, SYS_stat, "/m/hidden", &a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkdir_rmdir_nlink,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_errors_vs_native,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_link_unlink_symlink,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_rename, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_getdents, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_exdev_mounts, ukt_setup,
						ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
