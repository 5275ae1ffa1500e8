"""Which call of PyTorch, Keras and JAX each registry scheme equals — the one table of equivalences.

* :data:`KERAS` and :data:`JAX`: every Keras 3 built-in initializer (every ``VarianceScaling`` mode ×
  distribution included) and every ``jax.nn.initializers`` function, each a :class:`FrameworkCall`
  with the initlab scheme and parameters that draw the same law. The parity tests check every row
  against the law derived by hand, ``initlab.keras.from_keras`` / ``initlab.jax.from_jax``
  (:mod:`initlab.adapters.equivalence`) translate with them, and a test holds the README's table to them.
* :data:`EQUIVALENTS`: one row per canonical scheme name. ``torch`` is the ``torch.nn.init`` call (or
  module default) with the same law; ``torch_same_values`` says whether, given the same
  ``torch.Generator``, initlab draws the very same values (it uses PyTorch's algorithm) or only the
  same law (another algorithm). ``keras`` / ``jax`` (the call with default arguments first) and
  ``keras_calls`` / ``jax_calls`` (one per spelling) are derived from :data:`KERAS` and :data:`JAX`;
  ``None`` / ``()`` where that library has none. The documentation's scheme pages are generated from
  it; a test holds it to the registry (every scheme has a row) and runs every ``torch_same_values``
  claim bit for bit against the ``torch.nn.init`` call it names.

Facts the tables encode (Keras 3.15 ``keras/src/initializers``, JAX ``jax/_src/nn/initializers.py``):

* Keras's ``HeNormal``/``GlorotNormal``/``LecunNormal`` and JAX's ``he_normal``/``glorot_normal``/
  ``lecun_normal`` are truncated at ±2σ with σ divided by 0.87962566103423978 (variance kept):
  initlab's ``*_truncated_normal``, not its untruncated ``*_normal``;
* Keras's ``VarianceScaling(distribution="normal")`` is read as ``"truncated_normal"``; its untruncated
  normal is spelled ``"untruncated_normal"``; JAX's ``variance_scaling(..., "normal")`` is untruncated;
* ``TruncatedNormal(stddev)`` (Keras) and ``truncated_normal(stddev)`` (JAX) do **not** correct σ: the
  values' std is ≈ 0.88·stddev (initlab's ``truncated_normal``, whose ``std`` is the parent σ);
* JAX's ``uniform(scale)`` is U(0, scale), not symmetric; ``orthogonal(scale)`` and
  ``delta_orthogonal(scale)`` multiply the matrix (initlab's ``gain``), not the variance.

This module imports neither Keras nor JAX: the calls are data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .registry import canonical_name, create

__all__ = ["FrameworkCall", "KERAS", "JAX", "KERAS_VS_DISTRIBUTIONS", "JAX_VS_DISTRIBUTIONS", "Equivalent",
           "EQUIVALENTS", "equivalent"]

PREFIX = {"keras": "keras.initializers.", "jax": "jax.nn.initializers."}


@dataclass(frozen=True)
class FrameworkCall:
    """``framework``'s ``spelling(**kwargs)`` draws the law of initlab's ``scheme(**params)``.

    ``factory``: False for JAX's ``zeros``/``ones``, which are initializers themselves. ``strings``: the
    identifiers the framework resolves to this spelling with default arguments (Keras's
    ``kernel_initializer='he_normal'``)."""

    framework: str
    spelling: str
    kwargs: dict
    scheme: str
    params: dict = field(default_factory=dict)
    strings: tuple[str, ...] = ()
    factory: bool = True

    def initlab(self):
        """initlab's equivalent scheme."""
        return create(self.scheme, **self.params)

    def call(self) -> str:
        """The framework's call, e.g. ``VarianceScaling(scale=2.0, mode='fan_in')``."""
        return f"{self.spelling}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"

    def qualified(self) -> str:
        """The call with its module: ``keras.initializers.HeNormal()``, ``jax.nn.initializers.zeros``."""
        return PREFIX[self.framework] + (self.call() if self.factory else self.spelling)

    def describe(self) -> str:
        """:meth:`qualified`, and initlab's parameters where they are not the call's own:
        ``jax.nn.initializers.orthogonal(scale=1.5) = orthogonal(gain=1.5)``."""
        if not self.params or self.params == self.kwargs:
            return self.qualified()
        return f"{self.qualified()} = {self.scheme}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


