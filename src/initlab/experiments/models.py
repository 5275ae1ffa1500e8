"""Model builders for experiments: plain MLPs and small CNNs as ``nn.Sequential``.

Activations are modules (``nn.ReLU``, ``nn.Tanh`` …) placed right after the layer they follow,
so initlab's module-order activation detection sees which gain each layer needs.

A model is described by a spec, a string or a dict::

    "mlp:depth=30,width=256,act=relu,init=xavier_normal,bias=1"
    "cnn:channels=16,depth=3,act=relu,init=he_normal"
    "resmlp:depth=30,width=64,act=relu,init=fixup,norm=pre"   (residual: depth blocks x + W₂·φ(W₁·N(x)))
    {"name": "mlp", "depth": 30, "width": 256, "act": "tanh", "init": "glorot_normal"}

:func:`build_model` builds it and initializes it with :func:`initlab.initialize` from ``seed``.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import torch
from torch import nn

from ..activations import module_builders
from ..errors import InitlabError, check_choice, check_int, fail, suggest

__all__ = ["ACTIVATIONS", "MODEL_KINDS", "activation_module", "mlp", "small_cnn", "build_model", "parse_spec",
           "check_model", "parameter_count", "available_memory"]

# -- derived from the activation catalogue (initlab/activations.py), the one place to add an activation --
ACTIVATIONS: dict[str, type[nn.Module]] = module_builders()
"""Activation names and the module class each builds (torch defaults: leaky_relu slope 0.01)."""
# -- end of the catalogue-derived table --

MODEL_KINDS = ("mlp", "cnn")
SPEC_KINDS = (*MODEL_KINDS, "resmlp")
"""The kinds a model spec may name: the trainers' (:data:`MODEL_KINDS`) and ``resmlp``, the residual MLP of
:func:`initlab.experiments.depth.residual_mlp` (its ``init`` may be a recipe: ``fixup``, ``rezero`` …)."""
HEADS = ("pool", "flatten")

# spec keys per model kind, with their aliases
_KEYS = {
    "mlp": ("depth", "width", "act", "init", "bias"),
    "cnn": ("channels", "depth", "act", "init", "bias", "stride", "head"),
    "resmlp": ("depth", "width", "act", "init", "norm"),
}
_ALIASES = {"activation": "act", "scheme": "init"}


def activation_module(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (one of :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()


def _check_shape(input_shape) -> tuple[int, ...]:
    ok = isinstance(input_shape, (tuple, list, torch.Size)) and len(input_shape) > 0 and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in input_shape)
    if not ok:
        raise InitlabError(f"input_shape: got {input_shape!r}; allowed: a tuple of positive integers, e.g. (1, 8, 8)")
    return tuple(input_shape)


def mlp(input_shape, num_classes: int, depth: int, width: int, activation: str = "relu",
        bias: bool = True) -> nn.Sequential:
    """``nn.Flatten`` → ``depth`` × (``nn.Linear`` → activation) → ``nn.Linear`` head.

    The first hidden layer has fan_in = ∏ input_shape; the others width × width; the head
    width → num_classes. ``depth`` counts hidden layers, so the net has depth + 1 linear layers.
    """
    shape = _check_shape(input_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    depth = check_int("depth", depth, minimum=1)
    width = check_int("width", width, minimum=1)
    act = check_choice("activation", activation, ACTIVATIONS)
    fan_in = 1
    for s in shape:
        fan_in *= s
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(fan_in if i == 0 else width, width, bias=bool(bias)), ACTIVATIONS[act]()]
    layers.append(nn.Linear(width, num_classes, bias=bool(bias)))
    return nn.Sequential(*layers)


def small_cnn(input_shape, num_classes: int, channels: int = 16, depth: int = 2, activation: str = "relu",
              bias: bool = True, stride: int = 1, head: str = "pool") -> nn.Sequential:
    """``depth`` × (conv 3 / 3×3, padding 1, ``stride`` → activation) → head → ``nn.Linear``.

    ``input_shape`` (C, L) builds ``nn.Conv1d`` layers, (C, H, W) ``nn.Conv2d``. With stride 1 the
    padding keeps the length/size; stride s gives ⌊(n − 1)/s⌋ + 1 per layer. ``head="pool"``
    averages over positions (global average pooling: the net works for any input size);
    ``head="flatten"`` keeps every position and feeds channels × positions to the linear layer
    (the CNN of Greydanus 2020 for MNIST-1D: 3 layers, 25 channels, stride 2, flattened).
    """
    shape = _check_shape(input_shape)
    if len(shape) not in (2, 3):
        raise InitlabError(f"input_shape: got {tuple(input_shape)!r} for a CNN; allowed: (C, L) for 1-D "
                           "or (C, H, W) for 2-D inputs")
    num_classes = check_int("num_classes", num_classes, minimum=1)
    depth = check_int("depth", depth, minimum=1)
    channels = check_int("channels", channels, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    head = check_choice("head", head, HEADS)
    act = check_choice("activation", activation, ACTIVATIONS)
    conv = nn.Conv1d if len(shape) == 2 else nn.Conv2d
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [conv(shape[0] if i == 0 else channels, channels, 3, stride=stride, padding=1, bias=bool(bias)),
                   ACTIVATIONS[act]()]
    if head == "pool":
        layers += [nn.AdaptiveAvgPool1d(1) if len(shape) == 2 else nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   nn.Linear(channels, num_classes, bias=bool(bias))]
    else:
        positions = math.prod(_conv_out(n, depth, stride) for n in shape[1:])
        layers += [nn.Flatten(), nn.Linear(channels * positions, num_classes, bias=bool(bias))]
    return nn.Sequential(*layers)


def _conv_out(n: int, depth: int, stride: int) -> int:
    """Positions left along one axis after ``depth`` convolutions of size 3, padding 1, ``stride``."""
    for _ in range(depth):
        n = (n - 1) // stride + 1
    return n


def _parse_value(key: str, raw: Any, kind: str) -> Any:
    if key == "head":
        return check_choice(f"{kind} spec field 'head'", raw.strip() if isinstance(raw, str) else raw, HEADS)
    if key in ("depth", "width", "channels", "stride"):
        if isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                raise InitlabError(f"{kind} spec field {key!r}: got {raw!r}; allowed: an integer >= 1") from None
        return check_int(f"{kind} spec field {key!r}", raw, minimum=1)
    if key == "bias":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise InitlabError(f"{kind} spec field 'bias': got {raw!r}; allowed: 1/0, true/false")
    if key == "act":
        return check_choice(f"{kind} spec field 'act'", str(raw).strip() if isinstance(raw, str) else raw,
                            ACTIVATIONS)
    if key == "norm":
        norm = check_choice(f"{kind} spec field 'norm'", str(raw).strip() if raw is not None else "none",
                            ("none", "pre"))
        return None if norm == "none" else norm
    if kind == "resmlp" and isinstance(raw, str):
        from ..model.recipes import recipe_of

        if (spec := recipe_of(raw.strip())) is not None and spec.recipe.kind == "init":
            return spec.name
    # init: a scheme name, 'name(k=v, ...)' or a {"name": ..., "params": {...}} config, spelt as the
    # sweep spells it; aliases and case are normalized ('kaiming_normal' is 'he_normal')
    if isinstance(raw, (str, Mapping)):
        from .config import parse_scheme
        from ..schemes.registry import canonical_name

        scheme = parse_scheme(raw if isinstance(raw, str) else dict(raw), arg=f"{kind} spec field 'init'")
        name = "auto" if scheme.name.lower() == "auto" else canonical_name(scheme.name)
        return {"name": name, "params": dict(scheme.params)} if scheme.params else name
    raise InitlabError(f"{kind} spec field 'init': got {raw!r}; allowed: a scheme name, 'name(k=v, ...)' or "
                       "{'name': ..., 'params': {...}}")


def parse_spec(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a model spec into ``{"name": kind, field: value, ...}`` with defaults filled in.

    String form: ``"<kind>:key=value,key=value"`` (``<kind>`` alone is fine); ``init`` may carry
    parameters as the sweep writes them, ``init=random_normal(std=0.01)``. Dict form:
    ``{"name": kind, key: value, ...}``, optionally with the fields under ``"params"``.
    Fields: mlp — depth (5), width (128), act (relu), init (auto), bias (1); cnn — channels (16),
    depth (2), act, init, bias, stride (1), head (pool | flatten). ``activation`` and ``scheme`` are
    accepted for act and init.
    """
    if isinstance(spec, str):
        from .config import split_top_level

        kind_text, _, rest = spec.partition(":")
        fields: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in split_top_level(rest))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise InitlabError(f"model spec: got item {item!r} in {spec!r}; allowed: key=value items")
            if key.strip().lower() in fields:
                raise fail("model spec", spec, f"each field once ({key.strip()!r} is given twice)")
            fields[key.strip().lower()] = value
        kind_raw: Any = kind_text.strip()
    elif isinstance(spec, Mapping):
        fields = {str(k).lower(): v for k, v in spec.items() if k not in ("name", "params")}
        fields.update({str(k).lower(): v for k, v in dict(spec.get("params") or {}).items()})
        kind_raw = spec.get("name")
    else:
        raise InitlabError(f"model spec: got {spec!r}; allowed: a string like 'mlp:depth=5,width=128' "
                           "or a dict {'name': 'mlp', ...}")
    kind = check_choice("model spec kind", kind_raw, SPEC_KINDS)
    out: dict[str, Any] = {"name": kind, "depth": {"mlp": 5, "cnn": 2, "resmlp": 16}[kind], "act": "relu",
                           "init": "auto", "bias": True}
    if kind == "resmlp":
        out.update(width=64, norm=None)
        del out["bias"]
    elif kind == "mlp":
        out["width"] = 128
    else:
        out.update(channels=16, stride=1, head="pool")
    seen: set[str] = set()
    for key, raw in fields.items():
        key = _ALIASES.get(key, key)
        if key in seen:  # a field and its alias (act and activation)
            raise fail(f"{kind} spec", spec, f"each field once ({key!r} is given twice, under two spellings)")
        seen.add(key)
        if key not in _KEYS[kind]:
            raise InitlabError(f"{kind} spec: got unknown field {key!r}; allowed: {', '.join(_KEYS[kind])}"
                               f"{suggest(key, _KEYS[kind])}")
        out[key] = _parse_value(key, raw, kind)
    return out


