/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/vfs_test.h - helpers shared by the VFS's unit tests: a kernel
 * with a root task (and an unprivileged one), syscalls through uk_dispatch
 * with typed arguments cast to argument words, and the same call run
 * natively in a temporary directory to compare results and errnos.
 */
#ifndef UK_TEST_VFS_H
#define UK_TEST_VFS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "uk.h"

/* dispatch.h's: (re)installs the fault handler behind -EFAULT. */
int uk_uaccess_init(void);

/* Argument words: every argument cast to unsigned long, as pt_regs. */
#define UKT_W(a) ((unsigned long)(a))
#define UKT_A1(a) UKT_W(a)
#define UKT_A2(a, ...) UKT_W(a), UKT_A1(__VA_ARGS__)
#define UKT_A3(a, ...) UKT_W(a), UKT_A2(__VA_ARGS__)
#define UKT_A4(a, ...) UKT_W(a), UKT_A3(__VA_ARGS__)
#define UKT_A5(a, ...) UKT_W(a), UKT_A4(__VA_ARGS__)
#define UKT_A6(a, ...) UKT_W(a), UKT_A5(__VA_ARGS__)
#define UKT_N(...) UKT_N_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define UKT_N_(a, b, c, d, e, f, n, ...) n
#define UKT_CAT(a, b) UKT_CAT_(a, b)
#define UKT_CAT_(a, b) a##b

/* U(task, SYS_open, path, flags, mode): a call through uk_dispatch. */
#define U(t, nr, ...)                                                          \
	uk_dispatch((t), (nr),                                                 \
		    (const unsigned long[6]){                                  \
			    UKT_CAT(UKT_A, UKT_N(__VA_ARGS__))(__VA_ARGS__) })
#define U0(t, nr) uk_dispatch((t), (nr), (const unsigned long[6]){ 0 })

/* N(SYS_open, ...): the same call natively, as -errno or the result. */
static inline long ukt_native(long nr, unsigned long a, unsigned long b,
			      unsigned long c, unsigned long d,
			      unsigned long e, unsigned long f)
{
	long r = syscall(nr, a, b, c, d, e, f);

	return r < 0 ? -errno : r;
}
#define UKT_PAD(...) UKT_CAT(UKT_A, UKT_N(__VA_ARGS__))(__VA_ARGS__)
#define N(nr, ...) ukt_native_v((nr), UKT_N(__VA_ARGS__), UKT_PAD(__VA_ARGS__))

static inline long ukt_native_v(long nr, int n, ...)
{
	unsigned long w[6] = { 0 };
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n && i < 6; i++)
		w[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return ukt_native(nr, w[0], w[1], w[2], w[3], w[4], w[5]);
}

struct ukt {
	struct uk_kernel *k;
	struct uk_task *root;   /* uid 0 */
	struct uk_task *user;   /* uid 1000, gid 1000 (same cwd: /) */
	char native[64];        /* a native temporary directory */
};

static inline int ukt_setup_opts(void **state, const struct uk_kernel_opts *o)
{
	struct ukt *x = calloc(1, sizeof(*x));
	struct uk_cred c;

	if (!x)
		return -1;
	x->k = uk_kernel_new(o);
	if (!x->k)
		return -1;
	uk_cred_init(&c, 0, 0);
	x->root = uk_task_new(x->k, 100, &c);
	uk_cred_init(&c, 1000, 1000);
	x->user = uk_task_new(x->k, 101, &c);
	strcpy(x->native, "/tmp/ukvfs-XXXXXX");
	if (!x->root || !x->user || !mkdtemp(x->native) ||
	    chmod(x->native, 0755))
		return -1;
	*state = x;
	return 0;
}

static inline int ukt_setup(void **state)
{
	return ukt_setup_opts(state, NULL);
}

