/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_namei.c - the syscalls that change directories: mkdir,
 * mkdirat, mknod, mknodat, symlink, symlinkat, link, linkat, unlink,
 * unlinkat, rmdir, rename, renameat, renameat2; and readlink, readlinkat.
 *
 * Each runs its walks and its change under one write hold of ns_lock, and
 * checks in Linux's order (fs/namei.c), so the errno of a call that is
 * wrong in several ways is the one Linux gives. Their change events
 * (vfs_notify.h) are recorded under ns_lock and sent after it is dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "vfs_notify.h"

/* A name copied from the user, or the error of uk_getname. */
struct kname {
	char buf[UK_PATH_MAX];
	long len;
};

static int get_kname(struct uk_task *t, uk_uptr u, struct kname *k,
		     bool allow_empty)
{
	k->len = uk_getname(t, u, k->buf, allow_empty);
	return k->len < 0 ? (int)k->len : 0;
}

/*
 * filename_create: the parent walk of name (nd already initialised with
 * LOOKUP_PARENT), then the new entry's dentry. EEXIST for ".", ".." or
 * "/" and for an existing name, ENOENT for a trailing slash on a
 * non-directory, EROFS; ns_lock write-held. *out is negative, borrowed.
 */
static int filename_create_locked(struct vfs_nameidata *nd, const char *name,
				  bool is_dir, struct vfs_dentry **out)
{
	struct vfs_dentry *d;
	int ret, rofs;

	ret = vfs_walk_locked(nd, name);
	if (ret)
		return ret;
	if (nd->last_type != LAST_NORM)
		return -EEXIST;
	rofs = vfs_mnt_want_write(nd->path.mnt);
	d = vfs_lookup_one(nd->vfs, nd->path.dentry, nd->last, nd->last_len);
	if (IS_ERR(d))
		return (int)PTR_ERR(d);
	if (d->d_inode)
		return -EEXIST;
	if (nd->trailing_slash && !is_dir)
		return -ENOENT;
	if (rofs)
		return rofs;
	*out = d;
	return 0;
}

/*
 * The start of the two-name calls (link, rename): take ns_lock for
 * writing, set up and walk the old name with lookup flags olf, then set up
 * the new name for a parent walk the caller finishes its own way. Errors
 * come in Linux's order: a bad new name fails only after the old walk.
 * On failure everything is undone (nd's done, ns_lock dropped); on success
 * two_names_done undoes it.
 */
static int two_names_begin(struct uk_task *t, int olddfd, struct kname *on,
			   unsigned int olf, struct vfs_nameidata *ond,
			   int newdfd, struct kname *nn,
			   struct vfs_nameidata *nnd)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	int ret;

	vfs_ns_write_lock(vfs);
	ret = vfs_nd_init(ond, t, olddfd, on->buf, olf);
	if (ret)
		goto out_unlock;
	ret = vfs_walk_locked(ond, on->buf);
	if (!ret && nn->len < 0)
		ret = (int)nn->len;
	if (!ret)
		ret = vfs_nd_init(nnd, t, newdfd, nn->buf, LOOKUP_PARENT);
	if (!ret)
		return 0;
	vfs_nd_done(ond);
out_unlock:
	vfs_ns_unlock(vfs);
	return ret;
}

static void two_names_done(struct uk_vfs *vfs, struct vfs_nameidata *ond,
			   struct vfs_nameidata *nnd)
{
	vfs_nd_done(nnd);
	vfs_nd_done(ond);
	vfs_ns_unlock(vfs);
}

/* ---- mkdir, mknod, symlink --------------------------------------------- */

enum create_kind { CREATE_DIR, CREATE_NOD, CREATE_SYMLINK };

/*
 * The common body of mkdirat, mknodat and symlinkat: walk, filename_create,
 * may_create, then the op. target is the symlink body.
 */
