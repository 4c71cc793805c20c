#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ukerneld as a user runs it: command line, foreground and daemonized
# start/stop, readiness, a second daemon refused, signals, a client's calls,
# idle CPU, stale sockets, who may connect, an image kept across a restart,
# and inherited descriptors not kept. One case per run so that meson reports
# each:
# usage: test_ukerneld.sh CASE UKERNELD CLIENT UKCTL
#   CASE: cli foreground daemon second idle stale timeout perm image inherit
set -u
case_=$1 ukd=$2 client=$3 ukctl=$4
dir=$(mktemp -d /tmp/ukd-test.XXXXXX)
chmod 0711 "$dir" # uid 65534 must reach sockets under it (perm)
export XDG_RUNTIME_DIR=$dir/run
unset UKERNEL_SOCKET UKERNEL_NAME
mkdir -p "$XDG_RUNTIME_DIR"
pids=()
fail=0

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# expect CODE PATTERN CMD...: CMD exits CODE and its output matches PATTERN.
expect() {
	local code=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$code" ] || ! grep -Eq -- "$pat" <<<"$out"; then
		bad "$* -> $rc (want $code), output:"
		echo "$out" | sed 's/^/  /'
	else
		ok "$*"
	fi
}

# wait_for COND-CMD...: polls for up to 20 s (ASan builds start slowly).
wait_for() {
	local i
	for i in $(seq 200); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# A foreground daemon is ready once it logs that it serves (its socket
# may be a stale one until then).
serving() { [ -S "$1" ] && grep -q "pid $pid serving" "$2"; }

# start_fg SOCKET LOG ARGS...: a foreground daemon; sets $pid.
start_fg() {
	local s=$1 log=$2
	shift 2
	"$ukd" "$@" --foreground --socket "$s" 2>"$log" &
	pid=$!
	pids+=("$pid")
	wait_for serving "$s" "$log" ||
		{ bad "not serving on $s"; cat "$log"; }
}

# stop_fg SIG: signals $pid and checks exit 0 and the socket removed.
stop_fg() {
	local sig=$1 s=$2 rc
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] && ok "SIG$sig: exit 0" || bad "SIG$sig: exit $rc"
	[ ! -e "$s" ] && ok "socket removed" || bad "socket $s left behind"
	[ ! -e "$s.lock" ] && ok "lock removed" || bad "lock $s.lock left"
}

