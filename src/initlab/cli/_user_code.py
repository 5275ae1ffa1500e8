"""Running a user's ``path/to/file.py`` (``initlab doctor`` and ``initlab coordcheck`` take
``file.py:factory``): the one place that executes it, so that a file that raises or calls ``sys.exit``
at import is a one-line error naming the file, never a traceback or a silent exit."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from ..errors import InitlabError

__all__ = ["run_file"]


def run_file(path: Path, module_name: str, arg: str = "MODEL") -> ModuleType:
    """Execute the existing Python file ``path`` as the module ``module_name`` and return it.

    An exception or ``sys.exit`` while it runs is an :class:`~initlab.errors.InitlabError` of one line
    (``<arg>: got '<path>', which raised …; allowed: …``); ``KeyboardInterrupt`` passes through."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        raise InitlabError(f"{arg}: got {str(path)!r}, which called sys.exit({exc.code!r}) when run; allowed: a file "
                           "that defines the factory without exiting (guard script code with "
                           "`if __name__ == \"__main__\":`)") from None
    except Exception as exc:
        raise InitlabError(f"{arg}: got {str(path)!r}, which raised {type(exc).__name__}: {exc} when run; allowed: "
                           "a file that runs without error") from exc
    return module
