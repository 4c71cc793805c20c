// SPDX-License-Identifier: MIT
/*
 * tests/common/difftest.c - the differential test engine (see difftest.h):
 * generates a seeded random sequence of file operations over a small
 * namespace, runs it on a target through syscall numbers, and logs every
 * result in a form that is equal on two correct targets.
 *
 * Sections: log, random numbers and names, target calls, result formats,
 * times bookkeeping, the operations, the run, the tree dump, compare, the
 * native target.
 *
 * What is normalised, because it legitimately differs between a correct
 * uk and ext4: descriptor numbers (ops name slots; each side maps a slot to
 * its own fd), inode numbers, st_dev, st_blksize, st_blocks, directory
 * sizes, lock owner pids, and atime/ctime/mtime unless set explicitly.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "difftest.h"

/* ---- log ----------------------------------------------------------------- */

void dt_log_init(struct dt_log *log)
{
	memset(log, 0, sizeof(*log));
}

void dt_log_free(struct dt_log *log)
{
	free(log->buf);
	memset(log, 0, sizeof(*log));
}

static void dt_log_reserve(struct dt_log *log, size_t n)
{
	if (log->len + n + 1 <= log->cap)
		return;
	size_t cap = log->cap ? log->cap : 1 << 16;
	while (cap < log->len + n + 1)
		cap *= 2;
	char *p = realloc(log->buf, cap);
	if (!p) {
		fprintf(stderr, "difftest: out of memory\n");
		abort();
	}
	log->buf = p;
	log->cap = cap;
}

void dt_log_append(struct dt_log *log, const char *s, size_t n)
{
	dt_log_reserve(log, n);
	memcpy(log->buf + log->len, s, n);
	log->len += n;
	log->buf[log->len] = '\0';
	for (size_t i = 0; i < n; i++)
		log->lines += s[i] == '\n';
}

void dt_log_printf(struct dt_log *log, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (log->echo)
		fwrite(line, 1, n, stderr);
	dt_log_append(log, line, n);
}

/* ---- random numbers and names -------------------------------------------- */

struct dt_rng {
	uint64_t s;
};

