"""The activation catalogue: one row per elementwise activation initlab knows, read by every part
of initlab that needs to know something about an activation.

**To add an activation, add a row to** :data:`CATALOGUE` **(this file only).** A row says:

* how to recognise it — its ``torch.nn`` module classes, its functional spellings (``F.relu``,
  ``torch.relu_``, …) and its ``Tensor`` method spellings (``x.relu()``, ``x.relu_()``), and its
  parameters with their positions in a functional call and their module attributes;
* what it computes — ``fn``, a float64-safe torch callable ``fn(x, **params)`` (gains, theory);
* its conventional gain (``torch.nn.init.calculate_gain``'s table, where PyTorch has an entry);
* its kinks away from 0 (panel edges for the mean-field quadrature);
* the scheme ``initialize(scheme="auto")`` picks for a layer it follows (``auto``) and the
  scheme the findings of :func:`initlab.diagnose` recommend (``recommend``), with the reason when
  they differ;
* when an output counts as saturated and whether a unit can die (diagnostics);
* whether mean-field theory supports it (deterministic and elementwise);
* its Keras 3 spellings (``keras.activations`` names, ``Dense(..., activation="hard_silu")``) and
  the parameters Keras's function takes by default where they differ from this row's defaults
  (Keras's ``leaky_relu`` has slope 0.2, PyTorch's 0.01).

The readers: module and ``torch.fx`` detection (:mod:`initlab.model.activations`), the probe's
functional detection and its saturation/dead rules (:mod:`initlab.diagnostics._sites`), gains
(:mod:`initlab.schemes.gains`), the findings' fix (:mod:`initlab.diagnostics.findings`), the
mean-field kinks and modules (:mod:`initlab.theory`), the experiments' activation names, the
presets' recommended schemes and the Keras adapter (:func:`keras_row`). ``tests/model/test_activations_table.py`` walks every row through
every reader.

This module imports nothing at import time (torch objects are named by strings and resolved on
first use), so that the lowest layer (``initlab.schemes``) can read it.

>>> row("gelu").auto, row("gelu").recommend
('he_normal', 'lsuv')
>>> row("swish").name, row("leaky_relu").slope({"negative_slope": 0.2})
('silu', 0.2)
>>> r, params = keras_row("hard_swish"); r.name, params, keras_row("leaky_relu")[1]
('hardswish', {}, {'negative_slope': 0.2})
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

__all__ = ["Param", "ActivationRow", "CATALOGUE", "row", "names", "find_row", "keras_row", "resolve",
           "activation_callable", "module_builders", "SELU_SCALE", "SELU_ALPHA", "REQUIRED"]

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
"""λ and α of SELU (Klambauer et al. 2017)."""

REQUIRED = object()
"""The default of a parameter that has none (``nn.Threshold``'s ``threshold`` and ``value``)."""


@dataclass(frozen=True)
class Param:
    """A parameter of an activation: its ``name`` (the keyword of the functional form and, unless
    ``attr`` says otherwise, the module attribute), its ``position`` among the functional call's
    positional arguments (the input is 0; None: keyword-only) and its ``default``."""

    name: str
    position: int | None
    default: Any = REQUIRED
    attr: str | None = None


_HE_ASSUMES_RELU = ("He's 2/fan_in keeps the variance only where E[φ(√q·z)²] = q/2, as for ReLU (He et al. "
                    "2015); through {name} it still drifts with depth. LSUV (Mishkin & Matas 2015) measures each "
                    "layer instead")
_NO_RULE = ("no published initialization rule preserves the variance through {name}; LSUV (Mishkin & Matas "
            "2015) measures each layer's output instead (auto keeps Glorot's linear-regime default)")


@dataclass(frozen=True)
class ActivationRow:
    """One activation of the catalogue (see the module docstring for what each field is for).

    ``modules``, ``functions``: names under ``torch.nn`` / ``F.`` (``torch.nn.functional``) /
    ``torch.`` resolved on first use; ``methods``: ``torch.Tensor`` method names. ``fn``: the
    reference callable, by name (``"F.gelu"``) or written here, called as ``fn(x, **params)``; its
    float64 autograd derivative is what theory integrates. ``aliases``: other names, each with the
    parameters it implies.
    ``gain``: ``torch.nn.init.calculate_gain``'s value (``None`` where PyTorch has no entry; the
    leaky family's depends on the slope, see :func:`initlab.calculate_gain`). ``kinks``: points
    ≠ 0 where φ or φ′ is not smooth (floats or parameter names, ``"-lambd"`` for the negative).
    ``saturation(params) -> (lo, hi, inclusive)``: outputs below ``lo`` / above ``hi`` lie on a flat
    end (``None``: that side never saturates). ``dies``: a unit outputting exactly 0 for a whole
    batch passes no gradient (relu, relu6). ``slope(params)``: the negative slope He's ``a``
    reads (leaky family). ``stateless``: no parameters and deterministic (may be built by name).
    ``keras``: the names ``keras.activations.get`` resolves to this activation (the first is the one
    initlab writes); ``keras_params``: the parameter values Keras's function uses where they differ
    from :meth:`defaults`.
    """

    name: str
    fn: str | Callable
    auto: str | None
    recommend: str | None
    modules: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    aliases: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    gain: float | None = None
    kinks: tuple[float | str, ...] = ()
    why: str = ""
    saturation: Callable[[dict], tuple[float | None, float | None, bool]] | None = field(default=None, repr=False)
    dies: bool = False
    slope: Callable[[dict], float] | None = field(default=None, repr=False)
    theory: bool = True
    stateless: bool = True
    build: str | None = None
    keras: tuple[str, ...] = ()
    keras_params: tuple[tuple[str, Any], ...] = ()

    @property
    def reason(self) -> str:
        """Why the findings recommend another scheme than ``auto`` ("" when they agree)."""
        return self.why.format(name=self.name) if self.why else ""

    def defaults(self) -> dict:
        """The parameters' defaults (parameters without one are left out)."""
        return {p.name: p.default for p in self.params if p.default is not REQUIRED}

    def kink_points(self, params: dict | None = None) -> tuple[float, ...]:
        """The kinks away from 0 for these parameter values (defaults filled in)."""
        values = {**self.defaults(), **(params or {})}
        out = []
        for k in self.kinks:
            if isinstance(k, str):
                sign, key = (-1.0, k[1:]) if k.startswith("-") else (1.0, k)
                if key not in values:
                    continue
                k = sign * float(values[key])
            if k != 0:
                out.append(float(k))
        return tuple(out)

    def module_classes(self) -> tuple[type, ...]:
        import torch.nn as nn

        return tuple(getattr(nn, m) for m in self.modules)

    def function_objects(self) -> tuple[Callable, ...]:
        return tuple(resolve(f) for f in self.functions)

    def method_objects(self) -> tuple[Callable, ...]:
        import torch

        return tuple(getattr(torch.Tensor, m) for m in self.methods)

    def module_params(self, m) -> dict:
        """The parameter values an instance ``m`` of one of :attr:`modules` carries."""
        if self.name == "prelu":  # the slope is a learned weight: its mean (its init on the meta device)
            w = m.weight
            return {"weight": float(m.init) if w.is_meta else float(w.detach().float().mean())}
        return {p.name: getattr(m, p.attr or p.name) for p in self.params if hasattr(m, p.attr or p.name)}

    def call_params(self, args: tuple, kwargs: dict, *, method: bool = False) -> dict:
        """The parameter values of a functional (or method) call ``f(x, *args[1:], **kwargs)``: given
        ones, defaults for the rest. Values that are not plain numbers or strings (an fx node, a
        tensor other than PReLU's weight) are left at their defaults."""
        values = self.defaults()
        for p in self.params:
            if p.name in kwargs:
                v = kwargs[p.name]
            elif p.position is not None and len(args) > p.position:
                v = args[p.position]
            else:
                continue
            if self.name == "prelu" and p.name == "weight":
                try:
                    v = float(v.detach().float().mean())
                except AttributeError:
                    continue
            if isinstance(v, (int, float, str)) and not isinstance(v, bool):
                values[p.name] = v
        return values

    def callable(self, **params) -> Callable:
        """``φ`` as a torch callable with these parameters (the rest at their defaults)."""
        return activation_callable(self.name, params)


def _sat(lo=None, hi=None, inclusive=False):
    return lambda p: (lo, hi, inclusive)


def _hardsigmoid(x):
    """relu6(x + 3)/6, written out: torch's hardsigmoid backward multiplies by 1/6 rounded to float32
    (a relative error of 6e-8 in float64), which theory would integrate."""
    return (x / 6 + 0.5).clamp(0.0, 1.0)


_HE, _GLOROT, _LECUN, _LSUV = "he_normal", "glorot_normal", "lecun_normal", "lsuv"

CATALOGUE: tuple[ActivationRow, ...] = (
    # -- the ReLU family: He et al. 2015 -----------------------------------------------------------------
    ActivationRow("relu", "F.relu", _HE, _HE, modules=("ReLU",), keras=("relu",),
                  functions=("F.relu", "F.relu_", "torch.relu", "torch.relu_"), methods=("relu", "relu_"),
                  gain=math.sqrt(2.0), dies=True),
    # ReLU6 subclasses Hardtanh: it comes before hardtanh, since module classes are tested in order
    ActivationRow("relu6", "F.relu6", _HE, _HE, modules=("ReLU6",), functions=("F.relu6",), keras=("relu6",),
                  kinks=(6.0,), saturation=_sat(None, 6.0, True), dies=True),
    ActivationRow("leaky_relu", "F.leaky_relu", _HE, _HE, modules=("LeakyReLU",),
                  functions=("F.leaky_relu", "F.leaky_relu_"), params=(Param("negative_slope", 1, 0.01),),
                  keras=("leaky_relu",), keras_params=(("negative_slope", 0.2),),
                  slope=lambda p: float(p["negative_slope"])),
    ActivationRow("prelu", "F.leaky_relu", _HE, _HE, modules=("PReLU",), functions=("F.prelu", "torch.prelu"),
                  methods=("prelu",), params=(Param("weight", 1, 0.25, attr="init"),),
                  slope=lambda p: float(p["weight"]), stateless=False),
    ActivationRow("rrelu", "F.leaky_relu", _HE, _HE, modules=("RReLU",),
                  functions=("F.rrelu", "F.rrelu_", "torch.rrelu", "torch.rrelu_"),
                  params=(Param("lower", 1, 1.0 / 8), Param("upper", 2, 1.0 / 3)),
                  slope=lambda p: (float(p["lower"]) + float(p["upper"])) / 2, theory=False, stateless=False),
    # -- smooth or saturating relatives of ReLU: He by convention, LSUV by the findings -------------------
    ActivationRow("elu", "F.elu", _HE, _LSUV, modules=("ELU",), functions=("F.elu", "F.elu_"), keras=("elu",),
                  params=(Param("alpha", 1, 1.0),), why=_HE_ASSUMES_RELU,
                  saturation=lambda p: (-0.99 * float(p["alpha"]), None, False)),
    ActivationRow("celu", "F.celu", _HE, _LSUV, modules=("CELU",),
                  functions=("F.celu", "F.celu_", "torch.celu", "torch.celu_"), params=(Param("alpha", 1, 1.0),),
                  keras=("celu",), why=_HE_ASSUMES_RELU, saturation=lambda p: (-0.99 * float(p["alpha"]), None, False)),
    ActivationRow("gelu", "F.gelu", _HE, _LSUV, modules=("GELU",), functions=("F.gelu",), keras=("gelu",),
                  params=(Param("approximate", None, "none"),), aliases=(("gelu_tanh", (("approximate", "tanh"),)),),
                  why=_HE_ASSUMES_RELU),
    ActivationRow("silu", "F.silu", _HE, _LSUV, modules=("SiLU",), functions=("F.silu",), keras=("silu", "swish"),
                  aliases=(("swish", ()),), why=_HE_ASSUMES_RELU),
    ActivationRow("mish", "F.mish", _HE, _LSUV, modules=("Mish",), functions=("F.mish",), keras=("mish",),
                  why=_HE_ASSUMES_RELU),
    ActivationRow("hardswish", "F.hardswish", _HE, _LSUV, modules=("Hardswish",), functions=("F.hardswish",),
                  keras=("hard_silu", "hard_swish"), kinks=(-3.0, 3.0), why=_HE_ASSUMES_RELU),
    ActivationRow("softplus", "F.softplus", _HE, _LSUV, modules=("Softplus",), functions=("F.softplus",),
                  params=(Param("beta", 1, 1.0), Param("threshold", 2, 20.0)), keras=("softplus",),
                  why=_HE_ASSUMES_RELU),
    # -- SELU: LeCun, the self-normalizing fixed point (Klambauer et al. 2017) ----------------------------
    ActivationRow("selu", "F.selu", _LECUN, _LECUN, modules=("SELU",),
                  functions=("F.selu", "torch.selu", "torch.selu_"), gain=0.75, keras=("selu",),
                  saturation=_sat(-0.99 * SELU_SCALE * SELU_ALPHA, None)),
    # -- tanh-like: Glorot & Bengio 2010 -----------------------------------------------------------------
    ActivationRow("tanh", "torch.tanh", _GLOROT, _GLOROT, modules=("Tanh",),
                  functions=("torch.tanh", "F.tanh", "torch.tanh_"), methods=("tanh", "tanh_"), gain=5.0 / 3,
                  keras=("tanh",), saturation=_sat(-0.99, 0.99)),
    ActivationRow("sigmoid", "torch.sigmoid", _GLOROT, _GLOROT, modules=("Sigmoid",),
                  functions=("torch.sigmoid", "F.sigmoid", "torch.sigmoid_"), methods=("sigmoid", "sigmoid_"),
                  keras=("sigmoid",), gain=1.0, saturation=_sat(0.01, 0.99)),
    ActivationRow("softsign", "F.softsign", _GLOROT, _GLOROT, modules=("Softsign",), functions=("F.softsign",),
                  keras=("softsign",), saturation=_sat(-0.99, 0.99)),
    ActivationRow("hardtanh", "F.hardtanh", _GLOROT, _GLOROT, modules=("Hardtanh",),
                  functions=("F.hardtanh", "F.hardtanh_"), keras=("hard_tanh",),
                  params=(Param("min_val", 1, -1.0), Param("max_val", 2, 1.0)), kinks=("min_val", "max_val"),
                  saturation=lambda p: (float(p["min_val"]), float(p["max_val"]), True)),
    ActivationRow("hardsigmoid", _hardsigmoid, _GLOROT, _GLOROT, modules=("Hardsigmoid",),
                  functions=("F.hardsigmoid",), kinks=(-3.0, 3.0), saturation=_sat(0.0, 1.0, True),
                  keras=("hard_sigmoid",)),
    # -- other elementwise activations: no published rule ------------------------------------------------
    ActivationRow("logsigmoid", "F.logsigmoid", _GLOROT, _LSUV, modules=("LogSigmoid",), functions=("F.logsigmoid",),
                  keras=("log_sigmoid",), why=_NO_RULE),
    ActivationRow("tanhshrink", "F.tanhshrink", _GLOROT, _LSUV, modules=("Tanhshrink",), functions=("F.tanhshrink",),
                  keras=("tanh_shrink",), why=_NO_RULE),
    ActivationRow("softshrink", "F.softshrink", _GLOROT, _LSUV, modules=("Softshrink",), functions=("F.softshrink",),
                  params=(Param("lambd", 1, 0.5),), kinks=("-lambd", "lambd"), keras=("soft_shrink",), why=_NO_RULE),
    ActivationRow("hardshrink", "F.hardshrink", _GLOROT, _LSUV, modules=("Hardshrink",),
                  functions=("F.hardshrink", "torch.hardshrink"), methods=("hardshrink",),
                  params=(Param("lambd", 1, 0.5),), kinks=("-lambd", "lambd"), keras=("hard_shrink",), why=_NO_RULE),
    ActivationRow("threshold", "F.threshold", _GLOROT, _LSUV, modules=("Threshold",),
                  functions=("F.threshold", "F.threshold_", "torch.threshold", "torch.threshold_"),
                  params=(Param("threshold", 1), Param("value", 2)), kinks=("threshold",), why=_NO_RULE),
    # -- no activation: the layer's output is used as it is (Glorot & Bengio's linear regime) ------------
    ActivationRow("linear", "identity", _GLOROT, _GLOROT, aliases=(("identity", ()),), gain=1.0, build="Identity",
                  keras=("linear",)),
    # -- a callable for gains and theory only (SIREN-style networks); never detected in a model ----------
    ActivationRow("sin", "torch.sin", None, None),
)
"""Every activation initlab knows, one row each. Module classes are tested in this order, so a
subclass (ReLU6) comes before its base (Hardtanh)."""


@lru_cache(maxsize=None)
def _by_name() -> dict[str, tuple[ActivationRow, dict]]:
    table: dict[str, tuple[ActivationRow, dict]] = {}
    for r in CATALOGUE:
        table[r.name] = (r, {})
        for alias, params in r.aliases:
            table[alias] = (r, dict(params))
    return table


def names(*, aliases: bool = True) -> tuple[str, ...]:
    """The catalogue's names in order (with each row's aliases after it)."""
    out = []
    for r in CATALOGUE:
        out.append(r.name)
        if aliases:
            out += [a for a, _ in r.aliases]
    return tuple(out)


def find_row(name: str) -> tuple[ActivationRow, dict] | None:
    """``(row, params)`` for a name or alias (case-insensitive; an alias may imply parameters), or None."""
    return _by_name().get(str(name).lower())


@lru_cache(maxsize=None)
def _by_keras_name() -> dict[str, ActivationRow]:
    return {k: r for r in CATALOGUE for k in r.keras}


def keras_row(name: str) -> tuple[ActivationRow, dict] | None:
    """``(row, params)`` for a Keras 3 activation name (``keras.activations.<name>``, or its
    function's ``__name__``): the row, and the parameters Keras's function uses (this row's defaults
    where Keras does not differ); None for names outside the catalogue (``softmax`` …)."""
    r = _by_keras_name().get(str(name))
    return None if r is None else (r, {**r.defaults(), **dict(r.keras_params)})


def row(name: str) -> ActivationRow:
    """The row of ``name`` (or of an alias); an :class:`~initlab.errors.InitlabError` for an unknown name."""
    hit = find_row(name)
    if hit is None:
        from .errors import fail, suggest

        raise fail("activation", name, ", ".join(names()), hint=suggest(str(name), names()))
    return hit[0]


def resolve(spelling: str) -> Callable:
    """The torch object a catalogue spelling names: ``"F.relu"``, ``"torch.relu_"``, ``"identity"``."""
    import torch
    import torch.nn.functional as F

    if spelling == "identity":
        return _identity
    space, _, attr = spelling.partition(".")
    return getattr(F if space == "F" else torch, attr)


def _identity(x, **_):
    return x


def activation_callable(name: str, params: dict | None = None) -> Callable:
    """``φ(x)`` for the activation ``name`` (or alias) with ``params`` (the rest at their defaults)."""
    r, implied = _by_name()[str(name).lower()]
    values = {**r.defaults(), **implied, **(params or {})}
    missing = [p.name for p in r.params if p.name not in values]
    if missing:
        from .errors import fail

        raise fail("activation", name, f"parameters {', '.join(missing)} given (they have no default)")
    fn = r.fn if callable(r.fn) else resolve(r.fn)
    if r.slope is not None:  # the leaky family, computed as leaky_relu with its (mean) slope
        slope = r.slope(values)
        return lambda x: fn(x, negative_slope=slope)
    kwargs = {p.name: values[p.name] for p in r.params}
    return (lambda x: fn(x, **kwargs)) if kwargs else fn


def module_builders() -> dict[str, type]:
    """``{name: nn.Module class}`` for the activations a model builder can place by name: rows that are
    stateless (no learned or random parameters), whose parameters all have defaults and that apply
    to a network (``sin`` is for gains and theory only), with their aliases that imply no parameters.
    ``linear`` builds ``nn.Identity``."""
    import torch.nn as nn

    out: dict[str, type] = {}
    for r in CATALOGUE:
        cls_name = r.build or (r.modules[0] if r.modules else None)
        if cls_name is None or not r.stateless or any(p.default is REQUIRED for p in r.params):
            continue
        cls = getattr(nn, cls_name)
        out[r.name] = cls
        out.update({alias: cls for alias, params in r.aliases if not params})
    return out
