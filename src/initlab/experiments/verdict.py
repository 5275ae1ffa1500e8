"""Criteria over paired seeds and the three outcomes of a claim.

A claim is judged by *checks*. Each check compares a quantity measured on every seed with a
reference that could come out either way — a threshold stated with the claim, the same quantity
under another scheme (a paired difference), or a theory's prediction — and has one of three
outcomes, decided by the 95 % Student-t interval of the quantity (:mod:`initlab.experiments.stats`):

* ``reproduced`` — the whole interval lies on the side the claim states;
* ``contradicted`` — the whole interval lies on the other side: the opposite holds;
* ``inconclusive`` — the interval straddles the reference: more seeds would decide.

A claim about every seed (:func:`every`: "each hidden layer keeps exactly one distinct unit") is
reproduced when it holds on every seed and contradicted by a single seed where it fails.

The claim's verdict: ``contradicted`` if any check is, else ``reproduced`` if every check is,
else ``inconclusive``. All three are findings; none is an error.

>>> c = at_least("accuracy ≥ 80 %", [0.91, 0.93, 0.92], 0.80, unit="%")
>>> c.outcome
'reproduced'
>>> verdict([c, at_most("loss ≤ 1", [0.9, 1.2, 1.1], 1.0)])
'inconclusive'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .stats import Summary, paired, summarize

__all__ = ["REPRODUCED", "CONTRADICTED", "INCONCLUSIVE", "OUTCOMES", "MARKS", "Check", "at_least", "at_most",
           "within", "greater", "no_worse", "every", "verdict", "fmt"]

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"
OUTCOMES = (REPRODUCED, CONTRADICTED, INCONCLUSIVE)
MARKS = {REPRODUCED: "✓", CONTRADICTED: "✗", INCONCLUSIVE: "?"}


def fmt(x: float, unit: str = "") -> str:
    """A number as a reader wants it: 3 significant digits; ``unit="%"`` a fraction as a percentage,
    ``unit="pts"`` a difference of fractions in signed percentage points."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if unit == "%":
        return f"{100 * x:.1f}%"
    if unit == "pts":
        return f"{100 * x:+.1f}"
    if isinstance(x, int):
        return str(x)
    return f"{x:.3g}"


@dataclass(frozen=True)
class Check:
    """One criterion and how it came out.

    ``criterion``: the statement; ``measured``: the numbers as text (mean ± sd, interval, n);
    ``outcome``: one of :data:`OUTCOMES`; ``summary``: the per-seed statistics (None for
    :func:`every`); ``reference``: what the interval was compared with; ``kind``: the comparison.
    """

    criterion: str
    measured: str
    outcome: str
    kind: str
    reference: Any = None
    summary: Summary | None = None
    per_seed: tuple = field(default=())

    @property
    def passed(self) -> bool:
        return self.outcome == REPRODUCED

    def to_dict(self) -> dict:
        return {"criterion": self.criterion, "measured": self.measured, "outcome": self.outcome,
                "passed": self.passed, "kind": self.kind, "reference": self.reference,
                "statistics": self.summary.to_dict() if self.summary is not None else None,
                "per_seed": list(self.per_seed)}


def _shown(s: Summary, unit: str) -> tuple[str, str, str]:
    """(mean, spread, interval) as text, on the original scale."""
    if s.log:
        mean = fmt(s.value(s.mean))
        spread = f" ×/÷ {10 ** s.sd:.3f}" if math.isfinite(s.sd) else ""
        ci = f"[{fmt(s.value(s.ci[0]))}, {fmt(s.value(s.ci[1]))}]"
        return mean, spread, ci
    mean = fmt(s.mean, unit)
    sd_unit = {"pts": "%", "%": "%"}.get(unit, "")
    spread = f" ± {fmt(s.sd, sd_unit)}" if math.isfinite(s.sd) else ""
    ci = f"[{fmt(s.ci[0], unit)}, {fmt(s.ci[1], unit)}]"
    if unit == "pts":
        spread = f" ± {100 * s.sd:.1f}" if math.isfinite(s.sd) else ""
        ci += " points"
    return mean, spread, ci


def _measured(s: Summary, unit: str, prefix: str = "") -> str:
    mean, spread, ci = _shown(s, unit)
    return f"{prefix}{mean}{spread} (95% t-CI {ci}, n={s.n})"


