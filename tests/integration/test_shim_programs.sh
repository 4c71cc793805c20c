#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real programs through libukshim.so: each case runs once under the shim
# with its directory on /uk (served by a ukerneld on a fresh image) and
# once natively in a temporary directory, and the two runs must agree on
# the output (the directory's name replaced by D), the exit status and the
# resulting tree (names, types, modes, sizes of files, link targets and
# the contents' hashes).
# usage: test_shim_programs.sh UKERNELD UKCTL LIBUKSHIM MTWRITE [CASE...]
#   CASE: coreutils dash bash tar sqlite python git mtwrite (default: all)
set -u
ukd=$(realpath "$1") ukctl=$(realpath "$2") shim=$(realpath "$3")
mtwrite=$(realpath "$4")
shift 4
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(coreutils dash bash tar sqlite python git mtwrite)

# An ASan build's shim runs in the system's programs only after the ASan
# runtime (first in LD_PRELOAD); their own leaks are not ours to report.
pre=$shim
asan=$(ldd "$shim" | awk '/libasan/ { print $3 }')
if [ -n "$asan" ]; then
	pre=$asan:$shim
	export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0
	# coreutils call aligned_alloc(4096, 1), which glibc allows and
	# ASan's allocator reports as an error before our code runs.
	if [ "${cases[*]}" = coreutils ]; then
		echo "skip: coreutils' aligned_alloc(4096, 1) aborts under ASan"
		exit 77
	fi
fi

tmp=$(mktemp -d /tmp/ukshim-prog.XXXXXX)
nat=$tmp/native
mkdir -p "$nat"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid"
	rm -rf "$tmp"
}
trap cleanup EXIT

"$ukctl" mkfs "$tmp/img" --size 512M >/dev/null || exit 1
"$ukd" "$tmp/img" --foreground --socket "$tmp/s" --root /uk \
	2>"$tmp/ukerneld.log" &
dpid=$!
for _ in $(seq 200); do
	grep -q serving "$tmp/ukerneld.log" && break
	sleep 0.1
done
export UKERNEL_SOCKET=$tmp/s UKERNEL_ROOT=/uk
fail=0

# under CMD...: CMD with the shim preloaded.
under() { LD_PRELOAD=$pre "$@"; }

# tree DIR: one line per entry below DIR, then a hash per regular file.
tree() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %l\n' |
		awk '$2 == "d" { $4 = "-" } { print }' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 -r md5sum)
}

