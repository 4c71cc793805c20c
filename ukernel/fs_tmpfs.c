/* SPDX-License-Identifier: MIT */
/*
 * ukernel/fs_tmpfs.c - tmpfs: a memory-only file system behind the VFS's
 * ops tables, with a size limit (ENOSPC when its pages run out) and an
 * inode limit (ENOSPC on create).
 *
 * As Linux's tmpfs, its directories are the dentry cache itself: every
 * positive dentry is pinned (vfs_d_pin) and listed in its parent, lookup
 * never finds anything the cache does not already have, and readdir walks
 * the parent's list in cookie order (stable d_off cookies). File data lives
 * in the page cache (pcache.h), in a mapping flagged "no backing store":
 * the pages are the only copy, never written back and never evicted, as
 * shmem's pages are without swap. Reads and writes go through the same
 * pcache_read/pcache_write as ukfs; a hole has no page and reads as zeros,
 * so holes cost nothing and SEEK_DATA/SEEK_HOLE visit only present pages.
 * tmpfs charges each page against its size= limit before the page cache
 * allocates it.
 *
 * Sections: pages, inodes and super ops, directory ops, file ops, mount.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <linux/falloc.h>

#include "pcache.h"
#include "vfs.h"

#define TMPFS_PAGE_SIZE PCACHE_PAGE_SIZE
#define TMPFS_PAGE_SHIFT PCACHE_PAGE_SHIFT
#define BOGO_DIRENT_SIZE 20 /* directory i_size per entry, as Linux's */

struct tmpfs_sb {
	uint64_t max_pages, max_inodes;
	atomic_ullong used_pages, used_inodes;
	/*
	 * The page cache of this tmpfs (no writeback thread: nothing is
	 * ever written back). Freed pages' frames stay in it for reuse.
	 */
	struct pcache *pc;
	mode_t root_mode;
	uid_t root_uid;
	gid_t root_gid;
};

struct tmpfs_inode {
	struct vfs_inode vfs;         /* first: the VFS sees this part */
	struct pcache_mapping *mapping; /* regular files; NULL otherwise */
};

static inline struct tmpfs_inode *TI(struct vfs_inode *i)
{
	return (struct tmpfs_inode *)i;
}

static inline struct tmpfs_sb *TSB(struct vfs_super *sb)
{
	return sb->s_fs_info;
}

/* ---- pages (caller holds i_rwsem) ------------------------------------- */

