/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_namei.c - ukfs inodes and the namespace: inode rows,
 * directory entries keyed by (parent, name) with per-directory readdir
 * cookies, link/unlink/rename with nlink and '..' kept, extended attributes
 * and the orphan list.
 *
 * Invariant kept by every call here: an inode has nlink 0 exactly when it
 * is on the orphan list (fsck checks it).
 *
 * Sections: inodes, names, rename, readdir, xattrs, orphans.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ukfs_internal.h"

#define UKFS_LINK_MAX 65000u

static unsigned int mode_to_dt(uint32_t mode)
{
	return (mode >> 12) & 017;
}

/* ---- inodes ----------------------------------------------------------- */

static void inode_from_row(sqlite3_stmt *s, struct ukfs_inode *o)
{
	o->ino = ukfs_col_u64(s, 0);
	o->gen = ukfs_col_u64(s, 1);
	o->mode = (uint32_t)sqlite3_column_int64(s, 2);
	o->uid = (uint32_t)sqlite3_column_int64(s, 3);
	o->gid = (uint32_t)sqlite3_column_int64(s, 4);
	o->nlink = (uint32_t)sqlite3_column_int64(s, 5);
	o->size = ukfs_col_u64(s, 6);
	o->rdev = ukfs_col_u64(s, 7);
	o->blocks = ukfs_col_u64(s, 8);
	o->atime_ns = sqlite3_column_int64(s, 9);
	o->mtime_ns = sqlite3_column_int64(s, 10);
	o->ctime_ns = sqlite3_column_int64(s, 11);
	o->btime_ns = sqlite3_column_int64(s, 12);
	o->flags = (uint32_t)sqlite3_column_int64(s, 13);
	o->parent = ukfs_col_u64(s, 14);
}

static void bind_inode(sqlite3_stmt *s, const struct ukfs_inode *i)
{
	ukfs_bind_u64(s, 1, i->ino);
	ukfs_bind_u64(s, 2, i->gen);
	sqlite3_bind_int64(s, 3, i->mode);
	sqlite3_bind_int64(s, 4, i->uid);
	sqlite3_bind_int64(s, 5, i->gid);
	sqlite3_bind_int64(s, 6, i->nlink);
	ukfs_bind_u64(s, 7, i->size);
	ukfs_bind_u64(s, 8, i->rdev);
	ukfs_bind_u64(s, 9, i->blocks);
	sqlite3_bind_int64(s, 10, i->atime_ns);
	sqlite3_bind_int64(s, 11, i->mtime_ns);
	sqlite3_bind_int64(s, 12, i->ctime_ns);
	sqlite3_bind_int64(s, 13, i->btime_ns);
	sqlite3_bind_int64(s, 14, i->flags);
	ukfs_bind_u64(s, 15, i->parent);
}

int ukfs_inode_get_locked(struct ukfs_meta *m, uint64_t ino,
			  struct ukfs_inode *out)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_I_GET, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		inode_from_row(s, out);
		rc = 0;
		/* The row's nlink and parent wait for the commit. */
		if (ukfs_orphan_deferred(m, ino)) {
			out->nlink = 0;
			out->parent = 0;
		}
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ukfs_sqlerr(rc);
	}
	sqlite3_reset(s);
	return rc;
}

int ukfs_inode_write_locked(struct ukfs_meta *m, const struct ukfs_inode *in)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_I_WRITE, &rc);

	if (!s)
		return rc;
	bind_inode(s, in);
	rc = ukfs_exec_stmt(s);
	if (!rc && sqlite3_changes(m->db) != 1)
		rc = -ENOENT;
	return rc;
}

/*
 * Inserts a new inode row from attr with the given nlink and parent, and
 * takes an inode number and generation. *out gets the row as written.
 */
static int insert_inode_locked(struct ukfs_meta *m,
			       const struct ukfs_inode *attr, const char *link,
			       uint32_t nlink, uint64_t parent,
			       struct ukfs_inode *out)
{
	struct ukfs_inode i = *attr;
	size_t llen = link ? strlen(link) : 0;
	sqlite3_stmt *s;
	int rc = 0;

	if (!m->c.free_inodes)
		return -ENOSPC;
	if (link && (llen == 0 || llen > UKFS_SYMLINK_MAX))
		return llen ? -ENAMETOOLONG : -ENOENT;
	s = ukfs_stmt(m, ST_I_INSERT, &rc);
	if (!s)
		return rc;
	i.ino = m->c.next_ino;
	i.gen = m->c.next_gen;
	i.nlink = nlink;
	i.size = link ? llen : 0;
	i.blocks = 0;
	i.parent = parent;
	bind_inode(s, &i);
	sqlite3_bind_int64(s, 16, UKFS_COOKIE_FIRST);
	if (link)
		sqlite3_bind_blob(s, 17, link, (int)llen, SQLITE_STATIC);
	rc = ukfs_exec_stmt(s);
	if (rc)
		return rc == -EEXIST ? -EUCLEAN : rc;
	m->c.next_ino++;
	m->c.next_gen++;
	m->c.free_inodes--;
	*out = i;
	return 0;
}

int ukfs_alloc_ino_locked(struct ukfs_meta *m, const struct ukfs_inode *attr,
			  const char *link, uint64_t *ino)
{
	struct ukfs_inode i = { 0 }; /* filled when insert succeeds */
	int rc = insert_inode_locked(m, attr, link, 0, 0, &i);

	if (!rc) /* a new inode: no row */
		rc = ukfs_orphan_defer_locked(m, i.ino);
	if (!rc)
		*ino = i.ino;
	return rc;
}

