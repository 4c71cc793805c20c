#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ukrun as a user runs it: the default image made on first use and kept,
# a daemon started when none serves the image and gone after its idle
# timeout, -i and --root, --tmpfs, coreutils through the shim's core, and
# an install-like layout (bin/ukrun beside lib/.../libukshim.so).
# usage: test_ukrun.sh UKRUN UKERNELD
set -u
ukrun=$1 ukd=$2
dir=$(mktemp -d /tmp/ukrun-test.XXXXXX)
export XDG_RUNTIME_DIR=$dir/run XDG_DATA_HOME=$dir/data
unset UKERNEL_SOCKET UKERNEL_NAME UKERNEL_ROOT LD_PRELOAD ASAN_OPTIONS
mkdir -p "$XDG_RUNTIME_DIR"
fail=0

# An ASan build's shim runs in foreign programs only after the ASan
# runtime: preload it first (ukrun appends itself after LD_PRELOAD).
asan=$(ldd "$ukrun" | awk '/libasan/ { print $3 }')
if [ -n "$asan" ]; then
	export LD_PRELOAD=$asan
	export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0
fi

cleanup() {
	local l
	for l in "$XDG_RUNTIME_DIR"/ukernel/*.lock; do
		[ -f "$l" ] && kill -TERM "$(cat "$l")" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$dir"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
# check NAME WANT GOT
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: want '$2', got '$3'"; fi; }

host=$(cat /etc/hostname)

"$ukrun" --help | grep -q "usage: ukrun" && ok "--help" || bad "--help"
"$ukrun" >/dev/null 2>&1; check "no command is usage (2)" 2 $?

# First use: the default image is made, a daemon starts, files land in it.
out=$("$ukrun" -- sh -c 'mkdir -p /uk/t/sub && cat /etc/hostname > /uk/t/h && cat /uk/t/h' 2>"$dir/err")
check "default image, first run" "$host" "$out"
[ -d "$XDG_DATA_HOME/ukernel/default" ] && ok "default image made" || bad "no default image"
grep -q "created the default image" "$dir/err" && ok "says it made the image" || bad "no notice"

# Again: the same image (and daemon).
out=$("$ukrun" -- cat /uk/t/h)
check "second run sees the file" "$host" "$out"

# Coreutils through the core (ls needs readdir: the libc layer's).
out=$("$ukrun" -- sh -c '
	cp /etc/hostname /uk/t/c1 && cp /uk/t/c1 /uk/t/c2 && mv /uk/t/c2 /uk/t/c3 &&
	ln -s c3 /uk/t/l && readlink /uk/t/l && cat /uk/t/l &&
	touch /uk/t/e && stat -c "%s %F" /uk/t/e &&
	truncate -s 5 /uk/t/c1 && wc -c < /uk/t/c1 &&
	head -c 3 /uk/t/c3 | wc -c &&
	rm /uk/t/c1 /uk/t/e && test ! -e /uk/t/c1 && rmdir /uk/t/sub &&
	cd /uk/t && pwd && cat ./h')
want=$(printf 'c3\n%s\n0 regular empty file\n5\n3\n/uk/t\n%s' "$host" "$host")
check "coreutils" "$want" "$out"

# -i IMAGE and --root.
ukctl=$(dirname "$ukd")/ukctl
"$ukctl" mkfs "$dir/img.uk" --size 64M >/dev/null || bad "mkfs"
out=$("$ukrun" -i "$dir/img.uk" --root /vroot -- sh -c 'cat /etc/hostname > /vroot/a && cat /vroot/a && test ! -e /uk/t/h')
check "-i and --root" "$host" "$out"
# An absolute symlink as the program writes it, under a non-default root.
out=$("$ukrun" -i "$dir/img.uk" --root /vroot -- sh -c 'mkdir -p /vroot/d && ln -s /vroot/a /vroot/d/l && cat /vroot/d/l && readlink /vroot/d/l && realpath /vroot/d/l && cd /vroot/d && cat l')
check "absolute symlink under --root" "$(printf '%s\n/vroot/a\n/vroot/a\n%s' "$host" "$host")" "$out"
[ -S "$XDG_RUNTIME_DIR/ukernel/img.sock" ] && ok "socket named after the image" || bad "no img.sock"

# The socket name follows what is served. Two images with one base name
# in different directories: the second must not run on the first's daemon.
mkdir -p "$dir/a" "$dir/b"
"$ukctl" mkfs "$dir/a/img.uk" --size 64M >/dev/null || bad "mkfs a"
"$ukctl" mkfs "$dir/b/img.uk" --size 64M >/dev/null || bad "mkfs b"
"$ukrun" -i "$dir/a/img.uk" -- sh -c 'echo A > /uk/which' || bad "write a"
out=$("$ukrun" -i "$dir/b/img.uk" -- sh -c 'cat /uk/which 2>/dev/null; echo B > /uk/which; cat /uk/which')
check "same base name, other image" "B" "$out"
out=$("$ukrun" -i "$dir/a/img.uk" -- cat /uk/which)
check "first image unchanged" "A" "$out"
# A tmpfs daemon started by hand (its default socket) and the default
# image: ukrun must reach the image, not the tmpfs. An image called tmpfs
# is not the tmpfs either.
"$ukd" --tmpfs --idle-timeout 3 || bad "ukerneld --tmpfs"
out=$("$ukrun" -- cat /uk/t/h)
check "default image beside a tmpfs daemon" "$host" "$out"
"$ukctl" mkfs "$dir/tmpfs" --size 64M >/dev/null || bad "mkfs tmpfs"
"$ukrun" -i "$dir/tmpfs" -- sh -c 'echo img > /uk/kind' || bad "write tmpfs image"
out=$("$ukrun" --tmpfs -- cat /uk/kind 2>/dev/null)
check "an image called tmpfs is not the tmpfs" "" "$out"
[ -S "$XDG_RUNTIME_DIR/ukernel/tmpfs-image.sock" ] && ok "tmpfs-image.sock" || bad "no tmpfs-image.sock"

# --tmpfs with a short idle timeout: the daemon goes away by itself (the
# one started by hand above first: its socket is the same).
l=$XDG_RUNTIME_DIR/ukernel/tmpfs.sock.lock
if [ -f "$l" ]; then
	p=$(cat "$l")
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
fi
# The daemon's socket and pid are looked at while the command runs: once
# it has returned, a 0.5 s idle daemon may be gone already (a loaded
# machine, an ASan build), taking its lock file with it.
out=$("$ukrun" --tmpfs --idle-timeout 0.5 -- sh -c '
	r=$XDG_RUNTIME_DIR/ukernel
	[ -S "$r/tmpfs.sock" ] && cat "$r/tmpfs.sock.lock" > "$0"
	cat /etc/hostname > /uk/x; cat /uk/x' "$dir/tmpfs.pid")
check "--tmpfs" "$host" "$out"
pid=$(cat "$dir/tmpfs.pid" 2>/dev/null)
[ -n "$pid" ] && ok "tmpfs has its own socket" || bad "no tmpfs.sock"
gone=0
for i in $(seq 100); do
	if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then gone=1; break; fi
	sleep 0.1
done
check "idle daemon exits" 1 "$gone"

"$ukrun" -- /nonexistent/program 2>/dev/null; check "missing command is 127" 127 $?

# An install-like layout: bin/ukrun, bin/ukerneld, lib/<multiarch>/libukshim.so.
inst=$dir/inst
lib=$(dirname "$ukrun")/libukshim.so
rel=$(strings "$ukrun" | grep -m1 '^\.\./lib' || echo ../lib)
mkdir -p "$inst/bin" "$inst/bin/$rel"
cp "$ukrun" "$ukd" "$ukctl" "$inst/bin/" && cp "$lib" "$inst/bin/$rel/"
out=$("$inst/bin/ukrun" --tmpfs --socket "$dir/inst.sock" --idle-timeout 2 -- cat /etc/hostname /uk/nothing 2>&1)
case $out in
*"$host"*"No such file"*) ok "install layout" ;;
*) bad "install layout: $out" ;;
esac
exit $fail
