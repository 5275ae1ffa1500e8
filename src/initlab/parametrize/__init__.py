"""Width and depth scaling: SP, μP, u-μP, depth-μP and CompleteP as plans with multipliers and per-layer
learning rates.

``initlab.parametrize(model, "mup", base=64)`` — this package is itself callable, so
``initlab.parametrize(...)`` is :func:`~initlab.parametrize.core.parametrize` while
``initlab.parametrize.coord_check`` and the other names below stay reachable.

* :func:`parametrize` — the plan (role, fan_in, width multiplier, init std, forward multiplier, lr
  multiplier per parameter), applied all-or-nothing; :func:`param_groups` — torch optimizer groups.
* :mod:`~initlab.parametrize.rules` — the tables (Tensor Programs V, Table 3 and its equivalent forms;
  u-μP) and the transform between forms.
* :func:`coord_check` — the coordinate check (``mean |x|`` per layer against width, at initialization and
  after the first steps) and its verdict from fitted slopes.
* :mod:`~initlab.parametrize.transfer` — learning-rate transfer across widths, SP against μP: the
  measurement and the criteria of the ``mup-transfer`` preset (``initlab experiment mup-transfer``),
  whose section in ``initlab demo`` shows the coordinate check and the transfer curves.
"""

from __future__ import annotations

import sys
import types

from .._lazy import module_getattr

_EXPORTS = {
    "parametrize": "core", "param_groups": "core", "WidthPlan": "core", "WidthRow": "core", "SP": "core",
    "MuP": "core", "UMuP": "core", "Parametrization": "core", "PARAMETRIZATIONS": "core",
    "get_parametrization": "core",
    "remove": "hooks",
    "coord_check": "coord_check", "CoordCheckResult": "coord_check", "coord_check_verdict": "coord_check",
    "fit_slopes": "coord_check",
    "lr_transfer": "transfer", "TransferResult": "transfer", "transfer_verdict": "transfer",
    "DepthMuP": "depth", "CompleteP": "depth",
}

__all__ = sorted(_EXPORTS)


__getattr__ = module_getattr(__name__, _EXPORTS)


class _CallablePackage(types.ModuleType):
    """The package, callable as :func:`~initlab.parametrize.core.parametrize`."""

    def __call__(self, *args, **kwargs):
        from .core import parametrize

        return parametrize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
