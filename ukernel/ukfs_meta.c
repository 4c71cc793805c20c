/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ukfs_meta.c - the ukfs image: mkfs, open with validation, close,
 * and the grouped transaction (per-call savepoints inside one long write
 * transaction, committed at fsync/sync, by age or by size).
 *
 * Sections: helpers, statements, mkfs, open and validation, close,
 * transactions, statfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ukfs_internal.h"
#include "ukfs_schema.h"

/* ---- helpers ---------------------------------------------------------- */

int ukfs_sqlerr(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
		return -EUCLEAN;
	case SQLITE_NOTADB:
		return -EINVAL;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EROFS;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

void ukfs_errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int64_t ukfs_meta_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* ---- statements ------------------------------------------------------- */

sqlite3_stmt *ukfs_stmt(struct ukfs_meta *m, enum ukfs_st st, int *rc)
{
	sqlite3_stmt *s = m->st[st];

	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	*rc = sqlite3_prepare_v3(m->db, ukfs_stmt_sql[st], -1,
				 SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (*rc != SQLITE_OK) {
		*rc = ukfs_sqlerr(*rc);
		if (!*rc)
			*rc = -EIO;
		return NULL;
	}
	m->st[st] = s;
	return s;
}

int ukfs_exec_stmt(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return ukfs_sqlerr(rc);
}

static int run_st(struct ukfs_meta *m, enum ukfs_st st)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, st, &rc);

	if (!s)
		return rc;
	return ukfs_exec_stmt(s);
}

/* sqlite3_exec of fixed text; 0 or -errno, the message in errbuf. */
static int exec_sql(sqlite3 *db, const char *sql, char *errbuf, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		ukfs_errf(errbuf, errlen, "%s: %s", sql,
			  msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		rc = ukfs_sqlerr(rc);
		return rc ? rc : -EIO;
	}
	return 0;
}

/* ---- mkfs ------------------------------------------------------------- */

/* Makes the image's directory entries durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void make_uuid(char out[37])
{
	unsigned char b[16];
	size_t i, o = 0;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = (uint64_t)realtime_ns() ^ (uint64_t)getpid();

		for (i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(t >> (8 * (i % 8))) ^
			       (unsigned char)i;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		o += (size_t)snprintf(out + o, 3, "%02x", b[i]);
	}
	out[o] = '\0';
}

/* Writes the superblock, the root directory and the free list (in a
 * transaction the caller opened). */
static int mkfs_rows(sqlite3 *db, uint64_t nr_blocks, uint64_t nr_inodes,
		     char *errbuf, size_t errlen)
{
	char uuid[37];
	char sql[1024];
	int64_t now = realtime_ns();
	int ret;

	make_uuid(uuid);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO superblock VALUES (1, '%s', %d, %u, %" PRIu64
		 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %u, 2, 1, '%s', "
		 "%" PRId64 ");",
		 UKFS_MAGIC, UKFS_FORMAT_VERSION, UKFS_BLOCK_SIZE, nr_blocks,
		 nr_inodes, nr_blocks - UKFS_FIRST_DATA_BLOCK, nr_inodes - 1,
		 UKFS_ROOT_INO + 1, uuid, now);
	ret = exec_sql(db, sql, errbuf, errlen);
	if (ret)
		return ret;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO inodes VALUES (%u, 1, %u, 0, 0, 2, 0, 0, 0, "
		 "%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
		 ", 0, %u, %u, NULL);"
		 "INSERT INTO freespace VALUES (%u, %" PRIu64 ");",
		 UKFS_ROOT_INO, (unsigned int)(S_IFDIR | 0755), now, now, now,
		 now, UKFS_ROOT_INO, UKFS_COOKIE_FIRST, UKFS_FIRST_DATA_BLOCK,
		 nr_blocks - UKFS_FIRST_DATA_BLOCK);
	return exec_sql(db, sql, errbuf, errlen);
}

/*
 * Each metadata call runs in a savepoint, and SQLite copies every page
 * the call changes into the savepoint's sub-journal. With temp_store =
 * MEMORY that journal grows in 1 KiB chunks, one malloc and one free
 * each: profiling an unlink (docs/ukfs.md "Performance", 2026-11-25)
 * found ~95 of them per call, a sixth of its instructions. Without it, a
 * sub-journal is one chunk of the statement-journal spill size and moves
 * to a temporary file only past it; 256 KiB is far above what one call
 * changes. sqlite3_config works only before SQLite initialises: if
 * something else in the process got there first, the default (64 KiB)
 * stays, which is as correct.
 */
