// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_perm.c - permission checks as root and as uid 1000,
 * each compared with the same call made natively by a child process with
 * the same ids: mode bits and search permission, root's DAC override (exec
 * only with some x bit), the sticky bit, chmod/chown rules (EPERM, setgid
 * dropped for a non-member), suid/sgid cleared by writes and chown,
 * utimensat's EPERM vs EACCES, access with real vs effective ids.
 */
#include <sys/stat.h>

#include "vfs_test.h"

#define UID 1000
#define GID 1000

/* A tree made the same on both sides. */
static void layout(struct ukt *x)
{
	ukt_both_mkdir(x, "/pub", 0755);
	ukt_both_mkdir(x, "/priv", 0700);
	ukt_both_mkdir(x, "/noexec", 0644);
	ukt_both_mkdir(x, "/grp", 0770);
	ukt_both_chown(x, "/grp", 0, GID);
	ukt_both_mkdir(x, "/sticky", 01777);
	ukt_both_mkdir(x, "/mine", 0755);
	ukt_both_chown(x, "/mine", UID, GID);
	ukt_both_file(x, "/pub/r", 0644, "r");
	ukt_both_file(x, "/pub/w", 0666, "w");
	ukt_both_file(x, "/pub/none", 0000, "n");
	ukt_both_file(x, "/pub/x", 0711, "x");
	ukt_both_file(x, "/priv/f", 0644, "f");
	ukt_both_file(x, "/noexec/f", 0644, "f");
	ukt_both_file(x, "/grp/f", 0660, "g");
	ukt_both_chown(x, "/grp/f", 0, GID);
	ukt_both_file(x, "/sticky/root", 0666, "s");
	ukt_both_file(x, "/sticky/user", 0666, "s");
	ukt_both_chown(x, "/sticky/user", UID, GID);
	ukt_both_file(x, "/mine/f", 0644, "m");
	ukt_both_chown(x, "/mine/f", UID, GID);
}

/* The same path call as uid 1000 on both sides. */
#define AS_USER(nr, path, ...)                                                 \
	CMP(U(x->user, nr, path, __VA_ARGS__),                                 \
	    NAS(UID, GID, nr, ukt_np(x, path), __VA_ARGS__))

static void test_open_and_search(void **state)
{
	struct ukt *x = *state;
	static const char *const paths[] = {
		"/pub/r", "/pub/w", "/pub/none", "/pub/x", "/priv/f",
		"/noexec/f", "/grp/f", "/sticky/root", "/mine/f", "/pub",
	};
	static const int modes[] = { O_RDONLY, O_WRONLY, O_RDWR,
				     O_WRONLY | O_TRUNC, O_RDONLY | O_TRUNC };

	layout(x);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		for (size_t j = 0; j < sizeof(modes) / sizeof(modes[0]); j++) {
			long u = U(x->user, SYS_open, paths[i], modes[j]);

			CMP(u, NAS(UID, GID, SYS_open, ukt_np(x, paths[i]),
				   modes[j]));
			if (u >= 0)
				U(x->user, SYS_close, u);
		}
	/* Creating needs write and search on the directory. */
	AS_USER(SYS_open, "/pub/new", O_CREAT | O_WRONLY, 0644);
	AS_USER(SYS_mkdir, "/priv/new", 0755);
	AS_USER(SYS_mkdir, "/mine/new", 0755);
	AS_USER(SYS_mkdir, "/grp/new", 0755);
	CMP(U(x->user, SYS_symlink, "t", "/pub/sl"),
	    NAS(UID, GID, SYS_symlink, "t", ukt_np(x, "/pub/sl")));
	/* Root: reads and writes anything, executes only with an x bit. */
	struct uk_task *r = x->root;
	long fd = U(r, SYS_open, "/pub/none", O_RDWR);
	assert_true(fd >= 0);
	U(r, SYS_close, fd);
	CMP(U(r, SYS_access, "/pub/none", X_OK),
	    N(SYS_access, ukt_np(x, "/pub/none"), X_OK));
	CMP(U(r, SYS_access, "/pub/x", X_OK),
	    N(SYS_access, ukt_np(x, "/pub/x"), X_OK));
	CMP(U(r, SYS_access, "/noexec/f", R_OK),
	    N(SYS_access, ukt_np(x, "/noexec/f"), R_OK));
}

