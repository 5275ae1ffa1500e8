"""What a probe can observe in a network: activation modules, functional activations and the
layers that carry weights, with the rules that say when an activation is saturated or dead.

Saturation — the output sits on a flat part of the activation, where its derivative is about 0
(Glorot & Bengio 2010, section 3):

=================  ==========================================================
tanh, softsign     ``|y| > 0.99``
sigmoid            ``y < 0.01`` or ``y > 0.99``
hardtanh           ``y <= min_val`` or ``y >= max_val`` (the clipped ends)
relu6              ``y >= 6`` (the lower end is counted as dead, not saturated)
hardsigmoid        ``y <= 0`` or ``y >= 1``
elu, celu          ``y < -0.99·alpha`` (within 1 % of the negative asymptote)
selu               ``y < -0.99·λα`` with λα = 1.0507…·1.6733… ≈ 1.7581 (Klambauer et al. 2017)
others             not defined (relu, leaky_relu, gelu, silu, softplus …: NaN)
=================  ==========================================================

Dead — a unit of a ReLU-family activation (relu, relu6) whose output is exactly 0 for every
sample of the batch (and every position, for convolutions): it passes no gradient at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InitlabError
from ..model.activations import activation_name

__all__ = ["ActSpec", "module_activation", "FUNCTIONAL", "is_weight_layer", "feature_dim", "unit_weights",
           "check_layer_input", "weight_of", "SELU_SCALE", "SELU_ALPHA"]

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

DEAD_FAMILY = ("relu", "relu6")


@dataclass(frozen=True)
class ActSpec:
    """An activation seen in a forward pass: its name and the flat ends of its graph.

    ``lo``/``hi``: outputs below ``lo`` or above ``hi`` are saturated (``inclusive``: at or beyond);
    ``None`` means that side never saturates.
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    inclusive: bool = False

    @property
    def has_saturation(self) -> bool:
        return self.lo is not None or self.hi is not None

    @property
    def can_die(self) -> bool:
        return self.name in DEAD_FAMILY

    def saturated(self, y: Tensor) -> Tensor:
        """A boolean tensor: which outputs lie on a flat end (only for ``has_saturation``)."""
        below = above = None
        if self.lo is not None:
            below = y <= self.lo if self.inclusive else y < self.lo
        if self.hi is not None:
            above = y >= self.hi if self.inclusive else y > self.hi
        if below is None:
            return above
        if above is None:
            return below
        return below.logical_or_(above)


def _spec(name: str, **params) -> ActSpec:
    if name in ("tanh", "softsign"):
        return ActSpec(name, -0.99, 0.99)
    if name == "sigmoid":
        return ActSpec(name, 0.01, 0.99)
    if name == "hardtanh":
        return ActSpec(name, float(params.get("min_val", -1.0)), float(params.get("max_val", 1.0)), True)
    if name == "relu6":
        return ActSpec(name, None, 6.0, True)
    if name == "hardsigmoid":
        return ActSpec(name, 0.0, 1.0, True)
    if name in ("elu", "celu"):
        return ActSpec(name, -0.99 * float(params.get("alpha", 1.0)), None)
    if name == "selu":
        return ActSpec(name, -0.99 * SELU_SCALE * SELU_ALPHA, None)
    return ActSpec(name)


def module_activation(m: nn.Module) -> ActSpec | None:
    """The activation an ``nn.Module`` applies elementwise, or None."""
    name = activation_name(m)
    if name == "hardtanh":
        return _spec(name, min_val=m.min_val, max_val=m.max_val)
    if name in ("elu", "celu"):
        return _spec(name, alpha=m.alpha)
    return _spec(name) if name is not None else None


def _arg(args, kwargs, pos: int, key: str, default):
    if key in kwargs:
        return kwargs[key]
    return args[pos] if len(args) > pos else default


def _plain(name):
    return lambda args, kwargs: _spec(name)


def _hardtanh(args, kwargs):
    return _spec("hardtanh", min_val=_arg(args, kwargs, 1, "min_val", -1.0),
                 max_val=_arg(args, kwargs, 2, "max_val", 1.0))


def _alpha(name):
    return lambda args, kwargs: _spec(name, alpha=_arg(args, kwargs, 1, "alpha", 1.0))


