// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_falloc.c - fallocate and SEEK_DATA/SEEK_HOLE through
 * uk_dispatch on tmpfs: allocation with and without KEEP_SIZE, hole
 * punching (zeros on read, blocks given back), data/hole offsets, ENOSPC
 * on a full tmpfs, and the errnos of man 2 fallocate; the same sequence is
 * run on a native tmpfs of the same size and the logs compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "uk.h"
#include "uk_err.h"
#include "vfs_extras.h"
#include "vfs_extras_test.h"

#define KEEP 0x01  /* FALLOC_FL_KEEP_SIZE */
#define PUNCH 0x02 /* FALLOC_FL_PUNCH_HOLE */
#define TMPFS_BYTES (1024 * 1024)

/* Logs size and blocks of fd. */
static void log_stat(struct xt *t, struct xlog *log, int line, long fd)
{
	struct stat *st = xb(sizeof(*st));
	long r = XSC(t, SYS_fstat, U(fd), UP(st));

	xlogf(log, "%d: fstat %ld size %lld blocks %lld\n", line, r,
	      (long long)st->st_size, (long long)st->st_blocks);
}

/* Logs what pread returns: its result and a hash of the bytes. */
static void log_read(struct xt *t, struct xlog *log, int line, long fd,
		     long off, size_t n)
{
	char *buf = xb(n);
	long r = XSC(t, SYS_pread64, U(fd), UP(buf), n, U(off));
	size_t zeros = 0;

	for (long i = 0; i < r; i++)
		zeros += buf[i] == 0;
	xlogf(log, "%d: pread %ld zeros %zu hash %lx\n", line, r, zeros,
	      r > 0 ? xt_hash(buf, (size_t)r) : 0ul);
}

#define STAT(fd) log_stat(t, log, __LINE__, fd)
#define READ(fd, off, n) log_read(t, log, __LINE__, fd, off, n)
#define FALLOC(fd, mode, off, len)                                             \
	R(XSC(t, SYS_fallocate, U(fd), U(mode), U(off), U(len)))
#define SEEK(fd, off, whence) R(XSC(t, SYS_lseek, U(fd), U(off), U(whence)))

