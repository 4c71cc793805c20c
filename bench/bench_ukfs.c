// SPDX-License-Identifier: MIT
/*
 * bench/bench_ukfs.c - ukfs through uk_dispatch (in this process, no ring)
 * beside a journaled ext4 on a loop device through real syscalls, in one
 * run: 10,000 x (create + write 4 KiB + close), a stat of each, an unlink
 * of each; a 1 GiB sequential write + fsync; a 1 GiB sequential read cold
 * (native: drop_caches; ours: a fresh mount, empty cache) and warm; 4 KiB
 * random reads, then random writes, over the 1 GiB file for 20 s in all
 * (--quick: 5 s). Every row runs in rounds (5 small, 3 big; --quick 3
 * small; --rounds N), both sides per round, the first side alternating;
 * the table gives medians, the per-round ratio's range and the median
 * ratio of process CPU time (see "rounds" below, docs/ukfs.md).
 *
 * Usage: bench-ukfs [--json] [--quick] [--rounds N]  (bench/run ukfs ...)
 *        bench-ukfs --ours-only [--small N] [--big-mib N] [--rand-secs S]
 *                   [--warm N] [--big-reps N] [--cold-reps N]
 * --ours-only runs only the ukfs side (to profile it under perf, strace or
 * callgrind: docs/ukfs.md "Performance"), with the phases timed alone;
 * --warm N repeats its warm read, --big-reps N its write and cold read,
 * --cold-reps N adds N cold reads after them (to profile the read alone).
 * Keys: <op>_ns (ours, per operation, median), <op>_native_ns, <op>_ratio
 * (median of native / ours per round: above 1 means we are faster),
 * <op>_ratio_min, <op>_ratio_max, <op>_rounds, <op>_cpu_ratio (0 where
 * not comparable), load_start, load_end, secs. The native side is an ext4
 * made with mkfs.ext4 on a file attached to a loop device (needs root);
 * if that fails it runs in a directory of the host file system under
 * $UK_BUILD and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uk.h"
#include "uk_err.h"
#include "ukfs_meta.h"

#define MIB (1024ul * 1024ul)
/* Sizes of the full run; --ours-only can shrink them for profiling. */
static unsigned long NSMALL = 10000ul;
static unsigned long BIG = 1024ul * MIB;

/* One side: how it makes syscalls and where its files live. */
struct side {
	const char *name;
	bool ours;
	char dir[1024]; /* ours: "" (the image is the root) */
};

static struct uk_kernel *kern;
static struct uk_task *task;
static char image[1024], native_file[1024], native_mnt[1024];
static char native_loop[64];
static bool native_is_ext4_loop;
static char *iobuf;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long sc(const struct side *s, long nr, unsigned long a0,
	       unsigned long a1, unsigned long a2, unsigned long a3)
{
	if (s->ours) {
		const unsigned long a[6] = { a0, a1, a2, a3 };

		return uk_dispatch(task, (unsigned long)nr, a);
	}
	long r = syscall(nr, a0, a1, a2, a3);

	return r < 0 ? -errno : r;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "bench-ukfs: %s: %s\n", what, strerror((int)-err));
	exit(1);
}

static void path(const struct side *s, char *buf, const char *rel)
{
	snprintf(buf, 2048, "%s/%s", s->dir, rel);
}

static void mount_ours(void)
{
	struct uk_image_opts o = { .cache_size = 1536ul * MIB };
	struct uk_cred c;
	char err[256];
	int ret;

	kern = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(kern))
		die("uk_kernel_new", -ENOMEM);
	ret = uk_kernel_mount_image(kern, image, &o, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bench-ukfs: %s\n", err);
		exit(1);
	}
	uk_cred_init(&c, 0, 0);
	task = uk_task_new(kern, 1, &c);
}

static void umount_ours(void)
{
	uk_task_exit(task);
	uk_kernel_free(kern);
	task = NULL;
	kern = NULL;
}

/* Forgets cached file data: a fresh mount (ours), drop_caches (native). */
static void drop_caches(const struct side *s)
{
	if (s->ours) {
		umount_ours();
		mount_ours();
		return;
	}
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "3\n", 2) != 2)
		fprintf(stderr, "bench-ukfs: drop_caches failed: the native "
				"cold read is warm\n");
	if (fd >= 0)
		close(fd);
}

/* ---- the operations (ns per op) ---------------------------------------- */

