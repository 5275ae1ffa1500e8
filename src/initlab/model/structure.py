"""The role of every layer and parameter of a model, read from its module graph.

A *role* says what a layer does in the network, which is what width- and depth-aware
parametrizations (μP, u-μP, …) need to know:

============  ========================================================================================
role          layer
============  ========================================================================================
embedding     ``nn.Embedding``: token (or position) ids → a width
input         a weight layer fed by the data only (no weight layer before it): data's size → a width
hidden        a weight layer between weight layers: width → width
readout       a weight layer whose output reaches the model's output without another weight layer
attn_q        the query projection of an attention (its output is the left factor of q·kᵀ)
attn_k        the key projection (the right factor of q·kᵀ)
attn_v        the value projection (the right factor of softmax(…)·v)
attn_o        the output projection (the first weight layer after the attention)
attention     a packed projection: ``nn.MultiheadAttention``'s ``in_proj`` or one Linear split into
              q, k, v; its blocks carry ``attn_q``/``attn_k``/``attn_v`` (:attr:`Layer.chunks`)
norm          LayerNorm / BatchNorm / GroupNorm / InstanceNorm / RMSNorm scale and shift
other         parameters of any other module (a learnable scalar, a custom ``nn.Parameter``)
============  ========================================================================================

How roles are found, in order:

1. **torch.fx** (:func:`torch.fx.symbolic_trace`): a graph of the weight layers is built by
   following data (not shapes: ``x.size()`` and ``view``'s sizes are not data) from the inputs to
   the output. Attention is recognised at ``F.scaled_dot_product_attention`` and at a
   ``softmax`` between two matrix products, whatever the projections are called; a packed
   projection split with ``split``/``chunk`` gets one role per block.
2. **Names and module order**, when the model does not trace (or for layers the trace never
   reaches): ``q``/``query``/``q_proj``/``wq``/``to_q`` … are attention projections, the first
   weight layer is the input, the last the readout, the rest hidden.
3. **Rules** override both: ``rules={"head": "readout", "blocks.*.attn.qkv": ("attn_q", "attn_k",
   "attn_v")}`` (fnmatch patterns over module names, or module types; the last matching rule wins).

A weight layer whose role cannot be decided (never called in ``forward``, or called at two places
in two roles) is an error that names the layer and the rule that would settle it.

Extending: a new role is a row of :data:`ROLES`; a new analysis of the traced graph is a function
``(graph, layers, nodes) -> None`` appended to :data:`GRAPH_ANALYSES` that fills :attr:`Layer.tags`
(residual structure — the branch a layer is in, its place in the branch, the number of blocks —
belongs there), so the role finder itself does not change.

>>> import torch.nn as nn
>>> s = find_structure(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)))
>>> [(layer.name, layer.role) for layer in s.layers]
[('0', 'input'), ('2', 'hidden'), ('4', 'readout')]
"""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InitlabError, fail, suggest
from .activations import PARAMETRIC

__all__ = ["ROLES", "ATTENTION_ROLES", "Layer", "ParamInfo", "Structure", "find_structure", "GRAPH_ANALYSES",
           "MODEL_ANALYSES", "NORM_TYPES", "BRANCH"]

ROLES: dict[str, str] = {
    "embedding": "a lookup table from ids to a width",
    "input": "fed by the data only: the data's size to a width",
    "hidden": "between weight layers: a width to a width",
    "readout": "its output reaches the model's output: a width to the output's size",
    "attn_q": "attention query projection",
    "attn_k": "attention key projection",
    "attn_v": "attention value projection",
    "attn_o": "attention output projection",
    "attention": "a packed q/k/v projection (one role per block)",
    "norm": "normalization scale and shift",
    "other": "a parameter of a module initlab does not know",
}
"""Every role, with what it means. Add a role here (and where it is found) — nowhere else."""

ATTENTION_ROLES = ("attn_q", "attn_k", "attn_v")

BRANCH = "branch"
"""The rule value that marks a module as one residual branch (its output is added to a skip path):
``rules={"blocks.*.mlp": "branch"}``. Residual structure is a tag of the layers, not a role
(:mod:`initlab.model.residual`)."""

NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
              *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()))

_CONVT = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_MATMULS = {torch.matmul, operator.matmul, torch.bmm, torch.einsum}
_SOFTMAX = {F.softmax, torch.softmax}
_SDPA = {F.scaled_dot_product_attention}
_SPLITS_FN = {torch.split, torch.chunk, torch.tensor_split, torch.unbind}
_SPLITS_METHOD = {"split", "chunk", "tensor_split", "unbind"}
_METADATA_METHODS = {"size", "dim", "numel", "nelement", "get_device", "is_contiguous", "stride"}
_SIZE_ARG_METHODS = {"view", "reshape", "expand", "repeat", "permute", "transpose", "flatten", "unflatten",
                     "squeeze", "unsqueeze", "split", "chunk", "tensor_split", "unbind", "to", "type", "type_as",
                     "softmax", "log_softmax", "narrow", "masked_fill", "contiguous", "float", "half", "bfloat16"}
_CREATION = {torch.arange, torch.zeros, torch.ones, torch.full, torch.empty, torch.tril, torch.triu, torch.eye,
             torch.zeros_like, torch.ones_like, torch.empty_like, torch.full_like}

_CONFLICT = "conflict"

_NAME_ROLES = (
    ("attn_q", re.compile(r"^(q|query|q_proj|wq|to_q|q_lin|query_proj)$")),
    ("attn_k", re.compile(r"^(k|key|k_proj|wk|to_k|k_lin|key_proj)$")),
    ("attn_v", re.compile(r"^(v|value|v_proj|wv|to_v|v_lin|value_proj)$")),
    ("attn_o", re.compile(r"^(o|o_proj|out_proj|wo|to_out|out_lin|attn_out)$")),
)


@dataclass
class Layer:
    """One module that owns parameters: its role and how the role was found.

    ``chunks``: for a packed projection, the role of each block along its output dimension
    (``("attn_q", "attn_k", "attn_v")``). ``tags``: facts later analyses add (residual blocks …).
    """

    name: str
    module_type: str
    role: str
    found_by: str
    chunks: tuple[str, ...] | None = None
    tags: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"layer": self.name, "module_type": self.module_type, "role": self.role, "found_by": self.found_by,
                "chunks": list(self.chunks) if self.chunks else None,
                **{f"tag_{k}": v for k, v in self.tags.items() if not k.startswith("_")}}


@dataclass(frozen=True)
class ParamInfo:
    """One parameter: its layer, kind (``weight``, ``bias``, ``scale`` of a normalization layer, or the
    parameter's own name), role, and which axes are fan-in and fan-out.

    ``in_axis``/``out_axis`` index the parameter's shape (None where the parameter has no such axis:
    a bias has only ``out_axis``). For ``nn.Embedding`` (num, dim) the ids are the input (axis 0)."""

    name: str
    layer: str
    kind: str
    role: str
    in_axis: int | None
    out_axis: int | None
    chunks: tuple[str, ...] | None = None


@dataclass
class Structure:
    """What :func:`find_structure` found: a :class:`Layer` per module with parameters and a
    :class:`ParamInfo` per parameter (tied parameters once, where they first appear)."""

    layers: list[Layer]
    params: dict[str, ParamInfo]
    traced: bool
    trace_error: str | None = None
    graph: object = field(default=None, repr=False)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"name: got {name!r}; allowed: a layer of the model{suggest(name, [la.name for la in self.layers])}")

    def role(self, param: str) -> str:
        return self.params[param].role

    def with_role(self, role: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.role == role or (layer.chunks and role in layer.chunks)]

    def to_rows(self) -> list[dict]:
        return [layer.to_dict() for layer in self.layers]

    def __str__(self) -> str:
        from .residual import role_label

        width = max([len(layer.name) for layer in self.layers] + [5])
        roles = [role_label(layer) for layer in self.layers]
        rw = max([len(r) for r in roles] + [10])
        lines = [f"{'layer':<{width}}  {'type':<16} {'role':<{rw}} found by"]
        for layer, role in zip(self.layers, roles):
            lines.append(f"{layer.name:<{width}}  {layer.module_type:<16} {role:<{rw}} {layer.found_by}")
        return "\n".join(lines)


