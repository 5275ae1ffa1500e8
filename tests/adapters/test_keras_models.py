"""Whole Keras models: initlab.initialize/plan, probe/diagnose/lsuv and the doctor, on the torch and
JAX backends (checks run in one subprocess per backend, see ``_cases``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from _cases import case, expect_errors, make_tests, needs_keras

pytestmark = needs_keras


def _np(x):
    import keras

    return np.array(keras.ops.convert_to_numpy(x), copy=True)


def _snapshot(model):
    return [(v.path, _np(v.value), v.trainable) for v in model.variables]


def _same(model, snap) -> bool:
    now = _snapshot(model)
    return len(now) == len(snap) and all(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2]
                                         for a, b in zip(now, snap))


def _mlp(acts=("relu", "tanh", "selu"), width=32):
    import keras

    L = keras.layers
    return keras.Sequential([keras.Input((20,)), *[L.Dense(width, activation=a, name=f"dense_{i}")
                                                   for i, a in enumerate(acts)], L.Dense(5, name="head")])


@case("torch")
def plan_matches_the_torch_plan_of_the_same_network():
    """The same network in Keras and in torch gets the same scheme, fans and std per layer."""
    import torch.nn as nn

    import initlab

    acts = ("relu", "tanh", "selu", "sigmoid")
    kp = [r for r in initlab.plan(_mlp(acts)) if r.name.endswith("kernel")]
    mods = {"relu": nn.ReLU, "tanh": nn.Tanh, "selu": nn.SELU, "sigmoid": nn.Sigmoid}
    layers, width = [], 20
    for a in acts:
        layers += [nn.Linear(width, 32), mods[a]()]
        width = 32
    tp = [r for r in initlab.plan(nn.Sequential(*layers, nn.Linear(32, 5))) if r.name.endswith("weight")]
    assert [r.scheme for r in kp] == [r.scheme for r in tp] == ["he_normal", "glorot_normal", "lecun_normal",
                                                                "glorot_normal", "glorot_normal"]
    assert [(r.fan_in, r.fan_out, r.activation) for r in kp] == [(r.fan_in, r.fan_out, r.activation) for r in tp]
    for k, t in zip(kp, tp):
        assert k.std == t.std


@case("torch")
def every_keras_spelling_in_the_catalogue_is_that_activation():
    """Each Keras spelling of a catalogue row names, in Keras, the row's function with the parameters
    the row says Keras uses (values compared on a grid through the kinks); the adapter reads the
    spelling back to that row, and a row's first spelling is what the report's Keras lines write."""
    import keras
    import torch

    from initlab.activations import CATALOGUE, keras_row
    from initlab.adapters.keras_model import _fn_activation
    from initlab.adapters.snippets import KERAS_ACTIVATIONS

    x = np.linspace(-8.0, 8.0, 1601).astype("float32")
    spelled = [r for r in CATALOGUE if r.keras]
    assert len(spelled) >= 20
    for r in spelled:
        for spelling in r.keras:
            fn = keras.activations.get(spelling)
            got = _np(fn(keras.ops.convert_to_tensor(x)))
            row, params = keras_row(spelling)
            assert row is r and params == {**r.defaults(), **dict(r.keras_params)}, spelling
            want = r.callable(**dict(r.keras_params))(torch.from_numpy(x.astype("float64"))).numpy()
            np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6, err_msg=spelling)
            act = _fn_activation(fn, "layer argument")
            if r.name == "linear":
                assert act is None
            else:
                assert act.row == r.name and act.family != "none", spelling
        if not r.keras_params:
            assert KERAS_ACTIVATIONS[r.name] == (None if r.name == "linear" else r.keras[0])
    leaky = _fn_activation(keras.activations.get("leaky_relu"), "layer argument")
    assert (leaky.name, leaky.slope) == ("leaky_relu", 0.2) and "leaky_relu" not in KERAS_ACTIVATIONS
    assert keras_row("softmax") is None and _fn_activation(keras.activations.softmax, "x").family == "none"


@case("torch")
def activation_found_from_a_following_layer():
    import keras

    import initlab

    L = keras.layers
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(6, 3, name="c1")(inp)
    x = L.BatchNormalization()(x)
    x = L.LeakyReLU(negative_slope=0.1)(x)
    x = L.Conv2D(6, 3, name="c2")(x)
    x = L.Dropout(0.3)(x)
    x = L.Activation("tanh")(x)
    x = L.Flatten()(x)
    x = L.Dense(4, name="head")(x)
    p = initlab.plan(keras.Model(inp, x))
    c1, c2, head = p["c1/kernel"], p["c2/kernel"], p["head/kernel"]
    assert (c1.scheme, c1.activation, c1.initializer.a) == ("he_normal", "leaky_relu(0.1)", 0.1)
    assert c1.std == pytest.approx(math.sqrt(2 / (1 + 0.1 ** 2) / 27), rel=1e-12)
    assert (c2.scheme, c2.activation) == ("glorot_normal", "tanh") and "following layer" in c2.reason
    assert (head.scheme, head.activation) == ("glorot_normal", "-")


@case("torch")
def exact_fans_for_every_layer_kind():
    import keras

    import initlab

    L = keras.layers
    inp = keras.Input((12, 12, 4))
    x = L.Conv2D(8, 3, groups=2, activation="relu", name="grouped")(inp)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu", name="dw")(x)
    x = L.SeparableConv2D(6, 3, depth_multiplier=3, activation="relu", name="sep")(x)
    x = L.Conv2DTranspose(5, 3, activation="relu", name="ct")(x)
    x = L.Conv3D(4, (1, 3, 3), name="c3")(L.Reshape((1, 8, 8, 5))(x))
    out = L.Dense(3, name="head")(L.Flatten()(x))
    model = keras.Model(inp, out)
    seq = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(50, 7, name="emb"),
                            L.LSTM(5, name="lstm"), L.Dense(2)])
    from initlab.adapters.keras_model import plan as keras_plan

    p, q, whole = initlab.plan(model), initlab.plan(seq), keras_plan(seq, gates="whole")
    want = {"grouped/kernel": (9 * 2, 9 * 4), "dw/kernel": (9, 18), "sep/depthwise_kernel": (9, 27),
            "sep/pointwise_kernel": (48, 6), "ct/kernel": (9 * 6, 9 * 5), "c3/kernel": (9 * 5, 9 * 4)}
    for name, fans in want.items():
        assert (p[name].fan_in, p[name].fan_out) == fans, name
        he, glorot = math.sqrt(2.0 / fans[0]), math.sqrt(2.0 / (fans[0] + fans[1]))
        assert p[name].std == pytest.approx(glorot if name == "c3/kernel" else he, rel=1e-12), name
    lstm = [r for r in q if "lstm" in r.name]
    assert [(r.fan_in, r.fan_out, r.chunks) for r in lstm[:2]] == [(7, 5, 4), (5, 5, 4)]
    assert [(r.fan_in, r.fan_out, r.chunks) for r in whole if "lstm" in r.name][:2] == [(7, 20, 1), (5, 20, 1)]
    emb = [r for r in q if r.name.endswith("embeddings")][0]
    assert (emb.scheme, emb.std, emb.fan_in, emb.fan_out) == ("random_normal", 1.0, 7, 50)


@case("torch", "jax")
def initialize_writes_the_plan_reproducibly():
    import keras

    import initlab

    L = keras.layers
    model = keras.Sequential([keras.Input((6, 7)), L.LSTM(5, return_sequences=True, name="lstm"), L.Flatten(),
                              L.Dense(16, activation="relu", name="dense"), L.BatchNormalization(),
                              L.Dense(3, name="head")])
    p = initlab.initialize(model, seed=3)
    first = _snapshot(model)
    initlab.initialize(model, seed=3)
    assert _same(model, first)
    initlab.initialize(model, seed=4)
    assert not _same(model, first)
    variables = {v.path: v for v in model.variables}
    dense = [r for r in p if r.name.endswith("dense/kernel")][0]
    want = initlab.get("he_normal").numpy(dense.shape, layout="keras", seed=3, key=dense.name)
    initlab.initialize(model, seed=3)
    assert np.array_equal(_np(variables[dense.name].value), want)
    rec = _np(variables[[r.name for r in p if r.name.endswith("recurrent_kernel")][0]].value)
    for g in range(4):
        block = rec[:, 5 * g:5 * (g + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-5)
    bias = _np(variables[[r.name for r in p if r.name.endswith("lstm_cell/bias")][0]].value)
    assert np.array_equal(bias, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])  # the forget gate at 1
    gamma = [v for v in model.variables if v.path.endswith("gamma")][0]
    assert np.all(_np(gamma.value) == 1)
    a = _snapshot(model)
    initlab.initialize(model)  # unseeded: fresh values
    assert not _same(model, a)


@case("torch")
def rules_and_bad_input_leave_the_model_unchanged():
    import keras
    import torch

    import initlab

    model = _mlp()
    L = keras.layers
    p = initlab.plan(model, rules={L.Dense: "he_uniform", "head*": "zeros", "*dense_1/kernel": "keep"})
    assert p[[r.name for r in p if r.name.endswith("dense_0/kernel")][0]].scheme == "he_uniform"
    assert [r.scheme for r in p if "head" in r.name] == ["zeros", "zeros"]
    assert [r.scheme for r in p if r.name.endswith("dense_1/kernel")] == ["keep"]
    snap = _snapshot(model)
    unbuilt = keras.Sequential([L.Dense(3)])
    odd = keras.Sequential([keras.Input((4, 6)), L.EinsumDense("abc,cd->abd", output_shape=(4, 3), name="ein")])
    bad = [
        (lambda: initlab.initialize(model, rules={"nope*": "zeros"}), "rules: pattern 'nope*' matches no layer"),
        (lambda: initlab.initialize(model, rules={L.Conv2D: "zeros"}), "rules: layer class Conv2D does not occur"),
        (lambda: initlab.initialize(model, "no_such_scheme"), "scheme: got unknown name"),
        (lambda: initlab.initialize(model, seed=1, generator=torch.Generator()), "generator"),
        (lambda: initlab.initialize(model, rules={"*": "dirac"}), "dirac"),
        (lambda: initlab.initialize(unbuilt), "model: got an unbuilt Sequential"),
        (lambda: initlab.initialize(odd, rules={"ein": "he_normal"}), "ein/kernel (EinsumDense) the scheme 'he_normal'; allowed: rules on layers whose fans"),
        (lambda: initlab.probe(model, np.ones((4, 7), "float32")), "inputs: got a batch of shape (4, 7)"),
        (lambda: initlab.lsuv(model, np.ones((1, 20), "float32")), "batch: got 1 sample"),
        (lambda: initlab.lsuv(model, np.ones((8, 20), "float32"), tol=-1), "tol: got -1"),
    ]

    def unchanged(match):
        assert _same(model, snap), match

    expect_errors(bad, unchanged)
    assert [r.scheme for r in initlab.plan(odd)] == ["keep"]  # a layer kind without a fan rule is left as is


def _diag_model():
    import keras

    L = keras.layers
    model = keras.Sequential([keras.Input((64,)), L.Dense(48, activation="tanh", name="a"), L.Dropout(0.5),
                              L.Dense(48, name="b"), L.Activation("tanh", name="act"), L.BatchNormalization(name="bn"),
                              L.Dense(10, activation="softmax", name="out")])
    model.get_layer("b").trainable = False
    return model


@case("torch", "jax")
def probe_records_every_layer_and_loses_nothing():
    import random

    import keras

    import initlab
    import initlab.keras

    model = _diag_model()
    x = np.random.default_rng(0).standard_normal((128, 64)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, 128)
    snap = _snapshot(model)
    state = random.getstate()
    torch_state = None
    if keras.backend.backend() == "torch":
        import torch

        torch_state = torch.get_rng_state()
        grads = [v.value.requires_grad for v in model.variables]
    rec = initlab.keras.probe(model, x, y, training=True)  # dropout on, BatchNorm updating: all restored
    assert _same(model, snap) and model.get_layer("b").trainable is False
    assert random.getstate() == state
    if torch_state is not None:
        assert torch.equal(torch.get_rng_state(), torch_state)
        assert [v.value.requires_grad for v in model.variables] == grads and all(
            v.value.grad is None for v in model.variables)
    layers = [(r["layer"], r["role"], r["activation"]) for r in rec]
    assert layers == [("<input>", "input", None), ("a", "weight", "tanh"), ("a.tanh", "activation", "tanh"),
                      ("b", "weight", "tanh"), ("act", "activation", "tanh"), ("bn", "param", None),
                      ("out", "weight", "softmax"), ("out.softmax", "activation", "softmax")]
    a, a_tanh = rec["a"], rec["a.tanh"]
    assert a["units"] == 48 and a["distinct_units"] == 48 and a["input_ms"] > 0
    # the pairing is the torch probe's, and the weight rows carry its columns
    assert [(w["layer"], act["layer"] if act else None) for w, act in rec.pairs()] == [
        ("a", "a.tanh"), ("b", "act"), ("out", "out.softmax")]
    k, bias = (_np(v.value) for v in model.get_layer("a").weights)
    assert (a["fan_in"], a["fan_out"]) == (64, 48) and (rec["out"]["fan_in"], rec["out"]["fan_out"]) == (48, 10)
    assert a["weight_std"] == pytest.approx(float(np.sqrt(np.mean(k.astype("float64") ** 2))), rel=1e-5)
    assert a["bias_rms"] == pytest.approx(float(np.sqrt(np.mean(bias.astype("float64") ** 2))), abs=1e-7)
    assert [rec[n]["after_norm"] for n in ("a", "b", "out")] == [0, 0, 1]  # BatchNormalization before out
    assert math.isnan(a["input_grad_std"]) and math.isfinite(rec["out"]["input_grad_std"]) == \
        (keras.backend.backend() == "torch")
    np.testing.assert_allclose(a_tanh["std"], np.tanh(_pre(model, x)).std(), rtol=1e-4)
    assert math.isfinite(rec.loss) and rec.loss_name == "cross_entropy (softmax output)"
    torch_backend = keras.backend.backend() == "torch"
    assert math.isfinite(a["grad_std"]) == torch_backend and math.isfinite(rec["b"]["weight_grad_norm"]) == \
        torch_backend  # b is frozen and still measured
    frame = rec.to_frame()
    assert list(frame.columns) == list(initlab.diagnostics.COLUMNS)
    again = initlab.probe(model, x, y)
    assert again["a"]["std"] == rec["a"]["std"]


def _pre(model, x):
    k, b = (_np(v.value) for v in model.get_layer("a").weights)
    return x @ k + b


@case("torch", "jax")
def diagnose_names_the_failure_and_initialize_fixes_it():
    """A deep tanh net with N(0, 1) weights saturates; ``initialize(..., 'auto')`` makes it healthy."""
    import keras

    import initlab

    L = keras.layers
    model = keras.Sequential([keras.Input((64,)), *[L.Dense(64, activation="tanh", kernel_initializer=
                                                            keras.initializers.RandomNormal(stddev=1.0, seed=i))
                                                    for i in range(6)], L.Dense(10)])
    x = np.random.default_rng(0).standard_normal((256, 64)).astype("float32")
    kinds = {f.kind for f in initlab.diagnose(initlab.probe(model, x))}
    assert "saturated" in kinds
    initlab.initialize(model, seed=0)
    assert {f.kind for f in initlab.diagnose(initlab.probe(model, x))} == {"healthy"}


@case("torch", "jax")
def lsuv_reaches_unit_variance_and_touches_only_dense_layers():
    import keras

    import initlab

    model = _diag_model()
    x = np.random.default_rng(2).standard_normal((256, 64)).astype("float32")
    bn_before = [_np(v.value) for v in model.get_layer("bn").weights]
    result = initlab.lsuv(model, x, seed=0)
    assert result.converged and [r["layer"] for r in result] == ["a", "b", "out"]
    rec = initlab.probe(model, x)
    for name in ("a", "b", "out"):
        assert abs(rec[name]["std"] ** 2 - 1) < 0.1, name
    assert all(np.array_equal(a, _np(v.value)) for a, v in zip(bn_before, model.get_layer("bn").weights))
    assert model.get_layer("b").trainable is False
    w = _np(model.get_layer("a").kernel.value)
    s = np.linalg.svd(w, compute_uv=False)
    np.testing.assert_allclose(s / s[0], 1.0, atol=1e-4)  # a scaled orthonormal matrix


@case("torch", "jax")
def doctor_runs_on_a_keras_factory():
    import json
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from initlab.cli import main

    src = ("import keras\n\ndef factory():\n    return keras.Sequential([keras.Input((64,)), *[keras.layers.Dense("
           "64, activation='tanh', kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=i)) for i in "
           "range(5)], keras.layers.Dense(10)])\n")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.py"
        path.write_text(src)
        res = CliRunner().invoke(main, ["doctor", f"{path}:factory", "--data", "random", "--input-shape", "64",
                                        "--fix", "auto", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert "saturated" in {f["kind"] for f in out["findings"]}
    assert {f["kind"] for f in out["after"]["findings"]} == {"healthy"}


@case("torch", "jax")
def torch_default_biases_take_the_fan_in_pytorch_takes_from_the_layer_weight():
    """Under ``torch_default`` (or ``bias="torch_default"`` with another scheme) a Keras layer's bias is
    U(±1/√fan_in) with the fan_in torch.nn.init computes for the weight of the same layer built in torch;
    under another scheme the bias stays zeros."""
    import keras
    import torch.nn as nn
    from scipy import stats

    import initlab

    L = keras.layers
    pairs = [  # (Keras layer on its input shape, the torch module with the same weight)
        (L.Dense(16), (8,), nn.Linear(8, 16)),
        (L.Conv2D(10, 3, groups=2), (9, 9, 6), nn.Conv2d(6, 10, 3, groups=2)),
        (L.Conv1DTranspose(10, 3), (9, 6), nn.ConvTranspose1d(6, 10, 3)),
        (L.DepthwiseConv2D(3, depth_multiplier=2), (9, 9, 6), nn.Conv2d(6, 12, 3, groups=6)),
        (L.SeparableConv2D(10, 3, depth_multiplier=2), (9, 9, 6), nn.Conv2d(12, 10, 1)),
        (L.SimpleRNN(11), (5, 7), nn.RNN(7, 11)),
    ]
    for layer, shape, module in pairs:
        weight = next(p for n, p in module.named_parameters() if n.startswith("weight"))
        fan = (module.hidden_size if isinstance(module, nn.RNNBase)
               else nn.init._calculate_fan_in_and_fan_out(weight)[0])
        bound = 1.0 / math.sqrt(fan)
        model = keras.Sequential([keras.Input(shape), layer])
        for scheme, bias in (("torch_default", None), ("he_normal", "torch_default")):
            row = next(r for r in initlab.plan(model, scheme, bias=bias) if r.name.endswith("bias"))
            assert row.scheme == "torch_default" and math.isclose(row.std, bound / math.sqrt(3), rel_tol=1e-12), \
                (type(layer).__name__, row)
        initlab.initialize(model, "he_normal", bias="torch_default", seed=3)
        b = _np(next(v for v in model.weights if v.path.endswith("bias")).value).ravel()
        assert np.abs(b).max() <= bound
        if b.size >= 10:
            assert stats.kstest(b, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3, type(layer).__name__
        row = next(r for r in initlab.plan(model, "he_normal") if r.name.endswith("bias"))
        assert row.scheme == "zeros"


make_tests(globals())
