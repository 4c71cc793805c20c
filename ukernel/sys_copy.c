// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_copy.c - in-kernel copies between open files: copy_file_range
 * (regular files of one file system; EXDEV across instances, as Linux
 * answers for two tmpfs mounts) and sendfile (any readable file of the
 * virtual tree to any writable one). Both read into a kernel bounce buffer
 * and write it out through vfs_read/vfs_write, which is what Linux's
 * do_splice_direct amounts to for files without a page cache to share.
 */
#include <stdlib.h>

#include "dispatch.h"
#include "vfs_extras.h"

#define COPY_CHUNK (256u * 1024)

/*
 * Copies up to len bytes from in at *pos_in to out at *pos_out, advancing
 * both. Stops at end of input or at a short write. Returns the bytes
 * copied, or -errno if nothing was copied.
 */
static long do_copy_direct(struct uk_task *t, struct vfs_file *in,
			   int64_t *pos_in, struct vfs_file *out,
			   int64_t *pos_out, size_t len)
{
	size_t chunk = len < COPY_CHUNK ? len : COPY_CHUNK;
	long done = 0, n, w;
	struct vfs_iter it;
	char *buf;

	if (!len)
		return 0;
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while ((size_t)done < len) {
		size_t want = len - (size_t)done;

		if (want > chunk)
			want = chunk;
		vfs_iter_single(&it, NULL, buf, want);
		it.origin = t; /* the events are t's (vfs_notify.h) */
		n = vfs_read(in, &it, pos_in);
		if (n <= 0) {
			if (!done)
				done = n;
			break;
		}
		vfs_iter_single(&it, NULL, buf, (size_t)n);
		it.origin = t;
		w = vfs_write(out, &it, pos_out);
		if (w <= 0) {
			if (!done)
				done = w;
			break;
		}
		done += w;
		if (w < n)
			break;
	}
	free(buf);
	return done;
}

/* f_pos of a shared open file description, read and written under lock. */
static int64_t file_pos(struct vfs_file *f)
{
	int64_t pos;

	pthread_mutex_lock(&f->f_pos_lock);
	pos = f->f_pos;
	pthread_mutex_unlock(&f->f_pos_lock);
	return pos;
}

static void file_pos_set(struct vfs_file *f, int64_t pos)
{
	pthread_mutex_lock(&f->f_pos_lock);
	f->f_pos = pos;
	pthread_mutex_unlock(&f->f_pos_lock);
}

/* /proc/PID/io: one read and one write call, the bytes both ways. */
static void account_copy(struct uk_task *t, long ret)
{
	uk_account_read(t, ret);
	uk_account_write(t, ret);
}

/*
 * generic_copy_file_checks plus vfs_copy_file_range's checks, in Linux's
 * order. Shortens *count to the end of the input. 0 or -errno.
 */
static int copy_file_checks(struct vfs_file *in, int64_t pos_in,
			    struct vfs_file *out, int64_t pos_out,
			    size_t *count)
{
	struct vfs_inode *iin = in->f_inode, *iout = out->f_inode;
	uint64_t c = *count;
	int64_t size_in;
	int ret;

	if (S_ISDIR(iin->i_mode) || S_ISDIR(iout->i_mode))
		return -EISDIR;
	if (!S_ISREG(iin->i_mode) || !S_ISREG(iout->i_mode))
		return -EINVAL;
	if (!(in->f_mode & FMODE_READ) || !(out->f_mode & FMODE_WRITE) ||
	    (atomic_load(&out->f_flags) & O_APPEND))
		return -EBADF;
	if (iin->i_sb != iout->i_sb)
		return -EXDEV;
	if ((uint64_t)pos_in + c < (uint64_t)pos_in ||
	    (uint64_t)pos_out + c < (uint64_t)pos_out)
		return -EOVERFLOW;

	pthread_mutex_lock(&iin->i_lock);
	size_in = iin->i_size;
	pthread_mutex_unlock(&iin->i_lock);
	if (pos_in >= size_in)
		c = 0;
	else if (c > (uint64_t)(size_in - pos_in))
		c = (uint64_t)(size_in - pos_in);

	/* generic_write_check_limits: the output's maximum size. */
	if (pos_out >= iout->i_sb->s_maxbytes) {
		if (c || pos_out > iout->i_sb->s_maxbytes)
			return -EFBIG;
	} else if (c > (uint64_t)(iout->i_sb->s_maxbytes - pos_out)) {
		c = (uint64_t)(iout->i_sb->s_maxbytes - pos_out);
	}

	if (iin == iout && (int64_t)(pos_out + c) > pos_in &&
	    pos_out < (int64_t)(pos_in + c))
		return -EINVAL;

	ret = vfs_rw_verify_area(in, pos_in, c);
	if (ret)
		return ret;
	ret = vfs_rw_verify_area(out, pos_out, c);
	if (ret)
		return ret;
	*count = c;
	return 0;
}

