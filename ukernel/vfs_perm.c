/* SPDX-License-Identifier: MIT */
/*
 * ukernel/vfs_perm.c - permission checks as Linux's fs/namei.c and
 * kernel/capability.c make them: owner/group/other bits against fsuid,
 * fsgid and the supplementary groups, and root's capabilities (a task with
 * fsuid 0 holds the file capabilities CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
 * CAP_FOWNER, CAP_CHOWN, CAP_FSETID; euid 0 holds CAP_MKNOD), the sticky
 * bit, and read-only mounts.
 */
#include "vfs.h"

bool vfs_in_group(const struct uk_cred *c, gid_t gid)
{
	if (c->fsgid == gid)
		return true;
	for (unsigned int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/*
 * Whether c holds cap. File capabilities follow fsuid (Linux drops them
 * when fsuid leaves 0, and gives them back when it returns); the others
 * follow euid.
 */
bool vfs_capable(const struct uk_cred *c, int cap)
{
	switch (cap) {
	case UK_CAP_CHOWN:
	case UK_CAP_DAC_OVERRIDE:
	case UK_CAP_DAC_READ_SEARCH:
	case UK_CAP_FOWNER:
	case UK_CAP_FSETID:
		return c->fsuid == 0;
	default:
		return c->euid == 0;
	}
}

bool vfs_owner_or_capable(const struct uk_cred *c,
			  const struct vfs_inode *inode)
{
	return c->fsuid == inode->i_uid || vfs_capable(c, UK_CAP_FOWNER);
}

/*
 * generic_permission: mask is MAY_READ|MAY_WRITE|MAY_EXEC. Returns 0 or
 * -EACCES. The class is chosen once (owner, else group, else other) as
 * Linux does: an owner without the bit is refused even if "other" has it.
 * Then CAP_DAC_OVERRIDE allows read/write always and exec on directories
 * or when some x bit is set; CAP_DAC_READ_SEARCH allows reading and
 * searching directories and reading files.
 */
int vfs_permission_cred(const struct uk_cred *c, struct vfs_inode *inode,
			int mask)
{
	mode_t mode = inode->i_mode;
	int want = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
	int have;

	if (c->fsuid == inode->i_uid)
		have = (mode >> 6) & 7;
	else if (vfs_in_group(c, inode->i_gid))
		have = (mode >> 3) & 7;
	else
		have = mode & 7;
	if ((want & ~have) == 0)
		return 0;
	if (vfs_capable(c, UK_CAP_DAC_OVERRIDE)) {
		if (!(want & MAY_EXEC) || S_ISDIR(mode) ||
		    (mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
			return 0;
		return -EACCES;
	}
	if (vfs_capable(c, UK_CAP_DAC_READ_SEARCH)) {
		if (want == MAY_READ ||
		    (S_ISDIR(mode) && !(want & MAY_WRITE)))
			return 0;
	}
	return -EACCES;
}

/* inode_permission for the task's credentials. */
int vfs_permission(struct uk_task *t, struct vfs_inode *inode, int mask)
{
	return vfs_permission_cred(&t->cred, inode, mask);
}

/*
 * check_sticky: in a sticky directory only the file's owner, the
 * directory's owner or CAP_FOWNER may remove or rename an entry. Returns
 * true when c may NOT.
 */
bool vfs_check_sticky(const struct uk_cred *c, const struct vfs_inode *dir,
		      const struct vfs_inode *inode)
{
	if (!(dir->i_mode & S_ISVTX))
		return false;
	if (c->fsuid == inode->i_uid || c->fsuid == dir->i_uid)
		return false;
	return !vfs_capable(c, UK_CAP_FOWNER);
}

int vfs_mnt_want_write(const struct vfs_mount *mnt)
{
	if ((mnt->mnt_flags & VFS_MNT_RDONLY) ||
	    (mnt->mnt_sb->s_flags & VFS_SB_RDONLY))
		return -EROFS;
	return 0;
}

/*
 * may_create: a new entry in dir needs dir alive (-ENOENT once removed)
 * and write+search permission on it (-EACCES).
 */
int vfs_may_create(struct uk_task *t, struct vfs_inode *dir)
{
	if (dir->i_nlink == 0)
		return -ENOENT;
	return vfs_permission(t, dir, MAY_WRITE | MAY_EXEC);
}

/*
 * may_delete: removing (or renaming away) victim from dir. -ENOENT for a
 * negative victim, -EACCES without write+search on dir, -EPERM for the
 * sticky bit, -ENOTDIR/-EISDIR for the wrong kind, -EBUSY for a mount
 * point or a root.
 */
int vfs_may_delete(struct uk_task *t, struct vfs_inode *dir,
		   struct vfs_dentry *victim, bool isdir)
{
	struct vfs_inode *inode = victim->d_inode;
	int ret;

	if (!inode)
		return -ENOENT;
	ret = vfs_permission(t, dir, MAY_WRITE | MAY_EXEC);
	if (ret)
		return ret;
	if (vfs_check_sticky(&t->cred, dir, inode))
		return -EPERM;
	if (isdir) {
		if (!S_ISDIR(inode->i_mode))
			return -ENOTDIR;
		if (vfs_d_is_root(victim))
			return -EBUSY;
	} else if (S_ISDIR(inode->i_mode)) {
		return -EISDIR;
	}
	if (victim->d_mounted)
		return -EBUSY;
	return 0;
}

/*
 * The permission bits of a new non-directory: mode less the umask, and
 * (mode_strip_sgid) without S_ISGID when it is group-executable in a setgid
 * directory whose group the creator is not in, unless CAP_FSETID.
 */
mode_t vfs_prepare_mode(struct uk_task *t, const struct vfs_inode *dir,
			mode_t mode)
{
	mode &= 07777 & ~t->fs->umask;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
	    (dir->i_mode & S_ISGID) && !vfs_in_group(&t->cred, dir->i_gid) &&
	    !vfs_capable(&t->cred, UK_CAP_FSETID))
		mode &= ~S_ISGID;
	return mode;
}
