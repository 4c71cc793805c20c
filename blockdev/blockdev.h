/* SPDX-License-Identifier: MIT */
/*
 * blockdev/blockdev.h - a disk on an image file: the public API of libblockdev.
 *
 * A struct uk_blockdev is a disk of 4096-byte blocks. Its life reads like
 * liburing's: prepare a request (bdev_prep_*), submit it (bdev_submit), and
 * reap completions (bdev_reap, bdev_wait); each request then gets exactly one
 * call of its end_io(rq, result), with result 0 or -errno. Synchronous helpers
 * (bdev_read, bdev_write, bdev_flush) sit on top.
 *
 * Threads: any thread may submit. Each submitting thread has its own queue
 * (its own io_uring) per device and reaps its own completions: end_io runs in
 * the thread that submitted the request, inside bdev_reap/bdev_wait (or a
 * synchronous helper), never in another thread. A thread must reap its own
 * requests before it exits; a device is not usable across fork().
 *
 * Plugging (bdev_plug/bdev_unplug) is per thread, like Linux's blk_plug on a
 * task: requests submitted while plugged are held, adjacent ones to
 * contiguous blocks in the same direction are back-merged into one I/O, and
 * bdev_unplug hands them to the kernel in one submission. Waiting on a device
 * (bdev_reap, bdev_wait, a synchronous helper) first sends that device's
 * plugged requests, as a sleeping Linux task flushes its plug.
 *
 * Sections: constants and options; requests; lifecycle; images and devices;
 * registered buffers; statistics; test wrappers (fault injection, crash).
 */
#ifndef UK_BLOCKDEV_H
#define UK_BLOCKDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#define BDEV_BLOCK_SHIFT 12
#define BDEV_BLOCK_SIZE (1u << BDEV_BLOCK_SHIFT)
/* O_DIRECT: every iovec base and length must be a multiple of this. */
#define BDEV_DIO_ALIGN BDEV_BLOCK_SIZE
#define BDEV_DEFAULT_QUEUE_DEPTH 64
#define BDEV_DEFAULT_PSYNC_THREADS 4
/* Largest I/O a back-merge may build, in blocks (1 MiB, as max_sectors_kb). */
#define BDEV_DEFAULT_MAX_MERGE_BLOCKS 256

struct uk_blockdev;
struct bdev_request;

enum bdev_op {
	BDEV_OP_READ,
	BDEV_OP_WRITE,
	BDEV_OP_FLUSH,
	BDEV_OP_NR,
};

enum bdev_backend {
	BDEV_BACKEND_AUTO,	/* io_uring, or psync when io_uring is unavailable */
	BDEV_BACKEND_IO_URING,
	BDEV_BACKEND_PSYNC,
};

struct bdev_options {
	enum bdev_backend backend;
	bool direct;		/* O_DIRECT: aligned buffers, no host page cache */
	bool read_only;
	unsigned int queue_depth;	/* per thread; 0: BDEV_DEFAULT_QUEUE_DEPTH */
	unsigned int psync_threads;	/* 0: BDEV_DEFAULT_PSYNC_THREADS */
	unsigned int max_merge_blocks;	/* 0: default; 1 turns merging off */
};

/* ---- requests ---------------------------------------------------------- */

/*
 * Called once per request, in the submitting thread, with 0 or -errno. The
 * request and its buffers belong to the caller again when end_io runs; end_io
 * may submit new requests (they are batched if the thread is plugged).
 */
typedef void (*bdev_end_io_t)(struct bdev_request *rq, int result);

/*
 * One block I/O. The caller owns the storage (embed it in your own struct
 * and use bdev_private or container_of); the iovec array and the buffers
 * must stay valid until end_io. Fields below "private to blockdev" must not
 * be touched between bdev_submit and completion.
 */