int ukfs_inode_alloc(struct ukfs_meta *m, const struct ukfs_inode *attr,
		     const char *link, uint64_t *ino)
{
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	return ukfs_op_end(m, ukfs_alloc_ino_locked(m, attr, link, ino));
}

int ukfs_inode_get(struct ukfs_meta *m, uint64_t ino, struct ukfs_inode *out)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = ukfs_inode_get_locked(m, ino, out);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_inode_update(struct ukfs_meta *m, const struct ukfs_inode *in,
		      unsigned int mask)
{
	struct ukfs_inode cur;
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	ret = ukfs_inode_get_locked(m, in->ino, &cur);
	if (ret)
		goto out;
	if (mask & UKFS_SET_MODE)
		cur.mode = (cur.mode & S_IFMT) | (in->mode & ~(uint32_t)S_IFMT);
	if (mask & UKFS_SET_UID)
		cur.uid = in->uid;
	if (mask & UKFS_SET_GID)
		cur.gid = in->gid;
	if (mask & UKFS_SET_SIZE)
		cur.size = in->size;
	if (mask & UKFS_SET_ATIME)
		cur.atime_ns = in->atime_ns;
	if (mask & UKFS_SET_MTIME)
		cur.mtime_ns = in->mtime_ns;
	if (mask & UKFS_SET_CTIME)
		cur.ctime_ns = in->ctime_ns;
	if (mask & UKFS_SET_BTIME)
		cur.btime_ns = in->btime_ns;
	if (mask & UKFS_SET_FLAGS)
		cur.flags = in->flags;
	if (mask & UKFS_SET_RDEV)
		cur.rdev = in->rdev;
	ret = ukfs_inode_write_locked(m, &cur);
out:
	return ukfs_op_end(m, ret);
}

static int has_dentry_locked(struct ukfs_meta *m, enum ukfs_st st, uint64_t key)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, key);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ukfs_sqlerr(rc);
}

static int delete_by_ino(struct ukfs_meta *m, enum ukfs_st st, uint64_t ino)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	return ukfs_exec_stmt(s);
}

/*
 * Frees inode ino whose mode is known (the caller read the row or holds
 * the in-core inode): its extents, xattrs, orphan entry and row. -ENOENT
 * (after deleting nothing) when there is no such row.
 */
static int inode_free_mode_locked(struct ukfs_meta *m, uint64_t ino,
				  uint32_t mode)
{
	bool orphan = ukfs_orphan_deferred(m, ino);
	int ret, has_ext, has_x;

	if (ino == UKFS_ROOT_INO)
		return -EBUSY;
	/*
	 * An orphan of this transaction lost its last name in it (or never
	 * had one) and has gained none since (a link takes it off the set);
	 * a directory was empty then and a removed one takes no new entry.
	 * So only the others are looked for in dentries.
	 */
	if (!orphan) {
		ret = has_dentry_locked(m, ST_D_BY_INO, ino);
		if (ret)
			return ret < 0 ? ret : -EBUSY;
		if (S_ISDIR(mode)) {
			ret = has_dentry_locked(m, ST_D_ANY, ino);
			if (ret)
				return ret < 0 ? ret : -ENOTEMPTY;
		}
	}
	/*
	 * Look before changing: a deferred orphan with no blocks and no
	 * xattrs (a file written and removed before writeback, a link, a
	 * directory) is freed by one DELETE and needs no savepoint.
	 */
	has_ext = ukfs_has_extents_locked(m, ino);
	if (has_ext < 0)
		return has_ext;
	has_x = has_dentry_locked(m, ST_X_ANY, ino);
	if (has_x < 0)
		return has_x;
	if (has_ext || has_x || !orphan || m->orph_maybe_written) {
		ret = ukfs_op_savepoint(m);
		if (ret)
			return ret;
	}
	ret = ukfs_orphan_del_locked(m, ino, NULL);
	if (!ret && has_ext)
		ret = ukfs_extents_free_all_locked(m, ino, NULL);
	if (!ret && has_x)
		ret = delete_by_ino(m, ST_X_DELETE_ALL, ino);
	if (!ret)
		ret = delete_by_ino(m, ST_I_DELETE, ino);
	if (!ret && sqlite3_changes(m->db) != 1)
		ret = -ENOENT;
	if (!ret)
		m->c.free_inodes++;
	return ret;
}

int ukfs_inode_free_locked(struct ukfs_meta *m, uint64_t ino)
{
	struct ukfs_inode i;
	int ret;

	ret = ukfs_inode_get_locked(m, ino, &i);
	if (ret)
		return ret;
	return inode_free_mode_locked(m, ino, i.mode);
}

int ukfs_inode_free(struct ukfs_meta *m, uint64_t ino)
{
	int ret = ukfs_op_begin_lazy(m);

	if (ret)
		return ret;
	return ukfs_op_end(m, ukfs_inode_free_locked(m, ino));
}

int ukfs_inode_free_mode(struct ukfs_meta *m, uint64_t ino, uint32_t mode)
{
	int ret = ukfs_op_begin_lazy(m);

	if (ret)
		return ret;
	/*
	 * The in-core inode's mode saves reading the row back: a sixth of
	 * the free's instructions (docs/ukfs.md "Performance",
	 * 2026-11-25).
	 */
	return ukfs_op_end(m, inode_free_mode_locked(m, ino, mode));
}

