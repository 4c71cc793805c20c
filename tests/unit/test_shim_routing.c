// SPDX-License-Identifier: MIT
/*
 * test_shim_routing - libukshim.so's core in one process under the shim,
 * against a real ukerneld (tmpfs): which calls go where, errno as glibc
 * sets it, vfd placeholders, the dup family and dup2 over stdout,
 * close_range and friends not breaking the shim, the virtual cwd and
 * "..", *at() calls on virtual dirfds, getdents64, EFAULT, syscall(),
 * the rest of the wrapped calls on virtual files, and id changes
 * reaching the daemon task.
 */
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <utime.h>

#include <cmocka.h>

#include "shim_test.h"

/* The host's view, bypassing every wrapper. */
static long raw(long nr, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

static void test_host_paths_untouched(void **state)
{
	char p[400], buf[64];
	struct stat st;

	(void)state;
	snprintf(p, sizeof(p), "%s/host-file", st_dir);
	assert_int_equal(st_put(p, "host"), 0);
	/* It is really on the host. */
	assert_int_equal(raw(SYS_newfstatat, AT_FDCWD, (long)p, (long)&st, 0),
			 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st_get(p, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "host");
	/* A name that only starts like the root is the host's. */
	errno = 0;
	assert_int_equal(access("/ukthis-is-not-the-root", F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_virtual_file(void **state)
{
	char buf[64];
	struct stat st;
	int fd;

	(void)state;
	fd = open("/uk/vf", O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello world", 11), 11);
	assert_int_equal(lseek(fd, 6, SEEK_SET), 6);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 11);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0644 & ~022);
	assert_int_equal(close(fd), 0);
	assert_int_equal(stat("/uk/vf", &st), 0);
	assert_int_equal(st.st_size, 11);
	/* "//uk" and "/./uk" are the root too. */
	assert_int_equal(stat("//uk//vf", &st), 0);
	assert_int_equal(stat("/./uk/./vf", &st), 0);
	/* The host never saw it (no /uk on the host). */
	assert_int_not_equal(raw(SYS_newfstatat, AT_FDCWD, (long)"/uk/vf",
				 (long)&st, 0),
			     0);
}

static void test_errno(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	errno = 1234;
	assert_int_equal(stat("/uk/vf", &st), 0);
	assert_int_equal(errno, 1234); /* untouched on success */
	assert_int_equal(open("/uk/missing", O_RDONLY), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mkdir("/uk/edir", 0755), 0);
	assert_int_equal(mkdir("/uk/edir", 0755), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(st_put("/uk/edir/x", "x"), 0);
	assert_int_equal(rmdir("/uk/edir"), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(open("/uk/edir", O_WRONLY), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(open("/uk/vf/x", O_RDONLY), -1);
	assert_int_equal(errno, ENOTDIR);
	fd = open("/uk/vf", O_WRONLY);
	assert_true(fd >= 0);
	{
		char c;

		assert_int_equal(read(fd, &c, 1), -1);
		assert_int_equal(errno, EBADF);
	}
	assert_int_equal(close(fd), 0);
	assert_int_equal(close(fd), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(unlink("/uk/edir/x"), 0);
	assert_int_equal(remove("/uk/edir"), 0); /* rmdir through remove */
	assert_int_equal(access("/uk/edir", F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_vfd_placeholder(void **state)
{
	char link[128], target[256];
	struct stat st;
	int probe, fd;
	long n;

	(void)state;
	/* The vfd takes the lowest free host number, as open(2) would. */
	probe = (int)raw(SYS_dup, 0, 0, 0, 0);
	assert_true(probe >= 0);
	raw(SYS_close, probe, 0, 0, 0);
	fd = open("/uk/vf", O_RDONLY);
	assert_int_equal(fd, probe);
	/* The host holds an empty sealed memfd there. */
	assert_int_equal(raw(SYS_fstat, fd, (long)&st, 0, 0), 0);
	assert_int_equal(st.st_size, 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = raw(SYS_readlink, (long)link, (long)target, sizeof(target) - 1, 0);
	assert_true(n > 0);
	target[n] = 0;
	assert_non_null(strstr(target, "ukshim-vfd"));
	assert_int_equal(raw(SYS_write, fd, (long)"x", 1, 0), -EPERM);
	/* The next host open does not collide. */
	{
		int h = open("/dev/null", O_RDONLY);

		assert_true(h >= 0 && h != fd);
		close(h);
	}
	close(fd);
	/* The placeholder is gone with the vfd. */
	assert_int_equal(raw(SYS_fstat, fd, (long)&st, 0, 0), -EBADF);
}

static void test_dup_family(void **state)
{
	char buf[16];
	int fd, d, d2, h;

	(void)state;
	assert_int_equal(st_put("/uk/dup", "abcdefgh"), 0);
	fd = open("/uk/dup", O_RDONLY);
	assert_true(fd >= 0);
	d = dup(fd);
	assert_true(d >= 0 && d != fd);
	/* One open file description: one offset. */
	assert_int_equal(read(fd, buf, 3), 3);
	assert_int_equal(read(d, buf, 3), 3);
	assert_memory_equal(buf, "def", 3);
	assert_int_equal(dup2(fd, 100), 100);
	assert_int_equal(lseek(100, 0, SEEK_CUR), 6);
	d2 = fcntl(fd, F_DUPFD, 50);
	assert_true(d2 >= 50);
	assert_int_equal(fcntl(d2, F_GETFD), 0);
	assert_int_equal(dup3(fd, 101, O_CLOEXEC), 101);
	assert_int_equal(fcntl(101, F_GETFD), FD_CLOEXEC);
	/* The host placeholder carries the same flag (exec drops it). */
	assert_int_equal(raw(SYS_fcntl, 101, F_GETFD, 0, 0), FD_CLOEXEC);
	assert_int_equal(fcntl(101, F_SETFD, 0), 0);
	assert_int_equal(raw(SYS_fcntl, 101, F_GETFD, 0, 0), 0);
	assert_int_equal(dup2(fd, fd), fd);
	assert_int_equal(dup3(fd, fd, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* A host fd over a vfd makes it a host fd again. */
	h = open("/dev/zero", O_RDONLY);
	assert_int_equal(dup2(h, 100), 100);
	assert_int_equal(read(100, buf, 2), 2);
	assert_int_equal(buf[0], 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 6);
	close(h);
	close(100);
	close(101);
	close(d2);
	close(d);
	close(fd);
	assert_int_equal(fcntl(d, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static void test_dup2_over_stdout(void **state)
{
	char buf[32];
	int save, fd;

	(void)state;
	fflush(stdout);
	save = dup(1);
	fd = open("/uk/stdout", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 1), 1);
	close(fd);
	assert_int_equal(write(1, "to stdout", 9), 9);
	assert_int_equal(dup2(save, 1), 1);
	close(save);
	assert_int_equal(st_get("/uk/stdout", buf, sizeof(buf)), 9);
	assert_string_equal(buf, "to stdout");
}

/* In a child: the program closes everything; the shim must live on. */
static void test_close_range_keeps_shim(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(st_put("/uk/cr", "cr"), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl;
		char buf[8];
		int fd = open("/uk/cr", O_RDONLY), e = 0;

		if (fd < 3)
			_exit(10);
		if (close_range(3, ~0U, 0))
			_exit(11);
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			_exit(12);
		if (st_get("/uk/cr", buf, sizeof(buf)) != 2)
			_exit(13);
		closefrom(3);
		if (st_get("/uk/cr", buf, sizeof(buf)) != 2)
			_exit(14);
		/* The old-fashioned loop over every number. */
		getrlimit(RLIMIT_NOFILE, &rl);
		for (int i = 3; i < (int)rl.rlim_cur && i < 65536; i++)
			if (!close(i))
				e++;
		if (st_get("/uk/cr", buf, sizeof(buf)) != 2)
			_exit(15);
		/* dup2 onto every high number. */
		for (int i = (int)rl.rlim_cur - 40;
		     i < (int)rl.rlim_cur && i < 65536; i++)
			dup2(0, i);
		if (st_get("/uk/cr", buf, sizeof(buf)) != 2)
			_exit(16);
		fd = open("/uk/cr", O_RDONLY);
		if (fd < 0 || close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) ||
		    fcntl(fd, F_GETFD) != FD_CLOEXEC)
			_exit(17);
		_exit(e == 0 ? 0 : 18);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_virtual_cwd(void **state)
{
	char cwd[4096], host[4096];
	struct stat a, b;
	int fd;

	(void)state;
	assert_non_null(getcwd(host, sizeof(host)));
	assert_int_equal(mkdir("/uk/c1", 0755), 0);
	assert_int_equal(mkdir("/uk/c1/c2", 0755), 0);
	assert_int_equal(chdir("/uk/c1/c2"), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_string_equal(cwd, "/uk/c1/c2");
	fd = open("rel", O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access("/uk/c1/c2/rel", F_OK), 0);
	assert_int_equal(chdir(".."), 0);
	assert_string_equal(getcwd(cwd, sizeof(cwd)), "/uk/c1");
	assert_int_equal(access("c2/rel", F_OK), 0);
	/* ".." never leaves the root. */
	assert_int_equal(chdir("../../../.."), 0);
	assert_string_equal(getcwd(cwd, sizeof(cwd)), "/uk");
	assert_int_equal(stat("..", &a), 0);
	assert_int_equal(stat("/uk", &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(stat("/uk/../../c1", &a), 0);
	assert_true(S_ISDIR(a.st_mode));
	{
		char *g = get_current_dir_name();

		assert_string_equal(g, "/uk");
		free(g);
	}
	assert_int_equal(getcwd(cwd, 3) == NULL && errno == ERANGE, 1);
	assert_int_equal(getcwd(NULL, 3) == NULL && errno == ERANGE, 1);
	{
		char *g = getcwd(NULL, 100);

		assert_string_equal(g, "/uk");
		free(g);
	}
	/* fchdir into a virtual directory, then back out to the host. */
	fd = open("/uk/c1/c2", O_RDONLY | O_DIRECTORY);
	assert_int_equal(chdir(host), 0);
	assert_string_equal(getcwd(cwd, sizeof(cwd)), host);
	assert_int_equal(fchdir(fd), 0);
	assert_string_equal(getcwd(cwd, sizeof(cwd)), "/uk/c1/c2");
	/* An absolute host path still goes to the host. */
	assert_int_equal(stat(host, &a), 0);
	assert_int_equal(chdir(host), 0);
	close(fd);
}

static void test_at_calls(void **state)
{
	char buf[32];
	struct stat st;
	int dfd, fd, hfd;

	(void)state;
	assert_int_equal(mkdir("/uk/at", 0755), 0);
	dfd = open("/uk/at", O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	fd = openat(dfd, "a", O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "at", 2), 2);
	close(fd);
	assert_int_equal(fstatat(dfd, "a", &st, 0), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(mkdirat(dfd, "sub", 0700), 0);
	assert_int_equal(renameat(dfd, "a", dfd, "sub/b"), 0);
	assert_int_equal(st_get("/uk/at/sub/b", buf, sizeof(buf)), 2);
	assert_int_equal(linkat(dfd, "sub/b", dfd, "c", 0), 0);
	assert_int_equal(symlinkat("sub/b", dfd, "l"), 0);
	assert_int_equal(readlinkat(dfd, "l", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "sub/b", 5);
	assert_int_equal(faccessat(dfd, "l", R_OK, 0), 0);
	assert_int_equal(fchmodat(dfd, "c", 0640, 0), 0);
	assert_int_equal(fstatat(dfd, "sub/b", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(unlinkat(dfd, "c", 0), 0);
	assert_int_equal(unlinkat(dfd, "l", 0), 0);
	/* AT_EMPTY_PATH on the vfd itself. */
	assert_int_equal(fstatat(dfd, "", &st, AT_EMPTY_PATH), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Absolute host paths ignore a virtual dirfd... */
	assert_int_equal(fstatat(dfd, "/dev/null", &st, 0), 0);
	assert_true(S_ISCHR(st.st_mode));
	/* ...and absolute virtual paths a host dirfd. */
	hfd = open("/dev", O_RDONLY | O_DIRECTORY);
	assert_int_equal(fstatat(hfd, "/uk/at/sub/b", &st, 0), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(fstatat(hfd, "null", &st, 0), 0);
	close(hfd);
	/* Across the two is another file system. */
	{
		char p[400];

		snprintf(p, sizeof(p), "%s/moved", st_dir);
		assert_int_equal(rename("/uk/at/sub/b", p), -1);
		assert_int_equal(errno, EXDEV);
		assert_int_equal(link("/uk/at/sub/b", p), -1);
		assert_int_equal(errno, EXDEV);
	}
	close(dfd);
}

static void test_getdents64(void **state)
{
	char buf[4096];
	int fd, found = 0;
	ssize_t n;

	(void)state;
	assert_int_equal(mkdir("/uk/ls", 0755), 0);
	assert_int_equal(st_put("/uk/ls/one", "1"), 0);
	assert_int_equal(st_put("/uk/ls/two", "2"), 0);
	assert_int_equal(mkdir("/uk/ls/three", 0755), 0);
	fd = open("/uk/ls", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (void *)(buf + off);

			if (!strcmp(d->d_name, "one") ||
			    !strcmp(d->d_name, "two"))
				found += d->d_type == DT_REG ? 1 : 100;
			if (!strcmp(d->d_name, "three"))
				found += d->d_type == DT_DIR ? 1 : 100;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				found += 10;
			off += d->d_reclen;
		}
	}
	assert_int_equal(n, 0);
	assert_int_equal(found, 23);
	close(fd);
}

/* Null pointers on purpose: not UBSan's business here. */
__attribute__((no_sanitize("nonnull-attribute")))
static void test_efault(void **state)
{
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	struct stat st;
	int fd, dfd, wst;
	pid_t pid;

	(void)state;
	assert_true(bad != MAP_FAILED);
	assert_int_equal(stat(st_hide(NULL), &st), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(open(st_hide(NULL), O_RDONLY), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(stat("/uk/vf", st_hide(NULL)), -1);
	assert_int_equal(errno, EFAULT);
	/* Paths read by the shim itself are copied fault-safely. */
	dfd = open("/uk", O_RDONLY | O_DIRECTORY);
	assert_int_equal(openat(dfd, bad, O_RDONLY), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fstatat(dfd, (char *)bad + 100, &st, 0), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(chdir("/uk"), 0);
	assert_int_equal(open(bad, O_RDONLY), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(mkdir((char *)bad + 7, 0700), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(symlink(bad, "sl"), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(chdir("/"), 0);
	/*
	 * So is an absolute path's prefix, in a host context too. cmocka's
	 * SIGSEGV handler replaced the shim's: a forked child's reconnect
	 * puts the shim's back in front.
	 */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (stat("/uk/vf", &st))
			_exit(10);
		if (open(bad, O_RDONLY) != -1 || errno != EFAULT)
			_exit(11);
		if (rename(bad, "/uk/vf") != -1 || errno != EFAULT)
			_exit(12);
		if (link("/uk/vf", bad) != -1 || errno != EFAULT)
			_exit(13);
		if (utimensat(AT_FDCWD, bad, NULL, 0) != -1 || errno != EFAULT)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
	/* Buffers below 4096 are the daemon's to refuse. */
	fd = open("/uk/vf", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, st_hide(NULL), 10), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(write(fd, st_hide((void *)16), 10), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fstat(fd, st_hide(NULL)), -1);
	assert_int_equal(errno, EFAULT);
	close(fd);
	close(dfd);
	munmap(bad, 4096);
}

static void test_syscall(void **state)
{
	char buf[64];
	long fd;

	(void)state;
	fd = syscall(SYS_openat, AT_FDCWD, "/uk/sys", O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(syscall(SYS_write, fd, "sys", 3), 3);
	assert_int_equal(syscall(SYS_pread64, fd, buf, 3, 0), 3);
	assert_memory_equal(buf, "sys", 3);
	assert_int_equal(syscall(SYS_close, fd), 0);
	assert_int_equal(syscall(SYS_close, fd), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(syscall(SYS_mkdir, "/uk/sysd", 0700), 0);
	assert_int_equal(syscall(SYS_chdir, "/uk/sysd"), 0);
	assert_int_equal(syscall(SYS_getcwd, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "/uk/sysd");
	assert_int_equal(syscall(SYS_chdir, "/"), 0);
	assert_int_equal(syscall(SYS_unlink, "/uk/missing"), -1);
	assert_int_equal(errno, ENOENT);
	/* Other numbers are the host's. */
	assert_int_equal(syscall(SYS_getpid), getpid());
}

static void test_more_calls(void **state)
{
	char buf[64], list[256];
	struct iovec iov[2];
	struct stat st;
	struct statvfs sv;
	struct statfs sf;
	struct timespec ts[2] = { { 1000, 5 }, { 2000, 6 } };
	int fd, n, h;
	off_t off;

	(void)state;
	fd = open("/uk/more", O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	iov[0] = (struct iovec){ "ab", 2 };
	iov[1] = (struct iovec){ "cd", 2 };
	assert_int_equal(writev(fd, iov, 2), 4);
	assert_int_equal(pwrite(fd, "XY", 2, 1), 2);
	assert_int_equal(pread(fd, buf, 4, 0), 4);
	assert_memory_equal(buf, "aXYd", 4);
	assert_int_equal(pwritev(fd, iov, 2, 4), 4);
	iov[0] = (struct iovec){ buf, 3 };
	iov[1] = (struct iovec){ buf + 3, 5 };
	assert_int_equal(preadv(fd, iov, 2, 0), 8);
	assert_memory_equal(buf, "aXYdabcd", 8);
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(truncate("/uk/more", 50), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 50);
	assert_int_equal(posix_fallocate(fd, 0, 200), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 200);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fdatasync(fd), 0);
	/* ioctl: the few a file answers, ENOTTY for the rest */
	assert_int_equal(lseek(fd, 150, SEEK_SET), 150);
	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	assert_int_equal(n, 50);
	assert_int_equal(ioctl(fd, FIOCLEX), 0);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(ioctl(fd, FIONCLEX), 0);
	assert_int_equal(fcntl(fd, F_GETFD), 0);
	assert_int_equal(ioctl(fd, TCGETS, buf), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(isatty(fd), 0);
	/* locks */
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(flock(fd, LOCK_UN), 0);
	assert_int_equal(lockf(fd, F_TLOCK, 10), 0);
	assert_int_equal(lockf(fd, F_ULOCK, 10), 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	/* attributes */
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(chmod("/uk/more", 0700), 0);
	assert_int_equal(access("/uk/more", X_OK), 0);
	assert_int_equal(euidaccess("/uk/more", R_OK), 0);
	assert_int_equal(futimens(fd, ts), 0);
	assert_int_equal(stat("/uk/more", &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 2000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	{
		struct utimbuf ub = { 3000, 4000 };
		struct timeval tv[2] = { { 5000, 1 }, { 6000, 2 } };

		assert_int_equal(utime("/uk/more", &ub), 0);
		assert_int_equal(stat("/uk/more", &st), 0);
		assert_int_equal(st.st_mtime, 4000);
		assert_int_equal(utimes("/uk/more", tv), 0);
		assert_int_equal(stat("/uk/more", &st), 0);
		assert_int_equal(st.st_mtim.tv_nsec, 2000);
		assert_int_equal(futimes(fd, NULL), 0);
	}
	assert_int_equal(chown("/uk/more", getuid(), getgid()), 0);
	assert_int_equal(fchown(fd, (uid_t)-1, (gid_t)-1), 0);
	{
		struct statx sx;

		assert_int_equal(statx(AT_FDCWD, "/uk/more", 0, STATX_SIZE, &sx),
				 0);
		assert_int_equal(sx.stx_size, 200);
	}
	/* xattrs */
	assert_int_equal(setxattr("/uk/more", "user.k", "v1", 2, 0), 0);
	assert_int_equal(getxattr("/uk/more", "user.k", buf, sizeof(buf)), 2);
	assert_int_equal(fgetxattr(fd, "user.k", buf, sizeof(buf)), 2);
	assert_true(listxattr("/uk/more", list, sizeof(list)) >= 7);
	assert_int_equal(fremovexattr(fd, "user.k"), 0);
	assert_int_equal(getxattr("/uk/more", "user.k", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	/* file systems */
	assert_int_equal(statvfs("/uk", &sv), 0);
	assert_true(sv.f_bsize > 0);
	assert_int_equal(fstatvfs(fd, &sv), 0);
	assert_int_equal(fstatfs(fd, &sf), 0);
	assert_int_equal(statfs("/uk/more", &sf), 0);
	/* sendfile and copy_file_range, within and across */
	h = open("/etc/hostname", O_RDONLY);
	assert_true(h >= 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	{
		struct stat hs;
		int out;

		fstat(h, &hs);
		assert_int_equal(sendfile(fd, h, NULL, 4096), hs.st_size);
		off = 0;
		out = open("/uk/more2", O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_int_equal(copy_file_range(fd, &off, out, NULL, 4096, 0),
				 hs.st_size);
		assert_int_equal(copy_file_range(h, NULL, out, NULL, 10, 0), -1);
		assert_int_equal(errno, EXDEV);
		off = 0;
		{
			int p[2];

			assert_int_equal(pipe(p), 0);
			assert_int_equal(sendfile(p[1], out, &off, 4096),
					 hs.st_size);
			assert_int_equal(off, hs.st_size);
			assert_int_equal(read(p[0], buf, sizeof(buf)) > 0, 1);
			close(p[0]);
			close(p[1]);
		}
		close(out);
	}
	close(h);
	close(fd);
	/* mknod / mkfifo */
	assert_int_equal(mkfifo("/uk/fifo", 0600), 0);
	assert_int_equal(lstat("/uk/fifo", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(symlink("more", "/uk/lnk"), 0);
	assert_int_equal(readlink("/uk/lnk", buf, sizeof(buf)), 4);
	assert_int_equal(lstat("/uk/lnk", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lchown("/uk/lnk", (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(rename("/uk/more2", "/uk/more3"), 0);
	assert_int_equal(renameat2(AT_FDCWD, "/uk/more3", AT_FDCWD, "/uk/more",
				   RENAME_NOREPLACE),
			 -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(creat("/uk/creat", 0600) >= 0, 1);
}

/*
 * Absolute symlinks written the way a program under the shim sees the
 * tree ("/uk/..."): the daemon follows them inside its root, readlink
 * returns what was written, realpath names the target under /uk.
 */
static void test_absolute_symlink(void **state)
{
	char buf[PATH_MAX], *rp;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(mkdir("/uk/adir", 0755), 0);
	fd = open("/uk/adir/file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);

	assert_int_equal(symlink("/uk/adir/file", "/uk/al"), 0);
	fd = open("/uk/al", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink("/uk/al", buf, sizeof(buf)), 13);
	assert_string_equal(buf, "/uk/adir/file");
	rp = realpath("/uk/al", NULL);
	assert_non_null(rp);
	assert_string_equal(rp, "/uk/adir/file");
	free(rp);

	/* in the middle of a path, to the root itself, spelt loosely */
	assert_int_equal(symlink("/uk/adir", "/uk/ad"), 0);
	assert_int_equal(stat("/uk/ad/file", &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(symlink("/uk", "/uk/aroot"), 0);
	assert_int_equal(stat("/uk/aroot/adir/file", &st), 0);
	assert_int_equal(symlink("//uk/./adir//file", "/uk/aloose"), 0);
	assert_int_equal(stat("/uk/aloose", &st), 0);
	assert_int_equal(st.st_size, 5);
	/* a link from a subdirectory, and through a virtual cwd */
	assert_int_equal(symlink("/uk/adir/file", "/uk/adir/back"), 0);
	assert_int_equal(chdir("/uk/adir"), 0);
	assert_int_equal(stat("back", &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(chdir("/"), 0);
	/* "/ukx" is not under the root */
	assert_int_equal(symlink("/ukx/adir/file", "/uk/anot"), 0);
	assert_int_equal(stat("/uk/anot", &st), -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * The daemon's descriptor limit follows the process's RLIMIT_NOFILE (soft)
 * at connect, not a fixed 1024: a child that raised it before its first
 * call can dup a vfd to 2000, as on Linux; F_DUPFD at the limit is EINVAL.
 */
static void test_nofile_follows_rlimit(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rlimit rl = { 4096, 4096 };
		int fd, d;

		if (raw(SYS_setrlimit, RLIMIT_NOFILE, (long)&rl, 0, 0))
			_exit(77); /* cannot raise it here */
		fd = open("/uk/nofile", O_RDWR | O_CREAT, 0644);
		if (fd < 0)
			_exit(10);
		d = fcntl(fd, F_DUPFD, 2000);
		if (d < 2000)
			_exit(11);
		if (write(d, "x", 1) != 1)
			_exit(12);
		if (fcntl(fd, F_DUPFD, 4096) != -1 || errno != EINVAL)
			_exit(13);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		print_message("skipped: RLIMIT_NOFILE cannot be raised\n");
	else
		assert_int_equal(WEXITSTATUS(st), 0);
}

/* An empty name is ENOENT before host and /uk are told apart (EXDEV). */
static void test_two_paths_empty(void **state)
{
	(void)state;
	assert_int_equal(st_put("/uk/ep", "e"), 0);
	errno = 0;
	assert_int_equal(rename("", "/uk/ep2"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rename("/uk/ep", ""), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(link("", "/uk/ep2"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(link("/uk/ep", ""), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(renameat2(AT_FDCWD, "", AT_FDCWD, "/uk/ep2", 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(linkat(AT_FDCWD, "/uk/ep", AT_FDCWD, "", 0), -1);
	assert_int_equal(errno, ENOENT);
	/* A real host name still says EXDEV. */
	assert_int_equal(rename("/uk/ep", "/tmp/ep"), -1);
	assert_int_equal(errno, EXDEV);
}

/*
 * A forked child that drops root must lose root's rights on /uk too: the
 * shim passes the id changes on to its daemon task.
 */
static void test_drop_privileges(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir("/uk/rootdir", 0755), 0);
	assert_int_equal(mkdir("/uk/opendir", 0777), 0);
	assert_int_equal(chmod("/uk/opendir", 0777), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		gid_t g = 65534;
		struct stat sb;
		int fd;

		if (setgroups(1, &g) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		fd = open("/uk/rootdir/f", O_WRONLY | O_CREAT, 0644);
		if (fd >= 0 || errno != EACCES)
			_exit(11);
		fd = open("/uk/opendir/f", O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			_exit(12);
		close(fd);
		if (stat("/uk/opendir/f", &sb) || sb.st_uid != 65534 ||
		    sb.st_gid != 65534)
			_exit(13);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * Ids changed behind the shim's back (a raw system call, as a child that
 * execs a program without the shim would) before the child's first call:
 * the daemon takes the host's creds at connect, not the parent's.
 */
static void test_drop_privileges_unseen(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir("/uk/rootdir2", 0755), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		gid_t g = 65534;
		int fd;

		if (raw(SYS_setgroups, 1, (long)&g, 0, 0) ||
		    raw(SYS_setresgid, 65534, 65534, 65534, 0) ||
		    raw(SYS_setresuid, 65534, 65534, 65534, 0))
			_exit(10);
		fd = open("/uk/rootdir2/f", O_WRONLY | O_CREAT, 0644);
		if (fd >= 0 || errno != EACCES)
			_exit(11);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_paths_untouched),
		cmocka_unit_test(test_virtual_file),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_vfd_placeholder),
		cmocka_unit_test(test_dup_family),
		cmocka_unit_test(test_dup2_over_stdout),
		cmocka_unit_test(test_close_range_keeps_shim),
		cmocka_unit_test(test_virtual_cwd),
		cmocka_unit_test(test_at_calls),
		cmocka_unit_test(test_getdents64),
		cmocka_unit_test(test_efault),
		cmocka_unit_test(test_syscall),
		cmocka_unit_test(test_more_calls),
		cmocka_unit_test(test_absolute_symlink),
		cmocka_unit_test(test_nofile_follows_rlimit),
		cmocka_unit_test(test_two_paths_empty),
		cmocka_unit_test(test_drop_privileges),
		cmocka_unit_test(test_drop_privileges_unseen),
	};

	/* A child that drops to 65534 connects as that user. */
	st_allow_nobody = true;
	shim_test_boot(argc, argv, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