static void test_access_faccessat(void **state)
{
	struct ukt *x = *state;
	static const char *const paths[] = { "/pub/r", "/pub/w", "/pub/x",
					     "/priv/f", "/grp/f", "/pub",
					     "/nope" };

	layout(x);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		for (int m = 0; m <= 7; m++)
			AS_USER(SYS_access, paths[i], m);
	AS_USER(SYS_access, "/pub/r", 8);
	AS_USER(SYS_faccessat2, "/pub/r", R_OK, 0x10000);
	/* Real vs effective ids: euid 0 with real uid 1000. */
	struct uk_cred c;
	uk_cred_init(&c, UID, GID);
	c.euid = c.fsuid = 0;
	struct uk_task *t = uk_task_new(x->k, 300, &c);
	assert_int_equal(U(t, SYS_access, "/priv/f", R_OK), -EACCES);
	assert_int_equal(U(t, SYS_faccessat2, AT_FDCWD, "/priv/f", R_OK,
			   AT_EACCESS),
			 0);
	uk_task_exit(t);
}

static void test_sticky(void **state)
{
	struct ukt *x = *state;

	layout(x);
	AS_USER(SYS_unlink, "/sticky/root", 0);
	CMP(U(x->user, SYS_rename, "/sticky/root", "/sticky/x"),
	    NAS(UID, GID, SYS_rename, ukt_np(x, "/sticky/root"),
		ukt_np(x, "/sticky/x")));
	assert_int_equal(U(x->user, SYS_rename, "/sticky/root", "/sticky/x"),
			 -EPERM);
	CMP(U(x->user, SYS_rename, "/sticky/user", "/sticky/y"),
	    NAS(UID, GID, SYS_rename, ukt_np(x, "/sticky/user"),
		ukt_np(x, "/sticky/y")));
	AS_USER(SYS_unlink, "/sticky/y", 0);
	AS_USER(SYS_unlink, "/pub/r", 0);
	AS_USER(SYS_rmdir, "/priv", 0);
}

static void test_chmod_chown(void **state)
{
	struct ukt *x = *state;
	struct stat us, ns;

	layout(x);
	AS_USER(SYS_chmod, "/pub/r", 0777);
	AS_USER(SYS_chmod, "/mine/f", 0600);
	AS_USER(SYS_chown, "/mine/f", 0, -1);
	AS_USER(SYS_chown, "/mine/f", UID, -1);
	AS_USER(SYS_chown, "/mine/f", -1, 0);
	AS_USER(SYS_chown, "/mine/f", -1, GID);
	AS_USER(SYS_chown, "/pub/r", -1, -1);
	AS_USER(SYS_lchown, "/pub/w", UID, GID);
	/* A non-member's chmod g+s is silently dropped. */
	ukt_both_chown(x, "/mine/f", UID, 2000);
	AS_USER(SYS_chmod, "/mine/f", 02755);
	assert_int_equal(U(x->root, SYS_stat, "/mine/f", &us), 0);
	assert_int_equal(stat(ukt_np(x, "/mine/f"), &ns), 0);
	assert_int_equal(us.st_mode, ns.st_mode);
	assert_int_equal(us.st_mode & 07777, 0755);
	/* chown (even root's) drops suid, and sgid if group-executable. */
	assert_int_equal(U(x->root, SYS_chmod, "/mine/f", 06755), 0);
	assert_int_equal(U(x->root, SYS_chown, "/mine/f", UID, GID), 0);
	assert_int_equal(U(x->root, SYS_stat, "/mine/f", &us), 0);
	assert_int_equal(us.st_mode & 07777, 0755);
	assert_true(us.st_ctim.tv_sec > 0);
}