static void falloc_sequence(struct xt *t, struct xlog *log)
{
	char *data = xb(16384);
	long fd, rd, pfd, dfd;

	memset(data, 'A', 16384);
	fd = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, "f")),
		     O_RDWR | O_CREAT, 0644));
	STAT(fd);
	/* Mode 0 grows the file; KEEP_SIZE only allocates. */
	FALLOC(fd, 0, 0, 8192);
	STAT(fd);
	FALLOC(fd, KEEP, 8192, 8192);
	STAT(fd);
	FALLOC(fd, 0, 100, 10);
	STAT(fd);
	READ(fd, 0, 20000);
	/*
	 * (Linux's tmpfs reports allocated pages that were never written as
	 * holes to SEEK_DATA/SEEK_HOLE; ours reports every allocated page as
	 * data. So offsets are compared only over written pages.)
	 */
	R(XSC(t, SYS_pwrite64, U(fd), UP(data), 12288, 0));
	STAT(fd);

	/* Punch a whole page, then part of one. */
	FALLOC(fd, PUNCH | KEEP, 4096, 4096);
	STAT(fd);
	READ(fd, 0, 20000);
	READ(fd, 4090, 20);
	FALLOC(fd, PUNCH | KEEP, 100, 10);
	STAT(fd);
	READ(fd, 90, 30);
	SEEK(fd, 0, SEEK_DATA);
	SEEK(fd, 0, SEEK_HOLE);
	SEEK(fd, 4096, SEEK_DATA);
	SEEK(fd, 5000, SEEK_DATA);
	SEEK(fd, 5000, SEEK_HOLE);
	SEEK(fd, 8192, SEEK_HOLE);
	SEEK(fd, 12287, SEEK_DATA);
	SEEK(fd, 12288, SEEK_DATA);
	SEEK(fd, 12288, SEEK_HOLE);
	SEEK(fd, 100000, SEEK_HOLE);
	SEEK(fd, -1, SEEK_DATA);
	SEEK(fd, 0, SEEK_CUR);
	/* Punching past EOF and across it keeps the size. */
	FALLOC(fd, PUNCH | KEEP, 8192, 100000);
	STAT(fd);
	READ(fd, 8000, 10000);
	SEEK(fd, 8192, SEEK_DATA);
	SEEK(fd, 4096, SEEK_HOLE);
	/* A file that is all hole. */
	FALLOC(fd, PUNCH | KEEP, 0, 12288);
	STAT(fd);
	SEEK(fd, 0, SEEK_DATA);
	SEEK(fd, 0, SEEK_HOLE);
	SEEK(fd, 12287, SEEK_HOLE);
	READ(fd, 0, 12288);
	/* A hole at the start, data after it. */
	R(XSC(t, SYS_pwrite64, U(fd), UP(data), 10, 9000));
	SEEK(fd, 0, SEEK_DATA);
	SEEK(fd, 8192, SEEK_HOLE);
	SEEK(fd, 0, SEEK_HOLE);
	R(XSC(t, SYS_ftruncate, U(fd), 0));
	STAT(fd);

	/* Errors, in the order Linux checks them. */
	FALLOC(fd, 0, -1, 10);
	FALLOC(fd, 0, 0, 0);
	FALLOC(fd, 0, 0, -5);
	FALLOC(fd, 0x100, -1, 0);
	FALLOC(fd, PUNCH, 0, 10);
	FALLOC(fd, 0x10, 0, 10);   /* ZERO_RANGE */
	FALLOC(fd, 0x08, 0, 4096); /* COLLAPSE_RANGE */
	FALLOC(fd, 0x08 | KEEP, 0, 10);
	FALLOC(fd, 0x20, 0, 4096); /* INSERT_RANGE */
	FALLOC(fd, 0x40, 0, 10);   /* UNSHARE_RANGE */
	FALLOC(fd, 0x100, 0, 10);
	FALLOC(fd, 0x04, 0, 10); /* NO_HIDE_STALE alone */
	FALLOC(fd, 0, INT64_MAX, 1);
	FALLOC(fd, 0, INT64_MAX - 4095, 4096);
	FALLOC(fd, KEEP, INT64_MAX - 4095, 4096);
	FALLOC(999, 0, 0, 10);
	rd = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, "f")), O_RDONLY));
	FALLOC(rd, 0, 0, 10);
	FALLOC(rd, 0x10, 0, 10);
	FALLOC(rd, 0x100, 0, 10);
	pfd = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, "f")), O_PATH));
	FALLOC(pfd, 0, 0, 10);
	dfd = RFD(XSC(t, SYS_openat, U(AT_FDCWD),
		      UP(t->root[0] ? t->root : "/"), O_RDONLY));
	FALLOC(dfd, 0, 0, 10);
	SEEK(dfd, 0, SEEK_DATA);
	STAT(fd);

	/* ENOSPC on a full tmpfs leaves the size alone. */
	FALLOC(fd, 0, 0, 4 * TMPFS_BYTES);
	FALLOC(fd, KEEP, 0, 4 * TMPFS_BYTES);
	STAT(fd);
	FALLOC(fd, 0, 0, TMPFS_BYTES / 2);
	STAT(fd);

	R(XSC(t, SYS_close, U(fd)));
	R(XSC(t, SYS_close, U(rd)));
	R(XSC(t, SYS_close, U(pfd)));
	R(XSC(t, SYS_close, U(dfd)));
}

/* An O_APPEND descriptor may allocate and punch (not an append-only inode). */
static void falloc_append(struct xt *t, struct xlog *log)
{
	long fd = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, "ap")),
			  O_WRONLY | O_CREAT | O_APPEND, 0644));

	FALLOC(fd, 0, 0, 100);
	FALLOC(fd, PUNCH | KEEP, 0, 10);
	STAT(fd);
	R(XSC(t, SYS_close, U(fd)));
}

