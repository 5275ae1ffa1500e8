"""Residual structure: which layers sit in a branch that is added to a skip path.

A **residual branch** is the computation whose output is added to a skip path,
``y = x + F(x)`` (He et al. 2016). The recipes for deep residual networks scale the layers of the
branches by the number of branches, or only the **last layer of each branch** (the *branch-out*
layer: GPT-2's residual projections, Fixup's zero-initialized last layer, the layer a ReZero/SkipInit
scalar multiplies), so initlab finds, for every weight layer:

================  ============================================================================
tag               meaning
================  ============================================================================
``branch``        index of the branch the layer is in (0, 1, … in forward order)
``block``         index of the block (a transformer layer holds two branches: attention and MLP)
``branch_pos``    the layer's place in its branch: 0 for the layers reading the stream, then
                  1, 2, … (q, k and v share place 0; the attention's output projection is 1)
``branch_depth``  m, the number of weight layers on the longest path through the branch
``branch_role``   ``in`` (reads the stream), ``out`` (its output is what the branch adds),
                  ``in+out`` (both: a branch of one layer), ``mid``
``branches``      N, the number of residual branches of the model
``blocks``        L, the number of blocks
``shortcut``      True on a projection on the skip path (a strided 1×1 conv of a ResNet)
================  ============================================================================

How the branches are found, in order:

1. **Rules** (``rules={"blocks.*.mlp": "branch", "blocks.*.attn": "branch"}``): each module a
   pattern matches is one branch; its weight layers, in module order, are the branch's layers.
   Rules replace what the two other ways find.
2. **torch.fx**: every addition ``a + b`` of the traced graph where one operand is the other's
   ancestor (``x + F(x)``), or where both come from one tensor and one side holds weight layers
   while the other holds at most one (a projection shortcut) and nothing but shape and dropout
   operations (``F(x) + proj(x)``). An addition whose "branch" would hold an embedding or an
   earlier residual merge (an attention mask added to the scores) is not a residual merge.
3. **Names**, when the model does not trace: the children of a ``ModuleList``/``Sequential`` that
   are two or more modules of one class with at least two weight layers each are blocks; a child
   module named like an attention (``attn``, ``attention``, ``self_attn``) or an MLP (``mlp``,
   ``ffn``, ``feed_forward``) is a branch of its own, else the block's weight layers make one branch.
   These layers are marked ``found_by`` ``"names (guessed)"``.

:func:`residual_structure` returns the :class:`Residual` summary (``branches``, ``blocks``, each
:class:`Branch` with its layers) read back from the tags; :func:`require_branches` raises the
one-line error a recipe that needs residual branches gives on a model without any, saying how to
give them.

>>> import torch.nn as nn
>>> class Block(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1, self.act, self.fc2 = nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)
...     def forward(self, x):
...         return x + self.fc2(self.act(self.fc1(x)))
>>> net = nn.Sequential(nn.Linear(4, 8), Block(), Block(), nn.Linear(8, 2))
>>> r = residual_structure(net)
>>> r.count, r.blocks, [(b.layers, b.depth) for b in r.branches]
(2, 2, [(('1.fc1', '1.fc2'), 2), (('2.fc1', '2.fc2'), 2)])
"""

from __future__ import annotations

import fnmatch
import operator
import re
import weakref
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InitlabError

__all__ = ["Branch", "Residual", "residual_structure", "require_branches", "role_label", "BRANCH_TAGS",
           "cached_structure", "merges"]

BRANCH_TAGS = ("branch", "block", "branch_pos", "branch_depth", "branch_role", "branches", "blocks")

_ADD_FUNCS = {operator.add, operator.iadd, torch.add}
_ADD_METHODS = {"add", "add_", "__add__", "__radd__", "__iadd__"}
_SCALE_FUNCS = {operator.mul, operator.truediv, torch.mul, operator.add, torch.add}
_SCALE_METHODS = {"mul", "mul_", "div", "add", "add_"}
_SKIP_FUNCS = {torch.cat, torch.concat, F.pad, F.dropout, torch.flatten, torch.reshape, operator.getitem,
               F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.max_pool1d, F.max_pool2d, F.max_pool3d}
_SKIP_METHODS = {"clone", "contiguous", "to", "type", "type_as", "float", "half", "bfloat16", "view", "reshape",
                 "flatten", "detach"}
_ATTENTION_NAMES = re.compile(r"^(attn|attention|self_attn|self_attention|mha|attn_block|sa)$")
_MLP_NAMES = re.compile(r"^(mlp|ffn|ff|feed_forward|feedforward|fc|mlp_block)$")
GUESSED_BY_NAMES = "names (guessed)"


