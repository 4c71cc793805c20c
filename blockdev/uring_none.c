// SPDX-License-Identifier: MIT
/*
 * blockdev/uring_none.c - stands in for uring.c when the build has no
 * liburing: opening an io_uring device fails, and BDEV_BACKEND_AUTO then
 * falls back to psync (with its one log line).
 */
#include <errno.h>

#include "internal.h"

int bdev_uring_open(int fd, uint64_t nr_blocks,
		    const struct bdev_options *opts, struct uk_blockdev **out)
{
	/* What io_uring_setup(2) answers on a kernel built without it. */
	return -ENOSYS;
}
