// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uk_uaccess.c - uaccess over the caller's own memory:
 * every routine of both backends (the exception-table one and the
 * process_vm_* one) returns -EFAULT for NULL, unmapped, partially mapped,
 * read-only (for writes), SIGBUS-raising and kernel-half pointers, without
 * crashing; strings ending just before an unmapped page are read whole;
 * uk_getname's ENAMETOOLONG/ENOENT; and faults that are not uaccess's
 * still reach the handler installed before ours (or kill the process).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"

static size_t page;

/* A task that is only a vehicle for an mm backend (no kernel needed). */
static struct uk_task *mk_task(const struct uk_mm_ops *mm)
{
	static struct uk_task t;

	memset(&t, 0, sizeof(t));
	t.mm = mm;
	return &t;
}

static const struct uk_mm_ops *const backends[] = {
	&uk_self_mm_ops,
	&uk_self_pvm_mm_ops,
};

/* Two pages, the second unmapped: returns the first. */
static char *map_then_hole(void)
{
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	assert_int_equal(munmap(p + page, page), 0);
	return p;
}

static const size_t sizes[] = { 1, 7, 8, 63, 64, 255, 256, 300, 4096, 5000 };

static void test_copy_efault(void **state)
{
	char *hole = map_then_hole();
	char *buf = malloc(3 * page);
	size_t b, i;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	assert_non_null(buf);
	for (b = 0; b < UK_ARRAY_SIZE(backends); b++) {
		struct uk_task *t = mk_task(backends[b]);

		for (i = 0; i < UK_ARRAY_SIZE(sizes); i++) {
			size_t n = sizes[i];
			unsigned long across = (unsigned long)hole + page - n / 2 - 1;

			/* NULL, an unmapped page, a range running into it */
			assert_int_equal(copy_from_user(t, buf, 0, n), -EFAULT);
			assert_int_equal(copy_from_user(t, buf,
							(unsigned long)hole + page, n),
					 -EFAULT);
			assert_int_equal(copy_from_user(t, buf, across, n),
					 n / 2 + 1 >= n ? 0 : -EFAULT);
			assert_int_equal(copy_to_user(t, 0, buf, n), -EFAULT);
			assert_int_equal(copy_to_user(t, (unsigned long)hole + page,
						      buf, n),
					 -EFAULT);
			assert_int_equal(copy_to_user(t, across, buf, n),
					 n / 2 + 1 >= n ? 0 : -EFAULT);
			/* kernel half and wrap-around: access_ok */
			assert_int_equal(copy_from_user(t, buf,
							0xffff800000000000ul, n),
					 -EFAULT);
			assert_int_equal(copy_from_user(t, buf, ~0ul - 2, n),
					 -EFAULT);
		}
		/* the mapped part still copies */
		memset(hole, 'x', page);
		assert_int_equal(copy_from_user(t, buf, (unsigned long)hole, page), 0);
		assert_int_equal(buf[page - 1], 'x');
		memset(buf, 'y', page);
		assert_int_equal(copy_to_user(t, (unsigned long)hole, buf, page), 0);
		assert_int_equal(hole[0], 'y');
		/* zero bytes never fault */
		assert_int_equal(copy_from_user(t, buf, 0, 0), 0);
	}
	free(buf);
	munmap(hole, page);
}

static void test_copy_to_readonly(void **state)
{
	char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	char buf[64] = "data";
	size_t b;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	assert_true(ro != MAP_FAILED);
	for (b = 0; b < UK_ARRAY_SIZE(backends); b++) {
		struct uk_task *t = mk_task(backends[b]);

		assert_int_equal(copy_to_user(t, (unsigned long)ro, buf, 8),
				 -EFAULT);
		assert_int_equal(copy_from_user(t, buf, (unsigned long)ro, 8), 0);
	}
	munmap(ro, page);
}

/* A file mapping beyond the file's end raises SIGBUS, not SIGSEGV. */
static void test_copy_sigbus(void **state)
{
	int fd = memfd_create("uk-sigbus", 0);
	char buf[16];
	char *p;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	assert_true(fd >= 0);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(copy_from_user(mk_task(&uk_self_mm_ops), buf,
					(unsigned long)p, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(copy_to_user(mk_task(&uk_self_mm_ops),
				      (unsigned long)p, buf, sizeof(buf)),
			 -EFAULT);
	munmap(p, page);
	close(fd);
}

static void test_strncpy(void **state)
{
	char *hole = map_then_hole();
	char buf[UK_PATH_MAX];
	size_t b;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	for (b = 0; b < UK_ARRAY_SIZE(backends); b++) {
		struct uk_task *t = mk_task(backends[b]);
		char *end = hole + page;

		assert_int_equal(t->mm->strncpy_from(t, buf, 0, 100), -EFAULT);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)end, 100),
				 -EFAULT);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     0xffff800000000000ul, 100),
				 -EFAULT);
		/* ends with its NUL as the last byte before the hole: fine */
		memcpy(end - 4, "abc", 4);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)(end - 4), 100),
				 3);
		assert_string_equal(buf, "abc");
		/* no NUL before the hole: the read runs into it */
		memcpy(end - 3, "abc", 3);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)(end - 3), 100),
				 -EFAULT);
		/* ...unless the limit stops it first */
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)(end - 3), 3),
				 3);
		assert_memory_equal(buf, "abc", 3);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)"", 10),
				 0);
	}
	munmap(hole, page);
}

