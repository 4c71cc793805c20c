// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_uk_differential.c - the differential test: one seeded
 * random sequence of file operations (tests/common/difftest.c) run through
 * uk_dispatch() on the kernel's tmpfs and through real syscalls on a native
 * ext4 directory, every result, errno and the final trees compared.
 *
 * Usage: test_uk_differential [--unpriv] [--extras] [--ukfs] [SEED]
 *   --extras: also fallocate, copy_file_range, xattrs, O_TMPFILE, dup2/3;
 *   --ukfs: the uk side runs on a fresh ukfs image (under the build tree)
 *   mounted at the kernel's root instead of tmpfs; its between() hook
 *   unmounts it, checks it with fsck and mounts it again (with
 *   UK_DIFF_REMOUNT=N, at random points);
 *   SEED, or env UK_DIFF_SEED (which wins, to replay under meson test);
 *   env UK_DIFF_OPS: number of operations (default 10000);
 *   env UK_DIFF_VERBOSE=1: print the uk side's records as they happen;
 *   env UK_DIFF_LOGS=PREFIX: write both logs to PREFIX.uk and PREFIX.native;
 *   env UK_DIFF_MAX=N: print up to N differing records (default 1);
 *   env UK_DIFF_REMOUNT=N: a remount point every N operations on average
 *   (descriptors closed; on tmpfs the uk target has no between() hook);
 *   env UK_DIFF_AGAINST=DIR: replace the uk side by a second native side
 *   chrooted in a fresh directory under DIR (checks the engine itself, e.g.
 *   ext4 against a tmpfs DIR such as /dev/shm).
 *
 * The native side runs in a child that chroots into a fresh directory under
 * the build tree (so "/" and ".." mean the same on both sides and nothing
 * outside can be touched) and, for --unpriv, a grandchild that drops to
 * uid/gid 65534 as the uk task does. The tree dumps are made as root.
 * Needs root for chroot and the id change: otherwise exits 77 (skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "difftest.h"
#include "uk.h"
#include "uk_err.h"
#include "ukfs_meta.h"

#define NOBODY 65534

static uint64_t seed = 20251125;
static unsigned long nops = 10000;
static bool unpriv;
static bool verbose;
static bool extras;
static bool on_ukfs;

/* ---- the native side --------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) ? -errno : 0;
}

/* Makes a fresh, empty directory under base for a chrooted side. */
static char *make_root(const char *base)
{
	char tmpl[4096];
	struct statfs sfs;

	snprintf(tmpl, sizeof(tmpl), "%s/difftest-root.XXXXXX", base);
	char *dir = mkdtemp(tmpl);
	if (!dir || chmod(dir, 0755))
		return NULL;
	if (!statfs(dir, &sfs) && sfs.f_type == TMPFS_MAGIC)
		fprintf(stderr, "difftest: note: %s is on tmpfs\n", dir);
	return strdup(dir);
}

/*
 * Runs the sequence natively, chrooted in root: the operations in a
 * grandchild with the run's identity, the tree dump as root. The log comes
 * back through a memfd. Returns 0 or -errno.
 */
static int run_native(const char *root, const struct dt_config *cfg,
		      struct dt_log *out)
{
	int mfd = memfd_create("difftest-log", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(mfd);
		return -errno;
	}
	if (pid == 0) {
		struct dt_target *t = &dt_native_target;
		struct dt_times times = {0};
		struct dt_log log;
		int st;

		dt_log_init(&log);
		if (chroot(root) || chdir("/")) {
			perror("difftest: chroot");
			_exit(3);
		}
		dt_prepare(t, unpriv ? NOBODY : 0, unpriv ? NOBODY : 0, &log);
		pid_t worker = fork();
		if (worker == 0) {
			if (unpriv && (setgroups(0, NULL) ||
				       setresgid(NOBODY, NOBODY, NOBODY) ||
				       setresuid(NOBODY, NOBODY, NOBODY))) {
				perror("difftest: dropping privileges");
				_exit(3);
			}
			dt_run_ops(t, cfg, &log, &times);
			if (pwrite(mfd, &times, sizeof(times), 0) !=
				    sizeof(times) ||
			    pwrite(mfd, log.buf, log.len, sizeof(times)) !=
				    (ssize_t)log.len)
				_exit(3);
			_exit(0);
		}
		if (worker < 0 || waitpid(worker, &st, 0) != worker ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			_exit(3);
		struct stat sb;
		if (fstat(mfd, &sb) ||
		    pread(mfd, &times, sizeof(times), 0) != sizeof(times))
			_exit(3);
		size_t n = sb.st_size - sizeof(times);
		char *buf = malloc(n + 1);
		if (!buf || pread(mfd, buf, n, sizeof(times)) != (ssize_t)n)
			_exit(3);
		log.len = log.lines = 0; /* the worker's log starts with ours */
		dt_log_append(&log, buf, n);
		dt_dump_tree(t, cfg, &times, &log);
		if (ftruncate(mfd, 0) ||
		    pwrite(mfd, log.buf, log.len, 0) != (ssize_t)log.len)
			_exit(3);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		close(mfd);
		return -EIO;
	}
	struct stat sb;
	if (fstat(mfd, &sb)) {
		close(mfd);
		return -errno;
	}
	char *buf = malloc(sb.st_size + 1);
	if (!buf || pread(mfd, buf, sb.st_size, 0) != sb.st_size) {
		free(buf);
		close(mfd);
		return -EIO;
	}
	dt_log_append(out, buf, sb.st_size);
	free(buf);
	close(mfd);
	return 0;
}

/* ---- the uk side -------------------------------------------------------- */

struct uk_side {
	struct dt_target target;
	struct uk_task *task;
};

/* The uk side on ukfs: the image and what between() must rebuild. */
struct uk_world {
	char image[4096];
	struct uk_kernel *k;
	struct uk_side *root_side, *user_side;
};

static struct uk_world world;

/* A fresh kernel with the image mounted at its root; 0 or -errno. */
static int world_mount(struct uk_world *w)
{
	struct uk_image_opts o = { .cache_size = 32u << 20 };
	char err[256];
	int ret;

	w->k = uk_kernel_new(NULL);
	if (IS_ERR_OR_NULL(w->k))
		return -ENOMEM;
	ret = uk_kernel_mount_image(w->k, w->image, &o, err, sizeof(err));
	if (ret)
		printf("difftest: mount %s: %s\n", w->image, err);
	return ret;
}

/*
 * A task as the engine's setup leaves it: cwd DT_WORKDIR, umask 022, then
 * the identity id (dropped after the chdir, as the native side keeps the
 * cwd it had even if the run took its search permission away).
 */
static struct uk_task *world_task(struct uk_world *w, pid_t pid, uid_t id)
{
	struct uk_cred cred;
	struct uk_task *t;
	const unsigned long cd[6] = { (unsigned long)DT_WORKDIR };
	const unsigned long um[6] = { 022 };
	const unsigned long ids[6] = { id, id, id };
	const unsigned long nogroups[6] = { 0, 0 };

	uk_cred_init(&cred, 0, 0);
	t = uk_task_new(w->k, pid, &cred);
	if (IS_ERR_OR_NULL(t))
		return NULL;
	if (uk_dispatch(t, 80 /* chdir */, cd) ||
	    uk_dispatch(t, 95 /* umask */, um) < 0)
		goto err_exit;
	if (id && (uk_dispatch(t, 116 /* setgroups */, nogroups) ||
		   uk_dispatch(t, 119 /* setresgid */, ids) ||
		   uk_dispatch(t, 117 /* setresuid */, ids)))
		goto err_exit;
	return t;

err_exit:
	uk_task_exit(t);
	return NULL;
}

/*
 * between() on ukfs: unmount (clean: write back, commit, close), fsck
 * must find the image clean, mount again with new tasks in the same state.
 */
static int uk_between(struct dt_target *t, unsigned long index)
{
	struct uk_world *w = &world;
	int ret;

	if (w->user_side->task != w->root_side->task)
		uk_task_exit(w->user_side->task);
	uk_task_exit(w->root_side->task);
	uk_kernel_free(w->k);
	w->k = NULL;
	ret = ukfs_fsck(w->image, false, NULL, NULL);
	if (ret != UKFS_FSCK_CLEAN) {
		printf("difftest: fsck after op %lu: %d\n", index, ret);
		return -EUCLEAN;
	}
	ret = world_mount(w);
	if (ret)
		return ret;
	w->root_side->task = world_task(w, 1, 0);
	if (!w->root_side->task)
		return -ENOMEM;
	if (unpriv) {
		w->user_side->task = world_task(w, 2, NOBODY);
		if (!w->user_side->task)
			return -ENOMEM;
	} else {
		w->user_side->task = w->root_side->task;
	}
	return 0;
}

static long uk_target_syscall(struct dt_target *t, long nr,
			      const unsigned long a[6])
{
	struct uk_side *s = t->priv;
	return uk_dispatch(s->task, (unsigned long)nr, a);
}

/* Runs the sequence on a fresh kernel: ops as the run's identity, dump as root.
 */
static int run_uk(const struct dt_config *cfg, struct dt_log *out)
{
	struct uk_side root_side = {0}, user_side = {0};
	struct dt_times times = {0};
	struct uk_cred cred;
	struct uk_kernel *k;
	int ret;

	if (on_ukfs) {
		ret = world_mount(&world);
		if (ret)
			return ret;
		k = world.k;
		world.root_side = &root_side;
		world.user_side = &user_side;
	} else {
		k = uk_kernel_new(NULL);
	}
	if (IS_ERR_OR_NULL(k))
		return -ENOMEM;
	uk_cred_init(&cred, 0, 0);
	root_side.task = uk_task_new(k, 1, &cred);
	if (IS_ERR_OR_NULL(root_side.task)) {
		uk_kernel_free(k);
		return -ENOMEM;
	}
	root_side.target = (struct dt_target){
		.name = "uk", .syscall = uk_target_syscall, .priv = &root_side};
	if (on_ukfs)
		root_side.target.between = uk_between;
	user_side = root_side;
	user_side.target.priv = &user_side;
	out->echo = verbose;
	dt_prepare(&root_side.target, unpriv ? NOBODY : 0, unpriv ? NOBODY : 0,
		   out);
	if (unpriv) {
		uk_cred_init(&cred, NOBODY, NOBODY);
		user_side.task = uk_task_new(k, 2, &cred);
		if (IS_ERR_OR_NULL(user_side.task)) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = dt_run_ops(&user_side.target, cfg, out, &times);
	out->echo = false;
	dt_dump_tree(&root_side.target, cfg, &times, out);
	if (unpriv)
		uk_task_exit(user_side.task);
out:
	uk_task_exit(root_side.task);
	if (on_ukfs) {
		k = world.k;
		world.k = NULL;
	}
	uk_kernel_free(k);
	if (on_ukfs && !ret && ukfs_fsck(world.image, false, NULL, NULL) !=
				       UKFS_FSCK_CLEAN) {
		printf("difftest: fsck of the image not clean at the end\n");
		ret = -EUCLEAN;
	}
	return ret;
}

static void write_log(const char *prefix, const char *suffix,
		      const struct dt_log *log)
{
	char name[4096];
	snprintf(name, sizeof(name), "%s%s", prefix, suffix);
	FILE *f = fopen(name, "w");
	if (f) {
		fwrite(log->buf, 1, log->len, f);
		fclose(f);
	}
}

/*
 * Lists the operations that returned ENOSYS on the uk side (once each): the
 * first mismatch hides everything after it, this shows what is missing.
 */
static void print_enosys(const struct dt_log *log)
{
	char seen[2048] = "";
	size_t len = 0;

	for (const char *p = log->buf; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *hit = memmem(p, n, "= -ENOSYS", 9);
		if (hit) {
			const char *op = memchr(p, ' ', n);
			const char *paren =
				op ? memchr(op, '(', n - (op - p)) : NULL;
			if (op && paren) {
				char name[64];
				snprintf(name, sizeof(name), " %.*s ",
					 (int)(paren - op - 1), op + 1);
				if (!strstr(seen, name) &&
				    len + strlen(name) < sizeof(seen))
					len += snprintf(seen + len,
							sizeof(seen) - len,
							"%s", name);
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	if (len)
		printf("difftest: uk returned ENOSYS for:%s\n", seen);
}

/* ---- the test -------------------------------------------------------------
 */

static void test_matches_native(void **state)
{
	const char *remount = getenv("UK_DIFF_REMOUNT");
	struct dt_config cfg = {
		.seed = seed,
		.nops = nops,
		.extras = extras,
		.remount_every = remount ? (unsigned int)atoi(remount) : 0,
	};
	const char *base = getenv("UK_BUILD_ROOT");
	const char *against = getenv("UK_DIFF_AGAINST");
	struct dt_log ours, native;
	char *root, *root2 = NULL;
	int ret;

	(void)state;
	if (!base)
		base = ".";
	root = make_root(base);
	assert_non_null(root);
	dt_log_init(&ours);
	dt_log_init(&native);
	printf("difftest: seed=%" PRIu64
	       " ops=%lu %s%s%s (replay: UK_DIFF_SEED=%" PRIu64 ")\n",
	       seed, nops, unpriv ? "as uid 65534" : "as root",
	       extras ? " with extras" : "", on_ukfs ? " on ukfs" : "", seed);
	fflush(stdout);

	if (on_ukfs) {
		char err[256];

		snprintf(world.image, sizeof(world.image), "%s/ukfs-diff-XXXXXX",
			 base);
		assert_non_null(mkdtemp(world.image));
		rmdir(world.image);
		ret = ukfs_mkfs(world.image, 256ull << 20, 0, err, sizeof(err));
		if (ret)
			printf("difftest: mkfs: %s\n", err);
		assert_int_equal(ret, 0);
	}
	if (against) {
		root2 = make_root(against);
		assert_non_null(root2);
		ret = run_native(root2, &cfg, &ours);
	} else {
		ret = run_uk(&cfg, &ours);
	}
	assert_int_equal(ret, 0);
	ret = run_native(root, &cfg, &native);
	assert_int_equal(ret, 0);

	const char *logs = getenv("UK_DIFF_LOGS");
	if (logs && *logs) {
		write_log(logs, ".uk", &ours);
		write_log(logs, ".native", &native);
	}
	const char *max = getenv("UK_DIFF_MAX");
	int diff = dt_compare(
		&ours, against ? "other" : "uk", &native, "native", seed,
		max && atoi(max) > 0 ? (unsigned int)atoi(max) : 1, stdout);
	printf("difftest: %lu records on each side, %s\n", native.lines,
	       diff ? "MISMATCH" : "identical");
	if (diff)
		print_enosys(&ours);
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (root2)
		nftw(root2, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (on_ukfs)
		nftw(world.image, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
	free(root2);
	dt_log_free(&ours);
	dt_log_free(&native);
	assert_int_equal(diff, 0);
}

int main(int argc, char **argv)
{
	const char *env;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_native),
	};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unpriv"))
			unpriv = true;
		else if (!strcmp(argv[i], "--extras"))
			extras = true;
		else if (!strcmp(argv[i], "--ukfs"))
			on_ukfs = true;
		else
			seed = strtoull(argv[i], NULL, 0);
	}
	if ((env = getenv("UK_DIFF_SEED")) && *env)
		seed = strtoull(env, NULL, 0);
	if ((env = getenv("UK_DIFF_OPS")) && *env)
		nops = strtoul(env, NULL, 0);
	verbose = (env = getenv("UK_DIFF_VERBOSE")) && *env == '1';
	if (geteuid() != 0) {
		printf("difftest: skipped: needs root (chroot for the native "
		       "side, setresuid for --unpriv)\n");
		return 77;
	}
	return cmocka_run_group_tests_name(unpriv ? "differential_unpriv"
						  : "differential",
					   tests, NULL, NULL);
}