KERAS_VS_DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "truncated_normal",
                          "untruncated_normal": "normal", "uniform": "uniform"}
"""Keras's ``VarianceScaling`` distributions → initlab's (Keras reads ``"normal"`` as truncated)."""
JAX_VS_DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "normal", "uniform": "uniform"}
"""JAX's ``variance_scaling`` distributions → initlab's (the same names)."""


def _k(spelling, kwargs, scheme, params=None, strings=()):
    return FrameworkCall("keras", spelling, dict(kwargs), scheme, dict(params or {}), tuple(strings))


def _j(spelling, kwargs, scheme, params=None, factory=True):
    return FrameworkCall("jax", spelling, dict(kwargs), scheme, dict(params or {}), factory=factory)


KERAS: tuple[FrameworkCall, ...] = (
    _k("Zeros", {}, "zeros", strings=("zeros", "zero")),
    _k("Ones", {}, "ones", strings=("ones", "one")),
    _k("Constant", {"value": 0.5}, "constant", {"value": 0.5}),
    _k("RandomNormal", {}, "random_normal", strings=("random_normal", "normal")),
    _k("RandomNormal", {"mean": 0.1, "stddev": 0.2}, "random_normal", {"mean": 0.1, "std": 0.2}),
    _k("RandomUniform", {}, "random_uniform", strings=("random_uniform", "uniform")),
    _k("RandomUniform", {"minval": -0.1, "maxval": 0.3}, "random_uniform", {"minval": -0.1, "maxval": 0.3}),
    _k("TruncatedNormal", {}, "truncated_normal", strings=("truncated_normal",)),
    _k("TruncatedNormal", {"mean": 0.1, "stddev": 0.2}, "truncated_normal", {"mean": 0.1, "std": 0.2}),
    _k("GlorotUniform", {}, "glorot_uniform", strings=("glorot_uniform",)),
    _k("GlorotNormal", {}, "glorot_truncated_normal", strings=("glorot_normal",)),
    _k("HeUniform", {}, "he_uniform", strings=("he_uniform",)),
    _k("HeNormal", {}, "he_truncated_normal", strings=("he_normal",)),
    _k("LecunUniform", {}, "lecun_uniform", strings=("lecun_uniform",)),
    _k("LecunNormal", {}, "lecun_truncated_normal", strings=("lecun_normal",)),
    *(_k("VarianceScaling", {"scale": 2.0, "mode": mode, "distribution": dist}, "variance_scaling",
         {"scale": 2.0, "mode": mode, "distribution": ours})
      for mode in ("fan_in", "fan_out", "fan_avg") for dist, ours in KERAS_VS_DISTRIBUTIONS.items()),
    _k("VarianceScaling", {}, "variance_scaling", strings=("variance_scaling",)),
    # the untruncated textbook laws, spelled with Keras's VarianceScaling
    _k("VarianceScaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "untruncated_normal"}, "glorot_normal"),
    _k("VarianceScaling", {"scale": 2.0, "mode": "fan_in", "distribution": "untruncated_normal"}, "he_normal"),
    _k("VarianceScaling", {"scale": 1.0, "mode": "fan_in", "distribution": "untruncated_normal"}, "lecun_normal"),
    _k("Orthogonal", {}, "orthogonal", strings=("orthogonal",)),
    _k("Orthogonal", {"gain": 1.5}, "orthogonal", {"gain": 1.5}),
    _k("Identity", {}, "identity", strings=("identity",)),
    _k("Identity", {"gain": 2.0}, "identity", {"gain": 2.0}),
)
"""Every Keras 3 built-in initializer (the VarianceScaling modes × distributions included), with
the initlab scheme that draws the same law."""

JAX: tuple[FrameworkCall, ...] = (
    _j("zeros", {}, "zeros", factory=False),
    _j("ones", {}, "ones", factory=False),
    _j("constant", {"value": 0.5}, "constant", {"value": 0.5}),
    _j("normal", {"stddev": 0.2}, "random_normal", {"mean": 0.0, "std": 0.2}),
    _j("uniform", {"scale": 0.3}, "random_uniform", {"minval": 0.0, "maxval": 0.3}),
    _j("truncated_normal", {"stddev": 0.2}, "truncated_normal", {"std": 0.2}),
    _j("truncated_normal", {"stddev": 0.2, "lower": -1.5, "upper": 2.5}, "truncated_normal",
       {"std": 0.2, "a": -1.5, "b": 2.5}),
    *(_j(name, {}, scheme) for names, scheme in (
        (("glorot_uniform", "xavier_uniform"), "glorot_uniform"),
        (("glorot_normal", "xavier_normal"), "glorot_truncated_normal"),
        (("he_uniform", "kaiming_uniform"), "he_uniform"),
        (("he_normal", "kaiming_normal"), "he_truncated_normal"),
        (("lecun_uniform",), "lecun_uniform"),
        (("lecun_normal",), "lecun_truncated_normal")) for name in names),
    *(_j("variance_scaling", {"scale": 2.0, "mode": mode, "distribution": dist}, "variance_scaling",
         {"scale": 2.0, "mode": mode, "distribution": ours})
      for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg") for dist, ours in JAX_VS_DISTRIBUTIONS.items()),
    _j("variance_scaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "normal"}, "glorot_normal"),
    _j("variance_scaling", {"scale": 2.0, "mode": "fan_in", "distribution": "normal"}, "he_normal"),
    _j("variance_scaling", {"scale": 1.0, "mode": "fan_in", "distribution": "normal"}, "lecun_normal"),
    _j("orthogonal", {"scale": 1.5}, "orthogonal", {"gain": 1.5}),
    _j("delta_orthogonal", {"scale": 1.5}, "delta_orthogonal", {"gain": 1.5}),
)
"""Every ``jax.nn.initializers`` function, with the initlab scheme that draws the same law."""


def _calls(table: tuple[FrameworkCall, ...], scheme: str) -> tuple[FrameworkCall, ...]:
    """The rows of ``table`` for ``scheme``: one per spelling, the one with the fewest arguments, those
    spellings in the order of their fewest arguments."""
    calls: dict[str, FrameworkCall] = {}
    for c in sorted((c for c in table if c.scheme == scheme), key=lambda c: len(c.kwargs)):
        calls.setdefault(c.spelling, c)
    return tuple(calls.values())


@dataclass(frozen=True)
class Equivalent:
    """The calls of other libraries that draw the same law as one initlab scheme: ``torch`` written
    here, the Keras and JAX calls derived from :data:`KERAS` and :data:`JAX`."""

    torch: str | None
    torch_same_values: bool
    keras_calls: tuple[FrameworkCall, ...]
    jax_calls: tuple[FrameworkCall, ...]
    note: str = ""

    @property
    def keras(self) -> str | None:
        """The Keras call with the fewest arguments (``keras.initializers.HeNormal()``), or None."""
        return self.keras_calls[0].qualified() if self.keras_calls else None

    @property
    def jax(self) -> str | None:
        """The JAX call with the fewest arguments (``jax.nn.initializers.he_normal()``), or None."""
        return self.jax_calls[0].qualified() if self.jax_calls else None


def _row(name: str, torch: str | None, same_values: bool, note: str = "") -> tuple[str, Equivalent]:
    return name, Equivalent(torch, same_values, _calls(KERAS, name), _calls(JAX, name), note)


EQUIVALENTS: dict[str, Equivalent] = dict((
    _row("zeros", "torch.nn.init.zeros_(w)", True),
    _row("ones", "torch.nn.init.ones_(w)", True),
    _row("constant", "torch.nn.init.constant_(w, value)", True),
    _row("random_normal", "torch.nn.init.normal_(w, mean, std)", True, "JAX's normal has mean 0."),
    _row("random_uniform", "torch.nn.init.uniform_(w, minval, maxval)", True,
         "JAX's uniform(scale) is U(0, scale), i.e. random_uniform(0, scale)."),
    _row("truncated_normal", "torch.nn.init.trunc_normal_(w, mean, std, mean + a*std, mean + b*std)", False,
         "Keras and JAX cut at ±2σ of the parent normal and do not restore the variance."),
    _row("trunc_normal", "torch.nn.init.trunc_normal_(w, mean, std, a, b)", False,
         "Same law as PyTorch's; drawn by another algorithm (rejection or inverse CDF)."),
    _row("variance_scaling", None, False),
    _row("glorot_normal", "torch.nn.init.xavier_normal_(w, gain)", True,
         "Keras's GlorotNormal is the truncated law: see glorot_truncated_normal."),
    _row("glorot_uniform", "torch.nn.init.xavier_uniform_(w, gain)", True, "Keras's default for Dense kernels."),
    _row("glorot_truncated_normal", None, False),
    _row("he_normal", "torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)", True,
         "Keras's HeNormal is the truncated law: see he_truncated_normal."),
    _row("he_uniform", "torch.nn.init.kaiming_uniform_(w, a, mode, nonlinearity)", True),
    _row("he_truncated_normal", None, False),
    _row("lecun_normal", None, False, "Keras's LecunNormal is the truncated law: see lecun_truncated_normal."),
    _row("lecun_uniform", None, False),
    _row("lecun_truncated_normal", None, False),
    _row("orthogonal", "torch.nn.init.orthogonal_(w, gain)", True,
         "Same values with generator=; with seed= initlab forms Q from Householder reflectors (same Haar law, "
         "thread-count independent)."),
    _row("identity", "torch.nn.init.eye_(w) (gain 1)", True),
    _row("dirac", "torch.nn.init.dirac_(w, groups) (gain 1)", True),
    _row("delta_orthogonal", None, False),
    _row("sparse", "torch.nn.init.sparse_(w, sparsity, std)", False,
         "Same law as PyTorch's; the zeros of each column come from another permutation draw."),
    _row("torch_default", "nn.Linear / nn.Conv*d reset_parameters()", False,
         "U(±1/√fan_in) for weights and biases; initialize(model, 'torch_default', bias='torch_default') after "
         "torch.manual_seed(s) gives the constructors' values."),
    _row("small_init", "torch.nn.init.normal_(w, 0, (2 / (5 * d)) ** 0.5)", False,
         "gpt-neox's small_init_init_method(dim): the same law; d is the hidden size there."),
    _row("wang_init", "torch.nn.init.normal_(w, 0, 2 / n_layers / d ** 0.5)", False,
         "gpt-neox's wang_init_method(n_layers, dim): the same law."),
    _row("mitchell", "torch.nn.init.trunc_normal_(w, 0, std, -3 * std, 3 * std)", False,
         "OLMo's mitchell init: the same law (std = 1/√d ÷ √(2(layer+1))), another sampling algorithm."),
    _row("ZerO", None, False, "Deterministic; no PyTorch, Keras or JAX built-in draws it."),
    _row("idinit", None, False, "Deterministic; no PyTorch, Keras or JAX built-in draws it."),
))
"""One row per registry scheme; its Keras and JAX calls derived from :data:`KERAS` and :data:`JAX`."""


def equivalent(name: str) -> Equivalent:
    """The row of :data:`EQUIVALENTS` for ``name`` (any alias, any case).

    >>> equivalent("kaiming_normal").torch
    'torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)'
    >>> equivalent("HeNormal").keras
    'keras.initializers.HeNormal()'
    """
    return EQUIVALENTS[canonical_name(name)]
