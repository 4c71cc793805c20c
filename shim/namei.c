// SPDX-License-Identifier: MIT
/*
 * shim/namei.c - wrappers that name files: the stat family (with the
 * legacy __xstat ABI), access, mkdir/rmdir/unlink/remove, rename, link,
 * symlink, readlink, the chmod/chown/utime families, mknod/mkfifo, the
 * xattr family, statfs/statvfs, pathconf, chdir/fchdir/getcwd.
 *
 * Symlink targets are stored and read back byte for byte: a target is a
 * string, not a path the shim resolves (see docs/shim.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "shimlib.h"
#include "wrap.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
/* statfs f_flags: the kernel sets it when the other flags are valid. */
#ifndef ST_VALID
#define ST_VALID 0x0020
#endif

int __xstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st,
	       int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st,
		 int flags);
ssize_t __readlink_chk(const char *path, char *buf, size_t len,
		       size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
			 size_t buflen);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
void __chk_fail(void) __attribute__((noreturn));

/* ---- stat ------------------------------------------------------------------- */

/*
 * The host side of the stat family goes to the raw system call: x86-64's
 * struct stat is the kernel's, and the legacy __xstat entry points are
 * compat-only symbols in glibc >= 2.33, which dlsym cannot find.
 */
static int host_fstatat(int dirfd, const char *path, void *st, int flags)
{
	return (int)shim_ret(shim_host_syscall(SYS_newfstatat, dirfd,
					       (long)path, (long)st, flags, 0,
					       0));
}

static int vstatat(int dirfd, const char *path, void *st, int flags)
{
	PATH_ROUTE(dirfd, path, shim_statcache_fstatat(vd, vp, st, flags));
	return host_fstatat(dirfd, path, st, flags);
}

static int vfstat(int fd, void *st)
{
	FD_ROUTE(fd, shim_vcall(SYS_fstat, fd, st));
	return (int)shim_ret(shim_host_syscall(SYS_fstat, fd, (long)st, 0, 0,
					       0, 0));
}

SHIM_WRAPPERS_BEGIN

int stat(const char *path, struct stat *st)
{
	return vstatat(AT_FDCWD, path, st, 0);
}

int stat64(const char *path, struct stat64 *st)
{
	return vstatat(AT_FDCWD, path, st, 0);
}

int lstat(const char *path, struct stat *st)
{
	return vstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int lstat64(const char *path, struct stat64 *st)
{
	return vstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int fstat(int fd, struct stat *st)
{
	return vfstat(fd, st);
}

int fstat64(int fd, struct stat64 *st)
{
	return vfstat(fd, st);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return vstatat(dirfd, path, st, flags);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return vstatat(dirfd, path, st, flags);
}

int __xstat(int ver, const char *path, struct stat *st)
{
	(void)ver; /* always _STAT_VER_LINUX (1) on x86-64 */
	return vstatat(AT_FDCWD, path, st, 0);
}

int __xstat64(int ver, const char *path, struct stat64 *st)
{
	(void)ver;
	return vstatat(AT_FDCWD, path, st, 0);
}

int __lxstat(int ver, const char *path, struct stat *st)
{
	(void)ver;
	return vstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	(void)ver;
	return vstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

int __fxstat(int ver, int fd, struct stat *st)
{
	(void)ver;
	return vfstat(fd, st);
}

int __fxstat64(int ver, int fd, struct stat64 *st)
{
	(void)ver;
	return vfstat(fd, st);
}

int __fxstatat(int ver, int dirfd, const char *path, struct stat *st,
	       int flags)
{
	(void)ver;
	return vstatat(dirfd, path, st, flags);
}

int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st,
		 int flags)
{
	(void)ver;
	return vstatat(dirfd, path, st, flags);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask,
	  struct statx *stx)
{
	PATH_ROUTE(dirfd, path,
		   shim_vcall(SYS_statx, vd, vp, flags, mask, stx));
	return SHIM_REAL(statx)(dirfd, path, flags, mask, stx);
}

/* ---- access ------------------------------------------------------------------ */

int access(const char *path, int mode)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_faccessat, vd, vp, mode));
	return SHIM_REAL(access)(path, mode);
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	PATH_ROUTE(dirfd, path,
		   flags ? shim_vcall(SYS_faccessat2, vd, vp, mode, flags)
			 : shim_vcall(SYS_faccessat, vd, vp, mode));
	return SHIM_REAL(faccessat)(dirfd, path, mode, flags);
}

