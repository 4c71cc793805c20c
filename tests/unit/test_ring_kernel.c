// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_ring_kernel.c - the ring over the real kernel (tmpfs
 * root): file I/O with payloads inline and through process_vm, a forked
 * client sharing its parent's open file description, credentials limiting
 * what an allowed second uid can open, the record locks of a client
 * killed while holding them released when its task is reaped, and
 * interrupting one sleeping lock call (UK_SLOT_INTR): only the call its
 * client asked for, never on a forged request, and every call of a client
 * that died or of a server that stops.
 */
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "client_internal.h"
#include "ring_test.h"
#include "vfs_extras.h"

#define NOBODY 65534

static struct uk_kernel *k;

/* A kernel with an empty tmpfs root, served by the real glue. */
static void start(struct uk_ring_server_opts *o)
{
	struct uk_ring_server_opts def = { 0 };

	if (!o)
		o = &def;
	k = uk_kernel_new(NULL);
	assert_false(IS_ERR_OR_NULL(k));
	rt_prepare(o);
	rt_srv = uk_ring_server_start(k, o);
	assert_false(IS_ERR(rt_srv));
	rt_settle();
}

static void stop(void)
{
	rt_stop();
	uk_kernel_free(k);
}

static void fill(unsigned char *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed + i * 13 + (i >> 9));
}

static void io_client(void *arg)
{
	size_t big = 1u << 20;
	unsigned char *w = malloc(big), *r = malloc(big);
	struct stat st;
	long fd;

	(void)arg;
	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/f", O_CREAT | O_RDWR, 0644);
	RT_CHECK(fd >= 0);
	fill(w, 4096, 1);
	RT_CHECK(uk_syscall(SYS_pwrite64, fd, w, 4096, 0) == 4096);
	RT_CHECK(uk_syscall(SYS_pread64, fd, r, 4096, 0) == 4096);
	RT_CHECK(!memcmp(w, r, 4096));
	fill(w, big, 2);
	RT_CHECK(uk_syscall(SYS_pwrite64, fd, w, big, 0) == (long)big);
	memset(r, 0, big);
	RT_CHECK(uk_syscall(SYS_pread64, fd, r, big, 0) == (long)big);
	RT_CHECK(!memcmp(w, r, big));
	RT_CHECK(uk_syscall(SYS_fstat, fd, &st) == 0);
	RT_CHECK(st.st_size == (off_t)big && S_ISREG(st.st_mode));
	RT_CHECK(uk_syscall(SYS_newfstatat, AT_FDCWD, "/f", &st, 0) == 0);
	RT_CHECK(st.st_size == (off_t)big);
	RT_CHECK(uk_syscall(SYS_openat, AT_FDCWD, "/nope", O_RDONLY) ==
		 -ENOENT);
	RT_CHECK(uk_syscall(SYS_pread64, fd, NULL, 10, 0) == -EFAULT);
	/* A large buffer running into a hole: the gathered write-behind
	 * faults, the call is -EFAULT; a write stops at the hole. */
	{
		unsigned char *m = mmap(NULL, 2 * big, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		RT_CHECK(m != MAP_FAILED && munmap(m + big, big) == 0);
		RT_CHECK(uk_syscall(SYS_pread64, fd, m + big - 4096, 65536,
				    0) == -EFAULT);
		RT_CHECK(uk_syscall(SYS_pwrite64, fd, m + big - 8192, 65536,
				    0) == 8192);
		munmap(m, big);
	}
	RT_CHECK(uk_syscall(SYS_close, fd) == 0);
	RT_CHECK(uk_syscall(SYS_close, fd) == -EBADF);
	free(w);
	free(r);
}

static void test_file_io(void **state)
{
	(void)state;
	start(NULL);
	rt_run(io_client, NULL);
	stop();
}

static void fork_client(void *arg)
{
	char buf[8];
	long fd;
	pid_t pid;
	int st;

	(void)arg;
	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/g", O_CREAT | O_RDWR, 0644);
	RT_CHECK(fd >= 0);
	RT_CHECK(uk_syscall(SYS_write, fd, "0123456789", 10) == 10);
	RT_CHECK(uk_syscall(SYS_lseek, fd, 0, SEEK_SET) == 0);
	pid = fork();
	if (pid == 0) {
		/* One open file description: the child moves our offset. */
		RT_CHECK(uk_syscall(SYS_read, fd, buf, 4) == 4);
		RT_CHECK(!memcmp(buf, "0123", 4));
		_exit(0);
	}
	RT_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		 !WEXITSTATUS(st));
	RT_CHECK(uk_syscall(SYS_read, fd, buf, 4) == 4);
	RT_CHECK(!memcmp(buf, "4567", 4));
}

