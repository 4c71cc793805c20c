// SPDX-License-Identifier: MIT
/*
 * fusefs/ops.c - libfuse3's low-level operations mapped onto the kernel.
 *
 * Every request runs as a task of its own with the caller's fsuid, fsgid,
 * supplementary groups and pid (fuse_req_ctx, fuse_req_getgroups), umask 0
 * (the host kernel has applied the caller's umask already), so the kernel
 * core's permission checks decide, exactly as they do for a ring client.
 * The task's memory backend is the self one: the "user" buffers handed to
 * the syscalls are this process's own, so uaccess is a checked memcpy.
 *
 * Node ids name inodes (node.c). An operation on a node runs its syscall
 * on a descriptor of the node's pinned dentry installed in the request's
 * fd table (an O_PATH one with AT_EMPTY_PATH, or the open file of fi->fh),
 * and a name operation runs the *at syscall relative to the parent's
 * descriptor: the same checks, tracing and statistics as every other
 * front-end, without a path walk from the root. readdir and the xattrs
 * call the VFS directly (there is no syscall shape for "this dentry").
 *
 * Sections: requests, replies, entries and attributes, names, files,
 * directories, locks, xattrs, the rest, the table.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "fs_ukfs.h"
#include "internal.h"
#include "vfs_extras.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef STATX_BASIC_STATS
#define STATX_BASIC_STATS 0x7ffu
#endif

void ffs_log(struct ffs *fs, int priority, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!fs->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fs->log(fs->log_arg, priority, buf);
}

/* ---- requests ------------------------------------------------------------ */

/* One request's context: the front-end and the caller's task. */
struct rq {
	struct ffs *fs;
	struct uk_task *t;
};

static inline struct ffs *req_fs(fuse_req_t req)
{
	ffs_in_handler = true;
	return fuse_req_userdata(req);
}

/*
 * Each worker thread keeps one task and gives it the caller of each request
 * (ids, groups, pid): a task made per request cost five allocations and the
 * uaccess set-up's global mutex and two sigactions. The task's fd table is
 * emptied after each request, so nothing of one caller reaches the next.
 * The thread's exit (libfuse retires idle workers) releases it.
 */
static pthread_key_t task_key;
static pthread_once_t task_key_once = PTHREAD_ONCE_INIT;

static void task_key_free(void *t)
{
	uk_task_exit(t);
}

static void task_key_make(void)
{
	if (pthread_key_create(&task_key, task_key_free))
		abort(); /* only at start-up, when nothing can be done */
}

/*
 * Makes the request's caller the current task of this worker.
 * Supplementary groups come from /proc (fuse_req_getgroups) and only for a
 * caller that is not root: root passes every check they could matter for
 * (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FSETID), and reading /proc costs more
 * than the rest of a request.
 */
static int rq_begin(fuse_req_t req, struct rq *r)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct uk_cred cred;
	struct uk_task *t;

	r->fs = req_fs(req);
	uk_cred_init(&cred, c->uid, c->gid);
	if (c->uid != 0) {
		int n = fuse_req_getgroups(req, UK_NGROUPS_MAX, cred.groups);

		if (n > 0)
			cred.ngroups = n < UK_NGROUPS_MAX ? (unsigned int)n :
							    UK_NGROUPS_MAX;
	}
	pthread_once(&task_key_once, task_key_make);
	t = pthread_getspecific(task_key);
	if (!t || t->kernel != r->fs->k) {
		t = uk_task_new(r->fs->k, 0, &cred);
		if (IS_ERR_OR_NULL(t))
			return t ? (int)PTR_ERR(t) : -ENOMEM;
		t->fs->umask = 0; /* the host applied the caller's umask */
		t->frontend = UK_FRONTEND_FUSE;
		t->owner = r->fs;
		if (pthread_setspecific(task_key, t)) {
			uk_task_exit(t);
			return -ENOMEM;
		}
	}
	/* Only this thread reads the task: no cred_lock needed. */
	t->cred = cred;
	t->pid = t->tid = c->pid;
	r->t = t;
	return 0;
}

/* rq_begin, answering the request itself when it fails (false then). */
static bool rq_start(fuse_req_t req, struct rq *r)
{
	int ret = rq_begin(req, r);

	if (ret)
		fuse_reply_err(req, -ret);
	return !ret;
}

/* Closes what the request installed in the task's fd table. */
static void rq_end(struct rq *r)
{
	vfs_close_range(r->t, 0, ~0u, false);
}

/* A syscall as the caller; args are words as pt_regs would hold them. */
static long sc(struct rq *r, long nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3, unsigned long a4,
	       unsigned long a5)
{
	const unsigned long args[6] = { a0, a1, a2, a3, a4, a5 };

	return uk_dispatch(r->t, (unsigned long)nr, args);
}

#define SC2(r, nr, a, b) sc(r, nr, (unsigned long)(a), (unsigned long)(b), 0, 0, 0, 0)
#define SC3(r, nr, a, b, c)                                                    \
	sc(r, nr, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c),  \
	   0, 0, 0)
#define SC4(r, nr, a, b, c, d)                                                 \
	sc(r, nr, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c),  \
	   (unsigned long)(d), 0, 0)
#define SC5(r, nr, a, b, c, d, e)                                              \
	sc(r, nr, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c),  \
	   (unsigned long)(d), (unsigned long)(e), 0)
#define SC6(r, nr, a, b, c, d, e, f)                                           \
	sc(r, nr, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c),  \
	   (unsigned long)(d), (unsigned long)(e), (unsigned long)(f))

/* Installs f (a new reference) in the task's fd table; fd or -errno. */
static int install_file(struct rq *r, struct vfs_file *f)
{
	int fd = vfs_alloc_fd(r->t, 0, 0);

	if (fd < 0)
		return fd;
	vfs_fd_install(r->t, (unsigned int)fd, vfs_fget_file(f));
	return fd;
}

/* Node ino opened with flags (no permission check), or ERR_PTR. */
static struct vfs_file *node_open(struct rq *r, fuse_ino_t ino,
				  unsigned int flags)
{
	struct vfs_path p;
	struct vfs_file *f;
	int ret;

	ret = ffs_node_path(r->fs, ino, &p);
	if (ret)
		return ERR_PTR(ret);
	f = vfs_open_path(r->t, &p, flags);
	vfs_path_put(&p);
	return f;
}

