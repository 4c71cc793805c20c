#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ukctl mkfs/fsck as a user runs them: exit codes, messages, refusals.
# usage: test_ukctl.sh PATH-TO-UKCTL
set -u
ukctl=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

# expect CODE PATTERN CMD...: runs CMD, checks its exit code and that its
# output (stdout and stderr) matches the extended regex PATTERN.
expect() {
	local code=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$code" ] || ! grep -Eq -- "$pat" <<<"$out"; then
		echo "FAIL: $* -> $rc (want $code), output:"
		echo "$out" | sed 's/^/  /'
		fail=1
	else
		echo "ok: $*"
	fi
}

expect 0 'usage: ukctl COMMAND' "$ukctl" --help
expect 2 'usage: ukctl COMMAND' "$ukctl"
expect 2 "unknown command 'frob'" "$ukctl" frob
expect 0 'usage: ukctl mkfs' "$ukctl" mkfs --help
expect 2 'usage: ukctl mkfs' "$ukctl" mkfs "$dir/a"
expect 2 "bad size '12X'" "$ukctl" mkfs "$dir/a" --size 12X
expect 2 "bad size '-1M'" "$ukctl" mkfs "$dir/a" --size -1M
expect 2 "bad inode count" "$ukctl" mkfs "$dir/a" --size 1M --inodes x
expect 2 '64 KiB|too small|size' "$ukctl" mkfs "$dir/a" --size 4K
expect 0 '16384 blocks' "$ukctl" mkfs "$dir/img" --size 64MiB --inodes 1000
[ -f "$dir/img/meta.db" ] && [ -f "$dir/img/blocks" ] ||
	{ echo "FAIL: image files missing"; fail=1; }
[ "$(stat -c %s "$dir/img/blocks")" -eq 67108864 ] ||
	{ echo "FAIL: blocks file size"; fail=1; }
expect 2 'already holds an image' "$ukctl" mkfs "$dir/img" --size 64M
expect 0 'clean' "$ukctl" fsck "$dir/img"
expect 0 'clean' "$ukctl" fsck --repair "$dir/img"
expect 2 'No such file|missing' "$ukctl" fsck "$dir/none"
cp -r "$dir/img" "$dir/bad"
echo garbage >"$dir/bad/meta.db"
expect 2 'not a SQLite database' "$ukctl" fsck "$dir/bad"

exit $fail
