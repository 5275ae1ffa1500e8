"""Every random scheme draws from the law its paper or library states, on every kind of weight.

One table of shapes (with their fans computed by hand from the layer's math) and one table of
schemes (with the expected law as a function of those fans, derived from the formulas) drive a
KS test per (scheme, shape) pair, plus an exact comparison of what ``distribution()`` reports.
Small tensors are drawn repeatedly (``seed``, different ``key``) until the pooled sample is large
enough for the KS test to see a wrong std.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from scipy import stats as sps

import initlab
from stats import assert_law, frozen_law

# Std of N(0, 1) truncated to [-2, 2], derived here (tests/schemes/test_keras.py checks it
# against Keras's literal 0.87962566103423978).
TRUNC_STD = float(sps.truncnorm(-2.0, 2.0).std())

MIN_VALUES = 20_000
"""Values pooled per KS test (tensors smaller than this are drawn several times)."""


@dataclass(frozen=True)
class ShapeCase:
    """A weight shape, the fan keywords that describe it, and its fans computed by hand."""

    id: str
    shape: tuple[int, ...]
    fan_in: int
    fan_out: int
    kwargs: dict = field(default_factory=dict)
    torch_layer_fan_in: int | None = None  # PyTorch's own fan_in (raw stored shape), torch layout only


SHAPES = [
    # nn.Linear(784, 256): weight (out, in)
    ShapeCase("dense", (256, 784), fan_in=784, fan_out=256, torch_layer_fan_in=784),
    # nn.Conv2d(32, 64, 3): weight (out, in, kh, kw); receptive field 3·3
    ShapeCase("conv", (64, 32, 3, 3), fan_in=32 * 9, fan_out=64 * 9, torch_layer_fan_in=32 * 9),
    # nn.Conv2d(32, 64, 3, groups=4): weight (64, 32/4, 3, 3); each output sees 8 inputs, each input feeds 16
    ShapeCase("grouped", (64, 8, 3, 3), fan_in=8 * 9, fan_out=(64 // 4) * 9, kwargs={"groups": 4},
              torch_layer_fan_in=8 * 9),
    # depthwise nn.Conv2d(32, 32, 3, groups=32): weight (32, 1, 3, 3); one input per output and back
    ShapeCase("depthwise", (32, 1, 3, 3), fan_in=1 * 9, fan_out=1 * 9, kwargs={"groups": 32},
              torch_layer_fan_in=9),
    # nn.ConvTranspose2d(32, 64, 3): weight (in, out, kh, kw)
    ShapeCase("transposed", (32, 64, 3, 3), fan_in=32 * 9, fan_out=64 * 9, kwargs={"transposed": True},
              torch_layer_fan_in=64 * 9),
    # nn.ConvTranspose2d(32, 64, 3, groups=4): weight (32, 64/4, 3, 3); per group 8 inputs -> 16 outputs
    ShapeCase("grouped_transposed", (32, 16, 3, 3), fan_in=(32 // 4) * 9, fan_out=16 * 9,
              kwargs={"transposed": True, "groups": 4}, torch_layer_fan_in=16 * 9),
    # Keras/JAX Conv2D(128, 3) on 64 channels: kernel (kh, kw, in, out)
    ShapeCase("keras_conv", (3, 3, 64, 128), fan_in=9 * 64, fan_out=9 * 128, kwargs={"layout": "keras"}),
    # an ensemble of 3 nn.Linear(300, 128) stacked on axis 0
    ShapeCase("stacked", (3, 128, 300), fan_in=300, fan_out=128, kwargs={"batch_axes": (0,)}),
    # the same with explicit axes, stored (in, batch, out)
    ShapeCase("explicit_axes", (300, 3, 128), fan_in=300, fan_out=128,
              kwargs={"in_axis": 0, "out_axis": 2, "batch_axes": (1,)}),
    # 6 stacked Keras Conv2D(32, 3) kernels on 16 channels: (batch, kh, kw, in, out)
    ShapeCase("stacked_keras_conv", (6, 3, 3, 16, 32), fan_in=9 * 16, fan_out=9 * 32,
              kwargs={"layout": "keras", "batch_axes": (0,)}),
]


def _fan(mode: str, fan_in: int, fan_out: int) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
            "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]


def variance_law(variance: float, dist: str) -> tuple:
    """The law with mean 0 and the given variance: N(0, v); U(±√(3v)); or Keras's normal truncated at
    ±2σ with σ = √v / std(N(0,1) | [-2, 2]) so that the truncated values still have variance v."""
    std = math.sqrt(variance)
    if dist == "normal":
        return ("normal", 0.0, std)
    if dist == "uniform":
        return ("uniform", -math.sqrt(3.0) * std, math.sqrt(3.0) * std)
    assert dist == "truncated_normal"
    return ("truncnorm", 0.0, std / TRUNC_STD, -2.0, 2.0)


@dataclass(frozen=True)
class SchemeCase:
    """A scheme, how to build it, and its expected law given a ShapeCase."""

    id: str
    make: object  # () -> Initializer
    law: object  # (ShapeCase) -> law tuple
    torch_layout_only: bool = False
    shapes: tuple[str, ...] | None = None  # ShapeCase ids to run on; None: all of them


# a law that ignores fans is checked on shapes that differ in every fan keyword (groups, layout, axes)
FAN_FREE_SHAPES = ("dense", "depthwise", "keras_conv", "explicit_axes")
# a gain only multiplies the std: its plumbing is checked on a few kinds of weight
GAIN_SHAPES = ("dense", "grouped", "transposed", "keras_conv")


def _fan_free(id_: str, make, law: tuple) -> SchemeCase:
    return SchemeCase(id_, make, lambda s: law, shapes=FAN_FREE_SHAPES)


SCHEMES = [
    # fixed laws (independent of the shape)
    _fan_free("random_normal_default", lambda: initlab.get("random_normal"), ("normal", 0.0, 0.05)),
    _fan_free("random_normal", lambda: initlab.random_normal(mean=0.1, std=0.3), ("normal", 0.1, 0.3)),
    _fan_free("random_uniform_default", lambda: initlab.get("random_uniform"), ("uniform", -0.05, 0.05)),
    _fan_free("random_uniform", lambda: initlab.random_uniform(minval=-0.2, maxval=0.5), ("uniform", -0.2, 0.5)),
    _fan_free("truncated_normal_default", lambda: initlab.get("truncated_normal"),
              ("truncnorm", 0.0, 0.05, -2.0, 2.0)),
    _fan_free("truncated_normal", lambda: initlab.truncated_normal(mean=0.1, std=0.3, a=-1.5, b=2.5),
              ("truncnorm", 0.1, 0.3, -1.5, 2.5)),
    # an interval wholly right of the mean (the sampler reflects it into the left tail)
    _fan_free("truncated_normal_right_tail", lambda: initlab.truncated_normal(mean=-1.0, std=2.0, a=0.5, b=3.0),
              ("truncnorm", -1.0, 2.0, 0.5, 3.0)),
    _fan_free("truncated_normal_left_tail", lambda: initlab.truncated_normal(mean=0.0, std=1.0, a=-4.0, b=-2.5),
              ("truncnorm", 0.0, 1.0, -4.0, -2.5)),
    # a half-normal: one bound at infinity
    _fan_free("truncated_normal_half", lambda: initlab.truncated_normal(mean=0.0, std=0.5, a=-math.inf, b=0.0),
              ("truncnorm", 0.0, 0.5, -math.inf, 0.0)),
    # absolute bounds, like torch.nn.init.trunc_normal_: [a, b] = loc + [(a-m)/s, (b-m)/s]·s
    _fan_free("trunc_normal_default", lambda: initlab.get("trunc_normal"), ("truncnorm", 0.0, 1.0, -2.0, 2.0)),
    _fan_free("trunc_normal", lambda: initlab.trunc_normal(mean=0.1, std=0.5, a=-0.5, b=1.0),
              ("truncnorm", 0.1, 0.5, (-0.5 - 0.1) / 0.5, (1.0 - 0.1) / 0.5)),
    # PyTorch's nn.Linear/Conv default: U(±1/√fan_in) with fan_in from the raw stored shape
    SchemeCase("torch_default", lambda: initlab.torch_default(),
               lambda s: ("uniform", -1 / math.sqrt(s.torch_layer_fan_in), 1 / math.sqrt(s.torch_layer_fan_in)),
               torch_layout_only=True),
]

# the variance-scaling core: Var = scale / fan(mode), every mode × distribution
for _mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
    for _dist in ("normal", "uniform", "truncated_normal"):
        SCHEMES.append(SchemeCase(
            f"variance_scaling-{_mode}-{_dist}",
            lambda m=_mode, d=_dist: initlab.variance_scaling(scale=2.5, mode=m, distribution=d),
            lambda s, m=_mode, d=_dist: variance_law(2.5 / _fan(m, s.fan_in, s.fan_out), d)))
# Keras's spelling of the untruncated normal
SCHEMES.append(SchemeCase(
    "variance_scaling-fan_out-untruncated_normal",
    lambda: initlab.variance_scaling(scale=0.5, mode="fan_out", distribution="untruncated_normal"),
    lambda s: variance_law(0.5 / s.fan_out, "normal")))

for _dist in ("normal", "uniform", "truncated_normal"):
    # Glorot & Bengio 2010: Var = gain²·2/(fan_in + fan_out)
    SCHEMES.append(SchemeCase(f"glorot_{_dist}", lambda n=f"glorot_{_dist}": initlab.get(n),
                              lambda s, d=_dist: variance_law(2.0 / (s.fan_in + s.fan_out), d)))
    SCHEMES.append(SchemeCase(f"glorot_{_dist}-gain", lambda n=f"glorot_{_dist}": initlab.create(n, gain=1.5),
                              lambda s, d=_dist: variance_law(1.5**2 * 2.0 / (s.fan_in + s.fan_out), d),
                              shapes=GAIN_SHAPES))
    # He et al. 2015: Var = 2/fan_in (ReLU); leaky ReLU slope a: 2/((1 + a²)·fan)
    SCHEMES.append(SchemeCase(f"he_{_dist}", lambda n=f"he_{_dist}": initlab.get(n),
                              lambda s, d=_dist: variance_law(2.0 / s.fan_in, d)))
    SCHEMES.append(SchemeCase(
        f"he_{_dist}-a0.2-fan_out", lambda n=f"he_{_dist}": initlab.create(n, a=0.2, mode="fan_out"),
        lambda s, d=_dist: variance_law(2.0 / ((1 + 0.2**2) * s.fan_out), d)))
    SCHEMES.append(SchemeCase(
        f"he_{_dist}-tanh", lambda n=f"he_{_dist}": initlab.create(n, nonlinearity="tanh"),
        lambda s, d=_dist: variance_law((5.0 / 3.0) ** 2 / s.fan_in, d), shapes=GAIN_SHAPES))
    # LeCun et al. 1998: Var = 1/fan_in
    SCHEMES.append(SchemeCase(f"lecun_{_dist}", lambda n=f"lecun_{_dist}": initlab.get(n),
                              lambda s, d=_dist: variance_law(1.0 / s.fan_in, d)))


def _pairs():
    for scheme in SCHEMES:
        for shape in SHAPES:
            if scheme.torch_layout_only and shape.torch_layer_fan_in is None:
                continue
            if scheme.shapes is not None and shape.id not in scheme.shapes:
                continue
            yield pytest.param(scheme, shape, id=f"{scheme.id}-{shape.id}")


def draw(init, shape: ShapeCase, seed: int, dtype=torch.float32) -> torch.Tensor:
    """At least MIN_VALUES values of ``init`` on ``shape``: one tensor per key, pooled."""
    reps = max(1, math.ceil(MIN_VALUES / math.prod(shape.shape)))
    out = []
    for rep in range(reps):
        t = torch.empty(shape.shape, dtype=dtype)
        init(t, seed=seed, key=f"draw{rep}", **shape.kwargs)
        out.append(t.reshape(-1))
    return torch.cat(out)


def _case_seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


@pytest.mark.parametrize("scheme, shape", list(_pairs()))
def test_law(scheme: SchemeCase, shape: ShapeCase):
    """``distribution()`` states the law exactly (family, mean, std, bounds, the hand-computed fans),
    and the values drawn follow it (KS test, bounds, finiteness)."""
    law = scheme.law(shape)
    init = scheme.make()
    d = init.distribution(shape.shape, **shape.kwargs)
    family = {"normal": "normal", "uniform": "uniform", "truncnorm": "truncated_normal"}[law[0]]
    assert d.family == family
    assert d.shape == shape.shape
    ref = frozen_law(law)
    assert d.mean == pytest.approx(float(ref.mean()), rel=1e-9, abs=1e-12)
    assert d.std == pytest.approx(float(ref.std()), rel=1e-9)
    assert d.variance == pytest.approx(float(ref.var()), rel=1e-9)
    if law[0] == "normal":
        assert d.low is None and d.high is None
    else:
        low, high = (float(v) for v in ref.support())
        assert d.low == pytest.approx(low, rel=1e-12, abs=1e-15)
        assert d.high == pytest.approx(high, rel=1e-12, abs=1e-15)
    if d.fans is not None:
        assert (d.fans.fan_in, d.fans.fan_out) == (shape.fan_in, shape.fan_out)

    assert_law(draw(init, shape, _case_seed(scheme.id, shape.id)), law)


@pytest.mark.parametrize("shape", [(256, 784), (784, 256)], ids=["wide", "tall"])
def test_sparse_nonzero_entries_are_normal(shape):
    """Martens 2010: each column has exactly ⌈sparsity·rows⌉ zeros; the rest are N(0, std²)."""
    rows, cols = shape
    t = torch.empty(shape)
    initlab.sparse(sparsity=0.3, std=0.02)(t, seed=5)
    zeros_per_column = (t == 0).sum(dim=0)
    assert torch.equal(zeros_per_column, torch.full((cols,), math.ceil(0.3 * rows)))
    assert_law(t[t != 0], ("normal", 0.0, 0.02))
    # the zeros fall in different rows for different columns (one permutation per column)
    assert len({tuple(torch.nonzero(t[:, j] == 0).flatten().tolist()) for j in range(cols)}) > cols // 2


def test_sparse_without_zeros_is_normal():
    t = torch.empty(300, 200)
    initlab.sparse(sparsity=0.0, std=0.5)(t, seed=1)
    assert_law(t, ("normal", 0.0, 0.5))


@pytest.mark.parametrize("a, b", [(-math.inf, 0.0), (-1.0, math.inf), (-math.inf, -3.0), (5.0, math.inf)],
                         ids=["half_left", "right_open", "left_tail", "right_tail"])
def test_an_infinite_bound_never_gives_an_infinite_value(a, b):
    """Inverse-CDF sampling with Φ(a) = 0 must never evaluate Φ⁻¹(0) = −∞ (a float32 uniform hits an end
    point with probability 2⁻²⁴, so 2²⁰ values per path make a miss likely to show)."""
    init = initlab.truncated_normal(mean=0.0, std=1.0, a=a, b=b)
    seeded = init(torch.empty(1 << 20), seed=9)
    sequential = init(torch.empty(1 << 20), generator=torch.Generator().manual_seed(9))
    array = init.numpy((1 << 18,), rng=np.random.default_rng(9))
    for x in (seeded, sequential, array):
        assert_law(x, ("truncnorm", 0.0, 1.0, a, b), strict_bounds=True)
