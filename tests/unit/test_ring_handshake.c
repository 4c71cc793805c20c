// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_handshake.c - connecting to the ring server: the
 * version check both ways, refusals with a reason, the task a client gets
 * (ids from SO_PEERCRED, a fork of the parent's after fork), reconnecting,
 * the socket's permissions, and stopping the server under connected
 * clients.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "ring_test.h"

static int raw_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void connect_client(void *arg)
{
	(void)arg;
	rt_connect();
}

static void test_connect_and_ids(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(connect_client, NULL);
	rt_stop();
}

static void ids_client(void *arg)
{
	(void)arg;
	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
	RT_CHECK(uk_syscall(SYS_getpid) == getpid());
	RT_CHECK(uk_syscall_ring(SYS_getuid) == (long)getuid());
	RT_CHECK(uk_syscall(SYS_geteuid) == (long)geteuid());
	RT_CHECK(uk_syscall(SYS_getgid) == (long)getgid());
	RT_CHECK(uk_syscall(SYS_getppid) == uk_syscall_ring(SYS_getppid));
	RT_CHECK(uk_syscall(SYS_gettid) == syscall(SYS_gettid));
	RT_CHECK(uk_syscall_ring(12345) == -ENOSYS);
	/* A second connect is refused locally. */
	RT_CHECK(uk_connect(rt_sock) == -1 && errno == EISCONN);
	/* Disconnect, reconnect: the same task (same pid). */
	uk_disconnect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == -ENOTCONN);
	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
}

static void test_ids_from_peercred(void **state)
{
	(void)state;
	rt_start(NULL);
	rt_run(ids_client, NULL);
	rt_stop();
}

static void test_client_version_refused(void **state)
{
	struct uk_ring_hello h = { UK_RING_MAGIC, 99, 0, 0 };
	struct uk_ring_welcome w;
	int fd;

	(void)state;
	rt_start(NULL);
	fd = raw_connect(rt_sock);
	assert_int_equal(send(fd, &h, sizeof(h), 0), sizeof(h));
	assert_int_equal(recv(fd, &w, sizeof(w), MSG_WAITALL), sizeof(w));
	assert_int_equal(w.status, -EPROTONOSUPPORT);
	assert_int_equal(w.version, UK_RING_VERSION);
	assert_non_null(strstr(w.message, "version 99"));
	/* And the daemon hung up. */
	assert_int_equal(recv(fd, &w, sizeof(w), 0), 0);
	close(fd);

	/* Not even a hello. */
	fd = raw_connect(rt_sock);
	assert_int_equal(send(fd, "garbage!", 8, 0), 8);
	assert_int_equal(recv(fd, &w, sizeof(w), MSG_WAITALL), sizeof(w));
	assert_int_equal(w.status, -EPROTO);
	close(fd);
	rt_stop();
}

/* A fake daemon that answers every hello with version 7. */
static void *old_daemon(void *arg)
{
	int lfd = *(int *)arg, fd;
	struct uk_ring_hello h;
	struct uk_ring_welcome w = { .magic = UK_RING_MAGIC, .version = 7 };

	fd = accept(lfd, NULL, NULL);
	if (fd >= 0) {
		if (recv(fd, &h, sizeof(h), MSG_WAITALL) == sizeof(h) &&
		    send(fd, &w, sizeof(w), 0) != sizeof(w))
			fprintf(stderr, "old_daemon: send failed\n");
		close(fd);
	}
	return NULL;
}

static void old_daemon_client(void *arg)
{
	RT_CHECK(uk_connect(arg) == -1);
	RT_CHECK(errno == EPROTONOSUPPORT);
	RT_CHECK(strstr(uk_connect_error(), "version 7"));
	RT_CHECK(uk_syscall(SYS_getpid) == -ENOTCONN);
}

static void test_daemon_version_refused(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/ukring-old-XXXXXX";
	pthread_t th;
	int lfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/s", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	pthread_create(&th, NULL, old_daemon, &lfd);
	rt_run(old_daemon_client, a.sun_path);
	pthread_join(th, NULL);
	close(lfd);
	unlink(a.sun_path);
	rmdir(dir);
}

static void fork_client(void *arg)
{
	pid_t parent = getpid(), pid;
	int st;

	(void)arg;
	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == parent);
	pid = fork();
	RT_CHECK(pid >= 0);
	if (pid == 0) {
		/* The child reconnects on its own: a fork of our task. */
		RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
		RT_CHECK(uk_syscall_ring(SYS_getppid) == parent);
		RT_CHECK(uk_syscall(SYS_getpid) == getpid());
		RT_CHECK(uk_syscall(SYS_getppid) == parent);
		_exit(0);
	}
	RT_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		 WEXITSTATUS(st) == 0);
	/* The parent's ring still works. */
	RT_CHECK(uk_syscall_ring(SYS_getpid) == parent);
}

static void test_fork_gets_forked_task(void **state)
{
	int forks;

	(void)state;
	rt_start(NULL);
	forks = atomic_load(&fakek_forks);
	rt_run(fork_client, NULL);
	assert_int_equal(atomic_load(&fakek_forks), forks + 1);
	rt_stop();
}

static void exec_reconnect_client(void *arg)
{
	(void)arg;
	rt_connect();
	uk_disconnect();
	/* As an exec'd image would: same pid, same task, O_CLOEXEC closed. */
	RT_CHECK(uk_connect_ex(rt_sock, UK_CONNECT_EXEC) == 0);
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
}

static void test_exec_reconnect_same_task(void **state)
{
	int execs, live;

	(void)state;
	rt_start(NULL);
	execs = atomic_load(&fakek_execs);
	live = atomic_load(&fakek_tasks_live);
	rt_run(exec_reconnect_client, NULL);
	assert_int_equal(atomic_load(&fakek_execs), execs + 1);
	/* The task is reaped when the process is gone. */
	assert_true(RT_WAIT_FOR(atomic_load(&fakek_tasks_live) == live, 2000));
	rt_stop();
}

static void test_socket_owner_only(void **state)
{
	struct stat st;
	char sub[160];

	(void)state;
	rt_start(NULL);
	assert_int_equal(stat(rt_sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(sub, sizeof(sub), "%s/sub", rt_dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	rt_stop();
	/* Stopped: the socket is gone. */
	assert_int_equal(stat(rt_sock, &st), -1);
}

static void stop_client(void *arg)
{
	int *pipefd = arg;
	char c = 0;

	rt_connect();
	RT_CHECK(uk_syscall_ring(SYS_getpid) == getpid());
	RT_CHECK(write(pipefd[1], &c, 1) == 1);
	/* Calls until the server goes: then -ENOTCONN, never a hang. */
	for (int i = 0; i < 10000000; i++) {
		long r = uk_syscall_ring(SYS_getppid);

		if (r == -ENOTCONN)
			return;
		RT_CHECK(r > 0);
	}
	RT_CHECK(!"server never stopped");
}

static void test_stop_with_clients(void **state)
{
	int pipefd[2];
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	rt_start(NULL);
	pid = rt_spawn(stop_client, pipefd);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	usleep(20000);
	rt_stop();
	rt_wait(pid);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(atomic_load(&fakek_tasks_live), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_and_ids),
		cmocka_unit_test(test_ids_from_peercred),
		cmocka_unit_test(test_client_version_refused),
		cmocka_unit_test(test_daemon_version_refused),
		cmocka_unit_test(test_fork_gets_forked_task),
		cmocka_unit_test(test_exec_reconnect_same_task),
		cmocka_unit_test(test_socket_owner_only),
		cmocka_unit_test(test_stop_with_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
