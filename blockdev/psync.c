// SPDX-License-Identifier: MIT
/*
 * blockdev/psync.c - the portable backend, for hosts where io_uring is
 * disabled: a small pool of threads per device runs preadv/pwritev/fdatasync
 * on the image and hands each finished job back to the context of the
 * thread that submitted it, which runs end_io when it reaps. Slower than
 * io_uring (a wake-up per I/O) but with the same semantics.
 *
 * Locks: psync_dev.lock protects the job queue and stop; psync_ctx.lock
 * protects the context's done list and running count. A worker never holds
 * both; the registry lock (core.c) may be held around psync_ctx_exit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

struct psync_ctx;

struct psync_job {
	struct psync_job *next;
	struct psync_ctx *ctx;
	struct bdev_request *rq;
	size_t done;
	int result;
	int iovcnt;
	struct iovec iov[];
};

struct psync_dev {
	struct uk_blockdev base;
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* jobs queued, or stop */
	struct psync_job *head, *tail;
	bool stop;
	unsigned int nthreads;
	pthread_t *threads;
};

struct psync_ctx {
	struct bdev_ctx base;
	/* owner thread only: jobs queued but not yet handed to the pool */
	struct psync_job *queued_head, *queued_tail;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a job finished */
	struct psync_job *done_head, *done_tail;
	unsigned int running;	/* handed to the pool, not yet done */
};

static inline struct psync_dev *to_pdev(struct uk_blockdev *bdev)
{
	return bdev_container_of(bdev, struct psync_dev, base);
}

static inline struct psync_ctx *to_pctx(struct bdev_ctx *ctx)
{
	return bdev_container_of(ctx, struct psync_ctx, base);
}

/* Do one job's I/O; fills job->result and job->done. */
static void psync_run(struct psync_dev *pd, struct psync_job *job)
{
	struct bdev_request *rq = job->rq;
	struct bdev_xfer x;
	ssize_t res;
	int r;

	if (rq->op == BDEV_OP_FLUSH) {
		job->result = fdatasync(pd->fd) ? -errno : 0;
		return;
	}
	bdev_xfer_init(&x, job->iov, job->iovcnt, rq->block << BDEV_BLOCK_SHIFT,
		       bdev_chain_bytes(rq), rq->op, pd->base.direct);
	for (;;) {
		if (rq->op == BDEV_OP_READ)
			res = preadv(pd->fd, x.iov, x.iovcnt, (off_t)x.offset);
		else
			res = pwritev(pd->fd, x.iov, x.iovcnt, (off_t)x.offset);
		if (res < 0) {
			res = -errno;
			if (res == -EINTR)
				continue;
		}
		r = bdev_xfer_advance(&x, res);
		if (r)
			break;
	}
	job->result = r < 0 ? r : 0;
	job->done = x.done;
}

static void *psync_worker(void *arg)
{
	struct psync_dev *pd = arg;
	struct psync_job *job;
	struct psync_ctx *pc;

	for (;;) {
		pthread_mutex_lock(&pd->lock);
		while (!pd->head && !pd->stop)
			pthread_cond_wait(&pd->cond, &pd->lock);
		job = pd->head;
		if (!job) {
			pthread_mutex_unlock(&pd->lock);
			return NULL;
		}
		pd->head = job->next;
		if (!pd->head)
			pd->tail = NULL;
		pthread_mutex_unlock(&pd->lock);

		psync_run(pd, job);

		pc = job->ctx;
		job->next = NULL;
		pthread_mutex_lock(&pc->lock);
		if (pc->done_tail)
			pc->done_tail->next = job;
		else
			pc->done_head = job;
		pc->done_tail = job;
		pc->running--;
		pthread_cond_signal(&pc->cond);
		pthread_mutex_unlock(&pc->lock);
	}
}

static int psync_ctx_init(struct bdev_ctx *ctx)
{
	struct psync_ctx *pc = to_pctx(ctx);

	pthread_mutex_init(&pc->lock, NULL);
	pthread_cond_init(&pc->cond, NULL);
	return 0;
}

static void psync_free_list(struct psync_job *job)
{
	while (job) {
		struct psync_job *next = job->next;

		free(job);
		job = next;
	}
}

/*
 * Free a context. Jobs still with the pool are waited for (they point at
 * the context); their end_io is never run, since their thread is gone.
 */
static void psync_ctx_exit(struct bdev_ctx *ctx)
{
	struct psync_ctx *pc = to_pctx(ctx);

	pthread_mutex_lock(&pc->lock);
	while (pc->running)
		pthread_cond_wait(&pc->cond, &pc->lock);
	pthread_mutex_unlock(&pc->lock);
	psync_free_list(pc->done_head);
	psync_free_list(pc->queued_head);
	pthread_cond_destroy(&pc->cond);
	pthread_mutex_destroy(&pc->lock);
}

