// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uk_task.c - tasks through their life: pids (given or
 * allocated), ppid, credentials copied (not shared) by fork, open file
 * descriptions shared by fork (one offset), O_CLOEXEC descriptors closed
 * by exec, descriptors released by exit, and /proc/PID/io-style counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"

#define SC(t, nr, ...)                                                         \
	uk_dispatch((t), (nr), (const unsigned long[6]){ __VA_ARGS__ })
#define SC0(t, nr) uk_dispatch((t), (nr), (const unsigned long[6]){ 0 })

static struct uk_kernel *k;

static long open_file(struct uk_task *t, const char *path, int flags)
{
	return SC(t, UK_NR_openat, (unsigned long)AT_FDCWD, (unsigned long)path,
		  (unsigned long)flags, 0644);
}

static void test_pids(void **state)
{
	struct uk_task *a, *b, *c;

	(void)state;
	a = uk_task_new(k, 0, NULL);
	b = uk_task_new(k, 0, NULL);
	assert_false(IS_ERR_OR_NULL(a));
	assert_false(IS_ERR_OR_NULL(b));
	assert_true(a->pid > 0 && b->pid > 0 && a->pid != b->pid);
	assert_int_equal(a->tid, a->pid);
	c = uk_task_fork(a, 0);
	assert_false(IS_ERR_OR_NULL(c));
	assert_true(c->pid != a->pid && c->pid != b->pid);
	assert_int_equal(SC0(c, UK_NR_getppid), a->pid);
	assert_int_equal(SC0(a, UK_NR_getppid), 0);
	uk_task_exit(c);
	uk_task_exit(b);
	uk_task_exit(a);

	a = uk_task_new(k, 31337, NULL);
	assert_int_equal(SC0(a, UK_NR_getpid), 31337);
	c = uk_task_fork(a, 31338);
	assert_int_equal(SC0(c, UK_NR_getpid), 31338);
	assert_int_equal(SC0(c, UK_NR_getppid), 31337);
	uk_task_exit(c);
	uk_task_exit(a);
}

static void test_cred_init_and_copy(void **state)
{
	struct uk_cred cred;
	struct uk_task *p, *c;

	(void)state;
	uk_cred_init(&cred, 1000, 50);
	assert_true(cred.uid == 1000 && cred.euid == 1000 && cred.suid == 1000 &&
		    cred.fsuid == 1000);
	assert_true(cred.gid == 50 && cred.egid == 50 && cred.sgid == 50 &&
		    cred.fsgid == 50);
	assert_int_equal(cred.ngroups, 0);

	p = uk_task_new(k, 0, NULL); /* NULL: root */
	assert_int_equal(SC0(p, UK_NR_geteuid), 0);
	c = uk_task_fork(p, 0);
	assert_int_equal(SC(c, UK_NR_setuid, 1000), 0);
	assert_int_equal(SC0(c, UK_NR_geteuid), 1000);
	assert_int_equal(SC0(p, UK_NR_geteuid), 0); /* a copy, not shared */
	uk_task_exit(c);
	uk_task_exit(p);
}

