/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/ring_test.h - what the ring tests share: an in-process server
 * (over the kernel test double, or a real kernel) on a socket in a fresh
 * directory, and forked client processes that report failures through
 * their exit status (RT_CHECK prints the failing line and exits 1).
 */
#ifndef UK_RING_TEST_H
#define UK_RING_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring_fakek.h"
#include "ring_internal.h"
#include "ukernel.h"

static char rt_dir[40], rt_sock[64];
static struct uk_ring_server *rt_srv;

#define RT_CHECK(c)                                                            \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: client check failed: %s\n",    \
				__FILE__, __LINE__, #c);                       \
			_exit(1);                                              \
		}                                                              \
	} while (0)

static inline void quiet_log(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/*
 * Lets the server's new threads finish starting before the test forks
 * clients: a fork while another thread holds the ASan allocator's lock
 * (thread start-up allocates) leaves the child deadlocked in malloc.
 */
static inline void rt_settle(void)
{
	usleep(100000);
}

/* A fresh directory for the socket; fills o's socket_path and log. */
static inline void rt_prepare(struct uk_ring_server_opts *o)
{
	snprintf(rt_dir, sizeof(rt_dir), "/tmp/ukring-test-XXXXXX");
	assert_non_null(mkdtemp(rt_dir));
	snprintf(rt_sock, sizeof(rt_sock), "%s/sub/ring.sock", rt_dir);
	o->socket_path = rt_sock;
	if (!o->log)
		o->log = quiet_log;
}

/* Starts a server over the kernel test double with opts (may be NULL). */
static inline struct uk_ring_server *rt_start_k(struct uk_ring_server_opts *o)
{
	struct uk_ring_server_opts def = { 0 };

	if (!o)
		o = &def;
	rt_prepare(o);
	rt_srv = uk_ring_server_start_ops(NULL, &fakek_ops, o);
	assert_false(IS_ERR(rt_srv));
	rt_settle();
	return rt_srv;
}

static inline struct uk_ring_server *rt_start(struct uk_ring_server_opts *o)
{
	return rt_start_k(o);
}

static inline void rt_stop(void)
{
	char sub[160];

	uk_ring_server_stop(rt_srv);
	rt_srv = NULL;
	snprintf(sub, sizeof(sub), "%s/sub", rt_dir);
	rmdir(sub);
	rmdir(rt_dir);
}

/* Forks a client running fn; returns its pid. */
static inline pid_t rt_spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

/* Waits for a client; fails the test unless it exited 0. */
static inline void rt_wait(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fail_msg("client %d: %s %d", (int)pid,
			 WIFEXITED(st) ? "exit" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

static inline void rt_run(void (*fn)(void *), void *arg)
{
	rt_wait(rt_spawn(fn, arg));
}

static inline void rt_connect(void)
{
	if (uk_connect(rt_sock) < 0) {
		fprintf(stderr, "uk_connect: %s\n", uk_connect_error());
		_exit(2);
	}
}

/* Polls cond (an expression) for up to ms milliseconds. */
#define RT_WAIT_FOR(cond, ms)                                                  \
	__extension__({                                                        \
		int i_;                                                        \
		for (i_ = 0; i_ < (ms) && !(cond); i_++)                       \
			usleep(1000);                                          \
		(cond);                                                        \
	})

#endif
