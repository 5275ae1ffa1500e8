"""Seeded fills give the same bits on every run, thread count and block order."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import textwrap
import threading

import pytest
import torch

import initlab
from initlab._threads import torch_threads
from initlab.schemes import engine
from initlab.schemes._pool import for_blocks
from initlab.schemes.engine import BLOCK, derive_seed

N = 2 * BLOCK + 12_345  # three blocks, the last one partial

LAWS = {
    "normal": {"name": "random_normal", "params": {"mean": 0.1, "std": 0.5}},
    "uniform": {"name": "random_uniform", "params": {"minval": -0.3, "maxval": 0.7}},
    "truncated ±2σ (rejection)": {"name": "truncated_normal", "params": {"std": 0.5}},
    "truncated [0.5, 3] (inversion)": {"name": "truncated_normal", "params": {"std": 0.5, "a": 0.5, "b": 3.0}},
}


threads = torch_threads


def fill(law: str, dtype=torch.float32, n: int = N, key: str = "w", seed: int = 1234, nthreads: int | None = None):
    t = torch.empty(n, dtype=dtype)
    with threads(nthreads or torch.get_num_threads()):
        return initlab.get(LAWS[law])(t, seed=seed, key=key)


CASES = [(law, dtype) for law in LAWS for dtype in (torch.float32, torch.bfloat16)] + [
    ("normal", torch.float64), ("truncated ±2σ (rejection)", torch.float64)]


@pytest.mark.parametrize("law, dtype", CASES, ids=[f"{law}-{str(d).split('.')[1]}" for law, d in CASES])
def test_bit_identical_with_1_2_and_4_threads(law, dtype):
    one = fill(law, dtype, nthreads=1)
    two = fill(law, dtype, nthreads=2)
    four = fill(law, dtype, nthreads=4)  # more threads than cores: the pool grows, the values stay
    assert torch.equal(one, two) and torch.equal(two, four)


@pytest.mark.parametrize("law", list(LAWS))
def test_a_block_does_not_depend_on_the_rest_of_the_tensor(law):
    whole = fill(law, n=N, nthreads=2)
    first = fill(law, n=BLOCK, nthreads=1)
    assert torch.equal(whole[:BLOCK], first)
    assert not torch.equal(whole[:BLOCK], whole[BLOCK:2 * BLOCK])


def test_contiguity_does_not_change_the_values():
    init = initlab.get(LAWS["truncated ±2σ (rejection)"])
    strided = init(torch.empty(1500, 1000).t(), seed=3, key="k")
    dense = init(torch.empty(1000, 1500), seed=3, key="k")
    assert not strided.is_contiguous()
    assert torch.equal(strided, dense)


def test_keys_and_seeds_give_different_values():
    base = fill("normal", n=4096)
    assert not torch.equal(base, fill("normal", n=4096, key="other"))
    assert not torch.equal(base, fill("normal", n=4096, seed=1235))
    # seeds equal in their low 32 bits: torch.Generator.manual_seed would not tell them apart
    assert not torch.equal(base, fill("normal", n=4096, seed=1234 + (1 << 32)))


def test_streams_use_every_bit_of_the_derived_seed():
    """Two blocks whose derived seeds agree in the low 32 bits: a torch.Generator seeded with them gives
    the same stream (it keeps 32 bits of a seed), initlab's blocks do not."""
    seen: dict[int, str] = {}
    pair = None
    for i in range(400_000):
        key = f"p{i}"
        low = derive_seed(0, key, 0) & 0xFFFFFFFF
        if low in seen:
            pair = (seen[low], key)
            break
        seen[low] = key
    assert pair is not None, "no low-32-bit collision among 400000 keys (expected after about 80000)"
    s1, s2 = (derive_seed(0, k, 0) for k in pair)
    assert s1 != s2
    g1, g2 = torch.Generator().manual_seed(s1), torch.Generator().manual_seed(s2)
    assert torch.equal(torch.empty(64).normal_(generator=g1), torch.empty(64).normal_(generator=g2))
    for law in LAWS:
        a, b = (fill(law, n=4096, key=k, seed=0) for k in pair)
        assert not torch.equal(a, b), law


def test_every_block_is_filled_once_and_errors_reach_the_caller():
    seen, lock = [], threading.Lock()

    def record(i):
        with lock:
            seen.append(i)

    with threads(2):
        for_blocks(37, record)
    assert sorted(seen) == list(range(37))

    def fail(i):
        if i == 5:
            raise ValueError("block 5")

    with threads(2), pytest.raises(ValueError, match="block 5"):
        for_blocks(37, fail)


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (600, 600)], ids=str)
def test_orthogonal_is_bit_identical_on_1_2_and_4_threads(shape):
    """The seeded path forms Q from its reflectors in fixed chunks of single-threaded BLAS: more than
    one block of reflectors and of chunks at 600 × 600, so the chunked paths are all exercised."""
    init = initlab.orthogonal()
    with threads(2):
        a, b = (init(torch.empty(shape), seed=9, key="q") for _ in range(2))
    with threads(1):
        c = init(torch.empty(shape), seed=9, key="q")
    with threads(4):
        d = init(torch.empty(shape), seed=9, key="q")
    assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d)


