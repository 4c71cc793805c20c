// SPDX-License-Identifier: MIT
/*
 * ukernel/ring_server.c - the ring server: accepts client processes on a
 * Unix socket, gives each a shared region of per-thread slots, and serves
 * the system calls they publish there through the kernel's uk_dispatch().
 *
 * Threads:
 *  - the monitor: epoll over the listening socket, every connection (the
 *    handshake, then EOF = client gone) and every task's pidfd (process
 *    exit = task reaped); refreshes the vvar clock while clients exist.
 *  - workers: at most one is the poller, which scans every region for
 *    published requests (round-robin, one request per client per pass),
 *    executes them itself, spins while traffic flows and sleeps on the
 *    regions' doorbells (futex_waitv) after an idle window. One other is the
 *    watchdog: while the poller is awake it checks every rescue_us whether
 *    the poller is stuck in one call (e.g. a lock wait) and if so takes the
 *    poller's role, so one client's blocking call cannot starve the others;
 *    a worker is added up to max_workers so that there is always a spare.
 *    The poller also passes on interrupts: a client whose handler without
 *    SA_RESTART ran while its call slept sets UK_SLOT_INTR in the slot and
 *    its bit in the header's intr mask, and the poller wakes that call's
 *    sleep (kops.intr_wake), which then returns -EINTR.
 *
 * The region is the client's: every field is read once into private
 * memory, bounds-checked, and only a hint. See docs/ring.md for the
 * hand-off protocol and its barriers.
 *
 * Sections: helpers, tasks, connections and the scan set, handshake,
 * monitor, executing a slot, poller, standby, start/stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ring_internal.h"
#include "uk_time.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define RING_WORKERS_LIMIT 32
#define RING_CLIENTS_LIMIT 127 /* futex_waitv takes 128 words, one is ours */
#define RING_CLOCK_REFRESH_MS 250
#define RING_FORK_MAX 1024       /* children's tasks held, not yet taken */
#define RING_FORK_PER_PARENT 32  /* ... of which one process may own */
#define RING_FORK_TTL_NS (60ull * 1000000000ull) /* child never found */
#define RING_FORK_KIDS 64        /* a thread's children remembered */

/*
 * A child's task, made when its parent was about to fork (FORK_PREPARE),
 * so it has the descriptors the parent had at fork() whatever the parent
 * closes before the child's first call. Taken by the child's connection
 * (its token, or its pid once FORK_DONE found it); dropped when the child
 * exits without connecting, when fork() failed, or after RING_FORK_TTL_NS
 * if the child could not be identified. Under srv->lock.
 */
struct ring_fork {
	struct ring_fork *next;      /* srv->forks, newest first */
	uint64_t token;
	uint64_t born_ns;            /* CLOCK_MONOTONIC */
	pid_t parent_pid, parent_tid;
	uid_t uid;                   /* only this uid may take it */
	pid_t child;                 /* 0 until FORK_DONE found it */
	int child_pidfd;             /* -1 until then */
	int nkids;                   /* the thread's children before; -1: ? */
	pid_t kids[RING_FORK_KIDS];
	struct uk_task *task;
};

struct ring_worker {
	struct uk_ring_server *srv;
	pthread_t thread;
	int id;
	/* Epoch this worker scans under; 0 while it holds no set pointer. */
	_Atomic uint64_t epoch_seen;
	/* TSC when this worker started executing a call; 0 when not. */
	_Atomic uint64_t exec_start;
};

/* What an epoll event refers to. */
enum ring_ev_type { EV_LISTEN, EV_STOP, EV_CONN, EV_PIDFD };

struct uk_ring_server {
	struct uk_kernel *k;
	struct uk_ring_kernel_ops kops;
	void *watch;                  /* kops.watch's cookie, or NULL */
	struct uk_ring_server_opts o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uid_t uid;
	int listen_fd, epfd, stop_fd;
	pthread_t monitor;

	/*
	 * lock protects tasks, conn_all, nclients and the creation of worker
	 * threads. Never held across a dispatch or a blocking wait.
	 */
	pthread_mutex_t lock;
	struct ring_task *tasks;
	struct ring_fork *forks;      /* under lock */
	unsigned int nforks;
	struct ring_conn *conn_all;
	unsigned int nclients;

	/* The scan set: replaced by the monitor, freed after an epoch. */
	_Atomic(struct ring_conn_set *) set;
	_Atomic uint64_t epoch;

	struct ring_worker workers[RING_WORKERS_LIMIT];
	atomic_int nworkers;

	atomic_int poller;         /* worker id holding the role, -1: none */
	atomic_int watchdog;       /* worker id watching the poller, -1 */
	atomic_int poller_asleep;  /* the poller sleeps on the doorbells */
	/* Futex words: the poller's (set changed, stop), the watchdog's, the
	 * other standby workers'. Each is bumped before it is woken. */
	_Atomic uint32_t ctl_word, watch_word, pool_word;
	atomic_bool stopping;

	unsigned int rr;           /* next client to serve (poller only) */
	uint64_t hz, idle_ticks, yield_ticks, rescue_ticks;

	struct uk_vvar_global *gvvar;
	int gvvar_fd;

	_Atomic uint64_t st_calls, st_wakeups, st_rescues, st_bad, st_moves;
};

/* ---- helpers --------------------------------------------------------------- */

static void ring_log(struct uk_ring_server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ring_log(struct uk_ring_server *srv, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (srv->o.log)
		srv->o.log(srv->o.log_arg, buf);
	else
		fprintf(stderr, "ukernel ring: %s\n", buf);
}

static long futex_wait_shared(_Atomic uint32_t *w, uint32_t val,
			      const struct timespec *ts, bool private)
{
	return syscall(SYS_futex, w,
		       FUTEX_WAIT | (private ? FUTEX_PRIVATE_FLAG : 0), val,
		       ts, NULL, 0);
}

/* Bumps a futex word and wakes n of its waiters. */
static void ring_kick(_Atomic uint32_t *w, int n)
{
	atomic_fetch_add(w, 1);
	futex_wake_n(w, n, true);
}

/* ---- tasks ------------------------------------------------------------------ */

static void rt_get(struct ring_task *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

/* Drops a reference; the last one exits the kernel task. */
static void rt_put(struct ring_task *rt)
{
	if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (rt->task)
		rt->srv->kops.task_exit(rt->task);
	if (rt->vvar)
		munmap(rt->vvar, UK_VVAR_TASK_SIZE);
	if (rt->vvar_fd >= 0)
		close(rt->vvar_fd);
	if (rt->pidfd >= 0)
		close(rt->pidfd);
	free(rt);
}

/* Process facts from /proc/PID/stat: parent pid and start time. */
static int proc_stat(pid_t pid, pid_t *ppid, uint64_t *starttime)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	int fd, ppid_v = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: parse after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	/* Fields 3.. : state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			  "%*d %*d %*d %*d %*d %*d %llu",
		   &ppid_v, &st) != 2)
		return -EIO;
	*ppid = ppid_v;
	*starttime = st;
	return 0;
}

/* Supplementary groups from /proc/PID/status. */
static void proc_groups(pid_t pid, struct uk_cred *cred)
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		cred->ngroups = 0;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p || cred->ngroups >= UK_NGROUPS_MAX)
				break;
			cred->groups[cred->ngroups++] = (gid_t)g;
			p = end;
		}
		break;
	}
	fclose(f);
}

/*
 * All of pid's ids as the host has them now, from /proc/PID/status (Uid:
 * and Gid: give real, effective, saved and fs ids). 0, or -errno.
 */
static int proc_creds(pid_t pid, struct uk_cred *cred)
{
	char path[64], line[256];
	unsigned int u[4], g[4];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (got != 3 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %u %u %u %u", &u[0], &u[1], &u[2],
			   &u[3]) == 4)
			got |= 1;
		else if (sscanf(line, "Gid: %u %u %u %u", &g[0], &g[1], &g[2],
				&g[3]) == 4)
			got |= 2;
	}
	fclose(f);
	if (got != 3)
		return -EIO;
	cred->uid = u[0];
	cred->euid = u[1];
	cred->suid = u[2];
	cred->fsuid = u[3];
	cred->gid = g[0];
	cred->egid = g[1];
	cred->sgid = g[2];
	cred->fsgid = g[3];
	proc_groups(pid, cred);
	return 0;
}

/*
 * A task the process did not get new at this connect (a fork of its
 * parent's, or its own from before an exec) has the creds it had then;
 * the host's may have changed since (an id change before the first
 * connect, a set-user-ID exec). Take the host's, which are the truth;
 * should /proc fail us, the peer's (SO_PEERCRED) rather than the old
 * ones, which may be more than the process has now.
 */