int ukfs_readlink(struct ukfs_meta *m, uint64_t ino, char *buf, size_t size)
{
	sqlite3_stmt *s;
	int rc = 0, len;

	pthread_mutex_lock(&m->lock);
	s = ukfs_stmt(m, ST_I_LINK, &rc);
	if (!s)
		goto out;
	ukfs_bind_u64(s, 1, ino);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? -ENOENT : ukfs_sqlerr(rc);
		goto out_reset;
	}
	if (!S_ISLNK((uint32_t)sqlite3_column_int64(s, 0))) {
		rc = -EINVAL;
		goto out_reset;
	}
	len = sqlite3_column_bytes(s, 1);
	if ((size_t)len > size)
		len = (int)size;
	if (len)
		memcpy(buf, sqlite3_column_blob(s, 1), (size_t)len);
	rc = len;
out_reset:
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* ---- names ------------------------------------------------------------ */

static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	return len > UKFS_NAME_MAX ? -ENAMETOOLONG : 0;
}

static int lookup_locked(struct ukfs_meta *m, uint64_t parent, const char *name,
			 uint64_t *ino, unsigned int *type)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_D_LOOKUP, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, parent);
	sqlite3_bind_blob(s, 2, name, (int)strlen(name), SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (ino)
			*ino = ukfs_col_u64(s, 0);
		if (type)
			*type = (unsigned int)sqlite3_column_int(s, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : ukfs_sqlerr(rc);
	}
	sqlite3_reset(s);
	return rc;
}

int ukfs_lookup(struct ukfs_meta *m, uint64_t parent, const char *name,
		uint64_t *ino, unsigned int *type)
{
	int ret = check_name(name);

	if (ret)
		return ret == -EINVAL ? -ENOENT : ret;
	pthread_mutex_lock(&m->lock);
	ret = lookup_locked(m, parent, name, ino, type);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* The parent as a directory: -ENOENT, -ENOTDIR. */
static int get_dir_locked(struct ukfs_meta *m, uint64_t ino,
			  struct ukfs_inode *dir)
{
	int ret = ukfs_inode_get_locked(m, ino, dir);

	if (!ret && !S_ISDIR(dir->mode))
		ret = -ENOTDIR;
	if (!ret && !dir->nlink)
		ret = -ENOENT; /* removed directory: no new entries */
	return ret;
}

/* Takes the next readdir cookie of directory dir. */
static struct ukfs_cookie_slot *cookie_slot(struct ukfs_meta *m, uint64_t dir)
{
	size_t mask = m->cookies_cap - 1;
	size_t i = (size_t)(dir * 0x9e3779b97f4a7c15ull) & mask;

	while (m->cookies[i].dir && m->cookies[i].dir != dir)
		i = (i + 1) & mask;
	return &m->cookies[i];
}

/* Keeps the table at most half full (doubling it). */
static int cookies_reserve(struct ukfs_meta *m)
{
	struct ukfs_cookie_slot *old = m->cookies;
	size_t old_cap = m->cookies_cap;

	if ((m->nr_cookies + 1) * 2 <= m->cookies_cap)
		return 0;
	m->cookies_cap = old_cap ? 2 * old_cap : 64;
	m->cookies = calloc(m->cookies_cap, sizeof(*m->cookies));
	if (!m->cookies) {
		m->cookies = old;
		m->cookies_cap = old_cap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].dir)
			*cookie_slot(m, old[i].dir) = old[i];
	free(old);
	return 0;
}

int ukfs_cookies_flush_locked(struct ukfs_meta *m)
{
	for (size_t i = 0; i < m->cookies_cap; i++) {
		struct ukfs_cookie_slot *c = &m->cookies[i];
		sqlite3_stmt *s;
		int rc = 0;

		if (!c->dir || !c->dirty)
			continue;
		s = ukfs_stmt(m, ST_I_COOKIE_SET, &rc);
		if (!s)
			return rc;
		ukfs_bind_u64(s, 1, c->dir);
		ukfs_bind_u64(s, 2, c->next);
		rc = ukfs_exec_stmt(s);
		if (rc)
			return rc;
		c->dirty = false;
	}
	return 0;
}

/* The next readdir cookie of dir, from the cache (loaded from its row). */
static int next_cookie_locked(struct ukfs_meta *m, uint64_t dir,
			      uint64_t *cookie)
{
	struct ukfs_cookie_slot *c;
	sqlite3_stmt *s;
	int rc = cookies_reserve(m);

	if (rc)
		return rc;
	c = cookie_slot(m, dir);
	if (!c->dir) {
		s = ukfs_stmt(m, ST_I_COOKIE_GET, &rc);
		if (!s)
			return rc;
		ukfs_bind_u64(s, 1, dir);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			c->next = ukfs_col_u64(s, 0);
			rc = 0;
		} else {
			rc = rc == SQLITE_DONE ? -ENOENT : ukfs_sqlerr(rc);
		}
		sqlite3_reset(s);
		if (rc)
			return rc;
		c->dir = dir;
		c->dirty = false;
		m->nr_cookies++;
	}
	*cookie = c->next++;
	c->dirty = true;
	return 0;
}

static int dentry_insert_locked(struct ukfs_meta *m, uint64_t parent,
				const char *name, uint64_t ino,
				unsigned int type)
{
	uint64_t cookie = 0;
	sqlite3_stmt *s;
	int rc = next_cookie_locked(m, parent, &cookie);

	if (rc)
		return rc;
	s = ukfs_stmt(m, ST_D_INSERT, &rc);
	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, parent);
	sqlite3_bind_blob(s, 2, name, (int)strlen(name), SQLITE_STATIC);
	ukfs_bind_u64(s, 3, ino);
	sqlite3_bind_int(s, 4, (int)type);
	ukfs_bind_u64(s, 5, cookie);
	return ukfs_exec_stmt(s);
}

