/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_extras.h - the VFS extras' internal API: advisory locks
 * (POSIX record locks, OFD locks, flock), extended attributes, fallocate
 * and SEEK_DATA/SEEK_HOLE, copy_file_range and sendfile.
 *
 * The VFS calls into the extras through the hooks declared at the bottom of
 * vfs.h; this header is what the extras' own files share, plus the pure lock
 * engine (vfs_locks.c), which knows nothing of files and tasks so it can be
 * tested on its own.
 *
 * Who calls what:
 *  - vfs_fcntl_lock() from fcntl(2) for F_GETLK, F_SETLK, F_SETLKW,
 *    F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW (sys_locks.c);
 *  - vfs_locks_remove_posix() from every close of a descriptor, including
 *    the descriptors closed by exit and exec: POSIX locks belong to the
 *    process and go when it closes ANY descriptor of the file;
 *  - vfs_locks_remove_file() when the last reference to an open file
 *    description goes (its OFD and flock locks);
 *  - vfs_locks_inode_free() and vfs_xattrs_inode_free() when an inode is
 *    freed;
 *  - vfs_locks_interrupt() by whoever must end a task that may be asleep in
 *    F_SETLKW/F_OFD_SETLKW/flock (see "Sleeping" below), and uk.h's
 *    uk_intr_set_current()/uk_intr_wake() (implemented in vfs_locks.c)
 *    by whoever must end one call of a task (the ring server, for a
 *    signal to one client thread).
 *
 * Sleeping. A blocking lock request sleeps in the thread that runs the
 * syscall, on a condition variable, and wakes when a lock of the same inode
 * is released or changed (then it looks again), or when
 * vfs_locks_interrupt(task) is called, or its call's uk_intr is raised
 * (then it returns -EINTR, as a signal makes Linux's return EINTR; a
 * raised uk_intr also keeps it from going to sleep at all). No lock of
 * the VFS is held while asleep.
 * In ukerneld (the ring issue) each blocked request therefore holds one
 * worker thread: the ring server must not serve every client from a fixed
 * pool that blocked lockers can exhaust (the unlock that would wake them
 * would never be read). It must either give each client its own server
 * thread or grow the pool while requests sleep, and it must interrupt the
 * calls of a client that dies before tearing its task down, so the
 * sleeping thread returns and drops its references.
 */
#ifndef UK_VFS_EXTRAS_H
#define UK_VFS_EXTRAS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfs.h"

/* ---- the lock engine (vfs_locks.c) ------------------------------------ */

#define VFS_OFFSET_MAX INT64_MAX

#define VFS_FL_POSIX 0x1u /* a record lock (classic or OFD) */
#define VFS_FL_OFD 0x2u	  /* with VFS_FL_POSIX: owner is the open file */
#define VFS_FL_FLOCK 0x4u /* a whole-file flock lock */
#define VFS_FL_SLEEP 0x8u /* wait for a conflicting lock to go */

/* The locks of one inode; allocated on first use (inode->i_flctx). */
struct vfs_lock_ctx;

/*
 * A lock request, and for vfs_posix_test() the answer. owner is an opaque
 * key: the fd table (struct uk_files_struct) for classic POSIX locks, the
 * open file description for OFD and flock locks. task identifies the
 * sleeper for vfs_locks_interrupt(). start..end are inclusive bytes, end
 * VFS_OFFSET_MAX meaning "to the end of the file, however far".
 */
struct vfs_lock_req {
	short type;	    /* F_RDLCK, F_WRLCK, F_UNLCK */
	unsigned int flags; /* VFS_FL_* */
	int64_t start, end;
	const void *owner;
	pid_t pid; /* reported to F_GETLK; -1 for OFD locks */
	const void *task;
};

struct vfs_lock_ctx *vfs_lock_ctx_new(void);
/* Frees ctx and any lock still on it; nobody may be waiting on it. */
void vfs_lock_ctx_free(struct vfs_lock_ctx *ctx);
/* True when ctx (possibly NULL) holds no lock. */
bool vfs_lock_ctx_empty(struct vfs_lock_ctx *ctx);

/*
 * Sets, changes or removes (F_UNLCK) a POSIX or OFD lock over start..end
 * for req->owner, splitting and merging the owner's ranges as Linux does.
 * Returns 0, -EAGAIN on a conflict without VFS_FL_SLEEP, -EDEADLK when
 * sleeping would close a cycle of classic POSIX owners each waiting for the
 * next, -EINTR when interrupted, -ENOLCK without memory, -EINVAL for a bad
 * range. Takes ctx's lock; may sleep with VFS_FL_SLEEP.
 */
