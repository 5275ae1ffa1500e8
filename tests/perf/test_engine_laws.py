"""Every fast path of the seeded engine draws the law it claims, filled in parallel blocks.

Laws and their parameters are written out here (scipy.stats), never read back from initlab; each
sample spans two blocks, filled by two threads.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special
from scipy import stats as sps

import initlab
from initlab.errors import InitlabError
from initlab.schemes._iid import iid_law
from initlab._threads import torch_threads
from initlab.schemes.engine import BLOCK
from stats import assert_normal, assert_uniform, ks_pvalue

N = BLOCK + BLOCK // 2
LOC, SCALE = 0.25, 0.8


@pytest.fixture(autouse=True)
def two_threads():
    with torch_threads(2):
        yield


def truncated(a: float, b: float):
    return initlab.get({"name": "truncated_normal", "params": {"mean": LOC, "std": SCALE, "a": a, "b": b}})


# (a, b) in units of σ; the method initlab should pick: rejection when Z = Φ(b) − Φ(a) ≥ 1/2, else inversion
TRUNCATED = [(-1.0, 1.0), (-2.0, 2.0), (-3.0, 3.0), (0.5, 3.0), (-4.0, -1.0), (-0.3, 0.3), (4.5, 6.0),
             (-8.0, -5.0), (-1.0, 9.0), (-math.inf, 1.5), (35.0, 36.0), (-math.inf, -40.0)]


def expected_method(a, b):
    """Rejection when Z = Φ(b) − Φ(a) ≥ 1/2; the tail inversion beyond 30σ, where Φ underflows; else inversion."""
    if a >= 30 or b <= -30:
        return "tail"
    return "reject" if special.ndtr(b) - special.ndtr(a) >= 0.5 else "invert"


def assert_truncated(x, a, b):
    values = x.detach().double().numpy().ravel()
    low, high = LOC + a * SCALE, LOC + b * SCALE
    assert np.isfinite(values).all()
    assert values.min() >= low and values.max() <= high, (values.min(), values.max(), low, high)
    p = ks_pvalue(values, sps.truncnorm(a, b, loc=LOC, scale=SCALE).cdf)
    assert p > 1e-4, f"KS p = {p:.3g} for TN[{a}, {b}]"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_normal(dtype):
    t = initlab.get({"name": "random_normal", "params": {"mean": -0.3, "std": 1.7}})(torch.empty(N, dtype=dtype), seed=7)
    assert_normal(t, -0.3, 1.7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_uniform(dtype):
    t = initlab.get({"name": "random_uniform", "params": {"minval": -0.2, "maxval": 0.9}})(
        torch.empty(N, dtype=dtype), seed=7)
    assert_uniform(t, -0.2, 0.9, strict_bounds=True)


@pytest.mark.slow
@pytest.mark.parametrize("a, b", TRUNCATED, ids=str)
def test_truncated_normal_seeded(a, b):
    init = truncated(a, b)
    assert iid_law(init.distribution((N,)), np.float32).method == expected_method(a, b)
    assert_truncated(init(torch.empty(N), seed=11, key="t"), a, b)


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (0.5, 3.0), (-8.0, -5.0)], ids=str)
def test_truncated_normal_float64(a, b):
    assert_truncated(truncated(a, b)(torch.empty(N, dtype=torch.float64), seed=12), a, b)


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (-4.0, -1.0)], ids=str)
def test_truncated_normal_from_a_generator(a, b):
    t = truncated(a, b)(torch.empty(N), generator=torch.Generator().manual_seed(0))
    assert_truncated(t, a, b)


def _all_values(dtype) -> torch.Tensor:
    """Every finite value of a 16-bit float dtype, as float64."""
    v = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(dtype).double()
    return v[torch.isfinite(v)]


LOW_PRECISION = [
    ("normal", {"name": "random_normal", "params": {"mean": 0.1, "std": 0.02}}, None),
    ("uniform", {"name": "random_uniform", "params": {"minval": -0.1, "maxval": 0.1}}, (-0.1, 0.1)),
    ("truncated ±2σ", {"name": "truncated_normal", "params": {"mean": 0.1, "std": 0.02}}, (0.06, 0.14)),
    ("truncated [0.5, 3]", {"name": "truncated_normal", "params": {"std": 0.3, "a": 0.5, "b": 3.0}}, (0.15, 0.9)),
    ("truncated [4.5, 6]", {"name": "truncated_normal", "params": {"std": 1.0, "a": 4.5, "b": 6.0}}, (4.5, 6.0)),
]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("name, cfg, bounds", LOW_PRECISION, ids=[c[0] for c in LOW_PRECISION])
def test_low_precision_is_the_float32_draw_rounded_then_clamped_inside(name, cfg, bounds, dtype):
    init = initlab.get(cfg)
    ref = init(torch.empty(N), seed=5, key="lp")
    got = init(torch.empty(N, dtype=dtype), seed=5, key="lp")
    expected = ref.to(dtype)
    if bounds is not None:
        grid = _all_values(dtype)
        lo, hi = float(grid[grid >= bounds[0]].min()), float(grid[grid <= bounds[1]].max())
        expected = expected.clamp(lo, hi)
        values = got.double()
        assert float(values.min()) >= bounds[0] and float(values.max()) <= bounds[1]
    assert torch.equal(got, expected)


def test_numpy_with_a_seed_is_the_torch_fill():
    init = truncated(-2.0, 2.0)
    for dtype in ("float32", "float16", "float64"):
        arr = init.numpy((700, 300), seed=4, key="np", dtype=dtype)
        t = init(torch.empty((700, 300), dtype=getattr(torch, dtype)), seed=4, key="np")
        assert arr.dtype == np.dtype(dtype) and np.array_equal(arr, t.numpy())


NARROW = [  # (law, low, high, dtypes that store no value inside [low, high])
    ({"name": "random_uniform", "params": {"minval": 0.1, "maxval": 0.1 + 3e-8}}, 0.1, 0.1 + 3e-8, ("bfloat16",)),
    ({"name": "random_uniform", "params": {"minval": -0.05, "maxval": 0.05}}, -0.05, 0.05, ()),
    ({"name": "truncated_normal", "params": {"mean": 0.1, "std": 1e-8, "a": -1.0, "b": 1.0}}, 0.1 - 1e-8, 0.1 + 1e-8,
     ("bfloat16",)),
    ({"name": "truncated_normal", "params": {"mean": 0.1, "std": 1e-8, "a": 0.2, "b": 0.3}}, 0.1 + 2e-9, 0.1 + 3e-9,
     ("float32", "bfloat16")),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("cfg, low, high, empty_in", NARROW,
                         ids=["narrow uniform", "uniform ±0.05", "narrow truncated (rejection)",
                              "narrow truncated (inversion)"])
def test_no_value_crosses_a_bound_that_the_dtype_cannot_store(cfg, low, high, empty_in, dtype):
    """Bounds that fall between two representable numbers: every stored value lies inside the exact bounds;
    an interval that holds no value of the dtype is an error, raised before anything is drawn."""
    t = torch.full((BLOCK + 1000,), 7.0, dtype=dtype)
    if str(dtype).split(".")[1] in empty_in:
        with pytest.raises(InitlabError, match="holds no"):
            initlab.get(cfg)(t, seed=2)
        assert bool((t == 7.0).all())
        return
    values = initlab.get(cfg)(t, seed=2).double()
    assert float(values.min()) >= low and float(values.max()) <= high
