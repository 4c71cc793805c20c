// SPDX-License-Identifier: MIT
/*
 * shim/client.c - the ring client: connects to ukerneld (handshake, maps
 * the region and the vvar areas), claims a slot per thread without a lock,
 * copies small payloads into the slot's data area (a table of the calls it
 * knows), publishes requests, wakes the daemon only when no poller is
 * awake, and waits for the answer: spinning while the daemon answers fast,
 * yielding when it seems to share our CPU, sleeping on a futex otherwise.
 *
 * The call path is async-signal-safe: atomics, futex and plain syscalls;
 * no malloc, no mutex (pthread_setspecific at a thread's first call only).
 *
 * Sections: state, connect, slots, marshalling, the call, public API.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"

/* ---- state ------------------------------------------------------------------- */

struct uk_client uk_client = { .fd = -1 };

static char connect_err[160];
static pthread_key_t slot_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_bool reconnect_pending; /* set in a forked child */
/*
 * The fork protocol (docs/ring.md): the token of the task the daemon made
 * for our child at FORK_PREPARE, per forking thread; the child keeps its
 * copy in child_fork_token until its first connection presents it.
 */
static __thread uint64_t th_fork_token;
static uint64_t child_fork_token;

/* This thread's slot: valid while gen matches uk_client.gen. */
static __thread struct {
	struct uk_ring_slot *slot;
	unsigned int idx;
	uint32_t gen;
	int depth;             /* calls in progress (a signal handler nests) */
	unsigned int oversub;  /* recent calls found the daemon off-CPU */
} th;

/* ---- connect ------------------------------------------------------------------ */

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(connect_err, sizeof(connect_err), fmt, ap);
	va_end(ap);
}

int uk_default_socket_path(char *buf, size_t len)
{
	const char *env = getenv("UKERNEL_SOCKET");
	const char *name = getenv("UKERNEL_NAME");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!name || !*name)
		name = "default";
	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/ukernel/%s.sock", xdg, name);
	else
		n = snprintf(buf, len, "/tmp/ukernel-%u/%s.sock",
			     (unsigned int)getuid(), name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

static void slot_release_at_exit(void *v);
static void client_atfork_prepare(void);
static void client_atfork_parent(void);
static void client_atfork_child(void);

static void init_once(void)
{
	pthread_key_create(&slot_key, slot_release_at_exit);
	pthread_atfork(client_atfork_prepare, client_atfork_parent,
		       client_atfork_child);
}

/* Undoes a connection's mappings and socket (no state change). */
static void client_unmap(void)
{
	if (uk_client.region)
		munmap(uk_client.region, UK_RING_REGION_SIZE);
	if (uk_client.tv)
		munmap((void *)uk_client.tv, UK_VVAR_TASK_SIZE);
	if (uk_client.gv)
		munmap((void *)uk_client.gv, UK_VVAR_GLOBAL_SIZE);
	if (uk_client.fd >= 0)
		close(uk_client.fd);
	uk_client.region = NULL;
	uk_client.hdr = NULL;
	uk_client.tv = NULL;
	uk_client.gv = NULL;
	uk_client.fd = -1;
}

/* Receives the welcome and up to three fds. Returns 0 or -errno. */
static int recv_welcome(int fd, struct uk_ring_welcome *w, int fds[3],
			int *nfds)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { w, sizeof(*w) };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			if (k > 3)
				k = 3;
			memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
			*nfds = k;
		}
	}
	if (n != (ssize_t)sizeof(*w))
		return -EPROTO;
	return 0;
}

static int xfer(int fd, void *buf, size_t len, bool out)
{
	ssize_t n;

	do
		n = out ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EPROTO;
}

/*
 * The handshake (see uk_ring_abi.h). On success the client is READY and
 * its gen moved on; returns 0 or -errno with connect_err set.
 */
static int client_connect(const char *path, unsigned int flags)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct uk_ring_hello h = {
		.magic = UK_RING_MAGIC,
		.version = UK_RING_VERSION,
		.flags = flags,
		.fork_token = child_fork_token,
	};
	struct uk_ring_welcome w;
	struct uk_ring_mapped mp = { .magic = UK_RING_MAGIC };
	struct uk_ring_ready r;
	int fds[3] = { -1, -1, -1 }, nfds = 0, fd, ret;
	void *p;

	if (strlen(path) >= sizeof(a.sun_path)) {
		set_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	/* The task our parent registered for us: asked for once only. */
	if (child_fork_token)
		h.flags |= UK_RING_HELLO_FORK;
	child_fork_token = 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	uk_client.fd = fd;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		ret = -errno;
		set_err("connect %s: %s", path, strerror(-ret));
		goto err;
	}
	ret = xfer(fd, &h, sizeof(h), true);
	if (!ret)
		ret = recv_welcome(fd, &w, fds, &nfds);
	if (ret) {
		set_err("handshake with %s failed: %s", path, strerror(-ret));
		goto err;
	}
	if (w.magic != UK_RING_MAGIC) {
		ret = -EPROTO;
		set_err("%s is not a ukernel daemon", path);
		goto err;
	}
	if (w.version != UK_RING_VERSION) {
		ret = -EPROTONOSUPPORT;
		set_err("protocol mismatch: daemon speaks version %u, this "
			"library %u",
			w.version, UK_RING_VERSION);
		goto err;
	}
	if (w.status < 0) {
		ret = w.status;
		w.message[sizeof(w.message) - 1] = 0;
		set_err("refused by the daemon: %s", w.message);
		goto err;
	}
	if (nfds != 3 || w.nslots != UK_RING_NSLOTS ||
	    w.region_size != UK_RING_REGION_SIZE ||
	    w.task_vvar_size != UK_VVAR_TASK_SIZE ||
	    w.global_vvar_size != UK_VVAR_GLOBAL_SIZE) {
		ret = -EPROTO;
		set_err("daemon sent an unexpected region layout");
		goto err;
	}
	p = mmap(NULL, UK_RING_REGION_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fds[0], 0);
	if (p == MAP_FAILED)
		goto err_map;
	uk_client.region = p;
	uk_client.hdr = p;
	p = mmap(NULL, UK_VVAR_TASK_SIZE, PROT_READ, MAP_SHARED, fds[1], 0);
	if (p == MAP_FAILED)
		goto err_map;
	uk_client.tv = p;
	p = mmap(NULL, UK_VVAR_GLOBAL_SIZE, PROT_READ, MAP_SHARED, fds[2], 0);
	if (p == MAP_FAILED)
		goto err_map;
	uk_client.gv = p;
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	nfds = 0;

	mp.region_base = (uint64_t)(uintptr_t)uk_client.region;
	ret = xfer(fd, &mp, sizeof(mp), true);
	if (!ret)
		ret = xfer(fd, &r, sizeof(r), false);
	if (!ret && (r.magic != UK_RING_MAGIC || r.status < 0))
		ret = r.status < 0 ? r.status : -EPROTO;
	if (ret) {
		set_err("handshake with %s failed at the mapping step: %s",
			path, strerror(-ret));
		goto err;
	}
	{
		uint64_t hz = uk_client.gv->tsc_hz ? uk_client.gv->tsc_hz :
						     2000000000ull;

		/* A spinning poller takes a request in ~100 ns; 5 us
		 * without it means it is not on a CPU. */
		uk_client.pickup_ticks = hz / 200000;
		/* Spin while a long call runs (1 MiB pread ~ 200 us). */
		uk_client.spin_ticks = hz / 4000;
	}
	uk_client.pid = getpid();
	atomic_fetch_add(&uk_client.gen, 1);
	return 0;

