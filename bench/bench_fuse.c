// SPDX-License-Identifier: MIT
/*
 * bench/bench_fuse.c - the per-call driver of bench/fuse.py: times file
 * operations through plain libc in one directory, whatever serves it (our
 * FUSE mount, the shim's /uk under LD_PRELOAD, native ext4, bindfs), and
 * prints one JSON object of nanoseconds per operation.
 *
 * Usage: bench-fuse DIR [--quick] [--seq-mib N] [--only OP,...]
 * Operations (keys):
 *   stat         stat of a different file each time, 3 components deep
 *                (1000 files made beforehand, each stat'ed once a batch)
 *   stat_repeat  stat of the same path again and again
 *   open_close   open O_RDONLY + close of one file
 *   create       open O_CREAT|O_EXCL + write 4 KiB + close of a new file
 *   unlink       unlink of the files create made
 *   create_unlink  create + write 4 KiB + close + unlink, in one loop
 *   pread_cached 4 KiB pread at random aligned offsets in a 1 MiB file
 *                that was just read in full
 *   seq_write    N MiB (1024 by default) written 1 MiB at a time, then
 *                fsync; ns for the whole
 *   seq_read     the same file read 1 MiB at a time after the host's page
 *                cache was dropped (drop_caches, root); ns for the whole
 * Small operations run in batches (11, median batch's ns per op).
 * The file seq.dat is left in DIR for fio (bench/fuse.py removes DIR).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NBATCH 11
#define NFILES 1000
#define MIB (1024 * 1024)

static const char *dir;
static bool quick;
static char buf4k[4096];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-fuse: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void path_of(char *out, size_t size, const char *name, int i)
{
	if (i >= 0)
		snprintf(out, size, "%s/%s%d", dir, name, i);
	else
		snprintf(out, size, "%s/%s", dir, name);
}

/* Writes a file of size bytes (a multiple of 4 KiB) at path. */
static void make_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(path);
	for (size_t off = 0; off < size; off += sizeof(buf4k))
		if (write(fd, buf4k, sizeof(buf4k)) != sizeof(buf4k))
			die("write");
	if (close(fd))
		die("close");
}

static double op_stat(void)
{
	char p[4096];
	struct stat st;
	double v[NBATCH];
	int n = quick ? 200 : NFILES;

	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/a/b/f%d", dir, i);
			if (stat(p, &st))
				die(p);
		}
		v[b] = (double)(now_ns() - t0) / n;
	}
	return median(v, NBATCH);
}

static double op_stat_repeat(void)
{
	char p[4096];
	struct stat st;
	double v[NBATCH];
	int n = quick ? 2000 : 20000;

	snprintf(p, sizeof(p), "%s/a/b/f0", dir);
	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++)
			if (stat(p, &st))
				die(p);
		v[b] = (double)(now_ns() - t0) / n;
	}
	return median(v, NBATCH);
}

static double op_open_close(void)
{
	char p[4096];
	double v[NBATCH];
	int n = quick ? 500 : 5000;

	snprintf(p, sizeof(p), "%s/a/b/f0", dir);
	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			int fd = open(p, O_RDONLY);
			if (fd < 0 || close(fd))
				die(p);
		}
		v[b] = (double)(now_ns() - t0) / n;
	}
	return median(v, NBATCH);
}

/* create and unlink, timed in separate loops over the same names */
static void op_create_unlink(double *create, double *unlink_ns)
{
	char p[4096];
	double vc[NBATCH], vu[NBATCH];
	int n = quick ? 100 : 500;

	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			path_of(p, sizeof(p), "new", i);
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0 || write(fd, buf4k, 4096) != 4096 ||
			    close(fd))
				die(p);
		}
		uint64_t t1 = now_ns();
		for (int i = 0; i < n; i++) {
			path_of(p, sizeof(p), "new", i);
			if (unlink(p))
				die(p);
		}
		uint64_t t2 = now_ns();
		vc[b] = (double)(t1 - t0) / n;
		vu[b] = (double)(t2 - t1) / n;
	}
	*create = median(vc, NBATCH);
	*unlink_ns = median(vu, NBATCH);
}

