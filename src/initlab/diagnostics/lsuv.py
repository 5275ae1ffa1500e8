"""Layer-sequential unit-variance initialization (LSUV; Mishkin & Matas 2015, "All you need is a
good init", Algorithm 1).

1. Fill every Linear, Conv and ConvTranspose weight with an orthonormal matrix (Saxe et al. 2013;
   ``initlab.get("orthogonal")``) and every bias of those layers with 0.
2. In forward order, for each such layer L: run the batch, measure ``v = Var(output of L)`` (over
   every element of the output), and while ``|v − 1| ≥ tol`` and fewer than ``max_iter``
   rescalings were made, set ``W_L ← W_L / √v`` and measure again.

With a zero bias the output of L is linear in ``W_L`` for a fixed input, so one rescaling
usually lands within ``tol``; layers after a normalization or with a non-zero input mean may
take more.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import InitlabError, check_int, check_number, check_type
from ._sites import check_layer_input
from ._rows import RowsByLayer
from ._state import ModelState
from ._stats import forward_stats
from .probe import _check_inputs, _first_tensor, _jsonable

__all__ = ["lsuv", "LSUVResult", "LSUV_COLUMNS"]

LSUV_COLUMNS = ("index", "layer", "kind", "iterations", "initial_var", "final_var", "scale", "converged")

_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)

class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer being measured has run."""

@dataclass(frozen=True)
class LSUVResult(RowsByLayer):
    """Per layer, in forward order: ``iterations`` (rescalings made), ``initial_var`` (output
    variance after the orthonormal init), ``final_var``, ``scale`` (the product of the factors
    applied to the weight) and ``converged`` (``|final_var − 1| < tol``)."""

    rows: tuple[dict, ...]
    tol: float
    max_iter: int

    @property
    def converged(self) -> bool:
        return all(r["converged"] for r in self.rows)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([dict(r) for r in self.rows], columns=list(LSUV_COLUMNS))

    def to_dict(self) -> dict:
        return {"tol": self.tol, "max_iter": self.max_iter,
                "rows": [{k: _jsonable(r[k]) for k in LSUV_COLUMNS} for r in self.rows]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __str__(self) -> str:
        lines = [f"LSUV (tol={self.tol:g}, max_iter={self.max_iter}): "
                 f"{sum(r['converged'] for r in self.rows)}/{len(self.rows)} layers converged"]
        for r in self.rows:
            lines.append(f"  {r['layer']:<24} {r['kind']:<16} iterations={r['iterations']:<3} "
                         f"var {r['initial_var']:.4g} -> {r['final_var']:.4g}")
        return "\n".join(lines)

def _output_var(model: nn.Module, layer: nn.Module, args: tuple) -> float:
    """Variance of ``layer``'s output on ``args`` (NaN when the forward never reaches it); the forward
    stops right after the layer, so later (possibly in-place) operations never run."""
    seen: list[float] = []

    def hook(_m, _a, out):
        y = _first_tensor(out)
        seen.append(forward_stats(y)["std"] ** 2 if y is not None and y.is_floating_point() else math.nan)
        raise _Stop

    handle = layer.register_forward_hook(hook)
    try:
        model(*args)
    except _Stop:
        pass
    finally:
        handle.remove()
    return seen[0] if seen else math.nan

def _forward_order(model: nn.Module, layers: dict, args: tuple) -> list[tuple[str, nn.Module]]:
    """The layers in the order the forward pass first calls them, checking each one's input shape."""
    order: list[tuple[str, nn.Module]] = []
    shape = tuple(args[0].shape)

    def pre(name, m, _m, a):
        check_layer_input(name, m, a, shape)
        if all(m is not o for _, o in order):
            order.append((name, m))

    handles = [m.register_forward_pre_hook(lambda mm, a, name=name, m=m: pre(name, m, mm, a))
               for name, m in layers.items()]
    try:
        model(*args)
    finally:
        for h in handles:
            h.remove()
    return order

def lsuv(model: nn.Module, batch, tol: float = 0.1, max_iter: int = 10, seed: int | None = None) -> LSUVResult:
    """Initialize ``model`` in place by LSUV (see the module docstring) on ``batch`` and return
    what each layer needed.

    ``batch``: a tensor (batch dimension first, at least 2 samples, all finite) or a tuple of
    tensors for ``forward(*batch)``. ``seed`` fixes the orthonormal matrices (one stream per layer
    name); ``None`` draws from torch's global generator. The forward passes run in eval mode
    (dropout off, BatchNorm on its running statistics, which stay untouched) under ``no_grad``.
    Afterwards every module's train/eval mode, hooks, buffers, ``.grad`` and ``requires_grad`` are
    as before; only the weights and biases of the LSUV layers changed. If anything fails, the
    parameters are restored too.

    >>> import torch, torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 4))
    >>> result = lsuv(net, torch.randn(128, 16, generator=torch.Generator().manual_seed(0)), seed=0)
    >>> result.converged, [r["iterations"] for r in result], [round(r["final_var"], 2) for r in result]
    (True, [1, 1], [1.0, 1.0])

    ``tol`` is in (0, 1), ``max_iter`` an integer ≥ 1, ``seed`` None or an integer ≥ 0.
    """
    from ..schemes import get

    from ..adapters import keras_model_adapter  # Keras models: initlab.adapters.keras_diag
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.lsuv(model, batch, tol=tol, max_iter=max_iter, seed=seed)
    check_type("model", model, nn.Module, "a torch.nn.Module")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, _LAYERS)}
    if not layers:
        raise InitlabError(f"model: got a {type(model).__name__} with no Linear, Conv or ConvTranspose layer; "
                           "allowed: a model with at least one (LSUV rescales those layers)")
    args = tuple(a.detach().clone() for a in _check_inputs(batch))
    n = args[0].shape[0]
    if n < 2:
        raise InitlabError(f"batch: got {n} sample; allowed: at least 2 samples — LSUV estimates each layer's "
                           "output variance from the batch (Mishkin & Matas used a mini-batch; 64 or more give a "
                           "stable estimate)")
    if not all(bool(torch.isfinite(a).all()) for a in args if a.is_floating_point()):
        raise InitlabError("batch: got NaN/Inf values; allowed: finite inputs (a variance of NaN cannot be "
                           "rescaled to 1)")
    tol = check_number("tol", tol, minimum=0.0, maximum=1.0, open_min=True, open_max=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    if seed is not None:
        check_int("seed", seed, minimum=0)

    state = ModelState(model, keep_params=True)
    rows = []
    try:
        with torch.no_grad():
            model.eval()
            order = _forward_order(model, layers, args)
            ortho = get("orthogonal")
            for name, m in layers.items():
                ortho(m.weight, seed=seed, key=name)
                if isinstance(m.bias, Tensor):
                    m.bias.zero_()
            for index, (name, m) in enumerate(order):
                var = _output_var(model, m, args)
                initial, scale, it = var, 1.0, 0
                while it < max_iter and math.isfinite(var) and var > 0 and abs(var - 1.0) >= tol:
                    factor = 1.0 / math.sqrt(var)
                    m.weight.mul_(factor)
                    scale *= factor
                    it += 1
                    var = _output_var(model, m, args)
                rows.append({"index": index, "layer": name, "kind": type(m).__name__, "iterations": it,
                             "initial_var": initial, "final_var": var, "scale": scale,
                             "converged": bool(math.isfinite(var) and abs(var - 1.0) < tol)})
    except BaseException:
        state.restore(params=True)
        raise
    state.restore(rng=False)
    return LSUVResult(tuple(rows), tol, max_iter)
