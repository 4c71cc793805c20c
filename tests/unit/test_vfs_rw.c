// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_rw.c - the read/write family, lseek, truncate and
 * the data side of tmpfs through uk_dispatch: modes (EBADF), directories
 * (EISDIR), offsets (EINVAL), holes, vectors (IOV_MAX, RWF_*), shared
 * offsets after fork, I/O accounting, unlinked-while-open files, ENOSPC
 * on a small tmpfs, truncate's errnos compared with a native directory.
 */
#include <sys/uio.h>
#include <linux/fs.h>
#include <sys/vfs.h>

#include "vfs_test.h"
#include "vfs.h"

static void test_read_write_modes(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[32];
	long r, w, d;

	r = U(t, SYS_open, "/f", O_CREAT | O_RDONLY, 0644);
	w = U(t, SYS_open, "/f", O_WRONLY);
	d = U(t, SYS_open, "/", O_RDONLY | O_DIRECTORY);
	assert_int_equal(U(t, SYS_write, r, "x", 1), -EBADF);
	assert_int_equal(U(t, SYS_read, w, buf, 1), -EBADF);
	assert_int_equal(U(t, SYS_pwrite64, r, "x", 1, 0), -EBADF);
	assert_int_equal(U(t, SYS_pread64, w, buf, 1, 0), -EBADF);
	assert_int_equal(U(t, SYS_read, d, buf, 1), -EISDIR);
	assert_int_equal(U(t, SYS_pread64, d, buf, 1, 0), -EISDIR);
	assert_int_equal(U(t, SYS_write, d, buf, 1), -EBADF);
	assert_int_equal(U(t, SYS_read, 999, buf, 1), -EBADF);
	assert_int_equal(U(t, SYS_pread64, r, buf, 1, -1), -EINVAL);
	assert_int_equal(U(t, SYS_pwrite64, w, buf, 1, -5), -EINVAL);
	assert_int_equal(U(t, SYS_write, w, "hello world", 11), 11);
	assert_int_equal(U(t, SYS_read, r, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(U(t, SYS_read, r, buf, 32), 6);
	assert_int_equal(U(t, SYS_read, r, buf, 32), 0);
	assert_int_equal(U(t, SYS_read, r, buf, 0), 0);
	assert_int_equal(U(t, SYS_pread64, r, buf, 32, 6), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(U(t, SYS_pread64, r, buf, 32, 100), 0);
	U(t, SYS_close, r);
	U(t, SYS_close, w);
	U(t, SYS_close, d);
}

static void test_holes_and_seek(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[9000], zero[9000];
	struct stat st;
	long fd = U(t, SYS_open, "/h", O_CREAT | O_RDWR, 0644);

	memset(zero, 0, sizeof(zero));
	assert_int_equal(U(t, SYS_pwrite64, fd, "end", 3, 100000), 3);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_size, 100003);
	assert_int_equal(st.st_blocks, 8); /* one page */
	assert_int_equal(U(t, SYS_pread64, fd, buf, 9000, 50000), 9000);
	assert_memory_equal(buf, zero, 9000);
	/* SEEK_DATA/SEEK_HOLE over the pages. */
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_DATA), 98304);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_HOLE), 0);
	assert_int_equal(U(t, SYS_lseek, fd, 98304, SEEK_HOLE), 100003);
	assert_int_equal(U(t, SYS_lseek, fd, 100003, SEEK_DATA), -ENXIO);
	/* SEEK_SET/CUR/END and their errors. */
	assert_int_equal(U(t, SYS_lseek, fd, 10, SEEK_SET), 10);
	assert_int_equal(U(t, SYS_lseek, fd, 5, SEEK_CUR), 15);
	assert_int_equal(U(t, SYS_lseek, fd, -3, SEEK_END), 100000);
	assert_int_equal(U(t, SYS_read, fd, buf, 10), 3);
	assert_int_equal(U(t, SYS_lseek, fd, -1, SEEK_SET), -EINVAL);
	assert_int_equal(U(t, SYS_lseek, fd, -200000, SEEK_END), -EINVAL);
	assert_int_equal(U(t, SYS_lseek, fd, 0, 7), -EINVAL);
	assert_int_equal(U(t, SYS_lseek, fd, INT64_MAX, SEEK_SET), INT64_MAX);
	assert_int_equal(U(t, SYS_lseek, fd, 1, SEEK_CUR), -EOVERFLOW);
	/* Shrinking cuts data: re-extending reads zeroes. */
	assert_int_equal(U(t, SYS_ftruncate, fd, 100001), 0);
	assert_int_equal(U(t, SYS_ftruncate, fd, 100003), 0);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 3, 100000), 3);
	assert_memory_equal(buf, "e\0\0", 3);
	assert_int_equal(U(t, SYS_ftruncate, fd, 0), 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	U(t, SYS_close, fd);
}

