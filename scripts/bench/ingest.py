#!/usr/bin/env python3
"""Ingest, end-to-end and memory benchmarks for radrelay, each against a DCMTK or Orthanc anchor
measured in the same run on the same files (docs/benchmarks.md has the method and the figures).

Sections (all by default; pick with --only a,b):
  ingest      one storescu association, 300-slice 512x512 16-bit CT (~158 MB):
              storescp (anchor), storescp + fsync per file (LD_PRELOAD shim), + directory fsync,
              radrelay; flushes per object counted with strace for storescp+fsync and radrelay.
              Target: radrelay <= 1.3x storescp+fsync.
  concurrent  4 storescu senders x 100 objects: radrelay vs storescp --fork + fsync fed the same way,
              flushes per object (group commit). Target: <= 1.0x.
  e2e         storescu -> radrelay -> Orthanc, time until the last object is at Orthanc, vs storescu
              straight to Orthanc. Target: <= 1.2x.
  memory      radrelayd peak RSS (VmHWM) during the CT, and during a >= 2 GB study (many objects,
              forwarded to Orthanc), sampled as it goes to show it stays flat. Target: <= 60 MB, flat.
Runs are interleaved (anchor, radrelay, anchor, ...) and the median of --repeat runs is reported.

Usage: scripts/bench/ingest.py [--count 300] [--senders 4] [--per-sender 100] [--repeat 3]
                               [--big-gb 2.1] [--only ingest,concurrent,e2e,memory] [--keep]
"""
import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, Daemon, Orthanc, Report, StoreSCP, build_release, build_shim, cpu_seconds,  # noqa: E402
                    flushes_from_strace, free_port, make_ct, make_workdir, print_pending, send)


def section_ingest(r, bin_dir, workdir, shim, files, repeat):
    n = len(files)
    unused = free_port()  # forwarding target nobody listens on: pure ingest
    for k in ("storescp", "storescp+fsync", "storescp+fsync+dir", "radrelay"):
        r.set(k, [])
    # Warm-up, not counted: the files into the page cache, the binaries loaded.
    scp = StoreSCP(workdir)
    send(scp.port, files, "STORESCP")
    scp.stop()
    for _ in range(repeat):
        for name, kwargs in (("storescp", {}), ("storescp+fsync", {"shim": shim}),
                             ("storescp+fsync+dir", {"shim": shim, "fsync_dir": True})):
            scp = StoreSCP(workdir, **kwargs)
            try:
                r.values[name].append(send(scp.port, files, "STORESCP"))
                if name == "storescp+fsync":
                    r.values.setdefault("cpu storescp+fsync", []).append(cpu_seconds(scp.proc.pid))
            finally:
                scp.stop()
        d = Daemon(bin_dir, workdir, unused)
        cpu0 = cpu_seconds(d.pid())
        r.values["radrelay"].append(send(d.port, files, "RADRELAY"))
        r.values.setdefault("cpu radrelay", []).append(cpu_seconds(d.pid()) - cpu0)
        r.set("rss ct", d.memory_mib())
        d.stop()

    # Flushes per object, each under strace (slower; counts only).
    trace = os.path.join(workdir, "strace-storescp.txt")
    scp = StoreSCP(workdir, shim=shim, strace_out=trace)
    send(scp.port, files, "STORESCP")
    scp.stop()
    anchor_flushes, _ = flushes_from_strace(trace)
    trace = os.path.join(workdir, "strace-radrelay.txt")
    d = Daemon(bin_dir, workdir, unused, strace_out=trace)
    send(d.port, files, "RADRELAY")
    d.stop()
    flushes, per = flushes_from_strace(trace)

    r.out(f"## ingest, one association: {n} CT slices (median of {repeat} interleaved runs)")
    r.timing("storescp", n)
    r.timing("storescp+fsync", n, "storescp")
    r.timing("storescp+fsync+dir", n, "storescp")
    r.timing("radrelay", n, "storescp+fsync", target=1.3)
    r.out(f"{'flushes per object':34s} storescp+fsync {anchor_flushes / n:.2f}, radrelay {flushes / n:.2f} "
          f"({' '.join(f'{k}={v}' for k, v in sorted(per.items()))})  {flushes / max(anchor_flushes, 1):.2f}x")
    cpu_a, cpu_r = r.median("cpu storescp+fsync"), r.median("cpu radrelay")
    r.out(f"{'receiver CPU per object':34s} storescp+fsync {cpu_a / n * 1000:.2f} ms, radrelay {cpu_r / n * 1000:.2f} ms  "
          f"{cpu_r / max(cpu_a, 1e-9):.2f}x")


def section_concurrent(r, bin_dir, workdir, shim, files, senders, repeat):
    n = len(files)
    unused = free_port()
    a, b = f"storescp+fsync x{senders}", f"radrelay x{senders}"
    r.set(a, [])
    r.set(b, [])
    for _ in range(repeat):
        scp = StoreSCP(workdir, shim=shim, fork=True)
        try:
            r.values[a].append(send(scp.port, files, "STORESCP", senders=senders))
        finally:
            scp.stop()
        d = Daemon(bin_dir, workdir, unused)
        r.values[b].append(send(d.port, files, "RADRELAY", senders=senders))
        d.stop()
    trace = os.path.join(workdir, "strace-radrelay-concurrent.txt")
    d = Daemon(bin_dir, workdir, unused, strace_out=trace)
    send(d.port, files, "RADRELAY", senders=senders)
    d.stop()
    flushes, per = flushes_from_strace(trace)
    r.out(f"## ingest, {senders} concurrent associations x {n // senders} objects (median of {repeat})")
    r.timing(a, n)
    r.timing(b, n, a, target=1.0)
    r.out(f"{'flushes per object':34s} radrelay x{senders} {flushes / n:.2f} "
          f"({' '.join(f'{k}={v}' for k, v in sorted(per.items()))}); storescp+fsync: 1 per object by construction")


