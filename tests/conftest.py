"""Shared test set-up: ``tests/stats.py`` (the statistical checks written once) is importable as
``stats`` from every test folder, whatever pytest's import mode."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# Keras reads its backend once, at its first import: a test that imports keras in this process gets the
# torch backend (TensorFlow is not installed); the Keras checks of tests/adapters set their own in subprocesses.
import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "torch")
