/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_open.c - open, openat, openat2, creat, close, close_range.
 *
 * vfs_do_open() is do_filp_open: flags checked as build_open_flags does,
 * the path walked (ns_lock read; write when O_CREAT may add an entry), the
 * final component created or checked (may_open), O_TRUNC applied, then an
 * open file description installed at the lowest free descriptor.
 *
 * FIFOs: mknod can make them and stat shows them, but this kernel has no
 * pipes (no second process can be the other end inside it), so opening a
 * FIFO for I/O fails with ENXIO, as a non-blocking open for writing with
 * no reader does on Linux; O_PATH opens of a FIFO work.
 */
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <linux/openat2.h>

#include "vfs_notify.h"

#define UK_O_VALID                                                             \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND |        \
	 O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT | UK_O_LARGEFILE |             \
	 O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH |  \
	 O_TMPFILE)
#define OPEN_HOW_SIZE_VER0 24 /* the first struct open_how */
#define UK_O_PATH_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC)
#define UK_RESOLVE_VALID                                                       \
	(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |       \
	 RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED)

/*
 * build_open_flags: checks how (openat2 is strict, open/openat ignore
 * unknown bits) and returns the lookup flags, or -EINVAL.
 */
static int build_open_flags(struct open_how *how, bool strict)
{
	uint64_t flags = how->flags;
	unsigned int lf = 0;

	if (strict) {
		if (flags & ~(uint64_t)UK_O_VALID)
			return -EINVAL;
		if (how->resolve & ~(uint64_t)UK_RESOLVE_VALID)
			return -EINVAL;
		if (!(flags & (O_CREAT | UK_O_TMPFILE_BIT)) && how->mode)
			return -EINVAL;
		if (how->mode & ~07777ULL)
			return -EINVAL;
		if ((flags & O_PATH) && (flags & ~(uint64_t)UK_O_PATH_FLAGS))
			return -EINVAL;
		if ((how->resolve & RESOLVE_BENEATH) &&
		    (how->resolve & RESOLVE_IN_ROOT))
			return -EINVAL;
		/*
		 * RESOLVE_CACHED: Linux refuses what may block (creating,
		 * truncating); every other walk here is served from memory.
		 */
		if ((how->resolve & RESOLVE_CACHED) &&
		    (flags & (O_CREAT | O_TRUNC | UK_O_TMPFILE_BIT)))
			return -EAGAIN;
	} else {
		/* build_open_how: O_PATH beats everything else. */
		flags &= UK_O_VALID;
		if (flags & O_PATH)
			flags &= UK_O_PATH_FLAGS;
		if (!(flags & (O_CREAT | UK_O_TMPFILE_BIT)))
			how->mode = 0;
		how->mode &= 07777;
	}
	if ((flags & (O_DIRECTORY | O_CREAT)) == (O_DIRECTORY | O_CREAT))
		return -EINVAL;
	if (flags & UK_O_TMPFILE_BIT) {
		if ((flags & O_TMPFILE) != O_TMPFILE)
			return -EINVAL;
		if (!(flags & (O_WRONLY | O_RDWR)))
			return -EINVAL;
	}
	if (flags & O_PATH)
		flags &= UK_O_PATH_FLAGS;
	how->flags = flags;
	if (flags & O_DIRECTORY)
		lf |= LOOKUP_DIRECTORY;
	if (!(flags & O_NOFOLLOW))
		lf |= LOOKUP_FOLLOW;
	if (how->resolve & RESOLVE_NO_XDEV)
		lf |= LOOKUP_NO_XDEV;
	if (how->resolve & RESOLVE_NO_SYMLINKS)
		lf |= LOOKUP_NO_SYMLINKS;
	if (how->resolve & RESOLVE_BENEATH)
		lf |= LOOKUP_BENEATH;
	if (how->resolve & RESOLVE_IN_ROOT)
		lf |= LOOKUP_IN_ROOT;
	return (int)lf;
}

/*
 * may_open on the resolved inode: ELOOP for a symlink (O_NOFOLLOW),
 * EISDIR for writing a directory, ENOTDIR for O_DIRECTORY on a
 * non-directory, EACCES from the mode bits, EROFS for writing a read-only
 * mount (not for a FIFO), then ENXIO for FIFOs and devices (see the top):
 * only a caller allowed to open one learns that it cannot (the shim then
 * opens its host shadow, docs/shim.md). created: skip the
 * permission check (the creator may open what it just made).
 */
