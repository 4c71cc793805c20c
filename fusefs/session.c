// SPDX-License-Identifier: MIT
/*
 * fusefs/session.c - the FUSE session's life inside ukerneld: mount (after
 * cleaning up a dead mount left at the same place), the multi-threaded
 * loop on a thread of its own, the change notifier that keeps the host
 * kernel's caches coherent with the ring's changes, and unmount.
 *
 * Invalidation and deadlocks. libfuse warns that calling
 * fuse_lowlevel_notify_inval_* from a request handler can deadlock: the
 * host may hold a lock (a directory's i_rwsem, a locked page) while it
 * waits for that very request's reply. Events that FUSE requests cause are
 * never forwarded (the host made the change itself and updated its caches),
 * and a FUSE worker thread forwards nothing at all, whatever the origin
 * (ffs_in_handler). Every other event comes from a ring worker, a local
 * task or the kernel, after the VFS dropped its locks: the notification is
 * sent synchronously there, so a ring write is invalid in the host's cache
 * before the ring call returns. The host side of such a notification waits
 * at most for FUSE requests in flight (a page locked by a FUSE read), and
 * those are served by the FUSE workers, which never wait for a ring worker:
 * no cycle. docs/fuse.md has the longer argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fuse.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "uk_time.h"

__thread bool ffs_in_handler;

/* ---- the notifier ------------------------------------------------------------ */

static void ffs_event(struct uk_notifier *n, const struct uk_notify_event *ev)
{
	struct ffs *fs = uk_container_of(n, struct ffs, notifier);
	struct fuse_session *se = fs->se;
	uint64_t nodeid, dir;

	if (ffs_in_handler || ev->sb != fs->sb ||
	    (ev->origin && ev->origin->frontend == UK_FRONTEND_FUSE) ||
	    !atomic_load_explicit(&fs->connected, memory_order_acquire) ||
	    atomic_load_explicit(&fs->stopping, memory_order_relaxed))
		return;
	if (ev->mask & (UK_NOTIFY_DATA | UK_NOTIFY_ATTR)) {
		nodeid = ffs_ino_to_nodeid(fs, ev->ino);
		/* Only what the host holds: anything else costs a syscall. */
		if (ffs_node_known(fs, nodeid)) {
			if (ev->mask & UK_NOTIFY_DATA)
				fuse_lowlevel_notify_inval_inode(
					se, nodeid, (off_t)ev->off,
					(off_t)ev->len);
			else
				fuse_lowlevel_notify_inval_inode(se, nodeid,
								 -1, 0);
		}
	}
	if (!(ev->mask & (UK_NOTIFY_CREATE | UK_NOTIFY_DELETE)) ||
	    !ev->name || !ev->namelen)
		return;
	dir = ffs_ino_to_nodeid(fs, ev->dir_ino);
	if (!ffs_node_known(fs, dir))
		return;
	nodeid = ev->ino ? ffs_ino_to_nodeid(fs, ev->ino) : 0;
	/*
	 * notify_delete also tells the host that the name's inode lost a link
	 * (and drops it from open directories' views); it fails with ENOENT
	 * when the host's dentry is not that inode, then the plain
	 * invalidation does.
	 */
	if ((ev->mask & UK_NOTIFY_DELETE) && nodeid &&
	    ffs_node_known(fs, nodeid) &&
	    fuse_lowlevel_notify_delete(se, dir, nodeid, ev->name,
					ev->namelen) == 0)
		return;
	/* Also drops a cached negative entry when a name appears. */
	fuse_lowlevel_notify_inval_entry(se, dir, ev->name, ev->namelen);
}

/* ---- the device, and INIT flags libfuse does not know --------------------------- */

