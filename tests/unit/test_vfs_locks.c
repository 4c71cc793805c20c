// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_vfs_locks.c - advisory locks: the lock engine on its own
 * (ranges split, merged, upgraded and downgraded, conflicts, sleeping,
 * waking, EDEADLK, interruption, flock conversion), then the syscalls
 * through uk_dispatch with tasks as processes (fcntl F_GETLK/F_SETLK/
 * F_SETLKW, OFD locks, flock, release on close and exit), checked against
 * the same calls on a native temporary directory where that is possible.
 *
 * Sections: engine helpers, engine cases, syscall helpers, syscall cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfs_extras.h"
#include "vfs_extras_test.h"

/* ---- engine helpers ---------------------------------------------------- */

/* Owner keys: any distinct addresses. */
static char owner_a, owner_b, owner_c;

static int lk(struct vfs_lock_ctx *ctx, const void *owner, short type,
	      int64_t start, int64_t end, unsigned int flags)
{
	struct vfs_lock_req req = {
		.type = type,
		.flags = VFS_FL_POSIX | flags,
		.start = start,
		.end = end,
		.owner = owner,
		.pid = owner == &owner_a   ? 1
		       : owner == &owner_b ? 2
					   : 3,
		.task = owner,
	};

	return vfs_posix_lock(ctx, &req);
}

/*
 * F_GETLK for a write lock over start..end by owner: returns the
 * conflicting lock's type and fills its range (or F_UNLCK).
 */
static short test_lk(struct vfs_lock_ctx *ctx, const void *owner, int64_t start,
		     int64_t end, int64_t *cs, int64_t *ce)
{
	struct vfs_lock_req req = {
		.type = F_WRLCK,
		.flags = VFS_FL_POSIX,
		.start = start,
		.end = end,
		.owner = owner,
	};

	vfs_posix_test(ctx, &req);
	*cs = req.start;
	*ce = req.end;
	return req.type;
}

#define assert_conflict(ctx, owner, s, e, type, cs_want, ce_want)              \
	do {                                                                   \
		int64_t cs_, ce_;                                              \
		assert_int_equal(test_lk(ctx, owner, s, e, &cs_, &ce_), type); \
		assert_int_equal(cs_, cs_want);                                \
		assert_int_equal(ce_, ce_want);                                \
	} while (0)

#define assert_free(ctx, owner, s, e)                                          \
	do {                                                                   \
		int64_t cs_, ce_;                                              \
		assert_int_equal(test_lk(ctx, owner, s, e, &cs_, &ce_),        \
				 F_UNLCK);                                     \
	} while (0)

static int setup_ctx(void **state)
{
	struct vfs_lock_ctx *ctx = vfs_lock_ctx_new();

	if (IS_ERR(ctx))
		return -1;
	*state = ctx;
	return 0;
}

static int teardown_ctx(void **state)
{
	vfs_lock_ctx_free(*state);
	return 0;
}

/* ---- engine cases ------------------------------------------------------ */

static void test_engine_split_by_unlock(void **state)
{
	struct vfs_lock_ctx *ctx = *state;

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 99, 0), 0);
	assert_int_equal(lk(ctx, &owner_a, F_UNLCK, 40, 59, 0), 0);
	assert_free(ctx, &owner_b, 40, 59);
	assert_conflict(ctx, &owner_b, 30, 45, F_WRLCK, 0, 39);
	assert_conflict(ctx, &owner_b, 45, 70, F_WRLCK, 60, 99);
	/* Unlocking the rest leaves nothing. */
	assert_int_equal(lk(ctx, &owner_a, F_UNLCK, 0, VFS_OFFSET_MAX, 0), 0);
	assert_true(vfs_lock_ctx_empty(ctx));
}

static void test_engine_merge_adjacent(void **state)
{
	struct vfs_lock_ctx *ctx = *state;

	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 0, 9, 0), 0);
	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 20, 29, 0), 0);
	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 10, 19, 0), 0);
	assert_conflict(ctx, &owner_b, 0, 100, F_RDLCK, 0, 29);
	/* Overlapping same-type locks merge too. */
	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 25, 50, 0), 0);
	assert_conflict(ctx, &owner_b, 0, 100, F_RDLCK, 0, 50);
	/* Touching locks of another type do not merge. */
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 51, 60, 0), 0);
	assert_conflict(ctx, &owner_b, 0, 100, F_RDLCK, 0, 50);
	assert_conflict(ctx, &owner_b, 51, 100, F_WRLCK, 51, 60);
}

static void test_engine_upgrade_downgrade(void **state)
{
	struct vfs_lock_ctx *ctx = *state;

	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 0, 99, 0), 0);
	/* Upgrading a middle piece splits the read lock in three. */
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 40, 59, 0), 0);
	assert_conflict(ctx, &owner_b, 0, 100, F_RDLCK, 0, 39);
	assert_conflict(ctx, &owner_b, 40, 100, F_WRLCK, 40, 59);
	assert_conflict(ctx, &owner_b, 60, 100, F_RDLCK, 60, 99);
	/* Another owner may read-lock around the write lock... */
	assert_int_equal(lk(ctx, &owner_b, F_RDLCK, 0, 39, 0), 0);
	/* ...but not over it. */
	assert_int_equal(lk(ctx, &owner_b, F_RDLCK, 39, 40, 0), -EAGAIN);
	/* Downgrading merges the three pieces back into one. */
	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 40, 59, 0), 0);
	assert_int_equal(lk(ctx, &owner_b, F_UNLCK, 0, VFS_OFFSET_MAX, 0), 0);
	assert_conflict(ctx, &owner_b, 0, 1000, F_RDLCK, 0, 99);
	/* A's upgrade fails while B reads. */
	assert_int_equal(lk(ctx, &owner_b, F_RDLCK, 50, 50, 0), 0);
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 99, 0), -EAGAIN);
	assert_conflict(ctx, &owner_b, 0, 1000, F_RDLCK, 0, 99);
}