err_map:
	ret = -errno;
	set_err("mmap of the shared region failed: %s", strerror(-ret));
err:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	client_unmap();
	return ret;
}

/*
 * The default socket path, worked out once, at the first connect that
 * needs it: a relative $UKERNEL_SOCKET is made absolute against the cwd of
 * that moment, so that a later attempt (a process that never connected
 * retries at each virtual call) and a forked child's reconnect reach the
 * same socket after a chdir, and fail (if they do) for the same reason.
 * An absolute form too long for sun_path stays relative. Called under
 * CL_CONNECTING (one thread at a time).
 */
static char resolved[sizeof(uk_client.path)];
static char resolved_from[sizeof(uk_client.path)]; /* the relative form */

static int default_path(char *buf, size_t len)
{
	char abs[sizeof(uk_client.path)], cwd[PATH_MAX];
	int n;

	if (!resolved[0]) {
		n = uk_default_socket_path(resolved, sizeof(resolved));
		if (n < 0) {
			resolved[0] = 0;
			return -1;
		}
		if (resolved[0] != '/' &&
		    syscall(SYS_getcwd, cwd, sizeof(cwd)) > 0 &&
		    cwd[0] == '/' &&
		    snprintf(abs, sizeof(abs), "%s/%s",
			     strcmp(cwd, "/") ? cwd : "", resolved) <
			    (int)sizeof(abs)) {
			memcpy(resolved_from, resolved, sizeof(resolved));
			memcpy(resolved, abs, sizeof(abs));
		}
	}
	if (strlen(resolved) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, resolved);
	return 0;
}

const char *uk_socket_resolved(const char *rel)
{
	/* Written once, under CL_CONNECTING, before any exec can read it. */
	return resolved_from[0] && !strcmp(rel, resolved_from) ? resolved
							      : NULL;
}

static int connect_as(const char *path, unsigned int flags)
{
	int expect = CL_NONE, ret;

	pthread_once(&once, init_once);
	if (!atomic_compare_exchange_strong(&uk_client.state, &expect,
					    CL_CONNECTING)) {
		errno = expect == CL_READY ? EISCONN : EALREADY;
		set_err("already connected");
		return -1;
	}
	if (path != uk_client.path) {
		if (!path) {
			if (default_path(uk_client.path,
					 sizeof(uk_client.path)) < 0)
				goto err_name;
		} else if (snprintf(uk_client.path, sizeof(uk_client.path),
				    "%s", path) >=
			   (int)sizeof(uk_client.path)) {
			goto err_name;
		}
	}
	/* Before the first call: marshal()'s copies need its handler. */
	uk_cl_uaccess_init();
	ret = client_connect(uk_client.path, flags);
	atomic_store(&uk_client.state, ret ? CL_NONE : CL_READY);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return 0;

err_name:
	set_err("socket path too long");
	atomic_store(&uk_client.state, CL_NONE);
	errno = ENAMETOOLONG;
	return -1;
}

int uk_connect_ex(const char *socket_path, unsigned int flags)
{
	return connect_as(socket_path, flags & UK_CONNECT_EXEC);
}

int uk_connect(const char *socket_path)
{
	return uk_connect_ex(socket_path, 0);
}

const char *uk_connect_error(void)
{
	return connect_err;
}

void uk_disconnect(void)
{
	int expect = CL_READY;

	if (!atomic_compare_exchange_strong(&uk_client.state, &expect,
					    CL_CONNECTING))
		return;
	atomic_fetch_add(&uk_client.gen, 1);
	client_unmap();
	uk_client.path[0] = 0;
	atomic_store(&uk_client.state, CL_NONE);
}

/*
 * Before fork(), in the forking thread: the daemon makes the child's task
 * now, a copy of our descriptors as they are at fork(), so that whatever
 * we close afterwards the child still has (a child that has not connected
 * yet connects first, to register its own child from its own table). A
 * failure only loses that: the child then gets a copy of our table as it
 * is at its first call.
 */
static void client_atfork_prepare(void)
{
	long args[6] = { 0 };
	long r;

	th_fork_token = 0;
	if (atomic_load(&uk_client.state) != CL_READY &&
	    !atomic_load(&reconnect_pending))
		return;
	args[0] = (long)syscall(SYS_gettid);
	r = uk_ring_call(UK_RING_NR_FORK_PREPARE, args, false);
	if (r > 0)
		th_fork_token = (uint64_t)r;
}

