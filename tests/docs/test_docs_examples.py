"""Every example in the guides runs, so a renamed argument fails here and not in a reader's hands.

Each Markdown page under ``docs/`` is one test. Its fenced blocks run in order in one namespace, in a
fresh working directory:

* ``python`` blocks are executed; a block with ``>>>`` prompts is a doctest (ELLIPSIS and
  NORMALIZE_WHITESPACE), so the output shown on the page is the output checked;
* ``console`` blocks: every ``$ initlab ...`` line is parsed by the click application (an unknown
  option or a renamed command fails) and, unless it is one of the long commands in
  :data:`PARSE_ONLY`, run with its exit code checked;
* any other language (``text``, ``bash`` for the set-up scripts, ``console`` lines that do not start with
  ``$ initlab``, such as ``torchrun`` or ``ray start``) is shown, not run; so is a MyST
  ``{code-block} python`` directive, the form for a script that needs a cluster (``torchrun``), whose
  single-process equivalent the page then runs in a ``python`` block.

A page whose examples need an optional package says so in a MyST comment line,
``% examples-require: keras jax``: the page is skipped, with the reason, only where one of those modules
is not installed (the dev extras install every one of them, so CI runs them all).
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence) *$",
                   re.M | re.S)
# commands that take minutes (or serve forever) are parsed, not run
PARSE_ONLY = {("demo",), ("serve",), ("experiment", "!--quick"), ("sweep", "--address")}
REQUIRE = re.compile(r"^% examples-require:(?P<modules>.*)$", re.M)


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_generated" not in p.parts and "_build" not in p.parts)


def required_modules(text: str) -> list[str]:
    """The modules a page's ``% examples-require:`` lines name."""
    return [name for m in REQUIRE.finditer(text) for name in m["modules"].split()]


