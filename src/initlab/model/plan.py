"""Initialize whole ``nn.Module``s: ``plan()`` decides, per parameter, ``apply()`` fills.

Rules of ``scheme="auto"`` (the activation that follows a layer is found by
:func:`initlab.model.activations.find_activations`):

=====================================================  =============================================
layer                                                  weight
=====================================================  =============================================
Linear / Conv / ConvTranspose followed by the ReLU      ``he_normal`` (fan_in; leaky slope ``a`` from
family (relu, relu6, leaky_relu, prelu, rrelu, elu,     LeakyReLU/RReLU/PReLU)
celu, gelu, silu, mish, hardswish, softplus)
... followed by tanh, sigmoid, softsign, hardtanh,      ``glorot_normal``
hardsigmoid
... followed by SELU                                    ``lecun_normal``
... followed by no activation (an output layer,         ``glorot_normal`` (Glorot & Bengio's linear-
attention projections)                                  regime derivation)
Embedding                                               N(0, 1) (PyTorch's default); padding row zero
RNN / LSTM / GRU input weights ``weight_ih``            ``glorot_uniform`` per gate block
RNN / LSTM / GRU recurrent weights ``weight_hh``        ``orthogonal`` per gate block (Saxe et al. 2013)
MultiheadAttention ``in_proj_weight``                   ``glorot_uniform`` per q/k/v block
LayerNorm / BatchNorm / GroupNorm / InstanceNorm        weight ones, bias zeros
every bias                                              the ``bias`` argument (default ``zeros``)
=====================================================  =============================================

A named scheme applies to every weight of Linear/Conv/ConvTranspose/Embedding/RNN/attention
layers (gate blocks of RNN and q/k/v blocks of attention get their own fans); normalization layers
still get ones and zeros. ``rules`` override both, per module type or per name pattern.
Parameters of other modules (custom ``nn.Parameter``s) are left as they are, and the plan says so.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import InitlabError, suggest
from ..schemes.initializers import (GlorotNormal, GlorotUniform, HeNormal, LecunNormal, Ones,
                                    Orthogonal, RandomNormal, TorchDefault, Zeros)
from ..schemes.fans import compute_fans
from ..schemes.registry import get
from ..schemes.spec import Initializer
from .activations import Activation, find_activations

__all__ = ["PlanRow", "InitPlan", "plan", "initialize", "apply_plan"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONVT = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
_KEEP = "keep"


@dataclass
class PlanRow:
    """How one parameter is (or would be) initialized."""

    name: str
    module: str
    module_type: str
    shape: tuple[int, ...]
    fan_in: int | None
    fan_out: int | None
    activation: str
    scheme: str
    std: float | None
    reason: str
    initializer: Initializer | None = field(default=None, repr=False)
    chunks: int = 1
    fan_kwargs: dict = field(default_factory=dict, repr=False)
    padding_idx: int | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "module": self.module, "module_type": self.module_type, "shape": list(self.shape),
                "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation,
                "scheme": self.scheme, "params": self.initializer.params() if self.initializer is not None and
                self.scheme not in (_KEEP, "callable") else None, "std": self.std, "reason": self.reason,
                "chunks": self.chunks}


@dataclass
class InitPlan:
    """One row per parameter: name, shape, fans, activation found, scheme, resulting std."""

    rows: list[PlanRow]
    seed: int | None = None
    applied: bool = False

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, name: str) -> PlanRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no parameter {name!r} in the plan{suggest(name, [r.name for r in self.rows])}")

    def to_dicts(self) -> list[dict]:
        return [r.to_dict() for r in self.rows]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def table(self, title: str | None = None):
        """A rich Table of the plan."""
        from rich.table import Table

        t = Table(title=title or ("initialization plan" + ("" if self.applied else " (dry run)")))
        for col in ("parameter", "shape", "fan_in", "fan_out", "activation", "scheme", "std", "why"):
            t.add_column(col, justify="right" if col in ("fan_in", "fan_out", "std") else "left")
        for r in self.rows:
            t.add_row(r.name, "×".join(map(str, r.shape)), _s(r.fan_in), _s(r.fan_out), r.activation, r.scheme,
                      "-" if r.std is None or math.isnan(r.std) else f"{r.std:.4g}", r.reason)
        return t

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=160, record=True, file=open("/dev/null", "w"))
        console.print(self.table())
        return console.export_text()


def _s(v):
    return "-" if v is None else str(v)


# -- rules -----------------------------------------------------------------------------------------
def _is_config(d: Mapping) -> bool:
    return "name" in d or "class_name" in d


def _normalize_rules(rules, model: nn.Module) -> list[tuple[Any, Any]]:
    """[(key, scheme)] with keys module types or fnmatch patterns over module/parameter names; every key
    must match something in ``model``."""
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise InitlabError(f"rules: got {type(rules).__name__}; allowed: a dict mapping module types or name "
                           "patterns to schemes")
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    names = [n for n in modules if n] + list(params)
    out = []
    for key, value in rules.items():
        if isinstance(key, type):
            if not issubclass(key, nn.Module):
                raise InitlabError(f"rules: key {key!r} is a type but not an nn.Module subclass")
            if not any(isinstance(m, key) for m in modules.values()):
                raise InitlabError(f"rules: module type {key.__name__} does not occur in the model; its module types "
                                   f"are {sorted({type(m).__name__ for m in modules.values()})}")
        elif isinstance(key, str):
            if not any(fnmatch.fnmatchcase(n, key) for n in names):
                raise InitlabError(f"rules: pattern {key!r} matches no module or parameter of the model"
                                   f"{suggest(key, names)}")
        else:
            raise InitlabError(f"rules: got key {key!r}; allowed: an nn.Module type or a name pattern (fnmatch)")
        if not (isinstance(value, str) and value.lower() in ("auto", _KEEP)):
            value = get(value)  # validates names now, before anything changes
        out.append((key, value))
    return out


def _rule_for(rules, module_name: str, module: nn.Module, param_name: str):
    hit = None
    for key, value in rules:  # the last matching rule wins, so specific rules can follow general ones
        if isinstance(key, type):
            if isinstance(module, key):
                hit = (key.__name__, value)
        elif fnmatch.fnmatchcase(param_name, key) or (module_name and fnmatch.fnmatchcase(module_name, key)):
            hit = (key, value)
    return hit


# -- auto choices ----------------------------------------------------------------------------------
def _auto_weight(act: Activation) -> Initializer:
    fam = act.family
    if fam == "he":
        if act.name == "leaky_relu":
            return HeNormal(a=act.slope, nonlinearity="leaky_relu")
        return HeNormal(nonlinearity="relu")
    if fam == "lecun":
        return LecunNormal()
    return GlorotNormal()


def _torch_default_for(module: nn.Module, pname: str, param: torch.Tensor, weight_fan_in: int | None):
    """PyTorch's reset_parameters law for this parameter, as an initlab scheme."""
    if isinstance(module, nn.Embedding):
        return RandomNormal(0.0, 1.0)
    if isinstance(module, nn.RNNBase):
        return TorchDefault(fan_in=module.hidden_size) if module.hidden_size > 0 else Zeros()
    if isinstance(module, nn.MultiheadAttention):
        if pname in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            return GlorotUniform()
        if pname in ("bias_k", "bias_v"):
            return GlorotNormal()
        return Zeros()
    if isinstance(module, _NORM):
        return Ones() if pname == "weight" else Zeros()
    if param.dim() >= 2:
        return TorchDefault()
    return TorchDefault(fan_in=weight_fan_in) if weight_fan_in else Zeros()