static void task_sync_creds(struct uk_ring_server *srv, struct uk_task *task,
			    pid_t pid, const struct ucred *uc)
{
	struct uk_cred cred = { 0 };

	if (proc_creds(pid, &cred)) {
		srv->kops.cred_init(&cred, uc->uid, uc->gid);
		proc_groups(pid, &cred);
	}
	pthread_mutex_lock(&task->cred_lock);
	task->cred = cred;
	pthread_mutex_unlock(&task->cred_lock);
}

/*
 * The task's descriptor limit follows the process's RLIMIT_NOFILE soft
 * limit at each connect (new, forked or exec'd): Linux's limit is per
 * process, and a program that raised it to hold more than 1024 files
 * needs as many virtual ones (its vfd numbers are host numbers, which the
 * host already allows up to that limit). A limit changed later is seen at
 * the next connect (exec). When the host does not tell us (prlimit needs
 * the same user or CAP_SYS_RESOURCE), the task keeps what it had.
 */
static void task_sync_nofile(struct uk_ring_server *srv, struct uk_task *task,
			     pid_t pid)
{
	struct rlimit rl;

	if (srv->kops.set_nofile && !prlimit(pid, RLIMIT_NOFILE, NULL, &rl))
		srv->kops.set_nofile(task, rl.rlim_cur == RLIM_INFINITY
						   ? UINT64_MAX
						   : (uint64_t)rl.rlim_cur);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* The live task held for pid with that start time, or NULL. Lock held. */
static struct ring_task *task_find_locked(struct uk_ring_server *srv,
					  pid_t pid)
{
	for (struct ring_task *rt = srv->tasks; rt; rt = rt->next)
		if (rt->pid == pid && !atomic_load(&rt->dead))
			return rt;
	return NULL;
}

static void task_unlink_locked(struct uk_ring_server *srv,
			       struct ring_task *rt)
{
	struct ring_task **pp;

	for (pp = &srv->tasks; *pp; pp = &(*pp)->next) {
		if (*pp == rt) {
			*pp = rt->next;
			rt->in_table = false;
			return;
		}
	}
}

static void forks_reap(struct uk_ring_server *srv);

/*
 * The process behind pidfd exited: its task leaves the table (no new
 * connection can find it) and the table's reference goes. The kernel
 * task exits when the last connection and call let go of it.
 */
static void task_died(struct uk_ring_server *srv, struct ring_task *rt)
{
	bool put = false;

	/* Release, pairs with ring_mm.c's acquire: no more process_vm on
	 * this pid, which may be reused from now on. */
	atomic_store_explicit(&rt->dead, true, memory_order_release);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, rt->pidfd, NULL);
	pthread_mutex_lock(&srv->lock);
	if (rt->in_table) {
		task_unlink_locked(srv, rt);
		put = true;
	}
	pthread_mutex_unlock(&srv->lock);
	if (put)
		rt_put(rt);
	forks_reap(srv); /* its children may have gone before it */
}

/* ---- fork registration ------------------------------------------------------- */

/*
 * The children of thread tid of process pid (/proc/PID/task/TID/children)
 * into kids[max]: their number, max + 1 if there are more, or -errno.
 */
static int read_children(pid_t pid, pid_t tid, pid_t *kids, int max)
{
	char path[80], buf[4096], *p, *end;
	ssize_t n;
	int fd, k = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	if (n == (ssize_t)sizeof(buf) - 1)
		return max + 1; /* too many to tell */
	buf[n] = 0;
	for (p = buf;; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (k == max)
			return max + 1;
		kids[k++] = (pid_t)v;
	}
	return k;
}

static void fork_free(struct uk_ring_server *srv, struct ring_fork *f)
{
	if (f->child_pidfd >= 0)
		close(f->child_pidfd);
	if (f->task)
		srv->kops.task_exit(f->task);
	free(f);
}

static void forks_free(struct uk_ring_server *srv, struct ring_fork *list)
{
	while (list) {
		struct ring_fork *next = list->next;

		fork_free(srv, list);
		list = next;
	}
}

/*
 * Unlinks what is no longer wanted (child gone, or never identified and
 * too old; the oldest beyond RING_FORK_MAX - room) and returns it as a
 * list for forks_free() after the lock is dropped.
 */
static struct ring_fork *forks_reap_locked(struct uk_ring_server *srv,
					   unsigned int room)
{
	struct ring_fork **pp = &srv->forks, *dead = NULL, *f;
	uint64_t now = uk_mono_ns();
	unsigned int kept = 0;

	while ((f = *pp)) {
		bool drop = f->child_pidfd >= 0 ?
				    pidfd_exited(f->child_pidfd) :
				    now - f->born_ns > RING_FORK_TTL_NS;

		if (!drop && kept + room >= RING_FORK_MAX)
			drop = true; /* newest first: these are the oldest */
		if (drop) {
			*pp = f->next;
			f->next = dead;
			dead = f;
			srv->nforks--;
		} else {
			kept++;
			pp = &f->next;
		}
	}
	return dead;
}

static void forks_reap(struct uk_ring_server *srv)
{
	struct ring_fork *dead;

	pthread_mutex_lock(&srv->lock);
	dead = srv->nforks ? forks_reap_locked(srv, 0) : NULL;
	pthread_mutex_unlock(&srv->lock);
	forks_free(srv, dead);
}

/*
 * FORK_PREPARE from rt's thread tid: the child's task, made now. Returns
 * its token (> 0) or -errno.
 */
static long fork_prepare(struct uk_ring_server *srv, struct ring_task *rt,
			 pid_t tid)
{
	struct ring_fork *f, *dead;
	struct uk_task *t;
	long ret;

	if (tid <= 0)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	t = srv->kops.task_fork(rt->task, 0);
	if (IS_ERR_OR_NULL(t)) {
		free(f);
		return t ? PTR_ERR(t) : -ENOMEM;
	}
	/* Unused until a connection takes it and gives it its own. */
	t->mm_priv = NULL;
	t->owner = NULL;
	f->task = t;
	f->child_pidfd = -1;
	f->parent_pid = rt->pid;
	f->parent_tid = tid;
	f->uid = rt->uid;
	f->born_ns = uk_mono_ns();
	f->nkids = read_children(rt->pid, tid, f->kids, RING_FORK_KIDS);
	if (f->nkids > RING_FORK_KIDS)
		f->nkids = -1;
	/* The token is the capability to take the task: unguessable. */
	if (getrandom(&f->token, sizeof(f->token), 0) != sizeof(f->token))
		f->token = uk_mono_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)tid;
	f->token &= INT64_MAX;
	if (!f->token)
		f->token = 1;
	ret = (long)f->token;

	pthread_mutex_lock(&srv->lock);
	dead = forks_reap_locked(srv, 1);
	/*
	 * One process's forks never push out another's: beyond its share,
	 * its own oldest goes (a client calling FORK_PREPARE in a loop).
	 */
	{
		struct ring_fork **pp, **oldest = NULL;
		unsigned int mine = 0;

		for (pp = &srv->forks; *pp; pp = &(*pp)->next) {
			if ((*pp)->parent_pid == rt->pid) {
				mine++;
				oldest = pp;
			}
		}
		if (mine >= RING_FORK_PER_PARENT) {
			struct ring_fork *o = *oldest;

			*oldest = o->next;
			srv->nforks--;
			o->next = dead;
			dead = o;
		}
	}
	f->next = srv->forks;
	srv->forks = f;
	srv->nforks++;
	pthread_mutex_unlock(&srv->lock);
	forks_free(srv, dead);
	return ret;
}

/* The entry with token made by process pid, or NULL. Lock held. */
static struct ring_fork *fork_find_locked(struct uk_ring_server *srv,
					  uint64_t token, pid_t pid)
{
	for (struct ring_fork *f = srv->forks; f; f = f->next)
		if (f->token == token && f->parent_pid == pid)
			return f;
	return NULL;
}

static void fork_unlink_locked(struct uk_ring_server *srv,
			       struct ring_fork *f)
{
	for (struct ring_fork **pp = &srv->forks; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			srv->nforks--;
			return;
		}
	}
}

/*
 * FORK_DONE(token) from the parent after fork(): the child is the forking
 * thread's child that was not there at FORK_PREPARE. Found: its task waits
 * for it (and goes when it exits); no new child: fork() failed, the task
 * goes; cannot tell: the task waits, up to RING_FORK_TTL_NS. The child
 * may have connected already, then there is nothing to do. Returns 0.
 */
