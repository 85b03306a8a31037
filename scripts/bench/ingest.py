#!/usr/bin/env python3
"""Ingest and end-to-end benchmark for radrelay, with DCMTK anchors measured in the same run.

Prints, for one generated CT series sent by DCMTK storescu (TCP_NODELAY=1):
  1. storescp writing the files (no fsync)                      -- anchor
  2. storescp + fsync of each file before its response (LD_PRELOAD shim)
  3. storescp + fsync of each file and its directory
  4. radrelay (release build) ingest, with fsync/fdatasync calls counted by strace
  5. radrelay ingest without strace (the wall-time figure)
  6. the same with N concurrent storescu senders, vs storescp+fsync fed the same way
  7. end to end: storescu -> radrelay -> Orthanc, time until the last object is at Orthanc,
     vs storescu straight to Orthanc
and the daemon's peak RSS. Every ratio compares runs on the same files in the same run.

Usage: scripts/bench/ingest.py [--count 300] [--senders 4] [--keep]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
ENV = dict(os.environ, TCP_NODELAY="1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def send(port, files, called, senders=1):
    """Sends `files` split over `senders` concurrent storescu processes; returns wall seconds."""
    chunks = [files[i::senders] for i in range(senders)]
    start = time.monotonic()
    procs = [
        subprocess.Popen([STORESCU, "-aec", called, "-aet", "STORESCU", "127.0.0.1", str(port)] + chunk,
                         env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for chunk in chunks
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"storescu failed: {err.decode()[-500:]}")
    return time.monotonic() - start


def storescp_run(files, workdir, preload=None, fsync_dir=False, senders=1):
    out = tempfile.mkdtemp(dir=workdir)
    port = free_port()
    env = dict(ENV)
    if preload:
        env["LD_PRELOAD"] = preload
    if fsync_dir:
        env["FSYNC_DIR"] = "1"
    args = [STORESCP, "-aet", "STORESCP", "-od", out, str(port)]
    if senders > 1:
        args.insert(1, "--fork")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        return send(port, files, "STORESCP", senders)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        shutil.rmtree(out, ignore_errors=True)


class Daemon:
    def __init__(self, binary, workdir, remote_port, strace=False):
        self.state = tempfile.mkdtemp(dir=workdir, prefix="state-")
        self.config = os.path.join(self.state, "..", os.path.basename(self.state) + ".yaml")
        with open(self.config, "w") as f:
            f.write(f"""gateway:
  ae_title: RADRELAY
  bind: 127.0.0.1
  port: 0
  state_dir: {self.state}
  min_free_disk: 1%
  max_associations: 32
  allowed_callers:
    - ae_title: STORESCU
      hosts: [127.0.0.1]
destinations:
  - name: remote
    kind: dicom
    ae_title: ORTHANC
    host: 127.0.0.1
    port: {remote_port}
    associations: 2
    retry: {{ base_delay: 1s, max_delay: 2s }}
routes:
  - destinations: [remote]
logging:
  level: warning
