"""A training session you can step and look inside: the numbers behind ``initlab serve``.

:class:`LiveConfig` describes one run — data, network, initialization, optimizer, seed — and
checks every field. :class:`LiveSession` builds it (data from :func:`~initlab.experiments.datasets.load`,
the MLP of :func:`~initlab.experiments.models.mlp`, weights from :func:`initlab.initialize`, the
trainer's :class:`~initlab.experiments.trainer.Optimizer`) and trains it step by step; at any
moment :meth:`LiveSession.summary` measures what the initialization is doing, layer by layer:

* from :func:`initlab.probe` on a fixed batch of training examples: each layer's activation std
  and back-propagated gradient std, the mean-field prediction of both (:mod:`initlab.theory`),
  distinct units, dead and saturated fractions, the training loss and accuracy on that batch;
* histograms of each layer's activations, gradients ∂L/∂h and weights, recorded in the same pass;
* the findings of :func:`initlab.diagnose`, each with the configuration change that applies its fix;
* the test loss and accuracy, and the confusion matrix (10-class sets) or, for the 2-D sets, the
  decision boundary over the plane and every shown neuron's output as a small heatmap (as the
  TensorFlow Playground draws them);
* the point (σ_w², σ_b²) the weights sit at on the mean-field phase diagram.

Everything is a summary — scalars, bin counts, small quantized grids — never a raw tensor.

Reproducibility: the data set is generated or split with seed 0 for every run (as
:func:`~initlab.experiments.trainer.train` does), so runs that differ only in ``seed`` or in the
initialization see the same data; ``seed`` fixes the weights and the order of the minibatches
(``torch.randperm`` from a generator seeded with ``seed``, one per epoch, as the trainer). The
same config gives the same weights and the same losses, so "reset" redraws exactly what it drew.
:meth:`LiveConfig.to_script` writes the plain PyTorch + initlab script that trains the same run.

>>> s = LiveSession({"dataset": "xor", "depth": 2, "width": 4, "scheme": "zeros"})
>>> frame = s.step(3)
>>> frame["step"], [layer["distinct_units"] for layer in frame["layers"] if layer["hidden"]]
(3, [1, 1])
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._threads import torch_threads
from ..errors import InitlabError, check_bool, check_choice, check_int, check_number, check_type, fail, suggest
from .datasets import PLAYGROUND, load
from .models import ACTIVATIONS as _MODEL_ACTIVATIONS
from .trainer import OPTIMIZERS, Optimizer

__all__ = ["LiveConfig", "LiveSession", "LIMITS", "LIVE_DATASETS", "LIVE_ACTIVATIONS", "SPECIAL_SCHEMES",
           "live_data", "phase_diagram_for", "claims", "scheme_catalogue"]

LIVE_DATASETS = (*PLAYGROUND, "digits", "mnist1d")
"""The data sets a live session trains on: the 2-D sets, then digits and MNIST-1D (all offline)."""

LIVE_ACTIVATIONS = tuple(a for a in _MODEL_ACTIVATIONS if a != "identity")  # "identity" = "linear"
"""Every activation the model builders know, ``linear`` meaning none."""

SPECIAL_SCHEMES = ("auto", "lsuv")
"""Besides every registry scheme: ``auto`` (initialize's per-activation choice) and ``lsuv``
(orthogonal, then Mishkin & Matas 2015's unit-variance rescaling on the probe batch)."""

LIVE_RECIPES = ("fixup", "skipinit", "rezero", "scaled_residual", "gpt2", "olmo", "neox")
"""The model-level recipes (:mod:`initlab.model.recipes`) a residual run takes (``residual=true``)."""

RESIDUAL_BRANCH = 2
"""Layers per residual branch of the playground's residual MLP (W₂·φ(W₁·x))."""

LIMITS = {"depth": (1, 64), "width": (2, 512), "batch_size": (1, 1024), "seed": (0, 2 ** 31 - 1),
          "lr": (1e-6, 10.0), "momentum": (0.0, 0.999), "noise": (0.0, 2.0), "train_ratio": (0.1, 0.9)}
"""Bounds on the numeric fields of :class:`LiveConfig` (inclusive)."""

PLANE_POINTS = 1000
"""Points generated for a 2-D set, split into train and test by ``train_ratio``."""

PROBE_BATCH = 256
"""Training examples the per-layer statistics are measured on (the first ones, always the same)."""

TEST_LIMIT = 1000
"""At most this many test examples are evaluated per summary."""


def _fields() -> list[str]:
    return [f.name for f in dataclasses.fields(LiveConfig)]


@dataclass
class LiveConfig:
    """One run of the playground; :meth:`from_dict` checks every field (see :data:`LIMITS`).

    ``scheme``/``scheme_params``: any registry scheme (``initlab list``) with its parameters, or
    ``auto``/``lsuv``, or — with ``residual`` — a recipe for residual networks (:data:`LIVE_RECIPES`:
    Fixup, SkipInit, ReZero, GPT-2's scaled residual …). ``residual``: the network is a residual MLP,
    ``depth`` blocks ``x + W₂·φ(W₁·x)`` between a stem and the head (no normalization), instead of a
    plain MLP. ``bias``/``bias_params``: the scheme for every bias (``zeros``,
    ``constant``, ``random_normal``, ``torch_default`` …). ``noise`` (None = the set's default) and
    ``train_ratio`` apply to the 2-D sets only. ``momentum`` is SGD's momentum, or Adam's β₁.
    """

    dataset: str = "spiral"
    noise: float | None = None
    train_ratio: float = 0.5
    depth: int = 4
    width: int = 8
    activation: str = "tanh"
    scheme: str = "auto"
    scheme_params: dict = field(default_factory=dict)
    bias: str = "zeros"
    bias_params: dict = field(default_factory=dict)
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    batch_size: int = 32
    seed: int = 0
    residual: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, prefix: str = "") -> "LiveConfig":
        """The checked config of ``data`` (missing fields take their defaults). Errors name the field
        as ``<prefix><field>``: ``got …; allowed: …``."""
        check_type(prefix.rstrip(".") or "config", data, Mapping, "an object of config fields")
        names = _fields()
        for key in data:
            if key not in names:
                raise fail(f"{prefix}{key}", data[key], f"the fields {', '.join(names)}",
                           hint=suggest(str(key), names))
        c = cls(**{k: v for k, v in data.items()})
        return c.validate(prefix=prefix)

    def validate(self, *, prefix: str = "") -> "LiveConfig":
        """Check and normalize every field in place; return ``self``."""
        p = prefix
        self.dataset = check_choice(f"{p}dataset", self.dataset, LIVE_DATASETS)
        plane = self.dataset in PLAYGROUND
        if self.noise is not None:
            if not plane:
                raise fail(f"{p}noise", self.noise, f"null for {self.dataset!r} (noise is for the 2-D sets "
                           f"{', '.join(PLAYGROUND)})")
            self.noise = check_number(f"{p}noise", self.noise, minimum=LIMITS["noise"][0], maximum=LIMITS["noise"][1])
        self.train_ratio = check_number(f"{p}train_ratio", self.train_ratio, minimum=LIMITS["train_ratio"][0],
                                        maximum=LIMITS["train_ratio"][1])
        if not plane:
            self.train_ratio = 0.5  # the fixed split of digits and MNIST-1D; kept canonical
        for name in ("depth", "width", "batch_size", "seed"):
            lo, hi = LIMITS[name]
            setattr(self, name, check_int(f"{p}{name}", getattr(self, name), minimum=lo, maximum=hi))
        self.activation = check_choice(f"{p}activation", self.activation, LIVE_ACTIVATIONS)
        self.optimizer = check_choice(f"{p}optimizer", self.optimizer, OPTIMIZERS)
        for name in ("lr", "momentum"):
            lo, hi = LIMITS[name]
            setattr(self, name, check_number(f"{p}{name}", getattr(self, name), minimum=lo, maximum=hi))
        self.residual = check_bool(f"{p}residual", self.residual)
        self.scheme, self.scheme_params = _check_scheme(f"{p}scheme", self.scheme, self.scheme_params,
                                                        special=SPECIAL_SCHEMES, residual=self.residual)
        self.bias, self.bias_params = _check_scheme(f"{p}bias", self.bias, self.bias_params, special=())
        return self

    def to_dict(self) -> dict:
        """A JSON-ready dict (what :meth:`from_dict` reads)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "LiveConfig":
        """A checked copy with ``changes`` applied."""
        return LiveConfig.from_dict({**self.to_dict(), **changes})

    def with_phase_point(self, sigma_w2: float, sigma_b2: float) -> "LiveConfig":
        """This config with weights N(0, σ_w²/fan_in) and biases N(0, σ_b²): the point (σ_w², σ_b²)
        of the mean-field phase diagram (Poole et al. 2016), as ``variance_scaling(scale=σ_w²,
        mode="fan_in", distribution="normal")`` and ``random_normal(std=σ_b)`` (``zeros`` at σ_b² = 0)."""
        w2 = check_number("sigma_w2", sigma_w2, minimum=0.0, maximum=1e4, open_min=True)
        b2 = check_number("sigma_b2", sigma_b2, minimum=0.0, maximum=1e2)
        bias = {"bias": "zeros", "bias_params": {}} if b2 == 0 else {
            "bias": "random_normal", "bias_params": {"mean": 0.0, "std": math.sqrt(b2)}}
        return self.replace(scheme="variance_scaling",
                            scheme_params={"scale": w2, "mode": "fan_in", "distribution": "normal"}, **bias)

    # ---------------------------------------------------------------------------- data and model
    @property
    def plane(self) -> bool:
        """Whether the data are one of the 2-D sets."""
        return self.dataset in PLAYGROUND

    def data_args(self) -> dict:
        """The keyword arguments of :func:`~initlab.experiments.datasets.load` for this run's data."""
        if not self.plane:
            return {}
        n_train = int(round(self.train_ratio * PLANE_POINTS))
        args: dict[str, Any] = {"n_train": n_train, "n_test": PLANE_POINTS - n_train}
        if self.noise is not None:
            args["noise"] = self.noise
        return args

    def init_args(self) -> tuple[Any, Any]:
        """``(scheme, bias)`` as :func:`initlab.initialize` takes them (``lsuv`` starts from orthogonal)."""
        scheme: Any = "orthogonal" if self.scheme == "lsuv" else self.scheme
        if self.scheme_params:
            scheme = {"name": scheme, "params": dict(self.scheme_params)}
        bias: Any = {"name": self.bias, "params": dict(self.bias_params)} if self.bias_params else self.bias
        return scheme, bias

    def to_script(self, epochs: int = 10) -> str:
        """A standalone PyTorch + initlab script that trains this run and prints its first-step loss,
        then the test accuracy after each epoch (see the module docstring for what fixes what)."""
        return _script(self, check_int("epochs", epochs, minimum=1, maximum=10_000))


def _check_scheme(arg: str, name, params, *, special: tuple[str, ...], residual: bool = False) -> tuple[str, dict]:
    import initlab

    check_type(f"{arg}_params", params, Mapping, "an object of the scheme's parameters")
    params = dict(params)
    if not isinstance(name, str):
        raise fail(arg, name, "a scheme name from `initlab list`" + (" or " + ", ".join(special) if special else ""))
    if special and name.lower() in LIVE_RECIPES:
        if not residual:
            raise fail(arg, name, f"a recipe for residual networks only with residual=true (the plain MLP has no "
                       f"branches); allowed without it: a scheme name from `initlab list` or {', '.join(special)}")
        from ..model.recipes import recipe

        try:
            spec = recipe(name.lower(), **params)
        except InitlabError as exc:
            raise InitlabError(f"{arg}_params: {exc}") from None
        return spec.name, {k: v for k, v in params.items()}
    if name.lower() in special:
        if params:
            raise fail(f"{arg}_params", params, f"{{}} with {name.lower()!r} (it takes no parameters)")
        return name.lower(), {}
    try:
        init = initlab.get({"name": name, "params": params})
    except InitlabError as exc:
        text = str(exc)
        if text.startswith("scheme:") and "unknown name" in text:
            names = [r["name"] for r in initlab.list_schemes()] + list(special)
            raise fail(arg, name, "a scheme name from `initlab list`" + (" or " + ", ".join(special) if special else ""),
                       hint=suggest(name, names)) from None
        raise InitlabError(f"{arg}_params: {text}") from None
    return init.name, params


@functools.lru_cache(maxsize=16)
def _load(dataset: str, items: tuple) -> Any:
    return load(dataset, **dict(items))


def live_data(config: LiveConfig):
    """The run's :class:`~initlab.experiments.datasets.Dataset` (seed 0), cached: runs that share the
    data share the tensors, which nothing writes."""
    return _load(config.dataset, tuple(sorted(config.data_args().items())))


def build_model(config: LiveConfig, data, probe_x: torch.Tensor | None = None) -> nn.Module:
    """The run's MLP (``nn.Flatten`` → depth × (Linear → activation) → Linear), every parameter set by
    :func:`initlab.initialize` from ``config.seed``. The modules are built on the ``meta`` device (a
    per-thread context: nothing global is touched, no time spent on PyTorch's own init) and given
    memory before ``initialize`` fills every weight and bias, so the values equal those of the model
    built normally and then initialized. ``lsuv`` then rescales on ``probe_x`` (:func:`initlab.lsuv`,
    same seed)."""
    import initlab

    from .models import mlp

    scheme, bias = config.init_args()
    with torch.device("meta"):
        if config.residual:
            from .depth import residual_mlp

            model = residual_mlp(data.input_shape, data.num_classes, config.depth, config.width,
                                 branch_layers=RESIDUAL_BRANCH, activation=config.activation)
        else:
            model = mlp(data.input_shape, data.num_classes, config.depth, config.width, config.activation)
    model = model.to_empty(device="cpu")
    initlab.initialize(model, scheme, bias=bias, seed=config.seed)
    if config.scheme == "lsuv":
        initlab.lsuv(model, probe_x if probe_x is not None else data.x_train[:PROBE_BATCH], seed=config.seed)
    return model


# -------------------------------------------------------------------------------------------- theory


def phase_diagram_for(activation: str, n_w: int = 48, n_b: int = 32) -> dict:
    """The mean-field phase diagram of ``activation`` (:func:`initlab.theory.phase_diagram`) on a grid
    that shows its edge of chaos: σ_w² from 0 to max(4, 2.5·σ_w²*) where σ_w²* is the critical value at
    σ_b = 0, σ_b² from 0 to 0.5. ``log10_chi1[i][j]`` is at (σ_w²[j], σ_b²[i]); cached per activation."""
    return _phase(check_choice("activation", activation, LIVE_ACTIVATIONS), n_w, n_b)


@functools.lru_cache(maxsize=32)
def _phase(activation: str, n_w: int, n_b: int) -> dict:
    from .. import theory

    name = "linear" if activation == "identity" else activation
    try:
        crit = theory.critical_sigma_w(name) ** 2
    except InitlabError:
        crit = 2.0
    top = max(4.0, 2.5 * crit)
    top = float(np.ceil(top / 10 ** np.floor(np.log10(top))) * 10 ** np.floor(np.log10(top)))
    w2 = np.linspace(top / n_w, top, n_w)
    b2 = np.linspace(0.0, 0.5, n_b)
    d = theory.phase_diagram(name, w2, b2)
    with np.errstate(divide="ignore"):
        chi = np.log10(np.maximum(d["chi1"], 1e-12))
    return {"activation": activation, "sigma_w2": _floats(w2), "sigma_b2": _floats(b2),
            "log10_chi1": [_floats(row, 4) for row in chi], "critical_sigma_w2": _floats(d["critical_sigma_w2"])}


def phase_point(model: nn.Module) -> dict:
    r"""Where the network's hidden layers sit on the phase diagram: the means over hidden Linear
    layers of σ_w² = fan_in·mean(W²) and σ_b² = mean(b²) (the scales :func:`initlab.theory.predict_model`
    reads; the head is left out)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    if not linears:
        return {"sigma_w2": None, "sigma_b2": None}
    with torch.no_grad():
        w2 = [m.in_features * float(m.weight.double().square().mean()) for m in linears]
        b2 = [float(m.bias.double().square().mean()) if m.bias is not None else 0.0 for m in linears]
    return {"sigma_w2": _num(sum(w2) / len(w2)), "sigma_b2": _num(sum(b2) / len(b2))}


# -------------------------------------------------------------------------------------------- claims

_CLAIM_BASE = {"dataset": "digits", "optimizer": "sgd", "momentum": 0.9, "bias": "zeros", "seed": 0}
_BUDGET_KEYS = ("depth", "width", "activation", "lr", "momentum", "batch_size")
# what each claim compares, side by side; the sizes and rates come from the preset's quick budget
_CLAIM_RUNS: dict[str, tuple[dict, Any]] = {
    "symmetry": ({"activation": "relu"},
                 lambda b: [{"scheme": "zeros"}, {"scheme": "constant", "scheme_params": {"value": b["constant"]}},
                            {"scheme": "he_normal"}]),
    "vanishing": ({}, lambda b: [{"activation": a} for a in ("tanh", "sigmoid", "relu")]),
    "exploding": ({}, lambda b: [{"activation": a} for a in ("relu", "tanh", "sigmoid")]),
    "xavier-vs-he": ({"activation": "relu"}, lambda b: [{"scheme": "he_normal"}, {"scheme": "lecun_normal"}]),
    "glorot2010": ({"activation": "tanh"}, lambda b: [{"scheme": "glorot_uniform"}, {"scheme": "torch_default"}]),
    "activation-guide": ({}, lambda b: [{"activation": "relu", "scheme": "he_normal"},
                                        {"activation": "tanh", "scheme": "glorot_normal"},
                                        {"activation": "selu", "scheme": "lecun_normal"}]),
    # deep linear nets trained full-batch; one depth of the claim's range (its budget lists several)
    "orthogonal-depth": ({"depth": 16, "activation": "linear", "lr": 0.1, "momentum": 0.0, "batch_size": 256},
                         lambda b: [{"scheme": "orthogonal"}, {"scheme": "lecun_normal"}]),
}


def claims() -> list[dict]:
    """One entry per claim of ``initlab demo`` (the keys of
    :data:`~initlab.experiments.presets.PRESETS`, in order): ``name``, ``claim`` (its statement) and
    ``runs``, the checked configs (dicts) that show it side by side, on digits. Sizes and rates come
    from the preset's quick budget (depth, width, activation, lr, momentum, batch size; ``std`` as
    ``random_normal``); what the runs compare is set here per claim, and a claim not listed here
    is shown as one run of its budget's settings."""
    from .presets import PRESETS

    out = []
    for name, preset in PRESETS.items():
        budget = preset.budgets.get("quick") or next(iter(preset.budgets.values()), {})
        shared = {k: budget[k] for k in _BUDGET_KEYS if k in budget}
        if "std" in budget:
            shared.update(scheme="random_normal", scheme_params={"std": budget["std"]})
        extra, variants = _CLAIM_RUNS.get(name, ({}, lambda b: [{}]))
        runs = [LiveConfig.from_dict({**_CLAIM_BASE, **shared, **extra, **v}).to_dict() for v in variants(budget)]
        out.append({"name": name, "claim": preset.claim, "runs": runs})
    return out


