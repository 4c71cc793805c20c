// SPDX-License-Identifier: MIT
/*
 * shim/syscall.c - syscall(2) for the numbers the shim routes: each goes
 * to the wrapper of the same call (which already returns -1 and errno as
 * syscall() does); every other number is the host's raw system call.
 * Where the libc function and the system call differ in what they return
 * (getcwd), the system call's answer is built here.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "wrap.h"

#define I(n) ((int)a[n])
#define U(n) ((unsigned int)a[n])
#define P(n) ((void *)a[n])
#define S(n) ((const char *)a[n])

/* The fd-only calls: virtual fd in a[0] goes to the daemon as it is. */
static bool fd_first(long nr)
{
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_pread64: case SYS_pwrite64:
	case SYS_readv: case SYS_writev: case SYS_preadv: case SYS_pwritev:
	case SYS_preadv2: case SYS_pwritev2: case SYS_lseek: case SYS_fstat:
	case SYS_ftruncate: case SYS_fallocate: case SYS_fadvise64:
	case SYS_fsync: case SYS_fdatasync: case SYS_syncfs:
	case SYS_sync_file_range: case SYS_getdents64: case SYS_fstatfs:
	case SYS_fchmod: case SYS_fchown: case SYS_flock: case SYS_fgetxattr:
	case SYS_fsetxattr: case SYS_flistxattr: case SYS_fremovexattr:
	case SYS_readahead:
		return true;
	default:
		return false;
	}
}

SHIM_WRAPPERS_BEGIN

long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (__builtin_expect(shim_busy, 0))
		goto host;
	if (fd_first(nr)) {
		if (shim_fd_is_virtual(I(0)))
			return shim_ret(shim_vcall6(nr, a));
		goto host;
	}
	switch (nr) {
	case SYS_sync:
		sync();
		return 0;
	case SYS_open:
		return open(S(0), I(1), (mode_t)a[2]);
	case SYS_openat:
		return openat(I(0), S(1), I(2), (mode_t)a[3]);
	case SYS_creat:
		return creat(S(0), (mode_t)a[1]);
	case SYS_close:
		return close(I(0));
	case SYS_close_range:
		return close_range(U(0), U(1), I(2));
	case SYS_stat:
		return stat(S(0), P(1));
	case SYS_lstat:
		return lstat(S(0), P(1));
	case SYS_newfstatat:
		return fstatat(I(0), S(1), P(2), I(3));
	case SYS_statx:
		return statx(I(0), S(1), I(2), U(3), P(4));
	case SYS_access:
		return access(S(0), I(1));
	case SYS_faccessat:
		return faccessat(I(0), S(1), I(2), 0);
	case SYS_faccessat2:
		return faccessat(I(0), S(1), I(2), I(3));
	case SYS_dup:
		return dup(I(0));
	case SYS_dup2:
		return dup2(I(0), I(1));
	case SYS_dup3:
		return dup3(I(0), I(1), I(2));
	case SYS_fcntl:
		return fcntl(I(0), I(1), a[2]);
	case SYS_ioctl:
		return ioctl(I(0), (unsigned long)a[1], a[2]);
	case SYS_truncate:
		return truncate(S(0), a[1]);
	case SYS_chdir:
		return chdir(S(0));
	case SYS_fchdir:
		return fchdir(I(0));
	case SYS_getcwd:
		if (shim_cwd_is_virtual()) {
			/* The system call returns the length with the NUL. */
			if (!getcwd(P(0), (size_t)a[1]))
				return -1;
			return (long)strlen(P(0)) + 1;
		}
		goto host;
	case SYS_rename:
		return rename(S(0), S(1));
	case SYS_renameat:
		return renameat(I(0), S(1), I(2), S(3));
	case SYS_renameat2:
		return renameat2(I(0), S(1), I(2), S(3), U(4));
	case SYS_mkdir:
		return mkdir(S(0), (mode_t)a[1]);
	case SYS_mkdirat:
		return mkdirat(I(0), S(1), (mode_t)a[2]);
	case SYS_rmdir:
		return rmdir(S(0));
	case SYS_link:
		return link(S(0), S(1));
	case SYS_linkat:
		return linkat(I(0), S(1), I(2), S(3), I(4));
	case SYS_unlink:
		return unlink(S(0));
	case SYS_unlinkat:
		return unlinkat(I(0), S(1), I(2));
	case SYS_symlink:
		return symlink(S(0), S(1));
	case SYS_symlinkat:
		return symlinkat(S(0), I(1), S(2));
	case SYS_readlink:
		return readlink(S(0), P(1), (size_t)a[2]);
	case SYS_readlinkat:
		return readlinkat(I(0), S(1), P(2), (size_t)a[3]);
	case SYS_chmod:
		return chmod(S(0), (mode_t)a[1]);
	case SYS_fchmodat:
		return fchmodat(I(0), S(1), (mode_t)a[2], 0);
	case SYS_chown:
		return chown(S(0), (uid_t)a[1], (gid_t)a[2]);
	case SYS_lchown:
		return lchown(S(0), (uid_t)a[1], (gid_t)a[2]);
	case SYS_fchownat:
		return fchownat(I(0), S(1), (uid_t)a[2], (gid_t)a[3], I(4));
	case SYS_utime:
		return utime(S(0), P(1));
	case SYS_utimes:
		return utimes(S(0), P(1));
	case SYS_utimensat:
		return utimensat(I(0), S(1), P(2), I(3));
	case SYS_mknod:
		return mknod(S(0), (mode_t)a[1], (dev_t)a[2]);
	case SYS_mknodat:
		return mknodat(I(0), S(1), (mode_t)a[2], (dev_t)a[3]);
	case SYS_statfs:
		return statfs(S(0), P(1));
	case SYS_getxattr:
		return getxattr(S(0), S(1), P(2), (size_t)a[3]);
	case SYS_lgetxattr:
		return lgetxattr(S(0), S(1), P(2), (size_t)a[3]);
	case SYS_setxattr:
		return setxattr(S(0), S(1), P(2), (size_t)a[3], I(4));
	case SYS_lsetxattr:
		return lsetxattr(S(0), S(1), P(2), (size_t)a[3], I(4));
	case SYS_listxattr:
		return listxattr(S(0), P(1), (size_t)a[2]);
	case SYS_llistxattr:
		return llistxattr(S(0), P(1), (size_t)a[2]);
	case SYS_removexattr:
		return removexattr(S(0), S(1));
	case SYS_lremovexattr:
		return lremovexattr(S(0), S(1));
	case SYS_copy_file_range:
		return copy_file_range(I(0), P(1), I(2), P(3), (size_t)a[4],
				       U(5));
	case SYS_sendfile:
		return sendfile(I(0), I(1), P(2), (size_t)a[3]);
	case SYS_execve:
		return execve(S(0), P(1), P(2));
	case SYS_execveat:
		return execveat(I(0), S(1), P(2), P(3), I(4));
	case SYS_umask:
		return umask((mode_t)a[0]);
	default:
		break;
	}
host:
	return shim_ret(shim_host_syscall(nr, a[0], a[1], a[2], a[3], a[4],
					  a[5]));
}

SHIM_WRAPPERS_END
