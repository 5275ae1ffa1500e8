"""``initlab sweep`` and ``initlab experiment``: argument parsing and printing only.

The work is done by :func:`initlab.experiments.sweep.run_sweep` and
:func:`initlab.experiments.presets.run_preset`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InitlabError

__all__ = ["sweep_cmd", "experiment_cmd"]

# CLI flag -> SweepConfig field, for the options that can be repeated (the grid's axes)
_AXIS_FLAGS = {"scheme": "scheme", "activation": "activation", "depth": "depth", "width": "width",
               "seed": "seed", "dataset": "dataset", "lr": "lr", "optimizer": "optimizer"}


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.command("sweep")
@click.argument("config_file", required=False, type=click.Path(path_type=Path))
@click.option("--scheme", multiple=True, help="Initialization scheme, e.g. he_normal or 'random_normal(std=0.01)'. Repeat for a grid.")
@click.option("--activation", multiple=True, help="Hidden activation (relu, tanh, sigmoid, ...). Repeatable.")
@click.option("--depth", multiple=True, type=int, help="Number of hidden layers. Repeatable.")
@click.option("--width", multiple=True, type=int, help="Units per hidden layer (channels for the CNN). Repeatable.")
@click.option("--seed", multiple=True, type=int, help="Seed of initialization and batch order. Repeatable.")
@click.option("--dataset", multiple=True, help="Data set (digits, mnist1d, circle, ...). Repeatable.")
@click.option("--lr", multiple=True, type=float, help="Learning rate. Repeatable.")
@click.option("--optimizer", multiple=True, help="sgd or adam. Repeatable.")
@click.option("--model", default=None, help="mlp or cnn.")
@click.option("--epochs", type=int, default=None, help="Training epochs per run.")
@click.option("--batch-size", type=int, default=None, help="Mini-batch size.")
@click.option("--momentum", type=float, default=None, help="SGD momentum (Adam's beta1).")
@click.option("--bias/--no-bias", default=None, help="Whether layers have biases (initialized to 0).")
@click.option("--grad-std-step", "grad_std_steps", multiple=True, type=int,
              help="Optimisation step at which per-layer gradient stds are recorded. Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run directory (default runs/sweep-<hash of the config>). Run the same command again to resume.")
@click.option("--no-batch", is_flag=True, help="Train run by run instead of stacking runs that share an architecture.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--threads", type=int, default=None,
              help="torch threads while training (default: torch's own); 1 is fastest for small nets on a busy machine.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with downloaded data sets (mnist, fashion_mnist, cifar10).")
# -- engines
@click.option("--engine", default="local", show_default=True,
              help="local: groups trained one after another here; ray: each group a Ray task (initlab[ray]).")
@click.option("--address", default=None,
              help="With --engine ray: host:port of a running Ray cluster's head node (default: a local Ray instance).")
# -- end engines
def sweep_cmd(config_file, out, no_batch, no_progress, threads, data_root, engine, address, **flags):
    """Train a grid of schemes × activations × depths × widths × seeds × data sets.

    Values come from CONFIG_FILE (TOML, JSON or YAML) and/or the flags; a flag replaces the file's
    value for that field. The run directory gets config.json, results.csv (one row per run and
    epoch; results.parquet too with pyarrow) and runs/<run_id>.json. Killed runs are redone and
    finished ones kept when the same command is run again. --engine ray --address HOST:PORT runs
    the groups as tasks on a Ray cluster, with the same results.

    \b
    Example:
      initlab sweep --scheme he_normal --scheme lecun_normal --activation relu \\
          --depth 10 --depth 30 --seed 0 --seed 1 --epochs 5 --out runs/he-vs-lecun
    """
    from ..experiments.config import SweepConfig
    from ..experiments.sweep import run_sweep

    try:
        data = SweepConfig.load(config_file).to_dict() if config_file is not None else {}
        for flag, value in flags.items():
            if flag in _AXIS_FLAGS or flag == "grad_std_steps":
                if value:
                    data[_AXIS_FLAGS.get(flag, flag)] = list(value)
            elif value is not None:
                data[flag] = value
        config = SweepConfig.from_dict(data).validate()
        if out is None:
            out = Path("runs") / f"sweep-{config.digest()}"
        result = run_sweep(config, out, batched=not no_batch, progress=not no_progress, data_root=data_root,
                           threads=threads, engine=engine, address=address)
    except InitlabError as exc:
        raise _fail(exc) from None
    _print_sweep(result)


def _print_sweep(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..experiments.config import AXES

    console = Console()
    finals: dict[str, dict] = {}
    for row in result.rows:
        finals[row["run_id"]] = row  # the last row of a run is its final epoch
    runs = list(finals.values())
    label = {r["run_id"]: r["scheme"] + ("" if r["scheme_params"] in ("{}", "") else r["scheme_params"]) for r in runs}
    varying = [a for a in AXES if a != "scheme" and len({str(r[a]) for r in runs}) > 1]
    table = Table(title=f"{len(runs)} runs, final epoch")
    for col in ["scheme", *varying, "epoch", "test_acc", "test_loss", "diverged"]:
        table.add_column(col, justify="left" if col in ("scheme", "activation", "dataset", "optimizer") else "right")
    shown = runs[:40]
    for r in shown:
        table.add_row(label[r["run_id"]], *[str(r[a]) for a in varying], str(r["epoch"]), _num(r.get("test_acc")),
                      _num(r.get("test_loss")), str(r.get("diverged", "")))
    console.print(table)
    if len(runs) > len(shown):
        console.print(f"… {len(runs) - len(shown)} more runs in the results table")
    console.print(f"trained {len(result.trained)}, reused {len(result.reused)} finished runs")
    for path in result.files:
        console.print(f"wrote {path}")


def _num(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


@click.command("experiment")
@click.argument("name")
@click.option("--quick", is_flag=True, help="The reduced budget: 3 paired seeds, fewer epochs.")
@click.option("--seed", type=int, default=0, show_default=True, help="First of the paired seeds.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Also write the result (verdict, numbers, rows) to this JSON file.")
def experiment_cmd(name, quick, seed, as_json, out):
    """Reproduce a claim about initialization on paired seeds and say whether it holds — reproduced,
    contradicted or inconclusive (exit status 0 for each) — with the deciding numbers and the
    source's own figures beside ours.

    NAME is one of the presets (`initlab experiment list` shows them), or "all".
    """
    from ..experiments import presets
    from ..experiments.files import atomic_write, writable_file
    from ..experiments.presets import PRESETS

    if name == "list":
        for key, preset in PRESETS.items():
            click.echo(f"{key:18s} {preset.claim}")
        return
    names = list(PRESETS) if name == "all" else [name]
    results = []
    try:
        budget = "quick" if quick else "full"
        for key in names:  # every argument is checked before any experiment runs
            presets.check_request(key, budget, seed)
        if out is not None:
            writable_file(out, "out")
        for key in names:
            results.append(presets.run_preset(key, budget=budget, seed=seed))
            if not as_json:
                _print_preset(results[-1])
    except InitlabError as exc:
        raise _fail(exc) from None
    payload = [r.to_dict() for r in results]
    text = json.dumps(payload[0] if name != "all" else payload, indent=1, default=str)
    if as_json:
        click.echo(text)
    if out is not None:
        try:
            atomic_write(out, text + "\n")
        except InitlabError as exc:
            raise _fail(exc) from None


def _print_preset(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from .report import _COLOURS, print_checks

    console = Console()
    console.print(f"[bold]{result.name}[/]: {result.claim}")
    if result.summary_rows:
        summary = Table(show_header=True)
        columns = list(result.summary_rows[0])
        for col in columns:
            summary.add_column(str(col))
        for row in result.summary_rows:
            summary.add_row(*[_num(row.get(col)) for col in columns])
        console.print(summary)
    print_checks(console, {result.name: result}, f"{len(result.seeds)} paired seeds, 95% t-intervals")
    if result.comparison:
        side = Table(title=f"the source beside ours: {result.source.get('citation', '')}", show_header=True)
        for col in ("quantity", "source", "ours"):
            side.add_column(col, overflow="fold")
        for row in result.comparison:
            side.add_row(row["quantity"], row["source"], row["ours"])
        console.print(side)
    console.print(f"[bold {_COLOURS[result.verdict]}]{result.verdict}[/]  ({result.seconds:.1f} s wall, "
                  f"{result.cpu_seconds:.1f} s CPU)")
    click.echo(f"reproduce: {result.command}")
