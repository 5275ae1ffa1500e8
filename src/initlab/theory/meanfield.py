r"""Mean-field signal propagation through deep fully connected chains.

A chain of layers ``h^l = W^l φ(h^{l−1}) + b^l`` with ``W_ij ~ N(0, σ_w²/fan_in)`` and
``b_i ~ N(0, σ_b²)``, in the limit of infinite width (Poole et al. 2016, "Exponential
expressivity in deep neural networks through transient chaos"; Schoenholz et al. 2017, "Deep
Information Propagation"). Conventions used throughout initlab:

* ``q`` is the variance of a **pre-activation** ``h``; ``σ_w² = fan_in · Var(W)`` (so He
  initialization for ReLU is ``σ_w² = 2`` and LeCun is ``σ_w² = 1``); ``σ_b² = Var(b)``.
* z, z1, z2 are independent standard normals, and every expectation is a float64 quadrature
  (:mod:`initlab.theory.quadrature`; ~1e-14 for the usual activations).
* Derivatives of φ come from torch autograd at the quadrature nodes, so any elementwise torch
  callable works, not only the named activations.

The maps (Poole et al. 2016; Schoenholz et al. 2017):

.. math::

    q^{l} &= σ_w² \, E[φ(\sqrt{q^{l-1}} z)^2] + σ_b²                      && \text{variance map } V \\
    χ_1 &= σ_w² \, E[φ'(\sqrt{q^*} z)^2]                                   && \text{slope of the c-map at } c = 1 \\
    c^{l} &= \frac{σ_w² E[φ(u_1)φ(u_2)] + σ_b²}{q^{l}}, \quad
        u_1 = \sqrt{q} z_1,\; u_2 = \sqrt{q}(c z_1 + \sqrt{1-c^2} z_2)     && \text{correlation map } C \\
    ξ_q^{-1} &= -\log\big(χ_1 + σ_w² E[φ''(\sqrt{q^*} z) φ(\sqrt{q^*} z)]\big) && \text{depth scale of } q \\
    ξ_c^{-1} &= -\log χ_c, \quad χ_c = σ_w² E[φ'(u_1) φ'(u_2)]\big|_{c^*}     && \text{depth scale of } c

``χ₁ < 1`` is the ordered phase (nearby inputs converge, gradients vanish), ``χ₁ > 1`` the chaotic
phase (nearby inputs decorrelate, gradients explode), ``χ₁ = 1`` the edge of chaos, where
``ξ_c = ∞`` and networks of any depth train (Schoenholz et al. find depth ≲ 6 ξ_c trainable).

>>> round(chi1("relu", sigma_w=2 ** 0.5), 12)
1.0
>>> round(critical_sigma_w("tanh", sigma_b=0.05 ** 0.5) ** 2, 2)
1.76
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import torch

from ..activations import find_row
from ..errors import InitlabError, check_int, check_number, check_positive, fail
from ..schemes.gains import activation_fn
from .quadrature import cut_rule, gauss_rule, inner_rule

__all__ = ["variance_map", "fixed_point", "chi1", "correlation_map", "depth_scales", "critical_sigma_w",
           "critical_point", "CriticalPoint", "predict", "Prediction", "phase_diagram"]

_Z, _W = gauss_rule()
_Q_INF = 1e30  # where an expectation "at q = ∞" is evaluated (the q → ∞ limit, to ~1e-15 for ReLU-like φ)
_Q_ZERO = 1e-60  # ... and one "at q = 0" (the q → 0⁺ limit: φ'(0) of a kink is the mean of both sides)
_Q_MAX = 1e250  # a fixed-point search that passes this concludes q* = ∞
_Q_MIN = 1e-60  # ... and one that passes below this concludes q* = 0
_CRITICAL_TOL = 1e-10  # |χ₁ − 1| below this counts as the edge of chaos
_CHUNK = 4096  # rows of quadrature nodes evaluated per torch call


# --------------------------------------------------------------------------- activations and checks


def _kinks(activation) -> tuple[float, ...]:
    """Non-smooth points away from 0 of a named activation, from the catalogue (0 is always a panel
    edge of the rules); none for a callable."""
    if not isinstance(activation, str):
        return ()
    hit = find_row(activation)
    return hit[0].kink_points(hit[1]) if hit is not None else ()


class _Phi:
    """An elementwise activation as a float64 torch callable, with value and autograd derivative.

    ``kinks``: points x ≠ 0 where φ or φ' is not smooth; the 1-D rules put panel edges there.
    """

    def __init__(self, activation, negative_slope: float | None = None, kinks: tuple[float, ...] | None = None):
        if negative_slope is not None:
            negative_slope = _number("negative_slope", negative_slope)
        self.fn = activation_fn(activation, negative_slope)
        if isinstance(activation, str):
            self.name = activation.lower() if negative_slope is None else f"{activation.lower()}({negative_slope:g})"
        else:
            self.name = getattr(activation, "__name__", None) or type(activation).__name__
        if kinks is None:
            kinks = _kinks(activation)
        self.kinks = tuple(float(k) for k in kinks if k != 0)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fn(x)
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise InitlabError(f"activation: got {self.name!r}, which maps a float64 tensor of shape "
                               f"{tuple(x.shape)} to {got}; allowed: an elementwise callable (a tensor of the same "
                               "shape out)")
        return y.to(torch.float64)

    def value(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._call(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))).numpy()

    def value_and_grad(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = torch.from_numpy(np.array(x, dtype=np.float64)).requires_grad_(True)
        with torch.enable_grad():
            y = self._call(t)
            if not y.requires_grad:  # a constant activation
                return y.detach().numpy(), np.zeros_like(x, dtype=np.float64)
            (g,) = torch.autograd.grad(y.sum(), t, allow_unused=True)
        g = np.zeros_like(x, dtype=np.float64) if g is None else g.detach().numpy()
        return y.detach().numpy(), g


def _number(arg: str, value) -> float:
    return check_number(arg, float(value) if isinstance(value, np.floating) else value)


def _nonneg(arg: str, value) -> float:
    return check_positive(arg, _number(arg, value), allow_zero=True)


def _positive(arg: str, value) -> float:
    return check_positive(arg, _number(arg, value))


def _squares(sigma_w, sigma_b) -> tuple[float, float]:
    return _nonneg("sigma_w", sigma_w) ** 2, _nonneg("sigma_b", sigma_b) ** 2


# --------------------------------------------------------------------------- 1-D expectations, batched over q


def _finite_q(q: np.ndarray) -> np.ndarray:
    """q with ∞ and 0 replaced by the points where their limits are evaluated."""
    return np.where(np.isinf(q), _Q_INF, np.where(q == 0, _Q_ZERO, q))


def _nodes(phi: _Phi, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, z, w)``: the points ``x = √q·z`` (one row per q), the nodes z and weights w of the rule
    (shared by all rows unless φ has kinks away from 0, whose ``z = kink/√q`` become panel edges)."""
    root = np.sqrt(_finite_q(np.asarray(q, dtype=np.float64)))
    if phi.kinks:
        z, w = cut_rule(np.array(phi.kinks)[None, :] / root[:, None])
    else:
        z, w = _Z[None, :], _W[None, :]
    return root[:, None] * z, z, w


