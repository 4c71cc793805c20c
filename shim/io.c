// SPDX-License-Identifier: MIT
/*
 * shim/io.c - wrappers that open, close, read, write and sync: the open
 * family (with the fortify and 64-bit variants), close, read/write and
 * their vectored and positioned forms, lseek, truncate/allocate/advise,
 * the sync calls, getdents64, copy_file_range and sendfile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shimlib.h"
#include "wrap.h"

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
		      size_t buflen);
void __chk_fail(void) __attribute__((noreturn));

/*
 * Whether this thread's last virtual open failed: then the next one takes
 * its placeholder only after the daemon answered, so that a run of failing
 * opens (a search along a path list) pays no host dup and close for
 * nothing. Plain int (initial-exec TLS): no allocation, signal-safe.
 */
static __thread bool open_failed;

/*
 * FIFOs. The daemon has no pipes (a kernel in one process has no other
 * end), so its open of a FIFO says ENXIO, after the permission check, as
 * Linux's order has it. Readers and writers in different processes need a
 * real pipe between them: the FIFO under the root gets a shadow, a host
 * FIFO named after its device and inode in a directory beside the
 * daemon's socket ("<socket>.fifo/", 0700: per user, like the socket's own
 * directory), and the open goes to it, with the host kernel's semantics
 * (a blocking open waits for the other end, O_NONBLOCK writer with no
 * reader is ENXIO). The descriptor is a host one: fstat shows the
 * shadow's inode. Returns the fd, -errno, or -ENXIO when vp is not a FIFO.
 */
