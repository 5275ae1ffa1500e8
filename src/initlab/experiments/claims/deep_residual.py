"""Zhang et al. 2019 (Fixup) and De & Smith 2020 (SkipInit): a residual network of 100 blocks without
normalization trains when every branch starts as the identity, and does not under plain He."""

from __future__ import annotations

from ..claim import FigureSpec, Preset, Source, chance, per_seed, rows_where
from ..verdict import at_least, every

INITS = ("he_normal", "fixup", "skipinit")
BUDGETS = {
    "full": {"blocks": 100, "width": 32, "epochs": 4, "lr": 0.01, "momentum": 0.9, "batch_size": 64,
             "train_acc": 0.8, "seeds": 5},
    "quick": {"blocks": 100, "width": 32, "epochs": 1, "lr": 0.02, "momentum": 0.9, "batch_size": 64,
              "train_acc": 0.5, "seeds": 3},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Zhang, Dauphin & Ma 2019 ("Fixup initialization", §2 and §4): in a residual network without
    normalization the stream's variance grows with every block, so a deep one cannot start from the
    variance-preserving init of its layers; Fixup (branch layers × L^(−1/(2m−2)), each branch's last
    layer and the classifier 0, scalar biases and multipliers) and SkipInit (De & Smith 2020: x + α·F(x),
    α = 0 at start) make every block the identity at initialization, and the network trains.

    Setup (scaled down from 10,000 layers on CIFAR-10): a residual MLP on digits, ``blocks`` = 100 blocks
    ``x + W₂·relu(W₁·x)`` of ``width`` = 32 units (202 weight layers), no normalization, SGD (momentum 0.9,
    batch 64; lr 0.01 for 4 epochs in the full budget, 0.02 for 1 epoch in the quick one), under plain He
    (every layer N(0, 2/fan_in)), Fixup and SkipInit on the same paired seeds (weights and data order),
    one model at a time (:func:`initlab.experiments.depth.train_residual`).

    Rows: init, seed, epoch, test_acc, train_loss, diverged (the run, at any epoch), chance.
    """
    from ..depth import digits_data, train_residual

    data = digits_data()
    ch = chance(data)
    rows = []
    for init in INITS:
        for seed in seeds:
            r = train_residual(init, seed, blocks=b["blocks"], width=b["width"], epochs=b["epochs"], lr=b["lr"],
                               momentum=b["momentum"], batch_size=b["batch_size"], data=data)
            rows += [{"init": init, "seed": seed, "epoch": h["epoch"], "test_acc": h["test_acc"],
                      "train_loss": h["train_loss"], "diverged": r["diverged"], "chance": ch} for h in r["history"]]
    return rows


def _final(rs) -> float:
    return max(rs, key=lambda r: r["epoch"])["test_acc"]


def _diverged(rs) -> bool:
    return any(r["diverged"] for r in rs)


def judge(rows: list[dict], b: dict) -> list:
    """Criteria: plain He diverges or stalls on every seed (its loss becomes non-finite, or its final test
    accuracy is ≤ chance + 10 points) — a seed where it trains contradicts; Fixup and SkipInit train: the
    interval of their final test accuracy lies at or above ``train_acc`` (80 % after 4 epochs in the full
    budget, 50 % — five times chance — after 1 epoch in the quick one)."""
    ch = rows[0]["chance"]
    he = list(zip(per_seed(rows, _diverged, init="he_normal"), per_seed(rows, _final, init="he_normal")))
    shown = ", ".join("diverged" if d else f"{100 * a:.0f}%" for d, a in he)
    out = [every(f"plain He diverges or stalls: every seed diverges or ends ≤ chance + 10 points "
                 f"({100 * (ch + 0.1):.0f}%)", he, lambda v: bool(v[0]) or v[1] <= ch + 0.10, shown)]
    for init, label in (("fixup", "Fixup"), ("skipinit", "SkipInit")):
        out.append(at_least(f"{label} trains: final test accuracy ≥ {100 * b['train_acc']:.0f}%",
                            per_seed(rows, _final, init=init), b["train_acc"], unit="%"))
    return out


def compare(rows: list[dict], b: dict) -> list[dict]:
    fx, sk = per_seed(rows, _final, init="fixup"), per_seed(rows, _final, init="skipinit")
    he = per_seed(rows, _diverged, init="he_normal")
    return [{"quantity": "depth trained without normalization", "source": "10,000 layers (Fixup, CIFAR-10)",
             "ours": f"{b['blocks']} blocks ({2 * b['blocks'] + 2} weight layers) on digits"},
            {"quantity": "Fixup", "source": "trains without normalization, matching batch norm on CIFAR-10",
             "ours": f"final test accuracy {100 * sum(fx) / len(fx):.1f}% (mean of {len(fx)} seeds)"},
            {"quantity": "SkipInit", "source": "trains deep ResNets without batch norm (De & Smith 2020)",
             "ours": f"final test accuracy {100 * sum(sk) / len(sk):.1f}% (mean of {len(sk)} seeds)"},
            {"quantity": "plain He", "source": "the stream's variance grows with every block (Zhang et al. §2)",
             "ours": f"diverged on {int(sum(he))} of {len(he)} seeds"}]


def summarize(rows: list[dict], b: dict) -> list[dict]:
    return [{"init": init, "seed": sd, "diverged": _diverged(rs), "final test accuracy": f"{100 * _final(rs):.1f}%"}
            for init in INITS for sd in sorted({r["seed"] for r in rows})
            for rs in [rows_where(rows, init=init, seed=sd)]]


PRESET = Preset(
    name="deep-residual", order=120, cost=23,
    title="100 residual blocks without normalization: Fixup and SkipInit train, plain He does not "
          "(Zhang et al. 2019; De & Smith 2020)",
    claim="residual MLP, 100 blocks, no normalization: He alone diverges or stalls; Fixup and SkipInit train "
          "(Zhang et al. 2019; De & Smith 2020)",
    explanation=(
        "A residual block adds its branch to the stream: x + F(x). With He's variance on every layer each branch "
        "adds about twice the stream's variance, so after 100 blocks the stream's variance is about 3¹⁰⁰ times "
        "the input's and the first forward pass overflows. Fixup scales every branch layer by L^(−1/(2m−2)) and "
        "zeroes each branch's last layer and the classifier; SkipInit multiplies every branch by a learnable "
        "scalar that starts at 0. Either way each block starts as the identity, and the network trains like a "
        "shallow one without any normalization.\n\n"
        "The figure is test accuracy per epoch (mean ± sd over paired seeds); plain He diverges in its first "
        "step."),
    source=Source("Zhang, Dauphin & Ma 2019, \"Fixup initialization: residual learning without normalization\"; "
                  "De & Smith 2020, \"Batch normalization biases residual blocks towards the identity function "
                  "in deep networks\" (SkipInit)",
                  "Fixup trains a 10,000-layer residual network without normalization; SkipInit trains deep "
                  "ResNets without batch normalization", {"layers trained (Fixup)": "10,000"}),
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("deep-residual", "lines", "100 residual blocks, no normalization: test accuracy per epoch",
                        "Test accuracy per epoch, mean ± sd over paired seeds; dotted: chance. Plain He's loss is "
                        "non-finite after its first step.", x="epoch", y="test_acc", series="init",
                        xlabel="epoch", ylabel="test accuracy (%)", hline="chance", percent=True),),
)