/* Charges one page to the super block; -ENOSPC past the size limit. */
static int charge_page(struct vfs_super *sb)
{
	struct tmpfs_sb *s = TSB(sb);

	if (atomic_fetch_add(&s->used_pages, 1) >= s->max_pages) {
		atomic_fetch_sub(&s->used_pages, 1);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Brings the charge and i_blocks in line with the pages the mapping holds
 * (was: the count before a change). Writes, truncates and punches hold
 * i_rwsem, so the difference is theirs alone.
 */
static void account_pages(struct tmpfs_inode *ti, uint64_t was)
{
	uint64_t now = pcache_mapping_nr_pages(ti->mapping);
	int64_t d = (int64_t)now - (int64_t)was;

	if (!d)
		return;
	atomic_fetch_add(&TSB(ti->vfs.i_sb)->used_pages, (uint64_t)d);
	pthread_mutex_lock(&ti->vfs.i_lock);
	ti->vfs.i_blocks += d * (int64_t)(TMPFS_PAGE_SIZE / 512);
	pthread_mutex_unlock(&ti->vfs.i_lock);
}

static size_t copy_zero(void *ctx, size_t off, void *kbuf, size_t n)
{
	memset(kbuf, 0, n);
	return n;
}

/* A copy callback of one page's write, placed at base in the request. */
struct page_copy {
	pcache_copy_fn copy;
	void *ctx;
	size_t base;
};

static size_t page_copy(void *ctx, size_t off, void *kbuf, size_t n)
{
	struct page_copy *pc = ctx;

	return pc->copy(pc->ctx, pc->base + off, kbuf, n);
}

/*
 * Writes [pos, pos + len) of the file through the page cache, one page at
 * a time so each new page is charged first: -ENOSPC (or a short count)
 * when the size limit is reached, -EFAULT (or short) on a bad buffer.
 * Pages that already exist are never charged twice.
 */
static long pages_write(struct tmpfs_inode *ti, uint64_t pos, size_t len,
			pcache_copy_fn copy, void *ctx)
{
	struct pcache_mapping *m = ti->mapping;
	size_t done = 0;
	long err = 0;

	while (done < len) {
		size_t n = TMPFS_PAGE_SIZE - (pos & (TMPFS_PAGE_SIZE - 1));
		uint64_t was = pcache_mapping_nr_pages(m);
		bool charged = false;
		struct page_copy pc = { copy, ctx, done };
		ssize_t r;

		if (n > len - done)
			n = len - done;
		if (!pcache_present(m, pos >> TMPFS_PAGE_SHIFT)) {
			err = charge_page(ti->vfs.i_sb);
			if (err)
				break;
			charged = true;
		}
		r = pcache_write(m, pos, n, (uint64_t)ti->vfs.i_size,
				 page_copy, &pc);
		if (charged) /* the charge becomes the page's, if it came */
			atomic_fetch_sub(&TSB(ti->vfs.i_sb)->used_pages, 1);
		account_pages(ti, was);
		if (r <= 0) {
			err = r ? r : -EFAULT;
			break;
		}
		done += (size_t)r;
		pos += (uint64_t)r;
		if ((size_t)r < n) {
			err = -EFAULT;
			break;
		}
	}
	return done ? (long)done : err;
}

/*
 * Removes the byte range [start, end) of data: whole pages are freed,
 * partial ones zeroed (truncate, punch hole).
 */
static void tmpfs_punch(struct tmpfs_inode *ti, uint64_t start, uint64_t end)
{
	uint64_t was;

	if (!ti->mapping || end <= start)
		return;
	was = pcache_mapping_nr_pages(ti->mapping);
	if (end == UINT64_MAX)
		pcache_truncate(ti->mapping, start);
	else
		pcache_punch_range(ti->mapping, start, end);
	account_pages(ti, was);
}

/* ---- inodes and super ops ---------------------------------------------- */

static struct vfs_inode *tmpfs_alloc_inode(struct vfs_super *sb)
{
	struct tmpfs_inode *ti = calloc(1, sizeof(*ti));

	return ti ? &ti->vfs : NULL;
}

static void tmpfs_destroy_inode(struct vfs_inode *inode)
{
	atomic_fetch_sub(&TSB(inode->i_sb)->used_inodes, 1);
	free(inode->i_link);
	free(TI(inode));
}

static void tmpfs_evict_inode(struct vfs_inode *inode)
{
	struct tmpfs_inode *ti = TI(inode);

	if (ti->mapping) {
		atomic_fetch_sub(&TSB(inode->i_sb)->used_pages,
				 pcache_mapping_nr_pages(ti->mapping));
		pcache_mapping_destroy(ti->mapping);
		ti->mapping = NULL;
	}
}

static int tmpfs_statfs(struct vfs_dentry *d, struct vfs_kstatfs *buf)
{
	struct vfs_super *sb = d->d_sb;
	struct tmpfs_sb *s = TSB(sb);
	uint64_t used = atomic_load(&s->used_pages);
	uint64_t inodes = atomic_load(&s->used_inodes);

	buf->f_type = (long)UK_TMPFS_MAGIC;
	buf->f_bsize = TMPFS_PAGE_SIZE;
	buf->f_frsize = TMPFS_PAGE_SIZE;
	buf->f_blocks = s->max_pages;
	buf->f_bfree = buf->f_bavail = used < s->max_pages ? s->max_pages - used
							   : 0;
	buf->f_files = s->max_inodes;
	buf->f_ffree = inodes < s->max_inodes ? s->max_inodes - inodes : 0;
	buf->f_namelen = UK_NAME_MAX;
	buf->f_fsid[0] = (uint32_t)sb->s_dev;
	buf->f_fsid[1] = 0;
	return 0;
}

static void tmpfs_put_super(struct vfs_super *sb)
{
	struct tmpfs_sb *s = sb->s_fs_info;

	pcache_destroy(s->pc);
	free(s);
}

static const struct vfs_super_ops tmpfs_super_ops = {
	.alloc_inode = tmpfs_alloc_inode,
	.destroy_inode = tmpfs_destroy_inode,
	.evict_inode = tmpfs_evict_inode,
	.statfs = tmpfs_statfs,
	.put_super = tmpfs_put_super,
};

static const struct vfs_inode_ops tmpfs_dir_iops;
static const struct vfs_inode_ops tmpfs_file_iops;
static const struct vfs_inode_ops tmpfs_symlink_iops;
static const struct vfs_inode_ops tmpfs_special_iops;
static const struct vfs_file_ops tmpfs_dir_fops;
static const struct vfs_file_ops tmpfs_file_fops;

/*
 * A new inode of the given mode, charged against the inode limit:
 * ERR_PTR(-ENOSPC) past it, ERR_PTR(-ENOMEM).
 */
static struct vfs_inode *tmpfs_get_inode(struct vfs_super *sb,
					 struct vfs_inode *dir, mode_t mode,
					 dev_t rdev, uid_t uid, gid_t gid)
{
	struct tmpfs_sb *s = TSB(sb);
	struct vfs_inode *inode;

	if (atomic_fetch_add(&s->used_inodes, 1) >= s->max_inodes) {
		atomic_fetch_sub(&s->used_inodes, 1);
		return ERR_PTR(-ENOSPC);
	}
	inode = vfs_new_inode(sb);
	if (!inode) {
		atomic_fetch_sub(&s->used_inodes, 1);
		return ERR_PTR(-ENOMEM);
	}
	vfs_inode_init_owner(inode, dir, mode, uid, gid);
	switch (mode & S_IFMT) {
	case S_IFDIR:
		inode->i_op = &tmpfs_dir_iops;
		inode->i_fop = &tmpfs_dir_fops;
		inode->i_nlink = 2;
		inode->i_size = 2 * BOGO_DIRENT_SIZE;
		break;
	case S_IFREG:
		inode->i_op = &tmpfs_file_iops;
		inode->i_fop = &tmpfs_file_fops;
		if (pcache_mapping_create(s->pc, NULL, inode,
					  PCACHE_MAPPING_NO_BACKING,
					  &TI(inode)->mapping)) {
			vfs_iput(inode); /* evict and destroy uncharge it */
			return ERR_PTR(-ENOMEM);
		}
		break;
	case S_IFLNK:
		inode->i_op = &tmpfs_symlink_iops;
		break;
	default:
		inode->i_op = &tmpfs_special_iops;
		inode->i_rdev = rdev;
		break;
	}
	return inode;
}

/* ---- directory ops (ns_lock write-held) -------------------------------- */

static int tmpfs_lookup(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	/* Every name that exists is pinned in the dcache: a miss is ENOENT. */
	return 0;
}

/* dir gained an entry: size and times. */
static void dir_add_entry(struct vfs_inode *dir, bool subdir)
{
	pthread_mutex_lock(&dir->i_lock);
	dir->i_size += BOGO_DIRENT_SIZE;
	if (subdir)
		dir->i_nlink++;
	vfs_inode_touch_mc(dir);
	pthread_mutex_unlock(&dir->i_lock);
}

static void dir_del_entry(struct vfs_inode *dir, bool subdir)
{
	pthread_mutex_lock(&dir->i_lock);
	dir->i_size -= BOGO_DIRENT_SIZE;
	if (subdir)
		dir->i_nlink--;
	vfs_inode_touch_mc(dir);
	pthread_mutex_unlock(&dir->i_lock);
}

static int tmpfs_mknod(struct vfs_inode *dir, struct vfs_dentry *dentry,
		       mode_t mode, dev_t rdev, uid_t uid, gid_t gid)
{
	struct vfs_inode *inode = tmpfs_get_inode(dir->i_sb, dir, mode, rdev,
						  uid, gid);

	if (IS_ERR(inode))
		return (int)PTR_ERR(inode);
	vfs_d_instantiate(dentry, inode);
	vfs_d_pin(dentry);
	dir_add_entry(dir, S_ISDIR(mode));
	return 0;
}

static int tmpfs_create(struct vfs_inode *dir, struct vfs_dentry *dentry,
			mode_t mode, uid_t uid, gid_t gid)
{
	return tmpfs_mknod(dir, dentry, (mode & 07777) | S_IFREG, 0, uid, gid);
}

static int tmpfs_mkdir(struct vfs_inode *dir, struct vfs_dentry *dentry,
		       mode_t mode, uid_t uid, gid_t gid)
{
	return tmpfs_mknod(dir, dentry, (mode & 07777) | S_IFDIR, 0, uid, gid);
}

static int tmpfs_symlink(struct vfs_inode *dir, struct vfs_dentry *dentry,
			 const char *target, uid_t uid, gid_t gid)
{
	struct vfs_inode *inode;
	size_t len = strlen(target);
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, target, len + 1);
	inode = tmpfs_get_inode(dir->i_sb, dir, S_IFLNK | 0777, 0, uid, gid);
	if (IS_ERR(inode)) {
		free(copy);
		return (int)PTR_ERR(inode);
	}
	inode->i_link = copy;
	inode->i_size = (int64_t)len;
	vfs_d_instantiate(dentry, inode);
	vfs_d_pin(dentry);
	dir_add_entry(dir, false);
	return 0;
}

static int tmpfs_tmpfile(struct vfs_inode *dir, struct vfs_dentry *dentry,
			 mode_t mode, uid_t uid, gid_t gid)
{
	struct vfs_inode *inode = tmpfs_get_inode(
		dir->i_sb, dir, (mode & 07777) | S_IFREG, 0, uid, gid);

	if (IS_ERR(inode))
		return (int)PTR_ERR(inode);
	inode->i_nlink = 0;
	vfs_d_instantiate(dentry, inode);
	return 0;
}

static int tmpfs_link(struct vfs_dentry *old_dentry, struct vfs_inode *dir,
		      struct vfs_dentry *dentry)
{
	struct vfs_inode *inode = old_dentry->d_inode;

	pthread_mutex_lock(&inode->i_lock);
	inode->i_nlink++;
	inode->i_state &= ~VFS_I_LINKABLE;
	vfs_inode_touch_ctime(inode);
	pthread_mutex_unlock(&inode->i_lock);
	vfs_d_instantiate(dentry, vfs_igrab(inode));
	vfs_d_pin(dentry);
	dir_add_entry(dir, false);
	return 0;
}

static int tmpfs_unlink(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	struct vfs_inode *inode = dentry->d_inode;

	pthread_mutex_lock(&inode->i_lock);
	inode->i_nlink--;
	vfs_inode_touch_ctime(inode);
	pthread_mutex_unlock(&inode->i_lock);
	dir_del_entry(dir, false);
	return 0;
}

static int tmpfs_rmdir(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	struct vfs_inode *inode = dentry->d_inode;

	if (!uk_list_empty(&dentry->d_subdirs))
		return -ENOTEMPTY;

	pthread_mutex_lock(&inode->i_lock);
	inode->i_nlink = 0;
	vfs_inode_touch_ctime(inode);
	pthread_mutex_unlock(&inode->i_lock);
	dir_del_entry(dir, true);
	return 0;
}

static void nlink_add(struct vfs_inode *i, int delta)
{
	pthread_mutex_lock(&i->i_lock);
	i->i_nlink = (unsigned int)((int)i->i_nlink + delta);
	pthread_mutex_unlock(&i->i_lock);
}

static void touch_mc(struct vfs_inode *i, int size_delta)
{
	pthread_mutex_lock(&i->i_lock);
	i->i_size += size_delta;
	vfs_inode_touch_mc(i);
	pthread_mutex_unlock(&i->i_lock);
}

static void touch_c(struct vfs_inode *i)
{
	pthread_mutex_lock(&i->i_lock);
	vfs_inode_touch_ctime(i);
	pthread_mutex_unlock(&i->i_lock);
}

/*
 * Rename: the dcache moves the names (vfs_d_move/exchange, by the VFS);
 * here only nlinks, directory sizes and times change, as shmem_rename2.
 */
static int tmpfs_rename(struct vfs_inode *old_dir,
			struct vfs_dentry *old_dentry,
			struct vfs_inode *new_dir,
			struct vfs_dentry *new_dentry, unsigned int flags)
{
	struct vfs_inode *inode = old_dentry->d_inode;
	struct vfs_inode *target = new_dentry->d_inode;
	bool is_dir = S_ISDIR(inode->i_mode);

	if (target && !(flags & RENAME_EXCHANGE) && S_ISDIR(target->i_mode) &&
	    !uk_list_empty(&new_dentry->d_subdirs))
		return -ENOTEMPTY;
	if (flags & RENAME_EXCHANGE) {
		bool t_dir = S_ISDIR(target->i_mode);

		if (old_dir != new_dir && is_dir != t_dir) {
			nlink_add(old_dir, is_dir ? -1 : 1);
			nlink_add(new_dir, is_dir ? 1 : -1);
		}
		touch_mc(old_dir, 0);
		if (new_dir != old_dir)
			touch_mc(new_dir, 0);
		touch_c(inode);
		touch_c(target);
		return 0;
	}
	if (target) {
		/* The replaced entry loses its name (and, a dir, its life). */
		pthread_mutex_lock(&target->i_lock);
		if (S_ISDIR(target->i_mode))
			target->i_nlink = 0;
		else
			target->i_nlink--;
		vfs_inode_touch_ctime(target);
		pthread_mutex_unlock(&target->i_lock);
		if (is_dir)
			nlink_add(new_dir, -1);
		touch_mc(old_dir, -BOGO_DIRENT_SIZE);
	} else {
		touch_mc(old_dir, -BOGO_DIRENT_SIZE);
		touch_mc(new_dir, BOGO_DIRENT_SIZE);
	}
	if (target && new_dir != old_dir)
		touch_mc(new_dir, 0);
	if (is_dir) {
		nlink_add(old_dir, -1);
		nlink_add(new_dir, 1);
	}
	touch_c(inode);
	return 0;
}

static const char *tmpfs_get_link(struct vfs_dentry *dentry)
{
	return dentry->d_inode->i_link;
}

static long tmpfs_readlink(struct vfs_dentry *dentry, char *buf, size_t size)
{
	const char *link = dentry->d_inode->i_link;
	size_t len = strlen(link);

	if (len > size)
		len = size;
	memcpy(buf, link, len);
	return (long)len;
}

/*
 * setattr: the size under i_rwsem (write, taken here): shrinking frees
 * and zeroes the cut pages; then the other attributes.
 */
static int tmpfs_setattr(struct vfs_dentry *dentry, struct vfs_iattr *attr)
{
	struct vfs_inode *inode = dentry->d_inode;
	struct tmpfs_inode *ti = TI(inode);

	if (attr->ia_valid & VFS_ATTR_SIZE) {
		pthread_rwlock_wrlock(&inode->i_rwsem);
		if (attr->ia_size < inode->i_size)
			tmpfs_punch(ti, (uint64_t)attr->ia_size, UINT64_MAX);
		pthread_mutex_lock(&inode->i_lock);
		inode->i_size = attr->ia_size;
		vfs_setattr_copy(inode, attr);
		pthread_mutex_unlock(&inode->i_lock);
		pthread_rwlock_unlock(&inode->i_rwsem);
		return 0;
	}
	pthread_mutex_lock(&inode->i_lock);
	vfs_setattr_copy(inode, attr);
	pthread_mutex_unlock(&inode->i_lock);
	return 0;
}

/*
 * fallocate (i_rwsem write-held by the caller): mode 0 or KEEP_SIZE
 * allocates every page of the range and extends i_size unless KEEP_SIZE;
 * on ENOSPC the pages it added past the end of the file are given back
 * (shmem does the same) and the error returned. PUNCH_HOLE|KEEP_SIZE frees
 * whole pages and zeroes partial ones, within i_size.
 */
static long tmpfs_fallocate(struct vfs_inode *inode, int mode, int64_t offset,
			    int64_t len)
{
	struct tmpfs_inode *ti = TI(inode);
	uint64_t end = (uint64_t)offset + (uint64_t)len;

	if (mode & FALLOC_FL_PUNCH_HOLE) {
		/*
		 * The whole range, past EOF too: pages that KEEP_SIZE
		 * allocated beyond the end go as well, as shmem's
		 * shmem_truncate_range does (vfs-extras, checked against
		 * Linux's tmpfs by test_vfs_falloc).
		 */
		tmpfs_punch(ti, (uint64_t)offset, end);
		pthread_mutex_lock(&inode->i_lock);
		vfs_inode_touch_mc(inode);
		pthread_mutex_unlock(&inode->i_lock);
		return 0;
	}
	for (uint64_t idx = (uint64_t)offset >> TMPFS_PAGE_SHIFT;
	     idx <= (end - 1) >> TMPFS_PAGE_SHIFT; idx++) {
		long r;

		if (pcache_present(ti->mapping, idx))
			continue;
		r = pages_write(ti, idx << TMPFS_PAGE_SHIFT, TMPFS_PAGE_SIZE,
				copy_zero, NULL);
		if (r < 0) {
			/* Give back what lies past the file's end. */
			uint64_t keep = ((uint64_t)inode->i_size +
					 TMPFS_PAGE_SIZE - 1) >>
					TMPFS_PAGE_SHIFT;
			uint64_t first = (uint64_t)offset >> TMPFS_PAGE_SHIFT;

			if (keep < first)
				keep = first;
			if (idx > keep)
				tmpfs_punch(ti, keep << TMPFS_PAGE_SHIFT,
					    idx << TMPFS_PAGE_SHIFT);
			return r;
		}
	}
	pthread_mutex_lock(&inode->i_lock);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && (int64_t)end > inode->i_size)
		inode->i_size = (int64_t)end;
	inode->i_ctime = vfs_now();
	inode->i_version++;
	pthread_mutex_unlock(&inode->i_lock);
	return 0;
}

