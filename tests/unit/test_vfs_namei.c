// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_namei.c - the path walk through uk_dispatch: ".",
 * "..", never above the root, symlinks (relative, absolute, chains, 40 at
 * most), trailing slashes, ENAMETOOLONG, ENOTDIR, dirfd-relative walks,
 * AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW, getcwd/chdir/fchdir, compared with
 * a native directory where the same layout can be made.
 */
#include <stdio.h>
#include <sys/statfs.h>
#include <time.h>

#include "vfs_test.h"

static void test_dots_and_root(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat a, b;

	assert_int_equal(U(t, SYS_mkdir, "/a", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/a/b", 0755), 0);
	assert_int_equal(U(t, SYS_stat, "/a/b/../b/./..", &a), 0);
	assert_int_equal(U(t, SYS_stat, "/a", &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* ".." of the root is the root. */
	assert_int_equal(U(t, SYS_stat, "/../../..", &a), 0);
	assert_int_equal(U(t, SYS_stat, "/", &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(U(t, SYS_stat, "//a///b//", &a), 0);
	assert_true(S_ISDIR(a.st_mode));
}

static void test_symlinks_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char p[64], target[64];
	static const char *const paths[] = {
		"/l1", "/l1/", "/ld", "/ld/", "/ld/f", "/ld/f/", "/labs/f",
		"/loop", "/loop/", "/chain40", "/chain41", "/f/", "/f/.",
		"/f/..", "/dangle", "/dangle/", "/d/../f", "/nope/..",
	};
	struct stat st;

	ukt_both_mkdir(x, "/d", 0755);
	ukt_both_file(x, "/f", 0644, "f");
	ukt_both_file(x, "/d/f", 0644, "df");
	static const char *const links[][2] = {
		{ "f", "/l1" }, { "d", "/ld" }, { "loop", "/loop" },
		{ "nowhere", "/dangle" },
	};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(U(t, SYS_symlink, links[i][0], links[i][1]),
				 0);
		assert_int_equal(N(SYS_symlink, links[i][0],
				   ukt_np(x, links[i][1])),
				 0);
	}
	/* An absolute link: to /d in uk, to the temp dir's d natively. */
	assert_int_equal(U(t, SYS_symlink, "/d", "/labs"), 0);
	assert_int_equal(N(SYS_symlink, ukt_np(x, "/d"), ukt_np(x, "/labs")),
			 0);
	/* c0 -> f, c1 -> c0, ...: chain40 follows 40 links, chain41 41. */
	for (int i = 0; i <= 41; i++) {
		snprintf(p, sizeof(p), "/c%d", i);
		if (i == 0)
			snprintf(target, sizeof(target), "f");
		else
			snprintf(target, sizeof(target), "c%d", i - 1);
		assert_int_equal(U(t, SYS_symlink, target, p), 0);
		assert_int_equal(N(SYS_symlink, target, ukt_np(x, p)), 0);
	}
	assert_int_equal(U(t, SYS_symlink, "c39", "/chain40"), 0);
	assert_int_equal(N(SYS_symlink, "c39", ukt_np(x, "/chain40")), 0);
	assert_int_equal(U(t, SYS_symlink, "c40", "/chain41"), 0);
	assert_int_equal(N(SYS_symlink, "c40", ukt_np(x, "/chain41")), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct stat ns;

		CMP(U(t, SYS_stat, paths[i], &st),
		    N(SYS_stat, ukt_np(x, paths[i]), &ns));
		CMP(U(t, SYS_lstat, paths[i], &st),
		    N(SYS_lstat, ukt_np(x, paths[i]), &ns));
		CMP(U(t, SYS_newfstatat, AT_FDCWD, paths[i], &st,
		      AT_SYMLINK_NOFOLLOW),
		    N(SYS_newfstatat, AT_FDCWD, ukt_np(x, paths[i]), &ns,
		      AT_SYMLINK_NOFOLLOW));
		CMP(U(t, SYS_access, paths[i], F_OK),
		    N(SYS_access, ukt_np(x, paths[i]), F_OK));
		CMP(U(t, SYS_chdir, paths[i]),
		    N(SYS_chdir, ukt_np(x, paths[i])));
	}
}

static void test_name_limits(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char name[300], *path;
	struct stat st;

	memset(name, 'n', sizeof(name));
	name[0] = '/';
	name[256] = '\0'; /* 255 bytes after the slash: fine */
	long fd = U(t, SYS_open, name, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_stat, name, &st), 0);
	name[256] = 'n';
	name[257] = '\0';
	assert_int_equal(U(t, SYS_stat, name, &st), -ENAMETOOLONG);
	assert_int_equal(U(t, SYS_mkdir, name, 0755), -ENAMETOOLONG);
	/* 4095 bytes plus the NUL is the most a path can be. */
	path = malloc(4200);
	for (int i = 0; i < 4200; i += 2) {
		path[i] = '/';
		path[i + 1] = 'd';
	}
	path[4095] = '\0';
	assert_int_equal(U(t, SYS_stat, path, &st), -ENOENT);
	path[4095] = 'x';
	path[4096] = '\0';
	assert_int_equal(U(t, SYS_stat, path, &st), -ENAMETOOLONG);
	free(path);
}

static void test_dirfd_and_cwd(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[64];
	struct stat st;
	long d, f;

	assert_int_equal(U(t, SYS_mkdir, "/w", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/w/sub", 0755), 0);
	ukt_put(t, "/w/sub/f", "x");
	d = U(t, SYS_open, "/w", O_RDONLY | O_DIRECTORY);
	f = U(t, SYS_open, "/w/sub/f", O_RDONLY);
	assert_int_equal(U(t, SYS_newfstatat, d, "sub/f", &st, 0), 0);
	assert_int_equal(U(t, SYS_newfstatat, f, "x", &st, 0), -ENOTDIR);
	assert_int_equal(U(t, SYS_newfstatat, 77, "x", &st, 0), -EBADF);
	assert_int_equal(U(t, SYS_newfstatat, 77, "/w", &st, 0), 0);
	assert_int_equal(U(t, SYS_newfstatat, f, "", &st, AT_EMPTY_PATH), 0);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(U(t, SYS_newfstatat, f, "", &st, 0), -ENOENT);
	assert_int_equal(U(t, SYS_newfstatat, d, "sub", &st, 0x1), -EINVAL);
	/* cwd. */
	assert_int_equal(U(t, SYS_getcwd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "/");
	assert_int_equal(U(t, SYS_chdir, "/w/sub"), 0);
	assert_int_equal(U(t, SYS_getcwd, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "/w/sub");
	assert_int_equal(U(t, SYS_getcwd, buf, 6), -ERANGE);
	assert_int_equal(U(t, SYS_stat, "f", &st), 0);
	assert_int_equal(U(t, SYS_chdir, "f"), -ENOTDIR);
	assert_int_equal(U(t, SYS_fchdir, f), -ENOTDIR);
	assert_int_equal(U(t, SYS_fchdir, d), 0);
	assert_int_equal(U(t, SYS_getcwd, buf, sizeof(buf)), 3);
	assert_int_equal(U(t, SYS_fchdir, 99), -EBADF);
	/* A removed cwd: getcwd ENOENT, lookups in it ENOENT. */
	assert_int_equal(U(t, SYS_mkdir, "/w/tmp", 0755), 0);
	assert_int_equal(U(t, SYS_chdir, "/w/tmp"), 0);
	assert_int_equal(U(t, SYS_rmdir, "/w/tmp"), 0);
	assert_int_equal(U(t, SYS_getcwd, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(U(t, SYS_open, "new", O_CREAT | O_WRONLY, 0644),
			 -ENOENT);
	assert_int_equal(U(t, SYS_stat, ".", &st), 0);
	assert_int_equal(st.st_nlink, 0);
	/* Search permission on chdir. */
	assert_int_equal(U(t, SYS_chmod, "/w/sub", 0600), 0);
	assert_int_equal(U(x->user, SYS_chdir, "/w/sub"), -EACCES);
	assert_int_equal(U(x->user, SYS_stat, "/w/sub/f", &st), -EACCES);
	U(t, SYS_close, d);
	U(t, SYS_close, f);
}

/*
 * The *at family with dirfds of every kind, AT_ flags and awkward paths,
 * against the host: newfstatat, faccessat2, fchownat, utimensat, readlinkat,
 * unlinkat, mkdirat, linkat, renameat2.
 */
static void test_at_family_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	static const char *const paths[] = { "", "f", "l", "d", "d/", "nope",
					     "l/", "dl", "dl/" };
	static const int atflags[] = { 0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH,
				       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
				       AT_SYMLINK_FOLLOW, 0x8000, 0x2000,
				       0x6000, AT_EACCESS };
	long ufd[4], nfd[4];
	struct stat st;
	struct timespec ts[2] = { { 5, 0 }, { 6, 0 } };
	char buf[16];

	ukt_both_mkdir(x, "/w", 0755);
	ukt_both_mkdir(x, "/w/d", 0755);
	ukt_both_file(x, "/w/f", 0644, "f");
	assert_int_equal(U(t, SYS_symlink, "f", "/w/l"), 0);
	assert_int_equal(N(SYS_symlink, "f", ukt_np(x, "/w/l")), 0);
	assert_int_equal(U(t, SYS_symlink, "d", "/w/dl"), 0);
	assert_int_equal(N(SYS_symlink, "d", ukt_np(x, "/w/dl")), 0);
	/* dirfds: a directory, a file, an O_PATH symlink, a closed one. */
	ufd[0] = U(t, SYS_open, "/w", O_RDONLY | O_DIRECTORY);
	nfd[0] = N(SYS_open, ukt_np(x, "/w"), O_RDONLY | O_DIRECTORY);
	ufd[1] = U(t, SYS_open, "/w/f", O_RDONLY);
	nfd[1] = N(SYS_open, ukt_np(x, "/w/f"), O_RDONLY);
	ufd[2] = U(t, SYS_open, "/w/l", O_PATH | O_NOFOLLOW);
	nfd[2] = N(SYS_open, ukt_np(x, "/w/l"), O_PATH | O_NOFOLLOW);
	ufd[3] = nfd[3] = 999;
	for (int d = 0; d < 4; d++)
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
			for (size_t f = 0; f < sizeof(atflags) / sizeof(int);
			     f++) {
				const char *pa = paths[p];
				int fl = atflags[f];

				CMP(U(t, SYS_newfstatat, ufd[d], pa, &st, fl),
				    N(SYS_newfstatat, nfd[d], pa, &st, fl));
				CMP(U(t, SYS_faccessat2, ufd[d], pa, R_OK, fl),
				    N(SYS_faccessat2, nfd[d], pa, R_OK, fl));
				CMP(U(t, SYS_fchownat, ufd[d], pa, -1, -1, fl),
				    N(SYS_fchownat, nfd[d], pa, -1, -1, fl));
				CMP(U(t, SYS_utimensat, ufd[d], pa, ts, fl),
				    N(SYS_utimensat, nfd[d], pa, ts, fl));
			}
	for (int d = 0; d < 4; d++)
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
			const char *pa = paths[p];

			CMP(U(t, SYS_readlinkat, ufd[d], pa, buf, sizeof(buf)),
			    N(SYS_readlinkat, nfd[d], pa, buf, sizeof(buf)));
			CMP(U(t, SYS_mkdirat, ufd[d], pa, 0755),
			    N(SYS_mkdirat, nfd[d], pa, 0755));
			CMP(U(t, SYS_linkat, ufd[d], pa, ufd[0], "new",
			      AT_EMPTY_PATH),
			    N(SYS_linkat, nfd[d], pa, nfd[0], "new",
			      AT_EMPTY_PATH));
			U(t, SYS_unlinkat, ufd[0], "new", 0);
			N(SYS_unlinkat, nfd[0], "new", 0);
			CMP(U(t, SYS_renameat2, ufd[d], pa, ufd[0], "f",
			      RENAME_NOREPLACE),
			    N(SYS_renameat2, nfd[d], pa, nfd[0], "f",
			      RENAME_NOREPLACE));
			CMP(U(t, SYS_unlinkat, ufd[d], pa, AT_REMOVEDIR),
			    N(SYS_unlinkat, nfd[d], pa, AT_REMOVEDIR));
		}
	for (int d = 0; d < 3; d++) {
		U(t, SYS_close, ufd[d]);
		close((int)nfd[d]);
	}
}

/* Inodes in use in the uk tmpfs, from statfs. */
static uint64_t inodes_used(struct uk_task *t)
{
	struct statfs sfs;

	assert_int_equal(U(t, SYS_statfs, "/", &sfs), 0);
	return sfs.f_files - sfs.f_ffree;
}

/*
 * A removed directory still open as a dirfd: every name operation in it
 * answers as the host's (ENOENT: it has no entries and gets none, Linux's
 * IS_DEADDIR), "." and ".." still resolve, and the names missed in it
 * before and after its removal are not cached under it (each would hold
 * it): its inode goes with the last descriptor, as the inode count shows.
 */
static void test_removed_dir_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	uint64_t used = inodes_used(t);
	struct stat st;
	char buf[16];
	long u0, n0, u, n;

	ukt_both_mkdir(x, "/w", 0755);
	ukt_both_mkdir(x, "/w/dead", 0755);
	ukt_both_file(x, "/w/f", 0644, "f");
	u0 = U(t, SYS_open, "/w", O_RDONLY | O_DIRECTORY);
	n0 = N(SYS_open, ukt_np(x, "/w"), O_RDONLY | O_DIRECTORY);
	u = U(t, SYS_open, "/w/dead", O_RDONLY | O_DIRECTORY);
	n = N(SYS_open, ukt_np(x, "/w/dead"), O_RDONLY | O_DIRECTORY);
	assert_true(u0 >= 0 && n0 >= 0 && u >= 0 && n >= 0);
	CMP(U(t, SYS_newfstatat, u, "before", &st, 0),
	    N(SYS_newfstatat, n, "before", &st, 0));
	assert_int_equal(U(t, SYS_rmdir, "/w/dead"), 0);
	assert_int_equal(N(SYS_rmdir, ukt_np(x, "/w/dead")), 0);

	for (int i = 0; i < 2; i++) {
		CMP(U(t, SYS_newfstatat, u, "before", &st, 0),
		    N(SYS_newfstatat, n, "before", &st, 0));
		CMP(U(t, SYS_newfstatat, u, "x", &st, 0),
		    N(SYS_newfstatat, n, "x", &st, 0));
		CMP(U(t, SYS_newfstatat, u, ".", &st, 0),
		    N(SYS_newfstatat, n, ".", &st, 0));
		CMP(U(t, SYS_newfstatat, u, "../f", &st, 0),
		    N(SYS_newfstatat, n, "../f", &st, 0));
		CMP(U(t, SYS_faccessat2, u, "x", F_OK, 0),
		    N(SYS_faccessat2, n, "x", F_OK, 0));
		CMP(U(t, SYS_openat, u, "x", O_CREAT | O_WRONLY, 0644),
		    N(SYS_openat, n, "x", O_CREAT | O_WRONLY, 0644));
		CMP(U(t, SYS_openat, u, "x", O_RDONLY),
		    N(SYS_openat, n, "x", O_RDONLY));
		CMP(U(t, SYS_mkdirat, u, "x", 0755),
		    N(SYS_mkdirat, n, "x", 0755));
		CMP(U(t, SYS_mknodat, u, "x", S_IFIFO | 0644, 0),
		    N(SYS_mknodat, n, "x", S_IFIFO | 0644, 0));
		CMP(U(t, SYS_symlinkat, "f", u, "x"),
		    N(SYS_symlinkat, "f", n, "x"));
		CMP(U(t, SYS_readlinkat, u, "x", buf, sizeof(buf)),
		    N(SYS_readlinkat, n, "x", buf, sizeof(buf)));
		CMP(U(t, SYS_linkat, u0, "f", u, "x", 0),
		    N(SYS_linkat, n0, "f", n, "x", 0));
		CMP(U(t, SYS_renameat2, u0, "f", u, "x", 0),
		    N(SYS_renameat2, n0, "f", n, "x", 0));
		CMP(U(t, SYS_renameat2, u, "x", u0, "g", 0),
		    N(SYS_renameat2, n, "x", n0, "g", 0));
		CMP(U(t, SYS_unlinkat, u, "x", 0),
		    N(SYS_unlinkat, n, "x", 0));
		CMP(U(t, SYS_unlinkat, u, "x", AT_REMOVEDIR),
		    N(SYS_unlinkat, n, "x", AT_REMOVEDIR));
	}
	assert_int_equal(U(t, SYS_newfstatat, u, "", &st, AT_EMPTY_PATH), 0);
	assert_int_equal(st.st_nlink, 0);
	/* /w, /w/f and the removed directory, until the close. */
	assert_int_equal(inodes_used(t), used + 3);
	assert_int_equal(U(t, SYS_close, u), 0);
	close((int)n);
	assert_int_equal(inodes_used(t), used + 2);
	U(t, SYS_close, u0);
	close((int)n0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dots_and_root, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_vs_native,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_name_limits, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_dirfd_and_cwd, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_at_family_vs_native,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_removed_dir_vs_native,
						ukt_setup, ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
