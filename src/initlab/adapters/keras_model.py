"""Whole Keras 3 models: ``initlab.initialize(keras_model, "auto", seed=…)`` and ``initlab.plan(...)``.

The plan is the one :class:`~initlab.model.plan.InitPlan` table (a row per variable: name = the
variable's path, fans, the activation found, scheme, std, why), with the rules of
``scheme="auto"`` of :mod:`initlab.model.plan`:

================================================== ===============================================
Keras layer                                        variables
================================================== ===============================================
Dense, Conv1D/2D/3D (``groups``), Conv*DTranspose,  the kernel by the activation that follows: the
DepthwiseConv1D/2D, SeparableConv1D/2D              layer's ``activation`` argument, else the
                                                    Activation/ReLU/LeakyReLU/PReLU/ELU/Softmax
                                                    layer that follows (through dropout, noise,
                                                    normalization, pooling, flatten, reshape)
LSTM / GRU / SimpleRNN (and in Bidirectional)       kernel ``glorot_uniform`` per gate, recurrent
                                                    kernel ``orthogonal`` per gate; LSTM's forget-gate
                                                    bias stays 1 when ``unit_forget_bias`` (Keras's
                                                    default, Jozefowicz et al. 2015)
Embedding                                           N(0, 1) (the torch rule's table)
BatchNormalization / LayerNormalization /           gamma ones, beta zeros; moving statistics kept
GroupNormalization
every bias                                          ``bias=`` (default zeros)
================================================== ===============================================

Fans follow each layer's math (:mod:`initlab.adapters._layout`): per group, transposed convs with
their axes swapped, depthwise kernels as grouped convs, gates per block (``gates="whole"`` takes
Keras's whole-kernel fans instead). ``rules`` keys are Keras layer classes or fnmatch patterns
over layer names and variable paths. The plan is resolved and every value drawn before anything
is written, so an error leaves the model unchanged. Values: initlab's seeded engine, the stream of
each variable keyed by its path (``seed=None``: a fresh seed from Python's ``random``).
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Mapping

import numpy as np

from ..errors import InitlabError, check_choice, fail, suggest
from ..activations import keras_row
from ..model.activations import Activation, activation_of_row
from ..model.plan import InitPlan, PlanRow, auto_initializer
from ..schemes.initializers import (GlorotUniform, Ones, Orthogonal, RandomNormal, TorchDefault, VarianceScaling,
                                    Zeros)
from ..schemes.registry import get
from ._layout import resolve
from ._sample import ENGINE_DTYPES, fresh_seed, numpy_values

__all__ = ["plan", "initialize", "apply", "probe", "lsuv", "saved_state", "fix_rules", "activation_after", "weights_of",
           "variable_fans"]

_KEEP = "keep"

def _keras():
    import keras

    return keras


def _layers():
    return _keras().layers


# -- which variables a layer has, and their kind ----------------------------------------------------
def weights_of(layer) -> list[tuple[Any, str, dict]]:
    """``[(variable, role, layout hints)]`` for a layer initlab knows; role is ``kernel``,
    ``recurrent``, ``bias``, ``embedding``, ``scale``, ``shift`` or ``other`` (left as is)."""
    L = _layers()
    out = []

    def add(var, role, **hints):
        if var is not None:
            out.append((var, role, hints))

    if isinstance(layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)):
        add(layer.kernel, "kernel", kind="conv_transpose")
        add(getattr(layer, "bias", None), "bias")
    elif isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        add(layer.kernel, "kernel", kind="depthwise")
        add(getattr(layer, "bias", None), "bias")
    elif isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):
        add(layer.depthwise_kernel, "kernel", kind="depthwise")
        add(layer.pointwise_kernel, "kernel")
        add(getattr(layer, "bias", None), "bias")
    elif isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        add(layer.kernel, "kernel", groups=int(getattr(layer, "groups", 1)))
        add(getattr(layer, "bias", None), "bias")
    elif isinstance(layer, L.Dense):
        add(layer.kernel, "kernel")
        add(getattr(layer, "bias", None), "bias")
    elif isinstance(layer, L.Embedding):
        add(layer.embeddings, "embedding", kind="embedding")
    elif isinstance(layer, (L.BatchNormalization, L.LayerNormalization, L.GroupNormalization)):
        add(getattr(layer, "gamma", None), "scale")
        add(getattr(layer, "beta", None), "shift")
    elif isinstance(layer, L.RNN) and hasattr(layer.cell, "kernel"):
        cell = layer.cell
        gates = 4 if isinstance(cell, L.LSTMCell) else 3 if isinstance(cell, L.GRUCell) else 1
        add(cell.kernel, "kernel", gates=gates)
        add(cell.recurrent_kernel, "recurrent", gates=gates)
        add(getattr(cell, "bias", None), "bias", gates=gates,
            forget=bool(isinstance(cell, L.LSTMCell) and getattr(cell, "unit_forget_bias", False)))
    else:
        for v in layer.weights:
            out.append((v, "other", {}))
    return out


def _sublayers(layer) -> list:
    """A model's or wrapper's inner layers (nested models, Bidirectional, TimeDistributed …)."""
    L = _layers()
    if isinstance(layer, L.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    if isinstance(layer, _keras().Model) or (hasattr(layer, "layers") and not isinstance(layer, L.RNN)):
        return list(layer.layers)
    inner = getattr(layer, "layer", None)
    return [inner] if isinstance(inner, _keras().Layer) else []


def leaf_layers(model) -> list:
    """Every layer that owns variables, depth first, containers opened."""
    out, seen = [], set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        subs = _sublayers(layer)
        if subs:
            for s in subs:
                walk(s)
        else:
            out.append(layer)

    walk(model)
    return out


def variable_fans(shape: tuple, *, gates: int = 1, **hints):
    """The :class:`~initlab.schemes.fans.Fans` initlab takes for a variable of ``shape`` with the layout
    hints of :func:`weights_of` (per gate block when ``gates`` > 1), or None where fans are undefined."""
    return resolve(VarianceScaling(), shape, gates=gates, **hints)[0].dist.fans


# -- the activation that follows --------------------------------------------------------------------
def _fn_activation(fn, found_by: str) -> Activation | None:
    """The Activation of a Keras activation function (``None`` for linear/absent): the catalogue row
    of its Keras name (:func:`initlab.activations.keras_row`, with Keras's own parameters, e.g. slope
    0.2 for ``leaky_relu``); a function outside the catalogue (softmax …) keeps its own name and
    counts as no activation for the choice of scheme."""
    if fn is None:
        return None
    name = getattr(fn, "__name__", None) or type(fn).__name__
    hit = keras_row(name)
    if hit is None:
        return Activation(name, 0.0, found_by)
    r, params = hit
    return None if r.name == "linear" else activation_of_row(r, params, found_by)


def _layer_activation(layer) -> Activation | None:
    """The activation an activation *layer* applies, or None if it is not one."""
    L = _layers()
    by = "following layer"
    if isinstance(layer, L.Activation):
        return _fn_activation(layer.activation, by) or Activation(None, 0.0, by)
    if isinstance(layer, L.LeakyReLU):
        return Activation("leaky_relu", float(layer.negative_slope), by)
    if isinstance(layer, L.ReLU):
        if layer.negative_slope:
            return Activation("leaky_relu", float(layer.negative_slope), by)
        return Activation("relu6" if layer.max_value == 6 else "relu", 0.0, by)
    if isinstance(layer, L.PReLU):
        alpha = getattr(layer, "alpha", None)
        slope = float(np.mean(_keras().ops.convert_to_numpy(alpha))) if alpha is not None else 0.0
        return Activation("leaky_relu", slope, by)
    if isinstance(layer, L.ELU):
        return Activation("elu", 0.0, by)
    if isinstance(layer, L.Softmax):
        return Activation("softmax", 0.0, by)
    return None


def _transparent(layer) -> bool:
    """Layers that do not change which activation a weight layer feeds (skipped when looking)."""
    L = _layers()
    kinds = (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D, L.GaussianNoise,
             L.GaussianDropout, L.AlphaDropout, L.BatchNormalization, L.LayerNormalization, L.GroupNormalization,
             L.Flatten, L.Reshape, L.Permute, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D,
             L.AveragePooling2D, L.AveragePooling3D, L.GlobalAveragePooling1D, L.GlobalAveragePooling2D,
             L.GlobalAveragePooling3D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D,
             L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D)
    return isinstance(layer, kinds)


def _consumers(layer) -> list:
    return [n.operation for n in getattr(layer, "_outbound_nodes", []) if getattr(n, "operation", None) is not None]


def activation_after(layer) -> Activation:
    """The activation a Keras weight layer feeds: its ``activation`` argument, else the activation
    layer that follows it in the model's graph (through transparent layers)."""
    own = getattr(layer, "activation", None)
    act = _fn_activation(own, "layer argument")
    if act is not None:
        return act
    frontier, seen = _consumers(layer), set()
    while frontier:
        nxt = []
        for op in frontier:
            if id(op) in seen:
                continue
            seen.add(id(op))
            found = _layer_activation(op)
            if found is not None:
                return found
            if _transparent(op):
                nxt.extend(_consumers(op))
        frontier = nxt
    return Activation(None, 0.0, "layer graph")


