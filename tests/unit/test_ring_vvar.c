// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_vvar.c - the vvar areas: ids never torn under a
 * writer rewriting them, the clock close to the host's and monotonic
 * across the daemon's refreshes, the areas read-only for the client, the
 * change counters, and ids republished after setuid through the ring.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "client_internal.h"
#include "ring_test.h"

static int sync_pipe[2], go_pipe[2];

static void torn_client(void *arg)
{
	long reads = 0, fallbacks = 0;
	char c = 0;
	struct timespec t0, t;

	(void)arg;
	rt_connect();
	RT_CHECK(write(sync_pipe[1], &c, 1) == 1);
	RT_CHECK(read(go_pipe[0], &c, 1) == 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		int64_t ids[6];

		for (int i = 0; i < 1000; i++) {
			if (!uk_vvar_read_ids(ids)) {
				fallbacks++;
				continue;
			}
			reads++;
			/* The writer keeps all six equal. */
			for (int k = 1; k < 6; k++)
				RT_CHECK(ids[k] == ids[0]);
		}
		/* The public path too: a vvar answer or a ring fallback. */
		RT_CHECK(uk_syscall(SYS_getuid) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec -
			 t0.tv_nsec <
		 300000000L);
	RT_CHECK(reads > 1000);
	/* Done: the writer stops before our task (and its vvar) goes. */
	RT_CHECK(write(sync_pipe[1], &c, 1) == 1);
	RT_CHECK(read(go_pipe[0], &c, 1) == 1);
	fprintf(stderr, "torn test: %ld consistent reads, %ld busy\n", reads,
	       fallbacks);
}

static atomic_bool writer_stop;

static void *writer(void *arg)
{
	struct uk_vvar_task *v = arg;
	int64_t n = 1000;

	while (!atomic_load(&writer_stop)) {
		uk_ring_vvar_write_ids(v, n, n, n, n, n, n);
		n++;
	}
	return NULL;
}

static void test_ids_never_torn(void **state)
{
	struct uk_vvar_task *v;
	pthread_t th;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(sync_pipe), 0);
	assert_int_equal(pipe(go_pipe), 0);
	rt_start(NULL);
	pid = rt_spawn(torn_client, NULL);
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	v = uk_ring_server_task_vvar(rt_srv, pid);
	assert_non_null(v);
	atomic_store(&writer_stop, false);
	/* All six equal before the client looks. */
	uk_ring_vvar_write_ids(v, 999, 999, 999, 999, 999, 999);
	pthread_create(&th, NULL, writer, v);
	assert_int_equal(write(go_pipe[1], &c, 1), 1);
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	atomic_store(&writer_stop, true);
	pthread_join(th, NULL);
	assert_int_equal(write(go_pipe[1], &c, 1), 1);
	rt_wait(pid);
	rt_stop();
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	close(go_pipe[0]);
	close(go_pipe[1]);
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void clock_client(void *arg)
{
	struct timespec a, b, h, h2;
	int64_t prev = 0, maxerr = 0;
	struct timeval tv;
	long t;

	(void)arg;
	rt_connect();
	RT_CHECK(uk_client.gv->clock_ok);
	/* 600 ms: crosses at least two of the daemon's refreshes. */
	for (int i = 0; i < 600; i++) {
		for (int k = 0; k < 200; k++) {
			RT_CHECK(uk_syscall(SYS_clock_gettime, CLOCK_MONOTONIC,
					    &a) == 0);
			RT_CHECK(ns_of(&a) >= prev);
			prev = ns_of(&a);
		}
		/*
		 * b is read between h and h2: within 100 us of that interval
		 * (the interval itself may be long: a preemption between
		 * the reads is not the clock's error).
		 */
		clock_gettime(CLOCK_MONOTONIC, &h);
		RT_CHECK(uk_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b) ==
			 0);
		clock_gettime(CLOCK_MONOTONIC, &h2);
		if (ns_of(&b) - ns_of(&h2) > maxerr)
			maxerr = ns_of(&b) - ns_of(&h2);
		if (ns_of(&h) - ns_of(&b) > maxerr)
			maxerr = ns_of(&h) - ns_of(&b);
		RT_CHECK(ns_of(&b) >= ns_of(&h) - 100000);
		RT_CHECK(ns_of(&b) <= ns_of(&h2) + 100000);
		clock_gettime(CLOCK_REALTIME, &h);
		RT_CHECK(uk_syscall(SYS_clock_gettime, CLOCK_REALTIME, &b) ==
			 0);
		clock_gettime(CLOCK_REALTIME, &h2);
		RT_CHECK(ns_of(&b) <= ns_of(&h2) + 100000);
		RT_CHECK(ns_of(&b) >= ns_of(&h) - 100000);
		usleep(1000);
	}
	RT_CHECK(uk_syscall(SYS_gettimeofday, &tv, NULL) == 0);
	RT_CHECK(labs(tv.tv_sec - time(NULL)) <= 1);
	t = uk_syscall(SYS_time, NULL);
	RT_CHECK(labs(t - time(NULL)) <= 1);
	/* Clocks the vvar does not have go to the ring (ENOSYS here). */
	RT_CHECK(uk_syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID,
			    &a) == -ENOSYS);
	fprintf(stderr, "vvar clock: largest gap to the host's clock %lld ns\n",
	       (long long)maxerr);
}

static void test_clock_close_and_monotonic(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(clock_client, NULL);
	rt_stop();
}

static void readonly_client(void *arg)
{
	long ps = sysconf(_SC_PAGESIZE);

	(void)arg;
	rt_connect();
	RT_CHECK(mprotect((void *)uk_client.tv, ps, PROT_READ | PROT_WRITE) ==
		 -1);
	RT_CHECK(mprotect((void *)uk_client.gv, ps, PROT_READ | PROT_WRITE) ==
		 -1);
}

static void test_vvar_read_only(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(readonly_client, NULL);
	rt_stop();
}

static void counter_client(void *arg)
{
	uint64_t c0;
	char c = 0;

	(void)arg;
	rt_connect();
	c0 = uk_change_counter(3, 42);
	RT_CHECK(write(sync_pipe[1], &c, 1) == 1);
	RT_CHECK(read(go_pipe[0], &c, 1) == 1);
	RT_CHECK(uk_change_counter(3, 42) == c0 + 2);
}

static void test_change_counters(void **state)
{
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(sync_pipe), 0);
	assert_int_equal(pipe(go_pipe), 0);
	rt_start(NULL);
	pid = rt_spawn(counter_client, NULL);
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	uk_ring_inode_changed(rt_srv, 3, 42);
	uk_ring_inode_changed(rt_srv, 3, 42);
	assert_int_equal(write(go_pipe[1], &c, 1), 1);
	rt_wait(pid);
	rt_stop();
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	close(go_pipe[0]);
	close(go_pipe[1]);
}

static void setuid_client(void *arg)
{
	(void)arg;
	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_setuid, 4321) == 0);
	/* The daemon republished: the vvar answers the new uid at once. */
	RT_CHECK(uk_syscall(SYS_getuid) == 4321);
	RT_CHECK(uk_syscall(SYS_geteuid) == 4321);
}

static void test_ids_follow_setuid(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(setuid_client, NULL);
	rt_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_never_torn),
		cmocka_unit_test(test_clock_close_and_monotonic),
		cmocka_unit_test(test_vvar_read_only),
		cmocka_unit_test(test_change_counters),
		cmocka_unit_test(test_ids_follow_setuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
