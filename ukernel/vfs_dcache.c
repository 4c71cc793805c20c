// SPDX-License-Identifier: MIT
/*
 * ukernel/vfs_dcache.c - the dentry cache: dentries (name, parent, inode or
 * negative), their reference counts, and the hash keyed by (parent, name)
 * that path walks look names up in, with negative entries ("cached
 * misses") for names that do not exist.
 *
 * Lifetime rules (the locks are described at the top of vfs.h):
 *
 *  References. d_count counts the users' references (open files, cwd and
 *  root, mounts, O_TMPFILE paths: vfs_dget), one per child dentry hashed
 *  or not (a dentry holds its parent until it is freed, so a cached miss
 *  pins its directory, as in Linux), and one for VFS_D_PINNED (how tmpfs
 *  keeps its positive entries). A dentry holds a reference on its inode.
 *  A count is raised from 0 only under ns_lock, so with ns_lock
 *  write-held nobody can start using an unused dentry. Nobody holds a
 *  counted reference on a negative dentry: walkers borrow pointers under
 *  ns_lock, and a dentry in use that loses its name is unhashed instead
 *  of going negative.
 *
 *  Hashing and lists. A hashed dentry is reachable by lookup and is on
 *  exactly one of its parent's two lists through its single d_child link:
 *  d_subdirs when pinned (the tmpfs directory listing, in cookie order),
 *  d_unpinned otherwise. Unhashing takes it off the hash and its list at
 *  once, so no list can keep a pointer to a freed dentry. Roots and
 *  O_TMPFILE dentries are never hashed. Dentries are hashed at a lookup
 *  miss (dcache_lock, ns_lock read) or rehashed by a rename (ns_lock
 *  write); they are unhashed only with ns_lock write-held, when no walker
 *  holds a borrowed pointer.
 *
 *  Freeing. A hashed dentry at count 0 stays cached (there is no LRU): it
 *  is freed, with ns_lock write-held, by vfs_dcache_prune (too many
 *  negatives), by vfs_d_delete (the cached misses under a removed
 *  directory), by vfs_d_move (the entry a rename replaces) or at unmount
 *  (vfs_dcache_drop_sb). An unhashed dentry is freed by whoever drops its
 *  count to 0 (d_kill), which then drops its parent's reference, and so on
 *  up. The last decrement is taken under dcache_lock, ordered against
 *  unhashing: of "count reached 0" and "unhashed", the later one frees.
 *
 *  Removal, as Linux's d_delete + shrink_dcache_parent. After unlink,
 *  rmdir or a rename over an entry, vfs_d_delete drops the pin, frees the
 *  unused children (a removed directory is empty, so they are cached
 *  misses, which would otherwise keep it and its inode alive), then makes
 *  the dentry negative in place (count 0: nobody uses it) or unhashes it
 *  (in use: the last vfs_dput frees it and its inode). A dead directory
 *  (unhashed, not a root) gets no new children: vfs_lookup_one answers
 *  ENOENT there without caching anything, as Linux's IS_DEADDIR checks.
 *
 * Sections: references and freeing, allocation, hash and lookup, removal
 * and rename, pruning and unmount.
 */
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

#define DCACHE_MIN_BUCKETS 1024u
#define DCACHE_NEGATIVE_MAX 16384u

/* Hash of (parent pointer, name): FNV-1a over the name, mixed with parent. */
uint32_t vfs_name_hash(const struct vfs_dentry *parent, const char *name,
		       uint32_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)parent;

	for (uint32_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h ^ (h >> 29));
}

int vfs_dcache_init(struct uk_vfs *vfs)
{
	vfs->hash = calloc(DCACHE_MIN_BUCKETS, sizeof(*vfs->hash));
	if (!vfs->hash)
		return -ENOMEM;
	vfs->hash_mask = DCACHE_MIN_BUCKETS - 1;
	pthread_mutex_init(&vfs->dcache_lock, NULL);
	return 0;
}

