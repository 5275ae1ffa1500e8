"""Too-large random weights: ReLU explodes, tanh and sigmoid saturate (CLAIMS 4)."""

from __future__ import annotations

import math

import numpy as np

from ..claim import (FigureSpec, KerasSetting, Preset, Source, build, config, digits, geomean, group_by,
                     per_layer_factor, per_seed, probe_layers, rows_where, train_all)
from ..verdict import at_least, every, greater, within

ACTIVATIONS = ("relu", "tanh", "sigmoid")
REFERENCE = {"relu": "he_normal", "tanh": "glorot_normal", "sigmoid": "glorot_normal"}
LARGE = "N(0, 1)"
BUDGETS = {
    "full": {"depth": 10, "width": 64, "std": 1.0, "epochs": 3, "lr": 0.01, "momentum": 0.9, "batch_size": 32,
             "seeds": 5, "growth_factor": 2.0, "theory_factor": 1.25, "saturation_margin": 0.25},
    "quick": {"depth": 10, "width": 64, "std": 1.0, "epochs": 1, "lr": 0.01, "momentum": 0.9, "batch_size": 32,
              "seeds": 3, "growth_factor": 2.0, "theory_factor": 1.25, "saturation_margin": 0.25},
}
BINS = np.linspace(-1.0, 1.0, 41)


