"""initlab's sampling engine against torch.nn.init, side by side in one run.

    python benchmarks/bench_init.py            # 2^28 fp32 elements (1 GiB), orthogonal 1024² … 4096²
    python benchmarks/bench_init.py --quick    # 2^24 elements, orthogonal 256² … 1024²
    python benchmarks/bench_init.py --only orthogonal   # one part (--only iid for the other)
    python benchmarks/bench_init.py --baseline /tmp/base/src   # also another initlab, side by side

``--baseline DIR`` loads the ``initlab`` package found in DIR (a source tree, e.g. an older revision
unpacked with ``git archive REV src | tar -x -C /tmp/base``) under another name and times it in the
same process, alternating with this one, and prints the ratio initlab / baseline: a change to the
engine is judged by that ratio, on the same machine at the same moment.

i.i.d. laws fill one preallocated, already-touched fp32 tensor (no page faults in the timings),
with 1 and then 2 threads (``torch.set_num_threads``): torch.nn.init draws from torch's global
generator on one thread whatever the setting; initlab (``seed=``) fills independently seeded
blocks on ``torch.get_num_threads()`` threads. Reported: medians of ``--repeats`` runs, torch and
initlab alternating, and the speed-up torch time / initlab time (targets: normal and uniform ≥ 1.6×
with 2 threads; truncated normal ±2σ ≥ 10× ``trunc_normal_`` and ≤ 1.5× initlab's own normal).
``torch.nn.init.trunc_normal_`` on the full size takes tens of seconds: it runs once.

Orthogonal: ``torch.nn.init.orthogonal_`` against ``initlab.orthogonal()(w, seed=0)`` at the
default thread count (target: ≤ 1.1× torch's time at 4096²). Peak extra memory of one call is
measured in a fresh process per side: the peak resident memory over the call (reset just before it,
see ``_common.py``) minus the resident memory just before it (matrix allocated and touched, LAPACK
warmed up on a small matrix), in units of the matrix's bytes (target ≤ 2).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import torch

import initlab

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, median_time, peak_rss_bytes, reset_peak_rss, rss_bytes, run_child, table  # noqa: E402

STD = 0.02
CONFIGS = {
    "normal": {"name": "random_normal", "params": {"std": STD}},
    "uniform": {"name": "random_uniform", "params": {"minval": -0.05, "maxval": 0.05}},
    "truncated normal ±2σ": {"name": "trunc_normal", "params": {"std": STD, "a": -2 * STD, "b": 2 * STD}},
}
TORCH = {
    "normal": lambda t: torch.nn.init.normal_(t, 0.0, STD),
    "uniform": lambda t: torch.nn.init.uniform_(t, -0.05, 0.05),
    "truncated normal ±2σ": lambda t: torch.nn.init.trunc_normal_(t, 0.0, STD, -2 * STD, 2 * STD),
}


def load_baseline(src: str):
    """The ``initlab`` package under ``src``, imported as ``initlab_baseline`` (its relative imports
    resolve inside it), or ``None`` without ``--baseline``."""
    if not src:
        return None
    pkg = os.path.join(os.path.abspath(src), "initlab")
    spec = importlib.util.spec_from_file_location("initlab_baseline", os.path.join(pkg, "__init__.py"),
                                                  submodule_search_locations=[pkg])
    module = importlib.util.module_from_spec(spec)
    sys.modules["initlab_baseline"] = module
    spec.loader.exec_module(module)
    return module


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


def _alternate(r: int, first, second) -> None:
    """Run the two timings in turn, swapping their order every repeat: the one that runs right after
    torch's op (whose OpenMP threads may still be spinning) is not always the same."""
    pair = (first, second) if r % 2 == 0 else (second, first)
    for fn in pair:
        if fn is not None:
            fn()


