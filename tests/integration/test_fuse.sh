#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The FUSE mount of a real ukerneld on a real image, one case per run:
#   ops        test_fuse_ops: the same syscalls on the mount and on a native
#              directory (results, errnos, trees), as root and as 65534
#   coherence  test_fuse_coherence: a ring client and the mount, both ways
#   lifecycle  start, SIGTERM (clean unmount), kill -9 (dead mount), restart
#              (the dead mount cleaned up, the data there), ukctl umount
#   programs   git, make+gcc, sqlite3 in WAL mode, exec, on the mount and in
#              a native directory, compared
# Each takes requests through /dev/fuse (the default, even when the host
# offers io_uring); CASE-uring runs the same with FUSE over io_uring
# (--fuse-uring=on, which turns on the fuse module's enable_uring), skipped
# where the kernel has no such thing.
# usage: test_fuse.sh CASE UKERNELD UKCTL TEST_FUSE_OPS TEST_FUSE_COHERENCE
# Exits 77 (skipped) when FUSE cannot be used here, saying why.
set -u
case_=$1 ukerneld=$2 ukctl=$3 opsprog=$4 cohprog=$5

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (mounts, and steps run as uid 65534)"
[ -c /dev/fuse ] && [ -r /dev/fuse ] || skip "no usable /dev/fuse"
command -v fusermount3 >/dev/null || skip "fusermount3 not installed (fuse3)"
uring=off uring_arg=
case $case_ in
*-uring)
	case_=${case_%-uring} uring=on uring_arg=--fuse-uring=on
	[ -e /sys/module/fuse/parameters/enable_uring ] ||
		skip "this kernel has no FUSE over io_uring (CONFIG_FUSE_IO_URING)"
	;;
esac

tmp=$(mktemp -d /tmp/ukfuse.XXXXXX)
chmod 755 "$tmp"
img=$tmp/img mnt=$tmp/mnt sock=$tmp/uk.sock
mkdir -p "$mnt"
export UKERNEL_SOCKET=$sock
# In a sanitized build the daemon's reports would go to /dev/null with its
# stderr: send them to files, which fail the test (checked at the end).
export ASAN_OPTIONS="log_path=$tmp/san:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$tmp/san:print_stacktrace=1:${UBSAN_OPTIONS:-}"

cleanup() {
	local pid
	if [ -f "$sock.lock" ]; then
		pid=$(cat "$sock.lock" 2>/dev/null)
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	if grep -q " $mnt " /proc/self/mountinfo; then
		umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"$ukctl" mkfs "$img" --size 512M >/dev/null || fail "mkfs"

start() {
	"$ukerneld" "$img" --socket "$sock" --mount "$mnt" $uring_arg "$@" ||
		fail "ukerneld did not start"
	grep -q " $mnt .* fuse.ukernel " /proc/self/mountinfo ||
		fail "not mounted after ukerneld returned"
	check_uring "$@"
}

# Whether the daemon's io_uring workers (uring.c) are there, as asked:
# none with --fuse-uring=off, one or more per CPU with on (not with
# --remote-locks, which keeps to /dev/fuse).
check_uring() {
	local pid n want=0
	stat "$mnt" >/dev/null || fail "stat of the mount"  # INIT is done
	pid=$(cat "$sock.lock")
	n=$(cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -c '^ukfuse-ring')
	case "$uring $*" in on*--remote-locks*) ;; on*) want=1 ;; esac
	if [ "$want" = 1 ] && [ "$n" -lt "$(nproc --all)" ]; then
		fail "--fuse-uring=on: $n io_uring workers"
	elif [ "$want" = 0 ] && [ "$n" -ne 0 ]; then
		fail "$n io_uring workers without --fuse-uring=on"
	fi
	return 0
}

stop() {
	local pid
	pid=$(cat "$sock.lock")
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "ukerneld $pid did not stop"
	grep -q " $mnt " /proc/self/mountinfo && fail "still mounted after SIGTERM"
	return 0
}

case $case_ in
ops)
	start --allow-other
	native=$tmp/native
	mkdir -p "$mnt/w" "$native"
	chmod 755 "$mnt/w" "$native"
	"$opsprog" "$mnt/w" "$native" || fail "the mount and ext4 differ"
	stop
	# Again with the locks kept by the daemon (F_SETLK/W, GETLK, flock
	# arrive as requests), on fresh directories.
	start --allow-other --remote-locks
	mkdir -p "$mnt/w2" "$native/w2"
	chmod 755 "$mnt/w2" "$native/w2"
	"$opsprog" "$mnt/w2" "$native/w2" ||
		fail "the mount (--remote-locks) and ext4 differ"
	stop
	"$ukctl" fsck "$img" >/dev/null || fail "fsck after the run"
	;;
coherence)
	start
	"$cohprog" "$sock" "$mnt" || fail "coherence"
	stop
	start --remote-locks
	"$cohprog" "$sock" "$mnt" locks || fail "coherence of locks"
	stop
	;;