static pthread_once_t stmtjrnl_once = PTHREAD_ONCE_INIT;

static void stmtjrnl_config(void)
{
	sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 256 << 10);
}

int ukfs_mkfs(const char *dir, uint64_t size_bytes, uint64_t nr_inodes,
	      char *errbuf, size_t errlen)
{
	uint64_t nr_blocks = size_bytes / UKFS_BLOCK_SIZE;
	char *meta_path = NULL, *blocks_path = NULL;
	sqlite3 *db = NULL;
	struct stat st;
	int fd, ret, rc;

	if (nr_blocks < 16 || nr_blocks >= UKFS_LBLK_MAX) {
		ukfs_errf(errbuf, errlen,
			  "size %" PRIu64 " bytes: must be 64 KiB to 4 PiB",
			  size_bytes);
		return -EINVAL;
	}
	if (!nr_inodes)
		nr_inodes = nr_blocks / 4 < 16 ? 16 : nr_blocks / 4;
	if (nr_inodes < 2 || nr_inodes >= UKFS_LBLK_MAX) {
		ukfs_errf(errbuf, errlen, "inode count %" PRIu64 ": too small",
			  nr_inodes);
		return -EINVAL;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "mkdir %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ukfs_errf(errbuf, errlen, "%s: not a directory", dir);
		return -ENOTDIR;
	}
	meta_path = path_join(dir, UKFS_META_FILE);
	blocks_path = path_join(dir, UKFS_BLOCKS_FILE);
	if (!meta_path || !blocks_path) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (access(meta_path, F_OK) == 0) {
		ukfs_errf(errbuf, errlen, "%s already holds an image", dir);
		ret = -EEXIST;
		goto out_free;
	}

	fd = open(blocks_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "%s: %s", blocks_path,
			  strerror(-ret));
		goto out_free;
	}
	if (ftruncate(fd, (off_t)(nr_blocks * UKFS_BLOCK_SIZE)) < 0 ||
	    fsync(fd) < 0) {
		ret = -errno;
		close(fd);
		ukfs_errf(errbuf, errlen, "sizing %s: %s", blocks_path,
			  strerror(-ret));
		goto err_unlink_blocks;
	}
	close(fd);

	pthread_once(&stmtjrnl_once, stmtjrnl_config);
	rc = sqlite3_open_v2(meta_path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		ukfs_errf(errbuf, errlen, "%s: %s", meta_path,
			  sqlite3_errstr(rc));
		ret = -EIO;
		goto err_close_db;
	}
	ret = exec_sql(db,
		       "PRAGMA page_size = 4096;"
		       "PRAGMA journal_mode = WAL;"
		       "PRAGMA synchronous = FULL;",
		       errbuf, errlen);
	if (ret)
		goto err_close_db;
	ret = exec_sql(db, "BEGIN", errbuf, errlen);
	if (!ret)
		ret = exec_sql(db, ukfs_schema_sql, errbuf, errlen);
	if (!ret)
		ret = mkfs_rows(db, nr_blocks, nr_inodes, errbuf, errlen);
	if (!ret)
		ret = exec_sql(db, "COMMIT", errbuf, errlen);
	if (!ret)
		ret = exec_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)", errbuf,
			       errlen);
	if (ret)
		goto err_close_db;
	if (sqlite3_close(db) != SQLITE_OK) {
		db = NULL;
		ret = -EIO;
		ukfs_errf(errbuf, errlen, "closing %s failed", meta_path);
		goto err_unlink_meta;
	}
	ret = fsync_dir(dir);
	if (ret) {
		ukfs_errf(errbuf, errlen, "fsync %s: %s", dir, strerror(-ret));
		goto err_unlink_meta;
	}
	goto out_free;

err_close_db:
	sqlite3_close(db);
err_unlink_meta:
	unlink(meta_path);
err_unlink_blocks:
	unlink(blocks_path);
out_free:
	free(meta_path);
	free(blocks_path);
	return ret;
}

/* ---- open and validation ---------------------------------------------- */

/*
 * Takes the image's lock file: an flock held for as long as meta lives,
 * with our pid written in it so a refused opener can say who holds it.
 */
