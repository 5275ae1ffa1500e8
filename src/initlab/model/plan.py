"""Plan how every parameter of an ``nn.Module`` is initialized: one :class:`PlanRow` per parameter.

Rules of ``scheme="auto"`` (the activation that follows a layer is found by
:func:`initlab.model.activations.find_activations`):

=====================================================  =============================================
layer                                                  weight
=====================================================  =============================================
Linear / Bilinear / Conv / ConvTranspose followed by   ``he_normal`` (fan_in; leaky slope ``a`` from
the ReLU family (relu, relu6, leaky_relu, prelu,       LeakyReLU/RReLU/PReLU)
rrelu, elu, celu, gelu, silu, mish, hardswish,
softplus)
... followed by tanh, sigmoid, softsign, hardtanh,      ``glorot_normal``
hardsigmoid
... followed by SELU                                    ``lecun_normal``
... followed by no activation (an output layer,         ``glorot_normal`` (Glorot & Bengio's linear-
attention projections)                                  regime derivation)
Embedding / EmbeddingBag                               N(0, 1) (PyTorch's default); padding row zero
RNN / LSTM / GRU (and their cells) ``weight_ih``        ``glorot_uniform`` per gate block
RNN / LSTM / GRU (and their cells) ``weight_hh``        ``orthogonal`` per gate block (Saxe et al. 2013)
MultiheadAttention ``in_proj_weight``                   ``glorot_uniform`` per q/k/v block
BatchNorm / InstanceNorm / LayerNorm / GroupNorm /      weight ones, bias zeros
RMSNorm
every bias                                              the ``bias`` argument (default ``zeros``)
=====================================================  =============================================

A named scheme applies to every weight of Linear/Bilinear/Conv/ConvTranspose/Embedding/RNN/attention
layers (gate blocks of RNN and q/k/v blocks of attention get their own fans); normalization layers
still get ones and zeros. ``"torch_default"`` is PyTorch's own construction, law and order of draws
(:mod:`initlab.model.torch_default`). Parameters of other modules (custom ``nn.Parameter``\\ s) are
left as they are, and the plan says so.

``rules`` override both. A rule keyed by a **module type**, or by a pattern that matches a module's
name, applies to that module's weights; its biases (parameters whose name contains ``bias``) follow
``bias=`` unless a pattern matches the parameter's own name (``"head.bias"``, ``"*.bias"``). A
**tied** parameter (one tensor registered by several modules, e.g. ``head.weight = emb.weight``) is
planned once, under the name where it first appears; a rule that matches any of its names applies to
it, and two different rules matching it through different names are an error naming the tie.

Parameters with **zero elements** (``nn.Linear(0, 4).weight``) are skipped, with a row saying so, as
``torch.nn.init`` skips them. Rows whose activation was **guessed** from module order (when
``torch.fx`` cannot trace the model) are marked: ``found_by == "module order"`` and ``guessed``.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import InitlabError, check_type, fail, suggest
from ..schemes.fans import compute_fans
from ..schemes.initializers import (GlorotNormal, GlorotUniform, HeNormal, LecunNormal, Ones, Orthogonal,
                                    RandomNormal, TorchDefault, Zeros)
from ..schemes.registry import get
from ..schemes.spec import Initializer
from .activations import Activation, find_activations
from .recipes import WRAPPER_PARAMS
from .torch_default import NORMALIZATION, Draw, construction

__all__ = ["PlanRow", "InitPlan", "Step", "plan", "auto_initializer"]

KEEP, SKIP, COPY = "keep", "skip", "copy"
_TORCH_NAMES = ("torch_default", "pytorch_default", "default")
_CONV = nn.modules.conv._ConvNd
_RECURRENT = (nn.RNNBase, nn.modules.rnn.RNNCellBase)
_EMBEDDING = (nn.Embedding, nn.EmbeddingBag)
_WEIGHT_LAYERS = (nn.Linear, nn.Bilinear, _CONV)
_SCHEME_TARGETS = (*_WEIGHT_LAYERS, *_EMBEDDING, *_RECURRENT, nn.MultiheadAttention)
GUESSED = "module order"
"""``Activation.found_by`` of an activation guessed from the order modules were registered."""


@dataclass
class PlanRow:
    """How one parameter is (or would be) initialized.

    ``found_by``: how the activation after its layer was found (``fx``, ``module order``, ``module
    attribute``, ``module structure``; empty where none is looked for); ``guessed``: the scheme was
    chosen from an activation guessed from module order. ``tied``: the other names of the same tensor.
    ``copy_of``: the parameter whose value this one receives (PyTorch's TransformerEncoder/Decoder copy
    one layer). ``origin``: which rule decided (``rule``, ``torch_default``, ``norm``, ``bias``,
    ``scheme``, ``auto``, ``copy``, ``keep``, ``skip``)."""

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
    found_by: str = ""
    guessed: bool = False
    tied: tuple[str, ...] = ()
    copy_of: str | None = None
    origin: str = field(default="", repr=False)
    role: str = ""

    @property
    def writes(self) -> bool:
        """True when applying the plan writes this parameter."""
        return self.initializer is not None or self.copy_of is not None

    def to_dict(self) -> dict:
        return {"name": self.name, "module": self.module, "module_type": self.module_type, "shape": list(self.shape),
                "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation,
                "found_by": self.found_by, "guessed": self.guessed, "scheme": self.scheme,
                "params": self.initializer.params() if self.initializer is not None and
                self.scheme != "callable" else None, "std": self.std, "reason": self.reason,
                "chunks": self.chunks, "tied": list(self.tied), "copy_of": self.copy_of, "role": self.role}


@dataclass(frozen=True)
class Step:
    """One write when a plan is applied: ``name`` receives ``init``'s law (per block when ``chunks`` > 1)
    or a copy of ``copy_of``. ``discard``: drawn into scratch memory only, so that a generator advances as
    PyTorch's constructor advanced it; ``final``: the parameter's last write (the only one made when a
    seed keys the streams by name)."""

    name: str
    init: Initializer | None = None
    copy_of: str | None = None
    chunks: int = 1
    fan_kwargs: dict = field(default_factory=dict)
    discard: bool = False
    final: bool = True


@dataclass
class InitPlan:
    """One row per parameter: name, shape, fans, activation found, scheme, resulting std."""

    rows: list[PlanRow]
    seed: int | None = None
    applied: bool = False
    steps: list[Step] | None = field(default=None, repr=False)
    recipe: str | None = None
    wrap: Any = field(default=None, repr=False)
    """For a recipe that adds parameters (Fixup, ReZero, SkipInit): the
    :class:`~initlab.model.recipes.WrapPlan` ``initialize`` installs after the weights are written."""

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, name: str) -> PlanRow:
        for r in self.rows:
            if r.name == name or name in r.tied:
                return r
        raise KeyError(f"name: got {name!r}; allowed: a parameter of the plan"
                       f"{suggest(name, [r.name for r in self.rows])}")

    @property
    def guessed(self) -> list[PlanRow]:
        """Rows whose scheme was chosen from an activation guessed from module order."""
        return [r for r in self.rows if r.guessed]

    def write_steps(self) -> list[Step]:
        """The writes that apply this plan, in order (see :class:`Step`)."""
        if self.steps is not None:
            return self.steps
        return [Step(r.name, r.initializer, r.copy_of, r.chunks, r.fan_kwargs) for r in self.rows if r.writes]

    def to_dicts(self) -> list[dict]:
        return [r.to_dict() for r in self.rows]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def table(self, title: str | None = None):
        """A rich Table of the plan."""
        from rich.table import Table
        from rich.text import Text

        what = f" ({self.recipe})" if self.recipe else ""
        t = Table(title=title or ("initialization plan" + what + ("" if self.applied else " (dry run)")),
                  caption=self.wrap.describe() if self.wrap is not None else None)
        roles = any(r.role for r in self.rows)
        cols = ("parameter", "shape", "fan_in", "fan_out", *(("role",) if roles else ()), "activation", "found by",
                "scheme", "std", "why")
        for col in cols:
            t.add_column(col, justify="right" if col in ("fan_in", "fan_out", "std") else "left")
        for r in self.rows:
            found = f"guessed ({r.found_by})" if r.guessed else (r.found_by or "-")
            cells = (r.name, "×".join(map(str, r.shape)), _s(r.fan_in), _s(r.fan_out),
                     *((r.role or "-",) if roles else ()), r.activation, found,
                     r.scheme, "-" if r.std is None or math.isnan(r.std) else f"{r.std:.4g}", r.reason)
            t.add_row(*(Text(c) for c in cells))  # plain text: a name with [brackets] is not markup
        return t

    def __str__(self) -> str:
        import io

        from rich.console import Console

        console = Console(width=180, record=True, file=io.StringIO())
        console.print(self.table())
        return console.export_text()


def _s(v):
    return "-" if v is None else str(v)


# -- resolving arguments -----------------------------------------------------------------------------
def _resolve(arg: str, value) -> Initializer:
    """``get(value)``, its error naming ``arg`` instead of ``scheme``."""
    try:
        return get(value)
    except InitlabError as e:
        text = str(e)
        raise InitlabError(arg + text[len("scheme"):] if text.startswith("scheme:") else f"{arg}: {text}") from None


def _is_named(value, names) -> bool:
    return isinstance(value, str) and value.strip().lower() in names


def _is_config(d: Mapping) -> bool:
    return "name" in d or "class_name" in d


@dataclass(frozen=True)
class _Rule:
    index: int
    key: Any
    value: Any  # an Initializer, "keep" or "auto"

    @property
    def label(self) -> str:
        return self.key.__name__ if isinstance(self.key, type) else repr(self.key)


def _normalize_rules(rules, model: nn.Module) -> list[_Rule]:
    """Rules with keys module types or fnmatch patterns over module/parameter names; every key must
    match something in ``model`` and every value must resolve."""
    if rules is None:
        return []
    check_type("rules", rules, Mapping, "a dict mapping module types or name patterns to schemes")
    modules = dict(model.named_modules(remove_duplicate=False))
    names = [n for n in modules if n] + [n for n, _ in model.named_parameters(remove_duplicate=False)]
    out = []
    for i, (key, value) in enumerate(rules.items()):
        if isinstance(key, type):
            if not issubclass(key, nn.Module):
                raise fail("rules", key, "keys that are nn.Module types or name patterns (fnmatch)")
            if not any(isinstance(m, key) for m in modules.values()):
                types = sorted({type(m).__name__ for m in modules.values()})
                raise fail("rules", key.__name__, f"module types of the model ({', '.join(types)})")
        elif isinstance(key, str):
            if not any(fnmatch.fnmatchcase(n, key) for n in names):
                raise fail("rules", key, "patterns that match a module or parameter name of the model",
                           hint=suggest(key, names))
        else:
            raise fail("rules", key, "keys that are nn.Module types or name patterns (fnmatch)")
        if _is_named(value, ("auto", KEEP)):
            value = value.strip().lower()
        else:
            value = _resolve(f"rules[{key.__name__ if isinstance(key, type) else repr(key)}]", value)
        out.append(_Rule(i, key, value))
    return out


@dataclass(frozen=True)
class _Slot:
    """One place a parameter is registered: module ``module_name`` under the name ``pname``."""

    module_name: str
    module: nn.Module
    pname: str

    @property
    def full(self) -> str:
        return f"{self.module_name}.{self.pname}" if self.module_name else self.pname

    @property
    def is_bias(self) -> bool:
        return "bias" in self.pname.lower()


def _parameter_slots(model: nn.Module) -> list[tuple[torch.Tensor, list[_Slot]]]:
    """Each distinct parameter with every slot it is registered in, in order of first appearance."""
    found: dict[int, tuple[torch.Tensor, list[_Slot]]] = {}
    for mname, module in model.named_modules(remove_duplicate=False):
        for pname, p in module._parameters.items():
            if p is not None:
                found.setdefault(id(p), (p, []))[1].append(_Slot(mname, module, pname))
    return list(found.values())


def _slot_rule(rules: list[_Rule], slot: _Slot) -> _Rule | None:
    """The last rule matching ``slot``: a type rule, or a pattern matching the module's name, only for
    weights; a pattern matching the parameter's name for any parameter."""
    hit = None
    for r in rules:
        if isinstance(r.key, type):
            if isinstance(slot.module, r.key) and not slot.is_bias:
                hit = r
        elif fnmatch.fnmatchcase(slot.full, r.key) or (
                slot.module_name and not slot.is_bias and fnmatch.fnmatchcase(slot.module_name, r.key)):
            hit = r
    return hit


