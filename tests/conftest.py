"""Shared test set-up: ``tests/stats.py`` (the statistical checks written once) is importable as
``stats`` from every test folder, whatever pytest's import mode."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
