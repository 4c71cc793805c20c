// SPDX-License-Identifier: MIT
/*
 * bench/bench_ring.c - bench/run ring [--json]: the cost of a system call
 * through the ring, beside what Linux charges for the same thing, in one
 * run: the null round trip (getppid forced through the ring) and the
 * native syscall; the round trip after the daemon went to sleep and a
 * futex round trip between two processes; vvar getpid and clock_gettime
 * beside native getpid and the vDSO; batches of 1, 8 and 64; pread through
 * the ring (4 KiB, 1 MiB, and the inline/process_vm crossover).
 *
 * The server runs in a child process (a real kernel with its tmpfs root),
 * the client in this one. Everything is measured twice: both pinned to one
 * CPU, and client and server on two CPUs (--one-cpu or --two-cpu: only
 * that one). Each figure is the median of several rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring_server.h"
#include "uk_err.h"
#include "ukernel.h"

#define ROUNDS 7
#define MAX_KEYS 40

struct result {
	const char *key;
	const char *what;
	double v[2]; /* [0] one CPU, [1] two CPUs; < 0: not measured */
};

static struct result res[MAX_KEYS];
static int nres;

static void put(int cfg, const char *key, const char *what, double v)
{
	int i;

	for (i = 0; i < nres; i++)
		if (!strcmp(res[i].key, key))
			break;
	if (i == nres) {
		res[nres].key = key;
		res[nres].what = what;
		res[nres].v[0] = res[nres].v[1] = -1;
		nres++;
	}
	res[i].v[cfg] = v;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

/* Median over ROUNDS of the mean cost of one call of body over iters. */
#define MEASURE(iters, body)                                                   \
	__extension__({                                                        \
		double r_[ROUNDS];                                             \
		for (int k_ = 0; k_ < ROUNDS; k_++) {                          \
			double t0_ = now_ns();                                 \
			for (long i_ = 0; i_ < (iters); i_++) {                \
				body;                                          \
			}                                                      \
			r_[k_] = (now_ns() - t0_) / (iters);                   \
		}                                                              \
		median(r_, ROUNDS);                                            \
	})

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0)
		perror("sched_setaffinity");
}