static long do_create(struct uk_task *t, int dfd, uk_uptr uname,
		      enum create_kind kind, mode_t mode, dev_t dev,
		      const char *target)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata nd;
	struct vfs_dentry *d = NULL; /* set by filename_create_locked */
	struct vfs_inode *dir;
	struct kname *name = malloc(sizeof(*name));
	struct vfs_notify_batch nb;
	uid_t uid = t->cred.fsuid;
	gid_t gid = t->cred.fsgid;
	int ret;

	if (!name)
		return -ENOMEM;
	vfs_nb_init(&nb, t);
	ret = get_kname(t, uname, name, false);
	if (ret)
		goto out_free;
	ret = vfs_nd_init(&nd, t, dfd, name->buf, LOOKUP_PARENT);
	if (ret)
		goto out_free;
	vfs_ns_write_lock(vfs);
	ret = filename_create_locked(&nd, name->buf, kind == CREATE_DIR, &d);
	if (ret)
		goto out_unlock;
	dir = nd.path.dentry->d_inode;
	ret = vfs_may_create(t, dir);
	if (ret)
		goto out_unlock;
	switch (kind) {
	case CREATE_DIR:
		ret = dir->i_op->mkdir
			      ? dir->i_op->mkdir(dir, d,
						 mode & 01777 & ~t->fs->umask,
						 uid, gid)
			      : -EPERM;
		break;
	case CREATE_NOD:
		ret = dir->i_op->mknod
			      ? dir->i_op->mknod(dir, d,
						 (mode & S_IFMT) |
							 vfs_prepare_mode(
								 t, dir, mode),
						 dev, uid, gid)
			      : -EPERM;
		break;
	case CREATE_SYMLINK:
		ret = dir->i_op->symlink
			      ? dir->i_op->symlink(dir, d, target, uid, gid)
			      : -EPERM;
		break;
	}
	if (!ret)
		vfs_nb_name(&nb, UK_NOTIFY_CREATE, dir, d->d_inode, 0, nd.last,
			    nd.last_len);
out_unlock:
	vfs_ns_unlock(vfs);
	vfs_nb_send(&nb);
	vfs_nd_done(&nd);
out_free:
	free(name);
	return ret;
}

SYSCALL_DEFINE3(mkdirat, int, dfd, uk_uptr, pathname, unsigned int, mode)
{
	return do_create(task, dfd, pathname, CREATE_DIR, mode, 0, NULL);
}

SYSCALL_DEFINE2(mkdir, uk_uptr, pathname, unsigned int, mode)
{
	return do_create(task, AT_FDCWD, pathname, CREATE_DIR, mode, 0, NULL);
}

/*
 * mknodat: regular files (type 0 or S_IFREG), FIFOs and sockets; devices
 * are EPERM (this kernel has no drivers); a directory type is EPERM and an
 * unknown one EINVAL, as Linux's may_mknod.
 */
static long do_mknodat(struct uk_task *t, int dfd, uk_uptr name,
		       unsigned int mode, unsigned int dev)
{
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG;
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		/*
		 * Linux's rule: CAP_MKNOD. The node can be made, stat'ed,
		 * renamed and removed; opening it is ENXIO (no devices
		 * here; a FUSE mount is nodev anyway).
		 */
		if (!vfs_capable(&t->cred, UK_CAP_MKNOD))
			return -EPERM;
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	return do_create(t, dfd, name, CREATE_NOD, mode, (dev_t)dev, NULL);
}

SYSCALL_DEFINE4(mknodat, int, dfd, uk_uptr, filename, unsigned int, mode,
		unsigned int, dev)
{
	return do_mknodat(task, dfd, filename, mode, dev);
}

SYSCALL_DEFINE3(mknod, uk_uptr, filename, unsigned int, mode, unsigned int,
		dev)
{
	return do_mknodat(task, AT_FDCWD, filename, mode, dev);
}

static long do_symlinkat(struct uk_task *t, uk_uptr oldname, int newdfd,
			 uk_uptr newname)
{
	struct kname *target = malloc(sizeof(*target));
	long ret;

	if (!target)
		return -ENOMEM;
	ret = get_kname(t, oldname, target, false);
	if (!ret)
		ret = do_create(t, newdfd, newname, CREATE_SYMLINK, 0, 0,
				target->buf);
	free(target);
	return ret;
}

SYSCALL_DEFINE3(symlinkat, uk_uptr, oldname, int, newdfd, uk_uptr, newname)
{
	return do_symlinkat(task, oldname, newdfd, newname);
}

SYSCALL_DEFINE2(symlink, uk_uptr, oldname, uk_uptr, newname)
{
	return do_symlinkat(task, oldname, AT_FDCWD, newname);
}

/* ---- unlink, rmdir ----------------------------------------------------- */

/*
 * do_rmdir/do_unlinkat with ns_lock write-held. rmdir: EINVAL for ".",
 * ENOTEMPTY for "..", EBUSY for "/"; unlink: EISDIR for those. A trailing
 * slash on unlink: ENOENT/EISDIR/ENOTDIR as Linux's "slashes" exit.
 */
