"""Recipes for deep residual networks and transformers: initializations that need the model's structure.

A per-tensor law (He, ``small_init``, ``mitchell``, ``ZerO`` …) is a scheme of the registry
(:mod:`initlab.schemes`). The recipes here scale a layer by where it sits — in which residual branch,
at which place, how many branches the model has (:mod:`initlab.model.residual`) — or add learnable
scalars to the branches. Each is a row of :data:`RECIPES` with its exact rule and source (``initlab
list`` shows them), and ``initlab.initialize(model, "fixup")`` / ``initlab.plan(model, "gpt2")`` apply
them like any scheme; a configured recipe is ``recipe("gpt2", std=0.01)`` or ``{"name": "gpt2",
"params": {"std": 0.01}}``. ``roles=`` (a recipe parameter) passes role and branch rules to
:func:`~initlab.model.structure.find_structure` (``{"blocks.*.mlp": "branch"}``).

Notation: N = the number of residual branches, L = the number of blocks (a transformer layer is one
block with two branches, attention and MLP, so N = 2L), m = the weight layers on a branch's longest
path, d = the stream's width, "base" = the law the recipe starts from (``"auto"``: what
``initlab.initialize`` chooses per layer — He before ReLU, Glorot before tanh or nothing …).

Wrappers. Fixup, SkipInit and ReZero add parameters: :func:`wrap` registers them on the layers
(so the model's code does not change and the names are stable: ``blocks.3.fc2.rezero_alpha``) and
acts through forward hooks; :func:`unwrap` removes them. ``initialize(model, recipe)`` wraps a model
that is not wrapped yet; a model wrapped for another recipe, or :func:`wrap` on a wrapped model, is
a one-line error, and the model is left as it was. The scalar of ReZero/SkipInit multiplies the
branch-out layer's output, which is what the branch adds when only dropout or reshapes follow it.
Create the optimizer after wrapping.

>>> import torch.nn as nn, initlab
>>> class Block(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc1, self.act, self.fc2 = nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16)
...     def forward(self, x):
...         return x + self.fc2(self.act(self.fc1(x)))
>>> net = nn.Sequential(nn.Linear(8, 16), *[Block() for _ in range(4)], nn.Linear(16, 3))
>>> p = initlab.initialize(net, "fixup", seed=0)
>>> round(p["1.fc1.weight"].std / (2 / 16) ** 0.5, 12), p["1.fc2.weight"].scheme   # He × L^(−1/2); zero
(0.5, 'zeros')
>>> sorted(n for n, _ in net.named_parameters() if "fixup" in n)[:3]
['1.fc1.fixup_bias_in', '1.fc1.fixup_bias_out', '1.fc2.fixup_bias_in']
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch
import torch.nn as nn

from ..errors import InitlabError, check_choice, check_finite, check_positive, fail, suggest
from ..schemes.depth import Mitchell, SmallInit, WangInit
from ..schemes.initializers import Constant, GlorotUniform, RandomNormal, RandomUniform, Zeros
from ..schemes.spec import Distribution, Initializer
from .residual import Residual, require_branches, residual_structure, role_label

__all__ = ["Recipe", "RecipeSpec", "RECIPES", "recipe", "recipe_of", "plan_recipe", "list_recipes", "wrap", "unwrap",
           "wrapped", "WRAPPER_PARAMS", "WrapPlan"]

WRAPPER_PARAMS = ("fixup_bias_in", "fixup_bias_out", "fixup_scale", "rezero_alpha", "skipinit_alpha")
"""The names of the parameters :func:`wrap` registers (plans keep them unless a recipe sets them)."""


# ============================================================================================ wrappers
class _WrapperHook:
    """A forward (pre-)hook of an initlab wrapper; it reads its parameter from the module at call time."""

    kind = ""

    def __init__(self, recipe: str, names: tuple[str, ...]):
        self.recipe, self.names = recipe, names


class _AddBefore(_WrapperHook):
    """Fixup's scalar bias before a layer: ``x + b`` on its first input."""

    def __call__(self, module, args):
        if not args:
            return None
        return (args[0] + getattr(module, self.names[0]), *args[1:])


class _AfterLayer(_WrapperHook):
    """After a layer: ``y·scale + b`` (Fixup's last layer), ``y + b`` (Fixup, before the activation) or
    ``α·y`` (ReZero, SkipInit)."""

    def __call__(self, module, args, out):
        if not isinstance(out, torch.Tensor):
            first = out[0]
            return (self._apply(module, first), *out[1:])
        return self._apply(module, out)

    def _apply(self, module, y):
        params = [getattr(module, n) for n in self.names]
        if self.kind == "scale_shift":
            return y * params[0] + params[1]
        if self.kind == "shift":
            return y + params[0]
        return y * params[0]


