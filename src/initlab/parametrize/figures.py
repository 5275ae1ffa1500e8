"""Figures of width scaling, drawn from tidy rows (plotting apart from measuring).

Each function takes the rows a measurement returns (:meth:`CoordCheckResult.mean_rows`,
:meth:`TransferResult.mean_rows`) and returns a matplotlib ``Figure`` (saved to ``path`` when given).
No pyplot: the figures are built on their own canvas, so nothing global changes.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["coord_check_figure", "transfer_figure"]


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def coord_check_figure(mean_rows: Sequence[dict], path=None):
    """``mean |x|`` against width, log–log: a row of panels per parametrization, a panel per step t,
    a line per layer."""
    from matplotlib.figure import Figure

    ps = sorted({r["parametrization"] for r in mean_rows}, key=lambda p: (p != "sp", p))
    ts = sorted({r["t"] for r in mean_rows})
    fig = Figure(figsize=(3.0 * len(ts), 2.6 * len(ps)), layout="constrained")
    axes = fig.subplots(len(ps), len(ts), squeeze=False, sharex=True)
    for i, p in enumerate(ps):
        layers = list(dict.fromkeys(r["layer"] for r in mean_rows if r["parametrization"] == p))
        for j, t in enumerate(ts):
            ax = axes[i][j]
            for k, layer in enumerate(layers):
                pts = sorted((r["width"], r["l1"]) for r in mean_rows
                             if r["parametrization"] == p and r["t"] == t and r["layer"] == layer)
                if not pts:
                    continue
                ax.plot([w for w, _ in pts], [v for _, v in pts], marker="o", ms=3, lw=1.2, label=layer,
                        color=f"C{k % 10}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{p}, t = {t}", fontsize=9)
            if i == len(ps) - 1:
                ax.set_xlabel("width")
            if j == 0:
                ax.set_ylabel("mean |x|")
        axes[i][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)


def transfer_figure(mean_rows: Sequence[dict], path=None):
    """Loss against learning rate (log₂), one panel per (task, parametrization), one line per width."""
    from matplotlib.figure import Figure

    panels = list(dict.fromkeys((r["task"], r["parametrization"]) for r in mean_rows))
    fig = Figure(figsize=(3.6 * len(panels), 3.0), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (task, p) in zip(axes, panels):
        rows = [r for r in mean_rows if r["task"] == task and r["parametrization"] == p]
        widths = sorted({r["width"] for r in rows})
        for k, w in enumerate(widths):
            pts = sorted((r["log2_lr"], r["loss"]) for r in rows if r["width"] == w)
            ax.plot([a for a, _ in pts], [b for _, b in pts], marker="o", ms=3, lw=1.2, color=f"C{k % 10}",
                    label=f"width {w}")
            best = min(pts, key=lambda ab: ab[1])
            ax.plot([best[0]], [best[1]], marker="*", ms=9, color=f"C{k % 10}")
        ax.set_title(f"{task}: {p}", fontsize=9)
        ax.set_xlabel("log2 learning rate")
        ax.set_ylabel("loss")
        ax.legend(fontsize=6)
    return _save(fig, path)
