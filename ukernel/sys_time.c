// SPDX-License-Identifier: MIT
/*
 * ukernel/sys_time.c - time and uname: the host's clocks and the host's
 * uname(2) answer, handed to the task through uaccess.
 *
 * Clocks: every clock id Linux accepts that names a system-wide clock
 * (REALTIME, MONOTONIC, MONOTONIC_RAW, the COARSE ones, BOOTTIME, TAI,
 * and the ALARM ones for reading) reads the host's. The CPU-time clocks
 * (PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID) would read the daemon's time,
 * not the client's, and the dynamic (negative) ids name host processes or
 * descriptors: those are EINVAL here. The time zone of gettimeofday is
 * Linux's sys_tz, which is all zeros unless settimeofday set it.
 */
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>

#include "dispatch.h"

/* Linux's struct timezone, as gettimeofday copies it out. */
struct uk_timezone {
	int tz_minuteswest;
	int tz_dsttime;
};

/* Linux's struct new_utsname. */
#define UK_UTS_LEN 65
struct uk_new_utsname {
	char sysname[UK_UTS_LEN];
	char nodename[UK_UTS_LEN];
	char release[UK_UTS_LEN];
	char version[UK_UTS_LEN];
	char machine[UK_UTS_LEN];
	char domainname[UK_UTS_LEN];
};

static bool uk_clock_ok(clockid_t which)
{
	switch (which) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
	case CLOCK_TAI:
		return true;
	default:
		return false;
	}
}

/* time(tloc): the seconds, also stored at tloc unless it is NULL. */
SYSCALL_DEFINE1(time, uk_uptr, tloc)
{
	long now = (long)time(NULL);

	if (tloc && put_user(task, now, tloc))
		return -EFAULT;
	return now;
}

SYSCALL_DEFINE2(gettimeofday, uk_uptr, tv, uk_uptr, tz)
{
	if (tv) {
		struct timeval now;

		gettimeofday(&now, NULL);
		if (copy_to_user(task, tv, &now, sizeof(now)))
			return -EFAULT;
	}
	if (tz) {
		struct uk_timezone z = { 0, 0 };

		if (copy_to_user(task, tz, &z, sizeof(z)))
			return -EFAULT;
	}
	return 0;
}

SYSCALL_DEFINE2(clock_gettime, clockid_t, which, uk_uptr, tp)
{
	struct timespec ts;

	if (!uk_clock_ok(which))
		return -EINVAL;
	if (clock_gettime(which, &ts))
		return -errno;
	if (copy_to_user(task, tp, &ts, sizeof(ts)))
		return -EFAULT;
	return 0;
}

/* clock_getres(which, tp): tp may be NULL (then only the id is checked). */
SYSCALL_DEFINE2(clock_getres, clockid_t, which, uk_uptr, tp)
{
	struct timespec ts;

	if (!uk_clock_ok(which))
		return -EINVAL;
	if (clock_getres(which, &ts))
		return -errno;
	if (tp && copy_to_user(task, tp, &ts, sizeof(ts)))
		return -EFAULT;
	return 0;
}

/*
 * uname(buf): the host's answer, field for field (sysname "Linux", the
 * host's nodename, release, version, machine and domainname): programs
 * that look at the release to pick features see the kernel they really
 * run on, since everything outside the virtual tree is the host's.
 */
SYSCALL_DEFINE1(newuname, uk_uptr, name)
{
	struct uk_new_utsname u;
	struct utsname h;

	if (uname(&h))
		return -errno;
	memset(&u, 0, sizeof(u));
	snprintf(u.sysname, UK_UTS_LEN, "%s", h.sysname);
	snprintf(u.nodename, UK_UTS_LEN, "%s", h.nodename);
	snprintf(u.release, UK_UTS_LEN, "%s", h.release);
	snprintf(u.version, UK_UTS_LEN, "%s", h.version);
	snprintf(u.machine, UK_UTS_LEN, "%s", h.machine);
	snprintf(u.domainname, UK_UTS_LEN, "%s", h.domainname);
	if (copy_to_user(task, name, &u, sizeof(u)))
		return -EFAULT;
	return 0;
}
