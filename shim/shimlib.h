/* SPDX-License-Identifier: MIT */
/*
 * shim/shimlib.h - the libc-level layers of libukshim.so (stdio on virtual
 * files, directory streams, realpath/nftw/glob, mmap shadows, the stat
 * cache): what they offer the core wrappers (shim.h) and each other.
 * Everything here is hidden; the exported libc names are listed in
 * libukshim.map.
 */
#ifndef UK_SHIMLIB_H
#define UK_SHIMLIB_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "shim.h"

/* ---- directory streams (shim_dir.c) --------------------------------------- */

/*
 * Whether d is one of our virtual directory streams. Ours start with a
 * word glibc's never holds (see shim_dir.c), so this reads 8 bytes of d and
 * nothing more.
 */
SHIM_HIDDEN bool shim_dir_is_virtual(DIR *d);

/* ---- stdio (shim_stdio.c) ------------------------------------------------- */

/*
 * A stdio stream over vfd fd (fopencookie; fileno() returns fd). mode is
 * fopen's. The stream owns fd: fclose closes it. NULL with errno set.
 */
SHIM_HIDDEN FILE *shim_stdio_fdopen(int fd, const char *mode);

/*
 * Standard descriptor fd (0, 1 or 2) is about to become virtual (a dup2
 * onto it): stdin/stdout/stderr become our streams, which follow what the
 * number is, so glibc's printf & co. reach the daemon (fd.c calls it).
 */
SHIM_HIDDEN void shim_stdio_std_redirect(int fd);

/* ---- mmap shadows (shim_mmap.c) ------------------------------------------- */

/*
 * Writes the dirty pages of every MAP_SHARED shadow of the file open as
 * vfd fd back to the daemon (fsync and close call it). 0 or -errno.
 */
SHIM_HIDDEN int shim_mmap_sync_fd(int fd);
/* fsync (nr SYS_fsync) or fdatasync of vfd fd, shadows first. */
SHIM_HIDDEN long shim_mmap_fsync(int fd, long nr);

/* ---- the stat cache (shim_statcache.c) ------------------------------------ */

/*
 * stat (follow) or lstat of dpath, a path in the daemon's namespace as
 * shim_path_resolve() wrote it, relative to vdirfd (only AT_FDCWD with an
 * absolute path is cached; anything else goes to the daemon). Fills *st;
 * returns 0 or -errno. Served without a round trip while the change
 * counters of the inode and of every directory on the path are unchanged.
 */
SHIM_HIDDEN int shim_statcache_stat(int vdirfd, const char *dpath,
				    bool follow, struct stat *st);
/*
 * The virtual side of fstatat(vdirfd, dpath, st, flags) (namei.c's
 * wrappers): through the cache when it can be (no flags but
 * AT_SYMLINK_NOFOLLOW), else straight to the daemon. >= 0 or -errno.
 */
SHIM_HIDDEN long shim_statcache_fstatat(int vdirfd, const char *dpath,
					void *st, int flags);
/* Counters of hits and misses, for tests and the benchmark. */
SHIM_HIDDEN void shim_statcache_counts(unsigned long *hits,
				       unsigned long *misses);

#endif /* UK_SHIMLIB_H */