static void test_engine_to_eof(void **state)
{
	struct vfs_lock_ctx *ctx = *state;

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 10, VFS_OFFSET_MAX, 0), 0);
	assert_conflict(ctx, &owner_b, 1000000, 1000000, F_WRLCK, 10,
			VFS_OFFSET_MAX);
	assert_int_equal(lk(ctx, &owner_a, F_UNLCK, 20, VFS_OFFSET_MAX, 0), 0);
	assert_conflict(ctx, &owner_b, 0, VFS_OFFSET_MAX, F_WRLCK, 10, 19);
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 20, VFS_OFFSET_MAX, 0), 0);
	assert_conflict(ctx, &owner_b, 0, VFS_OFFSET_MAX, F_WRLCK, 10,
			VFS_OFFSET_MAX);
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, -1, 5, 0), -EINVAL);
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 6, 5, 0), -EINVAL);
}

/* F_GETLK reports the first conflicting lock in owner-group order. */
static void test_engine_getlk_order(void **state)
{
	struct vfs_lock_ctx *ctx = *state;

	assert_int_equal(lk(ctx, &owner_b, F_RDLCK, 50, 59, 0), 0);
	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 0, 9, 0), 0);
	assert_int_equal(lk(ctx, &owner_b, F_RDLCK, 20, 29, 0), 0);
	assert_conflict(ctx, &owner_c, 0, 100, F_RDLCK, 20, 29);
	vfs_locks_remove_owner(ctx, &owner_b);
	assert_conflict(ctx, &owner_c, 0, 100, F_RDLCK, 0, 9);
}

struct sleeper {
	struct vfs_lock_ctx *ctx;
	const void *owner;
	int64_t start, end;
	short type;
	bool flock;
	const struct uk_intr *intr; /* the call's, or NULL */
	int ret;
	atomic_int done;
	pthread_t thread;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	uk_intr_set_current(s->intr);
	if (s->flock) {
		struct vfs_lock_req req = {
			.type = s->type,
			.flags = VFS_FL_FLOCK | VFS_FL_SLEEP,
			.owner = s->owner,
			.task = s->owner,
		};
		s->ret = vfs_flock_lock(s->ctx, &req);
	} else {
		s->ret = lk(s->ctx, s->owner, s->type, s->start, s->end,
			    VFS_FL_SLEEP);
	}
	uk_intr_set_current(NULL);
	atomic_store(&s->done, 1);
	return NULL;
}

/* Waits (up to 10 s) until task has a lock request asleep. */
static void wait_asleep(const void *task)
{
	for (int i = 0; i < 10000 && !vfs_locks_nr_sleeping(task); i++)
		usleep(1000);
	assert_true(vfs_locks_nr_sleeping(task) > 0);
}

static void sleeper_start(struct sleeper *s)
{
	atomic_store(&s->done, 0);
	assert_int_equal(pthread_create(&s->thread, NULL, sleeper_main, s), 0);
	wait_asleep(s->owner);
}

static int sleeper_join(struct sleeper *s)
{
	pthread_join(s->thread, NULL);
	return s->ret;
}

static void test_engine_sleep_woken_by_unlock(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	struct sleeper s = {
		.ctx = ctx,
		.owner = &owner_b,
		.type = F_WRLCK,
		.start = 5,
		.end = 5,
	};

	assert_int_equal(lk(ctx, &owner_a, F_RDLCK, 0, 9, 0), 0);
	sleeper_start(&s);
	assert_int_equal(atomic_load(&s.done), 0);
	/* A change elsewhere wakes it but it sleeps again. */
	assert_int_equal(lk(ctx, &owner_a, F_UNLCK, 8, 9, 0), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&s.done), 0);
	vfs_locks_remove_owner(ctx, &owner_a);
	assert_int_equal(sleeper_join(&s), 0);
	assert_conflict(ctx, &owner_a, 0, 9, F_WRLCK, 5, 5);
}

static void test_engine_deadlock(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	struct vfs_lock_ctx *ctx2 = vfs_lock_ctx_new();
	struct sleeper s = {
		.ctx = ctx,
		.owner = &owner_b,
		.type = F_WRLCK,
		.start = 0,
		.end = 0,
	};

	assert_false(IS_ERR(ctx2));
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 0, 0), 0);
	assert_int_equal(lk(ctx2, &owner_b, F_WRLCK, 0, 0, 0), 0);
	sleeper_start(&s); /* B waits for A on ctx */
	/* A waiting for B on another inode would close the cycle. */
	assert_int_equal(lk(ctx2, &owner_a, F_WRLCK, 0, 0, VFS_FL_SLEEP),
			 -EDEADLK);
	/* OFD requests are not part of the graph: this one would sleep. */
	assert_int_equal(lk(ctx2, &owner_a, F_WRLCK, 0, 0, VFS_FL_OFD),
			 -EAGAIN);
	vfs_locks_remove_owner(ctx, &owner_a);
	assert_int_equal(sleeper_join(&s), 0);
	vfs_locks_remove_owner(ctx, &owner_b);
	vfs_locks_remove_owner(ctx2, &owner_b);
	vfs_lock_ctx_free(ctx2);
}

