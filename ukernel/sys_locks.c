// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_locks.c - the file side of advisory locks: fcntl's record-lock
 * commands (called by the VFS's fcntl), the flock syscall, and the release
 * of locks when descriptors and open file descriptions close. The lock
 * engine itself is vfs_locks.c.
 *
 * Owners, as on Linux: a classic POSIX lock belongs to the process (its fd
 * table, task->files), so closing any descriptor of the file drops it and a
 * forked child does not inherit it; an OFD lock and a flock lock belong to
 * the open file description, shared by dup and fork, and go with its last
 * close. POSIX and OFD locks conflict with each other (they live in one
 * list, with different owners); flock locks are independent of both.
 */
#include <sys/file.h>

#include "vfs_extras.h"

/* struct flock as x86-64 Linux lays it out (also struct flock64). */
struct uk_flock {
	int16_t l_type;
	int16_t l_whence;
	int64_t l_start;
	int64_t l_len;
	int32_t l_pid;
};
_Static_assert(sizeof(struct uk_flock) == 32, "struct flock is 32 bytes");

#ifndef LOCK_MAND
#define LOCK_MAND 32
#endif

struct vfs_lock_ctx *vfs_locks_ctx(struct vfs_inode *inode, bool create)
{
	void *ctx = atomic_load_explicit(&inode->i_flctx, memory_order_acquire);
	void *expected = NULL;
	struct vfs_lock_ctx *new;

	if (ctx || !create)
		return ctx;
	new = vfs_lock_ctx_new();
	if (IS_ERR(new))
		return ERR_PTR(-ENOLCK);
	/* Publish with release so the mutex init is seen before the pointer. */
	if (!atomic_compare_exchange_strong_explicit(&inode->i_flctx, &expected,
						     new, memory_order_acq_rel,
						     memory_order_acquire)) {
		vfs_lock_ctx_free(new);
		return expected;
	}
	return new;
}

/*
 * flock_to_posix_lock: turns l_whence/l_start/l_len into an inclusive byte
 * range from the file's position or size. Returns 0, -EINVAL (bad whence,
 * a range before offset 0, a bad type) or -EOVERFLOW.
 */
static int flock_to_range(struct vfs_file *f, const struct uk_flock *l,
			  struct vfs_lock_req *req)
{
	int64_t start;

	switch (l->l_whence) {
	case SEEK_SET:
		start = 0;
		break;
	case SEEK_CUR:
		pthread_mutex_lock(&f->f_pos_lock);
		start = f->f_pos;
		pthread_mutex_unlock(&f->f_pos_lock);
		break;
	case SEEK_END:
		pthread_mutex_lock(&f->f_inode->i_lock);
		start = f->f_inode->i_size;
		pthread_mutex_unlock(&f->f_inode->i_lock);
		break;
	default:
		return -EINVAL;
	}
	if (l->l_start > VFS_OFFSET_MAX - start)
		return -EOVERFLOW;
	start += l->l_start;
	if (start < 0)
		return -EINVAL;

	if (l->l_len > 0) {
		if (l->l_len - 1 > VFS_OFFSET_MAX - start)
			return -EOVERFLOW;
		req->start = start;
		req->end = start + (l->l_len - 1);
	} else if (l->l_len < 0) {
		if (start + l->l_len < 0)
			return -EINVAL;
		req->end = start - 1;
		req->start = start + l->l_len;
	} else {
		req->start = start;
		req->end = VFS_OFFSET_MAX;
	}

	switch (l->l_type) {
	case F_RDLCK:
	case F_WRLCK:
	case F_UNLCK:
		req->type = l->l_type;
		return 0;
	default:
		return -EINVAL;
	}
}

/* fcntl_getlk: F_GETLK and F_OFD_GETLK on l, in place. */
static int fcntl_getlk(struct uk_task *t, struct vfs_file *f, unsigned int cmd,
		       struct uk_flock *l)
{
	struct vfs_lock_req req = {
		.flags = VFS_FL_POSIX,
		.owner = t->files,
		.pid = t->pid,
		.task = t,
	};
	int ret;

	/*
	 * Linux rejects F_UNLCK in F_GETLK but lets F_OFD_GETLK test it: an
	 * F_UNLCK probe conflicts only with another owner's write lock.
	 */
	if (l->l_type != F_RDLCK && l->l_type != F_WRLCK &&
	    !(cmd == F_OFD_GETLK && l->l_type == F_UNLCK))
		return -EINVAL;
	ret = flock_to_range(f, l, &req);
	if (ret)
		return ret;
	if (cmd == F_OFD_GETLK) {
		if (l->l_pid != 0)
			return -EINVAL;
		req.flags |= VFS_FL_OFD;
		req.owner = f;
	}

	vfs_posix_test(vfs_locks_ctx(f->f_inode, false), &req);
	l->l_type = req.type;
	if (req.type != F_UNLCK) {
		l->l_pid = (req.flags & VFS_FL_OFD) ? -1 : req.pid;
		l->l_start = req.start;
		l->l_len =
			req.end == VFS_OFFSET_MAX ? 0 : req.end - req.start + 1;
		l->l_whence = SEEK_SET;
	}
	return 0;
}

/*
 * fcntl_setlk: F_SETLK(W) and F_OFD_SETLK(W). A classic lock set while
 * another thread closed fd is taken back (-EBADF), as Linux does, so no
 * lock outlives the descriptor that made it.
 */
static int fcntl_setlk(struct uk_task *t, unsigned int fd, struct vfs_file *f,
		       unsigned int cmd, const struct uk_flock *l)
{
	struct vfs_lock_req req = {
		.flags = VFS_FL_POSIX,
		.owner = t->files,
		.pid = t->pid,
		.task = t,
	};
	struct vfs_lock_ctx *ctx;
	struct vfs_file *now;
	int ret;

	ret = flock_to_range(f, l, &req);
	if (ret)
		return ret;
	if (req.type == F_RDLCK && !(f->f_mode & FMODE_READ))
		return -EBADF;
	if (req.type == F_WRLCK && !(f->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (cmd) {
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		if (l->l_pid != 0)
			return -EINVAL;
		req.flags |= VFS_FL_OFD;
		req.owner = f;
		req.pid = -1;
		if (cmd == F_OFD_SETLKW)
			req.flags |= VFS_FL_SLEEP;
		break;
	case F_SETLKW:
		req.flags |= VFS_FL_SLEEP;
		break;
	}

	if (req.type == F_UNLCK) {
		ctx = vfs_locks_ctx(f->f_inode, false);
		return ctx ? vfs_posix_lock(ctx, &req) : 0;
	}
	ctx = vfs_locks_ctx(f->f_inode, true);
	if (IS_ERR(ctx))
		return (int)PTR_ERR(ctx);
	ret = vfs_posix_lock(ctx, &req);
	if (ret || (req.flags & VFS_FL_OFD))
		return ret;

	now = vfs_fget(t, fd);
	if (IS_ERR_OR_NULL(now) || now != f) {
		vfs_locks_remove_owner(ctx, t->files);
		ret = -EBADF;
	}
	if (!IS_ERR_OR_NULL(now))
		vfs_fput(now);
	return ret;
}

long vfs_fcntl_lock(struct uk_task *t, unsigned int fd, struct vfs_file *f,
		    unsigned int cmd, uk_uptr arg)
{
	struct uk_flock l;
	int ret;

	if (f->f_mode & FMODE_PATH)
		return -EBADF;
	if (copy_from_user(t, &l, arg, sizeof(l)))
		return -EFAULT;

	switch (cmd) {
	case F_GETLK:
	case F_OFD_GETLK:
		ret = fcntl_getlk(t, f, cmd, &l);
		if (!ret && copy_to_user(t, arg, &l, sizeof(l)))
			ret = -EFAULT;
		return ret;
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		return fcntl_setlk(t, fd, f, cmd, &l);
	default:
		return -EINVAL;
	}
}

/*
 * flock(fd, operation): LOCK_SH, LOCK_EX or LOCK_UN, optionally |LOCK_NB.
 * The owner is the open file description. LOCK_MAND requests are ignored
 * (return 0), as Linux has done since it dropped them.
 */
SYSCALL_DEFINE2(flock, unsigned int, fd, unsigned int, cmd)
{
	struct vfs_lock_req req = {
		.flags = VFS_FL_FLOCK,
		.pid = task->pid,
		.task = task,
	};
	struct vfs_lock_ctx *ctx;
	struct vfs_file *f;
	long ret;

	if (cmd & LOCK_MAND)
		return 0;
	switch (cmd & ~(unsigned int)LOCK_NB) {
	case LOCK_SH:
		req.type = F_RDLCK;
		break;
	case LOCK_EX:
		req.type = F_WRLCK;
		break;
	case LOCK_UN:
		req.type = F_UNLCK;
		break;
	default:
		return -EINVAL;
	}
	if (!(cmd & LOCK_NB))
		req.flags |= VFS_FL_SLEEP;

	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f))
		return f ? PTR_ERR(f) : -EBADF;
	if (req.type != F_UNLCK && !(f->f_mode & (FMODE_READ | FMODE_WRITE))) {
		ret = -EBADF;
		goto out_fput;
	}
	req.owner = f;
	ctx = vfs_locks_ctx(f->f_inode, req.type != F_UNLCK);
	if (IS_ERR(ctx)) {
		ret = PTR_ERR(ctx);
		goto out_fput;
	}
	ret = ctx ? vfs_flock_lock(ctx, &req) : 0;
out_fput:
	vfs_fput(f);
	return ret;
}

/* ---- release hooks (called by the VFS, see vfs.h) --------------------- */

void vfs_locks_remove_posix(struct uk_task *t, struct vfs_file *f)
{
	vfs_locks_remove_owner(vfs_locks_ctx(f->f_inode, false), t->files);
}

void vfs_locks_remove_file(struct vfs_file *f)
{
	vfs_locks_remove_owner(vfs_locks_ctx(f->f_inode, false), f);
}

void vfs_locks_inode_free(struct vfs_inode *inode)
{
	vfs_lock_ctx_free(vfs_locks_ctx(inode, false));
	atomic_store_explicit(&inode->i_flctx, NULL, memory_order_relaxed);
}
