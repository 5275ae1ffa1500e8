"""Building a 1.3B-parameter decoder: plain PyTorch against ``initlab.materialize``, side by side.

    python benchmarks/bench_materialize.py            # 138M and 1.3B stacks, one after the other
    python benchmarks/bench_materialize.py --size 135m   # d = 768, 14 layers (0.55 GB of fp32 parameters)
    python benchmarks/bench_materialize.py --size 1.3b   # the 1.3B stack (≈ 5.2 GB of fp32 parameters)
    python benchmarks/bench_materialize.py --quick    # 4 layers, d = 512, vocab 8192

The model is made of plain torch modules: token embedding (vocab 50257, d = 2048), 24 pre-norm
layers of LayerNorm, q/k/v/o ``nn.Linear(d, d)``, LayerNorm, MLP ``nn.Linear(d, 4d)`` → GELU →
``nn.Linear(4d, d)``, a final LayerNorm and an output head tied to the embedding (GPT-2 style):
1.31 B parameters. Every side runs in its own fresh process (so each peak memory is its own),
warms up on a tiny copy of the model, then builds the full one:

* ``torch``: ``Decoder()`` with PyTorch's default initialization;
* ``materialize, torch laws``: ``initlab.materialize(Decoder, scheme="torch_default",
  bias="torch_default", seed=0)`` — the same laws as PyTorch's defaults (U(±1/√fan_in) for
  Linear weights and biases, N(0, 1) for the embedding, ones/zeros for LayerNorm);
* ``materialize, auto``: ``initlab.materialize(Decoder, seed=0)`` (He/Glorot normals by layer);
* ``torch + initialize``: a plain build followed by ``initlab.initialize(model, seed=0)`` — what
  initializing a big model costs without materialize.

Reported per side: wall time of the build, speed-up against ``torch`` (target ≥ 4× for
materialize), peak resident memory over the build divided by the parameter bytes (target ≤ 1.15×),
and the same with the process's resident memory just before the build (interpreter, torch, initlab,
the warm-up) subtracted. Memory is read from ``/proc/self`` (see ``_common.py``).

Both sides write every parameter page for the first time, and page faults are part of the cost. In
a virtual machine whose memory the host backs lazily, the first write to memory the guest has never
used is several times slower still (0.5 GiB/s on one thread, against 4–7 GiB/s on memory used
before, on the machines these figures come from). ``--warm-memory`` makes each process first write
and free as much memory as the parameters take, so both sides fault in memory the host already
backs, as a long-running process would.

    python benchmarks/bench_materialize.py --warm-memory
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, peak_rss_bytes, reset_peak_rss, rss_bytes, run_child, table  # noqa: E402

FULL = {"vocab": 50257, "d": 2048, "layers": 24, "ff": 8192}
M135 = {"vocab": 50257, "d": 768, "layers": 14, "ff": 3072}  # 138 M parameters
QUICK = {"vocab": 8192, "d": 512, "layers": 4, "ff": 2048}
TINY = {"vocab": 64, "d": 16, "layers": 1, "ff": 64}


class Layer(nn.Module):
    def __init__(self, d: int, ff: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.up, self.act, self.down = nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d)

    def forward(self, x):
        h = self.ln1(x)
        scores = self.q(h) @ self.k(h).transpose(-1, -2) / math.sqrt(h.shape[-1])
        x = x + self.o(torch.softmax(scores, dim=-1) @ self.v(h))
        return x + self.down(self.act(self.up(self.ln2(x))))


class Decoder(nn.Module):
    def __init__(self, vocab: int, d: int, layers: int, ff: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(Layer(d, ff) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        x = self.emb(idx)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x))


def build(mode: str, size: dict) -> nn.Module:
    import initlab

    factory = lambda: Decoder(**size)  # noqa: E731
    if mode == "torch":
        return factory()
    if mode == "materialize, torch laws":
        return initlab.materialize(factory, scheme="torch_default", bias="torch_default", seed=0)
    if mode == "materialize, auto":
        return initlab.materialize(factory, seed=0)
    if mode == "torch + initialize":
        model = factory()
        initlab.initialize(model, seed=0)
        return model
    raise ValueError(mode)


def child(mode: str, size: dict, warm_memory: bool) -> None:
    if warm_memory:  # write (then free) as much memory as the parameters take, before timing anything
        with torch.device("meta"):
            n = sum(p.numel() for p in Decoder(**size).parameters())
        scratch = torch.empty(n)
        scratch.fill_(1.0)
        del scratch
    build(mode, TINY)  # warm-up: imports, first-call costs, the thread pool
    reset_peak_rss()
    base = rss_bytes()
    t0 = time.perf_counter()
    model = build(mode, size)
    seconds = time.perf_counter() - t0
    peak = peak_rss_bytes()
    params = sum(p.numel() for p in model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    emit({"seconds": seconds, "base": base, "peak": peak, "params": params, "param_bytes": param_bytes})


MODES = ["torch", "materialize, torch laws", "materialize, auto", "torch + initialize"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small stack")
    ap.add_argument("--warm-memory", action="store_true",
                    help="each process first writes and frees as much memory as the parameters take")
    ap.add_argument("--size", choices=["135m", "1.3b", "both"], default="both",
                    help="the 138 M-parameter stack (d = 768, 14 layers), the 1.3 B one, or both side by side")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = {"135m": ["135m"], "1.3b": ["1.3b"], "both": ["135m", "1.3b"]}[args.size]
    if args.quick:
        sizes = ["quick"]
    if args.child:
        child(args.child, {"135m": M135, "1.3b": FULL, "quick": QUICK}[sizes[0]], args.warm_memory)
        return
    for name in sizes:
        report(name, {"135m": M135, "1.3b": FULL, "quick": QUICK}[name], args)


def report(name: str, size: dict, args) -> None:
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads; "
          f"decoder {size}, tied head" + ("; memory written once before each build" if args.warm_memory else ""))
    results = {}
    for mode in MODES:
        results[mode] = run_child(__file__, ["--child", mode, "--size", name if name != "quick" else "both"]
                                  + (["--quick"] if args.quick else [])
                                  + (["--warm-memory"] if args.warm_memory else []))
    ref = results["torch"]["seconds"]
    rows = []
    for mode, r in results.items():
        pb = r["param_bytes"]
        rows.append([mode, f"{r['seconds']:.2f}", f"{ref / r['seconds']:.2f}×", f"{r['peak'] / 2**30:.2f}",
                     f"{r['peak'] / pb:.3f}", f"{(r['peak'] - r['base']) / pb:.3f}"])
    r = results["torch"]
    print(f"{r['params'] / 1e9:.3f} B parameters, {r['param_bytes'] / 2**30:.2f} GiB; "
          f"resident before the build: {r['base'] / 2**20:.0f} MiB (torch side)")
    print(table(["build", "seconds", "speed-up", "peak GiB", "peak / param bytes", "(peak − before) / param bytes"],
                rows))


if __name__ == "__main__":
    main()
