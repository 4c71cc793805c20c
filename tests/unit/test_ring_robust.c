// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_robust.c - the server against clients that do not
 * play by the rules: garbage in every field of the region (states, ready
 * masks, doorbell, batch counts, lengths, pointers, flags flipped
 * mid-call), a client killed in the middle of a call, and a client whose
 * call blocks in the kernel. Another client's workload must run unharmed
 * throughout, and the dead client's task must be reaped.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "client_internal.h"
#include "ring_test.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Garbage, everywhere, for ms milliseconds. */
static void vandal(void *arg)
{
	unsigned int ms = (unsigned int)(uintptr_t)arg;
	struct uk_ring_header *h;
	struct timespec t0, t;

	rt_connect();
	h = uk_client.hdr;
	rng ^= (uint64_t)getpid() << 20;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		unsigned int i = rnd() % UK_RING_NSLOTS;
		struct uk_ring_slot *s = uk_ring_slot_at(uk_client.region, i);
		uint64_t r = rnd();

		switch (r % 8) {
		case 0: /* a full request of garbage, published */
			s->nr = (int64_t)(rnd() % 600);
			/* The test double has one file for everybody: our
			 * garbage must not write the honest client's bytes
			 * (a real kernel keeps them apart by permissions). */
			if (s->nr == SYS_write || s->nr == SYS_pwrite64)
				s->nr = SYS_pread64;
			for (int k = 0; k < 6; k++)
				s->args[k] = rnd() % 3 ? rnd() :
					(uint64_t)(uintptr_t)s->data +
						rnd() % (2 * UK_RING_DATA_SIZE);
			s->flags = (uint16_t)rnd();
			s->count = rnd() % 4 ? (uint16_t)rnd() :
				   (uint16_t)(rnd() % 70);
			atomic_store(&s->state, UK_SLOT_REQ);
			atomic_fetch_or(&h->ready, 1ull << i);
			break;
		case 1: /* a batch of garbage */
			for (unsigned int k = 0; k < 64; k++) {
				struct uk_ring_req *q =
					(struct uk_ring_req *)s->data + k;

				q->nr = (int64_t)(rnd() % 400);
				if (q->nr == SYS_write || q->nr == SYS_pwrite64)
					q->nr = SYS_pread64;
				for (int a = 0; a < 6; a++)
					q->args[a] = rnd();
			}
			s->flags = UK_SLOT_BATCH;
			s->count = (uint16_t)(rnd() % 80);
			atomic_store(&s->state, UK_SLOT_REQ | (rnd() & 0x300));
			atomic_fetch_or(&h->ready, ~0ull);
			break;
		case 2: /* states flipped under the daemon's feet */
			atomic_store(&s->state, (uint32_t)rnd());
			break;
		case 3:
			atomic_store(&h->ready, rnd());
			break;
		case 4:
			atomic_store(&h->doorbell, (uint32_t)rnd());
			syscall(SYS_futex, &h->doorbell, FUTEX_WAKE, 1, NULL,
				NULL, 0);
			break;
		case 5:
			atomic_store(&h->awake, (uint32_t)rnd());
			h->nslots = (uint32_t)rnd();
			h->data_size = (uint32_t)rnd();
			break;
		case 6: /* data area garbage */
			for (int k = 0; k < 64; k++)
				((uint64_t *)s->data)[rnd() % 2048] = rnd();
			break;
		default: /* a request whose pointers run off the slot */
			s->nr = SYS_pread64;
			s->args[1] = (uint64_t)(uintptr_t)s->data +
					 UK_RING_DATA_SIZE - 8;
			s->args[2] = rnd() % 100000;
			s->flags = 0;
			atomic_store(&s->state, UK_SLOT_REQ);
			atomic_fetch_or(&h->ready, 1ull << i);
			break;
		}
		if (!(rnd() % 64)) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000 +
				    (t.tv_nsec - t0.tv_nsec) / 1000000 >
			    ms)
				break;
		}
	}
}

/* An honest workload: writes and reads back its chunk, checks ids. */
static void honest(void *arg)
{
	unsigned char w[3000], r[3000];
	unsigned long off = (unsigned long)(uintptr_t)arg * 65536;

	rt_connect();
	for (int it = 0; it < 3000; it++) {
		size_t n = 1 + (size_t)it % sizeof(w);

		memset(w, it, n);
		RT_CHECK(uk_syscall(SYS_pwrite64, 0, w, n, off) == (long)n);
		RT_CHECK(uk_syscall(SYS_pread64, 0, r, n, off) == (long)n);
		RT_CHECK(!memcmp(w, r, n));
		RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
	}
}

