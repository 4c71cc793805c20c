// SPDX-License-Identifier: MIT
/*
 * ukernel/policy.c - seccomp-like rules per syscall number, checked by the
 * dispatcher before the handler: allow, fail with an errno, or inject a
 * fault every Nth call or with a probability (for `ukctl policy` and for
 * tests that must see a call fail).
 *
 * The rules are allocated on the first uk_policy_set() and published in
 * k->policy; from then on they stay until uk_kernel_free(), so a thread in
 * uk_dispatch never sees them freed. A rule is one atomic word, so it
 * changes while other threads dispatch without a lock.
 */
#include <stdlib.h>

#include "dispatch.h"

struct uk_policy_rule {
	/* action | err << 8 | param << 32; 0 is ALLOW */
	_Atomic uint64_t word;
	_Atomic uint64_t calls; /* for FAIL_NTH */
};

struct uk_policy {
	_Atomic uint64_t seed;
	_Atomic uint64_t draws; /* for FAIL_PROB: the n-th draw of the run */
	struct uk_policy_rule rule[UK_NR_SYSCALLS];
};

/* Serialises the first allocation against concurrent uk_policy_set(). */
static pthread_mutex_t uk_policy_alloc_lock = PTHREAD_MUTEX_INITIALIZER;

static struct uk_policy *uk_policy_get(struct uk_kernel *k, bool create)
{
	struct uk_policy *p;

	p = atomic_load_explicit(&k->policy, memory_order_acquire);
	if (p || !create)
		return p;
	pthread_mutex_lock(&uk_policy_alloc_lock);
	p = atomic_load_explicit(&k->policy, memory_order_acquire);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p)
			atomic_store_explicit(&k->policy, p,
					      memory_order_release);
	}
	pthread_mutex_unlock(&uk_policy_alloc_lock);
	return p;
}

int uk_policy_set(struct uk_kernel *k, unsigned long nr,
		  enum uk_policy_action action, int err, unsigned int param)
{
	struct uk_policy *p;
	uint64_t word;
	unsigned int i;

	if (nr != UK_POLICY_ALL && nr >= UK_NR_SYSCALLS)
		return -EINVAL;
	switch (action) {
	case UK_POLICY_ALLOW:
		err = 0;
		param = 0;
		break;
	case UK_POLICY_ERRNO:
		param = 0;
		break;
	case UK_POLICY_FAIL_NTH:
		if (!param)
			return -EINVAL;
		break;
	case UK_POLICY_FAIL_PROB:
		if (param > 1000000)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (action != UK_POLICY_ALLOW && (err < 1 || err > UK_MAX_ERRNO))
		return -EINVAL;

	p = uk_policy_get(k, action != UK_POLICY_ALLOW);
	if (!p)
		return action == UK_POLICY_ALLOW ? 0 : -ENOMEM;
	word = (uint64_t)action | (uint64_t)err << 8 | (uint64_t)param << 32;
	for (i = 0; i < UK_NR_SYSCALLS; i++) {
		if (nr != UK_POLICY_ALL && i != nr)
			continue;
		atomic_store_explicit(&p->rule[i].calls, 0,
				      memory_order_relaxed);
		atomic_store_explicit(&p->rule[i].word, word,
				      memory_order_release);
	}
	return 0;
}

int uk_policy_seed(struct uk_kernel *k, uint64_t seed)
{
	struct uk_policy *p = uk_policy_get(k, true);

	if (!p)
		return -ENOMEM;
	atomic_store(&p->seed, seed);
	atomic_store(&p->draws, 0);
	return 0;
}

void uk_policy_clear(struct uk_kernel *k)
{
	struct uk_policy *p = uk_policy_get(k, false);
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < UK_NR_SYSCALLS; i++)
		atomic_store_explicit(&p->rule[i].word, 0,
				      memory_order_release);
}

void uk_policy_exit(struct uk_kernel *k)
{
	free(atomic_exchange(&k->policy, NULL));
}

/* splitmix64: a well-mixed 64-bit value from a counter. */
static uint64_t uk_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

long uk_policy_check(struct uk_policy *p, struct uk_task *task,
		     unsigned int nr)
{
	struct uk_policy_rule *r = &p->rule[nr];
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	unsigned int action = word & 0xff;
	long err = (long)((word >> 8) & 0xffffff);
	uint64_t param = word >> 32, n;

	(void)task;
	switch (action) {
	case UK_POLICY_ERRNO:
		return -err;
	case UK_POLICY_FAIL_NTH:
		n = atomic_fetch_add_explicit(&r->calls, 1,
					      memory_order_relaxed) + 1;
		return n % param == 0 ? -err : 0;
	case UK_POLICY_FAIL_PROB:
		n = atomic_fetch_add_explicit(&p->draws, 1,
					      memory_order_relaxed);
		n = uk_mix64(atomic_load_explicit(&p->seed,
						  memory_order_relaxed) ^
			     uk_mix64(n));
		return n % 1000000 < param ? -err : 0;
	default:
		return 0;
	}
}
