"""Which activation follows each parametric layer of a model.

Found by tracing with ``torch.fx`` when the model traces (this also sees functional calls such as
``F.relu(x)`` or ``x.tanh()`` inside ``forward``), else by module order: the first activation
module registered after the layer, skipping layers that do not change the choice (normalization,
dropout, flatten, pooling, identity) and stopping at the next parametric layer.

Every activation, its spellings and its parameters come from the catalogue
(:mod:`initlab.activations`); this module only finds them in a model.

>>> import torch.nn as nn
>>> acts = find_activations(nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 2)))
>>> acts["0"].label(), acts["0"].family, acts["2"].name
('leaky_relu(0.2)', 'he', None)
"""

from __future__ import annotations

import operator
import threading
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..activations import CATALOGUE, ActivationRow, find_row, row as catalogue_row

__all__ = ["Activation", "find_activations", "activation_of_module", "activation_of_row", "activation_name",
           "module_row", "ACTIVATION_MODULES", "PARAMETRIC", "NORMALIZATION", "NORMALIZATION_FUNCTIONS",
           "function_rows", "method_rows"]

PARAMETRIC = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
              nn.ConvTranspose3d, nn.Embedding, nn.RNNBase, nn.MultiheadAttention)

NORMALIZATION = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
                 nn.LocalResponseNorm, nn.RMSNorm)
"""Modules that normalize the signal's scale: after one, the scale no longer depends on the weights before it."""

NORMALIZATION_FUNCTIONS = (F.layer_norm, F.batch_norm, F.group_norm, F.instance_norm, F.rms_norm, F.normalize,
                           F.local_response_norm, torch.layer_norm, torch.batch_norm, torch.group_norm,
                           torch.instance_norm, torch.rms_norm)
"""The functional forms of :data:`NORMALIZATION`."""

_TRANSPARENT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity, nn.Flatten,
                nn.Unflatten, *NORMALIZATION, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
                nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)

ACTIVATION_MODULES: tuple[tuple[type[nn.Module], str], ...] = tuple(
    (cls, r.name) for r in CATALOGUE for cls in r.module_classes())
"""The activation modules of the catalogue, each with its row's name, in the order they are
tested (subclasses first)."""


def module_row(m) -> ActivationRow | None:
    """The catalogue row of the activation module ``m``, or None."""
    for cls, name in ACTIVATION_MODULES:
        if isinstance(m, cls):
            return catalogue_row(name)
    return None


def activation_name(m: nn.Module) -> str | None:
    """The catalogue name of the activation module ``m``, or None."""
    r = module_row(m)
    return r.name if r is not None else None


@lru_cache(maxsize=None)
def function_rows() -> dict:
    """``{callable: row}`` for every functional spelling of the catalogue (``F.relu``, ``torch.tanh_`` …)."""
    return {fn: r for r in CATALOGUE for fn in r.function_objects()}


@lru_cache(maxsize=None)
def method_rows() -> dict:
    """``{method name: row}`` for every ``Tensor`` method spelling (``"relu"``, ``"sigmoid_"`` …)."""
    return {m: r for r in CATALOGUE for m in r.methods}


_FAMILY = {"he_normal": "he", "glorot_normal": "xavier", "lecun_normal": "lecun"}


@dataclass(frozen=True)
class Activation:
    """An activation found after a layer: ``name`` as initialization reads it (the leaky family —
    leaky_relu, rrelu, prelu — as ``leaky_relu`` with its ``slope``), how it was found, and ``row``,
    its own name in the catalogue."""

    name: str | None
    slope: float = 0.0
    found_by: str = "none"
    row: str | None = None

    @property
    def family(self) -> str:
        """``he``, ``xavier``, ``lecun`` or ``none`` — the rule ``initialize(scheme="auto")`` applies,
        from the catalogue row's ``auto`` scheme."""
        if self.name is None:
            return "none"
        found = find_row(self.row or self.name)  # a non-elementwise output (softmax) is not in the catalogue
        return "none" if found is None else _FAMILY.get(found[0].auto, "none")

    def label(self) -> str:
        if self.name is None:
            return "-"
        return f"{self.name}({self.slope:g})" if self.name == "leaky_relu" else self.name