def _rule_for(rules: list[_Rule], slots: list[_Slot]) -> tuple[_Rule, _Slot] | None:
    hits = {}
    for s in slots:
        r = _slot_rule(rules, s)
        if r is not None:
            hits.setdefault(r.index, (r, s))
    if len(hits) > 1:
        (a, sa), (b, sb) = list(hits.values())[:2]
        raise InitlabError(f"rules: got {a.label} (through {sa.full}) and {b.label} (through {sb.full}) for one "
                           f"tied parameter ({' = '.join(s.full for s in slots)}); allowed: one rule per tied "
                           f"parameter — name it, e.g. rules={{{slots[0].full!r}: ...}}")
    return next(iter(hits.values()), None)


# -- choices -----------------------------------------------------------------------------------------
@dataclass
class _Context:
    rules: list[_Rule]
    base: Initializer | None
    torch_default: bool
    bias: Initializer | None
    bias_torch: bool
    acts: dict[str, Activation]
    torch_laws: dict[str, Draw]


@dataclass
class _Choice:
    init: Initializer | None
    reason: str
    origin: str
    copy_of: str | None = None
    act: Activation | None = None  # the activation the choice was made from


def auto_initializer(act: Activation) -> Initializer:
    """The initializer ``scheme="auto"`` gives a weight followed by ``act``: He (with the leaky slope)
    for the catalogue's ``he`` rows, LeCun for ``lecun``, else Glorot. The Keras adapter plans with it too."""
    fam = act.family
    if fam == "he":
        if act.name == "leaky_relu":
            return HeNormal(a=act.slope, nonlinearity="leaky_relu")
        return HeNormal(nonlinearity="relu")
    if fam == "lecun":
        return LecunNormal()
    return GlorotNormal()


