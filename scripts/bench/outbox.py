#!/usr/bin/env python3
"""Outbox-scale benchmark: with N queued deliveries (default 1 000 000), the time for
`radrelayctl status` and for one worker claim (`Outbox.claimDue`), each against the same
measurement on a 1 000-delivery outbox in the same run (the anchor). Targets: status <= 100 ms,
claim <= 5 ms.

The rows go into a real outbox: `radrelay-bench populate` opens an `Outbox` (the migrations of
Sources/RadRelayOutbox/Schema.swift) and bulk-inserts instances + queued deliveries (triggers keep
`delivery_stats`), plus the empty spool files the rows name so the daemon's startup reconcile
finds them. Then:
  - the release radrelayd starts on that state dir (start-up time = open + reconcile), forwarding to
    a port nobody listens on; `radrelayctl status` runs --samples times (wall time, process start
    included) and `curl` on the control socket the same (the server side);
  - with the daemon stopped, `radrelay-bench claim` times --claims claims (each a write transaction
    with synchronous=FULL, like a worker's) and `radrelay-bench status` times Outbox.status in process.

Usage: scripts/bench/outbox.py [--deliveries 1000000] [--anchor 1000] [--samples 20] [--claims 200] [--keep]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Daemon, Report, build_release, free_port, make_workdir, print_pending  # noqa: E402


def timed(cmd, samples):
    times = []
    for _ in range(samples):
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.monotonic() - t0) * 1000)
    return times


def bench_tool(bin_dir, *args):
    out = subprocess.run([os.path.join(bin_dir, "radrelay-bench"), *map(str, args)], check=True,
                         capture_output=True, text=True).stdout
    return out


def parse_ms(out, key):
    m = re.search(key + r" n=(\d+) min=([\d.]+) p50=([\d.]+) p95=([\d.]+) max=([\d.]+)", out)
    return {k: float(v) for k, v in zip(("n", "min", "p50", "p95", "max"), m.groups())} if m else None


def measure(bin_dir, workdir, deliveries, samples, claims):
    state = os.path.join(workdir, f"state-{deliveries}")
    t0 = time.monotonic()
    populate = bench_tool(bin_dir, "populate", state, deliveries, "--files").strip()
    populate_s = time.monotonic() - t0
    d = Daemon(bin_dir, workdir, free_port(), state=state, base_delay="60s", max_delay="300s")
    ready = d.ready_seconds
    ctl = timed([os.path.join(bin_dir, "radrelayctl"), "status", "--socket", d.socket], samples)
    curl = timed(["curl", "-s", "--unix-socket", d.socket, "http://localhost/status"], samples)
    status = d.status()
    d.stop()
    in_process = parse_ms(bench_tool(bin_dir, "status", state, samples), "status_ms")
    claim_out = bench_tool(bin_dir, "claim", state, claims)
    shutil.rmtree(state, ignore_errors=True)
    return {
        "populate": populate, "populate_s": populate_s, "ready_s": ready,
        "ctl": ctl, "curl": curl, "queued": status["destinations"][0]["counts"],
        "status_inproc": in_process, "claim": parse_ms(claim_out, "claim_ms"),
        "wake": parse_ms(claim_out, "next_wake_up_ms"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deliveries", type=int, default=1_000_000)
    ap.add_argument("--anchor", type=int, default=1_000)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    bin_dir = build_release()
    workdir = make_workdir("radrelay-bench-outbox-")
    r = Report()
    try:
        small = measure(bin_dir, workdir, args.anchor, args.samples, args.claims)
        big = measure(bin_dir, workdir, args.deliveries, args.samples, args.claims)
        a, b = f"{args.anchor:,}", f"{args.deliveries:,}"
        r.out(f"## outbox scale: {b} queued deliveries vs {a} (anchor), same run")
        r.out(f"{'populate (bulk insert + files)':34s} {big['populate_s']:8.1f} s   ({big['populate']})")
        r.out(f"{'daemon start (open + reconcile)':34s} {big['ready_s'] * 1000:8.0f} ms  "
              f"{big['ready_s'] / small['ready_s']:5.2f}x {a} ({small['ready_s'] * 1000:.0f} ms)")

        def line(name, big_ms, small_ms, target=None):
            verdict = ""
            if target is not None:
                verdict = f"  [target <= {target} ms: {'met' if big_ms <= target else f'MISSED by {big_ms - target:.1f} ms'}]"
            r.out(f"{name:34s} {big_ms:8.2f} ms  {big_ms / small_ms:5.2f}x {a} ({small_ms:.2f} ms){verdict}")

        line("radrelayctl status (p50, wall)", statistics.median(big["ctl"]), statistics.median(small["ctl"]), 100)
        line("radrelayctl status (p95, wall)", sorted(big["ctl"])[int(0.95 * (len(big["ctl"]) - 1))],
             sorted(small["ctl"])[int(0.95 * (len(small["ctl"]) - 1))], 100)
        line("GET /status via curl (p50)", statistics.median(big["curl"]), statistics.median(small["curl"]))
        line("Outbox.status in process (p50)", big["status_inproc"]["p50"], small["status_inproc"]["p50"])
        line("claimDue (p50, FULL commit)", big["claim"]["p50"], small["claim"]["p50"], 5)
        line("claimDue (p95)", big["claim"]["p95"], small["claim"]["p95"], 5)
        line("claimDue (max)", big["claim"]["max"], small["claim"]["max"])
        line("nextWakeUp (p50)", big["wake"]["p50"], small["wake"]["p50"])
        r.out(f"{'status counts at 1M':34s} {big['queued']}")
        print_pending(r)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