/*
 * SEEK_DATA/SEEK_HOLE over present pages (i_rwsem read-held). Only present
 * pages are visited: SEEK_DATA asks the page cache for the next one (a
 * walk of the mapping's table, never of the file's size: a 2^62-byte
 * sparse file answers at once), SEEK_HOLE steps over consecutive present
 * pages.
 */
static int64_t tmpfs_seek_data_hole(struct vfs_inode *inode, int64_t offset,
				    int whence)
{
	struct tmpfs_inode *ti = TI(inode);
	uint64_t size = (uint64_t)inode->i_size;
	uint64_t idx = (uint64_t)offset >> TMPFS_PAGE_SHIFT, at;

	if (offset >= inode->i_size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		idx = pcache_next_present(ti->mapping, idx);
		if (idx == UINT64_MAX || idx >= (size + TMPFS_PAGE_SIZE - 1) >>
							TMPFS_PAGE_SHIFT)
			return -ENXIO;
	} else {
		while (pcache_present(ti->mapping, idx))
			idx++;
	}
	at = idx << TMPFS_PAGE_SHIFT;
	if (at < (uint64_t)offset)
		at = (uint64_t)offset;
	return (int64_t)(at < size ? at : size);
}

static const struct vfs_inode_ops tmpfs_dir_iops = {
	.lookup = tmpfs_lookup,
	.create = tmpfs_create,
	.mkdir = tmpfs_mkdir,
	.mknod = tmpfs_mknod,
	.symlink = tmpfs_symlink,
	.link = tmpfs_link,
	.unlink = tmpfs_unlink,
	.rmdir = tmpfs_rmdir,
	.rename = tmpfs_rename,
	.setattr = tmpfs_setattr,
	.tmpfile = tmpfs_tmpfile,
};