/*
 * Deletes the entry parent/name; if ino is not 0, only if it names ino
 * (-ESTALE, and nothing deleted, if not).
 */
static int dentry_delete_locked(struct ukfs_meta *m, uint64_t parent,
				const char *name, uint64_t ino)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ino ? ST_D_DELETE_INO : ST_D_DELETE,
				    &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, parent);
	sqlite3_bind_blob(s, 2, name, (int)strlen(name), SQLITE_STATIC);
	if (ino)
		ukfs_bind_u64(s, 3, ino);
	rc = ukfs_exec_stmt(s);
	if (!rc && ino && sqlite3_changes(m->db) != 1)
		rc = -ESTALE;
	return rc;
}

/* Adds delta to an inode's nlink, keeping the orphan list in step. */
static int nlink_add_locked(struct ukfs_meta *m, struct ukfs_inode *i,
			    int delta)
{
	uint32_t old = i->nlink;
	int ret;

	sqlite3_stmt *s;
	int rc = 0;

	if (delta < 0 && (uint32_t)-delta > old)
		return -EUCLEAN;
	i->nlink = (uint32_t)((int64_t)old + delta);
	/*
	 * The last link gone: with links it had no orphan row (fsck's
	 * invariant). Both the row's nlink 0 and the orphan row wait for
	 * the commit, which a free before it makes unneeded: an unlink of a
	 * closed file then writes one row, its entry.
	 */
	if (old && !i->nlink && !i->parent)
		return ukfs_orphan_defer_locked(m, i->ino);
	/*
	 * Callers change only nlink (and a directory's parent) of the row
	 * they read: an UPDATE of those two columns instead of all fifteen
	 * (docs/ukfs.md "Performance", 2026-11-25).
	 */
	s = ukfs_stmt(m, ST_I_SET_NLINK, &rc);
	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, i->ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)i->nlink);
	ukfs_bind_u64(s, 3, i->parent);
	ret = ukfs_exec_stmt(s);
	if (!ret && sqlite3_changes(m->db) != 1)
		ret = -ENOENT;
	if (ret)
		return ret;
	if (old && !i->nlink)
		return ukfs_orphan_defer_locked(m, i->ino);
	if (!old && i->nlink)
		return ukfs_orphan_del_locked(m, i->ino, NULL);
	return 0;
}

static int dir_adjust_locked(struct ukfs_meta *m, uint64_t dir, int delta)
{
	struct ukfs_inode d;
	int ret = ukfs_inode_get_locked(m, dir, &d);

	return ret ? ret : nlink_add_locked(m, &d, delta);
}

int ukfs_link_locked(struct ukfs_meta *m, uint64_t parent, const char *name,
		     uint64_t ino)
{
	struct ukfs_inode dir, i;
	int ret;

	ret = check_name(name);
	if (!ret)
		ret = get_dir_locked(m, parent, &dir);
	if (!ret)
		ret = ukfs_inode_get_locked(m, ino, &i);
	if (ret)
		return ret;
	if (i.nlink >= UKFS_LINK_MAX)
		return -EMLINK;
	if (S_ISDIR(i.mode) && i.parent)
		return -EPERM; /* no hard links to directories */
	ret = lookup_locked(m, parent, name, NULL, NULL);
	if (ret != -ENOENT)
		return ret ? ret : -EEXIST;
	ret = dentry_insert_locked(m, parent, name, ino, mode_to_dt(i.mode));
	if (ret)
		return ret;
	if (S_ISDIR(i.mode)) {
		if (dir.nlink >= UKFS_LINK_MAX)
			return -EMLINK;
		i.parent = parent;
		ret = nlink_add_locked(m, &i, 2);
		if (!ret)
			ret = nlink_add_locked(m, &dir, 1);
		return ret;
	}
	return nlink_add_locked(m, &i, 1);
}

int ukfs_link(struct ukfs_meta *m, uint64_t parent, const char *name,
	      uint64_t ino)
{
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	return ukfs_op_end(m, ukfs_link_locked(m, parent, name, ino));
}

int ukfs_create(struct ukfs_meta *m, uint64_t parent, const char *name,
		const struct ukfs_inode *attr, const char *link,
		struct ukfs_inode *out)
{
	bool is_dir = S_ISDIR(attr->mode);
	struct ukfs_inode dir, i;
	int ret;