/*
 * FUSE_HANDLE_KILLPRIV_V2 (Linux 5.11): the file system clears suid/sgid
 * and security.capability on write, truncate and chown, so the host may
 * set SB_NOSEC and stop asking GETXATTR("security.capability") before
 * every write(2) (file_remove_privs) -- a round trip per write, measured
 * in docs/fuse.md. The kernel core does the clearing already
 * (vfs_file_remove_privs, vfs_do_truncate and chown, by the caller's
 * CAP_FSETID as Linux decides), and stores no security.* attribute.
 *
 * libfuse 3.14 (Debian 12) cannot ask for it: it builds the INIT reply
 * from the capabilities it knows. So the device goes through our own
 * read/writev (fuse_session_custom_io, on the descriptor libfuse mounted)
 * and the INIT reply gets the flag added on its way out, when the host
 * offered it. Everything else passes through unchanged.
 */
static void note_init(struct ffs *fs, const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;
	const struct fuse_init_in *arg = (const void *)(in + 1);

	if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in) +
	    offsetof(struct fuse_init_in, flags) + sizeof(arg->flags) ||
	    in->opcode != FUSE_INIT)
		return;
	fs->init_unique = in->unique;
	fs->init_flags = arg->flags;
	if ((arg->flags & FUSE_INIT_EXT) && buf->size >= sizeof(*in) +
	    offsetof(struct fuse_init_in, flags2) + sizeof(arg->flags2))
		fs->init_flags2 = arg->flags2;
}

/*
 * FUSE over io_uring (uring.c), when the host offers it and this mount
 * wants it: the workers are set up before the INIT reply says yes,
 * because once it has, the host holds every request until each CPU's
 * queue has an entry. Their entries carry max_write, or max_pages pages.
 */
#define UK_FUSE_OVER_IO_URING (1ull << 41)

static bool init_uring(struct ffs *fs, struct fuse_init_out *arg,
		       size_t len)
{
	size_t payload;

	if (!fs->want_uring || !(fs->init_flags & FUSE_INIT_EXT) ||
	    !(fs->init_flags2 & (UK_FUSE_OVER_IO_URING >> 32)) ||
	    len < offsetof(struct fuse_init_out, flags2) + sizeof(arg->flags2))
		return false;
	payload = arg->max_write;
	if ((arg->flags & FUSE_MAX_PAGES) &&
	    (size_t)arg->max_pages * 4096 > payload)
		payload = (size_t)arg->max_pages * 4096;
	if (payload < FUSE_MIN_READ_BUFFER)
		payload = FUSE_MIN_READ_BUFFER;
	if (!ffs_uring_prepare(fs, payload))
		return false;
	arg->flags |= FUSE_INIT_EXT;
	arg->flags2 |= (uint32_t)(UK_FUSE_OVER_IO_URING >> 32);
	return true;
}

static ssize_t dev_read(int fd, void *buf, size_t len, void *userdata)
{
	return read(fd, buf, len);
}

static ssize_t dev_writev(int fd, struct iovec *iov, int count,
			  void *userdata)
{
	struct ffs *fs = userdata;
	struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out *arg;
	bool init = false, uring = false;
	ssize_t ret;

	ret = ffs_uring_reply(iov, count);
	if (ret >= 0)
		return ret;
	if (fs->init_unique && count >= 2 &&
	    iov[0].iov_len >= sizeof(*out) && out->unique == fs->init_unique &&
	    !out->error && iov[1].iov_len >= offsetof(struct fuse_init_out,
						      flags) +
					      sizeof(arg->flags)) {
		arg = iov[1].iov_base;
		if (fs->init_flags & FUSE_HANDLE_KILLPRIV_V2)
			arg->flags |= FUSE_HANDLE_KILLPRIV_V2;
		fs->init_unique = 0;
		init = true;
		uring = init_uring(fs, arg, iov[1].iov_len);
	}
	ret = writev(fd, iov, count);
	if (init)
		ffs_uring_go(fs, uring && ret >= 0);
	return ret;
}

static ssize_t dev_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			  size_t len, unsigned int flags, void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io dev_io = {
	.read = dev_read,
	.writev = dev_writev,
	.splice_receive = dev_splice,
	.splice_send = dev_splice,
};

/* ---- the loop ------------------------------------------------------------------ */

