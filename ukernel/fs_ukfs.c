// SPDX-License-Identifier: MIT
/*
 * ukernel/fs_ukfs.c - ukfs as a VFS file system type: the super block (open
 * and clean close of an image, statfs, sync_fs, the commit timer and the
 * data=ordered pre-commit hook), an inode cache keyed by ino so one ukfs
 * inode is one VFS inode, and the inode and directory operations mapped
 * onto ukfs_meta (docs/ukfs.md, "What the VFS and page-cache wiring needs").
 *
 * Sections: helpers, inode cache, super ops, directory ops, other inode
 * ops, readdir, mount.
 */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fs_ukfs.h"

int (*ukfs_bdev_hook)(struct uk_blockdev *lower, struct uk_blockdev **out,
		      void *arg);
void *ukfs_bdev_hook_arg;
bool ukfs_crash_unmount;

static const struct vfs_inode_ops ukfs_dir_iops;
static const struct vfs_inode_ops ukfs_file_iops;
static const struct vfs_inode_ops ukfs_symlink_iops;
static const struct vfs_inode_ops ukfs_special_iops;
static const struct vfs_file_ops ukfs_dir_fops;

/* ---- helpers ----------------------------------------------------------- */

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
	struct timespec t = { .tv_sec = ns / 1000000000ll,
			      .tv_nsec = ns % 1000000000ll };

	if (t.tv_nsec < 0) {
		t.tv_nsec += 1000000000ll;
		t.tv_sec--;
	}
	return t;
}

static struct ukfs_meta *META(struct vfs_inode *i)
{
	return UKSB(i->i_sb)->meta;
}

/* Copies the row's attributes into the in-core inode (caller: i_lock). */
static void fill_from_row(struct vfs_inode *i, const struct ukfs_inode *r)
{
	i->i_mode = r->mode;
	i->i_nlink = r->nlink;
	i->i_uid = r->uid;
	i->i_gid = r->gid;
	i->i_rdev = (dev_t)r->rdev;
	i->i_blocks = r->blocks * (UKFS_BLOCK_SIZE / 512);
	i->i_atime = ns_ts(r->atime_ns);
	i->i_mtime = ns_ts(r->mtime_ns);
	i->i_ctime = ns_ts(r->ctime_ns);
	i->i_btime = ns_ts(r->btime_ns);
	if (!S_ISREG(r->mode))
		i->i_size = (int64_t)r->size;
}

/*
 * Re-reads nlink, blocks (and a directory's size and times) from the row
 * after a ukfs call changed them. Errors are ignored: the row exists
 * while the inode is referenced.
 */
static void refresh_inode(struct vfs_inode *i)
{
	struct ukfs_inode r;

	if (ukfs_inode_get(META(i), i->i_ino, &r))
		return;
	pthread_mutex_lock(&i->i_lock);
	i->i_nlink = r.nlink;
	/* A regular file keeps its delayed allocation's share (fs_ukfs.h). */
	if (S_ISREG(i->i_mode))
		r.blocks += UKI(i)->rsv_blocks;
	i->i_blocks = r.blocks * (UKFS_BLOCK_SIZE / 512);
	if (S_ISDIR(i->i_mode))
		i->i_size = (int64_t)r.size;
	i->i_version++;
	pthread_mutex_unlock(&i->i_lock);
}

/* The in-core attributes as a row (caller: i_lock). */
static void attrs_to_row(struct vfs_inode *i, struct ukfs_inode *r)
{
	r->ino = i->i_ino;
	r->mode = i->i_mode;
	r->uid = i->i_uid;
	r->gid = i->i_gid;
	r->atime_ns = ts_ns(i->i_atime);
	r->mtime_ns = ts_ns(i->i_mtime);
	r->ctime_ns = ts_ns(i->i_ctime);
	r->btime_ns = ts_ns(i->i_btime);
}

/*
 * Writes mode, owner and times of the in-core inode to its row now; lazily
 * kept values of the same fields are older and are forgotten.
 */
static int write_attrs(struct vfs_inode *i, unsigned int mask)
{
	struct ukfs_sb_info *s = UKSB(i->i_sb);
	struct ukfs_inode r = { 0 };

	pthread_mutex_lock(&i->i_lock);
	attrs_to_row(i, &r);
	pthread_mutex_lock(&s->dirty_lock);
	UKI(i)->dirty_mask &= ~mask;
	pthread_mutex_unlock(&s->dirty_lock);
	pthread_mutex_unlock(&i->i_lock);
	return ukfs_inode_update(s->meta, &r, mask);
}

/*
 * Why lazily: profiling small-file creates (docs/ukfs.md "Performance")
 * found a third of each create in two UPDATEs of inode rows: the
 * directory's mtime/ctime, and the file's mtime/ctime at its first
 * write(2), each a savepoint, a read and a write of the row. As ext4 logs
 * a dirty inode into the running transaction once, not once per change,
 * these fields are kept in the in-core inode and written when the
 * transaction commits (the pre-commit hook), at fsync/sync, or when the
 * inode is evicted. A crash loses them only together with the
 * transaction they belong to.
 */
