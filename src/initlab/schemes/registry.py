"""One registry: canonical snake_case names, aliases (PyTorch, Keras, JAX spellings), ``get()``.

Names are case-insensitive, with one exception: a spelling that differs only in case from a
*different* published scheme is matched exactly (``ZerO``, Zhao et al. 2022, is not ``zeros``).
Keras's class names (``HeNormal``, ``GlorotNormal``, ``LecunNormal``) mean what Keras draws — the ±2σ
truncated normals — while the snake_case ``he_normal`` is initlab's untruncated textbook law.
PyTorch's trailing-underscore names mean PyTorch's laws: ``normal_`` is N(0, 1) and ``uniform_`` is
U(0, 1), as ``torch.nn.init.normal_``/``uniform_`` draw by default. The README's table lists every
correspondence.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from ..errors import InitlabError, check_type, fail, suggest
from . import depth as _depth
from . import initializers as _init
from .initializers import CallableInitializer, VarianceScaling
from .spec import Initializer

SCHEMES: tuple[type[Initializer], ...] = (*_init.SCHEMES, *_depth.DEPTH_SCHEMES)
"""Every registered scheme class: the classic laws (:mod:`~initlab.schemes.initializers`), then the depth
laws (:mod:`~initlab.schemes.depth`)."""

ALIASES: dict[str, tuple[str, ...]] = {
    "zeros": ("zero", "zeros_"),
    "ones": ("one", "ones_"),
    "constant": ("constant_", "const"),
    "random_normal": ("normal", "randomnormal"),
    "random_uniform": ("uniform", "randomuniform"),
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

PRESETS: dict[str, tuple[str, dict, dict]] = {
    "normal_": ("random_normal", {"mean": 0.0, "std": 1.0}, {}),
    "uniform_": ("random_uniform", {"minval": 0.0, "maxval": 1.0}, {"a": "minval", "b": "maxval"}),
}
"""PyTorch's spellings whose defaults differ from the scheme they name: ``name → (scheme, defaults,
PyTorch's parameter names)``. ``normal_(mean=0, std=1)`` and ``uniform_(a=0, b=1)`` as in ``torch.nn.init``."""

EXACT_CASE: dict[str, str] = {
    "ZerO": "ZerO initialization (Zhao et al. 2022), deterministic zeros, ones and Hadamard matrices",
}
"""Published schemes whose names differ from another initlab name only in case, matched case-sensitively:
``name → what it is``. Their case-folded spelling is refused unless it is all lower, all upper or
capitalised (``zero``, ``ZERO``, ``Zero``), the ways a name of the other scheme is written."""

_BY_NAME: dict[str, type[Initializer]] = {cls.name: cls for cls in SCHEMES}
_LOOKUP: dict[str, str] = {}
for _canon, _aliases in ALIASES.items():
    for _n in (_canon, *_aliases):
        _LOOKUP[_n] = _canon

# Keras's parameter spellings, accepted in dict configs
_PARAM_ALIASES = {"stddev": "std"}

# the keys of Keras 3's serialized form ({"module", "class_name", "config", "registered_name"})
_KERAS_KEYS = {"module", "class_name", "config", "registered_name", "build_config", "compile_config"}


def _allowed_names() -> list[str]:
    return sorted({*_LOOKUP, *PRESETS})


def _resolve_name(name) -> tuple[str, dict, dict]:
    """``(canonical name, preset defaults, parameter renames)`` for any spelling of a scheme."""
    check_type("scheme", name, str, "a scheme name (see `initlab list`)")
    raw = name.strip()
    key = raw.lower()
    if raw in EXACT_CASE:
        return raw, {}, {}
    clash = [n for n in EXACT_CASE if n.lower() == key]
    if clash and raw not in (key, key.upper(), key.capitalize()):
        raise fail("scheme", name, f"a name from `initlab list`, written in one case ({key!r}, {key.upper()!r}); "
                   f"{clash[0]!r} is {EXACT_CASE[clash[0]]}")
    if key in PRESETS:
        return PRESETS[key]
    if key in _LOOKUP:
        return _LOOKUP[key], {}, {}
    # Keras's underscore-free class names ('henormal' = the truncated law) are offered only to a user
    # who typed without underscores, so 'he_norml' is pointed at 'he_normal' alone
    pool = [n for n in _allowed_names() if "_" in n or "_" not in key or n in ALIASES]
    raise InitlabError(f"scheme: got unknown name {name!r}; allowed: a name from `initlab list`{suggest(key, pool)}")


def canonical_name(name: str) -> str:
    """The canonical scheme name for ``name`` (any alias, any case).

    >>> canonical_name("Kaiming_Normal_"), canonical_name("ZEROS")
    ('he_normal', 'zeros')
    """
    return _resolve_name(name)[0]


def scheme_class(name: str) -> type[Initializer]:
    return _BY_NAME[canonical_name(name)]


