"""Helpers shared by initlab's benchmarks: medians of timed repeats, resident memory, child processes.

Memory is read from Linux's own accounting: the current resident set size from ``/proc/self/statm``
and the peak ("high-water mark", ``VmHWM`` in ``/proc/self/status``), which writing ``5`` to
``/proc/self/clear_refs`` resets to the current size (Linux ≥ 4.0), so that a peak can be taken over
one call. A measurement that needs its own peak runs in a fresh child process (:func:`run_child`),
which prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Sequence

_PAGE = os.sysconf("SC_PAGE_SIZE")


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rss_bytes() -> int:
    """Resident set size of this process now (bytes)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_bytes() -> int:
    """Highest resident set size of this process since it started or since :func:`reset_peak_rss` (bytes)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Reset the peak resident set size to the current one."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run_child(script: str, args: Sequence[str], env: dict | None = None) -> dict:
    """Run ``python script *args`` in a fresh process; return the JSON object on its last output line."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def emit(result: dict) -> None:
    """Print ``result`` as the one JSON line a child reports."""
    print(json.dumps(result), flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned columns."""
    cells = [list(map(str, headers))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
