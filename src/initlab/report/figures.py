"""Figures from tidy tables. Plotting only plots: every number comes from the caller's measured data.

matplotlib is imported lazily with the Agg backend, so ``import initlab`` never pays for it and no
display is needed. Each function returns PNG bytes (see :func:`to_png`) ready to embed.
"""

from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import numpy as np

__all__ = ["to_png", "weight_histograms", "layer_profile", "training_curves", "gradient_profile", "lines", "bars",
           "accuracy_heatmap", "phase_diagram"]

_DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": _DPI, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9,
                         "axes.titlesize": 10, "legend.fontsize": 8})
    return plt


#: Callables given every figure just before it is rendered (tests use this to inspect the axes).
INSPECTORS: list = []


def to_png(fig) -> bytes:
    """Render a figure to PNG bytes and close it."""
    for inspect in INSPECTORS:
        inspect(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _grid(n: int, max_cols: int = 3):
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def layer_profile(rows: Sequence[Mapping], title: str) -> bytes:
    """Activation std and back-propagated gradient std against layer index, measured (solid) next to the
    mean-field prediction (dashed) where present; log scale. A panel is drawn only for a quantity
    that has data (a table with gradients only gives one panel).

    Each row: ``scheme``, ``layer`` (1-based index), ``act_std``, ``grad_std`` and optionally
    ``pred_act_std``, ``pred_grad_std``.
    """
    plt = _plt()

    def positive(key):
        return any(isinstance(r.get(key), (int, float)) and r.get(key) > 0 for r in rows)

    panels = [(key, label, t) for key, label, t in (
        ("act_std", "std of layer output", "forward: activations"),
        ("grad_std", "std of back-propagated gradient", "backward: gradients")) if positive(key)]
    if not panels:
        raise ValueError("layer_profile: no positive act_std or grad_std to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    colors = plt.get_cmap("tab10")
    for ax, (key, ylabel, t) in zip(axes.flat, panels):
        for k, s in enumerate(schemes):
            rs = sorted((r for r in rows if r["scheme"] == s), key=lambda r: r["layer"])
            x = [r["layer"] for r in rs]
            y = np.array([r.get(key, np.nan) for r in rs], dtype=float)
            ax.plot(x, np.where(y > 0, y, np.nan), "o-", ms=3, color=colors(k % 10), label=f"{s} (measured)")
            pred = np.array([r.get("pred_" + key, np.nan) for r in rs], dtype=float)
            if np.isfinite(pred).any():
                ax.plot(x, np.where(pred > 0, pred, np.nan), "x--", ms=5, color=colors(k % 10), alpha=0.8,
                        label=f"{s} (theory)")
        ax.set_yscale("log")
        _integer_ticks(ax.xaxis)
        ax.set_xlabel("layer index (1 = first hidden layer)")
        ax.set_ylabel(ylabel)
        ax.set_title(t)
    axes.flat[-1].legend(loc="best", ncol=1)
    fig.suptitle(title)
    fig.tight_layout()
    return to_png(fig)


def training_curves(rows: Sequence[Mapping], title: str, chance: float | None = None,
                    legend_title: str | None = None) -> bytes:
    """Training loss and test accuracy per epoch, one line per ``label`` (rows: label, epoch, train_loss,
    test_acc); ``legend_title`` names what the labels are (e.g. the varied field)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    for lab in labels:
        rs = sorted((r for r in rows if r["label"] == lab), key=lambda r: r["epoch"])
        ep = [r["epoch"] for r in rs]
        loss = np.array([r["train_loss"] for r in rs], dtype=float)
        a1.plot(ep, np.where(np.isfinite(loss), loss, np.nan), "o-", ms=3, label=lab)
        a2.plot(ep, [100 * r["test_acc"] for r in rs], "o-", ms=3, label=lab)
    if chance is not None:
        a2.axhline(100 * chance, color="grey", ls=":", lw=1, label="chance")
    a1.set_yscale("log")
    for ax in (a1, a2):
        _integer_ticks(ax.xaxis)
    a1.set_xlabel("epoch")
    a1.set_ylabel("training loss (cross-entropy)")
    a2.set_xlabel("epoch")
    a2.set_ylabel("test accuracy (%)")
    a2.set_ylim(0, 100)
    a2.legend(loc="best", title=legend_title)
    fig.suptitle(title)
    fig.tight_layout()
    return to_png(fig)


def gradient_profile(rows: Sequence[Mapping], title: str, legend_title: str | None = None) -> bytes:
    """Back-propagated gradient std against layer index (log scale), one line per ``label``
    (rows: label, layer, grad_std)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for lab in dict.fromkeys(r["label"] for r in rows):
        pts = sorted((r["layer"], r["grad_std"]) for r in rows if r["label"] == lab and r["grad_std"] > 0)
        if pts:
            ax.plot(*zip(*pts), "o-", ms=3, label=str(lab))
    ax.set_yscale("log")
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("weight layer (1 = first; the last is the head)")
    ax.set_ylabel("std of ∂L/∂pre-activation")
    ax.set_title(title)
    ax.legend(loc="best", title=legend_title)
    fig.tight_layout()
    return to_png(fig)


def accuracy_heatmap(rows: Sequence[Mapping], title: str, value: str = "test_acc") -> bytes:
    """Heatmap of final accuracy, scheme × activation (rows: scheme, activation, test_acc)."""
    plt = _plt()
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    acts = list(dict.fromkeys(r["activation"] for r in rows))
    grid = np.full((len(schemes), len(acts)), np.nan)
    for r in rows:
        grid[schemes.index(r["scheme"]), acts.index(r["activation"])] = 100 * r[value]
    fig, ax = plt.subplots(figsize=(1.2 * len(acts) + 2.5, 0.6 * len(schemes) + 1.6))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(acts)), acts)
    ax.set_yticks(range(len(schemes)), schemes)
    ax.grid(False)
    for i in range(len(schemes)):
        for j in range(len(acts)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center",
                        color="white" if grid[i, j] < 60 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, label="final test accuracy (%)")
    ax.set_xlabel("activation")
    ax.set_ylabel("initialization scheme")
    ax.set_title(title)
    fig.tight_layout()
    return to_png(fig)


