"""The explainers' own Keras code, trained on digits with the torch backend, with Keras's
initializer strings, with initlab's initializers and through ``initlab.initialize``; and the Keras
lines :func:`initlab.adapters.snippets.keras_lines` writes for a claim's setting, run as code."""

from __future__ import annotations

import sys

import pytest

from _cases import case, make_tests, needs_keras

pytestmark = needs_keras

EPOCHS = 3
CHANCE = 0.1


def _digits():
    from initlab.experiments.datasets import load

    d = load("digits", seed=0)
    flat = lambda x: x.reshape(len(x), -1).numpy()  # noqa: E731 - the explainers feed 64 pixels to Dense
    return flat(d.x_train), d.y_train.numpy(), flat(d.x_test), d.y_test.numpy()


def _explainers_model(kernel, head):
    """``Dense(64, activation='relu', kernel_initializer=...)`` twice, then a softmax head, as the
    tutorials write it."""
    import keras
    from keras.layers import Dense

    return keras.Sequential([
        keras.Input((64,)),
        Dense(64, activation="relu", kernel_initializer=kernel),
        Dense(64, activation="relu", kernel_initializer=kernel),
        Dense(10, activation="softmax", kernel_initializer=head),
    ])


def _fit(model, data):
    import keras

    x, y, xt, yt = data
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(xt, yt, verbose=0)
    hist = model.fit(x, y, epochs=EPOCHS, batch_size=64, verbose=0, shuffle=True)
    after = model.evaluate(xt, yt, verbose=0)
    return before, hist.history["loss"], after


@pytest.mark.slow
@case("torch")
def explainers_model_learns_digits_three_ways():
    """Keras strings, initlab initializers, and ``initlab.initialize``: each learns digits in a few
    epochs (test accuracy far above chance, training loss falling every epoch)."""
    import keras

    import initlab
    import initlab.keras as ik
    from initlab._threads import torch_threads

    data = _digits()
    keras.utils.set_random_seed(0)
    variants = {
        "keras strings": _explainers_model("he_normal", "glorot_uniform"),
        "initlab initializers": _explainers_model(ik.get("he_normal", seed=1), ik.get("glorot_uniform", seed=2)),
    }
    via = _explainers_model("zeros", "zeros")  # would never learn as built (the symmetry problem)
    p = initlab.initialize(via, "auto", seed=0)
    assert [r.scheme for r in p if r.name.endswith("kernel")] == ["he_normal", "he_normal", "glorot_normal"]
    variants["initlab.initialize"] = via
    results = {}
    for name, model in variants.items():
        with torch_threads(1):  # a 64-unit MLP: on 2 busy cores a parallel region mostly waits (100x slower)
            (loss0, acc0), losses, (loss1, acc1) = _fit(model, data)
        results[name] = (acc0, acc1, losses)
        print(f"{name}: test accuracy {acc0:.3f} -> {acc1:.3f}, training loss {losses}", file=sys.stderr)
        assert acc1 > 0.8, (name, acc1)
        assert acc1 > acc0 + 0.5 and loss1 < loss0 / 3, (name, acc0, acc1, loss0, loss1)
        assert all(b < a for a, b in zip(losses, losses[1:])), (name, losses)
    # the control that can fail: the zero-initialized model, trained the same way, does not learn
    keras.utils.set_random_seed(0)
    with torch_threads(1):
        (_, _), _, (_, acc_zero) = _fit(_explainers_model("zeros", "zeros"), data)
    print(f"zeros: test accuracy {acc_zero:.3f}", file=sys.stderr)
    assert acc_zero < 0.5, acc_zero


SETTINGS = [("relu", 3, 32, "he_normal", None), ("tanh", 5, 64, "random_normal", {"std": 0.01}),
            ("sigmoid", 2, 16, "glorot_uniform", None), ("selu", 2, 16, "lecun_normal", None),
            ("relu", 2, 16, "HeNormal", None), ("leaky_relu", 2, 16, "he_normal", {"a": 0.01}),
            ("relu", 3, 16, "constant", {"value": 0.5}), ("tanh", 2, 16, "orthogonal", {"gain": 1.5}),
            ("relu", 2, 16, "he_normal", {"mode": "fan_out"}), ("tanh", 2, 16, "sparse", None),
            ("relu", 2, 16, "variance_scaling", {"mode": "fan_geo_avg", "scale": 2.0})]


@case("torch")
def keras_lines_build_the_setting():
    """Each rendered snippet runs and builds ``depth`` Dense layers of ``width`` units, with the
    activation, and kernels whose law is the scheme's (Keras built-ins read back with from_keras)."""
    import keras

    import initlab
    import initlab.keras as ik
    from initlab.adapters.snippets import KERAS_ACTIVATIONS, keras_lines

    for act, depth, width, scheme, params in SETTINGS:
        code = keras_lines(act, depth, width, scheme, params)
        ns = {}
        exec(compile(code, "<keras_lines>", "exec"), ns)  # noqa: S102 - our own generated code
        model = ns["model"]
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        assert [layer.units for layer in dense] == [width] * depth + [10], code
        want = initlab.get({"name": scheme, "params": params or {}})
        for layer in dense[:-1]:
            name = layer.activation.__name__
            assert name == (KERAS_ACTIVATIONS.get(act) or "linear"), code
            init = layer.kernel_initializer
            got = init.scheme if isinstance(init, ik.Initializer) else initlab.keras.from_keras(init)
            shape = tuple(layer.kernel.shape)
            a, b = got.distribution(shape, layout="keras"), want.distribution(shape, layout="keras")
            assert (a.family, a.low, a.high) == (b.family, b.low, b.high) and a.std == pytest.approx(b.std, rel=1e-9), \
                (code, a, b)
        if act == "leaky_relu":
            assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in model.layers) == depth


make_tests(globals())
