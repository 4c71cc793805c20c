/* SPDX-License-Identifier: MIT */
/*
 * ukernel/sys_fd.c - descriptor and directory-stream syscalls: dup, dup2,
 * dup3, fcntl (record locks go to the extras' vfs_fcntl_lock), getdents64,
 * fsync, fdatasync, sync, syncfs, getcwd, chdir, fchdir.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

/* ---- dup --------------------------------------------------------------- */

SYSCALL_DEFINE1(dup, unsigned int, fildes)
{
	struct vfs_file *f = vfs_fget(task, fildes);
	int fd;

	if (IS_ERR(f))
		return PTR_ERR(f);
	fd = vfs_alloc_fd(task, 0, 0);
	if (fd < 0) {
		vfs_fput(f);
		return fd;
	}
	vfs_fd_install(task, (unsigned int)fd, f);
	return fd;
}

/* dup3: EINVAL for unknown flags or oldfd == newfd, EBADF past the limit. */
static long do_dup3(struct uk_task *t, unsigned int oldfd, unsigned int newfd,
		    int flags)
{
	struct vfs_file *f;

	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	if (newfd >= t->files->nr_open)
		return -EBADF;
	f = vfs_fget(t, oldfd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	return vfs_replace_fd(t, newfd, f, (unsigned int)flags);
}

SYSCALL_DEFINE3(dup3, unsigned int, oldfd, unsigned int, newfd, int, flags)
{
	return do_dup3(task, oldfd, newfd, flags);
}

/* dup2 with oldfd == newfd just checks oldfd. */
SYSCALL_DEFINE2(dup2, unsigned int, oldfd, unsigned int, newfd)
{
	if (oldfd == newfd) {
		struct vfs_file *f = vfs_fget(task, oldfd);

		if (IS_ERR(f))
			return PTR_ERR(f);
		vfs_fput(f);
		return newfd;
	}
	return do_dup3(task, oldfd, newfd, 0);
}

/* ---- fcntl ------------------------------------------------------------- */

#define SETFL_MASK (O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT | O_NOATIME | \
		    O_ASYNC)

/* F_SETFL: only the status flags above change; O_NOATIME needs owner. */
static long setfl(struct uk_task *t, struct vfs_file *f, unsigned long arg)
{
	unsigned int old, nflags;

	if ((arg & O_NOATIME) &&
	    !vfs_owner_or_capable(&t->cred, f->f_inode))
		return -EPERM;
	old = atomic_load(&f->f_flags);
	do {
		nflags = (old & ~(unsigned int)SETFL_MASK) |
			 ((unsigned int)arg & SETFL_MASK);
	} while (!atomic_compare_exchange_weak(&f->f_flags, &old, nflags));
	return 0;
}

static bool is_lock_cmd(unsigned int cmd)
{
	switch (cmd) {
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		return true;
	default:
		return false;
	}
}

/*
 * fcntl: on an O_PATH descriptor only F_DUPFD*, F_GETFD, F_SETFD and
 * F_GETFL work (EBADF otherwise); unknown commands are EINVAL.
 */
