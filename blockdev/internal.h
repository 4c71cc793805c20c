/* SPDX-License-Identifier: MIT */
/*
 * blockdev/internal.h - what the block layer's files share and nobody else
 * sees: the device and its ops table, per-thread contexts, the helpers the
 * backends call to complete requests, and the short-transfer helper.
 */
#ifndef UK_BLOCKDEV_INTERNAL_H
#define UK_BLOCKDEV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "blockdev.h"

#define bdev_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define UK_BDEV_MAX_ERRNO 4095

#define bdev_likely(x) __builtin_expect(!!(x), 1)
#define bdev_unlikely(x) __builtin_expect(!!(x), 0)

struct bdev_ctx;

/* A backend (io_uring, psync) or a wrapper (fault, crash). */
struct bdev_ops {
	const char *name;
	/* size of the backend's per-thread context, which embeds bdev_ctx first */
	size_t ctx_size;
	/* wrappers see each request alone: the core never merges for them */
	bool no_merge;
	/* set up / tear down a thread's context (ctx->bdev is set) */
	int (*ctx_init)(struct bdev_ctx *ctx);
	void (*ctx_exit)(struct bdev_ctx *ctx);
	/*
	 * Take one validated request (the head of a merge chain covering
	 * rq->merge_blocks blocks) into this thread's queue; it need not reach
	 * the kernel before ->kick. On failure return -errno: the core then
	 * completes the whole chain with that error.
	 */
	int (*queue)(struct bdev_ctx *ctx, struct bdev_request *rq);
	/* hand queued requests to the kernel (or the pool): 0 or -errno */
	int (*kick)(struct bdev_ctx *ctx);
	/*
	 * Kick, then complete what has finished (bdev_end_chain for each);
	 * with wait, block until at least one request completed. Returns the
	 * number of chains completed or -errno.
	 */
	int (*reap)(struct bdev_ctx *ctx, bool wait);
	/* optional: bdev_register_buffers */
	int (*register_buffers)(struct uk_blockdev *bdev,
				const struct iovec *iov, unsigned int nr);
	/*
	 * free the device and what it owns (its fd, a wrapper's lower device);
	 * the core has drained and flushed it. Returns 0 or the first error.
	 */
	int (*destroy)(struct uk_blockdev *bdev);
};

/* Statistics, updated with relaxed atomics from every submitting thread. */
struct bdev_counters {
	struct bdev_dir_stats dir[BDEV_OP_NR];
	uint64_t submits;
};

/* The base of every device; backends and wrappers embed it first. */
struct uk_blockdev {
	const struct bdev_ops *ops;
	uint64_t id;		/* unique for the process's life, never reused */
	uint64_t nr_blocks;
	unsigned int queue_depth;
	unsigned int max_merge_blocks;
	bool read_only;
	bool direct;
	bool dead;		/* crashed: close does not flush */
	struct uk_blockdev *lower;	/* a wrapper's device below, or NULL */
	struct bdev_counters stats;

	/* registered buffers (bdev_register_buffers); buf_gen counts changes */
	struct iovec *bufs;
	unsigned int nr_bufs;
	unsigned int buf_gen;

	/* under bdev_registry_lock */
	struct uk_blockdev *reg_next;
	struct bdev_ctx *ctx_list;
};

/*
 * A thread's view of one device: its plug queue, its in-flight count and
 * (in the embedding backend context) its ring or completion queue. Only the
 * owner thread touches it, except bdev_close after every thread stopped.
 */
struct bdev_ctx {
	struct uk_blockdev *bdev;
	struct bdev_ctx *dev_next;	/* bdev->ctx_list, registry lock */

	struct bdev_request *plug_head, *plug_tail;
	struct bdev_ctx *plug_next;	/* on the thread's plug list */
	bool plug_listed;

	/* requests completed without reaching the backend (wrappers, errors) */
	struct bdev_request *deferred_head, *deferred_tail;

	unsigned int inflight;	/* submitted, end_io not yet run */
	uint64_t completed;	/* end_io calls made */
};

/* core.c */
/*
 * This thread's context for bdev, created on first use (a ring for the
 * io_uring backend). Returns 0 and *out, or -errno from the backend.
 */
int bdev_ctx_lookup(struct uk_blockdev *bdev, struct bdev_ctx **out);
void bdev_init_base(struct uk_blockdev *bdev, const struct bdev_ops *ops,
		    uint64_t nr_blocks, const struct bdev_options *opts);
int bdev_register(struct uk_blockdev *bdev);
uint64_t bdev_now_ns(void);
/*
 * Complete a chain headed by rq after its I/O: done bytes moved, then err
 * (0 or -errno). Requests wholly inside the done prefix succeed, the others
 * get err. Runs in the owner thread.
 */
void bdev_end_chain(struct bdev_request *rq, size_t done, int err);
/* Complete a single request (not a chain) with result, later in reap. */
void bdev_defer_complete(struct bdev_ctx *ctx, struct bdev_request *rq,
			 int result);
/* Bytes of the whole (possibly merged) I/O headed by rq. */
static inline size_t bdev_chain_bytes(const struct bdev_request *rq)
{
	return (size_t)rq->merge_blocks << BDEV_BLOCK_SHIFT;
}
/*
 * Gather the iovecs of a merge chain into iov (room for rq->merge_iovcnt)
 * and return their number.
 */
int bdev_chain_iov(const struct bdev_request *rq, struct iovec *iov);

/* iov.c: the one short-transfer helper, shared by the backends. */
struct bdev_xfer {
	struct iovec *iov;	/* remaining iovecs (a private copy) */
	int iovcnt;
	uint64_t offset;	/* file offset of the remaining part */
	size_t done;		/* bytes transferred so far */
	size_t total;
	enum bdev_op op;
	bool direct;
};
void bdev_xfer_init(struct bdev_xfer *x, struct iovec *iov, int iovcnt,
		    uint64_t offset, size_t total, enum bdev_op op,
		    bool direct);
/*
 * Account for res, the result of one preadv/pwritev of the remaining part:
 * returns 1 when the transfer is finished (done == total, a read at the end
 * of the file zero-filled), 0 when the remainder must be issued again (iov
 * and offset advanced), or a negative errno (res < 0, or a write that made
 * no progress: -EIO).
 */
int bdev_xfer_advance(struct bdev_xfer *x, ssize_t res);

/* Backends. bdev_uring_open returns -ENOSYS when built without liburing. */
int bdev_uring_open(int fd, uint64_t nr_blocks,
		    const struct bdev_options *opts, struct uk_blockdev **out);
int bdev_psync_open(int fd, uint64_t nr_blocks,
		    const struct bdev_options *opts, struct uk_blockdev **out);

#endif /* UK_BLOCKDEV_INTERNAL_H */
