"""Klambauer et al. 2017: SELU with LeCun-normal weights keeps mean 0 and variance 1 through a deep
network (self-normalizing networks)."""

from __future__ import annotations

import math
import statistics

from ..claim import FigureSpec, KerasSetting, Preset, Source, build, config, digits, per_seed, probe_layers, rows_where
from ..verdict import greater, within

SCHEMES = ("lecun_normal", "he_normal")
BUDGETS = {
    "full": {"depth": 64, "width": 256, "seeds": 5, "last": 8, "mean_tol": 0.1, "var_tol": 0.1},
    "quick": {"depth": 64, "width": 256, "seeds": 3, "last": 8, "mean_tol": 0.1, "var_tol": 0.1},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Klambauer, Unterthiner, Mayr & Hochreiter 2017, "Self-normalizing neural networks": with SELU
    (λ ≈ 1.0507, α ≈ 1.6733) and weights of mean 0 and variance 1/fan_in (``lecun_normal``), the map
    from one layer's activation mean and variance to the next has the stable, attracting fixed point
    (μ, ν) = (0, 1) (Theorem 1), so a deep network keeps its activations normalized without
    normalization layers.

    Setup: MLP, ``depth`` = 64 SELU layers of ``width`` 256, zero biases, on 512 digits training images
    (standardized per pixel), at initialization, on paired seeds; ``lecun_normal`` against ``he_normal``
    (variance 2/fan_in, the reference that should leave the fixed point). :func:`initlab.probe` records
    the mean and variance of every layer's SELU output over the batch.

    Rows: scheme, seed, layer, act_mean, act_var.
    """
    data = digits()
    rows = []
    for scheme in SCHEMES:
        for seed in seeds:
            cfg = config(depth=b["depth"], width=b["width"], activation="selu", scheme=scheme, seed=seed)
            rows += [{"scheme": scheme, "seed": seed, "layer": r["layer"], "act_mean": r["act_mean"],
                      "act_var": r["act_var"]} for r in probe_layers(build(cfg, data), data, theory=False)]
    return rows


def _last(rows, scheme, column, last):
    """Per seed: ``column`` averaged over the last ``last`` layers (layers depth − last + 1 … depth)."""
    depth = max(r["layer"] for r in rows)
    return per_seed(rows, lambda rs: statistics.fmean(r[column] for r in rs if r["layer"] > depth - last),
                    scheme=scheme)


def judge(rows: list[dict], b: dict) -> list:
    """Criteria over the last ``last`` = 8 of the 64 layers (averaged per seed: the fixed point holds
    there layer after layer, and the average halves the seed-to-seed noise of one layer), over paired
    seeds: with LeCun weights the activations' mean lies within ±``mean_tol`` = 0.1 of 0 and their
    variance within ±``var_tol`` = 10 % of 1; and under He weights (variance 2/fan_in) the variance strays
    further from 1 than under LeCun — paired difference of |log10 ν| > 0: the fixed point belongs to the
    LeCun scale, not to any initialization."""
    depth, last = max(r["layer"] for r in rows), b["last"]
    where = f"layers {depth - last + 1}–{depth}"
    mean, var = _last(rows, "lecun_normal", "act_mean", last), _last(rows, "lecun_normal", "act_var", last)
    he_var = _last(rows, "he_normal", "act_var", last)
    mt, vt = b["mean_tol"], b["var_tol"]
    return [within(f"SELU + lecun_normal: mean of the activations of {where} within ±{mt:g} of 0", mean, -mt, mt),
            within(f"SELU + lecun_normal: their variance within ±{100 * vt:.0f}% of 1", var, 1 - vt, 1 + vt),
            greater("reference: under he_normal the variance strays further from 1 (paired |log10 variance|)",
                    [abs(math.log10(v)) for v in he_var], [abs(math.log10(v)) for v in var], 0.0,
                    names=("he_normal", "lecun_normal"))]


def compare(rows: list[dict], b: dict) -> list[dict]:
    depth = max(r["layer"] for r in rows)
    mean = per_seed(rows, "act_mean", scheme="lecun_normal", layer=depth)
    var = per_seed(rows, "act_var", scheme="lecun_normal", layer=depth)
    he = per_seed(rows, "act_var", scheme="he_normal", layer=depth)
    return [{"quantity": f"SELU + LeCun, layer {depth}: (mean, variance)", "source": "(0, 1): the attracting "
             "fixed point (Theorem 1)", "ours": f"({statistics.fmean(mean):+.3f}, {statistics.fmean(var):.3f})"},
            {"quantity": f"SELU + He (variance 2/fan_in), layer {depth}: variance", "source": "not a fixed point",
             "ours": f"{statistics.fmean(he):.3g}"}]


def summarize(rows: list[dict], b: dict) -> list[dict]:
    out = []
    for layer in (1, 2, 4, 8, 16, 32, 64):
        if not rows_where(rows, layer=layer):
            continue
        entry = {"layer": layer}
        for s in SCHEMES:
            entry[f"mean, {s}"] = f"{statistics.fmean(per_seed(rows, 'act_mean', scheme=s, layer=layer)):+.3f}"
            entry[f"variance, {s}"] = f"{statistics.fmean(per_seed(rows, 'act_var', scheme=s, layer=layer)):.3g}"
        out.append(entry)
    return out


def keras(b: dict) -> list[KerasSetting]:
    """The deep SELU net under each scheme, as Keras builds it."""
    return [KerasSetting(s, "selu", b["depth"], b["width"], s) for s in SCHEMES]


PRESET = Preset(
    name="selu", order=80, cost=3,
    title="SELU with LeCun weights normalizes itself (Klambauer et al. 2017)",
    claim="SELU + LeCun normal keeps mean 0 and variance 1 to layer 64 (Klambauer et al. 2017)",
    explanation=(
        "SELU is scaled so that a layer of it, fed with weights of mean 0 and variance 1/fan_in (LeCun's normal), "
        "maps activations of mean 0 and variance 1 to activations of mean 0 and variance 1 — and pulls nearby "
        "means and variances toward that point. So a deep SELU network stays normalized with no batch "
        "normalization at all. With He's doubled variance there is no such point: the variance grows layer "
        "after layer.\n\nThe figure follows the variance of the activations through 64 layers at "
        "initialization, mean over seeds."),
    source=Source("Klambauer, Unterthiner, Mayr & Hochreiter 2017, \"Self-normalizing neural networks\", "
                  "Theorem 1", "SELU (λ ≈ 1.0507, α ≈ 1.6733) with Σw = 0, Σw² = 1 has the stable, attracting "
                  "fixed point (μ, ν) = (0, 1)", {"mean": "0", "variance": "1"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("selu-variance", "lines", "Variance of SELU activations through 64 layers",
                        "Variance of each layer's activations at initialization, mean ± sd over seeds.",
                        x="layer", y="act_var", series="scheme", xlabel="layer", ylabel="variance of activations",
                        logy=True, hline=1.0),
             FigureSpec("selu-mean", "lines", "Mean of SELU activations through 64 layers",
                        "Mean of each layer's activations at initialization, mean ± sd over seeds.",
                        where={"scheme": "lecun_normal"}, x="layer", y="act_mean", series="scheme", xlabel="layer",
                        ylabel="mean of activations", hline=0.0)),
)
