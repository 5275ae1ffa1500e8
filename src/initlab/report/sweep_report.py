"""Render any sweep's run directory (``initlab report RUN_DIR``) as the same self-contained report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ..errors import InitlabError
from . import figures as F
from .html import Figure, Report, Section, write_report

__all__ = ["render_run_dir"]

_VARYING_CANDIDATES = ("dataset", "scheme", "activation", "depth", "width", "optimizer", "lr", "seed", "model")


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() and "." not in str(v) and "e" not in str(v).lower() else f


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: _num(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def render_run_dir(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Read ``results.csv`` (and ``grad_std.csv``) of a sweep's run directory and write ``report.html``
    with training curves, a final-accuracy heatmap (when schemes × activations vary), gradient
    profiles and the final-metrics table. Returns the report's path (``RUN_DIR/report`` by default)."""
    run_dir = Path(run_dir)
    results = run_dir / "results.csv"
    if not results.is_file():
        raise InitlabError(f"run_dir: got {str(run_dir)!r}, which has no results.csv; allowed: a directory "
                           "written by `initlab sweep --out DIR`")
    rows = _read_csv(results)
    if not rows:
        raise InitlabError(f"run_dir: {results} has no rows (no run has finished yet)")
    config = {}
    if (run_dir / "config.json").is_file():
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    varying = [k for k in _VARYING_CANDIDATES if k in rows[0] and len({r[k] for r in rows}) > 1]
    by_seed = [k for k in varying if k != "seed"]

    def label(r):
        return ", ".join(f"{k}={r[k]}" for k in by_seed) or str(r.get("run_id"))

    # curves: mean over seeds of each label
    curves: dict = {}
    for r in rows:
        curves.setdefault((label(r), r["epoch"]), []).append(r)
    curve_rows = [{"label": lab, "epoch": ep, "train_loss": float(np.nanmean([float(x["train_loss"]) for x in rs])),
                   "test_acc": float(np.nanmean([float(x["test_acc"]) for x in rs]))}
                  for (lab, ep), rs in curves.items()]
    sections = [Section("Training curves", "Training loss and test accuracy per epoch for every combination the "
                        "sweep varied (mean over seeds).",
                        [Figure("sweep-curves", F.training_curves(curve_rows, f"Sweep {run_dir.name}"),
                                "Mean over seeds of each run's per-epoch metrics.")])]
    last_epoch = {}
    for r in rows:
        if r["epoch"] >= last_epoch.get(r["run_id"], {"epoch": -1})["epoch"]:
            last_epoch[r["run_id"]] = r
    finals = list(last_epoch.values())
    if "scheme" in varying and "activation" in varying:
        cells: dict = {}
        for r in finals:
            cells.setdefault((r["scheme"], r["activation"]), []).append(float(r["test_acc"]))
        heat = [{"scheme": s, "activation": a, "test_acc": float(np.mean(v))} for (s, a), v in cells.items()]
        sections.append(Section("Final accuracy: scheme × activation", "Final test accuracy, mean over the other "
                                "varied fields.", [Figure("sweep-heatmap", F.accuracy_heatmap(
                                    heat, "Final test accuracy"), "Scheme × activation.")]))
    grad = run_dir / "grad_std.csv"
    if grad.is_file():
        grows = _read_csv(grad)
        first = min((g["step"] for g in grows), default=None)
        prof: dict = {}
        for g in grows:
            if g["step"] == first and g.get("grad_std") not in (None, ""):
                run = last_epoch.get(g["run_id"], {})
                prof.setdefault((label(run) if run else g["run_id"], g["layer"]), []).append(float(g["grad_std"]))
        if prof:
            prows = [{"scheme": lab, "layer": layer if isinstance(layer, int) else i + 1, "act_std": math.nan,
                      "grad_std": float(np.mean(v))} for i, ((lab, layer), v) in enumerate(sorted(prof.items()))]
            sections.append(Section("Gradients at the first recorded step", "Back-propagated gradient std per "
                                    "layer (right panel), mean over seeds.", [Figure(
                                        "sweep-gradients", F.layer_profile(prows, f"Gradient std at step {first}"),
                                        "Per-layer gradient std.")]))
    keep = ["run_id", *varying, "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "diverged"]
    table = [{k: r.get(k) for k in keep if k in r} for r in finals]
    sections.append(Section("Final metrics per run", f"{len(finals)} runs; the sweep's resolved config is in "
                            f"`{run_dir / 'config.json'}`.", table=table))
    intro = (f"Sweep run directory `{run_dir}`: {len(finals)} runs, varying {', '.join(varying) or 'nothing'}. "
             f"Config: `{json.dumps(config.get('grid', config))[:300]}`")
    return write_report(Report(f"initlab sweep report: {run_dir.name}", intro, sections), out_dir or run_dir / "report")
