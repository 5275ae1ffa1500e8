"""pytest set-up for the whole checkout: the doctests of ``src/initlab`` run with the tests
(``--doctest-modules``, see ``[tool.pytest.ini_options]`` in pyproject.toml).

A module that cannot be imported because an optional dependency is missing (an adapter for Keras,
JAX or Ray whose extra is not installed) has its doctests *skipped*, with the missing module named
in pytest's summary; every other import error still fails the run, so an example cannot rot
unseen. Modules are told apart by the import error: ``ModuleNotFoundError`` for a module outside
initlab, or initlab's own ``MissingExtraError``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

# Keras picks its backend when first imported; initlab's adapters run on torch here (as in tests/conftest.py)
os.environ.setdefault("KERAS_BACKEND", "torch")

_PACKAGE = Path(__file__).resolve().parent / "src" / "initlab"


def _module_name(path: Path) -> str | None:
    """``initlab.x.y`` for a source file of the package, else ``None``."""
    try:
        rel = path.resolve().relative_to(_PACKAGE.parent)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _missing_optional(name: str) -> str | None:
    """Why module ``name`` cannot be imported for want of an optional dependency, or ``None``."""
    from initlab.errors import MissingExtraError

    try:
        importlib.import_module(name)
    except MissingExtraError as e:
        return str(e)
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] != "initlab":
            return f"needs {e.name!r}, which is not installed (an optional extra)"
        raise
    return None


class _SkippedModule(pytest.File):
    """Stands in for the doctests of a module whose optional dependency is missing."""

    reason = ""

    def collect(self):
        pytest.skip(f"doctests of {self.path.name}: {self.reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path: Path, parent):
    outcome = yield
    if file_path.suffix != ".py" or file_path.name in ("__main__.py", "conftest.py"):
        return
    name = _module_name(file_path)
    if name is None or not parent.config.getoption("doctestmodules", False):
        return
    try:
        reason = _missing_optional(name)
    except Exception:  # a real import error: the doctest collector reports it, with its traceback
        return
    if reason:
        item = _SkippedModule.from_parent(parent, path=file_path)
        item.reason = reason
        outcome.force_result([item])