def _scheme(label, b):
    return ("random_normal", {"std": b["std"]}) if label == LARGE else (label, {})


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Too-large random weights, N(0, 1), against the scheme made for each activation.

    Setup: MLP, ``depth`` hidden layers of ``width`` units, zero biases, for ReLU (reference
    ``he_normal``), tanh and sigmoid (reference ``glorot_normal``), each with ``random_normal(std=1)``
    and with its reference, on paired seeds. :func:`initlab.probe` measures at initialization, per
    hidden layer, the activation std, the back-propagated gradient std, the fraction of saturated
    units (|tanh| > 0.99, sigmoid < 0.01 or > 0.99, after Glorot & Bengio 2010) and mean-field
    theory's predictions; the tanh activations of layers 1, 4, 7, 10 on the first seed are kept as
    histograms. ReLU and tanh nets are then trained with SGD with momentum (the trainer stops a run
    whose loss turns non-finite and marks it ``diverged``).

    Rows: ``part="profile"`` (activation, scheme, seed, layer, …), ``part="histogram"`` (scheme,
    layer, bin, fraction), ``part="training"`` (activation, scheme, seed, epoch, test_acc,
    train_loss, diverged).
    """
    data = digits()
    rows, to_train = [], []
    for act in ACTIVATIONS:
        for label in (LARGE, REFERENCE[act]):
            scheme, params = _scheme(label, b)
            for seed in seeds:
                cfg = config(depth=b["depth"], width=b["width"], activation=act, scheme=scheme, scheme_params=params,
                             lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"],
                             seed=seed)
                model = build(cfg, data)
                rows += [{"part": "profile", "activation": act, "scheme": label, "seed": seed, **r}
                         for r in probe_layers(model, data)]
                if act == "tanh" and seed == seeds[0]:
                    rows += _histograms(model, data, label, b["depth"])
                if act in ("relu", "tanh"):
                    to_train.append((label, cfg))
    for (label, cfg), res in zip(to_train, train_all([c for _, c in to_train], data)):
        rows += [{"part": "training", "activation": cfg.activation, "scheme": label, "seed": cfg.seed,
                  "epoch": h["epoch"], "test_acc": h["test_acc"], "train_loss": h["train_loss"],
                  "diverged": h["diverged"]} for h in res.history]
    return rows


def hist_layers(depth: int) -> list[int]:
    """Four hidden layers spread from the first to the last (1, 4, 7, 10 at depth 10)."""
    return sorted({int(round(v)) for v in np.linspace(1, depth, 4)})


def _histograms(model, data, label, depth) -> list[dict]:
    """Histograms of the tanh outputs of :func:`hist_layers` on 512 training images."""
    import torch

    outs = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach().flatten().numpy()))
             for m in model if isinstance(m, torch.nn.Tanh)]
    try:
        with torch.no_grad():
            model(data.x_train[:512])
    finally:
        for h in hooks:
            h.remove()
    rows = []
    centers = (BINS[:-1] + BINS[1:]) / 2
    for layer in hist_layers(depth):
        counts, _ = np.histogram(np.clip(outs[layer - 1], -1, 1), bins=BINS)
        frac = counts / max(counts.sum(), 1)
        rows += [{"part": "histogram", "scheme": label, "layer": layer, "bin": float(c), "fraction": float(f)}
                 for c, f in zip(centers, frac)]
    return rows


def _factors(rows, act, scheme, column, toward_input=False):
    by_seed = group_by(rows_where(rows, part="profile", activation=act, scheme=scheme), "seed")
    return [per_layer_factor(rs, column, toward_input=toward_input) for _, rs in sorted(by_seed.items())]


def _predicted_act_factors(rows, act, scheme):
    by_seed = group_by(rows_where(rows, part="profile", activation=act, scheme=scheme), "seed")
    out = []
    for _, rs in sorted(by_seed.items()):
        rs = sorted(rs, key=lambda r: r["layer"])
        out.append((rs[-1]["pred_act_std"] / rs[0]["pred_act_std"]) ** (1 / (len(rs) - 1)))
    return out


def _saturation(rows, act, scheme):
    return per_seed(rows, lambda rs: float(np.mean([r["frac_saturated"] for r in rs])), part="profile",
                    activation=act, scheme=scheme)


def judge(rows: list[dict], b: dict) -> list:
    """Criteria. ReLU with N(0, 1): activations grow with depth by more than ``growth_factor`` = 2×
    per layer (per-layer factor of the activation std, log scale), at the rate mean-field theory
    predicts (within ×``theory_factor``); gradients grow toward the input by more than 2× per layer;
    training diverges (non-finite loss) on every seed. tanh and sigmoid with N(0, 1): more units
    saturate than under Glorot by more than ``saturation_margin`` = 25 points (paired, mean over the
    hidden layers) — a bounded activation cannot explode, it saturates. tanh: training halts
    relative to Glorot (paired difference of the best test accuracy > 0)."""
    g, tol = b["growth_factor"], b["theory_factor"]
    act_growth = _factors(rows, "relu", LARGE, "act_std")
    grad_growth = _factors(rows, "relu", LARGE, "grad_std", toward_input=True)
    pred = _predicted_act_factors(rows, "relu", LARGE)
    diverged = per_seed(rows, lambda rs: any(r["diverged"] for r in rs), part="training", activation="relu",
                        scheme=LARGE)
    checks = [
        at_least(f"ReLU: activations grow by more than {g:g}× per layer", act_growth, g, log=True),
        within(f"ReLU: at the rate mean-field theory predicts (measured/predicted within ×{tol})",
               [m / p for m, p in zip(act_growth, pred)], 1 / tol, tol, log=True),
        at_least(f"ReLU: gradients grow toward the input by more than {g:g}× per layer", grad_growth, g, log=True),
        every("ReLU: training diverges (a non-finite loss, caught by the trainer)", diverged, bool,
              f"diverged per seed {[bool(d) for d in diverged]}"),
    ]
    m = b["saturation_margin"]
    for act in ("tanh", "sigmoid"):
        checks.append(greater(f"{act}: more units saturated than under glorot_normal, by more than {100 * m:.0f} "
                              "points", _saturation(rows, act, LARGE), _saturation(rows, act, REFERENCE[act]), m,
                              unit="pts", names=(LARGE, "glorot_normal")))
    best = {s: per_seed(rows, lambda rs: max(r["test_acc"] for r in rs), part="training", activation="tanh",
                        scheme=s) for s in (LARGE, "glorot_normal")}
    checks.append(greater("tanh: training halts relative to glorot_normal (its best test accuracy is lower)",
                          best["glorot_normal"], best[LARGE], 0.0, unit="pts", names=("glorot_normal", LARGE)))
    return checks


def compare(rows: list[dict], b: dict) -> list[dict]:
    act_growth = _factors(rows, "relu", LARGE, "act_std")
    pred = _predicted_act_factors(rows, "relu", LARGE)
    sat = {a: float(np.mean(_saturation(rows, a, LARGE))) for a in ("tanh", "sigmoid")}
    return [
        {"quantity": "ReLU: activation std growth per layer",
         "source": f"√(fan_in·σ²/2) = √{b['width'] * b['std'] ** 2 / 2:g} = {math.sqrt(b['width'] * b['std'] ** 2 / 2):.3g}"
                   f" (mean-field: {geomean(pred):.3g})", "ours": f"{geomean(act_growth):.3g}"},
        {"quantity": "tanh / sigmoid: saturated units",
         "source": "units pinned at the flat ends (Glorot & Bengio 2010, Fig. 6)",
         "ours": f"tanh {100 * sat['tanh']:.0f}%, sigmoid {100 * sat['sigmoid']:.0f}% of hidden units"},
    ]


def keras(b: dict) -> list[KerasSetting]:
    """Per activation, the N(0, std²) net and the reference, as Keras builds them."""
    return [KerasSetting(f"{act}, {label}", act, b["depth"], b["width"], *_scheme(label, b))
            for act in ACTIVATIONS for label in (LARGE, REFERENCE[act])]


PRESET = Preset(
    name="exploding", order=30, cost=2,
    title="Too-large random weights: explosion (ReLU) and saturation (tanh, sigmoid)",
    claim="N(0, 1) in a 10-layer net: ReLU explodes at the predicted rate and diverges; tanh/sigmoid saturate",
    explanation=(
        "With large random weights such as N(0, 1), the same product grows instead: fan_in·σ² = 64 per layer. In "
        "a ReLU network activations and gradients grow by orders of magnitude with depth, and training diverges. "
        "tanh and sigmoid cannot grow, so they saturate: outputs pile up at the flat ends (±1, or 0 and 1), where "
        "the derivative is nearly 0, and learning halts.\n\n"
        "The profile shows the per-layer std at initialization, measured next to the theory, for N(0, 1) and for "
        "the scheme made for each activation. The histograms (in the style of Glorot & Bengio 2010, Fig. 6) show "
        "the tanh activations of several layers: N(0, 1) piles them at ±1, while Xavier keeps them spread out."),
    source=Source("CLAIMS 4; Glorot & Bengio 2010, Fig. 6 (saturation); Poole et al. 2016 (rate)",
                  "ReLU activations and gradients grow by orders of magnitude and training diverges; tanh and "
                  "sigmoid units saturate and training halts",
                  {"ReLU growth per layer": "√(fan_in·σ²/2) = √32 ≈ 5.66"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare,
    figures=(FigureSpec("exploding-profile-relu", "profile", "ReLU MLP at initialization: N(0, 1) vs he_normal",
                        "ReLU: activation std (left) and gradient std (right) per layer, measured (solid, mean "
                        "over seeds) and predicted by mean-field theory (dashed).",
                        where={"part": "profile", "activation": "relu"}, series="scheme"),
             FigureSpec("exploding-profile-tanh", "profile", "tanh MLP at initialization: N(0, 1) vs glorot_normal",
                        "tanh: the same measurements; under N(0, 1) the std sits near 1 because outputs are at ±1.",
                        where={"part": "profile", "activation": "tanh"}, series="scheme"),
             FigureSpec("tanh-activation-histograms", "lines", "tanh activations at initialization",
                        "Distribution of the tanh activations of layers 1, 4, 7 and 10 (first seed), per scheme "
                        "(Glorot & Bengio 2010, Fig. 6 style).", where={"part": "histogram"}, x="bin",
                        y="fraction", series="layer", panels="scheme", xlabel="tanh output",
                        ylabel="fraction of units"),
             FigureSpec("exploding-training", "lines", "Training loss (ReLU and tanh)", "Training loss per epoch, "
                        "mean over seeds; a ReLU run with N(0, 1) diverges (its loss turns non-finite and stops).",
                        where={"part": "training"}, x="epoch", y="train_loss", series="scheme", panels="activation",
                        xlabel="epoch", ylabel="training loss", logy=True)),
)
