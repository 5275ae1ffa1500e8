"""The data of a "Depth: residual networks and transformers" section of a report.

:func:`depth_section` runs the depth claims (:mod:`initlab.experiments.depth_claims`) and returns their
tidy rows, criteria, verdicts, the sources' figures beside ours, and figure functions that draw the rows.
It renders nothing else: a report calls :meth:`DepthSection.figures` for PNGs and lays out the rest
(:meth:`DepthSection.deciding` gives one row per criterion, :meth:`DepthSection.summary` one per claim).
Figures are built on their own matplotlib canvas (no pyplot state).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import check_choice
from .depth_claims import DEPTH_CLAIMS, run_claim

__all__ = ["DepthSection", "depth_section", "curve_figure", "stream_figure", "lm_figure"]


@dataclass
class DepthSection:
    """Every depth claim's result (``results[name]``: verdict, criteria, rows, comparison, settings, seeds),
    the budget and the time it took."""

    results: dict = field(repr=False)
    budget: str
    seconds: float

    def summary(self) -> list[dict]:
        """One row per claim: name, title, verdict, and the command that reproduces it."""
        return [{"name": n, "title": DEPTH_CLAIMS[n].title, "claim": DEPTH_CLAIMS[n].claim, "verdict": r["verdict"],
                 "command": f"initlab experiment {n}" + (" --quick" if self.budget == "quick" else "")}
                for n, r in self.results.items()]

    def deciding(self) -> list[dict]:
        """One row per criterion: claim, criterion, outcome, mean and 95 % interval of its per-seed number."""
        out = []
        for n, r in self.results.items():
            for c in r["criteria"]:
                out.append({"claim": n, "criterion": c["criterion"], "outcome": c["outcome"], "mean": c["mean"],
                            "ci": c["ci"], "n": len(c["values"])})
        return out

    def figures(self, out_dir) -> dict[str, Path]:
        """Write one PNG per claim into ``out_dir``; returns their paths by claim."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        draw = {"deep-residual": lambda rows, p: curve_figure(rows, "init", "100 residual blocks, no normalization",
                                                              p),
                "residual-stream": stream_figure, "depth-lm": lm_figure,
                "zero-init": lambda rows, p: curve_figure(rows, "scheme", "ReLU MLP on digits: ZerO and He", p)}
        paths = {}
        for name, r in self.results.items():
            paths[name] = out / f"{name}.png"
            draw[name](r["rows"], paths[name])
        return paths


def depth_section(budget: str = "quick", *, names: Sequence[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> DepthSection:
    """Run the depth claims (all, or ``names``) at ``budget`` and return the section's data."""
    budget = check_choice("budget", budget, ("full", "quick"))
    t0 = time.perf_counter()
    results = {}
    for name in names or DEPTH_CLAIMS:
        if progress is not None:
            progress(name)
        results[name] = run_claim(name, budget)
    return DepthSection(results, budget, time.perf_counter() - t0)


# -------------------------------------------------------------------------------------------- figures
def _mean_sd(values):
    v = [x for x in values if math.isfinite(x)]
    if not v:
        return math.nan, 0.0
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0)


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def curve_figure(rows: Sequence[dict], series: str, title: str, path=None):
    """Test accuracy per epoch, one line per ``series`` value (mean ± sd over seeds), chance dotted."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.2), layout="constrained")
    ax = fig.subplots()
    for k, name in enumerate(dict.fromkeys(r[series] for r in rows)):
        epochs = sorted({r["epoch"] for r in rows if r[series] == name})
        stats = [_mean_sd([r["test_acc"] for r in rows if r[series] == name and r["epoch"] == e]) for e in epochs]
        m = [100 * s[0] for s in stats]
        sd = [100 * s[1] for s in stats]
        ax.plot(epochs, m, marker="o", ms=3, color=f"C{k}", label=name)
        ax.fill_between(epochs, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], color=f"C{k}",
                        alpha=0.15, lw=0)
    if rows and "chance" in rows[0]:
        ax.axhline(100 * rows[0]["chance"], ls=":", color="0.5", lw=1)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def stream_figure(rows: Sequence[dict], path=None):
    """Left: the stream's std after the last block against L (log–log), measured (solid) and predicted
    (dashed), one line per recipe; right: the stream block by block in the deepest network."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.4, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    inits = list(dict.fromkeys(r["init"] for r in rows))
    deepest = max(r["blocks"] for r in rows)
    for k, init in enumerate(inits):
        last = [r for r in rows if r["init"] == init and r["last"]]
        ls = sorted({r["blocks"] for r in last})
        for key, style in (("std", "-"), ("pred_std", "--")):
            ys = [_mean_sd([r[key] for r in last if r["blocks"] == L])[0] for L in ls]
            left.plot(ls, ys, style, marker="o" if key == "std" else None, ms=3, color=f"C{k}",
                      label=init if key == "std" else None)
        prof = [r for r in rows if r["init"] == init and r["blocks"] == deepest]
        bs = sorted({r["block"] for r in prof})
        for key, style in (("std", "-"), ("pred_std", "--")):
            right.plot(bs, [_mean_sd([r[key] for r in prof if r["block"] == b])[0] for b in bs], style,
                       color=f"C{k}", lw=1.2)
    for ax in (left, right):
        ax.set_yscale("log")
        ax.set_ylabel("std of the residual stream")
    left.set_xscale("log", base=2)
    left.set_xlabel("blocks L")
    left.set_title("after the last block (dashed: mean-field; depth_mup\nand scaled_residual coincide here)", fontsize=9)
    right.set_xlabel("block")
    right.set_title(f"block by block, L = {deepest}", fontsize=9)
    left.legend(fontsize=7)
    return _save(fig, path)


def lm_figure(rows: Sequence[dict], path=None):
    """Validation loss after a fixed number of steps against depth, one line per initialization (± sd)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.2), layout="constrained")
    ax = fig.subplots()
    for k, init in enumerate(dict.fromkeys(r["init"] for r in rows)):
        depths = sorted({r["depth"] for r in rows if r["init"] == init})
        stats = [_mean_sd([r["val_loss"] for r in rows if r["init"] == init and r["depth"] == d]) for d in depths]
        m = [s[0] for s in stats]
        ax.errorbar(depths, m, yerr=[s[1] for s in stats], marker="o", ms=3, capsize=2, color=f"C{k}", label=init)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("depth (blocks)")
    ax.set_ylabel("validation loss (nats/char)")
    ax.set_title("character transformer after a fixed number of steps", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)
