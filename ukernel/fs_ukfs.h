/* SPDX-License-Identifier: MIT */
/*
 * ukernel/fs_ukfs.h - private interface of the ukfs file system type (the
 * VFS side of ukfs: fs_ukfs.c for the super block, the inode cache and the
 * directory ops; fs_ukfs_file.c for file data through the page cache and
 * blockdev).
 *
 * Locks of a ukfs super block, in order after the VFS's (docs/vfs.md):
 *   ns_lock -> i_rwsem -> sbi->wb_mutex -> i_lock -> sbi->icache_lock
 *   -> (ukfs meta lock, a leaf inside ukfs_meta)
 * wb_mutex (recursive) protects the data=ordered invariant: a run of pages
 * is allocated and its blocks written while it is held, and every commit is
 * made holding it, so when the pre-commit hook runs, every block mapped in
 * the transaction already holds its data and the hook only flushes the
 * device. It is never held while taking i_rwsem or ns_lock.
 */
#ifndef UK_FS_UKFS_H
#define UK_FS_UKFS_H

#include "blockdev.h"
#include "pcache.h"
#include "uk.h"
#include "ukfs_meta.h"
#include "vfs.h"

#define UKFS_SUPER_MAGIC 0x756b6673UL /* "ukfs" */

struct ukfs_ra_job;

struct ukfs_inode_info {
	struct vfs_inode vfs;          /* first: the VFS casts */
	struct pcache_mapping *mapping; /* regular files; NULL otherwise */
	struct ukfs_inode_info *hnext; /* icache chain (icache_lock) */
	char *link;                    /* symlink target, NUL-terminated */
	uint64_t disk_size;            /* size in the ukfs row (wb_mutex) */
	uint64_t gen;                  /* the row's generation (fixed) */
	/*
	 * Delayed allocation in st_blocks (vfs.i_lock), as ext4 counts its
	 * reserved blocks: a write into the cache past rsv_end (bytes, a
	 * block boundary) adds the blocks it covers to vfs.i_blocks and to
	 * rsv_blocks, and writeback's allocation of a hole takes from
	 * rsv_blocks before it adds anything. So stat, du and ls -s see a new
	 * file's blocks before writeback, and the allocated count after.
	 * Holes inside the file filled by a write are counted at writeback
	 * only; truncate and fallocate reload the row's count.
	 */
	uint64_t rsv_blocks;
	uint64_t rsv_end;
	bool no_evict;                 /* lost an icache race: just free */
	/*
	 * Attributes written lazily (sbi->dirty_lock): times touched by
	 * write(2) and by entries added to or removed from a directory go
	 * into the row at the next commit (or at eviction), not in a SQLite
	 * UPDATE per call; see ukfs_attrs_dirty.
	 */
	unsigned int dirty_mask;       /* UKFS_SET_* waiting for a commit */
	struct ukfs_inode dirty_attr;  /* their values */
	struct ukfs_inode_info *dirty_next;
	struct ukfs_inode_info **dirty_pprev; /* O(1) removal at eviction */
	bool on_dirty;
};

/*
 * st_blocks from the row's block count: no reservation left, and none
 * taken below the size or below blocks allocated past it (fallocate
 * KEEP_SIZE), whose writes allocate nothing. Caller holds vfs.i_lock or
 * owns ui alone.
 */
static inline void ukfs_rsv_reset(struct ukfs_inode_info *ui, uint64_t blocks)
{
	uint64_t end = ((uint64_t)ui->vfs.i_size + UKFS_BLOCK_SIZE - 1) /
		       UKFS_BLOCK_SIZE;

	ui->vfs.i_blocks = blocks * (UKFS_BLOCK_SIZE / 512);
	ui->rsv_blocks = 0;
	ui->rsv_end = (blocks > end ? blocks : end) * UKFS_BLOCK_SIZE;
	if (blocks > end)
		ui->rsv_end = UINT64_MAX; /* allocated past EOF: count nothing */
}

#define UKFS_ICACHE_BUCKETS 4096u

