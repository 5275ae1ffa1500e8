"""Diagnose an initialization: measure what it does to a network layer by layer (:func:`probe`),
name what is wrong and how to fix it (:func:`diagnose`), fix it from data (:func:`lsuv`), or all of
it in one call with a before/after comparison (:func:`doctor`).

The functions are re-exported as ``initlab.probe``, ``initlab.diagnose``, ``initlab.lsuv`` and
``initlab.doctor``.
"""

from .doctor import DoctorResult, FixOutcome, doctor
from .findings import CHECKS, KINDS, Finding, Thresholds, diagnose, scheme_for
from .lsuv import LSUV_COLUMNS, LSUVResult, lsuv
from .probe import COLUMNS, LayerRecords, probe

__all__ = ["probe", "LayerRecords", "COLUMNS", "diagnose", "Finding", "Thresholds", "KINDS", "CHECKS",
           "scheme_for", "lsuv", "LSUVResult", "LSUV_COLUMNS", "doctor", "DoctorResult", "FixOutcome"]