void ukfs_attrs_dirty(struct vfs_inode *i, unsigned int mask)
{
	struct ukfs_sb_info *s = UKSB(i->i_sb);
	struct ukfs_inode_info *ui = UKI(i);

	if (s->rdonly)
		return;
	pthread_mutex_lock(&i->i_lock);
	pthread_mutex_lock(&s->dirty_lock);
	attrs_to_row(i, &ui->dirty_attr);
	ui->dirty_mask |= mask;
	if (!ui->on_dirty) {
		ui->on_dirty = true;
		ui->dirty_next = s->dirty_list;
		if (s->dirty_list)
			s->dirty_list->dirty_pprev = &ui->dirty_next;
		ui->dirty_pprev = &s->dirty_list;
		s->dirty_list = ui;
	}
	pthread_mutex_unlock(&s->dirty_lock);
	pthread_mutex_unlock(&i->i_lock);
}

int ukfs_flush_attrs(struct ukfs_sb_info *s)
{
	struct ukfs_inode_info **pp, *ui;
	int ret = 0;

	pthread_mutex_lock(&s->dirty_lock);
	for (pp = &s->dirty_list; (ui = *pp);) {
		int r = 0;

		if (ui->dirty_mask)
			r = ukfs_inode_update(s->meta, &ui->dirty_attr,
					      ui->dirty_mask);
		if (r) {
			if (!ret)
				ret = r;
			pp = &ui->dirty_next;
			continue;
		}
		ui->dirty_mask = 0;
		ui->on_dirty = false;
		*pp = ui->dirty_next;
		if (ui->dirty_next)
			ui->dirty_next->dirty_pprev = pp;
	}
	pthread_mutex_unlock(&s->dirty_lock);
	return ret;
}

/*
 * Takes an inode off the lazy list (eviction) and returns the mask it had;
 * *r gets the values.
 */
static unsigned int attrs_take(struct ukfs_inode_info *ui,
			       struct ukfs_inode *r)
{
	struct ukfs_sb_info *s = UKSB(ui->vfs.i_sb);
	unsigned int mask = 0;

	pthread_mutex_lock(&s->dirty_lock);
	if (ui->on_dirty) {
		*ui->dirty_pprev = ui->dirty_next;
		if (ui->dirty_next)
			ui->dirty_next->dirty_pprev = ui->dirty_pprev;
		ui->on_dirty = false;
		mask = ui->dirty_mask;
		*r = ui->dirty_attr;
		ui->dirty_mask = 0;
	}
	pthread_mutex_unlock(&s->dirty_lock);
	return mask;
}

#define ATTR_MASK_ALL                                                       \
	(UKFS_SET_MODE | UKFS_SET_UID | UKFS_SET_GID | UKFS_SET_ATIME |     \
	 UKFS_SET_MTIME | UKFS_SET_CTIME)

/*
 * A directory gained or lost an entry: mtime and ctime, kept lazily. Its
 * nlink is re-read from the row only when a subdirectory came or went.
 */
static void dir_touch(struct vfs_inode *dir, bool nlink_changed)
{
	pthread_mutex_lock(&dir->i_lock);
	vfs_inode_touch_mc(dir);
	dir->i_version++;
	pthread_mutex_unlock(&dir->i_lock);
	ukfs_attrs_dirty(dir, UKFS_SET_MTIME | UKFS_SET_CTIME);
	if (nlink_changed)
		refresh_inode(dir);
}

static void inode_touch_c(struct vfs_inode *i)
{
	pthread_mutex_lock(&i->i_lock);
	vfs_inode_touch_ctime(i);
	pthread_mutex_unlock(&i->i_lock);
	ukfs_attrs_dirty(i, UKFS_SET_CTIME);
}

/* ---- inode cache ------------------------------------------------------- */

static struct ukfs_inode_info **ihash_slot(struct ukfs_sb_info *s,
					   uint64_t ino)
{
	return &s->ihash[(ino * 0x9e3779b97f4a7c15ull >> 40) &
			 (UKFS_ICACHE_BUCKETS - 1)];
}

/* Finds ino with a new reference; waits out an inode being evicted. */
static struct vfs_inode *icache_find(struct ukfs_sb_info *s, uint64_t ino)
{
	for (;;) {
		struct ukfs_inode_info *ui;
		bool dying = false;

		pthread_mutex_lock(&s->icache_lock);
		for (ui = *ihash_slot(s, ino); ui; ui = ui->hnext) {
			long c;

			if (ui->vfs.i_ino != ino)
				continue;
			c = atomic_load(&ui->vfs.i_count);
			while (c > 0 && !atomic_compare_exchange_weak(
						&ui->vfs.i_count, &c, c + 1))
				;
			if (c > 0) {
				pthread_mutex_unlock(&s->icache_lock);
				return &ui->vfs;
			}
			dying = true;
			break;
		}
		pthread_mutex_unlock(&s->icache_lock);
		if (!dying)
			return NULL;
		sched_yield();
	}
}

/*
 * Makes the in-core inode for row r (reference 1) and puts it in the
 * cache; if another thread got there first, returns that one instead.
 * ERR_PTR(-ENOMEM).
 */