/* ---- references and freeing ---------------------------------------------- */

static void d_free(struct vfs_dentry *d)
{
	if (d->d_name != d->d_iname)
		free(d->d_name);
	free(d);
}

/*
 * Drops one reference on parent on behalf of a child that is gone.
 * Returns true when that was the last one and parent is unhashed (and not
 * being freed by vfs_dcache_drop_sb): the caller must then free it.
 */
static bool d_put_parent(struct vfs_dentry *parent)
{
	struct uk_vfs *vfs = parent->d_sb->s_vfs;
	long c = atomic_load(&parent->d_count);
	bool last;

	while (c > 1) {
		if (atomic_compare_exchange_weak(&parent->d_count, &c, c - 1))
			return false;
	}
	pthread_mutex_lock(&vfs->dcache_lock);
	last = atomic_fetch_sub(&parent->d_count, 1) == 1 &&
	       !(parent->d_flags & (VFS_D_HASHED | VFS_D_DYING));
	pthread_mutex_unlock(&vfs->dcache_lock);
	return last;
}

/*
 * Frees d, unhashed and at count 0, with its inode reference, then each
 * ancestor whose last reference was d's (an unhashed directory kept by
 * its last child). Called without dcache_lock.
 */
static void d_kill(struct vfs_dentry *d)
{
	while (d) {
		struct vfs_dentry *parent = vfs_d_is_root(d) ? NULL : d->d_parent;
		struct vfs_inode *inode = d->d_inode;

		d_free(d);
		vfs_iput(inode);
		d = parent && d_put_parent(parent) ? parent : NULL;
	}
}

struct vfs_dentry *vfs_dget(struct vfs_dentry *d)
{
	if (d)
		atomic_fetch_add_explicit(&d->d_count, 1, memory_order_relaxed);
	return d;
}

/*
 * Drops a reference. Above 1 it is a plain atomic decrement; the last one
 * is taken under dcache_lock so it is ordered against unhashing, and frees
 * the dentry if it is no longer hashed.
 */
void vfs_dput(struct vfs_dentry *d)
{
	if (!d)
		return;
	long c = atomic_load_explicit(&d->d_count, memory_order_relaxed);
	while (c > 1) {
		if (atomic_compare_exchange_weak(&d->d_count, &c, c - 1))
			return;
	}
	struct uk_vfs *vfs = d->d_sb->s_vfs;
	pthread_mutex_lock(&vfs->dcache_lock);
	bool free_it = atomic_fetch_sub(&d->d_count, 1) == 1 &&
		       !(d->d_flags & (VFS_D_HASHED | VFS_D_DYING));
	pthread_mutex_unlock(&vfs->dcache_lock);
	if (free_it)
		d_kill(d);
}

/* ---- allocation ------------------------------------------------------------ */

/* Allocates an unhashed dentry for name under parent (count 0). */
static struct vfs_dentry *d_alloc(struct vfs_dentry *parent, const char *name,
				  uint32_t len, uint32_t hash)
{
	struct vfs_dentry *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (len < VFS_DNAME_INLINE) {
		d->d_name = d->d_iname;
	} else {
		d->d_name = malloc(len + 1);
		if (!d->d_name) {
			free(d);
			return NULL;
		}
	}
	memcpy(d->d_name, name, len);
	d->d_name[len] = '\0';
	d->d_namelen = len;
	d->d_hashval = hash;
	d->d_sb = parent->d_sb;
	d->d_parent = vfs_dget(parent);
	atomic_init(&d->d_count, 0);
	uk_list_init(&d->d_child);
	uk_list_init(&d->d_subdirs);
	uk_list_init(&d->d_unpinned);
	d->d_next_cookie = 2;
	return d;
}

/*
 * Frees a dentry from d_alloc that was never hashed nor referenced (a
 * failed or lost lookup), with its inode and its reference on parent.
 * parent is in use by the caller's walk, so that cannot be its last one.
 */
