/* SPDX-License-Identifier: MIT */
/*
 * shim/uk_ring_abi.h - the wire ABI between a client (shim/client.c) and the
 * ring server (ukernel/ring_server.c): the handshake messages on the Unix
 * socket, the layout of the shared region (header + per-thread slots), the
 * slot state machine and the two read-only vvar areas. Both sides include
 * this one file; UK_RING_VERSION changes whenever any of it changes.
 *
 * Everything a client can write (the region) is untrusted by the daemon;
 * everything the daemon publishes for reading (the vvar areas) is sealed
 * against client writes (F_SEAL_FUTURE_WRITE) and read under a seqlock.
 *
 * Sections: handshake, region, slot states, vvar.
 */
#ifndef UK_RING_ABI_H
#define UK_RING_ABI_H

#include <stdint.h>

#define UK_RING_MAGIC   0x4e524b55u /* "UKRN" little-endian */
#define UK_RING_VERSION 4u

/* ---- handshake ---------------------------------------------------------- */
/*
 * 1. client -> daemon: struct uk_ring_hello.
 * 2. daemon -> client: struct uk_ring_welcome, with SCM_RIGHTS carrying
 *    three fds when status == 0: the region memfd (map shared, read-write),
 *    the task vvar memfd and the global vvar memfd (map read-only; both
 *    sealed with F_SEAL_FUTURE_WRITE). On a refusal (status < 0) no fds.
 * 3. client -> daemon: struct uk_ring_mapped (where it mapped the region).
 * 4. daemon -> client: struct uk_ring_ready; from then on the daemon serves
 *    the region's slots. Afterwards the socket carries nothing: its EOF
 *    tells the daemon that the client is gone.
 */
#define UK_RING_HELLO_EXEC 0x1u /* this process exec'd since it last connected */
#define UK_RING_HELLO_FORK 0x2u /* fork_token: the task the parent registered */

struct uk_ring_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;  /* UK_RING_HELLO_* */
	uint32_t reserved;
	uint64_t fork_token; /* with UK_RING_HELLO_FORK */
};

/*
 * Requests the ring server answers itself (never the kernel), numbered far
 * above every system call. The fork protocol (docs/ring.md):
 *   FORK_PREPARE(tid)   in the parent's pthread_atfork prepare handler,
 *                       on the forking thread tid: the server makes the
 *                       child's task now (a fork of ours) and returns a
 *                       token (> 0) for it;
 *   FORK_DONE(token)    in the parent after fork(): the server finds the
 *                       new child (the forking thread's new child in /proc)
 *                       and holds the task for it until it connects or
 *                       exits;
 *   hello FORK + token  the child's first connection takes that task.
 */
#define UK_RING_NR_PRIVATE      0x554b0000L
#define UK_RING_NR_FORK_PREPARE (UK_RING_NR_PRIVATE + 1)
#define UK_RING_NR_FORK_DONE    (UK_RING_NR_PRIVATE + 2)
#define UK_RING_NR_PRIVATE_END  (UK_RING_NR_PRIVATE + 3)

struct uk_ring_welcome {
	uint32_t magic;
	uint32_t version;      /* the daemon's protocol version, always set */
	int32_t status;        /* 0, or -errno (-EPROTONOSUPPORT, -EACCES...) */
	uint32_t nslots;
	uint64_t region_size;
	uint64_t task_vvar_size;
	uint64_t global_vvar_size;
	int32_t daemon_pid;
	int32_t task_pid;      /* the task the client got (its own pid) */
	char message[96];      /* human-readable reason on a refusal */
};

struct uk_ring_mapped {
	uint32_t magic;
	uint32_t reserved;
	uint64_t region_base;  /* the client's address of the region */
};

struct uk_ring_ready {
	uint32_t magic;
	int32_t status;
};

/* ---- region ------------------------------------------------------------- */

#define UK_RING_NSLOTS    64u            /* one bit each in hdr.ready */
#define UK_RING_DATA_SIZE (16u * 1024u)  /* inline data area per slot */
#define UK_RING_BATCH_MAX 64u            /* requests in one batch */

/*
 * One system call as pt_regs carries it. A batch is an array of these at
 * the start of the slot's data area; a single call uses the slot's own.
 */
struct uk_ring_req {
	int64_t nr;
	uint64_t args[6];  /* rdi, rsi, rdx, r10, r8, r9 */
	int64_t result;
};

/*
 * Region header, one page. The client writes ready, intr and doorbell; the
 * daemon writes awake and shutdown. The daemon treats every field as a hint
 * only.
 */
