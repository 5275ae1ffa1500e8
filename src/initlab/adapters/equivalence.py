"""Which initlab scheme draws the same law as each Keras 3 built-in initializer and each
``jax.nn.initializers`` function — one table, read by the parity tests, by :func:`from_keras` /
:func:`from_jax` and by the test that holds the README's equivalence table to it.

Facts the table encodes (Keras 3.15 ``keras/src/initializers``, JAX ``jax/_src/nn/initializers.py``):

* Keras's ``HeNormal``/``GlorotNormal``/``LecunNormal`` and JAX's ``he_normal``/``glorot_normal``/
  ``lecun_normal`` are truncated at ±2σ with σ divided by 0.87962566103423978 (variance kept):
  initlab's ``*_truncated_normal``;
* Keras's ``VarianceScaling(distribution="normal")`` is read as ``"truncated_normal"``; its untruncated
  normal is spelled ``"untruncated_normal"``; JAX's ``variance_scaling(..., "normal")`` is untruncated;
* ``TruncatedNormal(stddev)`` (Keras) and ``truncated_normal(stddev)`` (JAX) do **not** correct σ: the
  values' std is ≈ 0.88·stddev (initlab's ``truncated_normal``, whose ``std`` is the parent σ);
* JAX's ``uniform(scale)`` is U(0, scale), not symmetric; ``orthogonal(scale)`` and
  ``delta_orthogonal(scale)`` multiply the matrix (initlab's ``gain``), not the variance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InitlabError, fail
from ..schemes import registry

__all__ = ["Equivalent", "KERAS", "JAX", "from_keras", "from_jax", "equivalents"]


@dataclass(frozen=True)
class Equivalent:
    """``framework``'s ``spelling(**kwargs)`` draws the law of initlab's ``scheme(**params)``.

    ``factory``: False for JAX's ``zeros``/``ones``, which are initializers themselves. ``strings``: the identifiers the framework resolves to this spelling with default arguments
    (Keras's ``kernel_initializer='he_normal'``)."""

    framework: str
    spelling: str
    kwargs: dict
    scheme: str
    params: dict = field(default_factory=dict)
    strings: tuple[str, ...] = ()
    factory: bool = True

    def initlab(self):
        """initlab's equivalent scheme."""
        return registry.create(self.scheme, **self.params)

    def call(self) -> str:
        """The framework's call, e.g. ``VarianceScaling(scale=2.0, mode='fan_in')``."""
        return f"{self.spelling}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


_KERAS_VS_DIST = {"truncated_normal": "truncated_normal", "normal": "truncated_normal",
                  "untruncated_normal": "normal", "uniform": "uniform"}
_JAX_VS_DIST = {"truncated_normal": "truncated_normal", "normal": "normal", "uniform": "uniform"}


def _k(spelling, kwargs, scheme, params=None, strings=()):
    return Equivalent("keras", spelling, dict(kwargs), scheme, dict(params or {}), tuple(strings))


def _j(spelling, kwargs, scheme, params=None, factory=True):
    return Equivalent("jax", spelling, dict(kwargs), scheme, dict(params or {}), factory=factory)


KERAS: tuple[Equivalent, ...] = (
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
      for mode in ("fan_in", "fan_out", "fan_avg") for dist, ours in _KERAS_VS_DIST.items()),
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

JAX: tuple[Equivalent, ...] = (
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
      for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg") for dist, ours in _JAX_VS_DIST.items()),
    _j("variance_scaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "normal"}, "glorot_normal"),
    _j("variance_scaling", {"scale": 2.0, "mode": "fan_in", "distribution": "normal"}, "he_normal"),
    _j("variance_scaling", {"scale": 1.0, "mode": "fan_in", "distribution": "normal"}, "lecun_normal"),
    _j("orthogonal", {"scale": 1.5}, "orthogonal", {"gain": 1.5}),
    _j("delta_orthogonal", {"scale": 1.5}, "delta_orthogonal", {"gain": 1.5}),
)
"""Every ``jax.nn.initializers`` function, with the initlab scheme that draws the same law."""


def equivalents(framework: str) -> tuple[Equivalent, ...]:
    return {"keras": KERAS, "jax": JAX}[framework]


def _translate(table, spelling: str, kwargs: dict, framework: str):
    """initlab's scheme for ``spelling(**kwargs)``, from the table's row for ``spelling`` with the
    arguments renamed (stddev→std, scale→gain for the orthogonal family, JAX's lower/upper→a/b)."""
    rows = [e for e in table if e.spelling == spelling]
    if not rows:
        raise fail(f"{framework} initializer", spelling, ", ".join(sorted({e.spelling for e in table})))
    if spelling in ("VarianceScaling", "variance_scaling"):
        dist = kwargs.get("distribution", "truncated_normal")
        mapping = _KERAS_VS_DIST if framework == "keras" else _JAX_VS_DIST
        if dist not in mapping:
            raise fail("distribution", dist, ", ".join(map(repr, mapping)))
        return registry.create("variance_scaling", scale=kwargs.get("scale", 1.0), mode=kwargs.get("mode", "fan_in"),
                               distribution=mapping[dist])
    scheme = rows[0].scheme
    rename = {"stddev": "std", "lower": "a", "upper": "b"}
    if scheme in ("orthogonal", "delta_orthogonal"):
        rename["scale"] = "gain"
    if spelling == "uniform":  # JAX's U(0, scale)
        return registry.create("random_uniform", minval=0.0, maxval=kwargs.get("scale", 1e-2))
    if spelling in ("normal", "truncated_normal") and framework == "jax":
        kwargs = {"stddev": 1e-2, **kwargs}  # JAX's default stddev (initlab's default is Keras's 0.05)
    allowed = registry.create(scheme).params()
    params = {rename.get(k, k): v for k, v in kwargs.items() if rename.get(k, k) in allowed}
    return registry.create(scheme, **params)


_KERAS_ARGS = ("value", "mean", "stddev", "minval", "maxval", "scale", "mode", "distribution", "gain")


def from_keras(initializer):
    """initlab's scheme for a Keras built-in initializer (an instance, or its serialized config):
    the same law, named. ``input_axes``/``output_axes`` and seeds are not carried over.

    >>> from_keras({"class_name": "HeNormal", "config": {"seed": None}})
    HeTruncatedNormal(a=0.0, mode='fan_in', nonlinearity='leaky_relu')
    """
    if isinstance(initializer, dict):
        spelling, cfg = initializer.get("class_name"), dict(initializer.get("config") or {})
    else:
        spelling, cfg = type(initializer).__name__, dict(initializer.get_config())
        # Keras 3.15's Identity.get_config() drops ``gain``: read the instance's own attributes
        cfg.update({k: getattr(initializer, k) for k in _KERAS_ARGS if k in vars(initializer)})
    if spelling not in {e.spelling for e in KERAS}:
        raise InitlabError(f"initializer: got {spelling!r}; allowed: a Keras built-in "
                           f"({', '.join(sorted({e.spelling for e in KERAS}))})")
    cfg = {k: v for k, v in cfg.items() if k not in ("seed", "input_axes", "output_axes")}
    return _translate(KERAS, spelling, cfg, "keras")


def from_jax(name: str, **kwargs):
    """initlab's scheme for ``jax.nn.initializers.<name>(**kwargs)`` (same law, named).

    >>> from_jax("uniform", scale=0.3)
    RandomUniform(minval=0.0, maxval=0.3)
    """
    return _translate(JAX, name, kwargs, "jax")