/* fork shares the open file description: one offset for both. */
static void test_fork_shares_offset(void **state)
{
	struct uk_task *p = uk_task_new(k, 0, NULL), *c;
	char buf[8] = { 0 };
	long fd;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	fd = open_file(p, "/fork-offset", O_CREAT | O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(SC(p, UK_NR_write, fd, (unsigned long)"abcdef", 6), 6);
	assert_int_equal(SC(p, UK_NR_lseek, fd, 0, SEEK_SET), 0);
	c = uk_task_fork(p, 0);
	assert_false(IS_ERR_OR_NULL(c));
	assert_int_equal(SC(c, UK_NR_read, fd, (unsigned long)buf, 2), 2);
	assert_memory_equal(buf, "ab", 2);
	assert_int_equal(SC(p, UK_NR_read, fd, (unsigned long)buf, 2), 2);
	assert_memory_equal(buf, "cd", 2); /* the child moved our offset */
	/* a descriptor opened after the fork is the parent's alone */
	{
		long fd2 = open_file(p, "/fork-offset", O_RDONLY);

		assert_true(fd2 >= 0);
		assert_int_equal(SC(c, UK_NR_read, fd2, (unsigned long)buf, 1),
				 -EBADF);
		assert_int_equal(SC(p, UK_NR_close, fd2), 0);
	}
	/* closing in the child leaves the parent's descriptor open */
	assert_int_equal(SC(c, UK_NR_close, fd), 0);
	assert_int_equal(SC(p, UK_NR_read, fd, (unsigned long)buf, 2), 2);
	assert_memory_equal(buf, "ef", 2);
	uk_task_exit(c);
	assert_int_equal(SC(p, UK_NR_close, fd), 0);
	uk_task_exit(p);
}

static void test_exec_closes_cloexec(void **state)
{
	struct uk_task *t = uk_task_new(k, 0, NULL);
	char c;
	long keep, drop;

	(void)state;
	keep = open_file(t, "/exec-keep", O_CREAT | O_RDWR);
	drop = open_file(t, "/exec-drop", O_CREAT | O_RDWR | O_CLOEXEC);
	assert_true(keep >= 0 && drop >= 0);
	assert_int_equal(uk_task_exec(t), 0);
	assert_int_equal(SC(t, UK_NR_read, keep, (unsigned long)&c, 1), 0);
	assert_int_equal(SC(t, UK_NR_read, drop, (unsigned long)&c, 1), -EBADF);
	/* the lowest free number is reused */
	assert_int_equal(open_file(t, "/exec-drop", O_RDONLY), drop);
	uk_task_exit(t);
}

/* exit drops the task's descriptors; the file's other users keep theirs. */
static void test_exit_releases(void **state)
{
	struct uk_task *p = uk_task_new(k, 0, NULL), *c;
	char buf[4];
	long fd;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	fd = open_file(p, "/exit-file", O_CREAT | O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	c = uk_task_fork(p, 0);
	assert_int_equal(SC(c, UK_NR_write, fd, (unsigned long)"xy", 2), 2);
	uk_task_exit(c); /* its table goes, the shared description stays */
	assert_int_equal(SC(p, UK_NR_pread64, fd, (unsigned long)buf, 2, 0), 2);
	assert_memory_equal(buf, "xy", 2);
	assert_int_equal(SC(p, UK_NR_lseek, fd, 0, SEEK_CUR), 2);
	uk_task_exit(p); /* with fd still open: exit closes it */
}

static void test_io_counters(void **state)
{
	struct uk_task *t = uk_task_new(k, 0, NULL);
	struct uk_task_io io;
	char buf[16];
	long fd;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	fd = open_file(t, "/io-file", O_CREAT | O_RDWR | O_TRUNC);
	assert_int_equal(SC(t, UK_NR_write, fd, (unsigned long)"0123456789", 10),
			 10);
	assert_int_equal(SC(t, UK_NR_pread64, fd, (unsigned long)buf, 16, 0),
			 10);
	assert_int_equal(SC(t, UK_NR_read, fd, (unsigned long)buf, 16), 0);
	uk_task_get_io(t, &io);
	assert_int_equal(io.wchar, 10);
	assert_int_equal(io.syscw, 1);
	assert_int_equal(io.rchar, 10);
	assert_int_equal(io.syscr, 2);
	uk_task_exit(t);
}

static int group_setup(void **state)
{
	(void)state;
	k = uk_kernel_new(NULL);
	return IS_ERR_OR_NULL(k) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	uk_kernel_free(k);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_cred_init_and_copy),
		cmocka_unit_test(test_fork_shares_offset),
		cmocka_unit_test(test_exec_closes_cloexec),
		cmocka_unit_test(test_exit_releases),
		cmocka_unit_test(test_io_counters),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