# The pid of the daemon behind socket s, from its lock file.
lock_pid() { cat "$1.lock" 2>/dev/null; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Finer: nanoseconds on a CPU and context switches, summed over threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ n += $1 } END { print n }'; }
switches() {
	cat /proc/"$1"/task/*/status |
		awk '/ctxt_switches/ { n += $2 } END { print n }'
}

case $case_ in
cli)
	expect 0 'usage: ukerneld IMAGE' "$ukd" --help
	expect 0 '^ukerneld \(ukernel\) [0-9]+\.[0-9]+' "$ukd" --version
	expect 2 'no IMAGE \(or --tmpfs\) given' "$ukd"
	expect 2 "unknown option '--frob'" "$ukd" --tmpfs --frob
	expect 2 "give IMAGE or --tmpfs, not both" "$ukd" --tmpfs img
	expect 2 "unexpected argument 'b'" "$ukd" a b
	expect 2 "bad cache size '12X'" "$ukd" --tmpfs --cache-size 12X
	expect 2 "needs an argument" "$ukd" --tmpfs --cache-size
	expect 2 "bad --allow-uid list" "$ukd" --tmpfs --allow-uid nosuchuser_x
	expect 2 "bad idle timeout '-1'" "$ukd" --tmpfs --idle-timeout -1
	expect 2 "--root needs an absolute path" "$ukd" --tmpfs --root uk
	expect 1 "nosuchimage: No such file" "$ukd" "$dir/nosuchimage" -f
	;;
foreground)
	s=$dir/s/fg.sock
	start_fg "$s" "$dir/log" --tmpfs
	[ "$(stat -c %a "$dir/s")" = 700 ] && ok "dir 0700" ||
		bad "dir mode $(stat -c %a "$dir/s")"
	[ "$(stat -c %a "$s")" = 600 ] && ok "socket 0600" ||
		bad "socket mode $(stat -c %a "$s")"
	expect 0 '' "$client" --socket "$s" write /hello "hello, ukernel"
	expect 0 '^hello, ukernel$' "$client" --socket "$s" read /hello
	expect 1 'No such file' "$client" --socket "$s" read /nothere
	# A connected client does not hold up the shutdown.
	"$client" --socket "$s" hold 5 &
	cpid=$!
	sleep 0.5 # connected by then (ASan included)
	t0=$SECONDS
	stop_fg TERM "$s"
	[ $((SECONDS - t0)) -le 2 ] && ok "stopped with a client connected" ||
		bad "shutdown waited $((SECONDS - t0)) s for a client"
	wait "$cpid"
	grep -q 'shutting down' "$dir/log" && ok "logged to stderr" ||
		bad "no shutdown line on stderr: $(cat "$dir/log")"
	start_fg "$s" "$dir/log" --tmpfs
	stop_fg INT "$s"
	# SIGHUP is ignored.
	start_fg "$s" "$dir/log" --tmpfs
	kill -HUP "$pid"
	sleep 0.3
	alive "$pid" && ok "SIGHUP ignored" || bad "SIGHUP killed it"
	expect 0 '' "$client" --socket "$s" write /after-hup x
	stop_fg TERM "$s"
	;;
daemon)
	# Default path: $XDG_RUNTIME_DIR/ukernel/tmpfs.sock for --tmpfs (the
	# name says what is served; "default" is ukrun's default image).
	s=$XDG_RUNTIME_DIR/ukernel/tmpfs.sock
	expect 0 '^$' "$ukd" --tmpfs
	# The parent returned: the socket must already be listening.
	[ -S "$s" ] && ok "listening when the parent exits" ||
		bad "no socket right after start"
	dpid=$(lock_pid "$s")
	pids+=("$dpid")
	[ "$(ps -o sid= -p "$dpid" | tr -d ' ')" = "$dpid" ] &&
		ok "daemon is a session leader" || bad "no setsid"
	[ "$(readlink "/proc/$dpid/cwd")" = / ] && ok "cwd /" ||
		bad "cwd $(readlink "/proc/$dpid/cwd")"
	[ "$(readlink "/proc/$dpid/fd/2")" = /dev/null ] &&
		ok "stderr on /dev/null" || bad "stderr not detached"
	expect 0 '' env UKERNEL_NAME=tmpfs "$client" write /d "daemonized"
	expect 0 '^daemonized$' env UKERNEL_NAME=tmpfs "$client" read /d
	kill -TERM "$dpid"
	wait_for gone "$dpid" && ok "SIGTERM: daemon gone" ||
		bad "daemon still alive"
	[ ! -e "$s" ] && ok "socket removed" || bad "socket left behind"
	# A start-up error reaches the caller through the readiness pipe.
	mkdir -p "$dir/x"
	touch "$dir/x/file.sock"
	expect 1 'exists and is not a socket' "$ukd" --tmpfs \
		--socket "$dir/x/file.sock"
	[ -f "$dir/x/file.sock" ] && ok "non-socket left alone" ||
		bad "removed a regular file"
	# Named after the image: UKERNEL_NAME=img finds it.
	;;
second)
	s=$dir/second.sock
	expect 0 '^$' "$ukd" --tmpfs --socket "$s"
	first=$(lock_pid "$s")
	pids+=("$first")
	expect 1 "in use by ukerneld pid $first" "$ukd" --tmpfs --socket "$s"
	expect 1 "in use by ukerneld pid $first" "$ukd" --tmpfs -f \
		--socket "$s"
	alive "$first" && ok "first daemon unharmed" || bad "first died"
	expect 0 '' "$client" --socket "$s" write /f still-served
	kill -TERM "$first"
	wait_for gone "$first" || bad "first daemon did not exit"
	;;
idle)
	s=$dir/idle.sock
	expect 0 '^$' "$ukd" --tmpfs --socket "$s"
	dpid=$(lock_pid "$s")
	pids+=("$dpid")
	expect 0 '' "$client" --socket "$s" write /f x
	sleep 1 # the client's exit is noticed; the clock refresh stops
	t0=$(cpu_ticks "$dpid") n0=$(cpu_ns "$dpid") c0=$(switches "$dpid")
	sleep 4
	t1=$(cpu_ticks "$dpid") n1=$(cpu_ns "$dpid") c1=$(switches "$dpid")
	hz=$(getconf CLK_TCK)
	echo "idle CPU: $((t1 - t0)) ticks of 1/$hz s in 4 s" \
	     "(utime+stime of all threads); $(((n1 - n0) / 1000)) us on a CPU," \
	     "$((c1 - c0)) context switches (schedstat, status)"
	[ $((t1 - t0)) -le 1 ] && ok "idle daemon uses no CPU" ||
		bad "idle daemon used $((t1 - t0)) ticks in 4 s"
	[ $((c1 - c0)) -le 4 ] && ok "idle daemon does not wake up" ||
		bad "idle daemon woke $((c1 - c0)) times in 4 s"
	kill -TERM "$dpid"
	wait_for gone "$dpid" || bad "daemon did not exit"
	;;
stale)
	s=$dir/stale.sock
	expect 0 '^$' "$ukd" --tmpfs --socket "$s"
	dpid=$(lock_pid "$s")
	pids+=("$dpid")
	kill -KILL "$dpid"
	wait_for gone "$dpid" || bad "kill -9 did not work"
	[ -S "$s" ] && ok "a killed daemon leaves its socket" ||
		bad "no stale socket to test with"
	start_fg "$s" "$dir/log" --tmpfs
	grep -q "replaced the stale socket" "$dir/log" &&
		ok "stale socket replaced" || bad "log: $(cat "$dir/log")"
	expect 0 '' "$client" --socket "$s" write /f fresh
	expect 0 '^fresh$' "$client" --socket "$s" read /f
	stop_fg TERM "$s"
	;;
timeout)
	s=$dir/t.sock
	start_fg "$s" "$dir/log" --tmpfs --idle-timeout 1
	# A connected client keeps it alive past the timeout.
	"$client" --socket "$s" hold 3 &
	cpid=$!
	sleep 2.5
	alive "$pid" && ok "alive while a client is connected" ||
		bad "exited with a client connected"
	wait "$cpid"
	t0=$SECONDS
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] && ok "idle timeout: exit 0 after $((SECONDS - t0)) s" ||
		bad "idle timeout: exit $rc"
	[ ! -e "$s" ] && ok "socket removed" || bad "socket left behind"
	;;
perm)
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root to run a client as uid 65534"
		exit 77
	fi
	s=$dir/p/perm.sock
	start_fg "$s" "$dir/log" --tmpfs
	expect 0 '' "$client" --socket "$s" write /shared "for everyone"
	expect 3 'connect' "$client" --as-uid 65534 --socket "$s" read /shared
	stop_fg TERM "$s"
	# Socket open to all, but 65534 not in the daemon's own list.
	start_fg "$s" "$dir/log" --tmpfs --allow-uid 1234
	[ "$(stat -c %a "$s")" = 666 ] && ok "socket 0666 with --allow-uid" ||
		bad "socket mode $(stat -c %a "$s")"
	expect 3 'connect' "$client" --as-uid 65534 --socket "$s" read /shared
	grep -q 'refused' "$dir/log" && ok "refusal logged" ||
		bad "no refusal in log: $(cat "$dir/log")"
	stop_fg TERM "$s"
	start_fg "$s" "$dir/log" --tmpfs --allow-uid 65534
	expect 0 '' "$client" --socket "$s" write /shared "for everyone"
	expect 0 '^for everyone$' "$client" --as-uid 65534 --socket "$s" \
		read /shared
	# Its credentials are uid 65534's: the root directory is root's 0755.
	expect 1 'Permission denied' "$client" --as-uid 65534 --socket "$s" \
		write /mine x
	stop_fg TERM "$s"
	;;
image)
	img=$dir/disk.img
	expect 0 '' "$ukctl" mkfs "$img" --size 64M
	if ! out=$("$ukd" "$img" --socket "$dir/probe.sock" 2>&1); then
		if grep -q 'cannot serve images yet' <<<"$out"; then
			echo "SKIP: this build cannot serve images yet"
			exit 77
		fi
		bad "serving the image: $out"
	fi
	p=$(lock_pid "$dir/probe.sock")
	kill -TERM "$p"
	wait_for gone "$p" || bad "probe daemon did not exit"
	# Default socket named after the image: .../ukernel/disk.sock.
	s=$XDG_RUNTIME_DIR/ukernel/disk.sock
	expect 0 '^$' "$ukd" "$img" --cache-size 16M
	dpid=$(lock_pid "$s")
	pids+=("$dpid")
	expect 1 "image in use by pid $dpid" "$ukd" "$img" -f \
		--socket "$dir/other.sock"
	expect 1 "image in use by pid $dpid" "$ukd" "$img" \
		--socket "$dir/other.sock"
	# Not an image: the mount's message reaches the caller.
	mkdir "$dir/empty.img"
	expect 1 'empty.img' "$ukd" "$dir/empty.img"
	# 3 MiB in one write: past the inline area (process_vm), many pages.
	big=$((3 << 20))
	expect 0 '' env UKERNEL_NAME=disk "$client" write /kept "kept across"
	expect 0 '' env UKERNEL_NAME=disk "$client" fill /big "$big"
	kill -TERM "$dpid"
	wait_for gone "$dpid" && ok "SIGTERM: daemon gone" || bad "still alive"
	[ ! -e "$s" ] && ok "socket removed" || bad "socket left behind"
	expect 0 '' "$ukctl" fsck "$img"
	# Again in the foreground, so that its exit status is checked too.
	start_fg "$s" "$dir/log" "$img"
	expect 0 '^kept across$' env UKERNEL_NAME=disk "$client" read /kept
	env UKERNEL_NAME=disk "$client" read /big >"$dir/got"
	want=$(yes 0123456789abcdef | tr -d '\n' | head -c "$big" | md5sum)
	[ "$(md5sum <"$dir/got")" = "$want" ] &&
		ok "3 MiB file intact after restart" ||
		bad "big file differs ($(stat -c %s "$dir/got") bytes)"
	stop_fg TERM "$s"
	expect 0 '' "$ukctl" fsck "$img"
	;;
inherit)
	# What the starter leaves open without O_CLOEXEC is not kept: a pipe's
	# write end (the reader sees EOF once the starter closes its copy) and
	# a file locked with flock (free again once the starter is gone). The
	# daemonized case is the report's `flock LOCK ukerneld IMAGE`.
	if ! command -v flock >/dev/null; then
		echo "SKIP: needs flock(1) (util-linux)"
		exit 77
	fi
	# not_held PID WHAT: no descriptor of PID is WHAT (a path or pipe:[N]).
	not_held() {
		local l
		for l in /proc/"$1"/fd/*; do
			[ "$(readlink "$l")" = "$2" ] && return 1
		done
		return 0
	}
	# check_not_inherited MODE PID PIPE EOFFILE: the daemon holds neither
	# the pipe nor the lock file, the pipe's reader saw EOF, the flock
	# is free, and the daemon still serves.
	check_not_inherited() {
		not_held "$2" "$3" && ok "$1: pipe not inherited" ||
			bad "$1: holds $3"
		not_held "$2" "$dir/held" && ok "$1: lock file not inherited" ||
			bad "$1: holds $dir/held"
		wait_for test -e "$4" && ok "$1: the reader saw EOF" ||
			bad "$1: the reader never saw EOF"
		flock -n "$dir/held" true && ok "$1: the flock is free" ||
			bad "$1: the flock is still held"
		expect 0 '' "$client" --socket "$s" write /f served
	}
	s=$dir/inh.sock
	exec 7> >(cat >/dev/null; touch "$dir/eof-daemon")
	pipe=$(readlink /proc/$$/fd/7)
	expect 0 '^$' flock "$dir/held" "$ukd" --tmpfs --socket "$s"
	dpid=$(lock_pid "$s")
	pids+=("$dpid")
	exec 7>&-
	check_not_inherited daemon "$dpid" "$pipe" "$dir/eof-daemon"
	kill -TERM "$dpid"
	wait_for gone "$dpid" || bad "daemon did not exit"
	# In the foreground: the same two, inherited as fds 7 and 8.
	exec 7> >(cat >/dev/null; touch "$dir/eof-fg")
	pipe=$(readlink /proc/$$/fd/7)
	exec 8>>"$dir/held"
	flock -x 8
	start_fg "$s" "$dir/log" --tmpfs
	exec 7>&- 8>&-
	check_not_inherited foreground "$pid" "$pipe" "$dir/eof-fg"
	stop_fg TERM "$s"
	;;
*)
	echo "unknown case $case_"
	exit 2
	;;
esac
exit $fail