static void d_discard(struct vfs_dentry *d)
{
	struct vfs_dentry *parent = d->d_parent;

	vfs_iput(d->d_inode);
	d_free(d);
	vfs_dput(parent);
}

struct vfs_dentry *vfs_d_alloc_anon(struct vfs_dentry *parent)
{
	struct vfs_dentry *d = d_alloc(parent, "#tmpfile", 8, 0);

	if (d)
		atomic_store(&d->d_count, 1);
	return d;
}

/* Makes the root dentry of a new super block (count 1, for s_root). */
struct vfs_dentry *vfs_d_alloc_root(struct vfs_super *sb,
				    struct vfs_inode *root)
{
	struct vfs_dentry *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->d_name = d->d_iname;
	d->d_iname[0] = '/';
	d->d_namelen = 1;
	d->d_sb = sb;
	d->d_parent = d;
	d->d_inode = root;
	atomic_init(&d->d_count, 1);
	uk_list_init(&d->d_child);
	uk_list_init(&d->d_subdirs);
	uk_list_init(&d->d_unpinned);
	d->d_next_cookie = 2;
	return d;
}

/*
 * Attaches inode (the caller's reference moves to the dentry): in a lookup
 * op to a dentry not yet hashed, or in a create op (ns_lock write) to a
 * hashed cached miss, which stops counting as negative.
 */
void vfs_d_instantiate(struct vfs_dentry *d, struct vfs_inode *inode)
{
	if (!d->d_inode && inode && (d->d_flags & VFS_D_HASHED))
		__atomic_fetch_sub(&d->d_sb->s_vfs->nr_negative, 1,
				   __ATOMIC_RELAXED);
	d->d_inode = inode;
}

/* ---- hash and lookup --------------------------------------------------------- */

struct vfs_dentry *vfs_d_lookup(struct uk_vfs *vfs,
				const struct vfs_dentry *parent,
				const char *name, uint32_t len, uint32_t hash)
{
	struct vfs_dentry *d = __atomic_load_n(&vfs->hash[hash & vfs->hash_mask],
					       __ATOMIC_ACQUIRE);

	for (; d; d = __atomic_load_n(&d->d_hash_next, __ATOMIC_ACQUIRE)) {
		if (d->d_hashval == hash && d->d_parent == parent &&
		    d->d_namelen == len && !memcmp(d->d_name, name, len))
			return d;
	}
	return NULL;
}

/* Hands out the next readdir cookie of parent and lists d there. */
static void d_add_child(struct vfs_dentry *d)
{
	struct vfs_dentry *parent = d->d_parent;

	d->d_cookie = parent->d_next_cookie++;
	uk_list_add_tail(&d->d_child, &parent->d_subdirs);
}

/*
 * Publishes d in the hash and lists it under its parent: on d_subdirs
 * with a fresh cookie when pinned (only under ns_lock write: a rename),
 * else on d_unpinned. dcache_lock held.
 */
static void d_hash_locked(struct uk_vfs *vfs, struct vfs_dentry *d)
{
	struct vfs_dentry **head = &vfs->hash[d->d_hashval & vfs->hash_mask];

	if (d->d_flags & VFS_D_PINNED)
		d_add_child(d);
	else
		uk_list_add_tail(&d->d_child, &d->d_parent->d_unpinned);
	d->d_flags |= VFS_D_HASHED;
	d->d_hash_next = *head;
	/* Release: d is fully initialised before walkers can see it. */
	__atomic_store_n(head, d, __ATOMIC_RELEASE);
	__atomic_fetch_add(&vfs->nr_dentry, 1, __ATOMIC_RELAXED);
	if (!d->d_inode)
		__atomic_fetch_add(&vfs->nr_negative, 1, __ATOMIC_RELAXED);
}

/*
 * Takes d off the hash chain starting at *pp and off its parent's list;
 * ns_lock write-held and dcache_lock held.
 */