static int may_open(struct uk_task *t, const struct vfs_path *path,
		    unsigned int flags, bool created)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	unsigned int acc = flags & O_ACCMODE;
	bool special = false;
	int mask = 0, ret;

	if (flags & O_PATH) {
		if ((flags & O_DIRECTORY) && !S_ISDIR(inode->i_mode))
			return -ENOTDIR;
		return 0;
	}
	switch (inode->i_mode & S_IFMT) {
	case S_IFLNK:
		return -ELOOP;
	case S_IFDIR:
		if (acc != O_RDONLY || (flags & O_TRUNC) || (flags & O_CREAT))
			return -EISDIR;
		break;
	case S_IFREG:
		break;
	default:
		if ((flags & O_DIRECTORY))
			return -ENOTDIR;
		/* Linux: O_TRUNC means nothing here, and EACCES before ENXIO */
		special = true;
		flags &= ~(unsigned int)O_TRUNC;
		break;
	}
	if ((flags & O_DIRECTORY) && !S_ISDIR(inode->i_mode))
		return -ENOTDIR;
	if (created)
		return 0;
	if (acc == O_RDONLY || acc == O_RDWR || acc == O_ACCMODE)
		mask |= MAY_READ;
	if (acc == O_WRONLY || acc == O_RDWR || acc == O_ACCMODE ||
	    (flags & O_TRUNC))
		mask |= MAY_WRITE;
	/* A FIFO on a read-only mount can be written (sb_permission). */
	if ((mask & MAY_WRITE) && !special) {
		ret = vfs_mnt_want_write(path->mnt);
		if (ret)
			return ret;
	}
	if (flags & O_NOATIME) {
		if (!vfs_owner_or_capable(&t->cred, inode))
			return -EPERM;
	}
	ret = vfs_permission(t, inode, mask);
	if (ret)
		return ret;
	return special ? -ENXIO : 0;
}

/*
 * The O_CREAT walk, with ns_lock write-held: the parent, then the last
 * component, created when absent, following a symlink there (to create
 * its target) unless O_EXCL or O_NOFOLLOW. On success *out is the result
 * (borrowed) and *created says whether it is new.
 */
static int open_create_locked(struct uk_task *t, struct vfs_nameidata *nd,
			      const char *name, unsigned int flags,
			      mode_t mode, struct vfs_path *out,
			      bool *created)
{
	struct vfs_dentry *d;
	struct vfs_inode *dir;
	int ret;

	ret = vfs_walk_locked(nd, name);
	if (ret)
		return ret;
	for (;;) {
		/* ".", "..", "/": a directory, so EEXIST or EISDIR. */
		if (nd->last_type != LAST_NORM)
			return (flags & O_EXCL) ? -EEXIST : -EISDIR;
		if (nd->trailing_slash)
			return -EISDIR;
		dir = nd->path.dentry->d_inode;
		d = vfs_lookup_one(nd->vfs, nd->path.dentry, nd->last,
				   nd->last_len);
		if (IS_ERR(d))
			return (int)PTR_ERR(d);
		if (!d->d_inode)
			break;
		if (flags & O_EXCL)
			return -EEXIST;
		if (S_ISLNK(d->d_inode->i_mode) && !(flags & O_NOFOLLOW)) {
			const char *body = d->d_inode->i_op->get_link
						   ? d->d_inode->i_op->get_link(d)
						   : NULL;

			struct vfs_path link = { .mnt = nd->path.mnt,
						 .dentry = d };

			if (!body)
				return -ELOOP;
			vfs_touch_atime(&link);
			ret = vfs_walk_continue(nd, body);
			if (ret)
				return ret;
			continue;
		}
		out->mnt = nd->path.mnt;
		out->dentry = d;
		*created = false;
		return 0; /* a mount point is a directory: may_open's EISDIR */
	}
	/* Create it. */
	ret = vfs_mnt_want_write(nd->path.mnt);
	if (ret)
		return ret;
	ret = vfs_may_create(t, dir);
	if (ret)
		return ret;
	if (!dir->i_op->create)
		return -EACCES;
	ret = dir->i_op->create(dir, d, vfs_prepare_mode(t, dir, mode),
				t->cred.fsuid, t->cred.fsgid);
	if (ret)
		return ret;
	out->mnt = nd->path.mnt;
	out->dentry = d;
	*created = true;
	return 0;
}

/*
 * O_TMPFILE: an unnamed regular file in the directory at path (ns_lock
 * write-held), returned as a referenced path on an unhashed dentry.
 */
