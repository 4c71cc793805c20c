/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_meta.h - the metadata layer of ukfs, the persistent file
 * system: superblock, inodes, directory entries, extents, free space,
 * extended attributes and orphans as rows of a SQLite database (WAL), plus
 * mkfs and fsck. File data lives in the image's block file, which this layer
 * only sizes; blockdev and the page cache read and write it.
 *
 * Every function returns >= 0 on success and -errno on failure. Every call
 * is atomic: a failed call leaves no row changed. Changes are grouped into
 * one open write transaction (like a jbd2 transaction) that reaches the disk
 * at ukfs_meta_commit(), or at ukfs_meta_maybe_commit() when it is old or
 * large; see docs/ukfs.md.
 *
 * Thread safety: a struct ukfs_meta may be used from any thread; each call
 * takes the meta lock (recursive, so the pre-commit hook may call back in).
 *
 * Sections: image, transactions, inodes, directory entries, extents and
 * allocation, xattrs, orphans, fsck.
 */
#ifndef UKFS_META_H
#define UKFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UKFS_BLOCK_SIZE 4096u
#define UKFS_BLOCK_SHIFT 12
#define UKFS_ROOT_INO 1u	 /* the root directory (FUSE_ROOT_ID too) */
#define UKFS_FIRST_DATA_BLOCK 1u /* block 0 is reserved: pblk 0 = no block */
#define UKFS_FORMAT_VERSION 1
#define UKFS_MAGIC "ukfs-meta"
#define UKFS_NAME_MAX 255u
#define UKFS_XATTR_NAME_MAX 255u
#define UKFS_XATTR_SIZE_MAX 65536u
/* readdir cookies of a directory start here: 0, 1, 2 are the VFS's
 * (start, after ".", after ".."). */
#define UKFS_COOKIE_FIRST 3u

/* File names inside an image directory. */
#define UKFS_META_FILE "meta.db"
#define UKFS_BLOCKS_FILE "blocks"
#define UKFS_LOCK_FILE "lock"

struct ukfs_meta;

/* ---- image ------------------------------------------------------------ */

/*
 * Creates an image in dir (made if missing; must not hold an image yet):
 * meta.db with the schema, the superblock and the root directory, and a
 * sparse blocks file of size_bytes (rounded down to blocks). nr_inodes 0
 * picks one inode per 16 KiB. Returns 0, -EEXIST if dir already holds an
 * image, -EINVAL for a size below 64 KiB or nr_inodes < 2, -errno from the
 * host. errbuf (may be NULL) gets a message on failure.
 */
int ukfs_mkfs(const char *dir, uint64_t size_bytes, uint64_t nr_inodes,
	      char *errbuf, size_t errlen);

#define UKFS_META_NOCHECK 0x1u /* skip quick_check and the extent scan */
/* Read only (mount -o ro, a medium that cannot be written): nothing is
 * written, not even the clean flag; orphans are left for the next writer;
 * every change returns -EROFS. Still exclusive. */
#define UKFS_META_RDONLY 0x2u

/*
 * Opens the image in dir: takes the image's lock file (a second opener gets
 * -EBUSY and the holder's pid in errbuf), validates it, marks it not clean,
 * and reclaims the orphans a crash left behind. On failure *out is untouched
 * and errbuf says what is wrong:
 *   -ENOENT     dir, meta.db or blocks missing
 *   -ENOTDIR    dir is not a directory
 *   -EBUSY      another process has the image open
 *   -EINVAL     meta.db is not a SQLite database, or not a ukfs one
 *   -EPROTONOSUPPORT  format version or block size this code cannot read
 *   -EUCLEAN    damaged: truncated or corrupt database, blocks file too
 *               short, an extent outside the device
 *   -EROFS      UKFS_META_RDONLY on an image that needs recovery
 *   -EIO / -ENOMEM  the host failed
 */
int ukfs_meta_open(const char *dir, unsigned int flags, struct ukfs_meta **out,
		   char *errbuf, size_t errlen);

