"""probe(): every recorded number checked against a computation written out in the test."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import initlab
from initlab.diagnostics import COLUMNS, LayerRecords, probe

from ._util import build_mlp


def _pop_std(t: torch.Tensor) -> float:
    a = t.detach().double().numpy().ravel()
    return float(np.sqrt(np.mean((a - a.mean()) ** 2)))


def _small_net():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 4))
    with torch.no_grad():
        net[0].bias[:5] = -4.0    # these ReLU units are 0 for the whole batch
        net[2].weight.mul_(6.0)   # some tanh outputs beyond ±0.99
    return net


def test_forward_backward_numbers_match_a_manual_pass():
    net = _small_net()
    x = torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 4, (32,), generator=torch.Generator().manual_seed(2))
    rec = probe(net, x, y)

    # the same pass written out, with gradients kept on every intermediate
    W = [net[i].weight.detach().clone().requires_grad_() for i in (0, 2, 4)]
    b = [net[i].bias.detach().clone().requires_grad_() for i in (0, 2, 4)]
    h1 = x @ W[0].T + b[0]
    a1 = h1.clamp_min(0)
    h2 = a1 @ W[1].T + b[1]
    a2 = torch.tanh(h2)
    h3 = a2 @ W[2].T + b[2]
    logits = h3 - h3.logsumexp(1, keepdim=True)
    loss = -logits[torch.arange(32), y].mean()
    for t in (h1, a1, h2, a2, h3):
        t.retain_grad()
    loss.backward()

    assert rec.loss == pytest.approx(loss.item(), rel=1e-6)
    assert rec.loss_name == "cross_entropy"
    rows = {r["layer"]: r for r in rec}
    for name, t in {"0": h1, "1": a1, "2": h2, "3": a2, "4": h3}.items():
        r = rows[name]
        assert r["mean"] == pytest.approx(t.mean().item(), rel=1e-5, abs=1e-7)
        assert r["std"] == pytest.approx(_pop_std(t), rel=1e-5)
        assert r["min"] == pytest.approx(t.min().item()) and r["max"] == pytest.approx(t.max().item())
        assert r["ms"] == pytest.approx(t.detach().double().square().mean().item(), rel=1e-5)
        assert r["grad_std"] == pytest.approx(_pop_std(t.grad), rel=1e-5)
        assert r["nonfinite"] == 0 and r["grad_nonfinite"] == 0
    dead = (a1 == 0).all(0).double().mean().item()
    assert 0 < dead < 1
    assert rows["1"]["frac_dead"] == pytest.approx(dead)
    sat = (a2.abs() > 0.99).double().mean().item()
    assert 0 < sat < 1
    assert rows["3"]["frac_saturated"] == pytest.approx(sat)
    assert math.isnan(rows["1"]["frac_saturated"]) and math.isnan(rows["3"]["frac_dead"])
    for name, w, inp in (("0", W[0], x), ("2", W[1], a1), ("4", W[2], a2)):
        r = rows[name]
        assert r["role"] == "weight"
        assert r["weight_norm"] == pytest.approx(w.detach().norm().item(), rel=1e-6)
        assert r["weight_grad_norm"] == pytest.approx(w.grad.norm().item(), rel=1e-5)
        assert r["grad_weight_ratio"] == pytest.approx(w.grad.norm().item() / w.detach().norm().item(), rel=1e-5)
        assert r["input_ms"] == pytest.approx(inp.detach().double().square().mean().item(), rel=1e-5)
    assert [rows[n]["activation"] for n in ("0", "2", "4")] == ["relu", "tanh", "linear"]
    assert rows["4"]["grad_var_rel"] == 1.0
    assert rows["0"]["grad_var_rel"] == pytest.approx((_pop_std(h1.grad) / _pop_std(h3.grad)) ** 2, rel=1e-5)
    assert rows["<input>"]["role"] == "input" and rows["<input>"]["mean"] == pytest.approx(x.mean().item(), abs=1e-7)
    assert [r["index"] for r in rec] == list(range(len(rec)))


def test_default_losses_are_the_documented_formulas():
    net = _small_net()
    x = torch.randn(16, 6, generator=torch.Generator().manual_seed(4))
    out = net(x).detach().double()
    rec = probe(net, x)
    assert rec.loss_name == "half_mean_square"
    assert rec.loss == pytest.approx(0.5 * out.square().mean().item(), rel=1e-6)
    t = torch.randn(16, 4, generator=torch.Generator().manual_seed(5))
    rec = probe(net, x, t)
    assert rec.loss_name == "half_mse"
    assert rec.loss == pytest.approx(0.5 * (out - t.double()).square().mean().item(), rel=1e-6)
    rec = probe(net, x, t, loss_fn=lambda o, tt: (o - tt).abs().sum())
    assert rec.loss == pytest.approx((out - t.double()).abs().sum().item(), rel=1e-5)


def test_functional_activations_are_recorded_once_each():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(5, 8), nn.Linear(8, 8), nn.Linear(8, 3)
            self.act = nn.ReLU()

        def forward(self, x):
            h = F.relu(self.fc1(x))
            h = torch.tanh(self.fc2(h))
            return self.act(self.fc3(h)).sigmoid()

    torch.manual_seed(0)
    net = Net()
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0))
    rec = probe(net, x)
    acts = [(r["layer"], r["activation"]) for r in rec.where("activation")]
    assert acts == [("relu#0", "relu"), ("tanh#0", "tanh"), ("act", "relu"), ("sigmoid#0", "sigmoid")]
    with torch.no_grad():
        h = torch.tanh(net.fc2(F.relu(net.fc1(x))))
    assert rec["tanh#0"]["std"] == pytest.approx(_pop_std(h), rel=1e-5)
    assert [rec[n]["activation"] for n in ("fc1", "fc2", "fc3")] == ["relu", "tanh", "relu"]


def test_inplace_relu_reads_the_layer_output_before_it_is_overwritten():
    x = torch.randn(64, 64)
    plain = build_mlp(3, 32, nn.ReLU, "he_normal", seed=1)
    inplace = build_mlp(3, 32, nn.ReLU, "he_normal", seed=1, inplace=True)
    a, b = probe(plain, x), probe(inplace, x)
    for ra, rb in zip(a, b):
        for c in COLUMNS:
            if isinstance(ra[c], float) and math.isnan(ra[c]):
                assert math.isnan(rb[c]), c
            else:
                assert ra[c] == rb[c], (ra["layer"], c)
    assert a["1"]["min"] < 0  # the Linear's pre-activations, not the ReLU's outputs


def test_distinct_units_counts_duplicate_groups():
    lin = nn.Linear(8, 12)
    with torch.no_grad():
        base = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
        bias = torch.randn(3, generator=torch.Generator().manual_seed(1))
        lin.weight.copy_(base.repeat_interleave(4, 0))   # 3 groups of 4 identical units
        lin.bias.copy_(bias.repeat_interleave(4))
        lin.weight[11, 0] += 1e-3                        # the last unit is no longer a duplicate
    x = torch.randn(20, 8, generator=torch.Generator().manual_seed(2))
    r = probe(nn.Sequential(lin, nn.Tanh(), nn.Linear(12, 2)), x)["0"]
    assert (r["units"], r["distinct_units"]) == (12, 4)

    conv = nn.Conv2d(2, 6, 3, padding=1)
    with torch.no_grad():
        conv.weight[3:].copy_(conv.weight[:3])
        conv.bias[3:].copy_(conv.bias[:3])
    r = probe(nn.Sequential(conv, nn.ReLU()), torch.randn(4, 2, 5, 5))["0"]
    assert (r["units"], r["distinct_units"]) == (6, 3)

    zeros = build_mlp(2, 32, nn.ReLU, "zeros")
    rec = probe(zeros, torch.randn(8, 64))
    assert [(r["units"], r["distinct_units"]) for r in rec.where("weight")] == [(32, 1), (32, 1), (10, 1)]


def test_units_of_a_random_layer_are_all_distinct():
    net = build_mlp(2, 256, nn.ReLU, "he_normal", seed=3)
    rec = probe(net, torch.randn(128, 64))
    assert [r["distinct_units"] for r in rec.where("weight")] == [256, 256, 10]


def test_records_round_trip_through_frame_and_json():
    net = build_mlp(2, 16, nn.Tanh, "glorot_normal")
    rec = probe(net, torch.randn(8, 64), torch.randint(0, 10, (8,)))
    frame = rec.to_frame()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(rec)
    assert frame["layer"].tolist() == [r["layer"] for r in rec]
    text = rec.to_json()
    assert json.loads(text)["rows"][1]["layer"] == "1"
    back = LayerRecords.from_json(text)
    assert back.loss == rec.loss and back.batch_size == 8 and len(back) == len(rec)
    for ra, rb in zip(rec, back):
        for c in COLUMNS:
            assert ra[c] == rb[c] or (isinstance(ra[c], float) and math.isnan(ra[c]) and math.isnan(rb[c])), c
    assert json.loads(frame.to_json(orient="records"))[1]["layer"] == "1"


def test_theory_predictions_fill_a_chain_and_stay_empty_otherwise():
    rec = probe(build_mlp(2, 32, nn.ReLU, "he_normal"), torch.randn(16, 64))
    assert all(math.isfinite(r["pred_preact_var"]) for r in rec.where("weight"))
    assert rec.where("weight")[-1]["pred_grad_var"] == 1.0
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
    rec = probe(cnn, torch.randn(4, 1, 8, 8))
    assert all(math.isnan(r[c]) for r in rec for c in ("pred_preact_var", "pred_out_var", "pred_grad_var"))


def test_frozen_parameters_are_measured_and_stay_frozen():
    net = build_mlp(2, 16, nn.ReLU, "he_normal")
    for p in net.parameters():
        p.requires_grad_(False)
    rec = probe(net, torch.randn(8, 64))
    assert all(math.isfinite(r["weight_grad_norm"]) and r["weight_grad_norm"] > 0 for r in rec.where("weight"))
    assert not any(p.requires_grad for p in net.parameters())


def test_batchnorm_and_conv_rows():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(256, 10))
    x = torch.randn(8, 1, 8, 8)
    rec = probe(net, x)
    assert [r["role"] for r in rec] == ["input", "weight", "param", "activation", "weight"]
    bn = rec["1"]
    assert bn["mean"] == pytest.approx(0.0, abs=1e-5)  # train mode: normalized by the batch
    assert rec["0"]["units"] == 4 and rec["0"]["activation"] == "relu"
    with torch.no_grad():
        expected = (F.relu(net[1](net[0](x))) == 0).all(dim=(0, 2, 3)).double().mean().item()
    assert rec["2"]["frac_dead"] == pytest.approx(expected)


def test_probe_is_reachable_from_the_package_and_is_deterministic():
    net = build_mlp(2, 16, nn.Tanh, "glorot_normal")
    x = torch.randn(8, 64)
    a, b = initlab.probe(net, x), initlab.probe(net, x)
    assert a.to_json() == b.to_json()


def test_weight_layer_columns_fans_scales_and_pairing():
    """fan_in/fan_out as initialization counts them (per group, transposed axes swapped), the weight's
    root mean square and the bias's, and the pairing of each weight layer with its activation."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.ConvTranspose2d(8, 6, 3, groups=2), nn.Flatten(), nn.Linear(6 * 10 * 10, 5, bias=False),
                        nn.Tanh(), nn.Linear(5, 3))
    rec = probe(net, torch.randn(4, 4, 8, 8))
    w = {r["layer"]: r for r in rec.where("weight")}
    assert (w["0"]["fan_in"], w["0"]["fan_out"]) == (2 * 9, 4 * 9)   # (8, 2, 3, 3), 2 groups
    assert (w["3"]["fan_in"], w["3"]["fan_out"]) == (4 * 9, 3 * 9)   # stored (8, 3, 3, 3): in 8/2, out 3 per group
    assert (w["5"]["fan_in"], w["5"]["fan_out"]) == (600, 5)
    for name in ("0", "3", "5", "7"):
        weight = net[int(name)].weight.detach().double()
        assert w[name]["weight_std"] == pytest.approx(weight.square().mean().sqrt().item(), rel=1e-6)
    assert w["0"]["bias_rms"] == pytest.approx(net[0].bias.detach().double().square().mean().sqrt().item(),
                                               rel=1e-6)
    assert w["5"]["bias_rms"] == 0.0
    # BatchNorm between the conv and its ReLU: the pair skips it; the transposed conv has no activation
    assert [(a["layer"] if a else None) for _, a in rec.pairs()] == ["2", None, "6", None]
    assert rec["2"]["paired"] == w["0"]["index"] and math.isnan(w["3"]["paired"])
    blocks = rec.blocks()
    assert [b["activation"] for b in blocks] == ["relu", "linear", "tanh", "linear"]
    assert blocks[0]["out_std"] == rec["2"]["std"] and blocks[1]["out_std"] == w["3"]["std"]
    assert blocks[0]["frac_dead"] == rec["2"]["frac_dead"]
