"""One home for each concept, checked on the source: a test here fails when someone reintroduces a
pattern that spreads a concept over several files.

* every ``raise`` of a user-facing error builds the one message form of :mod:`initlab.errors`
  (``<argument>: got <value>; allowed: <what>``) — through ``fail``/``check_*``/``os_error``, or
  written out in that form; the few exceptions that are not answers to a bad argument (internal
  signals, re-prefixed messages, a data file's contents) are listed below, each with its reason;
* no module writes its own integer check (``_check_int``-style helpers or the inline
  ``isinstance(v, bool) or not isinstance(v, int)`` test) instead of ``errors.check_int``;
* activations are described in one table (``initlab.activations.CATALOGUE``): no other module holds
  a literal table keyed by activation names;
* Gaussian expectations are computed by one rule (``initlab.quadrature``);
* a user's ``file.py:factory`` is run by one loader (``initlab.cli._user_code``).
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

import initlab
from initlab.activations import CATALOGUE

SRC = Path(initlab.__file__).parent
FILES = {p.relative_to(SRC).as_posix(): p for p in sorted(SRC.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text()) for name, path in FILES.items()}

# Calls that build the standard form (errors.fail and its wrappers for files and the CLI).
BUILDERS = {"fail", "os_error", "_fail_file", "require_extra", "_fail"}

# Raises that are not answers to a bad argument, by (file, exception): how many there are and why they
# do not use the form. The count is exact, so a new stray raise in a listed file fails the test too. A new
# user-facing error belongs in the form, not here.
NOT_THE_FORM = {
    # internal signals and protocol errors, caught inside initlab or raised by the Python protocols
    ("__init__.py", "AttributeError"): (1, "module __getattr__ protocol (lazy attributes)"),
    ("_lazy.py", "AttributeError"): (1, "module __getattr__ protocol (lazy attributes of subpackages)"),
    ("diagnostics/_rows.py", "KeyError"): (1, "mapping protocol of a record row"),
    ("experiments/config.py", "AssertionError"): (2, "unreachable branch after an exhaustive check"),
    ("theory/meanfield.py", "_NoEdge"): (3, "internal signal, turned into the form by critical_sigma_w"),
    ("theory/residual.py", "_Unsupported"): (9, "internal signal, turned into the form by predict_graph"),
    ("experiments/datasets.py", "pickle.UnpicklingError"): (1, "the restricted unpickler's refusal, caught "
                                                               "and reported as a file error"),
    ("serve/__init__.py", "RuntimeError"): (1, "the server thread failed to start: not an argument"),
    # a programming error of a preset or figure author, not of a user's input
    ("experiments/claim.py", "ValueError"): (1, "a preset's rows are inconsistent (preset author's error)"),
    ("report/demo.py", "ValueError"): (1, "a preset describes a figure kind the report lacks (preset author)"),
    ("report/figures.py", "ValueError"): (1, "a figure given rows with nothing to plot (caller's rows)"),
    # a message built from another InitlabError, already in the form, with a location put in front
    ("experiments/config.py", "InitlabError"): (1, "re-raises a scheme's own error under the config field"),
    ("experiments/live.py", "InitlabError"): (2, "re-raises a scheme's own error under the control's name"),
    ("model/plan.py", "InitlabError"): (2, "names the parameter in front of the scheme's own error"),
    ("adapters/keras_model.py", "InitlabError"): (4, "names the variable in front of the scheme's own error"),
    ("experiments/ray_engine.py", "InitlabError"): (3, "a Ray worker's error, passed on with the run it hit"),
    ("diagnostics/_sites.py", "InitlabError"): (4, "the head is the form's '<arg>: got …; allowed: ' "
                                                   "(built once in a variable), the tail what the layer takes"),
    ("errors.py", "MissingExtraError"): (1, "names the extra to install (the missing-extra form)"),
    # a data file's contents: the form for files is '<path>: <what is wrong>'
    ("experiments/datasets.py", "InitlabError"): (10, "a data file that is missing or corrupt, named with the fix"),
    ("experiments/text.py", "InitlabError"): (1, "the standard library's sources are missing on this Python"),
    # model-structure errors that name the layer and what to pass instead ('…; allowed: …')
    ("model/structure.py", "InitlabError"): (2, "names the layer and the rules= that resolves it"),
    ("parametrize/base.py", "InitlabError"): (5, "names the parameter and the base shape it needs"),
    ("parametrize/core.py", "InitlabError"): (3, "names the layer and the roles=/init= it needs"),
    ("parametrize/hooks.py", "InitlabError"): (1, "names the layer and the form= it needs"),
    ("parametrize/coord_check.py", "InitlabError"): (1, "names the width at which the user's factory failed"),
}


def _text(node) -> str | None:
    """The literal text of a message (an f-string's placeholders as ``{}``), or None if computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    return None


def _in_the_form(call: ast.expr) -> bool:
    if isinstance(call, ast.BoolOp):  # `raise check_int(...) and None`: the check raises, in the form
        return all(_in_the_form(v) or isinstance(v, ast.Constant) for v in call.values)
    if not isinstance(call, ast.Call):
        return False
    func = ast.unparse(call.func)
    if func in BUILDERS or func.startswith("check_"):
        return True
    if func == "click.ClickException":  # the CLI prints an InitlabError's text: str(exc)
        return bool(call.args) and ast.unparse(call.args[0]).startswith("str(")
    text = _text(call.args[0]) if call.args else None
    return func in ("InitlabError", "KeyError") and text is not None and ": got " in text and "; allowed" in text


def _strays() -> list[tuple[str, int, str, str]]:
    out = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc
            if isinstance(exc, (ast.Name, ast.Subscript)):  # re-raise of a caught or built error
                continue
            if isinstance(exc, ast.Attribute) or _in_the_form(exc):
                continue
            func = ast.unparse(exc.func) if isinstance(exc, ast.Call) else ast.unparse(exc)
            if func == "NotImplementedError":  # abstract method
                continue
            out.append((name, node.lineno, func, (_text(exc.args[0]) if exc.args else "") or ""))
    return out


def test_every_user_facing_raise_builds_the_one_form():
    found = _strays()
    counts = collections.Counter((name, func) for name, _, func, _ in found)
    strays = [f"{name}:{line}: raise {func}({text[:80]!r})" for name, line, func, text in found
              if counts[name, func] != NOT_THE_FORM.get((name, func), (0,))[0]]
    strays += [f"{name}: listed with {n} raise(s) of {func}, found {counts[name, func]}"
               for (name, func), (n, _) in NOT_THE_FORM.items() if counts[name, func] < n]
    assert not strays, ("errors outside the '<arg>: got <value>; allowed: <what>' form; build them with "
                        "initlab.errors.fail / check_* (or, if not a user-facing error, list it with its reason):\n"
                        + "\n".join(strays))


def test_the_scan_finds_a_stray_and_accepts_the_form():
    def scan(src: str) -> list[bool]:
        return [_in_the_form(n.exc) for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Raise)]

    assert scan("raise ValueError(f'bad depth {d}')") == [False]
    assert scan("raise InitlabError('depth must be positive')") == [False]
    assert scan("raise InitlabError(f'depth: got {d!r}; allowed: an integer >= 1')") == [True]
    assert scan("raise fail('depth', d, 'an integer >= 1')") == [True]
    assert scan("raise check_int('n', n) and None") == [True]