static void test_fork_shares_files(void **state)
{
	(void)state;
	start(NULL);
	rt_run(fork_client, NULL);
	stop();
}

/*
 * The fork race: descriptors the parent closes right after fork() are
 * still in the child, because the parent registered the child's task
 * before fork() (pthread_atfork); the same for a grandchild forked by a
 * child that had made no call yet. A child that exits without a call has
 * its registered task dropped (checked by the test, in the server).
 */
static void fork_race_client(void *arg)
{
	int go[2], go2[2], st;
	char buf[8], c;
	long fd, fd2;
	pid_t pid, g;

	(void)arg;
	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/race", O_CREAT | O_RDWR, 0644);
	fd2 = uk_syscall(SYS_openat, AT_FDCWD, "/race2", O_CREAT | O_RDWR,
			 0644);
	RT_CHECK(fd >= 0 && fd2 >= 0);
	RT_CHECK(uk_syscall(SYS_write, fd, "abcdef", 6) == 6);
	RT_CHECK(uk_syscall(SYS_write, fd2, "xyz", 3) == 3);
	RT_CHECK(pipe(go) == 0);
	pid = fork();
	RT_CHECK(pid >= 0);
	if (pid == 0) {
		/* Our first call comes after the parent closed both. */
		RT_CHECK(read(go[0], &c, 1) == 1);
		RT_CHECK(uk_syscall(SYS_pread64, fd, buf, 6, 0) == 6);
		RT_CHECK(!memcmp(buf, "abcdef", 6));
		RT_CHECK(pipe(go2) == 0);
		g = fork();
		RT_CHECK(g >= 0);
		if (g == 0) {
			RT_CHECK(read(go2[0], &c, 1) == 1);
			RT_CHECK(uk_syscall(SYS_pread64, fd2, buf, 3, 0) == 3);
			RT_CHECK(!memcmp(buf, "xyz", 3));
			_exit(0);
		}
		RT_CHECK(uk_syscall(SYS_close, fd2) == 0);
		RT_CHECK(write(go2[1], "g", 1) == 1);
		RT_CHECK(waitpid(g, &st, 0) == g);
		RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		_exit(0);
	}
	RT_CHECK(uk_syscall(SYS_close, fd) == 0);
	RT_CHECK(uk_syscall(SYS_close, fd2) == 0);
	RT_CHECK(write(go[1], "g", 1) == 1);
	RT_CHECK(waitpid(pid, &st, 0) == pid);
	RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The parent's own table did lose them. */
	RT_CHECK(uk_syscall(SYS_pread64, fd, buf, 6, 0) == -EBADF);
	/* A child that never calls: its registered task must go. */
	pid = fork();
	RT_CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	RT_CHECK(waitpid(pid, &st, 0) == pid);
}

static void test_fork_race_parent_registers(void **state)
{
	struct uk_ring_server_stats st;

	(void)state;
	start(NULL);
	rt_run(fork_race_client, NULL);
	uk_ring_server_get_stats(rt_srv, &st);
	assert_true(RT_WAIT_FOR((uk_ring_server_get_stats(rt_srv, &st),
				 st.forks == 0),
				3000));
	stop();
}

/*
 * The exec'd child (this program run again with --exec-child SOCK FD
 * CLOFD): its connection says it exec'd; the task its parent registered
 * at fork() is found by its pid (the token did not survive exec), with
 * FD, which the parent closed right after fork(), and without CLOFD,
 * which was O_CLOEXEC. Exit 0 when so.
 */
static int exec_child_main(char **argv)
{
	long fd = atol(argv[3]), clofd = atol(argv[4]);
	char buf[8];

	if (uk_connect_ex(argv[2], UK_CONNECT_EXEC) < 0)
		return 3;
	if (uk_syscall(SYS_pread64, fd, buf, 5, 0) != 5 ||
	    memcmp(buf, "hello", 5))
		return 4;
	if (uk_syscall(SYS_pread64, clofd, buf, 5, 0) != -EBADF)
		return 5;
	return 0;
}

