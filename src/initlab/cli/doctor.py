"""``initlab doctor``: argument parsing, loading and printing only; the numbers come from
:func:`initlab.doctor` (probe, diagnose, fix, probe again).

The output leads with the findings and the fix, then a compact table of the weight layers
(``--all-layers`` for every module); ``--plot`` writes the measured depth profile as a PNG and
``--report`` an HTML report."""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import sys
from pathlib import Path

import click

from ..errors import InitlabError, fail, suggest
from ..experiments.files import atomic_write, writable_dir, writable_file
from ._user_code import run_file

__all__ = ["doctor_cmd", "load_factory", "weight_table", "all_layers_table"]

_FILE_SPEC = re.compile(r"^(?P<path>.+\.py):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$")


def load_factory(spec: str):
    """Run ``path/to/file.py`` as a module and call its ``factory()``; it must return an nn.Module."""
    from torch import nn

    match = _FILE_SPEC.match(spec)
    if match is None:
        raise InitlabError(f"MODEL: got {spec!r}; allowed: a built-in spec (mlp:..., cnn:..., resmlp:...) or "
                           "path/to/file.py:factory")
    path, attr = Path(match["path"]), match["attr"]
    if not path.is_file():
        raise InitlabError(f"MODEL: got file {str(path)!r}, which does not exist; allowed: an existing Python file, "
                           "as path/to/file.py:factory")
    module = run_file(path, f"initlab_doctor_{path.stem}")
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
             and getattr(v, "__module__", None) == module.__name__]
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        what = "has no" if factory is None else "has a non-callable"
        raise InitlabError(f"MODEL: got {spec!r}, but {str(path)!r} {what} {attr!r}; allowed: a function or class "
                           "defined there: "
                           f"{', '.join(names) or '(none)'}{suggest(attr, names)}")
    try:
        model = factory()
    except SystemExit as exc:
        raise InitlabError(f"MODEL: got {spec!r}, whose {attr}() called sys.exit({exc.code!r}); allowed: a factory "
                           "that returns a torch.nn.Module") from None
    except Exception as exc:
        raise InitlabError(f"MODEL: got {spec!r}, whose {attr}() raised {type(exc).__name__}: {exc}; allowed: a "
                           "factory that returns a torch.nn.Module or a Keras 3 model") from exc
    from ..adapters import is_keras_model  # a Keras 3 model (any backend) is diagnosed by initlab.adapters
    if not isinstance(model, nn.Module) and not is_keras_model(model):
        raise InitlabError(f"MODEL: got {spec!r}, whose {attr}() returned {type(model).__name__}; allowed: a "
                           "factory that returns a torch.nn.Module or a Keras 3 model")
    return model


def _parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.replace("x", ",").split(",") if p.strip()]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise InitlabError(f"--input-shape: got {text!r}; allowed: positive integers separated by commas, without "
                           "the batch dimension, e.g. 1,8,8 or 64")
    return shape


def _batch(data: str, input_shape, batch_size: int, seed: int):
    """The probe's batch: ``batch_size`` samples of digits (a seeded random subset of the training set)
    or of N(0, 1) noise, and class targets for digits."""
    import torch

    from ..experiments.models import available_memory

    if data == "digits":
        from ..experiments.datasets import load

        ds = load("digits", seed=seed)
        if input_shape is not None and tuple(input_shape) != tuple(ds.input_shape):
            raise InitlabError(f"--input-shape: got {','.join(map(str, input_shape))} with --data digits; allowed: "
                               f"{','.join(map(str, ds.input_shape))} (the digits' shape) or --data random")
        idx = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(seed))[:batch_size]
        return ds.x_train[idx], ds.y_train[idx], tuple(ds.input_shape), ds.num_classes
    need, have = 4 * batch_size * math.prod(input_shape), available_memory()
    if have is not None and need > have:
        raise fail("--batch-size", batch_size, f"a batch that fits in the {have / 2**30:.3g} GiB of memory available "
                   f"(this one needs {need / 2**30:.3g} GiB in fp32 for the inputs alone)")
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch_size, *input_shape), generator=g), None, tuple(input_shape), 10


def _fmt(v, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-" if v is None or math.isnan(v) else ("inf" if v > 0 else "-inf")
    return format(v, spec)


def _pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.0f}%"


def _units(r: dict) -> str:
    units = r["units"]
    if not isinstance(units, (int, float)) or math.isnan(units):
        return "-"
    d = r["distinct_units"]
    return f"{int(d)}/{int(units)}" if isinstance(d, (int, float)) and not math.isnan(d) else str(int(units))