static void d_unhash_at(struct uk_vfs *vfs, struct vfs_dentry **pp,
			struct vfs_dentry *d)
{
	*pp = d->d_hash_next;
	d->d_hash_next = NULL;
	d->d_flags &= ~VFS_D_HASHED;
	__atomic_fetch_sub(&vfs->nr_dentry, 1, __ATOMIC_RELAXED);
	if (!d->d_inode)
		__atomic_fetch_sub(&vfs->nr_negative, 1, __ATOMIC_RELAXED);
	uk_list_del_init(&d->d_child);
}

/* Unhashes d if hashed (see d_unhash_at); ns_lock write + dcache_lock. */
static void d_unhash_locked(struct uk_vfs *vfs, struct vfs_dentry *d)
{
	struct vfs_dentry **pp = &vfs->hash[d->d_hashval & vfs->hash_mask];

	if (!(d->d_flags & VFS_D_HASHED))
		return;
	while (*pp != d)
		pp = &(*pp)->d_hash_next;
	d_unhash_at(vfs, pp, d);
}

/*
 * Finds or creates the dentry of (parent, name). On a miss a new dentry is
 * passed to the directory's lookup op and then published (negative if the
 * op found nothing). Returns a borrowed pointer, valid while ns_lock is
 * held, or ERR_PTR(-ENOMEM) / the op's error, or ERR_PTR(-ENOENT) under a
 * removed directory, which holds no names and must not gain cached
 * children (they would keep it alive).
 */
struct vfs_dentry *vfs_lookup_one(struct uk_vfs *vfs,
				  struct vfs_dentry *parent, const char *name,
				  uint32_t len)
{
	uint32_t hash = vfs_name_hash(parent, name, len);
	struct vfs_dentry *d = vfs_d_lookup(vfs, parent, name, len, hash);
	struct vfs_dentry *other;
	struct vfs_inode *dir = parent->d_inode;
	int ret;

	if (uk_likely(d != NULL))
		return d;
	if (uk_unlikely(!(parent->d_flags & VFS_D_HASHED) &&
			!vfs_d_is_root(parent)))
		return ERR_PTR(-ENOENT);
	d = d_alloc(parent, name, len, hash);
	if (!d)
		return ERR_PTR(-ENOMEM);
	if (dir->i_op->lookup) {
		ret = dir->i_op->lookup(dir, d);
		if (ret < 0) {
			d_discard(d);
			return ERR_PTR(ret);
		}
	}
	pthread_mutex_lock(&vfs->dcache_lock);
	/* Another walker may have published the same name meanwhile. */
	other = vfs_d_lookup(vfs, parent, name, len, hash);
	if (!other)
		d_hash_locked(vfs, d);
	pthread_mutex_unlock(&vfs->dcache_lock);
	if (other) {
		d_discard(d);
		return other;
	}
	return d;
}

/* ---- removal and rename ------------------------------------------------------ */

/*
 * shrink_dcache_parent for a directory just removed (ns_lock write,
 * dcache_lock held): unhashes d's unused unpinned children and drops
 * their references on d; returns them chained by d_hash_next, for
 * d_free_victims once dcache_lock is dropped. d is empty, so these are
 * cached misses, leaves: no recursion is needed. (Pinned children are
 * tmpfs entries, which an empty directory has none of.)
 */
static struct vfs_dentry *d_shrink_children_locked(struct uk_vfs *vfs,
						   struct vfs_dentry *d)
{
	struct vfs_dentry *victims = NULL;
	struct uk_list *pos, *next;

	for (pos = d->d_unpinned.next; pos != &d->d_unpinned; pos = next) {
		struct vfs_dentry *c = uk_list_entry(pos, struct vfs_dentry,
						     d_child);

		next = pos->next;
		if (atomic_load(&c->d_count) != 0 || c->d_mounted)
			continue;
		d_unhash_locked(vfs, c);
		atomic_fetch_sub(&d->d_count, 1);
		c->d_hash_next = victims;
		victims = c;
	}
	return victims;
}