struct bdev_request {
	struct uk_blockdev *bdev;
	enum bdev_op op;
	uint64_t block;		/* first block */
	uint32_t nr_blocks;
	int iovcnt;
	const struct iovec *iov;
	int buf_index;		/* registered buffer, or -1 */
	bdev_end_io_t end_io;
	void *private;		/* for the caller */
	int result;		/* valid once bdev_request_done() */

	/* private to blockdev */
	bool done;
	struct bdev_request *next;	/* plug queue, completion lists */
	struct bdev_request *merge_next;	/* requests merged behind this one */
	struct bdev_request *merge_tail;
	uint32_t merge_blocks;	/* blocks of the whole merged I/O (head only) */
	int merge_iovcnt;
	struct bdev_ctx *ctx;
	uint64_t start_ns;
	struct iovec single;	/* iov storage for bdev_prep_*_buf */
};

/*
 * Prepare rq to read/write nr_blocks blocks starting at block into/from the
 * buffers of iov (whose lengths must add up to nr_blocks * BDEV_BLOCK_SIZE).
 */
void bdev_prep_readv(struct bdev_request *rq, struct uk_blockdev *bdev,
		     uint64_t block, uint32_t nr_blocks,
		     const struct iovec *iov, int iovcnt,
		     bdev_end_io_t end_io, void *private);
void bdev_prep_writev(struct bdev_request *rq, struct uk_blockdev *bdev,
		      uint64_t block, uint32_t nr_blocks,
		      const struct iovec *iov, int iovcnt,
		      bdev_end_io_t end_io, void *private);
/* The same with one buffer of nr_blocks blocks. */
void bdev_prep_read(struct bdev_request *rq, struct uk_blockdev *bdev,
		    uint64_t block, uint32_t nr_blocks, void *buf,
		    bdev_end_io_t end_io, void *private);
void bdev_prep_write(struct bdev_request *rq, struct uk_blockdev *bdev,
		     uint64_t block, uint32_t nr_blocks, const void *buf,
		     bdev_end_io_t end_io, void *private);
/*
 * Mark a request prepared with bdev_prep_read/bdev_prep_write as using
 * registered buffer buf_index (see bdev_register_buffers); its buffer must
 * lie inside that registered buffer.
 */
void bdev_rq_set_fixed(struct bdev_request *rq, int buf_index);
/*
 * A flush: fdatasync of the image. It covers every write that completed
 * (had its end_io called) before the flush was submitted.
 */
void bdev_prep_flush(struct bdev_request *rq, struct uk_blockdev *bdev,
		     bdev_end_io_t end_io, void *private);

static inline bool bdev_request_done(const struct bdev_request *rq)
{
	return __atomic_load_n(&rq->done, __ATOMIC_ACQUIRE);
}

/* ---- lifecycle --------------------------------------------------------- */

/*
 * Submit a prepared request. Returns 0 when the request was accepted: its
 * end_io will then be called exactly once, from a later bdev_reap/bdev_wait
 * in this thread. Returns -EINVAL (blocks out of range, zero blocks, iovec
 * lengths not matching, misaligned buffer in O_DIRECT mode, bad registered
 * buffer) or -EROFS (write to a read-only device) without queueing it, and
 * then end_io is not called. Errors of the I/O itself (-EIO, -ENOSPC) reach
 * end_io.
 */
int bdev_submit(struct bdev_request *rq);

/*
 * Reap completions of requests this thread submitted to bdev: first send
 * this thread's plugged requests for bdev, then wait until at least
 * min_complete of them completed (fewer if fewer are in flight), running
 * end_io for each. min_complete 0 only runs what is already complete.
 * Returns the number of end_io calls made, or -errno if waiting failed.
 */
int bdev_reap(struct uk_blockdev *bdev, unsigned int min_complete);
/* Wait for rq (submitted by this thread); returns rq->result. */
int bdev_wait(struct bdev_request *rq);
/* Wait for every request this thread has in flight on bdev. */
int bdev_drain(struct uk_blockdev *bdev);
/* Number of this thread's requests on bdev not yet completed. */
unsigned int bdev_inflight(struct uk_blockdev *bdev);

