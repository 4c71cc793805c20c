// SPDX-License-Identifier: MIT
/*
 * shim/shim_walk.c - the libc functions that walk paths and trees on their
 * own: realpath (and __realpath_chk, canonicalize_file_name), nftw/ftw and
 * glob. glibc's versions call its internal lstat/readlink/opendir, which no
 * preload reaches, so for virtual paths they are done here over our
 * wrappers (lstat, readlink, getcwd, chdir) and directory streams
 * (shim_dir.c); host paths keep going to glibc.
 *
 * Sections: realpath, nftw/ftw, glob.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shimlib.h"

/* Whether path (relative to the cwd) is virtual: 1, 0, or -1 + errno. */
static int walk_virtual(const char *path)
{
	char out[SHIM_PATH_MAX];
	int vdirfd, r;

	if (!path) {
		errno = EINVAL;
		return -1;
	}
	r = shim_path_resolve(AT_FDCWD, path, &vdirfd, out, sizeof(out));
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* ---- realpath -------------------------------------------------------------- */

#define MAXSYMLINKS 40

/*
 * Resolves path into res (PATH_MAX bytes) component by component with our
 * lstat and readlink, as glibc's realpath does. Inside the virtual root,
 * ".." never leaves it (the root is its own parent, as the daemon sees it),
 * and an absolute symlink target found in a virtual directory is read the
 * way the daemon reads it: one under the root ("/uk/a") as it is, any
 * other from the virtual root. 0, or -1 with errno.
 */
static int vrealpath(const char *path, char *res)
{
	size_t rootlen, len;
	const char *root = shim_root(&rootlen);
	char rest[PATH_MAX], link[PATH_MAX];
	int links = 0;

	if (!*path) {
		errno = ENOENT;
		return -1;
	}
	if (strlen(path) >= sizeof(rest)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(rest, path);
	if (path[0] == '/') {
		strcpy(res, "/");
	} else if (!getcwd(res, PATH_MAX)) {
		return -1;
	}
	len = strlen(res);
	for (char *p = rest; *p;) {
		char *end, *comp;
		size_t clen;
		struct stat st;
		bool virt;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		end = strchr(p, '/');
		clen = end ? (size_t)(end - p) : strlen(p);
		p = end ? end : p + clen;
		if (clen == 1 && comp[0] == '.')
			continue;
		virt = len >= rootlen && !strncmp(res, root, rootlen) &&
		       (res[rootlen] == 0 || res[rootlen] == '/');
		if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			if (virt && len == rootlen)
				continue; /* the virtual root's parent is itself */
			while (len > 1 && res[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
			res[len] = 0;
			continue;
		}
		if (len + 1 + clen >= PATH_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (len > 1)
			res[len++] = '/';
		memcpy(res + len, comp, clen);
		len += clen;
		res[len] = 0;
		if (lstat(res, &st) < 0)
			return -1;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;
			size_t tail = strlen(p);

			if (++links > MAXSYMLINKS) {
				errno = ELOOP;
				return -1;
			}
			n = readlink(res, link, sizeof(link) - 1);
			if (n < 0)
				return -1;
			if ((size_t)n + tail + 1 >= sizeof(rest)) {
				errno = ENAMETOOLONG;
				return -1;
			}
			/* rest = target + the part not yet walked */
			memmove(rest + n, p, tail + 1);
			memcpy(rest, link, (size_t)n);
			p = rest;
			virt = len >= rootlen && !strncmp(res, root, rootlen);
			if (link[0] == '/') {
				/*
				 * As the daemon follows it (vfs_namei.c
				 * strip_link_root): a target naming the root
				 * ("/uk/a") is a path from the host's "/",
				 * any other one is read from the root.
				 */
				if (virt && !shim_path_under_root(link)) {
					memcpy(res, root, rootlen);
					len = rootlen;
				} else {
					len = 1;
				}
			} else {
				while (len > 1 && res[len - 1] != '/')
					len--;
				if (len > 1)
					len--;
			}
			res[len] = 0;
		} else if (*p && !S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return 0;
}

SHIM_EXPORT char *realpath(const char *path, char *resolved)
{
	char buf[PATH_MAX];
	int v = walk_virtual(path);
	int saved = errno;

	if (v < 0)
		return NULL;
	if (!v)
		return SHIM_REAL(realpath)(path, resolved);
	if (vrealpath(path, buf) < 0)
		return NULL;
	errno = saved;
	if (!resolved)
		return strdup(buf);
	return strcpy(resolved, buf);
}

extern void __chk_fail(void) __attribute__((noreturn));
SHIM_EXPORT char *__realpath_chk(const char *path, char *resolved,
				 size_t resolvedlen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	/* The fortified check: the buffer must hold PATH_MAX bytes. */
	if (resolved && resolvedlen < PATH_MAX)
		__chk_fail();
	return realpath(path, resolved);
}

SHIM_EXPORT char *canonicalize_file_name(const char *path)
{
	return realpath(path, NULL);
}

/* ---- nftw / ftw -------------------------------------------------------------- */

typedef int (*nftw_fn)(const char *, const struct stat *, int, struct FTW *);
typedef int (*ftw_fn)(const char *, const struct stat *, int);

struct walk {
	nftw_fn nfn;            /* nftw's callback, or NULL for ftw's */
	ftw_fn ofn;
	int flags;              /* FTW_PHYS, FTW_MOUNT, FTW_DEPTH, ... */
	dev_t dev;              /* FTW_MOUNT: the start's device */
	struct { dev_t dev; ino_t ino; } *seen; /* directories walked */
	size_t nseen, capseen;
	char path[PATH_MAX];
};

/*
 * Following links, a directory met twice is walked once (glibc's rule,
 * which also stops loops): true when it was seen before, else records it.
 */
static bool walk_seen(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return true;
	if (w->nseen == w->capseen) {
		size_t cap = w->capseen ? 2 * w->capseen : 64;
		void *n = realloc(w->seen, cap * sizeof(*w->seen));

		if (!n)
			return false;
		w->seen = n;
		w->capseen = cap;
	}
	w->seen[w->nseen].dev = st->st_dev;
	w->seen[w->nseen].ino = st->st_ino;
	w->nseen++;
	return false;
}

/* Calls the program's function; FTW_CHDIR moved us to the parent first. */
static int walk_call(struct walk *w, const struct stat *st, int type,
		     int base, int level)
{
	struct FTW f = { .base = base, .level = level };

	if (w->nfn)
		return w->nfn(w->path, st, type, &f);
	/* ftw knows no FTW_DP/FTW_SL/FTW_SLN: they are D, F and NS. */
	if (type == FTW_DP)
		type = FTW_D;
	else if (type == FTW_SL)
		type = FTW_F;
	else if (type == FTW_SLN)
		type = FTW_NS;
	return w->ofn(w->path, st, type);
}

/* The return value that stops the walk (with FTW_ACTIONRETVAL, STOP). */
static bool walk_stops(const struct walk *w, int r)
{
	if (w->flags & FTW_ACTIONRETVAL)
		return r == FTW_STOP;
	return r != 0;
}

/*
 * Visits w->path (len bytes, last component at base) at level, then its
 * children when it is a directory. Returns 0 to go on, the callback's
 * stopping value, or -1 with errno for an error of the walk itself.
 */
static int walk_one(struct walk *w, size_t len, int base, int level)
{
	struct stat st;
	int type, r;
	bool phys = w->flags & FTW_PHYS;

	if ((phys ? lstat(w->path, &st) : stat(w->path, &st)) < 0) {
		if (errno == EACCES || errno == ENOENT || errno == ELOOP) {
			if (!phys && lstat(w->path, &st) == 0 &&
			    S_ISLNK(st.st_mode))
				type = FTW_SLN;
			else
				type = FTW_NS;
			if (level == 0 && type == FTW_NS)
				return -1;
			r = walk_call(w, &st, type, base, level);
			return walk_stops(w, r) ? r : 0;
		}
		return -1;
	}
	if ((w->flags & FTW_MOUNT) && level > 0 && st.st_dev != w->dev)
		return 0;
	if (level == 0)
		w->dev = st.st_dev;
	if (S_ISLNK(st.st_mode))
		type = FTW_SL;
	else if (!S_ISDIR(st.st_mode))
		type = FTW_F;
	else
		type = -1;
	if (type != -1) {
		r = walk_call(w, &st, type, base, level);
		if (walk_stops(w, r))
			return r;
		if ((w->flags & FTW_ACTIONRETVAL) && r == FTW_SKIP_SIBLINGS)
			return FTW_SKIP_SIBLINGS;
		return 0;
	}

	if (!(w->flags & FTW_PHYS) && walk_seen(w, &st))
		return 0;
	/* A directory: read every name first, so only one stream is open. */
	DIR *d = opendir(w->path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d) {
		if (errno != EACCES)
			return -1;
		r = walk_call(w, &st, FTW_DNR, base, level);
		return walk_stops(w, r) ? r : 0;
	}
	if (!(w->flags & FTW_DEPTH)) {
		r = walk_call(w, &st, FTW_D, base, level);
		if (walk_stops(w, r) ||
		    ((w->flags & FTW_ACTIONRETVAL) &&
		     (r == FTW_SKIP_SUBTREE || r == FTW_SKIP_SIBLINGS))) {
			closedir(d);
			if (walk_stops(w, r))
				return r;
			return r == FTW_SKIP_SIBLINGS ? r : 0;
		}
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 32;
			nv = realloc(names, cap * sizeof(*names));
			if (!nv)
				break;
			names = nv;
		}
		names[n] = strdup(e->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(d);
	r = 0;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (r == 0) {
			if (len + 1 + nl >= sizeof(w->path)) {
				errno = ENAMETOOLONG;
				r = -1;
			} else {
				size_t at = len;

				if (len > 0 && w->path[len - 1] != '/')
					w->path[at++] = '/';
				memcpy(w->path + at, names[i], nl + 1);
				if (w->flags & FTW_CHDIR) {
					w->path[len] = 0;
					r = chdir(len ? w->path : "/");
					if (at != len)
						w->path[len] = '/';
				}
				if (r == 0)
					r = walk_one(w, at + nl, (int)at,
						     level + 1);
				w->path[len] = 0;
				if ((w->flags & FTW_ACTIONRETVAL) &&
				    r == FTW_SKIP_SIBLINGS)
					r = -2; /* stop the siblings only */
			}
		}
		free(names[i]);
	}
	free(names);
	if (r == -2)
		r = 0;
	if (r)
		return r;
	if (w->flags & FTW_CHDIR) {
		/* The callback for the directory runs in its parent. */
		char save = w->path[base];

		w->path[base] = 0;
		if (base)
			chdir(base > 1 ? w->path : "/");
		w->path[base] = save;
	}
	if (w->flags & FTW_DEPTH) {
		r = walk_call(w, &st, FTW_DP, base, level);
		if (walk_stops(w, r))
			return r;
	}
	return 0;
}

static int walk_start(const char *dir, nftw_fn nfn, ftw_fn ofn, int flags)
{
	struct walk *w;
	size_t len = strlen(dir);
	char *cwd = NULL;
	int r, base = 0;

	if (len >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	w = malloc(sizeof(*w));
	if (!w)
		return -1;
	w->nfn = nfn;
	w->ofn = ofn;
	w->seen = NULL;
	w->nseen = w->capseen = 0;
	w->flags = flags;
	memcpy(w->path, dir, len + 1);
	/* base: the last component, trailing slashes aside. */
	for (size_t i = len; i > 0; i--) {
		if (dir[i - 1] == '/' && i < len) {
			base = (int)i;
			break;
		}
	}
	if (flags & FTW_CHDIR)
		cwd = getcwd(NULL, 0);
	r = walk_one(w, len, base, 0);
	if (cwd) {
		int e = errno;

		chdir(cwd);
		free(cwd);
		errno = e;
	}
	free(w->seen);
	free(w);
	return r;
}

SHIM_EXPORT int nftw(const char *dir, nftw_fn fn, int nopenfd, int flags)
{
	int v = walk_virtual(dir);

	if (v < 0)
		return -1;
	if (!v)
		return SHIM_REAL(nftw)(dir, fn, nopenfd, flags);
	return walk_start(dir, fn, NULL, flags);
}

SHIM_EXPORT int nftw64(const char *dir,
		       int (*fn)(const char *, const struct stat64 *, int,
				 struct FTW *),
		       int nopenfd, int flags)
{
	int v = walk_virtual(dir);

	if (v < 0)
		return -1;
	if (!v)
		return SHIM_REAL(nftw64)(dir, fn, nopenfd, flags);
	/* struct stat64 is struct stat on x86-64. */
	return walk_start(dir, (nftw_fn)(void (*)(void))fn, NULL, flags);
}

SHIM_EXPORT int ftw(const char *dir, ftw_fn fn, int nopenfd)
{
	int v = walk_virtual(dir);

	if (v < 0)
		return -1;
	if (!v)
		return SHIM_REAL(ftw)(dir, fn, nopenfd);
	return walk_start(dir, NULL, fn, 0);
}

SHIM_EXPORT int ftw64(const char *dir,
		      int (*fn)(const char *, const struct stat64 *, int),
		      int nopenfd)
{
	int v = walk_virtual(dir);

	if (v < 0)
		return -1;
	if (!v)
		return SHIM_REAL(ftw64)(dir, fn, nopenfd);
	return walk_start(dir, NULL, (ftw_fn)(void (*)(void))fn, 0);
}

/* ---- glob -------------------------------------------------------------------- */

/*
 * Whether pattern walks virtual directories: a relative pattern while the
 * cwd is virtual, or one whose literal leading directories are virtual.
 */
static bool glob_virtual(const char *pattern)
{
	char lit[SHIM_PATH_MAX];
	size_t n = 0, slash = 0;

	if (pattern[0] != '/')
		return shim_cwd_is_virtual();
	for (; pattern[n] && n < sizeof(lit) - 1; n++) {
		if (strchr("*?[\\", pattern[n]))
			break;
		if (pattern[n] == '/')
			slash = n;
	}
	if (!pattern[n])
		slash = n;
	memcpy(lit, pattern, slash ? slash : 1);
	lit[slash ? slash : 1] = 0;
	return walk_virtual(lit) == 1;
}

static void *glob_opendir(const char *path)
{
	return opendir(path);
}

static void *glob_readdir(void *d)
{
	return readdir(d);
}

static void glob_closedir(void *d)
{
	closedir(d);
}

static int glob_stat(const char *path, void *st)
{
	return stat(path, st);
}

static int glob_lstat(const char *path, void *st)
{
	return lstat(path, st);
}

/*
 * glob over virtual directories: glibc's glob with GLOB_ALTDIRFUNC and our
 * directory streams and stat wrappers (glibc's own would use its internal
 * opendir). A program's own GLOB_ALTDIRFUNC functions are kept.
 */
SHIM_EXPORT int glob(const char *pattern, int flags,
		     int (*errfunc)(const char *, int), glob_t *g)
{
	if ((flags & GLOB_ALTDIRFUNC) || !pattern || !glob_virtual(pattern))
		return SHIM_REAL(glob)(pattern, flags, errfunc, g);
	g->gl_closedir = glob_closedir;
	g->gl_readdir = (__typeof__(g->gl_readdir))(void (*)(void))glob_readdir;
	g->gl_opendir = glob_opendir;
	g->gl_stat = (__typeof__(g->gl_stat))(void (*)(void))glob_stat;
	g->gl_lstat = (__typeof__(g->gl_lstat))(void (*)(void))glob_lstat;
	return SHIM_REAL(glob)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, g);
}

SHIM_EXPORT int glob64(const char *pattern, int flags,
		       int (*errfunc)(const char *, int), glob64_t *g)
{
	if ((flags & GLOB_ALTDIRFUNC) || !pattern || !glob_virtual(pattern))
		return SHIM_REAL(glob64)(pattern, flags, errfunc, g);
	g->gl_closedir = glob_closedir;
	g->gl_readdir = (__typeof__(g->gl_readdir))(void (*)(void))glob_readdir;
	g->gl_opendir = glob_opendir;
	g->gl_stat = (__typeof__(g->gl_stat))(void (*)(void))glob_stat;
	g->gl_lstat = (__typeof__(g->gl_lstat))(void (*)(void))glob_lstat;
	return SHIM_REAL(glob64)(pattern, flags | GLOB_ALTDIRFUNC, errfunc, g);
}