# --------------------------------------------------------------------------------------- the summary
@dataclass(frozen=True)
class Branch:
    """One residual branch: its ``layers`` (weight layers in forward order), ``depth`` m (weight
    layers on its longest path), ``first``/``last`` (the branch-in and branch-out layers), the
    ``block`` it belongs to, how it was found (``found_by``) and, when it is one module, ``module``."""

    index: int
    block: int
    layers: tuple[str, ...]
    depth: int
    first: tuple[str, ...]
    last: tuple[str, ...]
    found_by: str
    module: str | None = None


@dataclass(frozen=True)
class Residual:
    """The residual structure of a model: its :class:`Branch` es, ``blocks`` (L), the projection
    ``shortcuts``, and ``trace_error`` (why torch.fx could not trace it, if it could not)."""

    branches: tuple[Branch, ...]
    blocks: int
    shortcuts: tuple[str, ...] = ()
    trace_error: str | None = None
    layers: dict = field(default_factory=dict, repr=False)

    @property
    def count(self) -> int:
        """N, the number of residual branches."""
        return len(self.branches)

    def branch_of(self, layer: str) -> Branch | None:
        """The branch ``layer`` is in, or None."""
        for b in self.branches:
            if layer in b.layers:
                return b
        return None

    @property
    def branch_out(self) -> tuple[str, ...]:
        """Every branch-out layer (the last layer of each branch), in forward order."""
        return tuple(name for b in self.branches for name in b.last)

    def to_rows(self) -> list[dict]:
        return [{"branch": b.index, "block": b.block, "layers": list(b.layers), "depth": b.depth,
                 "first": list(b.first), "last": list(b.last), "found_by": b.found_by, "module": b.module}
                for b in self.branches]


def role_label(layer) -> str:
    """A layer's role as the plan tables show it: its role, with ``branch-in``/``branch-out``/… and the
    block when it sits in a residual branch (``"attn_o, branch-out (block 3)"``), ``shortcut`` on a
    projection of the skip path."""
    tags = getattr(layer, "tags", {}) or {}
    role = layer.role + (f" {'/'.join(layer.chunks)}" if getattr(layer, "chunks", None) else "")
    if tags.get("shortcut"):
        return f"{role}, shortcut"
    where = tags.get("branch_role")
    if where is None:
        return role
    text = {"in": "branch-in", "out": "branch-out", "in+out": "branch-in/out", "mid": "branch"}[where]
    return f"{role}, {text} (block {tags['block']})"


def residual_structure(model_or_structure, rules=None) -> Residual:
    """The :class:`Residual` summary of a model (or of a :class:`~initlab.model.structure.Structure`
    already found): what the tags of :func:`~initlab.model.structure.find_structure` say."""
    from .structure import Structure, find_structure

    s = model_or_structure if isinstance(model_or_structure, Structure) else find_structure(model_or_structure,
                                                                                          rules)
    by_branch: dict[int, list] = {}
    shortcuts = []
    for layer in s.layers:
        t = layer.tags
        if t.get("shortcut"):
            shortcuts.append(layer.name)
        if "branch" in t:
            by_branch.setdefault(t["branch"], []).append(layer)
    branches = []
    for index in sorted(by_branch):
        ls = sorted(by_branch[index], key=lambda layer: (layer.tags["branch_pos"], layer.tags.get("_order", 0)))
        t0 = ls[0].tags
        branches.append(Branch(index, t0["block"], tuple(layer.name for layer in ls), t0["branch_depth"],
                               tuple(layer.name for layer in ls if layer.tags["branch_role"] in ("in", "in+out")),
                               tuple(layer.name for layer in ls if layer.tags["branch_role"] in ("out", "in+out")),
                               t0.get("branch_found_by", "fx"), t0.get("branch_module")))
    blocks = max((b.block for b in branches), default=-1) + 1
    return Residual(tuple(branches), blocks, tuple(shortcuts), s.trace_error,
                    {layer.name: layer for layer in s.layers})


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cached_structure(model: nn.Module):
    """:func:`~initlab.model.structure.find_structure` of ``model``, traced once and kept while its modules
    and parameter shapes stay the same (the probe asks for it on every call); None when the model has no
    parameters or a layer's role cannot be decided."""
    from .structure import find_structure

    sig = tuple((n, type(m).__name__, tuple(tuple(p.shape) for p in m.parameters(recurse=False)))
                for n, m in model.named_modules())
    hit = _CACHE.get(model)
    if hit is not None and hit[0] == sig:
        return hit[1]
    try:
        s = find_structure(model)
    except InitlabError:
        s = None
    _CACHE[model] = (sig, s)
    return s


