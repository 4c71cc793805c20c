/* SPDX-License-Identifier: MIT */
/*
 * ukernel/internal.h - what the kernel's own files share and nothing outside
 * ukernel/ may use: the task and kernel structures, SYSCALL_DEFINEn, uaccess,
 * and the hand-over points between the dispatch layer (syscall table,
 * dispatcher, tasks, uaccess, stats/trace/policy) and the VFS (fd tables,
 * files, path walk, file systems).
 *
 * Sections: kernel, task, uaccess, syscall definitions, VFS hand-over.
 */
#ifndef UK_INTERNAL_H
#define UK_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "uk.h"
#include "uk_err.h"

#define UK_PATH_MAX 4096 /* including the NUL, as PATH_MAX */
#define UK_NAME_MAX 255

#define UK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define uk_container_of(ptr, type, member)                                     \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define uk_likely(x) __builtin_expect(!!(x), 1)
#define uk_unlikely(x) __builtin_expect(!!(x), 0)

/* ---- kernel ---------------------------------------------------------- */

struct uk_vfs;      /* mount table and root: owned by the VFS (vfs/ files) */
struct uk_sysstats; /* per-syscall counters: owned by the dispatch layer */
struct uk_trace;    /* trace hooks: owned by the dispatch layer */
struct uk_policy;   /* policy rules: owned by the dispatch layer */
struct uk_notifier; /* change notifiers: vfs_notify.h */

struct uk_kernel {
	struct uk_kernel_opts opts;
	struct uk_vfs *vfs;
	struct uk_sysstats *stats;
	/*
	 * Hooks read on every call; NULL (the common case) costs one load
	 * and one predictable branch. Set with release, read with acquire.
	 */
	_Atomic(struct uk_trace *) trace;
	_Atomic(struct uk_policy *) policy;
	atomic_int next_pid; /* for tasks created without a host pid */
	/*
	 * Change notifiers (vfs_notify.c): a list published with release,
	 * read with acquire (NULL, the common case, costs one load);
	 * notify_lock serialises writers; notify_active counts deliveries in
	 * flight, so unregister can wait for them.
	 */
	_Atomic(struct uk_notifier *) notifiers;
	pthread_mutex_t notify_lock;
	atomic_long notify_active;
};

/* ---- task ------------------------------------------------------------- */

struct uk_task;

/*
 * How the kernel reaches a task's memory ("user space"). The default backs
 * it with the calling process's own memory (tests, in-process benchmarks);
 * the ring server backs it with the client's slot and process_vm_*v.
 * Every op returns 0 or -EFAULT and never faults itself.
 */
struct uk_mm_ops {
	/* Copies n bytes from user address src into dst. */
	int (*copy_from)(struct uk_task *t, void *dst, unsigned long src,
			 size_t n);
	/* Copies n bytes from src to user address dst. */
	int (*copy_to)(struct uk_task *t, unsigned long dst, const void *src,
		       size_t n);
	/*
	 * Copies a NUL-terminated string of at most n bytes (NUL included)
	 * from user address src; returns its length (without the NUL), n if
	 * no NUL was found within n bytes, or -EFAULT.
	 */
	long (*strncpy_from)(struct uk_task *t, char *dst, unsigned long src,
			     size_t n);
};

/* Per-task I/O accounting, as /proc/PID/io shows it. */
struct uk_task_io {
	uint64_t rchar, wchar, syscr, syscw;
};

/*
 * The front-end a task came through (vfs_notify.h's events carry the
 * task): in-process callers and tests, the ring server, the FUSE session.
 */
enum uk_frontend { UK_FRONTEND_LOCAL = 0, UK_FRONTEND_RING, UK_FRONTEND_FUSE };

struct uk_fs_struct;    /* cwd, root, umask: owned by the VFS */
struct uk_files_struct; /* fd table: owned by the VFS */

struct uk_task {
	struct uk_kernel *kernel;
	pid_t pid, ppid, tid;
	struct uk_cred cred;        /* protected by cred_lock for writers */
	pthread_mutex_t cred_lock;  /* setuid family vs concurrent readers */
	struct uk_fs_struct *fs;
	struct uk_files_struct *files;
	const struct uk_mm_ops *mm;
	void *mm_priv;              /* the mm backend's per-task data */
	struct uk_task_io io;       /* updated only by the task's own calls */
	void *owner;                /* for the front-end that made the task */
	/* Which front-end made it: a notifier skips its own changes. */
	enum uk_frontend frontend;
};

/* ---- uaccess (dispatch layer) ----------------------------------------- */

/* A user address: an argument word that must go through uaccess. */
typedef unsigned long uk_uptr;

static inline int copy_from_user(struct uk_task *t, void *dst, uk_uptr src,
				 size_t n)
{
	return n ? t->mm->copy_from(t, dst, src, n) : 0;
}

static inline int copy_to_user(struct uk_task *t, uk_uptr dst,
			       const void *src, size_t n)
{
	return n ? t->mm->copy_to(t, dst, src, n) : 0;
}

/*
 * Copies a path from user memory into buf (UK_PATH_MAX bytes). Returns its
 * length, -EFAULT on a bad pointer, -ENAMETOOLONG when it does not fit,
 * -ENOENT for an empty path unless allow_empty.
 */