# -- rules ------------------------------------------------------------------------------------------
def _normalize_rules(rules, layers, variables) -> list:
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise fail("rules", type(rules).__name__, "a dict mapping Keras layer classes or name patterns to schemes")
    keras = _keras()
    names = [layer.name for layer in layers] + [v.path for v in variables]
    out = []
    for key, value in rules.items():
        if isinstance(key, type):
            if not issubclass(key, keras.Layer):
                raise fail("rules", key, "a Keras layer class (keras.layers.Dense …) or a name pattern")
            if not any(isinstance(layer, key) for layer in layers):
                raise InitlabError(f"rules: layer class {key.__name__} does not occur in the model; its layer classes "
                                   f"are {sorted({type(x).__name__ for x in layers})}")
        elif isinstance(key, str):
            if not any(fnmatch.fnmatchcase(n, key) for n in names):
                raise InitlabError(f"rules: pattern {key!r} matches no layer or variable of the model"
                                   f"{suggest(key, names)}")
        else:
            raise fail("rules", key, "a Keras layer class or a name pattern (fnmatch)")
        if not (isinstance(value, str) and value.lower() in ("auto", _KEEP)):
            value = get(value)
        out.append((key, value))
    return out


def _rule_for(rules, layer, path: str):
    hit = None
    for key, value in rules:
        if isinstance(key, type):
            if isinstance(layer, key):
                hit = (key.__name__, value)
        elif fnmatch.fnmatchcase(path, key) or fnmatch.fnmatchcase(layer.name, key):
            hit = (key, value)
    return hit