static long vfifo_open(int vd, const char *vp, int flags)
{
	const char *sock = uk_socket_resolved(uk_client.path);
	char dir[160], shadow[200];
	struct stat st;
	long r;

	r = shim_vcall(SYS_newfstatat, vd, vp, &st,
		       (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0);
	if (r < 0 || !S_ISFIFO(st.st_mode))
		return -ENXIO;
	if (!sock)
		sock = uk_client.path;
	if ((size_t)snprintf(dir, sizeof(dir), "%s.fifo", sock) >= sizeof(dir) ||
	    (size_t)snprintf(shadow, sizeof(shadow), "%s/%llx.%llx", dir,
			     (unsigned long long)st.st_dev,
			     (unsigned long long)st.st_ino) >= sizeof(shadow))
		return -ENAMETOOLONG;
	r = shim_host_syscall(SYS_mkdir, (long)dir, 0700, 0, 0, 0, 0);
	if (r < 0 && r != -EEXIST)
		return r;
	r = shim_host_syscall(SYS_mknodat, AT_FDCWD, (long)shadow,
			      S_IFIFO | 0600, 0, 0, 0);
	if (r < 0 && r != -EEXIST)
		return r;
	r = SHIM_REAL(open)(shadow, flags & ~(O_CREAT | O_EXCL | O_TRUNC |
					       O_NOFOLLOW | O_DIRECTORY));
	return r < 0 ? -errno : r;
}

/*
 * An open in the daemon, then its vfd; SHIM_HOST when the path is the
 * host's. The placeholder is taken (a host F_DUPFD) while the daemon works
 * on the open: the two system calls' costs overlap instead of adding up.
 * The number is the host's lowest free one either way; if the open fails
 * it is given back.
 */
static long vopen(int dirfd, const char *path, int flags, mode_t mode)
{
	char vp[SHIM_PATH_MAX];
	struct shim_vfd_resv res = { .minfd = 0, .cloexec = flags & O_CLOEXEC };
	long a[6];
	int vd, k, taken;
	long d;

	/*
	 * No open takes a null path: answer the kernel's EFAULT here rather
	 * than hand NULL to glibc's open, whose path is declared nonnull.
	 */
	if ((uintptr_t)path < 4096)
		return -EFAULT;
	k = shim_path_resolve(dirfd, path, &vd, vp, sizeof(vp));
	if (k <= 0)
		return k ? k : SHIM_HOST;
	a[0] = vd;
	a[1] = (long)vp;
	a[2] = flags;
	a[3] = mode;
	a[4] = a[5] = 0;
	taken = shim_vfd_lock();
	res.nested = !taken;
	d = shim_path_err(shim_vcall_overlap(SYS_openat, a,
					     open_failed ? NULL :
							   shim_vfd_reserve_fn,
					     &res));
	open_failed = d < 0;
	if (d < 0)
		shim_vfd_unreserve(&res);
	else
		d = shim_vfd_install_reserved((int)d, &res);
	shim_vfd_unlock(taken);
	/* Not under the install lock: a blocking FIFO open waits. */
	if (d == -ENXIO)
		d = vfifo_open(vd, vp, flags);
	return d;
}

/* The mode argument exists only with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                                 \
	mode_t mode = 0;                                                       \
	if ((flags) & (O_CREAT | __O_TMPFILE)) {                               \
		va_list ap;                                                    \
		va_start(ap, last);                                            \
		mode = va_arg(ap, mode_t);                                     \
		va_end(ap);                                                    \
	}

#define VOPEN_OR(dirfd, path, flags, mode, hostcall)                           \
	do {                                                                   \
		long r_;                                                       \
		if (shim_path_quick_host(dirfd, path))                         \
			return hostcall;                                       \
		r_ = vopen(dirfd, path, flags, mode);                          \
		if (r_ != SHIM_HOST)                                           \
			return shim_ret(r_);                                   \
		return hostcall;                                               \
	} while (0)

SHIM_WRAPPERS_BEGIN

int open(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	VOPEN_OR(AT_FDCWD, path, flags, mode, SHIM_REAL(open)(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	VOPEN_OR(AT_FDCWD, path, flags, mode,
		 SHIM_REAL(open64)(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	VOPEN_OR(dirfd, path, flags, mode,
		 SHIM_REAL(openat)(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	VOPEN_OR(dirfd, path, flags, mode,
		 SHIM_REAL(openat64)(dirfd, path, flags, mode));
}

int __open_2(const char *path, int flags)
{
	VOPEN_OR(AT_FDCWD, path, flags, 0, SHIM_REAL(__open_2)(path, flags));
}

int __open64_2(const char *path, int flags)
{
	VOPEN_OR(AT_FDCWD, path, flags, 0, SHIM_REAL(__open64_2)(path, flags));
}

int __openat_2(int dirfd, const char *path, int flags)
{
	VOPEN_OR(dirfd, path, flags, 0,
		 SHIM_REAL(__openat_2)(dirfd, path, flags));
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	VOPEN_OR(dirfd, path, flags, 0,
		 SHIM_REAL(__openat64_2)(dirfd, path, flags));
}

int creat(const char *path, mode_t mode)
{
	VOPEN_OR(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode,
		 SHIM_REAL(creat)(path, mode));
}

int creat64(const char *path, mode_t mode)
{
	VOPEN_OR(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode,
		 SHIM_REAL(creat64)(path, mode));
}

struct close_ctx {
	int fd;
	bool done;
};

static void close_host(void *arg)
{
	struct close_ctx *c = arg;

	shim_vfd_close_begin(c->fd);
	c->done = true;
}

/*
 * close of a vfd closes it in the daemon and drops the placeholder; close
 * of one of the shim's own descriptors is EBADF, as for a number the
 * process never opened.
 */
int close(int fd)
{
	IF_BUSY(SHIM_REAL(close)(fd));
	if (shim_fd_is_virtual(fd)) {
		long r;

		long a[6] = { fd };
		struct close_ctx c = { fd, false };

		shim_mmap_sync_fd(fd); /* shared mappings' dirty pages */
		/* The placeholder's host close overlaps the daemon's. */
		r = shim_vcall_overlap(SYS_close, a, close_host, &c);
		if (!c.done)
			shim_vfd_close_begin(fd);
		shim_vfd_close_end(fd);
		return (int)shim_ret(r);
	}
	if (shim_fd_is_private(fd))
		return (int)shim_ret(-EBADF);
	return SHIM_REAL(close)(fd);
}

ssize_t read(int fd, void *buf, size_t n)
{
	FD_ROUTE(fd, shim_vcall(SYS_read, fd, buf, n));
	return SHIM_REAL(read)(fd, buf, n);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	FD_ROUTE(fd, shim_vcall(SYS_write, fd, buf, n));
	return SHIM_REAL(write)(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pread64, fd, buf, n, off));
	return SHIM_REAL(pread)(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pread64, fd, buf, n, off));
	return SHIM_REAL(pread64)(fd, buf, n, off);
}

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread(fd, buf, n, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off,
		      size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pwrite64, fd, buf, n, off));
	return SHIM_REAL(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pwrite64, fd, buf, n, off));
	return SHIM_REAL(pwrite64)(fd, buf, n, off);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	FD_ROUTE(fd, shim_vcall(SYS_readv, fd, iov, cnt));
	return SHIM_REAL(readv)(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	FD_ROUTE(fd, shim_vcall(SYS_writev, fd, iov, cnt));
	return SHIM_REAL(writev)(fd, iov, cnt);
}

