/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/shimlib_test.h - the harness of the test_shim_{stdio,dir,mmap,
 * statcache} programs: each runs its cases under LD_PRELOAD=libukshim.so
 * against a real ukerneld serving a fresh ukfs image at the virtual root
 * /uk. main() calls shimlib_test_main(): the first run makes the image,
 * starts the daemon, and re-executes the program with the shim preloaded
 * (UKSHIMLIB_CHILD=1); that run executes the cases and its status is the
 * program's. Both sides share a scratch directory on the host
 * ($UKSHIMLIB_DIR/native) for the native half of differential cases.
 * $UKSHIMLIB_DAEMON is the daemon's pid (to stop it in stat cache tests).
 */
#ifndef UK_SHIMLIB_TEST_H
#define UK_SHIMLIB_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UKT_ROOT "/uk"

/* The native scratch directory (child side). */
static inline const char *ukt_native(void)
{
	static char buf[PATH_MAX];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s/native",
			 getenv("UKSHIMLIB_DIR"));
	return buf;
}

/* The path of libasan the running program uses, or NULL (not ASan). */
static inline char *ukt_libasan(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	static char line[PATH_MAX + 128];
	char *res = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (p && strstr(p, "/libasan.so")) {
			p[strcspn(p, "\n")] = 0;
			res = p;
			break;
		}
	}
	fclose(f);
	return res;
}

static inline bool ukt_socket_ready(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (strlen(path) >= sizeof(a.sun_path))
		return false;
	memcpy(a.sun_path, path, strlen(path) + 1);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static inline int ukt_run(char *const argv[])
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Parent: image, daemon, re-exec under the shim, clean-up; returns the
 * child's status. Child: returns run().
 */
static inline int shimlib_test_main(int argc, char **argv, int (*run)(void))
{
	const char *b = getenv("UK_BUILD_ROOT");
	char dir[] = "/tmp/ukshimlib.XXXXXX";
	char ukd[PATH_MAX], ukctl[PATH_MAX], shim[PATH_MAX], img[PATH_MAX];
	char sock[PATH_MAX], pre[2 * PATH_MAX], nat[PATH_MAX], pidb[32];
	char *asan;
	pid_t d, c;
	int st, ret;

	(void)argc;
	if (getenv("UKSHIMLIB_CHILD"))
		return run();
	if (!b) {
		printf("UK_BUILD_ROOT is not set: run through meson test\n");
		return 77;
	}
	snprintf(ukd, sizeof(ukd), "%s/ukernel/ukerneld", b);
	snprintf(ukctl, sizeof(ukctl), "%s/ukernel/ukctl", b);
	snprintf(shim, sizeof(shim), "%s/shim/libukshim.so", b);
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/img", dir);
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(nat, sizeof(nat), "%s/native", dir);
	mkdir(nat, 0755);
	{
		char *mk[] = { ukctl, "mkfs", img, "--size", "256M", NULL };

		if (ukt_run(mk) != 0) {
			printf("ukctl mkfs failed\n");
			return 1;
		}
	}
	d = fork();
	if (d == 0) {
		char *da[] = { ukd, img, "--foreground", "--socket", sock,
			       "--root", UKT_ROOT, NULL };

		execv(ukd, da);
		_exit(127);
	}
	for (int i = 0; i < 400 && !ukt_socket_ready(sock); i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (waitpid(d, &st, WNOHANG) == d) {
			printf("ukerneld exited before serving\n");
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	/* An ASan shim needs the ASan runtime first in the list. */
	asan = ukt_libasan();
	if (asan)
		snprintf(pre, sizeof(pre), "%s:%s", asan, shim);
	else
		snprintf(pre, sizeof(pre), "%s", shim);
	snprintf(pidb, sizeof(pidb), "%d", (int)d);
	setenv("UKERNEL_SOCKET", sock, 1);
	setenv("UKERNEL_ROOT", UKT_ROOT, 1);
	setenv("UKSHIMLIB_DIR", dir, 1);
	setenv("UKSHIMLIB_DAEMON", pidb, 1);
	setenv("UKSHIMLIB_CHILD", "1", 1);
	setenv("LD_PRELOAD", pre, 1);
	c = fork();
	if (c == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	ret = waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	if (WIFSIGNALED(st))
		printf("test child killed by signal %d\n", WTERMSIG(st));
	kill(d, SIGCONT);
	kill(d, SIGTERM);
	waitpid(d, &st, 0);
	unsetenv("LD_PRELOAD");
	{
		char *rm[] = { "/bin/rm", "-rf", dir, NULL };

		ukt_run(rm);
	}
	return ret;
}

#endif /* UK_SHIMLIB_TEST_H */
