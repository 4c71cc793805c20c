// SPDX-License-Identifier: MIT
/*
 * shim/shim_mmap.c - mmap of virtual files.
 *
 * The host kernel cannot page a file it does not have, so:
 *  - MAP_PRIVATE: anonymous memory filled with the file's bytes (read once
 *    through the ring); later changes to the file are not seen, which
 *    Linux leaves unspecified for private mappings anyway.
 *  - MAP_SHARED: a shadow, a host memfd holding the file's bytes, mapped
 *    MAP_SHARED where the program asked; every mapping of one file in this
 *    process shares the shadow, so they see each other's stores at once.
 *    A clean copy of the shadow tells which pages the program changed;
 *    those are written back to the daemon at msync, munmap, fsync and
 *    close of a descriptor of the file (the core calls
 *    shim_mmap_sync_fd()), before an exec, and at exit.
 * Each shadow holds its own duplicate of the vfd, so writing back still
 * works after the program closed its descriptor (POSIX keeps a mapping
 * valid after close).
 *
 * Limits (docs/shim.md): a write() through a descriptor is not seen by an
 * existing shared mapping of the same file in this process, nor is a change
 * made by another process; mremap of a shadow is not supported.
 *
 * Locking: mm_lock protects the file and region lists; it is never held
 * across a call the program can see, only across our own ring calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shimlib.h"

#define PG 4096ul
#define PG_UP(x) (((x) + PG - 1) & ~(PG - 1))

struct mfile {
	dev_t dev;
	ino_t ino;
	int vfd;                /* our duplicate of the program's vfd */
	int memfd;              /* the shadow */
	size_t size;            /* bytes of the shadow (page multiple) */
	char *work;             /* our own mapping of the whole shadow */
	char *clean;            /* what the daemon holds, as last synced */
	unsigned int nmaps;     /* regions using this file */
	struct mfile *next;
};

struct mregion {
	char *addr;
	size_t len;
	off_t off;
	bool writable;          /* PROT_WRITE: its pages may be dirty */
	struct mfile *f;
	struct mregion *next;
};

static pthread_mutex_t mm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mfile *mm_files;
static struct mregion *mm_regions;
/* Regions alive: 0 lets munmap/msync/close skip the lock entirely. */
static _Atomic unsigned long mm_nregions SHIM_HOT_DATA;

/*
 * pread (write false) or pwrite from/to the daemon until len bytes: a read
 * stops at EOF (the rest stays zero), a write that makes no progress is
 * -EIO.
 */
static int vio_full(int vfd, char *buf, size_t len, off_t off, bool write)
{
	size_t done = 0;

	while (done < len) {
		long r = shim_vcall(write ? SYS_pwrite64 : SYS_pread64, vfd,
				    buf + done, len - done, off + (off_t)done);

		if (r == -EINTR)
			continue;
		if (r < 0)
			return (int)r;
		if (r == 0)
			return write ? -EIO : 0;
		done += (size_t)r;
	}
	return 0;
}

/*
 * Writes the pages of f that differ from the clean copy back to the file,
 * within its current size (a page past EOF is not the file's), coalescing
 * runs. mm_lock held. 0 or -errno.
 */
static int mfile_sync_locked(struct mfile *f)
{
	struct stat st;
	size_t end, p = 0;
	long r = shim_vcall(SYS_fstat, f->vfd, &st);

	if (r < 0)
		return (int)r;
	end = (size_t)st.st_size < f->size ? (size_t)st.st_size : f->size;
	while (p < end) {
		size_t q;

		if (!memcmp(f->work + p, f->clean + p, PG)) {
			p += PG;
			continue;
		}
		for (q = p + PG; q < end; q += PG)
			if (!memcmp(f->work + q, f->clean + q, PG))
				break;
		if (q > end)
			q = end;
		/* Copy first: a store racing with us stays dirty. */
		memcpy(f->clean + p, f->work + p, q - p);
		r = vio_full(f->vfd, f->clean + p, q - p, (off_t)p, true);
		if (r < 0)
			return (int)r;
		p = q;
	}
	return 0;
}

/*
 * Grows f's shadow to cover [0, need) and loads the new part from the
 * file. mm_lock held. 0 or -errno.
 */
