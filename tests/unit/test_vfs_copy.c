// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_copy.c - copy_file_range and sendfile through
 * uk_dispatch: the data copied, the offsets (through the pointers or the
 * file positions), clamping at end of file, and the errnos (EINVAL for
 * flags and overlapping ranges, EXDEV across tmpfs instances, EBADF,
 * EISDIR, EFAULT, ...), run on uk and on a native tmpfs and compared.
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

#include "dispatch.h"
#include "uk.h"
#include "uk_err.h"
#include "vfs.h"
#include "vfs_extras_test.h"

#define SRC_SIZE 300000

/* Logs a file's size and the hash of its whole content. */
static void log_file(struct xt *t, struct xlog *log, int line, const char *rel)
{
	char *buf = xb(SRC_SIZE * 2);
	long fd = XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, rel)), O_RDONLY);
	long r = XSC(t, SYS_pread64, U(fd), UP(buf), SRC_SIZE * 2, 0);

	xlogf(log, "%d: %s size %ld hash %lx\n", line, rel, r,
	      r > 0 ? xt_hash(buf, (size_t)r) : 0ul);
	XSC(t, SYS_close, U(fd));
}

#define FILE_LOG(rel) log_file(t, log, __LINE__, rel)
#define POS(fd) R(XSC(t, SYS_lseek, U(fd), 0, SEEK_CUR))
#define CFR(in, offin, out, offout, len, flags)                                \
	R(XSC(t, SYS_copy_file_range, U(in), UP(offin), U(out), UP(offout),    \
	      U(len), U(flags)))
#define SENDFILE(out, in, off, count)                                          \
	R(XSC(t, SYS_sendfile, U(out), U(in), UP(off), U(count)))

static long openr(struct xt *t, const char *rel, int flags)
{
	return XSC(t, SYS_openat, U(AT_FDCWD), UP(xp(t, rel)), U(flags), 0644);
}

