"""After probe() — also one whose forward or backward raises — the model is exactly as it was."""

import pytest
import torch
from torch import nn

from initlab.diagnostics import probe

from ._util import Snapshot


class Boom(nn.Module):
    """Passes its input through, or raises in the forward or (through an autograd function) the backward."""

    def __init__(self):
        super().__init__()
        self.mode = "ok"

    def forward(self, x):
        if self.mode == "forward":
            raise RuntimeError("forward failed on purpose")
        return _RaiseInBackward.apply(x) if self.mode == "backward" else x


class _RaiseInBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("backward failed on purpose")


def _busy_model():
    """Every kind of state a probe could disturb: BatchNorm statistics in train mode, dropout
    drawing from the global generator, a submodule in eval mode, frozen parameters, existing
    gradients (and missing ones), user hooks on modules and on a parameter, in-place ReLUs."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(256, 32), nn.BatchNorm1d(32), nn.ReLU(inplace=True), Boom(), nn.Linear(32, 10))
    net.train()
    net[6].eval()
    net[0].weight.requires_grad_(False)
    net[5].weight.grad = torch.full_like(net[5].weight, 0.5)
    net[9].bias.grad = torch.ones_like(net[9].bias)
    calls = []
    net[5].register_forward_hook(lambda m, a, o: calls.append("fwd"))
    net[9].register_forward_pre_hook(lambda m, a: calls.append("pre"))
    net[9].weight.register_hook(lambda g: None)
    net(torch.randn(4, 1, 8, 8))  # non-trivial running statistics and num_batches_tracked
    return net, calls


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)


def test_probe_leaves_everything_as_it_was(batch):
    net, calls = _busy_model()
    before = Snapshot(net)
    n_calls = len(calls)
    x, y = batch
    x_before = x.clone()
    rec = probe(net, x, y)
    before.assert_same(net)
    assert torch.equal(x, x_before)
    assert len(calls) == n_calls + 2  # the user's hooks ran once each, and are still there
    assert len(rec.where("weight")) == 3
    assert rec["0"]["weight_grad_norm"] > 0  # the frozen conv was measured anyway


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_probe_that_raises_leaves_everything_as_it_was(batch, where):
    net, _ = _busy_model()
    net[8].mode = where
    before = Snapshot(net)
    x, y = batch
    with pytest.raises(RuntimeError, match=f"{where} failed on purpose"):
        probe(net, x, y)
    before.assert_same(net)
    net[8].mode = "ok"
    probe(net, x, y)  # nothing half-attached is left to break the next run
    before.assert_same(net)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_probe_in_eval_mode_and_without_grad(batch, context):
    net, _ = _busy_model()
    net.eval()
    before = Snapshot(net)
    x, y = batch
    with context():
        rec = probe(net, x, y)
        assert torch.is_inference_mode_enabled() == (context is torch.inference_mode)
    assert rec["9"]["grad_std"] > 0 and rec["0"]["weight_grad_norm"] > 0
    before.assert_same(net)


def test_inplace_activation_on_the_input_does_not_touch_the_callers_tensor():
    net = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(4, 3))
    x = torch.randn(8, 4)
    x_before = x.clone()
    probe(net, x)
    assert torch.equal(x, x_before)
