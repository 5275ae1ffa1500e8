"""Learning-rate transfer: the decision on synthetic sweeps that must pass, fail or stay undecided; the stacked
trainer against torch.optim one model at a time; a small real sweep end to end."""

import copy
import math
import random

import pytest
import torch

import initlab
from initlab.errors import InitlabError
from initlab.parametrize.stacked import evaluate_stacked, train_looped, train_stacked
from initlab.parametrize.tasks import get_task
from initlab.parametrize.transfer import BUDGETS, best_rate, drift, judge, lr_transfer, transfer_verdict

WIDTHS = (32, 64, 128, 256)
LRS = tuple(range(-10, -1))  # log2 learning rates


def sp_moves(p, w):
    return -5 if p == "mup" else -4 - int(math.log2(w // 32))  # SP: -4, -5, -6, -7


def jittered(optimum, shift=0.15):
    """A per-seed wobble of the optimum (so that every interval has a width)."""
    return lambda p, w, s: optimum(p, w) + shift * ((s * 7) % 5 - 2) / 2


def sweep_seeded(optimum, seeds=5, base_loss=lambda p, w: 1.0 - 0.05 * math.log2(w / 32), curvature=0.05):
    return [{"task": "mlp", "parametrization": p, "width": w, "log2_lr": a, "seed": s,
             "loss": base_loss(p, w) + curvature * (a - optimum(p, w, s)) ** 2}
            for p in ("sp", "mup") for w in WIDTHS for a in LRS for s in range(seeds)]


def statuses(v):
    return [c["outcome"] for c in v["tasks"]["mlp"]["checks"]]


@pytest.mark.parametrize("a_opt", [-7.3, -6.5, -6.0, -5.76, -4.5])
def test_best_rate_is_the_vertex_of_an_exact_parabola(a_opt):
    grid = list(range(-10, -1))
    losses = [0.7 + 0.2 * (a - a_opt) ** 2 for a in grid]
    best, edge = best_rate(losses, grid)
    assert best == pytest.approx(a_opt, abs=1e-12) and not edge


def test_best_rate_edges_and_divergence():
    grid = [-6, -5, -4, -3]
    assert best_rate([1.0, 2.0, 3.0, 4.0], grid) == (-6.0, True)
    assert best_rate([4.0, 3.0, 2.0, 1.0], grid) == (-3.0, True)
    # a diverged neighbour is never the best and leaves the grid point unrefined
    assert best_rate([3.0, 1.0, math.inf, math.inf], grid) == (-5.0, False)
    assert math.isnan(best_rate([math.inf] * 4, grid)[0])
    # a kink sharper than a parabola: the vertex is kept within half a step
    assert best_rate([10.0, 1.0, 1.0 + 1e-9, 10.0], grid)[0] == pytest.approx(-4.5, abs=1e-6)


def test_drift_is_the_fitted_move_over_the_width_range():
    # independent: slope of y on log2 w by the normal equations, times log2(256/32) = 3
    best = {32: -5.0, 64: -5.5, 128: -7.0, 256: -7.25}
    x = [5, 6, 7, 8]
    y = [best[w] for w in WIDTHS]
    mx, my = sum(x) / 4, sum(y) / 4
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
    assert drift(best) == pytest.approx(3 * slope, rel=1e-12)
    assert drift({32: -5.0, 256: -5.0}) == 0.0


def test_a_clean_transfer_is_reproduced():
    v = transfer_verdict(sweep_seeded(jittered(sp_moves)))
    assert v["verdict"] == "reproduced" and statuses(v) == ["reproduced"] * 3
    n = v["tasks"]["mlp"]["numbers"]
    assert n["mup"]["best_log2_lr"] == pytest.approx({32: -5, 64: -5, 128: -5, 256: -5}, abs=0.2)
    assert n["sp"]["best_log2_lr"] == pytest.approx({32: -4, 64: -5, 128: -6, 256: -7}, abs=0.2)
    assert n["sp"]["drift"] == pytest.approx([-3.0] * 5, abs=0.01)
    checks = judge(sweep_seeded(jittered(sp_moves)))
    assert [c.outcome for c in checks] == ["reproduced"] * 3


@pytest.mark.parametrize("optimum,base_loss,expected", [
    # μP's best rate moves by two steps
    (lambda p, w: -5 - (w >= 128) * 2 if p == "mup" else sp_moves(p, w), None,
     ["contradicted", "reproduced", "reproduced"]),
    # SP's best rate does not move
    (lambda p, w: -5, None, ["reproduced", "contradicted", "reproduced"]),
    # wider is worse under μP
    (sp_moves, lambda p, w: 1.0 + 0.05 * math.log2(w / 32), ["reproduced", "reproduced", "contradicted"]),
])
def test_sweeps_that_contradict_the_claim_are_contradicted(optimum, base_loss, expected):
    kw = {"base_loss": base_loss} if base_loss else {}
    v = transfer_verdict(sweep_seeded(jittered(optimum), **kw))
    assert statuses(v) == expected and v["verdict"] == "contradicted"


def test_seed_noise_larger_than_the_move_is_inconclusive():
    # μP's optimum wanders by ±1.5 steps from seed to seed: its mean move is small, its interval is not
    wander = {0: 1.5, 1: -1.5, 2: 0.5, 3: -0.5, 4: 1.0}
    v = transfer_verdict(sweep_seeded(lambda p, w, s: sp_moves(p, w) + (wander[s] * (w == 256) if p == "mup" else 0)))
    assert statuses(v)[0] == "inconclusive" and v["verdict"] == "inconclusive"


def test_a_best_rate_at_the_edge_of_the_grid_is_not_a_transfer():
    v = transfer_verdict(sweep_seeded(jittered(lambda p, w: -12 if p == "mup" else sp_moves(p, w))))
    c = v["tasks"]["mlp"]["checks"][0]
    assert c["outcome"] == "inconclusive" and "at the grid's edge" in c["measured"]


def test_diverged_runs_count_as_infinitely_bad():
    rows = sweep_seeded(jittered(sp_moves))
    for r in rows:
        if r["parametrization"] == "sp" and r["log2_lr"] >= -4 and r["width"] == 256:
            r["loss"] = math.inf
    v = transfer_verdict(rows)
    assert v["tasks"]["mlp"]["numbers"]["sp"]["best_log2_lr"][256] == pytest.approx(-7, abs=0.2)
    assert v["verdict"] == "reproduced"


def test_verdict_arguments_and_bad_rows():
    rows = sweep_seeded(jittered(sp_moves))
    with pytest.raises(InitlabError, match=r"rows: got \['mup'\]; allowed: rows of both 'sp' and 'mup'"):
        transfer_verdict([r for r in rows if r["parametrization"] == "mup"])
    with pytest.raises(InitlabError, match="tolerance: got -1"):
        transfer_verdict(rows, tolerance=-1)
    with pytest.raises(InitlabError, match="rows: got \\[\\]"):
        transfer_verdict([])
    with pytest.raises(InitlabError, match="a ×2 grid without holes"):
        transfer_verdict([r for r in rows if r["log2_lr"] != -6])
    # the tolerance of "wider is never worse" is an argument: a 3 % rise passes at 5 %, fails at 1 %
    worse = sweep_seeded(jittered(sp_moves), base_loss=lambda p, w: 1.0 + 0.03 * (w == 256))
    assert statuses(transfer_verdict(worse, tolerance=0.05))[2] == "reproduced"
    assert statuses(transfer_verdict(worse, tolerance=0.01))[2] == "contradicted"


# ------------------------------------------------------------------------------------------- training
def _models(task, width, base, n=4):
    models, plans = [], []
    for i in range(n):
        m = task.model_fn(width)
        kw = {"base": task.model_fn(base), "delta": task.model_fn(2 * base)} if i % 2 else {}
        plans.append(initlab.parametrize(m, "mup" if i % 2 else "sp", seed=i, **kw))
        models.append(m)
    return models, plans


@pytest.mark.slow
@pytest.mark.parametrize("spec,width,base", [("mlp:depth=2", 64, 16), ("lm:depth=1,heads=2,context=8", 16, 4)])
def test_stacked_training_equals_torch_optim_one_model_at_a_time(spec, width, base):
    task = get_task(spec, text_chars=20_000)
    models, plans = _models(task, width, base)
    lrs = [2.0 ** -k for k in (5, 7, 9, 11)]
    gens = [torch.Generator().manual_seed(i) for i in range(len(models))]
    cache = {}

    def batches(step):
        if step not in cache:
            xs, ys = zip(*(task.batch("train", 8, generator=g) for g in gens))
            cache[step] = (torch.stack(xs), torch.stack(ys))
        return cache[step]

    a = [copy.deepcopy(m) for m in models]
    b = [copy.deepcopy(m) for m in models]
    tables = [{r.name: lr * r.lr_adam for r in p.rows} for p, lr in zip(plans, lrs)]
    groups = []
    for p, lr, m in zip(plans, lrs, b):
        params = dict(m.named_parameters())
        groups.append([{**g, "params": [params[n] for n in g["param_names"]]} for g in p.param_groups("adam", lr)])
    _, la = train_stacked(a, tables, batches, 3, loss_fn=task.loss)
    _, lb = train_looped(b, groups, batches, 3, loss_fn=task.loss)
    assert la == pytest.approx(lb, rel=1e-5)
    for ma, mb in zip(a, b):
        for (n, pa), pb in zip(ma.named_parameters(), mb.parameters()):
            assert torch.allclose(pa, pb, rtol=1e-4, atol=1e-6), n
    ev = evaluate_stacked(a, task.eval_data(), task.loss)
    with torch.no_grad():
        one = [sum(float(task.loss(m(x), y)) for x, y in task.eval_data()) / len(task.eval_data()) for m in a]
    assert ev == pytest.approx(one, rel=1e-5)


def test_a_diverging_model_stops_without_disturbing_the_others():
    task = get_task("mlp:depth=2")
    models, plans = _models(task, 32, 8, n=2)
    tables = [{r.name: 2.0 ** -8 * r.lr_adam for r in plans[0].rows}, {r.name: 1e6 for r in plans[1].rows}]
    x, y = task.batch("train", 16, seed=0)
    big = torch.stack([x, torch.full_like(x, math.nan)]), torch.stack([y, y])  # model 1 sees a non-finite input
    alone = copy.deepcopy(models[0])
    _, losses = train_stacked(models, tables, lambda step: big, 3, loss_fn=task.loss)
    _, ref = train_stacked([alone], tables[:1], lambda step: (big[0][:1], big[1][:1]), 3, loss_fn=task.loss)
    assert losses[1] == math.inf and losses[0] == pytest.approx(ref[0], rel=1e-6)
    assert all(torch.isfinite(p).all() for p in models[0].parameters())


@pytest.mark.slow
def test_a_small_real_sweep_end_to_end():
    r = lr_transfer("mlp:depth=1", widths=(16, 32, 128), log2_lrs=(-8, -7, -6, -5), seeds=(0, 1), steps=20,
                    batch_size=32)
    assert len(r.rows) == 2 * 3 * 4 * 2
    assert {(row["parametrization"], row["width"], row["log2_lr"], row["seed"]) for row in r.rows} == {
        (p, w, a, s) for p in ("sp", "mup") for w in (16, 32, 128) for a in (-8, -7, -6, -5) for s in (0, 1)}
    at_base = {(row["log2_lr"], row["seed"]): row["loss"] for row in r.rows if row["width"] == 16}
    # at the base width μP is SP: the same initialization and learning rates, so the same losses
    sp = {(row["log2_lr"], row["seed"]): row["loss"] for row in r.rows if row["width"] == 16
          and row["parametrization"] == "sp"}
    mup = {(row["log2_lr"], row["seed"]): row["loss"] for row in r.rows if row["width"] == 16
           and row["parametrization"] == "mup"}
    assert sp == pytest.approx(mup, rel=1e-6) and len(at_base) == 8
    v = r.verdict()
    assert v["verdict"] in ("reproduced", "contradicted", "inconclusive") and len(v["tasks"]["mlp"]["checks"]) == 3
    fig = r.plot()
    assert len(fig.axes) == 2


def test_budgets_span_at_least_eight_times_in_width():
    assert BUDGETS["full"]["seeds"] >= 5 and BUDGETS["quick"]["seeds"] >= 3
    for budget in BUDGETS.values():
        assert set(budget["tasks"]) == {"mlp", "lm"}
        for cfg in budget["tasks"].values():
            assert max(cfg["widths"]) / min(cfg["widths"]) >= 8
            lrs = cfg["log2_lrs"]
            assert list(lrs) == list(range(min(lrs), max(lrs) + 1))  # a ×2 grid without holes


@pytest.mark.parametrize("kwargs,match", [
    ({"widths": (32,)}, "widths: got \\[32\\]; allowed: at least two different widths"),
    ({"log2_lrs": (-5, -4)}, "log2_lrs: got \\[-5, -4\\]; allowed: at least three grid points"),
    ({"log2_lrs": (-9, -7, -5)}, "log2_lrs: got \\[-9, -7, -5\\]; allowed: consecutive integers"),
    ({"seeds": ()}, "seeds: got \\[\\]; allowed: at least one seed"),
    ({"steps": 0}, "steps: got 0"),
])
def test_lr_transfer_bad_input(kwargs, match):
    with pytest.raises(InitlabError, match=match):
        lr_transfer("mlp:depth=1", **kwargs)
