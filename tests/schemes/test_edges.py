"""Numerics and inputs at the edges: far-tail truncation, laws a dtype cannot hold, sizes that are not
integers, parameters of the wrong type, tensors with no elements, and NumPy's bfloat16.

Laws are written out with scipy.stats here (never read back from initlab); the far-tail moments are
checked against mpmath at 50 digits.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import stats as sps

import initlab
from initlab import InitlabError
from initlab.schemes.engine import fill_
from initlab.schemes.fans import compute_fans
from initlab.schemes.spec import Distribution
from stats import assert_normal, assert_uniform, ks_pvalue

ml_dtypes = pytest.importorskip("ml_dtypes")


# -- far-tail truncation ---------------------------------------------------------------------------------------
# (scheme config, (a, b) in units of std, mean, std)
FAR = [
    ({"name": "truncated_normal", "params": {"a": 10.0, "b": 11.0}}, (10.0, 11.0), 0.0, 0.05),
    ({"name": "trunc_normal", "params": {"a": 50.0, "b": 60.0}}, (50.0, 60.0), 0.0, 1.0),
    ({"name": "truncated_normal", "params": {"mean": 1.0, "std": 2.0, "a": -60.0, "b": -50.0}}, (-60.0, -50.0),
     1.0, 2.0),
    ({"name": "truncated_normal", "params": {"a": 40.0, "b": math.inf}}, (40.0, math.inf), 0.0, 0.05),
    ({"name": "trunc_normal", "params": {"a": 35.0, "b": 35.002}}, (35.0, 35.002), 0.0, 1.0),
]
FAR_IDS = ["truncated_normal[10,11]", "trunc_normal[50,60]", "left[-60,-50]", "one-sided[40,inf)", "narrow[35]"]


def _mp_moments(a: float, b: float) -> tuple[float, float]:
    """Mean and std of N(0, 1) on [a, b] at 50 digits (reflected to the left tail, where ncdf is small)."""
    with mpmath.workdps(50):
        sign = 1
        if a > 0:
            a, b, sign = -b, -a, -1
        lo, hi = mpmath.mpf(a), mpmath.mpf(b)
        pdf = lambda x: mpmath.npdf(x) if mpmath.isfinite(x) else mpmath.mpf(0)  # noqa: E731
        z = mpmath.ncdf(hi) - mpmath.ncdf(lo)
        mean = (pdf(lo) - pdf(hi)) / z
        tl = lo * pdf(lo) if mpmath.isfinite(lo) else 0
        th = hi * pdf(hi) if mpmath.isfinite(hi) else 0
        var = 1 + (tl - th) / z - mean ** 2
        return float(sign * mean), float(mpmath.sqrt(var))


@pytest.mark.parametrize("cfg, ab, mean, std", FAR, ids=FAR_IDS)
def test_far_tail_distribution_moments(cfg, ab, mean, std):
    m, s = _mp_moments(*ab)
    d = initlab.get(cfg).distribution((10,))
    assert d.mean == pytest.approx(mean + std * m, rel=1e-13)
    assert d.std == pytest.approx(std * s, rel=1e-12)
    assert (d.low, d.high) == (pytest.approx(mean + std * ab[0], rel=1e-15), pytest.approx(mean + std * ab[1]))


@pytest.mark.parametrize("how", ["seed fp32", "seed fp64", "generator", "numpy rng"])
@pytest.mark.parametrize("cfg, ab, mean, std", FAR, ids=FAR_IDS)
def test_far_tail_samples_the_truncated_law(cfg, ab, mean, std, how):
    """KS against scipy's truncnorm (whose CDF keeps its precision in the tails); every value inside."""
    init = initlab.get(cfg)
    n = 40_000
    if how == "numpy rng":
        x = init.numpy((n,), rng=np.random.default_rng(3), dtype="float64")
    elif how == "generator":
        x = init(torch.empty(n, dtype=torch.float64), generator=torch.Generator().manual_seed(3))
    else:
        x = init(torch.empty(n, dtype=torch.float32 if how.endswith("32") else torch.float64), seed=3)
    v = np.asarray(x.double().numpy() if isinstance(x, torch.Tensor) else x)
    low, high = mean + std * ab[0], mean + std * ab[1]
    assert np.isfinite(v).all() and v.min() >= low and v.max() <= high
    law = sps.truncnorm(*ab, loc=mean, scale=std)
    if how == "seed fp32" and ab[1] - ab[0] < 0.01:  # a few hundred fp32 values in the interval
        assert v.std() == pytest.approx(law.std(), rel=0.02)
        return
    assert ks_pvalue(v, law.cdf) > 1e-4


def test_far_tail_is_not_the_bound_repeated():
    """The tail inversion spreads its values: ~Exp(rate a) above a, mean a + 1/a."""
    x = initlab.trunc_normal(a=50.0, b=60.0)(torch.empty(100_000, dtype=torch.float64), seed=0).numpy()
    assert x.mean() == pytest.approx(50.0 + 1 / 50.02, abs=2e-4)
    assert len(np.unique(x)) > 99_000


