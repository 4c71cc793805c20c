// SPDX-License-Identifier: MIT
/*
 * shim/shim_statcache.c - a stat cache that is never stale.
 *
 * The daemon bumps a change counter in the global vvar (uk_change_counter
 * (dev, ino), hashed, 4096 of them) after every change to an inode:
 * contents, attributes, and for a directory every name added or removed.
 * A stat result of path P depends on more than P's inode: on the name
 * lookups that led to it. So an entry records, beside the result, the
 * counters of every inode the walk went through: each directory on the
 * path (its names, and its search permission) and the final inode. It is
 * served while all of them still read as recorded.
 *
 * The counters must be read BEFORE the stat that produced the result:
 * a change after that read moves the counter, so the entry dies; a change
 * before it is in the result. Before a stat we do not know the inodes yet,
 * so a first miss only learns them (a "hint"); the next miss reads the
 * hinted inodes' counters first, stats again, and if the walk met the same
 * inodes the entry becomes valid. Every later stat is a hit until a change.
 * One miss asks for the path's components that have no valid entry yet
 * in ONE ring hand-off (uk_submit of lstat per component), so directories
 * become valid entries of their own and a lookup under a valid directory
 * costs one stat. Paths with a symlink among their components (or "."/"..")
 * are not cached: their result depends on the link's target walk.
 *
 * Results depend on the caller's credentials (search permission), so an
 * entry also records the task's euid/egid from the vvar. Negative results
 * (ENOENT, ENOTDIR, EACCES) are cached the same way (the directory's
 * counter covers a name appearing).
 *
 * Concurrency: a fixed table (no malloc: stat is async-signal-safe),
 * direct-mapped by a hash of the path; each entry is under a sequence
 * count. A writer takes the entry by moving the count from even to odd
 * (CAS: a writer that loses simply does not store), readers copy and
 * retry, as the vvar's own readers do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "client_internal.h"
#include "shimlib.h"

#define SC_ENTRIES 1024u      /* a power of two */
#define SC_PATH 200u          /* longer paths are not cached */
#define SC_DEPTH 24u          /* components, the root included */

struct sc_dep {
	uint64_t dev, ino, ctr;
};

struct sc_entry {
	_Atomic uint32_t seq;     /* odd while a writer fills it */
	uint8_t follow;           /* stat (1) or lstat (0) */
	uint8_t valid;            /* 0: a hint (inodes known, no result) */
	uint8_t ndeps;
	uint8_t isdir;            /* the result is a directory (lstat) */
	int32_t err;              /* 0, or the cached -errno */
	uint32_t euid, egid;
	char path[SC_PATH];
	struct sc_dep deps[SC_DEPTH]; /* root first; the last may be P */
	struct stat st;
};

static struct sc_entry sc_table[SC_ENTRIES] SHIM_COLD_BSS;
static _Atomic unsigned long sc_hits, sc_misses;

void shim_statcache_counts(unsigned long *hits, unsigned long *misses)
{
	*hits = sc_hits;
	*misses = sc_misses;
}

