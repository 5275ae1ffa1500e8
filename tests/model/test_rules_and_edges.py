"""Rules by type set weights (biases follow ``bias=``), tied weights see rules, zero-element parameters
are skipped with a row, and activations guessed from module order are marked and warned about once."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab


def mlp():
    return nn.Sequential(nn.Linear(20, 10), nn.Tanh(), nn.Linear(10, 10), nn.LayerNorm(10), nn.Linear(10, 3))


# -- a type rule sets weights; biases follow bias= unless a pattern names them -------------------------
def test_a_type_rule_sets_weights_and_leaves_biases_to_bias():
    net = mlp()
    plan = initlab.initialize(net, rules={nn.Linear: "he_uniform"}, seed=0)
    bound = math.sqrt(6 / 20)  # He uniform: U(±√(6/fan_in)), fan_in 20
    assert plan["0.weight"].scheme == "he_uniform" and plan["0.weight"].std == pytest.approx(bound / math.sqrt(3))
    assert 0.9 * bound < float(net[0].weight.detach().abs().max()) <= bound
    for name in ("0.bias", "2.bias", "4.bias"):
        assert plan[name].scheme == "zeros" and plan[name].origin == "bias"
    assert all(torch.count_nonzero(net[i].bias) == 0 for i in (0, 2, 4))
    # the LayerNorm is not a Linear: ones and zeros
    assert torch.equal(net[3].weight, torch.ones(10)) and torch.equal(net[3].bias, torch.zeros(10))


def test_a_type_rule_that_cannot_take_a_bias_does_not_touch_biases():
    net = mlp()
    plan = initlab.initialize(net, rules={nn.Linear: "orthogonal"}, bias="random_normal", seed=0)
    w = net[2].weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(10), atol=1e-5, rtol=0)
    assert plan["2.bias"].scheme == "random_normal" and 0.02 < float(net[2].bias.detach().std()) < 0.09


@pytest.mark.parametrize("rules, named, weights_only", [
    ({"4.bias": "ones"}, ["4.bias"], []),
    ({"*.bias": "ones"}, ["0.bias", "2.bias", "3.bias", "4.bias"], []),
    ({"4": "ones"}, [], ["4.weight"]),          # a pattern over a module's name: like a type rule
    ({nn.LayerNorm: "zeros"}, [], ["3.weight"]),
], ids=["name", "glob over names", "module name", "norm type"])
def test_a_rule_sets_a_bias_only_when_a_pattern_names_it(rules, named, weights_only):
    plan = initlab.initialize(mlp(), rules=rules, seed=0)
    for row in plan:
        assert (row.origin == "rule") == (row.name in named or row.name in weights_only), row.name


# -- tied weights ----------------------------------------------------------------------------------
class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.body = nn.Linear(8, 8)
        self.head = nn.Linear(8, 30)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return self.head(torch.relu(self.body(self.emb(idx))))


def test_a_type_rule_reaches_a_weight_tied_through_another_module():
    m = TiedLM()
    plan = initlab.initialize(m, rules={nn.Linear: "zeros"}, seed=0)
    row = plan["emb.weight"]
    assert plan["head.weight"] is row and row.tied == ("head.weight",)
    assert row.scheme == "zeros" and "through the tie head.weight" in row.reason
    assert torch.count_nonzero(m.emb.weight) == 0 and m.head.weight is m.emb.weight
    assert torch.count_nonzero(m.body.weight) == 0 and plan["head.bias"].scheme == "zeros"


def test_one_rule_reaching_a_tie_through_both_names_is_fine():
    m = TiedLM()
    plan = initlab.initialize(m, rules={"*.weight": "ones"}, seed=0)
    assert plan["emb.weight"].scheme == "ones" and torch.equal(m.head.weight, torch.ones(30, 8))


def test_without_rules_a_tie_is_planned_once_where_it_first_appears():
    m = TiedLM()
    plan = initlab.initialize(m, seed=0)
    assert [r.name for r in plan].count("emb.weight") == 1 and "head.weight" not in [r.name for r in plan]
    assert plan["emb.weight"].scheme == "random_normal" and "tied: also head.weight" in plan["emb.weight"].reason


# -- zero-element parameters -----------------------------------------------------------------------
def zero_models():
    return [nn.Sequential(nn.Linear(0, 4), nn.ReLU(), nn.Linear(4, 2)), nn.Sequential(nn.Embedding(0, 4)),
            nn.Sequential(nn.Linear(4, 0), nn.Linear(0, 0))]


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")  # PyTorch's, at construction
@pytest.mark.parametrize("scheme", ["auto", "orthogonal", "torch_default", "he_normal"])
@pytest.mark.parametrize("index", [0, 1, 2], ids=["linear(0,4)", "empty embedding", "linear(4,0)"])
def test_zero_element_parameters_are_skipped_with_a_row(index, scheme):
    model = zero_models()[index]
    plan = initlab.initialize(model, scheme, seed=0)
    skipped = [r for r in plan if r.scheme == "skip"]
    assert {r.name for r in skipped} == {n for n, p in model.named_parameters() if p.numel() == 0}
    assert all("zero elements" in r.reason and r.initializer is None for r in skipped)
    for row in plan:  # the others are initialized as usual
        if row.scheme != "skip":
            assert row.initializer is not None
    built = initlab.materialize(lambda: zero_models()[index], scheme, seed=0)
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in model.parameters()]
    for a, b in zip(built.parameters(), model.parameters()):
        assert torch.equal(a, b)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")
def test_the_nonempty_layers_of_a_model_with_an_empty_one_are_initialized():
    net = nn.Sequential(nn.Linear(0, 4), nn.ReLU(), nn.Linear(4, 2))
    initlab.initialize(net, seed=1)
    assert torch.count_nonzero(net[2].weight) == 8


# -- activations guessed from module order ---------------------------------------------------------
class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it. The module-order guess is wrong twice: the
    F.relu after ``a`` is invisible to it, and the Tanh, registered last, is taken to follow ``c``."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 2)
        self.act = nn.Tanh()

    def forward(self, x):
        if float(x.sum()) > 1e9:
            x = x / 2
        return self.c(self.act(self.b(F.relu(self.a(x)))))


def caught(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        result = fn()
    return result, [x for x in w if "guessed" in str(x.message)]


def test_guessed_rows_are_marked_and_initialize_warns_once_naming_them():
    plan, warned = caught(lambda: initlab.initialize(Untraceable(), seed=0))
    assert len(warned) == 1
    msg = str(warned[0].message)
    for layer in ("a → none", "b → none", "c → tanh"):
        assert layer in msg
    assert {r.name for r in plan.guessed} == {"a.weight", "b.weight", "c.weight"}
    assert all(r.found_by == "module order" for r in plan if r.module in "abc")
    assert plan["a.weight"].scheme == "glorot_normal"  # the guess (the truth, F.relu, would give he_normal)
    assert "guessed" in str(plan) and plan.to_dicts()[0]["guessed"] is True
    _, warned = caught(lambda: initlab.materialize(Untraceable, seed=0))
    assert len(warned) == 1 and "initlab.materialize" in str(warned[0].message)
    _, warned = caught(lambda: initlab.initialize(Untraceable(), "he_normal", seed=0))
    assert not warned  # a named scheme does not depend on the activation


@pytest.mark.parametrize("make", [lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1)),
                                  lambda: nn.TransformerEncoderLayer(16, 2, 32),
                                  lambda: nn.Sequential(nn.Embedding(9, 16), nn.MultiheadAttention(16, 2))],
                         ids=["traced", "encoder layer", "attention"])
def test_no_warning_when_nothing_is_guessed(make):
    plan, warned = caught(lambda: initlab.initialize(make(), seed=0))
    assert not warned and not plan.guessed


def test_a_parameter_on_the_meta_device_is_an_error_and_materialize_is_the_way():
    with torch.device("meta"):
        net = mlp()
    with pytest.raises(initlab.InitlabError, match="initlab.materialize"):
        initlab.initialize(net, seed=0)
    assert initlab.initialize(net, seed=0, dry_run=True)["0.weight"].scheme == "glorot_normal"
    built = initlab.materialize(net, seed=0)
    assert not any(p.is_meta for p in built.parameters())


# -- bias= under torch_default, "auto" as a rule value, cells -------------------------------------
def test_torch_default_with_an_explicit_bias_scheme_sets_biases_only():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 2))
    plan = initlab.initialize(net, "torch_default", bias="ones", seed=0)
    assert torch.equal(net[0].bias, torch.ones(5)) and torch.equal(net[2].bias, torch.ones(2))
    assert torch.equal(net[1].bias, torch.zeros(5))  # a normalization layer's shift stays zero
    bound = 1 / math.sqrt(6)  # PyTorch's Linear weight law, U(±1/√fan_in)
    assert plan["0.weight"].scheme == "torch_default" and float(net[0].weight.detach().abs().max()) <= bound


def test_a_rule_with_value_auto_gives_autos_choice_under_a_named_scheme():
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    plan = initlab.initialize(net, "zeros", rules={"0.weight": "auto"}, seed=0)
    assert plan["0.weight"].scheme == "he_normal" and plan["2.weight"].scheme == "zeros"


@pytest.mark.parametrize("cell, gates", [(nn.LSTMCell, 4), (nn.GRUCell, 3), (nn.RNNCell, 1)])
def test_recurrent_cells_get_per_gate_blocks_like_their_layers(cell, gates):
    m = cell(5, 6)
    plan = initlab.initialize(m, seed=0)
    assert plan["weight_hh"].scheme == "orthogonal" and plan["weight_hh"].chunks == gates
    for block in m.weight_hh.detach().chunk(gates, 0):
        torch.testing.assert_close(block @ block.T, torch.eye(6), atol=1e-5, rtol=0)
    assert plan["weight_ih"].scheme == "glorot_uniform" and (plan["weight_ih"].fan_in, plan["weight_ih"].fan_out) == (5, 6)
