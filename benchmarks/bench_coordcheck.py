"""Width scaling's costs, side by side with their anchors, as ratios.

(a) The coordinate check of a 4-layer MLP (mnist1d, 40 → 3 × width → 10) over 5 widths 64 … 1024, 3 Adam
    steps, batch 64: ``initlab.coord_check`` (plain model + ``initlab.parametrize`` + torch.optim over
    the plan's groups) against the ``mup`` package's ``get_coord_data`` (MuReadout model,
    ``set_base_shapes``, MuAdam) on the same widths, steps and batch; one seed each, μP. Target:
    initlab ≤ 20 s on 2 cores. Also the CLI's default (SP and μP, 2 seeds).
(b) The learning-rate transfer sweep at one width: all models of the width (2 parametrizations ×
    seeds × rates) trained as one stacked computation (``train_stacked``) against one model at a time
    with torch.optim (``train_looped``), on the MLP and on the character transformer.

    python benchmarks/bench_coordcheck.py [--case a|b] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch
import torch.nn as nn

import initlab
from initlab.parametrize.stacked import train_looped, train_stacked
from initlab.parametrize.tasks import get_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time  # noqa: E402

WIDTHS = [64, 128, 256, 512, 1024]


def case_a(repeats: int) -> None:
    task = get_task("mlp:depth=3")
    x, y = task.batch("train", 64, seed=0)
    x = x.reshape(len(x), -1)

    def plain(w):
        return nn.Sequential(nn.Linear(40, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                             nn.Linear(w, 10))

    runs = {
        "initlab.coord_check (mup, 1 seed)": lambda: initlab.coord_check(plain, WIDTHS, (x, y), parametrization="mup",
                                                                         steps=3, lr=1e-2, seeds=(0,)),
        "initlab coordcheck default (sp+mup, 2 seeds)": lambda: initlab.coord_check(
            plain, WIDTHS, (x, y), parametrization=("sp", "mup"), steps=3, lr=1e-2, seeds=(0, 1)),
    }
    try:
        import mup
        from mup.coord_check import get_coord_data

        def mup_model(w):
            return nn.Sequential(nn.Linear(40, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                                 mup.MuReadout(w, 10))

        def anchor():
            base, delta = mup_model(64), mup_model(128)
            models = {w: (lambda w=w: mup.set_base_shapes(mup_model(w), base, delta=delta)) for w in WIDTHS}
            # nsteps=4: mup records before each step, so 4 of its steps are initlab's init + 3 steps
            get_coord_data(models, [(x, y)], optimizer="adam", lr=1e-2, mup=True, nseeds=1, nsteps=4, cuda=False,
                           show_progress=False)
        runs = {"mup get_coord_data (1 seed)": anchor, **runs}
    except ImportError:
        print("mup is not installed (pip install 'initlab[mup]'): the anchor is skipped")
    for fn in runs.values():  # warm-up (imports, allocator)
        fn()
    times = {name: median_time(fn, repeats) for name, fn in runs.items()}
    print(f"(a) coordinate check, 4-layer MLP, widths {WIDTHS}, 3 Adam steps, batch 64, "
          f"{torch.get_num_threads()} threads, median of {repeats}")
    ref = times.get("mup get_coord_data (1 seed)")
    for name, t in times.items():
        ratio = f"  {t / ref:.2f}x mup" if ref else ""
        print(f"  {name:<48} {t:7.2f} s{ratio}")


def case_b(repeats: int) -> None:
    print(f"(b) one width of the lr-transfer sweep: stacked vs one model at a time, Adam, "
          f"{torch.get_num_threads()} threads, median of {repeats}")
    for spec, width, base, steps, batch in (("mlp:depth=2", 128, 32, 40, 64),
                                            ("lm:depth=1,heads=4,context=32", 64, 16, 20, 16)):
        task = get_task(spec)
        models, plans, lrs = [], [], []
        for p in ("sp", "mup"):
            for seed in (0, 1):
                for a in range(-11, -4):
                    m = task.model_fn(width)
                    kw = {"base": task.model_fn(base), "delta": task.model_fn(2 * base)} if p == "mup" else {}
                    plans.append(initlab.parametrize(m, p, seed=seed, **kw))
                    models.append(m)
                    lrs.append(2.0 ** a)
        gens = [torch.Generator().manual_seed(i % 2) for i in range(len(models))]
        data = []
        for _ in range(steps):
            xs, ys = zip(*(task.batch("train", batch, generator=g) for g in gens))
            data.append((torch.stack(xs), torch.stack(ys)))

        def stacked():
            ms = [copy.deepcopy(m) for m in models]
            tables = [{r.name: lr * r.lr_adam for r in p.rows} for p, lr in zip(plans, lrs)]
            train_stacked(ms, tables, lambda s: data[s], steps, loss_fn=task.loss)

        def looped():
            ms = [copy.deepcopy(m) for m in models]
            groups = []
            for p, lr, m in zip(plans, lrs, ms):
                params = dict(m.named_parameters())
                groups.append([{**g, "params": [params[n] for n in g["param_names"]]}
                               for g in p.param_groups("adam", lr)])
            train_looped(ms, groups, lambda s: data[s], steps, loss_fn=task.loss)

        stacked(), looped()  # warm-up
        ts, tl = median_time(stacked, repeats), median_time(looped, repeats)
        print(f"  {spec:<32} width {width}, {len(models)} models, {steps} steps: stacked {ts:6.2f} s, "
              f"one at a time {tl:6.2f} s  ->  stacked is {tl / ts:.2f}x faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["a", "b"], default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    import warnings

    warnings.filterwarnings("ignore", message="There is a performance drop")
    if a.case in (None, "a"):
        case_a(a.repeats)
    if a.case in (None, "b"):
        case_b(a.repeats)


if __name__ == "__main__":
    main()
