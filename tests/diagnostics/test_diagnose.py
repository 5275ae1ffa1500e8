"""diagnose(): the failures the initialization literature describes, named on real digits with
deep (20 hidden layers) and wide (128 units) MLPs."""

import json
import math

import pytest
import torch
from torch import nn

import initlab
from initlab.diagnostics import Finding, LayerRecords, Thresholds, diagnose, probe

from ._util import build_mlp, normal

DEPTH, WIDTH = 20, 128


def _kinds(act, init, digits, **kw):
    x, y = digits
    rec = probe(build_mlp(DEPTH, WIDTH, act, init, **kw), x, y)
    return rec, diagnose(rec)


@pytest.mark.parametrize("init", ["zeros", {"name": "constant", "params": {"value": 0.5}}])
@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh])
def test_zero_and_constant_init_are_symmetric(digits, act, init):
    rec, findings = _kinds(act, init, digits)
    hidden = rec.where("weight")[:-1]
    assert len(hidden) == DEPTH
    assert all(r["distinct_units"] == 1 and r["units"] == WIDTH for r in hidden)
    sym = [f for f in findings if f.kind == "symmetric"]
    assert len(sym) == 1 and sym[0].layers == tuple(r["layer"] for r in hidden)
    assert sym[0].evidence["min_distinct_units"] == 1
    expected = "he_normal" if act is nn.ReLU else "glorot_normal"
    assert set(sym[0].fix.values()) == {expected}
    assert "healthy" not in [f.kind for f in findings]


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh])
def test_tiny_random_init_vanishes(digits, act):
    rec, findings = _kinds(act, normal(0.01), digits)
    kinds = [f.kind for f in findings]
    assert "vanishing" in kinds and "healthy" not in kinds and "exploding" not in kinds
    f = findings[kinds.index("vanishing")]
    # each layer multiplies the signal's mean square by about fan_in·σ² (·½ for ReLU): the test's
    # own estimate of the last layer's input relative to the first, far below the threshold
    gain = WIDTH * 0.01 ** 2 * (0.5 if act is nn.ReLU else 1.0)
    assert f.evidence["signal_ratio"] < 1e-3 and gain ** (DEPTH - 1) < 1e-30
    assert f.evidence["grad_ratio"] < 1e-3
    scheme = "he_normal" if act is nn.ReLU else "glorot_normal"
    assert str(f).startswith("vanishing: ") and f"{scheme} for {DEPTH if act is nn.ReLU else DEPTH + 1} layers" \
        in str(f)


def test_large_random_init_explodes_with_relu(digits):
    rec, findings = _kinds(nn.ReLU, normal(1.0), digits)
    kinds = [f.kind for f in findings]
    assert "exploding" in kinds and "healthy" not in kinds and "vanishing" not in kinds
    f = findings[kinds.index("exploding")]
    assert f.evidence["signal_ratio"] > 1e3 and f.evidence["grad_ratio"] > 1e3
    assert set(f.fix.values()) == {"he_normal", "glorot_normal"}  # glorot for the linear output layer
    assert f.fix[rec.where("weight")[0]["layer"]] == "he_normal"


@pytest.mark.parametrize("act", [nn.Tanh, nn.Sigmoid])
def test_large_random_init_saturates_tanh_and_sigmoid(digits, act):
    rec, findings = _kinds(act, normal(1.0), digits)
    sat = [f for f in findings if f.kind == "saturated"]
    assert sat and "healthy" not in [f.kind for f in findings]
    assert sat[0].evidence["max_fraction"] > 0.5
    assert set(sat[0].fix.values()) == {"glorot_normal"}


@pytest.mark.parametrize("act, init", [(nn.ReLU, "he_normal"), (nn.Tanh, "glorot_normal"),
                                       (nn.SELU, "lecun_normal")])
def test_matched_schemes_are_healthy(digits, act, init):
    rec, findings = _kinds(act, init, digits)
    assert [f.kind for f in findings] == ["healthy"], [str(f) for f in findings]
    assert findings[0].fix is None and len(findings[0].layers) == DEPTH + 1
    assert str(findings[0]).startswith("healthy: ")