def wrapped(model: nn.Module) -> dict[str, str]:
    """``{module name: recipe}`` for every module an initlab wrapper has changed."""
    out = {}
    for name, m in model.named_modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks):
            for h in hooks.values():
                if isinstance(h, _WrapperHook):
                    out[name] = h.recipe
    return out


@dataclass
class WrapPlan:
    """What :func:`wrap` will add: for each layer, its new parameters with their initial values and hooks."""

    recipe: str
    additions: list[tuple[str, str, float]] = field(default_factory=list)  # (layer, parameter, value)
    hooks: list[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=list)  # (layer, pre|post, kind, names)
    installed: bool = False

    def describe(self) -> str:
        n_layers = len({a[0] for a in self.additions})
        counts: dict[str, list[float]] = {}
        for _, pname, value in self.additions:
            counts.setdefault(pname, []).append(value)
        parts = [f"{len(v)} × {k} = {v[0]:g}" for k, v in counts.items()]
        verb = "added" if self.installed else "adds"
        return f"{self.recipe} wrapper {verb} {len(self.additions)} scalar(s) on {n_layers} layer(s): " + ", ".join(parts)

    def check(self, model: nn.Module) -> None:
        done = wrapped(model)
        if done:
            layer, recipe = next(iter(done.items()))
            raise InitlabError(f"model: got a model already wrapped by initlab ({recipe!r} on {layer!r}); allowed: an "
                               "unwrapped model — call initlab.model.recipes.unwrap(model) first")
        modules = dict(model.named_modules())
        for layer, pname, _ in self.additions:
            if layer not in modules:
                raise fail("model", type(model).__name__, f"a model with the layer {layer!r} the plan was made for")
            if hasattr(modules[layer], pname):
                raise InitlabError(f"model: got {layer!r} with an attribute {pname!r} already; allowed: a layer "
                                   "without it (initlab's wrapper would shadow it)")

    def install(self, model: nn.Module) -> list[str]:
        self.check(model)
        modules = dict(model.named_modules())
        added = []
        for layer, pname, value in self.additions:
            m = modules[layer]
            ref = next((p for p in m.parameters(recurse=False)), None)
            kw = {"dtype": ref.dtype, "device": ref.device} if ref is not None else {}
            m.register_parameter(pname, nn.Parameter(torch.full((1,), float(value), **kw)))
            added.append(f"{layer}.{pname}" if layer else pname)
        for layer, where, kind, names in self.hooks:
            m = modules[layer]
            if where == "pre":
                m.register_forward_pre_hook(_AddBefore(self.recipe, names))
            else:
                hook = _AfterLayer(self.recipe, names)
                hook.kind = kind
                m.register_forward_hook(hook)
        self.installed = True
        return added


def _affine_layer(m: nn.Module) -> bool:
    return isinstance(m, (nn.Linear, nn.modules.conv._ConvNd, nn.Bilinear)) and not isinstance(m, nn.MultiheadAttention)


def _wrap_plan(model: nn.Module, recipe: str, residual: Residual, alpha: float = 0.0) -> WrapPlan:
    modules = dict(model.named_modules())
    w = WrapPlan(recipe)
    for b in residual.branches:
        if len(b.last) != 1:
            raise InitlabError(f"model: got branch {b.index} ending in {len(b.last)} layers ({', '.join(b.last)}); "
                               f"allowed: one last layer per branch for {recipe} (its scalar multiplies that layer's "
                               "output)")
        out = b.last[0]
        parent = out.rsplit(".", 1)[0] if "." in out else ""
        if out.endswith("out_proj") and isinstance(modules.get(parent), nn.MultiheadAttention):
            out = parent  # MultiheadAttention calls out_proj's weight inside one function: hook the attention
        if recipe == "fixup":
            for layer in b.layers:
                if out != b.last[0] and layer == b.last[0]:
                    continue  # the attention's out_proj: its hooks would never run
                if _affine_layer(modules[layer]):
                    w.additions.append((layer, "fixup_bias_in", 0.0))
                    w.hooks.append((layer, "pre", "shift", ("fixup_bias_in",)))
                if layer == out:
                    w.additions += [(layer, "fixup_scale", 1.0), (layer, "fixup_bias_out", 0.0)]
                    w.hooks.append((layer, "post", "scale_shift", ("fixup_scale", "fixup_bias_out")))
                else:
                    w.additions.append((layer, "fixup_bias_out", 0.0))
                    w.hooks.append((layer, "post", "shift", ("fixup_bias_out",)))
        else:
            pname = f"{recipe}_alpha"
            w.additions.append((out, pname, alpha))
            w.hooks.append((out, "post", "scale", (pname,)))
    if recipe == "fixup":  # Fixup's scalar bias before the classifier
        for name, layer in residual.layers.items():
            if layer.role == "readout" and _affine_layer(modules[name]):
                w.additions.append((name, "fixup_bias_in", 0.0))
                w.hooks.append((name, "pre", "shift", ("fixup_bias_in",)))
    return w


