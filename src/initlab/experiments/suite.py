"""Run several claims (and the demo's illustrations) in one call, optionally in parallel processes.

Every preset trains on one torch thread and depends only on its name, budget and seed, so running
presets side by side in worker processes (``jobs=2`` on two cores) changes how long the demo takes,
never a number in it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import check_int

__all__ = ["SuiteResult", "run_suite", "default_jobs"]


@dataclass
class SuiteResult:
    """What :func:`run_suite` measured: ``results`` (name → :class:`~initlab.experiments.presets.PresetResult`,
    in the order asked), ``illustrations`` (``"schemes"`` and ``"phase"`` rows), the wall and CPU
    seconds of the whole run (CPU summed over the worker processes)."""

    results: dict
    illustrations: dict = field(default_factory=dict)
    budget: str = "full"
    seed: int = 0
    jobs: int = 1
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def default_jobs() -> int:
    """Worker processes for the demo: the CPUs this process may use, at most 2 (the presets are
    single-threaded; more workers than cores only add start-up time)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _task(kind: str, name: str, budget: str, seed: int):
    """Run one unit of work in a worker: a preset, or an illustration."""
    from .sweep import torch_threads

    start = time.process_time()
    if kind == "preset":
        from .presets import run_preset

        return run_preset(name, budget=budget, seed=seed), time.process_time() - start
    from . import illustrations

    with torch_threads(1):
        rows = illustrations.scheme_draws(seed) if name == "schemes" else illustrations.phase_rows()
    return rows, time.process_time() - start


def run_suite(presets: Sequence[str], *, budget: str = "full", seed: int = 0, jobs: int = 1,
              illustrations: bool = True, progress: Callable[[str], None] | None = None) -> SuiteResult:
    """Run ``presets`` (names of :data:`~initlab.experiments.presets.PRESETS`) at ``budget`` on the paired
    seeds starting at ``seed``, plus the illustrations (what each scheme draws; the phase diagram), in
    ``jobs`` worker processes (1: in this process). ``progress(message)`` hears as each one finishes."""
    from .presets import check_request

    for name in presets:
        check_request(name, budget, seed)
    jobs = check_int("jobs", jobs, minimum=1)
    say = progress or (lambda message: None)
    tasks = [("preset", name) for name in presets] + ([("illustration", "schemes"), ("illustration", "phase")]
                                                      if illustrations else [])
    start, cpu = time.perf_counter(), time.process_time()
    done: dict = {}
    if jobs == 1:
        for kind, name in tasks:
            say(f"running {name}")
            done[(kind, name)] = _task(kind, name, budget, seed)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from .presets import PRESETS

        # longest first (their measured cost), so that the workers finish at about the same time
        order = sorted(tasks, key=lambda t: -(PRESETS[t[1]].cost if t[0] == "preset" else 0.0))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_task, kind, name, budget, seed): (kind, name) for kind, name in order}
            say(f"running {len(tasks)} experiments in {jobs} processes")
            for future in as_completed(futures):
                done[futures[future]] = future.result()
                say(f"finished {futures[future][1]} ({len(done)} of {len(tasks)})")
    worker_cpu = sum(c for _, c in done.values()) if jobs > 1 else 0.0
    return SuiteResult(results={name: done[("preset", name)][0] for name in presets},
                       illustrations={name: done[(kind, name)][0] for kind, name in tasks if kind == "illustration"},
                       budget=budget, seed=seed, jobs=jobs, seconds=time.perf_counter() - start,
                       cpu_seconds=time.process_time() - cpu + worker_cpu)
