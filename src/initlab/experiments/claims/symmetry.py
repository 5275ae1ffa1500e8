"""Zero or constant weights never break symmetry (the argument of every initialization tutorial)."""

from __future__ import annotations

from ..claim import FigureSpec, KerasSetting, Preset, Source, chance, config, digits, per_seed, probe_layers, rows_where
from ..verdict import at_most, every, greater

BUDGETS = {
    "full": {"depth": 3, "width": 32, "epochs": 5, "lr": 0.01, "momentum": 0.9, "batch_size": 32, "constant": 0.5,
             "seeds": 5},
    "quick": {"depth": 3, "width": 32, "epochs": 2, "lr": 0.01, "momentum": 0.9, "batch_size": 32, "constant": 0.5,
              "seeds": 3},
}
LABELS = ("zeros", "constant", "he_normal")


def _schemes(b: dict):
    """(label, scheme, parameters) of the three initializations compared."""
    return (("zeros", "zeros", {}), ("constant", "constant", {"value": b["constant"]}), ("he_normal", "he_normal", {}))


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Zero or constant weights: every unit of a hidden layer stays identical (the symmetry problem).

    Setup: ReLU MLP, ``depth`` hidden layers of ``width`` units, biases 0, SGD with momentum on
    digits, for zeros, the ``constant`` 0.5 and He (``he_normal``) weights, on paired seeds (same data
    order). After every epoch (and before training) :func:`initlab.probe` counts the distinct units
    of each hidden layer (units equal in incoming weights and outputs within a relative 1e-5).

    Rows: ``part="distinct"`` (scheme, seed, epoch, layer, distinct_units, width) and
    ``part="final"`` (scheme, seed, test_acc, chance).
    """
    from ..trainer import train

    data = digits()
    ch = chance(data)
    rows = []
    for label, scheme, params in _schemes(b):
        for seed in seeds:
            cfg = config(depth=b["depth"], width=b["width"], activation="relu", scheme=scheme, scheme_params=params,
                         lr=b["lr"], momentum=b["momentum"], epochs=b["epochs"], batch_size=b["batch_size"], seed=seed)

            def count(epoch, model, label=label, seed=seed):
                for r in probe_layers(model, data, theory=False):
                    rows.append({"part": "distinct", "scheme": label, "seed": seed, "epoch": epoch,
                                 "layer": r["layer"], "distinct_units": r["distinct_units"], "width": b["width"]})

            res = train(cfg, data, on_epoch=count)
            rows.append({"part": "final", "scheme": label, "seed": seed, "test_acc": res.history[-1]["test_acc"],
                         "chance": ch})
    return rows


def _after_training(rows, b, scheme):
    """Per seed: the distinct-unit counts of the hidden layers after the last epoch."""
    last = rows_where(rows, part="distinct", scheme=scheme, epoch=b["epochs"])
    seeds = sorted({r["seed"] for r in last})
    return [[r["distinct_units"] for r in sorted(rows_where(last, seed=s), key=lambda r: r["layer"])] for s in seeds]


def _shown(counts: list[list[int]]) -> str:
    """Per-seed counts, the distinct patterns once each: "[1, 1, 1] ×5"."""
    patterns: dict = {}
    for c in counts:
        patterns[str(c)] = patterns.get(str(c), 0) + 1
    return ", ".join(f"{p} ×{n}" for p, n in patterns.items())


def judge(rows: list[dict], b: dict) -> list:
    """Criteria: zeros and the constant keep exactly 1 distinct unit per hidden layer on every seed,
    while He keeps all ``width`` of them (the reference: random weights do break symmetry); zeros
    learn nothing (mean final test accuracy ≤ chance + 5 points); He beats the constant (paired
    difference of final test accuracy > 0: a constant wastes the layer's capacity)."""
    width = b["width"]
    checks = []
    for scheme in ("zeros", "constant"):
        counts = _after_training(rows, b, scheme)
        checks.append(every(f"{scheme}: every hidden layer keeps exactly 1 distinct unit after training", counts,
                            lambda c: all(d == 1 for d in c), f"distinct units per layer, per seed: {_shown(counts)}"))
    he = _after_training(rows, b, "he_normal")
    checks.append(every(f"he_normal (reference): all {width} units of every hidden layer stay distinct", he,
                        lambda c: all(d == width for d in c), f"distinct units per layer, per seed: {_shown(he)}"))
    acc = {s: per_seed(rows, "test_acc", part="final", scheme=s) for s in LABELS}
    ch = rows_where(rows, part="final")[0]["chance"]
    checks.append(at_most("zeros: nothing is learned (final test accuracy ≤ chance + 5 points)", acc["zeros"],
                          ch + 0.05, unit="%"))
    checks.append(greater("a constant wastes capacity: he_normal's final test accuracy exceeds the constant's",
                          acc["he_normal"], acc["constant"], 0.0, unit="pts", names=("he_normal", "constant")))
    return checks


def compare(rows: list[dict], b: dict) -> list[dict]:
    zeros = _after_training(rows, b, "zeros")
    const = _after_training(rows, b, "constant")
    acc = per_seed(rows, "test_acc", part="final", scheme="zeros")
    ch = rows_where(rows, part="final")[0]["chance"]
    return [
        {"quantity": "distinct units per hidden layer, all weights equal", "source": "1, forever",
         "ours": f"zeros {sorted({d for c in zeros for d in c})}, constant 0.5 {sorted({d for c in const for d in c})} "
                 f"after {b['epochs']} epochs, {len(zeros)} seeds"},
        {"quantity": "zeros: what is learned", "source": "nothing but the last bias (chance accuracy)",
         "ours": f"{100 * sum(acc) / len(acc):.1f}% test accuracy (chance {100 * ch:.1f}%)"},
    ]


def keras(b: dict) -> list[KerasSetting]:
    """The three ReLU nets, as Keras builds them."""
    return [KerasSetting(label, "relu", b["depth"], b["width"], scheme, params) for label, scheme, params in _schemes(b)]


PRESET = Preset(
    name="symmetry", order=10, cost=3,
    title="Zero and constant weights never break symmetry",
    claim="zero or constant weights keep every hidden unit identical; zeros never learn",
    explanation=(
        "If every weight of a layer starts equal (all zeros, or all 0.5), every unit of that layer computes the "
        "same output and receives the same gradient, so the units stay identical however long you train. The "
        "layer behaves like a single unit, and with zeros nothing beyond the last bias moves at all.\n\n"
        "The figure counts distinct units in each hidden layer after every epoch of training on digits, for each "
        "paired seed. With zeros or a constant the count stays at 1; with random (He) weights every unit is "
        "different from the start."),
    source=Source("The symmetry argument of initialization tutorials (CLAIMS 1–2)",
                  "all units of a layer stay identical forever; with zeros only the last bias learns",
                  {"distinct units per hidden layer": "1", "zeros: test accuracy": "chance"}),
    keras=keras,
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare,
    figures=(FigureSpec("symmetry-distinct-units", "lines", "Distinct units per hidden layer during training "
                        "(ReLU MLP on digits)", "Distinct units per hidden layer after each epoch, mean over seeds; "
                        "one panel per scheme; dotted: the layer's width.", where={"part": "distinct"}, x="epoch",
                        y="distinct_units", series="layer", panels="scheme", xlabel="epoch",
                        ylabel="distinct units", logy=True, hline="width"),),
)
