"""Render any sweep's run directory (``initlab report RUN_DIR``) as the same self-contained report.

What is read is checked first (:func:`read_run_dir`): ``config.json`` must be a sweep config,
``results.csv`` a results table whose runs are the config's runs, ``grad_std.csv`` (optional)
per-layer gradient rows of those runs. A file that is corrupt or belongs to something else is a
one-line error naming the file and what is wrong. Runs of the config that are missing from the
table, or whose epochs stop short of the config's (and did not diverge), are named in a warning
— on the page and, through :attr:`SweepReport.warnings`, on the terminal — and are left out of
every figure and table, so nothing unfinished is shown as a final result.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InitlabError, fail
from . import figures as F
from .html import Figure, Report, Section, write_report

__all__ = ["render_run_dir", "read_run_dir", "RunDir", "SweepReport"]

RESULT_COLUMNS = ("run_id", "scheme", "scheme_params", "epoch", "train_loss", "train_acc", "test_loss", "test_acc")
GRAD_COLUMNS = ("run_id", "step", "layer", "grad_std")
_NUMERIC = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
_LISTED = 8  # run ids named in a warning before "and N more"


@dataclass
class RunDir:
    """A sweep's run directory, read and checked: the resolved config, the rows of every complete run
    (``rows``: one per run × epoch, with ``label`` = the scheme with its parameters), gradient rows,
    and warnings about what is missing."""

    path: Path
    config: Any  # SweepConfig, resolved
    rows: list[dict]
    grad_rows: list[dict]
    varied: list[str]
    fixed: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    expected_runs: int = 0


@dataclass
class SweepReport:
    """What :func:`render_run_dir` wrote, and the warnings it put on the page."""

    path: Path
    warnings: list[str]


def _fail_file(path: Path, what: str) -> InitlabError:
    return fail(path.name, str(path), what)


def _read_table(path: Path, required: tuple[str, ...]) -> list[dict]:
    from ..experiments.files import read_text

    text = read_text(path, path.name)
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise _fail_file(path, f"a table written by initlab sweep (it has no column "
                                   f"{', '.join(map(repr, missing))})")
        rows = []
        for line, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise _fail_file(path, f"a table whose every row has {len(header)} cells (line {line} does not)")
            rows.append((line, row))
    except csv.Error as exc:
        raise _fail_file(path, f"a CSV table ({exc})") from None
    return [_typed(path, line, row) for line, row in rows]


def _typed(path: Path, line: int, row: dict) -> dict:
    out: dict[str, Any] = dict(row)
    for key in ("epoch", "step", "layer"):
        if key in row:
            try:
                out[key] = int(row[key])
            except ValueError:
                raise _fail_file(path, f"an integer in column {key!r} (line {line} has {row[key]!r})") from None
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "grad_std"):
        if key in row and row[key] != "":
            try:
                out[key] = float(row[key])
            except ValueError:
                raise _fail_file(path, f"a number in column {key!r} (line {line} has {row[key]!r})") from None
    if "diverged" in row:
        out["diverged"] = row["diverged"] == "True"
    return out


def _scheme_label(row: dict) -> str:
    import json

    from ..experiments.config import SchemeSpec

    params = row.get("scheme_params") or "{}"
    try:
        params = json.loads(params) if isinstance(params, str) else dict(params)
    except (json.JSONDecodeError, TypeError, ValueError):
        params = {}
    return SchemeSpec(str(row["scheme"]), params if isinstance(params, dict) else {}).label


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def read_run_dir(run_dir: str | Path) -> RunDir:
    """Read and cross-check ``config.json``, ``results.csv`` and ``grad_std.csv`` of a run directory."""
    from ..experiments.config import AXES, FIXED
    from ..experiments.sweep import CONFIG_FILE, GRAD_CSV, RESULTS_CSV, read_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise fail("run_dir", str(run_dir), "a run directory written by `initlab sweep --out DIR` (no such folder)")
    config = read_config(run_dir)
    results = run_dir / RESULTS_CSV
    if not results.is_file():
        raise fail("run_dir", str(run_dir), f"a run directory with a {RESULTS_CSV} (none yet: no sweep call has "
                   f"finished here; run the sweep again to resume it)")
    rows = _read_table(results, RESULT_COLUMNS)
    specs = {s.run_id: s for s in config.runs()}
    by_run: dict[str, list[dict]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row)
    foreign = [r for r in by_run if r not in specs]
    if foreign:
        raise _fail_file(results, f"the runs of the {CONFIG_FILE} beside it (it holds "
                                  f"{len(foreign)} run(s) that config does not describe: {_listed(foreign)})")
    complete, warnings = [], []
    missing = [rid for rid in specs if rid not in by_run]
    short = []
    for rid, spec in specs.items():
        got = sorted(by_run.get(rid, []), key=lambda r: r["epoch"])
        if not got:
            continue
        epochs = [r["epoch"] for r in got]
        wanted = spec.params["epochs"]
        whole = epochs == list(range(len(epochs))) and (epochs[-1] == wanted or got[-1].get("diverged"))
        if not whole:
            short.append(f"{rid} (epochs {_ranges(epochs)} of 0–{wanted})")
            continue
        for r in got:
            r["label"] = _scheme_label(r)
        complete.extend(got)
    if missing:
        warnings.append(f"{len(missing)} of {len(specs)} runs of this sweep are not in {RESULTS_CSV} and are left "
                        f"out: {_listed(missing)}. Run the same sweep command again to finish them.")
    if short:
        warnings.append(f"{len(short)} run(s) stop before their last epoch without diverging and are left out: "
                        f"{_listed(short)}.")
    grad_rows: list[dict] = []
    grad = run_dir / GRAD_CSV
    if grad.is_file():
        grad_rows = _read_table(grad, GRAD_COLUMNS)
        strays = sorted({g["run_id"] for g in grad_rows} - set(specs))
        if strays:
            raise _fail_file(grad, f"gradient rows of the runs in {CONFIG_FILE} (it holds rows of "
                                   f"{len(strays)} other run(s): {_listed(strays)})")
        keep = {r["run_id"] for r in complete}
        grad_rows = [g for g in grad_rows if g["run_id"] in keep]
    varied = [a for a in AXES if len(getattr(config, a)) > 1]
    fixed = {a: getattr(config, a)[0] for a in AXES if len(getattr(config, a)) == 1}
    fixed.update({f: getattr(config, f) for f in FIXED})
    return RunDir(run_dir, config, complete, grad_rows, varied, fixed, warnings, len(specs))


def _ranges(values: list[int]) -> str:
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}–{v}")
            start = None
    return ", ".join(parts) or "none"


def _value_text(field_name: str, value: Any) -> str:
    from ..experiments.config import SchemeSpec

    if isinstance(value, SchemeSpec):
        return value.label
    if isinstance(value, tuple):
        return ", ".join(_value_text(field_name, v) for v in value) or "–"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _key(row: dict, fields: list[str]) -> str:
    return " · ".join(str(row["label"] if f == "scheme" else row.get(f)) for f in fields)


def render_run_dir(run_dir: str | Path, out_dir: str | Path | None = None) -> SweepReport:
    """Read ``run_dir`` (checked by :func:`read_run_dir`) and write ``report.html`` with training
    curves, a final-accuracy heatmap (when schemes × activations vary), the gradient profile at the
    first recorded step, the config as tables of what varied and what was fixed, and the final
    metrics of every complete run. Returns where it wrote (``RUN_DIR/report`` by default) and the
    warnings it put on the page."""
    from ..experiments.files import writable_dir

    data = read_run_dir(run_dir)
    out = writable_dir(out_dir if out_dir is not None else data.path / "report", "out")
    rows = data.rows
    by_seed = [k for k in data.varied if k != "seed"]
    legend = " · ".join(by_seed) if by_seed else None
    sections = []
    if rows:
        curves: dict = {}
        for r in rows:
            curves.setdefault((_key(r, by_seed) if by_seed else "all runs", r["epoch"]), []).append(r)
        curve_rows = [{"label": lab, "epoch": ep,
                       "train_loss": float(np.nanmean([x["train_loss"] for x in rs])),
                       "test_acc": float(np.nanmean([x["test_acc"] for x in rs]))}
                      for (lab, ep), rs in curves.items()]
        seeds = f"mean over {len(data.config.seed)} seeds" if len(data.config.seed) > 1 else "one seed"
        sections.append(Section(
            "Training curves", f"Training loss and test accuracy per epoch for every combination the sweep varied "
            f"({seeds}).", [Figure("sweep-curves", F.training_curves(curve_rows, f"Sweep {data.path.name}",
                                                                     legend_title=legend),
                                   f"Per-epoch metrics, {seeds}; legend: {legend or 'the single configuration'}.")]))
    finals = _finals(rows)
    if "scheme" in data.varied and "activation" in data.varied and finals:
        cells: dict = {}
        for r in finals:
            cells.setdefault((r["label"], r["activation"]), []).append(r["test_acc"])
        heat = [{"scheme": s, "activation": a, "test_acc": float(np.mean(v))} for (s, a), v in cells.items()]
        sections.append(Section("Final accuracy: scheme × activation", "Final test accuracy, mean over the other "
                                "varied fields.", [Figure("sweep-heatmap", F.accuracy_heatmap(
                                    heat, "Final test accuracy"), "Scheme × activation.")]))
    grad = _gradient_rows(data, by_seed)
    if grad:
        step = grad[0]["step"]
        sections.append(Section(
            "Gradients at the first recorded step", f"Back-propagated gradient std (∂L/∂pre-activation) per weight "
            f"layer at optimisation step {step}, mean over seeds; the last layer is the classifier head.",
            [Figure("sweep-gradients", F.gradient_profile(grad, f"Gradient std per layer at step {step}",
                                                          legend_title=legend), "Per-layer gradient std.")]))
    sections.append(Section("Configuration", "What the sweep varied (one run per combination) and what every run "
                            "shared.", table=_config_table(data)))
    table = [{"scheme": r["label"], **{k: r[k] for k in data.varied if k not in ("scheme",) and k in r},
              **{k: r.get(k) for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "diverged")}}
             for r in finals]
    sections.append(Section("Final metrics per run", f"{len(finals)} complete run(s) of {data.expected_runs}; "
                            "each row is a run's last epoch.", table=table))
    intro = (f"Sweep run directory `{data.path}`: {len(finals)} of {data.expected_runs} runs complete, varying "
             f"{', '.join(data.varied) or 'nothing'}.")
    path = write_report(Report(f"initlab sweep report: {data.path.name}", intro, sections, warnings=data.warnings),
                        out)
    return SweepReport(path, data.warnings)


def _finals(rows: list[dict]) -> list[dict]:
    last: dict[str, dict] = {}
    for r in rows:
        if r["epoch"] >= last.get(r["run_id"], {"epoch": -1})["epoch"]:
            last[r["run_id"]] = r
    return list(last.values())


def _gradient_rows(data: RunDir, by_seed: list[str]) -> list[dict]:
    if not data.grad_rows:
        return []
    first = min(g["step"] for g in data.grad_rows)
    run = {r["run_id"]: r for r in data.rows}
    prof: dict = {}
    for g in data.grad_rows:
        v = g.get("grad_std")
        if g["step"] == first and isinstance(v, float) and math.isfinite(v):
            label = _key(run[g["run_id"]], by_seed) if by_seed else "all runs"
            prof.setdefault((label, g["layer"]), []).append(v)
    return [{"label": lab, "layer": layer + 1, "grad_std": float(np.mean(v)), "step": first}
            for (lab, layer), v in prof.items()]


def _config_table(data: RunDir) -> list[dict]:
    rows = [{"field": k, "values": _value_text(k, tuple(getattr(data.config, k))), "how": "varied"}
            for k in data.varied]
    rows += [{"field": k, "values": _value_text(k, v), "how": "fixed"} for k, v in data.fixed.items()]
    return rows