static int take_lock(struct ukfs_meta *m, char *errbuf, size_t errlen)
{
	char *path = path_join(m->dir, UKFS_LOCK_FILE);
	char buf[32];
	ssize_t n;
	int fd, ret;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && m->rdonly && (errno == EROFS || errno == EACCES))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && m->rdonly && errno == ENOENT) {
		/* Read-only medium with no lock file: no writer can be. */
		ret = 0;
		goto out_free;
	}
	if (fd < 0) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		goto out_free;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = -errno;
		if (ret == -EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			ukfs_errf(errbuf, errlen, "%s: image in use by pid %s",
				  m->dir, buf[0] ? buf : "(unknown)");
			ret = -EBUSY;
		} else {
			ukfs_errf(errbuf, errlen, "flock %s: %s", path,
				  strerror(-ret));
		}
		close(fd);
		goto out_free;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (m->rdonly)
		n = 0; /* a reader leaves the last writer's pid */
	if (n && (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)) {
		ret = -errno;
		close(fd);
		ukfs_errf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		goto out_free;
	}
	m->lock_fd = fd;
	ret = 0;
out_free:
	free(path);
	return ret;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Checks the file header before SQLite sees it: the magic string, and the
 * page count against the file's length (SQLite would read the missing
 * pages as zeros and only maybe notice).
 */