int euidaccess(const char *path, int mode)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_faccessat2, vd, vp, mode, AT_EACCESS));
	return SHIM_REAL(euidaccess)(path, mode);
}

int eaccess(const char *path, int mode)
{
	return euidaccess(path, mode);
}

/* ---- namespace operations ------------------------------------------------------ */

int mkdir(const char *path, mode_t mode)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_mkdirat, vd, vp, mode));
	return SHIM_REAL(mkdir)(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	PATH_ROUTE(dirfd, path, shim_vcall(SYS_mkdirat, vd, vp, mode));
	return SHIM_REAL(mkdirat)(dirfd, path, mode);
}

int rmdir(const char *path)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_unlinkat, vd, vp, AT_REMOVEDIR));
	return SHIM_REAL(rmdir)(path);
}

int unlink(const char *path)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_unlinkat, vd, vp, 0));
	return SHIM_REAL(unlink)(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	PATH_ROUTE(dirfd, path, shim_vcall(SYS_unlinkat, vd, vp, flags));
	return SHIM_REAL(unlinkat)(dirfd, path, flags);
}

/* remove: unlink, and rmdir when it is a directory (glibc's order). */
static long vremove(int vd, const char *vp)
{
	long r = shim_vcall(SYS_unlinkat, vd, vp, 0);

	if (r == -EISDIR)
		r = shim_vcall(SYS_unlinkat, vd, vp, AT_REMOVEDIR);
	return r;
}

int remove(const char *path)
{
	PATH_ROUTE(AT_FDCWD, path, vremove(vd, vp));
	return SHIM_REAL(remove)(path);
}

int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	PATH_ROUTE(dirfd, path, shim_vcall(SYS_mknodat, vd, vp, mode, dev));
	return SHIM_REAL(mknodat)(dirfd, path, mode, dev);
}

int mknod(const char *path, mode_t mode, dev_t dev)
{
	return mknodat(AT_FDCWD, path, mode, dev);
}

int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	PATH_ROUTE(dirfd, path,
		   shim_vcall(SYS_mknodat, vd, vp, (mode & 07777) | S_IFIFO,
			      0));
	return SHIM_REAL(mkfifoat)(dirfd, path, mode);
}

int mkfifo(const char *path, mode_t mode)
{
	return mkfifoat(AT_FDCWD, path, mode);
}

/*
 * The error the kernel's getname() gives name p, or 0: copy is the
 * resolved daemon path when p is virtual (already read safely), NULL when
 * p is a host path, which is probed without faulting.
 */
static long name_err(const char *p, const char *copy, bool empty_ok)
{
	char c;

	if (copy)
		return !copy[0] && !empty_ok ? -ENOENT : 0;
	if (shim_strncpy_safe(&c, p, 1) == -EFAULT)
		return -EFAULT;
	return c == 0 && !empty_ok ? -ENOENT : 0;
}

/*
 * Two-path calls: both virtual go to the daemon, both host to the host,
 * one of each is EXDEV (two file systems). *host is set when both are
 * the host's. Returns the daemon's result, or -errno.
 */
