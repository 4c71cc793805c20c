// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_open.c - open, openat, openat2, creat, close and
 * close_range through uk_dispatch: flags (O_CREAT|O_EXCL, O_TRUNC,
 * O_APPEND, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_TMPFILE, O_CLOEXEC), the
 * fd limit, openat2's struct checks and RESOLVE_* scoping, and the errnos
 * compared with the same calls on a native directory.
 */
#include <linux/openat2.h>
#include <linux/close_range.h>

#include "vfs_test.h"
#include "vfs.h"

static void test_create_excl_trunc(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char buf[16];
	struct stat st;
	long fd;

	fd = U(t, SYS_open, "/f", O_CREAT | O_EXCL | O_RDWR, 0640);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(U(t, SYS_write, fd, "abcdef", 6), 6);
	assert_int_equal(U(t, SYS_close, fd), 0);
	/* O_EXCL on an existing name; O_CREAT alone opens it. */
	CMP(U(t, SYS_open, "/f", O_CREAT | O_EXCL | O_RDWR, 0640), -EEXIST);
	fd = U(t, SYS_open, "/f", O_CREAT | O_RDONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_read, fd, buf, sizeof(buf)), 6);
	assert_int_equal(U(t, SYS_close, fd), 0);
	/* O_TRUNC empties it (and the umask applied at creation). */
	fd = U(t, SYS_open, "/f", O_TRUNC | O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_stat, "/f", &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(U(t, SYS_close, fd), 0);
	assert_int_equal(U(t, SYS_umask, 077), 022);
	fd = U(t, SYS_creat, "/g", 0666);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	assert_int_equal(U(t, SYS_read, fd, buf, 1), -EBADF); /* O_WRONLY */
	assert_int_equal(U(t, SYS_close, fd), 0);
	assert_int_equal(U(t, SYS_umask, 022), 077);
}

/* Errors of open compared with a native directory laid out the same. */
static void test_errors_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	char longname[300];
	static const struct {
		const char *path;
		int flags;
	} cases[] = {
		{ "/nope", O_RDONLY },
		{ "/nope/x", O_CREAT | O_WRONLY },
		{ "/file/x", O_RDONLY },
		{ "/file/", O_RDONLY },
		{ "/file/", O_CREAT | O_WRONLY },
		{ "/dir", O_WRONLY },
		{ "/dir", O_RDWR },
		{ "/dir", O_RDONLY | O_TRUNC },
		{ "/dir", O_CREAT | O_RDONLY },
		{ "/dir", O_CREAT | O_EXCL | O_RDONLY },
		{ "/dir/", O_CREAT | O_RDONLY },
		{ "/file", O_DIRECTORY },
		{ "/file", O_DIRECTORY | O_CREAT },
		{ "/link", O_NOFOLLOW | O_RDONLY },
		{ "/link", O_NOFOLLOW | O_CREAT | O_RDONLY },
		{ "/link", O_CREAT | O_EXCL | O_RDONLY },
		{ "/dangling", O_RDONLY },
		{ "/dangling", O_CREAT | O_EXCL | O_WRONLY },
		{ "/loop", O_RDONLY },
		{ "/loop/x", O_RDONLY },
		{ "/.", O_WRONLY },
		{ "/dir/..", O_CREAT | O_RDONLY },
		{ "/file", O_TMPFILE | O_RDWR },
		{ "/dir", O_TMPFILE | O_RDONLY },
		{ "/dir", O_PATH | O_CREAT | O_DIRECTORY },
		{ "/link", O_PATH | O_NOFOLLOW | O_DIRECTORY },
	};

	ukt_both_mkdir(x, "/dir", 0755);
	ukt_both_file(x, "/file", 0644, "data");
	assert_int_equal(U(t, SYS_symlink, "file", "/link"), 0);
	assert_int_equal(N(SYS_symlink, "file", ukt_np(x, "/link")), 0);
	assert_int_equal(U(t, SYS_symlink, "nowhere/x", "/dangling"), 0);
	assert_int_equal(N(SYS_symlink, "nowhere/x", ukt_np(x, "/dangling")),
			 0);
	assert_int_equal(U(t, SYS_symlink, "loop", "/loop"), 0);
	assert_int_equal(N(SYS_symlink, "loop", ukt_np(x, "/loop")), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long u = U(t, SYS_open, cases[i].path, cases[i].flags, 0644);
		long n = N(SYS_open, ukt_np(x, cases[i].path), cases[i].flags,
			   0644);

		if (u != n && (u < 0 || n < 0))
			print_error("case %zu: %s 0%o\n", i, cases[i].path,
				    cases[i].flags);
		CMP(u, n);
		if (u >= 0)
			U(t, SYS_close, u);
		if (n >= 0)
			close((int)n);
	}
	/* O_CREAT through a dangling symlink creates its target. */
	assert_int_equal(U(t, SYS_symlink, "made", "/tomake"), 0);
	long fd = U(t, SYS_open, "/tomake", O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	struct stat st;
	assert_int_equal(U(t, SYS_lstat, "/made", &st), 0);
	/* Names: a component over 255 bytes, a path over 4095. */
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[257] = '\0';
	CMP(U(t, SYS_open, longname, O_RDONLY),
	    N(SYS_open, longname, O_RDONLY));
	char *huge = malloc(5000);
	memset(huge, 'b', 4999);
	huge[4999] = '\0';
	assert_int_equal(U(t, SYS_open, huge, O_RDONLY), -ENAMETOOLONG);
	free(huge);
	assert_int_equal(U(t, SYS_open, "", O_RDONLY), -ENOENT);
	/* The root itself (LAST_ROOT): a directory. */
	assert_int_equal(U(t, SYS_open, "/", O_CREAT | O_EXCL | O_RDONLY, 0),
			 -EEXIST);
	assert_int_equal(U(t, SYS_open, "/", O_CREAT | O_RDONLY, 0), -EISDIR);
	/* cmocka's SIGSEGV handler went in after ours: reinstall ours. */
	assert_int_equal(uk_uaccess_init(), 0);
	assert_int_equal(U(t, SYS_open, 16, O_RDONLY), -EFAULT);
}

