"""The stacked trainer gives what training each config alone gives, up to float rounding."""

from __future__ import annotations

import math

import pytest
import torch

from initlab.errors import InitlabError
from initlab.experiments.batched import train_batched
from initlab.experiments.models import build_model
from initlab.experiments.trainer import TrainConfig, train


def _close(a: float, b: float, rel: float = 1e-4, abs_: float = 1e-6) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= abs_ + rel * abs(b)


def assert_same_run(solo, stacked, rel=1e-4, weight_tol=2e-5):
    assert solo.diverged == stacked.diverged and solo.steps == stacked.steps
    assert len(solo.history) == len(stacked.history)
    for rs, rb in zip(solo.history, stacked.history):
        assert rs["epoch"] == rb["epoch"] and rs["diverged"] == rb["diverged"]
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            assert _close(rb[key], rs[key], rel), (key, rs, rb)
    assert len(solo.grad_std) == len(stacked.grad_std)
    for gs, gb in zip(solo.grad_std, stacked.grad_std):
        assert (gs["step"], gs["layer"], gs["layer_name"]) == (gb["step"], gb["layer"], gb["layer_name"])
        assert _close(gb["grad_std"], gs["grad_std"], rel) and _close(gb["weight_grad_norm"], gs["weight_grad_norm"], rel)
    for (name, ws), wb in zip(solo.model.state_dict().items(), stacked.model.state_dict().values()):
        scale = max(1.0, float(ws.abs().max()))
        torch.testing.assert_close(wb, ws, rtol=0, atol=weight_tol * scale, equal_nan=True, msg=name)


def test_sgd_batch_equals_one_at_a_time(digits_small):
    configs = [
        TrainConfig(depth=3, width=24, epochs=2, scheme="auto", seed=0, lr=0.02, momentum=0.9, grad_std_steps=(0, 6)),
        TrainConfig(depth=3, width=24, epochs=2, scheme="glorot_normal", seed=1, lr=0.05, momentum=0.0,
                    grad_std_steps=(3,)),
        TrainConfig(depth=3, width=24, epochs=2, scheme="orthogonal", seed=2, lr=0.01, momentum=0.5,
                    grad_std_steps=()),
        TrainConfig(depth=3, width=24, epochs=2, scheme="random_normal", scheme_params={"std": 0.05}, seed=3,
                    lr=0.03, momentum=0.9),
    ]
    stacked = train_batched(configs, data=digits_small)
    assert [r.config for r in stacked] == configs
    for config, result in zip(configs, stacked):
        assert_same_run(train(config, data=digits_small), result)


def test_adam_batch_equals_one_at_a_time(digits_small):
    configs = [TrainConfig(depth=2, width=32, epochs=2, optimizer="adam", scheme=s, seed=k, lr=lr, momentum=mu)
               for k, (s, lr, mu) in enumerate([("auto", 0.003, 0.9), ("lecun_normal", 0.001, 0.8),
                                                ("he_uniform", 0.002, 0.0)])]
    for config, result in zip(configs, train_batched(configs, data=digits_small)):
        assert_same_run(train(config, data=digits_small), result)


def test_initial_weights_are_those_of_build_model(digits_small):
    configs = [TrainConfig(depth=2, width=16, epochs=1, lr=1e-9, momentum=0.0, scheme=s, seed=k)
               for k, s in enumerate(["he_normal", "orthogonal", "torch_default"])]
    for config, result in zip(configs, train_batched(configs, data=digits_small)):
        fresh = build_model(config.model_spec(), (1, 8, 8), 10, seed=config.seed)
        for (name, w0), w1 in zip(fresh.state_dict().items(), result.model.state_dict().values()):
            torch.testing.assert_close(w1, w0, rtol=0, atol=1e-6, msg=name)  # lr 1e-9: one epoch moves nothing


def test_a_diverging_model_leaves_the_others_alone(digits_small):
    bad = TrainConfig(depth=3, width=32, epochs=3, lr=10.0, scheme="random_normal", scheme_params={"std": 1.0},
                      seed=0, grad_std_steps=(0, 1, 2, 3, 4, 5, 6, 7))
    good = [TrainConfig(depth=3, width=32, epochs=3, lr=0.02, seed=k, grad_std_steps=(0, 1, 2, 3, 4, 5, 6, 7))
            for k in (1, 2)]
    configs = [good[0], bad, good[1]]
    stacked = train_batched(configs, data=digits_small)
    assert [r.diverged for r in stacked] == [False, True, False]
    assert len(stacked[1].history) < len(stacked[0].history) == 4
    for config, result in zip(configs, stacked):
        assert_same_run(train(config, data=digits_small), result)


def test_all_models_diverging_stops_cleanly(digits_small):
    configs = [TrainConfig(depth=3, width=32, epochs=3, lr=10.0, scheme="random_normal",
                           scheme_params={"std": 1.0}, seed=0)] * 2
    results = train_batched(configs, data=digits_small)
    assert all(r.diverged for r in results)
    assert_same_run(train(configs[0], data=digits_small), results[0])


def test_no_bias_and_other_activation(digits_small):
    configs = [TrainConfig(depth=2, width=16, epochs=1, bias=False, activation="tanh", seed=k, lr=0.05)
               for k in range(2)]
    for config, result in zip(configs, train_batched(configs, data=digits_small)):
        assert_same_run(train(config, data=digits_small), result)


@pytest.mark.parametrize("configs, match", [
    ([], "configs: got"),
    ("mlp", "configs: got"),
    ([TrainConfig(), {"depth": 2}], r"configs\[1\]: got dict"),
    ([TrainConfig(depth=2), TrainConfig(depth=3)], r"depth: got different values \['2', '3'\]"),
    ([TrainConfig(width=8), TrainConfig(width=16)], "width: got different values"),
    ([TrainConfig(), TrainConfig(activation="tanh")], "activation: got different values"),
    ([TrainConfig(), TrainConfig(batch_size=32)], "batch_size: got different values"),
    ([TrainConfig(), TrainConfig(optimizer="adam")], "optimizer: got different values"),
    ([TrainConfig(), TrainConfig(dataset="mnist1d")], "dataset: got different values"),
    ([TrainConfig(model="cnn")], "model: got 'cnn'; allowed: 'mlp'"),
    ([TrainConfig(lr=-1.0)], "lr: got -1.0"),
])
def test_bad_batches(configs, match):
    with pytest.raises(InitlabError, match=match):
        train_batched(configs)
