"""Per-layer statistics, computed with few passes over each tensor and no per-element Python.

Second moments come from ``torch.linalg.vector_norm`` (one pass, no temporary) and the variance
as ``mean square − mean²``; only when that difference is too small to trust (``var ≤ 1e-4·ms``)
is ``Tensor.var`` used. ``torch.var_mean`` is avoided: several times slower on CPU. Whatever
overflows float32 is redone in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ._sites import ActSpec

__all__ = ["NAN", "forward_stats", "grad_stats", "mean_square", "sum_square", "saturated_fraction",
           "distinct_units", "UnitKeys"]

NAN = float("nan")


def _float(t: Tensor) -> Tensor:
    t = t.detach()
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _nonfinite(x: Tensor) -> int:
    return int(x.numel() - torch.isfinite(x).sum().item())


def _other_dims(x: Tensor, fd: int) -> tuple[int, ...]:
    fd = fd % x.dim()
    return tuple(d for d in range(x.dim()) if d != fd)


def _mean_var(x: Tensor, extra: list[Tensor]) -> tuple[float, float, list[float], int]:
    """Mean, population variance, the values of ``extra`` scalars, and the NaN/Inf count."""
    n = x.numel()
    vals = torch.stack([x.mean(), torch.linalg.vector_norm(x), *extra]).tolist()
    mean, norm, rest = vals[0], vals[1], vals[2:]
    nonfinite = 0
    if not (math.isfinite(mean) and math.isfinite(norm)):
        nonfinite = _nonfinite(x)
        if nonfinite:
            return NAN, NAN, rest, nonfinite
        x = x.double()  # finite values whose squares overflow float32
        mean, norm = x.mean().item(), torch.linalg.vector_norm(x).item()
    ms = norm * norm / n
    var = ms - mean * mean
    if var <= 1e-4 * ms:  # cancellation: compute the variance directly
        var = x.var(correction=0).item()
        if not math.isfinite(var):
            var = x.double().var(correction=0).item()
    return mean, max(var, 0.0), rest, nonfinite


def forward_stats(t: Tensor, dead_fd: int | None = None) -> dict:
    """``mean``, ``std`` (population, over every element), ``min``, ``max``, ``ms`` (mean square),
    ``nonfinite`` (NaN/Inf count) and, when ``dead_fd`` is given, ``frac_dead``: the fraction of
    units along axis ``dead_fd`` whose output is 0 for the whole batch (for outputs ≥ 0, as
    ReLU-family outputs are: a unit is dead when its largest output is 0)."""
    x = _float(t)
    out = {"mean": NAN, "std": NAN, "min": NAN, "max": NAN, "ms": NAN, "nonfinite": 0}
    if x.numel() == 0:
        return out
    extra = list(torch.aminmax(x))
    unit_max = None
    if dead_fd is not None:
        unit_max = x if x.dim() == 1 else x.amax(dim=_other_dims(x, dead_fd))
        extra.append(torch.count_nonzero(unit_max == 0).to(x.dtype))
    mean, var, rest, nonfinite = _mean_var(x, extra)
    out.update(mean=mean, std=math.sqrt(var) if math.isfinite(var) else NAN, min=rest[0], max=rest[1],
               ms=var + mean * mean, nonfinite=nonfinite)
    if unit_max is not None:
        out["frac_dead"] = rest[2] / unit_max.numel()
    return out


def sum_square(t: Tensor) -> float:
    """Sum of the squared elements (float64 when float32 would overflow)."""
    x = _float(t)
    v = torch.linalg.vector_norm(x).item()
    if math.isinf(v) and bool(torch.isfinite(x).all()):
        v = torch.linalg.vector_norm(x.double()).item()
    return v * v


def mean_square(t: Tensor) -> float:
    """Mean of the squared elements."""
    return sum_square(t) / t.numel() if t.numel() else NAN


def grad_stats(g: Tensor) -> tuple[float, int]:
    """Population std of a gradient tensor, and how many of its values are NaN/Inf."""
    x = _float(g)
    if x.numel() == 0:
        return NAN, 0
    _, var, _, nonfinite = _mean_var(x, [])
    return math.sqrt(var) if math.isfinite(var) else NAN, nonfinite


def saturated_fraction(t: Tensor, act: ActSpec) -> float:
    """Fraction of outputs on a flat end of ``act`` (NaN when ``act`` has none)."""
    if not act.has_saturation or t.numel() == 0:
        return NAN
    return torch.count_nonzero(act.saturated(t.detach())).item() / t.numel()


class UnitKeys:
    """Fixed random unit vectors for :func:`distinct_units`, from a private generator (the global
    random state is not touched), cached by length."""

    def __init__(self, seed: int = 0x5EED):
        self._gen = torch.Generator().manual_seed(seed)
        self._cache: dict = {}

    def get(self, n: int, dtype, device) -> Tensor:
        key = (n, dtype, str(device))
        if key not in self._cache:
            v = torch.randn(n, generator=self._gen, dtype=torch.float64)
            self._cache[key] = (v / v.norm()).to(dtype=dtype, device=device)
        return self._cache[key]


def _output_key(y: Tensor, fd: int, keys: UnitKeys, dt) -> Tensor:
    """Each unit's outputs (over the batch and positions) projected on a fixed unit vector."""
    if y.dim() == 1:
        return y * keys.get(1, dt, y.device)
    dims = _other_dims(y, fd)
    s = keys.get(math.prod(y.shape[d] for d in dims), dt, y.device)
    if dims == tuple(range(y.dim() - 1)):  # units on the last axis: a matrix-vector product, no copy
        return s @ y.reshape(-1, y.shape[-1])
    return torch.tensordot(y, s.reshape([y.shape[d] for d in dims]), dims=(list(dims), list(range(len(dims)))))


