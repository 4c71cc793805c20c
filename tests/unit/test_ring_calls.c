// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_calls.c - calls through the ring: many threads in
 * one client, many client processes at once, batches, payloads inline and
 * through process_vm_*v, and -EFAULT for bad pointers on both paths (a
 * streamed read writes nothing past a hole in its buffer), also
 * for wild pointers in the payloads the client library copies itself
 * (without taking the program's own SIGSEGV handler away), and a poller
 * that finds its client on its own CPU moving away from it.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "client_internal.h"
#include "ring_test.h"

#define CHUNK 65536u /* each thread/client owns one chunk of the file */

static void fill(unsigned char *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

/* Writes and reads back its own chunk: sizes inline and beyond. */
static int rw_workload(unsigned int chunk, unsigned int iters)
{
	static const size_t sizes[] = { 1, 100, 4096, 16000, 40000, 65536 };
	unsigned char *w = malloc(CHUNK), *r = malloc(CHUNK);
	unsigned long off = (unsigned long)chunk * CHUNK;
	int bad = 0;

	for (unsigned int it = 0; it < iters && !bad; it++) {
		size_t n = sizes[it % 6];
		bool direct = (it / 6) % 2;
		long ret;

		fill(w, n, it + chunk);
		memset(r, 0, n);
		ret = direct ? uk_syscall_direct(SYS_pwrite64, 0, w, n, off) :
			       uk_syscall(SYS_pwrite64, 0, w, n, off);
		bad |= ret != (long)n;
		ret = uk_syscall(SYS_pread64, 0, r, n, off);
		bad |= ret != (long)n || memcmp(w, r, n);
		bad |= uk_syscall_ring(SYS_getppid) != getppid();
		if (bad)
			fprintf(stderr, "chunk %u it %u n %zu ret %ld\n", chunk,
				it, n, ret);
	}
	free(w);
	free(r);
	return bad;
}

struct thr {
	pthread_t t;
	unsigned int chunk;
	int bad;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;

	t->bad = rw_workload(t->chunk, 300);
	return NULL;
}

static void threads_client(void *arg)
{
	unsigned int base = (unsigned int)(uintptr_t)arg;
	struct thr t[8];

	rt_connect();
	for (int i = 0; i < 8; i++) {
		t[i].chunk = base + (unsigned int)i;
		RT_CHECK(!pthread_create(&t[i].t, NULL, thread_main, &t[i]));
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i].t, NULL);
		RT_CHECK(!t[i].bad);
	}
}

static void test_many_threads_one_client(void **state)
{
	struct uk_ring_server_stats st;

	(void)state;
	rt_start(NULL);
	rt_run(threads_client, (void *)0);
	uk_ring_server_get_stats(rt_srv, &st);
	assert_true(st.calls >= 8 * 300 * 3);
	rt_stop();
}

/* More threads than slots: the extra ones borrow slots in turn. */
static void *slot_hog(void *arg)
{
	long *ok = arg;

	for (int i = 0; i < 200; i++)
		*ok += uk_syscall_ring(SYS_getpid) == getpid();
	return NULL;
}

static void many_threads_client(void *arg)
{
	enum { N = 80 };
	pthread_t t[N];
	long ok[N] = { 0 };

	(void)arg;
	rt_connect();
	for (int i = 0; i < N; i++)
		RT_CHECK(!pthread_create(&t[i], NULL, slot_hog, &ok[i]));
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		RT_CHECK(ok[i] == 200);
	}
}

static void test_more_threads_than_slots(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(many_threads_client, NULL);
	rt_stop();
}

static void one_client(void *arg)
{
	rt_connect();
	RT_CHECK(!rw_workload((unsigned int)(uintptr_t)arg, 400));
}

static void test_many_clients(void **state)
{
	pid_t pids[6];

	(void)state;
	rt_start(NULL);
	for (int i = 0; i < 6; i++)
		pids[i] = rt_spawn(one_client, (void *)(uintptr_t)(i + 8));
	for (int i = 0; i < 6; i++)
		rt_wait(pids[i]);
	/* Every task is reaped once its process is gone. */
	assert_true(RT_WAIT_FOR(atomic_load(&fakek_tasks_live) == 0, 2000));
	rt_stop();
}

