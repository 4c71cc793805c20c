// SPDX-License-Identifier: MIT
/*
 * fusefs/mount.c - mount-table helpers that need no libfuse, shared by
 * ukerneld (a dead mount left by a killed daemon is cleaned up before a
 * new mount) and ukctl (`ukctl umount DIR`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusefs.h"

bool ffs_is_mounted(const char *path)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char mnt[2048], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		found = strcmp(mnt, path) == 0 &&
			strcmp(fstype, "fuse.ukernel") == 0;
	}
	fclose(f);
	return found;
}

/* Runs fusermount3 with args; 0 when it exits 0, else -EPERM/-errno. */
static int fusermount(const char *a1, const char *a2, const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (a2)
			execlp("fusermount3", "fusermount3", a1, a2, path,
			       (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", a1, path,
			       (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int ffs_cleanup_stale(const char *path)
{
	struct statfs sf;
	int ret;

	/*
	 * statfs, not stat: the host answers stat of the mount's root from
	 * its attribute cache even when the daemon is gone, statfs always
	 * asks the daemon.
	 */
	if (statfs(path, &sf) == 0 || (errno != ENOTCONN && errno != ECONNABORTED))
		return 0;
	/*
	 * The daemon behind it is gone: detach the mount (lazily, since
	 * programs may still sit in it; they get ENOTCONN until they leave).
	 */
	if (geteuid() == 0 && umount2(path, MNT_DETACH) == 0)
		return 1;
	ret = fusermount("-u", "-z", path);
	return ret ? ret : 1;
}

int ffs_umount(const char *path)
{
	struct stat st;

	if (!ffs_is_mounted(path))
		return -EINVAL;
	if (geteuid() == 0) {
		if (umount2(path, 0) == 0)
			return 0;
		if (errno != EBUSY)
			return -errno;
		/* In use: detach it now; the daemon sees the session end. */
		if (umount2(path, MNT_DETACH) == 0)
			return 0;
		return -errno;
	}
	if (stat(path, &st) < 0 && errno != ENOTCONN && errno != ECONNABORTED)
		return -errno;
	return fusermount("-u", NULL, path);
}