def merges(structure) -> list[dict]:
    """The residual merges a traced structure holds, in order: ``{"branch", "block", "node", "fork",
    "prenorm"}`` (``node``/``fork``: names of the fx nodes that add the branch and that the branch reads)."""
    seen: dict = {}
    if structure is None:
        return []
    for layer in structure.layers:
        t = layer.tags
        if "merge" in t and t["branch"] not in seen:
            seen[t["branch"]] = {"branch": t["branch"], "block": t["block"], "node": t["merge"], "fork": t["fork"],
                                 "prenorm": bool(t.get("prenorm"))}
    return [seen[k] for k in sorted(seen)]


def require_branches(residual: Residual, what: str, model: nn.Module | None = None) -> Residual:
    """``residual`` if it has at least one branch; else the one-line error saying how to give them."""
    if residual.count:
        return residual
    name = type(model).__name__ if model is not None else "model"
    why = (f"torch.fx could not trace it ({residual.trace_error}) and no names looked like residual blocks"
           if residual.trace_error else "no addition of a branch to a skip path was found in its forward()")
    raise InitlabError(f"model: got a {name} without residual branches ({why}); allowed for {what}: a model whose "
                       "forward adds branches to a skip path (x + F(x)) — if yours does, give them with "
                       "rules={'blocks.*.mlp': 'branch', 'blocks.*.attn': 'branch'} (one pattern per branch module)")


# --------------------------------------------------------------------------------------- tagging
def _tag(layers: dict, branches: list[dict], found_by: str) -> None:
    """Write the tags of ``branches`` (dicts: layers → position, depth, block key, module) into ``layers``."""
    keys: dict = {}
    for b in branches:
        keys.setdefault(b["key"], len(keys))
    n, n_blocks = len(branches), len(keys)
    for index, b in enumerate(branches):
        depth = b["depth"]
        for order, (name, pos) in enumerate(b["positions"].items()):
            layer = layers.get(name)
            if layer is None:
                continue
            out = name in b["last"]
            role = "in+out" if pos == 0 and out else "in" if pos == 0 else "out" if out else "mid"
            layer.tags.update(branch=index, block=keys[b["key"]], branch_pos=pos, branch_depth=depth,
                              branch_role=role, branches=n, blocks=n_blocks, branch_found_by=found_by,
                              block_key=b["key"], _order=order)
            if b.get("module") is not None:
                layer.tags["branch_module"] = b["module"]
            layer.tags.update(b.get("extra", {}))


def _block_key(names: list[str], index: int):
    """Branches whose layers share a module path up to a numeric index (``blocks.3``) share a block."""
    parts = [n.split(".") for n in names]
    common = []
    for items in zip(*parts):
        if len(set(items)) != 1:
            break
        common.append(items[0])
    for k in range(len(common) - 1, -1, -1):
        if common[k].isdigit():
            return ".".join(common[:k + 1])
    return f"#{index}"


# --------------------------------------------------------------------------------------- torch.fx
def _is_add(node) -> bool:
    return (node.op == "call_function" and node.target in _ADD_FUNCS) or \
        (node.op == "call_method" and node.target in _ADD_METHODS)


class _Graph:
    """Data edges of a traced graph, both ways, with each node's place in topological order."""

    def __init__(self, gm):
        from .structure import _data_inputs

        self.inputs = _data_inputs
        self.order = {n: i for i, n in enumerate(gm.graph.nodes)}
        self.users: dict = {}
        for n in gm.graph.nodes:
            for i in _data_inputs(n):
                self.users.setdefault(i, []).append(n)

    def forward(self, start, stop: int) -> set:
        """``start`` and every node reachable from it along data edges, up to place ``stop``."""
        seen, stack = {start}, [start]
        while stack:
            for u in self.users.get(stack.pop(), ()):
                if u not in seen and self.order[u] <= stop:
                    seen.add(u)
                    stack.append(u)
        return seen

    def fork(self, a, b) -> tuple[object | None, set, set]:
        """The latest common ancestor of ``a`` and ``b`` (None if they have none), and the nodes above it
        that only ``a`` / only ``b`` reach back to."""
        import heapq

        marks = {a: 1, b: 2}
        heap = [(-self.order[a], id(a), a), (-self.order[b], id(b), b)]
        heapq.heapify(heap)
        done: set = set()
        side_a, side_b = set(), set()
        while heap:
            _, _, n = heapq.heappop(heap)
            if n in done:
                continue
            done.add(n)
            if marks[n] == 3:
                return n, side_a, side_b
            (side_a if marks[n] == 1 else side_b).add(n)
            for p in self.inputs(n):
                if p not in marks:
                    heapq.heappush(heap, (-self.order[p], id(p), p))
                marks[p] = marks.get(p, 0) | marks[n]
        return None, side_a, side_b