static int open_tmpfile_locked(struct uk_task *t, const struct vfs_path *dirp,
			       unsigned int flags, mode_t mode,
			       struct vfs_path *out)
{
	struct vfs_inode *dir = dirp->dentry->d_inode;
	struct vfs_dentry *d;
	int ret;

	ret = vfs_mnt_want_write(dirp->mnt);
	if (ret)
		return ret;
	ret = vfs_may_create(t, dir);
	if (ret)
		return ret;
	if (!dir->i_op->tmpfile)
		return -EOPNOTSUPP;
	d = vfs_d_alloc_anon(dirp->dentry);
	if (!d)
		return -ENOMEM;
	ret = dir->i_op->tmpfile(dir, d, vfs_prepare_mode(t, dir, mode),
				 t->cred.fsuid, t->cred.fsgid);
	if (ret) {
		vfs_dput(d);
		return ret;
	}
	if (!(flags & O_EXCL))
		d->d_inode->i_state |= VFS_I_LINKABLE;
	out->mnt = vfs_mntget(dirp->mnt);
	out->dentry = d;
	return 0;
}

/*
 * do_sys_openat2 on a kernel copy of the name, after build_open_flags
 * (lf): returns the new descriptor or -errno.
 */
static long do_open_checked(struct uk_task *t, int dfd, const char *name,
			    struct open_how *how, int lf)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata nd;
	struct vfs_path path;
	struct vfs_file *f;
	struct vfs_notify_batch nb;
	unsigned int flags;
	bool created = false, write_locked;
	int fd, ret;

	vfs_nb_init(&nb, t);
	flags = (unsigned int)how->flags;
	if (flags & UK_O_TMPFILE_BIT)
		lf |= LOOKUP_DIRECTORY | LOOKUP_FOLLOW;
	else if (flags & O_CREAT)
		lf |= LOOKUP_PARENT;
	write_locked = flags & (O_CREAT | UK_O_TMPFILE_BIT);
	if (write_locked)
		vfs_ns_write_lock(vfs);
	else
		pthread_rwlock_rdlock(&vfs->ns_lock);
	ret = vfs_nd_init_locked(&nd, t, dfd, name, (unsigned int)lf);
	if (ret) {
		vfs_ns_unlock(vfs);
		return ret;
	}
	if (flags & UK_O_TMPFILE_BIT) {
		ret = vfs_walk_locked(&nd, name);
		if (!ret)
			ret = open_tmpfile_locked(t, &nd.path, flags,
						  (mode_t)how->mode, &path);
		created = true;
		vfs_ns_unlock(vfs);
		if (ret)
			goto out_nd;
		goto opened;
	}
	if (flags & O_CREAT) {
		ret = open_create_locked(t, &nd, name, flags,
					 (mode_t)how->mode, &path, &created);
		if (!ret && created)
			vfs_nb_name(&nb, UK_NOTIFY_CREATE,
				    nd.path.dentry->d_inode,
				    path.dentry->d_inode, 0, nd.last,
				    nd.last_len);
	} else {
		ret = vfs_walk_locked(&nd, name);
		path = nd.path;
	}
	if (!ret)
		ret = may_open(t, &path, flags, created);
	if (!ret)
		vfs_path_get(&path);
	vfs_ns_unlock(vfs);
	/* The file exists now even if may_open refuses it (as Linux). */
	vfs_nb_send(&nb);
	if (ret)
		goto out_nd;
opened:
	if ((flags & O_TRUNC) && !created && !(flags & O_PATH) &&
	    S_ISREG(path.dentry->d_inode->i_mode)) {
		ret = vfs_do_truncate(t, path.dentry, 0, NULL);
		if (ret)
			goto out_path;
	}
	fd = vfs_alloc_fd(t, 0, flags);
	if (fd < 0) {
		ret = fd;
		goto out_path;
	}
	f = vfs_open_path(t, &path, flags);
	if (IS_ERR(f)) {
		vfs_put_unused_fd(t, (unsigned int)fd);
		ret = (int)PTR_ERR(f);
		goto out_path;
	}
	vfs_fd_install(t, (unsigned int)fd, f);
	ret = fd;
out_path:
	vfs_path_put(&path);
out_nd:
	vfs_nd_done(&nd);
	if (!write_locked)
		vfs_dcache_maybe_prune(vfs);
	return ret;
}

long vfs_do_open(struct uk_task *t, int dfd, const char *name,
		 struct open_how *how, bool strict)
{
	int lf = build_open_flags(how, strict);

