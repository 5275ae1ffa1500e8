"""initlab's schemes as JAX initializers ``init(key, shape, dtype=jnp.float32)``.

The law and its constants (std, bounds, fans, gain) come from initlab's :class:`Distribution`,
resolved from the static shape at trace time; the numbers are drawn with ``jax.random`` from the
key, so an initializer is traceable under ``jax.jit`` and usable as Flax's ``kernel_init=``. One
sampler per family, each a few lines of ``jax.random``, compiled once per shape and dtype with the
law's constants as arguments (an eager call costs one XLA compilation per new shape, shared by every
scheme of the family, not one per operation):

* normal: ``mean + std·N(0, 1)``; uniform: ``U(low, high)``; truncated normal:
  ``loc + scale·TN(a, b)`` — uniform and truncated values are clipped to the bounds as the dtype
  stores them, so no value leaves the support after rounding;
* orthogonal: Q·diag(sign(diag R)) of the QR of a Gaussian matrix (Mezzadri 2007), times the gain;
* delta orthogonal: that matrix at the kernel centre (Xiao et al. 2018);
* sparse: N(0, std²) with ⌈sparsity·rows⌉ zeros per column at random rows (Martens 2010);
* constant, identity, dirac, ZerO, IDInit: deterministic, their values built by initlab's engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import fail, require_extra
from ..schemes import registry
from ..schemes.initializers import CallableInitializer
from ..schemes.spec import Distribution
from ._layout import apply_steps, resolve
from ._sample import inward_bounds

jax = require_extra("jax", "jax", feature="initlab.jax")
import jax.numpy as jnp  # noqa: E402

__all__ = ["get", "constructors", "SAMPLERS"]


def _compiled(draw, *static: str):
    """``draw(key, *constants, shape=..., dtype=...)`` compiled once per static shape and dtype (and the
    keyword arguments named in ``static``): the law's
    constants are traced arguments, so every scheme of a family shares one program per shape (eager
    JAX would compile each operation of the sampler separately), and inside a user's ``jax.jit`` it is
    simply inlined."""
    return jax.jit(draw, static_argnames=("shape", "dtype", *static))


def _bounds(dist: Distribution, dtype) -> tuple[float, float]:
    return inward_bounds(dist.low, dist.high, np.dtype(jnp.dtype(dtype)))


@_compiled
def _normal_draw(key, mean, std, *, shape, dtype):
    return (mean + std * jax.random.normal(key, shape, _work(dtype))).astype(dtype)


def _normal(key, dist, shape, dtype):
    return _normal_draw(key, dist.params["mean"], dist.params["std"], shape=shape, dtype=dtype)


@_compiled
def _uniform_draw(key, low, high, lo, hi, *, shape, dtype):
    x = jax.random.uniform(key, shape, _work(dtype), minval=low, maxval=high).astype(dtype)
    return jnp.clip(x, lo, hi)


def _uniform(key, dist, shape, dtype):
    return _uniform_draw(key, dist.low, dist.high, *_bounds(dist, dtype), shape=shape, dtype=dtype)


@_compiled
def _truncated_draw(key, a, b, loc, scale, lo, hi, *, shape, dtype):
    z = jax.random.truncated_normal(key, a, b, shape, _work(dtype))
    return jnp.clip((loc + scale * z).astype(dtype), lo, hi)


def _truncated(key, dist, shape, dtype):
    p = dist.params
    return _truncated_draw(key, p["a"], p["b"], p["loc"], p["scale"], *_bounds(dist, dtype), shape=shape, dtype=dtype)


def _constant(key, dist, shape, dtype):
    return jnp.full(shape, dist.params["value"], dtype)


def _haar(key, rows: int, cols: int, dtype):
    """A (rows, cols) Haar-distributed matrix with orthonormal rows (rows ≤ cols) or columns."""
    tall = (max(rows, cols), min(rows, cols))
    q, r = jnp.linalg.qr(jax.random.normal(key, tall, dtype))
    q = q * jnp.sign(jnp.diagonal(r))
    return q.T if rows < cols else q


def _orthogonal_draw(key, gain, *, rows, cols, shape, dtype):
    return (gain * _haar(key, rows, cols, _work(dtype))).reshape(shape).astype(dtype)


_orthogonal_draw = _compiled(_orthogonal_draw, "rows", "cols")


def _orthogonal(key, dist, shape, dtype):
    p = dist.params
    return _orthogonal_draw(key, p["gain"], rows=p["rows"], cols=p["cols"], shape=shape, dtype=dtype)


@_compiled
def _delta_orthogonal_draw(key, gain, *, shape, dtype):
    out_c, in_c = shape[0], shape[1]
    q = gain * _haar(key, out_c, in_c, _work(dtype))
    centre = tuple(k // 2 for k in shape[2:])  # initlab's centre (torch layout (out, in, *k))
    return jnp.zeros(shape, dtype).at[(slice(None), slice(None), *centre)].set(q.astype(dtype))


def _delta_orthogonal(key, dist, shape, dtype):
    return _delta_orthogonal_draw(key, dist.params["gain"], shape=shape, dtype=dtype)


@_compiled
def _sparse_draw(key, std, zeros_per_column, *, shape, dtype):
    k_values, k_rows = jax.random.split(key)
    values = std * jax.random.normal(k_values, shape, _work(dtype))
    rank = jnp.argsort(jnp.argsort(jax.random.uniform(k_rows, shape), axis=0), axis=0)  # a random order per column
    return jnp.where(rank < zeros_per_column, 0.0, values).astype(dtype)


def _sparse(key, dist, shape, dtype):
    return _sparse_draw(key, dist.params["std"], dist.params["zeros_per_column"], shape=shape, dtype=dtype)


def _engine(key, dist, shape, dtype):
    return jnp.asarray(dist.sample_numpy(np.random.default_rng(0), dtype="float64"), dtype)


SAMPLERS = {"constant": _constant, "normal": _normal, "uniform": _uniform, "truncated_normal": _truncated,
            "orthogonal": _orthogonal, "delta_orthogonal": _delta_orthogonal, "sparse": _sparse,
            "identity": _engine, "dirac": _engine, "hadamard_identity": _engine, "padded_identity": _engine}
"""``{family: sampler(key, dist, shape, dtype)}``: how each of initlab's families is drawn with JAX."""