def _skip_ok(node, data_inputs, modules) -> bool:
    """A node that may sit on the skip path: a module call (not an embedding), a parameter, a shape,
    dropout or pooling operation, or a scale/shift by a constant or parameter."""
    if node.op in ("call_module",):
        return not isinstance(modules.get(node.target), (nn.Embedding, nn.EmbeddingBag))
    if node.op in ("get_attr", "placeholder"):
        return True
    from .structure import _CREATION

    if node.op == "call_function":
        if node.target in _SKIP_FUNCS or node.target in _CREATION or node.target is getattr:
            return True
        return node.target in _SCALE_FUNCS and len(data_inputs(node)) <= 1
    if node.op == "call_method":
        return node.target in _SKIP_METHODS or (node.target in _SCALE_METHODS and len(data_inputs(node)) <= 1)
    return False


def _is_norm_node(node, modules) -> bool:
    from .activations import NORMALIZATION, NORMALIZATION_FUNCTIONS

    if node.op == "call_module":
        return isinstance(modules.get(node.target), NORMALIZATION)
    return node.op == "call_function" and node.target in NORMALIZATION_FUNCTIONS


def _fx_residual(gm, layers: dict, calls: dict) -> None:
    """GRAPH_ANALYSES entry: tag the branches of every residual merge of the traced graph."""
    g = _Graph(gm)
    modules = dict(gm.named_modules())
    weight_targets = set(calls)
    accepted_merges: set = set()
    found: list[dict] = []
    shortcuts: set[str] = set()

    def is_weight(n):
        return n.op == "call_module" and n.target in weight_targets

    for node in gm.graph.nodes:
        if not _is_add(node):
            continue
        data = g.inputs(node)
        if len(data) != 2 or len(node.all_input_nodes) != 2:
            continue
        a, b = data
        fork, side_a, side_b = g.fork(a, b)
        if fork is None:
            continue
        wa = [n for n in side_a if is_weight(n)]
        wb = [n for n in side_b if is_weight(n)]
        if len(wa) == len(wb):
            continue
        branch_nodes, skip_nodes = (side_a, side_b) if len(wa) > len(wb) else (side_b, side_a)
        if len([n for n in skip_nodes if is_weight(n)]) > 1 or \
                not all(_skip_ok(n, g.inputs, modules) for n in skip_nodes):
            continue
        # only what runs after the fork belongs to the branch (a mask built from the input does not)
        branch_nodes = branch_nodes & g.forward(fork, g.order[node])
        weights = sorted((n for n in branch_nodes if is_weight(n)), key=g.order.__getitem__)
        if not weights:
            continue
        if any(isinstance(modules.get(n.target), (nn.Embedding, nn.EmbeddingBag)) for n in weights):
            continue
        if branch_nodes & accepted_merges:
            continue
        accepted_merges.add(node)
        shortcuts.update(n.target for n in skip_nodes if is_weight(n))
        # the place of each weight layer: weight layers on the longest path from the fork to it
        depth: dict = {}
        for n in sorted(branch_nodes, key=g.order.__getitem__):
            base = max((depth[p] for p in g.inputs(n) if p in depth), default=0)
            depth[n] = base + 1 if is_weight(n) else base
        last = set()
        for n in weights:  # branch-out: no other weight layer of the branch after it
            after = g.forward(n, g.order[node]) & branch_nodes
            if not any(is_weight(x) and x is not n for x in after):
                last.add(n.target)
        positions: dict[str, int] = {}
        for n in weights:
            positions.setdefault(n.target, depth[n] - 1)
        for t in list(positions):  # nn.MultiheadAttention: its out_proj is the layer after the q/k/v projection
            if isinstance(modules.get(t), nn.MultiheadAttention) and f"{t}.out_proj" in layers:
                positions[f"{t}.out_proj"] = positions[t] + 1
                if t in last:
                    last = (last - {t}) | {f"{t}.out_proj"}
        m = max(positions.values()) + 1
        prenorm = any(depth[n] == 0 and _is_norm_node(n, modules) for n in branch_nodes)
        found.append({"positions": positions, "depth": m, "last": last, "key": _block_key(list(positions), len(found)),
                      "extra": {"merge": node.name, "fork": fork.name, "prenorm": prenorm}})
    if found:
        _tag(layers, found, "fx")
    for name in shortcuts:
        if name in layers:
            layers[name].tags["shortcut"] = True