struct uk_ring_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nslots;
	uint32_t data_size;
	/* Bit i set by a client after it published a request in slot i. */
	_Alignas(64) _Atomic uint64_t ready;
	/*
	 * Bit i set by a client after it set UK_SLOT_INTR in slot i's state
	 * (a signal handler without SA_RESTART ran while the call slept):
	 * the daemon looks at that slot's call. In ready's line, which the
	 * poller reads anyway, so watching it costs no cache miss.
	 */
	_Atomic uint64_t intr;
	/*
	 * Futex word: a client that found awake == 0 increments it and wakes
	 * it; the daemon's sleeping poller waits on it (futex_waitv).
	 */
	_Alignas(64) _Atomic uint32_t doorbell;
	/* Non-zero while a daemon poller is scanning (no wake needed). */
	_Alignas(64) _Atomic uint32_t awake;
	/* Set by the daemon when it stops serving this region. */
	_Atomic uint32_t shutdown;
	/*
	 * The CPU the poller last ran on, -1 unknown. A client on the same
	 * CPU yields instead of spinning; on another CPU a slow pickup is
	 * only noise, and spinning on is right.
	 */
	_Atomic int32_t poller_cpu;
};

/* ---- slot states -------------------------------------------------------- */
/*
 * The low byte of the state word is the state; the bits above are flags a
 * waiting client adds. Transitions:
 *   FREE  -> IDLE   client thread claims the slot (CAS, no lock)
 *   IDLE  -> REQ    client published nr/args (release)
 *   REQ   -> BUSY   a daemon worker took it (CAS; only one wins)
 *   BUSY  -> DONE   daemon wrote the result (exchange; wakes if WAITER)
 *   DONE  -> IDLE   client read the result
 *   IDLE  -> FREE   thread exit (pthread key destructor)
 * INTR is added by the client to a REQ or BUSY state when a signal should
 * interrupt the call (EINTR, as Linux's F_SETLKW and flock give); DONE
 * erases it with the other flags, so it always names the call in flight.
 * The daemon reads it as a request only: a call that does not sleep, or
 * sleeps uninterruptibly, is not affected.
 */
#define UK_SLOT_FREE  0u
#define UK_SLOT_IDLE  1u
#define UK_SLOT_REQ   2u
#define UK_SLOT_BUSY  3u
#define UK_SLOT_DONE  4u
#define UK_SLOT_STATE_MASK 0xffu
#define UK_SLOT_WAITER 0x100u  /* client sleeps on the state word (futex) */
#define UK_SLOT_YIELD  0x200u  /* client is yielding its CPU: daemon yields too */
#define UK_SLOT_INTR   0x400u  /* client: interrupt this call (-EINTR) */

#define UK_SLOT_BATCH  0x1u    /* flags: data area holds count requests */
#define UK_SLOT_BULK_OUT 0x2u  /* flags: the daemon streams the out-buffer */
#define UK_SLOT_BULK_IN  0x4u  /* flags: the client streams the in-buffer */

/*
 * A single call fits one cache line (state, nr, six args; the result
 * replaces nr): a round trip moves that line and the header's ready line
 * between the CPUs, nothing else.
 */
struct uk_ring_slot {
	_Atomic uint32_t state;
	uint16_t flags;        /* UK_SLOT_BATCH */
	uint16_t count;        /* requests in a batch */
	union {
		int64_t nr;        /* in: the syscall number */
		int64_t result;    /* out: >= 0 or -errno (a batch: count) */
	};
	uint64_t args[6];      /* rdi, rsi, rdx, r10, r8, r9 */
	_Alignas(64) unsigned char data[UK_RING_DATA_SIZE];
};

/* ---- bulk streams -------------------------------------------------------- */
/*
 * A read or write larger than the data area streams its buffer through the
 * slot's bulk window (UK_RING_BULK_SIZE bytes, UK_RING_BULK_NCHUNK chunks)
 * while the call runs, so that the client's copy and the daemon's overlap
 * on two CPUs (docs/shim.md "Sequential data path"). The client names its
 * buffer (addr, len) and sets UK_SLOT_BULK_OUT (read: the daemon copies
 * into the window, the client out of it) or UK_SLOT_BULK_IN (write: the
 * client copies into the window, the daemon out of it). Addresses outside
 * [addr, addr + len) and pieces the stream cannot serve go through
 * process_vm_readv/writev as before. Both counters start at 0 (the client
 * zeroes them before publishing).
 *
 *   OUT: dpos = chunks the daemon published; chunk k lies in window chunk
 *        k % NCHUNK, with desc[k % NCHUNK] = {offset in the buffer, len};
 *        cpos = chunks the client copied out (the daemon reuses a chunk
 *        only then); stop set, before the count, when it could not write
 *        its buffer (the daemon then writes no more of it, as a read
 *        stops at a hole, and probes the chunks not copied yet before it
 *        writes a piece itself).
 *   IN:  cpos = bytes of the buffer the client copied in, in order, chunk
 *        by chunk (byte b at window offset b % UK_RING_BULK_SIZE); stop
 *        set when it could not read its buffer (the daemon then reads the
 *        rest with process_vm_readv, which fails as the kernel would);
 *        dpos = bytes the daemon is done with.
 *
 * The daemon trusts none of it: it keeps its own counters and offsets, and
 * what the client writes can only make its own call see wrong bytes or
 * stall it (the daemon gives up waiting and falls back to process_vm).
 * Whoever advances its counter checks the other's WAITER flag and wakes it.
 * Each side says on which CPU it waits (ccpu, dcpu): the other spins while
 * they differ (the copies overlap) and yields when they are the same.
 */