def _weight_fan_in(module: nn.Module) -> int | None:
    w = getattr(module, "weight", None)
    if isinstance(w, torch.Tensor) and w.dim() >= 2 and w.numel() > 0:
        return w.shape[1] * math.prod(w.shape[2:])
    return None


def _gates(module: nn.RNNBase) -> int:
    return {"LSTM": 4, "GRU": 3}.get(module.mode, 1)


def plan(model: nn.Module, scheme: Any = "auto", bias: Any = "zeros", rules: Mapping | None = None) -> InitPlan:
    """Decide how every parameter of ``model`` is initialized, without changing anything.

    ``scheme``: ``"auto"`` (see the module docstring), any scheme name/config/instance/callable,
    ``"torch_default"`` (PyTorch's own ``reset_parameters`` laws), or a rules dict.
    ``bias``: the scheme for biases of Linear/Conv/RNN/attention layers (``"torch_default"`` gives
    PyTorch's U(±1/√fan_in)). ``rules``: ``{nn.Conv2d: "he_uniform", "head.*": "zeros", ...}`` —
    keys are module types or fnmatch patterns over module or parameter names; the last matching
    rule wins; a value ``"keep"`` leaves the parameter untouched.
    """
    from ..adapters import keras_model_adapter  # Keras models: planned by initlab.adapters.keras_model
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.plan(model, scheme, bias=bias, rules=rules)
    if not isinstance(model, nn.Module):
        raise InitlabError(f"model: got {type(model).__name__}; allowed: a torch.nn.Module")
    if isinstance(scheme, Mapping) and not _is_config(scheme):
        rules = {**scheme, **(rules or {})}
        scheme = "auto"
    rule_list = _normalize_rules(rules, model)
    is_auto = isinstance(scheme, str) and scheme.lower() == "auto"
    is_torch_default = isinstance(scheme, str) and scheme.lower() in ("torch_default", "pytorch_default", "default")
    base = None if (is_auto or is_torch_default) else get(scheme)
    bias_is_torch = isinstance(bias, str) and bias.lower() in ("torch_default", "pytorch_default", "default")
    bias_init = None if bias_is_torch else get(bias)
    acts = find_activations(model)

    rows: list[PlanRow] = []
    seen: set[int] = set()
    for mname, module in model.named_modules():
        for pname, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue  # tied parameter: planned where it first appears
            seen.add(id(param))
            full = f"{mname}.{pname}" if mname else pname
            rows.append(_plan_param(model, mname, module, pname, full, param, base, is_torch_default, bias_init,
                                    bias_is_torch, acts, rule_list))
    return InitPlan(rows)


