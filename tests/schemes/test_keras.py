"""Keras's constants and conventions.

Keras's ``HeNormal``/``GlorotNormal``/``LecunNormal`` (and JAX's ``he_normal`` …) draw a normal
truncated at ±2σ whose σ is divided by the std of N(0, 1) truncated to [−2, 2], so that the values
keep the untruncated target variance. initlab's ``*_truncated_normal`` are those laws; its plain
``*_normal`` are the untruncated textbook ones.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats as sps

import initlab
from stats import assert_normal, assert_truncnorm, assert_uniform

KERAS_LITERAL = 0.87962566103423978  # keras/src/initializers/random_initializers.py, VarianceScaling


def _truncation_std_by_hand(a: float, b: float) -> float:
    """Std of N(0, 1) on [a, b]: √(1 + (aφ(a) − bφ(b))/Z − ((φ(a) − φ(b))/Z)²), Z = Φ(b) − Φ(a)."""
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(b) - cdf(a)
    m = (phi(a) - phi(b)) / z
    return math.sqrt(1 + (a * phi(a) - b * phi(b)) / z - m * m)


C = float(sps.truncnorm(-2.0, 2.0).std())


def test_keras_constant():
    assert C == pytest.approx(KERAS_LITERAL, rel=0, abs=2e-16)
    assert _truncation_std_by_hand(-2.0, 2.0) == pytest.approx(KERAS_LITERAL, rel=0, abs=2e-16)


# (initlab name, Keras class name, target variance as a function of (fan_in, fan_out))
TRUNCATED = [
    ("he_truncated_normal", "HeNormal", lambda fi, fo: 2.0 / fi),
    ("glorot_truncated_normal", "GlorotNormal", lambda fi, fo: 2.0 / (fi + fo)),
    ("lecun_truncated_normal", "LecunNormal", lambda fi, fo: 1.0 / fi),
]
# (shape, layout, fan_in, fan_out by hand)
KERAS_SHAPES = [((784, 256), "keras", 784, 256), ((3, 3, 64, 128), "keras", 576, 1152),
                ((256, 784), "torch", 784, 256)]


@pytest.mark.parametrize("name, keras_name, variance", TRUNCATED, ids=[t[0] for t in TRUNCATED])
@pytest.mark.parametrize("shape, layout, fan_in, fan_out", KERAS_SHAPES, ids=lambda v: str(v))
def test_truncated_variants_keep_the_untruncated_variance(name, keras_name, variance, shape, layout, fan_in, fan_out):
    target = variance(fan_in, fan_out)
    parent = math.sqrt(target) / C  # σ of the parent normal
    for init in (initlab.get(name), initlab.get(keras_name)):
        d = init.distribution(shape, layout=layout)
        assert d.family == "truncated_normal"
        assert d.variance == pytest.approx(target, rel=1e-12)
        assert d.mean == 0.0
        assert d.low == pytest.approx(-2 * parent, rel=1e-12)
        assert d.high == pytest.approx(2 * parent, rel=1e-12)
    t = torch.empty(shape)
    initlab.get(keras_name)(t, seed=8, layout=layout)
    assert_truncnorm(t, 0.0, parent, -2.0, 2.0)
    # the sample variance is the target: a loose check beside the KS test
    assert float(t.double().var()) == pytest.approx(target, rel=0.03)


@pytest.mark.parametrize("keras_name, untruncated", [("HeNormal", "he_normal"), ("GlorotNormal", "glorot_normal"),
                                                     ("LecunNormal", "lecun_normal")])
def test_keras_class_names_are_truncated_snake_case_is_not(keras_name, untruncated):
    assert initlab.get(keras_name).distribution((50, 60)).family == "truncated_normal"
    assert initlab.get(untruncated).distribution((50, 60)).family == "normal"
    assert initlab.get(f"keras_{untruncated}").distribution((50, 60)).family == "truncated_normal"


@pytest.mark.parametrize("keras_name, name", [("HeUniform", "he_uniform"), ("GlorotUniform", "glorot_uniform"),
                                              ("LecunUniform", "lecun_uniform"), ("RandomNormal", "random_normal"),
                                              ("RandomUniform", "random_uniform"),
                                              ("TruncatedNormal", "truncated_normal"), ("Zeros", "zeros"),
                                              ("Ones", "ones"), ("Constant", "constant"), ("Orthogonal", "orthogonal"),
                                              ("Identity", "identity"), ("VarianceScaling", "variance_scaling")])
def test_other_keras_class_names(keras_name, name):
    assert initlab.get(keras_name) == initlab.get(name)


def test_keras_defaults():
    """Keras: RandomNormal(0, 0.05), RandomUniform(−0.05, 0.05), TruncatedNormal(0, 0.05) cut at ±2σ,
    VarianceScaling(1.0, "fan_in", "truncated_normal")."""
    shape = (300, 400)
    d = initlab.get("random_normal").distribution(shape)
    assert (d.family, d.mean, d.std) == ("normal", 0.0, 0.05)
    t = initlab.get("random_normal")(torch.empty(shape), seed=1)
    assert_normal(t, 0.0, 0.05)

    d = initlab.get("random_uniform").distribution(shape)
    assert (d.family, d.low, d.high) == ("uniform", -0.05, 0.05)
    t = initlab.get("random_uniform")(torch.empty(shape), seed=2)
    assert_uniform(t, -0.05, 0.05)

    d = initlab.get("truncated_normal").distribution(shape)
    assert d.family == "truncated_normal"
    assert (d.low, d.high) == (pytest.approx(-0.1, rel=1e-15), pytest.approx(0.1, rel=1e-15))
    assert d.std == pytest.approx(0.05 * C, rel=1e-12)
    t = initlab.get("truncated_normal")(torch.empty(shape), seed=3)
    assert_truncnorm(t, 0.0, 0.05, -2.0, 2.0)

    # VarianceScaling() on a Keras Dense kernel (in=400, out=300): truncated normal, variance 1/400
    d = initlab.get("VarianceScaling").distribution((400, 300), layout="keras")
    assert d.family == "truncated_normal"
    assert d.variance == pytest.approx(1 / 400, rel=1e-12)
