// SPDX-License-Identifier: MIT
/*
 * test_shim_down - the shim without its daemon: with none listening,
 * virtual paths say ENOENT after one message on stderr and host calls
 * work; a daemon that comes up later is used; when it dies, calls on
 * vfds say EIO and virtual paths ENOENT, with one more message, and host
 * calls keep working. Runs under the shim with no daemon started for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shim_test.h"

static char errpath[200];
static int saved_err = -1;

/* stderr into a host file, so the shim's messages can be counted. */
static void capture_stderr(void)
{
	int fd;

	snprintf(errpath, sizeof(errpath), "%s/stderr", st_dir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved_err = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Restores stderr; returns how many shim messages were written. */
static int release_stderr(void)
{
	char buf[4096], *p;
	int n = 0;

	dup2(saved_err, 2);
	close(saved_err);
	assert_true(st_get(errpath, buf, sizeof(buf)) >= 0);
	for (p = buf; (p = strstr(p, "ukshim: cannot reach ukerneld")); p++)
		n++;
	return n;
}

static void test_no_daemon(void **state)
{
	char p[300], buf[16];
	struct stat st;

	(void)state;
	capture_stderr();
	assert_int_equal(open("/uk/f", O_RDONLY), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat("/uk/f", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mkdir("/uk/d", 0755), -1);
	assert_int_equal(errno, ENOENT);
	/* The host is untouched. */
	snprintf(p, sizeof(p), "%s/host", st_dir);
	assert_int_equal(st_put(p, "ok"), 0);
	assert_int_equal(st_get(p, buf, sizeof(buf)), 2);
	assert_int_equal(release_stderr(), 1);
}

static void test_daemon_dies(void **state)
{
	char p[300], buf[16];
	struct stat st;
	int fd;

	(void)state;
	/* Never connected: a daemon that comes up later serves us. */
	st_daemon_start();
	assert_int_equal(st_put("/uk/f", "data"), 0);
	fd = open("/uk/f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 2), 2);
	kill(st_daemon, SIGKILL);
	waitpid(st_daemon, NULL, 0);
	st_daemon = -1;
	capture_stderr();
	assert_int_equal(read(fd, buf, 2), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fstat(fd, &st), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(open("/uk/f", O_RDONLY), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(close(fd), -1);
	assert_int_equal(errno, EIO);
	/* The number is free again (the placeholder went with it). */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	snprintf(p, sizeof(p), "%s/host2", st_dir);
	assert_int_equal(st_put(p, "ok"), 0);
	assert_int_equal(st_get(p, buf, sizeof(buf)), 2);
	/* One message per process: the first test already printed it. */
	assert_int_equal(release_stderr(), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test(test_daemon_dies),
	};

	shim_test_boot(argc, argv, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
