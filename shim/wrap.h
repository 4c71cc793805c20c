/* SPDX-License-Identifier: MIT */
/*
 * shim/wrap.h - the two routing helpers every wrapper is written with, so
 * that each wrapper stays a few lines:
 *
 *	FD_ROUTE(fd, virtual_call);            then the host call
 *	PATH_ROUTE(dirfd, path, virtual_call);  then the host call
 *
 * Inside virtual_call, PATH_ROUTE's resolved daemon dirfd is `vd` and the
 * daemon path `vp`. Both return from the wrapper with glibc's convention
 * when the call is virtual. A path call that cannot reach the daemon says
 * ENOENT (the lookup found nothing), an fd call EIO.
 */
#ifndef UK_SHIM_WRAP_H
#define UK_SHIM_WRAP_H

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "client_internal.h"
#include "shim.h"
#include "shim_internal.h"

/* -EIO from an unreachable daemon becomes -ENOENT for a path lookup. */
static inline long shim_path_err(long r)
{
	if (r == -EIO && (shim_is_down() || !shim_connected()))
		return -ENOENT;
	return r;
}

#define FD_ROUTE(fd, vcall)                                                    \
	do {                                                                   \
		if (shim_fd_is_virtual(fd))                                    \
			return shim_ret(vcall);                                \
	} while (0)

/*
 * Most host paths, decided inline before shim_path_resolve(): a host
 * context (AT_FDCWD and a host cwd) and a path whose first bytes say it
 * is not under the root, because it is relative or because its second
 * byte is neither the root's ("/uk": 'u') nor '/' or '.' ("/etc/x").
 * About 15 instructions against ~80 for the call; a host-only program
 * pays this on every path call. The bytes are read with one fault-safe
 * load (a bad pointer is the host's EFAULT), and only when all 16 lie in
 * the first byte's page, which a valid string's first byte maps.
 */
static inline bool shim_path_quick_host(int dirfd, const char *path)
{
	char pre[16];

	if (dirfd != AT_FDCWD ||
	    atomic_load_explicit(&shim_cwd_virtual, memory_order_relaxed) ||
	    (uintptr_t)path < 4096 || ((uintptr_t)path & 4095) > 4096 - 16 ||
	    !uk_cl_uaccess_ok || uk_cl_peek16(pre, path))
		return false;
	return pre[0] != '/' ||
	       (pre[1] != shim_root_byte1 && pre[1] != '/' && pre[1] != '.');
}

#define PATH_ROUTE(dirfd, path, vcall)                                         \
	char vp[SHIM_PATH_MAX];                                                \
	int vd;                                                                \
	do {                                                                   \
		int k_;                                                        \
		if (shim_path_quick_host(dirfd, path))                         \
			break;                                                 \
		k_ = shim_path_resolve(dirfd, path, &vd, vp, sizeof(vp));      \
		if (k_ < 0)                                                    \
			return shim_ret(k_);                                   \
		if (k_ > 0)                                                    \
			return shim_ret(shim_path_err(vcall));                 \
	} while (0)

/* A wrapper's host call when the shim itself is calling (see shim_busy). */
#define IF_BUSY(hostcall)                                                      \
	do {                                                                   \
		if (__builtin_expect(shim_busy, 0))                            \
			return hostcall;                                       \
	} while (0)

#endif /* UK_SHIM_WRAP_H */