static void die(const char *what)
{
	fprintf(stderr, "bench-ring: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- server child ------------------------------------------------------- */

static char sock_dir[64], sock_path[96];

struct server {
	pid_t pid;
	int stop_fd; /* closing it stops the server */
};

/* Runs a server pinned to cpu in a child, until stop_fd is closed. */
static struct server server_start(int cpu)
{
	int ready[2], stop[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0 || pipe(stop) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct uk_ring_server_opts o = { .socket_path = sock_path };
		struct uk_ring_server *srv;
		struct uk_kernel *k;

		close(ready[0]);
		close(stop[1]);
		pin(cpu);
		k = uk_kernel_new(NULL);
		if (IS_ERR_OR_NULL(k))
			_exit(1);
		srv = uk_ring_server_start(k, &o);
		if (IS_ERR(srv))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(stop[0], &c, 1) < 0)
			_exit(1);
		uk_ring_server_stop(srv);
		uk_kernel_free(k);
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	if (read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "bench-ring: the server did not start\n");
		exit(1);
	}
	close(ready[0]);
	return (struct server){ pid, stop[1] };
}

static void server_stop(struct server s)
{
	close(s.stop_fd);
	waitpid(s.pid, NULL, 0);
}

/* ---- futex round trip between two processes ---------------------------- */

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	while (atomic_load(w) == v)
		syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/*
 * A wakes B (word to odd), B wakes A (word to even); each sleeps in
 * FUTEX_WAIT. gap_us of idle before each, as for the ring's wake-up path.
 */
static double futex_rt(int cpu_a, int cpu_b, int n, int gap_us)
{
	_Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double *v = malloc(n * sizeof(*v)), m;
	pid_t pid;

	if (w == MAP_FAILED || !v)
		die("mmap");
	atomic_store(w, 0);
	pid = fork();
	if (pid == 0) {
		pin(cpu_b);
		for (int i = 0; i < n; i++) {
			futex_wait(w, 2u * i);
			atomic_store(w, 2u * i + 2);
			futex_wake(w);
		}
		_exit(0);
	}
	pin(cpu_a);
	for (int i = 0; i < n; i++) {
		double t0;

		usleep(gap_us);
		t0 = now_ns();
		atomic_store(w, 2u * i + 1);
		futex_wake(w);
		futex_wait(w, 2u * i + 1);
		v[i] = now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	m = median(v, n);
	free(v);
	munmap((void *)w, 4096);
	return m;
}

/* ---- one configuration ------------------------------------------------- */

static void run_config(int cfg, int cpu_client, int cpu_server)
{
	static unsigned char buf[1 << 20];
	struct timespec ts;
	struct server srv;
	long fd, r;
	double v;
	int nfd;

	srv = server_start(cpu_server);
	pin(cpu_client);
	if (uk_connect(sock_path) < 0) {
		fprintf(stderr, "bench-ring: %s\n", uk_connect_error());
		exit(1);
	}

	/* Null round trip. */
	put(cfg, "native_syscall_ns", "native syscall(SYS_getppid)",
	    MEASURE(50000, syscall(SYS_getppid)));
	v = MEASURE(20000, uk_syscall_ring(SYS_getppid));
	put(cfg, "null_rt_ns", "ring round trip, getppid", v);
	/*
	 * The same as a median of 2000 groups of 16 calls: a machine shared
	 * with other work preempts us now and then for milliseconds, which
	 * a mean over many calls takes in whole.
	 */
	{
		static double g[2000];

		for (int i = 0; i < 2000; i++) {
			double t0 = now_ns();

			for (int j = 0; j < 16; j++)
				uk_syscall_ring(SYS_getppid);
			g[i] = (now_ns() - t0) / 16;
		}
		put(cfg, "null_rt_p50_ns", "  median of 16-call groups",
		    median(g, 2000));
	}

	/* After the daemon went to sleep: the first call wakes it. */
	{
		double w[200];

		for (int i = 0; i < 200; i++) {
			double t0;

			usleep(2000); /* > the poller's idle window */
			t0 = now_ns();
			uk_syscall_ring(SYS_getppid);
			w[i] = now_ns() - t0;
		}
		put(cfg, "wake_rt_ns", "ring round trip, daemon asleep",
		    median(w, 200));
	}
	put(cfg, "futex_rt_ns", "futex round trip, 2 processes, idle",
	    futex_rt(cpu_client, cpu_server, 200, 2000));
	pin(cpu_client);

	/* vvar. */
	put(cfg, "native_getpid_ns", "native syscall(SYS_getpid)",
	    MEASURE(50000, syscall(SYS_getpid)));
	put(cfg, "vvar_getpid_ns", "uk_syscall(SYS_getpid), vvar",
	    MEASURE(1000000, r = uk_syscall(SYS_getpid);
		    __asm__ __volatile__("" ::"r"(r))));
	put(cfg, "native_vdso_clock_ns", "clock_gettime(MONOTONIC), vDSO",
	    MEASURE(1000000, clock_gettime(CLOCK_MONOTONIC, &ts)));
	put(cfg, "vvar_clock_ns", "uk_syscall(clock_gettime), vvar",
	    MEASURE(1000000,
		    uk_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts)));

	/* Batches. */
	{
		static const unsigned int ns[] = { 1, 8, 64 };
		static const char *keys[] = { "batch1_ns", "batch8_ns",
					      "batch64_ns" };
		static const char *pkeys[] = { "batch1_per_req_ns",
					       "batch8_per_req_ns",
					       "batch64_per_req_ns" };
		struct uk_req q[64];

		for (int b = 0; b < 3; b++) {
			for (unsigned int j = 0; j < ns[b]; j++)
				q[j] = (struct uk_req){ .nr = SYS_getppid };
			v = MEASURE(5000, uk_submit(q, ns[b]));
			put(cfg, keys[b], "uk_submit of N getppid", v);
			put(cfg, pkeys[b], "  per request", v / ns[b]);
		}
	}

	/* pread on a tmpfs file in the kernel. */
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/bench",
			O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || uk_syscall(SYS_pwrite64, fd, buf, sizeof(buf), 0) !=
			      (long)sizeof(buf)) {
		fprintf(stderr, "bench-ring: cannot make /bench: %ld\n", fd);
		exit(1);
	}
	put(cfg, "pread_4k_ns", "ring pread 4 KiB (inline)",
	    MEASURE(5000, uk_syscall(SYS_pread64, fd, buf, 4096, 0)));
	put(cfg, "pread_1m_ns", "ring pread 1 MiB (process_vm)",
	    MEASURE(200, uk_syscall(SYS_pread64, fd, buf, 1 << 20, 0)));
	/* The crossover: the same sizes inline and through process_vm. */
	{
		static const long sz[] = { 512, 4096, 16384 };
		static const char *ik[] = { "pread_512_inline_ns",
					    "pread_4k_inline_ns",
					    "pread_16k_inline_ns" };
		static const char *vk[] = { "pread_512_vm_ns", "pread_4k_vm_ns",
					    "pread_16k_vm_ns" };

		for (int i = 0; i < 3; i++) {
			put(cfg, ik[i], "ring pread, inline copy",
			    MEASURE(5000, uk_syscall(SYS_pread64, fd, buf,
						      sz[i], 0)));
			put(cfg, vk[i], "ring pread, process_vm_writev",
			    MEASURE(5000, uk_syscall_direct(SYS_pread64, fd,
							     buf, sz[i], 0)));
		}
	}
	/* Native reference: pread 4 KiB from a host tmpfs file. */
	nfd = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
	if (nfd >= 0 && pwrite(nfd, buf, 1 << 20, 0) == 1 << 20) {
		put(cfg, "native_pread_4k_ns", "native pread 4 KiB, /dev/shm",
		    MEASURE(50000, r = pread(nfd, buf, 4096, 0)));
		put(cfg, "native_pread_1m_ns", "native pread 1 MiB, /dev/shm",
		    MEASURE(300, r = pread(nfd, buf, 1 << 20, 0)));
	}
	if (nfd >= 0)
		close(nfd);
	uk_syscall(SYS_close, fd);
	put(cfg, "null_rt_ratio", "native / ring (>= 1: ring faster)",
	    res[0].v[cfg] / res[1].v[cfg]);
	uk_disconnect();
	server_stop(srv);
}