static long two_paths(long nr, int d1, const char *p1, int d2, const char *p2,
		      long flags, bool *host)
{
	char a[SHIM_PATH_MAX], b[SHIM_PATH_MAX];
	int va, vb;
	int ka = shim_path_resolve(d1, p1, &va, a, sizeof(a));
	int kb = shim_path_resolve(d2, p2, &vb, b, sizeof(b));

	*host = false;
	if (ka < 0)
		return ka;
	if (kb < 0)
		return kb;
	if (!ka && !kb) {
		*host = true;
		return 0;
	}
	if (!ka || !kb) {
		/*
		 * Linux reads both names before it looks at where they are:
		 * a bad or empty one is EFAULT or ENOENT, not EXDEV, in the
		 * order the kernel reads them (old name first).
		 */
		bool empty_ok = nr == SYS_linkat && (flags & AT_EMPTY_PATH);
		long e = name_err(p1, ka ? a : NULL, empty_ok);

		if (!e)
			e = name_err(p2, kb ? b : NULL, false);
		return e ? e : -EXDEV;
	}
	return shim_path_err(shim_vcall(nr, va, a, vb, b, flags));
}

int renameat2(int d1, const char *p1, int d2, const char *p2,
	      unsigned int flags)
{
	bool host;
	long r = two_paths(SYS_renameat2, d1, p1, d2, p2, flags, &host);

	if (host)
		return SHIM_REAL(renameat2)(d1, p1, d2, p2, flags);
	return (int)shim_ret(r);
}

int renameat(int d1, const char *p1, int d2, const char *p2)
{
	bool host;
	long r = two_paths(SYS_renameat2, d1, p1, d2, p2, 0, &host);

	if (host)
		return SHIM_REAL(renameat)(d1, p1, d2, p2);
	return (int)shim_ret(r);
}

int rename(const char *p1, const char *p2)
{
	bool host;
	long r = two_paths(SYS_renameat2, AT_FDCWD, p1, AT_FDCWD, p2, 0,
			   &host);

	if (host)
		return SHIM_REAL(rename)(p1, p2);
	return (int)shim_ret(r);
}

int linkat(int d1, const char *p1, int d2, const char *p2, int flags)
{
	bool host;
	long r = two_paths(SYS_linkat, d1, p1, d2, p2, flags, &host);

	if (host)
		return SHIM_REAL(linkat)(d1, p1, d2, p2, flags);
	return (int)shim_ret(r);
}

int link(const char *p1, const char *p2)
{
	bool host;
	long r = two_paths(SYS_linkat, AT_FDCWD, p1, AT_FDCWD, p2, 0, &host);

	if (host)
		return SHIM_REAL(link)(p1, p2);
	return (int)shim_ret(r);
}

static long vsymlink(const char *target, int vd, const char *vp)
{
	char t[SHIM_PATH_MAX];
	long n = shim_strncpy_safe(t, target, sizeof(t));

	if (n < 0)
		return n;
	return shim_vcall(SYS_symlinkat, t, vd, vp);
}

int symlinkat(const char *target, int dirfd, const char *path)
{
	PATH_ROUTE(dirfd, path, vsymlink(target, vd, vp));
	return SHIM_REAL(symlinkat)(target, dirfd, path);
}

int symlink(const char *target, const char *path)
{
	PATH_ROUTE(AT_FDCWD, path, vsymlink(target, vd, vp));
	return SHIM_REAL(symlink)(target, path);
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	PATH_ROUTE(dirfd, path,
		   shim_vcall(SYS_readlinkat, vd, vp, buf, len));
	return SHIM_REAL(readlinkat)(dirfd, path, buf, len);
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	return readlinkat(AT_FDCWD, path, buf, len);
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
			 size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return readlinkat(dirfd, path, buf, len);
}

ssize_t __readlink_chk(const char *path, char *buf, size_t len,
		       size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return readlinkat(AT_FDCWD, path, buf, len);
}

/* ---- attributes ------------------------------------------------------------------ */

int chmod(const char *path, mode_t mode)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_fchmodat, vd, vp, mode));
	return SHIM_REAL(chmod)(path, mode);
}