SYSCALL_DEFINE6(copy_file_range, unsigned int, fd_in, uk_uptr, off_in,
		unsigned int, fd_out, uk_uptr, off_out, size_t, len,
		unsigned int, flags)
{
	struct vfs_file *in, *out;
	int64_t pos_in, pos_out;
	long ret;

	in = vfs_fget_io(task, fd_in);
	if (IS_ERR_OR_NULL(in))
		return in ? PTR_ERR(in) : -EBADF;
	out = vfs_fget_io(task, fd_out);
	if (IS_ERR_OR_NULL(out)) {
		ret = out ? PTR_ERR(out) : -EBADF;
		goto out_put_in;
	}
	if (off_in) {
		ret = copy_from_user(task, &pos_in, off_in, sizeof(pos_in));
		if (ret)
			goto out_put;
	} else {
		pos_in = file_pos(in);
	}
	if (off_out) {
		ret = copy_from_user(task, &pos_out, off_out, sizeof(pos_out));
		if (ret)
			goto out_put;
	} else {
		pos_out = file_pos(out);
	}
	ret = -EINVAL;
	if (flags != 0)
		goto out_put;

	ret = copy_file_checks(in, pos_in, out, pos_out, &len);
	if (ret)
		goto out_put;
	ret = 0;
	if (!len)
		goto out_put;
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	ret = do_copy_direct(task, in, &pos_in, out, &pos_out, len);
	account_copy(task, ret);
	if (ret > 0) {
		if (off_in) {
			if (copy_to_user(task, off_in, &pos_in, sizeof(pos_in)))
				ret = -EFAULT;
		} else {
			file_pos_set(in, pos_in);
		}
		if (off_out) {
			if (copy_to_user(task, off_out, &pos_out,
					 sizeof(pos_out)))
				ret = -EFAULT;
		} else {
			file_pos_set(out, pos_out);
		}
	}
out_put:
	vfs_fput(out);
out_put_in:
	vfs_fput(in);
	return ret;
}

/*
 * do_sendfile: copies count bytes from in_fd (at *ppos, or its file
 * position when ppos is NULL) to out_fd at its file position.
 */
static long do_sendfile(struct uk_task *t, unsigned int out_fd,
			unsigned int in_fd, int64_t *ppos, size_t count)
{
	struct vfs_file *in, *out = NULL;
	int64_t pos, out_pos, max;
	long ret;

	in = vfs_fget_io(t, in_fd);
	if (IS_ERR_OR_NULL(in))
		return in ? PTR_ERR(in) : -EBADF;
	ret = -EBADF;
	if (!(in->f_mode & FMODE_READ))
		goto out_put;
	if (!ppos) {
		pos = file_pos(in);
	} else {
		pos = *ppos;
		ret = -ESPIPE;
		if (!(in->f_mode & FMODE_PREAD))
			goto out_put;
	}
	ret = vfs_rw_verify_area(in, pos, count);
	if (ret)
		goto out_put;
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;

	out = vfs_fget_io(t, out_fd);
	if (IS_ERR_OR_NULL(out)) {
		ret = out ? PTR_ERR(out) : -EBADF;
		out = NULL;
		goto out_put;
	}
	ret = -EBADF;
	if (!(out->f_mode & FMODE_WRITE))
		goto out_put;
	out_pos = file_pos(out);

	max = in->f_inode->i_sb->s_maxbytes;
	if (out->f_inode->i_sb->s_maxbytes < max)
		max = out->f_inode->i_sb->s_maxbytes;
	if (pos + (int64_t)count > max) {
		ret = -EOVERFLOW;
		if (pos >= max)
			goto out_put;
		count = (size_t)(max - pos);
	}

	ret = vfs_rw_verify_area(out, out_pos, count);
	if (ret)
		goto out_put;
	/* do_splice_direct's rules: no appending output, a readable input. */
	ret = -EINVAL;
	if (atomic_load(&out->f_flags) & O_APPEND)
		goto out_put;
	if (S_ISDIR(in->f_inode->i_mode))
		goto out_put;

	ret = do_copy_direct(t, in, &pos, out, &out_pos, count);
	account_copy(t, ret);
	if (ret > 0) {
		file_pos_set(out, out_pos);
		if (ppos)
			*ppos = pos;
		else
			file_pos_set(in, pos);
	}
	if (pos > max)
		ret = -EOVERFLOW;
out_put:
	if (out)
		vfs_fput(out);
	vfs_fput(in);
	return ret;
}

SYSCALL_DEFINE4(sendfile64, unsigned int, out_fd, unsigned int, in_fd, uk_uptr,
		offset, size_t, count)
{
	int64_t pos;
	long ret;

	if (!offset)
		return do_sendfile(task, out_fd, in_fd, NULL, count);
	if (copy_from_user(task, &pos, offset, sizeof(pos)))
		return -EFAULT;
	ret = do_sendfile(task, out_fd, in_fd, &pos, count);
	if (copy_to_user(task, offset, &pos, sizeof(pos)))
		return -EFAULT;
	return ret;
}