# -- plan ------------------------------------------------------------------------------------------
def _check_model(model) -> None:
    keras = _keras()
    if not isinstance(model, keras.Layer):
        raise fail("model", type(model).__name__, "a Keras model or layer")
    if not model.built or not model.weights:
        what = f"an unbuilt {type(model).__name__}" if not model.built else f"a {type(model).__name__} without weights"
        raise InitlabError(f"model: got {what}; allowed: a built Keras model with weights (give it keras.Input(...) "
                           "or call it on a batch first)")


def plan(model, scheme: Any = "auto", bias: Any = None, rules: Mapping | None = None, *,
         gates: str = "per_gate") -> InitPlan:
    """Decide how every variable of a built Keras ``model`` is initialized; nothing changes.

    ``scheme``, ``bias`` (``None``: zeros, or PyTorch's bias law under ``torch_default``), ``rules``: as
    :func:`initlab.plan` (rule keys are Keras layer classes or
    patterns over layer names / variable paths). ``gates``: ``"per_gate"`` (fans per LSTM/GRU gate
    block, initlab's choice) or ``"whole"`` (fans over the whole kernel, as Keras takes them).
    """
    _check_model(model)
    gates = check_choice("gates", gates, ("per_gate", "whole"))
    if isinstance(scheme, Mapping) and "name" not in scheme and "class_name" not in scheme:
        rules = {**scheme, **(rules or {})}
        scheme = "auto"
    is_auto = isinstance(scheme, str) and scheme.lower() == "auto"
    base = None if is_auto else get(scheme)
    bias_init = Zeros() if bias is None else get(bias)
    # PyTorch's bias law U(±1/√fan_in) needs the fan_in of the layer's own weight, found per layer below
    bias_torch = (bias is None and isinstance(base, TorchDefault)) or (
        isinstance(bias_init, TorchDefault) and bias_init.fan_in is None)
    layers = leaf_layers(model)
    variables = [v for layer in layers for v in layer.weights]
    rule_list = _normalize_rules(rules, layers, variables)
    rows, seen = [], set()
    for layer in layers:
        act = activation_after(layer)
        weights = weights_of(layer)
        layer_bias = _torch_bias_law(layer, weights) if bias_torch else bias_init
        for var, role, hints in weights:
            if id(var) in seen:
                continue
            seen.add(id(var))
            rows.append(_row(layer, var, role, dict(hints), act, base, layer_bias, rule_list, gates))
    return InitPlan(rows)