/* After fork() in the parent: the daemon finds the child, watches it. */
static void client_atfork_parent(void)
{
	long args[6] = { 0 };

	if (!th_fork_token)
		return;
	args[0] = (long)th_fork_token;
	th_fork_token = 0;
	uk_ring_call(UK_RING_NR_FORK_DONE, args, false);
}

/* Only the forking thread lives on: the parent's ring is not ours. */
static void client_atfork_child(void)
{
	uk_vvar_atfork_child();
	th.slot = NULL;
	th.depth = 0;
	child_fork_token = th_fork_token;
	th_fork_token = 0;
	if (atomic_load(&uk_client.state) != CL_READY)
		return;
	atomic_fetch_add(&uk_client.gen, 1);
	client_unmap();
	atomic_store(&uk_client.state, CL_NONE);
	/* uk_client.path stays: the first call reconnects. */
	atomic_store(&reconnect_pending, true);
}

int uk_client_ensure(void)
{
	/* Acquire: the mappings made before READY was stored are visible. */
	int s = atomic_load_explicit(&uk_client.state, memory_order_acquire);

	while (s != CL_READY) {
		if (s == CL_NONE) {
			/* Only a forked child reconnects by itself. */
			if (!atomic_exchange(&reconnect_pending, false))
				return -ENOTCONN;
			if (connect_as(uk_client.path, 0) &&
			    atomic_load(&uk_client.state) != CL_READY)
				return -ENOTCONN;
		} else {
			sched_yield(); /* another thread is connecting */
		}
		s = atomic_load_explicit(&uk_client.state,
					 memory_order_acquire);
	}
	return 0;
}

/* ---- slots ------------------------------------------------------------------------ */

static void slot_release_at_exit(void *v)
{
	(void)v;
	/* Release: our last use of the slot before another thread's claim. */
	if (th.slot && th.gen == atomic_load(&uk_client.gen) &&
	    atomic_load(&uk_client.state) == CL_READY)
		atomic_store_explicit(&th.slot->state, UK_SLOT_FREE,
				      memory_order_release);
	th.slot = NULL;
}

/* Claims a free slot (FREE -> IDLE); -1 when all are taken. */
static int slot_claim(void)
{
	unsigned int start = (unsigned int)(uintptr_t)&th >> 6;

	for (unsigned int k = 0; k < UK_RING_NSLOTS; k++) {
		unsigned int i = (start + k) % UK_RING_NSLOTS;
		struct uk_ring_slot *s = uk_ring_slot_at(uk_client.region, i);
		uint32_t free_st = UK_SLOT_FREE;

		if (atomic_load_explicit(&s->state, memory_order_relaxed) !=
		    UK_SLOT_FREE)
			continue;
		if (atomic_compare_exchange_strong(&s->state, &free_st,
						   UK_SLOT_IDLE))
			return (int)i;
	}
	return -1;
}

/*
 * The slot for this call: the thread's own, claimed on its first call; a
 * temporary one (*temp set) for a nested call from a signal handler or when
 * more threads than slots exist.
 */
static struct uk_ring_slot *slot_get(unsigned int *idx, bool *temp)
{
	/* Acquire: a new generation's region pointer is visible with it. */
	uint32_t gen = atomic_load_explicit(&uk_client.gen,
					    memory_order_acquire);
	int i;

	*temp = false;
	if (th.depth == 1 && th.slot && th.gen == gen) {
		*idx = th.idx;
		return th.slot;
	}
	if (th.depth == 1) {
		i = slot_claim();
		if (i >= 0) {
			th.slot = uk_ring_slot_at(uk_client.region, (unsigned)i);
			th.idx = (unsigned int)i;
			th.gen = gen;
			pthread_setspecific(slot_key, (void *)1);
			*idx = th.idx;
			return th.slot;
		}
	}
	*temp = true;
	while ((i = slot_claim()) < 0)
		sched_yield();
	*idx = (unsigned int)i;
	return uk_ring_slot_at(uk_client.region, (unsigned int)i);
}

/* ---- marshalling -------------------------------------------------------------------- */

/*
 * How each argument of the calls we know carries memory: a path (in), a
 * buffer whose length is another argument (in or out), or a struct of
 * fixed size (in or out). Payloads that fit in the data area are copied
 * there and the argument is pointed at the copy; the rest go as they are
 * (the daemon uses process_vm_*v). Measured crossover: docs/ring.md.
 */
enum { A_NONE, A_PATH, A_IN_LEN, A_OUT_LEN, A_IN_FIX, A_OUT_FIX };

struct marg {
	uint8_t kind;
	uint8_t aux; /* length's argument index, or size / 8 */
};

struct mdesc {
	struct marg a[6];
};

#define PATH_A(i) [i] = { A_PATH, 0 }
#define IN_LEN(i, l) [i] = { A_IN_LEN, l }
#define OUT_LEN(i, l) [i] = { A_OUT_LEN, l }
#define IN_FIX(i, sz) [i] = { A_IN_FIX, (sz) / 8 }
#define OUT_FIX(i, sz) [i] = { A_OUT_FIX, (sz) / 8 }
#define ST sizeof(struct stat)
#define SFS sizeof(struct statfs)

