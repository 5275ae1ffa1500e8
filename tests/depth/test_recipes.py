"""Model-level recipes against their rules, computed here from the layers' shapes and the number of branches:
Fixup, SkipInit, ReZero, T-Fixup, GPT-2/Megatron, scaled residual, gpt-neox, OLMo mitchell, mimetic attention;
their wrappers, and bad input (a model left exactly as it was)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import initlab
from initlab.experiments.lm import char_transformer
from initlab.model.recipes import RECIPES, list_recipes, recipe, unwrap, wrap, wrapped
from stats import assert_normal, assert_truncnorm, assert_uniform

from ._models import MHANet, ResMLP


def _he_std(fan_in):
    return math.sqrt(2 / fan_in)


def _glorot_std(fan_in, fan_out):
    return math.sqrt(2 / (fan_in + fan_out))


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, \
        {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()}


# ------------------------------------------------------------------------------------------------ Fixup
@pytest.mark.parametrize("m", [2, 3])
def test_fixup_scales_branch_layers_by_L_to_minus_one_over_2m_minus_2(m):
    blocks, width = 16, 96
    net = ResMLP(n_in=12, width=width, blocks=blocks, m=m)
    plan = initlab.initialize(net, "fixup", seed=0)
    factor = blocks ** (-1 / (2 * m - 2))
    for b in range(blocks):
        for i in range(m - 1):  # He before ReLU, × L^(−1/(2m−2))
            row = plan[f"blocks.{b}.layers.{i}.weight"]
            assert row.std == pytest.approx(_he_std(width) * factor, rel=1e-12)
        last = net.blocks[b].layers[m - 1].weight
        assert torch.count_nonzero(last) == 0
    assert torch.count_nonzero(net.head.weight) == 0 and torch.count_nonzero(net.head.bias) == 0
    w = torch.cat([net.blocks[b].layers[0].weight.detach().reshape(-1) for b in range(blocks)])
    assert_normal(w, 0.0, _he_std(width) * factor)
    assert plan["stem.weight"].std == pytest.approx(_he_std(12), rel=1e-12)  # outside the branches: the base


def test_fixup_wrapper_adds_biases_and_a_multiplier_and_computes_them():
    net = ResMLP(n_in=6, width=8, blocks=2, m=2)
    initlab.initialize(net, "fixup", seed=1)
    names = {n for n, _ in net.named_parameters() if "fixup" in n}
    assert names == {f"blocks.{b}.layers.{i}.{p}" for b in range(2) for i in range(2) for p in
                     ("fixup_bias_in", "fixup_bias_out")} | {"blocks.0.layers.1.fixup_scale",
                                                             "blocks.1.layers.1.fixup_scale", "head.fixup_bias_in"}
    with torch.no_grad():  # give every scalar a value and the last layers weights: check the forward by hand
        for n, p in net.named_parameters():
            if "fixup" in n:
                p.fill_(0.1 * (1 + len(n) % 5))
        for b in net.blocks:
            b.layers[1].weight.normal_()
    x = torch.randn(5, 6)
    with torch.no_grad():
        h = torch.relu(net.stem(x))
        for b in net.blocks:
            l0, l1 = b.layers
            u = torch.relu(l0(h + l0.fixup_bias_in) + l0.fixup_bias_out)
            h = h + l1(u + l1.fixup_bias_in) * l1.fixup_scale + l1.fixup_bias_out
        want = net.head(h + net.head.fixup_bias_in)
        assert torch.allclose(net(x), want, atol=1e-6)
    assert {v for v in wrapped(net).values()} == {"fixup"}


def test_fixup_on_one_layer_branches_is_an_error_and_changes_nothing():
    net = ResMLP(blocks=3, m=1)
    before, hooks = snapshot(net)
    with pytest.raises(initlab.InitlabError) as e:
        initlab.initialize(net, "fixup", seed=0)
    assert str(e.value).startswith("fixup: got a branch of one layer (m = 1)") and "\n" not in str(e.value)
    after, hooks_after = snapshot(net)
    assert hooks == hooks_after and all(torch.equal(before[k], after[k]) for k in before) and before.keys() == after.keys()


# ------------------------------------------------------------------------------------------------ SkipInit/ReZero
@pytest.mark.parametrize("name", ["rezero", "skipinit"])
def test_zero_scalar_per_branch_makes_every_block_the_identity(name):
    net = ResMLP(n_in=6, width=16, blocks=5, m=2)
    initlab.initialize(net, name, seed=0)
    alphas = [p for n, p in net.named_parameters() if n.endswith(f"{name}_alpha")]
    assert len(alphas) == 5 and all(float(a.detach()) == 0.0 for a in alphas) and all(a.requires_grad for a in alphas)
    x = torch.randn(7, 6)
    want = net.head(torch.relu(net.stem(x)))  # every block is the identity at init
    out = net(x)
    assert torch.equal(out, want)
    out.square().sum().backward()
    assert all(a.grad is not None and float(a.grad.abs()) > 0 for a in alphas)  # α learns


def test_skipinit_alpha_parameter_and_rezero_on_multihead_attention():
    net = ResMLP(n_in=4, width=8, blocks=2)
    initlab.initialize(net, recipe("skipinit", alpha=0.25), seed=0)
    assert [float(p.detach()) for n, p in net.named_parameters() if "alpha" in n] == [0.25, 0.25]
    mha = MHANet(width=16, heads=2, blocks=2)
    initlab.initialize(mha, "rezero", seed=0)
    x = torch.randn(3, 5, 6)
    assert torch.allclose(mha(x), mha.head(mha.inp(x)), atol=1e-6)  # the attention's output × 0
    assert sorted(n for n, _ in mha.named_parameters() if "alpha" in n) == ["blocks.0.attn.rezero_alpha",
                                                                            "blocks.1.attn.rezero_alpha"]


def test_initialize_again_resets_the_scalars_and_unwrap_removes_them():
    net = ResMLP(blocks=3)
    initlab.initialize(net, "rezero", seed=0)
    with torch.no_grad():
        for n, p in net.named_parameters():
            if "alpha" in n:
                p.fill_(0.7)
    initlab.initialize(net, "rezero", seed=0)  # already wrapped for rezero: its scalars start again at 0
    assert all(float(p.detach()) == 0 for n, p in net.named_parameters() if "alpha" in n)
    removed = unwrap(net)
    assert len(removed) == 3 and not wrapped(net) and not any("alpha" in n for n, _ in net.named_parameters())


def test_wrapping_a_wrapped_model_is_an_error_and_changes_nothing():
    net = ResMLP(blocks=3)
    wrap(net, "rezero")
    before, hooks = snapshot(net)
    with pytest.raises(initlab.InitlabError, match=r"^model: got a model already wrapped by initlab \('rezero'"):
        wrap(net, "fixup")
    with pytest.raises(initlab.InitlabError, match=r"^model: got a model wrapped for 'rezero'; allowed for 'fixup'"):
        initlab.initialize(net, "fixup", seed=0)
    after, hooks_after = snapshot(net)
    assert hooks == hooks_after and before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name", ["fixup", "rezero", "gpt2", "scaled_residual", "neox", "olmo", "t_fixup"])
def test_a_recipe_that_needs_branches_on_a_plain_model_is_an_error_and_changes_nothing(name):
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    before, hooks = snapshot(net)
    with pytest.raises(initlab.InitlabError) as e:
        initlab.initialize(net, name, seed=0)
    text = str(e.value)
    assert text.startswith("model: got a Sequential without residual branches") and "rules={" in text
    assert "\n" not in text
    after, hooks_after = snapshot(net)
    assert hooks == hooks_after and all(torch.equal(before[k], after[k]) for k in before)


# ------------------------------------------------------------------------------------------------ transformers
def _lm(depth=4, width=64, heads=4):
    return char_transformer(width, depth=depth, heads=heads, context=16)


def test_gpt2_residual_projections_sigma_over_sqrt_N():
    depth, width = 4, 64
    net = _lm(depth, width)
    initlab.initialize(net, "gpt2", seed=0)
    n = 2 * depth  # two branches per layer: Megatron's σ/√(2·num_layers)
    outs = torch.cat([torch.cat([b.attn.o.weight.reshape(-1), b.mlp.fc2.weight.reshape(-1)]) for b in net.blocks])
    assert_normal(outs.detach(), 0.0, 0.02 / math.sqrt(n))
    others = torch.cat([net.tok.weight.reshape(-1), net.head.weight.reshape(-1)] +
                       [torch.cat([b.attn.q.weight.reshape(-1), b.mlp.fc1.weight.reshape(-1)]) for b in net.blocks])
    assert_normal(others.detach(), 0.0, 0.02)
    assert torch.equal(net.blocks[0].ln1.weight.detach(), torch.ones(width))
    initlab.initialize(net, recipe("megatron", std=0.01), seed=0)
    assert_normal(torch.cat([b.attn.o.weight.reshape(-1) for b in net.blocks]).detach(), 0.0, 0.01 / math.sqrt(n))


def test_neox_small_init_and_wang_init():
    depth, width = 3, 64
    net = _lm(depth, width)
    plan = initlab.initialize(net, "neox", seed=0)
    small, wang = math.sqrt(2 / (5 * width)), 2 / depth / math.sqrt(width)
    for b in range(depth):
        assert plan[f"blocks.{b}.attn.q.weight"].std == pytest.approx(small, rel=1e-12)
        assert plan[f"blocks.{b}.mlp.fc1.weight"].std == pytest.approx(small, rel=1e-12)  # d: the hidden size
        assert plan[f"blocks.{b}.attn.o.weight"].std == pytest.approx(wang, rel=1e-12)
        assert plan[f"blocks.{b}.mlp.fc2.weight"].std == pytest.approx(wang, rel=1e-12)
    assert_normal(torch.cat([b.mlp.fc2.weight.reshape(-1) for b in net.blocks]).detach(), 0.0, wang)


def test_olmo_mitchell_divides_each_output_projection_by_its_block():
    depth, width = 3, 64
    net = _lm(depth, width)
    plan = initlab.initialize(net, "olmo", seed=0)
    for b in range(depth):
        assert plan[f"blocks.{b}.attn.q.weight"].initializer.distribution((width, width)).params["scale"] == \
            pytest.approx(1 / math.sqrt(width), rel=1e-12)
        for name, d in (("attn.o", width), ("mlp.fc2", 4 * width)):
            sigma = 1 / math.sqrt(d) / math.sqrt(2 * (b + 1))
            w = getattr(getattr(net.blocks[b], name.split(".")[0]), name.split(".")[1]).weight.detach()
            assert float(w.abs().max()) <= 3 * sigma * (1 + 1e-6)
            assert_truncnorm(w, 0.0, sigma, -3.0, 3.0)


@pytest.mark.parametrize("stack", ["decoder", "encoder"])
def test_t_fixup_scales_v_o_mlp_and_embeddings(stack):
    depth, width = 4, 64
    net = _lm(depth, width)
    initlab.initialize(net, recipe("t_fixup", stack=stack), seed=0)
    f = (9 * depth) ** -0.25 if stack == "decoder" else 0.67 * depth ** -0.25
    b = net.blocks[1]
    lim = math.sqrt(6 / (width + width))  # Xavier uniform of a d × d layer
    assert_uniform(b.attn.v.weight.detach(), -f * lim, f * lim)
    assert_uniform(b.attn.o.weight.detach(), -f * lim, f * lim)
    assert_uniform(b.attn.q.weight.detach(), -lim, lim)  # q and k: Xavier, unscaled
    lim_mlp = math.sqrt(6 / (width + 4 * width))
    assert_uniform(b.mlp.fc1.weight.detach(), -f * lim_mlp, f * lim_mlp)
    assert_normal(net.tok.weight.detach(), 0.0, width ** -0.5 * (9 * depth) ** -0.25)


def test_t_fixup_scales_only_the_v_block_of_a_packed_projection():
    net = MHANet(width=32, heads=2, blocks=4)
    initlab.initialize(net, "t_fixup", seed=0)
    f = (9 * 4) ** -0.25
    lim = math.sqrt(6 / (32 + 32))
    q, k, v = net.blocks[2].attn.in_proj_weight.detach().chunk(3)
    assert_uniform(q, -lim, lim) and assert_uniform(k, -lim, lim)
    assert_uniform(v, -f * lim, f * lim)
    assert_uniform(net.blocks[2].attn.out_proj.weight.detach(), -f * lim, f * lim)


def test_mimetic_attention_products_follow_alpha_z_plus_beta_identity():
    """One head: W_qᵀW_k − 0.7·I is 0.7·Z, W_o·W_v + 0.4·I is 0.4·Z, Z uniform with variance 1/d."""
    width = 128
    net = char_transformer(width, depth=2, heads=1, context=8)
    initlab.initialize(net, "mimetic", seed=0)
    a = net.blocks[1].attn
    d = width
    qk = (a.q.weight.double().t() @ a.k.weight.double()).detach()
    ov = (a.o.weight.double() @ a.v.weight.double()).detach()
    b = math.sqrt(3 / d)
    assert_uniform((qk - 0.7 * torch.eye(d, dtype=torch.float64)) / 0.7, -b, b)
    assert_uniform((ov + 0.4 * torch.eye(d, dtype=torch.float64)) / 0.4, -b, b)


def test_mimetic_heads_are_rank_head_dim_and_the_seed_fixes_the_bits():
    net = char_transformer(64, depth=1, heads=4, context=8)
    initlab.initialize(net, "mimetic", seed=3)
    a = net.blocks[0].attn
    for h in range(4):
        prod = a.q.weight[16 * h:16 * (h + 1)].double().t() @ a.k.weight[16 * h:16 * (h + 1)].double()
        assert torch.linalg.matrix_rank(prod.detach()) == 16
    again = char_transformer(64, depth=1, heads=4, context=8)
    initlab.initialize(again, "mimetic", seed=3)
    assert torch.equal(again.blocks[0].attn.q.weight, a.q.weight) and torch.equal(again.blocks[0].attn.o.weight,
                                                                                  a.o.weight)


def test_mimetic_on_multihead_attention_packed_projection():
    net = MHANet(width=32, heads=1, blocks=1)
    initlab.initialize(net, "mimetic", seed=0)
    q, k, v = net.blocks[0].attn.in_proj_weight.double().detach().chunk(3)
    o = net.blocks[0].attn.out_proj.weight.double().detach()
    b = math.sqrt(3 / 32)
    assert_uniform((q.t() @ k - 0.7 * torch.eye(32, dtype=torch.float64)) / 0.7, -b, b)
    assert_uniform((o @ v + 0.4 * torch.eye(32, dtype=torch.float64)) / 0.4, -b, b)


def test_scaled_residual_divides_the_base_law_by_sqrt_N():
    net = ResMLP(n_in=8, width=64, blocks=9)
    plan = initlab.initialize(net, "scaled_residual", seed=0)
    glorot = _glorot_std(64, 64)  # the branch's last layer: no activation follows, so auto gives Glorot
    assert plan["blocks.4.layers.1.weight"].std == pytest.approx(glorot / 3, rel=1e-12)
    assert plan["blocks.4.layers.0.weight"].std == pytest.approx(_he_std(64), rel=1e-12)


# ------------------------------------------------------------------------------------------------ where users live
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["fixup", "gpt2", "olmo", "mimetic", "t_fixup", "neox"])
def test_same_seed_same_bits_at_1_and_2_threads_and_bf16(name, threads):
    from initlab._threads import torch_threads

    def draw(dtype):
        net = _lm(2, 32).to(dtype)
        with torch_threads(threads):
            initlab.initialize(net, name, seed=5)
        return {k: v.float() for k, v in net.state_dict().items() if "fixup" not in k}

    ref = draw(torch.float32)
    with torch_threads(1):
        again = draw(torch.float32)
    assert all(torch.equal(ref[k], again[k]) for k in ref)
    low = draw(torch.bfloat16)
    assert all(torch.isfinite(v).all() for v in low.values())


def test_plan_table_shows_roles_and_the_wrapper():
    net = ResMLP(blocks=2)
    plan = initlab.plan(net, "fixup")
    text = str(plan)
    assert "branch-out (block 1)" in text and "branch-in (block 0)" in text and "readout" in text
    assert "fixup wrapper adds 11 scalar(s) on 5 layer(s)" in text
    assert plan["blocks.0.layers.0.weight"].role == "hidden, branch-in (block 0)"
    assert not any("fixup" in n for n, _ in net.named_parameters())  # a plan writes nothing


def test_every_recipe_is_listed_with_rule_and_source():
    rows = {r["name"]: r for r in list_recipes()}
    assert set(rows) == set(RECIPES) >= {"fixup", "skipinit", "rezero", "t_fixup", "gpt2", "neox", "olmo",
                                          "mimetic", "depth_mup", "completep", "scaled_residual"}
    for r in rows.values():
        assert r["formula"] and r["source"] and any(ch.isdigit() for ch in r["source"])


def test_depth_parametrizations_point_to_parametrize():
    with pytest.raises(initlab.InitlabError, match=r"^scheme: got 'completep', a depth parametrization"):
        initlab.initialize(ResMLP(), "completep")


def test_bad_recipe_parameters():
    with pytest.raises(initlab.InitlabError, match=r"^gpt2 parameter: got 'sd'; allowed: std, roles"):
        recipe("gpt2", sd=0.1)
    with pytest.raises(initlab.InitlabError, match=r"^std: got -1"):
        recipe("gpt2", std=-1)
    with pytest.raises(initlab.InitlabError, match=r"^stack: got 'both'"):
        recipe("t_fixup", stack="both")


def test_recipe_names_never_shadow_a_scheme():
    """``initialize(model, name)`` resolves recipes first: no recipe may take a registry scheme's name."""
    names = {a for r in RECIPES.values() for a in (r.name, *r.aliases)}
    for name in names:
        with pytest.raises(initlab.InitlabError):
            initlab.get(name)
    net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    assert initlab.initialize(net, "mitchell", seed=0)["0.weight"].scheme == "mitchell"  # the per-tensor law
