/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ring_server.h - the ring server: serves the system calls of client
 * processes (shim/client.c) over shared-memory rings, on behalf of one
 * kernel instance. ukerneld calls uk_ring_server_start() with its kernel and
 * a socket path and uk_ring_server_stop() on SIGTERM; that is all it needs.
 *
 * Functions return >= 0 or -errno; pointers are ERR_PTR-style.
 */
#ifndef UK_RING_SERVER_H
#define UK_RING_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uk.h"

struct uk_ring_server;

/*
 * What the server needs from a kernel. uk_ring_server_start() uses the real
 * kernel's functions; tests may pass their own (uk_ring_server_start_ops).
 */
struct uk_ring_kernel_ops {
	struct uk_task *(*task_new)(struct uk_kernel *k, pid_t pid,
				    const struct uk_cred *cred);
	void (*cred_init)(struct uk_cred *cred, uid_t uid, gid_t gid);
	struct uk_task *(*task_fork)(struct uk_task *parent, pid_t child_pid);
	int (*task_exec)(struct uk_task *task);
	/* Optional: the task's descriptor limit (RLIMIT_NOFILE soft). */
	void (*set_nofile)(struct uk_task *task, uint64_t limit);
	void (*task_exit)(struct uk_task *task);
	long (*dispatch)(struct uk_task *task, unsigned long nr,
			 const unsigned long args[6]);
	/*
	 * Optional, both or neither: interrupting one call (uk.h's
	 * uk_intr_set_current and uk_intr_wake). Without them a client's
	 * UK_SLOT_INTR changes nothing.
	 */
	void (*set_intr)(const struct uk_intr *in);
	void (*intr_wake)(const struct uk_intr *in);
	/*
	 * Optional: from now on, the kernel calls uk_ring_inode_changed(srv,
	 * st_dev, st_ino) for every change of an inode, whoever made it, before
	 * the changing call returns (*cookie is the watch's). unwatch ends
	 * that and returns only when no such call is still running.
	 */
	int (*watch)(struct uk_kernel *k, struct uk_ring_server *srv,
		     void **cookie);
	void (*unwatch)(struct uk_kernel *k, void *cookie);
};

#define UK_RING_MAX_ALLOW 32

/* Options; zero means the default. */
struct uk_ring_server_opts {
	/* Socket path; NULL: uk_ring_default_socket_path("default"). */
	const char *socket_path;
	/* Mode of the socket file; 0: 0600 (owner only), 0666 if allow_uids. */
	unsigned int socket_mode;
	/* Other uids allowed to connect, besides the daemon's own. */
	unsigned int n_allow_uids;
	uid_t allow_uids[UK_RING_MAX_ALLOW];
	/* Worker threads at start (default 2) and at most (default 8). */
	unsigned int min_workers, max_workers;
	/* Connected clients at most (default and limit: 127, futex_waitv). */
	unsigned int max_clients;
	/* The poller sleeps after this long without a request (200 us). */
	unsigned int idle_us;
	/* A call running longer than this gets its poller replaced (1000 us). */
	unsigned int rescue_us;
	/* Log function for refusals and errors; NULL: stderr. */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
};

/*
 * Starts serving kernel k: creates the socket (and its directory, 0700),
 * listens, starts the monitor thread and the workers. The kernel must
 * outlive the server. Returns the server or ERR_PTR(-errno).
 */
struct uk_ring_server *uk_ring_server_start(struct uk_kernel *k,
					    const struct uk_ring_server_opts *o);
struct uk_ring_server *
uk_ring_server_start_ops(struct uk_kernel *k,
			 const struct uk_ring_kernel_ops *kops,
			 const struct uk_ring_server_opts *o);

/*
 * Stops accepting (closes and unlinks the socket), serves the requests
 * already published, tells every client the server is gone, joins every
 * thread, exits every task and frees the server.
 */
void uk_ring_server_stop(struct uk_ring_server *srv);

/*
 * The default socket path for a daemon named name (the image's base name):
 * $XDG_RUNTIME_DIR/ukernel/NAME.sock, else /tmp/ukernel-UID/NAME.sock.
 * Returns the length or -ENAMETOOLONG.
 */
int uk_ring_default_socket_path(const char *name, char *buf, size_t len);

/*
 * Tells every client's vvar that inode (dev, ino) changed (its stat cache
 * must not trust what it had). Cheap: one atomic increment.
 */
void uk_ring_inode_changed(struct uk_ring_server *srv, uint64_t dev,
			   uint64_t ino);

/* Counters for tests and ukctl. */
struct uk_ring_server_stats {
	uint64_t calls;        /* requests dispatched (batch entries count) */
	uint64_t wakeups;      /* times the poller woke from its futex sleep */
	uint64_t rescues;      /* pollers replaced during a long call */
	uint64_t moves;        /* poller moved off its client's CPU */
	uint64_t bad_requests; /* malformed slots refused (-EINVAL) */
	unsigned int clients;  /* connected now */
	unsigned int tasks;    /* tasks held now */
	unsigned int workers;  /* worker threads now */
	unsigned int forks;    /* children's tasks registered, not yet taken */
};
void uk_ring_server_get_stats(struct uk_ring_server *srv,
			      struct uk_ring_server_stats *st);

#endif /* UK_RING_SERVER_H */
