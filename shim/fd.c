// SPDX-License-Identifier: MIT
/*
 * shim/fd.c - wrappers on the descriptor table: dup/dup2/dup3, fcntl,
 * close_range/closefrom, ioctl, flock/lockf, umask.
 *
 * A vfd is the same number in the host (placeholder) and in the daemon, so
 * every change of the table is made on both sides: the daemon first (it
 * can refuse), then the host placeholder. The host's FD_CLOEXEC on a
 * placeholder mirrors the daemon's, since exec drops what the host drops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shimlib.h"
#include "wrap.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define HOST3(nr, a, b, c)                                                     \
	shim_host_syscall(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* dup2/dup3 onto newfd with a virtual oldfd. */
static long vdup3(int oldfd, int newfd, int flags)
{
	int taken;
	long r;

	if ((unsigned int)newfd >= SHIM_MAX_FD)
		return -EBADF;
	shim_stdio_std_redirect(newfd); /* printf must follow (shimlib) */
	/* Not onto another thread's install in progress (vfd.c). */
	taken = shim_vfd_lock();
	r = shim_vcall(SYS_dup3, oldfd, newfd, flags);
	if (r >= 0) {
		r = shim_vfd_place(newfd, flags & O_CLOEXEC);
		if (r < 0) {
			shim_vcall(SYS_close, newfd);
			shim_vfd_mark(newfd, false);
		}
	}
	shim_vfd_unlock(taken);
	return r;
}

/* A host dup2/dup3 that put a host fd over a vfd: the daemon drops it. */
static void host_over(int newfd)
{
	if (shim_fd_is_virtual(newfd)) {
		shim_vfd_mark(newfd, false);
		shim_vcall(SYS_close, newfd);
	}
}

SHIM_WRAPPERS_BEGIN

int dup(int fd)
{
	FD_ROUTE(fd, shim_vfd_dup(fd, 0, false));
	if (shim_fd_is_private(fd))
		return (int)shim_ret(-EBADF);
	return SHIM_REAL(dup)(fd);
}

int dup3(int oldfd, int newfd, int flags)
{
	int r;

	if (shim_fd_is_private(oldfd))
		return (int)shim_ret(-EBADF);
	if (oldfd == newfd)
		return (int)shim_ret(-EINVAL);
	if (flags & ~O_CLOEXEC)
		return (int)shim_ret(-EINVAL);
	if (shim_fd_is_private(newfd)) {
		long e = shim_private_evict(newfd);

		if (e < 0)
			return (int)shim_ret(e);
	}
	FD_ROUTE(oldfd, vdup3(oldfd, newfd, flags));
	r = SHIM_REAL(dup3)(oldfd, newfd, flags);
	if (r >= 0)
		host_over(newfd);
	return r;
}

int dup2(int oldfd, int newfd)
{
	int r;

	if (shim_fd_is_private(oldfd))
		return (int)shim_ret(-EBADF);
	if (oldfd == newfd) {
		/* Only checks that oldfd is open. */
		FD_ROUTE(oldfd, __extension__({
				 long r_ = shim_vcall(SYS_fcntl, oldfd,
						      F_GETFD, 0);
				 r_ < 0 ? r_ : newfd;
			 }));
		return SHIM_REAL(dup2)(oldfd, newfd);
	}
	if (shim_fd_is_private(newfd)) {
		long e = shim_private_evict(newfd);

		if (e < 0)
			return (int)shim_ret(e);
	}
	FD_ROUTE(oldfd, vdup3(oldfd, newfd, 0));
	r = SHIM_REAL(dup2)(oldfd, newfd);
	if (r >= 0)
		host_over(newfd);
	return r;
}

SHIM_WRAPPERS_END

static long vfcntl(int fd, int cmd, long arg)
{
	long r;

	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (arg < 0 || arg >= SHIM_MAX_FD)
			return -EINVAL;
		return shim_vfd_dup(fd, (int)arg, cmd == F_DUPFD_CLOEXEC);
	case F_SETFD:
		r = shim_vcall(SYS_fcntl, fd, F_SETFD, arg);
		if (!r)
			HOST3(SYS_fcntl, fd, F_SETFD, arg & FD_CLOEXEC);
		return r;
	default:
		/* F_GETFD, F_GETFL/F_SETFL, locks, leases...: the daemon's. */
		return shim_vcall(SYS_fcntl, fd, cmd, arg);
	}
}

static long host_fcntl(int fd, int cmd, long arg)
{
	if (shim_fd_is_private(fd))
		return shim_ret(-EBADF);
	return SHIM_REAL(fcntl)(fd, cmd, arg);
}

/* fcntl and fcntl64 (the same call on x86-64): ours or the host's. */
static int fcntl_common(int fd, int cmd, long arg)
{
	FD_ROUTE(fd, vfcntl(fd, cmd, arg));
	return (int)host_fcntl(fd, cmd, arg);
}

SHIM_WRAPPERS_BEGIN

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_common(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_common(fd, cmd, arg);
}

SHIM_WRAPPERS_END

/* close_range's daemon half: close (or mark O_CLOEXEC) each vfd. */
static void cr_vfd(int fd, void *arg)
{
	unsigned int flags = *(unsigned int *)arg;

	if (flags & CLOSE_RANGE_CLOEXEC) {
		shim_vcall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
		return;
	}
	shim_vcall(SYS_close, fd);
	shim_vfd_mark(fd, false);
}

