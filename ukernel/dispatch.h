/* SPDX-License-Identifier: MIT */
/*
 * ukernel/dispatch.h - the dispatch layer's interface inside ukernel/: the
 * generated syscall numbers, per-task I/O accounting helpers for the VFS,
 * statistics (counts, errors, latency histograms), trace hooks with a
 * ready-made strace-like tracer, the policy (seccomp-like rules and fault
 * injection), and the uaccess routines behind uk_self_mm_ops.
 *
 * Sections: numbers, I/O accounting, stats, trace, policy, uaccess.
 */
#ifndef UK_DISPATCH_H
#define UK_DISPATCH_H

#include <stdio.h>

#include "internal.h"
#include "uk_syscalls.h" /* generated: UK_NR_<name>, UK_NR_SYSCALLS */

/* ---- numbers ------------------------------------------------------------ */

/*
 * Linux's do_syscall_64 takes the number as the int in eax (movslq) and
 * compares it as unsigned: the high 32 bits of the register are ignored,
 * and a negative int is out of range. This is that cut.
 */
static inline unsigned int uk_syscall_nr(unsigned long nr)
{
	return (unsigned int)nr;
}

/* ---- I/O accounting (/proc/PID/io) --------------------------------------- */

/*
 * Call these where Linux's vfs_read/vfs_write (and do_readv, do_preadv,
 * do_sendfile, vfs_copy_file_range) call add_rchar/inc_syscr: once per
 * call that passed the descriptor and range checks, with its result.
 *   syscr: read, pread64, readv, preadv, preadv2, and the reading side of
 *          sendfile and copy_file_range;
 *   syscw: write, pwrite64, writev, pwritev, pwritev2, and the writing side
 *          of sendfile and copy_file_range.
 * rchar/wchar grow by the bytes transferred (a positive result); a failed
 * or empty transfer still counts as one call. A task may be used by several
 * threads of its process, hence the relaxed atomics.
 */
static inline void uk_account_read(struct uk_task *t, long ret)
{
	__atomic_fetch_add(&t->io.syscr, 1, __ATOMIC_RELAXED);
	if (ret > 0)
		__atomic_fetch_add(&t->io.rchar, (uint64_t)ret,
				   __ATOMIC_RELAXED);
}

static inline void uk_account_write(struct uk_task *t, long ret)
{
	__atomic_fetch_add(&t->io.syscw, 1, __ATOMIC_RELAXED);
	if (ret > 0)
		__atomic_fetch_add(&t->io.wchar, (uint64_t)ret,
				   __ATOMIC_RELAXED);
}

/* Copies the task's I/O counters into *io. */
void uk_task_get_io(struct uk_task *t, struct uk_task_io *io);

/* ---- stats --------------------------------------------------------------- */

/*
 * Latency histogram: bucket i counts calls that took [2^i, 2^(i+1)) ns
 * (bucket 0 also takes 0 ns, the last one everything above). Latencies
 * are measured only while timing is on (uk_stats_set_timing) or a tracer
 * is attached; counts and error counts are always kept.
 */
#define UK_LAT_BUCKETS 32

struct uk_syscall_stat {
	uint64_t calls;
	uint64_t errors;   /* results in -4095..-1 */
	uint64_t timed;    /* calls that were timed */
	uint64_t ns_total; /* sum over timed calls */
	uint64_t lat[UK_LAT_BUCKETS];
};

struct uk_stats_snapshot {
	unsigned long nr_syscalls;     /* entries in per[] */
	struct uk_syscall_stat *per;   /* indexed by syscall number */
	struct uk_syscall_stat total;  /* sum over every number */
	uint64_t out_of_range;         /* numbers outside the table */
	bool timing;
};

int uk_stats_init(struct uk_kernel *k);
void uk_stats_exit(struct uk_kernel *k);

/* Turns latency measurement on or off (off by default). */
void uk_stats_set_timing(struct uk_kernel *k, bool on);

/*
 * Fills *snap with the counters since the kernel started or the last
 * uk_stats_reset(). Allocates snap->per; release with
 * uk_stats_snapshot_free(). Returns 0 or -ENOMEM. Counters of calls in
 * flight may be missed or half-counted (they are read without stopping
 * the writers), never torn.
 */
int uk_stats_snapshot(struct uk_kernel *k, struct uk_stats_snapshot *snap);
void uk_stats_snapshot_free(struct uk_stats_snapshot *snap);

