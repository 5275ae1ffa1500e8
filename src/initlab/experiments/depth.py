"""Depth experiments: residual networks on digits and a character-level transformer at growing depth.

What the claims about deep residual networks are measured with (the claims' settings, checks and
figures are presets: ``deep-residual``, ``residual-stream``, ``depth-lm`` and ``zero-init`` in
:mod:`initlab.experiments.claims`; :func:`depth_overview` gives the report's depth section its table):

* :func:`residual_mlp` — a residual MLP ``stem → blocks × (x + F(N(x))) → head``, F a branch of ``m``
  Linear layers with the activation between them, N the identity (no normalization) or a LayerNorm
  (``norm="pre"``);
* :func:`train_residual` — one seed of one recipe on digits: the model built and initialized from the
  seed (weights and data order), trained with :func:`~initlab.experiments.trainer.train`;
* :func:`stream_profile` — the residual stream's std after each block at initialization, measured on a
  digits batch and predicted by :func:`initlab.theory.predict_graph`;
* :func:`train_lm` — the loss of :func:`~initlab.experiments.lm.char_transformer` after a fixed number of
  Adam steps on the Python standard library's source (:mod:`initlab.experiments.text`).

>>> m = residual_mlp((1, 8, 8), 10, blocks=3, width=16)
>>> [name for name, _ in m.named_children()]
['flatten', 'stem', 'act', 'blocks', 'head']
"""

from __future__ import annotations

import functools
import math
import time

import torch
from torch import nn

from ..errors import check_choice, check_int, fail
from .models import ACTIVATIONS

__all__ = ["ResidualBlock", "ResidualMLP", "residual_mlp", "init_model", "train_residual", 
           "stream_profile", "train_lm", "train_lm_seeds", "DEPTH_INITS", "digits_data", "slope", "DEPTH_PRESETS",
           "DEPTH_HEADING", "DEPTH_INTRO", "depth_overview"]

DEPTH_INITS = ("he_normal", "fixup", "skipinit", "rezero", "gpt2", "scaled_residual", "neox", "olmo",
               "t_fixup", "mimetic", "ZerO", "idinit", "depth_mup", "completep", "auto", "torch_default")
"""The initializations the depth experiments take: schemes, model-level recipes and the depth
parametrizations (``depth_mup``/``completep``: :func:`initlab.parametrize` with ``base_depth``)."""


@functools.lru_cache(maxsize=1)
def digits_data():
    """scikit-learn's digits, split with seed 0 as every trainer splits it (cached)."""
    from .datasets import load

    return load("digits", seed=0)


class ResidualBlock(nn.Module):
    """``x + F(N(x))``: F = ``m`` Linear layers (width → width) with the activation between them."""

    def __init__(self, width: int, m: int, activation: str, norm: str | None):
        super().__init__()
        self.norm = nn.LayerNorm(width) if norm == "pre" else nn.Identity()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(m))
        self.act = ACTIVATIONS[activation]()

    def forward(self, x):
        h = self.norm(x)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return x + h