static int mfile_grow_locked(struct mfile *f, size_t need)
{
	char *w, *c;
	size_t old = f->size;
	int r;

	need = PG_UP(need);
	if (need <= old)
		return 0;
	if (ftruncate(f->memfd, (off_t)need) < 0)
		return -errno;
	w = old ? mremap(f->work, old, need, MREMAP_MAYMOVE) :
		  SHIM_REAL(mmap)(NULL, need, PROT_READ | PROT_WRITE,
				  MAP_SHARED, f->memfd, 0);
	if (w == MAP_FAILED)
		return -errno;
	f->work = w;
	c = old ? mremap(f->clean, old, need, MREMAP_MAYMOVE) :
		  SHIM_REAL(mmap)(NULL, need, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return -errno;
	f->clean = c;
	f->size = need;
	r = vio_full(f->vfd, f->work + old, need - old, (off_t)old, false);
	if (r < 0)
		return r;
	memcpy(f->clean + old, f->work + old, need - old);
	return 0;
}

static void mfile_free_locked(struct mfile *f)
{
	for (struct mfile **p = &mm_files; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	if (f->size) {
		SHIM_REAL(munmap)(f->work, f->size);
		SHIM_REAL(munmap)(f->clean, f->size);
	}
	close(f->memfd);
	close(f->vfd);
	free(f);
}

/* The shadow of the file open as vfd fd (st: its fstat), made if needed. */
static struct mfile *mfile_get_locked(int fd, const struct stat *st, int *err)
{
	struct mfile *f;

	for (f = mm_files; f; f = f->next)
		if (f->dev == st->st_dev && f->ino == st->st_ino)
			return f;
	f = calloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->memfd = memfd_create("ukshim-shadow", MFD_CLOEXEC);
	if (f->memfd < 0) {
		*err = -errno;
		free(f);
		return NULL;
	}
	/* Our own reference, kept out of the low numbers programs reuse. */
	f->vfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (f->vfd < 0) {
		*err = -errno;
		close(f->memfd);
		free(f);
		return NULL;
	}
	f->next = mm_files;
	mm_files = f;
	return f;
}

/* MAP_PRIVATE of a vfd: anonymous memory holding a copy of the bytes. */
static void *map_private(void *addr, size_t len, int prot, int flags, int fd,
			 off_t off)
{
	int keep = flags & ~(MAP_TYPE | MAP_ANONYMOUS | MAP_DENYWRITE |
			     MAP_EXECUTABLE);
	char *p = SHIM_REAL(mmap)(addr, len, prot | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | keep, -1, 0);
	int r;

	if (p == MAP_FAILED)
		return p;
	r = vio_full(fd, p, len, off, false);
	if (r < 0 || (!(prot & PROT_WRITE) && mprotect(p, len, prot) < 0)) {
		SHIM_REAL(munmap)(p, len);
		errno = r < 0 ? -r : errno;
		return MAP_FAILED;
	}
	return p;
}

static void *map_shared(void *addr, size_t len, int prot, int flags, int fd,
			off_t off, int fl)
{
	struct mregion *m;
	struct mfile *f;
	struct stat st;
	char *p;
	int r = 0;
	long sr;

	if ((prot & PROT_WRITE) && (fl & O_ACCMODE) != O_RDWR) {
		errno = EACCES;
		return MAP_FAILED;
	}
	sr = shim_vcall(SYS_fstat, fd, &st);
	if (sr < 0) {
		errno = (int)-sr;
		return MAP_FAILED;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&mm_lock);
	f = mfile_get_locked(fd, &st, &r);
	if (f)
		r = mfile_grow_locked(f, (size_t)off + len);
	if (r < 0)
		goto err;
	flags = (flags & ~(MAP_TYPE | MAP_DENYWRITE | MAP_EXECUTABLE)) |
		MAP_SHARED;
	p = SHIM_REAL(mmap)(addr, len, prot, flags, f->memfd, off);
	if (p == MAP_FAILED) {
		r = -errno;
		goto err;
	}
	m->addr = p;
	m->len = PG_UP(len);
	m->off = off;
	m->writable = prot & PROT_WRITE;
	m->f = f;
	m->next = mm_regions;
	mm_regions = m;
	f->nmaps++;
	mm_nregions++;
	pthread_mutex_unlock(&mm_lock);
	return p;
err:
	if (f && !f->nmaps)
		mfile_free_locked(f);
	pthread_mutex_unlock(&mm_lock);
	free(m);
	errno = -r;
	return MAP_FAILED;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off)
{
	int fl;

	if ((flags & MAP_ANONYMOUS) || fd < 0 || !shim_fd_is_virtual(fd))
		return SHIM_REAL(mmap)(addr, len, prot, flags, fd, off);
	if (!len || (off & (off_t)(PG - 1)) || off < 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return MAP_FAILED;
	/* Linux: EACCES unless the file is open for reading. */
	if ((fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH)) {
		errno = (fl & O_PATH) ? EBADF : EACCES;
		return MAP_FAILED;
	}
	if ((flags & MAP_TYPE) == MAP_PRIVATE)
		return map_private(addr, len, prot, flags, fd, off);
	return map_shared(addr, len, prot, flags, fd, off, fl);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
			 off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

static bool overlaps(const struct mregion *m, const char *a, size_t len)
{
	return a < m->addr + m->len && m->addr < a + len;
}

/*
 * Writes back the files of writable regions overlapping [a, a+len).
 * mm_lock held. 0 or the first -errno.
 */
static int sync_range_locked(const char *a, size_t len, bool data_sync)
{
	int ret = 0;

	for (struct mregion *m = mm_regions; m; m = m->next) {
		int r;

		if (!m->writable || !overlaps(m, a, len))
			continue;
		r = mfile_sync_locked(m->f);
		if (!r && data_sync)
			r = (int)shim_vcall(SYS_fdatasync, m->f->vfd);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

SHIM_EXPORT int munmap(void *addr, size_t len)
{
	char *a = addr;
	int r;

	if (!mm_nregions)
		return SHIM_REAL(munmap)(addr, len);
	len = PG_UP(len);
	pthread_mutex_lock(&mm_lock);
	sync_range_locked(a, len, false);
	r = SHIM_REAL(munmap)(addr, len);
	if (r < 0)
		goto out;
	/* Trim the regions: a hole in the middle splits one in two. */
	for (struct mregion **pm = &mm_regions; *pm;) {
		struct mregion *m = *pm;
		char *end = m->addr + m->len;

		if (!overlaps(m, a, len)) {
			pm = &m->next;
			continue;
		}
		if (a > m->addr && a + len < end) {
			struct mregion *t = malloc(sizeof(*t));

			if (t) {
				*t = *m;
				t->addr = a + len;
				t->off = m->off + (a + len - m->addr);
				t->len = (size_t)(end - (a + len));
				t->next = m->next;
				m->next = t;
				m->f->nmaps++;
				mm_nregions++;
			}
			m->len = (size_t)(a - m->addr);
		} else if (a <= m->addr && a + len >= end) {
			struct mfile *f = m->f;

			*pm = m->next;
			free(m);
			mm_nregions--;
			if (!--f->nmaps)
				mfile_free_locked(f);
			continue;
		} else if (a <= m->addr) {
			m->off += a + len - m->addr;
			m->len = (size_t)(end - (a + len));
			m->addr = a + len;
		} else {
			m->len = (size_t)(a - m->addr);
		}
		pm = &m->next;
	}
out:
	pthread_mutex_unlock(&mm_lock);
	return r;
}

SHIM_EXPORT int msync(void *addr, size_t len, int flags)
{
	int r = 0;
	bool ours = false;

	if (mm_nregions) {
		pthread_mutex_lock(&mm_lock);
		for (struct mregion *m = mm_regions; m; m = m->next)
			if (overlaps(m, addr, len))
				ours = true;
		if (ours && !(flags & MS_INVALIDATE))
			r = sync_range_locked(addr, len, flags & MS_SYNC);
		pthread_mutex_unlock(&mm_lock);
	}
	if (r < 0)
		return (int)shim_ret(r);
	/* The host checks the arguments and syncs the memfd (a no-op). */
	return SHIM_REAL(msync)(addr, len, flags);
}

int shim_mmap_sync_fd(int fd)
{
	struct stat st;
	int ret = 0;
	long r;

	if (!mm_nregions)
		return 0;
	r = shim_vcall(SYS_fstat, fd, &st);
	if (r < 0)
		return 0; /* not a file we could have mapped */
	pthread_mutex_lock(&mm_lock);
	for (struct mfile *f = mm_files; f; f = f->next)
		if (f->dev == st.st_dev && f->ino == st.st_ino)
			ret = mfile_sync_locked(f);
	pthread_mutex_unlock(&mm_lock);
	return ret;
}

long shim_mmap_fsync(int fd, long nr)
{
	int r = shim_mmap_sync_fd(fd);

	return r < 0 ? r : shim_vcall(nr, fd);
}

void shim_mmap_sync_all(void)
{
	if (!mm_nregions)
		return;
	pthread_mutex_lock(&mm_lock);
	for (struct mfile *f = mm_files; f; f = f->next)
		mfile_sync_locked(f);
	pthread_mutex_unlock(&mm_lock);
}

/*
 * At exit, dirty shadows go back before the connection does. The test
 * is here, not only in the callee: a process that mapped nothing does
 * not fault in the page of .text that holds shim_mmap_sync_all.
 */
__attribute__((destructor)) static void shim_mmap_dtor(void)
{
	if (mm_nregions)
		shim_mmap_sync_all();
}
