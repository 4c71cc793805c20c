// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_fd.c - descriptors through uk_dispatch: dup, dup2,
 * dup3 (shared offsets, EINVAL/EBADF), fcntl F_DUPFD(_CLOEXEC),
 * F_GETFD/F_SETFD, F_GETFL/F_SETFL (what changes, what does not), unknown
 * commands, the fork/exec/exit sharing rules, and fsync/fdatasync/sync/
 * syncfs.
 */
#include "vfs_test.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static void test_dup_family(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[4];
	long fd, d;

	ukt_put(t, "/f", "abcdef");
	fd = U(t, SYS_open, "/f", O_RDONLY);
	assert_int_equal(fd, 0);
	d = U(t, SYS_dup, fd);
	assert_int_equal(d, 1);
	assert_int_equal(U(t, SYS_read, fd, buf, 2), 2);
	assert_int_equal(U(t, SYS_read, d, buf, 2), 2);
	assert_memory_equal(buf, "cd", 2);
	assert_int_equal(U(t, SYS_dup2, fd, 10), 10);
	assert_int_equal(U(t, SYS_lseek, 10, 0, SEEK_CUR), 4);
	assert_int_equal(U(t, SYS_dup2, fd, fd), fd);
	assert_int_equal(U(t, SYS_dup2, 55, 55), -EBADF);
	assert_int_equal(U(t, SYS_dup3, fd, fd, 0), -EINVAL);
	assert_int_equal(U(t, SYS_dup3, fd, 11, 1), -EINVAL);
	assert_int_equal(U(t, SYS_dup3, fd, 11, O_CLOEXEC), 11);
	assert_int_equal(U(t, SYS_fcntl, 11, F_GETFD), FD_CLOEXEC);
	/* dup2 over an open fd closes it silently. */
	assert_int_equal(U(t, SYS_dup2, d, 11), 11);
	assert_int_equal(U(t, SYS_fcntl, 11, F_GETFD), 0);
	assert_int_equal(U(t, SYS_dup, 77), -EBADF);
	assert_int_equal(U(t, SYS_dup2, fd, 5000), -EBADF);
	/* F_DUPFD: lowest at or above arg. */
	assert_int_equal(U(t, SYS_fcntl, fd, F_DUPFD, 5), 5);
	assert_int_equal(U(t, SYS_fcntl, fd, F_DUPFD, 5), 6);
	assert_int_equal(U(t, SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0), 2);
	assert_int_equal(U(t, SYS_fcntl, 2, F_GETFD), FD_CLOEXEC);
	assert_int_equal(U(t, SYS_fcntl, fd, F_DUPFD, -1), -EINVAL);
	assert_int_equal(U(t, SYS_fcntl, 2, F_SETFD, 0), 0);
	assert_int_equal(U(t, SYS_fcntl, 2, F_GETFD), 0);
}

/* F_GETFL/F_SETFL against native: the same flags come back. */
static void test_getfl_setfl(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	static const int flags[] = { O_RDONLY, O_WRONLY | O_APPEND,
				     O_RDWR | O_NONBLOCK, O_RDWR | O_SYNC,
				     O_WRONLY | O_DSYNC, O_PATH };

	ukt_both_file(x, "/f", 0644, "x");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		long u = U(t, SYS_open, "/f", flags[i]);
		long n = N(SYS_open, ukt_np(x, "/f"), flags[i]);

		assert_true(u >= 0 && n >= 0);
		assert_int_equal(U(t, SYS_fcntl, u, F_GETFL),
				 N(SYS_fcntl, n, F_GETFL));
		CMP(U(t, SYS_fcntl, u, F_SETFL, O_APPEND | O_NONBLOCK | O_RDWR),
		    N(SYS_fcntl, n, F_SETFL, O_APPEND | O_NONBLOCK | O_RDWR));
		assert_int_equal(U(t, SYS_fcntl, u, F_GETFL),
				 N(SYS_fcntl, n, F_GETFL));
		CMP(U(t, SYS_fcntl, u, 9999), N(SYS_fcntl, n, 9999));
		U(t, SYS_close, u);
		close((int)n);
	}
	/* O_NOATIME needs the owner. */
	long fd = U(x->user, SYS_open, "/f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(x->user, SYS_fcntl, fd, F_SETFL, O_NOATIME), -EPERM);
	U(x->user, SYS_close, fd);
}