static const struct mdesc marshal_table[] = {
	[SYS_read] = { { OUT_LEN(1, 2) } },
	[SYS_write] = { { IN_LEN(1, 2) } },
	[SYS_pread64] = { { OUT_LEN(1, 2) } },
	[SYS_pwrite64] = { { IN_LEN(1, 2) } },
	[SYS_open] = { { PATH_A(0) } },
	[SYS_creat] = { { PATH_A(0) } },
	[SYS_openat] = { { PATH_A(1) } },
	[SYS_stat] = { { PATH_A(0), OUT_FIX(1, ST) } },
	[SYS_lstat] = { { PATH_A(0), OUT_FIX(1, ST) } },
	[SYS_fstat] = { { OUT_FIX(1, ST) } },
	[SYS_newfstatat] = { { PATH_A(1), OUT_FIX(2, ST) } },
	[SYS_statx] = { { PATH_A(1), OUT_FIX(4, 256) } },
	[SYS_statfs] = { { PATH_A(0), OUT_FIX(1, SFS) } },
	[SYS_fstatfs] = { { OUT_FIX(1, SFS) } },
	[SYS_access] = { { PATH_A(0) } },
	[SYS_faccessat] = { { PATH_A(1) } },
	[SYS_faccessat2] = { { PATH_A(1) } },
	[SYS_mkdir] = { { PATH_A(0) } },
	[SYS_mkdirat] = { { PATH_A(1) } },
	[SYS_rmdir] = { { PATH_A(0) } },
	[SYS_unlink] = { { PATH_A(0) } },
	[SYS_unlinkat] = { { PATH_A(1) } },
	[SYS_rename] = { { PATH_A(0), PATH_A(1) } },
	[SYS_renameat] = { { PATH_A(1), PATH_A(3) } },
	[SYS_renameat2] = { { PATH_A(1), PATH_A(3) } },
	[SYS_link] = { { PATH_A(0), PATH_A(1) } },
	[SYS_linkat] = { { PATH_A(1), PATH_A(3) } },
	[SYS_symlink] = { { PATH_A(0), PATH_A(1) } },
	[SYS_symlinkat] = { { PATH_A(0), PATH_A(2) } },
	[SYS_readlink] = { { PATH_A(0), OUT_LEN(1, 2) } },
	[SYS_readlinkat] = { { PATH_A(1), OUT_LEN(2, 3) } },
	[SYS_chmod] = { { PATH_A(0) } },
	[SYS_fchmodat] = { { PATH_A(1) } },
	[SYS_chown] = { { PATH_A(0) } },
	[SYS_lchown] = { { PATH_A(0) } },
	[SYS_fchownat] = { { PATH_A(1) } },
	[SYS_truncate] = { { PATH_A(0) } },
	[SYS_chdir] = { { PATH_A(0) } },
	[SYS_mknod] = { { PATH_A(0) } },
	[SYS_mknodat] = { { PATH_A(1) } },
	[SYS_utimensat] = { { PATH_A(1), IN_FIX(2, 32) } },
	[SYS_getcwd] = { { OUT_LEN(0, 1) } },
	[SYS_getdents64] = { { OUT_LEN(1, 2) } },
};

/* Out-copies to do after the call. */
struct mout {
	unsigned int n;
	struct {
		void *user;
		const void *inl;
		size_t len;
		bool by_result; /* copy min(result, len) when result > 0 */
	} o[6];
};

/* A pointer too low to be real: left to the daemon (-EFAULT). */
static bool plausible(long p)
{
	return (unsigned long)p >= 4096;
}

/*
 * Rewrites args to point into the data area [*used, cap) for what fits;
 * records the out-copies. The client's own address of data is used: the
 * daemon translates it back to its mapping. The caller's memory is touched
 * only with the fault-safe copies (uaccess.c): a bad in-pointer or path is
 * left as it is, and the daemon's process_vm access of it gives -EFAULT
 * before the call does anything, as Linux's copy_from_user would. A bad
 * out-buffer is found by unmarshal() after the call, which then returns
 * -EFAULT; the call has run by then (read moved the offset), as it has
 * when the daemon writes a bad out-buffer with process_vm (after the call).
 */
/* The O_DIRECT memory alignment a buffer keeps through the data area. */
#define MARSHAL_DIO_ALIGN 512u

static void marshal(long nr, long args[6], unsigned char *data, size_t *used,
		    size_t cap, struct mout *mo)
{
	const struct mdesc *d;

	if (nr < 0 || (size_t)nr >= sizeof(marshal_table) /
						sizeof(marshal_table[0]))
		return;
	d = &marshal_table[nr];
	for (int i = 0; i < 6; i++) {
		const struct marg *m = &d->a[i];
		size_t len, room = cap - *used, pad = 0;
		unsigned char *dst = data + *used;

		if (m->kind == A_NONE || !plausible(args[i]))
			continue;
		/*
		 * A data buffer lands at the caller's address modulo 512, so
		 * that an O_DIRECT check of its memory alignment (ukfs's, as
		 * Linux's) sees the caller's buffer, not the slot's: fio's
		 * page-aligned buffers failed with EINVAL. When the padding
		 * does not fit, the buffer is passed as it is (process_vm).
		 */
		if (m->kind == A_IN_LEN || m->kind == A_OUT_LEN) {
			pad = ((uintptr_t)args[i] - (uintptr_t)dst) &
			      (MARSHAL_DIO_ALIGN - 1);
			if (pad >= room)
				continue;
			room -= pad;
			dst += pad;
		}
		switch (m->kind) {
		case A_PATH: {
			long n = uk_cl_copy_path((char *)dst,
						 (const char *)args[i], room);

			/* Too long here, or a fault: passed as is. */
			if (n < 0 || (size_t)n == room)
				continue;
			len = (size_t)n + 1;
			break;
		}
		case A_IN_LEN:
		case A_IN_FIX:
			len = m->kind == A_IN_FIX ? (size_t)m->aux * 8 :
						    (size_t)args[m->aux];
			if (len > room ||
			    uk_cl_copy_in(dst, (const void *)args[i], len))
				continue;
			break;
		default: /* A_OUT_LEN, A_OUT_FIX */
			len = m->kind == A_OUT_FIX ? (size_t)m->aux * 8 :
						     (size_t)args[m->aux];
			if (len > room)
				continue;
			mo->o[mo->n].user = (void *)args[i];
			mo->o[mo->n].inl = dst;
			mo->o[mo->n].len = len;
			mo->o[mo->n].by_result = m->kind == A_OUT_LEN;
			mo->n++;
			break;
		}
		args[i] = (long)(uintptr_t)dst;
		/* Keep each payload 8-byte aligned. */
		*used = (*used + pad + len + 7) & ~(size_t)7;
	}
}

/*
 * Out-payloads at least this long are prefetched before they are copied
 * out (unmarshal()).
 */
#define UNMARSHAL_PREFETCH_MIN 256u

/*
 * Asks for every cache line of [p, p + len) of the data area at once. The
 * daemon has just written them on its CPU; a plain copy fetches them a few
 * at a time, and each fetch from the other CPU (another core complex on
 * this host) costs ~300 ns. All in flight together: a 4 KiB pread's copy
 * out took 350 -> 200 ns (median, docs/shim.md). The data area is our own
 * mapping, so the loads cannot fault.
 */