_WRAPPERS = ("fixup", "rezero", "skipinit")


def wrap(model: nn.Module, recipe: str, *, alpha: float = 0.0, roles: Mapping | None = None) -> list[str]:
    """Add the learnable scalars of ``recipe`` to ``model`` (see the module docstring) and return the names
    of the new parameters: ``"fixup"`` — a bias (0) before every layer of each residual branch and before
    the classifier, a bias (0) after each non-last branch layer (before its activation), a multiplier (1)
    and a bias (0) after each branch's last layer (Zhang et al. 2019, rule 3); ``"rezero"``/``"skipinit"``
    — one multiplier per branch, ``alpha`` (0) at start, on the branch's last layer (Bachlechner et al.
    2020; De & Smith 2020). The weights are not touched. A model without residual branches, one that is
    already wrapped, or a branch that ends in two layers: a one-line error, and nothing is added."""
    kind = check_choice("recipe", recipe, _WRAPPERS)
    alpha = check_finite("alpha", alpha)
    residual = require_branches(residual_structure(model, roles), f"the {kind} wrapper", model)
    plan = _wrap_plan(model, kind, residual, alpha)
    return plan.install(model)


def unwrap(model: nn.Module) -> list[str]:
    """Remove every initlab wrapper from ``model`` (hooks and parameters); return the names removed."""
    removed = []
    for name, m in model.named_modules():
        for hooks in (m._forward_hooks, m._forward_pre_hooks):
            for key in [k for k, h in hooks.items() if isinstance(h, _WrapperHook)]:
                del hooks[key]
        for pname in WRAPPER_PARAMS:
            if pname in m._parameters:
                del m._parameters[pname]
                removed.append(f"{name}.{pname}" if name else pname)
    return removed


# ============================================================================================ laws
def scaled_law(init: Initializer, shape, factor: float, fan_kwargs: Mapping | None = None) -> Initializer:
    """``init``'s law at ``shape`` with every value multiplied by ``factor`` (a normal, uniform,
    truncated normal or constant law; zeros for factor 0)."""
    from ..parametrize.core import _scaled

    dist = init.distribution(shape, **dict(fan_kwargs or {}))
    out = _scaled(dist, factor)
    if out is None:
        raise InitlabError(f"{init.name}: got a {dist.family} law to scale by {factor:.4g}; allowed: a normal, "
                           "uniform, truncated normal or constant base law (base='he_normal', for example)")
    return out