def activation_of_row(r: ActivationRow, params: dict, found_by: str = "none") -> Activation:
    """The :class:`Activation` of catalogue row ``r`` with ``params``: the leaky family as
    ``leaky_relu`` with its (mean) slope, any other row by its own name."""
    if r.slope is not None:
        return Activation("leaky_relu", r.slope(params), found_by, r.name)
    return Activation(r.name, 0.0, found_by, r.name)


def activation_of_module(m: nn.Module, found_by: str = "none") -> Activation | None:
    """The activation an ``nn.Module`` applies, or None if it is not an elementwise activation of the
    catalogue; the leaky family (LeakyReLU, RReLU at its mean slope, PReLU) as ``leaky_relu``."""
    r = module_row(m)
    return activation_of_row(r, r.module_params(m), found_by) if r is not None else None


_TRANSPARENT_FUNCS = {F.dropout, torch.flatten, *NORMALIZATION_FUNCTIONS, torch.reshape, operator.getitem,
                      F.max_pool1d, F.max_pool2d, F.avg_pool1d, F.avg_pool2d, F.adaptive_avg_pool2d,
                      F.adaptive_avg_pool1d}
_TRANSPARENT_METHODS = {"view", "reshape", "flatten", "permute", "transpose", "contiguous", "squeeze", "unsqueeze"}


# torch.fx traces by patching torch.nn.Module.__call__ and __getattr__ process-wide. Two traces at once
# (two threads initializing models) can leave the patch in place, after which every module call fails:
# initlab traces one model at a time. And while a trace runs, a module called in *another* thread (a run
# of the playground training while another is built) enters the tracer: fx_trace's tracer hands such
# calls back to the module untouched.
FX_TRACE_LOCK = threading.RLock()


def fx_trace(model: nn.Module):
    """``torch.fx.symbolic_trace(model)``, one trace at a time in this process (see FX_TRACE_LOCK), with a
    tracer that records only the calls of the thread tracing: other threads' modules run as usual."""
    import torch.fx

    class _ThisThreadTracer(torch.fx.Tracer):
        def __init__(self):
            super().__init__()
            self._thread = threading.get_ident()

        def call_module(self, m, forward, args, kwargs):
            if threading.get_ident() != self._thread:
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

        def getattr(self, attr, attr_val, parameter_proxy_cache):
            if threading.get_ident() != self._thread:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

    with FX_TRACE_LOCK:
        tracer = _ThisThreadTracer()
        graph = tracer.trace(model)
        return torch.fx.GraphModule(tracer.root, graph, type(model).__name__)


def _fx_activations(model: nn.Module) -> dict[str, Activation] | None:
    try:
        gm = fx_trace(model)
    except Exception:  # noqa: BLE001 - any tracing failure means "fall back to module order"
        return None
    modules = dict(gm.named_modules())
    functions, methods = function_rows(), method_rows()

    def classify(node) -> tuple[str, Activation | None]:
        """('act', a) | ('stop', None) | ('pass', None)"""
        if node.op == "call_module":
            m = modules.get(node.target)
            act = activation_of_module(m, "fx") if m is not None else None
            if act is not None:
                return "act", act
            return ("pass", None) if isinstance(m, _TRANSPARENT) else ("stop", None)
        if node.op == "call_function":
            r = functions.get(node.target)
            if r is not None:
                return "act", activation_of_row(r, r.call_params(node.args, node.kwargs), "fx")
            return ("pass", None) if node.target in _TRANSPARENT_FUNCS else ("stop", None)
        if node.op == "call_method":
            r = methods.get(node.target)
            if r is not None:
                return "act", activation_of_row(r, r.call_params(node.args, node.kwargs, method=True), "fx")
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
            act = activation_of_module(other, "module order")
            if act is not None:
                result = act
                break
            if not isinstance(other, _TRANSPARENT):
                break
        found[name] = result
    # nn.TransformerEncoderLayer/DecoderLayer keep their activation as a function attribute
    for name, m in model.named_modules():
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            fn = m.activation
            if isinstance(fn, nn.Module):
                act = activation_of_module(fn, "module attribute")
            else:
                r = function_rows().get(fn)
                act = activation_of_row(r, r.defaults(), "module attribute") if r is not None else None
            if act is not None:
                found[f"{name}.linear1" if name else "linear1"] = act
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
