"""A small, deterministic trainer for initialization experiments.

:func:`train` trains one model with minibatch SGD (with momentum) or Adam on the cross-entropy
loss and records what initialization experiments need:

* ``history`` — one row per epoch, epoch 0 being the untrained model: train/test loss and
  accuracy measured over the whole split, and whether training diverged;
* ``grad_std`` — at chosen optimisation steps, for every weight layer (Linear/Conv, head
  included): the std of the back-propagated gradient ∂L/∂h with respect to the layer's output
  h (the pre-activation), and the Frobenius norm of ∂L/∂W. L is the minibatch *mean* loss, so
  ∂L/∂h carries a factor 1/batch_size. Glorot & Bengio 2010 (Fig. 7) and He et al. 2015 use
  these to show vanishing or exploding gradients.

Determinism: the model's initial weights come from ``seed`` (:func:`~initlab.experiments.models.build_model`),
and the order of the training data from a ``torch.Generator`` seeded with ``seed`` (a fresh
``randperm`` each epoch; the last batch of an epoch may be smaller). The data set itself is
loaded with its own fixed seed 0, so every seed of a sweep sees the same split. Same config →
identical history (on the same machine and thread count).

Divergence: a non-finite minibatch loss stops training before the update (the model keeps
the weights that produced it) and the epoch's row is recorded with ``diverged=True``; a
non-finite epoch-end training loss is treated the same way.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InitlabError, check_bool, check_choice, check_int, check_number, check_positive, check_type, suggest
from .datasets import DATASETS, Dataset, load
from .models import ACTIVATIONS, MODEL_KINDS, build_model

__all__ = ["TrainConfig", "TrainResult", "train", "evaluate", "Optimizer", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "adam")
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
EVAL_BATCH = 2048


@dataclass
class TrainConfig:
    """Everything that defines one training run.

    ``model`` is ``"mlp"`` (``depth`` hidden layers of ``width`` units) or ``"cnn"`` (``depth``
    conv layers of ``width`` channels). ``scheme`` is any initlab scheme name or ``"auto"``;
    ``scheme_params`` its parameters (e.g. ``{"std": 0.01}`` for ``random_normal``).
    ``momentum`` is SGD's momentum, and Adam's β₁ (β₂ = 0.999, ε = 1e-8 as in torch).
    ``grad_std_steps`` are the optimisation steps (0 = the first minibatch, before any update)
    at which gradient statistics are recorded; steps past the end of training are skipped.
    """

    dataset: str = "digits"
    model: str = "mlp"
    depth: int = 5
    width: int = 128
    activation: str = "relu"
    scheme: str = "auto"
    scheme_params: dict = field(default_factory=dict)
    bias: bool = True
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    grad_std_steps: tuple[int, ...] = (0,)

    def validate(self) -> "TrainConfig":
        """Raise :class:`InitlabError` naming the first bad field; return ``self`` when all are fine."""
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("model", self.model, MODEL_KINDS)
        for name, minimum in (("depth", 1), ("width", 1), ("epochs", 1), ("batch_size", 1), ("seed", 0)):
            check_int(name, getattr(self, name), minimum=minimum)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_positive("lr", self.lr)
        check_number("momentum", self.momentum, minimum=0.0, maximum=1.0, open_max=True)
        check_bool("bias", self.bias)
        steps = check_type("grad_std_steps", self.grad_std_steps, (tuple, list), "a tuple of integers >= 0")
        for s in steps:
            check_int("grad_std_steps", s, minimum=0)
        _check_scheme(self.scheme, self.scheme_params)
        return self

    def init_spec(self) -> str | dict:
        """The ``init`` field of the model spec: the scheme name, or a config dict when it has parameters."""
        return {"name": self.scheme, "params": dict(self.scheme_params)} if self.scheme_params else self.scheme

    def model_spec(self) -> dict:
        """The :func:`~initlab.experiments.models.build_model` spec this config describes."""
        size = "width" if self.model == "mlp" else "channels"
        return {"name": self.model, "depth": self.depth, size: self.width, "act": self.activation,
                "init": self.init_spec(), "bias": self.bias}

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["grad_std_steps"] = list(self.grad_std_steps)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """The config of ``data`` (as written by :meth:`to_dict`); unknown keys are an error."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise InitlabError(f"TrainConfig: got unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                               f"{', '.join(names)}{suggest(unknown[0], names)}")
        values = dict(data)
        if "grad_std_steps" in values and isinstance(values["grad_std_steps"], list):
            values["grad_std_steps"] = tuple(values["grad_std_steps"])
        if "scheme_params" in values:
            values["scheme_params"] = dict(values["scheme_params"] or {})
        return cls(**values)


