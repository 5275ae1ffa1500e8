"""Independent reference computations for the mean-field tests (NumPy only, nothing from initlab).

The trapezoidal rule on a uniform grid (step h = 0.04 on [−11, 11]; h = 0.08 on [−10, 10] for
the 2-D product), with hand-written derivatives of tanh. For integrands analytic in a strip
|Im z| < d the trapezoidal rule's error falls like exp(−2πd/h) (Trefethen & Weideman 2014);
tanh(√q z) has its nearest pole at d = π/(2√q), so for q ≤ 4 the error is below 1e-25 —
rounding dominates (checked against
``scipy.integrate.quad`` in ``test_theory_reference_rule``). Used only for smooth activations.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
_H = 0.04
_Z = np.arange(-11.0, 11.0 + _H / 2, _H)
_W = _H * np.exp(-0.5 * _Z**2) / math.sqrt(2.0 * math.pi)


def expect(f) -> float:
    """E[f(z)], z ~ N(0, 1)."""
    return float(np.dot(_W, f(_Z)))


_H2 = 0.08  # the 2-D product rule: exp(−2πd/h) < 1e-25 still for q ≤ 4
_Z2 = np.arange(-10.0, 10.0 + _H2 / 2, _H2)
_W2 = _H2 * np.exp(-0.5 * _Z2**2) / math.sqrt(2.0 * math.pi)


def expect_pair(f, g, c: float, q: float) -> float:
    """E[f(u1) g(u2)], u1 = √q z1, u2 = √q (c z1 + √(1−c²) z2)."""
    s = math.sqrt(max(0.0, 1.0 - c * c))
    z1, z2 = _Z2[:, None], _Z2[None, :]
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + s * z2)
    return float(_W2 @ (f(u1) * g(u2)) @ _W2)


def tanh(x):
    return np.tanh(x)


def dtanh(x):
    return 1.0 / np.cosh(x) ** 2


def d2tanh(x):
    return -2.0 * np.tanh(x) / np.cosh(x) ** 2


def root(f, lo: float, hi: float) -> float:
    """Root of f on [lo, hi] (f(lo), f(hi) of opposite signs), by scipy's Brent method to ~1e-15."""
    return brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)


def tanh_q_star(sw2: float, sb2: float) -> float:
    """q* of the tanh variance map, by Brent's method on V(q) − q over (1e-12, sw2 + sb2 + 1]."""
    return root(lambda q: sw2 * expect(lambda z: tanh(math.sqrt(q) * z) ** 2) + sb2 - q, 1e-12, sw2 + sb2 + 1.0)


def tanh_chi1(sw2: float, sb2: float) -> float:
    q = tanh_q_star(sw2, sb2)
    return sw2 * expect(lambda z: dtanh(math.sqrt(q) * z) ** 2)
