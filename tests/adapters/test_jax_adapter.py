"""initlab.jax: every scheme as a JAX initializer, traceable, with JAX's axes; parity with every
``jax.nn.initializers`` function (the law derived by hand in ``_laws``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="initlab[jax] is not installed")
import jax.numpy as jnp  # noqa: E402

import initlab  # noqa: E402
import initlab.jax as ij  # noqa: E402
from initlab.adapters.equivalence import from_jax  # noqa: E402
from initlab.schemes.equivalents import JAX  # noqa: E402
from _laws import (CONV, DENSE, assert_initlab_law, assert_same_structured, assert_sample_follows,  # noqa: E402
                   jax_law)
from stats import assert_law  # noqa: E402

KEY = jax.random.key(20240601)
ALL = [row["name"] for row in initlab.list_schemes() if row["name"] != "callable"]


def _shape_for(name):
    if name in ("identity", "sparse", "idinit"):  # idinit: 2-D weights only
        return (300, 200)
    if name in ("dirac", "delta_orthogonal"):
        return (3, 3, 64, 128)
    return CONV


def _law_of(dist):
    if dist.family == "normal":
        return ("normal", dist.params["mean"], dist.params["std"])
    if dist.family == "uniform":
        return ("uniform", dist.low, dist.high)
    p = dist.params
    return ("truncnorm", p["loc"], p["scale"], p["a"], p["b"])


@pytest.mark.parametrize("name", ALL)
def test_every_scheme_jits_and_draws_its_law(name):
    shape = _shape_for(name)
    init = ij.get(name)
    traced = jax.make_jaxpr(jax.jit(lambda key: init(key, shape)))(KEY)  # traceable under jit
    assert traced.out_avals[0].shape == shape
    w = np.asarray(init(KEY, shape, jnp.float32))  # its samplers are compiled once per family and shape
    assert w.shape == shape and w.dtype == np.float32 and np.isfinite(w).all()
    dist = init.distribution(shape)
    assert dist == initlab.get(name).distribution(
        shape if name not in ("dirac", "delta_orthogonal", "sparse", "torch_default") else
        (shape[-1], shape[-2], *shape[:-2]), layout="jax" if name not in
        ("dirac", "delta_orthogonal", "sparse", "torch_default") else "torch")
    if dist.family in ("normal", "uniform", "truncated_normal"):
        assert_law(w, _law_of(dist))
    elif dist.family == "constant":
        assert np.all(w == dist.params["value"])
    elif dist.family == "orthogonal":
        m = w.reshape(-1, shape[-1])
        g = dist.params["gain"]
        np.testing.assert_allclose(m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T,
                                   g * g * np.eye(min(m.shape)), atol=2e-5)
    elif dist.family == "identity":
        assert np.array_equal(w, np.eye(*shape, dtype=np.float32))
    elif dist.family == "dirac":  # (k, k, in, out) = dirac_ of the torch view, transposed
        import torch

        t = torch.empty(shape[-1], shape[-2], *shape[:-2])
        torch.nn.init.dirac_(t)
        assert np.array_equal(w, t.numpy().transpose(2, 3, 1, 0))
    elif dist.family == "delta_orthogonal":
        centre = w[1, 1]
        assert np.count_nonzero(w) == np.count_nonzero(centre)
        np.testing.assert_allclose(centre @ centre.T, np.eye(shape[-2]), atol=2e-5)
    elif dist.family == "sparse":  # torch view (out, in): ⌈0.1·out⌉ zeros per input column
        zeros_per_input = (w == 0).sum(axis=1)
        assert np.all(zeros_per_input == math.ceil(0.1 * shape[1]))
        assert w[w != 0].std() == pytest.approx(0.01, rel=0.02)


def test_values_under_jit_are_the_eager_values():
    """The same key gives the same values eagerly and inside a user's ``jax.jit`` (one program for three
    families: normal, truncated normal, orthogonal)."""
    inits = [ij.get("he_normal"), ij.get("HeNormal"), ij.get("orthogonal")]
    jitted = jax.jit(lambda key: [init(key, CONV) for init in inits])(KEY)
    for init, w in zip(inits, jitted):
        np.testing.assert_allclose(np.asarray(w), np.asarray(init(KEY, CONV)), rtol=1e-6, atol=1e-7)


def test_same_key_same_values_other_key_other_values():
    init = ij.get("glorot_uniform")
    a, b = init(KEY, DENSE), init(KEY, DENSE)
    c = init(jax.random.key(1), DENSE)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    legacy = init(jax.random.PRNGKey(3), (4, 5))  # raw uint32 keys work too
    assert legacy.shape == (4, 5)


@pytest.mark.parametrize("kwargs, shape, fan_in, fan_out", [
    ({}, (784, 256), 784, 256),
    ({}, (3, 3, 16, 32), 144, 288),
    ({"in_axis": 0, "out_axis": 1}, (16, 32, 3, 3), 144, 288),
    ({"in_axis": -2, "out_axis": -1, "batch_axis": 0}, (8, 3, 3, 16, 32), 144, 288),   # an ensemble of 8
    ({"in_axis": (0, 1), "out_axis": -1}, (4, 5, 6), 20, 6),                         # axes as sequences
    ({"in_axis": 0, "out_axis": (1, 2)}, (64, 8, 16), 64, 128),                      # multi-head projection
    ({}, (50,), 50, 50),                                                              # 1-D: initlab's rule
    ({"kind": "conv_transpose"}, (3, 3, 16, 32), 288, 144),                          # stored (k, k, out, in)
    ({"kind": "depthwise"}, (3, 3, 16, 2), 9, 18),
    ({"groups": 4}, (3, 3, 4, 32), 36, 72),
    ({"gates": 4}, (10, 4 * 6), 10, 6),
])
def test_fans_follow_jax_axes(kwargs, shape, fan_in, fan_out):
    d = ij.variance_scaling(**kwargs, distribution="normal", mode="fan_in").distribution(shape)
    assert (d.fans.fan_in, d.fans.fan_out) == (fan_in, fan_out)
    assert d.std == pytest.approx(math.sqrt(1 / fan_in), rel=1e-12)
    init = ij.get("he_normal", **kwargs)
    w = jax.eval_shape(lambda key: init(key, shape), KEY)  # traced with these axes, nothing compiled
    assert w.shape == shape and w.dtype == jnp.float32


def test_batch_axis_members_draw_independently():
    w = np.asarray(ij.get("he_normal", in_axis=-2, out_axis=-1, batch_axis=0)(KEY, (4, 256, 256)))
    assert not np.array_equal(w[0], w[1])
    assert_law(w, ("normal", 0.0, math.sqrt(2 / 256)))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", ["HeNormal", "he_uniform", "truncated_normal"])
def test_low_precision_stays_inside_bounds(name, dtype):
    init = ij.get(name)
    d = init.distribution((400, 300))
    w = np.asarray(init(KEY, (400, 300), dtype).astype(jnp.float32), dtype=np.float64)
    assert init(KEY, (4, 3), dtype).dtype == dtype
    assert w.min() >= d.low and w.max() <= d.high


def test_float64_draws_in_float64():
    jax.config.update("jax_enable_x64", True)
    try:
        w = ij.get("he_normal")(KEY, DENSE, jnp.float64)
        assert w.dtype == jnp.float64
        assert_law(np.asarray(w), ("normal", 0.0, math.sqrt(2 / DENSE[0])))
    finally:
        jax.config.update("jax_enable_x64", False)


def test_flax_dense_kernel_init():
    nn = pytest.importorskip("flax.linen", reason="flax is not installed")
    layer = nn.Dense(256, kernel_init=ij.he_normal(), bias_init=ij.zeros())
    params = layer.init(KEY, jnp.ones((2, 512)))["params"]
    assert params["kernel"].shape == (512, 256) and not np.any(params["bias"])
    assert_law(np.asarray(params["kernel"]), ("normal", 0.0, math.sqrt(2 / 512)))
    conv = nn.Conv(128, (3, 3), kernel_init=ij.get("HeNormal"))
    k = np.asarray(conv.init(KEY, jnp.ones((1, 8, 8, 64)))["params"]["kernel"])
    assert k.shape == CONV
    assert_law(k, ("truncnorm", 0.0, math.sqrt(2 / (9 * 64)) / 0.87962566103423978, -2.0, 2.0))


@pytest.mark.parametrize("bad, match", [
    (dict(identifier="he_normal", in_axis=5, out_axis=-1), "in_axis: got 5"),
    (dict(identifier="he_normal", in_axis=0, out_axis=0), "do not overlap"),
    (dict(identifier="he_normal", gates=5), "gates: got 5"),
    (dict(identifier="he_normal", kind="einsum"), "kind: got 'einsum'"),
    (dict(identifier="no_such_scheme"), "scheme: got unknown name"),
    (dict(identifier=lambda t: t), "scheme: got"),
])
def test_bad_input_is_one_line(bad, match):
    identifier = bad.pop("identifier")
    with pytest.raises(initlab.InitlabError) as err:
        ij.get(identifier, **bad)(KEY, (4, 3, 24))
    assert "\n" not in str(err.value)
    if match:
        assert match in str(err.value)


# -- parity with jax.nn.initializers -----------------------------------------------------------------
def _jax_cases():
    for e in JAX:
        for shape in (DENSE, CONV):
            if e.spelling == "delta_orthogonal" and len(shape) < 3:
                continue
            yield pytest.param(e, shape, id=f"{e.call()}-{'x'.join(map(str, shape))}")


@pytest.mark.parametrize("entry, shape", list(_jax_cases()))
def test_jax_builtin_has_initlab_law(entry, shape):
    law = jax_law(entry.spelling, entry.kwargs, shape)
    fn = getattr(jax.nn.initializers, entry.spelling)
    theirs = np.asarray((fn(**entry.kwargs) if entry.factory else fn)(KEY, shape, jnp.float32))
    assert_sample_follows(theirs, law, shape)
    ours = entry.initlab()
    view = (shape[-1], shape[-2], *shape[:-2]) if entry.scheme == "delta_orthogonal" else shape
    layout = "torch" if entry.scheme == "delta_orthogonal" else "jax"
    assert_initlab_law(ours.distribution(view, layout=layout), law)
    assert_initlab_law(from_jax(entry.spelling, **entry.kwargs).distribution(view, layout=layout), law)
    mine = np.asarray(ij.get(ours)(jax.random.key(7), shape))
    assert_sample_follows(mine, law, shape, strict=True)
    if law[0] in ("orthogonal", "delta_orthogonal"):
        assert_same_structured(mine, theirs)