/* x86-64 passes the offset whole in pos_l; pos_h is 0. */
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_preadv, fd, iov, cnt, off, 0));
	return SHIM_REAL(preadv)(fd, iov, cnt, off);
}

ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_preadv, fd, iov, cnt, off, 0));
	return SHIM_REAL(preadv64)(fd, iov, cnt, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pwritev, fd, iov, cnt, off, 0));
	return SHIM_REAL(pwritev)(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	FD_ROUTE(fd, shim_vcall(SYS_pwritev, fd, iov, cnt, off, 0));
	return SHIM_REAL(pwritev64)(fd, iov, cnt, off);
}

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off,
		int flags)
{
	FD_ROUTE(fd, shim_vcall(SYS_preadv2, fd, iov, cnt, off, 0, flags));
	return SHIM_REAL(preadv2)(fd, iov, cnt, off, flags);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off,
		 int flags)
{
	FD_ROUTE(fd, shim_vcall(SYS_pwritev2, fd, iov, cnt, off, 0, flags));
	return SHIM_REAL(pwritev2)(fd, iov, cnt, off, flags);
}

off_t lseek(int fd, off_t off, int whence)
{
	FD_ROUTE(fd, shim_vcall(SYS_lseek, fd, off, whence));
	return SHIM_REAL(lseek)(fd, off, whence);
}

off64_t lseek64(int fd, off64_t off, int whence)
{
	FD_ROUTE(fd, shim_vcall(SYS_lseek, fd, off, whence));
	return SHIM_REAL(lseek64)(fd, off, whence);
}

int ftruncate(int fd, off_t len)
{
	FD_ROUTE(fd, shim_vcall(SYS_ftruncate, fd, len));
	return SHIM_REAL(ftruncate)(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
	FD_ROUTE(fd, shim_vcall(SYS_ftruncate, fd, len));
	return SHIM_REAL(ftruncate64)(fd, len);
}

int truncate(const char *path, off_t len)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_truncate, vp, len));
	return SHIM_REAL(truncate)(path, len);
}

int truncate64(const char *path, off64_t len)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_truncate, vp, len));
	return SHIM_REAL(truncate64)(path, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	FD_ROUTE(fd, shim_vcall(SYS_fallocate, fd, mode, off, len));
	return SHIM_REAL(fallocate)(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	FD_ROUTE(fd, shim_vcall(SYS_fallocate, fd, mode, off, len));
	return SHIM_REAL(fallocate64)(fd, mode, off, len);
}

/* posix_fallocate and posix_fadvise return the error number itself. */
static int posix_err(long r)
{
	return r < 0 ? (int)-r : 0;
}

int posix_fallocate(int fd, off_t off, off_t len)
{
	if (shim_fd_is_virtual(fd)) {
		if (off < 0 || len <= 0)
			return EINVAL;
		return posix_err(shim_vcall(SYS_fallocate, fd, 0, off, len));
	}
	return SHIM_REAL(posix_fallocate)(fd, off, len);
}

int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	if (shim_fd_is_virtual(fd)) {
		if (off < 0 || len <= 0)
			return EINVAL;
		return posix_err(shim_vcall(SYS_fallocate, fd, 0, off, len));
	}
	return SHIM_REAL(posix_fallocate64)(fd, off, len);
}

int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
	if (shim_fd_is_virtual(fd))
		return posix_err(shim_vcall(SYS_fadvise64, fd, off, len,
					    advice));
	return SHIM_REAL(posix_fadvise)(fd, off, len, advice);
}