def scheme_catalogue() -> list[dict]:
    """The schemes a live session accepts: every registry scheme (name, parameters with defaults,
    formula, source) and the special ``auto`` and ``lsuv``."""
    import initlab

    rows = [{"name": "auto", "params": {}, "formula": "per activation: He before ReLU-like, Glorot before "
                                                       "tanh/sigmoid/none, LeCun before SELU", "source": "initlab"},
            {"name": "lsuv", "params": {}, "formula": "orthogonal, then each layer rescaled to unit output "
                                                       "variance on the probe batch",
             "source": "Mishkin & Matas 2015"}]
    for r in initlab.list_schemes():
        rows.append({"name": r["name"], "params": {k: v for k, v in r["params"].items()},
                     "formula": r["formula"], "source": r["source"]})
    from ..model.recipes import RECIPES

    for name in LIVE_RECIPES:  # offered with residual=true
        r = RECIPES[name]
        rows.append({"name": name, "params": {k: v for k, v in r.params.items() if k != "base"},
                     "formula": r.formula, "source": r.source, "residual": True})
    return rows


# -------------------------------------------------------------------------------------------- session


class LiveSession:
    """One run, trained step by step, with :meth:`summary` measuring it (see the module docstring).

    ``probe_batch``: training examples measured per summary; ``bins``: histogram bins;
    ``neuron_layers``/``neuron_units``: the most layers and units per layer drawn as heatmaps
    (2-D sets; layers evenly spread over the depth); ``neuron_grid``: their resolution.
    ``threads``: torch's intra-op threads while it builds, trains and measures (restored after
    each call), 1 by default as the presets run — these networks are small, and one thread is
    faster on a busy machine; None leaves the caller's setting. The session is not thread-safe:
    one thread drives it.
    """

    def __init__(self, config: LiveConfig | Mapping[str, Any], *, probe_batch: int = PROBE_BATCH, bins: int = 30,
                 neuron_layers: int = 8, neuron_units: int = 8, neuron_grid: int = 16, threads: int | None = 1):
        self.threads = None if threads is None else check_int("threads", threads, minimum=1, maximum=1024)
        with torch_threads(self.threads):
            self._setup(config, probe_batch, bins, neuron_layers, neuron_units, neuron_grid)

    def _setup(self, config, probe_batch, bins, neuron_layers, neuron_units, neuron_grid) -> None:
        self.config = config.replace() if isinstance(config, LiveConfig) else LiveConfig.from_dict(config)
        self.probe_batch = check_int("probe_batch", probe_batch, minimum=2)
        self.bins = check_int("bins", bins, minimum=2, maximum=256)
        self.neuron_layers = check_int("neuron_layers", neuron_layers, minimum=1, maximum=64)
        self.neuron_units = check_int("neuron_units", neuron_units, minimum=1, maximum=64)
        self.neuron_grid = check_int("neuron_grid", neuron_grid, minimum=4, maximum=64)
        c = self.config
        self.data = live_data(c)
        d = self.data
        self.x_train, self.y_train = d.x_train.float(), d.y_train.long()
        self.x_test, self.y_test = d.x_test.float()[:TEST_LIMIT], d.y_test.long()[:TEST_LIMIT]
        self.x_probe, self.y_probe = self.x_train[:self.probe_batch], self.y_train[:self.probe_batch]
        self.model = build_model(c, d, self.x_probe)
        self.model.train()
        self.linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        self._names = _layer_labels(self.model)
        self._planned = _planned_schemes(self.model, c)
        self.optimizer = Optimizer(list(self.model.parameters()), c.optimizer, c.lr, c.momentum)
        self.steps = 0
        self.epochs = 0
        self.diverged = False
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self._order_gen = torch.Generator().manual_seed(c.seed)
        self._order: torch.Tensor | None = None
        self._pos = 0
        self._grid_cache: dict[int, torch.Tensor] = {}

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # ------------------------------------------------------------------------------- training
    def train(self, n: int = 1) -> int:
        """Take up to ``n`` optimisation steps (one minibatch each: cross-entropy, backward, update);
        return how many were taken (fewer once the loss is non-finite: then ``diverged`` is set and
        the weights that produced it are kept, as the trainer does)."""
        n = check_int("n", n, minimum=0)
        with torch_threads(self.threads):
            return self._train(n)

    def _train(self, n: int) -> int:
        model, opt, bs = self.model, self.optimizer, self.config.batch_size
        x, y, count = self.x_train, self.y_train, len(self.y_train)
        done = 0
        while done < n and not self.diverged:
            if self._order is None or self._pos >= count:
                self._order = torch.randperm(count, generator=self._order_gen)
                self._pos = 0
            idx = self._order[self._pos:self._pos + bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            value = float(loss.detach())
            if not math.isfinite(value):
                self.diverged = True
                break
            if self.steps == 0:
                self.first_loss = value
            self.last_loss = value
            opt.zero_grad()
            loss.backward()
            opt.step()
            self._pos += bs
            self.steps += 1
            done += 1
            if self._pos >= count:
                self.epochs += 1
        return done

    def step(self, n: int = 1) -> dict:
        """:meth:`train` ``n`` steps, then :meth:`summary`."""
        self.train(n)
        return self.summary()

    # ------------------------------------------------------------------------------- static facts
    def info(self) -> dict:
        """What does not change while the run trains: the config, the data (for the 2-D sets, every
        point with its label, coordinates rounded to 3 decimals), the layers, the phase diagram of the
        activation, the chance level."""
        c, d = self.config, self.data
        counts = torch.bincount(self.y_test, minlength=d.num_classes).double()
        out = {"config": c.to_dict(), "parameters": self.parameters,
               "layers": _layer_names(self.model, self.linears),
               "data": {"name": d.name, "plane": c.plane, "num_classes": d.num_classes,
                        "input_shape": list(d.input_shape), "n_train": len(self.y_train), "n_test": len(d.y_test),
                        "chance": float(counts.max() / counts.sum())},
               "phase": phase_diagram_for(c.activation)}
        if c.plane:
            def pts(x, y):
                return [[round(float(a), 3), round(float(b), 3), int(lab)] for (a, b), lab in zip(x.tolist(), y.tolist())]
            out["data"]["train"] = pts(self.x_train, self.y_train)
            out["data"]["test"] = pts(d.x_test, d.y_test)
            out["data"]["extent"] = self._extent()
        return out

    def _extent(self) -> float:
        d = self.data
        m = max(float(d.x_train.abs().max()), float(d.x_test.abs().max()))
        return round(1.05 * m, 3)

    # ------------------------------------------------------------------------------- measurements
    def summary(self) -> dict:
        """Measure the network now (see the module docstring); a JSON-ready dict, non-finite numbers
        as None."""
        with torch_threads(self.threads):
            return self._summary()

    def _summary(self) -> dict:
        import initlab

        t0 = time.perf_counter()
        model = self.model
        capture = _Capture(self.linears, model)
        try:
            records = initlab.probe(model, self.x_probe, self.y_probe, theory=True)
        finally:
            capture.remove()
        layers = _layer_rows(records, len(self.linears), _layer_names(model, self.linears))
        logits = capture.logits
        train_acc = float((logits.argmax(1) == self.y_probe).double().mean()) if logits is not None else math.nan
        findings = [_finding(f, self._names, self._planned) for f in initlab.diagnose(records)]
        stream = [{"block": int(r["call"]) + (0 if r["layer"] == "stream.in" else 1), "std": _num(r["std"]),
                   "pred_std": _num(math.sqrt(r["pred_out_var"]) if _finite(r["pred_out_var"]) and
                                    r["pred_out_var"] >= 0 else math.nan)}
                  for r in records.where("stream")]
        out = {
            "stream": stream,
            "step": self.steps, "epoch": self.epochs,
            "epoch_progress": (self._pos / len(self.y_train)) if self._order is not None else 0.0,
            "diverged": self.diverged, "first_loss": _num(self.first_loss), "last_loss": _num(self.last_loss),
            "train": {"loss": _num(records.loss), "acc": _num(train_acc), "examples": len(self.y_probe)},
            "layers": layers,
            "hist": [{k: _hist(t, self.bins) for k, t in (("act", a), ("grad", g), ("weight", w))}
                     for a, g, w in capture.tensors()],
            "findings": findings,
            "phase_point": phase_point(model),
        }
        out.update(self._outputs())
        out["ms"] = round(1e3 * (time.perf_counter() - t0), 2)
        return out

    @torch.no_grad()
    def _outputs(self) -> dict:
        model = self.model
        model.eval()
        try:
            logits = model(self.x_test)
            loss = F.cross_entropy(logits, self.y_test).item()
            pred = logits.argmax(1)
            out: dict[str, Any] = {"test": {"loss": _num(loss), "acc": _num(float((pred == self.y_test).double().mean())),
                                            "examples": len(self.y_test)}}
            k = self.data.num_classes
            if self.config.plane:
                out["boundary"] = self._boundary()
                out["neurons"] = self._neurons()
            else:
                conf = torch.bincount(self.y_test * k + pred, minlength=k * k).view(k, k)
                out["confusion"] = conf.tolist()
        finally:
            model.train()
        return out

    def _grid(self, n: int) -> torch.Tensor:
        """``n × n`` points covering the data's square [−e, e]², row-major from the top-left corner."""
        if n not in self._grid_cache:
            e = self._extent()
            xs = torch.linspace(-e, e, n)
            ys = torch.linspace(e, -e, n)
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            self._grid_cache[n] = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
        return self._grid_cache[n]

    def boundary_size(self) -> int:
        """The decision-boundary grid's side: 48 for small nets, down to 8 for the largest (the grid's
        forward pass is kept near 2·10⁸ multiply-adds)."""
        return int(min(48, max(8, math.sqrt(2e8 / max(1, self.parameters)))))

    def _boundary(self) -> dict:
        n = self.boundary_size()
        prob = torch.softmax(self.model(self._grid(n)).double(), dim=1)[:, 1]
        prob = torch.nan_to_num(prob, nan=0.5)
        return {"size": n, "extent": self._extent(), "p1": _b64((prob * 255).round().clamp(0, 255).to(torch.uint8))}

    def _neurons(self) -> dict:
        """Each shown neuron's activation output on the neuron grid, scaled per layer by its largest
        magnitude into int8 (−127…127)."""
        c = self.config
        n = self.neuron_grid
        outs = _layer_outputs(self.model, self.linears, self._grid(n))
        shown = _spread(len(outs), self.neuron_layers)
        units = min(c.width, self.neuron_units)
        tiles, scales = [], []
        for i in shown:
            v = outs[i][:, :units].double()
            v = torch.nan_to_num(v, nan=0.0, posinf=1e300, neginf=-1e300)
            s = float(v.abs().max()) if v.numel() else 0.0
            scales.append(_num(s))
            q = (v / s * 127).round().clamp(-127, 127) if s > 0 else torch.zeros_like(v)
            tiles.append(q.t().contiguous().to(torch.int8))  # (units, n*n)
        data = torch.stack(tiles) if tiles else torch.zeros(0, dtype=torch.int8)
        return {"layers": [i + 1 for i in shown], "units": units, "size": n, "scales": scales,
                "values": _b64(data)}


# -------------------------------------------------------------------------------------------- pieces


class _Capture:
    """Records, during the probe's forward and backward pass, each weight layer's output gradient
    ∂L/∂h, the activation output that follows it (the layer's own output when none does, the head's
    logits) and the head's logits."""

    def __init__(self, linears: list[nn.Module], model: nn.Module):
        self.linears = linears
        self.acts: list[torch.Tensor | None] = [None] * len(linears)
        self.grads: list[torch.Tensor | None] = [None] * len(linears)
        self.logits: torch.Tensor | None = None
        follow = _following(model, linears)
        self.handles = []
        for i, lin in enumerate(linears):
            self.handles.append(lin.register_forward_hook(self._linear_hook(i, follow[i] is None)))
            if follow[i] is not None:
                self.handles.append(follow[i].register_forward_hook(self._act_hook(i)))

    def _linear_hook(self, i: int, own_output: bool):
        def hook(module, inputs, out):
            if own_output:
                self.acts[i] = out.detach()
            if i == len(self.linears) - 1:
                self.logits = out.detach()
            if out.requires_grad:
                out.register_hook(lambda g: self.grads.__setitem__(i, g.detach()))
        hook.observes_only = True  # the mean-field prediction may pass over it (initlab.theory.residual)
        return hook

    def _act_hook(self, i: int):
        def hook(module, inputs, out):
            self.acts[i] = out.detach()
        hook.observes_only = True
        return hook

    def tensors(self):
        for i, lin in enumerate(self.linears):
            yield self.acts[i], self.grads[i], lin.weight.detach()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _layer_names(model: nn.Module, linears: list[nn.Module]) -> list[str]:
    """The name shown for each Linear layer, in order: ``layer k`` … ``output``; in a residual MLP ``stem``,
    ``block k·1``, ``block k·2`` … ``output``."""
    labels = _layer_labels(model)
    names = {m: n for n, m in model.named_modules()}
    return [labels.get(names[lin], names[lin]) for lin in linears]


def _layer_labels(model: nn.Module) -> dict[str, str]:
    """Module name → ``layer k`` (the k-th Linear and the activation after it) or ``output`` (the head); in a
    residual MLP ``stem``, ``block k·j`` (the j-th layer of block k's branch) and ``output``."""
    from .depth import ResidualMLP

    if isinstance(model, ResidualMLP):
        out = {"stem": "stem", "act": "stem", "head": "output"}
        for k, block in enumerate(model.blocks):
            for j in range(len(block.layers)):
                out[f"blocks.{k}.layers.{j}"] = f"block {k + 1}·{j + 1}"
        return out
    labels: dict[str, str] = {}
    children = list(model.named_children())
    n_linear = sum(isinstance(m, nn.Linear) for _, m in children)
    k = 0
    current = None
    for name, m in children:
        if isinstance(m, nn.Linear):
            k += 1
            current = "output" if k == n_linear else f"layer {k}"
        if current is not None:
            labels[name] = current
    return labels


def _following(model: nn.Module, linears: list[nn.Module]) -> list[nn.Module | None]:
    """For each Linear, the activation module right after it in the Sequential (None for Identity or none);
    in a residual MLP the stem's and each branch layer's activation (none after a branch's last layer)."""
    from .depth import ResidualMLP

    if isinstance(model, ResidualMLP):
        after = {id(model.stem): model.act}
        for block in model.blocks:
            for layer in list(block.layers)[:-1]:
                after[id(layer)] = block.act
        return [after.get(id(lin)) for lin in linears]
    mods = list(model.children())
    out = []
    for lin in linears:
        k = mods.index(lin)
        nxt = mods[k + 1] if k + 1 < len(mods) else None
        out.append(None if nxt is None or isinstance(nxt, (nn.Linear, nn.Identity)) else nxt)
    return out


def _layer_outputs(model: nn.Module, linears: list[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """Each hidden layer's activation output for input ``x`` (one forward pass with hooks)."""
    follow = _following(model, linears)[:-1]
    outs: list[torch.Tensor | None] = [None] * len(follow)
    handles = []
    for i, (lin, act) in enumerate(zip(linears, follow)):
        target = act if act is not None else lin
        handles.append(target.register_forward_hook(lambda m, a, o, i=i: outs.__setitem__(i, o.detach())))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return outs  # type: ignore[return-value]


def _layer_rows(records, n_linear: int, names: list[str] | None = None) -> list[dict]:
    """One row per weight layer: the probe's weight row paired with the activation row that follows
    it (the weight row itself when none does); gradient predictions anchored at the head's measured
    gradient std (the theory gives them relative to the last layer)."""
    pairs: list[list] = []
    for row in records.rows:
        if row["role"] == "weight":
            pairs.append([row, None])
        elif row["role"] == "activation" and pairs and pairs[-1][1] is None:
            pairs[-1][1] = row
    head = pairs[-1][0] if pairs else None
    ref_g = head["grad_std"] if head else math.nan
    ref_p = head["pred_grad_var"] if head else math.nan
    out = []
    for i, (w, act) in enumerate(pairs):
        o = act if act is not None else w
        pred_var = w["pred_out_var"] if act is not None else w["pred_preact_var"]
        pred_g = math.nan
        if _finite(ref_p) and ref_p > 0 and _finite(w["pred_grad_var"]) and _finite(ref_g):
            pred_g = math.sqrt(w["pred_grad_var"] / ref_p) * ref_g
        name = names[i] if names is not None and i < len(names) else ("output" if i == len(pairs) - 1 else f"layer {i + 1}")
        out.append({"name": name, "hidden": i < len(pairs) - 1,
                    "units": _int(w["units"]), "distinct_units": _int(w["distinct_units"]),
                    "act_std": _num(o["std"]), "pred_act_std": _num(math.sqrt(pred_var) if _finite(pred_var) and pred_var >= 0 else math.nan),
                    "grad_std": _num(w["grad_std"]), "pred_grad_std": _num(pred_g),
                    "frac_dead": _num(o["frac_dead"]), "frac_saturated": _num(o["frac_saturated"])})
    return out


def _planned_schemes(model: nn.Module, config: LiveConfig) -> dict[str, tuple[str, dict]]:
    """Weight layer (module name) → (scheme, parameters) the run was initialized with (from
    :func:`initlab.plan`, so ``auto`` shows its per-layer choice); every layer ``lsuv`` for LSUV."""
    import initlab

    scheme, bias = config.init_args()
    rows = [r for r in initlab.plan(model, scheme, bias=bias).rows if r.name.endswith(".weight")]
    if config.scheme == "lsuv":
        return {r.module: ("lsuv", {}) for r in rows}
    return {r.module: (r.scheme, r.initializer.params() if r.initializer is not None else {}) for r in rows}


def _finding(f, names: Mapping[str, str], planned: Mapping[str, tuple[str, dict]]) -> dict:
    """A finding as a dict, its layers called ``layer k``/``output`` instead of module names, with
    ``apply``: the config fields that apply its fix — the one scheme its fix names for the hidden
    layers, ``auto`` when it names several, ``lsuv`` for LSUV — or None when no initialization
    fixes it; ``in_place`` when the run already starts from what the fix names (the finding then
    comes from training, not from the initialization)."""
    import initlab

    d = f.to_dict()
    d["layers"] = list(dict.fromkeys(names.get(n, n) for n in f.layers))
    message = f.message
    for module, label in names.items():
        message = message.replace(repr(module), label)
    d["message"] = message
    apply, in_place = None, False
    fix = f.fix
    if isinstance(fix, str) and fix in LIVE_RECIPES:  # the residual finding's recipe
        apply = {"scheme": fix, "scheme_params": {}}
        in_place = all(s == fix for s, _ in planned.values())
    elif fix == "lsuv":
        apply = {"scheme": "lsuv", "scheme_params": {}}
        in_place = all(s == "lsuv" for s, _ in planned.values())
    elif isinstance(fix, dict) and fix:
        names_ = list(fix.values())
        hidden = names_[:-1] if len(names_) > 1 else names_
        apply = {"scheme": hidden[0] if len(set(hidden)) == 1 else "auto", "scheme_params": {}}
        in_place = all(planned.get(layer) == (scheme, initlab.get(scheme).params()) for layer, scheme in fix.items())
    d["apply"] = None if in_place else apply
    d["in_place"] = in_place
    return d


def _spread(depth: int, k: int) -> list[int]:
    """``min(depth, k)`` hidden-layer indices evenly spread from the first to the last."""
    if depth <= k:
        return list(range(depth))
    return sorted({round(i * (depth - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def _hist(t: torch.Tensor | None, bins: int) -> dict | None:
    """Bin counts of the finite values of ``t`` over [min, max] (a single bin spread ±½ around a
    constant), with the count of non-finite values."""
    if t is None:
        return None
    v = t.detach().reshape(-1).float()
    bad = 0
    if v.numel():
        lo, hi = (float(x) for x in torch.aminmax(v))
        if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN or ±inf somewhere: bin the finite rest
            finite = torch.isfinite(v)
            bad = int((~finite).sum())
            v = v[finite]
            if v.numel():
                lo, hi = (float(x) for x in torch.aminmax(v))
    if v.numel() == 0:
        return {"lo": None, "hi": None, "counts": [0] * bins, "nonfinite": bad}
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.histc(v, bins=bins, min=lo, max=hi)
    return {"lo": lo, "hi": hi, "counts": [int(c) for c in counts.tolist()], "nonfinite": bad}


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.contiguous().numpy().tobytes()).decode("ascii")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _num(v, digits: int = 6):
    """A JSON-safe number: None for None/NaN/±inf, else ``v`` rounded to ``digits`` significant digits."""
    if v is None or not _finite(float(v)):
        return None
    v = float(v)
    return float(f"{v:.{digits}g}")


def _int(v):
    return int(v) if _finite(v) else None


def _floats(a, digits: int = 6) -> list:
    return [_num(x, digits) for x in np.asarray(a, dtype=np.float64).tolist()]


# -------------------------------------------------------------------------------------------- the script

_ACT_MODULE = {"linear": "nn.Identity()"}


def _script(c: LiveConfig, epochs: int) -> str:
    act_cls = _MODEL_ACTIVATIONS[c.activation]
    act = _ACT_MODULE.get(c.activation, f"nn.{act_cls.__name__}()")
    scheme, bias = c.init_args()
    data_args = ", ".join(f"{k}={v!r}" for k, v in c.data_args().items())
    load_call = f"load({c.dataset!r}{', ' + data_args if data_args else ''})"
    if c.optimizer == "sgd":
        opt = f"torch.optim.SGD(model.parameters(), lr={c.lr!r}, momentum={c.momentum!r})"
    else:
        opt = f"torch.optim.Adam(model.parameters(), lr={c.lr!r}, betas=({c.momentum!r}, 0.999), eps=1e-8)"
    lsuv = (f"initlab.lsuv(model, x_train[:{PROBE_BATCH}], seed={c.seed})  # LSUV: unit output variance per layer\n"
            if c.scheme == "lsuv" else "")
    return f'''"""initlab playground run: {c.dataset}, {c.depth} x {c.width} {c.activation} {"residual " if c.residual else ""}MLP, init {_label(c)},
{c.optimizer} lr={c.lr:g}, batch {c.batch_size}, seed {c.seed}.

Needs PyTorch and initlab with its experiments extra (pip install 'initlab[experiments]').
The data are generated (or split) with seed 0; the seed fixes the weights and the minibatch order.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import initlab
from initlab.experiments import load

EPOCHS = {epochs}
SEED = {c.seed}

data = {load_call}
x_train, y_train = data.x_train.float(), data.y_train.long()
x_test, y_test = data.x_test.float(), data.y_test.long()

{_model_code(c, act)}
initlab.initialize(model, {scheme!r}, bias={bias!r}, seed=SEED)
{lsuv}optimizer = {opt}

order = torch.Generator().manual_seed(SEED)  # one random permutation of the training set per epoch
step = 0
for epoch in range(1, EPOCHS + 1):
    perm = torch.randperm(len(y_train), generator=order)
    for start in range(0, len(y_train), {c.batch_size}):
        idx = perm[start:start + {c.batch_size}]
        loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
        if not torch.isfinite(loss):
            raise SystemExit(f"step {{step}}: the loss is {{loss.item()}} (diverged)")
        if step == 0:
            print(f"first-step loss {{loss.item():.6f}}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
    with torch.no_grad():
        logits = model(x_test)
        accuracy = (logits.argmax(1) == y_test).float().mean().item()
    print(f"epoch {{epoch}}: step {{step}}, test loss {{F.cross_entropy(logits, y_test).item():.4f}}, "
          f"test accuracy {{accuracy:.3f}}")
'''


def _model_code(c: LiveConfig, act: str) -> str:
    if c.residual:
        return (f"# a residual MLP: a stem, then {c.depth} blocks x + W2·act(W1·x) (no normalization), then a Linear "
                f"head\nfrom initlab.experiments.depth import residual_mlp\n\nmodel = residual_mlp(tuple(x_train.shape[1:]), "
                f"data.num_classes, {c.depth}, {c.width}, branch_layers={RESIDUAL_BRANCH}, activation={c.activation!r})\n")
    return (f"# nn.Flatten, then {c.depth} x (Linear -> activation), then a Linear head\nlayers = [nn.Flatten()]\n"
            f"fan_in = x_train[0].numel()\nfor _ in range({c.depth}):\n    layers += [nn.Linear(fan_in, {c.width}), {act}]\n"
            f"    fan_in = {c.width}\nlayers.append(nn.Linear(fan_in, data.num_classes))\nmodel = nn.Sequential(*layers)\n")


def _label(c: LiveConfig) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in c.scheme_params.items())
    return f"{c.scheme}({params})" if params else c.scheme
