"""Presets: the claims about initialization, each reproduced on real data and judged by numbers.

``run_preset(name, budget="full"|"quick", seed=0)`` trains the networks a claim is about (on
scikit-learn's handwritten ``digits``, 8×8 images, 10 classes, 1437 training / 360 test images),
measures what the claim speaks of, and compares each measured figure with a stated criterion.
The verdict is ``"reproduced"`` when every criterion holds and ``"not reproduced"`` otherwise; it
is computed from the measurements, never written in. ``initlab experiment NAME`` prints the same.

=====================  ==========================================================================
name                   claim (source)
=====================  ==========================================================================
``symmetry``           zeros or a constant leave every hidden unit identical forever (CLAIMS 1, 2)
``vanishing``          N(0, 0.01²) in a deep net: gradients vanish toward the input (CLAIMS 3)
``exploding``          N(0, 1) in a deep ReLU net explodes; tanh/sigmoid saturate (CLAIMS 4)
``xavier-vs-he``       30-layer ReLU: He trains, Var = 1/fan_in stalls (He et al. 2015, Fig. 3)
``glorot2010``         normalized init keeps back-propagated gradients flat (Glorot & Bengio 2010)
``activation-guide``   He for ReLU family, Xavier for tanh/sigmoid, LeCun for SELU (CLAIMS 10)
``orthogonal-depth``   deep linear nets: orthogonal init learns in depth-independent time (Saxe 2013)
=====================  ==========================================================================

Budgets: ``"full"`` is what the claim deserves within about a minute on two CPU cores;
``"quick"`` is a reduced budget (fewer epochs, seeds or depths) that decides the same criteria in
seconds. Each preset's docstring lists its settings and why they were chosen; the settings are
also returned in :attr:`PresetResult.settings`.

Measurements at initialization use :func:`initlab.probe` on the first 512 training images
(forward statistics, ``frac_saturated``, ``distinct_units`` and ``grad_std``, the std of the loss
gradient with respect to each layer's pre-activation, the "back-propagated gradient" of Glorot &
Bengio 2010). Training uses :func:`~initlab.experiments.batched.train_batched` for runs that share
an architecture and :func:`~initlab.experiments.trainer.train` otherwise. Every preset runs with one
torch thread (these networks are small: per-call overhead, not arithmetic, dominates, and one
thread is both faster on a busy machine and bit-for-bit reproducible); the caller's thread count is
restored afterwards.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..activations import row as _catalogue_row
from ..errors import InitlabError, check_int, suggest

__all__ = ["PRESETS", "BUDGETS", "Preset", "PresetResult", "run_preset"]

BUDGETS = ("full", "quick")
PROBE_BATCH = 512


# --------------------------------------------------------------------------- results

@dataclass
class PresetResult:
    """The outcome of one preset.

    ``verdict``: ``"reproduced"`` when every entry of ``checks`` passed, else ``"not reproduced"``.
    ``numbers``: the deciding figures (plain floats/ints/lists, JSON-ready). ``checks``: one dict
    per criterion with ``criterion`` (the statement), ``measured`` (the figures, as text) and
    ``passed``. ``rows``: a tidy table (one dict per run, layer or step, as the preset measures)
    for plots; :attr:`table` gives it as a pandas DataFrame. ``summary_rows``: the few rows a
    reader needs (one per scheme, activation, layer or depth), as printed by
    ``initlab experiment``. ``command`` reproduces the result.
    """

    name: str
    claim: str
    verdict: str
    numbers: dict[str, Any]
    checks: list[dict]
    rows: list[dict] = field(repr=False)
    budget: str
    seed: int
    seconds: float
    command: str
    settings: dict[str, Any] = field(default_factory=dict)
    summary_rows: list[dict] = field(default_factory=list, repr=False)

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"

    @property
    def table(self):
        """``rows`` as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict:
        return {"name": self.name, "claim": self.claim, "verdict": self.verdict, "numbers": self.numbers,
                "checks": self.checks, "rows": self.rows, "budget": self.budget, "seed": self.seed,
                "seconds": self.seconds, "command": self.command, "settings": self.settings,
                "summary_rows": self.summary_rows}

    def summary(self) -> str:
        lines = [f"{self.name}: {self.verdict}  ({self.claim})"]
        lines += [f"  [{'ok' if c['passed'] else 'NO'}] {c['criterion']}: {c['measured']}" for c in self.checks]
        lines.append(f"  reproduce: {self.command}")
        return "\n".join(lines)


class _Checks:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, criterion: str, measured: str, passed: bool) -> None:
        self.items.append({"criterion": criterion, "measured": measured, "passed": bool(passed)})

    @property
    def verdict(self) -> str:
        return "reproduced" if self.items and all(c["passed"] for c in self.items) else "not reproduced"


