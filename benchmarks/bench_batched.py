"""Stacked training of many MLPs vs training them one at a time, side by side in one run.

    python benchmarks/bench_batched.py            # full run (about 2-3 minutes on 2 idle cores)
    python benchmarks/bench_batched.py --quick    # a smoke run (well under a minute)
    python benchmarks/bench_batched.py --case a   # one of the two cases

Both sides do the same work: ``train(config)`` for each config in a loop, against one
``train_batched(configs)`` call — the same epochs, minibatches and per-epoch evaluations of
the whole train and test splits. Reported: median wall time over the repeats, the ratio
loop / batched, and the achieved arithmetic rate against a plain matrix product of the same
kind, which shows what bounds each case.

(a) 16 MLPs, 30 hidden layers × 128, on digits, batch 64: deep and narrow, many small kernels.
(b) 64 MLPs 784-256-256-10 on random data of MNIST's shape (640 train / 128 test), batch 128:
    wide layers, each step dominated by matrix products.
Each case runs with 1 and with 2 torch threads, and the fastest loop is also compared with the
fastest batched run: on a shared machine, two OpenMP threads per small kernel can be far slower
than one (a busy core stalls every parallel region), and that should not pass for a gain.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from initlab.experiments.batched import train_batched
from initlab.experiments.datasets import Dataset, load
from initlab.experiments.models import build_model
from initlab.experiments.trainer import TrainConfig, train


def mlp_flops(dims: list[int], batch: int) -> tuple[float, float]:
    """Multiply-add FLOPs (2·m·k·n per product) of one training step and of one forward pass per sample.

    Training: forward x·Wᵀ, backward ∂W = ∂zᵀ·x and ∂x = ∂z·W (not for the first layer).
    """
    fwd = sum(2 * a * b for a, b in zip(dims[:-1], dims[1:]))
    bwd_w = fwd
    bwd_x = sum(2 * a * b for a, b in zip(dims[1:-1], dims[2:]))
    return batch * (fwd + bwd_w + bwd_x), fwd


def run_flops(config: TrainConfig, data: Dataset) -> float:
    """Total FLOPs of ``train(config, data)``: every step plus the evaluations after each epoch and before training."""
    n_in = 1
    for s in data.input_shape:
        n_in *= s
    dims = [n_in] + [config.width] * config.depth + [data.num_classes]
    step, per_sample = mlp_flops(dims, config.batch_size)
    n = len(data.y_train)
    steps_per_epoch = -(-n // config.batch_size)
    # the last batch of an epoch is smaller: count samples, not batches
    train_flops = config.epochs * (steps_per_epoch - 1) * step + config.epochs * step * (
        (n - (steps_per_epoch - 1) * config.batch_size) / config.batch_size)
    eval_flops = (config.epochs + 1) * (n + len(data.y_test)) * per_sample
    return train_flops + eval_flops


def gemm_rate(m: int, k: int, n: int, seconds: float = 0.3) -> float:
    """GFLOP/s of a plain (m × k)·(k × n) product, the ceiling the trainers compete against."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, configs: list[TrainConfig], data: Dataset, threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    train(configs[0], data=data)  # warm-up: first-call costs stay out of the timings
    loop_t, batch_t = [], []
    for _ in range(repeats):  # interleaved, so both sides see the same machine load
        loop_t.append(timed(lambda: [train(c, data=data) for c in configs]))
        batch_t.append(timed(lambda: train_batched(configs, data=data)))
    loop_s, batch_s = statistics.median(loop_t), statistics.median(batch_t)
    flops = sum(run_flops(c, data) for c in configs)
    # what both sides pay whatever the trainer: building and initializing the M models
    build_s = timed(lambda: [build_model(c.model_spec(), data.input_shape, data.num_classes, seed=c.seed)
                             for c in configs])
    # the best any stacked trainer could do here: the same builds, then all arithmetic at the rate of
    # the largest stacked product of the layer's shape (measured below, same thread count)
    dims = configs[0].width
    ceiling = gemm_rate(len(configs) * configs[0].batch_size, dims, dims) * 1e9
    bound = loop_s / (build_s + flops / ceiling)
    return {"case": name, "threads": threads, "models": len(configs), "loop_s": loop_s, "batched_s": batch_s,
            "ratio": loop_s / batch_s, "loop_gflops": flops / loop_s / 1e9, "batched_gflops": flops / batch_s / 1e9,
            "build_s": build_s, "bound": bound}


