"""The examples in the docstrings — which the API reference shows — run and print what they say.

Every module of the package is collected by walking it, so a new module's examples are checked without
editing this file. Examples marked ``# doctest: +SKIP`` are shown, not run.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import initlab


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(initlab.__path__, "initlab.")
                  if not m.name.endswith("__main__"))


def _import_or_skip(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:  # an optional framework's adapter without the framework
        if e.name and not e.name.startswith("initlab"):
            pytest.skip(f"{name} needs {e.name}, which is not installed")
        raise


@pytest.mark.slow
@pytest.mark.parametrize("name", ["initlab", *_modules()])
def test_docstring_examples(name):
    module = _import_or_skip(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    for test in finder.find(module, name, globs={**vars(module)}):
        if test.examples:
            runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)


def test_a_wrong_docstring_example_fails():
    def f():
        """>>> 1 + 1
        3
        """

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(f, "f", globs={}):
        runner.run(test, out=lambda s: None)
    assert runner.summarize(verbose=False).failed == 1
