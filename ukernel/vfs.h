/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs.h - the VFS's internal API, shared by the VFS core, the file
 * systems (tmpfs now, ukfs next), the file syscalls and the VFS extras
 * (record locks, xattrs, fallocate, copy_file_range/sendfile).
 *
 * Objects, as in Linux: super block, inode, dentry, mount, file; each is
 * reference counted and has a static const ops table filled by its file
 * system (NULL op = the VFS's fallback or -EOPNOTSUPP/-EPERM as Linux).
 *
 * Locking (the order is top to bottom; never take an upper lock while
 * holding a lower one):
 *   file->f_pos_lock  mutex: f_pos of a shared open file description
 *                     (read/write/lseek, and getdents, which then takes
 *                     ns_lock for reading).
 *   vfs->ns_lock      rwlock: the namespace. Protects the dentry tree
 *                     (d_parent, names, children lists, positive/negative
 *                     state), the mount table and directory contents. Path
 *                     walks hold it for reading; every operation that
 *                     changes a directory (create, mkdir, mknod, symlink,
 *                     link, unlink, rmdir, rename, mount) holds it for
 *                     writing across its whole walk and change, so a walk
 *                     never sees a half-done rename. A reader-writer lock
 *                     instead of RCU + seqlocks: one uncontended rdlock is
 *                     ~20 ns, lookups take no per-dentry reference while
 *                     walking, and changes are rare next to lookups.
 *   vfs->dcache_lock  mutex: insertion of new dentries into the hash and
 *                     their parent's d_unpinned list while ns_lock is only
 *                     read-held (a lookup miss), every change of d_child,
 *                     and d_count reaching 0. Chains are published with
 *                     release stores so walkers need no lock beyond
 *                     ns_lock; unhashing and resizing happen only with
 *                     ns_lock write-held.
 *   inode->i_rwsem    rwlock: file data and i_size (writes/truncate take it
 *                     for writing, reads for reading; appends are atomic).
 *   inode->i_lock     mutex: attributes (mode, uid, gid, nlink, times,
 *                     blocks). Short sections only, no I/O.
 *   files->lock       mutex: one fd table (leaf).
 *   fs->lock          mutex: one task's cwd/root/umask (leaf).
 * Reference counts are atomics; a dentry holds its parent and inode, an
 * open file holds its path (mount + dentry) and inode.
 */
#ifndef UK_VFS_H
#define UK_VFS_H

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "internal.h"

/* ---- small lists ------------------------------------------------------ */

struct uk_list {
	struct uk_list *next, *prev;
};

static inline void uk_list_init(struct uk_list *h)
{
	h->next = h->prev = h;
}

static inline bool uk_list_empty(const struct uk_list *h)
{
	return h->next == h;
}

static inline void uk_list_add_tail(struct uk_list *n, struct uk_list *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void uk_list_del_init(struct uk_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	uk_list_init(n);
}

#define uk_list_entry(p, type, member) uk_container_of(p, type, member)

/* ---- forward declarations --------------------------------------------- */

struct vfs_super;
struct vfs_inode;
struct vfs_dentry;
struct vfs_mount;
struct vfs_file;
struct vfs_fs_type;
struct vfs_kstatfs;

struct vfs_path {
	struct vfs_mount *mnt;
	struct vfs_dentry *dentry;
};

/* ---- the kernel's VFS instance ------------------------------------------ */

struct uk_vfs {
	struct uk_kernel *kernel;
	pthread_rwlock_t ns_lock;     /* see the top of this file */
	pthread_mutex_t dcache_lock;  /* hash insertion under read ns_lock */
	struct vfs_dentry **hash;     /* (parent, name) -> dentry chains */
	size_t hash_mask;
	size_t nr_dentry;             /* hashed dentries (dcache_lock) */
	size_t nr_negative;           /* hashed negative ones (dcache_lock) */
	struct vfs_mount *root_mnt;   /* the root mount */
	struct uk_list mounts;        /* every mount but the root (ns_lock) */
	atomic_uint next_minor;       /* anonymous st_dev minors */
	atomic_uint next_mnt_id;
};

/* ---- super block ------------------------------------------------------- */

struct vfs_super_ops {
	/* Allocates a file system inode (embedding struct vfs_inode first). */
	struct vfs_inode *(*alloc_inode)(struct vfs_super *sb);
	/* Frees what alloc_inode allocated. */
	void (*destroy_inode)(struct vfs_inode *inode);
	/* Last reference gone and nlink 0: free its data (truncate to 0). */
	void (*evict_inode)(struct vfs_inode *inode);
	/* Writes the inode's attributes back (persistent fs); may be NULL. */
	int (*write_inode)(struct vfs_inode *inode, bool sync);
	/*
	 * The VFS changed in-core attributes behind the file system's back
	 * (atime, suid/sgid cleared by a write, the generic setattr): a
	 * persistent fs marks the inode for write_inode. Called without
	 * i_lock; may be NULL.
	 */
	void (*dirty_inode)(struct vfs_inode *inode);
	/* Flushes the whole file system (sync, syncfs); may be NULL. */
	int (*sync_fs)(struct vfs_super *sb, bool wait);
	int (*statfs)(struct vfs_dentry *d, struct vfs_kstatfs *buf);
	/* Frees s_fs_info at unmount, after every inode is gone. */
	void (*put_super)(struct vfs_super *sb);
};

struct vfs_super {
	const struct vfs_super_ops *s_op;
	const struct vfs_fs_type *s_type;
	struct uk_vfs *s_vfs;
	struct vfs_dentry *s_root;
	dev_t s_dev;
	unsigned long s_magic;
	unsigned long s_blocksize;
	int64_t s_maxbytes;           /* largest file size (EFBIG beyond) */
	unsigned long s_time_gran;    /* ns */
	unsigned int s_flags;         /* VFS_SB_* */
	atomic_long s_active;         /* mounts of this super block */
	atomic_ullong s_next_ino;
	void *s_fs_info;
};

#define VFS_SB_RDONLY 1u

/* Mount options as a string ("size=1M,nr_inodes=10,mode=0755"). */
struct vfs_fs_type {
	const char *name;
	/* Makes a super block with its root dentry, or ERR_PTR. */
	struct vfs_super *(*mount)(struct uk_vfs *vfs, const char *opts);
	/* Tears it down (after the last mount went away). */
	void (*kill_sb)(struct vfs_super *sb);
};

extern const struct vfs_fs_type tmpfs_fs_type;
extern const struct vfs_fs_type ukfs_fs_type;
/* Replaces the root mount with a mount of sb (before any task). */
int vfs_mount_root_sb(struct uk_vfs *vfs, struct vfs_super *sb);

/* Magic used for statfs f_type of tmpfs: TMPFS_MAGIC, as Linux's. */
#define UK_TMPFS_MAGIC 0x01021994UL

/* ---- inode ------------------------------------------------------------- */

/* What setattr changes (ia_valid), as Linux's ATTR_*. */
#define VFS_ATTR_MODE (1u << 0)
#define VFS_ATTR_UID (1u << 1)
#define VFS_ATTR_GID (1u << 2)
#define VFS_ATTR_SIZE (1u << 3)
#define VFS_ATTR_ATIME (1u << 4)
#define VFS_ATTR_MTIME (1u << 5)
#define VFS_ATTR_CTIME (1u << 6)
#define VFS_ATTR_KILL_SUID (1u << 11)
#define VFS_ATTR_KILL_SGID (1u << 12)

struct vfs_iattr {
	unsigned int ia_valid;
	mode_t ia_mode;
	uid_t ia_uid;
	gid_t ia_gid;
	int64_t ia_size;
	struct timespec ia_atime, ia_mtime, ia_ctime;
};

/* The file-system-independent stat, filled by vfs_getattr. */
struct vfs_kstat {
	uint32_t mask;       /* STATX_* filled */
	mode_t mode;
	unsigned int nlink;
	uid_t uid;
	gid_t gid;
	dev_t rdev, dev;
	uint64_t ino;
	int64_t size;
	uint64_t blocks;     /* 512-byte units */
	uint32_t blksize;
	struct timespec atime, mtime, ctime, btime;
	uint64_t attributes, attributes_mask;
	uint64_t mnt_id;
};

struct vfs_kstatfs {
	long f_type, f_bsize;
	uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
	long f_namelen, f_frsize, f_flags;
	uint32_t f_fsid[2];
};

/*
 * Inode operations. Directory ops are called with ns_lock write-held and
 * the VFS has done every permission and existence check; they only change
 * the file system. The dentry passed to create/mkdir/... is negative and
 * hashed; the op makes it positive with vfs_d_instantiate().
 */
struct vfs_inode_ops {
	/*
	 * Looks name (dentry->d_name) up in dir. On a hit it attaches the
	 * inode with vfs_d_instantiate and returns 0; on a miss returns 0 and
	 * leaves the dentry negative (cached). Called under ns_lock (read or
	 * write). A file system whose dcache is complete (tmpfs) just returns
	 * 0 (every positive dentry is already in the cache).
	 */
	int (*lookup)(struct vfs_inode *dir, struct vfs_dentry *dentry);
	int (*create)(struct vfs_inode *dir, struct vfs_dentry *dentry,
		      mode_t mode, uid_t uid, gid_t gid);
	int (*mkdir)(struct vfs_inode *dir, struct vfs_dentry *dentry,
		     mode_t mode, uid_t uid, gid_t gid);
	int (*mknod)(struct vfs_inode *dir, struct vfs_dentry *dentry,
		     mode_t mode, dev_t rdev, uid_t uid, gid_t gid);
	int (*symlink)(struct vfs_inode *dir, struct vfs_dentry *dentry,
		       const char *target, uid_t uid, gid_t gid);
	/* Adds a name for old_dentry's inode; nlink and ctime by the op. */
	int (*link)(struct vfs_dentry *old_dentry, struct vfs_inode *dir,
		    struct vfs_dentry *dentry);
	/* Removes a name; the VFS then turns the dentry negative. */
	int (*unlink)(struct vfs_inode *dir, struct vfs_dentry *dentry);
	int (*rmdir)(struct vfs_inode *dir, struct vfs_dentry *dentry);
	/*
	 * Renames (flags: RENAME_NOREPLACE, RENAME_EXCHANGE). The VFS has
	 * checked everything (including emptiness of a replaced directory);
	 * the op updates the file system, nlinks and times; the VFS then moves
	 * the dentries (vfs_d_move / vfs_d_exchange).
	 */
	int (*rename)(struct vfs_inode *old_dir, struct vfs_dentry *old_dentry,
		      struct vfs_inode *new_dir, struct vfs_dentry *new_dentry,
		      unsigned int flags);
	/* Copies the target of a symlink into buf; returns its length. */
	long (*readlink)(struct vfs_dentry *dentry, char *buf, size_t size);
	/*
	 * Returns the symlink's target, valid while the caller holds a
	 * reference on the inode (tmpfs: i_link, so NULL op is fine).
	 */
	const char *(*get_link)(struct vfs_dentry *dentry);
	/* Applies a checked change; ATTR_SIZE truncates. */
	int (*setattr)(struct vfs_dentry *dentry, struct vfs_iattr *attr);
	/* Fills stat; NULL means vfs_generic_fillattr. */
	int (*getattr)(const struct vfs_path *path, struct vfs_kstat *stat,
		       uint32_t request_mask, unsigned int flags);
	/* O_TMPFILE: an unnamed inode with nlink 0 attached to dentry. */
	int (*tmpfile)(struct vfs_inode *dir, struct vfs_dentry *dentry,
		       mode_t mode, uid_t uid, gid_t gid);

	/*
	 * Slots for the VFS extras (record locks, xattrs, fallocate). A NULL
	 * xattr op means the extras' generic in-memory store on i_xattrs.
	 */
	long (*getxattr)(struct vfs_dentry *d, const char *name, void *value,
			 size_t size);
	int (*setxattr)(struct vfs_dentry *d, const char *name,
			const void *value, size_t size, int flags);
	long (*listxattr)(struct vfs_dentry *d, char *list, size_t size);
	int (*removexattr)(struct vfs_dentry *d, const char *name);
	/*
	 * fallocate(2) on a regular file: mode 0, FALLOC_FL_KEEP_SIZE,
	 * FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE. Called with i_rwsem
	 * write-held; the caller checked modes, offsets and permissions.
	 */
	long (*fallocate)(struct vfs_inode *inode, int mode, int64_t offset,
			  int64_t len);
	/*
	 * SEEK_DATA / SEEK_HOLE: the first offset >= offset that starts data
	 * (or a hole), with i_rwsem read-held; -ENXIO past the end. NULL means
	 * the whole file is data (the implicit hole at EOF).
	 */
	int64_t (*seek_data_hole)(struct vfs_inode *inode, int64_t offset,
				  int whence);
};

struct vfs_inode {
	struct vfs_super *i_sb;
	uint64_t i_ino;
	atomic_long i_count;
	const struct vfs_inode_ops *i_op;
	const struct vfs_file_ops *i_fop;

	pthread_rwlock_t i_rwsem;     /* data and i_size (see top) */
	pthread_mutex_t i_lock;       /* the attributes below */
	mode_t i_mode;
	unsigned int i_nlink;
	uid_t i_uid;
	gid_t i_gid;
	dev_t i_rdev;
	int64_t i_size;               /* writes under i_rwsem + i_lock */
	uint64_t i_blocks;            /* 512-byte units */
	struct timespec i_atime, i_mtime, i_ctime, i_btime;
	uint64_t i_version;           /* bumped on every change (stat cache) */
	unsigned int i_state;         /* VFS_I_* (i_lock) */

	char *i_link;                 /* symlink target (tmpfs) */
	/* Owned by the VFS extras: record-lock context and xattr store. */
	_Atomic(void *) i_flctx;
	void *i_xattrs;
	pthread_mutex_t i_xattr_lock; /* protects i_xattrs (extras) */
	void *i_private;              /* the file system's */
};

#define VFS_I_LINKABLE 1u  /* O_TMPFILE without O_EXCL: linkat may name it */

static inline bool vfs_is_dir(const struct vfs_inode *i)
{
	return S_ISDIR(i->i_mode);
}

/* ---- dentry ------------------------------------------------------------ */

#define VFS_DNAME_INLINE 40

struct vfs_dentry {
	struct vfs_dentry *d_hash_next; /* hash chain (see uk_vfs.hash) */
	struct vfs_dentry *d_parent;    /* holds a reference; root: itself */
	struct vfs_inode *d_inode;      /* NULL: negative; holds a reference */
	struct vfs_super *d_sb;
	atomic_long d_count;
	unsigned int d_flags;           /* VFS_D_* (ns_lock) */
	unsigned int d_mounted;         /* mounts on this dentry (ns_lock) */
	uint32_t d_hashval;
	uint32_t d_namelen;
	char *d_name;                   /* NUL-terminated; d_iname or heap */
	/*
	 * Every hashed child is on exactly one of its parent's two lists,
	 * through d_child (so a dentry's membership is never stale): pinned
	 * ones (tmpfs's positive entries) on d_subdirs, in cookie order, the
	 * directory's listing for readdir; all others (cached misses, ukfs's
	 * cached positives) on d_unpinned. Unhashed dentries are on neither.
	 * d_child changes only under dcache_lock, and on d_subdirs also with
	 * ns_lock write-held, so readdir walks d_subdirs under ns_lock read
	 * while lookups add misses to d_unpinned. See vfs_dcache.c.
	 */
	struct uk_list d_child;
	struct uk_list d_subdirs;       /* pinned children (ns_lock) */
	struct uk_list d_unpinned;      /* other hashed children (dcache_lock) */
	uint64_t d_cookie;              /* readdir position in the parent */
	uint64_t d_next_cookie;         /* for directories: next to hand out */
	void *d_fsdata;
	char d_iname[VFS_DNAME_INLINE];
};

#define VFS_D_HASHED 1u   /* in the hash (reachable by lookup) */
#define VFS_D_PINNED 2u   /* tmpfs: positive and linked, holds a count */
#define VFS_D_DYING 4u    /* being freed by vfs_dcache_drop_sb */

static inline bool vfs_d_is_root(const struct vfs_dentry *d)
{
	return d->d_parent == d;
}

/* ---- mount ------------------------------------------------------------- */

struct vfs_mount {
	struct vfs_dentry *mnt_root;
	struct vfs_super *mnt_sb;
	struct vfs_mount *mnt_parent;     /* root mount: itself */
	struct vfs_dentry *mnt_mountpoint;
	atomic_long mnt_count;
	unsigned int mnt_flags;           /* VFS_MNT_* */
	unsigned int mnt_id;
	struct uk_list mnt_list;          /* uk_vfs.mounts */
};

#define VFS_MNT_RDONLY 1u
#define VFS_MNT_NOATIME 2u
#define VFS_MNT_DETACHED 4u

/* ---- open file description -------------------------------------------- */

#define FMODE_READ 0x1u
#define FMODE_WRITE 0x2u
#define FMODE_LSEEK 0x4u
#define FMODE_PREAD 0x8u
#define FMODE_PWRITE 0x10u
#define FMODE_PATH 0x4000u          /* O_PATH: no I/O at all */

/* getdents: the fs calls ctx->actor for each entry from ctx->pos on. */
struct vfs_dir_context {
	/*
	 * Emits one entry; next is the position after it (the d_off). Returns
	 * true to continue, false when the buffer is full (then the fs stops
	 * and leaves ctx->pos at this entry).
	 */
	bool (*actor)(struct vfs_dir_context *ctx, const char *name, int len,
		      int64_t next, uint64_t ino, unsigned int type);
	int64_t pos;
};

/*
 * An iov_iter: where read data goes / write data comes from. task != NULL:
 * user memory through uaccess; task == NULL: kernel memory (iov_base is a
 * kernel pointer), used by copy_file_range/sendfile and tests.
 */
struct vfs_iter {
	struct uk_task *task;
	const struct iovec *iov;
	unsigned long nr_segs;
	size_t iov_offset;    /* into iov[0] */
	size_t count;         /* bytes left */
	struct iovec single;  /* storage for one-segment iters */
	/*
	 * Whose call this is, for change events (vfs_notify.h): task by
	 * default; a kernel-memory iter of a syscall (copy_file_range)
	 * sets it to the calling task after init.
	 */
	struct uk_task *origin;
};

void vfs_iter_init(struct vfs_iter *it, struct uk_task *task,
		   const struct iovec *iov, unsigned long nr_segs, size_t count);
void vfs_iter_single(struct vfs_iter *it, struct uk_task *task, void *base,
		     size_t len);
/*
 * Copies n bytes out to / in from the iter and advances it. Returns the
 * bytes copied (n, or fewer if a user page faulted after some progress) or
 * -EFAULT when nothing could be copied.
 */
long vfs_copy_to_iter(struct vfs_iter *it, const void *src, size_t n);
/*
 * An iter as the page cache's copy callback (pcache_copy_fn) sees it: the
 * callback is told the offset in the request each copy goes to, and may be
 * called again for an offset it already passed (the warm-read path redoes
 * a batch whose frames were reused while it copied). count0 is the iter's
 * count when the request began.
 */
struct vfs_iter_at {
	struct vfs_iter *it;
	size_t count0;
};
static inline struct vfs_iter_at vfs_iter_at(struct vfs_iter *it)
{
	return (struct vfs_iter_at){ .it = it, .count0 = it->count };
}
/* pcache_copy_fn's over a struct vfs_iter_at: to and from the iter at off. */
size_t vfs_iter_at_copy_to(void *ctx, size_t off, void *kbuf, size_t n);
size_t vfs_iter_at_copy_from(void *ctx, size_t off, void *kbuf, size_t n);
long vfs_copy_from_iter(struct vfs_iter *it, void *dst, size_t n);
long vfs_zero_iter(struct vfs_iter *it, size_t n);

struct vfs_file_ops {
	/* Returns the new position or -errno; NULL: vfs_generic_llseek. */
	int64_t (*llseek)(struct vfs_file *f, int64_t off, int whence);
	/*
	 * Reads from *pos into the iter; returns bytes read (0 at EOF).
	 * Called with i_rwsem read-held; the VFS checked mode and area.
	 */
	long (*read_iter)(struct vfs_file *f, struct vfs_iter *to,
			  int64_t *pos);
	/*
	 * Writes at *pos (the VFS set *pos to i_size for O_APPEND) and
	 * advances it; extends i_size and updates mtime/ctime. Called with
	 * i_rwsem write-held.
	 */
	long (*write_iter)(struct vfs_file *f, struct vfs_iter *from,
			   int64_t *pos);
	/* Directory listing (getdents64), with i_rwsem read-held. */
	int (*iterate)(struct vfs_file *f, struct vfs_dir_context *ctx);
	int (*fsync)(struct vfs_file *f, int64_t start, int64_t end,
		     bool datasync);
	int (*open)(struct vfs_inode *inode, struct vfs_file *f);
	void (*release)(struct vfs_inode *inode, struct vfs_file *f);
};

struct vfs_file {
	atomic_long f_count;
	struct vfs_path f_path;       /* holds references */
	struct vfs_inode *f_inode;    /* holds a reference */
	const struct vfs_file_ops *f_op;
	_Atomic unsigned int f_flags; /* O_* status flags (F_SETFL) */
	unsigned int f_mode;          /* FMODE_* */
	pthread_mutex_t f_pos_lock;   /* f_pos (see top) */
	int64_t f_pos;
	uid_t f_uid;                  /* opener's fsuid/fsgid */
	gid_t f_gid;
	void *private_data;
};

/* ---- fd table and fs_struct (behind internal.h's hand-over) ------------ */

struct uk_files_struct {
	atomic_int count;
	pthread_mutex_t lock;         /* everything below (leaf) */
	unsigned int max_fds;         /* size of the arrays */
	unsigned int nr_open;         /* limit: EMFILE at or above */
	unsigned int next_fd;         /* lowest possibly free */
	struct vfs_file **fd;
	unsigned long *open_fds;      /* bitmap */
	unsigned long *close_on_exec; /* bitmap */
};

struct uk_fs_struct {
	atomic_int count;
	pthread_mutex_t lock;         /* root, pwd, umask (leaf) */
	struct vfs_path root, pwd;
	mode_t umask;
};

/* ---- core functions --------------------------------------------------- */

/* Time for timestamps (CLOCK_REALTIME). */
struct timespec vfs_now(void);

/* References. get returns its argument; put may free. NULL is fine. */
struct vfs_dentry *vfs_dget(struct vfs_dentry *d);
void vfs_dput(struct vfs_dentry *d);
struct vfs_inode *vfs_igrab(struct vfs_inode *i);
void vfs_iput(struct vfs_inode *i);
struct vfs_mount *vfs_mntget(struct vfs_mount *m);
void vfs_mntput(struct vfs_mount *m);
void vfs_path_get(const struct vfs_path *p);
void vfs_path_put(const struct vfs_path *p);
struct vfs_file *vfs_fget_file(struct vfs_file *f);
void vfs_fput(struct vfs_file *f);

/* Inodes: a new one from sb (i_count 1, nlink 1, times now, ino set). */
struct vfs_inode *vfs_new_inode(struct vfs_super *sb);
void vfs_inode_init_owner(struct vfs_inode *inode, struct vfs_inode *dir,
			  mode_t mode, uid_t uid, gid_t gid);
/* Tells the file system an in-core inode changed (s_op->dirty_inode). */
static inline void vfs_mark_inode_dirty(struct vfs_inode *inode)
{
	if (inode->i_sb->s_op->dirty_inode)
		inode->i_sb->s_op->dirty_inode(inode);
}
/* Bumps i_version and ctime (caller holds i_lock). */
void vfs_inode_touch_ctime(struct vfs_inode *inode);
void vfs_inode_touch_mc(struct vfs_inode *inode);  /* mtime and ctime */

/* Dentries (ns_lock held as the function says). */
void vfs_d_instantiate(struct vfs_dentry *d, struct vfs_inode *inode);
struct vfs_dentry *vfs_d_alloc_root(struct vfs_super *sb,
				    struct vfs_inode *root);
/* Looks (parent, name) up in the cache: borrowed pointer, no reference. */
struct vfs_dentry *vfs_d_lookup(struct uk_vfs *vfs,
				const struct vfs_dentry *parent,
				const char *name, uint32_t len, uint32_t hash);
/*
 * Finds or makes the dentry for (parent, name): a cache hit, or a new one
 * passed to dir->i_op->lookup. Borrowed pointer (valid while ns_lock is
 * held), or ERR_PTR. ns_lock held (read or write).
 */
struct vfs_dentry *vfs_lookup_one(struct uk_vfs *vfs,
				  struct vfs_dentry *parent, const char *name,
				  uint32_t len);
/* An unhashed dentry under parent (count 1), for O_TMPFILE; or NULL. */
struct vfs_dentry *vfs_d_alloc_anon(struct vfs_dentry *parent);
/* Turns a positive dentry negative after unlink/rmdir (ns_lock write). */
void vfs_d_delete(struct vfs_dentry *d);
/*
 * Rename in the dcache (ns_lock write): d takes target's parent and name;
 * exchange swaps a's and b's. The name buffers come from vfs_d_name_buf
 * (NULL for short names), taken before the file system changed anything.
 */
char *vfs_d_name_buf(uint32_t len);
void vfs_d_move(struct vfs_dentry *d, struct vfs_dentry *target, char *buf);
void vfs_d_exchange(struct vfs_dentry *a, struct vfs_dentry *b, char *abuf,
		    char *bbuf);
/* Drops unused negative dentries when there are too many (ns_lock write). */
void vfs_dcache_prune(struct uk_vfs *vfs);
uint32_t vfs_name_hash(const struct vfs_dentry *parent, const char *name,
		       uint32_t len);
int vfs_dcache_init(struct uk_vfs *vfs);
/* After a read-side walk: prunes if lookups piled up negative dentries. */
void vfs_dcache_maybe_prune(struct uk_vfs *vfs);
/* Frees the cached dentries of sb (all if NULL) at unmount/teardown. */
void vfs_dcache_drop_sb(struct uk_vfs *vfs, struct vfs_super *sb);
/* Pins a new positive tmpfs dentry and lists it for readdir. */
void vfs_d_pin(struct vfs_dentry *d);
void vfs_dcache_exit(struct uk_vfs *vfs);

/* Mounts. */
struct vfs_mount *vfs_lookup_mnt(struct uk_vfs *vfs, struct vfs_mount *parent,
				 struct vfs_dentry *mountpoint);
/*
 * Mounts a new instance of fs_type ("tmpfs") with opts on the directory at
 * path (resolved from task's root and cwd). Returns 0 or -errno (ENOENT,
 * ENOTDIR, EBUSY if something is already mounted there, ENODEV).
 */
int vfs_mount(struct uk_task *task, const char *path, const char *fs_type,
	      const char *opts);
/* Unmounts what is mounted at path: EBUSY if in use, EINVAL if none. */
int vfs_umount(struct uk_task *task, const char *path);

/* Takes ns_lock for writing and does the dcache's housekeeping. */
static inline void vfs_ns_write_lock(struct uk_vfs *vfs)
{
	pthread_rwlock_wrlock(&vfs->ns_lock);
	vfs_dcache_prune(vfs);
}

static inline void vfs_ns_unlock(struct uk_vfs *vfs)
{
	pthread_rwlock_unlock(&vfs->ns_lock);
}

/* ---- path walk ------------------------------------------------------- */

/* Lookup flags (nameidata). */
#define LOOKUP_FOLLOW 0x0001u      /* follow a final symlink */
#define LOOKUP_DIRECTORY 0x0002u   /* the final must be a directory */
#define LOOKUP_EMPTY 0x0004u       /* "" means the starting dir/fd */
#define LOOKUP_NO_SYMLINKS 0x0010u /* RESOLVE_NO_SYMLINKS */
#define LOOKUP_NO_XDEV 0x0020u     /* RESOLVE_NO_XDEV */
#define LOOKUP_BENEATH 0x0040u     /* RESOLVE_BENEATH */
#define LOOKUP_IN_ROOT 0x0080u     /* RESOLVE_IN_ROOT */
#define LOOKUP_NO_MAGICLINKS 0x0100u
#define LOOKUP_PARENT 0x1000u      /* internal: stop at the last component */

enum vfs_last_type { LAST_NORM, LAST_ROOT, LAST_DOT, LAST_DOTDOT };

struct vfs_nameidata {
	struct uk_task *task;
	struct uk_vfs *vfs;
	struct vfs_path path;   /* current position (borrowed under ns_lock) */
	struct vfs_path root;   /* the walk's root (task root or dirfd): ref */
	struct vfs_path start;  /* where a relative walk starts: ref */
	bool root_ref;          /* nd holds a reference on root */
	bool start_ref;         /* nd holds a reference on start */
	unsigned int flags;
	int total_links;        /* symlinks followed (ELOOP over 40) */
	const char *last;       /* the last component (LOOKUP_PARENT) */
	uint32_t last_len;
	enum vfs_last_type last_type;
	bool trailing_slash;    /* the path ended in '/' */
	char *linkbuf;          /* scratch for symlink bodies (lazily) */
};

/*
 * Sets nd up for a walk of name relative to dfd (AT_FDCWD or an fd). name
 * is a kernel copy. Takes references on the start path (released by
 * vfs_nd_done). Returns 0, -EBADF, -ENOTDIR.
 */
int vfs_nd_init(struct vfs_nameidata *nd, struct uk_task *task, int dfd,
		const char *name, unsigned int flags);
/*
 * The same with ns_lock already held (read or write) by the caller: the
 * task's root and cwd are borrowed, not referenced (chdir and chroot drop
 * the old ones under ns_lock write, so they outlive every holder of the
 * read lock). Only a dfd's path is referenced. The hot paths (stat, open)
 * use this one.
 */
int vfs_nd_init_locked(struct vfs_nameidata *nd, struct uk_task *task,
		       int dfd, const char *name, unsigned int flags);
void vfs_nd_done(struct vfs_nameidata *nd);
/*
 * Walks name with ns_lock held by the caller (read or write). On success
 * nd->path is the result (borrowed, valid while ns_lock is held); with
 * LOOKUP_PARENT it is the parent and nd->last the final component.
 * Returns 0 or -errno.
 */
int vfs_walk_locked(struct vfs_nameidata *nd, const char *name);
/* Walks a symlink body met last in a LOOKUP_PARENT walk (O_CREAT). */
int vfs_walk_continue(struct vfs_nameidata *nd, const char *body);
/*
 * Resolves (dfd, name) to a referenced path (caller does vfs_path_put).
 * Takes ns_lock for reading itself.
 */
int vfs_path_lookupat(struct uk_task *task, int dfd, const char *name,
		      unsigned int flags, struct vfs_path *out);
/* Same for a user pointer (uk_getname; AT_EMPTY_PATH as LOOKUP_EMPTY). */
int vfs_user_path_at(struct uk_task *task, int dfd, uk_uptr name,
		     unsigned int flags, struct vfs_path *out);
/* The absolute path of p as seen from root, into buf; length or -errno. */
long vfs_d_path(const struct vfs_path *p, const struct vfs_path *root,
		char *buf, size_t size);

/* ---- permissions ------------------------------------------------------ */

#define MAY_EXEC 0x1
#define MAY_WRITE 0x2
#define MAY_READ 0x4
#define MAY_APPEND 0x8
#define MAY_ACCESS 0x10
#define MAY_OPEN 0x20
#define MAY_NOT_BLOCK 0x80

/* inode_permission: mode bits, groups, CAP_DAC_*; 0, -EACCES, -EROFS. */
int vfs_permission(struct uk_task *t, struct vfs_inode *inode, int mask);
/* Same with an explicit credential (faccessat with real ids). */
int vfs_permission_cred(const struct uk_cred *c, struct vfs_inode *inode,
			int mask);
bool vfs_in_group(const struct uk_cred *c, gid_t gid);
bool vfs_capable(const struct uk_cred *c, int cap);
bool vfs_owner_or_capable(const struct uk_cred *c,
			  const struct vfs_inode *inode);
/* may_delete's sticky-bit rule: true if c may not remove inode in dir. */
bool vfs_check_sticky(const struct uk_cred *c, const struct vfs_inode *dir,
		      const struct vfs_inode *inode);
int vfs_may_create(struct uk_task *t, struct vfs_inode *dir);
/* A new file's permission bits: umask, and the setgid stripping. */
mode_t vfs_prepare_mode(struct uk_task *t, const struct vfs_inode *dir,
			mode_t mode);
int vfs_may_delete(struct uk_task *t, struct vfs_inode *dir,
		   struct vfs_dentry *victim, bool isdir);
/* Write access to the mount (EROFS). */
int vfs_mnt_want_write(const struct vfs_mount *mnt);

#define UK_CAP_CHOWN 0
#define UK_CAP_DAC_OVERRIDE 1
#define UK_CAP_DAC_READ_SEARCH 2
#define UK_CAP_FOWNER 3
#define UK_CAP_FSETID 4
#define UK_CAP_MKNOD 27

/* ---- files, fds ------------------------------------------------------- */

/*
 * Opens the inode at path as a new open file description (reference 1).
 * flags are the O_* of open(2). Permission checks done by the caller.
 */
struct vfs_file *vfs_open_path(struct uk_task *t, const struct vfs_path *path,
			       unsigned int flags);
/* fd table. */
struct vfs_file *vfs_fget(struct uk_task *t, unsigned int fd);
/* Like vfs_fget but an O_PATH file is EBADF (the I/O syscalls). */
struct vfs_file *vfs_fget_io(struct uk_task *t, unsigned int fd);
int vfs_alloc_fd(struct uk_task *t, unsigned int start, unsigned int flags);
void vfs_fd_install(struct uk_task *t, unsigned int fd, struct vfs_file *f);
void vfs_put_unused_fd(struct uk_task *t, unsigned int fd);
int vfs_close_fd(struct uk_task *t, unsigned int fd);
/* dup2/dup3 core: installs f at newfd, closing what was there. */
int vfs_replace_fd(struct uk_task *t, unsigned int fd, struct vfs_file *f,
		   unsigned int flags);
int vfs_get_close_on_exec(struct uk_task *t, unsigned int fd);
int vfs_set_close_on_exec(struct uk_task *t, unsigned int fd, bool on);

/* close_range core: closes or marks close-on-exec fds first..last. */
int vfs_close_range(struct uk_task *t, unsigned int first, unsigned int last,
		    bool cloexec);
void vfs_files_put(struct uk_files_struct *files);
struct open_how;
/* do_sys_openat2 on a kernel name; strict: openat2's checks. */
long vfs_do_open(struct uk_task *t, int dfd, const char *name,
		 struct open_how *how, bool strict);

/*
 * open(2) of a path the caller already holds (FUSE's open by node id):
 * may_open's checks, O_TRUNC, a new description in no fd table, or ERR_PTR.
 */
struct vfs_file *vfs_open_checked(struct uk_task *t,
				  const struct vfs_path *path,
				  unsigned int flags);

/* I/O cores (the checks of the syscalls, shared by the extras). */
long vfs_read(struct vfs_file *f, struct vfs_iter *to, int64_t *pos);
long vfs_write(struct vfs_file *f, struct vfs_iter *from, int64_t *pos);
long vfs_write_append(struct vfs_file *f, struct vfs_iter *from,
		      int64_t *pos, bool append);
int64_t vfs_llseek(struct vfs_file *f, int64_t off, int whence);
int64_t vfs_generic_llseek(struct vfs_file *f, int64_t off, int whence);
int vfs_fsync_range(struct vfs_file *f, int64_t start, int64_t end,
		    bool datasync);
/* Checks a read/write range: -EINVAL for negative, -EFBIG/-EOVERFLOW. */
int vfs_rw_verify_area(struct vfs_file *f, int64_t pos, size_t count);
/* Relatime atime update after a read; true if atime moved. */
bool vfs_touch_atime(const struct vfs_path *path);
/* Truncates (the checks of truncate(2) done by the caller). */
int vfs_do_truncate(struct uk_task *t, struct vfs_dentry *d, int64_t length,
		    struct vfs_file *filp);
/* notify_change: applies attr through i_op->setattr or the generic one. */
int vfs_notify_change(struct vfs_dentry *d, struct vfs_iattr *attr);
/* Generic setattr on the in-memory inode (times, mode, owner; no size). */
void vfs_setattr_copy(struct vfs_inode *inode, const struct vfs_iattr *attr);
int vfs_getattr(const struct vfs_path *path, struct vfs_kstat *stat,
		uint32_t request_mask, unsigned int flags);
void vfs_generic_fillattr(struct vfs_inode *inode, struct vfs_kstat *stat);
/* Clears suid/sgid after a write by someone without CAP_FSETID. */
void vfs_file_remove_privs(struct uk_task *t, struct vfs_file *f);

/* The kernel's O_LARGEFILE (glibc defines it as 0 on 64-bit). */
#define UK_O_LARGEFILE 0100000
/* The O_TMPFILE bit alone (glibc's __O_TMPFILE includes O_DIRECTORY). */
#define UK_O_TMPFILE_BIT 020000000
#define MAX_RW_COUNT (INT32_MAX & ~4095L)

/* ---- hooks into the VFS extras (record locks) ------------------------- */
/*
 * The extras implement these; the VFS calls them:
 *  - vfs_locks_remove_posix(task, file): on every close(2) of a descriptor
 *    that is not O_PATH (POSIX locks of task's process on that inode go),
 *    at exec for the O_CLOEXEC ones, and from uk_files_exit for each.
 *  - vfs_locks_remove_file(file): when the last reference to an open file
 *    description goes (OFD and flock locks), before f_op->release.
 *  - vfs_locks_inode_free(inode): when an inode is freed, if i_flctx.
 *  - vfs_fcntl_lock(task, fd, file, cmd, arg): fcntl's F_GETLK, F_SETLK,
 *    F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW.
 */
void vfs_locks_remove_posix(struct uk_task *t, struct vfs_file *f);
void vfs_locks_remove_file(struct vfs_file *f);
void vfs_locks_inode_free(struct vfs_inode *inode);
long vfs_fcntl_lock(struct uk_task *t, unsigned int fd, struct vfs_file *f,
		    unsigned int cmd, uk_uptr arg);
/* Frees i_xattrs when an inode is freed (extras). */
void vfs_xattrs_inode_free(struct vfs_inode *inode);

#endif /* UK_VFS_H */
