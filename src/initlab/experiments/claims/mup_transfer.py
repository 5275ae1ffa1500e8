"""Yang et al. 2022 (Tensor Programs V): under μP the best learning rate of a narrow model is the best
one of a wide model too, and under the standard parametrization it is not.

The measurement and the criteria are :mod:`initlab.parametrize.transfer`'s (:func:`~initlab.parametrize.
transfer.measure`, :func:`~initlab.parametrize.transfer.judge`); this module adds what the report shows:
the source's figures beside ours, the summary table and the figures.
"""

from __future__ import annotations

import statistics

from ...parametrize import transfer as T
from ..claim import FigureSpec, Preset, Source

SOURCE = Source(
    "Yang, Hu, Babuschkin, Sidor, Liu, Farhi, Ryder, Pachocki, Chen & Gao 2022, \"Tensor Programs V: Tuning "
    "Large Neural Networks via Zero-Shot Hyperparameter Transfer\", Fig. 1 (lr transfer), Fig. 5 (coordinate "
    "check)",
    "Transformers on WikiText-2 trained with Adam: under the standard parametrization the best learning rate "
    "shifts as the width grows and wider models can do worse than narrower ones; under μP the best learning "
    "rate stays the same at every width and wider is always better. In the coordinate check, SP's activations "
    "and output grow with width after a few Adam steps while μP's stay flat.",
    {"μP best learning rate across widths": "the same at every width (Fig. 1, right)",
     "SP best learning rate across widths": "shifts with width (Fig. 1, left)",
     "μP: wider is never worse": "wider is always better (Fig. 1, right)",
     "coordinate check": "SP grows with width after a step, μP flat (Fig. 5)"})


def _steps(values) -> str:
    return f"{statistics.fmean(values):+.2f} ± {statistics.stdev(values):.2f} steps" if len(values) > 1 else \
        f"{values[0]:+.2f} steps"


def compare(rows: list[dict], settings: dict) -> list[dict]:
    """The source's statements beside our per-seed figures."""
    out = []
    coord = T.coord_seed_figures(rows, settings.get("slope_tolerance", 0.25))
    if coord:
        grow = [c["output_growth"] for c in coord["sp"]]
        flat = [c["excess"] for c in coord["mup"]]
        out.append({"quantity": "coordinate check: slope of log mean|x| against log width after a step",
                    "source": SOURCE.numbers["coordinate check"],
                    "ours": f"SP output slope {statistics.fmean(grow):.2f}; μP largest |slope| beyond its band "
                            f"{statistics.fmean(flat):.2f}"})
    for task in dict.fromkeys(r["task"] for r in rows if r.get("part") == "transfer"):
        f = T.seed_figures(rows, task)
        for p, label in (("mup", "μP"), ("sp", "SP")):
            best = ", ".join(f"{w}: {b:.1f}" for w, b in f[p]["best"].items())
            out.append({"quantity": f"{task}: {label} best learning rate across widths",
                        "source": SOURCE.numbers[f"{label} best learning rate across widths"],
                        "ours": f"moves by {_steps(f[p]['drift'])} (best log2 lr by width, seed mean: {best})"})
        out.append({"quantity": f"{task}: μP, wider is never worse", "source": SOURCE.numbers["μP: wider is never worse"],
                    "ours": f"largest rise of the best loss from a width to the next "
                            f"{100 * statistics.fmean(f['mup']['rise']):+.1f}% (seed mean)"})
    return out


def summarize(rows: list[dict], settings: dict) -> list[dict]:
    """Per task, parametrization and width: the seed-mean best log2 learning rate and best held-out loss."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows if r.get("part") == "transfer"):
        f = T.seed_figures(rows, task)
        for p in ("sp", "mup"):
            for w, b in f[p]["best"].items():
                losses = {}
                for r in rows:
                    if r.get("part") == "transfer" and r["task"] == task and r["parametrization"] == p \
                            and r["width"] == w:
                        losses.setdefault(r["seed"], []).append(r["loss"])
                out.append({"task": task, "parametrization": p, "width": w, "best log2 lr": f"{b:.2f}",
                            "best loss": f"{statistics.fmean(min(v) for v in losses.values()):.4f}"})
    return out


def _transfer_figure(task: str, title: str) -> FigureSpec:
    return FigureSpec(f"mup-transfer-{task}", "lines", title,
                      "Held-out loss after training against the learning rate (log2, a ×2 grid), one line per width, "
                      "SP left and μP right; mean ± sd over the paired seeds. Under μP the minima line up; under "
                      "SP they slide toward smaller rates as the width grows. Diverged runs are left out.",
                      where={"part": "transfer", "task": task}, x="log2_lr", y="loss", series="width",
                      panels="parametrization", xlabel="log2 learning rate", ylabel="held-out loss")


KERAS_NOTE = ("μP is not a kernel initializer: it also scales each layer's learning rate with the width (Adam: the "
              "hidden and readout layers' × base width / width), which Keras sets on the optimizer, not on a layer, "
              "and initlab's `parametrize` plans it for PyTorch modules. The SP MLP draws std √(2/fan_in) for its ReLU "
              "layers, √(2/(fan_in + fan_out)) for its readout and zero biases; the character-level transformer is "
              "not an MLP.")


PRESET = Preset(
    name="mup-transfer", order=110, cost=80,
    title="μP: the best learning rate transfers across widths (Tensor Programs V)",
    claim="under μP the best learning rate moves by at most one ×2 step over an 8× range of widths and wider is "
          "never worse; under SP it moves by two or more (Yang et al. 2022)",
    explanation=(
        "In the standard parametrization (SP) every layer is initialized for its fan-in and trained with one "
        "learning rate. As a model gets wider, each Adam step changes a hidden layer's output by an amount that "
        "grows with the width, so the learning rate that was best for a narrow model is too large for a wide one "
        "and has to be tuned again. μP (the Maximal Update Parametrization; Yang et al. 2022) scales the "
        "initialization and the learning rate of each layer with the width so that every layer's update stays "
        "the same size: the hidden and readout layers' Adam learning rates shrink like 1/width, the readout "
        "starts smaller. Then the best learning rate found on a narrow model is the best one on a wide model "
        "too — tune small, train big.\n\n"
        "The coordinate check shows the mechanism: the mean |x| of each layer's output after three Adam steps, "
        "against width. Under SP the output grows with width; under μP every curve is flat. The learning-rate "
        "sweeps show the consequence, on an MLP on MNIST-1D and on a small character-level transformer trained "
        "on the Python standard library's own source. The best rate of each width is read between grid points "
        "(a parabola through the best point and its neighbours), and its move is the fitted trend over the whole "
        "width range, in ×2 steps, once per seed."),
    source=SOURCE, keras=None, keras_note=KERAS_NOTE, budgets=T.BUDGETS, measure=T.measure, judge=T.judge, compare=compare, summarize=summarize,
    figures=(
        FigureSpec("mup-coord-check", "lines", "Coordinate check: mean |x| per layer against width, after 3 Adam steps",
                   "The mean absolute coordinate of each layer's output (and the model's output) after the last "
                   "step, MLP on one MNIST-1D batch, against width (log–log); SP left, μP right; mean ± sd over the "
                   "paired seeds.", where={"part": "coord", "final": True}, x="width", y="l1", series="curve",
                   panels="parametrization", xlabel="width", ylabel="mean |x|", logx=True, logy=True),
        _transfer_figure("mlp", "Learning-rate transfer: MLP on MNIST-1D"),
        _transfer_figure("lm", "Learning-rate transfer: character-level transformer on Python's source"),
    ),
)