/*
 * close_range over [first, last] minus the shim's own descriptors, which
 * it skips as a range that never held them would.
 */
static long vclose_range(unsigned int first, unsigned int last,
			 unsigned int flags)
{
	unsigned int lo = first;
	int priv[2] = { -1, -1 }, n = 0;
	long r;

	if (first > last)
		return -EINVAL;
	shim_vfd_each((int)first, last > INT32_MAX ? -1 : (int)last, cr_vfd,
		      &flags);
	/* Our private fds: at most two, sorted. */
	for (unsigned int i = 0; i < 2; i++) {
		int p = shim_private_get((int)i);

		if (p >= 0 && (unsigned int)p >= first && (unsigned int)p <= last)
			priv[n++] = p;
	}
	if (n == 2 && priv[0] > priv[1]) {
		int t = priv[0];

		priv[0] = priv[1];
		priv[1] = t;
	}
	for (int i = 0; i < n; i++) {
		if ((unsigned int)priv[i] > lo) {
			r = HOST3(SYS_close_range, lo, priv[i] - 1, flags);
			if (r < 0)
				return r;
		}
		lo = (unsigned int)priv[i] + 1;
	}
	if (lo <= last) {
		r = HOST3(SYS_close_range, lo, last, flags);
		if (r < 0)
			return r;
	}
	return 0;
}

SHIM_WRAPPERS_BEGIN

int close_range(unsigned int first, unsigned int last, int flags)
{
	IF_BUSY(SHIM_REAL(close_range)(first, last, flags));
	return (int)shim_ret(vclose_range(first, last, (unsigned int)flags));
}

void closefrom(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	vclose_range((unsigned int)lowfd, ~0U, 0);
}

/*
 * ioctl on a vfd: the few requests a regular file or directory answers;
 * ENOTTY for the rest, as Linux says for a file that is not a terminal.
 */
int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (shim_fd_is_virtual(fd)) {
		struct stat st;
		long r, pos;

		switch (req) {
		case FIOCLEX:
		case FIONCLEX:
			return (int)shim_ret(vfcntl(fd, F_SETFD,
						    req == FIOCLEX ? FD_CLOEXEC
								   : 0));
		case FIONREAD:
			r = shim_vcall(SYS_fstat, fd, &st);
			if (r < 0)
				return (int)shim_ret(r);
			if (!S_ISREG(st.st_mode))
				return (int)shim_ret(-ENOTTY);
			pos = shim_vcall(SYS_lseek, fd, 0, SEEK_CUR);
			if (pos < 0)
				return (int)shim_ret(pos);
			if (!shim_access_ok(arg, sizeof(int), false))
				return (int)shim_ret(-EFAULT);
			*(int *)arg = st.st_size > pos ? (int)(st.st_size - pos)
						       : 0;
			return 0;
		default:
			return (int)shim_ret(-ENOTTY);
		}
	}
	return SHIM_REAL(ioctl)(fd, req, arg);
}

int flock(int fd, int op)
{
	FD_ROUTE(fd, shim_vcall(SYS_flock, fd, op));
	return SHIM_REAL(flock)(fd, op);
}

SHIM_WRAPPERS_END

/* lockf as glibc builds it on fcntl record locks, in the daemon. */
static long vlockf(int fd, int cmd, off64_t len)
{
	struct flock fl = { .l_whence = SEEK_CUR, .l_start = 0, .l_len = len };
	long r;

	switch (cmd) {
	case F_TEST:
		fl.l_type = F_RDLCK;
		r = shim_vcall(SYS_fcntl, fd, F_GETLK, &fl);
		if (r < 0)
			return r;
		if (fl.l_type == F_UNLCK ||
		    fl.l_pid == (pid_t)shim_host_syscall(SYS_getpid, 0, 0, 0,
							 0, 0, 0))
			return 0;
		return -EACCES;
	case F_ULOCK:
		fl.l_type = F_UNLCK;
		return shim_vcall(SYS_fcntl, fd, F_SETLK, &fl);
	case F_LOCK:
		fl.l_type = F_WRLCK;
		return shim_vcall(SYS_fcntl, fd, F_SETLKW, &fl);
	case F_TLOCK:
		fl.l_type = F_WRLCK;
		return shim_vcall(SYS_fcntl, fd, F_SETLK, &fl);
	default:
		return -EINVAL;
	}
}

SHIM_WRAPPERS_BEGIN

int lockf(int fd, int cmd, off_t len)
{
	FD_ROUTE(fd, vlockf(fd, cmd, len));
	return SHIM_REAL(lockf)(fd, cmd, len);
}

int lockf64(int fd, int cmd, off64_t len)
{
	FD_ROUTE(fd, vlockf(fd, cmd, len));
	return SHIM_REAL(lockf64)(fd, cmd, len);
}

/* The daemon applies its task's umask to creations: keep them equal. */
mode_t umask(mode_t mask)
{
	mode_t old = SHIM_REAL(umask)(mask);

	if (shim_connected())
		shim_vcall(SYS_umask, mask & 0777);
	return old;
}

SHIM_WRAPPERS_END