static int psync_queue(struct bdev_ctx *ctx, struct bdev_request *rq)
{
	struct psync_ctx *pc = to_pctx(ctx);
	int n = rq->op == BDEV_OP_FLUSH ? 0 :
		(rq->buf_index >= 0 ? 1 : rq->merge_iovcnt);
	struct psync_job *job;

	job = malloc(sizeof(*job) + (size_t)n * sizeof(struct iovec));
	if (!job)
		return -ENOMEM;
	job->next = NULL;
	job->ctx = pc;
	job->rq = rq;
	job->done = 0;
	job->result = 0;
	job->iovcnt = n ? bdev_chain_iov(rq, job->iov) : 0;
	if (pc->queued_tail)
		pc->queued_tail->next = job;
	else
		pc->queued_head = job;
	pc->queued_tail = job;
	return 0;
}

static int psync_kick(struct bdev_ctx *ctx)
{
	struct psync_ctx *pc = to_pctx(ctx);
	struct psync_dev *pd = to_pdev(ctx->bdev);
	struct psync_job *job, *last = NULL;
	unsigned int n = 0;

	if (!pc->queued_head)
		return 0;
	for (job = pc->queued_head; job; job = job->next) {
		last = job;
		n++;
	}
	pthread_mutex_lock(&pc->lock);
	pc->running += n;
	pthread_mutex_unlock(&pc->lock);

	pthread_mutex_lock(&pd->lock);
	if (pd->tail)
		pd->tail->next = pc->queued_head;
	else
		pd->head = pc->queued_head;
	pd->tail = last;
	if (n > 1)
		pthread_cond_broadcast(&pd->cond);
	else
		pthread_cond_signal(&pd->cond);
	pthread_mutex_unlock(&pd->lock);
	pc->queued_head = pc->queued_tail = NULL;
	__atomic_fetch_add(&ctx->bdev->stats.submits, 1, __ATOMIC_RELAXED);
	return 0;
}

static int psync_reap(struct bdev_ctx *ctx, bool wait)
{
	struct psync_ctx *pc = to_pctx(ctx);
	struct psync_job *job;
	int n = 0;

	psync_kick(ctx);
	pthread_mutex_lock(&pc->lock);
	while (wait && !pc->done_head && pc->running)
		pthread_cond_wait(&pc->cond, &pc->lock);
	job = pc->done_head;
	pc->done_head = pc->done_tail = NULL;
	pthread_mutex_unlock(&pc->lock);

	while (job) {
		struct psync_job *next = job->next;
		struct bdev_request *rq = job->rq;
		size_t done = job->done;
		int result = job->result;

		free(job);
		bdev_end_chain(rq, done, result);
		n++;
		job = next;
	}
	return n;
}

static int psync_destroy(struct uk_blockdev *bdev)
{
	struct psync_dev *pd = to_pdev(bdev);
	unsigned int i;
	int ret;

	pthread_mutex_lock(&pd->lock);
	pd->stop = true;
	pthread_cond_broadcast(&pd->cond);
	pthread_mutex_unlock(&pd->lock);
	for (i = 0; i < pd->nthreads; i++)
		pthread_join(pd->threads[i], NULL);
	free(pd->threads);
	pthread_cond_destroy(&pd->cond);
	pthread_mutex_destroy(&pd->lock);
	ret = close(pd->fd) ? -errno : 0;
	free(pd);
	return ret;
}

static const struct bdev_ops bdev_psync_ops = {
	.name = "psync",
	.ctx_size = sizeof(struct psync_ctx),
	.ctx_init = psync_ctx_init,
	.ctx_exit = psync_ctx_exit,
	.queue = psync_queue,
	.kick = psync_kick,
	.reap = psync_reap,
	.destroy = psync_destroy,
};

int bdev_psync_open(int fd, uint64_t nr_blocks,
		    const struct bdev_options *opts, struct uk_blockdev **out)
{
	struct psync_dev *pd;
	unsigned int i, n;
	int ret;

	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	bdev_init_base(&pd->base, &bdev_psync_ops, nr_blocks, opts);
	pd->fd = fd;
	pthread_mutex_init(&pd->lock, NULL);
	pthread_cond_init(&pd->cond, NULL);
	n = opts && opts->psync_threads ? opts->psync_threads :
		BDEV_DEFAULT_PSYNC_THREADS;
	pd->threads = calloc(n, sizeof(*pd->threads));
	if (!pd->threads) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < n; i++) {
		ret = pthread_create(&pd->threads[i], NULL, psync_worker, pd);
		if (ret) {
			ret = -ret;
			goto err_stop;
		}
		pd->nthreads++;
	}
	*out = &pd->base;
	return 0;

err_stop:
	pthread_mutex_lock(&pd->lock);
	pd->stop = true;
	pthread_cond_broadcast(&pd->cond);
	pthread_mutex_unlock(&pd->lock);
	for (i = 0; i < pd->nthreads; i++)
		pthread_join(pd->threads[i], NULL);
	free(pd->threads);
err_free:
	pthread_cond_destroy(&pd->cond);
	pthread_mutex_destroy(&pd->lock);
	free(pd);
	return ret;
}
