"""What a probe costs: ``initlab.probe`` against a plain forward + backward of the same model.

A 30-layer, width-1024 ReLU MLP (He init), batch 512, float32 on the CPU. Both sides run the same
loss (0.5·mean(output²)) and compute every parameter's gradient; they alternate, after one warm-up
of each, and the medians of ``--repeats`` runs are printed side by side with their ratio (target:
probe ≤ 1.3× the plain pass).

``--baseline SRC`` also loads another checkout's initlab (its ``src`` folder, e.g. a ``git worktree``
of an earlier commit) as a separate package and runs its probe interleaved with this one, so two
versions are compared in one process on the same model and batch.

    python benchmarks/bench_probe.py [--repeats 7] [--depth 30] [--width 1024] [--batch 512] [--baseline SRC]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import initlab


def build(depth: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    initlab.initialize(model, "auto", seed=0)
    return model


def plain(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    loss = 0.5 * model(x).square().mean()
    loss.backward()


def load_baseline(src: str):
    """The initlab package under ``src`` imported as ``initlab_baseline`` (its relative imports stay inside it)."""
    init = Path(src) / "initlab" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--baseline: got {src!r}; allowed: a folder holding initlab/__init__.py (a checkout's src)")
    spec = importlib.util.spec_from_file_location("initlab_baseline", init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["initlab_baseline"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--baseline", default=None, help="another checkout's src folder, whose probe runs alongside")
    a = ap.parse_args()

    model = build(a.depth, a.width)
    x = torch.randn(a.batch, a.width, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {"plain forward+backward": [], "initlab.probe": []}
    runs = {"plain forward+backward": lambda: plain(model, x), "initlab.probe": lambda: initlab.probe(model, x)}
    if a.baseline:
        old = load_baseline(a.baseline)
        times["baseline probe"] = []
        runs["baseline probe"] = lambda: old.probe(model, x)
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(a.repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    print(f"{a.depth} x Linear({a.width}) + ReLU, batch {a.batch}, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {a.repeats}")
    base = statistics.median(times["plain forward+backward"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<24} {med * 1e3:9.1f} ms   {med / base:5.2f}x   (min {min(ts) * 1e3:.1f} ms)")
    if a.baseline:
        ratio = statistics.median(times["initlab.probe"]) / statistics.median(times["baseline probe"])
        print(f"  initlab.probe / baseline probe: {ratio:.2f}x (medians)")


if __name__ == "__main__":
    main()
