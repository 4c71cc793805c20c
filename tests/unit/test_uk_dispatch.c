// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uk_dispatch.c - the dispatcher: ENOSYS for numbers
 * outside the table or not implemented, the int cut of the number as
 * do_syscall_64 does it (checked against the host kernel), argument
 * truncation, the policy hook, trace hooks and the strace formatter,
 * statistics and per-task I/O accounting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"

#define SC(t, nr, ...)                                                         \
	uk_dispatch((t), (nr), (const unsigned long[6]){ __VA_ARGS__ })
#define SC0(t, nr) uk_dispatch((t), (nr), (const unsigned long[6]){ 0 })

struct fixture {
	struct uk_kernel *k;
	struct uk_task *t;
};

/*
 * The fixture, from inside a test: cmocka installs its own SIGSEGV handler
 * around each test, so the uaccess handler is put back in front of it.
 */
static struct fixture *fx(void **state)
{
	assert_int_equal(uk_uaccess_init(), 0);
	return *state;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->k = uk_kernel_new(NULL);
	assert_false(IS_ERR_OR_NULL(f->k));
	f->t = uk_task_new(f->k, 4242, NULL);
	assert_false(IS_ERR_OR_NULL(f->t));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uk_task_exit(f->t);
	uk_kernel_free(f->k);
	free(f);
	return 0;
}

static void test_table_names(void **state)
{
	(void)state;
	assert_int_equal(uk_syscall_count(), UK_NR_SYSCALLS);
	assert_true(uk_syscall_count() >= 463);
	assert_string_equal(uk_syscall_name(0), "read");
	assert_string_equal(uk_syscall_name(257), "openat");
	assert_string_equal(uk_syscall_name(UK_NR_uname), "uname");
	assert_string_equal(uk_syscall_name(462), "mseal");
	assert_null(uk_syscall_name(400));           /* the 387..423 hole */
	assert_null(uk_syscall_name(UK_NR_SYSCALLS)); /* outside */
	assert_null(uk_syscall_name(~0ul));
	/* the numbers agree with the host's headers where both exist */
	assert_int_equal(UK_NR_openat, SYS_openat);
	assert_int_equal(UK_NR_getppid, SYS_getppid);
	assert_int_equal(UK_NR_sendfile, SYS_sendfile);
	assert_int_equal(UK_NR_statx, SYS_statx);
}

static void test_enosys_outside_table(void **state)
{
	struct fixture *f = fx(state);
	static const unsigned long bad[] = {
		UK_NR_SYSCALLS, 511, 512 /* x32 rt_sigaction */, 1000,
		0x7fffffff, 0x80000000, 0xffffffff /* -1 */,
		0x40000000ul | 39 /* __X32_SYSCALL_BIT */, ~0ul,
		0xfffffffffffffff0ul,
	};
	size_t i;

	for (i = 0; i < UK_ARRAY_SIZE(bad); i++)
		assert_int_equal(SC0(f->t, bad[i]), -ENOSYS);
}

static void test_enosys_unimplemented(void **state)
{
	struct fixture *f = fx(state);

	assert_int_equal(SC0(f->t, UK_NR_socket), -ENOSYS);
	assert_int_equal(SC0(f->t, UK_NR_mmap), -ENOSYS);
	assert_int_equal(SC0(f->t, UK_NR__sysctl), -ENOSYS);
	assert_int_equal(SC0(f->t, UK_NR_uselib), -ENOSYS);
	assert_int_equal(SC0(f->t, 335 + 50), -ENOSYS); /* hole */
	assert_int_equal(SC0(f->t, 400), -ENOSYS);      /* hole */
	assert_int_equal(SC0(f->t, UK_NR_file_setattr), -ENOSYS);
}

/* A raw syscall instruction with a full 64-bit rax. */
static long raw_syscall0(unsigned long nr)
{
#if defined(__x86_64__)
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr)
			 : "rcx", "r11", "memory");
	return ret;
#else
	/* not an x86-64 host: state what x86-64 Linux does */
	switch ((unsigned int)nr) {
	case UK_NR_getppid:
		return getppid();
	case UK_NR_getpid:
		return getpid();
	default:
		return -ENOSYS;
	}
