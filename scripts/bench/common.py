"""Shared pieces of radrelay's benchmark suite (scripts/bench/*.py): building the release binaries,
starting radrelayd / DCMTK storescp / Orthanc on free loopback ports, sending with DCMTK storescu,
counting flushes with strace, reading peak RSS, and printing figures with a ratio against an
anchor measured in the same run (these machines are shared and noisy: absolute times alone mean
little)."""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRATCH = os.environ.get("BENCH_SCRATCH", os.path.join(REPO, ".build-release"))
STORESCU = "/usr/bin/storescu"  # never the pynetdicom console script of the same name
STORESCP = "/usr/bin/storescp"
ORTHANC = "/usr/sbin/Orthanc"
ENV = dict(os.environ, TCP_NODELAY="1")  # this DCMTK sets TCP_NODELAY only when asked (FIELD-NOTES)
FLUSH_CALLS = ("fsync", "fdatasync", "sync_file_range", "msync")


# ---------------------------------------------------------------------------------------------
# Build and binaries

def build_release(products=("radrelayd", "radrelayctl", "radrelay-bench")):
    """`swift build -c release --scratch-path .build-release` for each product; returns the bin dir.
    A separate scratch path keeps the release build from fighting the debug builds for the lock."""
    if os.environ.get("BENCH_BIN_DIR"):
        return os.environ["BENCH_BIN_DIR"]
    for product in products:
        print(f"# building {product} (release, {SCRATCH}) ...", flush=True)
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--product", product],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--show-bin-path"],
                             cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    check_no_fault_points(os.path.join(bin_dir, "radrelayd"))
    return bin_dir


def check_no_fault_points(binary):
    """Fault points and stall points (FaultPoints.swift) must be compiled out of a release build."""
    with open(binary, "rb") as f:
        content = f.read()
    for marker in (b"RADRELAY_FAULT_POINTS", b"RADRELAY_FAULT_STALLS"):
        if marker in content:
            raise SystemExit(f"{binary} contains fault-injection code ({marker.decode()}): not a release build")
    print(f"# {os.path.basename(binary)}: release build, no fault or stall points compiled in")


def build_shim(workdir):
    shim = os.path.join(workdir, "fsync_on_close.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", shim, os.path.join(REPO, "scripts/bench/fsync_on_close.c"),
                    "-ldl"], check=True)
    return shim


def make_workdir(prefix="radrelay-bench-"):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("BENCH_DIR", "/var/tmp"))


def make_ct(out, count, rows=512):
    subprocess.run([sys.executable, os.path.join(REPO, "scripts/make-ct-series.py"), "--out", out,
                    "--count", str(count), "--rows", str(rows), "--cols", str(rows)], check=True,
                   stdout=subprocess.DEVNULL)
    return sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".dcm"))


# ---------------------------------------------------------------------------------------------
# Network helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"port {port} never opened")


