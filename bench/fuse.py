#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run fuse [--json] [--quick] [--keep]

Our FUSE mount (ukerneld IMAGE --mount DIR, on a fresh ukfs image) beside
the same daemon's tree through the shim (LD_PRELOAD=libukshim.so, /uk),
native ext4, and Debian's bindfs over an ext4 directory with its default
options, in one run, one after the other, with the same driver
(build-release/bench/bench-fuse: stat, repeated stat, open+close, create
(+ write 4 KiB + close), unlink, create+write+close+unlink, cached 4 KiB
pread, 1 GiB sequential write+fsync and read after drop_caches) and fio
(psync, 4 KiB random read for 20 s of the sequential file, warm in the page
cache and with O_DIRECT). Needs root (mounts, drop_caches).

Prints a table, or with --json one object: <op>_fuse_ns, <op>_shim_ns,
<op>_bindfs_ns, <op>_native_ns, <op>_uring_ns (our mount again, a fresh
image, with --fuse-uring=on: FUSE over io_uring, docs/fuse.md; for
comparison, not in the ratios), <op>_vs_bindfs (bindfs time / ours),
<op>_vs_native (native time / ours); a missing setup's values are null and
its table column says n/a. --quick: small sizes (64 MiB sequential, 2 s
fio) for smoke runs. Targets, reported and not asserted: every row >= 1.0
vs bindfs; create, unlink and open+close >= 3.0 vs bindfs; stat, repeated
stat and the warm reads >= 0.8 of native; sequential >= 0.8 of native.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

OPS = [
    # key, label, target vs bindfs, target vs native
    ("stat", "stat (1000 files)", 1.0, 0.8),
    ("stat_repeat", "repeated stat", 1.0, 0.8),
    ("open_close", "open+close", 3.0, None),
    ("create", "create+write 4K+close", 3.0, None),
    ("unlink", "unlink", 3.0, None),
    ("create_unlink", "create+write+close+unlink", 1.0, None),
    ("pread_cached", "cached 4 KiB pread", 1.0, 0.8),
    ("seq_write", "seq write+fsync", 1.0, 0.8),
    ("seq_read", "seq read (cold)", 1.0, 0.8),
    ("fio_randread_warm", "fio 4K randread warm", 1.0, 0.8),
    ("fio_randread_direct", "fio 4K randread O_DIRECT", 1.0, None),
]
SETUPS = ["fuse", "shim", "uring", "bindfs", "native"]


def log(msg):
    print(f"bench fuse: {msg}", file=sys.stderr, flush=True)


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: "
                           f"{p.stderr.strip()[-400:]}")
    return p


def mounted(path):
    return subprocess.run(["mountpoint", "-q", path]).returncode == 0


