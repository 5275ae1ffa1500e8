"""Parity with ``torch.nn.init`` and with PyTorch's module defaults.

Where initlab uses PyTorch's algorithm, the same generator gives the same values, bit for bit.
Where the algorithm differs (``trunc_normal_``: inverse CDF vs PyTorch's; ``sparse_``: one
permutation per column drawn differently), the two samples must follow the same law (two-sample KS).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import init as tinit

import initlab
from stats import assert_same_law

SHAPES = [(200, 300), (300, 200), (64, 32, 3, 3), (16, 8, 5), (8, 4, 3, 3, 3)]


def _pair(ours, theirs, shape, dtype=torch.float32, seed=1234):
    a = torch.empty(shape, dtype=dtype)
    b = torch.empty(shape, dtype=dtype)
    ours(a, generator=torch.Generator().manual_seed(seed))
    theirs(b, torch.Generator().manual_seed(seed))
    return a, b


# (id, initlab initializer, torch.nn.init call with the same meaning)
SAME_VALUES = [
    ("normal_", initlab.random_normal(mean=0.1, std=0.3), lambda t, g: tinit.normal_(t, 0.1, 0.3, generator=g)),
    ("uniform_", initlab.random_uniform(minval=-0.3, maxval=0.7),
     lambda t, g: tinit.uniform_(t, -0.3, 0.7, generator=g)),
    ("xavier_normal_", initlab.get("xavier_normal"), lambda t, g: tinit.xavier_normal_(t, generator=g)),
    ("xavier_normal_gain", initlab.glorot_normal(gain=1.7), lambda t, g: tinit.xavier_normal_(t, 1.7, generator=g)),
    ("xavier_uniform_", initlab.get("xavier_uniform"), lambda t, g: tinit.xavier_uniform_(t, generator=g)),
    ("xavier_uniform_gain", initlab.glorot_uniform(gain=0.6),
     lambda t, g: tinit.xavier_uniform_(t, 0.6, generator=g)),
    ("orthogonal_", initlab.get("orthogonal"), lambda t, g: tinit.orthogonal_(t, generator=g)),
    ("orthogonal_gain", initlab.orthogonal(gain=1.3), lambda t, g: tinit.orthogonal_(t, 1.3, generator=g)),
]
for _mode in ("fan_in", "fan_out"):
    for _nl, _a in (("relu", 0.0), ("leaky_relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                    ("tanh", 0.0), ("selu", 0.0), ("linear", 0.0), ("sigmoid", 0.0)):
        SAME_VALUES.append((
            f"kaiming_normal_-{_mode}-{_nl}-{_a:.3g}", initlab.he_normal(a=_a, mode=_mode, nonlinearity=_nl),
            lambda t, g, m=_mode, n=_nl, a=_a: tinit.kaiming_normal_(t, a=a, mode=m, nonlinearity=n, generator=g)))
        SAME_VALUES.append((
            f"kaiming_uniform_-{_mode}-{_nl}-{_a:.3g}", initlab.he_uniform(a=_a, mode=_mode, nonlinearity=_nl),
            lambda t, g, m=_mode, n=_nl, a=_a: tinit.kaiming_uniform_(t, a=a, mode=m, nonlinearity=n, generator=g)))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("ours, theirs", [pytest.param(o, t, id=i) for i, o, t in SAME_VALUES])
def test_same_generator_same_values(ours, theirs, shape):
    a, b = _pair(ours, theirs, shape)
    assert torch.equal(a, b)


@pytest.mark.parametrize("ours, theirs", [pytest.param(o, t, id=i) for i, o, t in SAME_VALUES])
def test_same_generator_float64_values_agree_to_a_few_ulps(ours, theirs):
    a, b = _pair(ours, theirs, (100, 30), dtype=torch.float64)
    torch.testing.assert_close(a, b, rtol=1e-15, atol=1e-17)


def test_same_generator_float64_values_are_bitwise_equal():
    differ = [i for i, ours, theirs in SAME_VALUES
              if not torch.equal(*_pair(ours, theirs, (100, 30), dtype=torch.float64))]
    assert not differ, f"float64 values differ from torch.nn.init for {differ}"


def test_global_generator_is_used_like_torch():
    """Without seed or generator, initlab draws from torch's global generator, as torch.nn.init does."""
    a, b = torch.empty(64, 100), torch.empty(64, 100)
    torch.manual_seed(7)
    initlab.he_normal()(a)
    torch.manual_seed(7)
    tinit.kaiming_normal_(b)
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3)], ids=str)
def test_eye_(shape):
    a, b = torch.empty(shape), torch.empty(shape)
    initlab.get("eye_")(a)
    tinit.eye_(b)
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape, groups", [((6, 6, 3), 1), ((8, 4, 3, 3), 2), ((12, 4, 3, 3), 3), ((4, 8, 3), 1),
                                           ((6, 2, 3, 3, 3), 3), ((4, 4, 4, 4), 1)], ids=str)
