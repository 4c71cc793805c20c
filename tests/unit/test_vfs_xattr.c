// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_xattr.c - extended attributes through uk_dispatch:
 * the twelve syscalls, user.* and trusted.* as root and as an unprivileged
 * user, every errno (EEXIST, ENODATA, ERANGE, E2BIG, EINVAL, EOPNOTSUPP,
 * EPERM, EACCES, EBADF, ENOENT, EFAULT), each sequence run on uk and on a
 * native temporary directory (we are root; the unprivileged native side is
 * a helper process that drops to uid 1000) and the logs compared.
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
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "uk.h"
#include "uk_err.h"
#include "vfs_extras_test.h"

#define UK_ARRAY_SIZE_T(a) (sizeof(a) / sizeof((a)[0]))

/* Logs a value or list buffer of length r (NULs shown as ','). */
static void log_buf(struct xlog *log, int line, long r, const char *buf)
{
	xlogf(log, "%d: %ld [", line, r);
	for (long i = 0; i < r && i < 300; i++)
		xlogf(log, "%c", buf[i] ? buf[i] : ',');
	xlogf(log, "]\n");
}

#define RBUF(expr, buf)                                                        \
	do {                                                                   \
		long r_ = (expr);                                              \
		log_buf(log, __LINE__, r_, buf);                               \
	} while (0)

static long setx(struct xt *t, int nr, const char *path, const char *name,
		 const char *value, size_t size, int flags)
{
	return XSC(t, nr, UP(path), UP(name), UP(value), size, U(flags));
}