static struct vfs_inode *icache_insert(struct vfs_super *sb,
				       const struct ukfs_inode *r)
{
	struct ukfs_sb_info *s = UKSB(sb);
	struct vfs_inode *i, *old;
	struct ukfs_inode_info *ui;
	int ret;

	i = vfs_new_inode(sb);
	if (!i)
		return ERR_PTR(-ENOMEM);
	ui = UKI(i);
	i->i_ino = r->ino;
	fill_from_row(i, r);
	i->i_size = (int64_t)r->size;
	ui->disk_size = r->size;
	ui->gen = r->gen; /* FUSE's generation: no row read per lookup */
	ukfs_rsv_reset(ui, r->blocks);
	switch (r->mode & S_IFMT) {
	case S_IFDIR:
		i->i_op = &ukfs_dir_iops;
		i->i_fop = &ukfs_dir_fops;
		break;
	case S_IFREG:
		i->i_op = &ukfs_file_iops;
		i->i_fop = &ukfs_file_fops;
		ret = pcache_mapping_create(s->pc, &ukfs_aops, ui, 0,
					    &ui->mapping);
		if (ret)
			goto err_put;
		break;
	case S_IFLNK: {
		char buf[4096];
		int n = ukfs_readlink(s->meta, r->ino, buf, sizeof(buf) - 1);

		ret = n;
		if (n < 0)
			goto err_put;
		ui->link = strndup(buf, (size_t)n);
		ret = -ENOMEM;
		if (!ui->link)
			goto err_put;
		i->i_op = &ukfs_symlink_iops;
		break;
	}
	default:
		i->i_op = &ukfs_special_iops;
		break;
	}
	pthread_mutex_lock(&s->icache_lock);
	for (struct ukfs_inode_info *p = *ihash_slot(s, r->ino); p;
	     p = p->hnext) {
		if (p->vfs.i_ino == r->ino) {
			pthread_mutex_unlock(&s->icache_lock);
			ui->no_evict = true;
			vfs_iput(i);
			old = icache_find(s, r->ino);
			return old ? old : ERR_PTR(-ESTALE);
		}
	}
	ui->hnext = *ihash_slot(s, r->ino);
	*ihash_slot(s, r->ino) = ui;
	pthread_mutex_unlock(&s->icache_lock);
	return i;

err_put:
	ui->no_evict = true;
	vfs_iput(i);
	return ERR_PTR(ret);
}

/* iget: the one in-core inode of ino (a new reference), or ERR_PTR. */
static struct vfs_inode *ukfs_iget(struct vfs_super *sb, uint64_t ino)
{
	struct vfs_inode *i = icache_find(UKSB(sb), ino);
	struct ukfs_inode r;
	int ret;

	if (i)
		return i;
	ret = ukfs_inode_get(UKSB(sb)->meta, ino, &r);
	if (ret)
		return ERR_PTR(ret);
	return icache_insert(sb, &r);
}

/* ---- super ops --------------------------------------------------------- */

static struct vfs_inode *ukfs_alloc_inode(struct vfs_super *sb)
{
	struct ukfs_inode_info *ui = calloc(1, sizeof(*ui));

	return ui ? &ui->vfs : NULL;
}

/* Takes the inode out of the cache and frees it (its count is 0). */
static void ukfs_destroy_inode(struct vfs_inode *inode)
{
	struct ukfs_sb_info *s = UKSB(inode->i_sb);
	struct ukfs_inode_info *ui = UKI(inode), **pp;

	if (!ui->no_evict) {
		pthread_mutex_lock(&s->icache_lock);
		for (pp = ihash_slot(s, inode->i_ino); *pp;
		     pp = &(*pp)->hnext) {
			if (*pp == ui) {
				*pp = ui->hnext;
				break;
			}
		}
		pthread_mutex_unlock(&s->icache_lock);
	}
	free(ui->link);
	free(ui);
}

/*
 * Last reference: a linked file's dirty pages are written back; an
 * unlinked one's are dropped and the inode freed in ukfs (its orphan entry
 * covered a crash until here).
 */
static void ukfs_evict_inode(struct vfs_inode *inode)
{
	struct ukfs_inode_info *ui = UKI(inode);
	struct ukfs_sb_info *s = UKSB(inode->i_sb);
	bool dead = inode->i_nlink == 0 && !ui->no_evict && !s->rdonly &&
		    !ukfs_crash_unmount;

	if (ui->mapping) {
		if (dead || ukfs_crash_unmount)
			pcache_truncate(ui->mapping, 0);
		pcache_mapping_destroy(ui->mapping);
		ui->mapping = NULL;
		/*
		 * A size whose last pages never reached writeback (punched
		 * out after the write that extended the file) is written
		 * here.
		 */
		if (!dead && !ukfs_crash_unmount && !s->rdonly &&
		    !ui->no_evict) {
			pthread_mutex_lock(&s->wb_mutex);
			ukfs_update_disk_size(ui, (uint64_t)inode->i_size);
			pthread_mutex_unlock(&s->wb_mutex);
		}
	}
	{
		struct ukfs_inode r;
		unsigned int mask = attrs_take(ui, &r);

		if (mask && !dead && !ukfs_crash_unmount && !s->rdonly &&
		    !ui->no_evict)
			ukfs_inode_update(s->meta, &r, mask);
	}
	if (dead) /* frees blocks only: no commit, so no wb_mutex */
		ukfs_inode_free_mode(s->meta, inode->i_ino, inode->i_mode);
}

static void ukfs_dirty_inode(struct vfs_inode *inode)
{
	ukfs_attrs_dirty(inode, ATTR_MASK_ALL);
}

static int ukfs_write_inode(struct vfs_inode *inode, bool sync)
{
	return write_attrs(inode, ATTR_MASK_ALL);
}

