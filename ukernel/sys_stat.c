/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_stat.c - stat, lstat, fstat, newfstatat, statx, statfs,
 * fstatfs, access, faccessat, faccessat2.
 *
 * The stat family is the hottest path of all: the walk and getattr both run
 * under one read hold of ns_lock with no reference taken on the result and
 * no allocation, then the struct is copied out. struct stat is the x86-64
 * kernel layout, which glibc's <sys/stat.h> matches field for field.
 */
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>

#include "vfs.h"

#define ST_VALID 0x0020 /* f_flags is meaningful (Linux's statfs) */
#define UK_STATX_VALID_FLAGS                                                   \
	(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT |               \
	 AT_STATX_SYNC_TYPE)

/*
 * Walks (dfd, name) and fills *st, all under ns_lock (read). name is a
 * kernel copy; an empty name with LOOKUP_EMPTY is dfd itself (fstatat's
 * AT_EMPTY_PATH, any kind of descriptor including O_PATH).
 */
static int vfs_statat(struct uk_task *t, int dfd, const char *name,
		      unsigned int lf, uint32_t mask, struct vfs_kstat *st)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata nd;
	int ret;

	if (!*name && (lf & LOOKUP_EMPTY) && dfd != AT_FDCWD) {
		struct vfs_file *f = vfs_fget(t, (unsigned int)dfd);

		if (IS_ERR(f))
			return (int)PTR_ERR(f);
		ret = vfs_getattr(&f->f_path, st, mask, 0);
		vfs_fput(f);
		return ret;
	}
	pthread_rwlock_rdlock(&vfs->ns_lock);
	ret = vfs_nd_init_locked(&nd, t, dfd, name, lf);
	if (ret) {
		pthread_rwlock_unlock(&vfs->ns_lock);
		return ret;
	}
	ret = vfs_walk_locked(&nd, name);
	if (!ret)
		ret = vfs_getattr(&nd.path, st, mask, 0);
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_nd_done(&nd);
	vfs_dcache_maybe_prune(vfs);
	return ret;
}

static int user_statat(struct uk_task *t, int dfd, uk_uptr uname,
		       unsigned int lf, uint32_t mask, struct vfs_kstat *st)
{
	char name[UK_PATH_MAX];
	long len = uk_getname(t, uname, name, lf & LOOKUP_EMPTY);

	if (len < 0)
		return (int)len;
	return vfs_statat(t, dfd, name, lf, mask, st);
}

/* Copies a kstat out as the x86-64 struct stat. */
static int cp_new_stat(struct uk_task *t, const struct vfs_kstat *st,
		       uk_uptr ubuf)
{
	struct stat s;

	memset(&s, 0, sizeof(s));
	s.st_dev = st->dev;
	s.st_ino = st->ino;
	s.st_nlink = st->nlink;
	s.st_mode = st->mode;
	s.st_uid = st->uid;
	s.st_gid = st->gid;
	s.st_rdev = st->rdev;
	s.st_size = st->size;
	s.st_blksize = st->blksize;
	s.st_blocks = (blkcnt_t)st->blocks;
	s.st_atim = st->atime;
	s.st_mtim = st->mtime;
	s.st_ctim = st->ctime;
	return copy_to_user(t, ubuf, &s, sizeof(s));
}

static long do_stat(struct uk_task *t, int dfd, uk_uptr name, unsigned int lf,
		    uk_uptr ubuf)
{
	struct vfs_kstat st;
	int ret = user_statat(t, dfd, name, lf, 0x7ff, &st);

	return ret ? ret : cp_new_stat(t, &st, ubuf);
}

SYSCALL_DEFINE2(newstat, uk_uptr, filename, uk_uptr, statbuf)
{
	return do_stat(task, AT_FDCWD, filename, LOOKUP_FOLLOW, statbuf);
}

SYSCALL_DEFINE2(newlstat, uk_uptr, filename, uk_uptr, statbuf)
{
	return do_stat(task, AT_FDCWD, filename, 0, statbuf);
}

