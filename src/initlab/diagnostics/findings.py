"""``diagnose``: name what is wrong with an initialization, where, with the numbers, and the fix.

**To add a finding, write a check and add a row to** :data:`CHECKS` **(this file only).** A check
reads a :class:`_View` of the probe's records (rows, weight layers paired with their activations,
the signal and gradient ratios) and returns a :class:`Finding` or None.

The failures are the ones the initialization literature describes (CLAIMS.md):

* **nonfinite** — NaN/Inf in the inputs, the activations or the gradients;
* **symmetric** — units of a layer start identical (zero or constant init) and get identical
  updates forever, so the layer has the capacity of one unit;
* **vanishing** / **exploding** — each layer multiplies the signal's variance by about
  fan_in·σ_w²·E[φ′²] (·½ for ReLU, He et al. 2015); over L layers that is a power of L, forward for
  the activations and backward for the gradients (Glorot & Bengio 2010);
* **saturated** — tanh/sigmoid units pinned at their flat ends, derivative ≈ 0 (Glorot & Bengio 2010);
* **dead** — ReLU units that output 0 for every sample and pass no gradient;
* **residual** — in a residual network the branches add their variance to the stream, so the stream
  grows with the number of branches (Yang & Schoenholz 2017) even where every layer keeps its own
  variance; the fix is a recipe that scales the branches: ``skipinit`` (a zero-initialized scalar per
  branch, De & Smith 2020) for a network without normalization, ``scaled_residual`` (GPT-2's 1/√N on
  each branch's last layer) where the branches read the stream through a normalization (pre-norm);
* **healthy** — none of the above.

What the initialization is answerable for: the signal and gradient ratios multiply each weight
layer's own factor (its input to the output of the activation that follows it, and back), leaving
out what the layers between blocks do (pooling, reshaping, dropout); after a normalization layer
the scale is the normalization's, so the product starts again there.

The fix names, per weight layer, the scheme the activation catalogue (:mod:`initlab.activations`)
recommends for the activation that follows it — He (``he_normal``) for the ReLU family, Glorot
(``glorot_normal``) for tanh/sigmoid-like activations and for layers with no activation, LeCun
(``lecun_normal``) for SELU (Klambauer et al. 2017) — or ``"lsuv"`` (Mishkin & Matas 2015) where
the catalogue says why no scheme fits (GELU, SiLU, ELU …). A fix never prescribes what a layer
already has: layers whose weights already have the recommended scheme's std (and whose biases
are negligible) are left out, and when that leaves nothing, the fix is ``"lsuv"``, which measures
instead (``Finding.fix_reason`` says so). Embedding tables are left out too: no fan-in rule applies.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable

from ..activations import find_row
from ..errors import InitlabError, check_type, fail

__all__ = ["Thresholds", "Finding", "diagnose", "KINDS", "CHECKS", "Check", "scheme_for"]


def scheme_for(activation: str | None) -> str:
    """The scheme the findings recommend for a layer followed by ``activation`` (a catalogue name;
    None or ``"linear"`` for none), or ``"lsuv"`` when the catalogue has no scheme for it.

    >>> scheme_for("relu"), scheme_for(None), scheme_for("gelu")
    ('he_normal', 'glorot_normal', 'lsuv')
    """
    hit = find_row(activation or "linear")
    return hit[0].recommend or "lsuv" if hit is not None else "lsuv"


@dataclass(frozen=True)
class Thresholds:
    """When :func:`diagnose` names a failure. Ratios compare mean squares (variances), not stds.

    vanishing
        Forward: the signal's mean square entering a weight layer (and leaving the last one), as
        the product of the weight layers' own factors since the first layer or the last
        normalization, below this. Backward: a layer's output gradient variance, as the same kind
        of product, below this fraction of the last weight layer's. Default 1e-3 (the std shrinks
        more than ~32×).
    exploding
        The same ratios above this. Default 1e3.
    saturated
        Fraction of an activation's outputs on a flat end (rules in the activation catalogue,
        :mod:`initlab.activations`) above this. Default 0.2.
    dead
        Fraction of a ReLU layer's units that are 0 for the whole batch above this. Default 0.6:
        deep ReLU nets at a healthy (He) init see up to about half their units silent on one batch
        of digits (46–49 % at depth 50, 52–53 % at depth 100, width 128), because the deep
        representations of different inputs become correlated.
    symmetric
        Fraction of a layer's units that duplicate another above this. Default 0: any duplicate.
    residual
        The residual stream's mean square after the last branch, relative to the stream the first
        branch reads, above this (with two or more branches). Default 4 (the stream's std doubles):
        a stream scaled as GPT-2, Fixup, SkipInit or depth-μP scale it stays within 2×.

    >>> Thresholds(vanishing=1e-4).exploding
    1000.0
    """

    vanishing: float = 1e-3
    exploding: float = 1e3
    saturated: float = 0.2
    dead: float = 0.6
    symmetric: float = 0.0
    residual: float = 4.0

    def __post_init__(self):
        for name in ("vanishing", "exploding"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise fail(f"thresholds.{name}", v, "a finite number > 0")
        if not self.vanishing < 1 < self.exploding:
            raise InitlabError(f"thresholds: got vanishing={self.vanishing!r}, exploding={self.exploding!r}; "
                               "allowed: vanishing < 1 < exploding")
        if isinstance(self.residual, bool) or not isinstance(self.residual, (int, float)) or \
                not math.isfinite(self.residual) or self.residual <= 1:
            raise fail("thresholds.residual", self.residual, "a finite number > 1")
        for name in ("saturated", "dead", "symmetric"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise fail(f"thresholds.{name}", v, "a fraction in [0, 1)")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: its ``kind`` (one of :data:`KINDS`), the ``layers`` it concerns, the
    ``evidence`` (numbers), the ``fix`` (layer → scheme, ``"lsuv"``, or None when no
    initialization can fix it), a one-line ``message`` and ``fix_reason`` (why the fix is not the
    plain rule of thumb, when it is not)."""

    kind: str
    layers: tuple[str, ...]
    evidence: dict = field(default_factory=dict)
    fix: dict | str | None = None
    message: str = ""
    fix_reason: str = ""

    def __str__(self) -> str:
        shown = ", ".join(repr(n) for n in self.layers[:4]) + (f" … ({len(self.layers)} layers)"
                                                               if len(self.layers) > 4 else "")
        text = f"{self.kind}: {self.message}"
        if self.layers:
            text += f" [{shown}]"
        return text if self.kind == "healthy" else text + f" -> fix: {describe_fix(self.fix)}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = list(self.layers)
        d["evidence"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in self.evidence.items()}
        return d


def describe_fix(fix) -> str:
    """A fix in words: ``he_normal for 20 layers, glorot_normal for 1 layer``, ``lsuv``, or none."""
    if fix is None:
        return "none by initialization (see the message)"
    if isinstance(fix, str):
        return fix
    counts: dict[str, int] = {}
    for scheme in fix.values():
        counts[scheme] = counts.get(scheme, 0) + 1
    return ", ".join(f"{s} for {n} layer{'s' if n > 1 else ''}" for s, n in counts.items())


def _fin(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _g(x: float) -> str:
    return f"{x:.3g}"


# --------------------------------------------------------------------------- what the checks read


@lru_cache(maxsize=256)
def _scheme_std(scheme: str, fan_in: int, fan_out: int) -> float:
    from ..schemes.registry import get

    return get(scheme).distribution((fan_out, fan_in)).std


def in_use(row: dict, scheme: str) -> bool:
    """Whether a weight layer's row already has ``scheme``: its weights' root mean square is that
    scheme's std for the layer's fans (within 3 % plus three standard errors of a sample of its size)
    and its bias holds under 1 % of the output's mean square. Slopes of leaky activations are not
    recorded, so He is taken at slope 0 (2 % off at slope 0.2)."""
    if scheme == "lsuv" or not (_fin(row["fan_in"]) and _fin(row["fan_out"]) and _fin(row["weight_std"])):
        return False
    target = _scheme_std(scheme, int(row["fan_in"]), int(row["fan_out"]))
    if not target > 0 or not row["weight_std"] > 0:
        return False
    n = (row["weight_norm"] / row["weight_std"]) ** 2 if _fin(row["weight_norm"]) else 1.0
    if abs(row["weight_std"] / target - 1.0) > 0.03 + 3.0 / math.sqrt(2.0 * max(n, 1.0)):
        return False
    bias, out = row["bias_rms"], row["ms"]
    return not (_fin(bias) and _fin(out) and bias * bias > 0.01 * out)


class _View:
    """What every check reads, computed once from the records: the rows, the weight layers paired
    with their activations, the forward and backward ratios, and the fix rule."""

    def __init__(self, records):
        self.records = records
        self.rows = list(records.rows)
        self.loss = records.loss
        self.pairs = records.pairs()
        self.weights = [w for w, _ in self.pairs]
        self.producer = {a["index"]: w for w, a in self.pairs if a is not None}
        self._residual_view()
        self.forward, self.pre_ratio = self._forward()
        self.backward = self._backward()
        if self.closed:  # a branch that starts at zero is the identity at init: its layers are not judged
            self.forward = [(w, x) for w, x in self.forward if not self._in_closed(w)]
            self.backward = [(w, x) for w, x in self.backward if not self._in_closed(w)]
        if self.residual and self.weights and self.weights[-1]["weight_norm"] == 0:
            # a classifier initialized to exactly zero (Fixup's rule 1) outputs 0 by design
            self.forward = [(w, x) for w, x in self.forward[:-1]] + [
                (w, x) for w, x in self.forward[-1:] if w is not self.weights[-1] or x > 0]

    def _residual_view(self) -> None:
        """In a residual network (the probe tagged weight rows with their ``branch``), a layer that reads
        the stream (a branch's first layer, the readout) starts the products again — the stream's own
        growth is the ``residual`` finding's — and a branch whose last layer outputs exactly 0 (Fixup's
        zero layer, SkipInit's α = 0) is *closed*: the identity at init, by design."""
        self.residual = any(isinstance(w.get("branch"), str) for w in self.weights)
        self.closed = {w["branch"].split("/")[1] for w in self.weights if isinstance(w.get("branch"), str)
                       and w["branch"].split("/")[0] in ("out", "in+out") and w["ms"] == 0}

    def _in_closed(self, w) -> bool:
        b = w.get("branch")
        return isinstance(b, str) and b.split("/")[1] in self.closed

    def ends_branch(self, w) -> bool:
        """The last layer of a residual branch: the gradient reaches the layers before it through its
        weights, which recipes start at or near zero (Fixup), by design — not a decay with depth."""
        b = w.get("branch") if self.residual else None
        return isinstance(b, str) and b.split("/")[0] == "out"

    def reads_stream(self, w) -> bool:
        """A weight layer of a residual network that reads the stream (not a later layer of a branch)."""
        if not self.residual:
            return False
        b = w.get("branch")
        return not (isinstance(b, str) and b.split("/")[0] in ("mid", "out"))

    def _forward(self) -> tuple[list[tuple[dict, float]], dict[int, float]]:
        """``[(weight row, ratio)]``: the signal's mean square entering each weight layer after the
        first (and leaving the last), as the product of the blocks' own factors ``ms(block output) /
        ms(block input)``; restarted at 1 after a normalization or an unmeasured block. Also the ratio
        at each weight layer's own output (``pre_ratio``)."""
        out: list[tuple[dict, float]] = []
        pre: dict[int, float] = {}
        if not self.weights:
            return out, pre
        c = 1.0
        for i, w in enumerate(self.weights):
            if i > 0:
                if w["after_norm"] == 1 or self.reads_stream(w):
                    c = 1.0
                out.append((w, c))
            block, m_in = self.records.block_output(w), w["input_ms"]
            if not (_fin(m_in) or m_in == math.inf):  # unmeasured (integer indices): start again after it
                pre[w["index"]], c = math.nan, 1.0
            elif m_in == 0:  # nothing left to scale: the signal stays gone
                pre[w["index"]] = c * 0.0
            else:
                pre[w["index"]] = c * w["ms"] / m_in
                c *= block["ms"] / m_in
        last = self.weights[-1]
        if _fin(last["ms"]) or last["ms"] == math.inf:
            out.append((last, c))
        return out, pre

    def _backward(self) -> list[tuple[dict, float]]:
        """``[(weight row, ratio)]``: the gradient's variance at each weight layer's output relative to
        the last weight layer's, as the product of each layer's own factor (output gradient to input
        gradient) and its activation's, leaving out the layers between blocks; restarted at 1 after a
        normalization."""
        ws = [w for w in self.weights if _fin(w["grad_std"])]
        if not ws or not ws[-1]["grad_std"] > 0:
            return []
        out: list[tuple[dict, float]] = []
        g = 1.0
        for w, nxt in zip(ws[-2::-1], ws[:0:-1]):
            block = self.records.block_output(w)
            g_out = block["grad_std"] ** 2 if _fin(block["grad_std"]) else w["grad_std"] ** 2
            g_in = nxt["input_grad_std"] ** 2 if _fin(nxt["input_grad_std"]) else g_out
            g = 1.0 if nxt["after_norm"] == 1 or self.reads_stream(nxt) or self.ends_branch(nxt) else \
                g * _ratio(g_in, nxt["grad_std"] ** 2, default=1.0)
            g *= _ratio(w["grad_std"] ** 2, g_out, default=1.0)
            out.append((w, g))
        return out[::-1]

    def fix(self, rows) -> tuple[dict | str | None, str]:
        """The fix for these weight layers, and why it is not the plain rule when it is not (see the
        module docstring)."""
        fix, kept = {}, []
        for r in rows:
            if r["kind"] == "Embedding":  # a lookup table, not a sum over fan_in inputs: the rules do not apply
                continue
            scheme = scheme_for(r["activation"])
            if scheme == "lsuv":
                hit = find_row(r["activation"] or "linear")
                reason = hit[0].reason if hit is not None else f"{r['activation']!r} is not in the catalogue"
                return "lsuv", f"{r['activation']} at {r['layer']!r}: {reason}"
            if in_use(r, scheme):
                kept.append(scheme)
            else:
                fix[r["layer"]] = scheme
        if fix:
            return fix, ""
        if not kept:
            return None, "no fan-in rule applies to these layers (embedding tables only)"
        schemes = ", ".join(sorted(set(kept)))
        return "lsuv", (f"{schemes} is already in use at every layer concerned, so re-drawing it changes nothing; "
                        "LSUV (Mishkin & Matas 2015) measures each layer's output instead")


def _ratio(a, b, default=math.nan) -> float:
    if not (_fin(a) or a == math.inf) or not _fin(b) or b <= 0:
        return default
    return a / b


# --------------------------------------------------------------------------- the checks, one per kind


def _nonfinite(v: _View, th: Thresholds) -> Finding | None:
    inputs = [r for r in v.rows if r["role"] == "input"]
    bad_input = sum(int(r["nonfinite"]) for r in inputs)
    fwd_bad = [r for r in v.rows if r["role"] != "input" and r["nonfinite"] > 0]
    bwd_bad = [r for r in v.rows if r["grad_nonfinite"] > 0]
    if not (bad_input or fwd_bad or bwd_bad or not _fin(v.loss)):
        return None
    evidence = {"input_nonfinite": bad_input, "layers_forward": len(fwd_bad), "layers_backward": len(bwd_bad),
                "loss": v.loss}
    names = [r["layer"] for r in fwd_bad] + [r["layer"] for r in bwd_bad if r not in fwd_bad]
    if bad_input:
        msg = (f"the inputs hold {bad_input} NaN/Inf value(s); they propagate through every layer - clean "
               "or impute the data first")
        return Finding("nonfinite", tuple(dict.fromkeys(names)), evidence, None, msg)
    where = (f"first in the forward pass at {fwd_bad[0]['layer']!r}" if fwd_bad else
             f"first in the backward pass at {bwd_bad[-1]['layer']!r}" if bwd_bad else "in the loss")
    fix, why = v.fix(v.weights)
    return Finding("nonfinite", tuple(dict.fromkeys(names)), evidence, fix, f"values overflow to NaN/Inf {where}",
                   why)


def _symmetric(v: _View, th: Thresholds) -> Finding | None:
    # the last weight layer is left out: the loss sends each of its units a different error, so
    # identical starting weights there do not stay identical (zero-initialized heads are common); so is
    # the last layer of a residual branch, whose units get the stream's gradient, different per unit
    # (Fixup's zero-initialized branch layers)
    sym = [r for r in v.weights[:-1] if _fin(r["units"]) and _fin(r["distinct_units"]) and r["units"] >= 2
           and (r["units"] - r["distinct_units"]) / r["units"] > th.symmetric
           and not (isinstance(r.get("branch"), str) and r["branch"].split("/")[0] in ("out", "in+out"))]
    if not sym:
        return None
    worst = min(sym, key=lambda r: r["distinct_units"] / r["units"])
    evidence = {"layers": len(sym), "min_distinct_units": int(worst["distinct_units"]), "units": int(worst["units"])}
    msg = (f"{len(sym)} layer(s) have duplicate units (same weights, same outputs): as few as "
           f"{int(worst['distinct_units'])} distinct of {int(worst['units'])} at {worst['layer']!r}; duplicates "
           "get identical gradients and never separate")
    return Finding("symmetric", tuple(r["layer"] for r in sym), evidence, *_fix_args(v, sym, msg))


def _fix_args(v: _View, rows, msg: str) -> tuple:
    fix, why = v.fix(rows)
    return fix, msg, why


def _variance_check(kind: str, bad: Callable[[float], bool], pick) -> Callable[[_View, Thresholds], Finding | None]:
    def check(v: _View, th: Thresholds) -> Finding | None:
        f_hits = [(r, x) for r, x in v.forward if bad(th, x)]
        b_hits = [(r, x) for r, x in v.backward if bad(th, x)]
        if not (f_hits or b_hits):
            return None
        parts, evidence = [], {}
        if f_hits:
            r, x = pick(f_hits, key=lambda t: t[1])
            evidence.update(signal_ratio=x, layers_forward=len(f_hits))
            parts.append(f"the signal's mean square reaches {_g(x)}x its starting level at {r['layer']!r}")
        if b_hits:
            r, x = pick(b_hits, key=lambda t: t[1])
            evidence.update(grad_ratio=x, layers_backward=len(b_hits))
            parts.append(f"the gradient's variance reaches {_g(x)}x the last layer's at {r['layer']!r}")
        names = sorted({r["layer"]: r["index"] for r, _ in f_hits + b_hits}.items(), key=lambda t: t[1])
        return Finding(kind, tuple(n for n, _ in names), evidence, *_fix_args(v, v.weights, "; ".join(parts)))

    return check


def _saturated(v: _View, th: Thresholds) -> Finding | None:
    sat = [r for r in v.rows if r["role"] == "activation" and _fin(r["frac_saturated"])
           and r["frac_saturated"] > th.saturated]
    if not sat:
        return None
    worst = max(sat, key=lambda r: r["frac_saturated"])
    evidence = {"layers": len(sat), "max_fraction": worst["frac_saturated"],
                "mean_fraction": sum(r["frac_saturated"] for r in sat) / len(sat)}
    msg = (f"{len(sat)} activation(s) have more than {th.saturated:.0%} of outputs on a flat end, up to "
           f"{worst['frac_saturated']:.0%} at {worst['layer']!r} ({worst['activation']}): their derivative is ~0")
    return Finding("saturated", tuple(r["layer"] for r in sat), evidence, *_producers_fix(v, sat, msg))


def _producers_fix(v: _View, act_rows, msg: str) -> tuple:
    fixed = [v.producer[r["index"]] for r in act_rows if r["index"] in v.producer]
    return _fix_args(v, fixed, msg) if fixed else ("lsuv", msg, "no weight layer precedes these activations")


def _dead(v: _View, th: Thresholds) -> Finding | None:
    dead = [r for r in v.rows if r["role"] == "activation" and _fin(r["frac_dead"]) and r["frac_dead"] > th.dead
            and not _signal_gone(v, r, th)]
    if not dead:
        return None
    worst = max(dead, key=lambda r: r["frac_dead"])
    evidence = {"layers": len(dead), "max_fraction": worst["frac_dead"]}
    msg = (f"{len(dead)} ReLU layer(s) have more than {th.dead:.0%} of units at 0 for the whole batch, up to "
           f"{worst['frac_dead']:.0%} at {worst['layer']!r}; dead units pass no gradient (check negative "
           "biases too)")
    return Finding("dead", tuple(r["layer"] for r in dead), evidence, *_producers_fix(v, dead, msg))


def _signal_gone(v: _View, act_row: dict, th: Thresholds) -> bool:
    """A dead activation whose pre-activations have already vanished is reported as vanishing,
    not dead: its zeros come from a signal that underflowed, not from a bias or a scale."""
    w = v.producer.get(act_row["index"])
    ratio = v.pre_ratio.get(w["index"], math.nan) if w is not None else math.nan
    return _fin(ratio) and ratio < th.vanishing


def _residual(v: _View, th: Thresholds) -> Finding | None:
    streams = [r for r in v.rows if r["role"] == "stream"]
    if len(streams) < 3 or not (_fin(streams[0]["ms"]) and streams[0]["ms"] > 0):
        return None
    branches = len(streams) - 1
    last = streams[-1]["ms"]
    ratio = last / streams[0]["ms"] if (_fin(last) or last == math.inf) else math.inf
    if not ratio > th.residual:
        return None
    prenorm = any(r["after_norm"] == 1 for r in streams)
    per = ratio ** (1.0 / branches) if math.isfinite(ratio) else math.inf
    evidence = {"stream_ratio": ratio, "per_branch": per, "branches": branches, "prenorm": int(prenorm)}
    pred = [r["pred_out_var"] for r in (streams[0], streams[-1])]
    if all(_fin(x) and x > 0 for x in pred):
        evidence["predicted_ratio"] = pred[1] / pred[0]
    how = ("linearly with the number of branches (std ∝ √N): the branches read the stream through a "
           "normalization, but add to it unscaled" if prenorm else
           f"by {_g(per)}x per branch: each branch adds its variance to the stream (Yang & Schoenholz 2017)")
    fix = "scaled_residual" if prenorm else "skipinit"
    msg = (f"the residual stream's mean square grows {_g(ratio)}x over {branches} branches, {how}; scale the "
           "branches (recipes: skipinit or rezero — a zero-initialized scalar per branch; fixup; scaled_residual "
           "or gpt2 — the last layer of each branch ÷ √N)")
    return Finding("residual", tuple(r["layer"] for r in streams[1:]), evidence, fix, msg,
                   f"recipe {fix!r}: " + ("GPT-2's 1/√N on each branch's last layer keeps a pre-norm stream at "
                                          "O(1)" if prenorm else "a scalar 0 per branch starts every block as the "
                                          "identity (De & Smith 2020)"))


@dataclass(frozen=True)
class Check:
    """One kind of finding and the function that looks for it."""

    kind: str
    run: Callable[[_View, Thresholds], Finding | None]


CHECKS: tuple[Check, ...] = (
    Check("nonfinite", _nonfinite),
    Check("symmetric", _symmetric),
    Check("vanishing", _variance_check("vanishing", lambda th, x: x < th.vanishing, min)),
    Check("exploding", _variance_check("exploding", lambda th, x: x > th.exploding, max)),
    Check("saturated", _saturated),
    Check("dead", _dead),
    Check("residual", _residual),
)
"""The checks :func:`diagnose` runs, in order (most basic first)."""

KINDS = (*(c.kind for c in CHECKS), "healthy")


def _healthy(v: _View, th: Thresholds) -> Finding:
    evidence = {}
    if v.forward:
        evidence.update(signal_ratio_min=min(x for _, x in v.forward), signal_ratio_max=max(x for _, x in v.forward))
    if v.backward:
        evidence.update(grad_ratio_min=min(x for _, x in v.backward), grad_ratio_max=max(x for _, x in v.backward))
    msg = (f"{len(v.weights)} weight layer(s): signal and gradient variances stay within "
           f"[{_g(th.vanishing)}, {_g(th.exploding)}]x of their reference, no symmetry, saturation or dead layers")
    return Finding("healthy", tuple(r["layer"] for r in v.weights), evidence, None, msg)


def diagnose(records, thresholds: Thresholds | None = None) -> list[Finding]:
    """Name the failures in a probe's :class:`~initlab.diagnostics.LayerRecords` (see the module
    docstring), most basic first; a single ``healthy`` finding when there are none.

    NaN/Inf anywhere give a ``nonfinite`` finding; the other checks skip non-finite numbers.

    >>> import torch, torch.nn as nn, initlab
    >>> net = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    >>> _ = initlab.initialize(net, {"name": "constant", "params": {"value": 0.1}})
    >>> [str(f) for f in diagnose(initlab.probe(net, torch.randn(16, 8)))]  # doctest: +ELLIPSIS
    ["symmetric: 1 layer(s) have duplicate units ... as few as 1 distinct of 8 at '0'; ... -> fix: glorot_normal for 1 layer"]
    """
    from .probe import LayerRecords

    check_type("records", records, LayerRecords, "the LayerRecords of initlab.probe (or LayerRecords.from_json)")
    th = Thresholds() if thresholds is None else check_type("thresholds", thresholds, Thresholds,
                                                            "None or initlab.diagnostics.Thresholds")
    view = _View(records)
    findings = [f for f in (c.run(view, th) for c in CHECKS) if f is not None]
    return findings or [_healthy(view, th)]
