"""The i.i.d. laws, each written once: a law fills a NumPy array of its work dtype from any stream
(:mod:`initlab.schemes._streams`), for seeded blocks, torch generators and NumPy generators alike.

How each law turns its stream into values:

* uniform U(low, high): ``x = low' + w·u`` in the work dtype, low' the smallest stored value ≥ low
  and w the largest stored width (≤ high − low, an ulp less at most) with low' + w·u_max ≤ high as
  rounded; x is monotone in u, so every value lies in [low, high];
* normal N(μ, σ²): the stream's normals;
* truncated normal on [μ + aσ, μ + bσ] with acceptance Z = Φ(b) − Φ(a) ≥ 1/2 (±0.68σ and wider,
  e.g. ±1σ, ±2σ, ±3σ, [−1, ∞)): rejection (von Neumann 1951) — the array is filled with
  N(μ, σ²) and every value outside the bounds as stored is replaced, in index order, by the values of
  the same stream (continued in batches) that fall inside; about 1/Z normals per value, e.g. 1.05
  at ±2σ;
* truncated normal with Z < 1/2 (narrow or one-sided intervals, e.g. [0.5, 3], [−4, −1], far
  tails): inversion (Devroye 1986, "Non-Uniform Random Variate Generation", §II.2) in float64,
  ``x = μ ± σ·Φ⁻¹(Φ(hi) − (Φ(hi) − Φ(lo))·u)``, an interval right of 0 reflected to the left
  (lo, hi = −b, −a), where Φ keeps its relative precision down to 10⁻³⁰⁸;
* truncated normal whose near bound lies beyond :data:`FAR` σ (Φ there is below 10⁻¹⁹⁷ and
  underflows beyond 38σ): inversion of the tail in logarithms — t ≥ 0 with
  log Q(a + t) − log Q(a) = log(1 − u·(1 − Q(b)/Q(a))), Q(x) = ½·erfcx(x/√2)·exp(−x²/2), solved by
  Newton's method from t = 0 (log Q is concave, so the iterates approach the root from above after
  the first step, quadratically; a fixed 12 steps reach rounding). One uniform per value, as above.

Bounds "as stored" are the smallest and largest values of the dtype inside [low, high]
(:func:`inward`); an interval holding no value of the dtype is an error.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import fail
from ._normal import normal_cdf
from ._pool import SUB, scratch, torch_special_

__all__ = ["IidLaw", "iid_law", "inward", "FAR", "LAWS"]

FAR = 30.0
"""Truncated normals whose near bound lies beyond this many σ are drawn by the tail inversion."""

_NEWTON_STEPS = 12
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _dtype_name(dtype) -> str:
    """``float32``, ``bfloat16`` … for a torch or NumPy floating dtype (NumPy's bfloat16 from ``ml_dtypes``)."""
    return str(dtype)[6:] if str(dtype).startswith("torch.") else np.dtype(dtype).name


def inward(low: float, high: float, dtype) -> tuple[float, float]:
    """The smallest and largest values of ``dtype`` (torch or NumPy) within [low, high], as Python floats:
    the nearest stored value, stepped once towards the inside (``nextafter``) when rounding put it
    outside. Infinite bounds stay; an interval holding no stored value is an error.

    >>> inward(-0.05, 0.05, "float32")
    (-0.04999999701976776, 0.04999999701976776)
    """
    name = _dtype_name(dtype)
    if name == "bfloat16":  # NumPy has no bfloat16 of its own: torch rounds and steps
        import torch

        lo, hi = (torch.tensor(v, dtype=torch.float64).to(torch.bfloat16) for v in (low, high))
        if float(lo) < low:
            lo = torch.nextafter(lo, torch.tensor(math.inf, dtype=torch.bfloat16))
        if float(hi) > high:
            hi = torch.nextafter(hi, torch.tensor(-math.inf, dtype=torch.bfloat16))
    else:
        t = np.dtype(name).type
        lo, hi = t(low), t(high)
        if float(lo) < low:  # compared as Python floats: NumPy would round ``low`` to the dtype first
            lo = np.nextafter(lo, t(math.inf))
        if float(hi) > high:
            hi = np.nextafter(hi, t(-math.inf))
    lo, hi = float(lo), float(hi)
    if lo > hi:
        raise fail("bounds", [low, high], f"an interval that contains at least one number {name} can store (this one "
                   "holds none)")
    return lo, hi


def _widest(low: float, high: float, width: float, dtype: np.dtype):
    """The largest ``w`` ≤ ``width`` of ``dtype`` with low + w·u_max ≤ high as ``dtype`` rounds it
    (u_max = 1 − 2⁻²⁴ in fp32, 1 − 2⁻⁵³ in fp64): bisection on the bit patterns of non-negative floats,
    which are ordered like the floats."""
    t = dtype.type
    bits = np.dtype(f"i{dtype.itemsize}")
    top = t(1.0 - 2.0 ** -(np.finfo(dtype).nmant + 1))

    def fits(w) -> bool:
        return bool(t(w) * top + t(low) <= t(high))

    w = t(width)
    if fits(w):
        return w
    lo_bits, hi_bits = 0, int(np.asarray(w).view(bits))  # fits(0) holds: low ≤ high as stored
    while hi_bits - lo_bits > 1:
        mid = (lo_bits + hi_bits) // 2
        if fits(np.asarray(mid, dtype=bits).view(dtype)):
            lo_bits = mid
        else:
            hi_bits = mid
    return np.asarray(lo_bits, dtype=bits).view(dtype)[()]


class IidLaw:
    """One i.i.d. law, ready to fill arrays of the work dtype ``work`` (float32 or float64).

    ``method`` names the algorithm (see the module docstring); ``bounds`` is the law's (low, high), or
    ``None`` when unbounded; ``lo``/``hi`` are those bounds as stored in ``work``."""

    method = ""
    bounds: tuple[float, float] | None = None

    def __init__(self, dist, work: np.dtype):
        self.work = np.dtype(work)
        if dist.low is not None or dist.high is not None:
            self.bounds = (dist.low, dist.high)
            self.lo, self.hi = inward(dist.low, dist.high, self.work)

    def fill(self, out: np.ndarray, stream) -> None:
        """Fill the work-dtype array ``out`` with i.i.d. values of the law."""
        raise NotImplementedError


class Normal(IidLaw):
    method = "normal"

    def __init__(self, dist, work):
        super().__init__(dist, work)
        self.loc, self.scale = float(dist.params["mean"]), float(dist.params["std"])

    @classmethod
    def standard(cls, work) -> "Normal":
        """N(0, 1) in ``work``."""
        law = cls.__new__(cls)
        law.work, law.loc, law.scale = np.dtype(work), 0.0, 1.0
        return law

    def fill(self, out, stream):
        stream.normal(out, self.loc, self.scale)


class Uniform(IidLaw):
    method = "uniform"

    def __init__(self, dist, work):
        super().__init__(dist, work)
        # low' + width'·u: no value can fall outside [low, high] and no clipping pass is needed
        p = dist.params
        self.low, self.width = self.lo, _widest(self.lo, self.hi, float(p["high"]) - float(p["low"]), self.work)

    def fill(self, out, stream):
        for s in range(0, out.size, SUB):
            part = out[s:s + SUB]
            stream.uniform(part)
            part *= self.width
            part += self.low


class _Truncated(IidLaw):
    def __init__(self, dist, work):
        super().__init__(dist, work)
        p = dist.params
        self.a, self.b = float(p["a"]), float(p["b"])
        self.loc, self.scale = float(p["loc"]), float(p["scale"])
        self.accept = normal_cdf(self.b) - normal_cdf(self.a)


class TruncatedRejection(_Truncated):
    method = "reject"

    def fill(self, out, stream):
        stream.normal(out, self.loc, self.scale)
        self._redraw_outside(out, stream)

    def _redraw_outside(self, out: np.ndarray, stream) -> None:
        """The values outside [lo, hi] are replaced, in index order, by the values inside [lo, hi] of a
        pool the stream continues with (⌈1.2·n·(1 − Z)/Z⌉ + 64 normals, then batches of ⌈1.1·k/Z⌉ + 16
        whenever k more are needed than the pool holds)."""
        import torch

        pool = self._inside(stream, int(1.2 * out.size * (1.0 - self.accept) / self.accept) + 64)
        used = 0
        mask, above = scratch("mask", np.dtype(bool), SUB), scratch("above", np.dtype(bool), SUB)
        for s in range(0, out.size, SUB):
            part = out[s:s + SUB]
            n = part.size
            np.less(part, self.lo, out=mask[:n])
            np.greater(part, self.hi, out=above[:n])
            np.logical_or(mask[:n], above[:n], out=mask[:n])
            k = int(np.count_nonzero(mask[:n]))
            if not k:
                continue
            stalls = 0
            while pool.size - used < k:
                more = self._inside(stream, int(1.1 * (k - pool.size + used) / self.accept) + 16)
                stalls = 0 if more.size else stalls + 1
                if stalls > 50:  # the dtype's grid leaves (almost) no room inside the bounds
                    raise fail("bounds", [self.bounds[0], self.bounds[1]],
                               f"bounds at least a few steps of {self.work.name} apart (with std {self.scale!r}, "
                               f"{self.work.name} values drawn near the mean almost never fall inside these)")
                pool, used = np.concatenate([pool[used:], more]), 0
            torch.from_numpy(part).masked_scatter_(torch.from_numpy(mask[:n]), torch.from_numpy(pool[used:used + k]))
            used += k

    def _inside(self, stream, k: int) -> np.ndarray:
        """The values inside [lo, hi] among the stream's next ``k`` normals, in order."""
        extra = np.empty(k, dtype=self.work)
        stream.normal(extra, self.loc, self.scale)
        return extra[(extra >= self.lo) & (extra <= self.hi)]


class _Inverted(_Truncated):
    """Inversion from one float64 uniform per value; subclasses map a float64 array of uniforms, in place,
    to values of the law (:meth:`_transform`)."""

    def __init__(self, dist, work):
        super().__init__(dist, work)
        self.flip = self.a > 0  # an interval right of 0 is reflected to the left tail, where Φ is small
        self.sscale = -self.scale if self.flip else self.scale

    def fill(self, out, stream):
        for s in range(0, out.size, SUB):
            part = out[s:s + SUB]
            u = part if self.work == np.float64 else scratch("u64", np.dtype(np.float64), part.size)
            stream.uniform(u)
            self._transform(u)
            if u is not part:
                part[...] = u
            np.clip(part, self.lo, self.hi, out=part)


class TruncatedInversion(_Inverted):
    method = "invert"

    def __init__(self, dist, work):
        super().__init__(dist, work)
        lo, hi = (-self.b, -self.a) if self.flip else (self.a, self.b)
        self.p_hi, self.dp = normal_cdf(hi), normal_cdf(hi) - normal_cdf(lo)

    def _transform(self, u):
        # Φ⁻¹ of Φ(hi) − (Φ(hi) − Φ(lo))·u ∈ (Φ(lo), Φ(hi)]: never Φ(lo), which may be 0
        u *= -self.dp
        u += self.p_hi
        np.maximum(u, np.finfo(np.float64).tiny, out=u)
        torch_special_("ndtri", u)
        u *= self.sscale
        if self.loc:
            u += self.loc


class TruncatedTail(_Inverted):
    method = "tail"

    def __init__(self, dist, work):
        super().__init__(dist, work)
        import torch

        # the interval as [a, b] right of the mean (a ≥ FAR): x = a + t
        self.near, self.far = (self.a, self.b) if self.flip else (-self.b, -self.a)
        r = torch.special.erfcx(torch.tensor([self.near, self.far], dtype=torch.float64) / math.sqrt(2.0))
        self.log_r_near = math.log(float(r[0]))
        # Q(b)/Q(a) = r(b)/r(a)·exp(−(b − a)(b + a)/2); 1 − that, to full precision
        if math.isinf(self.far):
            self.one_minus_rho = 1.0
        else:
            log_rho = math.log(float(r[1])) - self.log_r_near - 0.5 * (self.far - self.near) * (self.far + self.near)
            self.one_minus_rho = -math.expm1(log_rho)
        self.width = self.far - self.near

    def _transform(self, u):
        """u ↦ t with Q(a + t)/Q(a) = 1 − u·(1 − ρ), by Newton on h(t) = log r(a+t) − log r(a) − t(2a+t)/2 − L,
        h′(t) = −√(2/π)/r(a + t) (the inverse Mills ratio), L = log(1 − u·(1 − ρ))."""
        a = self.near
        target = np.log1p(-u * self.one_minus_rho)  # L ≤ 0
        t = np.zeros_like(u)
        r = np.empty_like(u)
        for _ in range(_NEWTON_STEPS):
            np.divide(a + t, math.sqrt(2.0), out=r)
            torch_special_("erfcx", r)
            h = np.log(r) - self.log_r_near - t * (2.0 * a + t) * 0.5 - target
            t += h * r / _SQRT_2_OVER_PI
            np.clip(t, 0.0, self.width, out=t)
        u[...] = self.near + t
        u *= self.scale if self.flip else -self.scale
        if self.loc:
            u += self.loc


def _truncated(dist, work, *, invert: bool = False) -> IidLaw:
    a, b = float(dist.params["a"]), float(dist.params["b"])
    if a >= FAR or b <= -FAR:
        return TruncatedTail(dist, work)
    if not invert and normal_cdf(b) - normal_cdf(a) >= 0.5:
        return TruncatedRejection(dist, work)
    return TruncatedInversion(dist, work)


LAWS = {
    "normal": lambda dist, work, invert=False: Normal(dist, work),
    "uniform": lambda dist, work, invert=False: Uniform(dist, work),
    "truncated_normal": _truncated,
}
"""The i.i.d. families: ``family → (dist, work dtype, invert=) → law``; ``invert=True`` picks inversion
over rejection for the truncated normal (the NumPy generator path draws one uniform per value)."""


def iid_law(dist, work, *, invert: bool = False) -> IidLaw:
    """The law that fills arrays of ``work`` with values of ``dist`` (an i.i.d. family)."""
    try:
        make = LAWS[dist.family]
    except KeyError:
        raise fail("family", dist.family, f"an i.i.d. family ({', '.join(LAWS)})") from None
    return make(dist, np.dtype(work), invert=invert)
