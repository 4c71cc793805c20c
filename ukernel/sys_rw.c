/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_rw.c - read, write, pread64, pwrite64, readv, writev, preadv,
 * pwritev, preadv2, pwritev2 and lseek, as fs/read_write.c has them: the
 * descriptor (EBADF, O_PATH is EBADF too), the file position under
 * f_pos_lock (so a description shared by dup/fork moves consistently), the
 * iovec import (EINVAL past IOV_MAX or for a negative length; the total
 * clamped to MAX_RW_COUNT), RWF_* flags, then vfs_read/vfs_write, and the
 * task's I/O accounting (rchar/wchar/syscr/syscw).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fs.h>

#include "dispatch.h"
#include "vfs.h"

#define UK_UIO_FASTIOV 8
#define UK_UIO_MAXIOV 1024
#define UK_RWF_SUPPORTED (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | \
			  RWF_APPEND)

/* Reads at *pos (f_pos when pos is NULL) and accounts the call. */
static long do_read(struct uk_task *t, struct vfs_file *f, struct vfs_iter *it,
		    int64_t *pos)
{
	long ret;

	if (!(f->f_mode & FMODE_READ))
		return -EBADF;
	if (pos) {
		ret = vfs_read(f, it, pos);
	} else {
		pthread_mutex_lock(&f->f_pos_lock);
		int64_t p = f->f_pos;

		ret = vfs_read(f, it, &p);
		if (ret >= 0)
			f->f_pos = p;
		pthread_mutex_unlock(&f->f_pos_lock);
	}
	uk_account_read(t, ret);
	return ret;
}

/* Writes at *pos (f_pos when pos is NULL) and accounts the call. */
static long do_write(struct uk_task *t, struct vfs_file *f,
		     struct vfs_iter *it, int64_t *pos)
{
	long ret;

	if (!(f->f_mode & FMODE_WRITE))
		return -EBADF;
	if (pos) {
		ret = vfs_write(f, it, pos);
	} else {
		pthread_mutex_lock(&f->f_pos_lock);
		int64_t p = f->f_pos;

		ret = vfs_write(f, it, &p);
		if (ret >= 0)
			f->f_pos = p;
		pthread_mutex_unlock(&f->f_pos_lock);
	}
	uk_account_write(t, ret);
	return ret;
}

SYSCALL_DEFINE3(read, unsigned int, fd, uk_uptr, buf, size_t, count)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	struct vfs_iter it;
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	vfs_iter_single(&it, task, (void *)buf, count);
	ret = do_read(task, f, &it, NULL);
	vfs_fput(f);
	return ret;
}

SYSCALL_DEFINE3(write, unsigned int, fd, uk_uptr, buf, size_t, count)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	struct vfs_iter it;
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	vfs_iter_single(&it, task, (void *)buf, count);
	ret = do_write(task, f, &it, NULL);
	vfs_fput(f);
	return ret;
}

