"""The mean-field maps of initlab.theory against values derived here, independently.

Closed forms used (each derived in the test that uses it):
* ReLU: E[relu(√q z)²] = q/2, E[relu'(√q z)²] = 1/2, E[relu(√q z)] = √(q/2π);
  E[relu(u1) relu(u2)] = q/(2π)·(√(1−c²) + (π − arccos c)·c)   (arc-cosine kernel, Cho & Saul 2009).
* leaky ReLU (slope a): E[φ(√q z)²] = q(1+a²)/2.
* erf(√π/2·x): Williams (1997) — see test_erf_variance_map_closed_form.
* tanh: the trapezoidal rule with the hand-written derivatives in theory_reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from initlab.theory import (chi1, correlation_map, critical_sigma_w, depth_scales, fixed_point, phase_diagram,
                            variance_map)

import theory_reference as ref
from initlab.errors import InitlabError

SB_005 = math.sqrt(0.05)


def test_theory_reference_rule():
    """The tests' own trapezoidal rule agrees with adaptive quadrature on a tanh moment."""
    q = 2.3
    want = integrate.quad(lambda z: math.tanh(math.sqrt(q) * z) ** 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                          -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    assert ref.expect(lambda z: np.tanh(math.sqrt(q) * z) ** 2) == pytest.approx(want, rel=1e-11)


# --------------------------------------------------------------------------- ReLU, leaky ReLU, identity


@pytest.mark.parametrize("q", [1e-6, 0.3, 1.0, 7.5, 1e6])
@pytest.mark.parametrize("sigma_w,sigma_b", [(0.5, 0.0), (1.3, 0.2), (math.sqrt(2), 0.0), (3.0, 1.0)])
def test_relu_variance_map_is_half_q(q, sigma_w, sigma_b):
    # E[relu(√q z)²] = q·E[z²; z > 0] = q/2
    assert variance_map(q, "relu", sigma_w, sigma_b) == pytest.approx(sigma_w**2 * q / 2 + sigma_b**2, rel=1e-13)


@pytest.mark.parametrize("q", [1e-4, 1.0, 50.0])
@pytest.mark.parametrize("sigma_w", [0.7, 1.0, math.sqrt(2), 2.5])
def test_relu_chi1_is_half_sigma_w2(q, sigma_w):
    # relu'(x)² = 1 for x > 0 and 0 for x < 0: E = 1/2 at every q
    assert chi1("relu", sigma_w, q=q) == pytest.approx(sigma_w**2 / 2, rel=1e-13)
    assert chi1("relu", sigma_w, 0.3) == pytest.approx(sigma_w**2 / 2, rel=1e-13)  # at q* (finite or inf)


def test_relu_fixed_points():
    # q = σw² q/2 + σb²  =>  q* = σb² / (1 − σw²/2) for σw² < 2
    for sw2, sb2 in [(1.0, 1.0), (1.5, 0.05), (1.9, 0.3)]:
        assert fixed_point("relu", math.sqrt(sw2), math.sqrt(sb2)) == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-9)
    assert fixed_point("relu", 1.0) == 0.0  # contracts to 0 at σb = 0
    assert fixed_point("relu", 1.6) == math.inf  # σw² = 2.56 > 2 explodes
    assert fixed_point("relu", math.sqrt(2), 0.1) == math.inf  # q grows by σb² per layer: no fixed point
    # He at σb = 0: every q is fixed; q0 comes back
    for q0 in (0.1, 1.0, 42.0):
        assert fixed_point("relu", math.sqrt(2), q0=q0) == pytest.approx(q0, rel=1e-12)


@pytest.mark.parametrize("sigma_b2", [0.0, 0.05, 0.5])
def test_relu_critical_sigma_w2_is_2_at_zero_bias_only(sigma_b2):
    # χ₁ = σw²/2 whatever q* is; with σb > 0 the fixed point q* = σb²/(1 − σw²/2) runs off to ∞ as
    # σw² → 2, so χ₁ = 1 − σb²/q* < 1 at every finite one: no stable fixed point has χ₁ = 1
    if sigma_b2 == 0.0:
        assert critical_sigma_w("relu", 0.0) ** 2 == pytest.approx(2.0, rel=1e-10)
    else:
        with pytest.raises(InitlabError, match="reaches 1 only as q\\* → ∞"):
            critical_sigma_w("relu", math.sqrt(sigma_b2))


