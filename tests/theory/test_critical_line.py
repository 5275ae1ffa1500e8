"""The edge of chaos for every activation of the catalogue that theory supports: where
``critical_point`` answers, the variance map (computed here by adaptive quadrature, with φ and φ′
written here in NumPy) has the fixed point q* it names, χ₁ = 1 there, and the fixed point is stable
(V′(q*) ≤ 1); where it refuses, a scan of the fixed-point curve computed here finds no stable
fixed point with χ₁ = 1.

Every q > σ_b² is the fixed point of σ_w²(q) = (q − σ_b²)/E[φ(√q z)²]; χ₁ − 1 there has the sign of
g(q) = (q − σ_b²)·E[φ′²] − E[φ²] and the map's slope is V′(q) = σ_w²(q)·dE[φ²]/dq.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

import initlab
from initlab.activations import CATALOGUE
from initlab.theory import chi1, critical_point, critical_sigma_w, fixed_point, phase_diagram

_SA, _SL = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # SELU's α, λ (Klambauer 2017)
_sig = special.expit


def _sp(x):
    return np.logaddexp(0.0, x)


# φ and φ′ from each activation's definition (PyTorch's documentation), default parameters
REF = {
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0) * 1.0, ()),
    "relu6": (lambda x: np.clip(x, 0.0, 6.0), lambda x: ((x > 0) & (x < 6)) * 1.0, (6.0,)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01), ()),
    "prelu": (lambda x: np.where(x > 0, x, 0.25 * x), lambda x: np.where(x > 0, 1.0, 0.25), ()),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.exp(np.minimum(x, 0)), ()),
    "celu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.exp(np.minimum(x, 0)), ()),
    "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
             ()),
    "silu": (lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x))), ()),
    "mish": (lambda x: x * np.tanh(_sp(x)), lambda x: np.tanh(_sp(x)) + x * _sig(x) * (1 - np.tanh(_sp(x)) ** 2), ()),
    "hardswish": (lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda x: np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6)), (-3.0, 3.0)),
    "softplus": (lambda x: np.where(x > 20, x, _sp(x)), lambda x: np.where(x > 20, 1.0, _sig(x)), ()),
    "selu": (lambda x: _SL * np.where(x > 0, x, _SA * np.expm1(np.minimum(x, 0))),
             lambda x: _SL * np.where(x > 0, 1.0, _SA * np.exp(np.minimum(x, 0))), ()),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, ()),
    "sigmoid": (_sig, lambda x: _sig(x) * (1 - _sig(x)), ()),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2, ()),
    "hardtanh": (lambda x: np.clip(x, -1.0, 1.0), lambda x: (np.abs(x) < 1) * 1.0, (-1.0, 1.0)),
    "hardsigmoid": (lambda x: np.clip(x / 6 + 0.5, 0.0, 1.0), lambda x: (np.abs(x) < 3) / 6.0, (-3.0, 3.0)),
    "logsigmoid": (lambda x: -_sp(-x), lambda x: 1 - _sig(x), ()),
    "tanhshrink": (lambda x: x - np.tanh(x), lambda x: np.tanh(x) ** 2, ()),
    "softshrink": (lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
                   lambda x: (np.abs(x) > 0.5) * 1.0, (-0.5, 0.5)),
    "hardshrink": (lambda x: np.where(np.abs(x) > 0.5, x, 0.0), lambda x: (np.abs(x) > 0.5) * 1.0, (-0.5, 0.5)),
    "linear": (lambda x: x, lambda x: np.ones_like(x), ()),
    "sin": (np.sin, np.cos, ()),
}
SUPPORTED = [r.name for r in CATALOGUE if r.theory and r.name != "threshold"]  # threshold needs parameters


def test_every_supported_activation_has_a_reference():
    assert set(SUPPORTED) == set(REF)


def _moments_quad(name: str, q: float) -> tuple[float, float]:
    """(E[φ(√q z)²], E[φ′(√q z)²]) by scipy.integrate.quad, split at 0 and at every kink."""
    f, df, kinks = REF[name]
    rq = math.sqrt(q)
    edges = sorted({0.0, *(k / rq for k in kinks if abs(k / rq) < 40)})
    edges = [-np.inf, *edges, np.inf]
    dens = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    second = sum(integrate.quad(lambda z: float(f(np.float64(rq * z))) ** 2 * dens(z), a, b, epsabs=1e-15,
                                epsrel=1e-13, limit=400)[0] for a, b in zip(edges[:-1], edges[1:]))
    dphi2 = sum(integrate.quad(lambda z: float(df(np.float64(rq * z))) ** 2 * dens(z), a, b, epsabs=1e-15,
                               epsrel=1e-13, limit=400)[0] for a, b in zip(edges[:-1], edges[1:]))
    return second, dphi2


_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)


def _moments_gl(name: str, q: float) -> tuple[float, float]:
    """The same moments by composite 24-point Gauss–Legendre on panels of width ≤ 0.25 over
    z ∈ [−12, 12], cut at every kink and graded towards 0 (edges ±2⁻ᵏ, k ≤ 30), where a large q
    squeezes φ's bend into a sliver: vectorized, for scans and root searches."""
    f, df, kinks = REF[name]
    rq = math.sqrt(q)
    cuts = [k / rq for k in kinks if abs(k / rq) < 12]
    graded = 2.0 ** -np.arange(3, 31)
    edges = np.unique(np.concatenate([np.linspace(-12.0, 12.0, 97), cuts, graded, -graded]))
    lo, hi = edges[:-1, None], edges[1:, None]
    z = ((lo + hi) / 2 + (hi - lo) / 2 * _GL_X).ravel()
    w = ((hi - lo) / 2 * _GL_W).ravel() * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return float(f(rq * z) ** 2 @ w), float(df(rq * z) ** 2 @ w)