static const struct vfs_inode_ops tmpfs_file_iops = {
	.setattr = tmpfs_setattr,
	.fallocate = tmpfs_fallocate,
	.seek_data_hole = tmpfs_seek_data_hole,
};

static const struct vfs_inode_ops tmpfs_symlink_iops = {
	.get_link = tmpfs_get_link,
	.readlink = tmpfs_readlink,
	.setattr = tmpfs_setattr,
};

static const struct vfs_inode_ops tmpfs_special_iops = {
	.setattr = tmpfs_setattr,
};

/* ---- file ops ---------------------------------------------------------- */

/* read_iter with i_rwsem read-held: the page cache's read; holes zeros. */
static long tmpfs_read_iter(struct vfs_file *f, struct vfs_iter *to,
			    int64_t *pos)
{
	struct tmpfs_inode *ti = TI(f->f_inode);
	struct pcache_ra_state ra; /* unused: nothing to read ahead */
	struct vfs_iter_at at = vfs_iter_at(to);
	int64_t size = f->f_inode->i_size;
	ssize_t r;

	if (*pos >= size || !to->count)
		return 0;
	pcache_ra_init(&ra);
	r = pcache_read(ti->mapping, &ra, (uint64_t)*pos, to->count,
			(uint64_t)size, vfs_iter_at_copy_to, &at);
	if (r > 0)
		*pos += r;
	return r;
}