def _unit_outputs(y: Tensor, fd: int, idx: Tensor) -> Tensor:
    """The outputs of units ``idx`` as the columns of a (samples, len(idx)) matrix."""
    if y.dim() == 1:
        return y[idx].unsqueeze(0)
    sel = y.index_select(fd % y.dim(), idx)
    return sel.movedim(fd % y.dim(), -1).reshape(-1, len(idx))


def distinct_units(rows: Tensor, bias: Tensor | None, out: Tensor, fd: int, keys: UnitKeys,
                   w_sq: float, y_sq: float, rtol: float = 1e-5) -> int:
    """How many units of a layer are not duplicates of another unit (the symmetry count).

    Unit ``u`` has incoming weights ``w_u`` (``rows[u]`` and ``bias[u]``) and outputs ``y_u`` (its
    slice of ``out`` along axis ``fd``, over the batch and any positions). Units ``u`` and ``v``
    are duplicates when ``‖w_u − w_v‖₂ ≤ rtol·s_w`` and ``‖y_u − y_v‖₂ ≤ rtol·s_y``, where
    ``s_w = √(w_sq/units)`` and ``s_y = √(y_sq/units)`` are the root-mean-square unit norms
    (``w_sq``, ``y_sq``: the layer's total sums of squares). Units are grouped greedily (each joins
    the first unit it duplicates); the count is the number of groups — 1 for a layer initialized
    with zeros or a constant.

    Cost: two matrix-vector products and a sort. Each unit gets two keys, its weights and its
    outputs projected on fixed random unit vectors (``|key_u − key_v| ≤ ‖x_u − x_v‖₂``, Cauchy–
    Schwarz); only units whose keys are both within the tolerance (plus the rounding of a dot
    product) of another's are compared in full.
    """
    n = rows.shape[0]
    if n < 2:
        return n
    dt = torch.float64 if rows.dtype == torch.float64 else torch.float32
    w = rows.to(dt)
    y = out.detach().to(dt)
    k = w.shape[1] + (bias is not None)
    m = y.numel() // n
    eps = torch.finfo(dt).eps
    scale_w, scale_y = math.sqrt(w_sq / n), math.sqrt(y_sq / n)
    tol_w, tol_y = rtol * scale_w, rtol * scale_y
    bw = (tol_w + 8 * math.sqrt(k) * eps * scale_w) * (math.sqrt(2.0) if bias is not None else 1.0)
    by = tol_y + 8 * math.sqrt(m) * eps * scale_y
    kw = w @ keys.get(w.shape[1], dt, w.device)
    if bias is not None:  # key vector (r, ±1): norm √2, hence the √2 on the window above
        b = bias.detach().to(dt)
        kw = kw + b * keys.get(1, dt, w.device)
    kw_np = kw.cpu().double().numpy()
    ky_np = _output_key(y, fd, keys, dt).cpu().double().numpy()
    if not (np.isfinite(kw_np).all() and np.isfinite(ky_np).all()):
        return n
    order = np.argsort(kw_np, kind="stable")
    close = np.diff(kw_np[order]) <= bw
    if not close.any():
        return n
    # runs: units whose sorted weight keys chain within the window; inside each run, sort by the
    # output key: a run holds a candidate pair iff two neighbours there are within ``by``
    run = np.concatenate(([0], np.cumsum(~close)))
    ky_sorted = ky_np[order]
    o2 = np.lexsort((ky_sorted, run))
    same = (run[o2][1:] == run[o2][:-1]) & (np.diff(ky_sorted[o2]) <= by)
    if not same.any():
        return n
    groups = n
    for rid in np.unique(run[o2][1:][same]):
        remaining = order[run == rid]
        while remaining.size > 1:
            u, rest = remaining[0], remaining[1:]
            near = (np.abs(kw_np[rest] - kw_np[u]) <= bw) & (np.abs(ky_np[rest] - ky_np[u]) <= by)
            if near.any():
                cand = rest[near]
                ci = torch.from_numpy(cand).to(w.device)
                ui = torch.tensor([int(u)], device=w.device)
                dw2 = torch.linalg.vector_norm(w[ci] - w[ui], dim=1).square()
                if bias is not None:
                    dw2 = dw2 + (b[ci] - b[ui]).square()
                dy = torch.linalg.vector_norm(_unit_outputs(y, fd, ci) - _unit_outputs(y, fd, ui), dim=0)
                dup = ((dw2 <= tol_w * tol_w) & (dy <= tol_y)).cpu().numpy()
                if dup.any():
                    groups -= int(dup.sum())
                    rest = rest[~np.isin(rest, cand[dup])]
            remaining = rest
    return groups