int fchmod(int fd, mode_t mode)
{
	FD_ROUTE(fd, shim_vcall(SYS_fchmod, fd, mode));
	return SHIM_REAL(fchmod)(fd, mode);
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	PATH_ROUTE(dirfd, path,
		   flags ? shim_vcall(SYS_fchmodat2, vd, vp, mode, flags)
			 : shim_vcall(SYS_fchmodat, vd, vp, mode));
	return SHIM_REAL(fchmodat)(dirfd, path, mode, flags);
}

int chown(const char *path, uid_t u, gid_t g)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_fchownat, vd, vp, u, g, 0));
	return SHIM_REAL(chown)(path, u, g);
}

int lchown(const char *path, uid_t u, gid_t g)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_fchownat, vd, vp, u, g,
			      AT_SYMLINK_NOFOLLOW));
	return SHIM_REAL(lchown)(path, u, g);
}

int fchown(int fd, uid_t u, gid_t g)
{
	FD_ROUTE(fd, shim_vcall(SYS_fchown, fd, u, g));
	return SHIM_REAL(fchown)(fd, u, g);
}

int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
	PATH_ROUTE(dirfd, path,
		   shim_vcall(SYS_fchownat, vd, vp, u, g, flags));
	return SHIM_REAL(fchownat)(dirfd, path, u, g, flags);
}

int utimensat(int dirfd, const char *path, const struct timespec ts[2],
	      int flags)
{
	const char *p = path;

	/* glibc says nonnull, Linux takes NULL as dirfd itself: hide it. */
	__asm__("" : "+r"(p));
	if (!p && shim_fd_is_virtual(dirfd))
		return (int)shim_ret(shim_vcall(SYS_utimensat, dirfd, NULL, ts,
						flags));
	if (p) {
		PATH_ROUTE(dirfd, p,
			   shim_vcall(SYS_utimensat, vd, vp, ts, flags));
	}
	return SHIM_REAL(utimensat)(dirfd, path, ts, flags);
}

int futimens(int fd, const struct timespec ts[2])
{
	FD_ROUTE(fd, shim_vcall(SYS_utimensat, fd, NULL, ts, 0));
	return SHIM_REAL(futimens)(fd, ts);
}

/* timeval pairs to timespec pairs; NULL stays NULL (now). */
static const struct timespec *tv2ts(const struct timeval tv[2],
				    struct timespec ts[2])
{
	if (!tv)
		return NULL;
	for (int i = 0; i < 2; i++) {
		ts[i].tv_sec = tv[i].tv_sec;
		ts[i].tv_nsec = tv[i].tv_usec * 1000;
	}
	return ts;
}

static long vutimes(int vd, const char *vp, const struct timeval tv[2],
		    int flags)
{
	struct timespec ts[2];

	if (tv && (tv[0].tv_usec < 0 || tv[0].tv_usec >= 1000000 ||
		   tv[1].tv_usec < 0 || tv[1].tv_usec >= 1000000))
		return -EINVAL;
	return shim_vcall(SYS_utimensat, vd, vp, tv2ts(tv, ts), flags);
}

int utimes(const char *path, const struct timeval tv[2])
{
	PATH_ROUTE(AT_FDCWD, path, vutimes(vd, vp, tv, 0));
	return SHIM_REAL(utimes)(path, tv);
}

int lutimes(const char *path, const struct timeval tv[2])
{
	PATH_ROUTE(AT_FDCWD, path, vutimes(vd, vp, tv, AT_SYMLINK_NOFOLLOW));
	return SHIM_REAL(lutimes)(path, tv);
}

int futimes(int fd, const struct timeval tv[2])
{
	FD_ROUTE(fd, vutimes(fd, NULL, tv, 0));
	return SHIM_REAL(futimes)(fd, tv);
}

static long vutime(int vd, const char *vp, const struct utimbuf *ub)
{
	struct timespec ts[2];

	if (ub) {
		ts[0] = (struct timespec){ ub->actime, 0 };
		ts[1] = (struct timespec){ ub->modtime, 0 };
	}
	return shim_vcall(SYS_utimensat, vd, vp, ub ? ts : NULL, 0);
}