def bench_iid(n: int, repeats: int, base=None) -> None:
    default_threads = torch.get_num_threads()
    t = torch.empty(n)
    t.fill_(0.0)
    rows = []
    ours_normal = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, cfg in CONFIGS.items():
            theirs, ours = TORCH[name], initlab.get(cfg)
            old = base.get(cfg) if base is not None else None
            slow = name.startswith("truncated") and n >= 1 << 26
            for init in (ours, old):  # warm-up: thread pool, generator state template
                if init is not None:
                    init(t, seed=1)
            t_ours, t_theirs, t_old = [], [], []
            for r in range(repeats):
                if not slow or not t_theirs:
                    t_theirs.append(median_time(lambda: theirs(t), 1))
                _alternate(r, lambda: t_ours.append(median_time(lambda: ours(t, seed=1), 1)),
                           None if old is None else lambda: t_old.append(median_time(lambda: old(t, seed=1), 1)))
            a, b = _median(t_theirs), _median(t_ours)
            if name == "normal":
                ours_normal[threads] = b
            extra = f"{b / ours_normal[threads]:.2f}× initlab normal" if name.startswith("truncated") else ""
            row = [name, threads, f"{a:.3f}", f"{b:.3f}", f"{a / b:.2f}×", f"{n / b / 1e9:.3f}"]
            if old is not None:
                c = _median(t_old)
                row += [f"{c:.3f}", f"{b / c:.2f}×"]
            rows.append(row + [extra + (" (torch: 1 run)" if slow else "")])
    torch.set_num_threads(default_threads)
    print(f"\ni.i.d. laws, {n:,} fp32 elements ({n * 4 / 2**30:.2f} GiB), medians of {repeats} runs")
    head = ["law", "threads", "torch s", "initlab s", "speed-up", "initlab G el/s"]
    head += ["baseline s", "initlab / baseline"] if base is not None else []
    print(table(head + ["note"], rows))


def _orth_child(impl: str, n: int) -> None:
    w = torch.empty(n, n)
    w.fill_(0.0)
    small = torch.empty(64, 64)
    torch.nn.init.orthogonal_(small)
    initlab.orthogonal()(small, seed=0)
    reset_peak_rss()
    before = rss_bytes()
    if impl == "torch":
        torch.nn.init.orthogonal_(w)
    else:
        initlab.orthogonal()(w, seed=0)
    emit({"extra": peak_rss_bytes() - before, "matrix": n * n * 4})


def bench_orthogonal(sizes: list[int], repeats: int, base=None) -> None:
    rows = []
    for n in sizes:
        w = torch.empty(n, n)
        w.fill_(0.0)
        ours = initlab.orthogonal()
        old = base.orthogonal() if base is not None else None
        ours(w, seed=0)
        if old is not None:
            old(w, seed=0)
        torch.nn.init.orthogonal_(w)
        t_ours, t_theirs, t_old = [], [], []
        for r in range(repeats):
            t_theirs.append(median_time(lambda: torch.nn.init.orthogonal_(w), 1))
            _alternate(r, lambda: t_ours.append(median_time(lambda: ours(w, seed=0), 1)),
                       None if old is None else lambda: t_old.append(median_time(lambda: old(w, seed=0), 1)))
        a, b = _median(t_theirs), _median(t_ours)
        row = [f"{n}²", f"{a:.3f}", f"{b:.3f}", f"{b / a:.2f}×"]
        if old is not None:
            c = _median(t_old)
            row += [f"{c:.3f}", f"{b / c:.2f}×"]
        rows.append(row)
    n = sizes[-1]
    mem = {impl: run_child(__file__, ["--child-orthogonal", impl, str(n)]) for impl in ("torch", "initlab")}
    print(f"\northogonal, fp32, {torch.get_num_threads()} threads, medians of {repeats} runs")
    head = ["size", "torch s", "initlab s", "initlab / torch"]
    print(table(head + (["baseline s", "initlab / baseline"] if base is not None else []), rows))
    print(f"peak extra memory of one {n}² call (fresh process each): "
          + ", ".join(f"{impl} {m['extra'] / m['matrix']:.2f}× the matrix ({m['extra'] / 2**20:.0f} MiB)"
                      for impl, m in mem.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["iid", "orthogonal"], help="run one of the two parts")
    ap.add_argument("--baseline", metavar="SRC_DIR", help="also time the initlab package in SRC_DIR, side by side")
    ap.add_argument("--child-orthogonal", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_orthogonal:
        _orth_child(args.child_orthogonal[0], int(args.child_orthogonal[1]))
        return
    base = load_baseline(args.baseline)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads by default {torch.get_num_threads()}"
          + (f"; baseline initlab from {args.baseline}" if base is not None else ""))
    if args.only != "orthogonal":
        bench_iid(1 << 24 if args.quick else 1 << 28, args.repeats, base)
    if args.only != "iid":
        bench_orthogonal([256, 512, 1024] if args.quick else [1024, 2048, 4096], args.repeats, base)


if __name__ == "__main__":
    main()