def _table(title: str):
    """A compact table whose title is printed as a line of its own above it (a title wider than the
    table would wrap)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    t = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0), show_edge=False)
    return t, Group(Text(title, style="bold"), t)


def weight_table(records, after=None):
    """Weight layers only: the std of each block's output (σ, after the activation that follows the
    layer) next to theory, the gradient's std, saturated and dead fractions, |dW|/|W| (and σ and the
    gradient's σ after the fix). Two significant digits; ``--json`` has every number in full."""
    blocks = records.blocks()
    t, shown = _table(f"weight layers ({len(blocks)}) · σ: output std after the activation · "
                      "--all-layers: every module")
    cols = ["layer", "kind", "act", "units", "σ", "theory", "grad σ", "sat", "dead", "|dW|/|W|"]
    if after is not None:
        cols += ["σ after", "grad σ after"]
    for col in cols:
        left = col in ("layer", "kind", "act")
        t.add_column(col, justify="left" if left else "right", no_wrap=True, overflow="ellipsis",
                     max_width=18 if col == "layer" else 12 if col == "act" else None)
    later = {b["layer"]: b for b in after.blocks()} if after is not None else {}
    for b in blocks:
        cells = [b["layer"], b["kind"], b["activation"] or "-", _units(b), _fmt(b["out_std"], ".2g"),
                 _fmt(b["pred_out_std"], ".2g"), _fmt(b["grad_std"], ".2g"), _pct(b["frac_saturated"]),
                 _pct(b["frac_dead"]), _fmt(b["grad_weight_ratio"], ".2g")]
        if after is not None:
            a = later.get(b["layer"], {})
            cells += [_fmt(a.get("out_std"), ".2g"), _fmt(a.get("grad_std"), ".2g")]
        t.add_row(*cells)
    return shown


def all_layers_table(records, title: str):
    """Every recorded module and functional activation, in forward order."""
    t, shown = _table(title)
    for col in ("layer", "kind", "role", "act", "units", "mean", "std", "min..max", "sat", "dead", "grad std",
                "|dW|/|W|"):
        t.add_column(col, justify="left" if col in ("layer", "kind", "role", "act") else "right", no_wrap=True,
                     overflow="ellipsis", max_width=22 if col == "layer" else None)
    for r in records:
        if r["role"] == "input":
            continue
        style = "bold red" if r["nonfinite"] or r["grad_nonfinite"] else None
        t.add_row(r["layer"], r["kind"], r["role"], r["activation"] or "-", _units(r), _fmt(r["mean"]),
                  _fmt(r["std"]), f"{_fmt(r['min'])}..{_fmt(r['max'])}", _pct(r["frac_saturated"]),
                  _pct(r["frac_dead"]), _fmt(r["grad_std"]), _fmt(r["grad_weight_ratio"]), style=style)
    return shown


_COLORS = {"healthy": "green", "nonfinite": "bold red", "symmetric": "red", "vanishing": "yellow",
           "exploding": "yellow", "saturated": "magenta", "dead": "magenta"}


def _finding_lines(findings):
    from rich.text import Text

    from ..diagnostics.findings import describe_fix

    for f in findings:
        line = Text("  ")
        line.append(f.kind, style=_COLORS.get(f.kind, "white"))
        shown = ", ".join(f.layers[:3]) + (f" … ({len(f.layers)} layers)" if len(f.layers) > 3 else "")
        line.append(f": {f.message}" + (f" [{shown}]" if f.kind != "healthy" else ""))
        yield line
        if f.kind != "healthy":
            yield Text(f"    fix: {describe_fix(f.fix)}" + (f" — {f.fix_reason}" if f.fix_reason else ""))


def _print_text(console, result, info: dict, all_layers: bool) -> None:
    from rich.text import Text

    before = result.before
    console.print(Text(f"initlab doctor {info['model']}", style="bold"))
    console.print(Text(f"  data={info['data']} batch={info['batch_size']} input={tuple(info['input_shape'])} "
                       f"seed={info['seed']} loss={before.loss:.4g} ({before.loss_name})"))
    console.print(Text("findings", style="bold"))
    for line in _finding_lines(result.findings):
        console.print(line)
    if result.fix is not None:
        head = f"fix (--fix {result.fix}): " + (f"applied {result.applied}, probed again" if result.applied
                                                 else "nothing to apply (no finding prescribes an initialization)")
        console.print(Text(head, style="bold"))
        for o in result.outcomes:
            style = "green" if o.removed else "red"
            console.print(Text(f"  {o}", style=style))
        if result.after is not None:
            kinds = ", ".join(f.kind for f in result.after_findings)
            console.print(Text(f"  after the fix: {kinds}", style="green" if result.healthy else "yellow"))
        if result.plan is not None and result.applied == "lsuv":
            converged = sum(r["converged"] for r in result.plan.rows)
            console.print(Text(f"  LSUV: {converged}/{len(result.plan.rows)} layers converged "
                               f"(tol={result.plan.tol:g}, max_iter={result.plan.max_iter})"))
    if all_layers:
        console.print(all_layers_table(before, "every module (as initialized)"))
        if result.after is not None:
            console.print(all_layers_table(result.after, f"every module (after --fix {result.fix})"))
    else:
        console.print(weight_table(before, result.after))


@click.command("doctor")
@click.argument("model")
@click.option("--input-shape", default=None,
              help="Shape of one sample, without the batch dimension, e.g. 1,8,8 or 64. Needed for a model "
                   "from a file with --data random.")