#endif
}

/*
 * Linux takes the number as the int in eax: high bits are ignored. The
 * host kernel is asked first, so the test states what Linux does here.
 */
static void test_nr_high_bits_ignored(void **state)
{
	struct fixture *f = fx(state);
	unsigned long nr = 0xffffffff00000000ul | UK_NR_getppid;

	assert_int_equal(raw_syscall0(nr), getppid());
	assert_int_equal(raw_syscall0(0x100000000ul | UK_NR_getpid), getpid());
	assert_int_equal(raw_syscall0(0xffffffff), -ENOSYS);
	assert_int_equal(raw_syscall0(0x80000000ul), -ENOSYS);

	assert_int_equal(SC0(f->t, nr), 0); /* ppid of a first task */
	assert_int_equal(SC0(f->t, 0x100000000ul | UK_NR_getpid), 4242);
	/* so 1 << 63 is read(0, ...): fd 0 is not open in this task */
	assert_int_equal(SC0(f->t, 0x8000000000000000ul), -EBADF);
}

/* SYSCALL_DEFINEn cuts each word to the declared type, as __SC_CAST does. */
static void test_argument_truncation(void **state)
{
	struct fixture *f = fx(state);
	struct timespec ts;
	struct stat st;
	long fd;

	/* setuid's uid_t is the low 32 bits */
	assert_int_equal(SC(f->t, UK_NR_setuid, 0xdead000000000000ul | 0), 0);
	assert_int_equal(SC0(f->t, UK_NR_getuid), 0);
	/* clockid_t: 0xffffffff00000001 is CLOCK_MONOTONIC */
	assert_int_equal(SC(f->t, UK_NR_clock_gettime, 0xffffffff00000001ul,
			    (unsigned long)&ts),
			 0);
	/* and -1 in the low half stays an invalid clock */
	assert_int_equal(SC(f->t, UK_NR_clock_gettime, 0x00000000fffffffful,
			    (unsigned long)&ts),
			 -EINVAL);

	/* an fd word 0xffffffff00000003 is fd 3 */
	fd = SC(f->t, UK_NR_openat, (unsigned long)AT_FDCWD,
		(unsigned long)"/trunc", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(SC(f->t, UK_NR_fstat, 0xffffffff00000000ul | fd,
			    (unsigned long)&st),
			 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(SC(f->t, UK_NR_fstat, 0xffffffff00000000ul | 99,
			    (unsigned long)&st),
			 -EBADF);
	assert_int_equal(SC(f->t, UK_NR_close, 0xffffffff00000000ul | fd), 0);
	assert_int_equal(SC(f->t, UK_NR_close, fd), -EBADF);
}

static void test_policy_errno_and_allow(void **state)
{
	struct fixture *f = fx(state);

	assert_int_equal(SC0(f->t, UK_NR_getpid), 4242);
	assert_int_equal(uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_ERRNO,
				       EPERM, 0),
			 0);
	assert_int_equal(SC0(f->t, UK_NR_getpid), -EPERM);
	assert_int_equal(SC0(f->t, UK_NR_getppid), 0); /* other rules allow */
	assert_int_equal(uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_ALLOW, 0,
				       0),
			 0);
	assert_int_equal(SC0(f->t, UK_NR_getpid), 4242);

	/* every number, then allow one back */
	assert_int_equal(uk_policy_set(f->k, UK_POLICY_ALL, UK_POLICY_ERRNO,
				       EACCES, 0),
			 0);
	assert_int_equal(SC0(f->t, UK_NR_getuid), -EACCES);
	assert_int_equal(uk_policy_set(f->k, UK_NR_getuid, UK_POLICY_ALLOW, 0,
				       0),
			 0);
	assert_int_equal(SC0(f->t, UK_NR_getuid), 0);
	assert_int_equal(SC0(f->t, UK_NR_getgid), -EACCES);
	/* a number outside the table is ENOSYS whatever the policy */
	assert_int_equal(SC0(f->t, 1000), -ENOSYS);
	uk_policy_clear(f->k);
	assert_int_equal(SC0(f->t, UK_NR_getgid), 0);

	/* bad rules */
	assert_int_equal(uk_policy_set(f->k, UK_NR_SYSCALLS, UK_POLICY_ERRNO,
				       EPERM, 0),
			 -EINVAL);
	assert_int_equal(uk_policy_set(f->k, 0, UK_POLICY_ERRNO, 0, 0),
			 -EINVAL);
	assert_int_equal(uk_policy_set(f->k, 0, UK_POLICY_ERRNO, 4096, 0),
			 -EINVAL);
	assert_int_equal(uk_policy_set(f->k, 0, UK_POLICY_FAIL_NTH, EIO, 0),
			 -EINVAL);
	assert_int_equal(uk_policy_set(f->k, 0, (enum uk_policy_action)99,
				       EIO, 0),
			 -EINVAL);
}