SYSCALL_DEFINE3(fcntl, unsigned int, fd, unsigned int, cmd, unsigned long,
		arg)
{
	struct vfs_file *f = vfs_fget(task, fd);
	long ret;
	int nfd;

	if (IS_ERR(f))
		return PTR_ERR(f);
	if ((f->f_mode & FMODE_PATH) && cmd != F_DUPFD &&
	    cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
	    cmd != F_GETFL) {
		ret = -EBADF;
		goto out_put;
	}
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (arg >= task->files->nr_open) {
			ret = -EINVAL;
			break;
		}
		nfd = vfs_alloc_fd(task, (unsigned int)arg,
				   cmd == F_DUPFD_CLOEXEC ? O_CLOEXEC : 0);
		if (nfd < 0) {
			ret = nfd;
			break;
		}
		vfs_fd_install(task, (unsigned int)nfd, vfs_fget_file(f));
		ret = nfd;
		break;
	case F_GETFD:
		ret = vfs_get_close_on_exec(task, fd);
		if (ret > 0)
			ret = FD_CLOEXEC;
		break;
	case F_SETFD:
		ret = vfs_set_close_on_exec(task, fd, arg & FD_CLOEXEC);
		break;
	case F_GETFL: {
		unsigned int fl = atomic_load(&f->f_flags);

		if (!(f->f_mode & FMODE_PATH)) {
			fl &= ~(unsigned int)O_ACCMODE;
			if ((f->f_mode & (FMODE_READ | FMODE_WRITE)) ==
			    (FMODE_READ | FMODE_WRITE))
				fl |= O_RDWR;
			else if (f->f_mode & FMODE_WRITE)
				fl |= O_WRONLY;
			else if (!(f->f_mode & FMODE_READ))
				fl |= O_ACCMODE;
		}
		ret = fl;
		break;
	}
	case F_SETFL:
		ret = setfl(task, f, arg);
		break;
	default:
		if (is_lock_cmd(cmd))
			ret = vfs_fcntl_lock(task, fd, f, cmd, arg);
		else
			ret = -EINVAL;
		break;
	}
out_put:
	vfs_fput(f);
	return ret;
}

/* ---- getdents64 -------------------------------------------------------- */

