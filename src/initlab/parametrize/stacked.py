"""Train many models of one shape as one stacked computation, each with its own per-parameter learning rates.

The models of a learning-rate sweep at one width share every shape; they differ in their initial
values (seed, parametrization), their data order (seed) and the learning rate of each parameter
(the sweep's rate × the plan's multiplier). :func:`train_stacked` stacks each parameter over the
models (``torch.func.stack_module_state``), computes every model's loss and gradient with
``torch.func.vmap(torch.func.grad_and_value(...))`` over ``torch.func.functional_call`` of the
model, and steps all of them with :class:`initlab.experiments.trainer.Optimizer` (torch's Adam /
SGD-with-momentum update, written once for stacked tensors with a learning rate per model).
:func:`train_looped` trains the same models one at a time with ``torch.optim`` over
:meth:`WidthPlan.param_groups`; the two agree up to float rounding (tested), and
``benchmarks/bench_coordcheck.py`` times one against the other.

A model whose loss becomes non-finite stops: its learning rate is set to 0, its gradients to 0, and
its final loss is reported as ``inf``.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Sequence

import torch
import torch.nn as nn

from ..errors import check_choice, check_int, fail

__all__ = ["train_stacked", "train_looped", "evaluate_stacked"]


def _per_model_lrs(names: list[str], lrs: Sequence[dict[str, float]]) -> dict[str, torch.Tensor]:
    return {n: torch.tensor([float(lr[n]) for lr in lrs], dtype=torch.float64) for n in names}


def _functional(model: nn.Module, loss_fn: Callable):
    from torch.func import functional_call

    def loss_of(params, buffers, x, y):
        out = functional_call(model, (params, buffers), (x,))
        return loss_fn(out, y)
    return loss_of


def train_stacked(models: Sequence[nn.Module], lrs: Sequence[dict[str, float]], batches: Callable[[int], tuple],
                  steps: int, *, loss_fn: Callable, optimizer: str = "adam", momentum: float = 0.9
                  ) -> tuple[list[nn.Module], list[float]]:
    """Train ``models`` (same architecture and shapes) for ``steps`` steps, all at once.

    ``lrs[i]`` maps every parameter name of model i to its learning rate. ``batches(step)`` returns the
    step's ``(x, y)`` with a leading model axis (M, batch, …). Returns the trained models (their own
    modules, updated in place) and each model's training loss at its last step (inf if it diverged).
    """
    from torch.func import grad_and_value, stack_module_state, vmap

    from ..experiments.trainer import Optimizer

    kind = check_choice("optimizer", optimizer, ("adam", "sgd"))
    steps = check_int("steps", steps, minimum=1)
    if not models or len(models) != len(lrs):
        raise fail("lrs", len(lrs), f"one learning-rate table per model ({len(models)})")
    params, buffers = stack_module_state(list(models))
    names = list(params)
    template = copy.deepcopy(models[0]).to("meta")
    per_lr = _per_model_lrs(names, lrs)
    m = len(models)
    mom = torch.full((m,), float(momentum), dtype=torch.float64)
    opts = {n: Optimizer([params[n]], kind, per_lr[n], mom) for n in names}
    compute = vmap(grad_and_value(_functional(template, loss_fn)), in_dims=(0, 0, 0, 0))
    alive = torch.ones(m, dtype=torch.bool)
    last = torch.full((m,), math.nan, dtype=torch.float64)
    for step in range(steps):
        x, y = batches(step)
        with torch.no_grad():
            grads, losses = compute({n: p.detach() for n, p in params.items()}, buffers, x, y)
        bad = alive & ~torch.isfinite(losses)
        if bad.any():
            for i in bad.nonzero().flatten().tolist():
                for opt in opts.values():
                    opt.freeze(i)
            alive &= ~bad
        last = torch.where(alive, losses.double(), torch.full_like(last, math.inf))
        for n in names:
            g = grads[n]
            if not alive.all():
                g = torch.where(alive.view(-1, *([1] * (g.dim() - 1))), g, torch.zeros_like(g))
            params[n].grad = g
            opts[n].step()
            params[n].grad = None
        if not alive.any():
            break
    with torch.no_grad():
        for i, model in enumerate(models):
            for n, p in model.named_parameters():
                p.copy_(params[n][i])
    return list(models), last.tolist()


def evaluate_stacked(models: Sequence[nn.Module], data: Sequence[tuple], loss_fn: Callable) -> list[float]:
    """Mean loss of each model over the batches ``data`` (shared by all models); inf for a non-finite one."""
    from torch.func import functional_call, stack_module_state, vmap

    params, buffers = stack_module_state(list(models))
    template = copy.deepcopy(models[0]).to("meta")
    total = torch.zeros(len(models), dtype=torch.float64)
    with torch.no_grad():
        for x, y in data:
            out = vmap(lambda p, b: functional_call(template, (p, b), (x,)))(params, buffers)
            total += torch.stack([loss_fn(o, y) for o in out]).double()
    loss = total / len(data)
    return [v if math.isfinite(v) else math.inf for v in loss.tolist()]


def train_looped(models: Sequence[nn.Module], groups: Sequence[list[dict]], batches: Callable[[int], tuple],
                 steps: int, *, loss_fn: Callable, optimizer: str = "adam", momentum: float = 0.9
                 ) -> tuple[list[nn.Module], list[float]]:
    """The reference: each model alone, with ``torch.optim.Adam(groups[i], betas=(momentum, 0.999))`` or
    ``torch.optim.SGD(groups[i], momentum=momentum)``; ``batches(step)`` as for :func:`train_stacked`."""
    kind = check_choice("optimizer", optimizer, ("adam", "sgd"))
    last = []
    opts = [torch.optim.Adam(g, betas=(momentum, 0.999)) if kind == "adam" else torch.optim.SGD(g, momentum=momentum)
            for g in groups]
    done = [False] * len(models)
    losses = [math.nan] * len(models)
    for step in range(steps):
        x, y = batches(step)
        for i, (model, opt) in enumerate(zip(models, opts)):
            if done[i]:
                continue
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[i]), y[i])
            if not torch.isfinite(loss):
                done[i], losses[i] = True, math.inf
                continue
            loss.backward()
            opt.step()
            losses[i] = float(loss.detach())
    last = [math.inf if d else v for d, v in zip(done, losses)]
    return list(models), last
