"""Statistical assertions shared by initlab's tests, written once.

Each ``assert_*`` checks a sample against a law whose parameters the *test* derived (never read back
from initlab), in two ways:

* a one-sample Kolmogorov–Smirnov test against the law's CDF from :mod:`scipy.stats`, which must not
  reject at ``alpha`` (default :data:`ALPHA`). The truncated normal's CDF is written out with
  ``scipy.special.ndtr`` (far faster than ``scipy.stats.truncnorm.cdf``, which the tests of
  this module compare it with). Samples larger than ``MAX_KS`` values are subsampled with a
  fixed NumPy seed, so every run sees the same numbers and the same p-value;
* exact checks: every value is finite, and no value of a bounded law lies outside its bounds.

Bounds are compared in float64 after rounding them to the sample's own dtype (the nearest value a
stored number can take), unless ``strict_bounds=True``, which compares with the exact real bounds.

The sample may be a ``torch.Tensor`` of any floating dtype (bfloat16 included) or a NumPy array.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy import stats as sps

__all__ = ["ALPHA", "MAX_KS", "as_float64", "assert_normal", "assert_uniform", "assert_truncnorm",
           "assert_law", "assert_same_law", "frozen_law", "ks_pvalue", "truncnorm_cdf"]

ALPHA = 1e-5
"""Reject a sample when the KS p-value is at most this. The suite runs a few hundred KS tests, so a
correct sampler whose random streams change (a new seed or algorithm) fails one of them by chance
with probability about 0.4 %; a std 5 % off is still rejected at 100 000 values (D ≈ 0.012 against a
critical 0.008), 10 % off at 20 000."""

MAX_KS = 100_000
"""Values a KS test looks at, at most (a fixed-seed subsample of larger samples)."""

_SUBSAMPLE_SEED = 20240601


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def as_float64(x) -> np.ndarray:
    """The values of ``x`` (torch tensor or array-like) as a flat float64 NumPy array."""
    if _is_torch(x):
        return x.detach().to("cpu").double().reshape(-1).numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _round_to_dtype(value: float, x) -> float:
    """``value`` rounded to the dtype of ``x`` (to nearest), back in float64."""
    if not math.isfinite(value):
        return value
    if _is_torch(x):
        import torch

        return torch.tensor(value, dtype=torch.float64).to(x.dtype).double().item()
    return float(np.asarray(value, dtype=np.asarray(x).dtype))


def _subsample(values: np.ndarray, max_n: int) -> np.ndarray:
    if values.size <= max_n:
        return values
    rng = np.random.default_rng(_SUBSAMPLE_SEED)
    return rng.choice(values, size=max_n, replace=False)


def truncnorm_cdf(loc: float, scale: float, a: float, b: float):
    """CDF of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale]:
    F(x) = (Φ(z) − Φ(a)) / (Φ(b) − Φ(a)), z = (x − loc)/scale, clipped to [0, 1]. For a right-hand
    interval (a > 0) the survival function is used, F = (Q(a) − Q(z)) / (Q(a) − Q(b)) with
    Q(z) = Φ(−z), which keeps full precision in the tail."""
    if a > 0:
        qa, qb = special.ndtr(-a), special.ndtr(-b)

        def cdf(x):
            z = (np.asarray(x, dtype=np.float64) - loc) / scale
            return np.clip((qa - special.ndtr(-z)) / (qa - qb), 0.0, 1.0)
    else:
        pa, pb = special.ndtr(a), special.ndtr(b)

        def cdf(x):
            z = (np.asarray(x, dtype=np.float64) - loc) / scale
            return np.clip((special.ndtr(z) - pa) / (pb - pa), 0.0, 1.0)
    return cdf


def _check_finite(values: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(values)
    assert not bad.any(), f"{what}: {int(bad.sum())} of {values.size} values are not finite, e.g. {values[bad][:5]}"


def _check_bounds(x, values: np.ndarray, low: float, high: float, strict: bool, what: str) -> None:
    lo, hi = (low, high) if strict else (_round_to_dtype(low, x), _round_to_dtype(high, x))
    below, above = values < lo, values > hi
    assert not below.any(), (f"{what}: {int(below.sum())} values below the bound {low!r} "
                             f"(min {values.min()!r}, bound as compared {lo!r})")
    assert not above.any(), (f"{what}: {int(above.sum())} values above the bound {high!r} "
                             f"(max {values.max()!r}, bound as compared {hi!r})")


def _ks_method(n: int) -> str:
    """Kolmogorov's exact distribution for small samples; its limit law above 10 000 values, where it
    agrees to ~1e-3 relative and the exact computation can take a second."""
    return "exact" if n <= 10_000 else "asymp"


def ks_pvalue(values, cdf) -> float:
    """p-value of the one-sample KS test of ``values`` (a tensor or array, subsampled to :data:`MAX_KS`)
    against ``cdf``."""
    sample = _subsample(as_float64(values), MAX_KS)
    return float(sps.kstest(sample, cdf, method=_ks_method(sample.size)).pvalue)


def _assert_ks(values: np.ndarray, frozen, what: str, alpha: float, cdf=None) -> None:
    assert values.size >= 100, f"{what}: {values.size} values are too few for a KS test"
    p = ks_pvalue(values, frozen.cdf if cdf is None else cdf)
    assert p > alpha, (f"{what}: KS test rejects (p = {p:.3g} <= {alpha}); sample mean {values.mean():.6g}, "
                       f"std {values.std():.6g}; law mean {frozen.mean():.6g}, std {frozen.std():.6g}")


def assert_normal(x, mean: float, std: float, *, alpha: float = ALPHA) -> None:
    """``x`` looks drawn i.i.d. from N(mean, std²)."""
    values = as_float64(x)
    what = f"N({mean:.6g}, {std:.6g}²)"
    _check_finite(values, what)
    _assert_ks(values, sps.norm(loc=mean, scale=std), what, alpha)


def assert_uniform(x, low: float, high: float, *, alpha: float = ALPHA, strict_bounds: bool = False) -> None:
    """``x`` looks drawn i.i.d. from U(low, high), and no value lies outside [low, high]."""
    values = as_float64(x)
    what = f"U({low:.6g}, {high:.6g})"
    _check_finite(values, what)
    _check_bounds(x, values, low, high, strict_bounds, what)
    _assert_ks(values, sps.uniform(loc=low, scale=high - low), what, alpha)


def assert_truncnorm(x, loc: float, scale: float, a: float, b: float, *, alpha: float = ALPHA,
                     strict_bounds: bool = False) -> None:
    """``x`` looks drawn i.i.d. from N(loc, scale²) truncated to [loc + a·scale, loc + b·scale]
    (``a``, ``b`` in units of ``scale``, as in ``scipy.stats.truncnorm``), and no value lies outside."""
    values = as_float64(x)
    what = f"TN({loc:.6g}, {scale:.6g}²; [{a:.6g}σ, {b:.6g}σ])"
    _check_finite(values, what)
    _check_bounds(x, values, loc + a * scale, loc + b * scale, strict_bounds, what)
    _assert_ks(values, sps.truncnorm(a, b, loc=loc, scale=scale), what, alpha, truncnorm_cdf(loc, scale, a, b))


def assert_law(x, law: tuple, *, alpha: float = ALPHA, strict_bounds: bool = False) -> None:
    """Dispatch on a law tuple: ``("normal", mean, std)``, ``("uniform", low, high)`` or
    ``("truncnorm", loc, scale, a, b)``."""
    kind, *params = law
    if kind == "normal":
        assert_normal(x, *params, alpha=alpha)
    elif kind == "uniform":
        assert_uniform(x, *params, alpha=alpha, strict_bounds=strict_bounds)
    elif kind == "truncnorm":
        assert_truncnorm(x, *params, alpha=alpha, strict_bounds=strict_bounds)
    else:
        raise ValueError(f"law: got {kind!r}; allowed: 'normal', 'uniform', 'truncnorm'")


def frozen_law(law: tuple):
    """The :mod:`scipy.stats` frozen distribution of a law tuple (see :func:`assert_law`)."""
    kind, *p = law
    if kind == "normal":
        return sps.norm(loc=p[0], scale=p[1])
    if kind == "uniform":
        return sps.uniform(loc=p[0], scale=p[1] - p[0])
    if kind == "truncnorm":
        return sps.truncnorm(p[2], p[3], loc=p[0], scale=p[1])
    raise ValueError(f"law: got {kind!r}; allowed: 'normal', 'uniform', 'truncnorm'")


def assert_same_law(x, y, *, alpha: float = ALPHA) -> None:
    """Two samples look drawn from the same law (two-sample KS test, both subsampled to :data:`MAX_KS`)."""
    u, v = as_float64(x), as_float64(y)
    _check_finite(u, "first sample")
    _check_finite(v, "second sample")
    assert min(u.size, v.size) >= 100, "too few values for a two-sample KS test"
    u, v = _subsample(u, MAX_KS), _subsample(v, MAX_KS)
    p = float(sps.ks_2samp(u, v, method="auto" if min(u.size, v.size) <= 10_000 else "asymp").pvalue)
    assert p > alpha, (f"two-sample KS test rejects (p = {p:.3g} <= {alpha}); means {u.mean():.6g} vs "
                       f"{v.mean():.6g}, stds {u.std():.6g} vs {v.std():.6g}")