def section_e2e(r, bin_dir, workdir, files, repeat):
    n = len(files)
    r.set("direct to orthanc", [])
    r.set("via radrelay to orthanc", [])
    acks = []
    for _ in range(repeat):
        o = Orthanc(workdir)
        t0 = time.monotonic()
        send(o.dicom_port, files, "ORTHANC")
        o.wait_count(n)
        r.values["direct to orthanc"].append(time.monotonic() - t0)
        o.stop()

        o = Orthanc(workdir)
        d = Daemon(bin_dir, workdir, o.dicom_port)
        t0 = time.monotonic()
        acks.append(send(d.port, files, "RADRELAY"))
        o.wait_count(n)
        r.values["via radrelay to orthanc"].append(time.monotonic() - t0)
        r.set("rss e2e", d.memory_mib())
        d.stop()
        o.stop()
    r.out(f"## end to end: time until the last of {n} objects is at Orthanc (median of {repeat})")
    r.timing("direct to orthanc", n)
    r.timing("via radrelay to orthanc", n, "direct to orthanc", target=1.2)
    r.out(f"{'  (radrelay acknowledged all after)':34s} {sorted(acks)[len(acks) // 2]:8.3f} s")


def make_big_study(out, gigabytes):
    """Many distinct 512x512 slices (one pixel template, fresh UIDs), fast to generate."""
    script = os.path.join(REPO, "scripts/bench/make-big-study.py")
    subprocess.run([sys.executable, script, "--out", out, "--gb", str(gigabytes)], check=True)
    return sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".dcm"))


def section_memory(r, bin_dir, workdir, gigabytes):
    ct_rss = r.values.get("rss ct")
    e2e_rss = r.values.get("rss e2e")
    r.out("## memory: radrelayd peak RSS (VmHWM)")
    if ct_rss:
        r.out(f"{'CT ingest (300 slices)':34s} {ct_rss[1]:8.1f} MiB ({ct_rss[1] * 1.048576:.1f} MB)  "
              f"[target <= 60 MiB: {'met' if ct_rss[1] <= 60 else 'MISSED'}]")
    if e2e_rss:
        r.out(f"{'CT end to end':34s} {e2e_rss[1]:8.1f} MiB")
    big = os.path.join(workdir, "big")
    files = make_big_study(big, gigabytes)
    size = sum(os.path.getsize(f) for f in files)
    o = Orthanc(workdir)
    d = Daemon(bin_dir, workdir, o.dicom_port)
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                samples.append((time.monotonic(), o.count(), *d.memory_mib()))
            except Exception:
                pass
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    send(d.port, files, "RADRELAY")
    ingest = time.monotonic() - t0
    o.wait_count(len(files))
    total = time.monotonic() - t0
    done.set()
    sampler.join()
    rss, hwm = d.memory_mib()
    d.stop()
    o.stop()
    shutil.rmtree(big, ignore_errors=True)
    quarter = [samples[min(len(samples) - 1, int(len(samples) * q))] for q in (0.25, 0.5, 0.75, 1.0)] if samples else []
    anchor = ct_rss[1] if ct_rss else float("nan")
    r.out(f"{f'{size / 1e9:.2f} GB study ({len(files)} objects)':34s} {hwm:8.1f} MiB ({hwm * 1.048576:.1f} MB)  "
          f"{hwm / anchor:5.2f}x CT ingest peak  "
          f"[target <= 60 MiB and flat: {'met' if hwm <= 60 and hwm / anchor <= 1.25 else 'MISSED'}]")
    r.out(f"{'  RSS at 25/50/75/100% of the run':34s} " + ", ".join(f"{s[2]:.1f}" for s in quarter)
          + f" MiB (ingest {ingest:.1f} s, last object at Orthanc after {total:.1f} s, {len(files) / total:.0f} obj/s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--per-sender", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big-gb", type=float, default=2.1)
    ap.add_argument("--only", default="ingest,concurrent,e2e,memory")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    only = set(args.only.split(","))

    bin_dir = build_release()
    workdir = make_workdir()
    shim = build_shim(workdir)
    needed = max(args.count, args.senders * args.per_sender)
    files = make_ct(os.path.join(workdir, "ct"), needed)
    ct = files[:args.count]
    size_mb = sum(os.path.getsize(f) for f in ct) / 1e6
    r = Report()
    r.out(f"# radrelay benchmark {time.strftime('%Y-%m-%d %H:%M:%S')} on {os.uname().nodename} "
          f"({os.cpu_count()} CPUs), {args.count} CT slices 512x512x16 = {size_mb:.0f} MB, workdir {workdir}")
    try:
        if "ingest" in only or "memory" in only:
            section_ingest(r, bin_dir, workdir, shim, ct, args.repeat)
        if "concurrent" in only:
            section_concurrent(r, bin_dir, workdir, shim, files[:args.senders * args.per_sender], args.senders,
                               args.repeat)
        if "e2e" in only:
            section_e2e(r, bin_dir, workdir, ct, args.repeat)
        if "memory" in only:
            section_memory(r, bin_dir, workdir, args.big_gb)
        print_pending(r)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