def _torch_bias_law(layer, weights) -> Any:
    """PyTorch's bias law for ``layer``: U(±1/√fan_in) with the fan_in PyTorch takes from the layer's weight
    (the torch-ordered view of the kernel that carries the bias: ``in/g·∏k``; a transposed conv's
    ``out·∏k``; a depthwise conv's ``∏k``), and U(±1/√units) for a recurrent layer (PyTorch's RNN/LSTM/GRU)."""
    if isinstance(layer, _layers().RNN) and hasattr(layer.cell, "units"):
        return TorchDefault(fan_in=int(layer.cell.units))
    kernels = [(var, hints) for var, role, hints in weights if role == "kernel"]
    if not kernels:
        return Zeros()
    var, hints = kernels[-1]  # a separable conv's bias follows its pointwise kernel
    hints = {k: v for k, v in hints.items() if k not in ("gates", "forget")}
    view = resolve(TorchDefault(), tuple(int(d) for d in var.shape), **hints)[0].view
    return TorchDefault(fan_in=int(view[1] * math.prod(view[2:])))


def _row(layer, var, role, hints, act, base, bias_init, rule_list, gates_mode) -> PlanRow:
    shape = tuple(int(s) for s in var.shape)
    forget = hints.pop("forget", False)
    n_gates = hints.pop("gates", 1)
    if gates_mode == "whole" and role in ("kernel", "recurrent"):
        n_gates = 1
    rule = _rule_for(rule_list, layer, var.path)
    kind = type(layer).__name__
    if rule is not None and not (isinstance(rule[1], str) and rule[1] == "auto"):
        init = None if rule[1] == _KEEP else rule[1]
        reason = f"rule {rule[0]!r}"
        forget = False
        if role == "other" and init is not None:
            raise InitlabError(f"rules: {rule[0]!r} gives {var.path} ({kind}) the scheme {init.name!r}; allowed: rules "
                               f"on layers whose fans initlab knows (Dense, Conv*, Conv*Transpose, DepthwiseConv*, "
                               f"SeparableConv*, Embedding, LSTM/GRU/SimpleRNN, normalization), or 'keep'")
    elif role == "scale":
        init, reason = Ones(), "normalization layer"
    elif role == "shift":
        init, reason = Zeros(), "normalization layer"
    elif role == "bias":
        init, reason = bias_init, "bias"
    elif role == "other":
        init, reason = None, f"left as is: no rule for {kind}.{var.path.rsplit('/', 1)[-1]}"
    elif base is not None:
        init, reason = base, "scheme"
    elif role == "embedding":
        init, reason = RandomNormal(0.0, 1.0), "auto: embedding, N(0, 1)"
    elif role == "recurrent":
        init, reason = Orthogonal(), "auto: recurrent weight, orthogonal " + ("per gate" if n_gates > 1 else "whole")
    elif isinstance(layer, _layers().RNN):
        init, reason = GlorotUniform(), "auto: RNN input weight, Xavier " + ("per gate" if n_gates > 1 else "whole")
    else:
        init = auto_initializer(act)
        reason = (f"auto: {act.label()} follows ({act.found_by})" if act.name else
                  f"auto: no activation follows ({act.found_by})")
    if role == "bias":
        n_gates = 1
        if forget and init is not None:
            reason += "; forget gate 1 (unit_forget_bias, Jozefowicz et al. 2015)"
    fan_in = fan_out = std = None
    if init is not None:
        try:
            blocks = resolve(init, shape, gates=n_gates, **hints)
        except InitlabError as e:
            raise InitlabError(f"{var.path} ({kind}, shape {shape}): {e}") from None
        dist = blocks[0].dist
        fans = dist.fans
        if fans is None and len(shape) >= 2:
            fans = variable_fans(shape, gates=n_gates, **hints)  # shown all the same
        if fans is not None:
            fan_in, fan_out = fans.fan_in, fans.fan_out
        std = dist.std
    fan_kwargs = {**hints, "gates": n_gates, "forget": forget}
    shown = act.label() if role == "kernel" and not isinstance(layer, _layers().RNN) else "-"
    return PlanRow(var.path, layer.name, kind, shape, fan_in, fan_out, shown,
                   _KEEP if init is None else init.name, std, reason, init, n_gates, fan_kwargs,
                   found_by=act.found_by if shown != "-" else "")


