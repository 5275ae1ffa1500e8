"""initlab.doctor and the findings it rests on: pooling and normalization are not blamed on the
initialization, a finding never prescribes the scheme a layer already has, a fix that does not remove
its finding says so, and the model is left as it was when nothing is applied or something fails."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import initlab
from initlab.diagnostics import DoctorResult, diagnose, doctor, probe

from ._util import Snapshot, build_mlp, normal


def _kinds(findings):
    return [f.kind for f in findings]


class PooledCNN(nn.Module):
    """conv → ReLU (× depth) → mean over the positions (a function, no module) → Linear head."""

    def __init__(self, depth: int = 3, channels: int = 16, pool: str = "mean"):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else channels, channels, 3, padding=1) for i in range(depth))
        self.pool, self.head = pool, nn.Linear(channels, 10)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        x = x.mean(dim=(2, 3)) if self.pool == "mean" else F.max_pool2d(x, 8).flatten(1)
        return self.head(x)


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_pooling_is_not_blamed_on_a_he_initialized_cnn(digits, pool):
    x, y = digits
    net = PooledCNN(pool=pool)
    initlab.initialize(net, seed=0)
    rec = probe(net, x, y)
    head = rec["head"]
    # the gradient reaching the head's input, computed here: global mean pooling divides it by 64 positions
    feats = net.convs[2](F.relu(net.convs[1](F.relu(net.convs[0](x))))).relu()
    pooled = (feats.mean(dim=(2, 3)) if pool == "mean" else F.max_pool2d(feats, 8).flatten(1)).detach()
    pooled.requires_grad_(True)
    F.cross_entropy(net.head(pooled), y).backward()
    g = pooled.grad.double()
    assert head["input_grad_std"] == pytest.approx(float(g.std(unbiased=False)), rel=1e-5)
    last_conv = rec["convs.2"]
    if pool == "mean":  # what the old ratio included: the pooling's division of every gradient by 64
        assert (rec.block_output(last_conv)["grad_std"] / head["input_grad_std"]) ** 2 < 1e-3
    assert _kinds(diagnose(rec)) == ["healthy"]


def test_the_built_in_cnn_with_he_normal_is_healthy_and_a_tiny_one_is_not():
    from initlab.experiments.models import build_model

    x = torch.randn(128, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    he = build_model("cnn:channels=16,depth=3,act=relu,init=he_normal", (1, 8, 8), 10, seed=0)
    assert _kinds(doctor(he, x).findings) == ["healthy"]
    tiny = build_model("cnn:channels=16,depth=3,act=relu,init=random_normal", (1, 8, 8), 10, seed=0)
    with torch.no_grad():
        for m in tiny.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(0.05)
    result = doctor(tiny, x, fix="auto", seed=0)
    assert "vanishing" in _kinds(result.findings)
    assert set(result.findings[0].fix) == {"0", "2", "4", "8"} and result.healthy
    assert result.outcomes[0].removed and "removed" in str(result.outcomes[0])


def _norm_mlp(where: str, std: float):
    """Linear → [LayerNorm] → ReLU → [LayerNorm] … with every weight N(0, std²): the normalization
    inside the block (before the activation) or between blocks (after it), or none."""
    layers: list[nn.Module] = []
    for i in range(12):
        layers.append(nn.Linear(32, 32))
        if where == "inside":
            layers.append(nn.LayerNorm(32))
        layers.append(nn.ReLU())
        if where == "between":
            layers.append(nn.LayerNorm(32, elementwise_affine=False))  # no parameters: a module the probe notes
    net = nn.Sequential(*layers, nn.Linear(32, 4))
    initlab.initialize(net, {"name": "random_normal", "params": {"std": std}}, seed=1)
    return net


@pytest.mark.parametrize("where", ["inside", "between", "functional"])
def test_normalization_restarts_the_ratios(where):
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    plain = _norm_mlp("none", 0.02)
    assert "vanishing" in _kinds(diagnose(probe(plain, x)))  # the same weights without normalization vanish
    if where == "functional":
        class FnNorm(nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, h):
                for m in self.net:
                    h = F.layer_norm(m(h), (32,)) if isinstance(m, nn.ReLU) else m(h)
                return h

        net = FnNorm(_norm_mlp("none", 0.02))
    else:
        net = _norm_mlp(where, 0.02)
    rec = probe(net, x)
    flags = [w["after_norm"] for w in rec.where("weight")]
    assert flags[0] == 0 and all(f == 1 for f in flags[1:])
    assert "vanishing" not in _kinds(diagnose(rec))


def test_a_fix_never_prescribes_the_scheme_already_in_use(digits):
    x, y = digits
    # Xavier before ReLU vanishes at depth 30; the head already has Glorot, the hidden layers do not
    net = build_mlp(30, 128, nn.ReLU, "glorot_normal")
    f = [f for f in diagnose(probe(net, x, y)) if f.kind == "vanishing"][0]
    assert set(f.fix.values()) == {"he_normal"} and len(f.fix) == 30 and "61" not in f.fix and not f.fix_reason
    # deep sigmoid under Glorot: Glorot is what every layer has, so the fix is LSUV, and it says why
    net = build_mlp(12, 64, nn.Sigmoid, "glorot_normal")
    f = [f for f in diagnose(probe(net, x, y)) if f.kind == "vanishing"][0]
    assert f.fix == "lsuv" and "glorot_normal is already in use" in f.fix_reason
    # He in use but a bias kills the units: re-drawing the layer (bias zero) is a real change
    net = build_mlp(4, 64, nn.ReLU, "he_normal")
    with torch.no_grad():
        net[3].bias.fill_(-10.0)
    assert [f.fix for f in diagnose(probe(net, x, y)) if f.kind == "dead"] == [{"3": "he_normal"}]


def test_a_fix_that_does_not_remove_its_finding_says_so(digits):
    x, y = digits
    net = build_mlp(12, 64, nn.Sigmoid, "glorot_normal")
    result = doctor(net, x, y, fix="auto", seed=0)
    assert result.applied == "lsuv" and not result.healthy
    out = [o for o in result.outcomes if o.kind == "vanishing"][0]
    assert not out.removed and out.after is not None and str(out).startswith("vanishing: NOT removed by the fix")
    data = json.loads(result.to_json())
    assert data["outcomes"][0]["removed"] is False and data["fix"]["lsuv"]["rows"]


def test_auto_redraws_only_the_layers_named_and_zeroes_their_biases(digits):
    x, y = digits
    net = build_mlp(6, 32, nn.ReLU, normal(0.01))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.bias.fill_(0.1)
        net[-1].weight.copy_(initlab.get("glorot_normal").distribution(tuple(net[-1].weight.shape)).std
                             * torch.randn(net[-1].weight.shape, generator=torch.Generator().manual_seed(9)))
        net[-1].bias.zero_()
    head_before = net[-1].weight.detach().clone()
    result = doctor(net, x, y, fix="auto", seed=3)
    assert "13" not in result.findings[0].fix  # the head already has Glorot
    assert torch.equal(net[-1].weight, head_before)
    for m in list(net)[1:-1:2]:
        assert torch.count_nonzero(m.bias) == 0
        assert m.weight.std().item() == pytest.approx(math.sqrt(2 / m.in_features), rel=0.15)
    assert result.healthy and [o.removed for o in result.outcomes] == [True]
    rows = {r.name: r for r in result.plan}
    assert rows["1.weight"].scheme == "he_normal" and rows["13.weight"].scheme == "keep"


def test_without_a_fix_nothing_changes(digits):
    x, y = digits
    net = build_mlp(3, 16, nn.Tanh, "zeros")
    before = Snapshot(net)
    result = doctor(net, x, y)
    before.assert_same(net)
    assert isinstance(result, DoctorResult) and result.after is None and result.outcomes == ()
    assert "symmetric" in _kinds(result.findings) and "fix" not in result.to_dict()


def test_a_failure_after_the_fix_restores_the_model(digits):
    x, y = digits

    class FailsLater(nn.Module):
        calls = 0

        def forward(self, h):
            FailsLater.calls += 1
            if FailsLater.calls > 1:  # the probe before the fix passes, the one after it does not
                raise RuntimeError("fails on purpose")
            return h

    net = build_mlp(3, 16, nn.ReLU, normal(0.01))
    net.insert(2, FailsLater())
    before = Snapshot(net)
    with pytest.raises(RuntimeError, match="on purpose"):
        doctor(net, x, y, fix="auto", seed=0)
    before.assert_same(net)


def test_lsuv_fix_and_a_healthy_model(digits):
    x, y = digits
    net = build_mlp(20, 64, nn.GELU, normal(0.01))
    result = initlab.doctor(net, x, y, fix="lsuv", seed=0)
    assert result.applied == "lsuv" and result.plan.converged and result.healthy
    healthy = build_mlp(4, 32, nn.Tanh, "glorot_normal")
    result = doctor(healthy, x, y, fix="auto")
    assert result.applied is None and result.after is None and result.healthy and result.outcomes == ()


ZOO = {
    "conv+batchnorm": lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)),
    "embedding": lambda: nn.Sequential(nn.Embedding(20, 16), nn.Flatten(), nn.Linear(64, 16), nn.GELU(),
                                       nn.Linear(16, 10)),
    "lstm": lambda: _Seq(nn.LSTM(8, 16, batch_first=True)),
    "attention": lambda: _Seq(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0)),
}


class _Seq(nn.Module):
    """A sequence model's output at the last position, then a Linear head."""

    def __init__(self, body):
        super().__init__()
        self.body, self.head = body, nn.Linear(body.hidden_size if isinstance(body, nn.LSTM) else 8, 10)

    def forward(self, x):
        out = self.body(x)
        out = out[0] if isinstance(out, tuple) else out
        return self.head(out[:, -1])