	if (lf < 0)
		return lf;
	return do_open_checked(t, dfd, name, how, lf);
}

/*
 * Opens path as t with open(2)'s flags, for a front-end that already holds
 * the inode (FUSE's open by node id, as the reopen through /proc/self/fd
 * would): may_open's checks, O_TRUNC, then a new open file description
 * (reference 1, in no fd table). Returns it or ERR_PTR(-errno).
 */
struct vfs_file *vfs_open_checked(struct uk_task *t,
				  const struct vfs_path *path,
				  unsigned int flags)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	int ret;

	pthread_rwlock_rdlock(&vfs->ns_lock);
	ret = may_open(t, path, flags, false);
	pthread_rwlock_unlock(&vfs->ns_lock);
	if (ret)
		return ERR_PTR(ret);
	if ((flags & O_TRUNC) && !(flags & O_PATH) &&
	    S_ISREG(path->dentry->d_inode->i_mode)) {
		ret = vfs_do_truncate(t, path->dentry, 0, NULL);
		if (ret)
			return ERR_PTR(ret);
	}
	return vfs_open_path(t, path, flags);
}

/* The flags are checked before the name is copied, as Linux does. */
static long do_open_user(struct uk_task *t, int dfd, uk_uptr uname,
			 struct open_how *how, bool strict)
{
	char name[UK_PATH_MAX];
	int lf = build_open_flags(how, strict);
	long len;

	if (lf < 0)
		return lf;
	len = uk_getname(t, uname, name, false);
	if (len < 0)
		return len;
	return do_open_checked(t, dfd, name, how, lf);
}

SYSCALL_DEFINE3(open, uk_uptr, filename, int, flags, unsigned int, mode)
{
	struct open_how how = { .flags = (uint32_t)flags, .mode = mode };

	return do_open_user(task, AT_FDCWD, filename, &how, false);
}

SYSCALL_DEFINE4(openat, int, dfd, uk_uptr, filename, int, flags,
		unsigned int, mode)
{
	struct open_how how = { .flags = (uint32_t)flags, .mode = mode };

	return do_open_user(task, dfd, filename, &how, false);
}

SYSCALL_DEFINE2(creat, uk_uptr, pathname, unsigned int, mode)
{
	struct open_how how = { .flags = O_CREAT | O_WRONLY | O_TRUNC,
				.mode = mode };

	return do_open_user(task, AT_FDCWD, pathname, &how, false);
}

/*
 * openat2: struct open_how of usize bytes. EINVAL below the first
 * version's size, E2BIG above a page or with non-zero bytes past what we
 * know (copy_struct_from_user), then the strict flag checks.
 */
SYSCALL_DEFINE4(openat2, int, dfd, uk_uptr, filename, uk_uptr, uhow,
		size_t, usize)
{
	struct open_how how;
	int ret;

	if (usize < OPEN_HOW_SIZE_VER0)
		return -EINVAL;
	if (usize > 4096)
		return -E2BIG;
	memset(&how, 0, sizeof(how));
	ret = copy_from_user(task, &how, uhow,
			     usize < sizeof(how) ? usize : sizeof(how));
	if (ret)
		return ret;
	for (size_t off = sizeof(how); off < usize; off++) {
		unsigned char c;

		ret = copy_from_user(task, &c, uhow + off, 1);
		if (ret)
			return ret;
		if (c)
			return -E2BIG;
	}
	if (how.flags >> 32)
		return -EINVAL;
	return do_open_user(task, dfd, filename, &how, true);
}

SYSCALL_DEFINE1(close, unsigned int, fd)
{
	return vfs_close_fd(task, fd);
}

/*
 * close_range: EINVAL for unknown flags or fd > max_fd; UNSHARE gives the
 * task a private copy of its table first; CLOEXEC marks instead of
 * closing.
 */
SYSCALL_DEFINE3(close_range, unsigned int, fd, unsigned int, max_fd,
		unsigned int, flags)
{
	if (flags & ~(unsigned int)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))
		return -EINVAL;
	if (fd > max_fd)
		return -EINVAL;
	if ((flags & CLOSE_RANGE_UNSHARE) &&
	    atomic_load(&task->files->count) > 1) {
		struct uk_files_struct *copy = uk_files_dup(task->files);
		struct uk_files_struct *old = task->files;

		if (!copy)
			return -ENOMEM;
		task->files = copy;
		vfs_files_put(old);
	}
	return vfs_close_range(task, fd, max_fd,
			       flags & CLOSE_RANGE_CLOEXEC);
}