def _weight_fan_in(module: nn.Module) -> int | None:
    w = getattr(module, "weight", None)
    if isinstance(w, torch.Tensor) and w.dim() >= 2 and w.numel() > 0:
        return w.shape[1] * math.prod(w.shape[2:])
    return None


def _torch_law(ctx: _Context, slot: _Slot) -> _Choice:
    """PyTorch's construction for ``slot`` (a copy resolved to the law it copies when only laws are asked
    for, as ``bias="torch_default"`` does under another scheme)."""
    draw = ctx.torch_laws.get(slot.full)
    if draw is None:
        return _Choice(None, f"left as is: PyTorch has no law for {type(slot.module).__name__}.{slot.pname}", KEEP)
    if draw.copy_of is not None:
        return _Choice(None, f"PyTorch's default: a copy of {draw.copy_of} ({type(slot.module).__name__} layers "
                             "are deep copies of one layer)", COPY, copy_of=draw.copy_of)
    return _Choice(draw.init, "PyTorch's default", "torch_default")


def _bias_choice(ctx: _Context, slot: _Slot) -> _Choice:
    if not ctx.bias_torch:
        return _Choice(ctx.bias, "bias", "bias")
    draw = ctx.torch_laws.get(slot.full)
    while draw is not None and draw.copy_of is not None:
        draw = ctx.torch_laws.get(draw.copy_of)
    if draw is not None:
        return _Choice(draw.init, "bias, PyTorch's default", "bias")
    fan = _weight_fan_in(slot.module)  # a custom module: the Linear law of its own weight
    return _Choice(TorchDefault(fan_in=fan) if fan else Zeros(), "bias, PyTorch's Linear law", "bias")