/* fstat works on O_PATH descriptors too, as Linux's. */
SYSCALL_DEFINE2(newfstat, unsigned int, fd, uk_uptr, statbuf)
{
	struct vfs_file *f = vfs_fget(task, fd);
	struct vfs_kstat st;
	int ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = vfs_getattr(&f->f_path, &st, 0x7ff, 0);
	vfs_fput(f);
	return ret ? ret : cp_new_stat(task, &st, statbuf);
}

SYSCALL_DEFINE4(newfstatat, int, dfd, uk_uptr, filename, uk_uptr, statbuf,
		int, flag)
{
	unsigned int lf = LOOKUP_FOLLOW;

	/* vfs_statx's mask: the statx sync bits are accepted (and moot). */
	if (flag & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH |
		     AT_STATX_SYNC_TYPE))
		return -EINVAL;
	if (flag & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flag & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	return do_stat(task, dfd, filename, lf, statbuf);
}

/*
 * statx: EINVAL for unknown flags, both sync types at once, or the
 * reserved mask bit. Fills the basic stats and btime; stx_mask says so.
 * A NULL filename with AT_EMPTY_PATH means dfd (Linux 6.11).
 */
SYSCALL_DEFINE5(statx, int, dfd, uk_uptr, filename, unsigned int, flags,
		unsigned int, mask, uk_uptr, buffer)
{
	unsigned int lf = LOOKUP_FOLLOW;
	struct vfs_kstat st;
	struct statx sx;
	int ret;

	if (flags & ~(unsigned int)UK_STATX_VALID_FLAGS)
		return -EINVAL;
	if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
		return -EINVAL;
	if (mask & STATX__RESERVED)
		return -EINVAL;
	if (flags & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	if (!filename && (flags & AT_EMPTY_PATH))
		ret = vfs_statat(task, dfd, "", lf, mask, &st);
	else
		ret = user_statat(task, dfd, filename, lf, mask, &st);
	if (ret)
		return ret;
	memset(&sx, 0, sizeof(sx));
	sx.stx_mask = st.mask;
	sx.stx_blksize = st.blksize;
	sx.stx_attributes = st.attributes;
	sx.stx_attributes_mask = st.attributes_mask;
	sx.stx_nlink = st.nlink;
	sx.stx_uid = st.uid;
	sx.stx_gid = st.gid;
	sx.stx_mode = (uint16_t)st.mode;
	sx.stx_ino = st.ino;
	sx.stx_size = (uint64_t)st.size;
	sx.stx_blocks = st.blocks;
	sx.stx_atime.tv_sec = st.atime.tv_sec;
	sx.stx_atime.tv_nsec = (uint32_t)st.atime.tv_nsec;
	sx.stx_btime.tv_sec = st.btime.tv_sec;
	sx.stx_btime.tv_nsec = (uint32_t)st.btime.tv_nsec;
	sx.stx_ctime.tv_sec = st.ctime.tv_sec;
	sx.stx_ctime.tv_nsec = (uint32_t)st.ctime.tv_nsec;
	sx.stx_mtime.tv_sec = st.mtime.tv_sec;
	sx.stx_mtime.tv_nsec = (uint32_t)st.mtime.tv_nsec;
	sx.stx_rdev_major = major(st.rdev);
	sx.stx_rdev_minor = minor(st.rdev);
	sx.stx_dev_major = major(st.dev);
	sx.stx_dev_minor = minor(st.dev);
	sx.stx_mnt_id = st.mnt_id;
	sx.stx_mask |= STATX_MNT_ID;
	return copy_to_user(task, buffer, &sx, sizeof(sx));
}

/* ---- statfs ------------------------------------------------------------ */

static int vfs_statfs(const struct vfs_path *path, struct statfs *out)
{
	struct vfs_super *sb = path->dentry->d_sb;
	struct vfs_kstatfs k;
	int ret;

	memset(&k, 0, sizeof(k));
	/* As Linux's statfs_by_dentry: a file system without ->statfs. */
	if (!sb->s_op->statfs)
		return -ENOSYS;
	ret = sb->s_op->statfs(path->dentry, &k);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->f_type = k.f_type;
	out->f_bsize = k.f_bsize;
	out->f_blocks = k.f_blocks;
	out->f_bfree = k.f_bfree;
	out->f_bavail = k.f_bavail;
	out->f_files = k.f_files;
	out->f_ffree = k.f_ffree;
	memcpy(&out->f_fsid, k.f_fsid, sizeof(out->f_fsid));
	out->f_namelen = k.f_namelen;
	out->f_frsize = k.f_frsize ? k.f_frsize : k.f_bsize;
	out->f_flags = ST_VALID | ST_RELATIME;
	if (vfs_mnt_want_write(path->mnt))
		out->f_flags |= ST_RDONLY;
	if (path->mnt->mnt_flags & VFS_MNT_NOATIME)
		out->f_flags |= ST_NOATIME;
	return 0;
}

SYSCALL_DEFINE2(statfs, uk_uptr, pathname, uk_uptr, buf)
{
	struct vfs_path path;
	struct statfs s;
	int ret = vfs_user_path_at(task, AT_FDCWD, pathname, LOOKUP_FOLLOW,
				   &path);

	if (ret)
		return ret;
	ret = vfs_statfs(&path, &s);
	vfs_path_put(&path);
	return ret ? ret : copy_to_user(task, buf, &s, sizeof(s));
}

SYSCALL_DEFINE2(fstatfs, unsigned int, fd, uk_uptr, buf)
{
	struct vfs_file *f = vfs_fget(task, fd);
	struct statfs s;
	int ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = vfs_statfs(&f->f_path, &s);
	vfs_fput(f);
	return ret ? ret : copy_to_user(task, buf, &s, sizeof(s));
}

/* ---- access ------------------------------------------------------------ */

/*
 * faccessat2: checks with the real uid/gid unless AT_EACCESS (the walk
 * too runs with them, as Linux's access_override_creds). EINVAL for bad
 * mode or flags; EROFS for W_OK on a read-only mount.
 */
static long do_faccessat(struct uk_task *t, int dfd, uk_uptr filename,
			 int mode, int flags)
{
	struct uk_task tmp;
	struct uk_task *as = t;
	struct vfs_path path;
	unsigned int lf = LOOKUP_FOLLOW;
	int ret;

	if (mode & ~(F_OK | R_OK | W_OK | X_OK))
		return -EINVAL;
	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (flags & AT_SYMLINK_NOFOLLOW)
		lf &= ~LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	if (!(flags & AT_EACCESS) && (t->cred.uid != t->cred.fsuid ||
				      t->cred.gid != t->cred.fsgid)) {
		memcpy(&tmp, t, sizeof(tmp));
		tmp.cred.fsuid = t->cred.uid;
		tmp.cred.fsgid = t->cred.gid;
		as = &tmp;
	}
	ret = vfs_user_path_at(as, dfd, filename, lf, &path);
	if (ret)
		return ret;
	if (mode) {
		int mask = ((mode & R_OK) ? MAY_READ : 0) |
			   ((mode & W_OK) ? MAY_WRITE : 0) |
			   ((mode & X_OK) ? MAY_EXEC : 0);
		struct vfs_inode *inode = path.dentry->d_inode;

		ret = vfs_permission(as, inode, mask | MAY_ACCESS);
		if (!ret && (mode & W_OK) &&
		    (S_ISREG(inode->i_mode) || S_ISDIR(inode->i_mode) ||
		     S_ISLNK(inode->i_mode)))
			ret = vfs_mnt_want_write(path.mnt);
	}
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE2(access, uk_uptr, filename, int, mode)
{
	return do_faccessat(task, AT_FDCWD, filename, mode, 0);
}

SYSCALL_DEFINE3(faccessat, int, dfd, uk_uptr, filename, int, mode)
{
	return do_faccessat(task, dfd, filename, mode, 0);
}

SYSCALL_DEFINE4(faccessat2, int, dfd, uk_uptr, filename, int, mode, int,
		flags)
{
	return do_faccessat(task, dfd, filename, mode, flags);
}