/*
 * write_iter with i_rwsem write-held: through the page cache, each new page
 * charged first (ENOSPC when the tmpfs is full: a short write if something
 * was written); extends i_size.
 */
static long tmpfs_write_iter(struct vfs_file *f, struct vfs_iter *from,
			     int64_t *pos)
{
	struct vfs_inode *inode = f->f_inode;
	struct vfs_iter_at at = vfs_iter_at(from);
	long done;

	if (!from->count)
		return 0;
	done = pages_write(TI(inode), (uint64_t)*pos, from->count,
			   vfs_iter_at_copy_from, &at);
	if (done > 0) {
		*pos += done;
		pthread_mutex_lock(&inode->i_lock);
		if (*pos > inode->i_size)
			inode->i_size = *pos;
		vfs_inode_touch_mc(inode);
		pthread_mutex_unlock(&inode->i_lock);
	}
	return done;
}

static int tmpfs_fsync(struct vfs_file *f, int64_t start, int64_t end,
		       bool datasync)
{
	return 0; /* memory only: nothing to write back */
}

static unsigned int dt_type(mode_t mode)
{
	return (mode >> 12) & 15; /* DT_* = S_IFMT >> 12, as Linux's */
}

/*
 * readdir over the dcache (ns_lock read-held by the VFS): ".", "..", then
 * the listed children in cookie order. Positions: 0 ".", 1 "..", and each
 * child's cookie (>= 2); an entry's d_off is its cookie + 1, so a resumed
 * listing starts at the first child whose cookie is at least that, and
 * entries added or removed meanwhile never shift the others.
 */
