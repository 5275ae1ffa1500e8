"""initlab's schemes as Keras 3 initializers (``kernel_initializer=``, ``bias_initializer=`` …).

The law, its constants and the fans come from :mod:`initlab.schemes`; the values from initlab's
seeded engine, so ``initlab.keras.get("he_normal", seed=0)(shape)`` equals
``initlab.get("he_normal").numpy(shape, layout="keras", seed=0)`` on every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InitlabError, check_choice, check_int, fail, require_extra
from ..schemes import registry
from ..schemes.initializers import CallableInitializer
from ..schemes.spec import Initializer as _Scheme
from ._layout import KINDS, resolve
from ._sample import ENGINE_DTYPES, fresh_seed, inward_bounds, numpy_values

_BACKENDS = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow", "numpy": "numpy", "openvino": "openvino"}


def _check_backend() -> None:
    """Before Keras is first imported: the backend it will load (``KERAS_BACKEND``, else the
    ``backend`` of ``$KERAS_HOME/keras.json`` or ``~/.keras/keras.json``, else Keras's default
    ``tensorflow``) must be installed, or the error names it and the installed ones."""
    import importlib.util
    import json
    import os
    import sys

    try:
        if "keras" in sys.modules or importlib.util.find_spec("keras") is None:
            return  # already chosen, or require_extra below names the missing extra
    except (ImportError, ValueError):
        return
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        try:
            with open(os.path.join(home, "keras.json")) as f:
                name = json.load(f).get("backend")
        except (OSError, ValueError):
            name = None
    name = name or "tensorflow"
    installed = [b for b, m in _BACKENDS.items() if importlib.util.find_spec(m) is not None]
    allowed = ", ".join(map(repr, installed))
    if name not in _BACKENDS:
        raise fail("KERAS_BACKEND", name, f"{allowed} (installed Keras backends; initlab tests torch and jax)")
    if name not in installed:
        raise InitlabError(f"KERAS_BACKEND: got {name!r}, whose package {_BACKENDS[name]!r} is not installed; "
                           f"allowed: {allowed} (set KERAS_BACKEND before importing keras)")


_check_backend()
keras = require_extra("keras", "keras", feature="initlab.keras")

__all__ = ["Initializer", "get", "constructors"]

_PACKAGE = "initlab"


def _scheme(identifier) -> _Scheme:
    if isinstance(identifier, Initializer):
        return identifier.scheme
    scheme = registry.get(identifier)
    if isinstance(scheme, CallableInitializer):
        raise fail("scheme", identifier, "a scheme name, a config dict or an initlab Initializer (a Keras "
                   "initializer must be serializable, which a plain callable is not)")
    return scheme


def _check_seed(seed):
    if seed is None:
        return None
    return check_int("seed", seed, minimum=0)


@keras.saving.register_keras_serializable(package=_PACKAGE, name="Initializer")
class Initializer(keras.initializers.Initializer):
    """An initlab scheme as a ``keras.initializers.Initializer``.

    ``scheme``: a name (``"he_normal"``, Keras's ``"HeNormal"`` …), a config dict or an initlab
    ``Initializer``. ``seed``: an int gives the same values on every call (equal to
    ``initlab.get(scheme).numpy(shape, layout="keras", seed=seed)`` for ``kind="kernel"``); ``None``
    gives fresh values on every call (a new seed from Python's ``random``, which
    ``keras.utils.set_random_seed`` seeds).

    Keras calls an initializer with the shape alone, so the weight's kind is given here (see
    :mod:`initlab.adapters._layout`): ``kind="kernel"`` (Dense, Conv — the default, ``groups=`` for
    grouped convs), ``"conv_transpose"``, ``"depthwise"``, ``"embedding"``; ``gates=4`` (LSTM) or ``3``
    (GRU) takes fans per gate block, while ``gates=1`` takes them over the whole kernel, as Keras does.
    ``initlab.initialize(model)`` chooses all of this per layer by itself.

    The config (``get_config``) holds the scheme's name and parameters, the seed and the kind: a model
    saved to ``.keras`` loads back with the same initializers, which regenerate the same values.
    """

    def __init__(self, scheme: Any = "glorot_uniform", seed: int | None = None, kind: str = "kernel",
                 groups: int = 1, gates: int = 1):
        s = _scheme(scheme)
        if seed is None and s.seed is not None:
            seed = s.seed
        self.scheme = registry.get({"name": s.name, "params": s.params()})
        self.seed = _check_seed(seed)
        self.kind = check_choice("kind", kind, KINDS)
        self.groups = check_int("groups", groups, minimum=1)
        self.gates = check_int("gates", gates, minimum=1)

    # -- what it draws ------------------------------------------------------------------------
    def blocks(self, shape):
        """The blocks a weight of ``shape`` is drawn in, each with its initlab ``Distribution``
        (nothing sampled)."""
        return resolve(self.scheme, shape, kind=self.kind, groups=self.groups, gates=self.gates)

    def distribution(self, shape):
        """The ``Distribution`` of a weight of ``shape`` (of each gate block: they are alike)."""
        return self.blocks(shape)[0].dist

    def numpy(self, shape, *, seed: int | None = None, key: str = "", dtype: str = "float32") -> np.ndarray:
        """The values as a NumPy array (``seed`` overrides the stored one; ``key`` names the stream)."""
        if seed is None:
            seed = self.seed if self.seed is not None else fresh_seed()
        return numpy_values(self.blocks(shape), seed=_check_seed(seed), key=key, dtype=dtype)

    def __call__(self, shape, dtype=None):
        dtype = keras.backend.standardize_dtype(dtype or keras.config.floatx())
        if not keras.backend.is_float_dtype(dtype):
            raise fail("dtype", dtype, "a floating dtype (float16, bfloat16, float32, float64)")
        blocks = self.blocks(shape)
        if dtype in ENGINE_DTYPES:
            return keras.ops.convert_to_tensor(self.numpy(shape, dtype=dtype), dtype=dtype)
        values = keras.ops.cast(keras.ops.convert_to_tensor(self.numpy(shape, dtype="float32")), dtype)
        bounded = [b.dist for b in blocks if b.dist.low is not None and b.dist.family != "constant"]
        if bounded:  # rounding to a narrow dtype must not leave the support
            import ml_dtypes

            lo, hi = inward_bounds(bounded[0].low, bounded[0].high, getattr(ml_dtypes, dtype, np.float32))
            values = keras.ops.clip(values, lo, hi)
        return values

    # -- serialization ------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"scheme": {"name": self.scheme.name, "params": self.scheme.params()}, "seed": self.seed,
                "kind": self.kind, "groups": self.groups, "gates": self.gates}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("kind", self.kind), ("groups", self.groups),
                                                    ("gates", self.gates)) if v not in ("kernel", 1))
        return f"initlab.keras.Initializer({self.scheme!r}, seed={self.seed}{extra})"


def get(identifier: Any, seed: int | None = None, **hints) -> Initializer:
    """An initlab scheme as a Keras initializer: ``initlab.keras.get("he_normal", seed=0)``.

    ``identifier``: a scheme name, config dict, initlab ``Initializer`` or an
    ``initlab.keras.Initializer`` (returned as is when no seed or hint is given). ``hints``:
    ``kind``, ``groups``, ``gates`` (see :class:`Initializer`).

    Note the names: initlab's ``"he_normal"`` is the untruncated N(0, 2/fan_in); Keras's string
    ``'he_normal'`` is the ±2σ truncated law, which initlab calls ``"HeNormal"`` (or
    ``"he_truncated_normal"``).
    """
    if isinstance(identifier, Initializer) and seed is None and not hints:
        return identifier
    return Initializer(identifier, seed=seed, **hints)


def _constructor(name: str):
    cls = registry.scheme_class(name)

    def make(*, seed: int | None = None, kind: str = "kernel", groups: int = 1, gates: int = 1, **params):
        return Initializer(registry.create(name, **params), seed=seed, kind=kind, groups=groups, gates=gates)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (f"initlab's ``{name}`` as a Keras initializer (parameters as ``initlab.{name}``; "
                    f"``seed``, ``kind``, ``groups``, ``gates`` as :class:`Initializer`).\n\n"
                    + (cls.__doc__ or ""))
    return make


def constructors() -> dict:
    """``{name: constructor}`` for every scheme in initlab's registry (callables excluded)."""
    return {cls.name: _constructor(cls.name) for cls in registry.SCHEMES if cls is not CallableInitializer}