static int check_db_header(const char *path, char *errbuf, size_t errlen)
{
	unsigned char h[100];
	struct stat st;
	uint64_t psize, pages;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	n = pread(fd, h, sizeof(h), 0);
	ret = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (n < 0 || ret) {
		ret = ret ? ret : -EIO;
		ukfs_errf(errbuf, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (n < (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0) {
		ukfs_errf(errbuf, errlen,
			  "%s: not a SQLite database (bad header)", path);
		return -EINVAL;
	}
	psize = (uint64_t)h[16] << 8 | h[17];
	if (psize == 1)
		psize = 65536;
	pages = be32(h + 28);
	/* The in-header size counts only when "version valid for" matches
	 * the change counter (as SQLite decides). */
	if (pages && be32(h + 92) == be32(h + 24) &&
	    (uint64_t)st.st_size < pages * psize) {
		ukfs_errf(errbuf, errlen,
			  "%s: database truncated: %lld bytes, its header "
			  "says %" PRIu64 " pages of %" PRIu64,
			  path, (long long)st.st_size, pages, psize);
		return -EUCLEAN;
	}
	return 0;
}

/* journal_mode = WAL answers with the mode it could set: insist on it. */
static int check_wal(struct ukfs_meta *m, char *errbuf, size_t errlen)
{
	sqlite3_stmt *s;
	const char *mode;
	int ret = -EIO;

	if (sqlite3_prepare_v2(m->db, "PRAGMA journal_mode", -1, &s, NULL) !=
	    SQLITE_OK)
		goto out_msg;
	if (sqlite3_step(s) == SQLITE_ROW) {
		mode = (const char *)sqlite3_column_text(s, 0);
		if (mode && !strcmp(mode, "wal"))
			ret = 0;
	}
	sqlite3_finalize(s);
	if (!ret)
		return 0;
out_msg:
	ukfs_errf(errbuf, errlen, "meta.db: cannot use WAL journaling: %s",
		  sqlite3_errmsg(m->db));
	return ret;
}

/*
 * A read-only open cannot replay a WAL left by a crash (SQLite would have
 * to write the recovered index), as ext4 will not replay its journal on a
 * read-only device: -EROFS, and the message says to open it writable once.
 */
static int check_no_wal(const char *meta_path, char *errbuf, size_t errlen)
{
	char wal[PATH_MAX];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", meta_path);
	if (stat(wal, &st) == 0 && st.st_size > 0) {
		ukfs_errf(errbuf, errlen,
			  "%s: the image needs recovery (it was not closed "
			  "cleanly); open it writable once",
			  meta_path);
		return -EROFS;
	}
	return 0;
}

static int quick_check(struct ukfs_meta *m, char *errbuf, size_t errlen)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(m->db, "PRAGMA quick_check(1)", -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto err_rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(s, 0);

		if (!r || strcmp(r, "ok") != 0) {
			ukfs_errf(errbuf, errlen,
				  "meta.db is corrupt (quick_check: %s)",
				  r ? r : "?");
			ret = -EUCLEAN;
		}
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return ret;
err_rc:
	ukfs_errf(errbuf, errlen, "meta.db is unreadable: %s",
		  sqlite3_errmsg(m->db));
	ret = ukfs_sqlerr(rc);
	return ret == -EINVAL || ret == -EIO ? -EUCLEAN : ret;
}

/* Reads and checks the superblock into m. */
static int read_superblock(struct ukfs_meta *m, char *errbuf, size_t errlen)
{
	sqlite3_stmt *s;
	const char *magic, *uuid;
	int64_t version, bsize;
	int rc, ret;

	rc = sqlite3_prepare_v2(m->db,
				"SELECT magic, version, block_size, nr_blocks, "
				"nr_inodes, free_blocks, free_inodes, "
				"next_ino, next_gen, clean, uuid, created_ns "
				"FROM superblock WHERE id = 1",
				-1, &s, NULL);
	if (rc != SQLITE_OK) {
		ukfs_errf(errbuf, errlen,
			  "not a ukfs image (no superblock: %s)",
			  sqlite3_errmsg(m->db));
		ret = ukfs_sqlerr(rc);
		return ret == -EIO || ret == 0 ? -EINVAL : ret;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ? -EINVAL : ukfs_sqlerr(rc);
		ukfs_errf(errbuf, errlen, "not a ukfs image (%s)",
			  rc == SQLITE_DONE ? "empty superblock table"
					    : sqlite3_errmsg(m->db));
		goto out_finalize;
	}
	magic = (const char *)sqlite3_column_text(s, 0);
	if (!magic || strcmp(magic, UKFS_MAGIC) != 0) {
		ukfs_errf(errbuf, errlen,
			  "not a ukfs image (magic '%s', expected '%s')",
			  magic ? magic : "", UKFS_MAGIC);
		ret = -EINVAL;
		goto out_finalize;
	}
	version = sqlite3_column_int64(s, 1);
	if (version != UKFS_FORMAT_VERSION) {
		ukfs_errf(errbuf, errlen,
			  "format version %" PRId64 " found, this ukfs "
			  "supports version %d",
			  version, UKFS_FORMAT_VERSION);
		ret = -EPROTONOSUPPORT;
		goto out_finalize;
	}
	bsize = sqlite3_column_int64(s, 2);
	if (bsize != UKFS_BLOCK_SIZE) {
		ukfs_errf(errbuf, errlen,
			  "block size %" PRId64 " found, this ukfs supports "
			  "%u",
			  bsize, UKFS_BLOCK_SIZE);
		ret = -EPROTONOSUPPORT;
		goto out_finalize;
	}
	m->nr_blocks = ukfs_col_u64(s, 3);
	m->nr_inodes = ukfs_col_u64(s, 4);
	m->c.free_blocks = ukfs_col_u64(s, 5);
	m->c.free_inodes = ukfs_col_u64(s, 6);
	m->c.next_ino = ukfs_col_u64(s, 7);
	m->c.next_gen = ukfs_col_u64(s, 8);
	m->was_clean = sqlite3_column_int(s, 9) != 0;
	uuid = (const char *)sqlite3_column_text(s, 10);
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid ? uuid : "");
	m->created_ns = sqlite3_column_int64(s, 11);
	if (m->nr_blocks <= UKFS_FIRST_DATA_BLOCK ||
	    m->nr_blocks >= UKFS_LBLK_MAX || m->nr_inodes < 1 ||
	    m->nr_inodes >= UKFS_LBLK_MAX) {
		ukfs_errf(errbuf, errlen,
			  "superblock damaged: %" PRIu64 " blocks, %" PRIu64
			  " inodes",
			  m->nr_blocks, m->nr_inodes);
		ret = -EUCLEAN;
		goto out_finalize;
	}
	ret = 0;
out_finalize:
	sqlite3_finalize(s);
	return ret;
}

/* An extent outside [UKFS_FIRST_DATA_BLOCK, nr_blocks): -EUCLEAN. */
static int check_extents_in_device(struct ukfs_meta *m, char *errbuf,
				   size_t errlen)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	rc = sqlite3_prepare_v2(m->db,
				"SELECT ino, lblk, pblk, len FROM extents "
				"WHERE pblk < ?1 OR len < 1 OR len > ?2 OR "
				"pblk + len > ?2 LIMIT 1",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		goto err_rc;
	sqlite3_bind_int64(s, 1, UKFS_FIRST_DATA_BLOCK);
	ukfs_bind_u64(s, 2, m->nr_blocks);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ukfs_errf(errbuf, errlen,
			  "inode %" PRIu64 ": extent at block %" PRIu64
			  " maps %" PRIu64 " blocks from %" PRIu64
			  ", outside the device (%" PRIu64 " blocks); run fsck",
			  ukfs_col_u64(s, 0), ukfs_col_u64(s, 1),
			  ukfs_col_u64(s, 3), ukfs_col_u64(s, 2), m->nr_blocks);
		ret = -EUCLEAN;
		rc = SQLITE_DONE;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return ret;
err_rc:
	ukfs_errf(errbuf, errlen, "reading extents: %s", sqlite3_errmsg(m->db));
	return -EUCLEAN;
}

static int check_root(struct ukfs_meta *m, char *errbuf, size_t errlen)
{
	struct ukfs_inode root;
	int ret = ukfs_inode_get_locked(m, UKFS_ROOT_INO, &root);

	if (ret == -ENOENT || (!ret && !S_ISDIR(root.mode))) {
		ukfs_errf(errbuf, errlen,
			  "root directory (inode %u) missing; run fsck",
			  UKFS_ROOT_INO);
		return -EUCLEAN;
	}
	if (ret)
		ukfs_errf(errbuf, errlen, "reading the root inode: %s",
			  strerror(-ret));
	return ret;
}

void ukfs_meta_destroy(struct ukfs_meta *m)
{
	int i;

	for (i = 0; i < ST_NR; i++)
		sqlite3_finalize(m->st[i]);
	if (m->db) {
		if (m->in_txn)
			sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(m->db);
	}
	if (m->lock_fd >= 0)
		close(m->lock_fd); /* drops the flock */
	pthread_mutex_destroy(&m->lock);
	free(m->ordered);
	free(m->pending);
	free(m->orph);
	free(m->orph_undo);
	free(m->cookies);
	free(m->dir);
	free(m);
}

static int stat_image_file(const char *dir, const char *name, struct stat *st,
			   char *errbuf, size_t errlen)
{
	char *p = path_join(dir, name);
	int ret = 0;

	if (!p)
		return -ENOMEM;
	if (stat(p, st) < 0) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "%s: %s%s", p, strerror(-ret),
			  ret == -ENOENT ? " (not a ukfs image?)" : "");
	} else if (!S_ISREG(st->st_mode)) {
		ukfs_errf(errbuf, errlen, "%s: not a regular file", p);
		ret = -EINVAL;
	}
	free(p);
	return ret;
}