static long do_remove(struct uk_task *t, int dfd, uk_uptr uname, bool isdir)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata nd;
	struct vfs_dentry *d = NULL; /* set by the lookup below */
	struct vfs_inode *dir;
	struct kname *name = malloc(sizeof(*name));
	struct vfs_notify_batch nb;
	int ret, rofs;

	if (!name)
		return -ENOMEM;
	vfs_nb_init(&nb, t);
	ret = get_kname(t, uname, name, false);
	if (ret)
		goto out_free;
	ret = vfs_nd_init(&nd, t, dfd, name->buf, LOOKUP_PARENT);
	if (ret)
		goto out_free;
	vfs_ns_write_lock(vfs);
	ret = vfs_walk_locked(&nd, name->buf);
	if (ret)
		goto out_unlock;
	if (nd.last_type != LAST_NORM) {
		if (!isdir)
			ret = -EISDIR;
		else if (nd.last_type == LAST_DOT)
			ret = -EINVAL;
		else if (nd.last_type == LAST_DOTDOT)
			ret = -ENOTEMPTY;
		else
			ret = -EBUSY;
		goto out_unlock;
	}
	rofs = vfs_mnt_want_write(nd.path.mnt);
	d = vfs_lookup_one(vfs, nd.path.dentry, nd.last, nd.last_len);
	if (IS_ERR(d)) {
		ret = (int)PTR_ERR(d);
		goto out_unlock;
	}
	if (!isdir && nd.trailing_slash) {
		if (!d->d_inode)
			ret = -ENOENT;
		else if (S_ISDIR(d->d_inode->i_mode))
			ret = -EISDIR;
		else
			ret = -ENOTDIR;
		goto out_unlock;
	}
	if (!d->d_inode) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (rofs) {
		ret = rofs;
		goto out_unlock;
	}
	dir = nd.path.dentry->d_inode;
	ret = vfs_may_delete(t, dir, d, isdir);
	if (ret)
		goto out_unlock;
	if (isdir)
		ret = dir->i_op->rmdir ? dir->i_op->rmdir(dir, d) : -EPERM;
	else
		ret = dir->i_op->unlink ? dir->i_op->unlink(dir, d) : -EPERM;
	if (!ret) {
		/* The victim's nlink and ctime changed too. */
		vfs_nb_name(&nb, UK_NOTIFY_DELETE, dir, d->d_inode, 0, nd.last,
			    nd.last_len);
		vfs_nb_inode(&nb, UK_NOTIFY_ATTR, d->d_inode);
		vfs_d_delete(d);
	}
out_unlock:
	vfs_ns_unlock(vfs);
	vfs_nb_send(&nb);
	vfs_nd_done(&nd);
out_free:
	free(name);
	return ret;
}

SYSCALL_DEFINE1(unlink, uk_uptr, pathname)
{
	return do_remove(task, AT_FDCWD, pathname, false);
}

SYSCALL_DEFINE1(rmdir, uk_uptr, pathname)
{
	return do_remove(task, AT_FDCWD, pathname, true);
}

SYSCALL_DEFINE3(unlinkat, int, dfd, uk_uptr, pathname, int, flag)
{
	if (flag & ~AT_REMOVEDIR)
		return -EINVAL;
	return do_remove(task, dfd, pathname, flag & AT_REMOVEDIR);
}

/* ---- link -------------------------------------------------------------- */

/*
 * may_linkat with fs.protected_hardlinks=1 (the usual setting): linking a
 * file one does not own needs CAP_FOWNER, or a regular file that is not
 * setuid (nor setgid-executable) and that one may read and write.
 */
static int may_linkat(struct uk_task *t, struct vfs_inode *inode)
{
	mode_t m = inode->i_mode;

	if (vfs_owner_or_capable(&t->cred, inode))
		return 0;
	if (S_ISREG(m) && !(m & S_ISUID) &&
	    (m & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP) &&
	    !vfs_permission(t, inode, MAY_READ | MAY_WRITE))
		return 0;
	return -EPERM;
}

