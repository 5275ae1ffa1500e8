"""Lazy exports for a package: a name is imported from its submodule on first use, so that importing the
package stays cheap (torch-heavy submodules load only when asked for)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def module_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` (PEP 562) for ``package``: ``name`` resolves to the attribute ``name`` of
    the submodule ``exports[name]``, imported on first use and then kept in the package's namespace."""
    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
