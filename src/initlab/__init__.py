"""initlab: neural-network weight initialization — every published scheme with exact fans and
gains, diagnostics of what an initialization does to a network, experiments and reports.

The public API is re-exported here; heavy parts (diagnostics, theory, experiments, reports) are
imported lazily on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .errors import InitlabError
from .schemes import (Distribution, Initializer, calculate_gain, compute_fans, get, list_schemes,
                      moment_gain)
from .schemes.registry import *  # noqa: F401,F403  (the scheme classes and constructors)
from .schemes import registry as _registry

_LAZY = {
    "initialize": ("initlab.model", "initialize"),
    "plan": ("initlab.model", "plan"),
    "InitPlan": ("initlab.model", "InitPlan"),
    "materialize": ("initlab.model.materialize", "materialize"),
    "probe": ("initlab.diagnostics", "probe"),
    "diagnose": ("initlab.diagnostics", "diagnose"),
    "lsuv": ("initlab.diagnostics", "lsuv"),
    "doctor": ("initlab.diagnostics", "doctor"),
    "theory": ("initlab.theory", None),
    # width scaling: the package is callable as initlab.parametrize(model, "mup", base=...)
    "parametrize": ("initlab.parametrize", None),
    "param_groups": ("initlab.parametrize.core", "param_groups"),
    "coord_check": ("initlab.parametrize.coord_check", "coord_check"),
}

__all__ = ["__version__", "InitlabError", "Distribution", "Initializer", "calculate_gain", "compute_fans",
           "get", "list_schemes", "moment_gain", *_registry.__all__, *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'initlab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
