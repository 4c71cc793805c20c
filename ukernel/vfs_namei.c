/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_namei.c - the path walk: one component at a time from the
 * task's root, its cwd or a directory fd, through the dentry cache, with
 * ".", ".." (never above the walk's root), mount crossings, symlinks (40 at
 * most: ELOOP), trailing slashes, ENAMETOOLONG, ENOTDIR, EACCES on search
 * permission, and openat2's RESOLVE_* restrictions. Also d_path (getcwd).
 *
 * The walk runs with ns_lock held by its caller (read for lookups, write
 * for operations that change a directory) and takes no reference on the
 * dentries it passes: they cannot go away while ns_lock is held. Symlink
 * bodies are walked in place (tmpfs's i_link is stable under ns_lock), by
 * recursion bounded by the 40-link limit. No allocation on this path.
 */
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

#define UK_MAXSYMLINKS 40

/*
 * Takes (or, borrowed, only copies) a path for the walk; says which.
 */
static inline bool nd_hold(struct vfs_path *dst, const struct vfs_path *src,
			   bool borrow)
{
	*dst = *src;
	if (borrow)
		return false;
	vfs_path_get(dst);
	return true;
}

/*
 * Sets up a walk of name from dfd: the walk's root (the task's root, or
 * dfd's directory for RESOLVE_BENEATH/IN_ROOT) and its start (root for an
 * absolute name, the cwd for AT_FDCWD, or dfd's file). borrow: the task's
 * root and cwd are used without references (ns_lock held by the caller).
 * Returns 0, -EBADF (dfd not open) or -ENOTDIR (dfd not a directory while
 * name is relative and not empty).
 */
static int nd_setup(struct vfs_nameidata *nd, struct uk_task *task, int dfd,
		    const char *name, unsigned int flags, bool borrow)
{
	struct uk_fs_struct *fs = task->fs;
	bool scoped = flags & (LOOKUP_BENEATH | LOOKUP_IN_ROOT);

	nd->task = task;
	nd->vfs = task->kernel->vfs;
	nd->flags = flags;
	nd->total_links = 0;
	nd->last = NULL;
	nd->last_len = 0;
	nd->last_type = LAST_NORM;
	nd->trailing_slash = false;
	nd->linkbuf = NULL;
	nd->root_ref = nd->start_ref = false;

	if (name[0] == '/' && !scoped) {
		/* An absolute walk starts at the root: one set of references. */
		pthread_mutex_lock(&fs->lock);
		nd->root_ref = nd_hold(&nd->root, &fs->root, borrow);
		pthread_mutex_unlock(&fs->lock);
		nd->start = nd->root;
		nd->path = nd->start;
		return 0;
	}
	if (dfd == AT_FDCWD) {
		pthread_mutex_lock(&fs->lock);
		nd->start_ref = nd_hold(&nd->start, &fs->pwd, borrow);
		if (!scoped)
			nd->root_ref = nd_hold(&nd->root, &fs->root, borrow);
		pthread_mutex_unlock(&fs->lock);
	} else {
		struct vfs_file *f = vfs_fget(task, (unsigned int)dfd);

		if (IS_ERR(f))
			return (int)PTR_ERR(f);
		if (!vfs_is_dir(f->f_inode) &&
		    (name[0] || !(flags & LOOKUP_EMPTY))) {
			vfs_fput(f);
			return -ENOTDIR;
		}
		nd->start_ref = nd_hold(&nd->start, &f->f_path, false);
		vfs_fput(f);
		if (!scoped) {
			pthread_mutex_lock(&fs->lock);
			nd->root_ref = nd_hold(&nd->root, &fs->root, borrow);
			pthread_mutex_unlock(&fs->lock);
		}
	}
	if (scoped)
		nd->root_ref = nd_hold(&nd->root, &nd->start,
				       borrow && !nd->start_ref);
	nd->path = nd->start;
	return 0;
}

int vfs_nd_init(struct vfs_nameidata *nd, struct uk_task *task, int dfd,
		const char *name, unsigned int flags)
{
	return nd_setup(nd, task, dfd, name, flags, false);
}

int vfs_nd_init_locked(struct vfs_nameidata *nd, struct uk_task *task,
		       int dfd, const char *name, unsigned int flags)
{
	return nd_setup(nd, task, dfd, name, flags, true);
}

/* Drops what nd_setup referenced (safe with or without ns_lock). */
void vfs_nd_done(struct vfs_nameidata *nd)
{
	if (nd->start_ref)
		vfs_path_put(&nd->start);
	if (nd->root_ref)
		vfs_path_put(&nd->root);
	nd->start_ref = nd->root_ref = false;
	free(nd->linkbuf);
	nd->linkbuf = NULL;
}

/* Steps onto what is mounted on nd->path, repeatedly. -EXDEV for NO_XDEV. */
static int follow_mounts(struct vfs_nameidata *nd)
{
	while (uk_unlikely(nd->path.dentry->d_mounted)) {
		struct vfs_mount *m = vfs_lookup_mnt(nd->vfs, nd->path.mnt,
						     nd->path.dentry);

		if (!m)
			break;
		if (nd->flags & LOOKUP_NO_XDEV)
			return -EXDEV;
		nd->path.mnt = m;
		nd->path.dentry = m->mnt_root;
	}
	return 0;
}

/* "..": up one level, never above the walk's root, across mounts. */
static int follow_dotdot(struct vfs_nameidata *nd)
{
	for (;;) {
		if (nd->path.dentry == nd->root.dentry &&
		    nd->path.mnt == nd->root.mnt) {
			if (nd->flags & LOOKUP_BENEATH)
				return -EXDEV;
			return 0;
		}
		if (nd->path.dentry != nd->path.mnt->mnt_root)
			break;
		if (nd->path.mnt->mnt_parent == nd->path.mnt)
			return 0; /* the top: ".." of / is / */
		if (nd->flags & LOOKUP_NO_XDEV)
			return -EXDEV;
		nd->path.dentry = nd->path.mnt->mnt_mountpoint;
		nd->path.mnt = nd->path.mnt->mnt_parent;
	}
	nd->path.dentry = nd->path.dentry->d_parent;
	return follow_mounts(nd);
}

/*
 * Search permission on the directory being walked through (may_lookup).
 * Root passes on any directory (CAP_DAC_READ_SEARCH).
 */
static inline int may_lookup(struct vfs_nameidata *nd)
{
	struct vfs_inode *dir = nd->path.dentry->d_inode;
	const struct uk_cred *c = &nd->task->cred;

	if (uk_likely(c->fsuid == 0))
		return 0;
	if (c->fsuid == dir->i_uid)
		return dir->i_mode & S_IXUSR ? 0 : -EACCES;
	return vfs_permission(nd->task, dir, MAY_EXEC);
}

static int walk_body(struct vfs_nameidata *nd, const char *p, bool final);

/*
 * The body to walk for symlink body p. The daemon's "/" is the virtual
 * root of the shim's clients ("/uk"), and a program under the shim writes
 * an absolute target the way it sees it: "ln -s /uk/a/b l" stores
 * "/uk/a/b", and "/uk" does not exist inside. So an absolute body naming
 * the kernel's link_root or something under it is walked without that
 * prefix ("/a/b"; "/" for the root itself). The match is lexical, as the
 * shim's routing is: leading "//" and "." components are skipped, "/ukx"
 * does not match. The body is stored as written (readlink returns it), so
 * a FUSE mount at the same path as the root resolves it alike. Any other
 * body is walked as it is.
 */
static const char *strip_link_root(const struct vfs_nameidata *nd,
				   const char *p)
{
	const char *root = nd->task->kernel->opts.link_root;
	size_t i = 1, j = 0;

	if (!root || p[0] != '/' || root[0] != '/' || !root[1])
		return p;
	for (;;) {
		while (p[j] == '/' ||
		       (p[j] == '.' && (p[j + 1] == '/' || !p[j + 1])))
			j++;
		while (root[i] && root[i] != '/') {
			if (p[j] != root[i])
				return p;
			i++;
			j++;
		}
		if (p[j] && p[j] != '/')
			return p;
		while (root[i] == '/')
			i++;
		if (!root[i])
			return p[j] ? p + j : "/";
	}
}

/*
 * Follows the symlink at d (a component of the walk; nd->path is still
 * its directory): checks the limits, then walks its body from there.
 */
static int follow_link(struct vfs_nameidata *nd, struct vfs_dentry *d,
		       bool final)
{
	struct vfs_inode *inode = d->d_inode;
	const char *body;

	if (nd->flags & LOOKUP_NO_SYMLINKS)
		return -ELOOP;
	if (++nd->total_links > UK_MAXSYMLINKS)
		return -ELOOP;
	/* Following a link reads it: relatime applies (pick_link). */
	struct vfs_path link = { .mnt = nd->path.mnt, .dentry = d };
	vfs_touch_atime(&link);
	if (inode->i_op->get_link) {
		body = inode->i_op->get_link(d);
	} else if (inode->i_op->readlink) {
		/* A file system without stable bodies: copy (rare path). */
		char *buf = malloc(UK_PATH_MAX);
		long n;

		if (!buf)
			return -ENOMEM;
		n = inode->i_op->readlink(d, buf, UK_PATH_MAX - 1);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		buf[n] = '\0';
		int ret = walk_body(nd, strip_link_root(nd, buf), final);
		free(buf);
		return ret;
	} else {
		return -EINVAL;
	}
	if (!body || !*body)
		return -ENOENT;
	return walk_body(nd, strip_link_root(nd, body), final);
}

/*
 * Walks the components of p from nd->path (or the root if p is absolute).
 * final: p's last component is the walk's last (for the main path, and for
 * a symlink met as the last component of a final body). Leaves nd->path
 * at the result; with LOOKUP_PARENT and final, at the parent of the last
 * component, which is stored in nd->last.
 */
static int walk_body(struct vfs_nameidata *nd, const char *p, bool final)
{
	int ret;

	if (*p == '/') {
		if (nd->flags & LOOKUP_BENEATH)
			return -EXDEV;
		nd->path = nd->root;
		while (*p == '/')
			p++;
		if (!*p) {
			if (final) {
				nd->last_type = LAST_ROOT;
				nd->last = p;
				nd->last_len = 0;
			}
			return 0;
		}
	}
	for (;;) {
		const char *name = p;
		uint32_t len;
		bool last, slash = false;
		struct vfs_dentry *d;

		while (*p && *p != '/')
			p++;
		len = (uint32_t)(p - name);
		while (*p == '/') {
			p++;
			slash = true;
		}
		last = final && !*p;
		if (uk_unlikely(len > UK_NAME_MAX))
			return -ENAMETOOLONG;
		if (uk_unlikely(!vfs_is_dir(nd->path.dentry->d_inode)))
			return -ENOTDIR;
		ret = may_lookup(nd);
		if (ret)
			return ret;
		if (last && (nd->flags & LOOKUP_PARENT)) {
			nd->last = name;
			nd->last_len = len;
			nd->trailing_slash = slash;
			if (len == 1 && name[0] == '.')
				nd->last_type = LAST_DOT;
			else if (len == 2 && name[0] == '.' && name[1] == '.')
				nd->last_type = LAST_DOTDOT;
			else
				nd->last_type = LAST_NORM;
			return 0;
		}
		/* A trailing slash: follow and require a directory. */
		if (last && slash)
			nd->flags |= LOOKUP_FOLLOW | LOOKUP_DIRECTORY;
		if (name[0] == '.' && len == 1) {
			/* stays */
		} else if (name[0] == '.' && len == 2 && name[1] == '.') {
			ret = follow_dotdot(nd);
			if (ret)
				return ret;
		} else {
			struct vfs_inode *dir = nd->path.dentry->d_inode;

			/* A removed directory has no entries (IS_DEADDIR). */
			if (uk_unlikely(dir->i_nlink == 0))
				return -ENOENT;
			d = vfs_lookup_one(nd->vfs, nd->path.dentry, name, len);
			if (IS_ERR(d))
				return (int)PTR_ERR(d);
			if (!d->d_inode)
				return -ENOENT;
			if (uk_unlikely(S_ISLNK(d->d_inode->i_mode)) &&
			    (!last || slash ||
			     (nd->flags & LOOKUP_FOLLOW))) {
				ret = follow_link(nd, d, last);
				if (ret)
					return ret;
			} else {
				nd->path.dentry = d;
				ret = follow_mounts(nd);
				if (ret)
					return ret;
			}
		}
		if (slash && last)
			nd->trailing_slash = true;
		if (!*p)
			return 0;
	}
}

/*
 * Walks name with ns_lock held (see vfs.h). An empty name is the start
 * itself (LOOKUP_EMPTY; uk_getname already refused it otherwise). The
 * result must be a directory with LOOKUP_DIRECTORY or a trailing slash.
 */
int vfs_walk_locked(struct vfs_nameidata *nd, const char *name)
{
	int ret;

	nd->path = nd->start;
	nd->total_links = 0;
	nd->trailing_slash = false;
	if (!*name) {
		if (!(nd->flags & LOOKUP_EMPTY))
			return -ENOENT;
		if (nd->flags & LOOKUP_PARENT)
			return -ENOENT;
		return 0;
	}
	ret = walk_body(nd, name, true);
	if (ret)
		return ret;
	if (nd->flags & LOOKUP_PARENT)
		return 0;
	if ((nd->flags & LOOKUP_DIRECTORY) || nd->trailing_slash) {
		if (!vfs_is_dir(nd->path.dentry->d_inode))
			return -ENOTDIR;
	}
	return 0;
}

/*
 * Continues a LOOKUP_PARENT walk with a symlink's body met as the last
 * component (open with O_CREAT follows it to create the target): counts
 * the link (ELOOP over 40 or with NO_SYMLINKS) and walks body from
 * nd->path, leaving nd->path/nd->last at its parent and last component.
 */
int vfs_walk_continue(struct vfs_nameidata *nd, const char *body)
{
	if (nd->flags & LOOKUP_NO_SYMLINKS)
		return -ELOOP;
	if (++nd->total_links > UK_MAXSYMLINKS)
		return -ELOOP;
	if (!*body)
		return -ENOENT;
	nd->trailing_slash = false;
	return walk_body(nd, body, true);
}

/* Resolves (dfd, name) to a referenced path; takes ns_lock for reading. */
int vfs_path_lookupat(struct uk_task *task, int dfd, const char *name,
		      unsigned int flags, struct vfs_path *out)
{
	struct uk_vfs *vfs = task->kernel->vfs;
	struct vfs_nameidata nd;
	int ret;

	pthread_rwlock_rdlock(&vfs->ns_lock);
	ret = vfs_nd_init_locked(&nd, task, dfd, name, flags);
	if (ret) {
		pthread_rwlock_unlock(&vfs->ns_lock);
		return ret;
	}
	ret = vfs_walk_locked(&nd, name);
	if (!ret) {
		*out = nd.path;
		vfs_path_get(out);
	}
	pthread_rwlock_unlock(&vfs->ns_lock);
	vfs_nd_done(&nd);
	vfs_dcache_maybe_prune(vfs);
	return ret;
}

int vfs_user_path_at(struct uk_task *task, int dfd, uk_uptr name,
		     unsigned int flags, struct vfs_path *out)
{
	char buf[UK_PATH_MAX];
	long len = uk_getname(task, name, buf, flags & LOOKUP_EMPTY);

	if (len < 0)
		return (int)len;
	return vfs_path_lookupat(task, dfd, buf, flags, out);
}

/*
 * The path of p from root, written at the end of buf and moved to its
 * start; returns the length (without the NUL) or -ENAMETOOLONG (does not
 * fit size) / -ENOENT (p was removed). ns_lock held.
 */
long vfs_d_path(const struct vfs_path *p, const struct vfs_path *root,
		char *buf, size_t size)
{
	struct vfs_mount *mnt = p->mnt;
	struct vfs_dentry *d = p->dentry;
	char *end = buf + size, *s = end;
	size_t len;

	if (size < 1)
		return -ERANGE;
	*--s = '\0';
	if (!(d->d_flags & VFS_D_HASHED) && !vfs_d_is_root(d))
		return -ENOENT;
	while (!(d == root->dentry && mnt == root->mnt)) {
		if (d == mnt->mnt_root) {
			if (mnt->mnt_parent == mnt)
				break; /* outside the root: stop at the top */
			d = mnt->mnt_mountpoint;
			mnt = mnt->mnt_parent;
			continue;
		}
		if ((size_t)(s - buf) < d->d_namelen + 1)
			return -ERANGE;
		s -= d->d_namelen;
		memcpy(s, d->d_name, d->d_namelen);
		*--s = '/';
		d = d->d_parent;
	}
	if (*s == '\0') {
		if (s == buf)
			return -ERANGE;
		*--s = '/';
	}
	len = (size_t)(end - s) - 1;
	memmove(buf, s, len + 1);
	return (long)len;
}
