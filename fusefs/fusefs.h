/* SPDX-License-Identifier: MIT */
/*
 * fusefs/fusefs.h - the FUSE front-end as ukerneld sees it: mount the
 * kernel's root file system at a host directory through libfuse3's
 * low-level API, serve it on a multi-threaded session inside the daemon,
 * and unmount it again. docs/fuse.md describes the mapping, the threads,
 * lookup counts, cache invalidation and mount clean-up.
 *
 * Functions return >= 0 or -errno, except ffs_start (ERR_PTR).
 */
#ifndef UK_FUSEFS_H
#define UK_FUSEFS_H

#include <stdbool.h>
#include <stddef.h>

struct uk_kernel;
struct ffs;

/* Cache timeouts when none is given (seconds; see docs/fuse.md). */
#define FFS_DEFAULT_ENTRY_TIMEOUT 60.0
#define FFS_DEFAULT_ATTR_TIMEOUT 60.0

struct ffs_opts {
	const char *mountpoint;  /* absolute host directory */
	const char *fsname;      /* shown in /proc/mounts ("ukernel:IMAGE") */
	bool allow_other;        /* -o allow_other (root, or user_allow_other) */
	bool read_only;          /* -o ro: the host refuses writes (EROFS) */
	double entry_timeout;    /* < 0: the default */
	double attr_timeout;     /* < 0: the default */
	double negative_timeout; /* < 0: same as entry_timeout */
	unsigned int max_threads; /* workers at most; 0: 64 */
	/*
	 * Keep the mount's POSIX and flock locks here, where they conflict
	 * with the ring's: the host then sends OPEN, FLUSH and RELEASE on
	 * files (docs/fuse.md, "Locks"), three round trips per open+close.
	 * Otherwise the host keeps them itself and sends none of the three.
	 */
	bool remote_locks;
	/*
	 * FUSE over io_uring (docs/fuse.md, "io_uring"): OFF (the default:
	 * measured slower on the machines we have) keeps to /dev/fuse, AUTO
	 * takes requests through io_uring when the host offers it (the fuse
	 * module's enable_uring is Y), ON also sets enable_uring first (root).
	 */
	enum { FFS_URING_OFF, FFS_URING_AUTO, FFS_URING_ON } uring;
	/* Messages (mount notices, errors); may be NULL. */
	void (*log)(void *arg, int priority, const char *msg);
	void *log_arg;
};

/* True when this build has the FUSE front-end (libfuse3 was found). */
bool ffs_available(void);

/*
 * Mounts k's root at o->mountpoint and starts serving it on a thread of
 * its own (fuse_session_loop_mt). A mount left behind by a daemon that
 * died ("Transport endpoint is not connected") is lazily unmounted first
 * and a notice logged. Returns the front-end, or ERR_PTR(-errno) with a
 * one-line reason in errbuf (-EBUSY: a live ukernel mount is already
 * there; -ENODEV: no /dev/fuse; -ENOSYS: built without libfuse3).
 */
struct ffs *ffs_start(struct uk_kernel *k, const struct ffs_opts *o,
		      char *errbuf, size_t errlen);

/*
 * Unmounts (if still mounted), stops the session's threads, and drops
 * every inode the host kernel still held. Call before the kernel is
 * freed; NULL is fine.
 */
void ffs_stop(struct ffs *fs);

/* True once the mount went away (ukctl umount, fusermount3 -u). */
bool ffs_unmounted(struct ffs *fs);

/*
 * Clean-up of a dead mount at path: when stat(path) fails with ENOTCONN
 * or ECONNABORTED, unmounts it lazily (umount2 MNT_DETACH as root,
 * else fusermount3 -u -z). Returns 1 when it removed one, 0 when path
 * was fine, -errno when it could not.
 */
int ffs_cleanup_stale(const char *path);

/* True when a ukernel FUSE file system (fuse.ukernel) is mounted at path. */
bool ffs_is_mounted(const char *path);

/*
 * ukctl umount: unmounts the FUSE mount at path (umount2 as root, else
 * fusermount3 -u). Returns 0 or -errno (-EINVAL: not a ukernel mount).
 */
int ffs_umount(const char *path);

#endif /* UK_FUSEFS_H */
