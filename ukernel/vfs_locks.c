// SPDX-License-Identifier: MIT
/*
 * ukernel/vfs_locks.c - advisory file locks, as Linux's fs/locks.c keeps
 * them: POSIX record locks (owner: the process's fd table), open file
 * description locks (owner: the open file description) and flock locks
 * (owner: the open file description), each inode's locks hanging off a lock
 * context that this file allocates and frees.
 *
 * This half knows nothing of files or tasks: it works on a struct
 * vfs_lock_ctx and opaque owner keys, so it is tested on its own. The glue to
 * fcntl/flock, fds and tasks is in sys_locks.c.
 *
 * Sections: contexts, the blocked list (waiting, waking, interrupting one
 * call, deadlock detection), POSIX and OFD locks, flock locks, release on
 * close.
 */
#include <stdlib.h>

#include "vfs_extras.h"

/* One lock held on an inode. */
struct vfs_file_lock {
	struct vfs_file_lock *next; /* in ctx->posix or ctx->flock */
	const void *owner;
	pid_t pid;	    /* reported by F_GETLK: -1 for OFD locks */
	unsigned int flags; /* VFS_FL_POSIX, VFS_FL_OFD or VFS_FL_FLOCK */
	short type;	    /* F_RDLCK or F_WRLCK */
	int64_t start, end; /* inclusive bytes; end VFS_OFFSET_MAX: to EOF */
};

/*
 * The locks of one inode.
 *
 * lock protects both lists. Lock order: ctx->lock, then vfs_blocked_lock;
 * never two contexts at once.
 *
 * The POSIX list is grouped by owner (a group is contiguous, in the order
 * the owners first locked), each group sorted by start with no two locks of
 * the group overlapping or touching with the same type, as Linux keeps
 * flc_posix; so F_GETLK reports the lock Linux would.
 */
struct vfs_lock_ctx {
	pthread_mutex_t lock;
	struct vfs_file_lock *posix;
	struct vfs_file_lock *flock;
	/*
	 * Requests asleep on this context: raised under lock before the
	 * sleeper lets go of it, lowered when it wakes. A change made under
	 * lock that reads 0 has no one to wake, so the common, uncontended
	 * case never touches vfs_blocked_lock.
	 */
	atomic_int nr_waiters;
};

/* ---- contexts -------------------------------------------------------- */

struct vfs_lock_ctx *vfs_lock_ctx_new(void)
{
	struct vfs_lock_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return ERR_PTR(-ENOMEM);
	pthread_mutex_init(&ctx->lock, NULL);
	return ctx;
}

static void free_lock_list(struct vfs_file_lock *fl)
{
	while (fl) {
		struct vfs_file_lock *next = fl->next;

		free(fl);
		fl = next;
	}
}

