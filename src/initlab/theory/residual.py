r"""Mean-field theory of residual networks: the stream's variance, block by block.

Yang & Schoenholz 2017 ("Mean Field Residual Networks: On the Edge of Chaos") follow the second moment
``p^l`` of the residual stream of a *full residual network* ``x^l = x^{l−1} + V φ(W x^{l−1} + b) + a``:

.. math:: q^l = σ_w² p^{l−1} + σ_b², \qquad p^l = p^{l−1} + σ_v² E[φ(\sqrt{q^l} z)^2] + σ_a²

with ``Var(W) = σ_w²/fan_in``, ``Var(V) = σ_v²/fan_in``, z ~ N(0, 1). Each block *adds* the branch's
variance to the stream, so the stream grows with the number of blocks L unless the branches are
scaled: geometrically without normalization for ReLU (``p^l = p^{l−1}(1 + σ_v²σ_w²/2)``), and linearly,
``p^L = p^0 + L·c`` (std ∝ √L), when a normalization feeds each branch a unit second moment (pre-norm:
``x + F(LN(x))``, as in GPT-2). :func:`predict_residual` writes this out for branches of ``m`` layers,
a multiplier α on every branch (ReZero/SkipInit's α, depth-μP's L^(−1/2), CompleteP's L^(−1)), and
``norm="pre"``: ``p^l = p^{l−1} + α²·c^l``.

:func:`predict_graph` does the same for an actual model: it follows the second moment of every tensor
of the model's traced graph (torch.fx) — a Linear/Conv multiplies it by ``fan_in·mean(W²)`` and adds
``mean(b²)`` (with the forward multipliers of :func:`initlab.parametrize` and the scalars of the recipes'
wrappers, which live in hooks the trace does not show), an elementwise activation maps q to ``E[φ(√q z)²]`` (the same Gaussian quadrature as
:mod:`initlab.theory.meanfield`), a LayerNorm resets it to ``mean(γ²) + mean(β²)``, an addition of two
tensors adds their moments (the branch is independent of the stream, as the theory assumes), dropout,
reshapes and identities keep it — and backwards the gradient's second moment (gradient independence,
Schoenholz et al. 2017), relative to the last weight layer's output. It gives a row per weight layer
(what :func:`initlab.theory.predict_model` returns, now for residual models too) and a row per residual
merge (the stream after each branch is added), which :func:`initlab.probe` sets beside what it measures.

>>> p = predict_residual("relu", sigma_w=2 ** 0.5, sigma_v=1.0, blocks=3, norm="pre")  # He, then Glorot-like
>>> [round(float(x), 6) for x in p.p]                                      # p^L = 1 + L·σ_v²σ_w²/2
[1.0, 2.0, 3.0, 4.0]
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InitlabError, check_choice, check_int
from .meanfield import _Phi, _at_infinity, _frozen, _nodes, _nonneg, _number, _squares, _stats, _Q_INF

__all__ = ["ResidualPrediction", "predict_residual", "predict_graph", "GraphPrediction"]


@dataclass(frozen=True, eq=False)
class ResidualPrediction:
    """:func:`predict_residual`'s result. ``p`` (length L + 1): the stream's second moment before the first
    block (``p[0] = q0``) and after each block; ``branch`` (length L): the second moment each branch
    adds before its multiplier; ``q`` (length L): the variance of each branch's first pre-activation."""

    activation: str
    blocks: int
    branch_layers: int
    multiplier: float
    norm: str | None
    p: np.ndarray = field(repr=False)
    branch: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)

    @property
    def std(self) -> np.ndarray:
        """The stream's std, √p (zero-mean stream)."""
        return np.sqrt(self.p)

    def to_rows(self) -> list[dict]:
        """One dict per block (``block`` counts from 1): stream second moment and std after it, the branch's."""
        return [{"block": l + 1, "p": float(self.p[l + 1]), "std": float(math.sqrt(self.p[l + 1])),
                 "branch": float(self.branch[l]), "q": float(self.q[l])} for l in range(self.blocks)]