	ret = check_name(name);
	if (ret)
		return ret;
	if (link && !S_ISLNK(attr->mode))
		return -EINVAL;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	/* Name errors before ENOSPC, as Linux orders them. */
	ret = get_dir_locked(m, parent, &dir);
	if (ret)
		goto out;
	/*
	 * An existing name is found by the entry's primary key when the
	 * entry is inserted (-EEXIST, the call rolled back); look first only
	 * when the inode limit would answer -ENOSPC before it.
	 */
	if (!m->c.free_inodes) {
		ret = lookup_locked(m, parent, name, NULL, NULL);
		if (ret != -ENOENT) {
			ret = ret ? ret : -EEXIST;
			goto out;
		}
	}
	if (is_dir && dir.nlink >= UKFS_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	/* Born linked: no orphan entry to add and take off again. */
	ret = insert_inode_locked(m, attr, link, is_dir ? 2 : 1,
				  is_dir ? parent : 0, &i);
	if (!ret)
		ret = dentry_insert_locked(m, parent, name, i.ino,
					   mode_to_dt(i.mode));
	if (!ret && is_dir)
		ret = nlink_add_locked(m, &dir, 1);
	if (!ret && out)
		*out = i;
out:
	return ukfs_op_end(m, ret);
}

/*
 * Drops the entry parent/name naming child (already read): child loses a
 * link (a directory all of them, and parent one). Directories must be
 * empty. child is updated in place. check: the entry was not looked up,
 * so delete it only if it names child (-ESTALE otherwise).
 */
static int drop_entry_locked(struct ukfs_meta *m, uint64_t parent,
			     const char *name, struct ukfs_inode *child,
			     bool check)
{
	uint64_t ino = check ? child->ino : 0;
	int ret;

	if (S_ISDIR(child->mode)) {
		ret = has_dentry_locked(m, ST_D_ANY, child->ino);
		if (ret)
			return ret < 0 ? ret : -ENOTEMPTY;
	}
	if (!S_ISDIR(child->mode) && child->nlink == 1 && !child->parent) {
		/* Memory first: the entry's DELETE is then the only change,
		 * so ukfs_unlink needs no savepoint. */
		ret = nlink_add_locked(m, child, -1);
		return ret ? ret : dentry_delete_locked(m, parent, name, ino);
	}
	ret = dentry_delete_locked(m, parent, name, ino);
	if (ret)
		return ret;
	if (S_ISDIR(child->mode)) {
		child->parent = 0;
		ret = nlink_add_locked(m, child, -(int)child->nlink);
		if (!ret)
			ret = dir_adjust_locked(m, parent, -1);
		return ret;
	}
	return nlink_add_locked(m, child, -1);
}

static int unlink_locked(struct ukfs_meta *m, uint64_t parent,
			 const char *name, uint64_t ino, bool check,
			 struct ukfs_inode *victim)
{
	struct ukfs_inode child;
	int ret = ukfs_inode_get_locked(m, ino, &child);

	/* A file's last link is one change (drop_entry_locked). */
	if (!ret && (S_ISDIR(child.mode) || child.nlink != 1 || child.parent))
		ret = ukfs_op_savepoint(m);
	if (!ret)
		ret = drop_entry_locked(m, parent, name, &child, check);
	if (!ret && victim)
		*victim = child;
	return ret;
}

/* Both unlinks: ino 0 looks the entry up, else the DELETE checks ino. */
static int unlink_op(struct ukfs_meta *m, uint64_t parent, const char *name,
		     uint64_t ino, struct ukfs_inode *victim)
{
	bool checked = ino != 0;
	int ret;

	ret = check_name(name);
	if (ret)
		return ret == -EINVAL ? -ENOENT : ret;
	ret = ukfs_op_begin_lazy(m);
	if (ret)
		return ret;
	/*
	 * With the ino given, the entry's DELETE checks it: the lookup before
	 * it was a ninth of an unlink's instructions (2026-11-25,
	 * docs/ukfs.md).
	 */
	if (!checked)
		ret = lookup_locked(m, parent, name, &ino, NULL);
	if (!ret)
		ret = unlink_locked(m, parent, name, ino, checked, victim);
	return ukfs_op_end(m, ret);
}

int ukfs_unlink(struct ukfs_meta *m, uint64_t parent, const char *name,
		struct ukfs_inode *victim)
{
	return unlink_op(m, parent, name, 0, victim);
}

int ukfs_unlink_ino(struct ukfs_meta *m, uint64_t parent, const char *name,
		    uint64_t ino, struct ukfs_inode *victim)
{
	return ino ? unlink_op(m, parent, name, ino, victim) : -ENOENT;
}

/* ---- rename ----------------------------------------------------------- */

static int dentry_set_locked(struct ukfs_meta *m, uint64_t parent,
			     const char *name, const struct ukfs_inode *i)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_D_SET, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, i->ino);
	sqlite3_bind_int(s, 2, (int)mode_to_dt(i->mode));
	ukfs_bind_u64(s, 3, parent);
	sqlite3_bind_blob(s, 4, name, (int)strlen(name), SQLITE_STATIC);
	return ukfs_exec_stmt(s);
}

/* A directory moving from oparent to nparent: '..' and both nlinks. */
static int move_dir_locked(struct ukfs_meta *m, struct ukfs_inode *d,
			   uint64_t oparent, uint64_t nparent)
{
	int ret;

	if (!S_ISDIR(d->mode) || oparent == nparent)
		return 0;
	d->parent = nparent;
	ret = ukfs_inode_write_locked(m, d);
	if (!ret)
		ret = dir_adjust_locked(m, oparent, -1);
	if (!ret)
		ret = dir_adjust_locked(m, nparent, 1);
	return ret;
}

static int exchange_locked(struct ukfs_meta *m, uint64_t op, const char *on,
			   struct ukfs_inode *a, uint64_t np, const char *nn,
			   struct ukfs_inode *b)
{
	int ret = dentry_set_locked(m, op, on, b);

	if (!ret)
		ret = dentry_set_locked(m, np, nn, a);
	if (!ret)
		ret = move_dir_locked(m, a, op, np);
	if (!ret)
		ret = move_dir_locked(m, b, np, op);
	return ret;
}

static int rename_locked(struct ukfs_meta *m, uint64_t op, const char *on,
			 uint64_t np, const char *nn, unsigned int flags,
			 struct ukfs_inode *victim)
{
	struct ukfs_inode src, dst, ndir;
	uint64_t sino, dino;
	int ret;