def _plan_param(model, mname, module, pname, full, param, base, is_torch_default, bias_init, bias_is_torch, acts,
                rule_list) -> PlanRow:
    act = acts.get(mname, Activation(None))
    shape = tuple(param.shape)
    fan_kwargs: dict = {}
    chunks = 1
    is_bias = "bias" in pname and param.dim() == 1
    is_rnn = isinstance(module, nn.RNNBase)
    is_mha = isinstance(module, nn.MultiheadAttention)
    if isinstance(module, _CONV):
        fan_kwargs["groups"] = module.groups
    elif isinstance(module, _CONVT):
        fan_kwargs.update(groups=module.groups, transposed=True)
    if is_torch_default:
        pass  # PyTorch draws these whole; so does initlab, to give the same values
    elif is_rnn and pname.startswith(("weight_ih", "weight_hh")):
        chunks = _gates(module)
    elif is_mha and pname == "in_proj_weight":
        chunks = 3

    # 1. the scheme, by rule, then by kind of module
    rule = _rule_for(rule_list, mname, module, full)
    init: Initializer | None
    if rule is not None and not (isinstance(rule[1], str) and rule[1] == "auto"):
        key, value = rule
        init = None if value == _KEEP else value
        reason = f"rule {key!r}"
    elif isinstance(module, _NORM):
        init, reason = (Ones() if pname == "weight" else Zeros()), "normalization layer"
    elif is_torch_default:
        init, reason = _torch_default_for(module, pname, param, _weight_fan_in(module)), "PyTorch's default"
    elif is_bias or pname in ("bias_k", "bias_v"):
        if bias_init is None:
            init, reason = _torch_default_for(module, pname, param, _weight_fan_in(module)), "bias, PyTorch's default"
        else:
            init, reason = bias_init, "bias"
    elif base is not None and isinstance(module, (*_CONV, *_CONVT, nn.Linear, nn.Bilinear, nn.Embedding,
                                                    nn.RNNBase, nn.MultiheadAttention)):
        init, reason = base, "scheme"
    elif isinstance(module, nn.Embedding):
        init, reason = RandomNormal(0.0, 1.0), "auto: embedding, N(0, 1)"
    elif is_rnn:
        if pname.startswith("weight_hh"):
            init, reason = Orthogonal(), "auto: recurrent weight, orthogonal per gate"
        else:
            init, reason = GlorotUniform(), "auto: RNN input weight, Xavier per gate"
    elif is_mha and pname.endswith("proj_weight"):
        init, reason = GlorotUniform(), "auto: attention projection, Xavier per q/k/v"
    elif isinstance(module, (*_CONV, *_CONVT, nn.Linear, nn.Bilinear)):
        init = _auto_weight(act)
        reason = f"auto: {act.label()} follows ({act.found_by})" if act.name else \
            f"auto: no activation follows ({act.found_by})"
    else:
        init, reason = None, f"left as is: no rule for {type(module).__name__}.{pname}"

    # 2. fans and resulting std, resolved now (errors surface before anything is written)
    fan_in = fan_out = None
    std = None
    if init is not None:
        chunk_shape = (shape[0] // chunks, *shape[1:]) if chunks > 1 else shape
        if chunks > 1 and shape[0] % chunks:
            raise InitlabError(f"{full}: shape {shape} does not split into {chunks} blocks")
        try:
            dist = init.distribution(chunk_shape, **fan_kwargs)
        except InitlabError as e:
            raise InitlabError(f"{full} ({type(module).__name__}, shape {shape}): {e}") from None
        fans = dist.fans
        if fans is None and len(chunk_shape) >= 2:
            fans = compute_fans(chunk_shape, **fan_kwargs)  # shown even when the scheme needs none
        if fans is not None:
            fan_in, fan_out = fans.fan_in, fans.fan_out
        std = dist.std
    scheme_name = _KEEP if init is None else init.name
    return PlanRow(full, mname, type(module).__name__, shape, fan_in, fan_out, act.label(), scheme_name, std,
                   reason, init, chunks, fan_kwargs, getattr(module, "padding_idx", None)
                   if isinstance(module, nn.Embedding) and pname == "weight" else None)


def apply_plan(model: nn.Module, the_plan: InitPlan, *, seed: int | None = None, generator=None) -> InitPlan:
    """Fill the model's parameters as ``the_plan`` says. With ``seed``, parameter ``name`` (block ``g``
    of a gated weight: ``name#g``) draws from streams keyed by its name, so the result does not depend
    on the order or on other parameters."""
    from ..schemes.engine import batched

    params = dict(model.named_parameters())
    with torch.no_grad():
        # seeded fills are queued and run together, so the threads do not wait between parameters
        with batched():
            for row in the_plan.rows:
                if row.initializer is None:
                    continue
                p = params[row.name]
                if row.chunks == 1:
                    row.initializer(p, seed=seed, generator=generator, key=row.name, **row.fan_kwargs)
                else:
                    for g, block in enumerate(p.chunk(row.chunks, dim=0)):
                        row.initializer(block, seed=seed, generator=generator, key=f"{row.name}#{g}",
                                        **row.fan_kwargs)
        for row in the_plan.rows:  # after the queue has run: a plain write inside it would be overwritten
            if row.initializer is not None and row.padding_idx is not None:
                params[row.name][row.padding_idx].zero_()
    the_plan.seed = seed
    the_plan.applied = True
    return the_plan


def initialize(model: nn.Module, scheme: Any = "auto", *, bias: Any = "zeros", rules: Mapping | None = None,
               seed: int | None = None, generator=None, dry_run: bool = False) -> InitPlan:
    """Initialize every parameter of ``model`` in place and return the plan that was applied.

    >>> import torch.nn as nn, initlab
    >>> net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> p = initlab.initialize(net, seed=0)
    >>> p["0.weight"].scheme, p["2.weight"].scheme
    ('he_normal', 'glorot_normal')

    ``dry_run=True`` returns the plan and changes nothing. See :func:`plan` for ``scheme``, ``bias``
    and ``rules``. Randomness: ``seed`` (per-parameter streams keyed by name), else ``generator``,
    else torch's global generator.
    """
    if seed is not None and generator is not None:
        raise InitlabError("give either generator= or seed=, not both")
    from ..adapters import keras_model_adapter  # Keras models: initialized by initlab.adapters.keras_model
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.initialize(model, scheme, bias=bias, rules=rules, seed=seed, generator=generator,
                                        dry_run=dry_run)
    the_plan = plan(model, scheme, bias=bias, rules=rules)
    if dry_run:
        return the_plan
    return apply_plan(model, the_plan, seed=seed, generator=generator)



