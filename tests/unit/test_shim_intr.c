// SPDX-License-Identifier: MIT
/*
 * test_shim_intr - a lock call that sleeps in the daemon (F_SETLKW,
 * F_OFD_SETLKW, flock without LOCK_NB) and a signal, as Linux has them
 * (man 7 signal): after a handler installed without SA_RESTART the call
 * returns -1/EINTR and holds nothing (the holder's unlock does not hand the
 * lock to it), and the next calls on the same thread work; after a handler
 * with SA_RESTART it goes on waiting and gets the lock. In a process with
 * two threads asleep, the signal ends only its own thread's call. Every
 * sequence runs on /uk and on a native directory, and both must give the
 * same answers. Where futex_waitv is refused (a seccomp filter), the call
 * still sleeps and completes. Runs under the shim against a ukerneld on a
 * tmpfs.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "shim_test.h"
#include "thread_state.h"

enum kind { K_POSIX, K_OFD, K_FLOCK };

/*
 * Takes (or with unlock drops) the write lock of kind k on fd, sleeping
 * for it with wait. Returns what the libc call returns; errno on -1.
 */
static int lock_op(int fd, enum kind k, bool wait, bool unlock)
{
	struct flock fl = {
		.l_type = unlock ? F_UNLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	switch (k) {
	case K_POSIX:
		return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
	case K_OFD:
		return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
	default:
		return flock(fd, unlock ? LOCK_UN : LOCK_EX | (wait ? 0 : LOCK_NB));
	}
}

/* ---- the holder: another process with the lock ------------------------ */

struct holder {
	pid_t pid;
	int cmd, rsp; /* our ends of its two pipes */
};

/*
 * The holder's loop: takes the lock, says 'L', then answers commands:
 * 'U' unlock ('u'), 'T' try to lock again ('0' got it, 'E' not), 'Q' or
 * EOF or 20 s of silence: exit (which drops its locks).
 */
static void holder_main(const char *path, enum kind k, int cmd, int rsp)
{
	int fd = open(path, O_RDWR);
	char c;

	if (fd < 0 || lock_op(fd, k, false, false))
		_exit(2);
	if (write(rsp, "L", 1) != 1)
		_exit(3);
	for (;;) {
		struct pollfd p = { .fd = cmd, .events = POLLIN };

		if (poll(&p, 1, 20000) != 1 || read(cmd, &c, 1) != 1 ||
		    c == 'Q')
			_exit(0);
		if (c == 'U')
			c = lock_op(fd, k, false, true) ? 'X' : 'u';
		else if (c == 'T')
			c = lock_op(fd, k, false, false) ? 'E' : '0';
		if (write(rsp, &c, 1) != 1)
			_exit(4);
	}
}

static void holder_start(struct holder *h, const char *path, enum kind k)
{
	int cmd[2], rsp[2];
	char c = 0;

	assert_int_equal(pipe(cmd), 0);
	assert_int_equal(pipe(rsp), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		close(cmd[1]);
		close(rsp[0]);
		holder_main(path, k, cmd[0], rsp[1]);
	}
	close(cmd[0]);
	close(rsp[1]);
	h->cmd = cmd[1];
	h->rsp = rsp[0];
	assert_int_equal(read(h->rsp, &c, 1), 1);
	assert_int_equal(c, 'L');
}

/* Sends command c, returns the answer (0 on EOF). */
static char holder_ask(struct holder *h, char c)
{
	char r = 0;

	assert_int_equal(write(h->cmd, &c, 1), 1);
	if (read(h->rsp, &r, 1) != 1)
		return 0;
	return r;
}

static void holder_stop(struct holder *h)
{
	int st;

	assert_int_equal(write(h->cmd, "Q", 1), 1);
	close(h->cmd);
	close(h->rsp);
	assert_int_equal(waitpid(h->pid, &st, 0), h->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- signals ---------------------------------------------------------- */

static volatile sig_atomic_t handled;
static int handler_unlock_fd = -1; /* 'U' to the holder from the handler */

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	handled++;
	if (handler_unlock_fd >= 0 && write(handler_unlock_fd, "U", 1) != 1)
		handled += 100;
	errno = saved;
}

static void set_handler(bool restart, int unlock_fd)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = restart ? SA_RESTART : 0;
	handled = 0;
	handler_unlock_fd = unlock_fd;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
}

/*
 * Waits until thread tid has been asleep ('S') for 10 looks in a row, 10 ms
 * apart: its lock call has gone to sleep (on the host's lock, or through
 * the shim on the ring's futex, past the client's short spin).
 */
static void wait_thread_asleep(pid_t tid)
{
	int run = 0;

	for (int i = 0; i < 2000 && run < 10; i++) {
		run = thread_state(tid) == 'S' ? run + 1 : 0;
		usleep(10 * 1000);
	}
	assert_int_equal(run, 10);
}

/* A waiter thread: takes the lock, sleeping for it. */
struct waiter {
	const char *path;
	enum kind kind;
	int fd;
	_Atomic pid_t tid;      /* set when it is about to call */
	atomic_int done;
	int ret, err;
	int handled;            /* handler runs seen right after the call */
	pthread_t thread;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	w->ret = lock_op(w->fd, w->kind, true, false);
	w->err = w->ret ? errno : 0;
	w->handled = handled;
	atomic_store(&w->done, 1);
	return NULL;
}

static void waiter_start(struct waiter *w, const char *path, enum kind k)
{
	memset(w, 0, sizeof(*w));
	w->path = path;
	w->kind = k;
	w->fd = open(path, O_RDWR);
	assert_true(w->fd >= 0);
	assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
	while (!atomic_load(&w->tid))
		usleep(1000);
	wait_thread_asleep(atomic_load(&w->tid));
}

static void make_file(char *path, size_t len, const char *root,
		      const char *name)
{
	snprintf(path, len, "%s/%s", root, name);
	assert_int_equal(st_put(path, "lock me\n"), 0);
}

/* ---- one thread ------------------------------------------------------- */

/* What a sequence saw; the same on /uk and natively. */
struct outcome {
	int ret, err;       /* the sleeping call */
	int handled;        /* handler runs when it returned */
	int fstat_ret;      /* a following call on the same fd */
	int nb_ret, nb_err; /* a non-blocking try while the holder holds */
	char retake;        /* the holder, after its unlock, tries again */
	int own_ret;        /* then we try, once the holder is gone */
};

/*
 * Another process holds the lock; we sleep for it and a SIGALRM comes,
 * with a handler installed with or without SA_RESTART. With SA_RESTART
 * the handler has the holder unlock (so the call can succeed).
 */
static void run_single(const char *root, enum kind k, bool restart,
		       struct outcome *o)
{
	char path[128];
	struct holder h;
	struct waiter w;
	struct stat st;

	memset(o, 0, sizeof(*o));
	make_file(path, sizeof(path), root, "single");
	holder_start(&h, path, k);
	set_handler(restart, restart ? h.cmd : -1);
	waiter_start(&w, path, k);
	assert_int_equal(pthread_kill(w.thread, SIGALRM), 0);
	pthread_join(w.thread, NULL);
	handler_unlock_fd = -1;
	o->ret = w.ret;
	o->err = w.err;
	o->handled = w.handled;
	o->fstat_ret = fstat(w.fd, &st);
	if (restart) {
		char c = 0;

		/* The handler's 'U' was answered. */
		assert_int_equal(read(h.rsp, &c, 1), 1);
		assert_int_equal(c, 'u');
	} else {
		o->nb_ret = lock_op(w.fd, k, false, false);
		o->nb_err = o->nb_ret ? errno : 0;
		assert_int_equal(holder_ask(&h, 'U'), 'u');
	}
	/* Free (we were interrupted) or ours (we waited and got it). */
	o->retake = holder_ask(&h, 'T');
	/*
	 * Then ours once the holder lets go. (Not after its exit: the
	 * daemon drops a dead process's locks when it sees the exit, a
	 * moment after the parent may have reaped it.)
	 */
	if (o->retake == '0')
		assert_int_equal(holder_ask(&h, 'U'), 'u');
	o->own_ret = lock_op(w.fd, k, false, false);
	holder_stop(&h);
	lock_op(w.fd, k, false, true);
	close(w.fd);
	unlink(path);
}

static void check_single(enum kind k, bool restart)
{
	struct outcome uk, host;

	run_single("/uk", k, restart, &uk);
	run_single(st_dir, k, restart, &host);
	if (restart) {
		assert_int_equal(host.ret, 0);
		assert_int_equal(host.retake, 'E');
	} else {
		assert_int_equal(host.ret, -1);
		assert_int_equal(host.err, EINTR);
		assert_int_equal(host.nb_ret, -1);
		assert_int_equal(host.nb_err, EAGAIN);
		assert_int_equal(host.retake, '0');
	}
	assert_int_equal(host.handled, 1);
	assert_int_equal(host.fstat_ret, 0);
	assert_int_equal(host.own_ret, 0);
	/* Errno for errno what Linux said. */
	assert_int_equal(uk.ret, host.ret);
	assert_int_equal(uk.err, host.err);
	assert_int_equal(uk.handled, host.handled);
	assert_int_equal(uk.fstat_ret, host.fstat_ret);
	assert_int_equal(uk.nb_ret, host.nb_ret);
	assert_int_equal(uk.nb_err, host.nb_err);
	assert_int_equal(uk.retake, host.retake);
	assert_int_equal(uk.own_ret, host.own_ret);
}

static void test_setlkw_eintr(void **state)
{
	(void)state;
	check_single(K_POSIX, false);
}

static void test_ofd_setlkw_eintr(void **state)
{
	(void)state;
	check_single(K_OFD, false);
}

static void test_flock_eintr(void **state)
{
	(void)state;
	check_single(K_FLOCK, false);
}

static void test_setlkw_restart(void **state)
{
	(void)state;
	check_single(K_POSIX, true);
}

static void test_ofd_setlkw_restart(void **state)
{
	(void)state;
	check_single(K_OFD, true);
}

static void test_flock_restart(void **state)
{
	(void)state;
	check_single(K_FLOCK, true);
}

/* ---- two threads ------------------------------------------------------ */

struct outcome2 {
	int a_ret, a_err;   /* the interrupted thread */
	int b_slept;        /* the other still asleep 200 ms later */
	int b_ret, b_err;   /* ... and its call once the holder unlocks */
	char retake;        /* the holder tries again then: b has it */
};

/*
 * Two threads of this process sleep for the lock another process holds,
 * each on its own descriptor; a SIGALRM (no SA_RESTART) goes to the first
 * thread only.
 */
static void run_threads(const char *root, enum kind k, struct outcome2 *o)
{
	char path[128];
	struct holder h;
	struct waiter a, b;

	memset(o, 0, sizeof(*o));
	make_file(path, sizeof(path), root, "threads");
	holder_start(&h, path, k);
	set_handler(false, -1);
	waiter_start(&a, path, k);
	waiter_start(&b, path, k);
	assert_int_equal(pthread_kill(a.thread, SIGALRM), 0);
	pthread_join(a.thread, NULL);
	o->a_ret = a.ret;
	o->a_err = a.err;
	usleep(200 * 1000);
	/* Asleep: not done, and 'S' (at one of a few looks: the shim's
	 * sleep wakes once a second to look at the daemon). */
	for (int i = 0; i < 5 && !o->b_slept; i++) {
		o->b_slept = thread_state(atomic_load(&b.tid)) == 'S';
		usleep(2000);
	}
	o->b_slept = o->b_slept && !atomic_load(&b.done);
	assert_int_equal(holder_ask(&h, 'U'), 'u');
	pthread_join(b.thread, NULL);
	o->b_ret = b.ret;
	o->b_err = b.err;
	o->retake = holder_ask(&h, 'T');
	holder_stop(&h);
	lock_op(b.fd, k, false, true);
	close(a.fd);
	close(b.fd);
	unlink(path);
}

static void check_threads(enum kind k)
{
	struct outcome2 uk, host;

	run_threads("/uk", k, &uk);
	run_threads(st_dir, k, &host);
	assert_int_equal(host.a_ret, -1);
	assert_int_equal(host.a_err, EINTR);
	assert_int_equal(host.b_slept, 1);
	assert_int_equal(host.b_ret, 0);
	assert_int_equal(host.retake, 'E');
	assert_int_equal(uk.a_ret, host.a_ret);
	assert_int_equal(uk.a_err, host.a_err);
	assert_int_equal(uk.b_slept, host.b_slept);
	assert_int_equal(uk.b_ret, host.b_ret);
	assert_int_equal(uk.b_err, host.b_err);
	assert_int_equal(uk.retake, host.retake);
}

static void test_threads_setlkw(void **state)
{
	(void)state;
	check_threads(K_POSIX);
}

static void test_threads_ofd(void **state)
{
	(void)state;
	check_threads(K_OFD);
}

static void test_threads_flock(void **state)
{
	(void)state;
	check_threads(K_FLOCK);
}

/* ---- without futex_waitv ---------------------------------------------- */

/* Makes futex_waitv fail with EPERM in this process, as a sandbox may. */
static int refuse_futex_waitv(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/*
 * A process whose futex_waitv is refused sleeps in F_SETLKW all the same
 * (the plain futex wait, as before: no EINTR then), rather than spinning,
 * and gets the lock when the holder lets go.
 */
static void test_without_futex_waitv(void **state)
{
	char path[128];
	struct holder h;
	pid_t pid;
	int st, run = 0;

	(void)state;
	make_file(path, sizeof(path), "/uk", "nowaitv");
	holder_start(&h, path, K_POSIX);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		if (fd < 0 || refuse_futex_waitv())
			_exit(2);
		_exit(lock_op(fd, K_POSIX, true, false) ? 3 : 0);
	}
	for (int i = 0; i < 2000 && run < 10; i++) {
		run = proc_state(pid) == 'S' ? run + 1 : 0;
		usleep(10 * 1000);
	}
	assert_int_equal(run, 10);
	assert_int_equal(holder_ask(&h, 'U'), 'u');
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	holder_stop(&h);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setlkw_eintr),
		cmocka_unit_test(test_ofd_setlkw_eintr),
		cmocka_unit_test(test_flock_eintr),
		cmocka_unit_test(test_setlkw_restart),
		cmocka_unit_test(test_ofd_setlkw_restart),
		cmocka_unit_test(test_flock_restart),
		cmocka_unit_test(test_threads_setlkw),
		cmocka_unit_test(test_threads_ofd),
		cmocka_unit_test(test_threads_flock),
		cmocka_unit_test(test_without_futex_waitv),
	};

	shim_test_boot(argc, argv, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
