"""Zhao et al. 2022 (ZerO): identity and Hadamard matrices, no random numbers, train as well as a random
init, and every seed starts from the same weights."""

from __future__ import annotations

import hashlib

from ..claim import FigureSpec, KerasSetting, Preset, Source, build, config, digits, per_seed, rows_where, train_all
from ..verdict import every, no_worse

SCHEMES = ("he_normal", "ZerO")
BUDGETS = {
    "full": {"depth": 4, "width": 128, "epochs": 10, "lr": 0.05, "batch_size": 64, "tolerance": 0.01, "seeds": 8},
    "quick": {"depth": 4, "width": 128, "epochs": 6, "lr": 0.05, "batch_size": 64, "tolerance": 0.01, "seeds": 5},
}


def _digest(model) -> str:
    """A short hash of the model's parameters, bit for bit."""
    h = hashlib.sha256()
    for _, p in sorted(model.named_parameters()):
        h.update(p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Zhao, Schäfer & Anandkumar 2022 ("ZerO initialization: initializing neural networks with only zeros
    and ones"): every weight matrix an identity (a partial identity where the layer narrows) or, where it
    widens, an orthonormal Hadamard block — deterministic — trains as well as random initialization.

    Setup: a ReLU MLP on digits, ``depth`` = 4 hidden layers of ``width`` = 128, zero biases, SGD (lr 0.05,
    momentum 0.9, batch 64), ``epochs`` epochs, under He (N(0, 2/fan_in)) and ZerO, on the same paired seeds
    (the seed sets He's weights and, for both, the data order), trained stacked. Each model's initial
    parameters are hashed before training.

    Rows: scheme, seed, epoch, test_acc, and on the epoch-0 row ``weights`` (the hash of the initial
    parameters).
    """
    data = digits()
    configs = [config(depth=b["depth"], width=b["width"], activation="relu", scheme=s, lr=b["lr"], momentum=0.9,
                      epochs=b["epochs"], batch_size=b["batch_size"], seed=sd) for s in SCHEMES for sd in seeds]
    digests = [_digest(build(cfg, data)) for cfg in configs]
    rows = []
    for cfg, digest, res in zip(configs, digests, train_all(configs, data)):
        rows += [{"scheme": cfg.scheme, "seed": cfg.seed, "epoch": h["epoch"], "test_acc": h["test_acc"],
                  **({"weights": digest} if h["epoch"] == 0 else {})} for h in res.history]
    return rows


def keras(b: dict) -> list[KerasSetting]:
    """The ReLU MLP under each scheme, as Keras builds it (ZerO through initlab.keras: it has no Keras built-in)."""
    return [KerasSetting(s, "relu", b["depth"], b["width"], s) for s in SCHEMES]


def _final(rs) -> float:
    return max(rs, key=lambda r: r["epoch"])["test_acc"]


def _initial(rows, scheme) -> list[str]:
    return [r["weights"] for r in sorted(rows_where(rows, scheme=scheme, epoch=0), key=lambda r: r["seed"])]


def judge(rows: list[dict], b: dict) -> list:
    """Criteria: ZerO trains as well as He — the 95 % interval of the paired difference He − ZerO in final
    test accuracy lies below ``tolerance`` = 1 point (contradicted when He is reliably better); every seed
    draws the same ZerO weights, bit for bit (one seed that differs contradicts); and He's weights differ
    between seeds (the reference that shows the check can tell them apart)."""
    he, zero = per_seed(rows, _final, scheme="he_normal"), per_seed(rows, _final, scheme="ZerO")
    z0, h0 = _initial(rows, "ZerO"), _initial(rows, "he_normal")
    return [no_worse(f"ZerO trains as well as He: final test accuracy within {100 * b['tolerance']:.0f} point",
                     he, zero, b["tolerance"], unit="pts", names=("he_normal", "ZerO")),
            every("ZerO: the same initial weights for every seed (zero variance between seeds)", z0,
                  lambda d: d == z0[0], f"{len(set(z0))} distinct of {len(z0)}"),
            every("He: different initial weights for every seed (the check can tell them apart)", h0,
                  lambda d: h0.count(d) == 1, f"{len(set(h0))} distinct of {len(h0)}")]


def compare(rows: list[dict], b: dict) -> list[dict]:
    he, zero = per_seed(rows, _final, scheme="he_normal"), per_seed(rows, _final, scheme="ZerO")
    return [{"quantity": "ZerO against random init", "source": "matches or beats random init on CIFAR-10 and "
             "ImageNet ResNets (Zhao et al. 2022, Table 2)",
             "ours": f"digits MLP: ZerO {100 * sum(zero) / len(zero):.1f}% vs He {100 * sum(he) / len(he):.1f}% "
                     f"(mean of {len(he)} seeds)"},
            {"quantity": "variance between seeds at init", "source": "none: deterministic",
             "ours": f"{len(set(_initial(rows, 'ZerO')))} distinct ZerO initializations over {len(he)} seeds"}]


def summarize(rows: list[dict], b: dict) -> list[dict]:
    return [{"scheme": s, "seed": sd, "final test accuracy": f"{100 * _final(rs):.1f}%",
             "initial weights": next(r["weights"] for r in rs if r["epoch"] == 0)}
            for s in SCHEMES for sd in sorted({r["seed"] for r in rows})
            for rs in [rows_where(rows, scheme=s, seed=sd)]]


PRESET = Preset(
    name="zero-init", order=150, cost=6,
    title="ZerO: zeros, ones and Hadamard matrices train as well as He, and every seed starts the same "
          "(Zhao et al. 2022)",
    claim="ZerO trains digits as well as He (within 1 point over paired seeds) with zero variance between seeds at "
          "init (Zhao et al. 2022)",
    explanation=(
        "ZerO initializes every weight matrix with an identity (a partial identity when the layer narrows) or, "
        "when it widens, a Hadamard matrix scaled to be orthonormal: no random numbers at all. The symmetry that "
        "makes a constant init fail is broken by the Hadamard matrix's signs and the identity's distinct rows, "
        "so the units still learn different features, and two runs differ only in the order of the data.\n\n"
        "The figure is test accuracy per epoch under each scheme (mean ± sd over paired seeds)."),
    source=Source("Zhao, Schäfer & Anandkumar 2022, \"ZerO initialization: initializing neural networks with only "
                  "zeros and ones\"", "ZerO matches random initialization on CIFAR-10 and ImageNet ResNets, "
                  "deterministically", {"variance between seeds at init": "0"}),
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize, keras=keras,
    figures=(FigureSpec("zero-init", "lines", "ReLU MLP on digits: ZerO against He",
                        "Test accuracy per epoch, mean ± sd over paired seeds.", x="epoch", y="test_acc",
                        series="scheme", xlabel="epoch", ylabel="test accuracy (%)", percent=True),),
)
