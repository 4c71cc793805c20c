// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uk_ids.c - identity and time syscalls through
 * uk_dispatch: the set*id rules as root and unprivileged (hand-written
 * cases, then a seeded differential run against the host kernel's own
 * set*id in forked children), groups, EFAULT and EINVAL cases, and time,
 * clock_gettime, clock_getres, gettimeofday and uname against the host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"

#define SC(t, nr, ...)                                                         \
	uk_dispatch((t), (nr), (const unsigned long[6]){ __VA_ARGS__ })
#define SC0(t, nr) uk_dispatch((t), (nr), (const unsigned long[6]){ 0 })
#define NOID 0xfffffffful /* (uid_t)-1 as a register word */

static struct uk_kernel *k;

static struct uk_task *mk(uid_t uid, gid_t gid)
{
	struct uk_cred c;
	struct uk_task *t;

	uk_cred_init(&c, uid, gid);
	t = uk_task_new(k, 0, &c);
	assert_false(IS_ERR_OR_NULL(t));
	assert_int_equal(uk_uaccess_init(), 0); /* in front of cmocka's */
	return t;
}

static void resuid(struct uk_task *t, uid_t *r, uid_t *e, uid_t *s)
{
	assert_int_equal(SC(t, UK_NR_getresuid, (unsigned long)r,
			    (unsigned long)e, (unsigned long)s),
			 0);
}

static void test_getters(void **state)
{
	struct uk_cred c;
	struct uk_task *t, *child;

	(void)state;
	uk_cred_init(&c, 1000, 100);
	c.euid = 1001;
	c.egid = 101;
	t = uk_task_new(k, 77, &c);
	assert_false(IS_ERR_OR_NULL(t));
	assert_int_equal(SC0(t, UK_NR_getpid), 77);
	assert_int_equal(SC0(t, UK_NR_gettid), 77);
	assert_int_equal(SC0(t, UK_NR_getppid), 0);
	assert_int_equal(SC0(t, UK_NR_getuid), 1000);
	assert_int_equal(SC0(t, UK_NR_geteuid), 1001);
	assert_int_equal(SC0(t, UK_NR_getgid), 100);
	assert_int_equal(SC0(t, UK_NR_getegid), 101);
	child = uk_task_fork(t, 78);
	assert_false(IS_ERR_OR_NULL(child));
	assert_int_equal(SC0(child, UK_NR_getpid), 78);
	assert_int_equal(SC0(child, UK_NR_getppid), 77);
	assert_int_equal(SC0(child, UK_NR_geteuid), 1001);
	uk_task_exit(child);
	uk_task_exit(t);
}

static void test_setuid_root_and_user(void **state)
{
	struct uk_task *t = mk(0, 0);
	uid_t r, e, s;

	(void)state;
	assert_int_equal(SC(t, UK_NR_setuid, NOID), -EINVAL);
	assert_int_equal(SC(t, UK_NR_setgid, NOID), -EINVAL);
	/* root sets all four */
	assert_int_equal(SC(t, UK_NR_setuid, 1000), 0);
	resuid(t, &r, &e, &s);
	assert_true(r == 1000 && e == 1000 && s == 1000);
	assert_int_equal(SC(t, UK_NR_setfsuid, NOID), 1000);
	/* and cannot come back */
	assert_int_equal(SC(t, UK_NR_setuid, 0), -EPERM);
	assert_int_equal(SC(t, UK_NR_setresuid, NOID, 0, NOID), -EPERM);
	assert_int_equal(SC(t, UK_NR_setreuid, 0, NOID), -EPERM);
	assert_int_equal(SC(t, UK_NR_setuid, 1000), 0);
	uk_task_exit(t);

	/* a saved root uid lets euid return to 0 */
	t = mk(0, 0);
	assert_int_equal(SC(t, UK_NR_setresuid, 1000, 1001, 0), 0);
	assert_int_equal(SC(t, UK_NR_setfsuid, NOID), 1001);
	assert_int_equal(SC(t, UK_NR_setuid, 2000), -EPERM);
	assert_int_equal(SC(t, UK_NR_setuid, 1000), 0); /* euid = ruid */
	resuid(t, &r, &e, &s);
	assert_true(r == 1000 && e == 1000 && s == 0);
	assert_int_equal(SC(t, UK_NR_setuid, 0), 0); /* euid = suid */
	resuid(t, &r, &e, &s);
	assert_true(r == 1000 && e == 0 && s == 0);
	/* privileged again: setuid sets every id */
	assert_int_equal(SC(t, UK_NR_setuid, 3000), 0);
	resuid(t, &r, &e, &s);
	assert_true(r == 3000 && e == 3000 && s == 3000);
	uk_task_exit(t);
}