static long do_linkat(struct uk_task *t, int olddfd, uk_uptr uold, int newdfd,
		      uk_uptr unew, int flags)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata ond, nnd;
	struct kname *names = malloc(2 * sizeof(*names));
	struct vfs_dentry *d = NULL; /* set by filename_create_locked */
	struct vfs_inode *dir, *inode;
	struct vfs_notify_batch nb;
	unsigned int lf = 0;
	int ret;

	if (!names)
		return -ENOMEM;
	vfs_nb_init(&nb, t);
	ret = -EINVAL;
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		goto out_free;
	if (flags & AT_SYMLINK_FOLLOW)
		lf |= LOOKUP_FOLLOW;
	if (flags & AT_EMPTY_PATH)
		lf |= LOOKUP_EMPTY;
	/*
	 * Both names are copied first but a bad one fails only when its
	 * turn comes: the old name is resolved first, its errors first.
	 */
	ret = get_kname(t, uold, &names[0], lf & LOOKUP_EMPTY);
	if (ret)
		goto out_free;
	get_kname(t, unew, &names[1], false);
	if (!names[0].len && (lf & LOOKUP_EMPTY) && olddfd != AT_FDCWD) {
		/*
		 * Linking a descriptor (Linux 6.10): its opener's credentials
		 * or CAP_DAC_READ_SEARCH, else it looks like ENOENT.
		 */
		struct vfs_file *f = vfs_fget(t, (unsigned int)olddfd);

		if (!IS_ERR(f)) {
			bool ok = (f->f_uid == t->cred.fsuid &&
				   f->f_gid == t->cred.fsgid) ||
				  vfs_capable(&t->cred,
					      UK_CAP_DAC_READ_SEARCH);

			vfs_fput(f);
			ret = -ENOENT;
			if (!ok)
				goto out_free;
		}
	}
	ret = two_names_begin(t, olddfd, &names[0], lf, &ond, newdfd,
			      &names[1], &nnd);
	if (ret)
		goto out_free;
	ret = filename_create_locked(&nnd, names[1].buf, false, &d);
	if (ret)
		goto out_unlock;
	if (ond.path.mnt != nnd.path.mnt) {
		ret = -EXDEV;
		goto out_unlock;
	}
	dir = nnd.path.dentry->d_inode;
	inode = ond.path.dentry->d_inode;
	ret = may_linkat(t, inode);
	if (ret)
		goto out_unlock;
	ret = vfs_may_create(t, dir);
	if (ret)
		goto out_unlock;
	if (S_ISDIR(inode->i_mode)) {
		ret = -EPERM;
		goto out_unlock;
	}
	if (inode->i_nlink == 0 && !(inode->i_state & VFS_I_LINKABLE)) {
		ret = -ENOENT;
		goto out_unlock;
	}
	ret = dir->i_op->link ? dir->i_op->link(ond.path.dentry, dir, d)
			      : -EPERM;
	if (!ret) {
		/* The new name, and the inode's nlink and ctime. */
		vfs_nb_name(&nb, UK_NOTIFY_CREATE, dir, inode, 0, nnd.last,
			    nnd.last_len);
		vfs_nb_inode(&nb, UK_NOTIFY_ATTR, inode);
	}
out_unlock:
	two_names_done(vfs, &ond, &nnd);
	vfs_nb_send(&nb);
out_free:
	free(names);
	return ret;
}

SYSCALL_DEFINE5(linkat, int, olddfd, uk_uptr, oldname, int, newdfd, uk_uptr,
		newname, int, flags)
{
	return do_linkat(task, olddfd, oldname, newdfd, newname, flags);
}

SYSCALL_DEFINE2(link, uk_uptr, oldname, uk_uptr, newname)
{
	return do_linkat(task, AT_FDCWD, oldname, AT_FDCWD, newname, 0);
}

/* ---- rename ------------------------------------------------------------ */

/* Whether a is d or one of d's ancestors (same mount tree walk). */
static bool is_ancestor(const struct vfs_dentry *a, const struct vfs_dentry *d)
{
	for (;;) {
		if (d == a)
			return true;
		if (vfs_d_is_root(d))
			return false;
		d = d->d_parent;
	}
}

/*
 * vfs_rename's checks after the lookups, then the op and the dcache move.
 * ns_lock write-held.
 */
static int vfs_rename_locked(struct uk_task *t, struct vfs_inode *old_dir,
			     struct vfs_dentry *old, struct vfs_inode *new_dir,
			     struct vfs_dentry *new, unsigned int flags,
			     struct vfs_notify_batch *nb)
{
	struct vfs_inode *source = old->d_inode, *target = new->d_inode;
	bool is_dir = S_ISDIR(source->i_mode);
	bool new_is_dir = target && S_ISDIR(target->i_mode);
	char *abuf, *bbuf = NULL;
	int ret;

