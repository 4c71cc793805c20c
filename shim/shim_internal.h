/* SPDX-License-Identifier: MIT */
/*
 * shim/shim_internal.h - what the core's files share beyond shim.h:
 * the re-entrancy counter, the private descriptors' bookkeeping, the
 * inherited-state hooks. Not for the libc-level layers.
 */
#ifndef UK_SHIM_INTERNAL_H
#define UK_SHIM_INTERNAL_H

#include <stdbool.h>

#include "shim.h"

/* > 0 while the shim itself runs (its calls by name reach the host). */
extern __thread int shim_busy SHIM_HIDDEN;
/* We were exec'd with virtual state (UKSHIM_STATE). */
extern bool shim_inherited SHIM_HIDDEN;

SHIM_HIDDEN int shim_private_move(int fd);
SHIM_HIDDEN void shim_private_set(int which, int fd);
/* Our private fd number `which` (0 socket, 1 placeholder master) or -1. */
SHIM_HIDDEN int shim_private_get(int which);
SHIM_HIDDEN void shim_vfd_master_moved(int fd);
SHIM_HIDDEN void shim_vfd_set_inode(unsigned long ino);
SHIM_HIDDEN unsigned long shim_vfd_inode(void);
SHIM_HIDDEN bool shim_vfd_any(void);
/* Calls fn(fd, arg) for every vfd in [lo, hi]. */
SHIM_HIDDEN void shim_vfd_each(int lo, int hi, void (*fn)(int, void *),
			       void *arg);
SHIM_HIDDEN int shim_vfd_dup(int oldfd, int minfd, bool cloexec);
SHIM_HIDDEN void shim_path_init(void);
SHIM_HIDDEN bool shim_is_down(void);
SHIM_HIDDEN bool shim_connected(void);
SHIM_HIDDEN bool shim_exec_pending(void);
/* The daemon holds a task for us (connected, or will reconnect to it). */
SHIM_HIDDEN bool shim_has_task(void);
/* Gives up on the daemon: every later virtual call fails with EIO. */
SHIM_HIDDEN void shim_set_down(const char *why);

/* A wrapper returns this from a router when the call belongs to the host. */
#define SHIM_HOST (-100000L)

/* Wrappers are exported: the files that define them say so once. */
#define SHIM_WRAPPERS_BEGIN _Pragma("GCC visibility push(default)")
#define SHIM_WRAPPERS_END _Pragma("GCC visibility pop")

#endif /* UK_SHIM_INTERNAL_H */
