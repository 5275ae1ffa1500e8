"""Every registry scheme × {plain tensor, nn.Parameter that requires grad, a non-contiguous view of one}
× {1, 2, 4 threads} × {seed, generator, neither} × {fp32, bf16}.

Each thread count runs in its own process with ``torch.set_num_threads`` set before anything is
drawn (grad mode and thread pools are per thread and per process; a crash of seeded orthogonal on
parameters once hid at 2+ threads because tests pinned one thread). Seeded i.i.d. fills span two
blocks, so that 2 and 4 threads share them out. The processes run every case and
report, per case: the fill succeeded; the values are finite and lie in the law's support (bounds
derived here by hand for the bounded laws, |x| ≤ gain for orthogonal matrices, the exact values of
``torch.nn.init`` for the deterministic schemes, ⌈0.1·rows⌉ zeros in every column for sparse); the
tensor's ``requires_grad``/``is_leaf`` are unchanged; and a digest of the seeded values, which must
be the same at 1, 2 and 4 threads and for the three kinds of tensor.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest

import initlab

C = 0.87962566103423978  # std of N(0, 1) on [−2, 2] (Keras's constant, checked in test_keras.py)
BIG = (1100, 1000)  # seeded i.i.d. fills: two blocks of 2^20 elements, filled by the pool's threads
SMALL = (110, 1000)  # generator and global-generator fills (sequential): the same fan_in


def _iid(support):
    """An i.i.d. scheme: ``support(fan_in, fan_out)``, on BIG when seeded and SMALL otherwise."""
    return {"seed": (BIG, support(BIG[1], BIG[0])), "other": (SMALL, support(SMALL[1], SMALL[0]))}


def _fixed(shape, support):
    return {"seed": (shape, support), "other": (shape, support)}


def _bounds(limit):
    return lambda fi, fo: ("bounds", -limit(fi, fo), limit(fi, fo))


# scheme -> {"seed" | "other": (shape, support)}; support: ("bounds", lo, hi) | ("finite",) | ("gain", g) |
# ("exact", a torch.nn.init call) | ("sparse", zeros per column); bounds written out from each law's definition
CASES = {
    "zeros": _fixed(SMALL, ("exact", "torch.nn.init.zeros_(e)")),
    "ones": _fixed(SMALL, ("exact", "torch.nn.init.ones_(e)")),
    "constant": _fixed(SMALL, ("exact", "torch.nn.init.constant_(e, 0.0)")),
    "random_normal": _iid(lambda fi, fo: ("finite",)),
    "random_uniform": _iid(_bounds(lambda fi, fo: 0.05)),
    "truncated_normal": _iid(_bounds(lambda fi, fo: 0.1)),
    "trunc_normal": _iid(_bounds(lambda fi, fo: 2.0)),
    "variance_scaling": _iid(_bounds(lambda fi, fo: 2 * math.sqrt(1 / fi) / C)),
    "glorot_normal": _iid(lambda fi, fo: ("finite",)),
    "glorot_uniform": _iid(_bounds(lambda fi, fo: math.sqrt(6 / (fi + fo)))),
    "glorot_truncated_normal": _iid(_bounds(lambda fi, fo: 2 * math.sqrt(2 / (fi + fo)) / C)),
    "he_normal": _iid(lambda fi, fo: ("finite",)),
    "he_uniform": _iid(_bounds(lambda fi, fo: math.sqrt(6 / fi))),
    "he_truncated_normal": _iid(_bounds(lambda fi, fo: 2 * math.sqrt(2 / fi) / C)),
    "lecun_normal": _iid(lambda fi, fo: ("finite",)),
    "lecun_uniform": _iid(_bounds(lambda fi, fo: math.sqrt(3 / fi))),
    "lecun_truncated_normal": _iid(_bounds(lambda fi, fo: 2 * math.sqrt(1 / fi) / C)),
    "orthogonal": _fixed((600, 400), ("gain", 1.0)),
    "identity": _fixed((50, 40), ("exact", "torch.nn.init.eye_(e)")),
    "dirac": _fixed((16, 8, 3, 3), ("exact", "torch.nn.init.dirac_(e)")),
    "delta_orthogonal": _fixed((64, 32, 3, 3), ("gain", 1.0)),
    "sparse": _fixed((300, 200), ("sparse", math.ceil(0.1 * 300))),
    "torch_default": _iid(_bounds(lambda fi, fo: 1 / math.sqrt(fi))),
    "small_init": _iid(lambda fi, fo: ("finite",)),
    "wang_init": _iid(lambda fi, fo: ("finite",)),
    "mitchell": _iid(_bounds(lambda fi, fo: 3 / math.sqrt(fi))),  # truncated at ±3σ, σ = 1/√fan_in
    "ZerO": _fixed((24, 40), ("exact", "e.copy_(torch.eye(24, 40))")),  # out ≤ in; out > in is tested elsewhere
    "idinit": _fixed((24, 40), ("exact", "e.copy_(torch.cat([torch.eye(24), torch.eye(24)[:, :16]], 1))")),
}
KINDS = ("tensor", "parameter", "view")
MODES = ("seed", "generator", "neither")
DTYPES = ("float32", "bfloat16")
THREADS = (1, 2, 4)

_CHILD = textwrap.dedent('''
    import hashlib, json, math, sys
    import torch, torch.nn as nn
    torch.set_num_threads(int(sys.argv[1]))
    import initlab

    cases = json.loads(sys.stdin.read())

    def target(kind, shape, dtype):
        if kind == "tensor":
            return torch.empty(shape, dtype=dtype)
        if kind == "parameter":
            return nn.Parameter(torch.empty(shape, dtype=dtype))
        return nn.Parameter(torch.empty(tuple(shape) + (2,), dtype=dtype))[..., 1]  # non-contiguous view

    def support_ok(t, x, support):
        kind = support[0]
        if kind == "bounds":
            lo = torch.tensor(support[1], dtype=torch.float64).to(t.dtype).double().item()
            hi = torch.tensor(support[2], dtype=torch.float64).to(t.dtype).double().item()
            return bool((x >= lo).all() and (x <= hi).all())
        if kind == "gain":
            return bool((x.abs() <= support[1] * (1 + 2 ** -7)).all())
        if kind == "sparse":  # ⌈0.1·rows⌉ zeros per column; a Gaussian entry is itself 0 once in ~2^24 draws
            zeros = (x == 0).sum(0)
            return bool((zeros >= support[1]).all() and int(zeros.sum()) <= support[1] * x.shape[1] + 2)
        if kind == "exact":
            e = torch.empty(t.shape, dtype=torch.float64)
            eval(support[1], {"torch": torch, "e": e})
            return bool(torch.equal(t.detach(), e.to(t.dtype)))
        return True

    out = []
    for name, by_mode in cases.items():
        for kind in ("tensor", "parameter", "view"):
            for mode in ("seed", "generator", "neither"):
                shape, support = by_mode["seed" if mode == "seed" else "other"]
                for dname in ("float32", "bfloat16"):
                    rec = {"scheme": name, "kind": kind, "mode": mode, "dtype": dname}
                    t = target(kind, shape, getattr(torch, dname))
                    grad = (t.requires_grad, t.is_leaf)
                    kw = {"seed": 7, "key": "w"} if mode == "seed" else (
                        {"generator": torch.Generator().manual_seed(7)} if mode == "generator" else {})
                    try:
                        r = initlab.get(name)(t, **kw)
                    except Exception as e:  # reported, not raised: every case runs
                        rec["error"] = f"{type(e).__name__}: {e}"
                        out.append(rec)
                        continue
                    rec["same_object"] = r is t
                    x = t.detach().double()
                    rec["finite"] = bool(x.isfinite().all())
                    rec["support"] = support_ok(t, x, support)
                    rec["grad"] = (t.requires_grad, t.is_leaf) == grad
                    if mode == "seed":
                        raw = t.detach().contiguous().view(torch.int16 if dname == "bfloat16" else torch.int32)
                        rec["sha"] = hashlib.sha256(raw.numpy().tobytes()).hexdigest()
                    out.append(rec)
    print(json.dumps(out))
''')


def _run(threads: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(threads)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def records() -> dict:
    """``{threads: {(scheme, kind, mode, dtype): record}}``, the processes run side by side."""
    payload = json.dumps(CASES)
    procs = {n: _run(n) for n in THREADS}
    out = {}
    for n, proc in procs.items():
        stdout, stderr = proc.communicate(payload, timeout=600)
        assert proc.returncode == 0, stderr[-4000:]
        rows = json.loads(stdout.strip().splitlines()[-1])
        out[n] = {(r["scheme"], r["kind"], r["mode"], r["dtype"]): r for r in rows}
    return out


def test_every_registry_scheme_is_in_the_matrix():
    assert set(CASES) == {row["name"] for row in initlab.list_schemes()}


@pytest.mark.slow
@pytest.mark.parametrize("scheme", sorted(CASES))
def test_fills_succeed_in_support_with_grad_state_kept(records, scheme):
    failures = []
    for n, rows in records.items():
        for kind in KINDS:
            for mode in MODES:
                for dtype in DTYPES:
                    r = rows[(scheme, kind, mode, dtype)]
                    where = f"{n} threads, {kind}, {mode}, {dtype}"
                    if "error" in r:
                        failures.append(f"{where}: {r['error']}")
                        continue
                    for check in ("same_object", "finite", "support", "grad"):
                        if not r[check]:
                            failures.append(f"{where}: {check} failed")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", sorted(CASES))
def test_seeded_values_are_bit_identical_across_threads_and_tensor_kinds(records, scheme):
    for dtype in DTYPES:
        shas = {(n, kind): records[n][(scheme, kind, "seed", dtype)].get("sha") for n in THREADS for kind in KINDS}
        assert None not in shas.values(), shas
        assert len(set(shas.values())) == 1, f"{scheme} {dtype}: {shas}"