def phase_diagram(diagrams: Mapping[str, Mapping[str, np.ndarray]]) -> bytes:
    """log χ₁ over (σ_w², σ_b²) with the critical line χ₁ = 1, one panel per activation.

    ``diagrams[act]`` has arrays ``sigma_w2`` (n), ``sigma_b2`` (m), ``chi1`` (m × n) and
    ``critical_sigma_w2`` (m) — computed by :func:`initlab.theory.phase_diagram`.
    """
    plt = _plt()
    n = len(diagrams)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.6), squeeze=False)
    for ax, (act, d) in zip(axes.flat, diagrams.items()):
        w2, b2 = np.asarray(d["sigma_w2"]), np.asarray(d["sigma_b2"])
        chi = np.asarray(d["chi1"], dtype=float)
        if chi.shape != (len(b2), len(w2)):
            chi = chi.T
        logc = np.log(np.clip(chi, 1e-12, None))
        lim = np.nanmax(np.abs(logc[np.isfinite(logc)])) if np.isfinite(logc).any() else 1.0
        im = ax.pcolormesh(w2, b2, logc, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
        ax.plot(np.asarray(d["critical_sigma_w2"]), b2, "k-", lw=1.8, label="critical line χ₁ = 1")
        ax.set_xlabel("σ_w² (weight variance × fan_in)")
        ax.set_ylabel("σ_b² (bias variance)")
        ax.set_title(f"{act}: ordered (blue, vanishing) | chaotic (red, exploding)")
        ax.legend(loc="upper left")
        fig.colorbar(im, ax=ax, label="log χ₁")
    fig.tight_layout()
    return to_png(fig)




def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def _label(column: str, value) -> str:
    return f"{column} {value}" if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else str(value)


def lines(rows: Sequence[Mapping], x: str, y: str, series: str, title: str, *, panels: str = "", xlabel: str = "",
          ylabel: str = "", logx: bool = False, logy: bool = False, hline=None, percent: bool = False) -> bytes:
    """``y`` against ``x``, one line per value of ``series`` and one panel per value of ``panels``; rows
    that share (panel, series, x) — the seeds — are averaged, with a ±sd band. ``hline``: a number, or
    a column whose value (per series) is drawn as a dotted reference line. ``percent`` shows fractions
    as percentages."""
    plt = _plt()
    scale = 100.0 if percent else 1.0
    panel_values = list(dict.fromkeys(r[panels] for r in rows)) if panels else [None]
    fig, axes = plt.subplots(1, len(panel_values), figsize=(min(4.6 * len(panel_values), 14), 3.5), squeeze=False,
                             sharey=True)
    colors = plt.get_cmap("tab10")
    series_values = list(dict.fromkeys(r[series] for r in rows)) if series else [None]
    for ax, pv in zip(axes.flat, panel_values):
        prs = [r for r in rows if not panels or r[panels] == pv]
        for k, sv in enumerate(series_values):
            srs = [r for r in prs if not series or r[series] == sv]
            if not srs:
                continue
            xs = sorted({r[x] for r in srs})
            stats = [_mean_sd([r[y] for r in srs if r[x] == xv]) for xv in xs]
            m = np.array([a for a, _ in stats]) * scale
            sd = np.array([b for _, b in stats]) * scale
            if logy:
                m = np.where(m > 0, m, np.nan)
            color = colors(k % 10)
            ax.plot(xs, m, "o-", ms=2.5, lw=1.4, color=color, label=_label(series, sv) if series else None)
            low = np.where(m - sd > 0, m - sd, np.nan) if logy else m - sd
            if np.isfinite(sd).any() and np.nanmax(sd) > 0:
                ax.fill_between(xs, low, m + sd, color=color, alpha=0.15, lw=0)
            if isinstance(hline, str) and srs[0].get(hline) is not None:
                ref = {r[hline] for r in srs}
                for v in ref:
                    ax.axhline(v * scale, color=color if len(series_values) > 1 and len(
                        {r[hline] for r in prs}) > 1 else "grey", ls=":", lw=1)
        if isinstance(hline, (int, float)) and not isinstance(hline, bool):
            ax.axhline(hline * scale, color="grey", ls=":", lw=1)
        if logx:
            ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        if pv is not None:
            ax.set_title(str(pv))
        ax.set_xlabel(xlabel or x)
        if percent:
            ax.set_ylim(0, 100)
        if series:
            ax.legend(loc="best", fontsize=7)
    axes.flat[0].set_ylabel(ylabel or y)
    fig.suptitle(title)
    fig.tight_layout()
    return to_png(fig)


def bars(rows: Sequence[Mapping], x: str, y: str, series: str, title: str, *, ylabel: str = "", hline=None,
         percent: bool = False) -> bytes:
    """Grouped bars: for each value of ``x`` one bar per value of ``series``, the mean of ``y`` over the
    rows that share them (the seeds) with ±sd error bars; ``hline`` a number or a column."""
    plt = _plt()
    scale = 100.0 if percent else 1.0
    xs = list(dict.fromkeys(r[x] for r in rows))
    ss = list(dict.fromkeys(r[series] for r in rows))
    fig, ax = plt.subplots(figsize=(min(13.0, max(6.0, 0.45 * len(xs) * max(1, len(ss)) + 2)), 3.8))
    width = 0.8 / max(1, len(ss))
    colors = plt.get_cmap("tab10")
    for k, sv in enumerate(ss):
        stats = [_mean_sd([r[y] for r in rows if r[x] == xv and r[series] == sv]) for xv in xs]
        pos = np.arange(len(xs)) + (k - (len(ss) - 1) / 2) * width
        ax.bar(pos, [a * scale for a, _ in stats], width, yerr=[b * scale for _, b in stats], capsize=2,
               color=colors(k % 10), label=str(sv))
    if isinstance(hline, str):
        for v in {r[hline] for r in rows if r.get(hline) is not None}:
            ax.axhline(v * scale, color="grey", ls=":", lw=1)
    elif isinstance(hline, (int, float)):
        ax.axhline(hline * scale, color="grey", ls=":", lw=1)
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=30, ha="right")
    ax.set_ylabel(ylabel or y)
    if percent:
        ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    return to_png(fig)


def weight_histograms(rows: Sequence[Mapping], title: str) -> bytes:
    """One panel per scheme: the histogram of the values it drew (bars) and the density of its law
    (red line). Rows: ``scheme``, ``formula``, ``x`` (bin centre), ``width`` (bin width), ``drawn``
    (histogram density) and ``law`` (the law's density at x; NaN when it has none per entry)."""
    plt = _plt()
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    nrows, cols = _grid(len(schemes))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.7 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, schemes):
        rs = sorted((r for r in rows if r["scheme"] == name), key=lambda r: r["x"])
        xs = np.array([r["x"] for r in rs])
        ax.bar(xs, [r["drawn"] for r in rs], width=[r["width"] for r in rs], color="#4C72B0", alpha=0.75,
               label="drawn")
        law = np.array([r["law"] for r in rs], dtype=float)
        if np.isfinite(law).any():
            ax.plot(xs, law, color="#C44E52", lw=1.4, label="law")
        ax.set_title(f"{name}\n{rs[0]['formula']}")
        ax.set_xlabel("weight value")
        ax.set_ylabel("density")
        ax.legend(loc="upper right")
    for ax in list(axes.flat)[len(schemes):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return to_png(fig)