static void test_garbage_does_not_hurt_others(void **state)
{
	struct uk_ring_server_stats st;
	pid_t bad[2], good;

	(void)state;
	rt_start(NULL);
	bad[0] = rt_spawn(vandal, (void *)1500);
	bad[1] = rt_spawn(vandal, (void *)1500);
	good = rt_spawn(honest, (void *)3);
	rt_wait(good);
	rt_wait(bad[0]);
	rt_wait(bad[1]);
	/* The server still serves, and every task is reaped. */
	rt_run(honest, (void *)4);
	assert_true(RT_WAIT_FOR(atomic_load(&fakek_tasks_live) == 0, 3000));
	uk_ring_server_get_stats(rt_srv, &st);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.tasks, 0);
	rt_stop();
}

static void blocker(void *arg)
{
	int *p = arg;
	char c = 0;

	rt_connect();
	RT_CHECK(write(p[1], &c, 1) == 1);
	uk_syscall_ring(FAKE_NR_BLOCK);
}

static void test_dies_mid_call(void **state)
{
	struct uk_ring_server_stats st;
	int p[2];
	pid_t pid, good;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	rt_start(NULL);
	pid = rt_spawn(blocker, p);
	assert_int_equal(read(p[0], &c, 1), 1);
	usleep(50000); /* it is inside the call now */
	/* While its call blocks a worker, another client is served. */
	good = rt_spawn(honest, (void *)5);
	rt_wait(good);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The connection is gone at once; the task when its call ends. */
	assert_true(RT_WAIT_FOR(
		(uk_ring_server_get_stats(rt_srv, &st), st.clients == 0),
		2000));
	fakek_unblock();
	assert_true(RT_WAIT_FOR(atomic_load(&fakek_tasks_live) == 0, 3000));
	uk_ring_server_get_stats(rt_srv, &st);
	assert_true(st.rescues >= 1);
	rt_stop();
	close(p[0]);
	close(p[1]);
}

static void quick(void *arg)
{
	(void)arg;
	rt_connect();
	for (int i = 0; i < 300; i++)
		RT_CHECK(uk_syscall_ring(SYS_getppid) == getppid());
}

static void test_blocked_calls_do_not_starve(void **state)
{
	struct uk_ring_server_opts o = { .max_workers = 6 };
	struct timespec t0, t1;
	int p[2];
	pid_t b[3];
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	rt_start(&o);
	/* Three clients stuck in blocking calls. */
	for (int i = 0; i < 3; i++) {
		b[i] = rt_spawn(blocker, p);
		assert_int_equal(read(p[0], &c, 1), 1);
	}
	usleep(20000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rt_run(quick, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		struct uk_ring_server_stats st;

		uk_ring_server_get_stats(rt_srv, &st);
		fprintf(stderr, "blocked: 300 calls in %.3f s, %llu rescues, "
			"%u workers\n",
			(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			(unsigned long long)st.rescues, st.workers);
	}
	/* Well before the blocked calls give up (10 s). */
	assert_true(t1.tv_sec - t0.tv_sec < 7);
	fakek_unblock();
	for (int i = 0; i < 3; i++)
		rt_wait(b[i]);
	rt_stop();
	close(p[0]);
	close(p[1]);
}

static void idle_client(void *arg)
{
	int *p = arg;
	char c = 0;

	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
	RT_CHECK(write(p[1], &c, 1) == 1);
	RT_CHECK(read(p[2], &c, 1) == 1);
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connected but idle client: the server sleeps (the clock refresh, a
 * few times a second, is all it does). */
static void test_idle_server_uses_no_cpu(void **state)
{
	int p[4];
	pid_t pid;
	double c0, c1;
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(p + 2), 0);
	rt_start(NULL);
	pid = rt_spawn(idle_client, p);
	assert_int_equal(read(p[0], &c, 1), 1);
	usleep(50000); /* past the idle window */
	c0 = cpu_seconds();
	usleep(1000000);
	c1 = cpu_seconds();
	fprintf(stderr, "idle server: %.2f ms of CPU in 1 s\n",
		(c1 - c0) * 1e3);
	assert_true(c1 - c0 < 0.02);
	assert_int_equal(write(p[3], &c, 1), 1);
	rt_wait(pid);
	rt_stop();
	for (int i = 0; i < 4; i++)
		close(p[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_does_not_hurt_others),
		cmocka_unit_test(test_dies_mid_call),
		cmocka_unit_test(test_blocked_calls_do_not_starve),
		cmocka_unit_test(test_idle_server_uses_no_cpu),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