int utime(const char *path, const struct utimbuf *ub)
{
	PATH_ROUTE(AT_FDCWD, path, vutime(vd, vp, ub));
	return SHIM_REAL(utime)(path, ub);
}

/* ---- extended attributes ---------------------------------------------------------- */

ssize_t getxattr(const char *path, const char *name, void *val, size_t size)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_getxattr, vp, name, val, size));
	return SHIM_REAL(getxattr)(path, name, val, size);
}

ssize_t lgetxattr(const char *path, const char *name, void *val, size_t size)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_lgetxattr, vp, name, val, size));
	return SHIM_REAL(lgetxattr)(path, name, val, size);
}

ssize_t fgetxattr(int fd, const char *name, void *val, size_t size)
{
	FD_ROUTE(fd, shim_vcall(SYS_fgetxattr, fd, name, val, size));
	return SHIM_REAL(fgetxattr)(fd, name, val, size);
}

int setxattr(const char *path, const char *name, const void *val,
	     size_t size, int flags)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_setxattr, vp, name, val, size, flags));
	return SHIM_REAL(setxattr)(path, name, val, size, flags);
}

int lsetxattr(const char *path, const char *name, const void *val,
	      size_t size, int flags)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_lsetxattr, vp, name, val, size, flags));
	return SHIM_REAL(lsetxattr)(path, name, val, size, flags);
}

int fsetxattr(int fd, const char *name, const void *val, size_t size,
	      int flags)
{
	FD_ROUTE(fd, shim_vcall(SYS_fsetxattr, fd, name, val, size, flags));
	return SHIM_REAL(fsetxattr)(fd, name, val, size, flags);
}

ssize_t listxattr(const char *path, char *list, size_t size)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_listxattr, vp, list, size));
	return SHIM_REAL(listxattr)(path, list, size);
}

ssize_t llistxattr(const char *path, char *list, size_t size)
{
	PATH_ROUTE(AT_FDCWD, path,
		   shim_vcall(SYS_llistxattr, vp, list, size));
	return SHIM_REAL(llistxattr)(path, list, size);
}

ssize_t flistxattr(int fd, char *list, size_t size)
{
	FD_ROUTE(fd, shim_vcall(SYS_flistxattr, fd, list, size));
	return SHIM_REAL(flistxattr)(fd, list, size);
}

int removexattr(const char *path, const char *name)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_removexattr, vp, name));
	return SHIM_REAL(removexattr)(path, name);
}

int lremovexattr(const char *path, const char *name)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_lremovexattr, vp, name));
	return SHIM_REAL(lremovexattr)(path, name);
}

int fremovexattr(int fd, const char *name)
{
	FD_ROUTE(fd, shim_vcall(SYS_fremovexattr, fd, name));
	return SHIM_REAL(fremovexattr)(fd, name);
}

/* ---- statfs / statvfs --------------------------------------------------------------- */

int statfs(const char *path, struct statfs *buf)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_statfs, vp, buf));
	return SHIM_REAL(statfs)(path, buf);
}

int statfs64(const char *path, struct statfs64 *buf)
{
	PATH_ROUTE(AT_FDCWD, path, shim_vcall(SYS_statfs, vp, buf));
	return SHIM_REAL(statfs64)(path, buf);
}

int fstatfs(int fd, struct statfs *buf)
{
	FD_ROUTE(fd, shim_vcall(SYS_fstatfs, fd, buf));
	return SHIM_REAL(fstatfs)(fd, buf);
}

int fstatfs64(int fd, struct statfs64 *buf)
{
	FD_ROUTE(fd, shim_vcall(SYS_fstatfs, fd, buf));
	return SHIM_REAL(fstatfs64)(fd, buf);
}

SHIM_WRAPPERS_END

