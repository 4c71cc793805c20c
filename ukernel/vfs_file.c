/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_file.c - open file descriptions and the I/O cores every
 * read/write-family syscall goes through: making and releasing files,
 * iov_iter copies to and from task memory, vfs_read/vfs_write (mode and
 * range checks, O_APPEND, suid clearing, relatime), llseek, fsync and
 * truncate.
 *
 * Sections: files, iter, read/write, seek/sync/truncate.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfs_notify.h"

/* ---- files ------------------------------------------------------------- */

struct vfs_file *vfs_fget_file(struct vfs_file *f)
{
	if (f)
		atomic_fetch_add_explicit(&f->f_count, 1, memory_order_relaxed);
	return f;
}

/*
 * Drops a reference; the last releases the description: OFD and flock
 * locks (extras), f_op->release, then the path and inode references.
 */
void vfs_fput(struct vfs_file *f)
{
	if (!f || atomic_fetch_sub_explicit(&f->f_count, 1,
					    memory_order_acq_rel) != 1)
		return;
	if (atomic_load(&f->f_inode->i_flctx))
		vfs_locks_remove_file(f);
	if (f->f_op && f->f_op->release)
		f->f_op->release(f->f_inode, f);
	vfs_iput(f->f_inode);
	vfs_path_put(&f->f_path);
	pthread_mutex_destroy(&f->f_pos_lock);
	free(f);
}

/*
 * A new open file description for path (references taken here) with
 * count 1. flags are open(2)'s; the access mode becomes f_mode. O_PATH
 * files get FMODE_PATH only and no f_op calls. Returns ERR_PTR on failure
 * (-ENOMEM or f_op->open's error).
 */
struct vfs_file *vfs_open_path(struct uk_task *t, const struct vfs_path *path,
			       unsigned int flags)
{
	struct vfs_file *f = calloc(1, sizeof(*f));
	struct vfs_inode *inode = path->dentry->d_inode;
	int ret;

	if (!f)
		return ERR_PTR(-ENOMEM);
	atomic_init(&f->f_count, 1);
	pthread_mutex_init(&f->f_pos_lock, NULL);
	f->f_path = *path;
	vfs_path_get(&f->f_path);
	f->f_inode = vfs_igrab(inode);
	f->f_uid = t->cred.fsuid;
	f->f_gid = t->cred.fsgid;
	if (flags & O_PATH) {
		f->f_mode = FMODE_PATH;
		atomic_init(&f->f_flags, flags & (O_PATH | O_DIRECTORY |
						  O_NOFOLLOW));
		return f;
	}
	/* As a 64-bit Linux, every file is O_LARGEFILE (F_GETFL shows it). */
	atomic_init(&f->f_flags, (flags | UK_O_LARGEFILE) &
					 ~(unsigned int)(O_CREAT | O_EXCL |
							 O_NOCTTY | O_TRUNC |
							 O_CLOEXEC));
	switch (flags & O_ACCMODE) {
	case O_RDONLY: f->f_mode = FMODE_READ; break;
	case O_WRONLY: f->f_mode = FMODE_WRITE; break;
	default: f->f_mode = FMODE_READ | FMODE_WRITE; break;
	}
	f->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	f->f_op = inode->i_fop;
	if (f->f_op && f->f_op->open) {
		ret = f->f_op->open(inode, f);
		if (ret) {
			f->f_op = NULL;
			vfs_fput(f);
			return ERR_PTR(ret);
		}
	}
	return f;
}

/* ---- iter -------------------------------------------------------------- */

void vfs_iter_init(struct vfs_iter *it, struct uk_task *task,
		   const struct iovec *iov, unsigned long nr_segs, size_t count)
{
	it->task = task;
	it->origin = task;
	it->iov = iov;
	it->nr_segs = nr_segs;
	it->iov_offset = 0;
	it->count = count;
}

void vfs_iter_single(struct vfs_iter *it, struct uk_task *task, void *base,
		     size_t len)
{
	it->single.iov_base = base;
	it->single.iov_len = len;
	vfs_iter_init(it, task, &it->single, 1, len);
}

/*
 * Moves n bytes between kbuf and the iter. dir_out: to the iter. Returns
 * the bytes moved, or -EFAULT if the first segment touched faulted.
 */