static void test_policy_fault_injection(void **state)
{
	struct fixture *f = fx(state);
	int i, fails = 0, fails2 = 0;
	char a[1000], b[1000];

	assert_int_equal(uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_FAIL_NTH,
				       EIO, 3),
			 0);
	for (i = 1; i <= 9; i++)
		assert_int_equal(SC0(f->t, UK_NR_getpid),
				 i % 3 == 0 ? -EIO : 4242);

	/* 30% with a seed: about 300 of 1000, the same for the same seed */
	assert_int_equal(uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_FAIL_PROB,
				       EINTR, 300000),
			 0);
	assert_int_equal(uk_policy_seed(f->k, 42), 0);
	for (i = 0; i < 1000; i++) {
		a[i] = SC0(f->t, UK_NR_getpid) == -EINTR;
		fails += a[i];
	}
	assert_int_equal(uk_policy_seed(f->k, 42), 0);
	for (i = 0; i < 1000; i++) {
		b[i] = SC0(f->t, UK_NR_getpid) == -EINTR;
		fails2 += b[i];
	}
	assert_true(fails > 230 && fails < 370);
	assert_int_equal(fails, fails2);
	assert_memory_equal(a, b, sizeof(a));
	uk_policy_clear(f->k);
}

struct counting_tracer {
	struct uk_trace tr;
	int enters, exits;
	unsigned long last_nr;
	long last_ret;
	uint64_t last_ns;
};

static void ct_enter(struct uk_trace *tr, struct uk_task *t,
		     unsigned long nr, const unsigned long *args)
{
	struct counting_tracer *c = (struct counting_tracer *)tr;

	(void)t;
	(void)args;
	c->enters++;
	c->last_nr = nr;
}

static void ct_exit(struct uk_trace *tr, struct uk_task *t, unsigned long nr,
		    const unsigned long *args, long ret, uint64_t ns)
{
	struct counting_tracer *c = (struct counting_tracer *)tr;

	(void)t;
	(void)args;
	assert_int_equal(nr, c->last_nr);
	c->exits++;
	c->last_ret = ret;
	c->last_ns = ns;
}

static void test_trace_hooks(void **state)
{
	struct fixture *f = fx(state);
	struct counting_tracer c = { .tr = { ct_enter, ct_exit } };

	assert_null(uk_trace_attach(f->k, &c.tr));
	assert_int_equal(SC0(f->t, UK_NR_getpid), 4242);
	assert_int_equal(c.enters, 1);
	assert_int_equal(c.exits, 1);
	assert_int_equal(c.last_ret, 4242);
	assert_true(c.last_ns != UINT64_MAX);
	/* numbers outside the table are seen too, as strace sees them */
	assert_int_equal(SC0(f->t, 5000), -ENOSYS);
	assert_int_equal(c.last_nr, 5000);
	assert_int_equal(c.last_ret, -ENOSYS);
	/* a denied call is traced with its error */
	assert_int_equal(uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_ERRNO,
				       EPERM, 0),
			 0);
	assert_int_equal(SC0(f->t, UK_NR_getpid), -EPERM);
	assert_int_equal(c.last_ret, -EPERM);
	uk_policy_clear(f->k);
	assert_ptr_equal(uk_trace_attach(f->k, NULL), &c.tr);
	assert_int_equal(SC0(f->t, UK_NR_getpid), 4242);
	assert_int_equal(c.exits, 3);
}

