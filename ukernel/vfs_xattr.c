// SPDX-License-Identifier: MIT
/*
 * ukernel/vfs_xattr.c - extended attributes: the checked cores that the
 * xattr syscalls call (Linux's vfs_getxattr, vfs_setxattr, vfs_listxattr,
 * vfs_removexattr with xattr_permission and the namespace resolution), and
 * the generic in-memory store used by file systems without xattr ops
 * (tmpfs), as Linux's simple_xattrs.
 *
 * Namespaces: user.* (regular files and directories only; the file's read
 * or write permission; in a sticky directory only its owner may write) and
 * trusted.* (CAP_SYS_ADMIN only; hidden from listxattr otherwise). Any
 * other prefix is EOPNOTSUPP; a bare "user." or "trusted." is EINVAL.
 *
 * Sections: the generic store, permission and namespaces, the cores.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "vfs_extras.h"
#include "vfs_notify.h"

#define XATTR_USER_PREFIX "user."
#define XATTR_TRUSTED_PREFIX "trusted."

/* ---- the generic store ------------------------------------------------ */

/*
 * One attribute on inode->i_xattrs. The list is kept in descending strcmp
 * order of names, the order in which Linux's tmpfs lists them.
 */
struct vfs_simple_xattr {
	struct vfs_simple_xattr *next;
	char *name;
	size_t size;
	char value[];
};

/* The link that points at name's entry or where it would go. */
static struct vfs_simple_xattr **
simple_xattr_find(struct vfs_inode *inode, const char *name, bool *found)
{
	struct vfs_simple_xattr **pp =
		(struct vfs_simple_xattr **)&inode->i_xattrs;
	int cmp;

	*found = false;
	for (; *pp; pp = &(*pp)->next) {
		cmp = strcmp((*pp)->name, name);
		if (cmp == 0)
			*found = true;
		if (cmp <= 0)
			break;
	}
	return pp;
}

long vfs_simple_xattr_get(struct vfs_inode *inode, const char *name,
			  void *value, size_t size)
{
	struct vfs_simple_xattr **pp;
	bool found;
	long ret;

	pthread_mutex_lock(&inode->i_xattr_lock);
	pp = simple_xattr_find(inode, name, &found);
	if (!found) {
		ret = -ENODATA;
	} else {
		ret = (long)(*pp)->size;
		if (size) {
			if (size < (*pp)->size)
				ret = -ERANGE;
			else
				memcpy(value, (*pp)->value, (*pp)->size);
		}
	}
	pthread_mutex_unlock(&inode->i_xattr_lock);
	return ret;
}

/*
 * Sets (value != NULL) or removes (value == NULL) name. XATTR_CREATE fails
 * with -EEXIST on an existing name, XATTR_REPLACE with -ENODATA on a missing
 * one; removing a missing name is -ENODATA. Updates ctime on a change.
 */
static int simple_xattr_set(struct vfs_inode *inode, const char *name,
			    const void *value, size_t size, int flags)
{
	struct vfs_simple_xattr **pp, *old = NULL, *new = NULL;
	size_t len;
	bool found;
	int ret = 0;

	if (value) {
		len = strlen(name) + 1;
		new = malloc(sizeof(*new) + size + len);
		if (!new)
			return -ENOMEM;
		new->size = size;
		memcpy(new->value, value, size);
		new->name = new->value + size;
		memcpy(new->name, name, len);
	}

	pthread_mutex_lock(&inode->i_xattr_lock);
	pp = simple_xattr_find(inode, name, &found);
	if (found) {
		if (flags & XATTR_CREATE) {
			ret = -EEXIST;
			goto out_unlock;
		}
		old = *pp;
		*pp = old->next;
	} else if ((flags & XATTR_REPLACE) || !value) {
		ret = -ENODATA;
		goto out_unlock;
	}
	if (new) {
		new->next = *pp;
		*pp = new;
		new = NULL;
	}
out_unlock:
	pthread_mutex_unlock(&inode->i_xattr_lock);
	free(new);
	free(old);
	if (!ret) {
		pthread_mutex_lock(&inode->i_lock);
		vfs_inode_touch_ctime(inode);
		pthread_mutex_unlock(&inode->i_lock);
	}
	return ret;
}

int vfs_simple_xattr_set(struct vfs_inode *inode, const char *name,
			 const void *value, size_t size, int flags)
{
	return simple_xattr_set(inode, name, value ? value : "", size, flags);
}

int vfs_simple_xattr_remove(struct vfs_inode *inode, const char *name)
{
	return simple_xattr_set(inode, name, NULL, 0, XATTR_REPLACE);
}

long vfs_simple_xattr_list(struct vfs_inode *inode, char *list, size_t size,
			   bool with_trusted)
{
	struct vfs_simple_xattr *x;
	size_t used = 0, len;
	long ret = 0;

	pthread_mutex_lock(&inode->i_xattr_lock);
	for (x = inode->i_xattrs; x; x = x->next) {
		if (!with_trusted && !strncmp(x->name, XATTR_TRUSTED_PREFIX,
					      strlen(XATTR_TRUSTED_PREFIX)))
			continue;
		len = strlen(x->name) + 1;
		if (size) {
			if (size - used < len) {
				ret = -ERANGE;
				break;
			}
			memcpy(list + used, x->name, len);
		}
		used += len;
	}
	pthread_mutex_unlock(&inode->i_xattr_lock);
	return ret ? ret : (long)used;
}