/* Plug this thread (nests); bdev_unplug of the outermost plug sends. */
void bdev_plug(void);
void bdev_unplug(void);

/* Synchronous helpers: 0 or -errno. */
int bdev_readv(struct uk_blockdev *bdev, uint64_t block, uint32_t nr_blocks,
	       const struct iovec *iov, int iovcnt);
int bdev_writev(struct uk_blockdev *bdev, uint64_t block, uint32_t nr_blocks,
		const struct iovec *iov, int iovcnt);
int bdev_read(struct uk_blockdev *bdev, uint64_t block, uint32_t nr_blocks,
	      void *buf);
int bdev_write(struct uk_blockdev *bdev, uint64_t block, uint32_t nr_blocks,
	       const void *buf);
int bdev_flush(struct uk_blockdev *bdev);

/* ---- images and devices ------------------------------------------------ */

/*
 * Create a sparse image file of bytes (a positive multiple of
 * BDEV_BLOCK_SIZE). Returns 0, -EEXIST if path exists, -EINVAL, or -errno.
 */
int bdev_image_create(const char *path, uint64_t bytes);

/*
 * Open the image at path as a device (opts NULL: defaults). Its size is the
 * file's size rounded up to whole blocks; a read of the partial last block
 * is zero-filled past the end of the file. With BDEV_BACKEND_AUTO, a host
 * where io_uring_queue_init fails gets the psync backend and one line on
 * stderr saying so. Returns 0 and *out, or -errno (-EINVAL when O_DIRECT is
 * not supported by the file system).
 */
int bdev_open(const char *path, const struct bdev_options *opts,
	      struct uk_blockdev **out);

/*
 * Close a device: wait for every request in flight (every thread must have
 * stopped submitting to it), flush unless read-only or crashed (by
 * bdev_crash_simulate, here or below), and free it. A wrapper
 * closes the device below it too. Returns the first error met (the device is
 * freed anyway).
 */
int bdev_close(struct uk_blockdev *bdev);

uint64_t bdev_nr_blocks(const struct uk_blockdev *bdev);
/* "io_uring", "psync", "fault", "crash". */
const char *bdev_backend_name(const struct uk_blockdev *bdev);
bool bdev_is_direct(const struct uk_blockdev *bdev);

/* ---- registered buffers ------------------------------------------------ */

/*
 * Register nr buffers (page-aligned, as O_DIRECT wants) for requests marked
 * with bdev_rq_set_fixed: the io_uring backend then uses read_fixed and
 * write_fixed, sparing the kernel a page pin per I/O. Replaces an earlier
 * set; call it while no fixed request is in flight. The caller keeps
 * ownership of the memory, which must outlive the device or the next call.
 * Returns 0 or -errno. Other backends accept it and do plain I/O.
 */
int bdev_register_buffers(struct uk_blockdev *bdev, const struct iovec *iov,
			  unsigned int nr);

/* ---- statistics -------------------------------------------------------- */

/* Latency histogram: bucket i counts latencies in [2^i, 2^(i+1)) ns. */
#define BDEV_HIST_BUCKETS 40

struct bdev_dir_stats {
	uint64_t requests;	/* completed requests, errors included */
	uint64_t errors;
	uint64_t merges;	/* requests merged behind another */
	uint64_t bytes;		/* bytes moved by successful requests */
	uint64_t lat_sum_ns;
	uint64_t hist[BDEV_HIST_BUCKETS];
};

struct bdev_stats {
	struct bdev_dir_stats dir[BDEV_OP_NR];
	uint64_t submits;	/* batches handed to the kernel/backend */
};

void bdev_stats_get(const struct uk_blockdev *bdev, struct bdev_stats *out);
void bdev_stats_reset(struct uk_blockdev *bdev);
/*
 * The latency (ns) below which a fraction p (0..1) of the requests fell,
 * estimated from the log2 histogram (geometric midpoint of the bucket);
 * 0 when there are no requests.
 */
