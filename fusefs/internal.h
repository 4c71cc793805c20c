/* SPDX-License-Identifier: MIT */
/*
 * fusefs/internal.h - what the FUSE front-end's files share: the front-end
 * (struct ffs), its node table (FUSE node ids and their lookup counts),
 * and the per-request context (a task with the caller's credentials).
 *
 * Locking: ffs->node_lock protects the node table and every node's
 * nlookup; it is a leaf (taken under ns_lock read in readdirplus, never
 * the other way round) and never held across a reply or a VFS call.
 */
#ifndef UK_FUSEFS_INTERNAL_H
#define UK_FUSEFS_INTERNAL_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fusefs.h"
#include "internal.h" /* ukernel/internal.h: tasks, uaccess */
#include "vfs.h"
#include "vfs_notify.h"

/*
 * One inode the host kernel knows, named by its ukfs inode number (the
 * FUSE node id; the root is 1 in ukfs as in FUSE). It pins a dentry (and
 * so the inode) until the kernel forgets every lookup it was given.
 */
struct ffs_node {
	uint64_t ino;
	uint64_t gen;
	uint64_t nlookup;        /* node_lock; the root's never drops */
	struct vfs_path path;    /* a reference: some dentry of the inode */
	/*
	 * node_lock: the description READs without an open file (no_open)
	 * share, made at the first, so that its readahead state follows the
	 * reader as an open file's would (ops.c, ffs_read); or NULL.
	 */
	struct vfs_file *rfile;
	struct ffs_node *hnext;  /* node table chain (node_lock) */
};

struct ffs {
	struct uk_kernel *k;
	struct vfs_super *sb;        /* the served super block (root's) */
	struct vfs_path root;        /* a reference on the kernel's root */
	uint64_t root_ino;           /* its inode number (node id 1) */
	struct fuse_session *se;
	char *mountpoint;
	unsigned long conn_dev;      /* st_dev of the mount (abort file) */
	double entry_timeout, attr_timeout, negative_timeout;
	unsigned int max_threads;
	bool read_only;
	/*
	 * OPEN answered ENOSYS (the host then sends no OPEN and no RELEASE:
	 * FUSE_CAP_NO_OPEN_SUPPORT). Set at INIT, read-only after.
	 */
	bool no_open;
	bool remote_locks;           /* ffs_opts.remote_locks */
	void (*log)(void *arg, int priority, const char *msg);
	void *log_arg;

	pthread_mutex_t node_lock;   /* see the top of this file */
	struct ffs_node **nodes;
	size_t nodes_mask;
	size_t nr_nodes;

	pthread_t thread;            /* runs fuse_session_loop_mt */
	bool thread_started;
	atomic_bool stopping;
	atomic_bool unmounted;
	struct uk_notifier notifier;
	bool notifier_registered;
	atomic_bool connected;       /* init done: notifications allowed */
	/* The INIT request, until its reply is out (session.c, dev_io). */
	uint64_t init_unique;
	uint32_t init_flags;         /* what the host offered */
	uint32_t init_flags2;
	bool want_uring;             /* use FUSE over io_uring if offered */
	struct ffs_uring *uring;     /* its workers (uring.c), or NULL */
};

/* ---- node table (node.c) ------------------------------------------------ */

int ffs_nodes_init(struct ffs *fs);
/* Drops every node (after the session ended). */
void ffs_nodes_exit(struct ffs *fs);
/*
 * The node for path's inode with one more lookup (the reply about to be
 * sent); made when new, pinning path, with generation gen. Returns it, or NULL without memory.
 */
struct ffs_node *ffs_node_get(struct ffs *fs, const struct vfs_path *path,
			      uint64_t ino, uint64_t gen);
/* Undoes nlookup lookups (forget); frees the node at zero. */
void ffs_node_forget(struct ffs *fs, uint64_t ino, uint64_t nlookup);
/*
 * A referenced copy of ino's pinned path (caller: vfs_path_put), or
 * -ESTALE when the kernel asks about a node it had forgotten.
 */
int ffs_node_path(struct ffs *fs, uint64_t ino, struct vfs_path *out);
/* True when the host kernel holds ino (invalidation is worth a call). */
bool ffs_node_known(struct ffs *fs, uint64_t ino);
/*
 * The node's shared read description with a reference (vfs_fput), or
 * NULL when it has none yet (or is unknown).
 */
struct vfs_file *ffs_node_rfile(struct ffs *fs, uint64_t ino);
/*
 * Makes f (the caller keeps its reference) the node's shared read
 * description unless it has one. Returns the one it has then, with a
 * reference, or NULL when the node is gone.
 */
struct vfs_file *ffs_node_set_rfile(struct ffs *fs, uint64_t ino,
				    struct vfs_file *f);

/* ---- requests (ops.c) ------------------------------------------------------ */

/* Node ids: inode numbers, with the root's swapped with 1 (FUSE_ROOT_ID). */
static inline uint64_t ffs_ino_to_nodeid(const struct ffs *fs, uint64_t ino)
{
	if (ino == fs->root_ino)
		return FUSE_ROOT_ID;
	if (ino == FUSE_ROOT_ID)
		return fs->root_ino;
	return ino;
}

/*
 * Set on a thread once it has run a FUSE request handler: such a thread
 * never sends notifications (session.c says why).
 */
extern __thread bool ffs_in_handler;

extern const struct fuse_lowlevel_ops ffs_ops;

/*
 * The longest a worker keeps reading /dev/fuse after a reply before it
 * sleeps (UKERNEL_FUSE_SPIN_US overrides; 0 never spins). The window
 * itself adapts to the gaps between requests (session.c, spin_update).
 * Measured in docs/fuse.md, "Spinning": on a quiet machine create and
 * unlink on the mount take a third less time, at no more daemon CPU.
 */
#define FFS_SPIN_US 50
/*
 * Before a handler may wait for another request (session.c), or for long
 * (the disk: fsync, a READ or WRITE of FFS_BIG_IO bytes or more), so that
 * other requests are read meanwhile.
 */
void ffs_loop_may_block(void);
#define FFS_BIG_IO (128u * 1024u)

/* ---- FUSE over io_uring (uring.c) ----------------------------------------- */

struct iovec;
/*
 * At INIT, before the reply: sets up a worker per CPU queue for entries
 * of payload_len bytes. True when the reply may offer FUSE_OVER_IO_URING.
 */
bool ffs_uring_prepare(struct ffs *fs, size_t payload_len);
/* After the INIT reply went out (offered: with the flag): start or end. */
void ffs_uring_go(struct ffs *fs, bool offered);
/* After the session: joins the workers, frees the rings. */
void ffs_uring_stop(struct ffs *fs);
/*
 * From dev_writev: the reply to this thread's ring request goes into its
 * ring entry. Returns the bytes taken, or -1 when it is not such a reply.
 */
ssize_t ffs_uring_reply(const struct iovec *iov, int count);
/*
 * A buffer for a reply's data of size bytes that the reply then need not
 * copy (a ring worker's payload), or NULL.
 */
void *ffs_uring_reply_buf(size_t size);

void ffs_log(struct ffs *fs, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* UK_FUSEFS_INTERNAL_H */