static int ukfs_statfs(struct vfs_dentry *d, struct vfs_kstatfs *buf)
{
	struct ukfs_statfs st;
	int ret = ukfs_meta_statfs(UKSB(d->d_sb)->meta, &st);

	if (ret)
		return ret;
	buf->f_type = (long)UKFS_SUPER_MAGIC;
	buf->f_bsize = buf->f_frsize = (long)st.block_size;
	buf->f_blocks = st.blocks;
	buf->f_bfree = buf->f_bavail = st.free_blocks;
	buf->f_files = st.inodes;
	buf->f_ffree = st.free_inodes;
	buf->f_namelen = st.name_max;
	buf->f_fsid[0] = (uint32_t)d->d_sb->s_dev;
	buf->f_fsid[1] = 0;
	return 0;
}

/*
 * Commits if the transaction is due (old or large). Called after each
 * changing call, it never waits for wb_mutex: when writeback holds it the
 * commit is left to the next call or to the timer (which waits).
 */
void ukfs_maybe_commit(struct ukfs_sb_info *s)
{
	if (s->rdonly || pthread_mutex_trylock(&s->wb_mutex))
		return;
	ukfs_meta_maybe_commit(s->meta, ukfs_meta_now());
	pthread_mutex_unlock(&s->wb_mutex);
}

/* The timer's commit: waits for wb_mutex, so the interval is kept. */
static void commit_if_due(struct ukfs_sb_info *s)
{
	pthread_mutex_lock(&s->wb_mutex);
	/* lazily kept attributes join a transaction, committed in time */
	if (__atomic_load_n(&s->dirty_list, __ATOMIC_RELAXED))
		ukfs_flush_attrs(s);
	ukfs_meta_maybe_commit(s->meta, ukfs_meta_now());
	pthread_mutex_unlock(&s->wb_mutex);
}

/*
 * sync/syncfs: every dirty page written and waited for, then the commit
 * (whose hook flushes the data), then a device flush. Returns the first
 * error.
 */
int ukfs_sync_fs(struct vfs_super *sb, bool wait)
{
	struct ukfs_sb_info *s = UKSB(sb);
	int ret, ret2;

	if (s->rdonly)
		return 0;
	ret = pcache_sync_all(s->pc);
	pthread_mutex_lock(&s->wb_mutex);
	ret2 = ukfs_flush_attrs(s);
	if (!ret2)
		ret2 = ukfs_meta_commit(s->meta);
	pthread_mutex_unlock(&s->wb_mutex);
	if (!ret)
		ret = ret2;
	ret2 = bdev_flush(s->bdev);
	return ret ? ret : ret2;
}

/*
 * The data=ordered hook, run before each COMMIT with the meta lock held
 * and (by our rule) wb_mutex held by the committing thread. Every block
 * the transaction maps was written under wb_mutex before it was released,
 * so the ordered inodes' data is already in the device's queue: flushing
 * the device is what remains. Taking no VFS or page lock here is what
 * keeps it deadlock free (docs/ukfs.md).
 */
static int ukfs_pre_commit(void *arg, struct ukfs_meta *m)
{
	struct ukfs_sb_info *s = arg;
	int ret = ukfs_flush_attrs(s);

	return ret ? ret : bdev_flush(s->bdev);
}

/* The commit timer: an idle file system still commits every interval. */
static void *commit_timer(void *arg)
{
	struct ukfs_sb_info *s = arg;
	unsigned int tick = s->commit_ms < 1000 ? s->commit_ms : 1000;

	pthread_mutex_lock(&s->timer_lock);
	while (!s->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(tick % 1000) * 1000000l;
		ts.tv_sec += tick / 1000 + ts.tv_nsec / 1000000000l;
		ts.tv_nsec %= 1000000000l;
		pthread_cond_timedwait(&s->timer_cond, &s->timer_lock, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->timer_lock);
		commit_if_due(s);
		pthread_mutex_lock(&s->timer_lock);
	}
	pthread_mutex_unlock(&s->timer_lock);
	return NULL;
}

static void sbi_free(struct ukfs_sb_info *s, bool clean)
{
	ukfs_ra_stop(s);
	if (s->thread_started) {
		pthread_mutex_lock(&s->timer_lock);
		s->stop = true;
		pthread_cond_broadcast(&s->timer_cond);
		pthread_mutex_unlock(&s->timer_lock);
		pthread_join(s->commit_thread, NULL);
	}
	if (s->meta) {
		pthread_mutex_lock(&s->wb_mutex);
		ukfs_meta_close(s->meta, clean && !s->rdonly);
		pthread_mutex_unlock(&s->wb_mutex);
	}
	if (s->pc)
		pcache_destroy(s->pc);
	if (s->bdev)
		bdev_close(s->bdev);
	pthread_cond_destroy(&s->timer_cond);
	pthread_mutex_destroy(&s->timer_lock);
	pthread_mutex_destroy(&s->icache_lock);
	pthread_mutex_destroy(&s->dirty_lock);
	pthread_cond_destroy(&s->ra_cond);
	pthread_mutex_destroy(&s->ra_lock);
	pthread_mutex_destroy(&s->wb_mutex);
	free(s);
}

/* Clean unmount: every inode is gone, so every page was written back. */
static void ukfs_put_super(struct vfs_super *sb)
{
	struct ukfs_sb_info *s = UKSB(sb);

	if (!s->rdonly && !ukfs_crash_unmount)
		pcache_sync_all(s->pc);
	sbi_free(s, !ukfs_crash_unmount);
}

