"""``initlab doctor``: argument parsing and printing only; the numbers come from
:func:`initlab.probe`, :func:`initlab.diagnose` and :func:`initlab.lsuv`."""

from __future__ import annotations

import importlib.util
import json
import math
import shlex
import re
import sys
from pathlib import Path

import click

from ..errors import InitlabError, suggest

__all__ = ["doctor_cmd", "load_factory"]

_FILE_SPEC = re.compile(r"^(?P<path>.+\.py):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$")


def load_factory(spec: str):
    """Run ``path/to/file.py`` as a module and call its ``factory()``; it must return an nn.Module."""
    from torch import nn

    match = _FILE_SPEC.match(spec)
    if match is None:
        raise InitlabError(f"MODEL: got {spec!r}; allowed: a built-in spec (mlp:..., cnn:...) or "
                           "path/to/file.py:factory")
    path, attr = Path(match["path"]), match["attr"]
    if not path.is_file():
        raise InitlabError(f"MODEL: got file {str(path)!r}, which does not exist; allowed: an existing Python file, "
                           "as path/to/file.py:factory")
    mod_spec = importlib.util.spec_from_file_location(f"initlab_doctor_{path.stem}", path)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as exc:
        raise InitlabError(f"MODEL: running {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
             and getattr(v, "__module__", None) == module.__name__]
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        what = "has no" if factory is None else "has a non-callable"
        raise InitlabError(f"MODEL: {str(path)!r} {what} {attr!r}; allowed: a function or class defined there: "
                           f"{', '.join(names) or '(none)'}{suggest(attr, names)}")
    try:
        model = factory()
    except Exception as exc:
        raise InitlabError(f"MODEL: {attr}() in {str(path)!r} raised {type(exc).__name__}: {exc}") from exc
    from ..adapters import is_keras_model  # a Keras 3 model (any backend) is diagnosed by initlab.adapters
    if not isinstance(model, nn.Module) and not is_keras_model(model):
        raise InitlabError(f"MODEL: {attr}() in {str(path)!r} returned {type(model).__name__}; allowed: a "
                           "torch.nn.Module or a Keras 3 model")
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

    if data == "digits":
        from ..experiments.datasets import load

        ds = load("digits", seed=seed)
        if input_shape is not None and tuple(input_shape) != tuple(ds.input_shape):
            raise InitlabError(f"--input-shape: got {','.join(map(str, input_shape))} with --data digits; allowed: "
                               f"{','.join(map(str, ds.input_shape))} (the digits' shape) or --data random")
        idx = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(seed))[:batch_size]
        return ds.x_train[idx], ds.y_train[idx], tuple(ds.input_shape), ds.num_classes
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch_size, *input_shape), generator=g), None, tuple(input_shape), 10


def _fmt(v, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def _pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.0f}%"


def _layer_table(records, title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold", pad_edge=False)
    for col in ("layer", "kind", "act", "units", "mean", "std", "min..max", "var", "theory", "sat", "dead",
                "grad std", "|dW|/|W|"):
        t.add_column(col, justify="left" if col in ("layer", "kind", "act") else "right", no_wrap=True)
    producer_pred = math.nan
    for r in records:
        if r["role"] == "input":
            continue
        if r["role"] == "weight":
            pred, producer_pred = r["pred_preact_var"], r["pred_out_var"]
        elif r["role"] == "activation":
            pred, producer_pred = producer_pred, math.nan
        else:
            pred = math.nan
        units = r["units"]
        if isinstance(units, (int, float)) and not math.isnan(units):
            units = (f"{int(r['distinct_units'])}/{int(units)}" if not math.isnan(r["distinct_units"])
                     else str(int(units)))
        else:
            units = "-"
        style = "bold red" if r["nonfinite"] or r["grad_nonfinite"] else None
        t.add_row(r["layer"], r["kind"], r["activation"] or "-", units, _fmt(r["mean"]), _fmt(r["std"]),
                  f"{_fmt(r['min'])}..{_fmt(r['max'])}", _fmt(r["std"] ** 2), _fmt(pred),
                  _pct(r["frac_saturated"]), _pct(r["frac_dead"]), _fmt(r["grad_std"]),
                  _fmt(r["grad_weight_ratio"]), style=style)
    return t


_COLORS = {"healthy": "green", "nonfinite": "bold red", "symmetric": "red", "vanishing": "yellow",
           "exploding": "yellow", "saturated": "magenta", "dead": "magenta"}


def _print_findings(console, findings, title: str) -> None:
    from rich.text import Text

    console.print(Text(title, style="bold"))
    for f in findings:
        line = Text("  ")
        line.append(f.kind, style=_COLORS.get(f.kind, "white"))
        line.append(": " + str(f).split(": ", 1)[1])
        console.print(line)


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
              help="Apply a fix and probe again: auto = initlab.initialize(model, 'auto') (a scheme per layer from "
                   "the activation that follows it); lsuv = initlab.lsuv(model, batch) (Mishkin & Matas 2015).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also write an HTML report (report.html + PNG figures) into this folder.")