static void copy_sequence(struct xt *t, struct xlog *log)
{
	char *data = xb(SRC_SIZE);
	int64_t *oin = xb(sizeof(*oin)), *oout = xb(sizeof(*oout));
	long src, dst, same, rd, wr, app, dir, pth, other;

	for (size_t i = 0; i < SRC_SIZE; i++)
		data[i] = (char)(i * 7 + i / 251);
	src = RFD(openr(t, "src", O_RDWR | O_CREAT));
	R(XSC(t, SYS_write, U(src), UP(data), SRC_SIZE));
	R(XSC(t, SYS_lseek, U(src), 0, SEEK_SET));
	dst = RFD(openr(t, "dst", O_RDWR | O_CREAT));

	/* With file positions. */
	CFR(src, NULL, dst, NULL, 100000, 0);
	POS(src);
	POS(dst);
	FILE_LOG("dst");
	/* With offset pointers: the positions stay. */
	*oin = 1000;
	*oout = 200000;
	CFR(src, oin, dst, oout, 50000, 0);
	R(*oin);
	R(*oout);
	POS(src);
	POS(dst);
	FILE_LOG("dst");
	/* One pointer only. */
	*oin = 250000;
	CFR(src, oin, dst, NULL, 1 << 30, 0);
	R(*oin);
	POS(dst);
	*oout = 5;
	CFR(src, NULL, dst, oout, 10, 0);
	R(*oout);
	POS(src);
	FILE_LOG("dst");
	/* At and past the end of the input: 0, nothing moves. */
	*oin = SRC_SIZE;
	CFR(src, oin, dst, NULL, 10, 0);
	*oin = SRC_SIZE + 100;
	CFR(src, oin, dst, NULL, 10, 0);
	R(*oin);
	CFR(src, NULL, dst, NULL, 0, 0);
	/* Within one file: fine apart, EINVAL when the ranges overlap. */
	same = RFD(openr(t, "src", O_RDWR));
	*oin = 0;
	*oout = 400000;
	CFR(src, oin, same, oout, 1000, 0);
	*oin = 0;
	*oout = 500;
	CFR(src, oin, same, oout, 1000, 0);
	*oin = 500;
	*oout = 0;
	CFR(src, oin, src, oout, 1000, 0);
	*oin = 0;
	*oout = 1000;
	CFR(src, oin, src, oout, 1000, 0);
	R(*oout);
	/* Overlap is judged after clamping at EOF. */
	*oin = 400900;
	*oout = 400950;
	CFR(src, oin, src, oout, 1000, 0);
	FILE_LOG("src");

	/* Errors. */
	CFR(src, NULL, dst, NULL, 10, 1);
	CFR(999, NULL, dst, NULL, 10, 0);
	CFR(src, NULL, 999, NULL, 10, 0);
	CFR(999, NULL, dst, NULL, 10, 1);
	rd = RFD(openr(t, "dst", O_RDONLY));
	wr = RFD(openr(t, "src", O_WRONLY));
	app = RFD(openr(t, "dst", O_WRONLY | O_APPEND));
	dir = RFD(XSC(t, SYS_openat, U(AT_FDCWD),
		      UP(t->root[0] ? t->root : "/"), O_RDONLY));
	pth = RFD(openr(t, "src", O_PATH));
	CFR(wr, NULL, dst, NULL, 10, 0);
	CFR(src, NULL, rd, NULL, 10, 0);
	CFR(src, NULL, app, NULL, 10, 0);
	CFR(dir, NULL, dst, NULL, 10, 0);
	CFR(src, NULL, dir, NULL, 10, 0);
	CFR(pth, NULL, dst, NULL, 10, 0);
	CFR(src, 16, dst, NULL, 10, 0);
	CFR(src, NULL, dst, 16, 10, 0);
	*oin = -1;
	CFR(src, oin, dst, NULL, 10, 0);
	*oin = 0;
	*oout = -1;
	CFR(src, oin, dst, oout, 10, 0);
	*oin = 0;
	*oout = INT64_MAX - 5;
	CFR(src, oin, dst, oout, 10, 0);
	*oin = INT64_MAX - 5;
	CFR(src, oin, dst, NULL, 10, 0);
	/* Lengths that wrap the offsets. */
	*oin = 0;
	*oout = 0;
	CFR(src, oin, dst, oout, (size_t)-1, 0);
	*oout = 10;
	CFR(src, oin, dst, oout, (size_t)-1, 0);
	CFR(src, oin, dst, oout, (size_t)INT64_MAX, 0);
	/* Across file system instances. */
	other = RFD(openr(t, "m2/o", O_RDWR | O_CREAT));
	CFR(src, NULL, other, NULL, 10, 0);
	CFR(other, NULL, dst, NULL, 10, 0);

	/* sendfile: the input's position, or the offset pointer. */
	R(XSC(t, SYS_lseek, U(src), 0, SEEK_SET));
	R(XSC(t, SYS_ftruncate, U(dst), 0));
	R(XSC(t, SYS_lseek, U(dst), 0, SEEK_SET));
	SENDFILE(dst, src, NULL, 70000);
	POS(src);
	POS(dst);
	*oin = 123;
	SENDFILE(dst, src, oin, 1000);
	R(*oin);
	POS(src);
	POS(dst);
	*oin = SRC_SIZE - 10;
	SENDFILE(dst, src, oin, 1000);
	R(*oin);
	SENDFILE(dst, src, oin, 1000);
	SENDFILE(dst, src, NULL, 0);
	FILE_LOG("dst");
	/* Across instances it is allowed. */
	*oin = 0;
	SENDFILE(other, src, oin, 5000);
	FILE_LOG("m2/o");
	/* Errors. */
	SENDFILE(999, src, NULL, 10);
	SENDFILE(dst, 999, NULL, 10);
	SENDFILE(dst, wr, NULL, 10);
	SENDFILE(rd, src, NULL, 10);
	SENDFILE(app, src, NULL, 10);
	SENDFILE(dst, dir, NULL, 10);
	SENDFILE(dst, pth, NULL, 10);
	SENDFILE(dst, src, 16, 10);
	SENDFILE(dst, src, NULL, (size_t)-1);
	*oin = 10;
	SENDFILE(dst, src, oin, (size_t)INT64_MAX);
	R(*oin);
	*oin = -1;
	SENDFILE(dst, src, oin, 10);
	R(*oin);
	*oin = INT64_MAX - 5;
	SENDFILE(dst, src, oin, 10);
	R(*oin);
	POS(dst);

	R(XSC(t, SYS_close, U(src)));
	R(XSC(t, SYS_close, U(dst)));
	R(XSC(t, SYS_close, U(same)));
	R(XSC(t, SYS_close, U(rd)));
	R(XSC(t, SYS_close, U(wr)));
	R(XSC(t, SYS_close, U(app)));
	R(XSC(t, SYS_close, U(dir)));
	R(XSC(t, SYS_close, U(pth)));
	R(XSC(t, SYS_close, U(other)));
}

