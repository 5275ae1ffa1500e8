"""What a probe can observe in a network: activation modules, functional activations and the
layers that carry weights, with the rules that say when an activation is saturated or dead. The
activations, their spellings and both rules are the catalogue's (:mod:`initlab.activations`: the
``saturation`` and ``dies`` fields of each row); as they stand:

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
from functools import lru_cache

import torch
from torch import Tensor, nn

from ..activations import SELU_ALPHA, SELU_SCALE, ActivationRow, find_row
from ..errors import InitlabError
from ..model.activations import NORMALIZATION, NORMALIZATION_FUNCTIONS, function_rows, method_rows, module_row

__all__ = ["ActSpec", "activation_spec", "module_activation", "FUNCTIONAL", "NORM_FUNCTIONS", "is_weight_layer",
           "feature_dim", "unit_weights", "check_layer_input", "weight_of", "layer_fans", "is_normalization",
           "SELU_SCALE", "SELU_ALPHA"]


@dataclass(frozen=True)
class ActSpec:
    """An activation seen in a forward pass: its name and the flat ends of its graph.

    ``lo``/``hi``: outputs below ``lo`` or above ``hi`` are saturated (``inclusive``: at or beyond);
    ``None`` means that side never saturates. ``can_die``: a unit that outputs exactly 0 for the
    whole batch passes no gradient.
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    inclusive: bool = False
    can_die: bool = False

    @property
    def has_saturation(self) -> bool:
        return self.lo is not None or self.hi is not None

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


def _spec(r: ActivationRow, params: dict) -> ActSpec:
    lo = hi = None
    inclusive = False
    if r.saturation is not None:
        lo, hi, inclusive = r.saturation(params)
    return ActSpec(r.name, lo, hi, inclusive, r.dies)


def activation_spec(name: str, params: dict | None = None) -> ActSpec | None:
    """The :class:`ActSpec` of the catalogue activation ``name`` (or alias) with ``params`` (the rest
    at their defaults), or None for a name outside the catalogue (``softmax`` …). For probes of
    other frameworks' models, which name the activation they saw.

    >>> activation_spec("tanh").hi, activation_spec("elu", {"alpha": 2.0}).lo, activation_spec("softmax")
    (0.99, -1.98, None)
    """
    hit = find_row(name)
    if hit is None:
        return None
    r, implied = hit
    return _spec(r, {**r.defaults(), **implied, **(params or {})})


def module_activation(m: nn.Module) -> ActSpec | None:
    """The activation an ``nn.Module`` applies elementwise (a catalogue row), or None."""
    r = module_row(m)
    return _spec(r, {**r.defaults(), **r.module_params(m)}) if r is not None else None


@lru_cache(maxsize=None)
def _plain_spec(r: ActivationRow) -> ActSpec:
    return _spec(r, r.defaults())


def _handler(r: ActivationRow, method: bool):
    if not r.params:
        spec = _plain_spec(r)
        return lambda args, kwargs: spec
    return lambda args, kwargs: _spec(r, r.call_params(args, kwargs, method=method))


def _functional_table() -> dict:
    import torch

    table = {fn: _handler(r, False) for fn, r in function_rows().items()}
    table.update({getattr(torch.Tensor, name): _handler(r, True) for name, r in method_rows().items()})
    return table


FUNCTIONAL = _functional_table()
"""Functional and method activations a probe records (every spelling in the catalogue):
callable -> ``(args, kwargs) -> ActSpec``."""

NORM_FUNCTIONS = frozenset(NORMALIZATION_FUNCTIONS)
"""Functional normalizations a probe notes (the signal's scale is reset there)."""


def is_normalization(m: nn.Module) -> bool:
    """A module that normalizes the signal's scale (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm …)."""
    return isinstance(m, NORMALIZATION)


def weight_of(m: nn.Module) -> Tensor | None:
    """The module's own ``weight`` parameter, if it has one."""
    w = m._parameters.get("weight")
    return w if isinstance(w, Tensor) else None


def layer_fans(m: nn.Module) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a weight layer's ``weight`` as initialization counts them
    (:func:`initlab.compute_fans`: per group for convolutions, axes swapped for transposed ones)."""
    from ..schemes.fans import compute_fans

    w = weight_of(m)
    kwargs = {}
    if isinstance(m, nn.modules.conv._ConvNd):
        kwargs = {"groups": m.groups, "transposed": isinstance(m, nn.modules.conv._ConvTransposeNd)}
    try:
        fans = compute_fans(tuple(w.shape), **kwargs)
    except (InitlabError, ValueError, ZeroDivisionError):
        return float("nan"), float("nan")
    return fans.fan_in, fans.fan_out


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
    head = (f"inputs: got a tensor of shape {got}, dtype {x.dtype} at layer {name!r} ({type(m).__name__}) from a "
            f"batch of shape {model_input_shape}; allowed: ")
    w = getattr(m, "weight", None)
    stock = type(m).forward in (nn.Linear.forward, nn.Conv1d.forward, nn.Conv2d.forward, nn.Conv3d.forward)
    if stock and isinstance(w, Tensor) and not isinstance(
            w, nn.parameter.UninitializedParameter) and x.dtype != w.dtype and not x.is_complex() and not (
            x.is_floating_point() and torch.is_autocast_enabled(x.device.type)):
        raise InitlabError(f"{head}a tensor of the layer's dtype there, {w.dtype} (cast the batch or the model)")
    if isinstance(m, nn.Linear):
        if x.dim() == 0 or x.shape[-1] != m.in_features:
            raise InitlabError(f"{head}a last dimension of {m.in_features} there (its in_features)")
    elif isinstance(m, nn.modules.conv._ConvNd):
        d = len(m.kernel_size)
        if x.dim() not in (d + 1, d + 2) or x.shape[-(d + 1)] != m.in_channels:
            spatial = ["L", "H, W", "D, H, W"][d - 1]
            raise InitlabError(f"{head}(N, {m.in_channels}, {spatial}) there, {m.in_channels} input channels")
    elif isinstance(m, nn.Embedding):
        if x.is_floating_point() or x.is_complex():
            raise InitlabError(f"{head}integer indices there")
