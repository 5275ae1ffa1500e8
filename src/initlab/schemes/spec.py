"""Distribution and Initializer: what a scheme *is*, separate from drawing numbers.

``Initializer.distribution(shape, layout)`` resolves a scheme for one tensor shape to a
:class:`Distribution` (family, mean, std, variance, bounds) without sampling anything; the
diagnostics and the theory read these numbers. ``Initializer.__call__`` fills a torch tensor in
place and ``Initializer.numpy`` returns a new NumPy array, both through the one sampling engine
(:mod:`initlab.schemes.engine`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from ..errors import InitlabError, check_int, check_type, fail, suggest
from . import engine
from ._normal import normal_cdf, normal_pdf, truncnorm_moments
from .fans import Fans, check_shape, compute_fans

__all__ = ["Distribution", "Initializer", "truncnorm_moments", "normal_cdf", "normal_pdf"]


@dataclass(frozen=True)
class Distribution:
    """The law a scheme draws from for one tensor shape: inspectable, nothing sampled.

    ``mean``, ``std`` and ``variance`` describe the values that land in the tensor (for a
    truncated normal, *after* truncation). For structured families they are moments over the
    tensor's entries: exact for identity and dirac; for orthogonal and delta_orthogonal the mean
    square is exact (gain²·min(rows, cols) spread over the entries) and the mean 0 is its expected
    value; for sparse both are expected values. ``low``/``high`` are hard bounds of the values, ``None`` when unbounded.
    ``params`` holds what the sampler needs (e.g. the truncated normal's ``loc``, ``scale``, and
    ``a``, ``b`` in units of ``scale``).
    """

    family: str
    shape: tuple[int, ...]
    mean: float
    std: float
    low: float | None = None
    high: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    fans: Fans | None = None
    scheme: str = ""
    layout: str = "torch"

    @property
    def variance(self) -> float:
        return self.std * self.std

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def describe(self) -> str:
        p = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        bounds = ""
        if self.low is not None or self.high is not None:
            bounds = f", bounds [{_fmt(self.low)}, {_fmt(self.high)}]"
        return (f"{self.family}({p}) on shape {self.shape}: mean {_fmt(self.mean)}, std {_fmt(self.std)}, "
                f"variance {_fmt(self.variance)}{bounds}")

    def sample_(self, tensor, *, generator=None, seed: int | None = None, key: str = ""):
        """Fill ``tensor`` in place from this distribution (:func:`initlab.schemes.engine.fill_`)."""
        return engine.fill_(tensor, self, generator=generator, seed=seed, key=key)

    def sample_numpy(self, rng=None, *, seed: int | None = None, key: str = "", dtype="float32"):
        """A new NumPy array of this distribution's shape, from ``rng`` or ``seed``
        (:func:`initlab.schemes.engine.sample_numpy`)."""
        return engine.sample_numpy(self, rng=rng, seed=seed, key=key, dtype=dtype)

    def to_dict(self) -> dict:
        d = {"family": self.family, "shape": list(self.shape), "mean": self.mean, "std": self.std,
             "variance": self.variance, "low": self.low, "high": self.high, "params": dict(self.params),
             "scheme": self.scheme, "layout": self.layout}
        if self.fans is not None:
            d["fan_in"], d["fan_out"] = self.fans.fan_in, self.fans.fan_out
        return d


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@dataclass(frozen=True)
class Initializer:
    """Base of every scheme: a frozen, JSON-configurable description of how to fill a tensor.

    Subclasses set ``name`` (the canonical registry name), ``needs_fans`` and implement
    :meth:`_resolve`, which maps a shape and its fans to a :class:`Distribution`.

    A ``seed`` stored on the initializer makes it deterministic: the same object used twice
    gives the same values (like Keras initializers with a seed). To draw fresh values, pass a
    different ``seed=`` or an advancing ``generator=`` at call time.
    """

    seed: int | None = field(default=None, kw_only=True)

    name: ClassVar[str] = ""
    needs_fans: ClassVar[bool] = True
    min_ndim: ClassVar[int] = 0

    # -- inspection -------------------------------------------------------------------------
    def distribution(self, shape: Sequence[int], layout: str = "torch", *, groups: int = 1,
                     transposed: bool = False, in_axis: int | None = None, out_axis: int | None = None,
                     batch_axes: Sequence[int] = ()) -> Distribution:
        """The :class:`Distribution` this scheme draws from for a tensor of ``shape``.

        >>> import initlab
        >>> d = initlab.get("he_normal").distribution((256, 784))
        >>> d.family, round(d.std, 6)
        ('normal', 0.050508)
        """
        shape = check_shape(shape)
        if len(shape) < self.min_ndim:
            raise fail("shape", shape, f"a tensor of at least {self.min_ndim} dimensions for {self.name!r}")
        fans = None
        if self.needs_fans:
            fans = self._fans(shape, layout, groups=groups, transposed=transposed, in_axis=in_axis,
                              out_axis=out_axis, batch_axes=batch_axes)
        dist = self._resolve(shape, fans, layout, groups=groups)
        return dataclasses.replace(dist, shape=shape, fans=fans, scheme=self.name, layout=layout)

    def _fans(self, shape, layout, **kwargs) -> Fans:
        """The fans this scheme uses for ``shape`` (:func:`~initlab.schemes.fans.compute_fans`)."""
        return compute_fans(shape, layout, **kwargs)

    def _resolve(self, shape, fans: Fans | None, layout: str, *, groups: int = 1) -> Distribution:
        raise NotImplementedError

    # -- sampling ---------------------------------------------------------------------------
    def __call__(self, tensor, *, generator=None, seed: int | None = None, key: str = "",
                 layout: str = "torch", groups: int = 1, transposed: bool = False,
                 in_axis: int | None = None, out_axis: int | None = None, batch_axes: Sequence[int] = ()):
        """Fill a torch ``tensor`` in place and return it.

        Randomness, in order of precedence: ``generator`` (a ``torch.Generator``, drawn from
        sequentially, like ``torch.nn.init``), then ``seed`` (call-time, else the initializer's
        own), which derives one stream per block of the tensor from ``(seed, key, block)`` so the
        values do not depend on thread count or on other tensors; else torch's global generator.

        A tensor with no elements is left as it is, with a warning, as ``torch.nn.init`` does
        (its fans are undefined, so the scheme is not resolved for it).
        """
        engine.check_tensor(tensor)
        if seed is None and generator is None:
            seed = self.seed
        if tensor.numel() == 0 and not tensor.is_meta:
            engine.check_call(generator, seed, key)
            warnings.warn(f"initlab: a tensor of shape {tuple(tensor.shape)} has no elements; {self.name} does "
                          "nothing to it", UserWarning, stacklevel=2)
            return tensor
        dist = self.distribution(tuple(tensor.shape), layout, groups=groups, transposed=transposed,
                                 in_axis=in_axis, out_axis=out_axis, batch_axes=batch_axes)
        return engine.fill_(tensor, dist, generator=generator, seed=seed, key=key)

    def numpy(self, shape: Sequence[int], rng=None, *, seed: int | None = None, key: str = "",
              dtype="float32", layout: str = "torch", groups: int = 1, transposed: bool = False,
              in_axis: int | None = None, out_axis: int | None = None, batch_axes: Sequence[int] = ()):
        """A new NumPy array of ``shape`` drawn from ``rng`` (``np.random.Generator``) or ``seed``, of
        ``dtype`` float16/32/64 or ``ml_dtypes.bfloat16``. A shape with no elements gives an empty
        array, with a warning.

        >>> import initlab
        >>> initlab.get("he_normal").numpy((2, 3), seed=0).shape
        (2, 3)
        """
        if seed is None and rng is None:
            seed = self.seed
        shape = check_shape(shape)
        if math.prod(shape) == 0:
            dt = engine.numpy_dtype(dtype)
            engine.check_call(seed=seed, key=key, rng=rng, numpy=True)
            warnings.warn(f"initlab: shape {shape} has no elements; {self.name} draws nothing", UserWarning,
                          stacklevel=2)
            return np.empty(shape, dtype=dt)
        dist = self.distribution(shape, layout, groups=groups, transposed=transposed, in_axis=in_axis,
                                 out_axis=out_axis, batch_axes=batch_axes)
        return engine.sample_numpy(dist, rng, seed=seed, key=key, dtype=dtype)

    # -- config -----------------------------------------------------------------------------
    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "seed"}

    def to_config(self) -> dict:
        """A JSON-serialisable dict; ``initlab.get(cfg)`` / :meth:`from_config` rebuild the scheme."""
        cfg = {"name": self.name, "params": self.params()}
        if self.seed is not None:
            cfg["seed"] = self.seed
        return cfg

    @classmethod
    def from_params(cls, params: Mapping, seed: int | None = None) -> "Initializer":
        """This scheme with ``params``; an unknown parameter name is an error naming the allowed ones."""
        check_type("params", params, Mapping, "a dict of parameter names to values")
        allowed = [p for p in inspect.signature(cls).parameters if p != "seed"]
        unknown = [k for k in params if k not in allowed]
        if unknown:  # the form of errors.fail, with several values
            raise InitlabError(f"{cls.name}: got unknown parameter(s) {', '.join(map(repr, unknown))}; allowed: "
                               f"{', '.join(allowed) or 'none'}{suggest(str(unknown[0]), allowed) if allowed else ''}")
        return cls(**params, seed=None if seed is None else check_int("seed", seed))

    @classmethod
    def from_config(cls, config: Mapping) -> "Initializer":
        """The inverse of :meth:`to_config`: ``{"name": cls.name, "params": {...}, "seed": ...}``
        (``initlab.get`` reads every other spelling and form)."""
        check_type("config", config, Mapping, "a dict {'name': ..., 'params': {...}, 'seed': ...}")
        extra = sorted(set(config) - {"name", "params", "seed"})
        if extra:
            raise fail("config", extra[0], "the keys 'name', 'params' and 'seed'")
        if config.get("name", cls.name) != cls.name:
            raise fail("name", config["name"], f"{cls.name!r} for {cls.__name__}.from_config (use initlab.get for "
                       "any scheme)")
        return cls.from_params(config.get("params") or {}, config.get("seed"))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        if self.seed is not None:
            args += (", " if args else "") + f"seed={self.seed}"
        return f"{type(self).__name__}({args})"
