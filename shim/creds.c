// SPDX-License-Identifier: MIT
/*
 * shim/creds.c - the calls that change credentials: setuid, setgid,
 * setreuid, setregid, setresuid, setresgid, setgroups, setfsuid, setfsgid.
 *
 * The daemon checks permissions on /uk against its task's creds, which it
 * takes from the host when a new task connects. A program that changes its
 * ids later (a server dropping root in a forked child) must change the
 * task's too, or it keeps root's rights on /uk. So each wrapper calls the
 * host's function first (glibc's, which applies the change to all threads
 * with its setxid broadcast), and when that succeeds and the daemon holds
 * a task for us (also a forked child not reconnected yet: its task is a
 * copy of the parent's, creds included), the same call goes to the daemon.
 * With no task yet there is nothing to do: the new task gets the host's
 * creds of the moment it connects.
 *
 * If the host made the change and the daemon did not, the task would keep
 * more rights than the process has: rather than that, the shim gives up on
 * the daemon (every later call under the root fails with EIO).
 */
#include <errno.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wrap.h"

/* The same change in the daemon task, after the host made it. */
static void forward(long nr, long a1, long a2, long a3)
{
	SHIM_ERRNO_SAVE;
	long r;

	if (!shim_has_task() || shim_is_down())
		return;
	r = shim_vcall(nr, a1, a2, a3, 0L, 0L, 0L);
	if (r < 0)
		shim_set_down("the daemon refused a credential change the host made");
	SHIM_ERRNO_RESTORE;
}

/*
 * setfsuid/setfsgid say nothing about failure (they return the old id):
 * the daemon is given the id the host ended with, then asked for it back.
 */
static void forward_fs(long nr, long cur)
{
	SHIM_ERRNO_SAVE;

	if (!shim_has_task() || shim_is_down())
		return;
	shim_vcall(nr, cur, 0L, 0L, 0L, 0L, 0L);
	if (shim_vcall(nr, -1L, 0L, 0L, 0L, 0L, 0L) != cur)
		shim_set_down("the daemon refused a credential change the host made");
	SHIM_ERRNO_RESTORE;
}

#define SETID_WRAP(nr, hostcall, a1, a2, a3)                                   \
	do {                                                                   \
		int r_;                                                        \
		IF_BUSY(hostcall);                                             \
		r_ = hostcall;                                                 \
		if (r_ == 0)                                                   \
			forward(nr, (long)(a1), (long)(a2), (long)(a3));       \
		return r_;                                                     \
	} while (0)

SHIM_WRAPPERS_BEGIN

int setuid(uid_t uid)
{
	SETID_WRAP(SYS_setuid, SHIM_REAL(setuid)(uid), uid, 0, 0);
}

int setgid(gid_t gid)
{
	SETID_WRAP(SYS_setgid, SHIM_REAL(setgid)(gid), gid, 0, 0);
}

int setreuid(uid_t ruid, uid_t euid)
{
	SETID_WRAP(SYS_setreuid, SHIM_REAL(setreuid)(ruid, euid), (int)ruid,
		   (int)euid, 0);
}

int setregid(gid_t rgid, gid_t egid)
{
	SETID_WRAP(SYS_setregid, SHIM_REAL(setregid)(rgid, egid), (int)rgid,
		   (int)egid, 0);
}

int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
	SETID_WRAP(SYS_setresuid, SHIM_REAL(setresuid)(ruid, euid, suid),
		   (int)ruid, (int)euid, (int)suid);
}

int setresgid(gid_t rgid, gid_t egid, gid_t sgid)
{
	SETID_WRAP(SYS_setresgid, SHIM_REAL(setresgid)(rgid, egid, sgid),
		   (int)rgid, (int)egid, (int)sgid);
}

int setgroups(size_t size, const gid_t *list)
{
	SETID_WRAP(SYS_setgroups, SHIM_REAL(setgroups)(size, list), size, list,
		   0);
}

int setfsuid(uid_t uid)
{
	int old;

	IF_BUSY(SHIM_REAL(setfsuid)(uid));
	old = SHIM_REAL(setfsuid)(uid);
	forward_fs(SYS_setfsuid, SHIM_REAL(setfsuid)((uid_t)-1));
	return old;
}

int setfsgid(gid_t gid)
{
	int old;

	IF_BUSY(SHIM_REAL(setfsgid)(gid));
	old = SHIM_REAL(setfsgid)(gid);
	forward_fs(SYS_setfsgid, SHIM_REAL(setfsgid)((gid_t)-1));
	return old;
}

SHIM_WRAPPERS_END