	victim->ino = 0;
	ret = get_dir_locked(m, np, &ndir);
	if (ret)
		return ret;
	ret = lookup_locked(m, op, on, &sino, NULL);
	if (!ret)
		ret = ukfs_inode_get_locked(m, sino, &src);
	if (ret)
		return ret;
	ret = lookup_locked(m, np, nn, &dino, NULL);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret == -ENOENT) {
		if (flags & RENAME_EXCHANGE)
			return -ENOENT;
		if (S_ISDIR(src.mode) && op != np &&
		    ndir.nlink >= UKFS_LINK_MAX)
			return -EMLINK;
		ret = dentry_delete_locked(m, op, on, 0);
		if (!ret)
			ret = dentry_insert_locked(m, np, nn, sino,
						   mode_to_dt(src.mode));
		if (!ret)
			ret = move_dir_locked(m, &src, op, np);
		return ret;
	}
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (op == np && !strcmp(on, nn))
		return 0;
	ret = ukfs_inode_get_locked(m, dino, &dst);
	if (ret)
		return ret;
	if (flags & RENAME_EXCHANGE)
		return exchange_locked(m, op, on, &src, np, nn, &dst);
	if (sino == dino)
		return 0; /* two names of one inode: POSIX says do nothing */
	if (S_ISDIR(src.mode) && !S_ISDIR(dst.mode))
		return -ENOTDIR;
	if (!S_ISDIR(src.mode) && S_ISDIR(dst.mode))
		return -EISDIR;
	/* Drop the target (its directory must be empty), then move. */
	ret = drop_entry_locked(m, np, nn, &dst, false);
	if (!ret)
		ret = dentry_delete_locked(m, op, on, 0);
	if (!ret)
		ret = dentry_insert_locked(m, np, nn, sino,
					   mode_to_dt(src.mode));
	if (!ret)
		ret = ukfs_inode_get_locked(m, sino, &src);
	if (!ret)
		ret = move_dir_locked(m, &src, op, np);
	if (!ret)
		ret = ukfs_inode_get_locked(m, dino, victim);
	return ret;
}

int ukfs_rename(struct ukfs_meta *m, uint64_t oparent, const char *oname,
		uint64_t nparent, const char *nname, unsigned int flags,
		struct ukfs_inode *victim)
{
	struct ukfs_inode v;
	int ret;

