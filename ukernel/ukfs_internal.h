/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_internal.h - what the ukfs metadata files share: struct
 * ukfs_meta, the cache of prepared statements, the per-call transaction
 * bracket and the _locked helpers one file offers another.
 */
#ifndef UKFS_INTERNAL_H
#define UKFS_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>

#include "ukfs_meta.h"

/* Logical block numbers stay below this (SQLite integers are signed). */
#define UKFS_LBLK_MAX (1ull << 40)
#define UKFS_SYMLINK_MAX 4095u

/* Every statement this layer runs more than once, prepared on first use. */
enum ukfs_st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SB_WRITE,
	ST_I_GET,
	ST_I_INSERT,
	ST_I_WRITE,
	ST_I_SET_NLINK,
	ST_I_DELETE,
	ST_I_LINK,
	ST_I_COOKIE_GET,
	ST_I_COOKIE_SET,
	ST_I_COUNT,
	ST_I_BLOCKS,
	ST_D_LOOKUP,
	ST_D_INSERT,
	ST_D_DELETE,
	ST_D_DELETE_INO,
	ST_D_SET,
	ST_D_ANY,
	ST_D_READDIR,
	ST_D_BY_INO,
	ST_E_FLOOR,
	ST_E_NEXT,
	ST_E_INSERT,
	ST_E_DELETE,
	ST_E_UPDATE,
	ST_E_FIRST,
	ST_F_FLOOR,
	ST_F_CEIL,
	ST_F_BESTFIT,
	ST_F_LARGEST,
	ST_F_INSERT,
	ST_F_DELETE,
	ST_F_UPDATE,
	ST_X_GET,
	ST_X_INSERT,
	ST_X_UPDATE,
	ST_X_DELETE,
	ST_X_LIST,
	ST_X_DELETE_ALL,
	ST_X_ANY,
	ST_O_ADD,
	ST_O_DEL,
	ST_O_LIST,
	ST_NR
};

/* Superblock numbers kept in memory and written at each commit. */
struct ukfs_counters {
	uint64_t free_blocks;
	uint64_t free_inodes;
	uint64_t next_ino;
	uint64_t next_gen;
};

/* A run of blocks. */
struct ukfs_run {
	uint64_t start, len;
};

struct ukfs_meta {
	/*
	 * Recursive, so the pre-commit hook can call back in. Protects the
	 * connection, the statements and every field below. Taken by every
	 * public call; no other ukfs lock exists. The VFS may call in while
	 * holding inode locks (ukfs never calls out, except to the pre-commit
	 * hook and to readdir's filldir).
	 */
	pthread_mutex_t lock;
	sqlite3 *db;
	char *dir;
	int lock_fd; /* holds the flock on dir/lock */
	sqlite3_stmt *st[ST_NR];

	uint64_t nr_blocks;	      /* the device, block 0 included */
	uint64_t nr_inodes;	      /* the inode limit */
	struct ukfs_counters c;	      /* current, in the open transaction */
	struct ukfs_counters c_saved; /* at the start of the current call */

	bool in_txn;	   /* BEGIN done, COMMIT not yet */
	bool in_commit;	   /* inside ukfs_meta_commit */
	bool rdonly;	   /* UKFS_META_RDONLY: no change at all */
	bool shut_down;	   /* a COMMIT failed and rolled back */
	int op_depth;	   /* calls in progress (0 or 1) */
	bool op_savepoint; /* the current call opened its SAVEPOINT */
	int64_t txn_start; /* ukfs_meta_now() at BEGIN */
	uint64_t txn_changes;
	int64_t commit_interval;
	uint64_t commit_max_changes;
	ukfs_pre_commit_fn pre_commit;
	void *pre_commit_arg;

	/*
	 * Blocks freed in the open transaction: counted free at once, but
	 * allocatable only after the commit that frees them, so no data is
	 * written into blocks the committed image still gives to a file
	 * (what ext4 does with blocks freed in the running transaction).
	 * Written into freespace just before COMMIT.
	 */
	struct ukfs_run *pending;
	size_t nr_pending, pending_cap;
	size_t nr_pending_saved; /* at the start of the current call */

