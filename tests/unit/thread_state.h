/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/thread_state.h - a thread's scheduler state from /proc, for
 * tests that must know another thread has gone to sleep (a throttled
 * writer, a lock call) rather than guess with a delay.
 */
#ifndef UK_TEST_THREAD_STATE_H
#define UK_TEST_THREAD_STATE_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The state letter of a /proc/.../stat file ('R', 'S', 'D', ...; '?'). */
static inline char stat_state(const char *path)
{
	char buf[512], *p;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after the name, which may hold one */
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Thread tid (of this process)'s state letter. */
static inline char thread_state(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	return stat_state(path);
}

/* Process pid's state letter. */
static inline char proc_state(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_state(path);
}

#endif /* UK_TEST_THREAD_STATE_H */
