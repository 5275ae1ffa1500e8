"""The docstrings' examples run with the tests: pytest collects ``src/initlab`` with ``--doctest-modules``,
and the root ``conftest.py`` skips (by name) only the modules whose optional dependency is missing."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _root_conftest():
    spec = importlib.util.spec_from_file_location("initlab_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pytest_runs_the_package_doctests(pytestconfig):
    assert "src/initlab" in pytestconfig.getini("testpaths")
    assert "--doctest-modules" in pytestconfig.getini("addopts")


def test_module_names_of_package_files():
    conf = _root_conftest()
    src = ROOT / "src" / "initlab"
    assert conf._module_name(src / "schemes" / "engine.py") == "initlab.schemes.engine"
    assert conf._module_name(src / "schemes" / "__init__.py") == "initlab.schemes"
    assert conf._module_name(ROOT / "tests" / "stats.py") is None


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Write throw-away modules into a directory on sys.path."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, body: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write


def test_a_missing_optional_dependency_is_a_named_skip(modules):
    conf = _root_conftest()
    name = modules("probe_adapter", "import not_an_installed_framework_xyz\n")
    assert "'not_an_installed_framework_xyz'" in conf._missing_optional(name)
    name = modules("probe_extra", """
        from initlab.errors import require_extra
        require_extra("not_an_installed_framework_xyz", "keras")
    """)
    assert "pip install 'initlab[keras]'" in conf._missing_optional(name)
    assert conf._missing_optional("initlab.schemes.engine") is None


def test_a_broken_initlab_import_is_not_skipped(modules):
    conf = _root_conftest()
    name = modules("probe_broken", "from initlab import module_that_does_not_exist\n")
    with pytest.raises(ImportError):
        conf._missing_optional(name)
    name = modules("probe_error", "raise RuntimeError('broken at import')\n")
    with pytest.raises(RuntimeError):
        conf._missing_optional(name)
