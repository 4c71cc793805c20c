// SPDX-License-Identifier: MIT
/*
 * test_shim_proc - descriptors and the cwd across fork, exec, vfork and
 * posix_spawn under the shim, against a real ukerneld: a forked child
 * shares the open file description; an exec'd helper reads an inherited
 * vfd and writes to a virtual stdout; O_CLOEXEC vfds are gone after exec;
 * the virtual cwd survives exec; posix_spawn's file actions on virtual
 * paths and vfds; a program and a script stored under /uk are exec'd; a
 * shell under the shim redirects into /uk; system() and popen() hand
 * their shell our vfds and virtual cwd.
 */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/sendfile.h>

#include <cmocka.h>

#include "shim_test.h"

extern char **environ;

/*
 * Runs argv with its stdout on a host pipe (and the vfd table as it is
 * now); returns the exit status, output in out.
 */
static int run_capture(char *const argv[], char *out, size_t len)
{
	int p[2], st;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(126);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = 0;
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void test_fork_shares_offset(void **state)
{
	char buf[16];
	pid_t pid;
	int fd, st;

	(void)state;
	assert_int_equal(st_put("/uk/fork", "0123456789"), 0);
	fd = open("/uk/fork", O_RDONLY);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char c[5];

		_exit(read(fd, c, 5) == 5 && !memcmp(c, "01234", 5) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "56789", 5);
	close(fd);
	/* The child's own opens and closes do not touch ours. */
	fd = open("/uk/fork", O_RDONLY);
	pid = fork();
	if (pid == 0) {
		int f2 = open("/uk/fork", O_RDONLY);

		close(fd);
		_exit(f2 >= 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(read(fd, buf, 3), 3);
	close(fd);
}

/* The shell pattern: open, fork, close in the parent; the child uses it later. */
static void test_fork_then_parent_closes(void **state)
{
	char buf[16];
	pid_t pid;
	int fd, st;

	(void)state;
	assert_int_equal(st_put("/uk/fpc", "kept"), 0);
	fd = open("/uk/fpc", O_RDONLY);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		usleep(100 * 1000);
		_exit(read(fd, buf, sizeof(buf)) == 4 ? 0 : 1);
	}
	assert_int_equal(close(fd), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_exec_inherits_vfd(void **state)
{
	char arg[16], out[256];
	int fd, cx;

	(void)state;
	assert_int_equal(st_put("/uk/inh", "inherited text"), 0);
	fd = open("/uk/inh", O_RDONLY);
	cx = open("/uk/inh", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && cx >= 0);
	assert_int_equal(read(fd, out, 10), 10); /* the offset goes along */
	snprintf(arg, sizeof(arg), "%d", fd);
	{
		char *argv[] = { st_helper, "read", arg, NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "text");
	}
	snprintf(arg, sizeof(arg), "%d", cx);
	{
		char *argv[] = { st_helper, "badf", arg, NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
	}
	close(fd);
	close(cx);
}

static void test_exec_virtual_stdout(void **state)
{
	char buf[64];
	pid_t pid;
	int fd, st;

	(void)state;
	fd = open("/uk/out1", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fd, 1);
		close(fd);
		execl(st_helper, st_helper, "write", "through stdout",
		      (char *)NULL);
		_exit(126);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	close(fd);
	assert_int_equal(st_get("/uk/out1", buf, sizeof(buf)), 14);
	assert_string_equal(buf, "through stdout");
}

static void test_vfork(void **state)
{
	char buf[64];
	pid_t pid;
	int fd, st;

	(void)state;
	fd = open("/uk/vfork", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	fflush(NULL);
	pid = vfork();
	if (pid == 0) {
		dup2(fd, 1);
		execl(st_helper, st_helper, "write", "vforked", (char *)NULL);
		_exit(126);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	/* The parent's fd 1 is still the host's. */
	assert_false(fcntl(1, F_GETFD) < 0);
	close(fd);
	assert_int_equal(st_get("/uk/vfork", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "vforked");
}

static void test_posix_spawn(void **state)
{
	posix_spawn_file_actions_t fa;
	char buf[64], arg[16];
	pid_t pid;
	int st, fd;

	(void)state;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/uk/spawned",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	{
		char *argv[] = { st_helper, "write", "spawned", NULL };

		assert_int_equal(posix_spawn(&pid, st_helper, &fa, NULL, argv,
					     environ),
				 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(st_get("/uk/spawned", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "spawned");

	/* dup2 of a vfd onto 0, and a close, with posix_spawnp. */
	fd = open("/uk/spawned", O_RDONLY);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_addclose(&fa, fd);
	posix_spawn_file_actions_addopen(&fa, 1, "/uk/spawned2",
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(arg, sizeof(arg), "%d", 0);
	{
		char *argv[] = { "test_shim_helper", "read", arg, NULL };
		char path[5000], *old = getenv("PATH");

		snprintf(path, sizeof(path), "%s/tests:%s", st_build(),
			 old ? old : "/bin");
		setenv("PATH", path, 1);
		assert_int_equal(posix_spawnp(&pid, "test_shim_helper", &fa,
					      NULL, argv, environ),
				 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	assert_int_equal(st_get("/uk/spawned2", buf, sizeof(buf)), 7);
	assert_string_equal(buf, "spawned");
	/* A failed exec is the spawn's error. */
	{
		char *argv[] = { "/uk/no-such-program", NULL };

		assert_int_equal(posix_spawn(&pid, argv[0], NULL, NULL, argv,
					     environ),
				 ENOENT);
	}
}

/* Copies host file src to virtual dst with mode. */
static void put_host_file(const char *src, const char *dst, mode_t mode)
{
	struct stat st;
	int in = open(src, O_RDONLY), out;

	assert_true(in >= 0);
	fstat(in, &st);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(out >= 0);
	assert_int_equal(sendfile(out, in, NULL, (size_t)st.st_size),
			 st.st_size);
	assert_int_equal(fchmod(out, mode), 0);
	close(in);
	close(out);
}

static void test_exec_program_under_root(void **state)
{
	char out[256], host[4096];

	(void)state;
	assert_int_equal(mkdir("/uk/bin", 0755), 0);
	put_host_file(st_helper, "/uk/bin/helper", 0755);
	{
		char *argv[] = { "/uk/bin/helper", "write", "from /uk", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "from /uk");
	}
	/* Relative to a virtual cwd, and without exec permission. */
	assert_non_null(getcwd(host, sizeof(host)));
	assert_int_equal(chdir("/uk/bin"), 0);
	{
		char *argv[] = { "./helper", "cwd", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "/uk/bin");
	}
	assert_int_equal(chdir(host), 0);
	assert_int_equal(chmod("/uk/bin/helper", 0644), 0);
	assert_int_equal(execl("/uk/bin/helper", "helper", (char *)NULL), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(execl("/uk/bin/none", "none", (char *)NULL), -1);
	assert_int_equal(errno, ENOENT);
	/* A script: the interpreter reads it through the memfd. */
	assert_int_equal(st_put("/uk/bin/script",
				"#!/bin/sh\necho script says $1\n"),
			 0);
	assert_int_equal(chmod("/uk/bin/script", 0755), 0);
	{
		char *argv[] = { "/uk/bin/script", "hi", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "script says hi\n");
	}
}

static void test_exec_keeps_virtual_cwd(void **state)
{
	char out[256], host[4096];

	(void)state;
	assert_int_equal(mkdir("/uk/wd", 0755), 0);
	assert_non_null(getcwd(host, sizeof(host)));
	assert_int_equal(chdir("/uk/wd"), 0);
	{
		char *argv[] = { st_helper, "cwd", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "/uk/wd");
	}
	assert_int_equal(st_put("rel", "relative"), 0);
	{
		char *argv[] = { st_helper, "cat", "rel", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "relative");
	}
	assert_int_equal(chdir(host), 0);
	{
		char *argv[] = { st_helper, "cwd", NULL };

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, host);
	}
}

/*
 * system() with a vfd and a virtual cwd: glibc's own would spawn the
 * shell with its internal posix_spawn, which hands it placeholders.
 */
static void test_system(void **state)
{
	char cmd[128], buf[64], host[4096];
	int fd, st;

	(void)state;
	fd = open("/uk/sys1", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "echo via-system >&%d", fd);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(st_get("/uk/sys1", buf, sizeof(buf)), 11);
	assert_string_equal(buf, "via-system\n");
	/* Status as waitpid gives it; system(NULL) says a shell exists. */
	st = system("exit 3");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_int_equal(system(NULL), 1);
	/*
	 * SIGINT: ignored in the caller while the child runs, default in
	 * the child (which it kills, and not us).
	 */
	st = system("kill -INT $$; exit 0");
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGINT);
	{
		struct sigaction sa;

		assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
		assert_ptr_equal(sa.sa_handler, SIG_DFL);
	}
	/* The virtual cwd goes with it. */
	assert_int_equal(mkdir("/uk/syswd", 0755), 0);
	assert_non_null(getcwd(host, sizeof(host)));
	assert_int_equal(chdir("/uk/syswd"), 0);
	assert_int_equal(system("pwd > here"), 0);
	assert_int_equal(chdir(host), 0);
	assert_int_equal(st_get("/uk/syswd/here", buf, sizeof(buf)), 10);
	assert_string_equal(buf, "/uk/syswd\n");
	close(fd);
}

/* popen() and pclose() with vfds, both directions. */
static void test_popen(void **state)
{
	char cmd[160], buf[64];
	FILE *r, *w;
	int fd;

	(void)state;
	errno = 0;
	assert_null(popen("true", "rw"));
	assert_int_equal(errno, EINVAL);
	assert_null(popen("true", "x"));
	assert_int_equal(errno, EINVAL);
	fd = open("/uk/pop1", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	/* "w": the child's stdin is our pipe, its fd is our vfd. */
	snprintf(cmd, sizeof(cmd), "cat >&%d", fd);
	w = popen(cmd, "w");
	assert_non_null(w);
	assert_true(fputs("popen-w\n", w) >= 0);
	/*
	 * A second child does not hold the first one's pipe (POSIX), or
	 * the first cat would never see EOF; and the "e"-less parent end
	 * is inherited by what we exec, so check it in the shell.
	 */
	snprintf(cmd, sizeof(cmd),
		 "[ -e /proc/$$/fd/%d ] && echo open || echo closed",
		 fileno(w));
	r = popen(cmd, "r");
	assert_non_null(r);
	assert_non_null(fgets(buf, sizeof(buf), r));
	assert_string_equal(buf, "closed\n");
	assert_int_equal(pclose(r), 0);
	assert_int_equal(pclose(w), 0);
	assert_int_equal(st_get("/uk/pop1", buf, sizeof(buf)), 8);
	assert_string_equal(buf, "popen-w\n");
	/* "r" from a virtual file, and the child's exit status. */
	r = popen("cat /uk/pop1; exit 5", "re");
	assert_non_null(r);
	assert_true(fcntl(fileno(r), F_GETFD) & FD_CLOEXEC);
	assert_non_null(fgets(buf, sizeof(buf), r));
	assert_string_equal(buf, "popen-w\n");
	{
		int st = pclose(r);

		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 5);
	}
	close(fd);
}

/*
 * A FIFO under /uk between two processes: the daemon has no pipes, the
 * shim opens the FIFO's host shadow. A blocking open waits for the other
 * end; a non-blocking writer without a reader is ENXIO, as on Linux.
 */
static void test_fifo(void **state)
{
	char buf[16];
	pid_t pid;
	int fd, st;

	(void)state;
	assert_int_equal(mkfifo("/uk/ff", 0600), 0);
	errno = 0;
	assert_int_equal(open("/uk/ff", O_WRONLY | O_NONBLOCK), -1);
	assert_int_equal(errno, ENXIO);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int w = open("/uk/ff", O_WRONLY); /* waits for the reader */

		_exit(w >= 0 && write(w, "through", 7) == 7 ? 0 : 1);
	}
	fd = open("/uk/ff", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "through", 7);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0); /* writer gone */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	close(fd);
	/* A shell pipeline through it. */
	{
		char *argv[] = { "/bin/sh", "-c",
				 "echo via-sh > /uk/ff & cat /uk/ff; wait",
				 NULL };
		char out[64];

		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_string_equal(out, "via-sh\n");
	}
	assert_int_equal(unlink("/uk/ff"), 0);
}

/* A shell under the shim: redirections, exec'd programs, cd. */
static void test_shell(void **state)
{
	char out[512];

	(void)state;
	{
		char *argv[] = {
			"/bin/sh", "-c",
			"cat /etc/hostname > /uk/sh1 && cat < /uk/sh1 > /uk/sh2"
			" && cp /uk/sh2 /uk/sh3 && mkdir -p /uk/shd/e"
			" && cd /uk/shd/e && cat ../../sh3 && rm /uk/sh1"
			" && test ! -e /uk/sh1 && /bin/pwd",
			NULL
		};
		char host[256];
		int fd = open("/etc/hostname", O_RDONLY);
		ssize_t n = read(fd, host, sizeof(host) - 1);

		close(fd);
		assert_true(n > 0);
		host[n] = 0;
		assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
		assert_non_null(strstr(out, host));
		assert_non_null(strstr(out, "/uk/shd/e\n"));
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_shares_offset),
		cmocka_unit_test(test_fork_then_parent_closes),
		cmocka_unit_test(test_exec_inherits_vfd),
		cmocka_unit_test(test_exec_virtual_stdout),
		cmocka_unit_test(test_vfork),
		cmocka_unit_test(test_posix_spawn),
		cmocka_unit_test(test_exec_program_under_root),
		cmocka_unit_test(test_exec_keeps_virtual_cwd),
		cmocka_unit_test(test_shell),
		cmocka_unit_test(test_system),
		cmocka_unit_test(test_popen),
		cmocka_unit_test(test_fifo),
	};

	shim_test_boot(argc, argv, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
