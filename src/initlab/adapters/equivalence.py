"""initlab's scheme for a Keras 3 built-in initializer (:func:`from_keras`) or a
``jax.nn.initializers`` call (:func:`from_jax`): the same law, named.

The table of which call equals which scheme is :mod:`initlab.schemes.equivalents` (its ``KERAS`` and
``JAX`` rows); this module only translates a call's arguments into the scheme's
parameters (``stddev`` → ``std``, ``scale`` → ``gain`` for the orthogonal family, JAX's
``lower``/``upper`` → ``a``/``b``, Keras's ``VarianceScaling`` distributions). It imports neither Keras
nor JAX.
"""

from __future__ import annotations

from ..errors import InitlabError, fail, require_extra
from ..schemes import registry
from ..schemes.equivalents import JAX, JAX_VS_DISTRIBUTIONS, KERAS, KERAS_VS_DISTRIBUTIONS

__all__ = ["from_keras", "from_jax"]


def _translate(table, spelling: str, kwargs: dict, framework: str):
    """initlab's scheme for ``spelling(**kwargs)``, from the table's row for ``spelling`` with the
    arguments renamed (stddev→std, scale→gain for the orthogonal family, JAX's lower/upper→a/b)."""
    rows = [e for e in table if e.spelling == spelling]
    if not rows:
        raise fail(f"{framework} initializer", spelling, ", ".join(sorted({e.spelling for e in table})))
    if spelling in ("VarianceScaling", "variance_scaling"):
        dist = kwargs.get("distribution", "truncated_normal")
        mapping = KERAS_VS_DISTRIBUTIONS if framework == "keras" else JAX_VS_DISTRIBUTIONS
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
    """initlab's scheme for a Keras built-in initializer (an instance, its serialized config, or the
    string Keras accepts as ``kernel_initializer``): the same law, named. ``input_axes``/``output_axes``
    and seeds are not carried over.

    >>> from_keras({"class_name": "HeNormal", "config": {"seed": None}})
    HeTruncatedNormal(a=0.0, mode='fan_in', nonlinearity='leaky_relu')
    """
    if isinstance(initializer, str):  # Keras's own reading of the string: keras.initializers.get
        keras = require_extra("keras", "keras", feature="from_keras with a string")
        try:
            initializer = keras.initializers.get(initializer)
        except ValueError:
            raise fail("initializer", initializer, "a Keras initializer name (he_normal, glorot_uniform, …), "
                       "a Keras initializer or its config") from None
    elif not isinstance(initializer, dict) and not hasattr(initializer, "get_config"):
        raise fail("initializer", initializer, "a Keras initializer, its config dict or its name")
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
