"""initlab for Keras 3 (``pip install 'initlab[keras]'``; the torch or JAX backend).

* every initlab scheme as a ``keras.initializers.Initializer``: ``initlab.keras.get("he_normal",
  seed=0)`` or ``initlab.keras.he_normal(seed=0)``, registered for Keras serialization;
* whole models: ``initlab.initialize(keras_model, "auto", seed=0)`` and ``initlab.plan(...)``
  (also here as :func:`initialize` and :func:`plan`);
* diagnosis: ``initlab.probe``, ``initlab.diagnose``, ``initlab.lsuv`` on Keras models;
* :func:`keras_lines`: the Keras code that reproduces a setting (activation, depth, width, scheme).

Importing this module imports Keras, so set ``KERAS_BACKEND`` first (``torch`` or ``jax``).
"""

from __future__ import annotations

from .adapters.equivalence import from_keras
from .adapters.keras_diag import lsuv, probe
from .adapters.keras_init import Initializer, constructors, get
from .adapters.keras_model import initialize, plan
from .adapters.snippets import keras_lines

globals().update(constructors())

__all__ = ["Initializer", "get", "from_keras", "initialize", "plan", "probe", "lsuv", "keras_lines", *constructors()]