/* splitmix64: small, fast, and the same sequence on every host. */
static uint64_t rnd(struct dt_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in [0, n). */
static unsigned long below(struct dt_rng *r, unsigned long n)
{
	return n ? rnd(r) % n : 0;
}

/* True with probability pct percent. */
static bool chance(struct dt_rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

/* Few names, so that operations collide: EEXIST, ENOTEMPTY, ENOTDIR... */
static const char *const dt_names[] = {"a", "b", "c", "d", "e", "f", "g"};
#define UK_DT_NNAMES (sizeof(dt_names) / sizeof(dt_names[0]))

/*
 * A path in the namespace: mostly one to three names relative to the cwd
 * DT_WORKDIR, sometimes absolute, with "." or ".." inside, or with a
 * trailing slash, and now and then a special one ("", ".", "..", "/").
 */
static void gen_path(struct dt_rng *r, char *buf, size_t size)
{
	unsigned int k = below(r, 100);

	if (k < 2) {
		snprintf(buf, size, "%s",
			 (const char *[]){"", ".", "..", "/", DT_WORKDIR,
					  "a/..", "/.."}[below(r, 7)]);
		return;
	}
	unsigned int depth = k < 60 ? 1 : k < 92 ? 2 : 3;
	size_t n = 0;
	buf[0] = '\0';
	if (chance(r, 8))
		n += snprintf(buf + n, size - n, "%s/", DT_WORKDIR);
	else if (chance(r, 3))
		n += snprintf(buf + n, size - n, "./");
	for (unsigned int i = 0; i < depth; i++) {
		const char *name = dt_names[below(r, UK_DT_NNAMES)];
		if (i + 1 < depth && chance(r, 4))
			name = chance(r, 50) ? "." : "..";
		n += snprintf(buf + n, size - n, "%s%s", i ? "/" : "", name);
	}
	if (chance(r, 4))
		snprintf(buf + n, size - n, "/");
}

/* A symlink target: a namespace path, one going up, absolute or dangling. */
static void gen_target(struct dt_rng *r, char *buf, size_t size)
{
	unsigned int k = below(r, 100);

	if (k < 10)
		snprintf(buf, size, "../%s", dt_names[below(r, UK_DT_NNAMES)]);
	else if (k < 15)
		snprintf(buf, size, "%s/%s", DT_WORKDIR,
			 dt_names[below(r, UK_DT_NNAMES)]);
	else if (k < 18)
		snprintf(buf, size, "nowhere/%s",
			 dt_names[below(r, UK_DT_NNAMES)]);
	else
		gen_path(r, buf, size);
	if (!buf[0])
		snprintf(buf, size, "x"); /* symlink("") is ENOENT: test once */
}

/* Deterministic file content for a write of n bytes at a given op. */
static void gen_data(struct dt_rng *r, unsigned char *buf, size_t n)
{
	uint64_t x = rnd(r);
	for (size_t i = 0; i < n; i++) {
		if (!(i & 7))
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (unsigned char)(x >> (8 * (i & 7)));
	}
}

/* A length: mostly small, sometimes past a page, rarely large or zero. */
static size_t gen_len(struct dt_rng *r)
{
	unsigned int k = below(r, 100);
	if (k < 4)
		return 0;
	if (k < 35)
		return 1 + below(r, 64);
	if (k < 80)
		return 1 + below(r, 4096);
	return 4097 + below(r, 16384);
}

/* An offset: mostly within the first pages, sometimes far (holes). */
static long gen_off(struct dt_rng *r)
{
	unsigned int k = below(r, 100);
	if (k < 50)
		return below(r, 8192);
	if (k < 85)
		return below(r, 65536);
	return below(r, 200000);
}

/* ---- target calls -------------------------------------------------------- */

static long sc(struct dt_target *t, long nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3, unsigned long a4,
	       unsigned long a5)
{
	const unsigned long a[6] = {a0, a1, a2, a3, a4, a5};
	return t->syscall(t, nr, a);
}

#define U(p) ((unsigned long)(uintptr_t)(p))
#define SC0(nr) sc(t, nr, 0, 0, 0, 0, 0, 0)
#define SC1(nr, a) sc(t, nr, (a), 0, 0, 0, 0, 0)
#define SC2(nr, a, b) sc(t, nr, (a), (b), 0, 0, 0, 0)
#define SC3(nr, a, b, c) sc(t, nr, (a), (b), (c), 0, 0, 0)
#define SC4(nr, a, b, c, d) sc(t, nr, (a), (b), (c), (d), 0, 0)
#define SC5(nr, a, b, c, d, e) sc(t, nr, (a), (b), (c), (d), (e), 0)

/* AT_FDCWD as the 64-bit argument word a process passes. */
#define DT_FDCWD ((unsigned long)(long)AT_FDCWD)

/* ---- result formats ------------------------------------------------------ */

/* The errno's name, or its number when the C library has no name. */
static const char *ename(long err)
{
	static char buf[16];
	const char *s = strerrorname_np((int)err);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "E%ld", err);
	return buf;
}

/* "0", "42" or "-ENOENT". Returns buf. */
static const char *fmt_ret(char *buf, size_t size, long ret)
{
	if (ret < 0 && ret > -4096)
		snprintf(buf, size, "-%s", ename(-ret));
	else
		snprintf(buf, size, "%ld", ret);
	return buf;
}

static uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

/* The stat fields that must agree: type, mode, nlink, owner, file size. */
static void fmt_stat(char *buf, size_t size, const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		snprintf(buf, size, "mode=%06o nlink=%lu uid=%u gid=%u",
			 st->st_mode, (unsigned long)st->st_nlink, st->st_uid,
			 st->st_gid);
	else
		snprintf(buf, size,
			 "mode=%06o nlink=%lu uid=%u gid=%u size=%lld",
			 st->st_mode, (unsigned long)st->st_nlink, st->st_uid,
			 st->st_gid, (long long)st->st_size);
}

/* ---- the run's state ----------------------------------------------------- */

#define DT_SLOTS 8
#define DT_BUFSZ (64 * 1024)

struct dt_run {
	struct dt_target *t;
	struct dt_rng rng;
	struct dt_log *log;
	struct dt_times *times;
	unsigned long index;
	int fd[DT_SLOTS]; /* this side's descriptor for each slot */
	/*
	 * Inodes with preallocated ranges: ext4 reports unwritten extents
	 * to SEEK_DATA/SEEK_HOLE as holes, tmpfs as data; both are Linux.
	 */
	uint64_t prealloc[128];
	unsigned int nprealloc;
	unsigned char *wbuf, *rbuf;
};

/* ---- times bookkeeping --------------------------------------------------- */

static bool prealloc_has(struct dt_run *r, uint64_t ino)
{
	for (unsigned int i = 0; i < r->nprealloc; i++)
		if (r->prealloc[i] == ino)
			return true;
	return false;
}

/* A fresh inode may reuse a number: it has no preallocation yet. */
static void prealloc_forget(struct dt_run *r, uint64_t ino)
{
	for (unsigned int i = 0; i < r->nprealloc; i++)
		if (r->prealloc[i] == ino) {
			r->prealloc[i] = r->prealloc[--r->nprealloc];
			return;
		}
}

static void times_forget_ino(struct dt_run *r, uint64_t ino)
{
	struct dt_times *tm = r->times;
	for (unsigned int i = 0; i < tm->n; i++)
		if (tm->e[i].ino == ino) {
			tm->e[i] = tm->e[--tm->n];
			return;
		}
}

/* Forgets every directory: entries added or removed change their mtime. */
static void times_forget_dirs(struct dt_run *r)
{
	struct dt_times *tm = r->times;
	for (unsigned int i = 0; i < tm->n;)
		if (tm->e[i].dir)
			tm->e[i] = tm->e[--tm->n];
		else
			i++;
}

/* Forgets the inode behind slot s (its data or atime may change). */
static void times_forget_fd(struct dt_run *r, int s)
{
	struct dt_target *t = r->t;
	struct stat st;
	if (r->fd[s] >= 0 && SC2(SYS_fstat, r->fd[s], U(&st)) == 0)
		times_forget_ino(r, st.st_ino);
}

/* Forgets the inode a path names (following symlinks or not). */
static void times_forget_path(struct dt_run *r, unsigned long dirfd,
			      const char *path, bool follow)
{
	struct dt_target *t = r->t;
	struct stat st;
	if (SC4(SYS_newfstatat, dirfd, U(path), U(&st),
		follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0)
		times_forget_ino(r, st.st_ino);
}

static void times_remember(struct dt_run *r, const struct stat *st)
{
	struct dt_times *tm = r->times;
	times_forget_ino(r, st->st_ino);
	if (S_ISLNK(st->st_mode) || tm->n == DT_TIMES_MAX)
		return; /* following a symlink touches its atime */
	tm->e[tm->n].ino = st->st_ino;
	tm->e[tm->n].dir = S_ISDIR(st->st_mode);
	tm->n++;
}

static bool times_known(const struct dt_times *tm, uint64_t ino)
{
	for (unsigned int i = 0; tm && i < tm->n; i++)
		if (tm->e[i].ino == ino)
			return true;
	return false;
}

/* ---- the operations ------------------------------------------------------ */

/*
 * Each operation draws its arguments from the run's generator, describes
 * itself in op (the same text on both sides), performs the calls and
 * describes the outcome in res. Descriptor arguments are slots.
 */
struct dt_op {
	const char *name;
	unsigned int weight;
	void (*fn)(struct dt_run *r, char *op, char *res);
};

#define OPSZ 512
#define PATHSZ 64
#define RESSZ 512

/* The dirfd for a path: usually the cwd, sometimes a slot's descriptor. */
static unsigned long pick_dirfd(struct dt_run *r, char *desc, size_t size)
{
	if (chance(&r->rng, 12)) {
		unsigned int s = below(&r->rng, DT_SLOTS);
		snprintf(desc, size, "slot%u", s);
		return r->fd[s] >= 0 ? (unsigned long)r->fd[s] : 9999;
	}
	snprintf(desc, size, "CWD");
	return DT_FDCWD;
}

/* A slot that is open, preferably; any slot when none is. */
static unsigned int pick_slot(struct dt_run *r)
{
	unsigned int s = below(&r->rng, DT_SLOTS);
	if (chance(&r->rng, 90))
		for (unsigned int i = 0; i < DT_SLOTS; i++)
			if (r->fd[(s + i) % DT_SLOTS] >= 0)
				return (s + i) % DT_SLOTS;
	return s;
}

/* The descriptor of slot s, or a number no side has open (EBADF). */
static unsigned long slot_fd(struct dt_run *r, unsigned int s)
{
	return r->fd[s] >= 0 ? (unsigned long)r->fd[s] : 9999;
}

static void slot_close(struct dt_run *r, unsigned int s)
{
	struct dt_target *t = r->t;
	if (r->fd[s] >= 0)
		SC1(SYS_close, r->fd[s]);
	r->fd[s] = -1;
}

static const struct {
	int flag;
	const char *name;
} dt_oflags[] = {
	{O_CREAT, "CREAT"},	    {O_EXCL, "EXCL"},
	{O_TRUNC, "TRUNC"},	    {O_APPEND, "APPEND"},
	{O_DIRECTORY, "DIRECTORY"}, {O_NOFOLLOW, "NOFOLLOW"},
	{O_CLOEXEC, "CLOEXEC"},	    {O_NONBLOCK, "NONBLOCK"},
};

static const unsigned int dt_modes[] = {0644, 0600, 0444,  0755,  0,   0777,
					0640, 0111, 04755, 01777, 0222};

static unsigned int gen_mode(struct dt_rng *r)
{
	return dt_modes[below(r, sizeof(dt_modes) / sizeof(dt_modes[0]))];
}

/* After a successful creation: a fresh inode may reuse a forgotten number. */
static void created(struct dt_run *r, unsigned long dirfd, const char *path)
{
	struct dt_target *t = r->t;
	struct stat st;
	if (SC4(SYS_newfstatat, dirfd, U(path), U(&st), AT_SYMLINK_NOFOLLOW) ==
	    0) {
		times_forget_ino(r, st.st_ino);
		prealloc_forget(r, st.st_ino);
	}
	times_forget_dirs(r);
}

static void op_open(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], d[16], fl[160], b[32];
	unsigned int s = below(&r->rng, DT_SLOTS);
	int flags;
	unsigned int acc = below(&r->rng, 10);
	unsigned int mode = gen_mode(&r->rng);
	unsigned long dirfd;
	size_t n;

	flags = acc < 5	  ? O_RDWR
		: acc < 8 ? O_RDONLY
		: acc < 9 ? O_WRONLY
			  : O_PATH;
	n = snprintf(fl, sizeof(fl), "%s",
		     flags == O_RDWR	 ? "RDWR"
		     : flags == O_RDONLY ? "RDONLY"
		     : flags == O_WRONLY ? "WRONLY"
					 : "PATH");
	for (size_t i = 0; i < sizeof(dt_oflags) / sizeof(dt_oflags[0]); i++)
		if (chance(&r->rng, dt_oflags[i].flag == O_CREAT ? 60 : 10)) {
			flags |= dt_oflags[i].flag;
			n += snprintf(fl + n, sizeof(fl) - n, "|%s",
				      dt_oflags[i].name);
		}
	dirfd = pick_dirfd(r, d, sizeof(d));
	gen_path(&r->rng, path, sizeof(path));
	bool use_open = dirfd == DT_FDCWD && chance(&r->rng, 30);
	slot_close(r, s);
	snprintf(op, OPSZ, "%s(%s\"%s\", %s, %04o) -> slot%u",
		 use_open ? "open" : "openat", use_open ? "" : d, path, fl,
		 mode, s);
	long ret = use_open ? SC3(SYS_open, U(path), flags, mode)
			    : SC4(SYS_openat, dirfd, U(path), flags, mode);
	if (ret >= 0) {
		struct stat st;
		r->fd[s] = (int)ret;
		long sr = SC2(SYS_fstat, ret, U(&st));
		if (sr == 0) {
			char sb[128];
			fmt_stat(sb, sizeof(sb), &st);
			snprintf(res, RESSZ, "fd %s", sb);
			if ((flags & O_CREAT) && st.st_size == 0)
				prealloc_forget(r, st.st_ino);
			if (flags & (O_CREAT | O_TRUNC)) {
				times_forget_ino(r, st.st_ino);
				if (flags & O_CREAT)
					times_forget_dirs(r);
			}
		} else {
			snprintf(res, RESSZ, "fd fstat=%s",
				 fmt_ret(b, sizeof(b), sr));
		}
	} else {
		fmt_ret(res, RESSZ, ret);
	}
}

static void op_creat(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int s = below(&r->rng, DT_SLOTS);
	unsigned int mode = gen_mode(&r->rng);

	gen_path(&r->rng, path, sizeof(path));
	slot_close(r, s);
	snprintf(op, OPSZ, "creat(\"%s\", %04o) -> slot%u", path, mode, s);
	long ret = SC2(SYS_creat, U(path), mode);
	if (ret >= 0) {
		r->fd[s] = (int)ret;
		struct stat st;
		if (SC2(SYS_fstat, ret, U(&st)) == 0) {
			times_forget_ino(r, st.st_ino);
			if (st.st_size == 0)
				prealloc_forget(r, st.st_ino);
		}
		times_forget_dirs(r);
		snprintf(res, RESSZ, "fd");
	} else {
		fmt_ret(res, RESSZ, ret);
	}
}

static void op_close(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r);

	snprintf(op, OPSZ, "close(slot%u)", s);
	fmt_ret(res, RESSZ, SC1(SYS_close, slot_fd(r, s)));
	r->fd[s] = -1;
}

