// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_kernel.c - the ring server over the real kernel: the one
 * place that ties ring_server.c to uk.h's functions, so that the server
 * itself can also be driven by a test double of the kernel.
 */
#include "ring_server.h"

static const struct uk_ring_kernel_ops uk_ring_real_kops = {
	.task_new = uk_task_new,
	.cred_init = uk_cred_init,
	.task_fork = uk_task_fork,
	.task_exec = uk_task_exec,
	.task_exit = uk_task_exit,
	.dispatch = uk_dispatch,
};

struct uk_ring_server *uk_ring_server_start(struct uk_kernel *k,
					    const struct uk_ring_server_opts *o)
{
	return uk_ring_server_start_ops(k, &uk_ring_real_kops, o);
}