# --------------------------------------------------------------------------------------- rules and names
def _weight_layers_under(model: nn.Module, prefix: str, layers: dict) -> list[str]:
    from .structure import NORM_TYPES

    out = []
    for name, m in model.named_modules():
        if (name == prefix or name.startswith(prefix + ".")) and name in layers and not isinstance(m, NORM_TYPES) \
                and layers[name].role not in ("other", "norm"):
            out.append(name)
    return out


def _branch_from_module(model, prefix: str, layers: dict, index: int, names: list[str] | None = None) -> dict | None:
    names = _weight_layers_under(model, prefix, layers) if names is None else names
    if not names:
        return None
    positions, pos = {}, -1
    for name in names:  # q, k, v read the stream together: one place
        role = layers[name].role
        if not (role in ("attn_k", "attn_v") and pos == 0):
            pos += 1
        positions[name] = pos
    if any(layers[n].role == "attn_o" for n in names):  # module order may put o before nothing else
        positions = {n: (1 if layers[n].role == "attn_o" else 0) if layers[n].role.startswith("attn")
                     else p for n, p in positions.items()}
    m = max(positions.values()) + 1
    last = {n for n, p in positions.items() if p == m - 1}
    return {"positions": positions, "depth": m, "last": last, "key": _block_key(names, index), "module": prefix}


def _from_rules(model, layers: dict, rules: list) -> list[dict]:
    from .structure import BRANCH

    picked: list[str] = []
    for name, m in model.named_modules():
        if not name:
            continue
        for key, value in rules:
            if value[0] != BRANCH:
                continue
            if (isinstance(key, type) and isinstance(m, key)) or (isinstance(key, str) and fnmatch.fnmatchcase(name, key)):
                picked.append(name)
                break
    out = []
    for name in picked:
        if any(name.startswith(p + ".") for p in picked if p != name):
            continue  # the innermost pattern wins: a matched module inside another matched one
        b = _branch_from_module(model, name, layers, len(out))
        if b is not None:
            out.append(b)
    return out


def _from_names(model: nn.Module, layers: dict) -> list[dict]:
    out = []
    for cname, container in model.named_modules():
        if not isinstance(container, (nn.ModuleList, nn.Sequential)):
            continue
        kids = list(container.named_children())
        if len(kids) < 2 or len({type(m) for _, m in kids}) != 1:
            continue
        prefix = f"{cname}." if cname else ""
        if any(len(_weight_layers_under(model, prefix + k, layers)) < 2 for k, _ in kids):
            continue
        for k, block in kids:
            subs = [prefix + k + "." + n for n, _ in block.named_children()
                    if _ATTENTION_NAMES.match(n) or _MLP_NAMES.match(n)]
            parts = [(part, None) for part in subs]
            rest = [n for n in _weight_layers_under(model, prefix + k, layers)
                    if not any(n == p or n.startswith(p + ".") for p in subs)]
            if rest:  # the block's other weight layers (nn.TransformerEncoderLayer's linear1, linear2)
                parts.append((prefix + k if not subs else None, rest))
            for part, names in parts:
                b = _branch_from_module(model, part, layers, len(out), names)
                if b is not None:
                    b["key"] = prefix + k
                    out.append(b)
    return out


def _model_residual(model: nn.Module, layers: dict, rules: list, trace_error: str | None) -> None:
    """MODEL_ANALYSES entry: rules replace what fx found; names stand in when the model did not trace."""
    from .structure import BRANCH

    if any(value[0] == BRANCH for _, value in rules):
        for layer in layers.values():
            for key in (*BRANCH_TAGS, "branch_found_by", "branch_module", "_order", "shortcut", "merge", "fork",
                        "prenorm", "block_key"):
                layer.tags.pop(key, None)
        _tag(layers, _from_rules(model, layers, rules), "rule")
        return
    if trace_error is not None and not any("branch" in layer.tags for layer in layers.values()):
        _tag(layers, _from_names(model, layers), GUESSED_BY_NAMES)


def register() -> None:
    from .structure import GRAPH_ANALYSES, MODEL_ANALYSES

    if _fx_residual not in GRAPH_ANALYSES:
        GRAPH_ANALYSES.append(_fx_residual)
    if _model_residual not in MODEL_ANALYSES:
        MODEL_ANALYSES.append(_model_residual)


register()