static void test_setreuid_saved_rule(void **state)
{
	struct uk_task *t = mk(0, 0);
	uid_t r, e, s;

	(void)state;
	assert_int_equal(SC(t, UK_NR_setresuid, 1000, 1000, 1000), 0);
	/* swapping is allowed: -1 leaves alone */
	assert_int_equal(SC(t, UK_NR_setreuid, NOID, 1000), 0);
	resuid(t, &r, &e, &s);
	assert_true(r == 1000 && e == 1000 && s == 1000);
	uk_task_exit(t);

	t = mk(0, 0);
	assert_int_equal(SC(t, UK_NR_setreuid, 1000, 2000), 0);
	resuid(t, &r, &e, &s);
	assert_true(r == 1000 && e == 2000 && s == 2000); /* ruid set: suid=euid */
	assert_int_equal(SC(t, UK_NR_setreuid, 2000, 1000), 0); /* swap */
	resuid(t, &r, &e, &s);
	assert_true(r == 2000 && e == 1000 && s == 1000);
	assert_int_equal(SC(t, UK_NR_setreuid, 3000, NOID), -EPERM);
	uk_task_exit(t);
}

static void test_setfsuid(void **state)
{
	struct uk_task *t = mk(1000, 1000);

	(void)state;
	assert_int_equal(SC(t, UK_NR_setfsuid, 0), 1000);  /* refused */
	assert_int_equal(SC(t, UK_NR_setfsuid, NOID), 1000);
	assert_int_equal(SC(t, UK_NR_setfsgid, 5), 1000);
	assert_int_equal(SC(t, UK_NR_setfsgid, NOID), 1000);
	uk_task_exit(t);
	t = mk(0, 0);
	assert_int_equal(SC(t, UK_NR_setfsuid, 555), 0);
	assert_int_equal(SC(t, UK_NR_setfsuid, NOID), 555);
	assert_int_equal(SC0(t, UK_NR_geteuid), 0);
	/* a change of euid takes the fsuid along */
	assert_int_equal(SC(t, UK_NR_setresuid, NOID, 7, NOID), 0);
	assert_int_equal(SC(t, UK_NR_setfsuid, NOID), 7);
	uk_task_exit(t);
}

static void test_groups(void **state)
{
	struct uk_task *t = mk(0, 0);
	gid_t set[] = { 30, 10, 20 }, got[8];
	gid_t many[UK_NGROUPS_MAX + 1];

	(void)state;
	memset(many, 0, sizeof(many));
	assert_int_equal(SC(t, UK_NR_getgroups, 0, 0), 0);
	assert_int_equal(SC(t, UK_NR_setgroups, 3, (unsigned long)set), 0);
	assert_int_equal(SC(t, UK_NR_getgroups, 0, 0), 3);
	assert_int_equal(SC(t, UK_NR_getgroups, 8, (unsigned long)got), 3);
	assert_true(got[0] == 10 && got[1] == 20 && got[2] == 30);
	assert_int_equal(SC(t, UK_NR_getgroups, 2, (unsigned long)got), -EINVAL);
	assert_int_equal(SC(t, UK_NR_getgroups, 0xffffffff, (unsigned long)got),
			 -EINVAL);
	assert_int_equal(SC(t, UK_NR_getgroups, 8, 16), -EFAULT);
	assert_int_equal(SC(t, UK_NR_setgroups, 2, 16), -EFAULT);
	assert_int_equal(SC(t, UK_NR_setgroups, UK_NGROUPS_MAX + 1,
			    (unsigned long)many),
			 -EINVAL);
	assert_int_equal(SC(t, UK_NR_setgroups, 0, 0), 0);
	assert_int_equal(SC(t, UK_NR_getgroups, 0, 0), 0);
	/* unprivileged: EPERM before anything else */
	assert_int_equal(SC(t, UK_NR_setuid, 1000), 0);
	assert_int_equal(SC(t, UK_NR_setgroups, 1, (unsigned long)set), -EPERM);
	assert_int_equal(SC(t, UK_NR_setgroups, 100000, 16), -EPERM);
	uk_task_exit(t);
}

static void test_ids_efault(void **state)
{
	struct uk_task *t = mk(0, 0);
	uid_t a, b;

	(void)state;
	assert_int_equal(SC(t, UK_NR_getresuid, 0, (unsigned long)&a,
			    (unsigned long)&b),
			 -EFAULT);
	assert_int_equal(SC(t, UK_NR_getresgid, (unsigned long)&a,
			    (unsigned long)&b, 8),
			 -EFAULT);
	uk_task_exit(t);
}

/* ---- differential: the host kernel's set*id vs ours ---- */

enum { OP_SETUID, OP_SETGID, OP_SETREUID, OP_SETREGID, OP_SETRESUID,
       OP_SETRESGID, OP_SETFSUID, OP_SETFSGID, OP_SETGROUPS, OP_NR };

