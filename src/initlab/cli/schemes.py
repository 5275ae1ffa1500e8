"""``initlab list`` and ``initlab show``: the scheme catalogue and one scheme's distribution.

Every cell is printed literally (no Rich markup), so formulas such as ``U[a, b]`` keep their brackets.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import InitlabError, check_int, fail


def _cells(*values) -> list[Text]:
    return [Text(str(v)) for v in values]


def _parse(text: str):
    """A command-line value as JSON when it reads as JSON (numbers, true/false, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _recipe_table(rows) -> Table:
    t = Table(title=Text("initlab recipes for residual networks and transformers (need the model: "
                         "initlab.initialize(model, name), or initlab.parametrize for the depth parametrizations)"))
    for col in ("name", "rule", "parameters", "needs", "source"):
        t.add_column(col, overflow="fold")
    for r in rows:
        params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items())
        needs = ", ".join(x for x in (r["needs"], f"wrapper: {r['wrapper']}" if r["wrapper"] else "",
                                      "a parametrization" if r["kind"] == "parametrization" else "") if x)
        name = r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "")
        t.add_row(*_cells(name, r["formula"], params, needs or "-", r["source"]))
    return t


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option("--recipes", is_flag=True, help="Only the model-level recipes (Fixup, GPT-2, CompleteP …).")
def list_cmd(as_json: bool, recipes: bool):
    """Every scheme with its formula, source and aliases; then the model-level recipes (Fixup, ReZero, GPT-2's
    scaled residual, CompleteP …) with their rules and sources. --json prints the schemes (with --recipes:
    the recipes) as JSON."""
    from ..model.recipes import list_recipes
    from ..schemes.registry import list_schemes

    if recipes:
        if as_json:
            click.echo(json.dumps(list_recipes(), indent=2, default=str))
        else:
            Console().print(_recipe_table(list_recipes()))
        return
    rows = list_schemes()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    t = Table(title=Text("initlab schemes"))
    for col in ("name", "formula", "parameters", "aliases", "source"):
        t.add_column(col, overflow="fold")
    for r in rows:
        params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items())
        aliases = list(r["aliases"]) + [f"{n} ({', '.join(f'{k}={v:g}' for k, v in d.items())})"
                                        for n, d in r["presets"].items()]
        t.add_row(*_cells(r["name"], r["formula"], params, ", ".join(aliases), r["source"]))
    Console().print(t)
    Console().print(_recipe_table(list_recipes()))


@click.command("show", context_settings={"ignore_unknown_options": False})
@click.argument("scheme")
@click.option("--shape", "shape", required=True, help="The tensor shape, e.g. --shape 256 784 (space separated).",
              type=str, multiple=True)
@click.argument("more_shape", nargs=-1, type=str)
@click.option("--layout", type=click.Choice(["torch", "keras", "jax"]), default="torch", show_default=True,
              help="Weight layout: torch (out, in, *k) or keras/jax (*k, in, out).")
@click.option("--groups", type=str, default="1", show_default=True, help="Convolution groups (per-group fans).")
@click.option("--transposed", is_flag=True, help="A transposed convolution's weight (in, out/groups, *k).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Scheme parameter, e.g. --param a=0.2 --param mode=fan_out (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the distribution as JSON.")
def show_cmd(scheme, shape, more_shape, layout, groups, transposed, params, as_json):
    """The distribution SCHEME draws from for a tensor of --shape: family, mean, std, variance, bounds, fans.

    Nothing is sampled. Example: initlab show he_normal --shape 256 784. Parameters go inline, as in
    sweeps (initlab show "variance_scaling(scale=2, mode=fan_out)" --shape 256 784), or with --param.
    """
    from ..schemes.registry import create

    try:
        dims = [_parse(s) for s in " ".join((*shape, *more_shape)).replace(",", " ").split()]
        kwargs = {}
        for p in params:
            if "=" not in p:
                raise fail("--param", p, "KEY=VALUE")
            k, v = p.split("=", 1)
            kwargs[k] = _parse(v)
        if "(" in scheme:  # the inline spelling sweeps and model specs take: name(k=v, ...)
            from ..experiments.config import parse_scheme

            spec = parse_scheme(scheme, arg="SCHEME")
            twice = sorted(set(spec.params) & set(kwargs))
            if twice:
                raise fail("--param", ", ".join(twice), f"parameters not already given in SCHEME {scheme!r}")
            scheme, kwargs = spec.name, {**spec.params, **kwargs}
        init = create(scheme, **kwargs)
        dist = init.distribution(dims, layout, groups=check_int("--groups", _parse(groups), minimum=1),
                                 transposed=transposed)
    except InitlabError as e:
        raise click.ClickException(str(e))
    if as_json:
        click.echo(json.dumps(dist.to_dict(), indent=2))
        return
    t = Table(title=Text(f"{init!r} on shape {dist.shape} ({layout} layout)"), show_header=False)
    t.add_column("quantity")
    t.add_column("value")
    t.add_row(*_cells("family", dist.family))
    for k, v in dist.params.items():
        t.add_row(*_cells(f"  {k}", f"{v:.6g}" if isinstance(v, float) else v))
    if dist.fans is not None:
        t.add_row(*_cells("fan_in", dist.fans.fan_in))
        t.add_row(*_cells("fan_out", dist.fans.fan_out))
        t.add_row(*_cells("receptive field", dist.fans.receptive_field))
    t.add_row(*_cells("mean", f"{dist.mean:.6g}"))
    t.add_row(*_cells("std", f"{dist.std:.6g}"))
    t.add_row(*_cells("variance", f"{dist.variance:.6g}"))
    if dist.low is not None:
        t.add_row(*_cells("bounds", f"[{dist.low:.6g}, {dist.high:.6g}]"))
    t.add_row(*_cells("formula", type(init).formula))
    Console().print(t)
