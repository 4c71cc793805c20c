// SPDX-License-Identifier: MIT
/*
 * bench/bench_kernel.c - the kernel's cost per call beside the host's: the
 * same operations through uk_dispatch() in this process (tmpfs, no ring) and
 * through real syscalls on a native ext4 directory, measured in one run.
 *
 * Operations: stat of a path three components deep, open+close, create +
 * write 4 KiB + close + unlink, 4 KiB pread that hits memory (native: page
 * cache), 1 MiB sequential writes (native: into the page cache, no fsync).
 * Each is timed in batches, ours and native alternating; a batch's ns per op
 * is its time over its count, and the median batch is reported.
 *
 * Usage: bench-kernel [--json] [--quick] [--only OP] [--ours-only]
 *        (bench/run kernel [--json]); --quick runs a tenth of each batch,
 *        --only OP one operation, --ours-only skips the native side (both
 *        for perf record).
 * The native directory is made under $UK_BUILD (bench/run sets it) or the
 * current directory; a note is printed when that is not ext4.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uk.h"
#include "uk_err.h"

#define NBATCH 11
#define MIB (1024 * 1024)
#define SEQ_FILE_MAX (32 * MIB) /* the 1 MiB writer starts over past this */

static struct uk_kernel *kernel;
static struct uk_task *task;
static char *wbuf;  /* 1 MiB of data to write */
static char *rbuf;  /* where preads land */
static int nat_dfd; /* the native directory */

/* ---- helpers --------------------------------------------------------------
 */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A system call through our kernel; the arguments as pt_regs holds them. */
static long uk(unsigned long nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3)
{
	const unsigned long a[6] = {a0, a1, a2, a3, 0, 0};
	return uk_dispatch(task, nr, a);
}

#define P(x) ((unsigned long)(uintptr_t)(x))
#define FDCWD ((unsigned long)(long)AT_FDCWD)

static void die(const char *what, long err)
{
	fprintf(stderr, "bench-kernel: %s: %s\n", what, strerror((int)-err));
	exit(1);
}

/* Fails the run when a timed call failed: its numbers would mean nothing. */
#define CHECK(what, expr)                                                      \
	do {                                                                   \
		long __r = (expr);                                             \
		if (__r < 0)                                                   \
			die(what, __r);                                        \
	} while (0)
#define NCHECK(what, expr)                                                     \
	do {                                                                   \
		if ((expr) < 0)                                                \
			die(what, -errno);                                     \
	} while (0)

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- the operations, each side running n of them ------------------------- */

/*
 * Every function runs the operation n times on one side and returns the
 * nanoseconds taken. Paths are relative: our task's cwd is "/", the native
 * side's is the bench directory, so both walk the same three components.
 */
typedef uint64_t (*bench_fn)(unsigned long n);

static uint64_t ours_stat(unsigned long n)
{
	struct stat st;
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		CHECK("stat", uk(SYS_newfstatat, FDCWD, P("a/b/c"), P(&st), 0));
	return now_ns() - t0;
}

static uint64_t native_stat(unsigned long n)
{
	struct stat st;
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		NCHECK("native stat", fstatat(nat_dfd, "a/b/c", &st, 0));
	return now_ns() - t0;
}

static uint64_t ours_open_close(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		long fd = uk(SYS_openat, FDCWD, P("a/b/c"), O_RDONLY, 0);
		CHECK("open", fd);
		CHECK("close", uk(SYS_close, fd, 0, 0, 0));
	}
	return now_ns() - t0;
}

static uint64_t native_open_close(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		int fd = openat(nat_dfd, "a/b/c", O_RDONLY);
		NCHECK("native open", fd);
		close(fd);
	}
	return now_ns() - t0;
}

static uint64_t ours_create_write_unlink(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		long fd = uk(SYS_openat, FDCWD, P("a/b/new"),
			     O_CREAT | O_WRONLY | O_TRUNC, 0644);
		CHECK("create", fd);
		CHECK("write", uk(SYS_write, fd, P(wbuf), 4096, 0));
		CHECK("close", uk(SYS_close, fd, 0, 0, 0));
		CHECK("unlink", uk(SYS_unlinkat, FDCWD, P("a/b/new"), 0, 0));
	}
	return now_ns() - t0;
}