lifecycle)
	start
	echo persistent > "$mnt/p" || fail "write"
	stop
	[ -z "$(ls -A "$mnt")" ] || fail "mount point not empty after SIGTERM"
	start
	[ "$(cat "$mnt/p")" = persistent ] || fail "data lost over a restart"
	pid=$(cat "$sock.lock")
	kill -KILL "$pid"
	sleep 0.2
	ls "$mnt" >/dev/null 2>&1 && fail "the dead mount still answers?"
	start
	[ "$(cat "$mnt/p")" = persistent ] || fail "not usable after kill -9"
	grep -c " $mnt " /proc/self/mountinfo | grep -qx 1 ||
		fail "more than one mount at $mnt"
	# ukctl umount: the mount goes, the daemon keeps serving the ring.
	"$ukctl" umount "$mnt" || fail "ukctl umount"
	grep -q " $mnt " /proc/self/mountinfo && fail "still mounted after ukctl umount"
	kill -0 "$(cat "$sock.lock")" || fail "the daemon died with its mount"
	"$ukctl" umount "$mnt" 2>/dev/null && fail "ukctl umount of nothing succeeded"
	stop
	# fusermount3 -u also ends it cleanly.
	start
	fusermount3 -u "$mnt" || fail "fusermount3 -u"
	stop
	# SIGTERM while a program sits in the mount: the connection is
	# aborted, the mount detached, the daemon exits (stop() waits 10 s).
	start
	(cd "$mnt" && exec sleep 30) &
	busy=$!
	sleep 0.3
	stop
	kill "$busy" 2>/dev/null
	wait "$busy" 2>/dev/null
	# --ro: readable, every write refused by the host (EROFS).
	start --ro
	[ "$(cat "$mnt/p")" = persistent ] || fail "--ro: not readable"
	err=$( { echo x > "$mnt/q"; } 2>&1 )
	case $err in *"Read-only file system"*) ;; *) fail "--ro: write gave '$err'" ;; esac
	mkdir "$mnt/dd" 2>/dev/null && fail "--ro: mkdir succeeded"
	stop
	# --tmpfs with a mount: the root's inode number is not 1 there.
	"$ukerneld" --tmpfs --socket "$sock" --mount "$mnt" $uring_arg ||
		fail "--tmpfs --mount"
	mkdir -p "$mnt/a/b" && echo t > "$mnt/a/b/f" && ln "$mnt/a/b/f" "$mnt/a/h" &&
		[ "$(stat -c %h "$mnt/a/h")" = 2 ] && [ "$(cat "$mnt/a/h")" = t ] ||
		fail "tmpfs through the mount"
	stop
	;;
programs)
	start
	native=$tmp/native
	mkdir -p "$native"
	for d in "$mnt/w" "$native"; do
		mkdir -p "$d" && cd "$d" || fail "cd $d"
		# git
		git init -q repo && cd repo &&
		git config user.email t@example.com && git config user.name t &&
		mkdir -p src && printf 'a\n' > src/a.txt &&
		printf 'b\n' > b.txt && git add -A &&
		GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000 \
			git commit -qm first &&
		printf 'c\n' >> b.txt && git status --porcelain > ../git-status &&
		git log --format="%H %s" > ../git-log && git fsck --no-progress >/dev/null ||
			fail "git in $d"
		cd "$d" || fail cd
		# make + gcc
		mkdir -p cprog && cd cprog &&
		printf '#include <stdio.h>\nint main(void){puts("built");return 0;}\n' > m.c &&
		printf 'm: m.c\n\tgcc -O1 -o m m.c\n' > Makefile &&
		make -s >/dev/null && ./m > ../make-out || fail "make in $d"
		cd "$d" || fail cd
		# exec of a copied binary
		cp /bin/echo ./echo-copy && ./echo-copy exec-ok > exec-out ||
			fail "exec in $d"
		# sqlite in WAL mode (needs shared mmap of the -shm file)
		sqlite3 db "pragma journal_mode=wal; create table t(x);
			insert into t values(1),(2),(3);" > sqlite-out &&
		sqlite3 db "pragma journal_mode; select sum(x) from t;" >> sqlite-out ||
			fail "sqlite3 in $d"
		cd /
	done
	for f in git-status git-log make-out exec-out sqlite-out; do
		cmp -s "$mnt/w/$f" "$native/$f" || {
			echo "mount:"; cat "$mnt/w/$f"; echo "native:"; cat "$native/$f"
			fail "$f differs"
		}
	done
	grep -qx wal "$mnt/w/sqlite-out" || fail "sqlite did not use WAL"
	stop
	;;
*)
	fail "unknown case $case_"
	;;
esac
if ls "$tmp"/san.* >/dev/null 2>&1; then
	cat "$tmp"/san.*
	fail "sanitizer reports (above)"
fi
echo PASS