struct id_op {
	int op;
	unsigned long a[3];
};

struct id_res {
	long ret;
	uid_t r, e, s, fs;
	gid_t rg, eg, sg, fsg;
	int ngroups;
};

static const unsigned long id_vals[] = { 0, 1000, 1001, 2000, NOID };

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void gen_ops(uint64_t seed, struct id_op *ops, int n)
{
	uint64_t s = seed * 2654435761u + 1;
	int i, j;

	for (i = 0; i < n; i++) {
		ops[i].op = (int)(rng(&s) % OP_NR);
		for (j = 0; j < 3; j++)
			ops[i].a[j] = id_vals[rng(&s) % UK_ARRAY_SIZE(id_vals)];
	}
}

static const long op_nr[OP_NR] = {
	UK_NR_setuid, UK_NR_setgid, UK_NR_setreuid, UK_NR_setregid,
	UK_NR_setresuid, UK_NR_setresgid, UK_NR_setfsuid, UK_NR_setfsgid,
	UK_NR_setgroups,
};

static gid_t grp_list[] = { 1000, 5 };

/* Runs one op natively (this process's real credentials). */
static void native_op(const struct id_op *o, struct id_res *res)
{
	long ret;

	if (o->op == OP_SETGROUPS)
		ret = syscall(SYS_setgroups, 2, grp_list);
	else
		ret = syscall(op_nr[o->op], o->a[0], o->a[1], o->a[2]);
	res->ret = ret == -1 ? -errno : ret;
	syscall(SYS_getresuid, &res->r, &res->e, &res->s);
	syscall(SYS_getresgid, &res->rg, &res->eg, &res->sg);
	res->fs = (uid_t)syscall(SYS_setfsuid, -1);
	res->fsg = (gid_t)syscall(SYS_setfsgid, -1);
	res->ngroups = (int)syscall(SYS_getgroups, 0, NULL);
}

static void uk_op(struct uk_task *t, const struct id_op *o,
		  struct id_res *res)
{
	if (o->op == OP_SETGROUPS)
		res->ret = SC(t, UK_NR_setgroups, 2, (unsigned long)grp_list);
	else
		res->ret = SC(t, (unsigned long)op_nr[o->op], o->a[0], o->a[1],
			      o->a[2]);
	SC(t, UK_NR_getresuid, (unsigned long)&res->r, (unsigned long)&res->e,
	   (unsigned long)&res->s);
	SC(t, UK_NR_getresgid, (unsigned long)&res->rg,
	   (unsigned long)&res->eg, (unsigned long)&res->sg);
	res->fs = (uid_t)SC(t, UK_NR_setfsuid, NOID);
	res->fsg = (gid_t)SC(t, UK_NR_setfsgid, NOID);
	res->ngroups = (int)SC(t, UK_NR_getgroups, 0, 0);
}

#ifndef EPISODES
#define EPISODES 200
#endif
#define OPS 16
#ifndef UK_IDS_SEED
#define UK_IDS_SEED 20261125
#endif

static void test_setid_differential(void **state)
{
	struct id_op ops[OPS];
	struct id_res nat[OPS], ours[OPS];
	uint64_t seed0 = UK_IDS_SEED;
	int e, i, status, fds[2];
	gid_t none[1];

	(void)state;
	if (getuid() != 0 || syscall(SYS_setgroups, 0, none) != 0) {
		print_message("not root with CAP_SETUID/CAP_SETGID: skipped\n");
		skip();
	}
	print_message("seed %llu, %d episodes of %d set*id calls\n",
		      (unsigned long long)seed0, EPISODES, OPS);
	for (e = 0; e < EPISODES; e++) {
		struct uk_task *t = mk(0, 0);
		pid_t pid;

		gen_ops(seed0 + (uint64_t)e, ops, OPS);
		memset(nat, 0, sizeof(nat)); /* padding is compared too */
		memset(ours, 0, sizeof(ours));
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			close(fds[0]);
			syscall(SYS_setgroups, 0, none);
			for (i = 0; i < OPS; i++)
				native_op(&ops[i], &nat[i]);
			_exit(write(fds[1], nat, sizeof(nat)) == sizeof(nat) ? 0 : 1);
		}
		close(fds[1]);
		assert_int_equal(read(fds[0], nat, sizeof(nat)), sizeof(nat));
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

		for (i = 0; i < OPS; i++) {
			uk_op(t, &ops[i], &ours[i]);
			if (memcmp(&nat[i], &ours[i], sizeof(nat[i]))) {
				print_error("episode %d op %d: %s(%ld, %ld, %ld):"
					    " native ret %ld ids %u/%u/%u/%u"
					    " %u/%u/%u/%u g%d; ours ret %ld ids"
					    " %u/%u/%u/%u %u/%u/%u/%u g%d\n",
					    e, i, uk_syscall_name(
						(unsigned long)op_nr[ops[i].op]),
					    (long)ops[i].a[0], (long)ops[i].a[1],
					    (long)ops[i].a[2], nat[i].ret,
					    nat[i].r, nat[i].e, nat[i].s,
					    nat[i].fs, nat[i].rg, nat[i].eg,
					    nat[i].sg, nat[i].fsg,
					    nat[i].ngroups, ours[i].ret,
					    ours[i].r, ours[i].e, ours[i].s,
					    ours[i].fs, ours[i].rg, ours[i].eg,
					    ours[i].sg, ours[i].fsg,
					    ours[i].ngroups);
				fail();
			}
		}
		uk_task_exit(t);
	}
}