def test_orthogonal_restores_the_thread_count_even_when_it_fails(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("solve failed")

    monkeypatch.setattr(torch.linalg, "solve_triangular", boom)
    with threads(2):
        with pytest.raises(RuntimeError, match="solve failed"):
            initlab.orthogonal()(torch.empty(100, 100), seed=1)
        assert torch.get_num_threads() == 2


_CHILD = textwrap.dedent("""
    import hashlib, json, sys, torch, initlab
    torch.set_num_threads(int(sys.argv[1]))
    laws = json.loads(sys.argv[2])
    out = {}
    for name, cfg in laws.items():
        for dtype in ("float32", "bfloat16"):
            t = initlab.get(cfg)(torch.empty(%d, dtype=getattr(torch, dtype)), seed=1234, key="w")
            out[name + dtype] = hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).hexdigest()
    q = initlab.orthogonal()(torch.empty(300, 200), seed=9, key="q")
    out["orthogonal"] = hashlib.sha256(q.numpy().tobytes()).hexdigest()
    print(json.dumps(out))
""" % N)


def _child(nthreads: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(nthreads), json.dumps(LAWS)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_fresh_processes_with_different_thread_counts_give_the_same_bits():
    one, two = _child(1), _child(2)
    here = {}
    for name in LAWS:
        for dtype in (torch.float32, torch.bfloat16):
            t = fill(name, dtype)
            here[name + str(dtype).split(".")[1]] = hashlib.sha256(t.view(torch.uint8).numpy().tobytes()).hexdigest()
    q = initlab.orthogonal()(torch.empty(300, 200), seed=9, key="q")
    here["orthogonal"] = hashlib.sha256(q.numpy().tobytes()).hexdigest()
    assert one == here
    assert two == here


def test_batched_fills_equal_the_same_fills_one_by_one_and_keep_call_order():
    laws = [initlab.get(cfg) for cfg in LAWS.values()]
    shapes = [(3000, 700), (17,), (BLOCK + 5,), (64, 64)]
    one_by_one = [law(torch.empty(shape), seed=5, key=f"t{i}") for i, (law, shape) in enumerate(zip(laws, shapes))]
    tensors = [torch.full(shape, 9.0) for shape in shapes]
    with threads(2), engine.batched():
        for i, (law, t) in enumerate(zip(laws, tensors)):
            law(t, seed=5, key=f"t{i}")
        assert bool((tensors[0] == 9.0).all())  # queued, not yet filled
    assert all(torch.equal(a, b) for a, b in zip(one_by_one, tensors))

    # a later fill of the same memory wins, whatever its kind
    w = torch.empty(300, 200)
    with engine.batched():
        initlab.get(LAWS["normal"])(w, seed=1)
        initlab.get("zeros")(w)
    assert bool((w == 0).all())
    with engine.batched():
        initlab.get("zeros")(w)
        initlab.get(LAWS["uniform"])(w, seed=1, key="u")
        initlab.get(LAWS["normal"])(w, seed=1, key="n")
    assert torch.equal(w, initlab.get(LAWS["normal"])(torch.empty(300, 200), seed=1, key="n"))
    # an orthogonal fill inside a batch draws its Gaussian matrix at once
    with engine.batched():
        q = initlab.orthogonal()(torch.empty(50, 30), seed=2)
    torch.testing.assert_close(q.t() @ q, torch.eye(30), rtol=0, atol=1e-5)


CONSTANT_DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


@pytest.mark.parametrize("dtype", CONSTANT_DTYPES, ids=[str(d)[6:] for d in CONSTANT_DTYPES])
def test_large_constants_on_the_engine_threads_store_the_bits_of_fill(dtype):
    """A constant of more than 32768 elements is written block by block on the engine's threads: the bits are
    those torch's fill_ stores (the value rounded once to the dtype, the sign of zero kept), on 1 and 2
    threads, with a seed, a generator or neither, and inside a batch in call order."""
    for n, value in itertools.product((40_000, 2 * BLOCK + 999), (0.0, -0.0, 0.3, 1e-8, -7.5)):
        want = torch.empty(n, dtype=dtype).fill_(value).view(torch.uint8)
        law = initlab.get({"name": "constant", "params": {"value": value}})
        for nthreads in (1, 2):
            with threads(nthreads):
                for kwargs in ({"seed": 3}, {"generator": torch.Generator().manual_seed(0)}, {}):
                    got = law(torch.full((n,), 5.0, dtype=dtype), **kwargs)
                    assert torch.equal(got.view(torch.uint8), want), (n, value, nthreads, kwargs)
    w = torch.zeros(1500, 1500, dtype=dtype)
    with threads(2), engine.batched():
        initlab.get("ones")(w, seed=1)
        assert bool((w == 0).all())  # queued with the seeded fills
        initlab.get(LAWS["normal"])(w, seed=1, key="n")
    assert torch.equal(w, initlab.get(LAWS["normal"])(torch.empty(1500, 1500, dtype=dtype), seed=1, key="n"))
    with threads(2), engine.batched():
        initlab.get(LAWS["normal"])(w, seed=1, key="n")
        initlab.get("ones")(w, seed=1)
    assert bool((w == 1).all())