@dataclass(frozen=True)
class Preset:
    """A claim, the function that tests it, and its two budgets."""

    name: str
    claim: str
    fn: Callable[[dict, int], tuple[_Checks, dict, list, list]]
    budgets: dict[str, dict]

    @property
    def doc(self) -> str:
        return self.fn.__doc__ or ""


# --------------------------------------------------------------------------- shared pieces

def _digits(n_train: int | None = None, n_test: int | None = None):
    from .datasets import load

    return load("digits", n_train=n_train, n_test=n_test)


def _config(**kw):
    from .trainer import TrainConfig

    kw.setdefault("dataset", "digits")
    return TrainConfig(**kw).validate()


def _train(configs, data) -> list:
    from .sweep import train_many

    return train_many(configs, data)


def _build(config, data):
    from .models import build_model

    return build_model(config.model_spec(), data.input_shape, data.num_classes, seed=config.seed)


def _probe(model, data) -> tuple[list[dict], list[dict]]:
    """Probe ``model`` on the first training images: (hidden weight-layer rows, activation rows)."""
    import initlab

    records = initlab.probe(model, data.x_train[:PROBE_BATCH], data.y_train[:PROBE_BATCH], theory=False)
    weights = records.where("weight")
    return weights[:-1], records.where("activation")


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    return f"{x:.3g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _best_acc(result) -> float:
    return max(row["test_acc"] for row in result.history)


def _final(result) -> dict:
    return result.history[-1]


def _chance(data) -> float:
    counts = data.y_test.bincount(minlength=data.num_classes).double()
    return float(counts.max() / counts.sum())


# --------------------------------------------------------------------------- symmetry

SYMMETRY_BUDGETS = {
    "full": {"depth": 3, "width": 32, "epochs": 5, "lr": 0.01, "momentum": 0.9, "batch_size": 32, "constant": 0.5},
    "quick": {"depth": 3, "width": 32, "epochs": 2, "lr": 0.01, "momentum": 0.9, "batch_size": 32, "constant": 0.5},
}