static void exec_race_client(void *arg)
{
	char sfd[24], sclo[24], c;
	int go[2], st;
	long fd, clofd;
	pid_t pid;

	(void)arg;
	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/x", O_CREAT | O_RDWR, 0644);
	clofd = uk_syscall(SYS_openat, AT_FDCWD, "/x", O_RDONLY | O_CLOEXEC);
	RT_CHECK(fd >= 0 && clofd >= 0);
	RT_CHECK(uk_syscall(SYS_write, fd, "hello", 5) == 5);
	snprintf(sfd, sizeof(sfd), "%ld", fd);
	snprintf(sclo, sizeof(sclo), "%ld", clofd);
	RT_CHECK(pipe(go) == 0);
	pid = fork();
	RT_CHECK(pid >= 0);
	if (pid == 0) {
		/* No call before exec: the token is lost with our memory. */
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		execl("/proc/self/exe", "test_ring_kernel", "--exec-child",
		      rt_sock, sfd, sclo, (char *)NULL);
		_exit(127);
	}
	RT_CHECK(uk_syscall(SYS_close, fd) == 0);
	RT_CHECK(uk_syscall(SYS_close, clofd) == 0);
	RT_CHECK(write(go[1], "g", 1) == 1);
	RT_CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "exec'd child: status %#x\n", st);
	RT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_fork_exec_child_found_by_pid(void **state)
{
	(void)state;
	start(NULL);
	rt_run(exec_race_client, NULL);
	stop();
}

/* FORK_PREPARE in a loop (no fork): the server keeps 32 of them. */
static void prepare_loop_client(void *arg)
{
	int *p = arg;
	char c;

	rt_connect();
	for (int i = 0; i < 40; i++)
		RT_CHECK(uk_syscall_ring(UK_RING_NR_FORK_PREPARE,
					 (long)getpid()) > 0);
	RT_CHECK(uk_syscall_ring(UK_RING_NR_FORK_PREPARE, 0L) == -EINVAL);
	RT_CHECK(uk_syscall_ring(UK_RING_NR_FORK_DONE, 12345L) == 0);
	RT_CHECK(write(p[1], "r", 1) == 1);
	RT_CHECK(read(p[2], &c, 1) == 1); /* p[2]: the go-ahead */
}

static void test_fork_registrations_bounded(void **state)
{
	struct uk_ring_server_stats st;
	int p[3], q[2];
	pid_t pid;
	char c;

	(void)state;
	start(NULL);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	p[2] = q[0];
	pid = rt_spawn(prepare_loop_client, p);
	assert_int_equal(read(p[0], &c, 1), 1);
	uk_ring_server_get_stats(rt_srv, &st);
	assert_int_equal(st.forks, 32);
	assert_int_equal(write(q[1], "g", 1), 1);
	rt_wait(pid);
	/* Never taken, child unknown: the server frees them at stop. */
	stop();
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void owner_client(void *arg)
{
	long fd;

	(void)arg;
	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/secret", O_CREAT | O_WRONLY,
			0600);
	RT_CHECK(fd >= 0 && uk_syscall(SYS_close, fd) == 0);
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/public", O_CREAT | O_WRONLY,
			0644);
	RT_CHECK(fd >= 0 && uk_syscall(SYS_close, fd) == 0);
}

static void nobody_client(void *arg)
{
	long fd;

	(void)arg;
	RT_CHECK(setgroups(0, NULL) == 0);
	RT_CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
	rt_connect();
	RT_CHECK(uk_syscall(SYS_getuid) == NOBODY);
	RT_CHECK(uk_syscall(SYS_openat, AT_FDCWD, "/secret", O_RDONLY) ==
		 -EACCES);
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/public", O_RDONLY);
	RT_CHECK(fd >= 0);
	RT_CHECK(uk_syscall(SYS_openat, AT_FDCWD, "/public", O_WRONLY) ==
		 -EACCES);
}