static void test_vectors(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char a[4], b[8], out[16];
	struct iovec wv[2] = { { "abcd", 4 }, { "efghijkl", 8 } };
	struct iovec rv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec bad = { a, (size_t)-1 };
	static struct iovec many[1025];
	long fd = U(t, SYS_open, "/v", O_CREAT | O_RDWR, 0644);

	assert_int_equal(U(t, SYS_writev, fd, wv, 2), 12);
	assert_int_equal(U(t, SYS_preadv, fd, rv, 2, 0, 0), 12);
	assert_memory_equal(a, "abcd", 4);
	assert_memory_equal(b, "efghijkl", 8);
	assert_int_equal(U(t, SYS_lseek, fd, 2, SEEK_SET), 2);
	assert_int_equal(U(t, SYS_readv, fd, rv, 2), 10);
	assert_int_equal(U(t, SYS_pwritev, fd, wv, 1, 12, 0), 4);
	assert_int_equal(U(t, SYS_pread64, fd, out, 16, 0), 16);
	assert_memory_equal(out, "abcdefghijklabcd", 16);
	assert_int_equal(U(t, SYS_readv, fd, &bad, 1), -EINVAL);
	assert_int_equal(U(t, SYS_readv, fd, many, 1025), -EINVAL);
	assert_int_equal(U(t, SYS_readv, fd, many, 1024), 0);
	assert_int_equal(U(t, SYS_readv, fd, rv, 0), 0);
	assert_int_equal(U(t, SYS_preadv, fd, rv, 1, -1, 0), -EINVAL);
	/* preadv2/pwritev2: -1 is the file position; unknown flags. */
	assert_int_equal(U(t, SYS_preadv2, fd, rv, 1, 0, 0, 0x1000000),
			 -EOPNOTSUPP);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_SET), 0);
	assert_int_equal(U(t, SYS_preadv2, fd, rv, 1, -1, 0, 0), 4);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_CUR), 4);
	assert_int_equal(U(t, SYS_pwritev2, fd, wv, 1, 0, 0, RWF_APPEND), 4);
	assert_int_equal(U(t, SYS_lseek, fd, 0, SEEK_END), 20);
	assert_int_equal(U(t, SYS_pwritev2, fd, wv, 1, 0, 0, RWF_DSYNC), 4);
	assert_int_equal(U(t, SYS_pwritev2, fd, wv, 1, -1, 0, RWF_SYNC), 4);
	U(t, SYS_close, fd);
}

