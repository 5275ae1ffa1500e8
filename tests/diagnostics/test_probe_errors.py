"""Bad input to probe(): a clear InitlabError naming the argument, and the model left unchanged."""

import pytest
import torch
from torch import nn

from initlab.diagnostics import probe
from initlab.errors import InitlabError

from ._util import Snapshot, build_mlp

G = torch.Generator().manual_seed(0)
X = torch.randn(8, 1, 8, 8, generator=G)
WRONG = torch.randn(8, 1, 9, 9, generator=G)
Y = torch.arange(8)


@pytest.fixture
def net():
    return build_mlp(2, 16, nn.ReLU, "he_normal")


@pytest.mark.parametrize("call, match", [
    (lambda m: probe(m, WRONG),
     r"inputs: got a tensor of shape \(8, 81\), dtype torch.float32 at layer '1' \(Linear\) from a batch of shape "
     r"\(8, 1, 9, 9\); allowed: a last dimension of 64 there \(its in_features\)"),
    (lambda m: probe(m, X[:0]), r"inputs: got an empty batch of shape \(0, 1, 8, 8\); allowed: at least 1 sample"),
    (lambda m: probe(m, torch.tensor(1.0)), "inputs: got a 0-dimensional tensor"),
    (lambda m: probe(m, [1, 2, 3]), "inputs: got list; allowed: a tensor"),
    (lambda m: probe(m, X, Y[:5]), r"targets: got shape \(5,\); allowed: a batch dimension of 8"),
    (lambda m: probe(m, X, Y + 5), "targets: got class indices from 5 to 12; allowed: 0 to 9 for an output with 10 classes"),
    (lambda m: probe(m, X, torch.zeros(8, 3)), r"targets: got float targets of shape \(8, 3\)"),
    (lambda m: probe(m, X, loss_fn=lambda out: out), r"loss_fn: got a tensor of shape \(8, 10\) back from it; allowed: a callable returning a scalar"),
    (lambda m: probe(m, X, [0] * 8), "targets: got list"),
])
def test_bad_arguments(net, call, match):
    before = Snapshot(net)
    with pytest.raises(InitlabError, match=match):
        call(net)
    before.assert_same(net)


def test_conv_with_wrong_channels_names_expected_and_got():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    before = Snapshot(net)
    with pytest.raises(InitlabError, match=r"inputs: got a tensor of shape \(2, 1, 8, 8\), dtype torch.float32 at "
                                           r"layer '0' \(Conv2d\) .*; allowed: \(N, 3, H, W\) there, 3 input channels"):
        probe(net, torch.zeros(2, 1, 8, 8))
    before.assert_same(net)


def test_model_without_parameters_or_not_a_module():
    with pytest.raises(InitlabError, match="model: got a Sequential with no parameters"):
        probe(nn.Sequential(nn.ReLU(), nn.Flatten()), X)
    with pytest.raises(InitlabError, match="model: got function .*; allowed: a torch.nn.Module"):
        probe(lambda x: x, X)