/* A cycle through three owners on three inodes is found too. */
static void test_engine_deadlock_three(void **state)
{
	struct vfs_lock_ctx *c1 = *state, *c2 = vfs_lock_ctx_new(),
			    *c3 = vfs_lock_ctx_new();
	struct sleeper sa = {.ctx = c2, .owner = &owner_a, .type = F_WRLCK};
	struct sleeper sb = {.ctx = c3, .owner = &owner_b, .type = F_WRLCK};

	assert_false(IS_ERR(c2) || IS_ERR(c3));
	assert_int_equal(lk(c1, &owner_a, F_WRLCK, 0, 0, 0), 0);
	assert_int_equal(lk(c2, &owner_b, F_WRLCK, 0, 0, 0), 0);
	assert_int_equal(lk(c3, &owner_c, F_WRLCK, 0, 0, 0), 0);
	sleeper_start(&sa); /* A waits for B */
	sleeper_start(&sb); /* B waits for C */
	assert_int_equal(lk(c1, &owner_c, F_WRLCK, 0, 0, VFS_FL_SLEEP),
			 -EDEADLK);
	/* Without the last edge there is no cycle: C just fails. */
	assert_int_equal(lk(c1, &owner_c, F_RDLCK, 0, 0, 0), -EAGAIN);
	vfs_locks_remove_owner(c3, &owner_c);
	assert_int_equal(sleeper_join(&sb), 0);
	vfs_locks_remove_owner(c2, &owner_b);
	assert_int_equal(sleeper_join(&sa), 0);
	vfs_locks_remove_owner(c1, &owner_a);
	vfs_locks_remove_owner(c2, &owner_a);
	vfs_locks_remove_owner(c3, &owner_b);
	vfs_lock_ctx_free(c2);
	vfs_lock_ctx_free(c3);
}

static void test_engine_interrupt(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	struct sleeper s = {
		.ctx = ctx,
		.owner = &owner_b,
		.type = F_RDLCK,
		.start = 0,
		.end = 0,
	};

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 0, 0), 0);
	sleeper_start(&s);
	vfs_locks_interrupt(&owner_b);
	assert_int_equal(sleeper_join(&s), -EINTR);
	assert_conflict(ctx, &owner_b, 0, 0, F_WRLCK, 0, 0);
}

/*
 * One call interrupted (uk_intr: the ring's signal to one client thread):
 * only the call whose word holds the mask, whatever the task; a wake with
 * the word clear (a stale or forged request) and a wake of another call do
 * nothing; a pending interrupt ends a sleep before it starts, but a free
 * lock is still granted.
 */
static void test_engine_interrupt_one_call(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	_Atomic uint32_t word_b = 0, word_c = 0;
	struct uk_intr in_b = { .word = &word_b, .mask = 0x400 };
	struct uk_intr in_c = { .word = &word_c, .mask = 0x400 };
	/* Two sleepers, each its own call. */
	struct sleeper b = {
		.ctx = ctx, .owner = &owner_b, .type = F_RDLCK, .intr = &in_b,
	};
	struct sleeper c = {
		.ctx = ctx, .owner = &owner_c, .type = F_RDLCK, .intr = &in_c,
	};

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 0, 0), 0);
	sleeper_start(&b);
	sleeper_start(&c);
	/* Not asked: nothing happens. */
	uk_intr_wake(&in_b);
	atomic_store(&word_c, 0x400);
	uk_intr_wake(&in_b);
	usleep(20 * 1000);
	assert_int_equal(atomic_load(&b.done), 0);
	/* c asked and woken: c alone ends. */
	uk_intr_wake(&in_c);
	assert_int_equal(sleeper_join(&c), -EINTR);
	assert_int_equal(atomic_load(&b.done), 0);
	assert_true(vfs_locks_nr_sleeping(&owner_b) == 1);
	/* Asked before it sleeps: at once, without sleeping. */
	c.done = 0;
	assert_int_equal(pthread_create(&c.thread, NULL, sleeper_main, &c), 0);
	assert_int_equal(sleeper_join(&c), -EINTR);
	/* ... but a free lock is granted all the same. */
	c.start = c.end = 1;
	assert_int_equal(pthread_create(&c.thread, NULL, sleeper_main, &c), 0);
	assert_int_equal(sleeper_join(&c), 0);
	/* b still sleeps, and gets its lock when a lets go. */
	assert_int_equal(atomic_load(&b.done), 0);
	assert_int_equal(lk(ctx, &owner_a, F_UNLCK, 0, 0, 0), 0);
	assert_int_equal(sleeper_join(&b), 0);
	assert_conflict(ctx, &owner_a, 0, 0, F_RDLCK, 0, 0);
}

static int fl(struct vfs_lock_ctx *ctx, const void *owner, short type)
{
	struct vfs_lock_req req = {
		.type = type,
		.flags = VFS_FL_FLOCK,
		.owner = owner,
	};

	return vfs_flock_lock(ctx, &req);
}

