"""One registry: canonical snake_case names, aliases (PyTorch, Keras, JAX spellings), ``get()``.

Names are case-insensitive. Keras's class names (``HeNormal``, ``GlorotNormal``, ``LecunNormal``)
mean what Keras draws — the ±2σ truncated normals — while the snake_case ``he_normal`` is initlab's
untruncated textbook law; the README's table lists every correspondence.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from ..errors import InitlabError, suggest
from . import initializers as _init
from .initializers import SCHEMES, CallableInitializer
from .spec import Initializer

ALIASES: dict[str, tuple[str, ...]] = {
    "zeros": ("zero", "zeros_"),
    "ones": ("one", "ones_"),
    "constant": ("constant_", "const"),
    "random_normal": ("normal", "normal_", "randomnormal"),
    "random_uniform": ("uniform", "uniform_", "randomuniform"),
    "truncated_normal": ("truncatednormal",),
    "trunc_normal": ("trunc_normal_",),
    "variance_scaling": ("variancescaling",),
    "glorot_normal": ("xavier_normal", "xavier_normal_"),
    "glorot_uniform": ("xavier_uniform", "xavier_uniform_", "glorotuniform"),
    "glorot_truncated_normal": ("xavier_truncated_normal", "keras_glorot_normal", "glorotnormal"),
    "he_normal": ("kaiming_normal", "kaiming_normal_"),
    "he_uniform": ("kaiming_uniform", "kaiming_uniform_", "heuniform"),
    "he_truncated_normal": ("kaiming_truncated_normal", "keras_he_normal", "henormal"),
    "lecun_normal": (),
    "lecun_uniform": ("lecununiform",),
    "lecun_truncated_normal": ("keras_lecun_normal", "lecunnormal"),
    "orthogonal": ("orthogonal_", "orthogonalinitializer"),
    "identity": ("eye", "eye_", "identityinitializer"),
    "dirac": ("dirac_",),
    "delta_orthogonal": ("deltaorthogonal",),
    "sparse": ("sparse_",),
    "torch_default": ("pytorch_default", "default"),
    "small_init": ("smallinit", "small_init_init_method"),
    "wang_init": ("wanginit", "wang_init_method"),
    "mitchell": ("olmo_mitchell",),
    "ZerO": ("zero_init", "zer0"),
    "idinit": ("identity_init_2025", "id_init"),
}

_EXACT = {"ZerO": "ZerO"}
"""Names matched with their case: ``ZerO`` (Zhao et al. 2022) is not ``zero`` (= ``zeros``)."""

_BY_NAME: dict[str, type[Initializer]] = {cls.name: cls for cls in SCHEMES}
_LOOKUP: dict[str, str] = {}
for _canon, _aliases in ALIASES.items():
    for _n in (_canon, *_aliases):
        _LOOKUP[_n] = _canon

# Keras's parameter spellings, accepted in dict configs
_PARAM_ALIASES = {"stddev": "std"}


def _allowed_names() -> list[str]:
    return sorted(_LOOKUP)


def canonical_name(name: str) -> str:
    """The canonical scheme name for ``name`` (any alias, any case)."""
    if str(name).strip() in _EXACT:
        return _EXACT[str(name).strip()]
    key = str(name).strip().lower()
    if key in _LOOKUP:
        return _LOOKUP[key]
    # Keras's underscore-free class names ('henormal' = the truncated law) are offered only to a user
    # who typed without underscores, so 'he_norml' is pointed at 'he_normal' alone
    pool = [n for n in _allowed_names() if "_" in n or "_" not in key or n in ALIASES]
    hint = suggest(key, pool)
    raise InitlabError(f"scheme: got unknown name {name!r}; allowed: a name from `initlab list`{hint}")


def scheme_class(name: str) -> type[Initializer]:
    return _BY_NAME[canonical_name(name)]


def create(name: str, /, **params) -> Initializer:
    """Build the scheme ``name`` with ``params``; unknown parameters are an error naming the allowed ones."""
    cls = scheme_class(name)
    params = {_PARAM_ALIASES.get(k, k): v for k, v in params.items()}
    allowed = [p for p in inspect.signature(cls).parameters if p != "seed"]
    unknown = [k for k in params if k not in allowed and k != "seed"]
    if unknown:
        raise InitlabError(f"{cls.name}: got unknown parameter(s) {', '.join(map(repr, unknown))}; "
                           f"allowed: {', '.join(allowed) or 'none'}"
                           f"{suggest(unknown[0], allowed) if allowed else ''}")
    return cls(**params)


def get(identifier: Any) -> Initializer:
    """Resolve ``identifier`` to an :class:`Initializer`.

    Accepts a scheme name (case-insensitive, initlab/PyTorch/Keras spellings), a config dict
    (``{"name": ..., "params": {...}, "seed": ...}``, or Keras's ``{"class_name": ..., "config": {...}}``),
    an :class:`Initializer` instance (returned as is), or a callable ``fn(tensor)`` that fills a
    tensor in place.

    >>> get("kaiming_normal")
    HeNormal(a=0.0, mode='fan_in', nonlinearity='leaky_relu')
    >>> get({"name": "random_normal", "params": {"std": 0.01}})
    RandomNormal(mean=0.0, std=0.01)
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return create(identifier)
    if isinstance(identifier, Mapping):
        cfg = dict(identifier)
        if "class_name" in cfg:  # Keras's serialisation
            name, params = cfg["class_name"], dict(cfg.get("config") or {})
        elif "name" in cfg:
            name = cfg.pop("name")
            params = dict(cfg.pop("params", {}) or {})
            seed = cfg.pop("seed", None)
            params.update(cfg)  # flat form {"name": "constant", "value": 0.5}
            if seed is not None:
                params["seed"] = seed
        else:
            raise InitlabError(f"config: got keys {sorted(cfg)}; allowed: 'name' (+ 'params', 'seed') or "
                               "Keras's 'class_name' + 'config'")
        if not isinstance(params, Mapping):
            raise InitlabError(f"params: got {type(params).__name__}; allowed: a dict")
        return create(name, **params)
    if callable(identifier):
        return CallableInitializer(identifier)
    raise InitlabError(f"scheme: got {identifier!r} ({type(identifier).__name__}); allowed: a name, a config "
                       "dict, an Initializer or a callable")


def list_schemes() -> list[dict]:
    """One row per scheme: name, aliases, formula, source, parameters with defaults."""
    rows = []
    for cls in SCHEMES:
        sig = inspect.signature(cls)
        params = {k: v.default for k, v in sig.parameters.items() if k != "seed"}
        rows.append({"name": cls.name, "aliases": list(ALIASES[cls.name]), "formula": cls.formula,
                     "source": cls.source, "params": params, "class": cls.__name__,
                     "doc": (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")})
    return rows


def _constructor(cls):
    def make(*args, **kwargs):
        return cls(*args, **kwargs)

    make.__name__ = cls.name
    make.__qualname__ = cls.name
    make.__doc__ = cls.__doc__
    make.__signature__ = inspect.signature(cls)
    return make


# snake_case constructors: initlab.he_normal(), initlab.glorot_uniform(gain=...), ...
for _cls in SCHEMES:
    globals()[_cls.name] = _constructor(_cls)

__all__ = ["get", "create", "canonical_name", "scheme_class", "list_schemes", "ALIASES",
           *[c.name for c in SCHEMES], *_init.__all__]
globals().update({k: getattr(_init, k) for k in _init.__all__})
