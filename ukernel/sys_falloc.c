// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_falloc.c - fallocate(2): the checks of Linux's vfs_fallocate
 * (modes, offsets, access mode, file type, maximum size) in the order Linux
 * makes them, then the file system's fallocate op with i_rwsem write-held.
 * The modes a file system may implement are allocation (0), allocation
 * without growing the file (FALLOC_FL_KEEP_SIZE) and hole punching
 * (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE); every other valid mode is
 * EOPNOTSUPP after the checks, as tmpfs answers on Linux.
 */
#include "vfs_extras.h"
#include "vfs_notify.h"

/* The mode bits of <linux/falloc.h>, spelled out for the wire ABI. */
#define UK_FALLOC_FL_KEEP_SIZE 0x01
#define UK_FALLOC_FL_PUNCH_HOLE 0x02
#define UK_FALLOC_FL_COLLAPSE_RANGE 0x08
#define UK_FALLOC_FL_ZERO_RANGE 0x10
#define UK_FALLOC_FL_INSERT_RANGE 0x20
#define UK_FALLOC_FL_UNSHARE_RANGE 0x40
#define UK_FALLOC_FL_WRITE_ZEROES 0x80
#define UK_FALLOC_FL_MODE_MASK                                                 \
	(UK_FALLOC_FL_PUNCH_HOLE | UK_FALLOC_FL_COLLAPSE_RANGE |               \
	 UK_FALLOC_FL_ZERO_RANGE | UK_FALLOC_FL_INSERT_RANGE |                 \
	 UK_FALLOC_FL_UNSHARE_RANGE | UK_FALLOC_FL_WRITE_ZEROES)

/* Is mode a combination Linux accepts at all (before asking the fs)? */
static int falloc_mode_valid(int mode)
{
	if (mode & ~(UK_FALLOC_FL_MODE_MASK | UK_FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	switch (mode & UK_FALLOC_FL_MODE_MASK) {
	case 0: /* FALLOC_FL_ALLOCATE_RANGE */
	case UK_FALLOC_FL_UNSHARE_RANGE:
	case UK_FALLOC_FL_ZERO_RANGE:
		return 0;
	case UK_FALLOC_FL_PUNCH_HOLE:
		return (mode & UK_FALLOC_FL_KEEP_SIZE) ? 0 : -EOPNOTSUPP;
	case UK_FALLOC_FL_COLLAPSE_RANGE:
	case UK_FALLOC_FL_INSERT_RANGE:
	case UK_FALLOC_FL_WRITE_ZEROES:
		return (mode & UK_FALLOC_FL_KEEP_SIZE) ? -EOPNOTSUPP : 0;
	default:
		return -EOPNOTSUPP;
	}
}

long vfs_fallocate(struct uk_task *t, struct vfs_file *f, int mode,
		   int64_t offset, int64_t len)
{
	struct vfs_inode *inode = f->f_inode;
	int64_t sum;
	long ret;

	if (offset < 0 || len <= 0)
		return -EINVAL;
	ret = falloc_mode_valid(mode);
	if (ret)
		return ret;
	if (!(f->f_mode & FMODE_WRITE))
		return -EBADF;
	if (S_ISFIFO(inode->i_mode))
		return -ESPIPE;
	if (S_ISDIR(inode->i_mode))
		return -EISDIR;
	if (!S_ISREG(inode->i_mode))
		return -ENODEV;
	if (__builtin_add_overflow(offset, len, &sum) ||
	    sum > inode->i_sb->s_maxbytes)
		return -EFBIG;
	/* What our file systems implement; the rest is theirs to refuse. */
	if (mode != 0 && mode != UK_FALLOC_FL_KEEP_SIZE &&
	    mode != (UK_FALLOC_FL_PUNCH_HOLE | UK_FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (!inode->i_op || !inode->i_op->fallocate)
		return -EOPNOTSUPP;
	ret = vfs_mnt_want_write(f->f_path.mnt);
	if (ret)
		return ret;

	pthread_rwlock_wrlock(&inode->i_rwsem);
	ret = inode->i_op->fallocate(inode, mode, offset, len);
	pthread_rwlock_unlock(&inode->i_rwsem);
	if (ret)
		return ret;
	/* file_modified(): a change of the file, as a write is. */
	vfs_file_remove_privs(t, f);
	pthread_mutex_lock(&inode->i_lock);
	vfs_inode_touch_mc(inode);
	pthread_mutex_unlock(&inode->i_lock);
	vfs_notify_inode(t, inode, UK_NOTIFY_DATA, (uint64_t)offset,
			 (uint64_t)len);
	return 0;
}

SYSCALL_DEFINE4(fallocate, unsigned int, fd, int, mode, int64_t, offset,
		int64_t, len)
{
	struct vfs_file *f;
	long ret;

	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f))
		return f ? PTR_ERR(f) : -EBADF;
	ret = vfs_fallocate(task, f, mode, offset, len);
	vfs_fput(f);
	return ret;
}
