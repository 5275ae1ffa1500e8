r"""Mean-field prediction for an actual chain of ``nn.Linear`` layers and elementwise activations.

:func:`predict_model` reads each Linear layer's *actual* weight and bias scales and walks the
chain in module order, so that what the theory predicts can be set beside what a probe measures
on the same model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from ..errors import InitlabError
from ..activations import CATALOGUE
from ..model.activations import module_row
from .meanfield import _Q_INF, _at_infinity, _nodes, _nonneg, _Phi

__all__ = ["predict_model", "ELEMENTWISE", "SKIPPED"]

ELEMENTWISE = tuple(cls for r in CATALOGUE if r.theory for cls in r.module_classes())
"""Activation modules :func:`predict_model` understands: the catalogue's rows that theory supports
(deterministic and elementwise; not RReLU, which draws its slopes)."""

_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
SKIPPED = (nn.Identity, nn.Flatten, nn.Unflatten, *_DROPOUT, nn.AlphaDropout, nn.FeatureAlphaDropout)
"""Modules that leave the second moments unchanged and are skipped (dropout: see :func:`predict_model`)."""


def _as_function(name: str, m: nn.Module):
    """A float64 callable computing what the activation module ``m`` computes, without its hooks."""
    if isinstance(m, nn.PReLU):
        w = m.weight.detach()
        if w.numel() != 1:
            raise InitlabError(f"model: got module {name!r} (PReLU with {w.numel()} slopes, a different activation "
                               "per unit); allowed: PReLU with num_parameters=1")
        slope = float(w.to(torch.float64).reshape(()))
        return lambda x: torch.nn.functional.leaky_relu(x, slope)
    forward = type(m).forward
    # clone: an inplace module must not write into the quadrature nodes (a leaf that requires grad)
    return lambda x: forward(m, x.clone())


def _kinks(m: nn.Module) -> tuple[float, ...]:
    """Points where the activation module ``m`` has a kink (a panel edge for the quadrature), from
    its catalogue row and the module's parameters."""
    r = module_row(m)
    return r.kink_points(r.module_params(m)) if r is not None else ()


def _compose(functions):
    def composed(x):
        for fn in functions:
            x = fn(x)
        return x

    return composed


class _Block:
    """The elementwise steps between one Linear layer and the next."""

    def __init__(self):
        self.functions: list = []
        self.labels: list[str] = []
        self.dropout_scale = 1.0  # 1/(1-p) per training-mode dropout, on the second moment and the gradient
        self.kinks: tuple[float, ...] = ()  # of the first activation (later ones' kinks are not cut)

    def stats(self, q: float) -> tuple[float, float, float]:
        """``E[φ(h)]``, ``E[φ(h)²]`` and ``E[φ'(h)²]`` for h ~ N(0, q), φ the composed activations."""
        if not self.functions:
            return 0.0, q, 1.0
        phi = _Phi(_compose(self.functions), kinks=self.kinks)
        x, _, w = _nodes(phi, np.array([q]))
        y, dy = phi.value_and_grad(x)
        qa = np.array([q])
        with np.errstate(over="ignore", invalid="ignore"):  # an exploding chain overflows to inf
            mean = _at_infinity(qa, (y * w).sum(axis=1), math.sqrt(_Q_INF))[0]
            second = _at_infinity(qa, (y * y * w).sum(axis=1), _Q_INF)[0]
            return float(mean), float(second), float((dy * dy * w).sum())

    @property
    def label(self) -> str:
        return "+".join(self.labels) if self.labels else "identity"


def _leaves(model: nn.Module):
    """Leaf modules in registration order; a container that owns parameters itself is yielded as a
    leaf (so that it is reported as unsupported rather than half read, e.g. MultiheadAttention)."""
    skip = None
    for name, m in model.named_modules():
        if skip is not None and name.startswith(skip):
            continue
        has_children = any(True for _ in m.children())
        if has_children and not any(True for _ in m.parameters(recurse=False)):
            continue
        if has_children:
            skip = name + "." if name else ""
        yield name, m