int vfs_posix_lock(struct vfs_lock_ctx *ctx, const struct vfs_lock_req *req);
/*
 * F_GETLK: if a lock of another owner conflicts with req, overwrites
 * req's type, range, pid and flags with the first such lock; otherwise
 * sets req->type to F_UNLCK. An F_UNLCK req (F_OFD_GETLK's probe) reports
 * the first overlapping lock of req's own owner instead. ctx may be NULL.
 */
void vfs_posix_test(struct vfs_lock_ctx *ctx, struct vfs_lock_req *req);
/*
 * flock: sets (F_RDLCK = LOCK_SH, F_WRLCK = LOCK_EX) or removes (F_UNLCK)
 * the whole-file lock of req->owner. A conversion drops the old lock first.
 * Returns 0, -EWOULDBLOCK without VFS_FL_SLEEP, -EINTR, -ENOLCK.
 */
int vfs_flock_lock(struct vfs_lock_ctx *ctx, const struct vfs_lock_req *req);
/* Removes every lock (POSIX, OFD, flock) of owner on ctx, waking waiters. */
void vfs_locks_remove_owner(struct vfs_lock_ctx *ctx, const void *owner);
/* Makes every lock request task sleeps in return -EINTR. */
void vfs_locks_interrupt(const void *task);
/*
 * How many lock requests of task (NULL: of anyone) are asleep right now
 * (for tests, and for a server deciding whether a client is stuck).
 */
unsigned int vfs_locks_nr_sleeping(const void *task);

/* ---- glue (sys_locks.c) ----------------------------------------------- */

/*
 * The lock context of inode, allocated on first use (ERR_PTR(-ENOLCK) if
 * memory runs out); with create false, NULL when there is none.
 */
struct vfs_lock_ctx *vfs_locks_ctx(struct vfs_inode *inode, bool create);

/* ---- extended attributes (vfs_xattr.c) -------------------------------- */

#define VFS_XATTR_NAME_MAX 255
#define VFS_XATTR_SIZE_MAX 65536
#define VFS_XATTR_LIST_MAX 65536

/*
 * The generic in-memory store used when an inode has no xattr ops (tmpfs):
 * a list on inode->i_xattrs under inode->i_xattr_lock. Same contracts as
 * the ops: get returns the value's size (size 0: just the size), -ENODATA,
 * -ERANGE; set with flags XATTR_CREATE/XATTR_REPLACE returns 0, -EEXIST,
 * -ENODATA, -ENOMEM; list writes the NUL-terminated names (trusted.* only
 * if with_trusted) and returns their total size, or -ERANGE.
 */
long vfs_simple_xattr_get(struct vfs_inode *inode, const char *name,
			  void *value, size_t size);
int vfs_simple_xattr_set(struct vfs_inode *inode, const char *name,
			 const void *value, size_t size, int flags);
int vfs_simple_xattr_remove(struct vfs_inode *inode, const char *name);
long vfs_simple_xattr_list(struct vfs_inode *inode, char *list, size_t size,
			   bool with_trusted);

/*
 * The checked cores of the xattr syscalls (vfs_getxattr etc. in Linux):
 * permission (xattr_permission), namespace (EOPNOTSUPP), then the inode's
 * op or the generic store. name is a kernel string, value kernel memory.
 */
long vfs_getxattr(struct uk_task *t, struct vfs_dentry *d, const char *name,
		  void *value, size_t size);
int vfs_setxattr(struct uk_task *t, const struct vfs_path *path,
		 const char *name, const void *value, size_t size, int flags);
long vfs_listxattr(struct uk_task *t, struct vfs_dentry *d, char *list,
		   size_t size);
int vfs_removexattr(struct uk_task *t, const struct vfs_path *path,
		    const char *name);

/* ---- fallocate (sys_falloc.c) ----------------------------------------- */

/*
 * fallocate(2)'s core on an open file: the checks of vfs_fallocate (modes,
 * offsets, access, file type, size), then inode->i_op->fallocate with
 * i_rwsem write-held. Returns 0 or -errno.
 */
long vfs_fallocate(struct uk_task *t, struct vfs_file *f, int mode,
		   int64_t offset, int64_t len);

#endif /* UK_VFS_EXTRAS_H */