static void batch_client(void *arg)
{
	struct uk_req q[100];
	unsigned char w[8][512], r[8][512];
	struct stat st;

	(void)arg;
	rt_connect();
	/* 1 request. */
	q[0] = (struct uk_req){ .nr = SYS_getpid };
	RT_CHECK(uk_submit(q, 1) == 0 && q[0].result == getpid());
	/* 8 writes, 8 reads of what they wrote, in order, in one batch. */
	for (int i = 0; i < 8; i++) {
		fill(w[i], 512, (unsigned)i + 77);
		q[i] = (struct uk_req){ SYS_pwrite64,
					{ 0, (long)w[i], 512, 20 * CHUNK + i * 512 } };
		q[8 + i] = (struct uk_req){ SYS_pread64,
					    { 0, (long)r[i], 512, 20 * CHUNK + i * 512 } };
	}
	q[16] = (struct uk_req){ SYS_fstat, { 7, (long)&st } };
	q[17] = (struct uk_req){ 4242 };
	RT_CHECK(uk_submit(q, 18) == 0);
	for (int i = 0; i < 8; i++) {
		RT_CHECK(q[i].result == 512 && q[8 + i].result == 512);
		RT_CHECK(!memcmp(w[i], r[i], 512));
	}
	RT_CHECK(q[16].result == 0 && st.st_ino == 42 && st.st_size == 7);
	RT_CHECK(q[17].result == -ENOSYS);
	/* 100 requests: two hand-offs, results in place and in order. */
	for (int i = 0; i < 100; i++)
		q[i] = (struct uk_req){ i % 2 ? SYS_getppid : SYS_getuid };
	RT_CHECK(uk_submit(q, 100) == 0);
	for (int i = 0; i < 100; i++)
		RT_CHECK(q[i].result == (i % 2 ? getppid() : (long)getuid()));
}

static void test_batch(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(batch_client, NULL);
	rt_stop();
}

/* Our thread's slot: the only IDLE one in a one-thread client. */
static struct uk_ring_slot *my_slot(void)
{
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
	for (unsigned int i = 0; i < UK_RING_NSLOTS; i++) {
		struct uk_ring_slot *s = uk_ring_slot_at(uk_client.region, i);

		if (atomic_load(&s->state) == UK_SLOT_IDLE)
			return s;
	}
	RT_CHECK(!"no slot");
	return NULL;
}

static void efault_client(void *arg)
{
	unsigned char buf[256];
	struct uk_ring_slot *s;
	unsigned char *page;
	long ps = sysconf(_SC_PAGESIZE);

	(void)arg;
	rt_connect();
	s = my_slot();

	/* Inline: a pointer into our slot's data area is translated. */
	memset(s->data, 0x5a, 300);
	RT_CHECK(uk_syscall_direct(SYS_pwrite64, 0, s->data, 300, 0) == 300);
	RT_CHECK(uk_syscall_direct(SYS_pread64, 0, buf, 256, 0) == 256);
	RT_CHECK(buf[0] == 0x5a && buf[255] == 0x5a);
	/* Inline: a range running off the end of the area is -EFAULT. */
	RT_CHECK(uk_syscall_direct(SYS_pread64, 0,
				   s->data + UK_RING_DATA_SIZE - 100, 4096,
				   0) == -EFAULT);
	RT_CHECK(uk_syscall_direct(SYS_pwrite64, 0,
				   s->data + UK_RING_DATA_SIZE - 1, 2,
				   0) == -EFAULT);
	/* Inline: a path with no NUL before the end is -EFAULT. */
	memset(s->data + UK_RING_DATA_SIZE - 10, 'a', 10);
	RT_CHECK(uk_syscall_direct(SYS_openat, -100,
				   s->data + UK_RING_DATA_SIZE - 10, 0) ==
		 -EFAULT);
	strcpy((char *)s->data + 100, "/inline/path");
	RT_CHECK(uk_syscall_direct(SYS_openat, -100, s->data + 100, 0) == 12);

	/* process_vm: unmapped, NULL, and a wild kernel-half address. */
	page = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	RT_CHECK(page != MAP_FAILED);
	RT_CHECK(munmap(page + ps, ps) == 0);
	RT_CHECK(uk_syscall_direct(SYS_pread64, 0, page + ps, 64, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall_direct(SYS_pread64, 0, page + ps - 32, 64, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall(SYS_pread64, 0, NULL, 64, 0) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, (void *)8, 64, 0) == -EFAULT);
	RT_CHECK(uk_syscall_direct(SYS_pwrite64, 0, (void *)-4096L, 64, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall(SYS_pread64, 0, page + ps, 1 << 20, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall(SYS_fstat, 0, (void *)16) == -EFAULT);
	/* A path running into the hole: -EFAULT; ending before it: fine. */
	memset(page + ps - 8, 'b', 8);
	RT_CHECK(uk_syscall_direct(SYS_openat, -100, page + ps - 8, 0) ==
		 -EFAULT);
	page[ps - 1] = 0;
	RT_CHECK(uk_syscall_direct(SYS_openat, -100, page + ps - 8, 0) == 7);
	RT_CHECK(uk_syscall(SYS_openat, -100, NULL, 0) == -EFAULT);
	munmap(page, ps);
}

static void test_efault_both_paths(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(efault_client, NULL);
	rt_stop();
}

/* Naps while the daemon serves the call: the window fills meanwhile. */
static void nap(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
}

/* Whether b[0, n) is all byte c. */
static bool all(const unsigned char *b, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != c)
			return false;
	return true;
}

/*
 * A streamed read into a buffer with a hole near its start and memory the
 * program uses after it: the client naps, the daemon finds the window
 * full and moves the rest itself. A read stops at the hole, so nothing
 * past it may change (it did: the daemon wrote the rest past the hole
 * with process_vm, over whatever lay there, a stack or the TLS).
 */
static void hole_client(void *arg)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t n = 1u << 20, map = n + 2 * (size_t)ps;
	unsigned char *w = malloc(n), *m;
	long a[6] = { 0, 0, (long)n, 0 };

	(void)arg;
	rt_connect();
	fill(w, n, 5);
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, w, n, 0) == (long)n);
	m = mmap(NULL, map, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	RT_CHECK(m != MAP_FAILED);
	memset(m, 0xcc, map);
	RT_CHECK(mprotect(m + ps, ps, PROT_NONE) == 0);
	/* The buffer starts in the hole. */
	a[1] = (long)(m + ps);
	RT_CHECK(uk_ring_call_overlap(SYS_pread64, a, true, nap, NULL) ==
		 -EFAULT);
	RT_CHECK(all(m, (size_t)ps, 0xcc));
	RT_CHECK(all(m + 2 * ps, map - 2 * (size_t)ps, 0xcc));
	/* A page, then the hole: the page is read, nothing after the hole. */
	a[1] = (long)m;
	RT_CHECK(uk_ring_call_overlap(SYS_pread64, a, true, nap, NULL) ==
		 -EFAULT);
	RT_CHECK(!memcmp(m, w, (size_t)ps));
	RT_CHECK(all(m + 2 * ps, map - 2 * (size_t)ps, 0xcc));
	/* A good buffer still streams, with or without a nap. */
	RT_CHECK(mprotect(m + ps, ps, PROT_READ | PROT_WRITE) == 0);
	RT_CHECK(uk_ring_call_overlap(SYS_pread64, a, true, nap, NULL) ==
		 (long)n);
	RT_CHECK(!memcmp(m, w, n) && all(m + n, map - n, 0xcc));
	munmap(m, map);
	free(w);
}

