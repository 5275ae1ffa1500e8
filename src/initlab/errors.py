"""Errors that say what was received and what is allowed.

Every user-facing check in initlab goes through these helpers so that messages share one form::

    <argument>: got <value>; allowed: <what>[; did you mean '<closest>'?]

:func:`fail` builds that error; the ``check_*`` functions validate one argument each and return
it normalised (an ``int``, a ``float``, a lower-cased name). A check that fits none of them builds
its message with :func:`fail` rather than writing the form out again.

>>> check_int("depth", 3, minimum=1)
3
>>> check_int("depth", 2.5, minimum=1)
Traceback (most recent call last):
    ...
initlab.errors.InitlabError: depth: got 2.5; allowed: an integer >= 1
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Iterable

__all__ = ["InitlabError", "MissingExtraError", "fail", "check_choice", "check_positive", "check_finite",
           "check_int", "check_number", "check_bool", "check_exclusive", "check_type", "require_extra",
           "closest", "suggest"]


class InitlabError(ValueError):
    """A bad argument to initlab (a ``ValueError``, so existing handlers still catch it)."""


class MissingExtraError(InitlabError, ImportError):
    """An optional extra (``initlab[keras]``, ``[jax]``, ``[ray]`` …) is needed but not installed."""


def fail(arg: str, value: Any, allowed: str, *, hint: str = "") -> InitlabError:
    """The standard error for ``arg`` (``<arg>: got <value!r>; allowed: <allowed>``), to ``raise``.

    ``hint`` is appended as is (for example :func:`suggest`'s ``"; did you mean …?"``)."""
    return InitlabError(f"{arg}: got {value!r}; allowed: {allowed}{hint}")


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
    raise fail(arg, value, ", ".join(map(repr, allowed)), hint=suggest(str(value), allowed))


def _is_real(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_positive(arg: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number > 0 (or >= 0), else raise."""
    if not _is_real(value):
        raise fail(arg, value, f"a finite number {'>= 0' if allow_zero else '> 0'}")
    if value < 0 or (value == 0 and not allow_zero):
        raise fail(arg, value, f"a number {'>= 0' if allow_zero else '> 0'}")
    return float(value)


def check_finite(arg: str, value) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool), else raise."""
    if not _is_real(value):
        raise fail(arg, value, "a finite number")
    return float(value)


def _range_text(kind: str, minimum, maximum, *, open_min: bool = False, open_max: bool = False) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if open_min else '>='} {minimum:g}" if isinstance(minimum, float) else
                     f"{'>' if open_min else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if open_max else '<='} {maximum:g}" if isinstance(maximum, float) else
                     f"{'<' if open_max else '<='} {maximum}")
    return f"{kind} {' and '.join(parts)}" if parts else kind


def check_int(arg: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a bool, not a float such as 2.0 or 2.5, not a string)
    within ``[minimum, maximum]``, else raise. NumPy integers are accepted and returned as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy is a dependency
            np = None
        if np is None or not isinstance(value, np.integer):
            raise fail(arg, value, _range_text("an integer", minimum, maximum))
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise fail(arg, value, _range_text("an integer", minimum, maximum))
    return value


def check_number(arg: str, value, *, minimum: float | None = None, maximum: float | None = None,
                 open_min: bool = False, open_max: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number within the given bounds (closed
    unless ``open_min``/``open_max``), else raise. NaN and infinities are always rejected."""
    allowed = _range_text("a finite number", minimum, maximum, open_min=open_min, open_max=open_max)
    if not _is_real(value):
        raise fail(arg, value, allowed)
    v = float(value)
    if minimum is not None and (v < minimum or (open_min and v == minimum)):
        raise fail(arg, value, allowed)
    if maximum is not None and (v > maximum or (open_max and v == maximum)):
        raise fail(arg, value, allowed)
    return v


def check_bool(arg: str, value) -> bool:
    """Return ``value`` if it is ``True`` or ``False``, else raise."""
    if not isinstance(value, bool):
        raise fail(arg, value, "True or False")
    return value


def check_type(arg: str, value, types: type | tuple[type, ...], allowed: str):
    """Return ``value`` if it is an instance of ``types``, else raise naming the type received."""
    if not isinstance(value, types):
        raise InitlabError(f"{arg}: got {type(value).__name__} {_short(value)}; allowed: {allowed}")
    return value


def check_exclusive(**given) -> None:
    """Raise unless at most one of the keyword arguments is not None:
    ``check_exclusive(generator=g, seed=s)``."""
    named = [k for k, v in given.items() if v is not None]
    if len(named) > 1:
        raise InitlabError(f"{' and '.join(named)}: got both; allowed: at most one of "
                           f"{', '.join(k + '=' for k in given)}")


def require_extra(module: str, extra: str, *, feature: str | None = None):
    """Import and return the optional dependency ``module``, or raise a one-line
    :class:`MissingExtraError` naming the extra that installs it:
    ``require_extra("keras", "keras")`` → ``pip install 'initlab[keras]'``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or f"initlab[{extra}]"
        raise MissingExtraError(f"{what} needs {module!r}, which is not installed ({exc.msg if hasattr(exc, 'msg') else exc}); "
                                f"install it with: pip install 'initlab[{extra}]'") from None


def _short(value, limit: int = 60) -> str:
    text = " ".join(repr(value).split())  # one line: a module's repr spans several
    return text if len(text) <= limit else text[:limit - 1] + "…"
