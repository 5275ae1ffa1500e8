"""Radford et al. 2019 (GPT-2) and Dey et al. 2025 (CompleteP): with its residual branches scaled, a deeper
transformer is as good or better after the same number of steps; unscaled, it gets worse."""

from __future__ import annotations

import math

from ..claim import FigureSpec, Preset, Source, per_seed, rows_where
from ..verdict import at_least, at_most, greater

INITS = ("auto", "scaled_residual", "completep")
BUDGETS = {
    "full": {"depths": (2, 4, 8, 16, 32), "width": 32, "context": 16, "steps": 50, "batch_size": 16, "lr": 3e-3,
             "flat": 0.01, "seeds": 5},
    "quick": {"depths": (1, 4), "width": 32, "context": 16, "steps": 25, "batch_size": 16, "lr": 3e-3,
              "flat": 0.01, "seeds": 5},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """GPT-2 (Radford et al. 2019, §2.3) scales each residual branch's last layer by 1/√N so that the
    stream does not grow with depth; CompleteP (Dey et al. 2025) multiplies each branch by (L/L_base)^(−1)
    and finds deeper models reaching a lower loss at the same learning rate. Unscaled, a deeper model's
    stream and its early updates grow with the number of branches.

    Setup: initlab's character-level transformer (pre-norm, ``width`` = 32, 2 heads, context 16) at every
    depth in ``depths``, trained ``steps`` Adam steps (lr 3e-3, batch 16) on the Python standard library's
    own source, under initlab's ``auto`` (unscaled: He before GELU, Glorot elsewhere), ``scaled_residual``
    (each branch's last layer ÷ √N) and CompleteP (base depth 2, its Adam learning rates), on paired seeds
    (weights and the order of the training windows). ``auto`` and ``scaled_residual`` train in one stack,
    CompleteP in another (:func:`initlab.experiments.depth.train_lm_seeds`). The loss is measured on 4
    fixed validation batches of 64 windows.

    Rows: init, seed, depth, val_loss (nats per character), diverged.
    """
    from ..depth import train_lm_seeds

    keep = ("init", "seed", "depth", "val_loss", "diverged")
    plain = [i for i in INITS if i != "completep"]
    rows = []
    for depth in b["depths"]:
        kw = dict(depth=depth, width=b["width"], context=b["context"], steps=b["steps"], batch_size=b["batch_size"],
                  lr=b["lr"], base_depth=2)
        got = train_lm_seeds([i for i in plain for _ in seeds], [s for _ in plain for s in seeds], **kw)
        got += train_lm_seeds("completep", list(seeds), **kw)
        rows += [{k: r[k] for k in keep} for r in got]
    return rows


def _slope(rs: list[dict]) -> float:
    """The least-squares slope of the validation loss against log₂ depth: nats per doubling."""
    from ..depth import slope

    rs = sorted(rs, key=lambda r: r["depth"])
    return slope([math.log2(r["depth"]) for r in rs], [r["val_loss"] for r in rs])


def _best_scaled(rows: list[dict]) -> list[float]:
    return [min(a, c) for a, c in zip(per_seed(rows, _slope, init="scaled_residual"),
                                      per_seed(rows, _slope, init="completep"))]


def judge(rows: list[dict], b: dict) -> list:
    """Criteria, per seed, on the slope of the validation loss against log₂ depth (nats per doubling): the
    unscaled init (``auto``) gets worse — slope > 0; the better of scaled residual and CompleteP stays flat
    or improves — slope ≤ ``flat`` = 0.01; and its slope is below the unscaled one on the same seeds
    (paired)."""
    auto, best = per_seed(rows, _slope, init="auto"), _best_scaled(rows)
    return [at_least("unscaled (auto) gets worse with depth: loss slope per doubling of depth ≥ 0", auto, 0.0),
            at_most(f"scaled residual or CompleteP (the better) stays flat or improves: slope ≤ {b['flat']:g} nats "
                    "per doubling", best, b["flat"]),
            greater("…and its slope is below the unscaled one on the same seeds (paired)", auto, best, 0.0,
                    names=("auto", "scaled"))]


def compare(rows: list[dict], b: dict) -> list[dict]:
    source = {"auto": "worse with depth at fixed steps and learning rate", "scaled_residual": "flat (GPT-2 §2.3)",
              "completep": "improving with depth at a fixed learning rate (Dey et al. 2025, Fig. 1)"}
    out = []
    for init in INITS:
        s = per_seed(rows, _slope, init=init)
        out.append({"quantity": f"loss slope per doubling of depth, {init}", "source": source[init],
                    "ours": f"{sum(s) / len(s):+.3f} nats (mean of {len(s)} seeds, depths {list(b['depths'])}, "
                            f"{b['steps']} steps)"})
    return out


def summarize(rows: list[dict], b: dict) -> list[dict]:
    out = []
    for depth in b["depths"]:
        entry = {"depth": depth}
        for init in INITS:
            v = [r["val_loss"] for r in rows_where(rows, init=init, depth=depth)]
            entry[f"val loss, {init}"] = f"{sum(v) / len(v):.3f}"
        out.append(entry)
    return out


PRESET = Preset(
    name="depth-lm", order=140, cost=57,
    title="A transformer at growing depth: scaled branches keep deeper models as good or better "
          "(Radford et al. 2019; Dey et al. 2025)",
    claim="character transformer at growing depth, fixed steps: scaled residual or CompleteP flat or improving with "
          "depth, the unscaled init worse (Radford et al. 2019; Dey et al. 2025)",
    explanation=(
        "A deeper pre-norm transformer should not be worse after the same number of steps. Unscaled, every branch "
        "adds to the stream, and the deep model's early updates are dominated by its many branches; GPT-2 scales "
        "each branch's last layer by 1/√N, CompleteP multiplies each branch by L^(−1) and keeps the learning "
        "rate.\n\n"
        "The figure is the validation loss (nats per character) after a fixed number of Adam steps on the "
        "Python standard library's own source, against depth (mean ± sd over paired seeds)."),
    source=Source("Radford et al. 2019, \"Language models are unsupervised multitask learners\" (GPT-2, §2.3); "
                  "Dey et al. 2025, \"Don't be lazy: CompleteP enables compute-efficient deep transformers\"",
                  "with CompleteP deeper models reach a lower loss at the same learning rate; unscaled models need "
                  "the learning rate re-tuned with depth", {"CompleteP's compute saving over μP (deep models)":
                                                            "12–34 %"}),
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("depth-lm", "lines", "Validation loss after a fixed number of steps, against depth",
                        "Nats per character on 4 fixed validation batches, mean ± sd over paired seeds.", x="depth",
                        y="val_loss", series="init", xlabel="depth (blocks)", ylabel="validation loss (nats/char)",
                        logx=True),),
)