GRAPH_ANALYSES: list[Callable] = []
"""Functions ``(graph, layers: dict[str, Layer], nodes: dict[str, list[fx.Node]]) -> None`` run after the
roles are found on a traced model; each may add :attr:`Layer.tags`."""

MODEL_ANALYSES: list[Callable] = []
"""Functions ``(model, layers: dict[str, Layer], rules: list, trace_error: str | None) -> None`` run after
:data:`GRAPH_ANALYSES`, traced or not: the place for what rules (``rules`` holds the
``(pattern or type, value)`` pairs whose value is not a role, e.g. ``"branch"``) or names decide."""


# ------------------------------------------------------------------------------------------- dataflow
def _is_weight_module(m: nn.Module) -> bool:
    return isinstance(m, PARAMETRIC) or (not isinstance(m, NORM_TYPES) and any(
        p.dim() >= 2 for p in m.parameters(recurse=False)))


def _data_inputs(node) -> list:
    """The input nodes that carry data into ``node`` (sizes, devices and dtypes do not)."""
    if node.op == "call_method":
        if node.target in _METADATA_METHODS:
            return []
        if node.target in _SIZE_ARG_METHODS:
            first = node.args[0] if node.args else None
            return [first] if hasattr(first, "op") else []
    if node.op == "call_function":
        if node.target is getattr or node.target in _CREATION:
            return []
    return list(node.all_input_nodes)


class _Flow:
    """Producers and consumers of each weight layer's calls, along data edges only."""

    def __init__(self, gm, weight_targets: set[str]):
        self.gm = gm
        self.weight_targets = weight_targets
        self.users = {}
        for node in gm.graph.nodes:
            for inp in _data_inputs(node):
                self.users.setdefault(inp, []).append(node)

    def is_weight(self, node) -> bool:
        return node.op == "call_module" and node.target in self.weight_targets

    def _reach(self, start, step, terminal: str) -> tuple[set, bool]:
        """(weight nodes, reached a ``terminal`` node?) following ``step`` from ``start``, stopping at weights."""
        found, reached, seen = set(), False, set()
        stack = list(start)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if self.is_weight(n):
                found.add(n)
            elif n.op == terminal:
                reached = True
            else:
                stack.extend(step(n))
        return found, reached

    def producers(self, node) -> tuple[set, bool]:
        """(weight nodes, reached the data?) walking up from ``node``'s data inputs."""
        return self._reach(_data_inputs(node), _data_inputs, "placeholder")

    def consumers(self, node) -> tuple[set, bool]:
        """(weight nodes, reached the output?) walking down from ``node``."""
        return self._reach(self.users.get(node, []), lambda n: self.users.get(n, []), "output")

    def source(self, node) -> tuple[object, int | None] | None:
        """The single weight node a tensor comes from, and the block index if it passed a split."""
        index = None
        n = node
        for _ in range(64):
            if self.is_weight(n):
                return n, index
            if n.op == "call_function" and n.target is operator.getitem:
                parent = n.args[0]
                if hasattr(parent, "op") and _is_split(parent) and isinstance(n.args[1], int):
                    index = n.args[1]
                n = parent
                continue
            inputs = _data_inputs(n)
            if len(inputs) != 1:
                return None
            n = inputs[0]
        return None


def _is_split(node) -> bool:
    return (node.op == "call_method" and node.target in _SPLITS_METHOD) or \
        (node.op == "call_function" and node.target in _SPLITS_FN)


def _split_count(node, out_features: int) -> int | None:
    """How many blocks a split/chunk of a feature dimension of size ``out_features`` makes."""
    args = list(node.args[1:]) + list(node.kwargs.values())
    what = node.target if isinstance(node.target, str) else node.target.__name__
    if not args:
        return None
    first = args[0]
    if what == "chunk" and isinstance(first, int):
        return first
    if what == "split":
        if isinstance(first, int) and first > 0 and out_features % first == 0:
            return out_features // first
        if isinstance(first, (list, tuple)):
            return len(first)
    return None


def _is_softmax(node) -> bool:
    return (node.op == "call_function" and node.target in _SOFTMAX) or \
        (node.op == "call_method" and node.target == "softmax")


