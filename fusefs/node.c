// SPDX-License-Identifier: MIT
/*
 * fusefs/node.c - the FUSE node table: which inodes the host kernel holds,
 * and how many lookups it was given for each (libfuse's lookup counts).
 *
 * A node id is the ukfs inode number itself (ukfs's root is 1, FUSE's
 * FUSE_ROOT_ID), so a reply needs no id allocation and a stale id from the
 * kernel is a failed hash lookup (ESTALE), never a wild pointer. Each node
 * pins one dentry of its inode (and with it the inode) until forget brings
 * its count to zero, as an in-kernel FUSE server's inode would stay pinned.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FFS_NODES_MIN 1024u

static size_t node_hash(const struct ffs *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & fs->nodes_mask;
}

int ffs_nodes_init(struct ffs *fs)
{
	pthread_mutex_init(&fs->node_lock, NULL);
	fs->nodes = calloc(FFS_NODES_MIN, sizeof(*fs->nodes));
	if (!fs->nodes)
		return -ENOMEM;
	fs->nodes_mask = FFS_NODES_MIN - 1;
	return 0;
}

/* The chain slot holding ino, or the NULL at its end (node_lock). */
static struct ffs_node **node_slot(struct ffs *fs, uint64_t ino)
{
	struct ffs_node **p = &fs->nodes[node_hash(fs, ino)];

	while (*p && (*p)->ino != ino)
		p = &(*p)->hnext;
	return p;
}

/* Doubles the table when it is denser than one node per slot. */
static void nodes_grow_locked(struct ffs *fs)
{
	size_t n = (fs->nodes_mask + 1) * 2;
	struct ffs_node **old = fs->nodes, **nt = calloc(n, sizeof(*nt));
	size_t old_n = fs->nodes_mask + 1;

	if (!nt)
		return; /* longer chains, still correct */
	fs->nodes = nt;
	fs->nodes_mask = n - 1;
	for (size_t i = 0; i < old_n; i++) {
		struct ffs_node *e = old[i], *next;

		for (; e; e = next) {
			size_t h = node_hash(fs, e->ino);

			next = e->hnext;
			e->hnext = nt[h];
			nt[h] = e;
		}
	}
	free(old);
}

static void node_free(struct ffs_node *n)
{
	if (n->rfile)
		vfs_fput(n->rfile);
	vfs_path_put(&n->path);
	free(n);
}

struct ffs_node *ffs_node_get(struct ffs *fs, const struct vfs_path *path,
			      uint64_t ino, uint64_t gen)
{
	struct ffs_node **slot, *n, *fresh;

	/* Allocated outside the lock; freed again if someone was first. */
	fresh = calloc(1, sizeof(*fresh));
	pthread_mutex_lock(&fs->node_lock);
	slot = node_slot(fs, ino);
	n = *slot;
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&fs->node_lock);
		free(fresh);
		return n;
	}
	if (!fresh) {
		pthread_mutex_unlock(&fs->node_lock);
		return NULL;
	}
	n = fresh;
	n->ino = ino;
	n->gen = gen;
	n->nlookup = 1;
	n->path = *path;
	vfs_path_get(&n->path);
	*slot = n;
	if (++fs->nr_nodes > fs->nodes_mask + 1)
		nodes_grow_locked(fs);
	pthread_mutex_unlock(&fs->node_lock);
	return n;
}

void ffs_node_forget(struct ffs *fs, uint64_t ino, uint64_t nlookup)
{
	struct ffs_node **slot, *n;

	if (ino == FUSE_ROOT_ID)
		return; /* the root is never forgotten while mounted */
	pthread_mutex_lock(&fs->node_lock);
	slot = node_slot(fs, ino);
	n = *slot;
	if (!n || n->nlookup > nlookup) {
		if (n)
			n->nlookup -= nlookup;
		pthread_mutex_unlock(&fs->node_lock);
		return;
	}
	*slot = n->hnext;
	fs->nr_nodes--;
	pthread_mutex_unlock(&fs->node_lock);
	/* The last reference on an unlinked inode frees it: no lock held. */
	node_free(n);
}

int ffs_node_path(struct ffs *fs, uint64_t ino, struct vfs_path *out)
{
	struct ffs_node *n;

	if (ino == FUSE_ROOT_ID) {
		*out = fs->root;
		vfs_path_get(out);
		return 0;
	}
	pthread_mutex_lock(&fs->node_lock);
	n = *node_slot(fs, ino);
	if (n) {
		*out = n->path;
		vfs_path_get(out);
	}
	pthread_mutex_unlock(&fs->node_lock);
	return n ? 0 : -ESTALE;
}

bool ffs_node_known(struct ffs *fs, uint64_t ino)
{
	bool known;

	if (ino == FUSE_ROOT_ID)
		return true;
	pthread_mutex_lock(&fs->node_lock);
	known = *node_slot(fs, ino) != NULL;
	pthread_mutex_unlock(&fs->node_lock);
	return known;
}

struct vfs_file *ffs_node_rfile(struct ffs *fs, uint64_t ino)
{
	struct vfs_file *f = NULL;
	struct ffs_node *n;

	pthread_mutex_lock(&fs->node_lock);
	n = *node_slot(fs, ino);
	if (n && n->rfile)
		f = vfs_fget_file(n->rfile);
	pthread_mutex_unlock(&fs->node_lock);
	return f;
}

struct vfs_file *ffs_node_set_rfile(struct ffs *fs, uint64_t ino,
				    struct vfs_file *f)
{
	struct ffs_node *n;

	pthread_mutex_lock(&fs->node_lock);
	n = *node_slot(fs, ino);
	if (n) {
		if (!n->rfile)
			n->rfile = vfs_fget_file(f);
		f = vfs_fget_file(n->rfile);
	}
	pthread_mutex_unlock(&fs->node_lock);
	return n ? f : NULL;
}

void ffs_nodes_exit(struct ffs *fs)
{
	if (!fs->nodes)
		return;
	for (size_t i = 0; i <= fs->nodes_mask; i++) {
		struct ffs_node *n = fs->nodes[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	free(fs->nodes);
	fs->nodes = NULL;
	fs->nr_nodes = 0;
	pthread_mutex_destroy(&fs->node_lock);
}
