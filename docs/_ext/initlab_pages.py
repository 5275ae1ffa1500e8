"""Pages generated from initlab's code at build time, so that they cannot drift from it.

At ``builder-inited`` this writes reStructuredText under ``docs/_generated/`` (gitignored):

* ``schemes/<name>.rst``: one page per registry scheme — its docstring, formula, parameters and
  defaults, source, aliases, the PyTorch / Keras / JAX call it equals
  (:data:`initlab.schemes.equivalents.EQUIVALENTS`), the law for one shape
  (``Initializer.distribution``) and a histogram of values drawn by initlab at build time;
* ``cli.rst``: every command's own ``--help``, from the click application;
* ``api/<module>.rst``: autodoc of every public subpackage of initlab (found by walking the
  package, so a new subpackage gets its page without editing this file);
* ``activations.rst``: the activation catalogue, each row computed by the library
  (the scheme ``initialize(scheme="auto")`` picks, gains, the edge of chaos);
* ``claims.rst``: every claim preset with its setting, criteria and budgets.

Files are rewritten only when their content changed, so incremental builds stay incremental.
"""

from __future__ import annotations

import importlib
import inspect
import io
import math
import pkgutil
import re
import textwrap
from pathlib import Path

GENERATED = "_generated"
EXAMPLE_SHAPE = (256, 784)
EXAMPLE_CONV_SHAPE = (64, 64, 3, 3)
HIST_SEED = 0
# submodules documented elsewhere or not public
API_SKIP = {"cli", "__main__"}
# ``literal`` and :role:`target` spans of reST, kept as written when prose is escaped
_LITERAL_OR_ROLE = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`)")


# --------------------------------------------------------------------------- reST helpers

def _title(text: str, ch: str = "=") -> str:
    return f"{text}\n{ch * max(len(text), 3)}\n"


def _lit(x) -> str:
    s = str(x)
    return f"``{s}``" if s else "(empty)"


def _list_table(header: list[str], rows: list[list[str]], widths: list[int] | None = None) -> str:
    out = [".. list-table::", "   :header-rows: 1"]
    if widths:
        out.append("   :widths: " + " ".join(map(str, widths)))
    out.append("")
    for row in [header, *rows]:
        for i, cell in enumerate(row):
            lines = str(cell).splitlines() or [""]
            out.append(("   * - " if i == 0 else "     - ") + lines[0])
            out += ["       " + ln for ln in lines[1:]]
    return "\n".join(out) + "\n"


def _doc(obj) -> str:
    return inspect.getdoc(obj) or ""


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return repr(v) if isinstance(v, str) else str(v)


# --------------------------------------------------------------------------- schemes

def _example_shape(cls) -> tuple[int, ...]:
    return EXAMPLE_CONV_SHAPE if getattr(cls, "min_ndim", 0) >= 3 else EXAMPLE_SHAPE


def _density(dist, x):
    """The law's density at ``x`` for the families that have one, else None."""
    import numpy as np

    p = dict(dist.params)
    if dist.family == "normal":
        m, s = p["mean"], p["std"]
        return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    if dist.family == "uniform":
        lo, hi = p["low"], p["high"]
        return np.where((x >= lo) & (x <= hi), 1.0 / (hi - lo), 0.0)
    if dist.family == "truncated_normal":
        loc, scale, a, b = p["loc"], p["scale"], p["a"], p["b"]
        z = 0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2)))
        u = (x - loc) / scale
        return np.where((u >= a) & (u <= b), np.exp(-0.5 * u * u) / (math.sqrt(2 * math.pi) * scale * z), 0.0)
    return None


def _histogram_png(name: str, init, shape) -> tuple[bytes, int]:
    """Draw ``shape`` values with initlab (seed 0) and plot their histogram beside the law's density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    values = init(torch.empty(shape), seed=HIST_SEED).flatten().double().numpy()
    dist = init.distribution(shape)
    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=100)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:  # a constant: one bar
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 81)
    ax.hist(values, bins=bins, density=True, color="#4c72b0", alpha=0.75, label=f"{values.size:,} values drawn")
    x = np.linspace(lo, hi, 801)
    dens = _density(dist, x)
    if dens is not None:
        ax.plot(x, dens, color="#c44e52", lw=1.6, label=f"{dist.family} density")
    ax.set_xlabel("value")
    ax.set_ylabel("density")
    ax.set_title(f"{name} on shape {tuple(shape)} (seed {HIST_SEED})", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue(), values.size


def _framework_calls(eq, framework: str) -> list[str]:
    """The ``framework`` calls that draw the law of a scheme (its row ``eq`` of
    ``initlab.schemes.equivalents``, whose Keras and JAX calls the parity tests check): one per spelling,
    the call with the fewest arguments first, with initlab's parameters where they are not the call's."""
    return [c.describe() for c in (eq.keras_calls if framework == "keras" else eq.jax_calls)]


def _scheme_page(row: dict, cls, eq) -> tuple[str, bytes]:
    import initlab

    name = row["name"]
    shape = _example_shape(cls)
    init = initlab.get(name)
    png, n = _histogram_png(name, init, shape)
    dist = init.distribution(shape)
    params = row["params"]
    ctor = f"initlab.{name}(" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")"
    parts = [f".. _scheme-{name}:\n", _title(name), _doc(cls), ""]
    fields = [
        (":Formula:", _lit(row["formula"])),
        (":Source:", row["source"] if row["source"] not in ("", "—") else "— (a plain law, no paper)"),
        (":Aliases:", ", ".join(_lit(a) for a in row["aliases"]) or "—"),
        (":Constructor:", _lit(ctor)),
        (":Class:", f":class:`initlab.{row['class']} <initlab.schemes.registry.{row['class']}>`"),
    ]
    parts += [f"{k} {v}" for k, v in fields] + [""]
    parts.append(_title("Parameters and defaults", "-"))
    if params:
        parts.append(_list_table(["parameter", "default"], [[_lit(k), _lit(repr(v))] for k, v in params.items()]))
    else:
        parts.append("None: the scheme has no parameter.\n")
    parts.append("Every scheme also takes ``seed=`` (see :doc:`/guides/concepts`).\n")
    parts.append(_title("The same law in PyTorch, Keras and JAX", "-"))
    torch_cell = "—"
    if eq.torch:
        torch_cell = _lit(eq.torch) + (" — the same values from the same ``torch.Generator``" if eq.torch_same_values
                                       else " — the same law, drawn by another algorithm")
    keras = "\n\n".join(_lit(c) for c in _framework_calls(eq, "keras")) or "—"
    jax = "\n\n".join(_lit(c) for c in _framework_calls(eq, "jax")) or "—"
    parts.append(_list_table(["library", "call"], [["PyTorch", torch_cell], ["Keras", keras], ["JAX", jax]], [1, 5]))
    if eq.note:
        parts.append(eq.note + "\n")
    parts.append(_title("The law for one shape", "-"))
    parts.append(f"For a weight of shape ``{shape}`` in torch layout, as ``initlab show {name} --shape "
                 f"{' '.join(map(str, shape))}`` prints it; nothing is sampled to compute it:\n")
    rows = [["family", _lit(dist.family)]]
    rows += [[f"parameter {k}", _lit(_fmt(v))] for k, v in dist.params.items() if k not in ("mean", "std")]
    if dist.fans is not None:
        rows += [["fan_in", _lit(dist.fans.fan_in)], ["fan_out", _lit(dist.fans.fan_out)]]
    rows += [["mean", _lit(_fmt(dist.mean))], ["std", _lit(_fmt(dist.std))], ["variance", _lit(_fmt(dist.variance))]]
    if dist.low is not None:
        rows.append(["bounds", _lit(f"[{_fmt(dist.low)}, {_fmt(dist.high)}]")])
    parts.append(_list_table(["quantity", "value"], rows, [2, 3]))
    parts.append(f".. figure:: img/{name}.png\n   :alt: histogram of {name}\n\n"
                 f"   {n:,} values drawn when this page was built, by ``initlab.get({name!r})(torch.empty{shape}, "
                 f"seed={HIST_SEED})``" + (", beside the law's density." if _density(dist, dist.mean) is not None
                                           else ".") + "\n")
    parts.append(_title("Example", "-"))
    parts.append(".. code-block:: python\n\n   import torch, initlab\n\n"
                 f"   init = initlab.get({name!r})\n"
                 f"   print(init.distribution({shape}).describe())   # the law, nothing sampled\n"
                 f"   w = init(torch.empty{shape}, seed=0)              # filled in place, reproducible\n")
    return "\n".join(parts), png


def scheme_pages() -> tuple[dict[str, str], dict[str, bytes]]:
    from initlab.schemes.equivalents import EQUIVALENTS
    from initlab.schemes.registry import list_schemes, scheme_class

    pages, images = {}, {}
    rows = list_schemes()
    missing = [r["name"] for r in rows if r["name"] not in EQUIVALENTS]
    if missing:
        raise RuntimeError(f"initlab.schemes.equivalents has no row for {missing}")
    index = [_title("Schemes"),
             "One page per scheme of initlab's registry (``initlab list``), generated from the code when the site is "
             "built: formula, parameters and defaults, source, aliases, the PyTorch / Keras / JAX call with the same "
             "law, and a histogram of values drawn by initlab.\n",
             "``gain`` multiplies the **std** (PyTorch); Keras's and JAX's ``scale`` multiplies the **variance** "
             "(``scale = gain²``). initlab's ``*_normal`` are the untruncated textbook laws; the ``*_truncated_normal`` "
             "schemes are what Keras's ``HeNormal``, ``GlorotNormal`` and ``LecunNormal`` draw.\n",
             ".. toctree::\n   :hidden:\n\n" + "\n".join(f"   {r['name']}" for r in rows) + "\n"]
    table = []
    for r in rows:
        cls = scheme_class(r["name"])
        eq = EQUIVALENTS[r["name"]]
        text, png = _scheme_page(r, cls, eq)
        pages[f"schemes/{r['name']}.rst"] = text
        images[f"schemes/img/{r['name']}.png"] = png
        table.append([f":doc:`{r['name']}`", _lit(r["formula"]), r["source"], _lit(eq.torch) if eq.torch else "—",
                      "\n\n".join(_lit(c) for c in _framework_calls(eq, "keras")) or "—",
                      "\n\n".join(_lit(c) for c in _framework_calls(eq, "jax")) or "—"])
    index.append(_list_table(["scheme", "law", "source", "PyTorch", "Keras", "JAX"], table))
    pages["schemes/index.rst"] = "\n".join(index)
    return pages, images


# --------------------------------------------------------------------------- CLI

def _help_text(cmd, name: str, parent=None) -> str:
    import click

    ctx = click.Context(cmd, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
    return ctx, cmd.get_help(ctx)


def cli_page() -> str:
    from initlab.cli import main

    parts = [_title("Command line"),
             "Generated from the commands' own ``--help`` when the site is built. ``python -m initlab ...`` runs the "
             "same program. Every command exits with a one-line message, not a traceback, on bad input.\n"]
    root_ctx, root_help = _help_text(main, "initlab")
    parts += [_title("initlab", "-"), ".. code-block:: text\n", textwrap.indent(root_help, "   "), ""]
    for name in main.list_commands(root_ctx):
        cmd = main.get_command(root_ctx, name)
        _, text = _help_text(cmd, name, root_ctx)
        parts += [f".. _cli-{name}:\n", _title(f"initlab {name}", "-"), ".. code-block:: text\n",
                  textwrap.indent(text, "   "), ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- API

def _public_submodules() -> list[str]:
    import initlab

    return sorted(m.name for m in pkgutil.iter_modules(initlab.__path__)
                  if not m.name.startswith("_") and m.name not in API_SKIP)


def _missing_extra(modname: str) -> str | None:
    """None when ``modname`` imports; else the reason (an optional framework that is not installed)."""
    from initlab.errors import InitlabError

    try:
        importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name and not e.name.startswith("initlab"):
            return f"it needs ``{e.name}``, which is not installed where this site was built"
        raise
    except InitlabError as e:
        return str(e)
    return None


def _scheme_names() -> set[str]:
    from initlab.schemes.registry import SCHEMES

    return {c.name for c in SCHEMES} | {c.__name__ for c in SCHEMES}


def _submodules(package: str) -> list[str]:
    """The public modules directly inside ``package`` (names without a leading underscore), sorted."""
    pkg = importlib.import_module(package)
    if not hasattr(pkg, "__path__"):
        return []
    return sorted(f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def _module_names(mod) -> list[str]:
    """What a module offers: its ``__all__``, else the public classes and functions it defines itself."""
    if hasattr(mod, "__all__"):
        return list(dict.fromkeys(mod.__all__))
    return [n for n, obj in vars(mod).items()
            if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", None) == mod.__name__]


_ROLE = {"class": "class", "function": "func"}


def _module_page(full: str, documented: dict[int, str], extra: list[str] = ()) -> str:
    """One module's page: its docstring, then every class, function and value it offers that no page before
    it documents (those are linked instead, so an object has one description and one anchor), then a toctree
    of its own public submodules."""
    reason = _missing_extra(full)
    if reason:
        return (_title(full) + f"\nThis module's reference is not on this build: {reason}. "
                "Install initlab with the extra it names and build the site again.\n")
    mod = importlib.import_module(full)
    names = _module_names(mod)
    registry = importlib.import_module("initlab.schemes.registry")
    names = list(dict.fromkeys([*names, *extra]))  # a name listed twice (a class and its constructor alike) once
    body = [_title(full), f".. automodule:: {full}", "   :no-members:", ""]
    elsewhere = []
    for n in names:
        owner = full if hasattr(mod, n) else registry.__name__
        obj = getattr(mod, n) if hasattr(mod, n) else getattr(registry, n)
        kind = _kind(obj)
        if kind is None:
            continue
        if kind in _ROLE and id(obj) in documented and n not in extra:
            elsewhere.append(f":{_ROLE[kind]}:`~{documented[id(obj)]}`")
            continue
        if kind in _ROLE:
            documented[id(obj)] = f"{owner}.{n}"
        body.append(_member(owner, n, obj))
    if elsewhere:
        body.append("Also here, documented where they are first listed: " + ", ".join(elsewhere) + ".\n")
    children = _submodules(full)
    if children:
        body.append(".. toctree::\n   :maxdepth: 1\n   :caption: Modules\n\n" + "".join(f"   {c}\n" for c in children))
    return "\n".join(body)


def api_pages() -> dict[str, str]:
    """The API reference: the names ``import initlab`` gives, then every public subpackage and, under each,
    every public module it holds (found by walking the package), each object described once."""
    import initlab

    top = [n for n in dict.fromkeys(initlab.__all__) if n not in _scheme_names()]
    pages = {}
    mods = [f"initlab.{m}" for m in _public_submodules()]
    index = [_title("API reference"),
             "Generated from the docstrings when the site is built: the names ``import initlab`` gives, then each "
             "public subpackage with the modules inside it. Every scheme also has its own page under "
             ":doc:`/_generated/schemes/index`; the scheme classes (``initlab.HeNormal`` …) and their snake_case "
             "constructors (``initlab.he_normal()`` …) are documented with :mod:`initlab.schemes`.\n",
             ".. toctree::\n   :maxdepth: 1\n\n   initlab\n" + "".join(f"   {m}\n" for m in mods)]
    pages["api/index.rst"] = "\n".join(index)
    documented: dict[int, str] = {}
    members = []
    for n in top:
        obj = getattr(initlab, n)
        if _kind(obj) is not None:
            members.append(_member("initlab", n, obj))
            if _kind(obj) in _ROLE:
                documented[id(obj)] = f"initlab.{n}"
    pages["api/initlab.rst"] = "\n".join([_title("initlab"), ".. automodule:: initlab", "   :no-members:", "",
                                          *members])
    # the scheme classes and constructors live in the registry; they are documented with initlab.schemes
    scheme_extra = [n for n in importlib.import_module("initlab.schemes.registry").__all__ if n in _scheme_names()]
    queue = list(mods)
    while queue:  # breadth first: a package's page before its modules', so re-exports link to the package
        full = queue.pop(0)
        pages[f"api/{full}.rst"] = _module_page(full, documented, scheme_extra if full == "initlab.schemes" else [])
        if _missing_extra(full) is None:
            queue += _submodules(full)
    return pages


def _attr_doc(name: str) -> str | None:
    """The documentation string written under a module-level assignment ``name = ...`` in initlab."""
    import initlab
    from sphinx.pycode import ModuleAnalyzer

    mods = ["initlab"] + [m.name for m in pkgutil.walk_packages(initlab.__path__, "initlab.")]
    for mod in mods:
        try:
            docs = ModuleAnalyzer.for_module(mod).find_attr_docs()
        except Exception:  # noqa: BLE001 - a module without source: nothing to find there
            continue
        if ("", name) in docs:
            return "\n".join(docs[("", name)]).strip()
    return None


def _member(module: str, name: str, obj) -> str:
    """An autodoc directive for a function or class; a plain py:data entry for a value (autodata would show
    the docstring of the value's type, e.g. ``dict``'s, when the assignment has none)."""
    kind = _kind(obj)
    if kind != "data":
        return f".. auto{kind}:: {module}.{name}\n"
    doc = _attr_doc(name) or f"A ``{type(obj).__name__}``; see the module's description."
    return f".. py:data:: {module}.{name}\n   :type: {type(obj).__name__}\n\n" + textwrap.indent(doc, "   ") + "\n"


def _kind(obj) -> str | None:
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    if inspect.ismodule(obj):
        return None
    return "data"


# --------------------------------------------------------------------------- activations

def _catalogue():
    """initlab's one activation catalogue, as (name, module names, functional spellings, auto, recommend,
    reason, theory) rows: ``initlab.activations.CATALOGUE`` where it exists, else the table of activation
    modules in ``initlab.model.activations`` with ``auto`` found by planning a layer followed by the module."""
    try:
        from initlab.activations import CATALOGUE
    except ImportError:
        CATALOGUE = None
    if CATALOGUE is not None:
        return [(r.name, [f"nn.{m}" for m in r.modules], list(r.functions), r.auto, r.recommend, r.reason, r.theory)
                for r in CATALOGUE]
    import torch.nn as nn

    import initlab
    from initlab.diagnostics import scheme_for
    from initlab.model.activations import ACTIVATION_MODULES

    rows = []
    for cls, name in ACTIVATION_MODULES:
        auto = initlab.plan(nn.Sequential(nn.Linear(4, 4), cls()), "auto")["0.weight"].scheme
        rows.append((name, [f"nn.{cls.__name__}"], [], auto, scheme_for(name), "", True))
    return rows


def activations_page() -> str:
    import initlab
    from initlab.errors import InitlabError
    from initlab.theory import critical_sigma_w

    def attempt(fn):
        try:
            return fn()
        except (InitlabError, KeyError, ValueError, TypeError):
            return None

    rows, reasons = [], []
    for name, modules, functions, auto, recommend, reason, theory in _catalogue():
        gain = attempt(lambda: initlab.calculate_gain(name))
        mgain = attempt(lambda: initlab.moment_gain(name))
        crit = attempt(lambda: critical_sigma_w(name) ** 2) if theory else None
        spelled = "\n\n".join(_lit(m) for m in modules + functions)
        rows.append([f"**{name}**" + (f"\n\n{spelled}" if spelled else ""), _lit(auto or "—"),
                     _lit(recommend or "—") + (f" [{len(reasons) + 1}]" if reason else ""),
                     _lit(f"{gain:.5g}") if gain is not None else "—",
                     _lit(f"{mgain:.5g}") if mgain is not None else "—",
                     _lit(f"{crit:.5g}") if crit is not None else "—"])
        if reason:
            reasons.append(f"[{len(reasons) + 1}] {_prose(reason)}")
    return "\n".join([
        _title("Activations"),
        "Every elementwise activation initlab recognises, one row each, read from initlab's activation catalogue "
        "and computed by the library when this page was built. *auto* is the scheme "
        "``initialize(model, \"auto\")`` gives a layer the activation follows; *findings' fix* is what "
        "``initlab.diagnose`` recommends for it (``lsuv`` where no closed-form rule keeps the variance); the table "
        "gain is ``initlab.calculate_gain`` (PyTorch's table, where it has the activation); the moment gain is "
        "``initlab.moment_gain``, 1/√E[φ(z)²] for z ~ N(0, 1); σ_w² critical is the edge of chaos at σ_b = 0 "
        "(``initlab.theory.critical_sigma_w``, where χ₁ = 1).\n",
        _list_table(["activation", "auto", "findings' fix", "table gain", "moment gain", "σ_w² critical"], rows),
        *(["Where the two schemes differ:\n", *[f"- {r}" for r in reasons], ""] if reasons else []),
    ])


# --------------------------------------------------------------------------- claims

def _prose(text: str) -> str:
    """A preset's description as reST: ``literals`` and :roles:`...` kept, while ``|x|`` and a lone ``*`` in
    the prose (absolute values, products) are escaped rather than read as substitutions or emphasis."""
    out = []
    for i, part in enumerate(_LITERAL_OR_ROLE.split(text)):
        if i % 2 == 0:
            part = part.replace("|", "\\|")
            part = re.sub(r"(?<!\*)\*(?!\*)", r"\\*", part)
        out.append(part)
    return "".join(out)


def _without_examples(text: str) -> str:
    """A docstring without its doctest examples (``>>>`` lines and the output under them)."""
    out, in_example = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(">>>"):
            in_example = True
        elif in_example and not line.strip():
            in_example = False
        elif not in_example:
            out.append(line)
    return "\n".join(out).strip()


def _rest(text: str) -> str:
    """A docstring written as reStructuredText (lists, emphasis kept), with its ``|x|`` escaped."""
    lines = text.splitlines()
    escape_bars(lines)
    return "\n".join(lines)


def claims_page() -> str:
    """Every preset of :data:`~initlab.experiments.presets.PRESETS`: the claim, for a learner, its source and
    the source's own numbers, its setting (``measure``'s description and the budgets), its criteria
    (``judge``'s description) and how its verdict is decided; the rules of verdicts from
    :mod:`initlab.experiments.verdict` and :class:`~initlab.experiments.presets.PresetResult`."""
    from initlab.experiments import verdict as verdict_module
    from initlab.experiments.presets import PRESETS, PresetResult

    parts = [_title("Claims"),
             "Every claim ``initlab demo`` reproduces, generated from the presets when this page was built: the "
             "claim and why it matters, its source and the source's own numbers, its setting (what is trained "
             "and measured, and the budgets), its criteria, and how its verdict is decided. See "
             ":doc:`/guides/experiments` for running them.\n",
             _title("How a verdict is decided", "-"),
             "From :mod:`initlab.experiments.verdict`:\n",
             _rest(_without_examples(_doc(verdict_module))) + "\n",
             "What each claim returns (:class:`~initlab.experiments.presets.PresetResult`):\n",
             _prose(_doc(PresetResult)) + "\n"]
    for name, p in PRESETS.items():
        budgets = p.budgets
        keys = list(dict.fromkeys(k for b in budgets.values() for k in b))
        seeds = ", ".join(f"{b.get('seeds', '—')} ({budget})" for budget, b in budgets.items())
        numbers = [[_prose(q), _prose(str(v))] for q, v in p.source.numbers.items()]
        parts += [f".. _claim-{name}:\n", _title(f"{name}: {p.title}" if p.title else name, "-"),
                  f"**{_prose(p.claim)}**\n", _prose(inspect.cleandoc(p.explanation)) + "\n",
                  f"**Source.** {_prose(p.source.citation)} — {_prose(p.source.shows)}\n",
                  *([_list_table(["quantity", "the source's value"], numbers)] if numbers else []),
                  ".. rubric:: Setting\n", _prose(inspect.cleandoc(p.doc)), "",
                  _list_table(["setting", *budgets], [[_lit(k), *[_lit(b.get(k, "—")) for b in budgets.values()]]
                                                       for k in keys]),
                  ".. rubric:: Criteria\n", _prose(inspect.cleandoc(p.judge.__doc__ or "")) + "\n",
                  ".. rubric:: Verdict\n",
                  f"Each criterion above is judged over the paired seeds — {seeds} — by the 95 % Student-t "
                  "interval of its quantity (or the per-seed rule of a criterion about every seed); the claim is "
                  "**contradicted** if any criterion is, **reproduced** if every one is, and **inconclusive** "
                  "otherwise.\n",
                  f"Reproduce: ``initlab experiment {name}`` (``--quick`` for the quick budget).\n"]
    return "\n".join(parts)


# --------------------------------------------------------------------------- driver

def _write(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(srcdir: str | Path) -> list[Path]:
    """Write every generated page under ``srcdir/_generated``; remove files no longer generated."""
    out = Path(srcdir) / GENERATED
    pages, images = scheme_pages()
    pages["cli.rst"] = cli_page()
    pages.update(api_pages())
    pages["activations.rst"] = activations_page()
    pages["claims.rst"] = claims_page()
    files = {out / k: v.encode("utf-8") for k, v in pages.items()}
    files.update({out / k: v for k, v in images.items()})
    for path, data in files.items():
        _write(path, data)
    if out.exists():
        for stale in [p for p in out.rglob("*") if p.is_file() and p not in files]:
            stale.unlink()
    return sorted(files)


def _on_builder_inited(app) -> None:
    generate(app.srcdir)



def escape_bars(lines: list[str]) -> None:
    r"""Escape ``|`` in the prose of a docstring, in place: docstrings write absolute values and norms as
    ``|x|``, ``|T|``, ``|tanh|``, which reStructuredText reads as substitution references (an error). Literals,
    roles, ``.. math::`` blocks (where ``|x|`` is LaTeX) and lines that start with ``|`` (line blocks) are
    left as written.

    >>> lines = ["P(|T| > t) and ``|x|``", ".. math::", "", "   |x|", "", "back to |prose|"]
    >>> escape_bars(lines)
    >>> lines
    ['P(\\|T\\| > t) and ``|x|``', '.. math::', '', '   |x|', '', 'back to \\|prose\\|']
    """
    math_indent = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if math_indent is not None:
            if not stripped or indent > math_indent:
                continue
            math_indent = None
        if stripped.startswith(".. math::"):
            math_indent = indent
            continue
        if "|" not in line or stripped.startswith("|"):
            continue
        parts = _LITERAL_OR_ROLE.split(line)
        lines[i] = "".join(part if k % 2 else part.replace("|", "\\|") for k, part in enumerate(parts))


def _on_docstring(app, what, name, obj, options, lines) -> None:
    escape_bars(lines)


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    app.connect("autodoc-process-docstring", _on_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