static double op_create_write_unlink(void)
{
	char p[4096];
	double v[NBATCH];
	int n = quick ? 100 : 500;

	path_of(p, sizeof(p), "cwu", -1);
	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0 || write(fd, buf4k, 4096) != 4096 ||
			    close(fd) || unlink(p))
				die(p);
		}
		v[b] = (double)(now_ns() - t0) / n;
	}
	return median(v, NBATCH);
}

static double op_pread_cached(void)
{
	char p[4096];
	static char rbuf[MIB];
	double v[NBATCH];
	int n = quick ? 2000 : 20000;
	unsigned int seed = 1;

	path_of(p, sizeof(p), "cached.dat", -1);
	make_file(p, MIB);
	int fd = open(p, O_RDONLY);
	if (fd < 0 || pread(fd, rbuf, MIB, 0) != MIB)
		die(p);
	for (int b = 0; b < NBATCH; b++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			off_t off = (off_t)(rand_r(&seed) % 256) * 4096;
			if (pread(fd, rbuf, 4096, off) != 4096)
				die("pread");
		}
		v[b] = (double)(now_ns() - t0) / n;
	}
	close(fd);
	return median(v, NBATCH);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			fprintf(stderr, "bench-fuse: drop_caches failed\n");
		close(fd);
	}
}

static void op_seq(long mib, double *wr, double *rd)
{
	char p[4096];
	char *big = aligned_alloc(4096, MIB);
	uint64_t t0;
	int fd;

	if (!big)
		die("malloc");
	memset(big, 'x', MIB);
	path_of(p, sizeof(p), "seq.dat", -1);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die(p);
	t0 = now_ns();
	for (long i = 0; i < mib; i++)
		if (write(fd, big, MIB) != MIB)
			die("write");
	if (fsync(fd))
		die("fsync");
	*wr = (double)(now_ns() - t0);
	close(fd);
	drop_caches();
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die(p);
	t0 = now_ns();
	for (long i = 0; i < mib; i++)
		if (read(fd, big, MIB) != MIB)
			die("read");
	*rd = (double)(now_ns() - t0);
	close(fd);
	free(big);
}

static bool wanted(const char *only, const char *op)
{
	char buf[512], *save = NULL;

	if (!only)
		return true;
	snprintf(buf, sizeof(buf), "%s", only);
	for (char *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save))
		if (!strcmp(p, op))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	long seq_mib = 1024;
	char p[4096];
	bool first = true;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--seq-mib") && i + 1 < argc)
			seq_mib = atol(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: bench-fuse DIR [--quick] "
					"[--seq-mib N] [--only OP,...]\n");
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "bench-fuse: no directory\n");
		return 2;
	}
	memset(buf4k, 'b', sizeof(buf4k));
	path_of(p, sizeof(p), "a", -1);
	if (mkdir(p, 0755) && errno != EEXIST)
		die(p);
	path_of(p, sizeof(p), "a/b", -1);
	if (mkdir(p, 0755) && errno != EEXIST)
		die(p);
	for (int i = 0; i < NFILES; i++) {
		snprintf(p, sizeof(p), "%s/a/b/f%d", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || close(fd))
			die(p);
	}

#define EMIT(key, val)                                                       \
	do {                                                                 \
		printf("%s\"%s\": %.1f", first ? "{" : ", ", key, val);     \
		first = false;                                               \
		fflush(stdout);                                              \
	} while (0)
	if (wanted(only, "stat"))
		EMIT("stat", op_stat());
	if (wanted(only, "stat_repeat"))
		EMIT("stat_repeat", op_stat_repeat());
	if (wanted(only, "open_close"))
		EMIT("open_close", op_open_close());
	if (wanted(only, "create") || wanted(only, "unlink")) {
		double c, u;
		op_create_unlink(&c, &u);
		EMIT("create", c);
		EMIT("unlink", u);
	}
	if (wanted(only, "create_unlink"))
		EMIT("create_unlink", op_create_write_unlink());
	if (wanted(only, "pread_cached"))
		EMIT("pread_cached", op_pread_cached());
	if (wanted(only, "seq_write") || wanted(only, "seq_read")) {
		double w, r;
		op_seq(seq_mib, &w, &r);
		EMIT("seq_write", w);
		EMIT("seq_read", r);
	}
	printf("%s}\n", first ? "{" : "");
	return 0;
}