/*
 * Our own loop instead of fuse_session_loop_mt (measured in docs/fuse.md,
 * "The loop"). A FUSE round trip on this kind of machine is mostly the
 * scheduler's: libfuse's workers each sleep in read(2) of a cloned
 * descriptor, so every request woke a sleeping thread and put the last
 * one to sleep. Here the thread that answered a request reads on at once
 * (the descriptor is O_NONBLOCK) and keeps trying for a while (the
 * adaptive window of spin_update, at most FFS_SPIN_US), so that a program
 * issuing calls one after the other meets the same thread, awake, and
 * the daemon's side of a round trip costs no wake-up. When nothing came it sleeps, in poll(2): one thread at a time
 * (the poller) so a request wakes one thread, not all; the other idle
 * workers wait on idle_cond. Nothing spins while the mount is idle.
 *
 * A request is processed by the thread that read it, alone; so a request
 * that may wait for another request (F_SETLKW, a blocking flock: the
 * unlock comes as a request) first calls ffs_loop_may_block, which gets
 * another thread reading (an idle one, or a new one up to max_threads).
 * Every other request ends by itself (the kernel core never waits for a
 * FUSE request), so one reader at a time cannot deadlock.
 *
 * Lock order: loop->lock is a leaf.
 */
struct ffs_loop {
	struct ffs *fs;
	pthread_mutex_t lock;
	pthread_cond_t idle_cond;   /* idle workers wait here (lock) */
	unsigned int nworkers;      /* lock */
	unsigned int nidle;         /* waiting on idle_cond (lock) */
	bool polling;               /* a worker sleeps in poll (lock) */
	unsigned int wake;          /* idle workers asked to read (lock) */
	atomic_uint readers;        /* workers spinning or polling */
	uint64_t spin_max_ns;       /* 0: never spin */
	_Atomic uint64_t spin_ns;   /* the window now (spin_update) */
	int fd;
	int error;                  /* first fatal receive error (lock) */
};

static __thread struct ffs_loop *loop_self;
static void *worker_main(void *arg);

/* Starts one more worker (lock held); false when none could be. */
static bool spawn_locked(struct ffs_loop *l)
{
	pthread_attr_t attr;
	pthread_t th;
	bool ok;

	if (l->nworkers >= l->fs->max_threads)
		return false;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&th, &attr, worker_main, l) == 0;
	pthread_attr_destroy(&attr);
	if (ok)
		l->nworkers++;
	return ok;
}

/*
 * Called by a request handler before it may sleep until another request
 * comes (a lock wait): makes sure some other thread reads /dev/fuse.
 */
void ffs_loop_may_block(void)
{
	struct ffs_loop *l = loop_self;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->readers) == 0 && l->wake == 0) {
		if (l->nidle > 0) {
			l->wake++;
			pthread_cond_signal(&l->idle_cond);
		} else if (!spawn_locked(l)) {
			ffs_log(l->fs, LOG_WARNING, "fuse: %u workers, all "
				"busy: requests wait", l->nworkers);
		}
	}
	pthread_mutex_unlock(&l->lock);
}

/*
 * The spin window follows the gap between a reply and the next request,
 * as KVM's halt polling follows wake-ups: a gap the window would have
 * covered (up to spin_max_ns) widens it to a little more than that gap;
 * a longer one halves it, so a caller that computes between calls, or a
 * machine too busy for the caller to come back soon, is soon not spun
 * for at all, and one that calls back to back is met by a thread still
 * reading.
 */
static void spin_update(struct ffs_loop *l, uint64_t gap)
{
	uint64_t w = atomic_load_explicit(&l->spin_ns, memory_order_relaxed);

	if (gap <= l->spin_max_ns) {
		uint64_t want = gap + gap / 4 + 1000;

		if (want > w)
			w = want < l->spin_max_ns ? want : l->spin_max_ns;
	} else {
		w /= 2;
		if (w < 1000)
			w = 0;
	}
	atomic_store_explicit(&l->spin_ns, w, memory_order_relaxed);
}

