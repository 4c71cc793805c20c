// SPDX-License-Identifier: MIT
/*
 * bench_shim - the driver of `bench/run shim` (bench/shim.py): file system
 * operations done with plain libc calls in directory DIR, timed with the
 * vDSO clock, so the same binary measures the host (natively), libukshim.so
 * (LD_PRELOAD, DIR under /uk), fakechroot and proot. Prints one JSON object
 * of nanoseconds: per operation for the small ones (the median of ROUNDS
 * rounds), the whole transfer for the sequential ones.
 *
 *   bench_shim DIR [--quick] [--scale F] [--ops a,b,...]
 *
 * ops: stat (stat of paths each seen once), openclose, create (create +
 * write 4 KiB + close + unlink), pread (4 KiB at random offsets of a file
 * read once before), rstat (the same path again and again), seqwrite
 * (1 GiB in 1 MiB writes, then fsync), seqread (the same file back).
 * --quick: smaller counts and 64 MiB transfers (smoke runs); --scale F
 * multiplies the counts (slow interposers such as proot).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static const char *dir;
static double scale = 1.0;
static bool quick;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long count(long full, long small)
{
	long n = (long)((quick ? small : full) * scale);

	return n < 10 ? 10 : n;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_shim: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void path(char *buf, size_t len, const char *name, long i)
{
	if (i >= 0)
		snprintf(buf, len, "%s/%s%ld", dir, name, i);
	else
		snprintf(buf, len, "%s/%s", dir, name);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die(p);
	close(fd);
}

/* stat of n paths never stat'ed before (per round, fresh names). */
static double op_stat(void)
{
	long n = count(1000, 200);
	double r[ROUNDS];
	char p[4096];
	struct stat st;

	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t;

		for (long i = 0; i < n; i++) {
			path(p, sizeof(p), "s", k * n + i);
			touch(p);
		}
		t = now_ns();
		for (long i = 0; i < n; i++) {
			path(p, sizeof(p), "s", k * n + i);
			if (stat(p, &st) < 0)
				die("stat");
		}
		r[k] = (double)(now_ns() - t) / (double)n;
		for (long i = 0; i < n; i++) {
			path(p, sizeof(p), "s", k * n + i);
			unlink(p);
		}
	}
	return median(r, ROUNDS);
}

static double op_openclose(void)
{
	long n = count(5000, 1000);
	double r[ROUNDS];
	char p[4096];

	path(p, sizeof(p), "oc", -1);
	touch(p);
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t = now_ns();

		for (long i = 0; i < n; i++) {
			int fd = open(p, O_RDONLY);

			if (fd < 0)
				die("open");
			close(fd);
		}
		r[k] = (double)(now_ns() - t) / (double)n;
	}
	unlink(p);
	return median(r, ROUNDS);
}

static double op_create(void)
{
	long n = count(500, 100);
	double r[ROUNDS];
	static char buf[4096];
	char p[4096];

	memset(buf, 'c', sizeof(buf));
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t = now_ns();

		for (long i = 0; i < n; i++) {
			int fd;

			path(p, sizeof(p), "c", i);
			fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf))
				die("create");
			close(fd);
			unlink(p);
		}
		r[k] = (double)(now_ns() - t) / (double)n;
	}
	return median(r, ROUNDS);
}

static double op_pread(void)
{
	long n = count(20000, 5000);
	size_t size = quick ? 8u << 20 : 64u << 20;
	static char buf[1 << 20];
	double r[ROUNDS];
	uint64_t x = 88172645463325252ull;
	char p[4096];
	int fd;

	path(p, sizeof(p), "pr", -1);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("pread file");
	memset(buf, 'p', sizeof(buf));
	for (size_t o = 0; o < size; o += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die("pread fill");
	for (size_t o = 0; o < size; o += sizeof(buf))
		if (pread(fd, buf, sizeof(buf), (off_t)o) != sizeof(buf))
			die("pread warm");
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t = now_ns();

		for (long i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (pread(fd, buf, 4096,
				  (off_t)((x % (size / 4096)) * 4096)) != 4096)
				die("pread");
		}
		r[k] = (double)(now_ns() - t) / (double)n;
	}
	close(fd);
	unlink(p);
	return median(r, ROUNDS);
}

static double op_rstat(void)
{
	long n = count(100000, 20000);
	double r[ROUNDS];
	char p[4096];
	struct stat st;

	path(p, sizeof(p), "rs", -1);
	touch(p);
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t t = now_ns();

		for (long i = 0; i < n; i++)
			if (stat(p, &st) < 0)
				die("rstat");
		r[k] = (double)(now_ns() - t) / (double)n;
	}
	unlink(p);
	return median(r, ROUNDS);
}

static size_t seq_size(void)
{
	return quick ? 64u << 20 : 1u << 30;
}

static double op_seqwrite(void)
{
	static char buf[1 << 20];
	char p[4096];
	uint64_t t;
	int fd;

	memset(buf, 's', sizeof(buf));
	path(p, sizeof(p), "seq", -1);
	unlink(p);
	t = now_ns();
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("seqwrite open");
	for (size_t o = 0; o < seq_size(); o += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die("seqwrite");
	if (fsync(fd) < 0)
		die("fsync");
	close(fd);
	return (double)(now_ns() - t);
}

static double op_seqread(void)
{
	static char buf[1 << 20];
	char p[4096];
	uint64_t t;
	ssize_t n;
	size_t total = 0;
	int fd;

	path(p, sizeof(p), "seq", -1);
	t = now_ns();
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die("seqread open");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	close(fd);
	if (total != seq_size()) {
		errno = EIO;
		die("seqread size");
	}
	t = now_ns() - t;
	unlink(p);
	return (double)t;
}

static const struct {
	const char *name;
	double (*fn)(void);
} ops[] = {
	{ "stat", op_stat },         { "openclose", op_openclose },
	{ "create", op_create },     { "pread", op_pread },
	{ "rstat", op_rstat },       { "seqwrite", op_seqwrite },
	{ "seqread", op_seqread },
};

int main(int argc, char **argv)
{
	const char *want = NULL;
	bool first = true;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_shim DIR [--quick] [--scale F] "
				"[--ops a,b]\n");
		return 2;
	}
	dir = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			want = argv[++i];
	}
	printf("{");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		char key[64];

		snprintf(key, sizeof(key), ",%s,", ops[i].name);
		if (want) {
			char list[512];

			snprintf(list, sizeof(list), ",%s,", want);
			if (!strstr(list, key))
				continue;
		}
		printf("%s\"%s\": %.1f", first ? "" : ", ", ops[i].name,
		       ops[i].fn());
		fflush(stdout);
		first = false;
	}
	printf("}\n");
	return 0;
}