static long iter_copy(struct vfs_iter *it, void *kbuf, size_t n, bool dir_out)
{
	size_t done = 0;

	if (n > it->count)
		n = it->count;
	while (done < n) {
		const struct iovec *v = it->iov;
		size_t avail = v->iov_len - it->iov_offset;
		size_t chunk = n - done < avail ? n - done : avail;
		uintptr_t ua = (uintptr_t)v->iov_base + it->iov_offset;
		int ret = 0;

		if (chunk) {
			if (!it->task) {
				if (dir_out)
					memcpy((void *)ua, (char *)kbuf + done,
					       chunk);
				else
					memcpy((char *)kbuf + done,
					       (void *)ua, chunk);
			} else if (dir_out) {
				ret = copy_to_user(it->task, ua,
						   (char *)kbuf + done, chunk);
			} else {
				ret = copy_from_user(it->task,
						     (char *)kbuf + done, ua,
						     chunk);
			}
			if (ret)
				return done ? (long)done : ret;
		}
		done += chunk;
		it->count -= chunk;
		it->iov_offset += chunk;
		if (it->iov_offset == v->iov_len && it->nr_segs > 1) {
			it->iov++;
			it->nr_segs--;
			it->iov_offset = 0;
		}
	}
	return (long)done;
}

long vfs_copy_to_iter(struct vfs_iter *it, const void *src, size_t n)
{
	return iter_copy(it, (void *)(uintptr_t)src, n, true);
}

long vfs_copy_from_iter(struct vfs_iter *it, void *dst, size_t n)
{
	return iter_copy(it, dst, n, false);
}

/* Moves the iter back n bytes it has passed (Linux's iov_iter_revert). */
static void iter_revert(struct vfs_iter *it, size_t n)
{
	it->count += n;
	while (n > it->iov_offset) {
		n -= it->iov_offset;
		it->iov--;
		it->nr_segs++;
		it->iov_offset = it->iov->iov_len;
	}
	it->iov_offset -= n;
}

/* Puts a->it at byte off of its request, back if a copy is redone. */
static struct vfs_iter *iter_at(struct vfs_iter_at *a, size_t off)
{
	size_t passed = a->count0 - a->it->count;

	if (off < passed)
		iter_revert(a->it, passed - off);
	return a->it;
}

size_t vfs_iter_at_copy_to(void *ctx, size_t off, void *kbuf, size_t n)
{
	long r = vfs_copy_to_iter(iter_at(ctx, off), kbuf, n);

	return r < 0 ? 0 : (size_t)r;
}

size_t vfs_iter_at_copy_from(void *ctx, size_t off, void *kbuf, size_t n)
{
	long r = vfs_copy_from_iter(iter_at(ctx, off), kbuf, n);

	return r < 0 ? 0 : (size_t)r;
}

static const char zero_page[4096];

long vfs_zero_iter(struct vfs_iter *it, size_t n)
{
	long done = 0;

	while (n) {
		size_t c = n < sizeof(zero_page) ? n : sizeof(zero_page);
		long r = vfs_copy_to_iter(it, zero_page, c);

		if (r < 0)
			return done ? done : r;
		done += r;
		n -= (size_t)r;
		if ((size_t)r < c)
			break;
	}
	return done;
}

/* ---- read/write -------------------------------------------------------- */

/*
 * rw_verify_area: a negative position is EINVAL (unless the file allows
 * it, none here), a range past the largest offset EOVERFLOW... as Linux:
 * pos + count overflowing loff_t is EINVAL.
 */
int vfs_rw_verify_area(struct vfs_file *f, int64_t pos, size_t count)
{
	if (pos < 0)
		return -EINVAL;
	if (count > (size_t)INT64_MAX || pos > INT64_MAX - (int64_t)count)
		return -EINVAL;
	return 0;
}

/* a > b for timestamps read without i_lock (a torn read only errs late). */
static inline bool ts_after_racy(const struct timespec *a,
				 const struct timespec *b)
{
	time_t as = __atomic_load_n(&a->tv_sec, __ATOMIC_RELAXED);
	time_t bs = __atomic_load_n(&b->tv_sec, __ATOMIC_RELAXED);

	if (as != bs)
		return as > bs;
	return __atomic_load_n(&a->tv_nsec, __ATOMIC_RELAXED) >
	       __atomic_load_n(&b->tv_nsec, __ATOMIC_RELAXED);
}

static inline bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec
				      : a->tv_nsec > b->tv_nsec;
}

/*
 * relatime: atime moves on a read only if it is not after mtime or ctime,
 * or is more than a day old. The common case (nothing to do) is decided
 * without i_lock from relaxed loads; i_lock is taken only to write.
 */
bool vfs_touch_atime(const struct vfs_path *path)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	struct timespec now;
	bool moved = false;

	if (path->mnt->mnt_flags & VFS_MNT_NOATIME)
		return false;
	if (ts_after_racy(&inode->i_atime, &inode->i_mtime) &&
	    ts_after_racy(&inode->i_atime, &inode->i_ctime)) {
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec - __atomic_load_n(&inode->i_atime.tv_sec,
						 __ATOMIC_RELAXED) <
		    24 * 3600)
			return false;
	}
	pthread_mutex_lock(&inode->i_lock);
	now = vfs_now();
	if (!ts_after(&inode->i_atime, &inode->i_mtime) ||
	    !ts_after(&inode->i_atime, &inode->i_ctime) ||
	    now.tv_sec - inode->i_atime.tv_sec >= 24 * 3600) {
		inode->i_atime = now;
		moved = true;
	}
	pthread_mutex_unlock(&inode->i_lock);
	vfs_mark_inode_dirty(inode);
	return moved;
}