struct linux_dirent64_hdr {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct getdents_ctx {
	struct vfs_dir_context ctx;
	struct uk_task *task;
	uk_uptr buf;      /* where the next record goes */
	size_t left;      /* bytes left in the user buffer */
	long error;       /* EINVAL (too small) or EFAULT */
	bool any;
};

/* filldir64: one linux_dirent64 record, 8-byte aligned. */
static bool filldir64(struct vfs_dir_context *c, const char *name, int len,
		      int64_t next, uint64_t ino, unsigned int type)
{
	struct getdents_ctx *g = (struct getdents_ctx *)c;
	size_t reclen = (offsetof(struct linux_dirent64_hdr, d_name) +
			 (size_t)len + 1 + 7) & ~(size_t)7;
	union {
		struct linux_dirent64_hdr h;
		char raw[sizeof(struct linux_dirent64_hdr) + UK_NAME_MAX + 8];
	} rec;
	int ret;

	if (reclen > g->left) {
		if (!g->any)
			g->error = -EINVAL;
		return false;
	}
	memset(&rec, 0, reclen);
	rec.h.d_ino = ino;
	rec.h.d_off = next;
	rec.h.d_reclen = (unsigned short)reclen;
	rec.h.d_type = (unsigned char)type;
	memcpy(rec.h.d_name, name, (size_t)len);
	ret = copy_to_user(g->task, g->buf, &rec, reclen);
	if (ret) {
		g->error = ret;
		return false;
	}
	g->buf += reclen;
	g->left -= reclen;
	g->any = true;
	return true;
}

/*
 * getdents64: EBADF (O_PATH too), ENOTDIR, ENOENT on a removed directory,
 * EINVAL when not even one entry fits. The directory is read under ns_lock
 * (read), from f_pos (a readdir cookie) under f_pos_lock.
 */
SYSCALL_DEFINE3(getdents64, unsigned int, fd, uk_uptr, dirent, unsigned int,
		count)
{
	struct vfs_file *f = vfs_fget_io(task, fd);
	struct uk_vfs *vfs = task->kernel->vfs;
	struct getdents_ctx g = {
		.ctx.actor = filldir64,
		.task = task,
		.buf = dirent,
		.left = count,
	};
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = -ENOTDIR;
	if (!vfs_is_dir(f->f_inode) || !f->f_op || !f->f_op->iterate)
		goto out_put;
	pthread_mutex_lock(&f->f_pos_lock);
	pthread_rwlock_rdlock(&vfs->ns_lock);
	if (f->f_inode->i_nlink == 0) {
		ret = -ENOENT;
	} else {
		g.ctx.pos = f->f_pos;
		ret = f->f_op->iterate(f, &g.ctx);
		f->f_pos = g.ctx.pos;
	}
	pthread_rwlock_unlock(&vfs->ns_lock);
	pthread_mutex_unlock(&f->f_pos_lock);
	if (!ret) {
		if (!(atomic_load(&f->f_flags) & O_NOATIME))
			vfs_touch_atime(&f->f_path);
		if (g.any)
			ret = (long)(count - g.left);
		else
			ret = g.error;
	}
out_put:
	vfs_fput(f);
	return ret;
}

/* ---- sync -------------------------------------------------------------- */

static long do_fsync(struct uk_task *t, unsigned int fd, bool datasync)
{
	struct vfs_file *f = vfs_fget_io(t, fd);
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = vfs_fsync_range(f, 0, INT64_MAX, datasync);
	vfs_fput(f);
	return ret;
}

SYSCALL_DEFINE1(fsync, unsigned int, fd)
{
	return do_fsync(task, fd, false);
}

SYSCALL_DEFINE1(fdatasync, unsigned int, fd)
{
	return do_fsync(task, fd, true);
}

static int sync_sb(struct vfs_super *sb)
{
	return sb->s_op->sync_fs ? sb->s_op->sync_fs(sb, true) : 0;
}

/* sync: every mounted file system (errors are not reported, as Linux). */
SYSCALL_DEFINE0(sync)
{
	struct uk_vfs *vfs = task->kernel->vfs;
	struct uk_list *pos;

	pthread_rwlock_rdlock(&vfs->ns_lock);
	sync_sb(vfs->root_mnt->mnt_sb);
	for (pos = vfs->mounts.next; pos != &vfs->mounts; pos = pos->next)
		sync_sb(uk_list_entry(pos, struct vfs_mount, mnt_list)->mnt_sb);
	pthread_rwlock_unlock(&vfs->ns_lock);
	return 0;
}

SYSCALL_DEFINE1(syncfs, int, fd)
{
	struct vfs_file *f = vfs_fget_io(task, (unsigned int)fd);
	long ret;

	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = sync_sb(f->f_inode->i_sb);
	vfs_fput(f);
	return ret;
}

/* ---- cwd --------------------------------------------------------------- */

/*
 * getcwd: the cwd's path from the task's root; ENOENT once removed,
 * ERANGE when size is too small (size 0 included). Returns the length
 * with the NUL, as the syscall does.
 */
SYSCALL_DEFINE2(getcwd, uk_uptr, buf, unsigned long, size)
{
	struct uk_vfs *vfs = task->kernel->vfs;
	struct uk_fs_struct *fs = task->fs;
	struct vfs_path pwd, root;
	char *kbuf = malloc(UK_PATH_MAX);
	long len;

	if (!kbuf)
		return -ENOMEM;
	pthread_mutex_lock(&fs->lock);
	pwd = fs->pwd;
	root = fs->root;
	vfs_path_get(&pwd);
	vfs_path_get(&root);
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_rdlock(&vfs->ns_lock);
	len = vfs_d_path(&pwd, &root, kbuf, UK_PATH_MAX);
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_path_put(&pwd);
	vfs_path_put(&root);
	if (len >= 0) {
		if ((unsigned long)len + 1 > size)
			len = -ERANGE;
		else if (copy_to_user(task, buf, kbuf, (size_t)len + 1))
			len = -EFAULT;
		else
			len++;
	}
	free(kbuf);
	return len;
}

/* Makes path (a referenced directory, consumed) the cwd after MAY_EXEC. */
static long set_pwd(struct uk_task *t, struct vfs_path *path)
{
	struct uk_fs_struct *fs = t->fs;
	struct vfs_path old;
	int ret;

	if (!vfs_is_dir(path->dentry->d_inode)) {
		vfs_path_put(path);
		return -ENOTDIR;
	}
	ret = vfs_permission(t, path->dentry->d_inode, MAY_EXEC);
	if (ret) {
		vfs_path_put(path);
		return ret;
	}
	pthread_mutex_lock(&fs->lock);
	old = fs->pwd;
	fs->pwd = *path;
	pthread_mutex_unlock(&fs->lock);
	vfs_path_put(&old);
	return 0;
}

SYSCALL_DEFINE1(chdir, uk_uptr, filename)
{
	struct vfs_path path;
	int ret = vfs_user_path_at(task, AT_FDCWD, filename,
				   LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);

	if (ret)
		return ret;
	return set_pwd(task, &path);
}

SYSCALL_DEFINE1(fchdir, unsigned int, fd)
{
	struct vfs_file *f = vfs_fget(task, fd);
	struct vfs_path path;

	if (IS_ERR(f))
		return PTR_ERR(f);
	path = f->f_path;
	vfs_path_get(&path);
	vfs_fput(f);
	return set_pwd(task, &path);
}

/* ---- advice and ranges -------------------------------------------------- */

/*
 * fadvise64: advice is only a hint here (everything is in memory), but the
 * checks are Linux's: EBADF, ESPIPE on a FIFO, EINVAL for a negative length
 * or unknown advice.
 */
SYSCALL_DEFINE4(fadvise64, int, fd, int64_t, offset, size_t, len, int,
		advice)
{
	struct vfs_file *f = vfs_fget_io(task, (unsigned int)fd);
	long ret = 0;

	if (IS_ERR(f))
		return PTR_ERR(f);
	if (S_ISFIFO(f->f_inode->i_mode))
		ret = -ESPIPE;
	else if ((int64_t)len < 0 || advice < 0 || advice > 5)
		ret = -EINVAL;
	vfs_fput(f);
	return ret;
}

/* readahead: EBADF unless open for reading, EINVAL unless a regular file. */
SYSCALL_DEFINE3(readahead, int, fd, int64_t, offset, size_t, count)
{
	struct vfs_file *f = vfs_fget_io(task, (unsigned int)fd);
	long ret = 0;

	if (IS_ERR(f))
		return PTR_ERR(f);
	if (!(f->f_mode & FMODE_READ))
		ret = -EBADF;
	else if (!S_ISREG(f->f_inode->i_mode))
		ret = -EINVAL;
	vfs_fput(f);
	return ret;
}

#define UK_SYNC_FILE_RANGE_VALID 7u /* WAIT_BEFORE | WRITE | WAIT_AFTER */

/*
 * sync_file_range: EINVAL for unknown flags, negative or wrapping ranges;
 * ESPIPE for what is not a file, directory or symlink; a WRITE request
 * becomes an fdatasync of the range through the file system.
 */
SYSCALL_DEFINE4(sync_file_range, int, fd, int64_t, offset, int64_t, nbytes,
		unsigned int, flags)
{
	struct vfs_file *f;
	mode_t m;
	long ret = 0;

	if (flags & ~UK_SYNC_FILE_RANGE_VALID)
		return -EINVAL;
	if (offset < 0 || nbytes < 0 || offset > INT64_MAX - nbytes)
		return -EINVAL;
	f = vfs_fget_io(task, (unsigned int)fd);
	if (IS_ERR(f))
		return PTR_ERR(f);
	m = f->f_inode->i_mode;
	if (!S_ISREG(m) && !S_ISDIR(m) && !S_ISLNK(m) && !S_ISBLK(m))
		ret = -ESPIPE;
	else if (flags & 2u)
		ret = vfs_fsync_range(f, offset,
				      nbytes ? offset + nbytes - 1 : INT64_MAX,
				      true);
	vfs_fput(f);
	return ret;
}

/* ---- chroot ------------------------------------------------------------ */

/* chroot: EPERM without CAP_SYS_CHROOT (euid 0), ENOTDIR, EACCES. */
SYSCALL_DEFINE1(chroot, uk_uptr, filename)
{
	struct uk_fs_struct *fs = task->fs;
	struct vfs_path path, old;
	int ret = vfs_user_path_at(task, AT_FDCWD, filename,
				   LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);

	if (ret)
		return ret;
	ret = vfs_permission(task, path.dentry->d_inode, MAY_EXEC);
	if (!ret && task->cred.euid != 0)
		ret = -EPERM;
	if (ret) {
		vfs_path_put(&path);
		return ret;
	}
	pthread_mutex_lock(&fs->lock);
	old = fs->root;
	fs->root = path;
	pthread_mutex_unlock(&fs->lock);
	vfs_path_put(&old);
	return 0;
}