struct capture {
	char lines[8][512];
	int n;
};

static void capture_emit(void *priv, const char *line, size_t len)
{
	struct capture *c = priv;

	assert_true(c->n < 8);
	assert_true(len < sizeof(c->lines[0]));
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
}

static void test_strace_tracer(void **state)
{
	struct fixture *f = fx(state);
	struct capture cap = { .n = 0 };
	struct uk_trace *tr;
	struct timespec ts;
	uid_t r, e, s;

	tr = uk_strace_new(-1, UK_STRACE_PID, capture_emit, &cap);
	assert_false(IS_ERR_OR_NULL(tr));
	uk_trace_attach(f->k, tr);
	SC0(f->t, UK_NR_getpid);
	SC(f->t, UK_NR_clock_gettime, CLOCK_MONOTONIC, 0);
	SC(f->t, UK_NR_clock_gettime, 77, (unsigned long)&ts);
	SC(f->t, UK_NR_getresuid, (unsigned long)&r, (unsigned long)&e,
	   (unsigned long)&s);
	SC(f->t, 0x1f4, 1, 2);
	uk_trace_attach(f->k, NULL);
	uk_strace_free(tr);

	assert_int_equal(cap.n, 5);
	assert_string_equal(cap.lines[0], "[pid  4242] getpid() = 4242");
	assert_string_equal(cap.lines[1],
			    "[pid  4242] clock_gettime(CLOCK_MONOTONIC, NULL)"
			    " = -1 EFAULT (Bad address)");
	assert_non_null(strstr(cap.lines[2],
			       "clock_gettime(0x4d /* CLOCK_??? */, 0x"));
	assert_non_null(strstr(cap.lines[2],
			       ") = -1 EINVAL (Invalid argument)"));
	assert_string_equal(cap.lines[3],
			    "[pid  4242] getresuid([0], [0], [0]) = 0");
	assert_string_equal(cap.lines[4],
			    "[pid  4242] syscall_0x1f4(0x1, 0x2, 0, 0, 0, 0)"
			    " = -1 ENOSYS (Function not implemented)");
}

