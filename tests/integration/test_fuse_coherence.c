// SPDX-License-Identifier: MIT
/*
 * test_fuse_coherence - the FUSE mount and a ring client of the same
 * ukerneld see the same file system at the same moment: a change made
 * through the ring is visible on the mount as soon as the ring call has
 * returned (the daemon invalidated the host's caches before replying),
 * and a change made on the mount is visible to the ring as soon as the
 * syscall on the mount has returned; for data, attributes, names,
 * directory listings and renames. The mount side warms the host's caches
 * first (stat, read, readdir, a cached negative lookup) so that a missing
 * invalidation shows.
 *
 * usage: test_fuse_coherence SOCKET MOUNTPOINT [locks]
 * With "locks" (a daemon started with --remote-locks) it checks only that
 * POSIX locks and flock on the mount and through the ring conflict.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ukernel.h"

static const char *mnt;
static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			printf("ok   " __VA_ARGS__);                           \
		} else {                                                       \
			printf("FAIL " __VA_ARGS__);                           \
			printf("     (%s:%d: %s)\n", __FILE__, __LINE__, #cond); \
			failures++;                                            \
		}                                                              \
		printf("\n");                                                  \
	} while (0)

/* The mount's path of an image path ("/a" -> MNT/a). */
static const char *M(const char *p)
{
	static char buf[4][4096];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", mnt, p);
	return buf[i];
}

/* ---- the ring side ------------------------------------------------------- */

static long r_write(const char *p, const char *data, long off, int flags)
{
	long fd = uk_syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | flags,
			     0644);
	long ret;

	if (fd < 0)
		return fd;
	ret = off < 0 ? uk_syscall(SYS_write, fd, data, strlen(data)) :
			uk_syscall(SYS_pwrite64, fd, data, strlen(data), off);
	uk_syscall(SYS_close, fd);
	return ret;
}

static long r_read(const char *p, char *buf, size_t n)
{
	long fd = uk_syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
	long ret;

	if (fd < 0)
		return fd;
	ret = uk_syscall(SYS_pread64, fd, buf, n - 1, 0);
	uk_syscall(SYS_close, fd);
	buf[ret > 0 ? ret : 0] = '\0';
	return ret;
}

static long r_stat(const char *p, struct stat *st)
{
	return uk_syscall(SYS_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW);
}

/* The names in a directory through the ring, sorted, one string. */
static void r_list(const char *p, char *out, size_t n)
{
	char buf[8192], names[64][256];
	int cnt = 0;
	long fd = uk_syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_DIRECTORY);
	long got;

	out[0] = '\0';
	if (fd < 0)
		return;
	while ((got = uk_syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
			    cnt < 64)
				snprintf(names[cnt++], 256, "%s", d->d_name);
			off += d->d_reclen;
		}
	}
	uk_syscall(SYS_close, fd);
	qsort(names, (size_t)cnt, sizeof(names[0]),
	      (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < cnt; i++) {
		strncat(out, names[i], n - strlen(out) - 2);
		strncat(out, " ", n - strlen(out) - 1);
	}
}

/* ---- the mount side ------------------------------------------------------- */

static long m_read(const char *p, char *buf, size_t n)
{
	int fd = open(M(p), O_RDONLY);
	long ret;

	if (fd < 0)
		return -errno;
	ret = pread(fd, buf, n - 1, 0);
	if (ret < 0)
		ret = -errno;
	close(fd);
	buf[ret > 0 ? ret : 0] = '\0';
	return ret;
}

static long m_stat(const char *p, struct stat *st)
{
	return lstat(M(p), st) < 0 ? -errno : 0;
}

static void m_list(const char *p, char *out, size_t n)
{
	struct dirent **l;
	int cnt = scandir(M(p), &l, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < cnt; i++) {
		if (strcmp(l[i]->d_name, ".") && strcmp(l[i]->d_name, "..")) {
			strncat(out, l[i]->d_name, n - strlen(out) - 2);
			strncat(out, " ", n - strlen(out) - 1);
		}
		free(l[i]);
	}
	if (cnt >= 0)
		free(l);
}

/* ---- ring -> mount ------------------------------------------------------- */

