"""Gains: the factor by which an initializer's std is multiplied for the activation that follows.

Two sources, kept apart on purpose:

* :func:`calculate_gain` — the conventional table of ``torch.nn.init.calculate_gain``
  (linear/conv/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+a²)), selu 3/4). Use it to match
  PyTorch.
* :func:`moment_gain` — a gain for *any* elementwise activation φ, from its Gaussian moments:

  .. math:: g(\\varphi) = 1 / \\sqrt{\\mathbb{E}_{z\\sim N(0,1)}[\\varphi(z)^2]}

  With weights of variance g²/fan_in and pre-activations of variance 1, the next layer's
  pre-activations again have variance ``fan_in · g²/fan_in · E[φ(z)²] = 1``: q = 1 is a fixed
  point of the variance map (Poole et al. 2016) with σ_b = 0. ReLU gives E[φ²] = 1/2, g = √2
  (He et al. 2015); the identity gives g = 1. For tanh it gives ≈ 1.593, not the table's 5/3
  (the table's value is a heuristic; both are documented, neither is "the" answer).

  The expectation is computed with initlab's one Gaussian quadrature (:mod:`initlab.quadrature`,
  graded composite Gauss–Legendre with panel edges at 0 and at every integer up to ±10): ~1e-14 for
  smooth activations and for kinks at integers (ReLU, relu6, hardtanh, hardsigmoid, hardswish).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..activations import CATALOGUE
from ..errors import InitlabError, check_finite, fail, suggest
from ..quadrature import cut_rule, gauss_rule

__all__ = ["calculate_gain", "moment_gain", "gaussian_expectation", "activation_fn", "GAIN_TABLE", "ACTIVATIONS"]

_LAYERS = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")
GAIN_TABLE = {**{k: 1.0 for k in _LAYERS}, **{row.name: row.gain for row in CATALOGUE if row.gain is not None}}
"""The fixed entries of the table: 1 for the layers, the activations' from the catalogue's ``gain`` column
(leaky_relu depends on its slope)."""


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The conventional gain for ``nonlinearity``, equal to ``torch.nn.init.calculate_gain``.

    ``param`` is the negative slope of ``leaky_relu`` (default 0.01): gain = √(2/(1+a²)).

    >>> round(calculate_gain("leaky_relu", 0.2), 6)
    1.38675
    """
    name = str(nonlinearity).lower()
    if name == "leaky_relu":
        slope = 0.01 if param is None else check_finite("param (negative slope)", param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if name in GAIN_TABLE:
        return GAIN_TABLE[name]
    allowed = list(GAIN_TABLE) + ["leaky_relu"]
    raise InitlabError(
        f"nonlinearity: got {nonlinearity!r}; allowed: {', '.join(allowed)}{suggest(name, allowed)} "
        "(for any other activation use initlab.moment_gain)"
    )


# -- activation names: derived from the catalogue (initlab/activations.py), the one place to add one --
def _callable_names() -> tuple[str, ...]:
    from ..activations import REQUIRED, find_row, names

    return tuple(n for n in names() if all(p.default is not REQUIRED for p in find_row(n)[0].params))


ACTIVATIONS = _callable_names()


def _activations():
    from ..activations import activation_callable

    return {name: activation_callable(name) for name in ACTIVATIONS}
# -- end of the catalogue-derived names --------------------------------------------------------------


def activation_fn(activation: str | Callable, negative_slope: float | None = None) -> Callable:
    """A torch callable for an activation name (or the callable itself)."""
    if callable(activation):
        return activation
    name = str(activation).lower()
    table = _activations()
    if name == "leaky_relu" and negative_slope is not None:
        from ..activations import activation_callable

        return activation_callable(name, {"negative_slope": negative_slope})
    if name not in table:
        raise InitlabError(f"activation: got {activation!r}; allowed: {', '.join(ACTIVATIONS)} or a callable"
                           f"{suggest(name, ACTIVATIONS)}")
    return table[name]


def gaussian_expectation(fn: Callable, mean: float = 0.0, std: float = 1.0, *,
                         kinks: Sequence[float] = (0.0,)) -> float:
    """E[fn(x)] for x ~ N(mean, std²), with fn a torch or NumPy elementwise callable.

    Graded composite Gauss–Legendre (:func:`initlab.quadrature.gauss_rule`). ``kinks`` are the points x
    where fn or its derivative jumps (default: 0, the kink of every ReLU-like activation); each becomes a
    panel edge, so the rule stays accurate to ~1e-14 (points ``mean + k·std`` for integers ``|k| ≤ 10``
    are edges already).

    >>> round(gaussian_expectation(lambda x: x * x, mean=1.0, std=2.0), 12)
    5.0
    """
    mean, std = check_finite("mean", mean), check_finite("std", std)
    if std <= 0:
        raise fail("std", std, "a finite number > 0")
    cuts = [c for c in ((check_finite("kinks", k) - mean) / std for k in kinks) if c != round(c) or abs(c) > 10]
    z, w = cut_rule(np.array([cuts], dtype=np.float64)) if cuts else gauss_rule()
    z, w = z.reshape(-1), w.reshape(-1)
    x = mean + std * z
    try:
        import torch

        y = fn(torch.from_numpy(x)).detach().cpu().numpy().astype(np.float64)
    except (TypeError, AttributeError):
        y = np.asarray(fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise fail("activation", fn, f"an elementwise function (this one maps shape {x.shape} to {y.shape})")
    return float(np.dot(w, y))


def moment_gain(activation: str | Callable, negative_slope: float | None = None) -> float:
    """Gain from Gaussian moments: ``1/sqrt(E[φ(z)²])``, z ~ N(0, 1) (see the module docstring).

    >>> round(moment_gain("relu"), 6), round(moment_gain("identity"), 6)
    (1.414214, 1.0)
    """
    fn = activation_fn(activation, negative_slope)
    second = gaussian_expectation(lambda x: fn(x) ** 2)
    if not second > 0 or not math.isfinite(second):
        raise fail("activation", activation, f"an activation with E[φ(z)²] finite and > 0 (got {second!r})")
    return 1.0 / math.sqrt(second)