def random_mnist_shape(n_train: int, n_test: int) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    return Dataset(name="mnist", x_train=torch.randn(n_train, 1, 28, 28, generator=gen),
                   y_train=torch.randint(0, 10, (n_train,), generator=gen),
                   x_test=torch.randn(n_test, 1, 28, 28, generator=gen),
                   y_test=torch.randint(0, 10, (n_test,), generator=gen), input_shape=(1, 28, 28), num_classes=10)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller problems and one repeat")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (median; default 3)")
    parser.add_argument("--case", choices=["a", "b"], default=None, help="run one case only")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    rows = []

    # (a) deep and narrow
    digits = load("digits", n_train=512, n_test=128) if args.quick else load("digits")
    deep = [TrainConfig(depth=30, width=128, batch_size=64, epochs=1, lr=0.01, momentum=0.9, seed=s,
                        scheme=("he_normal", "orthogonal")[s % 2], grad_std_steps=())
            for s in range(16)]
    for threads in (1, 2) if args.case in (None, "a") else ():
        rows.append(compare("(a) 16 x MLP 30x128, digits, batch 64", deep, digits, threads=threads,
                            repeats=repeats))

    # (b) wide
    m = 16 if args.quick else 64
    wide_data = random_mnist_shape(384 if args.quick else 640, 128)
    wide = [TrainConfig(dataset="mnist", depth=2, width=256, batch_size=128, epochs=1, lr=0.01, seed=s,
                        grad_std_steps=()) for s in range(m)]
    for threads in (1, 2) if args.case in (None, "b") else ():
        rows.append(compare(f"(b) {m} x MLP 784-256-256-10, batch 128", wide, wide_data, threads=threads,
                            repeats=repeats))

    print(f"\nmedian of {repeats} repeat(s); torch {torch.__version__}; ratio = loop time / batched time\n")
    print(f"{'case':42s} {'thr':>3s} {'loop s':>8s} {'batch s':>8s} {'ratio':>6s} {'loop GF/s':>9s} {'batch GF/s':>10s} "
          f"{'build s':>7s} {'bound':>6s}")
    for r in rows:
        print(f"{r['case']:42s} {r['threads']:3d} {r['loop_s']:8.2f} {r['batched_s']:8.2f} {r['ratio']:6.2f} "
              f"{r['loop_gflops']:9.1f} {r['batched_gflops']:10.1f} {r['build_s']:7.2f} {r['bound']:6.2f}")
    print("build s: building and initializing the M models, which both sides do; bound: loop time / (build s +\n"
          "the run's FLOPs at the rate of one (M·batch)×width @ width×width product), the most any stacked\n"
          "trainer could gain here")
    print("\neach side at its best thread count (fastest loop vs fastest batched):")
    for case in dict.fromkeys(r["case"] for r in rows):
        mine = [r for r in rows if r["case"] == case]
        loop = min(mine, key=lambda r: r["loop_s"])
        batch = min(mine, key=lambda r: r["batched_s"])
        print(f"  {case:42s} loop {loop['loop_s']:6.2f} s ({loop['threads']} thr)  batched {batch['batched_s']:6.2f} s "
              f"({batch['threads']} thr)  ratio {loop['loop_s'] / batch['batched_s']:5.2f}")

    print("\nceiling: GFLOP/s of one plain matrix product of the layer's shape")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        print(f"  {threads} thread(s): 64x128 @ 128x128 {gemm_rate(64, 128, 128):6.1f}   "
              f"128x784 @ 784x256 {gemm_rate(128, 784, 256):6.1f}   "
              f"(16·64)x128 @ 128x128 {gemm_rate(16 * 64, 128, 128):6.1f}")
    print("\nreading: stacking pays each call's fixed cost (Python, dispatch, autograd bookkeeping, optimizer\n"
          "loops) once for all M models, and a second thread gets whole models (bmm splits over the model\n"
          "axis) where one small product barely parallelizes. It cannot cut the arithmetic: the loop's\n"
          "GF/s next to the ceiling above bounds what stacking can gain on this machine.")


if __name__ == "__main__":
    main()