@pytest.mark.parametrize("a", [0.01, 0.2, 0.5])
def test_leaky_relu_critical_is_he_leaky(a):
    # E[φ(√q z)²] = q/2 + a² q/2 and E[φ'²] = (1 + a²)/2  =>  critical σw² = 2/(1+a²) (He et al. 2015)
    assert variance_map(2.0, "leaky_relu", 1.0, negative_slope=a) == pytest.approx(1 + a * a, rel=1e-13)
    assert critical_sigma_w("leaky_relu", negative_slope=a) ** 2 == pytest.approx(2 / (1 + a * a), rel=1e-10)


@pytest.mark.parametrize("sigma_w,sigma_b", [(0.5, 0.3), (0.9, 1.0), (1.7, 0.0)])
def test_identity_maps_are_linear(sigma_w, sigma_b):
    for q in (0.0, 0.4, 3.0):
        assert variance_map(q, "identity", sigma_w, sigma_b) == pytest.approx(sigma_w**2 * q + sigma_b**2,
                                                                            rel=1e-13, abs=1e-15)
    assert chi1("identity", sigma_w, sigma_b, q=2.0) == pytest.approx(sigma_w**2, rel=1e-13)
    if sigma_w < 1:
        assert fixed_point("identity", sigma_w, sigma_b) == pytest.approx(sigma_b**2 / (1 - sigma_w**2), rel=1e-9)
    else:
        assert fixed_point("identity", sigma_w, sigma_b) == math.inf


def test_identity_critical_is_1():
    assert critical_sigma_w("linear") == pytest.approx(1.0, rel=1e-10)
    assert fixed_point("identity", 1.0, q0=3.5) == pytest.approx(3.5, rel=1e-12)  # every q is fixed


# --------------------------------------------------------------------------- tanh


def test_tanh_critical_at_zero_bias_is_1():
    """At σb = 0, q* = 0 for σw ≤ 1 and χ₁ = σw²·E[sech⁴(0)] = σw² there: the edge is σw² = 1."""
    assert critical_sigma_w("tanh") ** 2 == pytest.approx(1.0, abs=1e-8)
    for sw in (0.3, 0.8, 0.99):
        assert fixed_point("tanh", sw) == 0.0
        assert chi1("tanh", sw) == pytest.approx(sw**2, rel=1e-12)
    # just above 1 the fixed point is positive; small-q expansion E[tanh²] = q − 2q² + O(q³)
    # gives q* ≈ (1 − 1/σw²)/2
    sw = 1.01
    assert fixed_point("tanh", sw) == pytest.approx((1 - 1 / sw**2) / 2, rel=0.05)
    assert chi1("tanh", sw) > 1


def test_tanh_fixed_point_and_chi1_match_reference():
    for sw2, sb2 in [(1.5, 0.05), (3.0, 0.2), (0.7, 0.01)]:
        q = fixed_point("tanh", math.sqrt(sw2), math.sqrt(sb2))
        assert q == pytest.approx(ref.tanh_q_star(sw2, sb2), rel=1e-9)
        assert chi1("tanh", math.sqrt(sw2), math.sqrt(sb2)) == pytest.approx(ref.tanh_chi1(sw2, sb2), rel=1e-9)


def test_tanh_critical_at_bias_005_is_1_76():
    """Derived here: χ₁(σw²) − 1 with q*(σw²) the root of the tanh q-map V(q) − q (trapezoidal rule,
    Brent) and χ₁ = σw²·E[sech⁴(√q* z)], root in σw² ∈ [1, 3] by Brent: σw² = 1.7609546396…
    (q* = 0.5700478816…). scipy.integrate.quad + brentq gives the same 1.760954639606739. So the
    claim "≈ 1.76 at σb² = 0.05" (Schoenholz et al. 2017) holds to all digits it states; the
    tolerance 1e-9 covers the two fixed-point tolerances (1e-12 here, 1e-10 relative in q*)."""
    want = ref.root(lambda sw2: ref.tanh_chi1(sw2, 0.05) - 1.0, 1.0, 3.0)
    got = critical_sigma_w("tanh", SB_005) ** 2
    assert got == pytest.approx(want, rel=1e-9)
    assert round(got, 2) == 1.76


# --------------------------------------------------------------------------- erf (Williams 1997)


A_ERF = math.sqrt(math.pi) / 2


def _williams(q11, q22, q12):
    """E[erf(a u) erf(a v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]])
    = (2/π) arcsin(2a²q12/√((1+2a²q11)(1+2a²q22))) (Williams 1997).

    With a = √π/2, 2a² = π/2. Written as arctan(x/√(1−x²)) to stay accurate when the argument is near 1.
    """
    x = (math.pi / 2) * q12 / math.sqrt((1 + (math.pi / 2) * q11) * (1 + (math.pi / 2) * q22))
    return (2 / math.pi) * math.atan2(x, math.sqrt((1 - x) * (1 + x)))


