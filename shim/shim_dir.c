// SPDX-License-Identifier: MIT
/*
 * shim/shim_dir.c - directory streams on virtual directories.
 *
 * glibc's opendir/readdir call its internal open and getdents64, which no
 * preload reaches, so a virtual directory gets our own DIR: a buffer filled
 * by getdents64 on the vfd through the ring, with glibc's semantics for
 * telldir/seekdir (the d_off cookies of the daemon), rewinddir and
 * readdir_r. Host directories keep going to glibc's functions.
 *
 * Telling ours from glibc's: our DIR starts with a 64-bit word whose low
 * half, read as glibc's first field (int fd), is negative, which an open
 * glibc DIR never holds; so every function reads the first 8 bytes of the
 * DIR it is given (any DIR a program may legally pass has them) and needs
 * no registry lookup or lock on the host path. docs/shim.md says more.
 *
 * Sections: the stream, the libc functions, scandir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shimlib.h"

/* "UKDR" above a negative int: never glibc's {int fd >= 0; int lock}. */
#define VDIR_MAGIC 0x554b445280005555ull
/* What one getdents64 asks for: the ring's inline data area. */
#define VDIR_BUF 16384

struct vdir {
	uint64_t magic;
	int fd;
	int err;                /* a getdents64 error to report once */
	pthread_mutex_t lock;   /* protects everything below */
	size_t pos, len;        /* the unread part of buf */
	long filepos;           /* telldir: d_off of the last entry returned */
	union {
		struct dirent64 ent; /* readdir's result when copied */
		char pad[sizeof(struct dirent64)];
	};
	_Alignas(8) char buf[VDIR_BUF];
};

bool shim_dir_is_virtual(DIR *d)
{
	uint64_t m;

	if (!d)
		return false;
	memcpy(&m, d, sizeof(m));
	return m == VDIR_MAGIC;
}

static DIR *vdir_new(int fd)
{
	struct vdir *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	d->magic = VDIR_MAGIC;
	d->fd = fd;
	d->err = 0;
	pthread_mutex_init(&d->lock, NULL);
	d->pos = d->len = 0;
	d->filepos = 0;
	return (DIR *)d;
}

/*
 * The next entry, or NULL at the end (errno untouched) or on an error
 * (errno set). d->lock held. The entry lives in d->buf until the next call.
 */
static struct dirent64 *vdir_next_locked(struct vdir *d)
{
	struct dirent64 *e;

	if (d->pos >= d->len) {
		long n = shim_vcall(SYS_getdents64, d->fd, d->buf, VDIR_BUF);

		if (n < 0) {
			errno = (int)-n;
			return NULL;
		}
		if (n == 0)
			return NULL;
		d->len = (size_t)n;
		d->pos = 0;
	}
	e = (struct dirent64 *)(d->buf + d->pos);
	d->pos += e->d_reclen;
	d->filepos = (long)e->d_off;
	return e;
}

/* Moves the daemon's directory offset to pos and drops the buffer. */
static void vdir_seek_locked(struct vdir *d, long pos)
{
	long r = shim_vcall(SYS_lseek, d->fd, pos, SEEK_SET);

	d->pos = d->len = 0;
	if (r >= 0)
		d->filepos = r;
}

/* ---- the libc functions --------------------------------------------------- */

SHIM_EXPORT DIR *opendir(const char *path)
{
	char out[SHIM_PATH_MAX];
	int vdirfd, fd, r;
	DIR *d;

	r = shim_path_resolve(AT_FDCWD, path, &vdirfd, out, sizeof(out));
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if (!r)
		return SHIM_REAL(opendir)(path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	d = vdir_new(fd);
	if (!d) {
		close(fd);
		errno = ENOMEM;
	}
	return d;
}

SHIM_EXPORT DIR *fdopendir(int fd)
{
	struct stat st;
	int fl;
	DIR *d;

	if (!shim_fd_is_virtual(fd))
		return SHIM_REAL(fdopendir)(fd);
	/* As glibc: EBADF for O_PATH or a bad fd, ENOTDIR for a file. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	if (fl & O_PATH) {
		errno = EBADF;
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return NULL;
	}
	d = vdir_new(fd);
	if (!d)
		errno = ENOMEM;
	else
		fcntl(fd, F_SETFD, FD_CLOEXEC); /* glibc does this too */
	return d;
}

SHIM_EXPORT struct dirent64 *readdir64(DIR *dir)
{
	struct vdir *d = (struct vdir *)dir;
	struct dirent64 *e;

	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(readdir64)(dir);
	pthread_mutex_lock(&d->lock);
	e = vdir_next_locked(d);
	pthread_mutex_unlock(&d->lock);
	return e;
}

/* On x86-64 struct dirent and struct dirent64 have one layout. */
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64),
	       "dirent and dirent64 differ");

SHIM_EXPORT struct dirent *readdir(DIR *dir)
{
	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(readdir)(dir);
	return (struct dirent *)readdir64(dir);
}

