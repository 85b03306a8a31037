#!/usr/bin/env python3
"""STOW-RS benchmark for radrelay (issue 5), self-contained.

  e2e     storescu -> radrelay -> Orthanc for a CT series, time from the first byte sent to the
          last instance delivered, for: a DICOM destination (C-STORE), a STOW-RS destination with
          1 instance per request, and one with 50 per request (Orthanc's DICOMweb plugin).
          Each phase gets a fresh daemon and a fresh Orthanc; phases are interleaved over
          --repeat rounds and the median is reported.
  memory  a >= --big-gb study forwarded over STOW-RS (50 per request, 1 GB per request cap):
          the daemon's peak RSS (VmHWM), sampled every 0.5 s while it runs.

Usage: scripts/bench/stow.py [--count 100] [--repeat 3] [--big-gb 1.05] [--only e2e,memory]
                             [--bin .build/release] [--keep]
Needs: Debian's orthanc + orthanc-dicomweb, DCMTK's storescu, python3 with pydicom and numpy.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def make_ct(directory, count, rows=512, cols=512):
    os.makedirs(directory, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(REPO, "scripts/make-ct-series.py"), "--out", directory,
                    "--count", str(count), "--rows", str(rows), "--cols", str(cols)], check=True,
                   stdout=subprocess.DEVNULL)
    return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".dcm"))


class Orthanc:
    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(prefix="orthanc-", dir=workdir)
        self.http = free_port()
        self.dicom = free_port()
        config = {"Name": "bench", "StorageDirectory": self.dir + "/db", "IndexDirectory": self.dir + "/db",
                  "HttpPort": self.http, "DicomPort": self.dicom, "DicomAet": "ORTHANC",
                  "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True, "RemoteAccessAllowed": True,
                  "AuthenticationEnabled": False, "Plugins": [PLUGIN],
                  "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
        with open(self.dir + "/orthanc.json", "w") as f:
            json.dump(config, f)
        self.log = open(self.dir + "/orthanc.log", "w")
        self.proc = subprocess.Popen(["/usr/sbin/Orthanc", self.dir + "/orthanc.json"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.http)
        wait_port(self.dicom)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


class Daemon:
    def __init__(self, binary, workdir, destination_yaml):
        self.dir = tempfile.mkdtemp(prefix="radrelay-", dir=workdir)
        self.port = free_port()
        config = f"""gateway:
  ae_title: RADRELAY
  bind: 127.0.0.1
  port: {self.port}
  state_dir: {self.dir}/state
  min_free_disk: 1%
  allowed_callers: [{{ ae_title: STORESCU, hosts: [127.0.0.1] }}]
destinations:
{destination_yaml}
routes:
  - destinations: [remote]
"""
        with open(self.dir + "/radrelay.yaml", "w") as f:
            f.write(config)
        self.log = open(self.dir + "/radrelayd.log", "w")
        env = dict(os.environ, TCP_NODELAY="1")
        self.proc = subprocess.Popen([binary, "--config", self.dir + "/radrelay.yaml"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        wait_port(self.port)
        self.socket = self.dir + "/state/control.sock"

    def delivered(self):
        out = subprocess.run(["curl", "-s", "--unix-socket", self.socket, "http://localhost/status"],
                             capture_output=True, text=True).stdout
        try:
            status = json.loads(out)
        except ValueError:
            return 0, 0
        d = status["destinations"][0]["counts"]
        return d.get("delivered", 0), d.get("dead", 0)

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def dicom_destination(orthanc):
    return f"""  - name: remote
    kind: dicom
    ae_title: ORTHANC
    host: 127.0.0.1
    port: {orthanc.dicom}
    associations: 1"""


def stow_destination(orthanc, per_request, max_bytes="64MB"):
    return f"""  - name: remote
    kind: stow
    url: http://127.0.0.1:{orthanc.http}/dicom-web
    associations: 1
    max_instances_per_request: {per_request}
    max_bytes_per_request: {max_bytes}"""


def run_phase(binary, workdir, files, make_destination, sample=None):
    orthanc = Orthanc(workdir)
    daemon = Daemon(binary, workdir, make_destination(orthanc))
    try:
        start = time.monotonic()
        subprocess.run(["/usr/bin/storescu", "-aec", "RADRELAY", "-aet", "STORESCU", "127.0.0.1",
                        str(daemon.port)] + files, check=True, env=dict(os.environ, TCP_NODELAY="1"))
        peak = 0.0
        while True:
            delivered, dead = daemon.delivered()
            if sample:
                peak = max(peak, daemon.rss_mib()[1])
            if delivered + dead >= len(files):
                break
            if time.monotonic() - start > 1800:
                raise RuntimeError("timed out")
            time.sleep(0.02 if not sample else 0.5)
        elapsed = time.monotonic() - start
        _, hwm = daemon.rss_mib()
        if dead:
            raise RuntimeError(f"{dead} dead letters; see {daemon.dir}/radrelayd.log")
        return elapsed, max(peak, hwm)
    finally:
        daemon.stop()
        orthanc.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--big-gb", type=float, default=1.05)
    p.add_argument("--only", default="e2e,memory")
    p.add_argument("--bin", default=os.path.join(REPO, ".build/release"))
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    binary = os.path.join(args.bin, "radrelayd")
    if not os.path.exists(binary):
        binary = os.path.join(REPO, ".build/debug/radrelayd")
    workdir = tempfile.mkdtemp(prefix="radrelay-stow-bench-")
    print(f"binary: {binary}\nworkdir: {workdir}")
    try:
        if "e2e" in args.only:
            files = make_ct(os.path.join(workdir, "ct"), args.count)
            size = sum(os.path.getsize(f) for f in files) / 1e6
            phases = [("dicom", dicom_destination), ("stow x1", lambda o: stow_destination(o, 1)),
                      ("stow x50", lambda o: stow_destination(o, 50))]
            times = {name: [] for name, _ in phases}
            for _ in range(args.repeat):
                for name, make in phases:
                    times[name].append(run_phase(binary, workdir, files, make)[0])
            print(f"\nCT series: {len(files)} slices, {size:.0f} MB, storescu -> radrelay -> Orthanc "
                  f"(median of {args.repeat})")
            for name, _ in phases:
                print(f"  {name:10s} {statistics.median(times[name]):6.2f} s   runs: "
                      + ", ".join(f"{t:.2f}" for t in times[name]))
        if "memory" in args.only:
            # 2048x2048 16-bit slices (~8.4 MB each) until the study reaches --big-gb.
            count = int(args.big_gb * 1e9 / (2048 * 2048 * 2)) + 1
            files = make_ct(os.path.join(workdir, "big"), count, 2048, 2048)
            size = sum(os.path.getsize(f) for f in files) / 1e9
            elapsed, peak = run_phase(binary, workdir, files,
                                      lambda o: stow_destination(o, 50, "1GB"), sample=True)
            print(f"\nlarge study: {len(files)} objects, {size:.2f} GB over STOW-RS (50 per request): "
                  f"{elapsed:.1f} s, radrelayd peak RSS {peak:.0f} MiB")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
