/* SPDX-License-Identifier: MIT */
/*
 * ukernel/daemon.h - what ukerneld does besides parsing its command line:
 * become a daemon (with a readiness pipe to the parent), keep a second
 * daemon off the same socket, replace a stale socket, serve a kernel over
 * the ring server until SIGTERM/SIGINT, and shut down cleanly. ukerneld.c is
 * a thin main over uk_daemon_run(); the helpers are here so that tests and
 * ukrun can reuse them.
 *
 * Functions return >= 0 or -errno, except uk_daemon_run(), which returns an
 * exit status.
 */
#ifndef UK_DAEMON_H
#define UK_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring_server.h"

/* Exit statuses of ukerneld. */
#define UK_DAEMON_EXIT_OK 0
#define UK_DAEMON_EXIT_FAIL 1  /* could not start, or shutdown lost data */
#define UK_DAEMON_EXIT_USAGE 2 /* bad command line */

/* What to serve and how; filled by ukerneld's argument parser. */
struct uk_daemon_opts {
	const char *image;       /* absolute image directory; NULL: tmpfs */
	const char *root;        /* the shim's virtual root ("/uk") */
	const char *socket_path; /* absolute; see uk_daemon_socket_path() */
	uint64_t cache_size;     /* page cache bytes; 0: the kernel's default */
	bool foreground;         /* stay attached, log to stderr */
	unsigned int idle_ms;    /* exit after this long with no client; 0: never */
	unsigned int n_allow_uids;
	uid_t allow_uids[UK_RING_MAX_ALLOW];
	/* The FUSE mount (fusefs/fusefs.h); mountpoint NULL: none. */
	const char *mountpoint;  /* absolute host directory */
	bool allow_other;        /* -o allow_other */
	bool mount_ro;           /* -o ro */
	bool remote_locks;       /* --remote-locks */
	int fuse_uring;          /* --fuse-uring: FFS_URING_* */
	double entry_timeout;    /* seconds; < 0: the front-end's default */
	double attr_timeout;
};

/*
 * The name a daemon serving image is known by: the image's base name
 * without trailing slashes and without its extension ("/x/disk.img/" ->
 * "disk"); "tmpfs" for NULL (a --tmpfs daemon), and "tmpfs-image" for an
 * image called tmpfs, so that what is served decides the name: ukrun's
 * default image ("default") and a tmpfs never share a socket, and a client
 * never talks to a tmpfs thinking it is an image. Writes it to buf;
 * returns its length or -ENAMETOOLONG.
 */
int uk_daemon_name(const char *image, char *buf, size_t len);

/*
 * The socket path when none is given: $UKERNEL_SOCKET if set, else the
 * client library's rule for this name (uk_ring_default_socket_path():
 * $XDG_RUNTIME_DIR/ukernel/NAME.sock, else /tmp/ukernel-UID/NAME.sock), so
 * a client started with the same environment and UKERNEL_NAME=NAME finds
 * it. Returns the length or -ENAMETOOLONG.
 */
int uk_daemon_socket_path(const char *image, char *buf, size_t len);

/*
 * Takes the socket's lock: PATH.lock beside the socket (its directory is
 * created 0700, or 0711 when shared), an flock held while the daemon lives,
 * with our pid in it. -EBUSY when another daemon holds it, with "socket
 * PATH in use by ukerneld pid N" in errbuf. On success *lock_fd is the lock;
 * uk_daemon_unlock_socket() releases it and removes the file.
 */
int uk_daemon_lock_socket(const char *path, bool shared, int *lock_fd,
			  char *errbuf, size_t errlen);
void uk_daemon_unlock_socket(const char *path, int lock_fd);

/*
 * Checks what sits at the socket path before the ring server binds it:
 * nothing (0); a stale socket whose daemon died, detected by ECONNREFUSED,
 * removed (returns 1); a live listener (-EADDRINUSE, its pid from
 * SO_PEERCRED in errbuf); anything that is not a socket (-EEXIST; never
 * removed).
 */
int uk_daemon_probe_socket(const char *path, char *errbuf, size_t errlen);

/*
 * Closes every descriptor above stderr, as daemon(7) asks of a daemon: a
 * lock, a pipe or a socket that whoever started ukerneld left open without
 * O_CLOEXEC would otherwise be held for the daemon's whole life (`flock
 * LOCK ukerneld IMG` would never release LOCK; a caller reading a pipe
 * until EOF would wait for the daemon to exit). Nothing is passed to
 * ukerneld by descriptor: the readiness pipe is made after this, and
 * fusermount3 hands /dev/fuse to libfuse over its own socket pair. Opens
 * /dev/null on 0, 1 and 2 if any is closed, so that no file of ours gets
 * those numbers. ukerneld's main calls it first, before anything of its
 * own is open; it is not for a process that has descriptors of its own.
 */
void uk_daemon_close_inherited(void);

/*
 * Runs the daemon: unless o->foreground, forks, and the parent returns 0
 * only once the child listens (or 1, having printed the child's error);
 * the child calls setsid, logs to syslog, and moves to "/" with its stdio
 * on /dev/null once ready. Then: kernel, image, socket lock, stale socket,
 * ring server, the FUSE mount when asked (a dead one left at the mount
 * point is cleaned up first); waits for SIGTERM/SIGINT (signalfd; SIGHUP is ignored) or
 * the idle timeout; unmounts, stops the ring server (in-flight calls finish), syncs
 * and frees the kernel (write back, commit, close the image), removes the
 * socket and its lock. Returns the process's exit status.
 */
int uk_daemon_run(const struct uk_daemon_opts *o);

/* Logs one line: to stderr in the foreground, else to syslog. */
void uk_daemon_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* UK_DAEMON_H */