def predict_residual(activation, sigma_w: float, sigma_b: float = 0.0, blocks: int = 10, *, branch_layers: int = 2,
                     sigma_v: float | None = None, sigma_a: float = 0.0, multiplier: float = 1.0,
                     norm: str | None = None, q0: float = 1.0, negative_slope: float | None = None
                     ) -> ResidualPrediction:
    r"""The stream's second moment through ``blocks`` residual blocks ``x + α·F(N(x))``.

    F has ``branch_layers`` = m Linear layers with φ between them (none after the last): its first m − 1
    layers have ``Var(W) = σ_w²/fan_in``, ``Var(b) = σ_b²``, its last ``σ_v²`` and ``σ_a²`` (``sigma_v``
    None: σ_w). N is the identity (``norm=None``) or a normalization that feeds the branch a unit second
    moment (``norm="pre"``). α = ``multiplier``. With m = 2 and no norm this is Yang & Schoenholz 2017's
    full residual network:

    .. math:: q^l = σ_w² s^{l} + σ_b²,\quad p^l = p^{l−1} + α²\,(σ_v² E[φ(\sqrt{q^l} z)^2] + σ_a²),
              \quad s^l = p^{l−1} \text{ (no norm) or } 1 \text{ (pre-norm)}

    (for m > 2 the inner layers apply the plain variance map of Poole et al. 2016 in between; for m = 1
    the branch is linear: ``σ_v² s^l + σ_a²``).
    """
    phi = _Phi(activation, negative_slope)
    sw2, sb2 = _squares(sigma_w, sigma_b)
    sv2, sa2 = _squares(sigma_w if sigma_v is None else sigma_v, sigma_a)
    blocks = check_int("blocks", blocks, minimum=1)
    m = check_int("branch_layers", branch_layers, minimum=1)
    alpha2 = _number("multiplier", multiplier) ** 2
    if norm is not None:
        norm = check_choice("norm", norm, ("pre",))
    p = np.empty(blocks + 1)
    p[0] = _nonneg("q0", q0)
    branch, q_first = np.empty(blocks), np.empty(blocks)
    for l in range(blocks):
        s = 1.0 if norm == "pre" else p[l]
        if m == 1:
            q_first[l] = sv2 * s + sa2
            out = q_first[l]
        else:
            q = sw2 * s + sb2
            q_first[l] = q
            for _ in range(m - 2):
                q = sw2 * float(_stats(phi, np.array([q]))["second"][0]) + sb2
            out = sv2 * float(_stats(phi, np.array([q]))["second"][0]) + sa2
        branch[l] = out
        p[l + 1] = p[l] + alpha2 * out
    return ResidualPrediction(phi.name, blocks, m, math.sqrt(alpha2), norm, _frozen(p), _frozen(branch),
                              _frozen(q_first))


# ==================================================================================== an actual model
@dataclass(frozen=True)
class GraphPrediction:
    """:func:`predict_graph`'s result: ``layers`` (one dict per weight layer, the keys of
    :func:`initlab.theory.predict_model`) and ``stream`` (one dict per residual merge: ``branch``,
    ``block``, ``node``, ``pred_stream_ms`` — the stream's predicted second moment after that branch is
    added — and ``pred_stream_in_ms`` before it)."""

    layers: list
    stream: list


class _Unsupported(Exception):
    pass


def _weight_layer(m: nn.Module) -> bool:
    return isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)) and not isinstance(m, nn.MultiheadAttention)


def _scales(m: nn.Module) -> tuple[float, float, float]:
    """(σ_w² = fan_in·mean(W²), σ_b² = mean(b²), fan_out·mean(W²)) of a Linear or Conv layer."""
    with torch.no_grad():
        w = m.weight.detach().to(device="cpu", dtype=torch.float64)
        w2 = float((w * w).mean())
        b = getattr(m, "bias", None)
        b2 = 0.0 if b is None else float(b.detach().to(device="cpu", dtype=torch.float64).square().mean())
    k = math.prod(w.shape[2:])
    if isinstance(m, nn.modules.conv._ConvNd) and m.transposed:
        fan_in, fan_out = w.shape[0] // m.groups * k, w.shape[1] * k
    elif isinstance(m, nn.modules.conv._ConvNd):
        fan_in, fan_out = w.shape[1] * k, w.shape[0] // m.groups * k
    else:
        fan_in, fan_out = w.shape[1], w.shape[0]
    return fan_in * w2, b2, fan_out * w2