static const struct vfs_super_ops ukfs_super_ops = {
	.alloc_inode = ukfs_alloc_inode,
	.destroy_inode = ukfs_destroy_inode,
	.evict_inode = ukfs_evict_inode,
	.write_inode = ukfs_write_inode,
	.dirty_inode = ukfs_dirty_inode,
	.sync_fs = ukfs_sync_fs,
	.statfs = ukfs_statfs,
	.put_super = ukfs_put_super,
};

/* ---- directory ops (ns_lock write-held) -------------------------------- */

static int ukfs_lookup_op(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	struct vfs_inode *i;
	uint64_t ino;
	int ret;

	ret = ukfs_lookup(META(dir), dir->i_ino, dentry->d_name, &ino, NULL);
	if (ret == -ENOENT)
		return 0; /* stays negative */
	if (ret)
		return ret;
	i = ukfs_iget(dir->i_sb, ino);
	if (IS_ERR(i))
		return (int)PTR_ERR(i);
	vfs_d_instantiate(dentry, i);
	return 0;
}

/* The row of a new inode: owner as inode_init_owner, times now. */
static void new_row(struct ukfs_inode *r, struct vfs_inode *dir, mode_t mode,
		    dev_t rdev, uid_t uid, gid_t gid)
{
	int64_t now = ts_ns(vfs_now());

	memset(r, 0, sizeof(*r));
	r->uid = uid;
	if (dir && (dir->i_mode & S_ISGID)) {
		r->gid = dir->i_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	} else {
		r->gid = gid;
	}
	r->mode = mode;
	r->rdev = rdev;
	r->atime_ns = r->mtime_ns = r->ctime_ns = r->btime_ns = now;
}

static int do_create(struct vfs_inode *dir, struct vfs_dentry *dentry,
		     mode_t mode, dev_t rdev, const char *link, uid_t uid,
		     gid_t gid)
{
	struct ukfs_sb_info *s = UKSB(dir->i_sb);
	struct ukfs_inode r, out;
	struct vfs_inode *i;
	int ret;

	new_row(&r, dir, mode, rdev, uid, gid);
	ret = ukfs_create(s->meta, dir->i_ino, dentry->d_name, &r, link, &out);
	if (ret)
		return ret;
	i = icache_insert(dir->i_sb, &out);
	if (IS_ERR(i))
		return (int)PTR_ERR(i);
	vfs_d_instantiate(dentry, i);
	dir_touch(dir, S_ISDIR(mode));
	ukfs_maybe_commit(s);
	return 0;
}

static int ukfs_create_op(struct vfs_inode *dir, struct vfs_dentry *dentry,
			  mode_t mode, uid_t uid, gid_t gid)
{
	return do_create(dir, dentry, (mode & 07777) | S_IFREG, 0, NULL, uid,
			 gid);
}

static int ukfs_mkdir_op(struct vfs_inode *dir, struct vfs_dentry *dentry,
			 mode_t mode, uid_t uid, gid_t gid)
{
	return do_create(dir, dentry, (mode & 07777) | S_IFDIR, 0, NULL, uid,
			 gid);
}

static int ukfs_mknod_op(struct vfs_inode *dir, struct vfs_dentry *dentry,
			 mode_t mode, dev_t rdev, uid_t uid, gid_t gid)
{
	return do_create(dir, dentry, mode, rdev, NULL, uid, gid);
}

static int ukfs_symlink_op(struct vfs_inode *dir, struct vfs_dentry *dentry,
			   const char *target, uid_t uid, gid_t gid)
{
	return do_create(dir, dentry, S_IFLNK | 0777, 0, target, uid, gid);
}

static int ukfs_tmpfile_op(struct vfs_inode *dir, struct vfs_dentry *dentry,
			   mode_t mode, uid_t uid, gid_t gid)
{
	struct ukfs_sb_info *s = UKSB(dir->i_sb);
	struct ukfs_inode r;
	struct vfs_inode *i;
	uint64_t ino;
	int ret;

	new_row(&r, dir, (mode & 07777) | S_IFREG, 0, uid, gid);
	ret = ukfs_inode_alloc(s->meta, &r, NULL, &ino);
	if (ret)
		return ret;
	i = ukfs_iget(dir->i_sb, ino);
	if (IS_ERR(i))
		return (int)PTR_ERR(i);
	vfs_d_instantiate(dentry, i);
	return 0;
}

static int ukfs_link_op(struct vfs_dentry *old_dentry, struct vfs_inode *dir,
			struct vfs_dentry *dentry)
{
	struct vfs_inode *inode = old_dentry->d_inode;
	int ret;

	ret = ukfs_link(META(dir), dir->i_ino, dentry->d_name, inode->i_ino);
	if (ret)
		return ret;
	pthread_mutex_lock(&inode->i_lock);
	inode->i_state &= ~VFS_I_LINKABLE;
	pthread_mutex_unlock(&inode->i_lock);
	inode_touch_c(inode);
	refresh_inode(inode);
	vfs_d_instantiate(dentry, vfs_igrab(inode));
	dir_touch(dir, false);
	ukfs_maybe_commit(UKSB(dir->i_sb));
	return 0;
}

