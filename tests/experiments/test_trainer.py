"""The single-model trainer: config checks, determinism, history, gradient statistics, divergence."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from initlab.errors import InitlabError
from initlab.experiments.datasets import load
from initlab.experiments.models import build_model, mlp
from initlab.experiments.trainer import Optimizer, TrainConfig, TrainResult, train

HISTORY_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "diverged"}


# ------------------------------------------------------------------------------------ config


@pytest.mark.parametrize("field, value, match", [
    ("depth", 0, "depth: got 0; allowed: an integer >= 1"),
    ("width", 0, "width: got 0"),
    ("width", 2.5, "width: got 2.5"),
    ("epochs", 0, "epochs: got 0"),
    ("batch_size", 0, "batch_size: got 0"),
    ("seed", -3, "seed: got -3; allowed: an integer >= 0"),
    ("lr", 0, "lr: got 0"),
    ("lr", -0.1, "lr: got -0.1"),
    ("lr", float("nan"), "lr: got nan"),
    ("momentum", 1.0, r"momentum: got 1.0; allowed: a finite number >= 0 and < 1"),
    ("momentum", -0.5, "momentum: got -0.5"),
    ("optimizer", "adamw", r"optimizer: got 'adamw'; allowed: 'sgd', 'adam'; did you mean 'adam'"),
    ("activation", "rleu", r"activation: got 'rleu'.*did you mean 'relu'"),
    ("dataset", "digit", r"dataset: got 'digit'.*did you mean 'digits'"),
    ("model", "rnn", r"model: got 'rnn'; allowed: 'mlp', 'cnn'"),
    ("scheme", "he_nromal", r"scheme: .*did you mean 'he_normal'"),
    ("scheme_params", {"std": 0.1}, r"scheme_params: got \{'std': 0.1\} with scheme 'auto'"),
    ("bias", 1, "bias: got 1; allowed: True or False"),
    ("grad_std_steps", (0, -1), r"grad_std_steps: got -1; allowed: an integer >= 0"),
    ("grad_std_steps", 5, "grad_std_steps: got int 5"),
])
def test_validate_names_the_bad_field(field, value, match):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(InitlabError, match=match):
        cfg.validate()
    with pytest.raises(InitlabError, match=match):
        train(cfg)


def test_scheme_params_are_checked_against_the_scheme():
    TrainConfig(scheme="random_normal", scheme_params={"std": 0.01}).validate()
    with pytest.raises(InitlabError, match=r"scheme: .*unknown parameter.*'sdt'.*did you mean 'std'"):
        TrainConfig(scheme="random_normal", scheme_params={"sdt": 0.01}).validate()
    with pytest.raises(InitlabError, match="scheme_params: got"):
        TrainConfig(scheme="random_normal", scheme_params=[1]).validate()


def test_dict_round_trip():
    cfg = TrainConfig(dataset="mnist1d", depth=7, scheme="random_normal", scheme_params={"std": 0.05},
                      optimizer="adam", grad_std_steps=(0, 10))
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d and d["grad_std_steps"] == [0, 10]
    back = TrainConfig.from_dict(json.loads(json.dumps(d)))
    assert back == cfg and isinstance(back.grad_std_steps, tuple)
    with pytest.raises(InitlabError, match=r"unknown field\(s\) 'momentun'.*did you mean 'momentum'"):
        TrainConfig.from_dict({"momentun": 0.1})


def test_train_rejects_a_non_config():
    with pytest.raises(InitlabError, match="config: got dict"):
        train({"depth": 3})


# ------------------------------------------------------------------------------------ optimizer


@pytest.mark.parametrize("kind, momentum", [("sgd", 0.9), ("sgd", 0.0), ("adam", 0.9), ("adam", 0.5)])
def test_optimizer_reproduces_torch_optim(kind, momentum):
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(6, 4, generator=gen).requires_grad_(), torch.randn(4, generator=gen).requires_grad_()]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    opt = Optimizer(ours, kind, 0.03, momentum)
    torch_opt = (torch.optim.SGD(ref, lr=0.03, momentum=momentum) if kind == "sgd"
                 else torch.optim.Adam(ref, lr=0.03, betas=(momentum, 0.999), eps=1e-8))
    for _ in range(15):
        grads = [torch.randn(p.shape, generator=gen) for p in ours]
        for p, q, g in zip(ours, ref, grads):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        torch_opt.step()
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------ training


def test_history_shape_learning_and_determinism(digits_small):
    cfg = TrainConfig(depth=2, width=32, epochs=3, lr=0.05, seed=4)
    state = torch.random.get_rng_state()
    a = train(cfg, data=digits_small)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is not touched
    assert isinstance(a, TrainResult) and a.config is cfg and not a.diverged
    assert [r["epoch"] for r in a.history] == [0, 1, 2, 3]
    assert all(set(r) == HISTORY_KEYS for r in a.history)
    assert a.steps == 3 * math.ceil(320 / 64)
    assert a.history[0]["train_acc"] < 0.35  # untrained: near chance
    assert a.history[-1]["train_acc"] > 0.8 and a.history[-1]["test_acc"] > 0.7
    assert a.history[-1]["train_loss"] < a.history[0]["train_loss"]

    b = train(cfg, data=digits_small)
    assert a.history == b.history and a.grad_std == b.grad_std
    for va, vb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(va, vb)
    c = train(TrainConfig(depth=2, width=32, epochs=3, lr=0.05, seed=5), data=digits_small)
    assert c.history != a.history


def test_history_losses_are_the_full_split_cross_entropy(digits_small):
    result = train(TrainConfig(depth=1, width=16, epochs=1), data=digits_small)
    net = result.model
    with torch.no_grad():
        out = net(digits_small.x_test)
    # mean cross-entropy = mean of −log softmax at the true class, computed here from the logits
    log_p = out - torch.logsumexp(out, dim=1, keepdim=True)
    ref_loss = float(-log_p[torch.arange(len(out)), digits_small.y_test].mean())
    ref_acc = float((out.argmax(1) == digits_small.y_test).double().mean())
    assert result.history[-1]["test_loss"] == pytest.approx(ref_loss, rel=1e-5)
    assert result.history[-1]["test_acc"] == pytest.approx(ref_acc)


def test_grad_std_matches_an_independent_backward_pass(digits_small):
    cfg = TrainConfig(depth=3, width=24, epochs=1, batch_size=32, seed=3, grad_std_steps=(0, 2, 999))
    result = train(cfg, data=digits_small)
    steps = sorted({r["step"] for r in result.grad_std})
    assert steps == [0, 2]  # step 999 is past the end and is skipped
    rows0 = [r for r in result.grad_std if r["step"] == 0]
    assert [r["layer"] for r in rows0] == [0, 1, 2, 3]
    assert [r["layer_name"] for r in rows0] == ["1", "3", "5", "7"]

    # rebuild the untrained model and the first minibatch (randperm from a generator seeded with the seed)
    net = build_model(cfg.model_spec(), digits_small.input_shape, 10, seed=3)
    idx = torch.randperm(320, generator=torch.Generator().manual_seed(3))[:32]
    h = digits_small.x_train[idx].flatten(1)
    outs = []
    for layer in net[1:]:
        h = layer(h)
        if isinstance(layer, nn.Linear):
            h.retain_grad()
            outs.append(h)
    F.cross_entropy(h, digits_small.y_train[idx]).backward()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for row, z, lin in zip(rows0, outs, linears):
        assert row["grad_std"] == pytest.approx(float(z.grad.std()), rel=1e-5)
        assert row["weight_grad_norm"] == pytest.approx(float(lin.weight.grad.norm()), rel=1e-5)


def test_divergence_is_caught_and_training_stops(digits_small):
    cfg = TrainConfig(depth=3, width=32, epochs=5, lr=10.0, scheme="random_normal", scheme_params={"std": 1.0},
                      seed=0, grad_std_steps=())
    result = train(cfg, data=digits_small)
    assert result.diverged
    assert result.history[-1]["diverged"] and not result.history[0]["diverged"]
    assert len(result.history) < 6  # stopped early
    assert not all(math.isfinite(result.history[-1][k]) for k in ("train_loss", "test_loss"))


def test_non_finite_start_stops_at_epoch_zero(digits_small):
    net = mlp(digits_small.input_shape, 10, depth=1, width=8)
    with torch.no_grad():
        net[1].weight.fill_(float("inf"))
    result = train(TrainConfig(depth=1, width=8, epochs=3), data=digits_small, model=net)
    assert result.diverged and result.steps == 0
    assert len(result.history) == 1 and result.history[0]["diverged"]
    assert result.model is net


def test_given_model_is_trained_in_place(digits_small):
    net = mlp(digits_small.input_shape, 10, depth=1, width=8)
    before = net[1].weight.detach().clone()
    result = train(TrainConfig(depth=1, width=8, epochs=1), data=digits_small, model=net)
    assert result.model is net and not torch.equal(before, net[1].weight.detach())
    assert all(p.grad is None for p in net.parameters())


def test_adam_and_cnn_train(digits_small):
    r = train(TrainConfig(model="cnn", depth=2, width=8, optimizer="adam", lr=0.01, epochs=2), data=digits_small)
    assert not r.diverged and r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    m1d = load("mnist1d", n_train=256, n_test=64)
    r = train(TrainConfig(dataset="mnist1d", model="cnn", depth=2, width=8, epochs=1, grad_std_steps=(0,)), data=m1d)
    assert isinstance(r.model[0], nn.Conv1d) and len(r.grad_std) == 3