	if (source == target)
		return 0;
	ret = vfs_may_delete(t, old_dir, old, is_dir);
	if (ret)
		return ret;
	if (!target)
		ret = vfs_may_create(t, new_dir);
	else if (flags & RENAME_EXCHANGE)
		ret = vfs_may_delete(t, new_dir, new, new_is_dir);
	else
		ret = vfs_may_delete(t, new_dir, new, is_dir);
	if (ret)
		return ret;
	if (new_dir != old_dir) {
		/* A moved directory's ".." changes: write permission on it. */
		if (is_dir) {
			ret = vfs_permission(t, source, MAY_WRITE);
			if (ret)
				return ret;
		}
		if ((flags & RENAME_EXCHANGE) && new_is_dir) {
			ret = vfs_permission(t, target, MAY_WRITE);
			if (ret)
				return ret;
		}
	}
	if (!old_dir->i_op->rename)
		return -EPERM;
	/* Name buffers first: after the op, the dcache move cannot fail. */
	abuf = vfs_d_name_buf(new->d_namelen);
	if (IS_ERR(abuf))
		return -ENOMEM;
	if (flags & RENAME_EXCHANGE) {
		bbuf = vfs_d_name_buf(old->d_namelen);
		if (IS_ERR(bbuf)) {
			free(abuf);
			return -ENOMEM;
		}
	}
	ret = old_dir->i_op->rename(old_dir, old, new_dir, new, flags);
	if (ret) {
		free(abuf);
		free(bbuf);
		return ret;
	}
	/*
	 * Events: each name that went away, then each that appeared, then
	 * the inodes whose ctime (and a victim's nlink) changed.
	 */
	vfs_nb_name(nb, UK_NOTIFY_DELETE, old_dir, source, 0, old->d_name,
		    old->d_namelen);
	if (target)
		vfs_nb_name(nb, UK_NOTIFY_DELETE, new_dir, target, 1,
			    new->d_name, new->d_namelen);
	vfs_nb_name(nb, UK_NOTIFY_CREATE, new_dir, source, 1, new->d_name,
		    new->d_namelen);
	if (flags & RENAME_EXCHANGE)
		vfs_nb_name(nb, UK_NOTIFY_CREATE, old_dir, target, 0,
			    old->d_name, old->d_namelen);
	vfs_nb_inode(nb, UK_NOTIFY_ATTR, source);
	if (target)
		vfs_nb_inode(nb, UK_NOTIFY_ATTR, target);
	if (flags & RENAME_EXCHANGE) {
		vfs_d_exchange(old, new, abuf, bbuf);
	} else {
		if (target)
			vfs_d_delete(new);
		vfs_d_move(old, new, abuf);
	}
	return 0;
}

static long do_renameat2(struct uk_task *t, int olddfd, uk_uptr uold,
			 int newdfd, uk_uptr unew, unsigned int flags)
{
	struct uk_vfs *vfs = t->kernel->vfs;
	struct vfs_nameidata ond, nnd;
	struct kname *names = malloc(2 * sizeof(*names));
	struct vfs_dentry *old, *new;
	struct vfs_notify_batch nb;
	int ret, rofs;

	if (!names)
		return -ENOMEM;
	vfs_nb_init(&nb, t);
	ret = -EINVAL;
	if (flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				    RENAME_WHITEOUT))
		goto out_free;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		goto out_free;
	/* Whiteouts are for overlay file systems, which we do not have. */
	if (flags & RENAME_WHITEOUT)
		goto out_free;
	/* As link: the new name's copy error comes after the old walk. */
	ret = get_kname(t, uold, &names[0], false);
	if (ret)
		goto out_free;
	get_kname(t, unew, &names[1], false);
	ret = two_names_begin(t, olddfd, &names[0], LOOKUP_PARENT, &ond,
			      newdfd, &names[1], &nnd);
	if (ret)
		goto out_free;
	ret = vfs_walk_locked(&nnd, names[1].buf);
	if (ret)
		goto out_unlock;
	ret = -EXDEV;
	if (ond.path.mnt != nnd.path.mnt)
		goto out_unlock;
	ret = -EBUSY;
	if (ond.last_type != LAST_NORM)
		goto out_unlock;
	if (nnd.last_type != LAST_NORM) {
		if (flags & RENAME_NOREPLACE)
			ret = -EEXIST;
		goto out_unlock;
	}
	rofs = vfs_mnt_want_write(ond.path.mnt);
	old = vfs_lookup_one(vfs, ond.path.dentry, ond.last, ond.last_len);
	if (IS_ERR(old)) {
		ret = (int)PTR_ERR(old);
		goto out_unlock;
	}
	ret = -ENOENT;
	if (!old->d_inode)
		goto out_unlock;
	new = vfs_lookup_one(vfs, nnd.path.dentry, nnd.last, nnd.last_len);
	if (IS_ERR(new)) {
		ret = (int)PTR_ERR(new);
		goto out_unlock;
	}
	ret = -EEXIST;
	if ((flags & RENAME_NOREPLACE) && new->d_inode)
		goto out_unlock;
	if (flags & RENAME_EXCHANGE) {
		ret = -ENOENT;
		if (!new->d_inode)
			goto out_unlock;
		if (!S_ISDIR(new->d_inode->i_mode)) {
			ret = -ENOTDIR;
			if (nnd.trailing_slash)
				goto out_unlock;
		}
	}
	if (!S_ISDIR(old->d_inode->i_mode)) {
		ret = -ENOTDIR;
		if (ond.trailing_slash)
			goto out_unlock;
		if (!(flags & RENAME_EXCHANGE) && nnd.trailing_slash)
			goto out_unlock;
	}
	/* The source must not be an ancestor of the target... */
	ret = -EINVAL;
	if (is_ancestor(old, nnd.path.dentry))
		goto out_unlock;
	/* ...nor the target an ancestor of the source. */
	ret = (flags & RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
	if (new->d_inode && is_ancestor(new, ond.path.dentry))
		goto out_unlock;
	ret = rofs;
	if (ret)
		goto out_unlock;
	ret = vfs_rename_locked(t, ond.path.dentry->d_inode, old,
				nnd.path.dentry->d_inode, new, flags, &nb);
out_unlock:
	two_names_done(vfs, &ond, &nnd);
	vfs_nb_send(&nb);
out_free:
	free(names);
	return ret;
}

