// SPDX-License-Identifier: MIT
/*
 * shim/shim_stdio.c - stdio on virtual files.
 *
 * glibc's FILE calls its own internal read/write/lseek/close, which no
 * preload can interpose, so a FILE over a vfd would talk to the host's
 * placeholder descriptor. Instead, a stream on a virtual file is a
 * fopencookie() stream whose cookie functions call our read/write/lseek/
 * close wrappers, and whose _fileno field is set to the vfd so that
 * fileno() (and everything built on it: fstat(fileno(f)), fchmod, flock)
 * sees the vfd. glibc marks cookie streams with _fileno == -2 and only
 * uses that field for fileno() and for "is it open" (!= -1) checks; its
 * buffer allocation asks the cookie's stat, which is glibc's default
 * (EOF), so it never looks at the number. See docs/shim.md, "stdio".
 *
 * Sections: the cookie, fopen/fdopen, freopen, standard streams.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shimlib.h"

/* ---- the cookie ------------------------------------------------------------ */

/*
 * The cookie of a virtual stream. Streams are kept on a list so that
 * freopen() knows ours and exit flushes them while the ring still works.
 */
struct vstream {
	int fd;
	FILE *fp;
	struct vstream *next;
};

static pthread_mutex_t vs_lock = PTHREAD_MUTEX_INITIALIZER; /* vs_list */
static struct vstream *vs_list SHIM_HOT_DATA;

static struct vstream *vs_find_locked(FILE *fp)
{
	for (struct vstream *v = vs_list; v; v = v->next)
		if (v->fp == fp)
			return v;
	return NULL;
}

static void vs_unlink(struct vstream *c)
{
	pthread_mutex_lock(&vs_lock);
	for (struct vstream **p = &vs_list; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&vs_lock);
}

/* Short reads are fine for stdio; EINTR is retried by glibc's caller. */
static ssize_t vs_read(void *cookie, char *buf, size_t n)
{
	struct vstream *c = cookie;

	return read(c->fd, buf, n);
}