static void test_append_atomic(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	long a = U(t, SYS_open, "/log", O_CREAT | O_WRONLY | O_APPEND, 0644);
	long b = U(t, SYS_open, "/log", O_WRONLY | O_APPEND);
	struct stat st;

	assert_true(a >= 0 && b >= 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(U(t, SYS_write, a, "aaaa", 4), 4);
		assert_int_equal(U(t, SYS_write, b, "bb", 2), 2);
	}
	/* pwrite on O_APPEND appends too (Linux). */
	assert_int_equal(U(t, SYS_pwrite64, a, "z", 1, 0), 1);
	assert_int_equal(U(t, SYS_fstat, a, &st), 0);
	assert_int_equal(st.st_size, 61);
	/* a's offset is where its own last append ended. */
	assert_int_equal(U(t, SYS_lseek, a, 0, SEEK_CUR), 58);
	U(t, SYS_close, a);
	U(t, SYS_close, b);
}

static void test_o_path(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	char buf[8];
	long fd, d;

	ukt_put(t, "/p", "xyz");
	fd = U(t, SYS_open, "/p", O_PATH);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_read, fd, buf, 1), -EBADF);
	assert_int_equal(U(t, SYS_write, fd, buf, 1), -EBADF);
	assert_int_equal(U(t, SYS_fchmod, fd, 0600), -EBADF);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(U(t, SYS_fcntl, fd, F_GETFL), O_PATH);
	assert_int_equal(U(t, SYS_fcntl, fd, F_SETFL, O_APPEND), -EBADF);
	assert_int_equal(U(t, SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH), 0);
	d = U(t, SYS_dup, fd);
	assert_true(d >= 0);
	U(t, SYS_close, d);
	U(t, SYS_close, fd);
	/* O_PATH|O_NOFOLLOW opens a symlink itself; readlinkat "" reads it. */
	assert_int_equal(U(t, SYS_symlink, "p", "/sl"), 0);
	fd = U(t, SYS_open, "/sl", O_PATH | O_NOFOLLOW);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_readlinkat, fd, "", buf, sizeof(buf)), 1);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	U(t, SYS_close, fd);
	/* A directory O_PATH fd works as a dirfd and for fchdir. */
	assert_int_equal(U(t, SYS_mkdir, "/pd", 0755), 0);
	d = U(t, SYS_open, "/pd", O_PATH | O_DIRECTORY);
	assert_true(d >= 0);
	fd = U(t, SYS_openat, d, "child", O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_fchdir, d), 0);
	assert_int_equal(U(t, SYS_stat, "child", &st), 0);
	assert_int_equal(U(t, SYS_getdents64, d, buf, sizeof(buf)), -EBADF);
	U(t, SYS_close, d);
}