	/*
	 * Inodes given written blocks in the open transaction (unsorted, may
	 * repeat): the data the pre-commit hook must write back first.
	 */
	uint64_t *ordered;
	size_t nr_ordered, ordered_cap;

	/*
	 * Directories' next readdir cookie, kept here and written into the
	 * inode rows just before COMMIT (ukfs_cookies_flush_locked): an
	 * UPDATE ... RETURNING per create cost an ephemeral table and a
	 * sixth of a create's instructions. An open-addressing table by
	 * directory ino that never evicts inside a transaction, so a value
	 * is never lost to a rolled-back write; a call that fails after
	 * taking a cookie leaves a gap, which readdir allows (cookies are
	 * increasing, not dense). Emptied after a commit once it is large.
	 */
	struct ukfs_cookie_slot {
		uint64_t dir; /* 0: free */
		uint64_t next;
		bool dirty;
	} *cookies;
	size_t nr_cookies, cookies_cap; /* cap: a power of two */

	/*
	 * Orphans added in the open transaction and not yet written: inodes
	 * whose last link went (unlink, rename over) or that were born
	 * unnamed (O_TMPFILE), none of which had an orphan row. Written into
	 * orphans just before COMMIT (ukfs_orphans_flush_locked), so an inode
	 * still unlinked-but-unfreed at a commit is on the committed list,
	 * while one unlinked and freed (closed) within the same transaction
	 * costs neither an INSERT nor a DELETE. An open-addressing set by ino
	 * (0: free slot; linear probing, backward-shift deletion, at most
	 * half full), plus an undo log of the current call's changes so a
	 * failed call puts the set back as its savepoint puts the rows back.
	 * orph_maybe_written: a flush failed half-way, so a set member may
	 * also have a row; removals then delete the row too.
	 */
	uint64_t *orph;
	size_t nr_orph, orph_cap; /* cap: 0 or a power of two */
	struct ukfs_orph_undo {
		uint64_t ino;
		bool added; /* true: the call added ino; false: removed it */
	} *orph_undo;
	size_t nr_orph_undo, orph_undo_cap;
	bool orph_maybe_written;

	uint64_t commits;
	uint64_t orphans_reclaimed;
	bool was_clean;
	char uuid[37];
	int64_t created_ns;
};

/* ---- helpers (ukfs_meta.c) ------------------------------------------- */

/* Writes the cached next cookies into the transaction (ukfs_namei.c). */
int ukfs_cookies_flush_locked(struct ukfs_meta *m);

/* SQLite result code to -errno (0 for OK/ROW/DONE). */
int ukfs_sqlerr(int rc);
void ukfs_errf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * The cached statement st, reset and with no bindings, or NULL if it could
 * not be prepared (*rc then says why). Meta lock held.
 */
sqlite3_stmt *ukfs_stmt(struct ukfs_meta *m, enum ukfs_st st, int *rc);
/* Steps s expecting no row (DONE), resets it; 0 or -errno. */
int ukfs_exec_stmt(sqlite3_stmt *s);

/*
 * The bracket around each changing call. ukfs_op_begin locks meta, opens
 * the transaction if none is open and a SAVEPOINT; on error meta is
 * unlocked. ukfs_op_end releases the savepoint (ret >= 0) or rolls back to
 * it and restores the counters (ret < 0), unlocks, and returns ret.
 */
int ukfs_op_begin(struct ukfs_meta *m);
int ukfs_op_end(struct ukfs_meta *m, int ret);
/*
 * ukfs_op_begin without the SAVEPOINT, for a call that may change at most
 * one row set with one statement, as its last fallible step (SQLite makes
 * one statement atomic; ukfs_op_end still restores the counters, pending
 * frees and deferred orphans). A SAVEPOINT costs two statements and a
 * copy of every page the call then touches. A call that finds it needs
 * more opens it with ukfs_op_savepoint before its first change.
 */