/* Frees dentries collected by d_shrink_children_locked (no lock held). */
static void d_free_victims(struct vfs_dentry *victims)
{
	while (victims) {
		struct vfs_dentry *c = victims;

		victims = c->d_hash_next;
		vfs_iput(c->d_inode);
		d_free(c);
	}
}

/*
 * After unlink/rmdir, or for the entry a rename replaces (ns_lock write):
 * the pin goes, and a removed directory's cached children are freed;
 * then an unused dentry goes negative and stays cached (the next create
 * of the name reuses it), and one still in use (open file, cwd) is
 * unhashed and keeps its inode until the last dput.
 */
void vfs_d_delete(struct vfs_dentry *d)
{
	struct uk_vfs *vfs = d->d_sb->s_vfs;
	struct vfs_inode *inode = NULL;
	struct vfs_dentry *victims;

	pthread_mutex_lock(&vfs->dcache_lock);
	if (d->d_flags & VFS_D_PINNED) {
		d->d_flags &= ~VFS_D_PINNED;
		atomic_fetch_sub(&d->d_count, 1);
	}
	victims = d_shrink_children_locked(vfs, d);
	if (atomic_load(&d->d_count) == 0 && (d->d_flags & VFS_D_HASHED)) {
		/* No children: each would hold a count. */
		inode = d->d_inode;
		d->d_inode = NULL;
		__atomic_fetch_add(&vfs->nr_negative, 1, __ATOMIC_RELAXED);
		/* Unpinned now: off the listing, onto the other list. */
		uk_list_del_init(&d->d_child);
		uk_list_add_tail(&d->d_child, &d->d_parent->d_unpinned);
	} else {
		d_unhash_locked(vfs, d);
	}
	pthread_mutex_unlock(&vfs->dcache_lock);
	vfs_iput(inode);
	d_free_victims(victims);
}

/*
 * Pins a freshly created positive dentry (a file system whose dcache is
 * its directory, tmpfs) and lists it in its parent for readdir with the
 * next cookie. ns_lock write-held.
 */
void vfs_d_pin(struct vfs_dentry *d)
{
	struct uk_vfs *vfs = d->d_sb->s_vfs;

	pthread_mutex_lock(&vfs->dcache_lock);
	if (!(d->d_flags & VFS_D_PINNED)) {
		d->d_flags |= VFS_D_PINNED;
		atomic_fetch_add(&d->d_count, 1);
	}
	if (d->d_flags & VFS_D_HASHED) {
		uk_list_del_init(&d->d_child);
		d_add_child(d);
	}
	pthread_mutex_unlock(&vfs->dcache_lock);
}

/*
 * A buffer for a new name of len bytes: NULL when it fits inline (no
 * allocation needed), ERR_PTR(-ENOMEM). Taken before a rename changes
 * anything, so the dcache move after it cannot fail.
 */
char *vfs_d_name_buf(uint32_t len)
{
	char *n;

	if (len < VFS_DNAME_INLINE)
		return NULL;
	n = malloc(len + 1);
	return n ? n : ERR_PTR(-ENOMEM);
}

/* Rename helper: gives d the name (buf from vfs_d_name_buf, consumed). */
static void d_set_name(struct vfs_dentry *d, const char *name, uint32_t len,
		       char *buf)
{
	char *n = buf ? buf : d->d_iname;

	if (n == d->d_iname && d->d_name == d->d_iname) {
		memmove(n, name, len);
	} else {
		memcpy(n, name, len);
		if (d->d_name != d->d_iname)
			free(d->d_name);
	}
	n[len] = '\0';
	d->d_name = n;
	d->d_namelen = len;
}

/*
 * Moves the positive dentry d to the place of target (rename; ns_lock
 * write). target, negative or the replaced entry (already through
 * vfs_d_delete), is unhashed, and freed here when unused. d gets
 * target's parent and name and is rehashed there (a pinned d with a new
 * readdir cookie). Its children follow it: they are keyed by its address.
 */