def _local_int_checks(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, what)`` for functions named like an integer check, and for the inline test
    ``isinstance(v, bool) … isinstance(v, int)`` (``what`` is then the name of ``v``)."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.lstrip("_") in (
                "check_int", "check_integer", "is_int", "validate_int", "as_int", "to_int"):
            hits.append((node.lineno, f"def {node.name}"))
        if isinstance(node, ast.BoolOp):
            tested = [(ast.unparse(c.args[0]), ast.unparse(c.args[1]).strip("()").split(", ")) for c in ast.walk(node)
                      if isinstance(c, ast.Call) and ast.unparse(c.func) == "isinstance" and len(c.args) == 2]
            for var, types in tested:
                if types == ["bool"] and any(v == var and ("int" in t or "numbers.Integral" in t) and "float" not in t
                                             for v, t in tested):  # an integer test, not a number test
                    hits.append((node.lineno, var))
    return sorted(set(hits))


# Inline integer tests that are not a check of one argument, by (file, the name tested): why each stays.
INT_TEST_ALLOWED = {
    ("adapters/_layout.py", "value"): "tells one axis (an int) from a sequence of axes: a branch",
    ("experiments/models.py", "s"): "every size of an input_shape, one message for the whole shape",
    ("schemes/fans.py", "s"): "every size of a tensor shape, one message for the whole shape",
    ("parametrize/base.py", "k"): "tells {width: base width} from other bases: a branch",
    ("parametrize/base.py", "v"): "every base width of a mapping, one message for the whole mapping",
    ("parametrize/core.py", "v"): "reads a module's head count if it has one: a branch, not a check",
    ("report/figures.py", "value"): "labels a legend entry by its type: a branch, not a check",
}


