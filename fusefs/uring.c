// SPDX-License-Identifier: MIT
/*
 * fusefs/uring.c - FUSE over io_uring (Linux 6.14+, CONFIG_FUSE_IO_URING,
 * the fuse module's enable_uring parameter): requests come to a worker
 * pinned to the CPU the caller runs on, through an io_uring command that
 * the kernel completes with the request, and the reply goes back with the
 * command that fetches the next one.
 *
 * Why (docs/fuse.md, "io_uring"): on /dev/fuse a request wakes a daemon
 * thread on the other CPU and the reply wakes the caller there again; on
 * this kind of machine (a PVM guest) each of those cross-CPU wake-ups, an
 * idle CPU coming out of halt, is most of a round trip. Here the caller
 * sleeps and the worker of its own CPU runs in its place, and the other
 * way round: two context switches on one CPU, no IPI, no idle exit.
 *
 * libfuse 3.14 has no io_uring support, so this file does what its newer
 * versions do, on the session we already have: a request taken from a
 * ring entry is laid out as /dev/fuse would give it (in header, the
 * opcode's argument, the payload) and handed to fuse_session_process_buf;
 * its reply, which libfuse writes through our custom io (session.c,
 * dev_writev), is caught here (ffs_uring_reply) and copied into the entry
 * instead, and the entry is committed. Layout of an entry's memory:
 *
 *   0                      the header the kernel fills and reads
 *                          (struct uk_fuse_uring_req_header, 288 bytes)
 *   PAYLOAD_OFF - 40 - arg the request as libfuse sees it: in header and
 *                          argument copied here, so that the payload
 *                          (names, write data) follows them without a copy
 *   PAYLOAD_OFF            the payload (max_write and more), where a READ
 *                          also puts its data for the reply (no copy)
 *
 * The kernel uses the rings only once every possible CPU's queue has an
 * entry; until then, and always for FORGET and INTERRUPT, requests come
 * through /dev/fuse to the loop of session.c, which stays.
 *
 * Each CPU has FFS_URING_PER_QUEUE workers with one entry each: while one
 * sits in a slow request (an fsync, a big write) the next request of that
 * CPU goes to another. A request that waits for another request (F_SETLKW
 * with --remote-locks) could wait forever for a request queued behind it,
 * so --remote-locks mounts do not use io_uring.
 *
 * Lock order: ur->lock is a leaf.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fuse.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "internal.h"

#if UK_HAVE_LIBURING

/*
 * The kernel's ABI for FUSE over io_uring (include/uapi/linux/fuse.h,
 * protocol 7.42); Debian 12's headers predate it, so it is spelled here.
 */
#define UK_FUSE_URING_CMD_REGISTER 1u
#define UK_FUSE_URING_CMD_COMMIT_AND_FETCH 2u

struct uk_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;   /* the request's unique, for the commit */
	uint32_t payload_sz;  /* payload bytes, both ways */
	uint32_t padding;
	uint64_t reserved;
};

struct uk_fuse_uring_req_header {
	char in_out[128];     /* fuse_in_header / fuse_out_header */
	char op_in[128];      /* the opcode's first argument */
	struct uk_fuse_uring_ent_in_out ring_ent_in_out;
};

struct uk_fuse_uring_cmd_req {  /* in the SQE's 80-byte command area */
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define PAYLOAD_OFF 4096u
#define IN_HDR sizeof(struct fuse_in_header)
#define OUT_HDR sizeof(struct fuse_out_header)

/* Workers (each with one entry) per CPU queue. */
#define FFS_URING_PER_QUEUE 2

struct ffs_uring_worker {
	struct ffs_uring *ur;
	unsigned int qid;
	pthread_t thread;
	bool started;
	struct io_uring ring;
	bool ring_ok;
	char *mem;                      /* PAYLOAD_OFF + payload_len */
	struct uk_fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];            /* REGISTER's: header, payload */
	bool registering;               /* the command out is a REGISTER */
	/* The request being handled (unique), and its reply's state. */
	uint64_t unique;
	bool replied;
};

enum ur_state { UR_SETUP, UR_READY, UR_FAILED, UR_GO, UR_STOP };

struct ffs_uring {
	struct ffs *fs;
	int fd;
	size_t payload_len;
	unsigned int nr_queues;
	unsigned int nr_workers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nr_ready, nr_failed;  /* set-up results (lock) */
	enum ur_state state;               /* lock */
	atomic_bool stopping;
	struct ffs_uring_worker w[];
};

static __thread struct ffs_uring_worker *cur_worker;