CASES = [(name, sb) for name in SUPPORTED for sb in (0.0, 0.3, 1.0)]


@pytest.mark.parametrize("name, sigma_b", CASES, ids=[f"{n}-{sb}" for n, sb in CASES])
def test_critical_point_is_a_stable_fixed_point_with_chi1_one(name, sigma_b):
    sb2 = sigma_b**2
    try:
        p = critical_point(name, sigma_b)
    except initlab.InitlabError as err:
        assert str(err).startswith(f"sigma_b: got {sigma_b!r}; allowed: a sigma_b at which '{name}' has an edge")
        _assert_no_stable_crossing(name, sb2)
        return
    sw2 = p.sigma_w**2
    assert p.chi1 == pytest.approx(1.0, abs=1e-9) and p.map_slope <= 1 + 1e-9
    if p.q_star == 0.0:
        # the limit q* → 0⁺ (σ_b = 0, φ(0) = 0): σ_w²·E[φ′²] → 1, and q* = 0 attracts: V(q) ≤ q just above it
        f, df, _ = REF[name]
        assert sigma_b == 0.0 and f(np.float64(0.0)) == 0.0
        d0 = (df(np.float64(-1e-300)) ** 2 + df(np.float64(1e-300)) ** 2) / 2  # E[φ′(√q z)²] as q → 0⁺
        assert sw2 * d0 == pytest.approx(1.0, rel=1e-12)
        for q in (1e-4, 1e-3):
            assert sw2 * _moments_quad(name, q)[0] <= q * (1 + 1e-9)
        return
    q = p.q_star
    a, d = _moments_quad(name, q)
    assert sw2 * a + sb2 == pytest.approx(q, rel=1e-9)   # q* is a fixed point
    assert sw2 * d == pytest.approx(1.0, rel=1e-8)        # χ₁ = 1 there
    h = 1e-4 * q
    slope = sw2 * (_moments_quad(name, q + h)[0] - _moments_quad(name, q - h)[0]) / (2 * h)
    assert slope <= 1 + 1e-6                              # stable: V'(q*) ≤ 1
    assert p.map_slope == pytest.approx(slope, rel=1e-5, abs=1e-7)
    assert critical_sigma_w(name, sigma_b) == p.sigma_w


def _assert_no_stable_crossing(name: str, sb2: float) -> None:
    """On a grid of q (and at σ_b = 0, the branch q → 0⁺), every fixed point with χ₁ = 1 is unstable."""
    def g(x):
        a, d = _moments_gl(name, x)
        return (x - sb2) * d - a

    q = sb2 + np.geomspace(max(sb2, 1.0) * 1e-5, 1e7, 100)
    gq = np.array([g(x) for x in q])
    for i in np.flatnonzero(np.sign(gq[:-1]) * np.sign(gq[1:]) < 0):
        r = optimize.brentq(g, q[i], q[i + 1], rtol=1e-12)
        sw2, h = (r - sb2) / _moments_gl(name, r)[0], 1e-4 * r
        slope = sw2 * (_moments_gl(name, r + h)[0] - _moments_gl(name, r - h)[0]) / (2 * h)
        assert slope > 1 + 1e-6, (name, r, slope)
    f, df, _ = REF[name]
    if sb2 == 0.0 and f(np.float64(0.0)) == 0.0 and df(np.float64(1e-300)) != 0:
        # the branch q* → 0⁺: its fixed points repel, V'(q) > 1 (σ_w² = q/E[φ²] there)
        q1, q2 = 1e-3, 1.001e-3
        a1, a2 = _moments_gl(name, q1)[0], _moments_gl(name, q2)[0]
        assert q1 / a1 * (a2 - a1) / (q2 - q1) > 1


def test_relu_with_bias_has_no_finite_fixed_point_and_chi1_says_so():
    """At σ_w² = 2 and σ_b > 0 the ReLU variance grows by σ_b² per layer: fixed_point is inf, chi1 there
    is the q → ∞ limit σ_w²/2 = 1 (no "q: got inf"), and critical_sigma_w explains why it has no answer."""
    sw = math.sqrt(2)
    assert fixed_point("relu", sw, 0.3) == math.inf
    assert chi1("relu", sw, 0.3) == pytest.approx(1.0, rel=1e-12)
    assert chi1("relu", sw, 0.3, q=math.inf) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(initlab.InitlabError, match=r"sigma_b: got 0\.3; allowed: .*only as q\* → ∞"):
        critical_sigma_w("relu", 0.3)
    d = phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.09])
    assert d["critical_sigma_w2"][0] == pytest.approx(2.0, rel=1e-12) and math.isnan(d["critical_sigma_w2"][1])


def test_gelu_and_silu_no_longer_report_an_unstable_point():
    """The old answer for GELU at σ_b = 0 (σ_w = 1.5335) was the jump of q* from 0 to ∞, where χ₁ was
    1.07; now GELU has no edge at σ_b = 0 (its fixed points with χ₁ = 1 repel) and one at σ_b = 1."""
    for name in ("gelu", "silu"):
        with pytest.raises(initlab.InitlabError, match="unstable fixed points"):
            critical_sigma_w(name)
        p = critical_point(name, 1.0)
        assert chi1(name, p.sigma_w, 1.0) == pytest.approx(1.0, abs=1e-8)  # q0 = 1 reaches the stable q*