static void prefetch_inline(const unsigned char *p, size_t len)
{
	for (size_t o = 0; o < len; o += 64)
		__builtin_prefetch(p + o, 0, 3);
}

/*
 * Copies the out-buffers back; returns result, or -EFAULT when one of
 * them stopped being writable during the call (another thread unmapped
 * it): the kernel's copy_to_user would have failed the same way.
 */
static long unmarshal(const struct mout *mo, long result)
{
	if (result < 0)
		return result;
	for (unsigned int k = 0; k < mo->n; k++) {
		size_t len = mo->o[k].len;

		if (mo->o[k].by_result)
			len = (size_t)result < len ? (size_t)result : len;
		if (len >= UNMARSHAL_PREFETCH_MIN)
			prefetch_inline(mo->o[k].inl, len);
		if (uk_cl_copy_out(mo->o[k].user, mo->o[k].inl, len))
			result = -EFAULT;
	}
	return result;
}

/* ---- the call -------------------------------------------------------------------------- */

static long futex_op(_Atomic uint32_t *w, int op, uint32_t val,
		     const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

/* The daemon went away without telling (crash): the socket hangs up. */
static bool daemon_gone(void)
{
	struct pollfd p = { .fd = uk_client.fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN));
}

/*
 * Publishes the request in slot idx and wakes the daemon if no poller is
 * awake. Dekker with poller_sleep(): our ready bit, full barrier (the
 * seq_cst fetch_or), then awake; the poller clears awake, full barrier,
 * then reads ready. One of us sees the other.
 */
static void publish(struct uk_ring_slot *s, unsigned int idx, bool yield)
{
	struct uk_ring_header *h = uk_client.hdr;

	/* Release: nr, args and data are visible before REQ. */
	atomic_store_explicit(&s->state,
			      UK_SLOT_REQ | (yield ? UK_SLOT_YIELD : 0),
			      memory_order_release);
	atomic_fetch_or(&h->ready, 1ull << idx);
	if (!atomic_load(&h->awake)) {
		atomic_fetch_add(&h->doorbell, 1);
		futex_op(&h->doorbell, FUTEX_WAKE, 1, NULL);
	}
}

/*
 * Whether the poller last ran on our CPU: then it cannot take our request
 * before we give the CPU up (one CPU for both, as with taskset -c 0), and
 * spinning first is pure loss. The request goes out with YIELD already
 * set (no CAS later), and we yield at once.
 */
static bool same_cpu(void)
{
	int pc = atomic_load_explicit(&uk_client.hdr->poller_cpu,
				      memory_order_relaxed);

	return pc >= 0 && pc == sched_getcpu(); /* rseq: loads, no syscall */
}

/*
 * Whether the poller may be waiting for our CPU: it last ran on ours, or
 * we do not know where it is (asleep, or it never said).
 */
static bool shares_cpu(void)
{
	int pc = atomic_load_explicit(&uk_client.hdr->poller_cpu,
				      memory_order_relaxed);

	return pc < 0 || pc == sched_getcpu();
}

/*
 * A bulk stream (uk_ring_abi.h): a read's or write's buffer copied through
 * the slot's window while the daemon runs the call, chunk by chunk, so
 * that our copy and the daemon's overlap. The client side of it lives here:
 * bulk_step() moves what can be moved now (copies the chunks the daemon
 * published out to the buffer, or the next chunks of the buffer in), and
 * wait_bulk() calls it while it waits.
 */
struct bulk {
	struct uk_ring_bulk *b;
	unsigned char *win;
	unsigned char *buf;       /* the caller's buffer */
	uint64_t len;
	uint64_t pos;             /* OUT: chunks copied; IN: bytes copied */
	bool out;
	bool fault;               /* OUT: the buffer was not writable */
	bool stopped;             /* IN: the buffer was not readable */
};

/* The reads and writes whose buffer may stream, and where it is. */
static bool bulk_call(long nr, bool *out)
{
	switch (nr) {
	case SYS_read:
	case SYS_pread64:
		*out = true;
		return true;
	case SYS_write:
	case SYS_pwrite64:
		*out = false;
		return true;
	default:
		return false;
	}
}

/* Zeroes the counters and names the buffer; before the request goes out. */
static void bulk_setup(struct bulk *k, unsigned int idx, uint16_t *flags)
{
	struct uk_ring_bulk *b = uk_ring_bulk_at(uk_client.region, idx);

	k->b = b;
	k->win = uk_ring_window_at(uk_client.region, idx);
	k->pos = 0;
	k->fault = false;
	k->stopped = false;
	b->addr = (uint64_t)(uintptr_t)k->buf;
	b->len = k->len;
	atomic_store_explicit(&b->cpos, 0, memory_order_relaxed);
	atomic_store_explicit(&b->stop, 0, memory_order_relaxed);
	atomic_store_explicit(&b->dpos, 0, memory_order_relaxed);
	atomic_store_explicit(&b->dcpu, -1, memory_order_relaxed);
	atomic_store_explicit(&b->ccpu, sched_getcpu(), memory_order_relaxed);
	*flags = k->out ? UK_SLOT_BULK_OUT : UK_SLOT_BULK_IN;
}

/*
 * Copies out every chunk the daemon has published. A chunk that does not
 * fit our buffer (a daemon bug) or a buffer we cannot write makes the call
 * -EFAULT; the chunk is consumed all the same, so the daemon never waits
 * for it. Returns whether anything moved.
 */