def _stats(phi: _Phi, q: np.ndarray) -> dict[str, np.ndarray]:
    """Per q: ``mean = E[φ]``, ``second = E[φ²]``, ``dphi2 = E[φ'²]`` and ``slope = d E[φ²]/dq``.

    ``slope`` uses ``d/dq E[φ(√q z)²] = E[z φ φ'] / √q``, which equals ``E[φ'² + φ φ'']`` by
    Gaussian integration by parts (Stein's lemma) and, unlike the φ'' form, stays exact for φ with
    kinks. ``q = 0`` is evaluated as the limit ``q → 0⁺`` (at q = 1e-60), where the slope tends to
    ``φ'(0)² + φ(0) φ''(0)`` and E[φ'²] to the mean of φ'(0⁻)² and φ'(0⁺)² (1/2 for ReLU).
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    out = {k: np.empty(q.shape) for k in ("mean", "second", "dphi2", "slope")}
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, q.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            x, z, w = _nodes(phi, q[sl])
            y, dy = phi.value_and_grad(x)
            out["mean"][sl] = (y * w).sum(axis=1)
            out["second"][sl] = (y * y * w).sum(axis=1)
            out["dphi2"][sl] = (dy * dy * w).sum(axis=1)
            out["slope"][sl] = (y * dy * z * w).sum(axis=1) / np.sqrt(_finite_q(q[sl]))
    out["mean"] = _at_infinity(q, out["mean"], math.sqrt(_Q_INF))
    out["second"] = _at_infinity(q, out["second"], _Q_INF)
    return out


def _second_moment(phi: _Phi, q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    out = np.empty(q.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, q.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            x, _, w = _nodes(phi, q[sl])
            y = phi.value(x)
            out[sl] = (y * y * w).sum(axis=1)
    return _at_infinity(q, out, _Q_INF)


def _at_infinity(q: np.ndarray, value: np.ndarray, scale: float) -> np.ndarray:
    """At q = ∞ a moment that grows with q (evaluated at q = 1e30 it exceeds 1e-10 of its growth
    ``scale``: √q for E[φ], q for E[φ²]) is ∞ (keeping its sign); a bounded φ keeps its limit."""
    grows = np.isinf(q) & (np.abs(value) > 1e-10 * scale)
    return np.where(grows, np.copysign(np.inf, value), value)


# --------------------------------------------------------------------------- the variance map and its fixed point


def variance_map(q: float, activation, sigma_w: float, sigma_b: float = 0.0, *,
                 negative_slope: float | None = None) -> float:
    r"""One step of the variance map (Poole et al. 2016):

    .. math:: V(q) = σ_w² \, E_{z∼N(0,1)}[φ(\sqrt{q}\, z)^2] + σ_b²

    ``q`` is the pre-activation variance of one layer, the result that of the next. ``σ_w²`` is
    ``fan_in · Var(W)``. ``activation`` is a name understood by
    :func:`initlab.schemes.gains.activation_fn` (``negative_slope`` for ``leaky_relu``) or an
    elementwise torch callable.

    >>> round(variance_map(3.0, "relu", sigma_w=2 ** 0.5), 12)  # He: σ_w² · q/2 = q
    3.0
    """
    phi = _Phi(activation, negative_slope)
    q = _nonneg("q", q)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    return float(sw2 * _second_moment(phi, np.array([q]))[0] + sb2)


def _solve_brackets(f, a: np.ndarray, b: np.ndarray, fa: np.ndarray, fb: np.ndarray, rtol: float) -> np.ndarray:
    """Roots of ``f`` in brackets ``0 < a < b`` with ``f(a)·f(b) ≤ 0``, batched.

    ``f(x, idx)`` evaluates the problems ``idx`` at ``x``. Wide brackets (``b/a > 4``) are bisected
    geometrically; narrow ones by regula falsi with the Illinois modification (each endpoint's
    value is halved when it is kept twice), until ``b/a − 1 ≤ rtol``.
    """
    a, b, fa, fb = (np.array(v, dtype=np.float64) for v in (a, b, fa, fb))
    root = np.where(fa == 0, a, np.where(fb == 0, b, np.nan))
    kept = np.zeros(a.size, dtype=np.int8)  # +1: a moved last, -1: b moved last
    for _ in range(200):
        idx = np.flatnonzero(np.isnan(root) & (b / a - 1.0 > rtol))
        if idx.size == 0:
            break
        ai, bi, fai, fbi = a[idx], b[idx], fa[idx], fb[idx]
        wide = bi / ai > 4.0
        with np.errstate(divide="ignore", invalid="ignore"):
            falsi = ai + fai * (bi - ai) / (fai - fbi)
        falsi = np.where(np.isfinite(falsi) & (falsi > ai) & (falsi < bi), falsi, 0.5 * (ai + bi))
        x = np.where(wide, np.sqrt(ai) * np.sqrt(bi), falsi)
        fx = f(x, idx)
        root[idx[fx == 0]] = x[fx == 0]
        move_a = np.sign(fx) == np.sign(fai)
        k = kept[idx]
        a[idx] = np.where(move_a, x, ai)
        fa[idx] = np.where(move_a, fx, np.where(~wide & (k == -1), 0.5 * fai, fai))
        b[idx] = np.where(move_a, bi, x)
        fb[idx] = np.where(move_a, np.where(~wide & (k == 1), 0.5 * fbi, fbi), fx)
        kept[idx] = np.where(move_a, 1, -1)
    left = np.isnan(root)
    with np.errstate(divide="ignore", invalid="ignore"):
        final = a + fa * (b - a) / (fa - fb)
    final = np.where(np.isfinite(final) & (final >= a) & (final <= b), final, 0.5 * (a + b))
    return np.where(left, final, root)


def _fixed_points(phi: _Phi, sw2: np.ndarray, sb2: np.ndarray, q0: float, tol: float, max_iter: int) -> np.ndarray:
    """Batched :func:`fixed_point` over 1-D arrays of ``σ_w²`` and ``σ_b²`` (see there)."""
    n = sw2.size
    evals = 0

    def g(q, idx):
        nonlocal evals
        evals += 1
        if evals > max_iter:
            raise InitlabError(f"max_iter: got {max_iter}; allowed: a larger max_iter (the fixed-point search "
                               "needed more q-map evaluations)")
        v = sw2[idx] * _second_moment(phi, q) + sb2[idx]
        return np.where(np.isfinite(v), v - q, np.inf)

    result = np.full(n, np.nan)
    g0 = g(np.full(n, q0), np.arange(n))
    result[np.abs(g0) <= tol * q0] = q0
    up = np.isnan(result) & (g0 > 0)
    near = np.full(n, q0)  # last point passed, with g of the starting sign
    gnear = g0.copy()
    far, gfar = near.copy(), gnear.copy()  # first point past the sign change
    searching = np.isnan(result)
    for step in range(10_000):
        idx = np.flatnonzero(searching)
        if idx.size == 0:
            break
        factor = 16.0 if step < 8 else 1e10
        p = np.where(up[idx], near[idx] * factor, near[idx] / factor)
        gp = g(p, idx)
        # a sign change within rounding (|g| <= 1e-13 q) is not trusted: keep searching past it
        flipped = np.where(up[idx], gp <= 0, gp >= 0)
        closes = flipped & (np.abs(gp) > 1e-13 * p)
        far[idx[closes]], gfar[idx[closes]] = p[closes], gp[closes]
        near[idx[~closes]], gnear[idx[~closes]] = p[~closes], np.where(flipped, 0.0, gp)[~closes]
        exploded = ~closes & up[idx] & (p > _Q_MAX)
        vanished = ~closes & ~up[idx] & (p < _Q_MIN)
        result[idx[exploded]] = np.inf
        result[idx[vanished]] = 0.0
        searching[idx[closes | exploded | vanished]] = False
    idx = np.flatnonzero(np.isnan(result))
    if idx.size:
        lo = np.minimum(near[idx], far[idx])
        hi = np.maximum(near[idx], far[idx])
        glo = np.where(up[idx], gnear[idx], gfar[idx])
        ghi = np.where(up[idx], gfar[idx], gnear[idx])
        result[idx] = _solve_brackets(lambda x, sub: g(x, idx[sub]), lo, hi, glo, ghi, tol)
    return result


def fixed_point(activation, sigma_w: float, sigma_b: float = 0.0, q0: float = 1.0, tol: float = 1e-10,
                max_iter: int = 10000, *, negative_slope: float | None = None) -> float:
    r"""The fixed point ``q* = V(q*)`` of the variance map that iterating from ``q0`` approaches.

    Iterating ``q ← V(q)`` converges only algebraically at the edge of chaos (``q^l ∼ 1/(2l)`` for
    tanh at σ_w = 1), so the limit is found by bracketing instead: from ``q0`` step in the direction
    of ``V(q0) − q0`` by factors of 16 (10¹⁰ beyond 2³²) until ``V(q) − q`` changes sign by more
    than rounding (``|V(q) − q| > 1e-13·q``), then regula falsi (Illinois) to relative width
    ``tol``. For the usual increasing q-maps this is the limit of the iteration. ``max_iter``
    bounds the number of q-map evaluations (about 15–40 are used).

    Special cases, by definition of the result:

    * ``|V(q0) − q0| ≤ tol·q0`` returns ``q0``. For a positively homogeneous φ at σ_b = 0 with
      ``σ_w² E[φ(z)²] = 1`` — ReLU at σ_w² = 2 (He), the identity at σ_w² = 1 — *every* q is fixed
      and ``q0`` is what is returned.
    * ``0.0`` when ``V(q) < q`` all the way down to 1e-60 (q* = 0, or a q* < 1e-60): tanh and
      other odd φ with ``σ_w² φ'(0)² ≤ 1`` at σ_b = 0; ReLU at σ_b = 0 and σ_w² < 2.
    * ``inf`` when ``V(q) > q`` all the way up to 1e250 (the variance explodes, no fixed point):
      ReLU at σ_w² > 2, or at σ_w² = 2 with σ_b > 0.

    >>> fixed_point("relu", sigma_w=1.0, sigma_b=1.0)  # q = q/2 + 1
    2.0
    """
    phi = _Phi(activation, negative_slope)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    q0 = _positive("q0", q0)
    tol = _positive("tol", tol)
    max_iter = _count("max_iter", max_iter)
    return float(_fixed_points(phi, np.array([sw2]), np.array([sb2]), q0, tol, max_iter)[0])


def _count(arg: str, value, minimum: int = 1) -> int:
    return check_int(arg, value, minimum=minimum)


# --------------------------------------------------------------------------- χ₁


def chi1(activation, sigma_w: float, sigma_b: float = 0.0, q: float | None = None, *,
         negative_slope: float | None = None) -> float:
    r"""χ₁ = σ_w² E[φ'(√q z)²] (Poole et al. 2016; Schoenholz et al. 2017).

    At the fixed point ``q*`` of :func:`fixed_point` (from ``q0 = 1``) unless ``q`` is given.
    χ₁ is the slope of the correlation map at c = 1 and the per-layer factor of the
    back-propagated gradient variance: ``< 1`` ordered (vanishing), ``> 1`` chaotic (exploding).
    Where the variance grows without bound there is no finite fixed point (:func:`fixed_point`
    returns ``inf``: ReLU at σ_w² = 2 with σ_b > 0, or σ_w² > 2); then, and for ``q=math.inf``, the
    value is the ``q → ∞`` limit (evaluated at q = 1e30), the factor a layer applies to gradients
    while the variance keeps growing.

    >>> chi1("relu", sigma_w=2 ** 0.5, sigma_b=0.3, q=fixed_point("relu", 2 ** 0.5, 0.3))  # q* = inf
    1.0

    >>> round(chi1("relu", sigma_w=1.0), 12)  # σ_w²/2, for any q
    0.5
    """
    phi = _Phi(activation, negative_slope)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    if q is None:
        q = _fixed_points(phi, np.array([sw2]), np.array([sb2]), 1.0, 1e-10, 10000)[0]
    elif not (isinstance(q, numbers.Real) and not isinstance(q, bool) and q == math.inf):
        q = _nonneg("q", q)
    return float(sw2 * _stats(phi, np.array([float(q)]))["dphi2"][0])


# --------------------------------------------------------------------------- the correlation map


def _pair_expectation(phi: _Phi, c: float, q: float, derivative: bool) -> float:
    """``E[f(u1) f(u2)]`` with f = φ (or φ'), ``u1 = √q z1``, ``u2 = √q (c z1 + √(1−c²) z2)``."""
    rq = math.sqrt(float(_finite_q(np.array(q))))
    s = math.sqrt(max(0.0, 1.0 - c * c))

    def f(x):
        return phi.value_and_grad(x)[1] if derivative else phi.value(x)

    if s == 0.0:  # u2 = c·u1 with c = ±1: a 1-D integral, cut at the kinks of both factors
        mirrored = _Phi(phi.fn, kinks=phi.kinks + tuple(-k for k in phi.kinks))
        x, _, w = _nodes(mirrored, np.array([q]))
        return float((f(x) * f(c * x) * w).sum())
    x1, z1, w1 = _nodes(phi, np.array([q]))
    z1, w1 = z1[0], w1[0]
    kinks = np.array(phi.kinks)
    cuts = (kinks[None, :] / rq - c * z1[:, None]) / s if kinks.size else None
    z2, w2 = inner_rule(-c * z1 / s, cuts)
    x2 = rq * (c * z1[:, None] + s * z2)
    return float(w1 @ (f(x1[0]) * (f(x2) * w2).sum(axis=1)))


def _cmap(phi: _Phi, c: float, q: float, sw2: float, sb2: float, q_next: float) -> float:
    return (sw2 * _pair_expectation(phi, c, q, derivative=False) + sb2) / q_next


def correlation_map(c, q: float, activation, sigma_w: float, sigma_b: float = 0.0, *,
                    negative_slope: float | None = None):
    r"""The correlation map (Poole et al. 2016): the correlation of two inputs' pre-activations
    after one layer, given their correlation ``c`` and common pre-activation variance ``q`` before it.

    .. math:: C(c) = \frac{σ_w² E[φ(u_1) φ(u_2)] + σ_b²}{V(q)}, \quad
              u_1 = \sqrt{q}\, z_1,\ u_2 = \sqrt{q}\,(c z_1 + \sqrt{1-c^2}\, z_2)

    At ``q = q*`` (where ``V(q*) = q*``) this is the map whose fixed points c* Poole et al. and
    Schoenholz et al. study. ``c`` may be a number or an array in [−1, 1]; the result has its shape.
    The 2-D integral is a product rule whose inner line is cut where ``u2 = 0`` (see
    :mod:`initlab.theory.quadrature`); for ReLU it reproduces the arc-cosine kernel of Cho & Saul
    (2009) to ~1e-14.

    >>> round(correlation_map(0.0, 1.0, "relu", sigma_w=2 ** 0.5), 12)  # 2·(1/2π)/1
    0.318309886184
    """
    phi = _Phi(activation, negative_slope)
    q = _nonneg("q", q)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    arr = np.asarray(c, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > 1.0):
        raise InitlabError(f"c: got {c!r}; allowed: correlations in [-1, 1]")
    q_next = sw2 * _second_moment(phi, np.array([q]))[0] + sb2
    if not q_next > 0:
        raise InitlabError(f"q: got {q!r}; allowed: a q with V(q) > 0 (with sigma_w = {sigma_w!r}, sigma_b = "
                           f"{sigma_b!r} the next layer's variance V(q) = {float(q_next)!r}, so correlations are "
                           "undefined)")
    out = np.array([_cmap(phi, float(ci), q, sw2, sb2, q_next) for ci in arr.reshape(-1)]).reshape(arr.shape)
    return float(out) if out.ndim == 0 else out


def _stable_correlation(phi: _Phi, q: float, sw2: float, sb2: float) -> float:
    """The stable fixed point c* < 1 of the c-map at q = q* in the chaotic phase (χ₁ > 1).

    ``h(c) = C(c) − c`` is convex on [0, 1] (C has non-negative Taylor coefficients: the squared
    Hermite coefficients of φ, by Mehler's formula), ``h(0) ≥ 0``, ``h(1) = 0`` and
    ``h'(1) = χ₁ − 1 > 0``, so it has exactly one root in [0, 1). It is bracketed on
    ``c = 1 − 2^{−k}`` and solved in ``t = 1 − c`` to relative 1e-14 (so c* is exact near 1 too).
    """
    def h(c):
        return _cmap(phi, c, q, sw2, sb2, q) - c

    h0 = h(0.0)
    if h0 <= 1e-14:
        return 0.0  # h(0) >= 0 in exact arithmetic: C(0) = 0 means c* = 0 (odd φ at σ_b = 0)
    t_hi, h_hi = 1.0, h0  # t = 1 − c; h > 0 at t_hi, h < 0 at t_lo
    for k in range(1, 45):
        t = 2.0 ** -k
        ht = h(1.0 - t)
        if ht < 0:
            root = _solve_brackets(lambda x, _: np.array([h(1.0 - x[0])]), np.array([t]), np.array([t_hi]),
                                   np.array([ht]), np.array([h_hi]), 1e-14)
            return 1.0 - float(root[0])
        t_hi, h_hi = t, ht
    return 1.0  # no sign change down to 1 − c = 2⁻⁴⁴: numerically at the edge of chaos


def depth_scales(activation, sigma_w: float, sigma_b: float = 0.0, *,
                 negative_slope: float | None = None) -> tuple[float, float]:
    r"""Depth scales ``(ξ_q, ξ_c)`` of Schoenholz et al. 2017:

    .. math::

        ξ_q^{-1} = -\log\big(χ_1 + σ_w² E[φ''(\sqrt{q^*} z) φ(\sqrt{q^*} z)]\big), \qquad
        ξ_c^{-1} = -\log χ_c, \quad χ_c = σ_w² E[φ'(u_1) φ'(u_2)]\big|_{q^*, c^*}

    ``ξ_q`` is how fast the variance reaches ``q*``: its argument is the slope ``V'(q*)`` of the
    q-map, computed as ``σ_w² E[z φ φ']/√q*`` (equal by Gaussian integration by parts, and exact for
    φ with kinks). ``ξ_c`` is how fast two inputs' correlation reaches its stable fixed point c*: in
    the ordered phase (χ₁ < 1) c* = 1 and χ_c = χ₁; in the chaotic phase c* < 1 is found by a root
    search. At the edge of chaos (``|χ₁ − 1| ≤ 1e-10``) ``ξ_c = inf``; a map slope ≥ 1 gives ``inf``.

    Degenerate cases: at ``q* = 0`` (ReLU or tanh at σ_b = 0 in the ordered phase) correlations are
    undefined; the formula's value χ_c = χ₁(0) is used, which is also the gradient depth scale
    ``ξ_∇ = −1/log χ₁``. Where the variance explodes (``q* = inf``) there is no fixed point and both
    scales are ``nan``.

    >>> xi_q, xi_c = depth_scales("tanh", sigma_w=1.0, sigma_b=0.05 ** 0.5)
    >>> xi_c > 1
    True
    """
    phi = _Phi(activation, negative_slope)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    q = float(_fixed_points(phi, np.array([sw2]), np.array([sb2]), 1.0, 1e-12, 10000)[0])
    if math.isinf(q):
        return math.nan, math.nan
    st = _stats(phi, np.array([q]))
    slope_q = abs(sw2 * st["slope"][0])
    x1 = sw2 * st["dphi2"][0]
    if abs(x1 - 1.0) <= _CRITICAL_TOL:
        chi_c = 1.0
    elif x1 < 1.0 or q == 0.0:
        chi_c = x1
    else:
        c_star = _stable_correlation(phi, q, sw2, sb2)
        chi_c = sw2 * _pair_expectation(phi, c_star, q, derivative=True)
    return _scale(slope_q), _scale(chi_c)


def _scale(factor: float) -> float:
    """``−1/log(factor)`` for a contraction factor in [0, 1); ``inf`` at or beyond 1."""
    if factor >= 1.0:
        return math.inf
    if factor <= 0.0:
        return 0.0
    return -1.0 / math.log(factor)


# --------------------------------------------------------------------------- the edge of chaos


def _chi1_at_fixed_points(phi: _Phi, sw2: np.ndarray, sb2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = _fixed_points(phi, sw2, sb2, 1.0, 1e-12, 10000)
    return sw2 * _stats(phi, q)["dphi2"], q


_Q_BRANCH = 1e-6  # where the branch of fixed points q* → 0⁺ is tested for stability
_STABLE_TOL = 1e-9  # V'(q*) ≤ 1 + this counts as stable (the ReLU map has V' = 1 exactly)


@dataclass(frozen=True)
class CriticalPoint:
    """A point of the edge of chaos: at ``sigma_w`` (and ``sigma_b``) the variance map has the fixed
    point ``q_star`` with ``chi1`` = 1, and it is stable: ``map_slope`` = V'(q*) ≤ 1."""

    activation: str
    sigma_b: float
    sigma_w: float
    q_star: float
    chi1: float
    map_slope: float


class _NoEdge(Exception):
    """Why no stable fixed point has χ₁ = 1 (the message of the user-facing error)."""


def _critical(phi: _Phi, sb2: float) -> tuple[float, float, float, float]:
    """``(σ_w², q*, χ₁, V'(q*))`` of the stable edge of chaos at σ_b², or :class:`_NoEdge`.

    The fixed points are parametrized by q: q is fixed at ``σ_w²(q) = (q − σ_b²)/E[φ(√q z)²]``, where
    ``χ₁(q) = σ_w²(q)·E[φ'²]`` and ``V'(q) = σ_w²(q)·dE[φ²]/dq``. Candidates: the roots of χ₁(q) = 1
    on q ∈ (σ_b², 10¹⁰] (bracketed on a grid of 4 points per decade, solved to relative 1e-13), and at
    σ_b = 0 for φ(0) = 0 the limit q* → 0⁺ (σ_w² = 1/E[φ'(0)²], where χ₁ → 1). A candidate counts
    when it is stable, V'(q*) ≤ 1 (for q* → 0⁺: at q = 1e-6 on the branch; V' = 1 is accepted: a
    piecewise-linear φ that vanishes at its kinks has V' = χ₁, the ReLU map every q fixed); of those,
    the smallest σ_w² is the answer.
    """
    found: list[tuple[float, float, float, float]] = []
    unstable: list[tuple[float, float, float]] = []
    if sb2 == 0.0 and phi.value(np.zeros(1))[0] == 0.0:
        st0 = _stats(phi, np.array([0.0, _Q_BRANCH]))
        if st0["dphi2"][0] > 0:
            sw2_0 = 1.0 / st0["dphi2"][0]
            branch = _Q_BRANCH / st0["second"][1] * st0["slope"][1]
            if branch <= 1.0 + _STABLE_TOL:
                found.append((sw2_0, 0.0, 1.0, sw2_0 * st0["slope"][0]))
            else:
                unstable.append((sw2_0, 0.0, branch))  # V'(q) > 1 just above 0: q* = 0 repels
    q = sb2 + np.geomspace(max(sb2, 1.0) * 1e-6, 1e10, 4 * 16 + 1)

    def g(x, _=None):
        st = _stats(phi, x)
        return (x - sb2) * st["dphi2"] - st["second"]

    gq = g(q)
    tiny = 1e-12 * np.abs(_stats(phi, q)["second"])
    sign = np.where(np.abs(gq) <= tiny, 0.0, np.sign(gq))
    idx = np.flatnonzero((sign[:-1] * sign[1:]) < 0)
    if idx.size:
        roots = _solve_brackets(g, q[idx], q[idx + 1], gq[idx], gq[idx + 1], 1e-13)
        st = _stats(phi, roots)
        sw2 = (roots - sb2) / st["second"]
        for r, w, x1, v1 in zip(roots, sw2, sw2 * st["dphi2"], sw2 * st["slope"]):
            if v1 <= 1.0 + _STABLE_TOL:
                found.append((w, r, x1, v1))
            else:
                unstable.append((w, r, v1))
    if found:
        return min(found)
    if unstable:
        w, r, v1 = min(unstable)
        where = (f"q* → 0 (V'(q) = {v1:.9g} > 1 at q = {_Q_BRANCH:g})" if r == 0.0 else
                 f"q* = {r:.6g} (V'(q*) = {v1:.6g} > 1)")
        raise _NoEdge(f"χ₁ = 1 only at unstable fixed points: at σ_w = {math.sqrt(w):.6g}, {where}; the variance "
                      "moves away from them")
    top = _stats(phi, q[-1:])
    x_top = (q[-1] - sb2) * top["dphi2"][0] / top["second"][0]
    if abs(x_top - 1.0) < 1e-3:
        raise _NoEdge("χ₁ < 1 at every finite fixed point and reaches 1 only as q* → ∞, where there is no fixed "
                      "point (so it is for ReLU, leaky ReLU and the identity at σ_b > 0: their edge of chaos is "
                      "the single point σ_b = 0; Hayou et al. 2019)")
    raise _NoEdge("χ₁ = 1 at no fixed point q* in (σ_b², 1e10]")


def critical_point(activation, sigma_b: float = 0.0, *, negative_slope: float | None = None) -> CriticalPoint:
    r"""The edge of chaos at ``sigma_b``: the weight scale σ_w at which the variance map has a **stable**
    fixed point q* with χ₁(q*) = 1 (Poole et al. 2016; Schoenholz et al. 2017).

    Found along the curve of fixed points (see :func:`_critical`): every q > σ_b² is the fixed point of
    ``σ_w²(q) = (q − σ_b²)/E[φ(√q z)²]``, with ``χ₁(q) = σ_w²(q) E[φ'(√q z)²]`` and map slope
    ``V'(q) = σ_w²(q) dE[φ²]/dq``; the answer is a root of χ₁(q) = 1 with V'(q) ≤ 1 (the smallest
    σ_w² if several), or, at σ_b = 0 for φ(0) = 0, the limit q* → 0⁺, σ_w² = 1/E[φ'(0)²], when the
    fixed points near 0 are stable (tanh: σ_w = 1; ReLU: σ_w² = 2, where every q is fixed).

    Where no stable fixed point has χ₁ = 1 the answer is an :class:`~initlab.errors.InitlabError`
    that says why: ReLU and other positively homogeneous φ with σ_b > 0 (χ₁ = 1 − σ_b²/q* < 1 at every
    finite fixed point; at σ_w² = 2 the variance grows without bound — Hayou et al. 2019); GELU and
    SiLU at small σ_b, whose fixed points with χ₁ = 1 are unstable.

    >>> p = critical_point("tanh", sigma_b=0.05 ** 0.5)
    >>> round(p.sigma_w ** 2, 4), round(p.q_star, 4), round(p.chi1, 10), p.map_slope < 1
    (1.761, 0.57, 1.0, True)
    """
    phi = _Phi(activation, negative_slope)
    sb = _nonneg("sigma_b", sigma_b)
    try:
        sw2, q, x1, slope = _critical(phi, sb * sb)
    except _NoEdge as why:
        raise fail("sigma_b", sigma_b, f"a sigma_b at which {phi.name!r} has an edge of chaos: {why}") from None
    return CriticalPoint(phi.name, sb, math.sqrt(sw2), float(q), float(x1), float(slope))


def critical_sigma_w(activation, sigma_b: float = 0.0, *, negative_slope: float | None = None) -> float:
    r"""The weight scale σ_w at the edge of chaos: :func:`critical_point`'s σ_w, where the variance
    map has a stable fixed point q* with χ₁(q*) = 1 (Poole et al. 2016; Schoenholz et al. 2017).
    ReLU: σ_w² = 2 at σ_b = 0 (He et al. 2015); tanh: σ_w² = 1 at σ_b = 0 and 1.76095… at
    σ_b² = 0.05 (Schoenholz et al. 2017: ≈ 1.76). Where there is none, an error says why.

    >>> round(critical_sigma_w("relu") ** 2, 10)
    2.0
    """
    return critical_point(activation, sigma_b, negative_slope=negative_slope).sigma_w


def _critical_sw2(phi: _Phi, sb2: np.ndarray) -> np.ndarray:
    """Batched critical σ_w² for each σ_b² (``nan`` where there is no stable edge of chaos)."""
    out = np.full(sb2.size, np.nan)
    for i, b in enumerate(sb2):
        try:
            out[i] = _critical(phi, float(b))[0]
        except _NoEdge:
            pass
    return out


def phase_diagram(activation, sigma_w2_grid, sigma_b2_grid, *, negative_slope: float | None = None) -> dict:
    r"""χ₁ over a grid of (σ_w², σ_b²): the ordered (χ₁ < 1) / chaotic (χ₁ > 1) phase diagram
    drawn by Poole et al. 2016 and Schoenholz et al. 2017.

    Returns a dict: ``activation`` (its name) and NumPy arrays ``sigma_w2`` (n_w,), ``sigma_b2``
    (n_b,), ``chi1`` and ``q_star`` of shape ``(n_b, n_w)`` (row = σ_b², column = σ_w²; χ₁ at the
    fixed point q*, as in :func:`chi1`), and ``critical_sigma_w2`` (n_b,): the σ_w² where χ₁ = 1 at a
    stable fixed point for each σ_b² (:func:`critical_sigma_w` squared; ``nan`` where there is none,
    e.g. ReLU at σ_b > 0, whose χ₁ still crosses 1 at σ_w² = 2 with q* = ∞).

    >>> d = phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.1])
    >>> d["chi1"].round(12).tolist(), d["critical_sigma_w2"].round(10).tolist()  # ReLU: σ_b = 0 only
    ([[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]], [2.0, nan])
    """
    phi = _Phi(activation, negative_slope)
    sw2 = _grid("sigma_w2_grid", sigma_w2_grid)
    sb2 = _grid("sigma_b2_grid", sigma_b2_grid)
    W, B = np.meshgrid(sw2, sb2)
    x1, q = _chi1_at_fixed_points(phi, W.reshape(-1), B.reshape(-1))
    return {"activation": phi.name, "sigma_w2": sw2, "sigma_b2": sb2, "chi1": x1.reshape(W.shape),
            "q_star": q.reshape(W.shape), "critical_sigma_w2": _critical_sw2(phi, sb2)}


def _grid(arg: str, values) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InitlabError(f"{arg}: got {values!r}; allowed: a non-empty 1-D sequence of finite numbers >= 0")
    return arr


# --------------------------------------------------------------------------- layer-by-layer prediction


def _variance(mean: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``E[φ²] − E[φ]²``; ∞ where the second moment is (an exploding chain)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(second), np.inf, second - mean * mean)


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Prediction:
    """Mean-field prediction for a chain ``input → [Linear → φ] × depth`` (arrays of length ``depth``;
    index 0 is layer 1, the one that reads the input).

    * ``q[l]`` — variance of layer l's pre-activation ``h = W x + b``.
    * ``post_mean[l]``, ``post_second_moment[l]``, ``post_variance[l]`` — ``E[φ(h)]``, ``E[φ(h)²]``
      and ``E[φ(h)²] − E[φ(h)]²`` of that layer's activation output.
    * ``chi1[l] = σ_w² E[φ'(h)²]`` at ``q[l]``.
    * ``grad_var[l]`` — variance of ∂loss/∂h of layer l relative to the last layer (= 1).
    """

    activation: str
    sigma_w: float
    sigma_b: float
    depth: int
    q0: float
    q: np.ndarray = field(repr=False)
    post_mean: np.ndarray = field(repr=False)
    post_second_moment: np.ndarray = field(repr=False)
    post_variance: np.ndarray = field(repr=False)
    chi1: np.ndarray = field(repr=False)
    grad_var: np.ndarray = field(repr=False)

    def to_rows(self) -> list[dict]:
        """One dict per layer (``layer`` counts from 1) — a tidy table, e.g. for ``pandas.DataFrame``."""
        return [{"layer": l + 1, "activation": self.activation, "sigma_w2": self.sigma_w ** 2,
                 "sigma_b2": self.sigma_b ** 2, "q": float(self.q[l]), "post_mean": float(self.post_mean[l]),
                 "post_second_moment": float(self.post_second_moment[l]),
                 "post_variance": float(self.post_variance[l]), "chi1": float(self.chi1[l]),
                 "grad_var": float(self.grad_var[l])} for l in range(self.depth)]


def predict(activation, sigma_w: float, sigma_b: float = 0.0, depth: int = 10, q0: float = 1.0, *,
            negative_slope: float | None = None) -> Prediction:
    r"""Layer-by-layer mean-field prediction for ``depth`` layers of ``h^l = W^l x^{l−1} + b^l``,
    ``x^l = φ(h^l)``, with ``Var(W) = σ_w²/fan_in``, ``Var(b) = σ_b²`` and equal widths.

    ``q0`` is the second moment (variance, for zero-mean data) of the network **input** ``x⁰``,
    which is *not* passed through φ:

    .. math:: q^1 = σ_w² q_0 + σ_b², \qquad q^{l} = σ_w² E[φ(\sqrt{q^{l-1}} z)^2] + σ_b²

    Backward, with the gradient-independence assumption of Schoenholz et al. 2017:
    ``∂L/∂h^l = φ'(h^l) ⊙ W^{l+1ᵀ} ∂L/∂h^{l+1}``, so

    .. math:: \mathrm{grad\_var}[l] = \mathrm{grad\_var}[l+1] \cdot σ_w² E[φ'(\sqrt{q^l} z)^2]
              = \mathrm{grad\_var}[l+1] \cdot χ_1^{(l)}, \qquad \mathrm{grad\_var}[\mathrm{last}] = 1

    (the χ₁ of layer l — the one whose φ' the gradient passes — times the σ_w² of layer l+1).

    >>> p = predict("relu", sigma_w=2 ** 0.5, depth=3)
    >>> p.q.round(12).tolist(), p.grad_var.round(12).tolist()
    ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    """
    phi = _Phi(activation, negative_slope)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    depth = _count("depth", depth)
    q0 = _nonneg("q0", q0)
    q = np.empty(depth)
    q[0] = sw2 * q0 + sb2
    for l in range(1, depth):
        q[l] = sw2 * _second_moment(phi, q[l - 1:l])[0] + sb2
    st = _stats(phi, q)
    x1 = sw2 * st["dphi2"]
    grad = np.ones(depth)
    with np.errstate(over="ignore", invalid="ignore"):  # exploding chains overflow to inf
        grad[:-1] = np.cumprod(x1[-2::-1])[::-1]
    return Prediction(activation=phi.name, sigma_w=float(sigma_w), sigma_b=float(sigma_b), depth=depth,
                      q0=q0, q=_frozen(q), post_mean=_frozen(st["mean"]),
                      post_second_moment=_frozen(st["second"]),
                      post_variance=_frozen(_variance(st["mean"], st["second"])), chi1=_frozen(x1),
                      grad_var=_frozen(grad))
