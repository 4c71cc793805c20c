// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_xattr.c - the twelve xattr syscalls (get/set/list/remove, each
 * by path, by path without following a final symlink, and by fd). They copy
 * names and values in and out of user memory, in Linux's order (the name
 * and value are checked before the path or fd), resolve the file, and call
 * the checked cores of vfs_xattr.c.
 */
#include <stdlib.h>
#include <sys/xattr.h>

#include "vfs_extras.h"

/*
 * Copies an attribute name (at most 255 bytes) into kname, which holds
 * VFS_XATTR_NAME_MAX + 1 bytes. 0, -EFAULT, or -ERANGE for an empty or
 * too long name.
 */
static int import_xattr_name(struct uk_task *t, char *kname, uk_uptr uname)
{
	long n = t->mm->strncpy_from(t, kname, uname, VFS_XATTR_NAME_MAX + 1);

	if (n < 0)
		return (int)n;
	if (n == 0 || n > VFS_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

/*
 * setxattr_copy: checks flags, copies the name and the value (into
 * *kvalue, malloc'ed, NULL for an empty value; the caller frees it).
 */
static int setxattr_copy(struct uk_task *t, uk_uptr uname, uk_uptr uvalue,
			 size_t size, int flags, char *kname, void **kvalue)
{
	int ret;

	*kvalue = NULL;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	ret = import_xattr_name(t, kname, uname);
	if (ret)
		return ret;
	if (!size)
		return 0;
	if (size > VFS_XATTR_SIZE_MAX)
		return -E2BIG;
	*kvalue = malloc(size);
	if (!*kvalue)
		return -ENOMEM;
	ret = copy_from_user(t, *kvalue, uvalue, size);
	if (ret) {
		free(*kvalue);
		*kvalue = NULL;
	}
	return ret;
}

static long path_setxattr(struct uk_task *t, uk_uptr upath, uk_uptr uname,
			  uk_uptr uvalue, size_t size, int flags,
			  unsigned int lookup_flags)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_path path;
	void *kvalue;
	long ret;

	ret = setxattr_copy(t, uname, uvalue, size, flags, kname, &kvalue);
	if (ret)
		return ret;
	ret = vfs_user_path_at(t, AT_FDCWD, upath, lookup_flags, &path);
	if (ret)
		goto out_free;
	ret = vfs_setxattr(t, &path, kname, kvalue, size, flags);
	vfs_path_put(&path);
out_free:
	free(kvalue);
	return ret;
}

SYSCALL_DEFINE5(setxattr, uk_uptr, pathname, uk_uptr, name, uk_uptr, value,
		size_t, size, int, flags)
{
	return path_setxattr(task, pathname, name, value, size, flags,
			     LOOKUP_FOLLOW);
}

SYSCALL_DEFINE5(lsetxattr, uk_uptr, pathname, uk_uptr, name, uk_uptr, value,
		size_t, size, int, flags)
{
	return path_setxattr(task, pathname, name, value, size, flags, 0);
}

SYSCALL_DEFINE5(fsetxattr, unsigned int, fd, uk_uptr, name, uk_uptr, value,
		size_t, size, int, flags)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_file *f;
	void *kvalue;
	long ret;

	ret = setxattr_copy(task, name, value, size, flags, kname, &kvalue);
	if (ret)
		return ret;
	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f)) {
		ret = f ? PTR_ERR(f) : -EBADF;
		goto out_free;
	}
	ret = vfs_setxattr(task, &f->f_path, kname, kvalue, size, flags);
	vfs_fput(f);
out_free:
	free(kvalue);
	return ret;
}

/*
 * do_getxattr: reads name of d into a kernel buffer of at most
 * VFS_XATTR_SIZE_MAX bytes and copies it out. Returns the size, -ERANGE,
 * -E2BIG for a value that cannot fit any buffer, -EFAULT, ...
 */
static long do_getxattr(struct uk_task *t, struct vfs_dentry *d,
			const char *kname, uk_uptr uvalue, size_t size)
{
	void *kvalue = NULL;
	long ret;

	if (size) {
		if (size > VFS_XATTR_SIZE_MAX)
			size = VFS_XATTR_SIZE_MAX;
		kvalue = malloc(size);
		if (!kvalue)
			return -ENOMEM;
	}
	ret = vfs_getxattr(t, d, kname, kvalue, size);
	if (ret > 0) {
		if (size && copy_to_user(t, uvalue, kvalue, (size_t)ret))
			ret = -EFAULT;
	} else if (ret == -ERANGE && size >= VFS_XATTR_SIZE_MAX) {
		ret = -E2BIG;
	}
	free(kvalue);
	return ret;
}

