// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_perm.c - who may use the daemon: a second uid is
 * refused by default (the socket is owner-only, and the daemon checks
 * SO_PEERCRED itself), accepted when allowed, and then acts with its own
 * credentials (from SO_PEERCRED, never from the client). Needs root to
 * become another uid; skipped (77) otherwise.
 */
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "ring_test.h"

#define NOBODY 65534

static void become_nobody(void)
{
	RT_CHECK(setgroups(0, NULL) == 0);
	RT_CHECK(setgid(NOBODY) == 0);
	RT_CHECK(setuid(NOBODY) == 0);
}

static void refused_client(void *arg)
{
	(void)arg;
	become_nobody();
	RT_CHECK(uk_connect(rt_sock) == -1);
	RT_CHECK(errno == EACCES);
}

static void test_other_uid_refused(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(refused_client, NULL);
	rt_stop();
}

/* Even with the socket opened up, the daemon's own check refuses. */
static void test_other_uid_refused_by_daemon(void **state)
{
	struct uk_ring_server_opts o = { .socket_mode = 0666 };

	(void)state;
	rt_start(&o);
	assert_int_equal(chmod(rt_dir, 0711), 0);
	{
		char sub[64];

		snprintf(sub, sizeof(sub), "%s/sub", rt_dir);
		assert_int_equal(chmod(sub, 0711), 0);
	}
	rt_run(refused_client, NULL);
	rt_stop();
}

static void allowed_client(void *arg)
{
	(void)arg;
	become_nobody();
	if (uk_connect(rt_sock) < 0) {
		fprintf(stderr, "uk_connect: %s\n", uk_connect_error());
		_exit(2);
	}
	RT_CHECK(uk_syscall_ring(SYS_getuid) == NOBODY);
	RT_CHECK(uk_syscall(SYS_geteuid) == NOBODY);
	RT_CHECK(uk_syscall(SYS_getgid) == NOBODY);
	/* What its credentials do not permit stays refused. */
	RT_CHECK(uk_syscall(SYS_openat, -100, "/secret", 0) == -EACCES);
	RT_CHECK(uk_syscall(SYS_openat, -100, "/public", 0) == 7);
}

static void test_allowed_uid_has_its_own_creds(void **state)
{
	struct uk_ring_server_opts o = { .n_allow_uids = 1,
					 .allow_uids = { NOBODY } };

	(void)state;
	rt_start(&o);
	/* mkdtemp made the parent 0700: let nobody through to the socket. */
	assert_int_equal(chmod(rt_dir, 0711), 0);
	rt_run(allowed_client, NULL);
	rt_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_uid_refused),
		cmocka_unit_test(test_other_uid_refused_by_daemon),
		cmocka_unit_test(test_allowed_uid_has_its_own_creds),
	};

	if (geteuid() != 0) {
		printf("skipped: becoming another uid needs root\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