static void ring_to_mount(void)
{
	char a[256], b[256], la[1024], lb[1024];
	struct stat st;
	int fd;

	/* A cached negative lookup on the mount, then the ring creates. */
	CHECK(m_stat("/r1", &st) == -ENOENT, "mount: /r1 absent at first");
	CHECK(r_write("/r1", "from the ring", -1, O_TRUNC) == 13,
	      "ring: create /r1");
	CHECK(m_stat("/r1", &st) == 0 && st.st_size == 13,
	      "mount: /r1 appears with its size at once");
	CHECK(m_read("/r1", a, sizeof(a)) == 13 &&
		      !strcmp(a, "from the ring"),
	      "mount: /r1's data");

	/* Data: the mount's page cache is warm; the ring overwrites. */
	fd = open(M("/r1"), O_RDONLY); /* an open file keeps the inode */
	CHECK(r_write("/r1", "FROM", 0, 0) == 4, "ring: overwrite 4 bytes");
	CHECK(m_read("/r1", a, sizeof(a)) == 13 &&
		      !strcmp(a, "FROM the ring"),
	      "mount: sees the overwrite at once (%s)", a);
	CHECK(pread(fd, b, 4, 0) == 4 && !memcmp(b, "FROM", 4),
	      "mount: an already open descriptor too");
	close(fd);

	/* A shared mapping on the mount sees the ring's write too. */
	{
		int mfd = open(M("/r1"), O_RDONLY);
		char *map = mfd < 0 ? MAP_FAILED :
			    mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);

		CHECK(map != MAP_FAILED && !memcmp(map, "FROM", 4),
		      "mount: mmap of /r1");
		CHECK(r_write("/r1", "MMAP", 0, 0) == 4, "ring: overwrite again");
		CHECK(map != MAP_FAILED && !memcmp(map, "MMAP", 4),
		      "mount: the mapping shows it at once");
		if (map != MAP_FAILED)
			munmap(map, 4096);
		if (mfd >= 0)
			close(mfd);
		r_write("/r1", "FROM", 0, 0);
	}

	/* Size and mtime: append. */
	CHECK(r_write("/r1", "+more", -1, O_APPEND) == 5, "ring: append");
	CHECK(m_stat("/r1", &st) == 0 && st.st_size == 18,
	      "mount: the new size at once (%ld)", (long)st.st_size);

	/* Attributes. */
	CHECK(uk_syscall(SYS_fchmodat, AT_FDCWD, "/r1", 0600) == 0,
	      "ring: chmod 0600");
	CHECK(m_stat("/r1", &st) == 0 && (st.st_mode & 07777) == 0600,
	      "mount: mode 0600 at once (%o)", st.st_mode & 07777);
	CHECK(uk_syscall(SYS_fchownat, AT_FDCWD, "/r1", 123, 456, 0) == 0,
	      "ring: chown 123:456");
	CHECK(m_stat("/r1", &st) == 0 && st.st_uid == 123 && st.st_gid == 456,
	      "mount: owner at once");
	{
		struct timespec ts[2] = { { 111, 0 }, { 222, 0 } };

		CHECK(uk_syscall(SYS_utimensat, AT_FDCWD, "/r1", ts, 0) == 0,
		      "ring: utimensat");
		CHECK(m_stat("/r1", &st) == 0 && st.st_mtime == 222 &&
			      st.st_atime == 111,
		      "mount: times at once");
	}
	/* Link counts: a link and an unlink through the ring. */
	CHECK(m_stat("/r1", &st) == 0 && st.st_nlink == 1, "mount: nlink 1");
	CHECK(uk_syscall(SYS_linkat, AT_FDCWD, "/r1", AT_FDCWD, "/r1l", 0) == 0,
	      "ring: link /r1 /r1l");
	CHECK(m_stat("/r1", &st) == 0 && st.st_nlink == 2,
	      "mount: nlink 2 at once (%lu)", (unsigned long)st.st_nlink);
	CHECK(uk_syscall(SYS_unlinkat, AT_FDCWD, "/r1l", 0) == 0,
	      "ring: unlink /r1l");
	CHECK(m_stat("/r1", &st) == 0 && st.st_nlink == 1 &&
		      m_stat("/r1l", &st) == -ENOENT,
	      "mount: nlink 1 and /r1l gone at once");

	/* Truncate. */
	CHECK(uk_syscall(SYS_truncate, "/r1", 4) == 0, "ring: truncate to 4");
	CHECK(m_read("/r1", a, sizeof(a)) == 4 && !strcmp(a, "FROM"),
	      "mount: truncated data at once");

	/* Names and listings. */
	CHECK(uk_syscall(SYS_mkdirat, AT_FDCWD, "/rd", 0755) == 0,
	      "ring: mkdir /rd");
	m_list("/rd", la, sizeof(la)); /* warm: an empty listing */
	CHECK(r_write("/rd/x", "1", -1, 0) == 1 && r_write("/rd/y", "2", -1, 0) == 1,
	      "ring: create /rd/x, /rd/y");
	m_list("/rd", la, sizeof(la));
	r_list("/rd", lb, sizeof(lb));
	CHECK(!strcmp(la, "x y ") && !strcmp(la, lb),
	      "mount: listing [%s] = ring's [%s]", la, lb);
	m_stat("/rd/x", &st); /* warm the positive entry */
	CHECK(uk_syscall(SYS_renameat2, AT_FDCWD, "/rd/x", AT_FDCWD, "/rd/z",
			 0) == 0, "ring: rename /rd/x -> /rd/z");
	CHECK(m_stat("/rd/x", &st) == -ENOENT, "mount: /rd/x gone at once");
	CHECK(m_read("/rd/z", a, sizeof(a)) == 1 && !strcmp(a, "1"),
	      "mount: /rd/z has x's data");
	m_stat("/rd/y", &st);
	CHECK(uk_syscall(SYS_renameat2, AT_FDCWD, "/rd/z", AT_FDCWD, "/rd/y",
			 0) == 0, "ring: rename over /rd/y");
	CHECK(m_read("/rd/y", a, sizeof(a)) == 1 && !strcmp(a, "1"),
	      "mount: /rd/y is the renamed file at once");
	CHECK(uk_syscall(SYS_unlinkat, AT_FDCWD, "/rd/y", 0) == 0,
	      "ring: unlink /rd/y");
	CHECK(m_stat("/rd/y", &st) == -ENOENT, "mount: /rd/y gone at once");
	m_list("/rd", la, sizeof(la));
	CHECK(!strcmp(la, ""), "mount: /rd empty [%s]", la);
	CHECK(uk_syscall(SYS_unlinkat, AT_FDCWD, "/rd", AT_REMOVEDIR) == 0,
	      "ring: rmdir /rd");
	CHECK(m_stat("/rd", &st) == -ENOENT, "mount: /rd gone at once");
}

