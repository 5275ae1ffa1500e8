"""Roles found from the module graph (torch.fx), by names when the model does not trace, and by rules."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from initlab.errors import InitlabError
from initlab.experiments.lm import char_transformer
from initlab.model.structure import GRAPH_ANALYSES, ROLES, find_structure

from ._models import MHANet


class MatmulAttention(nn.Module):
    """Attention written out: softmax(q·kᵀ/√d)·v with separately named projections."""

    def __init__(self, d=16):
        super().__init__()
        self.to_query = nn.Linear(d, d)
        self.to_key = nn.Linear(d, d)
        self.to_value = nn.Linear(d, d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.to_query(x), self.to_key(x), self.to_value(x)
        att = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
        return self.proj(att @ v)


class PackedAttention(nn.Module):
    """GPT-2 style: one Linear makes q, k, v, split along the features."""

    def __init__(self, d=16, h=2):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.h, self.d = h, d

    def forward(self, x):
        b, t, c = x.size(0), x.size(1), x.size(2)
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        q = q.view(b, t, self.h, c // self.h).transpose(1, 2)
        k = k.view(b, t, self.h, c // self.h).transpose(1, 2)
        v = v.view(b, t, self.h, c // self.h).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Net(nn.Module):
    def __init__(self, attn):
        super().__init__()
        self.emb = nn.Embedding(10, 16)
        self.attn = attn
        self.ln = nn.LayerNorm(16)
        self.head = nn.Linear(16, 10)

    def forward(self, ids):
        h = self.emb(ids)
        h = h + self.attn(h)
        return self.head(self.ln(h))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it, so names and module order decide."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(4, 8)
        self.wq = nn.Linear(8, 8)
        self.wk = nn.Linear(8, 8)
        self.mid = nn.Linear(8, 8)
        self.last = nn.Linear(8, 2)

    def forward(self, x):
        if x.sum() > 0:
            x = -x
        h = self.first(x)
        return self.last(self.mid(h) + self.wq(h) * self.wk(h))


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 8)
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 7)

    def forward(self, ids):
        return self.fc(self.rnn(self.emb(ids))[0])


CASES = [
    ("mlp", lambda: nn.Sequential(nn.Flatten(), nn.Linear(40, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                  nn.Linear(32, 10)),
     {"1": "input", "3": "hidden", "5": "readout"}),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)),
     {"0": "input", "2": "hidden", "6": "readout"}),
    ("lm", lambda: char_transformer(16, depth=1, heads=2, context=8),
     {"tok": "embedding", "pos": "embedding", "blocks.0.ln1": "norm", "blocks.0.attn.q": "attn_q",
      "blocks.0.attn.k": "attn_k", "blocks.0.attn.v": "attn_v", "blocks.0.attn.o": "attn_o",
      "blocks.0.ln2": "norm", "blocks.0.mlp.fc1": "hidden", "blocks.0.mlp.fc2": "hidden", "ln_f": "norm",
      "head": "readout"}),
    ("matmul attention", lambda: Net(MatmulAttention()),
     {"emb": "embedding", "attn.to_query": "attn_q", "attn.to_key": "attn_k", "attn.to_value": "attn_v",
      "attn.proj": "attn_o", "ln": "norm", "head": "readout"}),
    ("packed attention", lambda: Net(PackedAttention()),
     {"emb": "embedding", "attn.c_attn": "attention", "attn.c_proj": "attn_o", "ln": "norm", "head": "readout"}),
    ("multihead attention", MHANet,
     {"inp": "input", "mha": "attention", "mha.out_proj": "attn_o", "out": "readout"}),
    ("lstm", LSTMNet, {"emb": "embedding", "rnn": "hidden", "fc": "readout"}),
]


@pytest.mark.parametrize("name,build,expected", CASES, ids=[c[0] for c in CASES])
def test_roles_from_the_graph(name, build, expected):
    s = find_structure(build())
    assert s.traced
    got = {layer.name: layer.role for layer in s.layers}
    assert got == expected
    for layer in s.layers:
        if layer.role not in ("norm", "other"):
            assert layer.found_by in ("fx", "module type"), layer


def test_packed_projections_get_a_role_per_block():
    s = find_structure(Net(PackedAttention()))
    assert s.layer("attn.c_attn").chunks == ("attn_q", "attn_k", "attn_v")
    assert s.params["attn.c_attn.weight"].chunks == ("attn_q", "attn_k", "attn_v")
    m = find_structure(MHANet())
    assert m.layer("mha").chunks == ("attn_q", "attn_k", "attn_v")
    assert m.params["mha.in_proj_weight"].in_axis == 1 and m.params["mha.in_proj_weight"].out_axis == 0


def test_fan_axes_per_parameter_kind():
    s = find_structure(char_transformer(16, depth=1, heads=2, context=8))
    assert (s.params["tok.weight"].in_axis, s.params["tok.weight"].out_axis) == (0, 1)  # ids in, width out
    assert (s.params["head.weight"].in_axis, s.params["head.weight"].out_axis) == (1, 0)
    assert s.params["ln_f.weight"].kind == "scale" and s.params["ln_f.bias"].kind == "bias"
    assert s.params["ln_f.weight"].in_axis is None and s.params["ln_f.weight"].out_axis == 0
    t = find_structure(nn.Sequential(nn.ConvTranspose2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 25, 2)))
    assert (t.params["0.weight"].in_axis, t.params["0.weight"].out_axis) == (0, 1)  # stored (in, out, k, k)


def test_untraceable_model_falls_back_to_names_and_order():
    s = find_structure(Untraceable())
    assert not s.traced and "TraceError" in s.trace_error
    got = {layer.name: (layer.role, layer.found_by) for layer in s.layers}
    assert got["first"] == ("input", "module order (first weight layer) (fx failed)")
    assert got["wq"][0] == "attn_q" and got["wk"][0] == "attn_k"
    assert got["mid"][0] == "hidden"
    assert got["last"] == ("readout", "module order (last weight layer) (fx failed)")


def test_rules_override_by_name_type_and_blocks():
    model = Net(PackedAttention())
    s = find_structure(model, {"head": "hidden", nn.LayerNorm: "other", "attn.c_attn": ("attn_q", "attn_k", "hidden")})
    assert s.layer("head").role == "hidden" and s.layer("head").found_by == "rule 'head'"
    assert s.layer("ln").role == "other" and s.layer("ln").found_by == "rule LayerNorm"
    assert s.layer("attn.c_attn").chunks == ("attn_q", "attn_k", "hidden")
    # the last matching rule wins
    s2 = find_structure(model, {"*": "hidden", "head": "readout"})
    assert s2.layer("head").role == "readout" and s2.layer("emb").role == "hidden"


def test_a_layer_never_called_is_an_error_naming_it():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.spare = nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x)

    with pytest.raises(InitlabError, match=r"layer 'spare' \(Linear\): its role cannot be decided.*rules=\{'spare'"):
        find_structure(Unused())
    assert find_structure(Unused(), {"spare": "hidden"}).layer("spare").role == "hidden"


def test_a_layer_in_two_roles_is_an_error():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Linear(4, 4)
            self.g = nn.Linear(4, 4)

        def forward(self, x):
            return self.f(self.g(self.f(x)))  # f is the input and the readout

    with pytest.raises(InitlabError, match="layer 'f' .* is used in two roles, input and readout"):
        find_structure(Shared())
    assert find_structure(Shared(), {"f": "hidden"}).layer("f").role == "hidden"


@pytest.mark.parametrize("rules,match", [
    ({"head": "output"}, r"rules\['head'\]: got 'output'; allowed: 'embedding'.*did you mean"),
    ({"nothing.here": "hidden"}, "rules: got 'nothing.here'; allowed: a pattern that matches"),
    ({nn.Conv2d: "hidden"}, "rules: got 'Conv2d'; allowed: a module type that occurs in the model"),
    ({"attn.c_attn": ("attn_q", "bogus")}, r"rules\['attn.c_attn'\]: got \('attn_q', 'bogus'\)"),
    (["head"], "rules: got \\['head'\\]; allowed: a dict"),
])
def test_bad_rules_are_one_line_errors(rules, match):
    with pytest.raises(InitlabError, match=match) as e:
        find_structure(Net(PackedAttention()), rules)
    assert "\n" not in str(e.value)


def test_every_role_is_documented_and_analyses_can_add_tags():
    assert set(ROLES) >= {"embedding", "input", "hidden", "readout", "attn_q", "attn_k", "attn_v", "attn_o"}

    def count_calls(graph, layers, nodes):
        for name, layer in layers.items():
            layer.tags["calls"] = len(nodes.get(name, []))

    GRAPH_ANALYSES.append(count_calls)
    try:
        s = find_structure(char_transformer(16, depth=2, heads=2, context=8))
    finally:
        GRAPH_ANALYSES.remove(count_calls)
    assert s.layer("blocks.1.attn.q").tags["calls"] == 1  # beside the residual tags
    assert s.to_rows()[0]["tag_calls"] == 1


def test_a_model_that_is_one_layer_is_its_own_readout():
    s = find_structure(nn.Linear(4, 3))
    assert [(layer.name, layer.role) for layer in s.layers] == [("", "readout")]
    assert s.params["weight"].role == "readout"


def test_structure_leaves_the_model_unchanged():
    model = char_transformer(16, depth=1, heads=2, context=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    find_structure(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model._forward_hooks and not model._forward_pre_hooks
