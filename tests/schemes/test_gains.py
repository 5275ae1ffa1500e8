"""Gains: the conventional table against ``torch.nn.init.calculate_gain``, and the moment gain
1/√E[φ(z)²], z ~ N(0, 1), against the same integral computed here with ``scipy.integrate.quad``."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special
from scipy import stats as sps

from initlab.schemes.gains import ACTIVATIONS, activation_fn, calculate_gain, gaussian_expectation, moment_gain

TABLE = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
         "conv_transpose3d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"]
# the table's values, from torch.nn.init.calculate_gain's documentation
BY_HAND = {"tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 3.0 / 4.0, "leaky_relu": math.sqrt(2.0 / (1 + 0.01**2))}


@pytest.mark.parametrize("name", TABLE)
def test_calculate_gain_matches_torch(name):
    assert calculate_gain(name) == torch.nn.init.calculate_gain(name)
    assert calculate_gain(name) == pytest.approx(BY_HAND.get(name, 1.0), rel=1e-15)


def test_identity_gain_is_one():
    """initlab also accepts "identity" (PyTorch has only "linear")."""
    assert calculate_gain("identity") == 1.0


@pytest.mark.parametrize("slope", [0, 0.01, 0.1, 0.2, 0.3, 1, 3.5, math.sqrt(5)])
def test_calculate_gain_leaky_relu_slopes(slope):
    assert calculate_gain("leaky_relu", slope) == torch.nn.init.calculate_gain("leaky_relu", slope)
    assert calculate_gain("leaky_relu", slope) == pytest.approx(math.sqrt(2.0 / (1 + slope**2)), rel=1e-15)


def test_calculate_gain_ignores_param_for_other_nonlinearities():
    assert calculate_gain("tanh", 0.3) == torch.nn.init.calculate_gain("tanh", 0.3) == 5.0 / 3.0


# numpy definitions of the activations, written from their papers / PyTorch's documentation
_SELU_ALPHA, _SELU_LAMBDA = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
NUMPY_ACTS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "gelu": lambda z: z * special.ndtr(z),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
    "silu": lambda z: z * special.expit(z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "selu": lambda z: _SELU_LAMBDA * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "mish": lambda z: z * np.tanh(np.logaddexp(0.0, z)),
    "softsign": lambda z: z / (1 + np.abs(z)),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "hardtanh": lambda z: np.clip(z, -1.0, 1.0),
    "hardswish": lambda z: z * np.clip(z + 3, 0.0, 6.0) / 6.0,
    "sin": np.sin,
}
_KINKS = [-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0]


def quad_gaussian(f) -> float:
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature split at the kinks of the activations above."""
    edges = [-np.inf, *_KINKS, np.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        val, _ = integrate.quad(lambda z: float(f(np.float64(z))) * sps.norm.pdf(z), lo, hi, epsabs=1e-14,
                                epsrel=1e-12, limit=200)
        total += val
    return total


def test_moment_gain_relu_is_sqrt2_and_identity_is_1():
    assert moment_gain("relu") == pytest.approx(math.sqrt(2.0), abs=1e-6)
    assert moment_gain("identity") == pytest.approx(1.0, abs=1e-6)
    assert moment_gain("linear") == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(NUMPY_ACTS))
def test_moment_gain_equals_quadrature(name):
    f = NUMPY_ACTS[name]
    second = quad_gaussian(lambda z: f(z) ** 2)
    assert moment_gain(name) == pytest.approx(1.0 / math.sqrt(second), rel=1e-8)


def test_moment_gain_tanh_differs_from_the_table():
    """The table's 5/3 is a heuristic; the moment gain of tanh is ≈ 1.593."""
    g = moment_gain("tanh")
    assert 1.59 < g < 1.60 and abs(g - 5.0 / 3.0) > 0.05


@pytest.mark.parametrize("slope", [0.01, 0.2, 0.5])
def test_moment_gain_leaky_relu_equals_closed_form(slope):
    """E[leaky_relu(z)²] = (1 + a²)/2, so the moment gain equals the table's √(2/(1+a²))."""
    assert moment_gain("leaky_relu", negative_slope=slope) == pytest.approx(math.sqrt(2 / (1 + slope**2)), rel=1e-9)


def test_moment_gain_of_a_callable():
    assert moment_gain(lambda x: 3.0 * x) == pytest.approx(1.0 / 3.0, rel=1e-9)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 2.0), (-1.0, 0.3)])
def test_gaussian_expectation_closed_forms(mean, std):
    assert gaussian_expectation(lambda x: x, mean, std) == pytest.approx(mean, abs=1e-10)
    assert gaussian_expectation(lambda x: x * x, mean, std) == pytest.approx(mean**2 + std**2, rel=1e-9)
    # E[relu(x)] = m·Φ(m/s) + s·φ(m/s)
    expected = mean * special.ndtr(mean / std) + std * sps.norm.pdf(mean / std)
    assert gaussian_expectation(torch.relu, mean, std) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_fn_is_elementwise_and_matches_numpy(name):
    fn = activation_fn(name)
    z = torch.linspace(-5, 5, 101, dtype=torch.float64)
    y = fn(z)
    assert y.shape == z.shape
    if name in NUMPY_ACTS:
        np.testing.assert_allclose(y.numpy(), NUMPY_ACTS[name](z.numpy()), rtol=1e-12, atol=1e-12)


# moment_gain as computed by composite Simpson quadrature (24001 nodes on ±12), before it moved to the
# one Gauss–Legendre rule: the values may change by rounding-level amounts only
SIMPSON_VALUES = {
    "identity": 1.0000000000002771, "relu": 1.4142135623734868, "leaky_relu": 1.4141428569982273,
    "prelu": 1.371988681140451, "relu6": 1.4142135650954657, "elu": 1.2451983007010388, "selu": 1.000000000000257,
    "gelu": 1.5335304411959605, "gelu_tanh": 1.5335805216665723, "silu": 1.6765324703315558,
    "mish": 1.4868475812736202, "softplus": 1.0418668355355911, "softsign": 2.337533363108848,
    "tanh": 1.5925374197232731, "sigmoid": 1.8462285453391172, "hardtanh": 1.3920361404487174,
    "hardswish": 1.7366572127670208, "hardsigmoid": 1.8978404247300846, "sin": 1.5208666231792365,
}


@pytest.mark.parametrize("name", sorted(SIMPSON_VALUES))
def test_moment_gain_unchanged_by_the_move_to_gauss_legendre(name):
    assert moment_gain(name) == pytest.approx(SIMPSON_VALUES[name], rel=0, abs=1e-9)


@pytest.mark.parametrize("kink", [0.37, -1.3, 2.05])
def test_gaussian_expectation_cuts_at_given_kinks(kink):
    """A kink off the rule's edges is exact to ~1e-13 once it is named (scipy's quad, split at the kink)."""
    fn = lambda x: abs(x - kink)  # noqa: E731
    dens = sps.norm(0.4, 1.5).pdf
    expected = sum(integrate.quad(lambda x: fn(x) * dens(x), lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                   for lo, hi in ((-20, kink), (kink, 20)))
    assert gaussian_expectation(fn, 0.4, 1.5, kinks=[kink]) == pytest.approx(expected, rel=1e-12)
