"""The width rules against the papers' tables, written out here from the papers (not from initlab).

Tensor Programs V (Yang et al. 2022), Table 3, with n the width (fan_in and fan_out of hidden layers):

    input weights & all biases:  Var 1/fan_in,   SGD lr fan_out,  Adam lr 1
    output weights:              Var 1/fan_in², SGD lr 1/fan_in,  Adam lr 1/fan_in
    hidden weights:              Var 1/fan_in,   SGD lr 1,        Adam lr 1/fan_in

relative to a base model of width n₀: ratios of these at n and n₀.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab.parametrize.rules import Scale, mup_scale, theta, transform, umup_scale, width_class

N0, N = 64, 256  # base and target widths


def table3(kind, n, n0):
    """Ratios (σ, Adam lr, SGD lr) of Table 3 at width n to width n0, for a square model."""
    if kind == "vector":
        return 1.0, 1.0, n / n0
    if kind == "hidden":
        return math.sqrt((1 / n) / (1 / n0)), n0 / n, 1.0
    if kind == "readout":
        return math.sqrt((1 / n ** 2) / (1 / n0 ** 2)), n0 / n, n0 / n
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["vector", "hidden", "readout"])
def test_table3_matches_the_paper(kind):
    m = N / N0
    s = mup_scale(kind, m_in=m if kind != "vector" else 1.0, m_out=m if kind != "readout" else 1.0)
    sigma, adam, sgd = table3(kind, N, N0)
    assert (s.init, s.mult, s.adam, s.sgd) == pytest.approx((sigma, 1.0, adam, sgd), rel=1e-12)


def test_non_square_hidden_sgd_rule_is_fan_out_over_fan_in():
    # mup's MuSGD divides the lr by fanin_mult / fanout_mult; Table 3's 1 is the square case
    assert mup_scale("hidden", 4.0, 16.0).sgd == pytest.approx(4.0)
    assert mup_scale("fixed", 1.0, 1.0) == Scale()


@pytest.mark.parametrize("in_scales,out_scales,expected", [
    (None, True, "vector"), (None, False, "fixed"), (False, True, "vector"), (False, False, "fixed"),
    (True, True, "hidden"), (True, False, "readout")])
def test_classes_from_scaling_axes(in_scales, out_scales, expected):
    assert width_class(in_scales, out_scales) == expected


def test_table8_is_the_mup_package_form():
    # MuReadout: forward x·output_mult/width_mult, weights rescaled to the base std, MuAdam leaves the
    # readout's lr alone (vector-like), MuSGD multiplies it by width_mult
    m = 4.0
    s = transform(mup_scale("readout", m, 1.0), theta("table8", "readout", m, 1.0))
    assert (s.init, s.mult, s.adam, s.sgd) == pytest.approx((1.0, 1 / m, 1.0, m))
    assert theta("table8", "hidden", m, m) == 1.0 and theta("table8", "vector", 1.0, m) == 1.0


def test_table9_is_yang_and_hu_form():
    # input multiplier √fan_out with Var 1/fan_out, output multiplier 1/√fan_in with Var 1/fan_in, SGD lr 1
    m = 4.0
    v = transform(mup_scale("vector", 1.0, m), theta("table9", "vector", 1.0, m))
    r = transform(mup_scale("readout", m, 1.0), theta("table9", "readout", m, 1.0))
    assert (v.mult, v.init ** 2, v.sgd, v.adam) == pytest.approx((math.sqrt(m), 1 / m, 1.0, 1 / math.sqrt(m)))
    assert (r.mult, r.init ** 2, r.sgd, r.adam) == pytest.approx((1 / math.sqrt(m), 1 / m, 1.0, 1 / math.sqrt(m)))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["vector", "hidden", "readout", "fixed"]), st.floats(0.1, 64), st.floats(0.1, 64),
       st.sampled_from(["table3", "table8", "table9"]))
def test_every_form_has_the_same_effective_parametrization(cls, m_in, m_out, form):
    """(θ·a, σ/θ, lr/θ) for Adam, lr/θ² for SGD: the effective weight a·W and its updates are unchanged."""
    base = mup_scale(cls, m_in, m_out)
    other = transform(base, theta(form, cls, m_in, m_out))
    e1, e2 = base.effective(), other.effective()
    assert (e2.init, e2.mult, e2.adam, e2.sgd) == pytest.approx((e1.init, e1.mult, e1.adam, e1.sgd), rel=1e-9)
    # the effective σ and lr are the multiplier applied to the raw ones
    assert e2.init == pytest.approx(other.init * other.mult)
    assert e2.adam == pytest.approx(other.adam * other.mult)
    assert e2.sgd == pytest.approx(other.sgd * other.mult ** 2)


def test_umup_rules():
    # Blake et al. 2024 / unit_scaling: linear output scale fan_in^-1/2, readout fan_in^-1, Adam lr
    # fan_in^-1/2 for weights, 1 for the readout, fan_out^-1/2 for embeddings; σ = 1 everywhere
    fan_in, fan_out = 256, 1024
    s, sigma = umup_scale("hidden", "weight", fan_in, fan_out)
    assert (sigma, s.mult, s.adam) == (1.0, 1 / 16, 1 / 16)
    s, sigma = umup_scale("readout", "weight", fan_in, 10)
    assert (sigma, s.mult, s.adam) == (1.0, 1 / 256, 1.0)
    s, sigma = umup_scale("embedding", "weight", 98, fan_out)
    assert (sigma, s.mult, s.adam) == (1.0, 1.0, 1 / 32)
    s, sigma = umup_scale("hidden", "bias", None, fan_out)
    assert (sigma, s.mult, s.adam) == (None, 1.0, 1.0)
    # derived SGD: the effective weight mult·W gets Table 3's SGD step, lr = lr_Table3 / mult²
    for role, f_in, f_out, t3 in (("input", 40, 256, 256), ("hidden", 256, 1024, 1024 / 256), ("readout", 256, 10, 1 / 256)):
        s, _ = umup_scale(role, "weight", f_in, f_out)
        assert s.sgd * s.mult ** 2 == pytest.approx(t3)
