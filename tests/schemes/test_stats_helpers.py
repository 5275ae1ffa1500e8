"""The shared statistical assertions (tests/stats.py) accept what they should and reject what they should.

A KS assertion that cannot fail would make every law test hollow, so each one is shown failing on a
sample that is slightly off: a std 5 % too large, a shifted mean, one value past a bound, an infinity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

import stats

RNG_SEED = 123


def _rng():
    return np.random.default_rng(RNG_SEED)


@pytest.mark.parametrize("loc, scale, a, b", [(0.0, 1.0, -2.0, 2.0), (0.1, 0.3, -1.5, 2.5), (-1.0, 2.0, 0.5, 3.0),
                                              (0.0, 1.0, -4.0, -2.5), (0.0, 1.0, 3.0, 9.0), (0.0, 0.5, -math.inf, 0.0),
                                              (2.0, 0.1, -1.0, math.inf)])
def test_truncnorm_cdf_equals_scipy(loc, scale, a, b):
    ref = sps.truncnorm(a, b, loc=loc, scale=scale)
    lo, hi = (float(v) for v in ref.support())
    lo, hi = max(lo, loc - 10 * scale), min(hi, loc + 10 * scale)
    x = np.linspace(lo - scale, hi + scale, 2001)
    np.testing.assert_allclose(stats.truncnorm_cdf(loc, scale, a, b)(x), ref.cdf(x), rtol=1e-9, atol=1e-12)


def test_accepts_samples_of_the_right_law():
    rng = _rng()
    stats.assert_normal(rng.normal(0.3, 2.0, 150_000), 0.3, 2.0)
    stats.assert_uniform(rng.uniform(-1.0, 3.0, 150_000), -1.0, 3.0)
    stats.assert_truncnorm(sps.truncnorm(-1.0, 2.0, loc=0.5, scale=0.2).rvs(100_000, random_state=rng),
                           0.5, 0.2, -1.0, 2.0)
    stats.assert_same_law(rng.normal(size=50_000), rng.normal(size=60_000))


def test_accepts_torch_tensors_of_every_float_dtype():
    x = torch.randn(100_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        stats.assert_normal(x.to(dtype), 0.0, 1.0)


@pytest.mark.parametrize("wrong", [
    lambda x: x * 1.05,          # std 5 % too large
    lambda x: x + 0.03,          # mean shifted by 0.03σ
], ids=["std", "mean"])
def test_rejects_a_slightly_wrong_normal(wrong):
    x = _rng().normal(0.0, 1.0, 200_000)
    with pytest.raises(AssertionError, match="KS test rejects"):
        stats.assert_normal(wrong(x), 0.0, 1.0)


def test_rejects_a_normal_for_a_truncated_normal_with_the_same_variance():
    """Keras's truncated normals differ from the normal of equal variance only in shape: the KS test sees it."""
    c = float(sps.truncnorm(-2, 2).std())
    x = _rng().normal(0.0, 1.0, 100_000)
    with pytest.raises(AssertionError):
        stats.assert_truncnorm(np.clip(x, -2 / c, 2 / c), 0.0, 1.0 / c, -2.0, 2.0)


def test_rejects_a_value_past_a_bound():
    x = _rng().uniform(-1.0, 1.0, 10_000)
    x[17] = np.nextafter(1.0, 2.0)
    with pytest.raises(AssertionError, match="above the bound"):
        stats.assert_uniform(x, -1.0, 1.0)
    t = torch.tensor(sps.truncnorm(-2, 2).rvs(10_000, random_state=_rng()))
    t[3] = -2.0000001
    with pytest.raises(AssertionError, match="below the bound"):
        stats.assert_truncnorm(t, 0.0, 1.0, -2.0, 2.0)


def test_bounds_are_rounded_to_the_dtype_unless_strict():
    """A float32 value equal to float32(0.05) > 0.05 is inside U(−0.05, 0.05) as stored; not strictly."""
    x = torch.empty(1000).uniform_(-0.05, 0.05, generator=torch.Generator().manual_seed(0))
    x[0] = 0.05  # rounds up to 0.0500000007…
    assert x[0].item() > 0.05
    stats.assert_uniform(x, -0.05, 0.05)
    with pytest.raises(AssertionError, match="above the bound"):
        stats.assert_uniform(x, -0.05, 0.05, strict_bounds=True)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_rejects_non_finite_values(bad):
    x = _rng().normal(size=1000)
    x[5] = bad
    with pytest.raises(AssertionError, match="not finite"):
        stats.assert_normal(x, 0.0, 1.0)
    y = _rng().uniform(-1, 1, 1000)
    y[5] = bad
    with pytest.raises(AssertionError, match="not finite"):
        stats.assert_truncnorm(y, 0.0, 1.0, -math.inf, math.inf)


def test_two_sample_test_rejects_different_laws():
    rng = _rng()
    with pytest.raises(AssertionError, match="two-sample KS test rejects"):
        stats.assert_same_law(rng.normal(0, 1.0, 100_000), rng.normal(0, 1.08, 100_000))


def test_large_samples_are_subsampled_deterministically():
    x = _rng().normal(size=stats.MAX_KS * 3)
    p1 = stats.ks_pvalue(x, sps.norm.cdf)
    p2 = stats.ks_pvalue(x.copy(), sps.norm.cdf)
    assert p1 == p2


def test_law_tuples():
    assert stats.frozen_law(("normal", 1.0, 2.0)).std() == 2.0
    assert stats.frozen_law(("uniform", -1.0, 3.0)).mean() == 1.0
    assert stats.frozen_law(("truncnorm", 0.0, 1.0, -2.0, 2.0)).std() == pytest.approx(0.87962566103423978)
    with pytest.raises(ValueError, match="law: got 'cauchy'"):
        stats.assert_law([1.0], ("cauchy", 0.0, 1.0))
