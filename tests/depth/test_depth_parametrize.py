"""Depth-μP and CompleteP as parametrizations: the branch multiplier, Adam learning rate and ε of every parameter
against (L/L_base)^(−α), (L/L_base)^(α−1) and (L/L_base)^(−α) computed here; the forward pass they give; bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import initlab
from initlab.experiments.lm import char_transformer
from initlab.parametrize import hooks

from ._models import ResMLP


@pytest.mark.parametrize("name, alpha", [("depth_mup", 0.5), ("completep", 1.0)])
@pytest.mark.parametrize("depth, base", [(8, 2), (16, 4), (6, 6)])
def test_multipliers_learning_rates_and_eps(name, alpha, depth, base):
    net = char_transformer(32, depth=depth, heads=2, context=8)
    plan = initlab.parametrize(net, name, base_depth=base, seed=0)
    m = depth / base
    for row in plan:
        in_block = row.name.startswith("blocks.")
        out = row.layer.endswith(("attn.o", "mlp.fc2"))
        assert row.mult == pytest.approx(m ** -alpha if out else 1.0, rel=1e-12), row.name
        assert row.lr_adam == pytest.approx(m ** (alpha - 1) if in_block else 1.0, rel=1e-12), row.name
        assert row.eps == pytest.approx(m ** -alpha if in_block else 1.0, rel=1e-12), row.name
        assert row.lr_sgd == 1.0
    groups = plan.param_groups("adam", lr=1e-3, eps=1e-8)
    by = {n: g for g in groups for n in g["param_names"]}
    assert by["blocks.1.mlp.fc1.weight"]["lr"] == pytest.approx(1e-3 * m ** (alpha - 1), rel=1e-12)
    assert by["blocks.1.mlp.fc1.weight"]["eps"] == pytest.approx(1e-8 * m ** -alpha, rel=1e-12)
    assert by["tok.weight"]["lr"] == 1e-3 and by["tok.weight"]["eps"] == 1e-8


def test_the_forward_pass_scales_each_branch():
    """With the hooks, block l computes x + a·F(x) with a = (L/L_base)^(−1): compare with the branch by hand."""
    net = ResMLP(n_in=6, width=16, blocks=8)
    initlab.parametrize(net, "completep", base_depth=2, seed=0)
    assert hooks.installed(net) == 8
    x = torch.randn(4, 16)
    b = net.blocks[3]
    with torch.no_grad():
        want = x + 0.25 * (b.layers[1].weight @ torch.relu(b.layers[0](x)).t()).t() + 0.25 * b.layers[1].bias
        assert torch.allclose(b(x), want, atol=1e-6)
    assert hooks.remove(net) == 8 and torch.allclose(b(x), x + b.layers[1](torch.relu(b.layers[0](x))), atol=1e-6)


def test_bad_input_is_one_line_and_leaves_the_model_as_it_was():
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    with pytest.raises(initlab.InitlabError) as e:
        initlab.parametrize(plain, "completep", seed=0)
    assert str(e.value).startswith("model: got a Sequential without residual branches") and "\n" not in str(e.value)
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items()) and hooks.installed(plain) == 0
    with pytest.raises(initlab.InitlabError, match=r"^base_depth: got 0; allowed: an integer >= 1"):
        initlab.parametrize(ResMLP(), "depth_mup", base_depth=0)


def test_with_a_base_width_the_width_rules_multiply_in():
    """depth-μP over μP: a hidden weight's Adam lr is (1/m_width)·(L/L_base)^(−1/2)."""
    plan = initlab.parametrize(ResMLP(n_in=6, width=64, blocks=8), "depth_mup", base=16, base_depth=2, seed=0)
    assert plan["blocks.2.layers.0.weight"].lr_adam == pytest.approx((16 / 64) * (8 / 2) ** -0.5, rel=1e-12)
    assert plan["blocks.2.layers.1.weight"].mult == pytest.approx((8 / 2) ** -0.5, rel=1e-12)
    assert plan["stem.weight"].lr_adam == 1.0
