"""One rank's share of a sharded initialization against the whole tensor in one process, side by side.

    python benchmarks/bench_shard.py            # an 8192 × 8192 fp32 layer (256 MiB), 2 ranks
    python benchmarks/bench_shard.py --quick    # 2048 × 2048

What rank r of 2 does for a parameter placed with Shard(0) or Shard(1) is ``fill_box_`` of its half
(:mod:`initlab.distributed`); here each half is filled in this process with the same thread count as
the whole, which is what each rank runs on a machine of its own. Printed per law: the single-process
fill of the whole layer, each rank's half for either dimension as a ratio of it (target ≤ 0.6×), what
a column shard would cost under a flat row-major block layout (every block crosses the column
boundary, so each rank draws the whole tensor: the single-process time plus a copy, measured here by
drawing the whole tensor and copying the half), and each rank's peak extra resident memory over its
local half, against one block (4 MiB of fp32).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import emit, peak_rss_bytes, reset_peak_rss, rss_bytes, run_child, table  # noqa: E402

import initlab  # noqa: E402
from initlab.schemes.engine import BLOCK, fill_box_  # noqa: E402

LAWS = {"normal (he_normal)": "he_normal", "uniform (glorot_uniform)": "glorot_uniform",
        "truncated normal ±2σ": "truncated_normal"}


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def child(name: str, n: int, dim: int, rank: int) -> None:
    """In a fresh process: a rank's first fill of its (already touched) half; peak resident memory above it."""
    init = initlab.get(name)
    size = [n, n]
    size[dim] //= 2
    offset = [0, 0]
    offset[dim] = rank * n // 2
    half = torch.zeros(size)
    dist = init.distribution((n, n))
    fill_box_(torch.empty(4, 4), initlab.get(name).distribution((4, 4)), seed=0, key="x", shape=(4, 4),
              offset=(0, 0))  # warm-up: imports and the engine's pool, not the scratch of a large tile
    base = rss_bytes()
    reset_peak_rss()
    fill_box_(half, dist, seed=0, key="w", shape=(n, n), offset=offset)
    emit({"extra": peak_rss_bytes() - base})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n = 2048 if args.quick else 8192
    shape = (n, n)
    rows = []
    whole = torch.empty(shape)
    halves = {0: torch.empty(n // 2, n), 1: torch.empty(n, n // 2)}
    for label, name in LAWS.items():
        init = initlab.get(name)
        dist = init.distribution(shape)
        full = best(lambda: init(whole, seed=0, key="w"), args.repeats)
        shard, extra = {}, {}
        for dim, half in halves.items():
            per_rank = []
            for rank in range(2):
                offset = [0, 0]
                offset[dim] = rank * n // 2
                per_rank.append(best(lambda: fill_box_(half, dist, seed=0, key="w", shape=shape, offset=offset),
                                     args.repeats))
                got = run_child(__file__, ["--child", name, str(n), str(dim), str(rank)])
                extra[dim] = max(extra.get(dim, 0), got["extra"])
            shard[dim] = max(per_rank)
        flat_cols = best(lambda: (init(whole, seed=0, key="w"), halves[1].copy_(whole[:, : n // 2])), args.repeats)
        rows.append([label, f"{full:.3f}", f"{shard[0] / full:.2f}x", f"{shard[1] / full:.2f}x",
                     f"{flat_cols / full:.2f}x", f"{max(extra.values()) / 2**20:.1f} / {BLOCK * 4 / 2**20:.0f}"])
    print(f"{n} x {n} fp32, {torch.get_num_threads()} threads, 2 ranks (each rank's half filled here in turn)")
    print(table(["law", "whole s", "Shard(0) rank", "Shard(1) rank", "Shard(1), flat blocks",
                 "extra MiB / block"], rows))
    print("target: each rank <= 0.60x the whole; extra memory per rank <= one block")


if __name__ == "__main__":
    main()