static void op_write(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r);
	size_t len = gen_len(&r->rng);
	long off = gen_off(&r->rng);
	bool positional = chance(&r->rng, 50);
	long ret;

	gen_data(&r->rng, r->wbuf, len);
	times_forget_fd(r, s);
	if (positional) {
		snprintf(op, OPSZ, "pwrite64(slot%u, %zu bytes, %ld)", s, len,
			 off);
		ret = SC4(SYS_pwrite64, slot_fd(r, s), U(r->wbuf), len, off);
	} else {
		snprintf(op, OPSZ, "write(slot%u, %zu bytes)", s, len);
		ret = SC3(SYS_write, slot_fd(r, s), U(r->wbuf), len);
	}
	fmt_ret(res, RESSZ, ret);
}

static void op_read(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r);
	size_t len = gen_len(&r->rng);
	long off = gen_off(&r->rng);
	bool positional = chance(&r->rng, 50);
	long ret;

	memset(r->rbuf, 0xa5, len);
	times_forget_fd(r, s);
	if (positional) {
		snprintf(op, OPSZ, "pread64(slot%u, %zu, %ld)", s, len, off);
		ret = SC4(SYS_pread64, slot_fd(r, s), U(r->rbuf), len, off);
	} else {
		snprintf(op, OPSZ, "read(slot%u, %zu)", s, len);
		ret = SC3(SYS_read, slot_fd(r, s), U(r->rbuf), len);
	}
	if (ret > 0)
		snprintf(res, RESSZ, "%ld hash=%016" PRIx64, ret,
			 fnv1a(r->rbuf, ret));
	else
		fmt_ret(res, RESSZ, ret);
}

/*
 * Whether [from, to) of the file behind slot s reads as zeros on this
 * side: 1 yes, 0 no, -1 unknown (the descriptor cannot read).
 */
static int reads_zero(struct dt_run *r, unsigned int s, int64_t from,
		      int64_t to)
{
	struct dt_target *t = r->t;

	while (from < to) {
		size_t n = to - from < DT_BUFSZ ? (size_t)(to - from)
						: DT_BUFSZ;
		long got = SC4(SYS_pread64, slot_fd(r, s), U(r->rbuf), n, from);

		if (got <= 0)
			return -1;
		for (long i = 0; i < got; i++)
			if (r->rbuf[i])
				return 0;
		from += got;
	}
	return 1;
}

/*
 * SEEK_DATA/SEEK_HOLE at off (0 <= off < size) on a file with
 * preallocated ranges. Linux leaves the answer to the file system here:
 * ext4 reports an unwritten extent as a hole, or as data while its pages
 * are dirty in the cache; tmpfs reports it as data; and man 2 lseek lets
 * any file system report a hole as data (a run of zeros), never data as a
 * hole. So each side's answer is checked against its own content, and
 * only the verdict is compared:
 *   SEEK_DATA = d:   off <= d < size and [off, d) reads as zeros;
 *   SEEK_DATA ENXIO: [off, size) reads as zeros;
 *   SEEK_HOLE = h:   off <= h <= size, and h == size or [h, the next
 *                    4 KiB boundary) reads as zeros (both file systems
 *                    here work in 4 KiB blocks or pages).
 * Any other error is printed as it is. The file position is put back,
 * since the two sides may legitimately land in different places, and the
 * file's times are no longer compared (the check reads it).
 */
static void seek_prealloc(struct dt_run *r, unsigned int s, long off,
			  unsigned int whence, int64_t size, char *res)
{
	struct dt_target *t = r->t;
	long fl = SC2(SYS_fcntl, slot_fd(r, s), F_GETFL);
	long pos = SC3(SYS_lseek, slot_fd(r, s), 0, SEEK_CUR);
	long ret = SC3(SYS_lseek, slot_fd(r, s), off, whence);
	int z = 1;

	/* A write-only descriptor cannot check: the same on both sides. */
	if (fl >= 0 && ((fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH))) {
		if (ret >= 0 && pos >= 0)
			SC3(SYS_lseek, slot_fd(r, s), pos, SEEK_SET);
		snprintf(res, RESSZ, "(preallocated, write-only: not compared)");
		return;
	}

	times_forget_fd(r, s);
	if (pos >= 0)
		SC3(SYS_lseek, slot_fd(r, s), pos, SEEK_SET);
	if (ret < 0 && !(whence == SEEK_DATA && ret == -ENXIO)) {
		fmt_ret(res, RESSZ, ret);
		return;
	}
	if (ret == -ENXIO)
		z = reads_zero(r, s, off, size);
	else if (ret < off || ret > size || (whence == SEEK_DATA && ret == size))
		z = 0;
	else if (whence == SEEK_DATA)
		z = reads_zero(r, s, off, ret);
	else if (ret < size)
		z = reads_zero(r, s, ret,
			       ((ret >> 12) + 1) << 12 < size
				       ? ((ret >> 12) + 1) << 12
				       : size);
	if (z)
		snprintf(res, RESSZ, "(preallocated: an answer lseek(2) allows%s)",
			 z < 0 ? ", content not readable" : "");
	else
		snprintf(res, RESSZ, "(preallocated: %ld contradicts the data)",
			 ret);
}

static void op_lseek(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	static const char *const wn[] = {"SET", "CUR", "END", "DATA", "HOLE"};
	unsigned int s = pick_slot(r);
	unsigned int whence = below(&r->rng, 100) < 85 ? below(&r->rng, 3)
						       : 3 + below(&r->rng, 2);
	long off = gen_off(&r->rng);

	struct stat st;

	if (whence != 0 && chance(&r->rng, 40))
		off = -off / 4;
	snprintf(op, OPSZ, "lseek(slot%u, %ld, SEEK_%s)", s, off, wn[whence]);
	/* Directory offsets are cookies that each file system chooses. */
	if (r->fd[s] >= 0 && SC2(SYS_fstat, r->fd[s], U(&st)) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(res, RESSZ, "(directory: not compared)");
			return;
		}
		if (whence >= 3 && prealloc_has(r, st.st_ino) && off >= 0 &&
		    off < st.st_size) {
			seek_prealloc(r, s, off, whence, st.st_size, res);
			return;
		}
	}
	fmt_ret(res, RESSZ, SC3(SYS_lseek, slot_fd(r, s), off, whence));
}

static void op_truncate(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	long len = chance(&r->rng, 30) ? (long)below(&r->rng, 100)
				       : gen_off(&r->rng);

	if (chance(&r->rng, 3))
		len = -1;
	if (chance(&r->rng, 50)) {
		unsigned int s = pick_slot(r);
		times_forget_fd(r, s);
		snprintf(op, OPSZ, "ftruncate(slot%u, %ld)", s, len);
		fmt_ret(res, RESSZ, SC2(SYS_ftruncate, slot_fd(r, s), len));
	} else {
		char path[PATHSZ];
		gen_path(&r->rng, path, sizeof(path));
		times_forget_path(r, DT_FDCWD, path, true);
		snprintf(op, OPSZ, "truncate(\"%s\", %ld)", path, len);
		fmt_ret(res, RESSZ, SC2(SYS_truncate, U(path), len));
	}
}

