"""Bad input to the whole-model entry points (initialize, plan, apply_plan, materialize): one table of
(call, expected one-line fragment), and after every failure nothing changed — every parameter and
buffer bit-identical (the same tensor objects), requires_grad, each module's training mode, and torch's
global generator."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab
from initlab.errors import InitlabError

pytestmark = pytest.mark.filterwarnings("ignore:initlab.*guessed:UserWarning")


class Net(nn.Module):
    """Linear, LSTM, BatchNorm (in eval mode), an embedding tied to the head, an int64 counter parameter
    and a buffer: the kinds of state a failed call must leave alone."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.fc = nn.Linear(8, 8)
        self.rnn = nn.LSTM(8, 8, batch_first=True)
        self.bn = nn.BatchNorm1d(8).eval()
        self.fc2 = nn.Linear(8, 8)
        self.head = nn.Linear(8, 10)
        self.head.weight = self.emb.weight
        self.step = nn.Parameter(torch.zeros(3, dtype=torch.int64), requires_grad=False)
        self.register_buffer("seen", torch.arange(4.0))
        self.fc2.weight.requires_grad_(False)

    def forward(self, idx):
        h, _ = self.rnn(F.relu(self.fc(self.emb(idx))))
        return self.head(self.fc2(self.bn(h.mean(1))))


class Snapshot:
    """Everything a call may not change."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.tensors = {k: (v, v.detach().clone() if not v.is_meta else None) for k, v in _state(model).items()}
        self.grad = {n: p.requires_grad for n, p in model.named_parameters()}
        self.modes = {n: m.training for n, m in model.named_modules()}
        self.rng = torch.get_rng_state()

    def assert_unchanged(self):
        now = _state(self.model)
        assert list(now) == list(self.tensors)
        for k, (obj, value) in self.tensors.items():
            assert now[k] is obj, f"{k} was replaced"
            if value is None:
                assert now[k].is_meta, k
            else:
                assert now[k].dtype == value.dtype and torch.equal(now[k], value), f"{k} changed"
        assert {n: p.requires_grad for n, p in self.model.named_parameters()} == self.grad
        assert {n: m.training for n, m in self.model.named_modules()} == self.modes
        assert torch.equal(torch.get_rng_state(), self.rng), "torch's global generator moved"


def _state(model):
    out = {f"param:{n}": p for n, p in model.named_parameters(remove_duplicate=False)}
    out.update({f"buffer:{n}": b for n, b in model.named_buffers()})
    return out


def fails_on_third_call(exc=RuntimeError("the user's scheme failed on its third tensor")):
    calls = []

    def scheme(t):
        calls.append(t.shape)
        t.fill_(7.0)  # a real write before the failure
        if len(calls) == 3:
            raise exc

    return scheme


STANDARD = r"^[^:]+: .*got .+; allowed\b.*: .+"  # <argument>: got <value>; allowed: <what>


class UserStop(BaseException):
    """Not an Exception: stands for an interrupt in the middle of the fills."""


other_plan = initlab.plan(nn.Linear(3, 3))

# (id, call on the model, expected fragment of the one-line message, exception type)
CASES = [
    ("scheme unknown", lambda m: initlab.initialize(m, "he_norml"), "scheme: got unknown name 'he_norml'", InitlabError),
    ("scheme wrong type", lambda m: initlab.initialize(m, 3), "scheme: got 3", InitlabError),
    ("scheme wrong rank", lambda m: initlab.initialize(m, "delta_orthogonal", seed=0),
     "allowed for 'delta_orthogonal': at least 3-D", InitlabError),
    ("bias unknown", lambda m: initlab.initialize(m, bias="nope"), "bias: got unknown name 'nope'", InitlabError),
    ("rules not a dict", lambda m: initlab.initialize(m, rules=[("fc", "zeros")]), "rules: got list", InitlabError),
    ("rule pattern matches nothing", lambda m: initlab.initialize(m, rules={"encoder.*": "zeros"}),
     "rules: got 'encoder.*'; allowed: patterns that match", InitlabError),
    ("rule type absent", lambda m: initlab.initialize(m, rules={nn.Conv2d: "zeros"}),
     "rules: got 'Conv2d'; allowed: module types of the model (", InitlabError),
    ("rule key not a module type", lambda m: initlab.initialize(m, rules={int: "zeros"}),
     "rules: got <class 'int'>; allowed: keys that are nn.Module types", InitlabError),
    ("rule key a number", lambda m: initlab.initialize(m, rules={3: "zeros"}), "rules: got 3; allowed: keys",
     InitlabError),
    ("rule value unknown", lambda m: initlab.initialize(m, rules={"fc.weight": "he_norml"}),
     "rules['fc.weight']: got unknown name 'he_norml'", InitlabError),
    ("rule names an int64 parameter", lambda m: initlab.initialize(m, rules={"step": "zeros"}, seed=0),
     "parameter 'step' (rule 'step'): got dtype torch.int64; allowed: a floating-point dtype", InitlabError),
    ("rule on a bias that cannot take it", lambda m: initlab.initialize(m, rules={"fc.bias": "orthogonal"}),
     "fc.bias (Linear, shape (8,), rule 'fc.bias'): shape: got (8,)", InitlabError),
    ("two rules through a tie", lambda m: initlab.initialize(m, rules={nn.Linear: "zeros", nn.Embedding: "ones"}),
     "for one tied parameter (emb.weight = head.weight)", InitlabError),
    ("seed not an integer", lambda m: initlab.initialize(m, seed=1.5), "seed: got 1.5; allowed: an integer",
     InitlabError),
    ("seed and generator", lambda m: initlab.initialize(m, seed=1, generator=torch.Generator()),
     "generator and seed: got both", InitlabError),
    ("generator wrong type", lambda m: initlab.initialize(m, generator="g"), "generator: got str", InitlabError),
    ("dry_run not a bool", lambda m: initlab.initialize(m, dry_run="yes"), "dry_run: got 'yes'", InitlabError),
    ("model not a module", lambda m: initlab.initialize([m]), "model: got list", InitlabError),
    ("callable fails on its third tensor", lambda m: initlab.initialize(m, fails_on_third_call(), seed=0),
     "failed on its third tensor", RuntimeError),
    ("callable fails, generator draws", lambda m: initlab.initialize(m, rules={"fc.weight": "he_uniform",
                                                                              nn.LSTM: fails_on_third_call()}),
     "failed on its third tensor", RuntimeError),
    ("interrupted mid-way", lambda m: initlab.initialize(m, fails_on_third_call(UserStop("stop"))), "stop", UserStop),
    ("torch_default, callable fails", lambda m: initlab.initialize(m, "torch_default",
                                                                   rules={nn.LSTM: fails_on_third_call()}),
     "failed on its third tensor", RuntimeError),
    ("plan: scheme unknown", lambda m: initlab.plan(m, "xavier_nromal"), "did you mean 'xavier_normal'", InitlabError),
    ("plan: bad rules", lambda m: initlab.plan(m, rules={"nothing": "zeros"}), "rules: got 'nothing'", InitlabError),
    ("apply_plan: a plan of another model", lambda m: initlab.model.apply_plan(m, other_plan),
     "the_plan: got a row for 'weight'", InitlabError),
    ("apply_plan: not a plan", lambda m: initlab.model.apply_plan(m, {"fc.weight": "zeros"}),
     "the_plan: got dict", InitlabError),
]


@pytest.mark.parametrize("call, fragment, exc", [pytest.param(c, f, e, id=i) for i, c, f, e in CASES])
def test_a_failed_call_says_why_in_one_line_and_changes_nothing(call, fragment, exc):
    torch.manual_seed(0)
    model = Net()
    before = Snapshot(model)
    with pytest.raises(exc) as info:
        call(model)
    msg = str(info.value)
    assert fragment in msg, msg
    assert "\n" not in msg
    if exc is InitlabError:
        assert re.search(STANDARD, msg), f"not in the standard form: {msg}"
    before.assert_unchanged()


def test_the_fills_before_the_failure_really_wrote():
    """The restore is not vacuous: the callable's writes land (7.0) when nothing fails."""
    model = Net()
    scheme = fails_on_third_call(RuntimeError("never"))
    initlab.initialize(model, rules={"fc.weight": scheme, "fc2.weight": scheme})
    assert bool((model.fc.weight == 7).all()) and bool((model.fc2.weight == 7).all())


