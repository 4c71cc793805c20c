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
#include <sys/syscall.h>

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

#define PATH_ROUTE(dirfd, path, vcall)                                         \
	char vp[SHIM_PATH_MAX];                                                \
	int vd;                                                                \
	do {                                                                   \
		int k_ = shim_path_resolve(dirfd, path, &vd, vp, sizeof(vp));  \
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