static long path_getxattr(struct uk_task *t, uk_uptr upath, uk_uptr uname,
			  uk_uptr uvalue, size_t size,
			  unsigned int lookup_flags)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_path path;
	long ret;

	ret = import_xattr_name(t, kname, uname);
	if (ret)
		return ret;
	ret = vfs_user_path_at(t, AT_FDCWD, upath, lookup_flags, &path);
	if (ret)
		return ret;
	ret = do_getxattr(t, path.dentry, kname, uvalue, size);
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE4(getxattr, uk_uptr, pathname, uk_uptr, name, uk_uptr, value,
		size_t, size)
{
	return path_getxattr(task, pathname, name, value, size, LOOKUP_FOLLOW);
}

SYSCALL_DEFINE4(lgetxattr, uk_uptr, pathname, uk_uptr, name, uk_uptr, value,
		size_t, size)
{
	return path_getxattr(task, pathname, name, value, size, 0);
}

SYSCALL_DEFINE4(fgetxattr, unsigned int, fd, uk_uptr, name, uk_uptr, value,
		size_t, size)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_file *f;
	long ret;

	ret = import_xattr_name(task, kname, name);
	if (ret)
		return ret;
	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f))
		return f ? PTR_ERR(f) : -EBADF;
	ret = do_getxattr(task, f->f_path.dentry, kname, value, size);
	vfs_fput(f);
	return ret;
}

/* listxattr's core: the names into a buffer of at most XATTR_LIST_MAX. */
static long do_listxattr(struct uk_task *t, struct vfs_dentry *d, uk_uptr ulist,
			 size_t size)
{
	char *klist = NULL;
	long ret;

	if (size) {
		if (size > VFS_XATTR_LIST_MAX)
			size = VFS_XATTR_LIST_MAX;
		klist = malloc(size);
		if (!klist)
			return -ENOMEM;
	}
	ret = vfs_listxattr(t, d, klist, size);
	if (ret > 0) {
		if (size && copy_to_user(t, ulist, klist, (size_t)ret))
			ret = -EFAULT;
	} else if (ret == -ERANGE && size >= VFS_XATTR_LIST_MAX) {
		ret = -E2BIG;
	}
	free(klist);
	return ret;
}

static long path_listxattr(struct uk_task *t, uk_uptr upath, uk_uptr ulist,
			   size_t size, unsigned int lookup_flags)
{
	struct vfs_path path;
	long ret;

	ret = vfs_user_path_at(t, AT_FDCWD, upath, lookup_flags, &path);
	if (ret)
		return ret;
	ret = do_listxattr(t, path.dentry, ulist, size);
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE3(listxattr, uk_uptr, pathname, uk_uptr, list, size_t, size)
{
	return path_listxattr(task, pathname, list, size, LOOKUP_FOLLOW);
}

SYSCALL_DEFINE3(llistxattr, uk_uptr, pathname, uk_uptr, list, size_t, size)
{
	return path_listxattr(task, pathname, list, size, 0);
}

SYSCALL_DEFINE3(flistxattr, unsigned int, fd, uk_uptr, list, size_t, size)
{
	struct vfs_file *f;
	long ret;

	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f))
		return f ? PTR_ERR(f) : -EBADF;
	ret = do_listxattr(task, f->f_path.dentry, list, size);
	vfs_fput(f);
	return ret;
}

static long path_removexattr(struct uk_task *t, uk_uptr upath, uk_uptr uname,
			     unsigned int lookup_flags)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_path path;
	long ret;

	ret = import_xattr_name(t, kname, uname);
	if (ret)
		return ret;
	ret = vfs_user_path_at(t, AT_FDCWD, upath, lookup_flags, &path);
	if (ret)
		return ret;
	ret = vfs_removexattr(t, &path, kname);
	vfs_path_put(&path);
	return ret;
}

SYSCALL_DEFINE2(removexattr, uk_uptr, pathname, uk_uptr, name)
{
	return path_removexattr(task, pathname, name, LOOKUP_FOLLOW);
}

SYSCALL_DEFINE2(lremovexattr, uk_uptr, pathname, uk_uptr, name)
{
	return path_removexattr(task, pathname, name, 0);
}

SYSCALL_DEFINE2(fremovexattr, unsigned int, fd, uk_uptr, name)
{
	char kname[VFS_XATTR_NAME_MAX + 1];
	struct vfs_file *f;
	long ret;

	ret = import_xattr_name(task, kname, name);
	if (ret)
		return ret;
	f = vfs_fget_io(task, fd);
	if (IS_ERR_OR_NULL(f))
		return f ? PTR_ERR(f) : -EBADF;
	ret = vfs_removexattr(task, &f->f_path, kname);
	vfs_fput(f);
	return ret;
}
