"""The coordinate check: how each layer's activation scale moves with width in the first steps.

For every width, parametrization and seed, :func:`coord_check` builds ``model_fn(width)``,
parametrizes it, and trains it for ``steps`` steps on one fixed batch with a ``torch.optim``
optimizer built from :meth:`WidthPlan.param_groups`. Before the first step (``t = 0``) and after
each step (``t = 1 … steps``) it records, for every weight layer and for the model's output, the
mean absolute coordinate ``mean |x|`` of its output — the ``l1`` statistic of the ``mup`` package's
``coord_check.py`` (whose ``t = 1`` is this ``t = 0``). An attention query's output is recorded
divided by the query multiplier that makes the logits 1/d_head (:attr:`WidthRow.query_mult`), as the
query of a model that writes 1/d into its attention (the ``mup`` convention) would be.

The verdict is read from fitted slopes: for each (parametrization, layer, t), the least-squares
slope of log₂(``mean |x|``) (mean over seeds) against log₂(width). Under μP every hidden layer's scale
is width-independent (``|slope| ≤ tolerance``). The readout's output starts at width^(−1/2) (its
initial weights are 1/fan_in; Tensor Programs V, and the ``mup`` README: "transient, and after a few
steps their curves should be roughly flat"), and stays there until the updates outgrow it, which
takes more steps at a smaller learning rate; so the readout and the model's output may lie anywhere
in [−1/2 − tolerance, tolerance] — they must not grow. ``zero_readout=True`` removes the transient.
Under SP with Adam the output's scale grows with width after a step (slope ≥ ``growth``; Tensor
Programs V, Fig. 5).

>>> import torch, torch.nn as nn
>>> def mlp(w): return nn.Sequential(nn.Linear(8, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 4))
>>> x, y = torch.randn(32, 8, generator=torch.Generator().manual_seed(0)), torch.arange(32) % 4
>>> r = coord_check(mlp, [32, 64, 128], (x, y), parametrization=("sp", "mup"), steps=2, lr=0.01)
>>> sorted({row["layer"] for row in r.rows})
['0', '2', '4', 'output']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InitlabError, check_choice, check_int, check_number, check_positive, fail
from .core import get_parametrization, parametrize
from .rules import OPTIMIZERS

__all__ = ["coord_check", "CoordCheckResult", "fit_slopes", "coord_check_verdict", "stability", "OUTPUT", "DEFAULT_LR"]

OUTPUT = "output"
"""The layer name under which the model's own output is recorded."""

DEFAULT_LR = {"adam": 1e-2, "adamw": 1e-2, "sgd": 0.1}
_LEAF_ROLES = ("embedding", "input", "hidden", "readout", "attn_q", "attn_k", "attn_v", "attn_o", "attention")
_SHRINK_ROLES = ("readout", "output")


def _l1(x: torch.Tensor) -> float:
    return float(x.detach().abs().mean(dtype=torch.float32))