# run_case NAME: the body is the function body_NAME, run by bash with D set.
run_case() {
	local name=$1 vd=/uk/$1 nd=$nat/$1 vo no vr nr vt nt
	under mkdir -p "$vd" && mkdir -p "$nd"
	vo=$(cd / && D=$vd under bash -c "$(declare -f body_$name); body_$name" 2>&1)
	vr=$?
	no=$(cd / && D=$nd bash -c "$(declare -f body_$name); body_$name" 2>&1)
	nr=$?
	vo=${vo//$vd/D}
	no=${no//$nd/D}
	vt=$(under bash -c "$(declare -f tree); tree $vd" 2>&1)
	nt=$(tree "$nd" 2>&1)
	if [ "$vr" != "$nr" ] || [ "$vo" != "$no" ] || [ "$vt" != "$nt" ]; then
		echo "FAIL: $name (exit /uk $vr, native $nr)"
		diff <(echo "$vo") <(echo "$no") | sed 's/^/  output: /' | head -40
		diff <(echo "$vt") <(echo "$nt") | sed 's/^/  tree: /' | head -40
		fail=1
	else
		echo "ok: $name ($(echo "$no" | wc -l) lines, $(echo "$nt" | wc -l) tree lines)"
	fi
}

body_coreutils() {
	set -e
	mkdir -p "$D/a/b/c"
	echo hello >"$D/a/f"
	printf 'line %s\n' 3 1 2 5 4 >"$D/a/lines"
	cat "$D/a/f" "$D/a/lines"
	cp -a "$D/a" "$D/a2"
	mv "$D/a2/f" "$D/a2/g"
	touch -d '2020-01-01 00:00:00' "$D/a/t"
	touch "$D/a/f"
	ln "$D/a/f" "$D/a/hard"
	ln -s f "$D/a/sym"
	stat -c '%n %s %h %F %a' "$D/a/f" "$D/a/sym" "$D/a/hard"
	stat -c '%n %h %F %a' "$D/a/b"
	stat -L -c '%n %s %F' "$D/a/sym"
	stat -c '%n %Y' "$D/a/t"
	ls -la "$D/a" | awk 'NR > 1 { print $1, $2, ($1 ~ /^d/ ? "-" : $5), $NF }'
	ls -1 "$D/a2" "$D/a/b"
	du -b --apparent-size "$D/a/f" "$D/a/lines"
	du -s "$D/a" >/dev/null
	find "$D" -name '*f*' | LC_ALL=C sort
	find "$D/a" -type d | LC_ALL=C sort
	chmod -R go-rwx "$D/a2"
	head -c 3 "$D/a/lines"; echo
	head -n 2 "$D/a/lines"
	tail -n 2 "$D/a/lines"
	tail -c 4 "$D/a/lines"
	wc "$D/a/lines"
	sort -o "$D/a/sorted" "$D/a/lines"
	cat "$D/a/sorted"
	sort -r "$D/a/lines" | head -n 1
	dd if=/dev/zero of="$D/zero" bs=4k count=10 status=none
	dd if="$D/a/lines" of="$D/part" bs=1 skip=5 count=10 status=none
	cat "$D/part"; echo
	truncate -s 100 "$D/zero"
	truncate -s 9000 "$D/grown"
	seq 1 200 >"$D/nums"
	(cd "$D" && split -b 100 nums part_)
	ls "$D" | grep -c part_
	cat "$D"/part_* | cmp - "$D/nums"
	install -m 640 "$D/nums" "$D/installed"
	install -d -m 750 "$D/idir/sub"
	rm -rf "$D/a2"
	rm "$D/part_aa"
	ls "$D"
	cat "$D/missing" 2>&1 || echo "cat failed as it should"
}

# The shell bodies run in dash too: the same redirections and pipelines.
shell_work='
	echo first >"$D/f"
	echo second >>"$D/f"
	cat <"$D/f"
	ls "$D/nonexistent" 2>"$D/err" || echo "ls failed: $(wc -l <"$D/err") line"
	sed "s|$D|D|" "$D/err" >"$D/err.txt" && rm "$D/err"
	cat <<EOF >"$D/here"
here $((1 + 2))
document
EOF
	cat "$D/here"
	cat "$D/f" "$D/here" | sort | uniq -c | sort -rn | head -n 3
	cd "$D"
	mkdir rel
	cd rel
	echo x >y
	cat ../rel/y
	pwd | sed "s|$D|D|"
	cd ..
	ls rel
	for i in 1 2 3; do echo "$i" >"n$i"; done
	cat n*
	exec 3>"$D/fd3"
	echo via fd 3 >&3
	exec 3>&-
	cat fd3
	sed -i "s/first/FIRST/" "$D/f" && cat "$D/f"
	[ -f "$D/f" ] && [ -d rel ] && [ ! -e nope ] && echo tests ok
	read -r line <f && echo "read $line"
'

body_dash() {
	dash -c "$shell_work"
}

body_bash() {
	bash -c "$shell_work"
}

body_tar() {
	set -e
	mkdir -p "$D/src/sub/deeper"
	for i in 1 2 3 4 5; do
		seq 1 $((i * 1000)) >"$D/src/sub/file$i"
	done
	echo small >"$D/src/sub/deeper/s"
	ln -s sub/file1 "$D/src/link"
	chmod 600 "$D/src/sub/file2"
	# Reproducible archives: fixed times and order, no gzip timestamp.
	tar cf - --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-C "$D" src | gzip -n >"$D/src.tgz"
	mkdir "$D/out"
	tar xzf "$D/src.tgz" -C "$D/out"
	tar tzf "$D/src.tgz" | LC_ALL=C sort
	diff -r "$D/src" "$D/out/src" && echo same
	gzip -n -k "$D/src/sub/file5"
	gunzip -c "$D/src/sub/file5.gz" | tail -n 1
	(cd "$D/out" && tar cf - src | tar xf - -C "$D" --transform 's/^src/copy/')
	ls "$D/copy/sub"
}

body_sqlite() {
	set -e
	{
		echo 'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);'
		for tx in 0 1 2 3; do
			echo 'BEGIN;'
			seq $((tx * 2500 + 1)) $((tx * 2500 + 2500)) |
				awk '{ printf "INSERT INTO t(name, v) VALUES (\x27n%d\x27, %d.5);\n", $1, $1 % 97 }'
			echo 'COMMIT;'
		done
	} >"$D/load.sql"
	sqlite3 "$D/db.sqlite" <"$D/load.sql"
	sqlite3 "$D/db.sqlite" 'SELECT count(*), sum(v), min(name), max(id) FROM t;'
	sqlite3 "$D/db.sqlite" 'CREATE INDEX tv ON t(v); SELECT v, count(*) FROM t GROUP BY v ORDER BY 2 DESC, 1 LIMIT 3;'
	sqlite3 "$D/db.sqlite" "UPDATE t SET v = 0 WHERE id % 10 = 0; DELETE FROM t WHERE id > 9000; SELECT count(*), sum(v) FROM t;"
	sqlite3 "$D/db.sqlite" 'PRAGMA integrity_check; PRAGMA journal_mode;'
	ls "$D"
}

body_python() {
	python3 - "$D" <<'PY'
import os, shutil, sys, tempfile
d = sys.argv[1]
with open(os.path.join(d, "a.txt"), "w") as f:
    f.write("alpha\n" * 100)
with open(os.path.join(d, "a.txt")) as f:
    print(len(f.read()), "bytes")
os.makedirs(os.path.join(d, "tree/x/y"))
for i in range(5):
    with open(os.path.join(d, "tree/x", f"f{i}"), "wb") as f:
        f.write(bytes(range(256)) * (i + 1))
os.symlink("x/f1", os.path.join(d, "tree/lnk"))
shutil.copytree(os.path.join(d, "tree"), os.path.join(d, "copy"), symlinks=True)
os.rename(os.path.join(d, "copy/x/f0"), os.path.join(d, "copy/renamed"))
for root, dirs, files in os.walk(d):
    dirs.sort()
    print(os.path.relpath(root, d), sorted(dirs), sorted(files))
fd, p = tempfile.mkstemp(dir=d, suffix=".tmp")
os.write(fd, b"temp data")
os.close(fd)
os.rename(p, os.path.join(d, "from-temp"))
with tempfile.TemporaryDirectory(dir=d) as t:
    open(os.path.join(t, "inside"), "w").close()
    print("tempdir entries", os.listdir(t))
with tempfile.NamedTemporaryFile(dir=d, mode="w+") as t:
    t.write("named")
    t.seek(0)
    print("named", t.read())
st = os.stat(os.path.join(d, "copy/lnk"))
print("stat via link", st.st_size, oct(st.st_mode & 0o777))
print("realpath", os.path.relpath(os.path.realpath(os.path.join(d, "copy/lnk")), d))
print(sorted(os.listdir(d)))
shutil.rmtree(os.path.join(d, "tree"))
print(sorted(e.name for e in os.scandir(d)))
PY
}

# git makes its temporary files with mkstemp (glibc's creates them with
# internal calls). .git goes at the end: its index records inode numbers.
body_git() {
	set -e
	export GIT_AUTHOR_NAME=n GIT_AUTHOR_EMAIL=n@x GIT_COMMITTER_NAME=n
	export GIT_COMMITTER_EMAIL=n@x GIT_AUTHOR_DATE='2020-01-01 00:00 +0000'
	export GIT_COMMITTER_DATE='2020-01-01 00:00 +0000' GIT_CONFIG_NOSYSTEM=1
	export HOME=$D
	cd "$D"
	git init -q -b main .
	mkdir sub
	echo hello >a.txt
	echo x >sub/b
	git add .
	git commit -qm init
	git log --format='%H %s'
	echo more >>a.txt
	git status --short
	git diff --stat
	git stash -q
	git status --short
	git stash pop -q
	git commit -qam second
	git checkout -q -b side HEAD~1
	cat a.txt
	git checkout -q main
	git gc -q
	git fsck --no-dangling 2>&1
	git log --oneline | wc -l
	rm -rf .git
}

body_mtwrite() {
	"$mtwrite" "$D/mt.bin"
}
export mtwrite shell_work

for c in "${cases[@]}"; do
	run_case "$c"
done
exit $fail
