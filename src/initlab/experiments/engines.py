"""Sweep engines: where the groups of runs of a sweep are trained.

:func:`~initlab.experiments.sweep.run_sweep` cuts a grid into groups (runs trained together, see
:func:`~initlab.experiments.sweep.group_runs`) and hands them to an engine, which yields each group's
results as they are ready; the sweep writes every run's file the moment its result arrives. Engines
only train: reading and writing the run directory, the lock, resuming and the results table stay in
the sweep, the same for every engine.

``local``
    One group after another in this process (:class:`LocalEngine`).
``ray``
    Every group a Ray task on a Ray cluster (:class:`~initlab.experiments.ray_engine.RayEngine`,
    the optional extra ``initlab[ray]``).

Both train a group with the same function (:class:`GroupJob`), so a run gives the same bits on
either engine for the same torch thread count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence

from .._threads import torch_threads
from ..errors import check_choice, fail

__all__ = ["ENGINES", "GroupJob", "LocalEngine", "make_engine", "describe_group"]

ENGINES = ("local", "ray")

#: What an engine yields per group: the group's RunSpecs, one result per run (``history``,
#: ``grad_std``, ``diverged``), how it was trained (``"batched"`` or ``"single"``) and seconds per run.
Finished = tuple


@dataclass(frozen=True)
class GroupJob:
    """Training one group: ``train_fn``/``batched_fn`` as in :func:`~initlab.experiments.sweep.run_sweep`,
    with ``threads`` torch threads (``None``: the caller's). Picklable, so that a Ray worker runs the very
    same code as the local engine."""

    train_fn: Callable
    batched_fn: Callable | None
    threads: int | None

    def __call__(self, configs: Sequence, data: Any) -> tuple[list, str, float]:
        """``(results, how, seconds per run)`` for ``configs`` trained on ``data``; each result keeps
        only what a run file records."""
        from .sweep import _train_group

        start = time.perf_counter()
        with torch_threads(self.threads):
            results, how = _train_group(list(configs), data, train_fn=self.train_fn, batched_fn=self.batched_fn)
        seconds = (time.perf_counter() - start) / max(1, len(configs))
        slim = [SimpleNamespace(history=[dict(row) for row in r.history],
                                grad_std=[dict(g) for g in (getattr(r, "grad_std", None) or ())],
                                diverged=bool(getattr(r, "diverged", False))) for r in results]
        return slim, how, seconds


def describe_group(group: Sequence) -> str:
    """The progress bar's text for a group: data set, activation, depth, width and size."""
    first = group[0].params
    return (f"{first['dataset']} {first['activation']} d{first['depth']} w{first['width']} "
            f"({len(group)} run{'s' if len(group) > 1 else ''})")


class LocalEngine:
    """Groups trained one after another in this process."""

    name = "local"

    def start(self, threads: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def threads(self, threads: int | None) -> int | None:
        """The torch thread count runs are trained with: the given one, else the caller's."""
        return threads

    def run(self, groups: Sequence[Sequence], job: GroupJob, *, data_for: Callable[[str], Any],
            describe: Callable[[str], None]) -> Iterator[Finished]:
        for group in groups:
            describe(describe_group(group))
            data = data_for(group[0].params["dataset"])
            results, how, seconds = job([spec.train_config() for spec in group], data)
            yield group, results, how, seconds


def make_engine(engine: str = "local", address: str | None = None):
    """The engine named ``engine`` (``"local"`` or ``"ray"``), checked but not started. ``address``
    (a Ray cluster's ``host:port``) is for ``engine="ray"`` only."""
    name = check_choice("engine", engine, ENGINES)
    if name == "local":
        if address is not None:
            raise fail("address", address, "an address only with engine 'ray' (--engine ray)")
        return LocalEngine()
    from .ray_engine import RayEngine

    return RayEngine(address)
