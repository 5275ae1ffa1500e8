"""``diagnose``: name what is wrong with an initialization, where, with the numbers, and the fix.

The failures are the ones the initialization literature describes (CLAIMS.md):

* **symmetric** — units of a layer start identical (zero or constant init) and get identical
  updates forever, so the layer has the capacity of one unit;
* **vanishing** / **exploding** — each layer multiplies the signal's variance by about
  fan_in·σ_w²·E[φ′²] (·½ for ReLU, He et al. 2015); over L layers that is a power of L, forward for
  the activations and backward for the gradients (Glorot & Bengio 2010);
* **saturated** — tanh/sigmoid units pinned at their flat ends, derivative ≈ 0 (Glorot & Bengio 2010);
* **dead** — ReLU units that output 0 for every sample and pass no gradient;
* **nonfinite** — NaN/Inf in the inputs, the activations or the gradients;
* **healthy** — none of the above.

The fix names, per weight layer, the scheme matched to the activation that follows it: He
(``he_normal``) for ReLU-family, Glorot (``glorot_normal``) for tanh/sigmoid-like and for layers with
no activation, LeCun (``lecun_normal``) for SELU (Klambauer et al. 2017) — or ``"lsuv"`` (Mishkin &
Matas 2015) when an activation has no such rule (GELU, SiLU, ELU …), since LSUV measures instead.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable

from ..errors import InitlabError

__all__ = ["Thresholds", "Finding", "diagnose", "KINDS", "scheme_for"]

KINDS = ("nonfinite", "symmetric", "vanishing", "exploding", "saturated", "dead", "healthy")

_SCHEMES = {
    "relu": "he_normal", "relu6": "he_normal", "leaky_relu": "he_normal", "prelu": "he_normal",
    "rrelu": "he_normal",
    "tanh": "glorot_normal", "sigmoid": "glorot_normal", "softsign": "glorot_normal", "hardtanh": "glorot_normal",
    "hardsigmoid": "glorot_normal", "linear": "glorot_normal",
    "selu": "lecun_normal",
}


def scheme_for(activation: str | None) -> str:
    """The scheme for a layer followed by ``activation``, or ``"lsuv"`` when no rule matches it."""
    return _SCHEMES.get(activation or "linear", "lsuv")


@dataclass(frozen=True)
class Thresholds:
    """When :func:`diagnose` names a failure. Ratios compare mean squares (variances), not stds.

    vanishing
        Forward: a weight layer's input mean square below this fraction of the first weight
        layer's input (the last layer's output is checked too). Backward: a layer's output
        gradient variance below this fraction of the last weight layer's. Default 1e-3 (the
        std shrinks more than ~32×).
    exploding
        The same ratios above this. Default 1e3.
    saturated
        Fraction of an activation's outputs on a flat end (rules in
        :mod:`initlab.diagnostics._sites`) above this. Default 0.2.
    dead
        Fraction of a ReLU layer's units that are 0 for the whole batch above this. Default 0.6:
        deep ReLU nets at a healthy (He) init see up to about half their units silent on one batch
        of digits (46–49 % at depth 50, 52–53 % at depth 100, width 128), because the deep
        representations of different inputs become correlated.
    symmetric
        Fraction of a layer's units that duplicate another above this. Default 0: any duplicate.
    """

    vanishing: float = 1e-3
    exploding: float = 1e3
    saturated: float = 0.2
    dead: float = 0.6
    symmetric: float = 0.0

    def __post_init__(self):
        for name in ("vanishing", "exploding"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InitlabError(f"thresholds.{name}: got {v!r}; allowed: a finite number > 0")
        if not self.vanishing < 1 < self.exploding:
            raise InitlabError(f"thresholds: got vanishing={self.vanishing!r}, exploding={self.exploding!r}; "
                               "allowed: vanishing < 1 < exploding")
        for name in ("saturated", "dead", "symmetric"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise InitlabError(f"thresholds.{name}: got {v!r}; allowed: a fraction in [0, 1)")


@dataclass(frozen=True)
class Finding:
    """One diagnosis: its ``kind`` (one of :data:`KINDS`), the ``layers`` it concerns, the
    ``evidence`` (numbers), the ``fix`` (layer → scheme, ``"lsuv"``, or None when no
    initialization can fix it) and a one-line ``message``."""

    kind: str
    layers: tuple[str, ...]
    evidence: dict = field(default_factory=dict)
    fix: dict | str | None = None
    message: str = ""

    def __str__(self) -> str:
        shown = ", ".join(repr(n) for n in self.layers[:4]) + (f" … ({len(self.layers)} layers)"
                                                               if len(self.layers) > 4 else "")
        text = f"{self.kind}: {self.message}"
        if self.layers:
            text += f" [{shown}]"
        return text if self.kind == "healthy" else text + f" -> fix: {_describe_fix(self.fix)}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = list(self.layers)
        d["evidence"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in self.evidence.items()}
        return d


def _describe_fix(fix) -> str:
    if fix is None:
        return "none by initialization (see the message)"
    if isinstance(fix, str):
        return fix
    counts: dict[str, int] = {}
    for scheme in fix.values():
        counts[scheme] = counts.get(scheme, 0) + 1
    return ", ".join(f"{s} for {n} layer{'s' if n > 1 else ''}" for s, n in counts.items())


def _fin(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _fix_for(rows: Iterable[dict]) -> dict | str:
    fix = {r["layer"]: scheme_for(r["activation"]) for r in rows}
    return "lsuv" if "lsuv" in fix.values() else fix


def _g(x: float) -> str:
    return f"{x:.3g}"


def diagnose(records, thresholds: Thresholds | None = None) -> list[Finding]:
    """Name the failures in a probe's :class:`~initlab.diagnostics.LayerRecords` (see the module
    docstring), most basic first; a single ``healthy`` finding when there are none.

    NaN/Inf anywhere give a ``nonfinite`` finding; the other checks skip non-finite numbers.
    """
    th = Thresholds() if thresholds is None else thresholds
    if not isinstance(th, Thresholds):
        raise InitlabError(f"thresholds: got {type(th).__name__}; allowed: None or initlab.diagnostics.Thresholds")
    rows = list(records)
    weights = [r for r in rows if r["role"] == "weight"]
    inputs = [r for r in rows if r["role"] == "input"]
    findings: list[Finding] = []

    # which weight layer produced each activation (the first activation after it)
    producer: dict[int, dict] = {}
    last = None
    for r in rows:
        if r["role"] == "weight":
            last = r
        elif r["role"] == "activation" and last is not None:
            producer[r["index"]] = last
            last = None

    # -- nonfinite ------------------------------------------------------------------------------
    bad_input = sum(int(r["nonfinite"]) for r in inputs)
    fwd_bad = [r for r in rows if r["role"] != "input" and r["nonfinite"] > 0]
    bwd_bad = [r for r in rows if r["grad_nonfinite"] > 0]
    loss = getattr(records, "loss", 0.0)
    if bad_input or fwd_bad or bwd_bad or not _fin(loss):
        evidence = {"input_nonfinite": bad_input, "layers_forward": len(fwd_bad), "layers_backward": len(bwd_bad),
                    "loss": loss}
        if bad_input:
            msg = (f"the inputs hold {bad_input} NaN/Inf value(s); they propagate through every layer - clean "
                   "or impute the data first")
            fix = None
        else:
            where = (f"first in the forward pass at {fwd_bad[0]['layer']!r}" if fwd_bad else
                     f"first in the backward pass at {bwd_bad[-1]['layer']!r}" if bwd_bad else "in the loss")
            msg = f"values overflow to NaN/Inf {where}"
            fix = _fix_for(weights)
        names = [r["layer"] for r in fwd_bad] + [r["layer"] for r in bwd_bad if r not in fwd_bad]
        findings.append(Finding("nonfinite", tuple(dict.fromkeys(names)), evidence, fix, msg))

    # -- symmetric ------------------------------------------------------------------------------
    # the last weight layer is left out: the loss sends each of its units a different error, so
    # identical starting weights there do not stay identical (zero-initialized heads are common)
    sym = [r for r in weights[:-1] if _fin(r["units"]) and _fin(r["distinct_units"]) and r["units"] >= 2
           and (r["units"] - r["distinct_units"]) / r["units"] > th.symmetric]
    if sym:
        worst = min(sym, key=lambda r: r["distinct_units"] / r["units"])
        evidence = {"layers": len(sym), "min_distinct_units": int(worst["distinct_units"]),
                    "units": int(worst["units"])}
        msg = (f"{len(sym)} layer(s) have duplicate units (same weights, same outputs): as few as "
               f"{int(worst['distinct_units'])} distinct of {int(worst['units'])} at {worst['layer']!r}; duplicates "
               "get identical gradients and never separate")
        findings.append(Finding("symmetric", tuple(r["layer"] for r in sym), evidence, _fix_for(sym), msg))

    # -- vanishing / exploding -------------------------------------------------------------------
    fwd: list[tuple[dict, float]] = []
    if weights and _fin(weights[0]["input_ms"]) and weights[0]["input_ms"] > 0:
        ref = weights[0]["input_ms"]
        fwd = [(r, r["input_ms"] / ref) for r in weights[1:] if _fin(r["input_ms"]) or r["input_ms"] == math.inf]
        if _fin(weights[-1]["ms"]) or weights[-1]["ms"] == math.inf:
            fwd.append((weights[-1], weights[-1]["ms"] / ref))
    bwd: list[tuple[dict, float]] = []
    with_grad = [r for r in weights if _fin(r["grad_std"])]
    if with_grad and with_grad[-1]["grad_std"] > 0:
        gref = with_grad[-1]["grad_std"] ** 2
        bwd = [(r, r["grad_std"] ** 2 / gref) for r in with_grad[:-1]]
    for kind, bad in (("vanishing", lambda x: x < th.vanishing), ("exploding", lambda x: x > th.exploding)):
        f_hits = [(r, x) for r, x in fwd if bad(x)]
        b_hits = [(r, x) for r, x in bwd if bad(x)]
        if not (f_hits or b_hits):
            continue
        pick = min if kind == "vanishing" else max
        parts, evidence = [], {}
        if f_hits:
            r, x = pick(f_hits, key=lambda t: t[1])
            evidence["signal_ratio"] = x
            evidence["layers_forward"] = len(f_hits)
            parts.append(f"the signal's mean square reaches {_g(x)}x the first layer's input at {r['layer']!r}")
        if b_hits:
            r, x = pick(b_hits, key=lambda t: t[1])
            evidence["grad_ratio"] = x
            evidence["layers_backward"] = len(b_hits)
            parts.append(f"the gradient's variance reaches {_g(x)}x the last layer's at {r['layer']!r}")
        names = sorted({r["layer"]: r["index"] for r, _ in f_hits + b_hits}.items(), key=lambda t: t[1])
        findings.append(Finding(kind, tuple(n for n, _ in names), evidence, _fix_for(weights), "; ".join(parts)))

    # -- saturated ------------------------------------------------------------------------------
    sat = [r for r in rows if r["role"] == "activation" and _fin(r["frac_saturated"])
           and r["frac_saturated"] > th.saturated]
    if sat:
        worst = max(sat, key=lambda r: r["frac_saturated"])
        evidence = {"layers": len(sat), "max_fraction": worst["frac_saturated"],
                    "mean_fraction": sum(r["frac_saturated"] for r in sat) / len(sat)}
        msg = (f"{len(sat)} activation(s) have more than {th.saturated:.0%} of outputs on a flat end, up to "
               f"{worst['frac_saturated']:.0%} at {worst['layer']!r} ({worst['activation']}): their derivative is ~0")
        fixed = [producer[r["index"]] for r in sat if r["index"] in producer]
        findings.append(Finding("saturated", tuple(r["layer"] for r in sat), evidence,
                                _fix_for(fixed) if fixed else "lsuv", msg))

    # -- dead -----------------------------------------------------------------------------------
    dead = [r for r in rows if r["role"] == "activation" and _fin(r["frac_dead"]) and r["frac_dead"] > th.dead
            and not (r["index"] in producer and _signal_gone(producer[r["index"]], weights, th))]
    if dead:
        worst = max(dead, key=lambda r: r["frac_dead"])
        evidence = {"layers": len(dead), "max_fraction": worst["frac_dead"]}
        msg = (f"{len(dead)} ReLU layer(s) have more than {th.dead:.0%} of units at 0 for the whole batch, up to "
               f"{worst['frac_dead']:.0%} at {worst['layer']!r}; dead units pass no gradient (check negative "
               "biases too)")
        fixed = [producer[r["index"]] for r in dead if r["index"] in producer]
        findings.append(Finding("dead", tuple(r["layer"] for r in dead), evidence,
                                _fix_for(fixed) if fixed else "lsuv", msg))

    if not findings:
        evidence = {}
        if fwd:
            evidence["signal_ratio_min"] = min(x for _, x in fwd)
            evidence["signal_ratio_max"] = max(x for _, x in fwd)
        if bwd:
            evidence["grad_ratio_min"] = min(x for _, x in bwd)
            evidence["grad_ratio_max"] = max(x for _, x in bwd)
        msg = (f"{len(weights)} weight layer(s): signal and gradient variances stay within "
               f"[{_g(th.vanishing)}, {_g(th.exploding)}]x of their reference, no symmetry, saturation or dead layers")
        findings.append(Finding("healthy", tuple(r["layer"] for r in weights), evidence, None, msg))
    return findings


def _signal_gone(producer: dict, weights: list[dict], th: Thresholds) -> bool:
    """A dead activation whose pre-activations have already vanished is reported as vanishing,
    not dead: its zeros come from a signal that underflowed, not from a bias or a scale."""
    ref = weights[0]["input_ms"] if weights else math.nan
    ms = producer["ms"]
    return _fin(ref) and ref > 0 and _fin(ms) and ms / ref < th.vanishing
