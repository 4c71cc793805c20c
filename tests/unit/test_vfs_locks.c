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
		.pid = owner == &owner_a ? 1 : owner == &owner_b ? 2 : 3,
		.task = owner,
	};

	return vfs_posix_lock(ctx, &req);
}

/*
 * F_GETLK for a write lock over start..end by owner: returns the
 * conflicting lock's type and fills its range (or F_UNLCK).
 */
static short test_lk(struct vfs_lock_ctx *ctx, const void *owner,
		     int64_t start, int64_t end, int64_t *cs, int64_t *ce)
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

#define assert_conflict(ctx, owner, s, e, type, cs_want, ce_want)             \
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

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 10, VFS_OFFSET_MAX, 0),
			 0);
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
	int ret;
	atomic_int done;
	pthread_t thread;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;

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
	atomic_store(&s->done, 1);
	return NULL;
}

static void sleeper_start(struct sleeper *s)
{
	atomic_store(&s->done, 0);
	assert_int_equal(pthread_create(&s->thread, NULL, sleeper_main, s), 0);
	/* Long enough for it to be asleep in the common case. */
	usleep(30000);
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
		.ctx = ctx, .owner = &owner_b, .type = F_WRLCK,
		.start = 5, .end = 5,
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
		.ctx = ctx, .owner = &owner_b, .type = F_WRLCK,
		.start = 0, .end = 0,
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

static void test_engine_interrupt(void **state)
{
	struct vfs_lock_ctx *ctx = *state;
	struct sleeper s = {
		.ctx = ctx, .owner = &owner_b, .type = F_RDLCK,
		.start = 0, .end = 0,
	};

	assert_int_equal(lk(ctx, &owner_a, F_WRLCK, 0, 0, 0), 0);
	sleeper_start(&s);
	vfs_locks_interrupt(&owner_b);
	assert_int_equal(sleeper_join(&s), -EINTR);
	assert_conflict(ctx, &owner_b, 0, 0, F_WRLCK, 0, 0);
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
		.ctx = ctx, .owner = &owner_c, .type = F_WRLCK, .flock = true,
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
	struct hammer h = { .ctx = *state };
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h),
				 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&h.bad), 0);
	assert_true(vfs_lock_ctx_empty(h.ctx));
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
		T(test_engine_interrupt),
		T(test_engine_flock),
		T(test_engine_hammer),
#undef T
	};

	return cmocka_run_group_tests_name("vfs_locks_engine", engine, NULL,
					   NULL);
}