static void test_engine_flock(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	struct sleeper s = {
		.ctx = ctx,
		.owner = &owner_c,
		.type = F_WRLCK,
		.flock = true,
	};

	assert_int_equal(fl(ctx, &owner_a, F_RDLCK), 0);
	assert_int_equal(fl(ctx, &owner_b, F_RDLCK), 0);
	assert_int_equal(fl(ctx, &owner_a, F_RDLCK), 0);
	/* A failed upgrade drops the shared lock first, as on Linux. */
	assert_int_equal(fl(ctx, &owner_a, F_WRLCK), -EWOULDBLOCK);
	assert_int_equal(fl(ctx, &owner_b, F_WRLCK), 0);
	assert_int_equal(fl(ctx, &owner_a, F_RDLCK), -EWOULDBLOCK);
	/* POSIX locks are independent of flock locks. */
	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 9, 0), 0);
	/* A sleeper is woken by the downgrade... but still conflicts. */
	sleeper_start(&s);
	assert_int_equal(fl(ctx, &owner_b, F_RDLCK), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&s.done), 0);
	assert_int_equal(fl(ctx, &owner_b, F_UNLCK), 0);
	assert_int_equal(sleeper_join(&s), 0);
	assert_int_equal(fl(ctx, &owner_a, F_RDLCK), -EWOULDBLOCK);
	vfs_locks_remove_owner(ctx, &owner_c);
	assert_int_equal(fl(ctx, &owner_a, F_RDLCK), 0);
}

/* Many threads hammering one range: no lost wake-up, no double grant. */
struct hammer {
	struct vfs_lock_ctx *ctx;
	atomic_int inside;
	atomic_int bad;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	char me;

	for (int i = 0; i < 200; i++) {
		if (lk(h->ctx, &me, F_WRLCK, 0, 0, VFS_FL_SLEEP)) {
			atomic_fetch_add(&h->bad, 1);
			continue;
		}
		if (atomic_fetch_add(&h->inside, 1) != 0)
			atomic_fetch_add(&h->bad, 1);
		atomic_fetch_sub(&h->inside, 1);
		lk(h->ctx, &me, F_UNLCK, 0, 0, 0);
	}
	return NULL;
}

static void test_engine_hammer(void **state)
{
	struct hammer h = {.ctx = *state};
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h),
				 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&h.bad), 0);
	assert_true(vfs_lock_ctx_empty(h.ctx));
}

/* ---- syscall helpers ---------------------------------------------------- */

/*
 * Two processes, A and B, on uk (two tasks of one kernel) or natively (this
 * process and a forked helper), each with its pid for l_pid checks.
 */
struct pair {
	struct uk_kernel *k;
	struct xt a, b;
	pid_t pid_a, pid_b;
};

static int pair_uk(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	p->k = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(p->k))
		return -1;
	p->a.task = uk_task_new(p->k, 1000, NULL);
	p->b.task = uk_task_new(p->k, 2000, NULL);
	if (IS_ERR_OR_NULL(p->a.task) || IS_ERR_OR_NULL(p->b.task))
		return -1;
	p->pid_a = 1000;
	p->pid_b = 2000;
	p->a.name = 'A';
	p->b.name = 'B';
	return 0;
}

static void pair_uk_done(struct pair *p)
{
	if (!IS_ERR_OR_NULL(p->a.task))
		uk_task_exit(p->a.task);
	if (!IS_ERR_OR_NULL(p->b.task))
		uk_task_exit(p->b.task);
	uk_kernel_free(p->k);
}

static int pair_native(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	if (xt_native_dir(&p->a))
		return -1;
	strcpy(p->b.root, p->a.root);
	if (xt_remote_start(&p->b))
		return -1;
	p->pid_a = getpid();
	p->pid_b = p->b.remote;
	p->a.name = 'A';
	p->b.name = 'B';
	return 0;
}

static void pair_native_done(struct pair *p)
{
	xt_remote_stop(&p->b);
	xt_native_rmdir(&p->a);
}

static long xlock(struct xt *t, long fd, int cmd, short type, short whence,
		  int64_t start, int64_t len, int32_t pid, struct flock *out)
{
	struct flock l = {
		.l_type = type,
		.l_whence = whence,
		.l_start = start,
		.l_len = len,
		.l_pid = pid,
	};
	long r = XSCB(t, 2, sizeof(l), SYS_fcntl, U(fd), U(cmd), UP(&l));

	if (out)
		*out = l;
	return r;
}

/* A get-lock whose answer is logged with the holder's pid as a name. */
static void log_getlk(struct pair *p, struct xlog *log, int line, struct xt *t,
		      long fd, int cmd, short type, short whence, int64_t start,
		      int64_t len)
{
	struct flock l;
	long r = xlock(t, fd, cmd, type, whence, start, len, 0, &l);
	char who = l.l_pid == p->pid_a	 ? 'A'
		   : l.l_pid == p->pid_b ? 'B'
		   : l.l_pid == -1	 ? 'O'
					 : '?';

	if (r || l.l_type == F_UNLCK)
		xlogf(log, "%d: getlk %ld type %d\n", line, r, l.l_type);
	else
		xlogf(log, "%d: getlk %ld type %d whence %d %lld+%lld pid %c\n",
		      line, r, l.l_type, l.l_whence, (long long)l.l_start,
		      (long long)l.l_len, who);
}

#define GETLK(t, fd, cmd, type, whence, start, len)                            \
	log_getlk(p, log, __LINE__, t, fd, cmd, type, whence, start, len)
#define SETLK(t, fd, cmd, type, whence, start, len)                            \
	R(xlock(t, fd, cmd, type, whence, start, len, 0, NULL))

