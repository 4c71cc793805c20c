// SPDX-License-Identifier: MIT
/*
 * tests/posix/backend_uk.c - the battery's in-process backend: every step
 * goes through uk_dispatch() on a kernel of our own, on its root tmpfs or on
 * a ukfs image mounted at its root. Pointers are this process's, which is
 * what uaccess expects of an in-process kernel, so EFAULT rows work too.
 *
 * Identity follows the host backend: root steps run on a root task, and an
 * unprivileged stretch runs on a task forked from it that drops to
 * PB_USER_UID with setgroups/setresgid/setresuid, as the forked child does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "battery.h"
#include "uk.h"
#include "uk_err.h"

struct uk_backend {
	struct uk_kernel *k;
	struct uk_task *root, *user;
	struct uk_task *cur;
};

static struct uk_backend ukb;

/* Lists a directory with open + getdents64 + close through the kernel. */
static long uk_listdir(struct uk_task *t, const char *path, char *buf,
		       size_t size)
{
	unsigned long a[6] = { (unsigned long)path,
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC };
	char dents[4096];
	size_t used = 0;
	long fd, n;

	fd = uk_dispatch(t, SYS_open, a);
	if (fd < 0)
		return fd;
	for (;;) {
		unsigned long g[6] = { (unsigned long)fd,
				       (unsigned long)dents, sizeof(dents) };

		n = uk_dispatch(t, SYS_getdents64, g);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			const char *name = dents + off + 19;
			size_t len = strlen(name) + 1;

			memcpy(&reclen, dents + off + 16, sizeof(reclen));
			off += reclen;
			if (!strcmp(name, ".") || !strcmp(name, ".."))
				continue;
			if (used + len > size) {
				n = -ERANGE;
				goto out;
			}
			memcpy(buf + used, name, len);
			used += len;
		}
	}
out:
	a[0] = (unsigned long)fd;
	uk_dispatch(t, SYS_close, a);
	return n < 0 ? n : (long)used;
}

static long uk_syscall(struct pb_backend *b, long nr, const unsigned long a[6])
{
	(void)b;
	if (nr == PB_NR_LISTDIR)
		return uk_listdir(ukb.cur, (const char *)a[0], (char *)a[1],
				  a[2]);
	return uk_dispatch(ukb.cur, (unsigned long)nr, a);
}

static bool uk_user_begin(struct pb_backend *b, int *status)
{
	const gid_t groups[] = { PB_USER_GROUP };
	const unsigned long sg[6] = { 1, (unsigned long)groups };
	const unsigned long gids[6] = { PB_USER_GID, PB_USER_GID, PB_USER_GID };
	const unsigned long uids[6] = { PB_USER_UID, PB_USER_UID, PB_USER_UID };

	(void)b;
	*status = 0;
	ukb.user = uk_task_fork(ukb.root, 2);
	if (IS_ERR_OR_NULL(ukb.user) ||
	    uk_dispatch(ukb.user, SYS_setgroups, sg) ||
	    uk_dispatch(ukb.user, SYS_setresgid, gids) ||
	    uk_dispatch(ukb.user, SYS_setresuid, uids)) {
		printf("posix_battery: uk: no unprivileged task\n");
		abort();
	}
	ukb.cur = ukb.user;
	return true;
}

static void uk_user_end(struct pb_backend *b, int status)
{
	(void)b;
	(void)status;
	uk_task_exit(ukb.user);
	ukb.user = NULL;
	ukb.cur = ukb.root;
}

int pb_uk_init(struct pb_backend *b, const char *image)
{
	struct uk_cred cred;

	ukb.k = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(ukb.k))
		return -ENOMEM;
	if (image) {
		struct uk_image_opts o = { .cache_size = 32u << 20 };
		char err[256];
		int ret = uk_kernel_mount_image(ukb.k, image, &o, err,
						sizeof(err));
		if (ret) {
			printf("posix_battery: mount %s: %s\n", image, err);
			uk_kernel_free(ukb.k);
			return ret;
		}
	}
	uk_cred_init(&cred, 0, 0);
	ukb.root = uk_task_new(ukb.k, 1, &cred);
	if (IS_ERR_OR_NULL(ukb.root)) {
		uk_kernel_free(ukb.k);
		return -ENOMEM;
	}
	ukb.cur = ukb.root;
	*b = (struct pb_backend){
		.name = image ? "uk-ukfs" : "uk-tmpfs",
		.syscall = uk_syscall,
		.user_begin = uk_user_begin,
		.user_end = uk_user_end,
		.priv = &ukb,
	};
	return 0;
}

void pb_uk_fini(struct pb_backend *b)
{
	(void)b;
	uk_task_exit(ukb.root);
	uk_kernel_free(ukb.k);
	ukb = (struct uk_backend){ 0 };
}
