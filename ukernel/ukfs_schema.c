/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_schema.c - the ukfs database schema (format version 1) and
 * the text of every cached statement. docs/ukfs.md explains each table.
 */
#include "ukfs_schema.h"

/*
 * Composite keys use WITHOUT ROWID tables: the row lives in the key's
 * B-tree, so a lookup is one descent. Nothing is keyed by path.
 */
const char ukfs_schema_sql[] =
	"CREATE TABLE superblock("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" magic TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" block_size INTEGER NOT NULL,"
	" nr_blocks INTEGER NOT NULL,"
	" nr_inodes INTEGER NOT NULL,"
	" free_blocks INTEGER NOT NULL,"
	" free_inodes INTEGER NOT NULL,"
	" next_ino INTEGER NOT NULL,"
	" next_gen INTEGER NOT NULL,"
	" clean INTEGER NOT NULL,"
	" uuid TEXT NOT NULL,"
	" created_ns INTEGER NOT NULL);"
	"CREATE TABLE inodes("
	" ino INTEGER PRIMARY KEY,"
	" gen INTEGER NOT NULL,"
	" mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" gid INTEGER NOT NULL,"
	" nlink INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" rdev INTEGER NOT NULL,"
	" blocks INTEGER NOT NULL,"
	" atime INTEGER NOT NULL,"
	" mtime INTEGER NOT NULL,"
	" ctime INTEGER NOT NULL,"
	" btime INTEGER NOT NULL,"
	" flags INTEGER NOT NULL,"
	" parent INTEGER NOT NULL,"
	" next_cookie INTEGER NOT NULL,"
	" link BLOB);"
	"CREATE TABLE dentries("
	" parent INTEGER NOT NULL,"
	" name BLOB NOT NULL,"
	" ino INTEGER NOT NULL,"
	" type INTEGER NOT NULL,"
	" cookie INTEGER NOT NULL,"
	" PRIMARY KEY (parent, name)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX dentries_cookie ON dentries(parent, cookie);"
	"CREATE INDEX dentries_ino ON dentries(ino);"
	"CREATE TABLE extents("
	" ino INTEGER NOT NULL,"
	" lblk INTEGER NOT NULL,"
	" pblk INTEGER NOT NULL,"
	" len INTEGER NOT NULL,"
	" flags INTEGER NOT NULL,"
	" PRIMARY KEY (ino, lblk)) WITHOUT ROWID;"
	"CREATE TABLE freespace("
	" start INTEGER PRIMARY KEY,"
	" len INTEGER NOT NULL);"
	"CREATE INDEX freespace_len ON freespace(len, start);"
	"CREATE TABLE xattrs("
	" ino INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" value BLOB NOT NULL,"
	" PRIMARY KEY (ino, name)) WITHOUT ROWID;"
	"CREATE TABLE orphans("
	" ino INTEGER PRIMARY KEY);";

#define INODE_COLS                                                             \
	"ino, gen, mode, uid, gid, nlink, size, rdev, blocks, atime, mtime, "  \
	"ctime, btime, flags, parent"