/* pread64/pwrite64: EINVAL for a negative offset; ESPIPE without PREAD. */
SYSCALL_DEFINE4(pread64, unsigned int, fd, uk_uptr, buf, size_t, count,
		int64_t, pos)
{
	struct vfs_file *f;
	struct vfs_iter it;
	long ret;

	if (pos < 0)
		return -EINVAL;
	f = vfs_fget_io(task, fd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (!(f->f_mode & FMODE_PREAD)) {
		ret = -ESPIPE;
		goto out_put;
	}
	vfs_iter_single(&it, task, (void *)buf, count);
	ret = do_read(task, f, &it, &pos);
out_put:
	vfs_fput(f);
	return ret;
}

SYSCALL_DEFINE4(pwrite64, unsigned int, fd, uk_uptr, buf, size_t, count,
		int64_t, pos)
{
	struct vfs_file *f;
	struct vfs_iter it;
	long ret;

	if (pos < 0)
		return -EINVAL;
	f = vfs_fget_io(task, fd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (!(f->f_mode & FMODE_PWRITE)) {
		ret = -ESPIPE;
		goto out_put;
	}
	vfs_iter_single(&it, task, (void *)buf, count);
	ret = do_write(task, f, &it, &pos);
out_put:
	vfs_fput(f);
	return ret;
}

/*
 * import_iovec: copies nr user iovecs into fast (or a malloc'd array put
 * in *heap), checks them and sets up it. EINVAL for nr > IOV_MAX or a
 * length that is negative as ssize_t; the total is clamped to MAX_RW_COUNT.
 */
static long import_iovec(struct uk_task *t, uk_uptr uvec, unsigned long nr,
			 struct iovec *fast, struct iovec **heap,
			 struct vfs_iter *it)
{
	struct iovec *iov = fast;
	size_t total = 0;
	int ret;

	*heap = NULL;
	if (nr > UK_UIO_MAXIOV)
		return -EINVAL;
	if (nr > UK_UIO_FASTIOV) {
		iov = malloc(nr * sizeof(*iov));
		if (!iov)
			return -ENOMEM;
		*heap = iov;
	}
	ret = copy_from_user(t, iov, uvec, nr * sizeof(*iov));
	if (ret)
		return ret;
	for (unsigned long i = 0; i < nr; i++) {
		size_t len = iov[i].iov_len;

		if ((ssize_t)len < 0)
			return -EINVAL;
		if (len > MAX_RW_COUNT - total) {
			len = MAX_RW_COUNT - total;
			iov[i].iov_len = len;
		}
		total += len;
	}
	vfs_iter_init(it, t, iov, nr, total);
	return 0;
}

/* The vectored family; pos NULL means f_pos. flags are RWF_*. */
static long do_rw_vec(struct uk_task *t, unsigned int fd, uk_uptr uvec,
		      unsigned long nr, int64_t *pos, int flags, bool write)
{
	struct iovec fast[UK_UIO_FASTIOV], *heap;
	struct vfs_file *f;
	struct vfs_iter it;
	long ret;

	if (flags & ~UK_RWF_SUPPORTED)
		return -EOPNOTSUPP;
	f = vfs_fget_io(t, fd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	if (pos && !(f->f_mode & (write ? FMODE_PWRITE : FMODE_PREAD))) {
		ret = -ESPIPE;
		goto out_put;
	}
	if (!(f->f_mode & (write ? FMODE_WRITE : FMODE_READ))) {
		ret = -EBADF;
		goto out_put;
	}
	ret = import_iovec(t, uvec, nr, fast, &heap, &it);
	if (ret)
		goto out_free;
	if (!write) {
		ret = do_read(t, f, &it, pos);
		goto out_free;
	}
	if (flags & RWF_APPEND) {
		/* Append for this call only: O_APPEND's path at i_size. */
		int64_t p = 0;
		unsigned int old = atomic_fetch_or(&f->f_flags, 0);

		if (!(old & O_APPEND)) {
			pthread_rwlock_rdlock(&f->f_inode->i_rwsem);
			p = f->f_inode->i_size;
			pthread_rwlock_unlock(&f->f_inode->i_rwsem);
		}
		ret = do_write(t, f, &it, (old & O_APPEND) ? pos : &p);
		if (ret >= 0 && !pos && !(old & O_APPEND)) {
			pthread_mutex_lock(&f->f_pos_lock);
			f->f_pos = p;
			pthread_mutex_unlock(&f->f_pos_lock);
		}
	} else {
		ret = do_write(t, f, &it, pos);
	}
	if (ret > 0 && (flags & (RWF_DSYNC | RWF_SYNC)))
		vfs_fsync_range(f, 0, INT64_MAX, !(flags & RWF_SYNC));
out_free:
	free(heap);
out_put:
	vfs_fput(f);
	return ret;
}

SYSCALL_DEFINE3(readv, unsigned long, fd, uk_uptr, vec, unsigned long, vlen)
{
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, NULL, 0, false);
}

SYSCALL_DEFINE3(writev, unsigned long, fd, uk_uptr, vec, unsigned long, vlen)
{
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, NULL, 0, true);
}

SYSCALL_DEFINE5(preadv, unsigned long, fd, uk_uptr, vec, unsigned long, vlen,
		unsigned long, pos_l, unsigned long, pos_h)
{
	int64_t pos = (int64_t)pos_l;

	if (pos < 0)
		return -EINVAL;
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, &pos, 0, false);
}

SYSCALL_DEFINE5(pwritev, unsigned long, fd, uk_uptr, vec, unsigned long, vlen,
		unsigned long, pos_l, unsigned long, pos_h)
{
	int64_t pos = (int64_t)pos_l;

	if (pos < 0)
		return -EINVAL;
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, &pos, 0, true);
}

/* preadv2/pwritev2: an offset of -1 means the file position. */
SYSCALL_DEFINE6(preadv2, unsigned long, fd, uk_uptr, vec, unsigned long, vlen,
		unsigned long, pos_l, unsigned long, pos_h, int, flags)
{
	int64_t pos = (int64_t)pos_l;

	if (pos == -1)
		return do_rw_vec(task, (unsigned int)fd, vec, vlen, NULL,
				 flags, false);
	if (pos < 0)
		return -EINVAL;
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, &pos, flags,
			 false);
}

SYSCALL_DEFINE6(pwritev2, unsigned long, fd, uk_uptr, vec, unsigned long, vlen,
		unsigned long, pos_l, unsigned long, pos_h, int, flags)
{
	int64_t pos = (int64_t)pos_l;

	if (pos == -1)
		return do_rw_vec(task, (unsigned int)fd, vec, vlen, NULL,
				 flags, true);
	if (pos < 0)
		return -EINVAL;
	return do_rw_vec(task, (unsigned int)fd, vec, vlen, &pos, flags,
			 true);
}

/*
 * lseek: EBADF (O_PATH too), EINVAL for a bad whence or a negative result;
 * directories (whose positions are readdir cookies) take SEEK_SET and
 * SEEK_CUR only.
 */
SYSCALL_DEFINE3(lseek, unsigned int, fd, int64_t, offset, unsigned int,
		whence)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	int64_t ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	if (vfs_is_dir(f->f_inode) && whence != SEEK_SET &&
	    whence != SEEK_CUR)
		ret = -EINVAL;
	else if (whence > SEEK_MAX)
		ret = -EINVAL;
	else
		ret = vfs_llseek(f, offset, (int)whence);
	vfs_fput(f);
	return ret;
}
