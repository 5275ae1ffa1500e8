"""Orthogonal matrices: orthonormal with a seed, torch.nn.init's values with a generator.

Run on one thread: LAPACK's OpenMP teams are slow on a loaded two-core machine, and threads are
not what these tests are about (see test_reproducible.py).
"""

from __future__ import annotations

import pytest
import torch

import initlab
from initlab._threads import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.mark.parametrize("shape, layout", [((600, 400), "torch"), ((400, 600), "torch"), ((64, 16, 3, 3), "torch"),
                                           ((3, 3, 16, 64), "keras")], ids=str)
def test_orthogonal_seeded_rows_or_columns_are_orthonormal(shape, layout):
    w = initlab.orthogonal(gain=1.5)(torch.empty(shape), seed=2, layout=layout)
    m = w.reshape(shape[0], -1) if layout == "torch" else w.reshape(-1, shape[-1])
    m = m.double() / 1.5
    small = m @ m.t() if m.shape[0] <= m.shape[1] else m.t() @ m
    torch.testing.assert_close(small, torch.eye(small.shape[0], dtype=torch.float64), rtol=0, atol=2e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (32, 16, 3, 3)], ids=str)
def test_orthogonal_with_a_generator_equals_torch(shape, dtype):
    ours = initlab.orthogonal(gain=0.7)(torch.empty(shape, dtype=dtype), generator=torch.Generator().manual_seed(1))
    theirs = torch.nn.init.orthogonal_(torch.empty(shape, dtype=dtype), 0.7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(ours, theirs)


def test_orthogonal_bfloat16_is_the_float32_matrix_rounded():
    ref = initlab.orthogonal()(torch.empty(200, 100), seed=3)
    got = initlab.orthogonal()(torch.empty(200, 100, dtype=torch.bfloat16), seed=3)
    assert torch.equal(got, ref.to(torch.bfloat16))