static void op_rename(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char a[PATHSZ], b[PATHSZ], da[16], db[16];
	unsigned int k = below(&r->rng, 100);
	unsigned int flags = k < 60   ? 0
			     : k < 78 ? RENAME_NOREPLACE
			     : k < 97 ? RENAME_EXCHANGE
				      : RENAME_NOREPLACE | RENAME_EXCHANGE;
	unsigned long fa = pick_dirfd(r, da, sizeof(da));
	unsigned long fb = pick_dirfd(r, db, sizeof(db));
	long ret;

	gen_path(&r->rng, a, sizeof(a));
	gen_path(&r->rng, b, sizeof(b));
	if (!flags && fa == DT_FDCWD && fb == DT_FDCWD && chance(&r->rng, 40)) {
		snprintf(op, OPSZ, "rename(\"%s\", \"%s\")", a, b);
		ret = SC2(SYS_rename, U(a), U(b));
	} else {
		snprintf(op, OPSZ, "renameat2(%s, \"%s\", %s, \"%s\", %s)", da,
			 a, db, b,
			 flags == 0		     ? "0"
			 : flags == RENAME_NOREPLACE ? "NOREPLACE"
			 : flags == RENAME_EXCHANGE  ? "EXCHANGE"
						     : "NOREPLACE|EXCHANGE");
		ret = sc(t, SYS_renameat2, fa, U(a), fb, U(b), flags, 0);
	}
	if (ret == 0)
		times_forget_dirs(r);
	fmt_ret(res, RESSZ, ret);
}

static void op_link(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char a[PATHSZ], b[PATHSZ];
	bool follow = chance(&r->rng, 20);
	long ret;

	gen_path(&r->rng, a, sizeof(a));
	gen_path(&r->rng, b, sizeof(b));
	if (!follow && chance(&r->rng, 40)) {
		snprintf(op, OPSZ, "link(\"%s\", \"%s\")", a, b);
		ret = SC2(SYS_link, U(a), U(b));
	} else {
		snprintf(op, OPSZ, "linkat(CWD, \"%s\", CWD, \"%s\", %s)", a, b,
			 follow ? "SYMLINK_FOLLOW" : "0");
		ret = SC5(SYS_linkat, DT_FDCWD, U(a), DT_FDCWD, U(b),
			  follow ? AT_SYMLINK_FOLLOW : 0);
	}
	if (ret == 0)
		times_forget_dirs(r);
	fmt_ret(res, RESSZ, ret);
}

static void op_unlink(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], d[16];
	unsigned int k = below(&r->rng, 100);
	long ret;

	gen_path(&r->rng, path, sizeof(path));
	if (k < 40) {
		snprintf(op, OPSZ, "unlink(\"%s\")", path);
		ret = SC1(SYS_unlink, U(path));
	} else if (k < 70) {
		snprintf(op, OPSZ, "rmdir(\"%s\")", path);
		ret = SC1(SYS_rmdir, U(path));
	} else {
		bool dir = chance(&r->rng, 40);
		unsigned long dirfd = pick_dirfd(r, d, sizeof(d));
		snprintf(op, OPSZ, "unlinkat(%s, \"%s\", %s)", d, path,
			 dir ? "REMOVEDIR" : "0");
		ret = SC3(SYS_unlinkat, dirfd, U(path), dir ? AT_REMOVEDIR : 0);
	}
	if (ret == 0)
		times_forget_dirs(r);
	fmt_ret(res, RESSZ, ret);
}

static void op_mkdir(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], d[16];
	unsigned int mode = chance(&r->rng, 80) ? 0755 : gen_mode(&r->rng);
	unsigned long dirfd = pick_dirfd(r, d, sizeof(d));
	long ret;

	gen_path(&r->rng, path, sizeof(path));
	if (dirfd == DT_FDCWD && chance(&r->rng, 50)) {
		snprintf(op, OPSZ, "mkdir(\"%s\", %04o)", path, mode);
		ret = SC2(SYS_mkdir, U(path), mode);
	} else {
		snprintf(op, OPSZ, "mkdirat(%s, \"%s\", %04o)", d, path, mode);
		ret = SC3(SYS_mkdirat, dirfd, U(path), mode);
	}
	if (ret == 0)
		created(r, dirfd, path);
	fmt_ret(res, RESSZ, ret);
}

static void op_mknod(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int mode = S_IFREG | gen_mode(&r->rng);

	gen_path(&r->rng, path, sizeof(path));
	snprintf(op, OPSZ, "mknodat(CWD, \"%s\", S_IFREG|%04o, 0)", path,
		 mode & 07777);
	long ret = SC4(SYS_mknodat, DT_FDCWD, U(path), mode, 0);
	if (ret == 0)
		created(r, DT_FDCWD, path);
	fmt_ret(res, RESSZ, ret);
}

static void op_symlink(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char target[PATHSZ], path[PATHSZ];
	long ret;

	gen_target(&r->rng, target, sizeof(target));
	gen_path(&r->rng, path, sizeof(path));
	if (chance(&r->rng, 50)) {
		snprintf(op, OPSZ, "symlink(\"%s\", \"%s\")", target, path);
		ret = SC2(SYS_symlink, U(target), U(path));
	} else {
		snprintf(op, OPSZ, "symlinkat(\"%s\", CWD, \"%s\")", target,
			 path);
		ret = SC3(SYS_symlinkat, U(target), DT_FDCWD, U(path));
	}
	if (ret == 0)
		created(r, DT_FDCWD, path);
	fmt_ret(res, RESSZ, ret);
}

static void op_readlink(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], buf[300];
	size_t size = chance(&r->rng, 80) ? sizeof(buf) : below(&r->rng, 6);
	long ret;

	gen_path(&r->rng, path, sizeof(path));
	times_forget_path(r, DT_FDCWD, path, false);
	memset(buf, 0, sizeof(buf));
	if (chance(&r->rng, 50)) {
		snprintf(op, OPSZ, "readlink(\"%s\", %zu)", path, size);
		ret = SC3(SYS_readlink, U(path), U(buf), size);
	} else {
		snprintf(op, OPSZ, "readlinkat(CWD, \"%s\", %zu)", path, size);
		ret = SC4(SYS_readlinkat, DT_FDCWD, U(path), U(buf), size);
	}
	if (ret >= 0)
		snprintf(res, RESSZ, "%ld \"%.*s\"", ret, (int)ret, buf);
	else
		fmt_ret(res, RESSZ, ret);
}

static void op_chmod(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int mode = gen_mode(&r->rng);
	unsigned int k = below(&r->rng, 100);
	long ret;

	if (k < 25) {
		unsigned int s = pick_slot(r);
		snprintf(op, OPSZ, "fchmod(slot%u, %04o)", s, mode);
		ret = SC2(SYS_fchmod, slot_fd(r, s), mode);
	} else {
		gen_path(&r->rng, path, sizeof(path));
		if (k < 60) {
			snprintf(op, OPSZ, "chmod(\"%s\", %04o)", path, mode);
			ret = SC2(SYS_chmod, U(path), mode);
		} else {
			snprintf(op, OPSZ, "fchmodat(CWD, \"%s\", %04o)", path,
				 mode);
			ret = SC3(SYS_fchmodat, DT_FDCWD, U(path), mode);
		}
	}
	fmt_ret(res, RESSZ, ret);
}

static void op_chown(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	static const unsigned int ids[] = {0, 65534, 1000, (unsigned int)-1};
	char path[PATHSZ];
	unsigned int uid = ids[below(&r->rng, 4)], gid = ids[below(&r->rng, 4)];
	bool nofollow = chance(&r->rng, 30);

	gen_path(&r->rng, path, sizeof(path));
	snprintf(op, OPSZ, "fchownat(CWD, \"%s\", %d, %d, %s)", path, (int)uid,
		 (int)gid, nofollow ? "SYMLINK_NOFOLLOW" : "0");
	fmt_ret(res, RESSZ,
		SC5(SYS_fchownat, DT_FDCWD, U(path), uid, gid,
		    nofollow ? AT_SYMLINK_NOFOLLOW : 0));
}

/* Explicit times from 1995 to 2015, or UTIME_OMIT / UTIME_NOW. */
static void gen_ts(struct dt_rng *r, struct timespec *ts, const char **desc,
		   char *buf, size_t size)
{
	unsigned int k = below(r, 100);
	if (k < 8) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		*desc = "OMIT";
	} else if (k < 12) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
		*desc = "NOW";
	} else {
		ts->tv_sec = 800000000 + below(r, 630000000);
		ts->tv_nsec = chance(r, 30) ? 0 : below(r, 1000000000);
		snprintf(buf, size, "%lld.%09ld", (long long)ts->tv_sec,
			 ts->tv_nsec);
		*desc = buf;
	}
}

