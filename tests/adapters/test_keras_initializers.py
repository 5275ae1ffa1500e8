"""initlab.keras initializers on Keras 3 with the torch and the JAX backend (checks run in one
subprocess per backend, see ``_cases``); parity with every Keras built-in initializer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from _cases import case, expect_errors, make_tests, needs_keras

pytestmark = needs_keras


def _np(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


@case("torch", "jax")
def seeded_values_equal_initlab_numpy():
    import keras

    import initlab
    import initlab.keras as ik

    # JAX keeps float64 only with jax_enable_x64 (off by default): there Keras stores float32
    dtypes = ("float32", "float16") if keras.backend.backend() == "jax" else ("float32", "float64", "float16")
    for name, shape in [("he_normal", (64, 32)), ("HeNormal", (3, 3, 8, 16)), ("glorot_uniform", (20, 30)),
                        ("orthogonal", (3, 3, 8, 16)), ("truncated_normal", (40,)), ("lecun_normal", (5, 7))]:
        for dtype in dtypes:
            got = _np(ik.get(name, seed=11)(shape, dtype=dtype))
            want = initlab.get(name).numpy(shape, layout="keras", seed=11, dtype=dtype)
            assert got.dtype == np.dtype(dtype) and np.array_equal(got, want), (name, shape, dtype)
    # the constructor form and a seed stored on the initlab scheme
    assert np.array_equal(_np(ik.he_uniform(a=0.1, seed=4)((9, 9))),
                          initlab.he_uniform(a=0.1).numpy((9, 9), layout="keras", seed=4))
    assert ik.get(initlab.he_normal(seed=9)).seed == 9


@case("torch", "jax")
def unseeded_values_are_fresh_every_call_and_follow_set_random_seed():
    import keras

    import initlab.keras as ik

    init = ik.get("he_normal")
    a, b = _np(init((50, 40))), _np(init((50, 40)))
    assert not np.array_equal(a, b)
    keras.utils.set_random_seed(5)
    c = _np(init((50, 40)))
    keras.utils.set_random_seed(5)
    assert np.array_equal(c, _np(init((50, 40))))
    seeded = ik.get("he_normal", seed=1)
    assert np.array_equal(_np(seeded((6, 6))), _np(seeded((6, 6))))


@case("torch", "jax")
def saved_model_loads_back_and_config_regenerates_the_values(tmp=None):
    import tempfile
    from pathlib import Path

    import keras

    import initlab.keras as ik

    def build():
        return keras.Sequential([
            keras.Input((12,)),
            keras.layers.Dense(8, activation="relu", kernel_initializer=ik.get("he_normal", seed=3),
                               bias_initializer=ik.constant(value=0.25)),
            keras.layers.Dense(4, kernel_initializer=ik.get("orthogonal", seed=5, gates=2)),
        ])

    model = build()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
    for v, w in zip(model.weights, loaded.weights):
        assert np.array_equal(_np(v), _np(w))
    first = loaded.layers[0].kernel_initializer
    assert isinstance(first, ik.Initializer) and first.seed == 3 and first.scheme.name == "he_normal"
    assert loaded.layers[1].kernel_initializer.gates == 2
    # the config alone rebuilds a model with the same values: the seeds regenerate them
    rebuilt = keras.Sequential.from_config(model.get_config())
    for v, w in zip(model.weights, rebuilt.weights):
        assert np.array_equal(_np(v), _np(w))
    cfg = keras.initializers.serialize(first)
    assert cfg["registered_name"] == "initlab>Initializer"
    assert np.array_equal(_np(keras.initializers.deserialize(cfg)((8, 8))), _np(first((8, 8))))


# (layer, its kernel's kind arguments, shape, fan_in and fan_out by the layer's math)
KINDS = [
    ("Dense", {}, (48, 24), 48, 24),
    ("Conv1D", {}, (5, 6, 10), 30, 50),
    ("Conv2D", {}, (3, 3, 6, 10), 54, 90),
    ("Conv3D", {}, (2, 3, 3, 4, 8), 72, 144),
    ("Conv2D groups=2", {"groups": 2}, (3, 3, 3, 10), 27, 45),
    ("Conv2DTranspose", {"kind": "conv_transpose"}, (3, 3, 10, 6), 54, 90),
    ("DepthwiseConv2D", {"kind": "depthwise"}, (3, 3, 6, 2), 9, 18),
    ("SeparableConv2D pointwise", {}, (1, 1, 12, 10), 12, 10),
    ("Embedding", {"kind": "embedding"}, (100, 16), 16, 100),
    ("LSTM kernel, per gate", {"gates": 4}, (7, 4 * 6), 7, 6),
    ("LSTM recurrent kernel, per gate", {"gates": 4}, (6, 4 * 6), 6, 6),
    ("LSTM kernel, whole (Keras)", {}, (7, 4 * 6), 7, 24),
    ("GRU kernel, per gate", {"gates": 3}, (7, 3 * 6), 7, 6),
]


@case("torch")
def kinds_take_the_fans_of_the_layer_math():
    import initlab.keras as ik
    from stats import assert_law

    for label, hints, shape, fan_in, fan_out in KINDS:
        init = ik.get("variance_scaling", seed=2, **hints)
        for b in init.blocks(shape):
            assert (b.dist.fans.fan_in, b.dist.fans.fan_out) == (fan_in, fan_out), label
        w = _np(ik.get("he_normal", seed=2, **hints)(shape))
        assert w.shape == shape
        assert_law(w, ("normal", 0.0, math.sqrt(2.0 / fan_in)))


@case("torch")
def layers_built_with_initlab_initializers():
    import keras

    import initlab
    import initlab.keras as ik

    dw = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_initializer=ik.get("he_normal", seed=1,
                                                                                         kind="depthwise"))
    dw.build((None, 8, 8, 6))
    want = initlab.get("he_normal").numpy((3, 3, 1, 12), layout="keras", groups=6, seed=1).reshape(3, 3, 6, 2)
    assert np.array_equal(_np(dw.kernel), want)
    lstm = keras.layers.LSTM(6, kernel_initializer=ik.get("glorot_uniform", seed=4, gates=4),
                             recurrent_initializer=ik.get("orthogonal", seed=4, gates=4))
    lstm.build((None, 5, 7))
    rec = _np(lstm.cell.recurrent_kernel)
    for g in range(4):  # each gate block is orthogonal on its own
        block = rec[:, 6 * g:6 * (g + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(6), atol=1e-5)
        want = initlab.get("orthogonal").numpy((6, 6), layout="keras", seed=4, key=f"#{g}")
        assert np.array_equal(block, want)
    bound = math.sqrt(6 / (7 + 6))
    k = _np(lstm.cell.kernel)
    assert k.max() <= bound and k.min() >= -bound and k.max() > 0.9 * bound


@case("torch")
def bfloat16_values_stay_inside_the_bounds():
    import initlab.keras as ik

    for name in ("HeNormal", "he_uniform", "truncated_normal", "random_uniform"):
        init = ik.get(name, seed=3)
        d = init.distribution((300, 400))
        w = init((300, 400), dtype="bfloat16")
        assert "bfloat16" in str(w.dtype)
        v = _np(w).astype(np.float64)
        assert v.min() >= d.low and v.max() <= d.high, name


@case("torch")
def bad_input_is_one_line_and_names_what_is_allowed():
    import initlab.keras as ik

    cases = [
        (lambda: ik.get("he_normal", kind="einsum"), "kind: got 'einsum'; allowed: 'kernel', 'conv_transpose'"),
        (lambda: ik.get("he_normal", kind="depthwise")((3, 4)), "shape: got (3, 4); allowed: a depthwise kernel"),
        (lambda: ik.get("he_normal", gates=4)((7, 10)), "gates: got 4; allowed: a divisor"),
        (lambda: ik.get(lambda t: t), "scheme: got"),
        (lambda: ik.get("he_normal", seed=-1), "seed: got -1"),
        (lambda: ik.get("he_normal", seed=1.5), "seed: got 1.5"),
        (lambda: ik.get("he_normal")((0, 5)), "zero-size"),
        (lambda: ik.get("he_normal")((4, 4), dtype="int32"), "dtype: got 'int32'"),
        (lambda: ik.get("identity")((3, 3, 4)), "identity"),
        (lambda: ik.get("no_such")((3, 3)), "scheme: got unknown name 'no_such'"),
        (lambda: ik.from_keras("no_such"), "initializer: got 'no_such'; allowed: a Keras initializer name"),
        (lambda: ik.from_keras(3), "initializer: got 3; allowed: a Keras initializer"),
    ]
    expect_errors(cases)


def _keras_builtin(e):
    import keras

    cls = getattr(keras.initializers, e.spelling)
    needs_seed = e.spelling not in ("Zeros", "Ones", "Constant", "Identity")
    return cls(**e.kwargs, **({"seed": 1234} if needs_seed else {}))


@case("torch")
def every_keras_builtin_has_its_initlab_law():
    """Every Keras built-in draws the law derived by hand in ``_laws`` (KS at a fixed seed, std within
    1 %, bounds), initlab's named equivalent resolves to exactly that law, and initlab's values follow it."""
    import keras

    import initlab.keras as ik
    from _laws import (CONV, DENSE, assert_initlab_law, assert_same_structured, assert_sample_follows, keras_law)
    from initlab.adapters.equivalence import from_keras
    from initlab.schemes.equivalents import KERAS

    failures = []
    for e in KERAS:
        for shape in (DENSE, CONV):
            if e.spelling == "Identity" and len(shape) != 2:
                continue
            try:
                law = keras_law(e.spelling, e.kwargs, shape)
                builtin = _keras_builtin(e)
                theirs = _np(builtin(shape))
                assert_sample_follows(theirs, law, shape)
                assert_initlab_law(e.initlab().distribution(shape, layout="keras"), law)
                assert_initlab_law(from_keras(builtin).distribution(shape, layout="keras"), law)
                for s in e.strings:  # Keras's string identifiers resolve to the same class and law
                    assert type(keras.initializers.get(s)).__name__ == e.spelling and not e.kwargs
                    assert_initlab_law(from_keras(s).distribution(shape, layout="keras"), law)
                mine = _np(ik.get(e.initlab(), seed=99)(shape))
                assert_sample_follows(mine, law, shape, strict=True)
                if law[0] == "orthogonal":
                    assert_same_structured(mine, theirs)
            except AssertionError as exc:
                failures.append(f"{e.call()} on {shape}: {exc}")
    assert not failures, "\n".join(failures)


make_tests(globals())