def _erf_phi(x):
    import torch

    return torch.erf(A_ERF * x)


@pytest.mark.parametrize("q", [1e-4, 0.1, 1.0, 10.0, 1e3, 1e6])
def test_erf_variance_map_closed_form(q):
    """E[erf(a√q z)²] = (2/π)·arcsin(2a²q/(1+2a²q)) (Williams 1997, u = v); a = √π/2 makes φ'(0) = 1.
    With q' = a²q = πq/4 this is the (2/π)·arcsin(2q'/(1+2q')) form."""
    sw, sb = 1.3, 0.4
    assert variance_map(q, _erf_phi, sw, sb) == pytest.approx(sw**2 * _williams(q, q, q) + sb**2, rel=1e-12)


@pytest.mark.parametrize("c", [-0.9, 0.0, 0.99, 1.0])
def test_erf_correlation_map_closed_form(c):
    q, sw, sb = 1.7, 1.2, 0.3
    q_next = sw**2 * _williams(q, q, q) + sb**2
    want = (sw**2 * _williams(q, q, c * q) + sb**2) / q_next
    assert correlation_map(c, q, _erf_phi, sw, sb) == pytest.approx(want, rel=1e-12, abs=1e-14)


# --------------------------------------------------------------------------- correlation map and depth scales


def test_relu_correlation_map_is_arccos_kernel():
    q, sw, sb = 2.3, 1.1, 0.25
    cs = np.array([-1.0, -0.5, 0.3, 0.999999, 1.0])
    kernel = q / (2 * math.pi) * (np.sqrt(1 - cs**2) + (math.pi - np.arccos(cs)) * cs)
    want = (sw**2 * kernel + sb**2) / (sw**2 * q / 2 + sb**2)
    got = correlation_map(cs, q, "relu", sw, sb)
    assert got.shape == cs.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_tanh_correlation_map_matches_reference_and_fixes_1():
    sw2, sb2 = 2.5, 0.05
    q = ref.tanh_q_star(sw2, sb2)
    for c in (0.1, 0.6, 0.95):
        want = (sw2 * ref.expect_pair(ref.tanh, ref.tanh, c, q) + sb2) / q
        assert correlation_map(c, q, "tanh", math.sqrt(sw2), math.sqrt(sb2)) == pytest.approx(want, rel=1e-9)
    assert correlation_map(1.0, q, "tanh", math.sqrt(sw2), math.sqrt(sb2)) == pytest.approx(1.0, rel=1e-9)


def test_correlation_map_small_q_limit_is_identity():
    # q → 0: tanh is linear, E[tanh(u1) tanh(u2)] ≈ q·c and V(q) ≈ σw² q, so C(c) → c (q = 0 is that limit)
    np.testing.assert_allclose(correlation_map(np.array([0.2, 0.7]), 0.0, "tanh", 0.9), [0.2, 0.7], rtol=1e-10)


def test_depth_scales_tanh_ordered_phase():
    """Ordered (χ₁ < 1): c* = 1, χ_c = χ₁; ξ_q from the q-map slope χ₁ + σw² E[φ''φ]
    (Schoenholz et al. 2017)."""
    sw2, sb2 = 1.2, 0.05
    q = ref.tanh_q_star(sw2, sb2)
    x1 = sw2 * ref.expect(lambda z: ref.dtanh(math.sqrt(q) * z) ** 2)
    slope = x1 + sw2 * ref.expect(lambda z: ref.d2tanh(math.sqrt(q) * z) * ref.tanh(math.sqrt(q) * z))
    assert x1 < 1
    xi_q, xi_c = depth_scales("tanh", math.sqrt(sw2), math.sqrt(sb2))
    assert xi_q == pytest.approx(-1 / math.log(slope), rel=1e-8)
    assert xi_c == pytest.approx(-1 / math.log(x1), rel=1e-8)


def test_depth_scales_tanh_chaotic_phase():
    """Chaotic (χ₁ > 1): c* < 1 is the root of C(c) = c, χ_c = σw² E[φ'(u1)φ'(u2)] at c*."""
    sw2, sb2 = 4.0, 0.05
    q = ref.tanh_q_star(sw2, sb2)
    c_star = ref.root(lambda c: (sw2 * ref.expect_pair(ref.tanh, ref.tanh, c, q) + sb2) / q - c, 0.0, 0.999)
    chi_c = sw2 * ref.expect_pair(ref.dtanh, ref.dtanh, c_star, q)
    slope = sw2 * ref.expect(lambda z: ref.dtanh(math.sqrt(q) * z) ** 2
                             + ref.d2tanh(math.sqrt(q) * z) * ref.tanh(math.sqrt(q) * z))
    assert 0 < c_star < 1 and chi_c < 1
    xi_q, xi_c = depth_scales("tanh", math.sqrt(sw2), math.sqrt(sb2))
    assert xi_q == pytest.approx(-1 / math.log(slope), rel=1e-8)
    assert xi_c == pytest.approx(-1 / math.log(chi_c), rel=1e-7)