/*
 * Closes meta and frees it. clean: commit what is pending (pre-commit hook
 * included), mark the image cleanly unmounted and checkpoint the WAL into
 * meta.db. !clean: drop the open transaction as a crash would and leave the
 * image marked not clean. Returns 0 or the commit's error (meta is freed
 * either way).
 */
int ukfs_meta_close(struct ukfs_meta *m, bool clean);

struct ukfs_statfs {
	uint64_t block_size;
	uint64_t blocks; /* data blocks: the device minus block 0 */
	uint64_t free_blocks;
	uint64_t inodes; /* the inode limit */
	uint64_t free_inodes;
	uint32_t name_max;
};
int ukfs_meta_statfs(struct ukfs_meta *m, struct ukfs_statfs *st);

struct ukfs_meta_info {
	uint64_t commits;     /* SQLite COMMITs made */
	uint64_t txn_changes; /* calls in the open transaction */
	bool txn_open;
	uint64_t orphans_reclaimed; /* at open */
	bool was_clean;		    /* the clean flag found at open */
	char uuid[37];
	int64_t created_ns;
};
int ukfs_meta_info(struct ukfs_meta *m, struct ukfs_meta_info *info);

/* ---- transactions ----------------------------------------------------- */

/*
 * Called with the meta lock held before each COMMIT, so the page cache can
 * write back and flush the data blocks the transaction points at (ext4's
 * data=ordered). It may call ukfs_* functions (they join the transaction
 * being committed). A negative return aborts the commit: the transaction
 * stays open with every change in it, and the commit returns that error.
 */
typedef int (*ukfs_pre_commit_fn)(void *arg, struct ukfs_meta *m);
void ukfs_meta_set_pre_commit(struct ukfs_meta *m, ukfs_pre_commit_fn fn,
			      void *arg);

/*
 * The inodes that got written (not UNWRITTEN) blocks mapped in the open
 * transaction, ascending, up to max of them; returns how many there are.
 * For the pre-commit hook: their dirty data must reach the device before
 * the commit (blocks freed and reused are covered by writing these back).
 */
long ukfs_meta_ordered_inodes(struct ukfs_meta *m, uint64_t *inos, size_t max);

#define UKFS_COMMIT_INTERVAL_NS (5ll * 1000000000ll)
#define UKFS_COMMIT_MAX_CHANGES 20000u
/* interval_ns / max_changes of 0 keep the current value. */
void ukfs_meta_set_commit_policy(struct ukfs_meta *m, int64_t interval_ns,
				 uint64_t max_changes);

/*
 * Commits the open transaction, durably (the WAL is fsync'd before this
 * returns): the pre-commit hook, the superblock counters, COMMIT. Returns 0
 * (also when nothing was open, or when called from inside the hook), the
 * hook's error (the transaction stays open), or -EIO when SQLite failed; if
 * SQLite rolled the transaction back the meta is shut down (every later
 * change gets -EIO), as ext4 aborts its journal.
 */
int ukfs_meta_commit(struct ukfs_meta *m);

/*
 * Commits if the open transaction began commit-interval or more before now,
 * or holds max-changes calls. now is CLOCK_MONOTONIC in ns (ukfs_meta_now());
 * the caller drives time: the VFS calls this after each changing call and
 * from its writeback thread's timer. Returns 1 committed, 0 not due, -errno.
 */
int ukfs_meta_maybe_commit(struct ukfs_meta *m, int64_t now);
int64_t ukfs_meta_now(void);

/* ---- inodes ----------------------------------------------------------- */

struct ukfs_inode {
	uint64_t ino;
	uint64_t gen; /* generation: (ino, gen) names a file forever */
	uint32_t mode;
	uint32_t uid, gid;
	uint32_t nlink; /* kept by this layer: dentries (+ subdirs) */
	uint64_t size;
	uint64_t rdev;
	uint64_t blocks; /* fs blocks mapped by extents (kept here) */
	int64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
	uint32_t flags;
	uint64_t parent; /* directories: the parent's ino ('..') */
};