static void test_fork_exec_exit(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root, *c, *gc;
	char buf[4];
	long fd, keep;

	ukt_put(t, "/f", "0123456789");
	fd = U(t, SYS_open, "/f", O_RDONLY | O_CLOEXEC);
	keep = U(t, SYS_open, "/f", O_RDONLY);
	c = uk_task_fork(t, 600);
	/* The child shares the description (offset) but has its own table. */
	assert_int_equal(U(c, SYS_read, keep, buf, 4), 4);
	assert_int_equal(U(t, SYS_lseek, keep, 0, SEEK_CUR), 4);
	assert_int_equal(U(c, SYS_dup2, keep, 20), 20);
	assert_int_equal(U(t, SYS_fcntl, 20, F_GETFD), -EBADF);
	/* exec in the child closes its O_CLOEXEC copy only. */
	assert_int_equal(uk_task_exec(c), 0);
	assert_int_equal(U(c, SYS_fcntl, fd, F_GETFD), -EBADF);
	assert_int_equal(U(t, SYS_fcntl, fd, F_GETFD), FD_CLOEXEC);
	/* A grandchild, then everyone exits in any order. */
	gc = uk_task_fork(c, 601);
	assert_int_equal(U(gc, SYS_read, 20, buf, 2), 2);
	uk_task_exit(c);
	assert_int_equal(U(t, SYS_lseek, keep, 0, SEEK_CUR), 6);
	uk_task_exit(gc);
	/* cwd and umask are copied at fork, not shared. */
	c = uk_task_fork(t, 602);
	assert_int_equal(U(c, SYS_umask, 0), 022);
	assert_int_equal(U(t, SYS_umask, 022), 022);
	assert_int_equal(U(c, SYS_mkdir, "/cd", 0755), 0);
	assert_int_equal(U(c, SYS_chdir, "/cd"), 0);
	assert_int_equal(U(t, SYS_getcwd, buf, sizeof(buf)), 2);
	uk_task_exit(c);
	U(t, SYS_close, fd);
	U(t, SYS_close, keep);
}

static void test_sync_family(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	long fd, p;

	ukt_put(t, "/s", "x");
	fd = U(t, SYS_open, "/s", O_RDWR);
	p = U(t, SYS_open, "/s", O_PATH);
	assert_int_equal(U(t, SYS_fsync, fd), 0);
	assert_int_equal(U(t, SYS_fdatasync, fd), 0);
	assert_int_equal(U(t, SYS_syncfs, fd), 0);
	assert_int_equal(U0(t, SYS_sync), 0);
	assert_int_equal(U(t, SYS_fsync, p), -EBADF);
	assert_int_equal(U(t, SYS_fsync, 99), -EBADF);
	assert_int_equal(U(t, SYS_syncfs, 99), -EBADF);
	U(t, SYS_close, fd);
	U(t, SYS_close, p);
	fd = U(t, SYS_open, "/", O_RDONLY | O_DIRECTORY);
	assert_int_equal(U(t, SYS_fsync, fd), 0);
	U(t, SYS_close, fd);
}

static void test_advice_ranges_chroot(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	long fd, w, n;

	ukt_both_file(x, "/f", 0644, "data");
	fd = U(t, SYS_open, "/f", O_RDONLY);
	w = U(t, SYS_open, "/f", O_WRONLY);
	n = N(SYS_open, ukt_np(x, "/f"), O_RDONLY);
	for (int adv = -1; adv <= 6; adv++)
		CMP(U(t, SYS_fadvise64, fd, 0, 10, adv),
		    N(SYS_fadvise64, n, 0, 10, adv));
	CMP(U(t, SYS_fadvise64, fd, 0, -1L, 0), N(SYS_fadvise64, n, 0, -1L, 0));
	CMP(U(t, SYS_readahead, fd, 0, 100), N(SYS_readahead, n, 0, 100));
	assert_int_equal(U(t, SYS_readahead, w, 0, 100), -EBADF);
	CMP(U(t, SYS_sync_file_range, fd, 0, 10, 8),
	    N(SYS_sync_file_range, n, 0, 10, 8));
	CMP(U(t, SYS_sync_file_range, fd, -1, 10, 2),
	    N(SYS_sync_file_range, n, -1, 10, 2));
	CMP(U(t, SYS_sync_file_range, fd, 0, 10, 7),
	    N(SYS_sync_file_range, n, 0, 10, 7));
	close((int)n);
	U(t, SYS_close, fd);
	U(t, SYS_close, w);
	/* fchmodat2 refuses to chmod a symlink itself. */
	assert_int_equal(U(t, SYS_symlink, "f", "/l"), 0);
	assert_int_equal(U(t, SYS_fchmodat2, AT_FDCWD, "/l", 0600,
			   AT_SYMLINK_NOFOLLOW),
			 -EOPNOTSUPP);
	assert_int_equal(U(t, SYS_fchmodat2, AT_FDCWD, "/l", 0600, 0), 0);
	assert_int_equal(U(t, SYS_stat, "/f", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(U(t, SYS_fchmodat2, AT_FDCWD, "/l", 0600, 1), -EINVAL);
	/* chroot: the new root bounds "/" and "..". */
	assert_int_equal(U(t, SYS_mkdir, "/jail", 0755), 0);
	ukt_put(t, "/jail/in", "x");
	assert_int_equal(U(x->user, SYS_chroot, "/jail"), -EPERM);
	assert_int_equal(U(t, SYS_chroot, "/f"), -ENOTDIR);
	assert_int_equal(U(t, SYS_chroot, "/jail"), 0);
	assert_int_equal(U(t, SYS_chdir, "/"), 0);
	assert_int_equal(U(t, SYS_stat, "/in", &st), 0);
	assert_int_equal(U(t, SYS_stat, "/../../in", &st), 0);
	assert_int_equal(U(t, SYS_stat, "/f", &st), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dup_family, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_getfl_setfl, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_fork_exec_exit, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_sync_family, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_advice_ranges_chroot,
						ukt_setup, ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