/*
 * The record-lock sequence run on uk and natively: two processes, split,
 * merge, upgrade and downgrade seen through F_GETLK, every errno of
 * fcntl's lock commands, OFD locks against POSIX ones, and release on
 * close of another descriptor and on the last close of a description.
 */
static void lock_sequence(struct pair *p, struct xlog *log)
{
	struct xt *A = &p->a, *B = &p->b;
	char data[100];
	long fa, fr, fw, fb, fo, fo2;

	memset(data, 'x', sizeof(data));
	fa = RFD(xt_open(A, "f", O_RDWR | O_CREAT, 0644));
	R(XSC(A, SYS_write, U(fa), UP(data), sizeof(data)));
	fr = RFD(xt_open(A, "f", O_RDONLY, 0));
	fw = RFD(xt_open(A, "f", O_WRONLY, 0));
	fb = RFD(xt_open(B, "f", O_RDWR, 0));

	/* Conflicts between the processes; split by an unlock. */
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 100);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_UNLCK, SEEK_SET, 40, 20);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 40, 20);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 30, 20);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 50, 20);
	SETLK(B, fb, F_SETLK, F_RDLCK, SEEK_SET, 40, 20);
	SETLK(B, fb, F_SETLK, F_WRLCK, SEEK_SET, 30, 15);
	SETLK(B, fb, F_SETLKW, F_WRLCK, SEEK_SET, 40, 20); /* own: no wait */
	SETLK(B, fb, F_SETLK, F_RDLCK, SEEK_SET, 40, 20);
	GETLK(A, fa, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);
	/* Downgrade to one merged read lock, beside B's read lock. */
	SETLK(A, fa, F_SETLK, F_RDLCK, SEEK_SET, 0, 100);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 99, 1);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 100, 0);
	/* Upgrade a piece: split in three; B's read lock is in the way. */
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 45, 5);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 70, 5);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 72, 0);
	SETLK(B, fb, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 45, 5);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);

	/* The access mode must allow the lock type; F_GETLK needs none. */
	SETLK(A, fr, F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
	SETLK(A, fw, F_SETLK, F_RDLCK, SEEK_SET, 0, 1);
	SETLK(A, fr, F_SETLK, F_UNLCK, SEEK_SET, 200, 1);
	SETLK(A, fw, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1);
	GETLK(A, fr, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);

	/* EINVAL and EOVERFLOW. */
	SETLK(A, fa, F_SETLK, F_RDLCK, 7, 0, 1);
	SETLK(A, fa, F_SETLK, 9, SEEK_SET, 0, 1);
	GETLK(B, fb, F_GETLK, F_UNLCK, SEEK_SET, 0, 1);
	GETLK(B, fb, F_GETLK, 9, SEEK_SET, 0, 1);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, -1, 10);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 5, -10);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_END, INT64_MAX, 1);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 10, INT64_MAX);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, INT64_MAX, 1);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, INT64_MAX, 0);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, INT64_MAX, 1);
	SETLK(A, fa, F_SETLK, F_UNLCK, SEEK_SET, INT64_MAX, 0);
	R(XSC(A, SYS_fcntl, U(fa), U(F_SETLK), 0));
	R(XSC(A, SYS_fcntl, U(fa), U(F_GETLK), 0));
	R(XSC(A, SYS_fcntl, 999, U(F_SETLK), 0));

	/* SEEK_END, negative lengths, SEEK_CUR. */
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_END, -10, 5);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 90, 1);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 20, -5);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_END, 0, -100);
	R(XSC(A, SYS_lseek, U(fa), 50, SEEK_SET));
	SETLK(A, fa, F_SETLK, F_UNLCK, SEEK_CUR, -50, 0);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_RDLCK, SEEK_CUR, -10, -40);
	GETLK(B, fb, F_GETLK, F_WRLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);

	/* OFD locks: l_pid must be 0; they conflict with POSIX ones. */
	SETLK(B, fb, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1);
	R(xlock(B, fb, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1, 5, NULL));
	R(xlock(B, fb, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 1, 5, NULL));
	R(xlock(B, fb, F_OFD_SETLKW, F_RDLCK, SEEK_SET, 0, 1, -1, NULL));
	SETLK(B, fb, F_OFD_SETLK, F_UNLCK, SEEK_SET, 0, 1);
	fo = RFD(xt_open(A, "f", O_RDWR, 0));
	fo2 = RFD(XSC(A, SYS_dup, U(fo)));
	SETLK(A, fo, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(A, fa, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(A, fa, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	GETLK(A, fo2, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 5, 1);
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 50, 10);
	SETLK(A, fo, F_OFD_SETLK, F_WRLCK, SEEK_SET, 55, 1);
	SETLK(A, fo2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 8, 4);
	/* Closing any descriptor of the file drops A's POSIX locks only. */
	R(XSC(A, SYS_close, U(fw)));
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 50, 10);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	/* The OFD lock goes with the last close of its description. */
	R(XSC(A, SYS_close, U(fo)));
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	R(XSC(A, SYS_close, U(fo2)));
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);

	/* A POSIX lock dies with the close of another fd of the same file. */
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	R(XSC(A, SYS_close, U(fr)));
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	SETLK(B, fb, F_SETLK, F_WRLCK, SEEK_SET, 0, 0);
	SETLK(A, fa, F_SETLK, F_RDLCK, SEEK_SET, 0, 1);
	R(XSC(B, SYS_close, U(fb)));
	SETLK(A, fa, F_SETLK, F_RDLCK, SEEK_SET, 0, 1);

	/* dup2 over a descriptor of the file closes it: locks go too. */
	fb = RFD(xt_open(B, "f", O_RDWR, 0));
	fo = RFD(xt_open(A, "other", O_RDWR | O_CREAT, 0644));
	fo2 = RFD(xt_open(A, "f", O_RDONLY, 0));
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 0);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	R(XSC(A, SYS_dup2, U(fo), U(fo2)) == fo2);
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	R(XSC(A, SYS_close, U(fo2)));
	/* The same through close_range. */
	SETLK(A, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 0);
	fo2 = RFD(xt_open(A, "f", O_RDONLY, 0));
	R(XSC(A, SYS_close_range, U(fo2), U(fo2), 0));
	GETLK(B, fb, F_GETLK, F_RDLCK, SEEK_SET, 0, 0);
	R(XSC(A, SYS_close, U(fo)));
	R(XSC(B, SYS_close, U(fb)));
	R(XSC(A, SYS_close, U(fa)));
}

