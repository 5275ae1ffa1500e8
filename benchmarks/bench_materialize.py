"""Building a decoder with plain PyTorch against ``initlab.materialize``, at 138M and 1.3B parameters, side by side.

    python benchmarks/bench_materialize.py                 # both sizes, 3 repeats, medians and ratios
    python benchmarks/bench_materialize.py --size 1.3b     # one size: 135m (d = 768, 14 layers) or 1.3b
    python benchmarks/bench_materialize.py --repeats 5     # more repeats on a noisy machine
    python benchmarks/bench_materialize.py --quick         # 4 layers, d = 512, vocab 8192
    python benchmarks/bench_materialize.py --thp           # every side with THP_MEM_ALLOC_ENABLE=1
    python benchmarks/bench_materialize.py --warm-memory   # each process writes and frees its memory first

The model is made of plain torch modules: token embedding (vocab 50257, d = 2048), 24 pre-norm layers of
LayerNorm, q/k/v/o ``nn.Linear(d, d)``, LayerNorm, MLP ``nn.Linear(d, 4d)`` → GELU → ``nn.Linear(4d, d)``,
a final LayerNorm and an output head tied to the embedding (GPT-2 style): 1.31 B parameters (the 135m size:
d = 768, 14 layers, 138 M). Every side runs in its own fresh process (so each peak memory is its own),
warms up on a tiny copy of the model, then builds the full one:

* ``torch``: ``Decoder()`` with PyTorch's default initialization;
* ``torch + initialize``: a plain build followed by ``initlab.initialize(model, seed=0)`` — what
  initializing a big model costs without materialize;
* ``materialize, torch laws``: ``initlab.materialize(Decoder, scheme="torch_default",
  bias="torch_default", seed=0)`` — PyTorch's own laws (U(±1/√fan_in) for Linear weights and biases,
  N(0, 1) for the embedding), drawn by initlab's seeded engine;
* ``materialize, auto``: ``initlab.materialize(Decoder, seed=0)`` (He/Glorot normals by layer);
* ``materialize, zeros``: ``initlab.materialize(Decoder, scheme="zeros", bias="zeros", seed=0)``: no random
  numbers, only the first write of every parameter page on torch's threads — the floor under any
  generator, however fast.

The sides run in a rotated order in each repeat (page faults depend on what the process before left
behind). Printed per size: the median wall time of each side with its range, the median CPU time
(user + system, all threads: on a busy machine wall time follows the share of the cores a process
gets, CPU time much less), the speed-up against ``torch`` (median of the per-repeat ratios), and peak
resident memory over the parameter bytes. Then the targets: materialize never slower than
``torch + initialize``, and ≥ 4× faster than ``torch`` at 1.3B; and what 4× would need: with the floor
T₀ measured, a fill of N parameters in time T ≤ T_torch / 4 needs a generation rate of at least
N / (T_torch / 4 − T₀) elements/s over all threads (unreachable at any rate when T₀ ≥ T_torch / 4),
against the rate the fill reaches, N / (T − T₀). The load average is printed before and after.

Both sides write every parameter page for the first time; page faults are part of the cost. In a
virtual machine whose host backs memory lazily (free page reporting), the first write to memory the
guest has handed back is several times slower (see ``initlab.model.materialize`` on huge pages);
``--warm-memory`` makes each process first write and free as much memory as the parameters take.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
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
SIZES = {"135m": M135, "1.3b": FULL, "quick": QUICK}
LABELS = {"135m": "138M", "1.3b": "1.3B", "quick": "quick"}


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


TORCH, INIT, TORCH_LAWS, AUTO, ZEROS = ("torch", "torch + initialize", "materialize, torch laws",
                                        "materialize, auto", "materialize, zeros")
MODES = [TORCH, INIT, TORCH_LAWS, AUTO, ZEROS]
MATERIALIZE = [TORCH_LAWS, AUTO]


def build(mode: str, size: dict) -> nn.Module:
    import initlab

    factory = lambda: Decoder(**size)  # noqa: E731
    if mode == TORCH:
        return factory()
    if mode == INIT:
        model = factory()
        initlab.initialize(model, seed=0)
        return model
    if mode == TORCH_LAWS:
        return initlab.materialize(factory, scheme="torch_default", bias="torch_default", seed=0)
    if mode == AUTO:
        return initlab.materialize(factory, seed=0)
    if mode == ZEROS:
        return initlab.materialize(factory, scheme="zeros", bias="zeros", seed=0)
    raise ValueError(mode)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    model = build(mode, size)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    peak = peak_rss_bytes()
    params = sum(p.numel() for p in model.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    emit({"seconds": seconds, "cpu": cpu, "base": base, "peak": peak, "params": params, "param_bytes": param_bytes})


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _thp() -> str:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().strip()
    except OSError:
        return "n/a"


def measure(name: str, args) -> dict:
    """{mode: [result of each repeat]}, the sides in a rotated order each repeat."""
    results: dict[str, list] = {m: [] for m in MODES}
    env = {"THP_MEM_ALLOC_ENABLE": "1"} if args.thp else None
    for rep in range(args.repeats):
        order = MODES[rep % len(MODES):] + MODES[:rep % len(MODES)]
        for mode in order:
            results[mode].append(run_child(__file__, ["--child", mode, "--size", name]
                                           + (["--warm-memory"] if args.warm_memory else []), env=env))
    return results


def _med(rs: list, key: str) -> float:
    return statistics.median(r[key] for r in rs)


def speedup(results: dict, mode: str, against: str = TORCH) -> float:
    """Median over repeats of (time of ``against``) / (time of ``mode``) in the same repeat."""
    return statistics.median(a["seconds"] / m["seconds"] for a, m in zip(results[against], results[mode]))


def report(name: str, results: dict, load_before: str) -> None:
    size = SIZES[name]
    ref = results[TORCH][0]
    print(f"\n{LABELS[name]}: decoder {size}, tied head; {ref['params'] / 1e9:.3f} B parameters, "
          f"{ref['param_bytes'] / 2**30:.2f} GiB; {len(results[TORCH])} repeats; load average before "
          f"{load_before}, after {_load()}")
    rows = []
    for mode, rs in results.items():
        secs = [r["seconds"] for r in rs]
        pb = rs[0]["param_bytes"]
        rows.append([mode, f"{statistics.median(secs):.2f}", f"{min(secs):.2f}–{max(secs):.2f}",
                     f"{_med(rs, 'cpu'):.2f}", f"{speedup(results, mode):.2f}×",
                     f"{_med(rs, 'peak') / pb:.3f}", f"{(_med(rs, 'peak') - _med(rs, 'base')) / pb:.3f}"])
    print(table(["build", "median s", "range s", "CPU s", "speed-up vs torch", "peak / param bytes",
                 "(peak − before) / param bytes"], rows))
    for mode in MATERIALIZE:
        r = speedup(results, mode, INIT)
        print(f"  {mode} against torch + initialize: {r:.2f}× ({'faster' if r >= 1 else 'SLOWER'}; target ≥ 1×)")
    t_torch, t_floor = _med(results[TORCH], "seconds"), _med(results[ZEROS], "seconds")
    n = ref["params"]
    budget = t_torch / 4 - t_floor
    print(f"  floor (first writes, no random numbers): {t_floor:.2f} s = {t_torch / t_floor:.2f}× faster than torch "
          "— the most any generator could give")
    if budget > 0:
        print(f"  4× faster than torch needs {n / budget / 1e9:.2f} G elements/s of generation over all threads "
              f"(T_torch / 4 − floor = {budget:.2f} s)")
    else:
        print(f"  4× faster than torch is out of reach at any generation rate here: the first writes alone take "
              f"{t_floor:.2f} s > T_torch / 4 = {t_torch / 4:.2f} s")
    for mode in MATERIALIZE:
        spent = _med(results[mode], "seconds") - t_floor
        rate = f"{n / spent / 1e9:.2f} G elements/s" if spent > 0 else "n/a (within the noise of the floor)"
        print(f"  {mode}: {speedup(results, mode):.2f}× faster than torch (target ≥ 4× at 1.3B); "
              f"generation beyond the floor: {rate}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["135m", "1.3b", "both", "quick"], default="both",
                    help="the 138 M-parameter stack (d = 768, 14 layers), the 1.3 B one, or both (default); quick as --quick")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per side (default 3)")
    ap.add_argument("--quick", action="store_true", help="a small stack")
    ap.add_argument("--thp", action="store_true",
                    help="run every side with THP_MEM_ALLOC_ENABLE=1 (transparent huge pages for torch's allocator)")
    ap.add_argument("--warm-memory", action="store_true",
                    help="each process first writes and frees as much memory as the parameters take")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error(f"--repeats: got {args.repeats}; allowed: an integer ≥ 1")
    if args.child:
        child(args.child, SIZES[args.size], args.warm_memory)
        return
    names = ["quick"] if args.quick else {"both": ["135m", "1.3b"]}.get(args.size, [args.size])
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads; "
          f"transparent huge pages: {_thp()}; THP_MEM_ALLOC_ENABLE={'1' if args.thp else 'unset'}"
          + ("; memory written once before each build" if args.warm_memory else ""))
    measured = {}
    for name in names:
        load = _load()
        measured[name] = measure(name, args)
        report(name, measured[name], load)
    if len(names) > 1:
        print("\nside by side (median wall seconds, speed-up against torch):")
        rows = [[mode] + [x for name in names for x in (f"{_med(measured[name][mode], 'seconds'):.2f}",
                                                         f"{speedup(measured[name], mode):.2f}×")]
                for mode in MODES]
        print(table(["build"] + [x for name in names for x in (f"{LABELS[name]} s", f"{LABELS[name]} ×")], rows))


if __name__ == "__main__":
    main()
