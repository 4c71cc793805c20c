// SPDX-License-Identifier: MIT
/*
 * shim/path.c - routing of paths: the virtual root, the virtual cwd, and
 * shim_path_resolve(), which decides host or daemon for every path-taking
 * wrapper.
 *
 * The host side pays a prefix check only: a relative path in a host
 * context is never read, an absolute one is compared with the root byte by
 * byte. Paths that go to the daemon are copied with the fault-safe copy.
 * Lexically, leading "//" and "./" components are skipped ("//uk/a" and
 * "/./uk/a" are virtual). A host path that reaches the root through ".."
 * or a host symlink ("/tmp/../uk") stays a host path: seeing through it
 * would cost a host lookup on every call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "shim_internal.h"

static char root[256] = "/uk";
static size_t root_len = 3;
static _Atomic bool cwd_virtual;

void shim_path_init(void)
{
	const char *r = getenv("UKERNEL_ROOT");
	size_t n;

	if (!r || r[0] != '/')
		return;
	n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		n--;
	if (n < 2 || n >= sizeof(root))
		return; /* "/" as a root would route everything: refused */
	memcpy(root, r, n);
	root[n] = 0;
	root_len = n;
}

const char *shim_root(size_t *len)
{
	if (len)
		*len = root_len;
	return root;
}

bool shim_cwd_is_virtual(void)
{
	return atomic_load_explicit(&cwd_virtual, memory_order_relaxed);
}

void shim_cwd_set_virtual(bool v)
{
	atomic_store(&cwd_virtual, v);
}

/*
 * If absolute path p names the root or something under it, returns the
 * offset of the rest ("" or "/..."), else -1. Reads p directly: only
 * called on memory already known readable (or a host pointer, see above).
 */
static long match_root(const char *p)
{
	size_t i = 1, j = 0;

	for (;;) {
		/* Skip slashes and "." components. */
		while (p[j] == '/' || (p[j] == '.' && (p[j + 1] == '/' ||
						       !p[j + 1])))
			j++;
		/* Compare one component of the root. */
		while (root[i] && root[i] != '/') {
			if (p[j] != root[i])
				return -1;
			i++;
			j++;
		}
		if (p[j] && p[j] != '/')
			return -1;
		if (!root[i])
			return (long)j;
		i++; /* root[i] was '/' */
	}
}

int shim_path_resolve(int dirfd, const char *path, int *vdirfd, char *out,
		      size_t outlen)
{
	bool vctx = dirfd == AT_FDCWD ? shim_cwd_is_virtual()
				      : shim_fd_is_virtual(dirfd);
	long n, off;

	if ((uintptr_t)path < 4096)
		return vctx ? -EFAULT : 0; /* the host says EFAULT itself */
	if (!vctx) {
		if (path[0] != '/')
			return 0;
		off = match_root(path);
		if (off < 0)
			return 0;
		n = shim_strncpy_safe(out, path + off, outlen);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			if (outlen < 2)
				return -ENAMETOOLONG;
			out[0] = '/';
			out[1] = 0;
		}
		*vdirfd = AT_FDCWD;
		return 1;
	}
	n = shim_strncpy_safe(out, path, outlen);
	if (n < 0)
		return (int)n;
	if (out[0] != '/') {
		*vdirfd = dirfd;
		return 1;
	}
	off = match_root(out);
	if (off < 0)
		return 0; /* an absolute host path from a virtual context */
	memmove(out, out + off, (size_t)(n - off) + 1);
	if (!out[0]) {
		out[0] = '/';
		out[1] = 0;
	}
	*vdirfd = AT_FDCWD;
	return 1;
}