static void test_falloc_matches_native(void **state)
{
	static struct xlog uk_log, native_log;
	struct uk_kernel_opts opts = {.tmpfs_size = TMPFS_BYTES};
	struct uk_kernel *k;
	struct xt t = {0};
	char opt[64];

	memset(&uk_log, 0, sizeof(uk_log));
	memset(&native_log, 0, sizeof(native_log));
	xt_arena_reset();
	k = uk_kernel_new(&opts);
	assert_false(IS_ERR_OR_NULL(k));
	t.task = uk_task_new(k, 100, NULL);
	assert_false(IS_ERR_OR_NULL(t.task));
	falloc_sequence(&t, &uk_log);
	falloc_append(&t, &uk_log);
	uk_task_exit(t.task);
	uk_kernel_free(k);

	xt_arena_reset();
	memset(&t, 0, sizeof(t));
	snprintf(opt, sizeof(opt), "size=%d", TMPFS_BYTES);
	if (xt_native_tmpfs(&t, opt)) {
		print_message("no native tmpfs (not allowed to mount): "
			      "uk side only\n");
		return;
	}
	falloc_sequence(&t, &native_log);
	falloc_append(&t, &native_log);
	xt_native_tmpfs_done(&t, NULL);
	xlog_compare(&uk_log, &native_log);
}

/* fallocate changes mtime and ctime, as a write does. */
static void test_falloc_times(void **state)
{
	struct uk_kernel *k = uk_kernel_new(NULL);
	struct xt t = {0};
	struct stat a, b;
	long fd;

	assert_false(IS_ERR_OR_NULL(k));
	t.task = uk_task_new(k, 100, NULL);
	fd = XSC(&t, SYS_openat, U(AT_FDCWD), UP("/f"), O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(XSC(&t, SYS_fstat, U(fd), UP(&a)), 0);
	usleep(10000);
	assert_int_equal(XSC(&t, SYS_fallocate, U(fd), KEEP, 0, 4096), 0);
	assert_int_equal(XSC(&t, SYS_fstat, U(fd), UP(&b)), 0);
	assert_int_equal(b.st_size, 0);
	assert_int_equal(b.st_blocks, 8);
	assert_true(b.st_mtim.tv_sec > a.st_mtim.tv_sec ||
		    b.st_mtim.tv_nsec > a.st_mtim.tv_nsec);
	assert_true(b.st_ctim.tv_sec > a.st_ctim.tv_sec ||
		    b.st_ctim.tv_nsec > a.st_ctim.tv_nsec);
	assert_int_equal(XSC(&t, SYS_close, U(fd)), 0);
	uk_task_exit(t.task);
	uk_kernel_free(k);
}

/*
 * The file-type errnos of man 2 fallocate that no syscall here can reach
 * (our FIFOs cannot be opened, a directory or a device cannot be opened
 * for writing): vfs_fallocate on hand-made files.
 */
static void test_falloc_file_types(void **state)
{
	struct vfs_super sb = {.s_maxbytes = INT64_MAX};
	struct vfs_inode inode = {.i_sb = &sb, .i_mode = S_IFIFO | 0644};
	struct vfs_file f = {.f_inode = &inode, .f_mode = FMODE_WRITE};

	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 1), -ESPIPE);
	inode.i_mode = S_IFDIR | 0755;
	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 1), -EISDIR);
	inode.i_mode = S_IFCHR | 0644;
	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 1), -ENODEV);
	inode.i_mode = S_IFSOCK | 0644;
	assert_int_equal(vfs_fallocate(NULL, &f, KEEP, 0, 1), -ENODEV);
	/* A regular file of a file system without the op. */
	inode.i_mode = S_IFREG | 0644;
	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 1), -EOPNOTSUPP);
	sb.s_maxbytes = 1 << 20;
	assert_int_equal(vfs_fallocate(NULL, &f, 0, (1 << 20) - 1, 2), -EFBIG);
	/* Mode and range come first, then the access mode. */
	f.f_mode = FMODE_READ;
	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 1), -EBADF);
	assert_int_equal(vfs_fallocate(NULL, &f, 0x100, 0, 1), -EOPNOTSUPP);
	assert_int_equal(vfs_fallocate(NULL, &f, 0, 0, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_falloc_matches_native),
		cmocka_unit_test(test_falloc_times),
		cmocka_unit_test(test_falloc_file_types),
	};

	return cmocka_run_group_tests_name("vfs_falloc", tests, NULL, NULL);
}