/* The root sequence: namespaces, flags, sizes and the file kinds. */
static void xattr_root(struct xt *t, struct xlog *log)
{
	const char *x = xp(t, "x"), *d = xp(t, "d"), *l = xp(t, "l");
	const char *pf = xp(t, "p");
	char *buf = xb(70000), *big = xb(70000), *name = xb(300);
	long fd, fpath;

	memset(big, 'v', 70000);
	R(XSC(t, SYS_close,
	      U(XSC(t, SYS_openat, U(AT_FDCWD), UP(x), O_CREAT | O_WRONLY,
		    0644))));
	R(XSC(t, SYS_mkdir, UP(d), 0755));
	R(XSC(t, SYS_symlink, UP(xs("x")), UP(l)));
	R(XSC(t, SYS_mknod, UP(pf), U(S_IFIFO | 0644), 0));

	/* Set, get, sizes. */
	R(setx(t, SYS_setxattr, x, xs("user.a"), xs("one"), 3, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.a")), 0, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.a")), UP(buf), 2));
	RBUF(XSC(t, SYS_getxattr, UP(x), UP(xs("user.a")), UP(buf), 3), buf);
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.none")), UP(buf), 3));
	R(setx(t, SYS_setxattr, x, xs("user.a"), xs("1"), 1, XATTR_CREATE));
	R(setx(t, SYS_setxattr, x, xs("user.b"), xs("2"), 1, XATTR_REPLACE));
	R(setx(t, SYS_setxattr, x, xs("user.b"), xs("2"), 1,
	       XATTR_CREATE | XATTR_REPLACE));
	R(setx(t, SYS_setxattr, x, xs("user.a"), xs("2"), 1,
	       XATTR_CREATE | XATTR_REPLACE));
	R(setx(t, SYS_setxattr, x, xs("user.a"), xs("two"), 3, XATTR_REPLACE));
	RBUF(XSC(t, SYS_getxattr, UP(x), UP(xs("user.a")), UP(buf), 100), buf);
	R(setx(t, SYS_setxattr, x, xs("user.a"), xs("2"), 1, 4));
	R(setx(t, SYS_setxattr, x, xs("user.b"), xs("2"), 1, XATTR_CREATE));
	/* An empty value is a value. */
	R(setx(t, SYS_setxattr, x, xs("user.e"), NULL, 0, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.e")), UP(buf), 10));
	/* 64 KiB values; E2BIG past that. */
	R(setx(t, SYS_setxattr, x, xs("user.big"), big, 65536, 0));
	R(setx(t, SYS_setxattr, x, xs("user.big"), big, 65537, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.big")), 0, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.big")), UP(buf), 65535));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("user.big")), UP(buf), 70000));
	R(memcmp(buf, big, 65536));
	R(XSC(t, SYS_removexattr, UP(x), UP(xs("user.big"))));
	/* Names: 255 bytes at most, not empty, a known namespace. */
	memset(name, 'n', 299);
	memcpy(name, "user.", 5);
	name[255] = '\0';
	R(setx(t, SYS_setxattr, x, name, xs("1"), 1, 0));
	RBUF(XSC(t, SYS_getxattr, UP(x), UP(name), UP(buf), 10), buf);
	R(XSC(t, SYS_removexattr, UP(x), UP(name)));
	name[255] = 'n';
	name[256] = '\0';
	R(setx(t, SYS_setxattr, x, name, xs("1"), 1, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(name), UP(buf), 10));
	R(XSC(t, SYS_removexattr, UP(x), UP(name)));
	R(setx(t, SYS_setxattr, x, xs(""), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, x, xs("user."), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, x, xs("trusted."), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, x, xs("foo.bar"), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, x, xs("user"), xs("1"), 1, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("system.x")), 0, 0));
	R(XSC(t, SYS_removexattr, UP(x), UP(xs("foo.bar"))));
	/* trusted.* for root. */
	R(setx(t, SYS_setxattr, x, xs("trusted.t"), xs("tv"), 2, 0));
	RBUF(XSC(t, SYS_getxattr, UP(x), UP(xs("trusted.t")), UP(buf), 10),
	     buf);

	/* Lists: size query, ERANGE, the names. */
	R(XSC(t, SYS_listxattr, UP(x), 0, 0));
	R(XSC(t, SYS_listxattr, UP(x), UP(buf), 5));
	RBUF(XSC(t, SYS_listxattr, UP(x), UP(buf), 1000), buf);
	R(XSC(t, SYS_removexattr, UP(x), UP(xs("user.a"))));
	R(XSC(t, SYS_removexattr, UP(x), UP(xs("user.a"))));
	RBUF(XSC(t, SYS_listxattr, UP(x), UP(buf), 1000), buf);

	/* Symlinks and FIFOs take no user.* attributes. */
	R(setx(t, SYS_lsetxattr, l, xs("user.a"), xs("1"), 1, 0));
	R(XSC(t, SYS_lgetxattr, UP(l), UP(xs("user.a")), UP(buf), 10));
	R(XSC(t, SYS_lremovexattr, UP(l), UP(xs("user.a"))));
	R(setx(t, SYS_lsetxattr, l, xs("trusted.l"), xs("1"), 1, 0));
	RBUF(XSC(t, SYS_llistxattr, UP(l), UP(buf), 1000), buf);
	R(setx(t, SYS_setxattr, l, xs("user.via"), xs("1"), 1, 0));
	RBUF(XSC(t, SYS_listxattr, UP(l), UP(buf), 1000), buf);
	RBUF(XSC(t, SYS_getxattr, UP(l), UP(xs("user.via")), UP(buf), 10), buf);
	R(setx(t, SYS_setxattr, pf, xs("user.a"), xs("1"), 1, 0));
	R(XSC(t, SYS_getxattr, UP(pf), UP(xs("user.a")), UP(buf), 10));
	R(setx(t, SYS_setxattr, pf, xs("trusted.a"), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, d, xs("user.dir"), xs("1"), 1, 0));
	RBUF(XSC(t, SYS_listxattr, UP(d), UP(buf), 1000), buf);

	/* By descriptor. */
	fd = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(x), O_RDONLY));
	fpath = RFD(XSC(t, SYS_openat, U(AT_FDCWD), UP(x), O_PATH));
	R(XSC(t, SYS_fsetxattr, U(fd), UP(xs("user.f")), UP(xs("fv")), 2, 0));
	RBUF(XSC(t, SYS_fgetxattr, U(fd), UP(xs("user.f")), UP(buf), 10), buf);
	RBUF(XSC(t, SYS_flistxattr, U(fd), UP(buf), 1000), buf);
	R(XSC(t, SYS_fremovexattr, U(fd), UP(xs("user.f"))));
	R(XSC(t, SYS_fremovexattr, U(fd), UP(xs("user.f"))));
	R(XSC(t, SYS_fsetxattr, U(fpath), UP(xs("user.f")), UP(xs("1")), 1, 0));
	R(XSC(t, SYS_fgetxattr, U(fpath), UP(xs("user.f")), 0, 0));
	R(XSC(t, SYS_flistxattr, U(fpath), 0, 0));
	R(XSC(t, SYS_fremovexattr, U(fpath), UP(xs("user.f"))));
	R(XSC(t, SYS_fsetxattr, 999, UP(xs("user.f")), UP(xs("1")), 1, 0));
	R(XSC(t, SYS_fgetxattr, 999, UP(xs("user.f")), 0, 0));
	R(XSC(t, SYS_flistxattr, 999, 0, 0));
	R(XSC(t, SYS_fremovexattr, 999, UP(xs("user.f"))));
	/* Name and value are checked before the descriptor and the path. */
	R(XSC(t, SYS_fsetxattr, 999, UP(xs("")), UP(xs("1")), 1, 0));
	R(XSC(t, SYS_fgetxattr, 999, UP(xs("")), 0, 0));
	R(XSC(t, SYS_fsetxattr, 999, UP(xs("user.f")), UP(xs("1")), 1, 8));
	R(XSC(t, SYS_fsetxattr, 999, UP(xs("user.f")), UP(big), 70000, 0));
	R(setx(t, SYS_setxattr, xp(t, "nope"), xs(""), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, xp(t, "nope"), xs("user.a"), xs("1"), 1, 0));
	R(XSC(t, SYS_getxattr, UP(xp(t, "nope")), UP(xs("user.a")), 0, 0));
	R(XSC(t, SYS_listxattr, UP(xp(t, "nope")), 0, 0));
	R(XSC(t, SYS_removexattr, UP(xp(t, "nope")), UP(xs("user.a"))));
	R(XSC(t, SYS_getxattr, UP(xp(t, "x/y")), UP(xs("user.a")), 0, 0));
	/* Bad user pointers. */
	R(XSC(t, SYS_setxattr, UP(x), 16, UP(xs("1")), 1, 0));
	R(XSC(t, SYS_setxattr, UP(x), UP(xs("user.q")), 16, 1, 0));
	R(XSC(t, SYS_getxattr, UP(x), UP(xs("trusted.t")), 16, 10));
	R(XSC(t, SYS_listxattr, UP(x), 16, 100));
	R(XSC(t, SYS_close, U(fd)));
	R(XSC(t, SYS_close, U(fpath)));
}

