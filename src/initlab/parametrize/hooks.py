"""Forward multipliers without rewriting the model: forward hooks, removable, one set per model.

A layer whose parameters carry multipliers computes ``y = α_w·(W x) + α_b·b`` instead of ``W x + b``.
The hook rewrites the layer's own output as ``y ← α_w·y + (α_b − α_w)·b`` — exact for every layer that
is affine in its weight (Linear, Conv, ConvTranspose, Embedding, the normalization layers' scale and
shift) — so gradients reach ``W`` and ``b`` scaled by their multipliers and the input's gradient by
``α_w``, as in a model written with the multipliers. Multipliers per block of a packed projection
(``α`` for the query block only) are vectors along the feature axis.

``nn.MultiheadAttention`` computes its projections inside one function, so its multipliers act on
its inputs instead: a forward pre-hook multiplies ``query``, ``key`` and ``value`` by the q, k, v
blocks' weight multipliers (``in_proj_bias`` is not scaled), and a forward hook applies the output
projection's multiplier to the first output.

Hooks are registered on the layers, kept per model, and removed by :func:`remove` (and replaced by
the next :func:`initlab.parametrize` of the same model). They run under ``torch.func.functional_call``
too; a model traced with ``torch.fx`` after parametrizing does not keep them.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn as nn

from ..errors import InitlabError
from ..model.structure import NORM_TYPES

__all__ = ["install", "remove", "installed", "SUPPORTED"]

_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
                  nn.modules.instancenorm._InstanceNorm)
SUPPORTED = (nn.Linear, nn.modules.conv._ConvNd, nn.Embedding, nn.MultiheadAttention, *NORM_TYPES)
"""Layer types forward multipliers can act on."""

_REGISTRY: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()


def _vector(mults: tuple[float, ...], size: int, like: torch.Tensor) -> torch.Tensor | float:
    if len(mults) == 1:
        return mults[0]
    block = size // len(mults)
    return torch.tensor(mults, dtype=like.dtype, device=like.device).repeat_interleave(block)


class _Affine:
    """``y ← α_w·y + (α_b − α_w)·b`` on a layer's output (vectors along the feature axis for packed layers)."""

    def __init__(self, w_mult: tuple[float, ...], b_mult: tuple[float, ...] | None):
        self.w_mult, self.b_mult = w_mult, b_mult

    def __call__(self, module, inputs, output):
        channel_first = isinstance(module, _CHANNEL_FIRST)
        features = output.shape[1] if channel_first else output.shape[-1]
        aw = _vector(self.w_mult, features, output)
        bias = getattr(module, "bias", None)
        if bias is None or self.b_mult is None or self.b_mult == self.w_mult:
            scale = aw
            if isinstance(scale, torch.Tensor) and channel_first:
                scale = scale.view(1, -1, *([1] * (output.dim() - 2)))
            return output * scale
        ab = _vector(self.b_mult, features, output)
        shift = (ab - aw) * bias
        if isinstance(aw, torch.Tensor) and channel_first:
            aw = aw.view(1, -1, *([1] * (output.dim() - 2)))
        if channel_first:
            shift = shift.reshape(1, -1, *([1] * (output.dim() - 2)))
        return output * aw + shift


class _AttentionInputs:
    """Multiply ``nn.MultiheadAttention``'s query, key and value by the q, k, v weight multipliers."""

    def __init__(self, mults: tuple[float, float, float]):
        self.mults = mults

    def __call__(self, module, args, kwargs):
        names = ("query", "key", "value")
        args = list(args)
        for i, (name, m) in enumerate(zip(names, self.mults)):
            if m == 1.0:
                continue
            if i < len(args):
                args[i] = args[i] * m
            elif name in kwargs:
                kwargs[name] = kwargs[name] * m
        return tuple(args), kwargs


class _AttentionOutput:
    def __init__(self, w_mult: float, b_mult: float):
        self.affine = _Affine((w_mult,), (b_mult,))

    def __call__(self, module, inputs, output):
        first = self.affine(module.out_proj, inputs, output[0])
        return (first, *output[1:])


def _check_supported(name: str, module: nn.Module) -> None:
    if not isinstance(module, SUPPORTED):
        raise InitlabError(f"layer {name!r} ({type(module).__name__}): forward multipliers act on Linear, Conv, "
                           "Embedding, MultiheadAttention and normalization layers only; allowed: form='table3' "
                           "(multipliers folded into the initialization and learning rate)")


def plan_hooks(model: nn.Module, mults: dict[str, dict[str, tuple[float, ...]]]) -> list[tuple[str, str, object]]:
    """The hooks for ``{layer: {param name: multipliers per block}}`` (checked, nothing registered):
    ``[(layer, 'forward' | 'pre', hook)]``."""
    modules = dict(model.named_modules())
    planned = []
    for layer, by_param in mults.items():
        if all(all(m == 1.0 for m in v) for v in by_param.values()):
            continue
        module = modules[layer]
        owner = layer.rsplit(".", 1)[0] if "." in layer else ""
        if owner in modules and isinstance(modules[owner], nn.MultiheadAttention) and layer.endswith("out_proj") \
                and layer != owner:
            w = by_param.get("weight", (1.0,))[0]
            b = by_param.get("bias", (w,))[0]
            planned.append((owner, "forward", _AttentionOutput(w, b)))
            continue
        _check_supported(layer, module)
        if isinstance(module, nn.MultiheadAttention):
            if "in_proj_weight" in by_param:
                q, k, v = by_param["in_proj_weight"]
            else:
                q, k, v = (by_param.get(f"{c}_proj_weight", (1.0,))[0] for c in "qkv")
            planned.append((layer, "pre", _AttentionInputs((q, k, v))))
            continue
        w = by_param.get("weight", (1.0,))
        b = by_param.get("bias")
        planned.append((layer, "forward", _Affine(w, b)))
    return planned


def install(model: nn.Module, planned: list[tuple[str, str, object]]) -> None:
    """Remove the model's previous initlab hooks and register ``planned`` (from :func:`plan_hooks`)."""
    remove(model)
    modules = dict(model.named_modules())
    handles = []
    try:
        for layer, kind, hook in planned:
            module = modules[layer]
            if kind == "pre":
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
            else:
                handles.append(module.register_forward_hook(hook))
    except Exception:
        for h in handles:
            h.remove()
        raise
    if handles:
        _REGISTRY[model] = handles


def remove(model: nn.Module) -> int:
    """Remove the forward multipliers :func:`initlab.parametrize` put on ``model``; returns how many hooks."""
    handles = _REGISTRY.pop(model, [])
    for h in handles:
        h.remove()
    return len(handles)


def installed(model: nn.Module) -> int:
    """How many initlab multiplier hooks ``model`` has."""
    return len(_REGISTRY.get(model, []))
