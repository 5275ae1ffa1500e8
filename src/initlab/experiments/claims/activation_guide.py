"""The rule of thumb: He for the ReLU family, Xavier for tanh and sigmoid, LeCun for SELU (CLAIMS 10)."""

from __future__ import annotations

import math
import statistics

from ..claim import FigureSpec, KerasSetting, Preset, Source, chance, config, digits, group_by, rows_where, train_all
from ..verdict import INCONCLUSIVE, Check, no_worse

# per activation: the (depth, optimizer, learning-rate grid) cells where it is judged
_SGD = (0.01, 0.03, 0.1)
CELLS_FULL = {
    "sigmoid": ((3, "sgd", (0.1, 0.3, 1.0)), (5, "adam", (1e-3, 3e-3, 1e-2))),
    "tanh": ((5, "sgd", _SGD), (10, "sgd", _SGD)),
    "relu": ((5, "sgd", _SGD), (10, "sgd", _SGD)),
    "leaky_relu": ((5, "sgd", _SGD), (10, "sgd", _SGD)),
    "selu": ((5, "sgd", _SGD), (10, "sgd", _SGD)),
    "gelu": ((5, "sgd", _SGD), (10, "sgd", _SGD)),
}
CELLS_QUICK = {act: tuple((d, o, lrs[1:]) for d, o, lrs in cells) for act, cells in CELLS_FULL.items()}
BUDGETS = {
    "full": {"width": 64, "epochs": 6, "momentum": 0.9, "batch_size": 64, "seeds": 8, "tolerance": 0.01,
             "cells": CELLS_FULL},
    "quick": {"width": 64, "epochs": 4, "momentum": 0.9, "batch_size": 64, "seeds": 3, "tolerance": 0.01,
              "cells": CELLS_QUICK},
}


def _schemes():
    from ..presets import GUIDE_SCHEMES

    return GUIDE_SCHEMES