static int do_unlink(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	struct vfs_inode *inode = dentry->d_inode;
	struct ukfs_inode victim;
	int ret;

	ret = ukfs_unlink_ino(META(dir), dir->i_ino, dentry->d_name,
			      inode->i_ino, &victim);
	if (ret)
		return ret;
	pthread_mutex_lock(&inode->i_lock);
	inode->i_nlink = victim.nlink;
	vfs_inode_touch_ctime(inode);
	pthread_mutex_unlock(&inode->i_lock);
	if (victim.nlink)
		ukfs_attrs_dirty(inode, UKFS_SET_CTIME);
	dir_touch(dir, S_ISDIR(inode->i_mode));
	ukfs_maybe_commit(UKSB(dir->i_sb));
	return 0;
}

static int ukfs_unlink_op(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	return do_unlink(dir, dentry);
}

static int ukfs_rmdir_op(struct vfs_inode *dir, struct vfs_dentry *dentry)
{
	return do_unlink(dir, dentry);
}

static int ukfs_rename_op(struct vfs_inode *old_dir,
			  struct vfs_dentry *old_dentry,
			  struct vfs_inode *new_dir,
			  struct vfs_dentry *new_dentry, unsigned int flags)
{
	struct vfs_inode *inode = old_dentry->d_inode;
	struct vfs_inode *target = new_dentry->d_inode;
	struct ukfs_inode victim = { 0 };
	int ret;

	ret = ukfs_rename(META(old_dir), old_dir->i_ino, old_dentry->d_name,
			  new_dir->i_ino, new_dentry->d_name, flags, &victim);
	if (ret)
		return ret;
	if (target && !(flags & RENAME_EXCHANGE) &&
	    victim.ino == target->i_ino) {
		pthread_mutex_lock(&target->i_lock);
		target->i_nlink = victim.nlink;
		vfs_inode_touch_ctime(target);
		pthread_mutex_unlock(&target->i_lock);
		if (victim.nlink)
			ukfs_attrs_dirty(target, UKFS_SET_CTIME);
	} else if (target) {
		inode_touch_c(target);
		refresh_inode(target);
	}
	inode_touch_c(inode);
	refresh_inode(inode);
	dir_touch(old_dir, true);
	if (new_dir != old_dir)
		dir_touch(new_dir, true);
	ukfs_maybe_commit(UKSB(old_dir->i_sb));
	return 0;
}

/* ---- other inode ops --------------------------------------------------- */

static const char *ukfs_get_link(struct vfs_dentry *dentry)
{
	return UKI(dentry->d_inode)->link;
}

static long ukfs_readlink_op(struct vfs_dentry *dentry, char *buf, size_t size)
{
	const char *link = UKI(dentry->d_inode)->link;
	size_t len = strlen(link);

	if (len > size)
		len = size;
	memcpy(buf, link, len);
	return (long)len;
}

/*
 * setattr: a size change goes through the page cache and ukfs_truncate
 * (fs_ukfs_file.c) under i_rwsem; the rest is copied and written to the
 * row.
 */
static int ukfs_setattr_op(struct vfs_dentry *dentry, struct vfs_iattr *attr)
{
	struct vfs_inode *inode = dentry->d_inode;
	int ret;

	if (UKSB(inode->i_sb)->rdonly)
		return -EROFS;
	if (attr->ia_valid & VFS_ATTR_SIZE) {
		pthread_rwlock_wrlock(&inode->i_rwsem);
		ret = ukfs_file_setsize(inode, attr->ia_size);
		pthread_rwlock_unlock(&inode->i_rwsem);
		if (ret)
			return ret;
	}
	pthread_mutex_lock(&inode->i_lock);
	vfs_setattr_copy(inode, attr);
	pthread_mutex_unlock(&inode->i_lock);
	ret = write_attrs(inode, ATTR_MASK_ALL);
	ukfs_maybe_commit(UKSB(inode->i_sb));
	return ret;
}

static long ukfs_getxattr_op(struct vfs_dentry *d, const char *name,
			     void *value, size_t size)
{
	return ukfs_xattr_get(META(d->d_inode), d->d_inode->i_ino, name, value,
			      size);
}

static int ukfs_setxattr_op(struct vfs_dentry *d, const char *name,
			    const void *value, size_t size, int flags)
{
	int ret = ukfs_xattr_set(META(d->d_inode), d->d_inode->i_ino, name,
				 value, size, flags);

	if (!ret)
		inode_touch_c(d->d_inode);
	return ret;
}

static long ukfs_listxattr_op(struct vfs_dentry *d, char *list, size_t size)
{
	return ukfs_xattr_list(META(d->d_inode), d->d_inode->i_ino, list,
			       size);
}

static int ukfs_removexattr_op(struct vfs_dentry *d, const char *name)
{
	int ret = ukfs_xattr_remove(META(d->d_inode), d->d_inode->i_ino, name);

	if (!ret)
		inode_touch_c(d->d_inode);
	return ret;
}

#define UKFS_XATTR_OPS                                                      \
	.getxattr = ukfs_getxattr_op, .setxattr = ukfs_setxattr_op,         \
	.listxattr = ukfs_listxattr_op, .removexattr = ukfs_removexattr_op

static const struct vfs_inode_ops ukfs_dir_iops = {
	.lookup = ukfs_lookup_op,
	.create = ukfs_create_op,
	.mkdir = ukfs_mkdir_op,
	.mknod = ukfs_mknod_op,
	.symlink = ukfs_symlink_op,
	.link = ukfs_link_op,
	.unlink = ukfs_unlink_op,
	.rmdir = ukfs_rmdir_op,
	.rename = ukfs_rename_op,
	.setattr = ukfs_setattr_op,
	.tmpfile = ukfs_tmpfile_op,
	UKFS_XATTR_OPS,
};