# -- laws a dtype cannot hold ---------------------------------------------------------------------------------------
TOO_WIDE = [  # (scheme, torch dtype, argument named in the error)
    (initlab.random_normal(std=1e300), torch.float32, "std"),
    (initlab.random_normal(std=1e38), torch.bfloat16, "std"),
    (initlab.random_normal(std=1e4), torch.float16, "std"),
    (initlab.random_uniform(minval=-3e38, maxval=3e38), torch.float32, "bounds"),
    (initlab.random_uniform(minval=-1e39, maxval=1e39), torch.bfloat16, "bounds"),
    (initlab.random_uniform(minval=-7e4, maxval=7e4), torch.float16, "bounds"),
    (initlab.constant(1e39), torch.float32, "value"),
    (initlab.constant(1e5), torch.float16, "value"),
    (initlab.constant(-1e39), torch.bfloat16, "value"),
    (initlab.constant(1e309 / 1e10), torch.float64, "value"),
    (initlab.truncated_normal(std=1e300), torch.float32, "std"),
    (initlab.orthogonal(gain=1e39), torch.float32, "gain"),
    (initlab.identity(gain=1e5), torch.float16, "gain"),
    (initlab.sparse(std=1e38), torch.float32, "std"),
    (initlab.he_normal(a=1e-200, mode="fan_in"), None, None),  # a control that fits
]


@pytest.mark.parametrize("init, dtype, arg", TOO_WIDE, ids=lambda v: repr(v) if not isinstance(v, torch.dtype) else str(v))
def test_a_law_the_dtype_cannot_hold_is_an_error_naming_the_dtype(init, dtype, arg):
    if dtype is None:  # the control
        assert torch.isfinite(init(torch.empty(8, 8), seed=0)).all()
        return
    if init.name == "constant" and not math.isfinite(init.value):
        with pytest.raises(InitlabError, match="^value: got inf; allowed: a finite number"):
            init(torch.empty(4, 4, dtype=dtype))
        return
    t = torch.full((4, 4), 7.0, dtype=dtype)
    shape = (4, 4) if init.name != "identity" else (4, 4)
    with pytest.raises(InitlabError) as info:
        init(t, seed=0)
    msg = str(info.value)
    name = str(dtype).replace("torch.", "")
    assert msg.startswith(f"{arg}: got ") and "; allowed: " in msg and name in msg and "\n" not in msg, msg
    assert bool((t == 7.0).all()), "the tensor changed"
    with pytest.raises(InitlabError, match=f"^{arg}: got "):  # a generator, and NumPy, the same
        init(t, generator=torch.Generator().manual_seed(0))
    if dtype != torch.bfloat16:
        with pytest.raises(InitlabError, match=name):
            init.numpy(shape, dtype=name, seed=0)
        with pytest.raises(InitlabError, match=name):
            init.numpy(shape, dtype=name, rng=np.random.default_rng(0))


@pytest.mark.parametrize("init, dtype", [
    (initlab.random_normal(std=1e30), torch.float32), (initlab.random_normal(std=1e300), torch.float64),
    (initlab.random_uniform(minval=-1e38, maxval=1e38), torch.float32), (initlab.constant(6e4), torch.float16),
    (initlab.trunc_normal(std=1e300, a=0.0, b=1.0), torch.float32), (initlab.random_normal(std=1e3), torch.float16),
], ids=str)
def test_wide_laws_the_dtype_can_hold_are_drawn(init, dtype):
    t = init(torch.empty(64, 64, dtype=dtype), seed=1)
    assert torch.isfinite(t).all()
    d = init.distribution((64, 64))
    if d.low is not None:
        assert float(t.double().min()) >= d.low and float(t.double().max()) <= d.high


# -- sizes and parameter types -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2.5, 3), ("3", 4), "34", (3, True), (3, -1), 5, (3, None)], ids=repr)
def test_sizes_that_are_not_integers_are_rejected_not_truncated(shape):
    for call in (lambda: initlab.he_normal().distribution(shape), lambda: initlab.zeros().numpy(shape),
                 lambda: initlab.random_normal().numpy(shape, seed=0), lambda: compute_fans(shape)):
        with pytest.raises(InitlabError) as info:
            call()
        assert str(info.value).startswith("shape: got ") and "; allowed: a sequence of integers >= 0" in str(info.value)


def test_numpy_integer_sizes_are_accepted():
    assert initlab.he_normal().distribution((np.int64(3), np.int32(4))).shape == (3, 4)
    assert initlab.he_normal().numpy(torch.Size([3, 4]), seed=0).shape == (3, 4)


@pytest.mark.parametrize("identifier, arg, shown", [
    ({"name": "he_normal", "params": [1, 2]}, "params", "list [1, 2]"),
    ({"name": "he_normal", "params": "a=1"}, "params", "str 'a=1'"),
    ({"name": 3}, "scheme", "int 3"),
    ({"class_name": 3, "config": {}}, "scheme", "int 3"),
], ids=["params_list", "params_string", "name_int", "keras_class_int"])
def test_config_values_of_the_wrong_type(identifier, arg, shown):
    with pytest.raises(InitlabError) as info:
        initlab.get(identifier)
    assert str(info.value).startswith(f"{arg}: got {shown}; allowed: "), str(info.value)


