// SPDX-License-Identifier: MIT
/*
 * test_shim_overlap - the shim's open and close do their host work (the
 * placeholder's F_DUPFD, its close) while the daemon works on the request.
 * These cases check that the descriptor numbers stay what Linux would give
 * and that nothing leaks or crosses: numbers equal to the host's lowest
 * free one after successes and failures of every kind, a failed open
 * giving its number back, threads opening and closing at once (each read
 * must see its own file: a close landing on another thread's new file
 * would show), opens from a signal handler that interrupts closes, and a
 * relative UKERNEL_SOCKET that still reaches the daemon after a chdir in
 * a forked child and in an exec'd image, a fork while another thread installs, and paths that
 * end at a page's end. Runs under the shim against a ukerneld on a tmpfs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <cmocka.h>

#include "shim_test.h"

/* The host's lowest free descriptor number, bypassing every wrapper. */
static int host_lowest_free(void)
{
	long fd = syscall(SYS_dup, 0);

	assert_true(fd >= 0);
	syscall(SYS_close, fd);
	return (int)fd;
}

/* How many descriptors the host holds (entries of /proc/self/fd). */
static int host_fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (syscall(SYS_fcntl, fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void test_numbers(void **state)
{
	int a, b, c, h, low, before;

	(void)state;
	assert_int_equal(st_put("/uk/n", "n"), 0);
	before = host_fd_count();
	for (int round = 0; round < 3; round++) {
		low = host_lowest_free();
		a = open("/uk/n", O_RDONLY);
		assert_int_equal(a, low);
		/* A host open takes the next number, a vfd the one after. */
		h = open("/dev/null", O_RDONLY);
		assert_int_equal(h, a + 1);
		b = open("/uk/n", O_RDONLY | O_CLOEXEC);
		assert_int_equal(b, h + 1);
		assert_int_equal(fcntl(b, F_GETFD), FD_CLOEXEC);
		/* A hole below: filled first, by a vfd. */
		assert_int_equal(close(a), 0);
		c = open("/uk/n", O_RDONLY);
		assert_int_equal(c, a);
		/* A failed open takes nothing (after a success: the
		 * overlapped reservation is given back) ... */
		assert_int_equal(close(h), 0);
		assert_int_equal(open("/uk/nope", O_RDONLY), -1);
		assert_int_equal(errno, ENOENT);
		assert_int_equal(host_lowest_free(), h);
		/* ... and after a failure (no overlap) too. */
		assert_int_equal(open("/uk/nope", O_RDONLY), -1);
		assert_int_equal(errno, ENOENT);
		assert_int_equal(open("/uk/n", O_RDONLY | O_DIRECTORY), -1);
		assert_int_equal(errno, ENOTDIR);
		assert_int_equal(host_lowest_free(), h);
		/* The daemon holds the same numbers: reads work. */
		{
			char x;

			assert_int_equal(read(c, &x, 1), 1);
			assert_int_equal(x, 'n');
			assert_int_equal(read(b, &x, 1), 1);
		}
		assert_int_equal(close(b), 0);
		assert_int_equal(close(c), 0);
		assert_int_equal(close(c), -1);
		assert_int_equal(errno, EBADF);
	}
	assert_int_equal(host_fd_count(), before);
}

#define NTHREADS 4
#define NITER 1500

static void *opener(void *arg)
{
	long id = (long)arg;
	char path[64], want[32], got[32];

	snprintf(path, sizeof(path), "/uk/t%ld", id);
	snprintf(want, sizeof(want), "thread %ld", id);
	for (int i = 0; i < NITER; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n;

		if (fd < 0)
			return (void *)1;
		n = pread(fd, got, sizeof(got) - 1, 0);
		if (n != (ssize_t)strlen(want) || memcmp(got, want, (size_t)n))
			return (void *)2; /* another thread's file */
		if (close(fd))
			return (void *)3;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[NTHREADS];
	int before;

	(void)state;
	for (long i = 0; i < NTHREADS; i++) {
		char path[64], text[32];

		snprintf(path, sizeof(path), "/uk/t%ld", i);
		snprintf(text, sizeof(text), "thread %ld", i);
		assert_int_equal(st_put(path, text), 0);
	}
	before = host_fd_count();
	for (long i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, opener, (void *)i),
				 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;

		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_int_equal((long)r, 0);
	}
	assert_int_equal(host_fd_count(), before);
}

static volatile sig_atomic_t handler_bad, handler_runs;

/* Opens, reads and closes a virtual file from inside whatever we interrupt. */
static void on_alarm(int sig)
{
	int saved = errno, fd;
	char x = 0;

	(void)sig;
	fd = open("/uk/sig", O_RDONLY);
	if (fd < 0)
		handler_bad = 1000 + errno;
	else if (read(fd, &x, 1) != 1)
		handler_bad = 2000 + errno;
	else if (x != 's')
		handler_bad = 3000 + x;
	if (fd >= 0 && close(fd))
		handler_bad = 4000 + errno;
	handler_runs++;
	errno = saved;
}

static void test_signal_during_close(void **state)
{
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	struct sigaction sa = { .sa_handler = on_alarm,
				.sa_flags = SA_RESTART };
	int before;

	(void)state;
	assert_int_equal(st_put("/uk/sig", "s"), 0);
	assert_int_equal(st_put("/uk/main", "m"), 0);
	before = host_fd_count();
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < 4000 && !handler_bad; i++) {
		char x = 0;
		int fd = open("/uk/main", O_RDONLY);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &x, 1, 0), 1);
		assert_int_equal(x, 'm');
		assert_int_equal(close(fd), 0);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	assert_int_equal(handler_bad, 0);
	assert_true(handler_runs > 0);
	if (host_fd_count() != before)
		system("ls -l /proc/$PPID/fd >&2; true");
	assert_int_equal(host_fd_count(), before);
}

