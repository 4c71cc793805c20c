// SPDX-License-Identifier: MIT
/*
 * shim/shim_temp.c - mkstemp and its family (mkstemp64, mkostemp,
 * mkostemp64, mkstemps, mkstemps64, mkostemps, mkostemps64) and mkdtemp.
 *
 * glibc's make the name and create the file or directory with their
 * internal open and mkdir (__gen_tempname), which no preload reaches:
 * `git init` and `sed -i` on /uk tried to create their temporary files
 * on the host (ENOENT, or a stray file in a host directory of that name).
 * For a template under the root (or relative to a virtual cwd) the name
 * is made here the way glibc 2.36 makes it and created through our open
 * and mkdir; host templates go to glibc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shimlib.h"

int mkstemp64(char *tmpl);
int mkostemp64(char *tmpl, int flags);
int mkstemps64(char *tmpl, int suffixlen);
int mkostemps64(char *tmpl, int suffixlen, int flags);

/* Whether template tmpl is virtual: 1, 0 (host), or -errno. */
static int temp_virtual(const char *tmpl)
{
	char out[SHIM_PATH_MAX];
	int vdirfd;

	return shim_path_resolve(AT_FDCWD, tmpl, &vdirfd, out, sizeof(out));
}

/* glibc's alphabet and its number of tries (62^3, TMP_MAX). */
static const char letters[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
#define TEMP_TRIES (62u * 62u * 62u)

/* A seed that differs between calls, processes and threads. */
static uint64_t temp_seed(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
	v ^= (uint64_t)getpid() << 40;
	return v ^ (uintptr_t)&v; /* the stack differs between threads */
}

/*
 * glibc's __gen_tempname for a virtual template: the six X before the
 * suffix become letters until the create does not say EEXIST. dir: a
 * directory (mode 0700), else a file opened O_RDWR|O_CREAT|O_EXCL with
 * flags' other bits (mode 0600). The fd, 0 for a directory, or -1/errno
 * (EINVAL for a template that does not end in XXXXXX before the suffix,
 * left as it was; EEXIST when every try was taken).
 */
static int gen_temp(char *tmpl, int suffixlen, int flags, bool dir)
{
	size_t len = strlen(tmpl);
	uint64_t v = temp_seed();
	char *x;

	if (suffixlen < 0 || len < 6 + (size_t)suffixlen) {
		errno = EINVAL;
		return -1;
	}
	x = tmpl + len - 6 - suffixlen;
	if (memcmp(x, "XXXXXX", 6)) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned int t = 0; t < TEMP_TRIES; t++) {
		uint64_t r;
		int fd;

		/* xorshift64*: cheap, and seeded per call */
		v ^= v >> 12;
		v ^= v << 25;
		v ^= v >> 27;
		r = v * 0x2545F4914F6CDD1Dull;
		for (int i = 0; i < 6; i++, r /= 62)
			x[i] = letters[r % 62];
		if (dir)
			fd = mkdir(tmpl, S_IRWXU);
		else
			fd = open(tmpl,
				  (flags & ~O_ACCMODE) | O_RDWR | O_CREAT |
					  O_EXCL,
				  S_IRUSR | S_IWUSR);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/*
 * A member of the family: glibc's for a host template, ours for a
 * virtual one. A template pointer the routing cannot read is EFAULT
 * (glibc's would fault).
 */
#define TEMP_ROUTE(tmpl, hostcall, suffixlen, flags)                           \
	do {                                                                   \
		int v_ = temp_virtual(tmpl);                                   \
		if (v_ < 0) {                                                  \
			errno = -v_;                                           \
			return -1;                                             \
		}                                                              \
		if (!v_)                                                       \
			return hostcall;                                       \
		return gen_temp(tmpl, suffixlen, flags, false);                \
	} while (0)

SHIM_EXPORT int mkstemp(char *tmpl)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkstemp)(tmpl), 0, 0);
}

SHIM_EXPORT int mkstemp64(char *tmpl)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkstemp64)(tmpl), 0, O_LARGEFILE);
}

SHIM_EXPORT int mkostemp(char *tmpl, int flags)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkostemp)(tmpl, flags), 0, flags);
}

SHIM_EXPORT int mkostemp64(char *tmpl, int flags)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkostemp64)(tmpl, flags), 0,
		   flags | O_LARGEFILE);
}

SHIM_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkstemps)(tmpl, suffixlen), suffixlen, 0);
}

SHIM_EXPORT int mkstemps64(char *tmpl, int suffixlen)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkstemps64)(tmpl, suffixlen), suffixlen,
		   O_LARGEFILE);
}

SHIM_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkostemps)(tmpl, suffixlen, flags),
		   suffixlen, flags);
}

SHIM_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
	TEMP_ROUTE(tmpl, SHIM_REAL(mkostemps64)(tmpl, suffixlen, flags),
		   suffixlen, flags | O_LARGEFILE);
}

SHIM_EXPORT char *mkdtemp(char *tmpl)
{
	int v = temp_virtual(tmpl);

	if (v < 0) {
		errno = -v;
		return NULL;
	}
	if (!v)
		return SHIM_REAL(mkdtemp)(tmpl);
	return gen_temp(tmpl, 0, 0, true) < 0 ? NULL : tmpl;
}
