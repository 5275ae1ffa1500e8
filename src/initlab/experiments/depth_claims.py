"""The claims about depth, measured over paired seeds and judged by numbers that could come out either way.

Four claims (CLAIMS.md, "Depth in residual nets"; the numbers come from :mod:`initlab.experiments.depth`):

==================  ========================================================================================
name                claim (source)
==================  ========================================================================================
``deep-residual``   a residual MLP of 100 blocks without normalization: He alone diverges or stalls, Fixup and
                    SkipInit train (Zhang et al. 2019; De & Smith 2020)
``residual-stream`` at initialization the pre-norm stream's std grows like √L under plain He and stays O(1)
                    under the scaled recipes; the mean-field recursion predicts it within 10 %
                    (Yang & Schoenholz 2017; Radford et al. 2019; Dey et al. 2025)
``depth-lm``        a character transformer at depths 2 to 32: scaled residual or CompleteP keep the loss after a
                    fixed number of steps flat or improving with depth, the unscaled one gets worse
``zero-init``       ZerO trains digits as well as He (within 1 point) and draws the same weights for every seed
                    (Zhao et al. 2022)
==================  ========================================================================================

Each claim is a :class:`DepthClaim`: its two budgets (``"full"``, ``"quick"``; every budget holds its
paired ``seeds``), ``measure(settings, seeds) -> rows`` (tidy dicts, every number kept), ``judge(rows,
settings) -> criteria`` (computed from the rows alone, so a test can feed it synthetic rows),
``compare(rows, settings)`` (the source's figure beside ours) and its figures, described as data.
A criterion (:class:`Criterion`) compares one number per seed with a reference by the 95 % Student-t
interval of its mean (or of the paired difference): ``reproduced`` when the interval lies on the side the
claim states, ``contradicted`` when it lies on the other, ``inconclusive`` when it straddles; a statement
about every seed is reproduced when it holds on each and contradicted by one seed where it fails.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["Criterion", "DepthClaim", "DEPTH_CLAIMS", "verdict", "slope", "run_claim"]

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"


# ============================================================================================ deciding
@dataclass(frozen=True)
class Criterion:
    """One criterion and how it came out: ``kind`` (``at_least``, ``at_most``, ``within``, ``greater``,
    ``no_worse``, ``every``), the per-seed ``values`` (pairs for paired kinds), the ``reference`` and the
    95 % t-interval ``ci`` of the mean (NaN for ``every``)."""

    criterion: str
    kind: str
    values: tuple
    reference: Any
    outcome: str
    mean: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)

    @property
    def passed(self) -> bool:
        return self.outcome == REPRODUCED

    def to_dict(self) -> dict:
        return {"criterion": self.criterion, "kind": self.kind, "values": list(self.values),
                "reference": self.reference, "outcome": self.outcome, "mean": self.mean, "ci": list(self.ci)}


def _interval(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    from scipy import stats

    v = [float(x) for x in values]
    n = len(v)
    if n == 0 or not all(math.isfinite(x) for x in v):
        return math.nan, (math.nan, math.nan)
    mean = math.fsum(v) / n
    if n < 2:
        return mean, (math.nan, math.nan)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, (mean - half, mean + half)


def _side(ci, lo: float | None, hi: float | None, strict: bool = False) -> str:
    a, b = ci
    if math.isnan(a) or math.isnan(b):
        return INCONCLUSIVE
    above = lo is None or (a > lo if strict else a >= lo)
    if above and (hi is None or b <= hi):
        return REPRODUCED
    if (lo is not None and (b <= lo if strict else b < lo)) or (hi is not None and a > hi):
        return CONTRADICTED
    return INCONCLUSIVE


def at_least(text: str, values, threshold: float) -> Criterion:
    mean, ci = _interval(values)
    return Criterion(text, "at_least", tuple(values), threshold, _side(ci, threshold, None), mean, ci)


def at_most(text: str, values, threshold: float) -> Criterion:
    mean, ci = _interval(values)
    return Criterion(text, "at_most", tuple(values), threshold, _side(ci, None, threshold), mean, ci)


def within(text: str, values, lo: float, hi: float) -> Criterion:
    mean, ci = _interval(values)
    return Criterion(text, "within", tuple(values), [lo, hi], _side(ci, lo, hi), mean, ci)


def greater(text: str, a, b, margin: float = 0.0) -> Criterion:
    mean, ci = _interval([x - y for x, y in zip(a, b)])
    return Criterion(text, "greater", tuple(zip(a, b)), margin, _side(ci, margin, None, strict=True), mean, ci)


def no_worse(text: str, best, candidate, tolerance: float) -> Criterion:
    mean, ci = _interval([x - y for x, y in zip(best, candidate)])
    lo, hi = ci
    outcome = INCONCLUSIVE if math.isnan(lo) else REPRODUCED if hi <= tolerance else CONTRADICTED if lo > 0 \
        else INCONCLUSIVE
    return Criterion(text, "no_worse", tuple(zip(best, candidate)), tolerance, outcome, mean, ci)


def every(text: str, per_seed, holds: Callable[[Any], bool]) -> Criterion:
    results = [bool(holds(v)) for v in per_seed]
    outcome = INCONCLUSIVE if not results else REPRODUCED if all(results) else CONTRADICTED
    return Criterion(text, "every", tuple(per_seed), None, outcome, sum(results) / max(1, len(results)))


def verdict(criteria: Sequence[Criterion]) -> str:
    """``contradicted`` if any criterion is, ``reproduced`` if every one is, else ``inconclusive``."""
    outcomes = [c.outcome for c in criteria]
    if not outcomes:
        return INCONCLUSIVE
    if CONTRADICTED in outcomes:
        return CONTRADICTED
    return REPRODUCED if all(o == REPRODUCED for o in outcomes) else INCONCLUSIVE


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ``ys`` against ``xs``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else math.nan


def _per_seed(rows, value: Callable[[list], float], **match) -> list[float]:
    got: dict = {}
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            got.setdefault(r["seed"], []).append(r)
    return [float(value(got[s])) for s in sorted(got)]


# ============================================================================================ the claims
@dataclass(frozen=True)
class DepthClaim:
    """A claim: ``name``, ``title``, ``claim`` (one line), ``explanation`` (for a learner), ``source``
    (citation, what it shows, its numbers), ``budgets``, ``measure``, ``judge``, ``compare`` and ``figures``
    (``{"name", "kind", "x", "y", "series", "panels", "title", "caption"}`` over the rows)."""

    name: str
    title: str
    claim: str
    explanation: str
    source: Mapping[str, Any]
    budgets: Mapping[str, Mapping[str, Any]]
    measure: Callable[[dict, list[int]], list[dict]]
    judge: Callable[[list[dict], dict], list[Criterion]]
    compare: Callable[[list[dict], dict], list[dict]]
    figures: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


# -- deep residual networks without normalization ---------------------------------------------------------------
DEEP_INITS = ("he_normal", "fixup", "skipinit")


def measure_deep(b: dict, seeds: list[int]) -> list[dict]:
    """A residual MLP on digits with ``blocks`` blocks ``x + W₂·relu(W₁·x)`` of ``width`` units and no
    normalization, trained with SGD (momentum 0.9) from each paired seed under plain He (every layer
    N(0, 2/fan_in)), Fixup and SkipInit. Rows: init, seed, epoch, test_acc, train_loss, diverged, chance."""
    from .depth import digits_data, train_residual

    data = digits_data()
    counts = data.y_test.bincount(minlength=data.num_classes).double()
    chance = float(counts.max() / counts.sum())
    rows = []
    for init in DEEP_INITS:
        for seed in seeds:
            r = train_residual(init, seed, blocks=b["blocks"], width=b["width"], epochs=b["epochs"], lr=b["lr"],
                               momentum=b["momentum"], batch_size=b["batch_size"], data=data)
            for h in r["history"]:
                rows.append({"init": init, "seed": seed, "epoch": h["epoch"], "test_acc": h["test_acc"],
                             "train_loss": h["train_loss"], "diverged": r["diverged"], "chance": chance})
    return rows


def _final(rs):
    return max(rs, key=lambda r: r["epoch"])["test_acc"]


def judge_deep(rows: list[dict], b: dict) -> list[Criterion]:
    """He alone diverges or stalls on every seed (diverged, or final test accuracy ≤ chance + 10 points);
    Fixup and SkipInit train: their final test accuracy is at least ``train_acc`` (80 %)."""
    ch = rows[0]["chance"]
    he = [(_per_seed(rows, lambda rs: any(r["diverged"] for r in rs), init="he_normal")[i],
           _per_seed(rows, _final, init="he_normal")[i]) for i in range(len(_per_seed(rows, _final,
                                                                                         init="he_normal")))]
    return [every(f"plain He diverges or stalls: every seed diverges or ends ≤ chance + 10 points "
                  f"({100 * (ch + 0.1):.0f} %)", he, lambda v: v[0] or v[1] <= ch + 0.10),
            at_least(f"Fixup trains: final test accuracy ≥ {100 * b['train_acc']:.0f} %",
                     _per_seed(rows, _final, init="fixup"), b["train_acc"]),
            at_least(f"SkipInit trains: final test accuracy ≥ {100 * b['train_acc']:.0f} %",
                     _per_seed(rows, _final, init="skipinit"), b["train_acc"])]


def compare_deep(rows: list[dict], b: dict) -> list[dict]:
    fx = _per_seed(rows, _final, init="fixup")
    sk = _per_seed(rows, _final, init="skipinit")
    he = _per_seed(rows, lambda rs: any(r["diverged"] for r in rs), init="he_normal")
    return [{"quantity": "depth trained without normalization", "source": "10,000 layers (Fixup, Zhang et al. 2019)",
             "ours": f"{b['blocks']} blocks ({2 * b['blocks'] + 2} layers) on digits"},
            {"quantity": "Fixup", "source": "trains without normalization, matching BatchNorm on CIFAR-10",
             "ours": f"final test accuracy {100 * sum(fx) / len(fx):.1f}% (mean of {len(fx)} seeds)"},
            {"quantity": "SkipInit", "source": "trains deep ResNets without normalization (De & Smith 2020)",
             "ours": f"final test accuracy {100 * sum(sk) / len(sk):.1f}%"},
            {"quantity": "plain He", "source": "the stream's variance grows with every block (Zhang et al. 2019 §2)",
             "ours": f"diverged on {int(sum(he))} of {len(he)} seeds"}]


DEEP = DepthClaim(
    name="deep-residual",
    title="100 residual blocks without normalization: Fixup and SkipInit train, plain He does not",
    claim="Residual MLP, 100 blocks, no normalization: He alone diverges or stalls; Fixup and SkipInit train "
          "(Zhang et al. 2019; De & Smith 2020)",
    explanation=(
        "A residual block adds its branch to the stream: x + F(x). With He's variance on every layer each branch "
        "adds about twice the stream's variance (σ_v²σ_w²/2 = 2 for ReLU), so after 100 blocks the stream's "
        "variance is 3¹⁰⁰ times the input's, and the first forward pass overflows. Fixup scales every branch layer "
        "by L^(−1/(2m−2)) and zeroes each branch's last layer and the classifier; SkipInit multiplies every "
        "branch by a learnable scalar that starts at 0. Either way each block starts as the identity, and the "
        "network trains like a shallow one without any normalization."),
    source={"citation": "Zhang, Dauphin & Ma 2019, \"Fixup initialization: residual learning without "
                        "normalization\"; De & Smith 2020, \"Batch normalization biases residual blocks towards the "
                        "identity function in deep networks\" (SkipInit)",
            "shows": "Fixup trains a 10,000-layer residual network without normalization; SkipInit trains deep "
                     "ResNets without batch normalization",
            "numbers": {"layers trained (Fixup)": "10,000"}},
    budgets={"full": {"blocks": 100, "width": 32, "epochs": 6, "lr": 0.01, "momentum": 0.9, "batch_size": 64,
                      "train_acc": 0.8, "seeds": 5},
             "quick": {"blocks": 100, "width": 32, "epochs": 4, "lr": 0.01, "momentum": 0.9, "batch_size": 64,
                       "train_acc": 0.8, "seeds": 3}},
    measure=measure_deep, judge=judge_deep, compare=compare_deep,
    figures=({"name": "deep-residual-curves", "kind": "lines", "x": "epoch", "y": "test_acc", "series": "init",
              "title": "100 residual blocks, no normalization: test accuracy per epoch",
              "caption": "mean ± sd over paired seeds; plain He diverges in the first step"},),
)


# -- the residual stream at initialization --------------------------------------------------------------------
STREAM_INITS = ("he_normal", "scaled_residual", "depth_mup", "completep")


def measure_stream(b: dict, seeds: list[int]) -> list[dict]:
    """Pre-norm residual MLPs (``x + W₂·relu(W₁·LN(x))``, ``width`` units) of every depth L in ``blocks``, at
    initialization, under plain He (every layer N(0, 2/fan_in)), GPT-2's scaled residual on He (each
    branch's last layer ÷ √N), depth-μP (branches × L^(−1/2)) and CompleteP (× L^(−1)). Rows: init, seed,
    blocks (L), block, std (measured on 512 digits), pred_std (mean-field, from the same batch's input)."""
    from .depth import digits_data, stream_profile

    data = digits_data()
    rows = []
    for init in STREAM_INITS:
        for seed in seeds:
            for L in b["blocks"]:
                rows += [{**r, "last": r["block"] == L}
                         for r in stream_profile(init, seed, blocks=L, width=b["width"], norm="pre", data=data)]
    return rows


def _last(rs, key="std"):
    return max(rs, key=lambda r: r["block"])[key]


def _stream_slope(rs: list[dict], min_blocks: int) -> float:
    by_l: dict = {}
    for r in rs:
        by_l.setdefault(r["blocks"], []).append(r)
    ls = sorted(L for L in by_l if L >= min_blocks)
    return slope([math.log(L) for L in ls], [math.log(_last(by_l[L])) for L in ls])


def judge_stream(rows: list[dict], b: dict) -> list[Criterion]:
    """Plain He: the slope of log std(after the last block) against log L, over L ≥ ``fit_from``, lies in
    [0.4, 0.6] (√L: 0.5); each scaled recipe: the stream's std at the deepest L is at most ``bounded`` (2) ×
    its std at the shallowest; theory: |measured/predicted − 1| after the last block, averaged over every
    depth and recipe, is at most 10 %."""
    out = [within(f"plain He: std ∝ L^s with s in [0.4, 0.6] (√L), fitted over L ≥ {b['fit_from']}",
                  _per_seed(rows, lambda rs: _stream_slope(rs, b["fit_from"]), init="he_normal"), 0.4, 0.6)]
    lo, hi = min(b["blocks"]), max(b["blocks"])
    for init in STREAM_INITS[1:]:
        ratio = _per_seed(rows, lambda rs: _last([r for r in rs if r["blocks"] == hi]) /
                          _last([r for r in rs if r["blocks"] == lo]), init=init)
        out.append(at_most(f"{init}: std at L = {hi} ≤ {b['bounded']:g} × std at L = {lo} (O(1))", ratio,
                           b["bounded"]))
    out.append(at_most("theory: the stream after the last block within 10 % of the mean-field prediction "
                       "(mean |measured/predicted − 1| over every depth and recipe)", _per_seed(rows, _stream_error),
                       0.10))
    return out


def _stream_error(rs: list[dict]) -> float:
    last = [r for r in rs if r["last"]]
    return sum(abs(r["std"] / r["pred_std"] - 1) for r in last) / len(last)


def compare_stream(rows: list[dict], b: dict) -> list[dict]:
    he = _per_seed(rows, lambda rs: _stream_slope(rs, b["fit_from"]), init="he_normal")
    err = _per_seed(rows, _stream_error)
    return [{"quantity": "pre-norm stream, unscaled branches", "source": "variance ∝ L (Yang & Schoenholz 2017; "
             "GPT-2 §2.3)", "ours": f"std ∝ L^{sum(he) / len(he):.2f}"},
            {"quantity": "branches ÷ √N or × L^(−α)", "source": "stream O(1) (Radford et al. 2019; Dey et al. 2025)",
             "ours": "see the ratios of the criteria"},
            {"quantity": "mean-field recursion vs measurement", "source": "exact at infinite width",
             "ours": f"mean error {100 * sum(err) / len(err):.1f}% after the last block (width {b['width']})"}]


STREAM = DepthClaim(
    name="residual-stream",
    title="The residual stream grows like √L unless the branches are scaled",
    claim="At init the pre-norm stream's std grows like √L under plain He and stays O(1) under scaled residual, "
          "depth-μP and CompleteP; mean-field theory predicts it within 10 %",
    explanation=(
        "In x + F(LN(x)) every branch reads a normalized input, so it adds the same variance c to the stream each "
        "time: after L blocks the stream's variance is p₀ + L·c, its std ∝ √L (Yang & Schoenholz 2017 give the "
        "recursion). GPT-2 divides each branch's last layer by √N, depth-μP multiplies each branch by L^(−1/2), "
        "CompleteP by L^(−1): the sum of L branches then stays O(1). The dashed lines are initlab's mean-field "
        "prediction for the very same model (initlab.theory.predict_graph)."),
    source={"citation": "Yang & Schoenholz 2017, \"Mean field residual networks: on the edge of chaos\"; Radford et "
                        "al. 2019 (GPT-2 §2.3); Dey et al. 2025 (CompleteP)",
            "shows": "the stream's variance adds up over the blocks; scaling the branches by 1/√N (or L^(−α)) keeps "
                     "it bounded",
            "numbers": {"growth of the unscaled pre-norm stream": "variance ∝ L"}},
    budgets={"full": {"blocks": (1, 2, 4, 8, 16, 32, 64), "width": 256, "fit_from": 8, "bounded": 2.0, "seeds": 5},
             "quick": {"blocks": (1, 4, 16, 64), "width": 256, "fit_from": 4, "bounded": 2.0, "seeds": 3}},
    measure=measure_stream, judge=judge_stream, compare=compare_stream,
    figures=({"name": "residual-stream-std", "kind": "lines", "x": "blocks", "y": "std", "series": "init",
              "pred": "pred_std", "logx": True, "logy": True, "where": {"last": True},
              "title": "std of the residual stream after the last block, against depth L",
              "caption": "measured (solid) and mean-field (dashed), mean over paired seeds"},),
)


# -- a transformer at growing depth ---------------------------------------------------------------------------
LM_INITS = ("auto", "scaled_residual", "completep")


def measure_lm(b: dict, seeds: list[int]) -> list[dict]:
    """The character-level transformer (pre-norm, width ``width``, 2 heads, context ``context``) at every depth
    in ``depths``, trained ``steps`` Adam steps (lr ``lr``, batch ``batch_size``) on the Python standard
    library's source from each paired seed, under initlab's ``auto`` (unscaled: He before GELU, Glorot
    elsewhere), ``scaled_residual`` (each branch's last layer ÷ √N) and CompleteP (branches × (L/2)^(−1)).
    Rows: init, seed, depth, val_loss (nats per character, 4 fixed validation batches), diverged."""
    from .depth import train_lm_seeds

    rows = []
    for init in LM_INITS:
        for depth in b["depths"]:
            for r in train_lm_seeds(init, seeds, depth=depth, width=b["width"], context=b["context"],
                                    steps=b["steps"], batch_size=b["batch_size"], lr=b["lr"], base_depth=2):
                rows.append({k: r[k] for k in ("init", "seed", "depth", "val_loss", "diverged")})
    return rows


def _lm_slope(rs: list[dict]) -> float:
    rs = sorted(rs, key=lambda r: r["depth"])
    return slope([math.log2(r["depth"]) for r in rs], [r["val_loss"] for r in rs])


def judge_lm(rows: list[dict], b: dict) -> list[Criterion]:
    """Per seed, the slope of the validation loss against log₂ depth (nats per doubling): unscaled (``auto``)
    gets worse — slope > 0; the better of scaled residual and CompleteP is flat or improving — slope ≤
    ``flat`` (0.01); and it beats the unscaled slope on the same seeds."""
    auto = _per_seed(rows, _lm_slope, init="auto")
    best = [min(a, c) for a, c in zip(_per_seed(rows, _lm_slope, init="scaled_residual"),
                                      _per_seed(rows, _lm_slope, init="completep"))]
    return [at_least("unscaled (auto) gets worse with depth: loss slope per doubling > 0", auto, 0.0),
            at_most(f"scaled residual or CompleteP (the better) stays flat or improves: slope ≤ {b['flat']:g}",
                    best, b["flat"]),
            greater("…and its slope is below the unscaled one on the same seeds", auto, best, 0.0)]


def compare_lm(rows: list[dict], b: dict) -> list[dict]:
    out = []
    for init in LM_INITS:
        s = _per_seed(rows, _lm_slope, init=init)
        out.append({"quantity": f"loss slope per doubling of depth, {init}",
                    "source": {"auto": "worse with depth at fixed steps", "scaled_residual": "flat (GPT-2 §2.3)",
                               "completep": "improving with depth (Dey et al. 2025, Fig. 1)"}[init],
                    "ours": f"{sum(s) / len(s):+.3f} nats (mean of {len(s)} seeds, depths {list(b['depths'])})"})
    return out


LM = DepthClaim(
    name="depth-lm",
    title="A transformer at depths 2 to 32: scaled branches keep deeper models as good or better",
    claim="Character transformer, depths 2–32, fixed steps: scaled residual or CompleteP flat or improving with "
          "depth; the unscaled init gets worse",
    explanation=(
        "A deeper pre-norm transformer should not be worse after the same number of steps. Unscaled, every branch "
        "adds to the stream and the deep model's early updates are dominated by its many branches; GPT-2 scales "
        "each branch's last layer by 1/√N, CompleteP multiplies each branch by L^(−1) and keeps the learning "
        "rate. The curves are the validation loss (nats per character) after a fixed number of Adam steps on "
        "the Python standard library's own source, over paired seeds."),
    source={"citation": "Radford et al. 2019 (GPT-2, §2.3); Dey et al. 2025, \"Don't be lazy: CompleteP enables "
                        "compute-efficient deep transformers\"",
            "shows": "with CompleteP deeper models reach a lower loss at the same learning rate; unscaled models "
                     "need the learning rate re-tuned with depth",
            "numbers": {"CompleteP FLOP savings over μP (deep models)": "12–34 %"}},
    budgets={"full": {"depths": (2, 4, 8, 16, 32), "width": 32, "context": 16, "steps": 100, "batch_size": 16,
                      "lr": 3e-3, "flat": 0.01, "seeds": 5},
             "quick": {"depths": (2, 16), "width": 32, "context": 16, "steps": 60, "batch_size": 16, "lr": 3e-3,
                       "flat": 0.01, "seeds": 3}},
    measure=measure_lm, judge=judge_lm, compare=compare_lm,
    figures=({"name": "depth-lm-loss", "kind": "lines", "x": "depth", "y": "val_loss", "series": "init",
              "logx": True, "title": "validation loss after a fixed number of steps, against depth",
              "caption": "nats per character, mean ± sd over paired seeds"},),
)


# -- ZerO -----------------------------------------------------------------------------------------------------
def _weights_digest(model) -> str:
    h = hashlib.sha256()
    for _, p in sorted(model.named_parameters()):
        h.update(p.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def measure_zero(b: dict, seeds: list[int]) -> list[dict]:
    """A ReLU MLP (``depth`` hidden layers of ``width``) on digits, trained with SGD (momentum 0.9) from each
    paired seed (the data order) under He and under ZerO. Rows: scheme, seed, epoch, test_acc, and at
    epoch 0 ``weights`` (a digest of the initial parameters)."""
    from .models import build_model
    from .trainer import TrainConfig, train

    from .depth import digits_data

    data = digits_data()
    rows = []
    for scheme in ("he_normal", "ZerO"):
        for seed in seeds:
            cfg = TrainConfig(dataset="digits", depth=b["depth"], width=b["width"], scheme=scheme, lr=b["lr"],
                              momentum=0.9, epochs=b["epochs"], batch_size=b["batch_size"], seed=seed,
                              grad_std_steps=())
            digest = _weights_digest(build_model(cfg.model_spec(), data.input_shape, data.num_classes, seed=seed))
            r = train(cfg, data)
            for h in r.history:
                rows.append({"scheme": scheme, "seed": seed, "epoch": h["epoch"], "test_acc": h["test_acc"],
                             **({"weights": digest} if h["epoch"] == 0 else {})})
    return rows


def judge_zero(rows: list[dict], b: dict) -> list[Criterion]:
    """ZerO is within ``tolerance`` (1 point) of He's final test accuracy (paired: the interval of He − ZerO
    lies below 1 point); every seed draws the same ZerO weights (bit for bit) — and different He weights,
    the reference that shows the check can tell them apart."""
    he = _per_seed(rows, _final, scheme="he_normal")
    zero = _per_seed(rows, _final, scheme="ZerO")
    z0 = [r["weights"] for r in rows if r["scheme"] == "ZerO" and r["epoch"] == 0]
    h0 = [r["weights"] for r in rows if r["scheme"] == "he_normal" and r["epoch"] == 0]
    return [no_worse(f"ZerO trains as well as He: final accuracy within {100 * b['tolerance']:.0f} point",
                     he, zero, b["tolerance"]),
            every("ZerO: the same initial weights for every seed (zero variance between seeds)", z0,
                  lambda d: d == z0[0]),
            every("He: different initial weights for every seed (the check can tell)", h0,
                  lambda d: h0.count(d) == 1)]


def compare_zero(rows: list[dict], b: dict) -> list[dict]:
    he = _per_seed(rows, _final, scheme="he_normal")
    zero = _per_seed(rows, _final, scheme="ZerO")
    return [{"quantity": "ZerO against random init", "source": "matches or beats random init on CIFAR-10 and "
             "ImageNet ResNets (Zhao et al. 2022, Table 2)", "ours": f"digits MLP: ZerO {100 * sum(zero) / len(zero):.1f}% "
             f"vs He {100 * sum(he) / len(he):.1f}%"},
            {"quantity": "variance between seeds at init", "source": "none: deterministic",
             "ours": "identical bits for every seed"}]


ZERO = DepthClaim(
    name="zero-init",
    title="ZerO: zeros, ones and Hadamard matrices train as well as He, and every seed starts the same",
    claim="ZerO trains digits as well as He (within 1 point over seeds) with zero variance between seeds at init "
          "(Zhao et al. 2022)",
    explanation=(
        "ZerO initializes every weight matrix with an identity (a partial identity when the layer narrows) or, "
        "when it widens, a Hadamard matrix scaled to be orthogonal: no random numbers at all. The symmetry that "
        "makes a constant init fail is broken by the Hadamard matrix's signs and the identity's distinct rows, "
        "so the units still learn different features, and two runs differ only in the order of the data."),
    source={"citation": "Zhao, Schäfer & Anandkumar 2022, \"ZerO initialization: initializing neural networks "
                        "with only zeros and ones\"",
            "shows": "ZerO matches random initialization on CIFAR-10 and ImageNet ResNets, deterministically",
            "numbers": {"variance between seeds at init": "0"}},
    budgets={"full": {"depth": 4, "width": 128, "epochs": 10, "lr": 0.05, "batch_size": 64, "tolerance": 0.01,
                      "seeds": 8},
             "quick": {"depth": 4, "width": 128, "epochs": 8, "lr": 0.05, "batch_size": 64, "tolerance": 0.01,
                       "seeds": 3}},
    measure=measure_zero, judge=judge_zero, compare=compare_zero,
    figures=({"name": "zero-init-curves", "kind": "lines", "x": "epoch", "y": "test_acc", "series": "scheme",
              "title": "ReLU MLP on digits: ZerO against He", "caption": "test accuracy, mean ± sd over seeds"},),
)

DEPTH_CLAIMS: dict[str, DepthClaim] = {c.name: c for c in (DEEP, STREAM, LM, ZERO)}


def run_claim(name: str, budget: str = "quick", seed: int = 0) -> dict:
    """Measure and judge one depth claim: ``{"name", "verdict", "criteria", "rows", "comparison", "settings",
    "seeds"}`` (with one torch thread, restored afterwards)."""
    from .._threads import torch_threads
    from ..errors import check_choice

    claim = DEPTH_CLAIMS[check_choice("name", name, DEPTH_CLAIMS)]
    b = dict(claim.budgets[check_choice("budget", budget, ("full", "quick"))])
    seeds = [seed + k for k in range(int(b["seeds"]))]
    with torch_threads(1):
        rows = claim.measure(b, seeds)
    criteria = claim.judge(rows, b)
    return {"name": name, "verdict": verdict(criteria), "criteria": [c.to_dict() for c in criteria], "rows": rows,
            "comparison": claim.compare(rows, b), "settings": b, "seeds": seeds}