void vfs_d_move(struct vfs_dentry *d, struct vfs_dentry *target, char *buf)
{
	struct uk_vfs *vfs = d->d_sb->s_vfs;
	struct vfs_dentry *old_parent = d->d_parent;
	char name[UK_NAME_MAX + 1];
	uint32_t len = target->d_namelen;
	bool free_target;

	memcpy(name, target->d_name, len);
	pthread_mutex_lock(&vfs->dcache_lock);
	d_unhash_locked(vfs, d);
	d_unhash_locked(vfs, target);
	free_target = atomic_load(&target->d_count) == 0;
	/* d takes its own reference on the new parent before target goes. */
	d->d_parent = vfs_dget(target->d_parent);
	d_set_name(d, name, len, buf);
	d->d_hashval = vfs_name_hash(d->d_parent, d->d_name, d->d_namelen);
	d_hash_locked(vfs, d);
	pthread_mutex_unlock(&vfs->dcache_lock);

	if (free_target)
		d_kill(target);
	vfs_dput(old_parent);
}

/*
 * RENAME_EXCHANGE: swaps the names and parents of two positive dentries
 * (ns_lock write). Each parent keeps one child, so the references on the
 * parents stay as they are.
 */
void vfs_d_exchange(struct vfs_dentry *a, struct vfs_dentry *b, char *abuf,
		    char *bbuf)
{
	struct uk_vfs *vfs = a->d_sb->s_vfs;
	char na[UK_NAME_MAX + 1], nb[UK_NAME_MAX + 1];
	uint32_t la = a->d_namelen, lb = b->d_namelen;
	struct vfs_dentry *pa = a->d_parent, *pb = b->d_parent;

	memcpy(na, a->d_name, la);
	memcpy(nb, b->d_name, lb);
	pthread_mutex_lock(&vfs->dcache_lock);
	d_unhash_locked(vfs, a);
	d_unhash_locked(vfs, b);
	d_set_name(a, nb, lb, abuf);
	d_set_name(b, na, la, bbuf);
	a->d_parent = pb;
	b->d_parent = pa;
	a->d_hashval = vfs_name_hash(pb, a->d_name, a->d_namelen);
	b->d_hashval = vfs_name_hash(pa, b->d_name, b->d_namelen);
	/*
	 * Pinned ones are listed again with fresh cookies at the end,
	 * keeping each listing in cookie order (what resumed readdirs rely
	 * on).
	 */
	d_hash_locked(vfs, a);
	d_hash_locked(vfs, b);
	pthread_mutex_unlock(&vfs->dcache_lock);
}

/* ---- pruning and unmount ---------------------------------------------------- */

/* Rebuilds the hash with twice the buckets (ns_lock write). */
static void d_hash_grow(struct uk_vfs *vfs)
{
	size_t n = (vfs->hash_mask + 1) * 2;
	struct vfs_dentry **nh = calloc(n, sizeof(*nh));

	if (!nh)
		return;
	for (size_t b = 0; b <= vfs->hash_mask; b++) {
		struct vfs_dentry *d = vfs->hash[b], *next;

		for (; d; d = next) {
			next = d->d_hash_next;
			d->d_hash_next = nh[d->d_hashval & (n - 1)];
			nh[d->d_hashval & (n - 1)] = d;
		}
	}
	free(vfs->hash);
	vfs->hash = nh;
	__atomic_store_n(&vfs->hash_mask, n - 1, __ATOMIC_RELAXED);
}

/*
 * Housekeeping with ns_lock write-held: grows the hash when chains get
 * long, and frees unused negative dentries when there are too many.
 */