/* The formatter alone, on made-up results (no handler runs). */
static void test_strace_format(void **state)
{
	struct fixture *f = fx(state);
	char buf[512];
	unsigned long a[6] = { 0 };
	struct stat st;

#define FMT(nr, ret) (uk_strace_format(f->t, (nr), a, (ret), buf, sizeof(buf)), buf)
	a[0] = (unsigned long)AT_FDCWD;
	a[1] = (unsigned long)"/a";
	a[2] = O_RDONLY;
	assert_string_equal(FMT(UK_NR_openat, 3),
			    "openat(AT_FDCWD, \"/a\", O_RDONLY) = 3");
	a[2] = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	a[3] = 0644;
	assert_string_equal(FMT(UK_NR_openat, -ENOENT),
			    "openat(AT_FDCWD, \"/a\", "
			    "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = -1 "
			    "ENOENT (No such file or directory)");
	a[0] = 3;
	a[1] = (unsigned long)"hello\n world, this is longer than thirty-two";
	a[2] = 44;
	assert_string_equal(FMT(UK_NR_write, 44),
			    "write(3, \"hello\\n world, this is longer tha\"..."
			    ", 44) = 44");
	a[1] = (unsigned long)"xyz";
	a[2] = 100;
	assert_string_equal(FMT(UK_NR_read, 3), "read(3, \"xyz\", 100) = 3");
	a[1] = 0;
	assert_string_equal(FMT(UK_NR_read, -EBADF),
			    "read(3, NULL, 100) = -1 EBADF (Bad file descriptor)");
	a[0] = (unsigned long)"/x";
	a[1] = 0;
	assert_string_equal(FMT(UK_NR_unlink, -ENOENT),
			    "unlink(\"/x\") = -1 ENOENT (No such file or "
			    "directory)");
	a[0] = 4;
	a[1] = (unsigned long)-2;
	a[2] = SEEK_END;
	assert_string_equal(FMT(UK_NR_lseek, 10), "lseek(4, -2, SEEK_END) = 10");
	a[0] = 022;
	assert_string_equal(FMT(UK_NR_umask, 077), "umask(022) = 077");
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0640;
	st.st_size = 5;
	a[0] = 3;
	a[1] = (unsigned long)&st;
	assert_string_equal(FMT(UK_NR_fstat, 0),
			    "fstat(3, {st_mode=S_IFREG|0640, st_size=5, ...}) = 0");
	a[1] = F_SETFD;
	a[2] = FD_CLOEXEC;
	assert_string_equal(FMT(UK_NR_fcntl, 0), "fcntl(3, F_SETFD, FD_CLOEXEC) = 0");
	a[0] = (unsigned long)AT_FDCWD;
	a[1] = (unsigned long)"d";
	a[2] = AT_REMOVEDIR;
	assert_string_equal(FMT(UK_NR_unlinkat, 0),
			    "unlinkat(AT_FDCWD, \"d\", AT_REMOVEDIR) = 0");
	a[1] = 0x10; /* a bad pointer shows as its value */
	assert_string_equal(FMT(UK_NR_unlinkat, -EFAULT),
			    "unlinkat(AT_FDCWD, 0x10, AT_REMOVEDIR) = -1 EFAULT "
			    "(Bad address)");
	/* the forms below were checked against strace 5.x on this host */
	a[0] = 3;
	a[1] = F_GETFL;
	assert_string_equal(FMT(UK_NR_fcntl, 0x8000),
			    "fcntl(3, F_GETFL) = 0x8000 (flags O_RDONLY|O_LARGEFILE)");
	a[1] = 99;
	a[2] = 0x10;
	assert_string_equal(FMT(UK_NR_fcntl, -EINVAL),
			    "fcntl(3, 0x63 /* F_??? */, 0x10) = -1 EINVAL "
			    "(Invalid argument)");
	a[1] = LOCK_SH | LOCK_NB;
	assert_string_equal(FMT(UK_NR_flock, 0), "flock(3, LOCK_SH|LOCK_NB) = 0");
	a[0] = (unsigned long)AT_FDCWD;
	a[1] = (unsigned long)"/tmp";
	a[2] = O_RDONLY | O_DIRECTORY | O_PATH;
	assert_string_equal(FMT(UK_NR_openat, 4),
			    "openat(AT_FDCWD, \"/tmp\", O_RDONLY|O_PATH|O_DIRECTORY)"
			    " = 4");
	a[2] = O_RDWR | O_TMPFILE;
	a[3] = 0600;
	assert_string_equal(FMT(UK_NR_openat, 5),
			    "openat(AT_FDCWD, \"/tmp\", O_RDWR|O_TMPFILE, 0600) = 5");
	a[2] = (unsigned long)&st;
	a[3] = 0x6000;
	st.st_mode = S_IFDIR | S_ISVTX | 0777;
	st.st_size = 4096;
	assert_string_equal(FMT(UK_NR_newfstatat, 0),
			    "newfstatat(AT_FDCWD, \"/tmp\", {st_mode=S_IFDIR|"
			    "S_ISVTX|0777, st_size=4096, ...}, 0x6000 /* AT_??? */)"
			    " = 0");
	a[1] = (unsigned long)"/a";
	a[2] = (unsigned long)AT_FDCWD;
	a[3] = (unsigned long)"/b";
	a[4] = 6;
	assert_string_equal(FMT(UK_NR_renameat2, -EINVAL),
			    "renameat2(AT_FDCWD, \"/a\", AT_FDCWD, \"/b\", "
			    "RENAME_EXCHANGE|RENAME_WHITEOUT) = -1 EINVAL "
			    "(Invalid argument)");
	{
		struct timespec ts = { .tv_sec = 2051, .tv_nsec = 713410683 };

		a[0] = CLOCK_MONOTONIC;
		a[1] = (unsigned long)&ts;
		assert_string_equal(FMT(UK_NR_clock_gettime, 0),
				    "clock_gettime(CLOCK_MONOTONIC, {tv_sec=2051, "
				    "tv_nsec=713410683}) = 0");
	}
	a[0] = CLOCK_REALTIME;
	a[1] = 0;
	assert_string_equal(FMT(UK_NR_clock_getres, 0),
			    "clock_getres(CLOCK_REALTIME, NULL) = 0");
	a[0] = 0;
	assert_string_equal(FMT(UK_NR_umask, 022), "umask(000) = 022");
	a[0] = (unsigned long)AT_FDCWD;
	a[1] = (unsigned long)"d";
	a[2] = AT_REMOVEDIR;

	/* truncation of the output buffer stays NUL-terminated */
	assert_int_equal(uk_strace_format(f->t, UK_NR_unlinkat, a, 0, buf, 8), 7);
	assert_string_equal(buf, "unlinka");
#undef FMT
}