def meta_net():
    with torch.device("meta"):
        m = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    m[3].eval()
    return m


META_CASES = [
    ("initialize on meta", lambda m: initlab.initialize(m, seed=0), "model: got parameters on the meta device (0.weight",
     InitlabError),
    ("materialize: callable fails on its third tensor",
     lambda m: initlab.materialize(m, fails_on_third_call(), seed=0), "failed on its third tensor", RuntimeError),
    ("materialize: scheme unknown", lambda m: initlab.materialize(m, "he_norml"), "scheme: got unknown name",
     InitlabError),
    ("materialize: device", lambda m: initlab.materialize(m, device="nowhere"), "device: got 'nowhere'", InitlabError),
    ("materialize: meta device", lambda m: initlab.materialize(m, device="meta"), "device: got 'meta'", InitlabError),
    ("materialize: seed", lambda m: initlab.materialize(m, seed=1.5), "seed: got 1.5", InitlabError),
    ("materialize: rules", lambda m: initlab.materialize(m, rules={"9.*": "zeros"}), "rules: got '9.*'",
     InitlabError),
]


@pytest.mark.parametrize("call, fragment, exc", [pytest.param(c, f, e, id=i) for i, c, f, e in META_CASES])
def test_a_model_on_meta_is_left_as_it_was(call, fragment, exc):
    model = meta_net()
    before = Snapshot(model)
    with pytest.raises(exc) as info:
        call(model)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    before.assert_unchanged()


MATERIALIZE_CASES = [
    (nn.Linear(3, 3), {}, "not on the meta device"),
    (42, {}, "model: got int"),
    (lambda: "not a module", {}, "model: got a factory that returned str"),
    (lambda: nn.LazyLinear(3), {}, "lazy modules"),
    (lambda: nn.Linear(3, 3), {"scheme": "he_norml"}, "did you mean 'he_normal'"),
    (lambda: nn.Linear(3, 3), {"bias": 7}, "bias: got 7"),
]


@pytest.mark.parametrize("bad, kwargs, fragment", MATERIALIZE_CASES,
                         ids=["real model", "not callable", "factory result", "lazy", "scheme", "bias"])
def test_materialize_names_bad_input(bad, kwargs, fragment):
    with pytest.raises(InitlabError) as info:
        initlab.materialize(bad, **kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert re.search(STANDARD, str(info.value))


def test_materialize_checks_parameter_dtypes_before_building():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.count = nn.Parameter(torch.zeros(2, dtype=torch.int32), requires_grad=False)

    with pytest.raises(InitlabError, match=r"parameter 'count' \(rule 'count'\): got dtype torch.int32"):
        initlab.materialize(Counter, rules={"count": "ones"}, seed=0)
