// SPDX-License-Identifier: MIT
/*
 * bench/bench_dispatch.c - what the dispatch layer costs in-process:
 * uk_dispatch(getppid) with no hooks, with stats timing, with a policy
 * attached and with a (no-op) tracer, beside the host's getppid; and
 * copy_from_user of 64 B and 4 KiB through the exception-table backend,
 * the process_vm_readv backend and plain memcpy. Median of 15 runs of a
 * timed loop, in ns per operation. `bench/run dispatch [--json]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"

#define RUNS 15

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

static struct uk_task *task;
static char src[4096], dst[4096];
static const unsigned long args[6];

static void op_dispatch(long n)
{
	for (long i = 0; i < n; i++)
		uk_dispatch(task, UK_NR_getppid, args);
}

static void op_native(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

static size_t copy_len;
static const struct uk_mm_ops *copy_ops;

static void op_copy(long n)
{
	for (long i = 0; i < n; i++) {
		copy_ops->copy_from(task, dst, (unsigned long)src, copy_len);
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
}

static void op_memcpy(long n)
{
	for (long i = 0; i < n; i++) {
		memcpy(dst, src, copy_len);
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
}

static double measure(void (*op)(long), long n)
{
	double v[RUNS], t0;
	int r;

	op(n / 10); /* warm up */
	for (r = 0; r < RUNS; r++) {
		t0 = now();
		op(n);
		v[r] = (now() - t0) / (double)n;
	}
	return median(v);
}

static void nop_exit(struct uk_trace *tr, struct uk_task *t, unsigned long nr,
		     const unsigned long *a, long ret, uint64_t ns)
{
	(void)tr, (void)t, (void)nr, (void)a, (void)ret, (void)ns;
}

int main(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	struct uk_trace tr = { .exit = nop_exit };
	struct uk_kernel *k = uk_kernel_new(NULL);
	struct {
		const char *name;
		double ns;
	} r[16];
	int n = 0, i;

	if (IS_ERR_OR_NULL(k) || IS_ERR_OR_NULL(task = uk_task_new(k, 0, NULL)))
		return 1;
	memset(src, 'x', sizeof(src));

	r[n].name = "dispatch_getppid";
	r[n++].ns = measure(op_dispatch, 2000000);
	r[n].name = "native_getppid";
	r[n++].ns = measure(op_native, 200000);
	uk_stats_set_timing(k, true);
	r[n].name = "dispatch_getppid_timing";
	r[n++].ns = measure(op_dispatch, 1000000);
	uk_stats_set_timing(k, false);
	uk_policy_set(k, UK_NR_getpid, UK_POLICY_ERRNO, EPERM, 0);
	r[n].name = "dispatch_getppid_policy";
	r[n++].ns = measure(op_dispatch, 2000000);
	uk_policy_clear(k);
	uk_trace_attach(k, &tr);
	r[n].name = "dispatch_getppid_tracer";
	r[n++].ns = measure(op_dispatch, 1000000);
	uk_trace_attach(k, NULL);

	for (i = 0; i < 2; i++) {
		static const char *const names[2][3] = {
			{ "copy_from_user_64_extable", "copy_from_user_64_pvm",
			  "memcpy_64" },
			{ "copy_from_user_4k_extable", "copy_from_user_4k_pvm",
			  "memcpy_4k" },
		};
		copy_len = i ? 4096 : 64;
		copy_ops = &uk_self_mm_ops;
		r[n].name = names[i][0];
		r[n++].ns = measure(op_copy, 1000000);
		copy_ops = &uk_self_pvm_mm_ops;
		r[n].name = names[i][1];
		r[n++].ns = measure(op_copy, 50000);
		r[n].name = names[i][2];
		r[n++].ns = measure(op_memcpy, 1000000);
	}

	if (json) {
		printf("{");
		for (i = 0; i < n; i++)
			printf("%s\"%s_ns\": %.2f", i ? ", " : "", r[i].name,
			       r[i].ns);
		printf("}\n");
	} else {
		printf("%-28s %10s\n", "operation", "ns/op");
		for (i = 0; i < n; i++)
			printf("%-28s %10.2f\n", r[i].name, r[i].ns);
	}
	uk_task_exit(task);
	uk_kernel_free(k);
	return 0;
}