uint64_t bdev_stats_percentile(const struct bdev_dir_stats *s, double p);
/* Print a short table (one line per direction) to f. */
void bdev_stats_print(const struct uk_blockdev *bdev, FILE *f);
const char *bdev_op_name(enum bdev_op op);

/* ---- fault injection --------------------------------------------------- */

#define BDEV_FAULT_READ (1u << BDEV_OP_READ)
#define BDEV_FAULT_WRITE (1u << BDEV_OP_WRITE)
#define BDEV_FAULT_FLUSH (1u << BDEV_OP_FLUSH)

/*
 * A rule fails the requests it matches with -error and never sends them
 * below. A request matches when its op is in ops and it touches a block of
 * [first_block, first_block + nr_blocks) (nr_blocks 0: any block; flushes
 * match any range). With nth > 0, only the nth matching request (counted
 * from 1 since the rule was added) fails; with count > 0 the rule fails at
 * most count requests.
 */
struct bdev_fault_rule {
	unsigned int ops;
	uint64_t first_block;
	uint64_t nr_blocks;
	uint64_t nth;
	uint64_t count;
	int error;		/* positive errno: EIO, ENOSPC, ... */
};

/*
 * Stack a fault-injection device on lower (which it then owns: closing the
 * wrapper closes lower). Returns 0 and *out, or -errno.
 */
int bdev_fault_wrap(struct uk_blockdev *lower, struct uk_blockdev **out);
/* Add a rule; returns its id (>= 0) or -errno. */
int bdev_fault_add(struct uk_blockdev *fdev, const struct bdev_fault_rule *r);
void bdev_fault_clear(struct uk_blockdev *fdev);
/* Requests failed by rules so far. */
uint64_t bdev_fault_injected(struct uk_blockdev *fdev);

/* ---- crash simulation -------------------------------------------------- */

enum bdev_crash_mode {
	BDEV_CRASH_DROP_ALL,	/* every unflushed write is lost */
	BDEV_CRASH_KEEP_ALL,	/* every write reached the disk */
	BDEV_CRASH_RANDOM,	/* each kept or lost by a seeded coin */
	BDEV_CRASH_CALLBACK,	/* the callback decides per write */
};

/* A write not yet covered by a completed flush, as the callback sees it. */
struct bdev_crash_write {
	uint64_t seq;		/* submission order, from 1 */
	uint64_t block;
	uint32_t nr_blocks;
	const void *data;	/* what it wrote */
};

/* Return true to keep the write, false to drop it. */
typedef bool (*bdev_crash_keep_t)(const struct bdev_crash_write *w,
				  void *arg);

struct bdev_crash_plan {
	enum bdev_crash_mode mode;
	uint64_t seed;		/* BDEV_CRASH_RANDOM */
	bdev_crash_keep_t keep;	/* BDEV_CRASH_CALLBACK */
	void *arg;
};

/*
 * Stack a crash-simulation device on lower (which it then owns). It passes
 * I/O through and remembers each write not yet covered by a completed flush
 * (with the data it wrote and what the blocks held at the last flush).
 */
int bdev_crash_wrap(struct uk_blockdev *lower, struct uk_blockdev **out);
/* Writes currently not covered by a completed flush. */
unsigned int bdev_crash_unflushed(struct uk_blockdev *cdev);
/*
 * Simulate a power cut: wait for this thread's requests, choose which
 * unflushed writes survive (plan), and make the lower device hold, per
 * block, the data of the last surviving write to it, or else what it held
 * at the last flush; then flush lower. Afterwards every request to cdev
 * fails with -EIO (close it; reopen the image to "reboot"). Returns the
 * number of writes dropped, or -errno (-EBUSY if another thread still has
 * writes in flight).
 */
int bdev_crash_simulate(struct uk_blockdev *cdev,
			const struct bdev_crash_plan *plan);

#endif /* UK_BLOCKDEV_H */