static long fork_done(struct uk_ring_server *srv, struct ring_task *rt,
		      uint64_t token)
{
	pid_t kids[RING_FORK_KIDS + 1], tid = 0, child = 0;
	struct ring_fork *f, *gone = NULL;
	int nkids = -1, n, pidfd = -1;

	pthread_mutex_lock(&srv->lock);
	f = fork_find_locked(srv, token, rt->pid);
	if (f) {
		tid = f->parent_tid;
		nkids = f->nkids;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!f || nkids < 0)
		return 0;
	n = read_children(rt->pid, tid, kids, RING_FORK_KIDS + 1);
	if (n < 0 || n > RING_FORK_KIDS + 1)
		return 0;
	for (int i = 0; i < n && !child; i++) {
		bool old = false;

		pthread_mutex_lock(&srv->lock);
		f = fork_find_locked(srv, token, rt->pid);
		for (int j = 0; f && j < f->nkids; j++)
			old |= f->kids[j] == kids[i];
		pthread_mutex_unlock(&srv->lock);
		if (!f)
			return 0;
		if (!old)
			child = kids[i];
	}
	if (child) {
		pidfd = (int)syscall(SYS_pidfd_open, child, 0);
		if (pidfd < 0)
			return 0; /* already gone: the reaper will see no one */
	}
	pthread_mutex_lock(&srv->lock);
	f = fork_find_locked(srv, token, rt->pid);
	if (f && child) {
		f->child = child;
		f->child_pidfd = pidfd;
		pidfd = -1;
	} else if (f) {
		fork_unlink_locked(srv, f); /* fork() failed */
		gone = f;
	}
	pthread_mutex_unlock(&srv->lock);
	if (pidfd >= 0)
		close(pidfd);
	if (gone)
		fork_free(srv, gone);
	return 0;
}

/*
 * The registered fork a connecting process takes: by its token, or by its
 * pid when FORK_DONE identified it (a child that exec'd before its first
 * call has lost the token). Unlinked; NULL if none. Lock held.
 */
static struct ring_fork *fork_claim_locked(struct uk_ring_server *srv,
					   pid_t pid, uid_t uid,
					   uint64_t token)
{
	for (struct ring_fork *f = srv->forks; f; f = f->next) {
		if (f->uid != uid)
			continue;
		if ((token && f->token == token) ||
		    (f->child == pid && !pidfd_exited(f->child_pidfd))) {
			fork_unlink_locked(srv, f);
			return f;
		}
	}
	return NULL;
}

/*
 * The task for a connecting process (pid, with its pidfd; credentials from
 * SO_PEERCRED): the one held for it already (same start time; exec'd when
 * the client says so), the one its parent registered before fork()
 * (fork_token, or its pid), a fork of its parent's when the parent is a
 * known task, else a new one. Returns a referenced task or
 * ERR_PTR(-errno). Takes ownership of pidfd.
 */
static struct ring_task *task_get(struct uk_ring_server *srv, pid_t pid,
				  int pidfd, const struct ucred *uc,
				  uint32_t hello_flags, uint64_t fork_token)
{
	struct ring_task *rt, *parent = NULL;
	struct ring_fork *pf;
	pid_t ppid, pppid;
	uint64_t start, pstart;
	struct uk_cred cred;
	int ret;

	ret = proc_stat(pid, &ppid, &start);
	/* The pidfd pins the process: if it is alive now, /proc was it. */
	if (!ret && pidfd_exited(pidfd))
		ret = -ESRCH;
	if (ret)
		goto err_close;

	pthread_mutex_lock(&srv->lock);
	rt = task_find_locked(srv, pid);
	if (rt && rt->starttime == start) {
		rt_get(rt);
		pthread_mutex_unlock(&srv->lock);
		close(pidfd);
		if (hello_flags & UK_RING_HELLO_EXEC)
			srv->kops.task_exec(rt->task);
		task_sync_creds(srv, rt->task, pid, uc);
		task_sync_nofile(srv, rt->task, pid);
		uk_ring_publish_ids(rt);
		return rt;
	}
	if (rt) {
		/*
		 * A recycled pid: the old process is gone. Only marked dead
		 * (task_find_locked() skips it): its pidfd's event, which
		 * is pending and may even be in the batch the monitor is
		 * working through right now, unlinks and releases it in
		 * task_died(). Freeing it here left that event pointing at
		 * freed memory.
		 */
		atomic_store(&rt->dead, true);
	}
	pf = fork_claim_locked(srv, pid, uc->uid,
			       (hello_flags & UK_RING_HELLO_FORK) ? fork_token
								  : 0);
	if (!pf) {
		parent = task_find_locked(srv, ppid);
		if (parent && (proc_stat(ppid, &pppid, &pstart) ||
			       pstart != parent->starttime))
			parent = NULL;
		if (parent)
			rt_get(parent);
	}
	pthread_mutex_unlock(&srv->lock);

	ret = -ENOMEM;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		goto err_parent;
	rt->srv = srv;
	rt->pid = pid;
	rt->uid = uc->uid;
	rt->starttime = start;
	rt->pidfd = pidfd;
	rt->vvar_fd = -1;
	atomic_init(&rt->refs, 2); /* the table's and the caller's */
	ret = uk_ring_vvar_create("ukernel-vvar-task", UK_VVAR_TASK_SIZE,
				  (void **)&rt->vvar);
	if (ret < 0)
		goto err_free;
	rt->vvar_fd = ret;

	if (pf) {
		/* Registered at fork(): the parent's table at that moment. */
		rt->task = pf->task;
		pf->task = NULL;
		rt->task->pid = rt->task->tid = pid;
		if (hello_flags & UK_RING_HELLO_EXEC)
			srv->kops.task_exec(rt->task);
	} else if (parent) {
		rt->task = srv->kops.task_fork(parent->task, pid);
	} else {
		srv->kops.cred_init(&cred, uc->uid, uc->gid);
		proc_groups(pid, &cred);
		rt->task = srv->kops.task_new(srv->k, pid, &cred);
	}
	if (IS_ERR_OR_NULL(rt->task)) {
		ret = rt->task ? (int)PTR_ERR(rt->task) : -ENOMEM;
		rt->task = NULL;
		goto err_vvar;
	}
	/* The host knows the parent even when the kernel does not. */
	if (!parent && !pf)
		rt->task->ppid = ppid;
	/* And what its creds are now, whatever the task was made from. */
	task_sync_creds(srv, rt->task, pid, uc);
	task_sync_nofile(srv, rt->task, pid);
	rt->task->mm = &uk_ring_mm_ops;
	rt->task->mm_priv = rt;
	rt->task->owner = rt;
	rt->task->frontend = UK_FRONTEND_RING;
	if (parent)
		rt_put(parent);
	if (pf)
		fork_free(srv, pf); /* its task is ours now */
	uk_ring_publish_ids(rt);

	pthread_mutex_lock(&srv->lock);
	rt->next = srv->tasks;
	srv->tasks = rt;
	rt->in_table = true;
	pthread_mutex_unlock(&srv->lock);
	{
		struct epoll_event ev = { .events = EPOLLIN };

		/* data.u64: type in the low 2 bits of an aligned pointer. */
		ev.data.u64 = (uint64_t)(uintptr_t)rt | EV_PIDFD;
		epoll_ctl(srv->epfd, EPOLL_CTL_ADD, pidfd, &ev);
	}
	/* It may have died before the pidfd was watched. */
	if (pidfd_exited(pidfd))
		task_died(srv, rt);
	return rt;

err_vvar:
	munmap(rt->vvar, UK_VVAR_TASK_SIZE);
	close(rt->vvar_fd);
err_free:
	free(rt);
err_parent:
	if (parent)
		rt_put(parent);
	if (pf)
		fork_free(srv, pf);
err_close:
	close(pidfd);
	return ERR_PTR(ret);
}

/* ---- connections and the scan set ------------------------------------------- */