static double small_create(const struct side *s)
{
	char p[2048], name[32];
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < NSMALL; i++) {
		long fd;

		snprintf(name, sizeof(name), "s/f%lu", i);
		path(s, p, name);
		fd = sc(s, SYS_open, (unsigned long)p,
			O_WRONLY | O_CREAT | O_TRUNC, 0644, 0);
		if (fd < 0)
			die("create", fd);
		if (sc(s, SYS_write, (unsigned long)fd, (unsigned long)iobuf,
		       4096, 0) != 4096)
			die("write", -EIO);
		sc(s, SYS_close, (unsigned long)fd, 0, 0, 0);
	}
	return (double)(now_ns() - t0) / NSMALL;
}

static double small_stat(const struct side *s)
{
	char p[2048], name[32];
	struct stat st;
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < NSMALL; i++) {
		long r;

		snprintf(name, sizeof(name), "s/f%lu", i);
		path(s, p, name);
		r = sc(s, SYS_stat, (unsigned long)p, (unsigned long)&st, 0, 0);
		if (r)
			die("stat", r);
	}
	return (double)(now_ns() - t0) / NSMALL;
}

static double small_unlink(const struct side *s)
{
	char p[2048], name[32];
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < NSMALL; i++) {
		long r;

		snprintf(name, sizeof(name), "s/f%lu", i);
		path(s, p, name);
		r = sc(s, SYS_unlink, (unsigned long)p, 0, 0, 0);
		if (r)
			die("unlink", r);
	}
	return (double)(now_ns() - t0) / NSMALL;
}

static long open_big(const struct side *s, int flags)
{
	char p[2048];
	long fd;

	path(s, p, "big");
	fd = sc(s, SYS_open, (unsigned long)p, (unsigned long)flags, 0644, 0);
	if (fd < 0)
		die("open big", fd);
	return fd;
}

/* 1 GiB in 1 MiB writes, then fsync: ns for the whole. */
static double seq_write(const struct side *s)
{
	long fd = open_big(s, O_WRONLY | O_CREAT | O_TRUNC);
	uint64_t t0 = now_ns();

	for (unsigned long off = 0; off < BIG; off += MIB)
		if (sc(s, SYS_write, (unsigned long)fd, (unsigned long)iobuf,
		       MIB, 0) != (long)MIB)
			die("seq write", -EIO);
	if (sc(s, SYS_fsync, (unsigned long)fd, 0, 0, 0))
		die("fsync", -EIO);
	t0 = now_ns() - t0;
	sc(s, SYS_close, (unsigned long)fd, 0, 0, 0);
	return (double)t0;
}

static double seq_read(const struct side *s)
{
	long fd = open_big(s, O_RDONLY);
	uint64_t t0 = now_ns();

	for (unsigned long off = 0; off < BIG; off += MIB)
		if (sc(s, SYS_read, (unsigned long)fd, (unsigned long)iobuf,
		       MIB, 0) != (long)MIB)
			die("seq read", -EIO);
	t0 = now_ns() - t0;
	sc(s, SYS_close, (unsigned long)fd, 0, 0, 0);
	return (double)t0;
}

/* 4 KiB random preads (or pwrites) for secs: ns per op. */
static double rand_io(const struct side *s, bool write, double secs)
{
	long fd = open_big(s, O_RDWR);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0;
	uint64_t x = 88172645463325252ull, t;

	do {
		for (int i = 0; i < 64; i++) {
			unsigned long off;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (unsigned long)(x % (BIG / 4096)) * 4096;
			if (sc(s, write ? SYS_pwrite64 : SYS_pread64,
			       (unsigned long)fd, (unsigned long)iobuf, 4096,
			       off) != 4096)
				die("random io", -EIO);
		}
		n += 64;
		t = now_ns();
	} while (t < end);
	sc(s, SYS_close, (unsigned long)fd, 0, 0, 0);
	return (double)(t - t0) / (double)n;
}

/* ---- setup ------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(p);
}

static int run(const char *cmd)
{
	int r = system(cmd);

	return r == 0 ? 0 : -1;
}

/*
 * ext4 on a loop device: mkfs.ext4 on a sparse file, losetup, mount.
 * Two things that made the native times swing between runs are turned
 * off: mkfs initialises the inode tables and the journal itself (else the
 * ext4lazyinit thread writes them during the first phases), and the loop
 * device does direct I/O on its backing file (else every block goes
 * through the host's page cache a second time, and its writeback timing
 * and drop_caches state leak into the numbers; our block file is
 * O_DIRECT too). A loop device without --direct-io falls back to
 * buffered.
 */
