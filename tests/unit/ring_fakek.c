// SPDX-License-Identifier: MIT
/*
 * tests/unit/ring_fakek.c - the kernel test double described in
 * ring_fakek.h. Just enough kernel to exercise the transport: every handler
 * reaches user memory only through task->mm, so the ring's pointer
 * translation and process_vm paths are what is tested.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"
#include "ring_fakek.h"

atomic_int fakek_tasks_live, fakek_forks, fakek_execs;
static unsigned char file[FAKE_FILE_SIZE];
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static unsigned int block_gen;

unsigned char *fakek_file(void)
{
	return file;
}

void fakek_unblock(void)
{
	pthread_mutex_lock(&block_lock);
	block_gen++;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_lock);
}

static void fk_cred_init(struct uk_cred *c, uid_t uid, gid_t gid)
{
	memset(c, 0, sizeof(*c));
	c->uid = c->euid = c->suid = c->fsuid = uid;
	c->gid = c->egid = c->sgid = c->fsgid = gid;
}

static struct uk_task *fk_task_new(struct uk_kernel *k, pid_t pid,
				   const struct uk_cred *cred)
{
	struct uk_task *t = calloc(1, sizeof(*t));

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->kernel = k;
	t->pid = t->tid = pid;
	t->ppid = 1;
	t->cred = *cred;
	pthread_mutex_init(&t->cred_lock, NULL);
	atomic_fetch_add(&fakek_tasks_live, 1);
	return t;
}

static struct uk_task *fk_task_fork(struct uk_task *parent, pid_t pid)
{
	struct uk_task *t = fk_task_new(parent->kernel, pid, &parent->cred);

	if (!IS_ERR(t))
		t->ppid = parent->pid;
	atomic_fetch_add(&fakek_forks, 1);
	return t;
}

static int fk_task_exec(struct uk_task *t)
{
	atomic_fetch_add(&fakek_execs, 1);
	return 0;
}

static void fk_task_exit(struct uk_task *t)
{
	pthread_mutex_destroy(&t->cred_lock);
	free(t);
	atomic_fetch_sub(&fakek_tasks_live, 1);
}

static long fk_rw(struct uk_task *t, bool wr, unsigned long buf,
		  unsigned long n, unsigned long off)
{
	int ret;

	if (off > FAKE_FILE_SIZE)
		return 0;
	if (n > FAKE_FILE_SIZE - off)
		n = FAKE_FILE_SIZE - off;
	ret = wr ? t->mm->copy_from(t, file + off, buf, n) :
		   t->mm->copy_to(t, buf, file + off, n);
	return ret ? ret : (long)n;
}

static long fk_block(void)
{
	struct timespec dl;
	unsigned int gen;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&block_lock);
	gen = block_gen;
	while (gen == block_gen)
		if (pthread_cond_timedwait(&block_cond, &block_lock, &dl))
			break;
	pthread_mutex_unlock(&block_lock);
	return 0;
}

static long fk_dispatch(struct uk_task *t, unsigned long nr,
			const unsigned long a[6])
{
	char path[4096];
	struct stat st;
	long n;

	switch (nr) {
	case SYS_getpid: return t->pid;
	case SYS_getppid: return t->ppid;
	case SYS_gettid: return t->tid;
	case SYS_getuid: return t->cred.uid;
	case SYS_geteuid: return t->cred.euid;
	case SYS_getgid: return t->cred.gid;
	case SYS_getegid: return t->cred.egid;
	case SYS_read: return fk_rw(t, false, a[1], a[2], 0);
	case SYS_write: return fk_rw(t, true, a[1], a[2], 0);
	case SYS_pread64: return fk_rw(t, false, a[1], a[2], a[3]);
	case SYS_pwrite64: return fk_rw(t, true, a[1], a[2], a[3]);
	case SYS_openat:
		n = t->mm->strncpy_from(t, path, a[1], sizeof(path));
		if (n < 0)
			return n;
		if (n == (long)sizeof(path))
			return -ENAMETOOLONG;
		/* "/secret" belongs to root, mode 0600. */
		if (!strcmp(path, "/secret") && t->cred.fsuid != 0)
			return -EACCES;
		return n;
	case SYS_fstat:
		memset(&st, 0, sizeof(st));
		st.st_ino = 42;
		st.st_size = (off_t)a[0];
		st.st_uid = t->cred.uid;
		return t->mm->copy_to(t, a[1], &st, sizeof(st));
	case SYS_setuid:
		pthread_mutex_lock(&t->cred_lock);
		t->cred.uid = t->cred.euid = t->cred.fsuid = (uid_t)a[0];
		pthread_mutex_unlock(&t->cred_lock);
		return 0;
	case FAKE_NR_BLOCK:
		return fk_block();
	default:
		return -ENOSYS;
	}
}

const struct uk_ring_kernel_ops fakek_ops = {
	.task_new = fk_task_new,
	.cred_init = fk_cred_init,
	.task_fork = fk_task_fork,
	.task_exec = fk_task_exec,
	.task_exit = fk_task_exit,
	.dispatch = fk_dispatch,
};