/* ---- mount -> ring ------------------------------------------------------- */

static void mount_to_ring(void)
{
	char a[256], la[1024], lb[1024];
	struct stat st;
	int fd;

	CHECK(r_stat("/m1", &st) == -ENOENT, "ring: /m1 absent at first");
	fd = open(M("/m1"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, "from the mount", 14) == 14,
	      "mount: create and write /m1");
	/* Before close: write(2) on FUSE has returned, so the ring sees it. */
	CHECK(r_read("/m1", a, sizeof(a)) == 14 && !strcmp(a, "from the mount"),
	      "ring: /m1's data before the mount closes it");
	CHECK(pwrite(fd, "FROM", 4, 0) == 4, "mount: overwrite");
	CHECK(r_read("/m1", a, sizeof(a)) == 14 && !strncmp(a, "FROM", 4),
	      "ring: the overwrite");
	close(fd);
	CHECK(chmod(M("/m1"), 0604) == 0, "mount: chmod 0604");
	CHECK(r_stat("/m1", &st) == 0 && (st.st_mode & 07777) == 0604,
	      "ring: mode 0604");
	CHECK(truncate(M("/m1"), 3) == 0, "mount: truncate 3");
	CHECK(r_stat("/m1", &st) == 0 && st.st_size == 3, "ring: size 3");
	CHECK(mkdir(M("/md"), 0755) == 0 && rename(M("/m1"), M("/md/n")) == 0,
	      "mount: mkdir /md, rename /m1 -> /md/n");
	CHECK(r_stat("/m1", &st) == -ENOENT && r_stat("/md/n", &st) == 0,
	      "ring: the rename");
	m_list("/md", la, sizeof(la));
	r_list("/md", lb, sizeof(lb));
	CHECK(!strcmp(la, lb) && !strcmp(la, "n "),
	      "listings agree [%s] [%s]", la, lb);
	CHECK(unlink(M("/md/n")) == 0 && rmdir(M("/md")) == 0,
	      "mount: unlink, rmdir");
	CHECK(r_stat("/md", &st) == -ENOENT, "ring: /md gone");
}