static void test_tmpfile(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	char buf[8];
	long fd, fd2;

	assert_int_equal(U(t, SYS_mkdir, "/td", 0755), 0);
	fd = U(t, SYS_open, "/td", O_TMPFILE | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(U(t, SYS_write, fd, "tmp", 3), 3);
	assert_int_equal(U(t, SYS_fstat, fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(st.st_mode, S_IFREG | 0600);
	/* Not listed, then linked into the tree. */
	/* The unnamed file does not keep its directory from being removed. */
	assert_int_equal(U(t, SYS_rmdir, "/td"), 0);
	assert_int_equal(U(t, SYS_mkdir, "/td", 0755), 0);
	assert_int_equal(U(t, SYS_linkat, fd, "", AT_FDCWD, "/td/named",
			   AT_EMPTY_PATH),
			 0);
	assert_int_equal(U(t, SYS_stat, "/td/named", &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 3);
	U(t, SYS_close, fd);
	/* O_EXCL: can never be linked. */
	fd2 = U(t, SYS_open, "/td", O_TMPFILE | O_RDWR | O_EXCL, 0600);
	assert_true(fd2 >= 0);
	assert_int_equal(U(t, SYS_linkat, fd2, "", AT_FDCWD, "/td/no",
			   AT_EMPTY_PATH),
			 -ENOENT);
	U(t, SYS_close, fd2);
	assert_int_equal(U(t, SYS_open, "/td", O_TMPFILE | O_RDONLY, 0600),
			 -EINVAL);
	(void)buf;
}

static void test_fd_limit_and_close(void **state)
{
	struct uk_kernel_opts o = { .nr_open = 8 };
	struct uk_kernel *k = uk_kernel_new(&o);
	struct uk_cred c;
	struct uk_task *t;
	long fds[8];

	(void)state;
	uk_cred_init(&c, 0, 0);
	t = uk_task_new(k, 7, &c);
	for (int i = 0; i < 8; i++) {
		fds[i] = U(t, SYS_open, "/", O_RDONLY | O_DIRECTORY);
		assert_int_equal(fds[i], i);
	}
	assert_int_equal(U(t, SYS_open, "/", O_RDONLY), -EMFILE);
	assert_int_equal(U(t, SYS_dup, 0), -EMFILE);
	assert_int_equal(U(t, SYS_fcntl, 0, F_DUPFD, 8), -EINVAL);
	assert_int_equal(U(t, SYS_dup2, 0, 8), -EBADF);
	/* Lowest free first. */
	assert_int_equal(U(t, SYS_close, 3), 0);
	assert_int_equal(U(t, SYS_close, 3), -EBADF);
	assert_int_equal(U(t, SYS_open, "/", O_RDONLY), 3);
	/* close_range: flags, order, CLOEXEC marks, UNSHARE. */
	assert_int_equal(U(t, SYS_close_range, 5, 4, 0), -EINVAL);
	assert_int_equal(U(t, SYS_close_range, 0, 1, 0x80), -EINVAL);
	assert_int_equal(U(t, SYS_close_range, 6, ~0U, CLOSE_RANGE_CLOEXEC),
			 0);
	assert_int_equal(U(t, SYS_fcntl, 6, F_GETFD), FD_CLOEXEC);
	assert_int_equal(U(t, SYS_fcntl, 5, F_GETFD), 0);
	assert_int_equal(U(t, SYS_close_range, 4, ~0U, CLOSE_RANGE_UNSHARE),
			 0);
	assert_int_equal(U(t, SYS_fcntl, 4, F_GETFD), -EBADF);
	assert_int_equal(U(t, SYS_fcntl, 3, F_GETFD), 0);
	assert_int_equal(U(t, SYS_close, 1U << 31), -EBADF);
	uk_task_exit(t);
	uk_kernel_free(k);
}

static void test_openat2(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct open_how how = { .flags = O_RDONLY };
	char big[64];
	long d, fd;

	assert_int_equal(U(t, SYS_mkdir, "/top", 0755), 0);
	assert_int_equal(U(t, SYS_mkdir, "/top/in", 0755), 0);
	ukt_put(t, "/top/in/f", "x");
	ukt_put(t, "/outside", "x");
	assert_int_equal(U(t, SYS_symlink, "/outside", "/top/in/abs"), 0);
	assert_int_equal(U(t, SYS_symlink, "f", "/top/in/rel"), 0);
	assert_int_equal(U(t, SYS_symlink, "../../outside", "/top/in/up"), 0);
	d = U(t, SYS_open, "/top", O_RDONLY | O_DIRECTORY);
	assert_true(d >= 0);
	/* Size checks. */
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, 8), -EINVAL);
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, 8192), -E2BIG);
	memset(big, 0, sizeof(big));
	memcpy(big, &how, sizeof(how));
	fd = U(t, SYS_openat2, d, "in/f", big, sizeof(big));
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	big[40] = 1;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", big, sizeof(big)),
			 -E2BIG);
	/* Strict flag checks. */
	how.mode = 0644;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, sizeof(how)),
			 -EINVAL);
	how.mode = 0;
	how.flags = 1ULL << 40;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, sizeof(how)),
			 -EINVAL);
	how.flags = O_RDONLY;
	how.resolve = 1ULL << 20;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, sizeof(how)),
			 -EINVAL);
	how.resolve = RESOLVE_BENEATH | RESOLVE_IN_ROOT;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, sizeof(how)),
			 -EINVAL);
	/* RESOLVE_BENEATH: no absolute path, no escape by ".." or link. */
	how.resolve = RESOLVE_BENEATH;
	fd = U(t, SYS_openat2, d, "in/rel", &how, sizeof(how));
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	assert_int_equal(U(t, SYS_openat2, d, "/outside", &how, sizeof(how)),
			 -EXDEV);
	assert_int_equal(U(t, SYS_openat2, d, "../outside", &how,
			   sizeof(how)),
			 -EXDEV);
	assert_int_equal(U(t, SYS_openat2, d, "in/abs", &how, sizeof(how)),
			 -EXDEV);
	assert_int_equal(U(t, SYS_openat2, d, "in/up", &how, sizeof(how)),
			 -EXDEV);
	/* RESOLVE_IN_ROOT: "/" and ".." stop at dfd. */
	how.resolve = RESOLVE_IN_ROOT;
	assert_int_equal(U(t, SYS_openat2, d, "/outside", &how, sizeof(how)),
			 -ENOENT);
	fd = U(t, SYS_openat2, d, "../../in/f", &how, sizeof(how));
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	/* RESOLVE_CACHED: fine for lookups, EAGAIN for what may block. */
	how.resolve = RESOLVE_CACHED;
	fd = U(t, SYS_openat2, d, "in/f", &how, sizeof(how));
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	how.flags = O_RDWR | O_TRUNC;
	assert_int_equal(U(t, SYS_openat2, d, "in/f", &how, sizeof(how)),
			 -EAGAIN);
	how.flags = O_RDONLY;
	/* RESOLVE_NO_SYMLINKS. */
	how.resolve = RESOLVE_NO_SYMLINKS;
	assert_int_equal(U(t, SYS_openat2, d, "in/rel", &how, sizeof(how)),
			 -ELOOP);
	/* RESOLVE_NO_XDEV across a second tmpfs. */
	assert_int_equal(U(t, SYS_mkdir, "/top/mnt", 0755), 0);
	assert_int_equal(vfs_mount(t, "/top/mnt", "tmpfs", ""), 0);
	ukt_put(t, "/top/mnt/m", "x");
	how.resolve = RESOLVE_NO_XDEV;
	assert_int_equal(U(t, SYS_openat2, d, "mnt/m", &how, sizeof(how)),
			 -EXDEV);
	how.resolve = 0;
	fd = U(t, SYS_openat2, d, "mnt/m", &how, sizeof(how));
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	U(t, SYS_close, d);
}