/* The same, installed in the request's fd table; fd or -errno. */
static int node_open_fd(struct rq *r, fuse_ino_t ino, unsigned int flags)
{
	struct vfs_file *f = node_open(r, ino, flags);
	int ret;

	if (IS_ERR(f))
		return (int)PTR_ERR(f);
	ret = install_file(r, f);
	vfs_fput(f);
	return ret;
}

/*
 * An O_PATH descriptor of node ino in the request's table (the "dirfd" of
 * the *at calls, or the object of an AT_EMPTY_PATH one); fd or -errno.
 */
static int node_fd(struct rq *r, fuse_ino_t ino)
{
	return node_open_fd(r, ino, O_PATH);
}

static inline struct vfs_file *fh_file(const struct fuse_file_info *fi)
{
	return (struct vfs_file *)(uintptr_t)fi->fh;
}

/*
 * The open file a request on node ino works on, installed in the
 * request's fd table; fd or -errno. With an OPEN (or CREATE) behind it,
 * that is fi->fh's description. Without one (no_open: fh is 0), it is a
 * description of the node opened for this request alone, with access mode
 * acc and the status flags the host passes in the request (O_APPEND,
 * O_SYNC, O_DSYNC, O_NOATIME of the caller's open file), and no
 * permission check: the host checked the open (default_permissions), as
 * Linux checks only at open(2) and never at write(2). O_DIRECT is the
 * host's business (ffs_open says why).
 */
static int file_fd(struct rq *r, fuse_ino_t ino,
		   const struct fuse_file_info *fi, unsigned int acc)
{
	const unsigned int keep = O_APPEND | O_SYNC | O_DSYNC | O_NOATIME;

	if (fi && fi->fh)
		return install_file(r, fh_file(fi));
	return node_open_fd(r, ino,
			    acc | (fi ? (unsigned int)fi->flags & keep : 0));
}

/*
 * The inode of a request's open file, for the lock calls: fi->fh's, or the
 * node's (no_open). A reference: the caller drops it with vfs_iput.
 */
static struct vfs_inode *fh_inode(struct ffs *fs, fuse_ino_t ino,
				  const struct fuse_file_info *fi)
{
	struct vfs_inode *inode;
	struct vfs_path p;

	if (fi->fh)
		return vfs_igrab(fh_file(fi)->f_inode);
	if (ffs_node_path(fs, ino, &p))
		return NULL;
	inode = vfs_igrab(p.dentry->d_inode);
	vfs_path_put(&p);
	return inode;
}

/* ---- replies --------------------------------------------------------------- */

static void kstat_to_stat(const struct vfs_kstat *ks, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ks->ino;
	st->st_mode = ks->mode;
	st->st_nlink = ks->nlink;
	st->st_uid = ks->uid;
	st->st_gid = ks->gid;
	st->st_rdev = ks->rdev;
	st->st_size = ks->size;
	st->st_blksize = ks->blksize;
	st->st_blocks = (blkcnt_t)ks->blocks;
	st->st_atim = ks->atime;
	st->st_mtim = ks->mtime;
	st->st_ctim = ks->ctime;
}

static int path_stat(const struct vfs_path *p, struct stat *st)
{
	struct vfs_kstat ks;
	int ret = vfs_getattr(p, &ks, STATX_BASIC_STATS, 0);

	if (!ret)
		kstat_to_stat(&ks, st);
	return ret;
}

/* The generation of a ukfs inode (its row's); 0 for other file systems. */
static uint64_t inode_gen(struct vfs_inode *inode)
{
	if (inode->i_sb->s_magic != UKFS_SUPER_MAGIC)
		return 0;
	return UKI(inode)->gen;
}

/*
 * Fills e for the inode at p and counts one lookup on its node (the reply
 * that follows hands it to the kernel). Another mount inside the kernel
 * would reuse inode numbers: it is not shown (EXDEV).
 */
static int make_entry(struct rq *r, const struct vfs_path *p,
		      struct fuse_entry_param *e)
{
	struct ffs *fs = r->fs;
	struct ffs_node *n;
	uint64_t nodeid;
	int ret;

	memset(e, 0, sizeof(*e));
	if (p->mnt->mnt_sb != fs->sb)
		return -EXDEV;
	ret = path_stat(p, &e->attr);
	if (ret)
		return ret;
	nodeid = ffs_ino_to_nodeid(fs, e->attr.st_ino);
	n = ffs_node_get(fs, p, nodeid, inode_gen(p->dentry->d_inode));
	if (!n)
		return -ENOMEM;
	e->ino = nodeid;
	e->generation = n->gen;
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 0;
}

/* Replies with the entry at p, or the error; undoes the count if lost. */
static void reply_entry(fuse_req_t req, struct rq *r, const struct vfs_path *p)
{
	struct fuse_entry_param e;
	int ret = make_entry(r, p, &e);

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (fuse_reply_entry(req, &e) == -ENOENT) /* interrupted: not seen */
		ffs_node_forget(r->fs, e.ino, 1);
}

/* Looks name up under the descriptor dfd and replies with the entry. */
static void reply_name_entry(fuse_req_t req, struct rq *r, int dfd,
			     const char *name)
{
	struct vfs_path p;
	int ret = vfs_path_lookupat(r->t, dfd, name, 0, &p);

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	reply_entry(req, r, &p);
	vfs_path_put(&p);
}

/* ---- entries and attributes ---------------------------------------------------- */