/* ---- syscall cases ------------------------------------------------------ */

static void test_fcntl_locks_match_native(void **state)
{
	static struct xlog uk_log, native_log;
	struct pair p;

	memset(&uk_log, 0, sizeof(uk_log));
	memset(&native_log, 0, sizeof(native_log));
	assert_int_equal(pair_uk(&p), 0);
	lock_sequence(&p, &uk_log);
	pair_uk_done(&p);
	assert_int_equal(pair_native(&p), 0);
	lock_sequence(&p, &native_log);
	pair_native_done(&p);
	xlog_compare(&uk_log, &native_log);
}

/* flock and OFD locks in one process: the same on uk and natively. */
static void flock_sequence(struct xt *A, struct xlog *log)
{
	long f1, f2, f3, fp, fr;

	f1 = RFD(xt_open(A, "g", O_RDWR | O_CREAT, 0644));
	f2 = RFD(xt_open(A, "g", O_RDWR, 0));
	f3 = RFD(XSC(A, SYS_dup, U(f1)));
	fp = RFD(xt_open(A, "g", O_PATH, 0));
	fr = RFD(xt_open(A, "g", O_RDONLY, 0));

	R(XSC(A, SYS_flock, U(f1), LOCK_SH));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(XSC(A, SYS_flock, U(f2), LOCK_EX | LOCK_NB));
	/* The failed upgrade dropped f2's shared lock: f1 may upgrade. */
	R(XSC(A, SYS_flock, U(f1), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	/* f3 shares f1's description, so its lock. */
	R(XSC(A, SYS_flock, U(f3), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_flock, U(f3), LOCK_SH));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(XSC(A, SYS_flock, U(fr), LOCK_EX | LOCK_NB));
	/* flock and record locks do not see each other. */
	R(xlock(A, f2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 0, 0, NULL));
	R(XSC(A, SYS_flock, U(f2), LOCK_UN));
	R(XSC(A, SYS_flock, U(f2), LOCK_UN));
	R(XSC(A, SYS_flock, U(f1), LOCK_UN));
	R(XSC(A, SYS_flock, U(fr), LOCK_EX | LOCK_NB));
	R(xlock(A, f1, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL));
	/* Errors. */
	R(XSC(A, SYS_flock, U(f1), 77));
	R(XSC(A, SYS_flock, U(f1), LOCK_SH | LOCK_EX));
	R(XSC(A, SYS_flock, U(f1), LOCK_NB));
	R(XSC(A, SYS_flock, 999, LOCK_SH));
	R(XSC(A, SYS_flock, 999, 77));
	R(XSC(A, SYS_flock, U(fp), LOCK_SH));
	R(XSC(A, SYS_flock, U(f1), 32 | LOCK_SH)); /* LOCK_MAND: ignored */
	R(xlock(A, fp, F_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL));
	R(xlock(A, fp, F_GETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL));
	/* The exclusive flock of fr goes with its last close. */
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(XSC(A, SYS_close, U(fr)));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	/* Closing f1 keeps the lock of the description f3 still holds. */
	R(XSC(A, SYS_flock, U(f3), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_flock, U(f2), LOCK_UN));
	R(XSC(A, SYS_flock, U(f3), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_close, U(f1)));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(XSC(A, SYS_close, U(f3)));
	R(XSC(A, SYS_flock, U(f2), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_close, U(f2)));
	R(XSC(A, SYS_close, U(fp)));

	/* Directories take flock and read record locks too. */
	f1 = RFD(XSC(A, SYS_openat, U(AT_FDCWD), UP(A->root[0] ? A->root : "/"),
		     O_RDONLY));
	f2 = RFD(XSC(A, SYS_openat, U(AT_FDCWD), UP(A->root[0] ? A->root : "/"),
		     O_RDONLY));
	R(XSC(A, SYS_flock, U(f1), LOCK_EX | LOCK_NB));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(xlock(A, f1, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL));
	R(xlock(A, f2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 0, 0, NULL));
	R(xlock(A, f2, F_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL));
	R(XSC(A, SYS_close, U(f1)));
	R(XSC(A, SYS_flock, U(f2), LOCK_SH | LOCK_NB));
	R(XSC(A, SYS_close, U(f2)));
}

static void test_flock_matches_native(void **state)
{
	static struct xlog uk_log, native_log;
	struct pair p;

	memset(&uk_log, 0, sizeof(uk_log));
	memset(&native_log, 0, sizeof(native_log));
	assert_int_equal(pair_uk(&p), 0);
	flock_sequence(&p.a, &uk_log);
	pair_uk_done(&p);
	assert_int_equal(pair_native(&p), 0);
	flock_sequence(&p.a, &native_log);
	pair_native_done(&p);
	xlog_compare(&uk_log, &native_log);
}

/* A uk syscall in another thread, for the sleeping cases. */
struct call {
	struct xt *t;
	long nr;
	unsigned long a[6];
	struct flock l;
	long ret;
	atomic_int done;
	pthread_t thread;
};

static void *call_main(void *arg)
{
	struct call *c = arg;

	c->ret = xt_call(c->t, c->nr, c->a);
	atomic_store(&c->done, 1);
	return NULL;
}

static void call_setlkw(struct call *c, struct xt *t, long fd, short type,
			int64_t start, int64_t len)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->nr = SYS_fcntl;
	c->l = (struct flock){.l_type = type,
			      .l_whence = SEEK_SET,
			      .l_start = start,
			      .l_len = len};
	c->a[0] = U(fd);
	c->a[1] = F_SETLKW;
	c->a[2] = UP(&c->l);
	assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
	wait_asleep(t->task);
}

static long call_join(struct call *c)
{
	pthread_join(c->thread, NULL);
	return c->ret;
}

static void test_setlkw_woken_by_unlock(void **state)
{
	struct pair p;
	struct call c;
	long fa, fb;

	assert_int_equal(pair_uk(&p), 0);
	fa = xt_open(&p.a, "f", O_RDWR | O_CREAT, 0644);
	fb = xt_open(&p.b, "f", O_RDWR, 0);
	assert_true(fa >= 0 && fb >= 0);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 10, 0, NULL), 0);
	call_setlkw(&c, &p.b, fb, F_WRLCK, 5, 1);
	assert_int_equal(atomic_load(&c.done), 0);
	/* Unlocking another range wakes it, and it sleeps again. */
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_UNLCK, SEEK_SET, 8, 2, 0, NULL), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&c.done), 0);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_UNLCK, SEEK_SET, 0, 0, 0, NULL), 0);
	assert_int_equal(call_join(&c), 0);
	/* Now B holds byte 5: A's F_SETLK fails, F_GETLK names B. */
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_RDLCK, SEEK_SET, 0, 10, 0, NULL),
		-EAGAIN);
	assert_int_equal(
		xlock(&p.a, fa, F_GETLK, F_RDLCK, SEEK_SET, 0, 10, 0, &c.l), 0);
	assert_int_equal(c.l.l_pid, p.pid_b);
	assert_int_equal(c.l.l_start, 5);
	assert_int_equal(c.l.l_len, 1);
	pair_uk_done(&p);
}