def _side(s: Summary, lo: float | None, hi: float | None, *, strict: bool = False) -> str:
    """Outcome of "the quantity lies in [lo, hi]" (in (lo, hi] when ``strict``: "exceeds") from the
    interval s.ci, on s's scale."""
    a, b = s.ci
    if math.isnan(a) or math.isnan(b):
        return INCONCLUSIVE
    above = lo is None or (a > lo if strict else a >= lo)
    inside = above and (hi is None or b <= hi)
    outside = (lo is not None and (b <= lo if strict else b < lo)) or (hi is not None and a > hi)
    return REPRODUCED if inside else CONTRADICTED if outside else INCONCLUSIVE


def _scale(x: float, log: bool) -> float:
    if not log:
        return x
    return math.log10(x) if x > 0 else -math.inf


def at_least(criterion: str, values: Sequence[float], threshold: float, *, log: bool = False,
             unit: str = "") -> Check:
    """The claim "the quantity is at least ``threshold``", judged by the interval of its mean."""
    s = summarize(values, log=log)
    return Check(criterion, _measured(s, unit), _side(s, _scale(threshold, log), None), "at_least", threshold, s,
                 tuple(values))


def at_most(criterion: str, values: Sequence[float], threshold: float, *, log: bool = False,
            unit: str = "") -> Check:
    """The claim "the quantity is at most ``threshold``"."""
    s = summarize(values, log=log)
    return Check(criterion, _measured(s, unit), _side(s, None, _scale(threshold, log)), "at_most", threshold, s,
                 tuple(values))


def within(criterion: str, values: Sequence[float], lo: float, hi: float, *, log: bool = False,
           unit: str = "") -> Check:
    """The claim "the quantity lies in [lo, hi]" (contradicted when the interval misses it)."""
    s = summarize(values, log=log)
    return Check(criterion, _measured(s, unit), _side(s, _scale(lo, log), _scale(hi, log)), "within", [lo, hi],
                 s, tuple(values))


def greater(criterion: str, a: Sequence[float], b: Sequence[float], margin: float = 0.0, *,
            log: bool = False, unit: str = "", names: tuple[str, str] = ("a", "b")) -> Check:
    """The claim "``a`` exceeds ``b`` by more than ``margin`` on the same seeds", judged by the paired
    difference a − b (log10 a − log10 b, compared with log10 of ``margin`` as a ratio, when ``log``)."""
    s = paired(a, b, log=log)
    ref = math.log10(margin) if log and margin > 0 else margin
    if log:
        text = _measured(s, "", f"{names[0]} / {names[1]} = ")
    else:
        text = _measured(s, unit, f"{names[0]} − {names[1]} = ")
    return Check(criterion, text, _side(s, ref, None, strict=True), "paired", margin, s,
                 tuple(zip(map(float, a), map(float, b))))


def no_worse(criterion: str, best: Sequence[float], candidate: Sequence[float], tolerance: float, *,
             unit: str = "", names: tuple[str, str] = ("best", "candidate")) -> Check:
    """The claim "``candidate`` is as good as ``best`` within ``tolerance``", judged by the paired
    difference d = best − candidate: reproduced when the interval's upper end is ≤ ``tolerance``,
    contradicted when its lower end is > 0 (``best`` is reliably better, by more than the interval
    allows to call them equal), else inconclusive."""
    s = paired(best, candidate)
    lo, hi = s.ci
    outcome = (REPRODUCED if hi <= tolerance else CONTRADICTED if lo > 0 else INCONCLUSIVE) \
        if not (math.isnan(lo) or math.isnan(hi)) else INCONCLUSIVE
    return Check(criterion, _measured(s, unit, f"{names[0]} − {names[1]} = "), outcome, "no_worse", tolerance, s,
                 tuple(zip(map(float, best), map(float, candidate))))


def every(criterion: str, per_seed: Sequence[Any], holds: Callable[[Any], bool], shown: str) -> Check:
    """A claim about every seed: reproduced when ``holds`` is true on each, contradicted by one seed
    where it is not (an exact statement has no interval)."""
    results = [bool(holds(v)) for v in per_seed]
    n, k = len(results), sum(results)
    outcome = REPRODUCED if n and k == n else CONTRADICTED if n else INCONCLUSIVE
    return Check(criterion, f"{shown} (holds on {k} of {n} seeds)", outcome, "every", None, None, tuple(per_seed))


def verdict(checks: Sequence[Check]) -> str:
    """``contradicted`` if any check is, ``reproduced`` if every one is, else ``inconclusive``."""
    outcomes = [c.outcome for c in checks]
    if not outcomes:
        return INCONCLUSIVE
    if CONTRADICTED in outcomes:
        return CONTRADICTED
    return REPRODUCED if all(o == REPRODUCED for o in outcomes) else INCONCLUSIVE