/* Until the session ends: read a request, process it, read on. */
static void worker_loop(struct ffs_loop *l)
{
	struct fuse_session *se = l->fs->se;
	struct fuse_buf fbuf = { 0 };
	uint64_t until = 0, done_at = 0;
	int res;

	loop_self = l;
	atomic_fetch_add(&l->readers, 1);
	while (!fuse_session_exited(se)) {
		res = fuse_session_receive_buf(se, &fbuf);
		if (res > 0) {
			if (!atomic_load_explicit(&l->fs->connected,
						  memory_order_relaxed))
				note_init(l->fs, &fbuf);
			atomic_fetch_sub(&l->readers, 1);
			if (done_at && l->spin_max_ns)
				spin_update(l, uk_mono_ns() - done_at);
			fuse_session_process_buf(se, &fbuf);
			atomic_fetch_add(&l->readers, 1);
			if (l->spin_max_ns) {
				done_at = uk_mono_ns();
				until = done_at +
					atomic_load_explicit(&l->spin_ns,
						memory_order_relaxed);
			}
			continue;
		}
		if (res == -EINTR)
			continue;
		if (res != -EAGAIN) {
			/* 0: unmounted or aborted; else a broken device */
			pthread_mutex_lock(&l->lock);
			if (res < 0 && !l->error)
				l->error = res;
			pthread_mutex_unlock(&l->lock);
			fuse_session_exit(se);
			break;
		}
		if (until && uk_mono_ns() < until) {
			__builtin_ia32_pause();
			continue;
		}
		until = 0;
		pthread_mutex_lock(&l->lock);
		if (l->polling) {
			/* Someone polls already: wait to be needed. */
			atomic_fetch_sub(&l->readers, 1);
			l->nidle++;
			while (!l->wake && !fuse_session_exited(se))
				pthread_cond_wait(&l->idle_cond, &l->lock);
			if (l->wake)
				l->wake--;
			l->nidle--;
			atomic_fetch_add(&l->readers, 1);
			pthread_mutex_unlock(&l->lock);
			continue;
		}
		l->polling = true;
		pthread_mutex_unlock(&l->lock);
		{
			struct pollfd pfd = { .fd = l->fd, .events = POLLIN };

			/* POLLERR/POLLHUP at unmount: the read then says so. */
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				fuse_session_exit(se);
		}
		pthread_mutex_lock(&l->lock);
		l->polling = false;
		pthread_mutex_unlock(&l->lock);
	}
	atomic_fetch_sub(&l->readers, 1);
	free(fbuf.mem);
	/* Wake the idle workers: the session is over. */
	pthread_mutex_lock(&l->lock);
	pthread_cond_broadcast(&l->idle_cond);
	pthread_mutex_unlock(&l->lock);
}

static void *worker_main(void *arg)
{
	struct ffs_loop *l = arg;

	worker_loop(l);
	pthread_mutex_lock(&l->lock);
	l->nworkers--;
	pthread_cond_broadcast(&l->idle_cond);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/*
 * The loop's thread is its first worker; it returns once every worker
 * has left. 0, or the receive error that ended the session.
 */
static int run_loop(struct ffs *fs)
{
	const char *env = getenv("UKERNEL_FUSE_SPIN_US");
	struct ffs_loop l = { .fs = fs, .nworkers = 1 };
	int flags, ret;

	l.fd = fuse_session_fd(fs->se);
	l.spin_max_ns = (env ? strtoull(env, NULL, 10) : FFS_SPIN_US) * 1000;
	flags = fcntl(l.fd, F_GETFL);
	if (flags < 0 || fcntl(l.fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.idle_cond, NULL);
	worker_loop(&l);
	pthread_mutex_lock(&l.lock);
	l.nworkers--;
	while (l.nworkers > 0) {
		pthread_cond_broadcast(&l.idle_cond);
		pthread_cond_wait(&l.idle_cond, &l.lock);
	}
	ret = l.error;
	pthread_mutex_unlock(&l.lock);
	pthread_cond_destroy(&l.idle_cond);
	pthread_mutex_destroy(&l.lock);
	return ret;
}

static void *loop_thread(void *arg)
{
	struct ffs *fs = arg;
	int ret = run_loop(fs);

	atomic_store(&fs->connected, false);
	atomic_store(&fs->unmounted, true);
	if (!atomic_load(&fs->stopping))
		ffs_log(fs, LOG_NOTICE, "%s was unmounted%s", fs->mountpoint,
			ret ? " (session error)" : "");
	return NULL;
}

/* ---- start and stop ---------------------------------------------------------- */

/* Adds "-o opt" to args; 0 or -ENOMEM. */
static int add_opt(struct fuse_args *args, const char *opt)
{
	if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opt))
		return -ENOMEM;
	return 0;
}

