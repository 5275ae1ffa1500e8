"""Errors that say what was received and what is allowed.

Every check in initlab goes through these helpers so that messages share one form:
``<argument>: got <value>; allowed: <what>`` and, for names, ``did you mean '<closest>'?``.
"""

from __future__ import annotations

import difflib
import math
from typing import Iterable

__all__ = ["InitlabError", "check_choice", "check_positive", "closest", "suggest"]


class InitlabError(ValueError):
    """A bad argument to initlab (a ``ValueError``, so existing handlers still catch it)."""


def closest(name: str, allowed: Iterable[str], n: int = 3) -> list[str]:
    """The allowed names nearest to ``name`` (case-insensitive), best first."""
    allowed = list(allowed)
    lower = {a.lower(): a for a in allowed}
    hits = difflib.get_close_matches(str(name).lower(), list(lower), n=n, cutoff=0.5)
    return [lower[h] for h in hits]


def suggest(name: str, allowed: Iterable[str]) -> str:
    hits = closest(name, allowed)
    if not hits:
        return ""
    return "; did you mean " + " or ".join(repr(h) for h in hits) + "?"


def check_choice(arg: str, value, allowed: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``allowed``, else raise with the nearest names."""
    allowed = list(allowed)
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise InitlabError(f"{arg}: got {value!r}; allowed: {', '.join(map(repr, allowed))}{suggest(str(value), allowed)}")


def check_positive(arg: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (or >= 0), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InitlabError(f"{arg}: got {value!r}; allowed: a finite number {'>= 0' if allow_zero else '> 0'}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InitlabError(f"{arg}: got {value!r}; allowed: a number {'>= 0' if allow_zero else '> 0'}")
    return float(value)


def check_finite(arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InitlabError(f"{arg}: got {value!r}; allowed: a finite number")
    return float(value)
