"""Reproducibility, the NumPy backend and floating dtypes.

Same seed -> same values, on every run and thread count; a seeded initializer object used twice
gives the same values; a different ``key`` or an advancing generator gives different ones. NumPy
arrays and fp16/bf16/fp64 tensors follow the same laws, inside the same bounds.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import initlab
from stats import assert_law, assert_normal, assert_uniform

TRUNC_STD = 0.87962566103423978  # std of N(0, 1) on [-2, 2] (checked in test_keras.py)

SCHEMES = ["he_normal", "glorot_uniform", "he_truncated_normal", "trunc_normal", "orthogonal", "sparse",
           "random_uniform"]
BIG = (1100, 1000)  # more than one 2**20-element block


def _fill(name, shape=(64, 48), dtype=torch.float32, device="cpu", **kw):
    t = torch.empty(shape, dtype=dtype, device=device)
    initlab.get(name)(t, **kw)
    return t


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", SCHEMES)
def test_same_seed_same_values_other_seed_other_values(name):
    a, b = _fill(name, seed=11), _fill(name, seed=11)
    assert torch.equal(a, b)
    assert not torch.equal(a, _fill(name, seed=12))


@pytest.mark.parametrize("name", ["he_normal", "he_truncated_normal", "random_uniform", "sparse", "orthogonal",
                                  "delta_orthogonal"])
def test_same_seed_same_values_on_1_and_2_threads(name, restore_threads):
    shape = {"orthogonal": (300, 500), "delta_orthogonal": (128, 64, 3, 3), "sparse": (300, 500)}.get(name, BIG)
    torch.set_num_threads(1)
    one = _fill(name, shape, seed=5, key="w")
    torch.set_num_threads(2)
    two = _fill(name, shape, seed=5, key="w")
    assert torch.equal(one, two)


@pytest.mark.parametrize("name, shape", [("orthogonal", (300, 500)), ("delta_orthogonal", (128, 64, 3, 3))])
def test_orthogonal_agrees_across_thread_counts_to_rounding_error(name, shape, restore_threads):
    """What is guaranteed today: LAPACK's QR rounds differently with the thread count, within ~1e-6."""
    torch.set_num_threads(1)
    one = _fill(name, shape, seed=5, key="w")
    torch.set_num_threads(2)
    two = _fill(name, shape, seed=5, key="w")
    torch.testing.assert_close(one, two, rtol=0, atol=1e-5)


def test_blocks_are_independent_draws():
    """A tensor larger than one block is not one block repeated."""
    t = _fill("he_normal", BIG, seed=1).reshape(-1)
    block = 1 << 20
    assert not torch.equal(t[:1000], t[block:block + 1000])
    assert_normal(t[block - 50_000:block + 50_000], 0.0, math.sqrt(2 / 1000))


_SCRIPT = textwrap.dedent("""
    import hashlib, torch, initlab
    torch.set_num_threads({threads})
    out = []
    for name in {names!r}:
        t = torch.empty({shape!r})
        initlab.get(name)(t, seed=2024, key="layer.weight")
        out.append(hashlib.sha256(t.numpy().tobytes()).hexdigest())
    print(",".join(out))
""")


@pytest.mark.slow
def test_same_seed_same_values_in_a_fresh_process():
    """Another interpreter (another hash seed) draws the very same bytes."""
    shape = (300, 200)
    here = []
    for name in SCHEMES:
        t = torch.empty(shape)
        initlab.get(name)(t, seed=2024, key="layer.weight")
        here.append(hashlib.sha256(t.numpy().tobytes()).hexdigest())
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    script = _SCRIPT.format(names=SCHEMES, shape=shape, threads=torch.get_num_threads())
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    assert res.stdout.strip().split(",") == here


def test_seeded_initializer_object_gives_the_same_values_twice():
    init = initlab.he_normal(seed=3)
    a, b = torch.empty(64, 48), torch.empty(64, 48)
    init(a)
    init(b)
    assert torch.equal(a, b)
    # the object's seed is the call-time seed's default; a call-time seed overrides it
    assert torch.equal(a, _fill("he_normal", seed=3))
    c = torch.empty(64, 48)
    init(c, seed=4)
    assert torch.equal(c, _fill("he_normal", seed=4))