class ResidualMLP(nn.Module):
    """``flatten → stem (Linear → activation) → blocks → head``; see :func:`residual_mlp`."""

    def __init__(self, n_in: int, num_classes: int, blocks: int, width: int, m: int, activation: str,
                 norm: str | None):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stem = nn.Linear(n_in, width)
        self.act = ACTIVATIONS[activation]()
        self.blocks = nn.ModuleList(ResidualBlock(width, m, activation, norm) for _ in range(blocks))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.act(self.stem(self.flatten(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def residual_mlp(input_shape, num_classes: int, blocks: int, width: int, *, branch_layers: int = 2,
                 activation: str = "relu", norm: str | None = None) -> ResidualMLP:
    """A residual MLP (PyTorch's default init; initialize it after). ``branch_layers`` = m ≥ 1,
    ``norm``: None or ``"pre"`` (a LayerNorm before every branch)."""
    n_in = math.prod(input_shape)
    return ResidualMLP(n_in, check_int("num_classes", num_classes, minimum=1), check_int("blocks", blocks, minimum=1),
                       check_int("width", width, minimum=1), check_int("branch_layers", branch_layers, minimum=1),
                       check_choice("activation", activation, ACTIVATIONS),
                       None if norm is None else check_choice("norm", norm, ("pre",)))


def init_model(model: nn.Module, init: str, seed: int, *, base_depth: int | None = None):
    """Initialize ``model`` with ``init`` (a scheme, a recipe or ``depth_mup``/``completep``) from ``seed``;
    returns the plan (an InitPlan, or the WidthPlan of a depth parametrization)."""
    import initlab

    if init not in DEPTH_INITS:
        check_choice("init", init, DEPTH_INITS)
    if init in ("depth_mup", "completep"):
        return initlab.parametrize(model, init, base_depth=base_depth or 1, seed=seed)
    return initlab.initialize(model, init, seed=seed)


def train_residual(init: str, seed: int, *, blocks: int, width: int, m: int = 2, activation: str = "relu",
                   norm: str | None = None, epochs: int, lr: float, optimizer: str = "sgd", momentum: float = 0.9,
                   batch_size: int = 64, data=None) -> dict:
    """Train one residual MLP on digits (``data``: a :class:`~initlab.experiments.datasets.Dataset`, default
    digits) and return ``{"init", "seed", "blocks", "test_acc", "train_loss", "diverged", "epochs_run",
    "history", "time_s"}`` (accuracies as fractions; a diverged run keeps its last finite epoch)."""
    from .trainer import TrainConfig, train

    data = digits_data() if data is None else data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = residual_mlp(data.input_shape, data.num_classes, blocks, width, branch_layers=m,
                             activation=activation, norm=norm)
    init_model(model, init, seed)
    cfg = TrainConfig(dataset=data.name, depth=1, width=width, activation=activation, optimizer=optimizer, lr=lr,
                      momentum=momentum, epochs=epochs, batch_size=batch_size, seed=seed, grad_std_steps=())
    result = train(cfg, data, model=model)
    last = result.history[-1]
    finite = [h for h in result.history if math.isfinite(h["train_loss"])]
    return {"init": init, "seed": seed, "blocks": blocks, "test_acc": float(last["test_acc"]),
            "train_loss": float(last["train_loss"]) if math.isfinite(last["train_loss"]) else math.inf,
            "diverged": bool(result.diverged), "epochs_run": len(result.history) - 1,
            "best_test_acc": max(float(h["test_acc"]) for h in finite) if finite else 0.0,
            "history": [{k: h[k] for k in ("epoch", "train_loss", "test_acc")} for h in result.history],
            "time_s": result.time_s}


DEPTH_PRESETS = ("deep-residual", "residual-stream", "depth-lm", "zero-init")
"""The claims about depth (:mod:`initlab.experiments.claims`), which the report groups under one heading."""

DEPTH_HEADING = "Depth: residual networks and transformers"
DEPTH_INTRO = (
    "The classic rules keep the signal's variance steady through plain layers. In a residual network the "
    "branches add up, x + F(x), so the stream's variance grows with the number of blocks unless the branches are "
    "scaled; Fixup, SkipInit, ReZero, GPT-2's scaled residual, depth-μP and CompleteP are published answers, "
    "and ZerO starts every layer from an identity. initlab finds a model's residual branches, applies these "
    "recipes to them and predicts the stream with the mean-field recursion of Yang & Schoenholz (2017).\n\n"
    "The four claims below test them on data over paired seeds. The table puts each source's own number "
    "beside ours; each claim's section shows its figures and deciding numbers.")


def depth_overview(results) -> list[dict]:
    """The depth section's table from preset results (name → result with ``title``, ``verdict``,
    ``comparison``): one row per comparison row — claim, verdict, quantity, the source's number, ours."""
    out = []
    for name in DEPTH_PRESETS:
        if name not in results:
            continue
        r = results[name]
        for k, c in enumerate(r.comparison):
            out.append({"claim": name if k == 0 else "", "verdict": r.verdict if k == 0 else "",
                        "quantity": c["quantity"], "source": c["source"], "ours": c["ours"]})
    return out


def slope(xs, ys) -> float:
    """The least-squares slope of ``ys`` against ``xs`` (NaN when every x is the same).

    >>> slope([0, 1, 2], [1, 3, 5])
    2.0
    """
    n = len(xs)
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    return math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else math.nan


def stream_profile(init: str, seed: int, *, blocks: int, width: int, m: int = 2, activation: str = "relu",
                   norm: str | None = "pre", batch: int = 512, data=None) -> list[dict]:
    """The residual stream of a freshly initialized residual MLP on a digits batch: one row per block with
    the measured std after it (``std``), the prediction (``pred_std``, √ of
    :func:`~initlab.theory.residual.predict_graph`'s second moment from the batch's own input moment) and
    the stream before the first block (``block`` 0)."""
    from ..theory.residual import predict_graph

    data = digits_data() if data is None else data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = residual_mlp(data.input_shape, data.num_classes, blocks, width, branch_layers=m,
                             activation=activation, norm=norm)
    init_model(model, init, seed, base_depth=1)
    x = data.x_train[:batch].float()
    m0 = float(x.flatten(1).square().mean())
    pred = predict_graph(model, m0).stream
    rows = []
    with torch.no_grad():
        h = model.act(model.stem(model.flatten(x)))
        rows.append({"init": init, "seed": seed, "blocks": blocks, "block": 0, "std": float(h.square().mean().sqrt()),
                     "pred_std": math.sqrt(pred[0]["pred_stream_in_ms"])})
        for i, block in enumerate(model.blocks):
            h = block(h)
            rows.append({"init": init, "seed": seed, "blocks": blocks, "block": i + 1,
                         "std": float(h.square().mean().sqrt()), "pred_std": math.sqrt(pred[i]["pred_stream_ms"])})
    return rows


def train_lm(init: str, seed: int, *, depth: int, width: int = 32, heads: int = 2, context: int = 32,
             steps: int = 100, batch_size: int = 16, lr: float = 3e-3, base_depth: int = 2,
             max_chars: int | None = 200_000, eval_batches: int = 4) -> dict:
    """Train the character-level transformer of ``depth`` blocks for ``steps`` Adam steps from ``seed``
    (weights, and the order of the training windows) and return its validation loss (nats per character,
    mean over ``eval_batches`` fixed batches): ``{"init", "seed", "depth", "val_loss", "train_loss",
    "diverged", "time_s"}``. ``init``: a scheme or recipe for :func:`initlab.initialize`, or
    ``depth_mup``/``completep`` (:func:`initlab.parametrize` at ``base_depth``, its Adam groups)."""
    import initlab

    from .lm import char_transformer, lm_loss
    from .text import load_text

    start = time.perf_counter()
    text = load_text(max_chars=max_chars)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = char_transformer(width, depth=depth, heads=heads, context=context, vocab_size=text.vocab_size)
    plan = init_model(model, init, seed, base_depth=base_depth)
    if init in ("depth_mup", "completep"):
        groups = plan.param_groups("adam", lr=lr, eps=1e-8)
    else:
        groups = [{"params": list(model.parameters()), "lr": lr}]
    opt = torch.optim.Adam(groups, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    diverged, loss_value = False, math.nan
    model.train()
    for _ in range(steps):
        x, y = text.batch("train", batch_size, context, generator=gen)
        loss = lm_loss(model(x), y)
        if not torch.isfinite(loss):
            diverged = True
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
    model.eval()
    with torch.no_grad():
        vals = []
        for b in range(eval_batches):
            x, y = text.batch("val", 64, context, seed=10_000 + b)
            vals.append(float(lm_loss(model(x), y)))
    val = sum(vals) / len(vals)
    return {"init": init, "seed": seed, "depth": depth, "val_loss": val if math.isfinite(val) else math.inf,
            "train_loss": loss_value, "diverged": diverged or not math.isfinite(val),
            "time_s": time.perf_counter() - start}



def train_lm_seeds(init, seeds: list[int], *, depth: int, width: int = 32, heads: int = 2, context: int = 16,
                   steps: int = 80, batch_size: int = 16, lr: float = 3e-3, base_depth: int = 2,
                   max_chars: int | None = 200_000, eval_batches: int = 4) -> list[dict]:
    """:func:`train_lm` for several seeds of one initialization at one depth, trained as one stacked
    computation (:func:`initlab.parametrize.stacked.train_stacked`: the models share every shape and, for
    depth-μP/CompleteP, their multipliers; each keeps its own initial values, data order and per-parameter
    learning rates). Adam's ε is 1e-8 for every parameter here (CompleteP's ε × (L/L_base)^(−1) is what
    :meth:`~initlab.parametrize.core.WidthPlan.param_groups` gives the one-model :func:`train_lm`).

    ``init`` may also be a list, one initialization per seed: models of several plain schemes or recipes
    (no forward multipliers) then train in one stack; ``depth_mup``/``completep`` only with themselves."""
    from ..parametrize.stacked import evaluate_stacked, train_stacked
    from .lm import char_transformer, lm_loss
    from .text import load_text

    start = time.perf_counter()
    text = load_text(max_chars=max_chars)
    inits = [init] * len(seeds) if isinstance(init, str) else list(init)
    if len(inits) != len(seeds) or (len(set(inits)) > 1 and {"depth_mup", "completep"} & set(inits)):
        raise fail("init", init, f"one initialization, or one per seed ({len(seeds)}) without depth_mup/completep")
    models, lrs = [], []
    for init, seed in zip(inits, seeds):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = char_transformer(width, depth=depth, heads=heads, context=context, vocab_size=text.vocab_size)
        plan = init_model(model, init, seed, base_depth=base_depth)
        mult = {r.name: r.lr_adam for r in plan.rows} if init in ("depth_mup", "completep") else {}
        lrs.append({n: lr * mult.get(n, 1.0) for n, _ in model.named_parameters()})
        models.append(model)
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]

    def batches(step):
        xs, ys = zip(*(text.batch("train", batch_size, context, generator=g) for g in gens))
        return torch.stack(xs), torch.stack(ys)

    models, last = train_stacked(models, lrs, batches, steps, loss_fn=lm_loss, optimizer="adam")
    val_data = [text.batch("val", 64, context, seed=10_000 + b) for b in range(eval_batches)]
    val = evaluate_stacked(models, val_data, lm_loss)
    took = (time.perf_counter() - start) / len(seeds)
    return [{"init": init, "seed": seed, "depth": depth, "val_loss": v, "train_loss": t,
             "diverged": not (math.isfinite(v) and math.isfinite(t)), "time_s": took}
            for init, seed, v, t in zip(inits, seeds, val, last)]