def _functional_table() -> dict:
    table = {}
    for name, fns in {
        "relu": (F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_),
        "relu6": (F.relu6,),
        "leaky_relu": (F.leaky_relu, F.leaky_relu_),
        "rrelu": (F.rrelu, F.rrelu_),
        "selu": (F.selu, torch.selu, torch.selu_),
        "gelu": (F.gelu,),
        "silu": (F.silu,),
        "mish": (F.mish,),
        "tanh": (torch.tanh, F.tanh, torch.tanh_, Tensor.tanh, Tensor.tanh_),
        "sigmoid": (torch.sigmoid, F.sigmoid, torch.sigmoid_, Tensor.sigmoid, Tensor.sigmoid_),
        "softsign": (F.softsign,),
        "softplus": (F.softplus,),
        "hardsigmoid": (F.hardsigmoid,),
        "hardswish": (F.hardswish,),
    }.items():
        for fn in fns:
            table[fn] = _plain(name)
    for fn in (F.hardtanh, F.hardtanh_):
        table[fn] = _hardtanh
    for fn in (F.elu, F.elu_, torch.celu, torch.celu_, F.celu):
        name = "celu" if "celu" in fn.__name__ else "elu"
        table[fn] = _alpha(name)
    return table


FUNCTIONAL = _functional_table()
"""Functional activations a probe records: callable -> ``(args, kwargs) -> ActSpec``."""


def weight_of(m: nn.Module) -> Tensor | None:
    """The module's own ``weight`` parameter, if it has one."""
    w = m._parameters.get("weight")
    return w if isinstance(w, Tensor) else None


def is_weight_layer(m: nn.Module) -> bool:
    """A layer whose own ``weight`` has two or more dimensions (Linear, Conv, Embedding …)."""
    w = weight_of(m)
    return w is not None and w.dim() >= 2 and module_activation(m) is None


_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
                  nn.modules.instancenorm._InstanceNorm)


def feature_dim(m: nn.Module) -> int:
    """The axis of a module's output that indexes its units: 1 for convolutions and channel
    normalizations (N, C, …), the last axis for everything else (N, …, features)."""
    return 1 if isinstance(m, _CHANNEL_FIRST) else -1


def unit_weights(m: nn.Module) -> tuple[Tensor, Tensor | None] | None:
    """Each output unit's incoming weights as the rows of a (units, k) matrix, and its bias.

    Linear, Bilinear, Conv: ``weight[u]``; ConvTranspose (weight stored (in, out/groups, *k)):
    the slice of the unit's group; Embedding: the column ``weight[:, u]``; BatchNorm, GroupNorm,
    InstanceNorm and 1-D LayerNorm: the scale ``weight[u]``. None for anything else.
    """
    w, b = weight_of(m), m._parameters.get("bias")
    if w is None:
        return None
    if isinstance(m, nn.modules.conv._ConvTransposeNd):
        g = m.groups
        in_g, out_g = w.shape[0] // g, w.shape[1]
        rows = w.detach().reshape(g, in_g, out_g, -1).permute(0, 2, 1, 3).reshape(g * out_g, -1)
    elif isinstance(m, (nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd)):
        rows = w.detach().reshape(w.shape[0], -1)
    elif isinstance(m, nn.Embedding):
        rows = w.detach().t()
    elif isinstance(m, _CHANNEL_FIRST + (nn.LayerNorm,)) and w.dim() == 1:
        rows = w.detach().unsqueeze(1)
    else:
        return None
    return rows, (b.detach() if isinstance(b, Tensor) else None)


def check_layer_input(name: str, m: nn.Module, args: tuple, model_input_shape: tuple) -> None:
    """Raise an :class:`InitlabError` naming the layer when its input cannot have the right shape."""
    x = args[0] if args else None
    if not isinstance(x, Tensor):
        return
    got = tuple(x.shape)
    where = f"inputs: layer {name!r} ({type(m).__name__})"
    tail = f"; got a tensor of shape {got} there (the batch given has shape {model_input_shape})"
    if isinstance(m, nn.Linear):
        if x.dim() == 0 or x.shape[-1] != m.in_features:
            raise InitlabError(f"{where} expects a last dimension of {m.in_features} (its in_features){tail}")
    elif isinstance(m, nn.modules.conv._ConvNd):
        d = len(m.kernel_size)
        if x.dim() not in (d + 1, d + 2) or x.shape[-(d + 1)] != m.in_channels:
            spatial = ", ".join(["L", "H, W", "D, H, W"][d - 1].split(", "))
            raise InitlabError(f"{where} expects (N, {m.in_channels}, {spatial}) with {m.in_channels} input "
                               f"channels{tail}")
    elif isinstance(m, nn.Embedding):
        if x.is_floating_point() or x.is_complex():
            raise InitlabError(f"{where} expects integer indices{tail} and dtype {x.dtype}")
