/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_attr.c - attribute changes: chmod, fchmod, fchmodat, chown,
 * fchown, lchown, fchownat, utimensat, futimesat, utimes, utime, truncate,
 * ftruncate, umask. The permission rules are Linux's (fs/attr.c, open.c,
 * utimes.c): EPERM for what only the owner (or CAP_FOWNER/CAP_CHOWN) may
 * do, EACCES for "touch" without write permission, the setgid bit dropped
 * by chmod from a non-member, suid/sgid dropped by chown.
 */
#include <string.h>
#include <sys/time.h>
#include <utime.h>

#include "vfs_notify.h"

/*
 * notify_change and, when it worked, the ATTR event (after every lock of
 * the change is dropped: the callers hold only references).
 */
static long change_attr(struct uk_task *t, struct vfs_dentry *d,
			struct vfs_iattr *attr)
{
	struct vfs_inode *inode = d->d_inode;
	int ret = vfs_notify_change(d, attr);

	if (!ret)
		vfs_notify_inode(t, inode, UK_NOTIFY_ATTR, 0, 0);
	return ret;
}

/* ---- chmod ------------------------------------------------------------- */

static long chmod_common(struct uk_task *t, const struct vfs_path *path,
			 mode_t mode)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	struct vfs_iattr attr = { 0 };
	int ret = vfs_mnt_want_write(path->mnt);

	if (ret)
		return ret;
	if (!vfs_owner_or_capable(&t->cred, inode))
		return -EPERM;
	mode &= 07777;
	/* A non-member without CAP_FSETID cannot set the setgid bit. */
	if ((mode & S_ISGID) && !vfs_in_group(&t->cred, inode->i_gid) &&
	    !vfs_capable(&t->cred, UK_CAP_FSETID))
		mode &= ~S_ISGID;
	attr.ia_valid = VFS_ATTR_MODE;
	attr.ia_mode = mode;
	return change_attr(t, path->dentry, &attr);
}

static long do_fchmodat(struct uk_task *t, int dfd, uk_uptr name, mode_t mode,
			unsigned int lf)
{
	struct vfs_path path;
	long ret = vfs_user_path_at(t, dfd, name, lf, &path);

	if (ret)
		return ret;
	ret = chmod_common(t, &path, mode);
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE2(chmod, uk_uptr, filename, unsigned int, mode)
{
	return do_fchmodat(task, AT_FDCWD, filename, mode, LOOKUP_FOLLOW);
}

SYSCALL_DEFINE3(fchmodat, int, dfd, uk_uptr, filename, unsigned int, mode)
{
	return do_fchmodat(task, dfd, filename, mode, LOOKUP_FOLLOW);
}

SYSCALL_DEFINE2(fchmod, unsigned int, fd, unsigned int, mode)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = chmod_common(task, &f->f_path, mode);
	vfs_fput(f);
	return ret;
}

/* ---- chown ------------------------------------------------------------- */

/*
 * chown_common: uid/gid (uid_t)-1 mean "unchanged". Without CAP_CHOWN the
 * owner may only "change" the uid to itself and the gid to a group it is
 * in (EPERM otherwise). On non-directories suid is dropped, and sgid when
 * group-executable (or the caller is outside the group), even for root, as
 * Linux since 2.2.13.
 */
static long chown_common(struct uk_task *t, const struct vfs_path *path,
			 uid_t uid, gid_t gid)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	const struct uk_cred *c = &t->cred;
	struct vfs_iattr attr = { 0 };
	int ret = vfs_mnt_want_write(path->mnt);

	if (ret)
		return ret;
	if (uid != (uid_t)-1) {
		if (!(c->fsuid == inode->i_uid && uid == inode->i_uid) &&
		    !vfs_capable(c, UK_CAP_CHOWN))
			return -EPERM;
		attr.ia_valid |= VFS_ATTR_UID;
		attr.ia_uid = uid;
	}
	if (gid != (gid_t)-1) {
		if (!(c->fsuid == inode->i_uid &&
		      (gid == inode->i_gid || vfs_in_group(c, gid))) &&
		    !vfs_capable(c, UK_CAP_CHOWN))
			return -EPERM;
		attr.ia_valid |= VFS_ATTR_GID;
		attr.ia_gid = gid;
	}
	if (!S_ISDIR(inode->i_mode)) {
		if (inode->i_mode & S_ISUID)
			attr.ia_valid |= VFS_ATTR_KILL_SUID;
		if ((inode->i_mode & S_ISGID) &&
		    ((inode->i_mode & S_IXGRP) ||
		     (!vfs_in_group(c, gid != (gid_t)-1 ? gid : inode->i_gid) &&
		      !vfs_capable(c, UK_CAP_FSETID))))
			attr.ia_valid |= VFS_ATTR_KILL_SGID;
	}
	return change_attr(t, path->dentry, &attr);
}

