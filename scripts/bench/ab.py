#!/usr/bin/env python3
"""Paired A/B of radrelayd builds on the one-association (or --senders N) ingest of the CT series,
with the fsyncing storescp as anchor: each repeat runs the anchor, then every build, in an order
rotated per repeat (the run right after a deleted storescp directory is slower on this ext4, so a
fixed order biases the comparison). Reports median / min wall time, ratio to the anchor's median
and receiver CPU per object for each build. Not part of `make bench`: for comparing a change
against the binary it replaces on a shared, noisy machine (docs/benchmarks.md).

Usage: scripts/bench/ab.py --bin DIR_A --bin DIR_B [--repeat 9] [--senders 1] [--count 300]
       (each DIR holds a release radrelayd, e.g. a copy of .build-release/.../release/radrelayd)
"""
import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Daemon, StoreSCP, build_shim, cpu_seconds, free_port, make_ct, make_workdir, send  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, help="directory with a radrelayd (repeatable)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--senders", type=int, default=1)
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    bins, n = args.bin, args.count
    workdir = make_workdir()
    try:
        shim = build_shim(workdir)
        files = make_ct(os.path.join(workdir, "ct"), n)
        unused = free_port()
        scp = StoreSCP(workdir)  # warm-up: files into the page cache
        send(scp.port, files, "STORESCP")
        scp.stop()
        wall = {"anchor": [], **{b: [] for b in bins}}
        cpu = {b: [] for b in bins}
        for i in range(args.repeat):
            scp = StoreSCP(workdir, shim=shim, fork=args.senders > 1)
            wall["anchor"].append(send(scp.port, files, "STORESCP", senders=args.senders))
            scp.stop()
            for b in bins[i % len(bins):] + bins[:i % len(bins)]:
                d = Daemon(b, workdir, unused)
                cpu0 = cpu_seconds(d.pid())
                wall[b].append(send(d.port, files, "RADRELAY", senders=args.senders))
                cpu[b].append(cpu_seconds(d.pid()) - cpu0)
                d.stop()
            print(f"run {i}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in wall.items()), flush=True)
        anchor = statistics.median(wall["anchor"])
        print(f"storescp+fsync x{args.senders}: median {anchor:.3f} s, min {min(wall['anchor']):.3f} s")
        for b in bins:
            m = statistics.median(wall[b])
            print(f"{b}: median {m:.3f} s, min {min(wall[b]):.3f} s, {m / anchor:.2f}x anchor, "
                  f"CPU {statistics.median(cpu[b]) / n * 1000:.2f} ms per object")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
