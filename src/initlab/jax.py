"""initlab for JAX (``pip install 'initlab[jax]'``): every scheme as a JAX initializer
``init(key, shape, dtype=jnp.float32)`` with JAX's ``in_axis``/``out_axis``/``batch_axis``,
traceable under ``jax.jit`` and usable as Flax's ``kernel_init=``.

>>> import jax, initlab.jax
>>> w = initlab.jax.he_normal()(jax.random.key(0), (3, 3, 16, 32))   # fans from (*k, in, out)
>>> round(initlab.jax.get("glorot_uniform").distribution((784, 256)).high, 6)   # √(6/(784+256))
0.075955
"""

from __future__ import annotations

from .adapters.jax_init import SAMPLERS, constructors, get

globals().update(constructors())

__all__ = ["get", "SAMPLERS", *constructors()]