/* Makes the counters start again from zero (for later snapshots). */
int uk_stats_reset(struct uk_kernel *k);

/*
 * Prints snap as a table, one row per syscall that was called: name,
 * calls, errors, and with timing the mean and the p50/p99 bucket bounds.
 */
void uk_stats_print(const struct uk_stats_snapshot *snap, FILE *out);

/* Latency bucket for ns (log2). */
unsigned int uk_lat_bucket(uint64_t ns);

/*
 * The counters live in one block per thread and kernel, written only by
 * that thread with plain (relaxed) stores and summed by uk_stats_snapshot,
 * so counting a call costs no locked instruction and no shared cache line.
 */
struct uk_stat_ctr {
	_Atomic uint64_t calls, errors, timed, ns_total;
	_Atomic uint64_t lat[UK_LAT_BUCKETS];
};

struct uk_stats_block {
	struct uk_stats_block *next; /* in uk_sysstats.blocks */
	pthread_t owner;
	struct uk_stat_ctr c[UK_NR_SYSCALLS];
};

struct uk_sysstats {
	uint64_t id;             /* unique per kernel: keys the thread cache */
	atomic_bool timing;
	_Atomic uint64_t out_of_range;
	/*
	 * lock protects blocks (the list, not the counters in them) and
	 * baseline; nothing else is taken while it is held.
	 */
	pthread_mutex_t lock;
	struct uk_stats_block *blocks;
	struct uk_syscall_stat *baseline; /* counters at the last reset */
};

/* This thread's block of the kernel it used last. */
struct uk_stats_tls {
	uint64_t id;
	struct uk_stats_block *block;
};
extern _Thread_local struct uk_stats_tls uk_stats_tls
	__attribute__((tls_model("initial-exec")));

/* Finds or makes this thread's block for s; NULL when out of memory. */
struct uk_stats_block *uk_stats_block_slow(struct uk_sysstats *s);

static inline void uk_ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* The dispatcher's accounting of one call; ns is UINT64_MAX if untimed. */
static inline void uk_stats_account(struct uk_kernel *k, unsigned int nr,
				    long ret, uint64_t ns)
{
	struct uk_sysstats *s = k->stats;
	struct uk_stats_block *b;
	struct uk_stat_ctr *c;

	if (uk_likely(uk_stats_tls.id == s->id))
		b = uk_stats_tls.block;
	else if (!(b = uk_stats_block_slow(s)))
		return;
	c = &b->c[nr];
	uk_ctr_add(&c->calls, 1);
	if (uk_unlikely((unsigned long)ret >= -4095ul))
		uk_ctr_add(&c->errors, 1);
	if (uk_unlikely(ns != UINT64_MAX)) {
		uk_ctr_add(&c->timed, 1);
		uk_ctr_add(&c->ns_total, ns);
		uk_ctr_add(&c->lat[uk_lat_bucket(ns)], 1);
	}
}

static inline void uk_stats_account_out_of_range(struct uk_kernel *k)
{
	atomic_fetch_add_explicit(&k->stats->out_of_range, 1,
				  memory_order_relaxed);
}

/* True while latencies are measured. */
static inline bool uk_stats_timing(struct uk_kernel *k)
{
	return atomic_load_explicit(&k->stats->timing, memory_order_relaxed);
}

/* Monotonic nanoseconds (the vDSO clock). */
uint64_t uk_now_ns(void);

/* ---- trace --------------------------------------------------------------- */

/*
 * A tracer: both hooks are optional and run on the calling thread, around
 * the policy check and the handler. nr is the number as given (it may be
 * out of the table); ret is the result; ns the call's latency. A tracer
 * must not call uk_dispatch on the same kernel.
 */
struct uk_trace {
	void (*enter)(struct uk_trace *tr, struct uk_task *task,
		      unsigned long nr, const unsigned long *args);
	void (*exit)(struct uk_trace *tr, struct uk_task *task,
		     unsigned long nr, const unsigned long *args, long ret,
		     uint64_t ns);
};

/*
 * Attaches tr (NULL detaches) and returns the previous tracer. The caller
 * owns both; it may free a detached tracer only once no call that could
 * have seen it is still in flight (e.g. after its own front-ends have
 * returned from uk_dispatch).
 */
struct uk_trace *uk_trace_attach(struct uk_kernel *k, struct uk_trace *tr);

/* Flags of the strace-like tracer. */
#define UK_STRACE_PID  0x1u /* prefix "[pid N] " */
#define UK_STRACE_TIME 0x2u /* suffix " <0.000012>" (seconds in the call) */