static int tmpfs_iterate(struct vfs_file *f, struct vfs_dir_context *ctx)
{
	struct vfs_dentry *dir = f->f_path.dentry;
	struct uk_list *pos;

	if (ctx->pos == 0) {
		if (!ctx->actor(ctx, ".", 1, 1, dir->d_inode->i_ino, 4))
			return 0;
		ctx->pos = 1;
	}
	if (ctx->pos == 1) {
		struct vfs_dentry *p = dir->d_parent;

		if (!ctx->actor(ctx, "..", 2, 2, p->d_inode->i_ino, 4))
			return 0;
		ctx->pos = 2;
	}
	for (pos = dir->d_subdirs.next; pos != &dir->d_subdirs;
	     pos = pos->next) {
		struct vfs_dentry *d = uk_list_entry(pos, struct vfs_dentry,
						     d_child);

		if ((int64_t)d->d_cookie < ctx->pos || !d->d_inode)
			continue;
		if (!ctx->actor(ctx, d->d_name, (int)d->d_namelen,
				(int64_t)d->d_cookie + 1, d->d_inode->i_ino,
				dt_type(d->d_inode->i_mode)))
			return 0;
		ctx->pos = (int64_t)d->d_cookie + 1;
	}
	return 0;
}

static const struct vfs_file_ops tmpfs_file_fops = {
	.read_iter = tmpfs_read_iter,
	.write_iter = tmpfs_write_iter,
	.fsync = tmpfs_fsync,
};

