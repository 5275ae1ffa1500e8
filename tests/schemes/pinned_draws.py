"""Seeded and generator draws of every law, pinned: the cases, how each is drawn, and its fingerprint.

``pinned_draws.json`` holds, per case, a SHA-256 of the values' bytes and a few of the values. The
values were taken from the engine as it stood before it was reorganised by law, so that any later
change to the bits a seed gives is caught by ``test_pinned_draws.py``. Rewrite the file only when a
change of values is intended (and say so in the changelog)::

    python tests/schemes/pinned_draws.py --write

Some values depend on the machine, not only on initlab: torch's Box–Muller kernel and the BLAS/LAPACK
kernels round differently on other instruction sets. The file records a *platform fingerprint* (a
few bytes of those kernels' output); on a machine with another fingerprint the test compares the
pinned values to a tolerance instead of bit for bit, and says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

import initlab

PATH = Path(__file__).with_name("pinned_draws.json")
BIG = (1 << 20) + 1000  # spans two seeded blocks

# (scheme config, shape) for every registry scheme; laws with parameters at non-default values
SCHEMES = [
    ("zeros", (5, 7)),
    ("ones", (5, 7)),
    ({"name": "constant", "params": {"value": 0.3}}, (5, 7)),
    ({"name": "random_normal", "params": {"mean": 0.1, "std": 0.7}}, (33, 17)),
    ({"name": "random_uniform", "params": {"minval": -0.3, "maxval": 0.9}}, (33, 17)),
    ("truncated_normal", (33, 17)),
    ({"name": "trunc_normal", "params": {"mean": 0.2, "std": 0.5, "a": -0.1, "b": 0.8}}, (33, 17)),
    ({"name": "variance_scaling", "params": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}},
     (16, 8, 3)),
    ("variance_scaling", (16, 8, 3)),
    ("glorot_normal", (33, 17)),
    ("glorot_uniform", (33, 17)),
    ("glorot_truncated_normal", (33, 17)),
    ("he_normal", (16, 8, 3, 3)),
    ({"name": "he_uniform", "params": {"a": 0.2, "mode": "fan_out"}}, (16, 8, 3, 3)),
    ("he_truncated_normal", (16, 8, 3, 3)),
    ("lecun_normal", (33, 17)),
    ("lecun_uniform", (33, 17)),
    ("lecun_truncated_normal", (33, 17)),
    ({"name": "orthogonal", "params": {"gain": 1.5}}, (40, 24)),
    ("orthogonal", (24, 40)),
    ("orthogonal", (12, 4, 3, 3)),
    ("identity", (5, 7)),
    ({"name": "dirac", "params": {"groups": 2}}, (8, 4, 3, 3)),
    ({"name": "delta_orthogonal", "params": {"gain": 2.0}}, (16, 8, 3, 3)),
    ("sparse", (30, 20)),
    ("torch_default", (16, 8, 3)),
    ({"name": "torch_default", "params": {"fan_in": 24}}, (16,)),
    ({"name": "small_init", "params": {"dim": 64}}, (33, 17)),
    ({"name": "wang_init", "params": {"n_layers": 6}}, (33, 17)),
    ({"name": "mitchell", "params": {"layer": 2}}, (33, 17)),
    ("ZerO", (40, 24)),
    ("ZerO", (12, 4, 3, 3)),
    ({"name": "idinit", "params": {"tau": 0.5}}, (7, 12)),
]

# truncated normals with bounds in units of σ: rejection (acceptance ≥ 1/2) and inversion
TRUNCATED = [(-1.0, 1.0), (-2.0, 2.0), (0.5, 3.0), (-4.0, -1.0), (-0.3, 0.3), (4.5, 6.0), (-8.0, -5.0),
             (-1.0, 9.0), (-math.inf, 1.5), (-25.0, -24.0)]

NO_KERNEL = ("constant", "uniform", "identity", "dirac", "hadamard_identity", "padded_identity")
"""Families whose values involve no vectorised transcendental or BLAS kernel: bit-identical on every
machine."""


def _name(cfg) -> str:
    return cfg if isinstance(cfg, str) else cfg["name"] + "(" + ",".join(f"{k}={v}" for k, v in cfg["params"].items()) + ")"


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _digest(values) -> dict:
    if isinstance(values, torch.Tensor):
        raw = _tensor_bytes(values)
        flat = values.detach().double().reshape(-1)
        flat = flat.numpy()
    else:
        raw = np.ascontiguousarray(values).tobytes()
        flat = np.asarray(values, dtype=np.float64).reshape(-1)
    pick = np.linspace(0, flat.size - 1, num=min(6, flat.size)).astype(int)
    return {"sha256": hashlib.sha256(raw).hexdigest(), "values": [float(v) for v in flat[pick]],
            "index": [int(i) for i in pick], "sum": float(np.sum(flat))}


def _family(cfg, shape) -> str:
    return initlab.get(cfg).distribution(shape).family


def cases():
    """``(case id, family, draw)``: ``draw()`` returns the values to pin."""
    out = []
    dtypes = {"fp32": torch.float32, "fp64": torch.float64, "bf16": torch.bfloat16, "fp16": torch.float16}
    for cfg, shape in SCHEMES:
        name, fam = _name(cfg), _family(cfg, shape)
        for dname, dtype in dtypes.items():
            out.append((f"{name} {shape} {dname} seed", fam,
                        lambda cfg=cfg, shape=shape, dtype=dtype: initlab.get(cfg)(
                            torch.empty(shape, dtype=dtype), seed=3, key="w")))
        out.append((f"{name} {shape} fp32 generator", fam,
                    lambda cfg=cfg, shape=shape: initlab.get(cfg)(
                        torch.empty(shape), generator=torch.Generator().manual_seed(11))))
        out.append((f"{name} {shape} bf16 generator", fam,
                    lambda cfg=cfg, shape=shape: initlab.get(cfg)(
                        torch.empty(shape, dtype=torch.bfloat16), generator=torch.Generator().manual_seed(11))))
        out.append((f"{name} {shape} fp32 non-contiguous seed", fam,
                    lambda cfg=cfg, shape=shape: initlab.get(cfg)(
                        torch.zeros(shape[::-1]).t() if len(shape) == 2 else
                        torch.zeros((2 * shape[0],) + shape[1:])[::2], seed=3, key="w")))
        out.append((f"{name} {shape} numpy float32 seed", fam,
                    lambda cfg=cfg, shape=shape: initlab.get(cfg).numpy(shape, seed=3, key="w")))
        out.append((f"{name} {shape} numpy float64 rng", fam + " numpy",
                    lambda cfg=cfg, shape=shape: initlab.get(cfg).numpy(shape, rng=np.random.default_rng(5),
                                                                        dtype="float64")))
    for a, b in TRUNCATED:
        cfg = {"name": "truncated_normal", "params": {"mean": 0.25, "std": 0.8, "a": a, "b": b}}
        for dname, dtype in (("fp32", torch.float32), ("fp64", torch.float64), ("bf16", torch.bfloat16)):
            out.append((f"truncated [{a}, {b}] {dname} seed", "truncated_normal",
                        lambda cfg=cfg, dtype=dtype: initlab.get(cfg)(torch.empty(4099, dtype=dtype), seed=8,
                                                                      key="t")))
        out.append((f"truncated [{a}, {b}] fp32 generator", "truncated_normal",
                    lambda cfg=cfg: initlab.get(cfg)(torch.empty(4099), generator=torch.Generator().manual_seed(2))))
        out.append((f"truncated [{a}, {b}] numpy float64 rng", "truncated_normal numpy",
                    lambda cfg=cfg: initlab.get(cfg).numpy((4099,), rng=np.random.default_rng(9), dtype="float64")))
    for cfg in ({"name": "random_normal", "params": {"std": 0.02}},
                {"name": "random_uniform", "params": {"minval": -0.05, "maxval": 0.05}},
                {"name": "truncated_normal", "params": {"std": 0.02}},
                {"name": "truncated_normal", "params": {"std": 0.02, "a": 0.5, "b": 3.0}}):
        fam = _family(cfg, (BIG,))
        for dname, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            out.append((f"{_name(cfg)} two blocks {dname} seed", fam,
                        lambda cfg=cfg, dtype=dtype: initlab.get(cfg)(torch.empty(BIG, dtype=dtype), seed=1,
                                                                      key="big")))
    out.append(("orthogonal (300, 200) two threads seed", "orthogonal", _orthogonal_two_threads))
    out.append(("batched he_normal + uniform + truncated", "normal", _batched))
    return out


def _orthogonal_two_threads():
    from initlab._threads import torch_threads

    with torch_threads(2):
        return initlab.orthogonal()(torch.empty(300, 200), seed=4, key="q")


def _batched():
    from initlab.schemes.engine import batched

    ts = [torch.empty(64, 48), torch.empty(100), torch.empty(30, 30, dtype=torch.bfloat16)]
    with batched():
        initlab.he_normal()(ts[0], seed=6, key="a")
        initlab.random_uniform()(ts[1], seed=6, key="b")
        initlab.truncated_normal()(ts[2], seed=6, key="c")
    return torch.cat([t.double().reshape(-1) for t in ts])


def platform_fingerprint() -> str:
    """A digest of the machine-dependent kernels the pinned values go through: torch's ``normal_``
    (vectorised Box–Muller), a single-threaded matmul and LAPACK's QR (torch and NumPy)."""
    from initlab._threads import torch_threads

    h = hashlib.sha256()
    with torch_threads(1):
        h.update(torch.empty(256).normal_(generator=torch.Generator().manual_seed(0)).numpy().tobytes())
        h.update(torch.empty(256, dtype=torch.float64).normal_(
            generator=torch.Generator().manual_seed(0)).numpy().tobytes())
        a = torch.linspace(-1, 1, 96 * 80).reshape(96, 80).sin()
        h.update((a @ a.t()).numpy().tobytes())
        h.update(torch.linalg.qr(a)[0].numpy().tobytes())
        h.update(np.linalg.qr(a.double().numpy())[0].tobytes())
    return h.hexdigest()


def compute() -> dict:
    return {"platform": platform_fingerprint(), "cases": {cid: {"family": fam, **_digest(draw())}
                                                           for cid, fam, draw in cases()}}


if __name__ == "__main__":
    if "--write" not in sys.argv and "--add" not in sys.argv:
        sys.exit("usage: python tests/schemes/pinned_draws.py --write | --add   (rewrites pinned_draws.json, or "
                 "pins the cases it does not hold yet)")
    if "--add" in sys.argv:  # pin new cases only; every existing one keeps its pinned values
        old = json.loads(PATH.read_text())
        new = {cid: {"family": fam, **_digest(draw())} for cid, fam, draw in cases() if cid not in old["cases"]}
        old["cases"].update(new)
        PATH.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        print(f"added {len(new)} case(s) to {PATH}")
        sys.exit(0)
    PATH.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PATH}")
