// SPDX-License-Identifier: MIT
/*
 * ukernel/stats.c - per-syscall statistics: call and error counts and a
 * log2 latency histogram, kept in one block per thread (dispatch.h says
 * why), summed into snapshots and printed as a table for `ukctl stats`.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "uk_time.h"

_Thread_local struct uk_stats_tls uk_stats_tls
	__attribute__((tls_model("initial-exec")));

/* Kernel ids start at 1 so that a thread's zeroed cache matches nothing. */
static _Atomic uint64_t uk_stats_next_id = 1;

/*
 * Latencies are measured with the TSC where it ticks at a constant rate
 * through idle states (constant_tsc and nonstop_tsc): a rdtsc costs a few
 * ns where clock_gettime costs ~80 ns on a kvm-clock guest. The rate is
 * calibrated once against CLOCK_MONOTONIC over 2 ms; elsewhere, or without
 * those flags, CLOCK_MONOTONIC serves.
 */
static double uk_tsc_ns_per_tick; /* 0: use CLOCK_MONOTONIC */
static pthread_once_t uk_tsc_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static bool uk_tsc_invariant(void)
{
	bool constant = false, nonstop = false;
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

static void uk_tsc_calibrate(void)
{
	uint64_t t0, t1, c0, c1;

	if (!uk_tsc_invariant())
		return;
	t0 = uk_mono_ns();
	c0 = __builtin_ia32_rdtsc();
	do
		t1 = uk_mono_ns();
	while (t1 - t0 < 2000000);
	c1 = __builtin_ia32_rdtsc();
	if (c1 > c0)
		uk_tsc_ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}
#else
static void uk_tsc_calibrate(void)
{
}
#endif

uint64_t uk_now_ns(void)
{
	pthread_once(&uk_tsc_once, uk_tsc_calibrate);
#if defined(__x86_64__)
	if (uk_tsc_ns_per_tick > 0)
		return (uint64_t)((double)__builtin_ia32_rdtsc() *
				  uk_tsc_ns_per_tick);
#endif
	return uk_mono_ns();
}

unsigned int uk_lat_bucket(uint64_t ns)
{
	unsigned int b;

	if (ns < 2)
		return 0;
	b = 63u - (unsigned int)__builtin_clzll(ns);
	return b < UK_LAT_BUCKETS ? b : UK_LAT_BUCKETS - 1;
}

int uk_stats_init(struct uk_kernel *k)
{
	struct uk_sysstats *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->id = atomic_fetch_add(&uk_stats_next_id, 1);
	pthread_mutex_init(&s->lock, NULL);
	k->stats = s;
	return 0;
}

void uk_stats_exit(struct uk_kernel *k)
{
	struct uk_sysstats *s = k->stats;
	struct uk_stats_block *b, *next;

	if (!s)
		return;
	for (b = s->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	if (uk_stats_tls.id == s->id)
		uk_stats_tls = (struct uk_stats_tls){ 0 };
	pthread_mutex_destroy(&s->lock);
	free(s->baseline);
	free(s);
	k->stats = NULL;
}

/*
 * A thread that has not counted for this kernel (or that used another
 * kernel since) looks its block up by owner; a thread id reused after an
 * exit inherits the dead thread's block, which is still single-writer.
 */
struct uk_stats_block *uk_stats_block_slow(struct uk_sysstats *s)
{
	pthread_t self = pthread_self();
	struct uk_stats_block *b;

	pthread_mutex_lock(&s->lock);
	for (b = s->blocks; b; b = b->next)
		if (pthread_equal(b->owner, self))
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (b) {
			b->owner = self;
			b->next = s->blocks;
			s->blocks = b;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (b)
		uk_stats_tls = (struct uk_stats_tls){ .id = s->id, .block = b };
	return b;
}

void uk_stats_set_timing(struct uk_kernel *k, bool on)
{
	atomic_store_explicit(&k->stats->timing, on, memory_order_relaxed);
}

static uint64_t ld(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Sums every block into per[]; caller holds s->lock. */
static void uk_stats_sum_locked(struct uk_sysstats *s,
				struct uk_syscall_stat *per)
{
	struct uk_stats_block *b;
	unsigned int nr, i;

	memset(per, 0, sizeof(*per) * UK_NR_SYSCALLS);
	for (b = s->blocks; b; b = b->next) {
		for (nr = 0; nr < UK_NR_SYSCALLS; nr++) {
			struct uk_stat_ctr *c = &b->c[nr];
			struct uk_syscall_stat *p = &per[nr];

			p->calls += ld(&c->calls);
			if (!p->calls)
				continue;
			p->errors += ld(&c->errors);
			p->timed += ld(&c->timed);
			p->ns_total += ld(&c->ns_total);
			for (i = 0; i < UK_LAT_BUCKETS; i++)
				p->lat[i] += ld(&c->lat[i]);
		}
	}
}

int uk_stats_snapshot(struct uk_kernel *k, struct uk_stats_snapshot *snap)
{
	struct uk_sysstats *s = k->stats;
	struct uk_syscall_stat *per;
	unsigned int nr, i;

	memset(snap, 0, sizeof(*snap));
	per = calloc(UK_NR_SYSCALLS, sizeof(*per));
	if (!per)
		return -ENOMEM;

	pthread_mutex_lock(&s->lock);
	uk_stats_sum_locked(s, per);
	if (s->baseline) {
		for (nr = 0; nr < UK_NR_SYSCALLS; nr++) {
			struct uk_syscall_stat *p = &per[nr];
			const struct uk_syscall_stat *z = &s->baseline[nr];

			p->calls -= z->calls;
			p->errors -= z->errors;
			p->timed -= z->timed;
			p->ns_total -= z->ns_total;
			for (i = 0; i < UK_LAT_BUCKETS; i++)
				p->lat[i] -= z->lat[i];
		}
	}
	pthread_mutex_unlock(&s->lock);

	for (nr = 0; nr < UK_NR_SYSCALLS; nr++) {
		snap->total.calls += per[nr].calls;
		snap->total.errors += per[nr].errors;
		snap->total.timed += per[nr].timed;
		snap->total.ns_total += per[nr].ns_total;
		for (i = 0; i < UK_LAT_BUCKETS; i++)
			snap->total.lat[i] += per[nr].lat[i];
	}
	snap->per = per;
	snap->nr_syscalls = UK_NR_SYSCALLS;
	snap->out_of_range = ld(&s->out_of_range);
	snap->timing = uk_stats_timing(k);
	return 0;
}

void uk_stats_snapshot_free(struct uk_stats_snapshot *snap)
{
	free(snap->per);
	snap->per = NULL;
	snap->nr_syscalls = 0;
}

int uk_stats_reset(struct uk_kernel *k)
{
	struct uk_sysstats *s = k->stats;
	struct uk_syscall_stat *base;

	base = calloc(UK_NR_SYSCALLS, sizeof(*base));
	if (!base)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	uk_stats_sum_locked(s, base);
	free(s->baseline);
	s->baseline = base;
	pthread_mutex_unlock(&s->lock);
	atomic_store_explicit(&s->out_of_range, 0, memory_order_relaxed);
	return 0;
}

/* Upper bound in ns of the bucket holding the q-quantile (0 < q < 1). */
static uint64_t uk_lat_quantile(const struct uk_syscall_stat *p, double q)
{
	uint64_t want, seen = 0;
	unsigned int i;

	if (!p->timed)
		return 0;
	want = (uint64_t)(q * (double)p->timed);
	if (want >= p->timed)
		want = p->timed - 1;
	for (i = 0; i < UK_LAT_BUCKETS; i++) {
		seen += p->lat[i];
		if (seen > want)
			return 2ull << i;
	}
	return 2ull << (UK_LAT_BUCKETS - 1);
}

static void uk_stats_row(FILE *out, const char *name,
			 const struct uk_syscall_stat *p, bool timing)
{
	fprintf(out, "%-22s %12" PRIu64 " %10" PRIu64, name, p->calls,
		p->errors);
	if (timing && p->timed)
		fprintf(out, " %10.0f %10" PRIu64 " %10" PRIu64,
			(double)p->ns_total / (double)p->timed,
			uk_lat_quantile(p, 0.5), uk_lat_quantile(p, 0.99));
	fputc('\n', out);
}

void uk_stats_print(const struct uk_stats_snapshot *snap, FILE *out)
{
	unsigned long nr;
	char name[32];

	fprintf(out, "%-22s %12s %10s", "syscall", "calls", "errors");
	if (snap->timing || snap->total.timed)
		fprintf(out, " %10s %10s %10s", "mean_ns", "p50<ns", "p99<ns");
	fputc('\n', out);
	for (nr = 0; nr < snap->nr_syscalls; nr++) {
		const struct uk_syscall_stat *p = &snap->per[nr];
		const char *n = uk_syscall_name(nr);

		if (!p->calls)
			continue;
		if (!n) {
			snprintf(name, sizeof(name), "syscall_%lu", nr);
			n = name;
		}
		uk_stats_row(out, n, p, snap->timing || snap->total.timed);
	}
	uk_stats_row(out, "total", &snap->total,
		     snap->timing || snap->total.timed);
	if (snap->out_of_range)
		fprintf(out, "%-22s %12" PRIu64 "\n", "out of range",
			snap->out_of_range);
}

void uk_task_get_io(struct uk_task *t, struct uk_task_io *io)
{
	io->rchar = __atomic_load_n(&t->io.rchar, __ATOMIC_RELAXED);
	io->wchar = __atomic_load_n(&t->io.wchar, __ATOMIC_RELAXED);
	io->syscr = __atomic_load_n(&t->io.syscr, __ATOMIC_RELAXED);
	io->syscw = __atomic_load_n(&t->io.syscw, __ATOMIC_RELAXED);
}
