// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_kernel.c - the ring server over the real kernel: the one
 * place that ties ring_server.c to uk.h's functions, so that the server
 * itself can also be driven by a test double of the kernel. It also feeds
 * the VFS's change events (vfs_notify.h) to the vvar's change counters.
 */
#include <stdlib.h>

#include "ring_server.h"
#include "vfs_notify.h"

struct ring_watch {
	struct uk_notifier n;
	struct uk_ring_server *srv;
};

/*
 * Every change moves the counter of what stat() shows changed: (st_dev,
 * st_ino) is (sb->s_dev, i_ino) for every file system (vfs_generic_fillattr).
 * A name added or removed changes its directory (size, times, nlink) and
 * the child (nlink, ctime; a rename's moved inode also gets ATTR).
 */
static void ring_watch_event(struct uk_notifier *n,
			     const struct uk_notify_event *ev)
{
	struct ring_watch *w = uk_container_of(n, struct ring_watch, n);
	uint64_t dev = (uint64_t)ev->sb->s_dev;

	if (ev->mask & (UK_NOTIFY_CREATE | UK_NOTIFY_DELETE))
		uk_ring_inode_changed(w->srv, dev, ev->dir_ino);
	if (ev->ino)
		uk_ring_inode_changed(w->srv, dev, ev->ino);
}

static int ring_watch(struct uk_kernel *k, struct uk_ring_server *srv,
		      void **cookie)
{
	struct ring_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->n.event = ring_watch_event;
	w->srv = srv;
	uk_notifier_register(k, &w->n);
	*cookie = w;
	return 0;
}

static void ring_unwatch(struct uk_kernel *k, void *cookie)
{
	struct ring_watch *w = cookie;

	uk_notifier_unregister(k, &w->n);
	free(w);
}

static const struct uk_ring_kernel_ops uk_ring_real_kops = {
	.task_new = uk_task_new,
	.cred_init = uk_cred_init,
	.task_fork = uk_task_fork,
	.task_exec = uk_task_exec,
	.set_nofile = uk_task_set_nofile,
	.task_exit = uk_task_exit,
	.dispatch = uk_dispatch,
	.set_intr = uk_intr_set_current,
	.intr_wake = uk_intr_wake,
	.watch = ring_watch,
	.unwatch = ring_unwatch,
};

struct uk_ring_server *uk_ring_server_start(struct uk_kernel *k,
					    const struct uk_ring_server_opts *o)
{
	return uk_ring_server_start_ops(k, &uk_ring_real_kops, o);
}