@click.option("--data", type=click.Choice(["digits", "random"]), default=None,
              help="The batch to probe with: scikit-learn's handwritten digits (default for built-in specs) or "
                   "N(0, 1) noise (default for a model from a file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Samples in the probe's batch.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the built-in model's initialization, the data subset or noise, and the fix.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON to stdout instead of tables.")
@click.option("--fix", type=click.Choice(["auto", "lsuv"]), default=None,
              help="Apply a fix and probe again: auto = what the findings prescribe (each named layer re-drawn "
                   "with its scheme, or LSUV where a finding says so); lsuv = initlab.lsuv(model, batch) on every "
                   "layer (Mishkin & Matas 2015). Each finding is then marked removed or not.")
@click.option("--all-layers", is_flag=True, help="Show every module and functional activation, not only the "
                                                 "weight layers.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Write the measured depth profile (std of each weight layer's output and gradient, theory "
                   "dashed) as a PNG to this path.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also write an HTML report (report.html + PNG figures) into this folder.")
def doctor_cmd(model, input_shape, data, batch_size, seed, as_json, fix, all_layers, plot_path, report_dir):
    """Probe MODEL layer by layer on a batch, name what its initialization does wrong (symmetric,
    vanishing, exploding, saturated, dead, nonfinite) and how to fix it.

    MODEL is either a built-in spec, e.g.

    \b
      mlp:depth=30,width=256,act=relu,init=xavier_normal
      resmlp:depth=30,width=64,act=relu,init=he_normal   (a residual MLP: depth blocks, norm=pre optional)
      cnn:channels=16,depth=3,act=relu,init=he_normal

    or path/to/file.py:factory. The second form RUNS YOUR OWN CODE: the file is executed as a Python
    module (its top-level code runs) and factory() is called with no arguments; it must return a
    torch.nn.Module. Only use it on files you trust.

    \b
    Example:
      initlab doctor mlp:depth=30,width=256,act=relu,init=xavier_normal --fix auto
    """
    import initlab

    try:
        shape = _parse_shape(input_shape)
        if plot_path is not None:
            writable_file(plot_path, "--plot")  # its folder is created, as for every output
        if report_dir is not None:
            writable_dir(report_dir, "--report")
        from_file = _FILE_SPEC.match(model) is not None or model.endswith(".py")
        if from_file:
            net = load_factory(model)
            data = data or "random"
            if data == "random" and shape is None:
                raise InitlabError("--input-shape: got nothing for a model from a file with --data random; allowed: "
                                   "the shape of one sample, e.g. --input-shape 3,32,32")
            x, y, shape, _ = _batch(data, shape, batch_size, seed)
        else:
            from ..experiments.models import build_model

            data = data or "digits"
            x, y, shape, num_classes = _batch(data, shape if data == "digits" else (shape or (1, 8, 8)),
                                              batch_size, seed)
            net = build_model(model, shape, num_classes, seed=seed)
        try:
            result = initlab.doctor(net, x, y, fix=fix, seed=seed)
        except (InitlabError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the user's model failed on the batch: their code, named in one line
            if not from_file:
                raise
            raise fail("MODEL", model, "a model that runs forward and backward on the batch; it raised "
                       f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
        info = {"model": model, "data": data, "input_shape": list(shape), "batch_size": int(x.shape[0]),
                "seed": seed}
        written = []
        if plot_path is not None:
            from ..report.diagnosis import profile_png

            atomic_write(plot_path, profile_png(result, model), arg="--plot")
            written.append(f"plot: {Path(plot_path).resolve()}")
        report_path = None
        if report_dir is not None:
            from ..report.diagnosis import render_diagnosis

            parts = ["initlab", "doctor", shlex.quote(model), f"--data {data}", f"--batch-size {batch_size}",
                     f"--seed {seed}"]
            if input_shape:
                parts.append(f"--input-shape {shlex.quote(input_shape)}")
            if fix:
                parts.append(f"--fix {fix}")
            command = " ".join(parts + [f"--report {shlex.quote(str(report_dir))}"])
            try:
                report_path = render_diagnosis(result, report_dir, info={**info, "command": command})
            except OSError as exc:
                raise InitlabError(f"--report: got {str(report_dir)!r}; allowed: a writable folder "
                                   f"({exc.strerror or exc})") from None
            written.append(f"report: {report_path.resolve()}")
    except InitlabError as exc:
        raise click.ClickException(str(exc)) from None

    if as_json:
        out = {**info, **result.to_dict()}
        if report_path is not None:
            out["report"] = str(report_path.resolve())
        if plot_path is not None:
            out["plot"] = str(Path(plot_path).resolve())
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return

    from rich.console import Console

    # a terminal gets its own width; a pipe or a file gets $COLUMNS or 100
    width = None if sys.stdout.isatty() else shutil.get_terminal_size((100, 24)).columns
    console = Console(file=sys.stdout, width=width, highlight=False)
    _print_text(console, result, info, all_layers)
    for line in written:
        click.echo(line)