def send(port, files, called, senders=1):
    """Sends `files` split over `senders` concurrent storescu processes (one association each);
    returns wall seconds until the last one exits."""
    chunks = [files[i::senders] for i in range(senders)]
    start = time.monotonic()
    procs = [subprocess.Popen([STORESCU, "-aec", called, "-aet", "STORESCU", "127.0.0.1", str(port)] + chunk,
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for chunk in chunks]
    errors = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            errors.append(err.decode()[-500:])
    elapsed = time.monotonic() - start
    if errors:
        raise SystemExit("storescu failed: " + errors[0])
    return elapsed


# ---------------------------------------------------------------------------------------------
# strace flush counting

def strace_prefix(out_file):
    if not shutil.which("strace"):
        return None
    return ["strace", "-f", "-c", "-e", "trace=" + ",".join(FLUSH_CALLS), "-o", out_file]


def flushes_from_strace(path):
    """Sum of the `calls` column of flush syscalls in an `strace -c` summary; and per call."""
    total, per = 0, {}
    if not path or not os.path.exists(path):
        return float("nan"), per
    for line in open(path):
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in FLUSH_CALLS:
            try:
                calls = int(parts[3])
            except ValueError:
                calls = int(parts[2])  # no "usecs/call" column
            # sync_file_range(SYNC_FILE_RANGE_WRITE) only starts write-back (radrelay overlaps it
            # with validation); the fsync after it is the flush. Listed, not counted.
            if parts[-1] != "sync_file_range":
                total += calls
            per[parts[-1]] = calls
    return total, per


# ---------------------------------------------------------------------------------------------
# Peers

class StoreSCP:
    """DCMTK storescp writing into a fresh directory; optionally fsyncing (LD_PRELOAD shim), forking
    per association (for concurrent senders), and traced by strace."""

    def __init__(self, workdir, shim=None, fsync_dir=False, fork=False, strace_out=None):
        self.out = tempfile.mkdtemp(dir=workdir, prefix="storescp-")
        self.port = free_port()
        env = dict(ENV)
        if shim:
            env["LD_PRELOAD"] = shim
        if fsync_dir:
            env["FSYNC_DIR"] = "1"
        args = [STORESCP, "-aet", "STORESCP", "-od", self.out, str(self.port)]
        if fork:
            args.insert(1, "--fork")
        if strace_out:
            args = strace_prefix(strace_out) + args
        self.traced = bool(strace_out)
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        # Under strace, signal the traced storescp (strace exits after it, writing its summary);
        # SIGTERM to strace itself would detach and leave storescp running.
        for pid in (children(self.proc.pid) if self.traced else [self.proc.pid]):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in children(self.proc.pid) + [self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
        shutil.rmtree(self.out, ignore_errors=True)


class Daemon:
    """The release radrelayd on a fresh state dir (or a given one), forwarding to `remote_port`."""

    def __init__(self, bin_dir, workdir, remote_port, strace_out=None, state=None, associations=2,
                 base_delay="1s", max_delay="2s", ready_timeout=600):
        self.bin_dir = bin_dir
        self.state = state or tempfile.mkdtemp(dir=workdir, prefix="state-")
        self.config = self.state.rstrip("/") + ".yaml"
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
    associations: {associations}
    retry: {{ base_delay: {base_delay}, max_delay: {max_delay} }}
routes:
  - destinations: [remote]
logging:
  level: warning
""")
        cmd = [os.path.join(bin_dir, "radrelayd"), "--config", self.config]
        self.strace_out = strace_out
        if strace_out:
            cmd = strace_prefix(strace_out) + cmd
        self.log = open(self.state.rstrip("/") + ".log", "w")
        self.socket = os.path.join(self.state, "control.sock")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=ENV, stdout=self.log, stderr=self.log)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("radrelayd exited: " + open(self.log.name).read()[-2000:])
            try:
                self.port = self.status()["listener"]["port"]
                if self.port:
                    self.ready_seconds = time.monotonic() - started
                    return
            except Exception:
                time.sleep(0.02)
        raise SystemExit("radrelayd did not start: " + open(self.log.name).read()[-2000:])

    def status(self):
        out = subprocess.run(["curl", "-s", "--max-time", "10", "--unix-socket", self.socket, "http://localhost/status"],
                             capture_output=True, check=True).stdout
        return json.loads(out)

    def pid(self):
        if self.strace_out:
            kids = children(self.proc.pid)
            return kids[0] if kids else self.proc.pid
        return self.proc.pid

    def memory_mib(self):
        """(VmRSS, VmHWM) in MiB."""
        values = {}
        with open(f"/proc/{self.pid()}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line.split(":")[0]] = int(line.split()[1]) / 1024
        return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))

    def stop(self):
        # The daemon itself, not strace (which would detach and leave it running).
        pid = self.pid()
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            for p in {pid, self.proc.pid}:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
        self.log.close()


class Orthanc:
    """Debian's Orthanc as the remote, on free ports, storing into the workdir."""

    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(dir=workdir, prefix="orthanc-")
        self.dicom_port, self.http_port = free_port(), free_port()
        cfg = {"Name": "BENCH", "StorageDirectory": self.dir, "IndexDirectory": self.dir,
               "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": "ORTHANC",
               "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True, "RemoteAccessAllowed": False,
               "AuthenticationEnabled": False, "StorageCompression": False, "SaveJobs": False}
        path = os.path.join(self.dir, "orthanc.json")
        json.dump(cfg, open(path, "w"))
        # Orthanc's DCMTK, like storescu's, sets TCP_NODELAY only when the variable says so; without
        # it every C-STORE-RSP waits for a delayed ACK (~40 ms) and Orthanc looks 10x slower.
        self.proc = subprocess.Popen([ORTHANC, path], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.http_port)
        wait_port(self.dicom_port)

    def count(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/statistics") as r:
            return json.load(r)["CountInstances"]

    def wait_count(self, n, timeout=1800):
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"timeout waiting for {n} instances at Orthanc (has {self.count()})")
            time.sleep(0.02)

    def stop(self):
        self.proc.kill()  # SIGTERM costs seconds; the store is thrown away
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Reporting

class Report:
    """Collects figures; prints each with a ratio against an anchor of the same run."""

    def __init__(self):
        self.values = {}
        self.lines = []

    def set(self, name, value):
        self.values[name] = value

    def median(self, name):
        v = self.values[name]
        return statistics.median(v) if isinstance(v, list) else v

    def timing(self, name, count, anchor=None, target=None, unit="obj"):
        v = self.median(name)
        samples = self.values[name]
        spread = ""
        if isinstance(samples, list) and len(samples) > 1:
            spread = f" (runs: {', '.join(f'{x:.3f}' for x in samples)})"
        ratio = ""
        if anchor:
            r = v / self.median(anchor)
            ratio = f"  {r:5.2f}x {anchor}"
            if target is not None:
                ratio += f"  [target <= {target:.2f}x: {'met' if r <= target else f'MISSED by {(r / target - 1) * 100:.0f}%'}]"
        self.out(f"{name:34s} {v:8.3f} s  {count / v:7.1f} {unit}/s{ratio}{spread}")

    def out(self, text=""):
        print(text, flush=True)
        self.lines.append(text)


PENDING = [
    ("compression", "slices/s and ratio per codec: scripts/bench/compression.py (BENCH_ONLY=...,compression)",
     "issue 3"),
    ("throttle accuracy", "configured vs measured rate over 30 s", "issue 4"),
    ("STOW-RS end to end", "vs a DICOM destination: scripts/bench/stow.py (BENCH_ONLY=...,stow)", "issue 5"),
    ("DICOM TLS ingest/forward", "ingest and forwarding over TLS vs plain, same files", "issue 5"),
]


def print_pending(report):
    report.out("## not in this run (separate scripts, or pending: add a section to scripts/bench as features land)")
    for name, what, issue in PENDING:
        state = "separate script" if "scripts/bench/" in what else "pending"
        report.out(f"{name:34s} {state} ({issue}): {what}")
