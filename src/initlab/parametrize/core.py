"""``initlab.parametrize(model, "mup", base=…)``: a width plan per parameter, applied all at once.

The plan is resolved in full before anything changes (roles, base shapes, laws, multipliers), so an
error leaves the model exactly as it was. Then every parameter is drawn from its law (seeded streams
keyed by parameter name, as :func:`initlab.initialize` draws) and the forward multipliers that the
chosen form cannot fold are installed as hooks (:mod:`initlab.parametrize.hooks`).

The base law of a parameter is the one ``init`` gives it (``"auto"``: what
:func:`initlab.initialize` would choose — He before ReLU, Glorot at the readout, N(0, 1) for
embeddings …) evaluated at the parameter's *base* shape; μP multiplies its std by the rule of
:mod:`initlab.parametrize.rules`. At the base width every rule is 1, so μP there draws exactly
what ``initlab.initialize(model, init, seed=…)`` draws (the same bits with the same seed).
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import (InitlabError, check_bool, check_choice, check_exclusive, check_int, check_positive, fail,
                      suggest)
from ..model.plan import InitPlan, plan as init_plan
from ..model.structure import ParamInfo, Structure, find_structure
from ..schemes.initializers import Constant, RandomNormal, RandomUniform, TruncatedNormal, Zeros
from ..schemes.spec import Initializer
from . import hooks
from .base import resolve_base
from .rules import FORMS, OPTIMIZERS, Scale, mup_scale, theta, transform, umup_scale, width_class

__all__ = ["Parametrization", "SP", "MuP", "UMuP", "PARAMETRIZATIONS", "WidthRow", "WidthPlan", "parametrize",
           "param_groups", "get_parametrization"]

_HEAD_ATTRS = ("num_heads", "n_heads", "n_head", "nhead", "heads", "num_attention_heads")


# ------------------------------------------------------------------------------------- parametrizations
@dataclass(frozen=True)
class Parametrization:
    """How a parametrization scales each parameter with width (see :mod:`initlab.parametrize.rules`)."""

    name = "base"
    needs_base = False

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class SP(Parametrization):
    """The standard parametrization: the scheme's law at the current shape, no multipliers, one learning
    rate for every parameter (what ``initlab.initialize`` and a plain optimizer do)."""

    name = "sp"


@dataclass(frozen=True)
class MuP(Parametrization):
    """μP (Yang et al. 2022, Tensor Programs V, Table 3), in ``form`` ``"table3"`` (default: every multiplier
    folded into σ and the learning rate, no hooks except where a block of a packed layer needs one),
    ``"table8"`` (the ``mup`` package's form: readout multiplier 1/m) or ``"table9"`` (Yang & Hu 2021's).

    ``zero_readout``/``zero_query``: draw the readout / the attention query as zeros (Tensor Programs V,
    §Transformers, and ``MuReadout(readout_zero_init=True)``). ``attention``: scale attention logits by
    1/d_head instead of 1/√d_head (a query multiplier; on by default).
    """

    form: str = "table3"
    zero_readout: bool = False
    zero_query: bool = False
    attention: bool = True
    name = "mup"
    needs_base = True

    def __post_init__(self):
        object.__setattr__(self, "form", check_choice("form", self.form, FORMS))
        for flag in ("zero_readout", "zero_query", "attention"):
            check_bool(flag, getattr(self, flag))

    def describe(self) -> str:
        extra = [k for k in ("zero_readout", "zero_query") if getattr(self, k)]
        return f"mup ({self.form}{', ' + ', '.join(extra) if extra else ''})"


@dataclass(frozen=True)
class UMuP(Parametrization):
    """u-μP (Blake et al. 2024): unit-variance weights, forward multipliers 1/√fan_in (1/fan_in at the
    readout), u-μP's Adam learning-rate rules; attention logits 1/d_head. Needs no base."""

    zero_readout: bool = False
    name = "umup"

    def __post_init__(self):
        check_bool("zero_readout", self.zero_readout)


PARAMETRIZATIONS = {"sp": SP, "mup": MuP, "umup": UMuP}
_ALIASES = {"standard": "sp", "μp": "mup", "mu-p": "mup", "u-mup": "umup", "u-μp": "umup", "unit-mup": "umup",
            "depth-mup": "depth_mup", "depth-μp": "depth_mup", "depthmup": "depth_mup", "complete-p": "completep"}


