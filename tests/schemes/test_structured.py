"""Exact properties of the structured schemes: orthogonal, identity, dirac, delta-orthogonal, constants.

Each property is stated from its definition and checked on the values drawn (float64 tensors, so
"exact" means to ~1e-12), never against initlab's own helpers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import special
from scipy import stats as sps

import initlab
from stats import ALPHA, ks_pvalue

DT = torch.float64


def _eye(n: int) -> torch.Tensor:
    return torch.eye(n, dtype=DT)


# -- orthogonal (Saxe et al. 2013) ----------------------------------------------------------------------
# (shape, layout, rows, cols): the (rows, cols) matrix is the tensor flattened per layout, by hand:
# torch (out, in, *k) -> (out, in·∏k); keras (*k, in, out) -> (∏k·in, out)
ORTHO_CASES = [
    ((300, 100), "torch", 300, 100),        # tall
    ((100, 300), "torch", 100, 300),        # wide
    ((64, 64), "torch", 64, 64),            # square
    ((64, 32, 3, 3), "torch", 64, 288),     # conv, wide after flattening
    ((64, 4, 3, 3), "torch", 64, 36),       # conv, tall after flattening
    ((3, 3, 16, 32), "keras", 144, 32),     # keras conv, tall
    ((3, 3, 2, 64), "keras", 18, 64),       # keras conv, wide
    ((5, 7, 11), "torch", 5, 77),           # conv1d
]


def _as_matrix(w: torch.Tensor, layout: str, rows: int, cols: int) -> torch.Tensor:
    if layout == "torch":
        return w.reshape(w.shape[0], -1)
    return w.reshape(-1, w.shape[-1])


@pytest.mark.parametrize("shape, layout, rows, cols", ORTHO_CASES, ids=[f"{c[1]}{c[0]}" for c in ORTHO_CASES])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_gram_is_gain_squared_identity(shape, layout, rows, cols, gain):
    w = torch.empty(shape, dtype=DT)
    initlab.orthogonal(gain=gain)(w, seed=3, layout=layout)
    m = _as_matrix(w, layout, rows, cols)
    assert tuple(m.shape) == (rows, cols)
    if rows >= cols:  # orthonormal columns
        gram, n = m.T @ m, cols
    else:  # orthonormal rows
        gram, n = m @ m.T, rows
    torch.testing.assert_close(gram, gain**2 * _eye(n), rtol=0, atol=1e-12)
    # every singular value equals the gain
    sv = torch.linalg.svdvals(m)
    torch.testing.assert_close(sv, torch.full_like(sv, gain), rtol=0, atol=1e-12)
    # the reported second moment is exact: mean(W²) = gain²·min(rows, cols)/(rows·cols) = gain²/max(rows, cols)
    d = initlab.orthogonal(gain=gain).distribution(shape, layout=layout)
    assert d.family == "orthogonal"
    assert d.std**2 + d.mean**2 == pytest.approx(gain**2 / max(rows, cols), rel=1e-12)
    assert float((w**2).mean()) == pytest.approx(gain**2 / max(rows, cols), rel=1e-12)


def test_orthogonal_float32_is_orthogonal_to_float32_precision():
    w = torch.empty(256, 784)
    initlab.orthogonal()(w, seed=0)
    torch.testing.assert_close(w @ w.T, torch.eye(256), rtol=0, atol=2e-5)


def _haar_entry_cdf(n: int):
    """CDF of one entry of an n×n Haar-distributed orthogonal matrix: symmetric, with
    Q_ij² ~ Beta(1/2, (n−1)/2) (the squared first coordinate of a uniform point on the sphere)."""

    def cdf(x):
        x = np.asarray(x, dtype=np.float64)
        return 0.5 + 0.5 * np.sign(x) * special.betainc(0.5, (n - 1) / 2.0, x * x)

    return cdf


def test_orthogonal_is_haar_distributed():
    """Folding the signs of R's diagonal into Q makes Q Haar-distributed (Mezzadri 2007): a diagonal
    entry is then as likely negative as positive, with the law of any entry. Without the fold, LAPACK's
    Householder QR gives Q₁₁ < 0 every time."""
    n, draws = 16, 400
    init = initlab.orthogonal()
    diag, off = [], []
    for i in range(draws):
        q = init(torch.empty(n, n, dtype=DT), seed=i)
        diag.append(torch.diagonal(q))
        off.append(q[0, 1:2])
    diag = torch.cat(diag).numpy()
    assert ks_pvalue(diag, _haar_entry_cdf(n)) > ALPHA
    assert ks_pvalue(torch.cat(off).numpy(), _haar_entry_cdf(n)) > ALPHA
    positive = int((diag > 0).sum())
    assert sps.binomtest(positive, diag.size, 0.5).pvalue > ALPHA


@pytest.mark.parametrize("rows, cols", [(12, 12), (20, 6), (6, 20)], ids=str)
def test_seeded_orthogonal_has_the_haar_law_in_every_entry_and_both_determinants(rows, cols):
    """The seeded path builds Q from Gaussian reflectors without a QR (Stewart 1980). Every entry of
    the first k = min(rows, cols) columns of a Haar m × m matrix (m = max) has the law of one coordinate
    of a uniform point on the m-sphere; the first, a middle and the last reflector's entries are tested,
    and, for square matrices, det Q = ±1 each with probability 1/2 (Haar measure on O(n), not SO(n))."""
    m, draws = max(rows, cols), 600
    init = initlab.orthogonal()
    entries = {"first": [], "middle": [], "last": []}
    dets = []
    for i in range(draws):
        q = init(torch.empty(rows, cols, dtype=DT), seed=i, key="haar")
        q = q if rows >= cols else q.t()  # m × k, orthonormal columns
        k = q.shape[1]
        entries["first"].append(float(q[m - 1, 0]))
        entries["middle"].append(float(q[m // 2, k // 2]))
        entries["last"].append(float(q[m - 1, k - 1]))
        if rows == cols:
            dets.append(float(torch.linalg.det(q.double())))
    for where, values in entries.items():
        assert ks_pvalue(np.array(values), _haar_entry_cdf(m)) > ALPHA, where
    if dets:
        assert np.allclose(np.abs(dets), 1.0, atol=1e-4)
        positive = sum(d > 0 for d in dets)
        assert sps.binomtest(positive, len(dets), 0.5).pvalue > ALPHA


# -- identity -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (1, 7)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_identity_is_gain_on_the_main_diagonal(shape, gain):
    w = torch.full(shape, 9.0, dtype=DT)
    initlab.identity(gain=gain)(w)
    expected = torch.zeros(shape, dtype=DT)
    for i in range(min(shape)):
        expected[i, i] = gain
    assert torch.equal(w, expected)
    # reported mean and std are the exact moments of the entries
    d = initlab.identity(gain=gain).distribution(shape)
    assert d.mean == pytest.approx(float(w.mean()), rel=1e-12)
    assert d.std == pytest.approx(float(w.std(unbiased=False)), rel=1e-12)


# -- dirac (Zagoruyko & Komodakis 2017) ------------------------------------------------------------------
_CONV = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}


def _conv(x, w, groups):
    pad = tuple(k // 2 for k in w.shape[2:])
    return _CONV[w.dim()](x, w, padding=pad, groups=groups)


@pytest.mark.parametrize("shape, groups", [
    ((6, 6, 3), 1),
    ((6, 6, 5), 1),
    ((8, 4, 3, 3), 2),          # 2 groups of 4 -> 4
    ((12, 3, 3, 3), 4),         # 4 groups of 3 -> 3
    ((4, 4, 3, 3, 3), 1),
    ((8, 2, 1, 3, 3), 4),       # 3-D conv, 4 groups, 1x3x3 kernel
], ids=str)
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_dirac_convolution_passes_its_input_through(shape, groups, gain):
    w = torch.full(shape, 7.0, dtype=DT)
    initlab.dirac(groups=groups, gain=gain)(w)
    in_channels = shape[1] * groups
    x = torch.randn((2, in_channels, *[6] * (len(shape) - 2)), dtype=DT, generator=torch.Generator().manual_seed(0))
    y = _conv(x, w, groups)
    torch.testing.assert_close(y, gain * x, rtol=0, atol=1e-12)
    # exactly one nonzero per output channel, at the kernel centre
    assert int((w != 0).sum()) == shape[0]
    d = initlab.dirac(groups=groups, gain=gain).distribution(shape)
    assert d.mean == pytest.approx(float(w.mean()), rel=1e-12)
    assert d.std == pytest.approx(float(w.std(unbiased=False)), rel=1e-12)


@pytest.mark.parametrize("shape", [(12, 4, 5), (4, 8, 3)], ids=["more_out", "more_in"])
def test_dirac_with_unequal_channels_copies_the_common_ones(shape):
    out_c, in_c = shape[:2]
    w = torch.empty(shape, dtype=DT)
    initlab.dirac()(w)
    x = torch.randn((3, in_c, 10), dtype=DT, generator=torch.Generator().manual_seed(1))
    y = _conv(x, w, 1)
    n = min(out_c, in_c)
    torch.testing.assert_close(y[:, :n], x[:, :n], rtol=0, atol=0)
    assert torch.count_nonzero(y[:, n:]) == 0


# -- delta-orthogonal (Xiao et al. 2018) -----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(16, 8, 3, 3), (8, 8, 5), (8, 4, 3, 3, 3), (32, 32, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_delta_orthogonal_centre_tap_has_orthonormal_columns(shape, gain):
    w = torch.full(shape, 3.0, dtype=DT)
    initlab.delta_orthogonal(gain=gain)(w, seed=11)
    centre = tuple(k // 2 for k in shape[2:])
    h = w[(slice(None), slice(None), *centre)]
    torch.testing.assert_close(h.T @ h, gain**2 * _eye(shape[1]), rtol=0, atol=1e-12)
    rest = w.clone()
    rest[(slice(None), slice(None), *centre)] = 0
    assert torch.count_nonzero(rest) == 0
    # a convolution maps each pixel's channel vector v to gain·H·v: the signal's norm scales by the gain
    x = torch.randn((2, shape[1], *[7] * (len(shape) - 2)), dtype=DT, generator=torch.Generator().manual_seed(2))
    y = _conv(x, w, 1)
    assert float(y.norm()) == pytest.approx(gain * float(x.norm()), rel=1e-12)
    assert float((w**2).mean()) == pytest.approx(gain**2 * shape[1] / math.prod(shape), rel=1e-12)


# -- constants --------------------------------------------------------------------------------------------
CONSTANT_CASES = [("zeros", {}, 0.0), ("ones", {}, 1.0), ("constant", {"value": -0.7}, -0.7),
                  ("constant", {"value": 3.0}, 3.0)]


@pytest.mark.parametrize("name, params, value", CONSTANT_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", [(), (5,), (0, 3), (4, 3, 2, 2)], ids=str)
def test_constants_fill_every_entry(name, params, value, dtype, shape):
    """Constants need no fans: any shape, a scalar and an empty tensor (a no-op, with a warning) included."""
    t = torch.full(shape, 123.0, dtype=dtype)
    if t.numel():
        out = initlab.create(name, **params)(t)
    else:
        with pytest.warns(UserWarning, match="no elements"):
            out = initlab.create(name, **params)(t)
    assert out is t and t.dtype == dtype and tuple(t.shape) == shape
    assert torch.equal(t, torch.full(shape, value, dtype=dtype))


@pytest.mark.parametrize("name, params, value", CONSTANT_CASES, ids=lambda v: str(v))
def test_constants_distribution_and_numpy(name, params, value):
    init = initlab.create(name, **params)
    d = init.distribution((3, 4))
    assert (d.family, d.mean, d.std, d.low, d.high) == ("constant", value, 0.0, value, value)
    a = init.numpy((3, 4), dtype="float64")
    assert a.dtype == np.float64 and np.array_equal(a, np.full((3, 4), value))