static void test_efault_stops_at_hole(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(hole_client, NULL);
	rt_stop();
}

static sigjmp_buf segv_jmp;
static volatile sig_atomic_t segv_seen;

static void program_segv(int sig)
{
	(void)sig;
	segv_seen++;
	siglongjmp(segv_jmp, 1);
}

/*
 * uk_syscall with wild pointers in what the library copies inline (in and
 * out buffers, paths, stat structs, batch entries): -EFAULT, no crash, and
 * nothing done (a read-only out-buffer is refused before the call, so its
 * bytes stay). The program's SIGSEGV handler, installed before connecting,
 * still gets the program's own faults.
 */
static void wild_client(void *arg)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct sigaction sa = { .sa_handler = program_segv };
	unsigned char *page, *ro;
	struct uk_req q[3];
	struct stat st;
	char buf[64];

	(void)arg;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	RT_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
	rt_connect();
	/* A PROT_NONE page, not a hole a later mmap could fill. */
	page = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	RT_CHECK(page != MAP_FAILED);
	RT_CHECK(mprotect(page + ps, ps, PROT_NONE) == 0);
	ro = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	RT_CHECK(ro != MAP_FAILED);

	/* The examples: tiny addresses (the daemon's -EFAULT). */
	RT_CHECK(uk_syscall(SYS_write, 0, (void *)1, 10) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_openat, -100, (char *)1, 0) == -EFAULT);
	/* Unmapped, straddling the hole, kernel half: in-buffers. */
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, page + ps, 64, 0) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, page + ps - 32, 64, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall(SYS_write, 0, (void *)-4096L, 10) == -EFAULT);
	/* Paths. */
	RT_CHECK(uk_syscall(SYS_openat, -100, page + ps, 0) == -EFAULT);
	memset(page + ps - 8, 'p', 8);
	RT_CHECK(uk_syscall(SYS_openat, -100, page + ps - 8, 0) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_openat, -100, (char *)-4096L, 0) == -EFAULT);
	/* Out-buffers: unmapped, straddling, read-only. */
	RT_CHECK(uk_syscall(SYS_pread64, 0, page + ps, 64, 0) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_pread64, 0, page + ps - 16, 64, 0) ==
		 -EFAULT);
	RT_CHECK(uk_syscall(SYS_pread64, 0, ro, 64, 0) == -EFAULT);
	RT_CHECK(ro[0] == 0 && ro[63] == 0);
	RT_CHECK(uk_syscall(SYS_fstat, 5, page + ps) == -EFAULT);
	RT_CHECK(uk_syscall(SYS_fstat, 5, ro) == -EFAULT);
	/* A batch: the bad entry fails alone. */
	q[0] = (struct uk_req){ .nr = SYS_pwrite64,
				.args = { 0, (long)(page + ps), 8, 0 } };
	q[1] = (struct uk_req){ .nr = SYS_getppid };
	q[2] = (struct uk_req){ .nr = SYS_pread64,
				.args = { 0, (long)ro, 8, 0 } };
	RT_CHECK(uk_submit(q, 3) == 0);
	RT_CHECK(q[0].result == -EFAULT && q[1].result >= 0 &&
		 q[2].result == -EFAULT);
	/* Good pointers still work, inline. */
	memset(buf, 7, sizeof(buf));
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, buf, 64, 0) == 64);
	memset(buf, 0, sizeof(buf));
	RT_CHECK(uk_syscall(SYS_pread64, 0, buf, 64, 0) == 64);
	RT_CHECK(buf[0] == 7 && buf[63] == 7);
	RT_CHECK(uk_syscall(SYS_fstat, 5, &st) == 0 && st.st_ino == 42);
	RT_CHECK(uk_syscall(SYS_openat, -100, "/ok", 0) == 3);

	/* The program's own fault still reaches the program's handler. */
	if (!sigsetjmp(segv_jmp, 1))
		*(volatile unsigned char *)(page + ps) = 1;
	RT_CHECK(segv_seen == 1);
	munmap(page, 2 * ps);
	munmap(ro, ps);
}

