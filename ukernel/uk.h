/* SPDX-License-Identifier: MIT */
/*
 * ukernel/uk.h - the kernel's public interface, as ukerneld, the FUSE
 * front-end and the tests see it: a kernel instance, tasks (client processes)
 * and one entry point, uk_dispatch(), which does what do_syscall_64 does.
 *
 * Every function here returns >= 0 on success and -errno on failure, except
 * where it says it returns a pointer (then ERR_PTR-style, see uk_err.h).
 */
#ifndef UK_UK_H
#define UK_UK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uk_kernel;
struct uk_task;

/* Credentials of a task, as struct cred holds them. */
#define UK_NGROUPS_MAX 64
struct uk_cred {
	uid_t uid, euid, suid, fsuid;
	gid_t gid, egid, sgid, fsgid;
	unsigned int ngroups;
	gid_t groups[UK_NGROUPS_MAX];
};

/* Options of a kernel instance; zero means the default. */
struct uk_kernel_opts {
	uint64_t tmpfs_size;     /* bytes for the root tmpfs; default 1 GiB */
	uint64_t tmpfs_inodes;   /* inode limit for the root tmpfs; default 1M */
	unsigned int nr_open;    /* per-task fd limit (RLIMIT_NOFILE); 1024 */
	/*
	 * The clients' virtual root ("/uk"), or NULL: an absolute symlink
	 * body under it ("/uk/a/b", as a program under the shim writes it)
	 * is followed from "/" without it (docs/vfs.md). Not copied: it must
	 * outlive the kernel.
	 */
	const char *link_root;
};

/* Creates a kernel with an empty tmpfs mounted at its root. */
struct uk_kernel *uk_kernel_new(const struct uk_kernel_opts *opts);
/* Tears a kernel down; every task must have exited. */
void uk_kernel_free(struct uk_kernel *k);

/*
 * Serving a ukfs image (ukernel/fs_ukfs*.c, docs/ukfs.md).
 *
 * uk_kernel_mount_image() opens the image directory image_dir (the SQLite
 * database plus the block file, made by `ukctl mkfs`) and mounts it at the
 * kernel's root, over the empty root tmpfs; tasks created afterwards see it
 * as "/". Call it before the first uk_task_new(). opts may be NULL for the
 * defaults. On failure it returns -errno and, when errbuf is not NULL, a
 * one-line message saying what is wrong ("database too short", "format
 * version 7, expected 1", ...) in errbuf (NUL-terminated, at most errlen
 * bytes); the kernel is left with its tmpfs root.
 *
 * uk_kernel_sync() writes back every dirty page of every ukfs mount,
 * commits the metadata transaction and flushes the device (what sync(2)
 * does); ukerneld calls it on SIGTERM. Returns 0 or -errno (-EIO when
 * writeback failed). It is a no-op returning 0 without an image.
 *
 * uk_kernel_free() unmounts the image cleanly: writes back, commits, marks
 * the image clean and closes it.
 */
struct uk_image_opts {
	uint64_t cache_size;     /* page cache limit in bytes; default 256 MiB */
	unsigned int commit_ms;  /* metadata commit interval; default 5000 */
	bool read_only;          /* mount read-only: writes fail with -EROFS */
};

int uk_kernel_mount_image(struct uk_kernel *k, const char *image_dir,
			  const struct uk_image_opts *opts, char *errbuf,
			  size_t errlen);
int uk_kernel_sync(struct uk_kernel *k);

/*
 * Tasks. uk_task_new() makes the first task of a process tree (cwd and root
 * at the kernel's root, umask 022). uk_task_fork() makes a child that shares
 * the parent's open file descriptions through a copy of its fd table.
 * uk_task_exec() closes O_CLOEXEC descriptors. uk_task_exit() releases the
 * descriptors, record locks and the task itself.
 */
struct uk_task *uk_task_new(struct uk_kernel *k, pid_t pid,
			    const struct uk_cred *cred);
struct uk_task *uk_task_fork(struct uk_task *parent, pid_t child_pid);
int uk_task_exec(struct uk_task *task);
void uk_task_exit(struct uk_task *task);
/*
 * Sets the task's descriptor limit (RLIMIT_NOFILE's soft limit: EMFILE at
 * or above, F_DUPFD and dup2 checked against it), clamped to [1, 1 << 20]
 * (Linux's default fs.nr_open). Descriptors already above stay open.
 */
void uk_task_set_nofile(struct uk_task *task, uint64_t limit);
/* A credential set for a plain user: uid, gid, no supplementary groups. */
void uk_cred_init(struct uk_cred *cred, uid_t uid, gid_t gid);

/*
 * The system call entry: nr is the x86-64 syscall number, args the six
 * argument words as pt_regs holds them (rdi, rsi, rdx, r10, r8, r9).
 * Returns the syscall's result, or -errno (-ENOSYS for a number outside the
 * table or not implemented).
 */
long uk_dispatch(struct uk_task *task, unsigned long nr,
		 const unsigned long args[6]);

/*
 * Interrupting one call, as a signal interrupts a blocked system call.
 * Whoever runs calls on behalf of a client thread (the ring server's
 * worker) names the call with uk_intr_set_current() before uk_dispatch()
 * and with NULL after it. The call is to be interrupted while
 * (*word & mask) != 0: the ring's word is the slot's state word in the
 * client's region, where the client sets UK_SLOT_INTR; the kernel only
 * reads it, and a client can only interrupt its own call with it. A call
 * that would sleep interruptibly (a blocking lock request: F_SETLKW,
 * F_OFD_SETLKW, flock without LOCK_NB) then returns -EINTR instead of
 * sleeping, and uk_intr_wake(in), called from any thread after the word
 * changed, ends such a sleep that is already under way. A call that need
 * not sleep is not affected: a free lock is granted, as on Linux.
 */
struct uk_intr {
	const _Atomic uint32_t *word;
	uint32_t mask;
};
void uk_intr_set_current(const struct uk_intr *in);
void uk_intr_wake(const struct uk_intr *in);

/* The name of syscall nr ("read"), or NULL outside the table. */
const char *uk_syscall_name(unsigned long nr);
/* Number of entries in the table (highest number + 1). */
unsigned long uk_syscall_count(void);

#endif /* UK_UK_H */
