"""The sweep runner: train every run of a :class:`~initlab.experiments.config.SweepConfig` into a
run directory, resumably.

A run directory holds::

    config.json          the resolved sweep config (what every run was trained with)
    runs/<run_id>.json   one file per finished run: its TrainConfig, per-epoch history, gradient stds
    results.csv          the tidy results table: one row per run × epoch, with run_id, every config
                         field and the metrics (rebuilt from runs/ at the end of every call)
    results.parquet      the same table, when pyarrow is installed
    grad_std.csv         per-step, per-layer gradient stds of every run (when the trainer records them)

Resuming: every finished run is written to its own file atomically (a temporary file, then
``os.replace``), so a sweep killed at any moment — SIGKILL included — and started again with the same
config keeps every finished run, redoes the interrupted ones and duplicates none. The results table
is rebuilt from the run files, never appended to. An existing directory that holds a *different*
config is an error, so two grids are never mixed.

Speed: runs that share an architecture (same data set, model, depth, width, activation, optimizer,
batch size, epochs …) are grouped and trained stacked by
:func:`~initlab.experiments.batched.train_batched`; a group it cannot take is trained run by run with
:func:`~initlab.experiments.trainer.train`. A group is always trained whole, so the numbers of a run do
not depend on which other runs were already finished when the sweep was resumed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .._threads import torch_threads
from ..errors import InitlabError, check_int, fail
from .config import RunSpec, SweepConfig, _canonical
from .files import atomic_write, os_error, read_text, remove_stale_temporaries, writable_dir

__all__ = ["SweepResult", "run_sweep", "train_many", "torch_threads", "load_runs", "results_rows", "grad_rows",
           "group_runs", "atomic_write", "read_config", "history_complete"]

FORMAT = 1
CONFIG_FILE = "config.json"
RUNS_DIR = "runs"
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
GRAD_CSV = "grad_std.csv"


# --------------------------------------------------------------------------- files

@contextlib.contextmanager
def _exclusive(out: Path):
    """Hold an exclusive lock on ``out/.lock`` (POSIX ``flock``; released by the OS even on SIGKILL)
    for the whole sweep, so that two processes never read or write one run directory at once.

    The lock is taken before anything in ``out`` is read or written (the folder itself is created
    first if needed); the lock file is never removed, since removing it would let a third process
    lock a new file while the second still holds the old one."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: one process per directory is up to the user
        yield
        return
    try:
        fh = open(out / ".lock", "a")
    except OSError as exc:
        raise os_error("out", out, exc, "opening its lock file") from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InitlabError(f"out: got {str(out)!r}, which is being written by another sweep; allowed: "
                               "wait for it to finish, or use another --out directory") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def _dumps(obj: Any) -> str:
    # NaN/inf are written as JSON's non-standard NaN/Infinity tokens, which json.loads reads back
    return json.dumps(obj, indent=1, default=_json_default, allow_nan=True)


# --------------------------------------------------------------------------- the run directory

def read_config(out: str | Path, *, arg: str = "run_dir") -> SweepConfig:
    """The resolved sweep config stored in ``out/config.json``; a missing, unreadable or foreign file
    is one line naming the file and what is wrong."""
    path = Path(out) / CONFIG_FILE
    if not path.exists():
        raise InitlabError(f"{arg}: got {str(out)!r}, which has no {CONFIG_FILE}; allowed: a run directory "
                           "written by `initlab sweep --out DIR`")
    text = read_text(path, CONFIG_FILE)
    try:
        stored = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InitlabError(f"{CONFIG_FILE}: got {str(path)!r}, which is not JSON (line {exc.lineno}, column "
                           f"{exc.colno}: {exc.msg}); allowed: the file `initlab sweep` writes") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("sweep"), dict):
        raise InitlabError(f"{CONFIG_FILE}: got {str(path)!r}, which has no 'sweep' table (keys: "
                           f"{sorted(stored) if isinstance(stored, dict) else type(stored).__name__}); allowed: "
                           "the file `initlab sweep` writes")
    if stored.get("format", FORMAT) != FORMAT:
        raise InitlabError(f"{CONFIG_FILE}: got format {stored.get('format')!r} in {str(path)!r}; allowed: "
                           f"format {FORMAT} (written by this version of initlab)")
    try:
        return SweepConfig.from_dict(stored["sweep"], source=str(path)).resolve()
    except InitlabError as exc:
        raise fail(CONFIG_FILE, str(path), f"a valid sweep config ({exc})") from None


