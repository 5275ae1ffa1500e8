"""The per-tensor depth laws against their formulas, computed here: gpt-neox small_init and wang_init, OLMo's
mitchell, ZerO (Zhao et al. 2022; the Hadamard matrix built here by Kronecker products) and IDInit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import initlab
from stats import assert_normal, assert_truncnorm


def test_small_init_std_is_sqrt_2_over_5d():
    w = initlab.small_init()(torch.empty(512, 384), seed=0)   # d = fan_in = 384
    assert_normal(w, 0.0, math.sqrt(2 / (5 * 384)))
    w = initlab.small_init(dim=1024)(torch.empty(300, 200), seed=1)
    assert_normal(w, 0.0, math.sqrt(2 / (5 * 1024)))


def test_wang_init_std_is_2_over_L_sqrt_d():
    w = initlab.wang_init(n_layers=12, dim=768)(torch.empty(768, 3072), seed=2)
    assert_normal(w, 0.0, 2 / 12 / math.sqrt(768))
    assert initlab.wang_init(n_layers=4).distribution((64, 256)).std == pytest.approx(2 / 4 / 16, rel=1e-15)


@pytest.mark.parametrize("layer", [None, 0, 5])
def test_mitchell_is_truncated_at_three_sigma(layer):
    d = 300
    sigma = 1 / math.sqrt(d) / (1 if layer is None else math.sqrt(2 * (layer + 1)))
    w = initlab.mitchell(layer=layer)(torch.empty(400, d), seed=3)
    assert float(w.abs().max()) <= 3 * sigma * (1 + 1e-6)
    assert_truncnorm(w, 0.0, sigma, -3.0, 3.0)  # bounds in units of σ: ±3σ


def _hadamard(k: int) -> np.ndarray:
    h = np.ones((1, 1))
    for _ in range(k):
        h = np.kron(np.array([[1, 1], [1, -1]]), h)
    return h


def _zero_expected(out: int, inn: int) -> np.ndarray:
    """Algorithm 1 of Zhao et al. 2022 as the authors' reference code writes it."""
    if out <= inn:
        return np.eye(out, inn)
    k = math.ceil(math.log2(out))
    return np.eye(out, 2 ** k) @ (_hadamard(k) / 2 ** (k / 2)) @ np.eye(2 ** k, inn)


@pytest.mark.parametrize("shape", [(4, 2), (6, 3), (8, 8), (3, 7), (10, 4), (64, 10), (100, 64), (1, 5), (5, 1)])
def test_zero_matrix_exactly(shape):
    want = _zero_expected(*shape)
    got = initlab.get("ZerO")(torch.empty(shape, dtype=torch.float64))
    np.testing.assert_array_equal(got.numpy(), want)
    d = initlab.get("ZerO").distribution(shape)
    assert d.mean == pytest.approx(want.mean(), abs=1e-15) and d.std == pytest.approx(want.std(), rel=1e-12, abs=1e-7)


def test_zero_hadamard_factor_is_orthogonal_when_out_is_a_power_of_two():
    w = initlab.get("ZerO")(torch.empty(16, 16 // 2, dtype=torch.float64))
    np.testing.assert_allclose((w.t() @ w).numpy(), np.eye(8), atol=1e-15)  # orthonormal columns


def test_zero_conv_kernel_holds_the_matrix_at_its_centre():
    w = initlab.get("ZerO")(torch.empty(6, 3, 3, 5, dtype=torch.float64))
    want = np.zeros((6, 3, 3, 5))
    want[:, :, 1, 2] = _zero_expected(6, 3)
    np.testing.assert_array_equal(w.numpy(), want)


def test_zero_keras_layout_is_the_transpose():
    np.testing.assert_array_equal(initlab.get("ZerO").numpy((3, 6), layout="keras", dtype="float64"),
                                  _zero_expected(6, 3).T)


def test_zero_and_idinit_are_the_same_for_every_seed_thread_and_dtype():
    for name in ("ZerO", "idinit"):
        init = initlab.get(name)
        a = init(torch.empty(12, 5), seed=0)
        b = init(torch.empty(12, 5), seed=123)
        c = init(torch.empty(12, 5), generator=torch.Generator().manual_seed(9))
        d = init(torch.nn.Parameter(torch.empty(12, 5)))
        assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d.detach())
        assert torch.equal(init(torch.empty(12, 5, dtype=torch.bfloat16)), a.to(torch.bfloat16))


@pytest.mark.parametrize("shape", [(4, 4), (2, 5), (7, 3), (6, 12)])
def test_idinit_repeats_the_identity_along_the_longer_side(shape):
    rows, cols = shape
    want = np.zeros(shape)
    for i in range(rows):
        for j in range(cols):
            if i % min(rows, cols) == j % min(rows, cols):
                want[i, j] = 0.5
    got = initlab.idinit(tau=0.5)(torch.empty(shape, dtype=torch.float64))
    np.testing.assert_array_equal(got.numpy(), want)
    assert np.linalg.matrix_rank(want) == min(shape)
    d = initlab.idinit(tau=0.5).distribution(shape)
    assert d.mean == pytest.approx(want.mean(), rel=1e-12) and d.std == pytest.approx(want.std(), rel=1e-12)


def test_names_and_bad_input():
    assert type(initlab.get("ZerO")).__name__ == "ZerO" and initlab.get("zero") == initlab.zeros()
    assert initlab.get("small_init_init_method").name == "small_init" and initlab.get("olmo_mitchell").name == "mitchell"
    with pytest.raises(initlab.InitlabError, match=r"^n_layers: got 0; allowed: an integer >= 1"):
        initlab.wang_init(n_layers=0).distribution((4, 4))
    with pytest.raises(initlab.InitlabError, match=r"^shape: got \(3, 4, 3\); allowed: a 2-D weight for 'idinit'"):
        initlab.idinit()(torch.empty(3, 4, 3))
    with pytest.raises(initlab.InitlabError, match=r"^layer: got -1; allowed: an integer >= 0"):
        initlab.mitchell(layer=-1).distribution((4, 4))
