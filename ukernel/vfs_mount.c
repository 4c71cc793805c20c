/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_mount.c - the VFS instance of a kernel and its mount table:
 * uk_vfs_init/exit (the root tmpfs), file system types, vfs_mount and
 * vfs_umount (more tmpfs instances under the root; EXDEV across them), and
 * the reference counts of mounts and paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "vfs.h"

static const struct vfs_fs_type *const fs_types[] = {
	&tmpfs_fs_type,
	&ukfs_fs_type,
};

struct vfs_mount *vfs_mntget(struct vfs_mount *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->mnt_count, 1,
					  memory_order_relaxed);
	return m;
}

/* Drops a reference; the last one (after umount) frees the mount. */
static void mnt_free(struct vfs_mount *m)
{
	struct vfs_super *sb = m->mnt_sb;

	vfs_dput(m->mnt_root);
	if (atomic_fetch_sub(&sb->s_active, 1) == 1) {
		vfs_dcache_drop_sb(sb->s_vfs, sb);
		sb->s_type->kill_sb(sb);
	}
	free(m);
}

void vfs_mntput(struct vfs_mount *m)
{
	if (m && atomic_fetch_sub_explicit(&m->mnt_count, 1,
					   memory_order_acq_rel) == 1)
		mnt_free(m);
}

void vfs_path_get(const struct vfs_path *p)
{
	vfs_mntget(p->mnt);
	vfs_dget(p->dentry);
}

void vfs_path_put(const struct vfs_path *p)
{
	vfs_dput(p->dentry);
	vfs_mntput(p->mnt);
}

/* The mount on (parent, mountpoint), or NULL. ns_lock held. */
struct vfs_mount *vfs_lookup_mnt(struct uk_vfs *vfs, struct vfs_mount *parent,
				 struct vfs_dentry *mountpoint)
{
	struct uk_list *pos;

	for (pos = vfs->mounts.next; pos != &vfs->mounts; pos = pos->next) {
		struct vfs_mount *m = uk_list_entry(pos, struct vfs_mount,
						    mnt_list);

		if (m->mnt_parent == parent && m->mnt_mountpoint == mountpoint)
			return m;
	}
	return NULL;
}

static const struct vfs_fs_type *find_fs_type(const char *name)
{
	for (size_t i = 0; i < UK_ARRAY_SIZE(fs_types); i++)
		if (!strcmp(fs_types[i]->name, name))
			return fs_types[i];
	return NULL;
}

/* A mount (count 1) of the new super block sb, or ERR_PTR(-ENOMEM). */
static struct vfs_mount *mnt_new_sb(struct uk_vfs *vfs, struct vfs_super *sb)
{
	struct vfs_mount *m = calloc(1, sizeof(*m));

	if (!m)
		return ERR_PTR(-ENOMEM);
	atomic_store(&sb->s_active, 1);
	m->mnt_sb = sb;
	m->mnt_root = vfs_dget(sb->s_root);
	m->mnt_parent = m;
	m->mnt_mountpoint = m->mnt_root;
	m->mnt_id = atomic_fetch_add(&vfs->next_mnt_id, 1);
	atomic_init(&m->mnt_count, 1);
	uk_list_init(&m->mnt_list);
	return m;
}

/* A new mount of a new super block of type (count 1), or ERR_PTR. */
static struct vfs_mount *mnt_new(struct uk_vfs *vfs,
				 const struct vfs_fs_type *type,
				 const char *opts)
{
	struct vfs_super *sb = type->mount(vfs, opts);
	struct vfs_mount *m;

	if (IS_ERR(sb))
		return (void *)sb;
	m = mnt_new_sb(vfs, sb);
	if (IS_ERR(m)) {
		atomic_store(&sb->s_active, 1);
		vfs_dcache_drop_sb(vfs, sb);
		sb->s_type->kill_sb(sb);
	}
	return m;
}

/*
 * Makes sb (fresh from a file system's mount) the root mount in place of
 * the empty root tmpfs, which is unmounted. For uk_kernel_mount_image,
 * before any task exists: -EBUSY if something is mounted already. On
 * failure sb is torn down.
 */
int vfs_mount_root_sb(struct uk_vfs *vfs, struct vfs_super *sb)
{
	struct vfs_mount *m, *old;

	if (!uk_list_empty(&vfs->mounts) ||
	    atomic_load(&vfs->root_mnt->mnt_count) != 1) {
		atomic_store(&sb->s_active, 1);
		vfs_dcache_drop_sb(vfs, sb);
		sb->s_type->kill_sb(sb);
		return -EBUSY;
	}
	m = mnt_new_sb(vfs, sb);
	if (IS_ERR(m)) {
		atomic_store(&sb->s_active, 1);
		vfs_dcache_drop_sb(vfs, sb);
		sb->s_type->kill_sb(sb);
		return (int)PTR_ERR(m);
	}
	pthread_rwlock_wrlock(&vfs->ns_lock);
	old = vfs->root_mnt;
	vfs->root_mnt = m;
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_mntput(old);
	return 0;
}

/* Formats the root tmpfs options from the kernel's. */
static void root_opts(const struct uk_kernel_opts *o, char *buf, size_t n)
{
	unsigned long long size = o->tmpfs_size ? o->tmpfs_size : 1ULL << 30;
	unsigned long long inodes = o->tmpfs_inodes ? o->tmpfs_inodes
						    : 1ULL << 20;

	snprintf(buf, n, "size=%llu,nr_inodes=%llu,mode=0755", size, inodes);
}

/*
 * Creates the kernel's VFS: the dentry cache and a tmpfs mounted at the
 * root, sized by the kernel's options. Returns 0 or -ENOMEM/-EINVAL.
 */