static void setup_native(const char *base, struct side *s)
{
	char cmd[16384];

	snprintf(native_file, sizeof(native_file), "%s/bench-ukfs-ext4.img",
		 base);
	snprintf(native_mnt, sizeof(native_mnt), "%s/bench-ukfs-ext4", base);
	mkdir(native_mnt, 0755);
	snprintf(cmd, sizeof(cmd),
		 "rm -f %s && truncate -s 4G %s && mkfs.ext4 -q -F -E "
		 "lazy_itable_init=0,lazy_journal_init=0 %s >/dev/null 2>&1",
		 native_file, native_file, native_file);
	if (!run(cmd)) {
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "losetup -f --show --direct-io=on %s 2>/dev/null || "
			 "losetup -f --show %s 2>/dev/null",
			 native_file, native_file);
		p = popen(cmd, "r");
		if (p && fgets(native_loop, sizeof(native_loop), p)) {
			native_loop[strcspn(native_loop, "\n")] = '\0';
			if (!mount(native_loop, native_mnt, "ext4", 0, ""))
				native_is_ext4_loop = true;
		}
		if (p)
			pclose(p);
	}
	if (native_is_ext4_loop) {
		snprintf(s->dir, sizeof(s->dir), "%s", native_mnt);
	} else {
		fprintf(stderr, "bench-ukfs: no ext4 on a loop device (needs "
				"root); the native side runs on the host file "
				"system under %s\n", base);
		snprintf(s->dir, sizeof(s->dir), "%s/bench-ukfs-native", base);
		mkdir(s->dir, 0755);
	}
	snprintf(cmd, sizeof(cmd), "%s/s", s->dir);
	mkdir(cmd, 0755);
}