SYSCALL_DEFINE5(renameat2, int, olddfd, uk_uptr, oldname, int, newdfd,
		uk_uptr, newname, unsigned int, flags)
{
	return do_renameat2(task, olddfd, oldname, newdfd, newname, flags);
}

SYSCALL_DEFINE4(renameat, int, olddfd, uk_uptr, oldname, int, newdfd,
		uk_uptr, newname)
{
	return do_renameat2(task, olddfd, oldname, newdfd, newname, 0);
}

SYSCALL_DEFINE2(rename, uk_uptr, oldname, uk_uptr, newname)
{
	return do_renameat2(task, AT_FDCWD, oldname, AT_FDCWD, newname, 0);
}

/* ---- readlink ---------------------------------------------------------- */

/*
 * readlinkat: EINVAL for bufsiz <= 0 or a non-symlink; an empty name is
 * dfd itself (an O_PATH|O_NOFOLLOW descriptor of a symlink). No NUL is
 * appended; the result is truncated to bufsiz.
 */
static long do_readlinkat(struct uk_task *t, int dfd, uk_uptr uname,
			  uk_uptr buf, int bufsiz)
{
	struct kname *name = malloc(sizeof(*name));
	struct vfs_path path;
	struct vfs_inode *inode;
	long ret;

	if (!name)
		return -ENOMEM;
	ret = -EINVAL;
	if (bufsiz <= 0)
		goto out_free;
	ret = get_kname(t, uname, name, true);
	if (ret)
		goto out_free;
	ret = vfs_path_lookupat(t, dfd, name->buf, LOOKUP_EMPTY, &path);
	if (ret)
		goto out_free;
	inode = path.dentry->d_inode;
	ret = name->len ? -EINVAL : -ENOENT;
	if (!S_ISLNK(inode->i_mode) || !inode->i_op->readlink)
		goto out_put;
	/* The name buffer is free again: reuse it for the body. */
	ret = inode->i_op->readlink(path.dentry, name->buf, UK_PATH_MAX);
	if (ret > bufsiz)
		ret = bufsiz;
	if (ret > 0) {
		int err = copy_to_user(t, buf, name->buf, (size_t)ret);

		if (err)
			ret = err;
	}
	vfs_touch_atime(&path);
out_put:
	vfs_path_put(&path);
out_free:
	free(name);
	return ret;
}

SYSCALL_DEFINE4(readlinkat, int, dfd, uk_uptr, pathname, uk_uptr, buf, int,
		bufsiz)
{
	return do_readlinkat(task, dfd, pathname, buf, bufsiz);
}

SYSCALL_DEFINE3(readlink, uk_uptr, pathname, uk_uptr, buf, int, bufsiz)
{
	return do_readlinkat(task, AT_FDCWD, pathname, buf, bufsiz);
}