def doctor_cmd(model, input_shape, data, batch_size, seed, as_json, fix, report_dir):
    """Probe MODEL layer by layer on a batch, name what its initialization does wrong (symmetric,
    vanishing, exploding, saturated, dead, nonfinite) and how to fix it.

    MODEL is either a built-in spec, e.g.

    \b
      mlp:depth=30,width=256,act=relu,init=xavier_normal
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
        records = initlab.probe(net, x, y)
        findings = initlab.diagnose(records)
        after = None
        lsuv_result = None
        if fix is not None:
            if fix == "auto":
                initlab.initialize(net, "auto", seed=seed)
            else:
                lsuv_result = initlab.lsuv(net, x, seed=seed)
            after_records = initlab.probe(net, x, y)
            after = (after_records, initlab.diagnose(after_records))
    except InitlabError as exc:
        raise click.ClickException(str(exc)) from None

    info = {"model": model, "data": data, "input_shape": list(shape), "batch_size": int(x.shape[0]), "seed": seed}
    report_path = None
    if report_dir is not None:
        from ..report.diagnosis import render_diagnosis

        parts = ["initlab", "doctor", shlex.quote(model), f"--data {data}", f"--batch-size {batch_size}", f"--seed {seed}"]
        if input_shape:
            parts.append(f"--input-shape {shlex.quote(input_shape)}")
        if fix:
            parts.append(f"--fix {fix}")
        command = " ".join(parts + [f"--report {shlex.quote(str(report_dir))}"])
        report_path = render_diagnosis(records, findings, report_dir, info={**info, "command": command},
                                       after=after, fix=fix)
    if as_json:
        out = {**info, "loss": records.loss if math.isfinite(records.loss) else None,
               "records": records.to_dict(), "findings": [f.to_dict() for f in findings]}
        if after is not None:
            out["fix"] = {"method": fix, "lsuv": lsuv_result.to_dict() if lsuv_result is not None else None}
            out["after"] = {"records": after[0].to_dict(), "findings": [f.to_dict() for f in after[1]]}
        if report_path is not None:
            out["report"] = str(report_path.resolve())
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return

    from rich.console import Console

    # a pipe or a file gets the whole table; a terminal gets its own width
    console = Console(file=sys.stdout) if sys.stdout.isatty() else Console(file=sys.stdout, width=160)
    console.print(f"[bold]initlab doctor[/bold] {model}  data={data} batch={int(x.shape[0])} "
                  f"input_shape={tuple(shape)} seed={seed}  loss={records.loss:.4g} ({records.loss_name})",
                  highlight=False)
    console.print(_layer_table(records, "per layer (var = std²; theory = mean-field prediction)"))
    _print_findings(console, findings, "findings")
    if after is not None:
        if lsuv_result is not None:
            console.print(str(lsuv_result), markup=False, highlight=False)
        console.print(_layer_table(after[0], f"after --fix {fix}"))
        _print_findings(console, findings, "before")
        _print_findings(console, after[1], f"after --fix {fix}")
    if report_path is not None:
        click.echo(f"report: {report_path.resolve()}")