def _register_depth() -> None:
    """Add depth-μP and CompleteP (:mod:`initlab.parametrize.depth`, which builds on this module) to the table."""
    if "completep" not in PARAMETRIZATIONS:
        from .depth import CompleteP, DepthMuP

        PARAMETRIZATIONS.update(depth_mup=DepthMuP, completep=CompleteP)


def get_parametrization(p, **options) -> Parametrization:
    """A :class:`Parametrization` from a name (``"sp"``, ``"mup"``, ``"umup"``, ``"depth_mup"``, ``"completep"``)
    and its options, or the object."""
    _register_depth()
    if isinstance(p, Parametrization):
        if options:
            raise fail("options", sorted(options), "none when a Parametrization object is given (set them on it)")
        return p
    if not isinstance(p, str):
        raise fail("parametrization", p, "'sp', 'mup', 'umup' or a Parametrization object")
    key = _ALIASES.get(p.lower(), p.lower())
    cls = PARAMETRIZATIONS.get(key)
    if cls is None:
        raise fail("parametrization", p, ", ".join(map(repr, PARAMETRIZATIONS)), hint=suggest(p, PARAMETRIZATIONS))
    allowed = [f for f in cls.__dataclass_fields__]
    bad = [k for k in options if k not in allowed]
    if bad:
        raise fail(bad[0], options[bad[0]], f"an option of {key}: {', '.join(allowed) or '(none)'}",
                   hint=suggest(bad[0], allowed))
    return cls(**options)


# ------------------------------------------------------------------------------------- the plan
@dataclass
class WidthRow:
    """One parameter of a width plan.

    ``std`` is the std the raw parameter is drawn with (per block for packed projections: ``stds``),
    ``mult`` its forward multiplier (per block: ``mults``), ``lr_adam``/``lr_sgd`` its learning-rate
    multipliers; ``m_in``/``m_out`` the width multipliers of its fan-in and fan-out (1: does not scale).
    ``query_mult`` is the part of the multiplier that makes attention logits 1/d_head (α of an attention
    query, folded or not; 1 elsewhere).
    """

    name: str
    layer: str
    role: str
    kind: str
    shape: tuple[int, ...]
    fan_in: int | None
    fan_out: int | None
    width_class: str
    m_in: float
    m_out: float
    stds: tuple[float | None, ...]
    mults: tuple[float, ...]
    lr_adam: float
    lr_sgd: float
    scheme: str
    reason: str
    initializers: tuple[Initializer | None, ...] = field(repr=False, default=())
    fill_chunks: int = 1
    query_mult: float = 1.0
    tied: tuple[str, ...] = ()
    guessed: bool = False
    eps: float = 1.0
    """Multiplier of Adam's ε (depth parametrizations scale it in the blocks; 1 elsewhere)."""

    @property
    def writes(self) -> bool:
        """True when parametrizing writes this parameter."""
        return any(i is not None for i in self.initializers)

    @property
    def width_mult(self) -> float:
        """The width multiplier that drives the rule: m_in for hidden and readout, m_out otherwise."""
        return self.m_in if self.width_class in ("hidden", "readout") else self.m_out

    @property
    def std(self) -> float | None:
        return self.stds[0] if len(set(self.stds)) == 1 else None

    @property
    def mult(self) -> float:
        return self.mults[0] if len(set(self.mults)) == 1 else math.nan

    def lr(self, optimizer: str) -> float:
        return self.lr_sgd if optimizer == "sgd" else self.lr_adam

    def effective_std(self) -> tuple[float | None, ...]:
        """The std of ``mult · W``, per block: what the function sees."""
        return tuple(None if s is None else s * m for s, m in zip(self.stds, self.mults))

    def to_dict(self) -> dict:
        return {"name": self.name, "layer": self.layer, "role": self.role, "kind": self.kind,
                "shape": list(self.shape), "fan_in": self.fan_in, "fan_out": self.fan_out,
                "class": self.width_class, "width_mult": self.width_mult, "m_in": self.m_in, "m_out": self.m_out,
                "init_std": self.std if self.std is not None else list(self.stds), "mult": self.mult
                if not math.isnan(self.mult) else list(self.mults), "lr_mult_adam": self.lr_adam,
                "lr_mult_sgd": self.lr_sgd, "eps_mult": self.eps, "scheme": self.scheme, "reason": self.reason}


