"""Saxe et al. 2013: deep linear networks learn in a depth-independent time from orthogonal weights,
and ever more slowly from scaled Gaussian weights."""

from __future__ import annotations

import statistics

from ..claim import FigureSpec, KerasSetting, Preset, Source, config, digits, geomean, group_by, train_all
from ..verdict import at_least, at_most, greater

SCHEMES = ("lecun_normal", "orthogonal")
BUDGETS = {
    "full": {"depths": (2, 4, 8, 16, 32), "width": 32, "n_train": 256, "steps": 100, "threshold": 0.5,
             "lrs": (0.01, 0.03, 0.1, 0.3), "seeds": 5, "flat": 2.0, "grows": 3.0},
    "quick": {"depths": (2, 16), "width": 32, "n_train": 256, "steps": 80, "threshold": 0.5,
              "lrs": (0.03, 0.1, 0.3), "seeds": 3, "flat": 2.0, "grows": 3.0},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Saxe, McClelland & Ganguli 2013 ("Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", Fig. 6): with the learning rate chosen for each depth, the time to reach a
    training-error criterion stays roughly constant with depth for orthogonal initial weights (dynamical
    isometry: every singular value of the product is 1), while for scaled Gaussian weights N(0, 1/fan_in)
    (``lecun_normal``) it grows with depth.

    Setup: linear activations, ``width`` 32, biases 0, full-batch gradient descent (no momentum, so an
    epoch is one step and the step count is exact) on the first ``n_train`` = 256 digits training images
    with cross-entropy, on paired seeds; every (depth, scheme, learning rate of ``lrs``) on every seed.
    A run's cost is the number of steps to reach a training loss ≤ ``threshold`` (0.5; from ≈ 2.3 at
    chance), or ``steps`` + 1 if it never does (a lower bound, which only weakens the growth claimed).
    The learning rate of each (scheme, depth) is the one with the lowest mean cost over the seeds (as
    the paper chooses it per depth); ``selected`` marks it.

    Rows: scheme, depth, lr, seed, steps_to_threshold (None if not reached), cost, final_train_loss,
    diverged, selected.
    """
    data = digits(n_train=b["n_train"], n_test=100)
    configs = [config(depth=d, width=b["width"], activation="linear", scheme=s, lr=lr, momentum=0.0,
                      epochs=b["steps"], batch_size=b["n_train"], seed=sd)
               for d in b["depths"] for s in SCHEMES for lr in b["lrs"] for sd in seeds]
    rows = []
    for cfg, res in zip(configs, train_all(configs, data)):
        hit = next((h["epoch"] for h in res.history if h["train_loss"] <= b["threshold"]), None)
        rows.append({"scheme": cfg.scheme, "depth": cfg.depth, "lr": cfg.lr, "seed": cfg.seed,
                     "steps_to_threshold": hit, "cost": hit if hit is not None else b["steps"] + 1,
                     "final_train_loss": res.history[-1]["train_loss"], "diverged": bool(res.diverged)})
    chosen = selected_lrs(rows)
    for r in rows:
        r["selected"] = chosen[(r["scheme"], r["depth"])] == r["lr"]
    return rows


def selected_lrs(rows: list[dict]) -> dict:
    """(scheme, depth) → the learning rate with the lowest mean cost over the seeds."""
    out: dict = {}
    keyed: dict = {}
    for r in rows:
        keyed.setdefault((r["scheme"], r["depth"]), []).append(r)
    for key, rs in keyed.items():
        by_lr = group_by(rs, "lr")
        out[key] = min(sorted(by_lr), key=lambda lr: statistics.fmean(r["cost"] for r in by_lr[lr]))
    return out


def growth(rows: list[dict], scheme: str) -> list[float]:
    """Per seed: cost at the deepest depth / cost at the shallowest, each at its selected rate."""
    chosen = selected_lrs(rows)
    depths = sorted({r["depth"] for r in rows})
    lo, hi = depths[0], depths[-1]

    def cost(depth):
        picked = [r for r in rows if r["scheme"] == scheme and r["depth"] == depth and r["lr"] == chosen[(scheme, depth)]]
        return {r["seed"]: r["cost"] for r in picked}

    c_lo, c_hi = cost(lo), cost(hi)
    return [c_hi[s] / c_lo[s] for s in sorted(c_lo)]


def judge(rows: list[dict], b: dict) -> list:
    """Criteria, with growth = steps at the deepest / steps at the shallowest depth per seed (log
    scale): orthogonal stays roughly flat, growth ≤ ``flat`` = 2; scaled Gaussian grows, growth ≥
    ``grows`` = 3; and the Gaussian's growth exceeds the orthogonal's on the same seeds (paired)."""
    g, o = growth(rows, "lecun_normal"), growth(rows, "orthogonal")
    depths = sorted({r["depth"] for r in rows})
    span = f"depth {depths[0]} → {depths[-1]}"
    return [at_most(f"orthogonal: steps to the loss threshold roughly flat with depth ({span}: ×≤ {b['flat']:g})", o,
                    b["flat"], log=True),
            at_least(f"scaled Gaussian (lecun_normal): steps grow with depth ({span}: ×≥ {b['grows']:g})", g,
                     b["grows"], log=True),
            greater("the Gaussian's growth exceeds the orthogonal's (paired)", g, o, 1.0, log=True,
                    names=("lecun_normal", "orthogonal"))]


def compare(rows: list[dict], b: dict) -> list[dict]:
    depths = sorted({r["depth"] for r in rows})
    return [{"quantity": f"learning time, depth {depths[0]} → {depths[-1]}, orthogonal",
             "source": "independent of depth (Fig. 6)", "ours": f"×{geomean(growth(rows, 'orthogonal')):.2f}"},
            {"quantity": f"learning time, depth {depths[0]} → {depths[-1]}, scaled Gaussian",
             "source": "grows with depth (Fig. 6)", "ours": f"×{geomean(growth(rows, 'lecun_normal')):.2f}"}]


def summarize(rows: list[dict], b: dict) -> list[dict]:
    chosen = selected_lrs(rows)
    out = []
    for d in sorted({r["depth"] for r in rows}):
        entry = {"depth": d}
        for s in SCHEMES:
            costs = [r["cost"] for r in rows if r["scheme"] == s and r["depth"] == d and r["lr"] == chosen[(s, d)]]
            entry[f"steps, {s}"] = f"{statistics.fmean(costs):.1f}"
            entry[f"lr, {s}"] = chosen[(s, d)]
        out.append(entry)
    return out


def keras(b: dict) -> list[KerasSetting]:
    """The deep linear net at every depth under each scheme, as Keras builds it."""
    return [KerasSetting(f"depth {d}, {s}", "linear", d, b["width"], s) for d in b["depths"] for s in SCHEMES]


PRESET = Preset(
    name="orthogonal-depth", order=70, cost=18,
    title="Orthogonal weights make depth cheap (Saxe et al. 2013)",
    claim="deep linear nets: orthogonal init learns in depth-independent time, scaled Gaussian does not "
          "(Saxe et al. 2013)",
    explanation=(
        "Saxe et al. (2013) showed that deep linear networks with orthogonal weights learn in a time that does "
        "not grow with depth, while scaled Gaussian weights slow down as the network deepens: the product of "
        "orthogonal matrices keeps every singular value at 1 (dynamical isometry), while a product of Gaussian "
        "matrices spreads them out more with every layer. The figure is the number of training steps needed to "
        "reach a loss threshold, against depth, each at its best learning rate (mean ± sd over seeds)."),
    source=Source("Saxe, McClelland & Ganguli 2013, \"Exact solutions to the nonlinear dynamics of learning in "
                  "deep linear neural networks\", Fig. 6",
                  "with orthogonal initial weights the learning time is independent of depth; with scaled random "
                  "Gaussian weights it grows with depth", {"orthogonal": "depth-independent"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("orthogonal-depth", "lines", "Deep linear networks: training time against depth",
                        "Training steps to reach the loss threshold at each depth's best learning rate, mean ± sd "
                        "over seeds.", where={"selected": True}, x="depth", y="cost", series="scheme",
                        xlabel="depth (layers)", ylabel="steps to the loss threshold", logx=True),),
)