static void ffs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ffs *fs = userdata;
	unsigned int want = FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_EXPORT_SUPPORT |
			    FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS |
			    FUSE_CAP_ASYNC_READ | FUSE_CAP_ASYNC_DIO |
			    FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_HANDLE_KILLPRIV;
	unsigned int unwanted = FUSE_CAP_READDIRPLUS_AUTO |
				FUSE_CAP_AUTO_INVAL_DATA |
				FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ |
				FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;

	/*
	 * Locks (docs/fuse.md, "Locks and round trips"). By default the host
	 * keeps the mount's POSIX and flock locks itself: it asks for none
	 * (no POSIX_LOCKS, no FLOCK_LOCKS), FLUSH is answered ENOSYS once and
	 * never sent again, and OPEN likewise (NO_OPEN_SUPPORT: no RELEASE
	 * either), so open+close costs no round trip. Nothing else needs the
	 * three: writes reach us before write(2) returns, and the flags of
	 * each open come with every READ and WRITE.
	 *
	 * With remote_locks the locks are kept here and conflict with the
	 * ring's: a POSIX lock is dropped by the FLUSH of any descriptor of
	 * its owner, a flock by the RELEASE of its open file, so OPEN, FLUSH
	 * and RELEASE come back, and atomic O_TRUNC with OPEN.
	 */
	fs->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
		      !fs->remote_locks;
	if (fs->remote_locks)
		want |= FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS;
	else
		unwanted |= FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS;
	if (fs->no_open)
		unwanted |= FUSE_CAP_ATOMIC_O_TRUNC; /* the host sends a SETATTR */
	/*
	 * HANDLE_KILLPRIV: a write, truncate or chown by someone else clears
	 * suid/sgid here, in the kernel core (vfs_file_remove_privs), not by a
	 * chmod the host would send as the writer (EPERM for a non-owner).
	 *
	 * Not wanted: READDIRPLUS_AUTO (always plus: one request fills the
	 * dcache for `ls -l`), AUTO_INVAL_DATA (we invalidate exactly, so
	 * the kernel need not drop pages on every mtime change), WRITEBACK
	 * (a write must reach the kernel's page cache before it returns,
	 * for the ring's readers), splice (measured: docs/fuse.md).
	 */
	conn->want |= conn->capable & want;
	conn->want &= ~unwanted;
	if (getenv("UKERNEL_FUSE_SPLICE_READ")) /* measuring it: docs/fuse.md */
		conn->want |= conn->capable & (FUSE_CAP_SPLICE_READ |
					       FUSE_CAP_SPLICE_MOVE);
	conn->max_write = 1u << 20;
	conn->max_read = 0;
	conn->max_readahead = conn->max_readahead ? conn->max_readahead : 1u << 20;
	conn->time_gran = 1;
	atomic_store(&fs->connected, true);
}

static void ffs_destroy(void *userdata)
{
	struct ffs *fs = userdata;

	atomic_store(&fs->connected, false);
}

static void ffs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rq r;
	int dfd, ret = 0;

	if (!rq_start(req, &r))
		return;
	dfd = node_fd(&r, parent);
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
	} else {
		struct vfs_path p;

		ret = vfs_path_lookupat(r.t, dfd, name, 0, &p);
		if (ret == -ENOENT && r.fs->negative_timeout > 0) {
			/* A negative entry: cached, invalidated on create. */
			struct fuse_entry_param e = {
				.entry_timeout = r.fs->negative_timeout,
			};
			fuse_reply_entry(req, &e);
		} else if (ret) {
			fuse_reply_err(req, -ret);
		} else {
			reply_entry(req, &r, &p);
			vfs_path_put(&p);
		}
	}
	rq_end(&r);
}

static void ffs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	ffs_node_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void ffs_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		ffs_node_forget(req_fs(req), forgets[i].ino,
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr_path(fuse_req_t req, struct ffs *fs,
			    const struct vfs_path *p)
{
	struct stat st;
	int ret = path_stat(p, &st);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

static void ffs_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct ffs *fs = req_fs(req);
	struct vfs_path p;
	int ret;

	if (fi && fi->fh) {
		reply_attr_path(req, fs, &fh_file(fi)->f_path);
		return;
	}
	ret = ffs_node_path(fs, ino, &p);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	reply_attr_path(req, fs, &p);
	vfs_path_put(&p);
}

/* A utimensat time from setattr's fields. */
static void set_time(struct timespec *ts, int to_set, int bit, int now_bit,
		     const struct timespec *v)
{
	if (to_set & now_bit) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else if (to_set & bit) {
		*ts = *v;
	} else {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	}
}

/*
 * Whether a mode change only drops suid/sgid on a file its caller does not
 * own. The host clears them after a write or truncate by someone else with
 * a SETATTR of the mode as that writer (even with handle_killpriv, on this
 * kernel), which chmod's owner check would refuse (EPERM, and the write
 * fails); Linux does it with ATTR_FORCE, no check. An explicit chmod(2) by
 * a non-owner never reaches us: default_permissions makes the host refuse
 * it first. So such a change is applied as the kernel's, not the caller's.
 */
static bool is_killpriv(struct rq *r, fuse_ino_t ino, mode_t mode)
{
	const mode_t priv = S_ISUID | S_ISGID;
	struct vfs_path p;
	mode_t old;
	bool kill;

	if (ffs_node_path(r->fs, ino, &p))
		return false;
	pthread_mutex_lock(&p.dentry->d_inode->i_lock);
	old = p.dentry->d_inode->i_mode & 07777;
	kill = p.dentry->d_inode->i_uid != r->t->cred.fsuid &&
	       S_ISREG(p.dentry->d_inode->i_mode) && (old & priv) &&
	       (old & ~priv) == (mode & ~priv) && !(mode & ~old);
	pthread_mutex_unlock(&p.dentry->d_inode->i_lock);
	vfs_path_put(&p);
	return kill;
}

/*
 * truncate(2) on a node without an open file: truncate's checks (EISDIR,
 * EINVAL, EROFS, write permission), then the VFS's truncate.
 */
static int truncate_node(struct rq *r, fuse_ino_t ino, off_t size)
{
	struct vfs_inode *inode;
	struct vfs_path p;
	int ret;

	if (size < 0)
		return -EINVAL;
	ret = ffs_node_path(r->fs, ino, &p);
	if (ret)
		return ret;
	inode = p.dentry->d_inode;
	if (S_ISDIR(inode->i_mode))
		ret = -EISDIR;
	else if (!S_ISREG(inode->i_mode))
		ret = -EINVAL;
	else
		ret = vfs_mnt_want_write(p.mnt);
	if (!ret)
		ret = vfs_permission(r->t, inode, MAY_WRITE);
	if (!ret)
		ret = vfs_do_truncate(r->t, p.dentry, size, NULL);
	vfs_path_put(&p);
	return ret;
}

/*
 * setattr: mode, owner, size and times, each through its syscall on the
 * node (chmod, chown, truncate or ftruncate on the open file, utimensat
 * with UTIME_NOW/UTIME_OMIT), in that order, as notify_change orders
 * them; the first error is the answer.
 */
static void ffs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct rq r;
	long ret = 0;
	int fd;

	if (!rq_start(req, &r))
		return;
	fd = node_fd(&r, ino);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		bool kill = is_killpriv(&r, ino, attr->st_mode & 07777);
		uid_t fsuid = r.t->cred.fsuid;

		if (kill)
			r.t->cred.fsuid = 0; /* the kernel's own change */
		ret = SC4(&r, SYS_fchmodat2, fd, "", attr->st_mode & 07777,
			  AT_EMPTY_PATH);
		r.t->cred.fsuid = fsuid;
		if (ret)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid :
							 (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid :
							 (gid_t)-1;

		ret = SC5(&r, SYS_fchownat, fd, "", uid, gid,
			  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (ret)
			goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (fi) { /* ftruncate, or O_TRUNC without atomic_o_trunc */
			int ffd = file_fd(&r, ino, fi, O_WRONLY);

			ret = ffd < 0 ? ffd :
			      SC2(&r, SYS_ftruncate, ffd, attr->st_size);
		} else {
			ret = truncate_node(&r, ino, attr->st_size);
		}
		if (ret)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec ts[2];

		set_time(&ts[0], to_set, FUSE_SET_ATTR_ATIME,
			 FUSE_SET_ATTR_ATIME_NOW, &attr->st_atim);
		set_time(&ts[1], to_set, FUSE_SET_ATTR_MTIME,
			 FUSE_SET_ATTR_MTIME_NOW, &attr->st_mtim);
		ret = SC4(&r, SYS_utimensat, fd, "", ts,
			  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (ret)
			goto out;
	}
out:
	if (ret) {
		fuse_reply_err(req, (int)-ret);
	} else {
		struct vfs_path p;

		ret = ffs_node_path(r.fs, ino, &p);
		if (ret) {
			fuse_reply_err(req, (int)-ret);
		} else {
			reply_attr_path(req, r.fs, &p);
			vfs_path_put(&p);
		}
	}
	rq_end(&r);
}

static void ffs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *buf = malloc(PATH_MAX + 1);
	struct rq r;
	long ret = 0;
	int fd;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!rq_start(req, &r)) {
		free(buf);
		return;
	}
	fd = node_fd(&r, ino);
	ret = fd < 0 ? fd : SC4(&r, SYS_readlinkat, fd, "", buf, PATH_MAX);
	if (ret < 0) {
		fuse_reply_err(req, (int)-ret);
	} else {
		buf[ret] = '\0';
		fuse_reply_readlink(req, buf);
	}
	rq_end(&r);
	free(buf);
}