@dataclass(frozen=True, repr=False)
class _Blocks(Initializer):
    """Equal blocks along dim 0 (q, k, v of a packed projection), each drawn with its own law; the stream of
    block g is keyed ``name#g`` as initlab's per-block fills key it."""

    inits: tuple = ()
    name: ClassVar[str] = "blocks"
    needs_fans: ClassVar[bool] = False

    def _resolve(self, shape, fans, layout, *, groups=1):
        n = len(self.inits)
        block = (shape[0] // n, *shape[1:])
        dists = [i.distribution(block) for i in self.inits]
        mean = sum(d.mean for d in dists) / n
        second = sum(d.std ** 2 + d.mean ** 2 for d in dists) / n
        return Distribution("blocks", (), mean, math.sqrt(max(second - mean * mean, 0.0)),
                            params={"blocks": [d.scheme for d in dists]})

    def __call__(self, tensor, *, generator=None, seed=None, key="", **kw):
        for g, (block, init) in enumerate(zip(tensor.chunk(len(self.inits), dim=0), self.inits)):
            init(block, generator=generator, seed=seed, key=f"{key}#{g}")
        return tensor

    def params(self) -> dict:
        return {"blocks": [i.to_config() if i.name != "mimetic" else i.name for i in self.inits]}


# -- mimetic attention ------------------------------------------------------------------------------
class _MimeticDraw:
    """The shared draw of one attention's mimetic factors, made once per application: the first of its
    layers to be filled draws Z (from the seed's stream keyed by the attention, or the generator) and
    every other layer of the attention reads the same factors."""

    def __init__(self, key: str, d: int, heads: int, head_dim: int, d_v: int, d_out: int, cfg: dict):
        self.key, self.d, self.heads, self.head_dim, self.d_v, self.d_out, self.cfg = key, d, heads, head_dim, d_v, \
            d_out, cfg
        self.cache: dict | None = None
        self.used: set[str] = set()
        self.parts: set[str] = set()

    def _z(self, shape, d, generator, seed, key):
        from ..schemes.engine import flush_pending

        z = torch.empty(shape, dtype=torch.float64)
        if self.cfg["dist"] == "uniform":
            b = math.sqrt(3.0 / d)
            RandomUniform(-b, b)(z, generator=generator, seed=seed, key=key)
        else:
            RandomNormal(0.0, 1.0 / math.sqrt(d))(z, generator=generator, seed=seed, key=key)
        flush_pending(z)  # inside initialize's batched fills a seeded draw is queued: draw it now
        return z

    def factors(self, part: str, generator, seed) -> dict:
        if self.cache is None or part in self.used:
            c = self.cfg
            self.used = set()
            out = {}
            if {"q", "k"} & self.parts:
                z = self._z((self.heads, self.d, self.d), self.d, generator, seed, f"{self.key}#qk")
                eye = torch.eye(self.d, dtype=torch.float64)
                qs, ks = [], []
                for h in range(self.heads):
                    u, s, vh = torch.linalg.svd(c["alpha1"] * z[h] + c["beta1"] * eye)
                    root = s.sqrt()
                    qs.append((u * root)[:, :self.head_dim].t())
                    ks.append((vh.t() * root)[:, :self.head_dim].t())
                out["q"], out["k"] = torch.cat(qs), torch.cat(ks)
            if {"v", "o"} & self.parts:
                z = self._z((self.d_out, self.d_out), self.d_out, generator, seed, f"{self.key}#vo")
                a = c["alpha2"] * z - c["beta2"] * torch.eye(self.d_out, dtype=torch.float64)
                u, s, vh = torch.linalg.svd(a)
                root = s.sqrt()
                out["o"] = (u * root)[:, :self.d_v]
                out["v"] = (root[:, None] * vh)[:self.d_v, :]
            self.cache = out
        self.used.add(part)
        return self.cache


@dataclass(frozen=True, repr=False)
class _Mimetic(Initializer):
    """One layer of a mimetic attention (see :data:`RECIPES` ``mimetic``)."""

    part: str = "q"
    draw: Any = None
    name: ClassVar[str] = "mimetic"
    needs_fans: ClassVar[bool] = False

    def _resolve(self, shape, fans, layout, *, groups=1):
        # the values are factors of an SVD drawn at fill time: no closed-form law per entry
        return Distribution("mimetic", (), 0.0, math.nan, params={"part": self.part})

    def __call__(self, tensor, *, generator=None, seed=None, key="", **kw):
        vals = self.draw.factors(self.part, generator, seed)[self.part]
        with torch.no_grad():
            tensor.copy_(vals.reshape(tensor.shape).to(dtype=tensor.dtype, device=tensor.device))
        return tensor

    def params(self) -> dict:
        return {"part": self.part, **self.draw.cfg}


# ============================================================================================ the recipes
@dataclass(frozen=True)
class Recipe:
    """A model-level recipe: ``name``, the exact ``formula``, its ``source``, default ``params``, what it
    ``needs`` (``"residual branches"`` or ``""``), the ``wrapper`` it adds (or None), ``kind``
    (``"init"``, or ``"parametrization"`` for the depth parametrizations of
    :func:`initlab.parametrize`) and the function that changes a plan's rows."""

    name: str
    title: str
    formula: str
    source: str
    params: Mapping[str, Any]
    needs: str = "residual branches"
    wrapper: str | None = None
    kind: str = "init"
    aliases: tuple[str, ...] = ()
    apply: Callable | None = field(default=None, repr=False)
    base: Any = "auto"

    def to_row(self) -> dict:
        return {"name": self.name, "title": self.title, "formula": self.formula, "source": self.source,
                "params": dict(self.params), "needs": self.needs, "wrapper": self.wrapper, "kind": self.kind,
                "aliases": list(self.aliases)}


@dataclass(frozen=True)
class RecipeSpec:
    """A recipe with its parameters (what :func:`recipe` returns; ``initialize``/``plan`` accept it)."""

    recipe: Recipe
    params: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.recipe.name


@dataclass
class _Ctx:
    """What a recipe's ``apply`` reads and writes."""

    model: nn.Module
    rows: list
    residual: Residual
    params: dict
    modules: dict
    params_by_name: dict

    def rows_of(self, layers) -> list:
        layers = set(layers)
        return [r for r in self.rows if r.module in layers and r.origin != "rule"]

    def weight_rows(self, layers=None) -> list:
        """The rows of weight matrices (2-D or more) the user's rules left to the recipe."""
        return [r for r in self.rows if r.origin != "rule" and r.initializer is not None and len(r.shape) >= 2
                and (layers is None or r.module in set(layers))]

    def set(self, row, init: Initializer, reason: str) -> None:
        row.initializer = init
        shape = (row.shape[0] // row.chunks, *row.shape[1:]) if row.chunks > 1 and not isinstance(init, _Blocks) \
            else row.shape
        dist = init.distribution(shape, **({} if isinstance(init, (_Blocks, _Mimetic)) else row.fan_kwargs))
        row.std, row.scheme, row.reason, row.origin = dist.std, init.name, reason, "recipe"
        if isinstance(init, _Blocks):
            row.chunks = 1

    def scale(self, row, factor: float, reason: str) -> None:
        shape = (row.shape[0] // row.chunks, *row.shape[1:])
        self.set(row, scaled_law(row.initializer, shape, factor, row.fan_kwargs),
                 f"{row.reason}; × {factor:.4g} ({reason})")


def _check_fixup(residual: Residual) -> None:
    for b in residual.branches:
        if b.depth < 2:
            raise InitlabError(f"fixup: got a branch of one layer (m = 1) at {', '.join(b.layers)!s}; allowed: branches "
                               "of two or more weight layers (Fixup scales them by L^(−1/(2m−2)), infinite for m = 1) — "
                               "'skipinit' or 'rezero' handle one-layer branches")


def _fixup(ctx: _Ctx) -> None:
    _check_fixup(ctx.residual)
    n = ctx.residual.count
    for b in ctx.residual.branches:
        factor = n ** (-1.0 / (2 * b.depth - 2))
        for row in ctx.weight_rows(b.layers):
            if row.module in b.last:
                ctx.set(row, Zeros(), f"fixup: last layer of branch {b.index}, zero")
            else:
                ctx.scale(row, factor, f"fixup: L^(−1/(2m−2)), L = {n}, m = {b.depth}")
    for name, layer in ctx.residual.layers.items():
        if layer.role == "readout":
            for row in ctx.rows_of([name]):
                if row.initializer is not None:
                    ctx.set(row, Zeros(), "fixup: classifier, zero")


def _scalar(ctx: _Ctx) -> None:
    """SkipInit / ReZero change no weight: the base law stays, the wrapper adds α per branch."""


def _gpt2(ctx: _Ctx) -> None:
    n, std = ctx.residual.count, ctx.params["std"]
    for row in ctx.weight_rows(ctx.residual.branch_out):
        ctx.set(row, RandomNormal(0.0, std / math.sqrt(n)), f"gpt2: residual projection, σ/√N, N = {n}")


def _scaled_residual(ctx: _Ctx) -> None:
    n = ctx.residual.count
    for row in ctx.weight_rows(ctx.residual.branch_out):
        ctx.scale(row, 1.0 / math.sqrt(n), f"scaled_residual: branch-out × 1/√N, N = {n}")


def _stream_width(ctx: _Ctx) -> int:
    first = ctx.residual.branch_out[0]
    w = ctx.modules[first].weight
    return int(w.shape[0])


def _neox(ctx: _Ctx) -> None:
    d, blocks = _stream_width(ctx), ctx.residual.blocks
    for row in ctx.weight_rows():
        if row.module not in ctx.residual.branch_out:
            ctx.set(row, SmallInit(dim=d), f"neox: small_init, d = {d}")
    for row in ctx.weight_rows(ctx.residual.branch_out):
        ctx.set(row, WangInit(n_layers=blocks, dim=d), f"neox: wang_init, L = {blocks}, d = {d}")


def _mitchell(ctx: _Ctx) -> None:
    for row in ctx.weight_rows(ctx.residual.branch_out):
        block = ctx.residual.branch_of(row.module).block
        ctx.set(row, Mitchell(layer=block), f"olmo: mitchell, output projection of block {block}, ÷ √(2(layer+1))")


def _t_fixup(ctx: _Ctx) -> None:
    n = ctx.residual.blocks
    factor = (9.0 * n) ** -0.25 if ctx.params["stack"] == "decoder" else 0.67 * n ** -0.25
    rule = "(9N)^(−1/4)" if ctx.params["stack"] == "decoder" else "0.67·N^(−1/4)"
    for row in ctx.weight_rows():
        m = ctx.modules[row.module]
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            d = row.shape[1]
            emb = (9.0 * n) ** -0.25 / math.sqrt(d)
            ctx.set(row, RandomNormal(0.0, emb), f"t_fixup: embedding N(0, d^(−1/2)) × (9N)^(−1/4), N = {n}")
    for b in ctx.residual.branches:
        layers = [ctx.residual.layers[name] for name in b.layers]
        attention = any(x.role.startswith("attn") or x.role == "attention" for x in layers)
        for row in ctx.weight_rows(b.layers):
            layer = ctx.residual.layers[row.module]
            if not attention or layer.role in ("attn_v", "attn_o"):
                ctx.scale(row, factor, f"t_fixup: {rule}, N = {n}")
            elif layer.role == "attention" and layer.chunks:  # packed q/k/v: the v block only
                block = (row.shape[0] // len(layer.chunks), *row.shape[1:])
                inits = tuple(scaled_law(row.initializer, block, factor if c == "attn_v" else 1.0)
                              for c in layer.chunks)
                ctx.set(row, _Blocks(inits=inits), f"t_fixup: v block × {rule}, N = {n}")


def _attention_heads(ctx: _Ctx, layer: str) -> int:
    from ..parametrize.core import _heads

    h = ctx.params.get("heads") or _heads(ctx.modules, layer)
    if h is None:
        raise InitlabError(f"heads: got None for the attention at {layer!r}; allowed: the number of heads "
                           "(mimetic draws one q·kᵀ per head; no num_heads attribute was found): recipe('mimetic', "
                           "heads=…)")
    return int(h)


def _mimetic(ctx: _Ctx) -> None:
    cfg = {k: ctx.params[k] for k in ("alpha1", "beta1", "alpha2", "beta2", "dist")}
    done = 0
    for b in ctx.residual.branches:
        layers = {name: ctx.residual.layers[name] for name in b.layers}
        parts = {}
        for name, layer in layers.items():
            if layer.role in ("attn_q", "attn_k", "attn_v", "attn_o"):
                parts[layer.role[-1]] = name
            elif layer.role == "attention" and layer.chunks:
                parts["packed"] = name
        if not parts:
            continue
        if "packed" in parts:
            packed = parts["packed"]
            m = ctx.modules[packed]
            w = m.in_proj_weight if isinstance(m, nn.MultiheadAttention) else m.weight
            d = int(w.shape[1])
            d_qk = int(w.shape[0]) // 3
            d_v = d_qk
            out_layer = parts.get("o") or (f"{packed}.out_proj" if isinstance(m, nn.MultiheadAttention) else None)
            d_out = int(ctx.modules[out_layer].weight.shape[0]) if out_layer else d
        else:
            if not {"q", "k"} <= set(parts):
                continue
            d = int(ctx.modules[parts["q"]].weight.shape[1])
            d_qk = int(ctx.modules[parts["q"]].weight.shape[0])
            d_v = int(ctx.modules[parts["v"]].weight.shape[0]) if "v" in parts else d
            d_out = int(ctx.modules[parts["o"]].weight.shape[0]) if "o" in parts else d
            out_layer = parts.get("o")
        heads = _attention_heads(ctx, parts.get("packed") or parts["q"])
        if d_qk % heads or d_qk // heads > d:
            raise InitlabError(f"heads: got {heads} for a query of {d_qk} features on a {d}-wide input; allowed: a "
                               "divisor of the query's features with a head dimension <= the input width")
        draw = _MimeticDraw(f"mimetic:{b.index}", d, heads, d_qk // heads, d_v, d_out, cfg)
        reason = f"mimetic: attention of block {b.block}, {heads} head(s)"
        if "packed" in parts:
            draw.parts = {"q", "k", "v"} | ({"o"} if out_layer else set())
            for row in ctx.rows_of([parts["packed"]]):
                if row.name.endswith("weight") and row.initializer is not None:
                    ctx.set(row, _Blocks(inits=tuple(_Mimetic(part=p, draw=draw) for p in "qkv")), reason)
        else:
            draw.parts = {p for p in "qkvo" if p in parts}
            for p in draw.parts:
                for row in ctx.weight_rows([parts[p]]):
                    ctx.set(row, _Mimetic(part=p, draw=draw), reason)
        if out_layer and "packed" in parts:
            for row in ctx.weight_rows([out_layer]):
                ctx.set(row, _Mimetic(part="o", draw=draw), reason)
        done += 1
    if not done:
        raise InitlabError("model: got no attention (q, k projections in a residual branch) for mimetic; allowed: a "
                           "model with self-attention, or give the roles with roles={'…q': 'attn_q', '…k': 'attn_k'}")


def _check_std(v):
    return check_positive("std", v)


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("fixup", "Fixup", "branch layers: base × L^(−1/(2m−2)) (L = number of branches, m = layers per branch); "
           "each branch's last layer and the classifier: 0; wrapper: a scalar bias (0) before every branch "
           "layer, its activation and the classifier, a multiplier (1) per branch", "Zhang, Dauphin & Ma 2019 "
           "(Fixup), rules 1–3", {"base": "auto"}, wrapper="fixup", apply=_fixup),
    Recipe("skipinit", "SkipInit", "x + α·F(x), one learnable α per branch, α = alpha (0) at start; weights: base",
           "De & Smith 2020 (SkipInit)", {"base": "auto", "alpha": 0.0}, wrapper="skipinit", apply=_scalar),
    Recipe("rezero", "ReZero", "x + α·F(x), one learnable α per branch, α = 0 at start; weights: base",
           "Bachlechner et al. 2020 (ReZero)", {"base": "auto"}, wrapper="rezero", apply=_scalar),
    Recipe("t_fixup", "T-Fixup", "Linear: Xavier uniform; embeddings: N(0, d^(−1/2)) × (9N)^(−1/4); attention v, o "
           "and every MLP-branch weight × (9N)^(−1/4) (stack='decoder') or × 0.67·N^(−1/4) (stack='encoder'); "
           "N = number of layers (blocks)", "Huang, Perez, Ba & Volkovs 2020 (T-Fixup); layer6ai-labs/T-Fixup",
           {"stack": "decoder"}, apply=_t_fixup, base="glorot_uniform"),
    Recipe("gpt2", "GPT-2 / Megatron scaled residual", "every Linear and Embedding weight N(0, std²), std = 0.02; the "
           "residual projections (each branch's last layer) N(0, (std/√N)²), N = number of residual branches "
           "(Megatron: σ/√(2·num_layers))", "Radford et al. 2019 (GPT-2, §2.3); Megatron-LM "
           "scaled_init_method_normal", {"std": 0.02}, aliases=("megatron", "gpt-2"), apply=_gpt2),
    Recipe("scaled_residual", "Scaled residual on any base", "base law; each branch's last layer × 1/√N, N = number of "
           "residual branches", "GPT-2's rule (Radford et al. 2019) on the base law", {"base": "auto"},
           apply=_scaled_residual),
    Recipe("neox", "gpt-neox small_init + wang_init", "every weight small_init: N(0, 2/(5d)); each branch's last layer "
           "wang_init: N(0, (2/(L·√d))²); d = the stream width, L = number of layers (blocks)",
           "gpt-neox init_functions.py (Black et al. 2022); Nguyen & Salazar 2019", {}, aliases=("gpt_neox",),
           apply=_neox, base="small_init"),
    Recipe("olmo", "OLMo mitchell", "every Linear/Embedding weight: the law mitchell, N(0, σ²) truncated to ±3σ, "
           "σ = 1/√d (d = its input width); each branch's last layer: σ ÷ √(2·(layer+1)), layer = its block index",
           "OLMo init_weights, InitFnType.mitchell (Groeneveld et al. 2024)", {}, apply=_mitchell, base="mitchell"),
    Recipe("mimetic", "Mimetic attention", "per head: W_qᵀ·W_k = α₁Z₁ + β₁I (the SVD U·S·Vᵀ split as W_q = (U√S)ᵀ, "
           "W_k = (V√S)ᵀ, first d_head components); W_o·W_v = α₂Z₂ − β₂I (W_o = U√S, W_v = √S·Vᵀ); Z with variance "
           "1/d (uniform); α₁ = β₁ = 0.7, α₂ = β₂ = 0.4; other layers: base",
           "Trockman & Kolter 2023 (Mimetic initialization of self-attention layers)",
           {"alpha1": 0.7, "beta1": 0.7, "alpha2": 0.4, "beta2": 0.4, "dist": "uniform", "heads": None,
            "base": "auto"}, needs="attention", apply=_mimetic),
    Recipe("depth_mup", "Depth-μP", "each branch × (L/L_base)^(−1/2) (a forward multiplier); Adam lr of the "
           "blocks' parameters × (L/L_base)^(−1/2); init as the base (depth-independent)",
           "Yang et al. 2023 (Tensor Programs VI); Bordelon et al. 2023; Dey et al. 2025 Table 1 (α = 1/2)",
           {"base_depth": 1}, kind="parametrization", aliases=("depth-mup", "depthmup")),
    Recipe("completep", "CompleteP", "each branch × (L/L_base)^(−1) (a forward multiplier); Adam lr × (L/L_base)^0; "
           "Adam ε of the blocks × (L/L_base)^(−1); init as the base", "Dey et al. 2025 (CompleteP), Table 1 (α = 1); "
           "EleutherAI/nanoGPT-mup (completep)", {"base_depth": 1}, kind="parametrization"),
)}
"""Every model-level recipe, by name (``initlab list`` prints them after the per-tensor schemes)."""

_RECIPE_ALIASES = {a: r.name for r in RECIPES.values() for a in (r.name, *r.aliases)}


def list_recipes() -> list[dict]:
    """One row per recipe: name, title, formula, source, parameters with defaults, needs, wrapper, kind."""
    return [r.to_row() for r in RECIPES.values()]


def _lookup(name: str) -> Recipe | None:
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else None
    return RECIPES.get(_RECIPE_ALIASES.get(key, _RECIPE_ALIASES.get(str(name).strip().lower(), ""))) \
        if key is not None else None


def recipe(name: str, /, **params) -> RecipeSpec:
    """The recipe ``name`` with ``params`` checked (unknown names and parameters are one-line errors).

    >>> recipe("gpt2", std=0.01).params
    {'std': 0.01, 'roles': None}
    """
    r = _lookup(name)
    if r is None:
        raise fail("recipe", name, ", ".join(map(repr, RECIPES)), hint=suggest(str(name), list(_RECIPE_ALIASES)))
    allowed = [*r.params, "roles"]
    bad = [k for k in params if k not in allowed]
    if bad:
        raise fail(f"{r.name} parameter", bad[0], ", ".join(allowed), hint=suggest(bad[0], allowed))
    merged = {**r.params, "roles": None, **params}
    if "std" in merged:
        merged["std"] = _check_std(merged["std"])
    if "stack" in merged:
        merged["stack"] = check_choice("stack", merged["stack"], ("decoder", "encoder"))
    if "alpha" in merged:
        merged["alpha"] = check_finite("alpha", merged["alpha"])
    for k in ("alpha1", "beta1", "alpha2", "beta2"):
        if k in merged:
            merged[k] = check_finite(k, merged[k])
    if "dist" in merged:
        merged["dist"] = check_choice("dist", merged["dist"], ("uniform", "normal"))
    return RecipeSpec(r, merged)


def recipe_of(scheme) -> RecipeSpec | None:
    """The :class:`RecipeSpec` ``scheme`` names (a recipe name, ``{"name": recipe, "params": {...}}``, or a
    spec), or None when it names no recipe."""
    if isinstance(scheme, RecipeSpec):
        return scheme
    if isinstance(scheme, str):
        return recipe(scheme) if _lookup(scheme) is not None else None
    if isinstance(scheme, Mapping) and "name" in scheme and isinstance(scheme["name"], str) \
            and _lookup(scheme["name"]) is not None:
        params = dict(scheme.get("params") or {})
        params.update({k: v for k, v in scheme.items() if k not in ("name", "params")})
        return recipe(scheme["name"], **params)
    return None


def plan_recipe(model: nn.Module, spec: RecipeSpec, *, bias=None, rules=None):
    """The :class:`~initlab.model.plan.InitPlan` of recipe ``spec`` for ``model`` (nothing is written)."""
    from .plan import InitPlan, plan
    from .structure import find_structure

    r = spec.recipe
    if r.kind == "parametrization":
        raise InitlabError(f"scheme: got {r.name!r}, a depth parametrization (branch multipliers and learning rates); "
                           f"allowed: initlab.parametrize(model, {r.name!r}, base_depth=…), which also gives the "
                           "optimizer's parameter groups")
    structure = find_structure(model, spec.params.get("roles"))
    residual = residual_structure(structure)
    if r.needs == "residual branches":
        require_branches(residual, f"'{r.name}'", model)
    done = {}
    for name, layer in residual.layers.items():
        done[name] = role_label(layer)
    base = spec.params.get("base", r.base)
    if r.name == "gpt2":
        base = RandomNormal(0.0, spec.params["std"])
    elif r.name == "olmo":
        base = Mitchell()
    elif r.name == "neox":
        base = "auto"  # every weight is set by the recipe below
    elif r.name == "t_fixup":
        base = GlorotUniform()
    the_plan = plan(model, base, bias=bias, rules=rules)
    ctx = _Ctx(model, the_plan.rows, residual, dict(spec.params), dict(model.named_modules()),
               dict(model.named_parameters()))
    existing = wrapped(model)
    if r.wrapper is not None and existing and set(existing.values()) != {r.wrapper}:
        other = sorted(set(existing.values()))[0]
        raise InitlabError(f"model: got a model wrapped for {other!r}; allowed for {r.name!r}: an unwrapped model or "
                           f"one wrapped for {r.name!r} — call initlab.model.recipes.unwrap(model) first")
    r.apply(ctx)
    wrap_plan = None
    if r.wrapper is not None:
        alpha = spec.params.get("alpha", 0.0)
        wp = _wrap_plan(model, r.wrapper, residual, alpha)
        if existing:  # already wrapped for this recipe: set its scalars to their starting values
            values = {(layer, pname): value for layer, pname, value in wp.additions}
            for row in the_plan.rows:
                pname = row.name.rsplit(".", 1)[-1]
                key = (row.module, pname)
                if key in values:
                    ctx.set(row, Constant(values[key]) if values[key] else Zeros(), f"{r.name}: wrapper scalar")
        else:
            wrap_plan = wp
    for row in the_plan.rows:
        row.role = done.get(row.module, row.role)
    the_plan.recipe = r.name
    the_plan.wrap = wrap_plan
    return the_plan