def _work(dtype):
    """Draw in float32 (float64 when asked) and cast: narrow dtypes lose nothing by it."""
    return jnp.float64 if jnp.dtype(dtype) == jnp.float64 else jnp.float32


def _scheme(identifier):
    scheme = registry.get(identifier)
    if isinstance(scheme, CallableInitializer):
        raise fail("scheme", identifier, "a scheme name, a config dict or an initlab Initializer")
    return scheme


def get(identifier: Any, *, in_axis=None, out_axis=None, batch_axis=(), dtype=jnp.float32, kind: str = "kernel",
        groups: int = 1, gates: int = 1):
    """An initlab scheme as a JAX initializer ``init(key, shape, dtype=dtype)``.

    ``in_axis``/``out_axis``/``batch_axis`` as in ``jax.nn.initializers.variance_scaling`` (an axis or a
    sequence of axes); ``None`` (the default) means the last two axes, JAX's ``-2``/``-1``, and a 1-D
    shape then takes fan_in = fan_out = n (initlab's rule). ``kind``, ``groups``, ``gates``: see
    :mod:`initlab.adapters._layout`. ``init.distribution(shape)`` is the law, nothing sampled.

    >>> import jax, initlab.jax
    >>> init = initlab.jax.get("he_normal")
    >>> init(jax.random.key(0), (784, 256)).shape
    (784, 256)
    """
    scheme = _scheme(identifier)
    axes = {}
    if in_axis is not None or out_axis is not None or batch_axis not in (None, ()):
        axes = {"in_axis": -2 if in_axis is None else in_axis, "out_axis": -1 if out_axis is None else out_axis,
                "batch_axes": batch_axis}

    def blocks(shape):
        return resolve(scheme, shape, kind=kind, groups=groups, gates=gates, layout="jax", **axes)

    def init(key, shape, dtype=dtype):
        shape = tuple(int(s) for s in shape)
        bs = blocks(shape)
        keys = [key] if len(bs) == 1 else list(jax.random.split(key, len(bs)))
        parts = [apply_steps(SAMPLERS[b.dist.family](k, b.dist, b.view, dtype), b.steps, jnp)
                 for k, b in zip(keys, bs)]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)

    init.distribution = lambda shape: blocks(tuple(shape))[0].dist
    init.blocks = blocks
    init.scheme = scheme
    init.__name__ = scheme.name
    init.__doc__ = f"initlab's {scheme!r} as a JAX initializer (key, shape, dtype)."
    return init


def _constructor(name: str):
    cls = registry.scheme_class(name)

    def make(*, in_axis=None, out_axis=None, batch_axis=(), dtype=jnp.float32, kind: str = "kernel",
             groups: int = 1, gates: int = 1, **params):
        return get(registry.create(name, **params), in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis,
                   dtype=dtype, kind=kind, groups=groups, gates=gates)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"initlab's ``{name}`` as a JAX initializer (see :func:`get`).\n\n" + (cls.__doc__ or "")
    return make


def constructors() -> dict:
    """``{name: constructor}`` for every scheme in initlab's registry (callables excluded)."""
    return {cls.name: _constructor(cls.name) for cls in registry.SCHEMES if cls is not CallableInitializer}

