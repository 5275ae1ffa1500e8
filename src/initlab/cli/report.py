"""``initlab demo`` and ``initlab report``: argument parsing only."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ..errors import InitlabError


@click.command("demo")
@click.option("--out", "out_dir", default="initlab-out", show_default=True, type=click.Path(),
              help="Folder for report.html and the PNG figures.")
@click.option("--budget", type=click.Choice(["full", "quick"]), default="full", show_default=True,
              help="full: every claim at its stated size (about 3 minutes on 2 cores); quick: reduced budgets.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--preset", "presets", multiple=True, help="Run only these presets (repeatable).")
def demo_cmd(out_dir, budget, seed, presets):
    """Reproduce every claim about initialization on handwritten digits and write an HTML report."""
    from ..report.demo import PRESET_ORDER, TITLES, deciding, run_demo

    console = Console()
    chosen = tuple(presets) or PRESET_ORDER
    with console.status("starting") as status:
        try:
            result = run_demo(out_dir, budget=budget, seed=seed, presets=chosen,
                              progress=lambda msg: status.update(f"[bold]initlab demo[/]: {msg}"))
        except InitlabError as e:
            raise click.ClickException(str(e)) from None
    t = Table(title="initlab demo: the claims, reproduced on digits")
    t.add_column("claim")
    t.add_column("verdict")
    t.add_column("deciding numbers", overflow="fold")
    for name, r in result.results.items():
        colour = "green" if r.verdict == "reproduced" else "red"
        t.add_row(TITLES[name], f"[{colour}]{r.verdict}[/]", deciding(r).replace(" | ", "\n"))
    console.print(t)
    console.print(f"finished in {result.seconds:.0f} s")
    click.echo(f"report: {result.report.resolve()}")


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=True))
@click.option("--out", "out_dir", default=None, type=click.Path(),
              help="Folder for the report (default: RUN_DIR/report).")
def report_cmd(run_dir, out_dir):
    """Render a sweep's run directory (written by `initlab sweep --out RUN_DIR`) as an HTML report.

    What is read is checked: a corrupt or foreign config.json or results.csv is an error naming the
    file; runs or epochs missing from the table are named in a warning (here and on the page) and
    left out of the report."""
    from ..report.sweep_report import render_run_dir

    try:
        result = render_run_dir(run_dir, out_dir)
    except InitlabError as e:
        raise click.ClickException(str(e)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"report: {result.path.resolve()}")