static const struct vfs_inode_ops ukfs_file_iops = {
	.setattr = ukfs_setattr_op,
	.fallocate = ukfs_vfs_fallocate,
	.seek_data_hole = ukfs_vfs_seek_data_hole,
	UKFS_XATTR_OPS,
};

static const struct vfs_inode_ops ukfs_symlink_iops = {
	.get_link = ukfs_get_link,
	.readlink = ukfs_readlink_op,
	.setattr = ukfs_setattr_op,
	UKFS_XATTR_OPS,
};

static const struct vfs_inode_ops ukfs_special_iops = {
	.setattr = ukfs_setattr_op,
	UKFS_XATTR_OPS,
};

/* ---- readdir ------------------------------------------------------------ */

struct filldir_ctx {
	struct vfs_dir_context *ctx;
};

static int ukfs_filldir(void *arg, const char *name, size_t len, uint64_t ino,
			unsigned int type, uint64_t next)
{
	struct vfs_dir_context *ctx = ((struct filldir_ctx *)arg)->ctx;

	if (!ctx->actor(ctx, name, (int)len, (int64_t)next, ino, type))
		return 1;
	ctx->pos = (int64_t)next;
	return 0;
}

/*
 * getdents: positions 0 and 1 are "." and ".."; from 2 on, ukfs's stable
 * per-directory cookies (the first is UKFS_COOKIE_FIRST), so a listing
 * resumed after inserts and deletes neither repeats nor skips an entry.
 */
static int ukfs_iterate(struct vfs_file *f, struct vfs_dir_context *ctx)
{
	struct vfs_dentry *dir = f->f_path.dentry;
	struct filldir_ctx fc = { ctx };
	int ret;

	if (ctx->pos == 0) {
		if (!ctx->actor(ctx, ".", 1, 1, dir->d_inode->i_ino, 4))
			return 0;
		ctx->pos = 1;
	}
	if (ctx->pos == 1) {
		if (!ctx->actor(ctx, "..", 2, 2,
				dir->d_parent->d_inode->i_ino, 4))
			return 0;
		ctx->pos = 2;
	}
	ret = ukfs_readdir(META(dir->d_inode), dir->d_inode->i_ino,
			   ctx->pos < UKFS_COOKIE_FIRST ? UKFS_COOKIE_FIRST
							: (uint64_t)ctx->pos,
			   ukfs_filldir, &fc);
	return ret > 0 ? 0 : ret;
}

static int ukfs_dir_fsync(struct vfs_file *f, int64_t start, int64_t end,
			  bool datasync)
{
	struct ukfs_sb_info *s = UKSB(f->f_inode->i_sb);
	int ret;

	if (s->rdonly)
		return 0;
	pthread_mutex_lock(&s->wb_mutex);
	ret = ukfs_flush_attrs(s);
	if (!ret)
		ret = ukfs_meta_commit(s->meta);
	pthread_mutex_unlock(&s->wb_mutex);
	return ret ? ret : bdev_flush(s->bdev);
}

static const struct vfs_file_ops ukfs_dir_fops = {
	.iterate = ukfs_iterate,
	.fsync = ukfs_dir_fsync,
};

/* ---- mount ------------------------------------------------------------- */

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Opens the image in dir: the metadata (ukfs_meta_open validates it and
 * says what is wrong in errbuf), the block device (through ukfs_bdev_hook
 * in tests), a page cache of o->cache_size, the pre-commit hook and the
 * commit timer; reads the root inode. Returns the super block (s_root set)
 * or ERR_PTR(-errno) with errbuf filled.
 */