def code_blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, line number) for each fenced block of a Markdown page."""
    out = []
    for m in FENCE.finditer(text):
        lang = m["info"].strip().split()[0] if m["info"].strip() else ""
        body = "\n".join(line[len(m["indent"]):] for line in m["body"].splitlines())
        out.append((lang, body, text.count("\n", 0, m.start()) + 1))
    return out


def console_commands(body: str) -> list[list[str]]:
    return [shlex.split(line[2:], comments=True) for line in body.splitlines() if line.startswith("$ initlab ")]


def _parse_only(args: list[str]) -> bool:
    for rule in PARSE_ONLY:
        name, *conds = rule
        if args and args[0] == name and all(c[1:] not in args if c.startswith("!") else c in args for c in conds):
            return True
    return False


def check_command(argv: list[str]) -> None:
    """Parse ``initlab ARGS`` with the click application; run it unless it is a long command."""
    import click
    from click.testing import CliRunner

    from initlab.cli import main

    args = list(argv[1:])
    with main.make_context("initlab", [], resilient_parsing=True) as ctx:
        if args and not args[0].startswith("-"):
            cmd = main.get_command(ctx, args[0])
            assert cmd is not None, f"`{shlex.join(argv)}`: no command {args[0]!r}"
            try:
                cmd.make_context(args[0], args[1:], parent=ctx)
            except click.exceptions.Exit:  # --help, --version
                pass
    if _parse_only(list(args)):
        return
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"`{shlex.join(argv)}` exited {result.exit_code}:\n{result.output[-3000:]}"


def run_page(path: Path, workdir: Path) -> int:
    """Run every example of ``path``; returns how many blocks ran."""
    import torch

    text = path.read_text(encoding="utf-8")
    missing = [m for m in required_modules(text) if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{path.name}'s examples need {', '.join(missing)}, not installed here")
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    ran = 0
    old = Path.cwd()
    os.chdir(workdir)
    torch.manual_seed(0)
    try:
        for lang, body, line in code_blocks(text):
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{line}"
            if lang in ("python", "py", "pycon") and re.search(r"^>>> ", body, re.M):
                test = doctest.DocTestParser().get_doctest(body, namespace, where, str(path), line)
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
                out: list[str] = []
                runner.run(test, out=out.append, clear_globs=False)
                assert runner.failures == 0, f"{where}: doctest failed\n" + "".join(out)
                namespace.update(test.globs)
            elif lang in ("python", "py"):
                try:
                    exec(compile(body, where, "exec"), namespace)
                except Exception as e:  # noqa: BLE001 - re-raised with the page and line
                    raise AssertionError(f"{where}: the example raised {type(e).__name__}: {e}") from e
            elif lang == "console":
                for argv in console_commands(body):
                    check_command(argv)
            else:
                continue
            ran += 1
    finally:
        os.chdir(old)
    return ran


@pytest.mark.slow
@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_examples_run(page, tmp_path):
    ran = run_page(page, tmp_path)
    runnable = [lang for lang, body, _ in code_blocks(page.read_text(encoding="utf-8"))
                if lang in ("python", "py", "console") or (lang == "pycon" and re.search(r"^>>> ", body, re.M))]
    assert ran == len(runnable), f"{page.name}: {ran} of its {len(runnable)} examples ran"


def test_guides_have_examples():
    """A guide without a single runnable example would pass the test above vacuously."""
    empty = [str(p.relative_to(DOCS)) for p in (DOCS / "guides").glob("*.md")
             if not any(lang in ("python", "py", "pycon", "console") for lang, _, _ in code_blocks(p.read_text()))]
    assert not empty, f"guides with no runnable example: {empty}"


@pytest.mark.parametrize("text, message", [
    ("```python\nimport initlab\ninitlab.get('he_normal').distribution((4, 4), layuot='keras')\n```\n", "layuot"),
    ("```python\n>>> 1 + 1\n3\n```\n", "doctest failed"),
    ("```console\n$ initlab show he_normal --shape 4 4 --layuot keras\n```\n", "layuot"),
    ("```console\n$ initlab lisst\n```\n", "lisst"),
    ("```console\n$ initlab show no_such_scheme --shape 4 4\n```\n", "exited 1"),
], ids=["keyword", "doctest-output", "cli-option", "cli-command", "cli-exit-code"])
def test_runner_fails_a_broken_example(tmp_path, text, message):
    """The runner must fail on a wrong keyword, a wrong doctest output, an unknown option or command, and a
    command that exits non-zero."""
    page = tmp_path / "page.md"
    page.write_text(text)
    with pytest.raises(Exception, match=message):
        run_page(page, tmp_path)


def test_code_block_parser_finds_fences_and_lines():
    text = "intro\n\n```python\nx = 1\n```\n\ntext\n\n```console\n$ initlab list\n```\n"
    blocks = code_blocks(text)
    assert [(lang, line) for lang, _, line in blocks] == [("python", 3), ("console", 9)]
    assert console_commands(blocks[1][1]) == [["initlab", "list"]]
    assert _parse_only(["demo", "--budget", "quick"]) and _parse_only(["experiment", "symmetry"])
    assert not _parse_only(["experiment", "symmetry", "--quick"]) and not _parse_only(["list"])
    assert _parse_only(["sweep", "--engine", "ray", "--address", "HEAD:6379"])
    assert not _parse_only(["sweep", "--engine", "ray"])


def test_a_required_module_skips_only_where_it_is_missing(tmp_path):
    """``% examples-require:`` skips a page where a named module is not installed, and nowhere else: with
    modules that are installed, the page's broken example still fails."""
    broken = "```python\n>>> 1 + 1\n3\n```\n"
    page = tmp_path / "page.md"
    page.write_text("% examples-require: initlab.no_such_module\n\n" + broken)
    assert required_modules(page.read_text()) == ["initlab.no_such_module"]
    with pytest.raises(pytest.skip.Exception, match="initlab.no_such_module"):
        run_page(page, tmp_path)
    page.write_text("% examples-require: initlab.schemes torch\n\n" + broken)
    with pytest.raises(AssertionError, match="doctest failed"):
        run_page(page, tmp_path)


def test_a_code_block_directive_is_shown_not_run(tmp_path):
    """The form for a script that needs a cluster (torchrun): a ``{code-block} python`` directive is not run."""
    page = tmp_path / "page.md"
    page.write_text("```{code-block} python\nraise SystemExit('must not run')\n```\n\n```python\nx = 1\n```\n")
    assert run_page(page, tmp_path) == 1

