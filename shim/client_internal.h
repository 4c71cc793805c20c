/* SPDX-License-Identifier: MIT */
/*
 * shim/client_internal.h - the client library's shared state: the one
 * connection of this process, the per-thread slot, and the vvar readers'
 * entry points. Hidden from the library's users.
 */
#ifndef UK_CLIENT_INTERNAL_H
#define UK_CLIENT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "uk_ring_abi.h"
#include "ukernel.h"

#define UK_HIDDEN __attribute__((visibility("hidden")))

enum { CL_NONE, CL_CONNECTING, CL_READY };

struct uk_client {
	_Atomic int state;         /* CL_* */
	_Atomic uint32_t gen;      /* bumped at every (re)connect and fork */
	int fd;
	pid_t pid;                 /* our pid when connected (fork check) */
	void *region;
	struct uk_ring_header *hdr;
	const struct uk_vvar_task *tv;
	const struct uk_vvar_global *gv;
	uint64_t pickup_ticks;     /* no pickup this long: yield the CPU */
	uint64_t spin_ticks;       /* no answer this long: sleep on futex */
	char path[108];
};

extern struct uk_client uk_client UK_HIDDEN;

/* Reconnects after fork (our pid changed) and waits out a concurrent
 * connect. Returns 0 when connected, -ENOTCONN otherwise. */
UK_HIDDEN int uk_client_ensure(void);

/*
 * A call through the ring: args[6] are the argument words; marshal says
 * whether small payloads go through the slot's data area.
 */
UK_HIDDEN long uk_ring_call(long nr, const long args[6], bool marshal);

/*
 * uk_ring_call() that runs fn(arg) between handing the request over and
 * waiting for the answer, so that the caller's own work (a host system
 * call) overlaps the daemon's. fn runs only when the request went out
 * (not when the call fails with -ENOTCONN before that); it must be
 * async-signal-safe and must not use the ring.
 */
UK_HIDDEN long uk_ring_call_overlap(long nr, const long args[6], bool marshal,
				    void (*fn)(void *), void *arg);

/*
 * The vvar fast paths (vvar.c): true when *ret holds the answer; false
 * when the call must go through the ring (unknown call, area being
 * written, base too old).
 */
UK_HIDDEN bool uk_vvar_try(long nr, const long args[6], long *ret);

/*
 * The task's ids in one consistent read (pid, ppid, uid, euid, gid, egid);
 * false when a writer kept the area busy.
 */
UK_HIDDEN bool uk_vvar_read_ids(int64_t ids[6]);

/*
 * Fault-safe access to the caller's memory (uaccess.c): copies that return
 * -1 instead of crashing on a bad pointer, and cost memcpy's price when the
 * pointer is good. uk_cl_uaccess_init() installs the fault handler they
 * need (at connect); without it (uk_cl_uaccess_ok false) they all fail,
 * and the caller leaves the pointer to the daemon (process_vm, -EFAULT).
 */
extern bool uk_cl_uaccess_ok UK_HIDDEN;
UK_HIDDEN void uk_cl_uaccess_init(void);
UK_HIDDEN int uk_cl_copy_in(void *dst, const void *src, size_t n);
UK_HIDDEN int uk_cl_copy_out(void *dst, const void *src, size_t n);
/* Length of the string copied, n if no NUL within n bytes, < 0 fault. */
UK_HIDDEN long uk_cl_copy_path(char *dst, const char *src, size_t n);
/*
 * 16 bytes with one load (0, or -1 on a fault), for a first look at a
 * path; only when uk_cl_uaccess_ok, like the others.
 */
UK_HIDDEN int uk_cl_peek16(void *dst, const void *src);

/*
 * The absolute path the relative socket path rel (a $UKERNEL_SOCKET value)
 * was resolved to at this process's first connect, or NULL (never
 * resolved, or resolved from another value).
 */
UK_HIDDEN const char *uk_socket_resolved(const char *rel);

/* Forgets the thread's cached host tid (a forked child). */
UK_HIDDEN void uk_vvar_atfork_child(void);

#endif /* UK_CLIENT_INTERNAL_H */
