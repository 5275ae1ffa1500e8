"""Fans from shape and layout, property-based (hypothesis, derandomized so every run is the same).

The expected fans are written from the layer's math: a unit's fan_in is the number of inputs that
feed it, its fan_out the number of units it feeds, both times the receptive field.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab import InitlabError, compute_fans

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)

channels = st.integers(1, 64)
kernels = st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple)


def _fans(f):
    return (f.fan_in, f.fan_out, f.receptive_field)


@SETTINGS
@given(out=channels, inn=channels, k=kernels)
def test_torch_and_keras_layouts_give_the_same_fans(out, inn, k):
    rf = math.prod(k)
    expected = (inn * rf, out * rf, rf)
    assert _fans(compute_fans((out, inn, *k))) == expected
    assert _fans(compute_fans((*k, inn, out), layout="keras")) == expected
    assert _fans(compute_fans((*k, inn, out), layout="jax")) == expected
    assert _fans(compute_fans((*k, inn, out), layout="KERAS")) == expected


@SETTINGS
@given(out=channels, inn=channels, k=kernels)
def test_matches_torch_for_plain_torch_layout(out, inn, k):
    shape = (out, inn, *k)
    f = compute_fans(shape)
    assert (f.fan_in, f.fan_out) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@SETTINGS
@given(out=channels, inn=channels, k=kernels)
def test_averages(out, inn, k):
    f = compute_fans((out, inn, *k))
    assert f.fan_avg == (f.fan_in + f.fan_out) / 2
    assert f.fan_geo_avg == pytest.approx(math.sqrt(f.fan_in * f.fan_out), rel=1e-15)
    assert f.get("fan_in") == f.fan_in and f.get("FAN_OUT") == f.fan_out
    assert f.get("fan_avg") == f.fan_avg and f.get("fan_geo_avg") == f.fan_geo_avg


@SETTINGS
@given(groups=st.integers(1, 8), in_per_group=st.integers(1, 16), out_per_group=st.integers(1, 16), k=kernels)
def test_grouped_fans_are_per_group(groups, in_per_group, out_per_group, k):
    """Conv(in=g·i, out=g·o, groups=g): each output sees i input channels, each input feeds o outputs."""
    rf = math.prod(k)
    expected = (in_per_group * rf, out_per_group * rf, rf)
    # torch stores (out, in/g, *k); keras stores (*k, in/g, out)
    assert _fans(compute_fans((groups * out_per_group, in_per_group, *k), groups=groups)) == expected
    assert _fans(compute_fans((*k, in_per_group, groups * out_per_group), layout="keras", groups=groups)) == expected


@SETTINGS
@given(groups=st.integers(1, 8), in_per_group=st.integers(1, 16), out_per_group=st.integers(1, 16), k=kernels)
def test_transposed_fans(groups, in_per_group, out_per_group, k):
    """ConvTranspose(in=g·i, out=g·o, groups=g) stores (in, out/g, *k): fan_in = i·∏k, fan_out = o·∏k."""
    rf = math.prod(k)
    shape = (groups * in_per_group, out_per_group, *k)
    assert _fans(compute_fans(shape, transposed=True, groups=groups)) == (in_per_group * rf, out_per_group * rf, rf)


@SETTINGS
@given(a=channels, b=channels, k=kernels)
def test_transposed_swaps_the_stored_axes(a, b, k):
    plain = compute_fans((a, b, *k))
    swapped = compute_fans((a, b, *k), transposed=True)
    assert (swapped.fan_in, swapped.fan_out) == (plain.fan_out, plain.fan_in)


@SETTINGS
@given(out=channels, inn=channels, k=kernels, data=st.data())
def test_batch_axes_are_excluded(out, inn, k, data):
    """Stacked weights: batch axes count neither as fan nor as receptive field, wherever they sit."""
    base = (out, inn, *k)
    n_batch = data.draw(st.integers(1, 2))
    shape, batch_axes = list(base), []
    for _ in range(n_batch):
        pos = data.draw(st.integers(0, len(shape)))
        shape.insert(pos, data.draw(st.integers(1, 7)))
        batch_axes = [a + (a >= pos) for a in batch_axes] + [pos]
    assert _fans(compute_fans(tuple(shape), batch_axes=batch_axes)) == _fans(compute_fans(base))
    negative = [a - len(shape) for a in batch_axes]
    assert _fans(compute_fans(tuple(shape), batch_axes=negative)) == _fans(compute_fans(base))

    kbase = (*k, inn, out)
    kshape, kbatch = list(kbase), []
    for _ in range(n_batch):
        pos = data.draw(st.integers(0, len(kshape)))
        kshape.insert(pos, data.draw(st.integers(1, 7)))
        kbatch = [a + (a >= pos) for a in kbatch] + [pos]
    assert _fans(compute_fans(tuple(kshape), layout="keras", batch_axes=kbatch)) == _fans(compute_fans(base))


@SETTINGS
@given(out=channels, inn=channels, k=kernels, data=st.data())
def test_explicit_axes_follow_a_permutation(out, inn, k, data):
    base = (out, inn, *k)
    perm = data.draw(st.permutations(range(len(base))))
    shape = tuple(base[p] for p in perm)
    in_axis, out_axis = perm.index(1), perm.index(0)
    assert _fans(compute_fans(shape, in_axis=in_axis, out_axis=out_axis)) == _fans(compute_fans(base))
    assert _fans(compute_fans(shape, in_axis=in_axis - len(shape), out_axis=out_axis)) == _fans(compute_fans(base))


@SETTINGS
@given(n=st.integers(1, 10_000))
def test_one_dimensional_rule(n):
    """Keras's rule for 1-D tensors: fan_in = fan_out = n."""
    assert _fans(compute_fans((n,))) == (n, n, 1)


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (3, 0), (4, 2, 0, 3)], ids=str)
def test_fans_undefined_for_0d_and_zero_size(shape):
    with pytest.raises(ValueError, match=r"shape") as info:
        compute_fans(shape)
    assert str(tuple(shape)) in str(info.value)


@pytest.mark.parametrize("call", [
    lambda: compute_fans(()),
    lambda: compute_fans((0, 3)),
    lambda: compute_fans((8, 4), groups=3),
    lambda: compute_fans((8, 4), groups=0),
    lambda: compute_fans((8, 4), batch_axes=(5,)),
    lambda: compute_fans((8, 4, 3), in_axis=1, out_axis=1),
], ids=["0d", "zero_size", "groups_not_divisor", "groups_zero", "batch_axis_out_of_range", "same_in_out_axis"])
def test_fan_errors_are_initlab_errors_in_the_standard_form(call):
    with pytest.raises(InitlabError, match=r": got .*; allowed: "):
        call()


@pytest.mark.parametrize("kwargs", [{"layout": "tf"}, {"layout": "channels_last"}])
def test_unknown_layout(kwargs):
    with pytest.raises(InitlabError, match=r"layout: got .*allowed: 'torch', 'keras', 'jax'"):
        compute_fans((3, 4), **kwargs)
