/* SPDX-License-Identifier: MIT */
/*
 * ukernel.h - the client API of ukernel (pkg-config: ukernel): connect to a
 * ukerneld and hand it system calls through a shared-memory ring.
 *
 *	if (uk_connect(NULL) < 0)
 *		err(1, "ukernel: %s", uk_connect_error());
 *	long fd = uk_syscall(SYS_openat, AT_FDCWD, "/f", O_RDONLY);
 *	if (fd < 0) ... -fd is the errno ...
 *
 * uk_syscall() returns what the kernel returns: >= 0, or -errno (it never
 * touches errno). uk_connect() and uk_submit() follow libc: 0, or -1 with
 * errno set.
 *
 * Socket path when uk_connect(NULL): $UKERNEL_SOCKET if set, else
 * $XDG_RUNTIME_DIR/ukernel/NAME.sock, else /tmp/ukernel-UID/NAME.sock, where
 * NAME is $UKERNEL_NAME or "default" (ukerneld names its socket after its
 * image's base name without extension).
 *
 * Every call is thread-safe and async-signal-safe once connected (no
 * malloc, no locks: per-thread slots claimed with atomics). After fork()
 * the child reconnects by itself on its first call and gets a task that is
 * a fork of its parent's (shared open file descriptions).
 */
#ifndef UKERNEL_H
#define UKERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UK_API __attribute__((visibility("default")))

/* One request of a batch: a system call as pt_regs carries it. */
struct uk_req {
	long nr;
	long args[6];
	long result; /* out: >= 0 or -errno */
};

/* uk_connect_ex() flags. */
#define UK_CONNECT_EXEC 0x1u /* we exec'd: the daemon closes O_CLOEXEC fds */

UK_API int uk_connect(const char *socket_path);
UK_API int uk_connect_ex(const char *socket_path, unsigned int flags);
/* Why the last uk_connect() failed, e.g. a protocol version mismatch. */
UK_API const char *uk_connect_error(void);
/* Unmaps the ring and closes the socket; the task lives on until exit. */
UK_API void uk_disconnect(void);
/* The path uk_connect(NULL) would use. Returns its length or -1 (errno). */
UK_API int uk_default_socket_path(char *buf, size_t len);

/*
 * System call nr with up to six argument words. getpid, getppid, gettid,
 * getuid, geteuid, getgid, getegid, time, gettimeofday and clock_gettime
 * (REALTIME, MONOTONIC) are answered from the vvar with no round trip;
 * everything else goes through the ring. -ENOTCONN when not connected.
 */
UK_API long uk_syscall(long nr, ...);
/* The same, always through the ring (benchmarks, tests). */
UK_API long uk_syscall_ring(long nr, ...);
/*
 * The same, through the ring, with no inline copies: pointers are passed
 * as they are and the daemon reads and writes them with process_vm_*v.
 */
UK_API long uk_syscall_direct(long nr, ...);

/*
 * Sends n requests with one hand-off; the daemon runs them in order in one
 * wake-up and each result comes back in reqs[i].result. Any n: more than
 * the ring's batch size (64) goes in several hand-offs. Returns 0, or -1
 * with errno (ENOTCONN) when nothing could be sent.
 */
UK_API int uk_submit(struct uk_req *reqs, unsigned int n);

/*
 * The change counter of inode (dev, ino): it moves whenever the inode (or
 * one sharing its hash bucket) changes. A cached stat taken when the
 * counter had value v is current while the counter still reads v.
 */
UK_API uint64_t uk_change_counter(uint64_t dev, uint64_t ino);

#ifdef __cplusplus
}
#endif

#endif /* UKERNEL_H */