static bool bulk_out_step(struct bulk *k)
{
	/* Acquire: the chunk's bytes and descriptor before dpos. */
	uint64_t d = atomic_load_explicit(&k->b->dpos, memory_order_acquire);
	bool moved = false;

	while (k->pos < d) {
		unsigned int c = (unsigned int)(k->pos % UK_RING_BULK_NCHUNK);
		uint64_t off = k->b->desc[c].off;
		uint32_t n = k->b->desc[c].len;

		if (n > UK_RING_BULK_CHUNK || off > k->len || n > k->len - off)
			k->fault = true;
		else if (!k->fault &&
			 uk_cl_copy_out(k->buf + off,
					k->win + (size_t)c * UK_RING_BULK_CHUNK,
					n))
			k->fault = true;
		/* The daemon writes no more of the buffer: a hole in it. */
		if (k->fault)
			atomic_store_explicit(&k->b->stop, 1,
					      memory_order_relaxed);
		k->pos++;
		/* Release: our reads of the chunk before the daemon reuses it. */
		atomic_store_explicit(&k->b->cpos, k->pos, memory_order_seq_cst);
		moved = true;
	}
	return moved;
}

/*
 * The next chunk to copy in: from pos to the end of its window chunk (or
 * of the buffer), after skipping what the daemon read itself (its count
 * ahead of ours). Returns its length, 0 when the window is full or the
 * buffer done.
 */
static uint64_t bulk_in_next(struct bulk *k)
{
	uint64_t d = atomic_load_explicit(&k->b->dpos, memory_order_acquire);
	uint64_t n;

	if (d > k->pos && d <= k->len)
		k->pos = d;
	if (k->stopped || k->pos >= k->len || d > k->pos)
		return 0;
	n = UK_RING_BULK_CHUNK - k->pos % UK_RING_BULK_CHUNK;
	if (n > k->len - k->pos)
		n = k->len - k->pos;
	return k->pos + n - d > UK_RING_BULK_SIZE ? 0 : n;
}

/* Copies in the next chunks of the buffer while the window has room. */
static bool bulk_in_step(struct bulk *k)
{
	bool moved = false;
	uint64_t n;

	while ((n = bulk_in_next(k))) {
		if (uk_cl_copy_in(k->win + k->pos % UK_RING_BULK_SIZE,
				  k->buf + k->pos, (size_t)n)) {
			k->stopped = true;
			atomic_store_explicit(&k->b->stop, 1,
					      memory_order_seq_cst);
			return true;
		}
		k->pos += n;
		/* Release: the bytes before the count that covers them. */
		atomic_store_explicit(&k->b->cpos, k->pos, memory_order_seq_cst);
		moved = true;
	}
	return moved;
}

static bool bulk_step(struct bulk *k)
{
	return k->out ? bulk_out_step(k) : bulk_in_step(k);
}

/* Whether bulk_step() would move something now (before sleeping). */
static bool bulk_ready(struct bulk *k)
{
	if (k->out)
		return atomic_load_explicit(&k->b->dpos,
					    memory_order_acquire) != k->pos;
	return bulk_in_next(k) != 0;
}

/*
 * Sets WAITER in the state word (*st, as last read) so that the daemon
 * wakes us; false when the word moved meanwhile (*st is then the new
 * value: look at it again before sleeping).
 */
static bool set_waiter(struct uk_ring_slot *s, uint32_t *st)
{
	if (*st & UK_SLOT_WAITER)
		return true;
	if (!atomic_compare_exchange_weak(&s->state, st,
					  *st | UK_SLOT_WAITER))
		return false;
	*st |= UK_SLOT_WAITER;
	return true;
}

/*
 * Sleeps while the state word still reads st, 100 ms at most (then the
 * caller looks again); -ENOTCONN when the daemon is gone.
 */
static int sleep_on_state(struct uk_ring_slot *s, uint32_t st)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	if (futex_op(&s->state, FUTEX_WAIT, st, &ts) < 0 &&
	    errno == ETIMEDOUT && daemon_gone())
		return -ENOTCONN;
	return 0;
}

/*
 * The calls that may sleep in the daemon until another process acts: a
 * blocking lock request (docs/locks.md). A signal handler installed
 * without SA_RESTART interrupts them, as it interrupts them on Linux.
 */
static bool may_sleep(long nr, const long a[6])
{
	switch (nr) {
	case SYS_fcntl:
		return (int)a[1] == F_SETLKW || (int)a[1] == F_OFD_SETLKW;
	case SYS_flock:
		return !((int)a[1] & LOCK_NB);
	default:
		return false;
	}
}

/*
 * sleep_on_state() that a signal interrupts as it would interrupt the call
 * on Linux (-EINTR). futex_waitv with an absolute timeout answers a signal
 * with -ERESTARTSYS, which the kernel restarts, with the same deadline,
 * after a handler installed with SA_RESTART or when no handler ran (a
 * stop, an ignored signal), and turns into EINTR only after a handler
 * without SA_RESTART: exactly when Linux's F_SETLKW returns EINTR.
 * (FUTEX_WAIT with a timeout returns EINTR after every handler: its
 * restart block is not restarted for SA_RESTART.) Without futex_waitv
 * (Linux < 5.16, or a seccomp filter that refuses it) no signal
 * interrupts the call, as before.
 *
 * A handler that runs while we are not inside futex_waitv is not seen: the
 * call goes on, as after SA_RESTART. Between two sleeps that is a few
 * microseconds (the timeout's return, the look at the socket), so the
 * timeout is 1 s here rather than 100 ms: a dead daemon is noticed later,
 * and a signal slips through that gap about once in 10^5 or 10^6.
 */
static int sleep_intr(struct uk_ring_slot *s, uint32_t st)
{
	struct futex_waitv fw = {
		.val = st,
		.uaddr = (uint64_t)(uintptr_t)&s->state,
		.flags = FUTEX_32,
	};
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec++;
	if (syscall(SYS_futex_waitv, &fw, 1, 0, &ts, CLOCK_MONOTONIC) == 0)
		return 0;
	switch (errno) {
	case EINTR:
		return -EINTR;
	case ETIMEDOUT:
		return daemon_gone() ? -ENOTCONN : 0;
	case EAGAIN: /* the word moved: look again */
		return 0;
	default: /* no futex_waitv here: ENOSYS, or a seccomp filter's EPERM */
		return sleep_on_state(s, st);
	}
}