static void test_allowed_uid_limited_by_creds(void **state)
{
	struct uk_ring_server_opts o = { .n_allow_uids = 1,
					 .allow_uids = { NOBODY } };

	(void)state;
	if (geteuid() != 0)
		skip();
	start(&o);
	assert_int_equal(chmod(rt_dir, 0711), 0);
	rt_run(owner_client, NULL);
	rt_run(nobody_client, NULL);
	stop();
}

static void locker(void *arg)
{
	int *p = arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long fd;
	char c = 0;

	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/lk", O_CREAT | O_RDWR, 0644);
	RT_CHECK(fd >= 0);
	RT_CHECK(uk_syscall(SYS_fcntl, fd, F_SETLK, &fl) == 0);
	RT_CHECK(write(p[1], &c, 1) == 1);
	pause();
}

static void lock_taker(void *arg)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long fd, ret;

	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/lk", O_RDWR);
	RT_CHECK(fd >= 0);
	ret = uk_syscall(SYS_fcntl, fd, F_SETLK, &fl);
	RT_CHECK(ret == (arg ? 0 : -EAGAIN));
}

/* A server and a client (the returned pid) holding /lk; p is its pipe. */
static pid_t start_with_locker(int p[2])
{
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	start(NULL);
	pid = rt_spawn(locker, p);
	assert_int_equal(read(p[0], &c, 1), 1);
	return pid;
}

static void test_dead_client_releases_locks(void **state)
{
	int p[2];
	pid_t pid;

	(void)state;
	pid = start_with_locker(p);
	rt_run(lock_taker, NULL);         /* held: -EAGAIN */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	usleep(100000);                   /* the pidfd event reaps it */
	rt_run(lock_taker, (void *)1);    /* released */
	stop();
	close(p[0]);
	close(p[1]);
}

/* ---- interrupting a sleeping call ------------------------------------- */

static void on_usr1(int sig)
{
	(void)sig;
}

struct sleeper {
	long fd;
	long ret;
	atomic_int done;
};

/* F_SETLKW on /lk, which a locker holds; then two calls that must work. */
static void *sleeper_main(void *arg)
{
	struct sleeper *z = arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	z->ret = uk_syscall(SYS_fcntl, z->fd, F_SETLKW, &fl);
	RT_CHECK(uk_syscall_ring(SYS_getppid) == getppid());
	RT_CHECK(uk_syscall(SYS_fcntl, z->fd, F_SETLK, &fl) == -EAGAIN);
	atomic_store(&z->done, 1);
	return NULL;
}

/* The one slot of ours that runs a call, or -1. */
static int busy_slot(void)
{
	int found = -1;

	for (unsigned int i = 0; i < UK_RING_NSLOTS; i++) {
		uint32_t st = atomic_load(
			&uk_ring_slot_at(uk_client.region, i)->state);

		if ((st & UK_SLOT_STATE_MASK) == UK_SLOT_BUSY)
			found = (int)i;
	}
	return found;
}

/*
 * A thread of this client sleeps in F_SETLKW. INTR forged on every other
 * slot (idle, free), every bit of the header's intr mask and doorbell
 * rings change nothing: it sleeps on, and the other thread's calls work.
 * A signal without SA_RESTART then ends that call alone with -EINTR, and
 * the thread's next calls are served as usual.
 */
static void intr_client(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct sleeper z = { 0 };
	struct uk_ring_header *h;
	pthread_t t;
	int busy;

	(void)arg;
	sigemptyset(&sa.sa_mask);
	RT_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	rt_connect();
	z.fd = uk_syscall(SYS_openat, AT_FDCWD, "/lk", O_RDWR);
	RT_CHECK(z.fd >= 0);
	RT_CHECK(pthread_create(&t, NULL, sleeper_main, &z) == 0);
	RT_CHECK(RT_WAIT_FOR(busy_slot() >= 0, 5000));
	busy = busy_slot();
	usleep(50 * 1000); /* past its spin: asleep on the futex */
	h = uk_client.hdr;
	for (int round = 0; round < 20; round++) {
		for (unsigned int i = 0; i < UK_RING_NSLOTS; i++)
			if ((int)i != busy)
				atomic_fetch_or(
					&uk_ring_slot_at(uk_client.region, i)
						 ->state,
					UK_SLOT_INTR);
		atomic_store(&h->intr, ~0ull);
		atomic_fetch_add(&h->doorbell, 1);
		syscall(SYS_futex, &h->doorbell, FUTEX_WAKE, 1, NULL, NULL, 0);
		/* Our own calls publish over the forged flag. */
		RT_CHECK(uk_syscall_ring(SYS_getppid) == getppid());
		RT_CHECK(uk_syscall(SYS_fcntl, z.fd, F_GETLK, &fl) == 0);
		RT_CHECK(fl.l_type == F_WRLCK);
		fl.l_type = F_WRLCK;
		usleep(10 * 1000);
	}
	RT_CHECK(!atomic_load(&z.done));
	RT_CHECK(pthread_kill(t, SIGUSR1) == 0);
	RT_CHECK(RT_WAIT_FOR(atomic_load(&z.done), 5000));
	pthread_join(t, NULL);
	RT_CHECK(z.ret == -EINTR);
}

