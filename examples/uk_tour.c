// SPDX-License-Identifier: MIT
/*
 * uk_tour - the quick-start demo's client: a program that talks to a running
 * ukerneld through the ring (shim/ukernel.h), the way the shim will on
 * behalf of unmodified programs.
 *
 *   uk-tour [--socket PATH] write   builds /tour on the served image
 *   uk-tour [--socket PATH] read    lists /tour and reads it back
 *
 * write makes a directory, writes a file with one call, appends lines with
 * one batched hand-off (uk_submit), renames a temporary file over the
 * result after fsync (the safe-replace pattern), and prints what it did.
 * read lists the directory (getdents64), stats and prints each file. Both
 * show ids and the clock served from the vvar page with no round trip.
 * Exit status: 0 done, 1 a call failed, 2 bad usage, 3 could not connect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ukernel.h"

#define TOUR "/tour"
#define NLINES 4

static int failed(const char *what, long ret)
{
	fprintf(stderr, "uk-tour: %s: %s\n", what, strerror((int)-ret));
	return 1;
}

/* Writes all of buf to fd through the ring; returns 0 or -errno. */
static long write_all(long fd, const char *buf, size_t len)
{
	while (len) {
		long n = uk_syscall(SYS_write, fd, buf, len);

		if (n < 0)
			return n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int tour_write(void)
{
	static const char *const lines[NLINES] = {
		"read(2) and write(2) cross the ring: nr + six words, as pt_regs\n",
		"the daemon walks the path, checks permissions, fills the page cache\n",
		"writeback allocates extents in SQLite and writes blocks with io_uring\n",
		"fsync: data blocks first, then the metadata commit, then a flush\n",
	};
	struct uk_req reqs[NLINES];
	const char *hello = "hello from a process that is not the kernel\n";
	long fd, ret;
	unsigned int i;

	ret = uk_syscall(SYS_mkdirat, AT_FDCWD, TOUR, 0755);
	if (ret < 0 && ret != -EEXIST)
		return failed("mkdir " TOUR, ret);

	fd = uk_syscall(SYS_openat, AT_FDCWD, TOUR "/hello.txt",
			O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return failed("open hello.txt", fd);
	ret = write_all(fd, hello, strlen(hello));
	uk_syscall(SYS_close, fd);
	if (ret < 0)
		return failed("write hello.txt", ret);
	printf("wrote %s/hello.txt (%zu bytes, one call)\n", TOUR,
	       strlen(hello));

	/* The safe replace: write a temporary, fsync it, rename it over. */
	fd = uk_syscall(SYS_openat, AT_FDCWD, TOUR "/.path.tmp",
			O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return failed("open .path.tmp", fd);
	for (i = 0; i < NLINES; i++) {
		reqs[i].nr = SYS_write;
		reqs[i].args[0] = fd;
		reqs[i].args[1] = (long)lines[i];
		reqs[i].args[2] = (long)strlen(lines[i]);
	}
	if (uk_submit(reqs, NLINES) < 0)
		return failed("uk_submit", -errno);
	for (i = 0; i < NLINES; i++)
		if (reqs[i].result < 0)
			return failed("batched write", reqs[i].result);
	printf("appended %u lines with one hand-off (uk_submit)\n",
	       (unsigned int)NLINES);
	ret = uk_syscall(SYS_fsync, fd);
	uk_syscall(SYS_close, fd);
	if (ret < 0)
		return failed("fsync", ret);
	ret = uk_syscall(SYS_renameat2, AT_FDCWD, TOUR "/.path.tmp",
			 AT_FDCWD, TOUR "/path-of-a-call.txt", 0);
	if (ret < 0)
		return failed("rename", ret);
	printf("fsync'd and renamed it over %s/path-of-a-call.txt\n", TOUR);
	return 0;
}

static int show_file(const char *name)
{
	char path[512], buf[4096];
	struct stat st;
	long fd, n, ret;

	snprintf(path, sizeof(path), "%s/%s", TOUR, name);
	ret = uk_syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
	if (ret < 0)
		return failed(path, ret);
	printf("--- %s  ino %" PRIu64 "  mode %04o  %lld bytes\n", path,
	       (uint64_t)st.st_ino, (unsigned int)(st.st_mode & 07777),
	       (long long)st.st_size);
	if (!S_ISREG(st.st_mode))
		return 0;
	fd = uk_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
	if (fd < 0)
		return failed(path, fd);
	while ((n = uk_syscall(SYS_read, fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	uk_syscall(SYS_close, fd);
	return n < 0 ? failed("read", n) : 0;
}

static int tour_read(void)
{
	char buf[4096];
	long fd, n;
	int ret = 0;

	fd = uk_syscall(SYS_openat, AT_FDCWD, TOUR,
			O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return failed("open " TOUR, fd);
	while ((n = uk_syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				ret |= show_file(d->d_name);
			off += d->d_reclen;
		}
	}
	uk_syscall(SYS_close, fd);
	if (n < 0)
		return failed("getdents64", n);
	return ret;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	struct timespec ts;
	int argi = 1;

	if (argc > 2 && !strcmp(argv[1], "--socket")) {
		sock = argv[2];
		argi = 3;
	}
	if (argi != argc - 1 ||
	    (strcmp(argv[argi], "write") && strcmp(argv[argi], "read"))) {
		fprintf(stderr, "usage: uk-tour [--socket PATH] write|read\n");
		return 2;
	}
	if (uk_connect(sock) < 0) {
		fprintf(stderr, "uk-tour: cannot connect: %s\n",
			uk_connect_error());
		return 3;
	}
	/* Served from the vvar page: no round trip. */
	uk_syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
	printf("connected as pid %ld uid %ld; the daemon's clock says %lld\n",
	       uk_syscall(SYS_getpid), uk_syscall(SYS_getuid),
	       (long long)ts.tv_sec);
	return !strcmp(argv[argi], "write") ? tour_write() : tour_read();
}
