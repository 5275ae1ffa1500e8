"""Gaussian quadrature in float64: the one rule behind every Gaussian expectation initlab computes.

Readers: :func:`initlab.schemes.gains.gaussian_expectation` (the moment gain 1/√E[φ(z)²]) and the
mean-field maps of :mod:`initlab.theory`. This module depends on NumPy alone, so that both can use it
without importing each other.

Every mean-field quantity is an expectation over standard normals, ``E[f(z)]`` with z ~ N(0, 1) or
a pair ``(z1, z2)``. The integrands are ``φ(√q·z)`` and its derivatives, where φ may have a kink
(ReLU) or a jump in its derivative at 0, and where ``√q`` may be large, so that tanh becomes a
near-step of width ``1/√q`` around ``z = 0``. Plain Gauss–Hermite converges slowly on both, so
initlab uses a *graded composite Gauss–Legendre* rule instead:

* the line is cut at 0 (the kink of every ReLU-like activation), each half-line ``[0, L]`` with
  ``L = 10`` (the Gaussian mass beyond is ~1.5e-23) is split into panels that shrink
  geometrically towards 0 (``2⁻²⁰ … 1``, ratio 2, then width 1 out to 10), and each panel gets
  :data:`NODES_PER_PANEL` Gauss–Legendre nodes, weighted by the normal density: 720 nodes.
* an activation with kinks away from 0 (relu6 at 6, hardtanh at ±1, hardsigmoid and hardswish at
  ±3) gets extra panel edges at ``z = kink/√q`` (:func:`cut_rule`), so that every integrand is
  smooth on every panel.
* every integer in [−10, 10] is a panel edge, so kinks at integers (relu6, hardtanh, hardsigmoid,
  hardswish, and any of them at q = 1) need no extra cut.
* Accuracy (checked in ``tests/theory`` and ``tests/schemes/test_gains.py``): Gaussian moments
  ``E[z^{2k}]``, ``k ≤ 6``, to ~2e-15 relative; ReLU-like activations (only kink at 0) and the kinked ones above to ~1e-14 for any q
  (the ReLU moment ``q/2`` and the arc-cosine kernel are exact to rounding); smooth activations
  (tanh, erf, GELU, …) to ~1e-14 for ``q`` from 1e-6 up to ~1e10 (erf against its closed form).

For the correlated pair, ``u1 = √q·z1`` and ``u2 = √q·(c·z1 + √(1−c²)·z2)``, the inner integral
over ``z2`` is cut where ``u2 = 0`` (``z2 = −c·z1/√(1−c²)``) and graded towards that point
(:func:`inner_rule`), so the kink of φ at 0 (and the near-step of a saturating φ) sits on a panel
edge for every outer node; kinks away from 0 add edges where ``u2`` (inner) or ``u1`` (outer)
crosses them.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NODES_PER_PANEL", "HALF_WIDTH", "panel_rule", "gauss_rule", "cut_rule", "inner_rule"]

NODES_PER_PANEL = 12
HALF_WIDTH = 10.0

_GL_X, _GL_W = np.polynomial.legendre.leggauss(NODES_PER_PANEL)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _offsets(length: float) -> np.ndarray:
    """Panel edges ``t`` on ``[0, length]``: geometric from 2⁻²⁰ to 1 (ratio 2), then width 1."""
    graded = 2.0 ** np.arange(-20, 1)  # 2^-20, 2^-19, ..., 2^0
    uniform = np.arange(2.0, length + 1e-12, 1.0)
    return np.concatenate([[0.0], graded, uniform])


def panel_rule(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and plain (Lebesgue) weights on panels with the given edges:
    ``Σ w·f(x) ≈ ∫ f(x) dx`` over [edges[0], edges[-1]], exact for polynomials of degree < 24 on each panel.

    ``edges`` has shape ``(..., P + 1)``; the result has shape ``(..., P · NODES_PER_PANEL)``.
    Zero-width panels get zero weight; decreasing edges give negative weights.

    >>> x, w = panel_rule(np.array([0.0, 1.0, 3.0]))
    >>> round(float(np.dot(w, x ** 5)), 12)   # ∫₀³ x⁵ dx = 3⁶/6
    121.5
    """
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    half = 0.5 * (hi - lo)
    x = (lo + hi) * 0.5 + half * _GL_X
    w = half * _GL_W
    shape = edges.shape[:-1] + (-1,)
    return x.reshape(shape), w.reshape(shape)


def _with_density(z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return z, w * np.exp(-0.5 * z * z) * _INV_SQRT_2PI


_EDGES = np.concatenate([-_offsets(HALF_WIDTH)[:0:-1], _offsets(HALF_WIDTH)])


def gauss_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z`` and weights ``w`` with ``Σ w·f(z) ≈ E[f(z)]``, z ~ N(0, 1) (see module docstring).

    The rule is symmetric (``z`` and ``−z`` carry equal weights) and has no node at 0.
    """
    return _with_density(*panel_rule(_EDGES))


def cut_rule(cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row rules: :func:`gauss_rule` with extra panel edges at ``cuts[i]`` (shape (n, k)) in row i.

    Returns nodes and weights of shape ``(n, 720 + 12·k)``; cuts beyond ``±HALF_WIDTH`` only add
    zero-width panels.
    """
    cuts = np.clip(np.asarray(cuts, dtype=np.float64), -HALF_WIDTH, HALF_WIDTH)
    edges = np.sort(np.concatenate([np.broadcast_to(_EDGES, (cuts.shape[0], _EDGES.size)), cuts], axis=1), axis=1)
    return _with_density(*panel_rule(edges))


_T_INNER = _offsets(2.0 * HALF_WIDTH)


def inner_rule(z0: np.ndarray, cuts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row rules for ``E[f(z2)]``, z2 ~ N(0, 1), cut and graded at the points ``z0`` (shape (n,)).

    ``cuts`` (shape (n, k)) adds plain panel edges per row. Returns nodes and weights of shape
    ``(n, m)``; panels reaching past ``±HALF_WIDTH`` are clipped (their weight shrinks to 0), so
    every row covers exactly ``[−L, L]`` with a panel edge at ``z0``.
    """
    z0 = np.clip(np.asarray(z0, dtype=np.float64), -HALF_WIDTH, HALF_WIDTH)[:, None]
    left = np.maximum(z0 - _T_INNER[:0:-1], -HALF_WIDTH)
    right = np.minimum(z0 + _T_INNER, HALF_WIDTH)
    edges = np.concatenate([left, right], axis=1)
    if cuts is not None and np.size(cuts):
        edges = np.sort(np.concatenate([edges, np.clip(cuts, -HALF_WIDTH, HALF_WIDTH)], axis=1), axis=1)
    return _with_density(*panel_rule(edges))