/* Whether allow_other is permitted: root, or user_allow_other. */
static bool allow_other_ok(void)
{
	char line[256];
	bool ok = geteuid() == 0;
	FILE *f;

	if (ok)
		return true;
	f = fopen("/etc/fuse.conf", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "user_allow_other", 16) == 0)
			ok = true;
	fclose(f);
	return ok;
}

/*
 * The host's readahead on the mount: its default of 128 KiB makes a
 * sequential read one READ per 128 KiB, though the connection carries up
 * to 1 MiB (max_pages 256, from max_write). INIT cannot ask for more than
 * the host offers (its default), so, as root, the mount's bdi is told
 * afterwards, as `blockdev --setra` would be for a disk. Measured in
 * docs/fuse.md; failing only costs speed.
 */
static void set_readahead(struct ffs *fs, dev_t dev)
{
	char path[80];
	int fd;

	if (geteuid() != 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(dev), minor(dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1024", 4) != 4)
		ffs_log(fs, LOG_DEBUG, "fuse: %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * --fuse-uring: the host offers FUSE over io_uring in INIT only while the
 * fuse module's enable_uring parameter is Y (off by default in 6.14+).
 * It is system-wide, but only changes what the kernel offers: a FUSE
 * server that does not ask for io_uring in its INIT reply is unaffected.
 */
#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"

static void enable_uring(struct ffs *fs)
{
	char c = 0;
	int fd = open(ENABLE_URING, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		ffs_log(fs, LOG_WARNING, "fuse: --fuse-uring: %s: %s (this "
			"kernel has no FUSE over io_uring)", ENABLE_URING,
			strerror(errno));
		return;
	}
	if (read(fd, &c, 1) == 1 && c != 'Y') {
		if (pwrite(fd, "Y", 1, 0) == 1)
			ffs_log(fs, LOG_NOTICE, "fuse: turned on the host's "
				"FUSE over io_uring (%s)", ENABLE_URING);
		else
			ffs_log(fs, LOG_WARNING, "fuse: --fuse-uring: cannot "
				"turn on %s: %s", ENABLE_URING,
				strerror(errno));
	}
	close(fd);
}

bool ffs_available(void)
{
	return true;
}

bool ffs_unmounted(struct ffs *fs)
{
	return fs && atomic_load(&fs->unmounted);
}

static void ffs_free(struct ffs *fs)
{
	ffs_nodes_exit(fs);
	vfs_path_put(&fs->root);
	free(fs->mountpoint);
	free(fs);
}

struct ffs *ffs_start(struct uk_kernel *k, const struct ffs_opts *o,
		      char *errbuf, size_t errlen)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct uk_vfs *vfs = k->vfs;
	struct ffs *fs;
	char opt[1200];
	struct stat st;
	int ret;

	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		snprintf(errbuf, errlen, "cannot mount %s: /dev/fuse: %s",
			 o->mountpoint, strerror(errno));
		return ERR_PTR(-ENODEV);
	}
	if (o->allow_other && !allow_other_ok()) {
		snprintf(errbuf, errlen, "allow_other needs root or "
			 "user_allow_other in /etc/fuse.conf");
		return ERR_PTR(-EPERM);
	}
	ret = ffs_cleanup_stale(o->mountpoint);
	if (ret < 0) {
		snprintf(errbuf, errlen, "%s: a dead mount is there and cannot "
			 "be removed: %s", o->mountpoint, strerror(-ret));
		return ERR_PTR(ret);
	}
	if (ret == 1 && o->log)
		o->log(o->log_arg, LOG_NOTICE,
		       "removed the dead mount left at the mount point");
	if (ffs_is_mounted(o->mountpoint)) {
		snprintf(errbuf, errlen, "%s: a ukernel file system is "
			 "already mounted there", o->mountpoint);
		return ERR_PTR(-EBUSY);
	}
	if (stat(o->mountpoint, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ret = errno ? -errno : -ENOTDIR;
		snprintf(errbuf, errlen, "mount point %s: %s", o->mountpoint,
			 strerror(S_ISDIR(st.st_mode) ? -ret : ENOTDIR));
		return ERR_PTR(ret);
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs || ffs_nodes_init(fs)) {
		free(fs);
		snprintf(errbuf, errlen, "out of memory");
		return ERR_PTR(-ENOMEM);
	}
	fs->k = k;
	fs->mountpoint = strdup(o->mountpoint);
	fs->entry_timeout = o->entry_timeout >= 0 ? o->entry_timeout :
						   FFS_DEFAULT_ENTRY_TIMEOUT;
	fs->attr_timeout = o->attr_timeout >= 0 ? o->attr_timeout :
						 FFS_DEFAULT_ATTR_TIMEOUT;
	fs->negative_timeout = o->negative_timeout >= 0 ?
				       o->negative_timeout : fs->entry_timeout;
	/*
	 * libfuse's default of 10 workers in all is too few: F_SETLKW and
	 * blocking flock sleep in a worker, and the unlock that would wake
	 * them needs one too.
	 */
	fs->max_threads = o->max_threads ? o->max_threads : 64;
	fs->read_only = o->read_only;
	fs->remote_locks = o->remote_locks || getenv("UKERNEL_FUSE_OPEN");
	/*
	 * Not with remote locks: a lock wait would hold its CPU's queue, and
	 * the unlock might be queued behind it (uring.c).
	 */
	fs->want_uring = o->uring != FFS_URING_OFF && !fs->remote_locks;
	if (fs->want_uring && o->uring == FFS_URING_ON)
		enable_uring(fs);
	fs->log = o->log;
	fs->log_arg = o->log_arg;
	pthread_rwlock_rdlock(&vfs->ns_lock);
	fs->root.mnt = vfs->root_mnt;
	fs->root.dentry = vfs->root_mnt->mnt_root;
	vfs_path_get(&fs->root);
	pthread_rwlock_unlock(&vfs->ns_lock);
	fs->sb = fs->root.mnt->mnt_sb;
	fs->root_ino = fs->root.dentry->d_inode->i_ino;

	/*
	 * default_permissions: the host checks the mode bits too, with the
	 * attributes it caches (kept coherent by invalidation). Without it
	 * the host never checks search permission on a directory whose child
	 * entry it has cached: a walk through a cached dentry sends no LOOKUP,
	 * so nobody would refuse it. Every request that reaches us is still
	 * checked by the kernel core, as the caller.
	 */
	snprintf(opt, sizeof(opt),
		 "fsname=%s,subtype=ukernel,default_permissions%s%s",
		 o->fsname ? o->fsname : "ukernel",
		 o->allow_other ? ",allow_other" : "",
		 o->read_only ? ",ro" : "");
	if (fuse_opt_add_arg(&args, "ukerneld") || add_opt(&args, opt) ||
	    /* libfuse's trace of every request on stderr: docs/fuse.md */
	    (getenv("UKERNEL_FUSE_DEBUG") && fuse_opt_add_arg(&args, "-d"))) {
		snprintf(errbuf, errlen, "out of memory");
		ret = -ENOMEM;
		goto err_free;
	}
	fs->se = fuse_session_new(&args, &ffs_ops, sizeof(ffs_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->se) {
		snprintf(errbuf, errlen, "cannot create the FUSE session");
		ret = -EINVAL;
		goto err_free;
	}
	if (fuse_session_mount(fs->se, fs->mountpoint)) {
		snprintf(errbuf, errlen, "cannot mount %s (see the log)",
			 fs->mountpoint);
		ret = -EPERM;
		goto err_session;
	}
	/* libfuse mounted it; we read and write it (dev_io, above). */
	ret = fuse_session_custom_io(fs->se, &dev_io, fuse_session_fd(fs->se));
	if (ret) {
		snprintf(errbuf, errlen, "cannot set up the FUSE device: %s",
			 strerror(-ret));
		goto err_umount_only;
	}
	/* Before the loop: the host may send events from its first reply. */
	fs->notifier.event = ffs_event;
	uk_notifier_register(k, &fs->notifier);
	fs->notifier_registered = true;
	ret = -pthread_create(&fs->thread, NULL, loop_thread, fs);
	if (ret) {
		snprintf(errbuf, errlen, "cannot start the FUSE thread");
		goto err_unmount;
	}
	fs->thread_started = true;
	/* The connection's number (for the abort file) once INIT is done. */
	if (stat(fs->mountpoint, &st) == 0) {
		fs->conn_dev = (unsigned long)minor(st.st_dev);
		set_readahead(fs, st.st_dev);
	}
	return fs;

err_unmount:
	uk_notifier_unregister(k, &fs->notifier);
	fs->notifier_registered = false;
err_umount_only:
	fuse_session_unmount(fs->se);
err_session:
	fuse_session_destroy(fs->se);
err_free:
	ffs_free(fs);
	return ERR_PTR(ret);
}

/*
 * Ends the connection even while programs still use the mount (a lazy
 * unmount keeps it alive until they leave): the abort file of fusectl,
 * so that every worker's read of /dev/fuse returns and the loop ends.
 */
static void abort_connection(struct ffs *fs)
{
	char path[64];
	int fd;

	if (!fs->conn_dev)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%lu/abort",
		 fs->conn_dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		ffs_log(fs, LOG_WARNING, "fuse: %s: %s", path, strerror(errno));
	close(fd);
}

void ffs_stop(struct ffs *fs)
{
	if (!fs)
		return;
	atomic_store(&fs->stopping, true);
	if (fs->notifier_registered)
		uk_notifier_unregister(fs->k, &fs->notifier);
	fuse_session_exit(fs->se);
	/*
	 * As root, unmount ourselves: at once when nobody uses the mount;
	 * when it is busy (a cwd, an open file), MNT_FORCE first, which
	 * aborts the FUSE connection (the programs inside get ENOTCONN and
	 * our workers' reads end), then detach it. A lazy unmount alone
	 * would keep the connection, and our workers, alive until they left.
	 */
	if (geteuid() == 0 && !atomic_load(&fs->unmounted) &&
	    ffs_is_mounted(fs->mountpoint) && umount2(fs->mountpoint, 0) < 0 &&
	    errno == EBUSY) {
		ffs_log(fs, LOG_NOTICE, "%s is busy: aborting its connection",
			fs->mountpoint);
		umount2(fs->mountpoint, MNT_FORCE);
		umount2(fs->mountpoint, MNT_DETACH);
	}
	/*
	 * Also after an unmount from outside or above: libfuse sees the
	 * connection gone (POLLERR on its descriptor) and only frees its
	 * copy of the mount point then, touching no new mount at the same
	 * place. Without root, this is fusermount3 -u -z.
	 */
	fuse_session_unmount(fs->se);
	if (fs->thread_started) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		/* Unused: the unmount ended it. Busy: abort, then wait. */
		if (pthread_timedjoin_np(fs->thread, NULL, &ts)) {
			/*
			 * Still busy (no root for MNT_FORCE): abort through
			 * fusectl if we may, else the lazily detached mount
			 * lives, and we with it, until its programs leave.
			 */
			abort_connection(fs);
			ffs_log(fs, LOG_NOTICE, "waiting for the programs using "
				"%s to leave it", fs->mountpoint);
			pthread_join(fs->thread, NULL);
		}
	}
	ffs_uring_stop(fs);
	fuse_session_destroy(fs->se);
	ffs_free(fs);
}