def _recommended(act: str) -> str:
    from ..presets import RECOMMENDED

    return RECOMMENDED[act]


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Per activation, at two depths where it trains, the final test accuracy of each scheme with its
    learning rate tuned on a small grid, over paired seeds.

    Setup: MLP of ``width`` 64, zero biases, batch 64, ``epochs`` epochs on digits; schemes
    ``glorot_normal``, ``he_normal``, ``lecun_normal``. Cells (depth, optimizer, learning rates): sigmoid at
    depth 3 with SGD (momentum 0.9; lr 0.1, 0.3, 1) and depth 5 with Adam (1e-3, 3e-3, 1e-2) — at depth 10 no
    scheme trains sigmoid within this budget (measured, width 64, Adam 1e-3: no net past 21 % within 10
    epochs; He needs 40–60 epochs to reach 28–55 % on two seeds of three, Glorot stays ≤ 21 % for 60), and at
    depth 5 SGD does not either; the other activations at depths 5 and 10 with SGD (0.01, 0.03, 0.1).
    The quick budget drops the smallest rate of each grid. Every (cell, scheme, rate) is trained on every
    seed; runs of one cell are trained stacked. The rate of each (cell, scheme) is the one with the lowest
    mean final *training* loss (the test set plays no part in tuning) — ``selected`` marks it.
    Note: with 64 inputs and 64 units the hidden layers are square, where Glorot's 2/(fan_in+fan_out) equals
    LeCun's 1/fan_in; they differ in the output layer only, so the real contrast is He against Xavier/LeCun
    (a factor 2 in variance).

    Rows: activation, depth, optimizer, cell, scheme, lr, seed, test_acc, train_loss, diverged, chance,
    selected.
    """
    data = digits()
    ch = chance(data)
    configs = []
    for act, cells in b["cells"].items():
        for depth, opt, lrs in cells:
            configs += [config(depth=depth, width=b["width"], activation=act, scheme=s, optimizer=opt, lr=lr,
                               momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"], seed=sd)
                        for s in _schemes() for lr in lrs for sd in seeds]
    rows = []
    for cfg, res in zip(configs, train_all(configs, data)):
        final = res.history[-1]
        rows.append({"activation": cfg.activation, "depth": cfg.depth, "optimizer": cfg.optimizer,
                     "cell": f"{cfg.activation}, depth {cfg.depth}", "scheme": cfg.scheme, "lr": cfg.lr,
                     "seed": cfg.seed, "test_acc": final["test_acc"], "train_loss": final["train_loss"],
                     "diverged": bool(res.diverged), "chance": ch})
    chosen = selected_lrs(rows)
    for r in rows:
        r["selected"] = chosen[(r["cell"], r["scheme"])] == r["lr"]
    return rows


def selected_lrs(rows: list[dict]) -> dict:
    """(cell, scheme) → the learning rate with the lowest mean final training loss over the seeds
    (a diverged or non-finite run counts as an infinite loss)."""
    out = {}
    for key, rs in _by_cell_scheme(rows).items():
        by_lr = group_by(rs, "lr")

        def loss(lr):
            runs = by_lr[lr]
            if any(r["diverged"] or not math.isfinite(r["train_loss"]) for r in runs):
                return math.inf
            return statistics.fmean(r["train_loss"] for r in runs)
        out[key] = min(sorted(by_lr), key=loss)
    return out


def _by_cell_scheme(rows):
    out: dict = {}
    for r in rows:
        out.setdefault((r["cell"], r["scheme"]), []).append(r)
    return out


def accuracies(rows: list[dict]) -> dict:
    """(cell, scheme) → final test accuracy per seed (in seed order) at the selected learning rate."""
    chosen = selected_lrs(rows)
    out = {}
    for key, rs in _by_cell_scheme(rows).items():
        picked = sorted((r for r in rs if r["lr"] == chosen[key]), key=lambda r: r["seed"])
        out[key] = [r["test_acc"] for r in picked]
    return out


def judge(rows: list[dict], b: dict) -> list:
    """Criteria, per activation and depth: the recommended scheme against the best of the other two
    (the one with the highest mean accuracy), each at its own tuned rate, on the same seeds. With
    d = best other − recommended (paired, in accuracy points): reproduced when the 95 % interval's upper
    end is ≤ ``tolerance`` = 1 point; contradicted when its lower end is > 0 (another scheme is reliably
    better); inconclusive otherwise. A cell where no scheme learned (best mean ≤ chance + 10 points)
    confirms nothing and is inconclusive."""
    acc = accuracies(rows)
    ch = rows[0]["chance"]
    checks = []
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    for cell in cells:
        act = rows_where(rows, cell=cell)[0]["activation"]
        rec = _recommended(act)
        others = [s for s in _schemes() if s != rec and (cell, s) in acc]
        best = max(others, key=lambda s: statistics.fmean(acc[(cell, s)]))
        criterion = f"{cell}: recommended {rec} within {100 * b['tolerance']:.0f} point of the best other ({best})"
        check = no_worse(criterion, acc[(cell, best)], acc[(cell, rec)], b["tolerance"], unit="pts",
                         names=(best, rec))
        if max(statistics.fmean(acc[(cell, s)]) for s in _schemes() if (cell, s) in acc) <= ch + 0.10:
            check = Check(criterion, check.measured + f"; no scheme learned (chance {100 * ch:.1f}%)", INCONCLUSIVE,
                          check.kind, check.reference, check.summary, check.per_seed)
        checks.append(check)
    return checks


def compare(rows: list[dict], b: dict) -> list[dict]:
    acc = accuracies(rows)
    out = []
    for cell in dict.fromkeys(r["cell"] for r in rows):
        act = rows_where(rows, cell=cell)[0]["activation"]
        means = {s: statistics.fmean(acc[(cell, s)]) for s in _schemes() if (cell, s) in acc}
        ours = ", ".join(f"{s} {100 * m:.1f}%" for s, m in sorted(means.items(), key=lambda kv: -kv[1]))
        out.append({"quantity": cell, "source": f"use {_recommended(act)}", "ours": ours})
    return out


def summarize(rows: list[dict], b: dict) -> list[dict]:
    acc = accuracies(rows)
    chosen = selected_lrs(rows)
    out = []
    for cell in dict.fromkeys(r["cell"] for r in rows):
        act = rows_where(rows, cell=cell)[0]["activation"]
        entry = {"cell": cell, "optimizer": rows_where(rows, cell=cell)[0]["optimizer"]}
        for s in _schemes():
            if (cell, s) in acc:
                v = acc[(cell, s)]
                entry[s] = f"{100 * statistics.fmean(v):.1f} ± {100 * statistics.stdev(v) if len(v) > 1 else 0:.1f} " \
                           f"(lr {chosen[(cell, s)]:g})"
        entry["recommended"] = _recommended(act)
        out.append(entry)
    return out


def keras(b: dict) -> list[KerasSetting]:
    """Every (activation, depth, scheme) net, as Keras builds it."""
    return [KerasSetting(f"{act}, depth {depth}, {s}", act, depth, b["width"], s)
            for act, cells in b["cells"].items() for depth, _, _ in cells for s in _schemes()]


PRESET = Preset(
    name="activation-guide", order=60, cost=55,
    title="Which scheme for which activation",
    claim="He for the ReLU family, Xavier for tanh/sigmoid, LeCun for SELU: the recommended scheme is within 1 "
          "point of the best, with tuned learning rates",
    explanation=(
        "The rule of thumb: He for ReLU and its relatives, Xavier for tanh and sigmoid, LeCun for SELU. Each "
        "activation is tested at two depths where it trains, each scheme with its own learning rate (tuned on a "
        "small grid by training loss), on paired seeds; the recommended scheme passes when it comes within 1 "
        "point of the best other scheme, and fails when another scheme is reliably better.\n\n"
        "Sigmoid is where the rule breaks. Xavier's derivation assumes an activation that is linear with slope 1 "
        "around 0 and centred at 0, like tanh. Sigmoid's slope at 0 is ¼ and its output is centred at ½, not 0: "
        "each sigmoid layer passes on ¼ of the gradient at best, and its positive mean output shifts the next "
        "layer. He's doubled variance makes up part of that loss, so He trains sigmoid networks better than "
        "Xavier does. Glorot & Bengio (2010) themselves found sigmoid the worst of the activations they tried, "
        "and recommended it least."),
    source=Source("The explainers' rule of thumb (CLAIMS 10); Glorot & Bengio 2010 (sigmoid worst, Table 1); "
                  "He et al. 2015 (ReLU); Klambauer et al. 2017 (SELU)",
                  "He for ReLU/LeakyReLU/GELU, Xavier for tanh/sigmoid, LeCun for SELU",
                  {"sigmoid": "glorot (Xavier)", "tanh": "glorot (Xavier)", "relu, leaky_relu, gelu": "he",
                   "selu": "lecun"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("activation-guide", "bars", "Final test accuracy per activation and depth, each scheme at "
                        "its tuned learning rate", "Mean ± sd over paired seeds; dotted: chance.",
                        where={"selected": True}, x="cell", y="test_acc", series="scheme",
                        ylabel="final test accuracy (%)", hline="chance", percent=True),),
)