static void test_fork_shares_offset_and_io(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root, *child;
	char buf[8];
	long fd;
	struct uk_task_io io0, io1;

	ukt_put(t, "/s", "0123456789");
	fd = U(t, SYS_open, "/s", O_RDWR);
	child = uk_task_fork(t, 500);
	assert_non_null(child);
	assert_int_equal(U(child, SYS_read, fd, buf, 3), 3);
	assert_int_equal(U(t, SYS_read, fd, buf, 3), 3);
	assert_memory_equal(buf, "345", 3);
	/* The child's close does not close the parent's. */
	assert_int_equal(U(child, SYS_close, fd), 0);
	assert_int_equal(U(t, SYS_read, fd, buf, 1), 1);
	uk_task_exit(child);
	io0 = t->io;
	assert_int_equal(U(t, SYS_read, fd, buf, 2), 2);
	assert_int_equal(U(t, SYS_write, fd, "ab", 2), 2);
	assert_int_equal(U(t, SYS_read, fd, buf, 8), 0); /* at EOF */
	io1 = t->io;
	assert_int_equal(io1.syscr - io0.syscr, 2);
	assert_int_equal(io1.rchar - io0.rchar, 2);
	assert_int_equal(io1.syscw - io0.syscw, 1);
	assert_int_equal(io1.wchar - io0.wchar, 2);
	U(t, SYS_close, fd);
}

static void test_unlinked_while_open(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[8];
	struct stat st;
	long fd;

	ukt_put(t, "/u", "keep");
	fd = U(t, SYS_open, "/u", O_RDWR);
	assert_int_equal(U(t, SYS_unlink, "/u"), 0);
	assert_int_equal(U(t, SYS_stat, "/u", &st), -ENOENT);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(U(t, SYS_write, fd, "!", 1), 1);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 8, 0), 4);
	assert_memory_equal(buf, "!eep", 4);
	/* A new file of the same name is another file. */
	ukt_put(t, "/u", "new");
	assert_int_equal(U(t, SYS_pread64, fd, buf, 8, 0), 4);
	U(t, SYS_close, fd);
}

static void test_enospc(void **state)
{
	struct uk_kernel_opts o = { .tmpfs_size = 64 * 1024,
				    .tmpfs_inodes = 4 };
	struct uk_kernel *k = uk_kernel_new(&o);
	struct uk_cred c;
	struct uk_task *t;
	static char big[128 * 1024];
	struct statfs sf;
	long fd;

	(void)state;
	uk_cred_init(&c, 0, 0);
	t = uk_task_new(k, 9, &c);
	fd = U(t, SYS_open, "/a", O_CREAT | O_RDWR, 0644);
	/* A short write, then ENOSPC. */
	assert_int_equal(U(t, SYS_write, fd, big, sizeof(big)), 64 * 1024);
	assert_int_equal(U(t, SYS_write, fd, big, 1), -ENOSPC);
	assert_int_equal(U(t, SYS_statfs, "/", &sf), 0);
	assert_int_equal(sf.f_bfree, 0);
	assert_int_equal(sf.f_type, 0x01021994);
	/* Freed space comes back. */
	assert_int_equal(U(t, SYS_ftruncate, fd, 4096), 0);
	assert_int_equal(U(t, SYS_pwrite64, fd, big, 8192, 4096), 8192);
	U(t, SYS_close, fd);
	/* Inode limit: the root and /a use 2 of 4. */
	assert_int_equal(U(t, SYS_mkdir, "/d", 0755), 0);
	fd = U(t, SYS_open, "/b", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_open, "/c", O_CREAT | O_RDWR, 0644),
			 -ENOSPC);
	assert_int_equal(U(t, SYS_symlink, "x", "/c"), -ENOSPC);
	assert_int_equal(U(t, SYS_unlink, "/b"), 0);
	assert_int_equal(U(t, SYS_symlink, "x", "/c"), 0);
	uk_task_exit(t);
	uk_kernel_free(k);
}

