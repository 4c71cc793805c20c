// SPDX-License-Identifier: MIT
/*
 * ukernel/task.c - tasks, the kernel's view of a client process: pid,
 * credentials, fs (cwd, root, umask) and fd table, through fork, exec and
 * exit as Linux's kernel/fork.c and fs/exec.c treat them.
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

void uk_cred_init(struct uk_cred *cred, uid_t uid, gid_t gid)
{
	memset(cred, 0, sizeof(*cred));
	cred->uid = cred->euid = cred->suid = cred->fsuid = uid;
	cred->gid = cred->egid = cred->sgid = cred->fsgid = gid;
	cred->ngroups = 0;
}

static pid_t uk_alloc_pid(struct uk_kernel *k)
{
	return atomic_fetch_add(&k->next_pid, 1);
}

/* The common part of new and fork: the struct with the dispatch defaults. */
static struct uk_task *uk_task_alloc(struct uk_kernel *k, pid_t pid,
				     const struct uk_cred *cred)
{
	struct uk_task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->kernel = k;
	t->pid = t->tid = pid > 0 ? pid : uk_alloc_pid(k);
	t->cred = *cred;
	if (t->cred.ngroups > UK_NGROUPS_MAX)
		t->cred.ngroups = UK_NGROUPS_MAX;
	pthread_mutex_init(&t->cred_lock, NULL);
	t->mm = &uk_self_mm_ops;
	return t;
}

static void uk_task_release(struct uk_task *t)
{
	pthread_mutex_destroy(&t->cred_lock);
	free(t);
}

/*
 * The end of uk_task_new and uk_task_fork, which set t->fs and then, if
 * that worked, t->files (each a pointer, NULL or an ERR_PTR): the task,
 * or everything undone and ERR_PTR(-errno).
 */
static struct uk_task *task_finish(struct uk_task *t)
{
	int ret;

	if (IS_ERR_OR_NULL(t->fs)) {
		ret = t->fs ? (int)PTR_ERR(t->fs) : -ENOMEM;
		goto err_release;
	}
	if (IS_ERR_OR_NULL(t->files)) {
		ret = t->files ? (int)PTR_ERR(t->files) : -ENOMEM;
		goto err_fs;
	}
	return t;

err_fs:
	uk_fs_put(t->fs);
err_release:
	uk_task_release(t);
	return ERR_PTR(ret);
}

/*
 * The first task of a process tree: cwd and root at the kernel's root, an
 * empty fd table with the kernel's nr_open limit. Its parent is outside
 * the kernel's view, so getppid() returns 0 (as for a process whose parent
 * is in another pid namespace). pid <= 0 takes a pid from the kernel's
 * counter. cred NULL means root. Returns the task or ERR_PTR(-errno).
 */
struct uk_task *uk_task_new(struct uk_kernel *k, pid_t pid,
			    const struct uk_cred *cred)
{
	struct uk_cred root;
	struct uk_task *t;
	int ret;

	if (!cred) {
		uk_cred_init(&root, 0, 0);
		cred = &root;
	}
	/*
	 * The self backend's fault handler must be in place (again, if a
	 * test framework replaced it since uk_kernel_new): two sigaction
	 * calls, once per client process.
	 */
	ret = uk_uaccess_init();
	if (ret)
		return ERR_PTR(ret);
	t = uk_task_alloc(k, pid, cred);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->ppid = 0;
	t->fs = uk_fs_new(k);
	if (!IS_ERR_OR_NULL(t->fs))
		t->files = uk_files_new(k->opts.nr_open);
	return task_finish(t);
}

/*
 * fork(): the child has its own copy of the parent's credentials, fs and
 * fd table, and shares every open file description (one offset) with the
 * parent; its I/O counters start at zero, as Linux's do. The memory
 * backend is inherited; a front-end with per-process memory replaces
 * child->mm and child->mm_priv. Returns the child or ERR_PTR(-errno).
 */
struct uk_task *uk_task_fork(struct uk_task *parent, pid_t child_pid)
{
	struct uk_cred cred;
	struct uk_task *t;

	pthread_mutex_lock(&parent->cred_lock);
	cred = parent->cred;
	pthread_mutex_unlock(&parent->cred_lock);

	t = uk_task_alloc(parent->kernel, child_pid, &cred);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->ppid = parent->pid;
	t->mm = parent->mm;
	t->mm_priv = parent->mm_priv;
	t->frontend = parent->frontend;
	t->owner = parent->owner;
	t->fs = uk_fs_copy(parent->fs);
	if (!IS_ERR_OR_NULL(t->fs))
		t->files = uk_files_dup(parent->files);
	return task_finish(t);
}

/*
 * execve(): the task keeps its pid, credentials (no set-id binaries here),
 * cwd, root and umask, and loses its O_CLOEXEC descriptors. Returns 0.
 */
int uk_task_exec(struct uk_task *task)
{
	uk_files_close_on_exec(task);
	return 0;
}

/*
 * exit(): closes every descriptor (the last reference to a description
 * releases it and its locks), drops the fs, frees the task.
 */
void uk_task_exit(struct uk_task *task)
{
	if (!task)
		return;
	uk_files_exit(task);
	task->files = NULL;
	uk_fs_put(task->fs);
	task->fs = NULL;
	uk_task_release(task);
}