/* A string running into the top of user space is -EFAULT, not cut. */
static void test_strncpy_top_of_user_space(void **state)
{
	char *top = (char *)(UK_TASK_SIZE_MAX - page);
	char buf[64];
	size_t b;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	if (mmap(top, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		 0) != top) {
		print_message("the top page of user space is taken: skipped\n");
		skip();
	}
	for (b = 0; b < UK_ARRAY_SIZE(backends); b++) {
		struct uk_task *t = mk_task(backends[b]);

		memset(top + page - 8, 'z', 8);
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)(top + page - 8),
						     sizeof(buf)),
				 -EFAULT);
		top[page - 1] = '\0';
		assert_int_equal(t->mm->strncpy_from(t, buf,
						     (unsigned long)(top + page - 8),
						     sizeof(buf)),
				 7);
		assert_int_equal(copy_from_user(t, buf,
						(unsigned long)(top + page - 8), 8),
				 0);
		assert_int_equal(copy_from_user(t, buf,
						(unsigned long)(top + page - 8), 9),
				 -EFAULT);
	}
	munmap(top, page);
}

static void test_getname(void **state)
{
	char *path = malloc(UK_PATH_MAX + 1);
	char buf[UK_PATH_MAX];
	char *hole = map_then_hole();
	size_t b;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	assert_non_null(path);
	for (b = 0; b < UK_ARRAY_SIZE(backends); b++) {
		struct uk_task *t = mk_task(backends[b]);

		memset(path, 'a', UK_PATH_MAX);
		path[UK_PATH_MAX] = '\0'; /* 4096 bytes before the NUL */
		assert_int_equal(uk_getname(t, (unsigned long)path, buf, false),
				 -ENAMETOOLONG);
		path[UK_PATH_MAX - 1] = '\0'; /* 4095: PATH_MAX with its NUL */
		assert_int_equal(uk_getname(t, (unsigned long)path, buf, false),
				 UK_PATH_MAX - 1);
		assert_int_equal(strlen(buf), UK_PATH_MAX - 1);
		assert_int_equal(uk_getname(t, (unsigned long)"", buf, false),
				 -ENOENT);
		assert_int_equal(uk_getname(t, (unsigned long)"", buf, true), 0);
		assert_int_equal(uk_getname(t, 0, buf, true), -EFAULT);
		assert_int_equal(uk_getname(t, (unsigned long)hole + page, buf,
					    false),
				 -EFAULT);
		assert_int_equal(uk_getname(t, (unsigned long)"/a/b", buf, false),
				 4);
		assert_string_equal(buf, "/a/b");
	}
	free(path);
	munmap(hole, page);
}

static void child_handler(int sig)
{
	_exit(sig == SIGSEGV ? 42 : 43);
}

static void crash(void)
{
	/* not NULL itself, so that UBSan does not stop the store first */
	volatile char *volatile p = (volatile char *)(uintptr_t)16;

	*p = 1;
}

/*
 * A fault outside uaccess goes to the handler that was there before ours
 * (here the child's own); with none, the process dies of SIGSEGV (under
 * ASan, ASan's handler reports it and exits non-zero).
 */
static void test_foreign_faults_chain(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char buf[8];

		signal(SIGSEGV, child_handler);
		if (uk_uaccess_init())
			_exit(1);
		if (copy_from_user(mk_task(&uk_self_mm_ops), buf, 16, 8) != -EFAULT)
			_exit(2);
		crash();
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char buf[8];

		signal(SIGSEGV, SIG_DFL);
		if (uk_uaccess_init())
			_exit(1);
		if (copy_from_user(mk_task(&uk_self_mm_ops), buf, 16, 8) != -EFAULT)
			_exit(2);
		crash();
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);

	/* a SIGSEGV sent by kill() is not a fault: it is delivered again */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		signal(SIGSEGV, SIG_DFL);
		if (uk_uaccess_init())
			_exit(1);
		raise(SIGSEGV);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* Many threads faulting at once each get their own -EFAULT. */
static void *fault_thread(void *arg)
{
	char buf[64];
	int i;

	(void)arg;
	for (i = 0; i < 2000; i++) {
		if (copy_from_user(mk_task(&uk_self_mm_ops), buf, 8 + (i & 7), 64) !=
		    -EFAULT)
			return (void *)1;
	}
	return NULL;
}

static void test_faults_threads(void **state)
{
	pthread_t th[4];
	void *r;
	int i;

	(void)state;
	assert_int_equal(uk_uaccess_init(), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, fault_thread, NULL), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_efault),
		cmocka_unit_test(test_copy_to_readonly),
		cmocka_unit_test(test_copy_sigbus),
		cmocka_unit_test(test_strncpy),
		cmocka_unit_test(test_strncpy_top_of_user_space),
		cmocka_unit_test(test_getname),
		cmocka_unit_test(test_foreign_faults_chain),
		cmocka_unit_test(test_faults_threads),
	};

	page = (size_t)sysconf(_SC_PAGESIZE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