@dataclass
class WidthPlan(InitPlan):
    """What :func:`parametrize` decided (and, unless a dry run, applied): a :class:`WidthRow` per parameter.

    An :class:`~initlab.model.plan.InitPlan` (indexing by parameter name, ``to_dicts``, ``to_frame``)
    whose rows also carry multipliers and learning rates; :meth:`param_groups` gives torch optimizer
    parameter groups with each parameter's learning rate.
    """

    rows: list[WidthRow]
    parametrization: Parametrization = field(default_factory=SP)
    structure: Structure | None = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)
    hooks: int = 0

    def param_groups(self, optimizer: str = "adam", lr: float = 1e-3, weight_decay: float | None = None,
                     eps: float | None = None) -> list[dict]:
        """Parameter groups for ``torch.optim`` (``Adam``/``AdamW`` for ``"adam"``/``"adamw"``, ``SGD`` for
        ``"sgd"``): one group per learning-rate multiplier, ``lr`` × multiplier. With ``weight_decay``,
        each group gets ``weight_decay / multiplier`` so that lr × weight decay is the same for every
        parameter at every width (as the ``mup`` optimizers scale it).

        >>> import torch, torch.nn as nn, initlab
        >>> net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
        >>> plan = initlab.parametrize(net, "mup", base=16, seed=0)
        >>> groups = plan.param_groups("adam", lr=0.01)
        >>> [(round(g["lr"], 6), g["param_names"]) for g in groups]
        [(0.01, ['0.weight', '0.bias', '2.bias', '4.bias']), (0.0025, ['2.weight', '4.weight'])]
        >>> opt = torch.optim.Adam(groups)
        """
        return param_groups(self, optimizer, lr, weight_decay=weight_decay, eps=eps)

    def write_steps(self):
        raise InitlabError("plan: got a WidthPlan; allowed: an InitPlan (a width plan is applied by "
                           "initlab.parametrize(model, ...), which also installs its multipliers)")

    def remove(self) -> int:
        """Remove this plan's forward multipliers from the model (the weights stay as they are)."""
        model = self.model() if isinstance(self.model, weakref.ref) else self.model
        return hooks.remove(model) if model is not None else 0

    def table(self, title: str | None = None):
        from rich.table import Table

        from ..model.residual import role_label

        what = self.parametrization.describe()
        t = Table(title=title or f"width plan: {what}" + ("" if self.applied else " (dry run)"))
        eps = any(r.eps != 1.0 for r in self.rows)
        for col in ("parameter", "role", "fan_in", "class", "width ×", "init std", "mult", "lr × (Adam)",
                    "lr × (SGD)", *(("ε × (Adam)",) if eps else ())):
            t.add_column(col, justify="left" if col in ("parameter", "role", "class") else "right")
        layers = {layer.name: layer for layer in self.structure.layers} if self.structure is not None else {}
        for r in self.rows:
            role = role_label(layers[r.layer]) if r.layer in layers and r.role == layers[r.layer].role else r.role
            t.add_row(r.name, role, "-" if r.fan_in is None else str(r.fan_in), r.width_class, f"{r.width_mult:.4g}",
                      _laws(r), _fmt_many(r.mults), f"{r.lr_adam:.4g}", f"{r.lr_sgd:.4g}",
                      *((f"{r.eps:.4g}",) if eps else ()))
        return t

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=170, record=True, file=open("/dev/null", "w"))
        console.print(self.table())
        return console.export_text()


def _std_cell(init: Initializer | None, std: float | None) -> str:
    """The init std as a table shows it: a constant law as ``=value`` (its std, 0, says nothing)."""
    if init is None or std is None:
        return "kept"
    law = init.distribution((1, 1))
    if law.family == "constant":
        return f"={law.mean:.4g}"
    return f"{std:.4g}"


def _laws(row: "WidthRow") -> str:
    inits = list(row.initializers) or [None]
    stds = list(row.stds) if len(row.stds) == len(inits) else [row.stds[0]] * len(inits)
    cells = [_std_cell(i, s) for i, s in zip(inits, stds)]
    return cells[0] if len(set(cells)) == 1 else "/".join(cells)


