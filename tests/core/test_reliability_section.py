"""The README's "Reliability" section names the tests behind each guarantee: every file and test it
names exists, so the section cannot point at a test that was renamed or removed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Reliability\n")
    return text[start:text.index("\n## ", start + 1)]


def _references(section: str) -> list[tuple[str, str | None]]:
    """``(file, test or None)`` for each `tests/….py[::name]` and each `::name` (of the file named last)."""
    out, last = [], None
    for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", section):
        if not path and not name:
            continue
        last = path or last
        out.append((last, name or None))
    return out


def _tests_in(path: Path) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}


def test_every_test_the_reliability_section_names_exists():
    refs = _references(_section())
    assert len(refs) >= 20
    missing = [f"{f}::{n}" if n else f for f, n in refs
               if not (ROOT / f).is_file() or (n is not None and n not in _tests_in(ROOT / f))]
    assert not missing, f"README Reliability names tests that do not exist: {missing}"


def test_the_reference_reader_finds_a_renamed_test():
    refs = _references("`tests/core/test_reliability_section.py::no_such_test` and `::test_the_reference_reader_finds_a_renamed_test`")
    assert refs == [("tests/core/test_reliability_section.py", "no_such_test"),
                    ("tests/core/test_reliability_section.py", "test_the_reference_reader_finds_a_renamed_test")]
    assert "no_such_test" not in _tests_in(ROOT / refs[0][0])