def _auto_choice(ctx: _Context, slot: _Slot) -> _Choice:
    module, pname = slot.module, slot.pname
    if isinstance(module, _EMBEDDING):
        return _Choice(RandomNormal(0.0, 1.0), "auto: embedding, N(0, 1)", "auto")
    if isinstance(module, _RECURRENT):
        if pname.startswith("weight_hh"):
            return _Choice(Orthogonal(), "auto: recurrent weight, orthogonal per gate", "auto")
        return _Choice(GlorotUniform(), "auto: RNN input weight, Xavier per gate", "auto")
    if isinstance(module, nn.MultiheadAttention) and pname.endswith("proj_weight"):
        return _Choice(GlorotUniform(), "auto: attention projection, Xavier per q/k/v", "auto")
    if isinstance(module, _WEIGHT_LAYERS):
        act = ctx.acts.get(slot.module_name, Activation(None))
        how = "guessed from module order" if act.found_by == GUESSED else f"found by {act.found_by}"
        reason = f"auto: {act.label()} follows ({how})" if act.name else f"auto: no activation follows ({how})"
        return _Choice(auto_initializer(act), reason, "auto", act=act)
    return _Choice(None, f"left as is: no rule for {type(module).__name__}.{pname}", KEEP)


def _default_choice(ctx: _Context, slot: _Slot, *, auto: bool = False) -> _Choice:
    """The choice without rules; ``auto`` forces ``scheme="auto"`` (a rule whose value is ``"auto"``)."""
    if slot.pname in WRAPPER_PARAMS:
        return _Choice(None, "left as is: a scalar of initlab's residual wrapper (a recipe sets it)", KEEP)
    if ctx.torch_default and not auto and not (slot.is_bias and ctx.bias is not None
                                               and not isinstance(slot.module, NORMALIZATION)):
        return _torch_law(ctx, slot)
    if isinstance(slot.module, NORMALIZATION):
        return _Choice(Ones() if slot.pname == "weight" else Zeros(), "normalization layer", "norm")
    if slot.is_bias:
        return _bias_choice(ctx, slot)
    if ctx.base is not None and not auto and isinstance(slot.module, _SCHEME_TARGETS):
        return _Choice(ctx.base, "scheme", "scheme")
    return _auto_choice(ctx, slot)