/* ---- time and uname ---- */

static void test_time(void **state)
{
	struct uk_task *t = mk(1000, 1000);
	struct timespec ts, host;
	struct timeval tv;
	int tz[2] = { 7, 7 };
	long now, tl = 0;
	clockid_t c;

	(void)state;
	now = SC(t, UK_NR_time, 0);
	assert_true(labs(now - (long)time(NULL)) <= 1);
	now = SC(t, UK_NR_time, (unsigned long)&tl);
	assert_int_equal(now, tl);
	assert_true(labs(tl - now) <= 1);
	assert_int_equal(SC(t, UK_NR_time, 8), -EFAULT);

	assert_int_equal(SC(t, UK_NR_gettimeofday, (unsigned long)&tv,
			    (unsigned long)tz),
			 0);
	assert_true(labs(tv.tv_sec - now) <= 1);
	assert_true(tz[0] == 0 && tz[1] == 0);
	assert_int_equal(SC(t, UK_NR_gettimeofday, 0, 0), 0);
	assert_int_equal(SC(t, UK_NR_gettimeofday, 8, 0), -EFAULT);
	assert_int_equal(SC(t, UK_NR_gettimeofday, (unsigned long)&tv, 8),
			 -EFAULT);

	for (c = 0; c < 16; c++) {
		/* the host's answer, except for the CPU-time clocks */
		bool ok = c != 2 && c != 3 && !clock_gettime(c, &host);

		assert_int_equal(SC(t, UK_NR_clock_gettime, (unsigned long)c,
				    (unsigned long)&ts),
				 ok ? 0 : -EINVAL);
		assert_int_equal(SC(t, UK_NR_clock_getres, (unsigned long)c, 0),
				 ok ? 0 : -EINVAL);
	}
	assert_int_equal(SC(t, UK_NR_clock_gettime, CLOCK_MONOTONIC,
			    (unsigned long)&ts),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &host);
	assert_true(host.tv_sec - ts.tv_sec <= 1);
	assert_int_equal(SC(t, UK_NR_clock_gettime, CLOCK_MONOTONIC, 0),
			 -EFAULT);
	assert_int_equal(SC(t, UK_NR_clock_gettime, (unsigned long)-1,
			    (unsigned long)&ts),
			 -EINVAL);
	assert_int_equal(SC(t, UK_NR_clock_getres, CLOCK_REALTIME,
			    (unsigned long)&ts),
			 0);
	clock_getres(CLOCK_REALTIME, &host);
	assert_true(ts.tv_sec == host.tv_sec && ts.tv_nsec == host.tv_nsec);
	assert_int_equal(SC(t, UK_NR_clock_getres, CLOCK_REALTIME, 8), -EFAULT);
	uk_task_exit(t);
}

static void test_uname(void **state)
{
	struct uk_task *t = mk(1000, 1000);
	struct utsname ours, host;

	(void)state;
	assert_int_equal(sizeof(ours.sysname), 65); /* new_utsname layout */
	assert_int_equal(SC(t, UK_NR_uname, (unsigned long)&ours), 0);
	uname(&host);
	assert_string_equal(ours.sysname, "Linux");
	assert_string_equal(ours.nodename, host.nodename);
	assert_string_equal(ours.release, host.release);
	assert_string_equal(ours.machine, host.machine);
	assert_int_equal(SC(t, UK_NR_uname, 0), -EFAULT);
	assert_int_equal(SC(t, UK_NR_uname, UK_TASK_SIZE_MAX - 10), -EFAULT);
	uk_task_exit(t);
}

static int group_setup(void **state)
{
	(void)state;
	k = uk_kernel_new(NULL);
	return IS_ERR_OR_NULL(k) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	uk_kernel_free(k);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_setuid_root_and_user),
		cmocka_unit_test(test_setreuid_saved_rule),
		cmocka_unit_test(test_setfsuid),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_ids_efault),
		cmocka_unit_test(test_setid_differential),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_uname),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