static void conn_get(struct ring_conn *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void conn_put(struct ring_conn *c)
{
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (c->region)
		munmap(c->region, UK_RING_REGION_SIZE);
	if (c->region_fd >= 0)
		close(c->region_fd);
	if (c->rt)
		rt_put(c->rt);
	free(c);
}

/*
 * Waits until no worker can still be looking at a set older than the
 * current one: every worker either holds no set (0) or entered its scan
 * after the epoch was bumped.
 */
static void epoch_sync(struct uk_ring_server *srv)
{
	uint64_t e = atomic_fetch_add(&srv->epoch, 1) + 1;
	int n = atomic_load(&srv->nworkers);

	for (int i = 0; i < n; i++) {
		struct ring_worker *w = &srv->workers[i];
		uint64_t s;

		while ((s = atomic_load(&w->epoch_seen)) && s < e) {
			struct timespec d = { 0, 20000 };

			nanosleep(&d, NULL);
		}
	}
}

/*
 * Rebuilds the scan set from conn_all (active connections only) and
 * publishes it; frees the old one once no worker can see it. Monitor only.
 */
static void set_rebuild(struct uk_ring_server *srv)
{
	struct ring_conn_set *s, *old;
	unsigned int n = 0;

	pthread_mutex_lock(&srv->lock);
	s = malloc(sizeof(*s) + (srv->nclients + 1) * sizeof(s->c[0]));
	if (s) {
		for (struct ring_conn *c = srv->conn_all; c; c = c->next)
			if (c->state == CONN_ACTIVE)
				s->c[n++] = c;
		s->n = n;
	}
	pthread_mutex_unlock(&srv->lock);
	if (!s)
		return; /* keep the old set; the next change retries */
	/* seq_cst exchange: the new set is visible before the epoch bump. */
	old = atomic_exchange(&srv->set, s);
	/* The sleeping poller rebuilds its doorbell list. */
	ring_kick(&srv->ctl_word, 1);
	epoch_sync(srv);
	free(old);
}

static void conn_intr_all(struct uk_ring_server *srv, struct ring_conn *c);

/*
 * A connection ends (EOF, protocol error, stop): out of the scan set, its
 * region told to stop, its calls in flight interrupted, the socket closed,
 * the list's reference dropped.
 */
static void conn_close(struct uk_ring_server *srv, struct ring_conn *c)
{
	struct ring_conn **pp;
	bool was_active = c->state == CONN_ACTIVE;

	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	pthread_mutex_lock(&srv->lock);
	c->state = CONN_DEAD;
	for (pp = &srv->conn_all; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			srv->nclients--;
			break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	if (was_active)
		set_rebuild(srv);
	if (c->region) {
		struct uk_ring_header *h = c->region;

		atomic_store(&h->shutdown, 1);
		/* Nobody will read their results: no call may sleep on. */
		conn_intr_all(srv, c);
		for (unsigned int i = 0; i < UK_RING_NSLOTS; i++)
			futex_wake_n(&uk_ring_slot_at(c->region, i)->state,
				     INT_MAX, false);
	}
	close(c->fd);
	c->fd = -1;
	conn_put(c);
}

/* ---- handshake ------------------------------------------------------------- */

static int send_welcome(int fd, struct uk_ring_welcome *w, const int *fds,
			int nfds)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { w, sizeof(*w) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	w->magic = UK_RING_MAGIC;
	w->version = UK_RING_VERSION;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	if (sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(*w))
		return -EPIPE;
	return 0;
}

static void refuse(struct uk_ring_server *srv, struct ring_conn *c, int err,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Tells the client why it is refused, logs it; the caller closes. */
static void refuse(struct uk_ring_server *srv, struct ring_conn *c, int err,
		   const char *fmt, ...)
{
	struct uk_ring_welcome w = { .status = -err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w.message, sizeof(w.message), fmt, ap);
	va_end(ap);
	ring_log(srv, "pid %d refused: %s", (int)c->peer_pid, w.message);
	send_welcome(c->fd, &w, NULL, 0);
}

static bool uid_allowed(struct uk_ring_server *srv, uid_t uid)
{
	if (uid == srv->uid)
		return true;
	for (unsigned int i = 0; i < srv->o.n_allow_uids; i++)
		if (srv->o.allow_uids[i] == uid)
			return true;
	return false;
}

/* Step 1: hello -> welcome with the fds. Returns 0 or -errno (close). */
static int conn_hello(struct uk_ring_server *srv, struct ring_conn *c)
{
	struct uk_ring_hello h;
	struct uk_ring_welcome w = { 0 };
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct ring_task *rt;
	struct uk_ring_header *hdr;
	int pidfd = -1, fds[3], ret;
	ssize_t n;

	n = recv(c->fd, &h, sizeof(h), MSG_DONTWAIT);
	/*
	 * A peer that closes without a word is someone checking that we
	 * listen (ukrun, scripts): not worth a line in the log.
	 */
	if (n == 0)
		return -ECONNRESET;
	/* An older hello is shorter: answer its version with ours. */
	if (n < 8 || h.magic != UK_RING_MAGIC) {
		refuse(srv, c, EPROTO, "not a ukernel ring hello");
		return -EPROTO;
	}
	if (h.version != UK_RING_VERSION) {
		refuse(srv, c, EPROTONOSUPPORT,
		       "protocol version %u, daemon speaks %u", h.version,
		       UK_RING_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (n != (ssize_t)sizeof(h)) {
		refuse(srv, c, EPROTO, "short hello");
		return -EPROTO;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	c->peer_pid = uc.pid;
	if (!uid_allowed(srv, uc.uid)) {
		refuse(srv, c, EACCES, "uid %u is not allowed",
		       (unsigned int)uc.uid);
		return -EACCES;
	}
	len = sizeof(pidfd);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		/* Older kernels: a pidfd opened now (a small reuse window). */
		pidfd = (int)syscall(SYS_pidfd_open, uc.pid, 0);
		if (pidfd < 0) {
			ret = -errno;
			refuse(srv, c, -ret, "no pidfd for pid %d", (int)uc.pid);
			return ret;
		}
	}
	rt = task_get(srv, uc.pid, pidfd, &uc, h.flags, h.fork_token);
	if (IS_ERR(rt)) {
		ret = (int)PTR_ERR(rt);
		refuse(srv, c, -ret, "no task: %s", strerror(-ret));
		return ret;
	}
	c->rt = rt;

	c->region_fd = memfd_create("ukernel-ring", MFD_CLOEXEC |
							    MFD_ALLOW_SEALING);
	if (c->region_fd < 0)
		return -errno;
	if (ftruncate(c->region_fd, UK_RING_REGION_SIZE) < 0 ||
	    fcntl(c->region_fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	c->region = mmap(NULL, UK_RING_REGION_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, c->region_fd, 0);
	if (c->region == MAP_FAILED) {
		c->region = NULL;
		return -errno;
	}
	hdr = c->region;
	hdr->magic = UK_RING_MAGIC;
	hdr->version = UK_RING_VERSION;
	hdr->nslots = UK_RING_NSLOTS;
	hdr->data_size = UK_RING_DATA_SIZE;
	atomic_store(&hdr->poller_cpu, -1);
	for (unsigned int i = 0; i < UK_RING_NSLOTS; i++) {
		c->intr[i].word = &uk_ring_slot_at(c->region, i)->state;
		c->intr[i].mask = UK_SLOT_INTR;
	}

	w.nslots = UK_RING_NSLOTS;
	w.region_size = UK_RING_REGION_SIZE;
	w.task_vvar_size = UK_VVAR_TASK_SIZE;
	w.global_vvar_size = UK_VVAR_GLOBAL_SIZE;
	w.daemon_pid = getpid();
	w.task_pid = rt->pid;
	fds[0] = c->region_fd;
	fds[1] = rt->vvar_fd;
	fds[2] = srv->gvvar_fd;
	ret = send_welcome(c->fd, &w, fds, 3);
	if (ret)
		return ret;
	c->state = CONN_MAPPED;
	return 0;
}

/* Step 2: where the client mapped it -> ready; the region is served. */
static int conn_mapped(struct uk_ring_server *srv, struct ring_conn *c)
{
	struct uk_ring_mapped m;
	struct uk_ring_ready r = { .magic = UK_RING_MAGIC };
	ssize_t n;

	n = recv(c->fd, &m, sizeof(m), MSG_DONTWAIT);
	if (n != (ssize_t)sizeof(m) || m.magic != UK_RING_MAGIC)
		return -EPROTO;
	/* A canonical, page-aligned user address with room for the region. */
	if ((m.region_base & 4095) || m.region_base == 0 ||
	    m.region_base > (1ull << 47) - UK_RING_REGION_SIZE)
		return -EPROTO;
	c->client_base = m.region_base;
	pthread_mutex_lock(&srv->lock);
	c->state = CONN_ACTIVE;
	pthread_mutex_unlock(&srv->lock);
	set_rebuild(srv);
	if (send(c->fd, &r, sizeof(r), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(r))
		return -EPIPE;
	return 0;
}

/* ---- monitor ---------------------------------------------------------------- */

static void monitor_accept(struct uk_ring_server *srv)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct ring_conn *c;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->region_fd = -1;
	c->state = CONN_HELLO;
	atomic_init(&c->refs, 1);
	pthread_mutex_lock(&srv->lock);
	if (srv->nclients >= srv->o.max_clients) {
		pthread_mutex_unlock(&srv->lock);
		refuse(srv, c, EUSERS, "too many clients (%u)",
		       srv->o.max_clients);
		close(fd);
		free(c);
		return;
	}
	c->next = srv->conn_all;
	srv->conn_all = c;
	srv->nclients++;
	pthread_mutex_unlock(&srv->lock);
	ev.data.u64 = (uint64_t)(uintptr_t)c | EV_CONN;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_close(srv, c);
}

static void monitor_conn(struct uk_ring_server *srv, struct ring_conn *c,
			 uint32_t events)
{
	int ret = -EPIPE;

	if (events & EPOLLIN) {
		switch (c->state) {
		case CONN_HELLO:
			ret = conn_hello(srv, c);
			break;
		case CONN_MAPPED:
			ret = conn_mapped(srv, c);
			break;
		default:
			/* Nothing is sent after the handshake: EOF or junk. */
			ret = -EPIPE;
			break;
		}
		if (!ret && !(events & (EPOLLHUP | EPOLLRDHUP)))
			return;
	}
	conn_close(srv, c);
}

static void *monitor_main(void *arg)
{
	struct uk_ring_server *srv = arg;
	struct epoll_event evs[32];

	for (;;) {
		int timeout = srv->nclients ? RING_CLOCK_REFRESH_MS : -1;
		int n = epoll_wait(srv->epfd, evs, 32, timeout);

		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0) {
			uk_ring_clock_refresh(srv->gvvar);
			forks_reap(srv); /* children that exited unconnected */
			continue;
		}
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			void *p = (void *)(uintptr_t)(d & ~3ull);

			switch ((enum ring_ev_type)(d & 3)) {
			case EV_STOP:
				return NULL;
			case EV_LISTEN:
				monitor_accept(srv);
				break;
			case EV_CONN:
				monitor_conn(srv, p, evs[i].events);
				break;
			case EV_PIDFD:
				task_died(srv, p);
				break;
			}
		}
	}
	return NULL;
}

/* ---- executing a slot --------------------------------------------------------- */

static bool nr_changes_ids(int64_t nr)
{
	switch (nr) {
	case SYS_setuid: case SYS_setgid: case SYS_setreuid:
	case SYS_setregid: case SYS_setresuid: case SYS_setresgid:
	case SYS_setfsuid: case SYS_setfsgid: case SYS_setgroups:
		return true;
	default:
		return false;
	}
}

/* The worker's transfer buffer (see ring_mm.c), made on first use. */
static __thread struct ring_xfer worker_xfer;
/*
 * The last request this worker served came with YIELD: its client shares
 * our CPU, and it can publish the next one only while we are off it.
 */
static __thread bool worker_client_yields;

/*
 * Requests in a row that came with YIELD before the poller moves to
 * another CPU, and how often it may move at most.
 */
#define RING_MOVE_AFTER 16u
#define RING_MOVE_EVERY_NS (10ull * 1000 * 1000)

static __thread unsigned int worker_yield_run;
static __thread uint64_t worker_moved_ns;

/*
 * The client we serve sits on our CPU (its requests come with YIELD), so
 * every call is two context switches (~12 us here) instead of a hand-off
 * between two spinning CPUs (~0.6 us). The scheduler does not part us by
 * itself: wake-ups put the poller next to its waker, and two tasks that
 * yield to each other look cache-hot to the load balancer, so they stay
 * together for good, most often when other load keeps the second CPU
 * busy (a stat through the shim then took 20-30 us instead of 2). So the
 * poller moves itself to another CPU it may run on: a one-CPU affinity to
 * get there, then its old mask back (so the scheduler stays free to move
 * it later; only the thread moves, never the client). At most once per
 * RING_MOVE_EVERY_NS, after RING_MOVE_AFTER YIELD requests in a row;
 * nothing happens when the mask holds only this CPU. Counted in moves.
 */
static void poller_part(struct uk_ring_server *srv)
{
	cpu_set_t mask, one;
	int cpu, next = -1;
	uint64_t now;

	if (++worker_yield_run < RING_MOVE_AFTER)
		return;
	worker_yield_run = 0;
	now = uk_mono_ns();
	if (worker_moved_ns && now - worker_moved_ns < RING_MOVE_EVERY_NS)
		return;
	worker_moved_ns = now;
	cpu = sched_getcpu();
	if (cpu < 0 || sched_getaffinity(0, sizeof(mask), &mask))
		return;
	for (int k = 1; k < CPU_SETSIZE && next < 0; k++) {
		int c = (cpu + k) % CPU_SETSIZE;

		if (CPU_ISSET(c, &mask))
			next = c;
	}
	if (next < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(next, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return;
	sched_setaffinity(0, sizeof(mask), &mask);
	atomic_fetch_add_explicit(&srv->st_moves, 1, memory_order_relaxed);
}

static long exec_one(struct uk_ring_server *srv, struct ring_call *c,
		     const struct uk_ring_req *r)
{
	struct ring_task *rt = c->rt;
	long ret;

	/* The server's own requests: one unsigned compare on the hot path. */
	if (uk_unlikely((uint64_t)r->nr - UK_RING_NR_PRIVATE <
			UK_RING_NR_PRIVATE_END - UK_RING_NR_PRIVATE)) {
		if (r->nr == UK_RING_NR_FORK_PREPARE)
			return fork_prepare(srv, rt, (pid_t)r->args[0]);
		if (r->nr == UK_RING_NR_FORK_DONE)
			return fork_done(srv, rt, r->args[0]);
		return -ENOSYS;
	}
	ret = srv->kops.dispatch(rt->task, (unsigned long)r->nr,
				 (const unsigned long *)r->args);
	/* The last chunk of a stream goes out before DONE. */
	if (c->bulk)
		uk_ring_bulk_flush(c);
	/* Deliver what was written behind; if that faults, so did the call. */
	if (c->x && uk_ring_xfer_flush(c) && ret >= 0)
		ret = -EFAULT;
	if (nr_changes_ids(r->nr))
		uk_ring_publish_ids(rt);
	return ret;
}

/*
 * The stream of slot i's call (uk_ring_abi.h): the buffer's address and
 * length are read once; a range that wraps or is not a user address only
 * never matches a copy. Returns k, or NULL when the flags make no sense.
 */
static struct ring_bulk_call *bulk_start(struct ring_conn *c, unsigned int i,
					 uint32_t flags,
					 struct ring_bulk_call *k)
{
	struct uk_ring_bulk *b = uk_ring_bulk_at(c->region, i);

	if ((flags & UK_SLOT_BULK_OUT) && (flags & UK_SLOT_BULK_IN))
		return NULL;
	memset(k, 0, sizeof(*k));
	k->b = b;
	k->win = uk_ring_window_at(c->region, i);
	k->state = &uk_ring_slot_at(c->region, i)->state;
	k->addr = __atomic_load_n(&b->addr, __ATOMIC_RELAXED);
	k->len = __atomic_load_n(&b->len, __ATOMIC_RELAXED);
	k->out = flags & UK_SLOT_BULK_OUT;
	if (k->addr + k->len < k->addr || k->addr + k->len > (1ull << 47))
		return NULL;
	return k;
}

/*
 * Serves slot i of connection c, which the caller took (REQ -> BUSY).
 * Copies the request (or the batch) out of the region once, dispatches,
 * writes the results back, completes the slot and wakes its client if it
 * sleeps. The caller holds a reference on c.
 */
static void serve_slot(struct uk_ring_server *srv, struct ring_conn *c,
		       unsigned int i)
{
	struct uk_ring_slot *s = uk_ring_slot_at(c->region, i);
	struct ring_call call = {
		.rt = c->rt,
		.win = s->data,
		.cwin = c->client_base + (uint64_t)(s->data -
						    (unsigned char *)c->region),
		.len = UK_RING_DATA_SIZE,
	};
	struct uk_ring_req reqs[UK_RING_BATCH_MAX];
	struct ring_bulk_call bulk;
	uint32_t flags, count, old;
	bool may_sleep;

	if (!worker_xfer.buf)
		worker_xfer.buf = malloc(RING_XFER_BUF);
	if (worker_xfer.buf)
		call.x = &worker_xfer;

	/* One fetch of everything the client wrote, into private memory. */
	flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
	count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
	if (flags & UK_SLOT_BATCH) {
		if (count == 0 || count > UK_RING_BATCH_MAX) {
			atomic_fetch_add(&srv->st_bad, 1);
			count = 0;
		} else {
			memcpy(reqs, s->data, count * sizeof(reqs[0]));
		}
	} else {
		reqs[0].nr = __atomic_load_n(&s->nr, __ATOMIC_RELAXED);
		memcpy(reqs[0].args, s->args, sizeof(reqs[0].args));
		count = 1;
		if (flags & (UK_SLOT_BULK_OUT | UK_SLOT_BULK_IN))
			call.bulk = bulk_start(c, i, flags, &bulk);
	}
	/* Compiler barrier: the handlers see only the private copy. */
	atomic_signal_fence(memory_order_seq_cst);

	uk_ring_cur_call = &call;
	/*
	 * Only a lock call sleeps in the kernel (docs/locks.md): the others
	 * skip the two indirect calls. A batch may hold one.
	 */
	may_sleep = srv->kops.set_intr &&
		    ((flags & UK_SLOT_BATCH) || reqs[0].nr == SYS_fcntl ||
		     reqs[0].nr == SYS_flock);
	if (may_sleep)
		srv->kops.set_intr(&c->intr[i]);
	if (!count) {
		__atomic_store_n(&s->result, -EINVAL, __ATOMIC_RELAXED);
	} else if (flags & UK_SLOT_BATCH) {
		struct uk_ring_req *out = (struct uk_ring_req *)s->data;

		for (uint32_t j = 0; j < count; j++) {
			long ret = exec_one(srv, &call, &reqs[j]);

			__atomic_store_n(&out[j].result, ret, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&s->result, (int64_t)count,
				 __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&s->result, exec_one(srv, &call, &reqs[0]),
				 __ATOMIC_RELAXED);
	}
	if (may_sleep)
		srv->kops.set_intr(NULL);
	uk_ring_cur_call = NULL;
	atomic_fetch_add_explicit(&srv->st_calls, count ? count : 1,
				  memory_order_relaxed);

	/*
	 * Release: the results are visible before DONE. The exchange also
	 * reads the flags the client added while we worked, atomically with
	 * publishing DONE, so a client that went to sleep is always woken.
	 */
	old = atomic_exchange_explicit(&s->state, UK_SLOT_DONE,
				       memory_order_acq_rel);
	if (old & UK_SLOT_WAITER)
		futex_wake_n(&s->state, INT_MAX, false);
	worker_client_yields = old & UK_SLOT_YIELD;
	if (old & UK_SLOT_YIELD) {
		poller_part(srv);
		sched_yield(); /* the client shares our CPU: let it run */
	} else {
		worker_yield_run = 0;
	}
}

/* Takes slot i (REQ -> BUSY) if it holds a request; false otherwise. */
static bool take_slot(struct ring_conn *c, unsigned int i)
{
	struct uk_ring_slot *s = uk_ring_slot_at(c->region, i);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);

	/* A client adding WAITER/YIELD may make the CAS fail: retry a bit. */
	for (int tries = 0; tries < 4; tries++) {
		uint32_t busy = UK_SLOT_BUSY | (st & ~UK_SLOT_STATE_MASK);

		if ((st & UK_SLOT_STATE_MASK) != UK_SLOT_REQ)
			return false;
		/* Acquire: the request fields are read after this. */
		if (atomic_compare_exchange_strong_explicit(
			    &s->state, &st, busy, memory_order_acquire,
			    memory_order_acquire))
			return true;
	}
	return false;
}

/*
 * The client asks for the interrupt of the calls whose bits it set in the
 * header's intr mask (it set UK_SLOT_INTR in their state first): wake
 * each such call that a worker runs (BUSY) from an interruptible sleep.
 * A bit without the flag, or on a slot that runs nothing, does nothing;
 * and the kernel checks the flag again under its own lock, so a call that
 * ended meanwhile cannot pass the interrupt to the slot's next call (DONE
 * erased the flag). Poller only; the caller holds the scan set.
 */
static void conn_intr_pass(struct uk_ring_server *srv, struct ring_conn *c)
{
	struct uk_ring_header *h = c->region;
	/* Acquire: the client's INTR stores come before its bits. */
	uint64_t mask = atomic_exchange_explicit(&h->intr, 0,
						 memory_order_acquire);

	while (mask && srv->kops.intr_wake) {
		unsigned int i = (unsigned int)__builtin_ctzll(mask);
		uint32_t st = atomic_load_explicit(
			&uk_ring_slot_at(c->region, i)->state,
			memory_order_relaxed);

		mask &= mask - 1;
		if ((st & UK_SLOT_STATE_MASK) == UK_SLOT_BUSY &&
		    (st & UK_SLOT_INTR))
			srv->kops.intr_wake(&c->intr[i]);
	}
}

/*
 * Interrupts every call of c in flight, as SIGKILL ends a process's
 * sleeping calls: the connection closed (the client is gone or the server
 * stops), so nobody will read their results, and a lock request asleep
 * for a dead client would hold its worker and its task until the lock
 * came free, or for good. The region is ours to write now.
 */
static void conn_intr_all(struct uk_ring_server *srv, struct ring_conn *c)
{
	if (!srv->kops.intr_wake || !c->region)
		return;
	for (unsigned int i = 0; i < UK_RING_NSLOTS; i++) {
		_Atomic uint32_t *w = &uk_ring_slot_at(c->region, i)->state;
		uint32_t st = atomic_load(w);

		while ((st & UK_SLOT_STATE_MASK) == UK_SLOT_BUSY &&
		       !(st & UK_SLOT_INTR) &&
		       !atomic_compare_exchange_weak(w, &st,
						     st | UK_SLOT_INTR))
			;
		if ((st & UK_SLOT_STATE_MASK) == UK_SLOT_BUSY)
			srv->kops.intr_wake(&c->intr[i]);
	}
}

/* ---- poller --------------------------------------------------------------------- */

static void epoch_enter(struct uk_ring_server *srv, struct ring_worker *w)
{
	/* seq_cst store then load of set: see epoch_sync(). */
	atomic_store(&w->epoch_seen, atomic_load(&srv->epoch));
}

static void epoch_exit(struct ring_worker *w)
{
	/* Release: our reads through the set are done before we say so. */
	atomic_store_explicit(&w->epoch_seen, 0, memory_order_release);
}

static void set_awake(struct ring_conn_set *set, uint32_t v, int cpu)
{
	for (unsigned int i = 0; i < set->n; i++) {
		struct uk_ring_header *h = set->c[i]->region;

		atomic_store_explicit(&h->poller_cpu, cpu,
				      memory_order_relaxed);
		atomic_store(&h->awake, v);
	}
}

/*
 * One pass over every client, starting after the last one served: at most
 * one request per client, so no client can starve another. Returns true
 * when it served something.
 */
static bool poll_pass(struct uk_ring_server *srv, struct ring_worker *w,
		      struct ring_conn_set **seen, int *cpu)
{
	struct ring_conn_set *set;
	bool served = false;
	int now_cpu = sched_getcpu(); /* rseq: a load, no syscall */

	epoch_enter(srv, w);
	set = atomic_load(&srv->set);
	if (set != *seen || now_cpu != *cpu) {
		/* New clients learn that a poller is awake, and where. */
		set_awake(set, 1, now_cpu);
		*seen = set;
		*cpu = now_cpu;
	}
	for (unsigned int j = 0; j < set->n; j++) {
		unsigned int ci = (srv->rr + j) % set->n;
		struct ring_conn *c = set->c[ci];
		struct uk_ring_header *h = c->region;
		uint64_t mask;

		/* Same line as ready: no extra miss on the hot path. */
		if (uk_unlikely(atomic_load_explicit(&h->intr,
						     memory_order_relaxed)))
			conn_intr_pass(srv, c);
		if (!atomic_load_explicit(&h->ready, memory_order_relaxed))
			continue;
		mask = atomic_exchange_explicit(&h->ready, 0,
						memory_order_acquire);
		for (unsigned int k = 0; k < UK_RING_NSLOTS && mask; k++) {
			unsigned int i = (c->rr_slot + k) % UK_RING_NSLOTS;

			if (!(mask & (1ull << i)))
				continue;
			mask &= ~(1ull << i);
			if (!take_slot(c, i))
				continue;
			/* Others stay announced for the next pass. */
			if (mask)
				atomic_fetch_or(&h->ready, mask);
			c->rr_slot = i + 1;
			srv->rr = ci + 1;
			conn_get(c);
			epoch_exit(w);
			atomic_store(&w->exec_start, uk_rdtsc() | 1);
			serve_slot(srv, c, i);
			atomic_store(&w->exec_start, 0);
			conn_put(c);
			return true;
		}
	}
	epoch_exit(w);
	return served;
}

/*
 * The poller goes to sleep on every region's doorbell. Dekker with the
 * client: we clear awake, full barrier, look at every ready mask; the
 * client sets its ready bit, full barrier, reads awake. One of us sees the
 * other's store, so a request is never left with nobody awake. Doorbell
 * values are read before awake is cleared, so a ring after that makes
 * futex_waitv return at once.
 */
static void poller_sleep(struct uk_ring_server *srv, struct ring_worker *w,
			 struct ring_conn_set **seen)
{
	struct futex_waitv fw[RING_CLIENTS_LIMIT + 1];
	struct ring_conn_set *set;
	unsigned int n;
	uint32_t ctl = atomic_load(&srv->ctl_word);
	bool work = false;

	epoch_enter(srv, w);
	set = atomic_load(&srv->set);
	n = set->n < RING_CLIENTS_LIMIT ? set->n : RING_CLIENTS_LIMIT;
	memset(fw, 0, sizeof(fw));
	fw[0].uaddr = (uint64_t)(uintptr_t)&srv->ctl_word;
	fw[0].val = ctl;
	fw[0].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
	for (unsigned int i = 0; i < n; i++) {
		struct uk_ring_header *h = set->c[i]->region;

		fw[i + 1].uaddr = (uint64_t)(uintptr_t)&h->doorbell;
		fw[i + 1].val = atomic_load(&h->doorbell);
		fw[i + 1].flags = FUTEX_32;
	}
	atomic_store(&srv->poller_asleep, 1);
	set_awake(set, 0, -1);
	/* Full barrier: the awake = 0 stores before the ready loads. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned int i = 0; i < set->n && !work; i++) {
		struct uk_ring_header *h = set->c[i]->region;

		work = atomic_load(&h->ready) != 0 ||
		       atomic_load(&h->intr) != 0;
	}
	epoch_exit(w);
	if (!work && !atomic_load(&srv->stopping) &&
	    atomic_load(&srv->poller) == w->id)
		syscall(SYS_futex_waitv, fw, n + 1, 0, NULL, CLOCK_MONOTONIC);
	atomic_fetch_add_explicit(&srv->st_wakeups, 1, memory_order_relaxed);
	atomic_store(&srv->poller_asleep, 0);
	/* Force set_awake(1) on the next pass. */
	*seen = NULL;
}

/*
 * The poller's loop: scan, serve, spin while traffic flows (pause, a
 * sched_yield every yield_ticks without work so that a client sharing our
 * CPU can run), sleep after idle_ticks without work. Returns when another
 * worker took the role (rescue) or when stopping and drained.
 */
static void poll_loop(struct uk_ring_server *srv, struct ring_worker *w)
{
	struct ring_conn_set *seen = NULL;
	uint64_t last = uk_rdtsc(), yielded = last;
	bool kick = true;
	int cpu = -1;

	while (atomic_load_explicit(&srv->poller, memory_order_relaxed) ==
	       w->id) {
		uint64_t now;
		bool served;

		/*
		 * Awake again: the watchdog starts watching. Before serving
		 * anything, since the call that woke us may be the one that
		 * blocks (it costs the wake-up path one futex_wake).
		 */
		if (kick) {
			ring_kick(&srv->watch_word, 1);
			kick = false;
		}
		served = poll_pass(srv, w, &seen, &cpu);
		if (served) {
			last = yielded = uk_rdtsc();
			continue;
		}
		if (atomic_load(&srv->stopping))
			break; /* nothing left to serve */
		now = uk_rdtsc();
		if (now - last > srv->idle_ticks) {
			poller_sleep(srv, w, &seen);
			last = yielded = uk_rdtsc();
			kick = true;
		} else if (now - yielded > srv->yield_ticks ||
			   worker_client_yields) {
			/*
			 * Also at once when our last client shares our CPU:
			 * spinning could only keep it from its next request
			 * (on a loaded CPU the yield came back to us before
			 * the client ran; it still has to).
			 */
			sched_yield();
			yielded = uk_rdtsc();
		} else {
			uk_cpu_relax();
		}
	}
	if (atomic_load(&srv->stopping)) {
		int me = w->id;

		atomic_compare_exchange_strong(&srv->poller, &me, -1);
	}
}

/* ---- standby --------------------------------------------------------------- */

static int spawn_worker(struct uk_ring_server *srv);

/*
 * The watchdog's check: the poller has been in one call longer than
 * rescue_ticks, so take its role (it becomes a standby when the call
 * returns) and add a worker so that a spare remains.
 */
static bool try_rescue(struct uk_ring_server *srv, struct ring_worker *w)
{
	int p = atomic_load(&srv->poller);
	uint64_t t0;

	if (p < 0 || p == w->id)
		return false;
	t0 = atomic_load(&srv->workers[p].exec_start);
	if (!t0 || uk_rdtsc() - t0 < srv->rescue_ticks)
		return false;
	if (!atomic_compare_exchange_strong(&srv->poller, &p, w->id))
		return false;
	atomic_fetch_add(&srv->st_rescues, 1);
	spawn_worker(srv);
	return true;
}

static void standby(struct uk_ring_server *srv, struct ring_worker *w)
{
	int none = -1;

	while (!atomic_load(&srv->stopping) && atomic_load(&srv->poller) >= 0) {
		none = -1;
		if (atomic_load(&srv->watchdog) == w->id ||
		    atomic_compare_exchange_strong(&srv->watchdog, &none,
						   w->id)) {
			uint32_t gen = atomic_load(&srv->watch_word);
			struct timespec ts = {
				0, (long)srv->o.rescue_us * 1000
			};

			futex_wait_shared(&srv->watch_word, gen,
					  atomic_load(&srv->poller_asleep) ?
						  NULL :
						  &ts,
					  true);
			if (try_rescue(srv, w)) {
				atomic_store(&srv->watchdog, -1);
				ring_kick(&srv->pool_word, 1);
				return;
			}
		} else {
			uint32_t gen = atomic_load(&srv->pool_word);

			if (atomic_load(&srv->watchdog) >= 0)
				futex_wait_shared(&srv->pool_word, gen, NULL,
						  true);
		}
	}
	none = w->id;
	atomic_compare_exchange_strong(&srv->watchdog, &none, -1);
}

static void *worker_main(void *arg)
{
	struct ring_worker *w = arg;
	struct uk_ring_server *srv = w->srv;

	for (;;) {
		int none = -1;

		if (atomic_load(&srv->poller) == w->id ||
		    atomic_compare_exchange_strong(&srv->poller, &none, w->id))
			poll_loop(srv, w);
		else if (!atomic_load(&srv->stopping))
			standby(srv, w);
		if (atomic_load(&srv->stopping) &&
		    atomic_load(&srv->poller) != w->id)
			break;
	}
	free(worker_xfer.buf);
	worker_xfer.buf = NULL;
	return NULL;
}

/* Adds a worker thread if below max_workers. Returns 0 or -errno. */
static int spawn_worker(struct uk_ring_server *srv)
{
	struct ring_worker *w;
	int n, ret = 0;

	pthread_mutex_lock(&srv->lock);
	n = atomic_load(&srv->nworkers);
	if ((unsigned int)n >= srv->o.max_workers) {
		ret = -EAGAIN;
		goto out_unlock;
	}
	w = &srv->workers[n];
	w->srv = srv;
	w->id = n;
	ret = -pthread_create(&w->thread, NULL, worker_main, w);
	if (!ret)
		atomic_store(&srv->nworkers, n + 1);
out_unlock:
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

/* ---- start / stop ------------------------------------------------------------ */

int uk_ring_default_socket_path(const char *name, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!name || !*name)
		name = "default";
	if (xdg && *xdg)
		n = snprintf(buf, len, "%s/ukernel/%s.sock", xdg, name);
	else
		n = snprintf(buf, len, "/tmp/ukernel-%u/%s.sock",
			     (unsigned int)getuid(), name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

/*
 * The socket's directory: created 0700 when missing; an existing one must
 * be ours and not writable by others (else someone could swap the socket).
 */
static int make_socket_dir(const char *path, bool shared)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, shared ? 0711 : 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != getuid() && st.st_uid != 0)
		return -EPERM;
	if (shared && st.st_uid == getuid() && (st.st_mode & 0777) == 0700)
		chmod(dir, 0711);
	return 0;
}

static int listen_on(struct uk_ring_server *srv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	bool shared = srv->o.n_allow_uids > 0;
	mode_t mode = srv->o.socket_mode ? srv->o.socket_mode :
			 shared ? 0666 : 0600;
	int fd, ret;

	ret = make_socket_dir(srv->path, shared);
	if (ret)
		return ret;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", srv->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(srv->path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    chmod(srv->path, mode) < 0 || listen(fd, 128) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	srv->listen_fd = fd;
	return 0;
}

static void opts_defaults(struct uk_ring_server_opts *o)
{
	if (!o->min_workers)
		o->min_workers = 2;
	if (!o->max_workers)
		o->max_workers = 8;
	if (o->max_workers > RING_WORKERS_LIMIT)
		o->max_workers = RING_WORKERS_LIMIT;
	if (o->min_workers > o->max_workers)
		o->min_workers = o->max_workers;
	if (!o->max_clients || o->max_clients > RING_CLIENTS_LIMIT)
		o->max_clients = RING_CLIENTS_LIMIT;
	if (!o->idle_us)
		o->idle_us = 200;
	if (!o->rescue_us)
		o->rescue_us = 1000;
	if (o->n_allow_uids > UK_RING_MAX_ALLOW)
		o->n_allow_uids = UK_RING_MAX_ALLOW;
}

static int epoll_add(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

struct uk_ring_server *
uk_ring_server_start_ops(struct uk_kernel *k,
			 const struct uk_ring_kernel_ops *kops,
			 const struct uk_ring_server_opts *o)
{
	struct uk_ring_server *srv;
	int ret;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return ERR_PTR(-ENOMEM);
	srv->k = k;
	srv->kops = *kops;
	if (o)
		srv->o = *o;
	opts_defaults(&srv->o);
	srv->uid = getuid();
	srv->listen_fd = srv->epfd = srv->stop_fd = srv->gvvar_fd = -1;
	atomic_init(&srv->poller, -1);
	atomic_init(&srv->watchdog, -1);
	atomic_init(&srv->epoch, 1);
	pthread_mutex_init(&srv->lock, NULL);
	if (srv->o.socket_path)
		ret = snprintf(srv->path, sizeof(srv->path), "%s",
			       srv->o.socket_path) >= (int)sizeof(srv->path) ?
			      -ENAMETOOLONG :
			      0;
	else
		ret = uk_ring_default_socket_path("default", srv->path,
						  sizeof(srv->path));
	if (ret < 0)
		goto err_free;

	ret = -ENOMEM;
	srv->set = calloc(1, sizeof(struct ring_conn_set));
	if (!srv->set)
		goto err_free;
	ret = uk_ring_vvar_create("ukernel-vvar", UK_VVAR_GLOBAL_SIZE,
				  (void **)&srv->gvvar);
	if (ret < 0)
		goto err_set;
	srv->gvvar_fd = ret;
	uk_ring_clock_init(srv->gvvar);
	srv->hz = srv->gvvar->tsc_hz ? srv->gvvar->tsc_hz : 2000000000ull;
	srv->idle_ticks = srv->hz / 1000000 * srv->o.idle_us;
	srv->yield_ticks = srv->hz / 1000000 * 20;
	srv->rescue_ticks = srv->hz / 1000000 * srv->o.rescue_us;

	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (srv->epfd < 0 || srv->stop_fd < 0) {
		ret = -errno;
		goto err_fds;
	}
	ret = listen_on(srv);
	if (ret)
		goto err_fds;
	ret = epoll_add(srv->epfd, srv->listen_fd, EV_LISTEN);
	if (!ret)
		ret = epoll_add(srv->epfd, srv->stop_fd, EV_STOP);
	if (ret)
		goto err_listen;
	for (unsigned int i = 0; i < srv->o.min_workers; i++) {
		ret = spawn_worker(srv);
		if (ret)
			goto err_workers;
	}
	/* The vvar's change counters follow every change from now on. */
	if (srv->kops.watch) {
		ret = srv->kops.watch(k, srv, &srv->watch);
		if (ret)
			goto err_workers;
	}
	ret = -pthread_create(&srv->monitor, NULL, monitor_main, srv);
	if (ret)
		goto err_watch;
	return srv;

err_watch:
	if (srv->watch)
		srv->kops.unwatch(k, srv->watch);

err_workers:
	atomic_store(&srv->stopping, true);
	ring_kick(&srv->ctl_word, INT_MAX);
	ring_kick(&srv->watch_word, INT_MAX);
	ring_kick(&srv->pool_word, INT_MAX);
	for (int i = 0; i < atomic_load(&srv->nworkers); i++)
		pthread_join(srv->workers[i].thread, NULL);
err_listen:
	close(srv->listen_fd);
	unlink(srv->path);
err_fds:
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	munmap(srv->gvvar, UK_VVAR_GLOBAL_SIZE);
	close(srv->gvvar_fd);
err_set:
	free(srv->set);
err_free:
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return ERR_PTR(ret);
}

void uk_ring_server_stop(struct uk_ring_server *srv)
{
	uint64_t one = 1;
	struct ring_task *rt;

	/*
	 * No more counter updates (another front-end may still change files):
	 * the global vvar goes away below.
	 */
	if (srv->watch)
		srv->kops.unwatch(srv->k, srv->watch);
	/* Stop accepting: the monitor returns, the socket goes. */
	if (write(srv->stop_fd, &one, sizeof(one)) < 0)
		ring_log(srv, "stop: eventfd write: %s", strerror(errno));
	pthread_join(srv->monitor, NULL);
	close(srv->listen_fd);
	unlink(srv->path);

	/*
	 * Serve what is published, then the workers leave; a call asleep in
	 * a lock would keep its worker for good, so those end with -EINTR
	 * (the monitor is gone: conn_all holds still).
	 */
	for (struct ring_conn *c = srv->conn_all; c; c = c->next)
		conn_intr_all(srv, c);
	atomic_store(&srv->stopping, true);
	ring_kick(&srv->ctl_word, INT_MAX);
	ring_kick(&srv->watch_word, INT_MAX);
	ring_kick(&srv->pool_word, INT_MAX);
	for (int i = 0; i < atomic_load(&srv->nworkers); i++)
		pthread_join(srv->workers[i].thread, NULL);

	/* Every client learns that the server is gone. */
	while (srv->conn_all)
		conn_close(srv, srv->conn_all);
	pthread_mutex_lock(&srv->lock);
	rt = srv->tasks;
	srv->tasks = NULL;
	pthread_mutex_unlock(&srv->lock);
	while (rt) {
		struct ring_task *next = rt->next;

		rt->in_table = false;
		rt_put(rt);
		rt = next;
	}
	forks_free(srv, srv->forks);
	srv->forks = NULL;
	free(atomic_load(&srv->set));
	close(srv->epfd);
	close(srv->stop_fd);
	munmap(srv->gvvar, UK_VVAR_GLOBAL_SIZE);
	close(srv->gvvar_fd);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

void uk_ring_inode_changed(struct uk_ring_server *srv, uint64_t dev,
			   uint64_t ino)
{
	/* Release: the change is visible before the counter moves. */
	atomic_fetch_add_explicit(
		&srv->gvvar->counters[uk_vvar_inode_hash(dev, ino)], 1,
		memory_order_release);
}

void uk_ring_server_get_stats(struct uk_ring_server *srv,
			      struct uk_ring_server_stats *st)
{
	unsigned int ntasks = 0;

	st->calls = atomic_load(&srv->st_calls);
	st->wakeups = atomic_load(&srv->st_wakeups);
	st->rescues = atomic_load(&srv->st_rescues);
	st->moves = atomic_load(&srv->st_moves);
	st->bad_requests = atomic_load(&srv->st_bad);
	pthread_mutex_lock(&srv->lock);
	st->clients = srv->nclients;
	for (struct ring_task *rt = srv->tasks; rt; rt = rt->next)
		ntasks++;
	st->tasks = ntasks;
	st->forks = srv->nforks;
	pthread_mutex_unlock(&srv->lock);
	st->workers = (unsigned int)atomic_load(&srv->nworkers);
}

/* ---- test hooks ---------------------------------------------------------------- */

static struct ring_task *task_lookup(struct uk_ring_server *srv, pid_t pid)
{
	struct ring_task *rt;

	pthread_mutex_lock(&srv->lock);
	rt = task_find_locked(srv, pid);
	pthread_mutex_unlock(&srv->lock);
	return rt;
}

struct uk_vvar_task *uk_ring_server_task_vvar(struct uk_ring_server *srv,
					      pid_t pid)
{
	struct ring_task *rt = task_lookup(srv, pid);

	return rt ? rt->vvar : NULL;
}

struct uk_task *uk_ring_server_task(struct uk_ring_server *srv, pid_t pid)
{
	struct ring_task *rt = task_lookup(srv, pid);

	return rt ? rt->task : NULL;
}

struct uk_vvar_global *uk_ring_server_global_vvar(struct uk_ring_server *srv)
{
	return srv->gvvar;
}
