// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_stat.c - stat, lstat, fstat, newfstatat, statx,
 * statfs and fstatfs through uk_dispatch: the x86-64 struct stat layout,
 * statx's mask and checks, what stat shows of files, directories, symlinks
 * and FIFOs (compared with native where tmpfs and ext4 agree), ctime on
 * chmod/link, and statfs of the root tmpfs and of a second mount.
 */
#include <sys/stat.h>
#include <sys/vfs.h>

#include "vfs_test.h"
#include "vfs.h"

static void test_stat_fields(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat u, n;
	static const char *const paths[] = { "/f", "/d", "/l", "/p" };

	ukt_both_file(x, "/f", 0640, "hello");
	ukt_both_mkdir(x, "/d", 0711);
	assert_int_equal(U(t, SYS_symlink, "f", "/l"), 0);
	assert_int_equal(N(SYS_symlink, "f", ukt_np(x, "/l")), 0);
	assert_int_equal(U(t, SYS_mknod, "/p", S_IFIFO | 0600, 0), 0);
	assert_int_equal(N(SYS_mknod, ukt_np(x, "/p"), S_IFIFO | 0600, 0), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(U(t, SYS_lstat, paths[i], &u), 0);
		assert_int_equal(lstat(ukt_np(x, paths[i]), &n), 0);
		assert_int_equal(u.st_mode, n.st_mode);
		assert_int_equal(u.st_nlink, n.st_nlink);
		assert_int_equal(u.st_uid, n.st_uid);
		assert_int_equal(u.st_gid, n.st_gid);
		if (!S_ISDIR(u.st_mode))
			assert_int_equal(u.st_size, n.st_size);
	}
	/* stat follows, lstat does not; fstat agrees with stat. */
	assert_int_equal(U(t, SYS_stat, "/l", &u), 0);
	assert_true(S_ISREG(u.st_mode));
	long fd = U(t, SYS_open, "/f", O_RDONLY);
	assert_int_equal(U(t, SYS_fstat, fd, &n), 0);
	assert_int_equal(u.st_ino, n.st_ino);
	assert_int_equal(u.st_dev, n.st_dev);
	assert_int_equal(n.st_blksize, 4096);
	assert_int_equal(n.st_blocks, 8);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_fstat, 99, &n), -EBADF);
	assert_int_equal(U(t, SYS_stat, "/f/", &n), -ENOTDIR);
	assert_int_equal(U(t, SYS_stat, "", &n), -ENOENT);
}

static void test_ctime_rules(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat a, b;

	ukt_put(t, "/c", "x");
	assert_int_equal(U(t, SYS_stat, "/c", &a), 0);
	usleep(1500);
	assert_int_equal(U(t, SYS_chmod, "/c", 0600), 0);
	assert_int_equal(U(t, SYS_stat, "/c", &b), 0);
	assert_true(b.st_ctim.tv_nsec != a.st_ctim.tv_nsec ||
		    b.st_ctim.tv_sec != a.st_ctim.tv_sec);
	assert_int_equal(b.st_mtim.tv_nsec, a.st_mtim.tv_nsec);
	a = b;
	usleep(1500);
	assert_int_equal(U(t, SYS_link, "/c", "/c2"), 0);
	assert_int_equal(U(t, SYS_stat, "/c", &b), 0);
	assert_true(b.st_ctim.tv_nsec != a.st_ctim.tv_nsec ||
		    b.st_ctim.tv_sec != a.st_ctim.tv_sec);
	a = b;
	usleep(1500);
	assert_int_equal(U(t, SYS_chown, "/c", 5, 5), 0);
	assert_int_equal(U(t, SYS_stat, "/c", &b), 0);
	assert_int_equal(b.st_uid, 5);
	assert_true(b.st_ctim.tv_nsec != a.st_ctim.tv_nsec ||
		    b.st_ctim.tv_sec != a.st_ctim.tv_sec);
}

static void test_statx(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct statx sx;
	struct stat st;

	ukt_put(t, "/s", "12345");
	assert_int_equal(U(t, SYS_statx, AT_FDCWD, "/s", 0, STATX_BASIC_STATS,
			   &sx),
			 0);
	assert_true((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
	assert_true(sx.stx_mask & STATX_BTIME);
	assert_int_equal(sx.stx_size, 5);
	assert_int_equal(U(t, SYS_stat, "/s", &st), 0);
	assert_int_equal(sx.stx_ino, st.st_ino);
	assert_int_equal(sx.stx_mode, st.st_mode);
	assert_int_equal(sx.stx_mtime.tv_sec, st.st_mtim.tv_sec);
	assert_int_equal(sx.stx_mtime.tv_nsec, st.st_mtim.tv_nsec);
	assert_int_equal(U(t, SYS_statx, AT_FDCWD, "/s", 0x80000000u,
			   STATX_BASIC_STATS, &sx),
			 N(SYS_statx, AT_FDCWD, "/", 0x80000000u,
			   STATX_BASIC_STATS, &sx));
	assert_int_equal(U(t, SYS_statx, AT_FDCWD, "/s",
			   AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
			   STATX_BASIC_STATS, &sx),
			 -EINVAL);
	assert_int_equal(U(t, SYS_statx, AT_FDCWD, "/s", 0, STATX__RESERVED,
			   &sx),
			 -EINVAL);
	long fd = U(t, SYS_open, "/s", O_PATH);
	assert_int_equal(U(t, SYS_statx, fd, 0, AT_EMPTY_PATH,
			   STATX_BASIC_STATS, &sx),
			 0);
	assert_int_equal(sx.stx_size, 5);
	assert_int_equal(U(t, SYS_statx, fd, "", AT_EMPTY_PATH,
			   STATX_BASIC_STATS, &sx),
			 0);
	U(t, SYS_close, fd);
}

static void test_statfs(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct statfs a, b;

	assert_int_equal(U(t, SYS_statfs, "/", &a), 0);
	assert_int_equal(a.f_type, UK_TMPFS_MAGIC);
	assert_int_equal(a.f_bsize, 4096);
	assert_int_equal(a.f_blocks, (1u << 30) / 4096);
	assert_int_equal(a.f_namelen, 255);
	assert_int_equal(U(t, SYS_mkdir, "/m", 0755), 0);
	assert_int_equal(vfs_mount(t, "/m", "tmpfs", "size=1M,nr_inodes=10"),
			 0);
	long fd = U(t, SYS_open, "/m", O_RDONLY | O_DIRECTORY);
	assert_int_equal(U(t, SYS_fstatfs, fd, &b), 0);
	assert_int_equal(b.f_blocks, 256);
	assert_int_equal(b.f_files, 10);
	assert_int_equal(b.f_ffree, 9);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_statfs, "/nope", &a), -ENOENT);
	assert_int_equal(U(t, SYS_fstatfs, 99, &a), -EBADF);
	assert_int_equal(vfs_mount(t, "/m", "tmpfs", "bogus=1"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stat_fields, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_ctime_rules, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_statx, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_statfs, ukt_setup,
						ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
