#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The POSIX battery through a front-end of ukerneld, on a fresh ukfs image:
#   run_frontend.sh fuse UKERNELD UKCTL BATTERY TABLE
#       mounts the image (ukerneld IMAGE --mount DIR --allow-other, so that
#       the unprivileged rows may use it) and runs the battery in DIR;
#   run_frontend.sh shim UKERNELD UKCTL BATTERY TABLE LIBUKSHIM
#       serves the image to uid 0 and 65534 and runs the battery under
#       LD_PRELOAD=LIBUKSHIM in the virtual root /uk.
# Exits with the battery's status, or 77 (skipped) with the reason when the
# front-end is not built or cannot run here. Everything mounted or started
# is undone on exit.
set -u
mode=$1 ukd=$2 ukctl=$3 battery=$4 table=$5 shimlib=${6:-}

skip() {
	echo "posix_battery_$mode: skipped: $*"
	exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root (the battery drops to uid 65534)"
case $mode in
fuse)
	"$ukd" --help 2>&1 | grep -q -- '--mount' ||
		skip "this ukerneld has no FUSE front-end (--mount)"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	;;
shim)
	[ -n "$shimlib" ] && [ -f "$shimlib" ] ||
		skip "libukshim.so is not built"
	;;
*)
	echo "usage: run_frontend.sh fuse|shim UKERNELD UKCTL BATTERY TABLE [LIBUKSHIM]" >&2
	exit 2
	;;
esac

dir=$(mktemp -d /tmp/pb-$mode.XXXXXX)
chmod 0711 "$dir" # uid 65534 reaches the socket and the mount under it
pid=
cleanup() {
	if [ "$mode" = fuse ] && mountpoint -q "$dir/mnt" 2>/dev/null; then
		fusermount3 -u "$dir/mnt" 2>/dev/null ||
			umount -l "$dir/mnt" 2>/dev/null
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

"$ukctl" mkfs "$dir/img" --size 512M >/dev/null ||
	{ echo "posix_battery_$mode: mkfs failed"; exit 1; }
sock=$dir/ukerneld.sock
args=("$dir/img" --foreground --socket "$sock" --allow-uid 65534)
if [ "$mode" = fuse ]; then
	mkdir "$dir/mnt"
	args+=(--mount "$dir/mnt" --allow-other)
fi
"$ukd" "${args[@]}" 2>"$dir/ukerneld.log" &
pid=$!

# ready: the socket is there (and for fuse, the mount); ASan is slow to start
ready() {
	[ -S "$sock" ] || return 1
	[ "$mode" != fuse ] || mountpoint -q "$dir/mnt"
}
for _ in $(seq 200); do
	ready && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! ready; then
	echo "posix_battery_$mode: ukerneld did not come up:"
	cat "$dir/ukerneld.log"
	exit 1
fi

if [ "$mode" = fuse ]; then
	"$battery" --backend fuse --table "$table" "$dir/mnt" "${PB_CASES:-*}"
	rc=$?
else
	preload=$shimlib
	if nm -D "$shimlib" 2>/dev/null | grep -q __asan_init; then
		# an ASan build: its runtime must come first in the list
		preload=$(gcc -print-file-name=libasan.so):$shimlib
		export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	fi
	UKERNEL_SOCKET=$sock LD_PRELOAD=$preload \
		"$battery" --backend shim --table "$table" /uk "${PB_CASES:-*}"
	rc=$?
fi
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
	echo "posix_battery_$mode: ukerneld's log:"
	tail -20 "$dir/ukerneld.log"
fi
exit "$rc"