/* F_SETLK of a write lock on all of PATH by a child: 0 or its errno. */
static int child_setlk(const char *path)
{
	struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(path, O_RDWR);

		_exit(fd < 0 ? 100 : fcntl(fd, F_SETLK, &wl) ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == EWOULDBLOCK ? EAGAIN : WEXITSTATUS(st);
}

/*
 * Files without OPEN (the daemon answers OPEN with ENOSYS, so every READ,
 * WRITE, SETATTR and lock request names only the inode): each open file's
 * own flags and the POSIX lock owner still come through, and the ring
 * sees the results at once.
 */
static void no_open(void)
{
	struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char a[256];
	struct stat st;
	int fd, fd2;

	/* O_APPEND: at the file's true end, though the ring grew it. */
	CHECK(r_write("/n1", "ring", -1, O_TRUNC) == 4, "ring: write /n1");
	fd = open(M("/n1"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 4,
	      "mount: open /n1 O_APPEND (size 4)");
	CHECK(r_write("/n1", "+ring", 4, 0) == 5, "ring: grow /n1 to 9");
	CHECK(write(fd, "+mnt", 4) == 4, "mount: append");
	CHECK(r_read("/n1", a, sizeof(a)) == 13 && !strcmp(a, "ring+ring+mnt"),
	      "ring: the append is at the end [%s]", a);
	close(fd);
	/* O_TRUNC at open, and ftruncate, without atomic_o_trunc. */
	fd = open(M("/n1"), O_RDWR | O_TRUNC);
	CHECK(fd >= 0 && r_stat("/n1", &st) == 0 && st.st_size == 0,
	      "mount: open O_TRUNC, ring: size 0");
	CHECK(write(fd, "0123456789", 10) == 10 && ftruncate(fd, 4) == 0 &&
	      r_stat("/n1", &st) == 0 && st.st_size == 4,
	      "mount: write 10, ftruncate 4, ring: size 4");
	close(fd);
	/*
	 * POSIX locks, kept by the host (no --remote-locks): another process
	 * on the mount conflicts, and the close of any descriptor of the
	 * file by the owner drops the lock, as on any Linux file system.
	 */
	fd = open(M("/n1"), O_RDWR);
	fd2 = open(M("/n1"), O_RDONLY);
	CHECK(fd >= 0 && fd2 >= 0 && fcntl(fd, F_SETLK, &wl) == 0,
	      "mount: F_SETLK write lock");
	CHECK(child_setlk(M("/n1")) == EAGAIN,
	      "mount: another process conflicts (EAGAIN)");
	close(fd2);
	CHECK(child_setlk(M("/n1")) == 0,
	      "mount: free once the owner closed another descriptor");
	close(fd);
	/* An unlinked file open on the mount keeps its data. */
	fd = open(M("/n1"), O_RDWR);
	CHECK(fd >= 0 && unlink(M("/n1")) == 0 &&
	      pwrite(fd, "gone", 4, 0) == 4 && pread(fd, a, 4, 0) == 4 &&
	      !memcmp(a, "gone", 4), "mount: read and write after unlink");
	close(fd);
}

/*
 * O_DIRECT: aligned reads work on the mount (the host's direct I/O, our
 * page cache) and through the ring, where the buffer travels in the slot's
 * data area yet keeps the caller's alignment: a misaligned buffer is
 * EINVAL as on Linux, an aligned one is not.
 */
static void direct_io(void)
{
	char *buf = aligned_alloc(4096, 8192);
	long rfd;
	int fd;

	if (!buf)
		return;
	memset(buf, 'd', 8192);
	fd = open(M("/d1"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, buf, 8192) == 8192 && fsync(fd) == 0,
	      "mount: write /d1");
	close(fd);
	memset(buf, 0, 8192);
	fd = open(M("/d1"), O_RDONLY | O_DIRECT);
	CHECK(fd >= 0 && pread(fd, buf, 4096, 4096) == 4096 && buf[0] == 'd' &&
	      buf[4095] == 'd', "mount: O_DIRECT pread");
	close(fd);
	memset(buf, 0, 8192);
	rfd = uk_syscall(SYS_openat, AT_FDCWD, "/d1", O_RDONLY | O_DIRECT);
	CHECK(rfd >= 0 && uk_syscall(SYS_pread64, rfd, buf, 4096, 4096) ==
				  4096 && buf[4095] == 'd',
	      "ring: O_DIRECT pread into an aligned buffer");
	CHECK(uk_syscall(SYS_pread64, rfd, buf + 8, 4096, 0) == -EINVAL,
	      "ring: O_DIRECT pread into a misaligned buffer: EINVAL");
	uk_syscall(SYS_close, rfd);
	unlink(M("/d1"));
	free(buf);
}

/*
 * --remote-locks: the host sends OPEN, FLUSH and RELEASE again and keeps no
 * lock itself, so a POSIX lock or a flock taken on the mount is held by the
 * daemon and conflicts with the ring's, both ways. A POSIX lock goes with
 * the FLUSH of any descriptor of its owner (before close returns); a flock
 * with the RELEASE of its file, which the host sends in the background
 * after close returns, so the ring may see it go a moment later.
 */
static void remote_locks(void)
{
	struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long rfd, ret = -1;
	int fd, fd2;

	CHECK(r_write("/fl", "x", -1, O_TRUNC) == 1, "ring: write /fl");
	/* POSIX locks */
	fd = open(M("/fl"), O_RDWR);
	fd2 = open(M("/fl"), O_RDONLY);
	rfd = uk_syscall(SYS_openat, AT_FDCWD, "/fl", O_RDWR);
	CHECK(fd >= 0 && fd2 >= 0 && rfd >= 0 && fcntl(fd, F_SETLK, &wl) == 0,
	      "mount: F_SETLK write lock");
	CHECK(uk_syscall(SYS_fcntl, rfd, F_SETLK, &wl) == -EAGAIN,
	      "ring: the same lock conflicts (EAGAIN)");
	close(fd2);
	CHECK(uk_syscall(SYS_fcntl, rfd, F_SETLK, &wl) == 0,
	      "ring: free once the mount closed another descriptor");
	CHECK(fcntl(fd, F_SETLK, &wl) < 0 && errno == EAGAIN,
	      "mount: the ring's lock conflicts (EAGAIN)");
	close(fd);
	uk_syscall(SYS_close, rfd);
	/* flock */
	fd = open(M("/fl"), O_RDWR);
	rfd = uk_syscall(SYS_openat, AT_FDCWD, "/fl", O_RDWR);
	CHECK(fd >= 0 && rfd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0,
	      "mount: flock LOCK_EX");
	CHECK(uk_syscall(SYS_flock, rfd, LOCK_SH | LOCK_NB) == -EWOULDBLOCK,
	      "ring: LOCK_SH conflicts (EWOULDBLOCK)");
	close(fd);
	for (int i = 0; i < 200 && ret; i++) {
		ret = uk_syscall(SYS_flock, rfd, LOCK_EX | LOCK_NB);
		if (ret)
			usleep(10000);
	}
	CHECK(ret == 0, "ring: LOCK_EX once the mount closed its file");
	fd = open(M("/fl"), O_RDONLY);
	CHECK(fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 &&
	      errno == EWOULDBLOCK, "mount: LOCK_SH conflicts with the ring's");
	close(fd);
	uk_syscall(SYS_close, rfd);
}

int main(int argc, char **argv)
{
	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "locks"))) {
		fprintf(stderr, "usage: %s SOCKET MOUNTPOINT [locks]\n",
			argv[0]);
		return 2;
	}
	mnt = argv[2];
	if (uk_connect(argv[1]) < 0) {
		printf("FAIL uk_connect %s: %s\n", argv[1], uk_connect_error());
		return 1;
	}
	if (argc == 4) {
		remote_locks();
	} else {
		ring_to_mount();
		mount_to_ring();
		no_open();
		direct_io();
	}
	uk_disconnect();
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
