"""``initialize(model, "torch_default")`` equals PyTorch's own construction, bit for bit, for every module
``torch.nn`` ships that has parameters.

Every ``nn.Module`` class in the ``torch.nn`` namespace is enumerated; each one is either built here and
compared (``BUILDS``), shown to have no parameters (built from ``NO_PARAMETER_ARGS`` and checked), or
listed in ``NOT_COMPARABLE`` with the reason. A class torch adds later fails the completeness test until
it is placed in one of the three.

The comparison builds the module twice after the same ``torch.manual_seed``: once as PyTorch builds it
(the reference), once to be overwritten by initlab after the seed is set again, with torch's global
generator as the only source of randomness.
"""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
import torch.nn as nn

import initlab


def _enc(**kw):
    return nn.TransformerEncoderLayer(8, 2, 16, **kw)


def _dec(**kw):
    return nn.TransformerDecoderLayer(8, 2, 16, **kw)


# class name -> constructors covering its variants (every one compared)
BUILDS = {
    "Linear": [lambda: nn.Linear(7, 5), lambda: nn.Linear(7, 5, bias=False), lambda: nn.Linear(1, 3)],
    "Bilinear": [lambda: nn.Bilinear(3, 4, 5), lambda: nn.Bilinear(6, 2, 3, bias=False)],
    **{f"Conv{d}d": [lambda d=d: getattr(nn, f"Conv{d}d")(4, 6, 3),
                     lambda d=d: getattr(nn, f"Conv{d}d")(4, 6, 2, groups=2, bias=False)] for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": [lambda d=d: getattr(nn, f"ConvTranspose{d}d")(4, 6, 3),
                              lambda d=d: getattr(nn, f"ConvTranspose{d}d")(4, 6, 2, groups=2)] for d in (1, 2, 3)},
    "Embedding": [lambda: nn.Embedding(11, 4), lambda: nn.Embedding(11, 4, padding_idx=2)],
    "EmbeddingBag": [lambda: nn.EmbeddingBag(11, 4), lambda: nn.EmbeddingBag(11, 4, padding_idx=0)],
    "RNN": [lambda: nn.RNN(5, 7, num_layers=2), lambda: nn.RNN(5, 7, bidirectional=True, bias=False)],
    "LSTM": [lambda: nn.LSTM(5, 7, num_layers=2), lambda: nn.LSTM(5, 7, proj_size=3, bidirectional=True)],
    "GRU": [lambda: nn.GRU(5, 7, num_layers=2, bidirectional=True)],
    "RNNBase": [lambda: nn.RNNBase("GRU", 5, 7)],
    "RNNCell": [lambda: nn.RNNCell(5, 7), lambda: nn.RNNCell(5, 7, bias=False)],
    "LSTMCell": [lambda: nn.LSTMCell(5, 7)],
    "GRUCell": [lambda: nn.GRUCell(5, 7)],
    "RNNCellBase": [lambda: nn.RNNCellBase(5, 7, True, 2)],
    "MultiheadAttention": [lambda: nn.MultiheadAttention(8, 2), lambda: nn.MultiheadAttention(8, 2, bias=False),
                           lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True),
                           lambda: nn.MultiheadAttention(8, 2, kdim=5, vdim=3)],
    "PReLU": [lambda: nn.PReLU(), lambda: nn.PReLU(4, init=0.1)],
    **{f"BatchNorm{d}d": [lambda d=d: getattr(nn, f"BatchNorm{d}d")(5)] for d in (1, 2, 3)},
    "SyncBatchNorm": [lambda: nn.SyncBatchNorm(5)],
    **{f"InstanceNorm{d}d": [lambda d=d: getattr(nn, f"InstanceNorm{d}d")(5, affine=True)] for d in (1, 2, 3)},
    "LayerNorm": [lambda: nn.LayerNorm(6), lambda: nn.LayerNorm((2, 3), bias=False)],
    "GroupNorm": [lambda: nn.GroupNorm(2, 6)],
    "RMSNorm": [lambda: nn.RMSNorm(6)],
    "TransformerEncoderLayer": [lambda: _enc(), lambda: _enc(norm_first=True, bias=False)],
    "TransformerDecoderLayer": [lambda: _dec()],
    "TransformerEncoder": [lambda: nn.TransformerEncoder(_enc(), 3, norm=nn.LayerNorm(8), enable_nested_tensor=False)],
    "TransformerDecoder": [lambda: nn.TransformerDecoder(_dec(), 2)],
    "Transformer": [lambda: nn.Transformer(8, 2, 2, 1, 16)],
    "AdaptiveLogSoftmaxWithLoss": [lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 20, [5, 10], head_bias=True)],
    "LinearCrossEntropyLoss": [lambda: nn.LinearCrossEntropyLoss(6, 5, bias=True)],
    "DataParallel": [lambda: nn.DataParallel(nn.Linear(4, 3))],
    "Sequential": [lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))],
    "ModuleList": [lambda: nn.ModuleList([nn.Linear(3, 3), nn.Conv1d(2, 2, 1)])],
    "ModuleDict": [lambda: nn.ModuleDict({"a": nn.Linear(3, 3), "b": nn.Embedding(4, 2)})],
}

