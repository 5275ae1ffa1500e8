"""``initlab coordcheck``: argument parsing and printing only; the numbers come from
:func:`initlab.parametrize.coord_check.coord_check`."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import click

from ..errors import InitlabError, fail, suggest
from ._user_code import run_file

__all__ = ["coordcheck_cmd"]

_FILE = re.compile(r"^(?P<path>.+\.py):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$")


def _from_file(spec: str):
    """``(factory, batch)`` from ``path/to/file.py:factory``; the file may define ``batch()`` → (x, y)."""
    match = _FILE.match(spec)
    path, attr = Path(match["path"]), match["attr"]
    if not path.is_file():
        raise fail("MODEL", str(path), "an existing Python file, as path/to/file.py:factory")
    module = run_file(path, f"initlab_coordcheck_{path.stem}")
    factory = getattr(module, attr, None)
    names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
    if not callable(factory):
        raise fail("MODEL", f"{path}:{attr}", f"a function of the width defined there: {', '.join(names) or '(none)'}",
                   hint=suggest(attr, names))
    batch = getattr(module, "batch", None)
    return factory, batch


DEFAULT_WIDTHS = (64, 128, 256, 512, 1024)


@click.command("coordcheck")
@click.argument("model")
@click.argument("more_widths", nargs=-1, type=click.IntRange(min=1), metavar="")
@click.option("--widths", "widths", type=click.IntRange(min=1), multiple=True,
              help="Widths to build, e.g. --widths 64 128 256 512 1024 (the default).")
@click.option("--steps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Optimizer steps; the scales are recorded at initialization and after each step.")
@click.option("--parametrization", "-p", "parametrizations", multiple=True, default=("sp", "mup"), show_default=True,
              help="sp, mup or umup (repeatable).")
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]), default="adam", show_default=True)
@click.option("--lr", type=float, default=None, help="Learning rate (default 0.01 for Adam, 0.1 for SGD).")
@click.option("--seeds", type=click.IntRange(min=1), default=2, show_default=True, help="Seeds 0 … N-1, averaged.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--base", type=click.IntRange(min=1), default=None, help="μP's base width (default: the smallest).")
@click.option("--form", type=click.Choice(["table3", "table8", "table9"]), default="table3", show_default=True,
              help="μP's form (Tensor Programs V, Tables 3, 8, 9); all give the same function.")
@click.option("--tolerance", type=float, default=0.25, show_default=True,
              help="μP passes when every |slope| of log scale vs log width is at most this after a step.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the log–log figure (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print rows, slopes and verdict as JSON.")
def coordcheck_cmd(model, more_widths, widths, steps, parametrizations, optimizer, lr, seeds, batch_size, base, form, tolerance,
                   plot_path, as_json):
    """Coordinate check of MODEL: each layer's mean |x| against width, at initialization and after each of
    the first steps, with a verdict from the fitted slopes (SP: the output grows; μP: every slope ≈ 0).

    MODEL is a built-in task or path/to/file.py:factory (RUNS YOUR CODE: factory(width) must return an
    nn.Module; the file may define batch() returning (x, y), else mnist1d's signals are used):

    \b
      mlp:depth=3,act=relu            an MLP on mnist1d
      lm:depth=2,heads=4,context=64   a character-level transformer on the Python stdlib's source

    \b
    Example:
      initlab coordcheck mlp:depth=3 --widths 64 128 256 512 1024 --steps 3
    """
    from ..parametrize.coord_check import coord_check
    from ..parametrize.tasks import get_task

    try:
        if more_widths and not widths:
            raise fail("MODEL", " ".join([model, *map(str, more_widths)]), "one model spec; widths go after --widths")
        widths = (*widths, *more_widths) or DEFAULT_WIDTHS
        options = {"form": form} if any(p.lower() in ("mup", "μp") for p in parametrizations) else {}
        if any(p.lower() not in ("mup", "μp") for p in parametrizations) and form != "table3":
            raise fail("--form", form, "table3 unless every --parametrization is mup")
        if _FILE.match(model):
            factory, batch_fn = _from_file(model)
            if batch_fn is not None:
                data = batch_fn()
            else:
                data = get_task("mlp").batch("train", batch_size, seed=0)
        else:
            task = get_task(model)
            factory = task.model_fn
            data = task.batch("train", batch_size, seed=0)
        try:
            result = coord_check(factory, list(widths), data, parametrization=tuple(parametrizations), base=base,
                                 steps=steps, optimizer=optimizer, lr=lr, seeds=tuple(range(seeds)),
                                 **(options if all(p.lower() in ("mup", "μp") for p in parametrizations) else {}))
        except (InitlabError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the user's model failed on the batch: their code, named in one line
            if not _FILE.match(model):
                raise
            raise fail("MODEL", model, "a factory whose model takes the batch (define batch() in the file to "
                       f"give (x, y) of the right shape); its model raised {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        verdict = result.verdict(tolerance=tolerance)
        if plot_path:
            result.plot(plot_path)
    except InitlabError as exc:
        raise click.ClickException(str(exc)) from None

    slopes = result.slopes()
    if as_json:
        out = {"model": model, "widths": result.widths, "steps": steps, "optimizer": result.optimizer,
               "lr": result.lr, "seeds": result.seeds, "rows": result.mean_rows(),
               "slopes": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in s.items()}
                          for s in slopes], "verdict": verdict}
        if plot_path:
            out["plot"] = str(Path(plot_path).resolve())
        click.echo(json.dumps(out, indent=2, allow_nan=False, default=str))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout) if sys.stdout.isatty() else Console(file=sys.stdout, width=160)
    console.print(f"[bold]initlab coordcheck[/bold] {model}  widths={list(result.widths)} steps={steps} "
                  f"optimizer={result.optimizer} lr={result.lr:g} seeds={len(result.seeds)}", highlight=False)
    ts = sorted({s["t"] for s in slopes})
    for p in result.parametrizations:
        t = Table(title=f"{p}: slope of log2 mean|x| against log2 width (t = steps taken)", title_justify="left")
        t.add_column("layer")
        t.add_column("role")
        for step in ts:
            t.add_column(f"t={step}", justify="right")
        layers = list(dict.fromkeys(s["layer"] for s in slopes if s["parametrization"] == p))
        for layer in layers:
            row = {s["t"]: s for s in slopes if s["parametrization"] == p and s["layer"] == layer}
            t.add_row(layer, row[ts[0]]["role"], *[f"{row[step]['slope']:+.2f}" if step in row else "-" for step in ts])
        console.print(t)
    colour = "green" if verdict["verdict"] == "reproduced" else "red"
    console.print(f"verdict: [{colour}]{verdict['verdict']}[/]")
    for c in verdict["checks"]:
        console.print(f"  [{'ok' if c['passed'] else 'NO'}] {c['criterion']}: {c['measured']}", highlight=False,
                      markup=False)
    if plot_path:
        click.echo(f"plot: {Path(plot_path).resolve()}")