def _check_scheme(scheme, params) -> None:
    if not isinstance(params, Mapping):
        raise InitlabError(f"scheme_params: got {params!r}; allowed: a dict of the scheme's parameters")
    if not isinstance(scheme, str):
        raise InitlabError(f"scheme: got {scheme!r}; allowed: 'auto' or a scheme name from `initlab list`")
    if scheme.lower() == "auto":
        if params:
            raise InitlabError(f"scheme_params: got {dict(params)!r} with scheme 'auto'; allowed: {{}} "
                               "(name a scheme to pass parameters)")
        return
    import initlab

    try:
        initlab.get({"name": scheme, "params": dict(params)})
    except InitlabError as exc:
        raise InitlabError(f"scheme: got {scheme!r} with {dict(params)!r}; allowed: a scheme and parameters initlab "
                           f"accepts ({exc})") from None


@dataclass
class TrainResult:
    """What :func:`train` returns; ``history[-1]`` is the final epoch."""

    config: TrainConfig
    history: list[dict]
    grad_std: list[dict]
    model: nn.Module
    diverged: bool
    steps: int
    time_s: float

    @property
    def final(self) -> dict:
        return self.history[-1]


# ---------------------------------------------------------------------------------------------
# pieces shared with the stacked trainer


def epoch_orders(seed: int, n: int, epochs: int) -> Iterator[Tensor]:
    """The data order of each epoch: ``randperm(n)`` from a generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        yield torch.randperm(n, generator=gen)


def as_float_data(data: Dataset) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (data.x_train.float(), data.y_train.long(), data.x_test.float(), data.y_test.long())


def history_row(epoch: int, train_loss: float, train_acc: float, test_loss: float, test_acc: float,
                diverged: bool) -> dict:
    return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss,
            "test_acc": test_acc, "diverged": bool(diverged or not math.isfinite(train_loss))}


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's Linear and Conv layers, in module order."""
    kinds = (nn.Linear, nn.modules.conv._ConvNd)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]


# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch: int = EVAL_BATCH) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over ``(x, y)`` (eval mode, restored after)."""
    was_training = model.training
    model.eval()
    try:
        loss = 0.0
        correct = 0
        for start in range(0, len(y), batch):
            out = model(x[start:start + batch])
            yb = y[start:start + batch]
            loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += int((out.argmax(1) == yb).sum())
    finally:
        model.train(was_training)
    return loss / len(y), correct / len(y)


class Optimizer:
    """SGD with momentum, or Adam, with the update rules of ``torch.optim.SGD`` and ``torch.optim.Adam``
    (no weight decay, dampening, Nesterov or AMSGrad).

    SGD (Sutskever et al. 2013 form, as torch): b ← μ·b + g (b₀ = 0), θ ← θ − η·b.
    Adam (Kingma & Ba 2015): m ← m + (1−β₁)(g − m), v ← β₂·v + (1−β₂)·g²,
    θ ← θ − η/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε), with β₁ = ``momentum``, β₂ = 0.999, ε = 1e-8.

    ``lr`` and ``momentum`` are floats, or tensors of shape (M,) for stacked parameters whose
    first axis indexes M independent models (each model gets its own rate). Written out here
    rather than taken from ``torch.optim`` so that the single and the stacked trainer share one
    rule (and because constructing a ``torch.optim`` optimizer imports ``torch._dynamo``, seconds
    of start-up).
    """

    def __init__(self, params: list[Tensor], kind: str, lr: float | Tensor, momentum: float | Tensor):
        self.params = list(params)
        self.kind = check_choice("optimizer", kind, OPTIMIZERS)
        self.stacked = isinstance(lr, Tensor)
        self.lr = lr.clone() if self.stacked else float(lr)
        self.momentum = momentum.clone() if self.stacked else float(momentum)
        self.t = 0
        self.buf = [torch.zeros_like(p) for p in self.params]
        self.sq = [torch.zeros_like(p) for p in self.params] if self.kind == "adam" else []

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def freeze(self, index: int) -> None:
        """Stacked only: stop updating model ``index`` (learning rate 0, state cleared)."""
        self.lr[index] = 0.0
        for state in (*self.buf, *self.sq):
            state[index].zero_()

    @staticmethod
    def _per_model(v: Tensor, p: Tensor) -> Tensor:
        return v.view(-1, *([1] * (p.dim() - 1))).to(p.dtype)

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [p.grad for p in params]
        buf = [self.buf[i] for i in live]
        if self.stacked:
            self._step_stacked(params, grads, buf, [self.sq[i] for i in live] if self.sq else [])
            return
        # one fused call per operation over all parameters (torch._foreach_*, as torch.optim's
        # multi-tensor path); elementwise the same arithmetic as the single-tensor updates
        lr, mu, t = self.lr, self.momentum, self.t
        if self.kind == "sgd":
            if mu == 0:
                torch._foreach_add_(params, grads, alpha=-lr)
                return
            torch._foreach_mul_(buf, mu)
            torch._foreach_add_(buf, grads)
            torch._foreach_add_(params, buf, alpha=-lr)
            return
        sq = [self.sq[i] for i in live]
        torch._foreach_lerp_(buf, grads, 1 - mu)
        torch._foreach_mul_(sq, ADAM_BETA2)
        torch._foreach_addcmul_(sq, grads, grads, value=1 - ADAM_BETA2)
        denom = torch._foreach_sqrt(sq)
        torch._foreach_div_(denom, (1 - ADAM_BETA2 ** t) ** 0.5)
        torch._foreach_add_(denom, ADAM_EPS)
        torch._foreach_addcdiv_(params, buf, denom, value=-(lr / (1 - mu ** t)))

    def _step_stacked(self, params, grads, buf, sq) -> None:
        # per-model factors are formed in float64 (M,) and only then meet the float32 tensors,
        # as torch.optim does with its Python-float hyper-parameters
        t = self.t
        lr, mu = self.lr, self.momentum
        adam_step = lr / (1 - mu ** t)
        for k, (p, g) in enumerate(zip(params, grads)):
            if self.kind == "sgd":
                buf[k].mul_(self._per_model(mu, p)).add_(g)
                p.addcmul_(buf[k], self._per_model(lr, p), value=-1)
            else:
                buf[k].lerp_(g, self._per_model(1 - mu, p))
                sq[k].mul_(ADAM_BETA2).addcmul_(g, g, value=1 - ADAM_BETA2)
                denom = (sq[k].sqrt() / (1 - ADAM_BETA2 ** t) ** 0.5).add_(ADAM_EPS)
                p.sub_(self._per_model(adam_step, p) * buf[k] / denom)


