// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_ids.c - process identity: getpid and friends, and the set*id
 * family with the rules of Linux's kernel/sys.c and kernel/groups.c.
 *
 * "Privileged" means what CAP_SETUID/CAP_SETGID mean for a task in the
 * initial user namespace without file capabilities: euid 0. The fsuid
 * follows the euid on every change, as Linux's does. Credential writes
 * take task->cred_lock; a reader of the whole set takes it too, while the
 * one-id getters read a single aligned 32-bit word without it (never torn;
 * Linux's getuid likewise reads current_cred() without a lock).
 */
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"

#define UK_INVALID_ID ((uid_t)-1)

static bool uk_capable_setid(const struct uk_cred *c)
{
	return c->euid == 0;
}

SYSCALL_DEFINE0(getpid)
{
	return task->pid;
}

SYSCALL_DEFINE0(gettid)
{
	return task->tid;
}

SYSCALL_DEFINE0(getppid)
{
	return task->ppid;
}

SYSCALL_DEFINE0(getuid)
{
	return task->cred.uid;
}

SYSCALL_DEFINE0(geteuid)
{
	return task->cred.euid;
}

SYSCALL_DEFINE0(getgid)
{
	return task->cred.gid;
}

SYSCALL_DEFINE0(getegid)
{
	return task->cred.egid;
}

/*
 * setuid(uid): privileged, sets real, effective, saved and fs uid;
 * otherwise uid must be the real or saved uid and sets the effective and
 * fs uid. -1 is not a uid: EINVAL.
 */
SYSCALL_DEFINE1(setuid, uid_t, uid)
{
	struct uk_cred *c = &task->cred;
	long ret = 0;

	if (uid == UK_INVALID_ID)
		return -EINVAL;
	pthread_mutex_lock(&task->cred_lock);
	if (uk_capable_setid(c)) {
		c->uid = c->suid = uid;
	} else if (uid != c->uid && uid != c->suid) {
		ret = -EPERM;
		goto out;
	}
	c->euid = c->fsuid = uid;
out:
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

SYSCALL_DEFINE1(setgid, gid_t, gid)
{
	struct uk_cred *c = &task->cred;
	long ret = 0;

	if (gid == UK_INVALID_ID)
		return -EINVAL;
	pthread_mutex_lock(&task->cred_lock);
	if (uk_capable_setid(c)) {
		c->gid = c->sgid = gid;
	} else if (gid != c->gid && gid != c->sgid) {
		ret = -EPERM;
		goto out;
	}
	c->egid = c->fsgid = gid;
out:
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

/*
 * set{re}{u,g}id(r, e): -1 leaves an id alone. Unprivileged, the new real
 * id must be the old real or effective one, the new effective id one of
 * real, effective, saved. The saved id becomes the new effective id when
 * the real id is set, or the effective id is set to something other than
 * the old real id.
 */
static long uk_setre(struct uk_task *task, uid_t *id, uid_t *eid, uid_t *sid,
		     uid_t *fsid, uid_t r, uid_t e)
{
	bool cap = uk_capable_setid(&task->cred);
	uid_t nr = *id, ne = *eid, ns = *sid;

	if (r != UK_INVALID_ID) {
		if (!cap && r != *id && r != *eid)
			return -EPERM;
		nr = r;
	}
	if (e != UK_INVALID_ID) {
		if (!cap && e != *id && e != *eid && e != *sid)
			return -EPERM;
		ne = e;
	}
	if (r != UK_INVALID_ID || (e != UK_INVALID_ID && e != *id))
		ns = ne;
	*id = nr;
	*eid = ne;
	*sid = ns;
	*fsid = ne;
	return 0;
}

SYSCALL_DEFINE2(setreuid, uid_t, ruid, uid_t, euid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setre(task, &c->uid, &c->euid, &c->suid, &c->fsuid, ruid,
		       euid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

SYSCALL_DEFINE2(setregid, gid_t, rgid, gid_t, egid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setre(task, &c->gid, &c->egid, &c->sgid, &c->fsgid, rgid,
		       egid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

/*
 * setres{u,g}id(r, e, s): -1 leaves an id alone; unprivileged, each new id
 * must be one of the old real, effective and saved ids. As in Linux, a
 * call that changes nothing returns before the fs id is reset to the euid.
 */
static long uk_setres(struct uk_task *task, uid_t *id, uid_t *eid,
		      uid_t *sid, uid_t *fsid, uid_t r, uid_t e, uid_t s)
{
	const uid_t want[3] = { r, e, s };
	unsigned int i;

	/* a no-op changes nothing, not even an fs id apart from the euid */
	if ((r == UK_INVALID_ID || r == *id) &&
	    (e == UK_INVALID_ID || (e == *eid && e == *fsid)) &&
	    (s == UK_INVALID_ID || s == *sid))
		return 0;
	if (!uk_capable_setid(&task->cred)) {
		for (i = 0; i < 3; i++)
			if (want[i] != UK_INVALID_ID && want[i] != *id &&
			    want[i] != *eid && want[i] != *sid)
				return -EPERM;
	}
	if (r != UK_INVALID_ID)
		*id = r;
	if (e != UK_INVALID_ID)
		*eid = e;
	if (s != UK_INVALID_ID)
		*sid = s;
	*fsid = *eid;
	return 0;
}

SYSCALL_DEFINE3(setresuid, uid_t, ruid, uid_t, euid, uid_t, suid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setres(task, &c->uid, &c->euid, &c->suid, &c->fsuid, ruid,
			euid, suid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

SYSCALL_DEFINE3(setresgid, gid_t, rgid, gid_t, egid, gid_t, sgid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setres(task, &c->gid, &c->egid, &c->sgid, &c->fsgid, rgid,
			egid, sgid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

/* Stores three ids at user addresses; 0 or -EFAULT. */
static long uk_put_ids(struct uk_task *task, uid_t a, uid_t b, uid_t c,
		       uk_uptr pa, uk_uptr pb, uk_uptr pc)
{
	if (put_user(task, a, pa) || put_user(task, b, pb) ||
	    put_user(task, c, pc))
		return -EFAULT;
	return 0;
}

SYSCALL_DEFINE3(getresuid, uk_uptr, ruidp, uk_uptr, euidp, uk_uptr, suidp)
{
	struct uk_cred c;

	pthread_mutex_lock(&task->cred_lock);
	c = task->cred;
	pthread_mutex_unlock(&task->cred_lock);
	return uk_put_ids(task, c.uid, c.euid, c.suid, ruidp, euidp, suidp);
}

SYSCALL_DEFINE3(getresgid, uk_uptr, rgidp, uk_uptr, egidp, uk_uptr, sgidp)
{
	struct uk_cred c;

	pthread_mutex_lock(&task->cred_lock);
	c = task->cred;
	pthread_mutex_unlock(&task->cred_lock);
	return uk_put_ids(task, c.gid, c.egid, c.sgid, rgidp, egidp, sgidp);
}

/*
 * setfs{u,g}id(id): always returns the old fs id; changes it when id is one
 * of real, effective, saved or fs id, or the caller is privileged. -1
 * changes nothing (a way to read the fs id).
 */
static long uk_setfs(struct uk_task *task, uid_t id, uid_t r, uid_t e,
		     uid_t s, uid_t *fsid)
{
	uid_t old = *fsid;

	if (id == UK_INVALID_ID)
		return old;
	if (id == r || id == e || id == s || id == old ||
	    uk_capable_setid(&task->cred))
		*fsid = id;
	return old;
}

SYSCALL_DEFINE1(setfsuid, uid_t, uid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setfs(task, uid, c->uid, c->euid, c->suid, &c->fsuid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

SYSCALL_DEFINE1(setfsgid, gid_t, gid)
{
	struct uk_cred *c = &task->cred;
	long ret;

	pthread_mutex_lock(&task->cred_lock);
	ret = uk_setfs(task, gid, c->gid, c->egid, c->sgid, &c->fsgid);
	pthread_mutex_unlock(&task->cred_lock);
	return ret;
}

/*
 * getgroups(size, list): size 0 returns the count; a size smaller than
 * the count (or negative) is EINVAL.
 */
SYSCALL_DEFINE2(getgroups, int, gidsetsize, uk_uptr, grouplist)
{
	gid_t groups[UK_NGROUPS_MAX];
	unsigned int n;

	if (gidsetsize < 0)
		return -EINVAL;
	pthread_mutex_lock(&task->cred_lock);
	n = task->cred.ngroups;
	memcpy(groups, task->cred.groups, n * sizeof(gid_t));
	pthread_mutex_unlock(&task->cred_lock);
	if (!gidsetsize)
		return n;
	if ((unsigned int)gidsetsize < n)
		return -EINVAL;
	if (copy_to_user(task, grouplist, groups, n * sizeof(gid_t)))
		return -EFAULT;
	return n;
}

static int uk_gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * setgroups(size, list): privileged only (EPERM first, as Linux checks);
 * at most UK_NGROUPS_MAX (64) groups here, where Linux allows 65536: more
 * is EINVAL. The list is kept sorted, as groups_sort() keeps it.
 */
SYSCALL_DEFINE2(setgroups, int, gidsetsize, uk_uptr, grouplist)
{
	gid_t groups[UK_NGROUPS_MAX];
	unsigned int n = (unsigned int)gidsetsize;
	long ret = 0;

	pthread_mutex_lock(&task->cred_lock);
	if (!uk_capable_setid(&task->cred))
		ret = -EPERM;
	pthread_mutex_unlock(&task->cred_lock);
	if (ret)
		return ret;
	if (n > UK_NGROUPS_MAX)
		return -EINVAL;
	if (copy_from_user(task, groups, grouplist, n * sizeof(gid_t)))
		return -EFAULT;
	qsort(groups, n, sizeof(gid_t), uk_gid_cmp);
	pthread_mutex_lock(&task->cred_lock);
	memcpy(task->cred.groups, groups, n * sizeof(gid_t));
	task->cred.ngroups = n;
	pthread_mutex_unlock(&task->cred_lock);
	return 0;
}