def _symmetry(b: dict, seed: int):
    """Zero or constant weights: every unit of a hidden layer stays identical (the symmetry problem).

    Claim (CLAIMS 1–2; the symmetry argument of every initialization tutorial): with all weights 0,
    or all equal to a constant such as 0.5, every unit of a layer computes the same output and
    receives the same gradient, so after any amount of training each hidden layer still has
    exactly one distinct unit; zeros do not learn at all (accuracy at chance), while random (He)
    weights learn.

    Setup: ReLU MLP, ``depth`` hidden layers of ``width`` units, biases 0, SGD with momentum on
    digits. Distinct units are counted after training by :func:`initlab.probe` (units equal in
    incoming weights and outputs within a relative 1e-5).

    Criteria: zeros and constant: 1 distinct unit in every hidden layer; zeros: final test
    accuracy ≤ chance + 5 points; He (he_normal): final test accuracy ≥ 80 %.
    """
    data = _digits()
    chance = _chance(data)
    schemes = [("zeros", {}), ("constant", {"value": b["constant"]}), ("he_normal", {})]
    configs = [_config(depth=b["depth"], width=b["width"], activation="relu", scheme=s, scheme_params=p,
                       lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"], seed=seed)
               for s, p in schemes]
    results = _train(configs, data)
    rows, distinct, acc = [], {}, {}
    for (name, _), res in zip(schemes, results):
        hidden, _ = _probe(res.model, data)
        distinct[name] = [int(r["distinct_units"]) for r in hidden]
        acc[name] = _final(res)["test_acc"]
        for i, r in enumerate(hidden):
            rows.append({"scheme": name, "layer": i + 1, "units": int(r["units"]),
                         "distinct_units": int(r["distinct_units"]), "test_acc": acc[name]})
    c = _Checks()
    for name in ("zeros", "constant"):
        c.add(f"{name}: every hidden layer has exactly 1 distinct unit after training",
              f"distinct units per layer {distinct[name]} of {b['width']}", all(d == 1 for d in distinct[name]))
    c.add("zeros: test accuracy near chance (≤ chance + 5 points)",
          f"{_pct(acc['zeros'])} (chance {_pct(chance)})", acc["zeros"] <= chance + 0.05)
    c.add("He (random) init learns: test accuracy ≥ 80%", f"{_pct(acc['he_normal'])}", acc["he_normal"] >= 0.80)
    numbers = {"chance": chance, "distinct_units": distinct, "test_acc": acc, "width": b["width"]}
    summary = [{"scheme": name, "distinct units per hidden layer": distinct[name], "test accuracy": _pct(acc[name])}
               for name, _ in schemes]
    return c, numbers, rows, summary


# --------------------------------------------------------------------------- vanishing

VANISHING_BUDGETS = {
    "full": {"depth": 10, "width": 64, "std": 0.01, "epochs": 5, "lr": 0.01, "momentum": 0.9, "batch_size": 32},
    "quick": {"depth": 10, "width": 64, "std": 0.01, "epochs": 2, "lr": 0.01, "momentum": 0.9, "batch_size": 32},
}
_SAT_ACTS = ("tanh", "sigmoid", "relu")
_EXPLODE_ACTS = ("relu", "tanh", "sigmoid")


def _vanishing(b: dict, seed: int):
    """Too-small random weights, N(0, 0.01²): back-propagated gradients vanish and training stalls.

    Claim (CLAIMS 3; the ``np.random.normal(0, 1) * 0.01`` of the tutorials): each layer multiplies
    the signal's variance by about fan_in·σ² (·½ for ReLU; sigmoid's slope is at most ¼), here
    64·10⁻⁴ ≈ 0.0064, so the gradient that reaches the first layer is orders of magnitude smaller
    than at the last, and learning stalls.

    Setup: MLP, ``depth`` = 10 hidden layers of 64 units, ``random_normal(std=0.01)`` weights and
    zero biases, for tanh, sigmoid and ReLU; SGD with momentum 0.9 on digits. The
    back-propagated gradient (std of ∂L/∂pre-activation) is measured at initialization.

    Criteria, for each activation: grad std at the last hidden layer / first hidden layer ≥ 10³;
    training stalls: the best test accuracy over the epochs ≤ chance + 10 points.
    """
    data = _digits()
    chance = _chance(data)
    configs = [_config(depth=b["depth"], width=b["width"], activation=act, scheme="random_normal",
                       scheme_params={"std": b["std"]}, lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"],
                       batch_size=b["batch_size"], seed=seed) for act in _SAT_ACTS]
    results = _train(configs, data)
    c, rows, ratio, best, summary = _Checks(), [], {}, {}, []
    for act, cfg, res in zip(_SAT_ACTS, configs, results):
        hidden, _ = _probe(_build(cfg, data), data)
        g = [r["grad_std"] for r in hidden]
        ratio[act] = g[-1] / g[0] if g[0] > 0 else math.inf
        best[act] = _best_acc(res)
        rows += [{"activation": act, "layer": i + 1, "grad_std": v} for i, v in enumerate(g)]
        summary.append({"activation": act, "grad std, first hidden": _fmt(g[0]), "grad std, last hidden": _fmt(g[-1]),
                        "last/first": _fmt(ratio[act]), "best test accuracy": _pct(best[act])})
        c.add(f"{act}: gradient std at the first hidden layer ≥ 10³× smaller than at the last",
              f"last/first = {_fmt(ratio[act])} ({_fmt(g[0])} vs {_fmt(g[-1])})", ratio[act] >= 1e3)
        c.add(f"{act}: training stalls (best test accuracy ≤ chance + 10 points)",
              f"best {_pct(best[act])} (chance {_pct(chance)})", best[act] <= chance + 0.10)
    return c, {"grad_ratio_last_over_first": ratio, "best_test_acc": best, "chance": chance}, rows, summary


# --------------------------------------------------------------------------- exploding

EXPLODING_BUDGETS = {
    "full": {"depth": 10, "width": 64, "std": 1.0, "epochs": 3, "lr": 0.01, "momentum": 0.9, "batch_size": 32},
    "quick": {"depth": 10, "width": 64, "std": 1.0, "epochs": 1, "lr": 0.01, "momentum": 0.9, "batch_size": 32},
}


def _exploding(b: dict, seed: int):
    """Too-large random weights, N(0, 1): ReLU activations and gradients explode; tanh/sigmoid saturate.

    Claim (CLAIMS 4): with σ = 1 each ReLU layer multiplies the activations' variance by
    fan_in·σ²/2 = 32 (std ×5.7), so over 10 layers activations grow by orders of magnitude toward
    the output and gradients toward the input, and the loss diverges (here it overflows to NaN,
    which the trainer catches and reports as ``diverged``). With tanh or sigmoid the same weights
    push the units onto the flat ends of the activation instead (saturation, derivative ≈ 0).

    Setup: MLP, 10 hidden layers of 64 units, ``random_normal(std=1)`` weights, zero biases; SGD
    with momentum 0.9 on digits. Forward and backward statistics at initialization by
    :func:`initlab.probe`; saturated = |tanh| > 0.99, sigmoid < 0.01 or > 0.99 (Glorot & Bengio 2010).

    Criteria: ReLU: activation std at the last hidden layer / first ≥ 10³; gradient std at the first
    hidden layer / last ≥ 10³; training diverges (non-finite loss). tanh and sigmoid: at least a
    quarter of the hidden units saturated on average over the layers, and no explosion
    (activation std last/first ≤ 10).
    """
    data = _digits()
    configs = [_config(depth=b["depth"], width=b["width"], activation=act, scheme="random_normal",
                       scheme_params={"std": b["std"]}, lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"],
                       batch_size=b["batch_size"], seed=seed) for act in _EXPLODE_ACTS]
    results = _train(configs, data)
    c, rows, numbers, summary = _Checks(), [], {}, []
    for act, cfg, res in zip(_EXPLODE_ACTS, configs, results):
        hidden, acts = _probe(_build(cfg, data), data)
        acts = acts[:len(hidden)]
        a_std = [r["std"] for r in acts]
        g = [r["grad_std"] for r in hidden]
        sat = [r["frac_saturated"] for r in acts]
        act_growth = a_std[-1] / a_std[0]
        grad_growth = g[0] / g[-1]
        losses = [row["train_loss"] for row in res.history]
        numbers[act] = {"activation_growth": act_growth, "gradient_growth_toward_input": grad_growth,
                        "diverged": bool(res.diverged), "train_loss": losses,
                        "mean_frac_saturated": statistics.fmean(sat) if act != "relu" else None}
        summary.append({"activation": act, "activation std last/first": _fmt(act_growth),
                        "grad std first/last": _fmt(grad_growth),
                        "saturated": "" if act == "relu" else _pct(numbers[act]["mean_frac_saturated"]),
                        "diverged": bool(res.diverged), "final train loss": _fmt(losses[-1])})
        for i, (s, gv, fs) in enumerate(zip(a_std, g, sat)):
            rows.append({"activation": act, "layer": i + 1, "activation_std": s, "grad_std": gv,
                         "frac_saturated": fs})
        if act == "relu":
            c.add("ReLU: activations grow by orders of magnitude with depth (std last/first ≥ 10³)",
                  f"{_fmt(act_growth)} ({_fmt(a_std[0])} → {_fmt(a_std[-1])})", act_growth >= 1e3)
            c.add("ReLU: gradients grow by orders of magnitude toward the input (std first/last ≥ 10³)",
                  f"{_fmt(grad_growth)} ({_fmt(g[-1])} → {_fmt(g[0])})", grad_growth >= 1e3)
            c.add("ReLU: the loss diverges (non-finite), caught and reported",
                  f"diverged={res.diverged}, train loss by epoch {[_fmt(x) for x in losses]}", res.diverged)
        else:
            mean_sat = numbers[act]["mean_frac_saturated"]
            c.add(f"{act}: units saturate instead (mean saturated fraction over hidden layers ≥ 25%)",
                  f"{_pct(mean_sat)} (per layer {[round(x, 2) for x in sat]})", mean_sat >= 0.25)
            c.add(f"{act}: activations stay bounded (std last/first ≤ 10)", _fmt(act_growth), act_growth <= 10)
    return c, numbers, rows, summary


# --------------------------------------------------------------------------- xavier vs he

XAVIER_HE_BUDGETS = {
    "full": {"depth": 30, "width": 128, "epochs": 15, "lr": 0.002, "momentum": 0.9, "batch_size": 32, "seeds": 1},
    "quick": {"depth": 30, "width": 128, "epochs": 12, "lr": 0.002, "momentum": 0.9, "batch_size": 32, "seeds": 1},
}


def _xavier_vs_he(b: dict, seed: int):
    """He et al. 2015, Fig. 3, scaled to a CPU: a 30-layer ReLU net trains with N(0, 2/fan_in) and
    stalls with N(0, 1/fan_in).

    Claim: He et al. (2015, "Delving deep into rectifiers", Fig. 3) train a 30-layer ReLU network;
    their initialization N(0, 2/fan_in) (``he_normal``) converges, while "Xavier" in their reading,
    Var = 1/fan_in (``lecun_normal``; identical to Glorot's 2/(fan_in+fan_out) for square layers),
    halves the signal's variance at every ReLU (2⁻³⁰ ≈ 10⁻⁹ after 30 layers) and stalls completely.

    Setup (scaled down from ImageNet conv nets): MLP with 30 hidden layers of 128 units, zero
    biases, SGD (lr 0.002, momentum 0.9, batch 32) on digits for 15 epochs, one run per scheme
    (as in the paper's figure; ``seed`` picks another). Why these: at width 64, or with lr 0.01,
    the He network's test accuracy oscillates between 25 % and 80 % for a dozen epochs (measured),
    which tests the optimizer rather than the initialization; with these settings He reached
    ≥ 91 % within 15 epochs for each of seeds 0–3. A 30 × 128 network costs about 1–2 s per epoch
    on one busy core, so 15 epochs of two networks is what fits in a minute. The quick budget
    keeps the architecture and trains for 12 epochs.

    Criteria, for every seed: He reaches ≥ 90 % test accuracy (best over the epochs); LeCun's
    best test accuracy stays ≤ chance + 10 points.
    """
    data = _digits()
    chance = _chance(data)
    seeds = [seed + k for k in range(b["seeds"])]
    schemes = ("he_normal", "lecun_normal")
    configs = [_config(depth=b["depth"], width=b["width"], activation="relu", scheme=s, lr=b["lr"],
                       momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"], seed=sd)
               for s in schemes for sd in seeds]
    results = _train(configs, data)
    best: dict[str, list[float]] = {s: [] for s in schemes}
    rows, summary = [], []
    for cfg, res in zip(configs, results):
        best[cfg.scheme].append(_best_acc(res))
        rows += [{"scheme": cfg.scheme, "seed": cfg.seed, **row} for row in res.history]
        summary.append({"scheme": cfg.scheme, "seed": cfg.seed, "best test accuracy": _pct(_best_acc(res)),
                        "final test accuracy": _pct(_final(res)["test_acc"]),
                        "test accuracy by epoch": " ".join(f"{row['test_acc']:.2f}" for row in res.history)})
    c = _Checks()
    c.add("He (he_normal) reaches ≥ 90% test accuracy, every seed",
          f"best per seed {[_pct(x) for x in best['he_normal']]}", min(best["he_normal"]) >= 0.90)
    c.add("Var = 1/fan_in (lecun_normal) stays near chance (≤ chance + 10 points), every seed",
          f"best per seed {[_pct(x) for x in best['lecun_normal']]} (chance {_pct(chance)})",
          max(best["lecun_normal"]) <= chance + 0.10)
    return c, {"best_test_acc": best, "chance": chance, "seeds": seeds}, rows, summary


# --------------------------------------------------------------------------- glorot 2010

GLOROT_BUDGETS = {
    "full": {"depth": 5, "width": 256, "sigmoid_width": 128, "sigmoid_epochs": 2, "lr": 0.1, "momentum": 0.9,
             "batch_size": 10},
    "quick": {"depth": 5, "width": 256, "sigmoid_width": 128, "sigmoid_epochs": 1, "lr": 0.1, "momentum": 0.9,
              "batch_size": 10},
}


def _glorot2010(b: dict, seed: int):
    """Glorot & Bengio 2010, scaled down: normalized init keeps back-propagated gradients flat across
    5 tanh layers, the "standard" init lets them decay toward the input; with sigmoid the top hidden
    layer saturates toward 0 early in training.

    Claims (Glorot & Bengio 2010, "Understanding the difficulty of training deep feedforward neural
    networks"): (a) Fig. 7 — with the standard U(±1/√fan_in) the back-propagated gradients
    ∂L/∂s (s: pre-activation) shrink from the top layer toward the input; with the normalized
    U(±√(6/(fan_in+fan_out))) (``glorot_uniform``) their spread stays roughly the same in every
    layer. (b) Fig. 2 — with sigmoid and the standard init, the top hidden layer's activations are
    quickly pushed to 0 (its lower saturation) while the lower layers stay around 0.5.

    Setup: 5 hidden layers, zero biases (as in the paper), digits. (a) tanh, 256 units (the paper
    used 1000; at 128 units the normalized ratio measured 2.2 because the first layer's fan_in of 64
    differs from its fan_out — the wider the layers, the closer to the paper's square case); the
    standard init is ``torch_default`` weights, U(±1/√fan_in). Gradients at initialization by
    :func:`initlab.probe` on 512 training images. (b) sigmoid, 128 units, standard init, SGD with
    minibatches of 10 (the paper's size), lr 0.1, momentum 0.9; the mean activation of every hidden
    layer is recorded at every training step.

    Criteria: (a) normalized: max/min of the hidden layers' gradient std ≤ 2; standard: the std
    increases monotonically from the first hidden layer to the fifth and last/first ≥ 2.
    (b) at the end of the first epoch (mean over its last 10 % of steps) the top hidden layer's mean
    activation is < 0.1 while every lower hidden layer's is ≥ 0.25.
    """
    import torch

    from .trainer import train

    data = _digits()
    c, rows, numbers = _Checks(), [], {}
    grads = {}
    for scheme in ("glorot_uniform", "torch_default"):
        cfg = _config(depth=b["depth"], width=b["width"], activation="tanh", scheme=scheme, seed=seed)
        hidden, _ = _probe(_build(cfg, data), data)
        grads[scheme] = [r["grad_std"] for r in hidden]
        rows += [{"part": "tanh gradients", "scheme": scheme, "layer": i + 1, "grad_std": g}
                 for i, g in enumerate(grads[scheme])]
    g_norm, g_std = grads["glorot_uniform"], grads["torch_default"]
    spread = max(g_norm) / min(g_norm)
    decay = g_std[-1] / g_std[0]
    monotone = all(a < b_ for a, b_ in zip(g_std, g_std[1:]))
    c.add("tanh, normalized init (glorot_uniform): gradient std within a factor of 2 across the 5 hidden layers",
          f"max/min = {_fmt(spread)} (layers 1→5: {[_fmt(x) for x in g_norm]})", spread <= 2)
    c.add("tanh, standard init U(±1/√fan_in): gradient std decays toward the input (monotone, last/first ≥ 2)",
          f"last/first = {_fmt(decay)}, monotone={monotone} (layers 1→5: {[_fmt(x) for x in g_std]})",
          monotone and decay >= 2)
    numbers["tanh_normalized_spread"] = spread
    numbers["tanh_standard_last_over_first"] = decay

    cfg = _config(depth=b["depth"], width=b["sigmoid_width"], activation="sigmoid", scheme="torch_default",
                  lr=b["lr"], momentum=b["momentum"], epochs=b["sigmoid_epochs"], batch_size=b["batch_size"],
                  seed=seed)
    model = _build(cfg, data)
    acts = [m for m in model if isinstance(m, torch.nn.Sigmoid)]
    trace: list[list[float]] = [[] for _ in acts]

    def recorder(k):
        def hook(module, inputs, output):
            if module.training:
                trace[k].append(float(output.detach().mean()))
        return hook

    handles = [a.register_forward_hook(recorder(k)) for k, a in enumerate(acts)]
    try:
        res = train(cfg, data=data, model=model)
    finally:
        for h in handles:
            h.remove()
    per_epoch = math.ceil(len(data.y_train) / cfg.batch_size)
    window = slice(max(0, per_epoch - max(1, per_epoch // 10)), per_epoch)
    end_first = [statistics.fmean(t[window]) for t in trace]
    for k, t in enumerate(trace):
        rows += [{"part": "sigmoid mean activation", "layer": k + 1, "step": s, "mean_activation": v}
                 for s, v in enumerate(t)]
    top, lower = end_first[-1], end_first[:-1]
    c.add("sigmoid, standard init: the top hidden layer saturates toward 0 early (mean activation < 0.1 "
          "at the end of epoch 1) while the lower layers do not (≥ 0.25)",
          f"top {_fmt(top)} (from {_fmt(trace[-1][0])}), lower layers {[_fmt(x) for x in lower]}",
          top < 0.1 and min(lower) >= 0.25)
    numbers["sigmoid_mean_activation_end_of_epoch1"] = end_first
    numbers["sigmoid_test_acc"] = _final(res)["test_acc"]
    summary = [{"hidden layer": i + 1, "tanh grad std, glorot_uniform": _fmt(g_norm[i]),
                "tanh grad std, U(±1/√fan_in)": _fmt(g_std[i]),
                "sigmoid mean activation, start": _fmt(trace[i][0]),
                "sigmoid mean activation, end of epoch 1": _fmt(end_first[i])} for i in range(len(g_norm))]
    return c, numbers, rows, summary


# --------------------------------------------------------------------------- activation guide

GUIDE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "selu", "gelu")
GUIDE_SCHEMES = ("glorot_normal", "he_normal", "lecun_normal")
# the rule of thumb under test is initialize("auto")'s: derived from the activation catalogue
RECOMMENDED = {act: _catalogue_row(act).auto for act in GUIDE_ACTIVATIONS}
GUIDE_BUDGETS = {
    "full": {"depth": 10, "width": 64, "epochs": 6, "lr": 0.02, "momentum": 0.9, "batch_size": 64, "seeds": 2},
    "quick": {"depth": 10, "width": 64, "epochs": 3, "lr": 0.02, "momentum": 0.9, "batch_size": 64, "seeds": 1},
}


def _activation_guide(b: dict, seed: int):
    """The rule of thumb: He for the ReLU family, Xavier for tanh/sigmoid, LeCun for SELU.

    Claim (CLAIMS 10, 6–8): for each activation the recommended scheme — ``he_normal`` for relu,
    leaky_relu and gelu; ``glorot_normal`` for tanh and sigmoid; ``lecun_normal`` for selu — does
    as well as the best of the three at depth 10.

    Setup: MLP, 10 hidden layers of 64 units, zero biases, SGD (lr 0.02, momentum 0.9, batch 64)
    on digits for 6 epochs (quick: 3); ``seeds`` seeds per cell (quick: 1), final test accuracy
    averaged over them. Batch 64 with lr 0.02 halves the steps of batch 32 with lr 0.01 (the
    linear scaling rule) to fit 36 networks in a minute. At depth 10 no scheme trains sigmoid
    with SGD at lr 0.01–0.3 within 10 epochs (measured), so the sigmoid row does not depend on
    this budget. Note: with 64
    inputs and 64 units every hidden layer is square, where Glorot's 2/(fan_in+fan_out) equals
    LeCun's 1/fan_in; the two differ only in the output layer, so the real contrast is He vs
    Xavier/LeCun (a factor 2 in variance).

    Criteria, for each activation: the recommended scheme's accuracy is within 1 point of the best
    scheme's, and the best scheme learned something (≥ chance + 10 points) — a comparison between
    networks that all stayed at chance confirms no recommendation, so it counts as not confirmed.
    """
    data = _digits()
    chance = _chance(data)
    seeds = [seed + k for k in range(b["seeds"])]
    configs = [_config(depth=b["depth"], width=b["width"], activation=act, scheme=s, lr=b["lr"],
                       momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"], seed=sd)
               for act in GUIDE_ACTIVATIONS for s in GUIDE_SCHEMES for sd in seeds]
    results = _train(configs, data)
    acc: dict[str, dict[str, list[float]]] = {a: {s: [] for s in GUIDE_SCHEMES} for a in GUIDE_ACTIVATIONS}
    rows = []
    for cfg, res in zip(configs, results):
        final = _final(res)["test_acc"]
        acc[cfg.activation][cfg.scheme].append(final)
        rows.append({"activation": cfg.activation, "scheme": cfg.scheme, "seed": cfg.seed, "test_acc": final,
                     "diverged": res.diverged})
    c, table, summary = _Checks(), {}, []
    for act in GUIDE_ACTIVATIONS:
        means = {s: statistics.fmean(v) for s, v in acc[act].items()}
        best_scheme = max(means, key=means.get)
        rec = RECOMMENDED[act]
        gap = means[best_scheme] - means[rec]
        learned = means[best_scheme] >= chance + 0.10
        table[act] = {"mean_test_acc": means, "best": best_scheme, "recommended": rec, "gap_points": 100 * gap}
        summary.append({"activation": act, **{s: _pct(means[s]) for s in GUIDE_SCHEMES}, "recommended": rec,
                        "best": best_scheme})
        measured = (f"{rec} {_pct(means[rec])} vs best {best_scheme} {_pct(means[best_scheme])} "
                    f"(gap {100 * gap:.1f} points)")
        if not learned:
            measured += f"; no scheme learned (chance {_pct(chance)})"
        c.add(f"{act}: recommended {rec} within 1 point of the best", measured, learned and gap <= 0.01)
    return c, {"accuracy": table, "chance": chance, "seeds": seeds}, rows, summary


# --------------------------------------------------------------------------- orthogonal depth

ORTHO_BUDGETS = {
    "full": {"depths": (2, 4, 8, 16, 32), "width": 32, "n_train": 256, "steps": 100, "threshold": 0.5,
             "lrs": (0.01, 0.03, 0.1, 0.3)},
    "quick": {"depths": (2, 16), "width": 32, "n_train": 256, "steps": 80, "threshold": 0.5,
              "lrs": (0.03, 0.1, 0.3)},
}


def _orthogonal_depth(b: dict, seed: int):
    """Saxe et al. 2013: deep linear networks learn in a depth-independent time from orthogonal
    weights, and ever more slowly from scaled Gaussian weights.

    Claim (Saxe, McClelland & Ganguli 2013, "Exact solutions to the nonlinear dynamics of learning
    in deep linear neural networks", Fig. 6): with the learning rate chosen for each depth, the
    time to reach a training-error criterion stays roughly constant with depth for orthogonal
    initial weights (dynamical isometry: every singular value of the product is 1), while for
    scaled Gaussian weights N(0, 1/fan_in) it grows with depth.

    Setup: linear activations, ``width`` 32, biases 0, full-batch gradient descent (no momentum,
    so one epoch is one step and the step count is exact) on the first ``n_train`` = 256 digits
    training images with cross-entropy; the learning rate is the best of ``lrs`` for each depth
    and scheme (as in the paper); steps to reach a training loss ≤ ``threshold`` (0.5; from ≈ 2.3
    at chance), at most ``steps``. "Scaled Gaussian" is ``lecun_normal``. A run that never reaches
    the threshold counts as ``steps`` + 1 (a lower bound, which only weakens the growth claimed).

    Criteria: growth = steps at the deepest / steps at the shallowest; scaled Gaussian ≥ 3 (grows);
    orthogonal ≤ 2 (roughly flat).
    """
    data = _digits(n_train=b["n_train"], n_test=100)
    schemes = ("lecun_normal", "orthogonal")
    configs = [_config(depth=d, width=b["width"], activation="linear", scheme=s, lr=lr, momentum=0.0,
                       epochs=b["steps"], batch_size=b["n_train"], seed=seed)
               for d in b["depths"] for s in schemes for lr in b["lrs"]]
    results = _train(configs, data)
    rows, best = [], {}
    for cfg, res in zip(configs, results):
        hit = next((row["epoch"] for row in res.history if row["train_loss"] <= b["threshold"]), None)
        rows.append({"scheme": cfg.scheme, "depth": cfg.depth, "lr": cfg.lr, "steps_to_threshold": hit,
                     "final_train_loss": _final(res)["train_loss"], "diverged": res.diverged})
        key = (cfg.scheme, cfg.depth)
        cost = hit if hit is not None else b["steps"] + 1
        if key not in best or cost < best[key][0]:
            best[key] = (cost, cfg.lr, hit is not None)
    c, numbers = _Checks(), {}
    lo, hi = min(b["depths"]), max(b["depths"])
    for s in schemes:
        steps = [best[(s, d)][0] for d in b["depths"]]
        growth = best[(s, hi)][0] / best[(s, lo)][0]
        numbers[s] = {"depths": list(b["depths"]), "steps": steps, "lr": [best[(s, d)][1] for d in b["depths"]],
                      "reached": [best[(s, d)][2] for d in b["depths"]], "growth": growth}
        shown = ", ".join(f"d{d}: {st if best[(s, d)][2] else '>' + str(b['steps'])}"
                          for d, st in zip(b["depths"], steps))
        if s == "orthogonal":
            c.add(f"orthogonal: steps to loss ≤ {b['threshold']} roughly flat with depth (deepest/shallowest ≤ 2)",
                  f"{_fmt(growth)} ({shown})", growth <= 2)
        else:
            c.add(f"scaled Gaussian (lecun_normal): steps to loss ≤ {b['threshold']} grow with depth "
                  "(deepest/shallowest ≥ 3)", f"{_fmt(growth)} ({shown})", growth >= 3)
    summary = [{"depth": d, **{f"steps, {s}": (str(best[(s, d)][0]) if best[(s, d)][2] else f">{b['steps']}")
                               for s in schemes},
                **{f"best lr, {s}": best[(s, d)][1] for s in schemes}} for d in b["depths"]]
    return c, numbers, rows, summary


# --------------------------------------------------------------------------- registry

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("symmetry", "zero or constant weights keep every hidden unit identical; zeros never learn",
           _symmetry, SYMMETRY_BUDGETS),
    Preset("vanishing", "N(0, 0.01²) in a 10-layer net: gradients vanish toward the input, training stalls",
           _vanishing, VANISHING_BUDGETS),
    Preset("exploding", "N(0, 1) in a 10-layer net: ReLU explodes and diverges, tanh/sigmoid saturate",
           _exploding, EXPLODING_BUDGETS),
    Preset("xavier-vs-he", "30-layer ReLU MLP: He trains, Var = 1/fan_in stalls (He et al. 2015, Fig. 3)",
           _xavier_vs_he, XAVIER_HE_BUDGETS),
    Preset("glorot2010", "normalized init keeps tanh gradients flat; sigmoid's top layer saturates "
           "(Glorot & Bengio 2010)", _glorot2010, GLOROT_BUDGETS),
    Preset("activation-guide", "He for ReLU family, Xavier for tanh/sigmoid, LeCun for SELU (depth 10)",
           _activation_guide, GUIDE_BUDGETS),
    Preset("orthogonal-depth", "deep linear nets: orthogonal init learns in depth-independent time "
           "(Saxe et al. 2013)", _orthogonal_depth, ORTHO_BUDGETS),
)}


def check_request(name: str, budget: str = "full", seed: int = 0) -> tuple[str, str, int]:
    """Check a preset name, budget and seed (before any work); return them normalized."""
    if not isinstance(name, str) or name not in PRESETS:
        raise InitlabError(f"preset: got {name!r}; allowed: {', '.join(PRESETS)}{suggest(str(name), PRESETS)}")
    if budget not in BUDGETS:
        raise InitlabError(f"budget: got {budget!r}; allowed: {', '.join(map(repr, BUDGETS))}")
    return name, budget, check_int("seed", seed, minimum=0)


def run_preset(name: str, budget: str = "full", seed: int = 0) -> PresetResult:
    """Reproduce the claim ``name`` (a key of :data:`PRESETS`) and judge it; see the module docstring.

    >>> r = run_preset("symmetry", budget="quick")   # doctest: +SKIP
    >>> r.verdict, r.numbers["distinct_units"]["zeros"]   # doctest: +SKIP
    ('reproduced', [1, 1, 1])
    """
    from .sweep import torch_threads

    name, budget, seed = check_request(name, budget, seed)
    preset = PRESETS[name]
    settings = dict(preset.budgets[budget])
    start = time.perf_counter()
    with torch_threads(1):
        checks, numbers, rows, summary = preset.fn(settings, seed)
    seconds = time.perf_counter() - start
    command = f"initlab experiment {name}" + (" --quick" if budget == "quick" else "") + (
        f" --seed {seed}" if seed else "")
    return PresetResult(name=name, claim=preset.claim, verdict=checks.verdict, numbers=numbers, checks=checks.items,
                        rows=rows, budget=budget, seed=seed, seconds=seconds, command=command,
                        settings={k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
                        summary_rows=summary)
