"""Adapters for other frameworks: Keras 3 (:mod:`initlab.keras`) and JAX (:mod:`initlab.jax`).

They are thin: every law, constant and fan rule comes from :mod:`initlab.schemes`; this package
only says how a framework's weight layout maps onto initlab's distribution call
(:mod:`._layout`) and draws the numbers with the framework's own tools. Nothing here imports
Keras or JAX at ``import initlab`` time: :func:`keras_model_adapter` looks at ``sys.modules``
first, so a model can only be a Keras model when the user has already imported Keras.
"""

from __future__ import annotations

import sys

__all__ = ["keras_model_adapter", "is_keras_model"]


def is_keras_model(obj) -> bool:
    """True when ``obj`` is a Keras 3 layer or model (without importing Keras)."""
    keras = sys.modules.get("keras")
    layer = getattr(keras, "Layer", None) if keras is not None else None
    return layer is not None and isinstance(obj, layer)


def keras_model_adapter(obj):
    """The module that plans, initializes and probes Keras models when ``obj`` is one, else None.

    The one entry point of the hooks in ``initlab.initialize``/``plan``/``probe``/``lsuv``."""
    if not is_keras_model(obj):
        return None
    from . import keras_model

    return keras_model