int posix_fadvise64(int fd, off64_t off, off64_t len, int advice)
{
	if (shim_fd_is_virtual(fd))
		return posix_err(shim_vcall(SYS_fadvise64, fd, off, len,
					    advice));
	return SHIM_REAL(posix_fadvise64)(fd, off, len, advice);
}

int fsync(int fd)
{
	FD_ROUTE(fd, shim_mmap_fsync(fd, SYS_fsync));
	return SHIM_REAL(fsync)(fd);
}

int fdatasync(int fd)
{
	FD_ROUTE(fd, shim_mmap_fsync(fd, SYS_fdatasync));
	return SHIM_REAL(fdatasync)(fd);
}

int syncfs(int fd)
{
	FD_ROUTE(fd, shim_vcall(SYS_syncfs, fd));
	return SHIM_REAL(syncfs)(fd);
}

/*
 * sync(2) flushes every file system, the one under the root included: the
 * daemon's too (its sync writes back, commits and flushes the image),
 * after our MAP_SHARED shadows went back. A process that never talked to
 * the daemon (the sync command after `cp x /uk/`) connects when the
 * daemon's socket is there; with none it is the host's sync alone, and
 * says nothing.
 */
void sync(void)
{
	char sock[108];
	struct stat st;

	SHIM_REAL(sync)();
	if (!shim_connected() &&
	    (uk_default_socket_path(sock, sizeof(sock)) < 0 ||
	     shim_host_syscall(SYS_newfstatat, AT_FDCWD, (long)sock, (long)&st,
			       0, 0, 0) < 0 ||
	     !S_ISSOCK(st.st_mode)))
		return;
	shim_mmap_sync_all();
	shim_vcall(SYS_sync);
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	FD_ROUTE(fd, shim_vcall(SYS_sync_file_range, fd, off, n, flags));
	return SHIM_REAL(sync_file_range)(fd, off, n, flags);
}

ssize_t getdents64(int fd, void *buf, size_t n)
{
	FD_ROUTE(fd, shim_vcall(SYS_getdents64, fd, buf, n));
	return SHIM_REAL(getdents64)(fd, buf, n);
}

/*
 * Copies between a host and a virtual descriptor with a bounce buffer
 * (on the stack: async-signal-safe). *off, when given, is the input's
 * position (pread, then advanced). Returns bytes copied or -errno.
 */
static long bounce(int out, int in, off64_t *off, size_t count)
{
	char buf[16384];
	size_t done = 0;

	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done
							  : sizeof(buf);
		ssize_t n, w;
		int saved = errno;

		n = off ? pread64(in, buf, want, *off) : read(in, buf, want);
		if (n <= 0) {
			long e = n < 0 ? -errno : 0;

			errno = saved;
			if (n < 0 && !done)
				return e;
			break;
		}
		for (ssize_t put = 0; put < n; put += w) {
			w = write(out, buf + put, (size_t)(n - put));
			if (w <= 0) {
				long e = w < 0 ? -errno : -EIO;

				errno = saved;
				if (off)
					*off += put;
				done += (size_t)put;
				return done ? (long)done : e;
			}
		}
		errno = saved;
		if (off)
			*off += n;
		done += (size_t)n;
		if ((size_t)n < want)
			break;
	}
	return (long)done;
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	bool vo = shim_fd_is_virtual(out), vi = shim_fd_is_virtual(in);

	if (vo && vi)
		return shim_ret(shim_vcall(SYS_sendfile, out, in, off, count));
	if (vo || vi)
		return shim_ret(bounce(out, in, (off64_t *)off, count));
	return SHIM_REAL(sendfile)(out, in, off, count);
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t count)
{
	return sendfile(out, in, (off_t *)off, count);
}

/*
 * copy_file_range between the host and the daemon is EXDEV, as Linux says
 * across file systems it cannot copy between; cp and friends fall back to
 * read and write.
 */
ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out,
			size_t len, unsigned int flags)
{
	bool vo = shim_fd_is_virtual(out), vi = shim_fd_is_virtual(in);

	if (vo && vi)
		return shim_ret(shim_vcall(SYS_copy_file_range, in, off_in,
					   out, off_out, len, flags));
	if (vo || vi)
		return shim_ret(-EXDEV);
	return SHIM_REAL(copy_file_range)(in, off_in, out, off_out, len, flags);
}

SHIM_WRAPPERS_END