static const struct vfs_file_ops tmpfs_dir_fops = {
	.iterate = tmpfs_iterate,
	.fsync = tmpfs_fsync,
};

/* ---- mount ------------------------------------------------------------- */

/* Parses "123", "4k", "1M", "2g". */
static int parse_size(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	default: break;
	}
	if (end == v || *end)
		return -EINVAL;
	*out = n;
	return 0;
}

/* size=, nr_inodes=, mode=, uid=, gid= (comma separated). */
static int tmpfs_parse_opts(struct tmpfs_sb *s, const char *opts)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(opts) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;

		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (!strcmp(tok, "size")) {
			if (parse_size(eq, &v))
				return -EINVAL;
			s->max_pages = (v + TMPFS_PAGE_SIZE - 1) /
				       TMPFS_PAGE_SIZE;
		} else if (!strcmp(tok, "nr_inodes")) {
			if (parse_size(eq, &v))
				return -EINVAL;
			s->max_inodes = v;
		} else if (!strcmp(tok, "mode")) {
			s->root_mode = (mode_t)strtoul(eq, NULL, 8) & 07777;
		} else if (!strcmp(tok, "uid")) {
			s->root_uid = (uid_t)strtoul(eq, NULL, 10);
		} else if (!strcmp(tok, "gid")) {
			s->root_gid = (gid_t)strtoul(eq, NULL, 10);
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Makes a tmpfs super block: defaults as Linux (half of... here 1 GiB and
 * 1M inodes; root mode 1777), overridden by opts. The root inode counts
 * against nr_inodes.
 */
static struct vfs_super *tmpfs_mount(struct uk_vfs *vfs, const char *opts)
{
	struct vfs_super *sb = calloc(1, sizeof(*sb));
	struct tmpfs_sb *s = calloc(1, sizeof(*s));
	struct vfs_inode *root;
	int ret;

	if (!sb || !s) {
		ret = -ENOMEM;
		goto err_free;
	}
	s->max_pages = (1ULL << 30) / TMPFS_PAGE_SIZE;
	s->max_inodes = 1ULL << 20;
	s->root_mode = 01777;
	ret = tmpfs_parse_opts(s, opts);
	if (ret)
		goto err_free;
	{
		struct pcache_opts po;

		pcache_opts_default(&po);
		/* pages of a memory-only fs are unevictable: the limit that
		 * matters is size=, which tmpfs charges itself */
		po.size_limit = (s->max_pages + 16) * TMPFS_PAGE_SIZE;
		if (po.size_limit / TMPFS_PAGE_SIZE != s->max_pages + 16)
			po.size_limit = UINT64_MAX & ~(uint64_t)4095;
		po.readahead_max = 0;
		po.no_thread = true;
		ret = pcache_create(&po, &s->pc);
		if (ret)
			goto err_free;
	}
	sb->s_op = &tmpfs_super_ops;
	sb->s_type = &tmpfs_fs_type;
	sb->s_vfs = vfs;
	sb->s_fs_info = s;
	sb->s_magic = UK_TMPFS_MAGIC;
	sb->s_blocksize = TMPFS_PAGE_SIZE;
	sb->s_maxbytes = INT64_MAX;
	sb->s_time_gran = 1;
	sb->s_dev = makedev(0, atomic_fetch_add(&vfs->next_minor, 1));
	atomic_init(&sb->s_next_ino, 1);
	root = tmpfs_get_inode(sb, NULL, S_IFDIR | s->root_mode, 0,
			       s->root_uid, s->root_gid);
	if (IS_ERR(root)) {
		ret = (int)PTR_ERR(root);
		goto err_free;
	}
	sb->s_root = vfs_d_alloc_root(sb, root);
	if (!sb->s_root) {
		vfs_iput(root);
		ret = -ENOMEM;
		goto err_free;
	}
	return sb;

err_free:
	if (s && s->pc)
		pcache_destroy(s->pc);
	free(s);
	free(sb);
	return ERR_PTR(ret);
}

static void tmpfs_kill_sb(struct vfs_super *sb)
{
	vfs_dput(sb->s_root);
	sb->s_op->put_super(sb);
	free(sb);
}

const struct vfs_fs_type tmpfs_fs_type = {
	.name = "tmpfs",
	.mount = tmpfs_mount,
	.kill_sb = tmpfs_kill_sb,
};