#define UKFS_SET_MODE 0x001u
#define UKFS_SET_UID 0x002u
#define UKFS_SET_GID 0x004u
#define UKFS_SET_SIZE 0x008u /* the field only: ukfs_truncate frees blocks */
#define UKFS_SET_ATIME 0x010u
#define UKFS_SET_MTIME 0x020u
#define UKFS_SET_CTIME 0x040u
#define UKFS_SET_BTIME 0x080u
#define UKFS_SET_FLAGS 0x100u
#define UKFS_SET_RDEV 0x200u
#define UKFS_SET_ALL 0x3ffu

/*
 * Allocates an inode from attr's mode, uid, gid, rdev, times and flags with
 * nlink 0, on the orphan list (an O_TMPFILE; ukfs_link takes it off). link:
 * the target for a symlink (NULL otherwise). Returns 0 and *ino, -ENOSPC at
 * the inode limit, -ENAMETOOLONG for a target over 4095 bytes.
 */
int ukfs_inode_alloc(struct ukfs_meta *m, const struct ukfs_inode *attr,
		     const char *link, uint64_t *ino);
/* Fills *out; -ENOENT if there is no such inode. */
int ukfs_inode_get(struct ukfs_meta *m, uint64_t ino, struct ukfs_inode *out);
/* Writes the fields of in named by mask (UKFS_SET_*) to in->ino. -ENOENT. */
int ukfs_inode_update(struct ukfs_meta *m, const struct ukfs_inode *in,
		      unsigned int mask);
/*
 * Frees an inode: its extents (blocks back to the free space), xattrs,
 * orphan entry and row. The VFS calls it at the last iput of an inode with
 * nlink 0. Returns 0, -ENOENT, -EBUSY if entries still name it.
 */
int ukfs_inode_free(struct ukfs_meta *m, uint64_t ino);
/* The same for a caller that knows the inode's mode (skips reading it). */
int ukfs_inode_free_mode(struct ukfs_meta *m, uint64_t ino, uint32_t mode);
/* Copies a symlink's target into buf (not NUL-terminated, like readlink);
 * returns its length, -EINVAL if ino is not a symlink, -ENOENT. */
int ukfs_readlink(struct ukfs_meta *m, uint64_t ino, char *buf, size_t size);

/* ---- directory entries ------------------------------------------------ */

/*
 * Creates an inode as ukfs_inode_alloc does and links it as parent/name in
 * one atomic step (creat, mkdir, mknod, symlink). A directory gets nlink 2
 * and its parent one more. *out (may be NULL) receives the new inode.
 * Errors: -EEXIST, -ENOENT (parent), -ENOTDIR, -ENOSPC, -ENAMETOOLONG,
 * -EINVAL (empty name, '/', "." or "..").
 */
int ukfs_create(struct ukfs_meta *m, uint64_t parent, const char *name,
		const struct ukfs_inode *attr, const char *link,
		struct ukfs_inode *out);
/* *ino and *type (DT_*; either may be NULL) of parent/name; -ENOENT. */
int ukfs_lookup(struct ukfs_meta *m, uint64_t parent, const char *name,
		uint64_t *ino, unsigned int *type);
/*
 * Adds the entry parent/name for an existing inode (link(2), or linking an
 * O_TMPFILE) and raises its nlink. -EEXIST, -ENOENT, -ENOTDIR, -EMLINK,
 * -EPERM for a directory that already has a name.
 */
int ukfs_link(struct ukfs_meta *m, uint64_t parent, const char *name,
	      uint64_t ino);
/*
 * Removes parent/name (unlink and rmdir): the inode loses a link (a
 * directory all of its: its nlink becomes 0 and the parent loses one). An
 * inode whose nlink reaches 0 goes on the orphan list in the same step, so
 * a crash before ukfs_inode_free cannot leak it. *victim (may be NULL) gets
 * the inode after the change. -ENOENT, -ENOTEMPTY.
 */
int ukfs_unlink(struct ukfs_meta *m, uint64_t parent, const char *name,
		struct ukfs_inode *victim);
/*
 * ukfs_unlink for a caller that knows which inode parent/name names (the
 * VFS's dentry): the entry is removed only if it names ino (-ESTALE, and
 * nothing changed, if it names another or none). Spares the lookup.
 */