	if ((flags & ~(unsigned int)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	ret = check_name(oname);
	if (!ret)
		ret = check_name(nname);
	if (ret)
		return ret;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	ret = rename_locked(m, oparent, oname, nparent, nname, flags, &v);
	if (!ret && victim)
		*victim = v;
	return ukfs_op_end(m, ret);
}

/* ---- readdir ---------------------------------------------------------- */

int ukfs_readdir(struct ukfs_meta *m, uint64_t dir, uint64_t cookie,
		 ukfs_filldir_fn fn, void *arg)
{
	struct ukfs_inode d;
	sqlite3_stmt *s;
	int rc, stop = 0;

	pthread_mutex_lock(&m->lock);
	rc = ukfs_inode_get_locked(m, dir, &d);
	if (rc)
		goto out;
	if (!S_ISDIR(d.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	s = ukfs_stmt(m, ST_D_READDIR, &rc);
	if (!s)
		goto out;
	/* op_depth keeps the callback from starting a change. */
	m->op_depth++;
	ukfs_bind_u64(s, 1, d.ino);
	ukfs_bind_u64(s, 2,
		      cookie < UKFS_COOKIE_FIRST ? UKFS_COOKIE_FIRST : cookie);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(arg, (const char *)sqlite3_column_blob(s, 0),
			  (size_t)sqlite3_column_bytes(s, 0),
			  ukfs_col_u64(s, 1),
			  (unsigned int)sqlite3_column_int(s, 2),
			  ukfs_col_u64(s, 3) + 1);
		if (stop)
			break;
	}
	if (stop)
		rc = stop;
	else
		rc = ukfs_sqlerr(rc);
	m->op_depth--;
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* ---- xattrs ----------------------------------------------------------- */

static int check_xattr_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > UKFS_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

static int inode_exists_locked(struct ukfs_meta *m, uint64_t ino)
{
	struct ukfs_inode i;

	return ukfs_inode_get_locked(m, ino, &i);
}

int ukfs_xattr_get(struct ukfs_meta *m, uint64_t ino, const char *name,
		   void *buf, size_t size)
{
	sqlite3_stmt *s;
	int rc, len;

	rc = check_xattr_name(name);
	if (rc)
		return rc;
	pthread_mutex_lock(&m->lock);
	rc = inode_exists_locked(m, ino);
	if (rc)
		goto out;
	s = ukfs_stmt(m, ST_X_GET, &rc);
	if (!s)
		goto out;
	ukfs_bind_u64(s, 1, ino);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? -ENODATA : ukfs_sqlerr(rc);
		goto out_reset;
	}
	len = sqlite3_column_bytes(s, 0);
	if (size && (size_t)len > size) {
		rc = -ERANGE;
		goto out_reset;
	}
	if (size && len)
		memcpy(buf, sqlite3_column_blob(s, 0), (size_t)len);
	rc = len;
out_reset:
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int xattr_set_locked(struct ukfs_meta *m, uint64_t ino, const char *name,
			    const void *value, size_t len, int flags)
{
	sqlite3_stmt *s;
	int rc = inode_exists_locked(m, ino);
	bool exists;

	if (rc)
		return rc;
	s = ukfs_stmt(m, ST_X_GET, &rc);
	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ukfs_sqlerr(rc);
	exists = rc == SQLITE_ROW;
	if (exists && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!exists && (flags & XATTR_REPLACE))
		return -ENODATA;
	s = ukfs_stmt(m, exists ? ST_X_UPDATE : ST_X_INSERT, &rc);
	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, len ? value : "", (int)len, SQLITE_STATIC);
	return ukfs_exec_stmt(s);
}

int ukfs_xattr_set(struct ukfs_meta *m, uint64_t ino, const char *name,
		   const void *value, size_t len, int flags)
{
	int ret = check_xattr_name(name);

	if (ret)
		return ret;
	if (len > UKFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	return ukfs_op_end(m,
			   xattr_set_locked(m, ino, name, value, len, flags));
}

long ukfs_xattr_list(struct ukfs_meta *m, uint64_t ino, char *buf, size_t size)
{
	sqlite3_stmt *s;
	size_t total = 0, n;
	int rc;
	long ret;

	pthread_mutex_lock(&m->lock);
	ret = inode_exists_locked(m, ino);
	if (ret)
		goto out;
	s = ukfs_stmt(m, ST_X_LIST, &rc);
	if (!s) {
		ret = rc;
		goto out;
	}
	ukfs_bind_u64(s, 1, ino);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n = (size_t)sqlite3_column_bytes(s, 0) + 1;
		if (size) {
			if (total + n > size) {
				ret = -ERANGE;
				break;
			}
			memcpy(buf + total, sqlite3_column_text(s, 0), n);
		}
		total += n;
	}
	if (!ret)
		ret = rc == SQLITE_DONE ? (long)total : ukfs_sqlerr(rc);
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_xattr_remove(struct ukfs_meta *m, uint64_t ino, const char *name)
{
	sqlite3_stmt *s;
	int ret = check_xattr_name(name);

	if (ret)
		return ret;
	ret = ukfs_op_begin(m);
	if (ret)
		return ret;
	ret = inode_exists_locked(m, ino);
	if (ret)
		goto out;
	s = ukfs_stmt(m, ST_X_DELETE, &ret);
	if (!s)
		goto out;
	ukfs_bind_u64(s, 1, ino);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	ret = ukfs_exec_stmt(s);
	if (!ret && sqlite3_changes(m->db) == 0)
		ret = -ENODATA;
out:
	return ukfs_op_end(m, ret);
}

/* ---- orphans ---------------------------------------------------------- */

/*
 * Deferred orphans (struct ukfs_meta.orph): an unlink of a closed file
 * used to insert an orphan row that the free at the last iput, in the same
 * transaction, deleted again; now neither reaches SQLite. What the commit
 * writes is what the rows would have held: every member still in the set.
 */

static size_t orph_home(const struct ukfs_meta *m, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 29)) & (m->orph_cap - 1);
}

/* The slot holding ino, or the free slot where it would go. cap > 0. */
static size_t orph_find(const struct ukfs_meta *m, uint64_t ino)
{
	size_t i = orph_home(m, ino);

	while (m->orph[i] && m->orph[i] != ino)
		i = (i + 1) & (m->orph_cap - 1);
	return i;
}

bool ukfs_orphan_deferred(const struct ukfs_meta *m, uint64_t ino)
{
	return m->nr_orph && m->orph[orph_find(m, ino)] == ino;
}

/* Room for one more member (at most half full). 0 or -ENOMEM. */
static int orph_reserve(struct ukfs_meta *m)
{
	uint64_t *old = m->orph;
	size_t old_cap = m->orph_cap, cap;

	if ((m->nr_orph + 1) * 2 <= m->orph_cap)
		return 0;
	cap = old_cap ? old_cap * 2 : 64;
	m->orph = calloc(cap, sizeof(*m->orph));
	if (!m->orph) {
		m->orph = old;
		return -ENOMEM;
	}
	m->orph_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			m->orph[orph_find(m, old[i])] = old[i];
	free(old);
	return 0;
}

static void orph_insert(struct ukfs_meta *m, uint64_t ino)
{
	size_t i = orph_find(m, ino);

	if (!m->orph[i]) {
		m->orph[i] = ino;
		m->nr_orph++;
	}
}

/* Removes slot i, shifting back the members probed past it. */
static void orph_remove_slot(struct ukfs_meta *m, size_t i)
{
	size_t mask = m->orph_cap - 1, j = i, k;

	m->orph[i] = 0;
	m->nr_orph--;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->orph[j])
			return;
		k = orph_home(m, m->orph[j]);
		/* Stays if its home is cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		m->orph[i] = m->orph[j];
		m->orph[j] = 0;
		i = j;
	}
}

static int orph_log(struct ukfs_meta *m, uint64_t ino, bool added)
{
	struct ukfs_orph_undo *u;
	size_t cap;

	if (m->nr_orph_undo == m->orph_undo_cap) {
		cap = m->orph_undo_cap ? m->orph_undo_cap * 2 : 8;
		u = realloc(m->orph_undo, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		m->orph_undo = u;
		m->orph_undo_cap = cap;
	}
	m->orph_undo[m->nr_orph_undo].ino = ino;
	m->orph_undo[m->nr_orph_undo].added = added;
	m->nr_orph_undo++;
	return 0;
}

int ukfs_orphan_defer_locked(struct ukfs_meta *m, uint64_t ino)
{
	int ret;

	if (ukfs_orphan_deferred(m, ino))
		return 0;
	ret = orph_reserve(m);
	if (!ret)
		ret = orph_log(m, ino, true);
	if (!ret)
		orph_insert(m, ino);
	return ret;
}

void ukfs_orphans_undo_locked(struct ukfs_meta *m)
{
	while (m->nr_orph_undo) {
		struct ukfs_orph_undo *u = &m->orph_undo[--m->nr_orph_undo];
		size_t i = orph_find(m, u->ino);

		/* A removal freed a slot, so the set has room to take it
		 * back; an addition is there to take out. */
		if (u->added && m->orph[i] == u->ino)
			orph_remove_slot(m, i);
		else if (!u->added && !m->orph[i])
			orph_insert(m, u->ino);
	}
}