void vfs_lock_ctx_free(struct vfs_lock_ctx *ctx)
{
	if (!ctx)
		return;
	free_lock_list(ctx->posix);
	free_lock_list(ctx->flock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

bool vfs_lock_ctx_empty(struct vfs_lock_ctx *ctx)
{
	bool empty;

	if (!ctx)
		return true;
	pthread_mutex_lock(&ctx->lock);
	empty = !ctx->posix && !ctx->flock;
	pthread_mutex_unlock(&ctx->lock);
	return empty;
}

/* ---- the blocked list ------------------------------------------------ */

/*
 * A lock request asleep in F_SETLKW, F_OFD_SETLKW or flock without LOCK_NB.
 * It lives on the sleeper's stack while it is on vfs_blocked_list.
 */
struct vfs_lock_waiter {
	struct vfs_lock_waiter *prev, *next; /* on vfs_blocked_list */
	struct vfs_lock_ctx *ctx; /* the inode whose locks it waits for */
	const void *owner;	  /* who asks */
	const void *blocker;	  /* owner of the lock in the way */
	const void *task;	  /* for vfs_locks_interrupt() */
	const struct uk_intr *intr; /* the call's, for uk_intr_wake() */
	bool posix;		  /* a classic POSIX wait: part of the graph */
	bool woken, interrupted;
	pthread_cond_t cond; /* waited on with vfs_blocked_lock */
};

/*
 * vfs_blocked_lock protects vfs_blocked_list and the woken/interrupted flags
 * of every waiter on it; it is the mutex a waiter sleeps on. It is global,
 * as Linux's blocked_lock_lock is, because the deadlock graph spans inodes
 * (and kernels: owner keys are addresses, so they never collide). Taken
 * after a ctx->lock, never before.
 */
static pthread_mutex_t vfs_blocked_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vfs_lock_waiter *vfs_blocked_list;

static void waiter_insert_locked(struct vfs_lock_waiter *w)
{
	w->prev = NULL;
	w->next = vfs_blocked_list;
	if (vfs_blocked_list)
		vfs_blocked_list->prev = w;
	vfs_blocked_list = w;
}

static void waiter_unlink_locked(struct vfs_lock_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		vfs_blocked_list = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/*
 * Wakes every request waiting on ctx's locks, so each looks again; called
 * with ctx->lock held after a change that may have freed a range. Each woken
 * waiter leaves the blocked list at once, as locks_wake_up_blocks does, so
 * the deadlock graph never holds an edge that is no longer true.
 */
static void wake_waiters_locked(struct vfs_lock_ctx *ctx)
{
	struct vfs_lock_waiter *w, *next;

	if (!atomic_load_explicit(&ctx->nr_waiters, memory_order_relaxed))
		return;
	pthread_mutex_lock(&vfs_blocked_lock);
	for (w = vfs_blocked_list; w; w = next) {
		next = w->next;
		if (w->ctx != ctx)
			continue;
		waiter_unlink_locked(w);
		w->woken = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&vfs_blocked_lock);
}

/*
 * Ends the sleep of every blocked call of task (task != NULL) or of the
 * one call in (task == NULL), with -EINTR. Caller holds vfs_blocked_lock.
 */
static void interrupt_locked(const void *task, const struct uk_intr *in)
{
	struct vfs_lock_waiter *w, *next;

	for (w = vfs_blocked_list; w; w = next) {
		next = w->next;
		if (task ? w->task != task : w->intr != in)
			continue;
		waiter_unlink_locked(w);
		w->interrupted = true;
		pthread_cond_signal(&w->cond);
	}
}

void vfs_locks_interrupt(const void *task)
{
	pthread_mutex_lock(&vfs_blocked_lock);
	interrupt_locked(task, NULL);
	pthread_mutex_unlock(&vfs_blocked_lock);
}

/*
 * The call this thread runs for a client thread (uk_intr_set_current()),
 * NULL when it cannot be interrupted one by one (FUSE, tests).
 */
static __thread const struct uk_intr *cur_intr;

void uk_intr_set_current(const struct uk_intr *in)
{
	cur_intr = in;
}

/*
 * Whether in's client wants its call interrupted. Read under
 * vfs_blocked_lock by both sides: the sleeper before it sleeps, the waker
 * (who saw the word change first) before it wakes, so one of them always
 * sees it.
 */
static bool intr_pending(const struct uk_intr *in)
{
	return in && (atomic_load_explicit(in->word, memory_order_relaxed) &
		      in->mask);
}

void uk_intr_wake(const struct uk_intr *in)
{
	pthread_mutex_lock(&vfs_blocked_lock);
	if (intr_pending(in))
		interrupt_locked(NULL, in);
	pthread_mutex_unlock(&vfs_blocked_lock);
}

unsigned int vfs_locks_nr_sleeping(const void *task)
{
	struct vfs_lock_waiter *w;
	unsigned int n = 0;

	pthread_mutex_lock(&vfs_blocked_lock);
	for (w = vfs_blocked_list; w; w = w->next)
		if (!task || w->task == task)
			n++;
	pthread_mutex_unlock(&vfs_blocked_lock);
	return n;
}

#define VFS_MAX_DEADLK_ITERATIONS 10

/* The owner a POSIX owner is asleep on, or NULL; vfs_blocked_lock held. */
static const void *what_owner_is_waiting_for(const void *owner)
{
	struct vfs_lock_waiter *w;

	for (w = vfs_blocked_list; w; w = w->next)
		if (w->posix && w->owner == owner)
			return w->blocker;
	return NULL;
}

/*
 * Would owner, by waiting for blocker, close a cycle of POSIX owners each
 * asleep on the next? As posix_locks_deadlock: the walk follows the blocked
 * list and gives up (no deadlock) after a bounded number of hops.
 * vfs_blocked_lock held.
 */
static bool posix_locks_deadlock(const void *owner, const void *blocker)
{
	int i = 0;

	while ((blocker = what_owner_is_waiting_for(blocker))) {
		if (i++ > VFS_MAX_DEADLK_ITERATIONS)
			return false;
		if (blocker == owner)
			return true;
	}
	return false;
}

/*
 * Puts the caller to sleep until a lock of ctx changes or the task or the
 * call is interrupted. Entered with ctx->lock held and the conflict just
 * seen; returns with no lock held: 0 to try again, -EDEADLK (a POSIX
 * request that would deadlock, checked under the same lock the insertion
 * is made under, so two owners cannot both miss each other) or -EINTR (an
 * interrupt of the call pending already, as Linux's wait returns at once
 * with a signal pending, or one that came while asleep).
 */
static int wait_for_blocker(struct vfs_lock_ctx *ctx,
			    const struct vfs_lock_req *req, const void *blocker)
{
	struct vfs_lock_waiter w = {
		.ctx = ctx,
		.owner = req->owner,
		.blocker = blocker,
		.task = req->task,
		.intr = cur_intr,
		.posix = (req->flags & (VFS_FL_POSIX | VFS_FL_OFD)) ==
			 VFS_FL_POSIX,
	};
	int ret = 0;

	pthread_mutex_lock(&vfs_blocked_lock);
	if (w.posix && posix_locks_deadlock(req->owner, blocker)) {
		pthread_mutex_unlock(&vfs_blocked_lock);
		pthread_mutex_unlock(&ctx->lock);
		return -EDEADLK;
	}
	if (intr_pending(w.intr)) {
		pthread_mutex_unlock(&vfs_blocked_lock);
		pthread_mutex_unlock(&ctx->lock);
		return -EINTR;
	}
	pthread_cond_init(&w.cond, NULL);
	waiter_insert_locked(&w);
	atomic_fetch_add_explicit(&ctx->nr_waiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&ctx->lock);

	while (!w.woken && !w.interrupted)
		pthread_cond_wait(&w.cond, &vfs_blocked_lock);
	if (w.interrupted)
		ret = -EINTR;
	atomic_fetch_sub_explicit(&ctx->nr_waiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&vfs_blocked_lock);
	pthread_cond_destroy(&w.cond);
	return ret;
}

/* ---- POSIX and OFD locks --------------------------------------------- */

static bool ranges_overlap(const struct vfs_file_lock *fl, int64_t start,
			   int64_t end)
{
	return fl->start <= end && start <= fl->end;
}

/* The first lock of another owner that conflicts with req, or NULL. */
static struct vfs_file_lock *
posix_conflict_locked(struct vfs_lock_ctx *ctx, const struct vfs_lock_req *req)
{
	struct vfs_file_lock *fl;

	for (fl = ctx->posix; fl; fl = fl->next) {
		if (fl->owner == req->owner)
			continue;
		if (!ranges_overlap(fl, req->start, req->end))
			continue;
		if (fl->type == F_WRLCK || req->type == F_WRLCK)
			return fl;
	}
	return NULL;
}

void vfs_posix_test(struct vfs_lock_ctx *ctx, struct vfs_lock_req *req)
{
	struct vfs_file_lock *fl;

	if (!ctx) {
		req->type = F_UNLCK;
		return;
	}
	pthread_mutex_lock(&ctx->lock);
	if (req->type == F_UNLCK) {
		/*
		 * An F_UNLCK probe (F_OFD_GETLK only, Linux >= 6.5) reports
		 * the first lock of the caller's own description overlapping
		 * the range, as posix_test_lock does.
		 */
		for (fl = ctx->posix; fl; fl = fl->next)
			if (fl->owner == req->owner &&
			    ranges_overlap(fl, req->start, req->end))
				break;
	} else {
		fl = posix_conflict_locked(ctx, req);
	}
	if (fl) {
		req->type = fl->type;
		req->start = fl->start;
		req->end = fl->end;
		req->pid = fl->pid;
		req->flags = fl->flags;
	} else {
		req->type = F_UNLCK;
	}
	pthread_mutex_unlock(&ctx->lock);
}

static void append(struct vfs_file_lock ***tail, struct vfs_file_lock *fl)
{
	fl->next = NULL;
	**tail = fl;
	*tail = &fl->next;
}

/*
 * Applies req to its owner's group: cuts [start, end] out of every lock of
 * the owner (splitting one if the range falls inside it), then, unless it
 * is an unlock, adds the new range merged with a touching lock of the same
 * type on either side. spare holds two preallocated locks, enough for one
 * split and the new lock; used ones are set to NULL. ctx->lock held.
 */
static void posix_apply_locked(struct vfs_lock_ctx *ctx,
			       const struct vfs_lock_req *req,
			       struct vfs_file_lock *spare[2])
{
	struct vfs_file_lock **pos, *fl, *next, *nl = NULL;
	struct vfs_file_lock *before = NULL, **btail = &before;
	struct vfs_file_lock *after = NULL, **atail = &after;
	struct vfs_file_lock *last_before = NULL;

	/* Find the owner's group, or the end of the list. */
	for (pos = &ctx->posix; *pos; pos = &(*pos)->next)
		if ((*pos)->owner == req->owner)
			break;

	/* Take the group out, sorting its pieces to either side of req. */
	fl = *pos;
	while (fl && fl->owner == req->owner) {
		next = fl->next;
		if (fl->end < req->start) {
			append(&btail, fl);
			last_before = fl;
		} else if (fl->start > req->end) {
			append(&atail, fl);
		} else {
			struct vfs_file_lock *right = NULL;

			if (fl->end > req->end) {
				if (fl->start < req->start) {
					right = spare[0];
					spare[0] = NULL;
					*right = *fl;
				} else {
					right = fl;
				}
				right->start = req->end + 1;
			}
			if (fl->start < req->start) {
				fl->end = req->start - 1;
				append(&btail, fl);
				last_before = fl;
			} else if (fl != right) {
				free(fl);
			}
			if (right)
				append(&atail, right);
		}
		fl = next;
	}
	*pos = fl; /* the rest of the list, after the group */

	if (req->type != F_UNLCK) {
		nl = spare[1];
		spare[1] = NULL;
		nl->owner = req->owner;
		nl->pid = req->pid;
		nl->flags = req->flags & (VFS_FL_POSIX | VFS_FL_OFD);
		nl->type = req->type;
		nl->start = req->start;
		nl->end = req->end;
		/* Merge with a touching lock of the same type on each side. */
		if (last_before && last_before->type == nl->type &&
		    last_before->end == nl->start - 1) {
			nl->start = last_before->start;
			nl->pid = last_before->pid;
			/* Drop last_before from the before list. */
			for (btail = &before; *btail != last_before;
			     btail = &(*btail)->next)
				;
			*btail = NULL;
			free(last_before);
		}
		if (after && after->type == nl->type &&
		    nl->end != VFS_OFFSET_MAX && after->start == nl->end + 1) {
			struct vfs_file_lock *a = after;

			nl->end = a->end;
			after = a->next;
			if (!after)
				atail = &after;
			free(a);
		}
		append(&btail, nl);
	}

	/* Put the group back where it was: before, new, after. */
	if (after) {
		*btail = after;
		btail = atail;
	}
	*btail = *pos;
	*pos = before;
}

int vfs_posix_lock(struct vfs_lock_ctx *ctx, const struct vfs_lock_req *req)
{
	struct vfs_file_lock *spare[2] = {NULL, NULL};
	struct vfs_file_lock *conflict;
	int ret;

	if (req->start < 0 || req->end < req->start)
		return -EINVAL;
	if (req->type != F_UNLCK) {
		spare[0] = malloc(sizeof(*spare[0]));
		spare[1] = malloc(sizeof(*spare[1]));
		if (!spare[0] || !spare[1]) {
			ret = -ENOLCK;
			goto out_free;
		}
	} else {
		/* An unlock splits at most one lock. */
		spare[0] = malloc(sizeof(*spare[0]));
		if (!spare[0]) {
			ret = -ENOLCK;
			goto out_free;
		}
	}

	for (;;) {
		pthread_mutex_lock(&ctx->lock);
		conflict = NULL;
		if (req->type != F_UNLCK)
			conflict = posix_conflict_locked(ctx, req);
		if (!conflict)
			break;
		if (!(req->flags & VFS_FL_SLEEP)) {
			pthread_mutex_unlock(&ctx->lock);
			ret = -EAGAIN;
			goto out_free;
		}
		ret = wait_for_blocker(ctx, req, conflict->owner);
		if (ret)
			goto out_free;
	}
	posix_apply_locked(ctx, req, spare);
	wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
	ret = 0;
out_free:
	free(spare[0]);
	free(spare[1]);
	return ret;
}

/* ---- flock locks ----------------------------------------------------- */

int vfs_flock_lock(struct vfs_lock_ctx *ctx, const struct vfs_lock_req *req)
{
	struct vfs_file_lock *fl, **pp, *nl = NULL;
	bool changed = false;
	int ret = 0;

	if (req->type != F_UNLCK) {
		nl = malloc(sizeof(*nl));
		if (!nl)
			return -ENOLCK;
		*nl = (struct vfs_file_lock){
			.owner = req->owner,
			.pid = req->pid,
			.flags = VFS_FL_FLOCK,
			.type = req->type,
			.start = 0,
			.end = VFS_OFFSET_MAX,
		};
	}

	pthread_mutex_lock(&ctx->lock);
	/*
	 * A conversion first drops the lock the description holds, and only
	 * then asks for the new one, as flock_lock_inode does: it is not
	 * atomic, and a failed LOCK_NB upgrade leaves no lock at all.
	 */
	for (pp = &ctx->flock; (fl = *pp); pp = &fl->next) {
		if (fl->owner != req->owner)
			continue;
		if (fl->type == req->type)
			goto out_unlock;
		*pp = fl->next;
		free(fl);
		changed = true;
		break;
	}
	if (req->type == F_UNLCK)
		goto out_unlock;

	for (;;) {
		for (fl = ctx->flock; fl; fl = fl->next)
			if (fl->owner != req->owner &&
			    (fl->type == F_WRLCK || req->type == F_WRLCK))
				break;
		if (!fl)
			break;
		if (!(req->flags & VFS_FL_SLEEP)) {
			ret = -EWOULDBLOCK;
			goto out_unlock;
		}
		if (changed) {
			wake_waiters_locked(ctx);
			changed = false;
		}
		ret = wait_for_blocker(ctx, req, fl->owner);
		if (ret)
			goto out_free;
		pthread_mutex_lock(&ctx->lock);
	}
	nl->next = ctx->flock;
	ctx->flock = nl;
	nl = NULL;
out_unlock:
	if (changed)
		wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
out_free:
	free(nl);
	return ret;
}

/* ---- release on close ------------------------------------------------ */

/* Removes owner's locks from one list; true if it removed any. */
static bool remove_owner_locked(struct vfs_file_lock **pp, const void *owner)
{
	struct vfs_file_lock *fl;
	bool changed = false;

	while ((fl = *pp)) {
		if (fl->owner == owner) {
			*pp = fl->next;
			free(fl);
			changed = true;
		} else {
			pp = &fl->next;
		}
	}
	return changed;
}

void vfs_locks_remove_owner(struct vfs_lock_ctx *ctx, const void *owner)
{
	bool changed;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	changed = remove_owner_locked(&ctx->posix, owner);
	changed |= remove_owner_locked(&ctx->flock, owner);
	if (changed)
		wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->lock);
}
