"""The model zoo at 1 and 2 threads: ``initialize``, ``materialize`` and ``lsuv`` on an MLP, a CNN with
BatchNorm, an LSTM, a GRU, multi-head attention, an embedding with a tied head, ``nn.TransformerEncoderLayer``
and a hand-written pre-LN block, in fp32 and bf16, with a seed.

Grad mode and the thread count are per thread in torch, and a crash once hid where tests pinned one
thread; so each thread count runs in a fresh process that sets it before torch does any work. Every
parameter of every model requires grad. Each process reports a hash of every result; the two processes
must agree bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

D = 32


class Head(nn.Module):
    """A recurrent or attention body followed by a Linear readout (LSUV needs a Linear or Conv)."""

    def __init__(self, body: nn.Module, dtype):
        super().__init__()
        self.body = body
        self.out = nn.Linear(D, 10, dtype=dtype)

    def forward(self, x):
        if isinstance(self.body, nn.MultiheadAttention):
            h = self.body(x, x, x, need_weights=False)[0]
        elif isinstance(self.body, nn.RNNBase):
            h = self.body(x)[0]
        else:
            h = self.body(x)
        return self.out(h)


class TiedLM(nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.emb = nn.Embedding(50, D, dtype=dtype)
        self.mix = nn.Linear(D, D, dtype=dtype)
        self.act = nn.GELU()
        self.head = nn.Linear(D, 50, bias=False, dtype=dtype)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return self.head(self.act(self.mix(self.emb(idx))))


class PreLNBlock(nn.Module):
    """x + attn(LN(x)), then x + MLP(LN(x)): q/k/v/o projections and a GELU MLP, written out by hand."""

    def __init__(self, dtype, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(D, dtype=dtype), nn.LayerNorm(D, dtype=dtype)
        self.qkv = nn.Linear(D, 3 * D, dtype=dtype)
        self.o = nn.Linear(D, D, dtype=dtype)
        self.up, self.act, self.down = nn.Linear(D, 4 * D, dtype=dtype), nn.GELU(), nn.Linear(4 * D, D, dtype=dtype)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, D // self.heads).unbind(2)
        att = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(D // self.heads), -1)
        x = x + self.o(torch.einsum("bhqk,bkhd->bqhd", att, v).reshape(b, t, D))
        return x + self.down(self.act(self.up(self.ln2(x))))


ZOO = {
    "mlp": (lambda dt: nn.Sequential(nn.Linear(24, 64, dtype=dt), nn.ReLU(), nn.Linear(64, 64, dtype=dt), nn.Tanh(),
                                     nn.Linear(64, 10, dtype=dt)), (16, 24)),
    "cnn-bn": (lambda dt: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, dtype=dt), nn.BatchNorm2d(8, dtype=dt),
                                        nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, dtype=dt),
                                        nn.BatchNorm2d(8, dtype=dt), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                        nn.Flatten(), nn.Linear(8, 10, dtype=dt)), (8, 3, 8, 8)),
    "lstm": (lambda dt: Head(nn.LSTM(16, D, num_layers=2, batch_first=True, dtype=dt), dt), (8, 5, 16)),
    "gru": (lambda dt: Head(nn.GRU(16, D, batch_first=True, dtype=dt), dt), (8, 5, 16)),
    "attention": (lambda dt: Head(nn.MultiheadAttention(D, 4, batch_first=True, dtype=dt), dt), (8, 5, D)),
    "tied-embedding": (lambda dt: TiedLM(dt), "tokens"),
    "encoder-layer": (lambda dt: nn.TransformerEncoderLayer(D, 4, 64, batch_first=True, dtype=dt), (8, 5, D)),
    "pre-ln-block": (lambda dt: PreLNBlock(dt), (8, 5, D)),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
ENTRY_POINTS = ("initialize", "materialize", "lsuv")


def batch(spec, dtype):
    g = torch.Generator().manual_seed(0)
    if spec == "tokens":
        return torch.randint(0, 50, (8, 6), generator=g)
    return torch.randn(spec, generator=g).to(dtype)


def digest(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def run_zoo() -> dict:
    """Every model × entry point × dtype: a hash of the parameters, or the problem found."""
    import initlab

    results, problems = {}, []
    for name, (make, spec) in ZOO.items():
        for dname, dtype in DTYPES.items():
            for entry in ENTRY_POINTS:
                case = f"{name}/{dname}/{entry}"
                if entry == "materialize":
                    model = initlab.materialize(lambda: make(dtype), seed=0)
                else:
                    model = make(dtype)
                    initlab.initialize(model, seed=0)
                    if entry == "lsuv":
                        initlab.lsuv(model, batch(spec, dtype), seed=0)
                params = list(model.named_parameters())
                if not all(p.requires_grad and p.dtype == dtype for _, p in params):
                    problems.append(f"{case}: a parameter lost requires_grad or its dtype")
                if not all(bool(torch.isfinite(p).all()) for _, p in params):
                    problems.append(f"{case}: non-finite values")
                out = model(batch(spec, dtype))
                out.float().sum().backward()
                if any(p.grad is None for _, p in params):
                    problems.append(f"{case}: a parameter got no gradient")
                results[case] = digest(model)
    return {"threads": torch.get_num_threads(), "results": results, "problems": problems}


_CHILD = """
import json, sys, torch
torch.set_num_threads(int(sys.argv[2]))
sys.path.insert(0, sys.argv[1])
import warnings
warnings.simplefilter("ignore")
from test_zoo_threads import run_zoo
print(json.dumps(run_zoo()))
"""


def zoos_in_processes(*threads: int) -> list[dict]:
    """Run the zoo in one fresh process per thread count, side by side."""
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(Path(__file__).parent), str(t)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for t in threads]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


@pytest.mark.slow
def test_the_zoo_at_one_and_two_threads_is_bit_identical():
    one, two = zoos_in_processes(1, 2)
    assert (one["threads"], two["threads"]) == (1, 2)
    assert not one["problems"] and not two["problems"], one["problems"] + two["problems"]
    expected = {f"{m}/{d}/{e}" for m in ZOO for d in DTYPES for e in ENTRY_POINTS}
    assert set(two["results"]) == expected
    differ = [case for case in sorted(expected) if one["results"][case] != two["results"][case]]
    assert not differ, f"differ between 1 and 2 threads: {differ}"
    # materialize equals initialize on a normal build (same seed, same plan, same streams)
    for m in ZOO:
        for d in DTYPES:
            assert two["results"][f"{m}/{d}/materialize"] == two["results"][f"{m}/{d}/initialize"], (m, d)
    # and the hashes are of different things: LSUV changed every model it ran on
    for m in ZOO:
        assert two["results"][f"{m}/fp32/lsuv"] != two["results"][f"{m}/fp32/initialize"], m
