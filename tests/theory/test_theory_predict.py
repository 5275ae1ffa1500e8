"""predict() and predict_model() against layer-by-layer values derived in the tests."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from initlab.errors import InitlabError
from initlab.theory import predict, predict_model

import theory_reference as ref


def test_predict_relu_he_is_flat():
    # q¹ = σw² q0 = 2; then q ← 2·q/2 = q. E[relu(h)²] = q/2, E[relu(h)] = √(q/2π), so Var = q/2 − q/(2π)
    p = predict("relu", math.sqrt(2), depth=7, q0=1.0)
    np.testing.assert_allclose(p.q, 2.0, rtol=1e-13)
    np.testing.assert_allclose(p.post_second_moment, 1.0, rtol=1e-13)
    np.testing.assert_allclose(p.post_variance, 1.0 - 1.0 / math.pi, rtol=1e-13)
    np.testing.assert_allclose(p.chi1, 1.0, rtol=1e-13)
    np.testing.assert_allclose(p.grad_var, 1.0, rtol=1e-12)


def test_predict_relu_gradients_halve_per_layer():
    # χ₁ = σw²/2 = 1/2: the gradient variance halves per layer going back
    depth = 6
    p = predict("relu", 1.0, depth=depth)
    np.testing.assert_allclose(p.grad_var, 0.5 ** np.arange(depth - 1, -1, -1), rtol=1e-12)


def test_predict_identity_closed_form():
    sw, sb, q0, depth = 0.9, 0.3, 2.0, 6
    l = np.arange(1, depth + 1)
    # q^l = σw^{2l} q0 + σb² (1 + σw² + … + σw^{2(l−1)})
    want = sw ** (2 * l) * q0 + sb**2 * (1 - sw ** (2 * l)) / (1 - sw**2)
    p = predict("identity", sw, sb, depth=depth, q0=q0)
    np.testing.assert_allclose(p.q, want, rtol=1e-13)
    np.testing.assert_allclose(p.post_variance, want, rtol=1e-13)
    np.testing.assert_allclose(p.grad_var, sw ** (2 * (depth - l)), rtol=1e-12)


def test_predict_tanh_matches_reference_recursion():
    sw2, sb2, q0, depth = 1.5, 0.05, 0.7, 8
    q = [sw2 * q0 + sb2]  # the input is not passed through φ
    for _ in range(depth - 1):
        q.append(sw2 * ref.expect(lambda z: np.tanh(math.sqrt(q[-1]) * z) ** 2) + sb2)
    q = np.array(q)
    second = np.array([ref.expect(lambda z: np.tanh(math.sqrt(v) * z) ** 2) for v in q])
    x1 = np.array([sw2 * ref.expect(lambda z: ref.dtanh(math.sqrt(v) * z) ** 2) for v in q])
    grad = np.append(np.cumprod(x1[:-1][::-1])[::-1], 1.0)
    p = predict("tanh", math.sqrt(sw2), math.sqrt(sb2), depth=depth, q0=q0)
    np.testing.assert_allclose(p.q, q, rtol=1e-11)
    np.testing.assert_allclose(p.post_second_moment, second, rtol=1e-11)
    np.testing.assert_allclose(p.post_variance, second, rtol=1e-11)  # odd φ: zero mean
    np.testing.assert_allclose(p.chi1, x1, rtol=1e-11)
    np.testing.assert_allclose(p.grad_var, grad, rtol=1e-10)


def test_prediction_rows_and_immutability():
    p = predict("sigmoid", 1.2, 0.1, depth=4)
    rows = p.to_rows()
    assert [r["layer"] for r in rows] == [1, 2, 3, 4]
    assert {"layer", "q", "post_variance", "post_second_moment", "chi1", "grad_var"} <= set(rows[0])
    assert rows[2]["q"] == p.q[2] and rows[0]["grad_var"] == p.grad_var[0]
    # sigmoid is not zero-mean: variance < second moment by E[φ]²
    assert np.all(p.post_variance < p.post_second_moment - 0.1)
    with pytest.raises(ValueError):
        p.q[0] = 1.0
    with pytest.raises(AttributeError):
        p.depth = 5


# --------------------------------------------------------------------------- predict_model


def _scaled_chain(widths, act, sw2, sb2, seed=0, last_act=True):
    """A Sequential of Linear layers whose σw² = fan_in·mean(W²) and σb² = mean(b²) are the given ones."""
    torch.manual_seed(seed)
    layers = [nn.Flatten()]
    for i, (fi, fo) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(fi, fo)
        with torch.no_grad():
            lin.weight.mul_(math.sqrt(sw2 / (fi * lin.weight.double().pow(2).mean().item())))
            lin.bias.mul_(math.sqrt(sb2 / lin.bias.double().pow(2).mean().item()))
        layers.append(lin)
        if last_act or i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def test_predict_model_matches_predict_on_its_own_scales():
    sw2, sb2 = 1.5, 0.05
    model = _scaled_chain([64] * 5, nn.Tanh, sw2, sb2)
    rows = predict_model(model, input_variance=0.8)
    # the test's own reading of the scales
    lins = [m for m in model if isinstance(m, nn.Linear)]
    for r, lin in zip(rows, lins):
        w = lin.weight.detach().double()
        assert r["sigma_w2"] == pytest.approx(w.shape[1] * w.pow(2).mean().item(), rel=1e-6)
        assert r["sigma_b2"] == pytest.approx(lin.bias.detach().double().pow(2).mean().item(), rel=1e-6)
    p = predict("tanh", math.sqrt(sw2), math.sqrt(sb2), depth=4, q0=0.8)
    assert [r["layer"] for r in rows] == ["1", "3", "5", "7"] and [r["index"] for r in rows] == [0, 1, 2, 3]
    assert all(r["activation"] == "Tanh" for r in rows)
    np.testing.assert_allclose([r["pred_preact_var"] for r in rows], p.q, rtol=1e-6)
    np.testing.assert_allclose([r["pred_out_var"] for r in rows], p.post_variance, rtol=1e-6)
    np.testing.assert_allclose([r["pred_grad_var"] for r in rows], p.grad_var, rtol=1e-5)


def test_predict_model_unequal_widths_and_no_final_activation():
    # backward factor fan_out(next)·mean(W_next²) = σw²·fan_out/fan_in; last layer has no activation
    sw2 = 2.0
    model = _scaled_chain([10, 40, 20], nn.ReLU, sw2, 0.0, last_act=False)
    model[2].inplace = True  # an inplace activation must not disturb anything
    rows = predict_model(model, input_variance=1.0)
    assert rows[0]["pred_preact_var"] == pytest.approx(2.0, rel=1e-6)
    assert rows[1]["pred_preact_var"] == pytest.approx(2.0, rel=1e-6)  # He: 2 · (2/2)
    assert rows[1]["activation"] == "identity" and rows[1]["pred_out_var"] == rows[1]["pred_preact_var"]
    assert rows[0]["pred_out_var"] == pytest.approx(2.0 * (0.5 - 1 / (2 * math.pi)), rel=1e-6)
    assert rows[0]["pred_grad_var"] == pytest.approx(0.5 * sw2 * 20 / 40, rel=1e-6)


def test_predict_model_dropout_and_leading_activation():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Tanh(), nn.Linear(30, 30, bias=False), nn.ReLU(), nn.Dropout(0.25),
                          nn.Linear(30, 30, bias=False))
    w1, w2 = (model[i].weight.detach().double() for i in (1, 4))
    sw1, sw2 = 30 * w1.pow(2).mean().item(), 30 * w2.pow(2).mean().item()
    m0 = ref.expect(lambda z: np.tanh(math.sqrt(0.5) * z) ** 2)  # the input passes through tanh first
    rows = predict_model(model, input_variance=0.5)
    assert rows[0]["pred_preact_var"] == pytest.approx(sw1 * m0, rel=1e-9)
    # ReLU then inverted dropout (training mode): second moment (q/2)/(1−p), gradient factor (1/2)/(1−p)
    assert rows[1]["pred_preact_var"] == pytest.approx(sw2 * sw1 * m0 / 2 / 0.75, rel=1e-9)
    assert rows[0]["pred_grad_var"] == pytest.approx(0.5 / 0.75 * sw2, rel=1e-9)
    model.eval()
    rows = predict_model(model, input_variance=0.5)
    assert rows[1]["pred_preact_var"] == pytest.approx(sw2 * sw1 * m0 / 2, rel=1e-9)


def test_predict_model_leaves_the_model_untouched():
    model = _scaled_chain([16, 16, 16], nn.GELU, 1.3, 0.1)
    model[0:3].requires_grad_(False)
    calls = []
    handle = model[2].register_forward_hook(lambda *a: calls.append(1))
    before = copy.deepcopy(model.state_dict())
    flags = [p.requires_grad for p in model.parameters()]
    rng = torch.get_rng_state()
    predict_model(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]) and v.dtype == before[k].dtype
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert model.training and calls == [] and torch.equal(torch.get_rng_state(), rng)
    handle.remove()


def test_predict_model_unknown_module_is_named():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(InitlabError, match=r"'1' \(BatchNorm1d\).*allowed: nn.Linear"):
        predict_model(model)


def test_predict_model_needs_a_linear_layer():
    with pytest.raises(InitlabError, match="model: .*without nn.Linear"):
        predict_model(nn.Sequential(nn.ReLU()))
    with pytest.raises(InitlabError, match="model: got str"):
        predict_model("not a model")


def test_predict_model_refuses_containers_with_their_own_weights():
    # MultiheadAttention owns in_proj_weight and has an out_proj Linear child: not a chain
    model = nn.Sequential(nn.Linear(8, 8), nn.MultiheadAttention(8, 2))
    with pytest.raises(InitlabError, match=r"'1' \(MultiheadAttention\)"):
        predict_model(model)


def test_predict_model_kinked_activation_module():
    # ReLU6 after a layer with q ≈ 4: E[relu6(h)²] = ∫₀⁶ x² N(x; 0, q) dx + 36·P(h > 6), both closed form
    from scipy.special import ndtr

    lin1, lin2 = nn.Linear(50, 50, bias=False), nn.Linear(50, 50, bias=False)
    with torch.no_grad():
        lin1.weight.fill_(math.sqrt(4.0 / 50))  # σw² = 50 · mean(W²) = 4
        lin2.weight.fill_(math.sqrt(1.0 / 50))
    rows = predict_model(nn.Sequential(lin1, nn.ReLU6(), lin2), input_variance=1.0)
    q = 50 * lin1.weight.double().pow(2).mean().item()  # 4 up to float32 rounding
    sw2 = 50 * lin2.weight.double().pow(2).mean().item()
    b = 6.0 / math.sqrt(q)
    pdf = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    # ∫₀^6 x² N(x; 0, q) dx = q[(Φ(b) − 1/2) − b·φ(b)] (integration by parts)
    second = q * ((ndtr(b) - 0.5) - b * pdf) + 36 * ndtr(-b)
    assert rows[1]["pred_preact_var"] == pytest.approx(sw2 * second, rel=1e-12)


def test_predict_exploding_chain_overflows_to_inf_quietly():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = predict("relu", 10.0, depth=400)  # σw²/2 = 50 per layer: past 1e308 after ~180 layers
        bounded = predict("tanh", 10.0, depth=400)
    assert np.isinf(p.q[-1]) and np.isinf(p.post_variance[-1]) and np.isinf(p.grad_var[0])
    assert np.all(np.isfinite(bounded.q))  # tanh saturates: q* ≤ σw² + σb²