void vfs_xattrs_inode_free(struct vfs_inode *inode)
{
	struct vfs_simple_xattr *x = inode->i_xattrs, *next;

	for (; x; x = next) {
		next = x->next;
		free(x);
	}
	inode->i_xattrs = NULL;
}

/* ---- permission and namespaces --------------------------------------- */

static bool has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}

/* CAP_SYS_ADMIN follows the effective uid (it is not a file system cap). */
static bool xattr_capable_admin(const struct uk_task *t)
{
	return t->cred.euid == 0;
}

/*
 * xattr_permission: may t read (MAY_READ) or write (MAY_WRITE) the
 * attribute name of inode? 0, or -EPERM/-ENODATA for a namespace the inode
 * or the caller cannot have, or what vfs_permission says.
 */
static int xattr_permission(struct uk_task *t, struct vfs_inode *inode,
			    const char *name, int mask)
{
	if (has_prefix(name, XATTR_TRUSTED_PREFIX)) {
		if (!xattr_capable_admin(t))
			return (mask & MAY_WRITE) ? -EPERM : -ENODATA;
		return 0;
	}
	if (has_prefix(name, XATTR_USER_PREFIX)) {
		if (!S_ISREG(inode->i_mode) && !S_ISDIR(inode->i_mode))
			return (mask & MAY_WRITE) ? -EPERM : -ENODATA;
		if (S_ISDIR(inode->i_mode) && (inode->i_mode & S_ISVTX) &&
		    (mask & MAY_WRITE) &&
		    !vfs_owner_or_capable(&t->cred, inode))
			return -EPERM;
	}
	return vfs_permission(t, inode, mask);
}

/*
 * xattr_resolve_name: 0 for a name in a namespace we store, -EINVAL for a
 * bare prefix, -EOPNOTSUPP for any other namespace.
 */
static int xattr_resolve_name(const char *name)
{
	static const char *const prefixes[] = {
		XATTR_USER_PREFIX,
		XATTR_TRUSTED_PREFIX,
	};
	size_t i;

	for (i = 0; i < UK_ARRAY_SIZE(prefixes); i++) {
		if (!has_prefix(name, prefixes[i]))
			continue;
		return name[strlen(prefixes[i])] ? 0 : -EINVAL;
	}
	return -EOPNOTSUPP;
}

/* ---- the cores --------------------------------------------------------- */

long vfs_getxattr(struct uk_task *t, struct vfs_dentry *d, const char *name,
		  void *value, size_t size)
{
	struct vfs_inode *inode = d->d_inode;
	long ret;

	ret = xattr_permission(t, inode, name, MAY_READ);
	if (ret)
		return ret;
	ret = xattr_resolve_name(name);
	if (ret)
		return ret;
	if (inode->i_op && inode->i_op->getxattr)
		return inode->i_op->getxattr(d, name, value, size);
	return vfs_simple_xattr_get(inode, name, value, size);
}

/* The checks before a change of name on path, in Linux's order. */
static int xattr_may_change(struct uk_task *t, const struct vfs_path *path,
			    const char *name)
{
	int ret;

	ret = vfs_mnt_want_write(path->mnt);
	if (ret)
		return ret;
	ret = xattr_permission(t, path->dentry->d_inode, name, MAY_WRITE);
	if (ret)
		return ret;
	return xattr_resolve_name(name);
}

int vfs_setxattr(struct uk_task *t, const struct vfs_path *path,
		 const char *name, const void *value, size_t size, int flags)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	int ret;

	ret = xattr_may_change(t, path, name);
	if (ret)
		return ret;
	if (!size)
		value = ""; /* an empty value, not a removal */
	if (inode->i_op && inode->i_op->setxattr)
		ret = inode->i_op->setxattr(path->dentry, name, value, size,
					    flags);
	else
		ret = vfs_simple_xattr_set(inode, name, value, size, flags);
	if (!ret)
		vfs_notify_inode(t, inode, UK_NOTIFY_ATTR, 0, 0);
	return ret;
}

long vfs_listxattr(struct uk_task *t, struct vfs_dentry *d, char *list,
		   size_t size)
{
	struct vfs_inode *inode = d->d_inode;

	if (inode->i_op && inode->i_op->listxattr)
		return inode->i_op->listxattr(d, list, size);
	return vfs_simple_xattr_list(inode, list, size, xattr_capable_admin(t));
}

int vfs_removexattr(struct uk_task *t, const struct vfs_path *path,
		    const char *name)
{
	struct vfs_inode *inode = path->dentry->d_inode;
	int ret;

	ret = xattr_may_change(t, path, name);
	if (ret)
		return ret;
	if (inode->i_op && inode->i_op->removexattr)
		ret = inode->i_op->removexattr(path->dentry, name);
	else
		ret = vfs_simple_xattr_remove(inode, name);
	if (!ret)
		vfs_notify_inode(t, inode, UK_NOTIFY_ATTR, 0, 0);
	return ret;
}