long uk_getname(struct uk_task *t, uk_uptr upath, char *buf,
		bool allow_empty);

/* The mm backend over the calling process's own memory. */
extern const struct uk_mm_ops uk_self_mm_ops;

/* ---- syscall definitions (dispatch layer) ------------------------------ */

typedef long (*uk_syscall_fn)(struct uk_task *task, const unsigned long *args);

/*
 * SYSCALL_DEFINEn(name, type1, arg1, ...) declares sys_<name>, the table's
 * entry, which cuts each argument word to its declared type exactly as
 * Linux's __SC_CAST does (an int fd is the low 32 bits), and the typed body
 * that follows the macro. User pointers are declared as uk_uptr.
 */
#define __UK_SC_DECL1(t, a) t a
#define __UK_SC_DECL2(t, a, ...) t a, __UK_SC_DECL1(__VA_ARGS__)
#define __UK_SC_DECL3(t, a, ...) t a, __UK_SC_DECL2(__VA_ARGS__)
#define __UK_SC_DECL4(t, a, ...) t a, __UK_SC_DECL3(__VA_ARGS__)
#define __UK_SC_DECL5(t, a, ...) t a, __UK_SC_DECL4(__VA_ARGS__)
#define __UK_SC_DECL6(t, a, ...) t a, __UK_SC_DECL5(__VA_ARGS__)
#define __UK_SC_CAST1(i, t, a) (t)args[i]
#define __UK_SC_CAST2(i, t, a, ...) (t)args[i], __UK_SC_CAST1(i + 1, __VA_ARGS__)
#define __UK_SC_CAST3(i, t, a, ...) (t)args[i], __UK_SC_CAST2(i + 1, __VA_ARGS__)
#define __UK_SC_CAST4(i, t, a, ...) (t)args[i], __UK_SC_CAST3(i + 1, __VA_ARGS__)
#define __UK_SC_CAST5(i, t, a, ...) (t)args[i], __UK_SC_CAST4(i + 1, __VA_ARGS__)
#define __UK_SC_CAST6(i, t, a, ...) (t)args[i], __UK_SC_CAST5(i + 1, __VA_ARGS__)

#define SYSCALL_DEFINE0(name)                                                  \
	long sys_##name(struct uk_task *task, const unsigned long *args);      \
	static long __do_sys_##name(struct uk_task *task);                     \
	long sys_##name(struct uk_task *task, const unsigned long *args)       \
	{                                                                      \
		(void)args;                                                    \
		return __do_sys_##name(task);                                  \
	}                                                                      \
	static long __do_sys_##name(struct uk_task *task)

#define __UK_SYSCALL_DEFINEx(x, name, ...)                                     \
	long sys_##name(struct uk_task *task, const unsigned long *args);      \
	static long __do_sys_##name(struct uk_task *task,                      \
				    __UK_SC_DECL##x(__VA_ARGS__));             \
	long sys_##name(struct uk_task *task, const unsigned long *args)       \
	{                                                                      \
		return __do_sys_##name(task, __UK_SC_CAST##x(0, __VA_ARGS__)); \
	}                                                                      \
	static long __do_sys_##name(struct uk_task *task,                      \
				    __UK_SC_DECL##x(__VA_ARGS__))

#define SYSCALL_DEFINE1(name, ...) __UK_SYSCALL_DEFINEx(1, name, __VA_ARGS__)
#define SYSCALL_DEFINE2(name, ...) __UK_SYSCALL_DEFINEx(2, name, __VA_ARGS__)
#define SYSCALL_DEFINE3(name, ...) __UK_SYSCALL_DEFINEx(3, name, __VA_ARGS__)
#define SYSCALL_DEFINE4(name, ...) __UK_SYSCALL_DEFINEx(4, name, __VA_ARGS__)
#define SYSCALL_DEFINE5(name, ...) __UK_SYSCALL_DEFINEx(5, name, __VA_ARGS__)
#define SYSCALL_DEFINE6(name, ...) __UK_SYSCALL_DEFINEx(6, name, __VA_ARGS__)

/* ---- VFS hand-over ---------------------------------------------------- */
/*
 * The dispatch layer owns the task's life; the VFS owns what hangs off it.
 * These are the VFS's, called by uk_kernel_new/free and the task functions.
 */
int uk_vfs_init(struct uk_kernel *k);    /* mounts the root tmpfs */
void uk_vfs_exit(struct uk_kernel *k);

struct uk_fs_struct *uk_fs_new(struct uk_kernel *k);  /* cwd = root = / */
struct uk_fs_struct *uk_fs_copy(struct uk_fs_struct *fs);
void uk_fs_put(struct uk_fs_struct *fs);

struct uk_files_struct *uk_files_new(unsigned int nr_open);
/* A copy of the table sharing every open file description (fork). */
struct uk_files_struct *uk_files_dup(struct uk_files_struct *files);
/* Closes O_CLOEXEC descriptors (exec). */
void uk_files_close_on_exec(struct uk_task *task);
/*
 * Drops the task's reference on its fd table, closing every descriptor when
 * it was the last, and releases the task's POSIX record locks (exit).
 */
void uk_files_exit(struct uk_task *task);

#endif /* UK_INTERNAL_H */