/* A waiter is woken when the holder exits (its locks are released). */
static void test_setlkw_woken_by_exit(void **state)
{
	struct pair p;
	struct uk_task *c_task;
	struct xt C = {.name = 'C'};
	struct call c;
	long fb, fc;

	assert_int_equal(pair_uk(&p), 0);
	c_task = uk_task_new(p.k, 3000, NULL);
	assert_false(IS_ERR_OR_NULL(c_task));
	C.task = c_task;
	fc = xt_open(&C, "f", O_RDWR | O_CREAT, 0644);
	fb = xt_open(&p.b, "f", O_RDWR, 0);
	assert_true(fc >= 0 && fb >= 0);
	assert_int_equal(
		xlock(&C, fc, F_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL), 0);
	call_setlkw(&c, &p.b, fb, F_WRLCK, 0, 0);
	assert_int_equal(atomic_load(&c.done), 0);
	uk_task_exit(c_task);
	assert_int_equal(call_join(&c), 0);
	pair_uk_done(&p);
}

/*
 * EDEADLK: A holds byte 0 and B byte 1 (of two different files, to show
 * the graph spans inodes); B sleeps for byte 0; A asking for byte 1 would
 * close the cycle. Then A's unlock lets B through.
 */
static void test_setlkw_edeadlk(void **state)
{
	struct pair p;
	struct call c;
	long fa, fa2, fb, fb2;

	assert_int_equal(pair_uk(&p), 0);
	fa = xt_open(&p.a, "f", O_RDWR | O_CREAT, 0644);
	fa2 = xt_open(&p.a, "f2", O_RDWR | O_CREAT, 0644);
	fb = xt_open(&p.b, "f", O_RDWR, 0);
	fb2 = xt_open(&p.b, "f2", O_RDWR, 0);
	assert_true(fa >= 0 && fa2 >= 0 && fb >= 0 && fb2 >= 0);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 1, 0, NULL), 0);
	assert_int_equal(
		xlock(&p.b, fb2, F_SETLK, F_WRLCK, SEEK_SET, 1, 1, 0, NULL), 0);
	call_setlkw(&c, &p.b, fb, F_WRLCK, 0, 1);
	assert_int_equal(atomic_load(&c.done), 0);
	assert_int_equal(
		xlock(&p.a, fa2, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1, 0, NULL),
		-EDEADLK);
	/* An OFD waiter is outside the graph: F_OFD_SETLK just fails. */
	assert_int_equal(
		xlock(&p.a, fa2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 1, 1, 0, NULL),
		-EAGAIN);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_UNLCK, SEEK_SET, 0, 1, 0, NULL), 0);
	assert_int_equal(call_join(&c), 0);
	/* B holds both now; A's blocking request no longer deadlocks. */
	call_setlkw(&c, &p.a, fa2, F_WRLCK, 1, 1);
	assert_int_equal(atomic_load(&c.done), 0);
	assert_int_equal(XSC(&p.b, SYS_close, U(fb2)), 0);
	assert_int_equal(call_join(&c), 0);
	pair_uk_done(&p);
}

