// SPDX-License-Identifier: MIT
/*
 * tests/posix/backend_host.c - the battery's host backend: every step is
 * made through libc's wrapper (never syscall(2)), because that is what the
 * shim interposes; on a native directory or a FUSE mount the wrapper ends
 * in the host kernel. Results are turned into the kernel's convention
 * (>= 0 or -errno) right after the call.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "battery.h"

static int (*volatile open_fn)(const char *, int, ...) = open;

static long ret_of(long r)
{
	return r < 0 ? -errno : r;
}

/* The names in a directory but "." and "..", NUL-separated, into buf. */
static long host_listdir(const char *path, char *buf, size_t size)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t used = 0;

	if (!d)
		return -errno;
	errno = 0;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name) + 1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (used + n > size) {
			closedir(d);
			return -ERANGE;
		}
		memcpy(buf + used, de->d_name, n);
		used += n;
	}
	long ret = errno ? -errno : (long)used;
	closedir(d);
	return ret;
}

static long host_syscall(struct pb_backend *b, long nr,
			 const unsigned long a[6])
{
	const char *p0 = (const char *)a[0], *p1 = (const char *)a[1];
	int fd = (int)a[0];

	(void)b;
	errno = 0;
	switch (nr) {
	case SYS_read:
		return ret_of(read(fd, (void *)a[1], a[2]));
	case SYS_write:
		return ret_of(write(fd, (const void *)a[1], a[2]));
	case SYS_open:
		/* through a pointer: open(NULL) is a row, not UB to report */
		return ret_of(open_fn(p0, (int)a[1], (mode_t)a[2]));
	case SYS_close:
		return ret_of(close(fd));
	case SYS_stat:
		return ret_of(stat(p0, (struct stat *)a[1]));
	case SYS_fstat:
		return ret_of(fstat(fd, (struct stat *)a[1]));
	case SYS_lstat:
		return ret_of(lstat(p0, (struct stat *)a[1]));
	case SYS_lseek:
		return ret_of(lseek(fd, (off_t)a[1], (int)a[2]));
	case SYS_pread64:
		return ret_of(pread(fd, (void *)a[1], a[2], (off_t)a[3]));
	case SYS_access:
		return ret_of(access(p0, (int)a[1]));
	case SYS_fsync:
		return ret_of(fsync(fd));
	case SYS_truncate:
		return ret_of(truncate(p0, (off_t)a[1]));
	case SYS_ftruncate:
		return ret_of(ftruncate(fd, (off_t)a[1]));
	case SYS_rename:
		return ret_of(rename(p0, p1));
	case SYS_mkdir:
		return ret_of(mkdir(p0, (mode_t)a[1]));
	case SYS_rmdir:
		return ret_of(rmdir(p0));
	case SYS_creat:
		return ret_of(creat(p0, (mode_t)a[1]));
	case SYS_link:
		return ret_of(link(p0, p1));
	case SYS_unlink:
		return ret_of(unlink(p0));
	case SYS_symlink:
		return ret_of(symlink(p0, p1));
	case SYS_readlink:
#ifdef __SANITIZE_ADDRESS__
		/*
		 * ASan's readlink interceptor reads the path before libc does,
		 * so a bad pointer would crash it instead of giving EFAULT;
		 * syscall() is interposed by the shim as well.
		 */
		return ret_of(syscall(SYS_readlink, p0, (char *)a[1], a[2]));
#else
		return ret_of(readlink(p0, (char *)a[1], a[2]));
#endif
	case SYS_chmod:
		return ret_of(chmod(p0, (mode_t)a[1]));
	case SYS_fchmod:
		return ret_of(fchmod(fd, (mode_t)a[1]));
	case SYS_chown:
		return ret_of(chown(p0, (uid_t)a[1], (gid_t)a[2]));
	case SYS_fchown:
		return ret_of(fchown(fd, (uid_t)a[1], (gid_t)a[2]));
	case SYS_lchown:
		return ret_of(lchown(p0, (uid_t)a[1], (gid_t)a[2]));
	case SYS_umask:
		return umask((mode_t)a[0]);
	case SYS_mknod:
		/* Only FIFOs are made by the battery: mkfifo() is the wrapper. */
		if (((mode_t)a[1] & S_IFMT) != S_IFIFO)
			return -EINVAL;
		return ret_of(mkfifo(p0, (mode_t)a[1] & 07777));
	case SYS_utimensat:
		return ret_of(utimensat((int)a[0], p1,
					(const struct timespec *)a[2],
					(int)a[3]));
	case SYS_renameat2:
		return ret_of(renameat2((int)a[0], p1, (int)a[2],
					(const char *)a[3], (unsigned int)a[4]));
	case PB_NR_LISTDIR:
		return host_listdir(p0, (char *)a[1], a[2]);
	}
	return -ENOSYS;
}

/* A child that drops root for good; the parent waits for it. */
static bool host_user_begin(struct pb_backend *b, int *status)
{
	const gid_t groups[] = { PB_USER_GROUP };
	int st;

	(void)b;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("posix_battery: fork");
		*status = 1;
		return false;
	}
	if (pid == 0) {
		if (setgroups(1, groups) ||
		    setresgid(PB_USER_GID, PB_USER_GID, PB_USER_GID) ||
		    setresuid(PB_USER_UID, PB_USER_UID, PB_USER_UID)) {
			perror("posix_battery: dropping privileges");
			_exit(2);
		}
		return true;
	}
	if (waitpid(pid, &st, 0) != pid) {
		*status = 1;
		return false;
	}
	if (WIFSIGNALED(st)) {
		printf("posix_battery: the unprivileged child died of signal "
		       "%d\n", WTERMSIG(st));
		*status = 1;
	} else {
		*status = WEXITSTATUS(st);
	}
	return false;
}

static void host_user_end(struct pb_backend *b, int status)
{
	(void)b;
	fflush(stdout);
	fflush(stderr);
	_exit(status);
}

int pb_host_init(struct pb_backend *b, const char *name)
{
	*b = (struct pb_backend){
		.name = name,
		.syscall = host_syscall,
		.user_begin = host_user_begin,
		.user_end = host_user_end,
		.isolate_faults = true,
	};
	return 0;
}