int ukfs_open_image(const char *dir, unsigned int flags, bool for_fsck,
		    struct ukfs_meta **out, char *errbuf, size_t errlen)
{
	pthread_mutexattr_t ma;
	struct ukfs_meta *m;
	struct stat st, bst;
	char *meta_path;
	int ret, rc;

	if (stat(dir, &st) < 0) {
		ret = -errno;
		ukfs_errf(errbuf, errlen, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		ukfs_errf(errbuf, errlen,
			  "%s: not a directory (an image is a directory "
			  "holding meta.db and blocks)",
			  dir);
		return -ENOTDIR;
	}
	ret = stat_image_file(dir, UKFS_META_FILE, &st, errbuf, errlen);
	if (!ret)
		ret = stat_image_file(dir, UKFS_BLOCKS_FILE, &bst, errbuf,
				      errlen);
	if (ret)
		return ret;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->lock_fd = -1;
	m->commit_interval = UKFS_COMMIT_INTERVAL_NS;
	m->commit_max_changes = UKFS_COMMIT_MAX_CHANGES;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	m->dir = strdup(dir);
	meta_path = path_join(dir, UKFS_META_FILE);
	if (!m->dir || !meta_path) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	m->rdonly = flags & UKFS_META_RDONLY;
	ret = take_lock(m, errbuf, errlen);
	if (ret)
		goto err_destroy;
	ret = check_db_header(meta_path, errbuf, errlen);
	if (ret)
		goto err_destroy;
	if (m->rdonly) {
		ret = check_no_wal(meta_path, errbuf, errlen);
		if (ret)
			goto err_destroy;
	}

	pthread_once(&stmtjrnl_once, stmtjrnl_config);
	rc = sqlite3_open_v2(
		meta_path, &m->db,
		(m->rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
			SQLITE_OPEN_EXRESCODE |
			/*
			 * m->lock serialises every use of the connection;
			 * SQLite's own per-call mutex cost a sixth of a
			 * create's instructions (docs/ukfs.md
			 * "Performance").
			 */
			SQLITE_OPEN_NOMUTEX,
		NULL);
	if (rc != SQLITE_OK) {
		ukfs_errf(errbuf, errlen, "%s: %s", meta_path,
			  sqlite3_errstr(rc));
		ret = ukfs_sqlerr(rc);
		goto err_destroy;
	}
	/*
	 * EXCLUSIVE before the first read: WAL then keeps its index in heap
	 * memory and no other connection can open the database. SQLite
	 * cannot read a WAL database read-only in that mode, so a read-only
	 * open relies on the flock alone and lets SQLite make its (empty)
	 * -wal and -shm side files.
	 */
	ret = exec_sql(m->db,
		       m->rdonly ? "PRAGMA foreign_keys = OFF;"
				   "PRAGMA cache_size = -16384;"
				   "PRAGMA temp_store = MEMORY;"
				   "SELECT count(*) FROM sqlite_master;"
				 : "PRAGMA locking_mode = EXCLUSIVE;"
				   "PRAGMA journal_mode = WAL;"
				   "PRAGMA synchronous = FULL;"
				   "PRAGMA foreign_keys = OFF;"
				   "PRAGMA cache_size = -16384;",
		       errbuf, errlen);
	if (ret) {
		if (ret == -EINVAL)
			ukfs_errf(errbuf, errlen, "%s: not a SQLite database",
				  meta_path);
		else if (ret == -EUCLEAN)
			ukfs_errf(errbuf, errlen, "%s: corrupt database",
				  meta_path);
		goto err_destroy;
	}
	ret = check_wal(m, errbuf, errlen);
	if (ret)
		goto err_destroy;
	if (!(flags & UKFS_META_NOCHECK)) {
		ret = quick_check(m, errbuf, errlen);
		if (ret)
			goto err_destroy;
	}
	ret = read_superblock(m, errbuf, errlen);
	if (ret)
		goto err_destroy;
	if ((uint64_t)bst.st_size < m->nr_blocks * UKFS_BLOCK_SIZE) {
		ukfs_errf(errbuf, errlen,
			  "blocks file is %lld bytes, the superblock says "
			  "%" PRIu64 " blocks (%" PRIu64 " bytes)",
			  (long long)bst.st_size, m->nr_blocks,
			  m->nr_blocks * UKFS_BLOCK_SIZE);
		ret = -EUCLEAN;
		goto err_destroy;
	}
	if (!for_fsck) {
		if (!(flags & UKFS_META_NOCHECK)) {
			ret = check_extents_in_device(m, errbuf, errlen);
			if (ret)
				goto err_destroy;
		}
		ret = check_root(m, errbuf, errlen);
		if (ret)
			goto err_destroy;
	}
	free(meta_path);
	*out = m;
	return 0;

err_destroy:
	free(meta_path);
	ukfs_meta_destroy(m);
	return ret;
}

static int set_clean_locked(struct ukfs_meta *m, int clean)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "UPDATE superblock SET clean = %d", clean);
	return exec_sql(m->db, sql, NULL, 0);
}