/* ---- names ------------------------------------------------------------------ */

/*
 * The shape of every name-making call: the syscall relative to the
 * parent's descriptor, then a lookup of the new name for the entry.
 */
enum mk_kind { MK_NOD, MK_DIR, MK_SYMLINK, MK_LINK };

static void make_name(fuse_req_t req, enum mk_kind kind, fuse_ino_t parent,
		      const char *name, mode_t mode, dev_t rdev,
		      const char *target, fuse_ino_t old_ino)
{
	struct rq r;
	long ret = 0;
	int dfd, ofd;

	if (!rq_start(req, &r))
		return;
	dfd = node_fd(&r, parent);
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	switch (kind) {
	case MK_NOD:
		ret = SC4(&r, SYS_mknodat, dfd, name, mode, rdev);
		break;
	case MK_DIR:
		ret = SC3(&r, SYS_mkdirat, dfd, name, mode);
		break;
	case MK_SYMLINK:
		ret = SC3(&r, SYS_symlinkat, target, dfd, name);
		break;
	case MK_LINK:
		ofd = node_fd(&r, old_ino);
		ret = ofd < 0 ? ofd :
		      SC5(&r, SYS_linkat, ofd, "", dfd, name, AT_EMPTY_PATH);
		break;
	}
out:
	if (ret)
		fuse_reply_err(req, (int)-ret);
	else
		reply_name_entry(req, &r, dfd, name);
	rq_end(&r);
}

static void ffs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	make_name(req, MK_NOD, parent, name, mode, rdev, NULL, 0);
}

static void ffs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	make_name(req, MK_DIR, parent, name, mode, 0, NULL, 0);
}

static void ffs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	make_name(req, MK_SYMLINK, parent, name, 0, 0, link, 0);
}

static void ffs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	make_name(req, MK_LINK, newparent, newname, 0, 0, NULL, ino);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			int flags)
{
	struct rq r;
	long ret = 0;
	int dfd;

	if (!rq_start(req, &r))
		return;
	dfd = node_fd(&r, parent);
	ret = dfd < 0 ? dfd : SC3(&r, SYS_unlinkat, dfd, name, flags);
	fuse_reply_err(req, (int)-ret);
	rq_end(&r);
}

static void ffs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

static void ffs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, AT_REMOVEDIR);
}

static void ffs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct rq r;
	long ret = 0;
	int ofd, nfd;

	if (!rq_start(req, &r))
		return;
	ofd = node_fd(&r, parent);
	nfd = ofd < 0 ? ofd : node_fd(&r, newparent);
	ret = nfd < 0 ? nfd :
	      SC5(&r, SYS_renameat2, ofd, name, nfd, newname, flags);
	fuse_reply_err(req, (int)-ret);
	rq_end(&r);
}

/* ---- files ------------------------------------------------------------------ */

/*
 * The open file behind fi->fh: opened as the caller, with the flags the
 * host passed (O_CREAT/O_EXCL/O_NOCTTY never reach us; O_TRUNC does, with
 * atomic_o_trunc). O_DIRECT is the host's business (it bypasses its own
 * page cache and sends the caller's requests as they are); we serve them
 * from our page cache, which is coherent with everything, rather than
 * demand ukfs's alignment from requests the caller aligned for the host. The host keeps its page cache across opens
 * (keep_cache): every change that did not come through the mount
 * invalidates it (session.c), so it is never stale.
 */