def _activation_phi(node, modules):
    """A :class:`_Phi` for an activation node (module, function or method of the catalogue), or None."""
    from ..model.activations import function_rows, method_rows, module_row
    from .model import ELEMENTWISE, _as_function, _kinks

    phi = None
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, ELEMENTWISE):
            phi, row = _Phi(_as_function(node.target, m), kinks=_kinks(m)), module_row(m)
    else:
        rest_args = node.args[1:]
        if node.op == "call_function" and (row := function_rows().get(node.target)) is not None:
            fn = node.target
            phi = _Phi(lambda x: fn(x.clone(), *rest_args, **node.kwargs), kinks=row.kink_points())
        elif node.op == "call_method" and (row := method_rows().get(node.target)) is not None:
            name = node.target
            phi = _Phi(lambda x: getattr(x.clone(), name)(*rest_args, **node.kwargs), kinks=row.kink_points())
    if phi is not None and row is not None:
        phi.name = row.name
    return phi


_IDENTITY_MODULES = (nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
_IDENTITY_FUNCS = {torch.flatten, torch.reshape, F.dropout}
_IDENTITY_METHODS = {"view", "reshape", "flatten", "contiguous", "clone", "to", "float", "type_as", "transpose",
                     "permute", "unsqueeze", "squeeze"}


def predict_graph(model: nn.Module, input_variance: float = 1.0, structure=None) -> GraphPrediction:
    """Mean-field second moments of every weight layer and of the residual stream of ``model`` (see the
    module docstring). ``structure``: the model's :class:`~initlab.model.structure.Structure` if already
    found. Raises :class:`~initlab.errors.InitlabError` naming the first operation the theory does not
    cover (attention, pooling, concatenation …). The model is only read."""
    from ..model.structure import find_structure

    m0 = _nonneg("input_variance", input_variance)
    s = structure if structure is not None else find_structure(model)
    if s.graph is None:
        raise InitlabError(f"model: got a {type(model).__name__} torch.fx cannot trace ({s.trace_error}); allowed: a "
                           "traceable model for the residual mean-field prediction")
    gm = s.graph
    modules = dict(gm.named_modules())
    from ..model.structure import _data_inputs

    ms: dict = {}       # node -> second moment
    act_of: dict = {}   # activation node -> (phi, q_in)
    rows: list = []
    row_of: dict = {}   # weight layer node -> row
    placeholders = 0
    for node in gm.graph.nodes:
        data = [d for d in _data_inputs(node) if d in ms]  # inputs that carry the network's signal
        try:
            if node.op == "placeholder":
                placeholders += 1
                if placeholders > 1:
                    raise _Unsupported("a second input")
                ms[node] = m0
            elif node.op in ("get_attr", "output"):
                continue
            elif not data:
                continue  # a constant (sizes, masks from buffers): no moment of its own
            elif node.op == "call_module" and _weight_layer(modules[node.target]):
                module = modules[node.target]
                sw2, sb2, _ = _scales(module)
                pre, (aw, ab, post) = _hook_effects(node.target, module)
                ms[node] = post(aw * sw2 * pre(ms[data[0]]) + ab * sb2)
                row = {"layer": node.target, "index": len(rows), "activation": "identity", "sigma_w2": sw2,
                       "sigma_b2": sb2, "pred_preact_var": ms[node], "pred_out_var": ms[node],
                       "pred_grad_var": math.nan}
                if node.target in row_of:
                    raise _Unsupported(f"layer {node.target!r} called twice")
                row_of[node.target] = row
                rows.append(row)
            elif (phi := _activation_phi(node, modules)) is not None:
                q = ms[data[0]]
                st = _stats(phi, np.array([q]))
                second = float(_at_infinity(np.array([q]), st["second"], _Q_INF)[0])
                ms[node] = second
                act_of[node] = (phi, q, float(st["dphi2"][0]))
                src = data[0]
                if src.op == "call_module" and src.target in row_of and row_of[src.target]["activation"] == "identity":
                    r = row_of[src.target]
                    mean = float(st["mean"][0])
                    r["activation"] = phi.name
                    r["pred_out_var"] = math.inf if math.isinf(second) else second - mean * mean
            elif _is_norm(node, modules):
                ms[node] = _norm_moment(node, modules)
            elif _identity(node, modules):
                ms[node] = ms[data[0]]
            elif _is_add(node):
                if len(data) == 2:
                    ms[node] = ms[data[0]] + ms[data[1]]
                else:  # x + constant (a bias, a scalar parameter)
                    ms[node] = ms[data[0]] + _const_moment(node, gm)
            elif _is_mul(node) and len(data) == 1:
                ms[node] = ms[data[0]] * _const_moment(node, gm)
            else:
                raise _Unsupported(f"{node.op} {getattr(node.target, '__name__', node.target)!s}")
        except _Unsupported as e:
            raise InitlabError(f"model: got {e} at {node.name!r}, which the mean-field prediction does not cover; "
                               "allowed: chains and residual blocks of Linear/Conv layers, elementwise activations, "
                               "normalization, dropout and additions") from None
        except KeyError:
            raise InitlabError(f"model: got {node.name!r} reading a value the prediction has no moment for; allowed: "
                               "chains and residual blocks of Linear/Conv layers, elementwise activations, "
                               "normalization, dropout and additions") from None
    if not rows:
        raise InitlabError(f"model: got a {type(model).__name__} without Linear/Conv layers; allowed: at least one")
    _backward(gm, ms, act_of, row_of, modules, _data_inputs)
    stream = []
    from ..model.residual import merges as _merges

    merges = _merges(s)
    by_name = {n.name: n for n in gm.graph.nodes}
    for info in merges:
        node = by_name.get(info["node"])
        if node is None or node not in ms:
            continue
        stream.append({"branch": info["branch"], "block": info["block"], "node": info["node"],
                       "pred_stream_ms": ms[node], "pred_stream_in_ms": ms.get(by_name.get(info["fork"]), math.nan)})
    return GraphPrediction(rows, stream)


class _Post:
    """What a hook after a layer does to its output's second moment: ``ms·scale² + shift²``."""

    def __init__(self, scale2: float = 1.0, shift2: float = 0.0):
        self.scale2, self.shift2 = scale2, shift2

    def __call__(self, m: float) -> float:
        return m * self.scale2 + self.shift2


def _sq(module, name: str) -> float:
    with torch.no_grad():
        return float(getattr(module, name).detach().double().square().mean())


def _hook_effects(name: str, module: nn.Module):
    """The forward hooks on a weight layer, as second-moment maps (torch.fx does not trace hooks): initlab's
    forward multipliers (:mod:`initlab.parametrize.hooks`, ``α_w·Wx + α_b·b``) and the recipes' wrappers
    (:mod:`initlab.model.recipes`: a scalar bias before, a scale and/or shift after). A hook whose
    ``observes_only`` attribute is true records and returns nothing, and is passed over. Returns
    ``(pre, (α_w², α_b², post))``; another hook is an operation the prediction does not cover."""
    from ..model.recipes import _AddBefore, _AfterLayer
    from ..parametrize.hooks import _Affine

    pre_shift, aw, ab, post = 0.0, 1.0, 1.0, _Post()
    for hook in module._forward_pre_hooks.values():
        if getattr(hook, "observes_only", False):
            continue
        if isinstance(hook, _AddBefore):
            pre_shift += _sq(module, hook.names[0])
        else:
            raise _Unsupported(f"a forward pre-hook on {name!r} ({type(hook).__name__})")
    for hook in module._forward_hooks.values():
        if getattr(hook, "observes_only", False):
            continue
        if isinstance(hook, _Affine):
            aw = sum(m * m for m in hook.w_mult) / len(hook.w_mult)
            b = hook.b_mult if hook.b_mult is not None else hook.w_mult
            ab = sum(m * m for m in b) / len(b)
        elif isinstance(hook, _AfterLayer):
            if hook.kind == "scale":
                s2 = _sq(module, hook.names[0])
                post = _Post(post.scale2 * s2, post.shift2 * s2)
            elif hook.kind == "shift":
                post = _Post(post.scale2, post.shift2 + _sq(module, hook.names[0]))
            else:
                s2 = _sq(module, hook.names[0])
                post = _Post(post.scale2 * s2, post.shift2 * s2 + _sq(module, hook.names[1]))
        else:
            raise _Unsupported(f"a forward hook on {name!r} ({type(hook).__name__})")
    return (lambda m: m + pre_shift), (aw, ab, post)


def _is_add(node) -> bool:
    return (node.op == "call_function" and node.target in (operator.add, operator.iadd, torch.add)) or \
        (node.op == "call_method" and node.target in ("add", "add_", "__add__", "__radd__"))


def _is_mul(node) -> bool:
    return (node.op == "call_function" and node.target in (operator.mul, torch.mul, operator.truediv)) or \
        (node.op == "call_method" and node.target in ("mul", "mul_", "div"))


def _identity(node, modules) -> bool:
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, _IDENTITY_MODULES[3:]) and m.training and m.p > 0:
            raise _Unsupported(f"dropout {node.target!r} in training mode (call model.eval())")
        return isinstance(m, _IDENTITY_MODULES)
    if node.op == "call_function":
        if node.target is F.dropout and node.kwargs.get("training", False):
            raise _Unsupported("dropout in training mode")
        return node.target in _IDENTITY_FUNCS
    return node.op == "call_method" and node.target in _IDENTITY_METHODS