int uk_vfs_init(struct uk_kernel *k)
{
	struct uk_vfs *vfs = calloc(1, sizeof(*vfs));
	char opts[128];
	struct vfs_mount *m;
	int ret;

	if (!vfs)
		return -ENOMEM;
	vfs->kernel = k;
	pthread_rwlock_init(&vfs->ns_lock, NULL);
	uk_list_init(&vfs->mounts);
	atomic_init(&vfs->next_minor, 40);
	atomic_init(&vfs->next_mnt_id, 20);
	ret = vfs_dcache_init(vfs);
	if (ret)
		goto err_free;
	root_opts(&k->opts, opts, sizeof(opts));
	m = mnt_new(vfs, &tmpfs_fs_type, opts);
	if (IS_ERR(m)) {
		ret = (int)PTR_ERR(m);
		goto err_dcache;
	}
	vfs->root_mnt = m;
	k->vfs = vfs;
	return 0;

err_dcache:
	vfs_dcache_exit(vfs);
err_free:
	pthread_rwlock_destroy(&vfs->ns_lock);
	free(vfs);
	return ret;
}

/* Detaches m from the tree (ns_lock write); the table's reference goes. */
static void mnt_detach(struct vfs_mount *m)
{
	uk_list_del_init(&m->mnt_list);
	m->mnt_mountpoint->d_mounted--;
	vfs_dput(m->mnt_mountpoint);
	vfs_mntput(m->mnt_parent);
	m->mnt_parent = m;
	m->mnt_mountpoint = m->mnt_root;
	m->mnt_flags |= VFS_MNT_DETACHED;
	vfs_mntput(m);
}

/* Tears down the VFS; every task has exited (no files, no cwd). */
void uk_vfs_exit(struct uk_kernel *k)
{
	struct uk_vfs *vfs = k->vfs;

	if (!vfs)
		return;
	/* Children before parents: the list is in mount order. */
	while (!uk_list_empty(&vfs->mounts))
		mnt_detach(uk_list_entry(vfs->mounts.prev, struct vfs_mount,
					 mnt_list));
	vfs_mntput(vfs->root_mnt);
	vfs_dcache_exit(vfs);
	pthread_rwlock_destroy(&vfs->ns_lock);
	free(vfs);
	k->vfs = NULL;
}

/*
 * Mounts a new instance of fs_type at the directory path. Returns 0,
 * -ENODEV (unknown type), -ENOENT/-ENOTDIR (path), -EBUSY (already a mount
 * there), -EPERM (not root) or the file system's error.
 */
int vfs_mount(struct uk_task *task, const char *path, const char *fs_type,
	      const char *opts)
{
	struct uk_vfs *vfs = task->kernel->vfs;
	const struct vfs_fs_type *type = find_fs_type(fs_type);
	struct vfs_nameidata nd;
	struct vfs_mount *m;
	int ret;

	if (!type)
		return -ENODEV;
	if (task->cred.euid != 0)
		return -EPERM;
	m = mnt_new(vfs, type, opts ? opts : "");
	if (IS_ERR(m))
		return (int)PTR_ERR(m);
	ret = vfs_nd_init(&nd, task, AT_FDCWD, path,
			  LOOKUP_FOLLOW | LOOKUP_DIRECTORY);
	if (ret)
		goto err_put;
	pthread_rwlock_wrlock(&vfs->ns_lock);
	ret = vfs_walk_locked(&nd, path);
	if (ret)
		goto out_unlock;
	if (nd.path.dentry == nd.path.mnt->mnt_root &&
	    nd.path.mnt != nd.path.mnt->mnt_parent) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (nd.path.dentry == vfs->root_mnt->mnt_root &&
	    nd.path.mnt == vfs->root_mnt) {
		ret = -EBUSY;
		goto out_unlock;
	}
	m->mnt_parent = vfs_mntget(nd.path.mnt);
	m->mnt_mountpoint = vfs_dget(nd.path.dentry);
	nd.path.dentry->d_mounted++;
	uk_list_add_tail(&m->mnt_list, &vfs->mounts);
	m = NULL;
out_unlock:
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_nd_done(&nd);
err_put:
	if (m)
		vfs_mntput(m);
	return ret;
}

/*
 * Unmounts the mount whose root is at path: -EINVAL if path is not a mount
 * root, -EBUSY if files, working directories or other mounts use it.
 */
int vfs_umount(struct uk_task *task, const char *path)
{
	struct uk_vfs *vfs = task->kernel->vfs;
	struct vfs_nameidata nd;
	struct vfs_mount *m;
	struct uk_list *pos;
	int ret;

	if (task->cred.euid != 0)
		return -EPERM;
	ret = vfs_nd_init(&nd, task, AT_FDCWD, path, LOOKUP_FOLLOW);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(&vfs->ns_lock);
	ret = vfs_walk_locked(&nd, path);
	if (ret)
		goto out_unlock;
	m = nd.path.mnt;
	if (nd.path.dentry != m->mnt_root || m == vfs->root_mnt) {
		ret = -EINVAL;
		goto out_unlock;
	}
	for (pos = vfs->mounts.next; pos != &vfs->mounts; pos = pos->next) {
		if (uk_list_entry(pos, struct vfs_mount, mnt_list)->mnt_parent ==
		    m) {
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	/*
	 * Busy if anything but the table holds it (files, working
	 * directories); the walk's own references on its root and start
	 * count too, and mean the caller's cwd or root is inside.
	 */
	if (atomic_load(&m->mnt_count) > 1) {
		ret = -EBUSY;
		goto out_unlock;
	}
	mnt_detach(m);
out_unlock:
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_nd_done(&nd);
	return ret;
}
