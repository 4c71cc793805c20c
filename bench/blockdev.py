#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run blockdev [--json] [--runtime S] [--size BYTES] [--file PATH]

Our block device (io_uring backend, O_DIRECT, build-release/bench/
bench-blockdev) beside fio (ioengine=io_uring, direct=1), in one run, on the
same image file, which is first written in full (reads of holes would not
touch the disk). Cases: 4 KiB random read and write at queue depth 1 and
32, 1 MiB sequential read and write at depth 8. Each case runs fio and ours
in short interleaved rounds and reports each one's median round; ratios
are the median of the rounds' paired ratios. Prints a table (IOPS, MB/s,
p50/p99 latency, ours vs fio and the ratio), or with --json one object with
the ratios (ours / fio) and the QD1 p50 latencies. Targets: the QD32 and
sequential throughput ratios >= 0.9 and our QD1 p50 within 10% of fio's.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

CASES = [
    # name, rw, block size, queue depth
    ("randread_qd1", "randread", 4096, 1),
    ("randread_qd32", "randread", 4096, 32),
    ("randwrite_qd1", "randwrite", 4096, 1),
    ("randwrite_qd32", "randwrite", 4096, 32),
    ("seqread", "read", 1 << 20, 8),
    ("seqwrite", "write", 1 << 20, 8),
]


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"blockdev bench: {' '.join(cmd)} failed:\n{p.stderr}")
    return p.stdout


def fill(path, size):
    """Write every byte of the image once, unless it is already allocated."""
    try:
        st = os.stat(path)
        if st.st_size == size and st.st_blocks * 512 >= size:
            return
    except FileNotFoundError:
        pass
    run(["fio", "--name=fill", f"--filename={path}", "--rw=write",
         "--bs=1M", f"--size={size}", "--direct=1", "--ioengine=io_uring",
         "--iodepth=8", "--output-format=json"])


def fio(path, size, rw, bs, qd, runtime, ramp):
    out = run(["fio", "--name=bench", f"--filename={path}",
               "--ioengine=io_uring", "--direct=1", f"--rw={rw}",
               f"--bs={bs}", f"--iodepth={qd}", "--time_based",
               f"--runtime={int(runtime * 1000)}ms",
               f"--ramp_time={int(ramp * 1000)}ms", f"--size={size}",
               "--norandommap", "--randrepeat=0",
               "--lat_percentiles=1", "--percentile_list=50:99",
               "--output-format=json"])
    job = json.loads(out[out.index("{"):])["jobs"][0]
    d = job["write" if "write" in rw else "read"]
    pct = d["lat_ns"]["percentile"]
    cpu_s = (job["usr_cpu"] + job["sys_cpu"]) / 100 * job["job_runtime"] / 1e3
    return {"iops": d["iops"], "mbps": d["bw_bytes"] / 1e6,
            "p50_us": pct["50.000000"] / 1e3,
            "p99_us": pct["99.000000"] / 1e3,
            "cpu_us_per_io": cpu_s * 1e6 / max(d["total_ios"], 1)}


def ours(build, path, rw, bs, qd, runtime, ramp, fixed):
    out = run([os.path.join(build, "bench", "bench-blockdev"),
               f"--file={path}", f"--rw={rw}", f"--bs={bs}", f"--qd={qd}",
               f"--runtime={runtime}", f"--ramp={ramp}",
               f"--fixed-bufs={1 if fixed else 0}"])
    return json.loads(out)