static uint64_t native_create_write_unlink(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++) {
		int fd = openat(nat_dfd, "a/b/new",
				O_CREAT | O_WRONLY | O_TRUNC, 0644);
		NCHECK("native create", fd);
		NCHECK("native write", write(fd, wbuf, 4096));
		close(fd);
		NCHECK("native unlink", unlinkat(nat_dfd, "a/b/new", 0));
	}
	return now_ns() - t0;
}

static long ours_rfd, nat_rfd; /* a/b/c, 64 KiB, open for reading */

static uint64_t ours_pread_4k(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		CHECK("pread", uk(SYS_pread64, ours_rfd, P(rbuf), 4096,
				  (i & 15) * 4096));
	return now_ns() - t0;
}

static uint64_t native_pread_4k(unsigned long n)
{
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		NCHECK("native pread",
		       pread(nat_rfd, rbuf, 4096, (i & 15) * 4096));
	return now_ns() - t0;
}

static long ours_wfd, nat_wfd; /* a/b/seq, the 1 MiB writer's file */
static uint64_t ours_wpos, nat_wpos;

static uint64_t ours_seqwrite_1m(unsigned long n)
{
	uint64_t t = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (ours_wpos >= SEQ_FILE_MAX) { /* start over, untimed */
			CHECK("ftruncate",
			      uk(SYS_ftruncate, ours_wfd, 0, 0, 0));
			CHECK("lseek", uk(SYS_lseek, ours_wfd, 0, SEEK_SET, 0));
			ours_wpos = 0;
		}
		uint64_t t0 = now_ns();
		long r = uk(SYS_write, ours_wfd, P(wbuf), MIB, 0);
		t += now_ns() - t0;
		if (r != MIB)
			die("write 1 MiB", r < 0 ? r : -EIO);
		ours_wpos += MIB;
	}
	return t;
}

static uint64_t native_seqwrite_1m(unsigned long n)
{
	uint64_t t = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (nat_wpos >= SEQ_FILE_MAX) {
			NCHECK("native ftruncate", ftruncate(nat_wfd, 0));
			NCHECK("native lseek", lseek(nat_wfd, 0, SEEK_SET));
			nat_wpos = 0;
		}
		uint64_t t0 = now_ns();
		ssize_t r = write(nat_wfd, wbuf, MIB);
		t += now_ns() - t0;
		if (r != MIB)
			die("native write 1 MiB", r < 0 ? -errno : -EIO);
		nat_wpos += MIB;
	}
	return t;
}

/* ---- set-up ----------------------------------------------------------------
 */

static char *nat_dir;

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) ? -errno : 0;
}