struct vfs_super *ukfs_fill_super(struct uk_vfs *vfs, const char *dir,
				  const struct uk_image_opts *o, char *errbuf,
				  size_t errlen)
{
	struct uk_image_opts opts = { 0 };
	struct bdev_options bo = { 0 };
	struct pcache_opts po;
	struct ukfs_statfs st;
	struct ukfs_sb_info *s;
	struct vfs_super *sb;
	struct uk_blockdev *wrapped;
	pthread_mutexattr_t ma;
	struct vfs_inode *root;
	char path[4096];
	int ret;

	if (o)
		opts = *o;
	if (!opts.cache_size)
		opts.cache_size = 256ull << 20;
	if (!opts.commit_ms)
		opts.commit_ms = 5000;
	sb = calloc(1, sizeof(*sb));
	s = calloc(1, sizeof(*s));
	if (!sb || !s) {
		free(sb);
		free(s);
		set_err(errbuf, errlen, "%s: %s", dir, strerror(ENOMEM));
		return ERR_PTR(-ENOMEM);
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->wb_mutex, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&s->icache_lock, NULL);
	pthread_mutex_init(&s->dirty_lock, NULL);
	pthread_mutex_init(&s->ra_lock, NULL);
	pthread_cond_init(&s->ra_cond, NULL);
	pthread_mutex_init(&s->timer_lock, NULL);
	pthread_cond_init(&s->timer_cond, NULL);
	s->rdonly = opts.read_only;
	s->commit_ms = opts.commit_ms;

	ret = ukfs_meta_open(dir, opts.read_only ? UKFS_META_RDONLY : 0,
			     &s->meta, errbuf, errlen);
	if (ret)
		goto err_free;
	ret = ukfs_meta_statfs(s->meta, &st);
	if (ret)
		goto err_free;
	snprintf(path, sizeof(path), "%s/%s", dir, UKFS_BLOCKS_FILE);
	bo.read_only = opts.read_only;
	/*
	 * O_DIRECT: our page cache is the cache. Through the host's cache
	 * every byte was copied twice, io_uring punted buffered writes to
	 * its worker threads, and a "cold" read was served from the host's
	 * memory (docs/ukfs.md "Performance"). Every buffer we hand to
	 * blockdev is a 4 KiB-aligned page frame or bounce buffer. A host
	 * file system without O_DIRECT gets the buffered device.
	 */
	bo.direct = true;
	ret = bdev_open(path, &bo, &s->bdev);
	if (ret == -EINVAL) {
		bo.direct = false;
		ret = bdev_open(path, &bo, &s->bdev);
	}
	if (ret) {
		set_err(errbuf, errlen, "%s: cannot open the block file: %s",
			path, strerror(-ret));
		goto err_free;
	}
	if (bdev_nr_blocks(s->bdev) < st.blocks + UKFS_FIRST_DATA_BLOCK) {
		ret = -EUCLEAN;
		set_err(errbuf, errlen, "%s: block file shorter than the "
			"image says", path);
		goto err_free;
	}
	if (ukfs_bdev_hook) {
		ret = ukfs_bdev_hook(s->bdev, &wrapped, ukfs_bdev_hook_arg);
		if (ret)
			goto err_free;
		s->bdev = wrapped;
	}
	pcache_opts_default(&po);
	po.size_limit = opts.cache_size;
	/*
	 * A readahead window of 32 MiB is read as 1 MiB requests, up to 32
	 * in flight (ukfs_read_pages; the readahead thread keeps them in
	 * flight from one window to the next): the disk needs a queue to
	 * reach its sequential speed, and the async window is then a whole
	 * window ahead. 8 MiB windows let the queue drain at every window.
	 */
	po.readahead_max = 32u << 20;
	ret = pcache_create(&po, &s->pc);
	if (ret) {
		set_err(errbuf, errlen, "%s: page cache: %s", dir,
			strerror(-ret));
		goto err_free;
	}
	ukfs_meta_set_pre_commit(s->meta, ukfs_pre_commit, s);
	ukfs_meta_set_commit_policy(s->meta,
				    (int64_t)opts.commit_ms * 1000000ll, 0);

	sb->s_op = &ukfs_super_ops;
	sb->s_type = &ukfs_fs_type;
	sb->s_vfs = vfs;
	sb->s_fs_info = s;
	sb->s_magic = UKFS_SUPER_MAGIC;
	sb->s_blocksize = UKFS_BLOCK_SIZE;
	sb->s_maxbytes = 1ll << 52;
	sb->s_time_gran = 1;
	sb->s_flags = opts.read_only ? VFS_SB_RDONLY : 0;
	sb->s_dev = makedev(0, atomic_fetch_add(&vfs->next_minor, 1));
	atomic_init(&sb->s_next_ino, 1);
	root = ukfs_iget(sb, UKFS_ROOT_INO);
	if (IS_ERR(root)) {
		ret = (int)PTR_ERR(root);
		set_err(errbuf, errlen, "%s: no root directory: %s", dir,
			strerror(-ret));
		goto err_free;
	}
	sb->s_root = vfs_d_alloc_root(sb, root);
	if (!sb->s_root) {
		vfs_iput(root);
		ret = -ENOMEM;
		goto err_free;
	}
	if (!s->rdonly) {
		ret = pthread_create(&s->commit_thread, NULL, commit_timer, s);
		if (ret) {
			ret = -ret;
			vfs_dput(sb->s_root);
			goto err_free;
		}
		s->thread_started = true;
	}
	return sb;

err_free:
	sbi_free(s, false);
	free(sb);
	return ERR_PTR(ret);
}

/* "dir=PATH[,ro][,cache=BYTES][,commit=MS]" for vfs_mount. */
static struct vfs_super *ukfs_mount(struct uk_vfs *vfs, const char *opts)
{
	struct uk_image_opts o = { 0 };
	char buf[4096], *save = NULL, *tok, *dir = NULL;
	char err[256];
	struct vfs_super *sb;

	if (strlen(opts) >= sizeof(buf))
		return ERR_PTR(-EINVAL);
	strcpy(buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "dir=", 4))
			dir = tok + 4;
		else if (!strcmp(tok, "ro"))
			o.read_only = true;
		else if (!strncmp(tok, "cache=", 6))
			o.cache_size = strtoull(tok + 6, NULL, 10);
		else if (!strncmp(tok, "commit=", 7))
			o.commit_ms = (unsigned int)strtoul(tok + 7, NULL, 10);
		else
			return ERR_PTR(-EINVAL);
	}
	if (!dir)
		return ERR_PTR(-EINVAL);
	sb = ukfs_fill_super(vfs, dir, &o, err, sizeof(err));
	if (IS_ERR(sb))
		fprintf(stderr, "ukfs: %s\n", err);
	return sb;
}

static void ukfs_kill_sb(struct vfs_super *sb)
{
	vfs_dput(sb->s_root);
	sb->s_op->put_super(sb);
	free(sb);
}

const struct vfs_fs_type ukfs_fs_type = {
	.name = "ukfs",
	.mount = ukfs_mount,
	.kill_sb = ukfs_kill_sb,
};