/* statfs -> statvfs the way glibc converts it. */
static long to_statvfs(long r, const struct statfs *f, struct statvfs *v)
{
	if (r < 0)
		return r;
	memset(v, 0, sizeof(*v));
	v->f_bsize = f->f_bsize;
	v->f_frsize = f->f_frsize ? f->f_frsize : f->f_bsize;
	v->f_blocks = f->f_blocks;
	v->f_bfree = f->f_bfree;
	v->f_bavail = f->f_bavail;
	v->f_files = f->f_files;
	v->f_ffree = f->f_ffree;
	v->f_favail = f->f_ffree;
	v->f_fsid = (unsigned long)(unsigned int)f->f_fsid.__val[0];
	v->f_namemax = f->f_namelen;
	v->f_flag = f->f_flags & ST_VALID ? f->f_flags & ~ST_VALID : 0;
	return 0;
}

static long vstatvfs(const char *vp, int fd, struct statvfs *v)
{
	struct statfs f;
	long r = vp ? shim_vcall(SYS_statfs, vp, &f)
		    : shim_vcall(SYS_fstatfs, fd, &f);

	return to_statvfs(r, &f, v);
}

SHIM_WRAPPERS_BEGIN

int statvfs(const char *path, struct statvfs *buf)
{
	PATH_ROUTE(AT_FDCWD, path, vstatvfs(vp, -1, buf));
	return SHIM_REAL(statvfs)(path, buf);
}

int statvfs64(const char *path, struct statvfs64 *buf)
{
	PATH_ROUTE(AT_FDCWD, path, vstatvfs(vp, -1, (struct statvfs *)buf));
	return SHIM_REAL(statvfs64)(path, buf);
}

int fstatvfs(int fd, struct statvfs *buf)
{
	FD_ROUTE(fd, vstatvfs(NULL, fd, buf));
	return SHIM_REAL(fstatvfs)(fd, buf);
}

int fstatvfs64(int fd, struct statvfs64 *buf)
{
	FD_ROUTE(fd, vstatvfs(NULL, fd, (struct statvfs *)buf));
	return SHIM_REAL(fstatvfs64)(fd, buf);
}

/* ---- pathconf ------------------------------------------------------------------------ */

/* Our file systems' f_type (ukernel/fs_ukfs.h, ukernel/vfs.h). */
#define SHIM_UKFS_MAGIC 0x756b6673L
#define SHIM_UKFS_LINK_MAX 65000L /* ukernel/ukfs_namei.c */
#define SHIM_LINUX_LINK_MAX 127L  /* glibc's default, tmpfs's answer */

/*
 * pathconf for a virtual file (path vp, or vfd fd): glibc's Linux answers
 * (sysdeps/unix/sysv/linux/pathconf.c), which ask statfs, from our
 * statfs; the names that do not depend on the file system are glibc's
 * own answers for any path. glibc's convention: -1 with errno on error.
 */
static long vpathconf(const char *vp, int fd, int name)
{
	struct statfs f;
	long r;

	switch (name) {
	case _PC_LINK_MAX:
	case _PC_NAME_MAX:
	case _PC_FILESIZEBITS:
	case _PC_2_SYMLINKS:
	case _PC_CHOWN_RESTRICTED:
	case _PC_REC_MIN_XFER_SIZE:
	case _PC_ALLOC_SIZE_MIN:
	case _PC_REC_XFER_ALIGN:
		break;
	default:
		return SHIM_REAL(pathconf)("/", name);
	}
	r = vp ? shim_path_err(shim_vcall(SYS_statfs, vp, &f))
	       : shim_vcall(SYS_fstatfs, fd, &f);
	if (r < 0)
		return shim_ret(r);
	switch (name) {
	case _PC_LINK_MAX:
		return f.f_type == SHIM_UKFS_MAGIC ? SHIM_UKFS_LINK_MAX
						   : SHIM_LINUX_LINK_MAX;
	case _PC_NAME_MAX:
		return f.f_namelen;
	case _PC_FILESIZEBITS:
		return 64; /* ukfs and tmpfs: 64-bit offsets */
	case _PC_2_SYMLINKS:
	case _PC_CHOWN_RESTRICTED:
		return 1;
	case _PC_REC_MIN_XFER_SIZE:
		return f.f_bsize;
	default: /* _PC_ALLOC_SIZE_MIN, _PC_REC_XFER_ALIGN */
		return f.f_frsize ? f.f_frsize : f.f_bsize;
	}
}