/* Files the unprivileged sequence works on, made as root. */
static void xattr_prepare_unpriv(struct xt *t, struct xlog *log)
{
	static const struct {
		const char *name;
		mode_t mode;
		uid_t uid;
	} files[] = {
		{"o", 0644, 0},	   /* root's, readable */
		{"w", 0666, 0},	   /* root's, writable by all */
		{"m", 0444, 1000}, /* the user's, read-only */
		{"z", 0000, 0},	   /* nobody's */
	};
	size_t i;

	for (i = 0; i < UK_ARRAY_SIZE_T(files); i++) {
		const char *p = xp(t, files[i].name);

		R(XSC(t, SYS_close,
		      U(XSC(t, SYS_openat, U(AT_FDCWD), UP(p),
			    O_CREAT | O_WRONLY, 0600))));
		R(XSC(t, SYS_chmod, UP(p), files[i].mode));
		R(XSC(t, SYS_chown, UP(p), files[i].uid, files[i].uid));
		R(setx(t, SYS_setxattr, p, xs("user.u"), xs("uv"), 2, 0));
		R(setx(t, SYS_setxattr, p, xs("trusted.t"), xs("tv"), 2, 0));
	}
	R(XSC(t, SYS_mkdir, UP(xp(t, "s")), 0777));
	R(XSC(t, SYS_chmod, UP(xp(t, "s")), 01777));
	R(XSC(t, SYS_mkdir, UP(xp(t, "s/mine")), 0755));
	R(XSC(t, SYS_chown, UP(xp(t, "s/mine")), 1000, 1000));
	R(XSC(t, SYS_chmod, UP(xp(t, "s/mine")), 01777));
}

