// SPDX-License-Identifier: MIT
/*
 * ukernel/vfs_notify.c - the change notifier's list and delivery
 * (vfs_notify.h has the contract).
 *
 * The list is a singly linked stack published with release stores and
 * walked with acquire loads, so a walker never takes a lock; writers
 * serialise on k->notify_lock. Unregister unlinks and then waits until
 * k->notify_active, the number of walks in flight, drops to zero: a walker
 * increments it (a full barrier) before loading the head, and unregister
 * fences after unlinking before reading it, so either the walker misses the
 * unlinked notifier or unregister sees the walker and waits for it.
 */
#include <sched.h>
#include <string.h>

#include "vfs_notify.h"

void uk_notifier_register(struct uk_kernel *k, struct uk_notifier *n)
{
	pthread_mutex_lock(&k->notify_lock);
	__atomic_store_n(&n->next, atomic_load(&k->notifiers),
			 __ATOMIC_RELAXED);
	/* Release: n's fields and n->next before n is reachable. */
	atomic_store_explicit(&k->notifiers, n, memory_order_release);
	pthread_mutex_unlock(&k->notify_lock);
}

void uk_notifier_unregister(struct uk_kernel *k, struct uk_notifier *n)
{
	struct uk_notifier *p;

	pthread_mutex_lock(&k->notify_lock);
	p = atomic_load(&k->notifiers);
	if (p == n) {
		atomic_store_explicit(&k->notifiers,
				      __atomic_load_n(&n->next,
						      __ATOMIC_RELAXED),
				      memory_order_release);
	} else {
		while (p && __atomic_load_n(&p->next, __ATOMIC_RELAXED) != n)
			p = p->next;
		if (p)
			__atomic_store_n(&p->next, n->next, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&k->notify_lock);
	/* The unlink before the read of notify_active (see the top). */
	atomic_thread_fence(memory_order_seq_cst);
	while (atomic_load(&k->notify_active))
		sched_yield();
}

void uk_notify_deliver(struct uk_kernel *k, const struct uk_notify_event *ev)
{
	struct uk_notifier *n;

	atomic_fetch_add(&k->notify_active, 1);
	for (n = atomic_load_explicit(&k->notifiers, memory_order_acquire); n;
	     n = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE))
		n->event(n, ev);
	atomic_fetch_sub_explicit(&k->notify_active, 1, memory_order_release);
}

void __vfs_notify_inode(struct uk_task *origin, struct vfs_inode *inode,
			unsigned int mask, uint64_t off, uint64_t len)
{
	struct uk_notify_event ev = {
		.mask = mask,
		.origin = origin,
		.sb = inode->i_sb,
		.ino = inode->i_ino,
		.off = off,
		.len = len,
	};

	uk_notify_deliver(inode->i_sb->s_vfs->kernel, &ev);
}

static struct uk_notify_event *nb_add(struct vfs_notify_batch *nb)
{
	struct uk_notify_event *ev;

	if (!nb->on || nb->n >= VFS_NB_MAX)
		return NULL;
	ev = &nb->ev[nb->n++];
	memset(ev, 0, sizeof(*ev));
	ev->origin = nb->origin;
	return ev;
}

void vfs_nb_name(struct vfs_notify_batch *nb, unsigned int mask,
		 const struct vfs_inode *dir, const struct vfs_inode *child,
		 int slot, const char *name, size_t len)
{
	struct uk_notify_event *ev = nb_add(nb);

	if (!ev)
		return;
	if (len > UK_NAME_MAX)
		len = UK_NAME_MAX;
	memcpy(nb->names[slot], name, len);
	nb->names[slot][len] = '\0';
	ev->mask = mask;
	ev->sb = dir->i_sb;
	ev->dir_ino = dir->i_ino;
	ev->ino = child ? child->i_ino : 0;
	ev->name = nb->names[slot];
	ev->namelen = len;
}

void vfs_nb_inode(struct vfs_notify_batch *nb, unsigned int mask,
		  const struct vfs_inode *inode)
{
	struct uk_notify_event *ev = nb_add(nb);

	if (!ev)
		return;
	ev->mask = mask;
	ev->sb = inode->i_sb;
	ev->ino = inode->i_ino;
}

void vfs_nb_send(struct vfs_notify_batch *nb)
{
	for (unsigned int i = 0; i < nb->n; i++)
		uk_notify_deliver(nb->k, &nb->ev[i]);
	nb->n = 0;
}
