"""Learning-rate transfer across widths, SP against μP (Tensor Programs V, Fig. 1), measured and decided.

**Measurement** (:func:`lr_transfer`). For a task (:mod:`initlab.parametrize.tasks`: an MLP on
mnist1d, the character transformer on the stdlib text), every width, every learning rate of a ×2
grid, every parametrization and every seed, a model is built, parametrized (μP's base: the smallest
width), and trained with Adam for ``steps`` steps on minibatches drawn from the seed's own generator
— the same batches for every width, rate and parametrization of a seed (paired seeds). The models of
one width share every shape, so they train as one stacked computation
(:func:`initlab.parametrize.stacked.train_stacked`). Each run's result is its loss on the task's
held-out data (mnist1d's test set; 4 × 64 validation windows of text), ``inf`` if training diverged.

**Decision** (:func:`judge`, the ``mup-transfer`` preset's criteria), per task and per seed: the best
learning rate at each width (:func:`best_rate`: the grid's best point refined between grid points),
how far it moves across the widths (:func:`drift`: the fitted trend over the whole width range, in ×2
steps), and the largest relative rise of the best loss from one width to the next. Over the paired
seeds (95 % Student-t intervals, :mod:`initlab.experiments.verdict`):

1. *μP transfers*: the drift lies within one step, [−1, 1];
2. *SP does not*: ``|drift|`` ≥ 2 steps;
3. *wider is never worse under μP*: the largest rise ≤ ``tolerance`` (2 %).

Each is reproduced when its interval lies on the claim's side, contradicted when it lies on the
other, inconclusive when it straddles the line. A μP best rate at the grid's edge could hide a
larger move, so it makes a passing first criterion inconclusive.

>>> BUDGETS["quick"]["seeds"] >= 3 and BUDGETS["full"]["seeds"] >= 5
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch

from ..errors import check_int, check_number, fail
from .tasks import get_task

__all__ = ["BUDGETS", "lr_transfer", "TransferResult", "transfer_verdict", "measure", "judge", "best_rate",
           "drift", "seed_figures", "coord_seed_figures", "CLAIM"]

CLAIM = ("Under μP the best learning rate moves by at most one ×2 grid step across an 8× range of widths and "
         "wider is never worse; under SP it moves by two or more (Tensor Programs V, Fig. 1)")

BUDGETS: dict[str, dict] = {
    "quick": {
        "seeds": 3, "tolerance": 0.02, "slope_tolerance": 0.25, "growth": 0.5,
        "coord": {"task": "mlp:depth=3", "widths": (64, 128, 256, 512), "steps": 3, "lr": 1e-2},
        "tasks": {
            "mlp": {"task": "mlp:depth=3", "widths": (32, 64, 128, 256), "log2_lrs": tuple(range(-9, -3)),
                    "steps": 50, "batch_size": 128},
            "lm": {"task": "lm:depth=1,heads=2,context=16", "widths": (8, 16, 32, 64),
                   "log2_lrs": tuple(range(-7, -1)), "steps": 50, "batch_size": 16},
        },
    },
    "full": {
        "seeds": 5, "tolerance": 0.02, "slope_tolerance": 0.25, "growth": 0.5,
        "coord": {"task": "mlp:depth=3", "widths": (64, 128, 256, 512, 1024), "steps": 3, "lr": 1e-2},
        "tasks": {
            "mlp": {"task": "mlp:depth=3", "widths": (32, 64, 128, 256), "log2_lrs": tuple(range(-10, -2)),
                    "steps": 150, "batch_size": 128},
            "lm": {"task": "lm:depth=1,heads=2,context=16", "widths": (8, 16, 32, 64),
                   "log2_lrs": tuple(range(-8, -1)), "steps": 120, "batch_size": 16},
        },
    },
}
"""The settings of the ``mup-transfer`` claim per budget: paired ``seeds``, the criteria's thresholds, the
coordinate check (an MLP on mnist1d, SP and μP, ``steps`` Adam steps at ``lr``) and the lr sweep of each
task (≥ 8× in width, a ×2 grid)."""


@dataclass
class TransferResult:
    """Tidy rows: task, parametrization, width, log2_lr, lr, seed, loss (held-out), train_loss, diverged."""

    rows: list[dict] = field(repr=False)
    settings: dict
    seconds: float

    def mean_rows(self) -> list[dict]:
        """Loss averaged over seeds (inf if any seed diverged), one row per (task, parametrization, width, lr)."""
        groups: dict[tuple, list[float]] = {}
        for r in self.rows:
            groups.setdefault((r["task"], r["parametrization"], r["width"], r["log2_lr"]), []).append(r["loss"])
        return [{"task": t, "parametrization": p, "width": w, "log2_lr": a, "loss": _mean(v), "seeds": len(v)}
                for (t, p, w, a), v in groups.items()]

    def verdict(self, **kwargs) -> dict:
        """:func:`transfer_verdict` of these rows."""
        return transfer_verdict(self.rows, **kwargs)

    def plot(self, path=None):
        from .figures import transfer_figure

        return transfer_figure(self.mean_rows(), path)


def _mean(values: Sequence[float]) -> float:
    return math.inf if any(not math.isfinite(v) for v in values) else sum(values) / len(values)


# ------------------------------------------------------------------------------------------- measurement
def lr_transfer(task: str = "mlp:depth=2", *, parametrizations: Sequence[str] = ("sp", "mup"),
                widths: Sequence[int] = (32, 64, 128, 256), log2_lrs: Sequence[int] = tuple(range(-12, -3)),
                seeds: Sequence[int] = (0, 1, 2), steps: int = 150, batch_size: int = 64, stacked: bool = True,
                progress: Callable[[str], None] | None = None) -> TransferResult:
    """Train the grid of :mod:`this module's <initlab.parametrize.transfer>` measurement and return its rows.

    ``stacked=False`` trains the models one at a time with ``torch.optim.Adam`` (the reference the
    stacked trainer is tested against).
    """
    from . import parametrize
    from .stacked import evaluate_stacked, train_looped, train_stacked

    t0 = time.perf_counter()
    spec = task
    task_ = get_task(spec)
    widths = sorted({task_.check_width(w) for w in widths})
    if len(widths) < 2:
        raise fail("widths", widths, "at least two different widths")
    lrs = sorted({check_int("log2_lrs", a) for a in log2_lrs})
    if len(lrs) < 3:
        raise fail("log2_lrs", list(log2_lrs), "at least three grid points (a ×2 grid of log2 learning rates)")
    if lrs != list(range(lrs[0], lrs[-1] + 1)):
        raise fail("log2_lrs", lrs, "consecutive integers (a ×2 grid of log2 learning rates without holes)")
    seeds = [check_int("seeds", s, minimum=0) for s in seeds]
    if not seeds:
        raise fail("seeds", seeds, "at least one seed")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    ps = list(parametrizations)
    base = widths[0]
    # the seeds' minibatches, shared by every width, rate and parametrization (paired seeds)
    gens = {s: torch.Generator().manual_seed(1000 + s) for s in seeds}
    stream: dict[int, list[tuple]] = {s: [] for s in seeds}

    def batch_of(seed: int, step: int):
        while len(stream[seed]) <= step:
            stream[seed].append(task_.batch("train", batch_size, generator=gens[seed]))
        return stream[seed][step]

    eval_data = task_.eval_data()
    rows: list[dict] = []
    for width in widths:
        if progress is not None:
            progress(f"{spec}: width {width}")
        runs, models, tables, groups = [], [], [], []
        for p in ps:
            for seed in seeds:
                for a in lrs:
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed)
                        model = task_.model_fn(width)
                        kw = {"base": task_.model_fn(base), "delta": task_.model_fn(2 * base)} if p == "mup" else {}
                        plan = parametrize(model, p, seed=seed, **kw)
                    lr = 2.0 ** a
                    runs.append((p, seed, a, lr))
                    models.append(model)
                    tables.append({r.name: lr * r.lr_adam for r in plan.rows})
                    groups.append(plan.param_groups("adam", lr))
        order = [s for (_, s, _, _) in runs]

        def batches(step: int):
            xs, ys = zip(*(batch_of(s, step) for s in order))
            return torch.stack(xs), torch.stack(ys)

        if stacked:
            models, train_losses = train_stacked(models, tables, batches, steps, loss_fn=task_.loss)
        else:
            models, train_losses = train_looped(models, groups, batches, steps, loss_fn=task_.loss)
        held_out = evaluate_stacked(models, eval_data, task_.loss)
        for (p, seed, a, lr), tr, loss in zip(runs, train_losses, held_out):
            diverged = not math.isfinite(tr) or not math.isfinite(loss)
            rows.append({"task": task_.name, "spec": spec, "parametrization": p, "width": width, "log2_lr": a,
                         "lr": lr, "seed": seed, "loss": math.inf if diverged else loss,
                         "train_loss": math.inf if diverged else tr, "diverged": diverged})
    settings = {"task": spec, "parametrizations": ps, "widths": widths, "log2_lrs": lrs, "seeds": seeds,
                "steps": steps, "batch_size": batch_size, "optimizer": "adam", "base_width": base,
                "stacked": stacked}
    return TransferResult(rows, settings, time.perf_counter() - t0)


def measure(settings: Mapping, seeds: Sequence[int], *, stacked: bool = True,
            progress: Callable[[str], None] | None = None) -> list[dict]:
    """The ``mup-transfer`` claim's rows at a budget's ``settings`` (:data:`BUDGETS`) on paired ``seeds``.

    Setup. Coordinate check (``part="coord"``): the MLP of ``settings["coord"]`` on one mnist1d batch of 64,
    SP and μP, every width and seed, ``steps`` Adam steps
    (:func:`~initlab.parametrize.coord_check.coord_check`): one row per (parametrization, width, seed,
    t, layer) with ``l1`` = mean |x| and ``final`` (t is the last step). Learning-rate transfer
    (``part="transfer"``): :func:`lr_transfer` of every task of ``settings["tasks"]``, one row per
    (task, parametrization, width, log2_lr, seed) with the held-out ``loss``.

    Rows: ``part``; coordinate check: parametrization, width, seed, t, layer, role, l1, curve (layer and
    role, the figure's label), final; transfer: task, spec, parametrization, width, log2_lr, lr, seed,
    loss, train_loss, diverged.
    """
    from .coord_check import coord_check

    seeds = [check_int("seeds", s_, minimum=0) for s_ in seeds]
    cc = settings["coord"]
    if progress is not None:
        progress("coordinate check")
    task = get_task(cc["task"])
    result = coord_check(task.model_fn, list(cc["widths"]), task.batch("train", 64, seed=0),
                         parametrization=("sp", "mup"), steps=cc["steps"], lr=cc["lr"], seeds=seeds)
    rows = [{"part": "coord", **r, "curve": f"{r['layer']} ({r['role']})", "final": r["t"] == cc["steps"]}
            for r in result.rows]
    for cfg in settings["tasks"].values():
        rows += [{"part": "transfer", **r}
                 for r in lr_transfer(**cfg, seeds=tuple(seeds), stacked=stacked, progress=progress).rows]
    return rows


# ------------------------------------------------------------------------------------------- decision
def best_rate(losses: Sequence[float], log2_lrs: Sequence[int]) -> tuple[float, bool]:
    """The best log2 learning rate of one loss curve over a ×2 grid, between grid points, and whether the
    grid's lowest loss lies at its edge.

    The grid point ``a_i`` of lowest loss, refined by the vertex of the parabola through it and its two
    neighbours (when both are finite): ``a_i + ½ (L_{i−1} − L_{i+1}) / (L_{i−1} − 2 L_i + L_{i+1})``,
    kept within half a step of ``a_i``. A non-finite loss (a diverged run) is never the best.

    >>> best_rate([3.0, 2.0, 2.0, 3.0], [-8, -7, -6, -5])
    (-6.5, False)
    >>> best_rate([1.0, 2.0, 3.0], [-8, -7, -6])
    (-8.0, True)
    """
    vals = [v if v is not None and math.isfinite(v) else math.inf for v in losses]
    if not any(math.isfinite(v) for v in vals):
        return math.nan, True
    i = min(range(len(vals)), key=lambda k: (vals[k], k))
    a = float(log2_lrs[i])
    if i == 0 or i == len(vals) - 1:
        return a, True
    lo, mid, hi = vals[i - 1], vals[i], vals[i + 1]
    curv = lo - 2.0 * mid + hi
    if math.isfinite(lo) and math.isfinite(hi) and curv > 0:
        a += max(-0.5, min(0.5, 0.5 * (lo - hi) / curv))
    return a, False


def drift(best: Mapping[int, float]) -> float:
    """How far the best log2 learning rate moves across the widths, in ×2 grid steps: the least-squares
    slope of the best rate against log2(width), times log2(widest / narrowest). Negative when wider
    models want smaller rates.

    >>> drift({32: -5.0, 64: -6.0, 128: -7.0, 256: -8.0})
    -3.0
    """
    xs = [math.log2(w) for w in sorted(best)]
    ys = [best[w] for w in sorted(best)]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * (xs[-1] - xs[0])


def _per_seed(rows: Sequence[Mapping], task: str, p: str) -> tuple[dict, list[int], list[int]]:
    """{seed: {width: [loss per log2 lr]}} of one task and parametrization, its widths and its grid."""
    table = {(r["seed"], r["width"], r["log2_lr"]): r["loss"] for r in rows
             if r.get("part", "transfer") == "transfer" and r["task"] == task and r["parametrization"] == p}
    if not table:
        raise fail("rows", sorted({r["parametrization"] for r in rows if r.get("task") == task}),
                   f"rows of both 'sp' and 'mup' for task {task!r}")
    seeds = sorted({k[0] for k in table})
    widths = sorted({k[1] for k in table})
    lrs = sorted({k[2] for k in table})
    if lrs != list(range(lrs[0], lrs[-1] + 1)):
        raise fail("rows", lrs, "log2 learning rates on a ×2 grid without holes")
    return {s: {w: [table.get((s, w, a), math.inf) for a in lrs] for w in widths} for s in seeds}, widths, lrs


def seed_figures(rows: Sequence[Mapping], task: str) -> dict:
    """Per parametrization, one number per seed (in seed order): ``drift`` (:func:`drift` of the seed's
    best rates), ``rise`` (the largest relative rise of the seed's best loss from a width to the next;
    negative when every wider model is better), ``edge`` (how many of the seed's best rates lie at
    the grid's edge); and ``best``: {width: seed-mean best log2 rate}, ``seeds``, ``widths``."""
    out = {}
    for p in ("mup", "sp"):
        curves, widths, lrs = _per_seed(rows, task, p)
        drifts, rises, edges, per_width = [], [], [], {w: [] for w in widths}
        for seed in sorted(curves):
            best, edge = {}, 0
            for w in widths:
                best[w], at_edge = best_rate(curves[seed][w], lrs)
                edge += at_edge
                per_width[w].append(best[w])
            drifts.append(drift(best) if all(math.isfinite(v) for v in best.values()) else math.nan)
            lows = [min(curves[seed][w]) for w in widths]
            rises.append(max(((b - a) / abs(a) if math.isfinite(a) and math.isfinite(b) else
                              (math.inf if not math.isfinite(b) else -math.inf)) for a, b in zip(lows, lows[1:])))
            edges.append(edge)
        out[p] = {"drift": drifts, "rise": rises, "edge": edges, "seeds": sorted(curves), "widths": widths,
                  "lrs": lrs, "best": {w: sum(v) / len(v) for w, v in per_width.items()}}
    return out


def coord_seed_figures(rows: Sequence[Mapping], tolerance: float = 0.25) -> dict:
    """Per parametrization and seed, the coordinate check's :func:`~initlab.parametrize.coord_check.stability`
    of that seed's own fitted slopes (``part == "coord"`` rows)."""
    from .coord_check import fit_slopes, stability

    coord = [r for r in rows if r.get("part") == "coord"]
    out: dict = {}
    for p in sorted({r["parametrization"] for r in coord}):
        for seed in sorted({r["seed"] for r in coord if r["parametrization"] == p}):
            slopes = fit_slopes([r for r in coord if r["parametrization"] == p and r["seed"] == seed])
            out.setdefault(p, []).append(stability(slopes, tolerance))
    return out


def judge(rows: Sequence[Mapping], settings: Mapping | None = None) -> list:
    """Criteria of the claim, each judged over the paired seeds by a 95 % Student-t interval
    (checks of :mod:`initlab.experiments.verdict`).

    Coordinate check (rows with ``part == "coord"``, when present), per seed from that seed's fitted
    slopes: μP's largest departure from width-independence ≤ ``slope_tolerance`` (0.25); SP's output
    slope after a step ≥ ``growth`` (0.5). Learning-rate transfer, per task: μP's best rate moves by at
    most one step (the interval of :func:`drift` within [−1, 1]; a μP best rate at the grid's edge makes
    a pass inconclusive, since it could hide a larger move); SP's moves by two or more (``|drift|`` ≥ 2);
    under μP wider is never worse (the seed's largest relative rise of the best loss ≤ ``tolerance``,
    0.02).
    """
    from dataclasses import replace

    from ..experiments.verdict import INCONCLUSIVE, REPRODUCED, at_least, at_most, within

    s = dict(settings or {})
    tol, slope_tol, growth = s.get("tolerance", 0.02), s.get("slope_tolerance", 0.25), s.get("growth", 0.5)
    checks = []
    coord = coord_seed_figures(rows, slope_tol)
    if coord:
        checks.append(at_most(f"coordinate check, μP: every layer's scale is width-independent (largest |slope| of "
                              f"log mean|x| against log width ≤ {slope_tol:g}; the readout may shrink like "
                              "width^−½, never grow)", [c["excess"] for c in coord["mup"]], slope_tol))
        checks.append(at_least(f"coordinate check, SP: the output's scale grows with width after a step (slope ≥ "
                               f"{growth:g})", [c["output_growth"] for c in coord["sp"]], growth))
    tasks = list(dict.fromkeys(r["task"] for r in rows if r.get("part", "transfer") == "transfer"))
    if not tasks:
        raise fail("rows", [], "the rows of lr_transfer()")
    for task in tasks:
        f = seed_figures(rows, task)
        mup, sp = f["mup"], f["sp"]
        span = f"widths {mup['widths'][0]}–{mup['widths'][-1]}"
        c = within(f"{task}, μP: the best learning rate moves by at most one ×2 step ({span})", mup["drift"], -1.0, 1.0)
        if sum(mup["edge"]):
            c = replace(c, measured=c.measured + f"; {sum(mup['edge'])} best rate(s) at the grid's edge",
                        outcome=INCONCLUSIVE if c.outcome == REPRODUCED else c.outcome)
        checks.append(c)
        checks.append(at_least(f"{task}, SP: the best learning rate moves by two or more ×2 steps ({span})",
                               [abs(d) for d in sp["drift"]], 2.0))
        checks.append(at_most(f"{task}, μP: wider is never worse (the best loss rises by at most {tol:.0%} from a "
                              "width to the next)", mup["rise"], tol, unit="%"))
    return checks


def transfer_verdict(rows: Sequence[Mapping], *, tolerance: float = 0.02) -> dict:
    """:func:`judge`'s checks of the learning-rate transfer by task:
    ``{"verdict", "tasks": {task: {"verdict", "checks", "numbers"}}, "claim"}`` (no coordinate check)."""
    from ..experiments.verdict import verdict

    tolerance = check_number("tolerance", tolerance, minimum=0.0)
    rows = [r for r in rows if r.get("part", "transfer") == "transfer"]
    checks = judge(rows, {"tolerance": tolerance})
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out = {}
    for k, task in enumerate(tasks):
        mine = checks[3 * k:3 * k + 3]
        f = seed_figures(rows, task)
        out[task] = {"verdict": verdict(mine), "checks": [c.to_dict() for c in mine],
                     "numbers": {p: {"best_log2_lr": f[p]["best"], "drift": f[p]["drift"], "rise": f[p]["rise"]}
                                 for p in f}}
    return {"verdict": verdict(checks), "tasks": out, "claim": CLAIM}
