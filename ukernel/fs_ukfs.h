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

struct ukfs_inode_info {
	struct vfs_inode vfs;          /* first: the VFS casts */
	struct pcache_mapping *mapping; /* regular files; NULL otherwise */
	struct ukfs_inode_info *hnext; /* icache chain (icache_lock) */
	char *link;                    /* symlink target, NUL-terminated */
	uint64_t disk_size;            /* size in the ukfs row (wb_mutex) */
	uint64_t gen;                  /* the row's generation (fixed) */
	bool no_evict;                 /* lost an icache race: just free */
};

#define UKFS_ICACHE_BUCKETS 4096u

struct ukfs_sb_info {
	struct ukfs_meta *meta;
	struct uk_blockdev *bdev;
	struct pcache *pc;
	bool rdonly;
	pthread_mutex_t wb_mutex;       /* see the top of this file */
	pthread_mutex_t icache_lock;    /* ihash chains (leaf) */
	struct ukfs_inode_info *ihash[UKFS_ICACHE_BUCKETS];
	/* The commit timer thread: calls ukfs_meta_maybe_commit. */
	pthread_t commit_thread;
	pthread_mutex_t timer_lock;     /* stop (leaf) */
	pthread_cond_t timer_cond;
	bool stop;
	bool thread_started;
	unsigned int commit_ms;
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
/* Writes the in-core size to the ukfs row if the row is behind (wb_mutex). */
int ukfs_update_disk_size(struct ukfs_inode_info *ui, uint64_t size);

#endif /* UK_FS_UKFS_H */