static void test_stats_counts(void **state)
{
	struct fixture *f = fx(state);
	struct uk_stats_snapshot snap;
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int i;

	assert_int_equal(uk_stats_reset(f->k), 0);
	for (i = 0; i < 10; i++)
		SC0(f->t, UK_NR_getpid);
	for (i = 0; i < 3; i++)
		SC(f->t, UK_NR_clock_gettime, 99, 0);
	SC0(f->t, 9999);
	assert_int_equal(uk_stats_snapshot(f->k, &snap), 0);
	assert_int_equal(snap.per[UK_NR_getpid].calls, 10);
	assert_int_equal(snap.per[UK_NR_getpid].errors, 0);
	assert_int_equal(snap.per[UK_NR_getpid].timed, 0);
	assert_int_equal(snap.per[UK_NR_clock_gettime].calls, 3);
	assert_int_equal(snap.per[UK_NR_clock_gettime].errors, 3);
	assert_int_equal(snap.total.calls, 13);
	assert_int_equal(snap.total.errors, 3);
	assert_int_equal(snap.out_of_range, 1);
	assert_false(snap.timing);
	uk_stats_snapshot_free(&snap);

	/* with timing: histograms fill */
	uk_stats_set_timing(f->k, true);
	assert_int_equal(uk_stats_reset(f->k), 0);
	for (i = 0; i < 100; i++)
		SC0(f->t, UK_NR_getppid);
	assert_int_equal(uk_stats_snapshot(f->k, &snap), 0);
	uk_stats_set_timing(f->k, false);
	assert_int_equal(snap.per[UK_NR_getppid].calls, 100);
	assert_int_equal(snap.per[UK_NR_getppid].timed, 100);
	{
		uint64_t sum = 0;

		for (i = 0; i < UK_LAT_BUCKETS; i++)
			sum += snap.per[UK_NR_getppid].lat[i];
		assert_int_equal(sum, 100);
	}
	mem = open_memstream(&text, &len);
	assert_non_null(mem);
	uk_stats_print(&snap, mem);
	fclose(mem);
	assert_non_null(strstr(text, "getppid"));
	assert_non_null(strstr(text, "mean_ns"));
	assert_non_null(strstr(text, "total"));
	assert_null(strstr(text, "getpid "));
	free(text);
	uk_stats_snapshot_free(&snap);

	assert_int_equal(uk_lat_bucket(0), 0);
	assert_int_equal(uk_lat_bucket(1), 0);
	assert_int_equal(uk_lat_bucket(2), 1);
	assert_int_equal(uk_lat_bucket(1023), 9);
	assert_int_equal(uk_lat_bucket(1024), 10);
	assert_int_equal(uk_lat_bucket(UINT64_MAX), UK_LAT_BUCKETS - 1);
}

static void *stats_thread(void *arg)
{
	struct uk_task *t = arg;
	int i;

	for (i = 0; i < 50000; i++)
		SC0(t, UK_NR_getuid);
	return NULL;
}