def _choose(ctx: _Context, slots: list[_Slot]) -> _Choice:
    slot = slots[0]
    hit = _rule_for(ctx.rules, slots)
    if hit is None:
        return _default_choice(ctx, slot)
    rule, via = hit
    through = f" (through the tie {via.full})" if via is not slot else ""
    if rule.value == "auto":
        choice = _default_choice(ctx, slot, auto=True)
        choice.reason = f"rule {rule.label} → {choice.reason}{through}"
        return choice
    if rule.value == KEEP:
        return _Choice(None, f"rule {rule.label}: keep{through}", KEEP)
    return _Choice(rule.value, f"rule {rule.label}{through}", "rule")


# -- one row -----------------------------------------------------------------------------------------
def _chunks(slot: _Slot, param: torch.Tensor, origin: str) -> int:
    """Gate blocks of recurrent weights and q/k/v blocks of a fused attention projection get their own
    fans, except under PyTorch's own laws, which draw them whole."""
    module, pname = slot.module, slot.pname
    if origin in ("torch_default", COPY):
        return 1
    if isinstance(module, _RECURRENT) and pname.startswith(("weight_ih", "weight_hh")) and module.hidden_size > 0:
        return max(1, param.shape[0] // module.hidden_size)
    if isinstance(module, nn.MultiheadAttention) and pname == "in_proj_weight":
        return 3
    return 1


def _fan_kwargs(module: nn.Module) -> dict:
    if isinstance(module, _CONV):
        return {"groups": module.groups, **({"transposed": True} if module.transposed else {})}
    return {}


def _plan_param(ctx: _Context, param: torch.Tensor, slots: list[_Slot], done: dict[str, PlanRow]) -> PlanRow:
    slot = slots[0]
    module, full = slot.module, slot.full
    shape = tuple(param.shape)
    act = ctx.acts.get(slot.module_name)
    found_by = act.found_by if act is not None else ""
    tied = tuple(s.full for s in slots[1:])
    padding = getattr(module, "padding_idx", None) if isinstance(module, _EMBEDDING) and slot.pname == "weight" \
        else None
    if param.numel() == 0:
        return PlanRow(full, slot.module_name, type(module).__name__, shape, None, None,
                       act.label() if act else "-", SKIP, None, "zero elements: nothing to initialize",
                       found_by=found_by, tied=tied, origin=SKIP)
    choice = _choose(ctx, slots)
    chunks = _chunks(slot, param, choice.origin)
    fan_kwargs = _fan_kwargs(module)
    fan_in = fan_out = std = None
    if choice.init is not None:
        if chunks > 1 and shape[0] % chunks:
            raise fail(full, shape, f"a first dimension that splits into {chunks} equal blocks")
        chunk_shape = (shape[0] // chunks, *shape[1:])
        try:
            dist = choice.init.distribution(chunk_shape, **fan_kwargs)
        except InitlabError as e:
            raise InitlabError(f"{full} ({type(module).__name__}, shape {shape}, {choice.reason}): {e}") from None
        fans = dist.fans
        if fans is None and len(chunk_shape) >= 2:
            fans = compute_fans(chunk_shape, **fan_kwargs)  # shown even when the scheme needs none
        if fans is not None:
            fan_in, fan_out = fans.fan_in, fans.fan_out
        std = dist.std
    elif choice.copy_of is not None:
        source = done.get(choice.copy_of)
        std = source.std if source is not None else None
        fan_in, fan_out = (source.fan_in, source.fan_out) if source is not None else (None, None)
    scheme = choice.init.name if choice.init is not None else (COPY if choice.copy_of else KEEP)
    guessed = choice.act is not None and choice.act.found_by == GUESSED
    return PlanRow(full, slot.module_name, type(module).__name__, shape, fan_in, fan_out, act.label() if act else "-",
                   scheme, std, choice.reason + (f"; tied: also {', '.join(tied)}" if tied else ""), choice.init,
                   chunks, fan_kwargs, padding if choice.init is not None else None, found_by, guessed, tied,
                   choice.copy_of, choice.origin)


# -- the plan ----------------------------------------------------------------------------------------
def _check_not_lazy(model: nn.Module) -> None:
    lazy = [n for n, p in model.named_parameters() if isinstance(p, nn.parameter.UninitializedParameter)]
    if lazy:
        raise InitlabError(f"model: got parameters of lazy modules ({', '.join(lazy[:4])}), whose shapes are unknown "
                           "before a forward pass; allowed: modules with fixed shapes (run one forward pass first)")


def plan(model: nn.Module, scheme: Any = "auto", bias: Any = None, rules: Mapping | None = None) -> InitPlan:
    """Decide how every parameter of ``model`` is initialized, without changing anything.

    ``scheme``: ``"auto"`` (see the module docstring), any scheme name/config/instance/callable,
    ``"torch_default"`` (PyTorch's own construction: every law, in the order its constructors draw),
    or a rules dict. ``bias``: the scheme for biases (``None``: the scheme's own — zeros, or PyTorch's
    under ``torch_default``; ``"torch_default"`` gives PyTorch's law, e.g. U(±1/√fan_in) for a
    Linear). ``rules``: ``{nn.Conv2d: "he_uniform", "head.*": "zeros", ...}`` — keys are module types
    or fnmatch patterns over module or parameter names; a type rule (or a pattern matching a module's
    name) sets weights, a pattern matching a parameter's name sets that parameter; the last matching
    rule wins; ``"keep"`` leaves the parameter as it is, ``"auto"`` gives it the ``auto`` choice.

    >>> import torch.nn as nn, initlab
    >>> p = initlab.plan(nn.Sequential(nn.Linear(8, 4), nn.Tanh()), rules={nn.Linear: "orthogonal"})
    >>> p["0.weight"].scheme, p["0.bias"].scheme
    ('orthogonal', 'zeros')
    """
    from ..adapters import keras_model_adapter  # Keras models: planned by initlab.adapters.keras_model
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.plan(model, scheme, bias=bias, rules=rules)
    if not isinstance(model, nn.Module):
        raise InitlabError(f"model: got {type(model).__name__}; allowed: a torch.nn.Module")
    from .recipes import plan_recipe, recipe_of  # recipes that need the model's structure (Fixup, GPT-2 …)
    if (spec := recipe_of(scheme)) is not None:
        _check_not_lazy(model)
        return plan_recipe(model, spec, bias=bias, rules=rules)
    if isinstance(scheme, Mapping) and not _is_config(scheme):
        rules = {**scheme, **(rules or {})}
        scheme = "auto"
    _check_not_lazy(model)
    rule_list = _normalize_rules(rules, model)
    is_auto = _is_named(scheme, ("auto",))
    is_torch = _is_named(scheme, _TORCH_NAMES)
    base = None if (is_auto or is_torch) else _resolve("scheme", scheme)
    bias_torch = _is_named(bias, _TORCH_NAMES) or (bias is None and is_torch)
    if bias_torch:
        bias_init = None
    else:
        bias_init = Zeros() if bias is None else _resolve("bias", bias)
    draws = construction(model) if (is_torch or bias_torch) else []
    laws = {d.slot: d for d in draws}  # the last draw of each slot decides its value
    ctx = _Context(rule_list, base, is_torch, bias_init, bias_torch, find_activations(model), laws)
    rows: list[PlanRow] = []
    done: dict[str, PlanRow] = {}
    slot_row: dict[str, PlanRow] = {}
    for param, slots in _parameter_slots(model):
        row = _plan_param(ctx, param, slots, done)
        rows.append(row)
        done[row.name] = row
        for s in slots:
            slot_row[s.full] = row
    for row in rows:  # a copy follows its source's name (the source may itself be tied)
        if row.copy_of is not None and row.copy_of in slot_row:
            row.copy_of = slot_row[row.copy_of].name
    return InitPlan(rows, steps=_torch_steps(rows, draws, slot_row) if is_torch else None)


def _torch_steps(rows: list[PlanRow], draws: list[Draw], slot_row: dict[str, PlanRow]) -> list[Step]:
    """The writes of a ``torch_default`` plan in PyTorch's construction order: parameters that follow
    PyTorch's laws get every draw their constructors make (draws later overwritten and the draws of a
    tied weight's second owner included, so a generator advances exactly as in construction); rows
    decided otherwise (rules, ``bias=``) are written afterwards, in row order."""
    steps: list[Step] = []
    stepped: set[str] = set()
    for d in draws:
        row = slot_row.get(d.slot)
        if row is None or row.origin not in ("torch_default", COPY):
            continue
        if d.slot != row.name:  # the draw of a tied weight's other owner: made, then dropped by the tie
            if d.init is not None:
                steps.append(Step(row.name, d.init, discard=True))
            continue
        source = slot_row[d.copy_of].name if d.copy_of is not None else None
        steps.append(Step(row.name, d.init, source, 1, row.fan_kwargs, final=False))
        stepped.add(row.name)
    last = {s.name: i for i, s in enumerate(steps) if not s.discard}
    steps = [Step(s.name, s.init, s.copy_of, s.chunks, s.fan_kwargs, s.discard, final=last.get(s.name) == i)
             for i, s in enumerate(steps)]
    steps += [Step(r.name, r.initializer, r.copy_of, r.chunks, r.fan_kwargs) for r in rows
              if r.writes and r.name not in stepped]
    return steps