/*
 * A relative UKERNEL_SOCKET is resolved once, at the first connect, so a
 * forked child that chdir'd elsewhere still reaches the daemon when it
 * reconnects. Run in a child process: it needs its own first connect.
 */
static void test_relative_socket(void **state)
{
	char dir[100], *slash;
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(st_put("/uk/rel", "r"), 0);
	snprintf(dir, sizeof(dir), "%s", st_sock);
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	pid = fork();
	if (pid == 0) {
		/* A fresh image (its own first connect), relative socket. */
		if (chdir(dir) || setenv("UKERNEL_SOCKET", slash + 1, 1))
			_exit(20);
		execv("/proc/self/exe", (char *[]){ "x", "--relative", NULL });
		_exit(21);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static volatile int spin_stop;

static void *open_spinner(void *arg)
{
	(void)arg;
	while (!spin_stop) {
		int fd = open("/uk/t0", O_RDONLY);

		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/*
 * fork while another thread is inside an install (holding the install
 * lock, or with a close in flight): the child, which has only the forking
 * thread, must be able to open at once (the lock is freed in the child;
 * an alarm turns a hang into a failure).
 */
static void test_fork_during_installs(void **state)
{
	pthread_t t;

	(void)state;
	assert_int_equal(st_put("/uk/t0", "thread 0"), 0);
	spin_stop = 0;
	assert_int_equal(pthread_create(&t, NULL, open_spinner, NULL), 0);
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			char buf[16];

			alarm(10);
			_exit(st_get("/uk/t0", buf, sizeof(buf)) == 8 ? 0 : 1);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	spin_stop = 1;
	assert_int_equal(pthread_join(t, NULL), 0);
}

/*
 * The host-path check reads the first 16 bytes of a path at once: a path
 * that ends just before an unmapped page must still be routed right (the
 * read faults, the full check decides), and the short forms the quick
 * check answers alone must be the host's.
 */
static void test_path_at_page_end(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct stat st;
	char *p;

	(void)state;
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	assert_int_equal(st_put("/uk/pe", "x"), 0);
	p = m + pg - sizeof("/uk/pe");
	strcpy(p, "/uk/pe");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 1);
	p = m + pg - sizeof("/uk");
	strcpy(p, "/uk");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	p = m + pg - sizeof("/nonexistent-host");
	strcpy(p, "/nonexistent-host");
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* Not under the root: host answers (ENOENT for these names). */
	assert_int_equal(stat("/ukx-not-here", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat("/u", &st), -1);
	assert_int_equal(errno, ENOENT);
	/* Under the root by the slow forms. */
	assert_int_equal(stat("//uk/pe", &st), 0);
	assert_int_equal(stat("/./uk/pe", &st), 0);
	assert_int_equal(stat("/uk/", &st), 0);
	munmap(m, (size_t)pg * 2);
}

/* The --relative child: connect, chdir away, fork, read in the child. */
static int relative_child(void)
{
	char buf[8];
	pid_t pid;
	int st;

	if (st_get("/uk/rel", buf, sizeof(buf)) != 1 || buf[0] != 'r')
		return 30;
	if (chdir("/"))
		return 31;
	pid = fork();
	if (pid == 0)
		_exit(st_get("/uk/rel", buf, sizeof(buf)) == 1 ? 0 : 32);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 33;
	if (WEXITSTATUS(st))
		return WEXITSTATUS(st);
	/* A new image, exec'd from "/": the resolved path is passed on. */
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c",
		      "case $UKERNEL_SOCKET in /*) ;; *) exit 35;; esac; "
		      "test \"$(cat /uk/rel)\" = r || exit 36",
		      (char *)NULL);
		_exit(34);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 37;
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_signal_during_close),
		cmocka_unit_test(test_relative_socket),
		cmocka_unit_test(test_path_at_page_end),
		cmocka_unit_test(test_fork_during_installs),
	};

	if (argc > 1 && !strcmp(argv[1], "--relative"))
		return relative_child();
	shim_test_boot(argc, argv, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
