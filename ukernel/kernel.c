// SPDX-License-Identifier: MIT
/*
 * ukernel/kernel.c - a kernel instance: its options, statistics, policy
 * and trace slots, and the VFS (root tmpfs) hanging off it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "fs_ukfs.h"

#define UK_DEFAULT_TMPFS_SIZE (1ull << 30)
#define UK_DEFAULT_TMPFS_INODES (1ull << 20)
#define UK_DEFAULT_NR_OPEN 1024u

/*
 * Fills the defaults in, then sets up stats, the uaccess fault handler and
 * the VFS. Returns the kernel or ERR_PTR(-errno).
 */
struct uk_kernel *uk_kernel_new(const struct uk_kernel_opts *opts)
{
	struct uk_kernel *k;
	int ret;

	k = calloc(1, sizeof(*k));
	if (!k)
		return ERR_PTR(-ENOMEM);
	if (opts)
		k->opts = *opts;
	if (!k->opts.tmpfs_size)
		k->opts.tmpfs_size = UK_DEFAULT_TMPFS_SIZE;
	if (!k->opts.tmpfs_inodes)
		k->opts.tmpfs_inodes = UK_DEFAULT_TMPFS_INODES;
	if (!k->opts.nr_open)
		k->opts.nr_open = UK_DEFAULT_NR_OPEN;
	atomic_init(&k->trace, NULL);
	atomic_init(&k->policy, NULL);
	/* pids handed to tasks created without a host pid start here */
	atomic_init(&k->next_pid, 1);
	atomic_init(&k->notifiers, NULL);
	atomic_init(&k->notify_active, 0);
	pthread_mutex_init(&k->notify_lock, NULL);

	ret = uk_uaccess_init();
	if (ret)
		goto err_free;
	ret = uk_stats_init(k);
	if (ret)
		goto err_free;
	ret = uk_vfs_init(k);
	if (ret)
		goto err_stats;
	return k;

err_stats:
	uk_stats_exit(k);
err_free:
	free(k);
	return ERR_PTR(ret);
}

/*
 * Every task must have exited. A tracer still attached belongs to its
 * owner and is left alone.
 */
void uk_kernel_free(struct uk_kernel *k)
{
	if (!k)
		return;
	uk_vfs_exit(k);
	uk_policy_exit(k);
	uk_stats_exit(k);
	pthread_mutex_destroy(&k->notify_lock);
	free(k);
}

/*
 * Mounts the ukfs image in image_dir at the root in place of the empty
 * root tmpfs (see uk.h). Returns 0 or -errno with a message in errbuf.
 */
int uk_kernel_mount_image(struct uk_kernel *k, const char *image_dir,
			  const struct uk_image_opts *opts, char *errbuf,
			  size_t errlen)
{
	struct vfs_super *sb;
	int ret;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	sb = ukfs_fill_super(k->vfs, image_dir, opts, errbuf, errlen);
	if (IS_ERR(sb))
		return (int)PTR_ERR(sb);
	ret = vfs_mount_root_sb(k->vfs, sb);
	if (ret && errbuf && errlen)
		snprintf(errbuf, errlen, "%s: cannot replace the root: %s",
			 image_dir, strerror(-ret));
	return ret;
}

/* sync(2) for the root file system (ukerneld's SIGTERM). */
int uk_kernel_sync(struct uk_kernel *k)
{
	struct vfs_super *sb = k->vfs->root_mnt->mnt_sb;

	if (!sb->s_op->sync_fs)
		return 0;
	return sb->s_op->sync_fs(sb, true);
}