static void test_suid_cleared_by_write(void **state)
{
	struct ukt *x = *state;
	struct stat st;
	long fd;

	layout(x);
	assert_int_equal(U(x->root, SYS_chmod, "/pub/w", 06777), 0);
	fd = U(x->user, SYS_open, "/pub/w", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(x->user, SYS_write, fd, "z", 1), 1);
	assert_int_equal(U(x->root, SYS_stat, "/pub/w", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0777);
	U(x->user, SYS_close, fd);
	/* Root's writes keep them (CAP_FSETID). */
	assert_int_equal(U(x->root, SYS_chmod, "/pub/w", 06777), 0);
	fd = U(x->root, SYS_open, "/pub/w", O_WRONLY);
	assert_int_equal(U(x->root, SYS_write, fd, "z", 1), 1);
	assert_int_equal(U(x->root, SYS_stat, "/pub/w", &st), 0);
	assert_int_equal(st.st_mode & 07777, 06777);
	U(x->root, SYS_close, fd);
}

static void test_utimensat_rules(void **state)
{
	struct ukt *x = *state;
	struct timespec now2[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec set[2] = { { 1000, 0 }, { 2000, 0 } };
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	struct timespec half[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	struct stat st;

	layout(x);
	/* Touch: write permission is enough; explicit times need owner. */
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/pub/w", 0, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/w"), 0, 0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/pub/r", 0, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/r"), 0, 0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/pub/w", now2, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/w"), now2,
		0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/pub/w", set, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/w"), set,
		0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/pub/w", half, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/w"), half,
		0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/nope", omit, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/nope"), omit,
		0));
	CMP(U(x->user, SYS_utimensat, AT_FDCWD, "/mine/f", set, 0),
	    NAS(UID, GID, SYS_utimensat, AT_FDCWD, ukt_np(x, "/mine/f"), set,
		0));
	CMP(U(x->root, SYS_utimensat, AT_FDCWD, "/pub/r", bad, 0),
	    N(SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/r"), bad, 0));
	CMP(U(x->root, SYS_utimensat, AT_FDCWD, "/pub/r", set, 0x4000),
	    N(SYS_utimensat, AT_FDCWD, ukt_np(x, "/pub/r"), set, 0x4000));
	assert_int_equal(U(x->root, SYS_stat, "/mine/f", &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	/* utime, utimes, futimesat. */
	struct { long a, m; } ub = { 111, 222 };
	struct timeval tv[2] = { { 333, 1 }, { 444, 2 } };
	struct timeval tvbad[2] = { { 1, 1000000 }, { 1, 0 } };
	assert_int_equal(U(x->root, SYS_utime, "/mine/f", &ub), 0);
	assert_int_equal(U(x->root, SYS_stat, "/mine/f", &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 222);
	assert_int_equal(U(x->root, SYS_utimes, "/mine/f", tv), 0);
	assert_int_equal(U(x->root, SYS_stat, "/mine/f", &st), 0);
	assert_int_equal(st.st_mtim.tv_nsec, 2000);
	assert_int_equal(U(x->root, SYS_futimesat, AT_FDCWD, "/mine/f", tvbad),
			 -EINVAL);
	/* futimens (NULL path) on a descriptor. */
	long fd = U(x->root, SYS_open, "/mine/f", O_RDONLY);
	assert_int_equal(U(x->root, SYS_utimensat, fd, 0, set, 0), 0);
	assert_int_equal(U(x->root, SYS_utimensat, fd, 0, set,
			   AT_SYMLINK_NOFOLLOW),
			 -EINVAL);
	U(x->root, SYS_close, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_and_search,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_access_faccessat,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_sticky, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_chmod_chown, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_suid_cleared_by_write,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_utimensat_rules,
						ukt_setup, ukt_teardown),
	};

	if (geteuid() != 0) {
		printf("skipped: the native side needs root to change ids\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
