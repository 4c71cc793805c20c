/* SPDX-License-Identifier: MIT */
/*
 * ukernel/ring_internal.h - what the ring server's files share: the server,
 * task and connection records, the worker's current call (for the mm ops'
 * pointer translation), and the vvar publishing helpers.
 *
 * Lock order: srv->lock (task table, connection list, worker list) is the
 * only mutex; no kernel lock is ever taken while holding it, and it is never
 * held across a call into the kernel's dispatch.
 */
#ifndef UK_RING_INTERNAL_H
#define UK_RING_INTERNAL_H

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "ring_server.h"
#include "../shim/uk_ring_abi.h"

/*
 * A task the server holds for one client process. Lives while the process
 * lives (its pidfd is polled) and while any call or connection uses it.
 */
struct ring_task {
	struct uk_ring_server *srv;
	struct uk_task *task;
	pid_t pid;
	uid_t uid;                   /* SO_PEERCRED at its first connection */
	uint64_t starttime;          /* /proc/PID/stat field 22: pid reuse */
	int pidfd;
	atomic_int refs;             /* table + connections + calls */
	atomic_bool dead;            /* the process exited */
	bool in_table;               /* under srv->lock */
	struct uk_vvar_task *vvar;   /* our writable mapping */
	int vvar_fd;
	struct ring_task *next;      /* srv->tasks, under srv->lock */
};

enum ring_conn_state { CONN_HELLO, CONN_MAPPED, CONN_ACTIVE, CONN_DEAD };

/* One connected client: its socket and its region. */
struct ring_conn {
	struct uk_ring_server *srv;
	int fd;
	enum ring_conn_state state;  /* monitor thread only */
	pid_t peer_pid;
	struct ring_task *rt;        /* a reference */
	void *region;                /* our mapping, UK_RING_REGION_SIZE */
	int region_fd;
	uint64_t client_base;        /* the client's mapping of the region */
	atomic_int refs;             /* connection list + executing workers */
	unsigned int rr_slot;        /* next slot to serve (poller only) */
	/*
	 * Per slot, what makes its call interruptible: the slot's state
	 * word and UK_SLOT_INTR (uk.h's struct uk_intr). Set up with the
	 * region, constant after.
	 */
	struct uk_intr intr[UK_RING_NSLOTS];
	struct ring_conn *next;      /* srv->conn_all, under srv->lock */
};

/* The connections workers scan: replaced whole, freed after an epoch. */
struct ring_conn_set {
	unsigned int n;
	struct ring_conn *c[];
};

/*
 * Large transfers through process_vm_*v: the kernel copies page by page,
 * one syscall each. The worker gathers consecutive copy_to pieces in a
 * buffer and writes them with one process_vm_writev (write-behind), and
 * reads ahead in big chunks when copy_from walks forward.
 */
#define RING_XFER_BUF (256u * 1024u)
/* copy_to pieces this large skip the buffer (ring_copy_to). */
#define RING_XFER_DIRECT (64u * 1024u)

struct ring_xfer {
	unsigned char *buf;          /* RING_XFER_BUF, the worker's own */
	uint64_t wb_dst;             /* client address of buf[0] */
	size_t wb_len;               /* bytes waiting to be written */
	uint64_t ra_src;             /* client address of buf[0] */
	size_t ra_len;               /* bytes read ahead (0: none) */
	uint64_t ra_next;            /* where a sequential read continues */
	bool failed;                 /* a write-behind faulted in this call */
};

/*
 * A call's bulk stream (uk_ring_abi.h, docs/shim.md): the daemon's side,
 * all in private memory. The shared control block is read for the
 * client's counter and stop flag only, each load a hint: offsets, lengths
 * and positions in the window are ours.
 */
/*
 * A piece that must wait for the client (it overlaps chunks the client
 * has not copied) waits at most this long; then the stream is abandoned.
 */
#define RING_BULK_STALL_NS (50ull * 1000 * 1000)