def _prepare(out: Path, resolved: SweepConfig) -> None:
    """Check that ``out`` (locked by the caller) is empty or holds this very sweep; write its config."""
    wanted = resolved.to_dict()
    cfg_path = out / CONFIG_FILE
    if cfg_path.exists():
        stored = read_config(out, arg="out").to_dict()
        if _canonical(stored) != _canonical(wanted):
            diff = _describe_diff(stored, wanted)
            raise InitlabError(f"out: got {str(out)!r}, which already holds a sweep with a different config ({diff}); "
                               "allowed: the same config (to resume it) or a new --out directory")
    elif any(p.name != RUNS_DIR and not p.name.startswith(".") for p in out.iterdir()):
        raise InitlabError(f"out: got {str(out)!r}, which exists and is not a sweep directory (no {CONFIG_FILE}); "
                           "allowed: a new or empty directory")
    try:
        (out / RUNS_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        raise os_error("out", out / RUNS_DIR, exc, "creating it") from None
    if not cfg_path.exists():
        from .. import __version__

        atomic_write(cfg_path, _dumps({"format": FORMAT, "initlab": __version__, "sweep": wanted}) + "\n")


def _describe_diff(old: Mapping, new: Mapping) -> str:
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {json.dumps(old.get(k))} here, {json.dumps(new.get(k))} asked"
             for k in keys if _canonical(old.get(k)) != _canonical(new.get(k))]
    return "; ".join(parts) or "different contents"


def history_complete(history: Any, epochs: int) -> bool:
    """Whether ``history`` is a whole run of ``epochs`` epochs: rows for epochs 0, 1, … in order, up to
    ``epochs`` — or up to an epoch marked ``diverged`` (training stops there)."""
    if not isinstance(history, list) or not history:
        return False
    for k, row in enumerate(history):
        if not isinstance(row, dict) or row.get("epoch") != k:
            return False
    return history[-1]["epoch"] == epochs or bool(history[-1].get("diverged"))


def _read_run(path: Path, spec: RunSpec) -> dict | None:
    """The finished run stored at ``path``, or None when it is missing, unreadable, another run's, or
    cut short (a history with fewer epochs than its config and no divergence)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("run_id") != spec.run_id:
        return None
    if _canonical(record.get("params")) != _canonical(dict(spec.params)):
        return None
    if not history_complete(record.get("history"), spec.params["epochs"]):
        return None
    return record


def load_runs(out: str | Path) -> list[dict]:
    """Every finished run of the sweep in ``out``, in the sweep's order."""
    out = Path(out)
    specs = read_config(out).runs()
    records = []
    for spec in specs:
        record = _read_run(out / RUNS_DIR / f"{spec.run_id}.json", spec)
        if record is not None:
            records.append(record)
    return records


# --------------------------------------------------------------------------- tables

def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def results_rows(records: Iterable[Mapping]) -> list[dict]:
    """The tidy results table: one row per run × epoch: ``run_id``, every config field, then the
    metrics of that epoch (``epoch``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``,
    ``diverged`` …). Mapping- and list-valued config fields are JSON strings."""
    rows = []
    for record in records:
        base = {"run_id": record["run_id"]}
        base.update({k: _cell(v) for k, v in record["config"].items()})
        for epoch_row in record["history"]:
            row = dict(base)
            row.update({k: _cell(v) for k, v in epoch_row.items()})
            rows.append(row)
    return rows


def grad_rows(records: Iterable[Mapping]) -> list[dict]:
    """One row per run × recorded step × layer: ``run_id`` and the trainer's gradient statistics."""
    rows = []
    for record in records:
        for r in record.get("grad_std") or ():
            rows.append({"run_id": record["run_id"], **{k: _cell(v) for k, v in r.items()}})
    return rows