# modules whose parameters PyTorch draws lazily or that hold only the user's own parameters
NOT_COMPARABLE = {
    **{f"Lazy{k}": "lazy module: no shapes, so nothing to draw, before its first forward pass; initlab refuses "
       "lazy parameters and says so" for k in ("Linear", *(f"Conv{d}d" for d in (1, 2, 3)),
                                                *(f"ConvTranspose{d}d" for d in (1, 2, 3)),
                                                *(f"BatchNorm{d}d" for d in (1, 2, 3)),
                                                *(f"InstanceNorm{d}d" for d in (1, 2, 3)))},
    "ParameterList": "holds the user's own parameters, created by the user; PyTorch gives them no law",
    "ParameterDict": "holds the user's own parameters, created by the user; PyTorch gives them no law",
}

# required constructor arguments of the modules without parameters, by argument name
NO_PARAMETER_ARGS = {
    "output_size": 2, "kernel_size": 2, "padding": 1, "value": 0.0, "groups": 1, "size": 2, "upscale_factor": 2,
    "downscale_factor": 2, "norm_type": 2.0, "threshold": 0.1, "dim": 1, "unflattened_size": (2, 2),
}


# modules without parameters that need more than the arguments above
NO_PARAMETER_BUILDS = {
    "FractionalMaxPool2d": lambda: nn.FractionalMaxPool2d(2, output_size=2),
    "FractionalMaxPool3d": lambda: nn.FractionalMaxPool3d(2, output_size=2),
}


def torch_nn_modules() -> list[type[nn.Module]]:
    return sorted((c for c in vars(nn).values() if inspect.isclass(c) and issubclass(c, nn.Module)),
                  key=lambda c: c.__name__)


def build_without_arguments(cls):
    if cls.__name__ in NO_PARAMETER_BUILDS:
        return NO_PARAMETER_BUILDS[cls.__name__]()
    sig = inspect.signature(cls.__init__)
    kwargs = {n: NO_PARAMETER_ARGS[n] for n, p in sig.parameters.items()
              if n != "self" and p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                      p.KEYWORD_ONLY)}
    return cls(**kwargs)


def test_every_torch_nn_module_is_compared_or_has_no_parameters_or_says_why():
    unplaced = []
    for cls in torch_nn_modules():
        name = cls.__name__
        if name in BUILDS or name in NOT_COMPARABLE:
            assert not (name in BUILDS and name in NOT_COMPARABLE), name
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = build_without_arguments(cls)
        except (KeyError, TypeError, ValueError) as e:
            unplaced.append(f"{name} (cannot build it: {e})")
            continue
        if any(True for _ in m.parameters()):
            unplaced.append(f"{name} (has parameters)")
    assert not unplaced, f"torch.nn modules placed in no table: {unplaced}"
    assert set(BUILDS) | set(NOT_COMPARABLE) <= {c.__name__ for c in torch_nn_modules()}


CASES = [pytest.param(make, id=f"{name}-{i}") for name, makes in BUILDS.items() for i, make in enumerate(makes)]