/*
 * Asks the daemon to interrupt the call in slot idx: UK_SLOT_INTR in its
 * state, as long as it is still in flight (then DONE erases it), then its
 * bit in the header's intr mask and a ring if no poller is awake (Dekker
 * with poller_sleep(), as publish()). The call comes back -EINTR if it
 * still slept, else with its own result (a lock granted meanwhile stays
 * granted, as on Linux).
 */
static void ask_intr(struct uk_ring_slot *s, unsigned int idx)
{
	struct uk_ring_header *h = uk_client.hdr;
	uint32_t st = atomic_load(&s->state);

	do {
		uint32_t cur = st & UK_SLOT_STATE_MASK;

		if (cur != UK_SLOT_REQ && cur != UK_SLOT_BUSY)
			return;
	} while (!atomic_compare_exchange_weak(&s->state, &st,
					       st | UK_SLOT_INTR));
	/* seq_cst: INTR before the bit, the bit before awake is read. */
	atomic_fetch_or(&h->intr, 1ull << idx);
	if (!atomic_load(&h->awake)) {
		atomic_fetch_add(&h->doorbell, 1);
		futex_op(&h->doorbell, FUTEX_WAKE, 1, NULL);
	}
}

/*
 * Waits for DONE (same: the request went out with YIELD, the poller is on
 * our CPU). Spins (pause) while the daemon answers; if no poller
 * took the request within pickup_ticks and the poller last ran on our CPU
 * (or is not known to run anywhere), it is waiting for our CPU: yield (and
 * flag YIELD so that it yields back after answering); a slow pickup by a
 * poller on another CPU is noise, and we spin on;
 * past spin_ticks, sleep on the state word (WAITER: the daemon wakes us).
 * With intr (a call that may sleep in the daemon, in slot idx) the sleep
 * ends on a signal whose handler has no SA_RESTART, and the daemon is
 * asked to interrupt the call; the wait goes on until DONE, whatever the
 * answer. A signal during the spin is not seen: the call goes on, as if
 * SA_RESTART were set (the spin is 250 us; a lock wait is longer).
 * Returns 0, or -ENOTCONN if the daemon stopped or died.
 */
static int wait_done(struct uk_ring_slot *s, bool same, bool intr,
		     unsigned int idx)
{
	uint64_t t0 = uk_rdtsc();
	/*
	 * The poller is on our CPU, or recently the daemon was off-CPU:
	 * yield at once (for a few calls in the second case; when they are
	 * used up, the next call probes, spinning, again).
	 */
	bool yielding = same || th.oversub > 0;

	if (th.oversub)
		th.oversub--;
	for (;;) {
		uint32_t st = atomic_load_explicit(&s->state,
						   memory_order_acquire);
		uint32_t cur = st & UK_SLOT_STATE_MASK;
		uint64_t dt;

		if (cur == UK_SLOT_DONE)
			return 0;
		if (atomic_load_explicit(&uk_client.hdr->shutdown,
					 memory_order_relaxed))
			return -ENOTCONN;
		dt = uk_rdtsc() - t0;
		if (dt < uk_client.spin_ticks && !yielding &&
		    !(cur == UK_SLOT_REQ && dt > uk_client.pickup_ticks &&
		      shares_cpu())) {
			uk_cpu_relax();
			continue;
		}
		if (dt < uk_client.spin_ticks) {
			/* The daemon is off-CPU: give it ours. */
			if (!(st & UK_SLOT_YIELD))
				atomic_compare_exchange_weak(&s->state, &st,
							     st | UK_SLOT_YIELD);
			if (!yielding)
				th.oversub = 16; /* the next 16 yield at once */
			yielding = true;
			sched_yield();
			continue;
		}
		if (!set_waiter(s, &st))
			continue;
		if (intr) {
			int r = sleep_intr(s, st);

			if (r == -ENOTCONN)
				return r;
			if (r == -EINTR) {
				ask_intr(s, idx);
				intr = false; /* asked once; now only DONE */
			}
		} else if (sleep_on_state(s, st)) {
			return -ENOTCONN;
		}
	}
}

/*
 * wait_done() for a call with a stream: moves the stream while it waits.
 * Spins while the daemon copies on another CPU (both copies overlap),
 * yields while it waits on ours (or has not taken the request and the
 * poller may need our CPU), sleeps after spin_ticks without progress.
 * Returns 0, or -ENOTCONN.
 */
static int wait_bulk(struct uk_ring_slot *s, struct bulk *k)
{
	uint64_t t0 = uk_rdtsc();
	int last_cpu = atomic_load_explicit(&k->b->ccpu, memory_order_relaxed);

	for (;;) {
		uint32_t st = atomic_load_explicit(&s->state,
						   memory_order_acquire);
		uint32_t cur = st & UK_SLOT_STATE_MASK;
		uint64_t dt;
		int cpu;

		if (cur == UK_SLOT_DONE) {
			/* What was published before DONE (acquire above). */
			if (k->out)
				bulk_out_step(k);
			return 0;
		}
		if (atomic_load_explicit(&uk_client.hdr->shutdown,
					 memory_order_relaxed))
			return -ENOTCONN;
		if (bulk_step(k)) {
			t0 = uk_rdtsc(); /* progress: spin again */
			continue;
		}
		cpu = sched_getcpu(); /* rseq: loads, no syscall */
		/* A store only when it moved: the daemon reads this line. */
		if (cpu != last_cpu) {
			atomic_store_explicit(&k->b->ccpu, cpu,
					      memory_order_relaxed);
			last_cpu = cpu;
		}
		dt = uk_rdtsc() - t0;
		if (dt < uk_client.spin_ticks) {
			bool yield = cur == UK_SLOT_REQ ?
					     dt > uk_client.pickup_ticks &&
						     shares_cpu() :
					     atomic_load_explicit(
						     &k->b->dcpu,
						     memory_order_relaxed) == cpu;

			if (yield)
				sched_yield();
			else
				uk_cpu_relax();
			continue;
		}
		if (!set_waiter(s, &st))
			continue;
		/*
		 * Dekker with the daemon's bulk_wake(): WAITER (the CAS, a
		 * full barrier), then its counter; it stores its counter,
		 * then reads WAITER. One of us sees the other.
		 */
		if (bulk_ready(k))
			continue;
		if (sleep_on_state(s, st))
			return -ENOTCONN;
		/*
		 * The stream wakes us per chunk: take WAITER back so that
		 * the daemon stops calling futex while we spin (not once
		 * DONE: the daemon has read the flags then).
		 */
		st = atomic_load(&s->state);
		while ((st & UK_SLOT_WAITER) &&
		       (st & UK_SLOT_STATE_MASK) != UK_SLOT_DONE &&
		       !atomic_compare_exchange_weak(&s->state, &st,
						     st & ~UK_SLOT_WAITER))
			;
		t0 = uk_rdtsc();
	}
}

