// SPDX-License-Identifier: MIT
/*
 * shim/vvar.c - the client's vvar readers: ids and the clock answered from
 * the daemon's read-only areas with no round trip, the vDSO's way (read
 * the sequence count, copy, check that the count did not move).
 *
 * Clock accuracy: the daemon republishes (tsc, monotonic, realtime) every
 * 250 ms while clients are connected, with a TSC rate measured over the
 * daemon's whole life; the error is the TSC's drift against the host's
 * clock over that interval (well under a microsecond here) and the vvar's
 * monotonic time never steps back. A base older than one second is not
 * used: the host's own clock_gettime answers instead.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"

#define VVAR_TRIES 4

/* gtod_read_begin: an even count (a stable area), acquire. */
static inline uint32_t vvar_read_begin(const _Atomic uint32_t *seq)
{
	return atomic_load_explicit(seq, memory_order_acquire);
}

/* gtod_read_retry: true when a writer ran while we copied. */
static inline bool vvar_read_retry(const _Atomic uint32_t *seq, uint32_t s)
{
	/* Orders the data loads before the second count load. */
	atomic_thread_fence(memory_order_acquire);
	return (s & 1) || atomic_load_explicit(seq, memory_order_relaxed) != s;
}

#define VVAR_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

bool uk_vvar_read_ids(int64_t ids[6])
{
	const struct uk_vvar_task *v = uk_client.tv;

	for (int i = 0; i < VVAR_TRIES; i++) {
		uint32_t s = vvar_read_begin(&v->seq);

		ids[0] = VVAR_GET(v->pid);
		ids[1] = VVAR_GET(v->ppid);
		ids[2] = VVAR_GET(v->uid);
		ids[3] = VVAR_GET(v->euid);
		ids[4] = VVAR_GET(v->gid);
		ids[5] = VVAR_GET(v->egid);
		if (!vvar_read_retry(&v->seq, s))
			return true;
		uk_cpu_relax();
	}
	return false;
}

static bool vvar_id(long nr, long *ret)
{
	int64_t ids[6];

	if (!uk_vvar_read_ids(ids))
		return false;
	switch (nr) {
	case SYS_getpid: *ret = (long)ids[0]; break;
	case SYS_getppid: *ret = (long)ids[1]; break;
	case SYS_getuid: *ret = (long)ids[2]; break;
	case SYS_geteuid: *ret = (long)ids[3]; break;
	case SYS_getgid: *ret = (long)ids[4]; break;
	default: *ret = (long)ids[5]; break;
	}
	return true;
}

/*
 * Nanoseconds of CLOCK_MONOTONIC or CLOCK_REALTIME from the vvar; false
 * when the area is being written, the TSC is unusable or the base is old.
 */
static bool vvar_clock_ns(clockid_t clk, uint64_t *ns)
{
	__extension__ typedef unsigned __int128 u128;
	const struct uk_vvar_global *g = uk_client.gv;

	for (int i = 0; i < VVAR_TRIES; i++) {
		uint32_t s = vvar_read_begin(&g->seq);
		uint64_t base = clk == CLOCK_MONOTONIC ?
					VVAR_GET(g->mono_base_ns) :
					VVAR_GET(g->real_base_ns);
		uint64_t tsc_base = VVAR_GET(g->tsc_base);
		uint64_t mult = VVAR_GET(g->mult);
		uint32_t shift = VVAR_GET(g->shift);
		uint64_t max = VVAR_GET(g->tsc_max_delta);
		uint32_t ok = VVAR_GET(g->clock_ok);
		uint64_t delta = uk_rdtsc() - tsc_base;

		if (vvar_read_retry(&g->seq, s)) {
			uk_cpu_relax();
			continue;
		}
		/* A TSC behind the base (another CPU's) reads as huge. */
		if (!ok || delta > max)
			return false;
		*ns = base + (uint64_t)(((u128)delta * mult) >> (shift & 63));
		return true;
	}
	return false;
}

static bool vvar_time(long nr, const long args[6], long *ret)
{
	uint64_t ns;

	if (nr == SYS_clock_gettime) {
		clockid_t clk = (clockid_t)args[0];
		struct timespec *ts = (struct timespec *)args[1];

		if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
			return false;
		if (!vvar_clock_ns(clk, &ns)) {
			/* Base too old: the host's clock is the same clock. */
			if (clock_gettime(clk, ts) < 0)
				return false;
			*ret = 0;
			return true;
		}
		ts->tv_sec = (time_t)(ns / 1000000000u);
		ts->tv_nsec = (long)(ns % 1000000000u);
		*ret = 0;
		return true;
	}
	if (nr == SYS_gettimeofday) {
		struct timeval *tv = (struct timeval *)args[0];
		struct timespec ts;

		if (args[1]) /* a timezone: rare, obsolete, the ring answers */
			return false;
		if (vvar_clock_ns(CLOCK_REALTIME, &ns)) {
			ts.tv_sec = (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
		} else if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
			return false;
		}
		if (tv) {
			tv->tv_sec = ts.tv_sec;
			tv->tv_usec = ts.tv_nsec / 1000;
		}
		*ret = 0;
		return true;
	}
	/* time(tloc) */
	{
		time_t *tloc = (time_t *)args[0];
		time_t t;

		if (vvar_clock_ns(CLOCK_REALTIME, &ns))
			t = (time_t)(ns / 1000000000u);
		else
			t = time(NULL);
		if (tloc)
			*tloc = t;
		*ret = (long)t;
		return true;
	}
}

/* The thread's host tid, asked once: the daemon's tasks use host ids. */
static __thread long vvar_tid;

void uk_vvar_atfork_child(void)
{
	vvar_tid = 0;
}

bool uk_vvar_try(long nr, const long args[6], long *ret)
{
	switch (nr) {
	case SYS_getpid: case SYS_getppid: case SYS_getuid:
	case SYS_geteuid: case SYS_getgid: case SYS_getegid:
		return vvar_id(nr, ret);
	case SYS_gettid:
		if (!vvar_tid)
			vvar_tid = syscall(SYS_gettid);
		*ret = vvar_tid;
		return true;
	case SYS_time: case SYS_gettimeofday: case SYS_clock_gettime:
		return vvar_time(nr, args, ret);
	default:
		return false;
	}
}

uint64_t uk_change_counter(uint64_t dev, uint64_t ino)
{
	if (uk_client_ensure())
		return 0;
	/* Acquire: pairs with the kernel's release increment. */
	return atomic_load_explicit(
		&uk_client.gv->counters[uk_vvar_inode_hash(dev, ino)],
		memory_order_acquire);
}
