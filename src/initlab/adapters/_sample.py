"""Drawing the blocks of :mod:`._layout` with initlab's own engine, as NumPy arrays (the Keras
adapter's path: the same seed gives the same values as ``Initializer.numpy``)."""

from __future__ import annotations

import random

import numpy as np

from ._layout import apply_steps

__all__ = ["fresh_seed", "numpy_values", "ENGINE_DTYPES"]

ENGINE_DTYPES = ("float16", "float32", "float64")
"""Dtypes initlab's seeded engine draws in directly; others (bfloat16) are drawn in float32 and cast."""


def fresh_seed() -> int:
    """A seed for an unseeded call: 63 bits from Python's ``random`` module, which
    ``keras.utils.set_random_seed`` seeds, so unseeded values are fresh on every call and still
    reproducible after ``keras.utils.set_random_seed(s)``."""
    return random.getrandbits(63)


def numpy_values(blocks, *, seed: int, key: str = "", dtype: str = "float32") -> np.ndarray:
    """The weight the ``blocks`` describe, drawn by initlab's seeded engine in ``dtype`` (one of
    :data:`ENGINE_DTYPES`): block ``g`` from the stream ``(seed, key + suffix)``."""
    parts = [apply_steps(b.dist.sample_numpy(seed=seed, key=key + b.suffix, dtype=dtype), b.steps, np)
             for b in blocks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def inward_bounds(low: float, high: float, dtype) -> tuple[float, float]:
    """The smallest and largest values of ``dtype`` (a NumPy or ml_dtypes dtype) inside [low, high]:
    a value rounded to a low-precision dtype must not leave a bounded law's support."""
    lo, hi = np.asarray(low, dtype=dtype), np.asarray(high, dtype=dtype)
    if float(lo) < low:
        lo = np.nextafter(lo, np.asarray(np.inf, dtype=dtype))
    if float(hi) > high:
        hi = np.nextafter(hi, np.asarray(-np.inf, dtype=dtype))
    return float(lo), float(hi)
