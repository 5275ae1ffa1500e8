"""Bad input to probe, diagnose, lsuv, doctor and theory, as one table: each call gets a one-line
InitlabError in the standard form (``<argument>: got <value>; allowed: <what>``) with the expected
fragment, and nothing changed — the model bit for bit, its gradients, requires_grad, modes and
hooks, torch's random state and thread count."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import initlab
from initlab.diagnostics import LayerRecords, Thresholds, diagnose, doctor, lsuv, probe
from initlab.errors import InitlabError
from initlab.theory import (chi1, correlation_map, critical_point, critical_sigma_w, depth_scales, fixed_point,
                            phase_diagram, predict, predict_model, variance_map)

from ._util import Snapshot, build_mlp

G = torch.Generator().manual_seed(0)
X = torch.randn(16, 1, 8, 8, generator=G)
Y = torch.randint(0, 10, (16,), generator=G)
NAN, INF = math.nan, math.inf


@pytest.fixture(scope="module")
def records():
    net = build_mlp(2, 16, nn.Tanh, "zeros")
    return probe(net, X, Y)


# (id, call(model, records), expected fragment) — the model is a 2-hidden-layer tanh MLP, records its probe
CASES = [
    # probe: every numeric option, every argument's type
    ("probe-rtol-negative", lambda m, r: probe(m, X, symmetry_rtol=-1), "symmetry_rtol: got -1; allowed: a finite "
                                                                        "number >= 0 and <= 1"),
    ("probe-rtol-nan", lambda m, r: probe(m, X, symmetry_rtol=NAN), "symmetry_rtol: got nan"),
    ("probe-rtol-inf", lambda m, r: probe(m, X, symmetry_rtol=INF), "symmetry_rtol: got inf"),
    ("probe-rtol-str", lambda m, r: probe(m, X, symmetry_rtol="1e-5"), "symmetry_rtol: got '1e-5'"),
    ("probe-rtol-bool", lambda m, r: probe(m, X, symmetry_rtol=True), "symmetry_rtol: got True"),
    ("probe-rtol-large", lambda m, r: probe(m, X, symmetry_rtol=2.0), "symmetry_rtol: got 2.0"),
    ("probe-theory-str", lambda m, r: probe(m, X, theory="yes"), "theory: got 'yes'; allowed: True or False"),
    ("probe-loss-fn", lambda m, r: probe(m, X, loss_fn=3), "loss_fn: got 3; allowed: None or a callable"),
    ("probe-model-none", lambda m, r: probe(None, X), "model: got NoneType None; allowed: a torch.nn.Module"),
    ("probe-inputs-none", lambda m, r: probe(m, None), "inputs: got NoneType; allowed: a tensor"),
    ("probe-targets-list", lambda m, r: probe(m, X, [0] * 16), "targets: got list; allowed: None or a tensor"),
    ("probe-targets-batch", lambda m, r: probe(m, X, Y[:3]), "targets: got shape (3,); allowed: a batch dimension"),
    ("probe-wrong-width", lambda m, r: probe(m, torch.ones(4, 3)), "inputs: got a tensor of shape (4, 3)"),
    # diagnose
    ("diagnose-none", lambda m, r: diagnose(None), "records: got NoneType None; allowed: the LayerRecords"),
    ("diagnose-list", lambda m, r: diagnose(list(r)), "records: got list"),
    ("diagnose-json-text", lambda m, r: diagnose(r.to_json()), "records: got str"),
    ("diagnose-thresholds", lambda m, r: diagnose(r, {"vanishing": 1e-3}), "thresholds: got dict"),
    ("thresholds-nan", lambda m, r: Thresholds(vanishing=NAN), "thresholds.vanishing: got nan"),
    ("thresholds-order", lambda m, r: Thresholds(vanishing=0.5, exploding=0.9), "allowed: vanishing < 1 < exploding"),
    ("thresholds-fraction", lambda m, r: Thresholds(dead=1.0), "thresholds.dead: got 1.0; allowed: a fraction"),
    # lsuv
    ("lsuv-tol-zero", lambda m, r: lsuv(m, X, tol=0), "tol: got 0; allowed: a finite number > 0 and < 1"),
    ("lsuv-tol-nan", lambda m, r: lsuv(m, X, tol=NAN), "tol: got nan"),
    ("lsuv-tol-one", lambda m, r: lsuv(m, X, tol=1.0), "tol: got 1.0"),
    ("lsuv-tol-str", lambda m, r: lsuv(m, X, tol="0.1"), "tol: got '0.1'"),
    ("lsuv-max-iter-float", lambda m, r: lsuv(m, X, max_iter=2.5), "max_iter: got 2.5; allowed: an integer >= 1"),
    ("lsuv-max-iter-bool", lambda m, r: lsuv(m, X, max_iter=True), "max_iter: got True"),
    ("lsuv-seed-negative", lambda m, r: lsuv(m, X, seed=-1), "seed: got -1; allowed: an integer >= 0"),
    ("lsuv-seed-str", lambda m, r: lsuv(m, X, seed="0"), "seed: got '0'"),
    ("lsuv-one-sample", lambda m, r: lsuv(m, X[:1]), "batch: got 1 sample; allowed: at least 2 samples"),
    ("lsuv-nan-batch", lambda m, r: lsuv(m, X * NAN), "batch: got NaN/Inf values"),
    ("lsuv-model", lambda m, r: lsuv("net", X), "model: got str 'net'; allowed: a torch.nn.Module"),
    # doctor
    ("doctor-fix", lambda m, r: doctor(m, X, Y, fix="bogus"), "fix: got 'bogus'; allowed: None, 'auto', 'lsuv'"),
    ("doctor-fix-bool", lambda m, r: doctor(m, X, Y, fix=True), "fix: got True"),
    ("doctor-seed", lambda m, r: doctor(m, X, Y, fix="auto", seed=-2), "seed: got -2; allowed: an integer >= 0"),
    ("doctor-seed-float", lambda m, r: doctor(m, X, Y, fix="auto", seed=1.5), "seed: got 1.5"),
    ("doctor-thresholds", lambda m, r: doctor(m, X, Y, thresholds=0.1), "thresholds: got float 0.1"),
    ("doctor-model", lambda m, r: doctor([m], X, Y), "model: got list"),
    ("doctor-rtol", lambda m, r: doctor(m, X, Y, fix="auto", symmetry_rtol=-1.0), "symmetry_rtol: got -1.0"),
    ("doctor-inputs", lambda m, r: doctor(m, "batch", Y, fix="auto"), "inputs: got str"),
    # theory
    ("critical-sigma-b-negative", lambda m, r: critical_sigma_w("tanh", -1), "sigma_b: got -1"),
    ("critical-sigma-b-nan", lambda m, r: critical_sigma_w("tanh", NAN), "sigma_b: got nan; allowed: a finite number"),
    ("critical-activation", lambda m, r: critical_sigma_w("tanhh"), "activation: got 'tanhh'"),
    ("critical-relu-bias", lambda m, r: critical_point("relu", 0.5), "sigma_b: got 0.5; allowed: a sigma_b at which "
                                                                     "'relu' has an edge of chaos"),
    ("critical-gelu", lambda m, r: critical_sigma_w("gelu"), "χ₁ = 1 only at unstable fixed points"),
    ("chi1-q-negative", lambda m, r: chi1("tanh", 1.0, q=-1.0), "q: got -1.0"),
    ("chi1-q-str", lambda m, r: chi1("tanh", 1.0, q="1"), "q: got '1'"),
    ("chi1-sigma-w-inf", lambda m, r: chi1("tanh", INF), "sigma_w: got inf; allowed: a finite number"),
    ("fixed-point-tol", lambda m, r: fixed_point("tanh", 1.2, tol=0), "tol: got 0.0; allowed: a number > 0"),
    ("fixed-point-max-iter", lambda m, r: fixed_point("tanh", 1.2, max_iter=2.5), "max_iter: got 2.5"),
    ("variance-map-q-nan", lambda m, r: variance_map(NAN, "relu", 1.0), "q: got nan"),
    ("predict-depth", lambda m, r: predict("relu", 1.0, depth=0), "depth: got 0; allowed: an integer >= 1"),
    ("predict-slope", lambda m, r: predict("leaky_relu", 1.0, negative_slope="x"), "negative_slope: got 'x'"),
    ("correlation-c", lambda m, r: correlation_map(2.0, 1.0, "tanh", 1.0), "c: got 2.0; allowed: correlations in"),
    ("depth-scales-activation", lambda m, r: depth_scales(3, 1.0), "activation: got 3"),
    ("phase-grid", lambda m, r: phase_diagram("tanh", [[1.0]], [0.0]), "sigma_w2_grid: got [[1.0]]"),
    ("predict-model-type", lambda m, r: predict_model("net"), "model: got str; allowed: a torch.nn.Module chain"),
    ("predict-model-input", lambda m, r: predict_model(m, input_variance=-1.0), "input_variance: got -1.0"),
]


@pytest.mark.parametrize("call, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(call, fragment, records):
    net = build_mlp(2, 16, nn.Tanh, "glorot_normal")
    net[1].weight.grad = torch.ones_like(net[1].weight)  # an existing gradient must survive
    net[3].eval()
    before = Snapshot(net)
    with pytest.raises(InitlabError) as err:
        call(net, records)
    msg = str(err.value)
    assert fragment in msg, msg
    assert "\n" not in msg and ": got " in msg and "; allowed: " in msg, msg
    before.assert_same(net)


def test_a_symmetric_network_is_found_at_every_valid_tolerance_and_invalid_ones_are_refused():
    net = build_mlp(2, 16, nn.Tanh, "zeros")
    for rtol in (0.0, 1e-5, 1.0):
        assert "symmetric" in [f.kind for f in diagnose(probe(net, X, symmetry_rtol=rtol))]
    for rtol in (-1.0, NAN):  # these once made the network "healthy"
        with pytest.raises(InitlabError, match="symmetry_rtol"):
            probe(net, X, symmetry_rtol=rtol)


def test_records_read_back_from_json_are_accepted(records):
    assert [f.kind for f in diagnose(LayerRecords.from_json(records.to_json()))] == \
        [f.kind for f in diagnose(records)]
    assert isinstance(initlab.diagnose, type(diagnose))