static void ffs_open(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	struct vfs_file *f;
	struct vfs_path p;
	struct rq r;
	int ret = 0;

	if (((struct ffs *)fuse_req_userdata(req))->no_open) {
		fuse_reply_err(req, ENOSYS); /* and no OPEN comes again */
		return;
	}
	if (!rq_start(req, &r))
		return;
	ret = ffs_node_path(r.fs, ino, &p);
	if (ret)
		goto out;
	f = vfs_open_checked(r.t, &p, (unsigned int)fi->flags &
				      ~(unsigned int)(O_CREAT | O_EXCL |
						      O_NOCTTY | O_CLOEXEC |
						      O_DIRECT));
	vfs_path_put(&p);
	if (IS_ERR(f)) {
		ret = (int)PTR_ERR(f);
		goto out;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = 1;
	fi->noflush = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		vfs_fput(f); /* interrupted: no release will come */
out:
	if (ret)
		fuse_reply_err(req, -ret);
	rq_end(&r);
}

static void ffs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct vfs_file *f = NULL;
	struct rq r;
	long ret = 0;
	int dfd;

	if (!rq_start(req, &r))
		return;
	dfd = node_fd(&r, parent);
	ret = dfd < 0 ? dfd :
	      SC4(&r, SYS_openat, dfd, name,
		  (fi->flags | O_CREAT) & ~(O_NOCTTY | O_CLOEXEC | O_DIRECT),
		  mode);
	if (ret < 0)
		goto out;
	f = vfs_fget(r.t, (unsigned int)ret);
	if (IS_ERR_OR_NULL(f)) {
		ret = f ? PTR_ERR(f) : -EBADF;
		f = NULL;
		goto out;
	}
	ret = make_entry(&r, &f->f_path, &e);
	if (ret)
		goto out;
	/*
	 * Without OPEN, the host sends no RELEASE for a created file either
	 * (measured on 6.18): then the file is not kept, and its requests
	 * come with fh 0 like any other's (file_fd).
	 */
	fi->fh = r.fs->no_open ? 0 : (uintptr_t)f;
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		ffs_node_forget(r.fs, e.ino, 1);
		if (fi->fh)
			vfs_fput(f);
	}
	if (fi->fh)
		f = NULL;
out:
	if (ret)
		fuse_reply_err(req, (int)-ret);
	vfs_fput(f);
	rq_end(&r);
}

/*
 * The descriptor a READ reads through. Without an open file (no_open) it
 * is the node's shared read description (made by the first READ, kept
 * until the host forgets the node), so that a file's READs meet the
 * readahead state the previous ones left, as the reads of one open file
 * do: a description of its own per request made every READ after the
 * first look random to the page cache, which then read no more than was
 * asked (docs/fuse.md, "Readahead"). A READ of an O_NOATIME open file
 * gets a description of its own, with that flag.
 */
static int read_fd(struct rq *r, fuse_ino_t ino,
		   const struct fuse_file_info *fi)
{
	struct vfs_file *f, *shared;
	int ret;

	if (!fi || fi->fh || (fi->flags & O_NOATIME))
		return file_fd(r, ino, fi, O_RDONLY);
	f = ffs_node_rfile(r->fs, ino);
	if (!f) {
		f = node_open(r, ino, O_RDONLY);
		if (IS_ERR(f))
			return (int)PTR_ERR(f);
		shared = ffs_node_set_rfile(r->fs, ino, f);
		if (shared) {
			vfs_fput(f);
			f = shared;
		}
	}
	ret = install_file(r, f);
	vfs_fput(f);
	return ret;
}

/*
 * read: pread64 on the open file into a buffer of ours, which the reply
 * writes to /dev/fuse (one copy from the page cache, as the host's own
 * read from our reply is the other).
 */
static void ffs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct rq r;
	char *buf, *ring;
	long ret = 0;
	int fd;

	if (size >= FFS_BIG_IO)
		ffs_loop_may_block(); /* may read the disk: let others in */
	/* A ring worker reads straight into its entry's payload. */
	ring = ffs_uring_reply_buf(size);
	buf = ring ? ring : malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!rq_start(req, &r)) {
		if (!ring)
			free(buf);
		return;
	}
	fd = read_fd(&r, ino, fi);
	ret = fd < 0 ? fd : SC4(&r, SYS_pread64, fd, buf, size, off);
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_buf(req, buf, (size_t)ret);
	rq_end(&r);
	if (!ring)
		free(buf);
}

static void ffs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct rq r;
	long ret = 0;
	int fd;

	if (size >= FFS_BIG_IO)
		ffs_loop_may_block(); /* may wait for writeback */
	if (!rq_start(req, &r))
		return;
	fd = file_fd(&r, ino, fi, O_WRONLY);
	ret = fd < 0 ? fd : SC4(&r, SYS_pwrite64, fd, buf, size, off);
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_write(req, (size_t)ret);
	rq_end(&r);
}

/*
 * write_buf: the data is in memory unless splice_read moved it into a pipe;
 * then it is copied out first (the page cache is memory either way).
 */
static void ffs_write_buf(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_bufvec *bufv, off_t off,
			  struct fuse_file_info *fi)
{
	size_t size = fuse_buf_size(bufv);
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
	ssize_t got;
	char *buf;

	if (bufv->count == 1 && !(bufv->buf[0].flags & FUSE_BUF_IS_FD)) {
		ffs_write(req, ino, (const char *)bufv->buf[0].mem +
				    bufv->off, bufv->buf[0].size - bufv->off,
			  off, fi);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	dst.buf[0].mem = buf;
	got = fuse_buf_copy(&dst, bufv, 0);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		ffs_write(req, ino, buf, (size_t)got, off, fi);
	free(buf);
}

/* The lock owner keys of the lock engine for a FUSE lock owner. */
static const void *posix_owner(uint64_t lock_owner)
{
	return (const void *)(uintptr_t)(lock_owner | 1);
}

/*
 * flush: the close(2) of one descriptor of the file: the POSIX locks of
 * its owner go, as close does.
 */
static void ffs_flush(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct vfs_inode *inode;
	struct vfs_lock_ctx *ctx;

	if (!req_fs(req)->remote_locks) {
		/* The host keeps the locks: no FLUSH need come again. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	inode = fh_inode(req_fs(req), ino, fi);
	if (inode) { /* else forgotten: nothing can be locked on it */
		ctx = vfs_locks_ctx(inode, false);
		if (ctx && !IS_ERR(ctx))
			vfs_locks_remove_owner(ctx,
					       posix_owner(fi->lock_owner));
		vfs_iput(inode);
	}
	fuse_reply_err(req, 0);
}

/* release: the last close; flock locks of the file go with it (fput). */
static void ffs_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	ffs_in_handler = true;
	struct vfs_file *f = fh_file(fi);