def test_dirac_(shape, groups):
    a, b = torch.empty(shape), torch.empty(shape)
    initlab.dirac(groups=groups)(a)
    tinit.dirac_(b, groups=groups)
    assert torch.equal(a, b)


@pytest.mark.parametrize("ours, theirs", [
    (initlab.get("zeros_"), tinit.zeros_),
    (initlab.get("ones_"), tinit.ones_),
    (initlab.constant(value=0.37), lambda t: tinit.constant_(t, 0.37)),
], ids=["zeros_", "ones_", "constant_"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64], ids=str)
def test_constants(ours, theirs, dtype):
    a, b = torch.empty(7, 5, 3, dtype=dtype), torch.empty(7, 5, 3, dtype=dtype)
    ours(a)
    theirs(b)
    assert torch.equal(a, b)


# -- same law, different algorithm ------------------------------------------------------------------------
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.1, 0.5, -0.5, 1.0), (0.0, 0.02, -0.04, 0.04),
                                             (1.0, 2.0, 1.5, 6.0)])
def test_trunc_normal_same_law(mean, std, a, b):
    ours = torch.empty(300, 400)
    theirs = torch.empty(300, 400)
    initlab.trunc_normal(mean=mean, std=std, a=a, b=b)(ours, seed=3)
    tinit.trunc_normal_(theirs, mean, std, a, b, generator=torch.Generator().manual_seed(3))
    assert_same_law(ours, theirs)
    assert float(ours.min()) >= a and float(ours.max()) <= b


@pytest.mark.parametrize("shape, sparsity", [((400, 300), 0.1), ((100, 500), 0.5), ((300, 400), 0.0)], ids=str)
def test_sparse_same_law(shape, sparsity):
    ours, theirs = torch.empty(shape), torch.empty(shape)
    initlab.sparse(sparsity=sparsity, std=0.05)(ours, seed=4)
    tinit.sparse_(theirs, sparsity, std=0.05, generator=torch.Generator().manual_seed(4))
    # the same number of zeros in every column: ⌈sparsity·rows⌉
    assert torch.equal((ours == 0).sum(0), (theirs == 0).sum(0))
    assert int((ours == 0).sum(0)[0]) == math.ceil(sparsity * shape[0])
    assert_same_law(ours[ours != 0], theirs[theirs != 0])


# -- PyTorch's module defaults (reset_parameters) ---------------------------------------------------------
# (module factory, fan_in of its bias computed by hand from PyTorch's rule: weight.shape[1]·∏kernel)
MODULES = [
    ("Linear", lambda: nn.Linear(784, 256), 784),
    ("Conv1d", lambda: nn.Conv1d(16, 32, 5), 16 * 5),
    ("Conv2d", lambda: nn.Conv2d(32, 64, 3), 32 * 9),
    ("Conv2d_groups", lambda: nn.Conv2d(32, 64, 3, groups=4), 8 * 9),
    ("Conv3d", lambda: nn.Conv3d(4, 8, 3), 4 * 27),
    # transposed conv weight is stored (in, out/groups, *k): PyTorch's fan_in is then out/groups·∏k
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(32, 64, 3), 64 * 9),
    ("ConvTranspose2d_groups", lambda: nn.ConvTranspose2d(32, 64, 3, groups=4), 16 * 9),
]


@pytest.mark.parametrize("make, bias_fan_in", [pytest.param(m, f, id=i) for i, m, f in MODULES])
def test_torch_default_reproduces_reset_parameters(make, bias_fan_in):
    torch.manual_seed(2024)
    module = make()
    weight, bias = torch.empty_like(module.weight), torch.empty_like(module.bias)
    torch.manual_seed(2024)
    initlab.torch_default()(weight)
    initlab.torch_default(fan_in=bias_fan_in)(bias)
    assert torch.equal(weight, module.weight.detach())
    assert torch.equal(bias, module.bias.detach())
    # and both are U(±1/√fan_in)
    bound = 1.0 / math.sqrt(bias_fan_in)
    assert float(weight.abs().max()) <= bound and float(bias.abs().max()) <= bound