def create(name: str, /, **params) -> Initializer:
    """Build the scheme ``name`` with ``params``; unknown parameters are an error naming the allowed ones.

    >>> create("uniform_", b=2.0)   # PyTorch's uniform_(a=0, b=1), parameter names included
    RandomUniform(minval=0.0, maxval=2.0)
    """
    canon, defaults, renames = _resolve_name(name)
    seed = params.pop("seed", None)
    given = {renames.get(k, _PARAM_ALIASES.get(k, k)): v for k, v in params.items()}
    return _BY_NAME[canon].from_params({**defaults, **given}, seed)


def _keras(cfg: dict) -> Initializer:
    """Keras 3's serialized initializer, ``{"module": "keras.initializers", "class_name": "HeNormal",
    "config": {"seed": None, ...}, "registered_name": None}`` (or just ``class_name`` and ``config``)."""
    unknown = sorted(set(cfg) - _KERAS_KEYS)
    if unknown:
        raise fail("config", unknown[0], f"Keras's keys {', '.join(sorted(_KERAS_KEYS))}")
    module, registered = cfg.get("module"), cfg.get("registered_name")
    if module is not None and not (isinstance(module, str) and module.split(".")[0] == "keras"):
        raise fail("module", module, "'keras.initializers' (a built-in Keras initializer)")
    if registered is not None and registered != cfg["class_name"]:
        raise fail("registered_name", registered, "null (a built-in Keras initializer; a custom one is not "
                   "known to initlab)")
    params = dict(check_type("config", cfg.get("config") or {}, Mapping, "a dict of the initializer's arguments"))
    seed = params.get("seed")
    if isinstance(seed, Mapping):
        raise fail("seed", seed, "an integer or null (a serialized SeedGenerator draws a stream initlab cannot "
                   "reproduce)")
    axes = params.pop("input_axes", None), params.pop("output_axes", None)
    init = create(cfg["class_name"], **params)
    if None in axes:  # Keras uses the axes only when both are given
        return init
    core = init if isinstance(init, VarianceScaling) else getattr(init, "core", None)
    if core is None:
        raise fail("input_axes", axes[0], f"null for {cfg['class_name']!r} (only VarianceScaling and its "
                   "specialisations take axes)")
    if not isinstance(core, VarianceScaling):
        core = core()
    return VarianceScaling(core.scale, core.mode, core.distribution_, input_axes=axes[0], output_axes=axes[1],
                           seed=init.seed)


def get(identifier: Any) -> Initializer:
    """Resolve ``identifier`` to an :class:`Initializer`.

    Accepts a scheme name (case-insensitive, initlab/PyTorch/Keras spellings), a config dict
    (``{"name": ..., "params": {...}, "seed": ...}``, or Keras 3's serialized form
    ``{"module": ..., "class_name": ..., "config": {...}, "registered_name": ...}``), an
    :class:`Initializer` instance (returned as is), or a callable ``fn(tensor)`` that fills a tensor in
    place.

    >>> get("kaiming_normal")
    HeNormal(a=0.0, mode='fan_in', nonlinearity='leaky_relu')
    >>> get({"name": "random_normal", "params": {"std": 0.01}})
    RandomNormal(mean=0.0, std=0.01)
    >>> get({"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": None},
    ...      "registered_name": None})
    HeTruncatedNormal(a=0.0, mode='fan_in', nonlinearity='leaky_relu')
    >>> get("normal_")
    RandomNormal(mean=0.0, std=1.0)
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return create(identifier)
    if isinstance(identifier, Mapping):
        cfg = dict(identifier)
        if "class_name" in cfg:
            return _keras(cfg)
        if "name" not in cfg:
            raise fail("config", sorted(cfg), "'name' (+ 'params', 'seed') or Keras's 'class_name' + 'config'")
        name = cfg.pop("name")
        params = dict(check_type("params", cfg.pop("params", None) or {}, Mapping,
                                 "a dict of parameter names to values"))
        seed = cfg.pop("seed", None)
        params.update(cfg)  # flat form {"name": "constant", "value": 0.5}
        if seed is not None:
            params["seed"] = seed
        return create(name, **params)
    if callable(identifier):
        return CallableInitializer(identifier)
    raise fail("scheme", identifier, "a name, a config dict, an Initializer or a callable")


def list_schemes() -> list[dict]:
    """One row per scheme: name, aliases (and PyTorch spellings with other defaults), formula, source,
    parameters with defaults."""
    rows = []
    for cls in SCHEMES:
        sig = inspect.signature(cls)
        params = {k: v.default for k, v in sig.parameters.items() if k != "seed"}
        presets = {n: defaults for n, (canon, defaults, _) in PRESETS.items() if canon == cls.name}
        rows.append({"name": cls.name, "aliases": list(ALIASES[cls.name]), "presets": presets,
                     "formula": cls.formula, "source": cls.source, "params": params, "class": cls.__name__,
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

__all__ = ["get", "create", "canonical_name", "scheme_class", "list_schemes", "ALIASES", "PRESETS", "EXACT_CASE",
           *[c.name for c in SCHEMES], *[k for k in _init.__all__ if k != "SCHEMES"], *_depth.__all__, "SCHEMES"]
globals().update({k: getattr(_init, k) for k in _init.__all__ if k != "SCHEMES"})
globals().update({k: getattr(_depth, k) for k in _depth.__all__})