def unmount(path):
    if mounted(path):
        if subprocess.run(["fusermount3", "-u", path],
                          stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


def fio(path, direct, runtime, env=None):
    """ns per 4 KiB random read (1e9 / IOPS), psync, queue depth 1."""
    cmd = ["fio", "--name=randread", f"--filename={path}", "--rw=randread",
           "--bs=4k", "--ioengine=psync", f"--direct={1 if direct else 0}",
           "--time_based", f"--runtime={runtime}", "--norandommap",
           "--randrepeat=0", "--invalidate=0", "--output-format=json"]
    p = run(cmd, env=env, check=False)
    if p.returncode != 0 or "{" not in p.stdout:
        log(f"fio {'direct' if direct else 'warm'} on {path} failed: "
            f"{(p.stderr or p.stdout).strip()[-300:]}")
        return None
    job = json.loads(p.stdout[p.stdout.index("{"):])["jobs"][0]
    iops = job["read"]["iops"]
    return 1e9 / iops if iops > 0 else None


def warm(path, env=None):
    """Reads a file once so its pages are in the cache (fio warm)."""
    run(["dd", f"if={path}", "of=/dev/null", "bs=1M"], env=env, check=False)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.environ.get("UK_BUILD") or os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "build-release")
        self.driver = os.path.join(self.build, "bench", "bench-fuse")
        self.ukerneld = os.path.join(self.build, "ukernel", "ukerneld")
        self.ukctl = os.path.join(self.build, "ukernel", "ukctl")
        self.shim = os.path.join(self.build, "shim", "libukshim.so")
        self.work = tempfile.mkdtemp(prefix="bench-fuse.", dir="/tmp")
        os.chmod(self.work, 0o755)
        self.daemon = None
        self.mounts = []
        self.seq_mib = 64 if args.quick else 1024
        self.fio_s = 2 if args.quick else 20
        self.notes = []

    def cleanup(self):
        for m in reversed(self.mounts):
            unmount(m)
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def driver_run(self, d, env=None):
        cmd = [self.driver, d, "--seq-mib", str(self.seq_mib)]
        if self.args.quick:
            cmd.append("--quick")
        p = run(cmd, env=env)
        res = json.loads(p.stdout)
        path = os.path.join(d, "seq.dat")
        warm(path, env)
        res["fio_randread_warm"] = fio(path, False, self.fio_s, env)
        res["fio_randread_direct"] = fio(path, True, self.fio_s, env)
        return res

    def start_daemon(self, name="", extra=()):
        img = os.path.join(self.work, "img" + name)
        size = max(2048, self.seq_mib * 2 + 512)
        run([self.ukctl, "mkfs", img, "--size", f"{size}M"])
        mnt = os.path.join(self.work, "mnt" + name)
        os.mkdir(mnt)
        self.sock = os.path.join(self.work, f"ukerneld{name}.sock")
        logf = open(os.path.join(self.work, f"ukerneld{name}.log"), "w")
        self.daemon = subprocess.Popen(
            [self.ukerneld, img, "--foreground", "--socket", self.sock,
             "--mount", mnt, *extra], stderr=logf)
        self.mounts.append(mnt)
        for _ in range(300):
            if os.path.exists(self.sock) and mounted(mnt):
                return mnt
            if self.daemon.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("ukerneld --mount did not come up (see "
                           f"{self.work}/ukerneld.log)")

    def setup_fuse(self):
        if not os.path.exists(self.ukerneld) or "--mount" not in run(
                [self.ukerneld, "--help"], check=False).stdout:
            self.notes.append("fuse: ukerneld has no --mount")
            return None
        mnt = self.start_daemon()
        d = os.path.join(mnt, "bench")
        os.mkdir(d)
        return self.driver_run(d)

    def setup_uring(self):
        """The same mount with requests through io_uring (--fuse-uring)."""
        if not os.path.exists("/sys/module/fuse/parameters/enable_uring"):
            self.notes.append("uring: this kernel has no FUSE over io_uring")
            return None
        mnt = self.start_daemon("-uring", ["--fuse-uring=on"])
        try:
            d = os.path.join(mnt, "bench")
            os.mkdir(d)
            return self.driver_run(d)
        finally:
            self.stop_daemon()

    def setup_shim(self):
        if not os.path.exists(self.shim):
            self.notes.append("shim: libukshim.so not built")
            return None
        if not self.daemon:
            self.notes.append("shim: no daemon (the fuse setup failed)")
            return None
        env = dict(os.environ, LD_PRELOAD=self.shim,
                   UKERNEL_SOCKET=self.sock)
        d = "/uk/shimbench"
        p = run(["mkdir", d], env=env, check=False)
        if p.returncode != 0:
            self.notes.append(f"shim: mkdir {d} failed: {p.stderr.strip()}")
            return None
        return self.driver_run(d, env)

    def setup_native(self):
        d = os.path.join(self.work, "native")
        os.mkdir(d)
        fstype = run(["stat", "-f", "-c", "%T", d]).stdout.strip()
        if fstype != "ext2/ext3":
            self.notes.append(f"native: {d} is on {fstype}, not ext4")
        return self.driver_run(d)

    def setup_bindfs(self):
        if not shutil.which("bindfs"):
            self.notes.append("bindfs: not installed (scripts/setup)")
            return None
        src = os.path.join(self.work, "bindsrc")
        mnt = os.path.join(self.work, "bindmnt")
        os.mkdir(src)
        os.mkdir(mnt)
        run(["bindfs", src, mnt])
        self.mounts.append(mnt)
        try:
            return self.driver_run(mnt)
        finally:
            unmount(mnt)

    def main(self):
        results = {}
        for s in SETUPS:
            log(f"{s} ...")
            try:
                results[s] = getattr(self, f"setup_{s}")()
            except Exception as e:  # one setup failing keeps the others
                self.notes.append(f"{s}: {e}")
                results[s] = None
            if s == "shim":
                # the daemon served fuse and shim; stop it before the rest
                self.stop_daemon()
        return results

    def stop_daemon(self):
        """Unmounts what is mounted (only the daemon's mount: bindfs
        comes after, and unmounts its own) and stops the daemon."""
        while self.mounts:
            unmount(self.mounts.pop())
        if self.daemon:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(60)
            self.daemon = None