def test_nonfinite_inputs_are_a_finding_not_a_crash(digits):
    x, y = digits
    x = x.clone()
    x[0, 0, 3, 3] = float("nan")
    x[1, 0, 2, 2] = float("inf")
    rec = probe(build_mlp(3, 32, nn.ReLU, "he_normal"), x, y)
    findings = diagnose(rec)
    assert findings[0].kind == "nonfinite"
    assert findings[0].evidence["input_nonfinite"] == 2 and findings[0].fix is None
    assert rec["<input>"]["nonfinite"] == 2
    assert "healthy" not in [f.kind for f in findings]


def test_overflowing_activations_are_nonfinite():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.fill_(1e30)
                m.bias.zero_()
    rec = probe(net, torch.ones(4, 4))
    f = diagnose(rec)[0]
    assert f.kind == "nonfinite" and f.layers[0] == "2"  # 4·1e30 is finite, 8·4e30·1e30 is not
    assert f.fix == {"0": "he_normal", "2": "he_normal", "4": "glorot_normal"}


def test_dead_relu_layers_from_negative_biases(digits):
    x, y = digits
    net = build_mlp(4, 64, nn.ReLU, "he_normal")
    with torch.no_grad():
        net[3].bias.fill_(-10.0)
    findings = diagnose(probe(net, x, y))
    with torch.no_grad():
        expected = (net[:5](x) == 0).all(0).double().mean().item()
    assert expected > 0.5
    dead = [f for f in findings if f.kind == "dead"]
    assert len(dead) == 1 and dead[0].layers == ("4",) and dead[0].evidence["max_fraction"] == expected
    assert dead[0].fix == {"3": "he_normal"}


def test_thresholds_are_configurable_and_checked(digits):
    # std 0.05, width 128, ReLU: each layer scales the mean square by about 128·0.05²/2 = 0.16
    rec, findings = _kinds(nn.ReLU, normal(0.05), digits)
    f = [f for f in diagnose(rec, Thresholds()) if f.kind == "vanishing"][0]
    assert 1e-30 < f.evidence["signal_ratio"] < 1e-10
    assert "vanishing" not in [f.kind for f in diagnose(rec, Thresholds(vanishing=1e-40))]
    for bad, match in [({"vanishing": 2.0}, "vanishing < 1 < exploding"), ({"exploding": 0.5}, "vanishing < 1"),
                       ({"saturated": 1.5}, "thresholds.saturated"), ({"dead": -0.1}, "thresholds.dead"),
                       ({"vanishing": float("nan")}, "thresholds.vanishing"), ({"symmetric": True}, "symmetric")]:
        with pytest.raises(initlab.InitlabError, match=match):
            Thresholds(**bad)
    with pytest.raises(initlab.InitlabError, match="thresholds: got dict"):
        diagnose(rec, {"vanishing": 1e-3})


def test_findings_are_readable_and_serializable(digits):
    rec, findings = _kinds(nn.ReLU, "zeros", digits)
    text = str(findings[0])
    assert text.startswith("symmetric: ") and "'1'" in text and "he_normal for 20 layers" in text
    data = json.loads(json.dumps([f.to_dict() for f in findings], allow_nan=False))
    assert data[0]["kind"] == "symmetric" and data[0]["fix"]["1"] == "he_normal"
    assert isinstance(findings[0], Finding)
    again = diagnose(LayerRecords.from_json(rec.to_json()))
    assert [f.to_dict() for f in again] == [f.to_dict() for f in findings]


def test_fix_is_lsuv_where_no_scheme_rule_matches(digits):
    x, y = digits
    rec = probe(build_mlp(DEPTH, 64, nn.GELU, normal(0.01)), x, y)
    f = [f for f in diagnose(rec) if f.kind == "vanishing"][0]
    assert f.fix == "lsuv" and str(f).endswith("fix: lsuv")


def test_package_call_is_the_function(digits):
    x, y = digits
    rec = initlab.probe(build_mlp(2, 16, nn.Tanh, "glorot_normal"), x, y)
    assert [f.kind for f in initlab.diagnose(rec)] == [f.kind for f in diagnose(rec)]
    assert not math.isnan(rec.loss)
