"""The quadrature rules behind initlab.theory, and activations with kinks away from 0."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

from initlab.theory import correlation_map, variance_map
from initlab.quadrature import cut_rule, gauss_rule, inner_rule


def _double_factorial_odd(k):
    return math.prod(range(1, 2 * k, 2))  # E[z^{2k}] = (2k − 1)!!


def test_gauss_rule_moments():
    z, w = gauss_rule()
    assert z.size == 720 and np.all(w > 0)
    for k in range(7):
        assert np.dot(w, z ** (2 * k)) == pytest.approx(_double_factorial_odd(k), rel=3e-15)
        assert abs(np.dot(w, z ** (2 * k + 1))) < 1e-14 * _double_factorial_odd(k + 1)


def test_cut_and_inner_rules_moments():
    cuts = np.array([[0.37, -2.5], [9.0, 40.0]])
    z, w = cut_rule(cuts)
    for k in range(5):
        np.testing.assert_allclose((w * z ** (2 * k)).sum(axis=1), _double_factorial_odd(k), rtol=3e-15)
    z, w = inner_rule(np.array([-30.0, -3.2, 0.0, 0.5, 12.0]), np.array([[1.0]] * 5))
    for k in range(5):
        np.testing.assert_allclose((w * z ** (2 * k)).sum(axis=1), _double_factorial_odd(k), rtol=3e-15)


def _pdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _x2_between(a, b, q):
    """∫_a^b x² N(x; 0, q) dx = q[(Φ(β) − Φ(α)) + αφ(α) − βφ(β)], α = a/√q, β = b/√q
    (integration by parts)."""
    s = math.sqrt(q)
    al, be = a / s, b / s
    edge = lambda t: 0.0 if math.isinf(t) else t * _pdf(t)  # noqa: E731
    return q * ((ndtr(be) - ndtr(al)) + edge(al) - edge(be))


@pytest.mark.parametrize("q", [1e-3, 0.5, 4.0, 37.0, 1e4])
def test_kinked_activations_closed_form(q):
    s = math.sqrt(q)
    relu6 = _x2_between(0.0, 6.0, q) + 36 * ndtr(-6 / s)  # x² on (0, 6), 36 above
    hardtanh = _x2_between(-1.0, 1.0, q) + 2 * ndtr(-1 / s)  # x² on (−1, 1), 1 outside
    assert variance_map(q, "relu6", 1.0) == pytest.approx(relu6, rel=1e-13)
    assert variance_map(q, "hardtanh", 1.0) == pytest.approx(hardtanh, rel=1e-13)


def test_hardtanh_correlation_map():
    """Reference: E[ht(u1) ht(u2)] = E_z1[ht(√q z1)·G(z1)], with G the closed-form mean of a clipped
    normal: for X ~ N(m, s²), E[clip(X, −1, 1)] = m(Φ(β) − Φ(α)) + s(φ(α) − φ(β)) + Φ(−β) − Φ(α),
    α = (−1 − m)/s, β = (1 − m)/s; the outer integral by adaptive quadrature with the kinks as breakpoints."""
    q, c = 2.0, 0.6
    sd = math.sqrt(q * (1 - c * c))

    def g(z1):
        m = math.sqrt(q) * c * z1
        al, be = (-1 - m) / sd, (1 - m) / sd
        return m * (ndtr(be) - ndtr(al)) + sd * (_pdf(al) - _pdf(be)) + ndtr(-be) - ndtr(al)

    def ht(x):
        return min(max(x, -1.0), 1.0)

    k = 1 / math.sqrt(q)
    e12 = integrate.quad(lambda z: ht(math.sqrt(q) * z) * g(z) * _pdf(z), -12, 12, points=[-k, 0.0, k],
                         epsabs=1e-15, epsrel=1e-13, limit=200)[0]
    want = e12 / variance_map(q, "hardtanh", 1.0)
    assert correlation_map(c, q, "hardtanh", 1.0) == pytest.approx(want, rel=1e-11)
