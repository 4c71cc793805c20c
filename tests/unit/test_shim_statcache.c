// SPDX-License-Identifier: MIT
/*
 * test_shim_statcache - the shim's stat cache against a real ukerneld
 * (shimlib_test.h): repeated stats of an unchanged path are answered with
 * no round trip (checked by stopping the daemon with SIGSTOP: a stat that
 * needed it would hang), and every change is seen at once, whether this
 * process or another client made it: attributes, contents, a rename or
 * removal of a directory on the path, a name appearing where a lookup
 * failed, a symlink retargeted.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shimlib_test.h"

static void touch(const char *p, const char *data)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* Another client: a shell (under the shim too) runs cmd. */
static void other(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static void warm(const char *p)
{
	struct stat st;

	for (int i = 0; i < 3; i++) {
		stat(p, &st);
		lstat(p, &st);
	}
}

static atomic_int stopped_ok;

/* Stats of warm paths while the daemon is stopped: none may block. */
static void *stat_while_stopped(void *arg)
{
	struct stat st;
	int ok = 1;

	(void)arg;
	for (int i = 0; i < 1000; i++) {
		ok &= stat(UKT_ROOT "/sc/d/f", &st) == 0 && st.st_size == 5;
		ok &= lstat(UKT_ROOT "/sc/d", &st) == 0 && S_ISDIR(st.st_mode);
		ok &= stat(UKT_ROOT "/sc/d/missing", &st) == -1 &&
		      errno == ENOENT;
	}
	atomic_store(&stopped_ok, ok ? 1 : -1);
	return NULL;
}

static void test_no_round_trip(void **state)
{
	pid_t d = (pid_t)atoi(getenv("UKSHIMLIB_DAEMON"));
	struct stat st;
	pthread_t t;
	int i;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/sc", 0755), 0);
	assert_int_equal(mkdir(UKT_ROOT "/sc/d", 0755), 0);
	touch(UKT_ROOT "/sc/d/f", "hello");
	warm(UKT_ROOT "/sc/d/f");
	warm(UKT_ROOT "/sc/d");
	warm(UKT_ROOT "/sc/d/missing");
	/* This thread's slot exists; the new one's gets claimed lazily. */
	assert_int_equal(stat(UKT_ROOT "/sc/d/f", &st), 0);
	assert_int_equal(kill(d, SIGSTOP), 0);
	atomic_store(&stopped_ok, 0);
	assert_int_equal(pthread_create(&t, NULL, stat_while_stopped, NULL), 0);
	for (i = 0; i < 300 && !atomic_load(&stopped_ok); i++)
		usleep(10000);
	/* Read before the daemon runs again: a stat that waited for it
	 * would only finish after SIGCONT. */
	i = atomic_load(&stopped_ok);
	kill(d, SIGCONT);
	pthread_join(t, NULL);
	assert_int_equal(i, 1);
	assert_int_equal(atomic_load(&stopped_ok), 1);
}

static void test_changes_by_this_process(void **state)
{
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/sc1", 0755), 0);
	touch(UKT_ROOT "/sc1/f", "abc");
	warm(UKT_ROOT "/sc1/f");
	assert_int_equal(chmod(UKT_ROOT "/sc1/f", 0600), 0);
	assert_int_equal(stat(UKT_ROOT "/sc1/f", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	fd = open(UKT_ROOT "/sc1/f", O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "defg", 4), 4);
	close(fd);
	assert_int_equal(stat(UKT_ROOT "/sc1/f", &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(unlink(UKT_ROOT "/sc1/f"), 0);
	errno = 0;
	assert_int_equal(stat(UKT_ROOT "/sc1/f", &st), -1);
	assert_int_equal(errno, ENOENT);
	warm(UKT_ROOT "/sc1/f");
	touch(UKT_ROOT "/sc1/f", "x");
	assert_int_equal(stat(UKT_ROOT "/sc1/f", &st), 0);
	assert_int_equal(st.st_size, 1);
}

static void test_changes_by_another_client(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/sc2", 0755), 0);
	assert_int_equal(mkdir(UKT_ROOT "/sc2/d", 0755), 0);
	touch(UKT_ROOT "/sc2/d/f", "abc");
	warm(UKT_ROOT "/sc2/d/f");

	other("chmod 640 " UKT_ROOT "/sc2/d/f");
	assert_int_equal(stat(UKT_ROOT "/sc2/d/f", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	warm(UKT_ROOT "/sc2/d/f");

	other("printf 12345 >> " UKT_ROOT "/sc2/d/f");
	assert_int_equal(stat(UKT_ROOT "/sc2/d/f", &st), 0);
	assert_int_equal(st.st_size, 8);
	warm(UKT_ROOT "/sc2/d/f");

	/* The directory on the path renamed away. */
	other("mv " UKT_ROOT "/sc2/d " UKT_ROOT "/sc2/e");
	errno = 0;
	assert_int_equal(stat(UKT_ROOT "/sc2/d/f", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(UKT_ROOT "/sc2/e/f", &st), 0);
	assert_int_equal(st.st_size, 8);

	/* A name appears where the cached lookup failed. */
	warm(UKT_ROOT "/sc2/d/f");
	other("mkdir " UKT_ROOT "/sc2/d && echo hi > " UKT_ROOT "/sc2/d/f");
	assert_int_equal(stat(UKT_ROOT "/sc2/d/f", &st), 0);
	assert_int_equal(st.st_size, 3);

	/* A symlink on the path, retargeted. */
	other("ln -s e " UKT_ROOT "/sc2/l");
	warm(UKT_ROOT "/sc2/l/f");
	assert_int_equal(stat(UKT_ROOT "/sc2/l/f", &st), 0);
	assert_int_equal(st.st_size, 8);
	other("ln -sfn d " UKT_ROOT "/sc2/l");
	assert_int_equal(stat(UKT_ROOT "/sc2/l/f", &st), 0);
	assert_int_equal(st.st_size, 3);

	/* The file replaced by a rename over it. */
	warm(UKT_ROOT "/sc2/d/f");
	other("echo longer-content > " UKT_ROOT "/sc2/tmp && mv "
	      UKT_ROOT "/sc2/tmp " UKT_ROOT "/sc2/d/f");
	assert_int_equal(stat(UKT_ROOT "/sc2/d/f", &st), 0);
	assert_int_equal(st.st_size, 15);

	/* Search permission taken from a directory on the path. */
	warm(UKT_ROOT "/sc2/d/f");
	other("rm -r " UKT_ROOT "/sc2/d");
	errno = 0;
	assert_int_equal(lstat(UKT_ROOT "/sc2/d/f", &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* Many threads stat and change one file; every answer is a real state. */
static void *flipper(void *arg)
{
	for (int i = 0; i < 200; i++)
		chmod(UKT_ROOT "/sc3/f", (i & 1) ? 0600 : 0644);
	chmod(UKT_ROOT "/sc3/f", 0640);
	return arg;
}

static void test_threads(void **state)
{
	pthread_t t;
	struct stat st;

	(void)state;
	assert_int_equal(mkdir(UKT_ROOT "/sc3", 0755), 0);
	touch(UKT_ROOT "/sc3/f", "z");
	assert_int_equal(pthread_create(&t, NULL, flipper, NULL), 0);
	for (int i = 0; i < 400; i++) {
		assert_int_equal(stat(UKT_ROOT "/sc3/f", &st), 0);
		assert_true((st.st_mode & 0777) == 0600 ||
			    (st.st_mode & 0777) == 0644 ||
			    (st.st_mode & 0777) == 0640);
	}
	pthread_join(t, NULL);
	assert_int_equal(stat(UKT_ROOT "/sc3/f", &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

static int run(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_round_trip),
		cmocka_unit_test(test_changes_by_this_process),
		cmocka_unit_test(test_changes_by_another_client),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(int argc, char **argv)
{
	return shimlib_test_main(argc, argv, run);
}