def ratio(ref, ours):
    if ref is None or ours is None or ours <= 0:
        return None
    return ref / ours


def fmt_ns(v):
    if v is None:
        return "n/a"
    if v >= 1e9:
        return f"{v / 1e9:.2f} s"
    if v >= 1e6:
        return f"{v / 1e6:.1f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.1f} us"
    return f"{v:.0f} ns"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench fuse: needs root (mounts, drop_caches)")
    b = Bench(args)
    try:
        res = b.main()
    finally:
        b.cleanup()

    def val(setup, op):
        r = res.get(setup)
        return None if r is None else r.get(op)

    out = {}
    for op, _, _, _ in OPS:
        for s in SETUPS:
            out[f"{op}_{s}_ns"] = val(s, op)
        out[f"{op}_vs_bindfs"] = ratio(val("bindfs", op), val("fuse", op))
        out[f"{op}_vs_native"] = ratio(val("native", op), val("fuse", op))
        out[f"{op}_shim_vs_native"] = ratio(val("native", op),
                                            val("shim", op))
    out["seq_mib"] = b.seq_mib
    out["fio_seconds"] = b.fio_s
    out["notes"] = b.notes
    if args.json:
        print(json.dumps(out, indent=1))
        return

    def r(v, target):
        if v is None:
            return "n/a"
        mark = "" if target is None or v >= target else " *"
        return f"{v:.2f}{mark}"

    print(f"{'op':27} {'fuse':>9} {'shim':>9} {'uring':>9} {'bindfs':>9} "
          f"{'native':>9} {'vs bindfs':>10} {'vs native':>10}")
    for op, label, tb, tn in OPS:
        print(f"{label:27} {fmt_ns(val('fuse', op)):>9} "
              f"{fmt_ns(val('shim', op)):>9} "
              f"{fmt_ns(val('uring', op)):>9} "
              f"{fmt_ns(val('bindfs', op)):>9} "
              f"{fmt_ns(val('native', op)):>9} "
              f"{r(out[f'{op}_vs_bindfs'], tb):>10} "
              f"{r(out[f'{op}_vs_native'], tn):>10}")
    print(f"(time per op; seq rows: {b.seq_mib} MiB in all; fio: psync QD1, "
          f"{b.fio_s} s; ratios = their time / ours, * = below target: "
          "1.0 vs bindfs (3.0 for create, unlink, open+close), 0.8 vs "
          "native for stat, reads and sequential; uring: our mount with "
          "--fuse-uring, not in the ratios)")
    for n in b.notes:
        print(f"note: {n}")


if __name__ == "__main__":
    main()