/* Frees a temporary slot or returns the thread's slot to IDLE. */
static void slot_done(struct uk_ring_slot *s, bool temp)
{
	/* Release: our reads of the result and data come before. */
	atomic_store_explicit(&s->state, temp ? UK_SLOT_FREE : UK_SLOT_IDLE,
			      memory_order_release);
}

long uk_ring_call(long nr, const long in[6], bool do_marshal)
{
	return uk_ring_call_overlap(nr, in, do_marshal, NULL, NULL);
}

long uk_ring_call_overlap(long nr, const long in[6], bool do_marshal,
			  void (*fn)(void *), void *arg)
{
	struct uk_ring_slot *s;
	struct mout mo = { 0 };
	struct bulk bk, *k = NULL;
	unsigned int idx;
	size_t used = 0;
	long args[6], ret;
	bool temp, same;
	int saved = errno;

	if (uk_client_ensure()) {
		errno = saved;
		return -ENOTCONN;
	}
	th.depth++;
	s = slot_get(&idx, &temp);
	memcpy(args, in, sizeof(args));
	s->flags = 0;
	if (do_marshal) {
		marshal(nr, args, s->data, &used, UK_RING_DATA_SIZE, &mo);
		/* A buffer too large for the data area streams. */
		if (bulk_call(nr, &bk.out) && args[1] == in[1] &&
		    plausible(args[1]) &&
		    (unsigned long)args[2] > UK_RING_DATA_SIZE &&
		    uk_cl_uaccess_ok) {
			bk.buf = (unsigned char *)args[1];
			bk.len = (uint64_t)args[2];
			bulk_setup(&bk, idx, &s->flags);
			k = &bk;
		}
	}
	s->count = 0;
	s->nr = nr;
	for (int i = 0; i < 6; i++)
		s->args[i] = (uint64_t)args[i];
	same = same_cpu();
	publish(s, idx, same);
	/* The daemon works on the request meanwhile (on the other CPU). */
	if (fn)
		fn(arg);
	ret = k ? wait_bulk(s, k) :
		  wait_done(s, same, may_sleep(nr, in), idx);
	if (!ret)
		ret = unmarshal(&mo, (long)s->result);
	/* A buffer we could not write: the call ran, as with copy_to_user. */
	if (ret >= 0 && k && k->fault)
		ret = -EFAULT;
	slot_done(s, temp);
	th.depth--;
	errno = saved; /* uk_syscall never changes errno */
	return ret;
}

/* ---- public API ---------------------------------------------------------------------- */

#define VA_ARGS6(nr, a)                                                        \
	do {                                                                   \
		va_list ap;                                                    \
		va_start(ap, nr);                                              \
		for (int i_ = 0; i_ < 6; i_++)                                 \
			(a)[i_] = va_arg(ap, long);                            \
		va_end(ap);                                                    \
	} while (0)

long uk_syscall(long nr, ...)
{
	long a[6], ret;

	VA_ARGS6(nr, a);
	if (__builtin_expect(atomic_load_explicit(&uk_client.state,
						  memory_order_acquire) ==
				     CL_READY,
			     1) &&
	    uk_vvar_try(nr, a, &ret))
		return ret;
	return uk_ring_call(nr, a, true);
}

long uk_syscall_ring(long nr, ...)
{
	long a[6];

	VA_ARGS6(nr, a);
	return uk_ring_call(nr, a, true);
}

long uk_syscall_direct(long nr, ...)
{
	long a[6];

	VA_ARGS6(nr, a);
	return uk_ring_call(nr, a, false);
}

/* One hand-off of n <= UK_RING_BATCH_MAX requests. */
static int submit_chunk(struct uk_req *reqs, unsigned int n)
{
	struct uk_ring_req *out;
	struct uk_ring_slot *s;
	struct mout mo[UK_RING_BATCH_MAX];
	unsigned int idx;
	size_t used = n * sizeof(struct uk_ring_req);
	bool temp, same;
	int ret;

	th.depth++;
	s = slot_get(&idx, &temp);
	out = (struct uk_ring_req *)s->data;
	for (unsigned int j = 0; j < n; j++) {
		long args[6];

		memcpy(args, reqs[j].args, sizeof(args));
		mo[j].n = 0;
		marshal(reqs[j].nr, args, s->data, &used, UK_RING_DATA_SIZE,
			&mo[j]);
		out[j].nr = reqs[j].nr;
		for (int i = 0; i < 6; i++)
			out[j].args[i] = (uint64_t)args[i];
		out[j].result = -ENOSYS;
	}
	s->flags = UK_SLOT_BATCH;
	s->count = (uint16_t)n;
	same = same_cpu();
	publish(s, idx, same);
	ret = wait_done(s, same, false, idx);
	for (unsigned int j = 0; j < n; j++) {
		reqs[j].result = ret ? ret : unmarshal(&mo[j], out[j].result);
	}
	slot_done(s, temp);
	th.depth--;
	return ret;
}

int uk_submit(struct uk_req *reqs, unsigned int n)
{
	int ret;

	if (uk_client_ensure()) {
		errno = ENOTCONN;
		return -1;
	}
	for (unsigned int done = 0; done < n;) {
		unsigned int k = n - done < UK_RING_BATCH_MAX ?
					 n - done :
					 UK_RING_BATCH_MAX;

		ret = submit_chunk(reqs + done, k);
		if (ret) {
			errno = -ret;
			return -1;
		}
		done += k;
	}
	return 0;
}