def test_key_separates_tensors_with_the_same_seed():
    a = _fill("he_normal", seed=3, key="layer1.weight")
    b = _fill("he_normal", seed=3, key="layer2.weight")
    assert not torch.equal(a, b)
    assert torch.equal(a, _fill("he_normal", seed=3, key="layer1.weight"))


def test_seeded_values_do_not_depend_on_other_draws():
    alone = _fill("glorot_uniform", seed=9, key="b")
    _fill("glorot_uniform", seed=9, key="a")
    torch.rand(1000)  # the global generator moves
    assert torch.equal(_fill("glorot_uniform", seed=9, key="b"), alone)


@pytest.mark.parametrize("name", SCHEMES)
def test_advancing_generator_gives_new_values(name):
    g = torch.Generator().manual_seed(0)
    a, b = _fill(name, generator=g), _fill(name, generator=g)
    assert not torch.equal(a, b)
    assert torch.equal(a, _fill(name, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("name", SCHEMES)
def test_seed_leaves_global_rng_states_alone(name):
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    _fill(name, seed=1)
    initlab.get(name).numpy((64, 48), seed=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


# -- NumPy backend ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCHEMES + ["identity", "dirac", "delta_orthogonal", "ones"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numpy_seed_rng_shape_dtype(name, dtype):
    shape = (16, 8, 3, 3) if name in ("dirac", "delta_orthogonal") else (64, 48)
    init = initlab.get(name)
    a = init.numpy(shape, seed=7, dtype=dtype)
    assert isinstance(a, np.ndarray) and a.shape == shape and a.dtype == np.dtype(dtype)
    assert np.array_equal(a, init.numpy(shape, seed=7, dtype=dtype))
    r1 = init.numpy(shape, rng=np.random.default_rng(5), dtype=dtype)
    assert np.array_equal(r1, init.numpy(shape, rng=np.random.default_rng(5), dtype=dtype))
    if name not in ("identity", "dirac", "ones"):  # deterministic schemes
        assert not np.array_equal(a, init.numpy(shape, seed=8, dtype=dtype))
        rng = np.random.default_rng(5)
        assert not np.array_equal(init.numpy(shape, rng=rng, dtype=dtype), init.numpy(shape, rng=rng, dtype=dtype))


@pytest.mark.parametrize("name", SCHEMES + ["delta_orthogonal", "truncated_normal"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numpy_with_seed_equals_torch_with_seed(name, dtype):
    """One engine for both backends: with a seed, the array holds the values the tensor gets."""
    shape = (16, 8, 3, 3) if name == "delta_orthogonal" else (64, 48)
    init = initlab.get(name)
    t = torch.empty(shape, dtype=getattr(torch, dtype))
    init(t, seed=31, key="k")
    np.testing.assert_array_equal(init.numpy(shape, seed=31, key="k", dtype=dtype), t.numpy())


# (scheme, params, shape, numpy kwargs, expected law from hand-computed fans)
NUMPY_LAWS = [
    ("he_normal", {}, (400, 300), {}, ("normal", 0.0, math.sqrt(2 / 300))),
    ("glorot_uniform", {}, (3, 3, 32, 64), {"layout": "keras"},
     ("uniform", -math.sqrt(6 / (9 * 32 + 9 * 64)), math.sqrt(6 / (9 * 32 + 9 * 64)))),
    ("he_truncated_normal", {}, (64, 8, 3, 3), {"groups": 4},
     ("truncnorm", 0.0, math.sqrt(2 / 72) / TRUNC_STD, -2.0, 2.0)),
    ("lecun_uniform", {}, (32, 64, 3, 3), {"transposed": True},
     ("uniform", -math.sqrt(3 / (32 * 9)), math.sqrt(3 / (32 * 9)))),
    ("truncated_normal", {"mean": 0.5, "std": 2.0, "a": 0.5, "b": 3.0}, (300, 300), {},
     ("truncnorm", 0.5, 2.0, 0.5, 3.0)),
    ("random_normal", {"mean": -1.0, "std": 0.1}, (300, 300), {}, ("normal", -1.0, 0.1)),
]


@pytest.mark.parametrize("name, params, shape, kwargs, law", NUMPY_LAWS, ids=[c[0] for c in NUMPY_LAWS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_laws(name, params, shape, kwargs, law, dtype):
    a = initlab.create(name, **params).numpy(shape, seed=21, dtype=dtype, **kwargs)
    assert_law(a, law, strict_bounds=law[0] == "truncnorm")


def test_numpy_and_torch_orthogonal_are_orthogonal():
    a = initlab.orthogonal(gain=2.0).numpy((50, 80), seed=1, dtype="float64")
    np.testing.assert_allclose(a @ a.T, 4.0 * np.eye(50), atol=1e-12)


@pytest.mark.parametrize("name", ["identity", "dirac"])
def test_numpy_deterministic_schemes_equal_torch(name):
    shape = (6, 4, 3) if name == "dirac" else (6, 4)
    t = torch.empty(shape, dtype=torch.float64)
    initlab.get(name)(t)
    np.testing.assert_array_equal(initlab.get(name).numpy(shape, dtype="float64"), t.numpy())


# -- torch dtypes -------------------------------------------------------------------------------------------
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
# (scheme, params, shape, law)
DTYPE_LAWS = [
    ("he_truncated_normal", {}, (300, 400), ("truncnorm", 0.0, math.sqrt(2 / 400) / TRUNC_STD, -2.0, 2.0)),
    ("truncated_normal", {"mean": 0.1, "std": 0.3, "a": -1.0, "b": 0.5}, (300, 400),
     ("truncnorm", 0.1, 0.3, -1.0, 0.5)),
    ("trunc_normal", {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04}, (300, 400),
     ("truncnorm", 0.0, 0.02, -2.0, 2.0)),
    ("he_uniform", {}, (300, 400), ("uniform", -math.sqrt(6 / 400), math.sqrt(6 / 400))),
    ("glorot_normal", {}, (300, 400), ("normal", 0.0, math.sqrt(2 / 700))),
]


@pytest.mark.parametrize("source", ["seed", "generator"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name, params, shape, law", DTYPE_LAWS, ids=[c[0] for c in DTYPE_LAWS])
def test_dtypes_preserved_and_values_inside_exact_bounds(name, params, shape, law, dtype, source):
    t = torch.empty(shape, dtype=dtype)
    kw = {"seed": 13} if source == "seed" else {"generator": torch.Generator().manual_seed(13)}
    out = initlab.create(name, **params)(t, **kw)
    assert out is t and t.dtype == dtype
    # bounded laws: every value, after the cast, inside the real bounds (compared in float64, no rounding)
    assert_law(t, law, strict_bounds=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_structured_schemes_in_every_dtype(dtype):
    w = torch.empty(64, 64, dtype=dtype)
    initlab.orthogonal()(w, seed=2)
    assert w.dtype == dtype
    tol = {torch.float16: 5e-3, torch.bfloat16: 3e-2, torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    torch.testing.assert_close((w.double() @ w.double().T), torch.eye(64, dtype=torch.float64), rtol=0, atol=tol)
    k = torch.empty(16, 8, 3, 3, dtype=dtype)
    initlab.delta_orthogonal()(k, seed=2)
    h = k[:, :, 1, 1].double()
    torch.testing.assert_close(h.T @ h, torch.eye(8, dtype=torch.float64), rtol=0, atol=tol)


def test_non_contiguous_tensor_is_filled_in_place():
    base = torch.zeros(400, 300)
    view = base.t()  # (300, 400), not contiguous
    initlab.he_uniform()(view, seed=3)
    assert torch.count_nonzero(base) == base.numel()
    assert_uniform(view, -math.sqrt(6 / 400), math.sqrt(6 / 400))
    contiguous = torch.empty(300, 400)
    initlab.he_uniform()(contiguous, seed=3)
    assert torch.equal(view, contiguous)


def test_fill_records_no_autograd_history():
    w = torch.empty(30, 40, requires_grad=True)
    initlab.he_normal()(w, seed=1)
    assert w.grad_fn is None and w.requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["he_normal", "he_truncated_normal", "orthogonal", "delta_orthogonal"])
def test_a_cuda_tensor_gets_the_cpu_values(name):
    shape = {"orthogonal": (300, 500), "delta_orthogonal": (64, 32, 3, 3)}.get(name, (1000, 300))
    cpu = _fill(name, seed=4, shape=shape)
    gpu = _fill(name, seed=4, shape=shape, device="cuda")
    assert gpu.device.type == "cuda" and torch.equal(gpu.cpu(), cpu)
