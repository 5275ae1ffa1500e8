"""A real Ray cluster on this machine's loopback interface, for tests and benchmarks.

``ray start --head --block`` plus worker nodes (``ray start --address … --block``), each with its own
CPUs, explicit ports (free ones, checked by binding), no dashboard, and a temporary directory of its
own. Stopped by the process ids it started (SIGTERM to each ``ray start --block``, which stops the
node's processes, then SIGKILL to whatever of their descendants is left) — never ``ray stop``, which
would stop every Ray instance of the user on the machine.

The nodes use 127.0.0.2: Ray replaces 127.0.0.1 and ``localhost`` with the machine's network address
(it assumes a loopback node cannot be reached by others), while any other 127.x.y.z address is kept,
so all traffic stays on the loopback interface.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.2"

#: Ray's token authentication, off for a cluster that only the loopback interface reaches: set for the
#: nodes and, by :meth:`RayCluster.start`, for this process (and the drivers it starts), so that all
#: agree whatever tokens ~/.ray holds (a head node with a token file there would turn it on by itself,
#: a joining node would not)
AUTH_MODE = "disabled"


def _free(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    with socket.socket() as s:  # a port bound on all interfaces by another process is taken too
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_ports(n: int, taken: set[int]) -> list[int]:
    """``n`` consecutive free ports, none in ``taken``."""
    for _ in range(500):
        base = random.randint(20000, 60000 - n)
        ports = list(range(base, base + n))
        if not taken.intersection(ports) and all(_free(p) for p in ports):
            taken.update(ports)
            return ports
    raise RuntimeError("no free port range found")


def _ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pids: list[int]) -> dict[int, int]:
    """{pid: start time} of every live process whose ancestry leads to one of ``pids``, those included."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[0], []).append(int(entry))
            started[int(entry)] = st[1]
    out: dict[int, int] = {}
    stack = list(pids)
    while stack:
        pid = stack.pop()
        if pid in out or pid not in started:
            continue
        out[pid] = started[pid]
        stack.extend(children.get(pid, ()))
    return out


class RayCluster:
    """``nodes`` Ray nodes of ``cpus`` CPUs each on :data:`HOST`; ``address`` once started."""

    def __init__(self, nodes: int = 2, cpus: int = 1, *, timeout: float = 120.0):
        self.nodes, self.cpus, self.timeout = nodes, cpus, timeout
        self.procs: list[subprocess.Popen] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))  # short: Unix socket paths are limited
        self.address = ""

    def _start_node(self, head: bool, taken: set[int]) -> subprocess.Popen:
        p = free_ports(8, taken)
        workers = free_ports(16, taken)
        args = [_ray_bin(), "start", "--block", "--node-ip-address", HOST, "--num-cpus", str(self.cpus),
                "--disable-usage-stats", "--object-store-memory", str(80 * 2**20),
                "--node-manager-port", str(p[1]), "--object-manager-port", str(p[2]),
                "--dashboard-agent-listen-port", str(p[3]), "--dashboard-agent-grpc-port", str(p[4]),
                "--runtime-env-agent-port", str(p[5]), "--metrics-export-port", str(p[6]),
                "--min-worker-port", str(workers[0]), "--max-worker-port", str(workers[-1])]
        if head:
            self.address = f"{HOST}:{p[0]}"
            args += ["--head", "--port", str(p[0]), "--include-dashboard=false", "--dashboard-port", str(p[7]),
                     "--temp-dir", str(self.tmp / "t")]
        else:
            args += ["--address", self.address]
        log = open(self.tmp / f"node{len(self.procs)}.log", "wb")
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE=AUTH_MODE)
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def _wait_started(self, index: int) -> None:
        log = self.tmp / f"node{index}.log"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if "Ray runtime started" in text:
                return
            if self.procs[index].poll() is not None:
                raise RuntimeError(f"ray start exited with {self.procs[index].returncode}:\n{text[-3000:]}")
            time.sleep(0.3)
        raise RuntimeError(f"ray node {index} did not start within {self.timeout:.0f} s:\n{log.read_text()[-3000:]}")

    def start(self) -> "RayCluster":
        taken: set[int] = set()
        self._auth_before = os.environ.get("RAY_AUTH_MODE")
        os.environ["RAY_AUTH_MODE"] = AUTH_MODE
        try:
            self._start_node(True, taken)
            self._wait_started(0)
            for _ in range(self.nodes - 1):
                self._start_node(False, taken)
            for i in range(1, self.nodes):
                self._wait_started(i)
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self) -> dict[int, int]:
        """The processes of this cluster now, {pid: start time}: each ``ray start`` and what it started."""
        return _descendants([p.pid for p in self.procs if p.poll() is None])

    def stop(self) -> None:
        owned = self.pids()
        for proc in reversed(self.procs):  # worker nodes first, the head last
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for pid, started in owned.items():  # anything left of what this cluster started (same pid and start time)
            st = _stat(pid)
            if st is not None and st[1] == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)
        before = getattr(self, "_auth_before", None)
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before

    def __enter__(self) -> "RayCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
