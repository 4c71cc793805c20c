/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_notify.h - the VFS's change notifier, as Linux's fsnotify:
 * every call that changes a file system (contents, attributes, names) tells
 * the registered notifiers what changed, so the front-ends can keep their
 * caches coherent: the ring server bumps the vvar change counters, the FUSE
 * front-end invalidates the host kernel's caches.
 *
 * Delivery: after the change is done and after the VFS has dropped its
 * namespace and inode locks (ns_lock, i_rwsem, i_lock), before the call
 * returns to its caller, on the calling thread. A callback may block (FUSE's
 * fuse_lowlevel_notify_inval_* waits on the host kernel), may call into the
 * VFS, but must not call uk_notifier_unregister(). A shared open file
 * description's f_pos_lock may still be held (write(2) on a shared offset).
 *
 * Sections: the API (front-ends), then the call-site helpers (VFS only).
 */
#ifndef UK_VFS_NOTIFY_H
#define UK_VFS_NOTIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vfs.h"

/* ---- API ------------------------------------------------------------ */

/* contents changed: write, truncate, fallocate, copy_file_range */
#define UK_NOTIFY_DATA 0x1u
/* attributes changed: mode, owner, times, size, nlink, xattrs */
#define UK_NOTIFY_ATTR 0x2u
/* a name was added to dir_ino (create, mkdir, mknod, symlink, link,
 * rename target) */
#define UK_NOTIFY_CREATE 0x4u
/* a name was removed from dir_ino (unlink, rmdir, rename source,
 * rename-over victim) */
#define UK_NOTIFY_DELETE 0x8u

/*
 * enum uk_frontend { UK_FRONTEND_LOCAL = 0, UK_FRONTEND_RING,
 * UK_FRONTEND_FUSE } is in internal.h, beside struct uk_task's frontend.
 */

/*
 * One change. The pointers are valid only during the callback. mask may
 * hold several bits for one inode (a truncate is DATA|ATTR). DATA implies
 * that mtime/ctime (and for a write past the end, the size) changed too;
 * CREATE and DELETE imply that the directory's own times (and nlink for a
 * subdirectory) changed.
 */
struct uk_notify_event {
	unsigned int mask;
	struct uk_task *origin;   /* the task whose call caused it, or NULL */
	struct vfs_super *sb;     /* the file system (sb->s_dev is st_dev) */
	uint64_t ino;             /* DATA/ATTR: the inode; CREATE/DELETE:
				   * the child's inode (0 if unknown) */
	uint64_t dir_ino;         /* CREATE/DELETE: the directory */
	const char *name;         /* CREATE/DELETE: the name, namelen bytes,
				   * not necessarily NUL-terminated */
	size_t namelen;
	uint64_t off, len;        /* DATA: byte range; len 0: to the end */
};

struct uk_notifier {
	void (*event)(struct uk_notifier *n, const struct uk_notify_event *ev);
	struct uk_notifier *next; /* private to the VFS */
};

/*
 * Adds n to k's notifiers; safe while calls run (events of calls already
 * past their check may miss n). n must stay valid until unregistered.
 */
void uk_notifier_register(struct uk_kernel *k, struct uk_notifier *n);
/*
 * Removes n, then waits until no delivery that may still see n is running,
 * so n may be freed on return. Meant for shutdown: under steady traffic the
 * wait lasts until a moment without any delivery in flight. Never call it
 * from a callback (it would wait for itself).
 */
void uk_notifier_unregister(struct uk_kernel *k, struct uk_notifier *n);

/* ---- call-site helpers (VFS only) ------------------------------------ */

/* Whether anyone listens: one acquire load, the whole cost when no one. */
static inline bool uk_notify_wanted(struct uk_kernel *k)
{
	return atomic_load_explicit(&k->notifiers, memory_order_acquire);
}

/* Delivers ev to every notifier (no VFS lock may be held). */
void uk_notify_deliver(struct uk_kernel *k, const struct uk_notify_event *ev);

/* DATA and/or ATTR of one inode, delivered at once (no lock held). */
void __vfs_notify_inode(struct uk_task *origin, struct vfs_inode *inode,
			unsigned int mask, uint64_t off, uint64_t len);

static inline void vfs_notify_inode(struct uk_task *origin,
				    struct vfs_inode *inode,
				    unsigned int mask, uint64_t off,
				    uint64_t len)
{
	if (uk_unlikely(uk_notify_wanted(inode->i_sb->s_vfs->kernel)))
		__vfs_notify_inode(origin, inode, mask, off, len);
}

/*
 * A batch: the events of a directory change, recorded under ns_lock (the
 * names and numbers are stable there) and sent after it is dropped. Names
 * are copied, since the dentries may change once the lock is gone. At most
 * VFS_NB_MAX events and two names (rename's old and new).
 */
#define VFS_NB_MAX 6

struct vfs_notify_batch {
	struct uk_kernel *k;
	struct uk_task *origin;
	bool on;                  /* a notifier was registered at init */
	unsigned int n;
	struct uk_notify_event ev[VFS_NB_MAX];
	char names[2][UK_NAME_MAX + 1];
};

static inline void vfs_nb_init(struct vfs_notify_batch *nb, struct uk_task *t)
{
	nb->k = t->kernel;
	nb->origin = t;
	nb->n = 0;
	nb->on = uk_notify_wanted(t->kernel);
}

/*
 * Records a CREATE or DELETE of name (slot 0 or 1 of the name copies) in
 * dir for child (NULL: ino 0). ns_lock held.
 */
void vfs_nb_name(struct vfs_notify_batch *nb, unsigned int mask,
		 const struct vfs_inode *dir, const struct vfs_inode *child,
		 int slot, const char *name, size_t len);
/* Records DATA/ATTR of inode. */
void vfs_nb_inode(struct vfs_notify_batch *nb, unsigned int mask,
		  const struct vfs_inode *inode);
/* Sends what was recorded (no VFS lock held) and empties the batch. */
void vfs_nb_send(struct vfs_notify_batch *nb);

#endif /* UK_VFS_NOTIFY_H */