def _fmt_many(values) -> str:
    vals = ["-" if v is None else f"{v:.4g}" for v in values]
    return vals[0] if len(set(vals)) == 1 else "/".join(vals)


# ------------------------------------------------------------------------------------- laws
def _scaled(dist, factor: float) -> Initializer | None:
    """An initializer drawing ``factor`` × a value of ``dist`` (a resolved Distribution), or None for a
    structured family (orthogonal, identity …), which is kept only where its own std already follows the rule."""
    f, p = dist.family, dist.params
    if factor == 0.0:
        return Zeros()
    if f == "normal":
        return RandomNormal(p["mean"] * factor, p["std"] * factor)
    if f == "uniform":
        return RandomUniform(p["low"] * factor, p["high"] * factor)
    if f == "truncated_normal":
        return TruncatedNormal(p["loc"] * factor, p["scale"] * factor, p["a"], p["b"])
    if f == "constant":
        return Constant(p["value"] * factor)
    return None


def _base_shape(shape: tuple[int, ...], base: tuple, chunks: int, info: ParamInfo) -> tuple[int, ...]:
    out = list(shape)
    for axis, b in enumerate(base):
        if b is not None:
            out[axis] = b
    if chunks > 1:
        out[info.out_axis] //= chunks
    return tuple(out)