def _is_matmul(node) -> bool:
    return (node.op == "call_function" and node.target in _MATMULS) or \
        (node.op == "call_method" and node.target in ("matmul", "bmm", "__matmul__"))


def _walk_single(node, step, stop, limit=32):
    """Follow single data edges from ``node`` (``step(n)`` gives the next candidates) until ``stop(n)``."""
    n = node
    for _ in range(limit):
        nxt = [c for c in step(n)]
        hits = [c for c in nxt if stop(c)]
        if hits:
            return hits[0]
        if len(nxt) != 1:
            return None
        n = nxt[0]
    return None


def _attention_sites(flow: _Flow) -> list[tuple]:
    """(q tensor, k tensor, v tensor, attention output node) for each attention in the graph."""
    sites = []
    for node in flow.gm.graph.nodes:
        if node.op == "call_function" and node.target in _SDPA and len(node.args) >= 3:
            sites.append((node.args[0], node.args[1], node.args[2], node))
        elif _is_softmax(node):
            scores = _walk_single(node, _data_inputs, _is_matmul)
            probs_mm = _walk_single(node, lambda n: flow.users.get(n, []), _is_matmul)
            if scores is None or probs_mm is None or len(scores.args) < 2 or len(probs_mm.args) < 2:
                continue
            if scores.target is torch.einsum or probs_mm.target is torch.einsum:
                continue  # einsum's operand order is in its equation; not read here
            sites.append((scores.args[0], scores.args[1], probs_mm.args[1], probs_mm))
    return sites


# ------------------------------------------------------------------------------------------- roles
def _fx_roles(model: nn.Module, weight_names: list[str], modules: dict[str, nn.Module]):
    from .activations import fx_trace

    gm = fx_trace(model)
    weight_targets = {n.target for n in gm.graph.nodes if n.op == "call_module" and n.target in weight_names}
    flow = _Flow(gm, weight_targets)
    calls: dict[str, list] = {}
    for node in gm.graph.nodes:
        if flow.is_weight(node):
            calls.setdefault(node.target, []).append(node)

    found: dict[str, tuple[str, tuple | None]] = {}

    def assign(target: str, role: str, chunks=None):
        prev = found.get(target)
        if prev is not None and prev[0] == _CONFLICT:
            return
        if prev is not None and prev != (role, chunks):
            found[target] = (_CONFLICT, f"{_role_text(*prev)} and {_role_text(role, chunks)}")
            return
        found[target] = (role, chunks)

    # attention first: its roles are the most specific
    packed: dict[str, dict[int, str]] = {}
    for q, k, v, out in _attention_sites(flow):
        for tensor, role in ((q, "attn_q"), (k, "attn_k"), (v, "attn_v")):
            src = flow.source(tensor) if hasattr(tensor, "op") else None
            if src is None:
                continue
            node, index = src
            if index is None:
                assign(node.target, role)
            else:
                packed.setdefault(node.target, {})[index] = role
        outs, _ = flow.consumers(out)
        if len(outs) == 1:
            assign(next(iter(outs)).target, "attn_o")
    for target, blocks in packed.items():
        split = next((u for u in flow.users.get(calls[target][0], []) if _is_split(u)), None)
        count = _split_count(split, modules[target].weight.shape[0]) if split is not None else None
        count = count or (max(blocks) + 1)
        chunks = tuple(blocks.get(i, "hidden") for i in range(count))
        assign(target, "attention", chunks)

    for target, nodes in calls.items():
        if target in found:
            continue
        module = modules[target]
        if isinstance(module, nn.Embedding):
            assign(target, "embedding")
            continue
        if isinstance(module, nn.MultiheadAttention):
            assign(target, "attention", ATTENTION_ROLES)
            continue
        for node in nodes:
            producers, from_data = flow.producers(node)
            consumers, to_output = flow.consumers(node)
            if to_output:
                role = "readout"
            elif not producers and from_data:
                role = "input"
            elif not producers and not from_data:
                role = None  # fed by constants only: decided by names below
            else:
                role = "hidden"
            if role is not None:
                assign(target, role)
    return gm, found, calls