int ukfs_meta_open(const char *dir, unsigned int flags, struct ukfs_meta **out,
		   char *errbuf, size_t errlen)
{
	struct ukfs_meta *m;
	uint64_t n = 0;
	int ret;

	ret = ukfs_open_image(dir, flags, false, &m, errbuf, errlen);
	if (ret)
		return ret;
	if (m->rdonly)
		goto out; /* orphans stay for the next writer */
	/* Not clean from now on, durably, and orphans reclaimed: one
	 * transaction, committed before anyone sees the image. */
	ret = ukfs_op_begin(m);
	if (ret)
		goto err_destroy;
	ret = set_clean_locked(m, 0);
	if (!ret)
		ret = ukfs_reclaim_orphans_locked(m, &n);
	ret = ukfs_op_end(m, ret);
	if (!ret)
		ret = ukfs_meta_commit(m);
	if (ret) {
		ukfs_errf(errbuf, errlen, "%s: starting up: %s", dir,
			  strerror(-ret));
		goto err_destroy;
	}
	m->orphans_reclaimed = n;
out:
	*out = m;
	return 0;

err_destroy:
	ukfs_meta_destroy(m);
	return ret;
}

/* ---- close ------------------------------------------------------------ */

int ukfs_meta_close(struct ukfs_meta *m, bool clean)
{
	int ret = 0;

	if (!m)
		return 0;
	if (clean && m->shut_down)
		ret = -EIO;
	if (clean && !m->shut_down && !m->rdonly) {
		ret = ukfs_meta_commit(m);
		if (!ret) {
			pthread_mutex_lock(&m->lock);
			ret = exec_sql(m->db, "UPDATE superblock SET clean = 1",
				       NULL, 0);
			if (!ret)
				ret = exec_sql(
					m->db,
					"PRAGMA wal_checkpoint(TRUNCATE)", NULL,
					0);
			pthread_mutex_unlock(&m->lock);
		}
	}
	ukfs_meta_destroy(m);
	return ret;
}

