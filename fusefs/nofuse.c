// SPDX-License-Identifier: MIT
/*
 * fusefs/nofuse.c - the FUSE front-end of a build without libfuse3: it is
 * not there, and `ukerneld --mount` says so.
 */
#include <errno.h>
#include <stdio.h>

#include "fusefs.h"
#include "uk_err.h"

bool ffs_available(void)
{
	return false;
}

struct ffs *ffs_start(struct uk_kernel *k, const struct ffs_opts *o,
		      char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "--mount: this ukerneld was built without "
		 "the FUSE front-end (libfuse3 not found; -Dfuse)");
	return ERR_PTR(-ENOSYS);
}

void ffs_stop(struct ffs *fs)
{
}

bool ffs_unmounted(struct ffs *fs)
{
	return false;
}