class _GradRecorder:
    """Captures ∂L/∂h for each weight layer's output h during one forward/backward pass."""

    def __init__(self, layers: list[tuple[str, nn.Module]]):
        self.layers = layers
        self.grads: dict[int, Tensor] = {}
        self.handles = [m.register_forward_hook(self._hook(i)) for i, (_, m) in enumerate(layers)]

    def _hook(self, index: int):
        def forward_hook(module, inputs, output):
            if output.requires_grad:
                output.register_hook(lambda g: self.grads.__setitem__(index, g.detach()))
        return forward_hook

    def rows(self, step: int) -> list[dict]:
        out = []
        for i, (name, m) in enumerate(self.layers):
            g = self.grads.get(i)
            out.append({"step": step, "layer": i, "layer_name": name,
                        "grad_std": float(g.std()) if g is not None else math.nan,
                        "weight_grad_norm": float(m.weight.grad.norm()) if m.weight.grad is not None else math.nan})
        return out

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def train(config: TrainConfig, data: Dataset | None = None, model: nn.Module | None = None, *,
          on_epoch: Callable[[int, nn.Module], None] | None = None) -> TrainResult:
    """Train ``model`` (default: built from ``config``) on ``data`` (default: ``load(config.dataset)``).

    ``on_epoch(epoch, model)`` is called after each epoch's evaluation, epoch 0 (the untrained
    model) included — to measure the model as it trains (its grad mode and train/eval mode are
    the trainer's; it must not change the weights).

    >>> r = train(TrainConfig(depth=2, width=32, epochs=1))
    >>> [row["epoch"] for row in r.history]
    [0, 1]
    """
    if not isinstance(config, TrainConfig):
        raise InitlabError(f"config: got {type(config).__name__}; allowed: a TrainConfig")
    config.validate()
    start_time = time.perf_counter()
    data = load(config.dataset) if data is None else data
    x_tr, y_tr, x_te, y_te = as_float_data(data)
    if model is None:
        model = build_model(config.model_spec(), data.input_shape, data.num_classes, seed=config.seed)
    model.train()
    opt = Optimizer(list(model.parameters()), config.optimizer, config.lr, config.momentum)
    layers = weight_layers(model)
    record_steps = set(config.grad_std_steps)

    def row(epoch: int, diverged: bool) -> dict:
        return history_row(epoch, *evaluate(model, x_tr, y_tr), *evaluate(model, x_te, y_te), diverged)

    history = [row(0, False)]
    diverged = history[0]["diverged"]
    if on_epoch is not None:
        on_epoch(0, model)
    grad_rows: list[dict] = []
    step = 0
    orders = epoch_orders(config.seed, len(y_tr), config.epochs)
    for epoch in range(1, config.epochs + 1):
        if diverged:
            break
        order = next(orders)
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            recorder = _GradRecorder(layers) if step in record_steps else None
            try:
                loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
                if not torch.isfinite(loss):
                    diverged = True
                    break
                opt.zero_grad()
                loss.backward()
                if recorder is not None:
                    grad_rows += recorder.rows(step)
            finally:
                if recorder is not None:
                    recorder.remove()
            opt.step()
            step += 1
        history.append(row(epoch, diverged))
        diverged = history[-1]["diverged"]
        if on_epoch is not None:
            on_epoch(epoch, model)
    opt.zero_grad()
    return TrainResult(config=config, history=history, grad_std=grad_rows, model=model, diverged=diverged,
                       steps=step, time_s=time.perf_counter() - start_time)
