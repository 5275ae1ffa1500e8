"""lsuv(): Mishkin & Matas 2015 — orthonormal init, then each layer's output variance rescaled to 1."""

import math

import pytest
import torch
from torch import nn

import initlab
from initlab.diagnostics import diagnose, lsuv, probe

from ._util import Snapshot, build_mlp, normal


def _output_vars(model, x):
    """Each Linear/Conv layer's output variance (over all elements), measured by the test's own hooks."""
    out = {}

    def record(name, output):
        out.setdefault(name, output.detach().double().var(correction=0).item())

    hooks = [m.register_forward_hook(lambda m, a, o, n=n: record(n, o))
             for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 16, 3, padding=1),
                         nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Flatten(),
                         nn.Linear(16 * 64, 32), nn.Tanh(), nn.Linear(32, 10))


def test_every_layer_ends_within_tol_of_unit_variance(digits):
    x, _ = digits
    net = build_mlp(20, 128, nn.ReLU, normal(0.01), inplace=True)
    result = lsuv(net, x, seed=0)
    measured = _output_vars(net, x)
    assert len(result) == 21 and result.converged
    for row in result:
        assert abs(measured[row["layer"]] - 1.0) < 0.1
        assert row["final_var"] == pytest.approx(measured[row["layer"]], rel=1e-4)
        assert 1 <= row["iterations"] <= 10
    # one rescaling lands exactly: with a zero bias the output is linear in W for a fixed input
    assert max(abs(v - 1) for v in measured.values()) < 1e-3
    assert [f.kind for f in diagnose(probe(net, x))] == ["healthy"]


def test_weights_are_scaled_orthonormal_matrices_and_biases_zero(digits):
    x, _ = digits
    net = _cnn()
    lsuv(net, x, seed=1)
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            w = m.weight.detach().reshape(m.weight.shape[0], -1).double()
            s = torch.linalg.svdvals(w)
            assert (s.max() / s.min()).item() == pytest.approx(1.0, abs=1e-5)  # all singular values equal
            assert torch.count_nonzero(m.bias) == 0


def test_modes_hooks_buffers_and_grads_are_restored(digits):
    x, _ = digits
    net = _cnn()
    net.train()
    net[5].eval()
    net[7].register_forward_hook(lambda m, a, o: None)
    net[9].weight.grad = torch.ones_like(net[9].weight)
    before = Snapshot(net)
    bn = {k: v.clone() for k, v in net[3].state_dict().items() if "running" in k or "batches" in k}
    result = lsuv(net, x, seed=2)
    assert result.converged
    assert {n: m.training for n, m in net.named_modules()} == before.modes
    assert {(n, a): list(getattr(m, a).items()) for n, m in net.named_modules()
            for a in ("_forward_hooks", "_forward_pre_hooks")} == {
        k: v for k, v in before.hooks.items() if k[1] in ("_forward_hooks", "_forward_pre_hooks")}
    assert all(torch.equal(net[3].state_dict()[k], v) for k, v in bn.items())
    assert torch.equal(net[9].weight.grad, torch.ones_like(net[9].weight))
    # in eval mode (where LSUV measured) every layer is at unit variance
    net.eval()
    assert all(abs(v - 1) < 0.1 for v in _output_vars(net, x).values())


def test_transposed_and_grouped_convolutions(digits):
    x, _ = digits
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=4),
                        nn.ReLU(), nn.ConvTranspose2d(8, 4, 2, stride=2), nn.Tanh(),
                        nn.ConvTranspose2d(4, 4, 3, padding=1, groups=2))
    result = lsuv(net, x, seed=3)
    assert [r["kind"] for r in result] == ["Conv2d", "Conv2d", "ConvTranspose2d", "ConvTranspose2d"]
    assert result.converged
    assert all(abs(v - 1) < 0.1 for v in _output_vars(net, x).values())


def test_seed_reproduces_and_result_is_tidy(digits):
    x, _ = digits
    a, b, c = (build_mlp(3, 32, nn.Tanh, "zeros") for _ in range(3))
    ra, rb = lsuv(a, x, seed=5), lsuv(b, x, seed=5)
    lsuv(c, x, seed=6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[1].weight, c[1].weight)
    assert ra.to_json() == rb.to_json()
    frame = ra.to_frame()
    assert list(frame["layer"]) == ["1", "3", "5", "7"] and frame["converged"].all()
    assert "4/4 layers converged" in str(ra)


def test_bad_arguments_raise_clear_errors_and_leave_the_model_alone(digits):
    x, _ = digits
    net = build_mlp(2, 16, nn.ReLU, "he_normal")
    g = torch.Generator().manual_seed(0)
    wrong, small = torch.randn(8, 1, 9, 9, generator=g), torch.randn(4, 4, generator=g)
    before = Snapshot(net)
    cases = [
        (lambda: lsuv(net, x[:1]), r"batch: got 1 sample; allowed: at least 2 samples"),
        (lambda: lsuv(net, torch.full_like(x, math.nan)), "NaN/Inf"),
        (lambda: lsuv(net, x, tol=0), "tol: got 0"),
        (lambda: lsuv(net, x, max_iter=0), "max_iter: got 0"),
        (lambda: lsuv(net, x, seed=-1), "seed: got -1"),
        (lambda: lsuv(net, wrong), r"at layer '1' \(Linear\) .*allowed: a last dimension of 64"),
        (lambda: lsuv(nn.Sequential(nn.ReLU(), nn.LayerNorm(4)), small),
         "no Linear, Conv or ConvTranspose layer"),
        (lambda: lsuv("model", x), "model: got str"),
    ]
    for call, match in cases:
        with pytest.raises(initlab.InitlabError, match=match):
            call()
        before.assert_same(net)


def test_failure_midway_restores_the_parameters(digits):
    x, _ = digits

    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, h):
            self.calls += 1
            if self.calls == 3:  # after LSUV has already rescaled the first layer
                raise RuntimeError("fails on purpose")
            return h

    net = build_mlp(2, 16, nn.ReLU, "he_normal")
    net.insert(4, Fails())
    before = Snapshot(net)
    with pytest.raises(RuntimeError, match="on purpose"):
        lsuv(net, x, seed=0)
    before.assert_same(net)
