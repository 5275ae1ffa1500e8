"""Diagnose an initialization: measure what it does to a network layer by layer (:func:`probe`),
name what is wrong and how to fix it (:func:`diagnose`), and fix it from data (:func:`lsuv`).

The functions are re-exported as ``initlab.probe``, ``initlab.diagnose`` and ``initlab.lsuv``.
"""

from .findings import KINDS, Finding, Thresholds, diagnose, scheme_for
from .lsuv import LSUV_COLUMNS, LSUVResult, lsuv
from .probe import COLUMNS, LayerRecords, probe

__all__ = ["probe", "LayerRecords", "COLUMNS", "diagnose", "Finding", "Thresholds", "KINDS",
           "scheme_for", "lsuv", "LSUVResult", "LSUV_COLUMNS"]