def _columns(rows: Sequence[Mapping]) -> list[str]:
    cols: dict[str, None] = {}
    for row in rows:
        for k in row:
            cols.setdefault(k, None)
    return list(cols)


def _csv_text(rows: Sequence[Mapping]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _write_tables(out: Path, records: list[dict]) -> list[Path]:
    written = []
    rows = results_rows(records)
    atomic_write(out / RESULTS_CSV, _csv_text(rows))
    written.append(out / RESULTS_CSV)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        pass
    else:
        table = pa.Table.from_pylist(rows)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        atomic_write(out / RESULTS_PARQUET, sink.getvalue().to_pybytes())
        written.append(out / RESULTS_PARQUET)
    grads = grad_rows(records)
    if grads:
        atomic_write(out / GRAD_CSV, _csv_text(grads))
        written.append(out / GRAD_CSV)
    return written


# --------------------------------------------------------------------------- grouping and training

def group_runs(specs: Sequence[RunSpec], *, batched: bool = True, max_group: int = 64) -> list[list[RunSpec]]:
    """Split the runs into groups trained together: MLPs that agree on
    :data:`~initlab.experiments.batched.SHARED_FIELDS` (architecture and schedule), at most
    ``max_group`` runs, in the sweep's order. ``batched=False`` (and every CNN) gives one run per group."""
    if not batched:
        return [[s] for s in specs]
    buckets: dict[str, list[RunSpec]] = {}
    for spec, key in zip(specs, _group_keys([spec.train_config() for spec in specs])):
        buckets.setdefault(key, []).append(spec)
    groups = []
    for members in buckets.values():
        groups.extend(members[i:i + max_group] for i in range(0, len(members), max_group))
    groups.sort(key=lambda g: g[0].index)
    return groups


def _record(spec: RunSpec, config, result, seconds: float, how: str) -> dict:
    history = [dict(row) for row in result.history]
    return {
        "run_id": spec.run_id,
        "index": spec.index,
        "params": dict(spec.params),
        "config": config.to_dict(),
        "history": history,
        "grad_std": [dict(r) for r in (getattr(result, "grad_std", None) or ())],
        "diverged": bool(getattr(result, "diverged", False)),
        "final": history[-1] if history else {},
        "trained_with": how,
        "seconds": seconds,
    }


def _train_group(configs: list, data, *, train_fn: Callable, batched_fn: Callable | None) -> tuple[list, str]:
    """Train ``configs`` (one architecture) stacked when possible, else one by one.

    The stacked trainer is skipped for a single run; when it declines the group
    (``InitlabError``, ``NotImplementedError``) ``train_fn`` trains every run of the group instead."""
    if batched_fn is not None and len(configs) > 1:
        try:
            return list(batched_fn(configs, data=data)), "batched"
        except (NotImplementedError, InitlabError):
            pass
    return [train_fn(c, data=data) for c in configs], "single"


def _group_keys(configs: Sequence) -> list[str]:
    from .batched import SHARED_FIELDS

    return [_canonical({k: getattr(c, k) for k in SHARED_FIELDS}) if c.model == "mlp" else f"#{i}"
            for i, c in enumerate(configs)]


def train_many(configs: Sequence, data=None, *, batched: bool = True, max_group: int = 64) -> list:
    """Train every TrainConfig and return their TrainResults in order: configs that share an
    architecture (:data:`~initlab.experiments.batched.SHARED_FIELDS`) are trained stacked by
    :func:`~initlab.experiments.batched.train_batched` (at most ``max_group`` at once), the rest
    with :func:`~initlab.experiments.trainer.train`. ``data`` (a Dataset) is shared by all."""
    from .batched import train_batched
    from .trainer import train

    configs = list(configs)
    buckets: dict[str, list[int]] = {}
    for i, key in enumerate(_group_keys(configs) if batched else [f"#{i}" for i in range(len(configs))]):
        buckets.setdefault(key, []).append(i)
    results: list = [None] * len(configs)
    for members in buckets.values():
        for start in range(0, len(members), max_group):
            chunk = members[start:start + max_group]
            out, _ = _train_group([configs[i] for i in chunk], data, train_fn=train,
                                  batched_fn=train_batched if batched else None)
            for i, r in zip(chunk, out):
                results[i] = r
    return results


# --------------------------------------------------------------------------- the entry point

@dataclass
class SweepResult:
    """What :func:`run_sweep` did: where, which runs, and the tidy table."""

    out: Path
    config: SweepConfig
    run_ids: list[str]
    trained: list[str]
    reused: list[str]
    rows: list[dict] = field(repr=False)
    files: list[Path] = field(default_factory=list)

    def frame(self):
        """The results table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _coerce(config: SweepConfig | Mapping | str | Path) -> SweepConfig:
    if isinstance(config, SweepConfig):
        return config
    if isinstance(config, Mapping):
        return SweepConfig.from_dict(config)
    if isinstance(config, (str, Path)):
        return SweepConfig.load(config)
    raise InitlabError(f"config: got {type(config).__name__}; allowed: a SweepConfig, a mapping or a file path")


def run_sweep(config: SweepConfig | Mapping | str | Path, out: str | Path, *, batched: bool = True,
              max_group: int = 64, progress: bool = True, console=None,
              train_fn: Callable | None = None, batched_fn: Callable | None = None,
              data_root: str | Path | None = None, threads: int | None = None,
              engine: str = "local", address: str | None = None) -> SweepResult:
    """Train every run of ``config`` into the run directory ``out`` and return the results table.

    Everything is validated before anything is trained or written. Runs already finished in ``out``
    (by an earlier, possibly killed, call with the same config) are kept and not trained again.

    ``train_fn(config, data=...)`` and ``batched_fn(configs, data=...)`` default to
    :func:`~initlab.experiments.trainer.train` and
    :func:`~initlab.experiments.batched.train_batched`; ``batched=False`` trains run by run.
    ``progress`` shows a rich progress bar with the time left (on ``console``, default stderr).
    ``threads`` sets torch's intra-op threads while training (restored after); for the small
    MLPs of most sweeps one thread per process is fastest on a busy machine.

    ``engine``: ``"local"`` trains the groups one after another in this process; ``"ray"`` runs each
    group as a Ray task on the cluster at ``address`` (``host:port``; ``None``: a local Ray instance),
    with ``threads`` (default 1) torch threads and CPUs per task — see
    :mod:`~initlab.experiments.engines` and :mod:`~initlab.experiments.ray_engine`.
    """
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    max_group = check_int("max_group", max_group, minimum=1)
    from .engines import GroupJob, make_engine

    runner = make_engine(engine, address)  # the name and address checked; nothing started yet
    resolved = _coerce(config).validate()
    specs = resolved.runs()
    if train_fn is None:
        from .trainer import train as train_fn
    if not batched:
        batched_fn = None
    elif batched_fn is None:
        from .batched import train_batched as batched_fn

    # everything that can fail is checked before the run directory is touched: every data set is
    # loaded (missing files fail here), and every model of the grid is planned on the meta device
    # (every scheme's parameters resolved against the real layer shapes, the memory it needs)
    data_cache: dict[tuple, Any] = {}
    shapes = {}
    for name in resolved.dataset:
        data = _data(name, data_cache, data_root)
        shapes[name] = (tuple(data.input_shape), data.num_classes)
    _check_models(specs, shapes)

    fresh = not Path(out).exists()
    out = writable_dir(out, "out")
    # -- engines: the engine connects (a Ray cluster) before anything is written into the run directory
    job = GroupJob(train_fn, batched_fn, runner.threads(threads))
    try:
        runner.start(job.threads)
    except BaseException:
        if fresh:  # a folder created only to check that it is writable is not left behind
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    try:
        with _exclusive(out):
            _prepare(out, resolved)
            remove_stale_temporaries(out, out / RUNS_DIR)
            return _run(out, resolved, specs, data_cache, runner=runner, job=job, max_group=max_group,
                        progress=progress, console=console, data_root=data_root)
    finally:
        runner.close()
    # -- end engines


def _check_models(specs: Sequence[RunSpec], shapes: Mapping[str, tuple]) -> None:
    """Plan every distinct model of the grid on the meta device (nothing allocated): a bad scheme
    parameter, a scheme that cannot fill a layer, or a model too large for memory fails here."""
    from .models import check_model

    seen = set()
    for spec in specs:
        cfg = spec.train_config()
        model_spec = cfg.model_spec()
        key = _canonical([cfg.dataset, model_spec])
        if key in seen:
            continue
        seen.add(key)
        input_shape, num_classes = shapes[cfg.dataset]
        try:
            check_model(model_spec, input_shape, num_classes)
        except InitlabError as exc:
            raise InitlabError(f"scheme: got {_scheme_label(cfg)!r}; allowed: a scheme that can fill every layer "
                               f"of {cfg.model} depth {cfg.depth} width {cfg.width} ({exc})") from None


def _scheme_label(cfg) -> str:
    from .config import SchemeSpec

    return SchemeSpec(cfg.scheme, cfg.scheme_params).label


def _run(out: Path, resolved: SweepConfig, specs: list[RunSpec], data_cache: dict, *, runner, job, max_group,
         progress, console, data_root) -> SweepResult:
    run_dir = out / RUNS_DIR
    finished = {s.run_id for s in specs if _read_run(run_dir / f"{s.run_id}.json", s) is not None}
    groups = [g for g in group_runs(specs, batched=job.batched_fn is not None, max_group=max_group)
              if any(s.run_id not in finished for s in g)]
    todo = sum(1 for g in groups for s in g if s.run_id not in finished)

    trained: list[str] = []
    with _Progress(progress, console, total=todo, done=len(finished), n=len(specs)) as bar:
        # each group's results as the engine finishes it; every run's file written the moment it arrives
        for group, results, how, seconds in runner.run(groups, job, describe=bar.describe,
                                                       data_for=lambda name: _data(name, data_cache, data_root)):
            for spec, result in zip(group, results):
                if spec.run_id in finished:
                    continue
                record = _record(spec, spec.train_config(), result, seconds, how)
                atomic_write(run_dir / f"{spec.run_id}.json", _dumps(record) + "\n")
                trained.append(spec.run_id)
                bar.advance(1)

    records = []
    for spec in specs:
        record = _read_run(run_dir / f"{spec.run_id}.json", spec)
        if record is None:
            raise fail("run", spec.run_id, "a result file that reads back after training (it is missing or unreadable)")
        records.append(record)
    files = _write_tables(out, records)
    return SweepResult(out=out, config=resolved, run_ids=[s.run_id for s in specs], trained=trained,
                       reused=[s.run_id for s in specs if s.run_id in finished], rows=results_rows(records),
                       files=files)


def _data(name: str, cache: dict, root) -> Any:
    """The data set (the last one asked for is kept). Data sets are split with seed 0, as
    :func:`~initlab.experiments.trainer.train` loads them, so that every run of a sweep sees the same
    train/test split; the run's seed drives its initialization and batch order."""
    key = (name, root)
    if key not in cache:
        from .datasets import load

        cache.clear()
        cache[key] = load(name, seed=0, root=root)
    return cache[key]


class _Bar:
    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)


class _Progress:
    """A rich progress bar (runs done / total, elapsed, time left), or nothing when disabled."""

    def __init__(self, enabled: bool, console, *, total: int, done: int, n: int):
        self.enabled, self.console, self.total, self.done, self.n = enabled, console, total, done, n
        self._progress = None

    def __enter__(self) -> _Bar:
        if not self.enabled or self.total == 0:
            return _Bar(None, None)
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        console = self.console or Console(stderr=True)
        self._progress = Progress(TextColumn("[bold]sweep[/]"), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
                                  TextColumn("ETA"), TimeRemainingColumn(), console=console)
        self._progress.start()
        if self.done:
            console.print(f"resuming: {self.done} of {self.n} runs already finished")
        task = self._progress.add_task("", total=self.total)
        return _Bar(self._progress, task)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
