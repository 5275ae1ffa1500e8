"""Which activation follows each parametric layer of a model.

Found by tracing with ``torch.fx`` when the model traces (this also sees functional calls such as
``F.relu(x)`` or ``x.tanh()`` inside ``forward``), else by module order: the first activation
module registered after the layer, skipping layers that do not change the choice (normalization,
dropout, flatten, pooling, identity) and stopping at the next parametric layer.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Activation", "find_activations", "activation_of_module", "activation_name", "ACTIVATION_MODULES",
           "PARAMETRIC"]

PARAMETRIC = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
              nn.ConvTranspose3d, nn.Embedding, nn.RNNBase, nn.MultiheadAttention)

_TRANSPARENT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity, nn.Flatten,
                nn.Unflatten, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
                nn.modules.instancenorm._InstanceNorm, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
                nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)

ACTIVATION_MODULES: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.ReLU6, "relu6"),  # a subclass of Hardtanh: tested first
    (nn.Hardtanh, "hardtanh"), (nn.ReLU, "relu"), (nn.LeakyReLU, "leaky_relu"), (nn.PReLU, "prelu"),
    (nn.RReLU, "rrelu"), (nn.ELU, "elu"), (nn.CELU, "celu"), (nn.SELU, "selu"), (nn.GELU, "gelu"),
    (nn.SiLU, "silu"), (nn.Mish, "mish"), (nn.Hardswish, "hardswish"), (nn.Softplus, "softplus"),
    (nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid"), (nn.Softsign, "softsign"), (nn.Hardsigmoid, "hardsigmoid"))
"""The elementwise activation modules initlab knows, each with its name, in the order they are tested
(subclasses first). Initialization (the gain), diagnostics (saturation, dead units) and theory (the
modules it can integrate) all read this one table."""


def activation_name(m: nn.Module) -> str | None:
    """The name in :data:`ACTIVATION_MODULES` of the activation module ``m``, or None."""
    for cls, name in ACTIVATION_MODULES:
        if isinstance(m, cls):
            return name
    return None


_HE_FAMILY = ("relu", "relu6", "leaky_relu", "elu", "celu", "gelu", "silu", "mish", "hardswish", "softplus")
_XAVIER_FAMILY = ("tanh", "sigmoid", "softsign", "hardtanh", "hardsigmoid")


@dataclass(frozen=True)
class Activation:
    """An activation found after a layer: ``name`` (e.g. ``relu``), the leaky slope, and how it was found."""

    name: str | None
    slope: float = 0.0
    found_by: str = "none"

    @property
    def family(self) -> str:
        """``he``, ``xavier``, ``lecun`` or ``none`` — the rule ``initialize(scheme="auto")`` applies."""
        if self.name in _HE_FAMILY:
            return "he"
        if self.name in _XAVIER_FAMILY:
            return "xavier"
        if self.name == "selu":
            return "lecun"
        return "none"

    def label(self) -> str:
        if self.name is None:
            return "-"
        return f"{self.name}({self.slope:g})" if self.name == "leaky_relu" else self.name


def activation_of_module(m: nn.Module) -> Activation | None:
    """The activation an ``nn.Module`` applies, or None if it is not an elementwise activation; the
    leaky family (LeakyReLU, RReLU at its mean slope, PReLU) as ``leaky_relu`` with its slope."""
    if isinstance(m, nn.LeakyReLU):
        return Activation("leaky_relu", float(m.negative_slope))
    if isinstance(m, nn.RReLU):
        return Activation("leaky_relu", (m.lower + m.upper) / 2)
    if isinstance(m, nn.PReLU):
        w = m.weight
        slope = float(m.init) if w.is_meta else float(w.detach().float().mean())
        return Activation("leaky_relu", slope)
    name = activation_name(m)
    return Activation(name) if name is not None else None


_FUNCTIONS = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.elu: "elu", F.celu: "celu", F.gelu: "gelu",
    F.silu: "silu", F.mish: "mish", F.hardswish: "hardswish", F.softplus: "softplus", torch.tanh: "tanh",
    F.tanh: "tanh", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.softsign: "softsign",
    F.hardtanh: "hardtanh", F.hardsigmoid: "hardsigmoid", F.selu: "selu", torch.selu: "selu",
    F.leaky_relu: "leaky_relu", F.relu_: "relu", torch.relu_: "relu",
}
_METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "tanh_": "tanh", "sigmoid": "sigmoid",
            "sigmoid_": "sigmoid"}
_TRANSPARENT_FUNCS = {F.dropout, torch.flatten, F.layer_norm, F.batch_norm, F.group_norm, torch.reshape,
                      operator.getitem, F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d,
                      F.adaptive_avg_pool2d, F.adaptive_avg_pool1d}
_TRANSPARENT_METHODS = {"view", "reshape", "flatten", "permute", "transpose", "contiguous", "squeeze", "unsqueeze"}


def _fx_activations(model: nn.Module) -> dict[str, Activation] | None:
    try:
        import torch.fx

        gm = torch.fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - any tracing failure means "fall back to module order"
        return None
    modules = dict(gm.named_modules())

    def classify(node) -> tuple[str, Activation | None]:
        """('act', a) | ('stop', None) | ('pass', None)"""
        if node.op == "call_module":
            m = modules.get(node.target)
            act = activation_of_module(m) if m is not None else None
            if act is not None:
                return "act", Activation(act.name, act.slope, "fx")
            if isinstance(m, _TRANSPARENT):
                return "pass", None
            return "stop", None
        if node.op == "call_function":
            if node.target in _FUNCTIONS:
                name = _FUNCTIONS[node.target]
                slope = 0.0
                if name == "leaky_relu":
                    slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
                    slope = float(slope) if isinstance(slope, (int, float)) else 0.01
                return "act", Activation(name, slope, "fx")
            if node.target in _TRANSPARENT_FUNCS:
                return "pass", None
            return "stop", None
        if node.op == "call_method":
            if node.target in _METHODS:
                return "act", Activation(_METHODS[node.target], 0.0, "fx")
            if node.target in _TRANSPARENT_METHODS:
                return "pass", None
        return "stop", None

    found: dict[str, Activation] = {}
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), PARAMETRIC):
            continue
        frontier, seen, result = list(node.users), set(), None
        while frontier and result is None:
            nxt = []
            for u in frontier:
                if u in seen:
                    continue
                seen.add(u)
                kind, act = classify(u)
                if kind == "act":
                    result = act
                    break
                if kind == "pass":
                    nxt.extend(u.users)
            frontier = nxt
        found[node.target] = result or Activation(None, 0.0, "fx")
    return found


def _order_activations(model: nn.Module) -> dict[str, Activation]:
    leaves = [(n, m) for n, m in model.named_modules() if n and (not list(m.children()) or isinstance(m, PARAMETRIC))]
    found: dict[str, Activation] = {}
    for i, (name, m) in enumerate(leaves):
        if not isinstance(m, PARAMETRIC):
            continue
        result = Activation(None, 0.0, "module order")
        for other_name, other in leaves[i + 1:]:
            if other_name.startswith(name + "."):
                continue  # a submodule of this layer (e.g. MultiheadAttention.out_proj)
            act = activation_of_module(other)
            if act is not None:
                result = Activation(act.name, act.slope, "module order")
                break
            if not isinstance(other, _TRANSPARENT):
                break
        found[name] = result
    # nn.TransformerEncoderLayer/DecoderLayer keep their activation as a function attribute
    for name, m in model.named_modules():
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            fn = m.activation
            act = activation_of_module(fn) if isinstance(fn, nn.Module) else (
                Activation(_FUNCTIONS[fn]) if fn in _FUNCTIONS else None)
            if act is not None:
                found[f"{name}.linear1" if name else "linear1"] = Activation(act.name, act.slope, "module attribute")
            # what torch.nn's forward does after linear2: dropout and the residual sum, no activation
            found[f"{name}.linear2" if name else "linear2"] = Activation(None, 0.0, "module structure")
        if isinstance(m, nn.MultiheadAttention):  # out_proj's output is the attention's output
            found[f"{name}.out_proj" if name else "out_proj"] = Activation(None, 0.0, "module structure")
    return found


def find_activations(model: nn.Module) -> dict[str, Activation]:
    """Map each parametric module's qualified name to the :class:`Activation` that follows it."""
    by_order = _order_activations(model)
    by_fx = _fx_activations(model)
    if by_fx is None:
        return by_order
    # modules fx did not reach (e.g. inside a leaf it does not trace into) keep the module-order answer
    return {**by_order, **by_fx}