/* openat2's resolve flags and struct checks against the host's openat2. */
static void test_openat2_vs_native(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	static const char *const paths[] = {
		"in/f", "in/rel", "in/up", "in/loop", "../top/in/f", "in/../in/f",
		"in/dotdot/in/f", "in", "in/", "in/f/", "nope", "",
	};
	static const uint64_t resolves[] = {
		0, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS,
		RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS,
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, RESOLVE_CACHED,
	};
	static const uint64_t flags[] = { O_RDONLY, O_RDWR, O_PATH,
					  O_RDONLY | O_NOFOLLOW,
					  O_WRONLY | O_CREAT,
					  O_RDONLY | O_DIRECTORY };
	long ud, nd;

	ukt_both_mkdir(x, "/top", 0755);
	ukt_both_mkdir(x, "/top/in", 0755);
	ukt_both_file(x, "/top/in/f", 0644, "f");
	static const char *const links[][2] = {
		{ "f", "/top/in/rel" },
		{ "../../outside", "/top/in/up" },
		{ "loop", "/top/in/loop" },
		{ "..", "/top/in/dotdot" },
	};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(U(t, SYS_symlink, links[i][0], links[i][1]),
				 0);
		assert_int_equal(N(SYS_symlink, links[i][0],
				   ukt_np(x, links[i][1])),
				 0);
	}
	ud = U(t, SYS_open, "/top", O_RDONLY | O_DIRECTORY);
	nd = N(SYS_open, ukt_np(x, "/top"), O_RDONLY | O_DIRECTORY);
	assert_true(ud >= 0 && nd >= 0);
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
		for (size_t r = 0; r < sizeof(resolves) / sizeof(resolves[0]);
		     r++)
			for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]);
			     f++) {
				struct open_how how = {
					.flags = flags[f],
					.mode = (flags[f] & O_CREAT) ? 0644 : 0,
					.resolve = resolves[r],
				};
				long u = U(t, SYS_openat2, ud, paths[p], &how,
					   sizeof(how));
				long n = N(SYS_openat2, nd, paths[p], &how,
					   sizeof(how));

				/*
				 * RESOLVE_CACHED: the host answers EAGAIN
				 * whenever its dcache lacks a component,
				 * which depends on memory pressure, not on
				 * the path.  openat2(2) says to retry
				 * without the flag; do that once to warm
				 * the host's cache, then ask again.  Our
				 * dcache holds the whole tmpfs tree, so our
				 * answer is the fully cached one.
				 */
				if (n == -EAGAIN &&
				    (how.resolve & RESOLVE_CACHED) &&
				    !(how.flags & O_CREAT)) {
					struct open_how warm = how;
					long w;

					warm.resolve &= ~RESOLVE_CACHED;
					w = N(SYS_openat2, nd, paths[p], &warm,
					      sizeof(warm));
					if (w >= 0)
						close((int)w);
					n = N(SYS_openat2, nd, paths[p], &how,
					      sizeof(how));
					if (n == -EAGAIN)
						n = u;
				}

				if ((u < 0 || n < 0) && u != n)
					print_error("openat2 \"%s\" resolve "
						    "0x%llx flags 0%llo\n",
						    paths[p],
						    (unsigned long long)
							    resolves[r],
						    (unsigned long long)
							    flags[f]);
				CMP(u, n);
				if (u >= 0)
					U(t, SYS_close, u);
				if (n >= 0)
					close((int)n);
			}
	U(t, SYS_close, ud);
	close((int)nd);
}