@pytest.mark.parametrize("init, arg, shown", [
    (initlab.truncated_normal(a="x"), "a", "'x'"),
    (initlab.trunc_normal(b=[1]), "b", "[1]"),
    (initlab.truncated_normal(a=True), "a", "True"),
    (initlab.he_normal(a="x"), "a", "'x'"),
    (initlab.he_uniform(a=None), "a", "None"),
    (initlab.random_normal(std="0.1"), "std", "'0.1'"),
    (initlab.random_uniform(minval="0"), "minval", "'0'"),
    (initlab.sparse(sparsity="x"), "sparsity", "'x'"),
    (initlab.dirac(groups=2.0), "groups", "2.0"),
    (initlab.torch_default(fan_in=2.5), "fan_in", "2.5"),
    (initlab.variance_scaling(scale="2"), "scale", "'2'"),
    (initlab.variance_scaling(mode=3), "mode", "3"),
    (initlab.constant(value=[1.0]), "value", "[1.0]"),
    (initlab.orthogonal(gain="1"), "gain", "'1'"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_parameters_of_the_wrong_type_are_one_line_errors(init, arg, shown):
    shape = (8, 4, 3) if init.name == "dirac" else (8, 4)
    with pytest.raises(InitlabError) as info:
        init.distribution(shape)
    msg = str(info.value)
    assert msg.startswith(f"{arg}: got {shown}; allowed: ") and "\n" not in msg, msg


# -- tensors with no elements ----------------------------------------------------------------------------------------
def _empty_shape(name: str) -> tuple[int, ...]:
    return {"dirac": (0, 4, 3), "delta_orthogonal": (0, 4, 3, 3)}.get(name, (0, 4))


@pytest.mark.parametrize("name", [r["name"] for r in initlab.list_schemes()])
def test_a_tensor_with_no_elements_is_left_alone_with_a_warning(name):
    """As torch.nn.init does: a warning and nothing else (no error, even where fans would be undefined)."""
    t = torch.empty(_empty_shape(name))
    for kwargs in ({}, {"seed": 1}, {"generator": torch.Generator()}):
        with pytest.warns(UserWarning, match="no elements"):
            assert initlab.get(name)(t, **kwargs) is t
    with pytest.warns(UserWarning, match="no elements"):
        a = initlab.get(name).numpy(_empty_shape(name), seed=1, dtype="float16")
    assert a.shape == _empty_shape(name) and a.dtype == np.float16


def test_a_tensor_with_no_elements_still_checks_the_call():
    with pytest.raises(InitlabError, match="^seed: got 'x'"):
        initlab.he_normal()(torch.empty(0, 4), seed="x")
    with pytest.raises(InitlabError, match="^tensor: got torch.int64"):
        initlab.he_normal()(torch.empty(0, 4, dtype=torch.int64))


def test_fill_of_a_distribution_with_no_elements_warns():
    d = Distribution("normal", (0, 5), 0.0, 1.0, params={"mean": 0.0, "std": 1.0})
    t = torch.empty(0, 5)
    with pytest.warns(UserWarning, match=r"shape \(0, 5\) has no elements"):
        assert fill_(t, d, seed=0) is t


# -- NumPy bfloat16 (ml_dtypes) -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.dtype(ml_dtypes.bfloat16), "bfloat16"], ids=str)
def test_numpy_bfloat16_with_a_seed_is_the_torch_bfloat16_fill(dtype):
    for name in ("he_normal", "glorot_uniform", "he_truncated_normal", "orthogonal"):
        arr = initlab.get(name).numpy((300, 200), seed=5, key="w", dtype=dtype)
        t = initlab.get(name)(torch.empty(300, 200, dtype=torch.bfloat16), seed=5, key="w")
        assert arr.dtype == np.dtype(ml_dtypes.bfloat16) and arr.shape == (300, 200)
        assert np.array_equal(arr.view(np.int16), t.view(torch.int16).numpy())


def test_numpy_bfloat16_from_a_generator_keeps_the_law_and_its_bounds():
    init = initlab.random_uniform(minval=-0.1, maxval=0.1)
    arr = init.numpy((200, 500), rng=np.random.default_rng(1), dtype=ml_dtypes.bfloat16)
    assert arr.dtype == np.dtype(ml_dtypes.bfloat16)
    v = arr.astype(np.float64)
    assert v.min() >= -0.1 and v.max() <= 0.1
    assert_uniform(_bf16_tensor(arr), -0.1, 0.1)
    arr = initlab.he_normal().numpy((200, 500), rng=np.random.default_rng(2), dtype="bfloat16")
    assert_normal(_bf16_tensor(arr), 0.0, math.sqrt(2 / 500))


def _bf16_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
