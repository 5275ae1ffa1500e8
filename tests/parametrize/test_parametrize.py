"""initlab.parametrize: plan numbers derived here, drawn laws, equivalent forms, hooks, groups, bad input."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab
from initlab._threads import torch_threads
from initlab.errors import InitlabError
from initlab.parametrize import hooks
from stats import assert_normal

from ._models import LSTMNet, MHANet, lm, mlp


def normed(w):
    """An MLP with LayerNorm and biases everywhere: every kind of vector parameter."""
    return nn.Sequential(nn.Linear(12, w), nn.LayerNorm(w), nn.Tanh(), nn.Linear(w, 2 * w), nn.GELU(),
                         nn.Linear(2 * w, w), nn.LayerNorm(w), nn.Linear(w, 5))


def conv(w):
    return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w, 4))


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------- plan numbers
def test_mlp_plan_against_table3_and_the_base_schemes():
    plan = initlab.parametrize(mlp(256), "mup", base=64, seed=0)
    he = lambda fan_in: math.sqrt(2 / fan_in)  # noqa: E731 - He et al. 2015 (ReLU follows)
    glorot = lambda fi, fo: math.sqrt(2 / (fi + fo))  # noqa: E731 - Glorot & Bengio 2010 (nothing follows)
    expected = {  # σ = base scheme at the base shape × Table 3's width factor (m = 256/64 = 4)
        "0.weight": (he(40), 1.0, 1.0, 4.0),
        "0.bias": (0.0, 1.0, 1.0, 4.0),
        "2.weight": (he(64) * 0.5, 1.0, 0.25, 1.0),
        "2.bias": (0.0, 1.0, 1.0, 4.0),
        "4.weight": (glorot(64, 10) / 4, 1.0, 0.25, 0.25),
        "4.bias": (0.0, 1.0, 1.0, 1.0),
    }
    got = {r.name: (r.std, r.mult, r.lr_adam, r.lr_sgd) for r in plan}
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=1e-12), name
    assert [r.role for r in plan] == ["input", "input", "hidden", "hidden", "readout", "readout"]
    assert [r.width_class for r in plan] == ["vector", "vector", "hidden", "vector", "readout", "fixed"]
    assert plan["2.weight"].width_mult == 4.0 and plan["0.weight"].fan_in == 40
    assert "mup (table3)" in str(plan)


def test_drawn_weights_follow_the_planned_law():
    model = mlp(512)
    plan = initlab.parametrize(model, "mup", base=128, seed=1)
    assert_normal(model[2].weight, 0.0, math.sqrt(2 / 128) * 0.5)
    assert_normal(model[4].weight, 0.0, math.sqrt(2 / (128 + 10)) / 4)
    assert plan.applied and plan.hooks == 0


def test_mup_at_the_base_width_draws_what_initialize_draws():
    a, b = mlp(64), mlp(64)
    initlab.parametrize(a, "mup", base=64, seed=7)
    initlab.initialize(b, seed=7)
    assert same(snapshot(a), snapshot(b))
    c, d = lm(32), lm(32)
    initlab.parametrize(c, "mup", base=lm(32), delta=lm(64), seed=7)
    initlab.initialize(d, seed=7)
    assert same(snapshot(c), snapshot(d))


def test_base_as_widths_model_or_shapes_agree():
    ref = initlab.parametrize(lm(64), "mup", base=lm(16), dry_run=True)
    shapes = {n: tuple(p.shape) for n, p in lm(16).named_parameters()}
    for base in ({64: 16, 256: 64}, shapes):
        other = initlab.parametrize(lm(64), "mup", base=base, dry_run=True)
        assert [(r.name, r.m_in, r.m_out, r.std, r.lr_adam) for r in other] == \
            [(r.name, r.m_in, r.m_out, r.std, r.lr_adam) for r in ref]
    # at the base width itself, delta says which dimensions are widths
    at_base = initlab.parametrize(lm(16), "mup", base=lm(16), delta=lm(32), dry_run=True)
    assert at_base["head.weight"].width_class == "readout" and at_base["head.weight"].m_in == 1.0


def test_attention_logits_one_over_d():
    plan = initlab.parametrize(lm(64), "mup", base=lm(16), seed=0)
    q, k = plan["blocks.0.attn.q.weight"], plan["blocks.0.attn.k.weight"]
    alpha = math.sqrt(4 / 16)  # head dim 16/4 = 4 at the base, 64/4 = 16 here: q × √(4/16)
    assert q.query_mult == pytest.approx(alpha) and k.query_mult == 1.0
    # table3 folds α into σ and the lr: σ·α, Adam lr·α, SGD lr·α²
    assert q.std == pytest.approx(k.std * alpha) and q.mult == 1.0
    assert q.lr_adam == pytest.approx(k.lr_adam * alpha) and q.lr_sgd == pytest.approx(k.lr_sgd * alpha ** 2)
    t8 = initlab.parametrize(lm(64), "mup", base=lm(16), form="table8", dry_run=True)
    assert t8["blocks.0.attn.q.weight"].mult == pytest.approx(alpha)
    off = initlab.parametrize(lm(64), "mup", base=lm(16), attention=False, dry_run=True)
    assert off["blocks.0.attn.q.weight"].query_mult == 1.0


# ----------------------------------------------------------------------------------- equivalent forms
def _trajectory(build, x, y, form, opt, lr, steps=3, **kw):
    torch.manual_seed(0)
    model = build()
    plan = initlab.parametrize(model, "mup", form=form, seed=11, **kw)
    groups = plan.param_groups(opt, lr)
    optimizer = torch.optim.Adam(groups, eps=1e-30) if opt == "adam" else torch.optim.SGD(groups, momentum=0.9)
    outs = [model(x).detach()]
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(x)
        F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)).backward()
        optimizer.step()
        outs.append(model(x).detach())
    return outs, plan


FORM_CASES = [
    ("mlp", lambda: mlp(128), dict(base=32), (torch.randn(16, 40), torch.arange(16) % 10)),
    ("layernorm mlp", lambda: normed(64), dict(base=normed(16), delta=normed(32)),
     (torch.randn(16, 12), torch.arange(16) % 5)),
    ("cnn", lambda: conv(32), dict(base=8), (torch.randn(4, 3, 6, 6), torch.arange(4) % 4)),
    ("lm", lambda: lm(64), dict(base=lm(16), delta=lm(32)),
     (torch.randint(0, 98, (3, 12)), torch.randint(0, 98, (3, 12)))),
    ("mha", lambda: MHANet(32), dict(base=MHANet(8), delta=MHANet(16)),
     (torch.randn(4, 6, 5), torch.arange(24).view(4, 6) % 3)),
    # multipliers on LSTM weights cannot act through hooks: they are folded, with the same function
    ("lstm", lambda: LSTMNet(32), dict(base=LSTMNet(8), delta=LSTMNet(16)),
     (torch.randint(0, 7, (3, 5)), torch.randint(0, 7, (3, 5)))),
]


@pytest.mark.parametrize("opt,lr", [("adam", 3e-3), ("sgd", 0.05)])
@pytest.mark.parametrize("name,build,kw,batch", FORM_CASES, ids=[c[0] for c in FORM_CASES])
def test_tables_3_8_9_compute_the_same_function_and_updates(name, build, kw, batch, opt, lr):
    x, y = batch
    ref, ref_plan = _trajectory(build, x, y, "table3", opt, lr, **kw)
    for form in ("table8", "table9"):
        outs, plan = _trajectory(build, x, y, form, opt, lr, **kw)
        for t, (a, b) in enumerate(zip(ref, outs)):
            scale = a.abs().max()
            assert (a - b).abs().max() <= 2e-5 * scale + 1e-7, (form, t)
    assert ref[-1].ne(ref[0]).any()  # training moved the outputs
    if name == "mha":
        assert ref_plan.hooks == 1  # the packed query keeps its multiplier as a hook even in table 3
    if name == "lstm":
        assert plan.hooks == 2 and all("folded" in r.reason for r in plan if r.layer == "rnn" and r.width_class
                                       == "vector")


def test_mha_query_multiplier_acts_on_the_query_only():
    torch.manual_seed(0)
    model = MHANet(32)
    plan = initlab.parametrize(model, "mup", base=MHANet(8), delta=MHANet(16), seed=0)
    alpha = plan["mha.in_proj_weight"].mults[0]
    assert alpha == pytest.approx(0.5) and plan["mha.in_proj_weight"].mults[1:] == (1.0, 1.0)
    assert plan["mha.in_proj_bias"].mults == (1.0, 1.0, 1.0)  # the pre-hook scales W_q·x, not b_q
    x = torch.randn(2, 5, 5)
    got = model(x)
    plan.remove()
    h = model.inp(x)
    manual = model.out(h + model.mha(alpha * h, h, h)[0])
    assert torch.allclose(got, manual, atol=1e-6)


def test_zero_readout_and_zero_query():
    model = lm(64)
    plan = initlab.parametrize(model, "mup", base=lm(16), zero_readout=True, zero_query=True, seed=0)
    assert model.head.weight.abs().max() == 0 and plan["head.weight"].std == 0
    assert model.blocks[0].attn.q.weight.abs().max() == 0
    assert model.blocks[0].attn.k.weight.abs().max() > 0
    m = MHANet(32)
    initlab.parametrize(m, "mup", base=MHANet(8), delta=MHANet(16), zero_query=True, seed=0)
    q, kv = m.mha.in_proj_weight[:32], m.mha.in_proj_weight[32:]
    assert q.abs().max() == 0 and kv.abs().min() >= 0 and kv.std() > 0


# ----------------------------------------------------------------------------------- u-μP
def test_umup_mlp_is_unit_scaled_with_multipliers():
    torch.manual_seed(0)
    model = mlp(256, d_in=40)
    plan = initlab.parametrize(model, "umup", seed=3)
    for layer in (0, 2, 4):
        assert_normal(model[layer].weight, 0.0, 1.0)
    assert [plan[f"{i}.weight"].mult for i in (0, 2, 4)] == pytest.approx([40 ** -0.5, 256 ** -0.5, 1 / 256])
    assert [plan[f"{i}.weight"].lr_adam for i in (0, 2, 4)] == pytest.approx([40 ** -0.5, 256 ** -0.5, 1.0])
    x = torch.randn(8, 40)
    w = [model[i].weight.detach() for i in (0, 2, 4)]
    h = F.relu(x @ w[0].T / math.sqrt(40))
    h = F.relu(h @ w[1].T / math.sqrt(256))
    assert torch.allclose(model(x), h @ w[2].T / 256, atol=1e-6)
    assert plan.hooks == 3


# ----------------------------------------------------------------------------------- groups
def test_param_groups_cover_every_parameter_once_with_its_lr():
    model = normed(64)
    plan = initlab.parametrize(model, "mup", base=normed(16), delta=normed(32), seed=0)
    for kind in ("adam", "adamw", "sgd"):
        groups = initlab.param_groups(model, kind, lr=0.1, weight_decay=1e-4)
        ids = [id(p) for g in groups for p in g["params"]]
        assert sorted(ids) == sorted(id(p) for p in model.parameters())
        for g in groups:
            for name in g["param_names"]:
                assert g["lr"] == pytest.approx(0.1 * plan[name].lr(kind))
            assert g["lr"] * g["weight_decay"] == pytest.approx(0.1 * 1e-4)
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind]
        cls(groups)  # torch accepts them
    assert plan.param_groups("adam", 1.0) == initlab.param_groups(plan, "adam", 1.0)


# ----------------------------------------------------------------------------------- hooks
def test_hooks_are_replaced_and_removed():
    model = mlp(64)
    initlab.parametrize(model, "mup", base=16, form="table8", seed=0)
    assert hooks.installed(model) == 1 and len(model[4]._forward_hooks) == 1
    x = torch.randn(3, 40)
    with_mult = model(x)
    plan = initlab.parametrize(model, "mup", base=16, form="table9", seed=0)
    # input weights and bias, the hidden layer's bias, the readout; the old hook is gone
    assert hooks.installed(model) == plan.hooks == 3
    assert initlab.parametrize.remove(model) == 3 and not model[4]._forward_hooks
    initlab.parametrize(model, "sp", seed=0)
    assert hooks.installed(model) == 0 and with_mult.shape == model(x).shape


# ----------------------------------------------------------------------------------- users' settings
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_seeded_plans_are_the_same_bits_on_1_and_2_threads(dtype):
    results = []
    for threads in (1, 2):
        with torch_threads(threads):
            model = lm(64).to(dtype)
            initlab.parametrize(model, "mup", base=lm(16), form="table8", seed=5)
            results.append(snapshot(model))
            ids = torch.randint(0, 98, (2, 12), generator=torch.Generator().manual_seed(0))
            out = model(ids)
            assert out.dtype == dtype and torch.isfinite(out).all()
    assert same(*results)
    assert all(p.requires_grad for p in model.parameters())


def test_parametrize_under_no_grad_keeps_trainable_parameters():
    model = mlp(32)
    with torch.no_grad():
        initlab.parametrize(model, "mup", base=8, seed=0)
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


# ----------------------------------------------------------------------------------- bad input
BAD = [
    ("no base", lambda m: initlab.parametrize(m, "mup"), "base: got None; allowed: a base width"),
    ("base names", lambda m: initlab.parametrize(m, "mup", base=nn.Sequential(nn.Linear(40, 16))),
     "base: the model has parameter '2.weight', which the other has not"),
    ("base readout", lambda m: initlab.parametrize(m, "mup", base=mlp(16, classes=5)),
     "base: readout '4.weight' has a fan_out that changes with width"),
    ("base input", lambda m: initlab.parametrize(m, "mup", base=mlp(16, d_in=20)),
     "base: input '0.weight' has a fan_in that changes with width"),
    ("no scaling", lambda m: initlab.parametrize(m, "mup", base=mlp(64)),
     "base: no dimension of the model scales with width"),
    ("width absent", lambda m: initlab.parametrize(m, "mup", base={100: 25}),
     r"base: got \{100: 25\}; allowed: widths that occur in the model .*its widths are \[64\]"),
    ("bad base type", lambda m: initlab.parametrize(m, "mup", base="64"),
     "base: got 'str'; allowed: an nn.Module or"),
    ("delta with widths", lambda m: initlab.parametrize(m, "mup", base=16, delta=mlp(32)),
     "delta: got 'Sequential'; allowed: None when base gives widths"),
    ("unknown parametrization", lambda m: initlab.parametrize(m, "mupp", base=16),
     "parametrization: got 'mupp'; allowed: 'sp', 'mup', 'umup', 'depth_mup', 'completep'; did you mean 'mup'"),
    ("bad form", lambda m: initlab.parametrize(m, "mup", base=16, form="table5"),
     "form: got 'table5'; allowed: 'table3', 'table8', 'table9'"),
    ("bad option", lambda m: initlab.parametrize(m, "mup", base=16, zero_redout=True),
     "zero_redout: got True; allowed: an option of mup.*did you mean 'zero_readout'"),
    ("no width law", lambda m: initlab.parametrize(m, "mup", base=16, init="orthogonal"),
     "init: '0.weight' gets 'orthogonal' .*has no width rule"),
    ("seed and generator", lambda m: initlab.parametrize(m, "mup", base=16, seed=0, generator=torch.Generator()),
     "seed and generator: got both"),
    ("base for sp", lambda m: initlab.parametrize(m, "sp", base=16), "base: got 16; allowed: None for sp"),
    ("optimizer", lambda m: initlab.parametrize(m, "mup", base=16, seed=0).param_groups("adagrad", 0.1),
     "optimizer: got 'adagrad'; allowed: 'adam', 'adamw', 'sgd'"),
    ("lr", lambda m: initlab.param_groups(initlab.parametrize(m, "mup", base=16, dry_run=True), "sgd", lr=-1),
     "lr: got -1"),
]


@pytest.mark.parametrize("name,call,match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_leaves_the_model_as_it_was(name, call, match):
    model = mlp(64)
    initlab.parametrize(model, "mup", base=16, form="table8", seed=1)  # an earlier plan with a hook
    before, hooks_before = snapshot(model), hooks.installed(model)
    if name in ("optimizer", "lr"):
        model = mlp(64)
        before, hooks_before = snapshot(model), 0
    with pytest.raises(InitlabError, match=match) as e:
        call(model)
    assert "\n" not in str(e.value)
    if name not in ("optimizer",):
        assert same(before, snapshot(model)) and hooks.installed(model) == hooks_before


def test_several_widths_need_a_base_model():
    with pytest.raises(InitlabError, match=r"base: got 16; allowed: a base model, base shapes or \{width: base width\} "
                                           r"for a model with several widths \(found \[64, 256\]\)"):
        initlab.parametrize(lm(64), "mup", base=16)


def test_tied_embedding_and_readout_is_an_error():
    model = lm(32)
    model.head.weight = model.tok.weight
    before = snapshot(model)
    with pytest.raises(InitlabError, match="model: 'head.weight' is the same tensor as 'tok.weight' "
                                           r"\(readout and embedding\); allowed for mup: untied weights"):
        initlab.parametrize(model, "mup", base={32: 8, 128: 32})
    assert same(before, snapshot(model))
    initlab.parametrize(model, "sp", seed=0)  # SP has one rule for everything


def test_a_width_plan_is_not_applied_by_apply_plan():
    model = mlp(32)
    plan = initlab.parametrize(model, "mup", base=8, dry_run=True)
    before = snapshot(model)
    with pytest.raises(InitlabError, match="plan: got a WidthPlan; allowed: an InitPlan"):
        initlab.model.apply_plan(model, plan)
    assert same(before, snapshot(model))
    assert plan["2.weight"].name == "2.weight" and plan.to_frame().shape[0] == 6


def test_param_groups_of_an_unparametrized_model():
    with pytest.raises(InitlabError, match="model: got 'Sequential'; allowed: a model initlab.parametrize"):
        initlab.param_groups(mlp(8), "adam", lr=0.1)