/*
 * vfs_read: EBADF without FMODE_READ, EISDIR on a directory, EINVAL when
 * the file cannot be read; clamps to MAX_RW_COUNT; reads at *pos under
 * i_rwsem (read) and updates atime. Returns bytes or -errno.
 */
long vfs_read(struct vfs_file *f, struct vfs_iter *to, int64_t *pos)
{
	struct vfs_inode *inode = f->f_inode;
	long ret;

	if (!(f->f_mode & FMODE_READ))
		return -EBADF;
	if (uk_unlikely(vfs_is_dir(inode)))
		return -EISDIR;
	if (!f->f_op || !f->f_op->read_iter)
		return -EINVAL;
	ret = vfs_rw_verify_area(f, *pos, to->count);
	if (ret)
		return ret;
	if (to->count > MAX_RW_COUNT)
		to->count = MAX_RW_COUNT;
	if (!to->count)
		return 0;
	pthread_rwlock_rdlock(&inode->i_rwsem);
	ret = f->f_op->read_iter(f, to, pos);
	pthread_rwlock_unlock(&inode->i_rwsem);
	/* Even a read at EOF is an access (filemap_read's file_accessed). */
	if (ret >= 0 && !(atomic_load_explicit(&f->f_flags,
					       memory_order_relaxed) &
			  O_NOATIME) &&
	    vfs_touch_atime(&f->f_path))
		vfs_notify_inode(to->origin, inode, UK_NOTIFY_ATTR, 0, 0);
	return ret;
}

/*
 * Clears suid (and sgid with group-exec) after a write by a non-root (t,
 * or for kernel-internal writes without a task, the file's opener).
 */
void vfs_file_remove_privs(struct uk_task *t, struct vfs_file *f)
{
	struct vfs_inode *inode = f->f_inode;
	mode_t mode = inode->i_mode;

	if (!(mode & S_ISUID) &&
	    !((mode & S_ISGID) && (mode & S_IXGRP)))
		return;
	if (t ? vfs_capable(&t->cred, UK_CAP_FSETID) : f->f_uid == 0)
		return;
	pthread_mutex_lock(&inode->i_lock);
	inode->i_mode &= ~S_ISUID;
	if (inode->i_mode & S_IXGRP)
		inode->i_mode &= ~S_ISGID;
	vfs_inode_touch_ctime(inode);
	pthread_mutex_unlock(&inode->i_lock);
	vfs_mark_inode_dirty(inode);
}

/*
 * vfs_write: EBADF without FMODE_WRITE, EINVAL when it cannot be written,
 * EFBIG past s_maxbytes; with O_APPEND the position is i_size, taken under
 * i_rwsem (write) so appends are atomic. Returns bytes or -errno. The
 * caller handles O_SYNC/O_DSYNC (vfs_fsync_range after a write).
 */
long vfs_write(struct vfs_file *f, struct vfs_iter *from, int64_t *pos)
{
	return vfs_write_append(f, from, pos, false);
}