#define UK_RING_BULK_CHUNK  (64u * 1024u)
#define UK_RING_BULK_NCHUNK 4u
#define UK_RING_BULK_SIZE   (UK_RING_BULK_CHUNK * UK_RING_BULK_NCHUNK)

struct uk_ring_bulk_desc {
	uint64_t off;
	uint32_t len;
	uint32_t reserved;
};

struct uk_ring_bulk {
	/* written by the client */
	_Alignas(64) uint64_t addr;    /* the caller's buffer */
	uint64_t len;
	_Atomic uint64_t cpos;
	_Atomic uint32_t stop;
	_Atomic int32_t ccpu;  /* where the client waits: yield if ours */
	/* written by the daemon */
	_Alignas(64) _Atomic uint64_t dpos;
	_Atomic int32_t dcpu;  /* where the daemon waits, -1 unknown */
	uint32_t reserved;
	struct uk_ring_bulk_desc desc[UK_RING_BULK_NCHUNK];
};

#define UK_RING_HEADER_SIZE 4096u
#define UK_RING_SLOTS_SIZE (UK_RING_NSLOTS * sizeof(struct uk_ring_slot))
#define UK_RING_BULKCTL_OFF (UK_RING_HEADER_SIZE + UK_RING_SLOTS_SIZE)
/* The windows start page-aligned after the control blocks. */
#define UK_RING_BULK_OFF                                                       \
	((UK_RING_BULKCTL_OFF + UK_RING_NSLOTS * sizeof(struct uk_ring_bulk) + \
	  4095u) & ~(uint64_t)4095u)
#define UK_RING_REGION_SIZE                                                    \
	(UK_RING_BULK_OFF + (uint64_t)UK_RING_NSLOTS * UK_RING_BULK_SIZE)

static inline struct uk_ring_slot *uk_ring_slot_at(void *region, unsigned i)
{
	return (struct uk_ring_slot *)((char *)region + UK_RING_HEADER_SIZE +
				       (uint64_t)i * sizeof(struct uk_ring_slot));
}

static inline struct uk_ring_bulk *uk_ring_bulk_at(void *region, unsigned i)
{
	return (struct uk_ring_bulk *)((char *)region + UK_RING_BULKCTL_OFF +
				       (uint64_t)i * sizeof(struct uk_ring_bulk));
}

static inline unsigned char *uk_ring_window_at(void *region, unsigned i)
{
	return (unsigned char *)region + UK_RING_BULK_OFF +
	       (uint64_t)i * UK_RING_BULK_SIZE;
}

/* ---- vvar --------------------------------------------------------------- */
/*
 * Both vvar areas are written by the daemon only, under a sequence count
 * (even: stable, odd: being written), and read with the vDSO's
 * gtod_read_begin/gtod_read_retry pattern.
 */

/* Per task: its ids, as getpid() & co. would return them. */
struct uk_vvar_task {
	_Atomic uint32_t seq;
	uint32_t reserved;
	int64_t pid, ppid;
	int64_t uid, euid, gid, egid;
};

/*
 * Global: the clock and the change counters. ns = base_ns +
 * ((tsc - tsc_base) * mult >> shift) for tsc - tsc_base < tsc_max_delta;
 * beyond that the base is too old and readers use the host's clock.
 * clock_ok == 0 means the daemon found no usable TSC.
 */
#define UK_VVAR_NCOUNTERS 4096u /* a power of two */

struct uk_vvar_global {
	_Atomic uint32_t seq;
	uint32_t clock_ok;
	uint64_t tsc_base;
	uint64_t mono_base_ns;
	uint64_t real_base_ns;
	uint64_t mult;         /* ns per tick << shift */
	uint32_t shift;
	uint32_t reserved;
	uint64_t tsc_max_delta;
	uint64_t tsc_hz;       /* for the clients' spin budgets */
	/*
	 * Per-inode change counters, indexed by uk_vvar_inode_hash(): the
	 * kernel increments one (release) after every change to an inode
	 * that hashes to it. Each is one aligned 64-bit word, so a reader
	 * never sees it torn; the seqlock above is not needed for them.
	 */
	_Alignas(64) _Atomic uint64_t counters[UK_VVAR_NCOUNTERS];
};

static inline uint32_t uk_vvar_inode_hash(uint64_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & (UK_VVAR_NCOUNTERS - 1);
}

#define UK_VVAR_PAGE_ROUND(x) (((x) + 4095u) & ~(uint64_t)4095u)
#define UK_VVAR_TASK_SIZE   UK_VVAR_PAGE_ROUND(sizeof(struct uk_vvar_task))
#define UK_VVAR_GLOBAL_SIZE UK_VVAR_PAGE_ROUND(sizeof(struct uk_vvar_global))

/* ---- helpers both sides use ------------------------------------------- */

/* The time-stamp counter: the spin budgets' clock (calibrated in vvar). */
static inline uint64_t uk_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* One spin-wait step: `pause` (~28 ns here) lets the sibling thread run. */
static inline void uk_cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

#endif /* UK_RING_ABI_H */