/* glibc marks the stream in error on a short count, so write it all. */
static ssize_t vs_write(void *cookie, const char *buf, size_t n)
{
	struct vstream *c = cookie;
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(c->fd, buf + done, n - done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return done ? (ssize_t)done : -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int vs_seek(void *cookie, off64_t *pos, int whence)
{
	struct vstream *c = cookie;
	off_t r = lseek(c->fd, *pos, whence);

	if (r < 0)
		return -1;
	*pos = r;
	return 0;
}

static int vs_close(void *cookie)
{
	struct vstream *c = cookie;
	int r = c->fd >= 0 ? close(c->fd) : 0;

	vs_unlink(c);
	free(c);
	return r;
}

static const cookie_io_functions_t vs_funcs = {
	.read = vs_read,
	.write = vs_write,
	.seek = vs_seek,
	.close = vs_close,
};

/* ---- fopen / fdopen ---------------------------------------------------------- */

/*
 * fopen's mode as open(2) flags: r, w, a, then any of + x e m c b and a
 * ",ccs=" tail (ignored: our streams are byte streams). -EINVAL if the
 * first letter is not r, w or a.
 */
static int mode_flags(const char *mode, int *flags)
{
	int f;

	switch (mode[0]) {
	case 'r': f = O_RDONLY; break;
	case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
	default: return -EINVAL;
	}
	for (const char *p = mode + 1; *p && *p != ','; p++) {
		switch (*p) {
		case '+': f = (f & ~O_ACCMODE) | O_RDWR; break;
		case 'x': f |= O_EXCL; break;
		case 'e': f |= O_CLOEXEC; break;
		default: break; /* b, m, c: no meaning here */
		}
	}
	*flags = f;
	return 0;
}

/* The fopencookie() mode for open flags: it only wants r/w/a and +. */
static const char *cookie_mode(int flags)
{
	bool app = flags & O_APPEND;

	switch (flags & O_ACCMODE) {
	case O_RDONLY: return "r";
	case O_WRONLY: return app ? "a" : "w";
	default: return app ? "a+" : "r+";
	}
}

/* A cookie stream over vfd fd opened with flags; sets fp->_fileno. */
static FILE *vs_open(int fd, int flags)
{
	struct vstream *c = malloc(sizeof(*c));
	FILE *fp;

	if (!c)
		return NULL;
	c->fd = fd;
	fp = fopencookie(c, cookie_mode(flags), vs_funcs);
	if (!fp) {
		free(c);
		return NULL;
	}
	fp->_fileno = fd;
	c->fp = fp;
	pthread_mutex_lock(&vs_lock);
	c->next = vs_list;
	vs_list = c;
	pthread_mutex_unlock(&vs_lock);
	return fp;
}

FILE *shim_stdio_fdopen(int fd, const char *mode)
{
	int flags, fl, r = mode_flags(mode, &flags);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	/* As glibc's fdopen: the mode must fit how the fd was opened. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return NULL;
	if (((fl & O_ACCMODE) == O_RDONLY && (flags & O_ACCMODE) != O_RDONLY) ||
	    ((fl & O_ACCMODE) == O_WRONLY && (flags & O_ACCMODE) != O_WRONLY)) {
		errno = EINVAL;
		return NULL;
	}
	if ((flags & O_APPEND) && !(fl & O_APPEND) &&
	    fcntl(fd, F_SETFL, fl | O_APPEND) < 0)
		return NULL;
	if (flags & O_CLOEXEC)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return vs_open(fd, (flags & ~O_ACCMODE) | (fl & O_ACCMODE));
}

/* 1 when path is virtual, 0 host, -1 with errno for a bad path. */
static int path_virtual(const char *path)
{
	char out[SHIM_PATH_MAX];
	int vdirfd, r = shim_path_resolve(AT_FDCWD, path, &vdirfd, out,
					  sizeof(out));

	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* Opens virtual path with fopen's mode: a cookie stream, or NULL+errno. */
static FILE *vfopen(const char *path, const char *mode)
{
	int flags, fd, r = mode_flags(mode, &flags);
	FILE *fp;

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	fd = open(path, flags, 0666);
	if (fd < 0)
		return NULL;
	fp = vs_open(fd, flags);
	if (!fp) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return fp;
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
	int v = path_virtual(path);

	if (v < 0)
		return NULL;
	if (!v)
		return SHIM_REAL(fopen)(path, mode);
	return vfopen(path, mode);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen(path, mode);
}

SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
	if (!shim_fd_is_virtual(fd))
		return SHIM_REAL(fdopen)(fd, mode);
	return shim_stdio_fdopen(fd, mode);
}

/* ---- freopen ------------------------------------------------------------------- */

/* Our stream's cookie, or NULL for a glibc stream. */
static struct vstream *vs_of(FILE *fp)
{
	struct vstream *c;

	pthread_mutex_lock(&vs_lock);
	c = vs_find_locked(fp);
	pthread_mutex_unlock(&vs_lock);
	return c;
}

/* glibc's FILE flag bits (libio.h, stable ABI): which ways it may go. */
#define VS_NO_READS 0x0004
#define VS_NO_WRITES 0x0008
#define VS_IS_APPENDING 0x1000

/*
 * Points our stream c at newfd (opened with flags) in place, as freopen
 * must return the same FILE: flushes, closes the old vfd, resets the
 * buffer, error and EOF state and the read/write flags.
 */
static FILE *vs_retarget(struct vstream *c, int newfd, int flags)
{
	FILE *fp = c->fp;

	fflush(fp);
	if (c->fd >= 0 && c->fd != newfd)
		close(c->fd);
	c->fd = newfd;
	fp->_fileno = newfd;
	fp->_flags &= ~(VS_NO_READS | VS_NO_WRITES | VS_IS_APPENDING);
	if ((flags & O_ACCMODE) == O_RDONLY)
		fp->_flags |= VS_NO_WRITES;
	if ((flags & O_ACCMODE) == O_WRONLY)
		fp->_flags |= VS_NO_READS;
	if (flags & O_APPEND)
		fp->_flags |= VS_IS_APPENDING;
	/* Drops buffered data; the new fd starts where open left it. */
	__fpurge(fp);
	clearerr(fp);
	return fp;
}

/* Which standard stream fp is: 0, 1, 2, or -1 for none. */
static int std_index(const FILE *fp)
{
	return fp == stdin ? 0 : fp == stdout ? 1 : fp == stderr ? 2 : -1;
}

/* Makes nfp standard stream std (std_index()), if it is one. */
static FILE *swap_std(int std, FILE *nfp)
{
	if (std == 0)
		stdin = nfp;
	else if (std == 1)
		stdout = nfp;
	else if (std == 2) {
		stderr = nfp;
		setvbuf(nfp, NULL, _IONBF, 0);
	}
	return nfp;
}

/*
 * freopen with a virtual path, or on one of our streams. glibc's own
 * freopen reopens with its internal open, so it cannot reach a virtual
 * path. Our stream is retargeted in place. A glibc stream cannot become a
 * cookie stream in place: the file gets the stream's descriptor number
 * (dup2, as glibc's freopen keeps it) and a new cookie stream is returned;
 * when the old one was stdin, stdout or stderr, that variable is pointed
 * at the new one, so printf() & co. follow (docs/shim.md says the limits).
 */
static FILE *do_freopen(const char *path, const char *mode, FILE *fp)
{
	struct vstream *c = vs_of(fp);
	int flags, oldfd, fd, v = 0, r = mode_flags(mode, &flags);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if (path) {
		v = path_virtual(path);
		if (v < 0)
			return NULL;
	}
	if (!c && !v)
		return SHIM_REAL(freopen)(path, mode, fp);
	if (!path) {
		/* Same file, new mode: only the flags change. */
		int fl = fcntl(c->fd, F_GETFL);

		if (fl < 0)
			return NULL;
		fcntl(c->fd, F_SETFL, (fl & ~O_APPEND) | (flags & O_APPEND));
		return vs_retarget(c, c->fd, flags);
	}
	if (!v) {
		/* Ours, to a host file: a glibc stream takes over. */
		FILE *nfp;

		int std = std_index(fp);

		fflush(fp);
		nfp = SHIM_REAL(fopen)(path, mode);
		if (!nfp)
			return NULL;
		fclose(fp);
		return swap_std(std, nfp);
	}
	fflush(fp);
	oldfd = c ? c->fd : fileno(fp);
	fd = open(path, flags, 0666);
	if (fd < 0)
		return NULL;
	if (oldfd >= 0 && oldfd != fd) {
		/* Keep the stream's number, as glibc's freopen does. */
		if (c)
			close(oldfd);
		if (dup3(fd, oldfd, flags & O_CLOEXEC) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return NULL;
		}
		close(fd);
		fd = oldfd;
		if (c)
			c->fd = -1; /* closed above; fd now holds the file */
	}
	if (c)
		return vs_retarget(c, fd, flags);
	{
		FILE *nfp = vs_open(fd, flags);

		if (!nfp)
			return NULL;
		return swap_std(std_index(fp), nfp);
	}
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp);
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return do_freopen(path, mode, fp);
}

/* ---- standard streams ------------------------------------------------------------- */

/*
 * A program exec'd with a vfd as descriptor 0, 1 or 2 (a shell's
 * `prog > /uk/f`) would have glibc's stdin/stdout/stderr talk to the
 * placeholder. Before main runs, each such stream is replaced by a cookie
 * stream on the same number (stderr unbuffered, as glibc's). No priority:
 * constructors without one run in link order, so this runs after the
 * core's (core.c is linked first), which loads the inherited vfd table;
 * a numbered priority would run before it.
 */
/* glibc's FILE flag for an unbuffered stream (libio.h, stable ABI). */
#define VS_UNBUFFERED 0x0002

/*
 * Makes standard stream fd (0, 1 or 2) one of ours. Our stream's cookie
 * calls read/write on the NUMBER fd, which our wrappers route to the
 * daemon or the host by what fd is at that moment, so the stream stays
 * right when a shell later puts a host descriptor back on it. Buffering
 * follows the stream it replaces (line-buffered on a terminal, stderr
 * unbuffered); what the old stream buffered is flushed to where it was
 * going first.
 */
static void std_replace(int fd)
{
	FILE **slot = fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr;
	FILE *old = *slot, *nfp;
	int mode;

	if (vs_of(old))
		return;
	if (fd)
		fflush(old);
	nfp = vs_open(fd, fd == 0 ? O_RDONLY : O_WRONLY);
	if (!nfp)
		return;
	if (fd == 2 || (old->_flags & VS_UNBUFFERED))
		mode = _IONBF;
	else if (__flbf(old))
		mode = _IOLBF;
	else
		mode = _IOFBF;
	setvbuf(nfp, NULL, mode, mode == _IONBF ? 0 : BUFSIZ);
	*slot = nfp;
}

void shim_stdio_std_redirect(int fd)
{
	if (fd >= 0 && fd <= 2)
		std_replace(fd);
}

static void shim_stdio_init(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (shim_fd_is_virtual(fd))
			std_replace(fd);
}

/*
 * Flushes our streams from a library destructor: glibc flushes streams in
 * exit() only after the shared libraries' destructors ran, when the ring
 * may be gone. fflush of a stream already flushed costs nothing.
 */
static void shim_stdio_fini(void)
{
	/* Most processes made none: no lock (a page of .bss) to take. */
	if (!__atomic_load_n(&vs_list, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vs_lock);
	for (struct vstream *v = vs_list; v; v = v->next)
		fflush(v->fp);
	pthread_mutex_unlock(&vs_lock);
}

__attribute__((constructor)) static void shim_stdio_ctor(void)
{
	shim_stdio_init();
}

__attribute__((destructor)) static void shim_stdio_dtor(void)
{
	shim_stdio_fini();
}
