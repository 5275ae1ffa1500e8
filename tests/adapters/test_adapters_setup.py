"""The adapters stay out of ``import initlab``; missing extras and backends are one-line errors; the
README's equivalence table says what the parity tests check (one table, ``initlab.schemes.equivalents``)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from initlab.schemes.equivalents import JAX, KERAS

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_import_initlab_imports_neither_keras_nor_jax():
    code = ("import sys, torch, initlab\n"
            "net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))\n"
            "initlab.initialize(net, seed=0); initlab.probe(net, torch.randn(5, 4)); initlab.plan(net)\n"
            "initlab.lsuv(net, torch.randn(8, 4), seed=0)\n"
            "import initlab.adapters, initlab.adapters.snippets, initlab.adapters.equivalence\n"
            "print(initlab.adapters.snippets.keras_lines('relu', 2, 8, 'he_normal') != '')\n"
            "print(sorted(m for m in ('keras', 'jax', 'flax') if m in sys.modules))\n")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "[]"]


BLOCK = ("import sys, importlib.abc\n"
         "class Block(importlib.abc.MetaPathFinder):\n"
         "    def find_spec(self, name, path=None, target=None):\n"
         "        if name.split('.')[0] == {mod!r}:\n"
         "            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)\n"
         "sys.meta_path.insert(0, Block())\n")


@pytest.mark.parametrize("module, extra", [("keras", "keras"), ("jax", "jax")])
def test_missing_extra_is_one_line_naming_it(module, extra):
    code = BLOCK.format(mod=module) + (f"try:\n    import initlab.{extra}\nexcept ImportError as e:\n"
                                       "    print(type(e).__name__, '|', e)\n")
    out = _run(code, KERAS_BACKEND="torch")
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert "\n" not in line and line.startswith("MissingExtraError |")
    assert f"pip install 'initlab[{extra}]'" in line and f"initlab.{extra}" in line


@pytest.mark.skipif(not any(Path(p, "keras").is_dir() for p in sys.path), reason="keras is not installed")
@pytest.mark.parametrize("backend, match", [
    ("tensorflow", "KERAS_BACKEND: got 'tensorflow', whose package 'tensorflow' is not installed; allowed: "),
    ("theano", "KERAS_BACKEND: got 'theano'; allowed: "),
])
def test_keras_backend_not_installed_is_one_line(backend, match):
    if backend == "tensorflow" and any(Path(p, "tensorflow").is_dir() for p in sys.path):
        pytest.skip("tensorflow is installed here")
    out = _run("import initlab.keras", KERAS_BACKEND=backend)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode != 0 and match in last and "'torch'" in last, out.stderr


# -- the README's equivalence table ------------------------------------------------------------------
def _table_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Schemes, and which call of PyTorch, Keras and JAX each one equals")
    rows = []
    for line in text[start:].splitlines():
        if line.startswith("| `"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif rows and not line.startswith("|"):
            break
    return rows


def _strip_notes(cell: str) -> str:
    """The cell without its parenthesized notes (parentheses outside backticks)."""
    out, depth, tick = [], 0, False
    for ch in cell:
        if ch == "`":
            tick = not tick
        if not tick and ch == "(":
            depth += 1
        if depth == 0:
            out.append(ch)
        if not tick and ch == ")":
            depth -= 1
    return "".join(out)


def _tokens(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", _strip_notes(cell))


def _schemes(cell: str) -> set[str]:
    return {re.match(r"[a-z_]+", t).group(0) for t in re.findall(r"`([^`]+)`", cell)}


def _matches(token: str, table, schemes: set[str]) -> bool:
    """``token`` names an entry of ``table`` whose initlab scheme is in ``schemes`` (literal
    positional arguments must equal the entry's, in the order scale, mode, distribution)."""
    node = ast.parse(token, mode="eval").body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(node.value in e.strings and e.scheme in schemes for e in table)
    if isinstance(node, ast.Name):
        return any(e.spelling == node.id and e.scheme in schemes for e in table)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), token
    literal = [a.value for a in node.args if isinstance(a, ast.Constant)]
    for e in table:
        if e.spelling != node.func.id or e.scheme not in schemes:
            continue
        if len(literal) == len(node.args) and literal:
            if list(e.kwargs.values())[:len(literal)] != literal:
                continue
        return True
    return False


@pytest.mark.parametrize("framework, column, table", [("keras", 3, KERAS), ("jax", 4, JAX)])
def test_readme_equivalence_table_is_the_tested_table(framework, column, table):
    rows = _table_rows()
    assert len(rows) >= 15 and all(len(r) == 5 for r in rows)
    by_scheme = {}
    for r in rows:
        schemes = _schemes(r[0])
        for token in _tokens(r[column]):
            assert _matches(token, table, schemes), f"README: {framework} {token!r} in the row of {sorted(schemes)} " \
                                                    "is not an equivalent the parity tests check"
        for s in schemes:
            by_scheme[s] = _tokens(r[column])
    for e in table:  # every built-in the tests check is in the README, in its scheme's row
        shown = by_scheme.get(e.scheme, [])
        names = {re.match(r"'?([A-Za-z_]+)", t).group(1) for t in shown}
        assert e.spelling in names or set(e.strings) & names, \
            f"README: {e.call()} (= initlab {e.scheme}) is missing from the {framework} column"


@pytest.mark.parametrize("framework, table", [("keras", KERAS), ("jax", JAX)])
def test_the_documentation_table_is_derived_from_the_parity_table(framework, table):
    """``initlab.schemes.equivalents.EQUIVALENTS`` (the scheme pages' table) names, for each scheme, the
    Keras and JAX calls of the parity table with that scheme — every spelling once, the call with the
    fewest arguments first — and nothing else."""
    import initlab
    from initlab.schemes.equivalents import EQUIVALENTS

    assert {e.scheme for e in table} <= {r["name"] for r in initlab.list_schemes()}
    for scheme, row in EQUIVALENTS.items():
        calls = row.keras_calls if framework == "keras" else row.jax_calls
        mine = [e for e in table if e.scheme == scheme]
        assert [c.spelling for c in calls] == list(dict.fromkeys(
            e.spelling for e in sorted(mine, key=lambda e: len(e.kwargs)))), scheme
        for c in calls:
            assert c in mine and len(c.kwargs) == min(len(e.kwargs) for e in mine if e.spelling == c.spelling)
        first = getattr(row, framework)
        assert first == (calls[0].qualified() if calls else None)
        if first is not None:
            name = re.match(r"(?:keras\.initializers\.|jax\.nn\.initializers\.)([A-Za-z_]+)", first).group(1)
            assert any(e.spelling == name and e.scheme == scheme for e in table), first