def _batch(name: str, dtype):
    g = torch.Generator().manual_seed(0)
    if name == "embedding":
        return torch.randint(0, 20, (32, 4), generator=g)
    shape = (32, 1, 8, 8) if name.startswith("conv") else (32, 5, 8)
    return torch.randn(shape, generator=g).to(dtype)


@pytest.mark.parametrize("threads", [1, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("name", list(ZOO))
def test_doctor_on_a_model_zoo(name, dtype, threads):
    """Real modules with parameters that require grad, fp32 and bf16, at 1 and 2 threads (grad mode and
    thread counts are per thread): the diagnosis runs, the fix runs, nothing is left half-changed."""
    torch.manual_seed(0)
    net = ZOO[name]().to(dtype)
    x = _batch(name, dtype)
    y = torch.randint(0, 10, (32,), generator=torch.Generator().manual_seed(1))
    n = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        before = Snapshot(net)
        result = doctor(net, x, y)
        before.assert_same(net)
        fixed = doctor(net, x, y, fix="lsuv", seed=0)
    finally:
        torch.set_num_threads(n)
    assert result.findings and all(f.kind in initlab.diagnostics.KINDS for f in result.findings)
    assert fixed.after is not None and len(fixed.after.rows) == len(result.before.rows)
    assert all(p.dtype == dtype for p in net.parameters() if p.is_floating_point())