static void op_utimensat(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], ab[32], mb[32], b[32];
	const char *ad, *md;
	struct timespec ts[2];
	bool nofollow = chance(&r->rng, 25);
	unsigned long flags = nofollow ? AT_SYMLINK_NOFOLLOW : 0;
	struct stat st;

	gen_path(&r->rng, path, sizeof(path));
	gen_ts(&r->rng, &ts[0], &ad, ab, sizeof(ab));
	gen_ts(&r->rng, &ts[1], &md, mb, sizeof(mb));
	snprintf(op, OPSZ, "utimensat(CWD, \"%s\", {%s, %s}, %s)", path, ad, md,
		 nofollow ? "SYMLINK_NOFOLLOW" : "0");
	long ret = SC4(SYS_utimensat, DT_FDCWD, U(path), U(ts), flags);
	if (ret != 0) {
		fmt_ret(res, RESSZ, ret);
		return;
	}
	long sr = SC4(SYS_newfstatat, DT_FDCWD, U(path), U(&st), flags);
	if (sr != 0) {
		snprintf(res, RESSZ, "0 stat=%s", fmt_ret(b, sizeof(b), sr));
		return;
	}
	/* Report the times that were given explicitly, as read back. */
	size_t n = snprintf(res, RESSZ, "0");
	if (ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec != UTIME_NOW)
		n += snprintf(res + n, RESSZ - n, " atime=%lld.%09ld",
			      (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	if (ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec != UTIME_NOW)
		snprintf(res + n, RESSZ - n, " mtime=%lld.%09ld",
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (ts[0].tv_nsec >= 0 && ts[0].tv_nsec < 1000000000 &&
	    ts[1].tv_nsec >= 0 && ts[1].tv_nsec < 1000000000)
		times_remember(r, &st);
	else
		times_forget_ino(r, st.st_ino);
}

static void op_fsync(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r);
	bool data = chance(&r->rng, 30);

	snprintf(op, OPSZ, "%s(slot%u)", data ? "fdatasync" : "fsync", s);
	fmt_ret(res, RESSZ,
		SC1(data ? SYS_fdatasync : SYS_fsync, slot_fd(r, s)));
}

static void op_lock(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	static const char *const tn[] = {"RDLCK", "WRLCK", "UNLCK"};
	static const short types[] = {F_RDLCK, F_WRLCK, F_UNLCK};
	unsigned int s = pick_slot(r);
	unsigned int k = below(&r->rng, 100);
	struct flock fl;
	unsigned int ti = below(&r->rng, 3);
	bool ofd = chance(&r->rng, 50);
	bool get = chance(&r->rng, 35);
	int cmd;

	if (k < 20) {
		static const int ops[] = {LOCK_SH, LOCK_EX, LOCK_UN};
		static const char *const on[] = {"SH", "EX", "UN"};
		unsigned int o = below(&r->rng, 3);
		snprintf(op, OPSZ, "flock(slot%u, LOCK_%s|LOCK_NB)", s, on[o]);
		fmt_ret(res, RESSZ,
			SC2(SYS_flock, slot_fd(r, s), ops[o] | LOCK_NB));
		return;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = types[ti];
	fl.l_whence = below(&r->rng, 10) < 8 ? SEEK_SET : SEEK_CUR;
	fl.l_start = below(&r->rng, 300);
	fl.l_len = chance(&r->rng, 20) ? 0
				       : (long)below(&r->rng, 200) -
						 (chance(&r->rng, 5) ? 250 : 0);
	if (ofd)
		cmd = get ? F_OFD_GETLK : F_OFD_SETLK;
	else
		cmd = get ? F_GETLK : F_SETLK;
	snprintf(op, OPSZ, "fcntl(slot%u, %s, {%s, %s, %lld, %lld})", s,
		 ofd ? (get ? "F_OFD_GETLK" : "F_OFD_SETLK")
		     : (get ? "F_GETLK" : "F_SETLK"),
		 tn[ti], fl.l_whence == SEEK_SET ? "SET" : "CUR",
		 (long long)fl.l_start, (long long)fl.l_len);
	long ret = SC3(SYS_fcntl, slot_fd(r, s), cmd, U(&fl));
	if (ret == 0 && get) {
		if (fl.l_type == F_UNLCK)
			snprintf(res, RESSZ, "0 UNLCK");
		else
			snprintf(res, RESSZ, "0 %s %lld+%lld pid%s",
				 fl.l_type == F_RDLCK ? "RDLCK" : "WRLCK",
				 (long long)fl.l_start, (long long)fl.l_len,
				 fl.l_pid == -1 ? "=-1" : ">0");
	} else {
		fmt_ret(res, RESSZ, ret);
	}
}

static void op_fcntl(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r);
	unsigned int k = below(&r->rng, 5);
	long ret;

	switch (k) {
	case 0:
		snprintf(op, OPSZ, "fcntl(slot%u, F_GETFL)", s);
		ret = SC2(SYS_fcntl, slot_fd(r, s), F_GETFL);
		break;
	case 1: {
		int fl = chance(&r->rng, 50) ? O_APPEND : 0;
		fl |= chance(&r->rng, 30) ? O_NONBLOCK : 0;
		snprintf(op, OPSZ, "fcntl(slot%u, F_SETFL, %#x)", s, fl);
		ret = SC3(SYS_fcntl, slot_fd(r, s), F_SETFL, fl);
		break;
	}
	case 2:
		snprintf(op, OPSZ, "fcntl(slot%u, F_GETFD)", s);
		ret = SC2(SYS_fcntl, slot_fd(r, s), F_GETFD);
		break;
	case 3: {
		int fl = chance(&r->rng, 50) ? FD_CLOEXEC : 0;
		snprintf(op, OPSZ, "fcntl(slot%u, F_SETFD, %d)", s, fl);
		ret = SC3(SYS_fcntl, slot_fd(r, s), F_SETFD, fl);
		break;
	}
	default: {
		unsigned int d = below(&r->rng, DT_SLOTS);
		if (d == s) {
			snprintf(op, OPSZ, "fcntl(slot%u, F_DUPFD) -> same", s);
			ret = SC3(SYS_fcntl, slot_fd(r, s), F_DUPFD, 10);
			if (ret >= 0) {
				SC1(SYS_close, ret);
				ret = 0;
			}
			break;
		}
		slot_close(r, d);
		snprintf(op, OPSZ,
			 "fcntl(slot%u, F_DUPFD_CLOEXEC, 10) -> slot%u", s, d);
		ret = SC3(SYS_fcntl, slot_fd(r, s), F_DUPFD_CLOEXEC, 10);
		if (ret >= 0) {
			r->fd[d] = (int)ret;
			ret = 0;
		}
		break;
	}
	}
	fmt_ret(res, RESSZ, ret);
}

static void op_stat(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], d[16], sb[128];
	unsigned int k = below(&r->rng, 100);
	struct stat st;
	long ret;

	if (k < 15) {
		unsigned int s = pick_slot(r);
		snprintf(op, OPSZ, "fstat(slot%u)", s);
		ret = SC2(SYS_fstat, slot_fd(r, s), U(&st));
	} else {
		gen_path(&r->rng, path, sizeof(path));
		if (k < 40) {
			snprintf(op, OPSZ, "stat(\"%s\")", path);
			ret = SC2(SYS_stat, U(path), U(&st));
		} else if (k < 65) {
			snprintf(op, OPSZ, "lstat(\"%s\")", path);
			ret = SC2(SYS_lstat, U(path), U(&st));
		} else {
			bool nf = chance(&r->rng, 50);
			unsigned long dirfd = pick_dirfd(r, d, sizeof(d));
			snprintf(op, OPSZ, "newfstatat(%s, \"%s\", %s)", d,
				 path, nf ? "SYMLINK_NOFOLLOW" : "0");
			ret = SC4(SYS_newfstatat, dirfd, U(path), U(&st),
				  nf ? AT_SYMLINK_NOFOLLOW : 0);
		}
	}
	if (ret == 0) {
		fmt_stat(sb, sizeof(sb), &st);
		snprintf(res, RESSZ, "0 %s", sb);
	} else {
		fmt_ret(res, RESSZ, ret);
	}
}