int ukfs_unlink_ino(struct ukfs_meta *m, uint64_t parent, const char *name,
		    uint64_t ino, struct ukfs_inode *victim);

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif
/*
 * Moves oparent/oname to nparent/nname atomically. flags 0 replaces an
 * existing target (a directory only if empty: -ENOTEMPTY; -EISDIR /
 * -ENOTDIR on a type mismatch), whose inode loses a link as in ukfs_unlink
 * and is returned in *victim (ino 0 when nothing was replaced; may be
 * NULL); RENAME_NOREPLACE gives -EEXIST instead; RENAME_EXCHANGE swaps two
 * existing entries (-ENOENT if the target is missing). A moved directory's
 * '..' follows and both parents' nlink are kept. Renaming an entry onto a
 * name for the same inode does nothing. The VFS checks permissions and that
 * a directory is not moved under itself.
 */
int ukfs_rename(struct ukfs_meta *m, uint64_t oparent, const char *oname,
		uint64_t nparent, const char *nname, unsigned int flags,
		struct ukfs_inode *victim);

/*
 * One directory entry for ukfs_readdir: next is the cookie of the position
 * after this entry (the d_off). Return nonzero to stop. Called with the
 * meta lock held: it must not call ukfs_* functions.
 */
typedef int (*ukfs_filldir_fn)(void *arg, const char *name, size_t len,
			       uint64_t ino, unsigned int type, uint64_t next);
/*
 * Calls fn for the entries of dir from cookie on, in cookie order. Cookies
 * are per directory, increase monotonically and are never reused, so a
 * position stays valid across inserts and deletes. Returns 0, the first
 * nonzero value fn returned, -ENOENT or -ENOTDIR.
 */
int ukfs_readdir(struct ukfs_meta *m, uint64_t dir, uint64_t cookie,
		 ukfs_filldir_fn fn, void *arg);

/* ---- extents and allocation ------------------------------------------ */

#define UKFS_EXT_UNWRITTEN 0x1u /* allocated, reads as zeros (fallocate) */
#define UKFS_EXT_KEEP_SIZE 0x2u /* preallocated past EOF (KEEP_SIZE) */
#define UKFS_EXT_HOLE 0x100u	/* in ukfs_extent_map results: no blocks */

struct ukfs_extent {
	uint64_t lblk;	/* first logical block */
	uint64_t pblk;	/* first physical block; 0 for a hole */
	uint64_t len;	/* blocks */
	uint32_t flags; /* UKFS_EXT_* */
};

/*
 * Maps the logical blocks [lblk, lblk + count) of ino from lblk on: *out
 * is the mapped run that starts at lblk (clipped to count), or the hole
 * that does (UKFS_EXT_HOLE, pblk 0, up to the next extent or count).
 * Returns 0, -ENOENT, -EINVAL for count 0.
 */
int ukfs_extent_map(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		    uint64_t count, struct ukfs_extent *out);
/*
 * Maps e->lblk.. to e->pblk.. (blocks the caller allocated): the blocks
 * that range mapped before are freed, and the new run merges with a
 * neighbour that is contiguous on both sides and has the same flags.
 * Returns 0, -ENOENT, -EINVAL for a range outside the device.
 */
int ukfs_extent_insert(struct ukfs_meta *m, uint64_t ino,
		       const struct ukfs_extent *e);
/*
 * Allocates up to count blocks for ino's logical blocks from lblk, near the
 * block after the one mapping lblk - 1 (so appended files stay contiguous),
 * and maps them with flags. *out is the run made, which may be shorter
 * than count (call again for the rest). -ENOSPC when no block is free.
 * lblk must be a hole (-EEXIST otherwise). Blocks freed in the open
 * transaction are not reused before it commits; when they are all that is
 * left, this commits (pre-commit hook included) and tries again, so do not
 * call it holding a lock the hook takes.
 */
