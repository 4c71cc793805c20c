// SPDX-License-Identifier: MIT
/*
 * shim/path.c - routing of paths: the virtual root, the virtual cwd, and
 * shim_path_resolve(), which decides host or daemon for every path-taking
 * wrapper.
 *
 * The host side pays a prefix check only: a relative path in a host
 * context is never read, an absolute one is compared with the root byte by
 * byte, on a fault-safe copy of its first bytes (a bad pointer is the
 * host's EFAULT, not a crash in the shim). Paths that go to the daemon are copied with the fault-safe copy.
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
#include "shimlib.h"
#include "shim_internal.h"
#include "client_internal.h"

static char root[256] = "/uk";
static size_t root_len = 3;
_Atomic bool shim_cwd_virtual SHIM_HOT_DATA;
char shim_root_byte1 = 'u'; /* root[1], for shim_path_quick_host() */

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
	shim_root_byte1 = root[1];
}

const char *shim_root(size_t *len)
{
	if (len)
		*len = root_len;
	return root;
}

bool shim_cwd_is_virtual(void)
{
	return atomic_load_explicit(&shim_cwd_virtual, memory_order_relaxed);
}

void shim_cwd_set_virtual(bool v)
{
	atomic_store(&shim_cwd_virtual, v);
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

/* Whether absolute path p (known readable) names the root or is under it. */
bool shim_path_under_root(const char *p)
{
	return p[0] == '/' && match_root(p) >= 0;
}

/*
 * The fault-safe copies of uaccess.c cost what a plain copy costs, but
 * need their SIGSEGV handler, which connect installs. A program that
 * hands a host context a bad pointer before it ever connected would crash
 * in the prefix check, so the handler is installed on first need instead.
 * Returns whether the copies work (not on every architecture).
 */
static bool uaccess_ready(void)
{
	static _Atomic int tried SHIM_HOT_DATA;

	if (__builtin_expect(uk_cl_uaccess_ok, 1))
		return true;
	if (!atomic_exchange(&tried, 1))
		uk_cl_uaccess_init();
	return uk_cl_uaccess_ok;
}

/*
 * The root check of a path from a host context, reading it without
 * faulting: the offset of the rest as match_root() gives it, 0 for a host
 * path (also for a bad pointer: the host call says EFAULT), or -errno. A
 * short prefix is copied, so a host path costs a few bytes' copy; out
 * (outlen bytes) holds the whole path only when the prefix was too short
 * to decide.
 */
/*
 * The quick answer for most paths, from their first FAST_LEN bytes (copied
 * whole, whatever the string's length, when they lie in one page): 0 when
 * the path is surely not under the root (relative, or a first component
 * that differs from the root's: "/usr", "/tmp/x", "/u", "/ukx"); the
 * offset of the rest, as match_root() gives it, when the root is one
 * component and the path starts with it ("/uk", "/uk/a"); -1 when these
 * bytes cannot tell. Bytes after a NUL are never looked at: a NUL differs
 * from any root byte and ends the comparison.
 */
#define FAST_LEN 16 /* uk_cl_peek16's */

static long fast_match(const char *pre)
{
	size_t i;

	if (pre[0] != '/')
		return 0;
	if (pre[1] == '/' || pre[1] == '.')
		return -1; /* "//", "/./": the full check skips them */
	for (i = 1; root[i] && root[i] != '/'; i++) {
		if (i >= FAST_LEN)
			return -1;
		if (pre[i] != root[i])
			return 0;
	}
	if (i >= FAST_LEN)
		return -1;
	if (pre[i] && pre[i] != '/')
		return 0;
	return root[i] ? -1 : (long)i;
}

static long host_match_root(const char *path, char *out, size_t outlen)
{
	char pre[64];
	long n, off;

	if (!uaccess_ready()) {
		/* No fault-safe copy here: read it as before. */
		if (path[0] != '/')
			return 0;
		off = match_root(path);
		return off < 0 ? 0 : off;
	}
	/*
	 * Most calls stop here: ~20 instructions, not a byte loop. The
	 * 16 bytes must lie in the first byte's 4 KiB page, which is mapped
	 * whole if that byte is: a valid string never faults here (the
	 * program's own SIGSEGV handler may stand in front of ours).
	 */
	if (((uintptr_t)path & 4095) <= 4096 - FAST_LEN &&
	    !uk_cl_peek16(pre, path)) {
		off = fast_match(pre);
		if (off >= 0)
			return off;
	}
	n = uk_cl_copy_path(pre, path, sizeof(pre));
	if (n < 0 || pre[0] != '/')
		return 0;
	if (n < (long)sizeof(pre)) {
		off = match_root(pre);
		return off < 0 ? 0 : off;
	}
	/* Slashes or "." components longer than the prefix: all of it. */
	n = uk_cl_copy_path(out, path, outlen);
	if (n < 0)
		return 0;
	if (n == (long)outlen) {
		out[outlen - 1] = 0;
		return match_root(out) < 0 ? 0 : -ENAMETOOLONG;
	}
	off = match_root(out);
	return off < 0 ? 0 : off;
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
		off = host_match_root(path, out, outlen);
		if (off <= 0)
			return (int)off;
		/* path[0..off) was read safely: its last page is readable. */
		n = shim_strncpy_after(out, path + off, outlen);
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