def _heads(modules: dict[str, nn.Module], layer: str) -> int | None:
    module = modules.get(layer)
    if isinstance(module, nn.MultiheadAttention):
        return module.num_heads
    parent = modules.get(layer.rsplit(".", 1)[0] if "." in layer else "")
    for attr in _HEAD_ATTRS:
        v = getattr(parent, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


# ------------------------------------------------------------------------------------- planning
def _plan_rows(model: nn.Module, p: Parametrization, structure: Structure, dims, sp_rows, base_model,
               heads: int | None) -> list[WidthRow]:
    modules = dict(model.named_modules())
    base_modules = dict(base_model.named_modules()) if isinstance(base_model, nn.Module) else {}
    params = dict(model.named_parameters())
    layer_m_in = {}
    for name, info in structure.params.items():
        b = dims.get(name) if dims is not None else None
        if info.kind == "weight" and info.in_axis is not None and b is not None and b[info.in_axis] is not None:
            layer_m_in[info.layer] = params[name].shape[info.in_axis] / b[info.in_axis]
    rows = []
    for name, info in structure.params.items():
        param = params[name]
        shape = tuple(param.shape)
        sp = sp_rows[name]
        chunks = len(info.chunks) if info.chunks and info.out_axis is not None else 1
        base = dims.get(name) if dims is not None else (None,) * len(shape)
        in_scales = None if info.in_axis is None else base[info.in_axis] is not None
        out_scales = info.out_axis is not None and base[info.out_axis] is not None
        m_in = shape[info.in_axis] / base[info.in_axis] if in_scales else 1.0
        m_out = shape[info.out_axis] / base[info.out_axis] if out_scales else 1.0
        cls = width_class(in_scales, out_scales)
        fan_in, fan_out = sp.fan_in, sp.fan_out
        block_roles = info.chunks if chunks > 1 else (info.role,)
        law_std = None
        reason = sp.reason
        if isinstance(p, MuP):
            scale = mup_scale(cls, m_in, m_out)
            scale = transform(scale, theta(p.form, cls, m_in, m_out))
        elif isinstance(p, UMuP):
            f_in = shape[info.in_axis] * math.prod(shape[2:]) if info.in_axis is not None and len(shape) > 1 else None
            f_out = shape[info.out_axis] // chunks if info.out_axis is not None else 1
            if info.kind == "weight" and info.role == "embedding":
                f_out = shape[info.out_axis]
            scale, law_std = umup_scale(info.role if info.role != "attention" else "hidden", info.kind, f_in, f_out)
        else:
            scale = Scale()
        mults = [scale.mult] * chunks
        # attention: logits q·kᵀ/d_head as a multiplier of the query (weight and bias alike)
        alpha, note = _query_multiplier(p, info, modules, base_modules, shape, base, chunks, heads)
        q_blocks = [i for i, r in enumerate(block_roles) if r == "attn_q"]
        if isinstance(modules[info.layer], nn.MultiheadAttention) and info.kind == "bias":
            q_blocks = []  # its query multiplier acts on W_q·x (a pre-hook on the query); b_q stays as it is
        fold = False
        if alpha != 1.0 and q_blocks:
            if chunks == 1 and isinstance(p, MuP) and p.form == "table3":
                scale = transform(Scale(scale.init, scale.mult * alpha, scale.adam, scale.sgd), 1.0 / alpha)
                mults = [scale.mult]
                fold = True
            else:
                for i in q_blocks:
                    mults[i] *= alpha
            reason += f"; attention 1/d: query × {alpha:.4g}" + (" (folded)" if fold else "") + note
        # a multiplier no hook can apply (a parameter used inside a fused function) is folded instead
        pname = name[len(info.layer) + 1:] if info.layer else name
        if any(m != 1.0 for m in mults) and not _hookable(modules[info.layer], pname):
            if len(set(mults)) > 1:
                raise InitlabError(f"{name} ({type(modules[info.layer]).__name__}): its blocks need different "
                                   f"multipliers {tuple(round(m, 4) for m in mults)}, which initlab cannot apply "
                                   "inside this layer; allowed: roles= that give it one role")
            scale = transform(Scale(scale.init, mults[0], scale.adam, scale.sgd), 1.0 / mults[0])
            mults = [1.0] * chunks
            reason += "; multiplier folded"
        # laws: the base scheme at the base shape, times the rule's factor
        zero = [False] * chunks
        if getattr(p, "zero_readout", False) and info.role == "readout":
            zero = [True] * chunks
        if getattr(p, "zero_query", False):
            zero = [z or r == "attn_q" and info.kind == "weight" for z, r in zip(zero, block_roles)]
        inits, stds = [], []
        fill_chunks = chunks if len(set(zero)) > 1 else sp.chunks
        for b in range(fill_chunks):
            if sp.initializer is None:
                inits.append(None)
                stds.append(None)
            elif zero[b] if fill_chunks == chunks else zero[0]:
                inits.append(Zeros())
                stds.append(0.0)
            elif isinstance(p, SP):
                inits.append(sp.initializer)
                stds.append(sp.std)
            elif law_std is not None:
                inits.append(RandomNormal(0.0, law_std))
                stds.append(law_std)
            else:
                law = sp.initializer
                if getattr(law, "fan_in", None) and layer_m_in.get(info.layer, 1.0) != 1.0:
                    # a bias drawn with its weight's fan_in (PyTorch's default): the base weight's fan_in
                    law = dataclasses.replace(law, fan_in=max(1, round(law.fan_in / layer_m_in[info.layer])))
                dist = law.distribution(_base_shape(shape, base, fill_chunks, info), **sp.fan_kwargs)
                init = _scaled(dist, scale.init)
                if init is None:
                    # a structured law (orthogonal …) is kept when at this shape it already has the rule's std
                    here = law.distribution(_base_shape(shape, (None,) * len(shape), fill_chunks, info),
                                            **sp.fan_kwargs)
                    if math.isclose(here.std, dist.std * scale.init, rel_tol=1e-9):
                        init = law
                if init is None:
                    raise InitlabError(f"init: {name!r} gets {sp.scheme!r} ({dist.family}), which has no width rule; "
                                       f"allowed: a normal, uniform, truncated normal or constant law for {p.name} "
                                       f"(init={{{info.layer!r}: 'he_normal'}}, for example)")
                inits.append(init)
                stds.append(dist.std * scale.init)
        if sp.initializer is None:
            reason = "left as is (no law for it)"
        std_blocks = tuple(stds) if fill_chunks == chunks else (stds[0],) * chunks
        rows.append(WidthRow(name, info.layer, info.role, info.kind, shape, fan_in, fan_out, cls, m_in, m_out,
                             std_blocks, tuple(mults), scale.adam, scale.sgd, sp.scheme, reason, tuple(inits),
                             fill_chunks, alpha if q_blocks and chunks == 1 else 1.0, tuple(getattr(sp, "tied", ())),
                             bool(getattr(sp, "guessed", False))))
    return rows


def _hookable(module: nn.Module, pname: str) -> bool:
    """Whether a forward multiplier on ``module.pname`` can act through a hook (see :mod:`.hooks`)."""
    if isinstance(module, nn.MultiheadAttention):
        return pname in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")
    return isinstance(module, hooks.SUPPORTED)


def _query_multiplier(p, info: ParamInfo, modules, base_modules, shape, base, chunks, heads) -> tuple[float, str]:
    roles = info.chunks if chunks > 1 else (info.role,)
    if "attn_q" not in roles or not getattr(p, "attention", True) or isinstance(p, SP):
        return 1.0, ""
    n_heads = _heads(modules, info.layer) or heads
    out = shape[info.out_axis] // chunks
    if isinstance(p, UMuP):
        if n_heads is None:
            raise InitlabError(f"heads: got None for attention layer {info.layer!r}; allowed: the number of heads "
                               "(u-μP's 1/d_head needs the head dimension; no num_heads attribute was found)")
        return (out // n_heads) ** -0.5, ""
    b = base[info.out_axis]
    if b is None:
        return 1.0, ""
    base_heads = _heads(base_modules, info.layer) if base_modules else None
    m_heads = (n_heads / base_heads) if (n_heads and base_heads) else 1.0
    m_head_dim = (out / (b // chunks)) / m_heads
    note = "" if n_heads else " (heads assumed fixed across widths)"
    return m_head_dim ** -0.5, note


def parametrize(model: nn.Module, parametrization: Any = "mup", *, base=None, delta=None, init: Any = "auto",
                bias: Any = None, roles: Mapping | None = None, heads: int | None = None, seed: int | None = None,
                generator=None, dry_run: bool = False, **options) -> WidthPlan:
    """Parametrize ``model`` for width: plan every parameter, draw it, install the forward multipliers.

    ``parametrization``: ``"sp"``, ``"mup"`` (Tensor Programs V), ``"umup"`` (u-μP), or a
    :class:`Parametrization`; ``options`` go to it (``form="table8"``, ``zero_readout=True`` …).
    ``base``: the base widths or base model (see :mod:`initlab.parametrize.base`); ``delta``: with a
    base model, a model differing from it in every width. ``init``/``bias``: the base scheme (as for
    :func:`initlab.initialize`, including a rules dict; ``bias=None`` is the scheme's own: zeros, or
    PyTorch's under ``"torch_default"``). ``roles``: role rules for
    :func:`initlab.model.structure.find_structure`. ``heads``: number of heads of attention layers that
    do not say it (``num_heads`` …). Randomness as :func:`initlab.initialize`: ``seed`` or ``generator``.

    Returns the :class:`WidthPlan`; ``dry_run=True`` changes nothing. On any error the model is left as
    it was (weights, hooks).

    >>> import torch.nn as nn, initlab
    >>> def mlp(w): return nn.Sequential(nn.Linear(8, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 3))
    >>> plan = initlab.parametrize(mlp(256), "mup", base=64, seed=0)
    >>> [(r.name, r.role, r.width_mult, round(r.lr_adam, 4)) for r in plan if r.kind == "weight"]
    [('0.weight', 'input', 4.0, 1.0), ('2.weight', 'hidden', 4.0, 0.25), ('4.weight', 'readout', 4.0, 0.25)]
    """
    if not isinstance(model, nn.Module):
        raise fail("model", type(model).__name__, "a torch.nn.Module")
    p = get_parametrization(parametrization, **options)
    check_exclusive(seed=seed, generator=generator)
    check_bool("dry_run", dry_run)
    heads = None if heads is None else check_int("heads", heads, minimum=1)
    structure = find_structure(model, roles)
    inner = p.inner(base is not None) if hasattr(p, "inner") else p  # depth parametrizations wrap SP or μP
    _check_tied(model, structure, inner)
    dims = None
    if isinstance(inner, MuP):
        dims = resolve_base(model, structure, base, delta)
    elif base is not None and not isinstance(inner, MuP):
        raise fail("base", type(base).__name__ if isinstance(base, nn.Module) else base,
                   f"None for {p.name} (only μP scales from a base)")
    sp_plan = init_plan(model, init, bias=bias)
    sp_rows = {r.name: r for r in sp_plan.rows}
    rows = _plan_rows(model, inner, structure, dims, sp_rows, base, heads)
    if inner is not p:
        from .depth import depth_rows

        rows = depth_rows(p, rows, structure, model)
    mults: dict[str, dict[str, tuple[float, ...]]] = {}
    for r in rows:
        pname = r.name[len(r.layer) + 1:] if r.layer else r.name
        mults.setdefault(r.layer, {})[pname] = r.mults
    planned = hooks.plan_hooks(model, mults)
    wplan = WidthPlan(rows, seed=seed, parametrization=p, structure=structure, model=weakref.ref(model))
    if dry_run:
        return wplan
    _fill(model, rows, seed, generator)
    hooks.install(model, planned)
    wplan.applied, wplan.hooks = True, len(planned)
    _PLANS[model] = wplan
    return wplan


def _check_tied(model: nn.Module, structure: Structure, p: Parametrization) -> None:
    """A parameter shared by layers of different roles (an embedding tied to the readout) has no single rule."""
    if isinstance(p, SP):
        return
    owner: dict[int, tuple[str, str]] = {}
    roles = {layer.name: layer.role for layer in structure.layers}
    for name, module in model.named_modules():
        for pname, param in module.named_parameters(recurse=False):
            full = f"{name}.{pname}" if name else pname
            if id(param) in owner and roles.get(owner[id(param)][0]) != roles.get(name):
                first = owner[id(param)][1]
                raise InitlabError(f"model: {full!r} is the same tensor as {first!r} ({roles.get(name)} and "
                                   f"{roles.get(owner[id(param)][0])}); allowed for {p.name}: untied weights (a tied "
                                   "embedding and readout, mup's MuSharedReadout, is not supported)")
            owner.setdefault(id(param), (name, full))


def _fill(model: nn.Module, rows: list[WidthRow], seed, generator) -> None:
    from ..schemes.engine import batched

    params = dict(model.named_parameters())
    with torch.no_grad(), batched():
        for row in rows:
            p = params[row.name]
            if row.fill_chunks == 1:
                if row.initializers[0] is not None:
                    row.initializers[0](p, seed=seed, generator=generator, key=row.name)
                continue
            for g, (block, init) in enumerate(zip(p.chunk(row.fill_chunks, dim=0), row.initializers)):
                if init is not None:
                    init(block, seed=seed, generator=generator, key=f"{row.name}#{g}")


_PLANS: "weakref.WeakKeyDictionary[nn.Module, WidthPlan]" = weakref.WeakKeyDictionary()


def param_groups(plan_or_model, optimizer: str = "adam", lr: float = 1e-3, *, weight_decay: float | None = None,
                 eps: float | None = None) -> list[dict]:
    """torch optimizer parameter groups for a :class:`WidthPlan` (or a model :func:`parametrize` was applied
    to): one group per learning-rate multiplier, with ``lr`` × that multiplier. ``optimizer``: ``"adam"``,
    ``"adamw"`` or ``"sgd"`` (Adam-like optimizers get the Adam column of the rules, SGD the SGD column).
    ``eps``: Adam's ε, given to each group × its ε multiplier (the depth parametrizations scale it)."""
    kind = check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_positive("lr", lr)
    if weight_decay is not None:
        weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
    if eps is not None:
        eps = check_positive("eps", eps)
    if isinstance(plan_or_model, WidthPlan):
        plan = plan_or_model
    elif isinstance(plan_or_model, nn.Module):
        plan = _PLANS.get(plan_or_model)
        if plan is None:
            raise fail("model", type(plan_or_model).__name__, "a model initlab.parametrize() was applied to, or its plan")
    else:
        raise fail("plan", type(plan_or_model).__name__, "a WidthPlan or a parametrized nn.Module")
    model = plan.model() if isinstance(plan.model, weakref.ref) else plan.model
    if model is None:
        raise fail("plan", "a plan whose model no longer exists", "a plan of a live model")
    params = dict(model.named_parameters())
    groups: dict[tuple, dict] = {}
    for row in plan.rows:
        mult = row.lr(kind)
        e = row.eps if eps is not None and kind != "sgd" else 1.0
        g = groups.setdefault((mult, e), {"params": [], "lr": lr * mult, "lr_mult": mult, "param_names": []})
        g["params"].append(params[row.name])
        g["param_names"].append(row.name)
        if weight_decay is not None:
            g["weight_decay"] = weight_decay / mult
        if eps is not None and kind != "sgd":
            g["eps"] = eps * e
    return list(groups.values())