static void op_access(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int mode = below(&r->rng, 8);

	gen_path(&r->rng, path, sizeof(path));
	snprintf(op, OPSZ, "faccessat(CWD, \"%s\", %u)", path, mode);
	fmt_ret(res, RESSZ, SC3(SYS_faccessat, DT_FDCWD, U(path), mode));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads a directory with getdents64 into a sorted "name:type" list in out.
 * Returns 0 or the first error.
 */
static long list_dir(struct dt_target *t, unsigned long fd, char *out,
		     size_t size)
{
	char buf[4096];
	char *names[512];
	unsigned int n = 0;
	long ret;
	size_t len = 0;

	for (;;) {
		ret = SC3(SYS_getdents64, fd, U(buf), sizeof(buf));
		if (ret <= 0)
			break;
		for (long off = 0; off < ret;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *de = (void *)(buf + off);
			if (n < 512) {
				char *e = malloc(strlen(de->name) + 8);
				if (!e)
					abort();
				sprintf(e, "%s:%u", de->name, de->type);
				names[n++] = e;
			}
			off += de->reclen;
		}
	}
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (unsigned int i = 0; i < n; i++) {
		if (len + strlen(names[i]) + 2 < size)
			len += snprintf(out + len, size - len, "%s%s",
					i ? " " : "", names[i]);
		free(names[i]);
	}
	return ret;
}

static void op_getdents(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ], list[400], b[32];

	if (chance(&r->rng, 30)) {
		unsigned int s = pick_slot(r);
		times_forget_fd(r, s);
		snprintf(op, OPSZ, "getdents64(slot%u) from 0", s);
		/* From the start: entries added after the end are unspecified.
		 */
		SC3(SYS_lseek, slot_fd(r, s), 0, SEEK_SET);
		long ret = list_dir(t, slot_fd(r, s), list, sizeof(list));
		/* And back: the end's offset is a cookie of the file system. */
		SC3(SYS_lseek, slot_fd(r, s), 0, SEEK_SET);
		snprintf(res, RESSZ, "%s [%s]", fmt_ret(b, sizeof(b), ret),
			 list);
		return;
	}
	gen_path(&r->rng, path, sizeof(path));
	snprintf(op, OPSZ, "listdir(\"%s\")", path);
	long fd = SC4(SYS_openat, DT_FDCWD, U(path),
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0) {
		fmt_ret(res, RESSZ, fd);
		return;
	}
	struct stat st;
	if (SC2(SYS_fstat, fd, U(&st)) == 0)
		times_forget_ino(r, st.st_ino);
	long ret = list_dir(t, fd, list, sizeof(list));
	SC1(SYS_close, fd);
	snprintf(res, RESSZ, "%s [%s]", fmt_ret(b, sizeof(b), ret), list);
}

static const struct dt_op dt_ops[] = {
	{"open", 20, op_open},		{"creat", 2, op_creat},
	{"close", 4, op_close},		{"write", 14, op_write},
	{"read", 10, op_read},		{"lseek", 4, op_lseek},
	{"truncate", 5, op_truncate},	{"rename", 8, op_rename},
	{"link", 4, op_link},		{"unlink", 8, op_unlink},
	{"mkdir", 7, op_mkdir},		{"mknod", 1, op_mknod},
	{"symlink", 4, op_symlink},	{"readlink", 3, op_readlink},
	{"chmod", 4, op_chmod},		{"chown", 2, op_chown},
	{"utimensat", 4, op_utimensat}, {"fsync", 2, op_fsync},
	{"lock", 6, op_lock},		{"fcntl", 4, op_fcntl},
	{"stat", 10, op_stat},		{"access", 3, op_access},
	{"getdents", 4, op_getdents},
};

/* ---- the extra operations (cfg->extras)
 * ----------------------------------------- */

static void op_fallocate(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	static const struct {
		int mode;
		const char *name;
	} modes[] = {
		{0, "0"},
		{FALLOC_FL_KEEP_SIZE, "KEEP_SIZE"},
		{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		 "PUNCH_HOLE|KEEP_SIZE"},
		{FALLOC_FL_PUNCH_HOLE, "PUNCH_HOLE"},
	};
	unsigned int s = pick_slot(r);
	unsigned int m = below(&r->rng, 100) < 30 ? 0 : 1 + below(&r->rng, 3);
	long off = gen_off(&r->rng), len = (long)gen_len(&r->rng);

	if (m == 3 && chance(&r->rng, 70))
		m = 2;
	times_forget_fd(r, s);
	snprintf(op, OPSZ, "fallocate(slot%u, %s, %ld, %ld)", s, modes[m].name,
		 off, len);
	long ret = SC4(SYS_fallocate, slot_fd(r, s), modes[m].mode, off, len);
	struct stat st;
	if (ret == 0 && m < 2 && SC2(SYS_fstat, slot_fd(r, s), U(&st)) == 0 &&
	    !prealloc_has(r, st.st_ino) && r->nprealloc < 128)
		r->prealloc[r->nprealloc++] = st.st_ino;
	fmt_ret(res, RESSZ, ret);
}

static void op_copy_file_range(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int in = pick_slot(r), out = pick_slot(r);
	int64_t offin = gen_off(&r->rng), offout = gen_off(&r->rng);
	bool pin = chance(&r->rng, 70), pout = chance(&r->rng, 70);
	size_t len = gen_len(&r->rng);
	char b[32];

	times_forget_fd(r, in);
	times_forget_fd(r, out);
	snprintf(op, OPSZ,
		 "copy_file_range(slot%u, %s%lld, slot%u, %s%lld, %zu)", in,
		 pin ? "&" : "NULL/", (long long)offin, out,
		 pout ? "&" : "NULL/", (long long)offout, len);
	long ret =
		sc(t, SYS_copy_file_range, slot_fd(r, in), pin ? U(&offin) : 0,
		   slot_fd(r, out), pout ? U(&offout) : 0, len, 0);
	snprintf(res, RESSZ, "%s offs=%lld,%lld", fmt_ret(b, sizeof(b), ret),
		 (long long)offin, (long long)offout);
}

/* An attribute name: user.* mostly, trusted.* or an unknown namespace. */
static const char *gen_xname(struct dt_rng *r)
{
	static const char *const names[] = {
		"user.a",    "user.b",	"user.c", "user.long_attribute_name",
		"trusted.t", "bogus.x", "user.",
	};
	unsigned int k = below(r, 100);
	return names[k < 80 ? below(r, 4) : k < 92 ? 4 : k < 97 ? 5 : 6];
}