def test_no_module_writes_its_own_integer_check():
    found = [(name, what, line) for name, tree in TREES.items() if name != "errors.py"
             for line, what in _local_int_checks(tree)]
    stray = [f"{name}:{line}: {what}" for name, what, line in found if (name, what) not in INT_TEST_ALLOWED]
    assert not stray, f"use initlab.errors.check_int instead of a local integer check: {stray}"
    assert _local_int_checks(ast.parse("def _check_int(v):\n    return v")) == [(1, "def _check_int")]
    assert _local_int_checks(ast.parse("bad = isinstance(n, bool) or not isinstance(n, int) or n < 1")) == [(1, "n")]
    assert _local_int_checks(ast.parse("ok = isinstance(n, bool) or isinstance(m, int)")) == []


def _names_in(d: ast.Dict) -> set[str]:
    return {k.value for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


# A claim's own settings, quoted from its source, keyed by the activations it compares (not a description
# of the activations: what each one is, its gain and scheme, stay in the catalogue).
TABLES_ALLOWED = {
    "experiments/claims/activation_guide.py": "the cells (depth, optimizer, lr grid) the claim judges each "
                                              "activation in, and the source's rule of thumb quoted beside ours",
    "experiments/claims/exploding.py": "the reference scheme the claim's source pairs with each activation",
}


def test_activations_are_described_in_one_table():
    """No module but the catalogue holds a literal dict keyed by three or more activation names."""
    names = {s.lower() for row in CATALOGUE for s in (row.name, *row.aliases) if isinstance(s, str)}
    assert {"relu", "tanh", "gelu"} <= names
    tables = []
    for name, tree in TREES.items():
        if name == "activations.py" or name in TABLES_ALLOWED:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and len(_names_in(node) & names) >= 3:
                tables.append(f"{name}:{node.lineno}: {sorted(_names_in(node) & names)[:6]}")
    assert not tables, "a table of activations outside initlab/activations.py (add a column to CATALOGUE):\n" + \
        "\n".join(tables)


def test_one_gaussian_quadrature():
    """Quadrature nodes and weights are made in one module; gains and theory read it."""
    makers = ("leggauss", "hermgauss", "roots_hermite", "roots_legendre", "simpson", "simps", "trapezoid", "trapz")
    found = [f"{name}:{node.lineno}" for name, tree in TREES.items() if name != "quadrature.py"
             for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in makers]
    assert not found, f"Gaussian quadrature outside initlab/quadrature.py: {found}"
    for reader in ("schemes/gains.py", "theory/meanfield.py"):
        assert "quadrature" in FILES[reader].read_text(), reader


def test_one_loader_runs_a_users_file():
    """``exec_module`` of a user's file happens in one place, which turns sys.exit and errors into one line."""
    found = sorted(name for name, tree in TREES.items()
                   for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "exec_module")
    assert found == ["cli/_user_code.py"], found


def _imported_modules(tree: ast.AST, package: str) -> set[str]:
    """Absolute names of everything ``tree`` (a module of ``initlab.<package>``) imports, at any depth."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "initlab." + package if node.level == 1 else "initlab" if node.level == 2 else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return out


def test_the_report_only_renders():
    """``report/`` draws result rows: it imports neither torch nor anything that builds, initializes,
    probes or trains a model (the demo asks ``experiments.suite`` for the rows and renders them)."""
    builders = ("torch", "initlab.model", "initlab.diagnostics", "initlab.parametrize", "initlab.experiments.trainer",
                "initlab.experiments.batched", "initlab.experiments.models", "initlab.experiments.live")
    for name, tree in TREES.items():
        if name.startswith("report/"):
            bad = sorted(m for m in _imported_modules(tree, "report") if m.startswith(builders))
            assert not bad, f"{name} imports {bad}: the report renders rows, it does not compute them"
    assert "initlab.experiments.trainer" in _imported_modules(ast.parse("from ..experiments import trainer"), "report")


def test_diagnose_runs_the_checks_table(monkeypatch):
    """A finding is one row of ``findings.CHECKS``: a row added there is run by ``diagnose`` with no other edit."""
    import torch
    import torch.nn as nn

    from initlab.diagnostics import findings

    calls = []

    def always(view, th):
        calls.append(len(view.weights))
        return findings.Finding("dead", ("0",), {"probe": 1.0}, None, "a finding from an added row")

    torch.manual_seed(0)
    records = initlab.probe(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), torch.randn(16, 4))
    assert [f.kind for f in initlab.diagnose(records)] == ["healthy"]
    monkeypatch.setattr(findings, "CHECKS", (*findings.CHECKS, findings.Check("dead", always)))
    found = initlab.diagnose(records)
    assert calls == [2] and [f.message for f in found] == ["a finding from an added row"]