	if (f && fi->flock_release) {
		struct vfs_lock_ctx *ctx = vfs_locks_ctx(f->f_inode, false);

		if (ctx && !IS_ERR(ctx))
			vfs_locks_remove_owner(ctx, f);
	}
	vfs_fput(f);
	fuse_reply_err(req, 0);
}

static void do_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct rq r;
	long ret = 0;
	int fd;

	ffs_loop_may_block(); /* waits for the disk */
	if (!rq_start(req, &r))
		return;
	fd = file_fd(&r, ino, fi, O_RDONLY);
	ret = fd < 0 ? fd : sc(&r, datasync ? SYS_fdatasync : SYS_fsync,
			       (unsigned long)fd, 0, 0, 0, 0, 0);
	fuse_reply_err(req, (int)-ret);
	rq_end(&r);
}

static void ffs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	do_fsync(req, ino, datasync, fi);
}

/* ---- directories --------------------------------------------------------------- */

static void ffs_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct vfs_file *f;
	struct vfs_path p;
	struct rq r;
	int ret = 0;

	if (!rq_start(req, &r))
		return;
	ret = ffs_node_path(r.fs, ino, &p);
	if (ret)
		goto out;
	f = vfs_open_checked(r.t, &p, O_RDONLY | O_DIRECTORY);
	vfs_path_put(&p);
	if (IS_ERR(f)) {
		ret = (int)PTR_ERR(f);
		goto out;
	}
	fi->fh = (uintptr_t)f;
	if (fuse_reply_open(req, fi) == -ENOENT)
		vfs_fput(f);
out:
	if (ret)
		fuse_reply_err(req, -ret);
	rq_end(&r);
}

/* The buffer of one readdir reply, filled by the file system's iterate. */
struct rd_ctx {
	struct vfs_dir_context ctx;
	struct rq *r;
	struct vfs_file *dir;
	fuse_req_t req;
	bool plus;
	char *buf;
	size_t size, used;
	int error;
};

static bool rd_actor(struct vfs_dir_context *c, const char *name, int len,
		     int64_t next, uint64_t ino, unsigned int type)
{
	struct rd_ctx *rd = (struct rd_ctx *)c;
	struct ffs *fs = rd->r->fs;
	char nbuf[UK_NAME_MAX + 1];
	size_t need;

	memcpy(nbuf, name, (size_t)len);
	nbuf[len] = '\0';
	if (!rd->plus) {
		struct stat st = { .st_ino = ino, .st_mode = type << 12 };

		need = fuse_add_direntry(rd->req, rd->buf + rd->used,
					 rd->size - rd->used, nbuf, &st, next);
	} else {
		struct fuse_entry_param e = { 0 };
		bool dot = (len == 1 && name[0] == '.') ||
			   (len == 2 && name[0] == '.' && name[1] == '.');

		/* Measure first: a lookup count must only go with a sent entry. */
		need = fuse_add_direntry_plus(rd->req, NULL, 0, nbuf, NULL, 0);
		if (need > rd->size - rd->used)
			return false;
		e.attr.st_ino = ino;
		e.attr.st_mode = type << 12;
		if (!dot && vfs_permission(rd->r->t, rd->dir->f_inode,
					   MAY_EXEC) == 0) {
			/* ns_lock is read-held by our caller: a cached walk. */
			struct vfs_dentry *d = vfs_lookup_one(
				fs->k->vfs, rd->dir->f_path.dentry, name,
				(uint32_t)len);

			if (!IS_ERR_OR_NULL(d) && d->d_inode) {
				struct vfs_path p = { rd->dir->f_path.mnt, d };

				if (make_entry(rd->r, &p, &e))
					memset(&e, 0, sizeof(e));
			}
			if (!e.ino) {
				e.attr.st_ino = ino;
				e.attr.st_mode = type << 12;
			}
		}
		need = fuse_add_direntry_plus(rd->req, rd->buf + rd->used,
					      rd->size - rd->used, nbuf, &e,
					      next);
	}
	if (need > rd->size - rd->used)
		return false;
	rd->used += need;
	return true;
}

/*
 * readdir/readdirplus: the directory's iterate from the offset the host
 * gives (a readdir cookie, the d_off of the entry before), as getdents64
 * runs it (f_pos_lock, ns_lock read). Plus entries count one lookup each,
 * except "." and "..", which carry no node.
 */
static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct vfs_file *f = fh_file(fi);
	struct uk_vfs *vfs;
	struct rd_ctx rd = { .ctx.actor = rd_actor, .req = req, .plus = plus,
			     .dir = f, .size = size };
	struct rq r;
	int ret = 0;

	rd.buf = malloc(size ? size : 1);
	if (!rd.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!rq_start(req, &r)) {
		free(rd.buf);
		return;
	}
	rd.r = &r;
	vfs = r.fs->k->vfs;
	if (!f->f_op || !f->f_op->iterate) {
		ret = -ENOTDIR;
		goto out;
	}
	pthread_mutex_lock(&f->f_pos_lock);
	pthread_rwlock_rdlock(&vfs->ns_lock);
	if (f->f_inode->i_nlink == 0) {
		ret = -ENOENT;
	} else {
		rd.ctx.pos = off;
		ret = f->f_op->iterate(f, &rd.ctx);
	}
	pthread_rwlock_unlock(&vfs->ns_lock);
	pthread_mutex_unlock(&f->f_pos_lock);
	if (!ret)
		vfs_touch_atime(&f->f_path);
out:
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, rd.buf, rd.used);
	rq_end(&r);
	free(rd.buf);
}

static void ffs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, false);
}

static void ffs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, true);
}