/* readdir_r is deprecated, but programs still call it. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

SHIM_EXPORT int readdir64_r(DIR *dir, struct dirent64 *entry,
			    struct dirent64 **result)
{
	struct vdir *d = (struct vdir *)dir;
	struct dirent64 *e;
	int saved = errno, ret = 0;

	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(readdir64_r)(dir, entry, result);
	pthread_mutex_lock(&d->lock);
	errno = 0;
	e = vdir_next_locked(d);
	if (e) {
		size_t n = e->d_reclen < sizeof(*entry) ? e->d_reclen :
							  sizeof(*entry);

		memcpy(entry, e, n);
		entry->d_name[sizeof(entry->d_name) - 1] = 0;
		*result = entry;
	} else {
		ret = errno;
		*result = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	errno = saved;
	return ret;
}

SHIM_EXPORT int readdir_r(DIR *dir, struct dirent *entry,
			  struct dirent **result)
{
	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(readdir_r)(dir, entry, result);
	return readdir64_r(dir, (struct dirent64 *)entry,
			   (struct dirent64 **)result);
}

/* Frees our stream and closes its vfd. */
static int vdir_close(DIR *dir)
{
	struct vdir *d = (struct vdir *)dir;
	int fd = d->fd;

	d->magic = 0;
	pthread_mutex_destroy(&d->lock);
	free(d);
	return close(fd);
}

SHIM_EXPORT int closedir(DIR *dir)
{
	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(closedir)(dir);
	return vdir_close(dir);
}

SHIM_EXPORT void rewinddir(DIR *dir)
{
	struct vdir *d = (struct vdir *)dir;

	if (!shim_dir_is_virtual(dir)) {
		SHIM_REAL(rewinddir)(dir);
		return;
	}
	pthread_mutex_lock(&d->lock);
	vdir_seek_locked(d, 0);
	pthread_mutex_unlock(&d->lock);
}

SHIM_EXPORT void seekdir(DIR *dir, long pos)
{
	struct vdir *d = (struct vdir *)dir;

	if (!shim_dir_is_virtual(dir)) {
		SHIM_REAL(seekdir)(dir, pos);
		return;
	}
	pthread_mutex_lock(&d->lock);
	vdir_seek_locked(d, pos);
	pthread_mutex_unlock(&d->lock);
}

SHIM_EXPORT long telldir(DIR *dir)
{
	struct vdir *d = (struct vdir *)dir;
	long pos;

	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(telldir)(dir);
	pthread_mutex_lock(&d->lock);
	pos = d->filepos;
	pthread_mutex_unlock(&d->lock);
	return pos;
}

SHIM_EXPORT int dirfd(DIR *dir)
{
	if (!shim_dir_is_virtual(dir))
		return SHIM_REAL(dirfd)(dir);
	return ((struct vdir *)dir)->fd;
}

/* ---- scandir ---------------------------------------------------------------- */

typedef int (*scan_filter)(const struct dirent64 *);
typedef int (*scan_compar)(const struct dirent64 **, const struct dirent64 **);

/*
 * glibc's scandir over our stream: entries the filter keeps are copied
 * (malloc, d_reclen bytes), sorted with compar, returned in *namelist
 * (malloc). Returns their count, or -1 with errno (nothing left allocated).
 */
static int vscan(DIR *dir, struct dirent64 ***namelist, scan_filter filter,
		 scan_compar compar)
{
	struct dirent64 **v = NULL, *e;
	size_t n = 0, cap = 0;
	int saved = errno, err = 0;

	errno = 0;
	while ((e = readdir64(dir))) {
		struct dirent64 *copy, **nv;

		if (filter && !filter(e)) {
			errno = 0;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = ENOMEM;
				break;
			}
			v = nv;
		}
		copy = malloc(e->d_reclen);
		if (!copy) {
			err = ENOMEM;
			break;
		}
		memcpy(copy, e, e->d_reclen);
		v[n++] = copy;
		errno = 0;
	}
	if (!err)
		err = errno;
	vdir_close(dir);
	if (err) {
		while (n)
			free(v[--n]);
		free(v);
		errno = err;
		return -1;
	}
	if (compar && n > 1)
		qsort(v, n, sizeof(*v),
		      (int (*)(const void *, const void *))(void (*)(void))compar);
	*namelist = v;
	errno = saved;
	return (int)n;
}

SHIM_EXPORT int scandirat(int dirfd_, const char *path,
			  struct dirent ***namelist,
			  int (*filter)(const struct dirent *),
			  int (*compar)(const struct dirent **,
					const struct dirent **))
{
	char out[SHIM_PATH_MAX];
	int vdirfd, fd, r;
	DIR *d;

	r = shim_path_resolve(dirfd_, path, &vdirfd, out, sizeof(out));
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (!r)
		return SHIM_REAL(scandirat)(dirfd_, path, namelist, filter,
					    compar);
	fd = openat(dirfd_, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = vdir_new(fd);
	if (!d) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	return vscan(d, (struct dirent64 ***)namelist,
		     (scan_filter)(void (*)(void))filter,
		     (scan_compar)(void (*)(void))compar);
}

SHIM_EXPORT int scandirat64(int dirfd_, const char *path,
			    struct dirent64 ***namelist,
			    int (*filter)(const struct dirent64 *),
			    int (*compar)(const struct dirent64 **,
					  const struct dirent64 **))
{
	return scandirat(dirfd_, path, (struct dirent ***)namelist,
			 (int (*)(const struct dirent *))(void (*)(void))filter,
			 (int (*)(const struct dirent **,
				  const struct dirent **))(void (*)(void))compar);
}

SHIM_EXPORT int scandir(const char *path, struct dirent ***namelist,
			int (*filter)(const struct dirent *),
			int (*compar)(const struct dirent **,
				      const struct dirent **))
{
	return scandirat(AT_FDCWD, path, namelist, filter, compar);
}

SHIM_EXPORT int scandir64(const char *path, struct dirent64 ***namelist,
			  int (*filter)(const struct dirent64 *),
			  int (*compar)(const struct dirent64 **,
					const struct dirent64 **))
{
	return scandirat64(AT_FDCWD, path, namelist, filter, compar);
}