static inline int ukt_teardown(void **state)
{
	struct ukt *x = *state;
	char cmd[128];

	uk_task_exit(x->user);
	uk_task_exit(x->root);
	uk_kernel_free(x->k);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->native);
	if (system(cmd) != 0)
		return -1;
	free(x);
	return 0;
}

/* A native path under the temporary directory (static buffer, rotating). */
static inline const char *ukt_np(struct ukt *x, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *b = bufs[i++ & 3];

	snprintf(b, PATH_MAX, "%s/%s", x->native, rel);
	return b;
}

/* Writes a file in the uk tree with content s (root task). */
static inline void ukt_put(struct uk_task *t, const char *path, const char *s)
{
	long fd = U(t, SYS_open, path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_write, fd, s, strlen(s)), (long)strlen(s));
	assert_int_equal(U(t, SYS_close, fd), 0);
}

/*
 * Compares a uk result with the native one: both errors must be the same
 * errno; two successes are equal enough (descriptors may differ), and
 * descriptors returned are closed on both sides when closefd.
 */
#define CMP(u, n) ukt_cmp(__FILE__, __LINE__, (u), (n))
static inline void ukt_cmp(const char *file, int line, long u, long n)
{
	if ((u < 0 || n < 0) && u != n) {
		print_error("%s:%d: uk %ld (%s) vs native %ld (%s)\n", file,
			    line, u, u < 0 ? strerror((int)-u) : "ok", n,
			    n < 0 ? strerror((int)-n) : "ok");
		fail();
	}
}

/*
 * The same call natively in a child with uid/gid (no groups): the result
 * as -errno, or 0/1 for success (the value is not passed back).
 */
static inline long ukt_native_as(uid_t uid, gid_t gid, long nr, unsigned long a,
				 unsigned long b, unsigned long c,
				 unsigned long d)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		long r;

		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			_exit(255);
		r = syscall(nr, a, b, c, d, 0, 0);
		_exit(r < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -9999;
	return WEXITSTATUS(st) == 0 ? 0 : -WEXITSTATUS(st);
}
#define NAS(uid, gid, nr, ...)                                                 \
	ukt_native_as_v((uid), (gid), (nr), UKT_N(__VA_ARGS__),                \
			UKT_PAD(__VA_ARGS__))
static inline long ukt_native_as_v(uid_t uid, gid_t gid, long nr, int n, ...)
{
	unsigned long w[4] = { 0 };
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n && i < 4; i++)
		w[i] = va_arg(ap, unsigned long);
	va_end(ap);
	return ukt_native_as(uid, gid, nr, w[0], w[1], w[2], w[3]);
}

/* Makes the same directory / file on both sides (as root). */
static inline void ukt_both_mkdir(struct ukt *x, const char *p, mode_t m)
{
	assert_int_equal(U(x->root, SYS_mkdir, p, m), 0);
	assert_int_equal(N(SYS_mkdir, ukt_np(x, p), m), 0);
	assert_int_equal(U(x->root, SYS_chmod, p, m), 0);
	assert_int_equal(N(SYS_chmod, ukt_np(x, p), m), 0);
}

static inline void ukt_both_file(struct ukt *x, const char *p, mode_t m,
				 const char *data)
{
	long fd = N(SYS_open, ukt_np(x, p), O_CREAT | O_WRONLY | O_TRUNC, m);

	assert_true(fd >= 0);
	assert_int_equal(write((int)fd, data, strlen(data)),
			 (long)strlen(data));
	close((int)fd);
	ukt_put(x->root, p, data);
	assert_int_equal(U(x->root, SYS_chmod, p, m), 0);
	assert_int_equal(N(SYS_chmod, ukt_np(x, p), m), 0);
}

static inline void ukt_both_chown(struct ukt *x, const char *p, uid_t u,
				  gid_t g)
{
	assert_int_equal(U(x->root, SYS_chown, p, u, g), 0);
	assert_int_equal(N(SYS_chown, ukt_np(x, p), u, g), 0);
}

#endif /* UK_TEST_VFS_H */