def _is_norm(node, modules) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], (nn.LayerNorm, *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())))
    return node.op == "call_function" and node.target in (F.layer_norm, torch.layer_norm)


def _norm_moment(node, modules) -> float:
    """A LayerNorm's output second moment: mean(γ²) + mean(β²) (1 without affine parameters)."""
    if node.op == "call_module":
        m = modules[node.target]
        g = getattr(m, "weight", None)
        b = getattr(m, "bias", None)
        with torch.no_grad():
            g2 = 1.0 if g is None else float(g.detach().double().square().mean())
            b2 = 0.0 if b is None else float(b.detach().double().square().mean())
        return g2 + b2
    return 1.0


def _const_moment(node, gm) -> float:
    """mean(c²) of the constant operand of ``x + c`` / ``x · c`` (a number or a parameter)."""
    for a in list(node.args) + list(node.kwargs.values()):
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            return float(a) ** 2
        if hasattr(a, "op") and a.op in ("get_attr", "call_function", "call_method"):
            try:
                value = _evaluate(a, gm)
            except Exception:  # noqa: BLE001 - anything not evaluable is not a constant
                continue
            if isinstance(value, torch.Tensor):
                return float(value.detach().double().square().mean())
    raise _Unsupported(f"{node.op} with an operand that is neither a tensor of the network nor a constant")