/* Makes a/b/c (64 KiB) and a/b/seq on both sides and opens them. */
static void setup(void)
{
	struct uk_cred cred;
	struct statfs sfs;
	const char *base = getenv("UK_BUILD");
	char tmpl[4096];

	wbuf = malloc(MIB);
	rbuf = malloc(MIB);
	if (!wbuf || !rbuf)
		die("malloc", -ENOMEM);
	for (size_t i = 0; i < MIB; i++)
		wbuf[i] = (char)(i * 131 + 7);

	kernel = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(kernel))
		die("uk_kernel_new", kernel ? PTR_ERR(kernel) : -ENOMEM);
	uk_cred_init(&cred, 0, 0);
	task = uk_task_new(kernel, getpid(), &cred);
	if (IS_ERR_OR_NULL(task))
		die("uk_task_new", task ? PTR_ERR(task) : -ENOMEM);
	CHECK("mkdir a", uk(SYS_mkdirat, FDCWD, P("a"), 0755, 0));
	CHECK("mkdir a/b", uk(SYS_mkdirat, FDCWD, P("a/b"), 0755, 0));
	long fd = uk(SYS_openat, FDCWD, P("a/b/c"), O_CREAT | O_RDWR, 0644);
	CHECK("create a/b/c", fd);
	CHECK("write a/b/c", uk(SYS_write, fd, P(wbuf), 65536, 0));
	ours_rfd = fd;
	ours_wfd = uk(SYS_openat, FDCWD, P("a/b/seq"),
		      O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK("create a/b/seq", ours_wfd);

	snprintf(tmpl, sizeof(tmpl), "%s/bench-kernel.XXXXXX",
		 base && *base ? base : ".");
	nat_dir = mkdtemp(tmpl);
	if (!nat_dir)
		die("mkdtemp", -errno);
	nat_dir = strdup(nat_dir);
	if (!statfs(nat_dir, &sfs) && sfs.f_type != EXT4_SUPER_MAGIC)
		fprintf(stderr,
			"bench-kernel: note: %s is not ext4 "
			"(f_type %#lx)\n",
			nat_dir, (unsigned long)sfs.f_type);
	nat_dfd = open(nat_dir, O_RDONLY | O_DIRECTORY);
	NCHECK("open native dir", nat_dfd);
	NCHECK("native mkdir a", mkdirat(nat_dfd, "a", 0755));
	NCHECK("native mkdir a/b", mkdirat(nat_dfd, "a/b", 0755));
	nat_rfd = openat(nat_dfd, "a/b/c", O_CREAT | O_RDWR, 0644);
	NCHECK("native create a/b/c", nat_rfd);
	NCHECK("native write a/b/c", write(nat_rfd, wbuf, 65536));
	nat_wfd =
		openat(nat_dfd, "a/b/seq", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	NCHECK("native create a/b/seq", nat_wfd);
}

/* Closes everything, frees our kernel and removes the native directory. */
static void teardown(void)
{
	uk(SYS_close, ours_rfd, 0, 0, 0);
	uk(SYS_close, ours_wfd, 0, 0, 0);
	uk_task_exit(task);
	uk_kernel_free(kernel);
	close(nat_rfd);
	close(nat_wfd);
	close(nat_dfd);
	nftw(nat_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(nat_dir);
	free(wbuf);
	free(rbuf);
}

/* ---- main ------------------------------------------------------------------
 */

struct bench_op {
	const char *name;
	bench_fn ours, native;
	unsigned long n; /* operations per batch */
	double ours_ns, native_ns;
};

int main(int argc, char **argv)
{
	bool json = false, quick = false;
	const char *only = NULL;
	bool ours_only = false;
	struct bench_op ops[] = {
		{"stat", ours_stat, native_stat, 20000},
		{"open_close", ours_open_close, native_open_close, 10000},
		{"create_write_unlink", ours_create_write_unlink,
		 native_create_write_unlink, 2000},
		{"pread_4k", ours_pread_4k, native_pread_4k, 20000},
		{"seqwrite_1m", ours_seqwrite_1m, native_seqwrite_1m, 32},
	};
	const size_t nops = sizeof(ops) / sizeof(ops[0]);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--ours-only"))
			ours_only = true;
		else {
			fprintf(stderr,
				"usage: bench-kernel [--json] [--quick] "
				"[--only OP] [--ours-only]\n");
			return 2;
		}
	}
	setup();
	for (size_t i = 0; i < nops; i++) {
		struct bench_op *o = &ops[i];
		double ours[NBATCH], native[NBATCH];
		unsigned long n = quick ? (o->n + 9) / 10 : o->n;

		if (only && strcmp(only, o->name)) {
			o->name = NULL;
			continue;
		}

		o->ours(n / 4 + 1); /* warm up both sides */
		if (!ours_only)
			o->native(n / 4 + 1);
		for (int b = 0; b < NBATCH; b++) {
			ours[b] = (double)o->ours(n) / n;
			native[b] = ours_only ? 0 : (double)o->native(n) / n;
		}
		qsort(ours, NBATCH, sizeof(double), cmp_double);
		qsort(native, NBATCH, sizeof(double), cmp_double);
		o->ours_ns = ours[NBATCH / 2];
		o->native_ns = native[NBATCH / 2];
	}

	if (json) {
		const char *sep = "";
		printf("{");
		for (size_t i = 0; i < nops; i++) {
			const struct bench_op *o = &ops[i];
			if (!o->name)
				continue;
			printf("%s\"%s_ns\": %.1f, \"%s_native_ns\": %.1f, "
			       "\"%s_ratio\": %.2f",
			       sep, o->name, o->ours_ns, o->name, o->native_ns,
			       o->name, o->native_ns / o->ours_ns);
			sep = ", ";
		}
		printf("}\n");
	} else {
		printf("%-22s %12s %12s %8s\n", "op", "ours ns", "native ns",
		       "ratio");
		for (size_t i = 0; i < nops; i++) {
			const struct bench_op *o = &ops[i];
			if (o->name)
				printf("%-22s %12.1f %12.1f %8.2f\n", o->name,
				       o->ours_ns, o->native_ns,
				       o->native_ns / o->ours_ns);
		}
		printf("(median of %d batches; ratio = native / ours, above 1 "
		       "is faster than native; native dir on %s)\n",
		       NBATCH, nat_dir);
	}
	teardown();
	return 0;
}