def _role_text(role: str, chunks) -> str:
    return role + (f" ({'/'.join(chunks)})" if chunks else "")


def _name_roles(weight_names: list[str], modules: dict[str, nn.Module]) -> dict[str, tuple[str, tuple | None, str]]:
    """Roles from names and module order: the fallback when the model does not trace."""
    out: dict[str, tuple[str, tuple | None, str]] = {}
    plain = []
    for name in weight_names:
        module = modules[name]
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(module, nn.Embedding):
            out[name] = ("embedding", None, "module type")
        elif isinstance(module, nn.MultiheadAttention):
            out[name] = ("attention", ATTENTION_ROLES, "module type")
        elif any(name.startswith(m + ".") and isinstance(modules[m], nn.MultiheadAttention) for m in modules if m):
            out[name] = ("attn_o", None, "module type")  # MultiheadAttention.out_proj
        else:
            role = next((r for r, pattern in _NAME_ROLES if pattern.match(leaf)), None)
            if role is not None:
                out[name] = (role, None, "name")
            else:
                plain.append(name)
    if plain:
        last = plain[-1]
        ordered = [n for n in weight_names if n in plain or out.get(n, ("",))[0] == "embedding"]
        for name in plain:
            if name == last:
                out[name] = ("readout", None, "module order (last weight layer)")
            elif name == ordered[0]:
                out[name] = ("input", None, "module order (first weight layer)")
            else:
                out[name] = ("hidden", None, "module order")
    return out


def _normalize_rules(rules, model: nn.Module, names: list[str]) -> list[tuple]:
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise fail("rules", rules, "a dict mapping module names (fnmatch patterns) or module types to roles")
    modules = dict(model.named_modules())
    out = []
    for key, value in rules.items():
        if isinstance(value, (tuple, list)):
            bad = [v for v in value if v not in (*ATTENTION_ROLES, "hidden")]
            if bad or not value:
                raise fail(f"rules[{key!r}]", value, "a role name, or a tuple of attn_q/attn_k/attn_v per block")
            value = ("attention", tuple(value))
        elif isinstance(value, str) and value in (*ROLES, BRANCH):
            value = (value, None)
        else:
            raise fail(f"rules[{key!r}]", value, ", ".join(map(repr, (*ROLES, BRANCH))),
                       hint=suggest(str(value), (*ROLES, BRANCH)))
        pool = [n for n in modules if n] if value[0] == BRANCH else names
        if isinstance(key, type):
            if not any(isinstance(m, key) for m in modules.values()):
                raise fail("rules", key.__name__, "a module type that occurs in the model")
        elif isinstance(key, str):
            if not any(fnmatch.fnmatchcase(n, key) for n in pool):
                what = "a module" if value[0] == BRANCH else "a module with parameters"
                raise fail("rules", key, f"a pattern that matches {what}", hint=suggest(key, pool))
        else:
            raise fail("rules", key, "a module name pattern (fnmatch) or an nn.Module type")
        out.append((key, value))
    return out


def _rule_for(rules, name: str, module: nn.Module):
    hit = None
    for key, value in rules:
        if (isinstance(key, type) and isinstance(module, key)) or (isinstance(key, str) and fnmatch.fnmatchcase(name, key)):
            hit = (key, value)
    return hit


