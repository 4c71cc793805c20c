// SPDX-License-Identifier: MIT
/*
 * bench/bench_ringshare.c - the measurement behind blockdev's choice of one
 * io_uring per submitting thread (blockdev/core.c): T threads each read
 * random 4 KiB blocks synchronously (QD1 per thread) with O_DIRECT, either
 *   private: each thread has its own ring and waits on it itself, or
 *   shared:  one ring for all, SQ access under a mutex, and a completion
 *            thread that reaps the CQ and wakes the waiting thread
 *            (the classic one-ring-per-device design).
 * Prints IOPS and p50/p99 latency of each. liburing is used directly, so
 * nothing of blockdev's own overhead is in the comparison.
 *
 *   bench/run ringshare [--file IMAGE] [--threads T] [--runtime S]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#define MAX_LAT (4u << 20)

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int res;
};

struct shared {
	struct io_uring ring;
	pthread_mutex_t sq_lock;	/* protects the SQ */
	bool stop;
};

struct worker {
	pthread_t tid;
	int fd;
	uint64_t nblocks;
	uint64_t rng;
	uint64_t t_stop;
	struct shared *sh;	/* NULL: private ring */
	uint32_t *lat;
	size_t nlat;
	uint64_t ios;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t next_off(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (w->rng * 0x2545F4914F6CDD1Dull) % w->nblocks * 4096;
}

static void note(struct worker *w, uint64_t t0, uint64_t t1)
{
	if (w->nlat < MAX_LAT)
		w->lat[w->nlat++] = (uint32_t)(t1 - t0);
	w->ios++;
}

static void *private_main(void *arg)
{
	struct worker *w = arg;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	void *buf = aligned_alloc(4096, 4096);
	uint64_t t0, t1;

	if (io_uring_queue_init(4, &ring, 0) || !buf)
		exit(1);
	io_uring_register_files(&ring, &w->fd, 1);
	do {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		t0 = now_ns();
		io_uring_prep_read(sqe, 0, buf, 4096, next_off(w));
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_submit_and_wait(&ring, 1);
		io_uring_wait_cqe(&ring, &cqe);
		if (cqe->res != 4096)
			exit(1);
		io_uring_cqe_seen(&ring, cqe);
		t1 = now_ns();
		note(w, t0, t1);
	} while (t1 < w->t_stop);
	io_uring_queue_exit(&ring);
	free(buf);
	return NULL;
}

static void *shared_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct waiter wt = { .done = false };
	void *buf = aligned_alloc(4096, 4096);
	uint64_t t0, t1;

	pthread_mutex_init(&wt.lock, NULL);
	pthread_cond_init(&wt.cond, NULL);
	do {
		struct io_uring_sqe *sqe;

		t0 = now_ns();
		wt.done = false;
		pthread_mutex_lock(&sh->sq_lock);
		sqe = io_uring_get_sqe(&sh->ring);
		io_uring_prep_read(sqe, 0, buf, 4096, next_off(w));
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data(sqe, &wt);
		io_uring_submit(&sh->ring);
		pthread_mutex_unlock(&sh->sq_lock);

		pthread_mutex_lock(&wt.lock);
		while (!wt.done)
			pthread_cond_wait(&wt.cond, &wt.lock);
		pthread_mutex_unlock(&wt.lock);
		if (wt.res != 4096)
			exit(1);
		t1 = now_ns();
		note(w, t0, t1);
	} while (t1 < w->t_stop);
	free(buf);
	return NULL;
}

/* The completion thread of the shared design. */
static void *reaper_main(void *arg)
{
	struct shared *sh = arg;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_nsec = 10000000 };

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		if (io_uring_wait_cqe_timeout(&sh->ring, &cqe, &ts))
			continue;
		struct waiter *wt = io_uring_cqe_get_data(cqe);

		pthread_mutex_lock(&wt->lock);
		wt->res = cqe->res;
		wt->done = true;
		pthread_cond_signal(&wt->cond);
		pthread_mutex_unlock(&wt->lock);
		io_uring_cqe_seen(&sh->ring, cqe);
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void run(const char *mode, int fd, uint64_t nblocks, int nthreads,
		double runtime)
{
	struct worker *w = calloc((size_t)nthreads, sizeof(*w));
	struct shared sh = { .stop = false };
	pthread_t reaper;
	uint32_t *all;
	size_t n = 0;
	uint64_t ios = 0, stop = now_ns() + (uint64_t)(runtime * 1e9);
	int i;

	if (!strcmp(mode, "shared")) {
		if (io_uring_queue_init(64, &sh.ring, 0))
			exit(1);
		io_uring_register_files(&sh.ring, &fd, 1);
		pthread_mutex_init(&sh.sq_lock, NULL);
		pthread_create(&reaper, NULL, reaper_main, &sh);
	}
	for (i = 0; i < nthreads; i++) {
		w[i].fd = fd;
		w[i].nblocks = nblocks;
		w[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
		w[i].t_stop = stop;
		w[i].sh = !strcmp(mode, "shared") ? &sh : NULL;
		w[i].lat = malloc(MAX_LAT * sizeof(uint32_t));
		pthread_create(&w[i].tid, NULL,
			       w[i].sh ? shared_main : private_main, &w[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		ios += w[i].ios;
		n += w[i].nlat;
	}
	if (w[0].sh) {
		__atomic_store_n(&sh.stop, true, __ATOMIC_RELEASE);
		pthread_join(reaper, NULL);
		io_uring_queue_exit(&sh.ring);
	}
	all = malloc(n * sizeof(*all));
	n = 0;
	for (i = 0; i < nthreads; i++) {
		memcpy(all + n, w[i].lat, w[i].nlat * sizeof(*all));
		n += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	printf("%-8s %7d %10.0f %9.1f %9.1f\n", mode, nthreads,
	       (double)ios / runtime, (double)all[n / 2] / 1e3,
	       (double)all[n * 99 / 100] / 1e3);
	free(all);
	free(w);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "threads", required_argument, NULL, 't' },
		{ "runtime", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = getenv("UK_BUILD");
	char def[4096];
	const char *file = NULL;
	int threads = 2, c, fd, t;
	double runtime = 3;
	struct stat st;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 't': threads = atoi(optarg); break;
		case 'r': runtime = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: bench-ringshare [--file IMAGE] "
				"[--threads T] [--runtime S]\n");
			return 2;
		}
	}
	if (!file) {
		/* the image bench/run blockdev filled */
		snprintf(def, sizeof(def), "%s/bench-data/blockdev.img",
			 root ? root : "build-release");
		file = def;
	}
	fd = open(file, O_RDONLY | O_DIRECT);
	if (fd < 0 || fstat(fd, &st) || st.st_size < (1 << 20)) {
		fprintf(stderr, "bench-ringshare: %s: run bench/run blockdev "
			"first, or pass --file\n", file);
		return 1;
	}
	printf("QD1 random 4 KiB O_DIRECT reads per thread, %s\n", file);
	printf("%-8s %7s %10s %9s %9s\n", "rings", "threads", "IOPS",
	       "p50 us", "p99 us");
	for (t = 1; t <= threads; t++) {
		run("private", fd, (uint64_t)st.st_size / 4096, t, runtime);
		run("shared", fd, (uint64_t)st.st_size / 4096, t, runtime);
	}
	close(fd);
	return 0;
}
