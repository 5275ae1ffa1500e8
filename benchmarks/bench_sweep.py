"""A 64-run sweep on the local engine and on Ray clusters of one and two one-CPU nodes, side by side.

    python benchmarks/bench_sweep.py            # 64 runs (4 schemes × 16 seeds), MLP 3 × 64 on digits, 20 epochs
    python benchmarks/bench_sweep.py --epochs 3 # the same grid with runs of ~50 ms: the fixed costs dominate
    python benchmarks/bench_sweep.py --quick    # 8 runs, 1 epoch: checks that it works

Every side trains the same grid run by run (``batched=False``: 64 Ray tasks, not one stacked group)
with one torch thread per run, into a fresh run directory, and is timed from the ``run_sweep`` call to
its return (connecting to the cluster and starting the job's worker processes included):

* ``local``: the local engine, in this process;
* ``ray, 1 node``: ``engine="ray"`` on a cluster of one node with one CPU (``ray start --head``);
* ``ray, 2 nodes``: the same with a second one-CPU node joined (``ray start --address``).

Printed: each wall time, runs per second, the speed-up of two nodes over one (target ≥ 1.6×), Ray's
overhead over the local engine on one CPU (target ≤ 10 %), and that overhead per run — the figure to
extrapolate from: N one-CPU nodes should give min(N, runs) / (1 + overhead per run / time per run) times
the local engine's throughput, less the fixed cost of connecting and starting workers. All three
sides' results are checked to be bit-identical. The clusters run on this machine (see
``tests/experiments/ray_cluster.py``); on a 2-core machine the two nodes share the cores with the
driver, so a loaded machine understates the speed-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "experiments"))
from _common import table  # noqa: E402
from ray_cluster import RayCluster  # noqa: E402

from initlab.experiments.sweep import run_sweep  # noqa: E402

SCHEMES = ["he_normal", "lecun_normal", "glorot_uniform", "orthogonal"]


def grid(quick: bool, epochs: int) -> dict:
    return {"scheme": SCHEMES[:2] if quick else SCHEMES, "seed": list(range(4 if quick else 16)),
            "depth": 3, "width": 64, "epochs": 1 if quick else epochs, "batch_size": 64, "dataset": "digits"}


def timed(config: dict, out: Path, **kw) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    run_sweep(config, out, batched=False, progress=False, threads=1, **kw)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 runs of 1 epoch")
    ap.add_argument("--epochs", type=int, default=20,
                    help="epochs per run (default 20: ~0.3 s of training a run, so that connecting to a cluster and "
                         "starting its workers, a fixed few seconds, does not decide the ratio)")
    args = ap.parse_args()
    config = grid(args.quick, args.epochs)
    n = len(config["scheme"]) * len(config["seed"])
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    times: dict[str, float] = {}
    try:
        times["local"] = timed(config, work / "local")
        with RayCluster(nodes=1, cpus=1) as one:
            times["ray, 1 node"] = timed(config, work / "ray1", engine="ray", address=one.address)
        with RayCluster(nodes=2, cpus=1) as two:
            times["ray, 2 nodes"] = timed(config, work / "ray2", engine="ray", address=two.address)
        reference = (work / "local" / "results.csv").read_bytes()
        identical = all((work / d / "results.csv").read_bytes() == reference for d in ("ray1", "ray2"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{n} runs (MLP depth {config['depth']} × width {config['width']} on digits, {config['epochs']} epochs, "
          f"one torch thread per run), {os.cpu_count()} cores here")
    print(table(["engine", "seconds", "runs/s"], [[k, f"{v:.2f}", f"{n / v:.2f}"] for k, v in times.items()]))
    speedup = times["ray, 1 node"] / times["ray, 2 nodes"]
    overhead = times["ray, 1 node"] / times["local"] - 1.0
    per_run = (times["ray, 1 node"] - times["local"]) / n
    print(f"2 nodes over 1 node: {speedup:.2f}x throughput (target >= 1.6x)")
    print(f"ray on 1 node over local: {overhead * 100:+.1f} % time (target <= 10 %); "
          f"{per_run * 1000:+.0f} ms per run against {times['local'] / n * 1000:.0f} ms of training per run")
    print(f"results bit-identical on all three: {identical}")


if __name__ == "__main__":
    main()