/* vfs_write; append: at i_size whatever the flags (RWF_APPEND). */
long vfs_write_append(struct vfs_file *f, struct vfs_iter *from,
		      int64_t *pos, bool append)
{
	struct vfs_inode *inode = f->f_inode;
	int64_t maxbytes = inode->i_sb->s_maxbytes;
	long ret;

	if (!(f->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!f->f_op || !f->f_op->write_iter)
		return -EINVAL;
	ret = vfs_rw_verify_area(f, *pos, from->count);
	if (ret)
		return ret;
	if (from->count > MAX_RW_COUNT)
		from->count = MAX_RW_COUNT;
	if (!from->count)
		return 0;
	pthread_rwlock_wrlock(&inode->i_rwsem);
	if (append ||
	    (atomic_load_explicit(&f->f_flags, memory_order_relaxed) & O_APPEND))
		*pos = inode->i_size;
	if (*pos >= maxbytes) {
		ret = -EFBIG;
		goto out_unlock;
	}
	if ((int64_t)from->count > maxbytes - *pos)
		from->count = (size_t)(maxbytes - *pos);
	if (inode->i_mode & (S_ISUID | S_ISGID))
		vfs_file_remove_privs(from->task, f);
	ret = f->f_op->write_iter(f, from, pos);
out_unlock:
	pthread_rwlock_unlock(&inode->i_rwsem);
	if (ret > 0)
		vfs_notify_inode(from->origin, inode, UK_NOTIFY_DATA,
				 (uint64_t)(*pos - ret), (uint64_t)ret);
	if (ret > 0 && (atomic_load(&f->f_flags) & (O_SYNC | O_DSYNC)))
		vfs_fsync_range(f, *pos - ret, *pos - 1,
				(atomic_load(&f->f_flags) & O_SYNC) != O_SYNC);
	return ret;
}

/* ---- seek/sync/truncate ------------------------------------------------ */

/*
 * generic_file_llseek: SEEK_SET/CUR/END, and SEEK_DATA/SEEK_HOLE through
 * i_op->seek_data_hole (or "all data" when the fs has none). EINVAL for a
 * bad whence or a negative result, EOVERFLOW past the largest offset,
 * ENXIO for SEEK_DATA/HOLE at or past EOF. Takes f_pos_lock.
 */
int64_t vfs_generic_llseek(struct vfs_file *f, int64_t off, int whence)
{
	struct vfs_inode *inode = f->f_inode;
	int64_t base, npos;

	pthread_mutex_lock(&f->f_pos_lock);
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = f->f_pos;
		break;
	case SEEK_END:
		base = inode->i_size;
		break;
	case SEEK_DATA:
	case SEEK_HOLE:
		if (off < 0) {
			npos = -ENXIO;
			goto out_unlock;
		}
		pthread_rwlock_rdlock(&inode->i_rwsem);
		if (inode->i_op->seek_data_hole && S_ISREG(inode->i_mode))
			npos = inode->i_op->seek_data_hole(inode, off, whence);
		else if (off >= inode->i_size)
			npos = -ENXIO;
		else
			npos = whence == SEEK_DATA ? off : inode->i_size;
		pthread_rwlock_unlock(&inode->i_rwsem);
		if (npos >= 0)
			f->f_pos = npos;
		goto out_unlock;
	default:
		npos = -EINVAL;
		goto out_unlock;
	}
	if ((off > 0 && base > INT64_MAX - off)) {
		npos = -EOVERFLOW;
		goto out_unlock;
	}
	npos = base + off;
	if (npos < 0) {
		npos = -EINVAL;
		goto out_unlock;
	}
	if (npos > inode->i_sb->s_maxbytes) {
		npos = -EINVAL;
		goto out_unlock;
	}
	f->f_pos = npos;
out_unlock:
	pthread_mutex_unlock(&f->f_pos_lock);
	return npos;
}

int64_t vfs_llseek(struct vfs_file *f, int64_t off, int whence)
{
	if (f->f_op && f->f_op->llseek)
		return f->f_op->llseek(f, off, whence);
	return vfs_generic_llseek(f, off, whence);
}

/* fsync/fdatasync of [start, end]: the fs op, then the inode's write. */
int vfs_fsync_range(struct vfs_file *f, int64_t start, int64_t end,
		    bool datasync)
{
	struct vfs_inode *inode = f->f_inode;
	int ret = 0;

	if (f->f_op && f->f_op->fsync)
		ret = f->f_op->fsync(f, start, end, datasync);
	else if (!f->f_op)
		return -EINVAL;
	if (!ret && inode->i_sb->s_op->write_inode)
		ret = inode->i_sb->s_op->write_inode(inode, true);
	return ret;
}

/*
 * do_truncate: sets the size through notify_change with mtime/ctime, and
 * clears suid/sgid as a write would. The caller checked permissions,
 * EISDIR/EINVAL and length >= 0; here EFBIG past s_maxbytes.
 */
int vfs_do_truncate(struct uk_task *t, struct vfs_dentry *d, int64_t length,
		    struct vfs_file *filp)
{
	struct vfs_inode *inode = d->d_inode;
	struct vfs_iattr attr = { 0 };
	int ret;

	if (length > inode->i_sb->s_maxbytes)
		return -EFBIG;
	attr.ia_valid = VFS_ATTR_SIZE | VFS_ATTR_MTIME | VFS_ATTR_CTIME;
	attr.ia_size = length;
	attr.ia_mtime = attr.ia_ctime = vfs_now();
	if (!vfs_capable(&t->cred, UK_CAP_FSETID)) {
		if (inode->i_mode & S_ISUID)
			attr.ia_valid |= VFS_ATTR_KILL_SUID;
		if ((inode->i_mode & (S_ISGID | S_IXGRP)) ==
		    (S_ISGID | S_IXGRP))
			attr.ia_valid |= VFS_ATTR_KILL_SGID;
	}
	ret = vfs_notify_change(d, &attr);
	/* Everything from the new end on changed, and the size. */
	if (!ret)
		vfs_notify_inode(t, inode, UK_NOTIFY_DATA | UK_NOTIFY_ATTR,
				 (uint64_t)length, 0);
	return ret;
}