struct ukfs_sb_info {
	struct ukfs_meta *meta;
	struct uk_blockdev *bdev;
	struct pcache *pc;
	bool rdonly;
	pthread_mutex_t wb_mutex;       /* see the top of this file */
	pthread_mutex_t icache_lock;    /* ihash chains (leaf) */
	/*
	 * dirty_lock: dirty_list and each inode's dirty_* fields. Taken
	 * under i_lock (ukfs_attrs_dirty), and held by ukfs_flush_attrs
	 * while it calls ukfs (so eviction cannot free an inode being
	 * written); nothing is taken under it but the meta lock, and the
	 * flushers that take the meta lock under it hold wb_mutex, so they
	 * never meet a commit waiting for dirty_lock.
	 */
	pthread_mutex_t dirty_lock;
	struct ukfs_inode_info *dirty_list;
	struct ukfs_inode_info *ihash[UKFS_ICACHE_BUCKETS];
	/* The commit timer thread: calls ukfs_meta_maybe_commit. */
	pthread_t commit_thread;
	pthread_mutex_t timer_lock;     /* stop (leaf) */
	pthread_cond_t timer_cond;
	bool stop;
	bool thread_started;
	unsigned int commit_ms;
	/*
	 * Async readahead (fs_ukfs_file.c): a speculative window is read by
	 * this thread while the reader goes on copying what it has. ra_lock
	 * (a leaf) protects the queue and the flags.
	 */
	pthread_mutex_t ra_lock;
	pthread_cond_t ra_cond;
	struct ukfs_ra_job *ra_head, *ra_tail;
	bool ra_stop, ra_started;
	pthread_t ra_thread;
};

static inline struct ukfs_inode_info *UKI(struct vfs_inode *i)
{
	return (struct ukfs_inode_info *)i;
}

static inline struct ukfs_sb_info *UKSB(struct vfs_super *sb)
{
	return sb->s_fs_info;
}

/*
 * Tests only: when set, called with the image's block device right after
 * it is opened; may stack a wrapper (crash, fault) over it and return the
 * device to use in *out. NULL in normal operation.
 */
extern int (*ukfs_bdev_hook)(struct uk_blockdev *lower,
			     struct uk_blockdev **out, void *arg);
extern void *ukfs_bdev_hook_arg;
/*
 * Tests only: the next unmount behaves as a power cut after the device
 * crashed: dirty pages are dropped and the open transaction abandoned
 * (ukfs_meta_close(m, false)), nothing is written or committed.
 */
extern bool ukfs_crash_unmount;

extern const struct vfs_fs_type ukfs_fs_type;

/* Opens the image in dir and makes a super block; ERR_PTR with errbuf. */
struct vfs_super *ukfs_fill_super(struct uk_vfs *vfs, const char *dir,
				  const struct uk_image_opts *o, char *errbuf,
				  size_t errlen);
/* sync_fs: write back everything, commit, flush. */
int ukfs_sync_fs(struct vfs_super *sb, bool wait);
/*
 * Records i's attributes in mask (taken from the in-core inode now) to be
 * written at the next commit. Takes i_lock, then dirty_lock.
 */
void ukfs_attrs_dirty(struct vfs_inode *i, unsigned int mask);
/*
 * Writes every lazily kept attribute into the running transaction (wb_mutex
 * held: fsync, sync, the timer, and the pre-commit hook). Returns the first
 * error; inodes that failed stay on the list.
 */
int ukfs_flush_attrs(struct ukfs_sb_info *s);
/* Commits if due (the timer and changing calls). */
void ukfs_maybe_commit(struct ukfs_sb_info *s);

/* fs_ukfs_file.c */
extern const struct pcache_mapping_ops ukfs_aops;
extern const struct vfs_file_ops ukfs_file_fops;
int ukfs_file_setsize(struct vfs_inode *inode, int64_t size);
long ukfs_vfs_fallocate(struct vfs_inode *inode, int mode, int64_t offset,
		    int64_t len);
int64_t ukfs_vfs_seek_data_hole(struct vfs_inode *inode, int64_t offset,
			    int whence);
/* Stops the async readahead thread after it emptied its queue. */
void ukfs_ra_stop(struct ukfs_sb_info *s);
/* Writes the in-core size to the ukfs row if the row is behind (wb_mutex). */
int ukfs_update_disk_size(struct ukfs_inode_info *ui, uint64_t size);

#endif /* UK_FS_UKFS_H */