long pathconf(const char *path, int name)
{
	char vp[SHIM_PATH_MAX];
	int vd, k;

	k = shim_path_resolve(AT_FDCWD, path, &vd, vp, sizeof(vp));
	if (k < 0)
		return shim_ret(k);
	if (!k)
		return SHIM_REAL(pathconf)(path, name);
	return vpathconf(vp, -1, name);
}

long fpathconf(int fd, int name)
{
	if (shim_fd_is_virtual(fd))
		return vpathconf(NULL, fd, name);
	return SHIM_REAL(fpathconf)(fd, name);
}

/* ---- the current directory ---------------------------------------------------------- */

int chdir(const char *path)
{
	PATH_ROUTE(AT_FDCWD, path, __extension__({
			   long r_ = shim_vcall(SYS_chdir, vp);
			   if (!r_)
				   shim_cwd_set_virtual(true);
			   r_;
		   }));
	{
		int r = SHIM_REAL(chdir)(path);

		if (!r)
			shim_cwd_set_virtual(false);
		return r;
	}
}

int fchdir(int fd)
{
	int r;

	if (shim_fd_is_virtual(fd)) {
		long v = shim_vcall(SYS_fchdir, fd);

		if (!v)
			shim_cwd_set_virtual(true);
		return (int)shim_ret(v);
	}
	r = SHIM_REAL(fchdir)(fd);
	if (!r)
		shim_cwd_set_virtual(false);
	return r;
}

SHIM_WRAPPERS_END

/*
 * The virtual cwd as the program sees it: the root, then the daemon's
 * answer ("/" is the root itself). Returns the length with the NUL, or
 * -errno (-ERANGE when it does not fit in size).
 */
static long vgetcwd(char *buf, size_t size)
{
	char tmp[SHIM_PATH_MAX];
	size_t rl, tl;
	const char *root = shim_root(&rl);
	long r = shim_vcall(SYS_getcwd, tmp, sizeof(tmp));

	if (r < 0)
		return r;
	tl = strlen(tmp);
	if (tl == 1)
		tl = 0; /* "/" */
	if (rl + tl + 1 > size)
		return -ERANGE;
	memcpy(buf, root, rl);
	memcpy(buf + rl, tmp, tl);
	buf[rl + tl] = 0;
	return (long)(rl + tl + 1);
}

SHIM_WRAPPERS_BEGIN

char *getcwd(char *buf, size_t size)
{
	char tmp[SHIM_PATH_MAX];
	long r;

	if (!shim_cwd_is_virtual())
		return SHIM_REAL(getcwd)(buf, size);
	if (buf && !size) {
		errno = EINVAL;
		return NULL;
	}
	r = vgetcwd(tmp, sizeof(tmp));
	if (r < 0) {
		shim_ret(r);
		return NULL;
	}
	if (!buf) {
		/* glibc's extension: allocate size bytes, or just enough */
		if (size && (size_t)r > size) {
			errno = ERANGE;
			return NULL;
		}
		buf = malloc(size ? size : (size_t)r);
		if (!buf)
			return NULL;
	} else if ((size_t)r > size) {
		errno = ERANGE;
		return NULL;
	}
	memcpy(buf, tmp, (size_t)r);
	return buf;
}

char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
	if (size > buflen)
		__chk_fail();
	return getcwd(buf, size);
}

char *get_current_dir_name(void)
{
	if (shim_cwd_is_virtual())
		return getcwd(NULL, 0);
	return SHIM_REAL(get_current_dir_name)();
}

SHIM_WRAPPERS_END
