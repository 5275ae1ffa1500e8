"""Learning-rate transfer across widths, SP against μP (Tensor Programs V, Fig. 1), measured and decided.

**Measurement** (:func:`lr_transfer`). For a task (:mod:`initlab.parametrize.tasks`: an MLP on
mnist1d, the character transformer on the stdlib text), every width, every learning rate of a ×2
grid, every parametrization and every seed, a model is built, parametrized (μP's base: the smallest
width), and trained with Adam for ``steps`` steps on minibatches drawn from the seed's own generator
— the same batches for every width, rate and parametrization of a seed (paired seeds). The models of
one width share every shape, so they train as one stacked computation
(:func:`initlab.parametrize.stacked.train_stacked`). Each run's result is its loss on the task's
held-out data (mnist1d's test set; 16 384 validation characters), ``inf`` if training diverged.

**Decision** (:func:`transfer_verdict`), per task:

1. *μP transfers*: the best learning rate (the grid point with the lowest seed-mean loss) moves by at
   most one grid step across the widths;
2. *SP does not*: it moves by two or more;
3. *wider is never worse under μP*: from each width to the next, the best seed-mean loss does not rise
   by more than ``tolerance`` (relative).

Each figure comes with a paired bootstrap over seeds (seeds resampled with replacement, the same
resample for every width, rate and parametrization). A criterion is *reproduced* when its point
estimate holds and the bootstrap agrees in at least ``confidence`` of the resamples, *contradicted*
when the point estimate fails it and the bootstrap agrees in at least ``confidence`` of them, and
*inconclusive* otherwise — also when a best rate sits at the edge of the grid in a way that could
hide a larger move, or is not resolved (fewer than ``confidence`` of the resamples put a width's
best rate within one step of its point estimate: a flat or noisy curve has no best rate to move).
The task's verdict is reproduced when all three are, contradicted when any is.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch

from ..errors import check_int, check_number, check_positive, fail
from .tasks import get_task

__all__ = ["BUDGETS", "lr_transfer", "TransferResult", "transfer_verdict", "run_transfer", "measure", "judge", "CLAIM"]

CLAIM = ("Under μP the best learning rate moves by at most one ×2 grid step across an 8× range of widths and "
         "wider is never worse; under SP it moves by two or more (Tensor Programs V, Fig. 1)")

BUDGETS: dict[str, dict[str, dict]] = {
    "quick": {
        "mlp": {"task": "mlp:depth=3", "widths": (32, 64, 128, 256), "log2_lrs": tuple(range(-9, -3)),
                "seeds": (0, 1, 2), "steps": 100, "batch_size": 64},
        "lm": {"task": "lm:depth=1,heads=4,context=16", "widths": (16, 32, 64, 128),
               "log2_lrs": tuple(range(-9, -2)), "seeds": (0, 1), "steps": 60, "batch_size": 16},
    },
    "full": {
        "mlp": {"task": "mlp:depth=3", "widths": (32, 64, 128, 256, 512), "log2_lrs": tuple(range(-11, -2)),
                "seeds": (0, 1, 2, 3), "steps": 300, "batch_size": 64},
        "lm": {"task": "lm:depth=2,heads=4,context=32", "widths": (16, 32, 64, 128),
               "log2_lrs": tuple(range(-10, -2)), "seeds": (0, 1, 2), "steps": 150, "batch_size": 16},
    },
}
"""The settings of the ``mup-transfer`` claim per budget and task (≥ 8× in width, a ×2 grid)."""


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


# ------------------------------------------------------------------------------------------- decision
def _table(rows, task, p) -> tuple[dict, list[int], list[int]]:
    """{(width, log2_lr, seed): loss} of one task and parametrization, its widths and its lr grid."""
    table = {(r["width"], r["log2_lr"], r["seed"]): r["loss"] for r in rows
             if r["task"] == task and r["parametrization"] == p}
    return table, sorted({k[0] for k in table}), sorted({k[1] for k in table})


def _curves(table, widths, lrs, seeds) -> dict[int, list[float]]:
    """{width: [seed-mean loss per lr]} over ``seeds`` (a bootstrap resample may repeat seeds)."""
    return {w: [_mean([table[(w, a, s)] for s in seeds]) for a in lrs] for w in widths}


def _best(curves: dict[int, list[float]]) -> dict[int, int]:
    return {w: min(range(len(c)), key=lambda i: (c[i], i)) for w, c in curves.items()}


def _shift(best: dict[int, int]) -> int:
    return max(best.values()) - min(best.values())


def _worst_rise(curves: dict[int, list[float]]) -> tuple[float, int | None]:
    """The largest relative rise of the best loss from one width to the next, and the wider width."""
    widths = sorted(curves)
    worst, at = -math.inf, None
    for a, b in zip(widths, widths[1:]):
        la, lb = min(curves[a]), min(curves[b])
        rise = (lb - la) / abs(la) if math.isfinite(la) and math.isfinite(lb) else (math.inf if not math.isfinite(lb) else -math.inf)
        if rise > worst:
            worst, at = rise, b
    return worst, at


def _judge(point_ok: bool, agree_ok: float, confidence: float, edge_hides: bool = False) -> str:
    if point_ok and agree_ok >= confidence and not edge_hides:
        return "reproduced"
    if not point_ok and (1.0 - agree_ok) >= confidence:
        return "contradicted"
    return "inconclusive"


def transfer_verdict(rows: Sequence[dict], *, tolerance: float = 0.01, confidence: float = 0.8,
                     resamples: int = 1000, seed: int = 0) -> dict:
    """Decide the claim from :class:`TransferResult` rows (see the module docstring).

    Returns ``{"verdict", "tasks": {task: {"verdict", "checks", "numbers"}}}``; each check has
    ``criterion``, ``measured``, ``status`` (reproduced / contradicted / inconclusive) and ``passed``.
    """
    tolerance = check_number("tolerance", tolerance, minimum=0.0)
    confidence = check_number("confidence", confidence, minimum=0.5, maximum=1.0)
    resamples = check_int("resamples", resamples, minimum=1)
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    if not tasks:
        raise fail("rows", [], "the rows of lr_transfer()")
    out = {}
    for task in tasks:
        ps = {r["parametrization"] for r in rows if r["task"] == task}
        missing = {"sp", "mup"} - ps
        if missing:
            raise fail("rows", sorted(ps), f"rows of both 'sp' and 'mup' for task {task!r} (missing {sorted(missing)})")
        seeds = sorted({r["seed"] for r in rows if r["task"] == task})
        rng = random.Random(seed)
        samples = [[rng.choice(seeds) for _ in seeds] for _ in range(resamples)]
        numbers, checks = {}, []
        point = {}
        tables = {p: _table(rows, task, p) for p in ("mup", "sp")}
        for p in ("mup", "sp"):
            curves = _curves(*tables[p], seeds)
            lrs = tables[p][2]
            best = _best(curves)
            point[p] = (curves, best)
            numbers[p] = {"best_log2_lr": {w: lrs[i] for w, i in best.items()}, "shift": _shift(best),
                          "best_loss": {w: min(c) for w, c in curves.items()},
                          "at_edge": sorted(w for w, i in best.items() if i in (0, len(lrs) - 1))}
        boot = {"mup": [], "sp": [], "rise": []}
        near = {p: {w: 0 for w in point[p][1]} for p in ("mup", "sp")}
        for sample in samples:
            for p in ("mup", "sp"):
                curves = _curves(*tables[p], sample)
                best = _best(curves)
                boot[p].append(_shift(best))
                for w, i in best.items():
                    near[p][w] += abs(i - point[p][1][w]) <= 1
                if p == "mup":
                    boot["rise"].append(_worst_rise(curves)[0])
        # a best rate is resolved when the resamples put it within one step of the point estimate
        unresolved = {p: sorted(w for w, k in near[p].items() if k / resamples < confidence) for p in near}
        for p in ("mup", "sp"):
            numbers[p]["unresolved"] = unresolved[p]
        n_lrs = len(tables["mup"][2])
        # 1. μP: the best rate moves by at most one step
        mup_best = point["mup"][1]
        edge = any(i in (0, n_lrs - 1) for i in mup_best.values())
        ok = numbers["mup"]["shift"] <= 1
        agree = sum(s <= 1 for s in boot["mup"]) / resamples
        status = _judge(ok, agree, confidence, edge_hides=edge and ok)
        if unresolved["mup"] and status != "reproduced":
            status = "inconclusive"
        checks.append(_check("μP: the best learning rate moves by at most one ×2 step across the widths",
                             f"moves by {numbers['mup']['shift']} step(s): best log2 lr per width "
                             f"{numbers['mup']['best_log2_lr']}; ≤ 1 step in {agree:.0%} of bootstrap resamples"
                             + (f"; at the grid's edge for widths {numbers['mup']['at_edge']}" if edge else "")
                             + _unresolved_text(unresolved["mup"]), status))
        # 2. SP: it moves by two or more (a best rate at the edge can only hide a larger move)
        ok = numbers["sp"]["shift"] >= 2
        agree = sum(s >= 2 for s in boot["sp"]) / resamples
        edge_sp = bool(numbers["sp"]["at_edge"]) and not ok
        status = _judge(ok, agree, confidence, edge_hides=False)
        if (edge_sp or unresolved["sp"]) and status == "contradicted" or unresolved["sp"] and status == "reproduced":
            status = "inconclusive"
        checks.append(_check("SP: the best learning rate moves by two or more ×2 steps across the widths",
                             f"moves by {numbers['sp']['shift']} step(s): best log2 lr per width "
                             f"{numbers['sp']['best_log2_lr']}; ≥ 2 steps in {agree:.0%} of bootstrap resamples"
                             + _unresolved_text(unresolved["sp"]), status))
        # 3. μP: wider is never worse (at each width's best rate)
        rise, at = _worst_rise(point["mup"][0])
        ok = rise <= tolerance
        agree = sum(r <= tolerance for r in boot["rise"]) / resamples
        checks.append(_check(f"μP: wider is never worse (best loss rises by at most {tolerance:.0%} from a width to "
                             "the next)", f"largest rise {rise:+.2%} (at width {at}); within tolerance in "
                             f"{agree:.0%} of bootstrap resamples", _judge(ok, agree, confidence)))
        numbers["mup"]["worst_rise"] = rise
        statuses = [c["status"] for c in checks]
        verdict = ("contradicted" if "contradicted" in statuses else
                   "reproduced" if all(s == "reproduced" for s in statuses) else "inconclusive")
        out[task] = {"verdict": verdict, "checks": checks, "numbers": numbers, "seeds": seeds}
    verdicts = [t["verdict"] for t in out.values()]
    overall = ("contradicted" if "contradicted" in verdicts else
               "reproduced" if all(v == "reproduced" for v in verdicts) else "inconclusive")
    return {"verdict": overall, "tasks": out, "claim": CLAIM}


def _unresolved_text(widths: list[int]) -> str:
    return f"; the best rate is not resolved (resamples disagree by > 1 step) at widths {widths}" if widths else ""


def _check(criterion: str, measured: str, status: str) -> dict:
    return {"criterion": criterion, "measured": measured, "status": status, "passed": status == "reproduced"}


def measure(settings: Mapping[str, Mapping], seeds: Sequence[int] | None = None, *, stacked: bool = True,
            progress: Callable[[str], None] | None = None) -> list[dict]:
    """The claim's rows: :func:`lr_transfer` for every task of ``settings`` (``{task: its settings}``, as a
    budget of :data:`BUDGETS`), on ``seeds`` when given (paired seeds, overriding each task's own)."""
    rows: list[dict] = []
    for cfg in settings.values():
        kw = dict(cfg)
        if seeds is not None:
            kw["seeds"] = tuple(seeds)
        rows += lr_transfer(**kw, stacked=stacked, progress=progress).rows
    return rows


def judge(rows: Sequence[dict], **kwargs) -> list[dict]:
    """Every check of :func:`transfer_verdict`, one list over the tasks (each check names its task)."""
    v = transfer_verdict(rows, **kwargs)
    return [{**c, "task": task} for task, tv in v["tasks"].items() for c in tv["checks"]]


def run_transfer(budget: str = "quick", tasks: Sequence[str] = ("mlp", "lm"), *, stacked: bool = True,
                 progress: Callable[[str], None] | None = None) -> tuple[TransferResult, dict]:
    """The ``mup-transfer`` claim at a budget (:data:`BUDGETS`): the measurement of every task and its verdict."""
    if budget not in BUDGETS:
        raise fail("budget", budget, ", ".join(map(repr, BUDGETS)))
    for name in tasks:
        if name not in BUDGETS[budget]:
            raise fail("tasks", name, ", ".join(map(repr, BUDGETS[budget])))
    t0 = time.perf_counter()
    chosen = {name: BUDGETS[budget][name] for name in tasks}
    rows = measure(chosen, stacked=stacked, progress=progress)
    result = TransferResult(rows, {"budget": budget, **chosen}, time.perf_counter() - t0)
    return result, result.verdict()