static void test_copy_matches_native(void **state)
{
	static struct xlog uk_log, native_log;
	struct uk_kernel *k;
	struct xt t = {0};
	char m2[600];

	memset(&uk_log, 0, sizeof(uk_log));
	memset(&native_log, 0, sizeof(native_log));
	xt_arena_reset();
	k = uk_kernel_new(NULL);
	assert_false(IS_ERR_OR_NULL(k));
	t.task = uk_task_new(k, 100, NULL);
	assert_false(IS_ERR_OR_NULL(t.task));
	assert_int_equal(XSC(&t, SYS_mkdir, UP(xs("/m2")), 0755), 0);
	assert_int_equal(vfs_mount(t.task, "/m2", "tmpfs", ""), 0);
	copy_sequence(&t, &uk_log);
	uk_task_exit(t.task);
	uk_kernel_free(k);

	xt_arena_reset();
	memset(&t, 0, sizeof(t));
	if (xt_native_tmpfs(&t, "size=64m")) {
		print_message("no native tmpfs (not allowed to mount): "
			      "uk side only\n");
		return;
	}
	snprintf(m2, sizeof(m2), "%s/m2", t.root);
	assert_int_equal(mkdir(m2, 0755), 0);
	assert_int_equal(mount("ukx2", m2, "tmpfs", 0, "size=64m"), 0);
	copy_sequence(&t, &native_log);
	xt_native_tmpfs_done(&t, "m2");
	xlog_compare(&uk_log, &native_log);
}

/* Both calls count one read and one write in /proc/PID/io terms. */
static void test_copy_io_accounting(void **state)
{
	struct uk_kernel *k = uk_kernel_new(NULL);
	struct uk_task_io a, b;
	struct xt t = {0};
	char data[1000] = {1};
	long in, out;

	assert_false(IS_ERR_OR_NULL(k));
	t.task = uk_task_new(k, 100, NULL);
	in = XSC(&t, SYS_openat, U(AT_FDCWD), UP("/i"), O_RDWR | O_CREAT, 0644);
	out = XSC(&t, SYS_openat, U(AT_FDCWD), UP("/o"), O_RDWR | O_CREAT,
		  0644);
	assert_int_equal(XSC(&t, SYS_pwrite64, U(in), UP(data), 1000, 0), 1000);
	uk_task_get_io(t.task, &a);
	assert_int_equal(
		XSC(&t, SYS_copy_file_range, U(in), 0, U(out), 0, 600, 0), 600);
	uk_task_get_io(t.task, &b);
	assert_int_equal(b.rchar - a.rchar, 600);
	assert_int_equal(b.wchar - a.wchar, 600);
	assert_int_equal(b.syscr - a.syscr, 1);
	assert_int_equal(b.syscw - a.syscw, 1);
	/* Nothing to copy: not counted, as Linux returns before. */
	assert_int_equal(
		XSC(&t, SYS_copy_file_range, U(in), 0, U(out), 0, 0, 0), 0);
	uk_task_get_io(t.task, &a);
	assert_int_equal(a.syscr, b.syscr);
	assert_int_equal(XSC(&t, SYS_sendfile, U(out), U(in), 0, 1000), 400);
	uk_task_get_io(t.task, &b);
	assert_int_equal(b.rchar - a.rchar, 400);
	assert_int_equal(b.wchar - a.wchar, 400);
	assert_int_equal(b.syscr - a.syscr, 1);
	assert_int_equal(b.syscw - a.syscw, 1);
	uk_task_exit(t.task);
	uk_kernel_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_matches_native),
		cmocka_unit_test(test_copy_io_accounting),
	};

	return cmocka_run_group_tests_name("vfs_copy", tests, NULL, NULL);
}