/*
 * What the ring server does for a client that dies while one of its
 * threads sleeps in F_SETLKW: vfs_locks_interrupt makes the call return
 * -EINTR, with nothing locked.
 */
static void test_setlkw_interrupted(void **state)
{
	struct pair p;
	struct call c;
	struct flock l;
	long fa, fb;

	assert_int_equal(pair_uk(&p), 0);
	fa = xt_open(&p.a, "f", O_RDWR | O_CREAT, 0644);
	fb = xt_open(&p.b, "f", O_RDWR, 0);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 0, 0, NULL), 0);
	call_setlkw(&c, &p.b, fb, F_RDLCK, 10, 10);
	assert_int_equal(atomic_load(&c.done), 0);
	vfs_locks_interrupt(p.b.task);
	assert_int_equal(call_join(&c), -EINTR);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_UNLCK, SEEK_SET, 0, 0, 0, NULL), 0);
	assert_int_equal(
		xlock(&p.a, fa, F_GETLK, F_WRLCK, SEEK_SET, 0, 0, 0, &l), 0);
	assert_int_equal(l.l_type, F_UNLCK);
	pair_uk_done(&p);
}

/* A forked child is another process: it does not inherit POSIX locks. */
static void test_fork_does_not_inherit(void **state)
{
	struct pair p;
	struct xt child = {.name = 'C'};
	struct flock l;
	long fa;

	assert_int_equal(pair_uk(&p), 0);
	fa = xt_open(&p.a, "f", O_RDWR | O_CREAT, 0644);
	assert_true(fa >= 0);
	assert_int_equal(
		xlock(&p.a, fa, F_SETLK, F_WRLCK, SEEK_SET, 0, 0, 0, NULL), 0);
	child.task = uk_task_fork(p.a.task, 4000);
	assert_false(IS_ERR_OR_NULL(child.task));
	assert_int_equal(
		xlock(&child, fa, F_GETLK, F_RDLCK, SEEK_SET, 0, 0, 0, &l), 0);
	assert_int_equal(l.l_type, F_WRLCK);
	assert_int_equal(l.l_pid, 1000);
	assert_int_equal(
		xlock(&child, fa, F_SETLK, F_RDLCK, SEEK_SET, 0, 0, 0, NULL),
		-EAGAIN);
	/* The child's close of its copy of fa drops only its own locks. */
	assert_int_equal(XSC(&child, SYS_close, U(fa)), 0);
	uk_task_exit(child.task);
	fa = xt_open(&p.b, "f", O_RDWR, 0);
	assert_int_equal(
		xlock(&p.b, fa, F_GETLK, F_RDLCK, SEEK_SET, 0, 0, 0, &l), 0);
	assert_int_equal(l.l_type, F_WRLCK);
	pair_uk_done(&p);
}

/* flock without LOCK_NB sleeps until the holder's description closes. */
static void test_flock_sleeps(void **state)
{
	struct pair p;
	struct call c;
	long fa, fb;

	assert_int_equal(pair_uk(&p), 0);
	fa = xt_open(&p.a, "f", O_RDWR | O_CREAT, 0644);
	fb = xt_open(&p.b, "f", O_RDONLY, 0);
	assert_int_equal(XSC(&p.a, SYS_flock, U(fa), LOCK_EX), 0);
	memset(&c, 0, sizeof(c));
	c.t = &p.b;
	c.nr = SYS_flock;
	c.a[0] = U(fb);
	c.a[1] = LOCK_SH;
	assert_int_equal(pthread_create(&c.thread, NULL, call_main, &c), 0);
	wait_asleep(p.b.task);
	assert_int_equal(atomic_load(&c.done), 0);
	assert_int_equal(XSC(&p.a, SYS_close, U(fa)), 0);
	assert_int_equal(call_join(&c), 0);
	pair_uk_done(&p);
}

int main(void)
{
	const struct CMUnitTest engine[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_ctx, teardown_ctx)
		T(test_engine_split_by_unlock),
		T(test_engine_merge_adjacent),
		T(test_engine_upgrade_downgrade),
		T(test_engine_to_eof),
		T(test_engine_getlk_order),
		T(test_engine_sleep_woken_by_unlock),
		T(test_engine_deadlock),
		T(test_engine_deadlock_three),
		T(test_engine_interrupt),
		T(test_engine_interrupt_one_call),
		T(test_engine_flock),
		T(test_engine_hammer),
#undef T
	};

	const struct CMUnitTest syscalls[] = {
		cmocka_unit_test(test_fcntl_locks_match_native),
		cmocka_unit_test(test_flock_matches_native),
		cmocka_unit_test(test_setlkw_woken_by_unlock),
		cmocka_unit_test(test_setlkw_woken_by_exit),
		cmocka_unit_test(test_setlkw_edeadlk),
		cmocka_unit_test(test_setlkw_interrupted),
		cmocka_unit_test(test_fork_does_not_inherit),
		cmocka_unit_test(test_flock_sleeps),
	};
	int failed;

	failed = cmocka_run_group_tests_name("vfs_locks_engine", engine, NULL,
					     NULL);
	failed += cmocka_run_group_tests_name("vfs_locks_syscalls", syscalls,
					      NULL, NULL);
	return failed;
}