/* A deferred orphan's rows: nlink 0 (and no '..') and its orphan row. */
static int orphan_write_locked(struct ukfs_meta *m, uint64_t ino)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_I_SET_NLINK, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, ino);
	sqlite3_bind_int64(s, 2, 0);
	ukfs_bind_u64(s, 3, 0);
	rc = ukfs_exec_stmt(s);
	return rc ? rc : delete_by_ino(m, ST_O_ADD, ino);
}

int ukfs_orphans_flush_locked(struct ukfs_meta *m)
{
	int ret = 0;

	for (size_t i = 0; i < m->orph_cap && m->nr_orph; i++) {
		if (!m->orph[i])
			continue;
		ret = orphan_write_locked(m, m->orph[i]);
		if (ret) {
			/* Rows written so far stay in the transaction:
			 * removals must delete them from now on. */
			m->orph_maybe_written = true;
			return ret;
		}
	}
	if (m->orph_cap > 4096) { /* start small again */
		free(m->orph);
		m->orph = NULL;
		m->orph_cap = 0;
	} else if (m->orph_cap) {
		memset(m->orph, 0, m->orph_cap * sizeof(*m->orph));
	}
	m->nr_orph = 0;
	m->orph_maybe_written = false;
	return 0;
}

int ukfs_orphan_add_locked(struct ukfs_meta *m, uint64_t ino)
{
	if (ukfs_orphan_deferred(m, ino))
		return 0; /* the commit writes it */
	return delete_by_ino(m, ST_O_ADD, ino);
}

int ukfs_orphan_del_locked(struct ukfs_meta *m, uint64_t ino, bool *found)
{
	bool deferred = false;
	int ret;

	if (m->nr_orph) {
		size_t i = orph_find(m, ino);

		if (m->orph[i] == ino) {
			ret = orph_log(m, ino, false);
			if (ret)
				return ret;
			orph_remove_slot(m, i);
			deferred = true;
		}
	}
	if (!deferred || m->orph_maybe_written) {
		ret = delete_by_ino(m, ST_O_DEL, ino);
		if (ret)
			return ret;
		deferred = deferred || sqlite3_changes(m->db);
	}
	if (found)
		*found = deferred;
	return 0;
}

int ukfs_orphan_add(struct ukfs_meta *m, uint64_t ino)
{
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	ret = inode_exists_locked(m, ino);
	if (!ret)
		ret = ukfs_orphan_add_locked(m, ino);
	return ukfs_op_end(m, ret);
}

int ukfs_orphan_remove(struct ukfs_meta *m, uint64_t ino)
{
	bool found = false;
	int ret = ukfs_op_begin(m);

	if (ret)
		return ret;
	ret = ukfs_orphan_del_locked(m, ino, &found);
	if (!ret && !found)
		ret = -ENOENT;
	return ukfs_op_end(m, ret);
}

static long orphan_list_locked(struct ukfs_meta *m, uint64_t *inos, size_t max)
{
	sqlite3_stmt *s;
	long n = 0;
	int rc = 0;

	/* The deferred ones become rows of the open transaction first. */
	if (m->nr_orph && m->in_txn && !m->shut_down && !m->op_depth) {
		rc = ukfs_orphans_flush_locked(m);
		if (rc)
			return rc;
	}
	s = ukfs_stmt(m, ST_O_LIST, &rc);
	if (!s)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((size_t)n < max)
			inos[n] = ukfs_col_u64(s, 0);
		n++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? n : ukfs_sqlerr(rc);
}

long ukfs_orphan_list(struct ukfs_meta *m, uint64_t *inos, size_t max)
{
	long ret;

	pthread_mutex_lock(&m->lock);
	ret = orphan_list_locked(m, inos, max);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_reclaim_orphans_locked(struct ukfs_meta *m, uint64_t *count)
{
	struct ukfs_inode i;
	uint64_t *inos;
	long n, k;
	int ret = 0;

	*count = 0;
	n = orphan_list_locked(m, NULL, 0);
	if (n <= 0)
		return (int)n;
	inos = calloc((size_t)n, sizeof(*inos));
	if (!inos)
		return -ENOMEM;
	n = orphan_list_locked(m, inos, (size_t)n);
	for (k = 0; k < n && ret >= 0; k++) {
		ret = ukfs_inode_get_locked(m, inos[k], &i);
		if (ret == -ENOENT || (!ret && i.nlink)) {
			/* Stale entry: nothing to reclaim. */
			ret = ukfs_orphan_del_locked(m, inos[k], NULL);
		} else if (!ret) {
			ret = ukfs_inode_free_locked(m, inos[k]);
			if (!ret)
				(*count)++;
			else if (ret == -EBUSY || ret == -ENOTEMPTY)
				ret = 0; /* still named: left for fsck */
		}
	}
	free(inos);
	return ret < 0 ? ret : 0;
}