def _evaluate(node, gm):
    if node.op == "get_attr":
        obj = gm
        for part in node.target.split("."):
            obj = getattr(obj, part)
        return obj
    if node.op == "call_function" and node.target is operator.getitem:
        return _evaluate(node.args[0], gm)[node.args[1]]
    raise _Unsupported("a computed constant")


def _backward(gm, ms, act_of, row_of, modules, data_inputs) -> None:
    """The gradient's second moment at each weight layer's output, relative to the last weight layer's."""
    nodes = list(gm.graph.nodes)
    weight_nodes = [n for n in nodes if n.op == "call_module" and n.target in row_of]
    if not weight_nodes:
        return
    g: dict = {weight_nodes[-1]: 1.0}
    for node in reversed(nodes):
        if node not in g or node not in ms:
            continue
        gv = g[node]
        data = [d for d in data_inputs(node) if d in ms]
        if node.op == "call_module" and node.target in row_of:
            row_of[node.target]["pred_grad_var"] = gv
            _, _, fo = _scales(modules[node.target])
            _, (aw, _, post) = _hook_effects(node.target, modules[node.target])
            contrib = [(data[0], aw * post.scale2 * fo * gv)]
        elif node in act_of:
            contrib = [(data[0], act_of[node][2] * gv)]
        elif _is_norm(node, modules):
            contrib = [(data[0], _norm_moment(node, modules) / max(ms[data[0]], 1e-300) * gv)]
        elif _is_add(node):
            contrib = [(d, gv) for d in data]
        elif _is_mul(node) and len(data) == 1:
            contrib = [(data[0], _const_moment(node, gm) * gv)]
        else:
            contrib = [(d, gv) for d in data[:1]]
        for d, v in contrib:
            if d in ms:
                g[d] = g.get(d, 0.0) + v
