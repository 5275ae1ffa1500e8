"""``initlab demo`` and ``initlab report``: argument parsing and printing only."""

from __future__ import annotations

import click

from ..errors import InitlabError

_COLOURS = {"reproduced": "green", "contradicted": "red", "inconclusive": "yellow"}


def print_checks(console, results, title: str) -> None:
    """The summary: for each claim a heading row (title and verdict), then one row per check — its
    outcome mark (✓ reproduced, ✗ contradicted, ? inconclusive), the criterion and what was measured."""
    from rich.table import Table

    from ..report.demo import MARKS

    t = Table(title=title)
    t.add_column("", no_wrap=True)
    t.add_column("criterion", overflow="fold", ratio=5)
    t.add_column("measured (95% t-interval over the paired seeds)", overflow="fold", ratio=4)
    for k, r in enumerate(results.values()):
        if k:
            t.add_section()
        t.add_row("", f"[bold]{r.title}[/]", f"[bold {_COLOURS[r.verdict]}]{r.verdict}[/]")
        for c in r.checks:
            mark = MARKS[c["outcome"]]
            t.add_row(f"[{_COLOURS[c['outcome']]}]{mark}[/]", c["criterion"], c["measured"])
    console.print(t)


@click.command("demo")
@click.option("--out", "out_dir", default="initlab-out", show_default=True, type=click.Path(),
              help="Folder for report.html and the PNG figures.")
@click.option("--budget", type=click.Choice(["full", "quick"]), default="full", show_default=True,
              help="full: every claim at its stated size, 5 paired seeds; quick: reduced budgets, 3 seeds.")
@click.option("--seed", type=int, default=0, show_default=True, help="First of the paired seeds.")
@click.option("--preset", "presets", multiple=True, help="Run only these presets (repeatable).")
@click.option("--jobs", type=int, default=None,
              help="Worker processes (default: one per core, at most 2); the numbers do not depend on it.")
def demo_cmd(out_dir, budget, seed, presets, jobs):
    """Reproduce every claim about initialization on real data and write an HTML report.

    Each claim ends reproduced, contradicted or inconclusive; all three are findings, and the exit
    status is 0 for each of them.
    """
    from rich.console import Console

    from ..report.demo import run_demo

    console = Console()
    with console.status("starting") as status:
        try:
            result = run_demo(out_dir, budget=budget, seed=seed, presets=tuple(presets) or None, jobs=jobs,
                              progress=lambda msg: status.update(f"[bold]initlab demo[/]: {msg}"))
        except InitlabError as e:
            raise click.ClickException(str(e)) from None
    print_checks(console, result.results, "initlab demo: the claims, reproduced (95% t-intervals over paired seeds)")
    counts = {v: sum(r.verdict == v for r in result.results.values()) for v in _COLOURS}
    console.print(", ".join(f"[{_COLOURS[v]}]{n} {v}[/]" for v, n in counts.items()) +
                  f"; finished in {result.seconds:.0f} s wall, {result.cpu_seconds:.0f} s CPU ({result.jobs} "
                  f"process{'es' if result.jobs > 1 else ''})")
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
