"""initialize()/plan() on whole models: the scheme chosen per layer, fans, seeds, rules, errors."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def mlp(act):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), act, nn.Linear(128, 128), act, nn.Linear(128, 10))


@pytest.mark.parametrize("act, scheme, var", [
    (nn.ReLU(), "he_normal", lambda fi: 2 / fi),
    (nn.LeakyReLU(0.2), "he_normal", lambda fi: 2 / ((1 + 0.04) * fi)),
    (nn.Tanh(), "glorot_normal", None),
    (nn.Sigmoid(), "glorot_normal", None),
    (nn.SELU(), "lecun_normal", lambda fi: 1 / fi),
    (nn.GELU(), "he_normal", lambda fi: 2 / fi),
])
def test_auto_mlp_picks_scheme_from_following_activation(act, scheme, var):
    net = mlp(act)
    plan = initlab.initialize(net, seed=0)
    for name, fi, fo in [("1.weight", 64, 128), ("3.weight", 128, 128)]:
        row = plan[name]
        assert row.scheme == scheme
        assert (row.fan_in, row.fan_out) == (fi, fo)
        expected = var(fi) if var else 2 / (fi + fo)
        assert row.std == pytest.approx(math.sqrt(expected), rel=1e-12)
    head = plan["5.weight"]
    assert head.scheme == "glorot_normal" and head.activation == "-"
    assert head.std == pytest.approx(math.sqrt(2 / (128 + 10)))
    for name in ("1.bias", "3.bias", "5.bias"):
        assert plan[name].scheme == "zeros" and torch.count_nonzero(dict(net.named_parameters())[name]) == 0


def test_functional_activation_found_by_fx():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 2)

        def forward(self, x):
            return self.c(torch.tanh(F.leaky_relu(self.b(F.relu(self.a(x))), 0.1)))

    plan = initlab.initialize(Net(), dry_run=True)
    assert plan["a.weight"].activation == "relu" and plan["a.weight"].scheme == "he_normal"
    assert plan["b.weight"].activation == "leaky_relu(0.1)"
    assert plan["b.weight"].std == pytest.approx(math.sqrt(2 / (1.01 * 16)))
    assert "fx" in plan["a.weight"].reason


def test_cnn_skips_batchnorm_and_uses_group_fans():
    net = nn.Sequential(nn.Conv2d(4, 16, 3, padding=1, groups=2), nn.BatchNorm2d(16), nn.ReLU(),
                        nn.Conv2d(16, 16, 3, groups=16), nn.Tanh(), nn.ConvTranspose2d(16, 8, 3, groups=2),
                        nn.Flatten())
    plan = initlab.initialize(net, seed=1)
    r0 = plan["0.weight"]  # (16, 2, 3, 3), groups 2: fan_in 2*9, fan_out 16/2*9
    assert (r0.fan_in, r0.fan_out, r0.scheme) == (18, 72, "he_normal")
    assert r0.std == pytest.approx(math.sqrt(2 / 18))
    r3 = plan["3.weight"]  # depthwise (16, 1, 3, 3): fan_in 9, fan_out 9
    assert (r3.fan_in, r3.fan_out, r3.scheme) == (9, 9, "glorot_normal")
    r5 = plan["5.weight"]  # transposed, stored (16, 4, 3, 3): in 16/2*9, out 4*9
    assert (r5.fan_in, r5.fan_out) == (72, 36)
    assert plan["1.weight"].scheme == "ones" and torch.equal(net[1].weight, torch.ones(16))
    assert plan["1.bias"].scheme == "zeros"


def test_lstm_gate_blocks_and_orthogonal_recurrence():
    lstm = nn.LSTM(10, 20, num_layers=2)
    plan = initlab.initialize(lstm, seed=3)
    assert plan["weight_hh_l0"].scheme == "orthogonal" and plan["weight_hh_l0"].chunks == 4
    for block in lstm.weight_hh_l1.detach().chunk(4, 0):  # each gate block is orthogonal on its own
        torch.testing.assert_close(block.T @ block, torch.eye(20), atol=1e-5, rtol=0)
    ih = plan["weight_ih_l0"]
    assert ih.scheme == "glorot_uniform" and (ih.fan_in, ih.fan_out) == (10, 20)
    bound = math.sqrt(6 / 30)
    assert lstm.weight_ih_l0.abs().max() <= bound
    assert torch.count_nonzero(lstm.bias_ih_l0) == 0


def test_transformer_encoder_layer():
    layer = nn.TransformerEncoderLayer(32, 4, 64, activation="gelu")
    plan = initlab.initialize(layer, seed=0)
    assert plan["self_attn.in_proj_weight"].scheme == "glorot_uniform"
    assert plan["self_attn.in_proj_weight"].chunks == 3
    assert (plan["self_attn.in_proj_weight"].fan_in, plan["self_attn.in_proj_weight"].fan_out) == (32, 32)
    assert plan["self_attn.in_proj_bias"].scheme == "zeros"
    assert plan["linear1.weight"].activation == "gelu" and plan["linear1.weight"].scheme == "he_normal"
    assert plan["linear2.weight"].scheme == "glorot_normal"
    assert plan["norm1.weight"].scheme == "ones"
    out = layer(torch.randn(5, 2, 32))
    assert torch.isfinite(out).all()


def test_seed_reproducible_and_keyed_by_name():
    a, b = mlp(nn.ReLU()), mlp(nn.ReLU())
    initlab.initialize(a, seed=7)
    initlab.initialize(b, seed=7)
    assert same(snapshot(a), snapshot(b))
    # two layers of the same shape under the same seed draw different values (streams keyed by name)
    twins = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    initlab.initialize(twins, seed=7)
    assert not torch.equal(twins[0].weight, twins[2].weight)
    initlab.initialize(b, seed=8)
    assert not torch.equal(a[1].weight, b[1].weight)


def test_dry_run_changes_nothing():
    net = mlp(nn.ReLU())
    before = snapshot(net)
    plan = initlab.initialize(net, "orthogonal", dry_run=True)
    assert not plan.applied and same(before, snapshot(net))
    assert plan["1.weight"].std == pytest.approx(math.sqrt(1 / 128))  # orthogonal (128, 64): gain²/max


def test_named_scheme_and_rules():
    net = mlp(nn.Tanh())
    plan = initlab.initialize(net, "he_uniform", rules={"5.weight": "zeros"}, seed=0)
    assert plan["1.weight"].scheme == "he_uniform" and plan["5.weight"].scheme == "zeros"
    assert torch.count_nonzero(net[5].weight) == 0
    assert net[1].weight.abs().max() <= math.sqrt(6 / 64)
    plan = initlab.initialize(net, {nn.Linear: "lecun_uniform", "3.*": "keep"}, seed=0)
    assert plan["1.weight"].scheme == "lecun_uniform" and plan["3.weight"].scheme == "keep"


@pytest.mark.parametrize("make", [
    lambda: nn.Linear(30, 20),
    lambda: nn.Conv2d(6, 8, 3, groups=2),
    lambda: nn.ConvTranspose2d(6, 4, 3, groups=2),
    lambda: nn.Embedding(50, 8, padding_idx=3),
    lambda: nn.LSTM(7, 5, num_layers=2),
    lambda: nn.GRU(7, 5),
    lambda: nn.LayerNorm(9),
])
def test_torch_default_reproduces_reset_parameters(make):
    torch.manual_seed(123)
    reference = make()  # PyTorch's own initialization in the constructor
    model = make()
    torch.manual_seed(123)
    initlab.initialize(model, "torch_default", bias="torch_default")
    assert same(snapshot(reference), snapshot(model))


def test_plan_table_and_records():
    plan = initlab.initialize(mlp(nn.ReLU()), seed=0)
    rows = plan.to_dicts()
    assert [r["name"] for r in rows] == [n for n, _ in mlp(nn.ReLU()).named_parameters()]
    text = str(plan)
    assert "he_normal" in text and "1.weight" in text


def test_embedding_padding_row_is_zero_under_a_seed():
    emb = nn.Embedding(20, 6, padding_idx=4)
    initlab.initialize(emb, seed=0)
    assert torch.count_nonzero(emb.weight[4]) == 0 and torch.count_nonzero(emb.weight) == 19 * 6
