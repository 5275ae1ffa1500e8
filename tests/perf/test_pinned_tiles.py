"""The seeded values of large tensors are pinned: tiles (cut at odd places, whole rows, wide), flat blocks
of a vector, a non-contiguous destination, low precision, and a whole model built by ``materialize``.

``tests/schemes/pinned_draws.json`` pins every law on small tensors; this file pins the layouts that
only large tensors take, which the engine's performance work touches (tile copies, per-block streams,
the queue of :func:`initlab.schemes.engine.batched`). ``pinned_tiles.json`` holds a SHA-256 of each
case's bytes and a few of its values; rewrite it only when a change of values is intended::

    python tests/perf/test_pinned_tiles.py --write

As in ``pinned_draws``, torch's Box–Muller kernel rounds differently on other instruction sets: on a
machine whose platform fingerprint differs from the one recorded, the normal-based cases are compared
to a relative 1e-5 (bf16: one step of its grid) and the uniform ones still bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

import initlab

PATH = Path(__file__).with_name("pinned_tiles.json")

LAWS = {
    "normal": "he_normal",
    "uniform": "glorot_uniform",
    "truncated": "truncated_normal",
}

# (law, shape, dtype, how the destination is made)
TENSORS = [
    ("normal", (1100, 1030), "fp32", "contiguous"),      # 512 x 512 tiles, cut at odd places
    ("uniform", (1100, 1030), "fp32", "contiguous"),
    ("truncated", (1100, 1030), "fp32", "contiguous"),
    ("normal", (1100, 1030), "bf16", "contiguous"),      # drawn in fp32, cast, clamped
    ("uniform", (1100, 1030), "bf16", "contiguous"),
    ("normal", (1100, 1030), "fp32", "transposed"),      # a non-contiguous destination
    ("normal", (3001, 400), "fp32", "contiguous"),       # whole-row tiles, drawn in place
    ("uniform", (5, 300_000), "fp32", "contiguous"),     # all rows, wide tiles
    ("normal", (70, 40, 3, 3), "fp32", "contiguous"),    # one block
    ("truncated", (64, 30, 33, 17), "fp32", "contiguous"),  # a conv weight as out x rest
    ("normal", (2_500_000,), "fp32", "contiguous"),      # a vector: flat blocks
]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _tensor(law, shape, dtype, how):
    if how == "transposed":
        t = torch.zeros(shape[::-1], dtype=DTYPES[dtype]).t()
    else:
        t = torch.empty(shape, dtype=DTYPES[dtype])
    return initlab.get(LAWS[law])(t, seed=5, key="t")


class Model(nn.Module):
    """Tiled weights (an embedding tied to the head, 1030 x 1100 and 1100 x 1030 projections), vectors and a
    LayerNorm: what ``materialize`` fills through one queue."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(1500, 1030)
        self.up, self.act, self.down = nn.Linear(1030, 1100), nn.GELU(), nn.Linear(1100, 1030)
        self.norm = nn.LayerNorm(1030)
        self.head = nn.Linear(1030, 1500, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return self.head(self.norm(self.down(self.act(self.up(self.emb(idx))))))


def _model(scheme):
    kwargs = {"scheme": "torch_default", "bias": "torch_default"} if scheme == "torch laws" else {}
    m = initlab.materialize(Model, seed=7, **kwargs)
    return torch.cat([p.detach().reshape(-1) for _, p in sorted(m.named_parameters())])


def cases():
    """``(case id, law family, draw)``."""
    out = [(f"{law} {shape} {dtype} {how}", law, lambda a=(law, shape, dtype, how): _tensor(*a))
           for law, shape, dtype, how in TENSORS]
    out += [(f"materialize, {s}", "normal", lambda s=s: _model(s)) for s in ("auto", "torch laws")]
    return out


def _digest(t: torch.Tensor) -> dict:
    t = t.detach().contiguous()
    raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
    flat = t.double().reshape(-1).numpy()
    pick = np.linspace(0, flat.size - 1, num=6).astype(int)
    return {"sha256": hashlib.sha256(raw).hexdigest(), "values": [float(v) for v in flat[pick]],
            "sum": float(flat.sum())}


def _platform() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schemes"))
    from pinned_draws import platform_fingerprint

    return platform_fingerprint()


PINNED = json.loads(PATH.read_text()) if PATH.exists() else {"platform": "", "cases": {}}
CASES = cases()


def test_every_case_is_pinned():
    assert sorted(c[0] for c in CASES) == sorted(PINNED["cases"])


@pytest.fixture(scope="module")
def same_platform():
    return _platform() == PINNED["platform"]


@pytest.mark.parametrize("cid, family, draw", CASES, ids=[c[0] for c in CASES])
def test_pinned_values(cid, family, draw, same_platform):
    want, got = PINNED["cases"][cid], _digest(draw())
    if same_platform or family == "uniform":
        assert got["sha256"] == want["sha256"], f"{cid}: values changed (pinned {want['values']}, got {got['values']})"
        return
    tol = 2.0 ** -7 if "bf16" in cid else 1e-5
    np.testing.assert_allclose(got["values"], want["values"], rtol=tol, atol=tol * 1e-3, err_msg=cid)


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit("usage: python tests/perf/test_pinned_tiles.py --write   (rewrites pinned_tiles.json)")
    PATH.write_text(json.dumps({"platform": _platform(),
                                "cases": {cid: _digest(draw()) for cid, _, draw in CASES}}, indent=1) + "\n")
    print(f"wrote {PATH}")