def test_depth_scales_tanh_zero_bias_chaotic_has_c_star_0():
    # odd φ, σb = 0: C(0) = 0, so c* = 0 and χ_c = σw² E[sech²(√q* z)]²
    sw2 = 2.0
    q = ref.tanh_q_star(sw2, 0.0)
    chi_c = sw2 * ref.expect(lambda z: ref.dtanh(math.sqrt(q) * z)) ** 2
    assert depth_scales("tanh", math.sqrt(sw2))[1] == pytest.approx(-1 / math.log(chi_c), rel=1e-8)


def test_depth_scales_at_criticality_are_infinite():
    assert depth_scales("relu", math.sqrt(2)) == (math.inf, math.inf)  # every q fixed, χ₁ = 1
    sw = critical_sigma_w("tanh", SB_005)
    xi_q, xi_c = depth_scales("tanh", sw, SB_005)
    assert xi_c == math.inf and math.isfinite(xi_q)


def test_depth_scales_relu_ordered_and_exploding():
    # q-map q -> σw² q/2 + σb² has slope σw²/2: ξ_q = −1/log(σw²/2); χ₁ = σw²/2 too
    xi_q, xi_c = depth_scales("relu", 1.2, 0.3)
    want = -1 / math.log(1.44 / 2)
    assert xi_q == pytest.approx(want, rel=1e-10) and xi_c == pytest.approx(want, rel=1e-10)
    assert all(math.isnan(x) for x in depth_scales("relu", 1.5, 0.1))  # q* = inf: no fixed point


def test_q_map_slope_matches_finite_difference():
    # ξ_q⁻¹ = −log V'(q*): compare V'(q*) with a central difference of variance_map itself (GELU: no hand table)
    sw, sb = 1.1, 0.4
    q = fixed_point("gelu", sw, sb)
    h = 1e-5 * q
    fd = (variance_map(q + h, "gelu", sw, sb) - variance_map(q - h, "gelu", sw, sb)) / (2 * h)
    assert depth_scales("gelu", sw, sb)[0] == pytest.approx(-1 / math.log(fd), rel=1e-7)


# --------------------------------------------------------------------------- phase diagram


def test_phase_diagram_relu():
    sw2 = np.array([0.5, 1.0, 1.9, 2.1, 3.0])
    sb2 = np.array([0.0, 0.05, 0.5])
    d = phase_diagram("relu", sw2, sb2)
    assert d["chi1"].shape == (3, 5) and d["q_star"].shape == (3, 5)
    np.testing.assert_allclose(d["chi1"], np.broadcast_to(sw2 / 2, (3, 5)), rtol=1e-12)
    assert d["critical_sigma_w2"][0] == pytest.approx(2.0, rel=1e-10) and np.isnan(d["critical_sigma_w2"][1:]).all()
    assert np.all(np.isinf(d["q_star"][:, 3:]))  # chaotic ReLU explodes
    np.testing.assert_allclose(d["q_star"][1:, :3], sb2[1:, None] / (1 - sw2[None, :3] / 2), rtol=1e-9)


def test_phase_diagram_tanh_boundary():
    sw2 = np.linspace(0.5, 3.0, 6)
    sb2 = np.array([0.0, 0.05, 0.2])
    d = phase_diagram("tanh", sw2, sb2)
    crit = d["critical_sigma_w2"]
    assert crit[0] == pytest.approx(1.0, abs=1e-8)
    assert crit[1] == pytest.approx(critical_sigma_w("tanh", SB_005) ** 2, rel=1e-10)
    assert np.all(np.diff(crit) > 0)  # more bias needs more weight variance to reach chaos
    chaotic = d["chi1"] > 1
    assert np.array_equal(chaotic, sw2[None, :] > crit[:, None])
    assert d["chi1"][1, 2] == pytest.approx(ref.tanh_chi1(sw2[2], 0.05), rel=1e-9)


def test_docstring_examples():
    import doctest

    import initlab.theory.meanfield as meanfield

    result = doctest.testmod(meanfield, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0
