"""Model builders: layer structure, activations as modules, spec parsing, seeded initialization."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from initlab.errors import InitlabError
from initlab.experiments.models import ACTIVATIONS, build_model, mlp, parse_spec, small_cnn


@pytest.mark.parametrize("act, cls", [("relu", nn.ReLU), ("leaky_relu", nn.LeakyReLU), ("tanh", nn.Tanh),
                                      ("sigmoid", nn.Sigmoid), ("selu", nn.SELU), ("gelu", nn.GELU),
                                      ("silu", nn.SiLU), ("elu", nn.ELU), ("softplus", nn.Softplus),
                                      ("linear", nn.Identity), ("identity", nn.Identity)])
def test_mlp_structure(act, cls):
    net = mlp((1, 8, 8), 10, depth=3, width=16, activation=act)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Flatten, nn.Linear, cls, nn.Linear, cls, nn.Linear, cls, nn.Linear]
    shapes = [tuple(m.weight.shape) for m in net if isinstance(m, nn.Linear)]
    assert shapes == [(16, 64), (16, 16), (16, 16), (10, 16)]
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    assert set(ACTIVATIONS) >= {act}


def test_mlp_without_bias():
    net = mlp((2,), 2, depth=1, width=4, bias=False)
    assert all(m.bias is None for m in net if isinstance(m, nn.Linear))


def test_cnn_1d_and_2d():
    c1 = small_cnn((1, 40), 10, channels=8, depth=3, activation="tanh")
    assert [type(m) for m in c1] == [nn.Conv1d, nn.Tanh, nn.Conv1d, nn.Tanh, nn.Conv1d, nn.Tanh,
                                     nn.AdaptiveAvgPool1d, nn.Flatten, nn.Linear]
    assert c1(torch.zeros(4, 1, 40)).shape == (4, 10)
    c2 = small_cnn((3, 32, 32), 10, channels=4, depth=2)
    assert isinstance(c2[0], nn.Conv2d) and c2[0].weight.shape == (4, 3, 3, 3) and c2[0].padding == (1, 1)
    assert c2(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # "same" padding: each conv keeps the spatial size
    h = torch.zeros(1, 3, 9, 7)
    for layer in list(c2)[:4]:
        h = layer(h)
    assert h.shape == (1, 4, 9, 7)


@pytest.mark.parametrize("call, match", [
    (lambda: mlp((1, 8, 8), 10, depth=0, width=4), "depth: got 0"),
    (lambda: mlp((1, 8, 8), 10, depth=2, width=-1), "width: got -1"),
    (lambda: mlp((1, 8, 8), 10, depth=2, width=4, activation="rel"), r"activation: got 'rel'.*did you mean 'relu'"),
    (lambda: mlp((0, 8), 10, depth=2, width=4), r"input_shape: got \(0, 8\)"),
    (lambda: mlp("8x8", 10, depth=2, width=4), "input_shape: got '8x8'"),
    (lambda: mlp((64,), 0, depth=2, width=4), "num_classes: got 0"),
    (lambda: small_cnn((64,), 10), r"input_shape: got \(64,\) for a CNN"),
    (lambda: small_cnn((1, 8, 8), 10, channels=0), "channels: got 0"),
])
def test_builder_errors(call, match):
    with pytest.raises(InitlabError, match=match):
        call()


def test_parse_spec_forms_and_defaults():
    # aliases and case are normalized to the canonical scheme name
    assert parse_spec("mlp:depth=30,width=256,act=relu,init=Xavier_Normal,bias=1") == {
        "name": "mlp", "depth": 30, "width": 256, "act": "relu", "init": "glorot_normal", "bias": True}
    assert parse_spec("mlp") == {"name": "mlp", "depth": 5, "width": 128, "act": "relu", "init": "auto",
                                 "bias": True}
    assert parse_spec("CNN: channels=16, depth=3, act=ReLU, init=he_normal") == {
        "name": "cnn", "channels": 16, "depth": 3, "act": "relu", "init": "he_normal", "bias": True, "stride": 1,
        "head": "pool"}
    assert parse_spec("cnn:channels=25,depth=3,stride=2,head=flatten")["head"] == "flatten"
    assert parse_spec({"name": "mlp", "params": {"depth": 2}, "activation": "tanh", "scheme": "orthogonal",
                       "bias": False}) == {"name": "mlp", "depth": 2, "width": 128, "act": "tanh",
                                           "init": "orthogonal", "bias": False}
    cfg = {"name": "random_normal", "params": {"std": 0.01}}
    assert parse_spec({"name": "mlp", "init": cfg})["init"] == cfg
    # the sweep's inline spelling, with commas inside the parentheses
    assert parse_spec("mlp:depth=3,init=random_normal(std=0.01),width=8") == {
        "name": "mlp", "depth": 3, "width": 8, "act": "relu", "init": cfg, "bias": True}
    assert parse_spec("mlp:init=kaiming_normal(a=0.1, mode=fan_out),depth=2")["init"] == {
        "name": "he_normal", "params": {"a": 0.1, "mode": "fan_out"}}


def test_inline_scheme_in_a_spec_builds_the_law():
    net = build_model("mlp:depth=2,width=64,init=random_normal(std=0.01, mean=0)", (1, 8, 8), 10, seed=0)
    w = net[3].weight.detach()
    assert abs(float(w.std()) - 0.01) < 0.001 and abs(float(w.mean())) < 0.001


@pytest.mark.parametrize("spec, match", [
    ("mlp:init=random_normal(std=-1)", r"std: got -1"),
    ("mlp:init=random_normal(std=0.01", r"mlp spec field 'init': got 'random_normal\(std=0.01'"),
    ("mlp:init=random_normal(sd=1)", r"unknown parameter\(s\) 'sd'"),
])
def test_bad_inline_schemes_are_one_line(spec, match):
    with pytest.raises(InitlabError, match=match) as err:
        build_model(spec, (1, 8, 8), 10)
    assert "\n" not in str(err.value)


def test_a_model_too_large_for_memory_says_how_much_it_needs(monkeypatch):
    from initlab.experiments import models

    monkeypatch.setattr(models, "available_memory", lambda: 2**30)
    allocated = []
    monkeypatch.setattr(models, "_construct", lambda *a: allocated.append(a))
    spec = "mlp:depth=30,width=8192"
    with pytest.raises(InitlabError) as err:
        build_model(spec, (1, 8, 8), 10)
    n = 64 * 8192 + 8192 + 29 * (8192 * 8192 + 8192) + 8192 * 10 + 10  # counted independently here
    msg = str(err.value)
    assert msg.startswith("mlp spec: got 'mlp:depth=30,width=8192'") and f"{n:,} parameters" in msg
    assert f"{n * 4 / 2**30:.3g} GiB" in msg and "1 GiB of memory available" in msg
    assert not allocated  # refused before anything was built
    with pytest.raises(InitlabError, match="GiB"):
        models.check_model(spec, (1, 8, 8), 10)


@pytest.mark.parametrize("spec, shape", [("mlp:depth=3,width=7,bias=0", (2, 5)), ("cnn:channels=5,depth=4", (3, 9, 9)),
                                         ("cnn:channels=25,depth=3,stride=2,head=flatten", (1, 40)),
                                         ("cnn:channels=3,depth=2,stride=3,head=flatten,bias=0", (2, 10, 7)),
                                         ("cnn:channels=4,depth=1", (2, 11)), ("mlp:depth=1,width=3", (4,))])
def test_parameter_count_matches_the_built_model(spec, shape):
    from initlab.experiments.models import parameter_count

    net = build_model(spec, shape, 6)
    assert parameter_count(spec, shape, 6) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("spec, match", [
    ("mlp:depth=0", r"mlp spec field 'depth': got 0; allowed: an integer >= 1"),
    ("mlp:depth=ten", r"mlp spec field 'depth': got 'ten'"),
    ("mlp:widht=3", r"mlp spec: got unknown field 'widht'; allowed: depth, width, act, init, bias; did you mean 'width'"),
    ("cnn:width=3", r"cnn spec: got unknown field 'width'; allowed: channels, depth, act, init, bias, stride, head"),
    ("cnn:head=max", r"cnn spec field 'head': got 'max'; allowed: 'pool', 'flatten'"),
    ("cnn:stride=0", r"cnn spec field 'stride': got 0; allowed: an integer >= 1"),
    ("mlp:act=relux", r"mlp spec field 'act': got 'relux'.*did you mean 'relu'"),
    ("mlp:bias=maybe", r"mlp spec field 'bias': got 'maybe'; allowed: 1/0, true/false"),
    ("mlp:depth", r"model spec: got item 'depth' in 'mlp:depth'; allowed: key=value items"),
    ("resnet:depth=3", r"model spec kind: got 'resnet'; allowed: 'mlp', 'cnn'"),
    ({"depth": 3}, r"model spec kind: got None"),
    (42, r"model spec: got 42"),
    ({"name": "mlp", "init": 3}, r"mlp spec field 'init': got 3"),
])
def test_spec_errors(spec, match):
    with pytest.raises(InitlabError, match=match):
        parse_spec(spec)


def test_unknown_scheme_is_reported_by_build_model():
    with pytest.raises(InitlabError, match="he_normal"):
        build_model("mlp:depth=2,width=8,init=he_normall", (4,), 2)


def test_build_model_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model("mlp:depth=3,width=32", (1, 8, 8), 10, seed=7)
    b = build_model("mlp:depth=3,width=32", (1, 8, 8), 10, seed=7)
    c = build_model("mlp:depth=3,width=32", (1, 8, 8), 10, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), k
        if k.endswith("weight"):
            assert not torch.equal(va, vc), k


def test_build_model_applies_the_named_scheme():
    from scipy import stats

    width, fan_in = 256, 64
    net = build_model(f"mlp:depth=2,width={width},act=tanh,init=xavier_normal", (1, 8, 8), 10, seed=0)
    w = net[1].weight.detach().double().flatten().numpy()
    # Glorot normal: N(0, 2/(fan_in + fan_out)), derived here from the layer shape
    std = math.sqrt(2.0 / (fan_in + width))
    assert stats.kstest(w / std, "norm").pvalue > 1e-3
    assert all(float(m.bias.detach().abs().max()) == 0 for m in net if isinstance(m, nn.Linear))

    net = build_model({"name": "mlp", "depth": 1, "width": 512, "init": {"name": "random_normal",
                                                                          "params": {"std": 0.01}}},
                      (1, 8, 8), 10, seed=0)
    w = net[1].weight.detach().double().flatten().numpy()
    assert stats.kstest(w / 0.01, "norm").pvalue > 1e-3


def test_build_model_auto_uses_he_for_relu_layers():
    from scipy import stats

    net = build_model("mlp:depth=2,width=512,act=relu", (1, 8, 8), 10, seed=1)
    w = net[3].weight.detach().double().flatten().numpy()  # 512 -> 512, followed by ReLU
    assert stats.kstest(w / math.sqrt(2.0 / 512), "norm").pvalue > 1e-3


def test_build_model_torch_default_includes_biases():
    net = build_model("mlp:depth=1,width=400,init=torch_default", (1, 8, 8), 10, seed=0)
    bound = 1 / math.sqrt(64)  # U(±1/√fan_in) for weight and bias of nn.Linear(64, 400)
    w, b = net[1].weight.detach(), net[1].bias.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
    assert float(b.abs().max()) <= bound and float(b.abs().max()) > 0.9 * bound


def test_strided_cnn_with_a_flattening_head():
    # Greydanus 2020's MNIST-1D CNN: 40 → 20 → 10 → 5 positions, 25 channels, 125 features to the head
    net = build_model("cnn:channels=25,depth=3,stride=2,head=flatten", (1, 40), 10)
    h = torch.zeros(2, 1, 40)
    sizes = []
    for m in net:
        h = m(h)
        if isinstance(m, nn.Conv1d):
            sizes.append(h.shape[-1])
    assert sizes == [20, 10, 5] and net[-1].in_features == 125 and h.shape == (2, 10)


def test_build_model_cnn():
    net = build_model("cnn:channels=6,depth=2,act=relu,init=he_normal", (1, 40), 10, seed=0)
    assert isinstance(net[0], nn.Conv1d) and net[0].weight.shape == (6, 1, 3)
    assert net(torch.zeros(3, 1, 40)).shape == (3, 10)