def find_structure(model: nn.Module, rules: Mapping | None = None) -> Structure:
    """The role of every module with parameters of ``model`` (see the module docstring).

    ``rules``: ``{pattern_or_type: role}``; a role is a name in :data:`ROLES`, or for a packed
    projection a tuple with the role of each block, e.g. ``("attn_q", "attn_k", "attn_v")``.
    """
    if not isinstance(model, nn.Module):
        raise fail("model", type(model).__name__, "a torch.nn.Module")
    modules = dict(model.named_modules())
    owners = [(name, m) for name, m in modules.items() if any(True for _ in m.parameters(recurse=False))]
    if not owners:
        raise fail("model", type(model).__name__, "a model with parameters")
    names = [name for name, _ in owners]
    all_rules = _normalize_rules(rules, model, names)
    rule_list = [r for r in all_rules if r[1][0] in ROLES]
    other_rules = [r for r in all_rules if r[1][0] not in ROLES]
    weight_names = [name for name, m in owners if _is_weight_module(m)]

    gm, fx_found, trace_error = None, {}, None
    try:
        gm, fx_found, calls = _fx_roles(model, weight_names, modules)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means "fall back to names"
        trace_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        calls = {}
    by_name = _name_roles(weight_names, modules)

    layers: list[Layer] = []
    for name, module in owners:
        rule = _rule_for(rule_list, name, module)
        chunks = None
        if rule is not None:
            role, chunks = rule[1]
            found_by = f"rule {rule[0].__name__ if isinstance(rule[0], type) else repr(rule[0])}"
        elif isinstance(module, NORM_TYPES):
            role, found_by = "norm", "module type"
        elif name not in weight_names:
            role, found_by = "other", "module type"
        elif name == "":
            role, found_by = "readout", "the model is one layer"
        elif name in fx_found:
            role, chunks = fx_found[name]
            if role == _CONFLICT:
                raise InitlabError(f"layer {name!r} ({type(module).__name__}) is used in two roles, {chunks}; allowed: "
                                   f"one role per layer — give it with rules={{{name!r}: 'hidden'}} (or the role "
                                   "you mean)")
            found_by = "fx"
        elif gm is not None and by_name[name][2] == "module type":
            role, chunks, found_by = by_name[name]
        elif gm is not None and name not in calls:
            raise InitlabError(f"layer {name!r} ({type(module).__name__}): its role cannot be decided — the traced "
                               f"forward() never calls it; allowed: give it with rules={{{name!r}: 'hidden'}} (or "
                               f"{', '.join(r for r in ROLES if r not in ('hidden', 'norm', 'other'))})")
        else:
            role, chunks, found_by = by_name[name]
            if trace_error:
                found_by += " (fx failed)"
        layers.append(Layer(name, type(module).__name__, role, found_by, chunks))

    by_layer = {layer.name: layer for layer in layers}
    if gm is not None:
        for analysis in GRAPH_ANALYSES:
            analysis(gm, by_layer, calls)
    for analysis in MODEL_ANALYSES:
        analysis(model, by_layer, other_rules, trace_error)

    params: dict[str, ParamInfo] = {}
    seen: set[int] = set()
    layer_of = {layer.name: layer for layer in layers}
    for name, module in owners:
        layer = layer_of[name]
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            full = f"{name}.{pname}" if name else pname
            params[full] = _param_info(full, name, module, pname, p, layer)
    return Structure(layers, params, gm is not None, trace_error, gm)


def _param_info(full: str, layer_name: str, module: nn.Module, pname: str, p: torch.Tensor, layer: Layer) -> ParamInfo:
    if isinstance(module, NORM_TYPES) or p.dim() <= 1:
        if "bias" in pname:
            kind = "bias"
        elif isinstance(module, NORM_TYPES) and pname == "weight":
            kind = "scale"
        else:
            kind = "weight" if pname == "weight" else pname
        return ParamInfo(full, layer_name, kind, layer.role, None, 0 if p.dim() == 1 else None,
                         layer.chunks if p.dim() == 1 else None)
    if isinstance(module, nn.Embedding):
        return ParamInfo(full, layer_name, "weight", layer.role, 0, 1)
    if isinstance(module, _CONVT):
        return ParamInfo(full, layer_name, "weight", layer.role, 0, 1)
    chunks = layer.chunks if pname in ("weight", "in_proj_weight") else None
    if isinstance(module, nn.MultiheadAttention) and pname in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        return ParamInfo(full, layer_name, "weight", {"q": "attn_q", "k": "attn_k", "v": "attn_v"}[pname[0]], 1, 0)
    if "bias" in pname:  # MultiheadAttention's bias_k / bias_v, shape (1, 1, embed_dim)
        return ParamInfo(full, layer_name, "bias", layer.role, None, p.dim() - 1)
    kind = "weight" if "weight" in pname else pname
    return ParamInfo(full, layer_name, kind, layer.role, 1, 0, chunks)


from . import residual as _residual  # noqa: E402,F401  (registers the residual analyses above)