/* What uid 1000 may do. */
static void xattr_unpriv(struct xt *t, struct xlog *log)
{
	char *buf = xb(1000);

	RBUF(XSC(t, SYS_getxattr, UP(xp(t, "o")), UP(xs("user.u")), UP(buf),
		 10),
	     buf);
	R(setx(t, SYS_setxattr, xp(t, "o"), xs("user.v"), xs("1"), 1, 0));
	R(XSC(t, SYS_removexattr, UP(xp(t, "o")), UP(xs("user.u"))));
	R(XSC(t, SYS_getxattr, UP(xp(t, "o")), UP(xs("trusted.t")), UP(buf),
	      10));
	R(setx(t, SYS_setxattr, xp(t, "o"), xs("trusted.x"), xs("1"), 1, 0));
	R(XSC(t, SYS_removexattr, UP(xp(t, "o")), UP(xs("trusted.t"))));
	RBUF(XSC(t, SYS_listxattr, UP(xp(t, "o")), UP(buf), 1000), buf);
	R(XSC(t, SYS_listxattr, UP(xp(t, "o")), 0, 0));
	R(setx(t, SYS_setxattr, xp(t, "w"), xs("user.v"), xs("1"), 1, 0));
	R(XSC(t, SYS_removexattr, UP(xp(t, "w")), UP(xs("user.u"))));
	RBUF(XSC(t, SYS_listxattr, UP(xp(t, "w")), UP(buf), 1000), buf);
	R(setx(t, SYS_setxattr, xp(t, "m"), xs("user.v"), xs("1"), 1, 0));
	RBUF(XSC(t, SYS_getxattr, UP(xp(t, "m")), UP(xs("user.u")), UP(buf),
		 10),
	     buf);
	R(XSC(t, SYS_getxattr, UP(xp(t, "z")), UP(xs("user.u")), UP(buf), 10));
	R(XSC(t, SYS_listxattr, UP(xp(t, "z")), UP(buf), 1000));
	R(setx(t, SYS_setxattr, xp(t, "z"), xs("foo.x"), xs("1"), 1, 0));
	/* Sticky directories: only the owner writes user.* attributes. */
	R(setx(t, SYS_setxattr, xp(t, "s"), xs("user.v"), xs("1"), 1, 0));
	R(setx(t, SYS_setxattr, xp(t, "s/mine"), xs("user.v"), xs("1"), 1, 0));
	RBUF(XSC(t, SYS_getxattr, UP(xp(t, "s/mine")), UP(xs("user.v")),
		 UP(buf), 10),
	     buf);
}

/*
 * Runs a sequence on uk (a root task, and a task of uid 1000 for the
 * unprivileged part) and natively (this process as root, a helper that
 * dropped to uid 1000), and compares.
 */