# -- apply -----------------------------------------------------------------------------------------
def _dtype(var) -> str:
    name = _keras().backend.standardize_dtype(var.dtype)
    return name if name in ENGINE_DTYPES else "float32"


def apply(model, the_plan: InitPlan, *, seed: int | None = None) -> InitPlan:
    """Write ``the_plan`` into ``model``: every value is drawn first, then all are assigned.
    Variable ``path`` (block ``g`` of a gated kernel: ``path#g``) draws from the stream
    ``(seed, path)``, whatever the order or the other variables."""
    if seed is None:
        seed = fresh_seed()
    variables = {v.path: v for layer in leaf_layers(model) for v in layer.weights}
    values = []
    for row in the_plan.rows:
        if row.initializer is None:
            continue
        var = variables[row.name]
        kw = {k: v for k, v in row.fan_kwargs.items() if k not in ("forget",)}
        arr = numpy_values(resolve(row.initializer, row.shape, **kw), seed=seed, key=row.name, dtype=_dtype(var))
        if row.fan_kwargs.get("forget") and len(row.shape) == 1 and row.shape[0] % 4 == 0:
            units = row.shape[0] // 4
            arr = arr.copy()
            arr[units:2 * units] = 1.0  # Keras's LSTM order i, f, c, o
        values.append((var, arr))
    for var, arr in values:
        var.assign(arr)
    the_plan.seed = seed
    the_plan.applied = True
    return the_plan


def initialize(model, scheme: Any = "auto", *, bias: Any = None, rules: Mapping | None = None,
               seed: int | None = None, generator=None, dry_run: bool = False, gates: str = "per_gate") -> InitPlan:
    """Initialize every variable of a built Keras ``model`` in place; return the plan (see :func:`plan`)."""
    if generator is not None:
        raise fail("generator", type(generator).__name__, "None for a Keras model (give seed=)")
    the_plan = plan(model, scheme, bias=bias, rules=rules, gates=gates)
    if dry_run:
        return the_plan
    return apply(model, the_plan, seed=seed)


def fix_rules(model, fix: Mapping[str, Any]) -> dict:
    """The ``rules`` of the doctor's fix ``{layer name: scheme}``: each named layer's kernel drawn with its
    scheme and its bias zeroed; every other variable kept."""
    by_name = {layer.name: layer for layer in leaf_layers(model)}
    rules: dict = {"*": _KEEP}
    for name, scheme in fix.items():
        for var, role, _ in weights_of(by_name[name]):
            if role in ("kernel", "embedding"):
                rules[var.path] = scheme
            elif role == "bias":
                rules[var.path] = "zeros"
    return rules


# -- diagnosis (initlab.adapters.keras_diag) --------------------------------------------------------
def probe(model, inputs, targets=None, loss_fn=None, **kwargs):
    from .keras_diag import probe as _probe

    return _probe(model, inputs, targets, loss_fn, **kwargs)


def lsuv(model, inputs, **kwargs):
    from .keras_diag import lsuv as _lsuv

    return _lsuv(model, inputs, **kwargs)


def saved_state(model):
    """Everything a diagnostic could disturb in ``model``, with ``restore()`` (see :class:`~.keras_diag.KerasState`)."""
    from .keras_diag import KerasState

    return KerasState(model)