/* ---- transactions ----------------------------------------------------- */

void ukfs_meta_set_pre_commit(struct ukfs_meta *m, ukfs_pre_commit_fn fn,
			      void *arg)
{
	pthread_mutex_lock(&m->lock);
	m->pre_commit = fn;
	m->pre_commit_arg = arg;
	pthread_mutex_unlock(&m->lock);
}

void ukfs_meta_set_commit_policy(struct ukfs_meta *m, int64_t interval_ns,
				 uint64_t max_changes)
{
	pthread_mutex_lock(&m->lock);
	if (interval_ns > 0)
		m->commit_interval = interval_ns;
	if (max_changes)
		m->commit_max_changes = max_changes;
	pthread_mutex_unlock(&m->lock);
}

/* Opens the transaction if needed; the call's bracket without SAVEPOINT. */
static int op_begin_locked(struct ukfs_meta *m)
{
	int ret;

	if (m->shut_down || m->rdonly)
		return m->rdonly ? -EROFS : -EIO;
	if (m->op_depth)
		return -EDEADLK; /* only the filldir callback could get here */
	if (!m->in_txn) {
		ret = run_st(m, ST_BEGIN);
		if (ret)
			return ret;
		m->in_txn = true;
		m->txn_start = ukfs_meta_now();
		m->txn_changes = 0;
	}
	m->op_depth = 1;
	m->op_savepoint = false;
	m->c_saved = m->c;
	m->nr_pending_saved = m->nr_pending;
	m->nr_orph_undo = 0;
	return 0;
}

int ukfs_op_begin_lazy(struct ukfs_meta *m)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = op_begin_locked(m);
	if (ret)
		pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_op_savepoint(struct ukfs_meta *m)
{
	int ret;

	if (m->op_savepoint)
		return 0;
	ret = run_st(m, ST_SAVEPOINT);
	if (!ret)
		m->op_savepoint = true;
	return ret;
}