def build(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DataParallel without GPUs, nested-tensor notes
        return make()


def state(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


@pytest.mark.parametrize("make", CASES)
def test_torch_default_is_pytorchs_construction_bit_for_bit(make):
    model = build(make)
    with torch.no_grad():
        for p in model.parameters():  # nothing left over from the build can pass for a match
            p.fill_(float("nan"))
    torch.manual_seed(1234)
    reference = state(build(make))
    after_construction = torch.rand(8)
    torch.manual_seed(1234)
    plan = initlab.initialize(model, "torch_default")
    after_initialize = torch.rand(8)
    got = state(model)
    assert list(got) == list(reference)
    wrong = [k for k in got if not torch.equal(got[k], reference[k])]
    assert not wrong, f"differs from PyTorch's construction: {wrong}\n{plan}"
    # and the generator stands where construction left it, so what the user draws next is the same
    assert torch.equal(after_initialize, after_construction)


def test_a_tied_head_after_an_embedding_is_constructed_bit_for_bit():
    class TiedLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(13, 6, padding_idx=0)
            self.body = nn.Linear(6, 6)
            self.head = nn.Linear(6, 13)
            self.head.weight = self.emb.weight
            self.last = nn.Linear(13, 2)

    model = TiedLM()
    torch.manual_seed(5)
    reference = state(TiedLM())
    torch.manual_seed(5)
    initlab.initialize(model, "torch_default")
    got = state(model)
    assert all(torch.equal(got[k], reference[k]) for k in reference), [k for k in reference
                                                                       if not torch.equal(got[k], reference[k])]


@pytest.mark.parametrize("make", [lambda: nn.Linear(7, 5), lambda: nn.MultiheadAttention(8, 2),
                                  lambda: nn.LSTM(5, 7, proj_size=3)], ids=["linear", "mha", "lstm-proj"])
def test_under_a_seed_torch_default_draws_the_same_laws(make):
    """With seed=, the values come from initlab's streams, but every row's law is PyTorch's: bounds of each
    uniform, zeros where PyTorch sets zeros."""
    model = build(make)
    plan = initlab.initialize(model, "torch_default", seed=3)
    params = dict(model.named_parameters())
    for row in plan:
        p = params[row.name].detach()
        d = row.initializer.distribution(row.shape, **row.fan_kwargs)
        if d.family == "constant":
            assert torch.equal(p, torch.full_like(p, d.params["value"])), row.name
        else:
            assert float(p.min()) >= d.low and float(p.max()) <= d.high, row.name
            assert float(p.std()) > 0.3 * d.std, row.name


def test_transformer_encoder_layers_start_equal_as_pytorch_builds_them():
    enc = nn.TransformerEncoder(_enc(), 3, enable_nested_tensor=False)
    plan = initlab.initialize(enc, "torch_default", seed=0)
    assert plan["layers.2.linear1.weight"].copy_of == "layers.0.linear1.weight"
    assert plan["layers.2.linear1.weight"].scheme == "copy"
    assert torch.equal(enc.layers[2].linear1.weight, enc.layers[0].linear1.weight)
    assert not torch.equal(enc.layers[0].linear1.weight, enc.layers[0].linear2.weight.T)
    # a scheme of initlab's own draws every layer independently
    initlab.initialize(enc, "he_normal", seed=0)
    assert not torch.equal(enc.layers[2].linear1.weight, enc.layers[0].linear1.weight)


UNIFORM_LAWS = {"linear": lambda dt: nn.Linear(7, 5, dtype=dt), "conv": lambda dt: nn.Conv2d(4, 6, 3, dtype=dt),
                "bilinear": lambda dt: nn.Bilinear(3, 4, 5, dtype=dt), "lstm": lambda dt: nn.LSTM(5, 7, dtype=dt),
                "attention": lambda dt: nn.MultiheadAttention(8, 2, dtype=dt)}


def same_as_construction(make) -> bool:
    model = build(make)
    torch.manual_seed(99)
    reference = state(build(make))
    torch.manual_seed(99)
    initlab.initialize(model, "torch_default")
    return all(torch.equal(v, reference[k]) for k, v in state(model).items())


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("name", sorted(UNIFORM_LAWS))
def test_other_dtypes_bit_for_bit(name, dtype):
    assert same_as_construction(lambda: UNIFORM_LAWS[name](dtype))


def test_embedding_in_float64_bit_for_bit():
    assert same_as_construction(lambda: nn.Embedding(11, 4, dtype=torch.float64))


@pytest.mark.xfail(strict=True, reason="PyTorch draws a bf16/fp16 normal_ of 16 or more elements with its own "
                   "low-precision kernel; initlab's engine draws low-precision normals in fp32 and rounds once")
def test_embedding_in_bfloat16_bit_for_bit():
    assert same_as_construction(lambda: nn.Embedding(11, 4, dtype=torch.bfloat16))
