"""Train many MLPs of one architecture together, as one stacked computation.

M models that differ only in initialization scheme, seed, learning rate or momentum are stored
as stacked weights — the transposed matrices W[l]ᵀ stacked to (M, in, out) — and biases
(M, 1, out). One step computes, for every layer l, all M pre-activations with a single batched
matrix product

    z[l] = h[l−1] · W[l]ᵀ + b[l]          (``torch.bmm`` over the model axis)

so the per-call overhead of ~2·(depth+1) small kernels is paid once per step instead of M
times. The loss is the sum of the M per-model mean cross-entropies; since the models share no
parameters, its gradient with respect to model m's slice is exactly model m's own gradient.
SGD with momentum and Adam are written out on the stacked tensors with per-model learning
rates and momenta (β₁ for Adam), following torch.optim's update rules.

Each model sees exactly the minibatches it would see under :func:`~initlab.experiments.trainer.train`
(its own seeded data order), starts from exactly the weights :func:`~initlab.experiments.models.build_model`
gives its seed, and diverges (and stops) on its own: a diverged model's weights are kept as
they were and its slice is zeroed with learning rate 0 so it cannot disturb the rest. Results
equal one-at-a-time training up to float rounding (batched and plain matrix products sum in
different orders).

Results equal one-at-a-time training only while training is not chaotic: in an unstable regime
(e.g. Adam with β₁ = 0 and a large learning rate) rounding differences grow until the two runs
part ways, as two runs on different thread counts would.

When it pays: stacking cannot reduce the arithmetic, only the fixed cost of each call and the
idle second core (``bmm`` splits over the model axis, one small product barely parallelizes).
Measured with ``benchmarks/bench_batched.py`` on a 2-core AVX2 machine (torch 2.13, CPU), where a
64×128·128×128 product runs at ~32 GFLOP/s and the stacked (16·64)×128·128×128 one at ~66 on two
threads: 16 MLPs of 30 × 128 on digits, batch 64, 1.2× faster on one thread and 1.45× on two, where
the most any stacked trainer could gain (the same model builds, then every FLOP at the stacked
product's rate) is 1.7× and 2.0×; 64 MLPs 784-256-256-10, batch 128, 1.0×. On a core with faster
matrix products the fixed cost is a larger share of each step, so the gain should be larger there
(not measured here).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InitlabError
from .datasets import Dataset, load
from .models import ACTIVATIONS, build_model
from .trainer import (Optimizer, TrainConfig, TrainResult, as_float_data, epoch_orders, evaluate, history_row,
                      weight_layers)

__all__ = ["train_batched", "SHARED_FIELDS"]

SHARED_FIELDS = ("dataset", "model", "depth", "width", "activation", "bias", "optimizer", "epochs", "batch_size")
"""Config fields that must be equal across a batch (they fix the stacked shapes and the schedule)."""

EVAL_ELEMENTS = 1 << 20  # rows per evaluation chunk: about this many activations per layer


def _check_configs(configs) -> list[TrainConfig]:
    if not isinstance(configs, (list, tuple)) or not configs:
        raise InitlabError(f"configs: got {configs!r}; allowed: a non-empty list of TrainConfig")
    for i, c in enumerate(configs):
        if not isinstance(c, TrainConfig):
            raise InitlabError(f"configs[{i}]: got {type(c).__name__}; allowed: a TrainConfig")
        c.validate()
    first = configs[0]
    if first.model.lower() != "mlp":
        raise InitlabError(f"model: got {first.model!r}; allowed: 'mlp' (the stacked trainer runs MLPs only; "
                           "train CNNs one at a time with train())")
    for name in SHARED_FIELDS:
        values = [getattr(c, name) for c in configs]
        if any(v != values[0] for v in values):
            raise InitlabError(f"{name}: got different values {sorted(set(map(repr, values)))} across configs; "
                               f"allowed: one value (batched models differ only in scheme, scheme_params, seed, "
                               f"lr, momentum, grad_std_steps)")
    return list(configs)


def _check_models(models, reference: nn.Module, n: int) -> list[nn.Module]:
    if not isinstance(models, (list, tuple)) or len(models) != n:
        raise InitlabError(f"models: got {type(models).__name__} of length {len(models) if hasattr(models, '__len__') else '?'}; "
                           f"allowed: a list of {n} models, one per config")
    shapes = [(type(m), tuple(m.weight.shape), m.bias is not None) for m in reference.modules()
              if isinstance(m, nn.Linear)]
    acts = [type(m) for m in reference if not isinstance(m, (nn.Linear, nn.Flatten))]
    for i, model in enumerate(models):
        got = [(type(m), tuple(m.weight.shape), m.bias is not None) for m in model.modules() if isinstance(m, nn.Linear)]
        got_acts = [type(m) for m in model if not isinstance(m, (nn.Linear, nn.Flatten))] \
            if isinstance(model, nn.Sequential) else None
        if got != shapes or got_acts != acts:
            raise InitlabError(f"models[{i}]: got a model whose layers differ from the configs' MLP; allowed: "
                               "models built as the configs describe (same layers, shapes, activations)")
    return list(models)


class _Stack:
    """Stacked parameters of M identical MLPs and the forward pass over them.

    Layer l is held as ``wt[l]`` = the M weight matrices transposed, shape (M, in, out), and
    ``b[l]`` of shape (M, 1, out), so that z = h·Wᵀ + b is ``bmm(h, wt) + b`` on contiguous
    operands and ∂L/∂wt = hᵀ·∂L/∂z comes out contiguous too (no transposing copies). A
    separate bias add is used because ``baddbmm`` with a broadcast bias ran at about half
    ``bmm``'s rate on two threads (torch 2.13, CPU).
    """

    def __init__(self, models: list[nn.Module], activation: str):
        self.layers = [[m for _, m in weight_layers(model)] for model in models]
        per_layer = list(zip(*self.layers))
        self.wt = [torch.stack([lin.weight.detach().t() for lin in group]).contiguous().requires_grad_(True)
                   for group in per_layer]
        self.has_bias = per_layer[0][0].bias is not None
        self.b = ([torch.stack([lin.bias.detach() for lin in group]).unsqueeze(1).requires_grad_(True)
                   for group in per_layer] if self.has_bias else [])
        self.act = ACTIVATIONS[activation]()

    @property
    def params(self) -> list[Tensor]:
        return self.wt + self.b

    def forward(self, h: Tensor, keep: list[Tensor] | None = None) -> Tensor:
        """Logits (M, B, C) for inputs ``h`` of shape (M, B, D), or (B, D) shared by all models."""
        last = len(self.wt) - 1
        for i, wt in enumerate(self.wt):
            # shared inputs (evaluation) broadcast over the model axis in the first product
            z = torch.matmul(h, wt) if h.dim() == 2 else torch.bmm(h, wt)
            if self.has_bias:
                z = z + self.b[i]
            if keep is not None:
                z.retain_grad()
                keep.append(z)
            h = self.act(z) if i < last else z
        return h

    @torch.no_grad()
    def evaluate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-model mean cross-entropy and accuracy over ``(x, y)``, each of shape (M,)."""
        m = self.wt[0].shape[0]
        loss = torch.zeros(m, dtype=torch.float64)
        correct = torch.zeros(m, dtype=torch.int64)
        rows = max(1, EVAL_ELEMENTS // (m * max(w.shape[2] for w in self.wt)))
        for start in range(0, len(y), rows):
            out = self.forward(x[start:start + rows])
            yb = y[start:start + rows]
            c = out.shape[-1]
            per = F.cross_entropy(out.reshape(-1, c), yb.repeat(m), reduction="none").view(m, -1)
            loss += per.sum(1, dtype=torch.float64)
            correct += (out.argmax(-1) == yb).sum(1)
        return loss / len(y), correct.double() / len(y)

    def snapshot(self, index: int) -> tuple[list[Tensor], list[Tensor]]:
        """Model ``index``'s weights (out, in) and biases (out,), copied."""
        return ([w[index].detach().t().clone() for w in self.wt], [b[index, 0].detach().clone() for b in self.b])

    @torch.no_grad()
    def write_back(self, index: int, weights: list[Tensor], biases: list[Tensor]) -> None:
        """Copy weights (out, in) and biases into model ``index``'s own modules."""
        for layer, w, b in zip(self.layers[index], weights, biases or [None] * len(weights)):
            layer.weight.copy_(w)
            if b is not None:
                layer.bias.copy_(b)


def train_batched(configs: list[TrainConfig], data: Dataset | None = None,
                  models: list[nn.Module] | None = None) -> list[TrainResult]:
    """Train every config's MLP at once; ``result[i]`` matches ``train(configs[i], data)`` up to rounding.

    The configs must agree on :data:`SHARED_FIELDS`; they may differ in scheme, scheme_params,
    seed, lr, momentum and grad_std_steps. ``models`` (optional, one per config) are MLPs already
    built and initialized — e.g. by :func:`initlab.lsuv` — to train instead of building them from
    the configs; each must have the configs' architecture. ``time_s`` of each result is the wall
    time of the whole batch.
    """
    configs = _check_configs(configs)
    start_time = time.perf_counter()
    first = configs[0]
    data = load(first.dataset) if data is None else data
    x_tr, y_tr, x_te, y_te = as_float_data(data)
    x_tr_flat, x_te_flat = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    n, bs, m_count = len(y_tr), first.batch_size, len(configs)

    expected = [build_model(c.model_spec(), data.input_shape, data.num_classes, seed=c.seed)
                for c in configs[:1 if models is not None else len(configs)]]
    if models is not None:
        models = _check_models(models, expected[0], len(configs))
    else:
        models = expected
    names = [name for name, _ in weight_layers(models[0])]
    stack = _Stack(models, first.activation)
    opt = Optimizer(stack.params, first.optimizer, torch.tensor([float(c.lr) for c in configs], dtype=torch.float64),
                    torch.tensor([float(c.momentum) for c in configs], dtype=torch.float64))

    histories: list[list[dict]] = [[] for _ in configs]
    grad_rows: list[list[dict]] = [[] for _ in configs]
    active = [True] * m_count
    frozen: dict[int, tuple[list[Tensor], list[Tensor]]] = {}  # weights of diverged models
    steps_done = [0] * m_count
    record = [set(c.grad_std_steps) for c in configs]

    retiring: list[int] = []

    def stop(i: int) -> None:
        """Keep model i's weights and stop training it (its slice is cleared by ``retire``)."""
        active[i] = False
        frozen[i] = stack.snapshot(i)
        retiring.append(i)

    def retire() -> None:
        """Zero the slices of stopped models, with learning rate 0, so they stay finite and inert."""
        with torch.no_grad():
            for i in retiring:
                for p in stack.params:
                    p[i].zero_()
                opt.freeze(i)
        retiring.clear()

    def epoch_rows(epoch: int, stopped_now: set[int]) -> None:
        tr_loss, tr_acc = stack.evaluate(x_tr_flat, y_tr)
        te_loss, te_acc = stack.evaluate(x_te_flat, y_te)
        for i in range(m_count):
            if i in stopped_now:  # evaluate the kept weights exactly as train() does
                stack.write_back(i, *frozen[i])
                row = history_row(epoch, *evaluate(models[i], x_tr, y_tr), *evaluate(models[i], x_te, y_te), True)
            elif active[i]:
                row = history_row(epoch, float(tr_loss[i]), float(tr_acc[i]), float(te_loss[i]), float(te_acc[i]),
                                  False)
                if row["diverged"]:
                    stop(i)
            else:
                continue
            histories[i].append(row)
        retire()

    epoch_rows(0, set())
    orders = [epoch_orders(c.seed, n, first.epochs) for c in configs]
    step = 0
    for epoch in range(1, first.epochs + 1):
        if not any(active):
            break
        order = torch.stack([next(o) for o in orders])  # (M, n)
        stopped_now: set[int] = set()
        for start in range(0, n, bs):
            idx = order[:, start:start + bs]  # (M, B)
            want = [i for i in range(m_count) if active[i] and step in record[i]]
            keep: list[Tensor] | None = [] if want else None
            logits = stack.forward(x_tr_flat[idx], keep)
            yb = y_tr[idx]
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1),
                                     reduction="none").view(m_count, -1).mean(1)
            finite = torch.isfinite(losses).tolist()
            for i in range(m_count):
                if active[i] and not finite[i]:
                    stop(i)
                    stopped_now.add(i)
            if not any(active):
                break
            mask = torch.tensor(active)
            torch.where(mask, losses, torch.zeros_like(losses)).sum().backward()
            if not all(active):  # a model that just diverged back-propagates NaN into its own slice only
                with torch.no_grad():
                    for p in stack.params:
                        p.grad[~mask] = 0.0
            for i in want:
                if not active[i]:
                    continue
                for layer, z in enumerate(keep):
                    grad_rows[i].append({"step": step, "layer": layer, "layer_name": names[layer],
                                         "grad_std": float(z.grad[i].std()),
                                         "weight_grad_norm": float(stack.wt[layer].grad[i].norm())})
            opt.step()
            opt.zero_grad()
            retire()
            for i in range(m_count):
                steps_done[i] += active[i]
            step += 1
        epoch_rows(epoch, stopped_now)

    results = []
    for i, config in enumerate(configs):
        stack.write_back(i, *(frozen[i] if i in frozen else stack.snapshot(i)))
        results.append(TrainResult(config=config, history=histories[i], grad_std=grad_rows[i], model=models[i],
                                   diverged=i in frozen, steps=steps_done[i],
                                   time_s=time.perf_counter() - start_time))
    return results