""")
        cmd = [binary, "--config", self.config]
        self.strace_out = None
        if strace:
            self.strace_out = os.path.join(workdir, "strace.txt")
            cmd = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync,sync_file_range", "-o", self.strace_out] + cmd
        self.proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=open(self.state + ".log", "w"))
        self.socket = os.path.join(self.state, "control.sock")
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                self.port = self.status()["listener"]["port"]
                if self.port:
                    return
            except Exception:
                time.sleep(0.05)
        raise SystemExit("radrelayd did not start: " + open(self.state + ".log").read()[-2000:])

    def status(self):
        out = subprocess.run(["curl", "-s", "--unix-socket", self.socket, "http://localhost/status"],
                             capture_output=True, check=True).stdout
        return json.loads(out)

    def pid(self):
        if self.strace_out:
            kids = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
            return int(kids[0]) if kids else self.proc.pid
        return self.proc.pid

    def peak_rss_mib(self):
        with open(f"/proc/{self.pid()}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def flushes_from_strace(path):
    total = 0
    for line in open(path):
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in ("fsync", "fdatasync", "sync_file_range"):
            total += int(parts[3])
    return total


class Orthanc:
    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(dir=workdir, prefix="orthanc-")
        self.dicom_port, self.http_port = free_port(), free_port()
        cfg = {"Name": "BENCH", "StorageDirectory": self.dir, "IndexDirectory": self.dir,
               "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": "ORTHANC",
               "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True, "RemoteAccessAllowed": False,
               "AuthenticationEnabled": False, "StorageCompression": False}
        path = os.path.join(self.dir, "orthanc.json")
        json.dump(cfg, open(path, "w"))
        self.proc = subprocess.Popen(["/usr/sbin/Orthanc", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.http_port)
        wait_port(self.dicom_port)

    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/statistics") as r:
            return json.load(r)["CountInstances"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def wait_count(orthanc, n, timeout=600):
    deadline = time.monotonic() + timeout
    while orthanc.count() < n:
        if time.monotonic() > deadline:
            raise SystemExit("timeout waiting for Orthanc")
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "radrelayd"], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip() + "/radrelayd"
    workdir = tempfile.mkdtemp(prefix="radrelay-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    shim = os.path.join(workdir, "fsync_on_close.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", shim, os.path.join(REPO, "scripts/bench/fsync_on_close.c"),
                    "-ldl"], check=True)
    data = os.path.join(workdir, "ct")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts/make-ct-series.py"), "--out", data,
                    "--count", str(args.count)], check=True, stdout=subprocess.DEVNULL)
    files = sorted(os.path.join(data, f) for f in os.listdir(data))
    size_mb = sum(os.path.getsize(f) for f in files) / 1e6
    print(f"# {args.count} CT slices 512x512x16, {size_mb:.0f} MB, workdir {workdir}")

    results = {}
    results["storescp"] = storescp_run(files, workdir)
    results["storescp+fsync"] = storescp_run(files, workdir, preload=shim)
    results["storescp+fsync+dir"] = storescp_run(files, workdir, preload=shim, fsync_dir=True)

    unused = free_port()  # forwarding target nobody listens on: pure ingest
    d = Daemon(binary, workdir, unused, strace=shutil.which("strace") is not None)
    results["radrelay(strace)"] = send(d.port, files, "RADRELAY")
    d.stop()
    flushes = flushes_from_strace(d.strace_out) if d.strace_out else float("nan")

    d = Daemon(binary, workdir, unused)
    results["radrelay"] = send(d.port, files, "RADRELAY")
    rss_ingest = d.peak_rss_mib()
    d.stop()

    n = args.senders
    results[f"storescp+fsync x{n}"] = storescp_run(files, workdir, preload=shim, senders=n)
    d = Daemon(binary, workdir, unused)
    results[f"radrelay x{n}"] = send(d.port, files, "RADRELAY", senders=n)
    d.stop()

    o = Orthanc(workdir)
    t0 = time.monotonic()
    send(o.dicom_port, files, "ORTHANC")
    wait_count(o, len(files))
    results["direct to orthanc"] = time.monotonic() - t0
    o.stop()

    o = Orthanc(workdir)
    d = Daemon(binary, workdir, o.dicom_port)
    t0 = time.monotonic()
    ack = send(d.port, files, "RADRELAY")
    wait_count(o, len(files))
    results["via radrelay to orthanc"] = time.monotonic() - t0
    rss_e2e = d.peak_rss_mib()
    d.stop()
    o.stop()

    def line(name, anchor=None):
        v = results[name]
        ratio = f"  {v / results[anchor]:.2f}x {anchor}" if anchor else ""
        print(f"{name:28s} {v:7.3f} s  {args.count / v:7.1f} obj/s{ratio}")

    print("## ingest, one association")
    line("storescp")
    line("storescp+fsync", "storescp")
    line("storescp+fsync+dir", "storescp")
    line("radrelay", "storescp+fsync")
    line("radrelay(strace)", "storescp+fsync")
    print(f"radrelay flushes per object (fsync+fdatasync, strace): {flushes / args.count:.2f}")
    print(f"## ingest, {n} concurrent associations")
    line(f"storescp+fsync x{n}")
    line(f"radrelay x{n}", f"storescp+fsync x{n}")
    print("## end to end (until the last object is at Orthanc)")
    line("direct to orthanc")
    line("via radrelay to orthanc", "direct to orthanc")
    print(f"  (radrelay acknowledged everything after {ack:.3f} s)")
    print(f"## memory: radrelayd peak RSS {rss_ingest:.1f} MiB (ingest), {rss_e2e:.1f} MiB (end to end)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
