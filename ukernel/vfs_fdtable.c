/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_fdtable.c - a task's fd table (struct uk_files_struct) and
 * its fs_struct (root, cwd, umask): creation, fork (dup/copy), exec
 * (close-on-exec), exit, and the descriptor operations the syscalls use:
 * lowest-free allocation under a limit (EMFILE), install, lookup, close,
 * replace (dup2/dup3), close-on-exec flags.
 *
 * The table is an array of file pointers plus two bitmaps, grown by
 * doubling up to nr_open; files->lock (a mutex, leaf) protects all of it.
 * A lookup is lock, load, count++, unlock: ~20 ns uncontended.
 */
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

#define BITS_PER_LONG (8 * sizeof(unsigned long))
#define FDT_INITIAL 64u

static size_t bitmap_bytes(unsigned int n)
{
	return (n + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(unsigned long);
}

static inline bool test_bit(const unsigned long *map, unsigned int n)
{
	return map[n / BITS_PER_LONG] & (1UL << (n % BITS_PER_LONG));
}

static inline void set_bit(unsigned long *map, unsigned int n)
{
	map[n / BITS_PER_LONG] |= 1UL << (n % BITS_PER_LONG);
}

static inline void clear_bit(unsigned long *map, unsigned int n)
{
	map[n / BITS_PER_LONG] &= ~(1UL << (n % BITS_PER_LONG));
}

/* ---- fs_struct --------------------------------------------------------- */

/* The first task's: root and cwd at the kernel's root, umask 022. */
struct uk_fs_struct *uk_fs_new(struct uk_kernel *k)
{
	struct uk_fs_struct *fs = calloc(1, sizeof(*fs));
	struct vfs_mount *m = k->vfs->root_mnt;

	if (!fs)
		return NULL;
	atomic_init(&fs->count, 1);
	pthread_mutex_init(&fs->lock, NULL);
	fs->root.mnt = vfs_mntget(m);
	fs->root.dentry = vfs_dget(m->mnt_root);
	fs->pwd = fs->root;
	vfs_path_get(&fs->pwd);
	fs->umask = 022;
	return fs;
}

/* A private copy for a forked child (same root, cwd and umask). */
struct uk_fs_struct *uk_fs_copy(struct uk_fs_struct *old)
{
	struct uk_fs_struct *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	atomic_init(&fs->count, 1);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_lock(&old->lock);
	fs->root = old->root;
	fs->pwd = old->pwd;
	fs->umask = old->umask;
	vfs_path_get(&fs->root);
	vfs_path_get(&fs->pwd);
	pthread_mutex_unlock(&old->lock);
	return fs;
}

void uk_fs_put(struct uk_fs_struct *fs)
{
	if (!fs || atomic_fetch_sub(&fs->count, 1) != 1)
		return;
	vfs_path_put(&fs->root);
	vfs_path_put(&fs->pwd);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/* ---- fd table ---------------------------------------------------------- */

static struct uk_files_struct *files_alloc(unsigned int nr_open,
					   unsigned int size)
{
	struct uk_files_struct *files = calloc(1, sizeof(*files));

	if (!files)
		return NULL;
	files->fd = calloc(size, sizeof(*files->fd));
	files->open_fds = calloc(1, bitmap_bytes(size));
	files->close_on_exec = calloc(1, bitmap_bytes(size));
	if (!files->fd || !files->open_fds || !files->close_on_exec) {
		free(files->fd);
		free(files->open_fds);
		free(files->close_on_exec);
		free(files);
		return NULL;
	}
	atomic_init(&files->count, 1);
	pthread_mutex_init(&files->lock, NULL);
	files->max_fds = size;
	files->nr_open = nr_open;
	return files;
}

/* An empty table with a limit of nr_open descriptors (0: 1024). */
struct uk_files_struct *uk_files_new(unsigned int nr_open)
{
	if (!nr_open)
		nr_open = 1024;
	return files_alloc(nr_open, nr_open < FDT_INITIAL ? nr_open
							 : FDT_INITIAL);
}

/* Linux's default fs.nr_open: no soft limit goes above it. */
#define UK_NR_OPEN_MAX (1u << 20)

void uk_task_set_nofile(struct uk_task *task, uint64_t limit)
{
	struct uk_files_struct *files = task->files;

	if (limit < 1)
		limit = 1;
	if (limit > UK_NR_OPEN_MAX)
		limit = UK_NR_OPEN_MAX;
	pthread_mutex_lock(&files->lock);
	files->nr_open = (unsigned int)limit;
	pthread_mutex_unlock(&files->lock);
}

/* fork: a copy of the table sharing every open file description. */
struct uk_files_struct *uk_files_dup(struct uk_files_struct *old)
{
	struct uk_files_struct *files;

	pthread_mutex_lock(&old->lock);
	files = files_alloc(old->nr_open, old->max_fds);
	if (!files)
		goto out_unlock;
	for (unsigned int i = 0; i < old->max_fds; i++) {
		if (old->fd[i])
			files->fd[i] = vfs_fget_file(old->fd[i]);
	}
	memcpy(files->open_fds, old->open_fds, bitmap_bytes(old->max_fds));
	memcpy(files->close_on_exec, old->close_on_exec,
	       bitmap_bytes(old->max_fds));
	files->next_fd = old->next_fd;
out_unlock:
	pthread_mutex_unlock(&old->lock);
	return files;
}

/* Grows the arrays to hold fd (files->lock held); -EMFILE/-ENOMEM. */
static int expand_files(struct uk_files_struct *files, unsigned int fd)
{
	unsigned int n = files->max_fds;
	struct vfs_file **nfd;
	unsigned long *no, *nc;

	if (fd >= files->nr_open)
		return -EMFILE;
	if (fd < n)
		return 0;
	while (n <= fd)
		n *= 2;
	if (n > files->nr_open)
		n = files->nr_open;
	nfd = calloc(n, sizeof(*nfd));
	no = calloc(1, bitmap_bytes(n));
	nc = calloc(1, bitmap_bytes(n));
	if (!nfd || !no || !nc) {
		free(nfd);
		free(no);
		free(nc);
		return -ENOMEM;
	}
	memcpy(nfd, files->fd, files->max_fds * sizeof(*nfd));
	memcpy(no, files->open_fds, bitmap_bytes(files->max_fds));
	memcpy(nc, files->close_on_exec, bitmap_bytes(files->max_fds));
	free(files->fd);
	free(files->open_fds);
	free(files->close_on_exec);
	files->fd = nfd;
	files->open_fds = no;
	files->close_on_exec = nc;
	files->max_fds = n;
	return 0;
}

/*
 * Reserves the lowest free descriptor >= start (flags: O_CLOEXEC). The
 * slot stays empty until vfs_fd_install. Returns it, -EMFILE or -ENOMEM.
 */
int vfs_alloc_fd(struct uk_task *t, unsigned int start, unsigned int flags)
{
	struct uk_files_struct *files = t->files;
	unsigned int fd;
	int ret;

	pthread_mutex_lock(&files->lock);
	fd = start < files->next_fd ? files->next_fd : start;
	for (; fd < files->max_fds; fd++) {
		if (fd % BITS_PER_LONG == 0 &&
		    files->open_fds[fd / BITS_PER_LONG] == ~0UL) {
			fd += BITS_PER_LONG - 1;
			continue;
		}
		if (!test_bit(files->open_fds, fd))
			break;
	}
	ret = expand_files(files, fd);
	if (ret)
		goto out_unlock;
	set_bit(files->open_fds, fd);
	if (flags & O_CLOEXEC)
		set_bit(files->close_on_exec, fd);
	else
		clear_bit(files->close_on_exec, fd);
	if (start <= files->next_fd)
		files->next_fd = fd + 1;
	ret = (int)fd;
out_unlock:
	pthread_mutex_unlock(&files->lock);
	return ret;
}

/* Gives back a reserved descriptor that was never installed. */
void vfs_put_unused_fd(struct uk_task *t, unsigned int fd)
{
	struct uk_files_struct *files = t->files;

	pthread_mutex_lock(&files->lock);
	clear_bit(files->open_fds, fd);
	if (fd < files->next_fd)
		files->next_fd = fd;
	pthread_mutex_unlock(&files->lock);
}

/* Installs f (the caller's reference moves in) at a reserved fd. */
void vfs_fd_install(struct uk_task *t, unsigned int fd, struct vfs_file *f)
{
	struct uk_files_struct *files = t->files;

	pthread_mutex_lock(&files->lock);
	files->fd[fd] = f;
	pthread_mutex_unlock(&files->lock);
}

/* The file at fd with a new reference, or ERR_PTR(-EBADF). */
struct vfs_file *vfs_fget(struct uk_task *t, unsigned int fd)
{
	struct uk_files_struct *files = t->files;
	struct vfs_file *f = NULL;

	pthread_mutex_lock(&files->lock);
	if (uk_likely(fd < files->max_fds)) {
		f = files->fd[fd];
		if (f)
			atomic_fetch_add_explicit(&f->f_count, 1,
						  memory_order_relaxed);
	}
	pthread_mutex_unlock(&files->lock);
	return f ? f : ERR_PTR(-EBADF);
}

struct vfs_file *vfs_fget_io(struct uk_task *t, unsigned int fd)
{
	struct vfs_file *f = vfs_fget(t, fd);

	if (!IS_ERR(f) && uk_unlikely(f->f_mode & FMODE_PATH)) {
		vfs_fput(f);
		return ERR_PTR(-EBADF);
	}
	return f;
}

/* Takes fd's file out of the table (files->lock held); NULL if none. */
static struct vfs_file *pick_file(struct uk_files_struct *files,
				  unsigned int fd)
{
	struct vfs_file *f;

	if (fd >= files->max_fds)
		return NULL;
	f = files->fd[fd];
	if (!f)
		return NULL;
	files->fd[fd] = NULL;
	clear_bit(files->open_fds, fd);
	clear_bit(files->close_on_exec, fd);
	if (fd < files->next_fd)
		files->next_fd = fd;
	return f;
}

/*
 * What close(2) does to a picked file: the POSIX locks (not for O_PATH
 * descriptors, which can hold no locks and release none, as Linux's
 * filp_close), then the reference.
 */
static void filp_close(struct uk_task *t, struct vfs_file *f)
{
	if (atomic_load(&f->f_inode->i_flctx) && !(f->f_mode & FMODE_PATH))
		vfs_locks_remove_posix(t, f);
	vfs_fput(f);
}

/* close(2): -EBADF if fd is not open. */
int vfs_close_fd(struct uk_task *t, unsigned int fd)
{
	struct vfs_file *f;

	pthread_mutex_lock(&t->files->lock);
	f = pick_file(t->files, fd);
	pthread_mutex_unlock(&t->files->lock);
	if (!f)
		return -EBADF;
	filp_close(t, f);
	return 0;
}

/*
 * dup2/dup3: puts f (a new reference, consumed) at fd with O_CLOEXEC from
 * flags, closing what was there. Returns fd, -EBADF past the limit, or
 * -EBUSY when fd is reserved by a concurrent open (as Linux).
 */
int vfs_replace_fd(struct uk_task *t, unsigned int fd, struct vfs_file *f,
		   unsigned int flags)
{
	struct uk_files_struct *files = t->files;
	struct vfs_file *old;
	int ret;

	pthread_mutex_lock(&files->lock);
	ret = expand_files(files, fd);
	if (ret) {
		ret = ret == -EMFILE ? -EBADF : ret;
		goto err_unlock;
	}
	old = files->fd[fd];
	if (!old && test_bit(files->open_fds, fd)) {
		ret = -EBUSY;
		goto err_unlock;
	}
	files->fd[fd] = f;
	set_bit(files->open_fds, fd);
	if (flags & O_CLOEXEC)
		set_bit(files->close_on_exec, fd);
	else
		clear_bit(files->close_on_exec, fd);
	pthread_mutex_unlock(&files->lock);
	if (old)
		filp_close(t, old);
	return (int)fd;

err_unlock:
	pthread_mutex_unlock(&files->lock);
	vfs_fput(f);
	return ret;
}

int vfs_get_close_on_exec(struct uk_task *t, unsigned int fd)
{
	struct uk_files_struct *files = t->files;
	int ret = -EBADF;

	pthread_mutex_lock(&files->lock);
	if (fd < files->max_fds && files->fd[fd])
		ret = test_bit(files->close_on_exec, fd);
	pthread_mutex_unlock(&files->lock);
	return ret;
}

int vfs_set_close_on_exec(struct uk_task *t, unsigned int fd, bool on)
{
	struct uk_files_struct *files = t->files;
	int ret = -EBADF;

	pthread_mutex_lock(&files->lock);
	if (fd < files->max_fds && files->fd[fd]) {
		if (on)
			set_bit(files->close_on_exec, fd);
		else
			clear_bit(files->close_on_exec, fd);
		ret = 0;
	}
	pthread_mutex_unlock(&files->lock);
	return ret;
}

/*
 * close_range(2) core: closes (or, cloexec, marks) fds in [first, last].
 * Files are closed after the lock is dropped.
 */
int vfs_close_range(struct uk_task *t, unsigned int first, unsigned int last,
		    bool cloexec)
{
	struct uk_files_struct *files = t->files;

	for (unsigned int fd = first; fd <= last; fd++) {
		struct vfs_file *f = NULL;
		bool done;

		pthread_mutex_lock(&files->lock);
		done = fd >= files->max_fds;
		if (!done && files->fd[fd]) {
			if (cloexec)
				set_bit(files->close_on_exec, fd);
			else
				f = pick_file(files, fd);
		}
		pthread_mutex_unlock(&files->lock);
		if (f)
			filp_close(t, f);
		if (done || fd == UINT32_MAX)
			break;
	}
	return 0;
}

/* exec: closes every O_CLOEXEC descriptor. */
void uk_files_close_on_exec(struct uk_task *task)
{
	struct uk_files_struct *files = task->files;

	for (unsigned int fd = 0;; fd++) {
		struct vfs_file *f = NULL;
		bool done;

		pthread_mutex_lock(&files->lock);
		done = fd >= files->max_fds;
		if (!done && test_bit(files->close_on_exec, fd))
			f = pick_file(files, fd);
		pthread_mutex_unlock(&files->lock);
		if (done)
			break;
		if (f)
			filp_close(task, f);
	}
}

/*
 * exit: releases the task's POSIX locks on every file it has open and
 * drops its reference on the table, closing everything if it was the last.
 */
void uk_files_exit(struct uk_task *task)
{
	struct uk_files_struct *files = task->files;

	if (!files)
		return;
	/* POSIX locks belong to the process: released even if shared. */
	pthread_mutex_lock(&files->lock);
	for (unsigned int fd = 0; fd < files->max_fds; fd++) {
		struct vfs_file *f = files->fd[fd];

		if (f && atomic_load(&f->f_inode->i_flctx) &&
		    !(f->f_mode & FMODE_PATH)) {
			vfs_fget_file(f);
			pthread_mutex_unlock(&files->lock);
			vfs_locks_remove_posix(task, f);
			vfs_fput(f);
			pthread_mutex_lock(&files->lock);
		}
	}
	pthread_mutex_unlock(&files->lock);
	task->files = NULL;
	vfs_files_put(files);
}

/* Drops a reference on a table; the last closes every descriptor. */
void vfs_files_put(struct uk_files_struct *files)
{
	if (atomic_fetch_sub(&files->count, 1) != 1)
		return;
	for (unsigned int fd = 0; fd < files->max_fds; fd++)
		if (files->fd[fd])
			vfs_fput(files->fd[fd]);
	free(files->fd);
	free(files->open_fds);
	free(files->close_on_exec);
	pthread_mutex_destroy(&files->lock);
	free(files);
}
