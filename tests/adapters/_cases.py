"""Keras checks run in one subprocess per backend.

Keras picks its backend from ``KERAS_BACKEND`` when it is first imported, so the checks that need
Keras on the torch backend and those that need it on the JAX backend cannot share the test process.
A test module marks each check with ``@case("torch", "jax")`` and ends with
``make_tests(globals())``; pytest then gets one test per check and backend, and the first of them
to run for a backend starts ``python _cases.py BACKEND``, which imports every ``test_*.py`` module
of this folder, runs all of that backend's checks (one Keras start-up for all of them) and reports
each one's traceback or success as JSON. A check is an ordinary function with ``assert``s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKENDS = ("torch", "jax")
_REGISTRY: dict[str, list[tuple[str, object]]] = {b: [] for b in BACKENDS}
_RESULTS: dict[str, dict] = {}


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


try:
    import pytest

    needs_keras = pytest.mark.skipif(not _has("keras"), reason="initlab[keras] is not installed (keras)")
except ImportError:  # pragma: no cover - the subprocess always has pytest
    needs_keras = None


def case(*backends: str):
    """Register the decorated function as a check to run under each Keras backend named."""
    def mark(fn):
        for b in backends:
            _REGISTRY[b].append((f"{fn.__module__.rsplit('.', 1)[-1]}::{fn.__name__}", fn))
        fn.keras_backends = backends
        return fn
    return mark


def make_tests(namespace: dict) -> None:
    """Add ``test_<check>`` (parametrized by backend) to a test module for each of its checks."""
    import pytest

    for name, fn in list(namespace.items()):
        backends = getattr(fn, "keras_backends", None)
        if backends is None or not callable(fn):
            continue
        module = namespace["__name__"].rsplit(".", 1)[-1]

        def test(backend, _key=f"{module}::{name}"):
            result = results(backend)
            assert _key in result, f"{_key} did not run under the {backend} backend"
            assert result[_key] is None, f"{_key} failed under the {backend} backend:\n{result[_key]}"

        marks = getattr(fn, "pytestmark", [])
        test = pytest.mark.parametrize("backend", [pytest.param(b, marks=pytest.mark.skipif(
            b == "jax" and not _has("jax"), reason="initlab[jax] is not installed")) for b in backends])(test)
        test.pytestmark = [*getattr(test, "pytestmark", []), *marks]
        test.__name__ = f"test_{name}"
        test.__doc__ = fn.__doc__
        namespace[f"test_{name}"] = test


def expect_errors(cases, after=None) -> None:
    """Each ``(fn, text)``: ``fn()`` raises an ``InitlabError`` of one line containing ``text``;
    ``after(text)`` then runs (e.g. to check that nothing changed)."""
    from initlab import InitlabError

    for fn, match in cases:
        try:
            fn()
        except InitlabError as exc:
            assert "\n" not in str(exc) and match in str(exc), (match, str(exc))
        else:
            raise AssertionError(f"no error for {match!r}")
        if after is not None:
            after(match)


def results(backend: str) -> dict:
    """Run every check of ``backend`` in one subprocess (once per session) and return
    ``{module::check: None | traceback}``."""
    if backend not in _RESULTS:
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join(
            [str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, str(Path(__file__)), backend], capture_output=True, text=True,
                              env=env, timeout=600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise AssertionError(f"the {backend} subprocess failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n"
                                 f"{proc.stderr[-4000:]}")
        _RESULTS[backend] = json.loads(lines[-1])
    return _RESULTS[backend]


def _run(backend: str) -> dict:
    for path in sorted(HERE.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    out = {}
    for key, fn in _REGISTRY[backend]:
        start = time.perf_counter()
        try:
            fn()
            out[key] = None
        except BaseException:  # noqa: BLE001 - every failure is reported to the test that owns it
            out[key] = traceback.format_exc()
        print(f"{key}: {'ok' if out[key] is None else 'FAILED'} in {time.perf_counter() - start:.2f}s",
              file=sys.stderr)
    return out


if __name__ == "__main__":
    which = sys.argv[1]
    assert os.environ.get("KERAS_BACKEND") == which
    sys.modules["_cases"] = sys.modules["__main__"]  # the test modules register here
    print(json.dumps(_run(which)))
