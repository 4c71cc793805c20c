// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_vvar.c - the daemon's side of the vvar areas: sealed memfds
 * that clients can only map read-only, the seqlock writers for a task's ids,
 * and the clock (TSC calibrated against CLOCK_MONOTONIC, its base
 * republished a few times a second so that a reader's error stays at the
 * TSC's drift over that interval).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring_internal.h"

#define VVAR_SHIFT 32

int uk_ring_vvar_create(const char *name, size_t size, void **map)
{
	void *p;
	int fd, ret;

	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto err_close;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	/*
	 * F_SEAL_FUTURE_WRITE keeps our writable mapping and refuses every
	 * later writable mapping or write(): clients can only read.
	 */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK |
				       F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto err_unmap;
	}
	*map = p;
	return fd;

err_unmap:
	munmap(p, size);
err_close:
	close(fd);
	return ret;
}

/* ---- seqlock writers ------------------------------------------------------ */

/*
 * One writer at a time per area (callers serialise: srv->lock for the task
 * ids, the monitor thread alone for the clock).
 */
static void vvar_write_begin(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	/* Orders the odd count before the data stores that follow. */
	atomic_thread_fence(memory_order_release);
}

static void vvar_write_end(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);

	/* Orders the data stores before the even count (release). */
	atomic_store_explicit(seq, s + 1, memory_order_release);
}

/*
 * The data fields are plain words written while the count is odd; readers
 * copy them with relaxed atomic loads and discard the copy on a retry.
 */
#define VVAR_SET(field, val) \
	__atomic_store_n(&(field), (val), __ATOMIC_RELAXED)

void uk_ring_vvar_write_ids(struct uk_vvar_task *v, int64_t pid, int64_t ppid,
			    int64_t uid, int64_t euid, int64_t gid,
			    int64_t egid)
{
	vvar_write_begin(&v->seq);
	VVAR_SET(v->pid, pid);
	VVAR_SET(v->ppid, ppid);
	VVAR_SET(v->uid, uid);
	VVAR_SET(v->euid, euid);
	VVAR_SET(v->gid, gid);
	VVAR_SET(v->egid, egid);
	vvar_write_end(&v->seq);
}

void uk_ring_publish_ids(struct ring_task *rt)
{
	struct uk_task *t = rt->task;
	struct uk_cred c;

	/* cred_lock: a consistent set against a concurrent setuid call. */
	pthread_mutex_lock(&t->cred_lock);
	c = t->cred;
	pthread_mutex_unlock(&t->cred_lock);
	uk_ring_vvar_write_ids(rt->vvar, t->pid, t->ppid, c.uid, c.euid, c.gid,
			       c.egid);
}

/* ---- clock ------------------------------------------------------------------ */

static uint64_t ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A (tsc, monotonic, realtime) triple taken close together: the tightest
 * of a few tries, the TSC taken as the midpoint of the window.
 */
static void clock_sample(uint64_t *tsc, uint64_t *mono, uint64_t *real)
{
	uint64_t best = UINT64_MAX;

	*tsc = *mono = *real = 0;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = uk_rdtsc();
		uint64_t m = ts_ns(CLOCK_MONOTONIC);
		uint64_t r = ts_ns(CLOCK_REALTIME);
		uint64_t t1 = uk_rdtsc();

		if (t1 - t0 < best) {
			best = t1 - t0;
			*tsc = t0 + (t1 - t0) / 2;
			*mono = m;
			*real = r;
		}
	}
}

/* The calibration's first sample, the baseline for refining mult. */
static uint64_t cal_tsc0, cal_mono0;

static void clock_publish(struct uk_vvar_global *g, uint64_t tsc,
			  uint64_t mono, uint64_t real, uint64_t mult,
			  uint64_t hz)
{
	vvar_write_begin(&g->seq);
	VVAR_SET(g->tsc_base, tsc);
	VVAR_SET(g->mono_base_ns, mono);
	VVAR_SET(g->real_base_ns, real);
	VVAR_SET(g->mult, mult);
	VVAR_SET(g->shift, (uint32_t)VVAR_SHIFT);
	VVAR_SET(g->tsc_hz, hz);
	/* A base older than about one second is not used (see the ABI). */
	VVAR_SET(g->tsc_max_delta, hz);
	VVAR_SET(g->clock_ok, 1u);
	vvar_write_end(&g->seq);
}

void uk_ring_clock_init(struct uk_vvar_global *g)
{
	uint64_t t0, m0, r0, t1, m1, r1, hz;
	struct timespec d = { 0, 20 * 1000 * 1000 };

	clock_sample(&t0, &m0, &r0);
	nanosleep(&d, NULL);
	clock_sample(&t1, &m1, &r1);
	if (t1 <= t0 || m1 <= m0)
		return; /* clock_ok stays 0: readers use the host's clock */
	hz = (uint64_t)((__extension__(unsigned __int128)(t1 - t0) *
			 1000000000u) /
			(m1 - m0));
	cal_tsc0 = t0;
	cal_mono0 = m0;
	clock_publish(g, t1, m1, r1,
		      (uint64_t)(((__extension__(unsigned __int128)(m1 - m0))
				  << VVAR_SHIFT) /
				 (t1 - t0)),
		      hz);
}

void uk_ring_clock_refresh(struct uk_vvar_global *g)
{
	__extension__ typedef unsigned __int128 u128;
	uint64_t t, m, r, mult, hz, old_mono;

	if (!g->clock_ok)
		return;
	clock_sample(&t, &m, &r);
	if (t <= cal_tsc0 || m <= cal_mono0)
		return;
	/* The longer the baseline, the better the rate. */
	mult = (uint64_t)(((u128)(m - cal_mono0) << VVAR_SHIFT) /
			  (t - cal_tsc0));
	hz = (uint64_t)((u128)(t - cal_tsc0) * 1000000000u / (m - cal_mono0));
	/*
	 * Never step monotonic time back: if the old base extrapolated to
	 * this TSC is ahead of the measurement, keep the extrapolation.
	 */
	old_mono = g->mono_base_ns +
		   (uint64_t)(((u128)(t - g->tsc_base) * g->mult) >> g->shift);
	if (t > g->tsc_base && old_mono > m) {
		r += old_mono - m;
		m = old_mono;
	}
	clock_publish(g, t, m, r, mult, hz);
}