static long do_fchownat(struct uk_task *t, int dfd, uk_uptr name, uid_t uid,
			gid_t gid, int flag)
{
	unsigned int lf = LOOKUP_FOLLOW;
	struct vfs_path path;
	long ret;

	if (flag & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (flag & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flag & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	ret = vfs_user_path_at(t, dfd, name, lf, &path);
	if (ret)
		return ret;
	ret = chown_common(t, &path, uid, gid);
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE3(chown, uk_uptr, filename, uid_t, user, gid_t, group)
{
	return do_fchownat(task, AT_FDCWD, filename, user, group, 0);
}

SYSCALL_DEFINE3(lchown, uk_uptr, filename, uid_t, user, gid_t, group)
{
	return do_fchownat(task, AT_FDCWD, filename, user, group,
			   AT_SYMLINK_NOFOLLOW);
}

SYSCALL_DEFINE5(fchownat, int, dfd, uk_uptr, filename, uid_t, user, gid_t,
		group, int, flag)
{
	return do_fchownat(task, dfd, filename, user, group, flag);
}

SYSCALL_DEFINE3(fchown, unsigned int, fd, uid_t, user, gid_t, group)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = chown_common(task, &f->f_path, user, group);
	vfs_fput(f);
	return ret;
}

/* ---- utimes ------------------------------------------------------------ */

static bool nsec_valid(long nsec)
{
	return nsec == UTIME_OMIT || nsec == UTIME_NOW ||
	       (nsec >= 0 && nsec <= 999999999);
}

/*
 * vfs_utimes: times NULL (or both UTIME_NOW) is a "touch": owner,
 * CAP_FOWNER or write permission (EACCES); explicit times need owner or
 * CAP_FOWNER (EPERM). ctime is always now.
 */
static long vfs_utimes(struct uk_task *t, const struct vfs_path *path,
		       struct timespec *times)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	struct vfs_iattr attr = { 0 };
	struct timespec now = vfs_now();
	int ret = vfs_mnt_want_write(path->mnt);

	if (ret)
		return ret;
	if (times && times[0].tv_nsec == UTIME_NOW &&
	    times[1].tv_nsec == UTIME_NOW)
		times = NULL;
	if (!times) {
		if (!vfs_owner_or_capable(&t->cred, inode)) {
			ret = vfs_permission(t, inode, MAY_WRITE);
			if (ret)
				return ret;
		}
	} else if (!vfs_owner_or_capable(&t->cred, inode)) {
		return -EPERM;
	}
	attr.ia_valid = VFS_ATTR_ATIME | VFS_ATTR_MTIME | VFS_ATTR_CTIME;
	attr.ia_atime = attr.ia_mtime = attr.ia_ctime = now;
	if (times) {
		if (times[0].tv_nsec == UTIME_OMIT)
			attr.ia_valid &= ~VFS_ATTR_ATIME;
		else if (times[0].tv_nsec != UTIME_NOW)
			attr.ia_atime = times[0];
		if (times[1].tv_nsec == UTIME_OMIT)
			attr.ia_valid &= ~VFS_ATTR_MTIME;
		else if (times[1].tv_nsec != UTIME_NOW)
			attr.ia_mtime = times[1];
	}
	return change_attr(t, path->dentry, &attr);
}

/*
 * do_utimes: a NULL name with a real dfd works on the descriptor (no flags
 * allowed; O_PATH is EBADF), otherwise the path.
 */
static long do_utimes(struct uk_task *t, int dfd, uk_uptr name,
		      struct timespec *times, int flags)
{
	unsigned int lf = LOOKUP_FOLLOW;
	struct vfs_path path;
	long ret;

	if (times && (!nsec_valid(times[0].tv_nsec) ||
		      !nsec_valid(times[1].tv_nsec)))
		return -EINVAL;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (!name && dfd != AT_FDCWD) {
		struct vfs_file *f;

		if (flags)
			return -EINVAL;
		f = vfs_fget_io(t, (unsigned int)dfd);
		if (IS_ERR(f))
			return PTR_ERR(f);
		ret = vfs_utimes(t, &f->f_path, times);
		vfs_fput(f);
		return ret;
	}
	if (flags & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	ret = vfs_user_path_at(t, dfd, name, lf, &path);
	if (ret)
		return ret;
	ret = vfs_utimes(t, &path, times);
	vfs_path_put(&path);
	return ret;
}

/* utimensat: both UTIME_OMIT succeeds at once, even for a missing file. */
SYSCALL_DEFINE4(utimensat, int, dfd, uk_uptr, filename, uk_uptr, utimes,
		int, flags)
{
	struct timespec ts[2];

	if (utimes) {
		int ret = copy_from_user(task, ts, utimes, sizeof(ts));

		if (ret)
			return ret;
		if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT)
			return 0;
	}
	return do_utimes(task, dfd, filename, utimes ? ts : NULL, flags);
}

/* timevals: EINVAL for microseconds outside [0, 1e6). */
static long do_futimesat(struct uk_task *t, int dfd, uk_uptr filename,
			 uk_uptr utimes)
{
	struct timeval tv[2];
	struct timespec ts[2];

	if (utimes) {
		int ret = copy_from_user(t, tv, utimes, sizeof(tv));

		if (ret)
			return ret;
		for (int i = 0; i < 2; i++) {
			if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
				return -EINVAL;
			ts[i].tv_sec = tv[i].tv_sec;
			ts[i].tv_nsec = tv[i].tv_usec * 1000;
		}
	}
	return do_utimes(t, dfd, filename, utimes ? ts : NULL, 0);
}

SYSCALL_DEFINE3(futimesat, int, dfd, uk_uptr, filename, uk_uptr, utimes)
{
	return do_futimesat(task, dfd, filename, utimes);
}

SYSCALL_DEFINE2(utimes, uk_uptr, filename, uk_uptr, utimes)
{
	return do_futimesat(task, AT_FDCWD, filename, utimes);
}

SYSCALL_DEFINE2(utime, uk_uptr, filename, uk_uptr, times)
{
	struct utimbuf ub;
	struct timespec ts[2];

	if (times) {
		int ret = copy_from_user(task, &ub, times, sizeof(ub));

		if (ret)
			return ret;
		ts[0].tv_sec = ub.actime;
		ts[0].tv_nsec = 0;
		ts[1].tv_sec = ub.modtime;
		ts[1].tv_nsec = 0;
	}
	return do_utimes(task, AT_FDCWD, filename, times ? ts : NULL, 0);
}

/* ---- truncate ---------------------------------------------------------- */

/*
 * truncate: EINVAL for a negative length or a non-regular file, EISDIR
 * for a directory, EROFS, EACCES without write permission, EFBIG.
 */
SYSCALL_DEFINE2(truncate, uk_uptr, path, int64_t, length)
{
	struct vfs_path p;
	struct vfs_inode *inode;
	long ret;

	if (length < 0)
		return -EINVAL;
	ret = vfs_user_path_at(task, AT_FDCWD, path, LOOKUP_FOLLOW, &p);
	if (ret)
		return ret;
	inode = p.dentry->d_inode;
	if (S_ISDIR(inode->i_mode))
		ret = -EISDIR;
	else if (!S_ISREG(inode->i_mode))
		ret = -EINVAL;
	else
		ret = vfs_mnt_want_write(p.mnt);
	if (!ret)
		ret = vfs_permission(task, inode, MAY_WRITE);
	if (!ret)
		ret = vfs_do_truncate(task, p.dentry, length, NULL);
	vfs_path_put(&p);
	return ret;
}

/* ftruncate: EINVAL unless a regular file open for writing. */
SYSCALL_DEFINE2(ftruncate, unsigned int, fd, int64_t, length)
{
	struct vfs_file *f;
	long ret;

	if (length < 0)
		return -EINVAL;
	f = vfs_fget_io(task, fd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (!S_ISREG(f->f_inode->i_mode) || !(f->f_mode & FMODE_WRITE))
		ret = -EINVAL;
	else
		ret = vfs_do_truncate(task, f->f_path.dentry, length, f);
	vfs_fput(f);
	return ret;
}

/* ---- umask ------------------------------------------------------------- */

SYSCALL_DEFINE1(umask, int, mask)
{
	struct uk_fs_struct *fs = task->fs;
	mode_t old;

	pthread_mutex_lock(&fs->lock);
	old = fs->umask;
	fs->umask = (mode_t)mask & 0777;
	pthread_mutex_unlock(&fs->lock);
	return old;
}

/*
 * fchmodat2: fchmodat with flags. AT_SYMLINK_NOFOLLOW on a symlink is
 * EOPNOTSUPP (a link's mode cannot change), as Linux 6.6.
 */
SYSCALL_DEFINE4(fchmodat2, int, dfd, uk_uptr, filename, unsigned int, mode,
		unsigned int, flags)
{
	unsigned int lf = LOOKUP_FOLLOW;
	struct vfs_path path;
	long ret;

	if (flags & ~(unsigned int)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (flags & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	ret = vfs_user_path_at(task, dfd, filename, lf, &path);
	if (ret)
		return ret;
	if (S_ISLNK(path.dentry->d_inode->i_mode))
		ret = -EOPNOTSUPP;
	else
		ret = chmod_common(task, &path, mode);
	vfs_path_put(&path);
	return ret;
}