/* truncate(2)/ftruncate(2) errnos against a native directory. */
static void test_truncate_errors(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	long ufd, nfd;

	ukt_both_mkdir(x, "/dir", 0755);
	ukt_both_file(x, "/file", 0644, "0123456789");
	CMP(U(t, SYS_truncate, "/dir", 0), N(SYS_truncate, ukt_np(x, "/dir"), 0));
	CMP(U(t, SYS_truncate, "/file", -1),
	    N(SYS_truncate, ukt_np(x, "/file"), -1));
	CMP(U(t, SYS_truncate, "/nope", 1),
	    N(SYS_truncate, ukt_np(x, "/nope"), 1));
	CMP(U(t, SYS_truncate, "/file/x", 1),
	    N(SYS_truncate, ukt_np(x, "/file/x"), 1));
	CMP(U(t, SYS_truncate, "/file", 5), N(SYS_truncate, ukt_np(x, "/file"), 5));
	ufd = U(t, SYS_open, "/file", O_RDONLY);
	nfd = N(SYS_open, ukt_np(x, "/file"), O_RDONLY);
	CMP(U(t, SYS_ftruncate, ufd, 1), N(SYS_ftruncate, nfd, 1));
	U(t, SYS_close, ufd);
	close((int)nfd);
	ufd = U(t, SYS_open, "/dir", O_RDONLY);
	nfd = N(SYS_open, ukt_np(x, "/dir"), O_RDONLY);
	CMP(U(t, SYS_ftruncate, ufd, 1), N(SYS_ftruncate, nfd, 1));
	U(t, SYS_close, ufd);
	close((int)nfd);
	/* pos + count past LLONG_MAX: EINVAL (rw_verify_area). */
	ufd = U(t, SYS_open, "/file", O_WRONLY);
	nfd = N(SYS_open, ukt_np(x, "/file"), O_WRONLY);
	CMP(U(t, SYS_pwrite64, ufd, "x", 1, INT64_MAX),
	    N(SYS_pwrite64, nfd, "x", 1, INT64_MAX));
	U(t, SYS_close, ufd);
	close((int)nfd);
	/* As a user without write permission: EACCES. */
	CMP(U(x->user, SYS_truncate, "/file", 0),
	    NAS(1000, 1000, SYS_truncate, ukt_np(x, "/file"), 0));
}

static void test_timestamps(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat a, b;
	char buf[4];
	long fd;

	ukt_put(t, "/ts", "abc");
	assert_int_equal(U(t, SYS_stat, "/ts", &a), 0);
	usleep(2000);
	fd = U(t, SYS_open, "/ts", O_RDWR);
	assert_int_equal(U(t, SYS_write, fd, "x", 1), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &b), 0);
	assert_true(b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
		    b.st_mtim.tv_nsec > a.st_mtim.tv_nsec);
	assert_true(b.st_ctim.tv_sec > a.st_ctim.tv_sec ||
		    b.st_ctim.tv_nsec > a.st_ctim.tv_nsec);
	/* relatime: a read after the write moves atime... */
	assert_int_equal(U(t, SYS_pread64, fd, buf, 1, 0), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &a), 0);
	assert_true(a.st_atim.tv_sec > b.st_mtim.tv_sec ||
		    (a.st_atim.tv_sec == b.st_mtim.tv_sec &&
		     a.st_atim.tv_nsec >= b.st_mtim.tv_nsec));
	/* ...a second one does not. */
	usleep(2000);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 1, 0), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &b), 0);
	assert_int_equal(b.st_atim.tv_nsec, a.st_atim.tv_nsec);
	U(t, SYS_close, fd);
	/* O_NOATIME: reads leave atime alone even when relatime would not. */
	fd = U(t, SYS_open, "/ts", O_RDWR | O_NOATIME);
	assert_int_equal(U(t, SYS_write, fd, "y", 1), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &a), 0);
	assert_int_equal(U(t, SYS_pread64, fd, buf, 1, 0), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &b), 0);
	assert_int_equal(b.st_atim.tv_nsec, a.st_atim.tv_nsec);
	assert_int_equal(b.st_atim.tv_sec, a.st_atim.tv_sec);
	U(t, SYS_close, fd);
	assert_int_equal(U(x->user, SYS_open, "/ts", O_RDONLY | O_NOATIME),
			 -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write_modes,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_holes_and_seek, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_vectors, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_fork_shares_offset_and_io,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_while_open,
						ukt_setup, ukt_teardown),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test_setup_teardown(test_truncate_errors,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_timestamps, ukt_setup,
						ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