void vfs_dcache_prune(struct uk_vfs *vfs)
{
	struct vfs_dentry *victims = NULL;

	pthread_mutex_lock(&vfs->dcache_lock);
	if (vfs->nr_dentry > 2 * (vfs->hash_mask + 1))
		d_hash_grow(vfs);
	if (vfs->nr_negative > DCACHE_NEGATIVE_MAX) {
		for (size_t b = 0; b <= vfs->hash_mask; b++) {
			struct vfs_dentry **pp = &vfs->hash[b];

			while (*pp) {
				struct vfs_dentry *d = *pp;

				if (!d->d_inode && !d->d_mounted &&
				    atomic_load(&d->d_count) == 0) {
					d_unhash_at(vfs, pp, d);
					d->d_hash_next = victims;
					victims = d;
				} else {
					pp = &d->d_hash_next;
				}
			}
		}
	}
	pthread_mutex_unlock(&vfs->dcache_lock);
	while (victims) {
		struct vfs_dentry *d = victims;

		victims = d->d_hash_next;
		d_kill(d);
	}
}

/*
 * Called after a read-side walk dropped ns_lock: when lookups of missing
 * names (which only read-lock) have piled up negative dentries or long
 * chains, take the write lock once and prune. The counters are read
 * without dcache_lock (a stale value only delays the prune).
 */
void vfs_dcache_maybe_prune(struct uk_vfs *vfs)
{
	size_t neg = __atomic_load_n(&vfs->nr_negative, __ATOMIC_RELAXED);
	size_t all = __atomic_load_n(&vfs->nr_dentry, __ATOMIC_RELAXED);

	size_t buckets = __atomic_load_n(&vfs->hash_mask, __ATOMIC_RELAXED) + 1;

	if (uk_likely(neg <= 2 * DCACHE_NEGATIVE_MAX && all <= 4 * buckets))
		return;
	pthread_rwlock_wrlock(&vfs->ns_lock);
	vfs_dcache_prune(vfs);
	pthread_rwlock_unlock(&vfs->ns_lock);
}

/*
 * Frees every cached dentry of sb (every dentry when sb is NULL) at
 * unmount or teardown, when nothing outside the cache holds one: unhashes
 * them (marked DYING, so no vfs_dput or d_kill frees them meanwhile),
 * then frees leaves pass by pass (a dentry at count 0 has no children),
 * each dropping its reference on its parent. Root dentries are not
 * hashed; the super block's s_root reference keeps them. ns_lock
 * write-held (or no other thread).
 */
void vfs_dcache_drop_sb(struct uk_vfs *vfs, struct vfs_super *sb)
{
	struct vfs_dentry *all = NULL, *parent;
	bool progress = true;

	pthread_mutex_lock(&vfs->dcache_lock);
	for (size_t b = 0; b <= vfs->hash_mask; b++) {
		struct vfs_dentry **pp = &vfs->hash[b];

		while (*pp) {
			struct vfs_dentry *d = *pp;

			if (sb && d->d_sb != sb) {
				pp = &d->d_hash_next;
				continue;
			}
			d_unhash_at(vfs, pp, d);
			d->d_flags |= VFS_D_DYING;
			if (d->d_flags & VFS_D_PINNED) {
				d->d_flags &= ~VFS_D_PINNED;
				atomic_fetch_sub(&d->d_count, 1);
			}
			d->d_hash_next = all;
			all = d;
		}
	}
	pthread_mutex_unlock(&vfs->dcache_lock);
	while (all && progress) {
		struct vfs_dentry **pp = &all;

		progress = false;
		while (*pp) {
			struct vfs_dentry *d = *pp;

			if (atomic_load(&d->d_count) != 0) {
				pp = &d->d_hash_next;
				continue;
			}
			*pp = d->d_hash_next;
			parent = d->d_parent;
			vfs_iput(d->d_inode);
			d_free(d);
			/* A parent unhashed earlier (removed, in use) goes too. */
			if (d_put_parent(parent) && !vfs_d_is_root(parent))
				d_kill(parent);
			progress = true;
		}
	}
}

void vfs_dcache_exit(struct uk_vfs *vfs)
{
	vfs_dcache_drop_sb(vfs, NULL);
	free(vfs->hash);
	vfs->hash = NULL;
	pthread_mutex_destroy(&vfs->dcache_lock);
}