def med(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else \
        (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def median(runs):
    """Per metric, the median over rounds."""
    return {k: med([r[k] for r in runs])
            for k in ("iops", "mbps", "p50_us", "p99_us", "cpu_us_per_io")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runtime", type=float, default=10,
                    help="seconds per case and tool, over all rounds")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ramp", type=float, default=0.5,
                    help="warm-up seconds before each round")
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--file")
    ap.add_argument("--no-fixed-bufs", action="store_true",
                    help="plain buffers instead of registered ones")
    ap.add_argument("--cases", help="comma-separated subset of case names")
    a = ap.parse_args()

    root = os.environ.get("UK_ROOT", os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    build = os.environ.get("UK_BUILD", os.path.join(root, "build-release"))
    if not shutil.which("fio"):
        sys.exit("blockdev bench: fio not found (scripts/setup installs it)")
    path = a.file or os.path.join(build, "bench-data", "blockdev.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fill(path, a.size)

    wanted = set(a.cases.split(",")) if a.cases else None
    rows = []
    for name, rw, bs, qd in CASES:
        if wanted and name not in wanted:
            continue
        # Short interleaved rounds, alternating who goes first; each
        # tool's median round is reported, so that a burst of other load
        # on the host hits both sides alike instead of one whole run.
        slice_s = a.runtime / a.rounds
        refs, uss = [], []
        for r in range(a.rounds):
            if r % 2:
                uss.append(ours(build, path, rw, bs, qd, slice_s, a.ramp,
                                not a.no_fixed_bufs))
            refs.append(fio(path, a.size, rw, bs, qd, slice_s, a.ramp))
            if not r % 2:
                uss.append(ours(build, path, rw, bs, qd, slice_s, a.ramp,
                                not a.no_fixed_bufs))
        ref, us = median(refs), median(uss)
        # ratios from each round's pair (run back to back, so under the
        # same host load), then their median
        us["iops_ratio"] = med([u["iops"] / f["iops"]
                                for u, f in zip(uss, refs)])
        us["p50_ratio"] = med([u["p50_us"] / f["p50_us"]
                               for u, f in zip(uss, refs)])
        us["round_ratios"] = [round(u["iops"] / f["iops"], 3)
                              for u, f in zip(uss, refs)]
        rows.append((name, bs, qd, us, ref))
        if not a.json:
            print(f"  {name}: ours {us['iops']:.0f} IOPS, "
                  f"fio {ref['iops']:.0f} IOPS", file=sys.stderr)

    result = {}
    for name, bs, qd, us, ref in rows:
        result[f"{name}_ratio"] = round(us["iops_ratio"], 3)
        if qd == 1:
            result[f"{name}_p50_us"] = round(us["p50_us"], 1)
            result[f"{name}_p50_us_fio"] = round(ref["p50_us"], 1)
            result[f"{name}_p50_ratio"] = round(us["p50_ratio"], 3)
    result["cases"] = [{"case": n, "bs": bs, "qd": qd, "ours": us,
                        "fio": ref} for n, bs, qd, us, ref in rows]
    # the targets: throughput at depth (QD32, sequential) and QD1 latency
    targets = ("randread_qd32_ratio", "randwrite_qd32_ratio",
               "seqread_ratio", "seqwrite_ratio")
    ok = all(result[k] >= 0.9 for k in targets if k in result) and \
        all(v <= 1.1 for k, v in result.items() if k.endswith("p50_ratio"))
    result["targets_met"] = ok

    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"blockdev vs fio (io_uring, O_DIRECT) on {path}, "
          f"{a.size >> 20} MiB, {a.runtime:g} s per case and tool "
          f"({a.rounds} interleaved rounds, medians; ratio = median of "
          f"the rounds' ours/fio)")
    hdr = (f"{'case':<15} {'IOPS ours':>10} {'IOPS fio':>10} {'ratio':>6} "
           f"{'MB/s ours':>10} {'MB/s fio':>9} {'p50 ours':>9} "
           f"{'p50 fio':>8} {'p99 ours':>9} {'p99 fio':>8} "
           f"{'CPU/IO ours':>11} {'fio':>6}")
    print(hdr)
    print("-" * len(hdr))
    for name, bs, qd, us, ref in rows:
        print(f"{name:<15} {us['iops']:>10.0f} {ref['iops']:>10.0f} "
              f"{us['iops_ratio']:>6.2f} {us['mbps']:>10.1f} "
              f"{ref['mbps']:>9.1f} {us['p50_us']:>7.1f}us "
              f"{ref['p50_us']:>6.1f}us {us['p99_us']:>7.1f}us "
              f"{ref['p99_us']:>6.1f}us {us['cpu_us_per_io']:>9.1f}us "
              f"{ref['cpu_us_per_io']:>4.1f}us")
    qd1 = [(n, result[f"{n}_p50_ratio"]) for n, _, qd, _, _ in rows
           if qd == 1]
    print("QD1 p50 ours/fio: " + ", ".join(f"{n} {r:.2f}" for n, r in qd1))
    print("targets (ratios >= 0.9, QD1 p50 within 10%): "
          + ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