const char *const ukfs_stmt_sql[ST_NR] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT ukfs_op",
	[ST_RELEASE] = "RELEASE ukfs_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO ukfs_op",
	[ST_SB_WRITE] = "UPDATE superblock SET free_blocks = ?, "
			"free_inodes = ?, next_ino = ?, next_gen = ? "
			"WHERE id = 1",
	[ST_I_GET] = "SELECT " INODE_COLS " FROM inodes WHERE ino = ?",
	[ST_I_INSERT] = "INSERT INTO inodes(" INODE_COLS ", next_cookie, link) "
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
			"?, ?)",
	[ST_I_WRITE] = "UPDATE inodes SET gen = ?2, mode = ?3, uid = ?4, "
		       "gid = ?5, nlink = ?6, size = ?7, rdev = ?8, "
		       "blocks = ?9, atime = ?10, mtime = ?11, ctime = ?12, "
		       "btime = ?13, flags = ?14, parent = ?15 WHERE ino = ?1",
	[ST_I_SET_NLINK] = "UPDATE inodes SET nlink = ?2, parent = ?3 "
			   "WHERE ino = ?1",
	[ST_I_DELETE] = "DELETE FROM inodes WHERE ino = ?",
	[ST_I_LINK] = "SELECT mode, link FROM inodes WHERE ino = ?",
	[ST_I_COOKIE_GET] = "SELECT next_cookie FROM inodes WHERE ino = ?",
	[ST_I_COOKIE_SET] = "UPDATE inodes SET next_cookie = ?2 WHERE ino = ?1",
	[ST_I_COUNT] = "SELECT count(*) FROM inodes",
	[ST_I_BLOCKS] = "UPDATE inodes SET blocks = blocks + ? WHERE ino = ?",
	[ST_D_LOOKUP] = "SELECT ino, type FROM dentries "
			"WHERE parent = ? AND name = ?",
	/*
	 * OR FAIL: every unique key is checked before any B-tree is written,
	 * and the call's savepoint undoes a failed call, so SQLite need not
	 * keep a statement journal for this three-B-tree insert (it did, by
	 * default ABORT: a 4 KiB page copy per touched page per create).
	 */
	[ST_D_INSERT] = "INSERT OR FAIL INTO dentries(parent, name, ino, type, "
			"cookie) "
			"VALUES (?, ?, ?, ?, ?)",
	[ST_D_DELETE] = "DELETE FROM dentries WHERE parent = ? AND name = ?",
	[ST_D_DELETE_INO] = "DELETE FROM dentries "
			    "WHERE parent = ? AND name = ? AND ino = ?",
	[ST_D_SET] = "UPDATE dentries SET ino = ?, type = ? "
		     "WHERE parent = ? AND name = ?",
	[ST_D_ANY] = "SELECT 1 FROM dentries WHERE parent = ? LIMIT 1",
	[ST_D_READDIR] = "SELECT name, ino, type, cookie FROM dentries "
			 "WHERE parent = ? AND cookie >= ? ORDER BY cookie",
	[ST_D_BY_INO] = "SELECT 1 FROM dentries WHERE ino = ? LIMIT 1",
	[ST_E_FLOOR] = "SELECT lblk, pblk, len, flags FROM extents "
		       "WHERE ino = ? AND lblk <= ? ORDER BY lblk DESC LIMIT 1",
	[ST_E_NEXT] = "SELECT lblk, pblk, len, flags FROM extents "
		      "WHERE ino = ? AND lblk >= ? ORDER BY lblk LIMIT 1",
	[ST_E_INSERT] = "INSERT INTO extents(ino, lblk, pblk, len, flags) "
			"VALUES (?, ?, ?, ?, ?)",
	[ST_E_DELETE] = "DELETE FROM extents WHERE ino = ? AND lblk = ?",
	[ST_E_UPDATE] = "UPDATE extents SET lblk = ?3, pblk = ?4, len = ?5 "
			"WHERE ino = ?1 AND lblk = ?2",
	[ST_E_FIRST] = "SELECT lblk, pblk, len FROM extents WHERE ino = ? "
		       "ORDER BY lblk LIMIT 1",
	[ST_F_FLOOR] = "SELECT start, len FROM freespace WHERE start <= ? "
		       "ORDER BY start DESC LIMIT 1",
	[ST_F_CEIL] = "SELECT start, len FROM freespace WHERE start >= ? "
		      "ORDER BY start LIMIT 1",
	[ST_F_BESTFIT] = "SELECT start, len FROM freespace WHERE len >= ? "
			 "ORDER BY len, start LIMIT 1",
	[ST_F_LARGEST] = "SELECT start, len FROM freespace "
			 "ORDER BY len DESC, start LIMIT 1",
	[ST_F_INSERT] = "INSERT INTO freespace(start, len) VALUES (?, ?)",
	[ST_F_DELETE] = "DELETE FROM freespace WHERE start = ?",
	[ST_F_UPDATE] = "UPDATE freespace SET start = ?2, len = ?3 "
			"WHERE start = ?1",
	[ST_X_GET] = "SELECT value FROM xattrs WHERE ino = ? AND name = ?",
	[ST_X_INSERT] = "INSERT INTO xattrs(ino, name, value) VALUES (?, ?, ?)",
	[ST_X_UPDATE] = "UPDATE xattrs SET value = ?3 "
			"WHERE ino = ?1 AND name = ?2",
	[ST_X_DELETE] = "DELETE FROM xattrs WHERE ino = ? AND name = ?",
	[ST_X_LIST] = "SELECT name FROM xattrs WHERE ino = ? ORDER BY name",
	[ST_X_DELETE_ALL] = "DELETE FROM xattrs WHERE ino = ?",
	[ST_X_ANY] = "SELECT 1 FROM xattrs WHERE ino = ? LIMIT 1",
	[ST_O_ADD] = "INSERT OR IGNORE INTO orphans(ino) VALUES (?)",
	[ST_O_DEL] = "DELETE FROM orphans WHERE ino = ?",
	[ST_O_LIST] = "SELECT ino FROM orphans ORDER BY ino",
};