/*
 * The ready-made tracer: writes one line per call, as strace does, to fd
 * (one write(2) per line, so lines from several threads do not mix), or
 * to emit(priv, line, len) when emit is set. Returns the tracer or
 * ERR_PTR(-ENOMEM); free with uk_strace_free() after detaching it.
 */
struct uk_trace *uk_strace_new(int fd, unsigned int flags,
			       void (*emit)(void *priv, const char *line,
					    size_t len),
			       void *priv);
void uk_strace_free(struct uk_trace *tr);

/*
 * Formats one call as strace prints it, without the newline, into buf:
 * `openat(AT_FDCWD, "/a", O_RDONLY) = 3` or
 * `unlink("/x") = -1 ENOENT (No such file or directory)`. Strings are
 * read through the task's uaccess and shown as strace shows them (at most
 * 32 bytes, then "..."); a bad pointer shows as its hex value. Syscalls
 * the formatter does not know show six hex words. Returns the length
 * (truncated to size - 1, always NUL-terminated).
 */
size_t uk_strace_format(struct uk_task *task, unsigned long nr,
			const unsigned long *args, long ret, char *buf,
			size_t size);

/* "ENOENT" for 2, or NULL for an unknown errno. */
const char *uk_errno_name(int err);

/* ---- policy -------------------------------------------------------------- */

enum uk_policy_action {
	UK_POLICY_ALLOW = 0, /* run the handler */
	UK_POLICY_ERRNO,     /* fail every call with -err */
	UK_POLICY_FAIL_NTH,  /* fail every param-th call (N, 2N, ...) */
	UK_POLICY_FAIL_PROB, /* fail with probability param per million */
};

/* nr for uk_policy_set: the rule applies to every number of the table. */
#define UK_POLICY_ALL (~0ul)

/*
 * Sets the rule for syscall nr (or every number with UK_POLICY_ALL),
 * effective for calls that start after it returns. Returns 0, -EINVAL for
 * a number outside the table, an unknown action, err outside 1..4095 or a
 * zero N, or -ENOMEM. Rules may change while other threads dispatch.
 */
int uk_policy_set(struct uk_kernel *k, unsigned long nr,
		  enum uk_policy_action action, int err, unsigned int param);
/* Seeds the fault injector (UK_POLICY_FAIL_PROB) for reproducible runs. */
int uk_policy_seed(struct uk_kernel *k, uint64_t seed);
/* Sets every rule back to ALLOW. */
void uk_policy_clear(struct uk_kernel *k);
/* Frees the rules (uk_kernel_free). */
void uk_policy_exit(struct uk_kernel *k);

/*
 * The dispatcher's check: 0 to run the handler, or the -errno to return.
 * nr is in the table.
 */
long uk_policy_check(struct uk_policy *p, struct uk_task *task,
		     unsigned int nr);

/* ---- uaccess ------------------------------------------------------------- */

/*
 * Installs the SIGSEGV/SIGBUS handler that turns a fault in a uaccess
 * routine into -EFAULT (docs/uaccess.md); faults that are not ours go to
 * the handler it replaced. Thread-safe; uk_kernel_new() and the first copy
 * call it. A program (or test framework) that installs its own SIGSEGV
 * handler afterwards must call it again, or bad user pointers crash.
 * Returns 0 or -errno.
 */
int uk_uaccess_init(void);

/*
 * The same interface over process_vm_readv/writev on the calling process:
 * the portable fallback (it is uk_self_mm_ops where the exception table
 * does not exist) and the reference the tests compare with.
 */
extern const struct uk_mm_ops uk_self_pvm_mm_ops;

/* Highest user address + 1, as x86-64's TASK_SIZE_MAX. */
#define UK_TASK_SIZE_MAX ((1ul << 47) - 4096)

/*
 * access_ok(): true when [addr, addr + n) lies below UK_TASK_SIZE_MAX
 * without wrapping.
 */
static inline bool uk_access_ok(unsigned long addr, size_t n)
{
	return n <= UK_TASK_SIZE_MAX && addr <= UK_TASK_SIZE_MAX - n;
}

/* Helpers for one value: 0 or -EFAULT. */
#define put_user(task, val, uaddr)                                            \
	__extension__({                                                        \
		__typeof__(val) __pu_v = (val);                                \
		copy_to_user((task), (uaddr), &__pu_v, sizeof(__pu_v));        \
	})

#endif /* UK_DISPATCH_H */
