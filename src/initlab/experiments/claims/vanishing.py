"""Too-small random weights: signals and gradients vanish, and training stalls (CLAIMS 3)."""

from __future__ import annotations

import math

from ..claim import (FigureSpec, KerasSetting, Preset, Source, build, chance, config, digits, geomean, group_by,
                     per_layer_factor, per_seed, probe_layers, rows_where, train_all)
from ..verdict import at_most, within

ACTIVATIONS = ("tanh", "sigmoid", "relu")
BUDGETS = {
    "full": {"depth": 10, "width": 64, "std": 0.01, "epochs": 5, "lr": 0.01, "momentum": 0.9, "batch_size": 32,
             "seeds": 5, "vanish_factor": 0.5, "theory_factor": 1.25},
    "quick": {"depth": 10, "width": 64, "std": 0.01, "epochs": 2, "lr": 0.01, "momentum": 0.9, "batch_size": 32,
              "seeds": 3, "vanish_factor": 0.5, "theory_factor": 1.25},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Too-small random weights, N(0, 0.01²) (the ``np.random.normal(0, 1) * 0.01`` of the tutorials).

    Setup: MLP, ``depth`` hidden layers of ``width`` units, ``random_normal(std)`` weights, zero
    biases, for tanh, sigmoid and ReLU, on paired seeds. At initialization :func:`initlab.probe`
    measures, per hidden layer, the std of its output and of the back-propagated gradient ∂L/∂s, and
    mean-field theory (Poole et al. 2016) predicts both from σ_w² = fan_in·std² alone. Then SGD with
    momentum trains each net on digits for ``epochs`` epochs.

    Rows: ``part="profile"`` (activation, seed, layer, act_std, grad_std, pred_act_std,
    pred_grad_var) and ``part="training"`` (activation, seed, epoch, test_acc, train_loss, chance).
    """
    data = digits()
    ch = chance(data)
    configs = [config(depth=b["depth"], width=b["width"], activation=act, scheme="random_normal",
                      scheme_params={"std": b["std"]}, lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"],
                      batch_size=b["batch_size"], seed=seed) for act in ACTIVATIONS for seed in seeds]
    rows = []
    for cfg in configs:
        rows += [{"part": "profile", "activation": cfg.activation, "seed": cfg.seed, **r}
                 for r in probe_layers(build(cfg, data), data)]
    for cfg, res in zip(configs, train_all(configs, data)):
        rows += [{"part": "training", "activation": cfg.activation, "seed": cfg.seed, "epoch": h["epoch"],
                  "test_acc": h["test_acc"], "train_loss": h["train_loss"], "chance": ch} for h in res.history]
    return rows


def gradient_factors(rows: list[dict], activation: str) -> tuple[list[float], list[float]]:
    """Per seed: the measured change of the gradient std per layer toward the input (first/last hidden
    layer, to the power 1/(L − 1)), and mean-field theory's prediction of the same."""
    measured, predicted = [], []
    for seed, rs in sorted(group_by(rows_where(rows, part="profile", activation=activation), "seed").items()):
        measured.append(per_layer_factor(rs, "grad_std", toward_input=True))
        rs = sorted(rs, key=lambda r: r["layer"])
        first, last = rs[0]["pred_grad_var"], rs[-1]["pred_grad_var"]
        predicted.append(math.sqrt(first / last) ** (1 / (len(rs) - 1)) if first > 0 and last > 0 else math.nan)
    return measured, predicted


def judge(rows: list[dict], b: dict) -> list:
    """Criteria, for each activation: (1) the gradient vanishes toward the input — it shrinks by more
    than ``1/vanish_factor`` = 2× per layer (mean per-layer factor, log scale, ≤ 0.5); (2) at the rate
    mean-field theory predicts from σ_w² — measured/predicted per-layer factor within ×``theory_factor``
    (a wrong rate, e.g. mild vanishing the theory does not expect, fails here); (3) training stalls —
    the best test accuracy over the epochs ≤ chance + 10 points."""
    checks = []
    tol = b["theory_factor"]
    for act in ACTIVATIONS:
        measured, predicted = gradient_factors(rows, act)
        checks.append(at_most(f"{act}: the gradient shrinks toward the input by more than 2× per layer "
                              f"(per-layer factor ≤ {b['vanish_factor']})", measured, b["vanish_factor"], log=True))
        ratio = [m / p for m, p in zip(measured, predicted)]
        checks.append(within(f"{act}: at the rate mean-field theory predicts (measured/predicted per-layer factor "
                             f"within ×{tol})", ratio, 1 / tol, tol, log=True))
        best = per_seed(rows, lambda rs: max(r["test_acc"] for r in rs), part="training", activation=act)
        ch = rows_where(rows, part="training")[0]["chance"]
        checks.append(at_most(f"{act}: training stalls (best test accuracy ≤ chance + 10 points)", best, ch + 0.10,
                              unit="%"))
    return checks


def compare(rows: list[dict], b: dict) -> list[dict]:
    out = []
    sw2 = b["width"] * b["std"] ** 2
    for act in ACTIVATIONS:
        measured, predicted = gradient_factors(rows, act)
        gm, pm = geomean(measured), geomean(predicted)
        out.append({"quantity": f"{act}: gradient std change per layer toward the input",
                    "source": f"mean-field: {pm:.3g} (σ_w² = fan_in·σ² = {sw2:.3g}"
                              f"{', slope ≤ ¼' if act == 'sigmoid' else ', ×½ for ReLU' if act == 'relu' else ''})",
                    "ours": f"{gm:.3g} (geometric mean over {len(measured)} seeds)"})
    return out


def keras(b: dict) -> list[KerasSetting]:
    """One net per activation, N(0, std²) weights, as Keras builds it."""
    return [KerasSetting(act, act, b["depth"], b["width"], "random_normal", {"std": b["std"]}) for act in ACTIVATIONS]


PRESET = Preset(
    name="vanishing", order=20, cost=2,
    title="Too-small random weights: signals and gradients vanish",
    claim="N(0, 0.01²) in a 10-layer net: gradients vanish toward the input at the predicted rate; training stalls",
    explanation=(
        "With small random weights such as N(0, 0.01²), each layer multiplies the signal's variance by about "
        "fan_in·σ² (half that for ReLU): here 64·10⁻⁴ ≈ 0.0064 per layer, so the signal has all but vanished after "
        "a few layers. Gradients shrink the same way on their way back to the first layers, which then stop "
        "learning. Sigmoid makes it worse: its derivative is at most ¼.\n\n"
        "Solid lines are measured on a batch of digits at initialization (mean over seeds); dashed lines are "
        "mean-field theory's prediction (Poole et al. 2016), computed from the weights' σ_w² alone. The claim is "
        "judged by the rate per layer against that prediction, not by a bare ratio."),
    source=Source("CLAIMS 3 (`np.random.normal(0, 1) * 0.01` in the tutorials); Poole et al. 2016 for the rate",
                  "each layer multiplies the signal's variance by fan_in·σ² (·½ for ReLU; sigmoid's slope ≤ ¼), so "
                  "gradients vanish toward the input and early layers stop learning",
                  {"variance factor per layer": "fan_in·σ² = 0.0064 here"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare,
    figures=(FigureSpec("vanishing-profile", "profile", "10-layer MLPs with N(0, 0.01²) weights at initialization "
                        "(digits)", "Per hidden layer: activation std (left) and back-propagated gradient std "
                        "(right), measured (solid, mean over seeds) and mean-field prediction (dashed).",
                        where={"part": "profile"}, series="activation"),
             FigureSpec("vanishing-training", "lines", "Test accuracy during training", "Test accuracy per epoch, "
                        "mean ± sd over seeds; the dotted line is chance.", where={"part": "training"}, x="epoch",
                        y="test_acc", series="activation", xlabel="epoch", ylabel="test accuracy (%)",
                        hline="chance", percent=True)),
)
