"""Figures from tidy tables. Plotting only plots: every number comes from the caller's measured data.

matplotlib is imported lazily with the Agg backend, so ``import initlab`` never pays for it and no
display is needed. Each function returns PNG bytes (see :func:`to_png`) ready to embed.
"""

from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import numpy as np

__all__ = ["to_png", "weight_distributions", "activation_histograms", "layer_profile", "training_curves",
           "distinct_units", "accuracy_heatmap", "phase_diagram", "line_plot"]

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


def weight_distributions(samples: Mapping[str, np.ndarray], pdfs: Mapping[str, tuple[np.ndarray, np.ndarray]],
                         formulas: Mapping[str, str], shape: Sequence[int]) -> bytes:
    """Histogram of the values each scheme drew for one layer shape, with the law's density over it.

    ``samples[scheme]``: the drawn values; ``pdfs[scheme]``: (x, density) of the law; ``formulas``:
    a label per scheme.
    """
    plt = _plt()
    rows, cols = _grid(len(samples))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.7 * rows), squeeze=False)
    for ax, (name, values) in zip(axes.flat, samples.items()):
        values = np.asarray(values, dtype=np.float64).ravel()
        ax.hist(values, bins=80, density=True, color="#4C72B0", alpha=0.75, label="drawn")
        if name in pdfs:
            x, y = pdfs[name]
            ax.plot(x, y, color="#C44E52", lw=1.4, label="law")
        ax.set_title(f"{name}\n{formulas.get(name, '')}")
        ax.set_xlabel("weight value")
        ax.set_ylabel("density")
        ax.legend(loc="upper right")
    for ax in list(axes.flat)[len(samples):]:
        ax.set_visible(False)
    fig.suptitle(f"Weight distribution of each scheme, layer shape {tuple(shape)} (torch layout)")
    fig.tight_layout()
    return to_png(fig)


def activation_histograms(acts: Mapping[str, Sequence[np.ndarray]], activation: str, max_layers: int = 6) -> bytes:
    """Per-layer histograms of activation values, one panel per scheme (Glorot & Bengio 2010, Fig. 6).

    ``acts[scheme][l]``: the activation values of hidden layer l+1 on a batch.
    """
    plt = _plt()
    n = len(acts)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.0), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, (name, layers) in zip(axes.flat, acts.items()):
        layers = list(layers)
        idx = np.unique(np.linspace(0, len(layers) - 1, min(max_layers, len(layers))).round().astype(int))
        all_vals = np.concatenate([np.asarray(layers[i]).ravel() for i in idx])
        finite = all_vals[np.isfinite(all_vals)]
        lo, hi = (np.percentile(finite, [0.5, 99.5]) if finite.size else (-1.0, 1.0))
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
        bins = np.linspace(lo, hi, 60)
        for k, i in enumerate(idx):
            v = np.asarray(layers[i]).ravel()
            v = v[np.isfinite(v)]
            h, edges = np.histogram(v, bins=bins)
            centers = (edges[:-1] + edges[1:]) / 2
            ax.plot(centers, h / max(v.size, 1), color=cmap(k / max(len(idx) - 1, 1)), lw=1.2,
                    label=f"layer {i + 1}")
        ax.set_title(f"{name} ({activation})")
        ax.set_xlabel("activation value")
        ax.set_ylabel("fraction of units")
        ax.legend(loc="upper right")
    fig.tight_layout()
    return to_png(fig)


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


def distinct_units(rows: Sequence[Mapping], title: str) -> bytes:
    """Distinct units per hidden layer over training (rows: label, epoch, layer, distinct_units, width)."""
    plt = _plt()
    labels = list(dict.fromkeys(r["label"] for r in rows))
    fig, axes = plt.subplots(1, len(labels), figsize=(3.8 * len(labels), 3.2), squeeze=False, sharey=True)
    for ax, lab in zip(axes.flat, labels):
        rs = [r for r in rows if r["label"] == lab]
        for layer in sorted({r["layer"] for r in rs}):
            pts = sorted((r["epoch"], r["distinct_units"]) for r in rs if r["layer"] == layer)
            ax.plot(*zip(*pts), "o-", ms=3, label=f"layer {layer}")
        width = max(r.get("width", 0) for r in rs)
        if width:
            ax.axhline(width, color="grey", ls=":", lw=1, label=f"width {width}")
        ax.set_yscale("log")
        ax.set_title(lab)
        ax.set_xlabel("epoch")
        ax.set_ylabel("distinct units")
        ax.legend(loc="best")
    fig.suptitle(title)
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


def line_plot(rows: Sequence[Mapping], x: str, y: str, label: str, xlabel: str, ylabel: str, title: str,
              logx: bool = False, logy: bool = False) -> bytes:
    """One line per value of ``label``: ``y`` against ``x`` (rows are tidy dicts)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for lab in dict.fromkeys(r[label] for r in rows):
        pts = sorted((r[x], r[y]) for r in rows if r[label] == lab and r[y] is not None)
        if pts:
            ax.plot(*zip(*pts), "o-", ms=3, label=str(lab))
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best")
    fig.tight_layout()
    return to_png(fig)