int ukfs_op_begin_lazy(struct ukfs_meta *m);
/* Opens the current call's SAVEPOINT if it is not open yet. */
int ukfs_op_savepoint(struct ukfs_meta *m);
/* Commit with the meta lock held (ukfs_meta_commit's body). */
int ukfs_commit_locked(struct ukfs_meta *m);

/*
 * Opens and validates an image; the shared part of ukfs_meta_open and
 * ukfs_fsck. for_fsck: skip the extent scan and the root check, make no
 * change (no clean flag, no orphan reclaim).
 */
int ukfs_open_image(const char *dir, unsigned int flags, bool for_fsck,
		    struct ukfs_meta **out, char *errbuf, size_t errlen);
/* Frees meta and its resources without committing (rolls back). */
void ukfs_meta_destroy(struct ukfs_meta *m);

/* Notes that ino got written blocks in the open transaction. */
int ukfs_ordered_add(struct ukfs_meta *m, uint64_t ino);

/* ---- inodes (ukfs_namei.c) --------------------------------------------- */

int ukfs_inode_get_locked(struct ukfs_meta *m, uint64_t ino,
			  struct ukfs_inode *out);
int ukfs_inode_write_locked(struct ukfs_meta *m, const struct ukfs_inode *in);
int ukfs_inode_free_locked(struct ukfs_meta *m, uint64_t ino);
/* Puts ino on the orphan list now (an INSERT), unless it is deferred. */
int ukfs_orphan_add_locked(struct ukfs_meta *m, uint64_t ino);
/*
 * Puts ino, known to have no orphan row, on the orphan list at the next
 * commit (m->orph). Inside a call (op_begin .. op_end) only.
 */
int ukfs_orphan_defer_locked(struct ukfs_meta *m, uint64_t ino);
/* Takes ino off the orphan list (deferred or row); *found if it was on. */
int ukfs_orphan_del_locked(struct ukfs_meta *m, uint64_t ino, bool *found);
/* Whether ino is a deferred orphan of the open transaction. */
bool ukfs_orphan_deferred(const struct ukfs_meta *m, uint64_t ino);
/* Writes the deferred orphans (commit, meta lock held). */
int ukfs_orphans_flush_locked(struct ukfs_meta *m);
/* Undoes the current call's changes to the deferred orphans (rollback). */
void ukfs_orphans_undo_locked(struct ukfs_meta *m);
int ukfs_link_locked(struct ukfs_meta *m, uint64_t parent, const char *name,
		     uint64_t ino);
int ukfs_alloc_ino_locked(struct ukfs_meta *m, const struct ukfs_inode *attr,
			  const char *link, uint64_t *ino);
/* Frees every orphan with nlink 0 (drops the others from the list). */
int ukfs_reclaim_orphans_locked(struct ukfs_meta *m, uint64_t *count);

/* ---- extents (ukfs_alloc.c) -------------------------------------------- */

/* Frees every extent of ino (blocks back to free space). */
int ukfs_extents_free_all_locked(struct ukfs_meta *m, uint64_t ino,
				 uint64_t *freed);
/* 1 if ino maps any block, 0 if not, or -errno. */
int ukfs_has_extents_locked(struct ukfs_meta *m, uint64_t ino);
/* Frees blocks: pending until the commit (see ukfs_meta.pending). */
int ukfs_free_blocks_locked(struct ukfs_meta *m, uint64_t start,
			    uint64_t count);
/* Moves the pending frees into freespace (commit, meta lock held). */
int ukfs_flush_frees_locked(struct ukfs_meta *m);
/* Blocks in pending frees. */
uint64_t ukfs_pending_blocks(const struct ukfs_meta *m);

static inline void ukfs_bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static inline uint64_t ukfs_col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

#endif /* UKFS_INTERNAL_H */