static void ffs_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	ffs_in_handler = true;
	vfs_fput(fh_file(fi));
	fuse_reply_err(req, 0);
}

static void ffs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	do_fsync(req, ino, datasync, fi);
}

/* ---- locks -------------------------------------------------------------------- */

/*
 * POSIX record locks go to the kernel's lock engine with the host's lock
 * owner (one per fd table, as fcntl's owner) as the key, so they conflict
 * with the ring's locks on the same inode. A blocking F_SETLKW sleeps in
 * this worker (libfuse starts another); an interrupt ends it (EINTR).
 */
static void lock_interrupt(fuse_req_t req, void *data)
{
	vfs_locks_interrupt(data);
}

static int lock_req(struct fuse_file_info *fi, const struct flock *lk,
		    struct vfs_lock_req *lr, pid_t pid)
{
	memset(lr, 0, sizeof(*lr));
	lr->type = lk->l_type;
	lr->flags = VFS_FL_POSIX;
	lr->start = lk->l_start;
	lr->end = lk->l_len ? lk->l_start + lk->l_len - 1 : INT64_MAX;
	if (lk->l_len < 0 || lr->start < 0)
		return -EINVAL;
	lr->owner = posix_owner(fi->lock_owner);
	lr->pid = pid;
	return 0;
}

static void ffs_getlk(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi, struct flock *lock)
{
	struct vfs_inode *inode = fh_inode(req_fs(req), ino, fi);
	struct vfs_lock_ctx *ctx;
	struct vfs_lock_req lr;
	int ret = lock_req(fi, lock, &lr, fuse_req_ctx(req)->pid);

	if (!ret && !inode)
		ret = -ESTALE;
	if (ret) {
		fuse_reply_err(req, -ret);
		vfs_iput(inode);
		return;
	}
	ctx = vfs_locks_ctx(inode, false);
	vfs_posix_test(IS_ERR(ctx) ? NULL : ctx, &lr);
	vfs_iput(inode);
	lock->l_type = lr.type;
	if (lr.type != F_UNLCK) {
		lock->l_whence = SEEK_SET;
		lock->l_start = lr.start;
		lock->l_len = lr.end == INT64_MAX ? 0 : lr.end - lr.start + 1;
		lock->l_pid = lr.pid;
	}
	fuse_reply_lock(req, lock);
}

static void ffs_setlk(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi, struct flock *lock, int sleep)
{
	struct vfs_inode *inode = fh_inode(req_fs(req), ino, fi);
	struct vfs_file *f = fi->fh ? fh_file(fi) : NULL;
	struct vfs_lock_ctx *ctx;
	struct vfs_lock_req lr;
	int ret = lock_req(fi, lock, &lr, fuse_req_ctx(req)->pid);
	int token; /* a unique address: the sleeper for lock_interrupt */

	if (!ret && !inode)
		ret = -ESTALE;
	if (ret)
		goto out;
	/* Without an open (no_open), the host checked the mode itself. */
	if (f && ((lock->l_type == F_RDLCK && !(f->f_mode & FMODE_READ)) ||
		  (lock->l_type == F_WRLCK && !(f->f_mode & FMODE_WRITE)))) {
		ret = -EBADF;
		goto out;
	}
	ctx = vfs_locks_ctx(inode, lock->l_type != F_UNLCK);
	if (IS_ERR(ctx)) {
		ret = (int)PTR_ERR(ctx);
		goto out;
	}
	if (!ctx)
		goto out; /* unlocking where nothing was ever locked */
	lr.task = &token;
	if (sleep) {
		lr.flags |= VFS_FL_SLEEP;
		ffs_loop_may_block(); /* the unlock is another request */
		fuse_req_interrupt_func(req, lock_interrupt, &token);
	}
	ret = vfs_posix_lock(ctx, &lr);
	if (sleep)
		fuse_req_interrupt_func(req, NULL, NULL);
out:
	vfs_iput(inode);
	fuse_reply_err(req, -ret);
}

/* flock: the open file description is the owner, as flock(2)'s. */
static void ffs_flock(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi, int op)
{
	struct vfs_file *f = fh_file(fi);
	struct vfs_lock_ctx *ctx;
	struct vfs_lock_req lr = { .owner = f, .pid = -1 };
	int ret = 0, token;

	if (!f) { /* not asked without remote_locks */
		ret = -ENOLCK;
		goto out;
	}
	switch (op & ~LOCK_NB) {
	case LOCK_SH: lr.type = F_RDLCK; break;
	case LOCK_EX: lr.type = F_WRLCK; break;
	case LOCK_UN: lr.type = F_UNLCK; break;
	default:
		ret = -EINVAL;
		goto out;
	}
	ctx = vfs_locks_ctx(f->f_inode, lr.type != F_UNLCK);
	if (IS_ERR(ctx)) {
		ret = (int)PTR_ERR(ctx);
		goto out;
	}
	if (!ctx)
		goto out;
	lr.task = &token;
	if (!(op & LOCK_NB)) {
		lr.flags |= VFS_FL_SLEEP;
		ffs_loop_may_block();
		fuse_req_interrupt_func(req, lock_interrupt, &token);
	}
	ret = vfs_flock_lock(ctx, &lr);
	if (!(op & LOCK_NB))
		fuse_req_interrupt_func(req, NULL, NULL);
out:
	fuse_reply_err(req, -ret);
}

/* ---- xattrs ------------------------------------------------------------------ */

/*
 * The checked cores of the xattr syscalls, on the node's dentry (a symlink
 * is itself: the host resolved the path). size 0 asks for the size.
 */
static void ffs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	struct vfs_path p;
	struct rq r;
	int ret = 0;

	if (!rq_start(req, &r))
		return;
	ret = ffs_node_path(r.fs, ino, &p);
	if (!ret) {
		ret = vfs_setxattr(r.t, &p, name, value, size, flags);
		vfs_path_put(&p);
	}
	fuse_reply_err(req, -ret);
	rq_end(&r);
}

static void reply_xattr(fuse_req_t req, long ret, const void *buf,
			size_t size)
{
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else if (!size)
		fuse_reply_xattr(req, (size_t)ret);
	else
		fuse_reply_buf(req, buf, (size_t)ret);
}

