"""Summaries over paired seeds: mean ± sd and Student-t confidence intervals.

Every deciding number of a preset is measured once per seed, on seeds shared by the schemes it
compares (same initialization seed, same data order: *paired* seeds). A single quantity is
summarized by its mean, its sample standard deviation (n − 1 in the denominator) and the
two-sided Student-t interval

    mean ± t_{1−α/2, n−1} · sd / √n,

and a comparison by the same summary of the per-seed differences a_i − b_i (a paired-t interval:
the seed-to-seed variation common to both cancels). The interval is a *t* interval, not a
bootstrap one: with 3–8 seeds a bootstrap has too few distinct resamples to be trusted, and the
t interval is exact when the per-seed values are normal. Quantities that span orders of magnitude
(gradient ratios, growth factors) are summarized on a log10 scale (``log=True``), i.e. as a
geometric mean with a multiplicative interval.

The t quantile is computed here, without SciPy, by inverting the regularized incomplete beta
function: for T ~ t(ν), P(|T| > t) = I_{ν/(ν+t²)}(ν/2, ½) (Abramowitz & Stegun 26.7.1, 26.5.8).
I_x(a, b) comes from its continued fraction (A&S 26.5.8) evaluated by the modified Lentz method.

>>> round(t_quantile(0.975, 4), 6)
2.776445
>>> s = summarize([1.0, 2.0, 3.0])
>>> round(s.mean, 3), round(s.sd, 3), [round(v, 3) for v in s.ci]
(2.0, 1.0, [-0.484, 4.484])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..errors import check_int, check_number

__all__ = ["t_quantile", "incomplete_beta", "Summary", "summarize", "paired", "LEVEL"]

LEVEL = 0.95
"""The confidence level of every interval initlab reports."""


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (A&S 26.5.8), by the modified Lentz method."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        # even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m))
        num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        # odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1))
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return h


def incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for 0 ≤ x ≤ 1.

    >>> round(incomplete_beta(0.5, 2.0, 2.0), 12)
    0.5
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    # the fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Solves I_x(ν/2, ½) = 2·(1 − p) for x by bisection (I is increasing in x), then
    t = √(ν(1 − x)/x), with the sign of p − ½.
    """
    p = check_number("p", p, minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    df = check_number("df", df, minimum=0.0, open_min=True)
    if p == 0.5:
        return 0.0
    tail = 2.0 * min(p, 1.0 - p)  # P(|T| > t) = I_x(ν/2, ½) with x = ν/(ν + t²)
    a, b = df / 2.0, 0.5
    # bisection on whichever of x and y = 1 − x = t²/(ν + t²) is small, so that t keeps full
    # relative precision both in the tails (x → 0) and near the centre (y → 0)
    if tail <= 0.5:
        x = _bisect(lambda v: incomplete_beta(v, a, b), tail)
        t = math.sqrt(df * (1.0 - x) / x)
    else:
        y = _bisect(lambda v: incomplete_beta(v, b, a), 1.0 - tail)
        t = math.sqrt(df * y / (1.0 - y))
    return t if p > 0.5 else -t


def _bisect(f, target: float) -> float:
    """The v in (0, 1) with f(v) = target, for an increasing f, to the last bit."""
    lo, hi = 0.0, 1.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi) or hi - lo <= 2e-16 * hi:  # the interval is down to the last bits of the answer
            break
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd, n and the two-sided t interval of per-seed values (on the log10 scale when
    ``log``; :meth:`value` maps a number of that scale back)."""

    values: tuple[float, ...]
    mean: float
    sd: float
    n: int
    ci: tuple[float, float]
    level: float = LEVEL
    log: bool = False

    def value(self, x: float) -> float:
        """``x`` on the original scale (10**x for a log summary)."""
        return 10.0 ** x if self.log else x

    @property
    def interval(self) -> str:
        return f"{round(100 * self.level)}% t-interval"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "n": self.n, "ci": list(self.ci), "level": self.level,
                "interval": "t", "log10": self.log, "values": list(self.values)}


def summarize(values: Sequence[float], *, log: bool = False, level: float = LEVEL) -> Summary:
    """Mean ± sd and the ``level`` Student-t interval of ``values`` (log10 of them when ``log``).

    One value gives an unbounded interval (nothing is known about the spread). A non-finite value
    (a gradient of 0 on the log scale, a NaN loss) gives an unbounded interval too, unless every
    value is the same infinity.
    """
    level = check_number("level", level, minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    xs = [float(v) for v in values]
    check_int("number of values", len(xs), minimum=1)
    if log:
        xs = [math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan) for v in xs]
    n = len(xs)
    if not all(math.isfinite(v) for v in xs):
        same = len(set(xs)) == 1 and not math.isnan(xs[0])
        mean = xs[0] if same else math.nan
        return Summary(tuple(xs), mean, math.nan, n, (mean, mean) if same else (-math.inf, math.inf), level, log)
    mean = math.fsum(xs) / n
    if n == 1:
        return Summary(tuple(xs), mean, math.nan, 1, (-math.inf, math.inf), level, log)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return Summary(tuple(xs), mean, sd, n, (mean - half, mean + half), level, log)


def paired(a: Sequence[float], b: Sequence[float], *, log: bool = False, level: float = LEVEL) -> Summary:
    """The summary of the per-seed differences ``a_i − b_i`` (of log10 a_i − log10 b_i when ``log``):
    a paired-t interval. ``a`` and ``b`` must be measured on the same seeds, in the same order."""
    if len(a) != len(b):
        raise check_int("paired values", len(b), minimum=len(a), maximum=len(a)) and None
    if log:
        diff = [_log(x) - _log(y) for x, y in zip(a, b)]
    else:
        diff = [float(x) - float(y) for x, y in zip(a, b)]
    s = summarize(diff, level=level)
    return Summary(s.values, s.mean, s.sd, s.n, s.ci, s.level, log)


def _log(v: float) -> float:
    return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.nan)