static void test_wild_pointers_inline(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(wild_client, NULL);
	rt_stop();
}

static void big_client(void *arg)
{
	size_t n = 1u << 20;
	unsigned char *w = malloc(n), *r = malloc(n);

	(void)arg;
	rt_connect();
	fill(w, n, 99);
	RT_CHECK(uk_syscall(SYS_pwrite64, 0, w, n, 0) == (long)n);
	RT_CHECK(uk_syscall(SYS_pread64, 0, r, n, 0) == (long)n);
	RT_CHECK(!memcmp(w, r, n));
	/* Paths longer than the data area go through process_vm too. */
	{
		char *p = malloc(20000);

		memset(p, 'x', 19999);
		p[0] = '/';
		p[19999] = 0;
		RT_CHECK(uk_syscall(SYS_openat, -100, p, 0) == -ENAMETOOLONG);
		p[3000] = 0;
		RT_CHECK(uk_syscall(SYS_openat, -100, p, 0) == 3000);
		free(p);
	}
	free(w);
	free(r);
}

static void test_large_transfers(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(big_client, NULL);
	rt_stop();
}

/*
 * Pins itself to the CPU the poller runs on, then calls until the poller
 * is seen on another CPU. The poller moves after RING_MOVE_AFTER (16)
 * requests that came with YIELD; left to the scheduler, the two stayed
 * together for 1600-8200 calls here. Exits 3 when it cannot pin itself.
 */
static void same_cpu_client(void *arg)
{
	struct uk_ring_header *h;
	cpu_set_t one;
	bool apart = false;
	int pc = -1;

	(void)arg;
	rt_connect();
	h = uk_client.hdr;
	for (int i = 0; i < 100000 && pc < 0; i++) {
		RT_CHECK(uk_syscall_ring(SYS_getppid) == getppid());
		pc = atomic_load(&h->poller_cpu);
	}
	RT_CHECK(pc >= 0);
	CPU_ZERO(&one);
	CPU_SET(pc, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		_exit(3);
	for (int i = 0; i < 1000 && !apart; i++) {
		RT_CHECK(uk_syscall_ring(SYS_getppid) == getppid());
		pc = atomic_load(&h->poller_cpu);
		apart = pc >= 0 && pc != sched_getcpu();
	}
	RT_CHECK(apart);
}

static void test_poller_leaves_client_cpu(void **state)
{
	struct uk_ring_server_stats st;
	cpu_set_t mask;

	(void)state;
	if (sched_getaffinity(0, sizeof(mask), &mask) || CPU_COUNT(&mask) < 2)
		skip();
	rt_start(NULL);
	rt_run(same_cpu_client, NULL);
	uk_ring_server_get_stats(rt_srv, &st);
	/* At most one move per 10 ms: no flapping. */
	assert_true(st.moves <= 400);
	rt_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_threads_one_client),
		cmocka_unit_test(test_more_threads_than_slots),
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_efault_both_paths),
		cmocka_unit_test(test_efault_stops_at_hole),
		cmocka_unit_test(test_wild_pointers_inline),
		cmocka_unit_test(test_large_transfers),
		cmocka_unit_test(test_poller_leaves_client_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
