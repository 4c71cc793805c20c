/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_inode.c - inodes: allocation, reference counts, timestamps,
 * and the generic attribute code (getattr/fillattr, setattr, notify_change)
 * that every file system shares.
 */
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

struct timespec vfs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/*
 * Makes a new in-core inode of sb through s_op->alloc_inode: i_count 1,
 * i_nlink 1, all times now, a fresh inode number. NULL if out of memory.
 */
struct vfs_inode *vfs_new_inode(struct vfs_super *sb)
{
	struct vfs_inode *i = sb->s_op->alloc_inode(sb);

	if (!i)
		return NULL;
	i->i_sb = sb;
	i->i_ino = atomic_fetch_add(&sb->s_next_ino, 1);
	atomic_init(&i->i_count, 1);
	pthread_rwlock_init(&i->i_rwsem, NULL);
	pthread_mutex_init(&i->i_lock, NULL);
	pthread_mutex_init(&i->i_xattr_lock, NULL);
	i->i_nlink = 1;
	i->i_atime = i->i_mtime = i->i_ctime = i->i_btime = vfs_now();
	atomic_init(&i->i_flctx, NULL);
	return i;
}

/*
 * Owner and mode of a new inode as inode_init_owner does: the creator's
 * fsuid, and the fsgid unless dir is setgid (then dir's group, and a new
 * directory inherits S_ISGID).
 */
void vfs_inode_init_owner(struct vfs_inode *inode, struct vfs_inode *dir,
			  mode_t mode, uid_t uid, gid_t gid)
{
	inode->i_uid = uid;
	if (dir && (dir->i_mode & S_ISGID)) {
		inode->i_gid = dir->i_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	} else {
		inode->i_gid = gid;
	}
	inode->i_mode = mode;
}

struct vfs_inode *vfs_igrab(struct vfs_inode *i)
{
	if (i)
		atomic_fetch_add_explicit(&i->i_count, 1, memory_order_relaxed);
	return i;
}

/*
 * Drops a reference. The last one frees the inode: evict_inode (frees the
 * data) when it has no links left, the extras' lock and xattr state, then
 * destroy_inode. A file system keeping linked inodes alive holds its own
 * reference (tmpfs: the pinned dentry), so a last put means "unused".
 */
void vfs_iput(struct vfs_inode *i)
{
	if (!i)
		return;
	if (atomic_fetch_sub_explicit(&i->i_count, 1, memory_order_acq_rel) != 1)
		return;
	if (i->i_sb->s_op->evict_inode)
		i->i_sb->s_op->evict_inode(i);
	if (atomic_load(&i->i_flctx))
		vfs_locks_inode_free(i);
	if (i->i_xattrs)
		vfs_xattrs_inode_free(i);
	pthread_rwlock_destroy(&i->i_rwsem);
	pthread_mutex_destroy(&i->i_lock);
	pthread_mutex_destroy(&i->i_xattr_lock);
	i->i_sb->s_op->destroy_inode(i);
}

/* Caller holds i_lock. */
void vfs_inode_touch_ctime(struct vfs_inode *inode)
{
	inode->i_ctime = vfs_now();
	inode->i_version++;
}

/* Caller holds i_lock. */
void vfs_inode_touch_mc(struct vfs_inode *inode)
{
	inode->i_mtime = inode->i_ctime = vfs_now();
	inode->i_version++;
}

/* Fills stat from the in-core inode (takes i_lock). */
void vfs_generic_fillattr(struct vfs_inode *inode, struct vfs_kstat *stat)
{
	pthread_mutex_lock(&inode->i_lock);
	stat->mode = inode->i_mode;
	stat->nlink = inode->i_nlink;
	stat->uid = inode->i_uid;
	stat->gid = inode->i_gid;
	stat->rdev = inode->i_rdev;
	stat->size = inode->i_size;
	stat->blocks = inode->i_blocks;
	stat->atime = inode->i_atime;
	stat->mtime = inode->i_mtime;
	stat->ctime = inode->i_ctime;
	stat->btime = inode->i_btime;
	pthread_mutex_unlock(&inode->i_lock);
	stat->dev = inode->i_sb->s_dev;
	stat->ino = inode->i_ino;
	stat->blksize = (uint32_t)inode->i_sb->s_blocksize;
	stat->mask = 0x7ffU | 0x800U; /* STATX_BASIC_STATS | STATX_BTIME */
	stat->attributes = 0;
	stat->attributes_mask = 0;
}

/* vfs_getattr: the fs's getattr or the generic one, plus the mount id. */
int vfs_getattr(const struct vfs_path *path, struct vfs_kstat *stat,
		uint32_t request_mask, unsigned int flags)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	int ret = 0;

	memset(stat, 0, sizeof(*stat));
	if (inode->i_op->getattr)
		ret = inode->i_op->getattr(path, stat, request_mask, flags);
	else
		vfs_generic_fillattr(inode, stat);
	stat->mnt_id = path->mnt->mnt_id;
	return ret;
}

/*
 * Copies the attribute changes other than the size into the inode and sets
 * ctime (setattr_copy). Caller holds i_lock.
 */
void vfs_setattr_copy(struct vfs_inode *inode, const struct vfs_iattr *attr)
{
	unsigned int v = attr->ia_valid;

	if (v & VFS_ATTR_UID)
		inode->i_uid = attr->ia_uid;
	if (v & VFS_ATTR_GID)
		inode->i_gid = attr->ia_gid;
	if (v & VFS_ATTR_ATIME)
		inode->i_atime = attr->ia_atime;
	if (v & VFS_ATTR_MTIME)
		inode->i_mtime = attr->ia_mtime;
	if (v & VFS_ATTR_CTIME)
		inode->i_ctime = attr->ia_ctime;
	if (v & VFS_ATTR_MODE)
		inode->i_mode = (inode->i_mode & S_IFMT) |
				(attr->ia_mode & 07777);
	if (v & VFS_ATTR_KILL_SUID)
		inode->i_mode &= ~S_ISUID;
	if (v & VFS_ATTR_KILL_SGID)
		inode->i_mode &= ~S_ISGID;
	inode->i_version++;
}

/*
 * notify_change: applies a checked attribute change. Always sets ctime
 * (unless the caller gave one); the size goes through i_op->setattr, which
 * a file system must provide if it supports truncate.
 */
int vfs_notify_change(struct vfs_dentry *d, struct vfs_iattr *attr)
{
	struct vfs_inode *inode = d->d_inode;

	if (!(attr->ia_valid & VFS_ATTR_CTIME)) {
		attr->ia_ctime = vfs_now();
		attr->ia_valid |= VFS_ATTR_CTIME;
	}
	if (inode->i_op->setattr)
		return inode->i_op->setattr(d, attr);
	if (attr->ia_valid & VFS_ATTR_SIZE)
		return -EPERM;
	pthread_mutex_lock(&inode->i_lock);
	vfs_setattr_copy(inode, attr);
	pthread_mutex_unlock(&inode->i_lock);
	vfs_mark_inode_dirty(inode);
	return 0;
}