/* Sorts a NUL-separated name list into "a,b,c". */
static void fmt_xlist(char *out, size_t size, const char *list, long n)
{
	char *names[64];
	unsigned int cnt = 0;
	size_t len = 0;

	for (long i = 0; i < n && cnt < 64; i += strlen(list + i) + 1)
		names[cnt++] = (char *)list + i;
	qsort(names, cnt, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (unsigned int i = 0; i < cnt && len + 2 < size; i++)
		len += snprintf(out + len, size - len, "%s%s", i ? "," : "",
				names[i]);
}

static void op_xattr(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	static const char *const flagn[] = {"0", "CREATE", "REPLACE"};
	char path[PATHSZ], val[128], buf[256], list[256];
	unsigned int k = below(&r->rng, 100);
	unsigned int how = below(&r->rng, 3); /* path, lpath, slot */
	unsigned int s = pick_slot(r);
	const char *name = gen_xname(&r->rng);
	const char *pfx = how == 0 ? "" : how == 1 ? "l" : "f";
	char where[PATHSZ + 16];
	long nr, ret;

	gen_path(&r->rng, path, sizeof(path));
	if (how == 2)
		snprintf(where, sizeof(where), "slot%u", s);
	else
		snprintf(where, sizeof(where), "\"%s\"", path);
	unsigned long a0 = how == 2 ? slot_fd(r, s) : U(path);

	if (k < 35) {
		unsigned int f =
			below(&r->rng, 10) < 6 ? 0 : 1 + below(&r->rng, 2);
		size_t len = below(&r->rng, sizeof(val));
		gen_data(&r->rng, (unsigned char *)val, len);
		nr = how == 0	? SYS_setxattr
		     : how == 1 ? SYS_lsetxattr
				: SYS_fsetxattr;
		snprintf(op, OPSZ, "%ssetxattr(%s, %s, %zu bytes, %s)", pfx,
			 where, name, len, flagn[f]);
		ret = SC5(nr, a0, U(name), U(val), len, f);
		fmt_ret(res, RESSZ, ret);
	} else if (k < 65) {
		size_t size =
			chance(&r->rng, 80) ? sizeof(buf) : below(&r->rng, 8);
		nr = how == 0	? SYS_getxattr
		     : how == 1 ? SYS_lgetxattr
				: SYS_fgetxattr;
		snprintf(op, OPSZ, "%sgetxattr(%s, %s, %zu)", pfx, where, name,
			 size);
		ret = SC4(nr, a0, U(name), U(buf), size);
		if (ret > 0 && size)
			snprintf(res, RESSZ, "%ld hash=%016" PRIx64, ret,
				 fnv1a(buf, ret));
		else
			fmt_ret(res, RESSZ, ret);
	} else if (k < 85) {
		size_t size =
			chance(&r->rng, 85) ? sizeof(buf) : below(&r->rng, 8);
		nr = how == 0	? SYS_listxattr
		     : how == 1 ? SYS_llistxattr
				: SYS_flistxattr;
		snprintf(op, OPSZ, "%slistxattr(%s, %zu)", pfx, where, size);
		ret = SC3(nr, a0, U(buf), size);
		if (ret > 0 && size) {
			fmt_xlist(list, sizeof(list), buf, ret);
			snprintf(res, RESSZ, "%ld [%s]", ret, list);
		} else {
			fmt_ret(res, RESSZ, ret);
		}
	} else {
		nr = how == 0	? SYS_removexattr
		     : how == 1 ? SYS_lremovexattr
				: SYS_fremovexattr;
		snprintf(op, OPSZ, "%sremovexattr(%s, %s)", pfx, where, name);
		fmt_ret(res, RESSZ, SC2(nr, a0, U(name)));
	}
}

static void op_tmpfile(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int s = below(&r->rng, DT_SLOTS);
	bool excl = chance(&r->rng, 20);
	unsigned int mode = gen_mode(&r->rng);

	gen_path(&r->rng, path, sizeof(path));
	slot_close(r, s);
	snprintf(op, OPSZ,
		 "openat(CWD, \"%s\", RDWR|TMPFILE%s, %04o) -> slot%u", path,
		 excl ? "|EXCL" : "", mode, s);
	long ret = SC4(SYS_openat, DT_FDCWD, U(path),
		       O_RDWR | O_TMPFILE | (excl ? O_EXCL : 0), mode);
	if (ret >= 0) {
		struct stat st;
		char sb[128];
		r->fd[s] = (int)ret;
		if (SC2(SYS_fstat, ret, U(&st)) == 0) {
			times_forget_ino(r, st.st_ino);
			prealloc_forget(r, st.st_ino);
			fmt_stat(sb, sizeof(sb), &st);
			snprintf(res, RESSZ, "fd %s", sb);
		} else {
			snprintf(res, RESSZ, "fd");
		}
	} else {
		fmt_ret(res, RESSZ, ret);
	}
}

static void op_link_fd(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	char path[PATHSZ];
	unsigned int s = pick_slot(r);

	gen_path(&r->rng, path, sizeof(path));
	snprintf(op, OPSZ, "linkat(slot%u, \"\", CWD, \"%s\", EMPTY_PATH)", s,
		 path);
	long ret = SC5(SYS_linkat, slot_fd(r, s), U(""), DT_FDCWD, U(path),
		       AT_EMPTY_PATH);
	if (ret == 0)
		times_forget_dirs(r);
	fmt_ret(res, RESSZ, ret);
}

static void op_dup(struct dt_run *r, char *op, char *res)
{
	struct dt_target *t = r->t;
	unsigned int s = pick_slot(r), d = pick_slot(r);
	unsigned int k = below(&r->rng, 3);
	long ret;

	if (k == 0) {
		d = below(&r->rng, DT_SLOTS);
		if (d == s) {
			snprintf(op, OPSZ, "dup(slot%u) and close", s);
			ret = SC1(SYS_dup, slot_fd(r, s));
			if (ret >= 0) {
				SC1(SYS_close, ret);
				ret = 0;
			}
		} else {
			slot_close(r, d);
			snprintf(op, OPSZ, "dup(slot%u) -> slot%u", s, d);
			ret = SC1(SYS_dup, slot_fd(r, s));
			if (ret >= 0) {
				r->fd[d] = (int)ret;
				ret = 0;
			}
		}
	} else if (r->fd[d] < 0 && d != s) {
		snprintf(op, OPSZ, "dup%s(slot%u, closed slot%u): skipped",
			 k == 1 ? "2" : "3", s, d);
		snprintf(res, RESSZ, "-");
		return;
	} else {
		bool cloexec = chance(&r->rng, 50);
		snprintf(op, OPSZ, "dup%s(slot%u, slot%u%s)",
			 k == 1 ? "2" : "3", s, d,
			 k == 2 && cloexec ? ", CLOEXEC" : "");
		if (k == 1)
			ret = SC2(SYS_dup2, slot_fd(r, s), slot_fd(r, d));
		else
			ret = SC3(SYS_dup3, slot_fd(r, s), slot_fd(r, d),
				  cloexec ? O_CLOEXEC : 0);
		if (ret >= 0)
			ret = 0;
	}
	fmt_ret(res, RESSZ, ret);
}

static const struct dt_op dt_extra_ops[] = {
	{"fallocate", 4, op_fallocate},
	{"copy_file_range", 3, op_copy_file_range},
	{"xattr", 10, op_xattr},
	{"tmpfile", 2, op_tmpfile},
	{"link_fd", 1, op_link_fd},
	{"dup", 3, op_dup},
};

/* ---- the run ------------------------------------------------------------- */

int dt_prepare(struct dt_target *t, unsigned int uid, unsigned int gid,
	       struct dt_log *log)
{
	char b[32];
	long ret, err = 0;

	ret = SC2(SYS_chmod, U("/"), 0755);
	dt_log_printf(log, "setup chmod(\"/\", 0755) = %s",
		      fmt_ret(b, sizeof(b), ret));
	err = err ? err : ret;
	ret = SC2(SYS_mkdir, U(DT_WORKDIR), 0755);
	dt_log_printf(log, "setup mkdir(\"%s\", 0755) = %s", DT_WORKDIR,
		      fmt_ret(b, sizeof(b), ret));
	err = err ? err : ret;
	ret = SC3(SYS_chown, U(DT_WORKDIR), uid, gid);
	dt_log_printf(log, "setup chown(\"%s\", %u, %u) = %s", DT_WORKDIR, uid,
		      gid, fmt_ret(b, sizeof(b), ret));
	return (int)(err ? err : ret);
}

int dt_run_ops(struct dt_target *t, const struct dt_config *cfg,
	       struct dt_log *log, struct dt_times *times)
{
	struct dt_times local_times;
	struct dt_run r;
	unsigned int total = 0;
	char op[OPSZ], res[RESSZ], b[32];
	int err = 0;

	memset(&r, 0, sizeof(r));
	r.t = t;
	r.rng.s = cfg->seed;
	r.log = log;
	r.times = times ? times : &local_times;
	r.times->n = 0;
	for (unsigned int i = 0; i < DT_SLOTS; i++)
		r.fd[i] = -1;
	r.wbuf = malloc(DT_BUFSZ);
	r.rbuf = malloc(DT_BUFSZ);
	if (!r.wbuf || !r.rbuf)
		abort();

	dt_log_printf(log, "setup umask(022) = %s",
		      fmt_ret(b, sizeof(b), SC1(SYS_umask, 022) >= 0 ? 0 : -1));
	dt_log_printf(log, "setup chdir(\"%s\") = %s", DT_WORKDIR,
		      fmt_ret(b, sizeof(b), SC1(SYS_chdir, U(DT_WORKDIR))));

	const struct dt_op *ops[64];
	size_t nops = 0;
	for (size_t i = 0; i < sizeof(dt_ops) / sizeof(dt_ops[0]); i++)
		ops[nops++] = &dt_ops[i];
	for (size_t i = 0;
	     cfg->extras && i < sizeof(dt_extra_ops) / sizeof(dt_extra_ops[0]);
	     i++)
		ops[nops++] = &dt_extra_ops[i];
	for (size_t i = 0; i < nops; i++)
		total += ops[i]->weight;
	struct dt_rng remount_rng = {cfg->seed ^ 0x72656d6f756e74ull};
	for (r.index = 1; r.index <= cfg->nops; r.index++) {
		if (cfg->remount_every &&
		    !below(&remount_rng, cfg->remount_every)) {
			unsigned int closed = 0;
			for (unsigned int i = 0; i < DT_SLOTS; i++) {
				closed += r.fd[i] >= 0;
				slot_close(&r, i);
			}
			err = t->between ? t->between(t, r.index) : 0;
			dt_log_printf(
				log, "#%lu remount: %u closed, between() = %s",
				r.index, closed, fmt_ret(b, sizeof(b), err));
			if (err)
				break;
		}
		unsigned int k = below(&r.rng, total);
		size_t i = 0;
		while (k >= ops[i]->weight)
			k -= ops[i++]->weight;
		op[0] = res[0] = '\0';
		ops[i]->fn(&r, op, res);
		dt_log_printf(log, "#%lu %s = %s", r.index, op, res);
	}
	for (unsigned int i = 0; i < DT_SLOTS; i++)
		slot_close(&r, i);
	free(r.wbuf);
	free(r.rbuf);
	return err;
}

/* ---- the tree dump ------------------------------------------------------- */

struct dt_dump {
	struct dt_target *t;
	const struct dt_times *times;
	struct dt_log *log;
	bool xattrs;
	uint64_t seen[1024]; /* inodes whose times were printed */
	unsigned int nseen;
	unsigned char *buf;
};

static bool dump_first_sight(struct dt_dump *d, uint64_t ino)
{
	for (unsigned int i = 0; i < d->nseen; i++)
		if (d->seen[i] == ino)
			return false;
	if (d->nseen < 1024)
		d->seen[d->nseen++] = ino;
	return true;
}

/* Appends " xattrs=[name:hash,...]" for path's attributes, sorted. */
static void dump_xattrs(struct dt_dump *d, const char *path, char *out,
			size_t size)
{
	struct dt_target *t = d->t;
	char names[1024], sorted[1024], val[1024], b[32];
	long n = SC3(SYS_llistxattr, U(path), U(names), sizeof(names));
	size_t len;

	if (n < 0) {
		snprintf(out, size, " xattrs=%s", fmt_ret(b, sizeof(b), n));
		return;
	}
	fmt_xlist(sorted, sizeof(sorted), names, n);
	len = snprintf(out, size, " xattrs=[");
	bool first = true;
	for (char *save, *e = strtok_r(sorted, ",", &save); e && len < size;
	     e = strtok_r(NULL, ",", &save), first = false) {
		long v = SC4(SYS_lgetxattr, U(path), U(e), U(val), sizeof(val));
		if (v >= 0)
			len += snprintf(out + len, size - len,
					"%s%s:%016" PRIx64, first ? "" : ",", e,
					fnv1a(val, v));
		else
			len += snprintf(out + len, size - len, "%s%s:%s",
					first ? "" : ",", e,
					fmt_ret(b, sizeof(b), v));
	}
	if (len < size)
		snprintf(out + len, size - len, "]");
}

static void dump_entry(struct dt_dump *d, const char *path, int depth)
{
	struct dt_target *t = d->t;
	struct stat st;
	char line[900], b[32], tm[96] = "";
	size_t n;
	long ret = SC4(SYS_newfstatat, DT_FDCWD, U(path), U(&st),
		       AT_SYMLINK_NOFOLLOW);

	if (ret) {
		dt_log_printf(d->log, "tree %s lstat=%s", path,
			      fmt_ret(b, sizeof(b), ret));
		return;
	}
	/* Times first: reading the file or directory below changes atime. */
	if (times_known(d->times, st.st_ino) && dump_first_sight(d, st.st_ino))
		snprintf(tm, sizeof(tm), " atime=%lld.%09ld mtime=%lld.%09ld",
			 (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	n = snprintf(line, sizeof(line), "tree %s ", path);
	fmt_stat(line + n, sizeof(line) - n, &st);
	n = strlen(line);
	if (S_ISREG(st.st_mode)) {
		long fd = SC4(SYS_openat, DT_FDCWD, U(path),
			      O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		uint64_t h = 0xcbf29ce484222325ull;
		long total = 0;
		if (fd < 0) {
			snprintf(line + n, sizeof(line) - n, " open=%s",
				 fmt_ret(b, sizeof(b), fd));
		} else {
			for (;;) {
				ret = SC3(SYS_read, fd, U(d->buf), DT_BUFSZ);
				if (ret <= 0)
					break;
				for (long i = 0; i < ret; i++)
					h = (h ^ d->buf[i]) * 0x100000001b3ull;
				total += ret;
			}
			SC1(SYS_close, fd);
			snprintf(line + n, sizeof(line) - n,
				 " read=%ld/%s hash=%016" PRIx64, total,
				 fmt_ret(b, sizeof(b), ret), h);
		}
	} else if (S_ISLNK(st.st_mode)) {
		char target[300];
		ret = SC4(SYS_readlinkat, DT_FDCWD, U(path), U(target),
			  sizeof(target));
		snprintf(line + n, sizeof(line) - n, " -> \"%.*s\"",
			 ret > 0 ? (int)ret : 0, target);
	}
	if (d->xattrs)
		dump_xattrs(d, path, line + strlen(line),
			    sizeof(line) - strlen(line));
	dt_log_printf(d->log, "%s%s", line, tm);
	if (!S_ISDIR(st.st_mode) || depth > 16)
		return;

	/* Children, in name order. */
	char list[4096];
	long fd = SC4(SYS_openat, DT_FDCWD, U(path),
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		dt_log_printf(d->log, "tree %s opendir=%s", path,
			      fmt_ret(b, sizeof(b), fd));
		return;
	}
	ret = list_dir(t, fd, list, sizeof(list));
	SC1(SYS_close, fd);
	if (ret < 0)
		dt_log_printf(d->log, "tree %s getdents=%s", path,
			      fmt_ret(b, sizeof(b), ret));
	for (char *save, *e = strtok_r(list, " ", &save); e;
	     e = strtok_r(NULL, " ", &save)) {
		char *colon = strrchr(e, ':');
		if (colon)
			*colon = '\0';
		if (!strcmp(e, ".") || !strcmp(e, ".."))
			continue;
		char child[600];
		snprintf(child, sizeof(child), "%s%s%s", path,
			 strcmp(path, "/") ? "/" : "", e);
		dump_entry(d, child, depth + 1);
	}
}

void dt_dump_tree(struct dt_target *t, const struct dt_config *cfg,
		  const struct dt_times *times, struct dt_log *log)
{
	struct dt_dump *d = calloc(1, sizeof(*d));

	if (!d || !(d->buf = malloc(DT_BUFSZ)))
		abort();
	d->t = t;
	d->times = times;
	d->log = log;
	d->xattrs = cfg->extras;
	dump_entry(d, "/", 0);
	free(d->buf);
	free(d);
}

/* ---- compare ------------------------------------------------------------- */

/* The next line of s at *pos (without its newline), or NULL at the end. */
static const char *next_line(const struct dt_log *log, size_t *pos, size_t *len)
{
	if (*pos >= log->len)
		return NULL;
	const char *s = log->buf + *pos;
	const char *nl = memchr(s, '\n', log->len - *pos);
	*len = nl ? (size_t)(nl - s) : log->len - *pos;
	*pos += *len + (nl ? 1 : 0);
	return s;
}

static void print_record(FILE *out, const char *who, const char *s, size_t n)
{
	fprintf(out, "  %-8s %.*s\n", who, (int)n, s);
}

int dt_compare(const struct dt_log *a, const char *aname,
	       const struct dt_log *b, const char *bname, uint64_t seed,
	       unsigned int max, FILE *out)
{
	size_t pa = 0, pb = 0, la = 0, lb = 0;
	unsigned long line = 0;
	unsigned int found = 0;

	for (;;) {
		const char *sa = next_line(a, &pa, &la);
		const char *sb = next_line(b, &pb, &lb);
		line++;
		if (!sa && !sb)
			return found;
		if (sa && sb && la == lb && !memcmp(sa, sb, la))
			continue;
		if (!found)
			fprintf(out,
				"difftest: MISMATCH seed=%" PRIu64
				" at record %lu\n"
				"  replay: UK_DIFF_SEED=%" PRIu64
				" (UK_DIFF_VERBOSE=1 prints every record)\n",
				seed, line, seed);
		else
			fprintf(out, "difftest: and at record %lu\n", line);
		if (sa)
			print_record(out, aname, sa, la);
		else
			fprintf(out, "  %-8s (log ended)\n", aname);
		if (sb)
			print_record(out, bname, sb, lb);
		else
			fprintf(out, "  %-8s (log ended)\n", bname);
		if (++found >= max || !sa || !sb)
			return found;
	}
}

/* ---- the native target --------------------------------------------------- */

static long native_syscall(struct dt_target *t, long nr,
			   const unsigned long a[6])
{
	long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return ret == -1 ? -errno : ret;
}

struct dt_target dt_native_target = {
	.name = "native",
	.syscall = native_syscall,
};