int ukfs_op_begin(struct ukfs_meta *m)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = op_begin_locked(m);
	if (!ret) {
		ret = ukfs_op_savepoint(m);
		if (ret)
			m->op_depth = 0;
	}
	if (ret)
		pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_op_end(struct ukfs_meta *m, int ret)
{
	int rc;

	if (ret >= 0) {
		rc = m->op_savepoint ? run_st(m, ST_RELEASE) : 0;
		if (rc) {
			ret = rc;
			goto rollback;
		}
		m->txn_changes++;
		goto out;
	}
rollback:
	if (m->op_savepoint) {
		rc = run_st(m, ST_ROLLBACK_TO);
		if (!rc)
			rc = run_st(m, ST_RELEASE);
		if (rc)
			m->shut_down = true; /* cannot tell what the txn holds */
	} else if (sqlite3_get_autocommit(m->db)) {
		/* SQLite rolled the whole transaction back (I/O error, out
		 * of memory): calls that returned success are lost. */
		m->in_txn = false;
		m->shut_down = true;
	}
	/* Without a savepoint the call made at most one change to the
	 * rows, by a statement that failed whole or was its last step. */
	m->c = m->c_saved;
	m->nr_pending = m->nr_pending_saved;
	ukfs_orphans_undo_locked(m);
out:
	m->op_depth = 0;
	m->op_savepoint = false;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int write_counters_locked(struct ukfs_meta *m)
{
	int rc = 0;
	sqlite3_stmt *s = ukfs_stmt(m, ST_SB_WRITE, &rc);

	if (!s)
		return rc;
	ukfs_bind_u64(s, 1, m->c.free_blocks);
	ukfs_bind_u64(s, 2, m->c.free_inodes);
	ukfs_bind_u64(s, 3, m->c.next_ino);
	ukfs_bind_u64(s, 4, m->c.next_gen);
	return ukfs_exec_stmt(s);
}

int ukfs_commit_locked(struct ukfs_meta *m)
{
	int ret;

	if (m->shut_down)
		return -EIO;
	if (!m->in_txn || m->in_commit)
		return 0;
	m->in_commit = true;
	if (m->pre_commit) {
		/* The hook may add to the transaction; a failure keeps it
		 * open, so an fsync that failed can be retried. */
		ret = m->pre_commit(m->pre_commit_arg, m);
		if (ret < 0)
			goto out;
	}
	/* After the hook: the hook's allocations cannot take these. */
	ret = ukfs_flush_frees_locked(m);
	if (ret) {
		if (ret == -EUCLEAN)
			m->shut_down = true; /* a double free: stop here */
		goto out;
	}
	/* After the hook too: its calls may still add or free orphans. */
	ret = ukfs_orphans_flush_locked(m);
	if (ret)
		goto out;
	ret = ukfs_cookies_flush_locked(m);
	if (ret)
		goto out;
	ret = write_counters_locked(m);
	if (ret)
		goto out;
	ret = run_st(m, ST_COMMIT);
	if (ret) {
		if (sqlite3_get_autocommit(m->db)) {
			/* SQLite rolled the transaction back: changes the
			 * caller was told succeeded are gone. Refuse all
			 * further changes, as ext4 aborts its journal. */
			m->in_txn = false;
			m->shut_down = true;
		}
		/* Otherwise the frees are rows of the open transaction. */
		ret = -EIO;
		goto out;
	}
	m->in_txn = false;
	m->txn_changes = 0;
	m->nr_ordered = 0;
	m->commits++;
	if (m->nr_cookies > 4096) { /* all clean now: start small again */
		free(m->cookies);
		m->cookies = NULL;
		m->nr_cookies = m->cookies_cap = 0;
	}
out:
	m->in_commit = false;
	return ret;
}

int ukfs_meta_commit(struct ukfs_meta *m)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = ukfs_commit_locked(m);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_meta_maybe_commit(struct ukfs_meta *m, int64_t now)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->in_txn && !m->in_commit &&
	    (now - m->txn_start >= m->commit_interval ||
	     m->txn_changes >= m->commit_max_changes)) {
		ret = ukfs_commit_locked(m);
		if (!ret)
			ret = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int ukfs_ordered_add(struct ukfs_meta *m, uint64_t ino)
{
	uint64_t *v;
	size_t cap;

	if (m->nr_ordered && m->ordered[m->nr_ordered - 1] == ino)
		return 0;
	if (m->nr_ordered == m->ordered_cap) {
		cap = m->ordered_cap ? m->ordered_cap * 2 : 64;
		v = realloc(m->ordered, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->ordered = v;
		m->ordered_cap = cap;
	}
	m->ordered[m->nr_ordered++] = ino;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

long ukfs_meta_ordered_inodes(struct ukfs_meta *m, uint64_t *inos, size_t max)
{
	size_t i, n = 0;

	pthread_mutex_lock(&m->lock);
	qsort(m->ordered, m->nr_ordered, sizeof(*m->ordered), cmp_u64);
	for (i = 0; i < m->nr_ordered; i++) {
		if (n && m->ordered[n - 1] == m->ordered[i])
			continue;
		m->ordered[n++] = m->ordered[i];
	}
	m->nr_ordered = n;
	for (i = 0; i < n && i < max; i++)
		inos[i] = m->ordered[i];
	pthread_mutex_unlock(&m->lock);
	return (long)n;
}

/* ---- statfs and info -------------------------------------------------- */

int ukfs_meta_statfs(struct ukfs_meta *m, struct ukfs_statfs *st)
{
	pthread_mutex_lock(&m->lock);
	st->block_size = UKFS_BLOCK_SIZE;
	st->blocks = m->nr_blocks - UKFS_FIRST_DATA_BLOCK;
	st->free_blocks = m->c.free_blocks;
	st->inodes = m->nr_inodes;
	st->free_inodes = m->c.free_inodes;
	st->name_max = UKFS_NAME_MAX;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int ukfs_meta_info(struct ukfs_meta *m, struct ukfs_meta_info *info)
{
	pthread_mutex_lock(&m->lock);
	memset(info, 0, sizeof(*info));
	info->commits = m->commits;
	info->txn_changes = m->txn_changes;
	info->txn_open = m->in_txn;
	info->orphans_reclaimed = m->orphans_reclaimed;
	info->was_clean = m->was_clean;
	memcpy(info->uuid, m->uuid, sizeof(info->uuid));
	info->created_ns = m->created_ns;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
