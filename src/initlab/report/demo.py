"""``initlab demo``: every claim about initialization, reproduced on real handwritten digits, as a
self-contained HTML report with the figures and the deciding numbers.

The claims' verdicts come from :func:`initlab.experiments.presets.run_preset`; this module adds the
measurements the figures need (weight draws, per-layer probes of deep networks at initialization,
distinct units after every epoch, the mean-field phase diagram) and writes the report. Every
plotted number is measured here or by a preset; nothing is typed in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import figures as F
from .html import Figure, Report, Section, write_report
from .profile import profile_rows

__all__ = ["run_demo", "DemoResult", "PRESET_ORDER", "EXPLANATIONS", "TITLES", "deciding"]

PRESET_ORDER = ("symmetry", "vanishing", "exploding", "xavier-vs-he", "glorot2010", "activation-guide",
                "orthogonal-depth")

EXPLANATIONS = {
    "schemes": (
        "Every scheme is a probability law for the weights of one layer, and initlab resolves it for a shape "
        "before drawing anything. Xavier/Glorot picks the variance 2/(fan_in+fan_out) so that the variance of "
        "the signal stays the same forward and backward through a layer of tanh or sigmoid units. He/Kaiming "
        "doubles it to 2/fan_in, because ReLU zeroes half of its inputs. LeCun's 1/fan_in keeps SELU networks at "
        "mean 0 and variance 1.\n\n"
        "The histograms are the values initlab drew for a 256×784 layer. The red curve is the law computed "
        "without sampling. The truncated laws (Keras's `HeNormal` …) cut at ±2σ and widen σ so that the "
        "variance is unchanged."),
    "symmetry": (
        "If every weight of a layer starts equal (all zeros, or all 0.5), every unit of that layer computes the "
        "same output and receives the same gradient, so the units stay identical however long you train. "
        "The layer behaves like a single unit, and with zeros nothing beyond the last bias moves at all.\n\n"
        "The figure counts distinct units in each hidden layer after every epoch of training on digits. With "
        "zeros or a constant the count stays at 1 of 32. With random (He) weights every unit is different from "
        "the start."),
    "vanishing": (
        "With small random weights such as N(0, 0.01²), each layer multiplies the signal's variance by about "
        "fan_in·σ² (half that for ReLU). Here that is 256·10⁻⁴ ≈ 0.03 per layer, so after 20 layers the signal "
        "has all but vanished. Gradients shrink the same way on their way back to the first layers, which then "
        "stop learning. Sigmoid makes it worse: its derivative is at most 0.25.\n\n"
        "Solid lines are measured on a batch of digits in a 20-layer, 256-unit network at initialization. Dashed "
        "lines are the mean-field theory's prediction (Poole et al. 2016), computed from the weights' σ_w² "
        "alone. The gradient prediction is anchored at the last layer, since the theory predicts ratios "
        "between layers."),
    "exploding": (
        "With large random weights such as N(0, 1), the same product grows instead: 256·1 per layer. In a ReLU "
        "network activations and gradients grow by orders of magnitude with depth, and training diverges. "
        "tanh and sigmoid cannot grow, so they saturate: outputs pile up at the flat ends (±1, or 0 and 1), "
        "where the derivative is nearly 0, and learning halts.\n\n"
        "The first figure shows the per-layer profile at initialization, measured next to the theory. The "
        "histograms (in the style of Glorot & Bengio 2010, Fig. 6) show the tanh activations of several layers: "
        "N(0, 1) piles them at ±1, while Xavier keeps them spread out."),
    "xavier-vs-he": (
        "He et al. (2015, Fig. 3) trained a 30-layer ReLU network with two laws: N(0, 2/fan_in) trains, while "
        "N(0, 1/fan_in) (which they call \"Xavier\") stalls completely. Through ReLU, 1/fan_in halves the "
        "variance at every layer, so after 30 layers the signal is 2⁻³⁰ of what it was.\n\n"
        "The curves are the same experiment, scaled to a CPU: a 30-layer, 128-unit ReLU MLP trained with SGD "
        "on digits, several seeds each."),
    "glorot2010": (
        "Glorot & Bengio (2010) showed that with the then-standard U(±1/√fan_in), the back-propagated "
        "gradients of a tanh network shrink toward the input. Their \"normalized\" initialization "
        "U(±√(6/(fan_in+fan_out))), now called Xavier or Glorot, keeps them roughly flat across layers. They "
        "also saw sigmoid's top hidden layer saturate toward 0 early in training.\n\n"
        "The figures show the gradient std per layer at initialization for both laws (5 tanh layers on digits), "
        "and the mean activation of each sigmoid layer during the first steps of training."),
    "activation-guide": (
        "The rule of thumb: He for ReLU and its relatives, Xavier for tanh and sigmoid, LeCun for SELU. The "
        "heatmap is the final test accuracy of a 10-layer network on digits for each scheme × activation "
        "(mean over seeds). The claim holds when each activation's recommended scheme comes within 1 point of "
        "the best scheme for that activation."),
    "orthogonal-depth": (
        "Saxe et al. (2013) showed that deep linear networks with orthogonal weights learn in a time that does "
        "not grow with depth, while scaled Gaussian weights slow down as the network deepens. The figure is the "
        "number of training steps needed to reach a loss threshold, against depth."),
    "theory": (
        "Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) tracks the variance q of the "
        "pre-activations layer to layer, q ← σ_w²·E[φ(√q z)²] + σ_b², and the slope χ₁ = σ_w²·E[φ′(√q* z)²] at "
        "its fixed point. When χ₁ < 1 (ordered phase) gradients vanish exponentially with depth; when χ₁ > 1 "
        "(chaotic phase) they explode. Only near the critical line χ₁ = 1 can very deep networks train. For "
        "ReLU that line is σ_w² = 2, which is exactly He's variance; for tanh at σ_b = 0 it is σ_w² = 1.\n\n"
        "The colours are log χ₁ computed by numerical integration, and the black line is where χ₁ = 1."),
}

TITLES = {
    "schemes": "What each scheme draws",
    "symmetry": "Zero and constant weights never break symmetry",
    "vanishing": "Too-small random weights: signals and gradients vanish",
    "exploding": "Too-large random weights: explosion (ReLU) and saturation (tanh, sigmoid)",
    "xavier-vs-he": "He vs \"Xavier\" in a 30-layer ReLU network (He et al. 2015)",
    "glorot2010": "Normalized initialization keeps gradients flat (Glorot & Bengio 2010)",
    "activation-guide": "Which scheme for which activation",
    "orthogonal-depth": "Orthogonal weights make depth cheap (Saxe et al. 2013)",
    "theory": "The edge of chaos: where deep networks can train",
}


@dataclass
class DemoResult:
    report: Path
    results: dict  # preset name -> PresetResult
    seconds: float


# -- measurements -------------------------------------------------------------------------------
def _weights_figure(seed: int) -> Figure:
    import initlab

    from ..schemes.spec import normal_cdf

    shape = (256, 784)
    schemes = {"random_normal(std=0.01)": initlab.random_normal(std=0.01),
               "random_uniform (±0.05)": initlab.random_uniform(),
               "glorot_uniform": initlab.glorot_uniform(), "glorot_normal": initlab.glorot_normal(),
               "he_normal": initlab.he_normal(), "he_truncated_normal (Keras HeNormal)": initlab.he_truncated_normal(),
               "lecun_normal": initlab.lecun_normal(), "orthogonal": initlab.orthogonal()}
    samples, pdfs, formulas = {}, {}, {}
    for label, init in schemes.items():
        dist = init.distribution(shape)
        samples[label] = init(torch.empty(shape), seed=seed).numpy()
        formulas[label] = f"{type(init).formula}; std {dist.std:.4g}"
        lo = dist.low if dist.low is not None else dist.mean - 4.5 * dist.std
        hi = dist.high if dist.high is not None else dist.mean + 4.5 * dist.std
        x = np.linspace(lo, hi, 400)
        p = dist.params
        if dist.family == "normal":
            pdfs[label] = (x, np.exp(-0.5 * ((x - p["mean"]) / p["std"]) ** 2) / (p["std"] * math.sqrt(2 * math.pi)))
        elif dist.family == "uniform":
            pdfs[label] = (x, np.full_like(x, 1.0 / (p["high"] - p["low"])))
        elif dist.family == "truncated_normal":
            z = normal_cdf(p["b"]) - normal_cdf(p["a"])
            u = (x - p["loc"]) / p["scale"]
            pdfs[label] = (x, np.exp(-0.5 * u**2) / (p["scale"] * math.sqrt(2 * math.pi) * z))
    png = F.weight_distributions(samples, pdfs, formulas, shape)
    return Figure("weights-by-scheme", png, "Weights drawn for a 256×784 layer (histogram) and the law each "
                  "scheme resolves to before sampling (red). Orthogonal has no closed-form density per entry.")


def _deep_profile(data, activation: str, schemes: dict, depth: int, width: int, seed: int, batch: int = 512):
    """Probe a deep MLP at initialization for each scheme: per-layer rows and raw activations."""
    import initlab
    from ..experiments.models import build_model

    rows, raw = [], {}
    x, y = data.x_train[:batch], data.y_train[:batch]
    for label, (scheme, params) in schemes.items():
        spec = {"name": "mlp", "depth": depth, "width": width, "act": activation, "init": "auto", "bias": True}
        model = build_model(spec, data.input_shape, data.num_classes, seed=seed)
        initlab.initialize(model, initlab.get({"name": scheme, "params": params}), seed=seed)
        rows += profile_rows(initlab.probe(model, x, y), label, hidden_only=True)
        raw[label] = _raw_activations(model, x)
    return rows, raw


def _raw_activations(model, x) -> list[np.ndarray]:
    """The output of every activation module of ``model`` on ``x`` (forward hooks, removed after)."""
    from ..model.activations import activation_of_module

    outs: list[np.ndarray] = []
    handles = [m.register_forward_hook(lambda _m, _i, o: outs.append(o.detach().float().numpy().ravel()))
               for m in model.modules() if activation_of_module(m) is not None]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return outs


def _symmetry_over_training(seed: int, settings: dict) -> list[dict]:
    """Distinct units per hidden layer after each epoch, for zeros, a constant and He.

    Training for ``e`` epochs follows exactly the first ``e`` epochs of a longer run (same seeded data
    order), so the model after each epoch is measured by retraining to that epoch.
    """
    import initlab
    from ..experiments.datasets import load
    from ..experiments.models import build_model
    from ..experiments.trainer import TrainConfig, train

    data = load("digits", seed=0)
    depth, width, epochs = settings.get("depth", 3), settings.get("width", 32), settings.get("epochs", 5)
    rows = []
    for label, scheme, params in (("zeros", "zeros", {}), ("constant 0.5", "constant", {"value": settings.get(
            "constant", 0.5)}), ("he_normal", "he_normal", {})):
        base = dict(depth=depth, width=width, activation="relu", scheme=scheme, scheme_params=params,
                    lr=settings.get("lr", 0.01), momentum=settings.get("momentum", 0.9),
                    batch_size=settings.get("batch_size", 32), seed=seed)
        for e in range(epochs + 1):
            if e == 0:
                cfg = TrainConfig(epochs=1, **base)
                model = build_model(cfg.model_spec(), data.input_shape, data.num_classes, seed=seed)
            else:
                model = train(TrainConfig(epochs=e, **base), data).model
            hidden = initlab.probe(model, data.x_train[:512], data.y_train[:512], theory=False).where("weight")[:-1]
            rows += [{"label": label, "epoch": e, "layer": i + 1, "distinct_units": int(r["distinct_units"]),
                      "width": width} for i, r in enumerate(hidden)]
    return rows


def deciding(result) -> str:
    """Each criterion of a preset with its measured figures, marked passed (✓) or failed (✗)."""
    return " | ".join(f"{'✓' if c['passed'] else '✗'} {c['criterion']}: {c['measured']}" for c in result.checks)


# -- sections -----------------------------------------------------------------------------------
def _numbers(result) -> dict:
    out = {}
    for c in result.checks:
        out[("✓ " if c["passed"] else "✗ ") + c["criterion"]] = c["measured"]
    out["time (s)"] = round(result.seconds, 1)
    return out


def _section(name, result, figures) -> Section:
    return Section(TITLES[name], EXPLANATIONS[name], figures, _numbers(result), result.verdict, result.command)


def _mean_by(rows, keys, value):
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r[value])
    return [{**dict(zip(keys, k)), value: float(np.mean(v))} for k, v in groups.items()]


def run_demo(out_dir: str | Path = "initlab-out", *, budget: str = "full", seed: int = 0,
             presets: Sequence[str] = PRESET_ORDER, progress: Callable[[str], None] | None = None) -> DemoResult:
    """Run the presets, measure what the figures need, and write ``report.html`` + PNGs to ``out_dir``."""
    from ..experiments import presets as P
    from ..experiments.datasets import load
    from ..experiments.files import writable_dir

    for name in presets:  # every argument is checked before any work
        name, budget, seed = P.check_request(name, budget, seed)
    say = progress or (lambda msg: None)
    out_dir = writable_dir(out_dir, "out")
    start = time.perf_counter()
    results = {}
    for name in presets:
        say(f"preset {name}")
        results[name] = P.run_preset(name, budget=budget, seed=seed)
    data = load("digits", seed=0)
    sections = []

    say("figures: weight distributions")
    sections.append(Section(TITLES["schemes"], EXPLANATIONS["schemes"], [_weights_figure(seed)]))

    if "symmetry" in results:
        say("figures: symmetry over training")
        r = results["symmetry"]
        rows = _symmetry_over_training(seed, r.settings)
        sections.append(_section("symmetry", r, [Figure(
            "symmetry-distinct-units", F.distinct_units(rows, "Distinct units per hidden layer during training (ReLU "
                                                              "MLP on digits)"),
            "Distinct units per hidden layer after each epoch; the dotted line is the layer's width.")]))

    depth, width = 20, 256
    if "vanishing" in results or "exploding" in results:
        say("figures: deep networks at initialization")
        relu_rows, _ = _deep_profile(data, "relu", {"N(0, 0.01²)": ("random_normal", {"std": 0.01}),
                                                    "N(0, 1)": ("random_normal", {"std": 1.0}),
                                                    "he_normal": ("he_normal", {})}, depth, width, seed)
        tanh_rows, tanh_raw = _deep_profile(data, "tanh", {"N(0, 0.01²)": ("random_normal", {"std": 0.01}),
                                                           "N(0, 1)": ("random_normal", {"std": 1.0}),
                                                           "glorot_normal": ("glorot_normal", {})},
                                            depth, width, seed)
        relu_fig = Figure("profile-relu", F.layer_profile(relu_rows, f"ReLU MLP, {depth} layers × {width} units, "
                                                                     "at initialization (digits)"),
                          "ReLU: activation std (left) and back-propagated gradient std (right) per layer, "
                          "measured (solid) and predicted by mean-field theory (dashed).")
        tanh_fig = Figure("profile-tanh", F.layer_profile(tanh_rows, f"tanh MLP, {depth} layers × {width} units, "
                                                                     "at initialization (digits)"),
                          "tanh: the same measurements; N(0, 1) saturates (std ≈ 1 means outputs at ±1).")
        hist = Figure("tanh-activation-histograms", F.activation_histograms(tanh_raw, "tanh"),
                      "Distribution of tanh activations of several layers at initialization, per scheme "
                      "(Glorot & Bengio 2010, Fig. 6 style).")
        if "vanishing" in results:
            sections.append(_section("vanishing", results["vanishing"], [relu_fig, tanh_fig]))
        if "exploding" in results:
            sections.append(_section("exploding", results["exploding"],
                                     ([] if "vanishing" in results else [relu_fig, tanh_fig]) + [hist]))

    if "xavier-vs-he" in results:
        r = results["xavier-vs-he"]
        rows = [{"label": f"{x['scheme']} (seed {x['seed']})", "epoch": x["epoch"], "train_loss": x["train_loss"],
                 "test_acc": x["test_acc"]} for x in r.rows]
        sections.append(_section("xavier-vs-he", r, [Figure(
            "xavier-vs-he-curves", F.training_curves(rows, "30-layer ReLU MLP on digits: he_normal vs lecun_normal "
                                                           "(Var = 1/fan_in)", chance=r.numbers.get("chance")),
            "Training loss and test accuracy per epoch.")]))

    if "glorot2010" in results:
        r = results["glorot2010"]
        grad = [{"scheme": x["scheme"], "layer": x["layer"], "act_std": float("nan"), "grad_std": x["grad_std"]}
                for x in r.rows if x.get("part") == "tanh gradients"]
        sig = [{"label": f"layer {x['layer']}", "step": x["step"], "mean_activation": x["mean_activation"]}
               for x in r.rows if x.get("part") == "sigmoid mean activation"]
        figs = [Figure("glorot2010-gradients", F.layer_profile(grad, "5 tanh layers at initialization: "
                                                                     "back-propagated gradient std"),
                       "Gradient std per layer (right panel): standard U(±1/√fan_in) vs normalized (Glorot).")]
        if sig:
            figs.append(Figure("glorot2010-sigmoid", F.line_plot(sig, "step", "mean_activation", "label",
                                                                 "training step", "mean sigmoid activation",
                                                                 "Sigmoid network: mean activation per layer "
                                                                 "during training"),
                               "Mean activation of each sigmoid hidden layer over the first training steps."))
        sections.append(_section("glorot2010", r, figs))

    if "activation-guide" in results:
        r = results["activation-guide"]
        sections.append(_section("activation-guide", r, [Figure(
            "accuracy-heatmap", F.accuracy_heatmap(_mean_by(r.rows, ("scheme", "activation"), "test_acc"),
                                                   "Final test accuracy, 10-layer MLP on digits"),
            "Final test accuracy (%), mean over seeds, for each scheme × activation.")]))

    if "orthogonal-depth" in results:
        r = results["orthogonal-depth"]
        rows = _mean_by([x for x in r.rows if x.get("steps_to_threshold") is not None],
                        ("scheme", "depth"), "steps_to_threshold")
        sections.append(_section("orthogonal-depth", r, [Figure(
            "orthogonal-depth", F.line_plot(rows, "depth", "steps_to_threshold", "scheme", "depth (layers)",
                                            "steps to reach the loss threshold", "Deep linear networks: "
                                            "training time against depth", logx=True),
            "Training steps to reach the loss threshold against depth, per initialization.")]))

    say("figures: phase diagram")
    from .. import theory

    w2 = np.linspace(0.5, 4.0, 71)
    b2 = np.linspace(0.0, 0.3, 31)
    diagrams = {act: theory.phase_diagram(act, w2, b2) for act in ("tanh", "relu")}
    sections.append(Section(TITLES["theory"], EXPLANATIONS["theory"], [Figure(
        "phase-diagram", F.phase_diagram(diagrams), "χ₁ over (σ_w², σ_b²) for tanh and ReLU; black: χ₁ = 1.")],
        {"critical σ_w² for tanh at σ_b² = 0.05": float(theory.critical_sigma_w("tanh", math.sqrt(0.05)) ** 2),
         "critical σ_w² for relu at σ_b = 0": float(theory.critical_sigma_w("relu", 0.0) ** 2)}))

    summary = [{"claim": TITLES[n], "verdict": results[n].verdict, "deciding numbers": deciding(results[n])}
               for n in results]
    intro = (f"Each section states a claim about weight initialization, explains it, shows it on scikit-learn's "
             f"handwritten digits (8×8 images, 10 classes), and gives the numbers that decide whether it was "
             f"reproduced. Budget: {budget}, seed {seed}. Reproduce everything with `initlab demo`.")
    path = write_report(Report("initlab: weight initialization, reproduced", intro, sections, summary), out_dir)
    return DemoResult(path, results, time.perf_counter() - start)
