"""Bad input: an ``InitlabError`` (a ``ValueError``) that names the argument, what it got and what is
allowed, and the tensor left exactly as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import initlab
from initlab import InitlabError


def _pattern(shape, dtype=torch.float32):
    """A tensor whose every entry differs, so that any write shows."""
    n = math.prod(shape)
    return (torch.arange(n, dtype=torch.float64) * 0.37 - 1.0).to(dtype).reshape(shape)


def assert_rejected(call, tensor, *fragments: str, error=InitlabError):
    """``call(tensor)`` raises ``error`` whose message names the argument, what it got and what is allowed
    (``fragments`` must all appear, plus "got" and "allowed" or "needs"), and ``tensor`` is unchanged."""
    before = tensor.clone()
    with pytest.raises(error) as info:
        call(tensor)
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    assert "got" in msg, msg
    assert "allowed" in msg or "needs" in msg, msg
    assert tensor.dtype == before.dtype and torch.equal(tensor, before), "the tensor changed on a failed call"
    return msg


# -- names --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, nearest", [("he_norml", "he_normal"), ("xavier_unifrom", "xavier_uniform"),
                                          ("orthogonl", "orthogonal"), ("glorot_normall", "glorot_normal")])
def test_unknown_scheme_name_suggests_the_nearest(bad, nearest):
    for identifier in (bad, {"name": bad}, {"class_name": bad, "config": {}}):
        with pytest.raises(InitlabError) as info:
            initlab.get(identifier)
        msg = str(info.value)
        assert "scheme" in msg and repr(bad) in msg and "allowed" in msg
        assert f"did you mean {nearest!r}" in msg, msg


def test_unknown_identifier_type():
    with pytest.raises(InitlabError, match=r"scheme: got 3; allowed: a name, a config dict"):
        initlab.get(3)
    with pytest.raises(InitlabError, match=r"config: got \['nam'\]; allowed: 'name'"):
        initlab.get({"nam": "he_normal"})


@pytest.mark.parametrize("identifier, fragments", [
    ({"name": "he_normal", "params": {"gian": 2.0}}, ["he_normal", "'gian'", "allowed: a, mode, nonlinearity"]),
    ({"name": "random_normal", "params": {"stdev": 0.1}}, ["'stdev'", "allowed: mean, std", "did you mean 'std'"]),
    ({"name": "zeros", "value": 1.0}, ["zeros", "'value'", "allowed: none"]),
    ({"class_name": "RandomNormal", "config": {"stddev": 0.1, "foo": 1}}, ["random_normal", "'foo'", "allowed"]),
], ids=["he_normal", "random_normal", "zeros", "keras"])
def test_unknown_parameter_name(identifier, fragments):
    with pytest.raises(InitlabError) as info:
        initlab.get(identifier)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# -- scheme parameters -----------------------------------------------------------------------------------------
# (id, initializer, tensor shape, argument named, value shown)
BAD_PARAMS = [
    ("std_negative", initlab.random_normal(std=-1.0), (4, 5), "std", "-1.0"),
    ("std_zero", initlab.random_normal(std=0.0), (4, 5), "std", "0.0"),
    ("std_nan", initlab.random_normal(std=float("nan")), (4, 5), "std", "nan"),
    ("std_string", initlab.random_normal(std="0.1"), (4, 5), "std", "'0.1'"),
    ("truncated_std_zero", initlab.truncated_normal(std=0), (4, 5), "std", "0"),
    ("trunc_normal_std_negative", initlab.trunc_normal(std=-0.1), (4, 5), "std", "-0.1"),
    ("sparse_std_zero", initlab.sparse(std=0.0), (4, 5), "std", "0.0"),
    ("scale_zero", initlab.variance_scaling(scale=0), (4, 5), "scale", "0"),
    ("scale_negative", initlab.variance_scaling(scale=-2.0), (4, 5), "scale", "-2.0"),
    ("glorot_gain_zero", initlab.glorot_normal(gain=0), (4, 5), "gain", "0"),
    ("glorot_gain_negative", initlab.glorot_uniform(gain=-1.0), (4, 5), "gain", "-1.0"),
    ("lecun_gain_negative", initlab.lecun_truncated_normal(gain=-1.0), (4, 5), "gain", "-1.0"),
    ("orthogonal_gain_negative", initlab.orthogonal(gain=-2.0), (4, 5), "gain", "-2.0"),
    ("identity_gain_zero", initlab.identity(gain=0.0), (4, 5), "gain", "0.0"),
    ("dirac_gain_negative", initlab.dirac(gain=-1.0), (4, 4, 3), "gain", "-1.0"),
    ("delta_orthogonal_gain_zero", initlab.delta_orthogonal(gain=0), (4, 4, 3), "gain", "0"),
    ("constant_inf", initlab.constant(value=float("inf")), (4, 5), "value", "inf"),
    ("mean_nan", initlab.random_normal(mean=float("nan")), (4, 5), "mean", "nan"),
    ("uniform_equal", initlab.random_uniform(minval=1.0, maxval=1.0), (4, 5), "minval, maxval", "(1.0, 1.0)"),
    ("uniform_reversed", initlab.random_uniform(minval=0.5, maxval=-0.5), (4, 5), "minval, maxval", "(0.5, -0.5)"),
    ("truncated_a_ge_b", initlab.truncated_normal(a=2.0, b=1.0), (4, 5), "a, b", "(2.0, 1.0)"),
    ("truncated_a_eq_b", initlab.truncated_normal(a=0.5, b=0.5), (4, 5), "a, b", "(0.5, 0.5)"),
    ("truncated_a_nan", initlab.truncated_normal(a=float("nan")), (4, 5), "a", "nan"),
    ("trunc_normal_a_ge_b", initlab.trunc_normal(a=0.5, b=-0.5), (4, 5), "a, b", "(0.5, -0.5)"),
    ("mode_unknown", initlab.variance_scaling(mode="fan_inn"), (4, 5), "mode", "'fan_inn'"),
    ("he_mode_unknown", initlab.he_normal(mode="fanin"), (4, 5), "mode", "'fanin'"),
    ("distribution_unknown", initlab.variance_scaling(distribution="gaussian"), (4, 5), "distribution", "'gaussian'"),
    ("nonlinearity_unknown", initlab.he_uniform(nonlinearity="relux"), (4, 5), "nonlinearity", "'relux'"),
    ("sparsity_one", initlab.sparse(sparsity=1.0), (4, 5), "sparsity", "1.0"),
    ("sparsity_negative", initlab.sparse(sparsity=-0.1), (4, 5), "sparsity", "-0.1"),
    ("sparsity_above_one", initlab.sparse(sparsity=1.5), (4, 5), "sparsity", "1.5"),
    ("sparsity_bool", initlab.sparse(sparsity=True), (4, 5), "sparsity", "True"),
    ("sparse_3d", initlab.sparse(), (4, 5, 3), "shape", "(4, 5, 3)"),
    ("orthogonal_1d", initlab.orthogonal(), (5,), "shape", "(5,)"),
    ("identity_3d", initlab.identity(), (4, 4, 3), "shape", "(4, 4, 3)"),
    ("dirac_groups_not_dividing", initlab.dirac(groups=3), (8, 4, 3, 3), "groups", "3"),
    ("dirac_groups_zero", initlab.dirac(groups=0), (8, 4, 3), "groups", "0"),
    ("dirac_2d", initlab.dirac(), (8, 4), "shape", "(8, 4)"),
    ("dirac_6d", initlab.dirac(), (2, 2, 2, 2, 2, 2), "shape", "(2, 2, 2, 2, 2, 2)"),
    ("delta_orthogonal_more_in_than_out", initlab.delta_orthogonal(), (4, 8, 3), "shape", "(4, 8, 3)"),
    ("torch_default_bias_without_fan_in", initlab.torch_default(), (5,), "shape", "(5,)"),
    ("torch_default_fan_in_zero", initlab.torch_default(fan_in=0), (5,), "fan_in", "0"),
]


@pytest.mark.parametrize("init, shape, arg, got", [pytest.param(*c[1:], id=c[0]) for c in BAD_PARAMS])
def test_bad_parameter(init, shape, arg, got):
    msg = assert_rejected(lambda t: init(t, seed=0), _pattern(shape), f"{arg}:", got)
    # inspecting the scheme fails the same way, and so does NumPy sampling
    with pytest.raises(InitlabError, match=f"^{arg}:"):
        init.distribution(shape)
    with pytest.raises(InitlabError, match=f"^{arg}:"):
        init.numpy(shape, seed=0)
    assert msg.startswith(f"{arg}:")


@pytest.mark.parametrize("suggest, init", [
    ("fan_in", initlab.variance_scaling(mode="fan_inn")),
    ("truncated_normal", initlab.variance_scaling(distribution="truncated")),
    ("relu", initlab.he_normal(nonlinearity="relux")),
])
def test_bad_choice_suggests_the_nearest(suggest, init):
    with pytest.raises(InitlabError, match=f"did you mean '{suggest}'"):
        init(_pattern((4, 5)))


# -- tensors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool, torch.complex64], ids=str)
@pytest.mark.parametrize("name", ["he_normal", "zeros", "orthogonal", "truncated_normal"])
def test_non_floating_tensor(name, dtype):
    t = torch.arange(20).reshape(4, 5).to(dtype)
    assert_rejected(lambda x: initlab.get(name)(x, seed=0), t, "tensor:", str(dtype), "floating")


def test_not_a_tensor():
    with pytest.raises(InitlabError, match=r"tensor: got ndarray array\(.*; allowed: a torch.Tensor"):
        initlab.he_normal()(np.zeros((3, 3), dtype=np.float32))


@pytest.mark.parametrize("name", ["he_normal", "glorot_uniform", "variance_scaling", "lecun_truncated_normal"])
def test_fans_undefined_tensor_is_refused_and_left_alone(name):
    """A 0-D tensor has one element and no fans: an error in the standard form, the tensor unchanged.
    (A tensor with no elements is left alone with a warning: ``test_edges.py``.)"""
    assert_rejected(lambda t: initlab.get(name)(t, seed=0), _pattern(()), "shape:", "()")
    with pytest.raises(InitlabError, match=r"^shape: got \(0, 5\); allowed: a non-empty tensor"):
        initlab.get(name).distribution((0, 5))


@pytest.mark.parametrize("kwargs, fragments", [
    ({"layout": "tf"}, ["layout:", "'tf'", "'torch', 'keras', 'jax'"]),
    ({"seed": "x"}, ["seed:", "'x'", "an integer"]),
    ({"seed": 1.5}, ["seed:", "1.5", "an integer"]),
    ({"seed": True}, ["seed:", "True", "an integer"]),
    ({"generator": np.random.default_rng(0)}, ["generator:", "Generator", "torch.Generator"]),
], ids=["layout", "seed_str", "seed_float", "seed_bool", "numpy_generator"])
def test_bad_call_arguments(kwargs, fragments):
    assert_rejected(lambda t: initlab.he_normal()(t, **kwargs), _pattern((4, 5)), *fragments)


def test_seed_and_generator_both_given():
    t = _pattern((4, 5))
    before = t.clone()
    for init in (initlab.he_normal(), initlab.orthogonal(), initlab.random_uniform()):
        with pytest.raises(InitlabError) as info:
            init(t, seed=1, generator=torch.Generator().manual_seed(0))
        assert "generator" in str(info.value) and "seed" in str(info.value)
        assert torch.equal(t, before)


def test_numpy_rng_and_seed_both_given_and_bad_dtype():
    with pytest.raises(InitlabError, match="rng.*seed"):
        initlab.he_normal().numpy((3, 3), seed=1, rng=np.random.default_rng(0))
    with pytest.raises(InitlabError, match=r"dtype: got dtype\('int32'\); allowed: a floating dtype"):
        initlab.he_normal().numpy((3, 3), dtype="int32")
    with pytest.raises(InitlabError, match=r"rng: got RandomState .*; allowed: numpy.random.Generator"):
        initlab.he_normal().numpy((3, 3), rng=np.random.RandomState(0))


def test_gain_functions_reject_unknown_names():
    with pytest.raises(InitlabError, match=r"nonlinearity: got 'gelu'; allowed: .*moment_gain"):
        initlab.calculate_gain("gelu")
    with pytest.raises(InitlabError, match=r"activation: got 'relux'; allowed: .*did you mean 'relu'"):
        initlab.moment_gain("relux")
    with pytest.raises(InitlabError, match=r"param \(negative slope\): got 'x'; allowed: a finite number"):
        initlab.calculate_gain("leaky_relu", "x")


def test_dirac_call_time_groups_is_honoured_or_refused():
    w = _pattern((8, 4, 3, 3))
    expected = torch.empty(8, 4, 3, 3)
    torch.nn.init.dirac_(expected, groups=2)
    try:
        initlab.dirac()(w, groups=2)
    except InitlabError as e:
        assert "groups" in str(e)
        return
    assert torch.equal(w, expected)
