/* SPDX-License-Identifier: MIT */
/*
 * shim_test.h - how the shim's tests run: main() calls shim_test_boot(),
 * which starts a real ukerneld (tmpfs, a private socket, foreground) and
 * runs this same program again with LD_PRELOAD=libukshim.so; the cmocka
 * cases run in that second process, under the shim, as any program would.
 * The daemon is stopped when it returns.
 *
 * Paths come from the environment meson sets: $UK_BUILD_ROOT/ukernel/
 * ukerneld, $UK_BUILD_ROOT/shim/libukshim.so, $UK_BUILD_ROOT/tests/
 * test_shim_helper.
 *
 * ASan builds: an ASan-built shim can only be preloaded into a program
 * whose first library is the ASan runtime, so the runtime this test was
 * linked with is preloaded first (for the test itself and for every
 * program it execs, which inherit LD_PRELOAD), with
 * verify_asan_link_order=0 and leak detection off (foreign programs).
 */
#ifndef SHIM_TEST_H
#define SHIM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char st_dir[64];        /* the test's temporary directory */
static char st_sock[100];      /* the daemon's socket (fits sun_path) */
static char st_helper[4096];   /* test_shim_helper */
static pid_t st_daemon = -1;

static const char *st_build(void)
{
	const char *b = getenv("UK_BUILD_ROOT");

	if (!b) {
		fprintf(stderr, "UK_BUILD_ROOT is not set (run with meson test)\n");
		exit(77);
	}
	return b;
}

/* The path of the ASan runtime we are linked with ("" without ASan). */
static void st_asan_runtime(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (p && strstr(p, "/libasan.so")) {
			p[strcspn(p, "\n")] = 0;
			snprintf(out, len, "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
}

static bool st_connectable(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Starts ukerneld --tmpfs on st_sock; waits until it accepts. */
/* Set before shim_test_boot(): the daemon also accepts uid 65534. */
static bool st_allow_nobody;

static void st_daemon_start(void)
{
	char ukd[4096];

	snprintf(ukd, sizeof(ukd), "%s/ukernel/ukerneld", st_build());
	st_daemon = fork();
	if (st_daemon == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2); /* its log is noise here */
		if (st_allow_nobody)
			execl(ukd, ukd, "--tmpfs", "--foreground", "--socket",
			      st_sock, "--allow-uid", "65534", (char *)NULL);
		else
			execl(ukd, ukd, "--tmpfs", "--foreground", "--socket",
			      st_sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		if (st_connectable(st_sock))
			return;
		usleep(50 * 1000);
	}
	fprintf(stderr, "ukerneld did not start on %s\n", st_sock);
	exit(1);
}

static void st_daemon_stop(void)
{
	int st;

	if (st_daemon <= 0)
		return;
	kill(st_daemon, SIGTERM);
	waitpid(st_daemon, &st, 0);
	st_daemon = -1;
}

/*
 * In the first run: start the daemon (unless no_daemon), re-run argv under
 * the shim, stop the daemon, exit with the child's status. In the second
 * run (UKSHIM_TEST_CHILD set): return, with the paths filled in.
 */
static void shim_test_boot(int argc, char **argv, bool no_daemon)
{
	char lib[4096], asan[1024], pre[5200];
	pid_t pid;
	int st;

	(void)argc;
	snprintf(st_helper, sizeof(st_helper), "%s/tests/test_shim_helper",
		 st_build());
	if (getenv("UKSHIM_TEST_CHILD")) {
		snprintf(st_dir, sizeof(st_dir), "%s", getenv("UKSHIM_TEST_DIR"));
		snprintf(st_sock, sizeof(st_sock), "%s", getenv("UKERNEL_SOCKET"));
		return;
	}
	snprintf(st_dir, sizeof(st_dir), "/tmp/shimtest.XXXXXX");
	if (!mkdtemp(st_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(st_sock, sizeof(st_sock), "%s/uk.sock", st_dir);
	snprintf(lib, sizeof(lib), "%s/shim/libukshim.so", st_build());
	st_asan_runtime(asan, sizeof(asan));
	if (asan[0]) {
		snprintf(pre, sizeof(pre), "%s:%s", asan, lib);
		setenv("ASAN_OPTIONS",
		       "verify_asan_link_order=0:detect_leaks=0", 1);
	} else {
		snprintf(pre, sizeof(pre), "%s", lib);
	}
	if (!no_daemon)
		st_daemon_start();
	setenv("UKERNEL_SOCKET", st_sock, 1);
	setenv("UKSHIM_TEST_DIR", st_dir, 1);
	setenv("UKSHIM_TEST_CHILD", "1", 1);
	setenv("LD_PRELOAD", pre, 1);
	unsetenv("UKERNEL_ROOT");
	pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	st_daemon_stop();
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", st_dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", st_dir);
	}
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "test process killed by signal %d\n",
			WTERMSIG(st));
		exit(1);
	}
	exit(WEXITSTATUS(st));
}

/* Runs argv (execv), waits, returns its exit status or -signal. */
__attribute__((unused)) static int st_run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(126);
	}
	if (pid < 0)
		return -1000;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1000;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* Writes a whole file under the root with open/write/close. */
__attribute__((unused)) static int st_put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* Reads a whole (small) file into buf, NUL-terminated; length or -errno. */
__attribute__((unused)) static ssize_t st_get(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return n < 0 ? -EIO : got;
}

/* p, hidden from the compiler's nonnull and bounds checks (bad pointers). */
__attribute__((unused)) static void *st_hide(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

#endif /* SHIM_TEST_H */
