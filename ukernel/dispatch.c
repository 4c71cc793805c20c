// SPDX-License-Identifier: MIT
/*
 * ukernel/dispatch.c - uk_dispatch(), the counterpart of Linux's
 * do_syscall_64: cut the number to an int and bounds-check it as unsigned,
 * then trace enter, policy, the table's handler, trace exit, statistics.
 *
 * The fast path (no tracer, no policy, no timing) costs three loads and
 * one predictable branch on top of the indirect call and the counters.
 */
#include "dispatch.h"

/* The entry of every number nobody implemented: kernel/sys_ni.c. */
long sys_ni_syscall(struct uk_task *task, const unsigned long *args)
{
	(void)task;
	(void)args;
	return -ENOSYS;
}

/*
 * Everything that is not the common case: a tracer, a policy, timing, or a
 * number outside the table (which tracers still see, as strace shows
 * syscall_0x1f4(...) = -1 ENOSYS).
 */
static long __attribute__((noinline))
uk_dispatch_slow(struct uk_task *task, unsigned long nr, unsigned int unr,
		 const unsigned long *args, struct uk_trace *tr,
		 struct uk_policy *pol)
{
	struct uk_kernel *k = task->kernel;
	bool timed = tr || uk_stats_timing(k);
	uint64_t t0 = 0, ns = UINT64_MAX;
	long ret;

	if (tr && tr->enter)
		tr->enter(tr, task, nr, args);
	if (timed)
		t0 = uk_now_ns();

	if (unr >= UK_NR_SYSCALLS) {
		ret = -ENOSYS;
	} else {
		ret = pol ? uk_policy_check(pol, task, unr) : 0;
		if (!ret)
			ret = uk_sys_call_table[unr](task, args);
	}

	if (timed)
		ns = uk_now_ns() - t0;
	if (unr < UK_NR_SYSCALLS)
		uk_stats_account(k, unr, ret, ns);
	else
		uk_stats_account_out_of_range(k);
	if (tr && tr->exit)
		tr->exit(tr, task, nr, args, ret, ns);
	return ret;
}

long uk_dispatch(struct uk_task *task, unsigned long nr,
		 const unsigned long args[6])
{
	struct uk_kernel *k = task->kernel;
	unsigned int unr = uk_syscall_nr(nr);
	struct uk_trace *tr;
	struct uk_policy *pol;
	long ret;

	tr = atomic_load_explicit(&k->trace, memory_order_acquire);
	pol = atomic_load_explicit(&k->policy, memory_order_acquire);
	if (uk_unlikely(tr || pol || unr >= UK_NR_SYSCALLS ||
			uk_stats_timing(k)))
		return uk_dispatch_slow(task, nr, unr, args, tr, pol);

	ret = uk_sys_call_table[unr](task, args);
	uk_stats_account(k, unr, ret, UINT64_MAX);
	return ret;
}

const char *uk_syscall_name(unsigned long nr)
{
	return nr < UK_NR_SYSCALLS ? uk_sys_call_names[nr] : NULL;
}

unsigned long uk_syscall_count(void)
{
	return UK_NR_SYSCALLS;
}