static void set_state(struct ffs_uring *ur, enum ur_state s)
{
	pthread_mutex_lock(&ur->lock);
	ur->state = s;
	pthread_cond_broadcast(&ur->cond);
	pthread_mutex_unlock(&ur->lock);
}

/* Sends a command for w's entry: REGISTER, or COMMIT_AND_FETCH. */
static int send_cmd(struct ffs_uring_worker *w, uint32_t op,
		    uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct uk_fuse_uring_cmd_req *req;

	if (!sqe)
		return -EBUSY;
	w->registering = op == UK_FUSE_URING_CMD_REGISTER;
	memset(sqe, 0, 2 * sizeof(*sqe)); /* an SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = w->ur->fd;
	sqe->cmd_op = op;
	sqe->user_data = (uintptr_t)w;
	if (op == UK_FUSE_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)w->iov;
		sqe->len = 2;
	}
	req = (struct uk_fuse_uring_cmd_req *)sqe->cmd;
	req->commit_id = commit_id;
	req->qid = (uint16_t)w->qid;
	return io_uring_submit(&w->ring);
}

/*
 * The reply libfuse is writing for this thread's ring request, if it is
 * one: copied into the entry (the payload part only when it is not there
 * already: a READ's data, ffs_uring_reply_buf). Returns the bytes
 * "written", or -1 when the reply is not for a ring request.
 */
ssize_t ffs_uring_reply(const struct iovec *iov, int count)
{
	struct ffs_uring_worker *w = cur_worker;
	struct fuse_out_header *out;
	size_t total = 0, at = 0;
	int i;

	if (!w || count < 1 || iov[0].iov_len < OUT_HDR)
		return -1;
	out = iov[0].iov_base;
	if (out->unique != w->unique || w->replied)
		return -1;
	for (i = 0; i < count; i++)
		total += iov[i].iov_len;
	memcpy(w->hdr->in_out, out, OUT_HDR);
	if (total - OUT_HDR > w->ur->payload_len) {
		/* Cannot happen with the sizes the kernel asks for. */
		struct fuse_out_header *h = (void *)w->hdr->in_out;

		h->error = -EIO;
		h->len = OUT_HDR;
		w->hdr->ring_ent_in_out.payload_sz = 0;
		w->replied = true;
		return (ssize_t)total;
	}
	/* The header's own tail (iov[0] beyond the out header), then args. */
	for (i = 0; i < count; i++) {
		const char *src = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (i == 0) {
			src += OUT_HDR;
			len -= OUT_HDR;
		}
		if (len && src != w->payload + at)
			memcpy(w->payload + at, src, len);
		at += len;
	}
	w->hdr->ring_ent_in_out.payload_sz = (uint32_t)at;
	w->replied = true;
	return (ssize_t)total;
}

void *ffs_uring_reply_buf(size_t size)
{
	struct ffs_uring_worker *w = cur_worker;

	return w && size <= w->ur->payload_len ? w->payload : NULL;
}

/*
 * The request the kernel put in w's entry, as libfuse reads it from
 * /dev/fuse. Returns false when the entry makes no sense (then the
 * caller answers EIO).
 */
static bool handle(struct ffs_uring_worker *w)
{
	struct fuse_in_header *in = (void *)w->hdr->in_out;
	uint32_t payload = w->hdr->ring_ent_in_out.payload_sz;
	struct fuse_buf fbuf = { 0 };
	size_t arg;
	char *start;

	w->unique = in->unique;
	w->replied = false;
	if (in->len < IN_HDR + (uint64_t)payload ||
	    payload > w->ur->payload_len ||
	    in->len - IN_HDR - payload > sizeof(w->hdr->op_in))
		return false;
	arg = in->len - IN_HDR - payload;
	start = w->payload - IN_HDR - arg;
	memcpy(start, in, IN_HDR);
	memcpy(start + IN_HDR, w->hdr->op_in, arg);
	fbuf.mem = start;
	fbuf.size = in->len;
	fuse_session_process_buf(w->ur->fs->se, &fbuf);
	return true;
}

/* Answers the request in w's entry with -err itself. */
static void reply_err(struct ffs_uring_worker *w, int err)
{
	struct fuse_out_header *h = (void *)w->hdr->in_out;

	h->len = OUT_HDR;
	h->error = -err;
	h->unique = w->unique;
	w->hdr->ring_ent_in_out.payload_sz = 0;
	w->replied = true;
}

static void worker_setup(struct ffs_uring_worker *w)
{
	struct ffs_uring *ur = w->ur;
	struct io_uring_params p = { 0 };
	char name[16];
	cpu_set_t set;
	int ret;

	snprintf(name, sizeof(name), "ukfuse-ring%u", w->qid);
	pthread_setname_np(pthread_self(), name);
	/* On its CPU: the point of the queue. (An offline CPU: anywhere.) */
	CPU_ZERO(&set);
	CPU_SET(w->qid, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	w->mem = mmap(NULL, PAYLOAD_OFF + ur->payload_len,
		      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	if (w->mem == MAP_FAILED) {
		w->mem = NULL;
		ret = -errno;
		goto fail;
	}
	w->hdr = (void *)w->mem;
	w->payload = w->mem + PAYLOAD_OFF;
	w->iov[0] = (struct iovec){ w->hdr, sizeof(*w->hdr) };
	w->iov[1] = (struct iovec){ w->payload, ur->payload_len };
	/*
	 * Task work (a request arriving) runs when this thread waits for it,
	 * not by interrupting it: the thread does nothing else.
	 */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(4, &w->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		ret = io_uring_queue_init_params(4, &w->ring, &p);
	}
	if (ret < 0)
		goto fail;
	w->ring_ok = true;
fail:
	if (!w->ring_ok)
		ffs_log(ur->fs, LOG_DEBUG, "fuse io_uring: queue %u: %s",
			w->qid, strerror(-ret));
	pthread_mutex_lock(&ur->lock);
	if (w->ring_ok)
		ur->nr_ready++;
	else
		ur->nr_failed++;
	pthread_cond_broadcast(&ur->cond);
	pthread_mutex_unlock(&ur->lock);
}

static void *worker_main(void *arg)
{
	struct ffs_uring_worker *w = arg;
	struct ffs_uring *ur = w->ur;
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	unsigned int logged = 0;
	bool ring_ok;
	int ret;

	worker_setup(w);
	ring_ok = w->ring_ok;
	pthread_mutex_lock(&ur->lock);
	while (ur->state == UR_SETUP || ur->state == UR_READY)
		pthread_cond_wait(&ur->cond, &ur->lock);
	ret = ur->state == UR_GO && ring_ok;
	pthread_mutex_unlock(&ur->lock);
	if (!ret)
		goto out;

	ffs_in_handler = true; /* never sends notifications (session.c) */
	cur_worker = w;
	ret = send_cmd(w, UK_FUSE_URING_CMD_REGISTER, 0);
	for (;;) {
		/* ret: what the last command sent, or its completion, said. */
		if (ret < 0 && w->registering) {
			/*
			 * Before the rings are ready the kernel falls back to
			 * /dev/fuse for good; after, this CPU's queue keeps
			 * its other workers.
			 */
			ffs_log(ur->fs, LOG_WARNING, "fuse io_uring: queue %u:"
				" cannot register: %s", w->qid, strerror(-ret));
			break;
		}
		if (ret < 0)
			break;
		/*
		 * A timeout only so that a stop with nothing in flight (the
		 * kernel never took our entry) is noticed.
		 */
		ret = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
		if (ret == -ETIME || ret == -EINTR) {
			if (atomic_load(&ur->stopping))
				break;
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		ret = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if (ret == -ENOTCONN || ret == -ECONNABORTED ||
		    ret == -ECANCELED)
			break; /* the connection ended */
		if (ret < 0 && w->registering)
			continue; /* said and ended at the top */
		if (ret < 0) {
			/*
			 * The kernel refused a commit (it ended the request
			 * with the error): the entry is lost to it, and a
			 * queue without entries would hold its CPU's callers
			 * for ever. Register the entry again.
			 */
			if (!logged++)
				ffs_log(ur->fs, LOG_WARNING, "fuse io_uring: "
					"queue %u: %s; entry registered again",
					w->qid, strerror(-ret));
			ret = send_cmd(w, UK_FUSE_URING_CMD_REGISTER, 0);
			continue;
		}
		w->registering = false;
		/* Every ring request has a reply, ours if libfuse gave none. */
		if (!handle(w) || !w->replied)
			reply_err(w, EIO);
		ret = send_cmd(w, UK_FUSE_URING_CMD_COMMIT_AND_FETCH,
			       w->unique);
	}
out:
	cur_worker = NULL;
	if (ring_ok)
		io_uring_queue_exit(&w->ring);
	return NULL;
}

/*
 * The kernel makes one queue per possible CPU (num_possible_cpus) and
 * waits for all of them, so count what it counts: the possible mask,
 * which may hold CPUs not online or not even present.
 */
static unsigned int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	unsigned int a, b, n = 0;
	char sep;

	if (f) {
		while (fscanf(f, "%u", &a) == 1) {
			b = a;
			if (fscanf(f, "%c", &sep) == 1 && sep == '-' &&
			    fscanf(f, "%u%c", &b, &sep) < 1)
				break;
			n = b + 1 > n ? b + 1 : n;
			if (sep != ',')
				break;
		}
		fclose(f);
	}
	return n ? n : (unsigned int)get_nprocs_conf();
}

/*
 * At INIT, before its reply: starts the workers and waits until each has
 * its ring and entry memory. True when all did, so that the reply may
 * offer FUSE_OVER_IO_URING (once it does, the host holds every request
 * until each CPU's queue has registered an entry).
 */
bool ffs_uring_prepare(struct ffs *fs, size_t payload_len)
{
	unsigned int cpus = possible_cpus(), i;
	struct ffs_uring *ur;
	bool ok;

	if (fs->uring || cpus == 0 || cpus > 1024)
		return false;
	ur = calloc(1, sizeof(*ur) + cpus * FFS_URING_PER_QUEUE *
		    sizeof(ur->w[0]));
	if (!ur)
		return false;
	ur->fs = fs;
	ur->fd = fuse_session_fd(fs->se);
	ur->payload_len = (payload_len + 4095) & ~(size_t)4095;
	ur->nr_queues = cpus;
	pthread_mutex_init(&ur->lock, NULL);
	pthread_cond_init(&ur->cond, NULL);
	for (i = 0; i < cpus * FFS_URING_PER_QUEUE; i++) {
		struct ffs_uring_worker *w = &ur->w[i];

		w->ur = ur;
		w->qid = i / FFS_URING_PER_QUEUE;
		if (pthread_create(&w->thread, NULL, worker_main, w))
			break;
		w->started = true;
		ur->nr_workers++;
	}
	pthread_mutex_lock(&ur->lock);
	while (ur->nr_ready + ur->nr_failed < ur->nr_workers)
		pthread_cond_wait(&ur->cond, &ur->lock);
	ok = ur->nr_failed == 0 && ur->nr_workers == cpus * FFS_URING_PER_QUEUE;
	ur->state = ok ? UR_READY : UR_FAILED;
	pthread_cond_broadcast(&ur->cond);
	pthread_mutex_unlock(&ur->lock);
	fs->uring = ur;
	if (!ok)
		ffs_log(fs, LOG_NOTICE, "fuse io_uring: cannot set up the "
			"queues: using /dev/fuse");
	return ok;
}

/* After the INIT reply: registers the entries if it went out with the flag. */
void ffs_uring_go(struct ffs *fs, bool offered)
{
	struct ffs_uring *ur = fs->uring;

	if (!ur)
		return;
	if (ur->state == UR_READY) {
		set_state(ur, offered ? UR_GO : UR_STOP);
		if (offered)
			ffs_log(fs, LOG_INFO, "fuse: requests come through "
				"io_uring (%u queues)", ur->nr_queues);
	}
}

/* After the session ended (the kernel ended our commands): joins. */
void ffs_uring_stop(struct ffs *fs)
{
	struct ffs_uring *ur = fs->uring;
	unsigned int i;

	if (!ur)
		return;
	atomic_store(&ur->stopping, true);
	pthread_mutex_lock(&ur->lock);
	if (ur->state != UR_GO)
		ur->state = UR_STOP;
	pthread_cond_broadcast(&ur->cond);
	pthread_mutex_unlock(&ur->lock);
	for (i = 0; i < ur->nr_workers; i++) {
		struct ffs_uring_worker *w = &ur->w[i];

		pthread_join(w->thread, NULL);
		if (w->mem)
			munmap(w->mem, PAYLOAD_OFF + ur->payload_len);
	}
	pthread_cond_destroy(&ur->cond);
	pthread_mutex_destroy(&ur->lock);
	free(ur);
	fs->uring = NULL;
}

#else /* !UK_HAVE_LIBURING: no io_uring, /dev/fuse only */

ssize_t ffs_uring_reply(const struct iovec *iov, int count)
{
	return -1;
}

void *ffs_uring_reply_buf(size_t size)
{
	return NULL;
}

bool ffs_uring_prepare(struct ffs *fs, size_t payload_len)
{
	return false;
}

void ffs_uring_go(struct ffs *fs, bool offered)
{
}

void ffs_uring_stop(struct ffs *fs)
{
}
#endif