static uint32_t sc_hash(const char *p, size_t len, bool follow)
{
	uint32_t h = 2166136261u ^ follow;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static struct sc_entry *sc_slot(const char *p, size_t len, bool follow)
{
	return &sc_table[sc_hash(p, len, follow) & (SC_ENTRIES - 1)];
}

static uint64_t sc_ctr(uint64_t dev, uint64_t ino)
{
	return atomic_load_explicit(
		&uk_client.gv->counters[uk_vvar_inode_hash(dev, ino)],
		memory_order_acquire);
}

/* The task's effective ids from the vvar; false if it was busy. */
static bool sc_creds(uint32_t *euid, uint32_t *egid)
{
	int64_t ids[6];

	if (!uk_vvar_read_ids(ids))
		return false;
	*euid = (uint32_t)ids[3];
	*egid = (uint32_t)ids[5];
	return true;
}

/*
 * A consistent copy of the entry for (p, follow) into *out; false when the
 * slot holds another path or a writer was busy.
 */
static bool sc_read(const char *p, size_t len, bool follow,
		    struct sc_entry *out)
{
	struct sc_entry *e = sc_slot(p, len, follow);

	for (int tries = 0; tries < 4; tries++) {
		uint32_t s = atomic_load_explicit(&e->seq,
						  memory_order_acquire);

		if (s & 1)
			return false;
		out->follow = e->follow;
		out->valid = e->valid;
		out->ndeps = e->ndeps;
		out->isdir = e->isdir;
		out->err = e->err;
		out->euid = e->euid;
		out->egid = e->egid;
		memcpy(out->path, e->path, SC_PATH);
		memcpy(out->deps, e->deps, sizeof(out->deps));
		memcpy(&out->st, &e->st, sizeof(out->st));
		/* Orders the copies before the second count load. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s)
			continue;
		if (out->follow != follow || out->ndeps > SC_DEPTH ||
		    strncmp(out->path, p, len) || out->path[len])
			return false;
		return true;
	}
	return false;
}

/* Stores *in (path and all) into its slot unless a writer holds it. */
static void sc_write(const struct sc_entry *in)
{
	struct sc_entry *e = sc_slot(in->path, strlen(in->path), in->follow);
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	if ((s & 1) || !atomic_compare_exchange_strong_explicit(
			       &e->seq, &s, s + 1, memory_order_acquire,
			       memory_order_relaxed))
		return;
	/* The odd count before the fields: readers see it and retry. */
	atomic_thread_fence(memory_order_release);
	e->follow = in->follow;
	e->valid = in->valid;
	e->ndeps = in->ndeps;
	e->isdir = in->isdir;
	e->err = in->err;
	e->euid = in->euid;
	e->egid = in->egid;
	memcpy(e->path, in->path, SC_PATH);
	memcpy(e->deps, in->deps, sizeof(e->deps));
	memcpy(&e->st, &in->st, sizeof(e->st));
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* Whether a valid entry's counters (and the caller's ids) are unchanged. */
static bool sc_current(const struct sc_entry *e, uint32_t euid, uint32_t egid)
{
	if (!e->valid || e->euid != euid || e->egid != egid)
		return false;
	for (unsigned int i = 0; i < e->ndeps; i++)
		if (sc_ctr(e->deps[i].dev, e->deps[i].ino) != e->deps[i].ctr)
			return false;
	return true;
}

/*
 * Splits absolute path p into its prefixes: ends[i] is the length of the
 * i-th prefix ("/" is the first, length 1; then "/a", "/a/b", ...). Returns
 * their count, or 0 when p is not cacheable ("." or "..", empty components
 * other than a trailing slash are fine; too deep or too long is not).
 */
static unsigned int sc_split(const char *p, size_t len, size_t *ends)
{
	unsigned int n = 0;
	size_t i = 1;

	if (len >= SC_PATH || p[0] != '/')
		return 0;
	ends[n++] = 1;
	while (i < len) {
		size_t s;

		while (i < len && p[i] == '/')
			i++;
		if (i >= len)
			break;
		s = i;
		while (i < len && p[i] != '/')
			i++;
		if ((i - s == 1 && p[s] == '.') ||
		    (i - s == 2 && p[s] == '.' && p[s + 1] == '.'))
			return 0;
		if (n >= SC_DEPTH - 1)
			return 0;
		ends[n++] = i;
	}
	return n;
}

/* Whether hint h met the same inodes as e (counters aside). */
static bool same_inodes(const struct sc_entry *h, const struct sc_entry *e)
{
	if (h->ndeps != e->ndeps)
		return false;
	for (unsigned int i = 0; i < e->ndeps; i++)
		if (h->deps[i].dev != e->deps[i].dev ||
		    h->deps[i].ino != e->deps[i].ino)
			return false;
	return true;
}

static bool cacheable_err(long r)
{
	return r == -ENOENT || r == -ENOTDIR || r == -EACCES;
}

/*
 * The miss path: one batch with an lstat of every prefix from the first
 * one without a valid directory entry (and a stat of p when follow and p
 * turns out to be a link). Entries become valid where their hints
 * matched; the rest become hints. Returns what a plain stat of p returns.
 */
static int sc_fill(const char *p, size_t len, bool follow, struct stat *st,
		   uint32_t euid, uint32_t egid)
{
	size_t ends[SC_DEPTH];
	unsigned int n = sc_split(p, len, ends), first = 0, nreq = 0;
	struct sc_entry base, hint[SC_DEPTH];
	bool have_hint[SC_DEPTH], chain_ok;
	struct uk_req req[SC_DEPTH + 1];
	struct stat sts[SC_DEPTH + 1];
	char paths[SC_DEPTH][SC_PATH];
	uint64_t pre[SC_DEPTH];
	int ret;

	if (!n) {
		long r = shim_vcall(follow ? SYS_stat : SYS_lstat, p, st);
		return (int)r;
	}
	/* The deepest parent directory already valid: start below it. */
	base.ndeps = 0;
	for (unsigned int i = n - 1; i-- > 0;) {
		struct sc_entry e;

		if (sc_read(p, ends[i], false, &e) && e.isdir && !e.err &&
		    sc_current(&e, euid, egid)) {
			base = e;
			first = i + 1;
			break;
		}
	}
	/* Hints first, then their counters: both before the batch. */
	for (unsigned int i = first; i < n; i++) {
		have_hint[i] = sc_read(p, ends[i], false, &hint[i]) &&
			       !hint[i].err;
		if (have_hint[i] && hint[i].ndeps) {
			struct sc_dep *d = &hint[i].deps[hint[i].ndeps - 1];

			pre[i] = sc_ctr(d->dev, d->ino);
		}
	}
	for (unsigned int i = first; i < n; i++) {
		memcpy(paths[i], p, ends[i]);
		paths[i][ends[i]] = 0;
		req[nreq].nr = SYS_lstat;
		req[nreq].args[0] = (long)paths[i];
		req[nreq].args[1] = (long)&sts[i];
		nreq++;
	}
	if (uk_submit(req, nreq) < 0)
		return -EIO;
	/*
	 * stat of a path whose last component is no link is its lstat, and
	 * fails as its lstat fails; only a final link needs its own call.
	 */
	ret = (int)req[nreq - 1].result;
	if (!ret && follow && S_ISLNK(sts[n - 1].st_mode))
		ret = (int)shim_vcall(SYS_stat, paths[n - 1], &sts[n]);
	else
		sts[n] = sts[n - 1];
	if (!ret)
		*st = sts[n];

	/* Record what the walk met, prefix by prefix. */
	chain_ok = true;
	for (unsigned int i = first, k = 0; i < n; i++, k++) {
		long r = req[k].result;
		struct sc_entry e;
		const struct stat *s = &sts[i];
		bool last = i == n - 1;

		if (r < 0 && !(cacheable_err(r) && last))
			break;
		if (r == 0 && S_ISLNK(s->st_mode) && !last)
			break; /* a link in the middle: not ours to cache */
		memset(&e, 0, sizeof(e));
		memcpy(e.path, paths[i], ends[i] + 1);
		e.follow = 0;
		e.euid = euid;
		e.egid = egid;
		e.ndeps = base.ndeps;
		memcpy(e.deps, base.deps, sizeof(e.deps[0]) * base.ndeps);
		if (r == 0) {
			e.st = *s;
			e.isdir = S_ISDIR(s->st_mode);
			e.deps[e.ndeps].dev = s->st_dev;
			e.deps[e.ndeps].ino = s->st_ino;
			e.ndeps++;
		} else {
			e.err = (int32_t)r;
		}
		/* Valid when this and every earlier prefix matched a hint. */
		if (r == 0 && chain_ok && have_hint[i] &&
		    same_inodes(&hint[i], &e)) {
			e.deps[e.ndeps - 1].ctr = pre[i];
			e.valid = 1;
		} else if (r < 0 && chain_ok) {
			/* A negative result needs only its parents. */
			e.valid = 1;
		} else {
			chain_ok = false;
		}
		/* A hint's counters are not meaningful: mark them so. */
		if (!e.valid)
			for (unsigned int j = 0; j < e.ndeps; j++)
				e.deps[j].ctr = ~0ull;
		sc_write(&e);
		if (r < 0)
			break;
		base = e;
	}
	/*
	 * stat of a path whose last component is no link is its lstat: the
	 * same entry under the follow key (for a result or a cached error).
	 */
	if (follow && req[nreq - 1].result == ret &&
	    (ret ? cacheable_err(ret) : !S_ISLNK(sts[n - 1].st_mode))) {
		struct sc_entry e;

		if (sc_read(p, len, false, &e) && e.valid && e.err == ret) {
			e.follow = 1;
			if (!ret)
				e.st = *st;
			sc_write(&e);
		}
	}
	return ret;
}

int shim_statcache_stat(int vdirfd, const char *dpath, bool follow,
			struct stat *st)
{
	struct sc_entry e;
	uint32_t euid, egid;
	size_t len;

	/*
	 * A pointer below 4096 is the daemon's to refuse (EFAULT), as the
	 * ring client leaves it; a wild one faults here as in glibc.
	 */
	if ((uintptr_t)st < 4096 || vdirfd != AT_FDCWD || dpath[0] != '/' ||
	    shim_connect() < 0 || !sc_creds(&euid, &egid))
		return (int)shim_vcall(SYS_newfstatat, vdirfd, dpath, st,
				       follow ? 0 : AT_SYMLINK_NOFOLLOW);
	len = strlen(dpath);
	while (len > 1 && dpath[len - 1] == '/')
		len--; /* "/a/" is "/a" (a directory, or ENOTDIR below) */
	if (len != strlen(dpath) || len >= SC_PATH) {
		sc_misses++;
		return (int)shim_vcall(follow ? SYS_stat : SYS_lstat, dpath,
				       st);
	}
	if (sc_read(dpath, len, follow, &e) && sc_current(&e, euid, egid)) {
		sc_hits++;
		if (e.err)
			return e.err;
		*st = e.st;
		return 0;
	}
	sc_misses++;
	return sc_fill(dpath, len, follow, st, euid, egid);
}

long shim_statcache_fstatat(int vdirfd, const char *dpath, void *st,
			    int flags)
{
	if (flags & ~AT_SYMLINK_NOFOLLOW)
		return shim_vcall(SYS_newfstatat, vdirfd, dpath, st, flags);
	return shim_statcache_stat(vdirfd, dpath,
				   !(flags & AT_SYMLINK_NOFOLLOW), st);
}

/* UKSHIM_STATCACHE_STATS=1: hits and misses on stderr at exit (tuning). */
__attribute__((destructor)) static void sc_report(void)
{
	const char *e = getenv("UKSHIM_STATCACHE_STATS");

	if (e && *e == '1')
		fprintf(stderr, "ukshim statcache: %lu hits, %lu misses\n",
			(unsigned long)sc_hits, (unsigned long)sc_misses);
}