/* Wakes n waiters of futex word w (private: only this process's). */
static inline void futex_wake_n(_Atomic uint32_t *w, int n, bool private)
{
	syscall(SYS_futex, w, FUTEX_WAKE | (private ? FUTEX_PRIVATE_FLAG : 0),
		n, NULL, NULL, 0);
}

struct ring_bulk_call {
	struct uk_ring_bulk *b;      /* shared control block */
	unsigned char *win;          /* our mapping of the window */
	_Atomic uint32_t *state;     /* the slot's state word (WAITER, YIELD) */
	uint64_t addr, len;          /* the client's buffer, copied once */
	bool out;                    /* OUT (read) or IN (write) */
	bool dead;                   /* abandoned: process_vm from now on */
	bool behind;                 /* the client lagged: do not spin for it */
	bool fault;                  /* OUT: the buffer faulted: no more of it */
	uint64_t pos;                /* OUT: chunks published; IN: bytes */
	uint64_t vpos;               /* OUT: chunks below it we probed */
	bool open;                   /* OUT: a chunk is being filled */
	uint64_t open_off;
	uint32_t open_len;
	struct uk_ring_bulk_desc desc[UK_RING_BULK_NCHUNK]; /* OUT: ours */
};

/*
 * The call a worker thread is executing: lets the mm ops translate an
 * address in the client's mapping of the slot's data area to ours.
 */
struct ring_call {
	struct ring_task *rt;
	unsigned char *win;          /* our address of the slot data area */
	uint64_t cwin;               /* the client's address of the same */
	uint64_t len;
	struct ring_xfer *x;         /* NULL: no buffering */
	struct ring_bulk_call *bulk; /* NULL: no stream */
};
extern __thread struct ring_call *uk_ring_cur_call;

extern const struct uk_mm_ops uk_ring_mm_ops;

/*
 * ring_mm.c: ends a call's buffered transfers: writes what is behind and
 * forgets what was read ahead. Returns 0 or -EFAULT (the write failed).
 */
int uk_ring_xfer_flush(struct ring_call *c);

/* ring_mm.c: ends a call's bulk stream: publishes the chunk being filled. */
void uk_ring_bulk_flush(struct ring_call *c);

/* ring_mm.c: process_vm_* with -EFAULT on any failure. */
int uk_ring_vm_read(pid_t pid, void *dst, uint64_t src, size_t n);
int uk_ring_vm_write(pid_t pid, uint64_t dst, const void *src, size_t n);

/* ---- vvar (ring_vvar.c) ------------------------------------------------ */

/*
 * Creates a memfd of size bytes mapped read-write here, then sealed so that
 * nobody else can map it writable. Returns the fd and sets *map, or -errno.
 */
int uk_ring_vvar_create(const char *name, size_t size, void **map);
/* Calibrates the TSC and publishes the first clock base. */
void uk_ring_clock_init(struct uk_vvar_global *g);
/* Republishes the clock base (monitor thread, a few times a second). */
void uk_ring_clock_refresh(struct uk_vvar_global *g);
/* Writes the task's ids into its vvar (seqlock writer). */
void uk_ring_publish_ids(struct ring_task *rt);
/* Seqlock writer for the task vvar, for tests that poke raw values. */
void uk_ring_vvar_write_ids(struct uk_vvar_task *v, int64_t pid, int64_t ppid,
			    int64_t uid, int64_t euid, int64_t gid,
			    int64_t egid);

/* ---- test hooks (ring_server.c) ---------------------------------------- */

/* The vvar of the task held for pid, or NULL (tests). */
struct uk_vvar_task *uk_ring_server_task_vvar(struct uk_ring_server *srv,
					      pid_t pid);
/* The global vvar (tests). */
struct uk_vvar_global *uk_ring_server_global_vvar(struct uk_ring_server *srv);
/* The kernel task held for pid, or NULL (tests). */
struct uk_task *uk_ring_server_task(struct uk_ring_server *srv, pid_t pid);

#endif /* UK_RING_INTERNAL_H */