static void print_table(void)
{
	printf("%-24s %-38s %12s %12s\n", "key", "what", "1 CPU", "2 CPUs");
	for (int i = 0; i < nres; i++) {
		printf("%-24s %-38s", res[i].key, res[i].what);
		for (int c = 0; c < 2; c++) {
			if (res[i].v[c] < 0)
				printf(" %12s", "-");
			else if (strstr(res[i].key, "ratio"))
				printf(" %12.2f", res[i].v[c]);
			else
				printf(" %12.1f", res[i].v[c]);
		}
		printf("\n");
	}
}

static void print_json(void)
{
	/* Top-level keys: two CPUs (the normal case); then both sets. */
	printf("{\n");
	for (int i = 0; i < nres; i++)
		printf("  \"%s\": %.3f,\n", res[i].key,
		       res[i].v[1] >= 0 ? res[i].v[1] : res[i].v[0]);
	for (int c = 0; c < 2; c++) {
		printf("  \"%s\": {", c ? "two_cpu" : "one_cpu");
		for (int i = 0; i < nres; i++)
			printf("%s\"%s\": %.3f", i ? ", " : "", res[i].key,
			       res[i].v[c]);
		printf("}%s\n", c ? "" : ",");
	}
	printf("}\n");
}

int main(int argc, char **argv)
{
	bool json = false, one = true, two = true;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--one-cpu")) {
			two = false;
		} else if (!strcmp(argv[i], "--two-cpu")) {
			one = false;
		} else {
			fprintf(stderr, "usage: bench-ring [--json] "
					"[--one-cpu | --two-cpu]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/ukbench-ring-XXXXXX");
	if (!mkdtemp(sock_dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/ring.sock", sock_dir);

	if (one)
		run_config(0, 0, 0);
	if (two && ncpu >= 2)
		run_config(1, 0, 1);
	rmdir(sock_dir);
	if (json)
		print_json();
	else
		print_table();
	return 0;
}