/* Per-thread counter blocks sum up exactly once the writers are done. */
static void test_stats_threads(void **state)
{
	struct fixture *f = fx(state);
	struct uk_stats_snapshot snap;
	pthread_t th[3];
	int i;

	assert_int_equal(uk_stats_reset(f->k), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stats_thread, f->t),
				 0);
	stats_thread(f->t);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(uk_stats_snapshot(f->k, &snap), 0);
	assert_int_equal(snap.per[UK_NR_getuid].calls, 4 * 50000);
	uk_stats_snapshot_free(&snap);
}

/* Two kernels used in turn by one thread keep their own counts. */
static void test_stats_two_kernels(void **state)
{
	struct fixture *f = fx(state);
	struct uk_kernel *k2 = uk_kernel_new(NULL);
	struct uk_stats_snapshot s1, s2;
	struct uk_task *t2;
	int i;

	assert_false(IS_ERR_OR_NULL(k2));
	t2 = uk_task_new(k2, 0, NULL);
	assert_false(IS_ERR_OR_NULL(t2));
	assert_int_equal(uk_stats_reset(f->k), 0);
	for (i = 0; i < 7; i++) {
		SC0(f->t, UK_NR_getegid);
		SC0(t2, UK_NR_getegid);
		SC0(t2, UK_NR_getegid);
	}
	assert_int_equal(uk_stats_snapshot(f->k, &s1), 0);
	assert_int_equal(uk_stats_snapshot(k2, &s2), 0);
	assert_int_equal(s1.per[UK_NR_getegid].calls, 7);
	assert_int_equal(s2.per[UK_NR_getegid].calls, 14);
	uk_stats_snapshot_free(&s1);
	uk_stats_snapshot_free(&s2);
	uk_task_exit(t2);
	uk_kernel_free(k2);
}

struct race {
	struct uk_task *t;
	atomic_int stop;
	atomic_long bad;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		long ret = SC0(r->t, UK_NR_getpid);

		if (ret != 4242 && ret != -EPERM && ret != -EIO)
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

static void nop_exit(struct uk_trace *tr, struct uk_task *t, unsigned long nr,
		     const unsigned long *args, long ret, uint64_t ns)
{
	(void)tr, (void)t, (void)nr, (void)args, (void)ret, (void)ns;
}

/*
 * Rules, tracers and timing change while two threads dispatch: every
 * result is one the rules in force could give, and nothing crashes.
 */
static void test_hooks_change_under_load(void **state)
{
	struct fixture *f = fx(state);
	struct uk_trace tr = { .exit = nop_exit };
	struct race r = { .t = f->t };
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r), 0);
	for (i = 0; i < 3000; i++) {
		switch (i % 5) {
		case 0:
			uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_ERRNO, EPERM, 0);
			break;
		case 1:
			uk_trace_attach(f->k, &tr);
			break;
		case 2:
			uk_policy_set(f->k, UK_NR_getpid, UK_POLICY_FAIL_NTH, EIO, 2);
			uk_stats_set_timing(f->k, true);
			break;
		case 3:
			uk_trace_attach(f->k, NULL);
			break;
		default:
			uk_policy_clear(f->k);
			uk_stats_set_timing(f->k, false);
		}
		if (i % 100 == 0)
			usleep(100);
	}
	atomic_store(&r.stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&r.bad), 0);
}

static void test_io_accounting(void **state)
{
	struct fixture *f = fx(state);
	struct uk_task_io io;

	uk_account_read(f->t, 100);
	uk_account_read(f->t, 0);
	uk_account_read(f->t, -EBADF);
	uk_account_write(f->t, 7);
	uk_task_get_io(f->t, &io);
	assert_int_equal(io.rchar, 100);
	assert_int_equal(io.syscr, 3);
	assert_int_equal(io.wchar, 7);
	assert_int_equal(io.syscw, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names),
		cmocka_unit_test_setup_teardown(test_enosys_outside_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_enosys_unimplemented,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_nr_high_bits_ignored,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_argument_truncation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_errno_and_allow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_fault_injection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_trace_hooks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_strace_tracer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_strace_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stats_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stats_threads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stats_two_kernels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hooks_change_under_load,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_accounting, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