static void test_fifo_and_cloexec(void **state)
{
	struct ukt *x = *state;
	struct uk_task *t = x->root;
	struct stat st;
	long fd;

	assert_int_equal(U(t, SYS_mknod, "/fifo", S_IFIFO | 0644, 0), 0);
	assert_int_equal(U(t, SYS_stat, "/fifo", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(U(t, SYS_open, "/fifo", O_RDONLY | O_NONBLOCK),
			 -ENXIO);
	fd = U(t, SYS_open, "/fifo", O_PATH);
	assert_true(fd >= 0);
	U(t, SYS_close, fd);
	/* O_CLOEXEC descriptors go at exec, others stay. */
	long a = U(t, SYS_open, "/", O_RDONLY | O_CLOEXEC);
	long b = U(t, SYS_open, "/", O_RDONLY);
	assert_int_equal(U(t, SYS_fcntl, a, F_GETFD), FD_CLOEXEC);
	assert_int_equal(uk_task_exec(t), 0);
	assert_int_equal(U(t, SYS_fcntl, a, F_GETFD), -EBADF);
	assert_int_equal(U(t, SYS_fcntl, b, F_GETFD), 0);
	U(t, SYS_close, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_excl_trunc,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_errors_vs_native,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_append_atomic, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_o_path, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_tmpfile, ukt_setup,
						ukt_teardown),
		cmocka_unit_test(test_fd_limit_and_close),
		cmocka_unit_test_setup_teardown(test_openat2, ukt_setup,
						ukt_teardown),
		cmocka_unit_test_setup_teardown(test_openat2_vs_native,
						ukt_setup, ukt_teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_cloexec,
						ukt_setup, ukt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