static void teardown_native(struct side *s)
{
	char cmd[16384];

	if (native_is_ext4_loop) {
		umount(native_mnt);
		snprintf(cmd, sizeof(cmd), "losetup -d %s", native_loop);
		if (run(cmd))
			fprintf(stderr, "bench-ukfs: losetup -d failed\n");
		unlink(native_file);
		rmdir(native_mnt);
	} else {
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Each phase of ours alone, printed as it ends with the process's CPU time
 * beside the wall time (a shared machine's wall clock is noisy).
 */
#define PHASE(name, div, expr)                                              \
	do {                                                                \
		uint64_t c0 = cpu_ns();                                     \
		double w = (expr);                                          \
		printf("%-16s wall %12.0f  cpu %12.0f ns/op\n", name, w,    \
		       (double)(cpu_ns() - c0) / (div));                    \
		fflush(stdout);                                             \
	} while (0)

/*
 * --warm N: the warm read N times; --big-reps N: the write and the cold
 * read N times (the first write pays the first touch of fresh frames,
 * the later ones show the steady state), to profile them.
 */
static int warm_reps = 1, big_reps = 1, cold_reps;

static int run_ours_only(struct side *s, double secs)
{
	PHASE("small_create", NSMALL, small_create(s));
	PHASE("small_stat", NSMALL, small_stat(s));
	PHASE("small_unlink", NSMALL, small_unlink(s));
	for (int i = 0; i < big_reps; i++) {
		PHASE("seq_write_fsync", 1, seq_write(s));
		drop_caches(s);
		PHASE("seq_read_cold", 1, seq_read(s));
	}
	for (int i = 0; i < cold_reps; i++) {
		drop_caches(s);
		PHASE("seq_read_cold", 1, seq_read(s));
	}
	for (int i = 0; i < warm_reps; i++)
		PHASE("seq_read_warm", 1, seq_read(s));
	if (secs > 0) {
		printf("rand_read_4k %.0f ns\n", rand_io(s, false, secs / 2));
		printf("rand_write_4k %.0f ns\n", rand_io(s, true, secs / 2));
	}
	umount_ours();
	nftw(image, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ---- rounds ------------------------------------------------------------ */

/*
 * Every row is measured in rounds: in each round both sides run the same
 * phase back to back, the side that goes first alternating, and the row
 * reports the median over rounds of ours, of native and of the per-round
 * ratio (the two halves of a round ran seconds apart, so a burst of load
 * from the rest of the machine moves both), with the lowest and highest
 * per-round ratio as the spread. docs/ukfs.md "Performance" says why.
 */
#define MAX_ROUNDS 16

struct result {
	const char *key;
	bool per_call_cpu; /* cpu ratio meaningful (same work both sides) */
	int n;
	double ours[MAX_ROUNDS], native[MAX_ROUNDS];
	double cpu_q[MAX_ROUNDS]; /* native / ours process CPU time */
	double med_ours, med_native, ratio, rmin, rmax, cpu_ratio;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void add(struct result *r, double ours, double native,
		double ours_cpu, double native_cpu)
{
	if (r->n < MAX_ROUNDS) {
		r->ours[r->n] = ours;
		r->native[r->n] = native;
		r->cpu_q[r->n] = ours_cpu > 0 ? native_cpu / ours_cpu : 0;
		r->n++;
	}
}

static void summarise(struct result *r)
{
	double q[MAX_ROUNDS];

	for (int i = 0; i < r->n; i++)
		q[i] = r->native[i] / r->ours[i];
	r->med_ours = median(r->ours, r->n);
	r->med_native = median(r->native, r->n);
	r->ratio = median(q, r->n);
	r->cpu_ratio = median(r->cpu_q, r->n);
	r->rmin = r->rmax = q[0];
	for (int i = 1; i < r->n; i++) {
		r->rmin = q[i] < r->rmin ? q[i] : r->rmin;
		r->rmax = q[i] > r->rmax ? q[i] : r->rmax;
	}
}

/*
 * One phase on both sides, in the order of the round; adds to r the wall
 * results and the process CPU time each side took (ours: every ukfs
 * thread; ext4: the syscalls, not its kernel threads).
 */
#define BOTH(r, round, expr_ours, expr_native)                              \
	do {                                                                \
		double o_, n_;                                              \
		uint64_t c0_, oc_, nc_;                                     \
		if ((round) % 2 == 0) {                                     \
			c0_ = cpu_ns();                                     \
			o_ = (expr_ours);                                   \
			oc_ = cpu_ns() - c0_;                               \
			n_ = (expr_native);                                 \
			nc_ = cpu_ns() - c0_ - oc_;                         \
		} else {                                                    \
			c0_ = cpu_ns();                                     \
			n_ = (expr_native);                                 \
			nc_ = cpu_ns() - c0_;                               \
			o_ = (expr_ours);                                   \
			oc_ = cpu_ns() - c0_ - nc_;                         \
		}                                                           \
		add((r), o_, n_, (double)oc_, (double)nc_);                 \
	} while (0)

static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

enum { R_CREATE, R_STAT, R_UNLINK, R_WRITE, R_COLD, R_WARM, R_RREAD,
       R_RWRITE, R_NR };

int main(int argc, char **argv)
{
	const char *base = getenv("UK_BUILD");
	struct side ours = { .name = "ukfs", .ours = true };
	struct side nat = { .name = "ext4" };
	struct result r[R_NR] = {
		[R_CREATE] = { "small_create", true },
		[R_STAT] = { "small_stat", true },
		[R_UNLINK] = { "small_unlink", true },
		[R_WRITE] = { "seq_write_fsync", true },
		[R_COLD] = { "seq_read_cold", true },
		[R_WARM] = { "seq_read_warm", true },
		[R_RREAD] = { "rand_read_4k" },
		[R_RWRITE] = { "rand_write_4k" },
	};
	bool json = false, quick = false, ours_only = false;
	double secs, rand_secs = -1, load0, t0;
	int small_rounds, big_rounds, rounds = 0;
	char err[256];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--ours-only"))
			ours_only = true;
		else if (!strcmp(argv[i], "--small") && i + 1 < argc)
			NSMALL = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--big-mib") && i + 1 < argc)
			BIG = strtoul(argv[++i], NULL, 0) * MIB;
		else if (!strcmp(argv[i], "--rand-secs") && i + 1 < argc)
			rand_secs = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--warm") && i + 1 < argc)
			warm_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--big-reps") && i + 1 < argc)
			big_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cold-reps") && i + 1 < argc)
			cold_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-ukfs [--json] [--quick] "
					"[--rounds N] [--small N] [--big-mib N] "
					"[--rand-secs S] [--ours-only [--warm N] "
					"[--big-reps N] [--cold-reps N]]\n");
			return 2;
		}
	}
	secs = quick ? 5.0 : 20.0;
	if (rand_secs >= 0)
		secs = rand_secs;
	/* Small phases are short, so they get more rounds than 1 GiB ones. */
	small_rounds = quick ? 3 : 5;
	big_rounds = 3;
	if (rounds > 0)
		small_rounds = big_rounds = rounds < MAX_ROUNDS / 2
						    ? rounds
						    : MAX_ROUNDS / 2;
	if (!base)
		base = ".";
	/*
	 * The machine is shared: under a load of 8 on 2 CPUs a phase got a
	 * fifth of a CPU and its wall time measured the scheduler. At nice
	 * -20 (root only; threads made later inherit it) the benchmark's
	 * threads get nearly a whole CPU against nice-0 work, on both sides.
	 */
	errno = 0;
	if (setpriority(PRIO_PROCESS, 0, -20) && errno)
		fprintf(stderr, "bench-ukfs: cannot raise priority (%s): "
				"expect noise on a busy machine\n",
			strerror(errno));
	if (posix_memalign((void **)&iobuf, 4096, MIB))
		return 1;
	memset(iobuf, 'x', MIB);
	snprintf(image, sizeof(image), "%s/bench-ukfs-image", base);
	nftw(image, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ret = ukfs_mkfs(image, 4ull << 30, 200000, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bench-ukfs: mkfs: %s\n", err);
		return 1;
	}
	mount_ours();
	sc(&ours, SYS_mkdir, (unsigned long)"/s", 0755, 0, 0);
	if (ours_only)
		return run_ours_only(&ours, secs);
	setup_native(base, &nat);
	load0 = loadavg();
	t0 = (double)now_ns();

	for (int i = 0; i < small_rounds; i++) {
		BOTH(&r[R_CREATE], i, small_create(&ours), small_create(&nat));
		BOTH(&r[R_STAT], i, small_stat(&ours), small_stat(&nat));
		BOTH(&r[R_UNLINK], i, small_unlink(&ours), small_unlink(&nat));
	}
	for (int i = 0; i < big_rounds; i++) {
		BOTH(&r[R_WRITE], i, seq_write(&ours), seq_write(&nat));
		drop_caches(&ours);
		drop_caches(&nat);
		BOTH(&r[R_COLD], i, seq_read(&ours), seq_read(&nat));
		/* Warm reads are cheap: two per round. */
		BOTH(&r[R_WARM], i, seq_read(&ours), seq_read(&nat));
		BOTH(&r[R_WARM], i + 1, seq_read(&ours), seq_read(&nat));
	}
	for (int i = 0; i < big_rounds; i++) {
		double s = secs / 2 / big_rounds;

		BOTH(&r[R_RREAD], i, rand_io(&ours, false, s),
		     rand_io(&nat, false, s));
		BOTH(&r[R_RWRITE], i, rand_io(&ours, true, s),
		     rand_io(&nat, true, s));
	}

	umount_ours();
	nftw(image, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	teardown_native(&nat);
	for (int i = 0; i < R_NR; i++)
		summarise(&r[i]);

	if (json) {
		printf("{\"native\": \"%s\", \"load_start\": %.2f, "
		       "\"load_end\": %.2f, \"secs\": %.1f",
		       native_is_ext4_loop ? "ext4 on a loop device"
					   : "host file system",
		       load0, loadavg(), ((double)now_ns() - t0) / 1e9);
		for (int i = 0; i < R_NR; i++)
			printf(", \"%s_ns\": %.0f, \"%s_native_ns\": %.0f, "
			       "\"%s_ratio\": %.3f, \"%s_ratio_min\": %.3f, "
			       "\"%s_ratio_max\": %.3f, \"%s_rounds\": %d, "
			       "\"%s_cpu_ratio\": %.3f",
			       r[i].key, r[i].med_ours, r[i].key,
			       r[i].med_native, r[i].key, r[i].ratio, r[i].key,
			       r[i].rmin, r[i].key, r[i].rmax, r[i].key,
			       r[i].n, r[i].key,
			       r[i].per_call_cpu ? r[i].cpu_ratio : 0.0);
		printf("}\n");
		return 0;
	}
	printf("ukfs through uk_dispatch vs %s through syscalls "
	       "(ratio = native / ours; medians over rounds, both sides "
	       "interleaved)\n",
	       native_is_ext4_loop ? "ext4 (journaled, loop device)"
				   : "the host file system");
	printf("%-18s %14s %14s %7s %15s %6s %9s\n", "op", "ours ns/op",
	       "native ns/op", "ratio", "ratio min-max", "rounds",
	       "cpu ratio");
	for (int i = 0; i < R_NR; i++) {
		printf("%-18s %14.0f %14.0f %7.2f %7.2f-%-7.2f %6d", r[i].key,
		       r[i].med_ours, r[i].med_native, r[i].ratio, r[i].rmin,
		       r[i].rmax, r[i].n);
		if (r[i].per_call_cpu)
			printf(" %9.2f\n", r[i].cpu_ratio);
		else
			printf(" %9s\n", "-");
	}
	printf("(seq_* are ns for the whole %lu MiB; load average %.2f at "
	       "the start, %.2f at the end; %.0f s; nice %d; cpu ratio: "
	       "process CPU time, ext4's kernel threads not counted)\n",
	       BIG / MIB, load0, loadavg(), ((double)now_ns() - t0) / 1e9,
	       getpriority(PRIO_PROCESS, 0));
	return 0;
}