def build_model(spec: str | Mapping[str, Any], input_shape, num_classes: int, seed: int = 0) -> nn.Module:
    """Build the model ``spec`` for inputs of ``input_shape`` and initialize it from ``seed``.

    The modules are constructed with torch's global generator seeded by ``seed`` inside a
    forked RNG state (the caller's global RNG state is left as it was), then
    ``initlab.initialize(model, scheme=init, seed=seed)`` sets every weight and bias (biases
    zero, or PyTorch's U(±1/√fan_in) with ``init=torch_default``) — so the same spec and seed
    give the same weights, always.

    >>> m = build_model("mlp:depth=2,width=16,act=tanh,init=glorot_normal", (1, 8, 8), 10, seed=1)
    >>> [type(x).__name__ for x in m]
    ['Flatten', 'Linear', 'Tanh', 'Linear', 'Tanh', 'Linear']
    """
    fields = parse_spec(spec)
    seed = check_int("seed", seed, minimum=0)
    _check_memory(fields, input_shape, num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _construct(fields, input_shape, num_classes)
    _initialize(model, fields["init"], seed)
    return model


def _construct(fields: dict, input_shape, num_classes: int) -> nn.Module:
    if fields["name"] == "resmlp":
        from .depth import residual_mlp

        return residual_mlp(_check_shape(input_shape), num_classes, fields["depth"], fields["width"],
                            activation=fields["act"], norm=fields["norm"])
    if fields["name"] == "mlp":
        return mlp(input_shape, num_classes, fields["depth"], fields["width"], fields["act"], fields["bias"])
    return small_cnn(input_shape, num_classes, fields["channels"], fields["depth"], fields["act"], fields["bias"],
                     fields["stride"], fields["head"])


def _initialize(model: nn.Module, init: str | dict, seed: int | None, *, dry_run: bool = False):
    import initlab

    return initlab.initialize(model, scheme=init, bias=bias_scheme(init), seed=seed, dry_run=dry_run)


def bias_scheme(init: str | Mapping[str, Any]) -> str:
    """The scheme of the biases of a model built with ``init``: PyTorch's own init covers biases too
    (U(±1/√fan_in), ``torch_default``); every other scheme starts biases at zero.

    >>> bias_scheme("torch_default"), bias_scheme({"name": "random_normal", "params": {"std": 0.01}})
    ('torch_default', 'zeros')
    """
    name = init if isinstance(init, str) else str(init.get("name", ""))
    return "torch_default" if name.lower() in ("torch_default", "pytorch_default", "default") else "zeros"


def parameter_count(spec: str | Mapping[str, Any], input_shape, num_classes: int) -> int:
    """The number of parameters the model ``spec`` has for ``input_shape`` and ``num_classes``,
    counted from the spec without building anything.

    MLP: (∏input_shape + 1)·width + (depth − 1)·(width + 1)·width + (width + 1)·classes (the +1
    terms are biases; without biases they drop out). CNN with C channels and 3-wide kernels over
    ``c_in`` input channels and d spatial dims: (c_in·3ᵈ + 1)·C + (depth − 1)·(C·3ᵈ + 1)·C + (F + 1)·classes,
    with F = C for the pooling head and C × (positions left) for the flattening head.

    >>> parameter_count("mlp:depth=2,width=16", (1, 8, 8), 10)
    1482
    """
    fields = parse_spec(spec)
    shape = _check_shape(input_shape)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    b = 1 if fields.get("bias", True) else 0
    depth = fields["depth"]
    if fields["name"] == "resmlp":  # stem, depth × (2 Linear (+ LayerNorm)), head; biases always
        w, ln = fields["width"], 2 * fields["width"] if fields["norm"] else 0
        return (math.prod(shape) + 1) * w + depth * (2 * (w + 1) * w + ln) + (w + 1) * num_classes
    if fields["name"] == "mlp":
        w = fields["width"]
        return (math.prod(shape) + b) * w + (depth - 1) * (w + b) * w + (w + b) * num_classes
    c, k = fields["channels"], 3 ** (len(shape) - 1)
    features = c
    if fields["head"] == "flatten":
        features = c * math.prod(_conv_out(n, depth, fields["stride"]) for n in shape[1:])
    return (shape[0] * k + b) * c + (depth - 1) * (c * k + b) * c + (features + b) * num_classes


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``MemAvailable`` of ``/proc/meminfo``, else
    the physical memory), or None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def _check_memory(fields: dict, input_shape, num_classes: int, bytes_per_parameter: int = 4) -> int:
    """Raise before allocating when the parameters alone (fp32) would not fit in the available memory."""
    count = parameter_count(fields, input_shape, num_classes)
    need = count * bytes_per_parameter
    have = available_memory()
    if have is not None and need > have:
        raise fail(f"{fields['name']} spec", _describe(fields),
                   f"a model whose parameters fit in the {_gib(have)} of memory available (this one has "
                   f"{count:,} parameters: {_gib(need)} in fp32, before gradients and optimizer state)")
    return need


def _describe(fields: dict) -> str:
    size = "channels" if fields["name"] == "cnn" else "width"
    return f"{fields['name']}:depth={fields['depth']},{size}={fields[size]}"


def check_model(spec: str | Mapping[str, Any], input_shape, num_classes: int) -> dict:
    """Check, without allocating anything, that ``spec`` can be built and initialized for this input:
    the spec parses, its parameters fit in memory, and its scheme resolves for every layer's shape
    (built on the ``meta`` device, planned with ``initialize(..., dry_run=True)``). Returns the
    parsed spec; raises the one-line error :func:`build_model` would raise."""
    fields = parse_spec(spec)
    _check_memory(fields, input_shape, num_classes)
    with torch.device("meta"):
        model = _construct(fields, input_shape, num_classes)
    _initialize(model, fields["init"], None, dry_run=True)
    return fields