static void run_both(bool unpriv)
{
	static struct xlog uk_log, native_log;
	struct uk_kernel *k;
	struct uk_cred cred;
	struct xt root = {0}, user = {0};
	struct xlog *log;
	bool native_tmpfs;

	if (geteuid() != 0) {
		print_message("skipped: the native side needs root (trusted.*, "
			      "chown, setresuid)\n");
		skip();
	}
	memset(&uk_log, 0, sizeof(uk_log));
	memset(&native_log, 0, sizeof(native_log));

	xt_arena_reset();
	k = uk_kernel_new(NULL);
	assert_false(IS_ERR_OR_NULL(k));
	root.task = uk_task_new(k, 100, NULL);
	assert_false(IS_ERR_OR_NULL(root.task));
	if (!unpriv) {
		xattr_root(&root, &uk_log);
	} else {
		uk_cred_init(&cred, 1000, 1000);
		user.task = uk_task_new(k, 200, &cred);
		assert_false(IS_ERR_OR_NULL(user.task));
		xattr_prepare_unpriv(&root, &uk_log);
		xattr_unpriv(&user, &uk_log);
		uk_task_exit(user.task);
	}
	uk_task_exit(root.task);
	uk_kernel_free(k);

	xt_arena_reset();
	memset(&root, 0, sizeof(root));
	memset(&user, 0, sizeof(user));
	/* Compare with Linux's tmpfs (other file systems limit values). */
	native_tmpfs = xt_native_tmpfs(&root, "size=16m,mode=0755") == 0;
	if (!native_tmpfs)
		assert_int_equal(xt_native_dir(&root), 0);
	/* The tree must be reachable by uid 1000. */
	chmod(root.root, 0755);
	if (!unpriv) {
		xattr_root(&root, &native_log);
	} else {
		strcpy(user.root, root.root);
		assert_int_equal(xt_remote_start(&user), 0);
		log = &native_log;
		R(XSC(&user, SYS_setresgid, 1000, 1000, 1000));
		R(XSC(&user, SYS_setresuid, 1000, 1000, 1000));
		native_log.len = 0;
		xattr_prepare_unpriv(&root, &native_log);
		xattr_unpriv(&user, &native_log);
		xt_remote_stop(&user);
	}
	if (native_tmpfs)
		xt_native_tmpfs_done(&root, NULL);
	else
		xt_native_rmdir(&root);
	xlog_compare(&uk_log, &native_log);
}

static void test_xattr_root_matches_native(void **state)
{
	run_both(false);
}

static void test_xattr_unprivileged_matches_native(void **state)
{
	run_both(true);
}

/* The value lives with the inode: hard links see it, unlink keeps it. */
static void test_xattr_follows_inode(void **state)
{
	struct uk_kernel *k = uk_kernel_new(NULL);
	struct xt t = {0};
	char *buf;
	long fd;

	xt_arena_reset();
	buf = xb(100);
	assert_false(IS_ERR_OR_NULL(k));
	t.task = uk_task_new(k, 100, NULL);
	fd = XSC(&t, SYS_openat, U(AT_FDCWD), UP(xs("/a")), O_CREAT | O_RDWR,
		 0644);
	assert_true(fd >= 0);
	assert_int_equal(
		setx(&t, SYS_setxattr, xs("/a"), xs("user.k"), xs("kv"), 2, 0),
		0);
	assert_int_equal(XSC(&t, SYS_link, UP(xs("/a")), UP(xs("/b"))), 0);
	assert_int_equal(XSC(&t, SYS_getxattr, UP(xs("/b")), UP(xs("user.k")),
			     UP(buf), 100),
			 2);
	assert_int_equal(XSC(&t, SYS_unlink, UP(xs("/a"))), 0);
	assert_int_equal(XSC(&t, SYS_unlink, UP(xs("/b"))), 0);
	assert_int_equal(
		XSC(&t, SYS_fgetxattr, U(fd), UP(xs("user.k")), UP(buf), 100),
		2);
	assert_memory_equal(buf, "kv", 2);
	assert_int_equal(XSC(&t, SYS_close, U(fd)), 0);
	uk_task_exit(t.task);
	uk_kernel_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xattr_root_matches_native),
		cmocka_unit_test(test_xattr_unprivileged_matches_native),
		cmocka_unit_test(test_xattr_follows_inode),
	};

	return cmocka_run_group_tests_name("vfs_xattr", tests, NULL, NULL);
}