static void test_intr_one_call_not_forged(void **state)
{
	int p[2];
	pid_t pid;

	(void)state;
	pid = start_with_locker(p);
	rt_run(intr_client, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	stop();
	close(p[0]);
	close(p[1]);
}

/* Sleeps in F_SETLKW on /lk until someone ends it; says so first. */
static void setlkw_client(void *arg)
{
	int *p = arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	long fd;
	char c = 0;

	rt_connect();
	fd = uk_syscall(SYS_openat, AT_FDCWD, "/lk", O_RDWR);
	RT_CHECK(fd >= 0);
	RT_CHECK(write(p[1], &c, 1) == 1);
	uk_syscall(SYS_fcntl, fd, F_SETLKW, &fl);
	pause();
}

static unsigned int ntasks(void)
{
	struct uk_ring_server_stats st;

	uk_ring_server_get_stats(rt_srv, &st);
	return st.tasks;
}

/*
 * A client killed while its F_SETLKW sleeps: the call is interrupted when
 * its connection closes, so its worker and its task are let go at once,
 * while the lock it waited for is still held (the call used to sleep on
 * until the lock came free, then take it for a dead process).
 */
/*
 * A server with a client holding a lock (*locker_pid) and another
 * (*pid) whose F_SETLKW on it has been sent; p is their pipe.
 */
static void start_with_waiter(int p[2], pid_t *locker_pid, pid_t *pid)
{
	char c;

	*locker_pid = start_with_locker(p);
	*pid = rt_spawn(setlkw_client, p);
	assert_int_equal(read(p[0], &c, 1), 1);
}

static void test_dead_waiter_interrupted(void **state)
{
	int p[2];
	pid_t locker_pid, pid;

	(void)state;
	start_with_waiter(p, &locker_pid, &pid);
	assert_true(RT_WAIT_FOR(vfs_locks_nr_sleeping(NULL) == 1, 5000));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(RT_WAIT_FOR(vfs_locks_nr_sleeping(NULL) == 0, 5000));
	assert_true(RT_WAIT_FOR(ntasks() == 1, 5000));
	rt_run(lock_taker, NULL); /* still the locker's */
	kill(locker_pid, SIGKILL);
	waitpid(locker_pid, NULL, 0);
	stop();
	close(p[0]);
	close(p[1]);
}

/* The server stops while a call sleeps in a lock: it ends the call. */
static void test_stop_ends_sleeping_call(void **state)
{
	int p[2];
	pid_t locker_pid, pid;

	(void)state;
	start_with_waiter(p, &locker_pid, &pid);
	usleep(200 * 1000); /* asleep in the lock */
	alarm(30); /* a stop that hangs fails the test */
	stop();
	alarm(0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	kill(locker_pid, SIGKILL);
	waitpid(locker_pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--exec-child"))
		return exec_child_main(argv);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_io),
		cmocka_unit_test(test_fork_shares_files),
		cmocka_unit_test(test_fork_race_parent_registers),
		cmocka_unit_test(test_fork_registrations_bounded),
		cmocka_unit_test(test_fork_exec_child_found_by_pid),
		cmocka_unit_test(test_allowed_uid_limited_by_creds),
		cmocka_unit_test(test_dead_client_releases_locks),
		cmocka_unit_test(test_intr_one_call_not_forged),
		cmocka_unit_test(test_dead_waiter_interrupted),
		cmocka_unit_test(test_stop_ends_sleeping_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