/*
 * getxattr and listxattr differ only in the VFS call: name is NULL for a
 * list. size 0 asks for the length alone (reply_xattr).
 */
static void xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	struct vfs_path p;
	struct rq r;
	long ret = 0;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!rq_start(req, &r)) {
		free(buf);
		return;
	}
	ret = ffs_node_path(r.fs, ino, &p);
	if (!ret) {
		ret = name ? vfs_getxattr(r.t, p.dentry, name, buf, size)
			   : vfs_listxattr(r.t, p.dentry, buf, size);
		vfs_path_put(&p);
	}
	reply_xattr(req, ret, buf, size);
	rq_end(&r);
	free(buf);
}

static void ffs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	xattr_read(req, ino, name, size);
}

static void ffs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read(req, ino, NULL, size);
}

static void ffs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct vfs_path p;
	struct rq r;
	int ret = 0;

	if (!rq_start(req, &r))
		return;
	ret = ffs_node_path(r.fs, ino, &p);
	if (!ret) {
		ret = vfs_removexattr(r.t, &p, name);
		vfs_path_put(&p);
	}
	fuse_reply_err(req, -ret);
	rq_end(&r);
}

/* ---- the rest -------------------------------------------------------------------- */

static void ffs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { 0 };
	struct statfs sf;
	struct rq r;
	long ret = 0;
	int fd;

	if (!rq_start(req, &r))
		return;
	fd = node_fd(&r, ino);
	ret = fd < 0 ? fd : SC2(&r, SYS_fstatfs, fd, &sf);
	if (ret) {
		fuse_reply_err(req, (int)-ret);
	} else {
		sv.f_bsize = (unsigned long)sf.f_bsize;
		sv.f_frsize = sf.f_frsize ? (unsigned long)sf.f_frsize :
					    (unsigned long)sf.f_bsize;
		sv.f_blocks = sf.f_blocks;
		sv.f_bfree = sf.f_bfree;
		sv.f_bavail = sf.f_bavail;
		sv.f_files = sf.f_files;
		sv.f_ffree = sf.f_ffree;
		sv.f_favail = sf.f_ffree;
		sv.f_namemax = (unsigned long)sf.f_namelen;
		fuse_reply_statfs(req, &sv);
	}
	rq_end(&r);
}

/*
 * access(2): the host calls it with the caller's real ids already in the
 * request, so the check is faccessat2 with AT_EACCESS on the node.
 */
static void ffs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct rq r;
	long ret = 0;
	int fd;

	if (!rq_start(req, &r))
		return;
	fd = node_fd(&r, ino);
	ret = fd < 0 ? fd : SC4(&r, SYS_faccessat2, fd, "", mask,
				AT_EMPTY_PATH | AT_EACCESS);
	fuse_reply_err(req, (int)-ret);
	rq_end(&r);
}

static void ffs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t offset, off_t length,
			  struct fuse_file_info *fi)
{
	struct rq r;
	long ret = 0;
	int fd;

	if (!rq_start(req, &r))
		return;
	fd = file_fd(&r, ino, fi, O_WRONLY);
	ret = fd < 0 ? fd : SC4(&r, SYS_fallocate, fd, mode, offset, length);
	fuse_reply_err(req, (int)-ret);
	rq_end(&r);
}

/* lseek: the host asks only for SEEK_DATA and SEEK_HOLE. */
static void ffs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	struct rq r;
	long ret = 0;
	int fd;

	if (!rq_start(req, &r))
		return;
	fd = file_fd(&r, ino, fi, O_RDONLY);
	ret = fd < 0 ? fd : SC3(&r, SYS_lseek, fd, off, whence);
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_lseek(req, ret);
	rq_end(&r);
}

/*
 * copy_file_range between two open files of the mount: the kernel's own
 * copy (page cache to page cache), with no data crossing /dev/fuse.
 */
static void ffs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
				off_t off_in, struct fuse_file_info *fi_in,
				fuse_ino_t ino_out, off_t off_out,
				struct fuse_file_info *fi_out, size_t len,
				int flags)
{
	int64_t pin = off_in, pout = off_out;
	struct rq r;
	long ret = 0;
	int fin, fout;

	if (!rq_start(req, &r))
		return;
	fin = file_fd(&r, ino_in, fi_in, O_RDONLY);
	fout = fin < 0 ? fin : file_fd(&r, ino_out, fi_out, O_WRONLY);
	ret = fout < 0 ? fout :
	      SC6(&r, SYS_copy_file_range, fin, &pin, fout, &pout, len, flags);
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_write(req, (size_t)ret);
	rq_end(&r);
}

/* ---- the table ---------------------------------------------------------------- */

const struct fuse_lowlevel_ops ffs_ops = {
	.init = ffs_init,
	.destroy = ffs_destroy,
	.lookup = ffs_lookup,
	.forget = ffs_forget,
	.forget_multi = ffs_forget_multi,
	.getattr = ffs_getattr,
	.setattr = ffs_setattr,
	.readlink = ffs_readlink,
	.mknod = ffs_mknod,
	.mkdir = ffs_mkdir,
	.unlink = ffs_unlink,
	.rmdir = ffs_rmdir,
	.symlink = ffs_symlink,
	.rename = ffs_rename,
	.link = ffs_link,
	.open = ffs_open,
	.create = ffs_create,
	.read = ffs_read,
	.write = ffs_write,
	.write_buf = ffs_write_buf,
	.flush = ffs_flush,
	.release = ffs_release,
	.fsync = ffs_fsync,
	.opendir = ffs_opendir,
	.readdir = ffs_readdir,
	.readdirplus = ffs_readdirplus,
	.releasedir = ffs_releasedir,
	.fsyncdir = ffs_fsyncdir,
	.statfs = ffs_statfs,
	.access = ffs_access,
	.setxattr = ffs_setxattr,
	.getxattr = ffs_getxattr,
	.listxattr = ffs_listxattr,
	.removexattr = ffs_removexattr,
	.getlk = ffs_getlk,
	.setlk = ffs_setlk,
	.flock = ffs_flock,
	.fallocate = ffs_fallocate,
	.lseek = ffs_lseek,
	.copy_file_range = ffs_copy_file_range,
};
