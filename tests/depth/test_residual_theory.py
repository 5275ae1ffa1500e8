"""The residual stream's variance: Yang & Schoenholz 2017's recursion in closed form, the graph prediction of an
actual model against a wide network's measurement, the probe's stream rows, the residual finding and the doctor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import initlab
from initlab.experiments.lm import char_transformer
from initlab.theory import predict_graph, predict_model, predict_residual

from ._models import ResMLP


def test_relu_full_residual_grows_geometrically():
    """p^l = p^{l−1}(1 + σ_v²σ_w²/2) for ReLU without bias (Yang & Schoenholz 2017)."""
    sw2, sv2 = 2.0, 1.5
    p = predict_residual("relu", math.sqrt(sw2), blocks=6, sigma_v=math.sqrt(sv2), q0=0.7)
    want = 0.7 * (1 + sv2 * sw2 / 2) ** np.arange(7)
    np.testing.assert_allclose(p.p, want, rtol=1e-9)


def test_pre_norm_grows_linearly_and_a_multiplier_keeps_it_bounded():
    sw2, sv2, L = 2.0, 1.0, 32
    p = predict_residual("relu", math.sqrt(sw2), blocks=L, sigma_v=1.0, norm="pre")
    np.testing.assert_allclose(p.p, 1 + np.arange(L + 1) * sv2 * sw2 / 2, rtol=1e-9)  # std ∝ √L
    scaled = predict_residual("relu", math.sqrt(sw2), blocks=L, sigma_v=1.0, norm="pre", multiplier=L ** -0.5)
    assert scaled.p[-1] == pytest.approx(1 + sv2 * sw2 / 2, rel=1e-9)  # depth-μP: O(1)
    no_norm = predict_residual("relu", math.sqrt(sw2), blocks=L, sigma_v=1.0, multiplier=L ** -0.5)
    assert no_norm.p[-1] == pytest.approx((1 + 1.0 / L) ** L, rel=1e-9)  # → e, bounded


def test_tanh_three_layer_branch_against_a_monte_carlo_of_the_map():
    """m = 3: the inner layer applies the variance map; E[tanh(√q z)²] by Monte Carlo here."""
    z = np.random.default_rng(0).standard_normal(2_000_000)
    sw2, sb2, p0 = 1.7, 0.1, 0.5
    q1 = sw2 * p0 + sb2
    q2 = sw2 * np.mean(np.tanh(np.sqrt(q1) * z) ** 2) + sb2
    out = sw2 * np.mean(np.tanh(np.sqrt(q2) * z) ** 2) + sb2
    pred = predict_residual("tanh", math.sqrt(sw2), math.sqrt(sb2), blocks=1, branch_layers=3, q0=p0,
                            sigma_a=math.sqrt(sb2))
    assert pred.p[1] == pytest.approx(p0 + out, rel=2e-3)


class PreNormNet(nn.Module):
    def __init__(self, n_in=32, width=512, blocks=8, act=nn.ReLU):
        super().__init__()
        self.inp = nn.Linear(n_in, width)
        self.lns = nn.ModuleList(nn.LayerNorm(width) for _ in range(blocks))
        self.fc1 = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.fc2 = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.act = act()
        self.head = nn.Linear(width, 4)

    def forward(self, x):
        x = self.inp(x)
        for ln, a, b in zip(self.lns, self.fc1, self.fc2):
            x = x + b(self.act(a(ln(x))))
        return self.head(x)


@pytest.mark.slow
def test_graph_prediction_matches_a_wide_network_within_5_percent():
    torch.manual_seed(0)
    net = PreNormNet(width=1024, blocks=8)
    initlab.initialize(net, "he_normal", seed=0)
    x = torch.randn(512, 32)
    g = predict_graph(net, 1.0)
    with torch.no_grad():
        h = net.inp(x)
        measured = []
        for ln, a, b in zip(net.lns, net.fc1, net.fc2):
            h = h + b(net.act(a(ln(h))))
            measured.append(float(h.square().mean()))
    pred = [s["pred_stream_ms"] for s in g.stream]
    np.testing.assert_allclose(np.sqrt(measured), np.sqrt(pred), rtol=0.05)
    # and the recursion with the layers' nominal scales says the same as the graph with their actual ones
    rec = predict_residual("relu", math.sqrt(2), blocks=8, sigma_v=math.sqrt(2), norm="pre", q0=g.stream[0]["pred_stream_in_ms"])
    np.testing.assert_allclose(rec.p[1:], pred, rtol=0.02)


def test_predict_model_of_a_residual_net_reads_the_stream():
    net = ResMLP(n_in=16, width=64, blocks=3)
    initlab.initialize(net, "he_normal", seed=0)
    rows = predict_model(net, 1.0)
    by = {r["layer"]: r for r in rows}
    # the second block's first layer reads the stream after one block, not the first block's branch output
    g = predict_graph(net, 1.0)
    sw2 = by["blocks.1.layers.0"]["sigma_w2"]
    assert by["blocks.1.layers.0"]["pred_preact_var"] == pytest.approx(sw2 * g.stream[0]["pred_stream_ms"], rel=1e-12)
    assert by["head"]["pred_grad_var"] == 1.0 and all(math.isfinite(r["pred_grad_var"]) for r in rows)


def test_graph_prediction_refuses_attention_in_one_line():
    with pytest.raises(initlab.InitlabError) as e:
        predict_graph(char_transformer(16, depth=1, heads=2, context=8), 1.0)
    assert "which the mean-field prediction does not cover" in str(e.value) and "\n" not in str(e.value)


def test_probe_records_the_stream_beside_the_prediction():
    net = ResMLP(n_in=16, width=256, blocks=6)
    initlab.initialize(net, "he_normal", seed=0)
    rec = initlab.probe(net, torch.randn(256, 16), torch.randint(0, 3, (256,)))
    streams = rec.where("stream")
    assert [r["layer"] for r in streams] == ["stream.in"] + [f"stream.{i}" for i in range(6)]
    assert all(0.5 < r["ms"] / r["pred_out_var"] < 2 for r in streams)
    assert [w["branch"] for w in rec.where("weight")][:3] == [None, "in/0", "out/0"]
    assert rec.to_frame().shape[0] == len(rec)


@pytest.mark.parametrize("scheme, finding", [("he_normal", "residual"), ("skipinit", None), ("fixup", None),
                                             ("gpt2", None), ("scaled_residual", None)])
def test_the_residual_finding(scheme, finding):
    net = ResMLP(n_in=16, width=128, blocks=8)
    initlab.initialize(net, scheme, seed=0)
    kinds = [f.kind for f in initlab.diagnose(initlab.probe(net, torch.randn(128, 16), torch.randint(0, 3, (128,))))]
    assert ("residual" in kinds) == (finding == "residual")
    assert kinds == ["residual"] or kinds == ["healthy"]


def test_the_finding_can_fail_on_a_synthetic_stream():
    """A stream that grows 3× per branch is named; one that stays flat is not: the check can fail."""
    from initlab.diagnostics import diagnose
    from initlab.diagnostics.probe import LayerRecords

    net = ResMLP(n_in=16, width=64, blocks=4)
    initlab.initialize(net, "skipinit", seed=0)
    rec = initlab.probe(net, torch.randn(64, 16))
    assert "residual" not in [f.kind for f in diagnose(rec)]
    rows = [dict(r) for r in rec.rows]
    for i, r in enumerate(r for r in rows if r["role"] == "stream"):
        r["ms"] = 3.0 ** i
    grown = LayerRecords(tuple(rows), rec.loss, rec.loss_name, rec.batch_size)
    f = [f for f in diagnose(grown) if f.kind == "residual"][0]
    assert f.evidence["stream_ratio"] == pytest.approx(81.0) and f.fix == "skipinit"


def test_doctor_names_the_growing_stream_and_applies_the_recipe():
    net = ResMLP(n_in=16, width=128, blocks=8)
    initlab.initialize(net, "he_normal", seed=0)
    x, y = torch.randn(128, 16), torch.randint(0, 3, (128,))
    result = initlab.doctor(net, x, y, fix="auto", seed=0)
    assert [f.kind for f in result.findings] == ["residual"] and result.applied == "recipe skipinit"
    assert result.healthy and [o.removed for o in result.outcomes] == [True]
    lm = char_transformer(64, depth=6, heads=2, context=16)
    initlab.initialize(lm, seed=0)
    ids = torch.randint(0, 98, (8, 16))
    result = initlab.doctor(lm, ids, loss_fn=lambda out: out.square().mean())
    f = [f for f in result.findings if f.kind == "residual"][0]
    assert f.fix == "scaled_residual" and f.evidence["prenorm"] == 1 and "√N" in f.message


def test_doctor_cli_names_a_residual_spec_and_fixes_it():
    from click.testing import CliRunner

    from initlab.cli.doctor import doctor_cmd

    result = CliRunner().invoke(doctor_cmd, ["resmlp:depth=12,width=32,init=he_normal", "--fix", "auto"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "residual: the residual stream's mean square grows" in result.output
    assert "recipe skipinit" in result.output and "removed by the fix" in result.output
    bad = CliRunner().invoke(doctor_cmd, ["resmlp:depth=12,norm=post"])
    assert bad.exit_code != 0 and "resmlp spec field 'norm': got 'post'; allowed: 'none', 'pre'" in bad.output


def test_a_resmlp_spec_takes_a_recipe_as_its_init():
    from initlab.experiments.models import build_model, parameter_count

    net = build_model("resmlp:depth=3,width=8,init=rezero,norm=pre", (1, 8, 8), 10, seed=0)
    assert sorted(n for n, _ in net.named_parameters() if "alpha" in n)[0] == "blocks.0.layers.1.rezero_alpha"
    own = sum(p.numel() for n, p in net.named_parameters() if "alpha" not in n)
    assert own == parameter_count("resmlp:depth=3,width=8,norm=pre", (1, 8, 8), 10)