def default_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class targets (logits (…, C) against integer targets (…)), else mean squared error."""
    if not target.dtype.is_floating_point:
        return F.cross_entropy(output.reshape(-1, output.shape[-1]).float(), target.reshape(-1))
    return F.mse_loss(output.float(), target.float())


@dataclass
class CoordCheckResult:
    """Tidy rows (parametrization, width, seed, t, layer, role, l1) and the settings."""

    rows: list[dict] = field(repr=False)
    widths: list[int]
    parametrizations: list[str]
    steps: int
    optimizer: str
    lr: float
    seeds: list[int]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def mean_rows(self) -> list[dict]:
        """``l1`` averaged over seeds: one row per (parametrization, width, t, layer)."""
        groups: dict[tuple, list[float]] = {}
        roles = {}
        for r in self.rows:
            key = (r["parametrization"], r["width"], r["t"], r["layer"])
            groups.setdefault(key, []).append(r["l1"])
            roles[key] = r["role"]
        return [{"parametrization": p, "width": w, "t": t, "layer": layer, "role": roles[(p, w, t, layer)],
                 "l1": sum(v) / len(v), "seeds": len(v)} for (p, w, t, layer), v in groups.items()]

    def slopes(self) -> list[dict]:
        return fit_slopes(self.mean_rows())

    def verdict(self, tolerance: float = 0.25, growth: float = 0.5) -> dict:
        return coord_check_verdict(self.slopes(), tolerance=tolerance, growth=growth)

    def plot(self, path=None):
        """A log–log figure: one panel per (parametrization, t), one line per layer (``mean |x|`` against width)."""
        from .figures import coord_check_figure

        return coord_check_figure(self.mean_rows(), path)


def fit_slopes(mean_rows: Sequence[dict]) -> list[dict]:
    """Least-squares slope of log₂(l1) against log₂(width) per (parametrization, layer, t).

    Rows need ``parametrization``, ``layer``, ``role``, ``t``, ``width`` and ``l1``. A layer that is zero at
    every width (a zero-initialized readout at t = 0) has slope 0; one with a zero or non-finite scale
    at some widths only gets slope NaN. Returns one row per group with ``slope``,
    ``intercept``, ``r2`` and ``widths``.
    """
    groups: dict[tuple, list[tuple[float, float]]] = {}
    roles = {}
    for r in mean_rows:
        key = (r["parametrization"], r["layer"], r["t"])
        groups.setdefault(key, []).append((r["width"], r["l1"]))
        roles[key] = r.get("role", "")
    out = []
    for (p, layer, t), pts in groups.items():
        pts.sort()
        xs = [math.log2(w) for w, _ in pts]
        ok = all(v > 0 and math.isfinite(v) for _, v in pts) and len(set(xs)) >= 2
        slope = intercept = r2 = math.nan
        if all(v == 0 for _, v in pts):
            slope, intercept, r2 = 0.0, -math.inf, 1.0  # zero at every width (a zero-initialized readout)
        elif ok:
            ys = [math.log2(v) for _, v in pts]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            sxx = sum((x - mx) ** 2 for x in xs)
            sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            slope = sxy / sxx
            intercept = my - slope * mx
            ss = sum((y - my) ** 2 for y in ys)
            resid = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
            r2 = 1.0 - resid / ss if ss > 0 else 1.0
        out.append({"parametrization": p, "layer": layer, "role": roles[(p, layer, t)], "t": t, "slope": slope,
                    "intercept": intercept, "r2": r2, "widths": len(pts)})
    return sorted(out, key=lambda r: (r["parametrization"], r["t"], r["layer"]))


def stability(slopes: Sequence[dict], tolerance: float = 0.25) -> dict:
    """The figures a verdict reads from one parametrization's fitted slopes (:func:`fit_slopes`).

    ``excess``: the largest departure from width-independence over every layer and ``t`` — ``|slope|``
    for a hidden layer; for the readout and the model's output the distance of the slope from
    [−1/2, 0] (the transient of a 1/fan_in readout may shrink like width^−½, never grow); ``inf`` for a
    slope that could not be fitted. ``stable``: ``excess ≤ tolerance``; ``worst_layer``, ``worst_t``,
    ``worst_slope``: where it is largest; ``output_growth``: the largest slope of the output (the
    model's own output, else the readout) over ``t ≥ 1``.
    """
    worst, worst_row = 0.0, None
    for r in slopes:
        s = r["slope"]
        if math.isnan(s):
            excess = math.inf
        elif r["role"] in _SHRINK_ROLES or r["layer"] == OUTPUT:
            excess = max(-0.5 - s, s, 0.0)
        else:
            excess = abs(s)
        if excess > worst or worst_row is None:
            worst, worst_row = excess, r
    outs = [r for r in slopes if r["t"] >= 1 and r["layer"] == OUTPUT] or \
        [r for r in slopes if r["t"] >= 1 and r["role"] == "readout"]
    out_growth = max((r["slope"] for r in outs if not math.isnan(r["slope"])), default=math.nan)
    return {"stable": worst <= tolerance, "excess": worst, "worst_layer": worst_row["layer"],
            "worst_t": worst_row["t"], "worst_slope": worst_row["slope"], "output_growth": out_growth}


def coord_check_verdict(slopes: Sequence[dict], tolerance: float = 0.25, growth: float = 0.5) -> dict:
    """Judge fitted slopes (from :func:`fit_slopes`) per parametrization.

    For each parametrization: ``stable`` is True when every layer's ``|slope| ≤ tolerance`` at every
    ``t``, except the readout and the model's output, whose slopes may lie in [−1/2 − tolerance,
    tolerance] (the transient of a 1/fan_in readout); ``output_growth`` is the largest slope of the
    output (the model's own output, else the readout) over ``t ≥ 1``.

    The claim (Tensor Programs V, coordinate check): μP is stable; SP's output grows (slope ≥ ``growth``).
    ``verdict`` is ``"reproduced"`` when every parametrization present meets its half of the claim,
    ``"contradicted"`` when one fails it; ``checks`` lists each criterion with its measured figure.
    A slope that could not be fitted (a zero or non-finite scale) fails μP's stability.
    """
    tolerance = check_positive("tolerance", tolerance)
    growth = check_positive("growth", growth)
    by_p: dict[str, list[dict]] = {}
    for s in slopes:
        by_p.setdefault(s["parametrization"], []).append(s)
    if not by_p:
        raise fail("slopes", [], "fitted slopes of at least one parametrization")
    summary, checks = {}, []
    for p, rows in by_p.items():
        summary[p] = stability(rows, tolerance)
        worst_row = {"layer": summary[p]["worst_layer"], "t": summary[p]["worst_t"], "slope": summary[p]["worst_slope"]}
        stable, out_growth = summary[p]["stable"], summary[p]["output_growth"]
        kind = get_parametrization(p).name if p in ("sp", "mup", "umup") else p
        if kind in ("mup", "umup"):
            checks.append({"criterion": f"{p}: every layer's scale is width-independent (|slope| <= {tolerance:g}; "
                                        "the readout may shrink like width^-1/2, not grow)",
                           "measured": f"worst: layer {worst_row['layer']!r} at t={worst_row['t']}, slope "
                                       f"{worst_row['slope']:.3g}", "passed": stable})
        elif kind == "sp":
            checks.append({"criterion": f"{p}: the output's scale grows with width after a step "
                                        f"(slope >= {growth:g})",
                           "measured": f"largest output slope over t>=1: {out_growth:.3g}",
                           "passed": bool(out_growth >= growth)})
    verdict = "reproduced" if checks and all(c["passed"] for c in checks) else (
        "contradicted" if checks else "inconclusive")
    return {"verdict": verdict, "checks": checks, "by_parametrization": summary, "tolerance": tolerance,
            "growth": growth}


def _record(model: nn.Module, layers: list[str], sink: list):
    modules = dict(model.named_modules())
    handles = []
    for name in layers:
        def hook(module, inputs, output, name=name):
            out = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(out, torch.Tensor):
                sink.append((name, _l1(out)))
        handles.append(modules[name].register_forward_hook(hook))
    return handles


def coord_check(model_fn: Callable[[int], nn.Module], widths: Sequence[int], data, *,
                parametrization="mup", base: int | None = None, steps: int = 3, optimizer: str = "adam",
                lr: float | None = None, seeds: Sequence[int] = (0,), loss: Callable | None = None,
                init="auto", roles=None, **options) -> CoordCheckResult:
    """Run the coordinate check (see the module docstring).

    ``model_fn(width)`` builds a fresh model of that width. ``data`` is one batch ``(x, y)``, reused at
    every step. ``parametrization``: a name, an object, or a sequence of them (``("sp", "mup")``).
    ``base``: μP's base width (default the smallest width); the base and a second model of twice the
    base width tell which dimensions scale. ``optimizer``: ``"adam"``, ``"adamw"`` or ``"sgd"``
    (torch.optim, with the plan's parameter groups); ``lr`` defaults to :data:`DEFAULT_LR`. ``loss``:
    ``loss(output, y)``, default cross-entropy for integer targets. ``options`` go to the parametrization.
    """
    if not callable(model_fn):
        raise fail("model_fn", type(model_fn).__name__, "a function width -> nn.Module")
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) < 2:
        raise fail("widths", widths, "at least two widths, e.g. [64, 128, 256]")
    widths = sorted({check_int("widths", w, minimum=1) for w in widths})
    if len(widths) < 2:
        raise fail("widths", widths, "at least two different widths")
    steps = check_int("steps", steps, minimum=1)
    kind = check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = DEFAULT_LR[kind] if lr is None else check_positive("lr", lr)
    seeds = [check_int("seeds", s, minimum=0) for s in (seeds if isinstance(seeds, Sequence) else [seeds])]
    if not seeds:
        raise fail("seeds", seeds, "at least one seed")
    ps = list(parametrization) if isinstance(parametrization, (list, tuple)) else [parametrization]
    if not ps:
        raise fail("parametrization", ps, "at least one of 'sp', 'mup', 'umup'")
    plist = [(pp if isinstance(pp, str) else get_parametrization(pp).describe(), pp) for pp in ps]
    for label, pp in plist:
        get_parametrization(pp, **options) if isinstance(pp, str) else get_parametrization(pp)
    base_width = widths[0] if base is None else check_int("base", base, minimum=1)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise fail("data", type(data).__name__, "one batch (x, y)")
    x, y = data
    loss = default_loss if loss is None else loss
    rows: list[dict] = []
    opt_cls = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}[kind]
    for label, pp in plist:
        param = get_parametrization(pp, **options) if isinstance(pp, str) else pp
        for seed in seeds:
            for width in widths:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    model = _build(model_fn, width)
                    base_kw = {}
                    if param.needs_base:
                        base_kw = {"base": _build(model_fn, base_width), "delta": _build(model_fn, 2 * base_width)}
                    plan = parametrize(model, param, init=init, roles=roles, seed=seed, **base_kw)
                layers = [layer.name for layer in plan.structure.layers if layer.role in _LEAF_ROLES]
                # an attention query is recorded without the multiplier that makes the logits 1/d_head
                # (the mup package applies 1/d to the logits, so its query's coordinates carry no such factor)
                query_mult = {r.layer: r.query_mult for r in plan.rows if r.kind == "weight" and r.query_mult != 1.0}
                opt = getattr(torch.optim, opt_cls)(plan.param_groups(kind, lr), foreach=True)
                model.train()
                for t in range(steps + 1):
                    sink: list = []
                    handles = _record(model, layers, sink)
                    try:
                        out = model(x)
                    finally:
                        for h in handles:
                            h.remove()
                    out_t = out[0] if isinstance(out, (tuple, list)) else out
                    roles_of = {layer.name: layer.role for layer in plan.structure.layers}
                    seen = set()
                    for name, v in sink:
                        if name in seen:
                            continue  # a layer called twice: its first call
                        seen.add(name)
                        rows.append({"parametrization": label, "width": width, "seed": seed, "t": t, "layer": name,
                                     "role": roles_of[name], "l1": v / query_mult.get(name, 1.0)})
                    rows.append({"parametrization": label, "width": width, "seed": seed, "t": t, "layer": OUTPUT,
                                 "role": OUTPUT, "l1": _l1(out_t)})
                    if t == steps:
                        break
                    opt.zero_grad(set_to_none=True)
                    loss(out_t, y).backward()
                    opt.step()
                plan.remove()
    return CoordCheckResult(rows, widths, [label for label, _ in plist], steps, kind, lr, seeds)


def _build(model_fn, width: int) -> nn.Module:
    try:
        model = model_fn(width)
    except InitlabError:
        raise
    except Exception as exc:
        raise InitlabError(f"widths: building the model at width {width} raised {type(exc).__name__}: {exc}; "
                           "allowed: widths the model accepts") from None
    if not isinstance(model, nn.Module):
        raise fail("model_fn", type(model).__name__, "a function returning an nn.Module")
    return model