def predict_model(model: nn.Module, input_variance: float = 1.0) -> list[dict]:
    r"""Mean-field prediction for a chain of ``nn.Linear`` layers and elementwise activations, or for a
    residual network (one whose traced graph adds branches to a skip path), which
    :func:`initlab.theory.residual.predict_graph` follows through its graph instead.

    For each ``nn.Linear`` (in module registration order, which for ``nn.Sequential`` is the order
    of execution) the layer's actual scales are read:

    .. math:: σ_w² = \mathrm{fan\_in} \cdot \mathrm{mean}(W^2), \qquad
              σ_b² = \mathrm{mean}(b^2)\ (0 \text{ without bias})

    and the pre-activation variance is propagated with the variance map of Poole et al. 2016,
    with φ the composition of the elementwise modules that follow the layer up to the next one:

    .. math:: q_1 = σ_{w,1}² \, m_0 + σ_{b,1}², \qquad
              q_{i+1} = σ_{w,i+1}² \, E[φ_i(\sqrt{q_i} z)^2] + σ_{b,i+1}²

    where ``m_0 = input_variance`` is the second moment of the network input (zero-mean data:
    its variance), passed through any activation modules that come before the first Linear.
    Backwards (gradient independence, Schoenholz et al. 2017), the variance of ∂L/∂h relative to
    the last Linear layer's pre-activation (= 1) is

    .. math:: g_i = g_{i+1} \cdot E[φ_i'(\sqrt{q_i} z)^2] \cdot \mathrm{fan\_out}_{i+1} \, \mathrm{mean}(W_{i+1}^2)

    (``fan_out·mean(W²) = σ_w² · fan_out/fan_in``, exact for layers of unequal width).

    Returns one dict per Linear layer with keys ``layer`` (qualified module name), ``index``
    (0, 1, …), ``activation`` (class names of the modules forming φ, joined by ``+``; ``identity``
    if none), ``sigma_w2``, ``sigma_b2``, ``pred_preact_var`` (q), ``pred_out_var`` (variance
    ``E[φ²] − E[φ]²`` of the activation output; q when there is no activation) and
    ``pred_grad_var``.

    Modules: :data:`ELEMENTWISE` activations (computed by the module's own ``forward`` at float64
    quadrature nodes — hooks are not run); :data:`SKIPPED` modules. Dropout in eval mode changes
    nothing; in training mode (inverted dropout, keep-probability 1−p) it multiplies the second
    moment reaching the next Linear and the gradient variance by ``1/(1−p)`` — supported when no
    activation follows it in the same block. Alpha dropout is supported in eval mode only. Any
    other module raises :class:`~initlab.errors.InitlabError` naming it. Biases are treated as
    zero-mean (their mean square is used). Functional calls inside a custom ``forward`` are not
    seen: only modules are.

    The model is only read: no forward pass, no gradients, no change to parameters, buffers,
    modes or hooks.
    """
    if not isinstance(model, nn.Module):
        raise InitlabError(f"model: got {type(model).__name__}; allowed: a torch.nn.Module chain of nn.Linear "
                           "layers and elementwise activations")
    m0 = _nonneg("input_variance", input_variance)
    from ..model.residual import cached_structure, merges
    if merges(structure := cached_structure(model)):  # a residual network: the stream adds up its branches
        from .residual import predict_graph

        return predict_graph(model, m0, structure).layers
    linears: list[tuple[str, nn.Linear]] = []
    blocks = [_Block()]  # blocks[0]: modules before the first Linear; blocks[i+1]: after Linear i
    for name, m in _leaves(model):
        block = blocks[-1]
        if isinstance(m, nn.Linear):
            if isinstance(m.weight, nn.parameter.UninitializedParameter):
                raise InitlabError(f"model: got module {name!r} ({type(m).__name__}), not initialized yet; "
                                   "allowed: materialized layers (run one forward pass first)")
            linears.append((name, m))
            blocks.append(_Block())
        elif isinstance(m, ELEMENTWISE):
            if block.dropout_scale != 1.0:
                raise InitlabError(f"model: got module {name!r} ({type(m).__name__}) after a dropout module in "
                                   "training mode; allowed: dropout after the activations of a block, or model.eval()")
            if not block.functions:
                block.kinks = _kinks(m)
            block.functions.append(_as_function(name, m))
            block.labels.append(type(m).__name__)
        elif isinstance(m, _DROPOUT):
            if m.training and m.p > 0:
                if m.p >= 1:
                    raise InitlabError(f"model: got module {name!r} ({type(m).__name__}) with p={m.p}; "
                                       "allowed: p < 1 (or eval mode)")
                block.dropout_scale /= 1.0 - m.p
        elif isinstance(m, (nn.AlphaDropout, nn.FeatureAlphaDropout)):
            if m.training and m.p > 0:
                raise InitlabError(f"model: got module {name!r} ({type(m).__name__}) in training mode; "
                                   "allowed: alpha dropout in eval mode (call model.eval())")
        elif isinstance(m, SKIPPED):
            continue
        else:
            allowed = "nn.Linear, " + ", ".join(c.__name__ for c in ELEMENTWISE + SKIPPED)
            raise InitlabError(f"model: got module {name!r} ({type(m).__name__}), which the mean-field chain "
                               f"prediction does not support; allowed: {allowed}")
    if not linears:
        raise InitlabError(f"model: got a {type(model).__name__} without nn.Linear layers; "
                           "allowed: a chain with at least one nn.Linear")

    with torch.no_grad():
        scales = []
        for _, lin in linears:
            w = lin.weight.detach().to(device="cpu", dtype=torch.float64)
            w2 = float((w * w).mean())
            b = None if lin.bias is None else lin.bias.detach().to(device="cpu", dtype=torch.float64)
            b2 = 0.0 if b is None else float((b * b).mean())
            scales.append((lin.in_features * w2, b2, lin.out_features * w2))

    second = blocks[0].stats(m0)[1] * blocks[0].dropout_scale
    rows, dphi2 = [], []
    for i, ((name, _), (sw2, sb2, _)) in enumerate(zip(linears, scales)):
        q = sw2 * second + sb2
        block = blocks[i + 1]
        mean, second, d2 = block.stats(q)
        out_var = math.inf if math.isinf(second) else second - mean * mean
        second *= block.dropout_scale
        dphi2.append(d2 * block.dropout_scale)
        rows.append({"layer": name, "index": i, "activation": block.label, "sigma_w2": sw2, "sigma_b2": sb2,
                     "pred_preact_var": q, "pred_out_var": out_var, "pred_grad_var": math.nan})
    grad = 1.0
    rows[-1]["pred_grad_var"] = grad
    for i in range(len(rows) - 2, -1, -1):
        grad *= dphi2[i] * scales[i + 1][2]
        rows[i]["pred_grad_var"] = grad
    return rows