int ukfs_alloc_extent(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		      uint64_t count, uint32_t flags, struct ukfs_extent *out);
/* Unmaps [lblk, lblk + count) and frees its blocks (PUNCH_HOLE); *freed
 * (may be NULL) gets the count freed. */
int ukfs_extent_punch(struct ukfs_meta *m, uint64_t ino, uint64_t lblk,
		      uint64_t count, uint64_t *freed);
/* Sets ino's size and frees the blocks wholly past it (truncate). */
int ukfs_truncate(struct ukfs_meta *m, uint64_t ino, uint64_t size);
/*
 * SEEK_DATA / SEEK_HOLE over the block map and the inode's size: *res gets
 * the first offset >= off in data (or in a hole; EOF is a hole). Unwritten
 * extents count as holes: the page cache must check its own dirty pages.
 * -ENXIO for off >= size, -EINVAL for another whence.
 */
int ukfs_seek_data_hole(struct ukfs_meta *m, uint64_t ino, int64_t off,
			int whence, int64_t *res);
/*
 * The block allocator, for callers that map blocks themselves: up to count
 * free blocks, starting at goal if it is free, else near it, else the
 * smallest free extent that fits, else the largest. Returns the number
 * allocated (>= 1) with *start, or -ENOSPC (after one commit-and-retry
 * when blocks freed in the open transaction are pending, as above).
 */
long ukfs_alloc_blocks(struct ukfs_meta *m, uint64_t goal, uint64_t count,
		       uint64_t *start);
/* Gives [start, start + count) back, merging with free neighbours, at the
 * next commit (counted free at once). -EINVAL if outside the device,
 * -EUCLEAN if some of it is free already (a double free inside one
 * transaction is found by the commit). */
int ukfs_free_blocks(struct ukfs_meta *m, uint64_t start, uint64_t count);

/* ---- extended attributes --------------------------------------------- */

#ifndef XATTR_CREATE
#define XATTR_CREATE 0x1
#define XATTR_REPLACE 0x2
#endif
/* Value length; copies it if size > 0 (-ERANGE if it does not fit). size 0
 * asks for the length only. -ENODATA, -ENOENT. */
int ukfs_xattr_get(struct ukfs_meta *m, uint64_t ino, const char *name,
		   void *buf, size_t size);
/* XATTR_CREATE: -EEXIST if set; XATTR_REPLACE: -ENODATA if not. -E2BIG,
 * -ERANGE (name length), -ENOENT. */
int ukfs_xattr_set(struct ukfs_meta *m, uint64_t ino, const char *name,
		   const void *value, size_t len, int flags);
/* Names, each NUL-terminated, in name order; the total length (size 0 asks
 * for it only), -ERANGE. */
long ukfs_xattr_list(struct ukfs_meta *m, uint64_t ino, char *buf, size_t size);
int ukfs_xattr_remove(struct ukfs_meta *m, uint64_t ino, const char *name);

/* ---- orphans ---------------------------------------------------------- */

/* An inode unlinked while open: ukfs_unlink adds it; these are for the VFS
 * and fsck. add: -ENOENT; remove: -ENOENT if not listed. */
int ukfs_orphan_add(struct ukfs_meta *m, uint64_t ino);
int ukfs_orphan_remove(struct ukfs_meta *m, uint64_t ino);
/* Up to max orphan inos in ino order; returns how many there are in all. */
long ukfs_orphan_list(struct ukfs_meta *m, uint64_t *inos, size_t max);

/* ---- fsck ------------------------------------------------------------- */

typedef void (*ukfs_report_fn)(void *arg, const char *msg);
#define UKFS_FSCK_CLEAN 0
#define UKFS_FSCK_FIXED 1  /* problems found (and, with repair, fixed) */
#define UKFS_FSCK_CANNOT 2 /* could not open or check the image */
/*
 * Checks the image in dir (which nobody may have open) and, with repair,
 * fixes what it finds. Each finding is one line to fn (may be NULL).
 * Returns UKFS_FSCK_*: `ukctl fsck` exits with that value.
 */
int ukfs_fsck(const char *dir, bool repair, ukfs_report_fn fn, void *arg);

#endif /* UKFS_META_H */
