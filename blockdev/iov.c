// SPDX-License-Identifier: MIT
/*
 * blockdev/iov.c - the one short-transfer helper: after a preadv/pwritev (or
 * its io_uring twin) moved fewer bytes than asked, advance the iovecs and the
 * offset so the remainder can be issued again, and zero-fill a read that
 * reached the end of the image file.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

void bdev_xfer_init(struct bdev_xfer *x, struct iovec *iov, int iovcnt,
		    uint64_t offset, size_t total, enum bdev_op op,
		    bool direct)
{
	x->iov = iov;
	x->iovcnt = iovcnt;
	x->offset = offset;
	x->done = 0;
	x->total = total;
	x->op = op;
	x->direct = direct;
}

/* A read met the end of the file: the rest of the blocks read as zeros. */
static void bdev_xfer_zero_rest(struct bdev_xfer *x)
{
	int i;

	for (i = 0; i < x->iovcnt; i++)
		memset(x->iov[i].iov_base, 0, x->iov[i].iov_len);
	x->iovcnt = 0;
	x->done = x->total;
}

int bdev_xfer_advance(struct bdev_xfer *x, ssize_t res)
{
	size_t n;

	if (res < 0)
		return (int)res;
	if (res == 0) {
		if (x->op != BDEV_OP_READ)
			return -EIO;	/* a write that makes no progress */
		bdev_xfer_zero_rest(x);
		return 1;
	}
	n = (size_t)res;
	if (n > x->total - x->done)
		return -EIO;
	x->done += n;
	x->offset += n;
	while (n && x->iovcnt) {
		if (n < x->iov->iov_len) {
			x->iov->iov_base = (char *)x->iov->iov_base + n;
			x->iov->iov_len -= n;
			break;
		}
		n -= x->iov->iov_len;
		x->iov++;
		x->iovcnt--;
	}
	while (x->iovcnt && !x->iov->iov_len) {
		x->iov++;
		x->iovcnt--;
	}
	if (x->done == x->total)
		return 1;
	/*
	 * O_DIRECT transfers whole logical blocks, so a partial one means the
	 * end of the file; the unaligned remainder could not be issued anyway.
	 */
	if (x->op == BDEV_OP_READ && x->direct &&
	    (x->done & (BDEV_DIO_ALIGN - 1))) {
		bdev_xfer_zero_rest(x);
		return 1;
	}
	return 0;
}
